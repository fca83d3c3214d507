// BatchNorm: training normalizes with the batch's statistics and inference with the running ones,
// which move as PyTorch's do; gradients in training mode match central differences; a step that
// throws leaves the running statistics; model files keep them.
#include <cmath>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "finite_differences.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

using Matrix = Eigen::MatrixXd;

}  // namespace

TEST_CASE("BatchNorm normalizes with the batch while training, the running statistics after",
          "[batch_norm]") {
  // Two features of a dense layer's output: BatchNorm1d.
  Sequential<double> net(2);
  net.add_batch_norm().add_dense<Identity>(2, Bias::off);
  net.for_each_parameter([](std::size_t slot, auto& p, const auto&) {
    if (slot == 2) p.setIdentity();  // the Dense layer passes the normalized values through
  });
  Matrix x(4, 2);
  x << 1, 10, 2, 20, 3, 30, 6, 60;
  // Training mode: each column to mean 0 and variance 1 (biased, with epsilon).
  Matrix seen;
  net.backward(x, Matrix::Zero(4, 2), MeanSquared{}, [&](const auto& a, const auto&) { seen = a; });
  const Eigen::RowVector2d mean = x.colwise().mean();
  const Eigen::RowVector2d variance =
      (x.rowwise() - mean).array().square().colwise().mean().matrix();
  for (Index c = 0; c < 2; ++c)
    for (Index r = 0; r < 4; ++r)
      CHECK(seen(r, c) == test::Approx((x(r, c) - mean(c)) / std::sqrt(variance(c) + 1e-5)));
  // Inference normalizes with the running statistics, which moved 10% of the way from 0 and 1
  // toward the batch's, the variance unbiased: PyTorch's rule.
  const Matrix predicted = net.predict(x);
  for (Index c = 0; c < 2; ++c) {
    const double running_mean = 0.1 * mean(c);
    const double running_variance = 0.9 + 0.1 * variance(c) * 4 / 3;
    for (Index r = 0; r < 4; ++r)
      CHECK(predicted(r, c) ==
            test::Approx((x(r, c) - running_mean) / std::sqrt(running_variance + 1e-5)));
  }
}

TEST_CASE("BatchNorm gradients in training mode match finite differences",
          "[batch_norm][gradient]") {
  SECTION("after a dense layer") {
    Sequential<double> net(3);
    net.add_dense<Tanh>(4).add_batch_norm(0.3).add_dense<Sigmoid>(2);
    net.for_each_parameter([](std::size_t slot, auto& p, const auto&) {
      if (slot == 2 || slot == 3) p.setRandom();  // gamma and beta away from 1 and 0
    });
    const Matrix x = Matrix::Random(6, 3), y = Matrix::Random(6, 2);
    // Training mode: the loss of backward(), with the batch's statistics (loss() is inference).
    net.backward(x, y, MeanSquared{});
    const auto [error, largest] =
        test::finite_difference_error(net, [&] { return net.backward(x, y, MeanSquared{}); });
    CHECK(largest > 1e-4);
    CHECK(error < 1e-6);
  }
  SECTION("between convolutions, over channels and pixels") {
    Sequential<double> net(Shape{2, 5, 4});
    net.add_conv2d<Identity>(3, {2, 2}, {1, 1}, {1, 0})
        .add_batch_norm()
        .add_conv2d<Tanh>(2, {3, 3})
        .add_global_avg_pool()
        .add_dense<Identity>(1);
    net.for_each_parameter([](std::size_t slot, auto& p, const auto&) {
      if (slot == 2 || slot == 3) p.setRandom();
    });
    const Matrix x = Matrix::Random(3, 40), y = Matrix::Random(3, 1);
    // Training mode: the loss of backward(), with the batch's statistics (loss() is inference).
    net.backward(x, y, MeanSquared{});
    const auto [error, largest] =
        test::finite_difference_error(net, [&] { return net.backward(x, y, MeanSquared{}); });
    CHECK(largest > 1e-4);
    CHECK(error < 1e-6);
  }
}

TEST_CASE("A training step that throws leaves BatchNorm's running statistics", "[batch_norm]") {
  Sequential<double> net(2);
  net.add_batch_norm().add_dense<Sigmoid>(1);
  const Matrix x = Matrix::Random(5, 2);
  Matrix y = Matrix::Constant(5, 1, 0.5);
  const Matrix before = net.predict(x);
  y(3, 0) = std::nan("");
  SGD<double> sgd(0.1);
  CHECK_THROWS_AS(net.train_step(x, y, BinaryCrossEntropy{}, sgd), std::invalid_argument);
  CHECK(net.predict(x) == before);
  // One value per channel has no variance: refused, as PyTorch refuses it.
  test::check_throws<ArgumentError>(
      [&] { net.train_step(x.topRows(1), y.topRows(1), BinaryCrossEntropy{}, sgd); },
      {"more than one value per channel"});
  CHECK(net.predict(x) == before);
  CHECK(sgd.steps() == 0);
}

TEST_CASE("BatchNorm's running statistics are saved and loaded", "[batch_norm][file]") {
  test::TempDir dir;
  Sequential<float> net(Shape{3, 4, 4});
  net.add_conv2d<ReLU>(4, {3, 3}, {1, 1}, {1, 1}).add_batch_norm(0.2, 1e-3).add_global_avg_pool();
  net.add_dense<Softmax>(3);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(8, 48);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(8, 3);
  for (Index r = 0; r < 8; ++r)
    y(r, r % 3) = 1;
  Adam<float> adam;
  for (int i = 0; i < 5; ++i)
    net.train_step(x, y, SoftmaxCrossEntropy{}, adam);
  save_model(net, dir / "bn.bpm");
  const auto loaded = load_sequential<float>(dir / "bn.bpm");
  CHECK(loaded.predict(x) == net.predict(x));
  CHECK(loaded.layer(1).settings == "momentum 0.2, epsilon 0.001");
  test::check_throws<ArgumentError>([&] { net.add_batch_norm(1.5); }, {"momentum 1.5"});
}
