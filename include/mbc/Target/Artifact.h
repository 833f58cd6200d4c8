//===- Artifact.h - writing .mbx artifacts ----------------------*- C++ -*-===//
//
// The artifact format is docs/artifact.md; its constants are shared with the
// runtime through mbc/ArtifactFormat.h.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_TARGET_ARTIFACT_H
#define MBC_TARGET_ARTIFACT_H

#include "mbc/Import/ModelConfig.h"
#include "mbc/Import/Safetensors.h"
#include "mbc/Target/CudaCodegen.h"
#include "mbc/Target/HostCodegen.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <string>

namespace mbc {

enum class WeightsMode { Embedded, External };

struct ArtifactInputs {
  const ModelConfig *config = nullptr;
  /// The weights the entry points read (all of them are looked up here).
  const SafetensorsFile *weights = nullptr;
  WeightsMode weightsMode = WeightsMode::Embedded;
  /// Recorded for external weights: the path the runtime opens.
  std::string weightsReference;
  /// `mb.entry_points` of the compiled module (mb-weights-to-arguments).
  mlir::ArrayAttr entryPoints;
  /// `mb.derived_weights` of the CUDA module (mb-cuda-hoist-weight-
  /// conversions), or null: weight tensors computed from stored ones.
  mlir::ArrayAttr derivedWeights;
  /// Whether the artifact carries CPU code (CPU_CODE and a cpu target).
  bool hasCpu = true;
  HostTarget cpuTarget;
  /// The CPU shared object.
  std::string cpuCode;
  /// CUDA kernels, images and plans (CUDA_CODE and META "cuda"), or null.
  const CudaCode *cuda = nullptr;
};

/// The config as normalized JSON (every field explicit, docs/config.md).
llvm::json::Object modelConfigToJSON(const ModelConfig &config);

/// Writes the artifact atomically (no partial file on failure).
llvm::Error writeArtifact(llvm::StringRef path, const ArtifactInputs &inputs);

} // namespace mbc

#endif // MBC_TARGET_ARTIFACT_H
