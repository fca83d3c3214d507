// Training progress: a bar redrawn in place on a terminal, one plain line per epoch when the
// output is a file or a pipe, or nothing.
#pragma once

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#if defined(_WIN32)
#include <io.h>
#define BACKPROP_ISATTY(fd) _isatty(fd)
#define BACKPROP_FILENO(f) _fileno(f)
#else
#include <unistd.h>
#define BACKPROP_ISATTY(fd) isatty(fd)
#define BACKPROP_FILENO(f) fileno(f)
#endif

#include "config.hpp"

namespace backprop {

/// How fit() reports progress.
enum class Verbosity {
  automatic,  // a bar when writing to std::cout on a terminal, else plain lines
  bar,
  lines,
  silent
};

/// Draws fit()'s progress on a stream, in the style Verbosity asks for.
class Progress {
 public:
  /// Writes to out; automatic resolves to a bar only on a terminal.
  Progress(std::ostream& out, Verbosity verbosity) : out_(out), style_(resolve(out, verbosity)) {}

  /// Starts the bar of an epoch of `batches` batches.
  void begin_epoch(int epoch, int epochs, Index batches) {
    epoch_ = epoch;
    epochs_ = epochs;
    batches_ = batches;
    start_ = last_draw_ = Clock::now();
  }

  /// After each batch: redrawn at most ten times a second, and at the last batch.
  void batch(Index done, double samples, double loss) {
    if (style_ != Verbosity::bar) return;
    const auto now = Clock::now();
    if (done < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int width = 30;
    const auto filled = static_cast<int>(width * done / batches_);
    const double seconds = std::chrono::duration<double>(now - start_).count();
    std::ostringstream line;
    const auto bar = static_cast<std::size_t>(filled);
    const auto blank = static_cast<std::size_t>(width - filled - (filled < width ? 1 : 0));
    line << "\repoch " << epoch_ << "/" << epochs_ << " [" << std::string(bar, '=')
         << (filled < width ? ">" : "") << std::string(blank, ' ') << "] " << done << "/"
         << batches_ << "  " << rate(samples / seconds) << " samples/s  loss "
         << std::setprecision(4) << loss;
    out_ << line.str() << std::flush;
  }

  /// The epoch's summary, which replaces the bar.
  void end_epoch(const std::string& summary) {
    if (style_ == Verbosity::silent) return;
    if (style_ == Verbosity::bar) out_ << "\r\033[K";  // clear the bar's line
    out_ << summary << "\n" << std::flush;
  }

  /// 12.3k, 1.2M: throughput as people read it.
  static std::string rate(double per_second) {
    char text[32];
    if (per_second >= 1e6)
      std::snprintf(text, sizeof text, "%.1fM", per_second / 1e6);
    else if (per_second >= 1e3)
      std::snprintf(text, sizeof text, "%.1fk", per_second / 1e3);
    else
      std::snprintf(text, sizeof text, "%.0f", per_second);
    return text;
  }

 private:
  using Clock = std::chrono::steady_clock;

  static Verbosity resolve(std::ostream& out, Verbosity verbosity) {
    if (verbosity != Verbosity::automatic) return verbosity;
    const bool terminal = &out == &std::cout && BACKPROP_ISATTY(BACKPROP_FILENO(stdout));
    return terminal ? Verbosity::bar : Verbosity::lines;
  }

  std::ostream& out_;
  Verbosity style_;
  int epoch_ = 0, epochs_ = 0;
  Index batches_ = 0;
  Clock::time_point start_, last_draw_;
};

}  // namespace backprop
