// BatchNorm: batch normalization (Ioffe and Szegedy, 2015), per channel, as PyTorch's BatchNorm1d
// and BatchNorm2d.
//
//   training:  X^ = (X - mean) / sqrt(var + eps)      mean, var of the batch (biased), per channel
//              A = gamma X^ + beta                      over every sample and pixel of the channel
//   inference: the same with the running mean and variance instead of the batch's
//   backward:  dgamma = sum dA .* X^      dbeta = sum dA
//              dX = gamma / (n sqrt(var + eps)) (n dA - sum dA - X^ sum(dA .* X^))   n = batch*h*w
//
// A dense layer's output of n values is n channels of one pixel (BatchNorm1d); an image's channels
// are normalized over batch and pixels (BatchNorm2d). The running statistics move by momentum
// toward each batch's (the variance unbiased, as PyTorch's), are saved in model files, and change
// only once a training step is known to succeed (commit).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ratio>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <Eigen/Core>

#include "../config.hpp"
#include "../parallel/threads.hpp"
#include "../shape.hpp"
#include "protocol.hpp"

namespace backprop {

/// What defines a BatchNorm layer: the shape it normalizes and PyTorch's two settings.
struct BatchNormSettings {
  Shape input;            ///< channels x height x width (a dense output: n x 1 x 1)
  double momentum = 0.1;  ///< how far the running statistics move toward each batch's
  double epsilon = 1e-5;  ///< added to the variance
};

namespace detail {
/// BatchNorm's settings for shape In and a momentum and an epsilon given as std::ratio, as a type:
/// what Fixed takes (a double is not a template argument on every compiler).
template <Shape In, class Momentum, class Epsilon>
struct BatchNormConstant {
  static constexpr BatchNormSettings value{In, double(Momentum::num) / double(Momentum::den),
                                           double(Epsilon::num) / double(Epsilon::den)};
};
}  // namespace detail

/// Normalizes each channel over the batch (and the pixels of images), then scales and shifts it.
///
/// In a compile-time Network, BatchNorm itself normalizes the shape before it with PyTorch's
/// momentum and epsilon, and BatchNorm::With<std::ratio<1, 100>> (a momentum, then an epsilon)
/// with others:
///   Network<float, Input<1, 28, 28>, Conv<32, Window{3, 3}>, BatchNorm, MaxPool<>, ...>
struct BatchNorm {
  static constexpr std::string_view name = "batch_norm";
  static constexpr bool batch_dependent = true;  ///< training normalizes by the batch's statistics
  using Settings = BatchNormSettings;

  /// In a compile-time Network, with a momentum and an epsilon of one's own (std::ratio).
  template <class Momentum, class Epsilon = std::ratio<1, 100000>>
  struct With {
    static_assert(std::ratio_greater_equal_v<Momentum, std::ratio<0>> &&
                      std::ratio_less_equal_v<Momentum, std::ratio<1>> &&
                      std::ratio_greater_v<Epsilon, std::ratio<0>>,
                  "BatchNorm::With: the momentum must be in [0, 1] and epsilon positive");
    template <Shape In>
    static constexpr detail::SlideProblem problem = detail::SlideProblem::none;
    template <Shape In>
    using at = Fixed<BatchNorm, detail::BatchNormConstant<In, Momentum, Epsilon>>;
  };
  /// In a compile-time Network: the layer it is after an output of shape In.
  template <Shape In>
  static constexpr detail::SlideProblem problem = detail::SlideProblem::none;
  template <Shape In>
  using at = typename With<std::ratio<1, 10>>::template at<In>;

  static constexpr Shape input_shape(const Settings& s) { return s.input; }
  static constexpr Shape output_shape(const Settings& s) { return s.input; }

  /// gamma and beta (1, channels): A = gamma X^ + beta.
  template <class Scalar>
  struct Tensors {
    Eigen::Matrix<Scalar, 1, Dynamic> gamma, beta;
    Tensors(Index, Index, const Settings& s) {
      gamma.setOnes(s.input.channels);
      beta.setZero(s.input.channels);
    }
  };
  /// gamma, then beta.
  template <class T>
  static auto tensors(T& t) {
    return std::tie(t.gamma, t.beta);
  }
  /// The running mean and variance (1, channels): what inference normalizes with.
  template <class Scalar>
  struct State {
    Eigen::Matrix<Scalar, 1, Dynamic> running_mean, running_variance;
    State(Index, Index, const Settings& s) {
      running_mean.setZero(s.input.channels);
      running_variance.setOnes(s.input.channels);
    }
  };

  /// Z, A (batch, c*h*w); X^ of the batch, 1 / sqrt(var + eps), and the running statistics that
  /// commit() keeps.
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    Eigen::Matrix<Scalar, Dynamic, Dynamic> normalized;
    Eigen::Matrix<Scalar, 1, Dynamic> inverse_deviation, next_mean, next_variance;
  };

  /// Throws ShapeError for widths that are not the shape's, ArgumentError for a momentum outside
  /// [0, 1] or an epsilon that is not positive.
  static void check(Index in, Index out, const Settings& s) {
    const Shape& shape = s.input;
    if (!detail::holds_exactly(shape, in) || out != in)
      throw ShapeError("backprop::BatchNorm: the shape " + shape.string() + " does not take " +
                       std::to_string(in) + " values to " + std::to_string(out));
    if (!(s.momentum >= 0 && s.momentum <= 1) || !(s.epsilon > 0) || !std::isfinite(s.epsilon))
      throw ArgumentError(
          "backprop::BatchNorm: momentum must be in [0, 1] and epsilon positive "
          "and finite, got momentum " +
          detail::number_string(s.momentum) + " and epsilon " + detail::number_string(s.epsilon));
  }
  static Index parameter_count(Index, Index, const Settings& s) { return 2 * s.input.channels; }

  /// gamma 1, beta 0, running mean 0, running variance 1: PyTorch's start; nothing to draw.
  template <class Layer, class Init>
  static void initialize(Layer& layer, Init&) {
    layer.parameters().gamma.setOnes();
    layer.parameters().beta.setZero();
    layer.state().running_mean.setZero();
    layer.state().running_variance.setOnes();
  }

  /// Inference: the running statistics. Channels are columns [c*P, (c+1)*P) of X, spread over
  /// parallel_for's threads.
  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    using Scalar = typename X::Scalar;
    const Settings& s = layer.settings();
    const auto& p = layer.parameters();
    const auto& state = layer.state();
    const Index pixels = s.input.height * s.input.width;
    detail::parallel_for(p.gamma.size(), [&](Index c, int) {
      const Scalar scale =
          p.gamma(c) / std::sqrt(state.running_variance(c) + static_cast<Scalar>(s.epsilon));
      ws.A.middleCols(c * pixels, pixels) =
          ((x.middleCols(c * pixels, pixels).array() - state.running_mean(c)) * scale + p.beta(c))
              .matrix();
    });
  }

  /// Training: the batch's statistics; the running ones move in ws, for commit().
  template <class Layer, class X, class W>
  static void training_forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    using Scalar = typename X::Scalar;
    const Settings& s = layer.settings();
    const auto& p = layer.parameters();
    const auto& state = layer.state();
    const Index channels = p.gamma.size(), pixels = s.input.height * s.input.width;
    const Index n = x.rows() * pixels;
    if (n < 2)
      throw ArgumentError(
          "backprop::BatchNorm: training needs more than one value per channel, "
          "got a batch of " +
          std::to_string(x.rows()) + " of " + s.input.string());
    const auto m = static_cast<Scalar>(s.momentum);
    ws.normalized.resize(x.rows(), x.cols());
    ws.inverse_deviation.resize(channels);
    ws.next_mean.resize(channels);
    ws.next_variance.resize(channels);
    detail::parallel_for(channels, [&](Index c, int) {
      const auto block = x.middleCols(c * pixels, pixels).array();
      auto normalized = ws.normalized.middleCols(c * pixels, pixels).array();
      const Scalar mean = block.mean();
      const Scalar variance = (block - mean).square().mean();
      const Scalar inverse = 1 / std::sqrt(variance + static_cast<Scalar>(s.epsilon));
      normalized = (block - mean) * inverse;
      ws.A.middleCols(c * pixels, pixels) = (normalized * p.gamma(c) + p.beta(c)).matrix();
      ws.inverse_deviation(c) = inverse;
      ws.next_mean(c) = (1 - m) * state.running_mean(c) + m * mean;
      ws.next_variance(c) = (1 - m) * state.running_variance(c) +
                            m * variance * static_cast<Scalar>(n) / static_cast<Scalar>(n - 1);
    });
  }
  /// The step succeeded: the running statistics move.
  template <class Layer, class W>
  static void commit(Layer& layer, const W& ws) {
    layer.state().running_mean = ws.next_mean;
    layer.state().running_variance = ws.next_variance;
  }

  /// ws.Z: dL/dA  ->  g.gamma = sum dA .* X^, g.beta = sum dA per channel, and dX = gamma /
  /// (n sqrt(var + eps)) (n dA - sum dA - X^ sum(dA .* X^)), channel by channel on parallel_for's
  /// threads, while each channel is in cache
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>&, const W& ws, G& g, DX& dx) {
    using Scalar = typename X::Scalar;
    const Settings& s = layer.settings();
    const auto& gamma = layer.parameters().gamma;
    const Index pixels = s.input.height * s.input.width;
    const auto n = static_cast<Scalar>(ws.Z.rows() * pixels);
    detail::parallel_for(g.gamma.size(), [&](Index c, int) {
      const auto dy = ws.Z.middleCols(c * pixels, pixels).array();
      const auto normalized = ws.normalized.middleCols(c * pixels, pixels).array();
      g.gamma(c) = (dy * normalized).sum();
      g.beta(c) = dy.sum();
      if constexpr (wants_input_gradient<DX>)
        dx.middleCols(c * pixels, pixels) = ((n * dy - g.beta(c) - normalized * g.gamma(c)) *
                                             (gamma(c) * ws.inverse_deviation(c) / n))
                                                .matrix();
    });
  }

  /// "momentum 0.1, epsilon 1e-05"
  template <class Layer>
  static std::string describe(const Layer& layer) {
    return "momentum " + detail::number_string(layer.settings().momentum) + ", epsilon " +
           detail::number_string(layer.settings().epsilon);
  }

  // Model files: the shape (3 x u64), momentum and epsilon (f64) are the settings; the running
  // mean and variance (channels x f64 each) the state.
  template <class Writer, class Layer>
  static void write_config(Writer& w, const Layer& layer) {
    const Settings& s = layer.settings();
    for (Index v : {s.input.channels, s.input.height, s.input.width})
      w.u64(static_cast<std::uint64_t>(v));
    w.f64(s.momentum);
    w.f64(s.epsilon);
  }
  template <class Writer, class Layer>
  static void write_state(Writer& w, const Layer& layer) {
    for (const auto* row : {&layer.state().running_mean, &layer.state().running_variance})
      for (Index c = 0; c < row->size(); ++c)
        w.f64(static_cast<double>((*row)(c)));
  }
  /// All or nothing: values that are not finite in the layer's scalar, or a negative variance,
  /// are refused.
  template <class Reader, class Layer>
  static void read_state(Reader& r, Layer& layer) {
    auto& state = layer.state();
    using Row = std::remove_reference_t<decltype(state.running_mean)>;
    using Scalar = typename Row::Scalar;
    const Index channels = state.running_mean.size();
    Row mean(channels), variance(channels);
    for (Index c = 0; c < 2 * channels; ++c) {
      const double value = r.f64();
      const auto converted = static_cast<Scalar>(value);
      if (!std::isfinite(converted) || (c >= channels && value < 0))
        r.fail("running " + std::string(c < channels ? "mean" : "variance") + " of channel " +
               std::to_string(c % channels) + " is " + detail::number_string(value));
      (c < channels ? mean(c) : variance(c - channels)) = converted;
    }
    state.running_mean = mean;
    state.running_variance = variance;
  }

  /// Reads write_config's bytes; checks that the state's 16 bytes per channel are there before the
  /// layer is made, then builds it (which refuses a momentum or epsilon out of range).
  template <class Reader, class Make>
  static void read(Reader& r, Index in, Index, Make&& make) {
    const auto v = r.template sizes<3>(1, in, name);
    BatchNormSettings s{{v[0], v[1], v[2]}};
    s.momentum = r.f64();
    s.epsilon = r.f64();
    if (static_cast<std::uint64_t>(v[0]) > r.remaining() / 16)
      r.fail("batch_norm of " + std::to_string(v[0]) + " channels needs more bytes than remain");
    make.template operator()<BatchNorm>(s);
  }
};

}  // namespace backprop
