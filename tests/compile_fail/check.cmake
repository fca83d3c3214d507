# cmake -DBUILD_DIR=... -DTARGET=... -DCONFIG=... -DEXPECTED=regex -DMAX_ERRORS=n -P check.cmake
# Passes when building TARGET fails, the compiler's output matches EXPECTED, and the compiler
# reports at most MAX_ERRORS errors: a mistake gets one clear message, not pages of Eigen.
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" --config "${CONFIG}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(output "${out}${err}")
if(status EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it must not")
endif()
if(NOT output MATCHES "${EXPECTED}")
  message(FATAL_ERROR "the compiler's output does not match '${EXPECTED}':\n${output}")
endif()
string(REGEX MATCHALL "error:" errors "${output}")
list(LENGTH errors count)
if(count GREATER MAX_ERRORS)
  message(FATAL_ERROR "${count} errors, expected at most ${MAX_ERRORS}:\n${output}")
endif()
message(STATUS "${count} error(s), as expected")
