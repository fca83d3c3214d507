// Optimizers: read the gradients a network holds after backward() and update its parameters.
//
// An optimizer has two calls: begin_step() once per training step, then update(slot, parameter,
// gradient) for each parameter matrix of the network. Network::train_step makes them, updating
// each layer as soon as its gradients are ready; step(network) makes them after a separate
// backward(). The slot numbers a parameter matrix for the life of the network, so a stateful
// optimizer (momentum, Adam) keeps its state per slot; that state lives in the optimizer, never in
// the network.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "config.hpp"

namespace backprop {

namespace detail {
// A learning rate is a finite number >= 0 (0 is allowed, as in PyTorch: it freezes training).
template <class Scalar>
Scalar checked_learning_rate(Scalar learning_rate, const char* optimizer) {
  if (!std::isfinite(learning_rate) || learning_rate < 0)
    throw ArgumentError(std::string("backprop::") + optimizer +
                        ": learning_rate must be a finite number >= 0, got " +
                        std::to_string(learning_rate));
  return learning_rate;
}
}  // namespace detail

// Plain gradient descent: W <- W - learning_rate * dL/dW.
// With HalfSumSquared and learning rate 1 this is the tutorial's W += X^T delta.
template <std::floating_point Scalar>
class SGD {
 public:
  explicit SGD(Scalar learning_rate)
      : learning_rate_(detail::checked_learning_rate(learning_rate, "SGD")) {}

  void begin_step() {}

  // P, G: one parameter matrix and its gradient, of equal shapes
  template <class P, class G>
  void update(std::size_t /*slot*/, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) const {
    static_assert(std::is_same_v<typename P::Scalar, Scalar>,
                  "SGD: the optimizer's scalar type must be the network's");
    p -= learning_rate_ * g;
  }

  // Updates every parameter of a network from the gradients of its last backward().
  template <class Network>
  void step(Network& network) {
    begin_step();
    network.for_each_parameter(
        [this](std::size_t slot, auto& p, const auto& g) { update(slot, p, g); });
  }

  Scalar learning_rate() const { return learning_rate_; }
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_learning_rate(learning_rate, "SGD");
  }

 private:
  Scalar learning_rate_;
};

}  // namespace backprop
