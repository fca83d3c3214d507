// predict() on one shared network from several threads gives what sequential calls give. Built
// and run under ThreadSanitizer by .ci/run, which then reports any data race.
#include <algorithm>
#include <thread>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

// Each of `threads` threads predicts every batch `rounds` times; all must equal `expected`.
template <class Net>
bool all_agree(const Net& net, const std::vector<Eigen::MatrixXf>& batches,
               const std::vector<Eigen::MatrixXf>& expected, int threads, int rounds) {
  std::vector<char> ok(static_cast<std::size_t>(threads), 1);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int round = 0; round < rounds; ++round)
        for (std::size_t b = 0; b < batches.size(); ++b)
          if (net.predict(batches[(b + std::size_t(t)) % batches.size()]) !=
              expected[(b + std::size_t(t)) % batches.size()])
            ok[std::size_t(t)] = 0;
    });
  for (auto& thread : pool)
    thread.join();
  return std::all_of(ok.begin(), ok.end(), [](char v) { return v == 1; });
}

std::vector<Eigen::MatrixXf> batches_of(Index inputs) {
  std::vector<Eigen::MatrixXf> batches;
  for (Index rows : {1, 7, 32, 100})
    batches.push_back(Eigen::MatrixXf::Random(rows, inputs));
  return batches;
}

}  // namespace

TEST_CASE("predict on one shared Network from four threads matches sequential calls",
          "[concurrency]") {
  Network<float, Dense<20, 64, ReLU>, Dropout<64>, Dense<64, 5, Softmax>> net{HeNormal{3}};
  const auto batches = batches_of(20);
  std::vector<Eigen::MatrixXf> expected;
  for (const auto& b : batches)
    expected.push_back(net.predict(b));
  CHECK(all_agree(net, batches, expected, 4, 25));
}

TEST_CASE("predict and loss on one shared Sequential from four threads match sequential calls",
          "[concurrency]") {
  Sequential<float> net(20);
  net.add_dense(64, "tanh").add_dropout(0.5, 1).add_dense(3, "sigmoid");
  net.initialize(GlorotUniform{4});
  const auto batches = batches_of(20);
  std::vector<Eigen::MatrixXf> expected;
  for (const auto& b : batches)
    expected.push_back(net.predict(b));
  CHECK(all_agree(net, batches, expected, 4, 25));

  const Eigen::MatrixXf x = batches[2], y = Eigen::MatrixXf::Constant(x.rows(), 3, 0.5f);
  const float loss = net.loss(x, y, MeanSquared{});
  std::vector<float> seen(4);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < 4; ++t)
    pool.emplace_back([&, t] { seen[t] = net.loss(x, y, MeanSquared{}); });
  for (auto& thread : pool)
    thread.join();
  for (float s : seen)
    CHECK(s == loss);
}

TEST_CASE("After set_threads(2), eight threads predict on shared networks while one trains another",
          "[concurrency]") {
  // Large enough that a product would be split among threads: 0.1 changed the process-wide thread
  // count around small products, inside const predict, which raced under ThreadSanitizer.
  set_threads(2);
  Network<float, Dense<Dynamic, Dynamic, ReLU>, Dense<Dynamic, Dynamic, Softmax>> network(
      {256, 128, 10}, HeNormal{5});
  Sequential<float> sequential(256);
  sequential.add_dense(128, "relu").add_dropout(0.2, 3).add_dense(10, "softmax");
  sequential.initialize(HeNormal{6});
  const auto batches = batches_of(256);
  std::vector<Eigen::MatrixXf> from_network, from_sequential;
  for (const auto& b : batches) {
    from_network.push_back(network.predict(b));
    from_sequential.push_back(sequential.predict(b));
  }

  Sequential<float> trained(256);
  trained.add_dense(64, "tanh").add_dense(10, "softmax");
  trained.initialize(GlorotUniform{7});
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(64, 256);
  const Eigen::MatrixXf y = Eigen::MatrixXf::Constant(64, 10, 0.1f);
  Adam<float> adam;
  std::thread trainer([&] {
    for (int i = 0; i < 20; ++i)
      trained.train_step(x, y, SoftmaxCrossEntropy{}, adam);
  });
  bool network_agrees = false;
  std::thread other([&] { network_agrees = all_agree(network, batches, from_network, 4, 5); });
  const bool sequential_agrees = all_agree(sequential, batches, from_sequential, 4, 5);
  other.join();
  trainer.join();
  CHECK(network_agrees);
  CHECK(sequential_agrees);
  CHECK(adam.steps() == 20);
  set_threads(1);
}
