# What backprop::blas needs: OpenBLAS (Debian: libopenblas-dev) and OpenMP.
# Shared by the build (BackpropBlas.cmake) and by an installed package's backpropConfig.cmake.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
