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
#include "../config.hpp"
#include "../init.hpp"
#include "../layer.hpp"
#include "../shape.hpp"
#include "../threads.hpp"
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

  /// Z and A (n, cout*P); C = im2col(X) (P*n, K), which backward turns into dC; the partial sums
  /// of dW and db (mutable: backward only reads the workspace otherwise).
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    mutable Eigen::Matrix<Scalar, Dynamic, Dynamic> columns, partial;
  };

  /// cin * kh * kw: the values one output pixel sees.
  static Index window_size(const Conv2DSettings& s) {
    return s.input.channels * s.kernel.height * s.kernel.width;
  }
  /// K * cout weights, plus cout biases.
  static Index parameter_count(Index, Index, const Conv2DSettings& s) {
    return window_size(s) * s.filters + (has_bias ? s.filters : 0);
  }

  /// W from the initializer, with PyTorch's fans: fan_in = cin*kh*kw, fan_out = cout*kh*kw; b zero.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>& p, Init& init) {
    const Index area = p.geometry.kernel.height * p.geometry.kernel.width;
    fill_weights(init, p.W, Fans{p.W.rows(), p.W.cols() * area});
    if constexpr (has_bias) p.b.setZero();
  }

  /// Whether f(z) is elementwise: it then runs on each block of Z as the product makes it.
  static constexpr bool elementwise = std::is_base_of_v<Elementwise<Activation>, Activation>;

  /// X: (n, cin*h*w)  ->  ws.Z = conv(X): (n, cout*P), ws.A = f(Z)
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    const Eigen::Matrix<Scalar, 1, Dynamic>* bias = nullptr;
    if constexpr (has_bias) bias = &p.b;
    auto z = detail::as_products(ws.Z, p.W.cols());
    auto a = detail::as_products(ws.A, p.W.cols());
    detail::convolve(p.geometry, p.output, p.W, bias, x, ws.columns, ws.Z,
                     [&](Index first, Index rows) {
                       if constexpr (elementwise) {
                         auto out = a.middleRows(first, rows);
                         Activation::forward(z.middleRows(first, rows), out);
                       }
                     });
    if constexpr (!elementwise) Activation::forward(ws.Z, ws.A);
  }

  /// ws.Z: dL/dA on entry  ->  dL/dZ = dL/dA .* f'(A)
  template <class Scalar, int Batch>
  static void backward_activation(Workspace<Scalar, Batch>& ws) {
    if constexpr (elementwise) {
      // Z and A are contiguous: one long column each, of which each thread takes a run.
      using Column = Eigen::Matrix<Scalar, Dynamic, 1>;
      Eigen::Map<Column> z(ws.Z.data(), ws.Z.size());
      const Eigen::Map<const Column> a(ws.A.data(), ws.A.size());
      const Index parts = detail::parallel_threads();
      detail::parallel_for(parts, [&](Index part, int) {
        const detail::RowRange run = detail::part_of(z.size(), part, parts);
        auto gradient = z.segment(run.first, run.count);
        Activation::backward(a.segment(run.first, run.count), gradient);
      });
    } else {
      Activation::backward(ws.A, ws.Z);
    }
  }

  /// ws.Z: dL/dZ (n, cout*P)  ->  g.W = C^T dZ: (K, cout), g.b = 1^T dZ: (1, cout)
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>&, const Workspace<Scalar, Batch>& ws,
                       Parameters<Scalar>& g) {
    detail::convolution_gradients<Scalar>(ws.Z, nullptr, ws.columns, ws.partial, g.W, bias_of(g));
  }

  /// As above, and dX = col2im(dZ W^T): (n, cin*h*w), the sum over every window that saw each
  /// input.
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>&,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>& g, DX& dx) {
    detail::convolution_gradients<Scalar>(ws.Z, &p.W, ws.columns, ws.partial, g.W, bias_of(g));
    detail::col2im(p.geometry, p.output, ws.columns, dx);
  }

  /// The bias of p, or null without one.
  template <class Scalar>
  static Eigen::Matrix<Scalar, 1, Dynamic>* bias_of(Parameters<Scalar>& p) {
    if constexpr (has_bias)
      return &p.b;
    else
      return nullptr;
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

namespace detail {

/// The value of the option of type T among `options`, or `fallback` when there is none.
template <class T, class... Options>
constexpr T option(T fallback, Options... options) {
  T found = fallback;
  (
      [&] {
        if constexpr (std::is_same_v<Options, T>) found = options;
      }(),
      ...);
  return found;
}

/// How many of `Options` are of type T.
template <class T, class... Options>
inline constexpr int count_of = (0 + ... + int(std::is_same_v<Options, T>));

}  // namespace detail

/// Conv2D with its geometry fixed at compile time: what Conv becomes in a Network, whose shapes
/// are then checked and computed by the compiler. Files and messages see a Conv2D.
template <class Activation, Bias HasBias, Conv2DSettings Geometry>
struct FixedConv2D : Conv2D<Activation, HasBias> {
  static constexpr Shape input_shape = Geometry.input;
  static constexpr Shape output_shape = detail::slid(
      Geometry.input, Geometry.filters, Geometry.kernel, Geometry.stride, Geometry.padding);
  static constexpr int inputs = static_cast<int>(input_shape.size());
  static constexpr int outputs = static_cast<int>(output_shape.size());

  /// Conv2D's parameters, of this geometry.
  template <class Scalar>
  struct Parameters : Conv2D<Activation, HasBias>::template Parameters<Scalar> {
    Parameters(Index in, Index out)
        : Conv2D<Activation, HasBias>::template Parameters<Scalar>(in, out, Geometry) {}
  };
};

/// A convolution in a compile-time Network: Filters filters of Kernel, then Activation, and any
/// of Stride{h, w} (default 1x1), Padding{h, w} (0x0) and Bias::off, in any order. Its input shape
/// is the output shape of the layer before (or the network's Input):
///
///   Network<float, Input<1, 28, 28>, Conv<32, Window{3, 3}, ReLU, Padding{1, 1}>, ...>
template <Index Filters, Window Kernel, class Activation = ReLU, auto... Options>
struct Conv {
  static_assert(((std::is_same_v<std::remove_cvref_t<decltype(Options)>, Stride> ||
                  std::is_same_v<std::remove_cvref_t<decltype(Options)>, Padding> ||
                  std::is_same_v<std::remove_cvref_t<decltype(Options)>, Bias>)&&...),
                "Conv: after the activation come only Stride{h, w}, Padding{h, w} and Bias::off");
  static_assert(detail::count_of<Stride, std::remove_cvref_t<decltype(Options)>...> <= 1 &&
                    detail::count_of<Padding, std::remove_cvref_t<decltype(Options)>...> <= 1 &&
                    detail::count_of<Bias, std::remove_cvref_t<decltype(Options)>...> <= 1,
                "Conv: give each of Stride, Padding and Bias at most once");
  static constexpr Window stride = detail::option(Stride{1, 1}, Options...);
  static constexpr Window padding = detail::option(Padding{0, 0}, Options...);
  static constexpr Bias bias = detail::option(Bias::on, Options...);

  /// Why it cannot take an input of shape In, or SlideProblem::none.
  template <Shape In>
  static constexpr detail::SlideProblem problem = detail::slide_problem(In, Filters, Kernel, stride,
                                                                        padding);
  /// The layer it is after an output of shape In.
  template <Shape In>
  using at = FixedConv2D<Activation, bias, Conv2DSettings{In, Filters, Kernel, stride, padding}>;
};

}  // namespace backprop
