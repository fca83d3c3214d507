// libFuzzer entry point of the gzipped-IDX fuzz target (see fuzz_targets.hpp); built with zlib.
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::idx_gz(data, size);
}
