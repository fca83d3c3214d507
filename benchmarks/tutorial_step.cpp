// The tutorial's 2-3-1 training step (batch of 3, sigmoid, no bias, sum of 0.5 (o - y)^2,
// learning rate 1), through the library and as a hand-written fixed-size Eigen twin.
//
// Both do the same arithmetic: forward, the loss value, the deltas, both weight gradients and the
// update. The twin updates in place as the tutorial does (W -= lr * X^T delta); the library goes
// through Network::train_step and SGD.
#include <benchmark/benchmark.h>

#include <backprop/backprop.hpp>

#include "ratio_reporter.hpp"
#include "study_sleep.hpp"

namespace {

using namespace backprop;

template <class S>
using Network231 = Network<S, Dense<2, 3, Sigmoid, Bias::off>, Dense<3, 1, Sigmoid, Bias::off>>;

// Multiply-adds of the five products of a step, two flops each:
// X W1 (3x2 * 2x3), z2 W2 (3x3 * 3x1), z2^T o_delta (3x3 * 3x1), o_delta W2^T (3x1 * 1x3),
// X^T z2_delta (2x3 * 3x3).
constexpr double flops_per_step = 2.0 * (18 + 9 + 9 + 9 + 18);

template <class S>
void report(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * 3);  // samples
  state.counters["FLOP/s"] =
      benchmark::Counter(flops_per_step, benchmark::Counter::kIsIterationInvariantRate);
}

template <class S>
void library(benchmark::State& state) {
  const Eigen::Matrix<S, 3, 2> x = study_sleep::scaled_hours().cast<S>();
  const Eigen::Matrix<S, 3, 1> y = study_sleep::scaled_scores().cast<S>();
  Network231<S> net{StandardNormal{1}};
  SGD<S> sgd(1);
  for (auto _ : state)
    benchmark::DoNotOptimize(net.train_step(x, y, HalfSumSquared{}, sgd));
  report<S>(state);
}

template <class S>
void handwritten(benchmark::State& state) {
  const Eigen::Matrix<S, 3, 2> x = study_sleep::scaled_hours().cast<S>();
  const Eigen::Matrix<S, 3, 1> y = study_sleep::scaled_scores().cast<S>();
  Network231<S> init{StandardNormal{1}};  // the same starting weights
  Eigen::Matrix<S, 2, 3> W1 = init.template parameters<0>().W;
  Eigen::Matrix<S, 3, 1> W2 = init.template parameters<1>().W;
  const S lr = 1;
  auto sigmoid = [](const auto& z) { return (S(1) / (S(1) + (-z.array()).exp())).matrix(); };

  for (auto _ : state) {
    const Eigen::Matrix<S, 3, 3> z2 = sigmoid(x * W1);
    const Eigen::Matrix<S, 3, 1> o = sigmoid(z2 * W2);
    const Eigen::Matrix<S, 3, 1> o_error = o - y;
    const S loss = S(0.5) * o_error.squaredNorm();
    const Eigen::Matrix<S, 3, 1> o_delta = o_error.array() * o.array() * (S(1) - o.array());
    const Eigen::Matrix<S, 3, 3> z2_delta =
        (o_delta * W2.transpose()).array() * z2.array() * (S(1) - z2.array());
    W1.noalias() -= lr * (x.transpose() * z2_delta);
    W2.noalias() -= lr * (z2.transpose() * o_delta);
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  report<S>(state);
}

BENCHMARK_TEMPLATE(library, double)->Name("tutorial_2_3_1<double>/library");
BENCHMARK_TEMPLATE(handwritten, double)->Name("tutorial_2_3_1<double>/handwritten");
BENCHMARK_TEMPLATE(library, float)->Name("tutorial_2_3_1<float>/library");
BENCHMARK_TEMPLATE(handwritten, float)->Name("tutorial_2_3_1<float>/handwritten");

}  // namespace

int main(int argc, char** argv) {
  return bench::run_with_ratios(argc, argv);
}
