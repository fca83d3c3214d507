// Model files: a network's architecture and parameters, checked on the way in.
//
//   save_model(net, "mnist.bpm");                 // Network or Sequential
//   load_model(net, "mnist.bpm");                 // into a network of the same architecture
//   auto net = load_sequential<float>("mnist.bpm");  // rebuilding the architecture from the file
//
// The body of a model file (kind "MODL" in the container of binary.hpp) is, in order:
//
//   u32 layer count, then for each layer:
//     text kind                          "dense" or "dropout"
//     u64 inputs, u64 outputs
//     dense:   text activation, u8 bias  the activation by name ("relu", "leaky_relu(1/5)")
//     dropout: f64 rate, 4 x u64         the rate and the state of its mask generator
//   u32 parameter-matrix count, then each matrix (W, then b, layer by layer):
//     u64 rows, u64 cols, rows x cols values column by column, in the header's scalar type
//   u32 text count, then (text key, text value) pairs       extras: column names, scaler kinds
//   u32 array count, then (text key, matrix of binary64)    extras: scaler offsets and scales
//
// where text is u32 length + UTF-8 bytes. Loading is all or nothing: the whole file is read,
// checked (header, checksum, every layer and shape against the network) and only then copied
// into the network, so on any error the network is unchanged and the FormatError says what was
// wrong: "truncated at byte N", "checksum mismatch", "unknown activation \"x\"", "layer 2 is
// 128->10 in the file but 64->10 in the network". A file of the other scalar type loads with its
// numbers converted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../layer.hpp"
#include "../sequential.hpp"
#include "binary.hpp"
#include "extras.hpp"

namespace backprop {

namespace io {

/// A layer as a file describes it (LayerInfo with owned strings).
struct FileLayer {
  std::string kind, activation;
  Index inputs = 0, outputs = 0;
  bool bias = false;
  double rate = 0;
  std::array<std::uint64_t, 4> random_state{};

  /// The same as a LayerInfo (whose strings point into this).
  LayerInfo info() const {
    LayerInfo i;
    i.kind = kind;
    i.inputs = inputs;
    i.outputs = outputs;
    i.activation = activation;
    i.bias = bias;
    i.rate = rate;
    i.random_state = random_state;
    return i;
  }
};

/// "784->256 relu", "256->256 dropout 0.2"
inline std::string describe(const LayerInfo& l) {
  std::string s = std::to_string(l.inputs) + "->" + std::to_string(l.outputs) + " ";
  if (l.kind == "dense")
    s += std::string(l.activation) + (l.bias ? "" : " without bias");
  else
    s += std::string(l.kind) + " " + detail::number_string(l.rate);
  return s;
}

/// Everything a model file holds, read and checked, in the network's scalar type.
template <class Scalar>
struct ParsedModel {
  std::vector<FileLayer> layers;
  std::vector<Eigen::Matrix<Scalar, Dynamic, Dynamic>> parameters;
  ModelExtras extras;
};

/// The bytes of a model file for net and extras.
template <class Net>
std::vector<std::uint8_t> serialize(Net& net, const ModelExtras& extras) {
  using Scalar = typename Net::Scalar;
  Writer w;
  const std::size_t depth = net.widths().size() - 1;
  w.u32(static_cast<std::uint32_t>(depth));
  for (std::size_t i = 0; i < depth; ++i) {
    const LayerInfo l = net.layer(i);
    w.text(l.kind);
    w.u64(static_cast<std::uint64_t>(l.inputs));
    w.u64(static_cast<std::uint64_t>(l.outputs));
    if (l.kind == "dense") {
      w.text(l.activation);
      w.u8(l.bias ? 1 : 0);
    } else {
      w.f64(l.rate);
      for (std::uint64_t word : l.random_state)
        w.u64(word);
    }
  }
  std::uint32_t matrices = 0;
  net.for_each_parameter([&](std::size_t, const auto&, const auto&) { ++matrices; });
  w.u32(matrices);
  net.for_each_parameter([&](std::size_t, const auto& p, const auto&) { w.matrix<Scalar>(p); });
  w.u32(static_cast<std::uint32_t>(extras.texts.size()));
  for (const auto& [key, value] : extras.texts) {
    w.text(key);
    w.text(value);
  }
  w.u32(static_cast<std::uint32_t>(extras.arrays.size()));
  for (const auto& [key, value] : extras.arrays) {
    w.text(key);
    w.matrix<double>(value);
  }
  return frame<Scalar>("MODL", w);
}

/// Reads and checks a model file's bytes, converting its numbers to Scalar.
template <class Scalar>
ParsedModel<Scalar> parse(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  const Framed framed = unframe(bytes, "MODL", source);
  Reader r(bytes, framed.body_begin, framed.body_end, source);
  ParsedModel<Scalar> model;
  const std::uint32_t depth = r.u32();
  if (depth == 0 || depth > 100000) r.fail("a layer count of " + std::to_string(depth));
  for (std::uint32_t i = 0; i < depth; ++i) {
    FileLayer l;
    l.kind = r.text(64);
    l.inputs = static_cast<Index>(r.u64());
    l.outputs = static_cast<Index>(r.u64());
    const std::string where = "layer " + std::to_string(i);
    if (l.inputs < 1 || l.outputs < 1 || l.inputs > (Index(1) << 32) ||
        l.outputs > (Index(1) << 32))
      r.fail(where + " has impossible sizes " + std::to_string(l.inputs) + "->" +
             std::to_string(l.outputs));
    if (i > 0 && l.inputs != model.layers.back().outputs)
      r.fail(where + " takes " + std::to_string(l.inputs) + " inputs but layer " +
             std::to_string(i - 1) + " has " + std::to_string(model.layers.back().outputs) +
             " outputs");
    if (l.kind == "dense") {
      l.activation = r.text(256);
      const std::uint8_t bias = r.u8();
      if (bias > 1) r.fail(where + ": bias flag " + std::to_string(bias) + " is neither 0 nor 1");
      l.bias = bias == 1;
    } else if (l.kind == "dropout") {
      l.rate = r.f64();
      if (!(l.rate >= 0 && l.rate < 1))
        r.fail(where + ": dropout rate " + detail::number_string(l.rate) + " is not in [0, 1)");
      if (l.inputs != l.outputs) r.fail(where + ": a dropout layer must keep its width");
      for (auto& word : l.random_state)
        word = r.u64();
    } else {
      r.fail(where + ": unknown layer kind \"" + l.kind + "\"");
    }
    model.layers.push_back(std::move(l));
  }
  if (model.layers.back().kind != "dense") r.fail("the last layer is not dense");
  // The parameter matrices: each dense layer's W (in, out), then its b (1, out) if it has one.
  const std::uint32_t matrices = r.u32();
  std::size_t expected = 0;
  for (const FileLayer& l : model.layers)
    if (l.kind == "dense") expected += l.bias ? 2 : 1;
  if (matrices != expected)
    r.fail(std::to_string(matrices) + " parameter matrices, but the layers have " +
           std::to_string(expected));
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const FileLayer& l = model.layers[i];
    if (l.kind != "dense") continue;
    for (int k = 0; k < (l.bias ? 2 : 1); ++k) {
      auto m = r.template matrix<Scalar>(framed.bytes_per_scalar);
      const Index rows = k == 0 ? l.inputs : 1;
      if (m.rows() != rows || m.cols() != l.outputs)
        r.fail("layer " + std::to_string(i) + (k == 0 ? "'s W is " : "'s b is ") +
               detail::shape_string(m.rows(), m.cols()) + ", but the layer is " +
               std::to_string(l.inputs) + "->" + std::to_string(l.outputs));
      model.parameters.push_back(std::move(m));
    }
  }
  const std::uint32_t texts = r.u32();
  for (std::uint32_t i = 0; i < texts; ++i) {
    std::string key = r.text();
    model.extras.texts[key] = r.text(1 << 24);
  }
  const std::uint32_t arrays = r.u32();
  for (std::uint32_t i = 0; i < arrays; ++i) {
    std::string key = r.text();
    model.extras.arrays[key] = r.template matrix<double>(8);
  }
  if (!r.done()) r.fail("unexpected bytes after the last field");
  return model;
}

/// Checks that the parsed model fits `net` exactly, then copies it in; throws before changing
/// anything otherwise.
template <class Net>
void apply(const ParsedModel<typename Net::Scalar>& model, Net& net, const std::string& source) {
  auto fail = [&](const std::string& what) { throw FormatError(source + ": " + what); };
  const std::size_t depth = net.widths().size() - 1;
  if (model.layers.size() != depth)
    fail("the file has " + std::to_string(model.layers.size()) + " layers but the network has " +
         std::to_string(depth));
  for (std::size_t i = 0; i < depth; ++i) {
    const LayerInfo mine = net.layer(i);
    const LayerInfo theirs = model.layers[i].info();
    const bool same = mine.kind == theirs.kind && mine.inputs == theirs.inputs &&
                      mine.outputs == theirs.outputs &&
                      (mine.kind != "dense" ||
                       (mine.activation == theirs.activation && mine.bias == theirs.bias));
    if (!same)
      fail("layer " + std::to_string(i) + " is " + describe(theirs) + " in the file but " +
           describe(mine) + " in the network");
  }
  std::size_t count = 0;
  bool shapes_match = true;
  net.for_each_parameter([&](std::size_t slot, const auto& p, const auto&) {
    ++count;
    if (slot >= model.parameters.size() || model.parameters[slot].rows() != p.rows() ||
        model.parameters[slot].cols() != p.cols())
      shapes_match = false;
  });
  if (count != model.parameters.size() || !shapes_match)
    fail("its parameter matrices do not have the shapes of the network's");

  // Checked: from here on nothing throws.
  net.for_each_parameter(
      [&](std::size_t slot, auto& p, const auto&) { p = model.parameters[slot]; });
  for (std::size_t i = 0; i < depth; ++i)
    if (model.layers[i].kind == "dropout") net.restore_layer(i, model.layers[i].info());
}

}  // namespace io

/// Writes net (and extras) to `path`, replacing it only once the whole file is written.
template <class Net>
void save_model(Net& net, const std::filesystem::path& path, const ModelExtras& extras = {}) {
  io::write_file(path, io::serialize(net, extras));
}

/// Reads `path` into net, whose architecture must be the file's. All or nothing: on any error the
/// network is unchanged. The file's extras go to *extras when given.
template <class Net>
void load_model(Net& net, const std::filesystem::path& path, ModelExtras* extras = nullptr) {
  const auto bytes = io::read_file(path);
  auto model = io::parse<typename Net::Scalar>(bytes, path.string());
  io::apply(model, net, path.string());
  if (extras) *extras = std::move(model.extras);
}

namespace io {

/// A Sequential with the architecture and parameters of a parsed model file.
template <class Scalar>
Sequential<Scalar> build_sequential(const ParsedModel<Scalar>& model, const std::string& source) {
  Sequential<Scalar> net(model.layers.front().inputs);
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const FileLayer& l = model.layers[i];
    if (l.kind == "dropout") {
      net.add_dropout(l.rate);
      continue;
    }
    try {
      net.add_dense(l.outputs, l.activation, l.bias ? Bias::on : Bias::off);
    } catch (const ArgumentError&) {
      throw FormatError(source + ": layer " + std::to_string(i) + " has the unknown activation \"" +
                        l.activation + "\"");
    }
  }
  apply(model, net, source);
  return net;
}

}  // namespace io

/// Builds a Sequential with the architecture and parameters of the file at `path`.
template <std::floating_point Scalar>
Sequential<Scalar> load_sequential(const std::filesystem::path& path,
                                   ModelExtras* extras = nullptr) {
  const auto bytes = io::read_file(path);
  auto model = io::parse<Scalar>(bytes, path.string());
  Sequential<Scalar> net = io::build_sequential(model, path.string());
  if (extras) *extras = std::move(model.extras);
  return net;
}

}  // namespace backprop
