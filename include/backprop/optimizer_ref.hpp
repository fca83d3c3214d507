// OptimizerRef<Scalar>: any optimizer (optimizer.hpp), by reference, behind one interface: what
// the code compiled once whatever the optimizer takes (a Sequential's steps, fit's loop). It
// refers to the caller's optimizer, which it updates in place and which must outlive it.
//
// Each update goes through one indirect call per parameter matrix, on a Map of its values; the
// optimizer's own loop does the work, as it does when called directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "config.hpp"
#include "optimizer.hpp"

namespace backprop {

class Collective;

namespace detail {

/// A network's parameter shapes, as an optimizer's check(net) walks them, read from the network as
/// they are walked (a check runs at every step and allocates nothing).
struct ParameterShapes {
  struct Shape {
    Index rows_, cols_;
    Index rows() const { return rows_; }
    Index cols() const { return cols_; }
  };
  using Visit = void (*)(void* f, std::size_t slot, Index rows, Index cols);
  const void* net;
  void (*each)(const void* net, void* f, Visit visit);

  template <class Net>
  static ParameterShapes of(const Net& net) {
    return {&net, [](const void* n, void* f, Visit visit) {
              static_cast<const Net*>(n)->for_each_parameter(
                  [&](std::size_t slot, const auto& p, const auto&) {
                    visit(f, slot, p.rows(), p.cols());
                  });
            }};
  }
  template <class F>
  void for_each_parameter(F&& f) const {
    each(net, &f, [](void* g, std::size_t slot, Index rows, Index cols) {
      const Shape shape{rows, cols};
      (*static_cast<std::remove_reference_t<F>*>(g))(slot, shape, shape);
    });
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
    calls_->check(optimizer_, detail::ParameterShapes::of(net));
  }
  /// How to give every member of a group the root member's state (replicas.hpp's broadcast_state
  /// for the optimizer's type: fit sets it), and the call that does.
  using Share = void (*)(void* optimizer, Collective& group, int root);
  void set_share(Share share) { share_ = share; }
  void broadcast_state(Collective& group, int root) {
    if (!share_) throw ArgumentError("backprop::OptimizerRef: no way to share its state was given");
    share_(optimizer_, group, root);
  }

 private:
  struct Calls {
    void (*begin_step)(void* o);
    void (*update)(void* o, std::size_t slot, Map& p, const ConstMap& g);
    Scalar (*learning_rate)(const void* o);
    void (*set_learning_rate)(void* o, Scalar rate);
    std::int64_t (*steps)(const void* o);
    void (*check)(const void* o, const detail::ParameterShapes& shapes);
  };
  template <class O>
  static constexpr Calls calls_of{
      &detail::optimizer_begin_step<O>,    &detail::optimizer_update<O, Map, ConstMap>,
      &detail::optimizer_learning_rate<O>, &detail::optimizer_set_learning_rate<O>,
      &detail::optimizer_steps<O>,         &detail::optimizer_check<O, detail::ParameterShapes>};

  void* optimizer_;
  const Calls* calls_;
  Share share_ = nullptr;
};

}  // namespace backprop
