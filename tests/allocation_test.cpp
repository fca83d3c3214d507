// No heap allocation inside train_step and predict of a fixed-size network, nor inside train_step
// once a network has seen a batch size.
//
// Counted two ways, because Eigen does not allocate through operator new: a replaced global
// operator new counts the standard library's allocations, and the linker's --wrap (see
// CMakeLists.txt) sends this program's own calls to malloc, calloc, realloc, aligned_alloc and
// posix_memalign through the counters below, which is where Eigen's header-only aligned_malloc
// lands.
#include <atomic>
#include <cstdlib>

// The replaced operator delete frees with free(), which matches the replaced operator new's
// malloc(); GCC, seeing only the standard pairing, warns where inlining meets the two.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <new>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "study_sleep.hpp"
#include "temp_dir.hpp"

#if defined(BACKPROP_WITH_ZLIB)
#include <zlib.h>
#endif

namespace {
std::atomic<long> allocations{0};
std::atomic<std::size_t> allocated_bytes{0};
std::atomic<bool> counting{false};

void count(std::size_t bytes = 0) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1);
    allocated_bytes.fetch_add(bytes);
  }
}

// Allocations made while f runs.
template <class F>
long allocations_during(F&& f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations.load();
}

// Bytes allocated while f runs (what it frees is not subtracted).
template <class F>
std::size_t bytes_during(F&& f) {
  allocated_bytes = 0;
  counting = true;
  try {
    f();
  } catch (...) {
    counting = false;
    throw;
  }
  counting = false;
  return allocated_bytes.load();
}
}  // namespace

extern "C" {
void* __real_malloc(std::size_t);
void* __real_calloc(std::size_t, std::size_t);
void* __real_realloc(void*, std::size_t);
void* __real_aligned_alloc(std::size_t, std::size_t);
int __real_posix_memalign(void**, std::size_t, std::size_t);

void* __wrap_malloc(std::size_t n) {
  count(n);
  return __real_malloc(n);
}
void* __wrap_calloc(std::size_t n, std::size_t size) {
  count(n * size);
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, std::size_t n) {
  count(n);
  return __real_realloc(p, n);
}
void* __wrap_aligned_alloc(std::size_t alignment, std::size_t n) {
  count(n);
  return __real_aligned_alloc(alignment, n);
}
int __wrap_posix_memalign(void** p, std::size_t alignment, std::size_t n) {
  count(n);
  return __real_posix_memalign(p, alignment, n);
}
}

void* operator new(std::size_t n) {
  count(n);
  if (void* p = __real_malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, std::align_val_t alignment) {
  count(n);
  const auto a = static_cast<std::size_t>(alignment);
  if (void* p = __real_aligned_alloc(a, (n + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t alignment) {
  return operator new(n, alignment);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

using namespace backprop;

TEST_CASE("The counter sees Eigen's and the standard library's heap allocations", "[allocation]") {
  // Each allocation escapes through a volatile pointer, so that no compiler can elide it (Clang
  // removes an unused malloc and free).
  static double* volatile matrix = nullptr;
  CHECK(allocations_during([] {
          Eigen::MatrixXd m(8, 8);
          m.setZero();
          matrix = m.data();
        }) == 1);
  static int* volatile vector = nullptr;
  CHECK(allocations_during([] {
          std::vector<int> v(8);
          vector = v.data();
        }) == 1);
  CHECK(matrix != nullptr);
  CHECK(vector != nullptr);
  static study_sleep::Network231* volatile network = nullptr;
  CHECK(allocations_during([] { network = new study_sleep::Network231; }) == 1);
  delete network;
}

TEST_CASE("A fixed-size network trains and predicts without touching the heap", "[allocation]") {
  const auto x = study_sleep::scaled_hours();
  const auto y = study_sleep::scaled_scores();
  study_sleep::Network231 net{StandardNormal{1}};
  SGD sgd(1.0);
  double loss = 0;
  Eigen::Matrix<double, 3, 1> prediction = Eigen::Matrix<double, 3, 1>::Zero();
  CHECK(allocations_during([&] {
          for (int i = 0; i < 100; ++i)
            loss += net.train_step(x, y, HalfSumSquared{}, sgd);
          prediction = net.predict(x);
        }) == 0);
  CHECK(loss > 0);
  CHECK(prediction.allFinite());
}

TEST_CASE("After its first step at a batch size, train_step does not allocate", "[allocation]") {
  using Mlp = Network<float, Dense<Dynamic, Dynamic, ReLU>, Dense<Dynamic, Dynamic, Softmax>>;
  Mlp net({20, 16, 4}, HeNormal{2});
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(32, 20);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(32, 4);
  for (Index r = 0; r < 32; ++r)
    y(r, r % 4) = 1;
  SGD sgd(0.1f);

  CHECK(allocations_during([&] { net.train_step(x, y, SoftmaxCrossEntropy{}, sgd); }) > 0);
  CHECK(allocations_during([&] {
          for (int i = 0; i < 10; ++i)
            net.train_step(x, y, SoftmaxCrossEntropy{}, sgd);
        }) == 0);
  // A fixed-size network given dynamic matrices keeps its workspace too.
  study_sleep::Network231 tutorial{StandardNormal{1}};
  const Eigen::MatrixXd xd = study_sleep::scaled_hours(), yd = study_sleep::scaled_scores();
  SGD sgd_double(1.0);
  tutorial.train_step(xd, yd, HalfSumSquared{}, sgd_double);
  CHECK(allocations_during([&] { tutorial.train_step(xd, yd, HalfSumSquared{}, sgd_double); }) ==
        0);
}

TEST_CASE("Sequential with Adam and dropout trains without allocating after its first step",
          "[allocation]") {
  Sequential<float> net(20);
  net.add_dense(16, "relu").add_dropout(0.25, 3).add_dense(4, "softmax");
  net.initialize(HeNormal{2});
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(32, 20);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(32, 4);
  for (Index r = 0; r < 32; ++r)
    y(r, r % 4) = 1;
  Adam<float> adam;
  CHECK(allocations_during([&] { net.train_step(x, y, SoftmaxCrossEntropy{}, adam); }) > 0);
  CHECK(allocations_during([&] {
          for (int i = 0; i < 10; ++i)
            net.train_step(x, y, SoftmaxCrossEntropy{}, adam);
        }) == 0);
  // A block of rows passes by Eigen::Ref without a copy.
  net.train_step(x.topRows(16), y.topRows(16), SoftmaxCrossEntropy{}, adam);
  CHECK(allocations_during([&] {
          net.train_step(x.topRows(16), y.topRows(16), SoftmaxCrossEntropy{}, adam);
        }) == 0);
}

TEST_CASE("A CNN with Adam trains without allocating after its first step", "[allocation]") {
  // The example's kind of network, at Fashion-MNIST's size: convolutions, both pools, dropout.
  Sequential<float> net(Shape{1, 28, 28});
  net.add_conv2d<ReLU>(8, {3, 3}, {1, 1}, {1, 1})
      .add_max_pool2d()
      .add_conv2d<ReLU>(16, {3, 3})
      .add_avg_pool2d()
      .add_dropout(0.25, 5)
      .add_dense<Softmax>(10);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(32, 784);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(32, 10);
  for (Index r = 0; r < 32; ++r)
    y(r, r % 10) = 1;
  Adam<float> adam;
  CHECK(allocations_during([&] { net.train_step(x, y, SoftmaxCrossEntropy{}, adam); }) > 0);
  CHECK(allocations_during([&] {
          for (int i = 0; i < 3; ++i)
            net.train_step(x, y, SoftmaxCrossEntropy{}, adam);
        }) == 0);
}

TEST_CASE("A compile-time CNN with Adam trains without allocating after its first step",
          "[allocation]") {
  using Cnn =
      Network<float, Input<1, 28, 28>, Conv<8, Window{3, 3}, ReLU, Padding{1, 1}>, BatchNorm,
              MaxPool<>, Conv<16, Window{3, 3}>, AvgPool<>, Dropout<>, Dense<Dynamic, 10, Softmax>>;
  Cnn net;
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(32, 784);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(32, 10);
  for (Index r = 0; r < 32; ++r)
    y(r, r % 10) = 1;
  Adam<float> adam;
  CHECK(allocations_during([&] { net.train_step(x, y, SoftmaxCrossEntropy{}, adam); }) > 0);
  CHECK(allocations_during([&] {
          for (int i = 0; i < 3; ++i)
            net.train_step(x, y, SoftmaxCrossEntropy{}, adam);
        }) == 0);
}

TEST_CASE("A compile-time MLP with Adam trains without allocating after its first step",
          "[allocation]") {
  Network<float, Dense<20, 16, ReLU>, Dropout<16>, Dense<16, 4, Softmax>> net{HeNormal{2}};
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(32, 20);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(32, 4);
  for (Index r = 0; r < 32; ++r)
    y(r, r % 4) = 1;
  Adam<float> adam;
  net.train_step(x, y, SoftmaxCrossEntropy{}, adam);
  CHECK(allocations_during([&] {
          for (int i = 0; i < 10; ++i)
            net.train_step(x, y, SoftmaxCrossEntropy{}, adam);
        }) == 0);
}

namespace {

// A file of kind "MODL" or "OPTM" with the given body, checksummed, in the container of
// io/binary.hpp.
std::vector<std::uint8_t> framed(std::string_view kind, io::Writer& body) {
  return io::frame<float>(kind, body);
}

// Loads `bytes` with `load` and returns the bytes allocated meanwhile; the load must fail with a
// FormatError that says `message`.
template <class Load>
std::size_t bytes_to_refuse(const Load& load, const std::string& message) {
  test::check_throws<FormatError>([&] { (void)bytes_during(load); }, {message});
  return allocated_bytes.load();
}

}  // namespace

TEST_CASE("Loaders allocate no more than the bytes they were given justify", "[allocation]") {
  // A 48-byte optimizer file that claims 10^8 slots: 0.1 allocated 4.7 GB before failing.
  io::Writer optimizer;
  optimizer.text("adam");
  optimizer.u64(0);
  optimizer.u32(100000000);
  const auto optimizer_file = framed("OPTM", optimizer);
  REQUIRE(optimizer_file.size() == 48);
  Adam<float> adam;
  test::TempDir dir;
  test::write_bytes(dir / "slots.bpo", optimizer_file);
  CHECK(bytes_to_refuse([&] { load_optimizer(adam, dir / "slots.bpo"); },
                        "100000000 slots cannot fit in the 0 bytes left") < 65536);

  // A model file of 100 bytes that declares a 65536 x 65536 dense layer (16 GiB of floats).
  io::Writer model;
  model.u32(1);
  model.text("dense");
  model.u64(65536);
  model.u64(65536);
  model.text("identity");
  model.u8(0);
  model.u32(1);
  const auto model_file = framed("MODL", model);
  CHECK(bytes_to_refuse([&] { (void)io::parse<float>(model_file, "m"); },
                        "its parameters cannot fit") < 65536);

  // A model file that claims 4 billion layers.
  io::Writer layers;
  layers.u32(4000000000u);
  const auto layers_file = framed("MODL", layers);
  CHECK(bytes_to_refuse([&] { (void)io::parse<float>(layers_file, "m"); },
                        "4000000000 layers cannot fit") < 65536);
}

#if defined(BACKPROP_WITH_ZLIB)
TEST_CASE("A gzipped IDX file inflates no further than its header declares", "[allocation]") {
  // An IDX header of 10 x 10 bytes, then 20 MB of zeros: 20 kB of gzip. 0.1 inflated it all.
  std::vector<std::uint8_t> idx{0, 0, 0x08, 2, 0, 0, 0, 10, 0, 0, 0, 10};
  idx.resize(idx.size() + 20'000'000, 0);
  std::vector<std::uint8_t> gz(idx.size() / 100 + 1024);
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  stream.next_in = idx.data();
  stream.avail_in = static_cast<uInt>(idx.size());
  stream.next_out = gz.data();
  stream.avail_out = static_cast<uInt>(gz.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  gz.resize(stream.total_out);
  deflateEnd(&stream);
  CHECK(bytes_to_refuse([&] { (void)gunzip_idx(gz, "bomb.gz"); },
                        "holds more than the 112 bytes its IDX header announces") < 4'000'000);
}
#endif
