// Dropout<Units, Rate>: inverted dropout (Srivastava et al., 2014) as a layer.
//
// While training, each unit is kept with probability 1 - rate and scaled by 1 / (1 - rate), so
// the expected output equals the input; predict() passes the input through unchanged.
//
//   training:  A = X .* M       M = keep / (1 - rate), keep ~ Bernoulli(1 - rate), (batch, units)
//   backward:  dL/dX = dL/dA .* M
//
// The masks come from a Xoshiro256 in the layer's state, seeded explicitly (Settings::seed; the
// default is 0), so the same seed gives the same masks. A training step draws from a copy in its
// workspace and commit() keeps it, so a step that fails leaves the generator where it was. The
// rate is Rate unless the settings give another (Sequential's add_dropout does).
#pragma once

#include <array>
#include <cstdint>
#include <ratio>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "../config.hpp"
#include "../random.hpp"
#include "protocol.hpp"

namespace backprop {

/// Inverted dropout over Units units (or Dynamic), at Rate unless its settings say otherwise.
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
  static constexpr bool batch_dependent = true;  ///< a sample's mask depends on its row

  /// The rate, which model files restore, and where the masks' generator starts.
  struct Settings {
    double rate = static_cast<double>(Rate::num) / static_cast<double>(Rate::den);
    std::uint64_t seed = 0;
  };
  /// The generator of the masks.
  template <class Scalar>
  struct State {
    Xoshiro256 random;
    State(Index, Index, const Settings& s) : random(s.seed) {}
  };
  /// Z, A, and while training the batch's mask M and the generator after drawing it.
  template <class Scalar, int Batch>
  struct Workspace : LayerWorkspace<Scalar, Batch, Units> {
    detail::MatrixFor<Scalar, Batch, Units> M;  ///< (batch, units): 0 or 1 / (1 - rate)
    Xoshiro256 random{0};                       ///< for commit(): the state after this mask
  };

  /// Its input and output widths are one; the rate is in [0, 1).
  static void check(Index in, Index out, const Settings& s) {
    if (in != out)
      throw ShapeError("backprop::Dropout: its input and output widths must be equal, got " +
                       std::to_string(in) + " and " + std::to_string(out));
    check_rate(s.rate);
  }

  /// Inference: X: (batch, units) -> ws.A = X
  template <class Layer, class X, class W>
  static void forward(const Layer&, const Eigen::MatrixBase<X>& x, W& ws) {
    ws.A = x;
  }
  /// Training: X: (batch, units) -> ws.A = X .* M with a fresh mask M, drawn from a copy of the
  /// generator that commit() keeps.
  template <class Layer, class X, class W>
  static void training_forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    using Scalar = typename X::Scalar;
    const double rate = layer.settings().rate;
    // keep when a 32-bit uniform draw is at or above rate * 2^32; two draws per 64 random bits
    const auto threshold = static_cast<std::uint64_t>(rate * 4294967296.0);
    const auto scale = static_cast<Scalar>(1.0 / (1.0 - rate));
    ws.M.resize(x.rows(), x.cols());  // no-op, and no allocation, when the sizes are unchanged
    ws.random = layer.state().random;
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
  template <class Layer, class W>
  static void commit(Layer& layer, const W& ws) {
    layer.state().random = ws.random;
  }

  /// ws.Z: dL/dA  ->  dX = dL/dA .* M
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer&, const Eigen::MatrixBase<X>&, const W& ws, G&, DX& dx) {
    dx = ws.Z.cwiseProduct(ws.M);
  }

  /// "dropout 0.5"
  template <class Layer>
  static std::string describe(const Layer& layer) {
    return "dropout " + detail::number_string(layer.settings().rate);
  }

  // Model files: nothing to share; the rate (f64) and the generator's state (4 x u64) to restore.
  template <class Writer, class Layer>
  static void write_state(Writer& w, const Layer& layer) {
    w.f64(layer.settings().rate);
    for (std::uint64_t word : layer.state().random.state())
      w.u64(word);
  }
  template <class Reader, class Layer>
  static void read_state(Reader& r, Layer& layer) {
    const double rate = r.f64();
    if (!(rate >= 0 && rate < 1))
      r.fail("dropout rate " + detail::number_string(rate) + " is not in [0, 1)");
    Xoshiro256::State state;
    for (auto& word : state)
      word = r.u64();
    layer.settings().rate = rate;
    layer.state().random.set_state(state);
  }

 private:
  static void check_rate(double rate) {
    if (!(rate >= 0 && rate < 1))
      throw ArgumentError("backprop::Dropout: rate must be in [0, 1), got " +
                          detail::number_string(rate));
  }
};

}  // namespace backprop
