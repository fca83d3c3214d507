# cmake -DFIRST=<program> -DSECOND=<program> -P same_output.cmake
# Runs both programs and fails unless both succeed and print the same (the README programs built
# header-only and in the compiled mode).
foreach(program FIRST SECOND)
  execute_process(COMMAND "${${program}}" RESULT_VARIABLE status OUTPUT_VARIABLE out_${program}
                  ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${${program}} failed (${status}):\n${out_${program}}\n${err}")
  endif()
endforeach()
if(NOT out_FIRST STREQUAL out_SECOND)
  message(FATAL_ERROR "they print differently:\n--- ${FIRST}\n${out_FIRST}\n--- ${SECOND}\n${out_SECOND}")
endif()
message(STATUS "both print:\n${out_FIRST}")
