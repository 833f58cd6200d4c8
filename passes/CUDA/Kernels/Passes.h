//===- Passes.h - mbc's CUDA kernel builder passes --------------*- C++ -*-===//
#ifndef MBC_PASSES_CUDA_KERNELS_PASSES_H
#define MBC_PASSES_CUDA_KERNELS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace mbc {

#define GEN_PASS_DECL
#include "passes/CUDA/Kernels/Passes.h.inc"

/// Options of the `mb-cuda-kernels-to-ptx` pipeline.
struct CudaKernelsToPtxOptions
    : public mlir::PassPipelineOptions<CudaKernelsToPtxOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("target architecture, e.g. sm_90a"),
                           llvm::cl::init("sm_90a")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features; sm_90/sm_90a need +ptx80 or newer"),
      llvm::cl::init("+ptx80")};
  Option<int> optLevel{*this, "opt-level",
                       llvm::cl::desc("LLVM optimization level"),
                       llvm::cl::init(3)};
};

/// gpu.module(s) of built kernels -> gpu.binary with PTX text: NVGPU/NVVM
/// conversion, bare-pointer kernel arguments, by-value tensor maps, NVPTX.
void buildCudaKernelsToPtxPipeline(mlir::OpPassManager &pm,
                                   const CudaKernelsToPtxOptions &options);

/// Registers the mb-cuda-* kernel passes and the mb-cuda-kernels-to-ptx
/// pipeline.
void registerCudaKernelPasses();

/// The LLVM IR translations and NVVM target interface that serializing a
/// gpu.module needs.
void registerCudaKernelTranslations(mlir::DialectRegistry &registry);

} // namespace mbc

#endif // MBC_PASSES_CUDA_KERNELS_PASSES_H
