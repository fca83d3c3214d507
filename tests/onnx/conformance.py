#!/usr/bin/env python3
"""ONNX's own node conformance cases for the ops load_onnx supports, run through backprop.

    python3 tests/onnx/conformance.py --runner build/tests/onnx_run_case --work DIR \
        [--list tests/onnx/conformance.txt] [--write-list]

Generates the cases with Debian's python3-onnx (backend-test-tools generate-data; numpy's removed
aliases np.bool, np.object, ... restored first), binds each case's inputs after the first to
initializers (the cases give weights as graph inputs; backprop reads weights as constants), and
runs each through onnx_run_case with onnx's own tolerances (rtol 1e-3, atol 1e-7).

The list (tests/onnx/conformance.txt) names every case of a supported op: "pass NAME", or
"skip NAME: the reason". The run fails when a listed pass fails or a case is missing from the
list; --write-list writes the list from this run (reasons left for a person to fill in).
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy

for _name, _alias in (("bool", bool), ("object", object), ("complex", complex), ("float", float),
                      ("int", int), ("str", str)):
    if _name not in numpy.__dict__:
        setattr(numpy, _name, _alias)

import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402

SUPPORTED = ("gemm", "matmul", "relu", "leakyrelu", "sigmoid", "tanh", "softplus", "softmax", "logsoftmax",
             "identity", "dropout", "flatten", "reshape", "conv", "maxpool", "averagepool",
             "globalaveragepool", "batchnorm", "sub", "mul", "div", "add", "pad", "constant")
# Cases of other ops whose names start like a supported one's.
OTHERS = ("convinteger", "convtranspose", "matmulinteger", "constantofshape", "gather", "shape",
          "concat", "unsqueeze", "softmaxcrossentropy", "reshape_", "identity_opt", "identity_sequence")


def op_of(case):
    name = case[len("test_"):]
    for other in OTHERS:
        if name.startswith(other) and not other.endswith("_"):
            return None
    for op in sorted(SUPPORTED, key=len, reverse=True):
        if name.startswith(op):
            return op
    return None


def generate(work):
    from onnx.backend.test.cmd_tools import main
    out = os.path.join(work, "generated")
    if not os.path.isdir(os.path.join(out, "node")):
        argv, sys.argv = sys.argv, ["backend-test-tools", "generate-data", "-o", out]
        main()
        sys.argv = argv
    return os.path.join(out, "node")


def bind(source, target):
    """The case with its inputs after the first as initializers, in target; False if it has none."""
    model = onnx.load(os.path.join(source, "model.onnx"))
    data = os.path.join(source, "test_data_set_0")
    if not os.path.exists(os.path.join(data, "input_0.pb")) or not os.path.exists(os.path.join(data, "output_0.pb")):
        return False
    inputs = list(model.graph.input)
    for k, value in enumerate(inputs[1:], start=1):
        tensor = onnx.TensorProto()
        with open(os.path.join(data, f"input_{k}.pb"), "rb") as f:
            tensor.ParseFromString(f.read())
        tensor.name = value.name
        model.graph.initializer.append(tensor)
        model.graph.input.remove(value)
    os.makedirs(os.path.join(target, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(target, "model.onnx"))
    for role in ("input_0.pb", "output_0.pb"):
        shutil.copy(os.path.join(data, role), os.path.join(target, "test_data_set_0", role))
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runner", required=True)
    parser.add_argument("--work", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--list", default=os.path.join(here, "conformance.txt"))
    parser.add_argument("--write-list", action="store_true")
    args = parser.parse_args()

    node = generate(args.work)
    results = {}
    for case in sorted(os.listdir(node)):
        if not op_of(case):
            continue
        target = os.path.join(args.work, "bound", case)
        if not bind(os.path.join(node, case), target):
            results[case] = "the case has no input_0 and output_0"
            continue
        done = subprocess.run([args.runner, "--rtol", "1e-3", "--atol", "1e-7", target],
                              capture_output=True, text=True)
        line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()
        # "refused NAME: .../model.onnx: why" -> "why"; "FAIL NAME: numbers" stays as it is
        reason = line.split("model.onnx: ", 1)[1] if "model.onnx: " in line else line
        results[case] = "pass" if done.returncode == 0 else reason

    passed = sorted(c for c, r in results.items() if r == "pass")
    print(f"{len(passed)} of {len(results)} cases of the supported ops pass")
    if args.write_list:
        with open(args.list, "w") as f:
            f.write("# ONNX node conformance cases of the ops load_onnx supports (conformance.py).\n"
                    "# pass NAME: must pass. skip NAME: why backprop leaves it out.\n")
            for case, result in sorted(results.items()):
                f.write(f"pass {case}\n" if result == "pass" else f"skip {case}: {result}\n")
        return 0

    listed = {}
    with open(args.list) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                verdict, rest = line.split(" ", 1)
                listed[rest.split(":", 1)[0].strip()] = verdict
    problems = []
    for case, result in sorted(results.items()):
        if case not in listed:
            problems.append(f"{case} is not in {args.list}: {result}")
        elif listed[case] == "pass" and result != "pass":
            problems.append(f"{case} is listed to pass but did not: {result}")
        elif listed[case] == "skip" and result == "pass":
            print(f"note: {case} passes now; list it as pass")
    for p in problems:
        print("error:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
