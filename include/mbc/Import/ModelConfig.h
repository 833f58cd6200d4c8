//===- ModelConfig.h - config.json of a MEGABYTE model ----------*- C++ -*-===//
//
// The validated contents of a model directory's config.json (schema in
// docs/config.md) and the list of tensors the config implies.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_IMPORT_MODELCONFIG_H
#define MBC_IMPORT_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mbc {

enum class Architecture { Megabyte, MegabyteLucidrains };
enum class NormKind { LayerNorm, RMSNorm };
enum class Activation { Gelu, GeluTanh, Relu };

llvm::StringRef stringifyArchitecture(Architecture architecture);
llvm::StringRef stringifyNormKind(NormKind norm);
llvm::StringRef stringifyActivation(Activation activation);

struct StageConfig {
  int64_t dim = 0;
  int64_t depth = 0;
  int64_t heads = 0;
  int64_t dimHead = 0;
  int64_t seqLen = 0;
};

struct ModelConfig {
  Architecture architecture = Architecture::Megabyte;
  int64_t vocabSize = 256;
  std::vector<StageConfig> stages;
  int64_t ffMult = 4;
  NormKind norm = NormKind::LayerNorm;
  double normEps = 1e-5;
  Activation activation = Activation::Relu;
  bool posEmb = false;
  bool rotary = false;
  double rotaryTheta = 10000.0;
  bool tokenShift = false;
  bool finalNorm = true;
  bool tieEmbeddings = false;
  bool headBias = false;
  int64_t padId = 0;

  /// U_s: bytes covered by one position of stage `stage` (1 for the last).
  int64_t bytesPerPosition(size_t stage) const;
  /// T: the longest byte sequence the model takes, prod(seq_len).
  int64_t maxSequenceLength() const;
  /// P = U_0: the global patch size.
  int64_t patchSize() const { return bytesPerPosition(0); }
};

/// Parses and validates config.json text. `path` only names the file in
/// error messages, which have the form "<path>: <json key>: <problem>".
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef text,
                                             llvm::StringRef path);

/// Reads and parses a config.json file.
llvm::Expected<ModelConfig> readModelConfig(llvm::StringRef path);

/// One tensor that a model with this config must (or may) have.
struct ParameterSpec {
  std::string name;
  std::vector<int64_t> shape;
  /// Accepted when present, not required (e.g. lucidrains' rotary inv_freq).
  bool optional = false;
};

/// Every tensor the config implies, in a stable order (docs/config.md).
std::vector<ParameterSpec> expectedParameters(const ModelConfig &config);

} // namespace mbc

#endif // MBC_IMPORT_MODELCONFIG_H
