// Network: construction, shapes and their errors, the fixed and dynamic paths, the optimizer.
#include <string>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "study_sleep.hpp"

using namespace backprop;
using study_sleep::Network231;

namespace {
using DynamicNet = Network<double, Dense<Dynamic, Dynamic, Tanh>, Dense<Dynamic, Dynamic, Sigmoid>>;

}  // namespace

TEST_CASE("Mismatched run-time shapes throw a ShapeError naming both shapes", "[network][shape]") {
  DynamicNet net({2, 3, 1}, GlorotUniform{1});
  SGD sgd(0.1);
  const Eigen::MatrixXd x4 = Eigen::MatrixXd::Ones(3, 4), x = Eigen::MatrixXd::Ones(3, 2);
  const Eigen::MatrixXd y = Eigen::MatrixXd::Ones(3, 1), y2 = Eigen::MatrixXd::Ones(3, 2),
                        y_short = Eigen::MatrixXd::Ones(2, 1);

  test::check_throws<ShapeError>([&] { (void)net.predict(x4); }, {"predict", "3x4", "3x2"});
  test::check_throws<ShapeError>([&] { net.backward(x4, y, HalfSumSquared{}); },
                                 {"backward", "3x4", "3x2"});
  test::check_throws<ShapeError>([&] { net.train_step(x, y2, HalfSumSquared{}, sgd); },
                                 {"Y is 3x2", "expected 3x1"});
  test::check_throws<ShapeError>([&] { net.train_step(x, y_short, HalfSumSquared{}, sgd); },
                                 {"Y is 2x1", "X is 3x2"});
  test::check_throws<ShapeError>([&] { (void)net.loss(x4, y, MeanSquared{}); }, {"loss", "3x4"});
  test::check_throws<ShapeError>([&] { (void)net.predict(Eigen::MatrixXd(0, 2)); },
                                 {"0x2", "no rows"});
}

TEST_CASE("A failed call leaves the network unchanged", "[network][shape]") {
  DynamicNet net({2, 3, 1}, GlorotUniform{1});
  const auto before = net.parameters<0>().W;
  SGD sgd(0.1);
  CHECK_THROWS_AS(net.train_step(Eigen::MatrixXd::Ones(3, 5), Eigen::MatrixXd::Ones(3, 1),
                                 HalfSumSquared{}, sgd),
                  ShapeError);
  CHECK(net.parameters<0>().W == before);
}

TEST_CASE("Widths given at run time are checked", "[network][shape]") {
  using Mixed = Network<double, Dense<2, Dynamic>, Dense<Dynamic, 1>>;
  CHECK(Mixed({2, 7, 1}).widths() == Mixed::Widths{2, 7, 1});
  test::check_throws<ShapeError>([] { Mixed({3, 7, 1}); }, {"widths[0] is 3", "fix it at 2"});
  test::check_throws<ShapeError>([] { Mixed({2, 7, 2}); }, {"widths[2] is 2", "fix it at 1"});
  test::check_throws<ArgumentError>([] { Mixed({2, 0, 1}); }, {"widths[1] is 0"});
}

TEST_CASE("Compile-time and dynamic networks with the same weights agree", "[network]") {
  Network231 fixed{StandardNormal{3}};
  study_sleep::NetworkWithHidden mixed({2, 3, 1}, StandardNormal{3});
  Network<double, Dense<Dynamic, Dynamic, Sigmoid, Bias::off>,
          Dense<Dynamic, Dynamic, Sigmoid, Bias::off>>
      dynamic({2, 3, 1}, StandardNormal{3});
  const auto x = study_sleep::scaled_hours();
  const auto y = study_sleep::scaled_scores();
  const Eigen::MatrixXd x_dynamic = x, y_dynamic = y;

  CHECK(fixed.predict(x) == mixed.predict(x));
  CHECK(fixed.predict(x) == dynamic.predict(x_dynamic));
  const double loss = fixed.backward(x, y, HalfSumSquared{});
  CHECK(mixed.backward(x, y, HalfSumSquared{}) == loss);
  CHECK(dynamic.backward(x_dynamic, y_dynamic, HalfSumSquared{}) == loss);
  CHECK(fixed.gradients<0>().W == dynamic.gradients<0>().W);
  CHECK(fixed.gradients<1>().W == dynamic.gradients<1>().W);
}

TEST_CASE("predict, loss and backward see the same forward pass", "[network]") {
  Network<double, Dense<4, 8, ReLU>, Dense<8, 3, Softmax>> net{HeNormal{9}};
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(6, 4);
  Eigen::MatrixXd y = Eigen::MatrixXd::Zero(6, 3);
  for (Index r = 0; r < 6; ++r)
    y(r, r % 3) = 1;
  const Eigen::MatrixXd p = net.predict(x);
  CHECK(p.rowwise().sum().isOnes(1e-12));
  const double from_probabilities = SoftmaxCrossEntropy::value(p, y);
  CHECK(net.loss(x, y, SoftmaxCrossEntropy{}) == test::Approx(from_probabilities));
  CHECK(net.backward(x, y, SoftmaxCrossEntropy{}) == test::Approx(from_probabilities));
}

TEST_CASE("SGD moves every parameter by -learning_rate times its gradient",
          "[network][optimizer]") {
  Network<double, Dense<3, 4, Tanh>, Dense<4, 2, Identity>> net{GlorotUniform{5}};
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(7, 3), y = Eigen::MatrixXd::Random(7, 2);
  const auto W0 = net.parameters<0>().W;
  const auto b1 = net.parameters<1>().b;
  SGD sgd(0.25);
  const double loss = net.train_step(x, y, MeanSquared{}, sgd);
  CHECK(loss > 0);
  CHECK(net.parameters<0>().W.isApprox(W0 - 0.25 * net.gradients<0>().W));
  CHECK(net.parameters<1>().b.isApprox(b1 - 0.25 * net.gradients<1>().b));
  CHECK(net.loss(x, y, MeanSquared{}) < loss);
}

TEST_CASE("SGD rejects a learning rate that is negative or not finite", "[optimizer]") {
  test::check_throws<ArgumentError>([] { SGD sgd(-1.0); }, {"learning_rate", "-1"});
  test::check_throws<ArgumentError>([] { SGD sgd(std::nan("")); }, {"learning_rate", "nan"});
  SGD sgd(0.1f);
  test::check_throws<ArgumentError>([&] { sgd.set_learning_rate(INFINITY); },
                                    {"learning_rate", "inf"});
  CHECK(sgd.learning_rate() == 0.1f);
}

TEST_CASE("Sizes and counts", "[network]") {
  using Net = Network<float, Dense<784, 128, ReLU>, Dense<128, 10, Softmax>>;
  STATIC_REQUIRE(Net::inputs == 784);
  STATIC_REQUIRE(Net::outputs == 10);
  STATIC_REQUIRE(Net::fixed_size);
  const Net net;
  CHECK(net.depth() == 2);
  CHECK(net.parameter_count() == 784 * 128 + 128 + 128 * 10 + 10);
  CHECK(Network231().parameter_count() == 9);
}
