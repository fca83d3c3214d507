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

#include <Eigen/Core>

#include "../config.hpp"
#include "../layer.hpp"
#include "../shape.hpp"
#include "../threads.hpp"

namespace backprop {

/// What defines a BatchNorm layer: the shape it normalizes and PyTorch's two settings.
struct BatchNormSettings {
  Shape input;            ///< channels x height x width (a dense output: n x 1 x 1)
  double momentum = 0.1;  ///< how far the running statistics move toward each batch's
  double epsilon = 1e-5;  ///< added to the variance
};

template <Shape In, class Momentum, class Epsilon>
struct FixedBatchNorm;

/// Normalizes each channel over the batch (and the pixels of images), then scales and shifts it.
///
/// In a compile-time Network, BatchNorm itself normalizes the shape before it with PyTorch's
/// momentum and epsilon, and BatchNorm::With<std::ratio<1, 100>> (a momentum, then an epsilon)
/// with others:
///   Network<float, Input<1, 28, 28>, Conv<32, Window{3, 3}>, BatchNorm, MaxPool<>, ...>
struct BatchNorm {
  static constexpr std::string_view name = "batch_norm";
  static constexpr int inputs = Dynamic;
  static constexpr int outputs = Dynamic;
  static constexpr std::size_t tensor_count = 2;
  using activation = void;  ///< no activation: a network cannot end with BatchNorm
  static constexpr bool batch_dependent = true;  ///< training normalizes by the batch's statistics

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
    using at = FixedBatchNorm<In, Momentum, Epsilon>;
  };
  /// In a compile-time Network: the layer it is after an output of shape In.
  template <Shape In>
  static constexpr detail::SlideProblem problem = detail::SlideProblem::none;
  template <Shape In>
  using at = FixedBatchNorm<In, std::ratio<1, 10>, std::ratio<1, 100000>>;

  /// gamma and beta (1, channels), trainable; the running statistics and settings.
  template <class Scalar>
  struct Parameters {
    using Row = Eigen::Matrix<Scalar, 1, Dynamic>;
    BatchNormSettings settings;
    Row gamma, beta;                     ///< (1, channels): A = gamma X^ + beta
    Row running_mean, running_variance;  ///< (1, channels): what inference normalizes with

    Parameters(Index in, Index out, const BatchNormSettings& s) : settings(s) {
      const Shape& shape = s.input;
      if (shape.channels < 1 || shape.height < 1 || shape.width < 1 || in != shape.size() ||
          out != in)
        throw ShapeError("backprop::BatchNorm: the shape " + shape.string() + " does not take " +
                         std::to_string(in) + " values to " + std::to_string(out));
      if (!(s.momentum >= 0 && s.momentum <= 1) || !(s.epsilon > 0) || !std::isfinite(s.epsilon))
        throw ArgumentError(
            "backprop::BatchNorm: momentum must be in [0, 1] and epsilon positive "
            "and finite, got momentum " +
            detail::number_string(s.momentum) + " and epsilon " + detail::number_string(s.epsilon));
      reset();
    }
    /// gamma 1, beta 0, running mean 0, running variance 1: PyTorch's start.
    void reset() {
      const Index c = settings.input.channels;
      gamma.setOnes(c);
      beta.setZero(c);
      running_mean.setZero(c);
      running_variance.setOnes(c);
    }
  };

  /// Z, A (batch, c*h*w); X^ of the batch, 1 / sqrt(var + eps), and the running statistics that
  /// commit() keeps.
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Dynamic> {
    Eigen::Matrix<Scalar, Dynamic, Dynamic> normalized;
    Eigen::Matrix<Scalar, 1, Dynamic> inverse_deviation, next_mean, next_variance;
  };

  static Index parameter_count(Index, Index, const BatchNormSettings& s) {
    return 2 * s.input.channels;
  }

  /// Back to PyTorch's start; nothing to draw.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>& p, Init&) {
    p.reset();
  }

  /// Inference: the running statistics. Channels are columns [c*P, (c+1)*P) of X, spread over
  /// parallel_for's threads.
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    const Index pixels = p.settings.input.height * p.settings.input.width;
    detail::parallel_for(p.gamma.size(), [&](Index c, int) {
      const Scalar scale =
          p.gamma(c) / std::sqrt(p.running_variance(c) + static_cast<Scalar>(p.settings.epsilon));
      ws.A.middleCols(c * pixels, pixels) =
          ((x.middleCols(c * pixels, pixels).array() - p.running_mean(c)) * scale + p.beta(c))
              .matrix();
    });
  }

  /// Training: the batch's statistics; the running ones move in ws, for commit().
  template <class Scalar, int Batch, class X>
  static void training_forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                               Workspace<Scalar, Batch>& ws) {
    const Index channels = p.gamma.size(),
                pixels = p.settings.input.height * p.settings.input.width;
    const Index n = x.rows() * pixels;
    if (n < 2)
      throw ArgumentError(
          "backprop::BatchNorm: training needs more than one value per channel, "
          "got a batch of " +
          std::to_string(x.rows()) + " of " + p.settings.input.string());
    const auto m = static_cast<Scalar>(p.settings.momentum);
    ws.normalized.resize(x.rows(), x.cols());
    ws.inverse_deviation.resize(channels);
    ws.next_mean.resize(channels);
    ws.next_variance.resize(channels);
    detail::parallel_for(channels, [&](Index c, int) {
      const auto block = x.middleCols(c * pixels, pixels).array();
      auto normalized = ws.normalized.middleCols(c * pixels, pixels).array();
      const Scalar mean = block.mean();
      const Scalar variance = (block - mean).square().mean();
      const Scalar inverse = 1 / std::sqrt(variance + static_cast<Scalar>(p.settings.epsilon));
      normalized = (block - mean) * inverse;
      ws.A.middleCols(c * pixels, pixels) = (normalized * p.gamma(c) + p.beta(c)).matrix();
      ws.inverse_deviation(c) = inverse;
      ws.next_mean(c) = (1 - m) * p.running_mean(c) + m * mean;
      ws.next_variance(c) = (1 - m) * p.running_variance(c) +
                            m * variance * static_cast<Scalar>(n) / static_cast<Scalar>(n - 1);
    });
  }
  /// The step succeeded: the running statistics move.
  template <class Scalar, int Batch>
  static void commit(Parameters<Scalar>& p, const Workspace<Scalar, Batch>& ws) {
    p.running_mean = ws.next_mean;
    p.running_variance = ws.next_variance;
  }

  /// ws.Z: dL/dA, which is dL/dZ: no activation.
  template <class W>
  static void backward_activation(W&) {}

  /// ws.Z: dL/dA  ->  g.gamma = sum dA .* X^, g.beta = sum dA, per channel
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>&, const Workspace<Scalar, Batch>& ws,
                       Parameters<Scalar>& g) {
    gradients(ws, g, [](Index, const auto&, const auto&, Scalar) {});
  }
  /// As above, and dX = gamma / (n sqrt(var + eps)) (n dA - sum dA - X^ sum(dA .* X^))
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>&,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>& g, DX& dx) {
    const Index pixels = p.settings.input.height * p.settings.input.width;
    gradients(ws, g, [&](Index c, const auto& dy, const auto& normalized, Scalar n) {
      dx.middleCols(c * pixels, pixels) = ((n * dy - g.beta(c) - normalized * g.gamma(c)) *
                                           (p.gamma(c) * ws.inverse_deviation(c) / n))
                                              .matrix();
    });
  }

  /// g.gamma and g.beta channel by channel on parallel_for's threads, then, for each channel,
  /// and_then(c, dA, X^, n) on the same thread, while both are in cache.
  template <class Scalar, int Batch, class AndThen>
  static void gradients(const Workspace<Scalar, Batch>& ws, Parameters<Scalar>& g,
                        AndThen&& and_then) {
    const Index pixels = g.settings.input.height * g.settings.input.width;
    const auto n = static_cast<Scalar>(ws.Z.rows() * pixels);
    detail::parallel_for(g.gamma.size(), [&](Index c, int) {
      const auto dy = ws.Z.middleCols(c * pixels, pixels).array();
      const auto normalized = ws.normalized.middleCols(c * pixels, pixels).array();
      g.gamma(c) = (dy * normalized).sum();
      g.beta(c) = dy.sum();
      and_then(c, dy, normalized, n);
    });
  }

  /// Calls f(gamma, dgamma), then f(beta, dbeta).
  template <class P, class G, class F>
  static void for_each_tensor(P& p, G& g, F&& f) {
    f(p.gamma, g.gamma);
    f(p.beta, g.beta);
  }

  /// "momentum 0.1, epsilon 1e-05"
  template <class Scalar>
  static std::string describe(const Parameters<Scalar>& p) {
    return "momentum " + detail::number_string(p.settings.momentum) + ", epsilon " +
           detail::number_string(p.settings.epsilon);
  }

  // Model files: the shape (3 x u64), momentum and epsilon (f64) are the settings; the running
  // mean and variance (channels x f64 each) the state.
  template <class Writer, class Scalar>
  static void write_config(Writer& w, const Parameters<Scalar>& p) {
    const Shape& s = p.settings.input;
    for (Index v : {s.channels, s.height, s.width})
      w.u64(static_cast<std::uint64_t>(v));
    w.f64(p.settings.momentum);
    w.f64(p.settings.epsilon);
  }
  template <class Writer, class Scalar>
  static void write_state(Writer& w, const Parameters<Scalar>& p) {
    for (Index c = 0; c < p.running_mean.size(); ++c)
      w.f64(static_cast<double>(p.running_mean(c)));
    for (Index c = 0; c < p.running_variance.size(); ++c)
      w.f64(static_cast<double>(p.running_variance(c)));
  }
  /// All or nothing: values that are not finite in Scalar, or a negative variance, are refused.
  template <class Reader, class Scalar>
  static void read_state(Reader& r, Parameters<Scalar>& p) {
    const Index channels = p.running_mean.size();
    typename Parameters<Scalar>::Row mean(channels), variance(channels);
    for (Index c = 0; c < 2 * channels; ++c) {
      const double value = r.f64();
      const auto converted = static_cast<Scalar>(value);
      if (!std::isfinite(converted) || (c >= channels && value < 0))
        r.fail("running " + std::string(c < channels ? "mean" : "variance") + " of channel " +
               std::to_string(c % channels) + " is " + detail::number_string(value));
      (c < channels ? mean(c) : variance(c - channels)) = converted;
    }
    p.running_mean = mean;
    p.running_variance = variance;
  }

  /// Reads write_config's bytes; checks that the state's 16 bytes per channel are there before the
  /// layer is made, then calls `make.template operator()<BatchNorm>(settings)`.
  template <class Activations, class Reader, class Make>
  static void read(Reader& r, Index in, Index out, Make&& make) {
    Index v[3];
    for (Index& value : v) {
      const std::uint64_t word = r.u64();
      if (word < 1 || word > static_cast<std::uint64_t>(in))
        r.fail("a batch_norm size of " + std::to_string(word) + " is not in [1, " +
               std::to_string(in) + "]");
      value = static_cast<Index>(word);
    }
    BatchNormSettings s{{v[0], v[1], v[2]}};
    s.momentum = r.f64();
    s.epsilon = r.f64();
    if (in != out || !detail::holds_exactly(s.input, in))
      r.fail("batch_norm " + s.input.string() + " does not take " + std::to_string(in) +
             " values to " + std::to_string(out));
    if (static_cast<std::uint64_t>(v[0]) > r.remaining() / 16)
      r.fail("batch_norm of " + std::to_string(v[0]) + " channels needs more bytes than remain");
    make.template operator()<BatchNorm>(s);  // which refuses a momentum or epsilon out of range
  }
};

/// BatchNorm of a shape, momentum and epsilon fixed at compile time: what BatchNorm becomes in a
/// Network.
template <Shape In, class Momentum, class Epsilon>
struct FixedBatchNorm : BatchNorm {
  static constexpr Shape input_shape = In;
  static constexpr Shape output_shape = In;
  static constexpr int inputs = static_cast<int>(In.size());
  static constexpr int outputs = inputs;

  /// BatchNorm's parameters, of these settings.
  template <class Scalar>
  struct Parameters : BatchNorm::Parameters<Scalar> {
    Parameters(Index in, Index out)
        : BatchNorm::Parameters<Scalar>(
              in, out,
              BatchNormSettings{In, static_cast<double>(Momentum::num) / Momentum::den,
                                static_cast<double>(Epsilon::num) / Epsilon::den}) {}
  };
};

}  // namespace backprop
