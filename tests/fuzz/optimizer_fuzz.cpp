// libFuzzer entry point of the optimizer-file fuzz target (see fuzz_targets.hpp).
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::optimizer(data, size);
}
