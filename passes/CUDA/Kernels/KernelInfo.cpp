//===- KernelInfo.cpp - launch facts of a generated CUDA kernel -----------===//
#include "passes/CUDA/Kernels/KernelInfo.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

namespace mbc::cuda {

DictionaryAttr KernelInfo::toAttribute(MLIRContext *context) const {
  Builder b(context);
  SmallVector<Attribute> paramAttrs;
  for (const KernelParam &param : params) {
    SmallVector<NamedAttribute> fields = {
        b.getNamedAttr("name", b.getStringAttr(param.name)),
        b.getNamedAttr("kind", b.getStringAttr(param.kind))};
    if (param.kind == "tensor_map") {
      const TensorMapDescription &map = param.tensorMap;
      fields.push_back(b.getNamedAttr(
          "tensor_map",
          b.getDictionaryAttr({
              b.getNamedAttr("base", b.getStringAttr(map.operand)),
              b.getNamedAttr("dtype", b.getStringAttr(map.dtype)),
              b.getNamedAttr("dims", b.getDenseI64ArrayAttr(map.dims)),
              b.getNamedAttr("strides_bytes",
                             b.getDenseI64ArrayAttr(map.stridesBytes)),
              b.getNamedAttr("box", b.getDenseI64ArrayAttr(map.box)),
              b.getNamedAttr("swizzle", b.getI64IntegerAttr(map.swizzleBytes)),
          })));
    }
    paramAttrs.push_back(b.getDictionaryAttr(fields));
  }
  return b.getDictionaryAttr({
      b.getNamedAttr("grid", b.getDenseI64ArrayAttr(grid)),
      b.getNamedAttr("block", b.getDenseI64ArrayAttr(block)),
      b.getNamedAttr("shared_bytes", b.getI64IntegerAttr(dynamicSharedBytes)),
      b.getNamedAttr("params", b.getArrayAttr(paramAttrs)),
  });
}

} // namespace mbc::cuda
