//===- LogSoftmaxKernel.cpp - the head's log-softmax, one warp a row ------===//
#include "passes/CUDA/Kernels/LogSoftmaxKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace mbc::cuda {
namespace {

constexpr int64_t kRowsPerBlock = 4; // one warp a row

} // namespace

SmallVector<Value> buildLogSoftmaxRow(OpBuilder &b, Location loc,
                                      ArrayRef<Value> values) {
  Type f32 = b.getF32Type();
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  Value max = constant(-std::numeric_limits<double>::infinity());
  for (Value value : values)
    max = arith::MaxNumFOp::create(b, loc, max, value);
  max = buildXorReduce(b, loc, max, {16, 8, 4, 2, 1}, /*isMax=*/true);
  Value log2e = constant(M_LOG2E);
  SmallVector<Value> shifted;
  Value sum = constant(0);
  for (Value value : values) {
    Value centered = arith::SubFOp::create(b, loc, value, max);
    shifted.push_back(centered);
    sum = arith::AddFOp::create(
        b, loc, sum,
        buildExp2Approx(b, loc,
                        arith::MulFOp::create(b, loc, centered, log2e)));
  }
  sum = buildXorReduce(b, loc, sum, {16, 8, 4, 2, 1}, /*isMax=*/false);
  // sum >= 1 (the max contributes exp(0)): no denormal or zero to guard.
  Value log2Sum = LLVM::CallIntrinsicOp::create(
                      b, loc, f32, b.getStringAttr("llvm.nvvm.lg2.approx.f"),
                      ValueRange{sum})
                      .getResult(0);
  Value logSum = arith::MulFOp::create(b, loc, log2Sum, constant(M_LN2));
  SmallVector<Value> results;
  for (Value value : shifted)
    results.push_back(arith::SubFOp::create(b, loc, value, logSum));
  return results;
}

LogicalResult
verifyLogSoftmaxSpec(const LogSoftmaxSpec &spec,
                     function_ref<InFlightDiagnostic()> emitError) {
  if (spec.rows <= 0)
    return failSpec(emitError, "log-softmax rows = " + Twine(spec.rows) +
                                   " must be positive");
  if (spec.columns <= 0 || spec.columns > kMaxLogSoftmaxColumns)
    return failSpec(emitError,
                    "log-softmax columns = " + Twine(spec.columns) +
                        " is not supported (1 to " +
                        Twine(kMaxLogSoftmaxColumns) +
                        ": a lane keeps its columns of the row in registers)");
  return success();
}

FailureOr<KernelInfo> buildLogSoftmaxKernel(OpBuilder &builder,
                                            gpu::GPUModuleOp module,
                                            StringRef name,
                                            const LogSoftmaxSpec &spec,
                                            Location loc) {
  auto emitError = [&] { return mlir::emitError(loc); };
  if (failed(verifyLogSoftmaxSpec(spec, emitError)))
    return failure();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  OpBuilder &b = builder;

  KernelInfo info;
  info.name = name.str();
  info.grid = {static_cast<int64_t>(llvm::divideCeil(spec.rows, kRowsPerBlock)),
               1, 1};
  info.block = {32 * kRowsPerBlock, 1, 1};
  info.params.push_back({"x", "ptr", {}});
  info.params.push_back({"out", "ptr", {}});
  Type f32 = b.getF32Type();
  auto matrix = MemRefType::get({spec.rows, spec.columns}, f32);
  auto func = createKernelFunc(b, loc, name, {matrix, matrix}, info);
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value x = entry.getArgument(0), out = entry.getArgument(1);

  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  auto [lane, row, inside] = beginWarpRow(b, loc, spec.rows, kRowsPerBlock);

  // A partial last step (columns not a multiple of 32): its lanes past the
  // end read the last column (a valid address) and count it as -inf.
  bool partial = spec.columns % 32 != 0;
  int64_t steps = llvm::divideCeil(spec.columns, 32);
  Value minusInfinity = constant(-std::numeric_limits<double>::infinity());
  SmallVector<Value> columns, inRange, values;
  for (int64_t j = 0; j < steps; ++j) {
    Value column = arith::AddIOp::create(b, loc, lane, index(32 * j));
    Value valid;
    Value address = column;
    if (partial && j == steps - 1) {
      valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, column,
                                    index(spec.columns));
      address = arith::MinUIOp::create(b, loc, column, index(spec.columns - 1));
    }
    Value value = memref::LoadOp::create(b, loc, x, ValueRange{row, address});
    if (valid)
      value = arith::SelectOp::create(b, loc, valid, value, minusInfinity);
    columns.push_back(column);
    inRange.push_back(valid);
    values.push_back(value);
  }
  SmallVector<Value> results = buildLogSoftmaxRow(b, loc, values);
  for (int64_t j = 0; j < steps; ++j) {
    Value result = results[j];
    if (!inRange[j]) {
      memref::StoreOp::create(b, loc, result, out, ValueRange{row, columns[j]});
      continue;
    }
    auto store =
        scf::IfOp::create(b, loc, inRange[j], /*withElseRegion=*/false);
    OpBuilder::InsertionGuard storeGuard(b);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    memref::StoreOp::create(b, loc, result, out, ValueRange{row, columns[j]});
  }
  b.setInsertionPointAfter(inside);
  gpu::ReturnOp::create(b, loc);
  return info;
}

} // namespace mbc::cuda
