// The tutorial's data and network, shared by the example, its tests and its benchmark.
#pragma once

#include <backprop/data/scaler.hpp>
#include <backprop/network.hpp>
#include <backprop/optimizer.hpp>

namespace study_sleep {

using backprop::Bias;
using backprop::Dense;
using backprop::Sigmoid;

// Hours studied, hours slept (the tutorial's comment on X swaps the two; its numbers are these).
inline Eigen::Matrix<double, 3, 2> hours() {
  return (Eigen::Matrix<double, 3, 2>() << 2, 9, 1, 5, 3, 6).finished();
}

// Test scores, out of 100.
inline Eigen::Matrix<double, 3, 1> scores() {
  return (Eigen::Matrix<double, 3, 1>() << 92, 86, 89).finished();
}

// The tutorial's scaling: each input column divided by its maximum over the training data (a new
// query must be divided by these same maxima), and scores divided by 100.
inline backprop::MaxScaler input_scaler() {
  backprop::MaxScaler scaler;
  scaler.fit(hours());
  return scaler;
}
inline Eigen::Matrix<double, 3, 2> scaled_hours() {
  return input_scaler().transform(hours());
}
inline Eigen::Matrix<double, 3, 1> scaled_scores() {
  return scores() / 100.0;
}

// The tutorial's 2-3-1 network: sigmoid everywhere, no biases, all sizes known at compile time.
using Network231 =
    backprop::Network<double, Dense<2, 3, Sigmoid, Bias::off>, Dense<3, 1, Sigmoid, Bias::off>>;

// The same with the hidden width chosen at run time (the example's --hidden).
using NetworkWithHidden = backprop::Network<double, Dense<2, backprop::Dynamic, Sigmoid, Bias::off>,
                                            Dense<backprop::Dynamic, 1, Sigmoid, Bias::off>>;

}  // namespace study_sleep
