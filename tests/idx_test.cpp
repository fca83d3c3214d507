// IDX files (MNIST's format): every type, gzip, and every malformation named; one-hot labels and
// the seeded split.
#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "temp_dir.hpp"

#if defined(BACKPROP_WITH_ZLIB)
#include <zlib.h>
#endif

using namespace backprop;

namespace {
// An IDX file: type code, dimensions, and the values' bytes as given.
std::vector<std::uint8_t> idx(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                              const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> bytes{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(std::uint8_t(d >> shift));
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}
}  // namespace

TEST_CASE("IDX images come out one row per image", "[idx]") {
  test::TempDir dir;
  // Two images of 2x3 pixels.
  const auto file = dir / "images.idx";
  test::write_bytes(file, idx(0x08, {2, 2, 3}, {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}));
  const Eigen::MatrixXf images = read_idx<float>(file);
  REQUIRE(images.rows() == 2);
  REQUIRE(images.cols() == 6);
  CHECK(images(0, 5) == 5);
  CHECK(images(1, 0) == 250);
  test::write_bytes(dir / "labels.idx", idx(0x08, {4}, {9, 0, 3, 3}));
  CHECK(read_idx_labels(dir / "labels.idx") == std::vector<int>{9, 0, 3, 3});
}

TEST_CASE("IDX reads every type, big-endian", "[idx]") {
  const std::string source = "mem";
  CHECK(parse_idx(idx(0x09, {2}, {0xFF, 0x7F}), source).values == std::vector<double>{-1, 127});
  CHECK(parse_idx(idx(0x0B, {1}, {0xFF, 0xFE}), source).values == std::vector<double>{-2});
  CHECK(parse_idx(idx(0x0C, {1}, {0x00, 0x01, 0x00, 0x00}), source).values ==
        std::vector<double>{65536});
  CHECK(parse_idx(idx(0x0D, {1}, {0x3F, 0xC0, 0x00, 0x00}), source).values ==
        std::vector<double>{1.5});
  CHECK(parse_idx(idx(0x0E, {1}, {0xC0, 0x04, 0, 0, 0, 0, 0, 0}), source).values ==
        std::vector<double>{-2.5});
}

TEST_CASE("Malformed IDX files are named with what is wrong", "[idx]") {
  auto check = [](const std::vector<std::uint8_t>& bytes,
                  std::initializer_list<std::string> parts) {
    try {
      parse_idx(bytes, "f.idx");
      FAIL("no exception");
    } catch (const FormatError& e) {
      for (const auto& part : parts)
        CHECK_THAT(e.what(), test::contains(part));
    }
  };
  const auto good = idx(0x08, {2, 2}, {1, 2, 3, 4});
  check({0, 0, 8}, {"f.idx", "truncated at byte 3"});
  check({1, 0, 8, 1, 0, 0, 0, 1, 7}, {"does not start with two zero bytes"});
  check(idx(0x0A, {1}, {1}), {"unknown IDX type code 0x0A"});
  check(idx(0x08, {}, {}), {"at least one dimension"});
  check(idx(0x08, {0}, {}), {"dimension 0 is 0"});
  check({0, 0, 8, 2, 0, 0}, {"truncated at byte 6", "dimensions"});
  auto short_data = good;
  short_data.pop_back();
  check(short_data, {"truncated at byte 15", "announce 16 bytes"});
  auto long_data = good;
  long_data.push_back(0);
  check(long_data, {"1 bytes after the 4 values"});
  // And every truncation of a good file fails.
  for (std::size_t n = 0; n < good.size(); ++n)
    CHECK_THROWS_AS(parse_idx({good.begin(), good.begin() + std::ptrdiff_t(n)}, "f.idx"),
                    FormatError);
}

TEST_CASE("Gzip-compressed IDX files", "[idx]") {
  test::TempDir dir;
  const auto bytes = idx(0x08, {3}, {7, 8, 9});
#if defined(BACKPROP_WITH_ZLIB)
  const auto file = dir / "labels.idx.gz";
  gzFile gz = gzopen(file.string().c_str(), "wb");
  REQUIRE(gz);
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
  CHECK(read_idx_labels(file) == std::vector<int>{7, 8, 9});
  // A truncated gzip stream is an error, not a short read.
  auto compressed = test::read_bytes(file);
  REQUIRE(compressed.size() > 6);
  compressed.erase(compressed.end() - 6, compressed.end());  // shrinks only, as GCC can see
  test::write_bytes(dir / "cut.gz", compressed);
  CHECK_THROWS_AS(read_idx_labels(dir / "cut.gz"), FormatError);
#else
  test::write_bytes(dir / "labels.idx.gz", {0x1f, 0x8b, 8, 0});
  CHECK_THROWS_WITH(read_idx_labels(dir / "labels.idx.gz"), test::contains("without zlib"));
#endif
}

TEST_CASE("The real Fashion-MNIST files, where the Debian package is installed", "[idx]") {
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  const auto labels_file = dir / "t10k-labels-idx1-ubyte.gz";
#if defined(BACKPROP_WITH_ZLIB)
  if (std::filesystem::exists(labels_file)) {
    const auto labels = read_idx_labels(labels_file);
    CHECK(labels.size() == 10000);
    CHECK(*std::max_element(labels.begin(), labels.end()) == 9);
    const Eigen::MatrixXf images = read_idx<float>(dir / "t10k-images-idx3-ubyte.gz");
    CHECK(images.rows() == 10000);
    CHECK(images.cols() == 784);
    CHECK(images.maxCoeff() == 255);
  }
#endif
  CHECK(true);  // nothing to read without the package or zlib
}

TEST_CASE("one_hot checks its labels", "[idx]") {
  const Eigen::MatrixXf y = one_hot({2, 0, 1}, 3);
  Eigen::Matrix3f expected;
  expected << 0, 0, 1, 1, 0, 0, 0, 1, 0;
  CHECK(y == expected);
  CHECK_THROWS_WITH(one_hot({0, 3}, 3), test::contains("label 1 is 3, outside [0, 3)"));
}

TEST_CASE("train_validation_split is seeded and keeps every row once", "[idx]") {
  Eigen::MatrixXd x(10, 2), y(10, 1);
  for (Index r = 0; r < 10; ++r) {
    x.row(r) << double(r), double(-r);
    y(r) = double(r);
  }
  const auto a = train_validation_split(x, y, 0.3, 7), b = train_validation_split(x, y, 0.3, 7);
  CHECK(a.x_validation.rows() == 3);
  CHECK(a.x_train.rows() == 7);
  CHECK(a.x_validation == b.x_validation);
  std::vector<double> seen;
  for (Index r = 0; r < 7; ++r)
    seen.push_back(a.y_train(r));
  for (Index r = 0; r < 3; ++r)
    seen.push_back(a.y_validation(r));
  std::sort(seen.begin(), seen.end());
  for (int r = 0; r < 10; ++r)
    CHECK(seen[std::size_t(r)] == r);
  CHECK(a.x_train.col(1) == -a.y_train);  // rows stay whole
  CHECK_THROWS_WITH(train_validation_split(x, y, 1.5, 7), test::contains("fraction"));
}
