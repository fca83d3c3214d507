// Initializers: numpy's draws for StandardNormal, the right ranges and spreads for the others,
// and the same seed giving the same weights bit for bit.
#include <cmath>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "study_sleep.hpp"

using namespace backprop;

TEST_CASE("StandardNormal draws what np.random.seed(1); np.random.randn draws", "[init]") {
  // numpy 1.24: np.random.seed(1); W1 = np.random.randn(2, 3); W2 = np.random.randn(3, 1),
  // printed with float.hex, so the comparison is exact.
  const study_sleep::Network231 net{StandardNormal{1}};
  Eigen::Matrix<double, 2, 3> W1;
  W1 << 0x1.9fd5190657c50p+0, -0x1.393822fb7d9adp-1, -0x1.0e6c872548fd2p-1,  //
      -0x1.12ae1255cb80cp+0, 0x1.bb16b5735117dp-1, -0x1.2698d1ecca259p+1;
  const Eigen::Vector3d W2(0x1.beabfbd8fc605p+0, -0x1.85bce931aaff6p-1, 0x1.46b22f4ed7b24p-2);
  CHECK(net.parameters<0>().W == W1);
  CHECK(net.parameters<1>().W == W2);
}

TEST_CASE("NumpyRandom's uniform draws are numpy's random_sample", "[init]") {
  // numpy 1.24: np.random.seed(1); np.random.random_sample(3)
  NumpyRandom random(1);
  CHECK(random.uniform() == test::Approx(4.17022005e-01).epsilon(1e-8));
  CHECK(random.uniform() == test::Approx(7.20324493e-01).epsilon(1e-8));
  CHECK(random.uniform() == test::Approx(1.14374817e-04).epsilon(1e-8));
}

TEMPLATE_TEST_CASE("The same seed gives the same weights bit for bit", "[init]", StandardNormal,
                   GlorotUniform, HeNormal) {
  using Net = Network<float, Dense<Dynamic, Dynamic, ReLU>, Dense<Dynamic, 4, Identity>>;
  const Net a({6, 5, 4}, TestType{2024}), b({6, 5, 4}, TestType{2024}),
      c({6, 5, 4}, TestType{2025});
  CHECK(a.parameters<0>().W == b.parameters<0>().W);
  CHECK(a.parameters<1>().W == b.parameters<1>().W);
  CHECK(a.parameters<0>().W != c.parameters<0>().W);
  // Layer by layer from one stream, each W filled row by row; biases start at zero.
  TestType init{2024};
  Eigen::MatrixXf W1(6, 5), W2(5, 4);
  init.fill(W1);
  init.fill(W2);
  CHECK(a.parameters<0>().W == W1);
  CHECK(a.parameters<1>().W == W2);
  CHECK(a.parameters<0>().b.isZero(0));
  CHECK(a.parameters<1>().b.isZero(0));
}

TEST_CASE("GlorotUniform stays inside sqrt(6 / (fan_in + fan_out))", "[init]") {
  Eigen::MatrixXd w(300, 200);
  GlorotUniform{3}.fill(w);
  const double limit = std::sqrt(6.0 / 500.0);
  CHECK(w.cwiseAbs().maxCoeff() <= limit);
  CHECK(w.cwiseAbs().maxCoeff() > 0.99 * limit);  // and fills the range
  CHECK(std::abs(w.mean()) < 0.01 * limit);
  // The variance of U(-l, l) is l^2 / 3 = 2 / (fan_in + fan_out).
  CHECK(w.array().square().mean() == test::Approx(2.0 / 500.0).epsilon(0.02));
}

TEST_CASE("HeNormal has standard deviation sqrt(2 / fan_in)", "[init]") {
  Eigen::MatrixXd w(400, 300);
  HeNormal{4}.fill(w);
  CHECK(std::abs(w.mean()) < 0.01);
  CHECK(std::sqrt(w.array().square().mean()) == test::Approx(std::sqrt(2.0 / 400.0)).epsilon(0.01));
}

TEST_CASE("StandardNormal has mean 0 and variance 1", "[init]") {
  Eigen::MatrixXd w(500, 400);
  StandardNormal{5}.fill(w);
  CHECK(std::abs(w.mean()) < 0.005);
  CHECK(w.array().square().mean() == test::Approx(1.0).epsilon(0.01));
}

TEST_CASE("Without an initializer, layer i starts as HeNormal{i} or GlorotUniform{i} fills it",
          "[init]") {
  // Keras's glorot_uniform, with He's normal for the ReLU family; never all zeros.
  using Net = Network<double, Dense<4, 8, Tanh>, Dropout<8>, Dense<8, 6, LeakyReLU<>>,
                      Dense<6, 3, Softmax>>;
  const Net net;
  Eigen::MatrixXd W0(4, 8), W2(8, 6), W3(6, 3);
  GlorotUniform{0}.fill(W0);
  HeNormal{2}.fill(W2);
  GlorotUniform{3}.fill(W3);
  CHECK(net.parameters<0>().W == W0);
  CHECK(net.parameters<2>().W == W2);
  CHECK(net.parameters<3>().W == W3);
  CHECK(net.parameters<0>().b.isZero(0));
  CHECK(!W0.isZero(0));
  CHECK(!W2.isZero(0));
  CHECK(!W3.isZero(0));
  static_assert(rectified<ReLU> && rectified<LeakyReLU<>> && !rectified<Sigmoid> &&
                !rectified<Softplus>);

  // Sequential starts where Network does, layer by layer, with sizes fixed or not.
  Sequential<double> seq(4);
  seq.add_dense(8, "tanh").add_dropout(0.5).add_dense(6, "leaky_relu").add_dense(3, "softmax");
  const Network<double, Dense<Dynamic, Dynamic, Tanh>, Dropout<>, Dense<Dynamic, 6, LeakyReLU<>>,
                Dense<Dynamic, 3, Softmax>>
      dynamic({4, 8, 8, 6, 3});
  std::vector<Eigen::MatrixXd> from_seq, from_net, from_dynamic;
  seq.for_each_parameter([&](std::size_t, const auto& p, const auto&) { from_seq.push_back(p); });
  net.for_each_parameter([&](std::size_t, const auto& p, const auto&) { from_net.push_back(p); });
  dynamic.for_each_parameter(
      [&](std::size_t, const auto& p, const auto&) { from_dynamic.push_back(p); });
  CHECK(from_seq == from_net);
  CHECK(from_dynamic == from_net);
}

TEST_CASE("A network nobody initialized still learns", "[init]") {
  // XOR with a ReLU hidden layer: from zeros every hidden unit would stay alike and the loss flat.
  Eigen::Matrix<double, 4, 2> x;
  x << 0, 0, 0, 1, 1, 0, 1, 1;
  const Eigen::Vector4d y(0, 1, 1, 0);
  Sequential<double> net(2);
  net.add_dense(8, "relu").add_dense(1, "sigmoid");
  Adam<double> adam({.learning_rate = 0.05});
  const double first = net.loss(x, y, BinaryCrossEntropy{});
  for (int i = 0; i < 500; ++i)
    net.train_step(x, y, BinaryCrossEntropy{}, adam);
  CHECK(net.loss(x, y, BinaryCrossEntropy{}) < 0.1 * first);
  const Eigen::Vector4d p = net.predict(x);
  CHECK((p.array() > 0.5).cast<double>().matrix() == y);
}
