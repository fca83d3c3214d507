// CSV files into Eigen matrices: features and targets, chosen by column name or index.
//
//   auto data = read_csv<float>("study_sleep.csv", {.targets = {"score"}});
//   data.features   // (rows, every column but "score")
//   data.targets    // (rows, 1)
//
// Fields are separated by `delimiter` and may be quoted ("a, b", with "" for a quote); spaces
// around a field and blank lines are ignored, as are a UTF-8 byte-order mark and \r\n line ends.
// Columns that are not selected may hold anything. Every problem is a FormatError naming the
// file, the line and the column: a field that is not a number, a number out of the scalar's range
// (1e400, or 1e-400, which would read as 0), a row with too few or too many fields, an empty
// file, and NaN or Inf (unless allow_non_finite). Numbers are read in the C locale (a point, not
// a comma, whatever the process's locale).
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"

namespace backprop {

/// A column chosen by its name in the header, or by its index: from 0, or from -1 for the last.
class Column {
 public:
  /// The column named `name` in the header.
  Column(std::string name) : key_(std::move(name)) {}
  /// The column named `name` in the header.
  Column(const char* name) : key_(std::string(name)) {}
  /// The column at `index` (from 0, or from -1 for the last).
  Column(int index) : key_(static_cast<Index>(index)) {}
  /// The column at `index` (from 0, or from -1 for the last).
  Column(Index index) : key_(index) {}

  /// The name, or nullptr when chosen by index.
  const std::string* name() const { return std::get_if<std::string>(&key_); }
  /// The index, or nullptr when chosen by name.
  const Index* index() const { return std::get_if<Index>(&key_); }

 private:
  std::variant<std::string, Index> key_;
};

/// How read_csv splits lines and which columns it takes.
struct CsvOptions {
  bool header = true;              ///< the first line names the columns
  char delimiter = ',';            ///< what separates fields
  std::vector<Column> targets{};   ///< none: every selected column is a feature
  std::vector<Column> features{};  ///< none: every column that is not a target
  bool allow_non_finite = false;   ///< accept nan, inf and -inf in selected columns
};

/// What read_csv returns.
template <class Scalar>
struct CsvData {
  Eigen::Matrix<Scalar, Dynamic, Dynamic> features, targets;  ///< (rows, columns chosen)
  std::vector<std::string> feature_names, target_names;       ///< from the header, or "column N"
};

namespace detail {

/// Splits one line into fields; `bad` receives the 1-based column of an unterminated quote.
inline std::vector<std::string> split_csv_line(std::string_view line, char delimiter,
                                               std::optional<std::size_t>& bad) {
  std::vector<std::string> fields;
  std::string field;
  std::size_t i = 0;
  auto trim = [](std::string& s) {
    const auto first = s.find_first_not_of(" \t");
    const auto last = s.find_last_not_of(" \t");
    s = first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
  };
  while (true) {
    field.clear();
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        field += line[i++];
      }
      if (!closed) {
        bad = fields.size() + 1;
        return fields;
      }
      while (i < line.size() && line[i] != delimiter)
        ++i;  // spaces after the closing quote
    } else {
      while (i < line.size() && line[i] != delimiter)
        field += line[i++];
      trim(field);
    }
    fields.push_back(field);
    if (i >= line.size()) break;
    ++i;  // the delimiter
  }
  return fields;
}

/// Reads the next non-blank line of `in` into `fields`; false at the end of the input. `number`
/// counts the lines read (so it is the line's number); a UTF-8 byte-order mark on line 1 and a
/// Windows \r are dropped. An unclosed quote throws FormatError naming `source`, line and column.
inline bool read_csv_row(std::istream& in, const std::string& source, char delimiter,
                         std::size_t& number, std::vector<std::string>& fields) {
  std::string line;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::optional<std::size_t> bad;
    fields = split_csv_line(line, delimiter, bad);
    if (bad)
      throw FormatError(source + ": line " + std::to_string(number) + ", column " +
                        std::to_string(*bad) + ": a quoted field has no closing quote");
    return true;
  }
  return false;
}

/// Parses a whole field as a number; false when it is not one.
/// What parse_number found.
enum class Parsed { number, not_a_number, out_of_range };

/// Parses a whole field as a number of type Scalar, in the C locale: an optional sign (one), then
/// what std::from_chars reads ("1.5", "-2e-3", "nan", "inf"). A number that Scalar cannot hold,
/// too large (1e400) or so small that it would read as 0 (1e-400), is out_of_range.
template <class Scalar>
Parsed parse_number(std::string_view text, Scalar& value) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) return Parsed::not_a_number;
  }
  if (text.empty()) return Parsed::not_a_number;
  double parsed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (end != text.data() + text.size()) return Parsed::not_a_number;
  if (error == std::errc::result_out_of_range) return Parsed::out_of_range;
  if (error != std::errc()) return Parsed::not_a_number;
  value = static_cast<Scalar>(parsed);
  if (std::isfinite(parsed) && (!std::isfinite(value) || (value == 0 && parsed != 0)))
    return Parsed::out_of_range;
  return Parsed::number;
}

}  // namespace detail

/// Reads CSV text from `in`; `source` names it in error messages (usually the file's path).
template <class Scalar = double>
CsvData<Scalar> read_csv(std::istream& in, const std::string& source,
                         const CsvOptions& options = {}) {
  auto fail = [&](const std::string& what) -> void { throw FormatError(source + ": " + what); };
  auto fail_at = [&](std::size_t line, std::size_t column, const std::string& what) {
    fail("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + what);
  };

  /// All non-blank lines, with their numbers.
  std::vector<std::pair<std::size_t, std::vector<std::string>>> rows;
  std::size_t lines_read = 0;
  std::vector<std::string> row;
  while (detail::read_csv_row(in, source, options.delimiter, lines_read, row))
    rows.emplace_back(lines_read, std::move(row));
  if (in.bad()) throw FileError(source + ": read error");
  if (rows.empty()) fail("the file is empty: no header and no rows");

  /// Column names, from the header or made up.
  const std::size_t width = rows.front().second.size();
  std::vector<std::string> names;
  if (options.header) {
    names = rows.front().second;
    rows.erase(rows.begin());
    if (rows.empty()) fail("the header has no data rows below it");
  } else {
    for (std::size_t c = 0; c < width; ++c)
      names.push_back("column " + std::to_string(c));
  }

  auto resolve = [&](const Column& column) -> std::size_t {
    if (const Index* index = column.index()) {
      const Index i = *index < 0 ? *index + static_cast<Index>(width) : *index;  // -1: the last
      if (i < 0 || static_cast<std::size_t>(i) >= width)
        fail("there is no column " + std::to_string(*index) + ": the file has " +
             std::to_string(width) + " columns, numbered from 0 (or from -1 backwards)");
      return static_cast<std::size_t>(i);
    }
    const std::string& name = *column.name();
    if (!options.header) fail("column \"" + name + "\" is chosen by name, but there is no header");
    for (std::size_t c = 0; c < width; ++c)
      if (names[c] == name) return c;
    std::string known;
    for (const auto& n : names)
      known += (known.empty() ? "\"" : ", \"") + n + "\"";
    fail("there is no column named \"" + name + "\"; the columns are " + known);
    return 0;
  };
  std::vector<std::size_t> target_columns, feature_columns;
  for (const Column& c : options.targets)
    target_columns.push_back(resolve(c));
  for (const Column& c : options.features) {
    const std::size_t index = resolve(c);
    for (std::size_t t : target_columns)
      if (t == index) fail("column \"" + names[index] + "\" is chosen as a feature and a target");
    feature_columns.push_back(index);
  }
  if (options.features.empty())
    for (std::size_t c = 0; c < width; ++c)
      if (std::find(target_columns.begin(), target_columns.end(), c) == target_columns.end())
        feature_columns.push_back(c);

  CsvData<Scalar> data;
  const auto n = static_cast<Index>(rows.size());
  data.features.resize(n, static_cast<Index>(feature_columns.size()));
  data.targets.resize(n, static_cast<Index>(target_columns.size()));
  for (std::size_t c : feature_columns)
    data.feature_names.push_back(names[c]);
  for (std::size_t c : target_columns)
    data.target_names.push_back(names[c]);

  for (Index r = 0; r < n; ++r) {
    // Named references, not a structured binding: the lambdas below capture them (Clang 14).
    const std::size_t number = rows[static_cast<std::size_t>(r)].first;
    const auto& fields = rows[static_cast<std::size_t>(r)].second;
    if (fields.size() != width)
      fail_at(number, std::min(fields.size(), width) + 1,
              fields.size() < width
                  ? "the row ends after " + std::to_string(fields.size()) + " fields, but " +
                        (options.header ? "the header has " : "the first row has ") +
                        std::to_string(width)
                  : "an extra field: the row has " + std::to_string(fields.size()) +
                        " fields, but " +
                        (options.header ? "the header has " : "the first row has ") +
                        std::to_string(width));
    auto read = [&](std::size_t column) {
      const std::string& field = fields[column];
      const std::string label = "\"" + field + "\" in column \"" + names[column] + "\"";
      Scalar value = 0;
      const detail::Parsed parsed = detail::parse_number(field, value);
      if (parsed == detail::Parsed::not_a_number)
        fail_at(number, column + 1,
                field.empty()
                    ? "the field in column \"" + names[column] + "\" is empty, not a number"
                    : label + " is not a number");
      if (parsed == detail::Parsed::out_of_range)
        fail_at(number, column + 1,
                label + " is out of range for " + (sizeof(Scalar) == 4 ? "float" : "double"));
      if (!std::isfinite(value) && !options.allow_non_finite)
        fail_at(number, column + 1,
                label + " is not finite (set allow_non_finite to accept NaN and Inf)");
      return value;
    };
    for (std::size_t k = 0; k < feature_columns.size(); ++k)
      data.features(r, static_cast<Index>(k)) = read(feature_columns[k]);
    for (std::size_t k = 0; k < target_columns.size(); ++k)
      data.targets(r, static_cast<Index>(k)) = read(target_columns[k]);
  }
  return data;
}

namespace detail {
/// The text file at `path`, open; a FileError for a directory or a file that cannot be opened.
/// (Pipes and other streams are fine: a CSV is read line by line.)
inline std::ifstream open_text(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw FileError(path.string() + ": is a directory, not a file");
  std::ifstream in(path);
  if (!in) throw FileError(path.string() + ": cannot open for reading");
  return in;
}
}  // namespace detail

/// The names in the first non-blank line of a CSV file.
inline std::vector<std::string> read_csv_header(const std::filesystem::path& path,
                                                char delimiter = ',') {
  std::ifstream in = detail::open_text(path);
  std::size_t number = 0;
  std::vector<std::string> names;
  if (detail::read_csv_row(in, path.string(), delimiter, number, names)) return names;
  throw FormatError(path.string() + ": the file is empty: no header and no rows");
}

/// Reads the CSV file at `path`; messages name the file.
template <class Scalar = double>
CsvData<Scalar> read_csv(const std::filesystem::path& path, const CsvOptions& options = {}) {
  std::ifstream in = detail::open_text(path);
  return read_csv<Scalar>(in, path.string(), options);
}

}  // namespace backprop
