// Dense<In, Out, Activation, Bias>: one fully connected layer, forward beside backward.
//
//   forward:   Z = X W + 1 b     A = f(Z)     X: (batch, in)  W: (in, out)  b: (1, out)  Z, A:
//   (batch, out) backward:  dZ = dA .* f'(A) (backward_activation)
//              dW = X^T dZ     db = 1^T dZ     dX = dZ W^T        (backward)
//
// In and Out are compile-time sizes or Dynamic. The layer protocol is described in layer.hpp.
#pragma once

#include <type_traits>

#include <Eigen/Core>

#include "activation.hpp"
#include "config.hpp"
#include "layer.hpp"
#include "threads.hpp"

namespace backprop {

enum class Bias : bool { off = false, on = true };

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

  static constexpr int inputs = In;
  static constexpr int outputs = Out;
  static constexpr bool has_bias = HasBias == Bias::on;
  static constexpr std::size_t tensor_count = has_bias ? 2 : 1;
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

  /// Kind "dense", sizes, activation name and bias flag.
  template <class Scalar>
  static LayerInfo describe(const Parameters<Scalar>&, Index in, Index out) {
    LayerInfo info;
    info.kind = "dense";
    info.inputs = in;
    info.outputs = out;
    info.activation = Activation::name;
    info.bias = has_bias;
    return info;
  }
  /// Nothing beyond the matrices to take back.
  template <class Scalar>
  static void restore(Parameters<Scalar>&, const LayerInfo&) {}

  /// W from the initializer, b zero.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>& p, Init& init) {
    init.fill(p.W);
    if constexpr (has_bias) p.b.setZero();
  }

  /// X: (batch, in)  ->  ws.Z = X W + b, ws.A = f(Z): (batch, out)
  template <class Scalar, int Batch, class X>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                      Workspace<Scalar, Batch>& ws) {
    [[maybe_unused]] const auto threads = product_threads(x.rows(), p.W.rows(), p.W.cols());
    ws.Z.noalias() = x * p.W;
    if constexpr (has_bias) ws.Z.rowwise() += p.b;
    Activation::forward(ws.Z, ws.A);
  }

  /// ws.Z: dL/dA on entry  ->  dL/dZ = dL/dA .* f'(A)
  template <class Scalar, int Batch>
  static void backward_activation(Workspace<Scalar, Batch>& ws) {
    Activation::backward(ws.A, ws.Z);
  }

  /// X: (batch, in)  ws.Z: dL/dZ (batch, out)  ->  g.W = X^T dZ: (in, out), g.b = 1^T dZ: (1, out).
  /// This overload skips dL/dX: the first layer's input is data, and PyTorch skips it too.
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>& x, const Workspace<Scalar, Batch>& ws,
                       Parameters<Scalar>& g) {
    [[maybe_unused]] const auto threads = product_threads(x.rows(), g.W.rows(), g.W.cols());
    g.W.noalias() = x.transpose() * ws.Z;
    if constexpr (has_bias) g.b = ws.Z.colwise().sum();
  }

  /// As above, and dX = dZ W^T: (batch, in), which is dL/dA of the layer below.
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>& g,
                       Eigen::MatrixBase<DX>& dx) {
    backward(x, ws, g);
    [[maybe_unused]] const auto threads = product_threads(x.rows(), p.W.rows(), p.W.cols());
    dx.noalias() = ws.Z * p.W.transpose();
  }

  /// Small products stay on one thread (threads.hpp). A layer whose W is small enough to be stored
  /// fixed-size never has a large product, so it skips the check altogether.
  static auto product_threads(Index batch, Index in, Index out) {
    if constexpr (detail::stored_fixed<In, Out>)
      return std::false_type{};
    else
      return detail::ProductThreads(static_cast<double>(batch) * static_cast<double>(in) *
                                    static_cast<double>(out));
  }

  /// Calls f(parameter, gradient) for W, then b: the order optimizers and model files rely on.
  template <class Scalar, class F>
  static void for_each_tensor(Parameters<Scalar>& p, const Parameters<Scalar>& g, F&& f) {
    f(p.W, g.W);
    if constexpr (has_bias) f(p.b, g.b);
  }
};

}  // namespace backprop
