// Shape and Window: the geometry of image layers.
//
// Rows are samples everywhere. An image row holds channels x height x width values in
// channel-major order, value (c, y, x) at column (c * height + y) * width + x: what PyTorch's
// x.flatten(1) gives for an NCHW tensor, so data lines up with PyTorch's without a copy. A dense
// layer's output of n values is the shape {n, 1, 1}.
#pragma once

#include <string>

#include "config.hpp"

namespace backprop {

/// channels x height x width.
struct Shape {
  Index channels = 1;
  Index height = 1;
  Index width = 1;

  /// The values per sample: channels * height * width.
  constexpr Index size() const { return channels * height * width; }
  /// "32x14x14"
  std::string string() const {
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
  }
  friend constexpr bool operator==(const Shape&, const Shape&) = default;
};

/// A height and a width: of a kernel, a stride or a padding.
struct Window {
  Index height = 1;
  Index width = 1;

  /// "3x3"
  std::string string() const { return std::to_string(height) + "x" + std::to_string(width); }
  friend constexpr bool operator==(const Window&, const Window&) = default;
};

namespace detail {

/// Whether every dimension of `shape` is positive and its size at most `limit`, decided with
/// divisions, so that no product of a file's (or a caller's) sizes can overflow.
constexpr bool size_within(const Shape& shape, Index limit) {
  return shape.channels >= 1 && shape.height >= 1 && shape.width >= 1 &&
         shape.height <= limit / shape.channels &&
         shape.width <= limit / (shape.channels * shape.height);
}
/// Whether `shape` is exactly `width` values per row, decided without overflow.
constexpr bool holds_exactly(const Shape& shape, Index width) {
  return size_within(shape, width) && shape.size() == width;
}

/// The output shape of a window sliding over `input` (zero padding on every side), or an
/// ArgumentError naming `layer`, the shapes and what is impossible.
inline Shape slide(const char* layer, const Shape& input, Index channels, const Window& kernel,
                   const Window& stride, const Window& padding) {
  const auto fail = [&](const std::string& what) {
    throw ArgumentError(std::string("backprop::") + layer + ": " + what + " (input " +
                        input.string() + ", kernel " + kernel.string() + ", stride " +
                        stride.string() + ", padding " + padding.string() + ")");
  };
  if (input.channels < 1 || input.height < 1 || input.width < 1)
    fail("the input shape must be positive");
  constexpr Index limit = Index(1) << 31;  // no sum or product below can overflow
  for (Index v : {input.channels, input.height, input.width, channels, kernel.height, kernel.width,
                  stride.height, stride.width, padding.height, padding.width})
    if (v > limit) fail("a size of " + std::to_string(v) + " is beyond 2^31");
  if (channels < 1) fail("it needs at least one output channel, got " + std::to_string(channels));
  if (kernel.height < 1 || kernel.width < 1) fail("the kernel must be at least 1x1");
  if (stride.height < 1 || stride.width < 1) fail("the stride must be at least 1x1");
  if (padding.height < 0 || padding.width < 0) fail("the padding cannot be negative");
  if (padding.height >= kernel.height || padding.width >= kernel.width)
    fail("the padding must be smaller than the kernel, or some outputs would see only zeros");
  const Index height = input.height + 2 * padding.height, width = input.width + 2 * padding.width;
  if (kernel.height > height || kernel.width > width)
    fail("the kernel is larger than the padded input, " + std::to_string(height) + "x" +
         std::to_string(width));
  return {channels, (height - kernel.height) / stride.height + 1,
          (width - kernel.width) / stride.width + 1};
}

}  // namespace detail

}  // namespace backprop
