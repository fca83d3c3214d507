// Image layers in the compile-time Network: the shapes the compiler computes, the same numbers
// as Sequential's, gradients against central differences, and model files shared both ways.
#include <ratio>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "finite_differences.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

using Matrix = Eigen::MatrixXd;

// Two channels of 7x6; odd sizes, a rectangular kernel, strides, padding, both pools, batch norm
// and dropout, then a classifier whose input width the compiler deduces.
template <class Scalar>
using Cnn = Network<Scalar, Input<2, 7, 6>,                                    //
                    Conv<3, Window{3, 2}, Tanh, Stride{2, 1}, Padding{1, 1}>,  // 3x4x7
                    BatchNorm,                                                 //
                    MaxPool<Window{2, 2}, Stride{1, 1}>,                       // 3x3x6
                    Conv<4, Window{2, 3}, ReLU, Bias::off>,                    // 4x2x4
                    AvgPool<Window{1, 2}>,                                     // 4x2x2
                    Dropout<Dynamic, std::ratio<1, 4>>,                        //
                    Dense<Dynamic, 5, Softmax>>;

// The same network at run time.
Sequential<double> same_at_run_time() {
  Sequential<double> net(Shape{2, 7, 6});
  net.add_conv2d<Tanh>(3, {3, 2}, {2, 1}, {1, 1})
      .add_batch_norm()
      .add_max_pool2d({2, 2}, Window{1, 1})
      .add_conv2d<ReLU>(4, {2, 3}, {1, 1}, {0, 0}, Bias::off)
      .add_avg_pool2d({1, 2})
      .add_dropout(0.25)
      .add_dense<Softmax>(5);
  return net;
}

// Rows of one-hot labels.
Matrix labels(Index rows, Index classes) {
  Matrix y = Matrix::Zero(rows, classes);
  for (Index r = 0; r < rows; ++r)
    y(r, (3 * r + 1) % classes) = 1;
  return y;
}

}  // namespace

TEST_CASE("Network computes image shapes at compile time", "[conv][network]") {
  using Net = Cnn<float>;
  static_assert(Net::inputs == 2 * 7 * 6 && Net::outputs == 5);
  CHECK(Net().depth() == 7);
  static_assert(Net::Layer<0>::output_shape == Shape{3, 4, 7});
  static_assert(Net::Layer<2>::output_shape == Shape{3, 3, 6});
  static_assert(Net::Layer<3>::output_shape == Shape{4, 2, 4});
  static_assert(Net::Layer<4>::output_shape == Shape{4, 2, 2});
  static_assert(Net::Layer<5>::inputs == 16 && Net::Layer<6>::inputs == 16);
  static_assert(Net::fixed_size);
  // GlobalAvgPool, and BatchNorm after a dense layer (one value per channel).
  using Small = Network<double, Input<3, 5, 4>, Conv<6, Window{3, 3}>, GlobalAvgPool,
                        BatchNorm::With<std::ratio<1, 100>>, Dense<6, 2, Identity>>;
  static_assert(Small::Layer<1>::output_shape == Shape{6, 1, 1});
  const Small small;
  CHECK(small.layer(2).settings == "momentum 0.01, epsilon 1e-05");
  CHECK(small.layer(0).description() == "60->36 relu, 3x3 filters, stride 1x1, padding 0x0");
  const Net net;
  CHECK(net.widths() == Net::Widths{84, 84, 84, 54, 32, 16, 16, 5});
  CHECK(net.layer(0).kind == "conv2d");
  CHECK(net.layer(1).kind == "batch_norm");
  CHECK(net.layer(2).description() == "84->54 2x2 windows, stride 1x1");
}

TEST_CASE("A compile-time CNN computes what the same Sequential computes", "[conv][network]") {
  Cnn<double> fixed{GlorotUniform{5}};
  Sequential<double> dynamic = same_at_run_time();
  dynamic.for_each_parameter([&](std::size_t slot, auto& p, const auto&) {
    fixed.for_each_parameter([&](std::size_t other, const auto& q, const auto&) {
      if (other == slot) p = q;
    });
  });
  const Matrix x = Matrix::Random(9, 84), y = labels(9, 5);
  CHECK(fixed.predict(x) == dynamic.predict(x));
  // Training mode (batch norm's batch statistics, dropout's masks from the same seed), then Adam.
  // Equal up to the order of a few sums: Eigen walks a Network's matrices and a Sequential's
  // references to them in different orders.
  Adam<double> a, b;
  for (int step = 0; step < 3; ++step)
    CHECK(fixed.train_step(x, y, SoftmaxCrossEntropy{}, a) ==
          test::Approx(dynamic.train_step(x, y, SoftmaxCrossEntropy{}, b)).epsilon(1e-12));
  CHECK(fixed.predict(x).isApprox(dynamic.predict(x), 1e-12));
}

TEST_CASE("A compile-time CNN's gradients match finite differences", "[conv][network][gradient]") {
  // Without dropout, whose masks would change between the two sides of a difference.
  using Net =
      Network<double, Input<2, 7, 6>, Conv<3, Window{3, 2}, Tanh, Stride{2, 1}, Padding{1, 1}>,
              BatchNorm, MaxPool<Window{2, 2}, Stride{1, 1}>,
              Conv<4, Window{2, 3}, Softplus, Bias::off>, AvgPool<Window{1, 2}>,
              Dense<Dynamic, 5, Softmax>>;
  Net net{GlorotUniform{2}};
  const Matrix x = Matrix::Random(6, 84), y = labels(6, 5);
  net.backward(x, y, SoftmaxCrossEntropy{});
  // Batch norm in training mode: the loss is backward()'s, with the batch's statistics.
  const auto [error, largest] =
      test::finite_difference_error(net, [&] { return net.backward(x, y, SoftmaxCrossEntropy{}); });
  CHECK(largest > 1e-4);
  CHECK(error < 1e-6);
}

TEST_CASE("Model files pass between a compile-time CNN and a Sequential", "[conv][network][file]") {
  test::TempDir dir;
  Cnn<double> fixed{HeNormal{3}};
  Adam<double> adam;
  const Matrix x = Matrix::Random(8, 84), y = labels(8, 5);
  fixed.train_step(x, y, SoftmaxCrossEntropy{}, adam);  // running statistics that differ from 0, 1
  save_model(fixed, dir / "fixed.bpm");
  const auto loaded = load_sequential<double>(dir / "fixed.bpm");
  CHECK(loaded.predict(x) == fixed.predict(x));
  CHECK(loaded.shape() == Shape{5, 1, 1});

  Cnn<double> back;
  CHECK(back.predict(x) != fixed.predict(x));
  load_model(back, dir / "fixed.bpm");
  CHECK(back.predict(x) == fixed.predict(x));
  // A float network loads the double file, its numbers converted.
  Cnn<float> narrow;
  load_model(narrow, dir / "fixed.bpm");
  CHECK(narrow.predict(x.cast<float>()).cast<double>().isApprox(fixed.predict(x), 1e-5));

  // Another geometry is another network: refused, and nothing changes.
  using Other = Network<double, Input<2, 7, 6>, Conv<3, Window{3, 2}, Tanh, Padding{1, 1}>,
                        Dense<Dynamic, 5, Softmax>>;
  Other other{HeNormal{1}};
  const Matrix before = other.predict(x);
  test::check_throws<FormatError>([&] { load_model(other, dir / "fixed.bpm"); }, {"fixed.bpm"});
  CHECK(other.predict(x) == before);
}
