// FANN (Debian's libfann-dev) on the two peer workloads, timed as every peer (timing.hpp).
//
// FANN has no layers without biases, no ReLU and no softmax, so each workload takes its closest:
//   W1: 2-3-1, sigmoid (steepness 0.5, which is the standard sigmoid), biases kept (initialized
//       to 0, the weights to np.random.seed(1)'s), FANN_TRAIN_BATCH with the linear error
//       function, which gives each weight the tutorial's delta summed over the samples; FANN
//       divides its learning rate by the number of samples in batch mode, so 3 gives the
//       tutorial's learning rate of 1.
//   W2: 784-128-10, FANN_LINEAR_PIECE hidden units (linear, bounded to [0, 1]: the closest to
//       ReLU), sigmoid outputs against the one-hot labels with the linear (squared) error, batch
//       training with learning rate 0.01 times the batch size.
// The loss printed is the tutorial's sum of 0.5 (o - y)^2 for W1 and FANN's MSE for W2.
#include <doublefann.h>

#include <string>
#include <vector>

#include "timing.hpp"

namespace {

fann_train_data* make_data(unsigned rows, unsigned inputs, unsigned outputs) {
  return fann_create_train(rows, inputs, outputs);
}

void tutorial() {
  fann* net = fann_create_standard(3, 2, 3, 1);
  fann_set_activation_function_hidden(net, FANN_SIGMOID);
  fann_set_activation_function_output(net, FANN_SIGMOID);
  fann_set_activation_steepness_hidden(net, 0.5);
  fann_set_activation_steepness_output(net, 0.5);
  fann_set_training_algorithm(net, FANN_TRAIN_BATCH);
  fann_set_train_error_function(net, FANN_ERRORFUNC_LINEAR);
  fann_set_learning_rate(net, 3);
  // Connections: for each neuron of the next layer, one weight from every neuron of the layer
  // before, the bias neuron last. np.random.seed(1): W1 = randn(2, 3), W2 = randn(3, 1).
  const double w1[2][3] = {{1.62434536366, -0.611756413729, -0.528171752263},
                           {-1.07296862216, 0.865407629325, -2.30153869688}};
  const double w2[3] = {1.74481176422, -0.761206900895, 0.319039096057};
  std::vector<fann_connection> connections(fann_get_total_connections(net));
  fann_get_connection_array(net, connections.data());
  for (auto& c : connections) {
    // neurons: 0, 1 inputs, 2 bias; 3, 4, 5 hidden, 6 bias; 7 output
    if (c.to_neuron >= 3 && c.to_neuron <= 5)
      c.weight = c.from_neuron < 2 ? w1[c.from_neuron][c.to_neuron - 3] : 0;
    else
      c.weight = c.from_neuron >= 3 && c.from_neuron <= 5 ? w2[c.from_neuron - 3] : 0;
  }
  fann_set_weight_array(net, connections.data(), static_cast<unsigned>(connections.size()));
  fann_train_data* data = make_data(3, 2, 1);
  const double x[3][2] = {{2.0 / 3, 1}, {1.0 / 3, 5.0 / 9}, {1, 6.0 / 9}};
  const double y[3] = {0.92, 0.86, 0.89};
  for (int s = 0; s < 3; ++s) {
    data->input[s][0] = x[s][0];
    data->input[s][1] = x[s][1];
    data->output[s][0] = y[s];
  }
  auto step = [&] { fann_train_epoch(net, data); };
  for (int i = 0; i < 1000; ++i)
    step();
  double loss = 0;
  for (int s = 0; s < 3; ++s) {
    const double d = fann_run(net, data->input[s])[0] - y[s];
    loss += 0.5 * d * d;
  }
  peers::report("W1", "FANN", peers::median_step_ns(step), loss, 1000);
  fann_destroy_train(data);
  fann_destroy(net);
}

void mlp(unsigned batch) {
  fann* net = fann_create_standard(3, 784, 128, 10);
  fann_set_activation_function_hidden(net, FANN_LINEAR_PIECE);
  fann_set_activation_function_output(net, FANN_SIGMOID);
  fann_set_training_algorithm(net, FANN_TRAIN_BATCH);
  fann_set_train_error_function(net, FANN_ERRORFUNC_LINEAR);
  fann_set_learning_rate(net, 0.01f * static_cast<float>(batch));
  fann_randomize_weights(net, -0.05, 0.05);
  fann_train_data* data = make_data(batch, 784, 10);
  unsigned seed = 1;
  auto next = [&] { return (seed = seed * 1103515245u + 12345u) / 4294967296.0; };
  for (unsigned r = 0; r < batch; ++r) {
    for (unsigned c = 0; c < 784; ++c)
      data->input[r][c] = next();
    for (unsigned c = 0; c < 10; ++c)
      data->output[r][c] = c == (r * 7) % 10 ? 1 : 0;
  }
  auto step = [&] { fann_train_epoch(net, data); };
  for (int i = 0; i < 100; ++i)
    step();
  const double loss = fann_test_data(net, data);
  peers::report("W2/" + std::to_string(batch), "FANN", peers::median_step_ns(step), loss, 100);
  fann_destroy_train(data);
  fann_destroy(net);
}

}  // namespace

int main() {
  tutorial();
  for (const unsigned batch : {256u, 32u})
    mlp(batch);
}
