// Must not compile: after a 3x3 convolution of 8 filters and a 2x2 pooling, a 1x28x28 image is
// 8x13x13 = 1352 values, but the dense layer takes 100. The test in tests/CMakeLists.txt expects
// the compiler to name the layer, the shape and the width.
#include <backprop/backprop.hpp>

int main() {
  using namespace backprop;
  Network<float, Input<1, 28, 28>, Conv<8, Window{3, 3}>, MaxPool<>, Dense<100, 10, Softmax>> net;
  return static_cast<int>(net.parameter_count());
}
