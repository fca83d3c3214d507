// Random sources with fixed algorithms, so that the same seed gives the same numbers on every
// platform (the distributions of <random> are each standard library's own).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>

#include "config.hpp"

namespace backprop {

/// numpy's legacy RandomState, reduced to the two draws the initializers need.
class NumpyRandom {
 public:
  /// Seeded as np.random.seed(seed).
  explicit NumpyRandom(std::uint32_t seed) : engine_(seed) {}

  /// Uniform on [0, 1) with 53 random bits: numpy's random_sample().
  double uniform() {
    const auto a = static_cast<std::uint64_t>(engine_() >> 5);  // 27 bits
    const auto b = static_cast<std::uint64_t>(engine_() >> 6);  // 26 bits
    return static_cast<double>((a << 26) | b) * 0x1.0p-53;
  }

  /// Standard normal: numpy's legacy_gauss, which yields the polar method's pair one at a time.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double x1, x2, r2;
    do {
      x1 = 2.0 * uniform() - 1.0;
      x2 = 2.0 * uniform() - 1.0;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    spare_ = f * x1;
    has_spare_ = true;
    return f * x2;
  }

 private:
  std::mt19937 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// A fast 64-bit generator for the training loop's draws (shuffling, dropout masks):
/// xoshiro256** (Blackman and Vigna, 2018), its state filled from the seed by SplitMix64.
class Xoshiro256 {
 public:
  explicit Xoshiro256(std::uint64_t seed) { reseed(seed); }

  /// Starts the stream of `seed` again.
  void reseed(std::uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15u;  // SplitMix64
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
      word = z ^ (z >> 31);
    }
  }

  /// The next 64 random bits.
  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform on [0, n), without modulo bias (rejection of the top partial range).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do
      x = next();
    while (x >= limit);
    return x % n;
  }

  /// The whole state, for saving and resuming a training run exactly.
  using State = std::array<std::uint64_t, 4>;
  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  State state_;
};

/// Fisher-Yates, drawing from Xoshiro256: the same seed gives the same order everywhere.
template <class Iterator>
void shuffle(Iterator first, Iterator last, Xoshiro256& random) {
  for (auto n = last - first; n > 1; --n) {
    const auto j = static_cast<decltype(n)>(random.below(static_cast<std::uint64_t>(n)));
    std::swap(first[n - 1], first[j]);
  }
}

}  // namespace backprop
