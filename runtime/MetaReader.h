//===- MetaReader.h - typed access to META's JSON ----------------*- C++
//-*-===//
//
// Every read names its JSON key path on failure ("model.mbx: META:
// cuda.plans.score.steps[2].grid[0]: expected ..."), as MBRT_ERROR_FORMAT.
// Shared by ModelMetadata (the CPU ABI) and CudaMetadata (META.cuda).
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_METAREADER_H
#define MBRT_METAREADER_H

#include "RuntimeError.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace mbrt {

using nlohmann::json;

/// The largest element count of one tensor or buffer (2^40): bounds every
/// product of a shape so later arithmetic cannot overflow.
constexpr int64_t maxElements = int64_t(1) << 40;

inline std::string keyPath(const std::string &parent, const std::string &key) {
  return parent.empty() ? key : parent + "." + key;
}

inline std::string indexPath(const std::string &parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

/// Typed access to META's JSON; every failure names the key path.
class MetaReader {
public:
  explicit MetaReader(std::string artifactPath)
      : prefix_(std::move(artifactPath) + ": META: ") {}

  [[noreturn]] void error(const std::string &path,
                          const std::string &message) const {
    fail(MBRT_ERROR_FORMAT,
         prefix_ + (path.empty() ? "" : path + ": ") + message);
  }

  const json &member(const json &object, const std::string &objectPath,
                     const char *key) const {
    const json *value = optionalMember(object, objectPath, key);
    if (!value)
      error(keyPath(objectPath, key), "required key is missing");
    return *value;
  }

  const json *optionalMember(const json &object, const std::string &objectPath,
                             const char *key) const {
    if (!object.is_object())
      error(objectPath, "expected an object, got " + describe(object));
    auto found = object.find(key);
    return found == object.end() ? nullptr : &*found;
  }

  const json &objectAt(const json &object, const std::string &objectPath,
                       const char *key) const {
    const json &value = member(object, objectPath, key);
    if (!value.is_object())
      error(keyPath(objectPath, key),
            "expected an object, got " + describe(value));
    return value;
  }

  const json &arrayAt(const json &object, const std::string &objectPath,
                      const char *key) const {
    const json &value = member(object, objectPath, key);
    if (!value.is_array())
      error(keyPath(objectPath, key),
            "expected an array, got " + describe(value));
    return value;
  }

  int64_t integer(const json &value, const std::string &path, int64_t minimum,
                  int64_t maximum) const {
    if (!value.is_number_integer())
      error(path, "expected an integer, got " + describe(value));
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() >
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      error(path, "integer " + value.dump() + " is out of range");
    int64_t number = value.get<int64_t>();
    if (number < minimum || number > maximum)
      error(path, "expected an integer in [" + std::to_string(minimum) + ", " +
                      std::to_string(maximum) + "], got " +
                      std::to_string(number));
    return number;
  }

  int64_t integerAt(const json &object, const std::string &objectPath,
                    const char *key, int64_t minimum, int64_t maximum) const {
    return integer(member(object, objectPath, key), keyPath(objectPath, key),
                   minimum, maximum);
  }

  std::string stringAt(const json &object, const std::string &objectPath,
                       const char *key) const {
    const json &value = member(object, objectPath, key);
    if (!value.is_string())
      error(keyPath(objectPath, key),
            "expected a string, got " + describe(value));
    return value.get<std::string>();
  }

  bool booleanAt(const json &object, const std::string &objectPath,
                 const char *key) const {
    const json &value = member(object, objectPath, key);
    if (!value.is_boolean())
      error(keyPath(objectPath, key),
            "expected true or false, got " + describe(value));
    return value.get<bool>();
  }

  std::vector<int64_t> shapeAt(const json &object,
                               const std::string &objectPath) const {
    std::string path = keyPath(objectPath, "shape");
    const json &value = arrayAt(object, objectPath, "shape");
    std::vector<int64_t> shape;
    int64_t count = 1;
    for (size_t i = 0; i < value.size(); ++i) {
      int64_t dim = integer(value[i], indexPath(path, i), 0, maxElements);
      if (dim != 0 && count > maxElements / dim)
        error(path, "more than 2^40 elements");
      count *= dim;
      shape.push_back(dim);
    }
    return shape;
  }

  double number(const json &value, const std::string &path) const {
    if (!value.is_number())
      error(path, "expected a number, got " + describe(value));
    return value.get<double>();
  }

  /// An array of exactly `count` integers (any count when `count` is 0),
  /// each in [minimum, maximum].
  std::vector<int64_t> integersAt(const json &object,
                                  const std::string &objectPath,
                                  const char *key, size_t count,
                                  int64_t minimum, int64_t maximum) const {
    std::string path = keyPath(objectPath, key);
    const json &value = arrayAt(object, objectPath, key);
    if (count != 0 && value.size() != count)
      error(path, "expected " + std::to_string(count) + " integers, got " +
                      std::to_string(value.size()));
    std::vector<int64_t> numbers;
    for (size_t i = 0; i < value.size(); ++i)
      numbers.push_back(
          integer(value[i], indexPath(path, i), minimum, maximum));
    return numbers;
  }

  static std::string describe(const json &value) {
    std::string text = value.dump();
    if (text.size() > 40)
      text = text.substr(0, 37) + "...";
    return std::string(value.type_name()) + " " + text;
  }

private:
  std::string prefix_;
};

} // namespace mbrt

#endif // MBRT_METAREADER_H
