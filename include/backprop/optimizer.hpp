// Optimizers: read the gradients a network computed and update its parameters.
//
// An optimizer has two calls: begin_step() once per training step, then update(slot, parameter,
// gradient) for each parameter matrix of the network. Network::train_step makes them, updating
// each layer as soon as its gradients are ready; step(network) makes them after a separate
// backward(). The slot numbers a parameter matrix for the life of the network, so a stateful
// optimizer keeps its state per slot. That state lives in the optimizer, never in the network: it
// is sized from the network on the first step, and state() exposes it for saving and resuming.
//
// The update rules and defaults are PyTorch's (torch.optim), so results compare one to one.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "config.hpp"

namespace backprop {

namespace detail {

/// The value, unless it is outside [lo, hi) or not finite: then an ArgumentError naming it.
template <class Scalar>
Scalar checked_hyperparameter(Scalar value, const char* optimizer, const char* name, double lo,
                              double hi) {
  if (!(std::isfinite(value) && value >= lo && value < hi))
    throw ArgumentError(std::string("backprop::") + optimizer + ": " + name + " must be in [" +
                        number_string(lo) + ", " + number_string(hi) + "), got " +
                        number_string(double(value)));
  return value;
}

template <class Scalar>
Scalar checked_learning_rate(Scalar learning_rate, const char* optimizer) {
  return checked_hyperparameter(learning_rate, optimizer, "learning_rate", 0.0, INFINITY);
}
template <class Scalar>
Scalar checked_non_negative(Scalar value, const char* optimizer, const char* name) {
  return checked_hyperparameter(value, optimizer, name, 0.0, INFINITY);
}
template <class Scalar>
Scalar checked_fraction(Scalar value, const char* optimizer, const char* name) {
  return checked_hyperparameter(value, optimizer, name, 0.0, 1.0);
}
template <class Scalar>
Scalar checked_epsilon(Scalar epsilon, const char* optimizer) {
  if (!(std::isfinite(epsilon) && epsilon > 0))
    throw ArgumentError(std::string("backprop::") + optimizer +
                        ": epsilon must be a finite number > 0, got " +
                        number_string(double(epsilon)));
  return epsilon;
}

/// K state arrays per slot, each shaped like the slot's parameter, created zero on first use.
template <class Scalar, std::size_t K>
class SlotState {
 public:
  using Array = Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Slot = std::array<Array, K>;

  /// The state of a slot, sized on first use; a parameter of another shape means the optimizer
  /// was handed a second network, which would corrupt both trainings.
  Slot& at(std::size_t slot, Index rows, Index cols, const char* optimizer) {
    if (slot >= slots_.size()) slots_.resize(slot + 1);
    Slot& s = slots_[slot];
    if (s[0].size() == 0) {
      for (Array& a : s)
        a.setZero(rows, cols);
    } else if (s[0].rows() != rows || s[0].cols() != cols) {
      throw ShapeError(std::string("backprop::") + optimizer + ": slot " + std::to_string(slot) +
                       " holds state of shape " + shape_string(s[0].rows(), s[0].cols()) +
                       " but the parameter is " + shape_string(rows, cols) +
                       "; an optimizer serves one network");
    }
    return s;
  }

  std::vector<Slot>& slots() { return slots_; }
  const std::vector<Slot>& slots() const { return slots_; }

 private:
  std::vector<Slot> slots_;
};

}  // namespace detail

/// Plain gradient descent with optional L2 weight decay:
///   g <- g + weight_decay p        p <- p - learning_rate g
/// With HalfSumSquared and learning rate 1 this is the tutorial's W += X^T delta.
template <std::floating_point Scalar>
class SGD {
 public:
  static constexpr std::string_view name = "sgd";

  /// Throws ArgumentError for a learning rate or decay that is negative or not finite.
  explicit SGD(Scalar learning_rate, Scalar weight_decay = 0)
      : learning_rate_(detail::checked_learning_rate(learning_rate, "SGD")),
        weight_decay_(detail::checked_non_negative(weight_decay, "SGD", "weight_decay")) {}

  void begin_step() {}  ///< nothing to do once per step

  /// P, G: one parameter matrix and its gradient, of equal shapes
  template <class P, class G>
  void update(std::size_t /*slot*/, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) const {
    static_assert(std::is_same_v<typename P::Scalar, Scalar>,
                  "SGD: the optimizer's scalar type must be the network's");
    if (weight_decay_ == 0)
      p -= learning_rate_ * g;
    else
      p -= learning_rate_ * (g + weight_decay_ * p);
  }

  /// The step size.
  Scalar learning_rate() const { return learning_rate_; }  ///< the step size
  /// Sets the step size (fit's schedules do), checked as in the constructor.
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_learning_rate(learning_rate, "SGD");
  }

 private:
  Scalar learning_rate_;
  Scalar weight_decay_;
};

/// Gradient descent with momentum, as torch.optim.SGD(momentum=mu, nesterov=...):
///   g <- g + weight_decay p       v <- mu v + g
///   p <- p - learning_rate v                    (classical)
///   p <- p - learning_rate (g + mu v)           (Nesterov)
template <std::floating_point Scalar>
class Momentum {
 public:
  static constexpr std::string_view name = "momentum";

  /// The hyper-parameters, with PyTorch's defaults.
  struct Options {
    Scalar learning_rate = Scalar(0.01);
    Scalar momentum = Scalar(0.9);
    bool nesterov = false;
    Scalar weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range.
  explicit Momentum(const Options& options)
      : learning_rate_(detail::checked_learning_rate(options.learning_rate, "Momentum")),
        momentum_(detail::checked_fraction(options.momentum, "Momentum", "momentum")),
        nesterov_(options.nesterov),
        weight_decay_(
            detail::checked_non_negative(options.weight_decay, "Momentum", "weight_decay")) {}

  void begin_step() {}  ///< nothing to do once per step

  /// One parameter matrix p and its gradient g, with the velocity of its slot.
  template <class P, class G>
  void update(std::size_t slot, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) {
    auto& v = state_.at(slot, p.rows(), p.cols(), "Momentum")[0];
    const auto decayed = g.array() + weight_decay_ * p.array();
    v = momentum_ * v + decayed;
    if (nesterov_)
      p.array() -= learning_rate_ * (decayed + momentum_ * v);
    else
      p.array() -= learning_rate_ * v;
  }

  Scalar learning_rate() const { return learning_rate_; }  ///< the step size
  /// Sets the step size, checked as in the constructor.
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_learning_rate(learning_rate, "Momentum");
  }
  /// The velocity of every slot, for saving and resuming.
  auto& state() { return state_.slots(); }
  const auto& state() const { return state_.slots(); }

 private:
  Scalar learning_rate_, momentum_;
  bool nesterov_;
  Scalar weight_decay_;
  detail::SlotState<Scalar, 1> state_;
};

/// AdaGrad, as torch.optim.Adagrad:  s <- s + g^2   p <- p - learning_rate g / (sqrt(s) + epsilon)
template <std::floating_point Scalar>
class AdaGrad {
 public:
  static constexpr std::string_view name = "adagrad";

  /// The hyper-parameters, with PyTorch's defaults.
  struct Options {
    Scalar learning_rate = Scalar(0.01);
    Scalar epsilon = Scalar(1e-10);
    Scalar weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range.
  explicit AdaGrad(const Options& options)
      : learning_rate_(detail::checked_learning_rate(options.learning_rate, "AdaGrad")),
        epsilon_(detail::checked_epsilon(options.epsilon, "AdaGrad")),
        weight_decay_(
            detail::checked_non_negative(options.weight_decay, "AdaGrad", "weight_decay")) {}

  void begin_step() {}  ///< nothing to do once per step

  /// One parameter matrix p and its gradient g, with the sum of squares of its slot.
  template <class P, class G>
  void update(std::size_t slot, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) {
    auto& s = state_.at(slot, p.rows(), p.cols(), "AdaGrad")[0];
    const auto decayed = g.array() + weight_decay_ * p.array();
    s += decayed.square();
    p.array() -= learning_rate_ * decayed / (s.sqrt() + epsilon_);
  }

  Scalar learning_rate() const { return learning_rate_; }  ///< the step size
  /// Sets the step size, checked as in the constructor.
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_learning_rate(learning_rate, "AdaGrad");
  }
  auto& state() { return state_.slots(); }
  const auto& state() const { return state_.slots(); }

 private:
  Scalar learning_rate_, epsilon_, weight_decay_;
  detail::SlotState<Scalar, 1> state_;
};

/// RMSProp, as torch.optim.RMSprop:
///   s <- alpha s + (1 - alpha) g^2      p <- p - learning_rate g / (sqrt(s) + epsilon)
template <std::floating_point Scalar>
class RMSProp {
 public:
  static constexpr std::string_view name = "rmsprop";

  /// The hyper-parameters, with PyTorch's defaults.
  struct Options {
    Scalar learning_rate = Scalar(0.01);
    Scalar alpha = Scalar(0.99);
    Scalar epsilon = Scalar(1e-8);
    Scalar weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range.
  explicit RMSProp(const Options& options)
      : learning_rate_(detail::checked_learning_rate(options.learning_rate, "RMSProp")),
        alpha_(detail::checked_fraction(options.alpha, "RMSProp", "alpha")),
        epsilon_(detail::checked_epsilon(options.epsilon, "RMSProp")),
        weight_decay_(
            detail::checked_non_negative(options.weight_decay, "RMSProp", "weight_decay")) {}

  void begin_step() {}  ///< nothing to do once per step

  /// One parameter matrix p and its gradient g, with the running mean square of its slot.
  template <class P, class G>
  void update(std::size_t slot, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) {
    auto& s = state_.at(slot, p.rows(), p.cols(), "RMSProp")[0];
    const auto decayed = g.array() + weight_decay_ * p.array();
    s = alpha_ * s + (1 - alpha_) * decayed.square();
    p.array() -= learning_rate_ * decayed / (s.sqrt() + epsilon_);
  }

  Scalar learning_rate() const { return learning_rate_; }  ///< the step size
  /// Sets the step size, checked as in the constructor.
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_learning_rate(learning_rate, "RMSProp");
  }
  auto& state() { return state_.slots(); }
  const auto& state() const { return state_.slots(); }

 private:
  Scalar learning_rate_, alpha_, epsilon_, weight_decay_;
  detail::SlotState<Scalar, 1> state_;
};

/// Adam (Kingma and Ba, 2015), as torch.optim.Adam, and AdamW's decoupled weight decay:
///   t <- t + 1
///   p <- p (1 - learning_rate decoupled_weight_decay)          (AdamW)
///   g <- g + weight_decay p                                    (L2, as Adam's weight_decay)
///   m <- beta1 m + (1 - beta1) g         v <- beta2 v + (1 - beta2) g^2
///   p <- p - learning_rate / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
/// (the bias corrections grouped as PyTorch groups them, so the two agree to the last bits)
template <std::floating_point Scalar>
class Adam {
 public:
  static constexpr std::string_view name = "adam";

  /// The hyper-parameters, with PyTorch's defaults.
  struct Options {
    Scalar learning_rate = Scalar(0.001);
    Scalar beta1 = Scalar(0.9);
    Scalar beta2 = Scalar(0.999);
    Scalar epsilon = Scalar(1e-8);
    Scalar weight_decay = 0;
    Scalar decoupled_weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range.
  explicit Adam(const Options& options = {})
      : learning_rate_(detail::checked_learning_rate(options.learning_rate, "Adam")),
        beta1_(detail::checked_fraction(options.beta1, "Adam", "beta1")),
        beta2_(detail::checked_fraction(options.beta2, "Adam", "beta2")),
        epsilon_(detail::checked_epsilon(options.epsilon, "Adam")),
        weight_decay_(detail::checked_non_negative(options.weight_decay, "Adam", "weight_decay")),
        decoupled_weight_decay_(detail::checked_non_negative(options.decoupled_weight_decay, "Adam",
                                                             "decoupled_weight_decay")) {}

  /// Counts the step and computes its bias corrections.
  void begin_step() {
    ++steps_;
    // The bias corrections of step t, in double as PyTorch computes them, once per step.
    correction1_ = 1 - std::pow(double(beta1_), double(steps_));
    sqrt_correction2_ = std::sqrt(1 - std::pow(double(beta2_), double(steps_)));
  }

  /// One parameter matrix p and its gradient g, with the moments of its slot.
  template <class P, class G>
  void update(std::size_t slot, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) {
    auto& [m, v] = state_.at(slot, p.rows(), p.cols(), "Adam");
    if (decoupled_weight_decay_ != 0) p *= 1 - learning_rate_ * decoupled_weight_decay_;
    const auto decayed = g.array() + weight_decay_ * p.array();
    m = beta1_ * m + (1 - beta1_) * decayed;
    v = beta2_ * v + (1 - beta2_) * decayed.square();
    const auto step_size = static_cast<Scalar>(learning_rate_ / correction1_);
    const auto sqrt_correction2 = static_cast<Scalar>(sqrt_correction2_);
    p.array() -= step_size * m / (v.sqrt() / sqrt_correction2 + epsilon_);
  }

  Scalar learning_rate() const { return learning_rate_; }  ///< the step size
  /// Sets the step size, checked as in the constructor.
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_learning_rate(learning_rate, "Adam");
  }
  /// The steps taken so far (t) and the moments m and v of every slot, for saving and resuming.
  long steps() const { return steps_; }
  void set_steps(long steps) { steps_ = steps; }
  auto& state() { return state_.slots(); }
  const auto& state() const { return state_.slots(); }

 private:
  Scalar learning_rate_, beta1_, beta2_, epsilon_, weight_decay_, decoupled_weight_decay_;
  long steps_ = 0;
  double correction1_ = 1, sqrt_correction2_ = 1;
  detail::SlotState<Scalar, 2> state_;
};

/// AdamW (Loshchilov and Hutter, 2019): Adam whose weight decay is decoupled from the gradient,
/// with torch.optim.AdamW's default decay of 0.01.
template <std::floating_point Scalar>
Adam<Scalar> AdamW(Scalar learning_rate = Scalar(0.001), Scalar weight_decay = Scalar(0.01)) {
  return Adam<Scalar>({.learning_rate = learning_rate, .decoupled_weight_decay = weight_decay});
}

/// Updates every parameter of a network from the gradients of its last backward().
template <class Optimizer, class Network>
void step(Optimizer& optimizer, Network& network) {
  optimizer.begin_step();
  network.for_each_parameter(
      [&](std::size_t slot, auto& p, const auto& g) { optimizer.update(slot, p, g); });
}

}  // namespace backprop
