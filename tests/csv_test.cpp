// CSV reading: columns by name and index, quoting, and an error for every kind of bad input
// that names the file, line and column.
#include <sstream>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "temp_dir.hpp"

using namespace backprop;

namespace {
CsvData<double> parse(const std::string& text, const CsvOptions& options = {}) {
  std::istringstream in(text);
  return read_csv<double>(in, "data.csv", options);
}

void check_error(const std::string& text, const CsvOptions& options,
                 std::initializer_list<std::string> parts) {
  try {
    parse(text, options);
    FAIL("no exception for:\n" << text);
  } catch (const FormatError& e) {
    for (const auto& part : parts)
      CHECK_THAT(e.what(), test::contains(part));
  }
}
}  // namespace

TEST_CASE("Targets by name, features are the other columns", "[csv]") {
  const auto data = parse(
      "hours studied,hours slept,score\n"
      "2,9,92\n"
      "1,5,86\n"
      "3,6,89\n",
      {.targets = {"score"}});
  CHECK(data.feature_names == std::vector<std::string>{"hours studied", "hours slept"});
  CHECK(data.target_names == std::vector<std::string>{"score"});
  Eigen::MatrixXd features(3, 2);
  features << 2, 9, 1, 5, 3, 6;
  CHECK(data.features == features);
  CHECK(data.targets == Eigen::Vector3d(92, 86, 89));
}

TEST_CASE("Columns by index, no header, another delimiter, quotes and blank lines", "[csv]") {
  const auto data = parse(
      "\xEF\xBB\xBF"
      "a;1.5;-2e3\r\n"
      "\r\n"
      "\"b; c\"; +3 ;4\n",
      {.header = false, .delimiter = ';', .targets = {2}, .features = {1}});
  CHECK(data.features == Eigen::Vector2d(1.5, 3));
  CHECK(data.targets == Eigen::Vector2d(-2000, 4));
}

TEST_CASE("Quoted header names and a reordered feature list", "[csv]") {
  const auto data = parse("\"a, b\",\"say \"\"hi\"\"\",c\n1,2,3\n",
                          {.targets = {"c"}, .features = {"say \"hi\"", "a, b"}});
  CHECK(data.feature_names == std::vector<std::string>{"say \"hi\"", "a, b"});
  CHECK(data.features == Eigen::RowVector2d(2, 1));
}

TEST_CASE("Every CSV error names the line and the column", "[csv]") {
  const CsvOptions score{.targets = {"score"}};
  check_error("x,score\n1,2\n3,abc\n", score,
              {"data.csv: line 3, column 2", "\"abc\" in column \"score\" is not a number"});
  check_error("x,score\n1,2\n3\n", score,
              {"data.csv: line 3, column 2", "ends after 1 fields, but the header has 2"});
  check_error("x,score\n1,2,7\n", score, {"line 2, column 3", "an extra field"});
  check_error("x,score\n1,\n", score, {"line 2, column 2", "empty, not a number"});
  check_error("x,score\n1,nan\n", score,
              {"line 2, column 2", "\"nan\" in column \"score\" is not finite"});
  check_error("x,score\n-inf,1\n", score, {"line 2, column 1", "not finite"});
  check_error("x,score\n\"1,2\n", score, {"line 2, column 1", "no closing quote"});
  check_error("", score, {"data.csv", "empty"});
  check_error("x,score\n\n", score, {"no data rows"});
  check_error("x,y\n1,2\n", score, {"no column named \"score\"", "\"x\", \"y\""});
  check_error("1,2\n", {.header = false, .targets = {5}}, {"no column 5", "2 columns"});
  check_error("x,score\n1,2\n", {.targets = {"score"}, .features = {"score"}},
              {"\"score\" is chosen as a feature and a target"});
  // NaN and Inf pass when allowed.
  const auto data = parse("x,score\n1,nan\n", {.targets = {"score"}, .allow_non_finite = true});
  CHECK(std::isnan(data.targets(0, 0)));
}

TEST_CASE("Reading a CSV file by path", "[csv]") {
  test::TempDir dir;
  const auto file = dir.write("study.csv", "studied,slept,score\n2,9,92\n1,5,86\n");
  const auto data = read_csv<float>(file, {.targets = {"score"}});
  CHECK(data.features.rows() == 2);
  CHECK(data.targets(1, 0) == 86.0f);
  CHECK_THROWS_AS(read_csv(dir / "missing.csv"), FileError);
  CHECK_THROWS_WITH(read_csv(dir.write("bad.csv", "a,b\n1,x\n")),
                    test::contains("bad.csv: line 2, column 2"));
}
