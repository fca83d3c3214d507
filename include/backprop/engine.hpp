// BasicNetwork<Store>: the one implementation of predict, loss, backward and train_step, over a
// store of layers, and the one API of both networks. Network (network.hpp) is the engine over a
// compile-time store, a tuple walked by folds; Sequential (sequential.hpp) is the engine over a
// run-time store, type-erased layers walked by a loop. Whatever differs between the two lives in
// the store (LayerStore below says what a store offers), never in the algorithm.
//
// Check, then commit. Every operation checks all that it can before it changes anything: the
// shapes of X and Y, Y against the loss's domain, the loss against the output layer, and the
// optimizer against the network's parameters. Then it runs forward, in which layers keep any
// change of their state aside (Dropout's generator), and takes the loss, which must be finite.
// Only then does anything change: the layers commit their state, the optimizer counts the step,
// and backward writes the gradients and, in train_step, updates each layer. So a call that throws
// leaves parameters, gradients, optimizer state and generators exactly as they were.
//
// Threads. predict and loss are const: they read the parameters and write only a workspace of
// their own (no process-wide state), so any number of threads may call them on one network at
// once, as long as no thread changes it meanwhile.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "config.hpp"
#include "init.hpp"
#include "layers/protocol.hpp"
#include "loss.hpp"

namespace backprop {

/// What the engine needs from a store of layers. Layer indices i are std::size_t in the run-time
/// store and std::integral_constant in the compile-time one; f(i) is called for each.
///
///   Scalar, name, where, inputs, outputs   the scalar, "Network", "backprop::Network", the
///                                     widths fixed at compile time
///   size(), last(), node(i), widths() the layers: LayerNode (or AnyLayer) of layer i
///   for_each(f), for_each_reversed(f) f(i) for each layer
///   Workspace<Batch>, resize(ws, rows), at(ws, i)   a workspace per layer for Batch rows
///   on_stack<Batch>, training_workspace(rows)       a step on the stack, or in one kept
///   input(i, x, ws), below(i, f, otherwise)         X or the output below; f(i - 1) or otherwise()
///   adapt(x), loss_of(l), optimizer_of(o), output_of(f)   X, the loss, the optimizer and an
///                                     output callback as the layers and steps take them: the
///                                     run-time store holds them as values (an Eigen::Ref, AnyLoss,
///                                     OptimizerRef, OutputRef), so its steps are compiled once
///   Output<Batch>                     what predict returns for Batch rows
///   check_ready(function), output_activation(), fits<L>   whether the output can compute
template <class S>
concept LayerStore = requires(S& s, const S& c, const char* function, Index rows) {
  requires std::floating_point<typename S::Scalar>;
  { S::name } -> std::convertible_to<const char*>;
  { S::where } -> std::convertible_to<std::string_view>;
  { S::inputs } -> std::convertible_to<int>;
  { S::outputs } -> std::convertible_to<int>;
  { c.size() } -> std::convertible_to<std::size_t>;
  c.last();
  c.widths();
  c.check_ready(function);
  { c.output_activation() } -> std::convertible_to<std::string_view>;
  s.training_workspace(rows);
  c.for_each([](auto) {});
  c.for_each_reversed([](auto) {});
  typename S::template Workspace<Dynamic>;
};

namespace detail {

struct IgnoreOutput {
  template <class... Arguments>
  void operator()(const Arguments&...) const {}
};

/// The optimizer of backward(): the step computes the gradients and updates nothing.
struct NoUpdate {
  void begin_step() {}
  template <class P, class G>
  void update(std::size_t, P&, const G&) {}
};

/// f(A, Y) by reference, for a run-time network's steps, which are compiled once whatever f is:
/// A, the network's output, and Y, the rows of the targets it answers.
template <class Scalar>
class OutputRef {
 public:
  using Input = Eigen::Ref<const Eigen::Matrix<Scalar, Dynamic, Dynamic>>;

  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, OutputRef>) explicit OutputRef(F& f)
      : f_(&f), call_(&call<F>) {}
  void operator()(const Input& a, const Input& y) const { call_(f_, a, y); }

 private:
  template <class F>
  static void call(void* f, const Input& a, const Input& y) {
    (*static_cast<F*>(f))(a, y);
  }
  void* f_;
  void (*call_)(void*, const Input&, const Input&);
};

/// The optimizer's updates of parameter matrices in slot order from `slot`, each with the gradient
/// it is given: what train_step, step() and the data-parallel step all update through.
template <class O>
struct Updates {
  O& optimizer;
  std::size_t slot = 0;
  template <class P, class G>
  void operator()(P& parameter, const G& gradient) {
    optimizer.update(slot++, parameter, gradient);
  }
};

/// Throws ShapeError unless X (rows, inputs) and Y (rows, outputs) fit a network of `inputs`
/// inputs and `outputs` outputs (Y is not checked when y_rows is negative). `where` names the
/// caller ("backprop::fit", or a network and its function), x_name and y_name the data ("X",
/// "validation X"). Nothing is built unless it throws: the check runs at every step.
inline void check_shapes(std::string_view where, std::string_view function, Index inputs,
                         Index outputs, Index x_rows, Index x_cols, Index y_rows, Index y_cols,
                         std::string_view x_name = "X", std::string_view y_name = "Y") {
  const bool x_fits = x_cols == inputs && x_rows > 0;
  if (x_fits && (y_rows < 0 || (y_rows == x_rows && y_cols == outputs))) return;
  std::string message = std::string(where) + (function.empty() ? "" : "::") +
                        std::string(function) + ": " + std::string(x_name) + " is " +
                        shape_string(x_rows, x_cols);
  if (!x_fits)
    throw ShapeError(message + ", but the network takes " + std::to_string(inputs) +
                     " inputs per row" +
                     (x_rows == 0 ? " and " + std::string(x_name) + " has no rows" : "") +
                     ": expected " + shape_string(x_rows == 0 ? 1 : x_rows, inputs));
  throw ShapeError(message + " and " + std::string(y_name) + " is " + shape_string(y_rows, y_cols) +
                   ", but the network gives " + std::to_string(outputs) +
                   " outputs per row: expected " + shape_string(x_rows, outputs));
}

}  // namespace detail

/// The network algorithm over a Store of layers; use it as Network or Sequential.
template <LayerStore Store>
class BasicNetwork {
 public:
  /// float or double.
  using Scalar = typename Store::Scalar;

  /// X: (batch, inputs)  ->  (batch, outputs), in blocks of inference_block rows.
  template <class X>
  auto predict(const Eigen::MatrixBase<X>& x) const {
    check_scalar<X>();
    return predict_rows(store_.adapt(x));
  }
  /// The rows that predict and loss compute at a time, so that what a layer keeps per row (a
  /// convolution's im2col) stays bounded whatever the size of X.
  static constexpr Index inference_block = 256;

  /// The loss of the current parameters on (X, Y), without gradients (and without dropout), in
  /// blocks as predict. on_output(A, Y), if given, sees the output of each block and its rows of Y.
  template <class X, class Y, Loss L, class OnOutput = detail::IgnoreOutput>
  Scalar loss(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, const L& criterion,
              OnOutput&& on_output = {}) const {
    check_scalar<X, Y>();
    decltype(auto) output = store_.output_of(on_output);
    return loss_rows(store_.adapt(x), store_.adapt(y), store_.loss_of(criterion), output);
  }

  /// X: (batch, inputs)  Y: (batch, outputs)  ->  the loss, and its gradient with respect to every
  /// parameter (for_each_parameter shows them). on_output(A, Y), if given, sees the output.
  template <class X, class Y, Loss L, class OnOutput = detail::IgnoreOutput>
  Scalar backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, const L& criterion,
                  OnOutput&& on_output = {}) {
    detail::NoUpdate none;
    return train("backward", x, y, criterion, none, on_output);
  }

  /// One step of training: backward, and the optimizer's update of every parameter. Returns the
  /// loss before the update. Each layer is updated as soon as its gradients are complete (they are
  /// still all kept), while they are hot and the layers below are still working.
  template <class X, class Y, Loss L, class O, class OnOutput = detail::IgnoreOutput>
  Scalar train_step(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
                    const L& criterion, O& optimizer, OnOutput&& on_output = {}) {
    constexpr bool same = std::is_same_v<typename O::Scalar, Scalar>;
    static_assert(same,
                  "train_step: the optimizer's scalar type must be the network's "
                  "(Adam<float> for a network of float)");
    if constexpr (same) return train("train_step", x, y, criterion, optimizer, on_output);
    return {};
  }

  /// f(slot, parameter, gradient) for every parameter matrix, in slot order: layer by layer, each
  /// layer's in its order (Dense: W, then b). A slot numbers one parameter matrix for the life of
  /// the network, so an optimizer can key its state by it.
  template <class F>
  void for_each_parameter(F&& f) {
    each_parameter(*this, f);
  }
  /// The same, read-only.
  template <class F>
  void for_each_parameter(F&& f) const {
    each_parameter(*this, f);
  }

  /// Fresh parameters for every layer from init, in layer order (Dense: W from init, b zero).
  template <WeightInitializer Init>
  void initialize(Init&& init) {
    store_.for_each([&](auto i) { store_.node(i).initialize(init); });
  }

  /// What layer i is: kind, widths, parameter count, settings.
  LayerInfo layer(std::size_t i) const {
    LayerInfo info;
    visit_layer(i, [&](const auto& node) { info = node.info(); });
    return info;
  }
  /// f(node of layer i): the layer's own members, as protocol.hpp's LayerNode has them.
  template <class F>
  void visit_layer(std::size_t i, F&& f) const {
    visit(*this, i, f);
  }
  template <class F>
  void visit_layer(std::size_t i, F&& f) {
    visit(*this, i, f);
  }

  /// {inputs, outputs of layer 0, outputs of layer 1, ...}
  const auto& widths() const { return store_.widths(); }
  /// The number of layers.
  std::size_t depth() const { return store_.size(); }
  /// The number of trainable scalars.
  Index parameter_count() const {
    Index n = 0;
    store_.for_each([&](auto i) {
      store_.node(i).for_each_tensor([&](const auto& p, const auto&) { n += p.size(); });
    });
    return n;
  }
  /// The number of parameter matrices, which is the number of optimizer slots.
  std::size_t parameter_matrices() const {
    std::size_t n = 0;
    store_.for_each([&](auto i) { n += store_.node(i).tensor_count(); });
    return n;
  }

 protected:
  explicit BasicNetwork(Store store) : store_(std::move(store)) {}

  Store store_;

 private:
  template <class... M>
  static constexpr void check_scalar() {
    static_assert((std::is_same_v<typename M::Scalar, Scalar> && ...),
                  "backprop: X and Y must have the network's scalar type (x.cast<float>())");
  }

  template <class Self, class F>
  static void each_parameter(Self& self, F& f) {
    std::size_t slot = 0;
    self.store_.for_each([&](auto i) {
      self.store_.node(i).for_each_tensor([&](auto& p, const auto& g) { f(slot++, p, g); });
    });
  }

  /// f(node of layer i) for an index known only at run time.
  template <class Self, class F>
  static void visit(Self& self, std::size_t i, F& f) {
    if (i >= self.store_.size())
      throw ArgumentError(std::string("backprop::") + Store::name +
                          "::layer: " + std::to_string(i) + " is not below the depth, " +
                          std::to_string(self.store_.size()));
    self.store_.for_each([&](auto j) {
      if (j == i) f(self.store_.node(j));
    });
  }

  /// "backprop::Sequential": where messages say they come from.
  static constexpr std::string_view where = Store::where;

  /// X must be (batch, inputs) with at least one row.
  template <class X>
  void check_input(const X& x, const char* function) const {
    static_assert(X::ColsAtCompileTime == Dynamic || Store::inputs == Dynamic ||
                      X::ColsAtCompileTime == Store::inputs,
                  "backprop: X must have one column per network input");
    store_.check_ready(function);
    detail::check_shapes(where, function, store_.widths().front(), store_.widths().back(), x.rows(),
                         x.cols(), -1, 0);
  }

  /// X and Y must fit the network, Y the loss's domain, the loss the output layer.
  template <class X, class Y, class L>
  void check_data(const X& x, const Y& y, const L& criterion, const char* function) const {
    static_assert(Y::ColsAtCompileTime == Dynamic || Store::outputs == Dynamic ||
                      Y::ColsAtCompileTime == Store::outputs,
                  "backprop: Y must have one column per network output");
    static_assert(Store::template fits<L>,
                  "backprop: this loss works only fused with its own output activation "
                  "(SoftmaxCrossEntropy needs a Softmax output layer)");
    store_.check_ready(function);
    detail::check_shapes(where, function, store_.widths().front(), store_.widths().back(), x.rows(),
                         x.cols(), y.rows(), y.cols());
    const std::string_view activation = store_.output_activation();
    detail::check_output_activation(criterion, detail::fuses(criterion, activation), activation);
    detail::check_targets(criterion, y);
  }

  /// Inference: X: (batch, inputs)  ->  every layer's workspace, the last holding the output.
  template <class X, class Ws>
  void infer(const X& x, Ws& ws) const {
    store_.resize(ws, x.rows());
    store_.for_each(
        [&](auto i) { store_.node(i).forward(store_.input(i, x, ws), store_.at(ws, i)); });
  }
  /// f(ws, first, rows) for each block of at most inference_block rows of X, inferred into ws: a
  /// workspace on the stack where every size is fixed, else one on the heap for all the blocks.
  template <class X, class F>
  void for_each_block(const X& x, F&& f) const {
    typename Store::template Workspace<X::RowsAtCompileTime> ws{};
    if (X::RowsAtCompileTime != Dynamic || x.rows() <= inference_block) {
      infer(x, ws);  // X itself, not a block of it: the products see the very same operand
      f(std::as_const(ws), Index{0}, x.rows());
    } else if constexpr (X::RowsAtCompileTime == Dynamic) {
      for (Index first = 0; first < x.rows(); first += inference_block) {
        const Index rows = std::min(inference_block, x.rows() - first);
        infer(x.middleRows(first, rows), ws);
        f(std::as_const(ws), first, rows);
      }
    }
  }

  /// backward and train_step: X, Y, the loss, the optimizer and on_output as the store takes them.
  template <class X, class Y, class L, class O, class OnOutput>
  Scalar train(const char* function, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
               const L& criterion, O& optimizer, OnOutput& on_output) {
    check_scalar<X, Y>();
    decltype(auto) erased = store_.optimizer_of(optimizer);
    decltype(auto) output = store_.output_of(on_output);
    return train_rows(function, store_.adapt(x), store_.adapt(y), store_.loss_of(criterion), erased,
                      output);
  }

  // The implementations, given what the store takes: defined outside the class, so that the
  // compiled mode (compiled.hpp) compiles a Sequential's once.
  template <class X>
  typename Store::template Output<X::RowsAtCompileTime> predict_rows(const X& x) const;
  template <class X, class Y, class L, class OnOutput>
  Scalar loss_rows(const X& x, const Y& y, const L& criterion, OnOutput& on_output) const;
  template <class X, class Y, class L, class O, class OnOutput>
  Scalar train_rows(const char* function, const X& x, const Y& y, const L& criterion, O& optimizer,
                    OnOutput& on_output);

  /// A step whose every size is fixed and small (the tutorial's), compiled as one function: its
  /// values can then stay in registers from layer to layer, as in hand-written code.
  template <int Rows, class X, class Y, class L, class O, class OnOutput>
  BACKPROP_FLATTEN Scalar step_on_stack(const X& x, const Y& y, const L& criterion, O& optimizer,
                                        OnOutput& on_output) {
    typename Store::template Workspace<Rows> ws{};
    return step(ws, x, y, criterion, optimizer, on_output);
  }

  /// Forward and the loss, then (nothing having thrown) commit, count the step, and go backward,
  /// updating each layer as soon as its gradients are done.
  template <class Ws, class X, class Y, class L, class O, class OnOutput>
  Scalar step(Ws& ws, const X& x, const Y& y, const L& criterion, O& optimizer,
              OnOutput& on_output) {
    // Forward: every layer keeps any change of its state aside in ws.
    store_.for_each(
        [&](auto i) { store_.node(i).training_forward(store_.input(i, x, ws), store_.at(ws, i)); });
    const auto last = store_.last();
    auto& out = store_.at(ws, last);
    const bool fused = detail::fuses(criterion, store_.output_activation());
    const Scalar value = detail::output_loss(criterion, fused, out.Z, out.A, y);
    detail::check_finite_loss(value, criterion.name);
    on_output(std::as_const(out.A), y);

    // Checked: from here on nothing throws, and state changes.
    store_.for_each([&](auto i) { store_.node(i).commit(store_.at(ws, i)); });
    optimizer.begin_step();
    detail::output_gradient(criterion, fused, out.Z, out.A, y,
                            [&] { store_.node(last).backward_activation(out); });
    // From the output layer down, each layer writes its gradients and dL/dA of the layer below,
    // which that layer turns into its dL/dZ; then the optimizer updates it. The slots of the
    // layers below a layer end where its own begin.
    std::size_t end = parameter_matrices();
    store_.for_each_reversed([&](auto i) {
      auto& layer = store_.node(i);
      const auto& w = store_.at(ws, i);
      decltype(auto) input = store_.input(i, x, ws);
      end -= layer.tensor_count();
      detail::Updates<O> update{optimizer, end};
      store_.below(
          i,
          [&](auto j) {
            auto& below = store_.at(ws, j);
            layer.backward(input, w, below.Z, update);
            store_.node(j).backward_activation(below);
          },
          [&] {
            NoInputGradient none;
            layer.backward(input, w, none, update);
          });
    });
    return value;
  }
};

template <LayerStore Store>
template <class X>
typename Store::template Output<X::RowsAtCompileTime> BasicNetwork<Store>::predict_rows(
    const X& x) const {
  check_input(x, "predict");
  typename Store::template Output<X::RowsAtCompileTime> output;
  output.resize(x.rows(), store_.widths().back());
  for_each_block(x, [&](const auto& ws, Index first, Index rows) {
    output.middleRows(first, rows) = store_.at(ws, store_.last()).A;
  });
  return output;
}

template <LayerStore Store>
template <class X, class Y, class L, class OnOutput>
typename BasicNetwork<Store>::Scalar BasicNetwork<Store>::loss_rows(const X& x, const Y& y,
                                                                    const L& criterion,
                                                                    OnOutput& on_output) const {
  check_data(x, y, criterion, "loss");
  const bool fused = detail::fuses(criterion, store_.output_activation());
  LossTotal total(criterion.averages);
  auto add = [&](const auto& ws, const auto& targets, Index rows) {
    const auto& out = store_.at(ws, store_.last());
    on_output(out.A, targets);
    total.add(detail::output_loss(criterion, fused, out.Z, out.A, targets), rows);
  };
  for_each_block(x, [&](const auto& ws, Index first, Index rows) {
    // Y itself when it is one block: a reduction over a block of it may add in another order.
    if (rows == y.rows())
      add(ws, y, rows);
    else
      add(ws, y.middleRows(first, rows), rows);
  });
  return static_cast<Scalar>(total.value());
}

template <LayerStore Store>
template <class X, class Y, class L, class O, class OnOutput>
typename BasicNetwork<Store>::Scalar BasicNetwork<Store>::train_rows(const char* function,
                                                                     const X& x, const Y& y,
                                                                     const L& criterion,
                                                                     O& optimizer,
                                                                     OnOutput& on_output) {
  check_data(x, y, criterion, function);
  if constexpr (requires { optimizer.check(*this); }) optimizer.check(*this);
  // On the stack where the step's sizes are fixed and small, else in the workspace the store
  // keeps.
  constexpr int rows = X::RowsAtCompileTime;
  if constexpr (Store::template on_stack<rows>)
    return step_on_stack<rows>(x, y, criterion, optimizer, on_output);
  else
    return step(store_.training_workspace(x.rows()), x, y, criterion, optimizer, on_output);
}

}  // namespace backprop
