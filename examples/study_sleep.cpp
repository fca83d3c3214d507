// The tutorial's network: predict a test score from hours studied and hours slept.
//
// A 2-3-1 sigmoid network without biases, standard-normal initial weights, the loss
// sum of 0.5 (o - y)^2 and gradient descent with learning rate 1, trained 1,000 times on three
// students. It prints the tutorial's four blocks at a few checkpoints, then the predicted score of
// a student who studied 4 hours and slept 8.
//
// With --seed S the initial weights are those of np.random.seed(S) in the tutorial's Python code,
// so both programs print the same numbers.
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <set>

#include "cli.hpp"
#include "study_sleep.hpp"

namespace {

// Matrices printed as numpy prints them (Eigen indents every row after the first by the width of
// the matrix prefix, as numpy does).
Eigen::IOFormat numpy_style() {
  return {8, 0, " ", "\n", "[", "]", "[", "]"};
}

// Iterations 0, 1, 10, 100, ... up to the last one, which is always shown.
std::set<std::int64_t> checkpoints(std::int64_t iterations) {
  std::set<std::int64_t> shown{iterations};
  for (std::int64_t i = 1; i <= iterations; i *= 10)
    shown.insert(i);
  shown.insert(0);
  return shown;
}

int train(const cli::Parser& args) {
  using namespace backprop;
  const auto iterations = args.integer("iterations", 0);
  const auto seed = static_cast<std::uint32_t>(args.integer("seed", 0, UINT32_MAX));
  const auto hidden = args.integer("hidden", 1, 1 << 20);
  const double learning_rate = args.number("learning-rate", 0);

  // Inputs divided by the training maxima (MaxScaler), scores by 100, as the tutorial does.
  const MaxScaler scaler = study_sleep::input_scaler();
  const Eigen::Matrix<double, 3, 2> X = scaler.transform(study_sleep::hours());
  const Eigen::Matrix<double, 3, 1> y = study_sleep::scaled_scores();
  study_sleep::NetworkWithHidden net({2, hidden, 1}, StandardNormal{seed});
  SGD sgd(learning_rate);

  std::cout << "2-" << hidden << "-1 sigmoid network, learning rate " << learning_rate << ", "
            << iterations << " iterations, seed " << seed << "\n";
  const auto shown = checkpoints(iterations);
  for (std::int64_t i = 0;; ++i) {
    if (shown.contains(i)) {
      const Eigen::Matrix<double, 3, 1> o = net.predict(X);
      std::cout << "\n# Iteration " << i << "\n"
                << "Input:\n"
                << X.format(numpy_style()) << "\n"
                << "Actual Output:\n"
                << y.format(numpy_style()) << "\n"
                << "Predicted Output:\n"
                << o.format(numpy_style()) << "\n"
                << "Loss:\n"
                << MeanSquared::value(o, y) << "\n";
    }
    if (i == iterations) break;
    net.train_step(X, y, HalfSumSquared{}, sgd);
  }

  // A new student is scaled by the training data's maxima, never by their own.
  const Eigen::RowVector2d query(4, 8);
  const double score = 100 * net.predict(scaler.transform(query))(0);
  std::cout << "\nPredicted score for 4 hours studied and 8 hours slept: " << std::fixed
            << std::setprecision(2) << score << " / 100\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Parser args("study_sleep",
                   "Trains the tutorial's 2-3-1 network on hours studied and slept -> test score,\n"
                   "then predicts the score for 4 hours studied and 8 hours slept.");
  args.option("iterations", "N", "training iterations, each on all three students", "1000")
      .option("seed", "S", "seed of the initial weights (as np.random.seed)", "1")
      .option("hidden", "H", "units in the hidden layer", "3")
      .option("learning-rate", "LR", "step size of gradient descent", "1");
  return cli::run(args, argc, argv, train);
}
