// The layer kinds a network composed at run time is built from: model files find a kind here by
// its name, and load_sequential builds it. Each is the run-time form of its kind (run-time widths,
// an AnyActivation), so a program that reads model files compiles each kind once per scalar, not
// once per activation. A new kind is one header in this folder and one entry below (or in a list
// of your own, passed to load_sequential).
#pragma once

#include "../any_activation.hpp"
#include "batch_norm.hpp"
#include "conv2d.hpp"
#include "dense.hpp"
#include "dropout.hpp"
#include "pad2d.hpp"
#include "pool2d.hpp"
#include "protocol.hpp"
#include "rescale.hpp"

namespace backprop {

/// Dense, Dropout, Rescale, Conv2D, MaxPool2D, AvgPool2D, BatchNorm and Pad2D, as run-time
/// layers.
using BuiltinLayers = LayerList<Dense<Dynamic, Dynamic, AnyActivation>, Dropout<>, Rescale<>,
                                Conv2D<AnyActivation>, MaxPool2D, AvgPool2D, BatchNorm, Pad2D>;

}  // namespace backprop
