//===- Passes.h - mbc's passes and pipelines --------------------*- C++ -*-===//
#ifndef MBC_PASSES_PASSES_H
#define MBC_PASSES_PASSES_H

#include "dialects/MB/MBDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mbc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

/// mbc-cpu-pipeline and its two halves (tensor level, then lowering to the
/// LLVM dialect).
void buildCpuTensorPipeline(mlir::OpPassManager &pm);
void buildCpuLoweringPipeline(mlir::OpPassManager &pm);
void buildCpuPipeline(mlir::OpPassManager &pm);

/// Registers every mbc pass and named pipeline with the global registry
/// (mbc-opt and mbc's --mlir-* options see them).
void registerPasses();

} // namespace mbc

#endif // MBC_PASSES_PASSES_H
