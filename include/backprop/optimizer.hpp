// Optimizers: read the gradients a network holds after backward() and update its parameters.
//
// An optimizer has step(network), which visits the network's parameters with
// for_each_parameter(f(parameter, gradient)), always in the same order (layer by layer, W then b).
// A stateful optimizer (momentum, Adam) keeps one state slot per visited matrix, in that order,
// sized from the network on its first step; the state lives in the optimizer, not the network.
#pragma once

#include <cmath>
#include <concepts>
#include <string>
#include <type_traits>

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

  template <class Network>
  void step(Network& network) {
    static_assert(std::is_same_v<typename Network::Scalar, Scalar>,
                  "SGD: the optimizer's scalar type must be the network's");
    network.for_each_parameter([lr = learning_rate_](auto& p, const auto& g) { p -= lr * g; });
  }

  Scalar learning_rate() const { return learning_rate_; }
  void set_learning_rate(Scalar learning_rate) {
    learning_rate_ = detail::checked_learning_rate(learning_rate, "SGD");
  }

 private:
  Scalar learning_rate_;
};

}  // namespace backprop
