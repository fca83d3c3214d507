// The constant tensors of an ONNX graph (initializers, Constant nodes), read into doubles with
// every claim checked against the bytes that are there.
//
// Only backprop::onnx's headers read ONNX's protobuf classes; the core never does.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "../config.hpp"

namespace backprop::detail::onnx_in {

/// A constant of the graph: its dims and its values in row-major order (ONNX's), as doubles.
struct Constant {
  std::vector<std::int64_t> dims;
  std::vector<double> values;
  /// The index of its first value that is NaN or infinite, or -1: only a Pad's border may be
  /// -infinity, so the reader that takes a constant decides (PlanReader::constant_input).
  std::int64_t non_finite = -1;

  std::int64_t rank() const { return static_cast<std::int64_t>(dims.size()); }
  /// The dims without leading 1s: what a broadcast constant really varies along.
  std::vector<std::int64_t> squeezed() const {
    std::size_t first = 0;
    while (first < dims.size() && dims[first] == 1)
      ++first;
    return {dims.begin() + static_cast<std::ptrdiff_t>(first), dims.end()};
  }
};

/// No tensor of a model that backprop runs holds more values than a layer may (2^31).
inline constexpr std::int64_t max_values = std::int64_t(1) << 31;

/// The number of values that `dims` claims, or a FormatError naming the tensor when a dim is
/// negative or the product passes max_values (checked before it can overflow).
inline std::int64_t value_count(const google::protobuf::RepeatedField<std::int64_t>& dims,
                                const std::string& where) {
  std::int64_t count = 1;
  for (std::int64_t d : dims) {
    if (d < 0) throw FormatError(where + ": a dimension is negative (" + std::to_string(d) + ")");
    if (d != 0 && count > max_values / d)
      throw FormatError(where + ": its dimensions claim more than 2^31 values");
    count *= d;
  }
  return count;
}

inline const char* type_name(int type) {
  switch (type) {
    case ::onnx::TensorProto::FLOAT:
      return "float";
    case ::onnx::TensorProto::DOUBLE:
      return "double";
    case ::onnx::TensorProto::INT64:
      return "int64";
    case ::onnx::TensorProto::INT32:
      return "int32";
    case ::onnx::TensorProto::FLOAT16:
      return "float16";
    case ::onnx::TensorProto::BFLOAT16:
      return "bfloat16";
    case ::onnx::TensorProto::UINT8:
      return "uint8";
    case ::onnx::TensorProto::INT8:
      return "int8";
    case ::onnx::TensorProto::BOOL:
      return "bool";
    case ::onnx::TensorProto::STRING:
      return "string";
    default:
      return "an unknown type";
  }
}

/// The values of `t`, `where` naming it in errors ("file: tensor 'fc1.weight'"). A tensor stored
/// as external data is refused: backprop opens no file that a model names.
inline Constant read_constant(const ::onnx::TensorProto& t, const std::string& where) {
  if (t.data_location() == ::onnx::TensorProto::EXTERNAL || t.external_data_size() > 0) {
    std::string location;
    for (const auto& entry : t.external_data())
      if (entry.key() == "location") location = entry.value();
    throw FormatError(where + ": its values are stored as external data" +
                      (location.empty() ? std::string() : " ('" + location + "')") +
                      "; backprop reads self-contained models only, and opens no file a model "
                      "names (onnx.save_model(model, path, save_as_external_data=False))");
  }
  if (t.has_segment()) throw FormatError(where + ": a tensor split into segments is not supported");
  Constant c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  const std::int64_t count = value_count(t.dims(), where);
  const int type = t.data_type();
  std::size_t width = 0;
  int field = 0;  // how many values the typed field holds
  switch (type) {
    case ::onnx::TensorProto::FLOAT:
      width = 4;
      field = t.float_data_size();
      break;
    case ::onnx::TensorProto::DOUBLE:
      width = 8;
      field = t.double_data_size();
      break;
    case ::onnx::TensorProto::INT64:
      width = 8;
      field = t.int64_data_size();
      break;
    case ::onnx::TensorProto::INT32:
      width = 4;
      field = t.int32_data_size();
      break;
    default:
      throw FormatError(where + ": its values are of type " + type_name(type) +
                        "; backprop reads float, double, int64 and int32 tensors");
  }
  const bool raw = t.has_raw_data();
  const std::size_t held = raw ? t.raw_data().size() / width : static_cast<std::size_t>(field);
  if ((raw && t.raw_data().size() % width != 0) || held != static_cast<std::size_t>(count))
    throw FormatError(where + ": its dimensions claim " + std::to_string(count) +
                      " values, but it holds " +
                      (raw ? std::to_string(t.raw_data().size()) + " bytes of raw data"
                           : std::to_string(field) + " values"));
  // The values are in the file: only now is their room allocated.
  c.values.resize(static_cast<std::size_t>(count));
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw ? t.raw_data().data() : nullptr);
  // A little-endian field of `width` bytes at raw byte offset i * width.
  auto little = [&](std::size_t i) {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < width; ++k)
      v |= std::uint64_t(bytes[i * width + k]) << (8 * k);
    return v;
  };
  for (std::size_t i = 0; i < c.values.size(); ++i) {
    double v = 0;
    switch (type) {
      case ::onnx::TensorProto::FLOAT:
        v = raw ? std::bit_cast<float>(static_cast<std::uint32_t>(little(i)))
                : t.float_data(static_cast<int>(i));
        break;
      case ::onnx::TensorProto::DOUBLE:
        v = raw ? std::bit_cast<double>(little(i)) : t.double_data(static_cast<int>(i));
        break;
      case ::onnx::TensorProto::INT64:
        v = static_cast<double>(raw ? std::bit_cast<std::int64_t>(little(i))
                                    : t.int64_data(static_cast<int>(i)));
        break;
      default:
        v = raw ? std::bit_cast<std::int32_t>(static_cast<std::uint32_t>(little(i)))
                : t.int32_data(static_cast<int>(i));
    }
    if (!std::isfinite(v) && c.non_finite < 0) c.non_finite = static_cast<std::int64_t>(i);
    c.values[i] = v;
  }
  return c;
}

}  // namespace backprop::detail::onnx_in
