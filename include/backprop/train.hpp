// fit(): train a network over epochs of shuffled minibatches, with validation, metrics,
// callbacks, early stopping and learning-rate schedules; it returns the history of every epoch.
//
//   FitOptions<float> options{.epochs = 10, .batch_size = 128, .seed = 7,
//                             .validation_split = 0.1};
//   History history = fit(net, X, Y, SoftmaxCrossEntropy{}, adam, options);
//
// Works with Network and Sequential alike. Everything random (the validation split, the order of
// the batches) comes from options.seed, so the same seed gives the same history, bit for bit
// apart from the timings. Dropout layers draw from their own seeds.
//
// Given options.collective, fit trains data-parallel: every member calls it with the same network,
// data and options, and they train one model together (data_parallel.hpp says how, and what is
// identical). fit is a thin front: the loop is fit/trainer.hpp's Trainer, compiled once per
// scalar, which holds the network, the loss and the optimizer as values.
#pragma once

#include <type_traits>

#include <Eigen/Core>

#include "any_loss.hpp"
#include "fit/data.hpp"
#include "fit/early_stopping.hpp"
#include "fit/history.hpp"
#include "fit/options.hpp"
#include "fit/trainer.hpp"
#include "loss.hpp"
#include "optimizer.hpp"
#include "optimizer_ref.hpp"

namespace backprop {

/// Trains `net` on X: (samples, inputs) and Y: (samples, outputs). Everything is checked before
/// the first step: the options, the data and the validation data (shapes, finite values, targets
/// in the loss's domain, with messages naming the caller's rows), every epoch's learning rate,
/// and the optimizer against the network; a failed check changes nothing. A loss that turns
/// non-finite while training throws NumericError naming the epoch and batch; the network then
/// keeps the weights from before that step.
///
/// With options.collective, every member must call fit alike (data_parallel.hpp): the members
/// check that they agree, start from member 0's parameters and optimizer state, and end with the
/// same parameters, History and errors.
template <class Net, class X, class Y, LossFunction L, Optimizer O>
History fit(Net& net, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
            const L& criterion, O& optimizer,
            const FitOptions<typename Net::Scalar>& options = {}) {
  using Scalar = typename Net::Scalar;
  static_assert(std::is_same_v<typename O::Scalar, Scalar>,
                "fit: the optimizer's scalar type must be the network's "
                "(Adam<float> for a network of float)");
  static_assert(
      std::is_same_v<typename X::Scalar, Scalar> && std::is_same_v<typename Y::Scalar, Scalar>,
      "fit: X and Y must have the network's scalar type (x.cast<float>())");
  using Input = typename detail::Trainer<Scalar>::Input;
  OptimizerRef<Scalar> shared(optimizer);
  shared.set_share(&detail::share_state<O>);
  return detail::Trainer<Scalar>(detail::NetworkRef<Scalar>(net), criterion, shared, options)
      .fit(Input(x), Input(y));
}

}  // namespace backprop
