//===- Passes.h - mbc's CUDA code-generation passes -------------*- C++ -*-===//
#ifndef MBC_PASSES_CUDA_PASSES_H
#define MBC_PASSES_CUDA_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mbc {

#define GEN_PASS_DECL
#include "passes/CUDA/Passes.h.inc"

/// Registers the CUDA code-generation passes (mb-cuda-*).
void registerCudaPasses();

/// Whether `arch` names a CUDA architecture mbc can target: sm_<NN>[a] with
/// NN >= 80 (PTX ISA 8.0 is emitted for all of them).
bool isSupportedCudaArch(llvm::StringRef arch);

} // namespace mbc

#endif // MBC_PASSES_CUDA_PASSES_H
