// MaxPool2D and AvgPool2D: the maximum or the mean of each window, channel by channel.
//
//   max:   A(s, c, p) = max over window(p) of X(s, c, .)     dX = dA at the first maximum, else 0
//   mean:  A(s, c, p) = mean over window(p) of X(s, c, .)    dX = dA / (kh * kw) in each window
//
// Rows are images, channel-major (shape.hpp). No padding; a window of the whole image is a global
// average pool (Sequential::add_global_avg_pool). A tie goes to the first maximum in the window's
// row-major order, as PyTorch's max_pool2d on the CPU. No trainable parameters, no activation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "../config.hpp"
#include "../layer.hpp"
#include "../shape.hpp"

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
  /// Z, A, and for max pooling the column of X that each output came from.
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    Eigen::Matrix<Index, Dynamic, Dynamic> from;  ///< (batch, out): MaxPool2D only
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

  /// f(s, c, p, window_start_row, window_start_column) for each output value of each sample: the
  /// window of output pixel p of channel c.
  template <class Scalar, class F>
  static void for_each_output(const Parameters<Scalar>& p, Index batch, F&& f) {
    const Pool2DSettings& g = p.geometry;
    const Index pixels = p.output.height * p.output.width;
    for (Index c = 0; c < g.input.channels; ++c)
      for (Index oy = 0; oy < p.output.height; ++oy)
        for (Index ox = 0; ox < p.output.width; ++ox)
          for (Index s = 0; s < batch; ++s)
            f(s, c * pixels + oy * p.output.width + ox,
              (c * g.input.height + oy * g.stride.height) * g.input.width + ox * g.stride.width);
  }
};

}  // namespace detail

/// The maximum of each window.
struct MaxPool2D : detail::Pool2DBase<MaxPool2D> {
  static constexpr std::string_view name = "max_pool2d";
  static constexpr const char* title = "MaxPool2D";

  /// X: (batch, c*h*w)  ->  ws.A: (batch, c*ho*wo), and where each maximum came from
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    const Window window = p.geometry.window;
    const Index width = p.geometry.input.width;
    ws.from.resize(x.rows(), ws.A.cols());
    for_each_output(p, x.rows(), [&](Index s, Index out, Index corner) {
      Index best = corner;
      for (Index ky = 0; ky < window.height; ++ky)
        for (Index kx = 0; kx < window.width; ++kx) {
          const Index at = corner + ky * width + kx;
          if (x(s, at) > x(s, best)) best = at;
        }
      ws.A(s, out) = x(s, best);
      ws.from(s, out) = best;
    });
  }
  /// ws.Z: dL/dA  ->  dX: each gradient to the input its maximum came from
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>&, const Eigen::MatrixBase<X>&,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>&, DX& dx) {
    dx.setZero();
    for (Index out = 0; out < ws.Z.cols(); ++out)
      for (Index s = 0; s < ws.Z.rows(); ++s)
        dx(s, ws.from(s, out)) += ws.Z(s, out);
  }
  using detail::Pool2DBase<MaxPool2D>::backward;
};

/// The mean of each window.
struct AvgPool2D : detail::Pool2DBase<AvgPool2D> {
  static constexpr std::string_view name = "avg_pool2d";
  static constexpr const char* title = "AvgPool2D";

  /// X: (batch, c*h*w)  ->  ws.A: (batch, c*ho*wo)
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    const Window window = p.geometry.window;
    const Index width = p.geometry.input.width;
    const Scalar scale = Scalar(1) / static_cast<Scalar>(window.height * window.width);
    for_each_output(p, x.rows(), [&](Index s, Index out, Index corner) {
      Scalar sum = 0;
      for (Index ky = 0; ky < window.height; ++ky)
        for (Index kx = 0; kx < window.width; ++kx)
          sum += x(s, corner + ky * width + kx);
      ws.A(s, out) = sum * scale;
    });
  }
  /// ws.Z: dL/dA  ->  dX: each window's gradient shared equally by its inputs
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>&, DX& dx) {
    const Window window = p.geometry.window;
    const Index width = p.geometry.input.width;
    const Scalar scale = Scalar(1) / static_cast<Scalar>(window.height * window.width);
    dx.setZero();
    for_each_output(p, x.rows(), [&](Index s, Index out, Index corner) {
      const Scalar share = ws.Z(s, out) * scale;
      for (Index ky = 0; ky < window.height; ++ky)
        for (Index kx = 0; kx < window.width; ++kx)
          dx(s, corner + ky * width + kx) += share;
    });
  }
  using detail::Pool2DBase<AvgPool2D>::backward;
};

}  // namespace backprop
