// BasicNetwork<Store>: the one implementation of predict, loss, backward and train_step, over a
// store of layers. Network (network.hpp) is the engine over a compile-time store, a tuple walked
// by folds; Sequential (sequential.hpp) is the engine over a run-time store, type-erased layers
// walked by a loop. Whatever differs between the two lives in the store, never in the algorithm.
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
//
// A store offers (see network.hpp and sequential.hpp):
//   Scalar, name, inputs, outputs         the scalar; "Network"; widths fixed at compile time
//   for_each(f), for_each_reversed(f)     f(i) for each layer: i is a std::size_t, or in the
//                                         compile-time store a std::integral_constant
//   size(), last(), layer(i)              the node of layer i (LayerNode, or AnyLayer)
//   Workspace<Batch>, resize(ws, rows), at(ws, i)    one workspace per layer
//   on_stack<Batch>, training_workspace(rows)    a step on the stack, or in a workspace kept
//   input(i, x, ws)                       what layer i reads: X, or the output of the layer below
//   below(i, f, otherwise)                f(i - 1), or otherwise() for the first layer
//   adapt(x)                              X as the layers take it (the run-time store: Eigen::Ref)
//   check_ready(function), output_activation(), fits<L>   whether the output can compute
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "config.hpp"
#include "init.hpp"
#include "layers/protocol.hpp"
#include "loss.hpp"

namespace backprop {

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

}  // namespace detail

/// The network algorithm over a Store of layers; use it as Network or Sequential.
template <class Store>
class BasicNetwork {
 public:
  /// float or double.
  using Scalar = typename Store::Scalar;

  /// X: (batch, inputs)  ->  (batch, outputs). A large X goes through in blocks of
  /// inference_block rows, so that what a layer keeps per row (a convolution's im2col) stays
  /// bounded whatever the size of X.
  template <class X>
  auto predict(const Eigen::MatrixBase<X>& x_) const {
    check_scalar<X>();
    decltype(auto) x = store_.adapt(x_);
    check_input(x, "predict");
    if constexpr (std::remove_cvref_t<decltype(x)>::RowsAtCompileTime != Dynamic) {
      auto ws = infer(x);  // a fixed number of rows: on the stack where the sizes are small
      auto output = std::move(store_.at(ws, store_.last()).A);
      return output;
    } else {
      auto ws = infer(x.topRows(std::min(x.rows(), inference_block)));
      auto output = std::move(store_.at(ws, store_.last()).A);
      if (x.rows() <= inference_block) return output;
      output.conservativeResize(x.rows(), Eigen::NoChange);
      for (Index first = inference_block; first < x.rows(); first += inference_block) {
        const Index rows = std::min(inference_block, x.rows() - first);
        infer(x.middleRows(first, rows), ws);
        output.middleRows(first, rows) = store_.at(ws, store_.last()).A;
      }
      return output;
    }
  }
  /// The rows that predict and loss compute at a time.
  static constexpr Index inference_block = 256;

  /// The loss of the current parameters on (X, Y), without gradients (and without dropout), in
  /// blocks of inference_block rows as predict. on_output(A, Y), if given, sees the network's
  /// output for each block and the rows of Y it answers.
  template <class X, class Y, LossFunction L, class OnOutput = detail::IgnoreOutput>
  Scalar loss(const Eigen::MatrixBase<X>& x_, const Eigen::MatrixBase<Y>& y_, const L&,
              OnOutput&& on_output = {}) const {
    check_scalar<X, Y>();
    decltype(auto) x = store_.adapt(x_);
    decltype(auto) y = store_.adapt(y_);
    check_data<L>(x, y, "loss");
    const bool fused = this->fused<L>();
    auto block_loss = [&](const auto& ws, const auto& y_block) {
      const auto& out = store_.at(ws, store_.last());
      on_output(out.A, y_block);
      return detail::output_loss<L>(fused, out.Z, out.A, y_block);
    };
    if constexpr (std::remove_cvref_t<decltype(x)>::RowsAtCompileTime != Dynamic) {
      return block_loss(infer(x), y);
    } else {
      typename Store::template Workspace<Dynamic> ws{};
      if (x.rows() <= inference_block) {
        infer(x, ws);
        return block_loss(ws, y);
      }
      // The blocks' losses add up, or their means weighted by rows average.
      double total = 0;
      for (Index first = 0; first < x.rows(); first += inference_block) {
        const Index rows = std::min(inference_block, x.rows() - first);
        infer(x.middleRows(first, rows), ws);
        const double value = block_loss(ws, y.middleRows(first, rows));
        total += L::averages ? value * static_cast<double>(rows) : value;
      }
      return static_cast<Scalar>(L::averages ? total / static_cast<double>(x.rows()) : total);
    }
  }

  /// X: (batch, inputs)  Y: (batch, outputs)  ->  the loss, and its gradient with respect to every
  /// parameter (for_each_parameter shows them). on_output(A, Y), if given, sees the output.
  template <class X, class Y, LossFunction L, class OnOutput = detail::IgnoreOutput>
  Scalar backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, const L& criterion,
                  OnOutput&& on_output = {}) {
    detail::NoUpdate none;
    return train("backward", x, y, criterion, none, on_output);
  }

  /// One step of training: backward, and the optimizer's update of every parameter. Returns the
  /// loss before the update. Each layer is updated as soon as its gradients are complete (they are
  /// still all kept), while they are hot and the layers below are still working.
  template <class X, class Y, LossFunction L, class O, class OnOutput = detail::IgnoreOutput>
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
    store_.for_each([&](auto i) { store_.layer(i).initialize(init); });
  }

  /// What layer i is: kind, widths, parameter count, settings.
  LayerInfo layer(std::size_t i) const {
    LayerInfo info;
    visit_layer(i, [&](const auto& node) { info = node.info(); });
    return info;
  }
  /// f(node of layer i): the layer's own members, as protocol.hpp's LayerNode has them (model files
  /// use them).
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
    store_.for_each([&](auto i) { n += store_.layer(i).info().parameters; });
    return n;
  }
  /// The number of parameter matrices, which is the number of optimizer slots.
  std::size_t parameter_matrices() const {
    std::size_t n = 0;
    store_.for_each([&](auto i) { n += store_.layer(i).tensor_count(); });
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
      self.store_.layer(i).for_each_tensor([&](auto& p, const auto& g) { f(slot++, p, g); });
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
      if (j == i) f(self.store_.layer(j));
    });
  }

  /// X must be (batch, inputs) with at least one row.
  template <class X>
  void check_input(const X& x, const char* function) const {
    static_assert(X::ColsAtCompileTime == Dynamic || Store::inputs == Dynamic ||
                      X::ColsAtCompileTime == Store::inputs,
                  "backprop: X must have one column per network input");
    store_.check_ready(function);
    const Index inputs = store_.widths().front();
    if (x.cols() != inputs || x.rows() == 0)
      throw ShapeError(std::string("backprop::") + Store::name + "::" + function + ": X is " +
                       detail::shape_string(x.rows(), x.cols()) + ", but the network takes " +
                       std::to_string(inputs) + " inputs per row" +
                       (x.rows() == 0 ? " and X has no rows" : "") + ": expected " +
                       detail::shape_string(x.rows() == 0 ? 1 : x.rows(), inputs));
  }

  /// X and Y must fit the network, Y the loss's domain, the loss the output layer.
  template <class L, class X, class Y>
  void check_data(const X& x, const Y& y, const char* function) const {
    static_assert(Y::ColsAtCompileTime == Dynamic || Store::outputs == Dynamic ||
                      Y::ColsAtCompileTime == Store::outputs,
                  "backprop: Y must have one column per network output");
    static_assert(Store::template fits<L>,
                  "backprop: this loss works only fused with its own output activation "
                  "(SoftmaxCrossEntropy needs a Softmax output layer)");
    check_input(x, function);
    const Index outputs = store_.widths().back();
    if (y.rows() != x.rows() || y.cols() != outputs)
      throw ShapeError(std::string("backprop::") + Store::name + "::" + function + ": Y is " +
                       detail::shape_string(y.rows(), y.cols()) + ", but X is " +
                       detail::shape_string(x.rows(), x.cols()) + " and the network has " +
                       std::to_string(outputs) + " outputs: expected " +
                       detail::shape_string(x.rows(), outputs));
    detail::check_output_activation<L>(fused<L>(), store_.output_activation());
    detail::check_targets<L>(y);
  }

  /// Whether loss L takes over the derivative of the output activation.
  template <class L>
  bool fused() const {
    return fuses_with_name<L>(store_.output_activation());
  }

  /// Inference: X: (batch, inputs)  ->  every layer's workspace, the last holding the output. On
  /// the stack where every size is fixed, else on the heap.
  template <class X>
  auto infer(const X& x) const {
    typename Store::template Workspace<X::RowsAtCompileTime> ws{};
    infer(x, ws);
    return ws;
  }
  /// The same in a workspace of the caller's.
  template <class X, class Ws>
  void infer(const X& x, Ws& ws) const {
    store_.resize(ws, x.rows());
    store_.for_each(
        [&](auto i) { store_.layer(i).forward(store_.input(i, x, ws), store_.at(ws, i)); });
  }

  /// backward and train_step: check, forward and take the loss; then commit, count the step,
  /// and go backward, updating each layer as soon as its gradients are done.
  template <bool Inlined = false, class X, class Y, class L, class O, class OnOutput>
  Scalar train(const char* function, const Eigen::MatrixBase<X>& x_, const Eigen::MatrixBase<Y>& y_,
               const L& loss, O& optimizer, OnOutput& on_output) {
    constexpr bool on_stack = Store::template on_stack<X::RowsAtCompileTime>;
    if constexpr (on_stack && !Inlined)
      return train_inlined(function, x_, y_, loss, optimizer, on_output);
    check_scalar<X, Y>();
    decltype(auto) x = store_.adapt(x_);
    decltype(auto) y = store_.adapt(y_);
    check_data<L>(x, y, function);
    if constexpr (requires { optimizer.check(*this); }) optimizer.check(*this);
    typename Store::template Workspace<on_stack ? X::RowsAtCompileTime : Dynamic> stack{};
    if constexpr (on_stack)
      return step<L>(stack, x, y, optimizer, on_output);
    else
      return step<L>(store_.training_workspace(x.rows()), x, y, optimizer, on_output);
  }

  /// A step whose every size is fixed and small (the tutorial's), compiled as one function: its
  /// values can then stay in registers from layer to layer, as in hand-written code.
  template <class... Arguments>
  BACKPROP_FLATTEN Scalar train_inlined(const char* function, Arguments&... arguments) {
    return train<true>(function, arguments...);
  }

  template <class L, class Ws, class X, class Y, class O, class OnOutput>
  Scalar step(Ws& ws, const X& x, const Y& y, O& optimizer, OnOutput& on_output) {
    // Forward: every layer keeps any change of its state aside in ws.
    store_.for_each([&](auto i) {
      store_.layer(i).training_forward(store_.input(i, x, ws), store_.at(ws, i));
    });
    const auto last = store_.last();
    auto& out = store_.at(ws, last);
    const bool fused = this->fused<L>();
    const Scalar value = detail::output_loss<L>(fused, out.Z, out.A, y);
    detail::check_finite_loss(value, L::name);
    on_output(std::as_const(out.A), y);

    // Checked: from here on nothing throws, and state changes.
    store_.for_each([&](auto i) { store_.layer(i).commit(store_.at(ws, i)); });
    optimizer.begin_step();
    detail::output_gradient<L>(fused, out.Z, out.A, y,
                               [&] { store_.layer(last).backward_activation(out); });
    // From the output layer down, each layer writes its gradients and dL/dA of the layer below,
    // which that layer turns into its dL/dZ; then the optimizer updates it.
    std::size_t end = parameter_matrices();  // the slots of the layers below end here
    store_.for_each_reversed([&](auto i) {
      auto& layer = store_.layer(i);
      const auto& w = store_.at(ws, i);
      decltype(auto) input = store_.input(i, x, ws);
      std::size_t slot = end -= layer.tensor_count();
      auto update = [&](auto& p, const auto& g) { optimizer.update(slot++, p, g); };
      store_.below(
          i,
          [&](auto j) {
            auto& below = store_.at(ws, j);
            layer.backward(input, w, below.Z, update);
            store_.layer(j).backward_activation(below);
          },
          [&] {
            NoInputGradient none;
            layer.backward(input, w, none, update);
          });
    });
    return value;
  }
};

}  // namespace backprop
