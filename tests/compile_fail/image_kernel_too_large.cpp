// Must not compile: a 5x5 kernel does not fit a 4x4 image without padding. The test expects one
// message that says so, naming the layer and the shape.
#include <backprop/backprop.hpp>

int main() {
  using namespace backprop;
  Network<float, Input<1, 4, 4>, Conv<2, Window{5, 5}>, Dense<Dynamic, 1, Identity>> net;
  return static_cast<int>(net.parameter_count());
}
