//===- StrictJson.cpp - llvm::json plus the checks model files need -------===//
//
// After llvm::json has accepted the text, a second pass walks the same text
// token by token, alongside the parsed tree, to find what the tree no longer
// shows: keys that occurred twice and how each number was written.
//
//===----------------------------------------------------------------------===//

#include "mbc/Import/StrictJson.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <vector>

using namespace llvm;

namespace mbc {

char DuplicateJsonKeyError::ID = 0;

void DuplicateJsonKeyError::log(raw_ostream &os) const {
  os << joinKeyPath(objectPath, key) << ": key appears more than once";
}

std::string joinKeyPath(StringRef objectPath, StringRef key) {
  if (objectPath.empty())
    return key.str();
  return (objectPath + "." + key).str();
}

std::string joinIndexPath(StringRef arrayPath, size_t index) {
  return (arrayPath + "[" + Twine(index) + "]").str();
}

namespace {

static bool isJsonWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// Rejects nesting deeper than the limit before llvm::json recurses into it.
/// Brackets inside strings do not count; the text may be invalid JSON, in
/// which case this over- rather than under-counts what the parser would see.
static Error checkNestingDepth(StringRef text, unsigned maxDepth) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t pos = 0, size = text.size(); pos < size; ++pos) {
    char c = text[pos];
    if (inString) {
      if (c == '\\')
        ++pos; // The escaped character cannot end the string.
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth)
        return createStringError(
            formatv("JSON nested deeper than {0} levels at byte {1}", maxDepth,
                    pos)
                .str());
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Error::success();
}

/// Walks text that llvm::json has already accepted, in step with the tree it
/// produced. Because the text is known to be valid, the walk only needs to
/// tell tokens apart; every bounds check is still made so that a mismatch can
/// never read out of range.
class SourceWalker {
public:
  SourceWalker(StringRef text, json::Value &root,
               DenseMap<const json::Value *, std::string> &nonIntegerLiterals)
      : text(text), root(root), nonIntegerLiterals(nonIntegerLiterals) {}

  Error walk() {
    if (Error err = beginValue(&root, ""))
      return err;
    while (!open.empty()) {
      skipWhitespace();
      char c = peek();
      if (c == '}' || c == ']') {
        ++pos;
        open.pop_back();
        continue;
      }
      if (c == ',') {
        ++pos;
        skipWhitespace();
      }
      if (open.back().isObject) {
        if (Error err = nextMember())
          return err;
      } else if (Error err = nextElement()) {
        return err;
      }
    }
    return Error::success();
  }

private:
  struct OpenContainer {
    json::Value *node;
    bool isObject;
    std::string path;
    StringSet<> keysSeen;
    size_t nextIndex = 0;
  };

  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  void skipWhitespace() {
    while (pos < text.size() && isJsonWhitespace(text[pos]))
      ++pos;
  }
  Error mismatch() const {
    return createStringError(
        formatv("JSON walk lost its place at byte {0}", pos).str());
  }

  /// Consumes one string token and returns it with its quotes and escapes.
  StringRef takeStringToken() {
    size_t begin = pos++;
    while (pos < text.size() && text[pos] != '"')
      pos += text[pos] == '\\' ? 2 : 1;
    pos = std::min(pos + 1, text.size());
    return text.slice(begin, pos);
  }

  Expected<std::string> decodeKey(StringRef token) {
    if (!token.contains('\\'))
      return token.drop_front().drop_back().str();
    // Escapes are rare in keys; let llvm::json decode them so "a" and "\u0061"
    // compare equal exactly as they do in the parsed object.
    Expected<json::Value> decoded = json::parse(token);
    if (!decoded)
      return decoded.takeError();
    if (std::optional<StringRef> key = decoded->getAsString())
      return key->str();
    return mismatch();
  }

  Error nextMember() {
    OpenContainer &object = open.back();
    if (peek() != '"')
      return mismatch();
    Expected<std::string> key = decodeKey(takeStringToken());
    if (!key)
      return key.takeError();
    if (!object.keysSeen.insert(*key).second)
      return make_error<DuplicateJsonKeyError>(object.path, *key);
    skipWhitespace();
    if (peek() != ':')
      return mismatch();
    ++pos;
    skipWhitespace();
    json::Value *child = object.node->getAsObject()->get(*key);
    if (!child)
      return mismatch();
    std::string childPath = joinKeyPath(object.path, *key);
    return beginValue(child, std::move(childPath));
  }

  Error nextElement() {
    OpenContainer &array = open.back();
    json::Array *elements = array.node->getAsArray();
    if (array.nextIndex >= elements->size())
      return mismatch();
    size_t index = array.nextIndex++;
    std::string childPath = joinIndexPath(array.path, index);
    return beginValue(&(*elements)[index], std::move(childPath));
  }

  /// Consumes a scalar, or opens a container whose contents the main loop
  /// then walks.
  Error beginValue(json::Value *node, std::string path) {
    skipWhitespace();
    char c = peek();
    if (c == '{' || c == '[') {
      bool isObject = c == '{';
      if (isObject ? !node->getAsObject() : !node->getAsArray())
        return mismatch();
      ++pos;
      open.push_back({node, isObject, std::move(path), {}, 0});
      return Error::success();
    }
    if (c == '"') {
      takeStringToken();
      return Error::success();
    }
    size_t begin = pos;
    while (pos < text.size() && !isJsonWhitespace(text[pos]) &&
           text[pos] != ',' && text[pos] != ']' && text[pos] != '}')
      ++pos;
    StringRef token = text.slice(begin, pos);
    if (token.empty())
      return mismatch();
    bool isNumber = token[0] == '-' || isDigit(token[0]);
    if (isNumber && token.find_first_of(".eE") != StringRef::npos)
      nonIntegerLiterals[node] = token.str();
    return Error::success();
  }

  StringRef text;
  json::Value &root;
  DenseMap<const json::Value *, std::string> &nonIntegerLiterals;
  size_t pos = 0;
  std::vector<OpenContainer> open;
};

} // namespace

Expected<StrictJsonDocument> StrictJsonDocument::parse(StringRef text) {
  if (Error err = checkNestingDepth(text, maxNestingDepth))
    return err;
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return createStringError("invalid JSON: " + toString(parsed.takeError()));

  StrictJsonDocument document;
  document.rootValue = std::make_unique<json::Value>(std::move(*parsed));
  SourceWalker walker(text, *document.rootValue, document.nonIntegerLiterals);
  if (Error err = walker.walk())
    return err;
  return document;
}

std::optional<int64_t>
StrictJsonDocument::getInteger(const json::Value &value) const {
  if (nonIntegerLiterals.count(&value))
    return std::nullopt;
  return value.getAsInteger();
}

std::string StrictJsonDocument::describe(const json::Value &value) const {
  auto literal = nonIntegerLiterals.find(&value);
  std::string text = literal != nonIntegerLiterals.end()
                         ? literal->second
                         : formatv("{0}", value).str();
  constexpr size_t maxLength = 40;
  if (text.size() > maxLength)
    text = text.substr(0, maxLength) + "...";
  return text;
}

} // namespace mbc
