// The layer protocol: what a layer kind declares, and LayerNode, which holds one layer of a kind
// and fills in whatever the kind leaves out.
//
// A kind (Dense, Conv2D, Dropout, ...: one header each in this folder) describes layers and holds
// no numbers. It must declare its name and its math:
//
//   name                            "dense": model files and messages name the kind by it
//   forward(layer, X, ws)           inference: ws.A = the output for X (batch, in)
//   backward(layer, X, ws, g, dX)   from ws.Z = dL/dZ: g = dL/dTensors, and dX = dL/dX unless dX
//                                   is a NoInputGradient (wants_input_gradient says which)
//
// and declares what it has; each of these has a default (in brackets):
//
//   inputs, outputs                 compile-time widths, or Dynamic [Dynamic]
//   Settings                        what defines a layer besides its widths, fixed once it is made
//                                   (an activation, a geometry, a rate) [none]
//   Tensors<Scalar>, tensors(t)     its trainable matrices, and std::tie of them in order; a layer
//                                   holds two, its parameters and their gradients [none]
//   State<Scalar>                   what else it keeps: running statistics, a generator [none]
//   Workspace<Scalar, Batch>        what forward leaves for backward [LayerWorkspace]
//   activation                      the type of the activation at its output, in Settings'
//                                   `activation` where it has one there [none]
//   check(in, out, settings)        throws unless the widths fit the settings [in == out]
//   parameter_count(in, out, s)     its trainable scalars, before any is allocated [0]
//   initialize(layer, init)         fresh tensors from a WeightInitializer [nothing]
//   training_forward(layer, X, ws)  forward while training [forward]; any change of state waits
//   commit(layer, ws)               in ws for commit, once the step is known to succeed [nothing]
//   backward_activation(layer, ws)  ws.Z: dL/dA -> dL/dZ [through the activation, if any]
//   describe(layer)                 what defines it besides its widths: "relu" [its name]
//   write_config(w, layer)          model files: what a network must share to load it [nothing]
//   write_state(w, layer), read_state(r, layer)   what a file restores [nothing]
//   read(r, in, out, make)          reads write_config's bytes and calls make.template
//                                   operator()<K>(settings) with the kind K to build [make<Kind>()]
//   batch_dependent                 true where training a sample depends on the rest of its batch
//
// Tensors and State are made from (in, out, settings), or (in, out). `layer` is the LayerNode:
// layer.settings(), parameters(), state(), activation(), inputs(), outputs(). A network never
// calls a kind directly: the engine calls the node. A new kind is one header and one entry in
// BuiltinLayers (layers/builtin.hpp); tests/layer_kind_test.cpp has one of ten lines.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "../any_activation.hpp"
#include "../config.hpp"
#include "../init.hpp"
#include "../shape.hpp"

namespace backprop {

/// What a layer is, as printouts and model files describe it.
struct LayerInfo {
  std::string_view kind{};  ///< the kind's name: "dense", "dropout"
  Index inputs = 0;         ///< values per sample in
  Index outputs = 0;        ///< values per sample out
  Index parameters = 0;     ///< trainable scalars
  std::string settings{};   ///< what else defines it: "relu", "sigmoid without bias", "dropout 0.5"
  /// Whether its training output for a sample depends on the rest of the batch (BatchNorm's
  /// statistics) or on the sample's place in it (Dropout's masks).
  bool batch_dependent = false;

  /// "784->256 relu": how messages name a layer.
  std::string description() const {
    return std::to_string(inputs) + "->" + std::to_string(outputs) + " " + settings;
  }
};

/// What a kind's backward is given for dX when no dL/dX is wanted: the first layer's input is
/// data (PyTorch skips that gradient too).
struct NoInputGradient {};

/// Whether a backward that was given dx of type DX is to compute dL/dX.
template <class DX>
inline constexpr bool wants_input_gradient =
    !std::is_same_v<std::remove_cvref_t<DX>, NoInputGradient>;

/// A list of layer kinds, each named by its `name`: model files find a kind in one by name.
template <class... Kinds>
struct LayerList {};

/// Calls `f.template operator()<K>()` for the kind K of the list whose name is `name`; false when
/// none is.
template <class... Kinds, class F>
bool with_layer_kind(LayerList<Kinds...>, std::string_view name, F&& f) {
  return ((Kinds::name == name && (f.template operator()<Kinds>(), true)) || ...);
}

namespace detail {

/// Fixed-size Eigen storage pays off only for small matrices: it is unrolled and kept inline, while
/// large fixed sizes bloat code and overflow Eigen's 128 KB limit for fixed objects. Sizes above
/// this many coefficients are stored dynamically (a dimension of 1 stays fixed, so vectors stay
/// vectors); the compile-time sizes are still checked by the network.
inline constexpr int max_fixed_coefficients = 64;

template <int Rows, int Cols>
inline constexpr bool stored_fixed = (Rows != Dynamic) && (Cols != Dynamic) &&
                                     (Rows * Cols <= max_fixed_coefficients);

template <class Scalar, int Rows, int Cols>
using MatrixFor =
    std::conditional_t<stored_fixed<Rows, Cols>, Eigen::Matrix<Scalar, Rows, Cols>,
                       Eigen::Matrix<Scalar, Rows == 1 ? 1 : Dynamic, Cols == 1 ? 1 : Dynamic>>;

/// What a kind has where it declares none: no settings, no tensors, no state.
struct None {
  None() = default;
  None(Index, Index) {}
  friend constexpr bool operator==(None, None) = default;
};

}  // namespace detail

/// The workspace of a layer with Out outputs, for a batch of Batch rows (Dynamic: any).
template <class Scalar_, int Batch, int Out>
struct LayerWorkspace {
  using Scalar = Scalar_;
  // Z holds the pre-activations after forward. Backward never reads them (every activation takes
  // its derivative from A), so once the loss is taken Z's storage carries the gradient: dL/dA
  // from the layer above, then dL/dZ in place.
  detail::MatrixFor<Scalar, Batch, Out> Z;  ///< (batch, out)
  detail::MatrixFor<Scalar, Batch, Out> A;  ///< (batch, out): the next layer's input

  static constexpr bool fixed = detail::stored_fixed<Batch, Out>;

  /// No-op, and no allocation, when the sizes are unchanged.
  void resize(Index batch, Index out) {
    Z.resize(batch, out);
    A.resize(batch, out);
  }
};

namespace detail {

/// A kind's compile-time widths: its inputs and outputs, or Dynamic.
template <class L>
inline constexpr int inputs_of = [] {
  if constexpr (requires { L::inputs; })
    return int{L::inputs};
  else
    return Dynamic;
}();
template <class L>
inline constexpr int outputs_of = [] {
  if constexpr (requires { L::outputs; })
    return int{L::outputs};
  else
    return Dynamic;
}();

template <class L>
struct settings_of {
  using type = None;
};
template <class L>
requires requires {
  typename L::Settings;
}
struct settings_of<L> {
  using type = typename L::Settings;
};

template <class L, class Scalar>
struct tensors_of {
  using type = None;
};
template <class L, class Scalar>
requires requires {
  typename L::template Tensors<Scalar>;
}
struct tensors_of<L, Scalar> {
  using type = typename L::template Tensors<Scalar>;
};

template <class L, class Scalar>
struct state_of {
  using type = None;
};
template <class L, class Scalar>
requires requires {
  typename L::template State<Scalar>;
}
struct state_of<L, Scalar> {
  using type = typename L::template State<Scalar>;
};

template <class L, class Scalar, int Batch>
struct workspace_of {
  using type = LayerWorkspace<Scalar, Batch, outputs_of<L>>;
};
template <class L, class Scalar, int Batch>
requires requires {
  typename L::template Workspace<Scalar, Batch>;
}
struct workspace_of<L, Scalar, Batch> {
  using type = typename L::template Workspace<Scalar, Batch>;
};

template <class L>
struct activation_of {
  using type = void;
};
template <class L>
requires requires {
  typename L::activation;
}
struct activation_of<L> {
  using type = typename L::activation;
};

}  // namespace detail

/// Kind with its settings fixed at compile time, as Constant::value: what an image layer of a
/// compile-time Network becomes (Conv, MaxPool, BatchNorm), so that the compiler knows its
/// shapes. Files and messages see Kind.
template <class Kind, class Constant>
struct Fixed : Kind {
  static constexpr typename Kind::Settings settings = Constant::value;
  static constexpr Shape input_shape = Kind::input_shape(settings);
  static constexpr Shape output_shape = Kind::output_shape(settings);
  static constexpr int inputs = static_cast<int>(input_shape.size());
  static constexpr int outputs = static_cast<int>(output_shape.size());
};

/// Model files: reads the record of a layer of kind L (its write_config's bytes) and makes the
/// layer it describes through make, as L's read() does, or as make<L>() for a kind without one.
template <class L, class Reader, class Make>
void read_layer(Reader& r, Index in, Index out, Make& make) {
  if constexpr (requires { L::read(r, in, out, make); })
    L::read(r, in, out, make);
  else
    make.template operator()<L>();
}

namespace detail {
/// A structural value as a type, for Fixed: Value<Conv2D<>::Settings{...}>.
template <auto V>
struct Value {
  static constexpr auto value = V;
};
}  // namespace detail

/// One layer of a network: its kind L, its widths, its settings, its parameters and their
/// gradients, and its state. The compile-time store holds its layers as nodes, the run-time store
/// holds nodes behind AnyLayer; the engine drives both through these members.
template <class L, class Scalar>
class LayerNode {
 public:
  using Kind = L;
  using Settings = typename detail::settings_of<L>::type;
  /// Its trainable matrices: its parameters, and (a second instance) their gradients.
  using Tensors = typename detail::tensors_of<L, Scalar>::type;
  using State = typename detail::state_of<L, Scalar>::type;
  template <int Batch>
  using Workspace = typename detail::workspace_of<L, Scalar, Batch>::type;
  /// The activation at its output (a policy, or AnyActivation), or void.
  using Activation = typename detail::activation_of<L>::type;

  /// A layer of in inputs and out outputs with the given settings (a Fixed kind's, or none, by
  /// default); throws ShapeError or ArgumentError when they do not fit.
  explicit LayerNode(Index in, Index out, const Settings& settings = default_settings())
      : inputs_(in),
        outputs_(out),
        settings_(checked(in, out, settings)),
        parameters_(made<Tensors>()),
        gradients_(made<Tensors>()),
        state_(made<State>()) {}

  Index inputs() const { return inputs_; }    ///< values per sample in
  Index outputs() const { return outputs_; }  ///< values per sample out
  const Settings& settings() const { return settings_; }
  /// The settings, for read_state (Dropout's rate is restored from files).
  Settings& settings() { return settings_; }
  Tensors& parameters() { return parameters_; }
  const Tensors& parameters() const { return parameters_; }
  const Tensors& gradients() const { return gradients_; }
  State& state() { return state_; }
  const State& state() const { return state_; }

  /// The activation at its output: the policy, or the one its settings hold.
  decltype(auto) activation() const {
    if constexpr (requires { settings_.activation; })
      return (settings_.activation);
    else if constexpr (!std::is_void_v<Activation>)
      return Activation{};
  }
  /// Its name; empty for none (Dropout).
  std::string_view activation_name() const {
    if constexpr (std::is_void_v<Activation>)
      return {};
    else
      return detail::name_of(activation());
  }

  /// The number of its trainable matrices.
  static constexpr std::size_t tensor_count() {
    return std::tuple_size_v<decltype(tensors(std::declval<Tensors&>()))>;
  }
  /// Its trainable scalars for these widths and settings, computed without allocating.
  static Index parameter_count(Index in, Index out, const Settings& settings) {
    if constexpr (requires { L::parameter_count(in, out, settings); })
      return L::parameter_count(in, out, settings);
    else
      return 0;
  }

  /// Kind, widths, parameter count and settings.
  LayerInfo info() const {
    Index count = 0;
    for_each_tensor([&](const auto& p, const auto&) { count += p.size(); });
    std::string settings(L::name);
    if constexpr (requires { L::describe(*this); }) settings = L::describe(*this);
    bool batch_dependent = false;
    if constexpr (requires { L::batch_dependent; }) batch_dependent = L::batch_dependent;
    return {L::name, inputs_, outputs_, count, std::move(settings), batch_dependent};
  }

  /// Fresh parameters from a WeightInitializer.
  template <class Init>
  void initialize(Init& init) {
    if constexpr (requires { L::initialize(*this, init); }) L::initialize(*this, init);
  }
  /// The parameters a network starts from as its layer_index-th layer (init.hpp's
  /// default_initialize).
  void initialize_default(std::uint32_t layer_index) {
    bool rectified = false;
    if constexpr (!std::is_void_v<Activation>) rectified = detail::is_rectified(activation());
    default_initialize(rectified, layer_index, [&](auto& init) { initialize(init); });
  }

  /// X: (batch, in)  ->  ws.A: (batch, out); reads only the parameters.
  template <class X, class W>
  void forward(const X& x, W& ws) const {
    L::forward(*this, x, ws);
  }
  /// The same while training; any change of state waits in ws for commit().
  template <class X, class W>
  void training_forward(const X& x, W& ws) const {
    if constexpr (requires { L::training_forward(*this, x, ws); })
      L::training_forward(*this, x, ws);
    else
      L::forward(*this, x, ws);
  }
  /// Applies what training_forward kept in ws (Dropout: the generator's new state).
  template <class W>
  void commit(W& ws) {
    if constexpr (requires { L::commit(*this, ws); }) L::commit(*this, ws);
  }

  /// ws.Z: dL/dA -> dL/dZ
  template <class W>
  void backward_activation(W& ws) const {
    if constexpr (requires { L::backward_activation(*this, ws); })
      L::backward_activation(*this, ws);
    else if constexpr (!std::is_void_v<Activation>)
      activation().backward(ws.A, ws.Z);
  }
  /// X: (batch, in), ws.Z = dL/dZ  ->  the gradients, and dX = dL/dX unless dX is NoInputGradient;
  /// then on_gradient(parameter, gradient) for each trainable matrix (the optimizer's update).
  /// Where the parameters are small and fixed, the gradients go to the stack first and are kept
  /// after the update: the update then reads registers, not stores it just made (which would stall
  /// on store-to-load forwarding, 12% of the tutorial's step).
  template <class X, class W, class DX, class OnGradient>
  void backward(const X& x, const W& ws, DX& dx, OnGradient&& on_gradient) {
    if constexpr (tensor_count() == 0) {
      if constexpr (wants_input_gradient<DX>) L::backward(*this, x, ws, gradients_, dx);
    } else if constexpr (requires { requires L::fixed_size; }) {
      Tensors g = gradients_;
      L::backward(*this, x, ws, g, dx);
      zip(parameters_, g, on_gradient);
      gradients_ = g;
    } else {
      L::backward(*this, x, ws, gradients_, dx);
      zip(parameters_, gradients_, on_gradient);
    }
  }

  /// f(parameter, gradient) for each trainable matrix, in order.
  template <class F>
  void for_each_tensor(F&& f) {
    zip(parameters_, gradients_, f);
  }
  /// f(parameter, gradient), read-only.
  template <class F>
  void for_each_tensor(F&& f) const {
    zip(parameters_, gradients_, f);
  }

  /// Model files: the settings a network must share to load the layer, then what it restores.
  template <class Writer>
  void write_config(Writer& w) const {
    if constexpr (requires { L::write_config(w, *this); }) L::write_config(w, *this);
  }
  template <class Writer>
  void write_state(Writer& w) const {
    if constexpr (requires { L::write_state(w, *this); }) L::write_state(w, *this);
  }
  /// All or nothing: a FormatError leaves the layer as it was.
  template <class Reader>
  void read_state(Reader& r) {
    if constexpr (requires { L::read_state(r, *this); }) L::read_state(r, *this);
  }

 private:
  // T made from the widths and the settings, where it takes them, else from the widths.
  template <class T>
  T made() const {
    if constexpr (std::is_constructible_v<T, Index, Index, const Settings&>)
      return T(inputs_, outputs_, settings_);
    else
      return T(inputs_, outputs_);
  }
  static Settings default_settings() {
    if constexpr (requires { L::settings; })
      return L::settings;
    else
      return Settings{};
  }
  static const Settings& checked(Index in, Index out, const Settings& settings) {
    if constexpr (requires { L::check(in, out, settings); }) {
      L::check(in, out, settings);
    } else if (in != out) {
      throw ShapeError("backprop::" + std::string(L::name) + ": a layer of " +
                       std::string(L::name) + " keeps its width, but this one is " +
                       std::to_string(in) + "->" + std::to_string(out));
    }
    return settings;
  }

  // The trainable matrices of t, in order: the kind's tensors(t), or none.
  template <class T>
  static auto tensors(T& t) {
    if constexpr (requires { L::tensors(t); })
      return L::tensors(t);
    else
      return std::tuple<>{};
  }
  // f(p, g) for each pair of matrices of parameters p and gradients g.
  template <class P, class G, class F>
  static void zip(P& p, G& g, F& f) {
    auto ps = tensors(p);
    auto gs = tensors(g);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::get<I>(ps), std::as_const(std::get<I>(gs))), ...);
    }
    (std::make_index_sequence<tensor_count()>{});
  }

  Index inputs_, outputs_;
  Settings settings_;
  Tensors parameters_, gradients_;
  State state_;
};

}  // namespace backprop
