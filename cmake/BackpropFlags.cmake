# Strict warnings for the project's own targets (tests, examples, benchmarks).
# They are set per target and never on the backprop INTERFACE target, so consumers keep their flags.
function(backprop_strict_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /WX)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror)
  endif()
  # GCC 12 and later report Eigen's packet loads on small dynamic-size vectors as "partly outside
  # array bounds" on paths that the run-time size rules out (a false positive of GCC's value-range
  # analysis), and the report lands wherever Eigen got inlined. Turn that one warning off for GCC.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
    target_compile_options(${target} PRIVATE -Wno-array-bounds)
  endif()
endfunction()

# -march=native for the project's own programs (examples, benchmarks) when BACKPROP_NATIVE is on:
# Eigen picks its vector instructions at compile time (AVX-512 where the machine has it, else
# SSE2), so this is what makes them fast on the machine that builds them. Such binaries may not
# run on an older processor. The library target itself never carries the flag.
function(backprop_native target)
  if(BACKPROP_NATIVE AND NOT MSVC)
    target_compile_options(${target} PRIVATE -march=native)
    # GCC's AVX-512 intrinsics start from deliberately undefined registers (_mm512_undefined_ps),
    # which GCC 12 then reports as "(may be) used uninitialized" wherever Eigen inlines them.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-uninitialized)
    endif()
  endif()
endfunction()

# The environment of a test that starts MPI: as root, mpirun needs the ALLOW_RUN_AS_ROOT pair;
# more ranks than cores need oversubscription, and waiting ranks must yield or they crawl; Open
# MPI's own allocations at exit are not ours to report (AddressSanitizer's leak check).
set(BACKPROP_MPI_TEST_ENVIRONMENT OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1 ASAN_OPTIONS=detect_leaks=0)
