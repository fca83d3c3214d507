// Dense<In, Out, Activation, Bias>: one fully connected layer, forward beside backward.
//
//   forward:   Z = X W + 1 b     A = f(Z)            X: (batch, in)  W: (in, out)  b: (1, out)
//   backward:  dZ = dA .* f'(A)                      Z, A, dZ, dA: (batch, out)
//              dW = X^T dZ     db = 1^T dZ     dX = dZ W^T
//
// In and Out are compile-time sizes or Dynamic. Activation is a policy (activation.hpp), inlined
// into a compile-time Network's step, or AnyActivation, chosen at run time (a Sequential's layers).
// The layer protocol is described in protocol.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <Eigen/Core>

#include "../activation.hpp"
#include "../any_activation.hpp"
#include "../config.hpp"
#include "../init.hpp"
#include "protocol.hpp"

namespace backprop {

/// Whether a Dense or a Conv2D layer adds a bias row b after its product (the tutorial's layers
/// have none).
enum class Bias : bool {
  off = false,  ///< Z = X W
  on = true     ///< Z = X W + 1 b
};

namespace detail {

/// How Dense and Conv2D begin their model-file records: the activation by name (text), then the
/// bias flag (u8).
template <class Writer, class Activation>
void write_activation_and_bias(Writer& w, const Activation& activation, Bias bias) {
  w.text(name_of(activation));
  w.u8(bias == Bias::on ? 1 : 0);
}
/// Reads what write_activation_and_bias wrote, the activation found among make's.
template <class Reader, class Make>
std::pair<AnyActivation, Bias> read_activation_and_bias(Reader& r, const Make& make) {
  const std::string name = r.text(256);
  const std::uint8_t bias = r.u8();
  if (bias > 1) r.fail("bias flag " + std::to_string(bias) + " is neither 0 nor 1");
  const auto activation = make.activations.find(name);
  if (!activation)
    r.fail(make.activations.unknown(name) + "; " + ActivationNames::how_to_load(name));
  return {*activation, bias == 1 ? Bias::on : Bias::off};
}

}  // namespace detail

/// A fully connected layer: In -> Out (sizes or Dynamic), then Activation, with or without b.
template <int In, int Out, class Activation = Sigmoid, Bias HasBias = Bias::on>
struct Dense {
  static_assert(In > 0 || In == Dynamic, "Dense: the input size must be positive or Dynamic");
  static_assert(Out > 0 || Out == Dynamic, "Dense: the output size must be positive or Dynamic");
  static_assert(ActivationFunction<Activation> || std::is_same_v<Activation, AnyActivation>,
                "Dense: the activation needs a name, forward(Z, A) and backward(A, G)");

  static constexpr std::string_view name = "dense";
  static constexpr int inputs = In;
  static constexpr int outputs = Out;
  /// The same layer taking N inputs: what Dense<Dynamic, ...> becomes in a Network after a layer
  /// whose output width the compiler knows (a convolution's, a pooling's).
  template <int N>
  using with_inputs = Dense<N, Out, Activation, HasBias>;
  static constexpr bool has_bias = HasBias == Bias::on;
  /// Whether W and b are small and of fixed size (kept inline, unrolled).
  static constexpr bool fixed_size = detail::stored_fixed<In, Out>;
  using activation = Activation;

  /// Its activation: the policy's (an empty member), or the one chosen at run time.
  struct Settings {
    [[no_unique_address]] Activation activation{};
  };

  /// W (in, out), as the tutorial writes Z = X W, and b (1, out) where it has one.
  template <class Scalar>
  struct Tensors {
    detail::MatrixFor<Scalar, In, Out> W;
    [[no_unique_address]] std::conditional_t<has_bias, detail::MatrixFor<Scalar, 1, Out>,
                                             detail::None>
        b;

    Tensors(Index in, Index out) {
      W.setZero(in, out);
      if constexpr (has_bias) b.setZero(1, out);
    }
  };
  /// W, then b: the order optimizers and model files rely on.
  template <class T>
  static auto tensors(T& t) {
    if constexpr (has_bias)
      return std::tie(t.W, t.b);
    else
      return std::tie(t.W);
  }

  /// Any widths.
  static void check(Index, Index, const Settings&) {}
  /// in x out weights, plus out biases if any.
  static constexpr Index parameter_count(Index in, Index out, const Settings&) {
    return in * out + (has_bias ? out : 0);
  }
  /// W from the initializer, b zero.
  template <class Layer, class Init>
  static void initialize(Layer& layer, Init& init) {
    auto& p = layer.parameters();
    fill_weights(init, p.W, Fans{p.W.rows(), p.W.cols()});
    if constexpr (has_bias) p.b.setZero();
  }

  /// X: (batch, in)  ->  ws.Z = X W + b, ws.A = f(Z): (batch, out)
  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    const auto& p = layer.parameters();
    ws.Z.noalias() = x * p.W;
    if constexpr (has_bias) ws.Z.rowwise() += p.b;
    layer.activation().forward(ws.Z, ws.A);
  }

  /// X: (batch, in), ws.Z: dL/dZ (batch, out)  ->  g.W = X^T dZ: (in, out), g.b = 1^T dZ:
  /// (1, out), and dX = dZ W^T: (batch, in), which is dL/dA of the layer below
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>& x, const W& ws, G& g,
                       DX& dx) {
    g.W.noalias() = x.transpose() * ws.Z;
    if constexpr (has_bias) g.b = ws.Z.colwise().sum();
    if constexpr (wants_input_gradient<DX>) dx.noalias() = ws.Z * layer.parameters().W.transpose();
  }

  /// "relu", or "sigmoid without bias".
  template <class Layer>
  static std::string describe(const Layer& layer) {
    return detail::concat(std::string(detail::name_of(layer.activation())),
                          has_bias ? "" : " without bias");
  }

  // Model files: the activation by name and the bias flag; nothing else to restore.
  template <class Writer, class Layer>
  static void write_config(Writer& w, const Layer& layer) {
    detail::write_activation_and_bias(w, layer.activation(), HasBias);
  }
  /// Builds the Dense of run-time widths and activation of the file, with its bias or without.
  template <class Reader, class Make>
  static void read(Reader& r, Index, Index, Make&& make) {
    const auto [activation, bias] = detail::read_activation_and_bias(r, make);
    if (bias == Bias::on)
      make.template operator()<Dense<Dynamic, Dynamic, AnyActivation, Bias::on>>({activation});
    else
      make.template operator()<Dense<Dynamic, Dynamic, AnyActivation, Bias::off>>({activation});
  }
};

}  // namespace backprop
