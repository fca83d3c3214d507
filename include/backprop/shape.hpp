// Shape and Window: the geometry of image layers.
//
// Rows are samples everywhere. An image row holds channels x height x width values in
// channel-major order, value (c, y, x) at column (c * height + y) * width + x: what PyTorch's
// x.flatten(1) gives for an NCHW tensor, so data lines up with PyTorch's without a copy. A dense
// layer's output of n values is the shape {n, 1, 1}.
#pragma once

#include <string>
#include <type_traits>

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

/// A stride and a padding by name, for the template arguments of a compile-time network's image
/// layers, which say which is which: Conv<32, Window{3, 3}, ReLU, Stride{2, 2}, Padding{1, 1}>.
struct Stride : Window {};
/// Zeros added on each side: see Stride.
struct Padding : Window {};

/// The shape of a compile-time network's input, first in its list of layers:
/// Network<float, Input<1, 28, 28>, Conv<...>, ...>. It is not a layer.
template <Index Channels, Index Height, Index Width>
struct Input {
  static constexpr Shape shape{Channels, Height, Width};
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

template <class T, class... Allowed>
inline constexpr bool one_of = (std::is_same_v<T, Allowed> || ...);
template <class T, class... Options>
inline constexpr int count_of = (0 + ... + int(std::is_same_v<Options, T>));

/// Whether each of a compile-time layer's options is of one of the Allowed types, each type at
/// most once.
template <class... Allowed, class... Options>
constexpr bool options_among(Options...) {
  return (one_of<Options, Allowed...> && ...) && ((count_of<Allowed, Options...> <= 1) && ...);
}

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

/// What can make a window's slide over an input impossible.
enum class SlideProblem {
  none,
  input_not_positive,  ///< a dimension of the input below 1
  beyond_limit,        ///< a size beyond 2^31
  no_channels,         ///< fewer than one output channel
  empty_kernel,        ///< a kernel smaller than 1x1
  zero_stride,         ///< a stride smaller than 1x1
  negative_padding,
  padding_not_below_kernel,  ///< some outputs would see only zeros
  kernel_beyond_input,       ///< the kernel is larger than the padded input
};

/// Why a window of `kernel` sliding over `input` by `stride`, with `padding` zeros on every side,
/// making `channels` channels, is impossible; SlideProblem::none when it is possible.
constexpr SlideProblem slide_problem(const Shape& input, Index channels, const Window& kernel,
                                     const Window& stride, const Window& padding) {
  if (input.channels < 1 || input.height < 1 || input.width < 1)
    return SlideProblem::input_not_positive;
  constexpr Index limit = Index(1) << 31;  // no sum or product below can overflow
  for (Index v : {input.channels, input.height, input.width, channels, kernel.height, kernel.width,
                  stride.height, stride.width, padding.height, padding.width})
    if (v > limit) return SlideProblem::beyond_limit;
  if (channels < 1) return SlideProblem::no_channels;
  if (kernel.height < 1 || kernel.width < 1) return SlideProblem::empty_kernel;
  if (stride.height < 1 || stride.width < 1) return SlideProblem::zero_stride;
  if (padding.height < 0 || padding.width < 0) return SlideProblem::negative_padding;
  if (padding.height >= kernel.height || padding.width >= kernel.width)
    return SlideProblem::padding_not_below_kernel;
  if (kernel.height > input.height + 2 * padding.height ||
      kernel.width > input.width + 2 * padding.width)
    return SlideProblem::kernel_beyond_input;
  return SlideProblem::none;
}

/// The output shape of a possible slide (slide_problem gives none): channels x the number of
/// window positions down x across.
constexpr Shape slid(const Shape& input, Index channels, const Window& kernel, const Window& stride,
                     const Window& padding) {
  return {channels, (input.height + 2 * padding.height - kernel.height) / stride.height + 1,
          (input.width + 2 * padding.width - kernel.width) / stride.width + 1};
}

/// The output shape of a window sliding over `input`, or an ArgumentError naming `layer`, the
/// shapes and what is impossible.
inline Shape slide(const char* layer, const Shape& input, Index channels, const Window& kernel,
                   const Window& stride, const Window& padding) {
  const SlideProblem problem = slide_problem(input, channels, kernel, stride, padding);
  if (problem == SlideProblem::none) return slid(input, channels, kernel, stride, padding);
  std::string what;
  switch (problem) {
    case SlideProblem::input_not_positive:
      what = "the input shape must be positive";
      break;
    case SlideProblem::beyond_limit:
      for (Index v : {input.channels, input.height, input.width, channels, kernel.height,
                      kernel.width, stride.height, stride.width, padding.height, padding.width})
        if (v > (Index(1) << 31)) what = "a size of " + std::to_string(v) + " is beyond 2^31";
      break;
    case SlideProblem::no_channels:
      what = "it needs at least one output channel, got " + std::to_string(channels);
      break;
    case SlideProblem::empty_kernel:
      what = "the kernel must be at least 1x1";
      break;
    case SlideProblem::zero_stride:
      what = "the stride must be at least 1x1";
      break;
    case SlideProblem::negative_padding:
      what = "the padding cannot be negative";
      break;
    case SlideProblem::padding_not_below_kernel:
      what = "the padding must be smaller than the kernel, or some outputs would see only zeros";
      break;
    case SlideProblem::kernel_beyond_input:
      what = "the kernel is larger than the padded input, " +
             std::to_string(input.height + 2 * padding.height) + "x" +
             std::to_string(input.width + 2 * padding.width);
      break;
    case SlideProblem::none:
      break;
  }
  throw ArgumentError(std::string("backprop::") + layer + ": " + what + " (input " +
                      input.string() + ", kernel " + kernel.string() + ", stride " +
                      stride.string() + ", padding " + padding.string() + ")");
}

}  // namespace detail

}  // namespace backprop
