// Data-parallel training over a Collective (collective.hpp): what fit() does when it is given one.
// replicas.hpp has what a program uses around it.
//
// The global batch is the user's batch. Every member holds the same network, the same data and
// the same options; every member draws the same seeded order, and of each batch of n rows member
// r of N computes rows [r n / N, (r + 1) n / N). Its gradients, weighted by its share of the rows
// for a loss that averages, go into one buffer with its share of the loss and one error flag per
// member; one sum of that buffer per step gives every member the same gradient of the whole
// batch, and every member makes the same update. So N members train the model that one process
// trains with the same batch, up to the rounding of that one sum, and no learning rate needs
// rescaling. A member whose slice of a batch is empty adds zeros and still takes part.
//
// Reproducible mode (FitOptions::reproducible_shards = K): each batch is cut into K fixed shards
// whose gradients are summed in a fixed order, shard 0 first, so the bits are the same for any
// number of members (and alone). Its cost: each step sums K gradient-sized sections instead of
// one (K times the bytes), and the backward pass runs on K smaller pieces.
//
// Errors. A member that fails (a non-finite loss in its slice, a throwing callback) keeps its
// exception and raises its flag at the next sum; every member then throws the same error, that of
// the lowest failed member, "... (member r of N)", before any update: nobody hangs and the
// parameters stay those before the step on every member.
//
// Not yet: layers whose training output depends on the rest of the batch (BatchNorm's
// statistics) or on a sample's place in it (Dropout's masks) would differ between members; fit
// refuses them with a collective of more than one member or with shards.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <tuple>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../engine.hpp"
#include "../loss.hpp"
#include "../metrics.hpp"
#include "agreement.hpp"
#include "collective.hpp"
#include "threads.hpp"

namespace backprop::detail {

/// Which rows of a batch (or of the validation data) this member computes, and into which part
/// each piece adds: in plain mode its slice, into part 0; in reproducible mode each of its shards,
/// into the shard's own part. Alone and plain, one piece of all rows.
class Split {
 public:
  Split(int rank, int members, int shards) : rank_(rank), members_(members), shards_(shards) {}

  /// The number of parts that pieces add into.
  Index parts() const { return std::max<Index>(shards_, 1); }

  /// This member's rows of n: the union of its pieces.
  RowRange rows(Index n) const {
    if (shards_ == 0) return part_of(n, rank_, members_);
    const RowRange mine = owned();
    const Index first = part_of(n, mine.first, shards_).first;
    return {first, part_of(n, mine.first + mine.count, shards_).first - first};
  }

  /// f(part, rows) for each piece of n rows that this member computes, in part order.
  template <class F>
  void for_each_piece(Index n, F&& f) const {
    if (shards_ == 0) return static_cast<void>(f(Index{0}, rows(n)));
    const RowRange mine = owned();
    for (Index s = mine.first; s < mine.first + mine.count; ++s)
      f(s, part_of(n, s, shards_));
  }

 private:
  RowRange owned() const { return part_of(shards_, rank_, members_); }  // the shards computed here

  Index rank_, members_, shards_;
};

/// One step of data-parallel training (see the top of this file), with the buffer it sums:
///   parts x (parameter scalars, then the loss), then one flag per member
/// Each piece of this member's rows fills its part (Split); after the sum the parts are added in
/// part order into part 0, from which every member makes the same update.
template <class Scalar>
class DataParallelStep {
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;

 public:
  /// parameters: the network's trainable scalars.
  DataParallelStep(Agreement& agreement, const Split& split, Index parameters)
      : agreement_(&agreement),
        split_(split),
        parameters_(parameters),
        section_(parameters + 1),
        buffer_(static_cast<std::size_t>(split.parts() * section_ + agreement.size())) {}

  /// This member's rows of a batch of n.
  RowRange rows(Index n) const { return split_.rows(n); }

  /// X, Y: this member's rows(n) of a batch of n rows  ->  the loss of the whole batch, after
  /// every member made the same update. The outputs and losses of each piece go into its part of
  /// `scores` (split.parts() accumulators).
  template <class Net, class X, class Y, class L, class O>
  Scalar step(Net& net, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, Index n,
              const L& criterion, O& optimizer, std::span<ScoreAccumulator> scores) {
    std::fill(buffer_.begin(), buffer_.end(), Scalar(0));
    agreement_->attempt([&] {
      const Index offset = rows(n).first;
      split_.for_each_piece(n, [&](Index part, RowRange piece) {
        piece.first -= offset;
        add_piece(net, x, y, n, criterion, scores[static_cast<std::size_t>(part)], part, piece);
      });
    });
    agreement_->sum(std::span(buffer_));

    Scalar* total = buffer_.data();
    for (Index part = 1; part < split_.parts(); ++part) {
      const Scalar* section = total + part * section_;
      for (Index i = 0; i < section_; ++i)
        total[i] += section[i];
    }
    optimizer.begin_step();
    Updates<O> update{optimizer};
    const Scalar* sum = total;
    net.for_each_parameter([&](std::size_t, auto& p, const auto& g) {
      update(p, Eigen::Map<const Matrix>(sum, g.rows(), g.cols()));
      sum += g.size();
    });
    return total[parameters_];
  }

 private:
  // Backward over rows `piece` of X and Y, weighted by their share of the batch, into `part`.
  template <class Net, class X, class Y, class L>
  void add_piece(Net& net, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, Index n,
                 const L& criterion, ScoreAccumulator& scores, Index part, RowRange piece) {
    if (piece.count == 0) return;  // an empty slice adds zeros
    const auto xs = x.middleRows(piece.first, piece.count);
    const auto ys = y.middleRows(piece.first, piece.count);
    const Scalar loss = net.backward(xs, ys, criterion, [&](const auto& a, const auto& targets) {
      scores.add_outputs(a, targets);
    });
    scores.add_loss(loss, piece.count);
    const auto weight = static_cast<Scalar>(LossTotal::weight(criterion.averages, piece.count, n));
    // Adding +0 turns -0 into +0, so that a part sums to the same bits whatever the number of
    // members adding zeros to it; adding -0 changes nothing (one member alone stays bit for bit
    // train_step).
    const Scalar zero = split_.parts() > 1 ? Scalar(0) : Scalar(-0.0);
    Scalar* out = buffer_.data() + part * section_;
    net.for_each_parameter([&](std::size_t, const auto&, const auto& g) {
      Eigen::Map<Matrix>(out, g.rows(), g.cols()) = (g.array() * weight + zero).matrix();
      out += g.size();
    });
    *out = loss * weight + zero;
  }

  Agreement* agreement_;
  Split split_;
  Index parameters_;
  Index section_;
  std::vector<Scalar> buffer_;
};

/// The parts' scores of every member, added up part by part and then in part order, on every
/// member (with any member's pending error): the same bits for any member count when the parts
/// are shards.
inline ScoreAccumulator sum_parts(Agreement& agreement, std::span<const ScoreAccumulator> parts) {
  constexpr std::size_t k = std::tuple_size_v<ScoreAccumulator::Totals>;
  std::vector<double> sums(parts.size() * k + static_cast<std::size_t>(agreement.size()));
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto t = parts[i].totals();
    std::copy(t.begin(), t.end(), sums.begin() + static_cast<std::ptrdiff_t>(i * k));
  }
  agreement.sum(std::span(sums));
  ScoreAccumulator::Totals total{};
  for (std::size_t i = 0; i < parts.size(); ++i)
    for (std::size_t j = 0; j < k; ++j)
      total[j] += sums[i * k + j];
  ScoreAccumulator result = parts.front();
  result.set_totals(total);
  return result;
}

/// Whether any member says yes, on every member, with any member's pending error.
inline bool any_member(Agreement& agreement, bool yes) {
  std::vector<double> sums(1 + static_cast<std::size_t>(agreement.size()));
  sums[0] = yes ? 1 : 0;
  agreement.sum(std::span(sums));
  return sums[0] != 0;
}

}  // namespace backprop::detail
