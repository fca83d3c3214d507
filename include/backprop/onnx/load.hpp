// load_onnx<Scalar>(path): an ONNX model (torch.onnx.export's, say) as a Sequential<Scalar>.
//
//   auto net = backprop::load_onnx<float>("mlp.onnx");   // links backprop::onnx
//   Eigen::MatrixXf scores = net.predict(X);              // X: (batch, features), NCHW rows
//
// What it reads is graph.hpp's subset of ONNX; anything else is refused, before anything is built,
// by a FormatError that names the file, the node and its op type, and the opset.
#pragma once

#include <climits>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include "../any_activation.hpp"
#include "../config.hpp"
#include "../io/bytes.hpp"
#include "../io/file.hpp"
#include "../sequential.hpp"
#include "graph.hpp"

namespace backprop {

namespace detail::onnx_in {

/// Messages nest no deeper than this (a graph of layers needs 5; ONNX's own limit is protobuf's
/// default of 100, which lets a small file exhaust the stack of a smaller thread).
inline constexpr int max_depth = 32;

/// The model in `bytes`, parsed by protobuf with its depth bounded; `file` names it in errors.
inline ::onnx::ModelProto parse_model(const std::vector<std::uint8_t>& bytes,
                                      const std::string& file) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX))
    throw FormatError(file + ": a file of " + std::to_string(bytes.size()) +
                      " bytes is beyond the 2 GB that an ONNX model may hold");
  google::protobuf::io::CodedInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  in.SetRecursionLimit(max_depth);
  ::onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
    throw FormatError(file +
                      ": not an ONNX model (protobuf could not parse it: truncated, "
                      "corrupt, or nested deeper than " +
                      std::to_string(max_depth) + ")");
  if (!model.has_graph()) throw FormatError(file + ": the model has no graph");
  return model;
}

/// The Sequential that `plan` describes, its weights from the plan.
template <std::floating_point Scalar>
Sequential<Scalar> build(const Plan& plan, const std::string& file) {
  Sequential<Scalar> net =
      plan.image ? Sequential<Scalar>(plan.input) : Sequential<Scalar>(plan.input.size());
  const ActivationNames names = ActivationNames::of(BuiltinActivations{});
  std::vector<const std::vector<double>*> tensors;  // in slot order
  std::vector<std::pair<std::size_t, const BatchNormStep*>> statistics;
  for (const Step& step : plan.steps) {
    std::visit(
        [&]<class S>(const S& s) {
          if constexpr (std::is_same_v<S, DenseStep>) {
            net.add_dense(s.out, s.activation, s.bias ? Bias::on : Bias::off);
            tensors.push_back(&s.W);
            if (s.bias) tensors.push_back(&s.b);
          } else if constexpr (std::is_same_v<S, ConvStep>) {
            net.add_conv2d(s.filters, s.kernel, s.stride, s.padding, *names.find(s.activation),
                           s.bias ? Bias::on : Bias::off);
            tensors.push_back(&s.W);
            if (s.bias) tensors.push_back(&s.b);
          } else if constexpr (std::is_same_v<S, PadStep>) {
            const Pad2DSettings& p = s.settings;
            net.add_pad2d(p.top, p.left, p.bottom, p.right, p.value);
          } else if constexpr (std::is_same_v<S, PoolStep>) {
            if (s.max)
              net.add_max_pool2d(s.window, s.stride);
            else
              net.add_avg_pool2d(s.window, s.stride);
          } else if constexpr (std::is_same_v<S, GlobalPoolStep>) {
            net.add_global_avg_pool();
          } else if constexpr (std::is_same_v<S, BatchNormStep>) {
            net.add_batch_norm(s.momentum, s.epsilon);
            tensors.push_back(&s.gamma);
            tensors.push_back(&s.beta);
            statistics.emplace_back(net.depth() - 1, &s);
          } else {
            Rescaling map;
            map.scale = Eigen::Map<const Eigen::RowVectorXd>(s.scale.data(), Index(s.scale.size()));
            map.offset =
                Eigen::Map<const Eigen::RowVectorXd>(s.offset.data(), Index(s.offset.size()));
            net.add_rescale(map);
          }
        },
        step);
  }
  if (tensors.size() != net.parameter_matrices())
    throw FormatError(file + ": " + std::to_string(tensors.size()) + " weights for " +
                      std::to_string(net.parameter_matrices()) + " parameter matrices");
  net.for_each_parameter([&](std::size_t slot, auto& p, const auto&) {
    const std::vector<double>& values = *tensors[slot];
    if (values.size() != static_cast<std::size_t>(p.size()))
      throw FormatError(file + ": parameter matrix " + std::to_string(slot) + " has " +
                        std::to_string(p.size()) + " values, its weight " +
                        std::to_string(values.size()));
    for (Index i = 0; i < p.size(); ++i)
      p.data()[i] = static_cast<Scalar>(values[static_cast<std::size_t>(i)]);
  });
  // The running statistics enter through BatchNorm's own state reader, which checks them.
  for (const auto& [layer, s] : statistics) {
    io::Writer w;
    for (const auto* row : {&s->mean, &s->variance})
      for (double v : *row)
        w.f64(v);
    io::Reader r(w.bytes(), 0, w.bytes().size(), file);
    net.visit_layer(layer, [&](auto& node) { node.read_state(r); });
  }
  return net;
}

/// load_onnx of a file's bytes (what the fuzzer calls).
template <std::floating_point Scalar>
Sequential<Scalar> load(const std::vector<std::uint8_t>& bytes, const std::string& file) {
  const ::onnx::ModelProto model = parse_model(bytes, file);
  const Plan plan = PlanReader(model, file).read();
  const auto& last = plan.steps.back();
  if (!std::holds_alternative<DenseStep>(last) && !std::holds_alternative<ConvStep>(last))
    throw FormatError(file +
                      ": the graph ends in a layer without an activation; backprop's "
                      "networks end in a Gemm, MatMul or Conv (with or without an activation)");
  try {
    return build<Scalar>(plan, file);
  } catch (const std::invalid_argument& e) {  // a builder's ShapeError or ArgumentError
    throw FormatError(file + ": " + e.what());
  }
}

}  // namespace detail::onnx_in

/// The ONNX model at `path` as a Sequential<Scalar>, in float or double whatever the file's own
/// type. Throws FileError when it cannot be read, FormatError when it is not a model backprop runs
/// (graph.hpp says which are); nothing outside the file is opened (external data is refused).
template <std::floating_point Scalar>
Sequential<Scalar> load_onnx(const std::filesystem::path& path) {
  return detail::onnx_in::load<Scalar>(io::read_file(path), path.string());
}

}  // namespace backprop
