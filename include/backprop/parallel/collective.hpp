// What data-parallel training needs from a group of members.
//
// fit() trains on N members at once when FitOptions::collective is given: every member holds the
// same network and the same data, computes its slice of each batch, and the members add their
// gradients together before each update (data_parallel.hpp). A member reaches the others only
// through a Collective: its rank, the group's size, an in-place sum and a broadcast, each called
// by every member of the group in the same order.
//
//   ThreadGroup group(4);               // 4 members on 4 threads, in this process
//   group.run([&](Collective& member) {
//     auto net = make_network();
//     fit(net, X, Y, loss, optimizer, {.collective = &member});
//   });
//
// ThreadGroup (thread_group.hpp) tests the distributed logic in every build;
// backprop::mpi::Communicator (mpi.hpp, the optional backprop::mpi target) is the same interface
// over MPI processes.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "../config.hpp"

namespace backprop {

/// Thrown by a collective operation that cannot complete: a member left the group, or members
/// called it with different sizes.
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A group of members that combine data. Every member calls each operation, in the same order,
/// with buffers of the same size; each call returns once the operation is complete for it. Every
/// member receives the same sum, bit for bit.
class Collective {
 public:
  virtual ~Collective() = default;

  /// This member's number, from 0 to size() - 1.
  virtual int rank() const = 0;
  /// The number of members.
  virtual int size() const = 0;

  /// data = the element-wise sum of every member's data, on every member.
  virtual void sum(std::span<double> data) = 0;
  /// data = the element-wise sum of every member's data, on every member.
  virtual void sum(std::span<float> data) = 0;
  /// data = the root member's data, on every member.
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
};

}  // namespace backprop
