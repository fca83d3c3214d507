// Data-parallel scaling over MPI: run it under mpirun with 1 and 2 ranks on an idle machine.
//
//   mpirun -n 2 ./build/benchmarks/data_parallel_step [--steps 40]
//
// Not Google Benchmark: every rank must make the same calls, so each measurement runs a fixed
// number of steps. Every figure comes from fit() itself (float, Adam, softmax cross-entropy,
// random pixels in [0, 1)), timed from the end of the 4th batch to the end of the last, median of
// 5 runs. In the same run, with the other ranks asleep:
//   alone      rank 0 alone trains the global batch (the reference of strong scaling) and the
//              per-rank batch (the reference of weak scaling)
//   together   every rank trains together, at the global batch (strong) and at N x the per-rank
//              batch (weak)
//   wait       the time a step of `together` (strong) waits for the slower rank before its one
//              sum of the gradient (a sum of one number first lines the ranks up)
//   sum        the time that step then spends in the sum itself
//   allreduce  one in-place sum of the same floats, ranks in step, as a bare MPI call
// The rest of a step's excess over its share of the compute is the ranks' contention for the
// memory and caches they share on one machine, not communication.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <backprop/optimizer.hpp>
#include <backprop/parallel/mpi.hpp>
#include <backprop/random.hpp>
#include <backprop/sequential.hpp>
#include <backprop/train.hpp>

namespace {

using namespace backprop;
using Clock = std::chrono::steady_clock;

Sequential<float> mlp() {
  Sequential<float> net(784);
  net.add_dense<ReLU>(256).add_dense<ReLU>(128).add_dense<Softmax>(10);
  return net;
}

// The example's CNN without its batch norm and dropout, which do not split across ranks yet.
Sequential<float> cnn() {
  Sequential<float> net(Shape{1, 28, 28});
  net.add_conv2d<ReLU>(32, {3, 3}, {1, 1}, {1, 1}).add_max_pool2d();
  net.add_conv2d<ReLU>(64, {3, 3}, {1, 1}, {1, 1}).add_max_pool2d();
  net.add_dense<ReLU>(128).add_dense<Softmax>(10);
  return net;
}

// Random pixels in [0, 1) and one-hot labels, the same on every rank (every rank must be given
// the same data: fit checks).
struct Data {
  Eigen::MatrixXf x, y;
  Data(Index rows, Index inputs) : x(rows, inputs), y(Eigen::MatrixXf::Zero(rows, 10)) {
    Xoshiro256 random(7);
    for (float& pixel : x.reshaped())
      pixel = static_cast<float>(random.next() >> 40) * 0x1p-24f;
    for (Index r = 0; r < rows; ++r)
      y(r, (r * 7) % 10) = 1;
  }
};

constexpr int warmup = 4;

// Forwards to a group and times its sums of floats: the one sum of a training step.
class TimedSums final : public Collective {
 public:
  explicit TimedSums(Collective& group) : group_(group) {}
  int rank() const override { return group_.rank(); }
  int size() const override { return group_.size(); }
  void sum(std::span<double> data) override { group_.sum(data); }
  void sum(std::span<float> data) override {
    const auto start = Clock::now();
    double line_up = 0;
    group_.sum(std::span(&line_up, 1));
    const auto lined_up = Clock::now();
    group_.sum(data);
    waiting += std::chrono::duration<double>(lined_up - start).count();
    summing += std::chrono::duration<double>(Clock::now() - lined_up).count();
  }
  void broadcast(std::span<std::byte> data, int root) override { group_.broadcast(data, root); }
  double waiting = 0, summing = 0;

 private:
  Collective& group_;
};

struct StepTime {
  double seconds = 0;  // per step
  double waiting = 0;  // per step, for the slower rank before the sum of the gradient
  double summing = 0;  // per step, in the sum of the gradient
};

// A step of fit() over `steps` batches of `batch` rows, median of 5; on `group` or alone.
template <class Make>
StepTime step_time(Make make, Index batch, int steps, Collective* group) {
  std::vector<StepTime> runs;
  for (int run = 0; run < 5; ++run) {
    Sequential<float> net = make();
    net.initialize(HeNormal{1});
    const Data data(batch * (steps + warmup), net.widths().front());
    Adam<float> adam;
    std::optional<TimedSums> timed;
    if (group) timed.emplace(*group);
    Clock::time_point start;
    FitOptions<float> options{.epochs = 1, .batch_size = batch, .shuffle = false};
    options.verbosity = Verbosity::silent;
    options.collective = timed ? &*timed : nullptr;
    options.on_batch_end = [&](const BatchEnd& b) {
      if (b.batch != warmup) return;
      start = Clock::now();
      if (timed) timed->waiting = timed->summing = 0;
    };
    fit(net, data.x, data.y, SoftmaxCrossEntropy{}, adam, options);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    runs.push_back(
        {seconds / steps, timed ? timed->waiting / steps : 0, timed ? timed->summing / steps : 0});
  }
  std::sort(runs.begin(), runs.end(),
            [](const StepTime& a, const StepTime& b) { return a.seconds < b.seconds; });
  return runs[2];
}

// Seconds of one in-place sum of `floats` floats, median of 51.
double allreduce_seconds(Collective& world, Index floats) {
  std::vector<float> buffer(static_cast<std::size_t>(floats), 1.0f);
  std::vector<double> runs;
  for (int i = 0; i < 51; ++i) {
    const auto start = Clock::now();
    world.sum(std::span(buffer));
    runs.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::nth_element(runs.begin(), runs.begin() + 25, runs.end());
  return runs[25];
}

// A barrier whose waiters sleep: a rank spinning in MPI while rank 0 measures alone would take
// from it what the two cores share.
void sleep_until_all_arrive(mpi::Communicator& world) {
  MPI_Request request;
  MPI_Ibarrier(world.get(), &request);
  for (int arrived = 0; !arrived;) {
    MPI_Test(&request, &arrived, MPI_STATUS_IGNORE);
    if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// rank 0 alone (the others sleep in a sum), then everybody: one workload's row.
template <class Make>
void measure(mpi::Communicator& world, const char* name, Make make, Index global, int steps) {
  const int ranks = world.size();
  const Index per_rank = global / ranks;
  StepTime alone_global, alone_share;
  if (world.rank() == 0) {
    alone_global = step_time(make, global, steps, nullptr);
    alone_share = step_time(make, per_rank, steps, nullptr);
  }
  sleep_until_all_arrive(world);
  const StepTime strong = step_time(make, global, steps, &world);
  const StepTime weak = step_time(make, per_rank * ranks, steps, &world);
  const Index parameters = make().parameter_count();
  const double allreduce = allreduce_seconds(world, parameters + 1 + ranks);
  if (world.rank() != 0) return;
  auto ms = [](double s) { return s * 1e3; };
  std::printf(
      "SCALING workload=%s ranks=%d batch=%lld parameters=%lld alone_ms=%.6g together_ms=%.6g "
      "share_ms=%.6g weak_ms=%.6g wait_ms=%.6g sum_ms=%.6g allreduce_ms=%.6g\n",
      name, ranks, static_cast<long long>(global), static_cast<long long>(parameters),
      ms(alone_global.seconds), ms(strong.seconds), ms(alone_share.seconds), ms(weak.seconds),
      ms(strong.waiting), ms(strong.summing), ms(allreduce));
  std::printf("%-24s %5lld %9.2f %9.2f %7.2fx %5lld %9.2f %9.2f %6.0f%% %7.3f %7.3f %7.3f\n", name,
              static_cast<long long>(global), ms(alone_global.seconds), ms(strong.seconds),
              alone_global.seconds / strong.seconds, static_cast<long long>(per_rank),
              ms(alone_share.seconds), ms(weak.seconds), 100 * alone_share.seconds / weak.seconds,
              ms(strong.waiting), ms(strong.summing), ms(allreduce));
}

}  // namespace

int main(int argc, char** argv) {
  return mpi::run(argc, argv, [&](mpi::Communicator& world) {
    int steps = 40;
    for (int i = 1; i + 1 < argc; ++i)
      if (std::string_view(argv[i]) == "--steps") steps = std::max(1, std::atoi(argv[i + 1]));
    if (world.rank() == 0) {
      std::printf("data-parallel fit() steps on %d rank%s, float, Adam; ms per step, median of 5\n",
                  world.size(), world.size() > 1 ? "s" : "");
      std::printf("%-24s %5s %9s %9s %8s %5s %9s %9s %7s %7s %7s %7s\n", "", "", "strong", "", "",
                  "", "weak", "", "", "", "", "");
      std::printf("%-24s %5s %9s %9s %8s %5s %9s %9s %7s %7s %7s %7s\n", "workload", "batch",
                  "alone", "together", "speedup", "share", "alone", "together", "effic.", "wait",
                  "sum", "allred.");
    }
    measure(world, "MLP_784-256-128-10", mlp, 1024, steps);
    measure(world, "MLP_784-256-128-10", mlp, 256, steps);
    measure(world, "CNN_c32-p-c64-p-128-10", cnn, 256, std::max(steps / 8, 3));
  });
}
