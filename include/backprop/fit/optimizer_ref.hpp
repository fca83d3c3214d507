// OptimizerRef<Scalar>: any optimizer (optimizer.hpp), by reference, behind one interface: what
// fit's loop (fit/trainer.hpp), compiled once whatever the optimizer, takes. It refers to the
// caller's optimizer, which it updates in place and which must outlive it.
//
// Each update goes through one indirect call per parameter matrix, on a Map of its values; the
// optimizer's own loop does the work, as it does when called directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../optimizer.hpp"
#include "../parallel/replicas.hpp"

namespace backprop {

namespace detail {

/// A network's parameter shapes, as an optimizer's check(net) walks them.
struct ParameterShapes {
  struct Shape {
    Index rows_, cols_;
    Index rows() const { return rows_; }
    Index cols() const { return cols_; }
  };
  std::vector<std::pair<Index, Index>> all;
  template <class F>
  void for_each_parameter(F&& f) const {
    for (std::size_t slot = 0; slot < all.size(); ++slot) {
      const Shape shape{all[slot].first, all[slot].second};
      f(slot, shape, shape);
    }
  }
};

// An optimizer's calls through a pointer to it: what OptimizerRef calls. Function templates of
// their own, so that the compiled mode compiles those of the built-in optimizers once.
template <class O>
void optimizer_begin_step(void* o) {
  static_cast<O*>(o)->begin_step();
}
template <class O, class Map, class ConstMap>
void optimizer_update(void* o, std::size_t slot, Map& p, const ConstMap& g) {
  static_cast<O*>(o)->update(slot, p, g);
}
template <class O>
typename O::Scalar optimizer_learning_rate(const void* o) {
  return static_cast<const O*>(o)->learning_rate();
}
template <class O>
void optimizer_set_learning_rate(void* o, typename O::Scalar rate) {
  static_cast<O*>(o)->set_learning_rate(rate);
}
template <class O>
std::int64_t optimizer_steps(const void* o) {
  return static_cast<const O*>(o)->steps();
}
template <class O, class Shapes>
void optimizer_check(const void* o, const Shapes& shapes) {
  if constexpr (requires { static_cast<const O*>(o)->check(shapes); })
    static_cast<const O*>(o)->check(shapes);
}
template <class O>
void optimizer_broadcast(void* o, Collective& group, int root) {
  broadcast_state(*static_cast<O*>(o), group, root);
}

}  // namespace detail

/// An optimizer of scalar Scalar, by reference.
template <class Scalar_>
class OptimizerRef {
 public:
  using Scalar = Scalar_;
  using Map = Eigen::Map<Eigen::Matrix<Scalar, Dynamic, Dynamic>>;
  using ConstMap = Eigen::Map<const Eigen::Matrix<Scalar, Dynamic, Dynamic>>;

  /// Refers to `optimizer`, which must outlive this.
  template <Optimizer O>
  requires std::is_same_v<typename O::Scalar, Scalar> OptimizerRef(
      O& optimizer)  // NOLINT(google-explicit-constructor): a reference converts
      : name(O::name), optimizer_(&optimizer), calls_(&calls_of<O>) {}

  std::string_view name;  ///< the optimizer's: "adam"

  void begin_step() { calls_->begin_step(optimizer_); }
  /// One parameter matrix and its gradient, of equal shapes, contiguous.
  template <class P, class G>
  void update(std::size_t slot, Eigen::MatrixBase<P>& p, const Eigen::MatrixBase<G>& g) {
    static_assert(std::is_same_v<typename P::Scalar, Scalar>,
                  "backprop: the optimizer's scalar type must be the network's");
    Map parameter(p.derived().data(), p.rows(), p.cols());
    const ConstMap gradient(g.derived().data(), g.rows(), g.cols());
    calls_->update(optimizer_, slot, parameter, gradient);
  }
  Scalar learning_rate() const { return calls_->learning_rate(optimizer_); }
  void set_learning_rate(Scalar rate) { calls_->set_learning_rate(optimizer_, rate); }
  std::int64_t steps() const { return calls_->steps(optimizer_); }

  /// Throws ShapeError, before anything changes, when its state does not fit the network.
  template <class Net>
  void check(const Net& net) const {
    detail::ParameterShapes shapes;
    net.for_each_parameter([&](std::size_t, const auto& p, const auto&) {
      shapes.all.emplace_back(p.rows(), p.cols());
    });
    calls_->check(optimizer_, shapes);
  }
  /// The root member's state on every member of `group` (data_parallel.hpp's broadcast_state).
  void broadcast_state(Collective& group, int root) { calls_->broadcast(optimizer_, group, root); }

 private:
  struct Calls {
    void (*begin_step)(void* o);
    void (*update)(void* o, std::size_t slot, Map& p, const ConstMap& g);
    Scalar (*learning_rate)(const void* o);
    void (*set_learning_rate)(void* o, Scalar rate);
    std::int64_t (*steps)(const void* o);
    void (*check)(const void* o, const detail::ParameterShapes& shapes);
    void (*broadcast)(void* o, Collective& group, int root);
  };
  template <class O>
  static constexpr Calls calls_of{
      &detail::optimizer_begin_step<O>,    &detail::optimizer_update<O, Map, ConstMap>,
      &detail::optimizer_learning_rate<O>, &detail::optimizer_set_learning_rate<O>,
      &detail::optimizer_steps<O>,         &detail::optimizer_check<O, detail::ParameterShapes>,
      &detail::optimizer_broadcast<O>};

  void* optimizer_;
  const Calls* calls_;
};

}  // namespace backprop
