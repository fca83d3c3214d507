#!/usr/bin/env python3
"""Fashion-MNIST in PyTorch, set up as examples/fashion_mnist.cpp trains it, for a side-by-side.

Same data files, same 10% validation split size, same network, He-normal weights and zero
biases, Adam (lr 0.001, PyTorch's defaults otherwise), batch 128, the same epochs with a cosine
schedule, and the same summary: one line per epoch, the test accuracy, the confusion matrix and
the accuracy of each class. The random streams differ (numbers differ run to run between the two
programs, not within one). The networks, as the example's --model names them:

* mlp: 784-256-128-10, ReLU, softmax cross-entropy; 15 epochs.
* cnn: conv 32 3x3 (padding 1) ReLU, batch norm, max pool 2x2; conv 64 3x3 (padding 1) ReLU,
  batch norm, max pool 2x2; dense 128 ReLU, dropout 0.3; dense 10, softmax cross-entropy;
  the epochs of --epochs (fashion_mnist_cnn_torch.py: the example's default for the CNN).

    python3 benchmarks/peers/fashion_mnist_torch.py [--model cnn] [--epochs N] [--threads N]

Needs Debian's python3-torch and python3-numpy; the data from dataset-fashion-mnist.
"""
import argparse
import gzip
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as error:  # a peer that is missing says how to install it
    sys.exit(f"fashion_mnist_torch: {error.name} is missing: sudo apt-get install python3-torch python3-numpy")

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    return values.reshape(dims)


def cnn():
    """The example's CNN; images come as rows of 784 values, as in the example."""
    def conv(cin, cout):
        layer = torch.nn.Conv2d(cin, cout, 3, padding=1)
        torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # fan_in = cin * 3 * 3
        torch.nn.init.zeros_(layer.bias)
        return layer

    def dense(cin, cout):
        layer = torch.nn.Linear(cin, cout)
        torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        torch.nn.init.zeros_(layer.bias)
        return layer

    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)),
        conv(1, 32), torch.nn.ReLU(), torch.nn.BatchNorm2d(32), torch.nn.MaxPool2d(2),
        conv(32, 64), torch.nn.ReLU(), torch.nn.BatchNorm2d(64), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), dense(64 * 7 * 7, 128), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        dense(128, 10))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--layers", default="256,128")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--validation-split", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if not os.path.exists(os.path.join(args.data, "train-images-idx3-ubyte.gz")):
        sys.exit(f"fashion_mnist_torch: the data set is not in {args.data}: "
                 "sudo apt-get install dataset-fashion-mnist")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    x = torch.from_numpy(read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
                         .reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    x_test = torch.from_numpy(read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
                              .reshape(-1, 784).astype(np.float32) / 255)
    y_test = torch.from_numpy(read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))
    print(f"Fashion-MNIST: {len(x)} training and {len(x_test)} test images, "
          f"read in {time.perf_counter() - start:.1f} s")

    order = torch.randperm(len(x))
    held_out = round(args.validation_split * len(x))
    x_val, y_val = x[order[:held_out]], y[order[:held_out]]
    x, y = x[order[held_out:]], y[order[held_out:]]

    widths = [784] + [int(w) for w in args.layers.split(",")] + [10]
    if args.model == "cnn":
        net = cnn()
        description = "CNN 32c3-bn-pool-64c3-bn-pool-128-10"
    else:
        layers = []
        for i in range(len(widths) - 1):
            linear = torch.nn.Linear(widths[i], widths[i + 1])
            torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")  # as HeNormal
            torch.nn.init.zeros_(linear.bias)
            layers += [linear] + ([torch.nn.ReLU()] if i + 2 < len(widths) else [])
        net = torch.nn.Sequential(*layers)
        description = " ".join(map(str, widths))
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax cross-entropy from the logits
    optimizer = torch.optim.Adam(net.parameters(), lr=args.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    print(f"network: {description} "
          f"({sum(p.numel() for p in net.parameters())} parameters), Adam, batch {args.batch_size}, "
          f"PyTorch {torch.__version__} on {torch.get_num_threads()} thread(s)")

    train_start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.perf_counter()
        net.train()
        permutation = torch.randperm(len(x))
        total_loss, correct = 0.0, 0
        for first in range(0, len(x), args.batch_size):
            rows = permutation[first:first + args.batch_size]
            logits = net(x[rows])
            loss = loss_fn(logits, y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(rows)
            correct += (logits.argmax(1) == y[rows]).sum().item()
        lr = optimizer.param_groups[0]["lr"]
        schedule.step()
        net.eval()
        with torch.no_grad():
            logits = net(x_val)
            val_loss = loss_fn(logits, y_val).item()
            val_accuracy = (logits.argmax(1) == y_val).float().mean().item()
        seconds = time.perf_counter() - epoch_start
        print(f"epoch {epoch}/{args.epochs}  loss {total_loss / len(x):.4g}  "
              f"accuracy {correct / len(x):.4g}  val_loss {val_loss:.4g}  "
              f"val_accuracy {val_accuracy:.4g}  lr {lr:.3g}  {seconds:.1f} s  "
              f"{len(x) / seconds / 1000:.1f}k samples/s")
    trained = time.perf_counter() - train_start

    with torch.no_grad():
        predicted = net(x_test).argmax(1)
    accuracy = (predicted == y_test).float().mean().item()
    print(f"\ntest accuracy {accuracy:.4f} after {args.epochs} epochs, trained in {trained:.1f} s")
    counts = np.zeros((10, 10), dtype=int)
    for t, p in zip(y_test.tolist(), predicted.tolist()):
        counts[t, p] += 1
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    print(" " * 13 + "".join(f"{c:6d}" for c in range(10)))
    for t in range(10):
        print(f"{t:2d} {CLASSES[t]:<10}" + "".join(f"{counts[t, p]:6d}" for p in range(10)))
    print("\naccuracy per class")
    for t in range(10):
        print(f"  {CLASSES[t]:<12}{counts[t, t] / counts[t].sum():.3f}")


if __name__ == "__main__":
    main()
