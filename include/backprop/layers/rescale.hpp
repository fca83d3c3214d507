// Rescale<Units>: a fixed per-column affine map, so that a network carries the scaling of its data.
//
//   forward:   A = X .* scale + offset        X, A: (batch, units)   scale, offset: (1, units)
//   backward:  dL/dX = dL/dA .* scale
//
// Nothing in it is trained. As the first layer it scales raw rows the way the training data was
// scaled (Rescaling::transform(scaler)); as the last, after training on scaled targets, it turns
// the network's answers back into the targets' units (Rescaling::inverse_transform(scaler)), as
// Keras's Normalization(invert=True) does. Saved in model files, so a loaded model takes raw rows
// and answers in real units. Its activation is Identity, so that it may end a network.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "../activation.hpp"
#include "../config.hpp"
#include "protocol.hpp"

namespace backprop {

/// What a Rescale layer does: A = X .* scale + offset, one number of each per column (none: the
/// identity).
struct Rescaling {
  Eigen::RowVectorXd scale;   ///< multiplies column c
  Eigen::RowVectorXd offset;  ///< then is added to it

  /// The map of scaler.transform, x' = (x - o) / s: scale 1 / s, offset -o / s. Any fitted
  /// scaler with offset() and scale() rows (data/scaler.hpp) will do.
  template <class Scaler>
  static Rescaling transform(const Scaler& scaler) {
    const auto& s = scaler.scale();
    const auto& o = scaler.offset();
    return {s.cwiseInverse(), -o.cwiseQuotient(s)};
  }
  /// The map of scaler.inverse_transform, x = x' * s + o.
  template <class Scaler>
  static Rescaling inverse_transform(const Scaler& scaler) {
    return {scaler.scale(), scaler.offset()};
  }
};

/// A fixed affine map of Units columns (or Dynamic): no trainable parameters.
template <int Units = Dynamic>
struct Rescale {
  static_assert(Units > 0 || Units == Dynamic, "Rescale: the size must be positive or Dynamic");

  static constexpr std::string_view name = "rescale";
  static constexpr int inputs = Units;
  static constexpr int outputs = Units;
  /// The same layer of N units: what a Dynamic one becomes in a Network after a layer whose
  /// output width the compiler knows.
  template <int N>
  using with_inputs = Rescale<N>;
  using activation = Identity;  ///< so that it can end a network (for regression)

  /// The map it is made with; none is the identity.
  using Settings = Rescaling;

  /// The map in the network's scalar, (1, units) each: what it computes with and files restore.
  template <class Scalar>
  struct State {
    Eigen::Matrix<Scalar, 1, Units> scale, offset;

    State(Index in, Index, const Rescaling& map) {
      scale.setOnes(1, in);
      offset.setZero(1, in);
      if (map.scale.size() != 0 || map.offset.size() != 0) set(map);
    }

    /// Checks, then sets: scale and offset of one number per unit, finite, scales non-zero (and
    /// representable in Scalar).
    void set(const Rescaling& map) {
      const Index n = scale.size();
      if (map.scale.size() != n || map.offset.size() != n)
        throw ShapeError("backprop::Rescale: scale has " + std::to_string(map.scale.size()) +
                         " columns and offset " + std::to_string(map.offset.size()) +
                         ", but the layer has " + std::to_string(n) + " units");
      const Eigen::Matrix<Scalar, 1, Units> s = map.scale.cast<Scalar>(),
                                            o = map.offset.cast<Scalar>();
      for (Index c = 0; c < n; ++c)
        if (!std::isfinite(s(c)) || !std::isfinite(o(c)) || s(c) == 0)
          throw ArgumentError("backprop::Rescale: column " + std::to_string(c) + " has scale " +
                              detail::number_string(map.scale(c)) + " and offset " +
                              detail::number_string(map.offset(c)) +
                              ": both must be finite in the network's scalar, the scale non-zero");
      scale = s;
      offset = o;
    }
  };

  /// X: (batch, units) -> ws.A = X .* scale + offset
  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    const auto& map = layer.state();
    ws.A = ((x.array().rowwise() * map.scale.array()).rowwise() + map.offset.array()).matrix();
  }
  /// ws.Z: dL/dA  ->  dX = dL/dA .* scale: (batch, units)
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>&, const W& ws, G&, DX& dx) {
    dx = (ws.Z.array().rowwise() * layer.state().scale.array()).matrix();
  }

  // Model files: nothing to share; scale then offset (f64 each, one per unit) to restore.
  template <class Writer, class Layer>
  static void write_state(Writer& w, const Layer& layer) {
    for (const auto* row : {&layer.state().scale, &layer.state().offset})
      for (Index c = 0; c < row->size(); ++c)
        w.f64(static_cast<double>((*row)(c)));
  }
  template <class Reader, class Layer>
  static void read_state(Reader& r, Layer& layer) {
    const Index units = layer.state().scale.size();
    Rescaling map{Eigen::RowVectorXd(units), Eigen::RowVectorXd(units)};
    for (Index c = 0; c < units; ++c)
      map.scale(c) = r.f64();
    for (Index c = 0; c < units; ++c)
      map.offset(c) = r.f64();
    try {
      layer.state().set(map);
    } catch (const std::invalid_argument& e) {
      r.fail(e.what());
    }
  }

  /// Checks that the file holds the map's 16 bytes per unit before the layer is made (a width is
  /// not allocated on a file's word).
  template <class Reader, class Make>
  static void read(Reader& r, Index in, Index, Make&& make) {
    if (static_cast<std::uint64_t>(in) > r.remaining() / 16)
      r.fail("a rescale layer of " + std::to_string(in) + " units needs " +
             std::to_string(16 * static_cast<std::uint64_t>(in)) + " bytes, but " +
             std::to_string(r.remaining()) + " remain");
    make.template operator()<Rescale<>>();
  }
};

}  // namespace backprop
