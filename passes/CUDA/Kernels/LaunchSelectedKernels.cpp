//===- LaunchSelectedKernels.cpp - mb-cuda-launch-selected-kernels --------===//
//
// After bufferization: `call @mbc_gemm_<n>(%a, %b, ...) -> memref` becomes
// an allocation for the result and a gpu.launch_func of a kernel built from
// the callee's `mb.cuda_gemm` spec.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDALAUNCHSELECTEDKERNELS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc::cuda {

DictionaryAttr gemmSpecToAttribute(MLIRContext *context,
                                   const GemmSpec &spec) {
  Builder b(context);
  const GemmConfig &config = spec.config;
  StringRef activation = spec.activation == Activation::GeluErf ? "gelu"
                         : spec.activation == Activation::GeluTanh
                             ? "gelu_tanh"
                         : spec.activation == Activation::Relu ? "relu"
                                                               : "none";
  return b.getDictionaryAttr({
      b.getNamedAttr("m", b.getI64IntegerAttr(spec.m)),
      b.getNamedAttr("n", b.getI64IntegerAttr(spec.n)),
      b.getNamedAttr("k", b.getI64IntegerAttr(spec.k)),
      b.getNamedAttr("element_type", TypeAttr::get(spec.inputType)),
      b.getNamedAttr("mma", b.getStringAttr(config.mma == MmaKind::Wgmma
                                                ? "wgmma"
                                                : "mma_sync")),
      b.getNamedAttr("tile_m", b.getI64IntegerAttr(config.tileM)),
      b.getNamedAttr("tile_n", b.getI64IntegerAttr(config.tileN)),
      b.getNamedAttr("tile_k", b.getI64IntegerAttr(config.tileK)),
      b.getNamedAttr("stages", b.getI64IntegerAttr(config.stages)),
      b.getNamedAttr("bias", b.getBoolAttr(spec.bias)),
      b.getNamedAttr("activation", b.getStringAttr(activation)),
      b.getNamedAttr("residual", b.getBoolAttr(spec.residual)),
  });
}

FailureOr<GemmSpec>
gemmSpecFromAttribute(DictionaryAttr attr,
                      function_ref<InFlightDiagnostic()> emitError) {
  auto integer = [&](StringRef name, int64_t &out) -> LogicalResult {
    auto value = attr.getAs<IntegerAttr>(name);
    if (!value)
      return emitError() << kSelectedGemmAttrName << ": '" << name
                         << "' must be an integer";
    out = value.getInt();
    return success();
  };
  auto boolean = [&](StringRef name, bool &out) -> LogicalResult {
    auto value = attr.getAs<BoolAttr>(name);
    if (!value)
      return emitError() << kSelectedGemmAttrName << ": '" << name
                         << "' must be a bool";
    out = value.getValue();
    return success();
  };
  auto string = [&](StringRef name, StringRef &out) -> LogicalResult {
    auto value = attr.getAs<StringAttr>(name);
    if (!value)
      return emitError() << kSelectedGemmAttrName << ": '" << name
                         << "' must be a string";
    out = value.getValue();
    return success();
  };
  GemmSpec spec;
  GemmConfig &config = spec.config;
  StringRef mma, activation;
  if (failed(integer("m", spec.m)) || failed(integer("n", spec.n)) ||
      failed(integer("k", spec.k)) || failed(integer("tile_m", config.tileM)) ||
      failed(integer("tile_n", config.tileN)) ||
      failed(integer("tile_k", config.tileK)) ||
      failed(integer("stages", config.stages)) ||
      failed(boolean("bias", spec.bias)) ||
      failed(boolean("residual", spec.residual)) ||
      failed(string("mma", mma)) || failed(string("activation", activation)))
    return failure();
  auto elementType = attr.getAs<TypeAttr>("element_type");
  if (!elementType)
    return emitError() << kSelectedGemmAttrName
                       << ": 'element_type' must be a type";
  spec.inputType = elementType.getValue();
  if (mma == "wgmma")
    config.mma = MmaKind::Wgmma;
  else if (mma == "mma_sync")
    config.mma = MmaKind::MmaSync;
  else
    return emitError() << kSelectedGemmAttrName << ": mma = '" << mma
                       << "' (expected wgmma or mma_sync)";
  if (activation == "none")
    spec.activation = Activation::None;
  else if (activation == "gelu")
    spec.activation = Activation::GeluErf;
  else if (activation == "gelu_tanh")
    spec.activation = Activation::GeluTanh;
  else if (activation == "relu")
    spec.activation = Activation::Relu;
  else
    return emitError() << kSelectedGemmAttrName << ": activation = '"
                       << activation
                       << "' (expected none, gelu, gelu_tanh or relu)";
  spec.bLayout = BLayout::NK;
  if (failed(verifyGemmSpec(spec, emitError)))
    return failure();
  return spec;
}

} // namespace mbc::cuda

namespace mbc {
namespace {

constexpr StringLiteral kKernelModuleName = "mbc_kernels";

struct CudaLaunchSelectedKernelsPass
    : public impl::CudaLaunchSelectedKernelsBase<
          CudaLaunchSelectedKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable moduleSymbols(module);
    SmallVector<func::CallOp> calls;
    module.walk([&](func::CallOp call) {
      auto callee = moduleSymbols.lookup<func::FuncOp>(call.getCallee());
      if (callee && callee->hasAttr(cuda::kSelectedGemmAttrName))
        calls.push_back(call);
    });
    if (calls.empty())
      return;

    OpBuilder builder(&getContext());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    builder.getUnitAttr());
    auto kernels = moduleSymbols.lookup<gpu::GPUModuleOp>(kKernelModuleName);
    if (!kernels) {
      builder.setInsertionPointToEnd(module.getBody());
      kernels =
          gpu::GPUModuleOp::create(builder, module.getLoc(), kKernelModuleName);
      moduleSymbols.insert(kernels);
    }
    SymbolTable kernelSymbols(kernels);
    llvm::StringMap<int64_t> counts;
    llvm::SetVector<func::FuncOp> declarations;
    for (func::CallOp call : calls) {
      auto callee = moduleSymbols.lookup<func::FuncOp>(call.getCallee());
      declarations.insert(callee);
      auto emitError = [&] { return call.emitOpError(); };
      FailureOr<cuda::GemmSpec> spec = cuda::gemmSpecFromAttribute(
          callee->getAttrOfType<DictionaryAttr>(cuda::kSelectedGemmAttrName),
          emitError);
      if (failed(spec))
        return signalPassFailure();
      auto caller = call->getParentOfType<func::FuncOp>();
      std::string name;
      do
        name = (caller.getName() + "_gemm_" +
                Twine(counts[caller.getName()]++))
                   .str();
      while (kernelSymbols.lookup(name));
      FailureOr<cuda::KernelInfo> info = cuda::buildGemmKernel(
          builder, kernels, name, *spec, call.getLoc());
      if (failed(info))
        return signalPassFailure();
      auto kernel = kernels.lookupSymbol<gpu::GPUFuncOp>(name);
      kernelSymbols.insert(kernel);

      if (call.getNumResults() != 1 ||
          !isa<MemRefType>(call.getResult(0).getType())) {
        call.emitOpError("mb-cuda-launch-selected-kernels: expected one "
                         "buffer result (run after bufferization)");
        return signalPassFailure();
      }
      // Operands in the kernel's order: a, b, then c (the new result
      // buffer), then bias and residual.
      builder.setInsertionPoint(call);
      Location loc = call.getLoc();
      auto resultType = cast<MemRefType>(call.getResult(0).getType());
      Value result = memref::AllocOp::create(builder, loc, resultType);
      SmallVector<Value> operands(call.getOperands());
      operands.insert(operands.begin() + 2, result);
      if (operands.size() != kernel.getNumArguments()) {
        call.emitOpError("mb-cuda-launch-selected-kernels: the call has ")
            << call.getNumOperands() << " operands, kernel '" << name
            << "' takes " << kernel.getNumArguments() - 1 << " besides C";
        return signalPassFailure();
      }
      auto index = [&](int64_t value) -> Value {
        return arith::ConstantIndexOp::create(builder, loc, value);
      };
      gpu::KernelDim3 grid{index(info->grid[0]), index(info->grid[1]),
                           index(info->grid[2])};
      gpu::KernelDim3 block{index(info->block[0]), index(info->block[1]),
                            index(info->block[2])};
      Value shared = arith::ConstantIntOp::create(
          builder, loc, builder.getI32Type(), info->dynamicSharedBytes);
      // Tensor maps are !llvm.ptr parameters; on the host they stand for
      // the buffer they describe (the plan encodes them from it).
      for (auto [operand, argument] :
           llvm::zip(operands, kernel.getArguments()))
        if (operand.getType() != argument.getType())
          operand = UnrealizedConversionCastOp::create(
                        builder, loc, argument.getType(), operand)
                        .getResult(0);
      auto launch = gpu::LaunchFuncOp::create(builder, loc, kernel, grid, block,
                                              shared, operands);
      launch->setAttr(cuda::kLaunchAttrName, info->toAttribute(&getContext()));
      call.getResult(0).replaceAllUsesWith(result);
      call.erase();
    }
    for (func::FuncOp declaration : declarations)
      declaration.erase();
  }
};

} // namespace
} // namespace mbc
