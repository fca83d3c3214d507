// The README's first program (the API tour) written in plain Eigen, without backprop: the baseline
// of its compile time (benchmarks/compare.py). The same math: the tutorial's 2-3-1 sigmoid network
// trained 1000 times by gradient descent on sum 0.5 (o - y)^2, its gradients printed, a prediction,
// and a 784-128-10 ReLU/softmax network of run-time widths from He's initialization.
#include <cmath>
#include <iostream>
#include <random>

#include <Eigen/Core>

namespace {

template <class Z>
auto sigmoid(const Eigen::MatrixBase<Z>& z) {
  return (1 / (1 + (-z.array()).exp())).matrix();
}

}  // namespace

int main() {
  Eigen::Matrix<double, 3, 2> X;
  X << 2, 9, 1, 5, 3, 6;
  const Eigen::RowVector2d max = X.colwise().maxCoeff();
  X = X.array().rowwise() / max.array();
  const Eigen::Vector3d y(0.92, 0.86, 0.89);

  std::mt19937 engine(1);
  std::normal_distribution<double> normal;
  Eigen::Matrix<double, 2, 3> W1;
  Eigen::Matrix<double, 3, 1> W2;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      W1(r, c) = normal(engine);
  for (int r = 0; r < 3; ++r)
    W2(r) = normal(engine);

  Eigen::Matrix<double, 2, 3> dW1;
  Eigen::Matrix<double, 3, 1> dW2;
  double loss = 0;
  auto backward = [&] {
    const Eigen::Matrix<double, 3, 3> a2 = sigmoid(X * W1);
    const Eigen::Matrix<double, 3, 1> o = sigmoid(a2 * W2);
    loss = 0.5 * (o - y).squaredNorm();
    const Eigen::Matrix<double, 3, 1> d3 = ((o - y).array() * o.array() * (1 - o.array())).matrix();
    const Eigen::Matrix<double, 3, 3> d2 =
        ((d3 * W2.transpose()).array() * a2.array() * (1 - a2.array())).matrix();
    dW1 = X.transpose() * d2;
    dW2 = a2.transpose() * d3;
  };
  for (int i = 0; i < 1000; ++i) {
    backward();
    W1 -= dW1;
    W2 -= dW2;
  }
  backward();
  std::cout << "loss " << loss << ", dL/dW1 =\n" << dW1 << "\n";
  const Eigen::RowVector2d query = Eigen::RowVector2d(4, 8).array() / max.array();
  std::cout << "predicted score: " << 100 * sigmoid(sigmoid(query * W1) * W2)(0) << "\n";

  const Eigen::Index widths[] = {784, 128, 10};
  std::normal_distribution<float> he;
  Eigen::MatrixXf M1(widths[0], widths[1]), M2(widths[1], widths[2]);
  Eigen::RowVectorXf b1 = Eigen::RowVectorXf::Zero(widths[1]),
                     b2 = Eigen::RowVectorXf::Zero(widths[2]);
  for (Eigen::MatrixXf* m : {&M1, &M2}) {
    const float scale = std::sqrt(2.0f / static_cast<float>(m->rows()));
    for (Eigen::Index i = 0; i < m->size(); ++i)
      m->data()[i] = scale * he(engine);
  }
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(2, widths[0]);
  Eigen::MatrixXf z = ((x * M1).rowwise() + b1).cwiseMax(0.0f);
  Eigen::MatrixXf logits = (z * M2).rowwise() + b2;
  Eigen::MatrixXf p = (logits.colwise() - logits.rowwise().maxCoeff()).array().exp().matrix();
  p = p.array().colwise() / p.rowwise().sum().array();
  std::cout << M1.size() + b1.size() + M2.size() + b2.size() << " parameters (" << p.sum() << ")\n";
}
