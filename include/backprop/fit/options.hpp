// FitOptions: how fit() trains (epochs, batches, validation, early stopping, schedule, callbacks,
// output, data-parallel members), and the checks of them that run before the first step.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../parallel/collective.hpp"
#include "../progress.hpp"
#include "history.hpp"

namespace backprop {

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

}  // namespace detail

}  // namespace backprop
