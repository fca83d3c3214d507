// tiny-dnn (Debian's tiny-dnn, 1.0.0a3) on the two peer workloads, timed as every peer
// (timing.hpp).
//
// Built twice: with CNN_USE_DOUBLE for W1 (the tutorial's doubles), without for W2 (floats).
// CNN_SINGLE_THREAD: without it tiny-dnn starts threads in every layer and runs about 200x slower
// on these sizes.
//
// Same arithmetic as backprop: W1 has no biases and starts from the weights np.random.seed(1)
// draws; tiny-dnn's mse is mean (y - t)^2 per sample, whose gradient 2 (y - t) it averages over
// the batch, so gradient descent with alpha = 1.5 takes the tutorial's step (sum over the three
// samples of (o - y) o (1 - o), learning rate 1). W2: fully connected 784-128 ReLU, 128-10 softmax,
// multiclass cross-entropy, plain gradient descent with alpha 0.01, the whole batch per step.
#define CNN_SINGLE_THREAD
#include <tiny_dnn/tiny_dnn.h>

#include <cmath>
#include <random>
#include <string>

#include "timing.hpp"

using namespace tiny_dnn;

#if defined(CNN_USE_DOUBLE)
int main() {
  network<sequential> net;
  net << fully_connected_layer<activation::sigmoid>(2, 3, false)
      << fully_connected_layer<activation::sigmoid>(3, 1, false);
  net.init_weight();
  // np.random.seed(1); randn(2, 3), then randn(3, 1). tiny-dnn keeps the weight from input i to
  // output o at W[i * out + o]: numpy's row-major (in, out) order.
  const double w1[6] = {1.62434536366,  -0.611756413729, -0.528171752263,
                        -1.07296862216, 0.865407629325,  -2.30153869688};
  const double w2[3] = {1.74481176422, -0.761206900895, 0.319039096057};
  vec_t& W1 = *net[0]->weights()[0];
  vec_t& W2 = *net[1]->weights()[0];
  for (int i = 0; i < 2; ++i)
    for (int o = 0; o < 3; ++o)
      W1[i * 3 + o] = w1[i * 3 + o];
  for (int i = 0; i < 3; ++i)
    W2[i] = w2[i];
  const std::vector<vec_t> x{{2.0 / 3, 1}, {1.0 / 3, 5.0 / 9}, {1, 6.0 / 9}};
  const std::vector<vec_t> y{{0.92}, {0.86}, {0.89}};
  gradient_descent opt;
  opt.alpha = 1.5;
  auto step = [&] { net.fit<mse>(opt, x, y, 3, 1, nop, nop, false, 1); };
  for (int i = 0; i < 1000; ++i)
    step();
  double loss = 0;  // sum of 0.5 (o - y)^2, as the tutorial's loss
  for (int s = 0; s < 3; ++s) {
    const double d = net.predict(x[s])[0] - y[s][0];
    loss += 0.5 * d * d;
  }
  // No weights were reset: the timing goes on from the trained weights, as in backprop's run.
  peers::report("W1", "tiny-dnn", peers::median_step_ns(step), loss, 1000);
}
#else
void mlp(int batch) {
  network<sequential> net;
  net << fully_connected_layer<activation::relu>(784, 128)
      << fully_connected_layer<activation::softmax>(128, 10);
  std::mt19937 random(1);
  std::uniform_real_distribution<float> pixel(0, 1);
  std::vector<vec_t> x(batch, vec_t(784));
  std::vector<label_t> labels(batch);
  for (int r = 0; r < batch; ++r) {
    for (auto& v : x[r])
      v = pixel(random);
    labels[r] = static_cast<label_t>((r * 7) % 10);
  }
  gradient_descent opt;
  opt.alpha = 0.01f;
  auto step = [&] {
    net.train<cross_entropy_multiclass>(opt, x, labels, batch, 1, nop, nop, false, 1);
  };
  for (int i = 0; i < 100; ++i)
    step();
  double loss = 0;  // mean cross-entropy of the softmax outputs
  for (int r = 0; r < batch; ++r)
    loss -= std::log(net.predict(x[r])[labels[r]]);
  loss /= batch;
  peers::report("W2/" + std::to_string(batch), "tiny-dnn", peers::median_step_ns(step), loss, 100);
}
int main() {
  mlp(256);
  mlp(32);
}
#endif
