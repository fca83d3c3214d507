# Strict warnings for the project's own targets (tests, examples, benchmarks).
# They are set per target and never on the backprop INTERFACE target, so consumers keep their flags.
function(backprop_strict_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /WX)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endif()
  # GCC 12 and later report Eigen's packet loads on small dynamic-size vectors as "partly outside
  # array bounds" on paths that the run-time size rules out (a false positive of GCC's value-range
  # analysis), and the report lands wherever Eigen got inlined. Turn that one warning off for GCC.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
    target_compile_options(${target} PRIVATE -Wno-array-bounds)
  endif()
endfunction()
