// The compiled mode: what is compiled once, for float and double, instead of in every unit that
// uses it. Header-only stays the default: without BACKPROP_COMPILED this header declares nothing.
//
//   CMake:     target_link_libraries(app PRIVATE backprop::compiled)
//   by hand:   -DBACKPROP_COMPILED on every unit, and one unit of your own that holds the code:
//                #define BACKPROP_IMPLEMENTATION
//                #include <backprop/backprop.hpp>
//
// Every unit then reads the explicit instantiation declarations below (an `extern template` each)
// and compiles none of it: the run-time network (Sequential, its layers of every built-in kind),
// fit's loop for it, the built-in activations', losses' and optimizers' code for the run-time
// network and fit, model and optimizer files, and the CSV and IDX readers. A Network, whose layers
// are the program's own types, is compiled where it is used, as in the header-only mode.
//
// The compiled part and the program must see the same Eigen vectorization (the same -march) and
// product backend (backprop::blas or not): the alignment of Eigen's objects and its products
// depend on them. A program built otherwise does not link, and the missing name says what it was
// built for: backprop_compiled_for_alignment_64_eigen.
#pragma once

#include "backprop.hpp"

#if defined(BACKPROP_COMPILED) || defined(BACKPROP_IMPLEMENTATION)

// The name of a function that only a compiled part of this Eigen alignment and product backend
// defines: backprop_compiled_for_alignment_64_eigen, ..._32_openblas.
#if defined(BACKPROP_OPENBLAS)
#define BACKPROP_COMPILED_CHECK_(n) backprop_compiled_for_alignment_##n##_openblas
#else
#define BACKPROP_COMPILED_CHECK_(n) backprop_compiled_for_alignment_##n##_eigen
#endif
#define BACKPROP_COMPILED_CHECK(n) BACKPROP_COMPILED_CHECK_(n)

namespace backprop::detail {

/// Defined by the compiled part, for the alignment and backend it was built with; referred to by
/// every other unit, which then does not link with a part built otherwise.
int BACKPROP_COMPILED_CHECK(EIGEN_MAX_ALIGN_BYTES)() noexcept;
#if defined(BACKPROP_IMPLEMENTATION)
#if !defined(BACKPROP_IMPLEMENTATION_PART) || BACKPROP_IMPLEMENTATION_PART == 1
// NOLINTNEXTLINE(misc-definitions-in-headers): defined in the one unit of BACKPROP_IMPLEMENTATION
int BACKPROP_COMPILED_CHECK(EIGEN_MAX_ALIGN_BYTES)() noexcept {
  return EIGEN_MAX_ALIGN_BYTES;
}
#endif
#else
inline const int compiled_alignment = BACKPROP_COMPILED_CHECK(EIGEN_MAX_ALIGN_BYTES)();
#endif

}  // namespace backprop::detail

namespace backprop {

// The macros' arguments are types, which cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)

// The run-time network, its layers, and what reads them from files.
#define BACKPROP_IN(S) Eigen::Ref<const Eigen::Matrix<S, Dynamic, Dynamic>>
#define BACKPROP_ENGINE(S) BasicNetwork<detail::DynamicStore<S>>
#define BACKPROP_RUN_TIME_NETWORK(S)                                                               \
  BACKPROP_INSTANTIATE(class BACKPROP_ENGINE(S))                                                   \
  BACKPROP_INSTANTIATE(Eigen::Matrix<S, Dynamic, Dynamic> BACKPROP_ENGINE(                         \
      S)::predict_rows<BACKPROP_IN(S)>(const BACKPROP_IN(S)&) const)                               \
  BACKPROP_INSTANTIATE(S BACKPROP_ENGINE(S)::loss_rows<BACKPROP_IN(S), BACKPROP_IN(S), AnyLoss<S>, \
                                                       detail::OutputRef<S>>(                      \
      const BACKPROP_IN(S)&, const BACKPROP_IN(S)&, const AnyLoss<S>&, detail::OutputRef<S>&)      \
                           const)                                                                  \
  BACKPROP_INSTANTIATE(                                                                            \
      S BACKPROP_ENGINE(S)::train_rows<BACKPROP_IN(S), BACKPROP_IN(S), AnyLoss<S>,                 \
                                       OptimizerRef<S>, detail::OutputRef<S>>(                     \
          const char*, const BACKPROP_IN(S)&, const BACKPROP_IN(S)&, const AnyLoss<S>&,            \
          OptimizerRef<S>&, detail::OutputRef<S>&))                                                \
  BACKPROP_INSTANTIATE(                                                                            \
      S BACKPROP_ENGINE(S)::train_rows<BACKPROP_IN(S), BACKPROP_IN(S), AnyLoss<S>,                 \
                                       detail::NoUpdate, detail::OutputRef<S>>(                    \
          const char*, const BACKPROP_IN(S)&, const BACKPROP_IN(S)&, const AnyLoss<S>&,            \
          detail::NoUpdate&, detail::OutputRef<S>&))                                               \
  BACKPROP_INSTANTIATE(class Sequential<S>)                                                        \
  BACKPROP_INSTANTIATE(                                                                            \
      class detail::LayerModel<Dense<Dynamic, Dynamic, AnyActivation, Bias::on>, S>)               \
  BACKPROP_INSTANTIATE(                                                                            \
      class detail::LayerModel<Dense<Dynamic, Dynamic, AnyActivation, Bias::off>, S>)              \
  BACKPROP_INSTANTIATE(class detail::LayerModel<Conv2D<AnyActivation, Bias::on>, S>)               \
  BACKPROP_INSTANTIATE(class detail::LayerModel<Conv2D<AnyActivation, Bias::off>, S>)              \
  BACKPROP_INSTANTIATE(class detail::LayerModel<Dropout<>, S>)                                     \
  BACKPROP_INSTANTIATE(class detail::LayerModel<Rescale<>, S>)                                     \
  BACKPROP_INSTANTIATE(class detail::LayerModel<MaxPool2D, S>)                                     \
  BACKPROP_INSTANTIATE(class detail::LayerModel<AvgPool2D, S>)                                     \
  BACKPROP_INSTANTIATE(class detail::LayerModel<BatchNorm, S>)                                     \
  BACKPROP_INSTANTIATE(class detail::Trainer<S>)                                                   \
  BACKPROP_INSTANTIATE(S detail::network_train_step<Sequential<S>>(                                \
      void*, const BACKPROP_IN(S)&, const BACKPROP_IN(S)&, const AnyLoss<S>&, OptimizerRef<S>&,    \
      detail::OutputRef<S>&))                                                                      \
  BACKPROP_INSTANTIATE(S detail::network_backward<Sequential<S>>(                                  \
      void*, const BACKPROP_IN(S)&, const BACKPROP_IN(S)&, const AnyLoss<S>&,                      \
      detail::OutputRef<S>&))                                                                      \
  BACKPROP_INSTANTIATE(S detail::network_loss<Sequential<S>>(                                      \
      const void*, const BACKPROP_IN(S)&, const BACKPROP_IN(S)&, const AnyLoss<S>&,                \
      detail::OutputRef<S>&))                                                                      \
  BACKPROP_INSTANTIATE(                                                                            \
      void detail::network_parameters<Sequential<S>>(void*, detail::ParameterVisitor<S>&))         \
  BACKPROP_INSTANTIATE(LayerInfo detail::network_layer<Sequential<S>>(const void*, std::size_t))   \
  BACKPROP_INSTANTIATE(                                                                            \
      std::vector<std::uint8_t> io::serialize(const Sequential<S>&, const ModelExtras&))           \
  BACKPROP_INSTANTIATE(io::ParsedModel<S> io::detail::parse_model<S, BuiltinLayers>(               \
      const std::vector<std::uint8_t>&, const std::string&, const ActivationNames&))               \
  BACKPROP_INSTANTIATE(io::ParsedModel<S> io::parse<S, BuiltinActivations, BuiltinLayers>(         \
      const std::vector<std::uint8_t>&, const std::string&))                                       \
  BACKPROP_INSTANTIATE(                                                                            \
      void io::apply(const io::ParsedModel<S>&, Sequential<S>&, const std::string&))               \
  BACKPROP_INSTANTIATE(                                                                            \
      void save_model(const Sequential<S>&, const std::filesystem::path&, const ModelExtras&))     \
  BACKPROP_INSTANTIATE(void load_model<BuiltinActivations, BuiltinLayers>(                         \
      Sequential<S>&, const std::filesystem::path&, ModelExtras*))                                 \
  BACKPROP_INSTANTIATE(Sequential<S> load_sequential<S, BuiltinActivations, BuiltinLayers>(        \
      const std::filesystem::path&, ModelExtras*))                                                 \
  BACKPROP_INSTANTIATE(CsvData<S> read_csv(std::istream&, const std::string&, const CsvOptions&))  \
  BACKPROP_INSTANTIATE(CsvData<S> read_csv(const std::filesystem::path&, const CsvOptions&))       \
  BACKPROP_INSTANTIATE(Eigen::Matrix<S, Dynamic, Dynamic> read_idx(const std::filesystem::path&))

// An activation's functions for the run-time layers.
#define BACKPROP_ACTIVATION(A, S)                                                            \
  BACKPROP_INSTANTIATE(void detail::forward_of<A, S>(const detail::ActivationCalls<S>::In&,  \
                                                     detail::ActivationCalls<S>::Out))       \
  BACKPROP_INSTANTIATE(void detail::backward_of<A, S>(const detail::ActivationCalls<S>::In&, \
                                                      detail::ActivationCalls<S>::Out))

// A loss's functions for the run-time network and fit: those of any scalar, then of one.
#define BACKPROP_LOSS_OF_ANY_SCALAR(L)                               \
  BACKPROP_INSTANTIATE(bool detail::loss_fuses<L>(std::string_view)) \
  BACKPROP_INSTANTIATE(void detail::loss_check_output_activation<L>(bool, std::string_view))
#define BACKPROP_LOSS(L, S)                                                                \
  BACKPROP_INSTANTIATE(                                                                    \
      void detail::loss_check_targets<L, S>(const detail::LossIn<S>&, const char*))        \
  BACKPROP_INSTANTIATE(S detail::loss_value<L, S>(                                         \
      bool, const detail::LossIn<S>&, const detail::LossIn<S>&, const detail::LossIn<S>&)) \
  BACKPROP_INSTANTIATE(void detail::loss_gradient<L, S>(                                   \
      bool, detail::LossOut<S>, const detail::LossIn<S>&, const detail::LossIn<S>&))

// An optimizer's calls for fit, and its files.
#define BACKPROP_OPTIMIZER(O)                                                            \
  BACKPROP_INSTANTIATE(void detail::optimizer_begin_step<O>(void*))                      \
  BACKPROP_INSTANTIATE(void detail::optimizer_update<O, OptimizerRef<O::Scalar>::Map,    \
                                                     OptimizerRef<O::Scalar>::ConstMap>( \
      void*, std::size_t, OptimizerRef<O::Scalar>::Map&,                                 \
      const OptimizerRef<O::Scalar>::ConstMap&))                                         \
  BACKPROP_INSTANTIATE(O::Scalar detail::optimizer_learning_rate<O>(const void*))        \
  BACKPROP_INSTANTIATE(void detail::optimizer_set_learning_rate<O>(void*, O::Scalar))    \
  BACKPROP_INSTANTIATE(std::int64_t detail::optimizer_steps<O>(const void*))             \
  BACKPROP_INSTANTIATE(void detail::optimizer_check<O, detail::ParameterShapes>(         \
      const void*, const detail::ParameterShapes&))                                      \
  BACKPROP_INSTANTIATE(void detail::share_state<O>(void*, Collective&, int))             \
  BACKPROP_INSTANTIATE(void save_optimizer(const O&, const std::filesystem::path&))      \
  BACKPROP_INSTANTIATE(void load_optimizer(O&, const std::filesystem::path&))

#define BACKPROP_COMPILED_SCALAR(S)     \
  BACKPROP_RUN_TIME_NETWORK(S)          \
  BACKPROP_ACTIVATION(Sigmoid, S)       \
  BACKPROP_ACTIVATION(Tanh, S)          \
  BACKPROP_ACTIVATION(ReLU, S)          \
  BACKPROP_ACTIVATION(LeakyReLU<>, S)   \
  BACKPROP_ACTIVATION(Softplus, S)      \
  BACKPROP_ACTIVATION(Identity, S)      \
  BACKPROP_ACTIVATION(Softmax, S)       \
  BACKPROP_LOSS(HalfSumSquared, S)      \
  BACKPROP_LOSS(MeanSquared, S)         \
  BACKPROP_LOSS(BinaryCrossEntropy, S)  \
  BACKPROP_LOSS(SoftmaxCrossEntropy, S) \
  BACKPROP_OPTIMIZER(SGD<S>)            \
  BACKPROP_OPTIMIZER(Momentum<S>)       \
  BACKPROP_OPTIMIZER(AdaGrad<S>)        \
  BACKPROP_OPTIMIZER(RMSProp<S>)        \
  BACKPROP_OPTIMIZER(Adam<S>)           \
  BACKPROP_OPTIMIZER(AdamW<S>)

// The compiled part may be built as two units, BACKPROP_IMPLEMENTATION_PART 1 and 2 (CMake's
// backprop::compiled is), so that two cores build it; one unit without a part holds all of it.
#if !defined(BACKPROP_IMPLEMENTATION_PART) || BACKPROP_IMPLEMENTATION_PART == 1
BACKPROP_LOSS_OF_ANY_SCALAR(HalfSumSquared)
BACKPROP_LOSS_OF_ANY_SCALAR(MeanSquared)
BACKPROP_LOSS_OF_ANY_SCALAR(BinaryCrossEntropy)
BACKPROP_LOSS_OF_ANY_SCALAR(SoftmaxCrossEntropy)
BACKPROP_COMPILED_SCALAR(float)
#endif
#if !defined(BACKPROP_IMPLEMENTATION_PART) || BACKPROP_IMPLEMENTATION_PART == 2
BACKPROP_COMPILED_SCALAR(double)
#endif

// NOLINTEND(bugprone-macro-parentheses)

#undef BACKPROP_COMPILED_SCALAR
#undef BACKPROP_OPTIMIZER
#undef BACKPROP_LOSS
#undef BACKPROP_LOSS_OF_ANY_SCALAR
#undef BACKPROP_ACTIVATION
#undef BACKPROP_RUN_TIME_NETWORK
#undef BACKPROP_ENGINE
#undef BACKPROP_IN

}  // namespace backprop

#endif
