//===- Passes.h - mbc's CPU code-generation passes --------------*- C++ -*-===//
#ifndef MBC_PASSES_CPU_PASSES_H
#define MBC_PASSES_CPU_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mbc {

#define GEN_PASS_DECL
#include "passes/CPU/Passes.h.inc"

/// Registers the CPU code-generation passes (mb-cpu-*).
void registerCpuPasses();

} // namespace mbc

#endif // MBC_PASSES_CPU_PASSES_H
