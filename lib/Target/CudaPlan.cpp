//===- CudaPlan.cpp - entry functions -> docs/cuda.md plans ---------------===//
//
// After mbc-cuda-pipeline an entry function holds only allocations and
// gpu.launch_func ops (and the constants of their grids). Each allocation
// becomes an arena slot, placed by liveness so slots that are never live
// together share bytes; each launch becomes a launch step.
//
//===----------------------------------------------------------------------===//
#include "mbc/Target/CudaCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace mbc {
namespace {

constexpr int64_t kArenaAlignment = 256;

llvm::Error planError(Operation *op, const llvm::Twine &message) {
  std::string location;
  llvm::raw_string_ostream os(location);
  op->getLoc().print(os);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 location + ": " + message);
}

struct Slot {
  int64_t bytes = 0;
  int64_t firstStep = -1;
  int64_t lastStep = -1;
  int64_t offset = 0;
};

/// Places slots in order of first use, each at the lowest aligned offset
/// that no slot live at the same time overlaps. Returns the arena size.
int64_t placeSlots(std::vector<Slot> &slots) {
  std::vector<size_t> order(slots.size());
  for (size_t i = 0; i < slots.size(); ++i)
    order[i] = i;
  llvm::stable_sort(order, [&](size_t a, size_t b) {
    return slots[a].firstStep < slots[b].firstStep;
  });
  int64_t arena = 0;
  std::vector<size_t> placed;
  for (size_t index : order) {
    Slot &slot = slots[index];
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t other : placed) {
      const Slot &o = slots[other];
      if (o.lastStep < slot.firstStep || slot.lastStep < o.firstStep)
        continue;
      busy.push_back({o.offset, o.offset + o.bytes});
    }
    llvm::sort(busy);
    int64_t offset = 0;
    for (auto [begin, end] : busy) {
      if (offset + slot.bytes <= begin)
        break;
      offset = std::max<int64_t>(offset, llvm::alignTo(end, kArenaAlignment));
    }
    slot.offset = offset;
    arena = std::max(arena, offset + slot.bytes);
    placed.push_back(index);
  }
  return static_cast<int64_t>(llvm::alignTo(arena, kArenaAlignment));
}

std::optional<std::string> paramKind(Type type) {
  if (isa<MemRefType>(type))
    return "ptr";
  if (type.isIndex() || type.isInteger(64))
    return "i64";
  if (type.isInteger(32))
    return "i32";
  if (type.isF32())
    return "f32";
  return std::nullopt;
}

llvm::Expected<std::array<int64_t, 3>> constantDims(gpu::LaunchFuncOp launch,
                                                    gpu::KernelDim3 dims,
                                                    llvm::StringRef what) {
  std::array<int64_t, 3> result;
  Value values[3] = {dims.x, dims.y, dims.z};
  for (int i = 0; i < 3; ++i) {
    std::optional<int64_t> constant = getConstantIntValue(values[i]);
    if (!constant || *constant < 1)
      return planError(launch, "kernel '" + launch.getKernelName().str() +
                                   "': the " + what +
                                   " size must be a positive constant");
    result[i] = *constant;
  }
  return result;
}

/// The buffer `value` views without moving data: through reshapes, casts,
/// the unrealized casts that stand for tensor maps and static contiguous
/// subviews (their start in `byteOffset`), to a function argument or an
/// allocation.
Value underlyingBuffer(Value value, int64_t *byteOffset = nullptr) {
  int64_t elements = 0;
  while (Operation *producer = value.getDefiningOp()) {
    if (auto collapse = dyn_cast<memref::CollapseShapeOp>(producer))
      value = collapse.getSrc();
    else if (auto expand = dyn_cast<memref::ExpandShapeOp>(producer))
      value = expand.getSrc();
    else if (auto cast = dyn_cast<memref::CastOp>(producer))
      value = cast.getSource();
    else if (auto cast = dyn_cast<UnrealizedConversionCastOp>(producer);
             cast && cast.getNumOperands() == 1 &&
             isa<MemRefType>(cast.getOperand(0).getType()))
      value = cast.getOperand(0);
    else if (auto subview = dyn_cast<memref::SubViewOp>(producer);
             subview && subview.getOffsets().empty() &&
             subview.getSizes().empty() && subview.getStrides().empty() &&
             memref::isStaticShapeAndContiguousRowMajor(subview.getType())) {
      int64_t resultOffset, sourceOffset;
      SmallVector<int64_t> strides;
      if (failed(
              subview.getType().getStridesAndOffset(strides, resultOffset)) ||
          failed(subview.getSourceType().getStridesAndOffset(strides,
                                                             sourceOffset)) ||
          ShapedType::isDynamic(resultOffset) ||
          ShapedType::isDynamic(sourceOffset))
        break;
      elements += resultOffset - sourceOffset;
      value = subview.getSource();
    } else {
      break;
    }
  }
  if (byteOffset) {
    auto type = cast<MemRefType>(value.getType());
    *byteOffset = elements * llvm::divideCeil(type.getElementTypeBitWidth(), 8);
  }
  return value;
}

bool isBufferView(Operation &op) {
  return isa<memref::CollapseShapeOp, memref::ExpandShapeOp, memref::CastOp,
             UnrealizedConversionCastOp, memref::SubViewOp>(op) &&
         op.getNumResults() == 1 &&
         underlyingBuffer(op.getResult(0)) != op.getResult(0);
}

struct PlanBuilder {
  CudaCode &code;
  llvm::StringSet<> knownKernels;

  /// Derived weight arguments before argument `number`: they are not in
  /// the entry point's args, the arguments after them move down.
  static int64_t derivedBefore(func::FuncOp function, unsigned number) {
    int64_t count = 0;
    for (unsigned i = 0; i < number; ++i)
      count += function.getArgAttr(i, "mb.derived_from") != nullptr;
    return count;
  }

  llvm::Expected<llvm::json::Object> build(func::FuncOp function) {
    llvm::DenseMap<Value, size_t> slotOf;
    std::vector<Slot> slots;
    std::vector<gpu::LaunchFuncOp> launches;
    for (Operation &op : function.getFunctionBody().front()) {
      if (isa<arith::ConstantOp, func::ReturnOp>(op) || isBufferView(op))
        continue;
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        MemRefType type = alloc.getType();
        if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
            !type.getElementType().isIntOrFloat())
          return planError(alloc, "plan of '" + function.getName().str() +
                                      "': an allocation needs a static "
                                      "shape and identity layout");
        Slot slot;
        slot.bytes = std::max<int64_t>(
            1, type.getNumElements() *
                   llvm::divideCeil(type.getElementTypeBitWidth(), 8));
        slotOf[alloc.getResult()] = slots.size();
        slots.push_back(slot);
        continue;
      }
      if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
        if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty())
          return planError(launch, "plan: async launches are not supported");
        for (Value operand : launch.getKernelOperands()) {
          auto it = slotOf.find(underlyingBuffer(operand));
          if (it == slotOf.end())
            continue;
          Slot &slot = slots[it->second];
          if (slot.firstStep < 0)
            slot.firstStep = launches.size();
          slot.lastStep = launches.size();
        }
        launches.push_back(launch);
        continue;
      }
      std::string name = op.getName().getStringRef().str();
      return planError(&op, "plan of '" + function.getName().str() +
                                "': cannot express '" + name +
                                "' as a launch, copy or fill step (only "
                                "memref.alloc and gpu.launch_func may "
                                "remain on the host)");
    }
    int64_t arena = placeSlots(slots);

    llvm::json::Array steps;
    for (gpu::LaunchFuncOp launch : launches) {
      std::string kernelName = launch.getKernelName().str();
      auto grid =
          constantDims(launch, launch.getGridSizeOperandValues(), "grid");
      if (!grid)
        return grid.takeError();
      auto block =
          constantDims(launch, launch.getBlockSizeOperandValues(), "block");
      if (!block)
        return block.takeError();
      // Kernels built by passes/CUDA/Kernels carry their launch facts:
      // parameter kinds (tensor maps among them) and dynamic shared memory.
      auto facts = launch->getAttrOfType<DictionaryAttr>("mbc.launch");
      ArrayAttr declaredParams =
          facts ? facts.getAs<ArrayAttr>("params") : ArrayAttr();
      if (facts && (!declaredParams ||
                    declaredParams.size() != launch.getNumKernelOperands()))
        return planError(
            launch,
            "kernel '" + kernelName + "': mbc.launch lists " +
                llvm::Twine(declaredParams ? declaredParams.size() : 0) +
                " params for " + llvm::Twine(launch.getNumKernelOperands()) +
                " operands");
      CudaKernel kernel;
      kernel.name = kernelName;
      kernel.block = *block;
      if (Value shared = launch.getDynamicSharedMemorySize()) {
        std::optional<int64_t> bytes = getConstantIntValue(shared);
        if (!bytes || *bytes < 0)
          return planError(launch, "kernel '" + kernelName +
                                       "': dynamic shared memory must be a "
                                       "constant");
        kernel.sharedBytes = *bytes;
      }
      llvm::json::Array args;
      for (auto [index, operand] :
           llvm::enumerate(launch.getKernelOperands())) {
        int64_t byteOffset = 0;
        Value buffer = underlyingBuffer(operand, &byteOffset);
        std::optional<std::string> kind = paramKind(buffer.getType());
        DictionaryAttr declared;
        if (declaredParams) {
          declared = dyn_cast<DictionaryAttr>(declaredParams[index]);
          auto declaredKind =
              declared ? declared.getAs<StringAttr>("kind") : StringAttr();
          if (!declaredKind)
            return planError(launch, "kernel '" + kernelName +
                                         "': mbc.launch param #" +
                                         llvm::Twine(index) + " has no kind");
          // A tensor map is described by the buffer it maps.
          if (declaredKind.getValue() == "tensor_map" && kind == "ptr")
            kind = "tensor_map";
          else if (declaredKind.getValue() != kind.value_or(""))
            return planError(launch, "kernel '" + kernelName + "': param #" +
                                         llvm::Twine(index) + " is a '" +
                                         declaredKind.getValue() +
                                         "' but its operand is not");
        }
        if (!kind)
          return planError(launch, "kernel '" + kernelName +
                                       "': unsupported parameter type");
        kernel.params.push_back(*kind);
        std::optional<llvm::json::Object> ref;
        if (auto argument = dyn_cast<BlockArgument>(buffer)) {
          if (argument.getOwner() != &function.getFunctionBody().front() ||
              !isa<MemRefType>(buffer.getType()))
            return planError(launch, "kernel '" + kernelName +
                                         "': a parameter is a non-buffer "
                                         "argument");
          unsigned number = argument.getArgNumber();
          if (function.getArgAttr(number, "mb.derived_from"))
            // A derived weight (mb-cuda-hoist-weight-conversions): not an
            // entry argument, a weight tensor of the model.
            ref = llvm::json::Object{
                {"weight", function.getArgAttrOfType<StringAttr>(number,
                                                                 "mb.weight")
                               .getValue()},
                {"offset", byteOffset}};
          else
            ref = llvm::json::Object{
                {"arg", int64_t(number) - derivedBefore(function, number)},
                {"offset", byteOffset}};
        } else if (auto it = slotOf.find(buffer); it != slotOf.end()) {
          ref = llvm::json::Object{
              {"temp", slots[it->second].offset + byteOffset}};
        }
        if (ref && *kind == "tensor_map" && byteOffset != 0)
          return planError(launch, "kernel '" + kernelName + "': param #" +
                                       llvm::Twine(index) +
                                       " is a tensor map of a subview");
        if (ref && *kind == "tensor_map") {
          auto map = declared.getAs<DictionaryAttr>("tensor_map");
          auto dtype = map ? map.getAs<StringAttr>("dtype") : StringAttr();
          auto dims =
              map ? map.getAs<DenseI64ArrayAttr>("dims") : DenseI64ArrayAttr();
          auto strides = map ? map.getAs<DenseI64ArrayAttr>("strides_bytes")
                             : DenseI64ArrayAttr();
          auto box =
              map ? map.getAs<DenseI64ArrayAttr>("box") : DenseI64ArrayAttr();
          auto swizzle =
              map ? map.getAs<IntegerAttr>("swizzle") : IntegerAttr();
          if (!dtype || !dims || !strides || !box || !swizzle)
            return planError(launch, "kernel '" + kernelName +
                                         "': mbc.launch param #" +
                                         llvm::Twine(index) +
                                         " lacks its tensor_map description");
          auto array = [](DenseI64ArrayAttr values) {
            llvm::json::Array result;
            for (int64_t value : values.asArrayRef())
              result.push_back(value);
            return result;
          };
          args.push_back(llvm::json::Object{
              {"tensor_map",
               llvm::json::Object{{"base", std::move(*ref)},
                                  {"dtype", dtype.getValue().str()},
                                  {"dims", array(dims)},
                                  {"strides_bytes", array(strides)},
                                  {"box", array(box)},
                                  {"swizzle", swizzle.getInt()}}}});
          continue;
        }
        if (ref) {
          args.push_back(std::move(*ref));
          continue;
        }
        std::optional<int64_t> constant = getConstantIntValue(operand);
        if (constant && *kind == "i64") {
          args.push_back(llvm::json::Object{{"i64", *constant}});
          continue;
        }
        Operation *producer = operand.getDefiningOp();
        return planError(producer ? producer : launch.getOperation(),
                         "kernel '" + kernelName +
                             "': a parameter is computed on the host ('" +
                             (producer
                                  ? producer->getName().getStringRef().str()
                                  : std::string("?")) +
                             "'), which a plan cannot express");
      }
      // A selected kernel serves every call with its spec (repeated
      // layers): listed once, launched by each of their steps.
      if (knownKernels.insert(kernelName).second)
        code.kernels.push_back(std::move(kernel));
      steps.push_back(llvm::json::Object{
          {"launch", kernelName},
          {"grid", llvm::json::Array{(*grid)[0], (*grid)[1], (*grid)[2]}},
          {"args", std::move(args)}});
    }
    return llvm::json::Object{{"arena_bytes", arena},
                              {"steps", std::move(steps)}};
  }
};

} // namespace

llvm::Expected<CudaCode> extractCudaCode(ModuleOp module,
                                         ArrayAttr entryPoints) {
  CudaCode code;
  auto binaries = llvm::to_vector(module.getOps<gpu::BinaryOp>());
  if (binaries.size() > 1)
    return llvm::createStringError(
        "expected one gpu.binary of kernels, found " +
        llvm::Twine(binaries.size()));
  if (!binaries.empty()) {
    for (auto object :
         binaries.front().getObjects().getAsRange<gpu::ObjectAttr>()) {
      auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget());
      if (!target || object.getFormat() != gpu::CompilationTarget::Assembly)
        return llvm::createStringError(
            "gpu.binary: expected PTX (format isa) for #nvvm.target objects");
      llvm::StringRef ptx = object.getObject().getValue();
      size_t external = ptx.find(".extern .func");
      if (external != llvm::StringRef::npos)
        return llvm::createStringError(
            "the " + target.getChip() +
            " kernels call a function that is "
            "not defined in them: " +
            ptx.substr(external).split('\n').first.str());
      code.archs.push_back(target.getChip().str());
      code.images.push_back(
          {target.getChip().str(), "ptx", object.getObject().str()});
    }
  }
  PlanBuilder builder{code, {}};
  for (auto entry : entryPoints.getAsRange<DictionaryAttr>()) {
    llvm::StringRef name = entry.getAs<StringAttr>("name").getValue();
    auto function = module.lookupSymbol<func::FuncOp>(name);
    if (!function)
      return llvm::createStringError("entry point '" + name +
                                     "' has no function after lowering");
    llvm::Expected<llvm::json::Object> plan = builder.build(function);
    if (!plan)
      return plan.takeError();
    code.plans[name] = std::move(*plan);
  }
  if (!code.kernels.empty() && code.images.empty())
    return llvm::createStringError(
        "the module launches kernels but holds no PTX (run "
        "mbc-cuda-pipeline with serialize)");
  return code;
}

} // namespace mbc
