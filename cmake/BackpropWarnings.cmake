# Strict warnings for the project's own targets (tests, examples, benchmarks).
# They are set per target and never on the backprop INTERFACE target, so consumers keep their flags.
function(backprop_strict_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /WX)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endif()
endfunction()
