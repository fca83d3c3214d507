// Losses: stateless policy types with value(output, target) and gradient(output, target).
//
//   O, Y: (batch, outputs)   value -> scalar   gradient -> dL/dO: (batch, outputs)
//
// A loss may fuse with the activation of the output layer (`fused_activation`): then the network
// asks it for value_from_logits(Z, Y) and logit_gradient(A, Y) = dL/dZ, which stay exact where
// going through the activation's own derivative would divide by numbers that underflow.
// A loss that can only be used fused (SoftmaxCrossEntropy) has no gradient(O, Y).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "activation.hpp"
#include "config.hpp"

namespace backprop {

/// What a loss trains a network for; fit's metrics follow from it: accuracy for classification,
/// MSE and MAE for regression.
enum class Task { regression, classification };

/// What a network needs from a loss policy.
template <class L>
concept LossFunction = requires(Eigen::MatrixXd m) {
  { L::name } -> std::convertible_to<std::string_view>;
  { L::averages } -> std::convertible_to<bool>;
  { L::task } -> std::convertible_to<Task>;
  typename L::fused_activation;
  { L::value(m, m) } -> std::convertible_to<double>;
};

template <class Scalar>
class AnyLoss;
namespace detail {
template <class L>
inline constexpr bool is_any_loss = false;
template <class Scalar>
inline constexpr bool is_any_loss<AnyLoss<Scalar>> = true;
}  // namespace detail

/// What a network's loss, backward and train_step take: a loss policy, or one held as a value
/// (AnyLoss, any_loss.hpp).
template <class L>
concept Loss = LossFunction<L> || detail::is_any_loss<L>;

/// True when loss L takes over the derivative of output activation A.
template <class L, class A>
inline constexpr bool fuses_with = std::is_same_v<typename L::fused_activation, A>;

/// True when loss L fuses with the activation named `name` (for networks composed at run time).
template <class L>
constexpr bool fuses_with_name(std::string_view name) {
  if constexpr (std::is_void_v<typename L::fused_activation>)
    return false;
  else
    return L::fused_activation::name == name;
}

namespace detail {
[[noreturn]] inline void bad_target(std::string_view loss, const char* domain, Index r, Index c,
                                    double value, const char* what) {
  throw ArgumentError("backprop: " + std::string(loss) + " needs " + domain + ", but row " +
                      std::to_string(r) + ", column " + std::to_string(c) + " of " + what + " is " +
                      number_string(value));
}

/// log(x), floored at -100 as PyTorch's BCELoss does: a saturated output gives a large, finite
/// loss.
template <class X>
auto floored_log(const Eigen::ArrayBase<X>& x) {
  using S = typename X::Scalar;
  return x.log().max(S(-100));
}
}  // namespace detail

/// L = sum over samples and outputs of 1/2 (o - y)^2: the tutorial's loss.
/// dL/dO = o - y, so gradient descent with learning rate 1 is the tutorial's W += X^T delta.
struct HalfSumSquared {
  static constexpr std::string_view name = "half_sum_squared";  ///< for model files and messages
  static constexpr bool averages = false;  ///< a sum over samples: batches add up
  static constexpr Task task = Task::regression;
  /// Fuses with no activation.
  using fused_activation = void;

  /// Sum of 1/2 (o - y)^2.
  template <class O, class Y>
  static typename O::Scalar value(const Eigen::MatrixBase<O>& o, const Eigen::MatrixBase<Y>& y) {
    using S = typename O::Scalar;
    return S(0.5) * (o - y).squaredNorm();
  }
  /// o - y.
  template <class O, class Y>
  static auto gradient(const Eigen::MatrixBase<O>& o, const Eigen::MatrixBase<Y>& y) {
    return o - y;
  }
};

/// L = mean over samples and outputs of (o - y)^2, as PyTorch's MSELoss.   dL/dO = 2 (o - y) / n
struct MeanSquared {
  static constexpr std::string_view name = "mean_squared";  ///< for model files and messages
  static constexpr bool averages = true;  ///< a mean over samples: batches average
  static constexpr Task task = Task::regression;
  /// Fuses with no activation.
  using fused_activation = void;

  /// Mean of (o - y)^2.
  template <class O, class Y>
  static typename O::Scalar value(const Eigen::MatrixBase<O>& o, const Eigen::MatrixBase<Y>& y) {
    using S = typename O::Scalar;
    return (o - y).squaredNorm() / static_cast<S>(o.size());
  }
  /// 2 (o - y) / n.
  template <class O, class Y>
  static auto gradient(const Eigen::MatrixBase<O>& o, const Eigen::MatrixBase<Y>& y) {
    using S = typename O::Scalar;
    return (S(2) / static_cast<S>(o.size())) * (o - y);
  }
};

/// L = -mean(y log o + (1 - y) log(1 - o)) over samples and outputs, for outputs in (0, 1).
/// Fused with a Sigmoid output it is computed from the logits z:
///   L = mean(max(z, 0) - z y + log1p(e^-|z|))      dL/dz = (s(z) - y) / n
/// which is exact for logits of +-1000 where log(s(z)) would be log(0).
struct BinaryCrossEntropy {
  static constexpr std::string_view name =
      "binary_cross_entropy";             ///< for model files and messages
  static constexpr bool averages = true;  ///< a mean over samples: batches average
  static constexpr Task task = Task::classification;
  /// Fused with a Sigmoid output, it works from the logits.
  using fused_activation = Sigmoid;

  /// Throws ArgumentError unless every target is in [0, 1] (a probability); `what` names Y.
  template <class Y>
  static void check_targets(const Eigen::MatrixBase<Y>& y, const char* what = "Y") {
    for (Index c = 0; c < y.cols(); ++c)
      for (Index r = 0; r < y.rows(); ++r)
        if (!(y(r, c) >= 0 && y(r, c) <= 1))
          detail::bad_target(name, "targets in [0, 1]", r, c, double(y(r, c)), what);
  }

  /// From probabilities o, logs floored at -100.
  template <class O, class Y>
  static typename O::Scalar value(const Eigen::MatrixBase<O>& o, const Eigen::MatrixBase<Y>& y) {
    using S = typename O::Scalar;
    const auto p = o.array();
    const auto t = y.array();
    return -(t * detail::floored_log(p) + (S(1) - t) * detail::floored_log(S(1) - p)).mean();
  }
  /// dL/dO = (o - y) / (o (1 - o)) / n, the denominator floored at 1e-12 as PyTorch does.
  template <class O, class Y>
  static auto gradient(const Eigen::MatrixBase<O>& o, const Eigen::MatrixBase<Y>& y) {
    using S = typename O::Scalar;
    const auto p = o.array();
    const S n = static_cast<S>(o.size());
    return ((p - y.array()) / (p * (S(1) - p)).max(S(1e-12)) / n).matrix();
  }
  /// From the logits z of a Sigmoid output, exactly.
  template <class Z, class Y>
  static typename Z::Scalar value_from_logits(const Eigen::MatrixBase<Z>& z,
                                              const Eigen::MatrixBase<Y>& y) {
    using S = typename Z::Scalar;
    const auto x = z.array();
    return (x.max(S(0)) - x * y.array() + (-x.abs()).exp().log1p()).mean();
  }
  /// dL/dz = (a - y) / n, with a = s(z).
  template <class A, class Y>
  static auto logit_gradient(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<Y>& y) {
    using S = typename A::Scalar;
    return (S(1) / static_cast<S>(a.size())) * (a - y);
  }
};

/// Cross-entropy of a Softmax output, averaged over samples, as PyTorch's CrossEntropyLoss.
/// Each row of Y is a distribution over classes (one-hot or soft labels summing to 1).
/// Only fused: from the logits z of a row,
///   L = logsumexp(z) - <y, z>          dL/dz = (softmax(z) - y) / batch
/// which stays finite and exact for logits of +-1000.
struct SoftmaxCrossEntropy {
  static constexpr std::string_view name =
      "softmax_cross_entropy";            ///< for model files and messages
  static constexpr bool averages = true;  ///< a mean over samples: batches average
  static constexpr Task task = Task::classification;
  /// Only with a Softmax output: it works from the logits.
  using fused_activation = Softmax;

  /// Throws ArgumentError unless every row of Y is a distribution: entries >= 0 summing to 1
  /// (within 1e-3, for rounding in float); `what` names Y.
  template <class Y>
  static void check_targets(const Eigen::MatrixBase<Y>& y, const char* what = "Y") {
    for (Index r = 0; r < y.rows(); ++r) {
      double sum = 0;
      for (Index c = 0; c < y.cols(); ++c) {
        if (!(y(r, c) >= 0))
          detail::bad_target(name, "targets >= 0 in rows summing to 1", r, c, double(y(r, c)),
                             what);
        sum += double(y(r, c));
      }
      if (!(std::abs(sum - 1) <= 1e-3))
        throw ArgumentError("backprop: " + std::string(name) + " needs each row of " + what +
                            " to sum to 1 (one-hot or a distribution), but row " +
                            std::to_string(r) + " of " + what + " sums to " +
                            detail::number_string(sum));
    }
  }

  /// From probabilities P (an evaluated Softmax output): -mean over rows of <y, log p>.
  template <class P, class Y>
  static typename P::Scalar value(const Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<Y>& y) {
    using S = typename P::Scalar;
    return -(y.array() * detail::floored_log(p.array())).sum() / static_cast<S>(p.rows());
  }
  /// From the logits z, exactly: logsumexp(z) - <y, z> per row.
  template <class Z, class Y>
  static typename Z::Scalar value_from_logits(const Eigen::MatrixBase<Z>& z,
                                              const Eigen::MatrixBase<Y>& y) {
    using S = typename Z::Scalar;
    S total = 0;
    for (Index r = 0; r < z.rows(); ++r) {
      const S m = z.row(r).maxCoeff();
      const S log_sum_exp = m + std::log((z.row(r).array() - m).exp().sum());
      total += log_sum_exp * y.row(r).sum() - y.row(r).dot(z.row(r));
    }
    return total / static_cast<S>(z.rows());
  }
  /// dL/dz = (p - y) / batch, with p = softmax(z).
  template <class A, class Y>
  static auto logit_gradient(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<Y>& y) {
    using S = typename A::Scalar;
    return (S(1) / static_cast<S>(a.rows())) * (a - y);
  }
};

namespace detail {

template <class L, class A, class Y>
concept HasOutputGradient = requires(const A& a, const Y& y) {
  L::gradient(a, y);
};

/// Whether loss L takes over the derivative of the output activation named `activation`.
template <class L>
bool fuses(const L& loss, std::string_view activation) {
  if constexpr (is_any_loss<L>)
    return loss.fuses(activation);
  else
    return fuses_with_name<L>(activation);
}

/// Checks Y against the loss's domain, for losses that have one; `what` names Y in the message.
template <class L, class Y>
void check_targets(const L& loss, const Y& y, const char* what = "Y") {
  if constexpr (is_any_loss<L>)
    loss.check_targets(y, what);
  else if constexpr (requires { L::check_targets(y, what); })
    L::check_targets(y, what);
}

/// Throws unless loss L can be used at an output whose activation is `activation` (its name):
/// a loss without gradient() works only fused (SoftmaxCrossEntropy needs a Softmax output).
template <class L>
void check_output_activation(const L& loss, bool fused, std::string_view activation) {
  if constexpr (is_any_loss<L>) {
    loss.check_output_activation(fused, activation);
  } else if constexpr (!std::is_void_v<typename L::fused_activation>) {
    using A = Eigen::Matrix<double, Dynamic, Dynamic>;
    if (!fused && !HasOutputGradient<L, A, A>)
      throw ArgumentError(std::string("backprop: the loss ") + std::string(L::name) + " needs a " +
                          std::string(L::fused_activation::name) +
                          " output layer, but the output layer's activation is " +
                          std::string(activation));
  }
}

/// The loss at the output layer, from its pre-activations Z and activations A: from the logits
/// when the loss fuses with the output activation, which stays exact where A underflows.
template <class L, class Z, class A, class Y>
typename A::Scalar output_loss(const L& loss, bool fused, const Z& z, const A& a, const Y& y) {
  if constexpr (is_any_loss<L>) {
    return loss.value(fused, z, a, y);
  } else {
    if constexpr (!std::is_void_v<typename L::fused_activation>)
      if (fused) return L::value_from_logits(z, y);
    return L::value(a, y);
  }
}

/// dL/dZ of the output layer, written over Z: straight from a loss that fuses with the output
/// activation, otherwise dL/dA from the loss and then the activation's derivative
/// (backward_activation). check_output_activation has ruled out a loss that cannot be used here.
template <class L, class Z, class A, class Y, class BackwardActivation>
void output_gradient(const L& loss, bool fused, Z& z, const A& a, const Y& y,
                     BackwardActivation&& backward_activation) {
  if constexpr (is_any_loss<L>) {
    loss.gradient(fused, z, a, y);
    if (!fused) backward_activation();
  } else {
    if constexpr (!std::is_void_v<typename L::fused_activation>) {
      if (fused) {
        z = L::logit_gradient(a, y);
        return;
      }
    }
    if constexpr (HasOutputGradient<L, A, Y>) {
      z = L::gradient(a, y);
      backward_activation();
    }
  }
}

/// Throws NumericError for a loss that is NaN or Inf; the caller has changed nothing yet.
template <class Scalar>
void check_finite_loss(Scalar value, std::string_view loss) {
  if (!std::isfinite(value))
    fail<NumericError>([&] {
      return concat("backprop: the loss ", std::string(loss), " is ", number_string(value),
                    "; nothing was updated (look for NaN or Inf in the data, or lower the "
                    "learning rate)");
    });
}

}  // namespace detail

/// The losses of parts of a set of samples, combined as the loss combines samples: the means of a
/// loss that averages, weighted by their rows, or the sums of one that sums (HalfSumSquared).
class LossTotal {
 public:
  explicit LossTotal(bool averages) : averages_(averages) {}

  /// Whether the loss averages over samples.
  bool averages() const { return averages_; }

  /// The loss of `rows` more samples.
  void add(double loss, Index rows) {
    first_ = parts_++ == 0 ? loss : first_;
    total_ += averages_ ? loss * static_cast<double>(rows) : loss;
    rows_ += static_cast<double>(rows);
  }
  /// The loss of every sample added: their mean, or their sum (one part's own, bit for bit).
  double value() const {
    if (parts_ == 1) return first_;
    return averages_ ? total_ / rows_ : total_;
  }

  /// The sums behind value(), for adding up the totals of several members; from_sums makes a
  /// total of them again.
  std::pair<double, double> sums() const { return {total_, rows_}; }
  static LossTotal from_sums(bool averages, double total, double rows) {
    LossTotal t(averages);
    t.parts_ = 2;  // a sum of parts: the value is computed from the sums
    t.total_ = total;
    t.rows_ = rows;
    return t;
  }

  /// What a part of `rows` of `total` rows weighs in the whole: its share, or 1 for a sum.
  static double weight(bool averages, Index rows, Index total) {
    return averages ? static_cast<double>(rows) / static_cast<double>(total) : 1.0;
  }

 private:
  bool averages_;
  Index parts_ = 0;
  double first_ = 0, total_ = 0, rows_ = 0;
};

}  // namespace backprop
