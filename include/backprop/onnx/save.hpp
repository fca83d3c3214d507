// save_onnx(net, path): a Network or Sequential of the built-in kinds as one self-contained ONNX
// model (opset 13, the batch dimension symbolic, input "input" and output "output"), written as
// .bpm files are (io/file.hpp: a temporary file beside the target, then a rename).
//
//   dense       -> Gemm (transB 1), then its activation's node
//   conv2d      -> Conv, then its activation's node
//   max_pool2d, avg_pool2d -> MaxPool, AveragePool
//   batch_norm  -> BatchNormalization with the running statistics (inference)
//   rescale     -> Mul, Add
//   pad2d       -> Pad (constant)
//   dropout     -> nothing: inference is the identity
// An image layer after a flat one gets a Reshape in front, a dense layer after an image a Flatten;
// the output is (batch, outputs) as predict's.
//
// Each layer is read through its own file record (write_config, write_state: the model file's
// layout, which is fixed by the format's version) and its tensors, so a Network and a Sequential
// export alike.
#pragma once

#include <bit>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "../config.hpp"
#include "../io/bytes.hpp"
#include "../io/file.hpp"
#include "../layers/conv2d.hpp"
#include "../layers/pad2d.hpp"
#include "../layers/pool2d.hpp"
#include "../shape.hpp"
#include "../version.hpp"

namespace backprop {

namespace detail::onnx_out {

static_assert(std::endian::native == std::endian::little,
              "save_onnx writes raw tensor data in the host's byte order, which must be ONNX's");

/// Builds the graph node by node; each node reads the one before it.
class GraphWriter {
 public:
  GraphWriter(::onnx::GraphProto& graph, int type) : graph_(graph), type_(type) {}

  /// A node of `op` on the current value and `inputs` (initializers), as the new current value.
  ::onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs = {}) {
    auto& n = *graph_.add_node();
    const std::string out = op + "_" + std::to_string(graph_.node_size() - 1);
    n.set_op_type(op);
    n.set_name(out);
    n.add_input(current_);
    for (const auto& in : inputs)
      n.add_input(in);
    n.add_output(out);
    current_ = out;
    return n;
  }
  /// An initializer of the network's scalar type (or int64), its values given as doubles.
  std::string tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<double>& values, bool int64 = false) {
    auto& t = *graph_.add_initializer();
    std::string unique = name + "_" + std::to_string(graph_.initializer_size() - 1);
    t.set_name(unique);
    for (auto d : dims)
      t.add_dims(d);
    const int type = int64 ? ::onnx::TensorProto::INT64 : type_;
    t.set_data_type(type);
    std::string raw;
    const std::size_t width = type == ::onnx::TensorProto::FLOAT ? 4 : 8;
    raw.resize(values.size() * width);
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (type == ::onnx::TensorProto::FLOAT) {
        const auto v = static_cast<float>(values[i]);
        std::memcpy(raw.data() + i * width, &v, width);
      } else if (type == ::onnx::TensorProto::DOUBLE) {
        std::memcpy(raw.data() + i * width, &values[i], width);
      } else {
        const auto v = static_cast<std::int64_t>(values[i]);
        std::memcpy(raw.data() + i * width, &v, width);
      }
    }
    t.set_raw_data(std::move(raw));
    return unique;
  }
  static void ints(::onnx::NodeProto& n, const char* name, const std::vector<std::int64_t>& v) {
    auto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(::onnx::AttributeProto::INTS);
    for (auto x : v)
      a.add_ints(x);
  }
  static void integer(::onnx::NodeProto& n, const char* name, std::int64_t v) {
    auto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(::onnx::AttributeProto::INT);
    a.set_i(v);
  }
  static void real(::onnx::NodeProto& n, const char* name, double v) {
    auto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(::onnx::AttributeProto::FLOAT);
    a.set_f(static_cast<float>(v));
  }

  std::string current_ = "input";

 private:
  ::onnx::GraphProto& graph_;
  int type_;
};

/// The value of a tensor of the batch dimension and `dims`.
inline void declare(::onnx::ValueInfoProto& v, const std::string& name, int type,
                    const std::vector<std::int64_t>& dims) {
  v.set_name(name);
  auto& t = *v.mutable_type()->mutable_tensor_type();
  t.set_elem_type(type);
  auto& shape = *t.mutable_shape();
  shape.add_dim()->set_dim_param("batch");
  for (auto d : dims)
    shape.add_dim()->set_dim_value(d);
}

/// The activation node that a layer's activation name stands for, or none for identity.
inline void activation(GraphWriter& g, std::string_view name, std::size_t layer) {
  if (name == "identity") return;
  if (name == "relu")
    g.node("Relu");
  else if (name == "sigmoid")
    g.node("Sigmoid");
  else if (name == "tanh")
    g.node("Tanh");
  else if (name == "softplus")
    g.node("Softplus");
  else if (name == "softmax")
    GraphWriter::integer(g.node("Softmax"), "axis", -1);
  else if (name == "log_softmax")
    GraphWriter::integer(g.node("LogSoftmax"), "axis", -1);
  else if (name.starts_with("leaky_relu")) {
    // "leaky_relu" (slope 1/100) or "leaky_relu(num/den)", as activation.hpp names them
    double slope = 0.01;
    if (const auto open = name.find('('); open != name.npos) {
      std::intmax_t num = 0, den = 1;
      const char* end = name.data() + name.size();
      const auto a = std::from_chars(name.data() + open + 1, end, num);
      const auto b = std::from_chars(a.ptr + 1, end, den);
      if (a.ec != std::errc{} || b.ec != std::errc{} || den == 0)
        throw ArgumentError("backprop::save_onnx: cannot read the slope of \"" + std::string(name) +
                            "\"");
      slope = static_cast<double>(num) / static_cast<double>(den);
    }
    GraphWriter::real(g.node("LeakyRelu"), "alpha", slope);
  } else {
    throw ArgumentError("backprop::save_onnx: layer " + std::to_string(layer) +
                        " has the activation \"" + std::string(name) +
                        "\", which ONNX has no operator for here");
  }
}

}  // namespace detail::onnx_out

/// Writes `net` (a Network or Sequential of the built-in kinds, float or double) to `path` as an
/// ONNX model. Throws ArgumentError, and writes nothing, for a layer ONNX export does not know (a
/// kind or an activation of one's own); FileError when the file cannot be written.
template <class Net>
void save_onnx(const Net& net, const std::filesystem::path& path) {
  using Scalar = typename Net::Scalar;
  using namespace detail::onnx_out;
  const int type = sizeof(Scalar) == 4 ? ::onnx::TensorProto::FLOAT : ::onnx::TensorProto::DOUBLE;
  ::onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("backprop");
  model.set_producer_version(BACKPROP_VERSION_STRING);
  auto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(13);
  auto& graph = *model.mutable_graph();
  graph.set_name("backprop");
  GraphWriter g(graph, type);

  // The input's shape: that of the first layer that states one (an image layer's), when no dense
  // layer comes before it; else (batch, inputs).
  std::vector<std::int64_t> input_dims{static_cast<std::int64_t>(net.widths().front())};
  bool image = false;  // whether the current value is (batch, c, h, w)
  Shape shape{net.widths().front(), 1, 1};
  // Shapes and windows as the kinds' records hold them: u64 words, largest dimension first
  // (a braced list reads them in order).
  auto shape_from = [](io::Reader& r) {
    return Shape{static_cast<Index>(r.u64()), static_cast<Index>(r.u64()),
                 static_cast<Index>(r.u64())};
  };
  auto window_from = [](io::Reader& r) {
    return Window{static_cast<Index>(r.u64()), static_cast<Index>(r.u64())};
  };
  auto config_of = [&](std::size_t i) {
    std::vector<std::uint8_t> bytes;
    net.visit_layer(i, [&](const auto& node) {
      io::Writer w;
      node.write_config(w);
      bytes = std::move(w.bytes());
    });
    return bytes;
  };
  for (std::size_t i = 0; i < net.depth(); ++i) {
    const std::string_view kind = net.layer(i).kind;
    if (kind == "dense") break;
    if (kind == "conv2d" || kind == "max_pool2d" || kind == "avg_pool2d" || kind == "batch_norm" ||
        kind == "pad2d") {
      const auto bytes = config_of(i);
      io::Reader r(bytes, 0, bytes.size(), "layer config");
      if (kind == "conv2d") {
        r.text(256);
        r.u8();
      }
      const Shape first = shape_from(r);
      if (kind != "batch_norm" || first.height * first.width > 1) {
        input_dims = {first.channels, first.height, first.width};
        image = true;
        shape = first;
      }
      break;
    }
  }
  declare(*graph.add_input(), "input", type, input_dims);

  auto to_image = [&](const Shape& s) {
    if (image) return;
    const std::string dims =
        g.tensor("shape", {4}, {-1, double(s.channels), double(s.height), double(s.width)}, true);
    g.node("Reshape", {dims});
    image = true;
  };
  auto to_flat = [&] {
    if (!image) return;
    GraphWriter::integer(g.node("Flatten"), "axis", 1);
    image = false;
  };

  for (std::size_t i = 0; i < net.depth(); ++i) {
    const LayerInfo info = net.layer(i);
    const std::string_view kind = info.kind;
    std::vector<std::vector<double>> tensors;
    net.visit_layer(i, [&](const auto& node) {
      node.for_each_tensor(
          [&](const auto& p, const auto&) { tensors.emplace_back(p.data(), p.data() + p.size()); });
    });
    std::vector<std::uint8_t> state;
    net.visit_layer(i, [&](const auto& node) {
      io::Writer w;
      node.write_state(w);
      state = std::move(w.bytes());
    });
    const auto config = config_of(i);
    io::Reader r(config, 0, config.size(), "layer config");
    io::Reader s(state, 0, state.size(), "layer state");
    auto f64s = [&](io::Reader& from, std::size_t n) {
      std::vector<double> v(n);
      for (auto& x : v)
        x = from.f64();
      return v;
    };
    const auto in = static_cast<std::int64_t>(info.inputs),
               out = static_cast<std::int64_t>(info.outputs);
    if (kind == "dense") {
      const std::string act = r.text(256);
      to_flat();
      // W (in, out) column-major is Gemm's B of (out, in) row-major: transB = 1.
      std::vector<std::string> inputs{g.tensor("weight", {out, in}, tensors[0])};
      if (tensors.size() > 1) inputs.push_back(g.tensor("bias", {out}, tensors[1]));
      GraphWriter::integer(g.node("Gemm", inputs), "transB", 1);
      activation(g, act, i);
      shape = {info.outputs, 1, 1};
    } else if (kind == "conv2d") {
      const std::string act = r.text(256);
      r.u8();  // the bias flag: a bias is there when there are two tensors
      Conv2DSettings c{shape_from(r)};
      c.filters = static_cast<Index>(r.u64());
      c.kernel = window_from(r);
      c.stride = window_from(r);
      c.padding = window_from(r);
      to_image(c.input);
      // W (K, filters) column-major is Conv's weight (filters, c, kh, kw) row-major.
      std::vector<std::string> inputs{g.tensor(
          "weight", {c.filters, c.input.channels, c.kernel.height, c.kernel.width}, tensors[0])};
      if (tensors.size() > 1) inputs.push_back(g.tensor("bias", {c.filters}, tensors[1]));
      auto& n = g.node("Conv", inputs);
      GraphWriter::ints(n, "kernel_shape", {c.kernel.height, c.kernel.width});
      GraphWriter::ints(n, "strides", {c.stride.height, c.stride.width});
      GraphWriter::ints(n, "pads",
                        {c.padding.height, c.padding.width, c.padding.height, c.padding.width});
      activation(g, act, i);
      shape = c.output();
    } else if (kind == "max_pool2d" || kind == "avg_pool2d") {
      Pool2DSettings p{shape_from(r)};
      p.window = window_from(r);
      p.stride = window_from(r);
      to_image(p.input);
      auto& n = g.node(kind == "max_pool2d" ? "MaxPool" : "AveragePool");
      GraphWriter::ints(n, "kernel_shape", {p.window.height, p.window.width});
      GraphWriter::ints(n, "strides", {p.stride.height, p.stride.width});
      shape = p.output();
    } else if (kind == "pad2d") {
      Pad2DSettings p{shape_from(r)};
      p.top = static_cast<Index>(r.u64());
      p.left = static_cast<Index>(r.u64());
      p.bottom = static_cast<Index>(r.u64());
      p.right = static_cast<Index>(r.u64());
      p.value = r.f64();
      to_image(p.input);
      const std::string pads = g.tensor(
          "pads", {8},
          {0, 0, double(p.top), double(p.left), 0, 0, double(p.bottom), double(p.right)}, true);
      g.node("Pad", {pads, g.tensor("value", {}, {p.value})});
      shape = p.output();
    } else if (kind == "batch_norm") {
      const Shape input = shape_from(r);
      const double momentum = r.f64(), epsilon = r.f64();
      if (input.height * input.width > 1) to_image(input);
      const auto channels = static_cast<std::size_t>(input.channels);
      const auto statistics = f64s(s, 2 * channels);
      const auto half = statistics.begin() + static_cast<std::ptrdiff_t>(channels);
      const std::vector<double> mean(statistics.begin(), half);
      const std::vector<double> variance(half, statistics.end());
      const auto c = static_cast<std::int64_t>(channels);
      auto& n = g.node("BatchNormalization",
                       {g.tensor("scale", {c}, tensors[0]), g.tensor("bias", {c}, tensors[1]),
                        g.tensor("mean", {c}, mean), g.tensor("variance", {c}, variance)});
      GraphWriter::real(n, "epsilon", epsilon);
      GraphWriter::real(n, "momentum", 1 - momentum);
    } else if (kind == "rescale") {
      const auto units = static_cast<std::size_t>(info.outputs);
      const auto scale = f64s(s, units), offset = f64s(s, units);
      std::vector<std::int64_t> dims{out};
      if (image) dims = {shape.channels, shape.height, shape.width};
      g.node("Mul", {g.tensor("scale", dims, scale)});
      g.node("Add", {g.tensor("offset", dims, offset)});
    } else if (kind == "dropout") {
      // inference: nothing
    } else {
      throw ArgumentError("backprop::save_onnx: layer " + std::to_string(i) + " is a " +
                          std::string(kind) + ", which ONNX export does not know");
    }
  }
  to_flat();
  if (graph.node_size() == 0) g.node("Identity");
  // The last node's output is the graph's: rename it "output".
  auto& last = *graph.mutable_node(graph.node_size() - 1);
  last.set_output(0, "output");
  declare(*graph.add_output(), "output", type, {static_cast<std::int64_t>(net.widths().back())});

  std::string bytes;
  if (!model.SerializeToString(&bytes) || bytes.size() > static_cast<std::size_t>(INT_MAX))
    throw ArgumentError("backprop::save_onnx: the model does not fit in one ONNX file (2 GB)");
  io::write_file(path, std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

}  // namespace backprop
