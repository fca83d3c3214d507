// Network<Scalar, Layers...>: a feedforward network composed of layers at compile time.
//
//   Network<double, Dense<2, 3, Sigmoid, Bias::off>, Dense<3, 1, Sigmoid, Bias::off>> net{
//       StandardNormal{1}};
//   double loss = net.train_step(X, Y, HalfSumSquared{}, sgd);   // X: (3, 2)  Y: (3, 1)
//   auto scores = net.predict(X);                                 // (3, 1)
//
// Rows are samples (X is (batch, features)), as in the tutorial, numpy and PyTorch.
// The network owns the parameters, their gradients and a training workspace; predict() uses only
// the parameters and a workspace of its own, so it is const and safe to call from many threads.
// Layers follow the protocol of layer.hpp (Dense, Dropout).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "config.hpp"
#include "dense.hpp"
#include "init.hpp"
#include "layer.hpp"
#include "loss.hpp"

namespace backprop {

namespace detail {

/// These three name the numbers in a compile error about adjacent layers.
template <std::size_t I>
struct layer {};
template <int N>
struct outputs_of_previous_layer {};
template <int N>
struct inputs {};

template <class Layer, class Outputs, class Inputs>
struct layer_sizes_agree;

/// Instantiated for every pair of adjacent layers. When the sizes differ, the compiler's
/// "required from" note spells out layer_sizes_agree<layer<I>, outputs_of_previous_layer<P>,
/// inputs<N>>: which layer, and both sizes.
template <std::size_t I, int P, int N>
struct layer_sizes_agree<layer<I>, outputs_of_previous_layer<P>, inputs<N>> {
  static_assert(P == N || P == Dynamic || N == Dynamic,
                "adjacent layers disagree: layer I takes N inputs but the layer before it has P "
                "outputs; the compiler names I, P and N in layer_sizes_agree<layer<I>, "
                "outputs_of_previous_layer<P>, inputs<N>>");
  static constexpr bool value = true;
};

template <class... Layers, std::size_t... I>
constexpr bool adjacent_sizes_agree(std::index_sequence<I...>) {
  using All = std::tuple<Layers...>;
  return (layer_sizes_agree<layer<I + 1>,
                            outputs_of_previous_layer<std::tuple_element_t<I, All>::outputs>,
                            inputs<std::tuple_element_t<I + 1, All>::inputs>>::value &&
          ...);
}

/// f(integral_constant<0>), f(integral_constant<1>), ...: a loop over layers with I known at
/// compile time, so each layer's own types are used.
template <std::size_t... I, class F>
constexpr void for_each_index(std::index_sequence<I...>, F&& f) {
  (f(std::integral_constant<std::size_t, I>{}), ...);
}
template <std::size_t... I, class F>
constexpr void for_each_index_reversed(std::index_sequence<I...>, F&& f) {
  constexpr std::size_t n = sizeof...(I);
  (f(std::integral_constant<std::size_t, n - 1 - I>{}), ...);
}

}  // namespace detail

/// A feedforward network of Layers (Dense, Dropout) fixed at compile time, in Scalar.
template <class Scalar_, class... Layers>
class Network {
  static_assert(std::is_floating_point_v<Scalar_>, "Network: the scalar must be float or double");
  static_assert(sizeof...(Layers) > 0, "Network: give at least one layer");
  static_assert(
      detail::adjacent_sizes_agree<Layers...>(std::make_index_sequence<sizeof...(Layers) - 1>{}));

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// The number of layers.
  static constexpr std::size_t depth = sizeof...(Layers);
  /// The type of layer I.
  template <std::size_t I>
  using Layer = std::tuple_element_t<I, std::tuple<Layers...>>;
  /// The last layer, whose activation meets the loss.
  using OutputLayer = Layer<depth - 1>;
  static_assert(!std::is_void_v<typename OutputLayer::activation>,
                "Network: the last layer must have an activation (Dense), not be a Dropout");
  static constexpr int inputs = Layer<0>::inputs;
  static constexpr int outputs = OutputLayer::outputs;
  static constexpr bool fixed_size =
      ((Layers::inputs != Dynamic && Layers::outputs != Dynamic) && ...);
  /// The number of parameter matrices, which is the number of optimizer slots.
  static constexpr std::size_t parameter_matrices = (Layers::tensor_count + ...);

  /// widths[0] inputs, widths[i + 1] outputs of layer i.
  using Widths = std::array<Index, depth + 1>;
  /// Every layer's parameters (and, in a second instance, their gradients).
  using Parameters = std::tuple<typename Layers::template Parameters<Scalar>...>;
  /// Every layer's workspace for a batch of Batch rows.
  template <int Batch>
  using Workspace = std::tuple<typename Layers::template Workspace<Scalar, Batch>...>;
  /// What predict returns for Batch rows.
  template <int Batch>
  using Output = detail::MatrixFor<Scalar, Batch, outputs>;

  /// All weights zero. The sizes come from the layer types.
  Network() requires(fixed_size) : Network(Widths{Layers::inputs..., OutputLayer::outputs}) {}

  /// Weights from an initializer, such as StandardNormal{seed}.
  template <WeightInitializer Init>
  explicit Network(Init init) requires(fixed_size) : Network() {
    initialize(init);
  }

  /// All weights zero, with the widths given at run time: {inputs, hidden..., outputs}. Sizes
  /// fixed by a layer type must agree with them.
  explicit Network(const Widths& widths)
      : widths_(checked(widths)),
        parameters_(make_parameters(std::make_index_sequence<depth>{})),
        gradients_(make_parameters(std::make_index_sequence<depth>{})) {}

  /// Run-time widths, and weights from an initializer.
  template <WeightInitializer Init>
  Network(const Widths& widths, Init init) : Network(widths) {
    initialize(init);
  }

  /// Fresh parameters for every layer from init, in layer order (Dense: W from init, b zero).
  template <WeightInitializer Init>
  void initialize(Init&& init) {
    detail::for_each_index(std::make_index_sequence<depth>{},
                           [&](auto i) { Layer<i>::initialize(std::get<i>(parameters_), init); });
  }

  /// X: (batch, inputs)  ->  (batch, outputs)
  template <class X>
  Output<X::RowsAtCompileTime> predict(const Eigen::MatrixBase<X>& x) const {
    check_input(x, "predict");
    Workspace<X::RowsAtCompileTime> ws;
    resize(ws, x.rows());
    forward(ws, x);
    return std::move(std::get<depth - 1>(ws).A);
  }

  /// The loss of the current parameters on (X, Y), without gradients (and without dropout).
  /// on_output(A), if given, sees the network's output.
  template <class X, class Y, LossFunction L, class OnOutput = detail::IgnoreOutput>
  Scalar loss(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, const L&,
              OnOutput&& on_output = {}) const {
    check_input(x, "loss");
    check_target(x, y, "loss");
    Workspace<X::RowsAtCompileTime> ws;
    resize(ws, x.rows());
    forward(ws, x);
    const auto& out = std::get<depth - 1>(ws);
    on_output(out.A);
    return detail::output_loss<L>(fuses_with<L, typename OutputLayer::activation>, out.Z, out.A, y);
  }

  /// X: (batch, inputs)  Y: (batch, outputs)  ->  the loss, and its gradient with respect to every
  /// parameter in gradients(). on_output(A), if given, sees the network's output for the batch.
  template <class X, class Y, LossFunction L, class OnOutput = detail::IgnoreOutput>
  Scalar backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, const L& criterion,
                  OnOutput&& on_output = {}) {
    auto ignore = [](std::size_t, auto&, const auto&) {};
    return backward_impl("backward", x, y, criterion, on_output, ignore);
  }

  /// One step of training: backward, and the optimizer's update of every parameter. Returns the
  /// loss before the update. Each layer is updated as soon as its gradients are complete (they are
  /// still all kept in gradients()), while they are hot and the layers below are still working.
  template <class X, class Y, LossFunction L, class Optimizer,
            class OnOutput = detail::IgnoreOutput>
  Scalar train_step(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
                    const L& criterion, Optimizer& optimizer, OnOutput&& on_output = {}) {
    optimizer.begin_step();
    auto update = [&](std::size_t slot, auto& parameter, const auto& gradient) {
      optimizer.update(slot, parameter, gradient);
    };
    return backward_impl("train_step", x, y, criterion, on_output, update);
  }

  /// Parameters of layer I (Dense: W, and b where the layer has one). Assign to them freely, but
  /// keep their shapes: the network's widths do not change.
  template <std::size_t I>
  auto& parameters() {
    return std::get<I>(parameters_);
  }
  /// Parameters of layer I, read-only.
  template <std::size_t I>
  const auto& parameters() const {
    return std::get<I>(parameters_);
  }
  /// The gradients of layer I from the last backward() or train_step().
  template <std::size_t I>
  const auto& gradients() const {
    return std::get<I>(gradients_);
  }

  /// f(slot, parameter, gradient) for every parameter matrix, in slot order: layer by layer, W then
  /// b. A slot numbers one parameter matrix for the life of the network, so an optimizer can key
  /// its state by it.
  template <class F>
  void for_each_parameter(F&& f) {
    detail::for_each_index(std::make_index_sequence<depth>{}, [&](auto i) { visit_layer<i>(f); });
  }

  const Widths& widths() const { return widths_; }

  /// What layer i is (kind, sizes, activation, bias; Dropout: rate and generator).
  LayerInfo layer(std::size_t i) const {
    LayerInfo info;
    detail::for_each_index(std::make_index_sequence<depth>{}, [&](auto j) {
      if (j == i) info = Layer<j>::describe(std::get<j>(parameters_), widths_[j], widths_[j + 1]);
    });
    if (i >= depth)
      throw ArgumentError("backprop::Network::layer: " + std::to_string(i) + " is not below " +
                          std::to_string(depth));
    return info;
  }
  /// Takes back the non-matrix state of layer i (Dropout: rate and generator) from `info`.
  void restore_layer(std::size_t i, const LayerInfo& info) {
    detail::for_each_index(std::make_index_sequence<depth>{}, [&](auto j) {
      if (j == i) Layer<j>::restore(std::get<j>(parameters_), info);
    });
  }

  /// The number of trainable scalars.
  Index parameter_count() const {
    Index n = 0;
    detail::for_each_index(std::make_index_sequence<depth>{}, [&](auto i) {
      n += Layer<i>::parameter_count(widths_[i], widths_[i + 1]);
    });
    return n;
  }

 private:
  /// The slot of layer I's first parameter matrix.
  template <std::size_t I>
  static constexpr std::size_t first_slot = [] {
    std::size_t slot = 0;
    detail::for_each_index(std::make_index_sequence<I>{},
                           [&](auto j) { slot += Layer<j>::tensor_count; });
    return slot;
  }();

  template <std::size_t I, class F>
  void visit_layer(F& f) {
    Layer<I>::for_each_tensor(
        std::get<I>(parameters_), std::get<I>(gradients_),
        [&, slot = first_slot<I>](auto& p, const auto& g) mutable { f(slot++, p, g); });
  }

  template <int Batch>
  static constexpr bool workspace_is_fixed = (Layers::template Workspace<Scalar, Batch>::fixed &&
                                              ...);

  static Widths checked(const Widths& widths) {
    const Widths fixed{Layers::inputs..., OutputLayer::outputs};
    for (std::size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] < 1)
        throw ArgumentError("backprop::Network: widths[" + std::to_string(i) + "] is " +
                            std::to_string(widths[i]) + ", but every width must be at least 1");
      if (fixed[i] != Dynamic && fixed[i] != widths[i])
        throw ShapeError("backprop::Network: widths[" + std::to_string(i) + "] is " +
                         std::to_string(widths[i]) + ", but the layer types fix it at " +
                         std::to_string(fixed[i]));
    }
    return widths;
  }

  template <std::size_t... I>
  Parameters make_parameters(std::index_sequence<I...>) const {
    return Parameters{typename Layers::template Parameters<Scalar>(widths_[I], widths_[I + 1])...};
  }

  template <class X>
  void check_input(const Eigen::MatrixBase<X>& x, const char* function) const {
    static_assert(
        X::ColsAtCompileTime == Dynamic || inputs == Dynamic || X::ColsAtCompileTime == inputs,
        "Network: X must have one column per network input");
    detail::check_input("Network", function, x.rows(), x.cols(), widths_.front());
  }

  template <class X, class Y>
  void check_target(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
                    const char* function) const {
    static_assert(
        Y::ColsAtCompileTime == Dynamic || outputs == Dynamic || Y::ColsAtCompileTime == outputs,
        "Network: Y must have one column per network output");
    detail::check_target("Network", function, x.rows(), x.cols(), y.rows(), y.cols(),
                         widths_.back());
  }

  template <int Batch>
  void resize(Workspace<Batch>& ws, Index batch) const {
    detail::for_each_index(std::make_index_sequence<depth>{},
                           [&](auto i) { std::get<i>(ws).resize(batch, widths_[i + 1]); });
  }

  /// Inference: X: (batch, inputs)  ->  every layer's Z and A in ws
  template <int Batch, class X>
  void forward(Workspace<Batch>& ws, const Eigen::MatrixBase<X>& x) const {
    detail::for_each_index(std::make_index_sequence<depth>{}, [&](auto i) {
      if constexpr (i == 0)
        Layer<0>::forward(std::get<0>(parameters_), x, std::get<0>(ws));
      else
        Layer<i>::forward(std::get<i>(parameters_), std::get<i - 1>(ws).A, std::get<i>(ws));
    });
  }

  template <class X, class Y, class L, class OnOutput, class OnLayerGradients>
  Scalar backward_impl(const char* function, const Eigen::MatrixBase<X>& x,
                       const Eigen::MatrixBase<Y>& y, const L& criterion, OnOutput& on_output,
                       OnLayerGradients& on_gradients) {
    check_input(x, function);
    check_target(x, y, function);
    static_assert(fuses_with<L, typename OutputLayer::activation> ||
                      detail::HasOutputGradient<L, Output<Dynamic>, Output<Dynamic>>,
                  "Network: this loss works only fused with its own output activation "
                  "(SoftmaxCrossEntropy needs a Softmax output layer)");
    constexpr int batch = X::RowsAtCompileTime;
    if constexpr (workspace_is_fixed<batch>) {
      // Everything fits in fixed-size storage: keep it on the stack, no allocation.
      Workspace<batch> ws;
      return backward_in(ws, x, y, criterion, on_output, on_gradients);
    } else {
      resize(training_workspace_, x.rows());  // allocates only when the batch size changes
      return backward_in(training_workspace_, x, y, criterion, on_output, on_gradients);
    }
  }

  /// Training forward, then backward from the output layer down. on_gradients(slot, parameter,
  /// gradient) sees each layer once its gradients and the gradient for the layer below are done.
  template <int Batch, class X, class Y, class L, class OnOutput, class OnLayerGradients>
  Scalar backward_in(Workspace<Batch>& ws, const Eigen::MatrixBase<X>& x,
                     const Eigen::MatrixBase<Y>& y, const L&, OnOutput& on_output,
                     OnLayerGradients& on_gradients) {
    detail::for_each_index(std::make_index_sequence<depth>{}, [&](auto i) {
      if constexpr (i == 0)
        detail::training_forward<Layer<0>>(std::get<0>(parameters_), x, std::get<0>(ws));
      else
        detail::training_forward<Layer<i>>(std::get<i>(parameters_), std::get<i - 1>(ws).A,
                                           std::get<i>(ws));
    });
    auto& out = std::get<depth - 1>(ws);
    on_output(std::as_const(out.A));

    using OutputActivation = typename OutputLayer::activation;
    const Scalar value = detail::output_loss_and_gradient<L>(
        fuses_with<L, OutputActivation>, out.Z, out.A, y,
        [&] { OutputLayer::backward_activation(out); }, OutputActivation::name);

    // Each layer writes its gradients and dL/dA of the layer below, which that layer turns into
    // its dL/dZ.
    detail::for_each_index_reversed(std::make_index_sequence<depth>{}, [&](auto i) {
      if constexpr (i == 0) {
        Layer<0>::backward(x, std::get<0>(ws), std::get<0>(gradients_));
      } else {
        auto& below = std::get<i - 1>(ws);
        Layer<i>::backward(std::get<i>(parameters_), below.A, std::get<i>(ws),
                           std::get<i>(gradients_), below.Z);
        Layer<i - 1>::backward_activation(below);
      }
      visit_layer<i>(on_gradients);
    });
    return value;
  }

  Widths widths_;
  Parameters parameters_;
  Parameters gradients_;
  Workspace<Dynamic> training_workspace_;
};

}  // namespace backprop
