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
// checks, the constructors) plus its own rule; the rules are torch.optim's, so results compare one
// to one. Each is built alike: Adam<float>() with the defaults, Adam<float>(0.01) with a learning
// rate, Adam<float>({.learning_rate = 0.01f, .beta2 = 0.99f}) with any options.
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "config.hpp"

namespace backprop {

/// What train_step and fit need from an optimizer (BasicOptimizer has it all): its scalar, a name
/// for files, the two calls of a step, the learning rate, the steps taken, and the state per slot,
/// a vector (one entry per slot) of arrays shaped like the slot's parameter, for files and for
/// data-parallel members to share.
template <class O>
concept Optimizer = requires(O o, const O c, typename O::Scalar rate, std::int64_t steps,
                             Eigen::Matrix<typename O::Scalar, Dynamic, Dynamic> m) {
  requires std::floating_point<typename O::Scalar>;
  { O::name } -> std::convertible_to<std::string_view>;
  o.begin_step();
  o.update(std::size_t{0}, m, m);
  { c.learning_rate() } -> std::same_as<typename O::Scalar>;
  o.set_learning_rate(rate);
  { c.steps() } -> std::same_as<std::int64_t>;
  o.set_steps(steps);
  o.state();
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

/// What every optimizer shares: its options, the learning rate, the count of steps taken, K state
/// arrays per slot, and the constructors. Derived states its name ("adam", for files), its label
/// ("Adam", for messages), check_options(options), which throws ArgumentError naming an option out
/// of range, and apply(state, p, g, fresh); it may state prepare_step() for what changes once per
/// step. Options_ is an aggregate with a learning_rate and the defaults.
template <class Derived, std::floating_point Scalar_, class Options_, std::size_t K>
class BasicOptimizer {
 public:
  /// float or double: the scalar of the networks it trains.
  using Scalar = Scalar_;
  /// The hyper-parameters, with their defaults.
  using Options = Options_;
  /// The state of one slot: K arrays shaped like its parameter.
  using Slot = typename detail::SlotState<Scalar, K>::Slot;

  /// The default options.
  BasicOptimizer() : BasicOptimizer(Options{}) {}
  /// Any options: Adam<float>({.learning_rate = 0.01f}). (A template with a default argument, so
  /// that Adam<float>({}) means the default options on every compiler, where GCC would otherwise
  /// find it ambiguous with the copy constructor.)
  template <std::same_as<Options> O = Options>
  explicit BasicOptimizer(const O& options) : options_(options) {
    set_learning_rate(options.learning_rate);
    Derived::check_options(options_);
  }
  /// The default options but the learning rate: Adam<float>(0.01). (A template, so that {} is not
  /// a learning rate of 0.)
  template <class Rate>
  requires std::is_arithmetic_v<Rate>
  explicit BasicOptimizer(Rate learning_rate)
      : BasicOptimizer([&] {
          Options options;
          options.learning_rate = static_cast<Scalar>(learning_rate);
          return options;
        }()) {}

  /// The options it was built with (the learning rate in them is the initial one).
  const Options& options() const { return options_; }

  /// The step size.
  Scalar learning_rate() const { return learning_rate_; }
  /// Sets the step size (fit's schedules do), checked as in the constructor.
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_non_negative(learning_rate, Derived::label, "learning_rate");
  }

  /// The steps taken so far (Adam's t), for saving and resuming.
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps) {
    if (steps < 0 || steps == std::numeric_limits<std::int64_t>::max())
      throw ArgumentError("backprop::" + std::string(Derived::label) + ": steps must be in [0, " +
                          "2^63 - 1), got " + std::to_string(steps));
    steps_ = steps;
  }
  /// The state of every slot, for saving and resuming (empty where K is 0).
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

 private:
  Options options_;
  Scalar learning_rate_{};
  std::int64_t steps_ = 0;
  detail::SlotState<Scalar, K> state_;
};

/// SGD's hyper-parameters.
template <class Scalar>
struct SGDOptions {
  Scalar learning_rate = Scalar(0.001);  ///< torch.optim.SGD has none (PyTorch 2's default)
  Scalar weight_decay = 0;               ///< L2: g + weight_decay p
};

/// Plain gradient descent with optional L2 weight decay, as torch.optim.SGD without momentum:
///   g <- g + weight_decay p        p <- p - learning_rate g
/// With HalfSumSquared and learning rate 1 this is the tutorial's W += X^T delta.
template <std::floating_point Scalar>
class SGD : public BasicOptimizer<SGD<Scalar>, Scalar, SGDOptions<Scalar>, 0> {
 public:
  static constexpr std::string_view name = "sgd";
  static constexpr std::string_view label = "SGD";
  using SGD::BasicOptimizer::BasicOptimizer;

  static void check_options(const SGDOptions<Scalar>& o) {
    detail::checked_non_negative(o.weight_decay, label, "weight_decay");
  }

  /// p -= learning_rate (g + weight_decay p)
  template <class P, class G>
  void apply(Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) const {
    const Scalar rate = this->learning_rate(), decay = this->options().weight_decay;
    if (decay == 0)
      p -= rate * g;
    else
      p -= rate * (g + decay * p);
  }
};
/// SGD(0.1) is an SGD<double>.
template <class Rate>
requires std::is_floating_point_v<Rate> SGD(Rate)
->SGD<Rate>;

/// Momentum's hyper-parameters. The learning rate and the momentum are ours: torch.optim.SGD has
/// no default learning rate (PyTorch 2's is 0.001) and a momentum of 0, which is SGD.
template <class Scalar>
struct MomentumOptions {
  Scalar learning_rate = Scalar(0.001);
  Scalar momentum = Scalar(0.9);
  Scalar dampening = 0;
  bool nesterov = false;
  Scalar weight_decay = 0;
};

/// Gradient descent with momentum, as torch.optim.SGD(momentum=mu, dampening=d, nesterov=...):
///   g <- g + weight_decay p
///   v <- g on the first step, then v <- mu v + (1 - d) g
///   p <- p - learning_rate v                    (classical)
///   p <- p - learning_rate (g + mu v)           (Nesterov)
template <std::floating_point Scalar>
class Momentum : public BasicOptimizer<Momentum<Scalar>, Scalar, MomentumOptions<Scalar>, 1> {
 public:
  static constexpr std::string_view name = "momentum";
  static constexpr std::string_view label = "Momentum";
  using Momentum::BasicOptimizer::BasicOptimizer;

  /// Nesterov's momentum needs a momentum above 0 and no dampening.
  static void check_options(const MomentumOptions<Scalar>& o) {
    detail::checked_fraction(o.momentum, label, "momentum");
    detail::checked_fraction(o.dampening, label, "dampening");
    detail::checked_non_negative(o.weight_decay, label, "weight_decay");
    if (o.nesterov && (o.momentum == 0 || o.dampening != 0))
      throw ArgumentError(
          "backprop::Momentum: Nesterov momentum needs a momentum > 0 and no dampening");
  }

  /// One parameter matrix p and its gradient g, with the velocity v of its slot.
  template <class P, class G>
  void apply(typename Momentum::Slot& state, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g,
             bool first) const {
    const MomentumOptions<Scalar>& o = this->options();
    auto& v = state[0];
    const auto decayed = g.array() + o.weight_decay * p.array();
    if (first)
      v = decayed;
    else
      v = o.momentum * v + (1 - o.dampening) * decayed;
    const Scalar rate = this->learning_rate();
    if (o.nesterov)
      p.array() -= rate * (decayed + o.momentum * v);
    else
      p.array() -= rate * v;
  }
};

/// AdaGrad's hyper-parameters, with torch.optim.Adagrad's defaults.
template <class Scalar>
struct AdaGradOptions {
  Scalar learning_rate = Scalar(0.01);
  Scalar epsilon = Scalar(1e-10);
  Scalar weight_decay = 0;
};

/// AdaGrad, as torch.optim.Adagrad:  s <- s + g^2   p <- p - learning_rate g / (sqrt(s) + epsilon)
template <std::floating_point Scalar>
class AdaGrad : public BasicOptimizer<AdaGrad<Scalar>, Scalar, AdaGradOptions<Scalar>, 1> {
 public:
  static constexpr std::string_view name = "adagrad";
  static constexpr std::string_view label = "AdaGrad";
  using AdaGrad::BasicOptimizer::BasicOptimizer;

  static void check_options(const AdaGradOptions<Scalar>& o) {
    detail::checked_positive(o.epsilon, label, "epsilon");
    detail::checked_non_negative(o.weight_decay, label, "weight_decay");
  }

  /// One parameter matrix p and its gradient g, with the sum of squares s of its slot.
  template <class P, class G>
  void apply(typename AdaGrad::Slot& state, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g,
             bool) const {
    const AdaGradOptions<Scalar>& o = this->options();
    auto& s = state[0];
    const auto decayed = g.array() + o.weight_decay * p.array();
    s += decayed.square();
    p.array() -= this->learning_rate() * decayed / (s.sqrt() + o.epsilon);
  }
};

/// RMSProp's hyper-parameters, with torch.optim.RMSprop's defaults.
template <class Scalar>
struct RMSPropOptions {
  Scalar learning_rate = Scalar(0.01);
  Scalar alpha = Scalar(0.99);
  Scalar epsilon = Scalar(1e-8);
  Scalar weight_decay = 0;
};

/// RMSProp, as torch.optim.RMSprop:
///   s <- alpha s + (1 - alpha) g^2      p <- p - learning_rate g / (sqrt(s) + epsilon)
template <std::floating_point Scalar>
class RMSProp : public BasicOptimizer<RMSProp<Scalar>, Scalar, RMSPropOptions<Scalar>, 1> {
 public:
  static constexpr std::string_view name = "rmsprop";
  static constexpr std::string_view label = "RMSProp";
  using RMSProp::BasicOptimizer::BasicOptimizer;

  static void check_options(const RMSPropOptions<Scalar>& o) {
    detail::checked_fraction(o.alpha, label, "alpha");
    detail::checked_positive(o.epsilon, label, "epsilon");
    detail::checked_non_negative(o.weight_decay, label, "weight_decay");
  }

  /// One parameter matrix p and its gradient g, with the running mean square s of its slot.
  template <class P, class G>
  void apply(typename RMSProp::Slot& state, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g,
             bool) const {
    const RMSPropOptions<Scalar>& o = this->options();
    auto& s = state[0];
    const auto decayed = g.array() + o.weight_decay * p.array();
    s = o.alpha * s + (1 - o.alpha) * decayed.square();
    p.array() -= this->learning_rate() * decayed / (s.sqrt() + o.epsilon);
  }
};

/// Adam's hyper-parameters, with torch.optim.Adam's defaults.
template <class Scalar>
struct AdamOptions {
  Scalar learning_rate = Scalar(0.001);
  Scalar beta1 = Scalar(0.9);
  Scalar beta2 = Scalar(0.999);
  Scalar epsilon = Scalar(1e-8);
  Scalar weight_decay = 0;  ///< L2, added to the gradient (AdamW decays the weights instead)
};

/// AdamW's hyper-parameters, with torch.optim.AdamW's defaults.
template <class Scalar>
struct AdamWOptions {
  Scalar learning_rate = Scalar(0.001);
  Scalar beta1 = Scalar(0.9);
  Scalar beta2 = Scalar(0.999);
  Scalar epsilon = Scalar(1e-8);
  Scalar weight_decay = Scalar(0.01);  ///< decoupled: p <- p (1 - learning_rate weight_decay)
};

namespace detail {

/// What Adam and AdamW share: the moments and the bias corrections of each step.
///   m <- beta1 m + (1 - beta1) g         v <- beta2 v + (1 - beta2) g^2
///   p <- p - learning_rate / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
/// (the corrections grouped as PyTorch groups them, so the two agree to the last bits)
template <class Derived, class Scalar, class Options>
class AdamRule : public BasicOptimizer<Derived, Scalar, Options, 2> {
 public:
  using AdamRule::BasicOptimizer::BasicOptimizer;

  static void check_options(const Options& o) {
    checked_fraction(o.beta1, Derived::label, "beta1");
    checked_fraction(o.beta2, Derived::label, "beta2");
    checked_positive(o.epsilon, Derived::label, "epsilon");
    checked_non_negative(o.weight_decay, Derived::label, "weight_decay");
  }

  /// The bias corrections of step t, in double as PyTorch computes them, once per step.
  void prepare_step() {
    const Options& o = this->options();
    const auto t = static_cast<double>(this->steps());
    correction1_ = 1 - std::pow(double(o.beta1), t);
    sqrt_correction2_ = std::sqrt(1 - std::pow(double(o.beta2), t));
  }

 protected:
  /// The moments' update of a slot from the gradient g, then p's.
  template <class P, class G>
  void moments(typename AdamRule::Slot& state, Eigen::MatrixBase<P>& p,
               const Eigen::ArrayBase<G>& g) const {
    const Options& o = this->options();
    auto& [m, v] = state;
    m = o.beta1 * m + (1 - o.beta1) * g;
    v = o.beta2 * v + (1 - o.beta2) * g.square();
    const auto step_size = static_cast<Scalar>(this->learning_rate() / correction1_);
    const auto sqrt_correction2 = static_cast<Scalar>(sqrt_correction2_);
    p.array() -= step_size * m / (v.sqrt() / sqrt_correction2 + o.epsilon);
  }

 private:
  double correction1_ = 1, sqrt_correction2_ = 1;
};

}  // namespace detail

/// Adam (Kingma and Ba, 2015), as torch.optim.Adam, with L2 weight decay added to the gradient:
///   g <- g + weight_decay p, then the moments and the update of detail::AdamRule.
template <std::floating_point Scalar>
class Adam : public detail::AdamRule<Adam<Scalar>, Scalar, AdamOptions<Scalar>> {
 public:
  static constexpr std::string_view name = "adam";
  static constexpr std::string_view label = "Adam";
  using Adam::AdamRule::AdamRule;

  /// One parameter matrix p and its gradient g, with the moments m and v of its slot.
  template <class P, class G>
  void apply(typename Adam::Slot& state, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g,
             bool) const {
    const Scalar decay = this->options().weight_decay;
    this->moments(state, p, g.array() + decay * p.array());
  }
};

/// AdamW (Loshchilov and Hutter, 2019), as torch.optim.AdamW: Adam whose weight decay is decoupled
/// from the gradient, p <- p (1 - learning_rate weight_decay) before Adam's update. Its files say
/// "adamw"; it also loads the files of backprop 0.2, whose AdamW saved as "adam".
template <std::floating_point Scalar>
class AdamW : public detail::AdamRule<AdamW<Scalar>, Scalar, AdamWOptions<Scalar>> {
 public:
  static constexpr std::string_view name = "adamw";
  static constexpr std::string_view label = "AdamW";
  /// Other names its files have had.
  static constexpr std::string_view former_name = "adam";
  using AdamW::AdamRule::AdamRule;

  /// One parameter matrix p and its gradient g, with the moments m and v of its slot.
  template <class P, class G>
  void apply(typename AdamW::Slot& state, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g,
             bool) const {
    p *= 1 - this->learning_rate() * this->options().weight_decay;
    this->moments(state, p, g.array());
  }
};

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
