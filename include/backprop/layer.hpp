// The layer protocol: what a layer kind declares, and LayerNode, through which a network drives it.
//
// A layer kind (Dense, Dropout, ...: one header each under layers/) describes a layer and holds
// no numbers. It declares:
//
//   name                             "dense": model files and messages name the kind by it
//   inputs, outputs                  compile-time widths, or Dynamic
//   activation                       the activation policy at its output, or void (Dropout)
//   tensor_count                     how many trainable matrices it has
//   Parameters<Scalar>(in, out, s...)   its numbers: the trainable matrices (a second instance
//                                    holds their gradients), and any setting or state (Dropout's
//                                    rate, Conv2D's geometry), from the widths and settings s...
//   Workspace<Scalar, Batch>         what forward leaves for backward; derives LayerWorkspace
//
// and these static functions, forward beside backward:
//
//   forward(p, X, ws)                inference: ws.A = the layer's output for X (batch, in)
//   training_forward(p, X, ws)       optional: the same while training. It leaves p as it is and
//   commit(p, ws)                    keeps any change of state in ws for commit to apply, once
//                                    the step is known to succeed (Dropout's generator)
//   backward_activation(ws)          ws.Z: dL/dA -> dL/dZ
//   backward(X, ws, g)               g = dL/dParameters from ws.Z = dL/dZ
//   backward(p, X, ws, g, dX)        and dX = dL/dX, which is dL/dA of the layer below
//   for_each_tensor(p, g, f)         f(parameter, gradient) for each trainable matrix, in order
//   initialize(p, init)              fresh parameters from a WeightInitializer
//   parameter_count(in, out, s...)   trainable scalars, from the widths and settings (model files
//                                    check a file holds them before allocating)
//   describe(p)                      what defines it besides its widths: "relu", "dropout 0.5"
//   write_config(w, p)               model files: the settings a network must share to load it
//   write_state(w, p), read_state(r, p)   the rest of what a file restores (Dropout's rate)
//   read(r, in, out, make)           model files: reads write_config's bytes and calls
//                                    make.template operator()<L'>() with the exact kind L' they
//                                    describe (a Dense of the activation the file names)
//
// A network never calls these directly: it holds each layer as a LayerNode (below) and the
// engine calls the node, which fills in what a kind leaves out. A new kind is one header and one
// entry in BuiltinLayers (layers.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "config.hpp"
#include "init.hpp"

namespace backprop {

/// What a layer is, as printouts and model files describe it.
struct LayerInfo {
  std::string_view kind{};  ///< the kind's name: "dense", "dropout"
  Index inputs = 0;         ///< values per sample in
  Index outputs = 0;        ///< values per sample out
  Index parameters = 0;     ///< trainable scalars
  std::string settings{};   ///< what else defines it: "relu", "sigmoid without bias", "dropout 0.5"
  /// Whether its training output for a sample depends on the rest of the batch (BatchNorm's
  /// statistics) or on the sample's place in it (Dropout's masks): a kind declares
  /// `static constexpr bool batch_dependent = true`.
  bool batch_dependent = false;

  /// "784->256 relu": how messages name a layer.
  std::string description() const {
    return std::to_string(inputs) + "->" + std::to_string(outputs) + " " + settings;
  }
};

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

/// No dL/dX wanted: the first layer's input is data (PyTorch skips that gradient too).
struct NoInputGradient {};

}  // namespace detail

/// A list of layer kinds, each named by its `name` (any instantiation of the kind will do):
/// model files find a kind in one by name (layers.hpp has the built-in list).
template <class... Kinds>
struct LayerList {};

/// Calls `f.template operator()<K>()` for the kind K of the list whose name is `name`; false when
/// none is.
template <class... Kinds, class F>
bool with_layer_kind(LayerList<Kinds...>, std::string_view name, F&& f) {
  return ((Kinds::name == name && (f.template operator()<Kinds>(), true)) || ...);
}

/// The workspace of a layer with Out outputs, for a batch of Batch rows (Dynamic: any).
template <class Scalar, int Batch, int Out>
struct LayerWorkspace {
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

/// One layer of a network: its kind L, its widths, its parameters and their gradients. The
/// compile-time store holds its layers as nodes, the run-time store holds nodes behind AnyLayer;
/// the engine drives both through these members, so it is written once.
template <class L, class Scalar>
class LayerNode {
 public:
  /// The layer's kind.
  using Kind = L;
  /// Its parameters, and (a second instance) their gradients.
  using Parameters = typename L::template Parameters<Scalar>;
  /// Its workspace for a batch of Batch rows.
  template <int Batch>
  using Workspace = typename L::template Workspace<Scalar, Batch>;

  /// Zero parameters of in inputs and out outputs, and any settings the kind takes after them
  /// (Dropout: rate and seed).
  template <class... Settings>
  LayerNode(Index in, Index out, const Settings&... settings)
      : inputs_(in),
        outputs_(out),
        parameters_(in, out, settings...),
        gradients_(in, out, settings...) {}

  static constexpr std::size_t tensor_count() { return L::tensor_count; }
  Index inputs() const { return inputs_; }    ///< values per sample in
  Index outputs() const { return outputs_; }  ///< values per sample out
  Parameters& parameters() { return parameters_; }
  const Parameters& parameters() const { return parameters_; }
  const Parameters& gradients() const { return gradients_; }

  /// Kind, widths, parameter count and settings.
  LayerInfo info() const {
    Index count = 0;
    L::for_each_tensor(parameters_, gradients_,
                       [&](const auto& p, const auto&) { count += p.size(); });
    bool batch_dependent = false;
    if constexpr (requires { L::batch_dependent; }) batch_dependent = L::batch_dependent;
    return {L::name, inputs_, outputs_, count, L::describe(parameters_), batch_dependent};
  }
  /// The name of the activation at its output; empty for none (Dropout).
  static constexpr std::string_view activation() {
    if constexpr (std::is_void_v<typename L::activation>)
      return {};
    else
      return L::activation::name;
  }

  /// Fresh parameters from a WeightInitializer.
  template <class Init>
  void initialize(Init& init) {
    L::initialize(parameters_, init);
  }
  /// The parameters a network starts from as its layer_index-th layer (init.hpp's
  /// default_initialize).
  void initialize_default(std::uint32_t layer_index) {
    default_initialize<typename L::activation>(layer_index, [&](auto& init) { initialize(init); });
  }

  /// X: (batch, in)  ->  ws.A: (batch, out); reads only the parameters.
  template <class X, class W>
  void forward(const X& x, W& ws) const {
    L::forward(parameters_, x, ws);
  }
  /// The same while training; any change of state waits in ws for commit().
  template <class X, class W>
  void training_forward(const X& x, W& ws) const {
    if constexpr (requires { L::training_forward(parameters_, x, ws); })
      L::training_forward(parameters_, x, ws);
    else
      L::forward(parameters_, x, ws);
  }
  /// Applies what training_forward kept in ws (Dropout: the generator's new state).
  template <class W>
  void commit(W& ws) {
    if constexpr (requires { L::commit(parameters_, ws); }) L::commit(parameters_, ws);
  }

  /// ws.Z: dL/dA -> dL/dZ
  template <class W>
  void backward_activation(W& ws) const {
    L::backward_activation(ws);
  }
  /// X: (batch, in), ws.Z = dL/dZ  ->  the gradients, and dX = dL/dX unless dX is NoInputGradient;
  /// then on_gradient(parameter, gradient) for each trainable matrix (the optimizer's update).
  /// Where the parameters are small and fixed, the gradients go to the stack first and are kept
  /// after the update: the update then reads registers, not stores it just made (which would stall
  /// on store-to-load forwarding, 12% of the tutorial's step).
  template <class X, class W, class DX, class OnGradient>
  void backward(const X& x, const W& ws, DX& dx, OnGradient&& on_gradient) {
    auto into = [&](Parameters& g) {
      if constexpr (std::is_same_v<DX, detail::NoInputGradient>)
        L::backward(x, ws, g);
      else
        L::backward(parameters_, x, ws, g, dx);
      L::for_each_tensor(parameters_, g, on_gradient);
    };
    if constexpr (requires { requires L::fixed_size; }) {
      Parameters g = gradients_;
      into(g);
      gradients_ = g;
    } else {
      into(gradients_);
    }
  }

  /// f(parameter, gradient) for each trainable matrix, in order.
  template <class F>
  void for_each_tensor(F&& f) {
    L::for_each_tensor(parameters_, gradients_, f);
  }
  /// f(parameter, gradient), read-only.
  template <class F>
  void for_each_tensor(F&& f) const {
    L::for_each_tensor(parameters_, gradients_, f);
  }

  /// Model files: the settings a network must share to load the layer, then its other state.
  template <class Writer>
  void write_config(Writer& w) const {
    L::write_config(w, parameters_);
  }
  template <class Writer>
  void write_state(Writer& w) const {
    L::write_state(w, parameters_);
  }
  /// All or nothing: a FormatError leaves the layer as it was.
  template <class Reader>
  void read_state(Reader& r) {
    L::read_state(r, parameters_);
  }

 private:
  Index inputs_, outputs_;
  Parameters parameters_, gradients_;
};

}  // namespace backprop
