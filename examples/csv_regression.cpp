// Trains a regression network on any CSV file and saves it, with what predict needs to use it.
//
//   csv_regression --data houses.csv --target price --hidden 32,16 --epochs 200 --save houses.bpm
//
// With no flags it trains on the tutorial's data (examples/data/study_sleep.csv): two inputs,
// hidden layers of the given widths, inputs and targets scaled as --scaler says (the tutorial
// divides by the maximum), the loss MeanSquared. It prints the progress and the error in the
// target's own units, and saves the model with the column names and both scalers.
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

// Trains `net` with the optimizer named by --optimizer.
template <class Train>
void with_optimizer(const cli::Parser& args, Train&& train) {
  const std::string& name = args.text("optimizer");
  const double rate = args.number("learning-rate", 0);
  if (name == "sgd") {
    SGD<double> sgd(rate);
    train(sgd);
  } else if (name == "momentum") {
    Momentum<double> momentum({.learning_rate = rate, .momentum = 0.9});
    train(momentum);
  } else if (name == "adam") {
    Adam<double> adam({.learning_rate = rate});
    train(adam);
  } else {
    throw cli::Error("--optimizer expects sgd, momentum or adam, got '" + name + "'");
  }
}

// "0.85" -> 0.85 with the right number of digits for a table.
std::string fixed(double v, int digits = 4) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

int run(const cli::Parser& args) {
  // The data, with the target by name or, if it is a number, by index (-1: the last column).
  CsvOptions csv;
  csv.delimiter = args.character("delimiter");
  const std::string& target = args.text("target");
  csv.targets = {cli::is_index(target) ? Column(static_cast<Index>(std::stoll(target)))
                                       : Column(target)};
  const auto data = read_csv<double>(args.text("data"), csv);
  std::cout << "data: " << data.features.rows() << " rows from " << args.text("data")
            << "; predicting \"" << data.target_names.front() << "\" from " << data.features.cols()
            << " columns\n";

  // Scale inputs and targets by what the training data shows.
  const std::string& kind = args.text("scaler");
  if (kind != "max" && kind != "minmax" && kind != "standard")
    throw cli::Error("--scaler expects max, minmax or standard, got '" + kind + "'");
  auto x_scaler = make_scaler(kind);
  auto y_scaler = make_scaler(kind);
  x_scaler->fit(data.features);
  y_scaler->fit(data.targets);
  const Matrix x = x_scaler->transform(data.features);
  const Matrix y = y_scaler->transform(data.targets);

  // The network: the hidden widths and activation from the flags, then one output.
  Sequential<double> net(x.cols());
  const Bias bias = args.text("bias") == "on" ? Bias::on : Bias::off;
  for (const auto width : args.integers("hidden", 1))
    net.add_dense(width, args.text("activation"), bias);
  net.add_dense(1, args.text("output"), bias);
  net.initialize(StandardNormal{static_cast<std::uint32_t>(args.integer("seed", 0, UINT32_MAX))});
  std::cout << "network:";
  for (const auto w : net.widths())
    std::cout << " " << w;
  std::cout << " (" << net.parameter_count() << " parameters)\n";

  FitOptions<double> options{
      .epochs = static_cast<int>(args.integer("epochs", 1, 100000000)),
      .batch_size = args.integer("batch-size", 1),
      .seed = static_cast<std::uint64_t>(args.integer("seed", 0)),
      .validation_split = args.number("validation-split", 0),
  };
  // A line every tenth of the run, not one per epoch.
  const int every = std::max(1, options.epochs / 10);
  options.verbosity = Verbosity::silent;
  options.on_epoch_end = [&](EpochEnd& end) {
    const EpochRecord& e = end.record;
    if (e.epoch % every != 0 && e.epoch != 1) return;
    std::cout << "epoch " << std::setw(6) << e.epoch << "  loss " << fixed(e.train.loss, 6)
              << (e.validation ? "  val_loss " + fixed(e.validation->loss, 6) : "") << "\n";
  };
  with_optimizer(args, [&](auto& optimizer) { fit(net, x, y, MeanSquared{}, optimizer, options); });

  // The error in the target's own units.
  const Matrix predicted = y_scaler->inverse_transform(net.predict(x));
  const Matrix error = predicted - data.targets;
  std::cout << "\nmean absolute error: " << fixed(error.cwiseAbs().mean()) << "  root mean squared "
            << "error: " << fixed(std::sqrt(error.squaredNorm() / double(error.size())))
            << " (in the units of \"" << data.target_names.front() << "\", all rows)\n";
  const Index shown = std::min<Index>(data.features.rows(), 5);
  std::cout << "first " << shown << " rows: actual -> predicted\n";
  for (Index r = 0; r < shown; ++r)
    std::cout << "  " << fixed(data.targets(r, 0), 2) << " -> " << fixed(predicted(r, 0), 2)
              << "\n";

  const std::string& save = args.text("save");
  if (!save.empty()) {
    ModelExtras extras;
    extras.texts["features"] = join_names(data.feature_names);
    extras.texts["target"] = data.target_names.front();
    store_scaler(extras, "features", *x_scaler);
    store_scaler(extras, "target", *y_scaler);
    save_model(net, save, extras);
    std::cout << "saved the model to " << save << " (use: predict --model " << save
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
