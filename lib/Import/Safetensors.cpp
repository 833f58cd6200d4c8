//===- Safetensors.cpp - reader for the safetensors format ----------------===//
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header, then
// the data section, which the header's data_offsets index. Every size and
// offset comes from the file, so all arithmetic on them is overflow-checked
// and nothing is dereferenced before it is known to lie inside the map.
//
//===----------------------------------------------------------------------===//

#include "mbc/Import/Safetensors.h"
#include "mbc/Import/StrictJson.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <cstring>

using namespace llvm;

namespace mbc {

StringRef stringifyDType(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  }
  return "unknown";
}

int64_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  }
  return 0;
}

namespace {

/// The limit the reference implementation puts on the header, so that a
/// corrupt length cannot make us parse gigabytes of JSON.
constexpr uint64_t maxHeaderBytes = 100'000'000;
constexpr size_t headerLengthBytes = 8;

std::string formatShape(ArrayRef<int64_t> shape) {
  return "[" +
         join(map_range(shape, [](int64_t d) { return std::to_string(d); }),
              ", ") +
         "]";
}

std::string quoteTensor(StringRef name) {
  return ("tensor '" + name + "'").str();
}

/// Reads the header entries of one file; errors name the file and tensor.
class HeaderReader {
public:
  HeaderReader(StringRef path, const StrictJsonDocument &document,
               uint64_t dataSize)
      : path(path), document(document), dataSize(dataSize) {}

  Error read(std::vector<TensorInfo> &entries,
             StringMap<std::string> &metadata) const;

private:
  Error fail(const Twine &where, const Twine &problem) const {
    return createStringError((path + ": " + where + ": " + problem).str());
  }
  Error readMetadata(const json::Value &value,
                     StringMap<std::string> &metadata) const;
  Expected<TensorInfo> readEntry(StringRef name,
                                 const json::Value &value) const;
  Error checkNoOverlap(ArrayRef<TensorInfo> entries) const;

  StringRef path;
  const StrictJsonDocument &document;
  uint64_t dataSize;
};

Error HeaderReader::readMetadata(const json::Value &value,
                                 StringMap<std::string> &metadata) const {
  const json::Object *object = value.getAsObject();
  if (!object)
    return fail("__metadata__", "expected an object of strings, got " +
                                    document.describe(value));
  for (const auto &[key, item] : *object) {
    std::optional<StringRef> text = item.getAsString();
    if (!text)
      return fail(joinKeyPath("__metadata__", key),
                  "expected a string, got " + document.describe(item));
    metadata[key] = text->str();
  }
  return Error::success();
}

Expected<TensorInfo> HeaderReader::readEntry(StringRef name,
                                             const json::Value &value) const {
  const std::string where = quoteTensor(name);
  const json::Object *entry = value.getAsObject();
  if (!entry)
    return fail(where,
                "expected an object with dtype, shape and data_offsets, got " +
                    document.describe(value));
  for (const auto &member : *entry) {
    StringRef key = member.first;
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      return fail(where, "unknown key '" + key +
                             "' (expected dtype, shape and data_offsets)");
  }

  TensorInfo tensor;
  tensor.name = name.str();

  const json::Value *dtypeValue = entry->get("dtype");
  if (!dtypeValue)
    return fail(where, "dtype is missing");
  std::optional<StringRef> dtypeName = dtypeValue->getAsString();
  if (dtypeName == "F32")
    tensor.dtype = DType::F32;
  else if (dtypeName == "F16")
    tensor.dtype = DType::F16;
  else if (dtypeName == "BF16")
    tensor.dtype = DType::BF16;
  else
    return fail(where, "unsupported dtype " + document.describe(*dtypeValue) +
                           " (mbc reads F32, F16 and BF16)");

  const json::Value *shapeValue = entry->get("shape");
  if (!shapeValue)
    return fail(where, "shape is missing");
  const json::Array *shape = shapeValue->getAsArray();
  if (!shape)
    return fail(where, "shape: expected a list of non-negative integers, got " +
                           document.describe(*shapeValue));
  int64_t elements = 1;
  bool overflow = false;
  for (auto [axis, extentValue] : enumerate(*shape)) {
    std::optional<int64_t> extent = document.getInteger(extentValue);
    if (!extent || *extent < 0)
      return fail(where, joinIndexPath("shape", axis) +
                             ": expected a non-negative integer, got " +
                             document.describe(extentValue));
    tensor.shape.push_back(*extent);
    overflow |= MulOverflow(elements, *extent, elements);
  }
  int64_t byteSize = 0;
  overflow |= MulOverflow(elements, dtypeSize(tensor.dtype), byteSize);
  if (overflow)
    return fail(where, "shape " + formatShape(tensor.shape) +
                           " has more bytes than fit in 64 bits");

  const json::Value *offsetsValue = entry->get("data_offsets");
  if (!offsetsValue)
    return fail(where, "data_offsets is missing");
  const json::Array *offsets = offsetsValue->getAsArray();
  if (!offsets || offsets->size() != 2)
    return fail(
        where, "data_offsets: expected two non-negative integers [begin, end], "
               "got " +
                   document.describe(*offsetsValue));
  // Unsigned, so that offsets past 2^63 still read as numbers and are
  // reported as past the end; getAsUINT64 takes no 4.0 or 4e0.
  std::optional<uint64_t> bounds[2];
  for (size_t i = 0; i < 2; ++i) {
    bounds[i] = (*offsets)[i].getAsUINT64();
    if (!bounds[i])
      return fail(where, joinIndexPath("data_offsets", i) +
                             ": expected a non-negative integer, got " +
                             document.describe((*offsets)[i]));
  }
  std::optional<uint64_t> begin = bounds[0], end = bounds[1];
  tensor.begin = *begin;
  tensor.end = *end;
  std::string range = formatv("data_offsets [{0}, {1}]", *begin, *end).str();
  if (*begin > *end)
    return fail(where, range + " are reversed (begin > end)");
  if (*end > dataSize)
    return fail(where,
                range + formatv(" run past the end of the data section ({0} "
                                "bytes); the file may be truncated",
                                dataSize)
                            .str());
  if (*end - *begin != uint64_t(byteSize))
    return fail(where,
                range + formatv(" hold {0} bytes, but {1} shape {2} needs "
                                "{3}",
                                *end - *begin, stringifyDType(tensor.dtype),
                                formatShape(tensor.shape), byteSize)
                            .str());
  return tensor;
}

Error HeaderReader::checkNoOverlap(ArrayRef<TensorInfo> entries) const {
  // `entries` is sorted by begin, so a tensor overlaps some earlier one
  // exactly when it starts before the furthest end seen so far. Empty
  // tensors occupy no bytes and cannot overlap anything.
  const TensorInfo *furthest = nullptr;
  for (const TensorInfo &tensor : entries) {
    if (tensor.begin == tensor.end)
      continue;
    if (furthest && tensor.begin < furthest->end)
      return fail(quoteTensor(tensor.name),
                  formatv("data_offsets [{0}, {1}] overlap tensor '{2}' at "
                          "[{3}, {4}]",
                          tensor.begin, tensor.end, furthest->name,
                          furthest->begin, furthest->end)
                      .str());
    if (!furthest || tensor.end > furthest->end)
      furthest = &tensor;
  }
  return Error::success();
}

Error HeaderReader::read(std::vector<TensorInfo> &entries,
                         StringMap<std::string> &metadata) const {
  const json::Object *root = document.root().getAsObject();
  if (!root)
    return createStringError((path + ": header: expected a JSON object, got " +
                              document.describe(document.root()))
                                 .str());
  // Visited by name so that, of several bad entries, the same one is
  // always reported (the parsed object iterates in hash order).
  std::vector<StringRef> keys;
  for (const auto &member : *root)
    keys.push_back(member.first);
  llvm::sort(keys);
  for (StringRef key : keys) {
    const json::Value &value = *root->get(key);
    if (key == "__metadata__") {
      if (Error err = readMetadata(value, metadata))
        return err;
      continue;
    }
    Expected<TensorInfo> tensor = readEntry(key, value);
    if (!tensor)
      return tensor.takeError();
    entries.push_back(std::move(*tensor));
  }
  // File order; the name breaks ties (empty tensors) so the order never
  // depends on the hash order of the parsed object.
  llvm::sort(entries, [](const TensorInfo &a, const TensorInfo &b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  return checkNoOverlap(entries);
}

float halfToFloat(uint16_t half) {
  uint32_t sign = uint32_t(half & 0x8000) << 16;
  uint32_t exponent = (half >> 10) & 0x1f;
  uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  uint32_t bits = exponent == 0x1f
                      ? sign | 0x7f800000 | (mantissa << 13) // inf, NaN
                      : sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

} // namespace

Expected<SafetensorsFile> SafetensorsFile::open(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(
        (path + ": cannot read: " + buffer.getError().message()).str());

  auto fail = [&](const Twine &problem) {
    return createStringError((path + ": " + problem).str());
  };
  StringRef bytes = (*buffer)->getBuffer();
  if (bytes.empty())
    return fail("file is empty");
  if (bytes.size() < headerLengthBytes)
    return fail(formatv("file is {0} bytes, too short for the 8-byte header "
                        "length",
                        bytes.size())
                    .str());
  uint64_t headerLength = support::endian::read64le(bytes.data());
  uint64_t available = bytes.size() - headerLengthBytes;
  if (headerLength == 0)
    return fail("header length is 0");
  // Compared against what is left rather than adding to the length, which
  // could wrap for lengths near 2^64.
  if (headerLength > available)
    return fail(formatv("header length {0} runs past the end of the file ({1} "
                        "bytes)",
                        headerLength, bytes.size())
                    .str());
  if (headerLength > maxHeaderBytes)
    return fail(formatv("header length {0} exceeds the safetensors limit of "
                        "{1} bytes",
                        headerLength, maxHeaderBytes)
                    .str());

  StringRef headerText = bytes.substr(headerLengthBytes, headerLength);
  Expected<StrictJsonDocument> document = StrictJsonDocument::parse(headerText);
  if (!document) {
    std::string problem;
    handleAllErrors(
        document.takeError(),
        [&](const DuplicateJsonKeyError &duplicate) {
          problem = duplicate.getObjectPath().empty()
                        ? quoteTensor(duplicate.getKey()) +
                              ": appears more than once in the header"
                        : "header: " + duplicate.message();
        },
        [&](const ErrorInfoBase &other) {
          problem = "header: " + other.message();
        });
    return fail(problem);
  }

  SafetensorsFile file;
  file.filePath = path.str();
  file.dataStart = headerLengthBytes + headerLength;
  HeaderReader reader(path, *document, bytes.size() - file.dataStart);
  if (Error err = reader.read(file.entries, file.meta))
    return err;
  for (auto [position, tensor] : enumerate(file.entries))
    file.index[tensor.name] = position;
  file.buffer = std::move(*buffer);
  return file;
}

const TensorInfo *SafetensorsFile::find(StringRef name) const {
  auto found = index.find(name);
  return found == index.end() ? nullptr : &entries[found->second];
}

ArrayRef<uint8_t> SafetensorsFile::data(const TensorInfo &tensor) const {
  const auto *start =
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart()) + dataStart;
  return ArrayRef<uint8_t>(start + tensor.begin, tensor.end - tensor.begin);
}

std::vector<float>
SafetensorsFile::readAsFloat32(const TensorInfo &tensor) const {
  ArrayRef<uint8_t> bytes = data(tensor);
  const size_t elementSize = dtypeSize(tensor.dtype);
  std::vector<float> values(bytes.size() / elementSize);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint8_t *element = bytes.data() + i * elementSize;
    switch (tensor.dtype) {
    case DType::F32: {
      uint32_t bits = support::endian::read32le(element);
      std::memcpy(&values[i], &bits, sizeof(float));
      break;
    }
    case DType::F16:
      values[i] = halfToFloat(support::endian::read16le(element));
      break;
    case DType::BF16: {
      // bfloat16 is the top half of a float.
      uint32_t bits = uint32_t(support::endian::read16le(element)) << 16;
      std::memcpy(&values[i], &bits, sizeof(float));
      break;
    }
    }
  }
  return values;
}

//===----------------------------------------------------------------------===//
// Weights against the config
//===----------------------------------------------------------------------===//

namespace {

/// lucidrains' rotary buffer is 1 / theta^(2i / dim_head); a checkpoint
/// trained with another theta would otherwise compile silently wrong.
std::optional<std::string> checkInverseFrequencies(const ModelConfig &config,
                                                   const SafetensorsFile &file,
                                                   const TensorInfo &tensor,
                                                   int64_t dimHead) {
  // Tolerances a little above each dtype's rounding error.
  double tolerance = tensor.dtype == DType::F32   ? 1e-5
                     : tensor.dtype == DType::F16 ? 2e-3
                                                  : 1.6e-2;
  std::vector<float> values = file.readAsFloat32(tensor);
  for (auto [i, value] : enumerate(values)) {
    double expected =
        1.0 / std::pow(config.rotaryTheta, double(2 * i) / double(dimHead));
    if (!(std::fabs(value - expected) <= tolerance * expected))
      return formatv("element {0} is {1}, but rotary_theta {2} gives {3}", i,
                     value, config.rotaryTheta, expected)
          .str();
  }
  return std::nullopt;
}

/// MEGABYTE-pytorch before v0.3.0 shared one key/value head across heads.
bool looksLikeSingleHeadKeyValue(StringRef name, ArrayRef<int64_t> shape,
                                 const ParameterSpec &spec) {
  return name.ends_with(".to_kv.weight") && shape.size() == 2 &&
         spec.shape.size() == 2 && shape[1] == spec.shape[1] && shape[0] > 0 &&
         shape[0] < spec.shape[0] && spec.shape[0] % shape[0] == 0;
}

} // namespace

Error validateWeights(const ModelConfig &config, const SafetensorsFile &file) {
  std::vector<std::string> problems;
  auto report = [&](StringRef name, const Twine &problem) {
    problems.push_back(
        (file.path() + ": " + quoteTensor(name) + ": " + problem).str());
  };

  std::vector<ParameterSpec> specs = expectedParameters(config);
  StringMap<const ParameterSpec *> expected;
  for (const ParameterSpec &spec : specs)
    expected[spec.name] = &spec;

  for (const ParameterSpec &spec : specs) {
    const TensorInfo *tensor = file.find(spec.name);
    if (!tensor) {
      if (!spec.optional)
        report(spec.name, "missing (the config implies it with shape " +
                              formatShape(spec.shape) + ")");
      continue;
    }
    if (tensor->shape != spec.shape) {
      std::string problem = "shape " + formatShape(tensor->shape) +
                            " does not match the config, expected " +
                            formatShape(spec.shape);
      if (looksLikeSingleHeadKeyValue(spec.name, tensor->shape, spec))
        problem += " (a MEGABYTE-pytorch checkpoint older than v0.3.0, with "
                   "one key/value head shared by all heads, which mbc does "
                   "not support)";
      report(spec.name, problem);
      continue;
    }
    if (config.architecture == Architecture::MegabyteLucidrains &&
        StringRef(spec.name).ends_with(".rotary_emb.inv_freq"))
      if (std::optional<std::string> problem =
              checkInverseFrequencies(config, file, *tensor, spec.shape[0] * 2))
        report(spec.name, *problem);
  }
  for (const TensorInfo &tensor : file.tensors())
    if (!expected.count(tensor.name))
      report(tensor.name,
             "unexpected: the config does not use a tensor of this name");

  if (problems.empty())
    return Error::success();
  // The first problem is the message; a few more help when a whole naming
  // scheme is off, but hundreds would bury the first.
  constexpr size_t maxShown = 10;
  std::string message = problems.front();
  for (size_t i = 1; i < std::min(problems.size(), maxShown); ++i)
    message += "\n" + problems[i];
  if (problems.size() > maxShown)
    message +=
        formatv("\n({0} more problems not shown)", problems.size() - maxShown)
            .str();
  return createStringError(message);
}

} // namespace mbc
