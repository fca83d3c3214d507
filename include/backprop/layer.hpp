// What every layer type shares: how it stores matrices, its workspace, and the protocol a network
// drives it through.
//
// A layer type describes a layer and holds no numbers. A network (compile-time Network or
// run-time Sequential) owns the numbers, in the layer's nested types:
//
//   Parameters<Scalar>(in, out)     trainable matrices; a second instance holds their gradients
//   Workspace<Scalar, Batch>        what forward leaves for backward (at least Z and A)
//
// and calls its static functions:
//
//   forward(p, X, ws)               inference: ws.A = the layer's output for X (batch, in)
//   training_forward(p, X, ws)      optional; the same while training (Dropout samples its mask)
//   backward_activation(ws)         ws.Z: dL/dA -> dL/dZ
//   backward(X, ws, g)              g = dL/dParameters from ws.Z = dL/dZ
//   backward(p, X, ws, g, dX)       and dX = dL/dX, the layer below's dL/dA
//   for_each_tensor(p, g, f)        f(parameter, gradient) for each trainable matrix, in order
//   initialize(p, init)             fresh parameters from a WeightInitializer
//   parameter_count(in, out)        trainable scalars
//   describe(p, in, out)            a LayerInfo: what model files record besides the matrices
//   restore(p, info)                takes back what describe recorded (Dropout: rate, generator)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "config.hpp"

namespace backprop {

/// What a layer is, as model files and printouts describe it.
struct LayerInfo {
  std::string_view kind{};  ///< "dense" or "dropout"
  Index inputs = 0, outputs = 0;
  std::string_view activation{};                ///< Dense: the activation's name
  bool bias = false;                            ///< Dense: whether it has b
  double rate = 0;                              ///< Dropout: the rate
  std::array<std::uint64_t, 4> random_state{};  ///< Dropout: its generator, to resume exactly
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

/// X must be (batch, inputs) with at least one row; `network` and `function` name the caller.
inline void check_input(const char* network, const char* function, Index rows, Index cols,
                        Index inputs) {
  if (cols != inputs || rows == 0)
    throw ShapeError(std::string("backprop::") + network + "::" + function + ": X is " +
                     shape_string(rows, cols) + ", but the network takes " +
                     std::to_string(inputs) + " inputs per row" +
                     (rows == 0 ? " and X has no rows" : "") + ": expected " +
                     shape_string(rows == 0 ? 1 : rows, inputs));
}

/// Y must be (X's rows, outputs).
inline void check_target(const char* network, const char* function, Index x_rows, Index x_cols,
                         Index y_rows, Index y_cols, Index outputs) {
  if (y_rows != x_rows || y_cols != outputs)
    throw ShapeError(std::string("backprop::") + network + "::" + function + ": Y is " +
                     shape_string(y_rows, y_cols) + ", but X is " + shape_string(x_rows, x_cols) +
                     " and the network has " + std::to_string(outputs) + " outputs: expected " +
                     shape_string(x_rows, outputs));
}

/// The training forward pass of a layer: its training_forward where it has one (Dropout).
template <class Layer, class P, class X, class W>
void training_forward(P& p, const X& x, W& ws) {
  if constexpr (requires { Layer::training_forward(p, x, ws); })
    Layer::training_forward(p, x, ws);
  else
    Layer::forward(p, x, ws);
}

struct IgnoreOutput {
  template <class A>
  void operator()(const A&) const {}
};

}  // namespace detail

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

}  // namespace backprop
