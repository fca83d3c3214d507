# What backprop::blas needs: OpenBLAS (Debian: libopenblas-dev) and OpenMP.
# Shared by the build (BackpropBlas.cmake: REQUIRED) and by an installed package's
# backpropConfig.cmake (QUIET: the component is optional there), through BACKPROP_BLAS_FIND_MODE.
if(NOT DEFINED BACKPROP_BLAS_FIND_MODE)
  set(BACKPROP_BLAS_FIND_MODE REQUIRED)
endif()
set(BLA_VENDOR OpenBLAS)
find_package(BLAS ${BACKPROP_BLAS_FIND_MODE})
find_package(OpenMP ${BACKPROP_BLAS_FIND_MODE} COMPONENTS CXX)
