//===- SafetensorsReader.cpp - validating reader of .safetensors ----------===//
#include "SafetensorsReader.h"
#include "RuntimeError.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>

namespace mbrt {
namespace {

/// The safetensors reference implementation caps the header at 100 MB.
constexpr uint64_t maxHeaderLength = 100u << 20;

/// Bytes per element of the safetensors dtypes; 0 for an unknown name.
uint64_t itemSize(const std::string &dtype) {
  static const std::map<std::string, uint64_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto found = sizes.find(dtype);
  return found == sizes.end() ? 0 : found->second;
}

} // namespace

SafetensorsFile::SafetensorsFile(const std::string &path) {
  try {
    file_ = std::make_unique<MappedFile>(path);
  } catch (const RuntimeError &error) {
    fail(MBRT_ERROR_WEIGHTS, error.what());
  }
  auto invalid = [&](const std::string &message) {
    fail(MBRT_ERROR_WEIGHTS, path + ": " + message);
  };
  const uint8_t *data = file_->data();
  uint64_t size = file_->size();
  if (size < 8)
    invalid("not a safetensors file: " + std::to_string(size) +
            " bytes is shorter than the 8-byte header length");
  uint64_t headerLength;
  std::memcpy(&headerLength, data, 8);
  if (headerLength > size - 8)
    invalid("header length " + std::to_string(headerLength) +
            " exceeds the file's " + std::to_string(size - 8) +
            " remaining bytes (truncated or not safetensors)");
  if (headerLength > maxHeaderLength)
    invalid("header length " + std::to_string(headerLength) +
            " exceeds the 100 MB limit");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + headerLength);
  } catch (const nlohmann::json::parse_error &error) {
    invalid(std::string("header is not valid JSON: ") + error.what());
  }
  if (!header.is_object())
    invalid("header is not a JSON object");
  const uint8_t *body = data + 8 + headerLength;
  uint64_t bodySize = size - 8 - headerLength;
  // [begin, end) and name of every tensor that holds bytes.
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> extents;
  for (auto item = header.begin(); item != header.end(); ++item) {
    const std::string &name = item.key();
    if (name == "__metadata__")
      continue;
    std::string where = "tensor \"" + name + "\": ";
    const nlohmann::json &entry = item.value();
    if (!entry.is_object() || !entry.contains("dtype") ||
        !entry["dtype"].is_string() || !entry.contains("shape") ||
        !entry["shape"].is_array() || !entry.contains("data_offsets") ||
        !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      invalid(where + "needs \"dtype\" (string), \"shape\" (array) and "
                      "\"data_offsets\" ([begin, end])");
    SafetensorsTensor tensor;
    tensor.dtype = entry["dtype"].get<std::string>();
    uint64_t count = 1;
    for (const nlohmann::json &dim : entry["shape"]) {
      if (!dim.is_number_unsigned() || dim.get<uint64_t>() > (1ull << 40))
        invalid(where + "shape " + entry["shape"].dump() +
                " is not a list of non-negative integers");
      uint64_t extent = dim.get<uint64_t>();
      if (extent != 0 && count > (1ull << 40) / extent)
        invalid(where + "shape " + entry["shape"].dump() + " is too large");
      count *= extent;
      tensor.shape.push_back(static_cast<int64_t>(extent));
    }
    const nlohmann::json &offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      invalid(where + "data_offsets " + offsets.dump() +
              " are not non-negative integers");
    uint64_t begin = offsets[0].get<uint64_t>();
    uint64_t end = offsets[1].get<uint64_t>();
    if (begin > end || end > bodySize)
      invalid(where + "data_offsets [" + std::to_string(begin) + ", " +
              std::to_string(end) + "] lie outside the data section of " +
              std::to_string(bodySize) + " bytes (truncated file?)");
    uint64_t bytesPerItem = itemSize(tensor.dtype);
    if (bytesPerItem != 0 && end - begin != count * bytesPerItem)
      invalid(where + "data_offsets [" + std::to_string(begin) + ", " +
              std::to_string(end) + "] hold " + std::to_string(end - begin) +
              " bytes, but shape " + entry["shape"].dump() + " of " +
              tensor.dtype + " needs " + std::to_string(count * bytesPerItem));
    tensor.data = body + begin;
    tensor.size = end - begin;
    tensors_.emplace(name, std::move(tensor));
    if (begin != end)
      extents.emplace_back(begin, end, name);
  }
  // Each byte belongs to one tensor at most (the format's rule; the
  // compiler's reader checks the same): a tensor that aliases another's
  // bytes is a lying header.
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i) {
    const auto &[begin, end, name] = extents[i];
    const auto &[previousBegin, previousEnd, previous] = extents[i - 1];
    if (begin < previousEnd)
      invalid("tensor \"" + name + "\": data_offsets [" +
              std::to_string(begin) + ", " + std::to_string(end) +
              "] overlap tensor \"" + previous + "\"'s [" +
              std::to_string(previousBegin) + ", " +
              std::to_string(previousEnd) + "]");
  }
}

const SafetensorsTensor *SafetensorsFile::find(const std::string &name) const {
  auto found = tensors_.find(name);
  return found == tensors_.end() ? nullptr : &found->second;
}

} // namespace mbrt
