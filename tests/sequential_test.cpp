// Sequential: built at run time from the same layers as Network, and equal to it number for number.
#include <string>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

// Copies every parameter of `from` into `to`, slot by slot.
template <class From, class To>
void copy_parameters(From& from, To& to) {
  std::vector<Eigen::Matrix<typename From::Scalar, Dynamic, Dynamic>> values;
  from.for_each_parameter([&](std::size_t, const auto& p, const auto&) { values.emplace_back(p); });
  to.for_each_parameter([&](std::size_t slot, auto& p, const auto&) { p = values.at(slot); });
}

template <class A, class B>
void check_same_gradients(A& a, B& b) {
  std::vector<Eigen::Matrix<typename A::Scalar, Dynamic, Dynamic>> ga, gb;
  a.for_each_parameter([&](std::size_t, const auto&, const auto& g) { ga.emplace_back(g); });
  b.for_each_parameter([&](std::size_t, const auto&, const auto& g) { gb.emplace_back(g); });
  REQUIRE(ga.size() == gb.size());
  for (std::size_t i = 0; i < ga.size(); ++i)
    CHECK(ga[i] == gb[i]);
}

}  // namespace

TEMPLATE_TEST_CASE("A Sequential and a Network with the same weights agree exactly", "[sequential]",
                   float, double) {
  using S = TestType;
  using Matrix = Eigen::Matrix<S, Dynamic, Dynamic>;
  Network<S, Dense<6, 8, ReLU>, Dropout<8, std::ratio<1, 4>>, Dense<8, 5, Tanh, Bias::off>,
          Dense<5, 3, Softmax>>
      network{HeNormal{5}};
  Sequential<S> sequential(6);
  sequential.add_dense(8, "relu")
      .add_dropout(0.25, 0)
      .template add_dense<Tanh>(5, Bias::off)
      .add_dense(3, "softmax");
  copy_parameters(network, sequential);

  const Matrix x = Matrix::Random(7, 6);
  Matrix y = Matrix::Zero(7, 3);
  for (Index r = 0; r < 7; ++r)
    y(r, (r * 2) % 3) = 1;

  CHECK(network.predict(x) == sequential.predict(x));
  CHECK(network.loss(x, y, SoftmaxCrossEntropy{}) == sequential.loss(x, y, SoftmaxCrossEntropy{}));
  Adam<S> adam_network, adam_sequential;
  for (int i = 0; i < 3; ++i) {
    const S a = network.train_step(x, y, SoftmaxCrossEntropy{}, adam_network);
    const S b = sequential.train_step(x, y, SoftmaxCrossEntropy{}, adam_sequential);
    CHECK(a == b);
  }
  check_same_gradients(network, sequential);
  CHECK(network.predict(x) == sequential.predict(x));
  CHECK(network.parameter_count() == sequential.parameter_count());
  CHECK(network.parameter_matrices() == sequential.parameter_matrices());
}

TEST_CASE("A Sequential describes its layers", "[sequential]") {
  Sequential<float> net(784);
  net.add_dense(128, "relu").add_dropout(0.2, 1).add_dense(10, "softmax", Bias::off);
  CHECK(net.widths() == std::vector<Index>{784, 128, 128, 10});
  CHECK(net.depth() == 3);
  const LayerInfo first = net.layer(0), second = net.layer(1), third = net.layer(2);
  CHECK(first.kind == "dense");
  CHECK(first.settings == "relu");
  CHECK(first.parameters == 784 * 128 + 128);
  CHECK(second.kind == "dropout");
  CHECK(second.settings == "dropout 0.2");
  CHECK(second.parameters == 0);
  CHECK(third.inputs == 128);
  CHECK(third.outputs == 10);
  CHECK(third.description() == "128->10 softmax without bias");
  CHECK(net.parameter_count() == 784 * 128 + 128 + 128 * 10);
  test::check_throws<ArgumentError>([&] { (void)net.layer(3); }, {"3 is not below the depth, 3"});
}

TEST_CASE("A copy of a Sequential is independent", "[sequential]") {
  Sequential<double> a(3);
  a.add_dense(4, "sigmoid").add_dense(2, "identity");
  a.initialize(GlorotUniform{2});
  Sequential<double> b = a;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(5, 3), y = Eigen::MatrixXd::Random(5, 2);
  SGD sgd(0.5);
  b.train_step(x, y, MeanSquared{}, sgd);
  CHECK(a.predict(x) != b.predict(x));
  Sequential<double> c = a;
  CHECK(a.predict(x) == c.predict(x));
}

TEST_CASE("A Sequential rejects what cannot work, naming it", "[sequential]") {
  Sequential<float> net(4);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Ones(2, 4), y = Eigen::MatrixXf::Ones(2, 3);
  test::check_throws<ArgumentError>([&] { (void)net.predict(x); }, {"no layers"});
  test::check_throws<ArgumentError>([&] { net.add_dense(3, "swish"); },
                                    {"unknown activation \"swish\"", "relu", "softmax"});
  test::check_throws<ArgumentError>([&] { net.add_dense(0, "relu"); }, {"units", "0"});
  test::check_throws<ArgumentError>([&] { net.add_dropout(1.0); }, {"rate", "[0, 1)", "1"});
  net.add_dense(3, "relu");
  SGD sgd(0.1f);
  test::check_throws<ArgumentError>([&] { net.train_step(x, y, SoftmaxCrossEntropy{}, sgd); },
                                    {"softmax_cross_entropy", "softmax output", "relu"});
  test::check_throws<ShapeError>([&] { net.train_step(y, y, MeanSquared{}, sgd); },
                                 {"Sequential::train_step", "2x3", "2x4"});
  net.add_dropout(0.5);
  test::check_throws<ArgumentError>([&] { (void)net.predict(x); },
                                    {"last layer must have an activation", "not be a dropout"});
}
