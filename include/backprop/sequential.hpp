// Sequential<Scalar>: a feedforward network whose depth, widths and activations are chosen at run
// time (from command-line flags or a model file).
//
//   Sequential<float> net(784);
//   net.add_dense<ReLU>(256).add_dropout(0.2, 7).add_dense(10, "softmax");
//   net.initialize(HeNormal{42});
//   float loss = net.train_step(X, Y, SoftmaxCrossEntropy{}, adam);
//
// The algorithm is the engine's (engine.hpp), as Network's; this header holds the layers in a
// vector of AnyLayer (layers/any_layer.hpp), one virtual call per layer and step. Its layers are
// the run-time forms of their kinds, whose activation is a value (AnyActivation), so a program
// compiles each kind once, whatever activations it names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "activation.hpp"
#include "any_activation.hpp"
#include "any_loss.hpp"
#include "config.hpp"
#include "engine.hpp"
#include "layers/any_layer.hpp"
#include "layers/batch_norm.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/pad2d.hpp"
#include "layers/pool2d.hpp"
#include "layers/rescale.hpp"
#include "optimizer_ref.hpp"
#include "shape.hpp"

namespace backprop {

namespace detail {

/// The layers of a Sequential: AnyLayers in a vector, walked by a loop.
template <class Scalar_>
class DynamicStore {
 public:
  using Scalar = Scalar_;
  using Input = Eigen::Ref<const Eigen::MatrixX<Scalar>>;
  static constexpr const char* name = "Sequential";
  static constexpr std::string_view where = "backprop::Sequential";
  static constexpr int inputs = Dynamic;
  static constexpr int outputs = Dynamic;

  template <int Batch>
  using Workspace = std::vector<std::unique_ptr<AnyWorkspace<Scalar>>>;
  template <int Batch>
  static constexpr bool on_stack = false;
  /// Any loss may be tried: whether it fits the output layer is checked at run time.
  template <class L>
  static constexpr bool fits = true;

  explicit DynamicStore(Index width) : widths_{width} {}
  DynamicStore(const DynamicStore& other) : widths_(other.widths_) {
    for (const auto& layer : other.layers_)
      layers_.push_back(layer->clone());
  }
  DynamicStore& operator=(const DynamicStore& other) {
    if (this != &other) *this = DynamicStore(other);
    return *this;
  }
  DynamicStore(DynamicStore&&) noexcept = default;
  DynamicStore& operator=(DynamicStore&&) noexcept = default;

  /// Appends a layer whose input width is the last output width, with its default parameters.
  void push(std::unique_ptr<AnyLayer<Scalar>> layer) {
    layer->initialize_default(static_cast<std::uint32_t>(layers_.size()));
    widths_.push_back(layer->info().outputs);
    layers_.push_back(std::move(layer));
  }

  std::size_t size() const { return layers_.size(); }
  const std::vector<Index>& widths() const { return widths_; }

  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < layers_.size(); ++i)
      f(i);
  }
  template <class F>
  void for_each_reversed(F&& f) const {
    for (std::size_t i = layers_.size(); i-- > 0;)
      f(i);
  }
  std::size_t last() const { return layers_.size() - 1; }

  AnyLayer<Scalar>& node(std::size_t i) { return *layers_[i]; }
  const AnyLayer<Scalar>& node(std::size_t i) const { return *layers_[i]; }
  void resize(Workspace<Dynamic>& ws, Index rows) const {
    if (ws.size() != layers_.size()) {  // a layer was added since: start afresh
      ws.clear();
      for (const auto& layer : layers_)
        ws.push_back(layer->make_workspace());
    }
    for (std::size_t i = 0; i < layers_.size(); ++i)
      ws[i]->resize(rows, widths_[i + 1]);
  }
  /// The workspace kept from one training step to the next (a copy starts without one).
  Workspace<Dynamic>& training_workspace(Index rows) {
    resize(training_, rows);
    return training_;
  }
  static AnyWorkspace<Scalar>& at(const Workspace<Dynamic>& ws, std::size_t i) { return *ws[i]; }
  static Input input(std::size_t i, const Input& x, const Workspace<Dynamic>& ws) {
    return i == 0 ? x : Input(ws[i - 1]->A);
  }
  template <class F, class Otherwise>
  static void below(std::size_t i, F&& f, Otherwise&& otherwise) {
    i > 0 ? f(i - 1) : otherwise();
  }

  /// What predict returns.
  template <int Batch>
  using Output = Eigen::Matrix<Scalar, Dynamic, Dynamic>;

  /// X as the layers take it: column-major matrices and their blocks of rows without a copy,
  /// anything else copied once.
  template <class X>
  static Input adapt(const Eigen::MatrixBase<X>& x) {
    return Input(x);
  }
  /// The loss, the optimizer and an output callback as values, so that the steps are compiled
  /// once whatever they are (backward's no-update stays itself).
  template <class L>
  static AnyLoss<Scalar> loss_of(const L& loss) {
    return loss;
  }
  template <class O>
  static decltype(auto) optimizer_of(O& optimizer) {
    if constexpr (std::is_same_v<O, NoUpdate>)
      return (optimizer);
    else
      return OptimizerRef<Scalar>(optimizer);
  }
  template <class F>
  static decltype(auto) output_of(F& f) {
    if constexpr (std::is_same_v<F, OutputRef<Scalar>>)
      return (f);
    else
      return OutputRef<Scalar>(f);
  }
  /// Throws unless the network can compute: it has layers, the last with an activation.
  void check_ready(const char* function) const {
    if (layers_.empty())
      throw ArgumentError(std::string("backprop::Sequential::") + function +
                          ": the network has no layers");
    if (layers_.back()->activation_name().empty())
      throw ArgumentError(std::string("backprop::Sequential::") + function +
                          ": the last layer must have an activation (dense), not be a " +
                          std::string(layers_.back()->info().kind));
  }
  std::string_view output_activation() const { return layers_.back()->activation_name(); }

 private:
  std::vector<Index> widths_;
  std::vector<std::unique_ptr<AnyLayer<Scalar>>> layers_;
  Workspace<Dynamic> training_;
};

}  // namespace detail

/// A feedforward network whose layers are chosen at run time, in Scalar. Its builders are defined
/// outside the class, so that the compiled mode (compiled.hpp) compiles them once.
template <std::floating_point Scalar_>
class Sequential : public BasicNetwork<detail::DynamicStore<Scalar_>> {
  using Store = detail::DynamicStore<Scalar_>;
  using Engine = BasicNetwork<Store>;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// What predict returns.
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  /// How the layers see X and Y: column-major matrices and their blocks of rows pass without a
  /// copy; anything else is copied first.
  using Input = typename Store::Input;

  /// A network of `inputs` inputs and no layers yet.
  explicit Sequential(Index inputs);
  /// A network of image inputs, channels x height x width each, as rows (shape.hpp).
  explicit Sequential(const Shape& input);

  /// Appends a layer of kind L (of run-time sizes) with `outputs` outputs and the given settings:
  /// add<Dropout<>>(64, {.rate = 0.2, .seed = 7}). Throws ShapeError or ArgumentError, and adds
  /// nothing, when they do not fit the last layer.
  template <class L>
  Sequential& add(Index outputs, const typename detail::LayerModel<L, Scalar>::Settings& settings =
                                     typename detail::LayerModel<L, Scalar>::Settings{}) {
    checked_width(outputs, "units");
    auto layer =
        std::make_unique<detail::LayerModel<L, Scalar>>(this->widths().back(), outputs, settings);
    // Image layers say their output shape; a layer that keeps the width keeps the shape.
    Shape next = outputs == shape_.size() ? shape_ : Shape{outputs, 1, 1};
    if constexpr (requires { L::output_shape(settings); }) next = L::output_shape(settings);
    this->store_.push(std::move(layer));
    shape_ = next;
    return *this;
  }

  /// The shape of the last layer's output (of the input, before any layer).
  const Shape& shape() const { return shape_; }

  /// Appends Dense(width of the last layer -> units) with the activation, its weights as init.hpp's
  /// default_initialize gives them until initialize(): add_dense(10, Softmax{}).
  Sequential& add_dense(Index units, AnyActivation activation, Bias bias = Bias::on);
  /// The same with activation A: add_dense<ReLU>(256).
  template <ActivationFunction A>
  Sequential& add_dense(Index units, Bias bias = Bias::on) {
    return add_dense(units, A{}, bias);
  }
  /// The same with the activation named ("relu", "softmax", ...): one of BuiltinActivations.
  Sequential& add_dense(Index units, std::string_view activation, Bias bias = Bias::on);

  /// Appends Conv2D with `filters` filters of size `kernel` over the last shape, then the
  /// activation.
  Sequential& add_conv2d(Index filters, Window kernel, Window stride, Window padding,
                         AnyActivation activation, Bias bias = Bias::on);
  /// The same with activation A: add_conv2d<ReLU>(32, {3, 3}, {1, 1}, {1, 1}).
  template <ActivationFunction A = ReLU>
  Sequential& add_conv2d(Index filters, Window kernel, Window stride = {1, 1},
                         Window padding = {0, 0}, Bias bias = Bias::on) {
    return add_conv2d(filters, kernel, stride, padding, A{}, bias);
  }
  /// Appends Pad2D: a border of `value` (0, or -infinity before a max pool) around each channel
  /// of the last shape, each side its own.
  Sequential& add_pad2d(Index top, Index left, Index bottom, Index right, double value = 0);
  /// Appends MaxPool2D: the maximum of each window (the stride is the window unless given).
  Sequential& add_max_pool2d(Window window = {2, 2}, std::optional<Window> stride = {});
  /// Appends AvgPool2D: the mean of each window (the stride is the window unless given).
  Sequential& add_avg_pool2d(Window window = {2, 2}, std::optional<Window> stride = {});
  /// Appends the mean of each channel over the whole image: channels outputs.
  Sequential& add_global_avg_pool();
  /// Appends BatchNorm over the last shape: per channel, or per value after a dense layer.
  Sequential& add_batch_norm(double momentum = 0.1, double epsilon = 1e-5);

  /// Appends a fixed affine map of the last width (layers/rescale.hpp): first, it scales raw rows
  /// as the training data was (Rescaling::transform(scaler)); last, it turns answers into the
  /// targets' units (Rescaling::inverse_transform(scaler)).
  Sequential& add_rescale(const Rescaling& map);
  /// Appends inverted dropout of the given rate, its masks drawn from `seed`.
  Sequential& add_dropout(double rate, std::uint64_t seed = 0);

 private:
  static const Shape& checked_shape(const Shape& shape) {
    if (!detail::size_within(shape, Index(1) << 31))
      throw ArgumentError("backprop::Sequential: the input shape " + shape.string() +
                          " must be positive and hold at most 2^31 values");
    return shape;
  }
  static Index checked_width(Index width, const char* what) {
    if (width < 1)
      throw ArgumentError("backprop::Sequential: " + std::string(what) +
                          " must be at least 1, got " + std::to_string(width));
    return width;
  }

  Shape shape_;
};

template <std::floating_point Scalar>
Sequential<Scalar>::Sequential(Index inputs) : Engine(Store(checked_width(inputs, "inputs"))) {
  shape_ = {inputs, 1, 1};
}

template <std::floating_point Scalar>
Sequential<Scalar>::Sequential(const Shape& input) : Sequential(checked_shape(input).size()) {
  shape_ = input;
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_dense(Index units, AnyActivation activation,
                                                  Bias bias) {
  if (bias == Bias::on)
    return add<Dense<Dynamic, Dynamic, AnyActivation, Bias::on>>(units, {activation});
  return add<Dense<Dynamic, Dynamic, AnyActivation, Bias::off>>(units, {activation});
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_dense(Index units, std::string_view activation,
                                                  Bias bias) {
  const ActivationNames names = ActivationNames::of(BuiltinActivations{});
  const auto found = names.find(activation);
  if (!found) throw ArgumentError("backprop::Sequential::add_dense: " + names.unknown(activation));
  return add_dense(units, *found, bias);
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_conv2d(Index filters, Window kernel, Window stride,
                                                   Window padding, AnyActivation activation,
                                                   Bias bias) {
  const Conv2DSettings g{shape_, filters, kernel, stride, padding};
  const Index outputs = g.output().size();
  if (bias == Bias::on) return add<Conv2D<AnyActivation, Bias::on>>(outputs, {g, activation});
  return add<Conv2D<AnyActivation, Bias::off>>(outputs, {g, activation});
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_pad2d(Index top, Index left, Index bottom, Index right,
                                                  double value) {
  const Pad2DSettings s{shape_, top, left, bottom, right, value};
  Pad2D::check(shape_.size(), s.output().size(), s);  // before output() is used as a width
  return add<Pad2D>(s.output().size(), s);
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_max_pool2d(Window window,
                                                       std::optional<Window> stride) {
  const Pool2DSettings s{shape_, window, stride.value_or(window)};
  return add<MaxPool2D>(s.output().size(), s);
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_avg_pool2d(Window window,
                                                       std::optional<Window> stride) {
  const Pool2DSettings s{shape_, window, stride.value_or(window)};
  return add<AvgPool2D>(s.output().size(), s);
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_global_avg_pool() {
  const Window all{shape_.height, shape_.width};
  return add_avg_pool2d(all, all);
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_batch_norm(double momentum, double epsilon) {
  return add<BatchNorm>(shape_.size(), BatchNormSettings{shape_, momentum, epsilon});
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_rescale(const Rescaling& map) {
  return add<Rescale<>>(this->widths().back(), map);
}

template <std::floating_point Scalar>
Sequential<Scalar>& Sequential<Scalar>::add_dropout(double rate, std::uint64_t seed) {
  return add<Dropout<>>(this->widths().back(), {rate, seed});
}

}  // namespace backprop
