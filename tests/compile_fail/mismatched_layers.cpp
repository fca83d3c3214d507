// Must not compile: the first layer has 3 outputs, the second takes 4 inputs. The test in
// tests/CMakeLists.txt expects the compiler to name layer 1 and both sizes.
#include <backprop/backprop.hpp>

int main() {
  backprop::Network<double, backprop::Dense<2, 3>, backprop::Dense<4, 1>> net;
  return static_cast<int>(net.parameter_count());
}
