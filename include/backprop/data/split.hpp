// Preparing data: one-hot labels and a seeded split into training and validation rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../random.hpp"

namespace backprop {

/// labels: class numbers in [0, classes)  ->  (labels, classes) with a 1 in each row's class
template <class Scalar = float>
Eigen::Matrix<Scalar, Dynamic, Dynamic> one_hot(const std::vector<int>& labels, int classes) {
  if (classes < 1)
    throw ArgumentError("backprop::one_hot: classes must be at least 1, got " +
                        std::to_string(classes));
  Eigen::Matrix<Scalar, Dynamic, Dynamic> y =
      Eigen::Matrix<Scalar, Dynamic, Dynamic>::Zero(static_cast<Index>(labels.size()), classes);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes)
      throw ArgumentError("backprop::one_hot: label " + std::to_string(i) + " is " +
                          std::to_string(labels[i]) + ", outside [0, " + std::to_string(classes) +
                          ")");
    y(static_cast<Index>(i), labels[i]) = 1;
  }
  return y;
}

namespace detail {

/// Row numbers in [0, rows): round(fraction * rows) drawn for validation, the rest for training,
/// each list in increasing order. Throws unless both get at least one row.
inline std::pair<std::vector<Index>, std::vector<Index>> split_rows(Index rows, double fraction,
                                                                    Xoshiro256& random,
                                                                    const char* caller) {
  std::vector<Index> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), Index{0});
  shuffle(order.begin(), order.end(), random);
  const auto held_out =
      static_cast<std::size_t>(std::llround(fraction * static_cast<double>(rows)));
  if (held_out < 1 || held_out >= order.size())
    throw ArgumentError(std::string("backprop::") + caller + ": a validation fraction of " +
                        number_string(fraction) + " of " + std::to_string(rows) +
                        " rows leaves no rows for validation or none for training");
  std::vector<Index> validation(order.begin(),
                                order.begin() + static_cast<std::ptrdiff_t>(held_out));
  std::vector<Index> train(order.begin() + static_cast<std::ptrdiff_t>(held_out), order.end());
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());
  return {std::move(train), std::move(validation)};
}

/// Rows `rows` of M, in that order, as a matrix of the given storage order.
template <class Scalar, int Options = Eigen::ColMajor, class M>
Eigen::Matrix<Scalar, Dynamic, Dynamic, Options> gather_rows(const Eigen::MatrixBase<M>& m,
                                                             const std::vector<Index>& rows) {
  Eigen::Matrix<Scalar, Dynamic, Dynamic, Options> result(static_cast<Index>(rows.size()),
                                                          m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    result.row(static_cast<Index>(i)) = m.row(rows[i]).template cast<Scalar>();
  return result;
}

}  // namespace detail

/// Training and validation rows of X and Y.
template <class Scalar>
struct Split {
  Eigen::Matrix<Scalar, Dynamic, Dynamic> x_train, y_train, x_validation, y_validation;
};

/// Puts round(fraction * rows) rows, drawn at random from `seed`, into validation, the rest into
/// training; both keep the original order of their rows.
template <class X, class Y>
Split<typename X::Scalar> train_validation_split(const Eigen::MatrixBase<X>& x,
                                                 const Eigen::MatrixBase<Y>& y, double fraction,
                                                 std::uint64_t seed) {
  if (x.rows() != y.rows())
    throw ShapeError("backprop::train_validation_split: X is " +
                     detail::shape_string(x.rows(), x.cols()) + " but Y is " +
                     detail::shape_string(y.rows(), y.cols()));
  if (!(fraction > 0 && fraction < 1))
    throw ArgumentError("backprop::train_validation_split: fraction must be in (0, 1), got " +
                        detail::number_string(fraction));
  Xoshiro256 random(seed);
  const auto [train, validation] =
      detail::split_rows(x.rows(), fraction, random, "train_validation_split");
  using S = typename X::Scalar;
  return {detail::gather_rows<S>(x, train), detail::gather_rows<S>(y, train),
          detail::gather_rows<S>(x, validation), detail::gather_rows<S>(y, validation)};
}

}  // namespace backprop
