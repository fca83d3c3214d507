// Trainer<Scalar>: fit()'s loop, one object per call, each step of it a member. It holds the
// network, the loss and the optimizer as values (NetworkRef, AnyLoss, OptimizerRef), so that it is
// compiled once per scalar, whatever network, loss and optimizer a program trains with: a network
// type brings only its own steps.
//
// Alone, a failed check throws at once; in a group of members (FitOptions::collective), every
// member throws the first member's error at the next agreement, so that no member is left waiting
// for the others (parallel/agreement.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../any_loss.hpp"
#include "../config.hpp"
#include "../metrics.hpp"
#include "../optimizer_ref.hpp"
#include "../parallel/agreement.hpp"
#include "../parallel/data_parallel.hpp"
#include "../parallel/replicas.hpp"
#include "../progress.hpp"
#include "../random.hpp"
#include "data.hpp"
#include "early_stopping.hpp"
#include "history.hpp"
#include "network_ref.hpp"
#include "options.hpp"

namespace backprop::detail {

/// broadcast_state for an optimizer of type O behind a pointer: how fit shares the state of the
/// optimizer it holds as an OptimizerRef.
template <class O>
void share_state(void* optimizer, Collective& group, int root) {
  broadcast_state(*static_cast<O*>(optimizer), group, root);
}

/// fit's loop over a network of scalar Scalar.
template <class Scalar>
class Trainer {
 public:
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  using Input = Eigen::Ref<const Matrix>;

  Trainer(NetworkRef<Scalar> net, const AnyLoss<Scalar>& loss, OptimizerRef<Scalar> optimizer,
          const FitOptions<Scalar>& options);
  /// Trains on X: (samples, inputs) and Y: (samples, outputs); the History of every epoch.
  History fit(const Input& x, const Input& y);

 private:
  // Everything checked before the first step, alike on every member; the members start from
  // member 0's parameters and optimizer state.
  void prepare(const Input& x, const Input& y) {
    const bool split = options_.collective || options_.reproducible_shards > 0;
    agreement_.attempt([&] {
      check_fit_options(options_);
      rates_ = learning_rates(options_, initial_rate_);
      optimizer_.check(net_);
      if (split) check_splittable();
      data_.emplace(net_, x, y, loss_, options_, random_);
    });
    agreement_.sync();
    if (!split) return;
    facts(x, y).agree(agreement_, "fit");
    if (options_.collective) {
      broadcast_parameters(net_, *options_.collective);
      optimizer_.broadcast_state(*options_.collective, 0);
    }
    parallel_.emplace(agreement_, parts_, net_.parameter_count());
  }

  // Every layer must give each sample's output from that sample alone, which splitting batches
  // (between members, or into shards) needs.
  void check_splittable() const {
    for (std::size_t i = 0; i < net_.depth(); ++i) {
      const LayerInfo info = net_.layer(i);
      if (info.batch_dependent)
        throw ArgumentError("backprop::fit: layer " + std::to_string(i) + " (" +
                            std::string(info.kind) + " " + info.description() +
                            ") depends on the whole batch while training, which data-parallel "
                            "training and reproducible_shards do not support yet");
    }
  }

  // What every member must have alike: the data, the options, the learning rates and the
  // parameters' shapes.
  Facts facts(const Input& x, const Input& y) const {
    const FitOptions<Scalar>& o = options_;
    Facts f;
    f.add("the number of rows of X", static_cast<std::uint64_t>(x.rows()));
    f.add("the number of columns of X", static_cast<std::uint64_t>(x.cols()));
    f.add("the number of columns of Y", static_cast<std::uint64_t>(y.cols()));
    Fingerprint content;
    content.add_matrix(x);
    content.add_matrix(y);
    f.add("the content of X and Y", content.value());
    f.add("validation data", static_cast<std::uint64_t>(o.validation ? o.validation->x.rows() : 0));
    f.add("validation_split", o.validation_split);
    f.add("epochs", static_cast<std::uint64_t>(o.epochs));
    f.add("initial_epoch", static_cast<std::uint64_t>(o.initial_epoch));
    f.add("batch_size", static_cast<std::uint64_t>(o.batch_size));
    f.add("shuffle", static_cast<std::uint64_t>(o.shuffle));
    f.add("seed", o.seed);
    f.add("early_stopping_patience", static_cast<std::uint64_t>(o.early_stopping_patience));
    f.add("reproducible_shards", static_cast<std::uint64_t>(o.reproducible_shards));
    for (double rate : rates_)
      f.add("the learning rate of an epoch", rate);
    add_parameter_shapes(f, net_);
    return f;
  }

  // One epoch: its batches, its validation, its record; whether to stop after it.
  bool train_epoch(int epoch, const std::vector<Index>& order, Progress& progress) {
    const auto start = std::chrono::steady_clock::now();
    EpochRecord record;
    record.epoch = epoch;
    record.learning_rate = rates_[static_cast<std::size_t>(epoch - 1)];
    optimizer_.set_learning_rate(static_cast<Scalar>(record.learning_rate));
    const std::vector<ScoreAccumulator> train = train_batches(epoch, order, progress);
    // Each member scores its pieces of the validation rows; the pieces add up to all of them.
    std::vector<ScoreAccumulator> validation = scores();
    if (data_->validation) agreement_.attempt([&] { validation = validate(); });
    record.train = sum_parts(agreement_, train).result();
    if (data_->validation) record.validation = sum_parts(agreement_, validation).result();
    record.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    bool stop = stopping_.observe(record, net_, history_);
    history_.epochs.push_back(record);
    progress.end_epoch(epoch_summary(record, options_.epochs, data_->samples()));
    if (!options_.on_epoch_end) return stop;
    EpochEnd end{history_.epochs.back()};
    agreement_.attempt([&] { options_.on_epoch_end(end); });
    return any_member(agreement_, stop || end.stop);
  }

  // The batches of `order`, each gathered, trained and reported; the sums behind the running
  // scores of this member's rows, one per part. A loss that turns non-finite throws NumericError
  // naming the epoch and batch.
  std::vector<ScoreAccumulator> train_batches(int epoch, const std::vector<Index>& order,
                                              Progress& progress) {
    const Index samples = data_->samples(), size = std::min(options_.batch_size, samples);
    const Index batches = batch_count(samples, size);
    Matrix xb(size, data_->x.cols()), yb(size, data_->y.cols());
    std::vector<ScoreAccumulator> parts = scores();
    LossTotal running(loss_.averages);  // of the whole batches, for the progress bar
    progress.begin_epoch(epoch, options_.epochs, batches);
    for (Index b = 0; b < batches; ++b) {
      const Index first = b * size, n = std::min(size, samples - first);
      const RowRange mine = parallel_ ? parallel_->rows(n) : RowRange{0, n};
      const Index* rows = order.data() + first + mine.first;
      gather_rows_into(data_->x, rows, mine.count, xb);
      gather_rows_into(data_->y, rows, mine.count, yb);
      double loss = 0;
      try {
        loss = step(xb.topRows(mine.count), yb.topRows(mine.count), n, parts);
      } catch (const NumericError& e) {
        throw NumericError("backprop::fit: epoch " + std::to_string(epoch) + ", batch " +
                           std::to_string(b + 1) + " of " + std::to_string(batches) + ": " +
                           e.what());
      }
      running.add(loss, n);
      progress.batch(b + 1, static_cast<double>(first + n), running.value());
      if (options_.on_batch_end)
        agreement_.attempt([&] { options_.on_batch_end(BatchEnd{epoch, b + 1, batches, loss}); });
    }
    return parts;
  }

  // One step on this member's rows of a batch of n: with the other members, or alone.
  template <class X, class Y>
  double step(const X& x, const Y& y, Index n, std::vector<ScoreAccumulator>& parts) {
    if (parallel_) return parallel_->step(net_, x, y, n, loss_, optimizer_, std::span(parts));
    const double loss = net_.train_step(
        x, y, loss_, optimizer_,
        [&](const auto& a, const auto& targets) { parts[0].add_outputs(a, targets); });
    parts[0].add_loss(loss, n);
    return loss;
  }

  // The validation scores of this member's pieces of the validation rows, one per part.
  std::vector<ScoreAccumulator> validate() const {
    const ValidationData<Scalar>& v = *data_->validation;
    std::vector<ScoreAccumulator> parts = scores();
    parts_.for_each_piece(v.x.rows(), [&](Index part, RowRange rows) {
      if (rows.count == 0) return;  // a member's empty share
      ScoreAccumulator& score = parts[static_cast<std::size_t>(part)];
      const auto x = v.x.middleRows(rows.first, rows.count);
      const auto y = v.y.middleRows(rows.first, rows.count);
      score.add_loss(
          net_.loss(x, y, loss_, [&](const auto& a, const auto& ys) { score.add_outputs(a, ys); }),
          rows.count);
    });
    return parts;
  }

  std::vector<ScoreAccumulator> scores() const {
    return std::vector<ScoreAccumulator>(static_cast<std::size_t>(parts_.parts()),
                                         ScoreAccumulator(loss_.task, loss_.averages));
  }

  // Early stopping's best weights back into the network, when it does not hold them.
  void restore_best(Progress& progress) {
    if (!stopping_.restore(net_, history_)) return;
    const EpochRecord& best =
        history_.epochs[static_cast<std::size_t>(history_.best_epoch - 1 - options_.initial_epoch)];
    progress.say("early stopping: restored the weights of epoch " + std::to_string(best.epoch) +
                 ", the best (val_loss " +
                 format_number(best.validation->loss, std::chars_format::general, 4) + ")");
  }

  NetworkRef<Scalar> net_;
  AnyLoss<Scalar> loss_;
  OptimizerRef<Scalar> optimizer_;
  const FitOptions<Scalar>& options_;
  Agreement agreement_;
  Xoshiro256 random_;
  double initial_rate_;
  std::vector<double> rates_;
  std::optional<FitData<Scalar>> data_;
  Split parts_;
  std::optional<DataParallelStep<Scalar>> parallel_;
  EarlyStopping<Scalar> stopping_;
  History history_;
};

// The two entry points are defined outside the class, so that the compiled mode (compiled.hpp)
// compiles the Trainer once.

template <class Scalar>
Trainer<Scalar>::Trainer(NetworkRef<Scalar> net, const AnyLoss<Scalar>& loss,
                         OptimizerRef<Scalar> optimizer, const FitOptions<Scalar>& options)
    : net_(net),
      loss_(loss),
      optimizer_(optimizer),
      options_(options),
      agreement_(options.collective),
      random_(options.seed),
      initial_rate_(static_cast<double>(optimizer.learning_rate())),
      parts_(agreement_.rank(), agreement_.size(), options.reproducible_shards),
      stopping_(options.early_stopping_patience, options.early_stopping_min_delta) {}

template <class Scalar>
History Trainer<Scalar>::fit(const Input& x, const Input& y) {
  prepare(x, y);
  // The schedule starts from the optimizer's rate, which fit gives back when it returns.
  struct RestoreRate {
    OptimizerRef<Scalar>& optimizer;
    double rate;
    ~RestoreRate() { optimizer.set_learning_rate(static_cast<Scalar>(rate)); }
  } restore_rate{optimizer_, initial_rate_};

  std::vector<Index> order(static_cast<std::size_t>(data_->samples()));
  std::iota(order.begin(), order.end(), Index{0});
  Progress progress(*options_.out, agreement_.rank() == 0 ? options_.verbosity : Verbosity::silent);
  for (int epoch = 1; epoch <= options_.epochs; ++epoch) {
    // Every epoch draws its order, trained or not, so that a resumed run sees the same orders.
    if (options_.shuffle) shuffle(order.begin(), order.end(), random_);
    if (epoch > options_.initial_epoch && train_epoch(epoch, order, progress)) break;
  }
  restore_best(progress);
  return std::move(history_);
}

}  // namespace backprop::detail
