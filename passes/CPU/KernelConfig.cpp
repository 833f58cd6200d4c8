//===- KernelConfig.cpp - the mb.kernel_config attribute ------------------===//
#include "passes/CPU/KernelConfig.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace mbc {

StringRef stringifyKernelKind(KernelKind kind) {
  switch (kind) {
  case KernelKind::Contraction:
    return "contraction";
  case KernelKind::DotProduct:
    return "dot_product";
  case KernelKind::Elementwise:
    return "elementwise";
  case KernelKind::Reduction:
    return "reduction";
  }
  llvm_unreachable("unknown kernel kind");
}

static std::optional<KernelKind> parseKernelKind(StringRef name) {
  for (KernelKind kind :
       {KernelKind::Contraction, KernelKind::DotProduct,
        KernelKind::Elementwise, KernelKind::Reduction})
    if (stringifyKernelKind(kind) == name)
      return kind;
  return std::nullopt;
}

void setKernelConfig(Operation *op, const KernelConfig &config) {
  Builder builder(op->getContext());
  SmallVector<NamedAttribute> entries;
  entries.push_back(builder.getNamedAttr(
      "kind", builder.getStringAttr(stringifyKernelKind(config.kind))));
  if (!config.cacheTiles.empty())
    entries.push_back(builder.getNamedAttr(
        "cache_tiles", builder.getDenseI64ArrayAttr(config.cacheTiles)));
  if (!config.cacheOrder.empty())
    entries.push_back(builder.getNamedAttr(
        "cache_order", builder.getDenseI64ArrayAttr(config.cacheOrder)));
  entries.push_back(builder.getNamedAttr(
      "register_tiles", builder.getDenseI64ArrayAttr(config.registerTiles)));
  op->setAttr(kKernelConfigAttrName, builder.getDictionaryAttr(entries));
}

FailureOr<std::optional<KernelConfig>> readKernelConfig(Operation *op,
                                                        unsigned numLoops) {
  Attribute attr = op->getAttr(kKernelConfigAttrName);
  if (!attr)
    return std::optional<KernelConfig>();
  auto dict = dyn_cast<DictionaryAttr>(attr);
  if (!dict)
    return op->emitError() << kKernelConfigAttrName << " must be a dictionary";
  KernelConfig config;
  auto kind = dict.getAs<StringAttr>("kind");
  std::optional<KernelKind> parsedKind =
      kind ? parseKernelKind(kind.getValue()) : std::nullopt;
  if (!parsedKind)
    return op->emitError()
           << kKernelConfigAttrName
           << ": 'kind' must be one of \"contraction\", \"dot_product\", "
              "\"elementwise\", \"reduction\"";
  config.kind = *parsedKind;

  auto readSizes = [&](StringRef key, bool required,
                       SmallVectorImpl<int64_t> &sizes) -> LogicalResult {
    Attribute entry = dict.get(key);
    if (!entry) {
      if (!required)
        return success();
      return op->emitError() << kKernelConfigAttrName << ": missing '" << key
                             << "'";
    }
    auto array = dyn_cast<DenseI64ArrayAttr>(entry);
    if (!array || array.size() != static_cast<int64_t>(numLoops))
      return op->emitError()
             << kKernelConfigAttrName << ": '" << key << "' must be an "
             << "array<i64> with one entry per loop (" << numLoops << ")";
    if (llvm::any_of(array.asArrayRef(), [](int64_t size) { return size < 0; }))
      return op->emitError() << kKernelConfigAttrName << ": '" << key
                             << "' has a negative size";
    sizes.assign(array.asArrayRef().begin(), array.asArrayRef().end());
    return success();
  };
  if (failed(readSizes("cache_tiles", /*required=*/false, config.cacheTiles)) ||
      failed(readSizes("cache_order", /*required=*/false, config.cacheOrder)) ||
      failed(readSizes("register_tiles", /*required=*/true,
                       config.registerTiles)))
    return failure();
  if (!config.cacheOrder.empty()) {
    SmallVector<bool> seen(numLoops, false);
    for (int64_t loop : config.cacheOrder) {
      if (loop >= static_cast<int64_t>(numLoops) || seen[loop])
        return op->emitError() << kKernelConfigAttrName
                               << ": 'cache_order' must be a permutation of "
                                  "the loops";
      seen[loop] = true;
    }
  }
  return std::optional<KernelConfig>(std::move(config));
}

int64_t hostVectorBits() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return 512;
  if (features.lookup("avx2") && features.lookup("fma"))
    return 256;
  return 128;
}

} // namespace mbc
