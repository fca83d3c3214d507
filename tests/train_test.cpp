// fit(): learning, validation, early stopping, schedules, callbacks, determinism and bad input.
#include <sstream>
#include <string>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

// Two Gaussian blobs of standard deviation 0.5, centred at -+separation, labels one-hot.
// The default separation (8 deviations between the centres) makes them separable.
struct Blobs {
  Eigen::MatrixXf x, y;
  explicit Blobs(Index n, std::uint32_t seed = 1, double separation = 2)
      : x(n, 2), y(Eigen::MatrixXf::Zero(n, 2)) {
    NumpyRandom random(seed);
    for (Index i = 0; i < n; ++i) {
      const Index c = i % 2;
      x(i, 0) = static_cast<float>(random.normal() * 0.5 + (c ? separation : -separation));
      x(i, 1) = static_cast<float>(random.normal() * 0.5);
      y(i, c) = 1;
    }
  }
};

using Classifier = Network<float, Dense<2, 8, Tanh>, Dense<8, 2, Softmax>>;

std::vector<Eigen::MatrixXf> weights_of(Classifier& net) {
  std::vector<Eigen::MatrixXf> w;
  net.for_each_parameter([&](std::size_t, const auto& p, const auto&) { w.emplace_back(p); });
  return w;
}

FitOptions<float> quiet(FitOptions<float> options) {
  options.verbosity = Verbosity::silent;
  return options;
}

}  // namespace

TEST_CASE("fit reaches 100% accuracy on a separable problem", "[fit]") {
  const Blobs data(400);
  SECTION("Network") {
    Classifier net{GlorotUniform{3}};
    Adam<float> adam({.learning_rate = 0.05f});
    const History h =
        fit(net, data.x, data.y, SoftmaxCrossEntropy{}, adam,
            quiet({.epochs = 5, .batch_size = 32, .seed = 4, .validation_split = 0.25}));
    REQUIRE(h.epochs.size() == 5);
    CHECK(*h.epochs.back().train.accuracy == 1.0);
    CHECK(*h.epochs.back().validation->accuracy == 1.0);
    CHECK(h.epochs.back().train.loss < h.epochs.front().train.loss);
    CHECK(accuracy(net.predict(data.x), data.y) == 1.0);
  }
  SECTION("Sequential") {
    Sequential<float> net(2);
    net.add_dense(8, "relu").add_dropout(0.1, 5).add_dense(2, "softmax");
    net.initialize(HeNormal{3});
    Momentum<float> momentum({.learning_rate = 0.05f, .nesterov = true});
    const History h = fit(net, data.x, data.y, SoftmaxCrossEntropy{}, momentum,
                          quiet({.epochs = 8, .batch_size = 16, .seed = 4}));
    CHECK(*h.epochs.back().train.accuracy > 0.95);
    CHECK(accuracy(net.predict(data.x), data.y) == 1.0);
  }
}

TEST_CASE("The same seed gives a bit-identical history", "[fit]") {
  const Blobs data(300);
  auto run = [&](std::uint64_t seed, Classifier& net) {
    net = Classifier{GlorotUniform{3}};
    Adam<float> adam({.learning_rate = 0.01f});
    return fit(net, data.x, data.y, SoftmaxCrossEntropy{}, adam,
               quiet({.epochs = 3, .batch_size = 20, .seed = seed, .validation_split = 0.2}));
  };
  Classifier a, b, c;
  const History ha = run(42, a), hb = run(42, b), hc = run(43, c);
  for (std::size_t e = 0; e < ha.epochs.size(); ++e) {
    CHECK(ha.epochs[e].train.loss == hb.epochs[e].train.loss);
    CHECK(*ha.epochs[e].train.accuracy == *hb.epochs[e].train.accuracy);
    CHECK(ha.epochs[e].validation->loss == hb.epochs[e].validation->loss);
  }
  CHECK(weights_of(a) == weights_of(b));
  CHECK(ha.epochs.back().train.loss != hc.epochs.back().train.loss);
}

TEST_CASE("Early stopping stops and restores the best weights", "[fit]") {
  // Overlapping blobs: no weights classify them all, and overconfident ones pay for it.
  const Blobs train(200, 1, 0.3), held_out(100, 2, 0.3);
  Classifier net{GlorotUniform{3}};
  SGD sgd(0.5f);
  std::vector<std::vector<Eigen::MatrixXf>> weights_after_epoch;
  auto options = quiet({.epochs = 20, .batch_size = 20, .seed = 1});
  options.validation = ValidationData<float>{held_out.x, held_out.y};
  options.early_stopping_patience = 2;
  // Learn for three epochs, then take steps far too large: validation loss must get worse.
  options.schedule = [](int epoch, double initial) { return epoch < 3 ? initial : 400.0; };
  options.on_epoch_end = [&](EpochEnd&) { weights_after_epoch.push_back(weights_of(net)); };
  const History h = fit(net, train.x, train.y, SoftmaxCrossEntropy{}, sgd, options);

  CHECK(h.stopped_early);
  CHECK(h.epochs.size() < 20);
  CHECK(h.best_epoch >= 1);
  CHECK(h.best_epoch <= 3);
  const auto& best = h.epochs[static_cast<std::size_t>(h.best_epoch - 1)];
  for (const auto& e : h.epochs)
    CHECK(e.validation->loss >= best.validation->loss);
  CHECK(weights_of(net) == weights_after_epoch[static_cast<std::size_t>(h.best_epoch - 1)]);
  CHECK(weights_of(net) != weights_after_epoch.back());
}

TEST_CASE("Batches cover every row, the last one partial", "[fit]") {
  const Blobs data(103);
  Classifier net{GlorotUniform{3}};
  SGD sgd(0.1f);
  std::vector<Index> batches_seen;
  auto options = quiet({.epochs = 2, .batch_size = 10});
  options.on_batch_end = [&](const BatchEnd& b) {
    batches_seen.push_back(b.batch);
    CHECK(b.batches == 11);
  };
  fit(net, data.x, data.y, SoftmaxCrossEntropy{}, sgd, options);
  CHECK(batches_seen.size() == 22);
  CHECK(batches_seen.back() == 11);
}

TEST_CASE("Learning-rate schedules", "[fit][schedule]") {
  const StepDecay step(2, 0.5);
  CHECK(step(0, 0.1) == 0.1);
  CHECK(step(1, 0.1) == 0.1);
  CHECK(step(2, 0.1) == test::Approx(0.05));
  CHECK(step(5, 0.1) == test::Approx(0.025));
  const CosineDecay cosine(4, 0.01);
  CHECK(cosine(0, 0.1) == test::Approx(0.1));
  CHECK(cosine(2, 0.1) == test::Approx(0.055));
  CHECK(cosine(4, 0.1) == test::Approx(0.01));
  CHECK(cosine(9, 0.1) == test::Approx(0.01));

  const Blobs data(50);
  Classifier net{GlorotUniform{3}};
  SGD sgd(0.2f);
  const History h = fit(net, data.x, data.y, SoftmaxCrossEntropy{}, sgd,
                        quiet({.epochs = 3, .batch_size = 10, .schedule = StepDecay(1, 0.5)}));
  CHECK(h.epochs[0].learning_rate == test::Approx(0.2));
  CHECK(h.epochs[2].learning_rate == test::Approx(0.05));
}

TEST_CASE("Regression reports MSE and MAE; the history writes CSV", "[fit]") {
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(64, 3);
  Eigen::MatrixXd y = x * Eigen::Vector3d(0.5, -1, 2);
  Network<double, Dense<3, 1, Identity>> net;
  SGD sgd(0.1);
  std::ostringstream lines;
  FitOptions<double> options{.epochs = 30, .batch_size = 8, .validation_split = 0.25};
  options.verbosity = Verbosity::lines;
  options.out = &lines;
  const History h = fit(net, x, y, MeanSquared{}, sgd, options);
  const auto& last = h.epochs.back();
  REQUIRE(last.validation->mse);
  CHECK(*last.validation->mse == test::Approx(last.validation->loss));
  CHECK(*last.validation->mae < 0.05);
  CHECK_FALSE(last.train.accuracy);
  // Plain lines, one per epoch, when the output is not a terminal.
  const std::string printed = lines.str();
  CHECK_THAT(printed, test::contains("epoch 30/30  loss "));
  CHECK(std::count(printed.begin(), printed.end(), '\n') == 30);
  std::ostringstream csv;
  h.write_csv(csv);
  CHECK_THAT(
      csv.str(),
      test::contains("epoch,learning_rate,seconds,loss,mse,mae,val_loss,val_mse,val_mae\n1,"));
}

TEST_CASE("fit rejects bad options, naming them", "[fit]") {
  const Blobs data(20);
  Classifier net;
  SGD sgd(0.1f);
  auto attempt = [&](FitOptions<float> o) {
    o.verbosity = Verbosity::silent;
    fit(net, data.x, data.y, SoftmaxCrossEntropy{}, sgd, o);
  };
  test::check_throws<ArgumentError>([&] { attempt({.batch_size = 0}); }, {"batch_size", "0"});
  test::check_throws<ArgumentError>([&] { attempt({.epochs = 0}); }, {"epochs", "0"});
  test::check_throws<ArgumentError>([&] { attempt({.validation_split = 1.0}); },
                                    {"validation_split"});
  test::check_throws<ArgumentError>([&] { attempt({.early_stopping_patience = 3}); },
                                    {"early stopping", "validation"});
  test::check_throws<ArgumentError>(
      [&] { attempt({.schedule = [](int, double) { return -1.0; }}); }, {"learning_rate", "-1"});
  test::check_throws<ShapeError>(
      [&] { fit(net, data.x, data.y.topRows(10), SoftmaxCrossEntropy{}, sgd); }, {"20x2", "10x2"});
}

TEST_CASE("A loss that turns non-finite stops fit, naming the epoch and batch", "[fit]") {
  // A learning rate far too large: the first steps blow the weights up until the loss overflows.
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(60, 3);
  const Eigen::MatrixXf y = x * Eigen::Vector3f(1, -2, 3);
  Network<float, Dense<3, 4, Identity>, Dense<4, 1, Identity>> net{GlorotUniform{3}};
  SGD sgd(1e15f);
  std::vector<Eigen::MatrixXf> before_bad_batch;
  auto weights = [&] {
    std::vector<Eigen::MatrixXf> w;
    net.for_each_parameter([&](std::size_t, const auto& p, const auto&) { w.emplace_back(p); });
    return w;
  };
  FitOptions<float> options{.epochs = 2, .batch_size = 10, .shuffle = false};
  options.verbosity = Verbosity::silent;
  options.on_batch_end = [&](const BatchEnd&) { before_bad_batch = weights(); };
  test::check_throws<NumericError>(
      [&] { fit(net, x, y, MeanSquared{}, sgd, options); },
      {"backprop::fit: epoch 1, batch ", " of 6", "the loss mean_squared is inf"});
  CHECK(weights() == before_bad_batch);
}

TEST_CASE("fit rejects NaN and Inf in its data, naming where", "[fit]") {
  Blobs data(30);
  data.x(7, 1) = std::numeric_limits<float>::quiet_NaN();
  Classifier net;
  SGD sgd(0.1f);
  test::check_throws<ArgumentError>([&] { fit(net, data.x, data.y, SoftmaxCrossEntropy{}, sgd); },
                                    {"X holds nan at row 7, column 1"});
  data.x(7, 1) = 0;
  data.y(3, 0) = std::numeric_limits<float>::infinity();
  test::check_throws<ArgumentError>([&] { fit(net, data.x, data.y, SoftmaxCrossEntropy{}, sgd); },
                                    {"Y holds inf at row 3, column 0"});
}
