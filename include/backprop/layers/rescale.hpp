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
#include "../layer.hpp"

namespace backprop {

/// What a Rescale layer does: A = X .* scale + offset, one number of each per column.
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
  static constexpr std::size_t tensor_count = 0;
  using activation = Identity;  ///< so that it can end a network (for regression)

  /// scale and offset: (1, units); at first the identity map.
  template <class Scalar>
  struct Parameters {
    Eigen::Matrix<Scalar, 1, Units> scale, offset;

    Parameters(Index in, Index out) {
      if (in != out)
        throw ShapeError("backprop::Rescale: its input and output widths must be equal, got " +
                         std::to_string(in) + " and " + std::to_string(out));
      scale.setOnes(1, in);
      offset.setZero(1, in);
    }
    Parameters(Index in, Index out, const Rescaling& map) : Parameters(in, out) { set(map); }

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

  template <class Scalar, int Batch>
  using Workspace = LayerWorkspace<Scalar, Batch, Units>;

  /// No trainable scalars.
  static constexpr Index parameter_count(Index, Index) { return 0; }
  /// Nothing to initialize: the map is data, not weights.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>&, Init&) {}

  /// X: (batch, units) -> ws.A = X .* scale + offset
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x, W& ws) {
    ws.A = ((x.array().rowwise() * p.scale.array()).rowwise() + p.offset.array()).matrix();
  }
  /// ws.Z: dL/dA, which is dL/dZ: no activation to go through.
  template <class Scalar, int Batch>
  static void backward_activation(Workspace<Scalar, Batch>&) {}
  /// No parameters, so no gradients.
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>&, const Workspace<Scalar, Batch>&,
                       Parameters<Scalar>&) {}
  /// dX = dL/dA .* scale: (batch, units)
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>&,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>&, DX& dx) {
    dx = (ws.Z.array().rowwise() * p.scale.array()).matrix();
  }
  template <class P, class G, class F>
  static void for_each_tensor(P&, G&, F&&) {}

  /// "rescale"
  template <class Scalar>
  static std::string describe(const Parameters<Scalar>&) {
    return "rescale";
  }

  // Model files: nothing to share; scale then offset (f64 each, one per unit) to restore.
  template <class Writer, class Scalar>
  static void write_config(Writer&, const Parameters<Scalar>&) {}
  template <class Writer, class Scalar>
  static void write_state(Writer& w, const Parameters<Scalar>& p) {
    for (Index c = 0; c < p.scale.size(); ++c)
      w.f64(static_cast<double>(p.scale(c)));
    for (Index c = 0; c < p.offset.size(); ++c)
      w.f64(static_cast<double>(p.offset(c)));
  }
  template <class Reader, class Scalar>
  static void read_state(Reader& r, Parameters<Scalar>& p) {
    Rescaling map{Eigen::RowVectorXd(p.scale.size()), Eigen::RowVectorXd(p.offset.size())};
    for (Index c = 0; c < map.scale.size(); ++c)
      map.scale(c) = r.f64();
    for (Index c = 0; c < map.offset.size(); ++c)
      map.offset(c) = r.f64();
    try {
      p.set(map);
    } catch (const std::invalid_argument& e) {
      r.fail(e.what());
    }
  }

  /// Checks that the file holds the map's 16 bytes per unit before the layer is made (a width is
  /// not allocated on a file's word), then calls make.template operator()<Rescale<>>().
  template <class Activations, class Reader, class Make>
  static void read(Reader& r, Index in, Index out, Make&& make) {
    if (in != out)
      r.fail("a rescale layer must keep its width, but this one is " + std::to_string(in) + "->" +
             std::to_string(out));
    if (static_cast<std::uint64_t>(in) > r.remaining() / 16)
      r.fail("a rescale layer of " + std::to_string(in) + " units needs " +
             std::to_string(16 * static_cast<std::uint64_t>(in)) + " bytes, but " +
             std::to_string(r.remaining()) + " remain");
    make.template operator()<Rescale<>>();
  }
};

}  // namespace backprop
