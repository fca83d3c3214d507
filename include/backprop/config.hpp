// backprop: version, error types and the internal assertion macro.
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>

#include <Eigen/Core>

// Without C++20 the first thing a compiler would say is "concept does not name a type", then
// hundreds more errors. Say why instead, and stop there: a missing include ends compilation.
#if defined(_MSVC_LANG) ? _MSVC_LANG < 202002L : __cplusplus < 202002L
#error "backprop needs C++20: compile with -std=c++20 (or /std:c++20)"
#include <backprop needs C++20>
#endif

#include "version.hpp"

#if !EIGEN_VERSION_AT_LEAST(3, 4, 0)
#error "backprop needs Eigen 3.4 or newer"
#endif

// Inline everything a function calls (GCC and Clang), for the few small steps where keeping values
// in registers across calls is the whole difference.
// Errors are built in functions of their own, never inlined: the hot path keeps only the test.
#if defined(__GNUC__)
#define BACKPROP_FLATTEN [[gnu::flatten, gnu::noinline]]
#define BACKPROP_COLD [[gnu::cold, gnu::noinline]]
#else
#define BACKPROP_FLATTEN
#define BACKPROP_COLD
#endif

// The compiled mode (compiled.hpp). A program that defines BACKPROP_COMPILED in every translation
// unit (CMake: link backprop::compiled) reads, at the end of <backprop/backprop.hpp>, explicit
// instantiation declarations of the run-time network, fit, the model files and the readers for
// float and double, so that no unit compiles them; the one unit that also defines
// BACKPROP_IMPLEMENTATION compiles them, once. Without either, the library is header-only.
#if defined(BACKPROP_IMPLEMENTATION)
#define BACKPROP_INSTANTIATE(...) template __VA_ARGS__;
#elif defined(BACKPROP_COMPILED)
#define BACKPROP_INSTANTIATE(...) extern template __VA_ARGS__;
#else
#define BACKPROP_INSTANTIATE(...)
#endif

namespace backprop {

/// Sizes and indices, as Eigen's.
using Index = Eigen::Index;
/// A size known only at run time, as Eigen's.
inline constexpr int Dynamic = Eigen::Dynamic;

/// Run-time shapes that disagree: the message names the function and both shapes.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// An argument outside its domain: a negative learning rate, a width of 0, an unknown flag.
class ArgumentError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A computation that turned non-finite: a loss of NaN or Inf. Training stops before the update.
class NumericError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file that cannot be opened, read or written: the message names the file and the reason.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file whose content is wrong: a malformed CSV field, a truncated or corrupted model file. The
/// message names the file and where (line and column, or byte offset).
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// The parts one after another: what operator+ does, without GCC 12's false -Wrestrict warning on
/// "literal" + std::string&&.
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string text;
  ((text += parts), ...);
  return text;
}

/// "3x2": how every message in the library writes a shape.
inline std::string shape_string(Index rows, Index cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

/// value in `format` with `precision` digits (general: significant ones; fixed: after the point),
/// or, without a precision, the shortest text that reads back as the same double.
inline std::string format_number(double value, std::chars_format format, int precision = -1) {
  char text[64];
  const auto [end, error] = precision < 0
                                ? std::to_chars(text, text + sizeof text, value, format)
                                : std::to_chars(text, text + sizeof text, value, format, precision);
  return error == std::errc() ? std::string(text, end) : std::string("?");
}

/// A number as people write it: 0.5, -1, 1e-08, nan, inf.
/// Every number the library writes as text goes through std::to_chars: the C locale's digits and
/// decimal point whatever the process's locale (a German locale would write 0,5 otherwise).
inline std::string number_string(double value) {
  return format_number(value, std::chars_format::general, 6);
}

/// Throws E with the message that message() builds, off the hot path.
template <class E, class Message>
[[noreturn]] BACKPROP_COLD void fail(const Message& message) {
  throw E(message());
}

[[noreturn]] inline void assertion_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: backprop internal assertion failed: %s\n", file, line, condition);
  std::abort();
}

}  // namespace detail
}  // namespace backprop

// Internal invariants only, checked in debug builds. Anything a caller can get wrong throws
// instead.
#ifdef NDEBUG
#define BACKPROP_ASSERT(condition) static_cast<void>(0)
#else
#define BACKPROP_ASSERT(condition)    \
  ((condition) ? static_cast<void>(0) \
               : ::backprop::detail::assertion_failed(#condition, __FILE__, __LINE__))
#endif
