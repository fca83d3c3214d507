// ONNX's test case layout, which its node conformance cases and our fixtures share: a folder with
// model.onnx and test_data_set_0/{input_0,output_0}.pb (serialized TensorProtos).
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <backprop/onnx/onnx.hpp>

namespace test::onnx_case {

/// A TensorProto file as (dims[0], rest) rows: a batch of flattened samples.
inline Eigen::MatrixXd read_batch(const std::filesystem::path& file) {
  const auto bytes = backprop::io::read_file(file);
  ::onnx::TensorProto t;
  if (!t.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw backprop::FormatError(file.string() + ": not a TensorProto");
  const auto c = backprop::detail::onnx_in::read_constant(t, file.string());
  const Eigen::Index rows = c.dims.empty() ? 1 : static_cast<Eigen::Index>(c.dims[0]);
  const Eigen::Index cols = rows == 0 ? 0 : static_cast<Eigen::Index>(c.values.size()) / rows;
  // Row-major values: sample r's are [r*cols, (r+1)*cols).
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      c.values.data(), rows, cols);
}

/// The largest of |got - want| - (atol + rtol |want|): at most 0 when every value is within the
/// tolerance, as onnx's backend tests (numpy.testing.assert_allclose) compare.
inline double excess(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want, double rtol,
                     double atol) {
  if (got.rows() != want.rows() || got.cols() != want.cols()) return INFINITY;
  return ((got - want).array().abs() - (atol + rtol * want.array().abs())).maxCoeff();
}

}  // namespace test::onnx_case
