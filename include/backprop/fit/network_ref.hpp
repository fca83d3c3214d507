// NetworkRef<Scalar>: a network (Network or Sequential) by reference, behind the part of the
// network API that fit's loop uses. So the loop (trainer.hpp) is compiled once per scalar, and a
// network type brings only its own steps, taken with the loss, the optimizer and the output
// callback as values (AnyLoss, OptimizerRef, OutputRef).
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "../any_loss.hpp"
#include "../config.hpp"
#include "../engine.hpp"
#include "../layers/protocol.hpp"
#include "../optimizer_ref.hpp"

namespace backprop::detail {

/// f(slot, parameter, gradient) for each parameter matrix of a network, its values as Maps.
template <class Scalar>
struct ParameterVisitor {
  using Map = Eigen::Map<Eigen::Matrix<Scalar, Dynamic, Dynamic>>;
  using ConstMap = Eigen::Map<const Eigen::Matrix<Scalar, Dynamic, Dynamic>>;
  virtual void operator()(std::size_t slot, Map& parameter, const ConstMap& gradient) = 0;

 protected:
  ~ParameterVisitor() = default;
};

template <class Scalar>
using NetworkInput = Eigen::Ref<const Eigen::Matrix<Scalar, Dynamic, Dynamic>>;

// A network's calls through a pointer to it: what NetworkRef calls. Function templates of their
// own, so that the compiled mode compiles those of a Sequential once.
template <class Net>
typename Net::Scalar network_train_step(void* net, const NetworkInput<typename Net::Scalar>& x,
                                        const NetworkInput<typename Net::Scalar>& y,
                                        const AnyLoss<typename Net::Scalar>& loss,
                                        OptimizerRef<typename Net::Scalar>& optimizer,
                                        OutputRef<typename Net::Scalar>& on_output) {
  return static_cast<Net*>(net)->train_step(x, y, loss, optimizer, on_output);
}
template <class Net>
typename Net::Scalar network_backward(void* net, const NetworkInput<typename Net::Scalar>& x,
                                      const NetworkInput<typename Net::Scalar>& y,
                                      const AnyLoss<typename Net::Scalar>& loss,
                                      OutputRef<typename Net::Scalar>& on_output) {
  return static_cast<Net*>(net)->backward(x, y, loss, on_output);
}
template <class Net>
typename Net::Scalar network_loss(const void* net, const NetworkInput<typename Net::Scalar>& x,
                                  const NetworkInput<typename Net::Scalar>& y,
                                  const AnyLoss<typename Net::Scalar>& loss,
                                  OutputRef<typename Net::Scalar>& on_output) {
  return static_cast<const Net*>(net)->loss(x, y, loss, on_output);
}
template <class Net>
void network_parameters(void* net, ParameterVisitor<typename Net::Scalar>& visit) {
  using Visitor = ParameterVisitor<typename Net::Scalar>;
  static_cast<Net*>(net)->for_each_parameter([&](std::size_t slot, auto& p, const auto& g) {
    typename Visitor::Map parameter(p.data(), p.rows(), p.cols());
    const typename Visitor::ConstMap gradient(g.data(), g.rows(), g.cols());
    visit(slot, parameter, gradient);
  });
}
template <class Net>
LayerInfo network_layer(const void* net, std::size_t i) {
  return static_cast<const Net*>(net)->layer(i);
}

/// A network of scalar Scalar, by reference: it must outlive this.
template <class Scalar_>
class NetworkRef {
 public:
  using Scalar = Scalar_;
  using Input = NetworkInput<Scalar>;

  template <class Net>
  requires(!std::is_same_v<Net, NetworkRef>) explicit NetworkRef(Net& net)
      : net_(&net),
        calls_(&calls_of<Net>),
        widths_(net.widths().begin(), net.widths().end()),
        depth_(net.depth()),
        parameters_(net.parameter_count()) {}

  const std::vector<Index>& widths() const { return widths_; }
  std::size_t depth() const { return depth_; }
  Index parameter_count() const { return parameters_; }
  LayerInfo layer(std::size_t i) const { return calls_->layer(net_, i); }

  template <class X, class Y, class F>
  Scalar train_step(const X& x, const Y& y, const AnyLoss<Scalar>& loss,
                    OptimizerRef<Scalar>& optimizer, F&& on_output) {
    OutputRef<Scalar> output(on_output);
    return calls_->train_step(net_, x, y, loss, optimizer, output);
  }
  template <class X, class Y, class F>
  Scalar backward(const X& x, const Y& y, const AnyLoss<Scalar>& loss, F&& on_output) {
    OutputRef<Scalar> output(on_output);
    return calls_->backward(net_, x, y, loss, output);
  }
  template <class X, class Y, class F>
  Scalar loss(const X& x, const Y& y, const AnyLoss<Scalar>& loss, F&& on_output) const {
    OutputRef<Scalar> output(on_output);
    return calls_->loss(net_, x, y, loss, output);
  }

  /// f(slot, parameter, gradient) for every parameter matrix, as the network's own, the values
  /// as Maps of them.
  template <class F>
  void for_each_parameter(F&& f) const {
    struct Visitor final : ParameterVisitor<Scalar> {
      F& f;
      explicit Visitor(F& f_) : f(f_) {}
      void operator()(std::size_t slot, typename Visitor::Map& p,
                      const typename Visitor::ConstMap& g) override {
        f(slot, p, g);
      }
    } visitor{f};
    calls_->parameters(net_, visitor);
  }

 private:
  struct Calls {
    Scalar (*train_step)(void*, const Input&, const Input&, const AnyLoss<Scalar>&,
                         OptimizerRef<Scalar>&, OutputRef<Scalar>&);
    Scalar (*backward)(void*, const Input&, const Input&, const AnyLoss<Scalar>&,
                       OutputRef<Scalar>&);
    Scalar (*loss)(const void*, const Input&, const Input&, const AnyLoss<Scalar>&,
                   OutputRef<Scalar>&);
    void (*parameters)(void*, ParameterVisitor<Scalar>&);
    LayerInfo (*layer)(const void*, std::size_t);
  };
  template <class Net>
  static constexpr Calls calls_of{&network_train_step<Net>, &network_backward<Net>,
                                  &network_loss<Net>, &network_parameters<Net>,
                                  &network_layer<Net>};

  void* net_;
  const Calls* calls_;
  std::vector<Index> widths_;
  std::size_t depth_;
  Index parameters_;
};

}  // namespace backprop::detail
