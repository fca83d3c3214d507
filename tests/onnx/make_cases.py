#!/usr/bin/env python3
"""Writes ONNX test cases exported by PyTorch (torch.onnx.export) in ONNX's test layout:
CASE/model.onnx and CASE/test_data_set_0/{input_0,output_0}.pb, PyTorch's own output.

    python3 tests/onnx/make_cases.py OUT_DIR    # the small cases committed in tests/onnx/cases

Every case is seeded, so a rerun writes the same models (up to the exporter's version).
"""
import os
import sys

import onnx
import onnx.numpy_helper
import torch

F = torch.nn.functional


class View(torch.nn.Module):
    """x.view(x.size(0), -1): exports Shape, Gather, Unsqueeze, Concat and Reshape."""

    def forward(self, x):
        return x.view(x.size(0), -1)


class Normalize(torch.nn.Module):
    """(x - mean) / std of constants: exports Sub and Div."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        return (x - self.mean) / self.std


class Affine(torch.nn.Module):
    """x @ W + b with W of (in, out): exports MatMul and Add."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(n_in, n_out) / n_in**0.5)
        self.b = torch.nn.Parameter(torch.randn(n_out))

    def forward(self, x):
        return torch.matmul(x, self.w) + self.b


def batch_norm(layer):
    """Running statistics and affine parameters away from their defaults, so that they matter."""
    with torch.no_grad():
        layer.running_mean.uniform_(-0.5, 0.5)
        layer.running_var.uniform_(0.5, 2.0)
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-0.5, 0.5)
    return layer


def cases():
    """(name, module, input shape without the batch, opset)."""
    nn = torch.nn
    yield "mlp", nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 4)), (12,), 13
    yield "mlp_opset9", nn.Sequential(nn.Linear(12, 8), nn.Sigmoid(), nn.Linear(8, 4), nn.Tanh()), (12,), 9
    yield "softmax_opset11", nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3),
                                           nn.Softmax(dim=1)), (6,), 11
    yield "leaky_relu_softplus", nn.Sequential(nn.Linear(7, 6), nn.LeakyReLU(), nn.Linear(6, 2),
                                               nn.Softplus()), (7,), 17
    yield "normalized_input", nn.Sequential(Normalize(torch.linspace(-1, 1, 5), torch.linspace(0.5, 2, 5)),
                                            nn.Linear(5, 3), nn.Sigmoid()), (5,), 13
    yield "matmul_add", nn.Sequential(Affine(6, 4), nn.ReLU(), nn.Linear(4, 2)), (6,), 13
    yield "batch_norm_1d", nn.Sequential(nn.Linear(6, 5), nn.ReLU(), batch_norm(nn.BatchNorm1d(5)),
                                         nn.Linear(5, 3)), (6,), 13
    yield "cnn", nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), batch_norm(nn.BatchNorm2d(4)),
                               nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, stride=2), nn.Tanh(), nn.AvgPool2d(2),
                               nn.Flatten(), nn.Linear(6, 5), nn.Dropout(0.3), nn.Linear(5, 3)), (1, 12, 12), 13
    for opset in (9, 17):
        yield f"cnn_view_opset{opset}", nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(),
                                                      nn.MaxPool2d(2, stride=2), View(), nn.Linear(3 * 4 * 4, 4)), (2, 8, 8), opset
    yield "global_average_pool", nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU(),
                                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2)), (3, 6, 6), 13
    yield "log_softmax", nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.LogSoftmax(dim=1)), (6,), 13
    yield "padded_pools", nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(),
                                        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                                        nn.AvgPool2d(3, stride=1, padding=1), nn.Flatten(),
                                        nn.Linear(3 * 4 * 4, 2)), (2, 7, 7), 13
    yield "normalized_image", nn.Sequential(Normalize(torch.tensor(0.5), torch.tensor(0.25)),
                                            nn.Conv2d(1, 2, 3, stride=(2, 1), padding=(0, 1)), nn.ReLU(),
                                            nn.Flatten(), nn.Linear(2 * 3 * 7, 3)), (1, 7, 7), 13


def write_case(case, module, x, opset=13, extra=()):
    """CASE/model.onnx, module (in eval mode) exported as traced on x, and CASE/test_data_set_0 with
    x, module(x) and each (role, tensor) of extra; returns module(x). interop.py writes its cases
    with it too."""
    module.eval()
    with torch.no_grad():
        y = module(x)
    os.makedirs(os.path.join(case, "test_data_set_0"), exist_ok=True)
    path = os.path.join(case, "model.onnx")
    torch.onnx.export(module, x, path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset)
    onnx.checker.check_model(onnx.load(path))
    for role, tensor in (("input_0", x), ("output_0", y)) + tuple(extra):
        proto = onnx.numpy_helper.from_array(tensor.numpy())
        with open(os.path.join(case, "test_data_set_0", role + ".pb"), "wb") as f:
            f.write(proto.SerializeToString())
    return y


def write(directory, name, module, shape, opset, batch=5):
    write_case(os.path.join(directory, name), module, torch.randn((batch,) + tuple(shape)), opset)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "cases")
    for k, (name, module, shape, opset) in enumerate(cases()):
        torch.manual_seed(k)
        write(directory, name, module, shape, opset)
        print("wrote", os.path.join(directory, name))


if __name__ == "__main__":
    main()
