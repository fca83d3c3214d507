# cmake -DCOMPILER=<c++> -DINCLUDE=<backprop's include/> -DEIGEN=<Eigen's include folder>
#       -DWORK_DIR=<scratch> -P light_headers.cmake
# A program that includes only <backprop/network.hpp> and <backprop/optimizer.hpp> (the README's
# first program needs no more) must not pay for files, data, training loops or zlib: the
# compiler's list of the headers it reads (-M) must hold none of them.
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/network_only.cpp"
  "#include <backprop/network.hpp>\n#include <backprop/optimizer.hpp>\nint main() {}\n")
execute_process(
  COMMAND "${COMPILER}" -std=c++20 -M "-I${INCLUDE}" "-I${EIGEN}" "${WORK_DIR}/network_only.cpp"
  RESULT_VARIABLE status OUTPUT_VARIABLE headers ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the headers do not compile alone:\n${err}")
endif()
string(REGEX MATCHALL "[^ \\\n]*(backprop/io/|backprop/data/|backprop/progress\\.hpp|backprop/train\\.hpp|zlib\\.h|<fstream>|/fstream)[^ \\\n]*"
  heavy "${headers}")
if(heavy)
  list(JOIN heavy "\n  " heavy)
  message(FATAL_ERROR "network.hpp and optimizer.hpp pull in:\n  ${heavy}")
endif()
string(REGEX MATCHALL "backprop/[a-z_/]+\\.hpp" read "${headers}")
list(REMOVE_DUPLICATES read)
list(JOIN read ", " read)
message(STATUS "network.hpp and optimizer.hpp read only: ${read}")
