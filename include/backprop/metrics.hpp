// Metrics: accuracy for classification, mean squared and mean absolute error for regression, and
// the running scores fit() keeps over the batches of an epoch.
//
//   A, Y: (batch, outputs)   network outputs and targets
//
// Accuracy takes each row's class as its largest entry (one-hot targets, softmax outputs), or, for
// a single output, as whether it is at least 0.5 (binary targets, sigmoid outputs).
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <string>

#include <Eigen/Core>

#include "config.hpp"
#include "loss.hpp"

namespace backprop {

/// The class of row r: the index of its largest entry, or 0/1 for a single column.
template <class M>
Index class_of_row(const Eigen::MatrixBase<M>& m, Index r) {
  if (m.cols() == 1) return m(r, 0) >= typename M::Scalar(0.5) ? 1 : 0;
  Index best;
  m.row(r).maxCoeff(&best);
  return best;
}

/// The number of rows whose class in A matches the class in Y.
template <class A, class Y>
Index correct_count(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<Y>& y) {
  Index correct = 0;
  for (Index r = 0; r < a.rows(); ++r)
    correct += class_of_row(a, r) == class_of_row(y, r);
  return correct;
}

/// The fraction of rows whose class in A matches the class in Y.
template <class A, class Y>
double accuracy(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<Y>& y) {
  return static_cast<double>(correct_count(a, y)) / static_cast<double>(a.rows());
}

/// counts(t, p): how many rows of class t (in Y) the network put in class p (in A).
template <class A, class Y>
Eigen::MatrixXi confusion_matrix(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<Y>& y,
                                 Index classes) {
  Eigen::MatrixXi counts = Eigen::MatrixXi::Zero(classes, classes);
  for (Index r = 0; r < a.rows(); ++r) {
    const Index t = class_of_row(y, r), p = class_of_row(a, r);
    if (t >= classes || p >= classes)
      throw ShapeError("backprop::confusion_matrix: row " + std::to_string(r) +
                       " has a class beyond the " + std::to_string(classes) + " given");
    ++counts(t, p);
  }
  return counts;
}

/// What a set of samples scored: the loss, and the metrics of the task.
struct Scores {
  double loss = 0;
  std::optional<double> accuracy{};    ///< classification
  std::optional<double> mse{}, mae{};  ///< regression: mean over samples and outputs
};

/// Scores summed batch by batch, each batch weighted by its number of samples.
class ScoreAccumulator {
 public:
  /// loss_averages: the loss is a mean over the batch (else a sum, as HalfSumSquared).
  ScoreAccumulator(Task task, bool loss_averages) : task_(task), loss_(loss_averages) {}

  /// The outputs A of a batch against its targets Y: its samples and metrics.
  template <class A, class Y>
  void add_outputs(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<Y>& y) {
    samples_ += static_cast<double>(a.rows());
    if (task_ == Task::classification) {
      correct_ += static_cast<double>(correct_count(a, y));
    } else {
      squared_ += static_cast<double>((a - y).squaredNorm());
      absolute_ += static_cast<double>((a - y).cwiseAbs().sum());
      values_ += static_cast<double>(a.size());
    }
  }

  /// The loss of a batch of `samples` rows.
  void add_loss(double batch_loss, Index samples) { loss_.add(batch_loss, samples); }

  /// The loss of every batch added so far, combined as the loss combines samples.
  double loss() const { return loss_.value(); }

  /// The sums behind the scores, for adding up the accumulators of several members (fit over a
  /// Collective): sum them element-wise and set_totals the result.
  using Totals = std::array<double, 7>;
  Totals totals() const {
    const auto [loss, rows] = loss_.sums();
    return {samples_, loss, rows, correct_, squared_, absolute_, values_};
  }
  void set_totals(const Totals& t) {
    samples_ = t[0];
    loss_ = LossTotal::from_sums(loss_averages(), t[1], t[2]);
    correct_ = t[3];
    squared_ = t[4];
    absolute_ = t[5];
    values_ = t[6];
  }

  /// The scores of every batch added so far.
  Scores result() const {
    Scores s;
    s.loss = loss();
    if (task_ == Task::classification) {
      s.accuracy = correct_ / samples_;
    } else {
      s.mse = squared_ / values_;
      s.mae = absolute_ / values_;
    }
    return s;
  }

 private:
  bool loss_averages() const { return loss_.averages(); }

  Task task_;
  LossTotal loss_;
  double samples_ = 0, correct_ = 0, squared_ = 0, absolute_ = 0, values_ = 0;
};

}  // namespace backprop
