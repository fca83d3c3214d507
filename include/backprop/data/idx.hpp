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

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../io/file.hpp"

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

/// At most this many values in one IDX file (16 Gi): a bound on what a header may declare.
inline constexpr std::uint64_t max_idx_values = std::uint64_t(1) << 34;

/// What an IDX header says: the bytes of one value, the dimensions, where the values start and
/// the file's whole size.
struct IdxLayout {
  std::uint8_t type = 0;
  std::size_t value_size = 0;
  std::vector<Index> dims;
  std::size_t data_start = 0;
  std::uint64_t values = 1;
  std::uint64_t size() const { return data_start + values * value_size; }
};

/// The layout the header in bytes[0, available) declares; nothing when the header is longer than
/// `available`. Throws FormatError naming `source` for a header that is wrong, whatever follows.
inline std::optional<IdxLayout> idx_layout(const std::uint8_t* bytes, std::size_t available,
                                           const std::string& source) {
  auto fail = [&](const std::string& what) { throw FormatError(source + ": " + what); };
  if (available < 4) return std::nullopt;
  if (bytes[0] != 0 || bytes[1] != 0)
    fail("not an IDX file: it does not start with two zero bytes");
  IdxLayout layout;
  layout.type = bytes[2];
  switch (layout.type) {
    case 0x08:  // unsigned byte
    case 0x09:  // signed byte
      layout.value_size = 1;
      break;
    case 0x0B:  // short
      layout.value_size = 2;
      break;
    case 0x0C:  // int
    case 0x0D:  // float
      layout.value_size = 4;
      break;
    case 0x0E:  // double
      layout.value_size = 8;
      break;
    default: {
      char text[64];
      std::snprintf(text, sizeof text, "unknown IDX type code 0x%02X at byte 2", layout.type);
      fail(text);
    }
  }
  const std::size_t rank = bytes[3];
  if (rank == 0) fail("an IDX array must have at least one dimension (byte 3 is 0)");
  layout.data_start = 4 + 4 * rank;
  if (available < layout.data_start) return std::nullopt;
  for (std::size_t d = 0; d < rank; ++d) {
    std::uint64_t dim = 0;
    for (std::size_t i = 0; i < 4; ++i)
      dim = (dim << 8) | bytes[4 + 4 * d + i];
    if (dim == 0) fail("dimension " + std::to_string(d) + " is 0");
    // Checked: the product of the dimensions never wraps around.
    if (dim > max_idx_values / layout.values)
      fail("the dimensions announce more than " + std::to_string(max_idx_values) +
           " values (dimension " + std::to_string(d) + " is " + std::to_string(dim) + ")");
    layout.values *= dim;
    layout.dims.push_back(static_cast<Index>(dim));
  }
  return layout;
}

inline bool is_gzip(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

}  // namespace detail

/// Inflates gzip data (one member or several, as gzip writes them) holding an IDX file, never
/// beyond what the IDX header inside declares: a small file that inflates to gigabytes fails as
/// soon as it passes its own header's size. Needs zlib (backprop::zlib).
inline std::vector<std::uint8_t> gunzip_idx(const std::vector<std::uint8_t>& bytes,
                                            const std::string& source) {
#if defined(BACKPROP_WITH_ZLIB)
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
    throw FormatError(source + ": zlib cannot start inflating");
  struct End {
    z_stream& s;
    ~End() { inflateEnd(&s); }
  } end{stream};
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(std::min<std::size_t>(bytes.size(), UINT32_MAX));
  std::vector<std::uint8_t> out;
  std::uint64_t limit = 4 + 4 * 255;  // the longest header, until the header is known
  bool sized = false;
  for (;;) {
    if (out.size() >= limit)  // the header is known by now: it is at most `limit` bytes long
      throw FormatError(source + ": the gzip data holds more than the " +
                        std::to_string(limit - 1) + " bytes its IDX header announces");
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(limit - out.size(), 1 << 20));
    const std::size_t before = out.size();
    out.resize(before + chunk);
    stream.next_out = out.data() + before;
    stream.avail_out = static_cast<uInt>(chunk);
    const int code = inflate(&stream, Z_NO_FLUSH);
    out.resize(before + chunk - stream.avail_out);
    if (!sized) {
      if (const auto layout = detail::idx_layout(out.data(), out.size(), source)) {
        limit = layout->size() + 1;  // one byte more: to notice data beyond the announced end
        sized = true;
      }
    }
    if (code == Z_STREAM_END) {
      if (stream.avail_in == 0) return out;
      if (inflateReset(&stream) != Z_OK) break;  // a further gzip member
    } else if (code != Z_OK && !(code == Z_BUF_ERROR && stream.avail_out == 0)) {
      break;
    } else if (stream.avail_in == 0 && stream.avail_out != 0) {
      throw FormatError(source + ": the gzip data is truncated");
    }
  }
  throw FormatError(source + ": the gzip data is corrupted" +
                    (stream.msg ? " (" + std::string(stream.msg) + ")" : std::string()));
#else
  (void)bytes;
  throw FileError(source +
                  ": the file is gzip-compressed, but this program was built without zlib: link "
                  "backprop::zlib (Debian: zlib1g-dev) or gunzip the file first");
#endif
}

/// Parses the bytes of an IDX file; `source` names it in error messages.
inline IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  auto fail = [&](const std::string& what) { throw FormatError(source + ": " + what); };
  const auto layout = detail::idx_layout(bytes.data(), bytes.size(), source);
  if (!layout) {
    if (bytes.size() < 4)
      fail("truncated at byte " + std::to_string(bytes.size()) +
           ": the magic number needs 4 bytes");
    fail("truncated at byte " + std::to_string(bytes.size()) + ": the " + std::to_string(bytes[3]) +
         " dimensions need bytes 4 to " + std::to_string(4 + 4 * std::size_t(bytes[3])));
  }
  const std::uint64_t expected = layout->size();
  if (bytes.size() < expected)
    fail("truncated at byte " + std::to_string(bytes.size()) + ": the dimensions announce " +
         std::to_string(expected) + " bytes");
  if (bytes.size() > expected)
    fail("has " + std::to_string(bytes.size() - expected) + " bytes after the " +
         std::to_string(layout->values) + " values its dimensions announce");
  IdxArray array;
  array.dims = layout->dims;
  array.values.resize(static_cast<std::size_t>(layout->values));
  const std::size_t size = layout->value_size;
  for (std::size_t i = 0; i < array.values.size(); ++i) {
    const std::uint8_t* at = bytes.data() + layout->data_start + i * size;
    std::uint64_t raw = 0;
    for (std::size_t k = 0; k < size; ++k)
      raw = (raw << 8) | at[k];
    double& v = array.values[i];
    switch (layout->type) {
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
  std::vector<std::uint8_t> bytes = io::read_file(path);
  if (detail::is_gzip(bytes)) bytes = gunzip_idx(bytes, path.string());
  return parse_idx(bytes, path.string());
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
