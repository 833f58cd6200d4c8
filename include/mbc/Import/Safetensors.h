//===- Safetensors.h - reader for the safetensors format --------*- C++ -*-===//
//
// Reads a .safetensors file (8-byte little-endian header length, a JSON header,
// then the data section) through a memory map and validates every entry.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_IMPORT_SAFETENSORS_H
#define MBC_IMPORT_SAFETENSORS_H

#include "mbc/Import/ModelConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mbc {

enum class DType { F32, F16, BF16 };

llvm::StringRef stringifyDType(DType dtype);
int64_t dtypeSize(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Byte range inside the data section.
  uint64_t begin = 0;
  uint64_t end = 0;
};

class SafetensorsFile {
public:
  /// Maps and validates `path`: header bounds, JSON, dtypes, shapes, offsets
  /// (in range, ordered, size == product(shape) * dtype size, no overlap),
  /// duplicate names. Errors name the file and the tensor.
  static llvm::Expected<SafetensorsFile> open(llvm::StringRef path);

  llvm::StringRef path() const { return filePath; }
  llvm::ArrayRef<TensorInfo> tensors() const { return entries; }
  const TensorInfo *find(llvm::StringRef name) const;
  /// The raw little-endian bytes of one tensor. The data section has no
  /// alignment guarantee, so copy elements out rather than casting.
  llvm::ArrayRef<uint8_t> data(const TensorInfo &tensor) const;
  /// The tensor's elements widened to float (exact for F16 and BF16).
  std::vector<float> readAsFloat32(const TensorInfo &tensor) const;
  const llvm::StringMap<std::string> &metadata() const { return meta; }

private:
  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint64_t dataStart = 0;
  std::vector<TensorInfo> entries;
  llvm::StringMap<size_t> index;
  llvm::StringMap<std::string> meta;
};

/// Checks that `file` holds exactly the tensors `config` implies, each with
/// its shape: names a missing, unexpected or mis-shaped tensor. The message
/// starts with the first problem; further ones follow on their own lines.
llvm::Error validateWeights(const ModelConfig &config,
                            const SafetensorsFile &file);

} // namespace mbc

#endif // MBC_IMPORT_SAFETENSORS_H
