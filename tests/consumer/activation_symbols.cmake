# cmake -DCOMPILER=<c++> -DINCLUDE=<backprop's include/> -DEIGEN=<Eigen's include folder>
#       -DSOURCE=load_with_activations.cpp -DNM=<nm> -DWORK_DIR=<scratch> -P activation_symbols.cmake
# What a unit that calls load_sequential compiles must not grow with the activations it may name:
# one more activation adds its own functions and nothing else. Compiles SOURCE header-only with the
# built-in activations and with one more (-DEXTRA), and compares the functions each defines. Before
# 0.3, each activation added a layer of every kind that has one (LayerModel<Dense<..., A>>, ...).
cmake_policy(SET CMP0007 NEW)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
foreach(variant builtin extra)
  set(definition)
  if(variant STREQUAL "extra")
    set(definition -DEXTRA)
  endif()
  execute_process(
    COMMAND "${COMPILER}" -std=c++20 -O1 ${definition} "-I${INCLUDE}" "-I${EIGEN}" -c "${SOURCE}"
            -o "${WORK_DIR}/${variant}.o"
    RESULT_VARIABLE status ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${variant} does not compile:\n${err}")
  endif()
  execute_process(COMMAND "${NM}" -C --defined-only --extern-only "${WORK_DIR}/${variant}.o"
                  RESULT_VARIABLE status OUTPUT_VARIABLE symbols)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "nm failed on ${variant}.o")
  endif()
  # Names only (no addresses, no kinds), one per line.
  string(REGEX REPLACE "(^|\n)[0-9a-f]+ [A-Za-z] " "\\1" symbols "${symbols}")
  string(REPLACE "\n" ";" symbols "${symbols}")
  list(REMOVE_ITEM symbols "")
  list(SORT symbols)
  set(${variant} "${symbols}")
endforeach()

# The functions templated on the list of activations (load_sequential's, parse's) are the same
# with the list one longer: name them as the built-in list's.
list(TRANSFORM extra REPLACE ", mine::TwiceTanh>" ">")
# Every other function the extra activation brings is its own: one that names it (and no layer or
# network), or a piece of Eigen's math that it uses (Eigen's tanh).
set(added ${extra})
list(REMOVE_ITEM added ${builtin})
set(others)
foreach(symbol IN LISTS added)
  if(symbol MATCHES "TwiceTanh" AND NOT symbol MATCHES "Layer|Dense|Conv2D|Sequential|Network")
    continue()
  endif()
  if(symbol MATCHES "Eigen::" AND NOT symbol MATCHES "backprop::")
    continue()
  endif()
  list(APPEND others "${symbol}")
endforeach()
list(LENGTH added count)
if(count EQUAL 0)
  message(FATAL_ERROR "the extra activation added nothing: the unit does not compile it at all")
endif()
if(others)
  list(JOIN others "\n  " text)
  message(FATAL_ERROR "one more activation made the unit compile more than the activation:\n  ${text}")
endif()
# And nothing the built-in unit has went missing.
set(missing ${builtin})
list(REMOVE_ITEM missing ${extra})
if(missing)
  list(JOIN missing "\n  " text)
  message(FATAL_ERROR "the extra activation changed what else is compiled:\n  ${text}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "one more activation adds ${count} functions, all its own")
