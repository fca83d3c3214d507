// History: what fit() reports of every epoch, ready to print, plot or write as CSV.
#pragma once

#include <charconv>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../metrics.hpp"
#include "../progress.hpp"

namespace backprop {

/// What one epoch scored.
struct EpochRecord {
  int epoch = 0;  ///< from 1
  double learning_rate = 0;
  double seconds = 0;
  Scores train;                        ///< running over the epoch's batches, as the weights moved
  std::optional<Scores> validation{};  ///< at the end of the epoch
};

/// Every epoch of a fit(), in order, ready to print or plot.
struct History {
  std::vector<EpochRecord> epochs;
  int best_epoch = 0;  ///< the epoch whose weights the network holds after fit()
  bool stopped_early = false;

  /// One row per epoch: epoch, learning_rate, seconds, loss and metrics, then val_ columns. The
  /// numbers are written in the C locale, whatever the stream's, and read back exactly.
  void write_csv(std::ostream& out) const {
    if (epochs.empty()) return;
    const EpochRecord& first = epochs.front();
    std::string text = "epoch,learning_rate,seconds";
    add_header(text, first.train, "");
    if (first.validation) add_header(text, *first.validation, "val_");
    text += "\n";
    for (const EpochRecord& e : epochs) {
      text += std::to_string(e.epoch);
      add(text, e.learning_rate);
      add(text, e.seconds);
      add_values(text, e.train);
      if (e.validation) add_values(text, *e.validation);
      text += "\n";
    }
    out << text;
  }

 private:
  // ",v": the shortest text that reads back as v.
  static void add(std::string& text, double v) {
    text += ',';
    text += detail::format_number(v, std::chars_format::general);
  }
  static void add_header(std::string& text, const Scores& s, const std::string& prefix) {
    auto column = [&](const char* name) {
      text += ',';
      text += prefix;
      text += name;
    };
    column("loss");
    if (s.accuracy) column("accuracy");
    if (s.mse) {
      column("mse");
      column("mae");
    }
  }
  static void add_values(std::string& text, const Scores& s) {
    add(text, s.loss);
    if (s.accuracy) add(text, *s.accuracy);
    if (s.mse) {
      add(text, *s.mse);
      add(text, *s.mae);
    }
  }
};

namespace detail {

inline std::string format_scores(const Scores& s, const std::string& prefix) {
  auto number = [](double v) { return format_number(v, std::chars_format::general, 4); };
  std::string text = "  " + prefix + "loss " + number(s.loss);
  if (s.accuracy) text += "  " + prefix + "accuracy " + number(*s.accuracy);
  if (s.mse)
    text += "  " + prefix + "mse " + number(*s.mse) + "  " + prefix + "mae " + number(*s.mae);
  return text;
}

/// "epoch 3/10  loss 0.31  accuracy 0.89  val_loss ...  lr 0.001  2.1 s  27.6k samples/s"
inline std::string epoch_summary(const EpochRecord& record, int epochs, Index samples) {
  return "epoch " + std::to_string(record.epoch) + "/" + std::to_string(epochs) +
         format_scores(record.train, "") +
         (record.validation ? format_scores(*record.validation, "val_") : "") + "  lr " +
         format_number(record.learning_rate, std::chars_format::general, 3) + "  " +
         format_number(record.seconds, std::chars_format::fixed, 1) + " s  " +
         Progress::rate(static_cast<double>(samples) / record.seconds) + " samples/s";
}

}  // namespace detail

}  // namespace backprop
