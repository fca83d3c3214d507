// fit's data, checked and laid out before the first epoch: the training rows row-major (a batch
// gathers whole samples), and the validation rows, given or split off with the seed.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../data/split.hpp"
#include "../engine.hpp"
#include "../random.hpp"
#include "options.hpp"

namespace backprop::detail {

/// Throws ArgumentError naming the first NaN or Inf in M, which is data called `what`.
template <class M>
void check_finite_data(const Eigen::MatrixBase<M>& m, const std::string& what) {
  for (Index c = 0; c < m.cols(); ++c)
    for (Index r = 0; r < m.rows(); ++r)
      if (!std::isfinite(m(r, c)))
        throw ArgumentError("backprop::fit: " + what + " holds " + number_string(double(m(r, c))) +
                            " at row " + std::to_string(r) + ", column " + std::to_string(c) +
                            "; training needs finite numbers");
}

/// Throws unless X and Y (named `what`X and `what`Y) fit the network and the loss: shapes (as the
/// engine checks them), finite values, and targets in the loss's domain. Messages name the
/// caller's rows.
template <class Net, class X, class Y, class L>
void check_fit_data(const Net& net, const X& x, const Y& y, const L& loss,
                    const std::string& what) {
  const std::string x_name = what + "X", y_name = what + "Y";
  check_shapes("backprop::fit", "", net.widths().front(), net.widths().back(), x.rows(), x.cols(),
               y.rows(), y.cols(), x_name, y_name);
  check_finite_data(x, x_name);
  check_finite_data(y, y_name);
  check_targets(loss, y, y_name.c_str());
}

/// Rows rows[0], ..., rows[count - 1] of X (row-major) into the top rows of B (column-major), in
/// tiles of 16 rows: each read runs along a row of X and each write down a column of B, where
/// copying row by row would store across B's columns, one cache line per value.
template <class X, class B>
void gather_rows_into(const X& x, const Index* rows, Index count, B& batch) {
  constexpr Index tile = 16;
  for (Index first = 0; first < count; first += tile) {
    const Index n = std::min(tile, count - first);
    for (Index c = 0; c < x.cols(); ++c)
      for (Index k = 0; k < n; ++k)
        batch(first + k, c) = x(rows[first + k], c);
  }
}

/// The number of batches of `size` rows that cover `samples` rows, the last one partial.
inline Index batch_count(Index samples, Index size) {
  return samples / size + (samples % size != 0 ? 1 : 0);
}

/// The training and validation rows of a fit.
template <class Scalar>
struct FitData {
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  using Rows = Eigen::Matrix<Scalar, Dynamic, Dynamic, Eigen::RowMajor>;
  using Input = Eigen::Ref<const Matrix>;
  Rows x, y;
  Matrix held_out_x, held_out_y;  // the split's validation rows, which `validation` refers to
  std::optional<ValidationData<Scalar>> validation{};

  /// Checks X, Y and the options' validation data against the network and the loss, then lays
  /// them out; a validation_split draws its rows from `random`.
  template <class Net, class L>
  FitData(const Net& net, const Input& x_, const Input& y_, const L& loss,
          const FitOptions<Scalar>& options, Xoshiro256& random) {
    check_fit_data(net, x_, y_, loss, "");
    if (options.validation)
      check_fit_data(net, options.validation->x, options.validation->y, loss, "validation ");
    std::vector<Index> training(static_cast<std::size_t>(x_.rows()));
    std::iota(training.begin(), training.end(), Index{0});
    if (options.validation_split > 0) {
      auto [train, held_out] = split_rows(x_.rows(), options.validation_split, random, "fit");
      held_out_x = gather_rows<Scalar>(x_, held_out);
      held_out_y = gather_rows<Scalar>(y_, held_out);
      validation.emplace(held_out_x, held_out_y);
      training = std::move(train);
    } else if (options.validation) {
      validation = options.validation;
    }
    x = gather_rows<Scalar, Eigen::RowMajor>(x_, training);
    y = gather_rows<Scalar, Eigen::RowMajor>(y_, training);
  }
  FitData(const FitData&) = delete;  // `validation` may refer to held_out_x and held_out_y
  FitData& operator=(const FitData&) = delete;

  Index samples() const { return x.rows(); }
};

}  // namespace backprop::detail
