// IDX files (the format of MNIST and Fashion-MNIST), plain or gzip-compressed.
//
//   auto images = read_idx<float>("train-images-idx3-ubyte.gz");   // (60000, 784), values 0..255
//   auto labels = read_idx_labels("train-labels-idx1-ubyte.gz");   // 60000 class numbers
//
// An IDX file is a magic number (two zero bytes, a type code, the number of dimensions), the
// dimensions as big-endian 32-bit integers, then the values, big-endian, last dimension fastest.
// The reader checks the magic number, the type, the dimensions and that the file holds exactly
// the values they announce; any problem is a FormatError naming the file and the byte.
//
// Reading .gz files needs zlib: link backprop::zlib (CMake finds Debian's zlib1g-dev), which
// defines BACKPROP_WITH_ZLIB. Without it, a compressed file gets a FileError saying so; the core
// library never requires zlib.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../io/binary.hpp"

#if defined(BACKPROP_WITH_ZLIB)
#include <zlib.h>
#endif

namespace backprop {

/// An IDX file's dimensions and values (converted to double, which holds every IDX type exactly).
struct IdxArray {
  std::vector<Index> dims;
  std::vector<double> values;
};

namespace detail {

inline bool is_gzip(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

inline std::vector<std::uint8_t> read_maybe_gzip(const std::filesystem::path& path) {
  std::vector<std::uint8_t> bytes = io::read_file(path);
  if (!is_gzip(bytes)) return bytes;
#if defined(BACKPROP_WITH_ZLIB)
  gzFile file = gzopen(path.string().c_str(), "rb");
  if (!file) throw FileError(path.string() + ": cannot open for reading");
  std::vector<std::uint8_t> out;
  std::uint8_t buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0)
    out.insert(out.end(), buffer, buffer + n);
  /// A stream that ends early reads as a short file, with Z_BUF_ERROR left behind: check it.
  int code = Z_OK;
  const std::string reason = gzerror(file, &code);
  gzclose(file);
  if (n < 0 || (code != Z_OK && code != Z_STREAM_END))
    throw FormatError(path.string() + ": the gzip data is corrupted or truncated (" + reason + ")");
  return out;
#else
  throw FileError(path.string() +
                  ": the file is gzip-compressed, but this program was built without zlib: link "
                  "backprop::zlib (Debian: zlib1g-dev) or gunzip the file first");
#endif
}

}  // namespace detail

/// Parses the bytes of an IDX file; `source` names it in error messages.
inline IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  auto fail = [&](const std::string& what) { throw FormatError(source + ": " + what); };
  if (bytes.size() < 4)
    fail("truncated at byte " + std::to_string(bytes.size()) + ": the magic number needs 4 bytes");
  if (bytes[0] != 0 || bytes[1] != 0)
    fail("not an IDX file: it does not start with two zero bytes");
  const std::uint8_t type = bytes[2];
  std::size_t size = 0;
  switch (type) {
    case 0x08:
    case 0x09:
      size = 1;
      break;  // unsigned, signed byte
    case 0x0B:
      size = 2;
      break;  // short
    case 0x0C:
    case 0x0D:
      size = 4;
      break;  // int, float
    case 0x0E:
      size = 8;
      break;  // double
    default: {
      char text[64];
      std::snprintf(text, sizeof text, "unknown IDX type code 0x%02X at byte 2", type);
      fail(text);
    }
  }
  const std::size_t rank = bytes[3];
  if (rank == 0) fail("an IDX array must have at least one dimension (byte 3 is 0)");
  const std::size_t data_start = 4 + 4 * rank;
  if (bytes.size() < data_start)
    fail("truncated at byte " + std::to_string(bytes.size()) + ": the " + std::to_string(rank) +
         " dimensions need bytes 4 to " + std::to_string(data_start));
  auto big_endian = [&](std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
      v = (v << 8) | bytes[at + i];
    return v;
  };
  IdxArray array;
  std::uint64_t count = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint64_t dim = big_endian(4 + 4 * d, 4);
    if (dim == 0 || dim > (std::uint64_t(1) << 31))
      fail("dimension " + std::to_string(d) + " is " + std::to_string(dim));
    count *= dim;
    if (count > (std::uint64_t(1) << 40)) fail("the dimensions announce an impossible size");
    array.dims.push_back(static_cast<Index>(dim));
  }
  const std::uint64_t expected = data_start + count * size;
  if (bytes.size() < expected)
    fail("truncated at byte " + std::to_string(bytes.size()) + ": the dimensions announce " +
         std::to_string(expected) + " bytes");
  if (bytes.size() > expected)
    fail("has " + std::to_string(bytes.size() - expected) + " bytes after the " +
         std::to_string(count) + " values its dimensions announce");
  array.values.resize(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t at = data_start + i * size;
    const std::uint64_t raw = big_endian(at, size);
    double& v = array.values[i];
    switch (type) {
      case 0x08:
        v = static_cast<double>(raw);
        break;
      case 0x09:
        v = static_cast<double>(static_cast<std::int8_t>(raw));
        break;
      case 0x0B:
        v = static_cast<double>(static_cast<std::int16_t>(raw));
        break;
      case 0x0C:
        v = static_cast<double>(static_cast<std::int32_t>(raw));
        break;
      case 0x0D:
        v = static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
        break;
      default:
        v = std::bit_cast<double>(raw);
        break;
    }
  }
  return array;
}

/// The dimensions and values of the IDX file at `path` (plain or .gz).
inline IdxArray read_idx_array(const std::filesystem::path& path) {
  return parse_idx(detail::read_maybe_gzip(path), path.string());
}

/// An IDX file as a matrix: one row per entry of the first dimension, the rest flattened
/// (images of 28x28 become rows of 784). Values as stored: 0..255 for MNIST's pixels.
template <class Scalar = float>
Eigen::Matrix<Scalar, Dynamic, Dynamic> read_idx(const std::filesystem::path& path) {
  const IdxArray array = read_idx_array(path);
  const Index rows = array.dims.front();
  const Index cols = static_cast<Index>(array.values.size()) / rows;
  Eigen::Matrix<Scalar, Dynamic, Dynamic> m(rows, cols);
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c)
      m(r, c) = static_cast<Scalar>(array.values[static_cast<std::size_t>(r * cols + c)]);
  return m;
}

/// A one-dimensional IDX file of class numbers (MNIST's labels).
inline std::vector<int> read_idx_labels(const std::filesystem::path& path) {
  const IdxArray array = read_idx_array(path);
  if (array.dims.size() != 1)
    throw FormatError(path.string() + ": labels must be one-dimensional, but the file has " +
                      std::to_string(array.dims.size()) + " dimensions");
  return {array.values.begin(), array.values.end()};
}

}  // namespace backprop
