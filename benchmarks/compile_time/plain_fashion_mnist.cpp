// The Fashion-MNIST example written in plain Eigen and zlib, without backprop: the baseline of
// the compile-time comparison (benchmarks/compare.py). It is the same program: the same flags
// (through the examples' cli.hpp), gzip-compressed IDX files, hidden layers chosen at run time,
// ReLU and softmax cross-entropy, Adam with a cosine schedule over shuffled batches, 10% held out,
// one line per epoch, the test accuracy, the confusion matrix, per-class accuracy, the learning
// curves as SVG and CSV (the examples' svg_plot.hpp) and the weights saved on request.
#include <zlib.h>
#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.hpp"
#include "svg_plot.hpp"

namespace {

using Matrix = Eigen::MatrixXf;
using Index = Eigen::Index;

const std::vector<std::string> class_names{"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                           "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                           "Bag",         "Ankle boot"};

std::vector<unsigned char> gunzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error(path + ": cannot open");
  std::vector<unsigned char> out;
  unsigned char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0)
    out.insert(out.end(), buffer, buffer + n);
  gzclose(file);
  return out;
}

int dimension(const std::vector<unsigned char>& b, int i) {
  return (b[4 + 4 * i] << 24) | (b[5 + 4 * i] << 16) | (b[6 + 4 * i] << 8) | b[7 + 4 * i];
}

Matrix read_images(const std::string& path) {
  const auto bytes = gunzip(path);
  const int n = dimension(bytes, 0), size = dimension(bytes, 1) * dimension(bytes, 2);
  Matrix x(n, size);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < size; ++c)
      x(r, c) = bytes[16 + std::size_t(r) * size + c] / 255.0f;
  return x;
}

Matrix read_labels(const std::string& path) {
  const auto bytes = gunzip(path);
  Matrix y = Matrix::Zero(dimension(bytes, 0), 10);
  for (Index r = 0; r < y.rows(); ++r)
    y(r, bytes[8 + r]) = 1;
  return y;
}

struct Layer {
  Matrix W, mW, vW, Z, A, dZ;
  Eigen::RowVectorXf b, mb, vb;
};

struct Mlp {
  std::vector<Layer> layers;

  Mlp(const std::vector<int>& widths, std::mt19937& engine) {
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
      std::normal_distribution<float> normal(0, std::sqrt(2.0f / widths[i]));
      Layer l;
      l.W = Matrix::NullaryExpr(widths[i], widths[i + 1], [&] { return normal(engine); });
      l.b = Eigen::RowVectorXf::Zero(widths[i + 1]);
      l.mW = l.vW = Matrix::Zero(widths[i], widths[i + 1]);
      l.mb = l.vb = Eigen::RowVectorXf::Zero(widths[i + 1]);
      layers.push_back(l);
    }
  }

  // Softmax probabilities for x; the logits stay in the last layer's Z.
  const Matrix& forward(const Matrix& x) {
    for (std::size_t i = 0; i < layers.size(); ++i) {
      Layer& l = layers[i];
      l.Z = (i == 0 ? x : layers[i - 1].A) * l.W;
      l.Z.rowwise() += l.b;
      if (i + 1 < layers.size()) {
        l.A = l.Z.cwiseMax(0.0f);
      } else {
        l.A = (l.Z.colwise() - l.Z.rowwise().maxCoeff()).array().exp();
        l.A.array().colwise() /= l.A.rowwise().sum().array();
      }
    }
    return layers.back().A;
  }

  float loss(const Matrix& y) const {
    const Matrix& z = layers.back().Z;
    const Eigen::VectorXf m = z.rowwise().maxCoeff();
    const Eigen::VectorXf lse = m.array() + (z.colwise() - m).array().exp().rowwise().sum().log();
    return (lse.array() - (z.array() * y.array()).rowwise().sum()).mean();
  }

  float step(const Matrix& x, const Matrix& y, float lr, long t) {
    forward(x);
    const float value = loss(y);
    layers.back().dZ = (layers.back().A - y) / float(x.rows());
    const float c1 = 1 - std::pow(0.9f, float(t)), c2 = std::sqrt(1 - std::pow(0.999f, float(t)));
    for (std::size_t i = layers.size(); i-- > 0;) {
      Layer& l = layers[i];
      const Matrix gW = (i == 0 ? x : layers[i - 1].A).transpose() * l.dZ;
      const Eigen::RowVectorXf gb = l.dZ.colwise().sum();
      if (i > 0)
        layers[i - 1].dZ = (l.dZ * l.W.transpose()).cwiseProduct(layers[i - 1].A.cwiseSign());
      l.mW = 0.9f * l.mW + 0.1f * gW;
      l.vW = 0.999f * l.vW + 0.001f * gW.cwiseAbs2();
      l.W.array() -= lr / c1 * l.mW.array() / (l.vW.array().sqrt() / c2 + 1e-8f);
      l.mb = 0.9f * l.mb + 0.1f * gb;
      l.vb = 0.999f * l.vb + 0.001f * gb.cwiseAbs2();
      l.b.array() -= lr / c1 * l.mb.array() / (l.vb.array().sqrt() / c2 + 1e-8f);
    }
    return value;
  }
};

double accuracy(const Matrix& p, const Matrix& y) {
  Index correct = 0;
  for (Index r = 0; r < p.rows(); ++r) {
    Index a, b;
    p.row(r).maxCoeff(&a);
    y.row(r).maxCoeff(&b);
    correct += a == b;
  }
  return double(correct) / double(p.rows());
}

int run(const cli::Parser& args) {
  const std::string dir = args.text("data") + "/";
  const Matrix x_all = read_images(dir + "train-images-idx3-ubyte.gz");
  const Matrix y_all = read_labels(dir + "train-labels-idx1-ubyte.gz");
  const Matrix x_test = read_images(dir + "t10k-images-idx3-ubyte.gz");
  const Matrix y_test = read_labels(dir + "t10k-labels-idx1-ubyte.gz");

  std::mt19937 engine(static_cast<unsigned>(args.integer("seed", 0)));
  std::vector<Index> order(static_cast<std::size_t>(x_all.rows()));
  std::iota(order.begin(), order.end(), Index{0});
  std::shuffle(order.begin(), order.end(), engine);
  const auto held_out = Index(args.number("validation-split", 0) * double(x_all.rows()));
  Matrix x_val(held_out, 784), y_val(held_out, 10);
  for (Index r = 0; r < held_out; ++r) {
    x_val.row(r) = x_all.row(order[r]);
    y_val.row(r) = y_all.row(order[r]);
  }
  std::vector<Index> rows(order.begin() + held_out, order.end());

  std::vector<int> widths{784};
  for (const auto w : args.integers("layers", 1))
    widths.push_back(int(w));
  widths.push_back(10);
  Mlp net(widths, engine);
  const int epochs = int(args.integer("epochs", 1)), batch = int(args.integer("batch-size", 1));
  const float rate = float(args.number("learning-rate", 0));
  Matrix xb(batch, 784), yb(batch, 10);
  std::vector<double> loss_curve, val_loss_curve, accuracy_curve, val_accuracy_curve;
  std::ofstream csv(args.text("curves") + ".csv");
  csv << "epoch,loss,accuracy,val_loss,val_accuracy\n";
  long t = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    const float lr = rate * 0.5f * (1 + std::cos(3.14159265f * float(epoch) / float(epochs)));
    std::shuffle(rows.begin(), rows.end(), engine);
    double total = 0, correct = 0;
    for (std::size_t first = 0; first < rows.size(); first += std::size_t(batch)) {
      const Index n = std::min<Index>(batch, Index(rows.size() - first));
      for (Index r = 0; r < n; ++r) {
        xb.row(r) = x_all.row(rows[first + std::size_t(r)]);
        yb.row(r) = y_all.row(rows[first + std::size_t(r)]);
      }
      const Matrix xs = xb.topRows(n), ys = yb.topRows(n);
      total += net.step(xs, ys, lr, ++t) * double(n);
      correct += accuracy(net.layers.back().A, ys) * double(n);
    }
    const Matrix p = net.forward(x_val);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    loss_curve.push_back(total / double(rows.size()));
    accuracy_curve.push_back(correct / double(rows.size()));
    val_loss_curve.push_back(net.loss(y_val));
    val_accuracy_curve.push_back(accuracy(p, y_val));
    std::cout << "epoch " << epoch + 1 << "/" << epochs << std::setprecision(4) << "  loss "
              << loss_curve.back() << "  accuracy " << accuracy_curve.back() << "  val_loss "
              << val_loss_curve.back() << "  val_accuracy " << val_accuracy_curve.back() << "  "
              << std::fixed << std::setprecision(1) << seconds << " s\n"
              << std::defaultfloat;
    csv << epoch + 1 << "," << loss_curve.back() << "," << accuracy_curve.back() << ","
        << val_loss_curve.back() << "," << val_accuracy_curve.back() << "\n";
  }
  const Matrix p = net.forward(x_test);
  Eigen::MatrixXi confusion = Eigen::MatrixXi::Zero(10, 10);
  for (Index r = 0; r < p.rows(); ++r) {
    Index a, b;
    p.row(r).maxCoeff(&a);
    y_test.row(r).maxCoeff(&b);
    ++confusion(b, a);
  }
  std::cout << "\ntest accuracy " << std::fixed << std::setprecision(4) << accuracy(p, y_test)
            << "\n\nconfusion matrix (rows: true class, columns: predicted)\n"
            << confusion << "\n\naccuracy per class\n";
  for (int c = 0; c < 10; ++c)
    std::cout << "  " << std::left << std::setw(12) << class_names[c] << std::right
              << double(confusion(c, c)) / confusion.row(c).sum() << "\n";
  std::ofstream(args.text("curves") + ".svg") << svg::plot(
      {{"loss", {{"training", "#1f77b4", loss_curve}, {"validation", "#ff7f0e", val_loss_curve}}},
       {"accuracy",
        {{"training", "#1f77b4", accuracy_curve}, {"validation", "#ff7f0e", val_accuracy_curve}}}});
  if (!args.text("save").empty()) {
    std::ofstream out(args.text("save"), std::ios::binary);
    for (const Layer& l : net.layers) {
      out.write(reinterpret_cast<const char*>(l.W.data()), std::streamsize(l.W.size() * 4));
      out.write(reinterpret_cast<const char*>(l.b.data()), std::streamsize(l.b.size() * 4));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Parser args("plain_fashion_mnist", "The Fashion-MNIST example in plain Eigen.");
  args.option("data", "DIR", "folder of the four .gz files", "/usr/share/datasets/fashion-mnist")
      .option("layers", "W[,W...]", "widths of the hidden ReLU layers", "256,128")
      .option("epochs", "N", "passes over the training images", "15")
      .option("batch-size", "N", "images per step", "128")
      .option("learning-rate", "LR", "Adam's step size", "0.001")
      .option("validation-split", "F", "fraction of training images held out", "0.1")
      .option("seed", "S", "seed of the weights, the split and the batch order", "1")
      .option("curves", "PREFIX", "write PREFIX.svg and PREFIX.csv", "plain_fashion_mnist_curves")
      .option("save", "FILE", "save the trained weights here", "");
  return cli::run(args, argc, argv, run);
}
