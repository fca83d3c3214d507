// The progress bar in a real (pseudo-)terminal: it asks for the width and never wraps, shows the
// running loss and an ETA, and says when early stopping restored the best weights.
#include <pty.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"

using namespace backprop;

namespace {

// Runs f with standard output on a terminal of `columns` columns; returns what it printed.
template <class F>
std::string on_terminal(unsigned short columns, F&& f) {
  int terminal = -1, side = -1;
  winsize size{};
  size.ws_row = 24;
  size.ws_col = columns;
  REQUIRE(openpty(&terminal, &side, nullptr, nullptr, &size) == 0);
  std::string printed;
  std::thread reader([&] {  // drains the terminal while f writes, so that f never blocks
    char buffer[4096];
    for (;;) {
      const ::ssize_t n = ::read(terminal, buffer, sizeof buffer);
      if (n <= 0) return;
      printed.append(buffer, static_cast<std::size_t>(n));
    }
  });
  std::cout.flush();
  const int saved = ::dup(STDOUT_FILENO);
  ::dup2(side, STDOUT_FILENO);
  f();
  std::cout.flush();
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ::close(side);  // the reader sees the end
  reader.join();
  ::close(terminal);
  return printed;
}

// The pieces of terminal output between carriage returns and newlines, without "\033[K".
std::vector<std::string> drawn_lines(std::string text) {
  for (std::size_t at; (at = text.find("\033[K")) != std::string::npos;)
    text.erase(at, 3);
  std::vector<std::string> lines;
  std::string line;
  for (char c : text) {
    if (c == '\r' || c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("The progress bar fits a terminal of 60 columns", "[progress]") {
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(400, 4);
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(400, 2);
  for (Index r = 0; r < 400; ++r)
    y(r, x(r, 0) > 0 ? 1 : 0) = 1;
  Network<float, Dense<4, 8, Tanh>, Dense<8, 2, Softmax>> net{GlorotUniform{1}};
  Adam<float> adam;
  FitOptions<float> options{.epochs = 2, .batch_size = 20, .validation_split = 0.25};
  options.on_batch_end = [](const BatchEnd&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(12));  // redraws every 100 ms
  };
  const std::string printed =
      on_terminal(60, [&] { fit(net, x, y, SoftmaxCrossEntropy{}, adam, options); });

  const auto lines = drawn_lines(printed);
  std::size_t bars = 0;
  for (const std::string& line : lines) {
    INFO("line: " << line);
    if (line.find(" ETA ") == std::string::npos) continue;  // the summaries are printed once
    ++bars;
    CHECK(line.size() <= 59);
    CHECK_THAT(line, test::contains("loss "));
    CHECK_THAT(line, test::contains("/15"));  // 300 training rows in batches of 20
  }
  CHECK(bars >= 2);
  CHECK_THAT(printed, test::contains("epoch 2/2  loss"));
}

TEST_CASE("The bar line gives up the rate, then the bar, rather than wrap", "[progress]") {
  std::ostringstream out;
  auto line_in = [&](int columns) {
    Progress progress(out, Verbosity::bar, columns);
    progress.begin_epoch(3, 15, 422);
    return progress.line(212, "27.6k/s", "0:03", 0.3142);
  };
  CHECK(line_in(80) ==
        "epoch 3/15 [=============>            ] 212/422  27.6k/s  ETA 0:03  loss 0.3142");
  CHECK(line_in(200) ==
        "epoch 3/15 [===============>              ] 212/422  27.6k/s  ETA 0:03"
        "  loss 0.3142");  // at most 30 wide
  CHECK(line_in(60) == "epoch 3/15 [=======>       ] 212/422  ETA 0:03  loss 0.3142");
  CHECK(line_in(45) == "epoch 3/15 212/422  ETA 0:03  loss 0.3142");
  CHECK(line_in(20) == "epoch 3/15 212/422 ");
  CHECK(Progress(out, Verbosity::bar).columns() == 80);
  CHECK(Progress::clock(3725) == "1:02:05");
  CHECK(Progress::clock(7.4) == "0:07");
}

TEST_CASE("Early stopping says when it restored the best epoch's weights", "[progress]") {
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(60, 3);
  const Eigen::MatrixXf y = x.col(0) * 2;
  Network<float, Dense<3, 1, Identity>> net{GlorotUniform{1}};
  SGD<float> sgd(0.1f);
  std::ostringstream out;
  FitOptions<float> options{.epochs = 30, .validation_split = 0.3};
  options.early_stopping_patience = 2;
  options.schedule = [](int epoch, double rate) { return epoch < 4 ? rate : 3.5; };
  options.verbosity = Verbosity::lines;
  options.out = &out;
  const History history = fit(net, x, y, MeanSquared{}, sgd, options);
  REQUIRE(history.stopped_early);
  CHECK_THAT(out.str(), test::contains("early stopping: restored the weights of epoch " +
                                       std::to_string(history.best_epoch) + ", the best"));
}
