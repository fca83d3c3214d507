// Inference of models that PyTorch exported (benchmarks/peers/onnx_inference_torch.py writes
// them, and times PyTorch on them): load_onnx's network, beside the same network built with
// Sequential's own calls and given the same weights, at batch 1 and 256 on one thread.
//
//   python3 benchmarks/peers/onnx_inference_torch.py DIR && ./onnx_inference DIR
//
// Prints RESULT lines as the peers do (peers/timing.hpp); "loss" is the sum of the outputs for
// the input both sides make alike, so the figures can be checked to be of the same computation.
#include <cstdio>
#include <filesystem>
#include <string>

#include <backprop/backprop.hpp>
#include <backprop/onnx/onnx.hpp>

#include "peers/timing.hpp"

namespace {

using namespace backprop;

// Value j of row i: ((i * 784 + j) % 97) / 97, as the Python side makes it.
Eigen::MatrixXf rows(Index batch) {
  Eigen::MatrixXf x(batch, 784);
  for (Index i = 0; i < batch; ++i)
    for (Index j = 0; j < 784; ++j)
      x(i, j) = static_cast<float>((i * 784 + j) % 97) / 97.0f;
  return x;
}

// The networks of fashion_mnist_torch.py, built here.
Sequential<float> built(const std::string& name) {
  if (name == "mlp") {
    Sequential<float> net(784);
    net.add_dense<ReLU>(256).add_dense<ReLU>(128).add_dense<Identity>(10);
    return net;
  }
  Sequential<float> net(Shape{1, 28, 28});
  net.add_conv2d<ReLU>(32, {3, 3}, {1, 1}, {1, 1})
      .add_batch_norm()
      .add_max_pool2d()
      .add_conv2d<ReLU>(64, {3, 3}, {1, 1}, {1, 1})
      .add_batch_norm()
      .add_max_pool2d()
      .add_dense<ReLU>(128)
      .add_dense<Identity>(10);
  return net;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: onnx_inference DIR (with mlp.onnx and cnn.onnx)\n");
    return 2;
  }
  set_threads(1);
  const std::filesystem::path dir = argv[1];
  for (const std::string name : {"mlp", "cnn"}) {
    const Sequential<float> imported = load_onnx<float>(dir / (name + ".onnx"));
    // The same weights through a model file: load_model checks the architectures agree.
    Sequential<float> same = built(name);
    const auto file = dir / (name + ".bpm");
    save_model(imported, file);
    load_model(same, file);
    for (const Index batch : {1, 256}) {
      const Eigen::MatrixXf x = rows(batch);
      const std::pair<const Sequential<float>*, const char*> systems[] = {
          {&imported, "backprop_onnx"}, {&same, "backprop_built"}};
      for (const auto& [net, system] : systems) {
        Eigen::MatrixXf out;
        const double ns = peers::median_step_ns([&] { out = net->predict(x); });
        peers::report("onnx_" + name + "/" + std::to_string(batch), system, ns,
                      out.cast<double>().sum(), 1);
      }
    }
  }
}
