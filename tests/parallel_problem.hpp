// The small problems that the data-parallel tests train, on threads and on MPI ranks alike, and
// the comparisons of their results.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <backprop/backprop.hpp>

namespace {

using backprop::Index;

// A smooth regression target and a 3-class label, from 2 inputs.
template <class Scalar>
struct Problem {
  using Matrix = Eigen::Matrix<Scalar, backprop::Dynamic, backprop::Dynamic>;
  Matrix x, y, labels;
  explicit Problem(Index n) : x(n, 2), y(n, 1), labels(Matrix::Zero(n, 3)) {
    backprop::NumpyRandom random(5);
    for (Index i = 0; i < n; ++i) {
      const double a = random.uniform() * 2 - 1, b = random.uniform() * 2 - 1;
      x(i, 0) = static_cast<Scalar>(a);
      x(i, 1) = static_cast<Scalar>(b);
      y(i, 0) = static_cast<Scalar>(std::sin(2 * a) * b);
      labels(i, a + b < -0.3 ? 0 : (a - b < 0.2 ? 1 : 2)) = 1;
    }
  }
};

template <class Scalar>
using Regressor = backprop::Network<Scalar, backprop::Dense<2, 16, backprop::Tanh>,
                                    backprop::Dense<16, 8, backprop::Tanh>,
                                    backprop::Dense<8, 1, backprop::Identity>>;

template <class Net>
std::vector<Eigen::MatrixXd> parameters_of(const Net& net) {
  std::vector<Eigen::MatrixXd> all;
  net.for_each_parameter(
      [&](std::size_t, const auto& p, const auto&) { all.push_back(p.template cast<double>()); });
  return all;
}

template <class Net>
bool same_bits(const Net& a, const Net& b) {
  bool same = true;
  std::vector<std::vector<char>> bytes;
  a.for_each_parameter([&](std::size_t, const auto& p, const auto&) {
    const auto* d = reinterpret_cast<const char*>(p.data());
    bytes.emplace_back(d, d + p.size() * static_cast<Index>(sizeof(*p.data())));
  });
  std::size_t i = 0;
  b.for_each_parameter([&](std::size_t, const auto& p, const auto&) {
    const std::vector<char>& expected = bytes[i++];
    same = same && std::memcmp(expected.data(), p.data(), expected.size()) == 0;
  });
  return same;
}

double largest_difference(const std::vector<Eigen::MatrixXd>& a,
                          const std::vector<Eigen::MatrixXd>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, (a[i] - b[i]).cwiseAbs().maxCoeff());
  return worst;
}

}  // namespace
