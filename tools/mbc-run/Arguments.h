//===- Arguments.h - strict command-line parsing for mbc-run ----*- C++ -*-===//
//
// Each subcommand declares its options; anything else (an unknown option, a
// missing or malformed value, a missing positional) is a UsageError, which
// main() reports with the usage text and exit status 2.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_RUN_ARGUMENTS_H
#define MBC_RUN_ARGUMENTS_H

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace mbc_run {

class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The options of one subcommand: flags (no value) and valued options, each
/// at most once, "--name value" or "--name=value"; short aliases like "-n".
class Arguments {
public:
  Arguments(std::vector<std::string> flags, std::vector<std::string> valued)
      : flags_(std::move(flags)), valued_(std::move(valued)) {}

  /// Parses argv[first..argc). Throws UsageError.
  void parse(int argc, char **argv, int first);

  bool has(const std::string &name) const { return values_.count(name) != 0; }
  std::string text(const std::string &name, const std::string &fallback) const;
  int64_t integer(const std::string &name, int64_t fallback, int64_t minimum,
                  int64_t maximum) const;
  uint64_t unsignedInteger(const std::string &name, uint64_t fallback) const;
  double number(const std::string &name, double fallback) const;
  /// The positional arguments in order.
  const std::vector<std::string> &positionals() const { return positionals_; }

private:
  std::vector<std::string> flags_, valued_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

} // namespace mbc_run

#endif // MBC_RUN_ARGUMENTS_H
