// Files and data that cannot hurt: what a hostile user found in 0.1's loaders, writers and readers,
// one case each, and the class of each. (Bounded allocations are counted in allocation_test.cpp.)
#include <atomic>
#include <clocale>
#include <cstdlib>
#include <limits>
#include <locale>
#include <sstream>
#include <thread>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "svg_plot.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {

using Small = Network<double, Dense<2, 3, Tanh>, Dropout<3>, Dense<3, 1, Sigmoid>>;

// The files in a folder, by name.
std::vector<std::string> files_in(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// An IDX header of unsigned bytes with the given dimensions, and no values.
std::vector<std::uint8_t> idx_header(const std::vector<std::uint32_t>& dims) {
  std::vector<std::uint8_t> bytes{0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(static_cast<std::uint8_t>(d >> shift));
  return bytes;
}

}  // namespace

TEST_CASE("A directory is named as one by every loader", "[hostile]") {
  test::TempDir dir;
  Small net;
  Adam<double> adam;
  const auto folder = dir / "models";
  std::filesystem::create_directories(folder);
  test::check_throws<FileError>([&] { load_model(net, folder); }, {"models", "is a directory"});
  test::check_throws<FileError>([&] { load_sequential<float>(folder); }, {"is a directory"});
  test::check_throws<FileError>([&] { load_optimizer(adam, folder); }, {"is a directory"});
  test::check_throws<FileError>([&] { read_idx(folder); }, {"is a directory"});
  test::check_throws<FileError>([&] { read_csv(folder); }, {"is a directory"});
  test::check_throws<FileError>([&] { read_csv_header(folder); }, {"is a directory"});
}

TEST_CASE("A failed save leaves nothing behind and the old file as it was", "[hostile]") {
  test::TempDir dir;
  Small net{GlorotUniform{1}};
  save_model(net, dir / "net.bpm");
  const auto before = test::read_bytes(dir / "net.bpm");
  std::filesystem::create_directories(dir / "folder");

  test::check_throws<FileError>([&] { save_model(net, dir / "folder"); },
                                {"folder", "is a directory"});
  test::check_throws<FileError>([&] { save_model(net, ""); }, {"without a name"});
  test::check_throws<FileError>([&] { save_model(net, dir / "missing" / "net.bpm"); },
                                {"cannot open for writing"});
  test::check_throws<FileError>([&] { save_optimizer(Adam<double>(), dir / "folder"); },
                                {"is a directory"});
  CHECK(files_in(dir / "") == std::vector<std::string>{"folder", "net.bpm"});
  CHECK(files_in(dir / "folder").empty());
  CHECK(test::read_bytes(dir / "net.bpm") == before);
}

TEST_CASE("Two writers saving one path at once: a reader sees one complete model or the other",
          "[hostile]") {
  test::TempDir dir;
  const auto path = dir / "shared.bpm";
  Small a{GlorotUniform{1}}, b{GlorotUniform{2}};
  save_model(a, path);
  const auto bytes_a = io::serialize(a, {}), bytes_b = io::serialize(b, {});
  std::atomic<int> failures{0}, torn{0};
  std::atomic<bool> done{false};
  auto writer = [&](const Small& net) {
    for (int i = 0; i < 150; ++i)
      try {
        save_model(net, path);
      } catch (const std::exception&) {
        ++failures;
      }
  };
  std::thread reader([&] {
    while (!done)
      try {
        const auto bytes = test::read_bytes(path);
        if (bytes != bytes_a && bytes != bytes_b) ++torn;
        Small loaded;
        load_model(loaded, path);
      } catch (const std::exception&) {
        ++failures;
      }
  });
  std::thread first(writer, std::cref(a)), second(writer, std::cref(b));
  first.join();
  second.join();
  done = true;
  reader.join();
  CHECK(failures == 0);
  CHECK(torn == 0);
  CHECK(files_in(dir / "") == std::vector<std::string>{"shared.bpm"});
}

TEST_CASE("A reader reads the file it opened, whatever is renamed over its path meanwhile",
          "[hostile]") {
  // 0.2 opened the file, then asked its size by name: a model saved over the path in between gave
  // the size of one file and the bytes of the other ("truncated at byte 528: the header says the
  // file has 1723 bytes"), once in 600 reloads with two processes saving to one path.
  test::TempDir dir;
  const auto path = dir / "model.bpm", newer = dir / "newer.bpm";
  using Larger = Network<double, Dense<2, 16, Tanh>, Dense<16, 1, Sigmoid>>;
  save_model(Small{GlorotUniform{1}}, path);
  save_model(Larger{GlorotUniform{2}}, newer);
  const auto old_bytes = test::read_bytes(path), new_bytes = test::read_bytes(newer);
  REQUIRE(old_bytes.size() < new_bytes.size());

  io::OpenFile file(path);
  std::filesystem::rename(newer, path);  // what save_model does, between the open and the read
  CHECK(file.read_all() == old_bytes);
  CHECK(io::read_file(path) == new_bytes);
  Larger loaded;
  load_model(loaded, path);
}

TEST_CASE("Declared sizes are checked without overflow", "[hostile]") {
  // 65536^4 = 2^64 wraps to 0 in 64 bits: 0.1 accepted it as an empty array.
  test::check_throws<FormatError>(
      [] {
        parse_idx(idx_header({65536, 65536, 65536, 65536}), "x");
      },
      {"announce more than"});
  test::check_throws<FormatError>(
      [] {
        parse_idx(idx_header({2147483648u, 0}), "x");
      },
      {"dimension 1 is 0"});
  // fit with the largest batch size trains on everything as one batch (0.1 trained nothing).
  Network<double, Dense<2, 1, Identity>> net;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(10, 2), y = Eigen::MatrixXd::Random(10, 1);
  SGD<double> sgd(0.1);
  const History h =
      fit(net, x, y, MeanSquared{}, sgd,
          {.batch_size = std::numeric_limits<Index>::max(), .verbosity = Verbosity::silent});
  CHECK(h.epochs.size() == 10);
  CHECK(net.parameters<0>().W.norm() > 0);
  CHECK(sgd.steps() == 10);
}

TEST_CASE("Values that cannot round-trip are refused where they are read or made", "[hostile]") {
  test::TempDir dir;
  // A weight of 1e300 in a double model does not fit a float network.
  Network<double, Dense<2, 1, Identity>> big;
  big.parameters<0>().W(1, 0) = 1e300;
  save_model(big, dir / "big.bpm");
  Network<float, Dense<2, 1, Identity>> small;
  const Eigen::Matrix<float, 2, 1> before = small.parameters<0>().W;
  test::check_throws<FormatError>([&] { load_model(small, dir / "big.bpm"); },
                                  {"the value 1e+300 does not fit in float"});
  CHECK(small.parameters<0>().W == before);

  // An optimizer file claiming 2^64 - 1 steps.
  Adam<float> adam;
  save_optimizer(adam, dir / "adam.bpo");
  auto bytes = test::read_bytes(dir / "adam.bpo");
  for (std::size_t i = 24 + 8; i < 24 + 16; ++i)  // after the header and the text "adam"
    bytes[i] = 0xFF;
  const std::uint32_t crc = io::crc32(bytes.data(), bytes.size() - 4);
  for (int i = 0; i < 4; ++i)
    bytes[bytes.size() - 4 + std::size_t(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
  test::write_bytes(dir / "steps.bpo", bytes);
  test::check_throws<FormatError>([&] { load_optimizer(adam, dir / "steps.bpo"); },
                                  {"step count of 18446744073709551615"});
  CHECK(adam.steps() == 0);

  // Scalers whose offset or scale overflows.
  const Eigen::MatrixXd huge = (Eigen::MatrixXd(2, 2) << 1, 1e200, 2, -1e200).finished();
  test::check_throws<ArgumentError>([&] { StandardScaler().fit(huge); },
                                    {"StandardScaler::fit: column 1", "scale inf"});
  const Eigen::MatrixXd wide = (Eigen::MatrixXd(2, 1) << 1e308, -1e308).finished();
  test::check_throws<ArgumentError>([&] { MinMaxScaler().fit(wide); }, {"column 0"});
  StandardScaler fine;
  fine.fit(huge.col(0));
  CHECK(fine.fitted());
}

TEST_CASE("CSV numbers: one sign, and out of range named as such", "[hostile][csv]") {
  auto read = [](const std::string& text) {
    std::istringstream in("x,y\n" + text + "\n");
    return read_csv<float>(in, "n.csv", {.targets = {"y"}});
  };
  test::check_throws<FormatError>([&] { read("+-1,0"); }, {"line 2, column 1", "not a number"});
  test::check_throws<FormatError>([&] { read("++1,0"); }, {"not a number"});
  test::check_throws<FormatError>([&] { read("1e400,0"); }, {"out of range for float"});
  test::check_throws<FormatError>([&] { read("1e-400,0"); }, {"out of range"});
  test::check_throws<FormatError>([&] { read("0,1e39"); }, {"column 2", "out of range for float"});
  CHECK(read("+1,-2").features(0, 0) == 1);
  CHECK(read("1e-40,0").features(0, 0) > 0);  // a subnormal float is a number
  std::istringstream doubles("x\n1e-310\n");
  CHECK(read_csv<double>(doubles, "d.csv").features(0, 0) == 1e-310);
}

TEST_CASE("Every misuse throws backprop's error: indices and names", "[hostile]") {
  Small network;
  Sequential<float> sequential(2);
  sequential.add_dense(1, "sigmoid");
  test::check_throws<ArgumentError>([&] { (void)network.layer(3); }, {"Network::layer", "3"});
  test::check_throws<ArgumentError>([&] { (void)sequential.layer(1); }, {"Sequential::layer", "1"});
  test::check_throws<ArgumentError>([] { (void)make_scaler("robust"); },
                                    {"unknown scaler \"robust\"", "standard"});
}

namespace {

// A global locale that writes 0,5 and groups thousands, as German does; named (so that the C
// library's printf follows it too) where the system can build one, else C++-only.
struct GermanNumbers : std::numpunct<char> {
  char do_decimal_point() const override { return ','; }
  char do_thousands_sep() const override { return '.'; }
  std::string do_grouping() const override { return "\3"; }
};

std::locale german_locale(const test::TempDir& dir) {
  const auto folder = dir / "locales";
  std::filesystem::create_directories(folder);
  const std::string command =
      "localedef -i de_DE -f UTF-8 " + (folder / "de_DE.UTF-8").string() + " >/dev/null 2>&1";
  if (std::system(command.c_str()) == 0) {
    setenv("LOCPATH", folder.c_str(), 1);
    try {
      return std::locale("de_DE.UTF-8");
    } catch (const std::runtime_error&) {
    }
  }
  return std::locale(std::locale::classic(), new GermanNumbers);
}

}  // namespace

TEST_CASE("Numbers are written and read in the C locale, whatever the process's", "[hostile]") {
  test::TempDir dir;
  const std::locale german = german_locale(dir);
  const std::locale previous = std::locale::global(german);
  INFO("locale: " << german.name());

  History history;
  EpochRecord e;
  e.epoch = 1200;
  e.learning_rate = 0.001;
  e.seconds = 2.5;
  e.train.loss = 0.25;
  e.train.accuracy = 0.875;
  history.epochs.push_back(e);
  std::ostringstream csv;  // created under the German locale
  history.write_csv(csv);
  const std::string written = csv.str();
  const auto data = read_csv<double>(dir.write("history.csv", written));
  CHECK(written == "epoch,learning_rate,seconds,loss,accuracy\n1200,0.001,2.5,0.25,0.875\n");
  CHECK(data.features(0, 1) == 0.001);

  CHECK(detail::number_string(0.5) == "0.5");
  CHECK(detail::epoch_summary(e, 1500, 60000).find("loss 0.25") != std::string::npos);
  CHECK(Progress::rate(12345.0) == "12.3k");
  const std::string svg = svg::plot({{"loss", {{"training", "#000", {0.5, 0.25}}}}});
  CHECK(svg.find("0,5") == std::string::npos);
  CHECK(svg.find("0.5") != std::string::npos);
  test::check_throws<ArgumentError>([] { SGD<double>(-0.5); }, {"got -0.5"});

  std::locale::global(previous);
  std::setlocale(LC_ALL, "C");
}
