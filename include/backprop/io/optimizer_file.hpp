// Optimizer state files: what an optimizer has learned about the gradients (momenta, running
// averages, Adam's step count), saved beside a model so that training resumes exactly where it
// stopped. Hyper-parameters, the learning rate among them, are not state: they come from the
// optimizer's constructor (and fit's schedule), as they did in the first run.
//
//   save_optimizer(adam, "mnist.bpo");   ...   load_optimizer(adam, "mnist.bpo");
//
// The body of the file (kind "OPTM" in the container of binary.hpp) is:
//
//   text name                    "sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"
//   u64 steps taken              (every optimizer counts them; Adam uses them as t)
//   u32 slot count, then for each slot: u32 array count K, then K matrices
//       (u64 rows, u64 cols, values column by column in the header's scalar type)
//
// Loading is all or nothing, as for model files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "../config.hpp"
#include "binary.hpp"

namespace backprop {

/// Writes the optimizer's state to `path`, replacing it only once the whole file is written.
template <class Optimizer>
void save_optimizer(const Optimizer& optimizer, const std::filesystem::path& path) {
  using Scalar = typename Optimizer::Scalar;
  io::Writer w;
  w.text(Optimizer::name);
  w.u64(static_cast<std::uint64_t>(optimizer.steps()));
  const auto& slots = optimizer.state();
  w.u32(static_cast<std::uint32_t>(slots.size()));
  for (const auto& slot : slots) {
    w.u32(static_cast<std::uint32_t>(slot.size()));
    for (const auto& array : slot)
      w.matrix<Scalar>(array.matrix());
  }
  io::write_file(path, io::frame<Scalar>("OPTM", w));
}

namespace io {

/// Reads an optimizer file's bytes into the optimizer: all or nothing. `source` names the file.
template <class Optimizer>
void read_optimizer(Optimizer& optimizer, const std::vector<std::uint8_t>& bytes,
                    const std::string& source) {
  using Scalar = typename Optimizer::Scalar;
  const io::Framed framed = io::unframe(bytes, "OPTM", source);
  io::Reader r(bytes, framed.body_begin, framed.body_end, source);
  const std::string name = r.text(64);
  bool named = name == Optimizer::name;
  if constexpr (requires { Optimizer::former_name; })
    named = named || name == Optimizer::former_name;
  if (!named)
    r.fail("the file holds the state of " + name + ", not of " + std::string(Optimizer::name));
  const std::uint64_t steps = r.u64();
  if (steps >= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    r.fail("a step count of " + std::to_string(steps) + " is beyond 2^63 - 2");
  // A slot takes at least 4 bytes (its count of arrays): bounded before anything is allocated.
  const std::uint32_t slot_count = r.count(4, "slots");
  using Slots = std::remove_cvref_t<decltype(optimizer.state())>;
  Slots slots(slot_count);
  for (auto& slot : slots) {
    const std::uint32_t k = r.u32();
    if (k != slot.size())
      r.fail(std::to_string(k) + " arrays in a slot, where " + std::string(Optimizer::name) +
             " keeps " + std::to_string(slot.size()));
    for (auto& array : slot) {
      array = r.template matrix<Scalar>(framed.bytes_per_scalar).array();
      if (array.rows() != slot[0].rows() || array.cols() != slot[0].cols())
        r.fail("the arrays of a slot have different shapes");
    }
  }
  if (!r.done()) r.fail("unexpected bytes after the last field");
  // Checked: from here on nothing throws.
  optimizer.state() = std::move(slots);
  optimizer.set_steps(static_cast<std::int64_t>(steps));
}

}  // namespace io

/// Reads the state in `path` into the optimizer: all or nothing.
template <class Optimizer>
void load_optimizer(Optimizer& optimizer, const std::filesystem::path& path) {
  io::read_optimizer(optimizer, io::read_file(path), path.string());
}

}  // namespace backprop
