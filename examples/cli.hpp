// A small command-line parser for the examples: --name VALUE or --name=VALUE, --help, and an
// error that names the option and the bad value. Not part of the library.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace cli {

// A bad flag or value; main() prints it with a hint at --help and exits with status 2.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Parser {
 public:
  Parser(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  // --name VALUE, with a default shown in --help.
  Parser& option(std::string name, std::string value_name, std::string help,
                 std::string default_value) {
    options_.push_back({name, std::move(value_name), std::move(help), default_value});
    values_[std::move(name)] = std::move(default_value);
    return *this;
  }

  // Reads argv. Returns false when --help was asked for and printed; throws Error on bad input.
  bool parse(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        print_help(std::cout);
        return false;
      }
      if (!arg.starts_with("--")) throw Error("unexpected argument '" + std::string(arg) + "'");
      std::string name(arg.substr(2));
      std::optional<std::string> value;
      if (const auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      }
      if (!values_.contains(name)) throw Error("unknown option '--" + name + "'");
      if (!value) {
        if (i + 1 >= argc) throw Error("option '--" + name + "' needs a value");
        value = argv[++i];
      }
      values_[name] = *value;
    }
    return true;
  }

  const std::string& text(const std::string& name) const { return values_.at(name); }

  // A whole number in [min, max].
  std::int64_t integer(const std::string& name, std::int64_t min,
                       std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
    const std::string& value = text(name);
    std::int64_t result = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
    if (error != std::errc() || end != value.data() + value.size() || result < min || result > max)
      throw Error(
          "--" + name + " expects a whole number from " + std::to_string(min) +
          (max == std::numeric_limits<std::int64_t>::max() ? " up" : " to " + std::to_string(max)) +
          ", got '" + value + "'");
    return result;
  }

  // A finite number >= min.
  double number(const std::string& name, double min) const {
    const std::string& value = text(name);
    double result = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
    if (error != std::errc() || end != value.data() + value.size() || !std::isfinite(result) ||
        result < min)
      throw Error("--" + name + " expects a finite number >= " + std::to_string(min) + ", got '" +
                  value + "'");
    return result;
  }

  // A comma-separated list of whole numbers, each at least min ("128,64").
  std::vector<std::int64_t> integers(const std::string& name, std::int64_t min) const {
    std::vector<std::int64_t> result;
    std::string_view rest = text(name);
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      std::int64_t v = 0;
      const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), v);
      if (error != std::errc() || end != item.data() + item.size() || v < min)
        throw Error("--" + name + " expects whole numbers from " + std::to_string(min) +
                    " separated by commas, got '" + text(name) + "'");
      result.push_back(v);
      if (comma == std::string_view::npos) return result;
      rest.remove_prefix(comma + 1);
    }
  }

  // One character; "tab" or "\t" for a tab.
  char character(const std::string& name) const {
    const std::string& value = text(name);
    if (value == "tab" || value == "\\t") return '\t';
    if (value.size() != 1)
      throw Error("--" + name + " expects one character (or tab), got '" + value + "'");
    return value[0];
  }

  void print_help(std::ostream& out) const {
    out << "Usage: " << program_ << " [options]\n\n" << summary_ << "\n\nOptions:\n";
    for (const auto& o : options_) {
      const std::string head = "--" + o.name + " " + o.value_name;
      out << "  " << std::left << std::setw(26) << head << o.help;
      if (!o.default_value.empty()) out << " (default: " << o.default_value << ")";
      out << "\n";
    }
    out << "  " << std::left << std::setw(26) << "--help"
        << "show this help and exit\n";
  }

  const std::string& program() const { return program_; }

 private:
  struct Option {
    std::string name, value_name, help, default_value;
  };
  std::string program_, summary_;
  std::vector<Option> options_;
  std::map<std::string, std::string> values_;
};

// True for "3", "-1": a column index rather than a name.
inline bool is_index(std::string_view text) {
  if (text.starts_with('-')) text.remove_prefix(1);
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

inline constexpr int bad_arguments = 2;  // the exit status of a bad option

// Runs body(parser) with the usual exit statuses: 0 on success or --help, bad_arguments on a bad
// option, 1 on any other error, each with a message on stderr.
template <class Body>
int run(Parser& parser, int argc, const char* const* argv, Body&& body) {
  try {
    if (!parser.parse(argc, argv)) return 0;
    return body(parser);
  } catch (const Error& e) {
    std::cerr << parser.program() << ": " << e.what() << "\nTry '" << parser.program()
              << " --help'.\n";
    return bad_arguments;
  } catch (const std::exception& e) {
    std::cerr << parser.program() << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace cli
