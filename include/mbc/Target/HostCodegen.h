//===- HostCodegen.h - LLVM dialect to a host shared object -----*- C++ -*-===//
#ifndef MBC_TARGET_HOSTCODEGEN_H
#define MBC_TARGET_HOSTCODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace mbc {

/// The CPU the code is generated for.
struct HostTarget {
  std::string triple;
  std::string cpu;
  std::string features;
};

/// `cpu` is "native" (this machine's CPU and features), "generic" (baseline
/// x86-64 / the triple's generic CPU, a portable fallback) or an LLVM CPU
/// name.
llvm::Expected<HostTarget> resolveHostTarget(llvm::StringRef cpu);

/// The widest vector registers `target` has, in bits: 512 with AVX-512F,
/// 256 with AVX2 and FMA, else 128.
int64_t vectorBitsOf(const HostTarget &target);

/// Translates an LLVM-dialect module to LLVM IR for `target` and optimizes it
/// at -O`optLevel`.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateToOptimizedLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context,
                           const HostTarget &target, unsigned optLevel);

/// Emits `module` as a relocatable object and links it into an ELF shared
/// object with the system linker (cc, else ld.lld); returns the .so bytes.
llvm::Expected<std::string> buildSharedObject(llvm::Module &module,
                                              const HostTarget &target);

} // namespace mbc

#endif // MBC_TARGET_HOSTCODEGEN_H
