// Network<Scalar, Layers...>: a feedforward network composed of layers at compile time.
//
//   Network<double, Dense<2, 3, Sigmoid, Bias::off>, Dense<3, 1, Sigmoid, Bias::off>> net{
//       StandardNormal{1}};
//   double loss = net.train_step(X, Y, HalfSumSquared{}, sgd);   // X: (3, 2)  Y: (3, 1)
//   auto scores = net.predict(X);                                 // (3, 1)
//
// Rows are samples (X is (batch, features)), as in the tutorial, numpy and PyTorch. The algorithm
// is the engine's (engine.hpp); this header holds the layers in a tuple, so that every layer's
// types are known to the compiler: sizes known at compile time are checked at compile time, and
// a network of small fixed sizes trains on the stack, without a heap allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "config.hpp"
#include "engine.hpp"
#include "init.hpp"
#include "layers/batch_norm.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/pool2d.hpp"
#include "layers/protocol.hpp"
#include "layers/rescale.hpp"
#include "loss.hpp"
#include "shape.hpp"

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
                            outputs_of_previous_layer<outputs_of<std::tuple_element_t<I, All>>>,
                            inputs<inputs_of<std::tuple_element_t<I + 1, All>>>>::value &&
          ...);
}

// ---- Shapes at compile time: what each entry of Network<Scalar, ...>'s list becomes ----

/// These name the numbers in a compile error about a layer that does not fit the shape before it.
template <Index Channels, Index Height, Index Width>
struct output_shape_of_previous_layer {};
template <class Spec>
struct settings {};

template <class Layer, class Shape, class Inputs>
struct layer_takes_shape;
/// A layer after an image must take exactly its values.
template <std::size_t I, Index C, Index H, Index W, int N>
struct layer_takes_shape<layer<I>, output_shape_of_previous_layer<C, H, W>, inputs<N>> {
  static_assert(N == C * H * W || N == Dynamic,
                "a layer does not take the shape before it: layer I takes N inputs but the layer "
                "before it gives C x H x W values; the compiler names I, the shape and N in "
                "layer_takes_shape<layer<I>, output_shape_of_previous_layer<C, H, W>, inputs<N>>");
  static constexpr bool value = true;
};

template <class Layer, class Shape, class Spec>
struct image_layer_fits;
/// An image layer's window must fit the shape before it. Each message says what is wrong; the
/// compiler names the layer, the shape and the layer's settings in image_layer_fits<layer<I>,
/// output_shape_of_previous_layer<C, H, W>, settings<Spec>>.
template <std::size_t I, Index C, Index H, Index W, class Spec>
struct image_layer_fits<layer<I>, output_shape_of_previous_layer<C, H, W>, settings<Spec>> {
  static constexpr SlideProblem problem = Spec::template problem<Shape{C, H, W}>;
  static_assert(problem != SlideProblem::kernel_beyond_input,
                "an image layer's window is larger than the (padded) shape before it");
  static_assert(problem != SlideProblem::zero_stride,
                "an image layer's stride must be at least 1x1");
  static_assert(problem != SlideProblem::padding_not_below_kernel &&
                    problem != SlideProblem::negative_padding,
                "an image layer's padding must be at least 0 and smaller than its window");
  static_assert(problem != SlideProblem::empty_kernel && problem != SlideProblem::no_channels,
                "an image layer needs a window of at least 1x1 and at least one filter");
  static_assert(problem != SlideProblem::input_not_positive &&
                    problem != SlideProblem::beyond_limit,
                "an image layer's sizes must be positive and at most 2^31");
  static constexpr bool value = true;
};

template <class T>
inline constexpr bool always_false = false;

/// An entry of a Network's list that becomes a layer kind only given the shape before it (Conv,
/// MaxPool, BatchNorm, ...): it has `at<Shape>`.
template <class L>
concept ShapeSpec = requires {
  typename L::template at<Shape{}>;
};

/// What the compiler knows of the values between two layers: their shape, or nothing (a Dynamic
/// width, given at run time), or that a layer before does not fit (a static_assert said why).
template <Shape S>
struct Known {
  static constexpr Shape shape = S;
};
struct Unknown {};
struct Failed {};
/// What a layer that does not fit becomes. A Network of one is an empty class, so that the first
/// message about its layers is the only one.
struct Unfit {};

/// Entry I of a Network's list after `State`: the layer kind it is (`kind`), and what is known
/// after it (`next`).
template <std::size_t I, class State, class L>
struct resolve_layer;

template <std::size_t I, class L>
struct resolve_layer<I, Failed, L> {
  using kind = Unfit;
  using next = Failed;
};

template <std::size_t I, Shape S, ShapeSpec L>
requires(L::template problem<S> == SlideProblem::none) struct resolve_layer<I, Known<S>, L> {
  using kind = typename L::template at<S>;
  using next = Known<kind::output_shape>;
};
template <std::size_t I, Shape S, ShapeSpec L>
requires(L::template problem<S> != SlideProblem::none) struct resolve_layer<I, Known<S>, L> {
  static_assert(
      image_layer_fits<layer<I>, output_shape_of_previous_layer<S.channels, S.height, S.width>,
                       settings<L>>::value);
  using kind = Unfit;
  using next = Failed;
};
template <std::size_t I, ShapeSpec L>
struct resolve_layer<I, Unknown, L> {
  static_assert(always_false<L>,
                "an image layer needs the shape before it: start the Network with "
                "Input<channels, height, width>, and give the layers before it fixed widths");
  using kind = Unfit;
  using next = Failed;
};

/// L taking N inputs: itself, unless it takes a Dynamic width and can be made to take N (Dense,
/// Dropout and Rescale have with_inputs).
template <class L, int N>
struct taking {
  using type = L;
};
template <class L, int N>
requires(inputs_of<L> == Dynamic &&
         requires { typename L::template with_inputs<N>; }) struct taking<L, N> {
  using type = typename L::template with_inputs<N>;
};

/// What is known after a layer of `Outputs` outputs that follows shape S: a layer that keeps the
/// width keeps the shape (Dropout after a convolution).
template <Shape S, int Outputs>
using known_after = std::conditional_t<Outputs == Dynamic, Unknown,
                                       Known<(Outputs == S.size() ? S : Shape{Outputs, 1, 1})>>;

/// A kind of its own widths (Dense, Dropout, ...) after a known shape.
template <std::size_t I, Shape S, class L>
requires(!ShapeSpec<L>) struct resolve_layer<I, Known<S>, L> {
  using taken = typename taking<L, static_cast<int>(S.size())>::type;
  // Between two flat layers, layer_sizes_agree checks the widths as it always did.
  static constexpr bool fits =
      S.height * S.width == 1 || inputs_of<taken> == Dynamic || inputs_of<taken> == S.size();
  static_assert(
      std::conditional_t<
          fits, std::true_type,
          layer_takes_shape<layer<I>, output_shape_of_previous_layer<S.channels, S.height, S.width>,
                            inputs<inputs_of<taken>>>>::value);
  using kind = std::conditional_t<fits, taken, Unfit>;
  using next = std::conditional_t<fits, known_after<S, outputs_of<taken>>, Failed>;
};
template <std::size_t I, class L>
requires(!ShapeSpec<L>) struct resolve_layer<I, Unknown, L> {
  using kind = L;
  using next =
      std::conditional_t<outputs_of<L> == Dynamic, Unknown, Known<Shape{outputs_of<L>, 1, 1}>>;
};

template <std::size_t I, class State, class Done, class... Rest>
struct resolve_list;
template <std::size_t I, class State, class... Done>
struct resolve_list<I, State, LayerList<Done...>> {
  using type = LayerList<Done...>;
};
template <std::size_t I, class State, class... Done, class L, class... Rest>
struct resolve_list<I, State, LayerList<Done...>, L, Rest...> {
  using step = resolve_layer<I, State, L>;
  using type = typename resolve_list<I + 1, typename step::next,
                                     LayerList<Done..., typename step::kind>, Rest...>::type;
};

/// What the compiler knows before the first layer: its input width, if fixed.
template <class First>
struct first_state {
  using type = Unknown;
};
template <class First>
requires(!ShapeSpec<First> && inputs_of<First> != Dynamic) struct first_state<First> {
  using type = Known<Shape{inputs_of<First>, 1, 1}>;
};

/// The list, or Unfit when a layer does not fit.
template <class List>
struct fitting {
  using type = List;
};
template <class... Kinds>
requires((std::is_same_v<Kinds, Unfit> || ...)) struct fitting<LayerList<Kinds...>> {
  using type = Unfit;
};

/// The layer kinds of Network<Scalar, Layers...>: each of Layers, or what it becomes given the
/// shape before it; an Input<c, h, w> first gives the input shape. Unfit when a layer does not
/// fit.
template <class... Layers>
struct resolve_network {
  using type = LayerList<>;
};
template <class First, class... Rest>
struct resolve_network<First, Rest...> {
  using type = typename fitting<typename resolve_list<0, typename first_state<First>::type,
                                                      LayerList<>, First, Rest...>::type>::type;
};
template <Index C, Index H, Index W, class... Layers>
struct resolve_network<Input<C, H, W>, Layers...> {
  using type = typename fitting<
      typename resolve_list<0, Known<Shape{C, H, W}>, LayerList<>, Layers...>::type>::type;
};

template <std::size_t I>
using Constant = std::integral_constant<std::size_t, I>;

/// f(Constant<I>{}) for each I of the sequence, in order or reversed.
template <bool Reversed, std::size_t... I, class F>
void for_each_constant(std::index_sequence<I...>, F& f) {
  (f(Constant<(Reversed ? sizeof...(I) - 1 - I : I)>{}), ...);
}

/// The layers of a Network: a tuple of LayerNodes, walked by folds over compile-time indices.
template <class Scalar_, class... Layers>
class StaticStore {
  static constexpr std::size_t depth = sizeof...(Layers);
  using OutputLayer = std::tuple_element_t<depth - 1, std::tuple<Layers...>>;

 public:
  using Scalar = Scalar_;
  static constexpr const char* name = "Network";
  static constexpr std::string_view where = "backprop::Network";
  static constexpr int inputs = inputs_of<std::tuple_element_t<0, std::tuple<Layers...>>>;
  static constexpr int outputs = outputs_of<OutputLayer>;
  using Widths = std::array<Index, depth + 1>;
  template <int Batch>
  using Workspace = std::tuple<typename LayerNode<Layers, Scalar>::template Workspace<Batch>...>;
  /// Whether a batch of Batch rows trains in fixed-size storage, on the stack.
  template <int Batch>
  static constexpr bool on_stack = (LayerNode<Layers, Scalar>::template Workspace<Batch>::fixed &&
                                    ...);
  /// The activation of the output layer, a policy.
  using OutputActivation = typename LayerNode<OutputLayer, Scalar>::Activation;
  /// Whether loss L can be used with this output layer (checked at compile time here).
  template <class L>
  static constexpr bool fits = [] {
    if constexpr (requires { typename L::fused_activation; })
      return fuses_with<L, OutputActivation> ||
             detail::HasOutputGradient<L, Eigen::MatrixX<Scalar>, Eigen::MatrixX<Scalar>>;
    else
      return true;  // a loss chosen at run time (AnyLoss) is checked at run time
  }();

  /// Layers of the given widths, each with its default parameters (init.hpp).
  explicit StaticStore(const Widths& widths)
      : widths_(widths), nodes_([&]<std::size_t... I>(std::index_sequence<I...>) {
          return std::tuple{LayerNode<Layers, Scalar>(widths[I], widths[I + 1])...};
        }(std::make_index_sequence<depth>{})) {
    for_each([&](auto i) { node(i).initialize_default(static_cast<std::uint32_t>(i)); });
  }

  static constexpr std::size_t size() { return depth; }
  const Widths& widths() const { return widths_; }
  template <class F>
  void for_each(F&& f) const {
    for_each_constant<false>(std::make_index_sequence<depth>{}, f);
  }
  template <class F>
  void for_each_reversed(F&& f) const {
    for_each_constant<true>(std::make_index_sequence<depth>{}, f);
  }
  static constexpr Constant<depth - 1> last() { return {}; }
  template <std::size_t I>
  auto& node(Constant<I>) {
    return std::get<I>(nodes_);
  }
  template <std::size_t I>
  const auto& node(Constant<I>) const {
    return std::get<I>(nodes_);
  }

  template <class Ws>
  void resize(Ws& ws, Index rows) const {
    for_each([&](auto i) { std::get<i>(ws).resize(rows, widths_[i + 1]); });
  }
  /// The workspace kept from one training step to the next: it allocates when the batch grows.
  Workspace<Dynamic>& training_workspace(Index rows) {
    resize(training_, rows);
    return training_;
  }
  template <std::size_t I, class Ws>
  static auto& at(Ws& ws, Constant<I>) {
    return std::get<I>(ws);
  }
  template <std::size_t I, class X, class Ws>
  static const auto& input(Constant<I>, const X& x, const Ws& ws) {
    if constexpr (I == 0)
      return x;
    else
      return std::get<I - 1>(ws).A;
  }
  template <std::size_t I, class F, class Otherwise>
  static void below(Constant<I>, F&& f, Otherwise&& otherwise) {
    if constexpr (I > 0)
      f(Constant<I - 1>{});
    else
      otherwise();
  }

  /// What predict returns for Batch rows: the last layer's A.
  template <int Batch>
  using Output =
      std::remove_cvref_t<decltype(std::get<depth - 1>(std::declval<Workspace<Batch>&>()).A)>;

  /// X, the loss, the optimizer and an output callback as they are: the compiler sees their types,
  /// so that each step is compiled for them.
  template <class X>
  static const X& adapt(const Eigen::MatrixBase<X>& x) {
    return x.derived();
  }
  template <class L>
  static const L& loss_of(const L& loss) {
    return loss;
  }
  template <class O>
  static O& optimizer_of(O& optimizer) {
    return optimizer;
  }
  template <class F>
  static F& output_of(F& f) {
    return f;
  }
  /// Nothing to check at run time: the types have been checked.
  static void check_ready(const char*) {}
  static constexpr std::string_view output_activation() { return OutputActivation::name; }

 private:
  Widths widths_;
  std::tuple<LayerNode<Layers, Scalar>...> nodes_;
  Workspace<Dynamic> training_;
};

}  // namespace detail

namespace detail {

template <class Scalar, class Kinds>
class StaticNetwork;
/// A Network whose layers do not fit: nothing, once the compiler has said why.
template <class Scalar>
class StaticNetwork<Scalar, Unfit> {};

/// Network's implementation, over the layer kinds its list resolves to.
template <class Scalar_, class... Layers>
class StaticNetwork<Scalar_, LayerList<Layers...>>
    : public BasicNetwork<detail::StaticStore<Scalar_, Layers...>> {
  static_assert(std::is_floating_point_v<Scalar_>, "Network: the scalar must be float or double");
  static_assert(sizeof...(Layers) > 0, "Network: give at least one layer");
  static_assert(
      detail::adjacent_sizes_agree<Layers...>(std::make_index_sequence<sizeof...(Layers) - 1>{}));

  using Store = detail::StaticStore<Scalar_, Layers...>;
  using Engine = BasicNetwork<Store>;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// The type of layer I.
  template <std::size_t I>
  using Layer = std::tuple_element_t<I, std::tuple<Layers...>>;
  /// The last layer, whose activation meets the loss.
  using OutputLayer = Layer<sizeof...(Layers) - 1>;
  static_assert(!std::is_void_v<typename LayerNode<OutputLayer, Scalar_>::Activation>,
                "Network: the last layer must have an activation (Dense), not be a Dropout");
  static constexpr int inputs = Store::inputs;
  static constexpr int outputs = Store::outputs;
  static constexpr bool fixed_size =
      ((detail::inputs_of<Layers> != Dynamic && detail::outputs_of<Layers> != Dynamic) && ...);
  /// Its layer kinds: model files load into it whatever kinds and activations it holds.
  using Kinds = LayerList<Layers...>;

  /// widths[0] inputs, widths[i + 1] outputs of layer i.
  using Widths = typename Store::Widths;
  /// What predict returns for Batch rows.
  template <int Batch>
  using Output = detail::MatrixFor<Scalar, Batch, outputs>;

  /// The default parameters (init.hpp's default_initialize: Glorot or He, seeded by layer). The
  /// sizes come from the layer types.
  StaticNetwork() requires(fixed_size)
      : StaticNetwork(Widths{detail::inputs_of<Layers>..., detail::outputs_of<OutputLayer>}) {}

  /// Weights from an initializer, such as StandardNormal{seed}.
  template <WeightInitializer Init>
  explicit StaticNetwork(Init init) requires(fixed_size) : StaticNetwork() {
    this->initialize(init);
  }

  /// The default parameters, with the widths given at run time: {inputs, hidden..., outputs}.
  /// Sizes fixed by a layer type must agree with them.
  explicit StaticNetwork(const Widths& widths) : Engine(Store(checked(widths))) {}

  /// Run-time widths, and weights from an initializer.
  template <WeightInitializer Init>
  StaticNetwork(const Widths& widths, Init init) : StaticNetwork(widths) {
    this->initialize(init);
  }

  /// The trainable parameters of layer I (Dense: W, and b where the layer has one). Assign to them
  /// freely, but keep their shapes: the network's widths do not change.
  template <std::size_t I>
  auto& parameters() {
    return this->store_.node(detail::Constant<I>{}).parameters();
  }
  /// Parameters of layer I, read-only.
  template <std::size_t I>
  const auto& parameters() const {
    return this->store_.node(detail::Constant<I>{}).parameters();
  }
  /// The gradients of layer I from the last backward() or train_step().
  template <std::size_t I>
  const auto& gradients() const {
    return this->store_.node(detail::Constant<I>{}).gradients();
  }
  /// The settings of layer I (Dropout: its rate).
  template <std::size_t I>
  const auto& settings() const {
    return this->store_.node(detail::Constant<I>{}).settings();
  }
  /// The state of layer I (BatchNorm: its running statistics; Dropout: its generator).
  template <std::size_t I>
  auto& state() {
    return this->store_.node(detail::Constant<I>{}).state();
  }
  template <std::size_t I>
  const auto& state() const {
    return this->store_.node(detail::Constant<I>{}).state();
  }

 private:
  static Widths checked(const Widths& widths) {
    const Widths fixed{detail::inputs_of<Layers>..., detail::outputs_of<OutputLayer>};
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
};

}  // namespace detail

/// A feedforward network whose layers are fixed at compile time, in Scalar. Layers are Dense,
/// Dropout and Rescale, of fixed or run-time widths; after an Input<channels, height, width>, also
/// the image layers Conv, MaxPool, AvgPool, GlobalAvgPool and BatchNorm, whose shapes the compiler
/// computes (a Dense<Dynamic, ...> or Dropout<> after them takes the width before it):
///
///   using Cnn = Network<float, Input<1, 28, 28>,
///                       Conv<32, Window{3, 3}, ReLU, Padding{1, 1}>, BatchNorm, MaxPool<>,
///                       Dense<Dynamic, 128, ReLU>, Dense<128, 10, Softmax>>;
template <class Scalar_, class... Layers>
class Network
    : public detail::StaticNetwork<Scalar_, typename detail::resolve_network<Layers...>::type> {
  using Base = detail::StaticNetwork<Scalar_, typename detail::resolve_network<Layers...>::type>;

 public:
  using Base::Base;
};

}  // namespace backprop
