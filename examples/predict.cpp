// Predicts with a model saved by csv_regression, for the rows of a CSV file.
//
//   predict --model study_sleep.bpm --data new_students.csv
//
// The model file carries the names of the columns it was trained on, and the network carries the
// scaling of its inputs and target as layers: the CSV's columns are found by those names (other
// columns are ignored), and the raw rows go to predict, which answers in the target's units. When
// the CSV also holds the target column, the error of the predictions is printed too.
#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>

#include <backprop/backprop.hpp>

#include "cli.hpp"

namespace {

using namespace backprop;

int run(const cli::Parser& args) {
  const std::string model_path = args.text("model");
  const std::string data_path = args.text("data");
  if (model_path.empty()) throw cli::Error("--model is required");
  if (data_path.empty()) throw cli::Error("--data is required");

  ModelExtras extras;
  const Sequential<double> net = load_sequential<double>(model_path, &extras);
  if (!extras.texts.contains("features") || !extras.texts.contains("target"))
    throw FormatError(model_path +
                      ": the model file does not name its columns (was it saved by "
                      "csv_regression?)");
  const auto features = split_names(extras.texts.at("features"));
  const std::string target = extras.texts.at("target");

  const char delimiter = args.character("delimiter");
  const auto header = read_csv_header(data_path, delimiter);
  const bool has_target = std::find(header.begin(), header.end(), target) != header.end();
  CsvOptions csv{.delimiter = delimiter};
  csv.features.assign(features.begin(), features.end());
  if (has_target) csv.targets = {Column(target)};
  const auto data = read_csv<double>(data_path, csv);

  // Files of backprop 0.1 kept the scalers beside the network, in the extras.
  Eigen::MatrixXd predicted;
  if (extras.texts.contains("features.scaler"))
    predicted = restore_scaler(extras, "target", model_path)
                    ->inverse_transform(net.predict(
                        restore_scaler(extras, "features", model_path)->transform(data.features)));
  else
    predicted = net.predict(data.features);

  std::ofstream file;
  if (!args.text("output").empty()) {
    file.open(args.text("output"));
    if (!file) throw FileError(args.text("output") + ": cannot open for writing");
  }
  std::ostream& out = file.is_open() ? file : std::cout;
  for (const auto& name : features)
    out << name << ",";
  out << "predicted " << target << (has_target ? "," + target : "") << "\n";
  out << std::setprecision(6);
  for (Index r = 0; r < data.features.rows(); ++r) {
    for (Index c = 0; c < data.features.cols(); ++c)
      out << data.features(r, c) << ",";
    out << predicted(r, 0);
    if (has_target) out << "," << data.targets(r, 0);
    out << "\n";
  }
  out.flush();
  if (has_target) {
    const Eigen::MatrixXd error = predicted - data.targets;
    std::cerr << "mean absolute error " << error.cwiseAbs().mean() << " over "
              << data.features.rows() << " rows\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Parser args("predict",
                   "Predicts with a model saved by csv_regression for the rows of a CSV.");
  args.option("model", "FILE", "the model file (required)", "")
      .option("data", "FILE", "CSV with the columns the model was trained on (required)", "")
      .option("delimiter", "C", "field separator", ",")
      .option("output", "FILE", "write the predictions here instead of to the terminal", "");
  return cli::run(args, argc, argv, run);
}
