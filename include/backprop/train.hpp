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
//
// Given options.collective, fit trains data-parallel: every member calls it with the same network,
// data and options, and they train one model together (data_parallel.hpp says how, and what is
// identical).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <Eigen/Core>

#include "collective.hpp"
#include "config.hpp"
#include "data/split.hpp"
#include "data_parallel.hpp"
#include "loss.hpp"
#include "metrics.hpp"
#include "optimizer.hpp"
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

  Verbosity verbosity = Verbosity::automatic;  ///< a bar, lines, or nothing (member 0 alone)
  std::ostream* out = &std::cout;              ///< where progress goes

  /// Data-parallel training: the group this member trains with (ThreadGroup's members,
  /// backprop::mpi::Communicator), or none. Every member calls fit with the same network, data
  /// and options; batch_size stays the global batch. The callbacks run on every member.
  Collective* collective = nullptr;
  /// Bit-reproducible training across member counts: every batch is cut into this many fixed
  /// shards whose gradients are added in a fixed order (the step sums this many gradient-sized
  /// sections). 0: off, one sum of the members' slices.
  int reproducible_shards = 0;
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
  if (o.reproducible_shards < 0)
    fail("reproducible_shards must be >= 0, got " + std::to_string(o.reproducible_shards));
}

/// Throws unless every layer of net gives each sample's output from that sample alone, which
/// splitting batches (between members, or into shards) needs.
template <class Net>
void check_splittable(const Net& net) {
  for (std::size_t i = 0; i + 1 < net.widths().size(); ++i) {
    const LayerInfo info = net.layer(i);
    if (info.batch_dependent)
      throw ArgumentError("backprop::fit: layer " + std::to_string(i) + " (" +
                          std::string(info.kind) + " " + info.description() +
                          ") depends on the whole batch while training, which data-parallel "
                          "training and reproducible_shards do not support yet");
  }
}

/// What every member must have alike: the data, the options, the learning rates and the
/// parameters' shapes.
template <class Net, class X, class Y, class Scalar>
Settings fit_settings(const Net& net, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
                      const FitOptions<Scalar>& o, const std::vector<double>& rates) {
  Settings s;
  s.add("the number of rows of X", static_cast<std::uint64_t>(x.rows()));
  s.add("the number of columns of X", static_cast<std::uint64_t>(x.cols()));
  s.add("the number of columns of Y", static_cast<std::uint64_t>(y.cols()));
  Fingerprint content;
  content.add_matrix(x);
  content.add_matrix(y);
  s.add("the content of X and Y", content.value());
  s.add("validation data", static_cast<std::uint64_t>(o.validation ? o.validation->x.rows() : 0));
  s.add("validation_split", o.validation_split);
  s.add("epochs", static_cast<std::uint64_t>(o.epochs));
  s.add("initial_epoch", static_cast<std::uint64_t>(o.initial_epoch));
  s.add("batch_size", static_cast<std::uint64_t>(o.batch_size));
  s.add("shuffle", static_cast<std::uint64_t>(o.shuffle));
  s.add("seed", o.seed);
  s.add("early_stopping_patience", static_cast<std::uint64_t>(o.early_stopping_patience));
  s.add("reproducible_shards", static_cast<std::uint64_t>(o.reproducible_shards));
  for (double rate : rates)
    s.add("the learning rate of an epoch", rate);
  add_parameter_shapes(s, net);
  return s;
}

/// The learning rate of every epoch (from 0), each checked before the first is trained.
template <class Scalar>
std::vector<double> learning_rates(const FitOptions<Scalar>& o, double initial) {
  std::vector<double> rates(static_cast<std::size_t>(o.epochs), initial);
  for (int e = o.initial_epoch; e < o.epochs; ++e) {
    const double rate = o.schedule ? o.schedule(e, initial) : initial;
    if (!(rate >= 0 && std::isfinite(static_cast<Scalar>(rate))))
      throw ArgumentError("backprop::fit: the schedule gives epoch " + std::to_string(e + 1) +
                          " a learning_rate of " + number_string(rate) +
                          "; it must be a finite number >= 0");
    rates[static_cast<std::size_t>(e)] = rate;
  }
  return rates;
}

/// Throws ArgumentError naming the first NaN or Inf in M, which is data called `what`.
template <class M>
void check_finite_data(const Eigen::MatrixBase<M>& m, const std::string& what) {
  for (Index c = 0; c < m.cols(); ++c)
    for (Index r = 0; r < m.rows(); ++r)
      if (!std::isfinite(m(r, c)))
        throw ArgumentError("backprop::fit: " + what + " holds " + number_string(double(m(r, c))) +
                            " at row " + std::to_string(r) + ", column " + std::to_string(c) +
                            "; training needs finite numbers");
}

/// Throws unless X and Y (called what X and what Y) fit the network and the loss: rows, columns,
/// finite values, and targets in the loss's domain. Messages name the caller's rows.
template <class L, class Net, class X, class Y>
void check_fit_data(const Net& net, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
                    const std::string& what) {
  const std::string x_name = what + "X", y_name = what + "Y";
  const Index inputs = net.widths().front(), outputs = net.widths().back();
  if (x.rows() != y.rows() || x.rows() == 0)
    throw ShapeError("backprop::fit: " + x_name + " is " + shape_string(x.rows(), x.cols()) +
                     " and " + y_name + " is " + shape_string(y.rows(), y.cols()) +
                     ": they need the same number of rows, at least one");
  if (x.cols() != inputs || y.cols() != outputs)
    throw ShapeError("backprop::fit: " + x_name + " is " + shape_string(x.rows(), x.cols()) +
                     " and " + y_name + " is " + shape_string(y.rows(), y.cols()) +
                     ", but the network takes " + std::to_string(inputs) + " inputs and gives " +
                     std::to_string(outputs) + " outputs per row");
  check_finite_data(x, x_name);
  check_finite_data(y, y_name);
  check_targets<L>(y, y_name.c_str());
}

/// fit's data, checked and laid out before the first epoch: the training rows row-major (a batch
/// gathers whole samples), and the validation rows, given or split off with the seed.
template <class Scalar>
struct FitData {
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  using Rows = Eigen::Matrix<Scalar, Dynamic, Dynamic, Eigen::RowMajor>;
  Rows x, y;
  Matrix held_out_x, held_out_y;  // the split's validation rows, which `validation` refers to
  std::optional<ValidationData<Scalar>> validation{};

  template <class Net, class X, class Y, class L>
  FitData(const Net& net, const Eigen::MatrixBase<X>& x_, const Eigen::MatrixBase<Y>& y_, const L&,
          const FitOptions<Scalar>& options, Xoshiro256& random) {
    check_fit_data<L>(net, x_, y_, "");
    if (options.validation)
      check_fit_data<L>(net, options.validation->x, options.validation->y, "validation ");
    std::vector<Index> training(static_cast<std::size_t>(x_.rows()));
    std::iota(training.begin(), training.end(), Index{0});
    if (options.validation_split > 0) {
      auto [train, held_out] = split_rows(x_.rows(), options.validation_split, random, "fit");
      held_out_x = gather_rows<Scalar>(x_, held_out);
      held_out_y = gather_rows<Scalar>(y_, held_out);
      validation.emplace(held_out_x, held_out_y);
      training = std::move(train);
    } else if (options.validation) {
      validation = options.validation;
    }
    x = gather_rows<Scalar, Eigen::RowMajor>(x_, training);
    y = gather_rows<Scalar, Eigen::RowMajor>(y_, training);
  }
  FitData(const FitData&) = delete;  // `validation` may refer to held_out_x and held_out_y
  FitData& operator=(const FitData&) = delete;

  Index samples() const { return x.rows(); }
};

/// Rows rows[0], ..., rows[count - 1] of X (row-major) into the top rows of B (column-major), in
/// tiles of 16 rows: each read runs along a row of X and each write down a column of B, where
/// copying row by row would store across B's columns, one cache line per value.
template <class X, class B>
void gather_rows_into(const X& x, const Index* rows, Index count, B& batch) {
  constexpr Index tile = 16;
  for (Index first = 0; first < count; first += tile) {
    const Index n = std::min(tile, count - first);
    for (Index c = 0; c < x.cols(); ++c)
      for (Index k = 0; k < n; ++k)
        batch(first + k, c) = x(rows[first + k], c);
  }
}

/// The number of batches of `size` rows that cover `samples` rows, the last one partial.
inline Index batch_count(Index samples, Index size) {
  return samples / size + (samples % size != 0 ? 1 : 0);
}

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

/// The sums behind the scores of the network on (X, Y) (which the network evaluates in blocks of
/// rows, so that memory stays bounded).
template <class Net, class L, class X, class Y>
ScoreAccumulator evaluate(const Net& net, const X& x, const Y& y, const L& criterion) {
  ScoreAccumulator scores(L::task, L::averages);
  if (x.rows() == 0) return scores;  // a member's empty share
  scores.add_loss(
      net.loss(x, y, criterion, [&](const auto& a, const auto& ys) { scores.add_outputs(a, ys); }),
      x.rows());
  return scores;
}

/// Early stopping: watches the validation loss of each epoch, keeps the weights of the best, and
/// gives them back at the end. Off (patience 0), the last epoch is the best.
template <class Scalar>
class EarlyStopping {
 public:
  EarlyStopping(int patience, double min_delta) : patience_(patience), min_delta_(min_delta) {}

  /// After each epoch: whether to stop now.
  template <class Net>
  bool observe(const EpochRecord& record, const Net& net, History& history) {
    if (patience_ == 0) {
      history.best_epoch = record.epoch;
      return false;
    }
    if (record.validation->loss < best_loss_ - min_delta_) {
      best_loss_ = record.validation->loss;
      history.best_epoch = record.epoch;
      waited_ = 0;
      best_weights_.clear();
      net.for_each_parameter(
          [&](std::size_t, const auto& p, const auto&) { best_weights_.emplace_back(p); });
      return false;
    }
    return history.stopped_early = ++waited_ >= patience_;
  }

  /// The best epoch's weights, back into the network, unless it holds them: then false.
  template <class Net>
  bool restore(Net& net, const History& history) const {
    if (best_weights_.empty() || history.best_epoch == history.epochs.back().epoch) return false;
    net.for_each_parameter(
        [&](std::size_t slot, auto& p, const auto&) { p = best_weights_[slot]; });
    return true;
  }

 private:
  int patience_;
  double min_delta_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int waited_ = 0;
  std::vector<Eigen::Matrix<Scalar, Dynamic, Dynamic>> best_weights_;
};

/// One epoch: the batches of `order`, each gathered, trained and reported; returns the sums behind
/// the running scores of this member's rows, one per part (data_parallel.hpp's Split). A loss that
/// turns non-finite throws NumericError naming the epoch and batch. `parallel`, if given, trains
/// this member's rows of each batch with the other members.
template <class Net, class L, class O, class Scalar>
std::vector<ScoreAccumulator> train_epoch(Net& net, const FitData<Scalar>& data,
                                          const std::vector<Index>& order, const L& criterion,
                                          O& optimizer, const FitOptions<Scalar>& options,
                                          int epoch, Progress& progress, Agreement& agreement,
                                          DataParallelStep<Scalar>* parallel, Index parts) {
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  const Index samples = data.samples(), size = std::min(options.batch_size, samples);
  const Index batches = batch_count(samples, size);
  Matrix xb(size, data.x.cols()), yb(size, data.y.cols());
  std::vector<ScoreAccumulator> scores(static_cast<std::size_t>(parts),
                                       ScoreAccumulator(L::task, L::averages));
  double loss_total = 0;  // of the whole batches, for the progress bar
  progress.begin_epoch(epoch, options.epochs, batches);
  for (Index b = 0; b < batches; ++b) {
    const Index first = b * size, n = std::min(size, samples - first);
    const RowRange mine = parallel ? parallel->rows(n) : RowRange{0, n};
    const Index* rows = order.data() + first + mine.first;
    gather_rows_into(data.x, rows, mine.count, xb);
    gather_rows_into(data.y, rows, mine.count, yb);
    const auto xs = xb.topRows(mine.count);
    const auto ys = yb.topRows(mine.count);
    double loss = 0;
    try {
      if (parallel) {
        loss = parallel->step(net, xs, ys, n, criterion, optimizer, std::span(scores));
      } else {
        loss = net.train_step(
            xs, ys, criterion, optimizer,
            [&](const auto& a, const auto& targets) { scores[0].add_outputs(a, targets); });
        scores[0].add_loss(loss, n);
      }
    } catch (const NumericError& e) {
      throw NumericError("backprop::fit: epoch " + std::to_string(epoch) + ", batch " +
                         std::to_string(b + 1) + " of " + std::to_string(batches) + ": " +
                         e.what());
    }
    loss_total += L::averages ? loss * static_cast<double>(n) : loss;
    progress.batch(b + 1, static_cast<double>(first + n),
                   L::averages ? loss_total / static_cast<double>(first + n) : loss_total);
    if (options.on_batch_end)
      agreement.attempt([&] { options.on_batch_end(BatchEnd{epoch, b + 1, batches, loss}); });
  }
  return scores;
}

/// The validation scores of this member's pieces of (X, Y), one per part.
template <class Net, class L, class Scalar>
std::vector<ScoreAccumulator> evaluate_parts(const Net& net, const ValidationData<Scalar>& v,
                                             const L& criterion, const Split& split) {
  std::vector<ScoreAccumulator> parts(static_cast<std::size_t>(split.parts()),
                                      ScoreAccumulator(L::task, L::averages));
  split.for_each_piece(v.x.rows(), [&](Index part, RowRange rows) {
    parts[static_cast<std::size_t>(part)] =
        evaluate(net, v.x.middleRows(rows.first, rows.count),
                 v.y.middleRows(rows.first, rows.count), criterion);
  });
  return parts;
}

/// Whether any member says yes, on every member, with any member's pending error.
inline bool any_member(Agreement& agreement, bool yes) {
  Collective* group = agreement.group();
  if (!group) return yes;
  std::vector<double> sums(1 + static_cast<std::size_t>(group->size()));
  sums[0] = yes ? 1 : 0;
  const auto flags = std::span(sums).last(static_cast<std::size_t>(group->size()));
  agreement.raise_flag(flags);
  group->sum(std::span(sums));
  agreement.settle(std::span<const double>(flags));
  return sums[0] != 0;
}

}  // namespace detail

/// Trains `net` on X: (samples, inputs) and Y: (samples, outputs). Everything is checked before
/// the first step: the options, the data and the validation data (shapes, finite values, targets
/// in the loss's domain, with messages naming the caller's rows), every epoch's learning rate,
/// and the optimizer against the network; a failed check changes nothing. A loss that turns
/// non-finite while training throws NumericError naming the epoch and batch; the network then
/// keeps the weights from before that step.
///
/// With options.collective, every member must call fit alike (data_parallel.hpp): the members
/// check that they agree, start from member 0's parameters and optimizer state, and end with the
/// same parameters, History and errors.
template <class Net, class X, class Y, LossFunction L, Optimizer O>
History fit(Net& net, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
            const L& criterion, O& optimizer,
            const FitOptions<typename Net::Scalar>& options = {}) {
  using Scalar = typename Net::Scalar;
  static_assert(std::is_same_v<typename O::Scalar, Scalar>,
                "fit: the optimizer's scalar type must be the network's "
                "(Adam<float> for a network of float)");
  // Alone, a failed check throws here; in a group, every member throws the first member's error
  // at sync(), so that no member is left waiting for the others.
  detail::Agreement agreement(options.collective);
  const double initial_rate = static_cast<double>(optimizer.learning_rate());
  std::vector<double> rates;
  std::optional<detail::FitData<Scalar>> data;
  Xoshiro256 random(options.seed);
  const bool split = options.collective || options.reproducible_shards > 0;
  agreement.attempt([&] {
    detail::check_fit_options(options);
    rates = detail::learning_rates(options, initial_rate);
    if constexpr (requires { optimizer.check(net); }) optimizer.check(net);
    if (split) detail::check_splittable(net);
    data.emplace(net, x, y, criterion, options, random);
  });
  agreement.sync();
  std::optional<detail::DataParallelStep<Scalar>> parallel;
  if (split) {
    detail::fit_settings(net, x, y, options, rates).agree(agreement, "fit");
    if (options.collective) {
      broadcast_parameters(net, *options.collective);
      broadcast_state(optimizer, *options.collective);
    }
  }
  const detail::Split parts(agreement.rank(), agreement.size(), options.reproducible_shards);
  if (split) parallel.emplace(agreement, parts, net.parameter_count());

  // The schedule starts from the optimizer's rate, which fit gives back when it returns.
  struct RestoreRate {
    O& optimizer;
    double rate;
    ~RestoreRate() { optimizer.set_learning_rate(static_cast<Scalar>(rate)); }
  } restore_rate{optimizer, initial_rate};

  std::vector<Index> order(static_cast<std::size_t>(data->samples()));
  std::iota(order.begin(), order.end(), Index{0});
  detail::EarlyStopping<Scalar> stopping(options.early_stopping_patience,
                                         options.early_stopping_min_delta);
  History history;
  Progress progress(*options.out, agreement.rank() == 0 ? options.verbosity : Verbosity::silent);
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    // Every epoch draws its order, trained or not, so that a resumed run sees the same orders.
    if (options.shuffle) shuffle(order.begin(), order.end(), random);
    if (epoch <= options.initial_epoch) continue;
    const auto start = std::chrono::steady_clock::now();
    EpochRecord record;
    record.epoch = epoch;
    record.learning_rate = rates[static_cast<std::size_t>(epoch - 1)];
    optimizer.set_learning_rate(static_cast<Scalar>(record.learning_rate));
    const std::vector<ScoreAccumulator> train =
        detail::train_epoch(net, *data, order, criterion, optimizer, options, epoch, progress,
                            agreement, parallel ? &*parallel : nullptr, parts.parts());
    // Each member scores its pieces of the validation rows; the pieces add up to all of them.
    std::vector<ScoreAccumulator> validation(static_cast<std::size_t>(parts.parts()),
                                             ScoreAccumulator(L::task, L::averages));
    if (data->validation)
      agreement.attempt(
          [&] { validation = detail::evaluate_parts(net, *data->validation, criterion, parts); });
    record.train = detail::sum_parts(agreement, train).result();
    if (data->validation) record.validation = detail::sum_parts(agreement, validation).result();
    record.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    bool stop = stopping.observe(record, net, history);
    history.epochs.push_back(record);
    progress.end_epoch(detail::epoch_summary(record, options.epochs, data->samples()));
    if (options.on_epoch_end) {
      EpochEnd end{history.epochs.back()};
      agreement.attempt([&] { options.on_epoch_end(end); });
      stop = detail::any_member(agreement, stop || end.stop);
    }
    if (stop) break;
  }
  if (stopping.restore(net, history)) {
    const EpochRecord& best =
        history.epochs[static_cast<std::size_t>(history.best_epoch - 1 - options.initial_epoch)];
    progress.say("early stopping: restored the weights of epoch " + std::to_string(best.epoch) +
                 ", the best (val_loss " +
                 detail::format_number(best.validation->loss, std::chars_format::general, 4) + ")");
  }
  return history;
}

}  // namespace backprop
