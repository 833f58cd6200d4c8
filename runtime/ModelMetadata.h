//===- ModelMetadata.h - the META section, parsed and validated -*- C++ -*-===//
//
// Turns META's JSON (docs/artifact.md) into plain structs. Every field the
// runtime uses is checked here, and a message names the JSON key path, e.g.
// "model.mbx: META: entry_points[3].args[2].shape: expected ...".
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_MODELMETADATA_H
#define MBRT_MODELMETADATA_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mbrt {

enum class DType { I32, I64, F32, F16, BF16 };

size_t dtypeSize(DType dtype);
/// "i32", "f32", ... as entry points spell them.
const char *dtypeName(DType dtype);
/// "F32", "F16", "BF16" as safetensors and META's weights spell them.
const char *weightDTypeName(DType dtype);

int64_t elementCount(const std::vector<int64_t> &shape);
std::string shapeToString(const std::vector<int64_t> &shape);

struct WeightTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t offset = 0; // into WEIGHTS (embedded mode only)
  uint64_t size = 0;   // bytes
  /// A derived tensor ("derived": {"from", "convert": "bf16"}): stored
  /// nowhere, computed at load from weights[source], an earlier F32 tensor
  /// of the same shape, rounded to nearest even bf16.
  bool derived = false;
  size_t source = 0;
};

enum class ArgKind { Context, Weight, Input, Output, InOut };
/// "context", "weight", "input", "output", "inout" as META spells them.
const char *argKindName(ArgKind kind);

struct EntryArg {
  ArgKind kind = ArgKind::Context;
  std::string name;
  DType dtype = DType::F32; // inputs, outputs and inouts
  std::vector<int64_t> shape;
  size_t weightIndex = 0; // weights: index into ModelMetadata::weights
};

struct EntryPoint {
  std::string name;
  std::string symbol;
  std::vector<EntryArg> args;
  std::string jsonPath; // "entry_points[2]", for messages

  /// The index of the non-weight argument `argName`, or -1.
  int findArg(const std::string &argName) const;
};

struct GenerationStage {
  int64_t dim = 0;
  int64_t positions = 0; // of the stage's sequence (seq_len, +1 with a start)
  int64_t layers = 0;
  int64_t kvWidth = 0;
  int64_t units = 0;  // bytes per position (U_s)
  int64_t seqLen = 0; // L_s, the model config's seq_len
};

enum class Architecture { Megabyte, MegabyteLucidrains };

struct ModelMetadata { // NOLINT(bugprone-exception-escape): json members
  std::string text;    // the META JSON as stored
  nlohmann::json document;

  uint32_t formatVersion = 0;
  std::string compiler;
  Architecture architecture = Architecture::Megabyte;
  std::string architectureName;
  int32_t vocabSize = 0;
  int32_t padId = 0;
  int64_t maxLength = 0; // T: the product of the stages' seq_len

  bool weightsEmbedded = true;
  std::string weightsFile; // external mode: as given to mbc
  std::vector<WeightTensor> weights;

  std::vector<EntryPoint> entryPoints;

  bool hasGeneration = false;
  bool startToken = false;
  std::vector<GenerationStage> stages;

  /// The entry point called `name`, or null.
  const EntryPoint *findEntry(const std::string &name) const;
  /// The index in `weights` of the tensor called `name`, or weights.size().
  size_t findWeight(const std::string &name) const;
};

/// Parses and validates META. `artifactPath` prefixes every message. Throws
/// RuntimeError (MBRT_ERROR_FORMAT) on the first problem.
ModelMetadata parseModelMetadata(const std::string &artifactPath,
                                 const uint8_t *data, size_t size);

} // namespace mbrt

#endif // MBRT_MODELMETADATA_H
