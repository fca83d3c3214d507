// The study/sleep example written in plain Eigen, without backprop: the baseline of the
// compile-time comparison (benchmarks/compare.py). It is the same program: the same flags
// (through the examples' cli.hpp), a hidden width chosen at run time, inputs divided by the
// training maxima, the tutorial's training loop, the same checkpoints and the same prediction.
#include <Eigen/Core>

#include <cstdint>
#include <iomanip>
#include <iostream>
#include <random>
#include <set>

#include "cli.hpp"

namespace {

using Matrix = Eigen::MatrixXd;
using Index = Eigen::Index;

Matrix sigmoid(const Matrix& z) {
  return (1.0 / (1.0 + (-z.array()).exp())).matrix();
}

int train(const cli::Parser& args) {
  const auto iterations = args.integer("iterations", 0);
  const auto seed = static_cast<std::uint32_t>(args.integer("seed", 0, UINT32_MAX));
  const auto hidden = args.integer("hidden", 1, 1 << 20);
  const double learning_rate = args.number("learning-rate", 0);

  Eigen::Matrix<double, 3, 2> hours;
  hours << 2, 9, 1, 5, 3, 6;
  const Eigen::RowVector2d max = hours.colwise().maxCoeff();
  const Matrix X = hours.array().rowwise() / max.array();
  const Matrix y = Eigen::Vector3d(92, 86, 89) / 100.0;
  std::mt19937 engine(seed);
  std::normal_distribution<double> normal;
  Matrix W1(2, hidden), W2(hidden, 1);
  for (Index r = 0; r < W1.rows(); ++r)
    for (Index c = 0; c < W1.cols(); ++c)
      W1(r, c) = normal(engine);
  for (Index r = 0; r < W2.rows(); ++r)
    W2(r, 0) = normal(engine);

  std::set<std::int64_t> shown{iterations, 0};
  for (std::int64_t i = 1; i <= iterations; i *= 10)
    shown.insert(i);
  const Eigen::IOFormat numpy_style(8, 0, " ", "\n", "[", "]", "[", "]");
  std::cout << "2-" << hidden << "-1 sigmoid network, learning rate " << learning_rate << ", "
            << iterations << " iterations, seed " << seed << "\n";
  for (std::int64_t i = 0;; ++i) {
    const Matrix z2 = sigmoid(X * W1);
    const Matrix o = sigmoid(z2 * W2);
    if (shown.contains(i))
      std::cout << "\n# Iteration " << i << "\nInput:\n"
                << X.format(numpy_style) << "\nActual Output:\n"
                << y.format(numpy_style) << "\nPredicted Output:\n"
                << o.format(numpy_style) << "\nLoss:\n"
                << (y - o).squaredNorm() / 3 << "\n";
    if (i == iterations) break;
    const Matrix o_delta = (y - o).array() * o.array() * (1 - o.array());
    const Matrix z2_delta = (o_delta * W2.transpose()).array() * z2.array() * (1 - z2.array());
    W1 += learning_rate * X.transpose() * z2_delta;
    W2 += learning_rate * z2.transpose() * o_delta;
  }
  const Eigen::RowVector2d query = Eigen::RowVector2d(4, 8).array() / max.array();
  const double score = 100 * sigmoid(sigmoid(query * W1) * W2)(0);
  std::cout << "\nPredicted score for 4 hours studied and 8 hours slept: " << std::fixed
            << std::setprecision(2) << score << " / 100\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Parser args("plain_study_sleep", "The study/sleep example in plain Eigen.");
  args.option("iterations", "N", "training iterations", "1000")
      .option("seed", "S", "seed of the initial weights", "1")
      .option("hidden", "H", "units in the hidden layer", "3")
      .option("learning-rate", "LR", "step size of gradient descent", "1");
  return cli::run(args, argc, argv, train);
}
