// Trains a regression network on any CSV file and saves it, with what predict needs to use it.
//
//   csv_regression --data houses.csv --target price --hidden 32,16 --epochs 200 --save houses.bpm
//
// With no flags it trains on the tutorial's data (examples/data/study_sleep.csv): two inputs,
// hidden layers of the given widths, inputs and targets scaled as --scaler says (the tutorial
// divides by the maximum), the loss MeanSquared. The scalings are layers of the network (Rescale),
// so the saved model takes raw rows and answers in the target's units. It prints the progress and
// the error in those units, and saves the model with the column names.
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <backprop/backprop.hpp>

#include "cli.hpp"

#ifndef BACKPROP_EXAMPLES_DATA_DIR
#define BACKPROP_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace {

using namespace backprop;
using Matrix = Eigen::MatrixXd;

// Every flag, checked before any data is read: a typo costs nothing.
struct Settings {
  CsvOptions csv;
  std::string data, scaler, activation, output, optimizer, save;
  std::vector<std::int64_t> hidden;
  Bias bias = Bias::off;
  double learning_rate = 0;
  FitOptions<double> fit;
  std::uint32_t seed = 0;
};

Settings read_settings(const cli::Parser& args) {
  Settings s;
  s.data = args.text("data");
  s.csv.delimiter = args.character("delimiter");
  const std::string& target = args.text("target");
  s.csv.targets = {cli::is_index(target) ? Column(static_cast<Index>(std::stoll(target)))
                                         : Column(target)};
  s.scaler = args.text("scaler");
  make_scaler(s.scaler);  // throws for an unknown kind, naming the known ones
  s.hidden = args.integers("hidden", 1);
  const ActivationNames activations = ActivationNames::of(BuiltinActivations{});
  for (const char* flag : {"activation", "output"})
    if (!activations.find(args.text(flag)))
      throw cli::Error("--" + std::string(flag) + ": " + activations.unknown(args.text(flag)));
  s.activation = args.text("activation");
  s.output = args.text("output");
  if (args.text("bias") != "on" && args.text("bias") != "off")
    throw cli::Error("--bias expects on or off, got '" + args.text("bias") + "'");
  s.bias = args.text("bias") == "on" ? Bias::on : Bias::off;
  s.optimizer = args.text("optimizer");
  if (s.optimizer != "sgd" && s.optimizer != "momentum" && s.optimizer != "adam")
    throw cli::Error("--optimizer expects sgd, momentum or adam, got '" + s.optimizer + "'");
  s.learning_rate = args.number("learning-rate", 0);
  s.seed = static_cast<std::uint32_t>(args.integer("seed", 0, UINT32_MAX));
  s.fit = {.epochs = static_cast<int>(args.integer("epochs", 1, 100000000)),
           .batch_size = args.integer("batch-size", 1),
           .seed = s.seed,
           .validation_split = args.number("validation-split", 0)};
  if (s.fit.validation_split >= 1)
    throw cli::Error("--validation-split expects a fraction below 1, got '" +
                     args.text("validation-split") + "'");
  s.save = args.text("save");
  return s;
}

// Trains `net` with the optimizer the settings name.
template <class Train>
void with_optimizer(const Settings& s, Train&& train) {
  if (s.optimizer == "sgd") {
    SGD<double> sgd(s.learning_rate);
    train(sgd);
  } else if (s.optimizer == "momentum") {
    Momentum<double> momentum({.learning_rate = s.learning_rate, .momentum = 0.9});
    train(momentum);
  } else {
    Adam<double> adam({.learning_rate = s.learning_rate});
    train(adam);
  }
}

// "0.85" -> 0.85 with the right number of digits for a table.
std::string fixed(double v, int digits = 4) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

int run(const cli::Parser& args) {
  Settings s = read_settings(args);

  // The data, with the target by name or, if it is a number, by index (-1: the last column).
  const auto data = read_csv<double>(s.data, s.csv);
  std::cout << "data: " << data.features.rows() << " rows from " << s.data << "; predicting \""
            << data.target_names.front() << "\" from " << data.features.cols() << " columns\n";

  // Scalers fitted on the training data. The network carries the input scaling as its first
  // layer, so it takes raw rows; it trains on scaled targets, and carries their inverse scaling
  // as its last layer once trained, so that it answers in the target's units.
  auto x_scaler = make_scaler(s.scaler);
  auto y_scaler = make_scaler(s.scaler);
  x_scaler->fit(data.features);
  y_scaler->fit(data.targets);
  const Matrix y = y_scaler->transform(data.targets);

  Sequential<double> net(data.features.cols());
  net.add_rescale(Rescaling::transform(*x_scaler));
  for (const auto width : s.hidden)
    net.add_dense(width, s.activation, s.bias);
  net.add_dense(1, s.output, s.bias);
  // The initializer that fits the hidden activation: He's for the ReLU family, else Glorot's.
  if (s.activation == "relu" || s.activation.starts_with("leaky_relu"))
    net.initialize(HeNormal{s.seed});
  else
    net.initialize(GlorotUniform{s.seed});
  std::cout << "network:";
  for (const auto w : net.widths())
    std::cout << " " << w;
  std::cout << " (" << net.parameter_count() << " parameters)\n";

  // A line every tenth of the run, not one per epoch.
  const int every = std::max(1, s.fit.epochs / 10);
  s.fit.verbosity = Verbosity::silent;
  s.fit.on_epoch_end = [&](EpochEnd& end) {
    const EpochRecord& e = end.record;
    if (e.epoch % every != 0 && e.epoch != 1) return;
    std::cout << "epoch " << std::setw(6) << e.epoch << "  loss " << fixed(e.train.loss, 6)
              << (e.validation ? "  val_loss " + fixed(e.validation->loss, 6) : "") << "\n";
  };
  with_optimizer(
      s, [&](auto& optimizer) { fit(net, data.features, y, MeanSquared{}, optimizer, s.fit); });
  net.add_rescale(Rescaling::inverse_transform(*y_scaler));

  // The error in the target's own units: the network answers in them now.
  const Matrix predicted = net.predict(data.features);
  const Matrix error = predicted - data.targets;
  std::cout << "\nmean absolute error: " << fixed(error.cwiseAbs().mean()) << "  root mean squared "
            << "error: " << fixed(std::sqrt(error.squaredNorm() / double(error.size())))
            << " (in the units of \"" << data.target_names.front() << "\", all rows)\n";
  const Index shown = std::min<Index>(data.features.rows(), 5);
  std::cout << "first " << shown << " rows: actual -> predicted\n";
  for (Index r = 0; r < shown; ++r)
    std::cout << "  " << fixed(data.targets(r, 0), 2) << " -> " << fixed(predicted(r, 0), 2)
              << "\n";

  if (!s.save.empty()) {
    // The scalings are layers of the network; the file adds the names of the columns.
    ModelExtras extras;
    extras.texts["features"] = join_names(data.feature_names);
    extras.texts["target"] = data.target_names.front();
    save_model(net, s.save, extras);
    std::cout << "saved the model to " << s.save << " (use: predict --model " << s.save
              << " --data FILE)\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Parser args("csv_regression",
                   "Trains a regression network on the rows of a CSV file and saves it.");
  args.option("data", "FILE", "CSV file with a header row",
              BACKPROP_EXAMPLES_DATA_DIR "/study_sleep.csv")
      .option("target", "COLUMN", "the column to predict, by name or index (-1: the last)", "-1")
      .option("delimiter", "C", "field separator", ",")
      .option("hidden", "W[,W...]", "widths of the hidden layers", "3")
      .option("activation", "NAME", "activation of the hidden layers", "sigmoid")
      .option("output", "NAME", "activation of the output layer", "identity")
      .option("bias", "on|off", "biases in every layer (the tutorial has none)", "off")
      .option("scaler", "KIND", "max, minmax or standard, for inputs and target", "max")
      .option("optimizer", "NAME", "sgd, momentum or adam", "sgd")
      .option("learning-rate", "LR", "step size", "1")
      .option("epochs", "N", "passes over the data", "1000")
      .option("batch-size", "N", "rows per step", "32")
      .option("validation-split", "F", "fraction of rows held out for validation", "0")
      .option("seed", "S", "seed of the weights, the split and the batch order", "1")
      .option("save", "FILE", "where to save the trained model", "");
  return cli::run(args, argc, argv, run);
}
