// ModelExtras: what a model file carries besides the network, such as the names of the columns
// it was trained on and the scalers of its inputs and targets, so that a program that loads the
// model can prepare new data exactly as the training data was.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../data/scaler.hpp"

namespace backprop {

/// Named texts and matrices (matrices kept in double whatever the model's scalar).
struct ModelExtras {
  std::map<std::string, std::string> texts;
  std::map<std::string, Eigen::MatrixXd> arrays;
};

/// Stores a fitted scaler under `key`: its kind in texts, its offset and scale in arrays.
inline void store_scaler(ModelExtras& extras, const std::string& key, const Scaler& scaler) {
  extras.texts[key + ".scaler"] = std::string(scaler.kind());
  extras.arrays[key + ".offset"] = scaler.offset();
  extras.arrays[key + ".scale"] = scaler.scale();
}

/// The scaler stored under `key`; a FormatError naming `source` if it is missing or malformed.
inline std::unique_ptr<Scaler> restore_scaler(const ModelExtras& extras, const std::string& key,
                                              const std::string& source) {
  const auto kind = extras.texts.find(key + ".scaler");
  const auto offset = extras.arrays.find(key + ".offset");
  const auto scale = extras.arrays.find(key + ".scale");
  if (kind == extras.texts.end() || offset == extras.arrays.end() || scale == extras.arrays.end())
    throw FormatError(source + ": the model file has no scaler for its " + key);
  if (offset->second.rows() != 1 || scale->second.rows() != 1)
    throw FormatError(source + ": the " + key + " scaler's offset and scale must be rows");
  try {
    auto scaler = make_scaler(kind->second);
    scaler->set(offset->second, scale->second);
    return scaler;
  } catch (const std::invalid_argument& e) {
    throw FormatError(source + ": the " + key + " scaler: " + e.what());
  }
}

/// Names joined by newlines (which a CSV header name cannot contain unquoted), and split back.
inline std::string join_names(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names)
    joined += (joined.empty() ? "" : "\n") + name;
  return joined;
}
/// The names join_names joined.
inline std::vector<std::string> split_names(const std::string& joined) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (true) {
    const auto end = joined.find('\n', start);
    names.push_back(joined.substr(start, end - start));
    if (end == std::string::npos) return names;
    start = end + 1;
  }
}

}  // namespace backprop
