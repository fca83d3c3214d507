// Finite-difference gradient check of whole networks: every activation with every loss that fits
// it, with and without bias, compile-time and dynamic sizes, in float or double.
//
// The analytic gradient comes from Network::backward in the scalar under test. The numeric one
// comes from central differences of the loss of a double copy of the same network (same weights,
// rounded to the tested scalar), so a float network is checked against an accurate reference
// rather than against float's own noisy differences.
#pragma once

#include <string>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"

namespace test {

using namespace backprop;

template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

// Targets in the domain of each loss.
template <class L>
Matrix<double> targets(Index rows, Index cols) {
  Matrix<double> y = Matrix<double>::Random(rows, cols);
  if constexpr (std::is_same_v<L, BinaryCrossEntropy>) y = (0.5 + 0.5 * y.array()).matrix();
  if constexpr (std::is_same_v<L, SoftmaxCrossEntropy>) {
    y = (y.array() + 1.0).matrix();
    for (Index r = 0; r < rows; ++r)
      y.row(r) /= y.row(r).sum();
  }
  return y;
}

// Pointers to every parameter matrix of a network, in for_each_parameter order.
template <class Net>
std::vector<std::pair<typename Net::Scalar*, Index>> parameter_blocks(Net& net) {
  std::vector<std::pair<typename Net::Scalar*, Index>> blocks;
  net.for_each_parameter(
      [&](std::size_t, auto& p, const auto&) { blocks.emplace_back(p.data(), p.size()); });
  return blocks;
}
template <class Net>
std::vector<std::pair<const typename Net::Scalar*, Index>> gradient_blocks(Net& net) {
  std::vector<std::pair<const typename Net::Scalar*, Index>> blocks;
  net.for_each_parameter(
      [&](std::size_t, auto&, const auto& g) { blocks.emplace_back(g.data(), g.size()); });
  return blocks;
}

template <class S, class Act, class L, Bias B, bool Fixed, int in = 3, int hidden = 4, int out = 3,
          int batch = 5>
void check_network_gradient() {
  auto size = [](int n) { return Fixed ? n : Dynamic; };
  using Hidden = Dense<size(in), size(hidden), Act, B>;
  using Output = Dense<size(hidden), size(out), Act, B>;
  using Net = Network<S, Hidden, Output>;

  INFO(std::string(Act::name) << " with " << L::name << (B == Bias::on ? ", bias" : ", no bias")
                              << (Fixed ? ", compile-time sizes, " : ", dynamic sizes, ")
                              << (sizeof(S) == 4 ? "float" : "double"));

  Net net({in, hidden, out}, StandardNormal{11});
  if constexpr (B == Bias::on) {
    net.template parameters<0>().b.setRandom();
    net.template parameters<1>().b.setRandom();
  }
  const Matrix<double> x = Matrix<double>::Random(batch, in);
  const Matrix<double> y = targets<L>(batch, out);
  using XS = Eigen::Matrix<S, size(batch), size(in)>;
  using YS = Eigen::Matrix<S, size(batch), size(out)>;
  const XS xs = x.cast<S>();
  const YS ys = y.cast<S>();
  net.backward(xs, ys, L{});

  Network<double, Hidden, Output> reference({in, hidden, out});
  const auto from = parameter_blocks(net);
  const auto to = parameter_blocks(reference);
  for (std::size_t k = 0; k < from.size(); ++k)
    for (Index i = 0; i < from[k].second; ++i)
      to[k].first[i] = double(from[k].first[i]);
  const Matrix<double> xd = xs.template cast<double>(), yd = ys.template cast<double>();

  const double h = 1e-6;
  const auto analytic = gradient_blocks(net);
  std::vector<double> numeric, difference;
  for (std::size_t k = 0; k < to.size(); ++k)
    for (Index i = 0; i < to[k].second; ++i) {
      double& theta = to[k].first[i];
      const double saved = theta;
      theta = saved + h;
      const double up = reference.loss(xd, yd, L{});
      theta = saved - h;
      const double down = reference.loss(xd, yd, L{});
      theta = saved;
      numeric.push_back((up - down) / (2 * h));
      difference.push_back(double(analytic[k].first[i]) - numeric.back());
    }
  const auto max_abs = [](const std::vector<double>& v) {
    double m = 0;
    for (double e : v)
      m = std::max(m, std::abs(e));
    return m;
  };
  const double scale = max_abs(numeric);
  const double tolerance = sizeof(S) == 4 ? 1e-4 : 1e-7;
  CHECK(scale > 1e-6);  // a gradient that is all zeros would prove nothing
  CHECK(max_abs(difference) <= tolerance * scale);
}

// Each activation and loss with a compile-time layout with bias and a dynamic one without: every
// activation meets both kinds of size and both bias settings meet both kinds of size (the other
// two layouts, for one pair, complete the square). Each layout is a network type of its own to
// compile, so all four for every pair would double the build for no case the pairs miss.
template <class S, class Act, class L>
void check_two_layouts() {
  check_network_gradient<S, Act, L, Bias::on, true>();
  check_network_gradient<S, Act, L, Bias::off, false>();
}

template <class S, class Act>
void check_with_squared_losses() {
  check_two_layouts<S, Act, HalfSumSquared>();
  check_two_layouts<S, Act, MeanSquared>();
}

// Every activation with both squared losses; the cross-entropies with the outputs that fit them.
template <class S>
void check_all_network_gradients() {
  check_with_squared_losses<S, Sigmoid>();
  check_network_gradient<S, Sigmoid, HalfSumSquared, Bias::off, true>();
  check_network_gradient<S, Sigmoid, HalfSumSquared, Bias::on, false>();
  check_with_squared_losses<S, Tanh>();
  check_with_squared_losses<S, ReLU>();
  check_with_squared_losses<S, LeakyReLU<>>();
  check_with_squared_losses<S, Softplus>();
  check_with_squared_losses<S, Identity>();
  check_with_squared_losses<S, Softmax>();
  check_with_squared_losses<S, LogSoftmax>();
  check_two_layouts<S, Sigmoid, BinaryCrossEntropy>();   // fused
  check_two_layouts<S, Softmax, BinaryCrossEntropy>();   // through Softmax's own Jacobian
  check_two_layouts<S, Softmax, SoftmaxCrossEntropy>();  // fused
}

}  // namespace test
