//===- ModelImporter.h - model directory to mb IR ---------------*- C++ -*-===//
#ifndef MBC_IMPORT_MODELIMPORTER_H
#define MBC_IMPORT_MODELIMPORTER_H

#include "mbc/Import/ModelConfig.h"
#include "mbc/Import/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace mbc {

struct ImportOptions {
  /// Sequences scored at once (the leading dimension of @score's input).
  int64_t batch = 1;
  /// Bytes per sequence; 0 means the model's maximum. Must be a multiple of
  /// the global patch size and at most the maximum.
  int64_t sequenceLength = 0;
  /// Also emit the generation entry points (embed_s, step_s, project_s,
  /// head; docs/artifact.md).
  bool generation = true;
};

/// Loads the dialects the imported IR uses (mb, func, arith, tensor).
void loadImportDialects(mlir::MLIRContext &context);

/// Emits the model as one `func.func @score(%bytes: tensor<BxTxi32>) ->
/// tensor<BxTxVxf32>` returning log p(x_t | x_<t) for every t. Weights are
/// `mb.param` ops naming tensors of `weights` (with their stored dtype;
/// non-f32 weights are widened by arith.extf). The module records the
/// architecture, vocabulary, patch size and the weights file as attributes.
/// Errors name the option at fault.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importModel(mlir::MLIRContext &context, const ModelConfig &config,
            const SafetensorsFile &weights, const ImportOptions &options);

} // namespace mbc

#endif // MBC_IMPORT_MODELIMPORTER_H
