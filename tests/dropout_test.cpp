// Dropout: inverted, seeded, off in predict, and its gradient by finite differences.
#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

TEST_CASE("Dropout keeps 1 - rate of the units and scales them by 1 / (1 - rate)", "[dropout]") {
  LayerNode<Dropout<>, double> layer(1000, 1000, {.rate = 0.3, .seed = 11});
  LayerNode<Dropout<>, double>::Workspace<Dynamic> ws;
  ws.resize(200, 1000);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(200, 1000);
  layer.training_forward(x, ws);
  const double kept = static_cast<double>((ws.A.array() > 0).count()) / double(ws.A.size());
  CHECK(kept == test::Approx(0.7).margin(0.005));
  CHECK(((ws.A.array() == 0) || (ws.A.array() == 1 / 0.7)).all());
  CHECK(ws.A.mean() == test::Approx(1.0).margin(0.01));  // the expected output is the input

  // The generator moves on only when the step commits; the same seed gives the same mask.
  const Eigen::MatrixXd first = ws.A;
  layer.training_forward(x, ws);
  CHECK(ws.A == first);
  layer.commit(ws);
  layer.training_forward(x, ws);
  CHECK(ws.A != first);
  layer.state().random.reseed(11);
  layer.training_forward(x, ws);
  CHECK(ws.A == first);
}

TEST_CASE("Dropout is off in predict and loss, on in training", "[dropout]") {
  Network<double, Dense<5, 40, Identity>, Dropout<40>, Dense<40, 2, Identity>> net{
      GlorotUniform{1}};
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(8, 5), y = Eigen::MatrixXd::Random(8, 2);
  const Eigen::MatrixXd p1 = net.predict(x), p2 = net.predict(x);
  CHECK(p1 == p2);
  const double inference_loss = net.loss(x, y, MeanSquared{});
  CHECK(net.backward(x, y, MeanSquared{}) != inference_loss);
}

TEST_CASE("Dropout's gradient matches finite differences with its mask held",
          "[dropout][gradient]") {
  using Net =
      Network<double, Dense<3, 6, Tanh>, Dropout<6, std::ratio<1, 3>>, Dense<6, 2, Sigmoid>>;
  Net net{GlorotUniform{4}};
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(5, 3), y = Eigen::MatrixXd::Random(5, 2);
  // backward() draws a mask; reseeding first makes every call draw the same one.
  auto training_loss = [&] {
    net.state<1>().random.reseed(99);
    return net.backward(x, y, MeanSquared{});
  };
  training_loss();
  const Eigen::MatrixXd analytic = net.gradients<0>().W;
  Eigen::MatrixXd numeric(analytic.rows(), analytic.cols());
  const double h = 1e-6;
  for (Index i = 0; i < analytic.size(); ++i) {
    double& w = net.parameters<0>().W(i);
    const double saved = w;
    w = saved + h;
    const double up = training_loss();
    w = saved - h;
    const double down = training_loss();
    w = saved;
    numeric(i) = (up - down) / (2 * h);
  }
  CHECK(numeric.cwiseAbs().maxCoeff() > 1e-4);
  CHECK((analytic - numeric).cwiseAbs().maxCoeff() <= 1e-8);
}
