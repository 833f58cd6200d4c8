//===- SafetensorsReader.h - validating reader of .safetensors --*- C++ -*-===//
//
// The public safetensors layout: an 8-byte little-endian header length N, N
// bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {...}}, then the data; offsets are relative to the data.
// The reader maps the file and checks every entry's bounds and size.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_SAFETENSORSREADER_H
#define MBRT_SAFETENSORSREADER_H

#include "MappedFile.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mbrt {

struct SafetensorsTensor {
  std::string dtype; // as the file spells it: "F32", "BF16", ...
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  uint64_t size = 0;
};

class SafetensorsFile {
public:
  /// Maps and validates `path`. Throws RuntimeError (MBRT_ERROR_WEIGHTS)
  /// naming the file and, where known, the tensor.
  explicit SafetensorsFile(const std::string &path);

  const std::string &path() const { return file_->path(); }
  /// The tensor `name`, or null.
  const SafetensorsTensor *find(const std::string &name) const;

private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, SafetensorsTensor> tensors_;
};

} // namespace mbrt

#endif // MBRT_SAFETENSORSREADER_H
