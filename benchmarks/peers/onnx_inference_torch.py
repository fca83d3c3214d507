#!/usr/bin/env python3
"""The Fashion-MNIST MLP and CNN of fashion_mnist_torch.py, written as ONNX for
benchmarks/onnx_inference.cpp, and PyTorch's own inference time on them (one thread).

    python3 benchmarks/peers/onnx_inference_torch.py DIR    # writes DIR/mlp.onnx, DIR/cnn.onnx

Prints one RESULT line (timing.py) per model and batch size (1 and 256), its "loss" the sum of
the outputs for the input both sides make alike (value j of row i: ((i * 784 + j) % 97) / 97).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_torch as peer  # noqa: E402
import timing  # noqa: E402


def mlp():
    widths = [784, 256, 128, 10]
    layers = []
    for i in range(3):
        layers += [torch.nn.Linear(widths[i], widths[i + 1])] + ([torch.nn.ReLU()] if i < 2 else [])
    return torch.nn.Sequential(*layers)


def rows(batch):
    return (torch.arange(batch * 784, dtype=torch.int64) % 97).float().reshape(batch, 784) / 97


def main():
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(1)
    for name, net, shape in (("mlp", mlp(), (784,)), ("cnn", peer.cnn()[1:], (1, 28, 28))):
        net.eval()
        torch.onnx.export(net, torch.zeros((1,) + shape), os.path.join(directory, name + ".onnx"),
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13)
        for batch in (1, 256):
            x = rows(batch).reshape((batch,) + shape)
            with torch.no_grad():
                total = float(net(x).double().sum())
                ns = timing.median_step_ns(lambda: net(x))
            timing.report(f"onnx_{name}/{batch}", "pytorch", ns, total, 1)


if __name__ == "__main__":
    main()
