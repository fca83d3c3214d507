// Predicts with a model saved by csv_regression, for the rows of a CSV file; or with an ONNX
// model (one PyTorch exported, say), for the rows of a CSV file or the images of an IDX file.
//
//   predict --model study_sleep.bpm --data new_students.csv
//   predict --model fashion.onnx --data t10k-images-idx3-ubyte.gz --scale 0.00392156862745098
//           --labels t10k-labels-idx1-ubyte.gz
//
// A .bpm file carries the names of the columns it was trained on, and the network carries the
// scaling of its inputs and target as layers: the CSV's columns are found by those names (other
// columns are ignored), and the raw rows go to predict, which answers in the target's units. When
// the CSV also holds the target column, the error of the predictions is printed too.
//
// An .onnx model takes every column of the CSV (or every pixel of an image, times --scale) as its
// input row, and prints each row's outputs; with --labels (IDX class numbers), the accuracy of the
// largest output as the class. ONNX needs a build with backprop::onnx (libonnx-dev
// libprotobuf-dev).
#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>

#include <backprop/backprop.hpp>
#ifdef BACKPROP_WITH_ONNX
#include <backprop/onnx/onnx.hpp>
#endif

#include "cli.hpp"

namespace {

using namespace backprop;

// Where the predictions go: the file of --output (opened into `file`), or the terminal.
std::ostream& output_of(const cli::Parser& args, std::ofstream& file) {
  if (args.text("output").empty()) return std::cout;
  file.open(args.text("output"));
  if (!file) throw FileError(args.text("output") + ": cannot open for writing");
  return file;
}

#ifdef BACKPROP_WITH_ONNX
// The rows an ONNX model is given: a CSV's columns, or an IDX file's images times `scale`.
Eigen::MatrixXd onnx_rows(const std::string& data_path, char delimiter, double scale) {
  if (data_path.ends_with(".csv"))
    return read_csv<double>(data_path, {.delimiter = delimiter}).features;
  return scale * read_idx<double>(data_path);
}

int run_onnx(const cli::Parser& args, const std::string& model_path, const std::string& data_path) {
  const auto net = load_onnx<double>(model_path);
  const Eigen::MatrixXd x =
      onnx_rows(data_path, args.character("delimiter"), args.number("scale", 0));
  const Eigen::MatrixXd predicted = net.predict(x);
  std::ofstream file;
  std::ostream& out = output_of(args, file);
  out << std::setprecision(6);
  for (Index r = 0; r < predicted.rows(); ++r)
    for (Index c = 0; c < predicted.cols(); ++c)
      out << predicted(r, c) << (c + 1 < predicted.cols() ? "," : "\n");
  out.flush();
  if (!args.text("labels").empty()) {
    const auto labels = read_idx_labels(args.text("labels"));
    if (labels.size() != static_cast<std::size_t>(predicted.rows()))
      throw FormatError(args.text("labels") + ": " + std::to_string(labels.size()) +
                        " labels for " + std::to_string(predicted.rows()) + " rows");
    const auto classes = static_cast<int>(predicted.cols());
    std::cerr << "accuracy " << accuracy(predicted, one_hot<double>(labels, classes)) << " over "
              << predicted.rows() << " rows\n";
  }
  return 0;
}
#else
int run_onnx(const cli::Parser&, const std::string& model_path, const std::string&) {
  throw cli::Error(model_path +
                   ": this build cannot read ONNX (it needs backprop::onnx: "
                   "libonnx-dev libprotobuf-dev)");
}
#endif

int run(const cli::Parser& args) {
  const std::string model_path = args.text("model");
  const std::string data_path = args.text("data");
  if (model_path.empty()) throw cli::Error("--model is required");
  if (data_path.empty()) throw cli::Error("--data is required");
  if (model_path.ends_with(".onnx")) return run_onnx(args, model_path, data_path);

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
  std::ostream& out = output_of(args, file);
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
                   "Predicts with a model saved by csv_regression, or an ONNX model, for the rows "
                   "of a CSV (or the images of an IDX file).");
  args.option("model", "FILE", "the model file, .bpm or .onnx (required)", "")
      .option("data", "FILE",
              "CSV with the columns the model was trained on, or IDX images (required)", "")
      .option("scale", "S", "ONNX models: multiply IDX pixels by S", "1")
      .option("labels", "FILE", "ONNX models: IDX class numbers, to print the accuracy", "")
      .option("delimiter", "C", "field separator", ",")
      .option("output", "FILE", "write the predictions here instead of to the terminal", "");
  return cli::run(args, argc, argv, run);
}
