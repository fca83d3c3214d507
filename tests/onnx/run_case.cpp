// onnx_run_case: runs ONNX test cases through load_onnx and compares with their outputs.
//
//   onnx_run_case [--double] [--rtol R] [--atol A] [--export OUT.onnx] [--labels FILE.pb] CASE...
//
// Each CASE is a folder in ONNX's test layout (case.hpp). Prints one line per case, "ok" or
// "FAIL" (or "refused" with the loader's message), and exits non-zero when any is not ok.
// --export writes the (last) case's imported network back out with save_onnx; --labels prints the
// accuracy of the predictions' argmax against a TensorProto of class indices.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <backprop/data/split.hpp>
#include <backprop/metrics.hpp>

#include "case.hpp"

namespace {

template <class Scalar>
bool run(const std::filesystem::path& dir, double rtol, double atol, const std::string& out,
         const std::string& labels) {
  const auto net = backprop::load_onnx<Scalar>(dir / "model.onnx");
  const auto set = dir / "test_data_set_0";
  const Eigen::MatrixXd x = test::onnx_case::read_batch(set / "input_0.pb");
  const Eigen::MatrixXd want = test::onnx_case::read_batch(set / "output_0.pb");
  const Eigen::MatrixXd got = net.predict(x.cast<Scalar>()).template cast<double>();
  const double excess = test::onnx_case::excess(got, want, rtol, atol);
  const double relative = ((got - want).array().abs() / want.array().abs().max(1e-30)).maxCoeff();
  std::cout << (excess <= 0 ? "ok " : "FAIL ") << dir.filename().string() << ": " << got.rows()
            << "x" << got.cols() << ", largest difference " << (got - want).cwiseAbs().maxCoeff()
            << ", largest relative " << relative << "\n";
  if (!labels.empty()) {
    const Eigen::VectorXd y = test::onnx_case::read_batch(labels).reshaped();
    std::vector<int> classes(static_cast<std::size_t>(y.size()));
    for (Eigen::Index r = 0; r < y.size(); ++r)
      classes[static_cast<std::size_t>(r)] = static_cast<int>(y(r));
    const auto one_hot = backprop::one_hot<double>(classes, static_cast<int>(got.cols()));
    std::cout << "accuracy " << backprop::accuracy(got, one_hot) << "\n";
  }
  if (!out.empty()) backprop::save_onnx(net, out);
  return excess <= 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool use_double = false;
  double rtol = 1e-5, atol = 1e-6;
  std::string out, labels;
  std::vector<std::string> cases;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--double")
      use_double = true;
    else if (a == "--rtol")
      rtol = std::stod(value());
    else if (a == "--atol")
      atol = std::stod(value());
    else if (a == "--export")
      out = value();
    else if (a == "--labels")
      labels = value();
    else
      cases.push_back(a);
  }
  bool all = !cases.empty();
  for (const auto& c : cases) {
    try {
      all &= use_double ? run<double>(c, rtol, atol, out, labels)
                        : run<float>(c, rtol, atol, out, labels);
    } catch (const std::exception& e) {
      std::cout << "refused " << std::filesystem::path(c).filename().string() << ": " << e.what()
                << "\n";
      all = false;
    }
  }
  return all ? 0 : 1;
}
