# cmake -DSOURCE_DIR=<backprop sources> -DWORK_DIR=<scratch> -P without_catch2.cmake
# Configures backprop as the top-level project with Catch2 hidden, then installs it: both must
# succeed, saying that the tests are not built, and the installed headers must be there.
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build"
          -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON -DBACKPROP_BUILD_EXAMPLES=OFF
          -DBACKPROP_BUILD_BENCHMARKS=OFF
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "configure failed without Catch2:\n${out}\n${err}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${WORK_DIR}/build" --prefix "${WORK_DIR}/prefix"
  RESULT_VARIABLE status OUTPUT_VARIABLE install_out ERROR_VARIABLE err)
if(NOT status EQUAL 0 OR NOT EXISTS "${WORK_DIR}/prefix/include/backprop/backprop.hpp")
  message(FATAL_ERROR "install failed without Catch2:\n${install_out}\n${err}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "${out}")
