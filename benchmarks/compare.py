#!/usr/bin/env python3
"""Builds and runs every benchmark, the peers and the compile-time comparison; writes RESULTS.md.

    python3 benchmarks/compare.py                 # everything (about 45 minutes on 2 cores)
    python3 benchmarks/compare.py --only peers    # or: ratios, cnn, scaling, onnx, compile

* peers: the same two workloads in backprop, numpy, PyTorch (1 and 2 threads), tiny-dnn and FANN
  (benchmarks/peers/), each timed with the same loop and printing its loss after a fixed number
  of steps; one table of the median time per training step and the ratio to backprop.
* ratios: the library's Google Benchmarks (tutorial_step, mlp_step, mlp_step_blas, cnn_step), each
  beside its hand-written Eigen twin in the same binary, and the bare product each step is
  measured against.
* cnn: the Fashion-MNIST CNN trained for the example's default epochs by `fashion_mnist --model cnn`
  and by its PyTorch twin (benchmarks/peers/fashion_mnist_cnn_torch.py), each on 1 and 2 threads:
  the median time of an epoch and the test accuracy (about 25 minutes).
* scaling: data-parallel training over MPI on 1 and 2 ranks (benchmarks/data_parallel_step.cpp).
* onnx: inference of the Fashion-MNIST MLP and CNN exported by PyTorch and loaded by load_onnx,
  beside the same network built in backprop and PyTorch itself, at batch 1 and 256
  (benchmarks/onnx_inference.cpp, benchmarks/peers/onnx_inference_torch.py).
* compile: the time and peak memory to compile the README's first program and the study/sleep and
  Fashion-MNIST examples, header-only, beside plain Eigen programs doing the same math
  (benchmarks/compile_time/), against the goals of COMPILE_GOALS; and the README's second program
  at -O2, header-only and in the compiled mode, with the one-off build of the compiled part.

A peer that is not installed is skipped with a line saying how to install it. The build goes to
build/bench (Release, -march=native, the OpenBLAS backend where libopenblas-dev is installed).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "benchmarks", "peers")
RESULTS = os.path.join(ROOT, "benchmarks", "RESULTS.md")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def run(command, **kwargs):
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)


def output_of(command, timeout=1800, env=None):
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, command)
    return done.stdout


def have_header(path):
    return os.path.exists(path)


def skip(system, how):
    print(f"skipped {system}: not installed ({how})", flush=True)
    return f"{system}: skipped, not installed ({how})"


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"cpu": model, "cores": os.cpu_count(), "date": datetime.date.today().isoformat(),
            "system": f"{platform.system()} {platform.release()}", "compiler": compiler}


def build(build_dir):
    blas = os.path.exists("/usr/include/x86_64-linux-gnu/cblas.h") or shutil.which("pkg-config") and \
        subprocess.run(["pkg-config", "--exists", "openblas"]).returncode == 0
    run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DBACKPROP_BUILD_TESTS=OFF",
         "-DBACKPROP_NATIVE=ON", "-DBACKPROP_BUILD_BENCHMARKS=ON", f"-DBACKPROP_USE_BLAS={'ON' if blas else 'OFF'}"],
        stdout=subprocess.DEVNULL)
    targets = ["backprop_peer", "tutorial_step", "mlp_step", "cnn_step", "fashion_mnist"] + (
        ["backprop_peer_blas", "mlp_step_blas"] if blas else [])
    run(["cmake", "--build", build_dir, "-j", str(os.cpu_count()), "--target"] + targets)
    return blas


RESULT = re.compile(r"RESULT workload=(\S+) system=(\S+) step_ns=(\S+) loss=(\S+) steps=(\d+)")


def parse_results(text):
    return [dict(workload=m[1], system=m[2], ns=float(m[3]), loss=float(m[4]), steps=int(m[5]))
            for m in RESULT.finditer(text)]


def peers(build_dir, blas, notes):
    results = []
    binaries = os.path.join(build_dir, "benchmarks")
    results += parse_results(output_of([os.path.join(binaries, "backprop_peer")]))
    if blas:
        results += parse_results(output_of([os.path.join(binaries, "backprop_peer_blas")]))

    if subprocess.run([PYTHON, "-c", "import numpy"], capture_output=True).returncode == 0:
        results += parse_results(output_of([PYTHON, os.path.join(PEERS, "numpy_peer.py")]))
    else:
        notes.append(skip("numpy", "sudo apt-get install python3-numpy"))
    if subprocess.run([PYTHON, "-c", "import torch"], capture_output=True).returncode == 0:
        results += parse_results(output_of([PYTHON, os.path.join(PEERS, "torch_peer.py"), "--threads", "1"]))
        results += parse_results(output_of([PYTHON, os.path.join(PEERS, "torch_peer.py"), "--threads", "2",
                                            "--workloads", "W2"]))
    else:
        notes.append(skip("PyTorch", "sudo apt-get install python3-torch"))

    flags = ["-O3", "-DNDEBUG", "-march=native", "-std=c++17", "-w"]
    work = os.path.join(build_dir, "peers")
    os.makedirs(work, exist_ok=True)
    if all(have_header(h) for h in ["/usr/include/tiny_dnn/tiny_dnn.h", "/usr/include/cereal/cereal.hpp",
                                    "/usr/include/stb/stb_image.h"]):
        # Debian's tiny-dnn includes "third_party/stb/...", which libstb-dev installs as <stb/...>.
        shim = os.path.join(work, "shim", "third_party", "stb")
        os.makedirs(shim, exist_ok=True)
        for name in ["stb_image.h", "stb_image_resize.h", "stb_image_write.h"]:
            link = os.path.join(shim, name)
            if not os.path.exists(link):
                os.symlink(os.path.join("/usr/include/stb", name), link)
        source = os.path.join(PEERS, "tiny_dnn_peer.cpp")
        for name, extra in [("tiny_dnn_w1", ["-DCNN_USE_DOUBLE"]), ("tiny_dnn_w2", [])]:
            binary = os.path.join(work, name)
            run(["c++"] + flags + extra + ["-I", os.path.join(work, "shim"), source, "-o", binary, "-pthread"])
            results += parse_results(output_of([binary]))
    else:
        notes.append(skip("tiny-dnn", "sudo apt-get install tiny-dnn libcereal-dev libstb-dev libgemmlowp-dev"))
    if have_header("/usr/include/doublefann.h"):
        binary = os.path.join(work, "fann_peer")
        run(["c++"] + flags + [os.path.join(PEERS, "fann_peer.cpp"), "-o", binary, "-ldoublefann"])
        results += parse_results(output_of([binary]))
    else:
        notes.append(skip("FANN", "sudo apt-get install libfann-dev"))
    return results


def google_benchmark(binary, extra=()):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        output_of([binary, f"--benchmark_out={out.name}", "--benchmark_out_format=json"] + list(extra))
        data = json.load(open(out.name))
    medians = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            ns = b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
            medians[b["run_name"]] = (ns, b.get("FLOP/s"))
    return medians


def ratios(build_dir, blas):
    binaries = os.path.join(build_dir, "benchmarks")
    rows = []
    runs = [("tutorial_step", []), ("mlp_step", []), ("cnn_step", [])] + (
        [("mlp_step_blas", [])] if blas else [])
    products = {}
    for name, extra in runs:
        medians = google_benchmark(os.path.join(binaries, name), extra)
        for run_name, (ns, flops) in sorted(medians.items()):
            if run_name.startswith("product"):
                products[f"{name}:{run_name}"] = (ns, flops)
            at = run_name.find("/library")
            if at < 0:
                continue
            rest = run_name[at + len("/library"):]
            if rest.startswith(":"):
                rest = rest[rest.find("/"):] if "/" in rest else ""
            twin = run_name[:at] + "/handwritten" + rest
            if twin in medians:
                rows.append((name, run_name, ns, medians[twin][0], flops))
    return rows, products


def readme_programs(directory):
    """The README's ```cpp blocks, written to directory as readme_1.cpp, readme_2.cpp, ..."""
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = re.findall(r"```cpp\n(.*?)```", f.read(), flags=re.S)
    paths = []
    for i, block in enumerate(blocks, 1):
        paths.append(os.path.join(directory, f"readme_{i}.cpp"))
        with open(paths[-1], "w") as f:
            f.write(block)
    return paths


# The goals of the compile time over the plain Eigen program, by program.
COMPILE_GOALS = {"README tour": 1.3, "Fashion-MNIST": 1.5}
# The goals of the README's second program (Sequential, fit, save_model, load_sequential) at -O2,
# in seconds: header-only, and in the compiled mode (beside the one-off build of the compiled part).
README_FIT_GOALS = {"header-only": 12.0, "compiled mode": 4.0}
README_FIT_MEMORY_GOAL_MB = 700


def timed_compile(command, runs=3):
    """The median seconds and peak MB of `runs` compilations."""
    seconds, megabytes = [], []
    for _ in range(runs):
        print("$ " + " ".join(command), flush=True)
        done = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + command, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        s, kb = done.stderr.strip().split("\n")[-1].split()
        seconds.append(float(s))
        megabytes.append(float(kb) / 1024)
    return statistics.median(seconds), statistics.median(megabytes)


def compile_times(build_dir):
    """Seconds and peak MB to compile each program (median of 3), with the examples' flags, and the
    README's second program at -O2 both ways."""
    includes = ["-isystem", "/usr/include/eigen3", "-I", os.path.join(ROOT, "include"), "-I",
                os.path.join(ROOT, "examples")]
    flags = ["-O3", "-DNDEBUG", "-march=native", "-std=c++20", "-DBACKPROP_WITH_ZLIB", "-c", "-o",
             os.devnull] + includes
    os.makedirs(build_dir, exist_ok=True)
    readme = readme_programs(build_dir)
    plain = os.path.join(ROOT, "benchmarks", "compile_time")
    programs = [
        ("README tour", "backprop", readme[0]),
        ("README tour", "plain Eigen", os.path.join(plain, "plain_tour.cpp")),
        ("study/sleep", "backprop", os.path.join(ROOT, "examples", "study_sleep.cpp")),
        ("study/sleep", "plain Eigen", os.path.join(plain, "plain_study_sleep.cpp")),
        ("Fashion-MNIST", "backprop", os.path.join(ROOT, "examples", "fashion_mnist.cpp")),
        ("Fashion-MNIST", "plain Eigen", os.path.join(plain, "plain_fashion_mnist.cpp")),
    ]
    rows = []
    for program, system, source in programs:
        rows.append((program, system) + timed_compile(["c++"] + flags + [source]))
    # The README's second program as a user compiles it (g++ -std=c++20 -O2): header-only, then in
    # the compiled mode, whose part is built once (its two units, one after the other).
    o2 = ["-std=c++20", "-O2", "-c", "-o", os.devnull] + includes
    fit = [("header-only", timed_compile(["c++"] + o2 + [readme[1]])),
           ("compiled mode", timed_compile(["c++"] + o2 + ["-DBACKPROP_COMPILED", readme[1]]))]
    part = os.path.join(build_dir, "backprop_compiled.cpp")
    with open(part, "w") as f:
        f.write("#define BACKPROP_IMPLEMENTATION\n#include <backprop/backprop.hpp>\n")
    parts = [timed_compile(["c++"] + o2 + [f"-DBACKPROP_IMPLEMENTATION_PART={p}", part], runs=1)
             for p in (1, 2)]
    library = (sum(s for s, _ in parts), max(m for _, m in parts))
    return rows, fit, library


def format_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def peers_section(results, notes):
    lines = ["| workload | system | median time per step | ratio to backprop | loss after the steps |",
             "| --- | --- | ---: | ---: | ---: |"]
    for workload in ["W1", "W2/256", "W2/32"]:
        rows = [r for r in results if r["workload"] == workload]
        base = next((r["ns"] for r in rows if r["system"] in ("backprop", "backprop/1-thread")), None)
        for r in sorted(rows, key=lambda r: r["ns"]):
            ratio = f"{r['ns'] / base:.2f}" if base else "n/a"
            lines.append(f"| {workload} | {r['system']} | {format_ns(r['ns'])} | {ratio} | "
                         f"{r['loss']:.6g} after {r['steps']} |")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def ratios_section(rows, products):
    lines = ["| benchmark | library | hand-written twin | ratio |", "| --- | ---: | ---: | ---: |"]
    for binary, name, library, twin, flops in rows:
        rate = f" ({flops / 1e9:.0f} GFLOP/s)" if flops else ""
        lines.append(f"| {binary}: {name} | {format_ns(library)}{rate} | {format_ns(twin)} | "
                     f"{library / twin:.3f} |")
    for name, (ns, flops) in sorted(products.items()):
        lines.append(f"| {name} (the bare product) | {format_ns(ns)} ({flops / 1e9:.0f} GFLOP/s) | | |")
    return "\n".join(lines)


EPOCH = re.compile(r"^epoch \d+/\d+ .*?  (\d+\.\d+) s  ", re.M)
ACCURACY = re.compile(r"^test accuracy (\S+) after (\d+) epochs, trained in (\S+) s", re.M)


def cnn(build_dir, notes):
    """The example's CNN and its PyTorch twin, each on 1 and 2 threads, for their default epochs."""
    example = os.path.join(build_dir, "examples", "fashion_mnist")
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
        notes.append(skip("the Fashion-MNIST CNN", "sudo apt-get install dataset-fashion-mnist"))
        return []
    runs = []
    for threads in (1, 2):
        curves = os.path.join(build_dir, "cnn_curves")
        runs.append(("backprop", threads, output_of(
            [example, "--model", "cnn", "--threads", str(threads), "--curves", curves], timeout=3600)))
    if subprocess.run([PYTHON, "-c", "import torch"], capture_output=True).returncode == 0:
        for threads in (1, 2):
            runs.append(("PyTorch", threads, output_of(
                [PYTHON, os.path.join(PEERS, "fashion_mnist_cnn_torch.py"), "--threads", str(threads)],
                timeout=3600)))
    else:
        notes.append(skip("PyTorch", "sudo apt-get install python3-torch"))
    rows = []
    for system, threads, out in runs:
        epochs = [float(s) for s in EPOCH.findall(out)]
        accuracy = ACCURACY.search(out)
        rows.append((system, threads, statistics.median(epochs), float(accuracy[3]), float(accuracy[1]),
                     int(accuracy[2])))
    return rows


def cnn_section(rows, notes):
    lines = ["| system | threads | median time per epoch | training time | test accuracy |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for system, threads, epoch, total, accuracy, epochs in rows:
        lines.append(f"| {system} | {threads} | {epoch:.1f} s | {total:.0f} s ({epochs} epochs) | {accuracy:.4f} |")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def compile_section(measured):
    rows, fit, library = measured
    lines = ["| program | built with | compile time | peak memory | time over plain Eigen | goal |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    plain = {p: (s, m) for p, system, s, m in rows if system == "plain Eigen"}
    for program, system, seconds, megabytes in rows:
        ratio, goal = "", ""
        if system != "plain Eigen" and program in plain:
            ratio = f"{seconds / plain[program][0]:.2f}x ({megabytes / plain[program][1]:.2f}x memory)"
            if program in COMPILE_GOALS:
                met = seconds / plain[program][0] <= COMPILE_GOALS[program]
                goal = f"{COMPILE_GOALS[program]}x: {'met' if met else 'not met'}"
        lines.append(f"| {program} | {system} | {seconds:.2f} s | {megabytes:.0f} MB | {ratio} | {goal} |")
    lines += ["", "The README's second program (`Sequential`, `fit`, `save_model`, `load_sequential`), "
              "`c++ -std=c++20 -O2`:", "",
              "| built | compile time | peak memory | goal |", "| --- | ---: | ---: | ---: |"]
    for mode, (seconds, megabytes) in fit:
        met = seconds <= README_FIT_GOALS[mode] and megabytes <= README_FIT_MEMORY_GOAL_MB
        lines.append(f"| {mode} | {seconds:.2f} s | {megabytes:.0f} MB | {README_FIT_GOALS[mode]:.0f} s "
                     f"and {README_FIT_MEMORY_GOAL_MB} MB: {'met' if met else 'not met'} |")
    lines.append(f"| the compiled part, once (two units) | {library[0]:.2f} s | {library[1]:.0f} MB | |")
    return "\n".join(lines)


# What mpirun needs on these machines (shared/notes/mpi.md): root, more ranks than cores, and
# waiting ranks that yield their core instead of spinning.
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_mpi_yield_when_idle": "1"}
SCALING = re.compile(r"SCALING workload=(\S+) ranks=(\d+) batch=(\d+) parameters=(\d+) alone_ms=(\S+) "
                     r"together_ms=(\S+) share_ms=(\S+) weak_ms=(\S+) wait_ms=(\S+) sum_ms=(\S+) allreduce_ms=(\S+)")
# Two clusters to project onto, with the alpha-beta model of a ring allreduce.
CLUSTERS = [("10 GbE", 20e-6, 1.1e9), ("100 Gb/s InfiniBand", 2e-6, 11e9)]


def onnx_inference(build_dir):
    """Inference of the Fashion-MNIST MLP and CNN that PyTorch exported: load_onnx's network, the same
    network built with Sequential's calls, and PyTorch itself, at batch 1 and 256 on one thread."""
    if not os.path.exists("/usr/include/onnx/onnx_pb.h"):
        return skip("ONNX inference", "sudo apt-get install libonnx-dev libprotobuf-dev")
    if subprocess.run([PYTHON, "-c", "import onnx, torch"], capture_output=True).returncode != 0:
        return skip("ONNX inference", "sudo apt-get install python3-onnx python3-torch")
    run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DBACKPROP_BUILD_TESTS=OFF",
         "-DBACKPROP_NATIVE=ON", "-DBACKPROP_BUILD_BENCHMARKS=ON"], stdout=subprocess.DEVNULL)
    run(["cmake", "--build", build_dir, "-j", str(os.cpu_count()), "--target", "onnx_inference"])
    models = os.path.join(build_dir, "onnx_models")
    results = parse_results(output_of([PYTHON, os.path.join(PEERS, "onnx_inference_torch.py"), models]))
    results += parse_results(output_of([os.path.join(build_dir, "benchmarks", "onnx_inference"), models]))
    by = {(r["workload"], r["system"]): r for r in results}
    lines = ["Inference (`predict`) of the Fashion-MNIST MLP (784-256-128-10) and CNN of "
             "`benchmarks/peers/fashion_mnist_torch.py`, exported by `torch.onnx.export` "
             "(`benchmarks/peers/onnx_inference_torch.py`) and loaded by `load_onnx<float>` "
             "(`benchmarks/onnx_inference.cpp`), beside the same network built with `Sequential`'s "
             "calls and given the same weights, and PyTorch running the module it exported; one thread, "
             "median of 7 rounds. \"sum\" is the sum of the outputs for one input both sides make "
             "alike: the same computation.", "",
             "| model | batch | load_onnx | built in backprop | PyTorch | PyTorch / load_onnx | sum (backprop, PyTorch) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for workload in sorted({r["workload"] for r in results}, key=lambda w: (w.split("/")[0], int(w.split("/")[1]))):
        mine, built, torch = (by.get((workload, s)) for s in ("backprop_onnx", "backprop_built", "pytorch"))
        if not (mine and built and torch):
            continue
        model, batch = workload[len("onnx_"):].split("/")
        lines.append(f"| {model} | {batch} | {format_ns(mine['ns'])} | {format_ns(built['ns'])} | "
                     f"{format_ns(torch['ns'])} | {torch['ns'] / mine['ns']:.2f} | "
                     f"{mine['loss']:.6g}, {torch['loss']:.6g} |")
    return "\n".join(lines)


def scaling(build_dir):
    """data_parallel_step under mpiexec -n 1 and -n 2 (and -n 4 and 8 oversubscribed, for correctness)."""
    if not shutil.which("mpiexec"):
        return skip("MPI scaling", "apt-get install libopenmpi-dev openmpi-bin")
    run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DBACKPROP_BUILD_TESTS=OFF",
         "-DBACKPROP_NATIVE=ON", "-DBACKPROP_BUILD_BENCHMARKS=ON"], stdout=subprocess.DEVNULL)
    run(["cmake", "--build", build_dir, "-j", str(os.cpu_count()), "--target", "data_parallel_step"])
    binary = os.path.join(build_dir, "benchmarks", "data_parallel_step")
    outputs = {n: output_of(["mpiexec", "-n", str(n), binary], env=MPI_ENV) for n in (1, 2)}
    for n in (4, 8):
        outputs[n] = output_of(["mpiexec", "-n", str(n), binary, "--steps", "8"], env=MPI_ENV)
    lines = []
    for n, out in outputs.items():
        note = (f" (oversubscribed: {n} ranks on {os.cpu_count()} cores, a correctness run, not a speed "
                "figure)") if n > os.cpu_count() else ""
        table = "\n".join(line for line in out.splitlines() if not line.startswith("SCALING"))
        lines += [f"`mpiexec -n {n} data_parallel_step`{note}:", "", "```text", table, "```", ""]
    # The projection starts from the 1-rank run's step times (fit() on one process).
    rows = [SCALING.search(line) for line in outputs[1].splitlines()]
    rows = [r for r in rows if r]
    lines += ["Projection to a cluster of machines like this one, one rank per machine, for a fixed global "
              "batch: compute per step = the 1-rank step time (measured above) / N, which assumes the "
              "step scales linearly with its batch (optimistic for small slices); communication = a ring "
              "allreduce of the step's buffer, 2 (N - 1) alpha + 2 (N - 1) / N bytes / bandwidth. "
              "Speedup = 1-rank time / (compute + communication). The networks: "
              + "; ".join(f"{net}, alpha {alpha * 1e6:g} µs and {bandwidth / 1e9:g} GB/s" for net, alpha, bandwidth in CLUSTERS)
              + " (typical published figures for MPI over them, not measured here).", "",
              "| workload | batch | gradient | network | N=2 | N=4 | N=8 | N=16 | N=32 |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        alone = float(r[6]) / 1e3  # together_ms of the 1-rank run: fit() alone
        gradient = int(r[4]) * 4
        for net, alpha, bandwidth in CLUSTERS:
            cells = []
            for n in (2, 4, 8, 16, 32):
                size = (int(r[4]) + 1 + n) * 4  # the gradient, the loss and one flag per rank
                comm = 2 * (n - 1) * alpha + 2 * (n - 1) / n * size / bandwidth
                cells.append(f"{alone / (alone / n + comm):.1f}x")
            lines.append(f"| {r[1].replace('_', ' ')} | {r[3]} | {gradient / 1e6:.2f} MB | {net} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_section(text, name, body):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text:
        return re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench"))
    parser.add_argument("--only", default="peers,ratios,cnn,scaling,onnx,compile")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    blas = build(args.build_dir) if parts & {"peers", "ratios", "cnn"} else False
    m = machine()

    text = open(RESULTS).read() if os.path.exists(RESULTS) else (
        "# Benchmark results\n\nWritten by `python3 benchmarks/compare.py`; every number below comes "
        "from one run of it.\n")
    text = replace_section(text, "machine",
                           f"Machine: {m['cpu']}, {m['cores']} cores, {m['system']}; {m['compiler']}; "
                           f"measured {m['date']}.")

    def publish(name, section):
        """Prints a section and writes it at once, so that an interrupted run keeps what it measured."""
        nonlocal text
        print("\n" + section)
        text = replace_section(text, name, section)
        with open(RESULTS, "w") as f:
            f.write(text)

    if "peers" in parts:
        notes = []
        results = peers(args.build_dir, blas, notes)
        publish("peers", peers_section(results, notes))
    if "ratios" in parts:
        publish("ratios", ratios_section(*ratios(args.build_dir, blas)))
    if "cnn" in parts:
        notes = []
        publish("cnn", cnn_section(cnn(args.build_dir, notes), notes))
    if "scaling" in parts:
        publish("scaling", scaling(args.build_dir))
    if "onnx" in parts:
        publish("onnx", onnx_inference(args.build_dir))
    if "compile" in parts:
        publish("compile", compile_section(compile_times(args.build_dir)))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
