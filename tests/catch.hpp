// One include for Catch2 v3 (where CMake found it) or the v2 single header (Debian 12's package).
// Tests use only what both versions spell the same way, plus the helpers below.
#pragma once

#include <initializer_list>
#include <string>

#if BACKPROP_CATCH2_MAJOR >= 3
#include <catch2/catch_approx.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#else
#include <catch2/catch.hpp>
#endif

namespace test {

#if BACKPROP_CATCH2_MAJOR >= 3
using Catch::Approx;
#else
using Catch::Detail::Approx;
#endif

// Matches a string that contains `part` (v3 renamed Contains to ContainsSubstring).
inline auto contains(const std::string& part) {
#if BACKPROP_CATCH2_MAJOR >= 3
  return Catch::Matchers::ContainsSubstring(part);
#else
  return Catch::Matchers::Contains(part);
#endif
}

inline auto within_abs(double target, double margin) {
  return Catch::Matchers::WithinAbs(target, margin);
}

// Runs f, expects an exception of type E, and checks that its message names every part.
template <class E, class F>
void check_throws(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    FAIL("no exception");
  } catch (const E& e) {
    for (const auto& part : parts)
      CHECK_THAT(e.what(), contains(part));
  }
}

}  // namespace test
