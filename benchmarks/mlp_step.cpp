// One training step of the MLPs 784-128-10 and 784-256-128-10 (ReLU, softmax cross-entropy,
// float, SGD) at batch 32 and 256: through the compile-time Network, through the run-time
// Sequential, and as a hand-written Eigen twin, all in one binary.
//
// The twin does the same arithmetic as the library: forward, the loss, the gradients of every
// weight and bias, and the update; like the library (and PyTorch) it skips the gradient of the
// first layer's input. Counters: items/s (samples) and GFLOP/s, counting 2 * B * in * out for
// each matrix product performed (forward: one per layer; backward: dW per layer and dX per layer
// but the first).
//
// Built twice: mlp_step uses Eigen's own products, mlp_step_blas (with -DBACKPROP_USE_BLAS=ON)
// sends them to OpenBLAS, for the library and the twin alike.
#include <benchmark/benchmark.h>

#include <vector>

#include <backprop/backprop.hpp>

#include "ratio_reporter.hpp"

namespace {

using namespace backprop;
using Matrix = Eigen::MatrixXf;

constexpr float learning_rate = 0.01f;

// Random inputs in [0, 1] and one-hot labels, as Fashion-MNIST looks after scaling.
struct Batch {
  Matrix x, y;
  Batch(Index batch, Index inputs, Index classes)
      : x((Matrix::Random(batch, inputs).array() + 1) / 2), y(Matrix::Zero(batch, classes)) {
    for (Index r = 0; r < batch; ++r)
      y(r, (r * 7) % classes) = 1;
  }
};

double flops_per_step(const std::vector<Index>& widths, Index batch) {
  double flops = 0;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    const double product = 2.0 * double(batch) * double(widths[i]) * double(widths[i + 1]);
    flops += product * (i == 0 ? 2 : 3);  // forward, dW, and dX except for the first layer
  }
  return flops;
}

void report(benchmark::State& state, double flops, Index batch) {
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

// Arguments: the batch, and with the BLAS backend the number of threads, which is set here.
Index batch_of(benchmark::State& state) {
#if defined(BACKPROP_OPENBLAS)
  set_threads(static_cast<int>(state.range(1)));
#endif
  return state.range(0);
}

void arguments(benchmark::internal::Benchmark* b) {
  for (const int batch : {32, 256}) {
#if defined(BACKPROP_OPENBLAS)
    for (const int threads : {1, 2})
      b->Args({batch, threads});
#else
    b->Arg(batch);
#endif
  }
}

template <class Net>
void run_library(benchmark::State& state, Net& net, const std::vector<Index>& widths) {
  const Index batch = batch_of(state);
  const Batch data(batch, widths.front(), widths.back());
  SGD<float> sgd(learning_rate);
  net.train_step(data.x, data.y, SoftmaxCrossEntropy{}, sgd);  // sizes the workspace
  for (auto _ : state)
    benchmark::DoNotOptimize(net.train_step(data.x, data.y, SoftmaxCrossEntropy{}, sgd));
  report(state, flops_per_step(widths, batch), batch);
}

void network_784_128_10(benchmark::State& state) {
  Network<float, Dense<784, 128, ReLU>, Dense<128, 10, Softmax>> net{HeNormal{1}};
  run_library(state, net, {784, 128, 10});
}
void network_784_256_128_10(benchmark::State& state) {
  Network<float, Dense<784, 256, ReLU>, Dense<256, 128, ReLU>, Dense<128, 10, Softmax>> net{
      HeNormal{1}};
  run_library(state, net, {784, 256, 128, 10});
}

void sequential(benchmark::State& state, const std::vector<Index>& widths) {
  Sequential<float> net(widths.front());
  for (std::size_t i = 1; i < widths.size(); ++i)
    net.add_dense(widths[i], i + 1 < widths.size() ? "relu" : "softmax");
  net.initialize(HeNormal{1});
  run_library(state, net, widths);
}
void sequential_784_128_10(benchmark::State& state) {
  sequential(state, {784, 128, 10});
}
void sequential_784_256_128_10(benchmark::State& state) {
  sequential(state, {784, 256, 128, 10});
}

// The same step written out by hand: ReLU hidden layers, a softmax output with cross-entropy.
class HandWrittenMlp {
 public:
  HandWrittenMlp(const std::vector<Index>& widths, Index batch) {
    HeNormal init(1);
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
      W.emplace_back(widths[i], widths[i + 1]);
      init.fill(W.back());
      b.push_back(Eigen::RowVectorXf::Zero(widths[i + 1]));
      Z.emplace_back(batch, widths[i + 1]);
      A.emplace_back(batch, widths[i + 1]);
    }
    gW = W;
    gb = b;
    dZ = Z;
  }

  float step(const Matrix& x, const Matrix& y) {
    const std::size_t n = W.size();
    // forward
    for (std::size_t i = 0; i < n; ++i) {
      Z[i].noalias() = (i == 0 ? x : A[i - 1]) * W[i];
      Z[i].rowwise() += b[i];
      if (i + 1 < n) A[i] = Z[i].cwiseMax(0.0f);
    }
    // softmax cross-entropy from the logits, and its gradient (P - Y) / batch
    Matrix& logits = Z[n - 1];
    Matrix& p = A[n - 1];
    const auto batch = static_cast<float>(x.rows());
    float loss = 0;
    for (Index r = 0; r < logits.rows(); ++r) {
      const float m = logits.row(r).maxCoeff();
      p.row(r) = (logits.row(r).array() - m).exp().matrix();
      const float sum = p.row(r).sum();
      loss += m + std::log(sum) - y.row(r).dot(logits.row(r));
      p.row(r) /= sum;
    }
    dZ[n - 1] = (p - y) / batch;
    // backward and update, from the top layer down
    for (std::size_t i = n; i-- > 0;) {
      const Matrix& input = i == 0 ? x : A[i - 1];
      gW[i].noalias() = input.transpose() * dZ[i];
      gb[i] = dZ[i].colwise().sum();
      if (i > 0) {
        dZ[i - 1].noalias() = dZ[i] * W[i].transpose();
        dZ[i - 1].array() *= (A[i - 1].array() > 0.0f).cast<float>();
      }
      W[i] -= learning_rate * gW[i];
      b[i] -= learning_rate * gb[i];
    }
    return loss / batch;
  }

 private:
  std::vector<Matrix> W, gW, Z, A, dZ;
  std::vector<Eigen::RowVectorXf> b, gb;
};

void handwritten(benchmark::State& state, const std::vector<Index>& widths) {
  const Index batch = batch_of(state);
  const Batch data(batch, widths.front(), widths.back());
  HandWrittenMlp net(widths, batch);
  for (auto _ : state)
    benchmark::DoNotOptimize(net.step(data.x, data.y));
  report(state, flops_per_step(widths, batch), batch);
}
void handwritten_784_128_10(benchmark::State& state) {
  handwritten(state, {784, 128, 10});
}
void handwritten_784_256_128_10(benchmark::State& state) {
  handwritten(state, {784, 256, 128, 10});
}

// The largest product of the 784-128-10 step at batch 256, (256 x 784) (784 x 128), alone: the
// rate the product backend reaches, against which the step's FLOP/s compare.
void product_256x784x128(benchmark::State& state) {
  batch_of(state);
  const Matrix a = Matrix::Random(256, 784), b = Matrix::Random(784, 128);
  Matrix c(256, 128);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  report(state, 2.0 * 256 * 784 * 128, 256);
}

// The library's two networks pair with the same twin: "<workload>/library..." and
// "<workload>/handwritten..." (see ratio_reporter.hpp).
#define BACKPROP_MLP_BENCHMARKS(widths)                                                         \
  BENCHMARK(network_##widths)->Name("mlp_" #widths "/library:network")->Apply(arguments);       \
  BENCHMARK(sequential_##widths)->Name("mlp_" #widths "/library:sequential")->Apply(arguments); \
  BENCHMARK(handwritten_##widths)->Name("mlp_" #widths "/handwritten")->Apply(arguments)

BACKPROP_MLP_BENCHMARKS(784_128_10);
BACKPROP_MLP_BENCHMARKS(784_256_128_10);
BENCHMARK(product_256x784x128)
    ->Name("product_256x784x128")
#if defined(BACKPROP_OPENBLAS)
    ->Args({256, 1})
    ->Args({256, 2});
#else
    ->Arg(256);
#endif

}  // namespace

int main(int argc, char** argv) {
  return bench::run_with_ratios(argc, argv);
}
