// ONNX in and out (backprop::onnx): the cases PyTorch exported (tests/onnx/cases, made by
// tests/onnx/make_cases.py), the round trip through save_onnx, and every refusal, each with the
// message that names the node and the proof that nothing was built or written.
#include <filesystem>
#include <fstream>
#include <string>

#include <backprop/backprop.hpp>
#include <backprop/onnx/onnx.hpp>

#include "catch.hpp"
#include "onnx/case.hpp"
#include "temp_dir.hpp"

using namespace backprop;
using Catch::Matchers::Contains;

namespace {

std::filesystem::path cases_dir() {
  return std::filesystem::path(BACKPROP_TEST_SOURCE_DIR) / "onnx" / "cases";
}

// ---- models made here, node by node ----

struct Model {
  ::onnx::ModelProto proto;
  ::onnx::GraphProto& graph() { return *proto.mutable_graph(); }

  explicit Model(std::int64_t opset = 13, const std::vector<std::int64_t>& dims = {4}) {
    proto.set_ir_version(8);
    auto& o = *proto.add_opset_import();
    o.set_domain("");
    o.set_version(opset);
    input("x", dims);
  }
  void input(const std::string& name, const std::vector<std::int64_t>& dims) {
    auto& v = *graph().add_input();
    v.set_name(name);
    auto& t = *v.mutable_type()->mutable_tensor_type();
    t.set_elem_type(::onnx::TensorProto::FLOAT);
    t.mutable_shape()->add_dim()->set_dim_param("batch");
    for (auto d : dims)
      t.mutable_shape()->add_dim()->set_dim_value(d);
  }
  ::onnx::TensorProto& tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                              const std::vector<float>& values) {
    auto& t = *graph().add_initializer();
    t.set_name(name);
    t.set_data_type(::onnx::TensorProto::FLOAT);
    for (auto d : dims)
      t.add_dims(d);
    for (float v : values)
      t.add_float_data(v);
    return t;
  }
  ::onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& in,
                          const std::string& out) {
    auto& n = *graph().add_node();
    n.set_op_type(op);
    n.set_name(op + "_" + out);
    for (const auto& i : in)
      n.add_input(i);
    n.add_output(out);
    return n;
  }
  void output(const std::string& name) { graph().add_output()->set_name(name); }
  // A Gemm of in -> out, weights 0.1 * (i + 1), biases 0.
  void gemm(const std::string& from, const std::string& to, std::int64_t in, std::int64_t out) {
    std::vector<float> w(static_cast<std::size_t>(in * out));
    for (std::size_t i = 0; i < w.size(); ++i)
      w[i] = 0.1f * float(i + 1);
    tensor(to + ".W", {out, in}, w);
    auto& n = node("Gemm", {from, to + ".W"}, to);
    auto& a = *n.add_attribute();
    a.set_name("transB");
    a.set_type(::onnx::AttributeProto::INT);
    a.set_i(1);
  }
  std::filesystem::path save(const test::TempDir& dir,
                             const std::string& name = "model.onnx") const {
    auto path = dir / name;
    std::ofstream f(path, std::ios::binary);
    proto.SerializeToOstream(&f);
    return path;
  }
};

void ints(::onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
  auto& a = *n.add_attribute();
  a.set_name(name);
  a.set_type(::onnx::AttributeProto::INTS);
  for (auto x : v)
    a.add_ints(x);
}

// load_onnx refuses the file with a FormatError whose message has every one of `parts`.
void refused(const std::filesystem::path& path, std::initializer_list<std::string> parts) {
  try {
    (void)load_onnx<float>(path);
    FAIL("load_onnx accepted " << path);
  } catch (const FormatError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK_THAT(what, Contains(path.string()));
    for (const auto& part : parts)
      CHECK_THAT(what, Contains(part));
  }
}

}  // namespace

TEST_CASE("Models exported by PyTorch predict what PyTorch predicted", "[onnx]") {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(cases_dir())) {
    const auto& dir = entry.path();
    INFO(dir.filename().string());
    const Eigen::MatrixXd x = test::onnx_case::read_batch(dir / "test_data_set_0" / "input_0.pb");
    const Eigen::MatrixXd want =
        test::onnx_case::read_batch(dir / "test_data_set_0" / "output_0.pb");
    const auto f = load_onnx<float>(dir / "model.onnx");
    const auto d = load_onnx<double>(dir / "model.onnx");
    const Eigen::MatrixXd from_float = f.predict(x.cast<float>()).cast<double>();
    CHECK(test::onnx_case::excess(from_float, want, 1e-5, 1e-6) <= 0);
    CHECK(test::onnx_case::excess(d.predict(x), want, 1e-5, 1e-6) <= 0);
    ++count;
  }
  CHECK(count >= 12);
}

TEST_CASE("save_onnx writes what load_onnx reads back to the bit", "[onnx]") {
  test::TempDir dir;
  for (const auto& entry : std::filesystem::directory_iterator(cases_dir())) {
    INFO(entry.path().filename().string());
    const auto net = load_onnx<float>(entry.path() / "model.onnx");
    save_onnx(net, dir / "again.onnx");
    const auto again = load_onnx<float>(dir / "again.onnx");
    const Eigen::MatrixXf x =
        test::onnx_case::read_batch(entry.path() / "test_data_set_0" / "input_0.pb").cast<float>();
    CHECK(again.depth() == net.depth());
    CHECK(again.predict(x) == net.predict(x));
  }
}

TEST_CASE("A compile-time Network exports as its Sequential twin", "[onnx]") {
  using Net =
      Network<double, Input<1, 6, 6>, Conv<3, Window{3, 3}, ReLU, Stride{1, 1}, Padding{1, 1}>,
              BatchNorm, MaxPool<Window{2, 2}>, Dense<Dynamic, 4, Tanh>,
              Dropout<Dynamic, std::ratio<1, 4>>, Dense<Dynamic, 2, Softmax>>;
  Net net{HeNormal{3}};
  test::TempDir dir;
  save_onnx(net, dir / "net.onnx");
  const auto loaded = load_onnx<double>(dir / "net.onnx");
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(3, 36);
  CHECK(loaded.depth() == net.depth() - 1);  // without its Dropout
  CHECK((loaded.predict(x) - net.predict(x)).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("A Pad of zeros in front of a Conv becomes the Conv's padding", "[onnx]") {
  Model m(13, {1, 4, 4});
  m.tensor("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1}).set_data_type(::onnx::TensorProto::FLOAT);
  // Pad takes int64 pads: rewrite them as such.
  auto& pads = *m.graph().mutable_initializer(0);
  pads.clear_float_data();
  pads.set_data_type(::onnx::TensorProto::INT64);
  for (std::int64_t v : {0, 0, 1, 1, 0, 0, 1, 1})
    pads.add_int64_data(v);
  m.node("Pad", {"x", "pads"}, "padded");
  m.tensor("W", {2, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -9});
  m.node("Conv", {"padded", "W"}, "y");
  m.output("y");
  test::TempDir dir;
  const auto net = load_onnx<double>(m.save(dir));
  Sequential<double> twin(Shape{1, 4, 4});
  twin.add_conv2d<Identity>(2, {3, 3}, {1, 1}, {1, 1}, Bias::off);
  twin.for_each_parameter([&](std::size_t, auto& p, const auto&) {
    net.for_each_parameter([&](std::size_t, const auto& q, const auto&) { p = q; });
  });
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(2, 16);
  CHECK(net.predict(x) == twin.predict(x));
  CHECK(net.layer(0).settings == twin.layer(0).settings);
}

TEST_CASE("A convolution that pads one side more than the other gets a Pad2D in front", "[onnx]") {
  Model m(13, {1, 5, 5});
  m.tensor("W", {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  ints(m.node("Conv", {"x", "W"}, "y"), "pads", {1, 2, 0, 0});
  m.output("y");
  test::TempDir dir;
  const auto net = load_onnx<double>(m.save(dir));
  REQUIRE(net.depth() == 2);
  CHECK(net.layer(0).kind == "pad2d");
  Sequential<double> twin(Shape{1, 5, 5});
  twin.add_pad2d(1, 2, 0, 0).add_conv2d<Identity>(1, {3, 3}, {1, 1}, {0, 0}, Bias::off);
  twin.for_each_parameter([&](std::size_t, auto& p, const auto&) {
    net.for_each_parameter([&](std::size_t, const auto& q, const auto&) { p = q; });
  });
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(2, 25);
  CHECK(net.predict(x) == twin.predict(x));
  // And back out: a Pad node, then the Conv.
  save_onnx(net, dir / "again.onnx");
  CHECK(load_onnx<double>(dir / "again.onnx").predict(x) == net.predict(x));
}

TEST_CASE("load_onnx names the node, its op and the opset of what it does not support", "[onnx]") {
  test::TempDir dir;
  SECTION("an op outside the subset") {
    Model m;
    m.gemm("x", "h", 4, 3);
    m.node("Erf", {"h"}, "y");
    m.output("y");
    refused(m.save(dir),
            {"node 1 'Erf_y' (Erf, opset 13)", "not supported", "backprop reads Gemm"});
  }
  SECTION("an opset outside 9 to 18") {
    for (std::int64_t opset : {8, 19}) {
      Model m(opset);
      m.gemm("x", "y", 4, 3);
      m.output("y");
      refused(m.save(dir), {"opset " + std::to_string(opset), "opsets 9 to 18"});
    }
  }
  SECTION("a second input") {
    Model m;
    m.input("z", {4});
    m.gemm("x", "y", 4, 3);
    m.output("y");
    refused(m.save(dir), {"second input, 'z'"});
  }
  SECTION("a branch: a residual sum of two values of the graph") {
    Model m;
    m.gemm("x", "h", 4, 4);
    m.node("Relu", {"h"}, "r");
    m.node("Add", {"r", "x"}, "y");
    m.output("y");
    refused(m.save(dir), {"node 2", "(Add, opset 13)", "one chain of layers"});
  }
  SECTION("a weight computed by the graph") {
    Model m;
    m.tensor("w0", {3, 4}, std::vector<float>(12, 0.5f));
    m.node("Relu", {"w0"}, "w");
    m.node("Gemm", {"x", "w"}, "y");
    m.output("y");
    refused(m.save(dir), {"node 0", "(Relu, opset 13)"});
  }
  SECTION("a node without an output (found by the fuzzer: Shape's was read regardless)") {
    Model m;
    m.graph().add_node()->set_op_type("Shape");
    m.graph().mutable_node(0)->add_input("x");
    m.gemm("x", "y", 4, 3);
    m.output("y");
    refused(m.save(dir), {"node 0 (Shape, opset 13)", "it has no output"});
  }
  SECTION("an activation with nothing to attach to") {
    Model m;
    m.node("Relu", {"x"}, "y");
    m.output("y");
    refused(m.save(dir), {"node 0", "(Relu, opset 13)", "follows the input"});
  }
  SECTION("an average over padding that leaves the padding out") {
    Model m(13, {1, 5, 5});
    auto& pool = m.node("AveragePool", {"x"}, "p");
    ints(pool, "kernel_shape", {3, 3});
    ints(pool, "pads", {1, 1, 1, 1});
    m.node("Flatten", {"p"}, "f");
    m.gemm("f", "y", 25, 2);
    m.output("y");
    refused(m.save(dir), {"(AveragePool, opset 13)", "count_include_pad 0"});
  }
  SECTION("a LeakyRelu of another slope, a transposed input") {
    Model m;
    m.gemm("x", "h", 4, 3);
    auto& n = m.node("LeakyRelu", {"h"}, "y");
    auto& a = *n.add_attribute();
    a.set_name("alpha");
    a.set_type(::onnx::AttributeProto::FLOAT);
    a.set_f(0.2f);
    m.output("y");
    refused(m.save(dir), {"(LeakyRelu, opset 13)", "alpha 0.2"});
    auto& gemm = *m.graph().mutable_node(0);
    auto& t = *gemm.add_attribute();
    t.set_name("transA");
    t.set_type(::onnx::AttributeProto::INT);
    t.set_i(1);
    refused(m.save(dir), {"(Gemm, opset 13)", "transA must be 0"});
  }
  SECTION("an input of three dimensions") {
    Model m(13, {4, 4});
    m.gemm("x", "y", 4, 3);
    m.output("y");
    refused(m.save(dir), {"input 'x' has 3 dimensions"});
  }
  SECTION("a Gemm whose weight does not take the width before it") {
    Model m;
    m.gemm("x", "y", 5, 3);
    m.output("y");
    refused(m.save(dir), {"(Gemm, opset 13)", "takes 5 inputs, but the layer before gives 4"});
  }
}

TEST_CASE("load_onnx refuses hostile tensors before it allocates what they claim",
          "[onnx][hostile]") {
  test::TempDir dir;
  SECTION("values stored as external data, wherever they point") {
    for (const std::string location : {"weights.bin", "../../etc/passwd", "/etc/passwd"}) {
      Model m;
      m.gemm("x", "y", 4, 3);
      m.output("y");
      auto& w = *m.graph().mutable_initializer(0);
      w.clear_float_data();
      w.set_data_location(::onnx::TensorProto::EXTERNAL);
      auto& entry = *w.add_external_data();
      entry.set_key("location");
      entry.set_value(location);
      std::ofstream(dir / "weights.bin") << std::string(48, '\0');
      refused(m.save(dir), {"initializer 'y.W'", "external data", "opens no file a model names"});
    }
  }
  SECTION("dimensions whose product overflows") {
    Model m;
    m.gemm("x", "y", 4, 3);
    m.output("y");
    auto& w = *m.graph().mutable_initializer(0);
    w.clear_dims();
    w.add_dims(std::int64_t(1) << 40);
    w.add_dims(std::int64_t(1) << 40);
    refused(m.save(dir), {"initializer 'y.W'", "more than 2^31 values"});
    w.set_dims(0, -3);
    refused(m.save(dir), {"initializer 'y.W'", "negative"});
  }
  SECTION("raw data of another size than the dimensions say") {
    Model m;
    m.gemm("x", "y", 4, 3);
    m.output("y");
    auto& w = *m.graph().mutable_initializer(0);
    w.clear_float_data();
    w.set_raw_data(std::string(44, '\0'));
    refused(m.save(dir), {"initializer 'y.W'", "claim 12 values", "44 bytes of raw data"});
  }
  SECTION("a weight that is not finite") {
    Model m;
    m.gemm("x", "y", 4, 3);
    m.output("y");
    m.graph().mutable_initializer(0)->set_float_data(5, std::numeric_limits<float>::quiet_NaN());
    refused(m.save(dir), {"(Gemm, opset 13)", "weight (B) ('y.W'): value 5 is not finite"});
  }
  SECTION("a 2 GB field in a file of 100 bytes") {
    // ModelProto field 7 (graph), length-delimited, claiming 2^31 - 1 bytes.
    std::string bytes = "\x3a\xff\xff\xff\xff\x07";
    bytes += std::string(94, 'x');
    const auto path = dir / "claim.onnx";
    std::ofstream(path, std::ios::binary) << bytes;
    refused(path, {"not an ONNX model"});
  }
  SECTION("messages nested past any graph's depth") {
    Model m;
    m.gemm("x", "y", 4, 3);
    m.output("y");
    // An attribute holding a graph holding a node with an attribute holding a graph, ... 40 deep.
    ::onnx::NodeProto* n = m.graph().mutable_node(0);
    for (int depth = 0; depth < 40; ++depth) {
      auto& a = *n->add_attribute();
      a.set_name("body");
      a.set_type(::onnx::AttributeProto::GRAPH);
      n = a.mutable_g()->add_node();
    }
    refused(m.save(dir), {"nested deeper than 32"});
  }
  SECTION("every truncation of a real model") {
    const auto bytes = io::read_file(cases_dir() / "cnn" / "model.onnx");
    const auto path = dir / "cut.onnx";
    for (std::size_t size = 0; size < bytes.size(); size += 1 + size / 16) {
      INFO("the first " << size << " bytes");
      io::write_file(
          path, std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(size)));
      CHECK_THROWS_AS(load_onnx<float>(path), FormatError);
    }
  }
  SECTION("a file that is not there, a directory") {
    CHECK_THROWS_AS(load_onnx<float>(dir / "missing.onnx"), FileError);
    CHECK_THROWS_AS(load_onnx<float>(dir / ""), FileError);
  }
}

namespace mine {
// a = 2 tanh(z): no ONNX operator is it.
struct TwiceTanh : Elementwise<TwiceTanh> {
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

TEST_CASE("save_onnx refuses what ONNX cannot say and leaves the file as it was", "[onnx]") {
  test::TempDir dir;
  const auto path = dir / "kept.onnx";
  std::ofstream(path) << "the old file";
  Sequential<float> net(3);
  net.add_dense(4, mine::TwiceTanh{}).add_dense<Sigmoid>(1);
  try {
    save_onnx(net, path);
    FAIL("save_onnx wrote an activation ONNX has no operator for");
  } catch (const ArgumentError& e) {
    CHECK_THAT(std::string(e.what()), Contains("layer 0") && Contains("\"twice_tanh\""));
  }
  CHECK(io::read_file(path).size() == std::string("the old file").size());
}
