// Sequential<Scalar>: a feedforward network whose depth, widths and activations are chosen at run
// time (from command-line flags or a model file).
//
//   Sequential<float> net(784);
//   net.add_dense(256, "relu").add_dropout(0.2, 7).add_dense(10, "softmax");
//   net.initialize(HeNormal{42});
//   float loss = net.train_step(X, Y, SoftmaxCrossEntropy{}, adam);
//
// It is the same Dense, Dropout, activation and loss code as the compile-time Network, behind
// one virtual call per layer and step: each layer is a Dense<Dynamic, Dynamic, Activation, Bias>
// or a Dropout<Dynamic>, driven through the protocol of layer.hpp. The API mirrors Network's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "activation.hpp"
#include "config.hpp"
#include "dense.hpp"
#include "dropout.hpp"
#include "init.hpp"
#include "layer.hpp"
#include "loss.hpp"

namespace backprop {

namespace detail {

/// The interface Sequential drives its layers through: layer.hpp's protocol with the types fixed.
template <class Scalar>
class AnyLayer {
 public:
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  using RowVector = Eigen::Matrix<Scalar, 1, Dynamic>;
  using Input = Eigen::Ref<const Matrix>;
  using Workspace = LayerWorkspace<Scalar, Dynamic, Dynamic>;

  /// Sees each parameter matrix with its gradient, in the layer's order (W, then b).
  struct TensorVisitor {
    virtual void operator()(Matrix& parameter, const Matrix& gradient) = 0;
    virtual void operator()(RowVector& parameter, const RowVector& gradient) = 0;
  };
  /// Fills a weight matrix; initialize() hands W to it.
  struct Filler {
    virtual void fill(Matrix& w) = 0;
  };

  virtual ~AnyLayer() = default;
  virtual std::unique_ptr<AnyLayer> clone() const = 0;
  virtual LayerInfo info() const = 0;
  virtual void restore(const LayerInfo& info) = 0;
  virtual std::size_t tensor_count() const = 0;
  virtual Index parameter_count() const = 0;
  virtual void initialize(Filler& filler) = 0;
  virtual void visit_tensors(TensorVisitor& visitor) = 0;

  // Inference into a caller's workspace (so that predict can be const and thread-safe).
  virtual void forward(const Input& x, Workspace& ws) const = 0;
  // Training, in the layer's own workspace.
  virtual const Matrix& training_forward(const Input& x) = 0;
  virtual Workspace& training_workspace() = 0;
  virtual void backward_activation() = 0;
  virtual void backward(const Input& x, Matrix* dx) = 0;
};

/// One layer type L behind AnyLayer: parameters, gradients and a training workspace.
template <class Scalar, class L>
class LayerModel final : public AnyLayer<Scalar> {
  using Base = AnyLayer<Scalar>;

 public:
  using Parameters = typename L::template Parameters<Scalar>;
  using Workspace = typename L::template Workspace<Scalar, Dynamic>;

  LayerModel(Index in, Index out) : in_(in), out_(out), parameters_(in, out), gradients_(in, out) {}

  Parameters& parameters() { return parameters_; }

  std::unique_ptr<Base> clone() const override { return std::make_unique<LayerModel>(*this); }

  LayerInfo info() const override { return L::describe(parameters_, in_, out_); }
  void restore(const LayerInfo& info) override { L::restore(parameters_, info); }

  std::size_t tensor_count() const override { return L::tensor_count; }
  Index parameter_count() const override { return L::parameter_count(in_, out_); }

  void initialize(typename Base::Filler& filler) override {
    struct Adapter {
      typename Base::Filler& filler;
      void fill(typename Base::Matrix& w) { filler.fill(w); }
    } adapter{filler};
    L::initialize(parameters_, adapter);
  }

  void visit_tensors(typename Base::TensorVisitor& visitor) override {
    L::for_each_tensor(parameters_, gradients_, [&](auto& p, const auto& g) { visitor(p, g); });
  }

  void forward(const typename Base::Input& x, typename Base::Workspace& ws) const override {
    L::forward(parameters_, x, ws);
  }
  const typename Base::Matrix& training_forward(const typename Base::Input& x) override {
    workspace_.resize(x.rows(), out_);  // allocates only when the batch size changes
    detail::training_forward<L>(parameters_, x, workspace_);
    return workspace_.A;
  }
  typename Base::Workspace& training_workspace() override { return workspace_; }
  void backward_activation() override { L::backward_activation(workspace_); }
  void backward(const typename Base::Input& x, typename Base::Matrix* dx) override {
    if (dx)
      L::backward(parameters_, x, workspace_, gradients_, *dx);
    else
      L::backward(x, workspace_, gradients_);
  }

 private:
  Index in_, out_;
  Parameters parameters_, gradients_;
  Workspace workspace_;
};

/// Dense<Dynamic, Dynamic, A, bias> for the activation named `name` in list Activations.
template <class Scalar, class... Activations>
std::unique_ptr<AnyLayer<Scalar>> make_dense(ActivationList<Activations...>, std::string_view name,
                                             Index in, Index out, Bias bias) {
  std::unique_ptr<AnyLayer<Scalar>> layer;
  auto try_one = [&]<class A>() {
    if (layer || A::name != name) return;
    if (bias == Bias::on)
      layer = std::make_unique<LayerModel<Scalar, Dense<Dynamic, Dynamic, A, Bias::on>>>(in, out);
    else
      layer = std::make_unique<LayerModel<Scalar, Dense<Dynamic, Dynamic, A, Bias::off>>>(in, out);
  };
  (try_one.template operator()<Activations>(), ...);
  return layer;
}

template <class... Activations>
std::string activation_names(ActivationList<Activations...>) {
  std::string names;
  ((names += (names.empty() ? "" : ", ") + std::string(Activations::name)), ...);
  return names;
}

}  // namespace detail

/// A feedforward network whose layers are chosen at run time, in Scalar.
template <std::floating_point Scalar_>
class Sequential {
 public:
  /// float or double.
  using Scalar = Scalar_;
  /// What predict returns.
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  /// X and Y are taken by Eigen::Ref: column-major matrices and their blocks of rows pass without a
  /// copy; anything else is copied first.
  using Input = Eigen::Ref<const Matrix>;

  /// A network of `inputs` inputs and no layers yet.
  explicit Sequential(Index inputs) : widths_{checked_width(inputs, "inputs")} {}

  /// A deep copy: layers, parameters, gradients.
  Sequential(const Sequential& other) : widths_(other.widths_) {
    for (const auto& layer : other.layers_)
      layers_.push_back(layer->clone());
  }
  /// A deep copy.
  Sequential& operator=(const Sequential& other) {
    if (this != &other) *this = Sequential(other);
    return *this;
  }
  /// Moves the layers.
  Sequential(Sequential&&) noexcept = default;
  /// Moves the layers.
  Sequential& operator=(Sequential&&) noexcept = default;

  /// Appends Dense(width of the last layer -> units) with activation A. Its weights are zero until
  /// initialize().
  template <ActivationFunction A>
  Sequential& add_dense(Index units, Bias bias = Bias::on) {
    checked_width(units, "units");
    if (bias == Bias::on)
      add<Dense<Dynamic, Dynamic, A, Bias::on>>(units);
    else
      add<Dense<Dynamic, Dynamic, A, Bias::off>>(units);
    return *this;
  }

  /// The same with the activation named at run time ("relu", "softmax", ...).
  Sequential& add_dense(Index units, std::string_view activation, Bias bias = Bias::on) {
    checked_width(units, "units");
    auto layer =
        detail::make_dense<Scalar>(BuiltinActivations{}, activation, widths_.back(), units, bias);
    if (!layer)
      throw ArgumentError("backprop::Sequential: unknown activation \"" + std::string(activation) +
                          "\"; known: " + detail::activation_names(BuiltinActivations{}));
    layers_.push_back(std::move(layer));
    widths_.push_back(units);
    return *this;
  }

  /// Appends inverted dropout of the given rate, its masks drawn from `seed`.
  Sequential& add_dropout(double rate, std::uint64_t seed = 0) {
    using D = Dropout<Dynamic>;
    auto layer = std::make_unique<detail::LayerModel<Scalar, D>>(widths_.back(), widths_.back());
    layer->parameters().set_rate(rate);
    layer->parameters().seed(seed);
    layers_.push_back(std::move(layer));
    widths_.push_back(widths_.back());
    return *this;
  }

  /// Fresh parameters for every layer from init, in layer order (Dense: W from init, b zero).
  template <WeightInitializer Init>
  void initialize(Init&& init) {
    struct Adapter final : detail::AnyLayer<Scalar>::Filler {
      std::remove_reference_t<Init>& init;
      explicit Adapter(std::remove_reference_t<Init>& i) : init(i) {}
      void fill(Matrix& w) override { init.fill(w); }
    } adapter{init};
    for (auto& layer : layers_)
      layer->initialize(adapter);
  }

  /// X: (batch, inputs)  ->  (batch, outputs)
  Matrix predict(const Input& x) const {
    check_ready("predict");
    detail::check_input("Sequential", "predict", x.rows(), x.cols(), widths_.front());
    std::vector<typename detail::AnyLayer<Scalar>::Workspace> ws(layers_.size());
    forward(x, ws);
    return std::move(ws.back().A);
  }

  /// The loss of the current parameters on (X, Y), without gradients (and without dropout).
  /// on_output(A), if given, sees the network's output.
  template <LossFunction L, class OnOutput = detail::IgnoreOutput>
  Scalar loss(const Input& x, const Input& y, const L&, OnOutput&& on_output = {}) const {
    check_ready("loss");
    detail::check_input("Sequential", "loss", x.rows(), x.cols(), widths_.front());
    detail::check_target("Sequential", "loss", x.rows(), x.cols(), y.rows(), y.cols(),
                         widths_.back());
    std::vector<typename detail::AnyLayer<Scalar>::Workspace> ws(layers_.size());
    forward(x, ws);
    on_output(std::as_const(ws.back().A));
    const auto out = layers_.back()->info();
    return detail::output_loss<L>(fuses_with_name<L>(out.activation), ws.back().Z, ws.back().A, y);
  }

  /// X: (batch, inputs)  Y: (batch, outputs)  ->  the loss, and every parameter's gradient.
  /// on_output(A), if given, sees the network's output for the batch.
  template <LossFunction L, class OnOutput = detail::IgnoreOutput>
  Scalar backward(const Input& x, const Input& y, const L& criterion, OnOutput&& on_output = {}) {
    return backward_impl("backward", x, y, criterion, on_output,
                         [](std::size_t, auto&, const auto&) {});
  }

  /// One step of training: backward, and the optimizer's update of every parameter, each layer's
  /// as soon as its gradients are complete. Returns the loss before the update.
  template <LossFunction L, class Optimizer, class OnOutput = detail::IgnoreOutput>
  Scalar train_step(const Input& x, const Input& y, const L& criterion, Optimizer& optimizer,
                    OnOutput&& on_output = {}) {
    optimizer.begin_step();
    return backward_impl("train_step", x, y, criterion, on_output,
                         [&](std::size_t slot, auto& parameter, const auto& gradient) {
                           optimizer.update(slot, parameter, gradient);
                         });
  }

  /// f(slot, parameter, gradient) for every parameter matrix: layer by layer, W then b.
  template <class F>
  void for_each_parameter(F&& f) {
    std::size_t slot = 0;
    for (auto& layer : layers_)
      visit_layer(*layer, slot, f);
  }

  /// {inputs, outputs of layer 0, outputs of layer 1, ...}
  const std::vector<Index>& widths() const { return widths_; }
  std::size_t depth() const { return layers_.size(); }
  LayerInfo layer(std::size_t i) const { return layers_.at(i)->info(); }
  /// Takes back the non-matrix state of layer i (Dropout: rate and generator) from `info`.
  void restore_layer(std::size_t i, const LayerInfo& info) { layers_.at(i)->restore(info); }

  /// The number of trainable scalars.
  Index parameter_count() const {
    Index n = 0;
    for (const auto& layer : layers_)
      n += layer->parameter_count();
    return n;
  }
  /// The number of parameter matrices, which is the number of optimizer slots.
  std::size_t parameter_matrices() const {
    std::size_t n = 0;
    for (const auto& layer : layers_)
      n += layer->tensor_count();
    return n;
  }

 private:
  static Index checked_width(Index width, const char* what) {
    if (width < 1)
      throw ArgumentError("backprop::Sequential: " + std::string(what) +
                          " must be at least 1, got " + std::to_string(width));
    return width;
  }

  template <class L>
  void add(Index units) {
    layers_.push_back(std::make_unique<detail::LayerModel<Scalar, L>>(widths_.back(), units));
    widths_.push_back(units);
  }

  void check_ready(const char* function) const {
    if (layers_.empty())
      throw ArgumentError(std::string("backprop::Sequential::") + function +
                          ": the network has no layers");
    if (layers_.back()->info().kind != "dense")
      throw ArgumentError(std::string("backprop::Sequential::") + function +
                          ": the last layer must be dense, not " +
                          std::string(layers_.back()->info().kind));
  }

  void forward(const Input& x,
               std::vector<typename detail::AnyLayer<Scalar>::Workspace>& ws) const {
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      ws[i].resize(x.rows(), widths_[i + 1]);
      if (i == 0)
        layers_[i]->forward(x, ws[i]);
      else
        layers_[i]->forward(ws[i - 1].A, ws[i]);
    }
  }

  template <class F>
  void visit_layer(detail::AnyLayer<Scalar>& layer, std::size_t& slot, F& f) {
    using Base = detail::AnyLayer<Scalar>;
    struct Visitor final : Base::TensorVisitor {
      F& f;
      std::size_t& slot;
      Visitor(F& f_, std::size_t& s) : f(f_), slot(s) {}
      void operator()(typename Base::Matrix& p, const typename Base::Matrix& g) override {
        f(slot++, p, g);
      }
      void operator()(typename Base::RowVector& p, const typename Base::RowVector& g) override {
        f(slot++, p, g);
      }
    } visitor{f, slot};
    layer.visit_tensors(visitor);
  }

  template <class L, class OnOutput, class OnLayerGradients>
  Scalar backward_impl(const char* function, const Input& x, const Input& y, const L&,
                       OnOutput& on_output, OnLayerGradients on_gradients) {
    check_ready(function);
    detail::check_input("Sequential", function, x.rows(), x.cols(), widths_.front());
    detail::check_target("Sequential", function, x.rows(), x.cols(), y.rows(), y.cols(),
                         widths_.back());
    const std::size_t n = layers_.size();
    for (std::size_t i = 0; i < n; ++i)
      layers_[i]->training_forward(i == 0 ? x : Input(layers_[i - 1]->training_workspace().A));

    auto& output = *layers_.back();
    auto& out = output.training_workspace();
    on_output(std::as_const(out.A));
    const auto activation = output.info().activation;
    const Scalar value = detail::output_loss_and_gradient<L>(
        fuses_with_name<L>(activation), out.Z, out.A, y, [&] { output.backward_activation(); },
        activation);

    // Slots of layer i start after those of the layers before it.
    std::size_t slot = parameter_matrices();
    for (std::size_t i = n; i-- > 0;) {
      if (i == 0) {
        layers_[0]->backward(x, nullptr);
      } else {
        auto& below = layers_[i - 1]->training_workspace();
        layers_[i]->backward(below.A, &below.Z);
        layers_[i - 1]->backward_activation();
      }
      slot -= layers_[i]->tensor_count();
      std::size_t layer_slot = slot;
      visit_layer(*layers_[i], layer_slot, on_gradients);
    }
    return value;
  }

  std::vector<Index> widths_;
  std::vector<std::unique_ptr<detail::AnyLayer<Scalar>>> layers_;
};

}  // namespace backprop
