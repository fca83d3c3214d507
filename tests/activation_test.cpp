// Activations: values against their definitions, derivatives against finite differences,
// and stability at |z| = 1000 in float and double.
#include <cmath>
#include <set>
#include <string>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <class Act, class S>
Matrix<S> forward(const Matrix<S>& z) {
  Matrix<S> a(z.rows(), z.cols());
  Act::forward(z, a);
  return a;
}

// dL/dZ for dL/dA = g, through the activation's backward.
template <class Act, class S>
Matrix<S> backward(const Matrix<S>& a, Matrix<S> g) {
  Act::backward(a, g);
  return g;
}

// Pre-activations in [-3, 3], kept 0.05 away from the kink of ReLU and LeakyReLU.
Matrix<double> sample_inputs(Index rows, Index cols) {
  Matrix<double> z = 3.0 * Matrix<double>::Random(rows, cols);
  return z.unaryExpr([](double v) { return std::abs(v) < 0.05 ? v + 0.1 : v; });
}

double reference(std::string_view name, double z) {
  if (name == "sigmoid") return 1.0 / (1.0 + std::exp(-z));
  if (name == "tanh") return std::tanh(z);
  if (name == "relu") return z > 0 ? z : 0.0;
  if (name == "leaky_relu") return z > 0 ? z : 0.01 * z;
  if (name == "softplus") return std::log1p(std::exp(z));
  if (name == "identity") return z;
  FAIL("no reference for " << name);
  return 0;
}

}  // namespace

#define ALL_ACTIVATIONS Sigmoid, Tanh, ReLU, LeakyReLU<>, Softplus, Identity, Softmax, LogSoftmax

TEMPLATE_TEST_CASE("An elementwise activation computes its definition", "[activation]", Sigmoid,
                   Tanh, ReLU, LeakyReLU<>, Softplus, Identity) {
  const Matrix<double> z = sample_inputs(4, 5);
  const Matrix<double> a = forward<TestType>(z);
  for (Index i = 0; i < z.size(); ++i)
    CHECK(a(i) == test::Approx(reference(TestType::name, z(i))).epsilon(1e-14));
}

TEST_CASE("Softmax turns each row into a distribution", "[activation]") {
  Matrix<double> z(2, 3);
  z << 1, 2, 3, -1, 0, 1;
  const Matrix<double> a = forward<Softmax>(z);
  const double e = std::exp(1.0), total = 1 + e + e * e;
  for (Index r = 0; r < 2; ++r) {
    CHECK(a(r, 0) == test::Approx(1 / total));
    CHECK(a(r, 1) == test::Approx(e / total));
    CHECK(a(r, 2) == test::Approx(e * e / total));
    CHECK(a.row(r).sum() == test::Approx(1.0));
  }
}

TEST_CASE("LogSoftmax is the log of Softmax, without its underflow", "[activation]") {
  Matrix<double> z(2, 3);
  z << 1, 2, 3, -1, 0, 1;
  const Matrix<double> log_p = forward<LogSoftmax>(z);
  const Matrix<double> p = forward<Softmax>(z);
  for (Index i = 0; i < z.size(); ++i)
    CHECK(log_p(i) == test::Approx(std::log(p(i))).epsilon(1e-14));
  Matrix<double> far(1, 2);
  far << 0, -800;  // e^-800 underflows to 0 in double: log of the softmax would be -inf
  CHECK(forward<LogSoftmax>(far)(0, 1) == test::Approx(-800.0).epsilon(1e-14));
}

TEMPLATE_TEST_CASE("An activation's backward is its Jacobian, by finite differences",
                   "[activation][gradient]", ALL_ACTIVATIONS) {
  // For L = <g, f(z)>, dL/dz must equal what backward(f(z), g) returns.
  std::srand(42);
  const Matrix<double> z = sample_inputs(3, 4);
  const Matrix<double> g = Matrix<double>::Random(3, 4);
  const Matrix<double> analytic = backward<TestType>(forward<TestType>(z), g);
  const double h = 1e-6;
  for (Index i = 0; i < z.size(); ++i) {
    Matrix<double> up = z, down = z;
    up(i) += h;
    down(i) -= h;
    const double numeric = (g.cwiseProduct(forward<TestType>(up)).sum() -
                            g.cwiseProduct(forward<TestType>(down)).sum()) /
                           (2 * h);
    INFO(TestType::name << " at z = " << z(i));
    CHECK(analytic(i) == test::Approx(numeric).epsilon(1e-7).margin(1e-9));
  }
}

TEMPLATE_TEST_CASE("An activation in float agrees with double", "[activation]", ALL_ACTIVATIONS) {
  const Matrix<double> z = sample_inputs(3, 4);
  const Matrix<double> g = Matrix<double>::Random(3, 4);
  const Matrix<float> zf = z.cast<float>(), gf = g.cast<float>();
  const Matrix<double> a = forward<TestType>(z);
  const Matrix<float> af = forward<TestType>(zf);
  CHECK((af.cast<double>() - a).cwiseAbs().maxCoeff() <= 1e-5 * (1 + a.cwiseAbs().maxCoeff()));
  const Matrix<double> dz = backward<TestType>(a, g);
  const Matrix<float> dzf = backward<TestType>(af, gf);
  CHECK((dzf.cast<double>() - dz).cwiseAbs().maxCoeff() <= 1e-5 * (1 + dz.cwiseAbs().maxCoeff()));
}

template <class S>
void check_stable_at_extremes(std::string_view name, const Matrix<S>& a, const Matrix<S>& dz) {
  INFO(name);
  CHECK(a.allFinite());
  CHECK(dz.allFinite());
}

TEMPLATE_TEST_CASE("Activations stay finite at |z| = 1000 in float and double",
                   "[activation][stability]", float, double) {
  using S = TestType;
  Matrix<S> z(2, 3);
  z << S(1000), S(-1000), S(0), S(-1000), S(1000), S(1);
  const Matrix<S> g = Matrix<S>::Ones(2, 3);

  auto check = [&](auto activation) {
    using Act = decltype(activation);
    const Matrix<S> a = forward<Act, S>(z);
    check_stable_at_extremes<S>(Act::name, a, backward<Act, S>(a, g));
    return a;
  };
  const Matrix<S> sigmoid = check(Sigmoid{});
  CHECK(sigmoid(0, 0) == S(1));
  CHECK(sigmoid(0, 1) == test::Approx(0.0).margin(1e-30));
  const Matrix<S> tanh = check(Tanh{});
  CHECK(tanh(0, 0) == test::Approx(1.0));
  CHECK(tanh(0, 1) == test::Approx(-1.0));
  check(ReLU{});
  check(LeakyReLU<>{});
  const Matrix<S> softplus = check(Softplus{});
  CHECK(softplus(0, 0) == S(1000));  // log(1 + e^1000) = 1000 to every digit a float has
  CHECK(softplus(0, 1) == test::Approx(0.0).margin(1e-30));
  check(Identity{});
  const Matrix<S> softmax = check(Softmax{});
  CHECK(softmax(0, 0) == S(1));
  CHECK(softmax(0, 1) == S(0));
  CHECK(softmax(1, 1) == S(1));
  const Matrix<S> log_softmax = check(LogSoftmax{});
  CHECK(log_softmax(0, 0) == S(0));
  CHECK(log_softmax(0, 1) == S(-2000));
}

TEST_CASE("Activation names are distinct, for model files", "[activation]") {
  const std::set<std::string_view> names{Sigmoid::name,     Tanh::name,      ReLU::name,
                                         LeakyReLU<>::name, Softplus::name,  Identity::name,
                                         Softmax::name,     LogSoftmax::name};
  CHECK(names.size() == 8);
}
