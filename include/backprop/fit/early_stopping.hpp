// Early stopping: fit() watches the validation loss of each epoch, keeps the weights of the best,
// and gives them back at the end.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "history.hpp"

namespace backprop::detail {

/// Early stopping: watches the validation loss of each epoch, keeps the weights of the best, and
/// gives them back at the end. Off (patience 0), the last epoch is the best.
template <class Scalar>
class EarlyStopping {
 public:
  EarlyStopping(int patience, double min_delta) : patience_(patience), min_delta_(min_delta) {}

  /// After each epoch: whether to stop now.
  template <class Net>
  bool observe(const EpochRecord& record, const Net& net, History& history) {
    if (patience_ == 0) {
      history.best_epoch = record.epoch;
      return false;
    }
    if (record.validation->loss < best_loss_ - min_delta_) {
      best_loss_ = record.validation->loss;
      history.best_epoch = record.epoch;
      waited_ = 0;
      best_weights_.clear();
      net.for_each_parameter(
          [&](std::size_t, const auto& p, const auto&) { best_weights_.emplace_back(p); });
      return false;
    }
    return history.stopped_early = ++waited_ >= patience_;
  }

  /// The best epoch's weights, back into the network, unless it holds them: then false.
  template <class Net>
  bool restore(Net& net, const History& history) const {
    if (best_weights_.empty() || history.best_epoch == history.epochs.back().epoch) return false;
    net.for_each_parameter(
        [&](std::size_t slot, auto& p, const auto&) { p = best_weights_[slot]; });
    return true;
  }

 private:
  int patience_;
  double min_delta_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int waited_ = 0;
  std::vector<Eigen::Matrix<Scalar, Dynamic, Dynamic>> best_weights_;
};

}  // namespace backprop::detail
