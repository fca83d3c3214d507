// Dense<In, Out, Activation, Bias>: one fully connected layer, forward beside backward.
//
//   forward:   Z = X W + 1 b     A = f(Z)            X: (batch, in)  W: (in, out)  b: (1, out)
//   backward:  dZ = dA .* f'(A)                      Z, A, dZ, dA: (batch, out)
//              dW = X^T dZ     db = 1^T dZ     dX = dZ W^T
//
// In and Out are compile-time sizes or Dynamic. The layer protocol is described in layer.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "../activation.hpp"
#include "../config.hpp"
#include "../init.hpp"
#include "../layer.hpp"

namespace backprop {

/// Whether a Dense layer adds a bias row b after X W (the tutorial's layers have none).
enum class Bias : bool {
  off = false,  ///< Z = X W
  on = true     ///< Z = X W + 1 b
};

namespace detail {
struct NoBias {};
}  // namespace detail

/// A fully connected layer: In -> Out (sizes or Dynamic), then Activation, with or without b.
template <int In, int Out, class Activation = Sigmoid, Bias HasBias = Bias::on>
struct Dense {
  static_assert(In > 0 || In == Dynamic, "Dense: the input size must be positive or Dynamic");
  static_assert(Out > 0 || Out == Dynamic, "Dense: the output size must be positive or Dynamic");
  static_assert(ActivationFunction<Activation>,
                "Dense: the activation needs a name, forward(Z, A) and backward(A, G)");

  static constexpr std::string_view name = "dense";
  static constexpr int inputs = In;
  static constexpr int outputs = Out;
  /// The same layer taking N inputs: what Dense<Dynamic, ...> becomes in a Network after a layer
  /// whose output width the compiler knows (a convolution's, a pooling's).
  template <int N>
  using with_inputs = Dense<N, Out, Activation, HasBias>;
  static constexpr bool has_bias = HasBias == Bias::on;
  static constexpr std::size_t tensor_count = has_bias ? 2 : 1;
  /// Whether W and b are small and of fixed size (kept inline, unrolled).
  static constexpr bool fixed_size = detail::stored_fixed<In, Out>;
  /// The activation policy after the linear map.
  using activation = Activation;

  /// The layer's parameters; a second instance holds their gradients.
  template <class Scalar>
  struct Parameters {
    detail::MatrixFor<Scalar, In, Out> W;  ///< (in, out): Z = X W, as the tutorial writes it
    [[no_unique_address]] std::conditional_t<has_bias, detail::MatrixFor<Scalar, 1, Out>,
                                             detail::NoBias>
        b;  // (1, out)

    // Zeros of the given sizes (which must equal In and Out where those are fixed).
    Parameters(Index in, Index out) {
      W.setZero(in, out);
      if constexpr (has_bias) b.setZero(1, out);
    }
  };

  /// Z and A of a batch of Batch rows.
  template <class Scalar, int Batch>
  using Workspace = LayerWorkspace<Scalar, Batch, Out>;

  /// in x out weights, plus out biases if any.
  static constexpr Index parameter_count(Index in, Index out) {
    return in * out + (has_bias ? out : 0);
  }

  /// W from the initializer, b zero.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>& p, Init& init) {
    fill_weights(init, p.W, Fans{p.W.rows(), p.W.cols()});
    if constexpr (has_bias) p.b.setZero();
  }

  /// X: (batch, in)  ->  ws.Z = X W + b, ws.A = f(Z): (batch, out)
  template <class Scalar, int Batch, class X>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                      Workspace<Scalar, Batch>& ws) {
    ws.Z.noalias() = x * p.W;
    if constexpr (has_bias) ws.Z.rowwise() += p.b;
    Activation::forward(ws.Z, ws.A);
  }

  /// ws.Z: dL/dA on entry  ->  dL/dZ = dL/dA .* f'(A)
  template <class Scalar, int Batch>
  static void backward_activation(Workspace<Scalar, Batch>& ws) {
    Activation::backward(ws.A, ws.Z);
  }

  /// X: (batch, in)  ws.Z: dL/dZ (batch, out)  ->  g.W = X^T dZ: (in, out), g.b = 1^T dZ: (1, out)
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>& x, const Workspace<Scalar, Batch>& ws,
                       Parameters<Scalar>& g) {
    g.W.noalias() = x.transpose() * ws.Z;
    if constexpr (has_bias) g.b = ws.Z.colwise().sum();
  }

  /// As above, and dX = dZ W^T: (batch, in), which is dL/dA of the layer below.
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>& g, DX& dx) {
    backward(x, ws, g);
    dx.noalias() = ws.Z * p.W.transpose();
  }

  /// Calls f(parameter, gradient) for W, then b: the order optimizers and model files rely on.
  template <class P, class G, class F>
  static void for_each_tensor(P& p, G& g, F&& f) {
    f(p.W, g.W);
    if constexpr (has_bias) f(p.b, g.b);
  }

  /// "relu", or "sigmoid without bias".
  template <class Scalar>
  static std::string describe(const Parameters<Scalar>&) {
    return std::string(Activation::name) + (has_bias ? "" : " without bias");
  }

  // Model files: the activation by name and the bias flag (u8); nothing else to restore.
  template <class Writer, class Scalar>
  static void write_config(Writer& w, const Parameters<Scalar>&) {
    w.text(Activation::name);
    w.u8(has_bias ? 1 : 0);
  }
  template <class Writer, class Scalar>
  static void write_state(Writer&, const Parameters<Scalar>&) {}
  template <class Reader, class Scalar>
  static void read_state(Reader&, Parameters<Scalar>&) {}

  /// Reads write_config's bytes and calls make.template operator()<Dense<Dynamic, Dynamic, A, B>>()
  /// with the activation A that Activations names and the bias B the file says.
  template <class Activations, class Reader, class Make>
  static void read(Reader& r, Index, Index, Make&& make) {
    const std::string activation = r.text(256);
    const std::uint8_t bias = r.u8();
    if (bias > 1) r.fail("bias flag " + std::to_string(bias) + " is neither 0 nor 1");
    const bool known = with_activation(Activations{}, activation, [&]<class A>() {
      if (bias == 1)
        make.template operator()<Dense<Dynamic, Dynamic, A, Bias::on>>();
      else
        make.template operator()<Dense<Dynamic, Dynamic, A, Bias::off>>();
    });
    if (!known)
      r.fail(unknown_activation(activation, Activations{}) + "; " +
             how_to_load_activation(activation));
  }
};

}  // namespace backprop
