// Training progress: a bar redrawn in place on a terminal, one plain line per epoch when the
// output is a file or a pipe, or nothing.
//
//   epoch 3/15 [=========>          ] 212/422  27.6k/s  ETA 0:03  loss 0.3142
//
// The bar fits the terminal: it asks the terminal for its width (else $COLUMNS, else 80 columns)
// and drops the rate, then the bar itself, rather than wrap. Its loss is the running mean of the
// epoch so far, the number the epoch's summary line then reports.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#if defined(_WIN32)
#include <io.h>
#define BACKPROP_ISATTY(fd) _isatty(fd)
#define BACKPROP_FILENO(f) _fileno(f)
#else
#include <sys/ioctl.h>
#include <unistd.h>
#define BACKPROP_ISATTY(fd) isatty(fd)
#define BACKPROP_FILENO(f) fileno(f)
#endif

#include "config.hpp"

namespace backprop {

/// How fit() reports progress.
enum class Verbosity {
  automatic,  ///< a bar when writing to std::cout on a terminal, else plain lines
  bar,        ///< a bar redrawn in place
  lines,      ///< one line per epoch
  silent      ///< nothing
};

namespace detail {

/// The width of the terminal on standard output: what it says, else $COLUMNS, else 80.
inline int terminal_columns() {
#if !defined(_WIN32)
  winsize size{};
  if (ioctl(BACKPROP_FILENO(stdout), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
#endif
  if (const char* columns = std::getenv("COLUMNS")) {
    int n = 0;
    const char* end = columns + std::char_traits<char>::length(columns);
    if (std::from_chars(columns, end, n).ptr == end && n > 0) return n;
  }
  return 80;
}

}  // namespace detail

/// Draws fit()'s progress on a stream, in the style Verbosity asks for.
class Progress {
 public:
  /// Writes to out; automatic resolves to a bar only on a terminal. The bar fits `columns`
  /// columns, or (0) the terminal's when out is std::cout, else 80.
  Progress(std::ostream& out, Verbosity verbosity, int columns = 0)
      : out_(out), style_(resolve(out, verbosity)), columns_(columns) {
    if (columns_ <= 0) columns_ = &out == &std::cout ? detail::terminal_columns() : 80;
  }

  /// Starts the bar of an epoch of `batches` batches.
  void begin_epoch(int epoch, int epochs, Index batches) {
    epoch_ = epoch;
    epochs_ = epochs;
    batches_ = batches;
    start_ = last_draw_ = Clock::now();
  }

  /// After each batch: `samples` trained so far this epoch, the epoch's running loss. Redrawn at
  /// most ten times a second, and at the last batch.
  void batch(Index done, double samples, double running_loss) {
    if (style_ != Verbosity::bar) return;
    const auto now = Clock::now();
    if (done < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double left = seconds * static_cast<double>(batches_ - done) / static_cast<double>(done);
    out_ << "\r" << line(done, rate(samples / seconds) + "/s", clock(left), running_loss)
         << "\033[K" << std::flush;
  }

  /// The epoch's summary, which replaces the bar.
  void end_epoch(const std::string& summary) { say(summary); }

  /// A line of its own, after the epochs' (early stopping's restored weights).
  void say(const std::string& text) {
    if (style_ == Verbosity::silent) return;
    if (style_ == Verbosity::bar) out_ << "\r\033[K";  // clear the bar's line
    out_ << text << "\n" << std::flush;
  }

  /// The bar's line, at most columns - 1 characters: a line that fills the last column would
  /// wrap on some terminals, and every redraw would then leave a copy behind.
  std::string line(Index done, const std::string& rate, const std::string& eta, double loss) const {
    using detail::concat;
    const std::string head = concat("epoch ", std::to_string(epoch_), "/", std::to_string(epochs_));
    const std::string count = concat(" ", std::to_string(done), "/", std::to_string(batches_));
    const std::string tail = concat("  ETA ", eta, "  loss ",
                                    detail::format_number(loss, std::chars_format::general, 4));
    const int room = columns_ - 1;
    auto bar_width = [&](const std::string& middle) {
      return room - static_cast<int>(head.size() + count.size() + middle.size() + tail.size()) -
             3;  // " [" and "]"
    };
    std::string middle = concat("  ", rate);
    if (bar_width(middle) < 10) middle.clear();
    const int width = std::min(30, bar_width(middle));
    std::string text = head;
    if (width >= 10) {
      const auto filled = static_cast<int>(width * done / batches_);
      const int arrow = filled < width ? 1 : 0;
      text += concat(" [", std::string(static_cast<std::size_t>(filled), '='), arrow ? ">" : "",
                     std::string(static_cast<std::size_t>(width - filled - arrow), ' '), "]");
    }
    text += concat(count, middle, tail);
    return text.substr(0, static_cast<std::size_t>(std::max(room, 0)));
  }

  /// 12.3k, 1.2M: throughput as people read it.
  static std::string rate(double per_second) {
    using detail::format_number;
    if (per_second >= 1e6)
      return format_number(per_second / 1e6, std::chars_format::fixed, 1) + "M";
    if (per_second >= 1e3)
      return format_number(per_second / 1e3, std::chars_format::fixed, 1) + "k";
    return format_number(per_second, std::chars_format::fixed, 0);
  }

  /// 0:07, 12:34, 1:02:03
  static std::string clock(double seconds) {
    const long total = std::lround(std::max(0.0, seconds));
    auto two = [](long v) {  // v < 60
      return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
    };
    if (total >= 3600)
      return std::to_string(total / 3600) + ":" + two(total / 60 % 60) + ":" + two(total % 60);
    return std::to_string(total / 60) + ":" + two(total % 60);
  }

  /// The columns the bar fits in.
  int columns() const { return columns_; }

 private:
  using Clock = std::chrono::steady_clock;

  static Verbosity resolve(std::ostream& out, Verbosity verbosity) {
    if (verbosity != Verbosity::automatic) return verbosity;
    const bool terminal = &out == &std::cout && BACKPROP_ISATTY(BACKPROP_FILENO(stdout));
    return terminal ? Verbosity::bar : Verbosity::lines;
  }

  std::ostream& out_;
  Verbosity style_;
  int columns_;
  int epoch_ = 0, epochs_ = 0;
  Index batches_ = 0;
  Clock::time_point start_, last_draw_;
};

}  // namespace backprop
