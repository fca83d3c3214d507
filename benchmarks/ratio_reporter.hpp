// Prints, after the usual table, the ratio of each library benchmark to its hand-written twin.
//
// A benchmark named "<workload>/library<rest>" or "<workload>/library:<variant><rest>" pairs
// with "<workload>/handwritten<rest>". Each
// side's time is the median of its repetitions (Google Benchmark's median aggregate when there
// is one), and both sides run in the same process, so the ratio is the figure to quote: it does
// not drift with the machine the way absolute times do.
#pragma once

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace bench {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      const std::string name = run.run_name.str();
      if (run.run_type == Run::RT_Iteration)
        iterations_[name].push_back(run.GetAdjustedRealTime());
      else if (run.aggregate_name == "median")
        medians_[name] = run.GetAdjustedRealTime();
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf(
        "\nlibrary / hand-written (median real time; below 1.00 means the library is faster)\n");
    const std::map<std::string, double> medians = times();
    for (const auto& [name, library] : medians) {
      const auto at = name.find("/library");
      if (at == std::string::npos) continue;
      auto rest = at + 8;  // after "/library", and after ":<variant>" if there is one
      if (rest < name.size() && name[rest] == ':')
        rest = std::min(name.find('/', rest), name.size());
      const std::string twin = name.substr(0, at) + "/handwritten" + name.substr(rest);
      const auto found = medians.find(twin);
      if (found == medians.end()) continue;
      std::printf("  %-48s %10.1f ns vs %10.1f ns   ratio %.3f\n", name.c_str(), library,
                  found->second, library / found->second);
    }
  }

 private:
  // Median time per benchmark name, in the unit the benchmark reports.
  std::map<std::string, double> times() const {
    std::map<std::string, double> result = medians_;
    for (auto [name, samples] : iterations_) {
      if (result.contains(name)) continue;
      std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
      result[name] = samples[samples.size() / 2];
    }
    return result;
  }

  std::map<std::string, std::vector<double>> iterations_;
  std::map<std::string, double> medians_;
};

// main() for a benchmark binary: five interleaved repetitions unless the command line says
// otherwise, reported with the ratios above.
inline int run_with_ratios(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  const auto given = [&](const char* flag) {
    return std::any_of(args.begin(), args.end(),
                       [&](const char* a) { return std::string(a).starts_with(flag); });
  };
  std::string repetitions = "--benchmark_repetitions=5";
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  if (!given("--benchmark_repetitions")) args.push_back(repetitions.data());
  if (!given("--benchmark_enable_random_interleaving")) args.push_back(interleave.data());
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace bench
