// Little-endian fields in a byte buffer: what backprop's files are made of (io/binary.hpp
// describes the container, io/model_file.hpp a model's body).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"

namespace backprop::io {

/// Appends little-endian fields to a byte buffer.
class Writer {
 public:
  void u8(std::uint8_t v) { bytes_.push_back(v); }  ///< one byte
  void u16(std::uint16_t v) { little_endian(v); }   ///< 2 bytes, little-endian
  void u32(std::uint32_t v) { little_endian(v); }   ///< 4 bytes, little-endian
  void u64(std::uint64_t v) { little_endian(v); }   ///< 8 bytes, little-endian
  void f64(double v) {
    u64(std::bit_cast<std::uint64_t>(v));
  }  ///< IEEE 754 binary64, little-endian
  /// u32 length, then the bytes.
  void text(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  /// A matrix: rows, columns, then the values column by column in the file's scalar type.
  template <class File, class M>
  void matrix(const Eigen::MatrixBase<M>& m) {
    using Bits = std::conditional_t<sizeof(File) == 4, std::uint32_t, std::uint64_t>;
    u64(static_cast<std::uint64_t>(m.rows()));
    u64(static_cast<std::uint64_t>(m.cols()));
    // Sized once, then filled: one allocation however large the matrix.
    std::size_t at = bytes_.size();
    bytes_.resize(at + static_cast<std::size_t>(m.size()) * sizeof(File));
    for (Index c = 0; c < m.cols(); ++c)
      for (Index r = 0; r < m.rows(); ++r, at += sizeof(File))
        store(bytes_.data() + at, std::bit_cast<Bits>(static_cast<File>(m(r, c))));
  }
  std::vector<std::uint8_t>& bytes() { return bytes_; }  ///< what was written

 private:
  // v's bytes, least significant first, at out.
  template <class T>
  static void store(std::uint8_t* out, T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i)
      out[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  template <class T>
  void little_endian(T v) {
    std::array<std::uint8_t, sizeof(T)> b;
    store(b.data(), v);
    bytes_.insert(bytes_.end(), b.begin(), b.end());
  }
  std::vector<std::uint8_t> bytes_;
};

/// Reads little-endian fields from a byte buffer; reading past its end is a FormatError that
/// names the byte where the data ran out.
class Reader {
 public:
  /// Reads bytes[begin, end); `source` names the file in errors.
  Reader(const std::vector<std::uint8_t>& bytes, std::size_t begin, std::size_t end,
         std::string source)
      : bytes_(bytes), at_(begin), end_(end), source_(std::move(source)) {}

  std::uint8_t u8() {
    return static_cast<std::uint8_t>(little_endian<std::uint8_t>());
  }                                                               ///< one byte
  std::uint16_t u16() { return little_endian<std::uint16_t>(); }  ///< 2 bytes, little-endian
  std::uint32_t u32() { return little_endian<std::uint32_t>(); }  ///< 4 bytes, little-endian
  std::uint64_t u64() { return little_endian<std::uint64_t>(); }  ///< 8 bytes, little-endian
  double f64() { return std::bit_cast<double>(u64()); }           ///< IEEE 754 binary64
  /// A text of at most max_size bytes.
  std::string text(std::size_t max_size = 1 << 16) {
    const std::size_t n = u32();
    if (n > max_size) fail("a text field of " + std::to_string(n) + " bytes is implausibly long");
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return s;
  }
  /// A matrix written by Writer::matrix in the file's scalar type `bytes_per_scalar`, as Scalar.
  template <class Scalar>
  Eigen::Matrix<Scalar, Dynamic, Dynamic> matrix(int bytes_per_scalar) {
    const std::uint64_t rows = u64(), cols = u64();
    if (rows > (std::uint64_t(1) << 32) || cols > (std::uint64_t(1) << 32))
      fail("a matrix of " + std::to_string(rows) + "x" + std::to_string(cols) +
           " values has an impossible size");
    const std::uint64_t left =
        static_cast<std::uint64_t>(end_ - at_) / static_cast<std::uint64_t>(bytes_per_scalar);
    if (rows > left || (rows != 0 && cols > left / rows))
      fail("a matrix of " + std::to_string(rows) + "x" + std::to_string(cols) +
           " values does not fit in the " + std::to_string(end_ - at_) + " bytes left");
    // Column by column is the storage order: one pass over the values (none for an empty matrix,
    // however many columns it claims). A value that Scalar cannot hold (1e300 as a float) is an
    // error, not an infinity.
    Eigen::Matrix<Scalar, Dynamic, Dynamic> m(static_cast<Index>(rows), static_cast<Index>(cols));
    for (Index i = 0; i < m.size(); ++i) {
      const double value = bytes_per_scalar == 4 ? double(std::bit_cast<float>(u32()))
                                                 : std::bit_cast<double>(u64());
      m.data()[i] = static_cast<Scalar>(value);
      if (std::isfinite(value) && !std::isfinite(m.data()[i]))
        fail("the value " + ::backprop::detail::number_string(value) + " does not fit in " +
             (sizeof(Scalar) == 4 ? "float" : "double"));
    }
    return m;
  }

  /// N u64 sizes of a `what` ("conv2d"), each in [lo, hi]: a file's word is never a size before
  /// it is known to be plausible.
  template <std::size_t N>
  std::array<Index, N> sizes(std::uint64_t lo, Index hi, std::string_view what) {
    std::array<Index, N> values{};
    for (Index& value : values) {
      const std::uint64_t word = u64();
      if (word < lo || word > static_cast<std::uint64_t>(hi))
        fail("a " + std::string(what) + " size of " + std::to_string(word) + " is not in [" +
             std::to_string(lo) + ", " + std::to_string(hi) + "]");
      value = static_cast<Index>(word);
    }
    return values;
  }

  /// A u32 count of items of at least `bytes_each` bytes, checked against the bytes that remain
  /// before anyone allocates for them.
  std::uint32_t count(std::size_t bytes_each, const std::string& what) {
    const std::uint32_t n = u32();
    if (bytes_each > 0 && n > (end_ - at_) / bytes_each)
      fail(std::to_string(n) + " " + what + " cannot fit in the " + std::to_string(end_ - at_) +
           " bytes left");
    return n;
  }

  std::size_t offset() const { return at_; }            ///< where the next field starts
  std::size_t remaining() const { return end_ - at_; }  ///< bytes not read yet
  bool done() const { return at_ == end_; }             ///< whether every byte was read
  /// What is being read ("layer 2"), for the messages of fail(); empty for none.
  void set_context(std::string context) { context_ = std::move(context); }
  /// Throws a FormatError naming the file, what was being read and the current byte.
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_ + ": " + (context_.empty() ? "" : context_ + ": ") + what +
                      " (at byte " + std::to_string(at_) + ")");
  }

 private:
  void need(std::size_t n) const {
    if (end_ - at_ < n)
      throw FormatError(source_ + ": truncated at byte " + std::to_string(end_) + ": " +
                        std::to_string(n) + " more bytes needed at byte " + std::to_string(at_));
  }
  template <class T>
  T little_endian() {
    need(sizeof(T));
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<T>(T(bytes_[at_ + i]) << (8 * i));
    at_ += sizeof(T);
    return v;
  }

  const std::vector<std::uint8_t>& bytes_;
  std::size_t at_, end_;
  std::string source_, context_;
};

}  // namespace backprop::io
