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
//
// The image layers' own loops (im2col, pooling, their blocks of products) also share the work
// among threads() OpenMP threads, where the program is built with OpenMP (-fopenmp): detail::
// parallel_for. Without OpenMP they run on the calling thread, as Eigen's products do then.
#pragma once

#include <algorithm>
#include <string>

#include <Eigen/Core>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "../config.hpp"

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

namespace detail {

/// rows [first, first + count): of a batch, of a block, of anything cut into parts
struct RowRange {
  Index first = 0, count = 0;
};

/// Part k of n things cut into `parts` nearly equal parts: [k n / parts, (k + 1) n / parts).
inline RowRange part_of(Index n, Index k, Index parts) {
  const Index first = n * k / parts;
  return {first, n * (k + 1) / parts - first};
}

/// How many threads parallel_for shares work among: threads(), where the program is built with
/// OpenMP and is not already inside an OpenMP team; else 1.
inline int parallel_threads() {
#if defined(_OPENMP)
  return omp_in_parallel() ? 1 : std::max(1, Eigen::nbThreads());
#else
  return 1;
#endif
}

/// f(i, thread) for every i in [0, n), each i once, spread in contiguous runs over
/// parallel_threads() threads (thread from 0). f must not throw. An Eigen product that f makes
/// runs on f's thread alone (Eigen does not nest its own threads in a team).
template <class F>
void parallel_for(Index n, F&& f) {
#if defined(_OPENMP)
  const int team = static_cast<int>(std::min<Index>(n, parallel_threads()));
  if (team > 1) {
#pragma omp parallel for num_threads(team) schedule(static)
    for (Index i = 0; i < n; ++i)
      f(i, omp_get_thread_num());
    return;
  }
#endif
  for (Index i = 0; i < n; ++i)
    f(i, 0);
}

}  // namespace detail

/// What computes the large products: "OpenBLAS" or "Eigen".
inline const char* product_backend() {
#if defined(BACKPROP_OPENBLAS)
  return "OpenBLAS";
#else
  return "Eigen";
#endif
}

}  // namespace backprop
