// AnyActivation: an activation chosen at run time, as a value, for the layers of a network composed
// at run time (Sequential, and every layer a model file rebuilds).
//
//   AnyActivation relu = ReLU{};                 // any activation policy (activation.hpp)
//   relu.forward(Z, A);                          // one indirect call, then ReLU's own loop
//
// It points to a table of the policy's functions for float and double on run-time matrices (and
// blocks of their rows), so a layer that holds one is compiled once, not once per activation, and
// the element loops are the policy's own. Model files name activations; an ActivationList says
// which names a reader knows (BuiltinActivations, or WithActivations<Mine> for one of your own).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "activation.hpp"
#include "config.hpp"

namespace backprop {

namespace detail {

/// An activation's two functions for one scalar, on a run-time matrix or a block of its rows.
template <class Scalar>
struct ActivationCalls {
  using In = Eigen::Ref<const Eigen::Matrix<Scalar, Dynamic, Dynamic>>;
  using Out = Eigen::Ref<Eigen::Matrix<Scalar, Dynamic, Dynamic>>;
  void (*forward)(const In& z, Out a);   ///< Z: (batch, units)  ->  A = f(Z)
  void (*backward)(const In& a, Out g);  ///< G: dL/dA  ->  dL/dZ, from A
};

/// What AnyActivation points to: one table per activation policy.
struct ActivationTable {
  std::string_view name;
  bool rectified;
  bool elementwise;
  ActivationCalls<float> for_float;
  ActivationCalls<double> for_double;
};

template <class A, class Scalar>
void forward_of(const typename ActivationCalls<Scalar>::In& z,
                typename ActivationCalls<Scalar>::Out a) {
  A::forward(z, a);
}
template <class A, class Scalar>
void backward_of(const typename ActivationCalls<Scalar>::In& a,
                 typename ActivationCalls<Scalar>::Out g) {
  A::backward(a, g);
}

template <class A>
inline constexpr ActivationTable activation_table{
    A::name,
    rectified<A>,
    elementwise<A>,
    {&forward_of<A, float>, &backward_of<A, float>},
    {&forward_of<A, double>, &backward_of<A, double>}};

}  // namespace detail

class ActivationNames;

/// An activation policy held as a value: the activation of a layer chosen at run time.
class AnyActivation {
 public:
  /// Activation A, from any policy: AnyActivation(ReLU{}).
  template <ActivationFunction A>
  constexpr AnyActivation(A) noexcept : table_(&detail::activation_table<A>) {}

  /// The policy's name: "relu".
  constexpr std::string_view name() const { return table_->name; }
  /// Whether it is of the ReLU family (activation.hpp's `rectified`).
  constexpr bool rectified() const { return table_->rectified; }
  /// Whether it works value by value (activation.hpp's `elementwise`).
  constexpr bool elementwise() const { return table_->elementwise; }

  /// Z: (batch, units)  ->  A = f(Z), as the policy's forward.
  template <class Z, class A>
  void forward(const Eigen::MatrixBase<Z>& z, Eigen::MatrixBase<A>& a) const {
    calls<typename Z::Scalar>().forward(z.derived(), a.derived());
  }
  /// A, G = dL/dA: (batch, units)  ->  G = dL/dZ, as the policy's backward.
  template <class A, class G>
  void backward(const Eigen::MatrixBase<A>& a, Eigen::MatrixBase<G>& g) const {
    calls<typename A::Scalar>().backward(a.derived(), g.derived());
  }

  /// Equal when they are the same policy (by name: the names of a list are unique).
  friend constexpr bool operator==(AnyActivation a, AnyActivation b) {
    return a.name() == b.name();
  }

 private:
  friend class ActivationNames;
  constexpr explicit AnyActivation(const detail::ActivationTable* table) : table_(table) {}

  template <class Scalar>
  const detail::ActivationCalls<Scalar>& calls() const {
    if constexpr (std::is_same_v<Scalar, float>)
      return table_->for_float;
    else
      return table_->for_double;
  }

  const detail::ActivationTable* table_;
};

namespace detail {

/// The name, rectification and element-wise nature of an activation, policy or value alike.
template <class A>
constexpr std::string_view name_of(const A& activation) {
  if constexpr (std::is_same_v<A, AnyActivation>)
    return activation.name();
  else
    return A::name;
}
template <class A>
constexpr bool is_rectified(const A& activation) {
  if constexpr (std::is_same_v<A, AnyActivation>)
    return activation.rectified();
  else
    return rectified<A>;
}
template <class A>
constexpr bool is_elementwise(const A& activation) {
  if constexpr (std::is_same_v<A, AnyActivation>)
    return activation.elementwise();
  else
    return elementwise<A>;
}

}  // namespace detail

/// A list of activation policies: the names that a model file's reader, or Sequential::add_dense
/// given a name, knows. A new activation is one struct in activation.hpp and one entry in
/// BuiltinActivations; one of your own goes in a list of your own, WithActivations<Mine>.
template <class... Activations>
struct ActivationList {};
/// Sigmoid, Tanh, ReLU, LeakyReLU<>, Softplus, Identity, Softmax and LogSoftmax, by name.
using BuiltinActivations =
    ActivationList<Sigmoid, Tanh, ReLU, LeakyReLU<>, Softplus, Identity, Softmax, LogSoftmax>;

namespace detail {
template <class List, class... Extra>
struct with_activations;
template <class... Builtin, class... Extra>
struct with_activations<ActivationList<Builtin...>, Extra...> {
  using type = ActivationList<Builtin..., Extra...>;
};
}  // namespace detail

/// The built-in activations and Extra: the list that loads a model of activations of one's own,
/// load_sequential<float, WithActivations<LeakyReLU<std::ratio<1, 5>>, Mine>>(path).
template <class... Extra>
using WithActivations = typename detail::with_activations<BuiltinActivations, Extra...>::type;

/// The activations of a list, by name, as a value: what a reader looks names up in. It is built
/// from the list once (ActivationNames::of(list)), so that a reader's code does not depend on it.
class ActivationNames {
 public:
  /// The activations of `list`.
  template <class... Activations>
  static ActivationNames of(ActivationList<Activations...>) {
    static constexpr std::array<const detail::ActivationTable*, sizeof...(Activations)> tables{
        &detail::activation_table<Activations>...};
    return ActivationNames(tables);
  }

  /// The activation named `name`, or nothing when the list holds none.
  std::optional<AnyActivation> find(std::string_view name) const {
    for (const detail::ActivationTable* table : tables_)
      if (table->name == name) return AnyActivation(table);
    return std::nullopt;
  }

  /// "unknown activation \"x\"; known: sigmoid, tanh, ...".
  std::string unknown(std::string_view name) const {
    std::string known;
    for (const detail::ActivationTable* table : tables_)
      known += (known.empty() ? "" : ", ") + std::string(table->name);
    return "unknown activation \"" + std::string(name) + "\"; known: " + known;
  }

  /// How to load a model that names an activation the list does not hold: "leaky_relu(1/5)" is
  /// LeakyReLU<std::ratio<1, 5>>; any other is a type only its author knows.
  static std::string how_to_load(std::string_view name) {
    std::string type = "YourActivation";
    if (name.starts_with("leaky_relu(") && name.ends_with(")") && name.find('/') != name.npos) {
      const std::string_view slope = name.substr(11, name.size() - 12);
      const auto slash = slope.find('/');
      type = "LeakyReLU<std::ratio<" + std::string(slope.substr(0, slash)) + ", " +
             std::string(slope.substr(slash + 1)) + ">>";
    }
    return "to load it, name its type: load_sequential<Scalar, WithActivations<" + type +
           ">>(path)";
  }

 private:
  explicit ActivationNames(std::span<const detail::ActivationTable* const> tables)
      : tables_(tables) {}

  std::span<const detail::ActivationTable* const> tables_;
};

}  // namespace backprop
