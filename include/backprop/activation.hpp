// Activations: stateless policy types with the function and its derivative side by side.
//
// Every activation here writes its derivative in terms of its output a = f(z), as the tutorial's
// sigmoidPrime(o) = o (1 - o) does. A layer therefore keeps only A for its backward pass, and
// forward(Z, A) / backward(A, G) are all it calls:
//
//   forward:  Z (batch, units)  ->  A (batch, units)
//   backward: A (batch, units), G = dL/dA (batch, units)  ->  G = dL/dZ, in place
//
// Adding an activation is one struct with a `name` (used by model files) and those two functions;
// an elementwise one derives from Elementwise and states value(z) and derivative(a) instead. A
// compile-time Network calls them as types, inlined into its step; a network composed at run time
// holds its activations as values, AnyActivation (any_activation.hpp).
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <ratio>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "config.hpp"

namespace backprop {

/// What a layer needs from an activation policy.
template <class A>
concept ActivationFunction = requires(Eigen::MatrixXd m) {
  { A::name } -> std::convertible_to<std::string_view>;
  A::forward(m, m);
  A::backward(m, m);
};

/// Turns an elementwise f (value) and f' written from the output (derivative) into
/// forward/backward.
///
/// Column-major matrices are walked column by column rather than as one flat array: a product
/// writes its result a column at a time, and walking a small odd-height matrix flat makes packet
/// loads straddle two of those writes, which defeats store-to-load forwarding (the tutorial's
/// 2-3-1 step ran 18% slower that way). For tall matrices the two walks cost the same.
template <class Derived>
struct Elementwise {
  /// Z: (batch, units)  ->  A = f(Z): (batch, units)
  template <class Z, class A>
  static void forward(const Eigen::MatrixBase<Z>& z, Eigen::MatrixBase<A>& a) {
    if constexpr (A::IsRowMajor)
      a.array() = Derived::value(z.array());
    else
      for (Index c = 0; c < z.cols(); ++c)
        a.col(c).array() = Derived::value(z.col(c).array());
  }
  /// A: (batch, units)  G: dL/dA (batch, units)  ->  G = dL/dA .* f'(Z), with f' read from A
  template <class A, class G>
  static void backward(const Eigen::MatrixBase<A>& a, Eigen::MatrixBase<G>& g) {
    if constexpr (G::IsRowMajor)
      g.array() *= Derived::derivative(a.array());
    else
      for (Index c = 0; c < a.cols(); ++c)
        g.col(c).array() *= Derived::derivative(a.col(c).array());
  }
};

/// s(z) = 1 / (1 + e^-z)           s' = s (1 - s)
/// exp(-z) overflows to +inf (or Eigen's clamped maximum) for very negative z, and 1 / inf is the
/// right limit 0, so the plain formula is already stable in float and double.
struct Sigmoid : Elementwise<Sigmoid> {
  static constexpr std::string_view name = "sigmoid";
  /// s(z), elementwise.
  template <class Z>
  static auto value(const Eigen::ArrayBase<Z>& z) {
    using S = typename Z::Scalar;
    return (S(1) + (-z).exp()).inverse();
  }
  /// s'(z) from a = s(z).
  template <class A>
  static auto derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return a * (S(1) - a);
  }
};

/// tanh(z)                         tanh' = 1 - a^2
struct Tanh : Elementwise<Tanh> {
  static constexpr std::string_view name = "tanh";
  /// tanh(z), elementwise.
  template <class Z>
  static auto value(const Eigen::ArrayBase<Z>& z) {
    return z.tanh();
  }
  /// tanh'(z) from a = tanh(z).
  template <class A>
  static auto derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return S(1) - a.square();
  }
};

/// max(z, 0)                       relu' = [a > 0]   (0 at the kink, as PyTorch)
struct ReLU : Elementwise<ReLU> {
  static constexpr std::string_view name = "relu";
  /// He's initialization fits it (init.hpp's DefaultInit).
  static constexpr bool rectified = true;
  /// max(z, 0), elementwise.
  template <class Z>
  static auto value(const Eigen::ArrayBase<Z>& z) {
    using S = typename Z::Scalar;
    return z.max(S(0));
  }
  /// [a > 0] from a = max(z, 0).
  template <class A>
  static auto derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return (a > S(0)).template cast<S>();
  }
};

namespace detail {
/// "leaky_relu" for the default slope 1/100, "leaky_relu(N/D)" for any other: a name that model
/// files can tell apart, built at compile time.
template <std::intmax_t Num, std::intmax_t Den>
struct LeakyReluName {
  static constexpr auto text = [] {
    std::array<char, 64> s{};
    std::size_t n = 0;
    for (char c : std::string_view("leaky_relu"))
      s[n++] = c;
    if (Num * 100 != Den) {
      auto put = [&](std::intmax_t v) {
        char digits[24] = {};
        int k = 0;
        do
          digits[k++] = static_cast<char>('0' + v % 10);
        while ((v /= 10) > 0);
        while (k > 0)
          s[n++] = digits[--k];
      };
      s[n++] = '(';
      put(Num);
      s[n++] = '/';
      put(Den);
      s[n++] = ')';
    }
    return s;
  }();
  static constexpr std::string_view value{text.data()};
};
}  // namespace detail

/// z if z > 0 else slope z         f' = 1 if a > 0 else slope
/// The slope is a std::ratio so the type stays a stateless policy (clang 14 has no floating-point
/// template parameters). It must be positive: then a > 0 exactly when z > 0, so f' is read from A.
template <class Slope = std::ratio<1, 100>>
struct LeakyReLU : Elementwise<LeakyReLU<Slope>> {
  static_assert(Slope::num > 0 && Slope::num < Slope::den,
                "LeakyReLU: the slope must be in (0, 1)");
  static constexpr std::string_view name = detail::LeakyReluName<Slope::num, Slope::den>::value;
  /// He's initialization fits it (init.hpp's DefaultInit).
  static constexpr bool rectified = true;
  /// The slope for z < 0, as a number.
  static constexpr double slope = static_cast<double>(Slope::num) / static_cast<double>(Slope::den);

  /// z or slope z, elementwise.
  template <class Z>
  static auto value(const Eigen::ArrayBase<Z>& z) {
    using S = typename Z::Scalar;
    return z.max(S(slope) * z);
  }
  /// 1 or slope, from the output's sign.
  template <class A>
  static auto derivative(const Eigen::ArrayBase<A>& a) {
    using S = typename A::Scalar;
    return S(slope) + S(1 - slope) * (a > S(0)).template cast<S>();
  }
};

/// softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|)     (no overflow at z = 1000)
/// softplus' = sigmoid(z) = 1 - e^-a = -expm1(-a)              (since e^a = 1 + e^z)
struct Softplus : Elementwise<Softplus> {
  static constexpr std::string_view name = "softplus";
  /// log(1 + e^z) without overflow, elementwise.
  template <class Z>
  static auto value(const Eigen::ArrayBase<Z>& z) {
    using S = typename Z::Scalar;
    return z.max(S(0)) + (-z.abs()).exp().log1p();
  }
  /// sigmoid(z) = 1 - e^-a from a = softplus(z).
  template <class A>
  static auto derivative(const Eigen::ArrayBase<A>& a) {
    return -(-a).expm1();
  }
};

/// z                               f' = 1: backward leaves G as it is
struct Identity {
  static constexpr std::string_view name = "identity";
  /// A = Z.
  template <class Z, class A>
  static void forward(const Eigen::MatrixBase<Z>& z, Eigen::MatrixBase<A>& a) {
    a = z;
  }
  /// dL/dZ = dL/dA: nothing to do.
  template <class A, class G>
  static void backward(const Eigen::MatrixBase<A>&, Eigen::MatrixBase<G>&) {}
};

/// softmax(z)_j = e^(z_j - m) / sum_k e^(z_k - m), per row (sample), m = max_k z_k for stability.
/// Jacobian per row: J = diag(a) - a a^T, so  dL/dz = a .* (g - <g, a>).
/// Row by row so that no per-batch temporary is allocated.
struct Softmax {
  static constexpr std::string_view name = "softmax";
  /// Z: (batch, classes) -> A: each row's softmax.
  template <class Z, class A>
  static void forward(const Eigen::MatrixBase<Z>& z, Eigen::MatrixBase<A>& a) {
    for (Index r = 0; r < z.rows(); ++r) {
      a.row(r) = (z.row(r).array() - z.row(r).maxCoeff()).exp().matrix();
      a.row(r) /= a.row(r).sum();
    }
  }
  /// G: dL/dA -> dL/dZ = A .* (G - <G, A>), row by row.
  template <class A, class G>
  static void backward(const Eigen::MatrixBase<A>& a, Eigen::MatrixBase<G>& g) {
    for (Index r = 0; r < a.rows(); ++r) {
      const auto dot = g.row(r).dot(a.row(r));
      g.row(r).array() = a.row(r).array() * (g.row(r).array() - dot);
    }
  }
};

/// log_softmax(z)_j = z_j - m - log sum_k e^(z_k - m), per row, m = max_k z_k for stability: the
/// log of Softmax's output without its underflow (PyTorch's LogSoftmax, ONNX's on the last axis).
/// Jacobian per row: J = I - 1 p^T with p = e^a, the softmax, so  dL/dz = g - e^a <g, 1>.
struct LogSoftmax {
  static constexpr std::string_view name = "log_softmax";
  /// Z: (batch, classes) -> A: each row's log-softmax.
  template <class Z, class A>
  static void forward(const Eigen::MatrixBase<Z>& z, Eigen::MatrixBase<A>& a) {
    for (Index r = 0; r < z.rows(); ++r) {
      a.row(r) = (z.row(r).array() - z.row(r).maxCoeff()).matrix();
      a.row(r).array() -= std::log(a.row(r).array().exp().sum());
    }
  }
  /// G: dL/dA -> dL/dZ = G - e^A sum(G), row by row.
  template <class A, class G>
  static void backward(const Eigen::MatrixBase<A>& a, Eigen::MatrixBase<G>& g) {
    for (Index r = 0; r < a.rows(); ++r) {
      const auto total = g.row(r).sum();
      g.row(r).array() -= a.row(r).array().exp() * total;
    }
  }
};

/// Whether activation A is of the ReLU family, which halves the variance it passes on, so that
/// He's initialization fits it (init.hpp). An activation of one's own says so with `static
/// constexpr bool rectified = true`.
template <class A>
inline constexpr bool rectified = requires {
  requires A::rectified;
};

/// Whether activation A works value by value (it derives from Elementwise), so that it may run on
/// any block of rows of Z as soon as the block is made (Conv2D does).
template <class A>
inline constexpr bool elementwise = std::is_base_of_v<Elementwise<A>, A>;

}  // namespace backprop
