// backprop on the two peer workloads, timed with the peers' own loop (timing.hpp).
//
// W1: the tutorial's 2-3-1 network, double, sigmoid, no bias, batch of 3, sum of 0.5 (o - y)^2,
//     SGD with learning rate 1 (the tutorial's update), weights as np.random.seed(1) draws them.
// W2: the MLP 784-128-10, float, ReLU, softmax cross-entropy, SGD 0.01, on a fixed batch of
//     random pixels in [0, 1] with one-hot labels, at batch 256 and 32.
// With the BLAS backend (backprop::blas) it runs W2 on 1 and 2 threads.
#include <string>

#include <backprop/backprop.hpp>

#include "study_sleep.hpp"
#include "timing.hpp"

namespace {

using namespace backprop;

#if !defined(BACKPROP_OPENBLAS)
void tutorial() {
  const auto x = study_sleep::scaled_hours();
  const auto y = study_sleep::scaled_scores();
  {
    study_sleep::Network231 net{StandardNormal{1}};
    SGD sgd(1.0);
    for (int i = 0; i < 1000; ++i)
      net.train_step(x, y, HalfSumSquared{}, sgd);
    const double loss = net.loss(x, y, HalfSumSquared{});  // after the 1,000th update
    study_sleep::Network231 timed{StandardNormal{1}};
    const double ns = peers::median_step_ns([&] { timed.train_step(x, y, HalfSumSquared{}, sgd); });
    peers::report("W1", "backprop", ns, loss, 1000);
  }
}
#endif

void mlp(Index batch, int threads, const std::string& system) {
  set_threads(threads);
  Eigen::MatrixXf x = (Eigen::MatrixXf::Random(batch, 784).array() + 1) / 2;
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(batch, 10);
  for (Index r = 0; r < batch; ++r)
    y(r, (r * 7) % 10) = 1;
  Network<float, Dense<784, 128, ReLU>, Dense<128, 10, Softmax>> net{HeNormal{1}};
  SGD<float> sgd(0.01f);
  for (int i = 0; i < 100; ++i)
    net.train_step(x, y, SoftmaxCrossEntropy{}, sgd);
  const float loss = net.loss(x, y, SoftmaxCrossEntropy{});
  const double ns =
      peers::median_step_ns([&] { net.train_step(x, y, SoftmaxCrossEntropy{}, sgd); });
  peers::report("W2/" + std::to_string(batch), system, ns, loss, 100);
}

}  // namespace

int main() {
#if defined(BACKPROP_OPENBLAS)
  for (const Index batch : {256, 32}) {
    mlp(batch, 1, "backprop+OpenBLAS/1-thread");
    mlp(batch, 2, "backprop+OpenBLAS/2-threads");
  }
#else
  tutorial();
  for (const Index batch : {256, 32})
    mlp(batch, 1, "backprop/1-thread");
#endif
}
