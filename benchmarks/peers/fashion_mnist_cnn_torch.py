#!/usr/bin/env python3
"""The CNN of `fashion_mnist --model cnn` in PyTorch: fashion_mnist_torch.py --model cnn.

Same architecture, initialization, optimizer, schedule, batch size and default epochs as the
example; the flags are fashion_mnist_torch.py's (--epochs N, --threads N, --data DIR).

    python3 benchmarks/peers/fashion_mnist_cnn_torch.py [--threads N]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_torch  # noqa: E402  (found beside this file)

# The example's default for the CNN (cnn_epochs in examples/fashion_mnist.cpp).
EPOCHS = 10

if __name__ == "__main__":
    fashion_mnist_torch.main(["--model", "cnn", "--epochs", str(EPOCHS)] + sys.argv[1:])
