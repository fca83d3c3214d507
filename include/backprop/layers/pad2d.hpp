// Pad2D: a border of one constant around each channel of image rows (PyTorch's ZeroPad2d and
// ConstantPad2d, ONNX's Pad): the padding that differs between sides, which Conv2D's own (the
// same on both sides) cannot express, and the -inf border of a max pool that pads.
//
//   forward:   A = X inside the border     X: (n, c*h*w)  ->  A: (n,
//   c*(top+h+bottom)*(left+w+right)) backward:  dX = dL/dA without the border
//
// Layout as every image layer's (conv2d.hpp): a column is one pixel of one channel for the whole
// batch, so each row of a channel moves as one block of columns. Nothing in it is trained.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "../config.hpp"
#include "../shape.hpp"
#include "protocol.hpp"

namespace backprop {

/// What a Pad2D adds around each channel of its input.
struct Pad2DSettings {
  Shape input;                  ///< channels x height x width of each sample
  Index top = 0, left = 0;      ///< rows above, columns to the left
  Index bottom = 0, right = 0;  ///< rows below, columns to the right
  double value = 0;             ///< what the border holds: finite, or -infinity

  /// channels x (top + height + bottom) x (left + width + right)
  constexpr Shape output() const {
    return {input.channels, top + input.height + bottom, left + input.width + right};
  }
};

struct Pad2D {
  static constexpr std::string_view name = "pad2d";
  using Settings = Pad2DSettings;

  static constexpr Shape input_shape(const Settings& s) { return s.input; }
  static constexpr Shape output_shape(const Settings& s) { return s.output(); }

  /// Throws ArgumentError for a negative side or a value that is NaN or +inf, ShapeError for
  /// widths that are not the shapes'.
  static void check(Index in, Index out, const Settings& s) {
    if (s.top < 0 || s.left < 0 || s.bottom < 0 || s.right < 0 ||
        s.top + s.bottom > (Index(1) << 31) || s.left + s.right > (Index(1) << 31))
      throw ArgumentError("backprop::Pad2D: each side must be in [0, 2^31], got " + sides(s));
    if (std::isnan(s.value) || s.value == std::numeric_limits<double>::infinity())
      throw ArgumentError("backprop::Pad2D: the border must be finite or -infinity, got " +
                          detail::number_string(s.value));
    if (!detail::size_within(s.input, Index(1) << 31) ||
        !detail::size_within(s.output(), Index(1) << 31) || in != s.input.size() ||
        out != s.output().size())
      throw ShapeError("backprop::Pad2D: " + s.input.string() + " -> " + s.output().string() +
                       " does not take " + std::to_string(in) + " values to " +
                       std::to_string(out));
  }

  /// X: (n, c*h*w)  ->  ws.A: (n, c*H*W), X inside a border of `value`
  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    using Scalar = typename X::Scalar;
    const Settings& s = layer.settings();
    ws.A.setConstant(s.value == -std::numeric_limits<double>::infinity()
                         ? -std::numeric_limits<Scalar>::infinity()
                         : static_cast<Scalar>(s.value));
    for_each_row(s, [&](Index from, Index to) {
      ws.A.middleCols(to, s.input.width) = x.middleCols(from, s.input.width);
    });
  }
  /// ws.Z: dL/dA (n, c*H*W)  ->  dX: (n, c*h*w), the inside of dL/dA
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>&, const W& ws, G&, DX& dx) {
    const Settings& s = layer.settings();
    for_each_row(s, [&](Index from, Index to) {
      dx.middleCols(from, s.input.width) = ws.Z.middleCols(to, s.input.width);
    });
  }

  /// "top 1, left 1, bottom 2, right 2 of 0"
  template <class Layer>
  static std::string describe(const Layer& layer) {
    return sides(layer.settings()) + " of " + detail::number_string(layer.settings().value);
  }

  // Model files: the input shape and the sides (u64 each: channels, height, width, top, left,
  // bottom, right), then the border's value (f64).
  template <class Writer, class Layer>
  static void write_config(Writer& w, const Layer& layer) {
    const Settings& s = layer.settings();
    for (Index v :
         {s.input.channels, s.input.height, s.input.width, s.top, s.left, s.bottom, s.right})
      w.u64(static_cast<std::uint64_t>(v));
    w.f64(s.value);
  }
  template <class Reader, class Make>
  static void read(Reader& r, Index, Index out, Make&& make) {
    const auto v = r.template sizes<7>(0, out, name);
    make.template operator()<Pad2D>(Settings{{v[0], v[1], v[2]}, v[3], v[4], v[5], v[6], r.f64()});
  }

 private:
  static std::string sides(const Settings& s) {
    return "top " + std::to_string(s.top) + ", left " + std::to_string(s.left) + ", bottom " +
           std::to_string(s.bottom) + ", right " + std::to_string(s.right);
  }
  // f(first column of an input row, first column of where it goes) for each row of each channel.
  template <class F>
  static void for_each_row(const Settings& s, F&& f) {
    const Shape out = s.output();
    for (Index c = 0; c < s.input.channels; ++c)
      for (Index y = 0; y < s.input.height; ++y)
        f((c * s.input.height + y) * s.input.width,
          (c * out.height + s.top + y) * out.width + s.left);
  }
};

}  // namespace backprop
