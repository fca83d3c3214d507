// Check, then commit: every call that throws leaves the network (parameters, gradients, Dropout's
// generators), the optimizer (step count, moments) and the caller's data exactly as they were.
// A table of failing calls, each followed by a bit-for-bit comparison of everything.
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

using Matrix = Eigen::MatrixXf;
constexpr float nan = std::numeric_limits<float>::quiet_NaN();

// Everything a failed call could change, as bytes: the model file holds the parameters and
// Dropout's rate and generator; the gradients and the optimizer's state are added here.
template <class Net>
std::vector<std::uint8_t> snapshot(const Net& net, const Adam<float>& adam, const Matrix& x,
                                   const Matrix& y) {
  io::Writer w;
  w.bytes() = io::serialize(net, {});
  net.for_each_parameter([&](std::size_t, const auto&, const auto& g) { w.matrix<float>(g); });
  w.u64(static_cast<std::uint64_t>(adam.steps()));
  for (const auto& slot : adam.state())
    for (const auto& array : slot)
      w.matrix<float>(array.matrix());
  w.matrix<float>(x);
  w.matrix<float>(y);
  return std::move(w.bytes());
}

// Three features, one-hot labels of two classes, a net with dropout, and Adam after two steps.
struct Setup {
  Matrix x = Matrix::Random(12, 3);
  Matrix y = Matrix::Zero(12, 2);
  Adam<float> adam{{.learning_rate = 0.01f}};
  Setup() {
    for (Index r = 0; r < 12; ++r)
      y(r, r % 2) = 1;
  }
  template <class Net>
  void warm_up(Net& net) {
    for (int i = 0; i < 2; ++i)
      net.train_step(x, y, SoftmaxCrossEntropy{}, adam);
  }
};

using Net = Network<float, Dense<3, 6, Tanh>, Dropout<6, std::ratio<1, 3>>, Dense<6, 2, Softmax>>;

Sequential<float> sequential() {
  Sequential<float> net(3);
  net.add_dense(6, "tanh").add_dropout(1.0 / 3, 5).add_dense(2, "softmax");
  net.initialize(GlorotUniform{7});
  return net;
}

FitOptions<float> quiet(FitOptions<float> o) {
  o.verbosity = Verbosity::silent;
  return o;
}

template <class N>
struct Case {
  std::string name;
  std::string message;  // part of what the exception says
  std::function<void(N&, Setup&)> run;
  void (*prepare)(Setup&) = nullptr;  // before the snapshot
};

// An optimizer that has trained another network, of other shapes.
void bind_to_another_network(Setup& s) {
  Network<float, Dense<3, 4, Tanh>, Dense<4, 2, Softmax>> other{GlorotUniform{1}};
  s.adam = Adam<float>{};
  other.train_step(s.x, s.y, SoftmaxCrossEntropy{}, s.adam);
}

template <class N>
std::vector<Case<N>> cases() {
  return {
      {"train_step: X of the wrong width", "X is 12x4",
       [](N& net, Setup& s) {
         net.train_step(Matrix::Ones(12, 4), s.y, SoftmaxCrossEntropy{}, s.adam);
       }},
      {"train_step: Y of too few rows", "Y is 11x2",
       [](N& net, Setup& s) {
         net.train_step(s.x, s.y.topRows(11), SoftmaxCrossEntropy{}, s.adam);
       }},
      {"train_step: an empty batch", "X has no rows",
       [](N& net, Setup& s) {
         net.train_step(Matrix(0, 3), Matrix(0, 2), SoftmaxCrossEntropy{}, s.adam);
       }},
      {"train_step: NaN in X makes the loss NaN", "is nan; nothing was updated",
       [](N& net, Setup& s) {
         Matrix x = s.x;
         x(3, 1) = nan;
         net.train_step(x, s.y, SoftmaxCrossEntropy{}, s.adam);
       }},
      {"train_step: a target row that sums to 2", "row 5 of Y sums to 2",
       [](N& net, Setup& s) {
         Matrix y = s.y;
         y(5, 0) = y(5, 1) = 1;
         net.train_step(s.x, y, SoftmaxCrossEntropy{}, s.adam);
       }},
      {"train_step: a binary cross-entropy target of 1.5", "row 2, column 1 of Y is 1.5",
       [](N& net, Setup& s) {
         Matrix y = s.y;
         y(2, 1) = 1.5f;
         net.train_step(s.x, y, BinaryCrossEntropy{}, s.adam);
       }},
      {"train_step: an optimizer bound to another network", "slot 0 holds state of shape 3x4",
       [](N& net, Setup& s) { net.train_step(s.x, s.y, SoftmaxCrossEntropy{}, s.adam); },
       bind_to_another_network},
      {"backward: NaN in X", "is nan",
       [](N& net, Setup& s) {
         Matrix x = s.x;
         x(0, 0) = nan;
         net.backward(x, s.y, SoftmaxCrossEntropy{});
       }},
      {"step: an optimizer bound to another network", "holds state of shape 3x4",
       [](N& net, Setup& s) { step(s.adam, net); }, bind_to_another_network},
      {"fit: validation X of the wrong width", "validation X is 4x5",
       [](N& net, Setup& s) {
         const Matrix vx = Matrix::Ones(4, 5), vy = Matrix::Ones(4, 2) / 2;
         auto o = quiet({});
         o.validation = ValidationData<float>{vx, vy};
         fit(net, s.x, s.y, SoftmaxCrossEntropy{}, s.adam, o);
       }},
      {"fit: NaN in the validation data", "validation X holds nan at row 1, column 2",
       [](N& net, Setup& s) {
         Matrix vx = s.x.topRows(4);
         vx(1, 2) = nan;
         const Matrix vy = s.y.topRows(4);
         auto o = quiet({});
         o.validation = ValidationData<float>{vx, vy};
         fit(net, s.x, s.y, SoftmaxCrossEntropy{}, s.adam, o);
       }},
      {"fit: empty validation data", "validation X is 0x3",
       [](N& net, Setup& s) {
         const Matrix vx(0, 3), vy(0, 2);
         auto o = quiet({});
         o.validation = ValidationData<float>{vx, vy};
         fit(net, s.x, s.y, SoftmaxCrossEntropy{}, s.adam, o);
       }},
      {"fit: a target row of the caller's Y that sums to 2", "row 7 of Y sums to 2",
       [](N& net, Setup& s) {
         Matrix y = s.y;
         y(7, 0) = y(7, 1) = 1;
         fit(net, s.x, y, SoftmaxCrossEntropy{}, s.adam, quiet({.batch_size = 4}));
       }},
      {"fit: a schedule that fails in epoch 3", "gives epoch 3 a learning_rate of nan",
       [](N& net, Setup& s) {
         auto o = quiet({.epochs = 4});
         o.schedule = [](int epoch, double rate) { return epoch == 2 ? std::nan("") : rate; };
         fit(net, s.x, s.y, SoftmaxCrossEntropy{}, s.adam, o);
       }},
      {"fit: X of the wrong width", "X is 12x4",
       [](N& net, Setup& s) {
         fit(net, Matrix::Ones(12, 4), s.y, SoftmaxCrossEntropy{}, s.adam, quiet({}));
       }},
      {"fit: an optimizer bound to another network", "holds state of shape 3x4",
       [](N& net, Setup& s) { fit(net, s.x, s.y, SoftmaxCrossEntropy{}, s.adam, quiet({})); },
       bind_to_another_network},
  };
}

template <class N>
void check_every_case(const std::function<N()>& make) {
  for (const Case<N>& c : cases<N>()) {
    DYNAMIC_SECTION(c.name) {
      N net = make();
      Setup s;
      s.warm_up(net);
      if (c.prepare) c.prepare(s);
      const std::vector<std::uint8_t> before = snapshot(net, s.adam, s.x, s.y);
      std::string what;
      try {
        c.run(net, s);
      } catch (const std::exception& e) {
        what = e.what();
      }
      REQUIRE_FALSE(what.empty());
      INFO("message: " << what);
      CHECK_THAT(what, test::contains(c.message));
      CHECK(snapshot(net, s.adam, s.x, s.y) == before);
    }
  }
}

}  // namespace

TEST_CASE("A Network call that throws changes nothing", "[commit]") {
  check_every_case<Net>([] { return Net{GlorotUniform{7}}; });
}

TEST_CASE("A Sequential call that throws changes nothing", "[commit]") {
  check_every_case<Sequential<float>>(sequential);
}

TEST_CASE("A step that succeeds commits Dropout's generator and the optimizer's step", "[commit]") {
  Net net{GlorotUniform{7}};
  Setup s;
  const auto generator = net.state<1>().random.state();
  net.train_step(s.x, s.y, SoftmaxCrossEntropy{}, s.adam);
  CHECK(net.state<1>().random.state() != generator);
  CHECK(s.adam.steps() == 1);
}
