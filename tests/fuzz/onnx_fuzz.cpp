// libFuzzer entry point of the ONNX fuzz target: a file's bytes loaded as a model (load_onnx),
// then, when they are one, a prediction and the model written back out and read again.
#include <backprop/onnx/onnx.hpp>

#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace backprop;
  const std::vector<std::uint8_t> bytes(data, data + size);
  return fuzz::rejecting_with_backprop_errors([&] {
    const Sequential<float> net = detail::onnx_in::load<float>(bytes, "fuzz.onnx");
    const Eigen::MatrixXf row = Eigen::MatrixXf::Zero(1, net.widths().front());
    (void)net.predict(row);
  });
}
