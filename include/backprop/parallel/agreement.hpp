// How the members of a group (collective.hpp) stay in step when one of them fails, and check
// that they were all given the same things.
//
// Agreement. Each member runs its own work through attempt(), which keeps an exception instead of
// letting it leave. Every sum of the members' data carries one error flag per member at its end
// (sum()): a member whose work failed raises its flag, and after the sum every member throws the
// same error, that of the lowest member whose flag is set, "... (member r of N)". So nobody is
// left waiting in a sum that the others never reach. Alone (no group) nothing is kept: exceptions
// leave attempt() as they are.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "collective.hpp"

namespace backprop::detail {

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

/// How the members of a group agree on failure (see the top of this file).
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

  /// The sum of every member's `data` on every member, whose last size() entries are the members'
  /// error flags (this member's is set here); then, when any flag is set, throws on every member
  /// the error of the lowest member whose flag is, before anything else happens.
  template <class T>
  void sum(std::span<T> data) {
    const auto flags = data.last(static_cast<std::size_t>(size()));
    std::fill(flags.begin(), flags.end(), T(0));
    if (pending_) flags[static_cast<std::size_t>(rank())] = T(1);
    if (group_) group_->sum(data);
    for (std::size_t r = 0; r < flags.size(); ++r)
      if (flags[r] != T(0)) raise(static_cast<int>(r));
  }

  /// A sum of the flags alone: throws on every member when any member's work failed.
  void sync() {
    if (!group_) return;
    std::vector<double> flags(static_cast<std::size_t>(size()));
    sum(std::span(flags));
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

/// Named numbers that every member must have alike (the data's shape, the options, the
/// parameters' shapes); agree() names the first that differs from member 0's.
class Facts {
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

  /// Throws Error on every member when any member's facts differ from member 0's.
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
void add_parameter_shapes(Facts& facts, const Net& net) {
  net.for_each_parameter([&](std::size_t, const auto& p, const auto&) {
    facts.add("the shape of a parameter matrix", static_cast<std::uint64_t>(p.rows()));
    facts.add("the shape of a parameter matrix", static_cast<std::uint64_t>(p.cols()));
  });
}

}  // namespace backprop::detail
