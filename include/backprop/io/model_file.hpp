// Model files: a network's architecture and parameters, checked on the way in.
//
//   save_model(net, "mnist.bpm");                 // Network or Sequential
//   load_model(net, "mnist.bpm");                 // into a network of the same architecture
//   auto net = load_sequential<float>("mnist.bpm");  // rebuilding the architecture from the file
//
// The body of a model file (kind "MODL" in the container of binary.hpp) is, in order:
//
//   u32 layer count, then for each layer:
//     text kind                          the kind's name: "dense", "dropout", "rescale"
//     u64 inputs, u64 outputs
//     the kind's settings (write_config): what a network must share to load the layer
//         dense:   text activation, u8 bias   the activation by name ("relu", "leaky_relu(1/5)")
//         dropout, rescale: nothing
//     the kind's state (write_state): what loading restores besides the matrices
//         dense:   nothing
//         dropout: f64 rate, 4 x u64          the rate and the state of its mask generator
//         rescale: units x f64 scale, then units x f64 offset
//   u32 parameter-matrix count, then each matrix (layer by layer, each in its order: W, then b):
//     u64 rows, u64 cols, rows x cols values column by column, in the header's scalar type
//   u32 text count, then (text key, text value) pairs       extras: column names, scaler kinds
//   u32 array count, then (text key, matrix of binary64)    extras: scaler offsets and scales
//
// where text is u32 length + UTF-8 bytes. Every kind reads and writes its own record, found by
// name in a list of kinds (BuiltinLayers), so a new kind needs nothing here. Loading is all or
// nothing: the whole file is read, checked (header, checksum, every layer and shape against the
// network) and only then copied into the network, so on any error the network is unchanged and
// the FormatError says what was wrong: "truncated at byte N", "checksum mismatch", "unknown
// activation \"x\"", "layer 2 is 128->10 relu in the file but 64->10 relu in the network". A file
// of the other scalar type loads with its numbers converted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../any_activation.hpp"
#include "../config.hpp"
#include "../layers/builtin.hpp"
#include "../layers/protocol.hpp"
#include "../sequential.hpp"
#include "binary.hpp"
#include "extras.hpp"

namespace backprop {

namespace detail {

template <class... Lists>
struct concat_lists;
template <class List>
struct concat_lists<List> {
  using type = List;
};
template <template <class...> class List, class... A, class... B, class... Rest>
struct concat_lists<List<A...>, List<B...>, Rest...> : concat_lists<List<A..., B...>, Rest...> {};

/// The kinds of a network's type (a Network's own layers; none for a Sequential, whose kinds are
/// known only at run time), and the activations among them.
template <class Net>
struct own_kinds {
  using type = LayerList<>;
};
template <class Net>
requires requires {
  typename Net::Kinds;
}
struct own_kinds<Net> {
  using type = typename Net::Kinds;
};
template <class Kind, class A = typename activation_of<Kind>::type>
struct own_activation {
  using type = ActivationList<A>;
};
template <class Kind>
struct own_activation<Kind, void> {
  using type = ActivationList<>;
};
template <class Kind>
struct own_activation<Kind, AnyActivation> {
  using type = ActivationList<>;
};
/// The kinds of Own that no kind of Layers names: what a Network adds to the kinds its files may
/// name. A Network of built-in kinds adds none, so it loads through the same reader as a
/// Sequential (compiled once, in the compiled mode).
template <class Layers, class Own>
struct new_kinds;
template <class... Layers>
struct new_kinds<LayerList<Layers...>, LayerList<>> {
  using type = LayerList<Layers...>;
};
template <class... Layers, class Kind, class... Rest>
struct new_kinds<LayerList<Layers...>, LayerList<Kind, Rest...>>
    : new_kinds<std::conditional_t<((Layers::name == Kind::name) || ...), LayerList<Layers...>,
                                   LayerList<Layers..., Kind>>,
                LayerList<Rest...>> {};

template <class Kinds>
struct own_activations;
template <class... Kinds>
struct own_activations<LayerList<Kinds...>>
    : concat_lists<ActivationList<>, typename own_activation<Kinds>::type...> {};

}  // namespace detail

namespace io {

/// Everything a model file holds, read and checked: the network it describes (architecture,
/// parameters and state) in the reader's scalar type, and the extras.
template <class Scalar>
struct ParsedModel {
  Sequential<Scalar> network;
  ModelExtras extras;
};

/// The bytes of a model file for net and extras.
template <class Net>
std::vector<std::uint8_t> serialize(const Net& net, const ModelExtras& extras) {
  using Scalar = typename Net::Scalar;
  Writer w;
  const std::size_t depth = net.widths().size() - 1;
  w.u32(static_cast<std::uint32_t>(depth));
  for (std::size_t i = 0; i < depth; ++i)
    net.visit_layer(i, [&](const auto& node) {
      const LayerInfo info = node.info();
      w.text(info.kind);
      w.u64(static_cast<std::uint64_t>(info.inputs));
      w.u64(static_cast<std::uint64_t>(info.outputs));
      node.write_config(w);
      node.write_state(w);
    });
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

namespace detail {

/// What a kind's read() builds the next layer through: it adds the layer of kind L and settings
/// to the network being read, once its parameters are known to fit in the bytes that remain.
/// `activations` are the names the file may use.
template <class Scalar>
struct LayerMaker {
  Sequential<Scalar>& net;
  Reader& r;
  Index in, out;
  int bytes_per_scalar;
  double& parameters;  // declared so far, in double: no overflow whatever a file claims
  ActivationNames activations;

  template <class L>
  void operator()(
      const typename backprop::detail::LayerModel<L, Scalar>::Settings& settings = {}) const {
    parameters += static_cast<double>(LayerNode<L, Scalar>::parameter_count(in, out, settings));
    if (parameters * bytes_per_scalar > static_cast<double>(r.remaining()))
      r.fail("its parameters cannot fit in the " + std::to_string(r.remaining()) + " bytes left");
    try {
      net.template add<L>(out, settings);
    } catch (const std::invalid_argument& e) {
      r.fail(e.what());
    }
  }
};

/// parse, given the activations by name: the same code whatever activations a list holds.
template <class Scalar, class Layers>
ParsedModel<Scalar> parse_model(const std::vector<std::uint8_t>& bytes, const std::string& source,
                                const ActivationNames& activations) {
  const Framed framed = unframe(bytes, "MODL", source);
  Reader r(bytes, framed.body_begin, framed.body_end, source);
  // A layer takes at least 20 bytes (its kind's name and its widths).
  const std::uint32_t depth = r.count(20, "layers");
  if (depth == 0) r.fail("a model file needs at least one layer");

  // Each layer: its kind by name, its widths, then the kind reads its own settings and state.
  std::optional<Sequential<Scalar>> net;
  double parameters = 0;
  for (std::uint32_t i = 0; i < depth; ++i) {
    r.set_context("layer " + std::to_string(i));
    const std::string kind = r.text(64);
    const std::uint64_t in = r.u64(), out = r.u64();
    if (in < 1 || out < 1 || in > (std::uint64_t(1) << 31) || out > (std::uint64_t(1) << 31))
      r.fail("impossible widths " + std::to_string(in) + "->" + std::to_string(out));
    if (!net) net.emplace(static_cast<Index>(in));
    if (static_cast<Index>(in) != net->widths().back())
      r.fail("it takes " + std::to_string(in) + " inputs but layer " + std::to_string(i - 1) +
             " has " + std::to_string(net->widths().back()) + " outputs");
    const LayerMaker<Scalar> make{*net,
                                  r,
                                  static_cast<Index>(in),
                                  static_cast<Index>(out),
                                  framed.bytes_per_scalar,
                                  parameters,
                                  activations};
    const bool known = with_layer_kind(
        Layers{}, kind, [&]<class Kind>() { read_layer<Kind>(r, make.in, make.out, make); });
    if (!known) r.fail("unknown layer kind \"" + kind + "\"");
    net->visit_layer(i, [&](auto& node) { node.read_state(r); });
  }
  r.set_context("");
  bool has_activation = false;
  net->visit_layer(depth - 1,
                   [&](const auto& node) { has_activation = !node.activation_name().empty(); });
  if (!has_activation)
    r.fail("the last layer is a " + std::string(net->layer(depth - 1).kind) +
           ", which has no activation");

  // The parameter matrices, each of the shape its layer gives it.
  const std::uint32_t matrices = r.u32();
  if (matrices != net->parameter_matrices())
    r.fail(std::to_string(matrices) + " parameter matrices, but the layers have " +
           std::to_string(net->parameter_matrices()));
  for (std::uint32_t i = 0; i < depth; ++i)
    net->visit_layer(i, [&](auto& node) {
      int k = 0;
      node.for_each_tensor([&](auto& p, const auto&) {
        auto m = r.template matrix<Scalar>(framed.bytes_per_scalar);
        if (m.rows() != p.rows() || m.cols() != p.cols())
          r.fail("parameter matrix " + std::to_string(k) + " of layer " + std::to_string(i) + " (" +
                 net->layer(i).description() + ") is " +
                 backprop::detail::shape_string(m.rows(), m.cols()) + ", where the layer needs " +
                 backprop::detail::shape_string(p.rows(), p.cols()));
        p = m;
        ++k;
      });
    });

  ModelExtras extras;
  const std::uint32_t texts = r.count(8, "texts");
  for (std::uint32_t i = 0; i < texts; ++i) {
    std::string key = r.text();
    extras.texts[key] = r.text(1 << 24);
  }
  const std::uint32_t arrays = r.count(20, "arrays");
  for (std::uint32_t i = 0; i < arrays; ++i) {
    std::string key = r.text();
    extras.arrays[key] = r.template matrix<double>(8);
  }
  if (!r.done()) r.fail("unexpected bytes after the last field");
  return {std::move(*net), std::move(extras)};
}

}  // namespace detail

/// Reads and checks a model file's bytes, converting its numbers to Scalar. The layer kinds and
/// activations it can name are those of Layers and Activations.
template <class Scalar, class Activations = BuiltinActivations, class Layers = BuiltinLayers>
ParsedModel<Scalar> parse(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  return detail::parse_model<Scalar, Layers>(bytes, source, ActivationNames::of(Activations{}));
}

/// Checks that the parsed model fits `net` exactly (kinds, widths, settings, shapes), then copies
/// its parameters and state in; throws before changing anything otherwise.
template <class Net>
void apply(const ParsedModel<typename Net::Scalar>& model, Net& net, const std::string& source) {
  auto fail = [&](const std::string& what) { throw FormatError(source + ": " + what); };
  const auto& file = model.network;
  const std::size_t depth = net.widths().size() - 1;
  if (file.depth() != depth)
    fail("the file has " + std::to_string(file.depth()) + " layers but the network has " +
         std::to_string(depth));
  // The same layer: kind, widths and the bytes of its settings.
  auto config = [](const auto& network, std::size_t i) {
    Writer w;
    network.visit_layer(i, [&](const auto& node) {
      w.text(node.info().kind);
      node.write_config(w);
    });
    return w.bytes();
  };
  for (std::size_t i = 0; i < depth; ++i) {
    const LayerInfo mine = net.layer(i), theirs = file.layer(i);
    if (mine.inputs != theirs.inputs || mine.outputs != theirs.outputs ||
        config(std::as_const(net), i) != config(file, i))
      fail("layer " + std::to_string(i) + " is " + theirs.description() + " in the file but " +
           mine.description() + " in the network");
  }
  auto shapes = [](const auto& network) {
    std::vector<std::pair<Index, Index>> all;
    network.for_each_parameter(
        [&](std::size_t, const auto& p, const auto&) { all.emplace_back(p.rows(), p.cols()); });
    return all;
  };
  if (shapes(file) != shapes(std::as_const(net)))
    fail("its parameter matrices do not have the shapes of the network's");

  // Checked: from here on nothing throws. The state goes through the bytes it was read from.
  std::vector<Eigen::Matrix<typename Net::Scalar, Dynamic, Dynamic>> values;
  file.for_each_parameter([&](std::size_t, const auto& p, const auto&) { values.push_back(p); });
  net.for_each_parameter([&](std::size_t slot, auto& p, const auto&) { p = values[slot]; });
  for (std::size_t i = 0; i < depth; ++i) {
    Writer state;
    file.visit_layer(i, [&](const auto& node) { node.write_state(state); });
    Reader r(state.bytes(), 0, state.bytes().size(), source);
    net.visit_layer(i, [&](auto& node) { node.read_state(r); });
  }
}

}  // namespace io

/// Writes net (and extras) to `path`, replacing it only once the whole file is written.
template <class Net>
void save_model(const Net& net, const std::filesystem::path& path, const ModelExtras& extras = {}) {
  io::write_file(path, io::serialize(net, extras));
}

/// Reads `path` into net, whose architecture must be the file's. All or nothing: on any error the
/// network is unchanged. The file's extras go to *extras when given. A Network loads whatever
/// kinds and activations it holds; a Sequential of kinds of your own needs them in the lists.
template <class Activations = BuiltinActivations, class Layers = BuiltinLayers, class Net>
void load_model(Net& net, const std::filesystem::path& path, ModelExtras* extras = nullptr) {
  using Own = typename detail::own_kinds<Net>::type;
  using AllLayers = typename detail::new_kinds<Layers, Own>::type;
  using AllActivations =
      typename detail::concat_lists<Activations, typename detail::own_activations<Own>::type>::type;
  const auto bytes = io::read_file(path);
  auto model = io::parse<typename Net::Scalar, AllActivations, AllLayers>(bytes, path.string());
  io::apply(model, net, path.string());
  if (extras) *extras = std::move(model.extras);
}

/// Builds a Sequential with the architecture, parameters and state of the file at `path`. The
/// kinds and activations it can build are those of Layers and Activations: an activation of
/// your own loads when it is in the list, load_sequential<float, ActivationList<Mine, ...>>(path).
template <std::floating_point Scalar, class Activations = BuiltinActivations,
          class Layers = BuiltinLayers>
Sequential<Scalar> load_sequential(const std::filesystem::path& path,
                                   ModelExtras* extras = nullptr) {
  const auto bytes = io::read_file(path);
  auto model = io::parse<Scalar, Activations, Layers>(bytes, path.string());
  if (extras) *extras = std::move(model.extras);
  return std::move(model.network);
}

}  // namespace backprop
