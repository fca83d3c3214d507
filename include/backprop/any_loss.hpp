// AnyLoss<Scalar>: a loss policy (loss.hpp) held as a value, for the code that is compiled once
// whatever the loss: a Sequential's steps and fit's loop. A compile-time Network's train_step
// takes the policy itself.
//
//   AnyLoss<float> loss = SoftmaxCrossEntropy{};
//
// It points to the policy's functions on run-time matrices, so the element loops are the
// policy's own; its name, its task and whether it averages are members, as a policy's are.
#pragma once

#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "config.hpp"
#include "loss.hpp"

namespace backprop {

namespace detail {

// A loss policy's functions on run-time matrices: what AnyLoss calls. Function templates of their
// own (not lambdas), so that the compiled mode compiles those of the built-in losses once.
template <class Scalar>
using LossIn = Eigen::Ref<const Eigen::Matrix<Scalar, Dynamic, Dynamic>>;
template <class Scalar>
using LossOut = Eigen::Ref<Eigen::Matrix<Scalar, Dynamic, Dynamic>>;

template <class L>
bool loss_fuses(std::string_view activation) {
  return fuses(L{}, activation);
}
template <class L, class Scalar>
void loss_check_targets(const LossIn<Scalar>& y, const char* what) {
  check_targets(L{}, y, what);
}
template <class L>
void loss_check_output_activation(bool fused, std::string_view activation) {
  check_output_activation(L{}, fused, activation);
}
template <class L, class Scalar>
Scalar loss_value(bool fused, const LossIn<Scalar>& z, const LossIn<Scalar>& a,
                  const LossIn<Scalar>& y) {
  return static_cast<Scalar>(output_loss(L{}, fused, z, a, y));
}
template <class L, class Scalar>
void loss_gradient(bool fused, LossOut<Scalar> z, const LossIn<Scalar>& a,
                   const LossIn<Scalar>& y) {
  output_gradient(L{}, fused, z, a, y, [] {});
}

}  // namespace detail

/// A loss policy of scalar Scalar, chosen at run time.
template <class Scalar>
class AnyLoss {
 public:
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  using In = detail::LossIn<Scalar>;
  using Out = detail::LossOut<Scalar>;

  /// Loss L: AnyLoss<float>(MeanSquared{}).
  template <LossFunction L>
  AnyLoss(const L&)  // NOLINT(google-explicit-constructor): a loss converts to its value
      : name(L::name), averages(L::averages), task(L::task), calls_(&calls_of<L>) {}

  std::string_view name;  ///< the policy's: "softmax_cross_entropy"
  bool averages;          ///< a mean over samples (else a sum)
  Task task;              ///< what it trains for, and so fit's metrics

  /// Whether it takes over the derivative of the output activation named `activation`.
  bool fuses(std::string_view activation) const { return calls_->fuses(activation); }
  /// Throws ArgumentError unless Y is in its domain; `what` names Y.
  void check_targets(const In& y, const char* what) const { calls_->check_targets(y, what); }
  /// Throws ArgumentError unless it can be used at an output of this activation.
  void check_output_activation(bool fused, std::string_view activation) const {
    calls_->check_output_activation(fused, activation);
  }
  /// Its value at the output's Z and A for targets Y, from the logits when fused.
  Scalar value(bool fused, const In& z, const In& a, const In& y) const {
    return calls_->value(fused, z, a, y);
  }
  /// z = dL/dZ (fused) or dL/dA (not: then the activation's derivative follows).
  void gradient(bool fused, Out z, const In& a, const In& y) const {
    calls_->gradient(fused, z, a, y);
  }

 private:
  struct Calls {
    bool (*fuses)(std::string_view activation);
    void (*check_targets)(const In& y, const char* what);
    void (*check_output_activation)(bool fused, std::string_view activation);
    Scalar (*value)(bool fused, const In& z, const In& a, const In& y);
    void (*gradient)(bool fused, Out z, const In& a, const In& y);
  };
  template <class L>
  static constexpr Calls calls_of{&detail::loss_fuses<L>, &detail::loss_check_targets<L, Scalar>,
                                  &detail::loss_check_output_activation<L>,
                                  &detail::loss_value<L, Scalar>,
                                  &detail::loss_gradient<L, Scalar>};

  const Calls* calls_;
};

}  // namespace backprop
