// Rescale: the scaling of inputs and targets carried inside the network. It maps as the scalers
// do, passes gradients through exactly, and a saved model answers raw rows in real units.
#include <cmath>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "finite_differences.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

// Houses: area (m^2) and age (years) -> price, with numbers of very different sizes.
struct Houses {
  Eigen::MatrixXd x, y;
};
Houses houses(Index rows) {
  Houses h{Eigen::MatrixXd(rows, 2), Eigen::MatrixXd(rows, 1)};
  const Eigen::MatrixXd u = (Eigen::MatrixXd::Random(rows, 2).array() + 1) / 2;
  h.x.col(0) = (40 + 160 * u.col(0).array()).matrix();
  h.x.col(1) = (50 * u.col(1).array()).matrix();
  h.y.col(0) = (1e5 + 2500 * h.x.col(0).array() - 1500 * h.x.col(1).array() +
                4 * h.x.col(0).array().square())
                   .matrix();
  return h;
}

}  // namespace

TEST_CASE("Rescaling maps as each scaler's transform and inverse_transform", "[rescale]") {
  const Houses h = houses(50);
  for (const char* kind : {"max", "minmax", "standard"}) {
    INFO(kind);
    const auto scaler = make_scaler(kind);
    scaler->fit(h.x);
    Sequential<double> forward(2), inverse(2);
    forward.add_rescale(Rescaling::transform(*scaler));
    inverse.add_rescale(Rescaling::inverse_transform(*scaler));
    const Eigen::MatrixXd scaled = scaler->transform(h.x);
    CHECK(forward.predict(h.x).isApprox(scaled, 1e-14));
    CHECK(inverse.predict(scaled).isApprox(h.x, 1e-14));
    CHECK(forward.layer(0).parameters == 0);
    CHECK(forward.parameter_matrices() == 0);
  }
}

TEST_CASE("Gradients pass through Rescale layers exactly", "[rescale][gradient]") {
  // Dense -> Rescale -> Dense -> Rescale: the gradients of both Dense layers, by central
  // differences, check dL/dX of a Rescale in the middle and at the output.
  Sequential<double> net(3);
  net.add_dense(4, "tanh")
      .add_rescale({Eigen::RowVector4d(2, -0.5, 3, 0.25), Eigen::RowVector4d(1, 0, -2, 0.5)})
      .add_dense(2, "identity")
      .add_rescale({Eigen::RowVector2d(-1.5, 4), Eigen::RowVector2d(0.1, -0.3)});
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(5, 3), y = Eigen::MatrixXd::Random(5, 2);
  net.backward(x, y, MeanSquared{});
  const auto [error, largest] =
      test::finite_difference_error(net, [&] { return net.loss(x, y, MeanSquared{}); });
  CHECK(largest > 1e-3);
  CHECK(error <= 1e-7);
}

TEST_CASE("A saved model takes raw rows and answers in real units", "[rescale][file]") {
  test::TempDir dir;
  const Houses train = houses(400), test_rows = houses(50);
  StandardScaler x_scaler, y_scaler;
  x_scaler.fit(train.x);
  y_scaler.fit(train.y);

  // Inputs scaled inside the network; targets scaled for training, as usual for regression.
  Sequential<double> net(2);
  net.add_rescale(Rescaling::transform(x_scaler)).add_dense(16, "tanh").add_dense(1, "identity");
  Adam<double> adam({.learning_rate = 0.01});
  fit(net, train.x, y_scaler.transform(train.y), MeanSquared{}, adam,
      {.epochs = 150, .batch_size = 32, .verbosity = Verbosity::silent});
  const Eigen::MatrixXd expected = y_scaler.inverse_transform(net.predict(test_rows.x));

  // Then the answers in real units, and the file.
  net.add_rescale(Rescaling::inverse_transform(y_scaler));
  save_model(net, dir / "houses.bpm");
  const Sequential<double> loaded = load_sequential<double>(dir / "houses.bpm");
  REQUIRE(loaded.depth() == 4);
  CHECK(loaded.layer(0).kind == "rescale");
  CHECK(loaded.layer(3).kind == "rescale");
  const Eigen::MatrixXd predicted = loaded.predict(test_rows.x);
  CHECK(predicted.isApprox(expected, 1e-12));
  // Prices of 2e5 to 6e5, predicted within 2% of their spread.
  const double spread = y_scaler.scale()(0);
  CHECK((predicted - test_rows.y).cwiseAbs().mean() < 0.02 * spread);

  // A float network loads the same file and agrees to float's precision.
  const Sequential<float> small = load_sequential<float>(dir / "houses.bpm");
  CHECK(small.predict(test_rows.x.cast<float>()).cast<double>().isApprox(expected, 1e-5));
}

TEST_CASE("Rescale in a Network of compile-time sizes", "[rescale]") {
  Network<double, Rescale<2>, Dense<2, 3, Sigmoid, Bias::off>, Dense<3, 1, Sigmoid, Bias::off>> net{
      StandardNormal{1}};
  net.state<0>().set({Eigen::RowVector2d(1.0 / 3, 1.0 / 9), Eigen::RowVector2d::Zero()});
  Network<double, Dense<2, 3, Sigmoid, Bias::off>, Dense<3, 1, Sigmoid, Bias::off>> plain{
      StandardNormal{1}};
  Eigen::Matrix<double, 3, 2> x;
  x << 3, 5, 5, 1, 10, 2;
  Eigen::Matrix<double, 3, 2> scaled = x;
  scaled.col(0) /= 3;
  scaled.col(1) /= 9;
  CHECK(net.predict(x).isApprox(plain.predict(scaled), 1e-15));
  CHECK(net.parameter_matrices() == 2);
}

TEST_CASE("A rescaling that cannot map is refused, and the network stays as it was",
          "[rescale][hostile]") {
  Sequential<double> net(2);
  net.add_dense(2, "identity");
  const Eigen::RowVector2d ones = Eigen::RowVector2d::Ones();
  const double nan = std::nan("");
  test::check_throws<ArgumentError>(
      [&] {
        net.add_rescale({Eigen::RowVector2d(1, 0), Eigen::RowVector2d::Zero()});
      },
      {"column 1 has scale 0"});
  test::check_throws<ArgumentError>(
      [&] {
        net.add_rescale({ones, Eigen::RowVector2d(nan, 0)});
      },
      {"column 0", "nan"});
  test::check_throws<ShapeError>(
      [&] {
        net.add_rescale({Eigen::RowVector3d::Ones(), ones});
      },
      {"scale has 3 columns", "the layer has 2 units"});
  CHECK(net.depth() == 1);
  // Finite in double but not in float.
  Sequential<float> small(2);
  test::check_throws<ArgumentError>(
      [&] {
        small.add_rescale({Eigen::RowVector2d(1e300, 1), Eigen::RowVector2d::Zero()});
      },
      {"finite in the network's scalar"});
  CHECK(small.depth() == 0);
}

TEST_CASE("A model file whose rescale layer is damaged is refused by name", "[rescale][file]") {
  test::TempDir dir;
  Sequential<double> net(2);
  net.add_rescale({Eigen::RowVector2d(2, 4), Eigen::RowVector2d(1, 1)}).add_dense(1, "sigmoid");
  save_model(net, dir / "ok.bpm");
  auto bytes = test::read_bytes(dir / "ok.bpm");
  // The scale 4.0 (f64 0x4010000000000000) becomes 0.0; the CRC is fixed so that only the layer's
  // own check can refuse it.
  const std::array<std::uint8_t, 8> four{0, 0, 0, 0, 0, 0, 0x10, 0x40};
  const auto at = std::search(bytes.begin(), bytes.end(), four.begin(), four.end());
  REQUIRE(at != bytes.end());
  std::fill(at, at + 8, std::uint8_t(0));
  const std::uint32_t crc = io::crc32(bytes.data(), bytes.size() - 4);
  for (int i = 0; i < 4; ++i)
    bytes[bytes.size() - 4 + std::size_t(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
  test::write_bytes(dir / "zero.bpm", bytes);
  test::check_throws<FormatError>([&] { load_sequential<double>(dir / "zero.bpm"); },
                                  {"zero.bpm", "column 1 has scale 0"});
}
