// Model and optimizer files: exact round trips, every corruption and truncation rejected with the
// network unchanged, messages that say what is wrong, and training resumed bit for bit.
#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

template <class Net>
std::vector<Eigen::Matrix<typename Net::Scalar, Dynamic, Dynamic>> parameters_of(Net& net) {
  std::vector<Eigen::Matrix<typename Net::Scalar, Dynamic, Dynamic>> p;
  net.for_each_parameter([&](std::size_t, const auto& m, const auto&) { p.emplace_back(m); });
  return p;
}

using Small = Network<double, Dense<2, 3, Tanh>, Dropout<3>, Dense<3, 1, Sigmoid, Bias::off>>;

}  // namespace

TEMPLATE_TEST_CASE("Save then load predicts bit for bit", "[model]", float, double) {
  using S = TestType;
  using Matrix = Eigen::Matrix<S, Dynamic, Dynamic>;
  test::TempDir dir;
  const Matrix x = Matrix::Random(6, 5);

  Network<S, Dense<5, 7, ReLU>, Dropout<7, std::ratio<1, 10>>, Dense<7, 3, Softmax>> a{HeNormal{3}};
  a.template parameters<0>().b.setRandom();
  save_model(a, dir / "net.bpm");
  decltype(a) b;
  load_model(b, dir / "net.bpm");
  CHECK(a.predict(x) == b.predict(x));
  CHECK(b.template settings<1>().rate == 0.1);

  // The same file rebuilt as a Sequential, saved again, and loaded once more.
  Sequential<S> c = load_sequential<S>(dir / "net.bpm");
  CHECK(c.predict(x) == a.predict(x));
  CHECK(c.layer(1).kind == "dropout");
  save_model(c, dir / "again.bpm");
  CHECK(test::read_bytes(dir / "again.bpm") == test::read_bytes(dir / "net.bpm"));
  Sequential<S> d(5);
  d.add_dense(7, "relu").add_dropout(0.5).add_dense(3, "softmax");
  load_model(d, dir / "again.bpm");
  CHECK(d.predict(x) == a.predict(x));
  CHECK(d.layer(1).settings == "dropout 0.1");
}

TEST_CASE("A model file is laid out byte for byte as io/binary.hpp and io/model_file.hpp say",
          "[model]") {
  // The CRC is the one zlib and PNG use: its standard check value.
  const std::string check = "123456789";
  CHECK(io::crc32(reinterpret_cast<const std::uint8_t*>(check.data()), check.size()) ==
        0xCBF43926u);

  Network<float, Dense<1, 1, Identity, Bias::off>> net;
  net.parameters<0>().W(0, 0) = 0.5f;  // 0x3F000000
  const std::vector<std::uint8_t> bytes = io::serialize(net, ModelExtras{});
  // clang-format off
  std::vector<std::uint8_t> expected = {
      0x89, 'B', 'P', 'R', 'M', 'O', 'D', 'L',              // magic
      1, 0,                                                 // format version 1
      1,                                                    // little-endian
      4,                                                    // binary32
      0, 0, 0, 0,                                           // reserved
      102, 0, 0, 0, 0, 0, 0, 0,                             // the file's size: 24 + 74 + 4
      1, 0, 0, 0,                                           // one layer:
      5, 0, 0, 0, 'd', 'e', 'n', 's', 'e',                  //   "dense"
      1, 0, 0, 0, 0, 0, 0, 0,                               //   1 input
      1, 0, 0, 0, 0, 0, 0, 0,                               //   1 output
      8, 0, 0, 0, 'i', 'd', 'e', 'n', 't', 'i', 't', 'y',   //   "identity"
      0,                                                    //   no bias
      1, 0, 0, 0,                                           // one parameter matrix:
      1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,       //   1x1
      0x00, 0x00, 0x00, 0x3F,                               //   0.5f
      0, 0, 0, 0,                                           // no texts
      0, 0, 0, 0};                                          // no arrays
  // clang-format on
  const std::uint32_t crc = io::crc32(expected.data(), expected.size());
  for (int i = 0; i < 4; ++i)
    expected.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  REQUIRE(expected.size() == 102);
  CHECK(bytes == expected);
}

TEST_CASE("A file of the other scalar type loads converted", "[model]") {
  test::TempDir dir;
  Small a{GlorotUniform{1}};
  save_model(a, dir / "double.bpm");
  Network<float, Dense<2, 3, Tanh>, Dropout<3>, Dense<3, 1, Sigmoid, Bias::off>> b;
  load_model(b, dir / "double.bpm");
  CHECK(b.parameters<0>().W == a.parameters<0>().W.cast<float>());
}

TEST_CASE("Every single-byte corruption and every truncation is rejected, the network unchanged",
          "[model]") {
  test::TempDir dir;
  Small original{GlorotUniform{1}};
  original.parameters<0>().b.setRandom();
  save_model(original, dir / "small.bpm");
  const std::vector<std::uint8_t> bytes = test::read_bytes(dir / "small.bpm");
  REQUIRE(bytes.size() > 200);

  Small target{GlorotUniform{2}};
  const auto before = parameters_of(target);
  const auto rate = target.settings<1>().rate;
  auto rejected = [&](const std::vector<std::uint8_t>& file) {
    try {
      io::apply(io::parse<double>(file, "small.bpm"), target, "small.bpm");
      return false;
    } catch (const FormatError&) {
      return true;
    }
  };

  std::size_t accepted = 0;
  for (std::size_t at = 0; at < bytes.size(); ++at)
    for (int flip = 1; flip < 256; ++flip) {
      auto corrupted = bytes;
      corrupted[at] = static_cast<std::uint8_t>(corrupted[at] ^ flip);
      if (!rejected(corrupted)) ++accepted;
    }
  CHECK(accepted == 0);
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK(rejected(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(n))));
  CHECK(parameters_of(target) == before);
  CHECK(target.settings<1>().rate == rate);

  // The intact file loads.
  CHECK_FALSE(rejected(bytes));
  CHECK(parameters_of(target) == parameters_of(original));
}

TEST_CASE("Model file errors say what is wrong", "[model]") {
  test::TempDir dir;
  Small small{GlorotUniform{1}};
  save_model(small, dir / "small.bpm");
  auto bytes = test::read_bytes(dir / "small.bpm");

  test::write_bytes(dir / "cut.bpm", {bytes.begin(), bytes.begin() + 100});
  test::check_throws<FormatError>([&] { load_model(small, dir / "cut.bpm"); },
                                  {"cut.bpm", "truncated at byte 100"});
  auto flipped = bytes;
  flipped[150] ^= 0x10;
  test::write_bytes(dir / "flipped.bpm", flipped);
  test::check_throws<FormatError>([&] { load_model(small, dir / "flipped.bpm"); },
                                  {"flipped.bpm", "checksum mismatch"});
  test::check_throws<FormatError>([&] { load_model(small, dir.write("text.bpm", "hello, world")); },
                                  {"not a backprop model file"});
  test::check_throws<FileError>([&] { load_model(small, dir / "missing.bpm"); },
                                {"missing.bpm", "cannot open"});

  // An architecture that differs: the layer and both descriptions.
  Network<double, Dense<2, 4, Tanh>, Dropout<4>, Dense<4, 1, Sigmoid, Bias::off>> wider;
  test::check_throws<FormatError>(
      [&] { load_model(wider, dir / "small.bpm"); },
      {"layer 0 is 2->3 tanh in the file but 2->4 tanh in the network"});
  Network<double, Dense<2, 3, Tanh>, Dropout<3>, Dense<3, 1, ReLU, Bias::off>> relu;
  test::check_throws<FormatError>([&] { load_model(relu, dir / "small.bpm"); },
                                  {"layer 2 is 3->1 sigmoid without bias in the file",
                                   "3->1 relu without bias in the network"});
  Network<double, Dense<2, 1, Tanh>> shallow;
  test::check_throws<FormatError>([&] { load_model(shallow, dir / "small.bpm"); },
                                  {"3 layers but the network has 1"});

  // An activation this build cannot name.
  Network<float, Dense<2, 2, LeakyReLU<std::ratio<1, 5>>>, Dense<2, 1, Identity>> leaky{
      GlorotUniform{4}};
  save_model(leaky, dir / "leaky.bpm");
  test::check_throws<FormatError>([&] { load_sequential<float>(dir / "leaky.bpm"); },
                                  {"unknown activation \"leaky_relu(1/5)\"", "known: sigmoid",
                                   "load_sequential<Scalar, "
                                   "WithActivations<LeakyReLU<std::ratio<1, 5>>>>(path)"});
  // ...but a Network of that type loads its own file, and a list that names it loads it too.
  decltype(leaky) same_type;
  load_model(same_type, dir / "leaky.bpm");
  using Mine = ActivationList<LeakyReLU<std::ratio<1, 5>>, Identity>;
  const auto rebuilt = load_sequential<float, Mine>(dir / "leaky.bpm");
  const Eigen::MatrixXf rows = Eigen::MatrixXf::Random(3, 2);
  CHECK(rebuilt.predict(rows) == leaky.predict(rows));
  CHECK(load_sequential<float, WithActivations<LeakyReLU<std::ratio<1, 5>>>>(dir / "leaky.bpm")
            .predict(rows) == leaky.predict(rows));
  CHECK(same_type.predict(rows) == leaky.predict(rows));
  // An optimizer file is not a model file.
  save_optimizer(Adam<double>(), dir / "adam.bpo");
  test::check_throws<FormatError>([&] { load_model(small, dir / "adam.bpo"); },
                                  {"not of kind MODL"});
  // Saving into a directory that does not exist leaves nothing behind.
  test::check_throws<FileError>([&] { save_model(small, dir / "no" / "such.bpm"); },
                                {"cannot open"});
}

TEST_CASE("Extras travel with the model: column names and scalers", "[model]") {
  test::TempDir dir;
  Small net;
  ModelExtras extras;
  extras.texts["inputs"] = "hours studied,hours slept";
  extras.arrays["inputs.scale"] = Eigen::RowVector2d(3, 9);
  save_model(net, dir / "m.bpm", extras);
  ModelExtras back;
  load_model(net, dir / "m.bpm", &back);
  CHECK(back.texts == extras.texts);
  CHECK(back.arrays.at("inputs.scale") == extras.arrays.at("inputs.scale"));
}

TEST_CASE(
    "Optimizer state round-trips: resumed training matches uninterrupted training bit for bit",
    "[model][optimizer]") {
  test::TempDir dir;
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(120, 4);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(120, 3);
  for (Index r = 0; r < 120; ++r)
    y(r, (x(r, 0) > 0) + (x(r, 1) > 0)) = 1;
  auto make = [] {
    Sequential<float> net(4);
    net.add_dense(16, "relu").add_dropout(0.25, 9).add_dense(3, "softmax");
    net.initialize(HeNormal{5});
    return net;
  };
  FitOptions<float> options{.epochs = 6,
                            .batch_size = 16,
                            .seed = 3,
                            .validation_split = 0.2,
                            .schedule = CosineDecay(6),
                            .verbosity = Verbosity::silent};

  // Uninterrupted: six epochs.
  Sequential<float> straight = make();
  Adam<float> adam_straight({.learning_rate = 0.01f});
  const History all = fit(straight, x, y, SoftmaxCrossEntropy{}, adam_straight, options);

  // Interrupted after three, saved, and resumed by a new process (new objects) from the files.
  Sequential<float> first = make();
  Adam<float> adam_first({.learning_rate = 0.01f});
  auto first_options = options;
  first_options.epochs = 3;
  first_options.schedule = CosineDecay(6);
  fit(first, x, y, SoftmaxCrossEntropy{}, adam_first, first_options);
  save_model(first, dir / "run.bpm");
  save_optimizer(adam_first, dir / "run.bpo");

  Sequential<float> resumed = load_sequential<float>(dir / "run.bpm");
  Adam<float> adam_resumed({.learning_rate = 0.01f});
  load_optimizer(adam_resumed, dir / "run.bpo");
  CHECK(adam_resumed.steps() == adam_first.steps());
  auto resumed_options = options;
  resumed_options.initial_epoch = 3;
  const History rest = fit(resumed, x, y, SoftmaxCrossEntropy{}, adam_resumed, resumed_options);

  REQUIRE(rest.epochs.size() == 3);
  for (std::size_t e = 0; e < 3; ++e) {
    CHECK(rest.epochs[e].epoch == all.epochs[e + 3].epoch);
    CHECK(rest.epochs[e].train.loss == all.epochs[e + 3].train.loss);
    CHECK(rest.epochs[e].validation->loss == all.epochs[e + 3].validation->loss);
  }
  CHECK(parameters_of(resumed) == parameters_of(straight));
}

TEST_CASE("Optimizer files are checked like model files", "[optimizer]") {
  test::TempDir dir;
  Momentum<double> momentum({.learning_rate = 0.1});
  Eigen::Matrix2d p = Eigen::Matrix2d::Ones();
  momentum.begin_step();
  momentum.update(0, p, Eigen::Matrix2d::Constant(0.5));
  save_optimizer(momentum, dir / "m.bpo");
  Momentum<double> back({.learning_rate = 0.1});
  load_optimizer(back, dir / "m.bpo");
  CHECK(back.state()[0][0].matrix() == momentum.state()[0][0].matrix());

  Adam<double> adam;
  test::check_throws<FormatError>([&] { load_optimizer(adam, dir / "m.bpo"); },
                                  {"state of momentum, not of adam"});
  CHECK(adam.state().empty());
  auto bytes = test::read_bytes(dir / "m.bpo");
  bytes.pop_back();
  test::write_bytes(dir / "cut.bpo", bytes);
  test::check_throws<FormatError>([&] { load_optimizer(back, dir / "cut.bpo"); }, {"truncated"});
}

TEST_CASE("AdamW saves as what it is, and loads the files its 0.2 form saved as Adam's",
          "[optimizer]") {
  test::TempDir dir;
  Eigen::Matrix2d p = Eigen::Matrix2d::Ones();
  AdamW<double> adamw;
  adamw.begin_step();
  adamw.update(0, p, Eigen::Matrix2d::Constant(0.5));
  save_optimizer(adamw, dir / "w.bpo");
  const auto bytes = test::read_bytes(dir / "w.bpo");
  CHECK(std::string(bytes.begin() + 28, bytes.begin() + 33) == "adamw");  // after u32 length 5
  Adam<double> adam;
  test::check_throws<FormatError>([&] { load_optimizer(adam, dir / "w.bpo"); },
                                  {"state of adamw, not of adam"});

  // backprop 0.2's AdamW was an Adam, and its files said "adam": the moments load as they are.
  adam.begin_step();
  adam.update(0, p, Eigen::Matrix2d::Constant(0.5));
  save_optimizer(adam, dir / "old.bpo");
  AdamW<double> resumed;
  load_optimizer(resumed, dir / "old.bpo");
  CHECK(resumed.steps() == 1);
  CHECK(resumed.state()[0][1].matrix() == adam.state()[0][1].matrix());
}

namespace {
template <class... Activations, class F>
void with_each_activation(ActivationList<Activations...>, F&& f) {
  (f.template operator()<Activations>(), ...);
}
}  // namespace

TEMPLATE_TEST_CASE("Every built-in activation saves and loads", "[file]", float, double) {
  test::TempDir dir;
  const Eigen::Matrix<TestType, Dynamic, Dynamic> rows =
      Eigen::Matrix<TestType, Dynamic, Dynamic>::Random(4, 3);
  with_each_activation(BuiltinActivations{}, [&]<class A>() {
    INFO(A::name);
    Sequential<TestType> net(3);
    net.template add_dense<A>(5).template add_dense<A>(2);
    const auto path = dir / (std::string(A::name) + ".bpm");
    save_model(net, path);
    const auto loaded = load_sequential<TestType>(path);
    CHECK(loaded.predict(rows) == net.predict(rows));
    Network<TestType, Dense<3, 5, A>, Dense<5, 2, A>> typed;
    load_model(typed, path);
    CHECK(typed.predict(rows) == net.predict(rows));
  });
}
