// backprop::mpi: data-parallel training across processes and machines, over MPI. Link the
// optional backprop::mpi target (defined where CMake finds MPI); nothing else in backprop
// includes <mpi.h>.
//
//   int main(int argc, char** argv) {
//     return backprop::mpi::run(argc, argv, [&](backprop::mpi::Communicator& world) {
//       ... read the data, build the network (alike on every rank) ...
//       fit(net, X, Y, loss, adam, {.batch_size = 1024, .collective = &world});
//       if (world.rank() == 0) save_model(net, "model.bpm");  // one rank writes files
//     });
//   }
//
//   mpirun -n 4 ./train
//
// Communicator is the Collective of collective.hpp over a private duplicate of the caller's
// communicator, so its messages never meet the program's own. run() starts and ends MPI, and
// turns an exception on any rank into the end of every rank (MPI_Abort), never a hang: a rank
// that caught the exception and went on to MPI_Finalize would wait there for ranks that wait for
// it in their next sum.
#pragma once

// Open MPI's and MPICH's deprecated C++ bindings warn under -Wextra; backprop uses the C API.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <type_traits>

#include "collective.hpp"

namespace backprop::mpi {

namespace detail {

/// Throws CollectiveError naming the call and MPI's own words for the code, unless it is success.
inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw CollectiveError(std::string("backprop::mpi: ") + call +
                        " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

/// f(pointer, count) over pieces of at most INT_MAX elements: MPI counts are ints.
template <class T, class F>
void in_pieces(std::span<T> data, F&& f) {
  for (std::size_t done = 0; done < data.size();) {
    const std::size_t n = std::min<std::size_t>(data.size() - done, INT_MAX);
    f(data.data() + done, static_cast<int>(n));
    done += n;
  }
}

}  // namespace detail

/// The members of an MPI communicator as a Collective. Sums are MPI_Allreduce in place (every
/// rank receives the same bits), broadcasts MPI_Bcast.
class Communicator final : public Collective {
 public:
  /// A private duplicate of `comm` (a collective call: every rank of comm makes it). MPI must be
  /// initialized; errors on it throw CollectiveError instead of ending the program.
  explicit Communicator(MPI_Comm comm = MPI_COMM_WORLD) {
    detail::check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  /// The duplicate communicator, for a program's own MPI calls alongside.
  MPI_Comm get() const { return comm_; }

  void sum(std::span<double> data) override { add(data, MPI_DOUBLE); }
  void sum(std::span<float> data) override { add(data, MPI_FLOAT); }
  void broadcast(std::span<std::byte> data, int root) override {
    detail::in_pieces(data, [&](std::byte* p, int n) {
      detail::check(MPI_Bcast(p, n, MPI_BYTE, root, comm_), "MPI_Bcast");
    });
  }

 private:
  template <class T>
  void add(std::span<T> data, MPI_Datatype type) {
    detail::in_pieces(data, [&](T* p, int n) {
      detail::check(MPI_Allreduce(MPI_IN_PLACE, p, n, type, MPI_SUM, comm_), "MPI_Allreduce");
    });
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

/// Starts MPI, calls main(world) with a Communicator of every process, ends MPI, and returns
/// main's exit code (0 when main returns void). An exception that leaves main on any rank is
/// printed, "rank r of N: what", and ends every rank with exit code 1.
template <class Main>
int run(int& argc, char**& argv, Main&& main) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "backprop::mpi::run: MPI_Init_thread failed\n");
    return 1;
  }
  int code = 0;
  auto fail = [](const char* what) {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    std::fprintf(stderr, "rank %d of %d: %s\n", rank, size, what);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  };
  try {
    Communicator world;
    if constexpr (std::is_void_v<std::invoke_result_t<Main&, Communicator&>>)
      main(world);
    else
      code = static_cast<int>(main(world));
  } catch (const std::exception& e) {
    fail(e.what());
  } catch (...) {
    fail("an exception that is not a std::exception");
  }
  MPI_Finalize();
  return code;
}

}  // namespace backprop::mpi
