// MaxPool2D and AvgPool2D: the maximum or the mean of each window, channel by channel.
//
//   max:   A(s, c, p) = max over window(p) of X(s, c, .)     dX = dA at the first maximum, else 0
//   mean:  A(s, c, p) = mean over window(p) of X(s, c, .)    dX = dA / (kh * kw) in each window
//
// Rows are images, channel-major (shape.hpp); X and A are column-major, so a column holds one pixel
// of one channel for the whole batch, and each window's reduction runs over whole columns. No
// padding; a window of the whole image is a global average pool (Sequential::add_global_avg_pool).
// As PyTorch's max_pool2d on the CPU, a tie goes to the first maximum in the window's row-major
// order, and a NaN is the maximum (the last one in the window). No trainable parameters, no
// activation.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "../config.hpp"
#include "../layer.hpp"
#include "../shape.hpp"
#include "../threads.hpp"

namespace backprop {

/// The geometry of a pooling layer.
struct Pool2DSettings {
  Shape input;          ///< channels x height x width of each sample
  Window window{2, 2};  ///< pooled height x width
  Window stride{2, 2};  ///< step between windows (PyTorch's default: the window)
  /// channels x output height x output width; ArgumentError for an impossible geometry.
  Shape output() const {
    return detail::slide("Pool2D", input, input.channels, window, stride, {0, 0});
  }
};

namespace detail {

/// What MaxPool2D and AvgPool2D share: everything but the reduction, which Kind supplies.
template <class Kind>
struct Pool2DBase {
  static constexpr int inputs = Dynamic;
  static constexpr int outputs = Dynamic;
  static constexpr std::size_t tensor_count = 0;
  using activation = void;  ///< no activation: a network cannot end with a pool

  template <class Scalar>
  struct Parameters {
    Pool2DSettings geometry;
    Shape output;
    Parameters(Index in, Index out, const Pool2DSettings& settings)
        : geometry(settings), output(settings.output()) {
      if (in != settings.input.size() || out != output.size())
        throw ShapeError("backprop::" + std::string(Kind::title) + ": " + settings.input.string() +
                         " -> " + output.string() + " takes " +
                         std::to_string(settings.input.size()) + " values, not " +
                         std::to_string(in));
    }
  };
  /// Z, A, and for max pooling the column of X that each output came from (a column index is
  /// below 2^31: no layer is wider).
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    Eigen::Matrix<std::int32_t, Dynamic, Dynamic> from;  ///< (batch, out): MaxPool2D only
  };

  static constexpr Index parameter_count(Index, Index, const Pool2DSettings& = {}) { return 0; }
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>&, Init&) {}

  /// ws.Z: dL/dA, which is dL/dZ: no activation.
  template <class W>
  static void backward_activation(W&) {}
  /// No parameters, so no gradients.
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>&, const Workspace<Scalar, Batch>&,
                       Parameters<Scalar>&) {}
  template <class P, class G, class F>
  static void for_each_tensor(P&, G&, F&&) {}

  /// "2x2 windows, stride 2x2"
  template <class Scalar>
  static std::string describe(const Parameters<Scalar>& p) {
    return p.geometry.window.string() + " windows, stride " + p.geometry.stride.string();
  }

  // Model files: the geometry (u64 each: channels, height, width, then window and stride as
  // height, width); nothing else to restore.
  template <class Writer, class Scalar>
  static void write_config(Writer& w, const Parameters<Scalar>& p) {
    const Pool2DSettings& g = p.geometry;
    for (Index v : {g.input.channels, g.input.height, g.input.width, g.window.height,
                    g.window.width, g.stride.height, g.stride.width})
      w.u64(static_cast<std::uint64_t>(v));
  }
  template <class Writer, class Scalar>
  static void write_state(Writer&, const Parameters<Scalar>&) {}
  template <class Reader, class Scalar>
  static void read_state(Reader&, Parameters<Scalar>&) {}
  template <class Activations, class Reader, class Make>
  static void read(Reader& r, Index in, Index out, Make&& make) {
    Index v[7];
    for (Index& value : v) {
      const std::uint64_t word = r.u64();
      if (word > static_cast<std::uint64_t>(in))
        r.fail("a pooling size of " + std::to_string(word) + " exceeds the layer's input width");
      value = static_cast<Index>(word);
    }
    const Pool2DSettings s{{v[0], v[1], v[2]}, {v[3], v[4]}, {v[5], v[6]}};
    try {
      if (!detail::holds_exactly(s.input, in) || s.output().size() != out)
        r.fail(std::string(Kind::name) + " " + s.input.string() + " does not take " +
               std::to_string(in) + " values to " + std::to_string(out));
    } catch (const std::invalid_argument& e) {
      r.fail(e.what());
    }
    make.template operator()<Kind>(s);
  }

  /// f(o, corner) for each window of channel c: o its output column, corner the column of X at
  /// its top-left corner. Callers spread the channels over parallel_for's threads, which never
  /// meet: a window stays in its channel.
  template <class Scalar, class F>
  static void for_each_window(const Parameters<Scalar>& p, Index c, F&& f) {
    const Pool2DSettings& g = p.geometry;
    const Shape& out = p.output;
    for (Index oy = 0; oy < out.height; ++oy)
      for (Index ox = 0; ox < out.width; ++ox)
        f((c * out.height + oy) * out.width + ox,
          (c * g.input.height + oy * g.stride.height) * g.input.width + ox * g.stride.width);
  }
  /// Zeroes channel c's columns of dX (n, c*h*w), for a backward pass to add to.
  template <class Scalar, class DX>
  static void zeroed_channel(const Parameters<Scalar>& p, DX& dx, Index c) {
    const Index area = p.geometry.input.height * p.geometry.input.width;
    dx.middleCols(c * area, area).setZero();
  }
  /// f(offset) for each column of a window, in row-major order, from its top-left corner.
  template <class Scalar, class F>
  static void for_each_tap(const Parameters<Scalar>& p, F&& f) {
    for (Index ky = 0; ky < p.geometry.window.height; ++ky)
      for (Index kx = 0; kx < p.geometry.window.width; ++kx)
        f(ky * p.geometry.input.width + kx);
  }
};

}  // namespace detail

/// The maximum of each window.
struct MaxPool2D : detail::Pool2DBase<MaxPool2D> {
  static constexpr std::string_view name = "max_pool2d";
  static constexpr const char* title = "MaxPool2D";

  /// X: (n, c*h*w)  ->  ws.A: (n, c*ho*wo), and the column of X each maximum came from
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    const Index n = x.rows();
    ws.from.resize(n, ws.A.cols());
    detail::parallel_for(p.geometry.input.channels, [&](Index c, int) {
      for_each_window(p, c, [&](Index o, Index corner) {
        Scalar* best = &ws.A(0, o);
        std::int32_t* from = &ws.from(0, o);
        for_each_tap(p, [&](Index offset) {
          const auto column = x.col(corner + offset);
          const auto at = static_cast<std::int32_t>(corner + offset);
          if (offset == 0) {
            for (Index s = 0; s < n; ++s) {
              best[s] = column(s);
              from[s] = at;
            }
            return;
          }
          for (Index s = 0; s < n; ++s) {
            const Scalar v = column(s);
            const bool take = v > best[s] || std::isnan(v);
            best[s] = take ? v : best[s];
            from[s] = take ? at : from[s];
          }
        });
      });
    });
  }
  /// ws.Z: dL/dA  ->  dX: each gradient to the input its maximum came from
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>&,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>&, DX& dx) {
    const Index n = ws.Z.rows();
    detail::parallel_for(p.geometry.input.channels, [&](Index c, int) {
      zeroed_channel(p, dx, c);
      for_each_window(p, c, [&](Index o, Index) {
        for (Index s = 0; s < n; ++s)
          dx(s, ws.from(s, o)) += ws.Z(s, o);
      });
    });
  }
  using detail::Pool2DBase<MaxPool2D>::backward;
};

/// The mean of each window.
struct AvgPool2D : detail::Pool2DBase<AvgPool2D> {
  static constexpr std::string_view name = "avg_pool2d";
  static constexpr const char* title = "AvgPool2D";

  /// X: (n, c*h*w)  ->  ws.A: (n, c*ho*wo)
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    const Scalar scale =
        Scalar(1) / static_cast<Scalar>(p.geometry.window.height * p.geometry.window.width);
    detail::parallel_for(p.geometry.input.channels, [&](Index c, int) {
      for_each_window(p, c, [&](Index o, Index corner) {
        auto mean = ws.A.col(o);
        mean = x.col(corner);
        for_each_tap(p, [&](Index offset) {
          if (offset != 0) mean += x.col(corner + offset);
        });
        mean *= scale;
      });
    });
  }
  /// ws.Z: dL/dA  ->  dX: each window's gradient shared equally by its inputs
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>&,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>&, DX& dx) {
    const Scalar scale =
        Scalar(1) / static_cast<Scalar>(p.geometry.window.height * p.geometry.window.width);
    detail::parallel_for(p.geometry.input.channels, [&](Index c, int) {
      zeroed_channel(p, dx, c);
      for_each_window(p, c, [&](Index o, Index corner) {
        for_each_tap(p, [&](Index offset) { dx.col(corner + offset) += ws.Z.col(o) * scale; });
      });
    });
  }
  using detail::Pool2DBase<AvgPool2D>::backward;
};

/// A pooling kind (MaxPool2D, AvgPool2D) with its geometry fixed at compile time: what MaxPool,
/// AvgPool and GlobalAvgPool become in a Network. Files and messages see the kind.
template <class Kind, Pool2DSettings Geometry>
struct FixedPool2D : Kind {
  static constexpr Shape input_shape = Geometry.input;
  static constexpr Shape output_shape = detail::slid(Geometry.input, Geometry.input.channels,
                                                     Geometry.window, Geometry.stride, {0, 0});
  static constexpr int inputs = static_cast<int>(input_shape.size());
  static constexpr int outputs = static_cast<int>(output_shape.size());

  /// The kind's parameters, of this geometry.
  template <class Scalar>
  struct Parameters : Kind::template Parameters<Scalar> {
    Parameters(Index in, Index out) : Kind::template Parameters<Scalar>(in, out, Geometry) {}
  };
};

namespace detail {

/// What MaxPool and AvgPool share: the window, and a Stride{h, w} (the window unless given).
template <class Kind, Window Size, auto... Options>
struct PoolSpec {
  static_assert((std::is_same_v<std::remove_cvref_t<decltype(Options)>, Stride> && ...) &&
                    sizeof...(Options) <= 1,
                "MaxPool and AvgPool take a window and at most one Stride{h, w}");
  static constexpr Window stride = [] {
    Window s = Size;
    ((s = Options), ...);
    return s;
  }();
  template <Shape In>
  static constexpr SlideProblem problem = slide_problem(In, In.channels, Size, stride,
                                                        Window{0, 0});
  template <Shape In>
  using at = FixedPool2D<Kind, Pool2DSettings{In, Size, stride}>;
};

}  // namespace detail

/// Max pooling in a compile-time Network: windows of Size (2x2 unless given), stride the window
/// unless a Stride{h, w} follows. MaxPool<> is PyTorch's MaxPool2d(2).
template <Window Size = Window{2, 2}, auto... Options>
struct MaxPool : detail::PoolSpec<MaxPool2D, Size, Options...> {};

/// Average pooling in a compile-time Network, as MaxPool.
template <Window Size = Window{2, 2}, auto... Options>
struct AvgPool : detail::PoolSpec<AvgPool2D, Size, Options...> {};

/// The mean of each channel over the whole image, in a compile-time Network: channels outputs.
struct GlobalAvgPool {
  template <Shape In>
  static constexpr detail::SlideProblem problem = detail::SlideProblem::none;
  template <Shape In>
  using at =
      FixedPool2D<AvgPool2D, Pool2DSettings{In, {In.height, In.width}, {In.height, In.width}}>;
};

}  // namespace backprop
