// Convolution and pooling: the forward pass against direct loops, every gradient against central
// differences (strides, padding, several channels, odd and rectangular sizes, bias on and off),
// the shapes Sequential computes and refuses, and model files.
#include <cmath>
#include <limits>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "finite_differences.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

using Matrix = Eigen::MatrixXd;

// out(s, co, oy, ox) = b(co) + sum over ci, ky, kx of W(ci, ky, kx; co) x(s, ci, iy, ix), written
// out as the definition reads (PyTorch's Conv2d), zeros outside the image.
Matrix direct_convolution(const Matrix& x, const Conv2DSettings& g, const Matrix& W,
                          const Eigen::RowVectorXd& b) {
  const Shape out = g.output();
  Matrix z = Matrix::Zero(x.rows(), out.size());
  for (Index s = 0; s < x.rows(); ++s)
    for (Index co = 0; co < out.channels; ++co)
      for (Index oy = 0; oy < out.height; ++oy)
        for (Index ox = 0; ox < out.width; ++ox) {
          double sum = b(co);
          for (Index ci = 0; ci < g.input.channels; ++ci)
            for (Index ky = 0; ky < g.kernel.height; ++ky)
              for (Index kx = 0; kx < g.kernel.width; ++kx) {
                const Index iy = oy * g.stride.height - g.padding.height + ky;
                const Index ix = ox * g.stride.width - g.padding.width + kx;
                if (iy < 0 || iy >= g.input.height || ix < 0 || ix >= g.input.width) continue;
                sum += W((ci * g.kernel.height + ky) * g.kernel.width + kx, co) *
                       x(s, (ci * g.input.height + iy) * g.input.width + ix);
              }
          z(s, (co * out.height + oy) * out.width + ox) = sum;
        }
  return z;
}

}  // namespace

TEST_CASE("Conv2D computes the convolution's definition", "[conv]") {
  // Two channels of 5x7, three filters of 3x2, stride 2x1, padding 1x1: odd, rectangular sizes.
  const Conv2DSettings g{{2, 5, 7}, 3, {3, 2}, {2, 1}, {1, 1}};
  REQUIRE(g.output() == Shape{3, 3, 8});
  for (Bias bias : {Bias::on, Bias::off}) {
    Sequential<double> net(g.input);
    net.add_conv2d<Identity>(3, {3, 2}, {2, 1}, {1, 1}, bias);
    net.initialize(StandardNormal{3});
    Eigen::RowVectorXd b = Eigen::RowVectorXd::Zero(3);
    Matrix W;
    net.for_each_parameter([&](std::size_t slot, auto& p, const auto&) {
      if (slot == 0) W = p;
      if (slot == 1) {
        p.setRandom();
        b = p;
      }
    });
    const Matrix x = Matrix::Random(4, g.input.size());
    CHECK(net.predict(x).isApprox(direct_convolution(x, g, W, b), 1e-12));
    CHECK(net.shape() == Shape{3, 3, 8});
    CHECK(net.parameter_count() == 12 * 3 + (bias == Bias::on ? 3 : 0));
  }
}

TEST_CASE("Pooling takes each window's maximum or mean, channel by channel", "[conv]") {
  // One sample, two channels of 4x4 holding 0..31: the maximum of each 2x2 window is its last
  // value, the mean the mean of its four.
  Matrix x(1, 32);
  for (Index i = 0; i < 32; ++i)
    x(0, i) = double(i);
  Sequential<double> max_net(Shape{2, 4, 4}), mean_net(Shape{2, 4, 4});
  max_net.add_max_pool2d().add_dense<Identity>(1);
  mean_net.add_avg_pool2d().add_dense<Identity>(1);
  Eigen::RowVectorXd max_expected(8), mean_expected(8);
  max_expected << 5, 7, 13, 15, 21, 23, 29, 31;
  mean_expected << 2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5;
  // Read the pooled values through a Dense layer of identity weights, one output at a time.
  for (Index k = 0; k < 8; ++k) {
    for (auto* net : {&max_net, &mean_net})
      net->for_each_parameter([&](std::size_t slot, auto& p, const auto&) {
        p.setZero();
        if (slot == 0) p(k, 0) = 1;
      });
    CHECK(max_net.predict(x)(0, 0) == max_expected(k));
    CHECK(mean_net.predict(x)(0, 0) == mean_expected(k));
  }
  CHECK(max_net.layer(0).outputs == 8);
}

TEST_CASE("A NaN in a max-pool window is its maximum, as in PyTorch", "[conv]") {
  // Wherever it stands in the window, and whatever is larger: a NaN is not hidden by pooling.
  Sequential<double> net(Shape{1, 2, 2});
  net.add_max_pool2d().add_dense<Identity>(1, Bias::off);
  net.for_each_parameter([](std::size_t, auto& p, const auto&) { p.setOnes(); });
  for (Index at = 0; at < 4; ++at) {
    Matrix x(2, 4);
    x << 1, 5, 3, 2,  //
        -1, -2, -3, -4;
    x(0, at) = std::nan("");
    const Matrix a = net.predict(x);
    CHECK(std::isnan(a(0, 0)));
    CHECK(a(1, 0) == -1);  // the other sample, a column of its own, is untouched
  }
}

TEST_CASE("A tie in a max-pool window sends the gradient to its first maximum", "[conv]") {
  // PyTorch's max_pool2d on the CPU: the first maximum in row-major order.
  Sequential<double> net(Shape{1, 2, 2});
  net.add_conv2d<Identity>(1, {1, 1}, {1, 1}, {0, 0}, Bias::off)
      .add_max_pool2d()
      .add_dense<Identity>(1, Bias::off);
  net.for_each_parameter([](std::size_t, auto& p, const auto&) { p.setOnes(); });
  Matrix x(1, 4);
  x << 1, 3, 3, 2;
  net.backward(x, Matrix::Constant(1, 1, 0.0), MeanSquared{});
  // dL/dW of the 1x1 convolution is the sum of dZ .* x over the image: only x = 3 at (0, 1)
  // received the gradient, 2 (3 - 0) times the 3 it saw.
  double conv_gradient = 0;
  net.for_each_parameter([&](std::size_t slot, const auto&, const auto& g) {
    if (slot == 0) conv_gradient = g(0, 0);
  });
  CHECK(conv_gradient == test::Approx(2 * 3 * 3));
}

TEST_CASE("Convolution and pooling gradients match finite differences", "[conv][gradient]") {
  SECTION("stride, padding, several channels, max pooling, bias") {
    Sequential<double> net(Shape{2, 7, 6});
    net.add_conv2d<Tanh>(3, {3, 3}, {1, 2}, {1, 1})
        .add_max_pool2d({2, 2}, Window{1, 1})
        .add_dense<Identity>(2);
    const Matrix x = Matrix::Random(3, 84), y = Matrix::Random(3, 2);
    net.backward(x, y, MeanSquared{});
    const auto [error, largest] =
        test::finite_difference_error(net, [&] { return net.loss(x, y, MeanSquared{}); });
    CHECK(largest > 1e-3);
    CHECK(error < 1e-7);
  }
  SECTION("two convolutions (dX of a convolution), average and global pools, no bias") {
    Sequential<double> net(Shape{1, 9, 8});
    net.add_conv2d<Sigmoid>(2, {2, 3}, {1, 1}, {0, 1}, Bias::off)
        .add_avg_pool2d({2, 2})
        .add_conv2d<Softplus>(3, {3, 1}, {2, 1}, {1, 0})
        .add_global_avg_pool()
        .add_dense<Softmax>(3);
    CHECK(net.shape() == Shape{3, 1, 1});
    const Matrix x = Matrix::Random(4, 72);
    Matrix y = (Matrix::Random(4, 3).array() + 1.5).matrix();
    for (Index r = 0; r < 4; ++r)
      y.row(r) /= y.row(r).sum();
    net.backward(x, y, SoftmaxCrossEntropy{});
    const auto [error, largest] =
        test::finite_difference_error(net, [&] { return net.loss(x, y, SoftmaxCrossEntropy{}); });
    CHECK(largest > 1e-4);
    CHECK(error < 1e-6);
  }
}

TEST_CASE("Pad2D puts a border of its value around each channel, each side its own", "[conv]") {
  Sequential<double> net(Shape{2, 2, 3});
  net.add_pad2d(1, 0, 2, 1, -1.5).add_dense<Identity>(1);
  CHECK(net.layer(0).outputs == Index{2} * 5 * 4);
  Matrix x(1, 12);
  for (Index i = 0; i < 12; ++i)
    x(0, i) = double(i);
  // The padded image of each channel, as predict's first layer sees it: read it back through a
  // dense layer that picks one value at a time.
  auto padded = [&](Index c, Index y, Index col) {
    net.for_each_parameter([&](std::size_t slot, auto& p, const auto&) {
      p.setZero();
      if (slot == 0) p(((c * 5) + y) * 4 + col, 0) = 1;
    });
    return net.predict(x)(0, 0);
  };
  for (Index c = 0; c < 2; ++c)
    for (Index y = 0; y < 5; ++y)
      for (Index col = 0; col < 4; ++col) {
        const bool inside = y >= 1 && y < 3 && col < 3;
        INFO("channel " << c << ", row " << y << ", column " << col);
        CHECK(padded(c, y, col) == (inside ? double((c * 2 + y - 1) * 3 + col) : -1.5));
      }
  test::check_throws<ArgumentError>(
      [&] {
        Sequential<double>(Shape{1, 2, 2}).add_pad2d(-1, 0, 0, 0);
      },
      {"Pad2D", "each side must be in [0, 2^31]"});
  test::check_throws<ArgumentError>(
      [&] {
        Sequential<double>(Shape{1, 2, 2}).add_pad2d(1, 1, 1, 1, std::nan(""));
      },
      {"Pad2D", "finite or -infinity"});
}

TEST_CASE("Pad2D passes the gradient of its inside back, and saves and loads", "[conv][gradient]") {
  Sequential<double> net(Shape{1, 6, 5});
  net.add_conv2d<Tanh>(2, {3, 3})
      .add_pad2d(1, 0, 2, 1)
      .add_conv2d<Sigmoid>(2, {2, 2})
      .add_dense<Identity>(2);
  const Matrix x = Matrix::Random(3, 30), y = Matrix::Random(3, 2);
  net.backward(x, y, MeanSquared{});
  const auto [error, largest] =
      test::finite_difference_error(net, [&] { return net.loss(x, y, MeanSquared{}); });
  CHECK(largest > 1e-3);
  CHECK(error < 1e-7);

  test::TempDir dir;
  Sequential<double> pooled(Shape{1, 5, 5});
  pooled.add_pad2d(0, 0, 1, 1, -std::numeric_limits<double>::infinity())
      .add_max_pool2d({2, 2})
      .add_dense<Identity>(2);
  save_model(pooled, dir / "pad.bpm");
  const auto loaded = load_sequential<double>(dir / "pad.bpm");
  const Matrix z = Matrix::Random(2, 25);
  CHECK(loaded.predict(z) == pooled.predict(z));
  CHECK(loaded.layer(0).description() == pooled.layer(0).description());
  CHECK(pooled.predict(z).allFinite());  // the border never wins a window
}

TEST_CASE("Float convolutions agree with double ones", "[conv]") {
  Sequential<double> wide(Shape{3, 8, 8});
  wide.add_conv2d<ReLU>(4, {3, 3}, {1, 1}, {1, 1}).add_max_pool2d().add_dense<Softmax>(5);
  test::TempDir dir;
  save_model(wide, dir / "wide.bpm");
  const auto narrow = load_sequential<float>(dir / "wide.bpm");
  const Matrix x = Matrix::Random(6, 192);
  CHECK(narrow.predict(x.cast<float>()).cast<double>().isApprox(wide.predict(x), 1e-5));
}

TEST_CASE("Sequential computes each image shape and refuses impossible ones", "[conv]") {
  Sequential<float> net(Shape{1, 28, 28});
  net.add_conv2d(32, {3, 3}, {1, 1}, {1, 1});
  CHECK(net.shape() == Shape{32, 28, 28});
  net.add_max_pool2d();
  CHECK(net.shape() == Shape{32, 14, 14});
  net.add_conv2d(64, {3, 3});
  CHECK(net.shape() == Shape{64, 12, 12});
  net.add_dropout(0.25);
  CHECK(net.shape() == Shape{64, 12, 12});
  net.add_avg_pool2d({3, 3}, Window{2, 2});
  CHECK(net.shape() == Shape{64, 5, 5});
  net.add_dense<ReLU>(128);
  CHECK(net.shape() == Shape{128, 1, 1});
  CHECK(net.layer(0).description() == "784->25088 relu, 3x3 filters, stride 1x1, padding 1x1");

  const std::size_t depth = net.depth();
  Sequential<float> small(Shape{3, 5, 5});
  test::check_throws<ArgumentError>(
      [&] {
        small.add_conv2d(8, {7, 7});
      },
      {"Conv2D", "kernel is larger than the padded input, 5x5", "input 3x5x5", "kernel 7x7"});
  test::check_throws<ArgumentError>(
      [&] {
        small.add_conv2d(8, {3, 3}, {0, 1});
      },
      {"stride must be at least 1x1", "stride 0x1"});
  test::check_throws<ArgumentError>(
      [&] {
        small.add_conv2d(0, {3, 3});
      },
      {"at least one output channel"});
  test::check_throws<ArgumentError>(
      [&] {
        small.add_max_pool2d({6, 6});
      },
      {"Pool2D", "kernel is larger"});
  test::check_throws<ArgumentError>(
      [] {
        Sequential<float>(Shape{0, 28, 28});
      },
      {"input shape 0x28x28"});
  CHECK(small.depth() == 0);
  CHECK(small.shape() == Shape{3, 5, 5});
  CHECK(net.depth() == depth);
}

TEST_CASE("A CNN saves and loads, and a damaged geometry is refused", "[conv][file]") {
  test::TempDir dir;
  Sequential<double> net(Shape{1, 12, 12});
  net.add_conv2d<ReLU>(4, {3, 3}, {1, 1}, {1, 1})
      .add_max_pool2d()
      .add_conv2d<Tanh>(6, {3, 2}, {2, 1}, {0, 0}, Bias::off)
      .add_avg_pool2d({1, 2}, Window{1, 1})
      .add_dropout(0.5, 3)
      .add_dense<Softmax>(10);
  net.initialize(HeNormal{8});
  save_model(net, dir / "cnn.bpm");
  const auto loaded = load_sequential<double>(dir / "cnn.bpm");
  const Matrix x = Matrix::Random(5, 144);
  CHECK(loaded.predict(x) == net.predict(x));
  CHECK(loaded.shape() == net.shape());
  CHECK(loaded.layer(2).description() == net.layer(2).description());
  Sequential<double> same(Shape{1, 12, 12});
  same.add_conv2d<ReLU>(4, {3, 3}, {1, 1}, {1, 1})
      .add_max_pool2d()
      .add_conv2d<Tanh>(6, {3, 2}, {2, 1}, {0, 0}, Bias::off)
      .add_avg_pool2d({1, 2}, Window{1, 1})
      .add_dropout(0.5, 3)
      .add_dense<Softmax>(10);
  load_model(same, dir / "cnn.bpm");
  CHECK(same.predict(x) == net.predict(x));
  // Another padding is another network.
  Sequential<double> other(Shape{1, 12, 12});
  other.add_conv2d<ReLU>(4, {3, 3}, {1, 1}, {0, 0});
  test::check_throws<FormatError>([&] { load_model(other, dir / "cnn.bpm"); }, {"cnn.bpm"});
}
