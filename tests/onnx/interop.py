#!/usr/bin/env python3
"""backprop and PyTorch trade models through ONNX, on 1,000 Fashion-MNIST test images.

    python3 tests/onnx/interop.py --runner build/tests/onnx_run_case --work DIR

For the MLP and the CNN of benchmarks/peers/fashion_mnist_torch.py, each trained briefly in
PyTorch (one pass over 4,096 training images, so that weights and batch statistics are not the
initial ones): torch.onnx.export, then onnx_run_case loads the file into backprop and compares
its predictions with PyTorch's (float: 1e-5 relative, with an absolute floor of 1e-5 of the
largest output) and its accuracy with PyTorch's to 4 digits. onnx_run_case then writes the model
back out with save_onnx; onnx.checker (full check) and strict shape inference must accept it,
and an evaluator that is not backprop's (PyTorch's functional ops, node by node, from the ONNX
weights) must predict what PyTorch predicted. Last, every committed case (tests/onnx/cases),
imported and exported again, must pass the same checks.
"""
import argparse
import os
import subprocess
import sys

import numpy
import onnx
import onnx.numpy_helper
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks", "peers"))
import fashion_mnist_torch as peer  # noqa: E402
from make_cases import write_case  # noqa: E402

F = torch.nn.functional


def mlp():
    layers = []
    widths = [784, 256, 128, 10]
    for i in range(3):
        linear = torch.nn.Linear(widths[i], widths[i + 1])
        torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        torch.nn.init.zeros_(linear.bias)
        layers += [linear] + ([torch.nn.ReLU()] if i < 2 else [])
    return torch.nn.Sequential(*layers)


def train(net, x, y):
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for start in range(0, len(x), 128):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x[start:start + 128]), y[start:start + 128])
        loss.backward()
        optimizer.step()
    net.eval()


def attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def evaluate(model, x):
    """The ONNX graph evaluated with PyTorch's functional ops, node by node."""
    values = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    values[model.graph.input[0].name] = x
    for n in model.graph.node:
        a = [values[i] for i in n.input]
        op = n.op_type
        if op == "Gemm":
            w = a[1].t() if attribute(n, "transB", 0) else a[1]
            out = a[0] @ w + (a[2] if len(a) > 2 else 0)
        elif op == "Conv":
            p = attribute(n, "pads", [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3]
            out = F.conv2d(a[0], a[1], a[2] if len(a) > 2 else None, stride=attribute(n, "strides", [1, 1]),
                           padding=p[:2])
        elif op == "MaxPool":
            out = F.max_pool2d(a[0], attribute(n, "kernel_shape", None), attribute(n, "strides", [1, 1]))
        elif op == "AveragePool":
            out = F.avg_pool2d(a[0], attribute(n, "kernel_shape", None), attribute(n, "strides", [1, 1]))
        elif op == "BatchNormalization":
            out = F.batch_norm(a[0], a[3], a[4], a[1], a[2], False, 0.0, attribute(n, "epsilon", 1e-5))
        elif op == "Relu":
            out = F.relu(a[0])
        elif op == "Flatten":
            out = a[0].flatten(1)
        elif op == "Reshape":
            out = a[0].reshape([int(v) for v in a[1]])
        elif op == "Softmax":
            out = F.softmax(a[0], dim=attribute(n, "axis", -1))
        elif op == "Mul":
            out = a[0] * a[1]
        elif op == "Add":
            out = a[0] + a[1]
        else:
            raise SystemExit(f"the evaluator has no {op}")
        values[n.output[0]] = out
    return values[model.graph.output[0].name]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runner", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)

    def read(name):
        return peer.read_idx(os.path.join(args.data, name))
    x_train = torch.from_numpy(read("train-images-idx3-ubyte.gz")[:4096].reshape(-1, 784).astype(numpy.float32) / 255)
    y_train = torch.from_numpy(read("train-labels-idx1-ubyte.gz")[:4096].astype(numpy.int64))
    x_test = torch.from_numpy(read("t10k-images-idx3-ubyte.gz")[:1000].reshape(-1, 784).astype(numpy.float32) / 255)
    y_test = torch.from_numpy(read("t10k-labels-idx1-ubyte.gz")[:1000].astype(numpy.int64))

    failures = 0
    for name in ("mlp", "cnn"):
        if name == "mlp":
            net, shape = mlp(), (784,)
        else:
            net, shape = peer.cnn()[1:], (1, 28, 28)  # without its Unflatten: the input is NCHW
        train(net, x_train.reshape((-1,) + shape), y_train)
        case = os.path.join(args.work, name)
        x = x_test.reshape((-1,) + shape)
        y = write_case(case, net, x, extra=(("labels", y_test),))
        torch_accuracy = float((y.argmax(1) == y_test).float().mean())
        exported = os.path.join(args.work, name + "_exported.onnx")
        atol = 1e-5 * float(y.abs().max())
        done = subprocess.run([args.runner, "--rtol", "1e-5", "--atol", str(atol), "--labels",
                               os.path.join(case, "test_data_set_0", "labels.pb"), "--export", exported, case],
                              capture_output=True, text=True)
        print(done.stdout.strip())
        ours = [float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("accuracy")]
        print(f"{name}: PyTorch's accuracy {torch_accuracy:.4f}, backprop's {ours[0] if ours else 'none'}")
        if done.returncode != 0 or not ours or round(ours[0], 4) != round(torch_accuracy, 4):
            print(f"error: {name}: backprop does not predict what PyTorch does\n{done.stderr}")
            failures += 1
            continue
        model = onnx.load(exported)
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
        with torch.no_grad():
            again = evaluate(model, x.reshape(len(x), *[d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]))
        difference = float((again - y).abs().max())
        print(f"{name}: the exported model, evaluated by PyTorch's ops: largest difference {difference:.3g}, "
              f"nodes {' '.join(n.op_type for n in model.graph.node)}")
        if not torch.allclose(again, y, rtol=1e-5, atol=atol):
            print(f"error: {name}: the exported model does not predict what PyTorch does")
            failures += 1
    # Every committed case, imported and written back out, is a model ONNX's own checks accept.
    cases = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")
    for name in sorted(os.listdir(cases)):
        exported = os.path.join(args.work, "case_" + name + ".onnx")
        done = subprocess.run([args.runner, "--export", exported, os.path.join(cases, name)],
                              capture_output=True, text=True)
        try:
            model = onnx.load(exported)
            onnx.checker.check_model(model, full_check=True)
            onnx.shape_inference.infer_shapes(model, strict_mode=True)
        except Exception as error:  # noqa: BLE001 - any failure of onnx's checks is the finding
            print(f"error: case {name}: its export is not a valid model: {error}\n{done.stdout}")
            failures += 1
    print(f"the {len(os.listdir(cases))} committed cases, exported again, pass onnx.checker and strict shape inference")
    print("interop passed" if failures == 0 else f"interop failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
