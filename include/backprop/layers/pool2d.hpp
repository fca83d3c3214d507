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
#include "../parallel/threads.hpp"
#include "../shape.hpp"
#include "protocol.hpp"

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
  using Settings = Pool2DSettings;
  static constexpr Shape input_shape(const Settings& s) { return s.input; }
  static constexpr Shape output_shape(const Settings& s) {
    return slid(s.input, s.input.channels, s.window, s.stride, {0, 0});
  }

  /// Z, A, and for max pooling the column of X that each output came from (a column index is
  /// below 2^31: no layer is wider).
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    Eigen::Matrix<std::int32_t, Dynamic, Dynamic> from;  ///< (batch, out): MaxPool2D only
  };

  /// Throws ArgumentError for an impossible geometry, ShapeError for widths that are not its.
  static void check(Index in, Index out, const Settings& s) {
    const Shape output = s.output();
    if (in != s.input.size() || out != output.size())
      throw ShapeError("backprop::" + std::string(Kind::label) + ": " + s.input.string() + " -> " +
                       output.string() + " takes " + std::to_string(s.input.size()) +
                       " values, not " + std::to_string(in));
  }

  /// "2x2 windows, stride 2x2"
  template <class Layer>
  static std::string describe(const Layer& layer) {
    return layer.settings().window.string() + " windows, stride " +
           layer.settings().stride.string();
  }

  // Model files: the geometry (u64 each: channels, height, width, then window and stride as
  // height, width); nothing else to restore.
  template <class Writer, class Layer>
  static void write_config(Writer& w, const Layer& layer) {
    const Pool2DSettings& g = layer.settings();
    for (Index v : {g.input.channels, g.input.height, g.input.width, g.window.height,
                    g.window.width, g.stride.height, g.stride.width})
      w.u64(static_cast<std::uint64_t>(v));
  }
  template <class Reader, class Make>
  static void read(Reader& r, Index in, Index, Make&& make) {
    const auto v = r.template sizes<7>(0, in, Kind::name);
    make.template operator()<Kind>({{v[0], v[1], v[2]}, {v[3], v[4]}, {v[5], v[6]}});
  }

  /// f(o, corner) for each window of channel c: o its output column, corner the column of X at
  /// its top-left corner. Callers spread the channels over parallel_for's threads, which never
  /// meet: a window stays in its channel.
  template <class F>
  static void for_each_window(const Settings& g, Index c, F&& f) {
    const Shape out = output_shape(g);
    for (Index oy = 0; oy < out.height; ++oy)
      for (Index ox = 0; ox < out.width; ++ox)
        f((c * out.height + oy) * out.width + ox,
          (c * g.input.height + oy * g.stride.height) * g.input.width + ox * g.stride.width);
  }
  /// Zeroes channel c's columns of dX (n, c*h*w), for a backward pass to add to.
  template <class DX>
  static void zeroed_channel(const Settings& g, DX& dx, Index c) {
    const Index area = g.input.height * g.input.width;
    dx.middleCols(c * area, area).setZero();
  }
  /// f(offset) for each column of a window, in row-major order, from its top-left corner.
  template <class F>
  static void for_each_tap(const Settings& g, F&& f) {
    for (Index ky = 0; ky < g.window.height; ++ky)
      for (Index kx = 0; kx < g.window.width; ++kx)
        f(ky * g.input.width + kx);
  }
};

}  // namespace detail

/// The maximum of each window.
struct MaxPool2D : detail::Pool2DBase<MaxPool2D> {
  static constexpr std::string_view name = "max_pool2d";
  static constexpr std::string_view label = "MaxPool2D";

  /// X: (n, c*h*w)  ->  ws.A: (n, c*ho*wo), and the column of X each maximum came from
  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    using Scalar = typename X::Scalar;
    const Pool2DSettings& g = layer.settings();
    const Index n = x.rows();
    ws.from.resize(n, ws.A.cols());
    detail::parallel_for(g.input.channels, [&](Index c, int) {
      for_each_window(g, c, [&](Index o, Index corner) {
        Scalar* best = &ws.A(0, o);
        std::int32_t* from = &ws.from(0, o);
        for_each_tap(g, [&](Index offset) {
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
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>&, const W& ws, G&, DX& dx) {
    const Pool2DSettings& g = layer.settings();
    const Index n = ws.Z.rows();
    detail::parallel_for(g.input.channels, [&](Index c, int) {
      zeroed_channel(g, dx, c);
      for_each_window(g, c, [&](Index o, Index) {
        for (Index s = 0; s < n; ++s)
          dx(s, ws.from(s, o)) += ws.Z(s, o);
      });
    });
  }
};

/// The mean of each window.
struct AvgPool2D : detail::Pool2DBase<AvgPool2D> {
  static constexpr std::string_view name = "avg_pool2d";
  static constexpr std::string_view label = "AvgPool2D";

  /// X: (n, c*h*w)  ->  ws.A: (n, c*ho*wo)
  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    const Pool2DSettings& g = layer.settings();
    const auto scale =
        typename X::Scalar(1) / static_cast<typename X::Scalar>(g.window.height * g.window.width);
    detail::parallel_for(g.input.channels, [&](Index c, int) {
      for_each_window(g, c, [&](Index o, Index corner) {
        auto mean = ws.A.col(o);
        mean = x.col(corner);
        for_each_tap(g, [&](Index offset) {
          if (offset != 0) mean += x.col(corner + offset);
        });
        mean *= scale;
      });
    });
  }
  /// ws.Z: dL/dA  ->  dX: each window's gradient shared equally by its inputs
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>&, const W& ws, G&, DX& dx) {
    using Scalar = typename W::Scalar;
    const Pool2DSettings& g = layer.settings();
    const Scalar scale = Scalar(1) / static_cast<Scalar>(g.window.height * g.window.width);
    detail::parallel_for(g.input.channels, [&](Index c, int) {
      zeroed_channel(g, dx, c);
      for_each_window(g, c, [&](Index o, Index corner) {
        for_each_tap(g, [&](Index offset) { dx.col(corner + offset) += ws.Z.col(o) * scale; });
      });
    });
  }
};

namespace detail {

/// What MaxPool and AvgPool share: the window, and a Stride{h, w} (the window unless given).
template <class Kind, Window Size, auto... Options>
struct PoolSpec {
  static_assert(options_among<Stride>(Options...),
                "MaxPool and AvgPool take a window and at most one Stride{h, w}");
  static constexpr Window stride = option(Stride{Size}, Options...);
  template <Shape In>
  static constexpr SlideProblem problem = slide_problem(In, In.channels, Size, stride,
                                                        Window{0, 0});
  template <Shape In>
  using at = Fixed<Kind, Value<Pool2DSettings{In, Size, stride}>>;
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
  using at = Fixed<AvgPool2D,
                   detail::Value<Pool2DSettings{In, {In.height, In.width}, {In.height, In.width}}>>;
};

}  // namespace backprop
