// Threads for large matrix products.
//
// Without the BLAS backend, Eigen computes products itself, on OpenMP threads when the program is
// built with OpenMP. With it (link backprop::blas, which defines BACKPROP_OPENBLAS), OpenBLAS
// computes them on its own threads. set_threads(n) sets both, process-wide; it is the only call
// in the library that writes process-wide state, so call it before computing, not while other
// threads compute.
//
// Each backend sizes the team of every product to its work: Eigen gives each thread at least
// 50,000 multiply-adds, and OpenBLAS runs a product of up to 4 x 65,536 multiply-adds (Debian's
// build) on one thread, so the tutorial's tiny network never wakes a thread. (backprop 0.1 also
// switched to one thread for the products of a layer below 4e6 multiply-adds, by changing the
// process-wide count around them; that write raced with predict on other threads, and it is gone.)
#pragma once

#include <string>

#include <Eigen/Core>

#include "config.hpp"

#if defined(BACKPROP_OPENBLAS)
/// OpenBLAS's own thread controls (cblas.h declares them too).
extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
}
#endif

namespace backprop {

/// Uses up to n threads for large products from now on (n >= 1), process-wide.
inline void set_threads(int n) {
  if (n < 1)
    throw ArgumentError("backprop::set_threads: n must be at least 1, got " + std::to_string(n));
  Eigen::setNbThreads(n);
#if defined(BACKPROP_OPENBLAS)
  openblas_set_num_threads(n);
#endif
}

/// The number of threads large products may use.
inline int threads() {
#if defined(BACKPROP_OPENBLAS)
  return openblas_get_num_threads();
#else
  return Eigen::nbThreads();
#endif
}

/// What computes the large products: "OpenBLAS" or "Eigen".
inline const char* product_backend() {
#if defined(BACKPROP_OPENBLAS)
  return "OpenBLAS";
#else
  return "Eigen";
#endif
}

}  // namespace backprop
