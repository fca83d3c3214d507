// Scalers: per-column affine maps fitted on training data, x' = (x - offset) / scale.
//
//   MaxScaler       offset 0,        scale max        (the tutorial's X / np.amax(X, axis=0))
//   MinMaxScaler    offset min,      scale max - min  (to [0, 1])
//   StandardScaler  offset mean,     scale std        (population std, as scikit-learn)
//
//   MaxScaler scaler;  scaler.fit(X_train);
//   X = scaler.transform(X_train);  query = scaler.transform(new_rows);  // the same maxima
//
// A column the fit cannot scale (a maximum that is not positive for MaxScaler, a constant column
// for MinMaxScaler; a zero spread for StandardScaler) gets scale 1, as scikit-learn does, except
// for MaxScaler, where dividing by a non-positive maximum is surely a mistake and throws.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "../config.hpp"

namespace backprop {

/// A fitted per-column affine map x' = (x - offset) / scale; fit() differs by kind.
class Scaler {
 public:
  /// One number per column.
  using Row = Eigen::RowVectorXd;

  virtual ~Scaler() = default;  ///< scalers are used through this base
  /// "MaxScaler", "MinMaxScaler" or "StandardScaler".
  virtual std::string_view kind() const = 0;

  /// X: (samples, features): learns offset and scale from X's columns.
  template <class X>
  void fit(const Eigen::MatrixBase<X>& x) {
    if (x.rows() == 0 || x.cols() == 0)
      throw ShapeError("backprop::" + std::string(kind()) + "::fit: X is " +
                       detail::shape_string(x.rows(), x.cols()) + "; it needs rows and columns");
    // A matrix of doubles is used in place; anything else is evaluated once into a temporary.
    const Eigen::Ref<const Eigen::MatrixXd> data(x.template cast<double>());
    if (!data.allFinite())
      throw ArgumentError("backprop::" + std::string(kind()) + "::fit: X holds NaN or Inf values");
    Row offset, scale;
    fit_columns(data, offset, scale);
    // Columns like {1e200, -1e200} overflow the mean, the spread or the range: a scaler that
    // cannot be saved and read back is refused here, where it is made.
    for (Index c = 0; c < offset.size(); ++c)
      if (!std::isfinite(offset(c)) || !std::isfinite(scale(c)))
        throw ArgumentError(
            "backprop::" + std::string(kind()) + "::fit: column " + std::to_string(c) +
            " gives offset " + detail::number_string(offset(c)) + " and scale " +
            detail::number_string(scale(c)) + ": its values are too large to scale in double");
    offset_ = std::move(offset);
    scale_ = std::move(scale);
  }

  /// X: (samples, features) -> (X - offset) / scale, in X's scalar type
  template <class X>
  auto transform(const Eigen::MatrixBase<X>& x) const {
    check(x.cols(), "transform");
    using S = typename X::Scalar;
    return ((x.array().rowwise() - offset_.cast<S>().array()).rowwise() / scale_.cast<S>().array())
        .matrix()
        .eval();
  }

  /// The inverse: X' * scale + offset
  template <class X>
  auto inverse_transform(const Eigen::MatrixBase<X>& x) const {
    check(x.cols(), "inverse_transform");
    using S = typename X::Scalar;
    return ((x.array().rowwise() * scale_.cast<S>().array()).rowwise() + offset_.cast<S>().array())
        .matrix()
        .eval();
  }

  bool fitted() const { return offset_.size() > 0; }  ///< after fit() or set()
  const Row& offset() const { return offset_; }       ///< subtracted first
  const Row& scale() const { return scale_; }         ///< then divided by
  /// Sets what fit() would learn, for scalers read back from a file.
  void set(const Row& offset, const Row& scale) {
    if (offset.size() != scale.size() || offset.size() == 0)
      throw ShapeError("backprop::Scaler::set: offset has " + std::to_string(offset.size()) +
                       " columns and scale " + std::to_string(scale.size()));
    if (!offset.allFinite() || !scale.allFinite() || (scale.array() == 0).any())
      throw ArgumentError(
          "backprop::Scaler::set: offsets and scales must be finite, scales "
          "non-zero");
    offset_ = offset;
    scale_ = scale;
  }

 protected:
  /// X: (samples, features), finite  ->  one offset and one scale per column.
  virtual void fit_columns(const Eigen::Ref<const Eigen::MatrixXd>& x, Row& offset,
                           Row& scale) const = 0;
  Row offset_, scale_;

 private:
  void check(Index cols, const char* function) const {
    if (!fitted())
      throw ArgumentError("backprop::" + std::string(kind()) + "::" + function +
                          ": call fit() first");
    if (cols != offset_.size())
      throw ShapeError("backprop::" + std::string(kind()) + "::" + function + ": X has " +
                       std::to_string(cols) + " columns, but the scaler was fitted on " +
                       std::to_string(offset_.size()));
  }
};

/// offset 0, scale: the column maximum (the tutorial's).
class MaxScaler final : public Scaler {
 public:
  std::string_view kind() const override { return "MaxScaler"; }

 protected:
  void fit_columns(const Eigen::Ref<const Eigen::MatrixXd>& x, Row& offset,
                   Row& scale) const override {
    const Row max = x.colwise().maxCoeff();
    for (Index c = 0; c < max.size(); ++c)
      if (!(max(c) > 0))
        throw ArgumentError("backprop::MaxScaler::fit: column " + std::to_string(c) +
                            " has maximum " + detail::number_string(max(c)) +
                            "; dividing by it would not scale it (use MinMaxScaler)");
    offset = Row::Zero(max.size());
    scale = max;
  }
};

/// offset: the column minimum, scale: the column range, to [0, 1].
class MinMaxScaler final : public Scaler {
 public:
  std::string_view kind() const override { return "MinMaxScaler"; }

 protected:
  void fit_columns(const Eigen::Ref<const Eigen::MatrixXd>& x, Row& offset,
                   Row& scale) const override {
    offset = x.colwise().minCoeff();
    scale = x.colwise().maxCoeff() - offset;
    scale = (scale.array() == 0).select(1.0, scale);
  }
};

/// offset: the column mean, scale: its standard deviation.
class StandardScaler final : public Scaler {
 public:
  std::string_view kind() const override { return "StandardScaler"; }

 protected:
  void fit_columns(const Eigen::Ref<const Eigen::MatrixXd>& x, Row& offset,
                   Row& scale) const override {
    offset = x.colwise().mean();
    scale =
        ((x.rowwise() - offset).array().square().colwise().sum() / static_cast<double>(x.rows()))
            .sqrt();
    scale = (scale.array() == 0).select(1.0, scale);
  }
};

/// A scaler by kind: "max", "minmax", "standard", or the class names; ArgumentError otherwise.
inline std::unique_ptr<Scaler> make_scaler(std::string_view kind) {
  if (kind == "max" || kind == "MaxScaler") return std::make_unique<MaxScaler>();
  if (kind == "minmax" || kind == "MinMaxScaler") return std::make_unique<MinMaxScaler>();
  if (kind == "standard" || kind == "StandardScaler") return std::make_unique<StandardScaler>();
  throw ArgumentError("backprop::make_scaler: unknown scaler \"" + std::string(kind) +
                      "\"; known: max, minmax, standard");
}

}  // namespace backprop
