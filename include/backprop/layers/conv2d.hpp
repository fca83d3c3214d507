// Conv2D<Activation, Bias>: a 2-D convolution (cross-correlation, as PyTorch's Conv2d) of image
// rows.
//
//   forward:   C = im2col(X)          X: (batch, cin*h*w)   C: (batch*P, K)   K = cin*kh*kw
//              Z = C W + 1 b          W: (K, cout)          Z: (batch*P, cout), P = ho*wo
//              A = f(Z)               stored as rows of cout*ho*wo values, channel-major
//   backward:  dW = C^T dZ     db = 1^T dZ     dC = dZ W^T     dX = col2im(dC)
//
// Row p of sample b in C holds the K inputs that output pixel p sees, zeros where the window
// overhangs the padded border. W's row k = (ci * kh + ky) * kw + kx, column co: PyTorch's weight of
// shape (cout, cin, kh, kw) is weight.reshape(cout, K).T, the same (in, out) convention as Dense.
// Z and A of the layer are (batch, cout*ho*wo) as every layer's; the (batch*P, cout) products go
// through scratch in the workspace, allocated on the first step and reused after.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "../activation.hpp"
#include "../config.hpp"
#include "../layer.hpp"
#include "../shape.hpp"
#include "dense.hpp"

namespace backprop {

/// The geometry of a Conv2D layer: what it sees and what it makes.
struct Conv2DSettings {
  Shape input;           ///< channels x height x width of each sample
  Index filters = 1;     ///< output channels
  Window kernel{3, 3};   ///< kernel height x width
  Window stride{1, 1};   ///< step between windows
  Window padding{0, 0};  ///< zeros added on each side
  /// filters x output height x output width; ArgumentError for an impossible geometry.
  Shape output() const { return detail::slide("Conv2D", input, filters, kernel, stride, padding); }
};

namespace detail {

// The work of every Conv2D, whatever its activation and bias: written once, outside the kind's
// template, so that a program instantiates it once per scalar rather than once per activation.

/// f(first, rows) over blocks of the rows of a tall product with `depth` terms per value, each
/// of at most 8192 values (64 KB in double), so that Eigen packs it in its stack buffer (at most
/// EIGEN_STACK_ALLOCATION_LIMIT, 128 KB) rather than on the heap: a step allocates nothing after
/// its first, and each block stays in cache.
template <class F>
void by_blocks(Index rows, Index depth, F&& f) {
  const Index block = std::max<Index>(16, (Index(8) << 10) / std::max<Index>(depth, 1));
  for (Index first = 0; first < rows; first += block)
    f(first, std::min(block, rows - first));
}

/// f(k, c, oy, ox, iy, ix) for every output pixel (oy, ox) and every tap k of its window, which
/// reads input channel c at (iy, ix), possibly outside the image (in the zero padding).
template <class F>
void for_each_tap(const Conv2DSettings& g, const Shape& out, F&& f) {
  Index k = 0;
  for (Index c = 0; c < g.input.channels; ++c)
    for (Index ky = 0; ky < g.kernel.height; ++ky)
      for (Index kx = 0; kx < g.kernel.width; ++kx, ++k)
        for (Index oy = 0; oy < out.height; ++oy)
          for (Index ox = 0; ox < out.width; ++ox)
            f(k, c, oy, ox, oy * g.stride.height - g.padding.height + ky,
              ox * g.stride.width - g.padding.width + kx);
}

/// X: (batch, cin*h*w)  ->  C = im2col(X): (batch*P, K), then Z = C W + 1 b: (batch, cout*P)
template <class Scalar, class X, class Z>
void convolve(const Conv2DSettings& g, const Shape& out,
              const Eigen::Matrix<Scalar, Dynamic, Dynamic>& W,
              const Eigen::Matrix<Scalar, 1, Dynamic>* bias, const Eigen::MatrixBase<X>& x,
              Eigen::Matrix<Scalar, Dynamic, Dynamic>& columns,
              Eigen::Matrix<Scalar, Dynamic, Dynamic>& products, Z& z) {
  const Index batch = x.rows(), pixels = out.height * out.width;
  columns.resize(batch * pixels, W.rows());
  for_each_tap(g, out, [&](Index k, Index c, Index oy, Index ox, Index iy, Index ix) {
    const bool inside = iy >= 0 && iy < g.input.height && ix >= 0 && ix < g.input.width;
    const Index from = (c * g.input.height + iy) * g.input.width + ix;
    const Index to = oy * out.width + ox;
    for (Index s = 0; s < batch; ++s)
      columns(s * pixels + to, k) = inside ? x(s, from) : Scalar(0);
  });
  products.resize(columns.rows(), W.cols());
  by_blocks(columns.rows(), W.rows(), [&](Index first, Index rows) {
    products.middleRows(first, rows).noalias() = columns.middleRows(first, rows) * W;
  });
  if (bias) products.rowwise() += *bias;
  // (batch*P, cout) -> (batch, cout*P): sample s's channel c is its rows s*P.., column c.
  for (Index c = 0; c < W.cols(); ++c)
    for (Index s = 0; s < batch; ++s)
      z.row(s).segment(c * pixels, pixels) =
          products.col(c).segment(s * pixels, pixels).transpose();
}

/// dZ: (batch, cout*P)  ->  products = dZ as (batch*P, cout); dW = C^T dZ: (K, cout), and
/// db = 1^T dZ: (1, cout) where there is a bias
template <class Scalar, class DZ>
void convolution_gradients(const Shape& out, Index batch, const DZ& dz,
                           const Eigen::Matrix<Scalar, Dynamic, Dynamic>& columns,
                           Eigen::Matrix<Scalar, Dynamic, Dynamic>& products,
                           Eigen::Matrix<Scalar, Dynamic, Dynamic>& dW,
                           Eigen::Matrix<Scalar, 1, Dynamic>* db) {
  const Index pixels = out.height * out.width;
  for (Index c = 0; c < dW.cols(); ++c)
    for (Index s = 0; s < batch; ++s)
      products.col(c).segment(s * pixels, pixels) =
          dz.row(s).segment(c * pixels, pixels).transpose();
  dW.setZero();
  by_blocks(columns.rows(), columns.cols(), [&](Index first, Index rows) {
    dW.noalias() += columns.middleRows(first, rows).transpose() * products.middleRows(first, rows);
  });
  if (db) *db = products.colwise().sum();
}

/// products: dZ (batch*P, cout)  ->  dX = col2im(dZ W^T): (batch, cin*h*w), the sum over every
/// window that saw each input; dC = dZ W^T goes where C was, which is no longer needed
template <class Scalar, class DX>
void convolution_input_gradient(const Conv2DSettings& g, const Shape& out, Index batch,
                                const Eigen::Matrix<Scalar, Dynamic, Dynamic>& W,
                                const Eigen::Matrix<Scalar, Dynamic, Dynamic>& products,
                                Eigen::Matrix<Scalar, Dynamic, Dynamic>& columns, DX& dx) {
  const Index pixels = out.height * out.width;
  by_blocks(columns.rows(), W.cols(), [&](Index first, Index rows) {
    columns.middleRows(first, rows).noalias() = products.middleRows(first, rows) * W.transpose();
  });
  dx.setZero();
  for_each_tap(g, out, [&](Index k, Index c, Index oy, Index ox, Index iy, Index ix) {
    if (iy < 0 || iy >= g.input.height || ix < 0 || ix >= g.input.width) return;
    const Index to = (c * g.input.height + iy) * g.input.width + ix;
    const Index from = oy * out.width + ox;
    for (Index s = 0; s < batch; ++s)
      dx(s, to) += columns(s * pixels + from, k);
  });
}

}  // namespace detail

/// A convolution of images with filters, then Activation, with or without a bias per filter.
template <class Activation = ReLU, Bias HasBias = Bias::on>
struct Conv2D {
  static_assert(ActivationFunction<Activation>,
                "Conv2D: the activation needs a name, forward(Z, A) and backward(A, G)");

  static constexpr std::string_view name = "conv2d";
  static constexpr int inputs = Dynamic;
  static constexpr int outputs = Dynamic;
  static constexpr bool has_bias = HasBias == Bias::on;
  static constexpr std::size_t tensor_count = has_bias ? 2 : 1;
  using activation = Activation;

  /// The geometry, the filters W (K, cout) and the biases b (1, cout).
  template <class Scalar>
  struct Parameters {
    Conv2DSettings geometry;
    Shape output;
    Eigen::Matrix<Scalar, Dynamic, Dynamic> W;  ///< (cin*kh*kw, cout)
    [[no_unique_address]] std::conditional_t<has_bias, Eigen::Matrix<Scalar, 1, Dynamic>,
                                             detail::NoBias>
        b;  // (1, cout)

    Parameters(Index in, Index out, const Conv2DSettings& settings)
        : geometry(settings), output(settings.output()) {
      if (in != settings.input.size() || out != output.size())
        throw ShapeError("backprop::Conv2D: " + settings.input.string() + " -> " + output.string() +
                         " takes " + std::to_string(settings.input.size()) + " values and gives " +
                         std::to_string(output.size()) + ", not " + std::to_string(in) + " and " +
                         std::to_string(out));
      W.setZero(window_size(settings), settings.filters);
      if constexpr (has_bias) b.setZero(1, settings.filters);
    }
  };

  /// Z and A (batch, cout*P); scratch for the products (batch*P, K) and (batch*P, cout), which
  /// backward reuses for dC and dZ (mutable: backward only reads the workspace otherwise).
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    mutable Eigen::Matrix<Scalar, Dynamic, Dynamic> columns, products;
  };

  /// cin * kh * kw: the values one output pixel sees.
  static Index window_size(const Conv2DSettings& s) {
    return s.input.channels * s.kernel.height * s.kernel.width;
  }
  /// K * cout weights, plus cout biases.
  static Index parameter_count(Index, Index, const Conv2DSettings& s) {
    return window_size(s) * s.filters + (has_bias ? s.filters : 0);
  }

  /// W from the initializer (its fan_in is K, its fan_out cout), b zero.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>& p, Init& init) {
    init.fill(p.W);
    if constexpr (has_bias) p.b.setZero();
  }

  /// X: (batch, cin*h*w)  ->  ws.Z = conv(X): (batch, cout*P), ws.A = f(Z)
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    const Eigen::Matrix<Scalar, 1, Dynamic>* bias = nullptr;
    if constexpr (has_bias) bias = &p.b;
    detail::convolve(p.geometry, p.output, p.W, bias, x, ws.columns, ws.products, ws.Z);
    Activation::forward(ws.Z, ws.A);
  }

  /// ws.Z: dL/dA on entry  ->  dL/dZ = dL/dA .* f'(A)
  template <class Scalar, int Batch>
  static void backward_activation(Workspace<Scalar, Batch>& ws) {
    Activation::backward(ws.A, ws.Z);
  }

  /// ws.Z: dL/dZ (batch, cout*P)  ->  g.W = C^T dZ: (K, cout), g.b = 1^T dZ: (1, cout)
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>& x, const Workspace<Scalar, Batch>& ws,
                       Parameters<Scalar>& g) {
    Eigen::Matrix<Scalar, 1, Dynamic>* bias = nullptr;
    if constexpr (has_bias) bias = &g.b;
    detail::convolution_gradients(g.output, x.rows(), ws.Z, ws.columns, ws.products, g.W, bias);
  }

  /// As above, and dX = col2im(dZ W^T): (batch, cin*h*w), the sum over every window that saw
  /// each input.
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>& g, DX& dx) {
    backward(x, ws, g);
    detail::convolution_input_gradient(p.geometry, p.output, x.rows(), p.W, ws.products, ws.columns,
                                       dx);
  }

  /// Calls f(W, dW), then f(b, db).
  template <class P, class G, class F>
  static void for_each_tensor(P& p, G& g, F&& f) {
    f(p.W, g.W);
    if constexpr (has_bias) f(p.b, g.b);
  }

  /// "relu, 3x3 filters, stride 1x1, padding 1x1"
  template <class Scalar>
  static std::string describe(const Parameters<Scalar>& p) {
    return std::string(Activation::name) + (has_bias ? "" : " without bias") + ", " +
           p.geometry.kernel.string() + " filters, stride " + p.geometry.stride.string() +
           ", padding " + p.geometry.padding.string();
  }

  // Model files: the activation, the bias flag and the geometry, all of which a network must share
  // to load the layer (u64 each: input channels, height, width, filters, then kernel, stride and
  // padding as height, width); nothing else to restore.
  template <class Writer, class Scalar>
  static void write_config(Writer& w, const Parameters<Scalar>& p) {
    const Conv2DSettings& g = p.geometry;
    w.text(Activation::name);
    w.u8(has_bias ? 1 : 0);
    for (Index v :
         {g.input.channels, g.input.height, g.input.width, g.filters, g.kernel.height,
          g.kernel.width, g.stride.height, g.stride.width, g.padding.height, g.padding.width})
      w.u64(static_cast<std::uint64_t>(v));
  }
  template <class Writer, class Scalar>
  static void write_state(Writer&, const Parameters<Scalar>&) {}
  template <class Reader, class Scalar>
  static void read_state(Reader&, Parameters<Scalar>&) {}

  /// Reads write_config's bytes and calls make.template operator()<Conv2D<A, B>>(settings) with
  /// the activation A and bias B the file names, and the geometry it gives.
  template <class Activations, class Reader, class Make>
  static void read(Reader& r, Index in, Index out, Make&& make) {
    const std::string activation = r.text(256);
    const std::uint8_t bias = r.u8();
    if (bias > 1) r.fail("bias flag " + std::to_string(bias) + " is neither 0 nor 1");
    Index v[10];
    for (Index& value : v) {
      const std::uint64_t word = r.u64();
      // Every size is at most the layer's width (a stride or a padding, too, or it is useless).
      if (word > static_cast<std::uint64_t>(std::max(in, out)))
        r.fail("a conv2d size of " + std::to_string(word) + " exceeds the layer's widths");
      value = static_cast<Index>(word);
    }
    Conv2DSettings s{{v[0], v[1], v[2]}, v[3], {v[4], v[5]}, {v[6], v[7]}, {v[8], v[9]}};
    try {
      if (!detail::holds_exactly(s.input, in) || !detail::holds_exactly(s.output(), out))
        r.fail("conv2d " + s.input.string() + " with " + std::to_string(s.filters) +
               " filters does not take " + std::to_string(in) + " values to " +
               std::to_string(out));
    } catch (const std::invalid_argument& e) {
      r.fail(e.what());
    }
    const bool known = with_activation(Activations{}, activation, [&]<class A>() {
      if (bias == 1)
        make.template operator()<Conv2D<A, Bias::on>>(s);
      else
        make.template operator()<Conv2D<A, Bias::off>>(s);
    });
    if (!known)
      r.fail(unknown_activation(activation, Activations{}) + "; " +
             how_to_load_activation(activation));
  }
};

}  // namespace backprop
