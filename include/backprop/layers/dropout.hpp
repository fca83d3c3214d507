// Dropout<Units, Rate>: inverted dropout (Srivastava et al., 2014) as a layer.
//
// While training, each unit is kept with probability 1 - rate and scaled by 1 / (1 - rate), so
// the expected output equals the input; predict() passes the input through unchanged.
//
//   training:  A = X .* M       M = keep / (1 - rate), keep ~ Bernoulli(1 - rate), (batch, units)
//   backward:  dL/dX = dL/dA .* M
//
// The masks come from a Xoshiro256 in the layer's Parameters, seeded explicitly (seed(s); the
// default seed is 0), so the same seed gives the same masks. A training step draws from a copy in
// its workspace and commit() keeps it, so a step that fails leaves the generator where it was.
// The rate is Rate at first and can be set at run time (Sequential does).
#pragma once

#include <array>
#include <cstdint>
#include <ratio>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "../config.hpp"
#include "../layer.hpp"
#include "../random.hpp"

namespace backprop {

/// Inverted dropout over Units units (or Dynamic), at Rate until set otherwise.
template <int Units = Dynamic, class Rate = std::ratio<1, 2>>
struct Dropout {
  static_assert(Units > 0 || Units == Dynamic, "Dropout: the size must be positive or Dynamic");
  static_assert(Rate::num >= 0 && Rate::num < Rate::den, "Dropout: the rate must be in [0, 1)");

  static constexpr std::string_view name = "dropout";
  static constexpr int inputs = Units;
  static constexpr int outputs = Units;
  /// The same layer of N units: what a Dynamic one becomes in a Network after a layer whose
  /// output width the compiler knows.
  template <int N>
  using with_inputs = Dropout<N, Rate>;
  static constexpr std::size_t tensor_count = 0;
  using activation = void;  ///< no activation: a network cannot end with Dropout
  static constexpr bool batch_dependent = true;  ///< a sample's mask depends on its row

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
    /// At `rate`, the masks drawn from `seed`.
    Parameters(Index in, Index out, double r, std::uint64_t s = 0) : Parameters(in, out) {
      set_rate(r);
      seed(s);
    }
    void set_rate(double r) {
      if (!(r >= 0 && r < 1))
        throw ArgumentError("backprop::Dropout: rate must be in [0, 1), got " +
                            detail::number_string(r));
      rate = r;
    }
    void seed(std::uint64_t s) { random.reseed(s); }
  };

  /// Z, A, and while training the batch's mask M and the generator after drawing it.
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Units> {
    detail::MatrixFor<Scalar, Batch, Units> M;  ///< (batch, units): 0 or 1 / (1 - rate)
    Xoshiro256 random{0};                       ///< for commit(): the state after this mask
  };

  /// No trainable scalars.
  static constexpr Index parameter_count(Index, Index) { return 0; }

  /// No weights to initialize.
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>&, Init&) {}

  /// Inference: X: (batch, units) -> ws.A = X
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>&, const Eigen::MatrixBase<X>& x, W& ws) {
    ws.A = x;
  }

  /// Training: X: (batch, units) -> ws.A = X .* M with a fresh mask M, drawn from a copy of the
  /// generator that commit() keeps.
  template <class Scalar, int Batch, class X>
  static void training_forward(const Parameters<Scalar>& p, const Eigen::MatrixBase<X>& x,
                               Workspace<Scalar, Batch>& ws) {
    // keep when a 32-bit uniform draw is at or above rate * 2^32; two draws per 64 random bits
    const auto threshold = static_cast<std::uint64_t>(p.rate * 4294967296.0);
    const auto scale = static_cast<Scalar>(1.0 / (1.0 - p.rate));
    ws.M.resize(x.rows(), x.cols());  // no-op, and no allocation, when the sizes are unchanged
    ws.random = p.random;
    Scalar* m = ws.M.data();
    const Index n = ws.M.size();
    for (Index i = 0; i < n; i += 2) {
      const std::uint64_t bits = ws.random.next();
      m[i] = (bits & 0xffffffffu) >= threshold ? scale : Scalar(0);
      if (i + 1 < n) m[i + 1] = (bits >> 32) >= threshold ? scale : Scalar(0);
    }
    ws.A = x.cwiseProduct(ws.M);
  }
  /// The step succeeded: the generator moves on past this mask.
  template <class Scalar, int Batch>
  static void commit(Parameters<Scalar>& p, const Workspace<Scalar, Batch>& ws) {
    p.random = ws.random;
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
                       const Workspace<Scalar, Batch>& ws, Parameters<Scalar>&, DX& dx) {
    dx = ws.Z;
  }

  /// No parameter matrices to visit.
  template <class P, class G, class F>
  static void for_each_tensor(P&, G&, F&&) {}

  /// "dropout 0.5"
  template <class Scalar>
  static std::string describe(const Parameters<Scalar>& p) {
    return "dropout " + detail::number_string(p.rate);
  }

  // Model files: nothing to share; the rate (f64) and the generator's state (4 x u64) to restore.
  template <class Writer, class Scalar>
  static void write_config(Writer&, const Parameters<Scalar>&) {}
  template <class Writer, class Scalar>
  static void write_state(Writer& w, const Parameters<Scalar>& p) {
    w.f64(p.rate);
    for (std::uint64_t word : p.random.state())
      w.u64(word);
  }
  template <class Reader, class Scalar>
  static void read_state(Reader& r, Parameters<Scalar>& p) {
    const double rate = r.f64();
    if (!(rate >= 0 && rate < 1))
      r.fail("dropout rate " + detail::number_string(rate) + " is not in [0, 1)");
    Xoshiro256::State state;
    for (auto& word : state)
      word = r.u64();
    p.rate = rate;
    p.random.set_state(state);
  }

  /// Nothing to read: calls make.template operator()<Dropout<>>() for a layer that keeps its
  /// width.
  template <class Activations, class Reader, class Make>
  static void read(Reader& r, Index in, Index out, Make&& make) {
    if (in != out)
      r.fail("a dropout layer must keep its width, but this one is " + std::to_string(in) + "->" +
             std::to_string(out));
    make.template operator()<Dropout<>>();
  }
};

}  // namespace backprop
