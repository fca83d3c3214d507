// Data-parallel training over MPI, run by CTest under mpiexec -n 1, 2 and 4. Each rank trains with
// the others and also alone (in-process, no collective), and compares. Rank 0 prints
// "mpi tests passed on N ranks" when every check on every rank passed.
//
//   mpi_tests            the checks
//   mpi_tests --abort    the last rank throws out of main while the others wait in a sum: every
//                        rank must end (exit code 1), never hang
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <backprop/backprop.hpp>
#include <backprop/parallel/mpi.hpp>

#include "parallel_problem.hpp"

using namespace backprop;

namespace {

int failures = 0;

void expect(bool ok, int rank, const char* what, int line) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "rank %d: mpi_test.cpp:%d: FAILED: %s\n", rank, line, what);
}
#define EXPECT(condition) expect((condition), world.rank(), #condition, __LINE__)

template <class Scalar>
FitOptions<Scalar> options(Index batch, int epochs, Collective* group) {
  FitOptions<Scalar> o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.seed = 3;
  o.verbosity = Verbosity::silent;
  o.collective = group;
  return o;
}

// N ranks vs one process, in double and float, with a validation split and uneven slices.
template <class Scalar>
void train_as_one(mpi::Communicator& world, double tolerance) {
  const Problem<Scalar> data(301);
  auto run = [&](Regressor<Scalar>& net, Collective* group) {
    Adam<Scalar> adam({.learning_rate = Scalar(0.01)});
    auto o = options<Scalar>(32, 30, group);  // 300 steps
    o.validation_split = 0.1;
    return fit(net, data.x, data.y, MeanSquared{}, adam, o);
  };
  Regressor<Scalar> together{GlorotUniform{4}}, alone{GlorotUniform{4}};
  const History h = run(together, &world), expected = run(alone, nullptr);
  EXPECT(largest_difference(parameters_of(together), parameters_of(alone)) < tolerance);
  EXPECT(std::abs(h.epochs.back().validation->loss - expected.epochs.back().validation->loss) <
         tolerance);
  EXPECT(replicas_identical(together, world));
}

void reproducible(mpi::Communicator& world) {
  const Problem<float> data(150);
  auto run = [&](Regressor<float>& net, Collective* group) {
    Adam<float> adam({.learning_rate = 0.01f});
    auto o = options<float>(20, 6, group);
    o.reproducible_shards = 8;
    return fit(net, data.x, data.y, MeanSquared{}, adam, o);
  };
  Regressor<float> together{GlorotUniform{6}}, alone{GlorotUniform{6}};
  const History h = run(together, &world), expected = run(alone, nullptr);
  EXPECT(same_bits(together, alone));
  EXPECT(h.epochs.back().train.loss == expected.epochs.back().train.loss);
}

void empty_slices(mpi::Communicator& world) {
  const Problem<double> data(5);  // batches of 2, 2, 1 rows: with 4 ranks most slices are empty
  Regressor<double> together{GlorotUniform{1}}, alone{GlorotUniform{1}};
  Adam<double> a, b;
  fit(together, data.x, data.y, MeanSquared{}, a, options<double>(2, 3, &world));
  fit(alone, data.x, data.y, MeanSquared{}, b, options<double>(2, 3, nullptr));
  EXPECT(largest_difference(parameters_of(together), parameters_of(alone)) < 1e-14);
}

// A callback that throws on the last rank: every rank gets the same error, and can go on.
void one_rank_fails(mpi::Communicator& world) {
  const Problem<double> data(40);
  Regressor<double> net{GlorotUniform{1}};
  Adam<double> adam;
  auto o = options<double>(8, 3, &world);
  o.on_batch_end = [&](const BatchEnd& b) {
    if (world.rank() == world.size() - 1 && b.epoch == 2 && b.batch == 3)
      throw std::logic_error("a callback failed");
  };
  std::string message;
  try {
    fit(net, data.x, data.y, MeanSquared{}, adam, o);
  } catch (const std::exception& e) {
    message = e.what();
  }
  const std::string expected = "a callback failed (member " + std::to_string(world.size() - 1) +
                               " of " + std::to_string(world.size()) + ")";
  EXPECT(message == expected);
  EXPECT(replicas_identical(net, world, adam));
}

void collective_basics(mpi::Communicator& world) {
  std::vector<double> values{1.0 * world.rank(), 0.5};
  world.sum(std::span(values));
  const int n = world.size();
  EXPECT(values[0] == n * (n - 1) / 2.0 && values[1] == 0.5 * n);
  std::vector<float> floats(1000, 1.0f);
  world.sum(std::span(floats));
  EXPECT(floats[999] == static_cast<float>(n));
  long word = world.rank() == n - 1 ? 42 : -1;
  world.broadcast(std::as_writable_bytes(std::span(&word, 1)), n - 1);
  EXPECT(word == 42);
}

}  // namespace

int main(int argc, char** argv) {
  const bool abort_test = argc > 1 && std::string_view(argv[1]) == "--abort";
  return mpi::run(argc, argv, [&](mpi::Communicator& world) {
    if (abort_test) {
      if (world.rank() == world.size() - 1) throw std::runtime_error("a deliberate failure");
      double v = 1;
      world.sum(std::span(&v, 1));  // waits for the rank that threw: MPI_Abort must end it
      return 0;
    }
    collective_basics(world);
    train_as_one<double>(world, 1e-12);
    train_as_one<float>(world, 1e-5);
    reproducible(world);
    empty_slices(world);
    one_rank_fails(world);
    double all = failures;
    world.sum(std::span(&all, 1));
    if (world.rank() == 0) {
      if (all == 0)
        std::printf("mpi tests passed on %d ranks\n", world.size());
      else
        std::printf("%g mpi checks FAILED on %d ranks\n", all, world.size());
    }
    return all == 0 ? 0 : 1;
  });
}
