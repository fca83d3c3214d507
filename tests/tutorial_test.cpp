// Every number of the tutorial that the library reproduces.
#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "study_sleep.hpp"

using namespace backprop;
using study_sleep::Network231;

namespace {
double sigmoid(double z) {
  Eigen::Array<double, 1, 1> a;
  a << z;
  return Sigmoid::value(a)(0);
}
}  // namespace

TEST_CASE("Sigmoid gives the tutorial's hand-worked values") {
  CHECK_THAT(sigmoid(7.6), test::within_abs(0.999499799, 1e-9));
  CHECK_THAT(sigmoid(6.5), test::within_abs(0.998498818, 1e-9));
  CHECK_THAT(sigmoid(1.79832), test::within_abs(0.8579443067, 1e-9));
}

TEST_CASE("The tutorial's worked forward pass for 2 hours studied and 9 slept") {
  // The tutorial's text writes 7.5 for the second hidden sum, but 2 * .6 + 9 * .3 = 3.9. Its
  // S(7.5) = 1.000553084 cannot be right either (a sigmoid never exceeds 1), and its output
  // S(1.79832) = 0.8579443067 carries the slip. With 3.9 the output is 0.8567468.
  Network231 net;
  net.parameters<0>().W << .2, .6, .1, .8, .3, .7;
  net.parameters<1>().W << .4, .5, .9;
  const Eigen::Matrix<double, 1, 2> x(2, 9);

  const Eigen::Matrix<double, 1, 3> hidden_sums = x * net.parameters<0>().W;
  CHECK(hidden_sums(0) == test::Approx(7.6));
  CHECK(hidden_sums(1) == test::Approx(3.9));
  CHECK(hidden_sums(2) == test::Approx(6.5));
  CHECK_THAT(net.predict(x)(0), test::within_abs(0.8567468, 1e-7));
}

TEST_CASE("One training step equals the tutorial's update rule computed by hand") {
  const auto X = study_sleep::scaled_hours();
  const auto y = study_sleep::scaled_scores();
  Network231 net{StandardNormal{7}};
  Eigen::Matrix<double, 2, 3> W1 = net.parameters<0>().W;
  Eigen::Matrix<double, 3, 1> W2 = net.parameters<1>().W;

  // The tutorial's forward, backward and update, line by line.
  auto sigmoid_of = [](const auto& m) {
    return (1.0 / (1.0 + (-m.array()).exp())).matrix().eval();
  };
  auto sigmoid_prime = [](const auto& s) {
    return (s.array() * (1.0 - s.array())).matrix().eval();
  };
  const Eigen::Matrix<double, 3, 3> z2 = sigmoid_of(X * W1);
  const Eigen::Matrix<double, 3, 1> o = sigmoid_of(z2 * W2);
  const Eigen::Matrix<double, 3, 1> o_error = y - o;
  const Eigen::Matrix<double, 3, 1> o_delta = o_error.cwiseProduct(sigmoid_prime(o));
  const Eigen::Matrix<double, 3, 3> z2_error = o_delta * W2.transpose();
  const Eigen::Matrix<double, 3, 3> z2_delta = z2_error.cwiseProduct(sigmoid_prime(z2));
  W1 += X.transpose() * z2_delta;
  W2 += z2.transpose() * o_delta;

  SGD sgd(1.0);
  const double loss = net.train_step(X, y, HalfSumSquared{}, sgd);

  CHECK_THAT(loss, test::within_abs(0.5 * o_error.squaredNorm(), 1e-15));
  CHECK((net.parameters<0>().W - W1).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((net.parameters<1>().W - W2).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("1,000 training steps bring the mean squared error below 1e-3") {
  const auto X = study_sleep::scaled_hours();
  const auto y = study_sleep::scaled_scores();
  for (std::uint32_t seed = 0; seed < 10; ++seed) {
    INFO("seed " << seed);
    Network231 net{StandardNormal{seed}};
    SGD sgd(1.0);
    const double before = MeanSquared::value(net.predict(X), y);
    for (int i = 0; i < 1000; ++i)
      net.train_step(X, y, HalfSumSquared{}, sgd);
    const double after = MeanSquared::value(net.predict(X), y);
    CHECK(after < 1e-3);
    CHECK(after < before);
  }
}

TEST_CASE("Training reproduces the tutorial's Python program run after np.random.seed(1)") {
  // Reference: the tutorial's code under numpy 1.24 with np.random.seed(1), 1,000 iterations
  // (its xrange(1,000) read as the 1,000 it means), printed with 17 significant digits.
  const auto X = study_sleep::scaled_hours();
  const auto y = study_sleep::scaled_scores();
  study_sleep::NetworkWithHidden net({2, 3, 1}, StandardNormal{1});
  SGD sgd(1.0);
  for (int i = 0; i < 1000; ++i)
    net.train_step(X, y, HalfSumSquared{}, sgd);

  Eigen::Matrix<double, 2, 3> numpy_W1;
  numpy_W1 << 2.1306612410501162, -0.72172971391973306, -0.54917998051757777,  //
      0.067255402451805876, 0.79798388613552862, -2.2687204281739159;
  const Eigen::Vector3d numpy_W2(2.4238832542659217, 0.27416947566681998, 0.33205658337802157);
  const Eigen::Vector3d numpy_o(0.8964219055322703, 0.86521928812062399, 0.91200092405812749);

  CHECK((net.parameters<0>().W - numpy_W1).cwiseAbs().maxCoeff() <= 1e-10);
  CHECK((net.parameters<1>().W - numpy_W2).cwiseAbs().maxCoeff() <= 1e-10);
  CHECK((net.predict(X) - numpy_o).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK_THAT(MeanSquared::value(net.predict(X), y),
             test::within_abs(0.00035573605554225569, 1e-14));

  // The query (4 h studied, 8 h slept), scaled by the training maxima (3, 9).
  const Eigen::Matrix<double, 1, 2> query =
      study_sleep::input_scaler().transform(Eigen::RowVector2d(4, 8));
  CHECK(query.isApprox(Eigen::RowVector2d(4.0 / 3, 8.0 / 9)));
  CHECK_THAT(net.predict(query)(0), test::within_abs(0.9196320467143726, 1e-12));
}
