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

namespace mbc {
namespace {

constexpr StringLiteral kKernelModuleName = "mbc_kernels";

/// The selected kernel's spec attribute of `callee` (mb.cuda_gemm, ...),
/// null when it stands for no selected kernel.
Attribute selectedSpec(func::FuncOp callee) {
  for (StringRef attrName :
       {cuda::kSelectedGemmAttrName, cuda::kSelectedGemvAttrName,
        cuda::kSelectedAttentionAttrName, cuda::kSelectedLocalLayerAttrName,
        cuda::kSelectedNormAttrName, cuda::kSelectedDecodeAttentionAttrName,
        cuda::kSelectedLogSoftmaxAttrName})
    if (Attribute attr = callee->getAttr(attrName))
      return attr;
  return {};
}

/// A gpu.launch_func of `kernel` with `info`'s grid, block and dynamic
/// shared memory, carrying `info` as its launch facts. Tensor maps are
/// !llvm.ptr parameters; on the host they stand for the buffer they
/// describe (the plan encodes them from it).
void launchKernel(OpBuilder &builder, Location loc, gpu::GPUFuncOp kernel,
                  const cuda::KernelInfo &info, ValueRange operands) {
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(builder, loc, value);
  };
  gpu::KernelDim3 grid{index(info.grid[0]), index(info.grid[1]),
                       index(info.grid[2])};
  gpu::KernelDim3 block{index(info.block[0]), index(info.block[1]),
                        index(info.block[2])};
  Value shared = arith::ConstantIntOp::create(
      builder, loc, builder.getI32Type(), info.dynamicSharedBytes);
  SmallVector<Value> arguments(operands);
  for (auto [operand, argument] : llvm::zip(arguments, kernel.getArguments()))
    if (operand.getType() != argument.getType())
      operand = UnrealizedConversionCastOp::create(builder, loc,
                                                   argument.getType(), operand)
                    .getResult(0);
  auto launch = gpu::LaunchFuncOp::create(builder, loc, kernel, grid, block,
                                          shared, arguments);
  launch->setAttr(cuda::kLaunchAttrName,
                  info.toAttribute(builder.getContext()));
}

struct CudaLaunchSelectedKernelsPass
    : public impl::CudaLaunchSelectedKernelsBase<
          CudaLaunchSelectedKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable moduleSymbols(module);
    SmallVector<func::CallOp> calls;
    module.walk([&](func::CallOp call) {
      auto callee = moduleSymbols.lookup<func::FuncOp>(call.getCallee());
      if (callee && selectedSpec(callee))
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
    DenseMap<Attribute, std::pair<std::string, cuda::KernelInfo>> built;
    // A split decode attention's second kernel (merging the splits), by the
    // first kernel's name.
    llvm::StringMap<std::pair<std::string, cuda::KernelInfo>> combines;
    for (func::CallOp call : calls) {
      auto callee = moduleSymbols.lookup<func::FuncOp>(call.getCallee());
      declarations.insert(callee);
      auto emitError = [&] { return call.emitOpError(); };
      auto caller = call->getParentOfType<func::FuncOp>();
      auto uniqueName = [&](StringRef kind) {
        std::string name;
        do
          name = (caller.getName() + "_" + kind + "_" +
                  Twine(counts[(caller.getName() + kind).str()]++))
                     .str();
        while (kernelSymbols.lookup(name));
        return name;
      };
      std::string name;
      FailureOr<cuda::KernelInfo> info = failure();
      // The built kernel's parameters: the call's operands with C (the new
      // result buffer) at its "c" for a GEMM or GEMV, last for the others.
      bool gemmLike = callee->hasAttr(cuda::kSelectedGemmAttrName) ||
                      callee->hasAttr(cuda::kSelectedGemvAttrName);
      // Calls with one spec (the same layer shape, repeated) launch one
      // kernel: built once, compiled once.
      Attribute specAttr = selectedSpec(callee);
      auto cached = built.find(specAttr);
      if (cached != built.end()) {
        name = cached->second.first;
        info = cached->second.second;
      } else if (auto gemmAttr = callee->getAttrOfType<DictionaryAttr>(
              cuda::kSelectedGemmAttrName)) {
        FailureOr<cuda::GemmSpec> spec =
            cuda::gemmSpecFromAttribute(gemmAttr, emitError);
        if (failed(spec))
          return signalPassFailure();
        name = uniqueName("gemm");
        info =
            cuda::buildGemmKernel(builder, kernels, name, *spec, call.getLoc());
      } else if (auto gemvAttr = callee->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedGemvAttrName)) {
        FailureOr<cuda::GemvSpec> spec =
            cuda::gemvSpecFromAttribute(gemvAttr, emitError);
        if (failed(spec))
          return signalPassFailure();
        name = uniqueName("gemv");
        info =
            cuda::buildGemvKernel(builder, kernels, name, *spec, call.getLoc());
      } else if (auto layerAttr = callee->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedLocalLayerAttrName)) {
        FailureOr<cuda::LocalLayerSpec> spec =
            cuda::localLayerSpecFromAttribute(layerAttr, emitError);
        if (failed(spec))
          return signalPassFailure();
        name = uniqueName("local_layer");
        info = cuda::buildLocalLayerKernel(builder, kernels, name, *spec,
                                           call.getLoc());
      } else if (auto normAttr = callee->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedNormAttrName)) {
        FailureOr<cuda::NormSpec> spec =
            cuda::normSpecFromAttribute(normAttr, emitError);
        if (failed(spec))
          return signalPassFailure();
        name = uniqueName("norm");
        info =
            cuda::buildNormKernel(builder, kernels, name, *spec, call.getLoc());
      } else if (auto decodeAttr = callee->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedDecodeAttentionAttrName)) {
        FailureOr<cuda::DecodeAttentionSpec> spec =
            cuda::decodeAttentionSpecFromAttribute(decodeAttr, emitError);
        if (failed(spec))
          return signalPassFailure();
        name = uniqueName("decode_attention");
        info = cuda::buildDecodeAttentionKernel(builder, kernels, name, *spec,
                                                call.getLoc());
        if (succeeded(info) && spec->splits > 1) {
          std::string combineName = uniqueName("decode_combine");
          FailureOr<cuda::KernelInfo> combineInfo =
              cuda::buildDecodeAttentionCombineKernel(
                  builder, kernels, combineName, *spec, call.getLoc());
          if (failed(combineInfo))
            return signalPassFailure();
          kernelSymbols.insert(
              kernels.lookupSymbol<gpu::GPUFuncOp>(combineName));
          combines[name] = {combineName, *combineInfo};
        }
      } else if (auto logSoftmaxAttr = callee->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedLogSoftmaxAttrName)) {
        FailureOr<cuda::LogSoftmaxSpec> spec =
            cuda::logSoftmaxSpecFromAttribute(logSoftmaxAttr, emitError);
        if (failed(spec))
          return signalPassFailure();
        name = uniqueName("log_softmax");
        info = cuda::buildLogSoftmaxKernel(builder, kernels, name, *spec,
                                           call.getLoc());
      } else {
        FailureOr<cuda::AttentionSpec> spec = cuda::attentionSpecFromAttribute(
            callee->getAttrOfType<DictionaryAttr>(
                cuda::kSelectedAttentionAttrName),
            emitError);
        if (failed(spec))
          return signalPassFailure();
        name = uniqueName("attention");
        info = cuda::buildAttentionKernel(builder, kernels, name, *spec,
                                          call.getLoc());
      }
      if (failed(info))
        return signalPassFailure();
      auto kernel = kernels.lookupSymbol<gpu::GPUFuncOp>(name);
      if (cached == built.end()) {
        kernelSymbols.insert(kernel);
        built[specAttr] = {name, *info};
      }

      builder.setInsertionPoint(call);
      Location loc = call.getLoc();
      SmallVector<Value> operands(call.getOperands());
      // The results: a new buffer each (a paired GEMV or GEMM has two, a
      // GEMV with a third product three; each later product's C follows
      // its W, the call's last operands), or (a declaration with a body, see
      // callSelectedDecodeAttention) the out-param buffer that
      // buffer-results-to-out-params appended. A buffer only copied into an
      // entry's output becomes that output later (mb-elide-output-copies).
      SmallVector<Value> results;
      unsigned maxResults = callee->hasAttr(cuda::kSelectedGemvAttrName) ? 3
                            : gemmLike                                   ? 2
                                                                         : 1;
      if (call.getNumResults() >= 1 && call.getNumResults() <= maxResults &&
          llvm::all_of(call.getResultTypes(), llvm::IsaPred<MemRefType>)) {
        for (Type type : call.getResultTypes())
          results.push_back(
              memref::AllocOp::create(builder, loc, cast<MemRefType>(type)));
      } else if (call.getNumResults() == 0 && !callee.isExternal() &&
                 !operands.empty() &&
                 isa<MemRefType>(operands.back().getType())) {
        results.push_back(operands.pop_back_val());
      } else {
        call.emitOpError(
            "mb-cuda-launch-selected-kernels: expected one "
            "buffer result, two for a paired GEMV or GEMM, three for a GEMV "
            "with a third product (run after "
            "bufferization)");
        return signalPassFailure();
      }
      Value result = results.front();
      // A split decode attention writes its partials to a buffer of their
      // own (the combine kernel's first parameter), which the combine kernel
      // launched right after reads.
      auto combine = combines.find(name);
      gpu::GPUFuncOp combineKernel =
          combine == combines.end()
              ? gpu::GPUFuncOp()
              : kernels.lookupSymbol<gpu::GPUFuncOp>(combine->second.first);
      Value kernelOutput =
          combineKernel
              ? memref::AllocOp::create(
                    builder, loc,
                    cast<MemRefType>(combineKernel.getArgument(0).getType()))
                    .getResult()
              : result;
      // A GEMM's or GEMV's C goes where its kernel takes "c" (after A, or
      // a gathering norm prologue's ids and table, and B).
      size_t outputPosition = operands.size();
      if (gemmLike)
        outputPosition = llvm::find_if(info->params,
                                       [](const cuda::KernelParam &param) {
                                         return param.name == "c";
                                       }) -
                         info->params.begin();
      operands.insert(operands.begin() +
                          std::min(outputPosition, operands.size()),
                      kernelOutput);
      if (results.size() > 1) {
        SmallVector<Value> laterWeights(operands.end() - (results.size() - 1),
                                        operands.end());
        operands.resize(operands.size() - laterWeights.size());
        for (auto [weight, output] :
             llvm::zip(laterWeights, ArrayRef(results).drop_front())) {
          operands.push_back(weight);
          operands.push_back(output);
        }
      }
      if (operands.size() != kernel.getNumArguments()) {
        call.emitOpError("mb-cuda-launch-selected-kernels: the call has ")
            << operands.size() - 1 << " operands, kernel '" << name
            << "' takes " << kernel.getNumArguments() - 1
            << " besides its output";
        return signalPassFailure();
      }
      launchKernel(builder, loc, kernel, *info, operands);
      if (combineKernel)
        launchKernel(builder, loc, combineKernel, combine->second.second,
                     {kernelOutput, result});
      for (auto [callResult, buffer] : llvm::zip(call.getResults(), results))
        callResult.replaceAllUsesWith(buffer);
      call.erase();
    }
    for (func::FuncOp declaration : declarations)
      declaration.erase();
  }
};

} // namespace
} // namespace mbc
