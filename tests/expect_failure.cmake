# cmake -DPROGRAM=... -DARGS="a;b" -DEXPECTED=text -P expect_failure.cmake
# Passes when PROGRAM exits with a non-zero status and its stderr contains EXPECTED.
execute_process(COMMAND "${PROGRAM}" ${ARGS}
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(status EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit status, got 0\nstdout:\n${out}\nstderr:\n${err}")
endif()
string(FIND "${err}" "${EXPECTED}" where)
if(where EQUAL -1)
  message(FATAL_ERROR "stderr does not contain '${EXPECTED}'\nstderr:\n${err}")
endif()
message(STATUS "exit status ${status}, stderr: ${err}")
