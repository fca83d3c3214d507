# cmake -DCOMPILER=<c++> -DINCLUDE=<backprop's include/> -DEIGEN=<Eigen's include folder>
#       -DSOURCE=<a program> -DWORK_DIR=<scratch> -DSTANDARD=<c++20 or c++17> -DEXPECTED=<regex>
#       -P copy_in.cmake
# The adoption without CMake: copy include/ into a project's third_party folder and build SOURCE
# with one compiler command. With -std=c++20 the program must build and print EXPECTED; with an
# older standard the compiler must stop at once, saying EXPECTED, in at most two errors.
file(REMOVE_RECURSE "${WORK_DIR}")
file(COPY "${INCLUDE}/" DESTINATION "${WORK_DIR}/third_party/backprop/include")
execute_process(
  COMMAND "${COMPILER}" -std=${STANDARD} -O1 "-I${WORK_DIR}/third_party/backprop/include"
          "-I${EIGEN}" "${SOURCE}" -o "${WORK_DIR}/program"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(STANDARD STREQUAL "c++20")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "the copied headers do not build:\n${err}")
  endif()
  execute_process(COMMAND "${WORK_DIR}/program" RESULT_VARIABLE status OUTPUT_VARIABLE out)
  if(NOT status EQUAL 0 OR NOT out MATCHES "${EXPECTED}")
    message(FATAL_ERROR "the program printed (status ${status}):\n${out}")
  endif()
else()
  string(REGEX MATCHALL "error:" errors "${err}")
  list(LENGTH errors count)
  if(status EQUAL 0 OR NOT err MATCHES "${EXPECTED}" OR count GREATER 2)
    message(FATAL_ERROR "expected one clear error, got (status ${status}, ${count} errors):\n${err}")
  endif()
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "as expected: ${out}${err}")
