// Optimizers: read the gradients a network computed and update its parameters.
//
// An optimizer has two calls: begin_step() once per training step, then update(slot, parameter,
// gradient) for each parameter matrix of the network. train_step makes them, updating each layer
// as soon as its gradients are ready; step(optimizer, network) makes them after a separate
// backward(). The slot numbers a parameter matrix for the life of the network, so a stateful
// optimizer keeps its state per slot. That state lives in the optimizer, never in the network: it
// is sized on the first step, check(network) refuses a network of other shapes before anything is
// touched, and state() exposes it for saving and resuming.
//
// Every optimizer here is BasicOptimizer (the learning rate, the step count, the state and its
// checks) plus its own update rule; the rules and defaults are PyTorch's (torch.optim), so results
// compare one to one. Each is built from Options with those defaults: Adam<float>({.learning_rate
// = 0.01f}).
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "config.hpp"

namespace backprop {

/// What train_step and fit need from an optimizer. One that keeps state per slot should also have
/// check(network), which throws before anything changes when its state does not fit the network
/// (BasicOptimizer has it).
template <class O>
concept Optimizer = requires(O o, const O c, typename O::Scalar rate,
                             Eigen::Matrix<typename O::Scalar, Dynamic, Dynamic> m) {
  requires std::floating_point<typename O::Scalar>;
  { O::name } -> std::convertible_to<std::string_view>;
  o.begin_step();
  o.update(std::size_t{0}, m, m);
  { c.learning_rate() } -> std::same_as<typename O::Scalar>;
  o.set_learning_rate(rate);
  { c.steps() } -> std::convertible_to<long>;
};

namespace detail {

/// The value, unless it is outside [lo, hi) or not finite: then an ArgumentError naming it.
template <class Scalar>
Scalar checked_hyperparameter(Scalar value, std::string_view optimizer, const char* name, double lo,
                              double hi) {
  if (!(std::isfinite(value) && value >= lo && value < hi))
    throw ArgumentError("backprop::" + std::string(optimizer) + ": " + name + " must be in [" +
                        number_string(lo) + ", " + number_string(hi) + "), got " +
                        number_string(double(value)));
  return value;
}
template <class Scalar>
Scalar checked_non_negative(Scalar value, std::string_view optimizer, const char* name) {
  return checked_hyperparameter(value, optimizer, name, 0.0, INFINITY);
}
template <class Scalar>
Scalar checked_fraction(Scalar value, std::string_view optimizer, const char* name) {
  return checked_hyperparameter(value, optimizer, name, 0.0, 1.0);
}
template <class Scalar>
Scalar checked_positive(Scalar value, std::string_view optimizer, const char* name) {
  if (!(std::isfinite(value) && value > 0))
    throw ArgumentError("backprop::" + std::string(optimizer) + ": " + name +
                        " must be a finite number > 0, got " + number_string(double(value)));
  return value;
}

/// K state arrays per slot, each shaped like the slot's parameter, created zero on first use.
template <class Scalar, std::size_t K>
class SlotState {
 public:
  using Array = Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Slot = std::array<Array, K>;

  /// The state of a slot, sized on first use (then `fresh` is set); a parameter of another shape
  /// means the optimizer was handed a second network, which would corrupt both trainings.
  Slot& at(std::size_t slot, Index rows, Index cols, std::string_view optimizer, bool& fresh) {
    if (slot >= slots_.size()) slots_.resize(slot + 1);
    Slot& s = slots_[slot];
    fresh = s[0].size() == 0;
    if (fresh) {
      for (Array& a : s)
        a.setZero(rows, cols);
    } else if (s[0].rows() != rows || s[0].cols() != cols) {
      throw mismatch(slot, s[0].rows(), s[0].cols(), rows, cols, optimizer);
    }
    return s;
  }

  /// Throws unless every slot that has state has the shape of the network's parameter in it.
  template <class Net>
  void check(const Net& net, std::string_view optimizer) const {
    std::size_t count = 0;
    net.for_each_parameter([&](std::size_t slot, const auto& p, const auto&) {
      ++count;
      if (slot < slots_.size() && slots_[slot][0].size() != 0 &&
          (slots_[slot][0].rows() != p.rows() || slots_[slot][0].cols() != p.cols()))
        throw mismatch(slot, slots_[slot][0].rows(), slots_[slot][0].cols(), p.rows(), p.cols(),
                       optimizer);
    });
    if (slots_.size() > count)
      throw ShapeError("backprop::" + std::string(optimizer) + ": it holds state for " +
                       std::to_string(slots_.size()) + " parameter matrices but the network has " +
                       std::to_string(count) + "; an optimizer serves one network");
  }

  std::vector<Slot>& slots() { return slots_; }
  const std::vector<Slot>& slots() const { return slots_; }

 private:
  static ShapeError mismatch(std::size_t slot, Index rows, Index cols, Index p_rows, Index p_cols,
                             std::string_view optimizer) {
    return ShapeError("backprop::" + std::string(optimizer) + ": slot " + std::to_string(slot) +
                      " holds state of shape " + shape_string(rows, cols) +
                      " but the parameter is " + shape_string(p_rows, p_cols) +
                      "; an optimizer serves one network");
  }

  std::vector<Slot> slots_;
};

}  // namespace detail

/// What every optimizer shares: the learning rate, the count of steps taken, and K state arrays
/// per slot. Derived states its name ("adam", for files), label ("Adam", for messages) and
/// apply(state, p, g, fresh), and may state prepare_step() for what changes once per step.
template <class Derived, std::floating_point Scalar_, std::size_t K>
class BasicOptimizer {
 public:
  /// float or double: the scalar of the networks it trains.
  using Scalar = Scalar_;
  /// The state of one slot: K arrays shaped like its parameter.
  using Slot = typename detail::SlotState<Scalar, K>::Slot;

  /// The step size.
  Scalar learning_rate() const { return learning_rate_; }
  /// Sets the step size (fit's schedules do), checked as in the constructor.
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_non_negative(learning_rate, Derived::label, "learning_rate");
  }

  /// The steps taken so far (Adam's t), for saving and resuming.
  long steps() const { return steps_; }
  void set_steps(long steps) {
    if (steps < 0)
      throw ArgumentError("backprop::" + std::string(Derived::label) +
                          ": steps must be >= 0, got " + std::to_string(steps));
    steps_ = steps;
  }
  /// The state of every slot, for saving and resuming.
  std::vector<Slot>& state() { return state_.slots(); }
  const std::vector<Slot>& state() const { return state_.slots(); }

  /// Throws ShapeError, before anything changes, when the state held does not fit the network.
  template <class Net>
  void check(const Net& net) const {
    if constexpr (K > 0) state_.check(net, Derived::label);
  }

  /// Counts the step and prepares what changes once per step.
  void begin_step() {
    ++steps_;
    if constexpr (requires(Derived & d) { d.prepare_step(); })
      static_cast<Derived&>(*this).prepare_step();
  }

  /// P, G: one parameter matrix and its gradient, of equal shapes, with the state of their slot.
  template <class P, class G>
  void update(std::size_t slot, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) {
    static_assert(std::is_same_v<typename P::Scalar, Scalar>,
                  "backprop: the optimizer's scalar type must be the network's");
    auto& self = static_cast<Derived&>(*this);
    if constexpr (K == 0) {
      self.apply(p, g);
    } else {
      bool fresh = false;
      Slot& s = state_.at(slot, p.rows(), p.cols(), Derived::label, fresh);
      self.apply(s, p, g, fresh);
    }
  }

 protected:
  explicit BasicOptimizer(Scalar learning_rate) { set_learning_rate(learning_rate); }

 private:
  Scalar learning_rate_{};
  long steps_ = 0;
  detail::SlotState<Scalar, K> state_;
};

/// Plain gradient descent with optional L2 weight decay, as torch.optim.SGD without momentum:
///   g <- g + weight_decay p        p <- p - learning_rate g
/// With HalfSumSquared and learning rate 1 this is the tutorial's W += X^T delta.
template <std::floating_point Scalar>
class SGD : public BasicOptimizer<SGD<Scalar>, Scalar, 0> {
 public:
  static constexpr std::string_view name = "sgd";
  static constexpr std::string_view label = "SGD";

  /// The hyper-parameters, with PyTorch's defaults.
  struct Options {
    Scalar learning_rate = Scalar(0.001);
    Scalar weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range.
  explicit SGD(const Options& options = {})
      : SGD::BasicOptimizer(options.learning_rate),
        weight_decay_(detail::checked_non_negative(options.weight_decay, label, "weight_decay")) {}
  /// SGD(0.1), SGD(0.1, 1e-4): the learning rate and the decay.
  explicit SGD(Scalar learning_rate, Scalar weight_decay = 0)
      : SGD(Options{learning_rate, weight_decay}) {}

  /// p -= learning_rate (g + weight_decay p)
  template <class P, class G>
  void apply(Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) const {
    const Scalar rate = this->learning_rate();
    if (weight_decay_ == 0)
      p -= rate * g;
    else
      p -= rate * (g + weight_decay_ * p);
  }

 private:
  Scalar weight_decay_;
};

/// Gradient descent with momentum, as torch.optim.SGD(momentum=mu, dampening=d, nesterov=...):
///   g <- g + weight_decay p
///   v <- g on the first step, then v <- mu v + (1 - d) g
///   p <- p - learning_rate v                    (classical)
///   p <- p - learning_rate (g + mu v)           (Nesterov)
template <std::floating_point Scalar>
class Momentum : public BasicOptimizer<Momentum<Scalar>, Scalar, 1> {
 public:
  static constexpr std::string_view name = "momentum";
  static constexpr std::string_view label = "Momentum";

  /// The hyper-parameters, with PyTorch's defaults (but a momentum of 0.9 rather than none).
  struct Options {
    Scalar learning_rate = Scalar(0.001);
    Scalar momentum = Scalar(0.9);
    Scalar dampening = 0;
    bool nesterov = false;
    Scalar weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range (Nesterov needs no dampening).
  explicit Momentum(const Options& options = {})
      : Momentum::BasicOptimizer(options.learning_rate),
        momentum_(detail::checked_fraction(options.momentum, label, "momentum")),
        dampening_(detail::checked_fraction(options.dampening, label, "dampening")),
        nesterov_(options.nesterov),
        weight_decay_(detail::checked_non_negative(options.weight_decay, label, "weight_decay")) {
    if (nesterov_ && (momentum_ == 0 || dampening_ != 0))
      throw ArgumentError(
          "backprop::Momentum: Nesterov momentum needs a momentum > 0 and no dampening");
  }

  /// One parameter matrix p and its gradient g, with the velocity v of its slot.
  template <class P, class G>
  void apply(std::array<Eigen::Array<Scalar, Dynamic, Dynamic>, 1>& state, Eigen::MatrixBase<P>& p,
             const Eigen::MatrixBase<G>& g, bool first) const {
    auto& v = state[0];
    const auto decayed = g.array() + weight_decay_ * p.array();
    if (first)
      v = decayed;
    else
      v = momentum_ * v + (1 - dampening_) * decayed;
    const Scalar rate = this->learning_rate();
    if (nesterov_)
      p.array() -= rate * (decayed + momentum_ * v);
    else
      p.array() -= rate * v;
  }

 private:
  Scalar momentum_, dampening_;
  bool nesterov_;
  Scalar weight_decay_;
};

/// AdaGrad, as torch.optim.Adagrad:  s <- s + g^2   p <- p - learning_rate g / (sqrt(s) + epsilon)
template <std::floating_point Scalar>
class AdaGrad : public BasicOptimizer<AdaGrad<Scalar>, Scalar, 1> {
 public:
  static constexpr std::string_view name = "adagrad";
  static constexpr std::string_view label = "AdaGrad";

  /// The hyper-parameters, with PyTorch's defaults.
  struct Options {
    Scalar learning_rate = Scalar(0.01);
    Scalar epsilon = Scalar(1e-10);
    Scalar weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range.
  explicit AdaGrad(const Options& options = {})
      : AdaGrad::BasicOptimizer(options.learning_rate),
        epsilon_(detail::checked_positive(options.epsilon, label, "epsilon")),
        weight_decay_(detail::checked_non_negative(options.weight_decay, label, "weight_decay")) {}

  /// One parameter matrix p and its gradient g, with the sum of squares s of its slot.
  template <class P, class G>
  void apply(std::array<Eigen::Array<Scalar, Dynamic, Dynamic>, 1>& state, Eigen::MatrixBase<P>& p,
             const Eigen::MatrixBase<G>& g, bool) const {
    auto& s = state[0];
    const auto decayed = g.array() + weight_decay_ * p.array();
    s += decayed.square();
    p.array() -= this->learning_rate() * decayed / (s.sqrt() + epsilon_);
  }

 private:
  Scalar epsilon_, weight_decay_;
};

/// RMSProp, as torch.optim.RMSprop:
///   s <- alpha s + (1 - alpha) g^2      p <- p - learning_rate g / (sqrt(s) + epsilon)
template <std::floating_point Scalar>
class RMSProp : public BasicOptimizer<RMSProp<Scalar>, Scalar, 1> {
 public:
  static constexpr std::string_view name = "rmsprop";
  static constexpr std::string_view label = "RMSProp";

  /// The hyper-parameters, with PyTorch's defaults.
  struct Options {
    Scalar learning_rate = Scalar(0.01);
    Scalar alpha = Scalar(0.99);
    Scalar epsilon = Scalar(1e-8);
    Scalar weight_decay = 0;
  };

  /// Throws ArgumentError naming any option out of range.
  explicit RMSProp(const Options& options = {})
      : RMSProp::BasicOptimizer(options.learning_rate),
        alpha_(detail::checked_fraction(options.alpha, label, "alpha")),
        epsilon_(detail::checked_positive(options.epsilon, label, "epsilon")),
        weight_decay_(detail::checked_non_negative(options.weight_decay, label, "weight_decay")) {}

  /// One parameter matrix p and its gradient g, with the running mean square s of its slot.
  template <class P, class G>
  void apply(std::array<Eigen::Array<Scalar, Dynamic, Dynamic>, 1>& state, Eigen::MatrixBase<P>& p,
             const Eigen::MatrixBase<G>& g, bool) const {
    auto& s = state[0];
    const auto decayed = g.array() + weight_decay_ * p.array();
    s = alpha_ * s + (1 - alpha_) * decayed.square();
    p.array() -= this->learning_rate() * decayed / (s.sqrt() + epsilon_);
  }

 private:
  Scalar alpha_, epsilon_, weight_decay_;
};

/// Adam (Kingma and Ba, 2015), as torch.optim.Adam, and AdamW's decoupled weight decay:
///   t <- t + 1
///   p <- p (1 - learning_rate decoupled_weight_decay)          (AdamW)
///   g <- g + weight_decay p                                    (L2, as Adam's weight_decay)
///   m <- beta1 m + (1 - beta1) g         v <- beta2 v + (1 - beta2) g^2
///   p <- p - learning_rate / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
/// (the bias corrections grouped as PyTorch groups them, so the two agree to the last bits)
template <std::floating_point Scalar>
class Adam : public BasicOptimizer<Adam<Scalar>, Scalar, 2> {
 public:
  static constexpr std::string_view name = "adam";
  static constexpr std::string_view label = "Adam";

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
      : Adam::BasicOptimizer(options.learning_rate),
        beta1_(detail::checked_fraction(options.beta1, label, "beta1")),
        beta2_(detail::checked_fraction(options.beta2, label, "beta2")),
        epsilon_(detail::checked_positive(options.epsilon, label, "epsilon")),
        weight_decay_(detail::checked_non_negative(options.weight_decay, label, "weight_decay")),
        decoupled_weight_decay_(detail::checked_non_negative(options.decoupled_weight_decay, label,
                                                             "decoupled_weight_decay")) {}

  /// The bias corrections of step t, in double as PyTorch computes them, once per step.
  void prepare_step() {
    const auto t = static_cast<double>(this->steps());
    correction1_ = 1 - std::pow(double(beta1_), t);
    sqrt_correction2_ = std::sqrt(1 - std::pow(double(beta2_), t));
  }

  /// One parameter matrix p and its gradient g, with the moments m and v of its slot.
  template <class P, class G>
  void apply(std::array<Eigen::Array<Scalar, Dynamic, Dynamic>, 2>& state, Eigen::MatrixBase<P>& p,
             const Eigen::MatrixBase<G>& g, bool) const {
    auto& [m, v] = state;
    const Scalar rate = this->learning_rate();
    if (decoupled_weight_decay_ != 0) p *= 1 - rate * decoupled_weight_decay_;
    const auto decayed = g.array() + weight_decay_ * p.array();
    m = beta1_ * m + (1 - beta1_) * decayed;
    v = beta2_ * v + (1 - beta2_) * decayed.square();
    const auto step_size = static_cast<Scalar>(rate / correction1_);
    const auto sqrt_correction2 = static_cast<Scalar>(sqrt_correction2_);
    p.array() -= step_size * m / (v.sqrt() / sqrt_correction2 + epsilon_);
  }

 private:
  Scalar beta1_, beta2_, epsilon_, weight_decay_, decoupled_weight_decay_;
  double correction1_ = 1, sqrt_correction2_ = 1;
};

/// AdamW (Loshchilov and Hutter, 2019): Adam whose weight decay is decoupled from the gradient,
/// with torch.optim.AdamW's default decay of 0.01.
template <std::floating_point Scalar>
Adam<Scalar> AdamW(Scalar learning_rate = Scalar(0.001), Scalar weight_decay = Scalar(0.01)) {
  return Adam<Scalar>({.learning_rate = learning_rate, .decoupled_weight_decay = weight_decay});
}

/// Updates every parameter of a network from the gradients of its last backward(); throws before
/// changing anything when the optimizer's state does not fit the network.
template <Optimizer O, class Net>
void step(O& optimizer, Net& network) {
  if constexpr (requires { optimizer.check(network); }) optimizer.check(network);
  optimizer.begin_step();
  network.for_each_parameter(
      [&](std::size_t slot, auto& p, const auto& g) { optimizer.update(slot, p, g); });
}

}  // namespace backprop
