// Initializers: fill a weight matrix W (fan_in, fan_out) from an explicit seed.
//
// All three draw from numpy's legacy generator (np.random.seed / np.random.randn): a 32-bit
// Mersenne Twister seeded as std::mt19937 is, doubles built from two 32-bit draws, and normals
// from Marsaglia's polar method. So StandardNormal{s} fills W1 and W2 of the tutorial with exactly
// the numbers that `np.random.seed(s)` followed by the tutorial's randn calls gives, and the same
// seed gives the same weights bit for bit on every platform (std::normal_distribution would not:
// its algorithm is up to each standard library).
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <random>

#include <Eigen/Core>

#include "config.hpp"

namespace backprop {

// numpy's legacy RandomState, reduced to the two draws the initializers need.
class NumpyRandom {
 public:
  explicit NumpyRandom(std::uint32_t seed) : engine_(seed) {}

  // Uniform on [0, 1) with 53 random bits: numpy's random_sample().
  double uniform() {
    const auto a = static_cast<std::uint64_t>(engine_() >> 5);  // 27 bits
    const auto b = static_cast<std::uint64_t>(engine_() >> 6);  // 26 bits
    return static_cast<double>((a << 26) | b) * 0x1.0p-53;
  }

  // Standard normal: numpy's legacy_gauss, which yields the polar method's pair one at a time.
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

namespace detail {
// Row by row, as numpy fills a C-ordered (fan_in, fan_out) array, whatever Eigen's storage order.
template <class D, class Draw>
void fill_row_major(Eigen::MatrixBase<D>& w, Draw&& draw) {
  using S = typename D::Scalar;
  for (Index r = 0; r < w.rows(); ++r)
    for (Index c = 0; c < w.cols(); ++c)
      w(r, c) = static_cast<S>(draw());
}
}  // namespace detail

// What a network needs from an initializer: fill(W) with W of shape (fan_in, fan_out).
template <class I>
concept WeightInitializer = requires(I init, Eigen::MatrixXd w) {
  init.fill(w);
};

// N(0, 1): the tutorial's np.random.randn.
class StandardNormal {
 public:
  explicit StandardNormal(std::uint32_t seed) : random_(seed) {}
  template <class D>
  void fill(Eigen::MatrixBase<D>& w) {
    detail::fill_row_major(w, [this] { return random_.normal(); });
  }

 private:
  NumpyRandom random_;
};

// U(-l, l) with l = sqrt(6 / (fan_in + fan_out)): Glorot and Bengio (2010), for sigmoid and tanh.
class GlorotUniform {
 public:
  explicit GlorotUniform(std::uint32_t seed) : random_(seed) {}
  template <class D>
  void fill(Eigen::MatrixBase<D>& w) {
    const double limit = std::sqrt(6.0 / static_cast<double>(w.rows() + w.cols()));
    detail::fill_row_major(w, [&] { return limit * (2.0 * random_.uniform() - 1.0); });
  }

 private:
  NumpyRandom random_;
};

// N(0, 2 / fan_in): He et al. (2015), for ReLU layers.
class HeNormal {
 public:
  explicit HeNormal(std::uint32_t seed) : random_(seed) {}
  template <class D>
  void fill(Eigen::MatrixBase<D>& w) {
    const double stddev = std::sqrt(2.0 / static_cast<double>(w.rows()));
    detail::fill_row_major(w, [&] { return stddev * random_.normal(); });
  }

 private:
  NumpyRandom random_;
};

}  // namespace backprop
