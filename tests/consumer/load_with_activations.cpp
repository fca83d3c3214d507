// A unit that only loads models, with the built-in activations or (with -DEXTRA) one more of its
// own: activation_symbols.cmake compares what the compiler emits for the two.
#include <backprop/io/model_file.hpp>

namespace mine {
// a = 2 tanh(z), whose derivative 2 (1 - (a / 2)^2) is written from the output.
struct TwiceTanh : backprop::Elementwise<TwiceTanh> {
  static constexpr std::string_view name = "twice_tanh";
  template <class Z>
  static auto value(const Eigen::ArrayBase<Z>& z) {
    return 2 * z.tanh();
  }
  template <class A>
  static auto derivative(const Eigen::ArrayBase<A>& a) {
    return 2 * (1 - (a / 2).square());
  }
};
}  // namespace mine

#ifdef EXTRA
using Activations = backprop::WithActivations<mine::TwiceTanh>;
#else
using Activations = backprop::BuiltinActivations;
#endif

backprop::Sequential<float> load(const std::filesystem::path& path) {
  return backprop::load_sequential<float, Activations>(path);
}
