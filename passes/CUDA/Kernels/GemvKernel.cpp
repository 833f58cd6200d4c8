//===- GemvKernel.cpp - decode-time matrix-vector products ----------------===//
#include "passes/CUDA/Kernels/GemvKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace mbc::cuda {
namespace {

constexpr int64_t kWarpSize = 32;
/// Weights per lane and step: one 16-byte load of bf16/f16.
constexpr int64_t kChunk = 8;

} // namespace

LogicalResult verifyGemvSpec(const GemvSpec &spec,
                             function_ref<InFlightDiagnostic()> emitError) {
  if (!spec.weightType ||
      !(spec.weightType.isBF16() || spec.weightType.isF16()))
    return failSpec(emitError, "GEMV weight element type must be bf16 or f16");
  if (failed(verifyBiasType(spec.biasType, emitError)))
    return failure();
  if (spec.m < 1 || spec.m > kMaxGemvRows)
    return failSpec(emitError, "GEMV rows m = " + Twine(spec.m) +
                                   " must be between 1 and " +
                                   Twine(kMaxGemvRows));
  if (spec.n < 1 || spec.k < kChunk || spec.k % kChunk != 0)
    return failSpec(emitError,
                    "GEMV needs n >= 1 and k a positive multiple of 8 (16-byte "
                    "weight loads), got n = " +
                        Twine(spec.n) + ", k = " + Twine(spec.k));
  if (spec.normPrologue) {
    if (spec.normKind != NormKind::Rms && spec.normKind != NormKind::RmsClamp)
      return failSpec(emitError, "a GEMV norm prologue must be an RMSNorm "
                                 "(rms or rms_clamp)");
    if (spec.normEpsilon <= 0)
      return failSpec(emitError, "the norm epsilon must be positive");
    if (spec.normWeightType &&
        !(spec.normWeightType.isF32() || spec.normWeightType.isBF16() ||
          spec.normWeightType.isF16()))
      return failSpec(emitError, "norm weight type must be f32, bf16 or f16");
  }
  if (spec.warps < 1 || spec.warps > 32 || spec.columnsPerWarp < 1 ||
      spec.columnsPerWarp > 8)
    return failSpec(emitError, "GEMV warps = " + Twine(spec.warps) +
                                   " (1..32) and columns per warp = " +
                                   Twine(spec.columnsPerWarp) + " (1..8)");
  return success();
}

FailureOr<KernelInfo> buildGemvKernel(OpBuilder &builder,
                                      gpu::GPUModuleOp module, StringRef name,
                                      const GemvSpec &spec, Location loc) {
  if (failed(verifyGemvSpec(spec, [&] { return mlir::emitError(loc); })))
    return failure();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  OpBuilder &b = builder;
  Type f32 = b.getF32Type();
  int64_t threads = spec.warps * kWarpSize;
  int64_t columnsPerBlock = spec.warps * spec.columnsPerWarp;

  KernelInfo info;
  info.name = name.str();
  info.grid = {static_cast<int64_t>(llvm::divideCeil(spec.n, columnsPerBlock)),
               1, 1};
  info.block = {threads, 1, 1};
  SmallVector<Type> argTypes = {
      MemRefType::get({spec.m, spec.k}, f32),
      MemRefType::get({spec.n, spec.k}, spec.weightType),
      MemRefType::get({spec.m, spec.n}, f32)};
  for (const char *param : {"a", "w", "c"})
    info.params.push_back({param, "ptr", {}});
  appendEpilogueParams(argTypes, info, spec.m, spec.n, spec.bias,
                       spec.biasType, spec.residual, f32);
  Type normWeightType = spec.normWeightType ? spec.normWeightType : f32;
  if (spec.normPrologue) {
    argTypes.push_back(MemRefType::get({spec.k}, normWeightType));
    info.params.push_back({"norm_weight", "ptr", {}});
  }
  auto func = createKernelFunc(b, loc, name, argTypes, info);

  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  unsigned next = 0;
  Value a = entry.getArgument(next++);
  Value w = entry.getArgument(next++);
  Value c = entry.getArgument(next++);
  Value bias = spec.bias ? entry.getArgument(next++) : Value();
  Value residual = spec.residual ? entry.getArgument(next++) : Value();
  Value normWeight = spec.normPrologue ? entry.getArgument(next++) : Value();
  // Rows of A start 32-byte aligned and rows of W 16-byte aligned when the
  // buffers are (the runtime's are 256-byte aligned; K % 8 == 0).
  a = memref::AssumeAlignmentOp::create(b, loc, a, b.getI32IntegerAttr(16));
  w = memref::AssumeAlignmentOp::create(b, loc, w, b.getI32IntegerAttr(16));

  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, loc, thread, index(kWarpSize));
  Value lane = arith::RemUIOp::create(b, loc, thread, index(kWarpSize));
  Value firstColumn = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, block, index(columnsPerBlock)),
      arith::MulIOp::create(b, loc, warp, index(spec.columnsPerWarp)));
  Value laneStart = arith::MulIOp::create(b, loc, lane, index(kChunk));

  auto weightVector = VectorType::get({kChunk}, spec.weightType);
  auto f32Vector = VectorType::get({kChunk}, f32);
  Value zeroVector = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(f32Vector, b.getF32FloatAttr(0)));

  for (int64_t column = 0; column < spec.columnsPerWarp; ++column) {
    Value n = arith::AddIOp::create(b, loc, firstColumn, index(column));
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, n,
                                         index(spec.n));
    auto ifInside = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
    OpBuilder::InsertionGuard columnGuard(b);
    b.setInsertionPointToStart(&ifInside.getThenRegion().front());
    // Per row, a vector of 8 partial sums over this lane's K chunks (then,
    // with the norm prologue, per row the partial sums of squares of x).
    SmallVector<Value> init(spec.normPrologue ? 2 * spec.m : spec.m,
                            zeroVector);
    auto loop = scf::ForOp::create(
        b, loc, laneStart, index(spec.k), index(kWarpSize * kChunk), init,
        [&](OpBuilder &lb, Location ll, Value k, ValueRange sums) {
          Value weights =
              vector::LoadOp::create(lb, ll, weightVector, w, ValueRange{n, k},
                                     /*nontemporal=*/false, llvm::Align(16));
          Value wide = arith::ExtFOp::create(lb, ll, f32Vector, weights);
          // x * g (rstd comes in the epilogue): g folded into the weights.
          if (normWeight)
            wide = arith::MulFOp::create(
                lb, ll, wide, loadWidened(lb, ll, normWeight, k, kChunk));
          SmallVector<Value> updated, squares;
          for (int64_t row = 0; row < spec.m; ++row) {
            Value r = arith::ConstantIndexOp::create(lb, ll, row);
            Value x =
                vector::LoadOp::create(lb, ll, f32Vector, a, ValueRange{r, k},
                                       /*nontemporal=*/false, llvm::Align(16));
            updated.push_back(
                vector::FMAOp::create(lb, ll, x, wide, sums[row]));
            if (normWeight)
              squares.push_back(
                  vector::FMAOp::create(lb, ll, x, x, sums[spec.m + row]));
          }
          llvm::append_range(updated, squares);
          scf::YieldOp::create(lb, ll, updated);
        });
    auto warpSum = [&](Value partials) -> Value {
      Value sum = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, partials);
      for (int32_t offset : {16, 8, 4, 2, 1}) {
        Value other = gpu::ShuffleOp::create(b, loc, sum, offset, kWarpSize,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult();
        sum = arith::AddFOp::create(b, loc, sum, other);
      }
      return sum;
    };
    auto constantF32 = [&](double value) -> Value {
      return arith::ConstantOp::create(
          b, loc, b.getF32FloatAttr(static_cast<float>(value)));
    };
    for (int64_t row = 0; row < spec.m; ++row) {
      Value sum = warpSum(loop.getResult(row));
      if (normWeight) {
        // The row's RMSNorm factor, as NormKernel computes it.
        Value meanSquare =
            arith::DivFOp::create(b, loc, warpSum(loop.getResult(spec.m + row)),
                                  constantF32(static_cast<double>(spec.k)));
        Value inverse = buildInverseRms(b, loc, meanSquare, spec.normKind,
                                        spec.normEpsilon);
        sum = arith::MulFOp::create(b, loc, sum, inverse);
      }
      Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          lane, index(0));
      auto ifFirst = scf::IfOp::create(b, loc, first, /*withElse=*/false);
      OpBuilder::InsertionGuard rowGuard(b);
      b.setInsertionPointToStart(&ifFirst.getThenRegion().front());
      Value r = index(row);
      Value value = sum;
      if (bias) {
        Value term = memref::LoadOp::create(b, loc, bias, ValueRange{n});
        if (!term.getType().isF32())
          term = arith::ExtFOp::create(b, loc, b.getF32Type(), term);
        value = arith::AddFOp::create(b, loc, value, term);
      }
      if (spec.activation == Activation::Relu) {
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
        Value positive = arith::CmpFOp::create(
            b, loc, arith::CmpFPredicate::OGT, value, zero);
        value = arith::SelectOp::create(b, loc, positive, value, zero);
      } else if (spec.activation != Activation::None) {
        value =
            buildGelu(b, loc, value, spec.activation == Activation::GeluTanh);
      }
      if (residual)
        value = arith::AddFOp::create(
            b, loc, value,
            memref::LoadOp::create(b, loc, residual, ValueRange{r, n}));
      memref::StoreOp::create(b, loc, value, c, ValueRange{r, n});
    }
  }
  gpu::ReturnOp::create(b, loc);
  return info;
}

} // namespace mbc::cuda
