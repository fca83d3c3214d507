// One training step of the Fashion-MNIST example's CNN (float, Adam, softmax cross-entropy) at
// batch 32 and 128, on 1 and 2 threads: through the run-time Sequential, through the compile-time
// Network, and as a hand-written Eigen twin, all in one binary.
//
//   conv 32 3x3 pad 1, ReLU, batch norm, max pool 2x2     1x28x28 -> 32x14x14
//   conv 64 3x3 pad 1, ReLU, batch norm, max pool 2x2     -> 64x7x7
//   dense 3136 -> 128, ReLU, dropout 0.3; dense 128 -> 10, softmax
//
// The twin does the same arithmetic as the library, written out as a person would with Eigen:
// im2col with the batch as the fastest index, whole-matrix products (Eigen's own threads), loops
// over channels and columns for the rest, shared among OpenMP threads where they are independent.
// Counters: items/s (images) and FLOP/s, counting 2 m k n for every product a step makes (forward;
// dW; dX except for the first layer). product/... is the step's largest product alone (the second
// convolution's, (196 n x 288) (288 x 64)): how close to the machine's limit the step runs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ratio>
#include <vector>

#include <backprop/backprop.hpp>

#include "ratio_reporter.hpp"

namespace {

using namespace backprop;
using Matrix = Eigen::MatrixXf;
using Row = Eigen::RowVectorXf;

// Random pixels in [0, 1] and one-hot labels, as Fashion-MNIST looks after scaling.
struct Batch {
  Matrix x, y;
  explicit Batch(Index n) : x((Matrix::Random(n, 784).array() + 1) / 2), y(Matrix::Zero(n, 10)) {
    for (Index r = 0; r < n; ++r)
      y(r, (r * 7) % 10) = 1;
  }
};

double flops_per_step(Index n) {
  const double b = double(n);
  const double conv1 = 2 * 784 * b * 9 * 32, conv2 = 2 * 196 * b * 288 * 64;
  const double dense3 = 2 * b * 3136 * 128, dense4 = 2 * b * 128 * 10;
  return 2 * conv1 + 3 * (conv2 + dense3 + dense4);  // conv1 has no dX
}

Index set_up(benchmark::State& state) {
  set_threads(static_cast<int>(state.range(1)));
  return state.range(0);
}

void report(benchmark::State& state, double flops, Index n) {
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

void arguments(benchmark::internal::Benchmark* b) {
  for (const int batch : {32, 128})
    for (const int threads : {1, 2})
      b->Args({batch, threads});
  b->ArgNames({"batch", "threads"});
}

template <class Net>
void run_library(benchmark::State& state, Net& net) {
  const Index n = set_up(state);
  const Batch data(n);
  Adam<float> adam;
  net.train_step(data.x, data.y, SoftmaxCrossEntropy{}, adam);  // sizes the workspace
  for (auto _ : state)
    benchmark::DoNotOptimize(net.train_step(data.x, data.y, SoftmaxCrossEntropy{}, adam));
  report(state, flops_per_step(n), n);
}

void sequential(benchmark::State& state) {
  Sequential<float> net(Shape{1, 28, 28});
  net.add_conv2d<ReLU>(32, {3, 3}, {1, 1}, {1, 1}).add_batch_norm().add_max_pool2d();
  net.add_conv2d<ReLU>(64, {3, 3}, {1, 1}, {1, 1}).add_batch_norm().add_max_pool2d();
  net.add_dense<ReLU>(128).add_dropout(0.3, 11).add_dense<Softmax>(10);
  net.initialize(HeNormal{1});
  run_library(state, net);
}

void network(benchmark::State& state) {
  using Cnn = Network<float, Input<1, 28, 28>,                                            //
                      Conv<32, Window{3, 3}, ReLU, Padding{1, 1}>, BatchNorm, MaxPool<>,  //
                      Conv<64, Window{3, 3}, ReLU, Padding{1, 1}>, BatchNorm, MaxPool<>,  //
                      Dense<Dynamic, 128, ReLU>, Dropout<Dynamic, std::ratio<3, 10>>,
                      Dense<128, 10, Softmax>>;
  Cnn net{HeNormal{1}};
  run_library(state, net);
}

// ---- the hand-written twin ----

// f(i) for i in [0, n) on Eigen's threads, where OpenMP is there.
template <class F>
void parallel(Index n, F&& f) {
#if defined(_OPENMP)
#pragma omp parallel for num_threads(Eigen::nbThreads()) schedule(static)
#endif
  for (Index i = 0; i < n; ++i)
    f(i);
}

// A convolution of kh x kw = 3 x 3, stride 1, padding 1, on images of side x side, n at a time.
struct Conv {
  Index cin, cout, side;
  Matrix W, gW, C;  // W: (cin*9, cout); C = im2col: (side*side*n, cin*9)
  Row b, gb;

  Conv(Index in, Index out, Index s, std::uint32_t seed) : cin(in), cout(out), side(s) {
    W.resize(cin * 9, cout);
    HeNormal(seed).fill(W);
    b = Row::Zero(cout);
  }
  // X: (n, cin*side*side)  ->  Z: (n, cout*side*side), before the activation
  void forward(const Matrix& x, Matrix& z) {
    const Index n = x.rows(), area = side * side;
    C.resize(area * n, cin * 9);
    parallel(cin * 9, [&](Index k) {
      const Index c = k / 9, ky = k % 9 / 3, kx = k % 3;
      for (Index oy = 0; oy < side; ++oy)
        for (Index ox = 0; ox < side; ++ox) {
          const Index iy = oy + ky - 1, ix = ox + kx - 1;
          auto to = C.col(k).segment((oy * side + ox) * n, n);
          if (iy < 0 || iy >= side || ix < 0 || ix >= side)
            to.setZero();
          else
            to = x.col((c * side + iy) * side + ix);
        }
    });
    z.resize(n, cout * area);
    Eigen::Map<Matrix> products(z.data(), area * n, cout);
    products.noalias() = C * W;
    products.rowwise() += b;
  }
  // dZ: (n, cout*side*side)  ->  gW, gb, and dX (n, cin*side*side) if wanted
  void backward(const Matrix& dz, Matrix* dx) {
    const Index n = dz.rows(), area = side * side;
    const Eigen::Map<const Matrix> products(dz.data(), area * n, cout);
    gW.noalias() = C.transpose() * products;
    gb = products.colwise().sum();
    if (!dx) return;
    C.noalias() = products * W.transpose();
    dx->resize(n, cin * area);
    parallel(cin, [&](Index c) {
      dx->middleCols(c * area, area).setZero();
      for (Index k = c * 9; k < c * 9 + 9; ++k) {
        const Index ky = k % 9 / 3, kx = k % 3;
        for (Index oy = 0; oy < side; ++oy)
          for (Index ox = 0; ox < side; ++ox) {
            const Index iy = oy + ky - 1, ix = ox + kx - 1;
            if (iy < 0 || iy >= side || ix < 0 || ix >= side) continue;
            dx->col((c * side + iy) * side + ix) += C.col(k).segment((oy * side + ox) * n, n);
          }
      }
    });
  }
};

// Batch normalization of `channels` channels of `area` pixels, PyTorch's momentum and epsilon.
struct Norm {
  Index channels, area;
  Row gamma, beta, g_gamma, g_beta, mean, variance, inverse;
  Matrix normalized;

  Norm(Index c, Index a)
      : channels(c),
        area(a),
        gamma(Row::Ones(c)),
        beta(Row::Zero(c)),
        mean(Row::Zero(c)),
        variance(Row::Ones(c)),
        inverse(c) {}
  void forward(const Matrix& x, Matrix& y) {
    normalized.resize(x.rows(), x.cols());
    y.resize(x.rows(), x.cols());
    const float count = float(x.rows() * area);
    parallel(channels, [&](Index c) {
      const auto block = x.middleCols(c * area, area).array();
      const float mu = block.mean();
      const float var = (block - mu).square().mean();
      inverse(c) = 1 / std::sqrt(var + 1e-5f);
      normalized.middleCols(c * area, area) = ((block - mu) * inverse(c)).matrix();
      y.middleCols(c * area, area) =
          (normalized.middleCols(c * area, area).array() * gamma(c) + beta(c)).matrix();
      mean(c) = 0.9f * mean(c) + 0.1f * mu;
      variance(c) = 0.9f * variance(c) + 0.1f * var * count / (count - 1);
    });
  }
  // dY  ->  dgamma, dbeta, dX (in place of dY)
  void backward(Matrix& dy) {
    g_gamma.resize(channels);
    g_beta.resize(channels);
    const float count = float(dy.rows() * area);
    parallel(channels, [&](Index c) {
      auto d = dy.middleCols(c * area, area).array();
      const auto xhat = normalized.middleCols(c * area, area).array();
      g_gamma(c) = (d * xhat).sum();
      g_beta(c) = d.sum();
      d = (count * d - g_beta(c) - xhat * g_gamma(c)) * (gamma(c) * inverse(c) / count);
    });
  }
};

// Max pooling 2x2, stride 2, of `channels` channels of side x side.
struct Pool {
  Index channels, side;
  Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic> from;

  void forward(const Matrix& x, Matrix& y) {
    const Index n = x.rows(), half = side / 2;
    y.resize(n, channels * half * half);
    from.resize(n, y.cols());
    parallel(channels, [&](Index c) {
      for (Index oy = 0; oy < half; ++oy)
        for (Index ox = 0; ox < half; ++ox) {
          const Index o = (c * half + oy) * half + ox, corner = (c * side + 2 * oy) * side + 2 * ox;
          for (Index s = 0; s < n; ++s) {
            Index best = corner;
            for (const Index j : {corner + 1, corner + side, corner + side + 1})
              if (x(s, j) > x(s, best)) best = j;
            y(s, o) = x(s, best);
            from(s, o) = static_cast<std::int32_t>(best);
          }
        }
    });
  }
  void backward(const Matrix& dy, Matrix& dx) {
    dx.setZero(dy.rows(), channels * side * side);
    parallel(channels, [&](Index c) {
      const Index pixels = side * side / 4;
      for (Index o = c * pixels; o < (c + 1) * pixels; ++o)
        for (Index s = 0; s < dy.rows(); ++s)
          dx(s, from(s, o)) += dy(s, o);
    });
  }
};

// Adam with PyTorch's defaults, for one parameter matrix.
struct Moments {
  Matrix m, v;
  template <class P, class G>
  void update(P& p, const G& g, long t) {
    if (m.size() == 0) {
      m.setZero(g.rows(), g.cols());
      v.setZero(g.rows(), g.cols());
    }
    m = 0.9f * m + 0.1f * g;
    v = 0.999f * v + 0.001f * g.cwiseAbs2();
    const float c1 = 1 - std::pow(0.9f, float(t)), c2 = 1 - std::pow(0.999f, float(t));
    p.array() -= 0.001f * (m.array() / c1) / ((v.array() / c2).sqrt() + 1e-8f);
  }
};

class HandWrittenCnn {
 public:
  HandWrittenCnn() : conv1(1, 32, 28, 0), conv2(32, 64, 14, 1), norm1(32, 784), norm2(64, 196) {
    W3.resize(3136, 128);
    HeNormal(2).fill(W3);
    W4.resize(128, 10);
    GlorotUniform(3).fill(W4);
    b3 = Row::Zero(128);
    b4 = Row::Zero(10);
  }

  float step(const Matrix& x, const Matrix& y) {
    const Index n = x.rows();
    // forward
    conv1.forward(x, A1);
    A1 = A1.cwiseMax(0.0f);
    norm1.forward(A1, N1);
    pool1.forward(N1, P1);
    conv2.forward(P1, A2);
    A2 = A2.cwiseMax(0.0f);
    norm2.forward(A2, N2);
    pool2.forward(N2, P2);
    A3.noalias() = P2 * W3;
    A3.rowwise() += b3;
    A3 = A3.cwiseMax(0.0f);
    mask.resize(n, 128);
    for (float& keep : mask.reshaped())
      keep = (random() >> 32) >= std::uint64_t(0.3 * 4294967296.0) ? 1 / 0.7f : 0.0f;
    D3 = A3.cwiseProduct(mask);
    logits.noalias() = D3 * W4;
    logits.rowwise() += b4;
    // softmax cross-entropy, and its gradient (P - Y) / n
    float loss = 0;
    probabilities.resize(n, 10);
    for (Index r = 0; r < n; ++r) {
      const float m = logits.row(r).maxCoeff();
      probabilities.row(r) = (logits.row(r).array() - m).exp().matrix();
      const float sum = probabilities.row(r).sum();
      loss += m + std::log(sum) - y.row(r).dot(logits.row(r));
      probabilities.row(r) /= sum;
    }
    dlogits = (probabilities - y) / float(n);
    // backward
    gW4.noalias() = D3.transpose() * dlogits;
    gb4 = dlogits.colwise().sum();
    dA3.noalias() = dlogits * W4.transpose();
    dA3 = dA3.cwiseProduct(mask).cwiseProduct((A3.array() > 0.0f).cast<float>().matrix());
    gW3.noalias() = P2.transpose() * dA3;
    gb3 = dA3.colwise().sum();
    dP2.noalias() = dA3 * W3.transpose();
    pool2.backward(dP2, dN2);
    norm2.backward(dN2);
    dN2.array() *= (A2.array() > 0.0f).cast<float>();
    conv2.backward(dN2, &dP1);
    pool1.backward(dP1, dN1);
    norm1.backward(dN1);
    dN1.array() *= (A1.array() > 0.0f).cast<float>();
    conv1.backward(dN1, nullptr);
    // Adam
    ++t;
    moments[0].update(conv1.W, conv1.gW, t);
    moments[1].update(conv1.b, conv1.gb, t);
    moments[2].update(norm1.gamma, norm1.g_gamma, t);
    moments[3].update(norm1.beta, norm1.g_beta, t);
    moments[4].update(conv2.W, conv2.gW, t);
    moments[5].update(conv2.b, conv2.gb, t);
    moments[6].update(norm2.gamma, norm2.g_gamma, t);
    moments[7].update(norm2.beta, norm2.g_beta, t);
    moments[8].update(W3, gW3, t);
    moments[9].update(b3, gb3, t);
    moments[10].update(W4, gW4, t);
    moments[11].update(b4, gb4, t);
    return loss / float(n);
  }

 private:
  // xoshiro256**: the dropout masks' bits.
  std::uint64_t random() {
    const auto rotl = [](std::uint64_t v, int k) { return (v << k) | (v >> (64 - k)); };
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9, t1 = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t1;
    s[3] = rotl(s[3], 45);
    return result;
  }

  Conv conv1, conv2;
  Norm norm1, norm2;
  Pool pool1{32, 28, {}}, pool2{64, 14, {}};
  Matrix W3, gW3, W4, gW4;
  Row b3, gb3, b4, gb4;
  Matrix A1, N1, P1, A2, N2, P2, A3, mask, D3, logits, probabilities, dlogits, dA3, dP2, dN2, dP1,
      dN1;
  Moments moments[12];
  long t = 0;
  std::uint64_t s[4] = {1, 2, 3, 4};
};

void handwritten(benchmark::State& state) {
  const Index n = set_up(state);
  const Batch data(n);
  HandWrittenCnn net;
  net.step(data.x, data.y);
  for (auto _ : state)
    benchmark::DoNotOptimize(net.step(data.x, data.y));
  report(state, flops_per_step(n), n);
}

// The step's largest product alone: the second convolution's (196 n x 288) (288 x 64).
void product(benchmark::State& state) {
  const Index n = set_up(state);
  const Matrix a = Matrix::Random(196 * n, 288), b = Matrix::Random(288, 64);
  Matrix c(196 * n, 64);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  report(state, 2.0 * 196 * double(n) * 288 * 64, n);
}

}  // namespace

BENCHMARK(sequential)->Name("cnn/library:sequential")->Apply(arguments)->UseRealTime();
BENCHMARK(network)->Name("cnn/library:network")->Apply(arguments)->UseRealTime();
BENCHMARK(handwritten)->Name("cnn/handwritten")->Apply(arguments)->UseRealTime();
BENCHMARK(product)->Name("product_196n_x_288_x_64")->Apply(arguments)->UseRealTime();

int main(int argc, char** argv) {
  return bench::run_with_ratios(argc, argv);
}
