// Central differences through any network, against the gradients its last backward() left.
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "catch.hpp"

namespace test {

// Call net.backward(x, y, loss) first. loss_now() is the loss at the current parameters: loss()
// for inference, or backward()'s value for training mode (BatchNorm's batch statistics). Returns
// the worst difference between backward's gradient and the central difference (step 1e-6) as a
// fraction of the largest gradient, and that largest gradient, which must not be zero for the
// check to prove anything.
template <class Net, class LossNow>
std::pair<double, double> finite_difference_error(Net& net, LossNow&& loss_now) {
  std::vector<double> analytic;
  std::vector<double*> parameters;
  net.for_each_parameter([&](std::size_t, auto& p, const auto& g) {
    for (Eigen::Index i = 0; i < p.size(); ++i) {
      analytic.push_back(g.data()[i]);
      parameters.push_back(p.data() + i);
    }
  });
  const double h = 1e-6;
  double largest = 0, worst = 0;
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    double& theta = *parameters[k];
    const double saved = theta;
    theta = saved + h;
    const double up = loss_now();
    theta = saved - h;
    const double down = loss_now();
    theta = saved;
    const double numeric = (up - down) / (2 * h);
    largest = std::max(largest, std::abs(numeric));
    worst = std::max(worst, std::abs(analytic[k] - numeric));
  }
  REQUIRE(!parameters.empty());
  return {worst / largest, largest};
}

}  // namespace test
