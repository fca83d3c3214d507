// Bad input, case by case: each gets a backprop:: exception that names what was wrong and
// where, and leaves the network as it was. Plus extreme logits through every activation and loss.
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

using Net = Network<float, Dense<3, 5, Tanh>, Dense<5, 2, Softmax>>;
using Matrix = Eigen::MatrixXf;
constexpr float nan = std::numeric_limits<float>::quiet_NaN();
constexpr float inf = std::numeric_limits<float>::infinity();

// Data that fits Net: three features, one-hot labels of two classes.
struct Data {
  Matrix x = Matrix::Random(12, 3);
  Matrix y = Matrix::Zero(12, 2);
  Data() {
    for (Index r = 0; r < 12; ++r)
      y(r, r % 2) = 1;
  }
};

std::vector<Matrix> weights_of(Net& net) {
  std::vector<Matrix> w;
  net.for_each_parameter([&](std::size_t, const auto& p, const auto&) { w.emplace_back(p); });
  return w;
}

enum class Kind { shape, argument, format, numeric };

struct Case {
  std::string name;
  Kind kind;
  std::vector<std::string> message;
  std::function<void(Net&, Data&)> run;
};

FitOptions<float> quiet(FitOptions<float> o) {
  o.verbosity = Verbosity::silent;
  return o;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all{
      {"NaN in the training data",
       Kind::argument,
       {"X holds nan at row 4, column 2"},
       [](Net& net, Data& d) {
         d.x(4, 2) = nan;
         SGD sgd(0.1f);
         fit(net, d.x, d.y, SoftmaxCrossEntropy{}, sgd, quiet({}));
       }},
      {"Inf in the targets",
       Kind::argument,
       {"Y holds inf at row 1, column 0"},
       [](Net& net, Data& d) {
         d.y(1, 0) = inf;
         SGD sgd(0.1f);
         fit(net, d.x, d.y, SoftmaxCrossEntropy{}, sgd, quiet({}));
       }},
      {"NaN in one training step",
       Kind::numeric,
       {"softmax_cross_entropy is nan", "nothing"},
       [](Net& net, Data& d) {
         d.x(0, 0) = nan;
         SGD sgd(0.1f);
         net.train_step(d.x, d.y, SoftmaxCrossEntropy{}, sgd);
       }},
      {"a binary cross-entropy target of 1.5",
       Kind::argument,
       {"binary_cross_entropy needs targets in [0, 1]", "row 2, column 1 of Y is 1.5"},
       [](Net&, Data& d) {
         Network<float, Dense<3, 2, Sigmoid>> binary;
         d.y(2, 1) = 1.5f;
         SGD sgd(0.1f);
         binary.train_step(d.x, d.y, BinaryCrossEntropy{}, sgd);
       }},
      {"softmax targets that do not sum to 1",
       Kind::argument,
       {"row 3 of Y sums to 2"},
       [](Net& net, Data& d) {
         d.y(3, 0) = d.y(3, 1) = 1;
         SGD sgd(0.1f);
         net.train_step(d.x, d.y, SoftmaxCrossEntropy{}, sgd);
       }},
      {"a negative softmax target",
       Kind::argument,
       {"row 0, column 1 of Y is -1"},
       [](Net& net, Data& d) {
         d.y(0, 0) = 2;
         d.y(0, 1) = -1;
         (void)net.loss(d.x, d.y, SoftmaxCrossEntropy{});
       }},
      {"X with too many columns",
       Kind::shape,
       {"train_step", "X is 12x4", "expected 12x3"},
       [](Net& net, Data& d) {
         SGD sgd(0.1f);
         net.train_step(Matrix::Ones(12, 4), d.y, SoftmaxCrossEntropy{}, sgd);
       }},
      {"Y with fewer rows than X",
       Kind::shape,
       {"X is 12x3 and Y is 6x2"},
       [](Net& net, Data& d) {
         SGD sgd(0.1f);
         fit(net, d.x, d.y.topRows(6), SoftmaxCrossEntropy{}, sgd, quiet({}));
       }},
      {"Y with the wrong number of outputs",
       Kind::shape,
       {"Y is 12x3", "expected 12x2"},
       [](Net& net, Data& d) {
         (void)net.backward(d.x, Matrix::Ones(12, 3) / 3, SoftmaxCrossEntropy{});
       }},
      {"no rows to train on",
       Kind::shape,
       {"X is 0x3"},
       [](Net& net, Data&) {
         SGD sgd(0.1f);
         fit(net, Matrix(0, 3), Matrix(0, 2), SoftmaxCrossEntropy{}, sgd, quiet({}));
       }},
      {"no rows to predict",
       Kind::shape,
       {"predict", "X has no rows"},
       [](Net& net, Data&) { (void)net.predict(Matrix(0, 3)); }},
      {"an empty CSV file",
       Kind::format,
       {"data.csv", "empty"},
       [](Net&, Data&) {
         std::istringstream empty;
         read_csv(empty, "data.csv");
       }},
      {"an empty IDX file",
       Kind::format,
       {"truncated at byte 0"},
       [](Net&, Data&) { parse_idx({}, "empty.idx"); }},
      {"a NaN learning rate",
       Kind::argument,
       {"SGD", "learning_rate", "nan"},
       [](Net&, Data&) { SGD sgd(nan); }},
      {"a negative learning rate",
       Kind::argument,
       {"Adam", "learning_rate", "-0.1"},
       [](Net&, Data&) { Adam<float> adam({.learning_rate = -0.1f}); }},
      {"a schedule that returns NaN",
       Kind::argument,
       {"learning_rate", "nan"},
       [](Net& net, Data& d) {
         SGD sgd(0.1f);
         auto o = quiet({});
         o.schedule = [](int, double) { return std::nan(""); };
         fit(net, d.x, d.y, SoftmaxCrossEntropy{}, sgd, o);
       }},
      {"a batch size of 0",
       Kind::argument,
       {"batch_size must be at least 1, got 0"},
       [](Net& net, Data& d) {
         SGD sgd(0.1f);
         fit(net, d.x, d.y, SoftmaxCrossEntropy{}, sgd, quiet({.batch_size = 0}));
       }},
      {"a dropout rate of 1",
       Kind::argument,
       {"Dropout", "rate must be in [0, 1), got 1"},
       [](Net&, Data&) {
         Sequential<float> s(3);
         s.add_dropout(1.0);
       }},
      {"a loss that overflows during fit",
       Kind::numeric,
       {"epoch 1, batch ", "is inf"},
       [](Net&, Data& d) {
         Network<float, Dense<3, 4, Identity>, Dense<4, 2, Identity>> linear{GlorotUniform{1}};
         SGD sgd(1e15f);
         fit(linear, d.x, d.y * 1e3f, MeanSquared{}, sgd,
             quiet({.batch_size = 2, .shuffle = false}));
       }},
  };
  return all;
}

}  // namespace

TEST_CASE("Every bad input is named, and the network keeps its weights", "[bad input]") {
  for (const Case& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      Net net{GlorotUniform{7}};
      Data data;
      const auto before = weights_of(net);
      std::string what;
      Kind thrown{};
      try {
        c.run(net, data);
      } catch (const ShapeError& e) {
        thrown = Kind::shape, what = e.what();
      } catch (const ArgumentError& e) {
        thrown = Kind::argument, what = e.what();
      } catch (const FormatError& e) {
        thrown = Kind::format, what = e.what();
      } catch (const NumericError& e) {
        thrown = Kind::numeric, what = e.what();
      }
      INFO("message: " << what);
      REQUIRE_FALSE(what.empty());
      CHECK(thrown == c.kind);
      for (const auto& part : c.message)
        CHECK_THAT(what, test::contains(part));
      CHECK(weights_of(net) == before);
    }
  }
}

TEST_CASE("A batch larger than the data trains on all of it as one batch", "[bad input]") {
  Net net{GlorotUniform{7}};
  Data data;
  SGD sgd(0.1f);
  Index batches = 0;
  auto options = quiet({.epochs = 2, .batch_size = 1000});
  options.on_batch_end = [&](const BatchEnd& b) { batches = b.batches; };
  const History h = fit(net, data.x, data.y, SoftmaxCrossEntropy{}, sgd, options);
  CHECK(batches == 1);
  CHECK(h.epochs.size() == 2);
}

TEMPLATE_TEST_CASE("Logits of +-1e4 stay finite through every activation and loss",
                   "[bad input][stability]", float, double) {
  using S = TestType;
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  M z(2, 3);
  z << S(1e4), S(-1e4), S(0), S(-1e4), S(1e4), S(1e4);
  const M ones = M::Ones(2, 3);

  auto through = [&](auto activation) {
    using A = decltype(activation);
    M a(2, 3), g = ones;
    A::forward(z, a);
    A::backward(a, g);
    INFO(A::name);
    CHECK(a.allFinite());
    CHECK(g.allFinite());
    return a;
  };
  through(Sigmoid{});
  through(Tanh{});
  through(ReLU{});
  through(LeakyReLU<>{});
  through(Softplus{});
  through(Identity{});
  const M p = through(Softmax{});

  M one_hot = M::Zero(2, 3);
  one_hot(0, 1) = one_hot(1, 0) = 1;  // wrong by 2e4, and by 2e4 + log 2 (a tie at the top)
  const S cross_entropy = SoftmaxCrossEntropy::value_from_logits(z, one_hot);
  CHECK(cross_entropy == test::Approx(2e4 + std::log(2.0) / 2));
  CHECK(M(SoftmaxCrossEntropy::logit_gradient(p, one_hot)).allFinite());

  M s(2, 3);
  Sigmoid::forward(z, s);
  const M binary = M::Zero(2, 3);
  CHECK(std::isfinite(BinaryCrossEntropy::value_from_logits(z, binary)));
  CHECK(M(BinaryCrossEntropy::logit_gradient(s, binary)).allFinite());
  CHECK(std::isfinite(BinaryCrossEntropy::value(s, binary)));
  CHECK(M(BinaryCrossEntropy::gradient(s, binary)).allFinite());
  CHECK(std::isfinite(MeanSquared::value(z, binary)));
  CHECK(std::isfinite(HalfSumSquared::value(z, binary)));
  CHECK(M(MeanSquared::gradient(z, binary)).allFinite());
}
