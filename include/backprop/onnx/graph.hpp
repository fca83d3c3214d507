// An ONNX graph read as a chain of backprop layers: a Plan, made of the steps that
// Sequential's builders take, with their weights as doubles. Reading checks everything (the
// opset, each node's op and attributes, every weight's shape) before load_onnx builds anything.
//
// The graph must be one chain from its one input to its one output: each node reads the output
// of the node before it, plus constants. Some nodes fold into the layer before or after them:
//   Gemm | MatMul [+ Add]  -> Dense, and the activation node after it becomes its activation
//   Conv [after a Pad]     -> Conv2D, the same (padding that differs between sides: a Pad2D first)
//   Pad                    -> Pad2D; MaxPool, AveragePool with pads or ceil_mode -> Pad2D, pool
//   Sub, Mul, Div, Add of a constant -> Rescale (runs of them compose into one)
//   Flatten, Reshape to (batch, -1), and the Shape-Gather-Unsqueeze-Concat chain that
//   x.view(x.size(0), -1) exports -> nothing: backprop's rows are already NCHW flattened
//   Identity, Dropout (inference) -> nothing
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <onnx/onnx_pb.h>

#include "../config.hpp"
#include "../layers/conv2d.hpp"
#include "../layers/pad2d.hpp"
#include "../layers/pool2d.hpp"
#include "../shape.hpp"
#include "tensor.hpp"

namespace backprop::detail::onnx_in {

inline constexpr std::int64_t min_opset = 9, max_opset = 18;

/// Dense: W (in, out) column-major, b (out) if any.
struct DenseStep {
  Index in = 0, out = 0;
  std::vector<double> W, b;
  bool bias = false;
  std::string activation = "identity";
};
/// Conv2D: W (K, filters) column-major, K = cin*kh*kw, b (filters) if any.
struct ConvStep {
  Index filters = 0;
  Window kernel, stride, padding;
  std::vector<double> W, b;
  bool bias = false;
  std::string activation = "identity";
};
/// Rows and columns added on each side of an image.
struct Sides {
  Index top = 0, left = 0, bottom = 0, right = 0;
  bool none() const { return top == 0 && left == 0 && bottom == 0 && right == 0; }
  bool symmetric() const { return top == bottom && left == right; }
  Sides operator+(const Sides& o) const {
    return {top + o.top, left + o.left, bottom + o.bottom, right + o.right};
  }
};
/// Pad2D: a border of settings.value (0, or -infinity before a max pool).
struct PadStep {
  Pad2DSettings settings;  ///< its input shape, sides and border
};
struct PoolStep {
  bool max = true;
  Window window, stride;
};
struct GlobalPoolStep {};
struct BatchNormStep {
  double momentum = 0.1, epsilon = 1e-5;  // backprop's momentum: 1 - ONNX's
  std::vector<double> gamma, beta, mean, variance;
};
/// x' = x * scale + offset, per column of the flattened row.
struct RescaleStep {
  std::vector<double> scale, offset;
};
using Step = std::variant<DenseStep, ConvStep, PadStep, PoolStep, GlobalPoolStep, BatchNormStep,
                          RescaleStep>;

/// The shortest decimal that reads back as f, as a double: what a float attribute was meant to be.
inline double decimal(float f) {
  char text[32];
  const auto written = std::to_chars(text, text + sizeof text, f);
  double d = f;
  std::from_chars(text, written.ptr, d);
  return d;
}

/// What load_onnx builds: the input shape (flat inputs: {n, 1, 1}) and the steps in order.
struct Plan {
  Shape input;
  bool image = false;  ///< the graph's input is (batch, channels, height, width)
  std::vector<Step> steps;
};

/// Reads `model` (from `file`, for errors) as a Plan, or throws a FormatError that names the file,
/// the node (its index, name, op type and the opset) and what is supported.
class PlanReader {
 public:
  PlanReader(const ::onnx::ModelProto& model, std::string file)
      : model_(model), file_(std::move(file)) {}

  Plan read() {
    read_opset();
    const auto& graph = model_.graph();
    for (const auto& t : graph.initializer())
      constants_[t.name()] = read_constant(t, file_ + ": initializer '" + t.name() + "'");
    if (graph.sparse_initializer_size() > 0)
      throw FormatError(file_ + ": sparse initializers are not supported");
    read_input();
    for (int i = 0; i < graph.node_size(); ++i) {
      index_ = i;
      read_node(graph.node(i));
    }
    if (graph.output_size() != 1)
      throw FormatError(file_ + ": the graph has " + std::to_string(graph.output_size()) +
                        " outputs; backprop runs graphs of one output");
    if (graph.output(0).name() != current_)
      throw FormatError(file_ + ": the graph's output '" + graph.output(0).name() +
                        "' is not the end of its chain of layers ('" + current_ + "')");
    if (plan_.steps.empty()) throw FormatError(file_ + ": the graph has no layer");
    return std::move(plan_);
  }

 private:
  // ---- the model and its input ----

  void read_opset() {
    bool found = false;
    for (const auto& o : model_.opset_import()) {
      if (o.domain().empty() || o.domain() == "ai.onnx") {
        opset_ = o.version();
        found = true;
      }
    }
    if (!found) throw FormatError(file_ + ": the model imports no opset of the default domain");
    if (opset_ < min_opset || opset_ > max_opset)
      throw FormatError(file_ + ": opset " + std::to_string(opset_) +
                        " is not supported; backprop reads opsets " + std::to_string(min_opset) +
                        " to " + std::to_string(max_opset));
  }

  void read_input() {
    const auto& graph = model_.graph();
    const ::onnx::ValueInfoProto* input = nullptr;
    for (const auto& v : graph.input()) {
      if (constants_.count(v.name())) continue;  // IR 3 lists initializers as inputs too
      if (input)
        throw FormatError(file_ + ": the graph has a second input, '" + v.name() +
                          "'; backprop runs graphs of one input");
      input = &v;
    }
    if (!input) throw FormatError(file_ + ": the graph has no input");
    const std::string where = file_ + ": input '" + input->name() + "'";
    if (!input->type().has_tensor_type()) throw FormatError(where + " is not a tensor");
    const auto& type = input->type().tensor_type();
    if (type.elem_type() != ::onnx::TensorProto::FLOAT &&
        type.elem_type() != ::onnx::TensorProto::DOUBLE)
      throw FormatError(where + " is of type " + type_name(type.elem_type()) +
                        "; backprop reads float or double inputs");
    const auto& dims = type.shape().dim();
    if (dims.size() != 2 && dims.size() != 4)
      throw FormatError(where + " has " + std::to_string(dims.size()) +
                        " dimensions; backprop reads (batch, features) or (batch, channels, "
                        "height, width)");
    std::vector<Index> sizes;
    for (int d = 1; d < dims.size(); ++d) {
      if (!dims[d].has_dim_value() || dims[d].dim_value() < 1 || dims[d].dim_value() > max_values)
        throw FormatError(where + ": dimension " + std::to_string(d) +
                          " must be a fixed positive size (only the batch may be free)");
      sizes.push_back(static_cast<Index>(dims[d].dim_value()));
    }
    if (dims[0].has_dim_value()) batch_ = dims[0].dim_value();
    plan_.image = dims.size() == 4;
    plan_.input = plan_.image ? Shape{sizes[0], sizes[1], sizes[2]} : Shape{sizes[0], 1, 1};
    if (!detail::size_within(plan_.input, max_values))
      throw FormatError(where + ": a row of " + plan_.input.string() + " values is beyond 2^31");
    shape_ = plan_.input;
    image_ = plan_.image;
    current_ = input->name();
  }

  // ---- nodes ----

  std::string where(const ::onnx::NodeProto& n) const {
    return file_ + ": node " + std::to_string(index_) +
           (n.name().empty() ? std::string() : " '" + n.name() + "'") + " (" + n.op_type() +
           ", opset " + std::to_string(opset_) + ")";
  }
  [[noreturn]] void fail(const ::onnx::NodeProto& n, const std::string& what) const {
    throw FormatError(where(n) + ": " + what);
  }

  static constexpr std::string_view supported =
      "backprop reads Gemm, MatMul and Add, Conv, MaxPool, AveragePool, GlobalAveragePool, "
      "BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax, "
      "Identity, Dropout, "
      "Flatten, Reshape, Pad, Sub, Mul, Div and Add of constants, Constant, and the "
      "Shape-Gather-Unsqueeze-Concat chain of a flatten";

  void read_node(const ::onnx::NodeProto& n) {
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      fail(n, "the domain '" + n.domain() + "' is not supported; " + std::string(supported));
    // Every op read here writes its result to output 0, which the handlers read without asking.
    if (n.output_size() < 1 || n.output(0).empty()) fail(n, "it has no output");
    const std::string& op = n.op_type();
    if (op == "Constant") return constant(n);
    if (op == "Shape") return shape_of(n);
    if (op == "Gather" || op == "Unsqueeze" || op == "Concat") return shape_arithmetic(n);
    if (op == "Reshape") return reshape(n);
    if (op == "Flatten") return flatten(n);
    if (op == "Identity") return identity(n);
    if (op == "Dropout") return dropout(n);
    if (op == "Gemm") return gemm(n);
    if (op == "MatMul") return matmul(n);
    if (op == "Add" && bias_open_) return bias(n);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return rescale(n);
    if (op == "Conv") return conv(n);
    if (op == "Pad") return pad(n);
    if (op == "MaxPool" || op == "AveragePool") return pool(n);
    if (op == "GlobalAveragePool") return global_pool(n);
    if (op == "BatchNormalization") return batch_norm(n);
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "Softplus" || op == "LeakyRelu" ||
        op == "Softmax" || op == "LogSoftmax")
      return activation(n);
    fail(n, "this op is not supported; " + std::string(supported));
  }

  // The node's input i, which must be the chain's current value.
  void expect_current(const ::onnx::NodeProto& n, int i = 0) const {
    if (n.input_size() <= i || n.input(i) != current_) {
      const std::string name = n.input_size() > i ? n.input(i) : std::string();
      if (constants_.count(name) || symbols_.count(name))
        fail(n, "input " + std::to_string(i) + " ('" + name +
                    "') is a constant; backprop reads a chain in which each layer reads the "
                    "output of the one before it");
      fail(n, "input " + std::to_string(i) + " ('" + name +
                  "') is not the output of the node "
                  "before it ('" +
                  current_ +
                  "'): backprop reads one chain of layers, without "
                  "branches or second inputs");
    }
  }
  // The node's input i as a constant (an initializer or a Constant node's output).
  // Every value finite, unless `minus_infinity` allows that one (a Pad's border).
  const Constant& constant_input(const ::onnx::NodeProto& n, int i, const char* what,
                                 bool minus_infinity = false) const {
    if (n.input_size() <= i || n.input(i).empty())
      fail(n, std::string("it has no ") + what + " (input " + std::to_string(i) + ")");
    const auto found = constants_.find(n.input(i));
    if (found == constants_.end())
      fail(n, std::string("its ") + what + " ('" + n.input(i) +
                  "') is computed by the graph; backprop reads weights given as initializers "
                  "or Constant nodes");
    const Constant& c = found->second;
    for (std::size_t k = static_cast<std::size_t>(std::max<std::int64_t>(c.non_finite, 0));
         c.non_finite >= 0 && k < c.values.size(); ++k)
      if (!std::isfinite(c.values[k]) &&
          !(minus_infinity && c.values[k] == -std::numeric_limits<double>::infinity()))
        fail(n, std::string("its ") + what + " ('" + n.input(i) + "'): value " + std::to_string(k) +
                    " is not finite");
    return c;
  }
  bool has_input(const ::onnx::NodeProto& n, int i) const {
    return n.input_size() > i && !n.input(i).empty();
  }
  // The node's one output becomes the chain's current value; its other outputs must be unused.
  void advance(const ::onnx::NodeProto& n) {
    for (int i = 1; i < n.output_size(); ++i)
      if (!n.output(i).empty() && used_later(n.output(i)))
        fail(n, "its output " + std::to_string(i) + " ('" + n.output(i) +
                    "') is used; backprop gives each layer one output");
    if (n.output_size() < 1 || n.output(0).empty()) fail(n, "it has no output");
    current_ = n.output(0);
    activation_open_ = bias_open_ = false;
    rescale_open_ = pad_open_ = false;
  }
  bool used_later(const std::string& name) const {
    const auto& graph = model_.graph();
    for (int i = index_ + 1; i < graph.node_size(); ++i)
      for (const auto& in : graph.node(i).input())
        if (in == name) return true;
    for (const auto& out : graph.output())
      if (out.name() == name) return true;
    return false;
  }

  // ---- attributes ----

  const ::onnx::AttributeProto* attribute(const ::onnx::NodeProto& n, std::string_view name) const {
    for (const auto& a : n.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  // The attribute `name` of node n, if it has one, which must be of `type` (`what` names it).
  const ::onnx::AttributeProto* typed(const ::onnx::NodeProto& n, std::string_view name,
                                      ::onnx::AttributeProto::AttributeType type,
                                      const char* what) const {
    const auto* a = attribute(n, name);
    if (a && a->type() != type) fail(n, "attribute " + std::string(name) + " must be " + what);
    return a;
  }
  std::int64_t int_attribute(const ::onnx::NodeProto& n, std::string_view name,
                             std::int64_t otherwise) const {
    const auto* a = typed(n, name, ::onnx::AttributeProto::INT, "an integer");
    return a ? a->i() : otherwise;
  }
  // A float attribute as the decimal its exporter wrote: 1e-5, not float's 9.99999974738e-06.
  double float_attribute(const ::onnx::NodeProto& n, std::string_view name,
                         double otherwise) const {
    const auto* a = typed(n, name, ::onnx::AttributeProto::FLOAT, "a float");
    if (!a) return otherwise;
    if (!std::isfinite(a->f())) fail(n, "attribute " + std::string(name) + " is not finite");
    return decimal(a->f());
  }
  std::vector<std::int64_t> ints_attribute(const ::onnx::NodeProto& n, std::string_view name,
                                           std::vector<std::int64_t> otherwise) const {
    const auto* a = typed(n, name, ::onnx::AttributeProto::INTS, "a list of integers");
    if (!a) return otherwise;
    return {a->ints().begin(), a->ints().end()};
  }
  std::string string_attribute(const ::onnx::NodeProto& n, std::string_view name,
                               const std::string& otherwise) const {
    const auto* a = typed(n, name, ::onnx::AttributeProto::STRING, "a string");
    return a ? a->s() : otherwise;
  }
  // Attributes this reader does not know are refused, so that none is silently ignored.
  void only_attributes(const ::onnx::NodeProto& n,
                       std::initializer_list<std::string_view> known) const {
    for (const auto& a : n.attribute()) {
      bool ok = false;
      for (auto k : known)
        ok = ok || a.name() == k;
      if (!ok) fail(n, "attribute " + a.name() + " is not supported");
    }
  }

  // ---- constants and the shape chain ----

  void constant(const ::onnx::NodeProto& n) {
    only_attributes(n, {"value", "value_float", "value_floats", "value_int", "value_ints"});
    if (n.output_size() != 1) fail(n, "it must have one output");
    Constant c;
    if (const auto* a = attribute(n, "value"); a && a->type() == ::onnx::AttributeProto::TENSOR) {
      c = read_constant(a->t(), where(n) + ": its value");
    } else if (const auto* f = attribute(n, "value_float")) {
      c.values = {f->f()};
    } else if (const auto* fs = attribute(n, "value_floats")) {
      c.dims = {fs->floats_size()};
      c.values.assign(fs->floats().begin(), fs->floats().end());
    } else if (const auto* i = attribute(n, "value_int")) {
      c.values = {static_cast<double>(i->i())};
    } else if (const auto* is = attribute(n, "value_ints")) {
      c.dims = {is->ints_size()};
      for (auto v : is->ints())
        c.values.push_back(static_cast<double>(v));
    } else {
      fail(n, "it has no value backprop reads (a tensor, float(s) or int(s))");
    }
    for (double v : c.values)
      if (std::isnan(v) || v == std::numeric_limits<double>::infinity())
        fail(n, "its value is NaN or +infinity");
    constants_[n.output(0)] = std::move(c);
  }

  // The symbols of the flatten chain: the shape of the current value, its batch size, the batch
  // size as a 1-D tensor, and (batch, -1).
  enum class Symbol { shape, batch, batch_list, flat_shape };

  void shape_of(const ::onnx::NodeProto& n) {
    only_attributes(n, {"start", "end"});
    expect_current(n);
    if (int_attribute(n, "start", 0) != 0 || attribute(n, "end"))
      fail(n, "only the whole shape is supported (no start or end)");
    symbols_[n.output(0)] = Symbol::shape;
  }

  void shape_arithmetic(const ::onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    auto symbol = [&](int i) -> std::optional<Symbol> {
      if (n.input_size() <= i) return {};
      const auto found = symbols_.find(n.input(i));
      if (found == symbols_.end()) return {};
      return found->second;
    };
    const char* chain = "; backprop reads it only as part of x.view(x.size(0), -1)";
    if (op == "Gather") {
      only_attributes(n, {"axis"});
      const Constant& index = constant_input(n, 1, "index");
      if (symbol(0) != Symbol::shape || int_attribute(n, "axis", 0) != 0 ||
          index.values.size() != 1 || index.values[0] != 0 || index.rank() > 1)
        fail(n, std::string("it must take element 0 of a Shape") + chain);
      symbols_[n.output(0)] = index.rank() == 0 ? Symbol::batch : Symbol::batch_list;
    } else if (op == "Unsqueeze") {
      only_attributes(n, {"axes"});
      std::vector<std::int64_t> axes;
      if (opset_ >= 13) {
        const Constant& a = constant_input(n, 1, "axes");
        for (double v : a.values)
          axes.push_back(static_cast<std::int64_t>(v));
      } else {
        axes = ints_attribute(n, "axes", {});
      }
      if (symbol(0) != Symbol::batch || axes != std::vector<std::int64_t>{0})
        fail(n, std::string("it must unsqueeze the batch size at axis 0") + chain);
      symbols_[n.output(0)] = Symbol::batch_list;
    } else {  // Concat
      only_attributes(n, {"axis"});
      const bool ok = n.input_size() == 2 && symbol(0) == Symbol::batch_list &&
                      int_attribute(n, "axis", 0) == 0 && constants_.count(n.input(1)) &&
                      constants_.at(n.input(1)).values == std::vector<double>{-1};
      if (!ok) fail(n, std::string("it must join the batch size and -1") + chain);
      symbols_[n.output(0)] = Symbol::flat_shape;
    }
  }

  // Flatten and Reshape to (batch, -1) change no value of a row: only the shape it has.
  void flatten_current(const ::onnx::NodeProto& n) {
    shape_ = {shape_.size(), 1, 1};
    image_ = false;
    advance(n);
  }

  void flatten(const ::onnx::NodeProto& n) {
    only_attributes(n, {"axis"});
    expect_current(n);
    if (int_attribute(n, "axis", 1) != 1)
      fail(n, "only axis 1 is supported: (batch, ...) to (batch, features)");
    flatten_current(n);
  }

  void reshape(const ::onnx::NodeProto& n) {
    only_attributes(n, {"allowzero"});
    expect_current(n);
    if (n.input_size() != 2) fail(n, "it must have a data input and a shape input");
    if (const auto found = symbols_.find(n.input(1)); found != symbols_.end()) {
      if (found->second != Symbol::flat_shape) fail(n, "its shape must be (batch, -1)");
      return flatten_current(n);
    }
    const Constant& to = constant_input(n, 1, "shape");
    const bool zero_copies = int_attribute(n, "allowzero", 0) == 0;
    const double width = static_cast<double>(shape_.size());
    const bool two = to.rank() == 1 && to.values.size() == 2;
    const bool batch_kept = two && ((to.values[0] == 0 && zero_copies) || to.values[0] == -1 ||
                                    (batch_ && to.values[0] == double(*batch_)));
    const bool rest = two && (to.values[1] == width || (to.values[1] == -1 && to.values[0] != -1));
    if (!batch_kept || !rest)
      fail(n, "only a reshape to (batch, -1) is supported (a flatten of each row)");
    flatten_current(n);
  }

  void pass(const ::onnx::NodeProto& n) {
    expect_current(n);
    const bool keep_activation = activation_open_, keep_bias = bias_open_;
    advance(n);
    activation_open_ = keep_activation;
    bias_open_ = keep_bias;
  }

  // PyTorch names one initializer twice through an Identity (identical tensors, deduplicated).
  void identity(const ::onnx::NodeProto& n) {
    if (n.input_size() == 1 && n.output_size() == 1) {
      if (const Constant* c = find_constant(n.input(0))) {
        constants_[n.output(0)] = *c;
        return;
      }
    }
    pass(n);
  }

  void dropout(const ::onnx::NodeProto& n) {
    only_attributes(n, {"ratio", "is_test", "seed"});
    if (has_input(n, 2)) {
      const Constant& training = constant_input(n, 2, "training_mode");
      if (training.values.size() != 1 || training.values[0] != 0)
        fail(n, "training_mode must be false: backprop reads models for inference");
    }
    pass(n);  // inference: the identity
  }

  // ---- layers ----

  DenseStep* open_dense() {
    if (plan_.steps.empty()) return nullptr;
    return std::get_if<DenseStep>(&plan_.steps.back());
  }

  void need_flat(const ::onnx::NodeProto& n) const {
    if (image_)
      fail(n, "its input is an image of " + shape_.string() + "; a Flatten must come first");
  }

  // A Dense of weight B (in, out), or (out, in) transposed, times alpha: W (in, out) column-major.
  DenseStep dense_step(const ::onnx::NodeProto& n, const Constant& B, bool transposed,
                       double alpha) const {
    if (B.rank() != 2)
      fail(n, "its weight (B) must have 2 dimensions, not " + std::to_string(B.rank()));
    const Index in = static_cast<Index>(transposed ? B.dims[1] : B.dims[0]);
    const Index out = static_cast<Index>(transposed ? B.dims[0] : B.dims[1]);
    if (in != shape_.size())
      fail(n, "its weight (B) of " + std::to_string(B.dims[0]) + "x" + std::to_string(B.dims[1]) +
                  (transposed ? " (transposed)" : "") + " takes " + std::to_string(in) +
                  " inputs, but the layer before gives " + std::to_string(shape_.size()));
    if (out < 1) fail(n, "its weight (B) has no outputs");
    DenseStep d;
    d.in = in;
    d.out = out;
    d.W.resize(static_cast<std::size_t>(in * out));
    for (Index o = 0; o < out; ++o)
      for (Index i = 0; i < in; ++i)
        d.W[static_cast<std::size_t>(o * in + i)] =
            alpha * B.values[static_cast<std::size_t>(transposed ? o * in + i : i * out + o)];
    return d;
  }

  void gemm(const ::onnx::NodeProto& n) {
    only_attributes(n, {"alpha", "beta", "transA", "transB", "broadcast"});
    expect_current(n);
    need_flat(n);
    if (int_attribute(n, "transA", 0) != 0) fail(n, "transA must be 0: the input is (batch, in)");
    const std::int64_t trans_b = int_attribute(n, "transB", 0);
    if (trans_b != 0 && trans_b != 1) fail(n, "transB must be 0 or 1");
    const double alpha = float_attribute(n, "alpha", 1), beta = float_attribute(n, "beta", 1);
    DenseStep d = dense_step(n, constant_input(n, 1, "weight (B)"), trans_b != 0, alpha);
    const Index out = d.out;
    if (has_input(n, 2)) {
      const Constant& C = constant_input(n, 2, "bias (C)");
      const auto dims = C.squeezed();
      if (!(dims.empty() || (dims.size() == 1 && dims[0] == out)) || C.values.empty())
        fail(n, "its bias (C) must hold one value or " + std::to_string(out) + " (one per output)");
      d.bias = true;
      d.b.resize(static_cast<std::size_t>(out));
      for (Index o = 0; o < out; ++o)
        d.b[static_cast<std::size_t>(o)] =
            beta * C.values[C.values.size() == 1 ? 0 : static_cast<std::size_t>(o)];
    }
    shape_ = {out, 1, 1};
    plan_.steps.emplace_back(std::move(d));
    advance(n);
    activation_open_ = true;
  }

  void matmul(const ::onnx::NodeProto& n) {
    only_attributes(n, {});
    expect_current(n);
    need_flat(n);
    DenseStep d = dense_step(n, constant_input(n, 1, "weight (B)"), false, 1);
    const Index out = d.out;
    shape_ = {out, 1, 1};
    plan_.steps.emplace_back(std::move(d));
    advance(n);
    activation_open_ = bias_open_ = true;
  }

  // Add right after a MatMul: its bias, when the constant is one per output.
  void bias(const ::onnx::NodeProto& n) {
    DenseStep& d = *open_dense();
    const int data = n.input_size() == 2 && n.input(1) == current_ ? 1 : 0;
    const Constant* c = n.input_size() == 2 ? find_constant(n.input(1 - data)) : nullptr;
    const auto dims = c ? c->squeezed() : std::vector<std::int64_t>{-1};
    if (!c || !(dims.empty() || (dims.size() == 1 && dims[0] == d.out))) return rescale(n);
    expect_current(n, data);
    d.bias = true;
    d.b.resize(static_cast<std::size_t>(d.out));
    for (Index o = 0; o < d.out; ++o)
      d.b[static_cast<std::size_t>(o)] = c->values[dims.empty() ? 0 : static_cast<std::size_t>(o)];
    advance(n);
    activation_open_ = true;
  }

  const Constant* find_constant(const std::string& name) const {
    const auto found = constants_.find(name);
    return found == constants_.end() ? nullptr : &found->second;
  }

  // Sub, Mul, Div or Add of the current value and a constant that broadcasts to it.
  void rescale(const ::onnx::NodeProto& n) {
    only_attributes(n, {"broadcast", "axis"});
    if (n.input_size() != 2) fail(n, "it must have two inputs");
    const int data = n.input(0) == current_ ? 0 : 1;
    expect_current(n, data);
    if (!find_constant(n.input(1 - data)))
      fail(n, "it combines two values of the graph ('" + n.input(0) + "' and '" + n.input(1) +
                  "'), a branch; backprop reads one chain of layers, each reading the one before");
    const Constant& c = constant_input(n, 1 - data, "constant operand");
    const std::string& op = n.op_type();
    if (op == "Div" && data == 1) fail(n, "a constant divided by the data is not an affine map");
    const std::vector<double> k = broadcast(n, c);
    if (op == "Div")
      for (double v : k)
        if (v == 0) fail(n, "it divides by zero");
    if (!rescale_open_ || plan_.steps.empty() ||
        !std::holds_alternative<RescaleStep>(plan_.steps.back())) {
      const auto width = static_cast<std::size_t>(shape_.size());
      plan_.steps.emplace_back(
          RescaleStep{std::vector<double>(width, 1.0), std::vector<double>(width, 0.0)});
    }
    auto& r = std::get<RescaleStep>(plan_.steps.back());
    // (x s + o) op k, for each column.
    for (std::size_t j = 0; j < k.size(); ++j) {
      double& s = r.scale[j];
      double& o = r.offset[j];
      if (op == "Add") {
        o += k[j];
      } else if (op == "Sub") {
        if (data == 0) {
          o -= k[j];
        } else {
          s = -s;
          o = k[j] - o;
        }
      } else if (op == "Mul") {
        s *= k[j];
        o *= k[j];
      } else {
        s /= k[j];
        o /= k[j];
      }
    }
    const bool keep_shape = image_;
    const Shape shape = shape_;
    advance(n);
    image_ = keep_shape;
    shape_ = shape;
    rescale_open_ = true;
  }

  // The constant c, broadcast (numpy's rules) to one value per column of the current row.
  std::vector<double> broadcast(const ::onnx::NodeProto& n, const Constant& c) const {
    const std::vector<std::int64_t> row =
        image_ ? std::vector<std::int64_t>{1, shape_.channels, shape_.height, shape_.width}
               : std::vector<std::int64_t>{1, shape_.size()};
    if (c.rank() > static_cast<std::int64_t>(row.size()))
      fail(n, "its constant has more dimensions than the data");
    // The constant's dims, right-aligned with the row's, and their strides (0 where broadcast).
    const std::size_t lead = row.size() - c.dims.size();
    std::vector<std::int64_t> stride(row.size(), 0);
    std::int64_t step = 1;
    for (std::size_t d = c.dims.size(); d-- > 0;) {
      const std::int64_t size = c.dims[d], want = row[lead + d];
      if (size != 1 && size != want)
        fail(n, "its constant of dims " + dims_string(c.dims) + " does not broadcast to the data " +
                    dims_string(row) + " (the batch may not vary)");
      stride[lead + d] = size == 1 ? 0 : step;
      step *= size;
    }
    if (stride[0] != 0) fail(n, "its constant varies along the batch");
    const auto width = static_cast<std::size_t>(shape_.size());
    std::vector<double> k(width);
    for (std::size_t j = 0; j < width; ++j) {
      // column j as (c, y, x) or (f): its index in the constant
      std::int64_t rest = static_cast<std::int64_t>(j), at = 0;
      for (std::size_t d = row.size(); d-- > 1;) {
        at += (rest % row[d]) * stride[d];
        rest /= row[d];
      }
      k[j] = c.values[static_cast<std::size_t>(at)];
    }
    return k;
  }
  static std::string dims_string(const std::vector<std::int64_t>& dims) {
    std::string s = "(";
    for (std::size_t i = 0; i < dims.size(); ++i)
      s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + ")";
  }

  // Two spatial values of attribute `name` (height, width), each at least `least`.
  Window window_attribute(const ::onnx::NodeProto& n, std::string_view name, Window otherwise,
                          Index least) const {
    const auto v = ints_attribute(n, name, {otherwise.height, otherwise.width});
    if (v.size() != 2)
      fail(n, "attribute " + std::string(name) + " must have 2 values (height, width)");
    for (auto x : v)
      if (x < least || x > max_values)
        fail(n, "attribute " + std::string(name) + " has a value of " + std::to_string(x));
    return {static_cast<Index>(v[0]), static_cast<Index>(v[1])};
  }
  // The padding of a Conv or a pool: symmetric, from pads or auto_pad.
  // The padding of a Conv or a pool, from pads or auto_pad: each side on its own.
  Sides padding(const ::onnx::NodeProto& n, Window kernel, Window stride) const {
    const std::string automatic = string_attribute(n, "auto_pad", "NOTSET");
    if (automatic == "VALID") return {};
    if (automatic == "SAME_UPPER" || automatic == "SAME_LOWER") {
      // ONNX: the output is ceil(in / stride); the padding that gives it, the odd one at the end
      // (UPPER) or at the start (LOWER).
      auto total = [](Index in, Index k, Index s) {
        return std::max<Index>(((in + s - 1) / s - 1) * s + k - in, 0);
      };
      const Index h = total(shape_.height, kernel.height, stride.height);
      const Index w = total(shape_.width, kernel.width, stride.width);
      if (automatic == "SAME_UPPER") return {h / 2, w / 2, h - h / 2, w - w / 2};
      return {h - h / 2, w - w / 2, h / 2, w / 2};
    }
    if (automatic != "NOTSET") fail(n, "auto_pad '" + automatic + "' is not one of ONNX's");
    const auto p = ints_attribute(n, "pads", {0, 0, 0, 0});
    if (p.size() != 4) fail(n, "pads must have 4 values (top, left, bottom, right)");
    for (auto x : p)
      if (x < 0 || x > max_values) fail(n, "pads has a value of " + std::to_string(x));
    return {static_cast<Index>(p[0]), static_cast<Index>(p[1]), static_cast<Index>(p[2]),
            static_cast<Index>(p[3])};
  }
  // A Pad2D step of `sides` and `value` before the layer to come, unless it pads nothing.
  void pad_step(const Sides& sides, double value) {
    if (sides.none()) return;
    const Pad2DSettings pad{shape_, sides.top, sides.left, sides.bottom, sides.right, value};
    plan_.steps.emplace_back(PadStep{pad});
    shape_ = pad.output();
  }

  void need_image(const ::onnx::NodeProto& n) const {
    if (!image_) fail(n, "its input is not an image (batch, channels, height, width)");
  }

  void conv(const ::onnx::NodeProto& n) {
    only_attributes(n, {"kernel_shape", "strides", "pads", "auto_pad", "dilations", "group"});
    expect_current(n);
    need_image(n);
    if (int_attribute(n, "group", 1) != 1) fail(n, "only group 1 is supported");
    if (window_attribute(n, "dilations", {1, 1}, 1) != Window{1, 1})
      fail(n, "only dilations 1 are supported");
    const Constant& W = constant_input(n, 1, "weight");
    if (W.rank() != 4)
      fail(n, "its weight must have 4 dimensions (filters, channels, height, width)");
    if (W.dims[1] != shape_.channels)
      fail(n, "its weight takes " + std::to_string(W.dims[1]) + " channels, but its input has " +
                  std::to_string(shape_.channels));
    const Window kernel{static_cast<Index>(W.dims[2]), static_cast<Index>(W.dims[3])};
    if (window_attribute(n, "kernel_shape", kernel, 1) != kernel)
      fail(n, "kernel_shape disagrees with its weight's " + kernel.string());
    ConvStep c;
    c.filters = static_cast<Index>(W.dims[0]);
    c.kernel = kernel;
    c.stride = window_attribute(n, "strides", {1, 1}, 1);
    // Its padding, with that of a zero Pad right before it: Conv2D's own where both sides of
    // each axis agree, else a Pad2D in front.
    Sides sides = padding(n, kernel, c.stride);
    if (pad_open_ && std::get<PadStep>(plan_.steps.back()).settings.value == 0) {
      const Pad2DSettings before = std::get<PadStep>(plan_.steps.back()).settings;
      plan_.steps.pop_back();
      shape_ = before.input;
      sides = sides + Sides{before.top, before.left, before.bottom, before.right};
    }
    if (sides.symmetric()) {
      c.padding = {sides.top, sides.left};
    } else {
      pad_step(sides, 0);
      c.padding = {0, 0};
    }
    // Shape first: an impossible geometry fails here, before a weight is copied.
    Shape out;
    try {
      out = Conv2DSettings{shape_, c.filters, c.kernel, c.stride, c.padding}.output();
    } catch (const ArgumentError& e) {
      fail(n, e.what());
    }
    // ONNX's weight (filters, K) row-major is backprop's (K, filters) column-major: the same
    // values.
    c.W = W.values;
    if (has_input(n, 2)) {
      const Constant& b = constant_input(n, 2, "bias");
      if (b.values.size() != static_cast<std::size_t>(c.filters) || b.rank() != 1)
        fail(n, "its bias must hold one value per filter (" + std::to_string(c.filters) + ")");
      c.bias = true;
      c.b = b.values;
    }
    shape_ = out;
    plan_.steps.emplace_back(std::move(c));
    advance(n);
    activation_open_ = true;
  }

  void pad(const ::onnx::NodeProto& n) {
    only_attributes(n, {"mode", "pads", "value"});
    expect_current(n);
    need_image(n);
    if (string_attribute(n, "mode", "constant") != "constant")
      fail(n, "only constant padding is supported");
    std::vector<std::int64_t> p;
    double value = float_attribute(n, "value", 0);
    if (opset_ >= 11) {
      for (double v : constant_input(n, 1, "pads").values)
        p.push_back(static_cast<std::int64_t>(v));
      if (has_input(n, 2)) {
        const Constant& v = constant_input(n, 2, "constant value", true);
        value = v.values.empty() ? 0 : v.values[0];
      }
      if (has_input(n, 3)) fail(n, "axes are not supported");
    } else {
      p = ints_attribute(n, "pads", {});
    }
    if (p.size() != 8 || p[0] || p[1] || p[4] || p[5])
      fail(n, "only padding of height and width is supported, got pads " + dims_string(p));
    for (auto x : p)
      if (x < 0 || x > max_values)
        fail(n, "pads " + dims_string(p) + " must be in [0, 2^31] (no cropping)");
    const Sides sides{static_cast<Index>(p[2]), static_cast<Index>(p[3]), static_cast<Index>(p[6]),
                      static_cast<Index>(p[7])};
    if (sides.none()) return pass(n);  // PyTorch writes one in front of an AvgPool2d
    pad_step(sides, value);
    advance(n);
    pad_open_ = true;
  }

  void pool(const ::onnx::NodeProto& n) {
    const bool max = n.op_type() == "MaxPool";
    only_attributes(n, {"kernel_shape", "strides", "pads", "auto_pad", "ceil_mode", "dilations",
                        "storage_order", "count_include_pad"});
    expect_current(n);
    need_image(n);
    const auto* k = attribute(n, "kernel_shape");
    if (!k) fail(n, "it has no kernel_shape");
    PoolStep p;
    p.max = max;
    p.window = window_attribute(n, "kernel_shape", {1, 1}, 1);
    p.stride = window_attribute(n, "strides", {1, 1}, 1);
    if (window_attribute(n, "dilations", {1, 1}, 1) != Window{1, 1})
      fail(n, "only dilations 1 are supported");
    if (int_attribute(n, "storage_order", 0) != 0) fail(n, "only storage_order 0 is supported");
    // Padding as a Pad2D in front: -infinity for a max pool, which never picks it; zeros for
    // an average that counts them (PyTorch's count_include_pad=True, which it exports as a Pad).
    Sides sides = padding(n, p.window, p.stride);
    const bool counted = int_attribute(n, "count_include_pad", 0) != 0;
    if (!max && !sides.none() && !counted)
      fail(n,
           "an average over a padded window without the padding (count_include_pad 0) is not "
           "supported; backprop's average counts every value of its window");
    // ceil_mode: a last, partial window where the windows do not tile the padded input, if it
    // starts inside the input or its start padding (ONNX's and PyTorch's rule).
    if (int_attribute(n, "ceil_mode", 0) != 0) {
      auto extra = [](Index in, Index begin, Index end, Index size, Index step) {
        const Index span = in + begin + end - size;
        if (span < 0) return Index(0);
        Index windows = (span + step - 1) / step + 1;
        if ((windows - 1) * step >= in + begin) --windows;
        return std::max<Index>((windows - 1) * step + size - (in + begin + end), 0);
      };
      const Index h =
          extra(shape_.height, sides.top, sides.bottom, p.window.height, p.stride.height);
      const Index w = extra(shape_.width, sides.left, sides.right, p.window.width, p.stride.width);
      if ((h || w) && !max)
        fail(n,
             "ceil_mode 1 adds a partial window here, whose average backprop's pools do not "
             "take");
      sides.bottom += h;
      sides.right += w;
    }
    pad_step(sides, max ? -std::numeric_limits<double>::infinity() : 0.0);
    Shape out;
    try {
      out = Pool2DSettings{shape_, p.window, p.stride}.output();
    } catch (const ArgumentError& e) {
      fail(n, e.what());
    }
    shape_ = out;
    plan_.steps.emplace_back(p);
    advance(n);
  }

  void global_pool(const ::onnx::NodeProto& n) {
    only_attributes(n, {});
    expect_current(n);
    need_image(n);
    shape_ = {shape_.channels, 1, 1};  // (batch, channels, 1, 1): still an image to ONNX
    plan_.steps.emplace_back(GlobalPoolStep{});
    advance(n);
  }

  void batch_norm(const ::onnx::NodeProto& n) {
    only_attributes(n, {"epsilon", "momentum", "spatial", "training_mode"});
    expect_current(n);
    if (int_attribute(n, "training_mode", 0) != 0)
      fail(n, "training_mode must be 0: backprop reads models for inference");
    if (int_attribute(n, "spatial", 1) != 1) fail(n, "only spatial 1 is supported");
    BatchNormStep b;
    b.epsilon = float_attribute(n, "epsilon", 1e-5);
    b.momentum = decimal(static_cast<float>(1 - float_attribute(n, "momentum", 0.9)));
    if (!(b.epsilon > 0) || !(b.momentum >= 0 && b.momentum <= 1))
      fail(n, "epsilon must be positive and momentum in [0, 1]");
    const auto channels = static_cast<std::size_t>(shape_.channels);
    const char* names[] = {"scale", "bias (B)", "mean", "variance"};
    std::vector<double>* into[] = {&b.gamma, &b.beta, &b.mean, &b.variance};
    for (int i = 0; i < 4; ++i) {
      const Constant& c = constant_input(n, i + 1, names[i]);
      if (c.values.size() != channels || c.rank() != 1)
        fail(n, std::string("its ") + names[i] + " must hold one value per channel (" +
                    std::to_string(channels) + ")");
      *into[i] = c.values;
    }
    for (double v : b.variance)
      if (v < 0) fail(n, "its variance is negative");
    plan_.steps.emplace_back(std::move(b));
    advance(n);
  }

  void activation(const ::onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    only_attributes(n, {"alpha", "axis"});
    expect_current(n);
    std::string name = op == "Relu"         ? "relu"
                       : op == "Sigmoid"    ? "sigmoid"
                       : op == "Tanh"       ? "tanh"
                       : op == "Softplus"   ? "softplus"
                       : op == "Softmax"    ? "softmax"
                       : op == "LogSoftmax" ? "log_softmax"
                                            : "leaky_relu";
    if (op == "LeakyRelu") {
      const double alpha = float_attribute(n, "alpha", 0.01);
      if (std::abs(alpha - 0.01) > 1e-9)
        fail(n, "alpha " + detail::number_string(alpha) +
                    " is not supported; backprop's leaky_relu has "
                    "slope 0.01");
    }
    if (op == "Softmax" || op == "LogSoftmax") {
      // Opsets before 13 flatten at axis (default 1), 13 and later take axis (default -1): on a
      // (batch, n) input both are the last axis.
      const std::int64_t axis = int_attribute(n, "axis", opset_ >= 13 ? -1 : 1);
      if (image_ || (axis != 1 && axis != -1))
        fail(n, "only a " + name + " over the features of (batch, n) is supported");
    }
    Step* last = plan_.steps.empty() ? nullptr : &plan_.steps.back();
    std::string* into = nullptr;
    if (activation_open_ && last) {
      if (auto* d = std::get_if<DenseStep>(last)) into = &d->activation;
      if (auto* c = std::get_if<ConvStep>(last)) into = &c->activation;
    }
    if (!into)
      fail(n,
           "backprop applies an activation as part of the Gemm, MatMul or Conv right before "
           "it, and this one follows " +
               (last ? std::string("another layer") : std::string("the input")));
    *into = name;
    const bool keep_image = image_;
    const Shape shape = shape_;
    advance(n);
    image_ = keep_image;
    shape_ = shape;
  }

  const ::onnx::ModelProto& model_;
  std::string file_;
  std::int64_t opset_ = 0;
  int index_ = -1;
  std::map<std::string, Constant> constants_;
  std::map<std::string, Symbol> symbols_;
  std::optional<std::int64_t> batch_;  // the input's batch size, where it is fixed
  Plan plan_;
  std::string current_;
  Shape shape_;
  bool image_ = false;
  bool activation_open_ = false, bias_open_ = false, rescale_open_ = false, pad_open_ = false;
};

}  // namespace backprop::detail::onnx_in
