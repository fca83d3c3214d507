// Fashion-MNIST: classify 28x28 pictures of clothes into 10 classes with an MLP or a CNN.
//
// Reads the data set as Debian's dataset-fashion-mnist package installs it (--data points
// elsewhere), trains a network (Adam, batch 128, softmax cross-entropy, pixels scaled to [0, 1])
// with 10% of the training images held out for validation, then reports the test accuracy, the
// confusion matrix, the accuracy of each class, and writes the learning curves as SVG and CSV.
//
//   --model mlp   784-256-128-10 with ReLU (--layers sets the hidden widths), 15 epochs
//   --model cnn   conv 32 3x3 (padding 1) ReLU, batch norm, max pool 2x2; conv 64 3x3 (padding 1)
//                 ReLU, batch norm, max pool 2x2; dense 128 ReLU, dropout 0.3; dense 10
//
// benchmarks/peers/fashion_mnist_torch.py runs the same in PyTorch (--model cnn for the CNN).
//
// Built with backprop::mpi, it also runs unchanged under `mpirun -n 2 fashion_mnist`: the ranks
// train one model together (data-parallel, the same global batch), rank 0 alone prints and
// writes files. The CNN's batch norm and dropout do not split across ranks yet.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

// The headers this program uses, rather than <backprop/backprop.hpp>: they compile faster.
#include <backprop/data/idx.hpp>
#include <backprop/data/split.hpp>
#include <backprop/io/model_file.hpp>
#include <backprop/metrics.hpp>
#include <backprop/optimizer.hpp>
#include <backprop/parallel/threads.hpp>
#include <backprop/schedule.hpp>
#include <backprop/sequential.hpp>
#include <backprop/train.hpp>
#ifdef BACKPROP_WITH_MPI
#include <backprop/parallel/mpi.hpp>
#endif
#ifdef BACKPROP_WITH_ONNX
#include <backprop/onnx/onnx.hpp>
#endif

#include "cli.hpp"
#include "svg_plot.hpp"

namespace {

using namespace backprop;
using Matrix = Eigen::MatrixXf;

constexpr std::array<std::string_view, 10> class_names{
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// Exit status when the data set is missing, so that a test can report "skipped" (as automake).
constexpr int missing_data = 77;

struct Images {
  Matrix x, y;  // pixels in [0, 1], one-hot labels
};

Images load(const std::filesystem::path& dir, const std::string& part, Index limit) {
  const auto images = dir / (part + "-images-idx3-ubyte.gz");
  const auto labels = dir / (part + "-labels-idx1-ubyte.gz");
  Images set;
  set.x = read_idx<float>(images) / 255.0f;
  set.y = one_hot(read_idx_labels(labels), 10);
  if (set.x.rows() != set.y.rows())
    throw FormatError(images.string() + " holds " + std::to_string(set.x.rows()) + " images but " +
                      labels.string() + " " + std::to_string(set.y.rows()) + " labels");
  if (limit > 0 && limit < set.x.rows()) {
    set.x.conservativeResize(limit, Eigen::NoChange);
    set.y.conservativeResize(limit, Eigen::NoChange);
  }
  return set;
}

void print_confusion(const Eigen::MatrixXi& counts) {
  std::cout << "\nconfusion matrix (rows: true class, columns: predicted)\n" << std::setw(13) << "";
  for (int c = 0; c < 10; ++c)
    std::cout << std::setw(6) << c;
  std::cout << "\n";
  for (std::size_t t = 0; t < 10; ++t) {
    std::cout << std::setw(2) << t << " " << std::left << std::setw(10) << class_names[t]
              << std::right;
    for (Index p = 0; p < 10; ++p)
      std::cout << std::setw(6) << counts(Index(t), p);
    std::cout << "\n";
  }
  std::cout << "\naccuracy per class\n";
  for (std::size_t t = 0; t < 10; ++t)
    std::cout << "  " << std::left << std::setw(12) << class_names[t] << std::right << std::fixed
              << std::setprecision(3)
              << double(counts(Index(t), Index(t))) / counts.row(Index(t)).sum() << "\n";
}

void write_curves(const History& history, const std::string& prefix) {
  std::ofstream csv(prefix + ".csv");
  history.write_csv(csv);
  std::vector<double> loss, val_loss, accuracy, val_accuracy;
  for (const EpochRecord& e : history.epochs) {
    loss.push_back(e.train.loss);
    accuracy.push_back(*e.train.accuracy);
    if (e.validation) {
      val_loss.push_back(e.validation->loss);
      val_accuracy.push_back(*e.validation->accuracy);
    }
  }
  std::ofstream(prefix + ".svg") << svg::plot(
      {{"loss", {{"training", "#1f77b4", loss}, {"validation", "#ff7f0e", val_loss}}},
       {"accuracy", {{"training", "#1f77b4", accuracy}, {"validation", "#ff7f0e", val_accuracy}}}});
  if (!csv) throw FileError(prefix + ".csv: cannot write");
  std::cout << "learning curves: " << prefix << ".svg and " << prefix << ".csv\n";
}

// The CNN's epochs when --epochs does not say.
constexpr int cnn_epochs = 10;

// 784 - hidden widths (ReLU) - 10 (softmax). Typed layers: adding them by name ("relu") would
// compile every activation it could name.
Sequential<float> mlp(const std::vector<std::int64_t>& hidden) {
  Sequential<float> net(784);
  for (const auto width : hidden)
    net.add_dense<ReLU>(width);
  net.add_dense<Softmax>(10);
  return net;
}

// Two blocks of convolution, batch norm and pooling, then a dense classifier.
Sequential<float> cnn() {
  Sequential<float> net(Shape{1, 28, 28});
  net.add_conv2d<ReLU>(32, {3, 3}, {1, 1}, {1, 1}).add_batch_norm().add_max_pool2d();  // 32x14x14
  net.add_conv2d<ReLU>(64, {3, 3}, {1, 1}, {1, 1}).add_batch_norm().add_max_pool2d();  // 64x7x7
  net.add_dense<ReLU>(128).add_dropout(0.3, 11).add_dense<Softmax>(10);
  return net;
}

// Every flag, checked before the data set is read: a typo costs nothing.
struct Settings {
  std::filesystem::path data;
  std::string model;
  std::vector<std::int64_t> layers;
  int threads = 1;
  Index train_limit = 0, test_limit = 0;
  std::uint32_t seed = 0;
  float learning_rate = 0;
  FitOptions<float> fit;
  std::string curves, save;
};

Settings read_settings(const cli::Parser& args) {
  Settings s;
  s.data = args.text("data");
  s.model = args.text("model");
  if (s.model != "mlp" && s.model != "cnn")
    throw cli::Error("--model expects mlp or cnn, got '" + s.model + "'");
  s.layers = args.integers("layers", 1);
  s.threads = static_cast<int>(args.integer("threads", 1, 1024));
  s.train_limit = args.integer("train-limit", 0);
  s.test_limit = args.integer("test-limit", 0);
  s.seed = static_cast<std::uint32_t>(args.integer("seed", 0, UINT32_MAX));
  s.learning_rate = static_cast<float>(args.number("learning-rate", 0));
  // 0 epochs: the model's own default.
  const auto epochs = static_cast<int>(args.integer("epochs", 0, 100000));
  s.fit = {.epochs = epochs > 0         ? epochs
                     : s.model == "cnn" ? cnn_epochs
                                        : 15,
           .batch_size = args.integer("batch-size", 1),
           .seed = s.seed,
           .validation_split = args.number("validation-split", 0)};
  if (s.fit.validation_split >= 1)
    throw cli::Error("--validation-split expects a fraction below 1, got '" +
                     args.text("validation-split") + "'");
  if (args.text("schedule") == "cosine")
    s.fit.schedule = CosineDecay(s.fit.epochs);
  else if (args.text("schedule") != "none")
    throw cli::Error("--schedule expects cosine or none, got '" + args.text("schedule") + "'");
  s.curves = args.text("curves");
  s.save = args.text("save");
#ifndef BACKPROP_WITH_ONNX
  if (s.save.ends_with(".onnx"))
    throw cli::Error("--save " + s.save +
                     ": this build cannot write ONNX (it needs backprop::onnx: libonnx-dev "
                     "libprotobuf-dev); save as .bpm");
#endif
  return s;
}

// The ranks that train together, if any. fit fails on every rank alike, with one message.
struct Ranks {
  Collective* group = nullptr;
  bool failed_together = false;
};

int train(const cli::Parser& args, Ranks& ranks_) {
  Settings s = read_settings(args);
  Collective* group = ranks_.group;
  s.fit.collective = group;
  const int ranks = group ? group->size() : 1;
  const bool speaks = !group || group->rank() == 0;  // one rank writes files
  const std::filesystem::path& dir = s.data;
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz")) {
    std::cerr << "fashion_mnist: the data set is not in " << dir << ".\n"
              << "Install it with: sudo apt-get install dataset-fashion-mnist\n"
              << "or point --data at a folder with train-images-idx3-ubyte.gz, "
                 "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                 "t10k-labels-idx1-ubyte.gz.\n";
    return missing_data;
  }
  const int threads = s.threads;
  set_threads(threads);

  const auto load_start = std::chrono::steady_clock::now();
  const Images train = load(dir, "train", s.train_limit);
  const Images test = load(dir, "t10k", s.test_limit);
  std::cout << "Fashion-MNIST: " << train.x.rows() << " training and " << test.x.rows()
            << " test images, read in " << std::fixed << std::setprecision(1)
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count()
            << " s\n";

  Sequential<float> net = s.model == "cnn" ? cnn() : mlp(s.layers);
  net.initialize(HeNormal{s.seed});
  std::cout << "network:";
  if (s.model == "cnn")
    for (std::size_t i = 0; i < net.depth(); ++i)
      std::cout << (i ? ", " : " ") << net.layer(i).kind;
  else
    for (const auto w : net.widths())
      std::cout << " " << w;
  std::cout << " (" << net.parameter_count() << " parameters), Adam, batch " << s.fit.batch_size
            << ", products on " << threads << " thread" << (threads > 1 ? "s" : "") << " ("
            << product_backend() << ")";
  if (ranks > 1) std::cout << ", data-parallel on " << ranks << " MPI ranks";
  std::cout << "\n";

  Adam<float> adam({.learning_rate = s.learning_rate});

  const auto start = std::chrono::steady_clock::now();
  History history;
  try {
    history = fit(net, train.x, train.y, SoftmaxCrossEntropy{}, adam, s.fit);
  } catch (...) {
    ranks_.failed_together = group != nullptr;
    throw;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Matrix predicted = net.predict(test.x);
  const double test_accuracy = accuracy(predicted, test.y);
  std::cout << "\ntest accuracy " << std::fixed << std::setprecision(4) << test_accuracy
            << " after " << history.epochs.size() << " epochs, trained in " << std::setprecision(1)
            << seconds << " s" << (ranks > 1 ? " by " + std::to_string(ranks) + " ranks" : "")
            << "\n";
  print_confusion(confusion_matrix(predicted, test.y, 10));
  if (!speaks) return 0;
  write_curves(history, s.curves);
  if (s.save.ends_with(".onnx")) {
#ifdef BACKPROP_WITH_ONNX
    save_onnx(net, s.save);
    std::cout << "saved the model to " << s.save << " (ONNX)\n";
#endif
  } else if (!s.save.empty()) {
    save_model(net, s.save);
    std::cout << "saved the model to " << s.save << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Parser args("fashion_mnist",
                   "Trains an MLP on Fashion-MNIST and reports its test accuracy.\n"
                   "Exits with status 77 when the data set is missing.");
  args.option("data", "DIR", "folder of the four .gz files", "/usr/share/datasets/fashion-mnist")
      .option("model", "KIND", "mlp or cnn", "mlp")
      .option("layers", "W[,W...]", "widths of the hidden ReLU layers of the MLP", "256,128")
      .option("epochs", "N", "passes over the training images (0: 15 for the MLP, 10 for the CNN)",
              "0")
      .option("batch-size", "N", "images per step", "128")
      .option("learning-rate", "LR", "Adam's step size", "0.001")
      .option("schedule", "KIND", "learning-rate schedule: cosine or none", "cosine")
      .option("validation-split", "F", "fraction of training images held out", "0.1")
      .option("seed", "S", "seed of the weights, the split and the batch order", "1")
      .option("threads", "N", "threads for large matrix products", "1")
      .option("train-limit", "N", "use only the first N training images (0: all)", "0")
      .option("test-limit", "N", "use only the first N test images (0: all)", "0")
      .option("curves", "PREFIX", "write PREFIX.svg and PREFIX.csv", "fashion_mnist_curves")
      .option("save", "FILE", "save the trained model here (as ONNX when FILE ends in .onnx)", "");
#ifdef BACKPROP_WITH_MPI
  // Every rank runs this; rank 0 alone prints. An error every rank shares (a bad flag, any error
  // of fit) is printed once and the ranks end together; an error of one rank alone (its data
  // missing, say) is printed by that rank, which then ends the others, since they may be waiting
  // for it in a sum.
  return mpi::run(argc, argv, [&](mpi::Communicator& world) {
    Ranks ranks{world.size() > 1 ? &world : nullptr};
    const bool speaks = world.rank() == 0;
    std::ostringstream held;  // the errors of a quiet rank, until they turn out to be its own
    std::streambuf* const cerr = std::cerr.rdbuf();
    if (!speaks) {
      std::cout.setstate(std::ios::failbit);
      std::cerr.rdbuf(held.rdbuf());
    }
    const int status =
        cli::run(args, argc, argv, [&](const cli::Parser& parsed) { return train(parsed, ranks); });
    std::cerr.rdbuf(cerr);
    const bool shared = status == cli::bad_arguments || ranks.failed_together;
    if (status != 0 && !shared && world.size() > 1) {
      std::cerr << held.str() << std::flush;
      MPI_Abort(world.get(), status);
    }
    return status;
  });
#else
  Ranks alone;
  return cli::run(args, argc, argv,
                  [&](const cli::Parser& parsed) { return train(parsed, alone); });
#endif
}
