//===- Arguments.cpp - strict command-line parsing for mbc-run ------------===//
#include "Arguments.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace mbc_run {

void Arguments::parse(int argc, char **argv, int first) {
  auto contains = [](const std::vector<std::string> &names,
                     const std::string &name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  bool onlyPositionals = false;
  for (int i = first; i < argc; ++i) {
    std::string argument = argv[i];
    if (onlyPositionals || argument.size() < 2 || argument[0] != '-') {
      positionals_.push_back(argument);
      continue;
    }
    if (argument == "--") {
      onlyPositionals = true;
      continue;
    }
    std::string name = argument, value;
    bool inlineValue = false;
    size_t equals = argument.find('=');
    if (argument.compare(0, 2, "--") == 0 && equals != std::string::npos) {
      name = argument.substr(0, equals);
      value = argument.substr(equals + 1);
      inlineValue = true;
    }
    if (values_.count(name))
      throw UsageError(name + " is given twice");
    if (contains(flags_, name)) {
      if (inlineValue)
        throw UsageError(name + " takes no value");
      values_[name] = "";
    } else if (contains(valued_, name)) {
      if (!inlineValue) {
        if (i + 1 >= argc)
          throw UsageError(name + " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      throw UsageError("unknown option " + name);
    }
  }
}

std::string Arguments::text(const std::string &name,
                            const std::string &fallback) const {
  auto found = values_.find(name);
  return found == values_.end() ? fallback : found->second;
}

int64_t Arguments::integer(const std::string &name, int64_t fallback,
                           int64_t minimum, int64_t maximum) const {
  auto found = values_.find(name);
  if (found == values_.end())
    return fallback;
  const std::string &value = found->second;
  char *end = nullptr;
  errno = 0;
  long long parsed = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || parsed < minimum ||
      parsed > maximum)
    throw UsageError(name + " needs an integer in [" + std::to_string(minimum) +
                     ", " + std::to_string(maximum) + "], got \"" + value +
                     "\"");
  return parsed;
}

uint64_t Arguments::unsignedInteger(const std::string &name,
                                    uint64_t fallback) const {
  auto found = values_.find(name);
  if (found == values_.end())
    return fallback;
  const std::string &value = found->second;
  char *end = nullptr;
  errno = 0;
  unsigned long long parsed = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0)
    throw UsageError(name + " needs an unsigned 64-bit integer, got \"" +
                     value + "\"");
  return parsed;
}

double Arguments::number(const std::string &name, double fallback) const {
  auto found = values_.find(name);
  if (found == values_.end())
    return fallback;
  const std::string &value = found->second;
  char *end = nullptr;
  errno = 0;
  double parsed = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(parsed))
    throw UsageError(name + " needs a number, got \"" + value + "\"");
  return parsed;
}

} // namespace mbc_run
