//===- InlineWeights.cpp - attach safetensors data to mb.param ops --------===//
#include "passes/Passes.h"

#include "mbc/Import/Safetensors.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace mbc {
#define GEN_PASS_DEF_INLINEWEIGHTS
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

Type elementTypeFor(MLIRContext *context, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return Float32Type::get(context);
  case DType::F16:
    return Float16Type::get(context);
  case DType::BF16:
    return BFloat16Type::get(context);
  }
  llvm_unreachable("unknown dtype");
}

struct InlineWeightsPass : impl::InlineWeightsBase<InlineWeightsPass> {
  using InlineWeightsBase::InlineWeightsBase;

  void runOnOperation() override {
    if (weights.empty()) {
      getOperation().emitError("mb-inline-weights needs weights=<file>");
      return signalPassFailure();
    }
    llvm::Expected<SafetensorsFile> file = SafetensorsFile::open(weights);
    if (!file) {
      getOperation().emitError(llvm::toString(file.takeError()));
      return signalPassFailure();
    }
    WalkResult result = getOperation().walk([&](mb::ParamOp param) {
      if (failed(inlineParam(param, *file)))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  LogicalResult inlineParam(mb::ParamOp param, const SafetensorsFile &file) {
    const TensorInfo *tensor = file.find(param.getName());
    if (!tensor)
      return param.emitOpError()
             << "tensor '" << param.getName() << "' is not in " << file.path();
    auto type = cast<RankedTensorType>(param.getType());
    auto stored = RankedTensorType::get(
        tensor->shape, elementTypeFor(&getContext(), tensor->dtype));
    if (stored != type)
      return param.emitOpError()
             << "tensor '" << param.getName() << "' in " << file.path()
             << " is " << stored << ", the op expects " << type;
    ArrayRef<uint8_t> bytes = file.data(*tensor);
    AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
        ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                       bytes.size()),
        alignof(uint64_t));
    param.setValueAttr(
        DenseResourceElementsAttr::get(type, param.getName(), std::move(blob)));
    return success();
  }
};

} // namespace
} // namespace mbc
