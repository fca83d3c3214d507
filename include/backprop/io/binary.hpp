// The binary container of backprop's files (models, optimizer state): little-endian fields, a
// fixed header, and a CRC-32 over everything before it.
//
//   offset  size  field
//        0     8  magic: "\x89BPR" then 4 bytes naming the kind ("MODL", "OPTM"); the first byte
//                 is not ASCII and the \r\n-free layout keeps text-mode mangling detectable
//        8     2  format version (1)
//       10     1  byte order of every field that follows: 1 = little-endian (the only one)
//       11     1  scalar type of the numbers: 4 = IEEE 754 binary32, 8 = binary64
//       12     4  reserved, 0
//       16     8  total file size in bytes, checksum included
//       24     -  the body, described by each kind
//   size - 4   4  CRC-32 (ISO-HDLC, as zlib's crc32) of bytes [0, size - 4)
//
// Readers check, in order: the magic, the version, the byte order, the stated size against the
// actual one (naming the byte where a truncated file ends), the checksum, and only then the
// body; any failure is a FormatError naming the file.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "bytes.hpp"
#include "file.hpp"

namespace backprop::io {

inline constexpr std::uint16_t format_version = 1;
inline constexpr std::size_t header_size = 24;

/// CRC-32 with the reflected polynomial 0xEDB88320, as zlib and PNG compute it.
inline std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i)
    crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

/// The eight bytes that open a file of this kind ("MODL", "OPTM").
inline std::array<std::uint8_t, 8> magic(std::string_view kind) {
  return {0x89,
          'B',
          'P',
          'R',
          std::uint8_t(kind[0]),
          std::uint8_t(kind[1]),
          std::uint8_t(kind[2]),
          std::uint8_t(kind[3])};
}

/// Header, body and checksum of a file of `kind` whose numbers have sizeof(Scalar) bytes.
template <class Scalar>
std::vector<std::uint8_t> frame(std::string_view kind, Writer& body) {
  Writer w;
  for (std::uint8_t b : magic(kind))
    w.u8(b);
  w.u16(format_version);
  w.u8(1);  // little-endian
  w.u8(sizeof(Scalar));
  w.u32(0);
  w.u64(header_size + body.bytes().size() + 4);
  auto& bytes = w.bytes();
  bytes.insert(bytes.end(), body.bytes().begin(), body.bytes().end());
  w.u32(crc32(bytes.data(), bytes.size()));
  return std::move(bytes);
}

/// A checked file: where its body starts and ends, and the size of its numbers.
struct Framed {
  std::size_t body_begin, body_end;
  int bytes_per_scalar;
};

/// Checks everything the header and the checksum can tell, for a file of `kind`.
inline Framed unframe(const std::vector<std::uint8_t>& bytes, std::string_view kind,
                      const std::string& source) {
  auto fail = [&](const std::string& what) { throw FormatError(source + ": " + what); };
  const auto expected = magic(kind);
  if (bytes.size() < 8 || !std::equal(expected.begin(), expected.end(), bytes.begin())) {
    if (bytes.size() >= 4 && std::equal(expected.begin(), expected.begin() + 4, bytes.begin()))
      fail("a backprop file, but not of kind " + std::string(kind));
    fail("not a backprop " + std::string(kind == "MODL" ? "model" : "optimizer state") +
         " file (its first bytes are not the magic number)");
  }
  if (bytes.size() < header_size)
    fail("truncated at byte " + std::to_string(bytes.size()) + ": the header alone needs " +
         std::to_string(header_size) + " bytes");
  Reader header(bytes, 8, header_size, source);
  const std::uint16_t version = header.u16();
  if (version != format_version)
    fail("format version " + std::to_string(version) + " is not supported (this is version " +
         std::to_string(format_version) + ")");
  const std::uint8_t order = header.u8();
  if (order != 1) fail("byte order " + std::to_string(order) + " is unknown (1: little-endian)");
  const std::uint8_t scalar = header.u8();
  if (scalar != 4 && scalar != 8)
    fail("scalar size " + std::to_string(scalar) + " is unknown (4: float, 8: double)");
  if (header.u32() != 0) fail("the reserved header field is not 0");
  const std::uint64_t size = header.u64();
  if (bytes.size() < size)
    fail("truncated at byte " + std::to_string(bytes.size()) + ": the header says the file has " +
         std::to_string(size) + " bytes");
  if (bytes.size() > size)
    fail("has " + std::to_string(bytes.size() - size) + " bytes after its stated end at byte " +
         std::to_string(size));
  if (size < header_size + 4) fail("states an impossible size of " + std::to_string(size));
  const std::size_t body_end = bytes.size() - 4;
  const std::uint32_t stored = Reader(bytes, body_end, bytes.size(), source).u32();
  const std::uint32_t computed = crc32(bytes.data(), body_end);
#if defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  // Fuzzing builds (libFuzzer's convention) skip the checksum, which random mutations would
  // almost never satisfy, so that the fuzzer reaches the body's parser behind it.
  constexpr bool verify_checksum = false;
#else
  constexpr bool verify_checksum = true;
#endif
  if (verify_checksum && stored != computed) {
    char text[96];
    std::snprintf(text, sizeof text, "checksum mismatch (stored %08x, computed %08x)", stored,
                  computed);
    fail(std::string(text) + ": the file is corrupted");
  }
  return {header_size, body_end, scalar};
}

}  // namespace backprop::io
