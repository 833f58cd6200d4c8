//===- KernelBuilderUtils.cpp - helpers shared by the kernel builders -----===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;

namespace mbc::cuda {

LogicalResult failSpec(function_ref<InFlightDiagnostic()> emitError,
                       const Twine &message) {
  emitError() << message;
  return failure();
}

gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module) {
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(module.getContext()));
  for (auto gpuModule : module.getOps<gpu::GPUModuleOp>())
    if (gpuModule.getName() == "kernels")
      return gpuModule;
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  return gpu::GPUModuleOp::create(b, module.getLoc(), "kernels");
}

Attribute getWorkgroupSpace(MLIRContext *context) {
  return gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup);
}

Value createDynamicShared(OpBuilder &b, Location loc) {
  return gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                      MemRefLayoutAttrInterface{},
                      getWorkgroupSpace(b.getContext())));
}

Value viewShared(OpBuilder &b, Location loc, Value shared, Value byteOffset,
                 ArrayRef<int64_t> shape, Type elementType) {
  return memref::ViewOp::create(
      b, loc,
      MemRefType::get(shape, elementType, MemRefLayoutAttrInterface{},
                      getWorkgroupSpace(b.getContext())),
      shared, byteOffset, ValueRange{});
}

Value alignSharedBase(OpBuilder &b, Location loc, Value shared,
                      int64_t alignment) {
  // (alignment - address % alignment) % alignment, on the shared-window
  // address of the dynamic shared memory.
  Value address = memref::ExtractAlignedPointerAsIndexOp::create(
      b, loc, b.getIndexType(), shared);
  Value align = arith::ConstantIndexOp::create(b, loc, alignment);
  Value misalignment = arith::RemUIOp::create(b, loc, address, align);
  Value pad = arith::SubIOp::create(b, loc, align, misalignment);
  return arith::RemUIOp::create(b, loc, pad, align);
}

void appendEpilogueParams(SmallVectorImpl<Type> &argTypes, KernelInfo &info,
                          int64_t m, int64_t n, bool bias, Type biasType,
                          bool residual, Type f32) {
  if (bias) {
    argTypes.push_back(MemRefType::get({n}, biasType ? biasType : f32));
    info.params.push_back({"bias", "ptr", {}});
  }
  if (residual) {
    argTypes.push_back(MemRefType::get({m, n}, f32));
    info.params.push_back({"residual", "ptr", {}});
  }
}

LogicalResult verifyBiasType(Type biasType,
                             function_ref<InFlightDiagnostic()> emitError) {
  if (biasType && !biasType.isF32() && !biasType.isBF16() && !biasType.isF16())
    return failSpec(emitError, "bias type must be f32, bf16 or f16");
  return success();
}

gpu::GPUFuncOp createKernelFunc(OpBuilder &builder, Location loc,
                                StringRef name, ArrayRef<Type> argTypes,
                                const KernelInfo &info) {
  auto func = gpu::GPUFuncOp::create(builder, loc, name,
                                     builder.getFunctionType(argTypes, {}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                builder.getUnitAttr());
  func.setKnownBlockSizeAttr(builder.getDenseI32ArrayAttr(
      {static_cast<int32_t>(info.block[0]), static_cast<int32_t>(info.block[1]),
       static_cast<int32_t>(info.block[2])}));
  func->setAttr(kLaunchAttrName, info.toAttribute(builder.getContext()));
  return func;
}

Value buildGelu(OpBuilder &b, Location loc, Value x, bool tanhForm) {
  auto constant = [&](double value) -> Value {
    auto shaped = dyn_cast<ShapedType>(x.getType());
    if (!shaped)
      return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
    return arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            shaped, llvm::ArrayRef<float>(static_cast<float>(value))));
  };
  Value inner;
  if (tanhForm) {
    Value cube =
        arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
    Value poly = arith::AddFOp::create(
        b, loc, x, arith::MulFOp::create(b, loc, cube, constant(0.044715)));
    inner = math::TanhOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, poly, constant(std::sqrt(2.0 / M_PI))));
  } else {
    inner = math::ErfOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, constant(M_SQRT1_2)));
  }
  Value onePlus = arith::AddFOp::create(b, loc, inner, constant(1.0));
  Value half = arith::MulFOp::create(b, loc, x, constant(0.5));
  return arith::MulFOp::create(b, loc, half, onePlus);
}

Value buildExp2Approx(OpBuilder &b, Location loc, Value x) {
  return LLVM::CallIntrinsicOp::create(
             b, loc, b.getF32Type(),
             b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f"), ValueRange{x})
      .getResult(0);
}

Value buildMBarrierParity(OpBuilder &b, Location loc, Value use) {
  return arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne,
      arith::RemUIOp::create(b, loc, use,
                             arith::ConstantIndexOp::create(b, loc, 2)),
      arith::ConstantIndexOp::create(b, loc, 0));
}

void buildNamedBarrierSync(OpBuilder &b, Location loc, Value id,
                           Value threads) {
  NVVM::BarrierOp::create(b, loc, /*res=*/Type(), id, threads,
                          /*reductionOp=*/NVVM::BarrierReductionAttr(),
                          /*reductionPredicate=*/Value());
}

Value buildRotaryInverseFrequency(OpBuilder &b, Location loc, Value i,
                                  int64_t headDim, double theta) {
  Value exponent = arith::MulFOp::create(
      b, loc, i,
      arith::ConstantOp::create(b, loc,
                                b.getF32FloatAttr(static_cast<float>(
                                    -2.0 / headDim * std::log2(theta)))));
  return buildExp2Approx(b, loc, exponent);
}

Value buildXorReduce(OpBuilder &b, Location loc, Value value,
                     ArrayRef<int32_t> offsets, bool isMax) {
  for (int32_t offset : offsets) {
    Value other =
        gpu::ShuffleOp::create(b, loc, value, offset, 32, gpu::ShuffleMode::XOR)
            .getShuffleResult();
    value = isMax ? arith::MaxNumFOp::create(b, loc, value, other).getResult()
                  : arith::AddFOp::create(b, loc, value, other).getResult();
  }
  return value;
}

WarpRow beginWarpRow(OpBuilder &b, Location loc, int64_t rows,
                     int64_t rowsPerBlock) {
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  WarpRow warpRow;
  warpRow.lane = arith::RemUIOp::create(b, loc, tid, index(32));
  warpRow.row = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc,
                            gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                            index(rowsPerBlock)),
      arith::DivUIOp::create(b, loc, tid, index(32)));
  // The whole warp takes the branch or not (one row per warp).
  warpRow.inside = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, warpRow.row,
                            index(rows)),
      /*withElseRegion=*/false);
  b.setInsertionPointToStart(&warpRow.inside.getThenRegion().front());
  return warpRow;
}

Value buildInverseRms(OpBuilder &b, Location loc, Value meanSquare,
                      NormKind kind, double epsilon) {
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  if (kind == NormKind::RmsClamp) {
    // MEGABYTE-pytorch: x / max(||x|| d^-1/2, eps).
    Value rms = math::SqrtOp::create(b, loc, meanSquare);
    return arith::DivFOp::create(
        b, loc, constant(1),
        arith::MaximumFOp::create(b, loc, rms, constant(epsilon)));
  }
  return arith::DivFOp::create(
      b, loc, constant(1),
      math::SqrtOp::create(
          b, loc, arith::AddFOp::create(b, loc, meanSquare, constant(epsilon))));
}

SmallVector<Value> buildWarpRowNorm(OpBuilder &b, Location loc,
                                    ArrayRef<Value> values,
                                    ArrayRef<Value> weights,
                                    ArrayRef<Value> biases, NormKind kind,
                                    double epsilon, int64_t dim) {
  Type f32 = b.getF32Type();
  auto pairType = VectorType::get({2}, f32);
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  SmallVector<Value> x(values);
  auto warpSum = [&](function_ref<Value(Value)> term) {
    Value sum = constant(0);
    for (Value value : x) {
      Value t = term(value);
      for (int64_t e = 0; e < 2; ++e)
        sum = arith::AddFOp::create(
            b, loc, sum,
            vector::ExtractOp::create(b, loc, t, ArrayRef<int64_t>{e}));
    }
    return buildXorReduce(b, loc, sum, {16, 8, 4, 2, 1}, /*isMax=*/false);
  };
  Value count = constant(static_cast<double>(dim));
  if (kind == NormKind::Layer) {
    Value mean =
        arith::DivFOp::create(b, loc, warpSum([](Value v) { return v; }), count);
    Value meanPair = vector::BroadcastOp::create(b, loc, pairType, mean);
    for (Value &value : x)
      value = arith::SubFOp::create(b, loc, value, meanPair);
  }
  Value meanSquare = arith::DivFOp::create(
      b, loc,
      warpSum([&](Value v) { return arith::MulFOp::create(b, loc, v, v); }),
      count);
  Value inverse = buildInverseRms(b, loc, meanSquare, kind, epsilon);
  Value inversePair = vector::BroadcastOp::create(b, loc, pairType, inverse);
  SmallVector<Value> result;
  for (size_t j = 0; j < x.size(); ++j) {
    Value y = arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, x[j], inversePair), weights[j]);
    if (!biases.empty())
      y = arith::AddFOp::create(b, loc, y, biases[j]);
    result.push_back(y);
  }
  return result;
}

std::pair<Value, Value> buildTokenShiftSource(OpBuilder &b, Location loc,
                                              Value row, Value column,
                                              Value firstPosition,
                                              int64_t dim) {
  Value shifted = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::uge, column,
      arith::ConstantIndexOp::create(b, loc, dim - dim / 2));
  Value hidden = arith::AndIOp::create(b, loc, shifted, firstPosition);
  Value previous = arith::SelectOp::create(
      b, loc, firstPosition, row,
      arith::SubIOp::create(b, loc, row,
                            arith::ConstantIndexOp::create(b, loc, 1)));
  Value source = arith::SelectOp::create(b, loc, shifted, previous, row);
  return {source, hidden};
}

Value loadWidened(OpBuilder &b, Location loc, Value memref, ValueRange indices,
                  int64_t lanes) {
  Type element = cast<MemRefType>(memref.getType()).getElementType();
  int64_t bytes = lanes * element.getIntOrFloatBitWidth() / 8;
  Value value =
      vector::LoadOp::create(b, loc, VectorType::get({lanes}, element), memref,
                             indices, false, llvm::MaybeAlign(bytes));
  if (element.isF32())
    return value;
  return arith::ExtFOp::create(
      b, loc, VectorType::get({lanes}, b.getF32Type()), value);
}

Type parseFloatTypeName(Builder &builder, StringRef name) {
  if (name == "f32")
    return builder.getF32Type();
  if (name == "bf16")
    return builder.getBF16Type();
  if (name == "f16")
    return builder.getF16Type();
  return {};
}

Type parseFloatTypeOption(Builder &builder, StringRef option, StringRef name,
                          function_ref<InFlightDiagnostic()> emitError) {
  Type type = parseFloatTypeName(builder, name);
  if (!type)
    emitError() << option << " = '" << name << "' (expected f32, bf16 or f16)";
  return type;
}

} // namespace mbc::cuda
