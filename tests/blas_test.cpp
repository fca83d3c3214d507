// The BLAS backend (built with -DBACKPROP_USE_BLAS=ON): the same results through OpenBLAS.
#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "gradient_check.hpp"

using namespace backprop;

TEST_CASE("backprop::blas sends products to OpenBLAS and manages its threads", "[blas]") {
  CHECK(std::string(product_backend()) == "OpenBLAS");
  set_threads(2);
  CHECK(threads() == 2);
  set_threads(1);
  CHECK(threads() == 1);
  CHECK_THROWS_AS(set_threads(0), ArgumentError);
}

TEST_CASE("Gradients through OpenBLAS match finite differences", "[blas][gradient]") {
  // Sizes large enough that Eigen hands the products to BLAS rather than evaluating them itself.
  set_threads(2);
  test::check_network_gradient<double, Tanh, MeanSquared, Bias::on, false, 40, 48, 24, 64>();
  test::check_network_gradient<float, Softmax, SoftmaxCrossEntropy, Bias::on, false, 40, 48, 24,
                               64>();
  test::check_network_gradient<double, ReLU, HalfSumSquared, Bias::off, true, 30, 32, 20, 48>();
}

TEST_CASE("An MLP learns through OpenBLAS on two threads", "[blas]") {
  set_threads(2);
  Sequential<float> net(64);
  net.add_dense(256, "relu").add_dense(4, "softmax");
  net.initialize(HeNormal{1});
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(512, 64);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(512, 4);
  for (Index r = 0; r < 512; ++r)
    y(r, (x(r, 0) > 0) + 2 * (x(r, 1) > 0)) = 1;
  Adam<float> adam({.learning_rate = 0.01f});
  const History h =
      fit(net, x, y, SoftmaxCrossEntropy{}, adam,
          FitOptions<float>{.epochs = 20, .batch_size = 256, .verbosity = Verbosity::silent});
  CHECK(*h.epochs.back().train.accuracy > 0.95);
}
