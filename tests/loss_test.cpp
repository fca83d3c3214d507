// Losses: values against their definitions, gradients against finite differences, and the
// fused softmax and sigmoid cross-entropies at logits of +-1000.
#include <cmath>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

using Matrix = Eigen::MatrixXd;

// Finite-difference dL/dO of L = value(O, Y), element by element.
template <class F>
Matrix numeric_gradient(F value, const Matrix& o) {
  const double h = 1e-6;
  Matrix g(o.rows(), o.cols());
  for (Index i = 0; i < o.size(); ++i) {
    Matrix up = o, down = o;
    up(i) += h;
    down(i) -= h;
    g(i) = (value(up) - value(down)) / (2 * h);
  }
  return g;
}

void check_close(const Matrix& analytic, const Matrix& numeric) {
  INFO("analytic\n" << analytic << "\nnumeric\n" << numeric);
  CHECK((analytic - numeric).cwiseAbs().maxCoeff() <= 1e-7 * (1 + numeric.cwiseAbs().maxCoeff()));
}

// Outputs in (0.05, 0.95), targets in [0, 1]: the domain of every loss here.
Matrix probabilities(Index rows, Index cols) {
  return (0.5 + 0.45 * Matrix::Random(rows, cols).array()).matrix();
}

// Rows of non-negative numbers that sum to 1.
Matrix distributions(Index rows, Index cols) {
  Matrix y = (Matrix::Random(rows, cols).array() + 1.0).matrix();
  for (Index r = 0; r < rows; ++r)
    y.row(r) /= y.row(r).sum();
  return y;
}

Matrix softmax(const Matrix& z) {
  Matrix a(z.rows(), z.cols());
  Softmax::forward(z, a);
  return a;
}

}  // namespace

TEST_CASE("HalfSumSquared is the tutorial's sum of 0.5 (o - y)^2", "[loss]") {
  Matrix o(3, 1), y(3, 1);
  o << 0.9, 0.8, 0.7;
  y << 0.92, 0.86, 0.89;
  CHECK(HalfSumSquared::value(o, y) ==
        test::Approx(0.5 * (0.02 * 0.02 + 0.06 * 0.06 + 0.19 * 0.19)));
  check_close(HalfSumSquared::gradient(o, y),
              numeric_gradient([&](const Matrix& p) { return HalfSumSquared::value(p, y); }, o));
}

TEST_CASE("MeanSquared is the mean of (o - y)^2 over every element", "[loss]") {
  const Matrix o = Matrix::Random(4, 3), y = Matrix::Random(4, 3);
  CHECK(MeanSquared::value(o, y) == test::Approx((o - y).array().square().mean()));
  check_close(MeanSquared::gradient(o, y),
              numeric_gradient([&](const Matrix& p) { return MeanSquared::value(p, y); }, o));
}

TEST_CASE("BinaryCrossEntropy on probabilities", "[loss]") {
  const Matrix o = probabilities(4, 3), y = probabilities(4, 3);
  const double expected =
      -(y.array() * o.array().log() + (1 - y.array()) * (1 - o.array()).log()).mean();
  CHECK(BinaryCrossEntropy::value(o, y) == test::Approx(expected));
  check_close(
      BinaryCrossEntropy::gradient(o, y),
      numeric_gradient([&](const Matrix& p) { return BinaryCrossEntropy::value(p, y); }, o));
}

TEST_CASE("BinaryCrossEntropy fused with a sigmoid, from the logits", "[loss]") {
  const Matrix z = 3 * Matrix::Random(4, 3), y = probabilities(4, 3);
  const Matrix a = (1.0 / (1.0 + (-z.array()).exp())).matrix();
  CHECK(BinaryCrossEntropy::value_from_logits(z, y) ==
        test::Approx(BinaryCrossEntropy::value(a, y)));
  check_close(
      BinaryCrossEntropy::logit_gradient(a, y),
      numeric_gradient(
          [&](const Matrix& logits) { return BinaryCrossEntropy::value_from_logits(logits, y); },
          z));
}

TEST_CASE("SoftmaxCrossEntropy fused with a softmax, from the logits", "[loss]") {
  const Matrix z = 3 * Matrix::Random(5, 4), y = distributions(5, 4);
  const Matrix p = softmax(z);
  CHECK(SoftmaxCrossEntropy::value_from_logits(z, y) ==
        test::Approx(SoftmaxCrossEntropy::value(p, y)));
  // The gradient with respect to the logits is (p - y) / batch.
  check_close(
      SoftmaxCrossEntropy::logit_gradient(p, y),
      numeric_gradient(
          [&](const Matrix& logits) { return SoftmaxCrossEntropy::value_from_logits(logits, y); },
          z));
}

TEMPLATE_TEST_CASE("Fused cross-entropies are exact at logits of +-1000", "[loss][stability]",
                   float, double) {
  using S = TestType;
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

  SECTION("softmax") {
    M z(2, 2), y(2, 2);
    z << S(1000), S(-1000), S(-1000), S(1000);
    y << S(0), S(1), S(0), S(1);  // the first sample is wrong by 2000 nats, the second right
    M p(2, 2);
    Softmax::forward(z, p);
    CHECK(SoftmaxCrossEntropy::value_from_logits(z, y) == test::Approx(1000.0));
    const M g = SoftmaxCrossEntropy::logit_gradient(p, y);
    CHECK(g.allFinite());
    CHECK(g(0, 0) == test::Approx(0.5));
    CHECK(g(0, 1) == test::Approx(-0.5));
    CHECK(g.row(1).cwiseAbs().maxCoeff() == S(0));
  }
  SECTION("sigmoid") {
    M z(1, 2), y(1, 2);
    z << S(1000), S(-1000);
    y << S(0), S(0);  // wrong by 1000 nats, then right
    M a(1, 2);
    Sigmoid::forward(z, a);
    CHECK(BinaryCrossEntropy::value_from_logits(z, y) == test::Approx(500.0));
    const M g = BinaryCrossEntropy::logit_gradient(a, y);
    CHECK(g.allFinite());
    CHECK(g(0, 0) == test::Approx(0.5));
    CHECK(g(0, 1) == test::Approx(0.0).margin(1e-30));
  }
}

TEST_CASE("BinaryCrossEntropy on saturated probabilities stays finite", "[loss][stability]") {
  Matrix o(1, 2), y(1, 2);
  o << 0.0, 1.0;
  y << 1.0, 0.0;
  CHECK(std::isfinite(BinaryCrossEntropy::value(o, y)));
  CHECK(BinaryCrossEntropy::value(o, y) == test::Approx(100.0));  // log floored at -100
  CHECK(Matrix(BinaryCrossEntropy::gradient(o, y)).allFinite());
}
