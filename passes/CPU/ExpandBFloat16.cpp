//===- ExpandBFloat16.cpp - mb-cpu-expand-bf16
//-----------------------------===//
//
// arith.truncf to bf16 and arith.extf from bf16 as integer arithmetic
// (upstream's ExpandBFloat16 patterns: round to nearest even, NaN kept
// quiet), so the CPU code makes no compiler-runtime call for them. LLVM
// lowers an f32 -> bf16 fptrunc on an x86 CPU without AVX512-BF16 to a call
// of __truncsfbf2, which the artifact's shared object cannot count on
// finding where it is loaded.
//
//===----------------------------------------------------------------------===//
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mbc {
#define GEN_PASS_DEF_CPUEXPANDBFLOAT16
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CpuExpandBFloat16Pass
    : public impl::CpuExpandBFloat16Base<CpuExpandBFloat16Pass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
