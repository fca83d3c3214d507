// What a program needs around data-parallel training: members that start alike, and a check
// that they end alike.
//
//   broadcast_parameters(net, group);          // every member starts from member 0's parameters
//   broadcast_state(adam, group);              // and member 0's optimizer state
//   bool same = replicas_identical(net, group, adam);   // bit for bit, on every member
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../optimizer.hpp"
#include "agreement.hpp"
#include "collective.hpp"

namespace backprop {

namespace detail {

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

}  // namespace detail

/// Every member's parameters become the root member's (a network built alike on every member,
/// whatever its initial values). Throws ShapeError on every member, before changing anything,
/// when the members' networks have other shapes.
template <class Net>
void broadcast_parameters(Net& net, Collective& group, int root = 0) {
  detail::Agreement agreement(&group);
  detail::Facts shapes;
  detail::add_parameter_shapes(shapes, net);
  shapes.agree<ShapeError>(agreement, "broadcast_parameters");
  net.for_each_parameter([&](std::size_t, auto& p, const auto&) {
    group.broadcast(std::as_writable_bytes(std::span(p.data(), static_cast<std::size_t>(p.size()))),
                    root);
  });
}

/// Every member's optimizer state becomes the root member's: its learning rate, its step count
/// and the state of every slot (Adam's moments), so training goes on alike from a resumed root.
template <Optimizer O>
void broadcast_state(O& optimizer, Collective& group, int root = 0) {
  using Scalar = typename O::Scalar;
  Scalar rate = optimizer.learning_rate();
  std::int64_t steps = optimizer.steps();
  group.broadcast(detail::bytes_of(rate), root);
  group.broadcast(detail::bytes_of(steps), root);
  optimizer.set_learning_rate(rate);
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
