# cmake -DMODE=... -DSOURCE_DIR=<backprop sources> -DBUILD_DIR=<backprop build> -DWORK_DIR=<scratch>
#       -P run.cmake
# Builds and runs the consumer project in tests/consumer the MODE way; for find_package it first
# installs backprop from BUILD_DIR into a prefix under WORK_DIR.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${status}): ${command}\n${out}\n${err}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

# No optimization: these test how the package is found and linked, and -O0 compiles fastest.
set(arguments -DMODE=${MODE} -DCMAKE_BUILD_TYPE=)
if(MODE MATCHES "^find_package")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
  list(APPEND arguments "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
  if(MODE STREQUAL "find_package")
    # A user of backprop::backprop alone does not need zlib: hide it from this consumer.
    list(APPEND arguments -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON)
  endif()
else()
  list(APPEND arguments "-DBACKPROP_SOURCE_DIR=${SOURCE_DIR}")
endif()
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumer" -B "${WORK_DIR}/build" ${arguments})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --parallel 2)
run("${WORK_DIR}/build/consumer")
message(STATUS "${output}")
file(REMOVE_RECURSE "${WORK_DIR}")
