// backprop::onnx: ONNX models in and out. Link backprop::onnx (CMake), which is defined where
// ONNX's protobuf classes are installed (Debian: libonnx-dev libprotobuf-dev); the rest of backprop
// reads no protobuf header.
//
//   auto net = backprop::load_onnx<float>("model.onnx");  // onnx/load.hpp
//   backprop::save_onnx(net, "model.onnx");                // onnx/save.hpp
#pragma once

#include "load.hpp"
#include "save.hpp"
