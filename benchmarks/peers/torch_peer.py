#!/usr/bin/env python3
"""PyTorch (Debian's python3-torch) on the two peer workloads, with autograd and torch.optim.SGD.

  W1: the tutorial's 2-3-1 network in double, sigmoid, no biases, weights from np.random.seed(1),
      loss sum of 0.5 (o - y)^2 over the batch of 3, SGD with lr 1: the tutorial's update.
  W2: Linear(784, 128), ReLU, Linear(128, 10), CrossEntropyLoss (softmax cross-entropy from the
      logits, mean over the batch), SGD lr 0.01, float, on a fixed batch of random pixels in
      [0, 1] with one-hot labels; batch 256 and 32, on 1 and 2 threads (--threads).

Timed as every peer (timing.py): a warm-up, then seven rounds of about 0.2 s; the median per step.
"""
import argparse
import sys

try:
    import numpy as np
    import torch
except ImportError as error:
    sys.exit(f"torch_peer: {error.name} is missing: sudo apt-get install python3-torch python3-numpy")

from timing import median_step_ns, report


def tutorial():
    X = np.array(([2, 9], [1, 5], [3, 6]), dtype=float)
    X = torch.tensor(X / np.amax(X, axis=0))
    y = torch.tensor([[0.92], [0.86], [0.89]], dtype=torch.float64)
    np.random.seed(1)
    W1 = torch.tensor(np.random.randn(2, 3), requires_grad=True)
    W2 = torch.tensor(np.random.randn(3, 1), requires_grad=True)
    optimizer = torch.optim.SGD([W1, W2], lr=1.0)

    def step():
        o = torch.sigmoid(torch.sigmoid(X @ W1) @ W2)
        loss = 0.5 * ((o - y) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(1000):
        step()
    with torch.no_grad():
        o = torch.sigmoid(torch.sigmoid(X @ W1) @ W2)
        loss = 0.5 * float(((o - y) ** 2).sum())
    report("W1", "PyTorch", median_step_ns(step), loss, 1000)


def mlp(batch, threads):
    torch.manual_seed(1)
    x = torch.rand(batch, 784)
    labels = torch.tensor([(r * 7) % 10 for r in range(batch)])
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)

    def step():
        loss = loss_fn(net(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(100):
        step()
    with torch.no_grad():
        loss = loss_fn(net(x), labels).item()  # after the 100th update
    report(f"W2/{batch}", f"PyTorch/{threads}-thread{'s' if threads > 1 else ''}", median_step_ns(step),
           loss, 100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workloads", default="W1,W2")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if "W1" in args.workloads and args.threads == 1:
        tutorial()
    if "W2" in args.workloads:
        for batch in (256, 32):
            mlp(batch, args.threads)


if __name__ == "__main__":
    main()
