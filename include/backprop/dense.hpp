// Dense<In, Out, Activation, Bias>: one fully connected layer, forward beside backward.
//
// A Dense type describes the layer; it holds no numbers. Its nested Parameters (W, b) are also the
// shape of its gradients, and its Workspace keeps what backward needs from forward. The network
// (or any caller) owns all three, which is what lets predict() be const and thread-safe.
//
//   forward:   Z = X W + 1 b           X: (batch, in)  W: (in, out)  b: (1, out)  ->  Z, A: (batch,
//   out)
//              A = f(Z)
//   backward:  dZ = dA .* f'(A)        (the activation's part, backward_activation)
//              dW = X^T dZ   db = 1^T dZ   dX = dZ W^T      (the linear part, backward)
#pragma once

#include <type_traits>

#include <Eigen/Core>

#include "activation.hpp"
#include "config.hpp"

namespace backprop {

enum class Bias : bool { off = false, on = true };

namespace detail {

// Fixed-size Eigen storage pays off only for small matrices: it is unrolled and kept inline, while
// large fixed sizes bloat code and overflow Eigen's 128 KB limit for fixed objects. Sizes above
// this many coefficients are stored dynamically (a dimension of 1 stays fixed, so vectors stay
// vectors); the compile-time sizes are still checked by the network.
inline constexpr int max_fixed_coefficients = 64;

template <int Rows, int Cols>
inline constexpr bool stored_fixed =
    Rows != Dynamic&& Cols != Dynamic&& Rows* Cols <= max_fixed_coefficients;

template <class Scalar, int Rows, int Cols>
using MatrixFor =
    std::conditional_t<stored_fixed<Rows, Cols>, Eigen::Matrix<Scalar, Rows, Cols>,
                       Eigen::Matrix<Scalar, Rows == 1 ? 1 : Dynamic, Cols == 1 ? 1 : Dynamic>>;

struct NoBias {};

}  // namespace detail

template <int In, int Out, class Activation = Sigmoid, Bias HasBias = Bias::on>
struct Dense {
  static_assert(In > 0 || In == Dynamic, "Dense: the input size must be positive or Dynamic");
  static_assert(Out > 0 || Out == Dynamic, "Dense: the output size must be positive or Dynamic");
  static_assert(ActivationFunction<Activation>,
                "Dense: the activation needs a name, forward(Z, A) and backward(A, G)");

  static constexpr int inputs = In;
  static constexpr int outputs = Out;
  static constexpr bool has_bias = HasBias == Bias::on;
  using activation = Activation;

  // The layer's parameters; a second instance holds their gradients.
  template <class Scalar>
  struct Parameters {
    detail::MatrixFor<Scalar, In, Out> W;  // (in, out): Z = X W, as the tutorial writes it
    [[no_unique_address]] std::conditional_t<has_bias, detail::MatrixFor<Scalar, 1, Out>,
                                             detail::NoBias>
        b;  // (1, out)

    // Zeros of the given sizes (which must equal In and Out where those are fixed).
    Parameters(Index in, Index out) {
      W.setZero(in, out);
      if constexpr (has_bias) b.setZero(1, out);
    }
  };

  // What forward leaves for backward, for a batch of Batch rows (Dynamic: any).
  template <class Scalar, int Batch>
  struct Workspace {
    // Z is not read by backward (every activation takes its derivative from A), so once the
    // loss has been taken its storage carries the gradient: dL/dA, then dL/dZ in place.
    detail::MatrixFor<Scalar, Batch, Out> Z;  // (batch, out)
    detail::MatrixFor<Scalar, Batch, Out> A;  // (batch, out): the next layer's input

    static constexpr bool fixed = detail::stored_fixed<Batch, Out>;

    // No-op, and no allocation, when the sizes are unchanged.
    void resize(Index batch, Index out) {
      Z.resize(batch, out);
      A.resize(batch, out);
    }
  };

  // X: (batch, in)  ->  ws.Z = X W + b, ws.A = f(Z): (batch, out)
  template <class Scalar, int Batch, class X>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                      Workspace<Scalar, Batch>& ws) {
    ws.Z.noalias() = x * p.W;
    if constexpr (has_bias) ws.Z.rowwise() += p.b;
    Activation::forward(ws.Z, ws.A);
  }

  // ws.Z: dL/dA on entry  ->  dL/dZ = dL/dA .* f'(A)
  template <class Scalar, int Batch>
  static void backward_activation(Workspace<Scalar, Batch>& ws) {
    Activation::backward(ws.A, ws.Z);
  }

  // X: (batch, in)  ws.Z: dL/dZ (batch, out)  ->  g.W = X^T dZ: (in, out), g.b = 1^T dZ: (1, out).
  // This overload skips dL/dX: the first layer's input is data, and PyTorch skips it too.
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>& x, const Workspace<Scalar, Batch>& ws,
                       Parameters<Scalar>& g) {
    g.W.noalias() = x.transpose() * ws.Z;
    if constexpr (has_bias) g.b = ws.Z.colwise().sum();
  }

  // As above, and dX = dZ W^T: (batch, in), which is dL/dA of the layer below.
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>& g,
                       Eigen::MatrixBase<DX>& dx) {
    backward(x, ws, g);
    dx.noalias() = ws.Z * p.W.transpose();
  }

  // Calls f(parameter, gradient) for W, then b: the order optimizers and model files rely on.
  template <class Scalar, class F>
  static void for_each_tensor(Parameters<Scalar>& p, const Parameters<Scalar>& g, F&& f) {
    f(p.W, g.W);
    if constexpr (has_bias) f(p.b, g.b);
  }
};

}  // namespace backprop
