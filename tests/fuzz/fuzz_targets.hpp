// What each fuzz target does with its input. An input the library rejects must raise one of
// backprop's exceptions; anything else (another exception, a crash, a sanitizer report, a hang)
// is a bug the fuzzer reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <backprop/backprop.hpp>

namespace fuzz {

// Runs f and swallows exactly backprop's own exceptions.
template <class F>
int rejecting_with_backprop_errors(F&& f) {
  try {
    f();
  } catch (const backprop::ShapeError&) {
  } catch (const backprop::ArgumentError&) {
  } catch (const backprop::FormatError&) {
  } catch (const backprop::FileError&) {
  } catch (const backprop::NumericError&) {
  }
  return 0;
}

// A model file's bytes: parsed, rebuilt as a Sequential that predicts, and loaded into a network
// of fixed architecture (where most files fail to fit).
inline int model(const std::uint8_t* data, std::size_t size) {
  using namespace backprop;
  const std::vector<std::uint8_t> bytes(data, data + size);
  rejecting_with_backprop_errors([&] {
    const Sequential<float> net = io::parse<float>(bytes, "fuzz.bpm").network;
    const Eigen::MatrixXf row = Eigen::MatrixXf::Zero(1, net.widths().front());
    (void)net.predict(row);
  });
  rejecting_with_backprop_errors([&] {
    Network<double, Dense<2, 3, Tanh>, Dropout<3>, Dense<3, 1, Sigmoid, Bias::off>> net;
    io::apply(io::parse<double>(bytes, "fuzz.bpm"), net, "fuzz.bpm");
  });
  return 0;
}

// CSV text; the first byte chooses the options (header, delimiter, target, non-finite values).
inline int csv(const std::uint8_t* data, std::size_t size) {
  using namespace backprop;
  if (size == 0) return 0;
  const std::uint8_t choice = data[0];
  CsvOptions options;
  options.header = (choice & 1) != 0;
  options.delimiter = ",;\t|"[(choice >> 1) & 3];
  if (choice & 8) options.targets = {options.header ? Column("y") : Column(-1)};
  options.allow_non_finite = (choice & 16) != 0;
  return rejecting_with_backprop_errors([&] {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
    const auto read = read_csv<double>(in, "fuzz.csv", options);
    if (read.features.rows() == 0) throw std::logic_error("read_csv returned no rows");
  });
}

// Optimizer state: read into an optimizer of each kind with state and in each scalar type.
inline int optimizer(const std::uint8_t* data, std::size_t size) {
  using namespace backprop;
  const std::vector<std::uint8_t> bytes(data, data + size);
  rejecting_with_backprop_errors([&] {
    Adam<float> adam;
    io::read_optimizer(adam, bytes, "fuzz.bpo");
  });
  rejecting_with_backprop_errors([&] {
    Momentum<double> momentum;
    io::read_optimizer(momentum, bytes, "fuzz.bpo");
  });
  return rejecting_with_backprop_errors([&] {
    SGD<float> sgd;
    io::read_optimizer(sgd, bytes, "fuzz.bpo");
  });
}

// IDX bytes (uncompressed).
inline int idx(const std::uint8_t* data, std::size_t size) {
  using namespace backprop;
  return rejecting_with_backprop_errors([&] {
    const IdxArray array = parse_idx(std::vector<std::uint8_t>(data, data + size), "fuzz.idx");
    std::size_t count = 1;
    for (const Index d : array.dims)
      count *= static_cast<std::size_t>(d);
    if (count != array.values.size()) throw std::logic_error("parse_idx lost values");
  });
}

#if defined(BACKPROP_WITH_ZLIB)
// Gzip-compressed IDX bytes.
inline int idx_gz(const std::uint8_t* data, std::size_t size) {
  using namespace backprop;
  return rejecting_with_backprop_errors([&] {
    const auto bytes = gunzip_idx(std::vector<std::uint8_t>(data, data + size), "fuzz.idx.gz");
    (void)parse_idx(bytes, "fuzz.idx.gz");
  });
}
#endif

}  // namespace fuzz
