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

#include <Eigen/Core>

#include "config.hpp"
#include "random.hpp"

namespace backprop {

namespace detail {
/// Row by row, as numpy fills a C-ordered (fan_in, fan_out) array, whatever Eigen's storage order.
template <class D, class Draw>
void fill_row_major(Eigen::MatrixBase<D>& w, Draw&& draw) {
  using S = typename D::Scalar;
  for (Index r = 0; r < w.rows(); ++r)
    for (Index c = 0; c < w.cols(); ++c)
      w(r, c) = static_cast<S>(draw());
}
}  // namespace detail

/// What a network needs from an initializer: fill(W) with W of shape (fan_in, fan_out).
template <class I>
concept WeightInitializer = requires(I init, Eigen::MatrixXd w) {
  init.fill(w);
};

/// The fans of a weight matrix where its shape alone does not give them: a convolution's W
/// (cin*kh*kw, cout) has fan_in cin*kh*kw and fan_out cout*kh*kw, as PyTorch counts them.
struct Fans {
  Index in = 0, out = 0;
};

/// init.fill(w, fans) where the initializer takes the fans (the built-in ones do), else
/// init.fill(w), whose fans are w's shape.
template <class Init, class W>
void fill_weights(Init& init, W& w, Fans fans) {
  if constexpr (requires { init.fill(w, fans); })
    init.fill(w, fans);
  else
    init.fill(w);
}

/// N(0, 1): the tutorial's np.random.randn.
class StandardNormal {
 public:
  /// Draws as np.random.seed(seed) would.
  explicit StandardNormal(std::uint32_t seed) : random_(seed) {}
  /// W: (fan_in, fan_out), row by row.
  template <class D>
  void fill(Eigen::MatrixBase<D>& w) {
    detail::fill_row_major(w, [this] { return random_.normal(); });
  }
  /// The same: N(0, 1) has no fans.
  template <class D>
  void fill(Eigen::MatrixBase<D>& w, Fans) {
    fill(w);
  }

 private:
  NumpyRandom random_;
};

/// U(-l, l) with l = sqrt(6 / (fan_in + fan_out)): Glorot and Bengio (2010), for sigmoid and tanh.
class GlorotUniform {
 public:
  /// Draws from numpy's generator seeded with seed.
  explicit GlorotUniform(std::uint32_t seed) : random_(seed) {}
  /// W: (fan_in, fan_out), row by row.
  template <class D>
  void fill(Eigen::MatrixBase<D>& w) {
    fill(w, Fans{w.rows(), w.cols()});
  }
  /// W row by row, with the given fans.
  template <class D>
  void fill(Eigen::MatrixBase<D>& w, Fans fans) {
    const double limit = std::sqrt(6.0 / static_cast<double>(fans.in + fans.out));
    detail::fill_row_major(w, [&] { return limit * (2.0 * random_.uniform() - 1.0); });
  }

 private:
  NumpyRandom random_;
};

/// N(0, 2 / fan_in): He et al. (2015), for ReLU layers.
class HeNormal {
 public:
  /// Draws from numpy's generator seeded with seed.
  explicit HeNormal(std::uint32_t seed) : random_(seed) {}
  /// W: (fan_in, fan_out), row by row.
  template <class D>
  void fill(Eigen::MatrixBase<D>& w) {
    fill(w, Fans{w.rows(), w.cols()});
  }
  /// W row by row, with the given fans.
  template <class D>
  void fill(Eigen::MatrixBase<D>& w, Fans fans) {
    const double stddev = std::sqrt(2.0 / static_cast<double>(fans.in));
    detail::fill_row_major(w, [&] { return stddev * random_.normal(); });
  }

 private:
  NumpyRandom random_;
};

/// Where a network starts when no initializer is given (PyTorch and Keras also never start from
/// zeros): layer i, counting from 0, is filled as HeNormal{i} would fill it where its activation
/// is rectified (ReLU, LeakyReLU: activation.hpp's `rectified`), else as GlorotUniform{i}; biases
/// are zero. So two networks of the same layers start alike, and a network never trains silently
/// from all zeros. initialize(init) fills the layer from the initializer it is given.
inline void default_initialize(bool rectified, std::uint32_t layer_index, auto&& initialize) {
  if (rectified) {
    HeNormal init(layer_index);
    initialize(init);
  } else {
    GlorotUniform init(layer_index);
    initialize(init);
  }
}

}  // namespace backprop
