//===- NormKernel.cpp - token shift + norm + rounding, one warp a row -----===//
#include "passes/CUDA/Kernels/NormKernel.h"
#include "passes/CUDA/Kernels/WarpMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace mbc::cuda {
namespace {

constexpr int64_t kRowsPerBlock = 4; // one warp a row

} // namespace

SmallVector<Value> buildNormRow(OpBuilder &b, Location loc,
                                const NormSpec &spec, ValueRange input,
                                Value weight, Value bias, Value row,
                                Value lane) {
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  int64_t dim = spec.dim;
  auto pairType = VectorType::get({2}, b.getF32Type());
  Value laneColumn = arith::MulIOp::create(b, loc, lane, index(2));
  Value firstPosition = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::eq,
      arith::RemUIOp::create(b, loc, row, index(spec.positions)), index(0));
  Value zeros =
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(pairType, 0.0f));
  SmallVector<Value> values, weights, biases;
  for (int64_t j = 0; j < dim / 64; ++j) {
    Value column = arith::AddIOp::create(b, loc, laneColumn, index(64 * j));
    weights.push_back(loadWidened(b, loc, weight, column, 2));
    if (bias)
      biases.push_back(loadWidened(b, loc, bias, column, 2));
    if (const std::optional<NormGatherSpec> &gather = spec.gather) {
      // The pair's byte slot and its features in that byte's table row; a
      // byte past the table reads its last row (the runtime rejects such
      // bytes before any kernel runs: this only bounds the read).
      int64_t width = dim / gather->slots;
      Value slot = arith::DivUIOp::create(b, loc, column, index(width));
      Value feature = arith::RemUIOp::create(b, loc, column, index(width));
      Value id =
          memref::LoadOp::create(b, loc, input[0], ValueRange{row, slot});
      Value tableRow = arith::MinUIOp::create(
          b, loc, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), id),
          index(gather->vocabulary - 1));
      values.push_back(
          loadWidened(b, loc, input[1], ValueRange{tableRow, feature}, 2));
      continue;
    }
    Value source = row, hidden;
    if (spec.tokenShift)
      std::tie(source, hidden) =
          buildTokenShiftSource(b, loc, row, column, firstPosition, dim);
    Value value = vector::LoadOp::create(b, loc, pairType, input[0],
                                         ValueRange{source, column}, false,
                                         llvm::MaybeAlign(8));
    if (hidden)
      value = arith::SelectOp::create(b, loc, hidden, zeros, value);
    values.push_back(value);
  }
  return buildWarpRowNorm(b, loc, values, weights, biases, spec.norm,
                          spec.epsilon, dim);
}

int64_t normOutputRows(const NormSpec &spec) {
  return spec.startType ? spec.rows + spec.rows / spec.positions : spec.rows;
}

SmallVector<std::string> normInputParamNames(const NormSpec &spec) {
  if (spec.gather)
    return {"ids", "embedding"};
  return {"x"};
}

SmallVector<Type> normInputTypes(Builder &b, const NormSpec &spec) {
  if (const std::optional<NormGatherSpec> &gather = spec.gather)
    return {MemRefType::get({spec.rows, gather->slots}, b.getI32Type()),
            MemRefType::get({gather->vocabulary, spec.dim / gather->slots},
                            gather->tableType)};
  return {MemRefType::get({spec.rows, spec.dim}, b.getF32Type())};
}

LogicalResult verifyNormSpec(const NormSpec &spec,
                             function_ref<InFlightDiagnostic()> emitError) {
  if (!spec.outputType || !(spec.outputType.isBF16() ||
                             spec.outputType.isF16() || spec.outputType.isF32()))
    return failSpec(emitError, "norm output type must be bf16, f16 or f32");
  if (spec.rows <= 0 || spec.positions <= 0 || spec.rows % spec.positions)
    return failSpec(emitError,
                    "norm rows = " + Twine(spec.rows) + " must be a positive "
                    "multiple of positions = " + Twine(spec.positions));
  if (spec.dim <= 0 || spec.dim % 64 != 0)
    return failSpec(emitError, "dim = " + Twine(spec.dim) +
                                   " is not supported (a positive multiple "
                                   "of 64)");
  if (spec.dim > 64 * 32)
    return failSpec(emitError, "dim = " + Twine(spec.dim) +
                                   " is not supported (at most 2048: a "
                                   "lane keeps its row's pairs in registers)");
  if (spec.epsilon <= 0)
    return failSpec(emitError, "the norm epsilon must be positive");
  if (spec.weightType && !(spec.weightType.isF32() ||
                           spec.weightType.isBF16() || spec.weightType.isF16()))
    return failSpec(emitError, "norm weight type must be f32, bf16 or f16");
  if (const std::optional<NormGatherSpec> &gather = spec.gather) {
    Type table = gather->tableType;
    if (!table || !(table.isF32() || table.isBF16() || table.isF16()))
      return failSpec(emitError,
                      "a gathered norm's table must be f32, bf16 or f16");
    if (gather->vocabulary <= 0)
      return failSpec(emitError, "a gathered norm's vocabulary must be "
                                 "positive, got " +
                                     Twine(gather->vocabulary));
    if (gather->slots <= 0 || spec.dim % gather->slots != 0 ||
        (spec.dim / gather->slots) % 2 != 0)
      return failSpec(emitError,
                      "a gathered norm's slots = " + Twine(gather->slots) +
                          " must divide dim = " + Twine(spec.dim) +
                          " into an even width");
    if (spec.tokenShift)
      return failSpec(emitError,
                      "a gathered norm has no token shift (the gathered "
                      "rows are a patch's bytes, not a sequence)");
    if (spec.startType)
      return failSpec(emitError, "a gathered norm (a GEMM's prologue) "
                                 "stores no start rows");
  }
  if (Type start = spec.startType)
    if (!(start.isF32() || start.isBF16() || start.isF16()))
      return failSpec(emitError, "norm start type must be f32, bf16 or f16");
  return success();
}

FailureOr<KernelInfo> buildNormKernel(OpBuilder &builder,
                                      gpu::GPUModuleOp module, StringRef name,
                                      const NormSpec &spec, Location loc) {
  auto emitError = [&] { return mlir::emitError(loc); };
  if (failed(verifyNormSpec(spec, emitError)))
    return failure();
  if (spec.gather)
    return failSpec(emitError, "a gathered norm runs only as a GEMM's "
                               "prologue (no norm kernel writes its rows)");
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  OpBuilder &b = builder;

  bool withBias = spec.norm == NormKind::Layer;
  KernelInfo info;
  info.name = name.str();
  info.grid = {llvm::divideCeil(spec.rows, kRowsPerBlock), 1, 1};
  info.block = {32 * kRowsPerBlock, 1, 1};
  info.params.push_back({"x", "ptr", {}});
  info.params.push_back({"weight", "ptr", {}});
  if (withBias)
    info.params.push_back({"bias", "ptr", {}});
  if (spec.startType)
    info.params.push_back({"start", "ptr", {}});
  info.params.push_back({"out", "ptr", {}});
  Type f32 = b.getF32Type();
  int64_t dim = spec.dim;
  Type weightType = spec.weightType ? spec.weightType : f32;
  SmallVector<Type> argTypes = {MemRefType::get({spec.rows, dim}, f32),
                                MemRefType::get({dim}, weightType)};
  if (withBias)
    argTypes.push_back(MemRefType::get({dim}, weightType));
  if (spec.startType)
    argTypes.push_back(MemRefType::get({dim}, spec.startType));
  argTypes.push_back(
      MemRefType::get({normOutputRows(spec), dim}, spec.outputType));
  auto func = createKernelFunc(b, loc, name, argTypes, info);
  // One lane stores each pair of `out` (a 2-element vector.store).
  func->setAttr(kEpilogueOutputsAttrName,
                b.getArrayAttr({b.getStringAttr("out")}));
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value x = entry.getArgument(0), weight = entry.getArgument(1);
  Value bias = withBias ? entry.getArgument(2) : Value();
  Value start = spec.startType ? entry.getArgument(withBias ? 3 : 2) : Value();
  Value out = entry.getArguments().back();

  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto [lane, row, inside] = beginWarpRow(b, loc, spec.rows, kRowsPerBlock);

  SmallVector<Value> ys =
      buildNormRow(b, loc, spec, x, weight, bias, row, lane);
  auto roundedPair = VectorType::get({2}, spec.outputType);
  int64_t pairBytes = 2 * spec.outputType.getIntOrFloatBitWidth() / 8;
  auto rounded = [&](Value pair) -> Value {
    if (spec.outputType.isF32())
      return pair;
    return arith::TruncFOp::create(b, loc, roundedPair, pair);
  };
  auto column = [&](int64_t j) -> Value {
    return arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, lane, index(2)), index(64 * j));
  };
  // With start rows, row r of sequence s = r / positions is stored one row
  // on from s's start row, s (positions + 1); the warp of its first row
  // also writes the start row (a warp-uniform branch).
  Value outRow = row;
  if (spec.startType) {
    Value sequence = arith::DivUIOp::create(b, loc, row, index(spec.positions));
    outRow = arith::AddIOp::create(
        b, loc, arith::AddIOp::create(b, loc, row, sequence), index(1));
    Value first = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(b, loc, row, index(spec.positions)), index(0));
    auto startRow = scf::IfOp::create(b, loc, first, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard startGuard(b);
    b.setInsertionPointToStart(&startRow.getThenRegion().front());
    Value startIndex = arith::SubIOp::create(b, loc, outRow, index(1));
    for (int64_t j = 0; j < dim / 64; ++j) {
      Value startColumn = column(j);
      vector::StoreOp::create(
          b, loc, rounded(loadWidened(b, loc, start, startColumn, 2)), out,
          ValueRange{startIndex, startColumn}, false,
          llvm::MaybeAlign(pairBytes));
    }
  }
  for (int64_t j = 0; j < dim / 64; ++j)
    vector::StoreOp::create(b, loc, rounded(ys[j]), out,
                            ValueRange{outRow, column(j)}, false,
                            llvm::MaybeAlign(pairBytes));
  b.setInsertionPointAfter(inside);
  gpu::ReturnOp::create(b, loc);
  return info;
}

} // namespace mbc::cuda
