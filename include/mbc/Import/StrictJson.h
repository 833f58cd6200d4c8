//===- StrictJson.h - llvm::json plus the checks model files need -*- C++
//-*-===//
//
// Both files of a model directory are JSON (config.json and the safetensors
// header). llvm::json::parse accepts three things those files must not:
// duplicate keys (it silently keeps the last one), integers written as 3.0 or
// 1e3 (getAsInteger() returns them as integers) and unbounded nesting (it
// recurses once per level, so "[[[[..." can exhaust the stack).
//
//===----------------------------------------------------------------------===//
#ifndef MBC_IMPORT_STRICTJSON_H
#define MBC_IMPORT_STRICTJSON_H

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace mbc {

/// A JSON document parsed by llvm::json, remembering which numbers were
/// written with a fraction or an exponent.
class StrictJsonDocument {
public:
  /// Nesting deeper than this is rejected before llvm::json recurses into it.
  static constexpr unsigned maxNestingDepth = 64;

  /// Parses `text`. Errors carry no file name (callers prefix it): invalid
  /// UTF-8 or JSON, nesting too deep, or a duplicate key, which is reported
  /// as "<key path>: key appears more than once" (a DuplicateJsonKeyError,
  /// so a caller can word it for its format).
  static llvm::Expected<StrictJsonDocument> parse(llvm::StringRef text);

  const llvm::json::Value &root() const { return *rootValue; }

  /// The integer `value` holds, if it is a number written as an integer
  /// literal ("3", not "3.0" or "3e0") that fits in int64_t.
  std::optional<int64_t> getInteger(const llvm::json::Value &value) const;

  /// `value` as the file spells it, shortened, for error messages.
  std::string describe(const llvm::json::Value &value) const;

private:
  // Held by pointer: numbers are looked up by address, and the root's address
  // must survive moving the document.
  std::unique_ptr<llvm::json::Value> rootValue;
  llvm::DenseMap<const llvm::json::Value *, std::string> nonIntegerLiterals;
};

/// A key that occurs twice in one JSON object.
class DuplicateJsonKeyError : public llvm::ErrorInfo<DuplicateJsonKeyError> {
public:
  static char ID; // NOLINT(readability-identifier-naming): llvm::ErrorInfo
  DuplicateJsonKeyError(std::string objectPath, std::string key)
      : objectPath(std::move(objectPath)), key(std::move(key)) {}

  /// Key path of the object holding the key ("" for the top level), written
  /// like "stages[1]".
  const std::string &getObjectPath() const { return objectPath; }
  const std::string &getKey() const { return key; }

  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override {
    return llvm::inconvertibleErrorCode();
  }

private:
  std::string objectPath;
  std::string key;
};

/// Joins key paths the way error messages write them: "stages" + "dim" ->
/// "stages.dim"; a top-level key stands alone.
std::string joinKeyPath(llvm::StringRef objectPath, llvm::StringRef key);
/// "stages" + 1 -> "stages[1]".
std::string joinIndexPath(llvm::StringRef arrayPath, size_t index);

} // namespace mbc

#endif // MBC_IMPORT_STRICTJSON_H
