// ThreadGroup: N members on N threads of one process, a Collective (collective.hpp) for tests
// and for a machine's cores.
//
//   ThreadGroup group(4);
//   group.run([&](Collective& member) {
//     auto net = make_network();
//     fit(net, X, Y, loss, optimizer, {.collective = &member});
//   });
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "../config.hpp"
#include "collective.hpp"

namespace backprop {

/// N members on N threads of this process, for tests and for a machine's cores: run(f) calls
/// f(member) on each. Sums add the members' values in rank order, so they repeat exactly.
///
/// A member that ends (returns or throws) while another waits in an operation breaks the group:
/// the waiting member's operation throws CollectiveError, so a mistake ends the run instead of
/// hanging it. run() then rethrows the first member's exception that is not such a consequence.
class ThreadGroup {
 public:
  /// A group of `members` threads (at least 1).
  explicit ThreadGroup(int members) : size_(members) {
    if (members < 1)
      throw ArgumentError("backprop::ThreadGroup: members must be at least 1, got " +
                          std::to_string(members));
  }

  /// The number of members.
  int size() const { return size_; }

  /// Calls f(member) for every member, each on a thread of its own (member 0 on the calling
  /// thread), and returns when all have returned; rethrows a member's exception.
  void run(const std::function<void(Collective&)>& f) {
    State state(size_);
    std::vector<Member> members;
    members.reserve(static_cast<std::size_t>(size_));
    for (int r = 0; r < size_; ++r)
      members.emplace_back(state, r);
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size_));
    auto body = [&](int r) {
      const auto i = static_cast<std::size_t>(r);
      try {
        f(members[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
      state.leave();
    };
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(size_ - 1));
    for (int r = 1; r < size_; ++r)
      threads.emplace_back(body, r);
    body(0);
    for (std::thread& t : threads)
      t.join();
    rethrow_first(errors);
  }

 private:
  // What the members share: where each put its buffer, and a barrier that breaks when one leaves.
  struct State {
    explicit State(int n) : buffers(static_cast<std::size_t>(n)), size(n) {}
    std::mutex mutex;
    std::condition_variable changed;
    using Buffer = std::variant<std::span<double>, std::span<float>, std::span<std::byte>>;
    std::vector<Buffer> buffers;
    int size;
    int arrived = 0;
    long generation = 0;
    int left = 0;

    // Waits until every member has arrived; throws CollectiveError once a member has left.
    void barrier() {
      std::unique_lock lock(mutex);
      if (left > 0) throw broken();
      const long mine = generation;
      if (++arrived == size) {
        arrived = 0;
        ++generation;
        changed.notify_all();
        return;
      }
      changed.wait(lock, [&] { return generation != mine || left > 0; });
      if (generation == mine) throw broken();
    }
    void leave() {
      const std::lock_guard lock(mutex);
      ++left;
      changed.notify_all();
    }
    static CollectiveError broken() {
      return CollectiveError(
          "backprop::ThreadGroup: a member ended while the others were still in a collective "
          "operation: every member must make the same calls");
    }
  };

  class Member final : public Collective {
   public:
    Member(State& state, int rank) : state_(&state), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return state_->size; }
    void sum(std::span<double> data) override { add(data); }
    void sum(std::span<float> data) override { add(data); }

    void broadcast(std::span<std::byte> data, int root) override {
      check_root(root);
      post(data);
      const auto& source = std::get<std::span<std::byte>>(at(root));
      if (rank_ != root) std::copy(source.begin(), source.end(), data.begin());
      state_->barrier();  // nobody reuses its buffer before every copy is made
    }

   private:
    // Member r sums its own stretch of every buffer, in rank order, and writes it to all: the
    // stretches are disjoint, so no member reads what another writes.
    template <class T>
    void add(std::span<T> data) {
      post(data);
      const auto n = data.size(), members = static_cast<std::size_t>(state_->size);
      const auto r = static_cast<std::size_t>(rank_);
      const std::size_t first = n * r / members, last = n * (r + 1) / members;
      for (std::size_t i = first; i < last; ++i) {
        T total = std::get<std::span<T>>(at(0))[i];
        for (std::size_t k = 1; k < members; ++k)
          total += std::get<std::span<T>>(at(static_cast<int>(k)))[i];
        for (std::size_t k = 0; k < members; ++k)
          std::get<std::span<T>>(at(static_cast<int>(k)))[i] = total;
      }
      state_->barrier();
    }

    // Shows this member's buffer to the others; every member must show one of the same type and
    // size, or all of them throw.
    template <class T>
    void post(std::span<T> data) {
      at(rank_) = data;
      state_->barrier();
      for (int k = 0; k < state_->size; ++k) {
        const auto* other = std::get_if<std::span<T>>(&at(k));
        if (!other || other->size() != data.size())
          throw CollectiveError("backprop::ThreadGroup: member " + std::to_string(k) +
                                " called a different operation or size than member " +
                                std::to_string(rank_) + " (" + std::to_string(data.size()) +
                                " elements)");
      }
    }

    State::Buffer& at(int k) { return state_->buffers[static_cast<std::size_t>(k)]; }

    void check_root(int root) const {
      if (root < 0 || root >= state_->size)
        throw ArgumentError("backprop::ThreadGroup::broadcast: root " + std::to_string(root) +
                            " is not a member of a group of " + std::to_string(state_->size));
    }

    State* state_;
    int rank_;
  };

  // The lowest member's exception that is not a CollectiveError, which is what others see after
  // a member ended; else the lowest member's CollectiveError.
  static void rethrow_first(const std::vector<std::exception_ptr>& errors) {
    std::exception_ptr consequence;
    for (const std::exception_ptr& e : errors) {
      if (!e) continue;
      try {
        std::rethrow_exception(e);
      } catch (const CollectiveError&) {
        if (!consequence) consequence = e;
      } catch (...) {
        throw;
      }
    }
    if (consequence) std::rethrow_exception(consequence);
  }

  int size_;
};

}  // namespace backprop
