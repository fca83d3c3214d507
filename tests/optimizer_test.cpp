// Optimizers: each update against its closed form, state kept per slot, and hyper-parameters
// checked with messages that name them.
#include <cmath>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

using M = Eigen::Matrix2d;

M parameter() {
  return (M() << 1.0, -2.0, 0.5, 3.0).finished();
}
M gradient1() {
  return (M() << 0.1, -0.4, 2.0, -0.003).finished();
}
M gradient2() {
  return (M() << -0.3, 0.2, 1.0, 0.5).finished();
}

// One optimizer step on a single parameter matrix, as a network's train_step makes it.
template <class Optimizer>
void take_step(Optimizer& optimizer, M& p, const M& g) {
  optimizer.begin_step();
  optimizer.update(0, p, g);
}

void check_equal(const M& actual, const M& expected) {
  INFO("actual\n" << actual << "\nexpected\n" << expected);
  CHECK((actual - expected).cwiseAbs().maxCoeff() <= 1e-15 * (1 + expected.cwiseAbs().maxCoeff()));
}

}  // namespace

TEST_CASE("SGD: p - lr g, and with L2 weight decay p - lr (g + wd p)", "[optimizer]") {
  M p = parameter();
  SGD sgd(0.1);
  take_step(sgd, p, gradient1());
  check_equal(p, parameter() - 0.1 * gradient1());

  M q = parameter();
  SGD<double> decayed({.learning_rate = 0.1, .weight_decay = 0.01});
  take_step(decayed, q, gradient1());
  check_equal(q, parameter() - 0.1 * (gradient1() + 0.01 * parameter()));
}

TEST_CASE("Momentum: v = mu v + g, classical and Nesterov", "[optimizer]") {
  const double lr = 0.1, mu = 0.9;
  SECTION("classical") {
    M p = parameter();
    Momentum<double> momentum({.learning_rate = lr, .momentum = mu});
    take_step(momentum, p, gradient1());
    take_step(momentum, p, gradient2());
    const M v2 = mu * gradient1() + gradient2();
    check_equal(p, parameter() - lr * gradient1() - lr * v2);
  }
  SECTION("Nesterov") {
    M p = parameter();
    Momentum<double> nesterov({.learning_rate = lr, .momentum = mu, .nesterov = true});
    take_step(nesterov, p, gradient1());
    take_step(nesterov, p, gradient2());
    const M v1 = gradient1(), v2 = mu * v1 + gradient2();
    check_equal(p, parameter() - lr * (gradient1() + mu * v1) - lr * (gradient2() + mu * v2));
  }
}

TEST_CASE("AdaGrad: s = s + g^2, p - lr g / (sqrt(s) + eps)", "[optimizer]") {
  M p = parameter();
  AdaGrad<double> adagrad({.learning_rate = 0.1});
  take_step(adagrad, p, gradient1());
  take_step(adagrad, p, gradient2());
  const M s1 = gradient1().cwiseAbs2(), s2 = s1 + gradient2().cwiseAbs2();
  const double eps = 1e-10;
  M expected = parameter();
  expected.array() -= 0.1 * gradient1().array() / (s1.array().sqrt() + eps);
  expected.array() -= 0.1 * gradient2().array() / (s2.array().sqrt() + eps);
  check_equal(p, expected);
}

TEST_CASE("RMSProp: s = alpha s + (1 - alpha) g^2", "[optimizer]") {
  M p = parameter();
  RMSProp<double> rmsprop({.learning_rate = 0.01, .alpha = 0.9});
  take_step(rmsprop, p, gradient1());
  const M s = 0.1 * gradient1().cwiseAbs2();
  M expected = parameter();
  expected.array() -= 0.01 * gradient1().array() / (s.array().sqrt() + 1e-8);
  check_equal(p, expected);
}

TEST_CASE("Adam: bias-corrected moments", "[optimizer]") {
  const double lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  M p = parameter();
  Adam<double> adam;
  take_step(adam, p, gradient1());
  // Step 1: m / (1 - b1) = g and v / (1 - b2) = g^2, so the step is lr g / (|g| + eps).
  M expected = parameter();
  expected.array() -= lr * gradient1().array() / (gradient1().array().abs() + eps);
  check_equal(p, expected);

  take_step(adam, p, gradient2());
  const M m = b1 * (1 - b1) * gradient1() + (1 - b1) * gradient2();
  const M v = b2 * (1 - b2) * gradient1().cwiseAbs2() + (1 - b2) * gradient2().cwiseAbs2();
  const double c1 = 1 - b1 * b1, c2 = 1 - b2 * b2;
  expected.array() -= lr / c1 * m.array() / (v.array().sqrt() / std::sqrt(c2) + eps);
  check_equal(p, expected);
  CHECK(adam.steps() == 2);
}

TEST_CASE("AdamW decays the weights apart from the gradient", "[optimizer]") {
  const double lr = 0.01, wd = 0.1;
  M p = parameter();
  AdamW<double> adamw({.learning_rate = lr, .weight_decay = wd});
  take_step(adamw, p, gradient1());
  M expected = parameter() * (1 - lr * wd);
  expected.array() -= lr * gradient1().array() / (gradient1().array().abs() + 1e-8);
  check_equal(p, expected);
}

TEST_CASE("An optimizer keeps one state per slot and serves one network", "[optimizer]") {
  Adam<double> adam;
  M a = parameter(), b = parameter();
  adam.begin_step();
  adam.update(0, a, gradient1());
  adam.update(1, b, gradient2());
  REQUIRE(adam.state().size() == 2);
  CHECK(adam.state()[0][0].matrix().isApprox(0.1 * gradient1()));
  CHECK(adam.state()[1][0].matrix().isApprox(0.1 * gradient2()));
  Eigen::Matrix3d other = Eigen::Matrix3d::Ones();
  test::check_throws<ShapeError>([&] { adam.update(1, other, Eigen::Matrix3d::Ones()); },
                                 {"slot 1", "2x2", "3x3"});
}

TEST_CASE("train_step's layer-by-layer updates equal backward followed by a whole step",
          "[optimizer][network]") {
  // Each layer is updated while the layers below still run backward; their gradients must
  // still use the weights from before the update.
  Network<double, Dense<4, 6, Tanh>, Dense<6, 5, ReLU>, Dense<5, 3, Softmax>> a{GlorotUniform{8}};
  auto b = a;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(9, 4);
  Eigen::MatrixXd y = Eigen::MatrixXd::Zero(9, 3);
  for (Index r = 0; r < 9; ++r)
    y(r, r % 3) = 1;
  Adam<double> adam_a({.learning_rate = 0.01}), adam_b({.learning_rate = 0.01});
  for (int i = 0; i < 3; ++i) {
    const double loss_a = a.train_step(x, y, SoftmaxCrossEntropy{}, adam_a);
    const double loss_b = b.backward(x, y, SoftmaxCrossEntropy{});
    step(adam_b, b);
    CHECK(loss_a == loss_b);
  }
  CHECK(a.parameters<0>().W == b.parameters<0>().W);
  CHECK(a.parameters<1>().b == b.parameters<1>().b);
  CHECK(a.parameters<2>().W == b.parameters<2>().W);
}

TEST_CASE("Hyper-parameters out of range throw, naming the parameter", "[optimizer]") {
  test::check_throws<ArgumentError>([] { SGD(std::nan("")); }, {"SGD", "learning_rate", "nan"});
  test::check_throws<ArgumentError>([] { SGD(-0.5); }, {"learning_rate", "-0.5"});
  test::check_throws<ArgumentError>(
      [] { SGD<double>({.learning_rate = 0.1, .weight_decay = -1.0}); }, {"weight_decay", "-1"});
  test::check_throws<ArgumentError>([] { Momentum<float>({.momentum = 1.0f}); }, {"momentum", "1"});
  test::check_throws<ArgumentError>([] { AdaGrad<double>({.epsilon = 0}); }, {"epsilon", "0"});
  test::check_throws<ArgumentError>([] { RMSProp<double>({.alpha = -0.1}); }, {"alpha", "-0.1"});
  test::check_throws<ArgumentError>([] { Adam<double>({.beta1 = 1.5}); }, {"beta1", "1.5"});
  test::check_throws<ArgumentError>([] { Adam<double>({.beta2 = INFINITY}); }, {"beta2", "inf"});
  test::check_throws<ArgumentError>([] { Adam<double>({.learning_rate = -1e-3}); },
                                    {"Adam", "learning_rate"});
  test::check_throws<ArgumentError>([] { AdamW<double>({.weight_decay = -0.01}); },
                                    {"AdamW", "weight_decay", "-0.01"});
}

TEST_CASE("Every optimizer is built from Options, with PyTorch's defaults", "[optimizer]") {
  STATIC_REQUIRE(Optimizer<SGD<float>>);
  STATIC_REQUIRE(Optimizer<Momentum<double>>);
  STATIC_REQUIRE(Optimizer<AdaGrad<float>>);
  STATIC_REQUIRE(Optimizer<RMSProp<double>>);
  STATIC_REQUIRE(Optimizer<Adam<float>>);
  CHECK(SGD<double>().learning_rate() == 0.001);
  CHECK(SGD<double>({.learning_rate = 0.5}).learning_rate() == 0.5);
  CHECK(Momentum<double>().learning_rate() == 0.001);
  CHECK(AdaGrad<double>().learning_rate() == 0.01);
  CHECK(RMSProp<double>().learning_rate() == 0.01);
  CHECK(Adam<double>().learning_rate() == 0.001);
  CHECK(AdamW<double>().learning_rate() == 0.001);
  CHECK(AdamW<double>().options().weight_decay == 0.01);  // torch.optim.AdamW's
}

// Generic code writes O o({}): the default options on every compiler (GCC found it ambiguous
// with the copy constructor for all but SGD, where {} became a learning rate of 0).
template <class O>
void check_constructors() {
  const O defaults({});
  CHECK(defaults.learning_rate() == typename O::Options{}.learning_rate);
  const O positional(0.25);
  CHECK(positional.learning_rate() == typename O::Scalar(0.25));
  const O options({.learning_rate = typename O::Scalar(0.5)});
  CHECK(options.learning_rate() == typename O::Scalar(0.5));
  CHECK(options.options().learning_rate == typename O::Scalar(0.5));
  test::check_throws<ArgumentError>([] { O(-1); }, {std::string(O::label), "learning_rate"});
}

TEST_CASE("Every optimizer is built alike: defaults, a learning rate, or options", "[optimizer]") {
  check_constructors<SGD<double>>();
  check_constructors<Momentum<float>>();
  check_constructors<AdaGrad<double>>();
  check_constructors<RMSProp<double>>();
  check_constructors<Adam<float>>();
  check_constructors<AdamW<double>>();
  SGD deduced(1.0);  // the tutorial's SGD, its scalar deduced
  STATIC_REQUIRE(std::is_same_v<decltype(deduced), SGD<double>>);
  STATIC_REQUIRE(Optimizer<AdamW<float>>);
}

TEST_CASE("Momentum with dampening: v = g on the first step, then mu v + (1 - d) g",
          "[optimizer]") {
  const double lr = 0.1, mu = 0.9, d = 0.3;
  M p = parameter();
  Momentum<double> momentum({.learning_rate = lr, .momentum = mu, .dampening = d});
  take_step(momentum, p, gradient1());
  take_step(momentum, p, gradient2());
  const M v1 = gradient1(), v2 = mu * v1 + (1 - d) * gradient2();
  check_equal(p, parameter() - lr * v1 - lr * v2);
  test::check_throws<ArgumentError>([] { Momentum<double>({.dampening = 0.1, .nesterov = true}); },
                                    {"Nesterov", "dampening"});
}

TEST_CASE("Every optimizer counts its steps", "[optimizer]") {
  M p = parameter();
  SGD<double> sgd(0.1);
  RMSProp<double> rmsprop;
  for (int i = 0; i < 3; ++i) {
    take_step(sgd, p, gradient1());
    take_step(rmsprop, p, gradient1());
  }
  CHECK(sgd.steps() == 3);
  CHECK(rmsprop.steps() == 3);
  test::check_throws<ArgumentError>([&] { sgd.set_steps(-1); }, {"steps", "-1"});
}

TEST_CASE("An optimizer refuses a network of other shapes before it changes anything",
          "[optimizer]") {
  Network<double, Dense<3, 4, Tanh>, Dense<4, 2, Identity>> first{GlorotUniform{1}};
  Network<double, Dense<3, 5, Tanh>, Dense<5, 2, Identity>> second{GlorotUniform{2}};
  Network<double, Dense<3, 4, Tanh>> shorter{GlorotUniform{3}};
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(6, 3), y = Eigen::MatrixXd::Random(6, 2);
  Adam<double> adam;
  first.train_step(x, y, MeanSquared{}, adam);
  adam.check(first);
  const auto state = adam.state();
  const auto weights = second.parameters<1>().W;
  test::check_throws<ShapeError>([&] { second.train_step(x, y, MeanSquared{}, adam); },
                                 {"Adam", "slot 0 holds state of shape 3x4", "the parameter is 3x5",
                                  "an optimizer serves one network"});
  test::check_throws<ShapeError>([&] { adam.check(shorter); },
                                 {"state for 4 parameter matrices but the network has 2"});
  CHECK(second.parameters<1>().W == weights);
  CHECK(adam.steps() == 1);
  REQUIRE(adam.state().size() == state.size());
  for (std::size_t i = 0; i < state.size(); ++i)
    CHECK((adam.state()[i][0] == state[i][0]).all());
}
