// An optimizer of double on a network of float: one static_assert that says so, not pages of
// Eigen. The test passes when the compiler's output names the problem.
#include <backprop/backprop.hpp>

int main() {
  using namespace backprop;
  Network<float, Dense<2, 3, Tanh>, Dense<3, 1, Identity>> net;
  Adam<double> adam;
  const Eigen::MatrixXf x = Eigen::MatrixXf::Ones(4, 2), y = Eigen::MatrixXf::Ones(4, 1);
  net.train_step(x, y, MeanSquared{}, adam);
}
