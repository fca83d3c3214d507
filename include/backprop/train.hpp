// fit(): train a network over epochs of shuffled minibatches, with validation, metrics,
// callbacks, early stopping and learning-rate schedules; it returns the history of every epoch.
//
//   FitOptions<float> options{.epochs = 10, .batch_size = 128, .seed = 7,
//                             .validation_split = 0.1};
//   History history = fit(net, X, Y, SoftmaxCrossEntropy{}, adam, options);
//
// Works with Network and Sequential alike. Everything random (the validation split, the order of
// the batches) comes from options.seed, so the same seed gives the same history, bit for bit
// apart from the timings. Dropout layers draw from their own seeds.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "config.hpp"
#include "data/split.hpp"
#include "loss.hpp"
#include "metrics.hpp"
#include "progress.hpp"
#include "random.hpp"

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

  /// One row per epoch: epoch, learning_rate, seconds, loss and metrics, then val_ columns.
  void write_csv(std::ostream& out) const {
    if (epochs.empty()) return;
    const EpochRecord& first = epochs.front();
    out << "epoch,learning_rate,seconds";
    write_header(out, first.train, "");
    if (first.validation) write_header(out, *first.validation, "val_");
    out << "\n";
    for (const EpochRecord& e : epochs) {
      out << e.epoch << "," << std::setprecision(9) << e.learning_rate << "," << e.seconds;
      write_values(out, e.train);
      if (e.validation) write_values(out, *e.validation);
      out << "\n";
    }
  }

 private:
  static void write_header(std::ostream& out, const Scores& s, const char* prefix) {
    out << "," << prefix << "loss";
    if (s.accuracy) out << "," << prefix << "accuracy";
    if (s.mse) out << "," << prefix << "mse," << prefix << "mae";
  }
  static void write_values(std::ostream& out, const Scores& s) {
    out << "," << s.loss;
    if (s.accuracy) out << "," << *s.accuracy;
    if (s.mse) out << "," << *s.mse << "," << *s.mae;
  }
};

/// Held-out data: X (samples, inputs) and Y (samples, outputs), referenced, not copied: they
/// must outlive the fit() that uses them.
template <class Scalar>
struct ValidationData {
  /// A reference to a column-major matrix or block.
  using Input = Eigen::Ref<const Eigen::Matrix<Scalar, Dynamic, Dynamic>>;
  /// X: (samples, inputs), Y: (samples, outputs).
  ValidationData(const Input& x_, const Input& y_) : x(x_), y(y_) {}
  /// Refers to the same matrices.
  ValidationData(const ValidationData&) = default;
  // Eigen::Ref cannot be reassigned, only rebuilt: so is a ValidationData, so that
  // `options.validation = ValidationData<float>{x, y}` works.
  /// Refers to other's matrices from now on.
  ValidationData& operator=(const ValidationData& other) {
    if (this != &other) {
      std::destroy_at(this);
      std::construct_at(this, other);
    }
    return *this;
  }
  Input x, y;
};

/// What FitOptions::on_batch_end sees after each batch.
struct BatchEnd {
  int epoch;    ///< from 1
  Index batch;  ///< from 1
  Index batches;
  double loss;
};

/// What FitOptions::on_epoch_end sees after each epoch; it may ask to stop.
struct EpochEnd {
  const EpochRecord& record;
  bool stop = false;  ///< set it to end training after this epoch
};

/// How fit() trains: epochs, batches, validation, early stopping, schedule, callbacks, output.
template <class Scalar>
struct FitOptions {
  int epochs = 10;        ///< train until this epoch
  int initial_epoch = 0;  ///< epochs already trained: resume after them (their batch orders and
                          // schedule steps are replayed, not trained), as Keras's initial_epoch
  Index batch_size = 32;  ///< the last batch of an epoch takes what is left
  bool shuffle = true;    ///< a new order of the training rows every epoch
  std::uint64_t seed = 0;

  /// Validation: either held-out data, or a fraction of the rows drawn at random (with the seed)
  /// and kept out of training.
  std::optional<ValidationData<Scalar>> validation{};
  double validation_split = 0;

  /// Early stopping: after `patience` epochs without the validation loss improving by more than
  /// min_delta, stop. Either way the network ends with the weights of its best epoch. 0: off.
  int early_stopping_patience = 0;
  double early_stopping_min_delta = 0;

  /// The learning rate of each epoch (from 0) given the optimizer's initial one: StepDecay,
  /// CosineDecay or any callable. Empty: constant.
  std::function<double(int epoch, double initial)> schedule{};

  std::function<void(const BatchEnd&)> on_batch_end{};  ///< called after every batch
  std::function<void(EpochEnd&)> on_epoch_end{};        ///< called after every epoch

  Verbosity verbosity = Verbosity::automatic;  ///< a bar, lines, or nothing
  std::ostream* out = &std::cout;              ///< where progress goes
};

namespace detail {

template <class Scalar>
void check_fit_options(const FitOptions<Scalar>& o) {
  auto fail = [](const std::string& what) { throw ArgumentError("backprop::fit: " + what); };
  if (o.epochs < 1) fail("epochs must be at least 1, got " + std::to_string(o.epochs));
  if (o.initial_epoch < 0 || o.initial_epoch >= o.epochs)
    fail("initial_epoch must be in [0, epochs), got " + std::to_string(o.initial_epoch));
  if (o.batch_size < 1) fail("batch_size must be at least 1, got " + std::to_string(o.batch_size));
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    fail("validation_split must be in [0, 1), got " + number_string(o.validation_split));
  if (o.validation_split > 0 && o.validation)
    fail("give either validation data or a validation_split, not both");
  if (o.early_stopping_patience < 0)
    fail("early_stopping_patience must be >= 0, got " + std::to_string(o.early_stopping_patience));
  if (!(o.early_stopping_min_delta >= 0))
    fail("early_stopping_min_delta must be >= 0, got " + number_string(o.early_stopping_min_delta));
  if (o.early_stopping_patience > 0 && !o.validation && o.validation_split == 0)
    fail(
        "early stopping watches the validation loss: give validation data or a "
        "validation_split");
  if (!o.out) fail("out must not be null");
}

/// Throws ArgumentError naming the first NaN or Inf in M, which is data called `what`.
template <class M>
void check_finite_data(const Eigen::MatrixBase<M>& m, const char* what) {
  for (Index c = 0; c < m.cols(); ++c)
    for (Index r = 0; r < m.rows(); ++r)
      if (!std::isfinite(m(r, c)))
        throw ArgumentError(std::string("backprop::fit: ") + what + " holds " +
                            number_string(double(m(r, c))) + " at row " + std::to_string(r) +
                            ", column " + std::to_string(c) + "; training needs finite numbers");
}

inline std::string format_scores(const Scores& s, const char* prefix) {
  std::ostringstream out;
  out << std::setprecision(4) << "  " << prefix << "loss " << s.loss;
  if (s.accuracy) out << "  " << prefix << "accuracy " << *s.accuracy;
  if (s.mse) out << "  " << prefix << "mse " << *s.mse << "  " << prefix << "mae " << *s.mae;
  return out.str();
}

/// The scores of the network on (X, Y), evaluated in chunks so that memory stays bounded.
template <class Net, class L, class X, class Y>
Scores evaluate(const Net& net, const X& x, const Y& y, const L& criterion, Index chunk) {
  ScoreAccumulator scores(task_of<L>, L::averages);
  for (Index start = 0; start < x.rows(); start += chunk) {
    const Index n = std::min(chunk, x.rows() - start);
    const auto xs = x.middleRows(start, n);
    const auto ys = y.middleRows(start, n);
    scores.add_loss(net.loss(xs, ys, criterion, [&](const auto& a) { scores.add_outputs(a, ys); }),
                    n);
  }
  return scores.result();
}

}  // namespace detail

/// Trains `net` on X: (samples, inputs) and Y: (samples, outputs). Throws ArgumentError for bad
/// options, ShapeError for data that does not fit the network, and NumericError (naming the epoch
/// and batch) when the loss turns non-finite; the network then keeps the weights from before that
/// step.
template <class Net, class X, class Y, LossFunction L, class Optimizer>
History fit(Net& net, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
            const L& criterion, Optimizer& optimizer,
            const FitOptions<typename Net::Scalar>& options = {}) {
  using Scalar = typename Net::Scalar;
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  detail::check_fit_options(options);
  if (x.rows() != y.rows() || x.rows() == 0)
    throw ShapeError("backprop::fit: X is " + detail::shape_string(x.rows(), x.cols()) +
                     " and Y is " + detail::shape_string(y.rows(), y.cols()) +
                     ": they need the same number of rows, at least one");
  detail::check_finite_data(x, "X");
  detail::check_finite_data(y, "Y");

  // Split, then keep the training rows row-major: each batch gathers whole samples.
  Xoshiro256 random(options.seed);
  std::vector<Index> training_rows(static_cast<std::size_t>(x.rows()));
  std::iota(training_rows.begin(), training_rows.end(), Index{0});
  std::optional<Matrix> split_x, split_y;
  if (options.validation_split > 0) {
    auto [train, held_out] = detail::split_rows(x.rows(), options.validation_split, random, "fit");
    split_x = detail::gather_rows<Scalar>(x, held_out);
    split_y = detail::gather_rows<Scalar>(y, held_out);
    training_rows = std::move(train);
  }
  const auto train_x = detail::gather_rows<Scalar, Eigen::RowMajor>(x, training_rows);
  const auto train_y = detail::gather_rows<Scalar, Eigen::RowMajor>(y, training_rows);
  const Index samples = train_x.rows();
  const Index batches = (samples + options.batch_size - 1) / options.batch_size;
  const Index batch_size = std::min(options.batch_size, samples);
  Matrix xb(batch_size, x.cols()), yb(batch_size, y.cols());
  std::vector<Index> rows(static_cast<std::size_t>(samples));
  std::iota(rows.begin(), rows.end(), Index{0});

  std::optional<ValidationData<Scalar>> validation = options.validation;
  if (split_x) validation.emplace(ValidationData<Scalar>{*split_x, *split_y});

  /// The schedule starts from the optimizer's rate, which fit gives back when it returns.
  const double initial_rate = static_cast<double>(optimizer.learning_rate());
  struct RestoreRate {
    Optimizer& optimizer;
    double rate;
    ~RestoreRate() { optimizer.set_learning_rate(static_cast<Scalar>(rate)); }
  } restore_rate{optimizer, initial_rate};
  const bool early_stopping = options.early_stopping_patience > 0;
  std::vector<Matrix> best_weights;
  double best_loss = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;

  History history;
  Progress progress(*options.out, options.verbosity);
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    // Every epoch draws its order, trained or not, so that a resumed run sees the same orders.
    if (options.shuffle) shuffle(rows.begin(), rows.end(), random);
    if (epoch <= options.initial_epoch) continue;
    const auto start = std::chrono::steady_clock::now();
    EpochRecord record;
    record.epoch = epoch;
    record.learning_rate =
        options.schedule ? options.schedule(epoch - 1, initial_rate) : initial_rate;
    optimizer.set_learning_rate(static_cast<Scalar>(record.learning_rate));

    ScoreAccumulator train_scores(task_of<L>, L::averages);
    progress.begin_epoch(epoch, options.epochs, batches);
    for (Index b = 0; b < batches; ++b) {
      const Index first = b * options.batch_size;
      const Index n = std::min(options.batch_size, samples - first);
      for (Index i = 0; i < n; ++i) {
        const Index row = rows[static_cast<std::size_t>(first + i)];
        xb.row(i) = train_x.row(row);
        yb.row(i) = train_y.row(row);
      }
      const auto xs = xb.topRows(n);
      const auto ys = yb.topRows(n);
      double loss = 0;
      try {
        loss = net.train_step(xs, ys, criterion, optimizer,
                              [&](const auto& a) { train_scores.add_outputs(a, ys); });
      } catch (const NumericError& e) {
        throw NumericError("backprop::fit: epoch " + std::to_string(epoch) + ", batch " +
                           std::to_string(b + 1) + " of " + std::to_string(batches) + ": " +
                           e.what());
      }
      train_scores.add_loss(loss, n);
      progress.batch(b + 1, static_cast<double>(first + n), loss);
      if (options.on_batch_end) options.on_batch_end(BatchEnd{epoch, b + 1, batches, loss});
    }
    record.train = train_scores.result();
    if (validation)
      record.validation = detail::evaluate(net, validation->x, validation->y, criterion,
                                           std::max<Index>(batch_size, 1024));
    record.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // Early stopping keeps the best weights seen; without it the last epoch is the best.
    bool stop = false;
    if (early_stopping) {
      if (record.validation->loss < best_loss - options.early_stopping_min_delta) {
        best_loss = record.validation->loss;
        history.best_epoch = epoch;
        epochs_without_improvement = 0;
        best_weights.clear();
        net.for_each_parameter(
            [&](std::size_t, const auto& p, const auto&) { best_weights.emplace_back(p); });
      } else if (++epochs_without_improvement >= options.early_stopping_patience) {
        stop = history.stopped_early = true;
      }
    } else {
      history.best_epoch = epoch;
    }

    history.epochs.push_back(record);
    std::ostringstream summary;
    summary << "epoch " << epoch << "/" << options.epochs << detail::format_scores(record.train, "")
            << (record.validation ? detail::format_scores(*record.validation, "val_") : "")
            << "  lr " << std::setprecision(3) << record.learning_rate << "  " << std::fixed
            << std::setprecision(1) << record.seconds << " s  "
            << Progress::rate(static_cast<double>(samples) / record.seconds) << " samples/s";
    progress.end_epoch(summary.str());
    if (options.on_epoch_end) {
      EpochEnd end{history.epochs.back()};
      options.on_epoch_end(end);
      stop = stop || end.stop;
    }
    if (stop) break;
  }

  if (early_stopping && !best_weights.empty()) {
    net.for_each_parameter([&](std::size_t slot, auto& p, const auto&) { p = best_weights[slot]; });
  }
  return history;
}

}  // namespace backprop
