// A layer kind of one's own: the protocol of layers/protocol.hpp in one struct, nothing else
// touched. It trains in a Network and a Sequential, saves, and loads where its list names it; the
// losses' tasks reach fit's metrics the same way, from the type.
#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "finite_differences.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

// A = -X: no parameters, no activation, and a record of one byte (a sign) that files must agree
// on. Its name and its math, and the record: every other member of the protocol has a default.
template <int Units = Dynamic>
struct Negate {
  static constexpr std::string_view name = "negate";
  static constexpr int inputs = Units, outputs = Units;

  template <class Layer, class X, class W>
  static void forward(const Layer&, const Eigen::MatrixBase<X>& x, W& ws) {
    ws.A = -x;
  }
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer&, const Eigen::MatrixBase<X>&, const W& ws, G&, DX& dx) {
    dx = -ws.Z;
  }
  template <class Writer, class Layer>
  static void write_config(Writer& w, const Layer&) {
    w.u8(1);
  }
  template <class Reader, class Make>
  static void read(Reader& r, Index, Index, Make& make) {
    if (r.u8() != 1) r.fail("a negate layer's sign must be 1");
    make.template operator()<Negate<>>();
  }
};

// A = X .* s: one trainable row s (1, units), starting from ones; any widths that keep the width.
struct Scale {
  static constexpr std::string_view name = "scale";

  template <class Scalar>
  struct Tensors {
    Eigen::Matrix<Scalar, 1, Dynamic> s;
    Tensors(Index in, Index) : s(Eigen::Matrix<Scalar, 1, Dynamic>::Ones(in)) {}
  };
  template <class T>
  static auto tensors(T& t) {
    return std::tie(t.s);
  }
  static Index parameter_count(Index in, Index, const auto&) { return in; }

  template <class Layer, class X, class W>
  static void forward(const Layer& layer, const Eigen::MatrixBase<X>& x, W& ws) {
    ws.A = (x.array().rowwise() * layer.parameters().s.array()).matrix();
  }
  template <class Layer, class X, class W, class G, class DX>
  static void backward(const Layer& layer, const Eigen::MatrixBase<X>& x, const W& ws, G& g,
                       DX& dx) {
    g.s = (x.array() * ws.Z.array()).colwise().sum();
    if constexpr (wants_input_gradient<DX>)
      dx = (ws.Z.array().rowwise() * layer.parameters().s.array()).matrix();
  }
};

using MyLayers = LayerList<Dense<Dynamic, Dynamic, AnyActivation>, Dropout<>, Negate<>, Scale>;

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

TEST_CASE("A kind with weights of its own: its gradient, its slot, its file", "[layer kind]") {
  test::TempDir dir;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(6, 3), y = Eigen::MatrixXd::Random(6, 2);
  Network<double, Dense<3, 4, Tanh>, Scale, Dense<4, 2, Identity>> net({3, 4, 4, 2},
                                                                       GlorotUniform{5});
  net.parameters<1>().s << 0.5, -2, 1.5, 3;
  net.backward(x, y, MeanSquared{});
  const auto [error, largest] =
      test::finite_difference_error(net, [&] { return net.loss(x, y, MeanSquared{}); });
  CHECK(largest > 1e-3);
  CHECK(error < 1e-7);
  CHECK(net.parameter_matrices() == 5);  // W, b; s; W, b
  CHECK(net.layer(1).parameters == 4);

  Sequential<double> sequential(3);
  sequential.add_dense<Tanh>(4).add<Scale>(4).add_dense<Identity>(2);
  test::check_throws<ShapeError>([&] { Sequential<double>(3).add<Scale>(5); },
                                 {"scale", "keeps its width", "3->5"});
  load_model<BuiltinActivations, MyLayers>(sequential,
                                           (save_model(net, dir / "s.bpm"), dir / "s.bpm"));
  CHECK(sequential.predict(x) == net.predict(x));
  const auto loaded = load_sequential<double, BuiltinActivations, MyLayers>(dir / "s.bpm");
  CHECK(loaded.predict(x) == net.predict(x));
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
