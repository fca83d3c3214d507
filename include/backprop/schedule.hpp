// Learning-rate schedules for fit(): the rate of epoch e (counted from 0) from the initial rate.
#pragma once

#include <cmath>
#include <numbers>
#include <string>

#include "config.hpp"

namespace backprop {

/// initial * gamma^(e / every): the rate drops by gamma every `every` epochs (torch's StepLR).
class StepDecay {
 public:
  /// Throws ArgumentError unless every >= 1 and gamma is in (0, 1].
  StepDecay(int every, double gamma) : every_(every), gamma_(gamma) {
    if (every < 1)
      throw ArgumentError("backprop::StepDecay: every must be at least 1, got " +
                          std::to_string(every));
    if (!(gamma > 0 && gamma <= 1))
      throw ArgumentError("backprop::StepDecay: gamma must be in (0, 1], got " +
                          detail::number_string(gamma));
  }
  /// The rate of epoch `epoch` (from 0).
  double operator()(int epoch, double initial) const {
    return initial * std::pow(gamma_, epoch / every_);
  }

 private:
  int every_;
  double gamma_;
};

/// minimum + (initial - minimum) (1 + cos(pi e / epochs)) / 2: half a cosine from the initial rate
/// down to `minimum` over `epochs` epochs (torch's CosineAnnealingLR, without restarts).
class CosineDecay {
 public:
  /// Throws ArgumentError unless epochs >= 1 and minimum >= 0.
  explicit CosineDecay(int epochs, double minimum = 0) : epochs_(epochs), minimum_(minimum) {
    if (epochs < 1)
      throw ArgumentError("backprop::CosineDecay: epochs must be at least 1, got " +
                          std::to_string(epochs));
    if (!(minimum >= 0) || !std::isfinite(minimum))
      throw ArgumentError("backprop::CosineDecay: minimum must be a finite number >= 0, got " +
                          detail::number_string(minimum));
  }
  /// The rate of epoch `epoch` (from 0); `minimum` after the last.
  double operator()(int epoch, double initial) const {
    const double progress = std::min(1.0, static_cast<double>(epoch) / epochs_);
    return minimum_ + (initial - minimum_) * (1 + std::cos(std::numbers::pi * progress)) / 2;
  }

 private:
  int epochs_;
  double minimum_;
};

}  // namespace backprop
