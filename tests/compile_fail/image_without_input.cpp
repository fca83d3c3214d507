// Must not compile: a convolution whose input shape nobody gave. The test expects the compiler to
// say to start the Network with Input<channels, height, width>.
#include <backprop/backprop.hpp>

int main() {
  using namespace backprop;
  Network<float, Conv<8, Window{3, 3}>, Dense<Dynamic, 1, Identity>> net;
  return static_cast<int>(net.parameter_count());
}
