// AnyLayer<Scalar>: a layer of any kind behind one interface, which is what Sequential holds.
//
// It is protocol.hpp's LayerNode behind virtual calls: LayerModel<L, Scalar> implements AnyLayer
// for kind L by calling its node, and AnyLayer's templates give it the node's interface back, so
// the engine drives a Sequential's layers exactly as it drives a Network's. Its workspace is the
// kind's own, behind AnyWorkspace. A run-time layer's tensors are matrices or row vectors.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include <Eigen/Core>

#include "../config.hpp"
#include "../io/bytes.hpp"
#include "protocol.hpp"

namespace backprop::detail {

/// A layer's workspace as the run-time store holds it: Z and A by reference, the rest behind the
/// kind's own type (WorkspaceModel).
template <class Scalar>
struct AnyWorkspace {
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  Matrix& Z;  ///< (batch, out), as LayerWorkspace's
  Matrix& A;  ///< (batch, out), as LayerWorkspace's

  virtual ~AnyWorkspace() = default;
  virtual void resize(Index batch, Index out) = 0;
  AnyWorkspace(const AnyWorkspace&) = delete;
  AnyWorkspace& operator=(const AnyWorkspace&) = delete;

 protected:
  AnyWorkspace(Matrix& z, Matrix& a) : Z(z), A(a) {}
};

/// The workspace of kind L behind AnyWorkspace.
template <class L, class Scalar>
struct WorkspaceModel final : LayerNode<L, Scalar>::template Workspace<Dynamic>,
                              AnyWorkspace<Scalar> {
  using Own = typename LayerNode<L, Scalar>::template Workspace<Dynamic>;
  WorkspaceModel() : AnyWorkspace<Scalar>(Own::Z, Own::A) {}
  void resize(Index batch, Index out) override { Own::resize(batch, out); }
};

/// A layer node (protocol.hpp) behind virtual calls: what the run-time store holds. The templates
/// at the end give it the node's interface, so that the engine drives both stores alike.
template <class Scalar>
class AnyLayer {
 public:
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  using RowVector = Eigen::Matrix<Scalar, 1, Dynamic>;
  using Input = Eigen::Ref<const Matrix>;
  using Workspace = AnyWorkspace<Scalar>;

  /// Sees each parameter matrix with its gradient, in the layer's order (W, then b).
  struct TensorVisitor {
    virtual void operator()(Matrix& parameter, const Matrix& gradient) = 0;
    virtual void operator()(RowVector& parameter, const RowVector& gradient) = 0;
  };
  /// The same, read-only.
  struct ConstTensorVisitor {
    virtual void operator()(const Matrix& parameter, const Matrix& gradient) = 0;
    virtual void operator()(const RowVector& parameter, const RowVector& gradient) = 0;
  };
  /// Fills a weight matrix; initialize() hands W to it, with its fans.
  struct Filler {
    virtual void fill(Matrix& w, Fans fans) = 0;
  };

  virtual ~AnyLayer() = default;
  virtual std::unique_ptr<AnyLayer> clone() const = 0;
  virtual std::unique_ptr<Workspace> make_workspace() const = 0;
  virtual LayerInfo info() const = 0;
  virtual std::string_view activation_name() const = 0;
  virtual std::size_t tensor_count() const = 0;

  virtual void forward(const Input& x, Workspace& ws) const = 0;
  virtual void training_forward(const Input& x, Workspace& ws) const = 0;
  virtual void commit(Workspace& ws) = 0;
  virtual void backward_activation(Workspace& ws) const = 0;
  virtual void backward(const Input& x, const Workspace& ws, Matrix& dx) = 0;
  virtual void backward(const Input& x, const Workspace& ws, NoInputGradient& none) = 0;

  virtual void visit_tensors(TensorVisitor& visitor) = 0;
  virtual void visit_tensors(ConstTensorVisitor& visitor) const = 0;
  virtual void fill_weights(Filler& filler) = 0;
  virtual void initialize_default(std::uint32_t layer_index) = 0;
  virtual void write_config(io::Writer& w) const = 0;
  virtual void write_state(io::Writer& w) const = 0;
  virtual void read_state(io::Reader& r) = 0;

  /// f(parameter, gradient) for each trainable matrix, as LayerNode's.
  template <class F>
  void for_each_tensor(F&& f) {
    struct Visitor final : TensorVisitor {
      F& f;
      explicit Visitor(F& f_) : f(f_) {}
      void operator()(Matrix& p, const Matrix& g) override { f(p, g); }
      void operator()(RowVector& p, const RowVector& g) override { f(p, g); }
    } visitor{f};
    visit_tensors(visitor);
  }
  template <class F>
  void for_each_tensor(F&& f) const {
    struct Visitor final : ConstTensorVisitor {
      F& f;
      explicit Visitor(F& f_) : f(f_) {}
      void operator()(const Matrix& p, const Matrix& g) override { f(p, g); }
      void operator()(const RowVector& p, const RowVector& g) override { f(p, g); }
    } visitor{f};
    visit_tensors(visitor);
  }
  /// The gradients (and dX), then on_gradient(parameter, gradient) for each matrix, as
  /// LayerNode's.
  template <class DX, class F>
  void backward(const Input& x, const Workspace& ws, DX& dx, F&& on_gradient) {
    backward(x, ws, dx);
    for_each_tensor(on_gradient);
  }
  /// Fresh parameters from a WeightInitializer, as LayerNode's.
  template <class Init>
  void initialize(Init& init) {
    struct Adapter final : Filler {
      Init& init;
      explicit Adapter(Init& i) : init(i) {}
      void fill(Matrix& w, Fans fans) override { backprop::fill_weights(init, w, fans); }
    } adapter{init};
    fill_weights(adapter);
  }
};

/// Layer kind L behind AnyLayer: each call goes to its LayerNode.
template <class L, class Scalar>
class LayerModel final : public AnyLayer<Scalar> {
  using Base = AnyLayer<Scalar>;
  using typename Base::Input;
  using typename Base::Matrix;
  using Own = WorkspaceModel<L, Scalar>;

 public:
  using Settings = typename LayerNode<L, Scalar>::Settings;
  /// Throws as LayerNode's constructor.
  LayerModel(Index in, Index out, const Settings& settings) : node_(in, out, settings) {}
  LayerNode<L, Scalar>& node() { return node_; }

  std::unique_ptr<Base> clone() const override { return std::make_unique<LayerModel>(*this); }
  std::unique_ptr<typename Base::Workspace> make_workspace() const override {
    return std::make_unique<Own>();
  }
  LayerInfo info() const override { return node_.info(); }
  std::string_view activation_name() const override { return node_.activation_name(); }
  std::size_t tensor_count() const override { return node_.tensor_count(); }

  void forward(const Input& x, typename Base::Workspace& ws) const override {
    node_.forward(x, own(ws));
  }
  void training_forward(const Input& x, typename Base::Workspace& ws) const override {
    node_.training_forward(x, own(ws));
  }
  void commit(typename Base::Workspace& ws) override { node_.commit(own(ws)); }
  void backward_activation(typename Base::Workspace& ws) const override {
    node_.backward_activation(own(ws));
  }
  void backward(const Input& x, const typename Base::Workspace& ws, Matrix& dx) override {
    node_.backward(x, own(ws), dx, [](auto&, const auto&) {});
  }
  void backward(const Input& x, const typename Base::Workspace& ws,
                NoInputGradient& none) override {
    node_.backward(x, own(ws), none, [](auto&, const auto&) {});
  }

  void visit_tensors(typename Base::TensorVisitor& visitor) override {
    node_.for_each_tensor([&](auto& p, const auto& g) { visitor(p, g); });
  }
  void visit_tensors(typename Base::ConstTensorVisitor& visitor) const override {
    node_.for_each_tensor([&](const auto& p, const auto& g) { visitor(p, g); });
  }
  void fill_weights(typename Base::Filler& filler) override { node_.initialize(filler); }
  void initialize_default(std::uint32_t layer_index) override {
    node_.initialize_default(layer_index);
  }
  void write_config(io::Writer& w) const override { node_.write_config(w); }
  void write_state(io::Writer& w) const override { node_.write_state(w); }
  void read_state(io::Reader& r) override { node_.read_state(r); }

 private:
  // The workspaces of this layer are the ones make_workspace() made.
  static typename Own::Own& own(typename Base::Workspace& ws) { return static_cast<Own&>(ws); }
  static const typename Own::Own& own(const typename Base::Workspace& ws) {
    return static_cast<const Own&>(ws);
  }

  LayerNode<L, Scalar> node_;
};

}  // namespace backprop::detail
