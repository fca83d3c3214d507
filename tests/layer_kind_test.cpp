// A layer kind of one's own: the protocol of layer.hpp in one struct, nothing else touched. It
// trains in a Network and a Sequential, saves, and loads where its list names it; the losses'
// tasks reach fit's metrics the same way, from the type.
#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

// A = -X: no parameters, no activation, one setting (a sign) that files must agree on.
template <int Units = Dynamic>
struct Negate {
  static constexpr std::string_view name = "negate";
  static constexpr int inputs = Units;
  static constexpr int outputs = Units;
  static constexpr std::size_t tensor_count = 0;
  using activation = void;

  template <class Scalar>
  struct Parameters {
    Parameters(Index in, Index out) {
      if (in != out) throw ShapeError("Negate keeps its width");
    }
  };
  template <class Scalar, int Batch>
  using Workspace = LayerWorkspace<Scalar, Batch, Units>;

  static constexpr Index parameter_count(Index, Index) { return 0; }
  template <class Scalar, class Init>
  static void initialize(Parameters<Scalar>&, Init&) {}
  template <class Scalar, class X, class W>
  static void forward(const Parameters<Scalar>&, const Eigen::MatrixBase<X>& x, W& ws) {
    ws.A = -x;
  }
  template <class W>
  static void backward_activation(W&) {}
  template <class Scalar, class X, class W>
  static void backward(const Eigen::MatrixBase<X>&, const W&, Parameters<Scalar>&) {}
  template <class Scalar, class X, class W, class DX>
  static void backward(const Parameters<Scalar>&, const Eigen::MatrixBase<X>&, const W& ws,
                       Parameters<Scalar>&, DX& dx) {
    dx = -ws.Z;
  }
  template <class P, class G, class F>
  static void for_each_tensor(P&, G&, F&&) {}
  template <class Scalar>
  static std::string describe(const Parameters<Scalar>&) {
    return "negate";
  }
  template <class Writer, class Scalar>
  static void write_config(Writer& w, const Parameters<Scalar>&) {
    w.u8(1);
  }
  template <class Writer, class Scalar>
  static void write_state(Writer&, const Parameters<Scalar>&) {}
  template <class Reader, class Scalar>
  static void read_state(Reader&, Parameters<Scalar>&) {}
  template <class Activations, class Reader, class Make>
  static void read(Reader& r, Index in, Index out, Make&& make) {
    if (r.u8() != 1) r.fail("a negate layer's sign must be 1");
    if (in != out) r.fail("a negate layer keeps its width");
    make.template operator()<Negate<>>();
  }
};

using MyLayers = LayerList<Dense<Dynamic, Dynamic>, Dropout<>, Negate<>>;

// Mean squared error under another name, declared a classification loss.
struct SquaredClassification : MeanSquared {
  static constexpr std::string_view name = "squared_classification";
  static constexpr Task task = Task::classification;
};

}  // namespace

TEST_CASE("A layer kind of one's own trains, saves and loads through its list", "[layer kind]") {
  test::TempDir dir;
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(8, 3), y = Eigen::MatrixXf::Random(8, 2);

  Network<float, Dense<3, 4, Tanh>, Negate<4>, Dense<4, 2, Identity>> network{GlorotUniform{2}};
  Sequential<float> sequential(3);
  sequential.add_dense<Tanh>(4).add<Negate<>>(4).add_dense<Identity>(2);
  sequential.initialize(GlorotUniform{2});
  CHECK(network.predict(x) == sequential.predict(x));
  CHECK(sequential.layer(1).description() == "4->4 negate");

  // Its gradient: the same as the network without it and with the next weights negated.
  Network<float, Dense<3, 4, Tanh>, Dense<4, 2, Identity>> plain{GlorotUniform{2}};
  plain.parameters<1>().W = -network.parameters<2>().W;
  plain.parameters<1>().b = network.parameters<2>().b;
  CHECK(network.backward(x, y, MeanSquared{}) == test::Approx(plain.backward(x, y, MeanSquared{})));
  CHECK(network.gradients<0>().W.isApprox(plain.gradients<0>().W));

  SGD<float> sgd(0.1f);
  for (int i = 0; i < 5; ++i)
    sequential.train_step(x, y, MeanSquared{}, sgd);
  save_model(sequential, dir / "negate.bpm");
  test::check_throws<FormatError>([&] { load_sequential<float>(dir / "negate.bpm"); },
                                  {"layer 1", "unknown layer kind \"negate\""});
  const auto loaded = load_sequential<float, BuiltinActivations, MyLayers>(dir / "negate.bpm");
  CHECK(loaded.predict(x) == sequential.predict(x));
  load_model(network, dir / "negate.bpm");
  CHECK(network.predict(x) == sequential.predict(x));
}

TEST_CASE("A loss declares its task, and fit's metrics follow from it", "[layer kind][fit]") {
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(40, 3);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(40, 2);
  for (Index r = 0; r < 40; ++r)
    y(r, x(r, 0) > 0 ? 1 : 0) = 1;
  Network<float, Dense<3, 2, Sigmoid>> net{GlorotUniform{1}};
  SGD<float> sgd(0.5f);
  FitOptions<float> options{.epochs = 2, .verbosity = Verbosity::silent};
  const History classified = fit(net, x, y, SquaredClassification{}, sgd, options);
  CHECK(classified.epochs.back().train.accuracy);
  CHECK_FALSE(classified.epochs.back().train.mse);
  const History regressed = fit(net, x, y, MeanSquared{}, sgd, options);
  CHECK(regressed.epochs.back().train.mse);
  CHECK_FALSE(regressed.epochs.back().train.accuracy);
}
