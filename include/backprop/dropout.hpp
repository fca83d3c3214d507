// Dropout<Units, Rate>: inverted dropout (Srivastava et al., 2014) as a layer.
//
// While training, each unit is kept with probability 1 - rate and scaled by 1 / (1 - rate), so
// the expected output equals the input; predict() passes the input through unchanged.
//
//   training:  A = X .* M       M = keep / (1 - rate), keep ~ Bernoulli(1 - rate), (batch, units)
//   backward:  dL/dX = dL/dA .* M
//
// The masks come from a Xoshiro256 in the layer's Parameters, seeded explicitly (seed(s); the
// default seed is 0), so the same seed gives the same masks. The rate is Rate at first and can
// be set at run time (Sequential does).
#pragma once

#include <cstdint>
#include <ratio>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "config.hpp"
#include "layer.hpp"
#include "random.hpp"

namespace backprop {

/// Inverted dropout over Units units (or Dynamic), at Rate until set otherwise.
template <int Units = Dynamic, class Rate = std::ratio<1, 2>>
struct Dropout {
  static_assert(Units > 0 || Units == Dynamic, "Dropout: the size must be positive or Dynamic");
  static_assert(Rate::num >= 0 && Rate::num < Rate::den, "Dropout: the rate must be in [0, 1)");

  static constexpr int inputs = Units;
  static constexpr int outputs = Units;
  static constexpr std::size_t tensor_count = 0;
  static constexpr std::string_view name = "dropout";
  using activation = void;  ///< no activation: a network cannot end with Dropout

  /// No trainable matrices: the rate, and the generator of the masks.
  template <class Scalar>
  struct Parameters {
    double rate = static_cast<double>(Rate::num) / static_cast<double>(Rate::den);
    Xoshiro256 random{0};

    Parameters(Index in, Index out) {
      if (in != out)
        throw ShapeError("backprop::Dropout: its input and output widths must be equal, got " +
                         std::to_string(in) + " and " + std::to_string(out));
    }
    void set_rate(double r) {
      if (!(r >= 0 && r < 1))
        throw ArgumentError("backprop::Dropout: rate must be in [0, 1), got " + std::to_string(r));
      rate = r;
    }
    void seed(std::uint64_t s) { random.reseed(s); }
  };

  /// Z, A and the batch's mask M.
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Units> {
    detail::MatrixFor<Scalar, Batch, Units> M;  ///< (batch, units): 0 or 1 / (1 - rate)
    void resize(Index batch, Index units) {
      LayerWorkspace<Scalar, Batch, Units>::resize(batch, units);
      M.resize(batch, units);
    }
  };

  /// No trainable scalars.
  static constexpr Index parameter_count(Index, Index) { return 0; }

  /// Kind "dropout", sizes, rate and generator state.
  template <class Scalar>
  static LayerInfo describe(const Parameters<Scalar>& p, Index in, Index out) {
    LayerInfo info;
    info.kind = name;
    info.inputs = in;
    info.outputs = out;
    info.rate = p.rate;
    info.random_state = p.random.state();
    return info;
  }
  /// Takes back the rate and the generator state.
  template <class Scalar>
  static void restore(Parameters<Scalar>& p, const LayerInfo& info) {
    p.set_rate(info.rate);
    p.random.set_state(info.random_state);
  }

  /// No weights to initialize.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>&, Init&) {}

  /// Inference: X: (batch, units) -> ws.A = X. Any workspace will do: the mask is not used.
  template <class Scalar, int Batch, class X>
  static void forward(const Parameters<Scalar>&, const Eigen::MatrixBase<X>& x,
                      LayerWorkspace<Scalar, Batch, Units>& ws) {
    ws.A = x;
  }

  /// Training: X: (batch, units) -> ws.A = X .* M with a fresh mask M
  template <class Scalar, int Batch, class X>
  static void training_forward(Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                               Workspace<Scalar, Batch>& ws) {
    // keep when a 32-bit uniform draw is at or above rate * 2^32; two draws per 64 random bits
    const auto threshold = static_cast<std::uint64_t>(p.rate * 4294967296.0);
    const auto scale = static_cast<Scalar>(1.0 / (1.0 - p.rate));
    Scalar* m = ws.M.data();
    const Index n = ws.M.size();
    for (Index i = 0; i < n; i += 2) {
      const std::uint64_t bits = p.random.next();
      m[i] = (bits & 0xffffffffu) >= threshold ? scale : Scalar(0);
      if (i + 1 < n) m[i + 1] = (bits >> 32) >= threshold ? scale : Scalar(0);
    }
    ws.A = x.cwiseProduct(ws.M);
  }

  /// ws.Z: dL/dA -> dL/dX = dL/dA .* M
  template <class Scalar, int Batch>
  static void backward_activation(Workspace<Scalar, Batch>& ws) {
    ws.Z.array() *= ws.M.array();
  }

  /// No parameters, so no gradients.
  template <class Scalar, int Batch, class X>
  static void backward(const Eigen::MatrixBase<X>&, const Workspace<Scalar, Batch>&,
                       Parameters<Scalar>&) {}

  /// dX = dL/dX, already in ws.Z
  template <class Scalar, int Batch, class X, class DX>
  static void backward(const Parameters<Scalar>&, const Eigen::MatrixBase<X>&,
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>&,
                       Eigen::MatrixBase<DX>& dx) {
    dx = ws.Z;
  }

  /// No parameter matrices to visit.
  template <class Scalar, class F>
  static void for_each_tensor(Parameters<Scalar>&, const Parameters<Scalar>&, F&&) {}
};

}  // namespace backprop
