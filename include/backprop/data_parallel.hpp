// Data-parallel training over a Collective (collective.hpp): what fit() does when it is given one,
// and the helpers a program uses around it.
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
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "collective.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "threads.hpp"

namespace backprop {

namespace detail {

/// value's bytes, for a broadcast.
template <class T>
std::span<std::byte> bytes_of(T& value) {
  return std::as_writable_bytes(std::span(&value, 1));
}

/// A vector of root's length and values, on every member.
template <class T>
void broadcast_vector(Collective& group, std::vector<T>& values, int root) {
  std::uint64_t count = values.size();
  group.broadcast(bytes_of(count), root);
  values.resize(static_cast<std::size_t>(count));
  group.broadcast(std::as_writable_bytes(std::span(values)), root);
}

/// A 64-bit hash of bytes (FNV-1a over 8-byte words, then mixed): a fingerprint, not a checksum
/// that resists an adversary.
class Fingerprint {
 public:
  void add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      mix(word);
    }
    std::uint64_t tail = bytes;
    for (; i < bytes; ++i)
      tail = tail << 8 | p[i];
    mix(tail);
  }
  template <class M>
  void add_matrix(const Eigen::MatrixBase<M>& m) {
    for (Index c = 0; c < m.cols(); ++c)
      for (Index r = 0; r < m.rows(); ++r) {
        const typename M::Scalar v = m(r, c);
        add(&v, sizeof v);
      }
  }
  std::uint64_t value() const {
    std::uint64_t h = hash_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }

 private:
  void mix(std::uint64_t word) {
    hash_ ^= word;
    hash_ *= 0x100000001b3ULL;
  }
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

/// How the members of a group agree on failure. Each member runs its own work through attempt(),
/// which keeps an exception instead of letting it leave; at the next sum the member raises its
/// flag, and settle() throws the same error on every member. Alone (no group) nothing is kept:
/// exceptions leave attempt() as they are.
class Agreement {
 public:
  explicit Agreement(Collective* group) : group_(group) {}

  Collective* group() const { return group_; }
  int rank() const { return group_ ? group_->rank() : 0; }
  int size() const { return group_ ? group_->size() : 1; }

  /// Runs f, unless an error is pending; in a group, keeps what it throws.
  template <class F>
  void attempt(F&& f) {
    if (!group_) return static_cast<void>(f());
    if (pending_) return;
    try {
      f();
    } catch (...) {
      pending_ = std::current_exception();
    }
  }

  /// The member's flag among size() flags, for a sum.
  template <class T>
  void raise_flag(std::span<T> flags) const {
    std::fill(flags.begin(), flags.end(), T(0));
    if (pending_) flags[static_cast<std::size_t>(rank())] = T(1);
  }

  /// After the sum of the flags: throws, on every member, the error of the lowest member whose
  /// flag is set.
  template <class T>
  void settle(std::span<const T> flags) {
    for (std::size_t r = 0; r < flags.size(); ++r)
      if (flags[r] != T(0)) raise(static_cast<int>(r));
  }

  /// A sum of the flags alone: throws on every member when any member's work failed.
  void sync() {
    if (!group_) return;
    std::vector<double> flags(static_cast<std::size_t>(size()));
    raise_flag(std::span(flags));
    group_->sum(std::span(flags));
    settle(std::span<const double>(flags));
  }

 private:
  // What kind of error crosses to the other members: a backprop error stays one.
  enum class Kind : std::uint64_t { numeric, shape, argument, file, format, collective, other };

  [[noreturn]] void raise(int failed) {
    std::uint64_t kind = 0;
    std::string message;
    if (rank() == failed) std::tie(kind, message) = describe(pending_);
    group_->broadcast(bytes_of(kind), failed);
    std::vector<char> text(message.begin(), message.end());
    broadcast_vector(*group_, text, failed);
    pending_ = nullptr;
    message.assign(text.begin(), text.end());
    message += " (member " + std::to_string(failed) + " of " + std::to_string(size()) + ")";
    switch (static_cast<Kind>(kind)) {
      case Kind::numeric:
        throw NumericError(message);
      case Kind::shape:
        throw ShapeError(message);
      case Kind::argument:
        throw ArgumentError(message);
      case Kind::file:
        throw FileError(message);
      case Kind::format:
        throw FormatError(message);
      case Kind::collective:
        throw CollectiveError(message);
      case Kind::other:
        break;
    }
    throw std::runtime_error(message);
  }

  static std::pair<std::uint64_t, std::string> describe(const std::exception_ptr& error) {
    auto as = [](Kind k, const std::exception& e) {
      return std::pair{static_cast<std::uint64_t>(k), std::string(e.what())};
    };
    try {
      std::rethrow_exception(error);
    } catch (const NumericError& e) {
      return as(Kind::numeric, e);
    } catch (const ShapeError& e) {
      return as(Kind::shape, e);
    } catch (const ArgumentError& e) {
      return as(Kind::argument, e);
    } catch (const FileError& e) {
      return as(Kind::file, e);
    } catch (const FormatError& e) {
      return as(Kind::format, e);
    } catch (const CollectiveError& e) {
      return as(Kind::collective, e);
    } catch (const std::exception& e) {
      return as(Kind::other, e);
    } catch (...) {
      return {static_cast<std::uint64_t>(Kind::other), "an exception that is not a std::exception"};
    }
  }

  Collective* group_;
  std::exception_ptr pending_;
};

/// Named numbers every member must have alike (the data's shape, the options, the parameters'
/// shapes); agree() names the first that differs from member 0's.
class Settings {
 public:
  void add(const char* name, std::uint64_t value) {
    names_.push_back(name);
    values_.push_back(value);
  }
  void add(const char* name, double value) {
    std::uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    add(name, bits);
  }

  /// Throws Error on every member when any member's settings differ from member 0's.
  template <class Error = ArgumentError>
  void agree(Agreement& agreement, const char* function) const {
    Collective* group = agreement.group();
    if (!group) return;
    std::vector<std::uint64_t> first = values_;
    broadcast_vector(*group, first, 0);
    agreement.attempt([&] {
      for (std::size_t i = 0; i < values_.size(); ++i)
        if (i >= first.size() || first[i] != values_[i])
          throw Error(std::string("backprop::") + function + ": " + names_[i] +
                      " differs between member 0 and member " + std::to_string(group->rank()) +
                      ": every member must be given the same network, data and options");
      if (first.size() != values_.size())
        throw Error(std::string("backprop::") + function + ": member " +
                    std::to_string(group->rank()) +
                    "'s network has another number of parameter matrices than member 0's");
    });
    agreement.sync();
  }

 private:
  std::vector<const char*> names_;
  std::vector<std::uint64_t> values_;
};

/// The parameters' shapes, slot by slot.
template <class Net>
void add_parameter_shapes(Settings& settings, const Net& net) {
  net.for_each_parameter([&](std::size_t, const auto& p, const auto&) {
    settings.add("the shape of a parameter matrix", static_cast<std::uint64_t>(p.rows()));
    settings.add("the shape of a parameter matrix", static_cast<std::uint64_t>(p.cols()));
  });
}

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
    const auto flags = std::span(buffer_).last(static_cast<std::size_t>(agreement_->size()));
    agreement_->raise_flag(flags);
    if (Collective* group = agreement_->group()) group->sum(std::span(buffer_));
    agreement_->settle(std::span<const Scalar>(flags));

    Scalar* total = buffer_.data();
    for (Index part = 1; part < split_.parts(); ++part) {
      const Scalar* section = total + part * section_;
      for (Index i = 0; i < section_; ++i)
        total[i] += section[i];
    }
    optimizer.begin_step();
    Index offset = 0;
    net.for_each_parameter([&](std::size_t slot, auto& p, const auto& g) {
      using Gradient = std::remove_cvref_t<decltype(g)>;
      const Eigen::Map<const Gradient> sum(total + offset, g.rows(), g.cols());
      optimizer.update(slot, p, sum);
      offset += g.size();
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
    const Scalar weight =
        L::averages ? static_cast<Scalar>(static_cast<double>(piece.count) / static_cast<double>(n))
                    : Scalar(1);
    // Adding +0 turns -0 into +0, so that a part sums to the same bits whatever the number of
    // members adding zeros to it; adding -0 changes nothing (one member alone stays bit for bit
    // train_step).
    const Scalar zero = split_.parts() > 1 ? Scalar(0) : Scalar(-0.0);
    Scalar* out = buffer_.data() + part * section_;
    net.for_each_parameter([&](std::size_t, const auto&, const auto& g) {
      using Gradient = std::remove_cvref_t<decltype(g)>;
      Eigen::Map<Gradient>(out, g.rows(), g.cols()) = (g.array() * weight + zero).matrix();
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
  const auto flags = std::span(sums).last(static_cast<std::size_t>(agreement.size()));
  agreement.raise_flag(flags);
  if (Collective* group = agreement.group()) group->sum(std::span(sums));
  agreement.settle(std::span<const double>(flags));
  ScoreAccumulator::Totals total{};
  for (std::size_t i = 0; i < parts.size(); ++i)
    for (std::size_t j = 0; j < k; ++j)
      total[j] += sums[i * k + j];
  ScoreAccumulator result = parts.front();
  result.set_totals(total);
  return result;
}

}  // namespace detail

/// Every member's parameters become the root member's (a network built alike on every member,
/// whatever its initial values). Throws ShapeError on every member, before changing anything,
/// when the members' networks have other shapes.
template <class Net>
void broadcast_parameters(Net& net, Collective& group, int root = 0) {
  detail::Agreement agreement(&group);
  detail::Settings shapes;
  detail::add_parameter_shapes(shapes, net);
  shapes.agree<ShapeError>(agreement, "broadcast_parameters");
  net.for_each_parameter([&](std::size_t, auto& p, const auto&) {
    group.broadcast(std::as_writable_bytes(std::span(p.data(), static_cast<std::size_t>(p.size()))),
                    root);
  });
}

/// Every member's optimizer state becomes the root member's: its learning rate, its step count
/// and the state of every slot (Adam's moments), so training goes on alike from a resumed root.
template <class O>
void broadcast_state(O& optimizer, Collective& group, int root = 0) {
  using Scalar = typename O::Scalar;
  Scalar rate = optimizer.learning_rate();
  std::int64_t steps = optimizer.steps();
  group.broadcast(detail::bytes_of(rate), root);
  group.broadcast(detail::bytes_of(steps), root);
  optimizer.set_learning_rate(rate);
  {
    optimizer.set_steps(steps);
    auto& slots = optimizer.state();
    std::vector<std::int64_t> shapes;
    for (const auto& slot : slots)
      for (const auto& a : slot) {
        shapes.push_back(a.rows());
        shapes.push_back(a.cols());
      }
    std::uint64_t count = slots.size();
    group.broadcast(detail::bytes_of(count), root);
    detail::broadcast_vector(group, shapes, root);
    slots.resize(static_cast<std::size_t>(count));
    std::size_t i = 0;
    for (auto& slot : slots)
      for (auto& a : slot) {
        a.resize(shapes[i], shapes[i + 1]);
        i += 2;
        group.broadcast(
            std::as_writable_bytes(std::span(a.data(), static_cast<std::size_t>(a.size()))), root);
      }
  }
}

/// Whether every member's network holds the same parameters, bit for bit (and, given the
/// optimizer, the same optimizer state): the same answer on every member.
template <class Net, class... O>
bool replicas_identical(const Net& net, Collective& group, const O&... optimizer) {
  static_assert(sizeof...(O) <= 1, "replicas_identical: one network and at most one optimizer");
  detail::Fingerprint mine;
  net.for_each_parameter([&](std::size_t, const auto& p, const auto&) { mine.add_matrix(p); });
  [[maybe_unused]] auto add_state = [&](const auto& o) {
    const std::int64_t steps = o.steps();
    mine.add(&steps, sizeof steps);
    for (const auto& slot : o.state())
      for (const auto& a : slot)
        mine.add_matrix(a.matrix());
  };
  (add_state(optimizer), ...);
  std::uint64_t first = mine.value();
  group.broadcast(detail::bytes_of(first), 0);
  double differ = first == mine.value() ? 0 : 1;
  group.sum(std::span(&differ, 1));
  return differ == 0;
}

}  // namespace backprop
