// Threads for large matrix products.
//
// Without the BLAS backend, Eigen computes products itself, on OpenMP threads when the program is
// built with OpenMP. With it (link backprop::blas, which defines BACKPROP_OPENBLAS), OpenBLAS
// computes them on its own threads. set_threads(n) sets both, process-wide.
//
// After set_threads(n > 1), the layers run each product below parallel_product_work
// multiply-adds on one thread: waking threads costs more than they save there. (Measured on the
// 784-128-10 step with OpenBLAS on 2 cores: batch 32 was 9% slower on 2 threads, batch 64 8%
// faster. tiny-dnn's fully connected layers got slower with threads on for the same reason.)
#pragma once

#include <atomic>
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

namespace detail {

inline constexpr double parallel_product_work = 4e6;

/// What set_threads asked for; 0 until it is called.
inline std::atomic<int> requested_threads{0};

inline void use_threads(int n) {
  Eigen::setNbThreads(n);
#if defined(BACKPROP_OPENBLAS)
  openblas_set_num_threads(n);
#endif
}

/// While alive, keeps a product of `multiply_adds` on one thread if it is small and threads were
/// asked for; otherwise does nothing.
class ProductThreads {
 public:
  explicit ProductThreads(double multiply_adds)
      : threads_(multiply_adds < parallel_product_work
                     ? requested_threads.load(std::memory_order_relaxed)
                     : 0) {
    if (threads_ > 1) use_threads(1);
  }
  ~ProductThreads() {
    if (threads_ > 1) use_threads(threads_);
  }
  ProductThreads(const ProductThreads&) = delete;
  ProductThreads& operator=(const ProductThreads&) = delete;

 private:
  int threads_;
};

}  // namespace detail

/// Uses up to n threads for large products from now on (n >= 1), process-wide.
inline void set_threads(int n) {
  if (n < 1)
    throw ArgumentError("backprop::set_threads: n must be at least 1, got " + std::to_string(n));
  detail::requested_threads = n;
  detail::use_threads(n);
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
