# backprop::blas: the usage requirements of the optional BLAS backend.
#
# A target that links it compiles Eigen with EIGEN_USE_BLAS, so large matrix products go to
# OpenBLAS's sgemm/dgemm and its threads; Eigen's own parallel code uses OpenMP. Small products
# stay single-threaded in both: OpenBLAS runs a GEMM of fewer than 65536 multiply-adds on one
# thread, Eigen below its own work threshold, and Eigen evaluates tiny products (like the
# tutorial's 2-3-1 network) itself, coefficient by coefficient, without calling BLAS at all.
# Thread counts: backprop::set_threads(n) in <backprop/threads.hpp>.
include(BackpropBlasDependencies)
add_library(backprop_blas INTERFACE)
add_library(backprop::blas ALIAS backprop_blas)
set_target_properties(backprop_blas PROPERTIES EXPORT_NAME blas)
target_link_libraries(backprop_blas INTERFACE backprop BLAS::BLAS OpenMP::OpenMP_CXX)
target_compile_definitions(backprop_blas INTERFACE EIGEN_USE_BLAS BACKPROP_OPENBLAS)
set(BACKPROP_BLAS_TARGET backprop_blas)
message(STATUS "backprop: backprop::blas uses ${BLAS_LIBRARIES} and OpenMP ${OpenMP_CXX_VERSION}")
