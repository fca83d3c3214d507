// The timing loop every C++ peer uses, so that all systems are measured the same way: a warm-up,
// then seven rounds of enough steps to take about 0.2 s each; the median time per step of the
// rounds is the figure. Each peer prints one line per workload:
//
//   RESULT workload=<W1|W2/256|W2/32> system=<name> step_ns=<median> loss=<after N steps> steps=<N>
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace peers {

// Median nanoseconds per call of step(), after a warm-up.
template <class Step>
double median_step_ns(Step&& step) {
  using Clock = std::chrono::steady_clock;
  auto seconds_for = [&](long n) {
    const auto start = Clock::now();
    for (long i = 0; i < n; ++i)
      step();
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  long n = 1;
  while (seconds_for(n) < 0.05)
    n *= 2;  // warm-up, and the size of a round
  n = std::max(1L,
               static_cast<long>(static_cast<double>(n) * 0.2 / std::max(seconds_for(n), 1e-9)));
  std::vector<double> rounds;
  for (int r = 0; r < 7; ++r)
    rounds.push_back(seconds_for(n) / double(n) * 1e9);
  std::nth_element(rounds.begin(), rounds.begin() + 3, rounds.end());
  return rounds[3];
}

inline void report(const std::string& workload, const std::string& system, double step_ns,
                   double loss, int steps) {
  std::printf("RESULT workload=%s system=%s step_ns=%.1f loss=%.9g steps=%d\n", workload.c_str(),
              system.c_str(), step_ns, loss, steps);
  std::fflush(stdout);
}

}  // namespace peers
