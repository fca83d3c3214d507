// Conv2D<Activation, Bias>: a 2-D convolution (cross-correlation, as PyTorch's Conv2d) of image
// rows.
//
//   forward:   C = im2col(X)          X: (n, cin*h*w)   C: (P*n, K)   K = cin*kh*kw, P = ho*wo
//              Z = C W + 1 b          W: (K, cout)      Z: (P*n, cout)
//              A = f(Z)
//   backward:  dW = C^T dZ     db = 1^T dZ     dC = dZ W^T     dX = col2im(dC)
//
// Layout. X, Z and A are (n, channels*h*w) column-major, as every layer's, so value (s, c, y, x)
// of a batch of n sits at ((c*h + y)*w + x)*n + s: the sample is the fastest index, and a column
// holds one pixel of one channel for the whole batch. Hence row p*n + s of C holds what output
// pixel p of sample s sees, and im2col and col2im copy and add whole columns of n values; and Z
// as (P*n, cout) column-major is the very memory of Z as (n, cout*P), channel-major as PyTorch's
// flatten(1): the product writes the layer's output in place.
//
// W's row k = (ci*kh + ky)*kw + kx, column co: PyTorch's weight of shape (cout, cin, kh, kw) is
// weight.reshape(cout, K).T, the same (in, out) convention as Dense.
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
#include "../any_activation.hpp"
#include "../config.hpp"
#include "../init.hpp"
#include "../parallel/threads.hpp"
#include "../shape.hpp"
#include "dense.hpp"
#include "protocol.hpp"

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

// The work of every Conv2D, whatever its activation and bias, written once outside the kind's
// template. im2col, col2im and the gradients are compiled once per scalar and input type; convolve
// once per Conv2D type, whose activation it runs on each block (a Sequential has two such types:
// with and without bias, any activation).

/// How the rows of the tall products (P*n rows) are cut into blocks: small enough that Eigen packs
/// each block's operands in its buffers on the stack (EIGEN_STACK_ALLOCATION_LIMIT; beyond it,
/// on the heap), so that a step allocates nothing after its first and each block stays in cache;
/// the blocks are spread over parallel_for's threads. With OpenBLAS, one block: it threads a
/// product itself, from buffers of its own.
struct RowBlocks {
  Index rows, size, count;

  template <class Scalar>
  static RowBlocks of(Index rows, Index widest) {
#if defined(BACKPROP_OPENBLAS)
    (void)widest;
    return {rows, std::max<Index>(rows, 1), 1};
#else
    constexpr auto values = static_cast<Index>(EIGEN_STACK_ALLOCATION_LIMIT / sizeof(Scalar));
    const Index size = std::max<Index>(16, values / std::max<Index>(widest, 1));
    return {rows, size, (rows + size - 1) / size};
#endif
  }
  Index first(Index b) const {
    return b * size;
  }
  Index length(Index b) const {
    return std::min(size, rows - b * size);
  }
};

/// The gradient of W is summed over the blocks in this many fixed groups, each in block order,
/// then the groups in order: the same bits whatever the number of threads.
inline constexpr Index gradient_groups = 8;

/// The output columns ox of a row whose tap at kernel column kx reads inside the image (not in
/// the padding): [first, last).
struct InsideRun {
  Index first, last;
};
inline InsideRun inside_run(const Conv2DSettings& g, Index out_width, Index kx) {
  // ix = ox * stride - padding + kx must be in [0, width).
  const Index stride = g.stride.width, lead = g.padding.width - kx;
  Index first = lead > 0 ? (lead + stride - 1) / stride : 0;
  const Index reach = g.input.width - 1 + lead;
  Index last = reach >= 0 ? reach / stride + 1 : 0;
  last = std::min(last, out_width);
  first = std::min(first, last);
  return {first, last};
}

/// f(k, ky, kx) for each tap of the window on input channel ci: k = (ci * kh + ky) * kw + kx.
template <class F>
void for_each_tap(const Conv2DSettings& g, Index channel, F&& f) {
  for (Index ky = 0; ky < g.kernel.height; ++ky)
    for (Index kx = 0; kx < g.kernel.width; ++kx)
      f((channel * g.kernel.height + ky) * g.kernel.width + kx, ky, kx);
}

/// X: (n, cin*h*w)  ->  C = im2col(X): (P*n, K), zeros where a window overhangs the image
template <class Scalar, class X>
void im2col(const Conv2DSettings& g, const Shape& out, const Eigen::MatrixBase<X>& x,
            Eigen::Matrix<Scalar, Dynamic, Dynamic>& columns) {
  const Index n = x.rows(), row = out.width * n;  // a row of output pixels: out.width * n rows
  columns.resize(out.height * row, g.input.channels * g.kernel.height * g.kernel.width);
  parallel_for(g.input.channels, [&](Index c, int) {
    for_each_tap(g, c, [&](Index k, Index ky, Index kx) {
      auto column = columns.col(k);
      const InsideRun run = inside_run(g, out.width, kx);
      for (Index oy = 0; oy < out.height; ++oy) {
        const Index iy = oy * g.stride.height - g.padding.height + ky;
        auto pixels = column.segment(oy * row, row);
        if (iy < 0 || iy >= g.input.height) {
          pixels.setZero();
          continue;
        }
        pixels.head(run.first * n).setZero();
        pixels.tail((out.width - run.last) * n).setZero();
        const Index from = (c * g.input.height + iy) * g.input.width - g.padding.width + kx;
        for (Index ox = run.first; ox < run.last; ++ox)
          pixels.segment(ox * n, n) = x.col(from + ox * g.stride.width);
      }
    });
  });
}

/// C: dL/dC (P*n, K)  ->  dX = col2im(dC): (n, cin*h*w), each input the sum of what every window
/// that saw it gives back
template <class Scalar, class DX>
void col2im(const Conv2DSettings& g, const Shape& out,
            const Eigen::Matrix<Scalar, Dynamic, Dynamic>& columns, DX& dx) {
  const Index n = dx.rows(), row = out.width * n;
  const Index area = g.input.height * g.input.width;
  parallel_for(g.input.channels, [&](Index c, int) {  // a channel's inputs: no two threads meet
    dx.middleCols(c * area, area).setZero();
    for_each_tap(g, c, [&](Index k, Index ky, Index kx) {
      const auto column = columns.col(k);
      const InsideRun run = inside_run(g, out.width, kx);
      for (Index oy = 0; oy < out.height; ++oy) {
        const Index iy = oy * g.stride.height - g.padding.height + ky;
        if (iy < 0 || iy >= g.input.height) continue;
        const Index to = (c * g.input.height + iy) * g.input.width - g.padding.width + kx;
        for (Index ox = run.first; ox < run.last; ++ox)
          dx.col(to + ox * g.stride.width) += column.segment(oy * row + ox * n, n);
      }
    });
  });
}

/// The layer's Z (n, cout*P) as what it is in memory: (P*n, cout), column-major.
template <class Z>
auto as_products(Z& z, Index cout) {
  using Matrix = Eigen::Matrix<typename Z::Scalar, Dynamic, Dynamic>;
  using Map = std::conditional_t<std::is_const_v<Z>, Eigen::Map<const Matrix>, Eigen::Map<Matrix>>;
  return Map(z.data(), z.size() / cout, cout);
}

/// X: (n, cin*h*w)  ->  C = im2col(X): (P*n, K), then Z = C W + 1 b: (P*n, cout), in place in
/// the layer's Z (n, cout*P); then on_block(first, rows) for each block of rows of Z so made,
/// while it is in cache
template <class Scalar, class X, class Z, class OnBlock>
void convolve(const Conv2DSettings& g, const Shape& out,
              const Eigen::Matrix<Scalar, Dynamic, Dynamic>& W,
              const Eigen::Matrix<Scalar, 1, Dynamic>* bias, const Eigen::MatrixBase<X>& x,
              Eigen::Matrix<Scalar, Dynamic, Dynamic>& columns, Z& z, OnBlock&& on_block) {
  im2col(g, out, x, columns);
  auto products = as_products(z, W.cols());
  const auto blocks = RowBlocks::of<Scalar>(columns.rows(), std::max(W.rows(), W.cols()));
  parallel_for(blocks.count, [&](Index b, int) {
    auto block = products.middleRows(blocks.first(b), blocks.length(b));
    block.noalias() = columns.middleRows(blocks.first(b), blocks.length(b)) * W;
    if (bias) block.rowwise() += *bias;
    on_block(blocks.first(b), blocks.length(b));
  });
}

/// Z: dL/dZ (n, cout*P), C: (P*n, K)  ->  dW = C^T dZ: (K, cout), db = 1^T dZ: (1, cout) where
/// there is a bias; and, given W (dX is wanted), C = dC = dZ W^T, which col2im turns into dX
template <class Scalar, class DZ>
void convolution_gradients(const DZ& dz, const Eigen::Matrix<Scalar, Dynamic, Dynamic>* W,
                           Eigen::Matrix<Scalar, Dynamic, Dynamic>& columns,
                           Eigen::Matrix<Scalar, Dynamic, Dynamic>& partial,
                           Eigen::Matrix<Scalar, Dynamic, Dynamic>& dW,
                           Eigen::Matrix<Scalar, 1, Dynamic>* db) {
  const Index cout = dW.cols(), K = dW.rows();
  const auto products = as_products(dz, cout);
  const auto blocks = RowBlocks::of<Scalar>(columns.rows(), std::max(K, cout));
  const Index groups = std::min(gradient_groups, blocks.count);
  // Group j: dW in columns [j*cout, (j+1)*cout) of rows [0, K), db in row K.
  partial.setZero(K + 1, groups * cout);
  parallel_for(groups, [&](Index j, int) {
    auto dw = partial.block(0, j * cout, K, cout);
    auto bias = partial.block(K, j * cout, 1, cout);
    const RowRange mine = part_of(blocks.count, j, groups);
    for (Index b = mine.first; b < mine.first + mine.count; ++b) {
      const auto dz_block = products.middleRows(blocks.first(b), blocks.length(b));
      auto c_block = columns.middleRows(blocks.first(b), blocks.length(b));
      dw.noalias() += c_block.transpose() * dz_block;
      if (db) bias += dz_block.colwise().sum();
      if (W) c_block.noalias() = dz_block * W->transpose();  // C is read: it becomes dC
    }
  });
  dW = partial.block(0, 0, K, cout);
  if (db) *db = partial.block(K, 0, 1, cout);
  for (Index j = 1; j < groups; ++j) {
    dW += partial.block(0, j * cout, K, cout);
    if (db) *db += partial.block(K, j * cout, 1, cout);
  }
}

}  // namespace detail

/// A convolution of images with filters, then Activation (a policy, or AnyActivation), with or
/// without a bias per filter.
template <class Activation = ReLU, Bias HasBias = Bias::on>
struct Conv2D {
  static_assert(ActivationFunction<Activation> || std::is_same_v<Activation, AnyActivation>,
                "Conv2D: the activation needs a name, forward(Z, A) and backward(A, G)");

  static constexpr std::string_view name = "conv2d";
  static constexpr bool has_bias = HasBias == Bias::on;
  using activation = Activation;

  /// The geometry, and the activation: the policy's (an empty member), or one chosen at run time.
  struct Settings {
    Conv2DSettings geometry;
    [[no_unique_address]] Activation activation{};
  };
  static constexpr Shape input_shape(const Settings& s) { return s.geometry.input; }
  static constexpr Shape output_shape(const Settings& s) {
    const Conv2DSettings& g = s.geometry;
    return detail::slid(g.input, g.filters, g.kernel, g.stride, g.padding);
  }

  /// The filters W (cin*kh*kw, cout) and the biases b (1, cout).
  template <class Scalar>
  struct Tensors {
    Eigen::Matrix<Scalar, Dynamic, Dynamic> W;
    [[no_unique_address]] std::conditional_t<has_bias, Eigen::Matrix<Scalar, 1, Dynamic>,
                                             detail::None>
        b;

    Tensors(Index, Index, const Settings& s) {
      W.setZero(window_size(s.geometry), s.geometry.filters);
      if constexpr (has_bias) b.setZero(1, s.geometry.filters);
    }
    /// b, or null without one.
    auto* bias() {
      if constexpr (has_bias)
        return &b;
      else
        return static_cast<Eigen::Matrix<Scalar, 1, Dynamic>*>(nullptr);
    }
    const auto* bias() const { return const_cast<Tensors&>(*this).bias(); }
  };
  /// W, then b.
  template <class T>
  static auto tensors(T& t) {
    if constexpr (has_bias)
      return std::tie(t.W, t.b);
    else
      return std::tie(t.W);
  }

  /// Z and A (n, cout*P); C = im2col(X) (P*n, K), which backward turns into dC; the partial sums
  /// of dW and db (mutable: backward only reads the workspace otherwise).
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    mutable Eigen::Matrix<Scalar, Dynamic, Dynamic> columns, partial;
  };

  /// cin * kh * kw: the values one output pixel sees.
  static Index window_size(const Conv2DSettings& g) {
    return g.input.channels * g.kernel.height * g.kernel.width;
  }
  /// Throws ArgumentError for an impossible geometry, ShapeError for widths that are not its.
  static void check(Index in, Index out, const Settings& s) {
    const Shape output = s.geometry.output();
    if (in != s.geometry.input.size() || out != output.size())
      throw ShapeError("backprop::Conv2D: " + s.geometry.input.string() + " -> " + output.string() +
                       " takes " + std::to_string(s.geometry.input.size()) + " values and gives " +
                       std::to_string(output.size()) + ", not " + std::to_string(in) + " and " +
                       std::to_string(out));
  }
  /// K * cout weights, plus cout biases.
  static Index parameter_count(Index, Index, const Settings& s) {
    return window_size(s.geometry) * s.geometry.filters + (has_bias ? s.geometry.filters : 0);
  }

  /// W from the initializer, with PyTorch's fans: fan_in = cin*kh*kw, fan_out = cout*kh*kw; b zero.
  template <class Layer, class Init>
  static void initialize(Layer& layer, Init& init) {
    auto& p = layer.parameters();
    const Conv2DSettings& g = layer.settings().geometry;
    fill_weights(init, p.W, Fans{p.W.rows(), p.W.cols() * g.kernel.height * g.kernel.width});
    if constexpr (has_bias) p.b.setZero();
  }

  /// X: (n, cin*h*w)  ->  ws.Z = conv(X): (n, cout*P), ws.A = f(Z). An element-wise f runs on each
  /// block of Z as the product makes it, while it is in cache.
  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    const auto& p = layer.parameters();
    const auto& activation = layer.activation();
    const bool elementwise = detail::is_elementwise(activation);
    auto z = detail::as_products(ws.Z, p.W.cols());
    auto a = detail::as_products(ws.A, p.W.cols());
    detail::convolve(layer.settings().geometry, output_shape(layer.settings()), p.W, p.bias(), x,
                     ws.columns, ws.Z, [&](Index first, Index rows) {
                       if (!elementwise) return;
                       auto out = a.middleRows(first, rows);
                       activation.forward(z.middleRows(first, rows), out);
                     });
    if (!elementwise) activation.forward(ws.Z, ws.A);
  }

  /// ws.Z: dL/dA on entry  ->  dL/dZ = dL/dA .* f'(A)
  template <class Layer, class W>
  static void backward_activation(const Layer& layer, W& ws) {
    const auto& activation = layer.activation();
    if (!detail::is_elementwise(activation)) return activation.backward(ws.A, ws.Z);
    // Z and A are contiguous: one long column each, of which each thread takes a run.
    using Column = Eigen::Matrix<typename W::Scalar, Dynamic, 1>;
    Eigen::Map<Column> z(ws.Z.data(), ws.Z.size());
    const Eigen::Map<const Column> a(ws.A.data(), ws.A.size());
    const Index parts = detail::parallel_threads();
    detail::parallel_for(parts, [&](Index part, int) {
      const detail::RowRange run = detail::part_of(z.size(), part, parts);
      auto gradient = z.segment(run.first, run.count);
      activation.backward(a.segment(run.first, run.count), gradient);
    });
  }

  /// ws.Z: dL/dZ (n, cout*P)  ->  g.W = C^T dZ: (K, cout), g.b = 1^T dZ: (1, cout), and dX =
  /// col2im(dZ W^T): (n, cin*h*w), the sum over every window that saw each input
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>&, const W& ws, G& g, DX& dx) {
    const auto& p = layer.parameters();
    if constexpr (wants_input_gradient<DX>) {
      detail::convolution_gradients(ws.Z, &p.W, ws.columns, ws.partial, g.W, g.bias());
      detail::col2im(layer.settings().geometry, output_shape(layer.settings()), ws.columns, dx);
    } else {
      detail::convolution_gradients(ws.Z, decltype(&p.W){}, ws.columns, ws.partial, g.W, g.bias());
    }
  }

  /// "relu, 3x3 filters, stride 1x1, padding 1x1"
  template <class Layer>
  static std::string describe(const Layer& layer) {
    const Conv2DSettings& g = layer.settings().geometry;
    return detail::concat(std::string(detail::name_of(layer.activation())),
                          has_bias ? "" : " without bias", ", ", g.kernel.string(),
                          " filters, stride ", g.stride.string(), ", padding ", g.padding.string());
  }

  // Model files: the activation, the bias flag and the geometry, all of which a network must share
  // to load the layer (u64 each: input channels, height, width, filters, then kernel, stride and
  // padding as height, width); nothing else to restore.
  template <class Writer, class Layer>
  static void write_config(Writer& w, const Layer& layer) {
    const Conv2DSettings& g = layer.settings().geometry;
    detail::write_activation_and_bias(w, layer.activation(), HasBias);
    for (Index v :
         {g.input.channels, g.input.height, g.input.width, g.filters, g.kernel.height,
          g.kernel.width, g.stride.height, g.stride.width, g.padding.height, g.padding.width})
      w.u64(static_cast<std::uint64_t>(v));
  }
  /// Builds the Conv2D of the file's activation, bias and geometry. Every size is at most the
  /// layer's widths (a stride or a padding, too, or it is useless).
  template <class Reader, class Make>
  static void read(Reader& r, Index in, Index out, Make&& make) {
    const auto [activation, bias] = detail::read_activation_and_bias(r, make);
    const auto v = r.template sizes<10>(0, std::max(in, out), "conv2d");
    const Conv2DSettings g{{v[0], v[1], v[2]}, v[3], {v[4], v[5]}, {v[6], v[7]}, {v[8], v[9]}};
    if (bias == Bias::on)
      make.template operator()<Conv2D<AnyActivation, Bias::on>>({g, activation});
    else
      make.template operator()<Conv2D<AnyActivation, Bias::off>>({g, activation});
  }
};

/// A convolution in a compile-time Network: Filters filters of Kernel, then Activation, and any
/// of Stride{h, w} (default 1x1), Padding{h, w} (0x0) and Bias::off, in any order. Its input shape
/// is the output shape of the layer before (or the network's Input):
///
///   Network<float, Input<1, 28, 28>, Conv<32, Window{3, 3}, ReLU, Padding{1, 1}>, ...>
template <Index Filters, Window Kernel, class Activation = ReLU, auto... Options>
struct Conv {
  static_assert(detail::options_among<Stride, Padding, Bias>(Options...),
                "Conv: after the activation come only Stride{h, w}, Padding{h, w} and Bias::off, "
                "each at most once");
  static constexpr Window stride = detail::option(Stride{1, 1}, Options...);
  static constexpr Window padding = detail::option(Padding{0, 0}, Options...);
  static constexpr Bias bias = detail::option(Bias::on, Options...);

  /// Why it cannot take an input of shape In, or SlideProblem::none.
  template <Shape In>
  static constexpr detail::SlideProblem problem = detail::slide_problem(In, Filters, Kernel, stride,
                                                                        padding);
  /// The layer it is after an output of shape In.
  template <Shape In>
  using at = Fixed<Conv2D<Activation, bias>,
                   detail::Value<typename Conv2D<Activation, bias>::Settings{
                       Conv2DSettings{In, Filters, Kernel, stride, padding}, Activation{}}>>;
};

}  // namespace backprop
