#!/usr/bin/env python3
"""W1 in numpy: the tutorial's own code (forward, backward, W += X^T delta), in double.

Timed as every peer: a warm-up, then seven rounds of about 0.2 s; the median per step. Prints
RESULT workload=W1 system=numpy step_ns=... loss=... steps=1000 (loss: sum of 0.5 (o - y)^2 after
1,000 steps from np.random.seed(1), the weights backprop's StandardNormal{1} draws too).
"""
import sys

try:
    import numpy as np
except ImportError:
    sys.exit("numpy_peer: numpy is missing: sudo apt-get install python3-numpy")

from timing import median_step_ns, report


def sigmoid(s):
    return 1 / (1 + np.exp(-s))


X = np.array(([2, 9], [1, 5], [3, 6]), dtype=float)
y = np.array(([92], [86], [89]), dtype=float)
X = X / np.amax(X, axis=0)
y = y / 100
np.random.seed(1)
W1 = np.random.randn(2, 3)
W2 = np.random.randn(3, 1)


def step():
    global W1, W2
    z2 = sigmoid(np.dot(X, W1))
    o = sigmoid(np.dot(z2, W2))
    o_delta = (y - o) * o * (1 - o)
    z2_delta = o_delta.dot(W2.T) * z2 * (1 - z2)
    W1 += X.T.dot(z2_delta)
    W2 += z2.T.dot(o_delta)


for _ in range(1000):
    step()
o = sigmoid(np.dot(sigmoid(np.dot(X, W1)), W2))
loss = 0.5 * float(np.sum((o - y) ** 2))
report("W1", "numpy", median_step_ns(step), loss, 1000)
