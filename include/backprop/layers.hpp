// The layer kinds a network composed at run time is built from: model files find a kind here by
// its name, and load_sequential builds it. A new kind is one header under layers/ and one entry
// in BuiltinLayers (or in a list of your own, passed to load_sequential).
#pragma once

#include "layers/batch_norm.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/pool2d.hpp"
#include "layers/rescale.hpp"

namespace backprop {

/// Dense, Dropout, Rescale, Conv2D, MaxPool2D, AvgPool2D and BatchNorm.
using BuiltinLayers = LayerList<Dense<Dynamic, Dynamic>, Dropout<>, Rescale<>, Conv2D<>, MaxPool2D,
                                AvgPool2D, BatchNorm>;

}  // namespace backprop
