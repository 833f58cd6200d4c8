//===- FuseEpilogues.cpp - elementwise ops into a built kernel's stores ---===//
//
// mb-cuda-fuse-epilogues (Passes.td): the elementwise ops after a built
// kernel's launch run in the thread that stored each output element, right
// after its store, instead of in a launch of their own.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/LaunchOperands.h"
#include "passes/CUDA/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/StringMap.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAFUSEEPILOGUES
#include "passes/CUDA/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

using cuda::kEpilogueOutputsAttrName;
using cuda::kLaunchAttrName;

/// A memref's elements as addresses in its root buffer: offset + sum of
/// index * stride, all static.
struct StaticLayout {
  SmallVector<int64_t> shape, strides;
  int64_t offset = 0;
};

std::optional<StaticLayout> staticLayout(MemRefType type) {
  StaticLayout layout;
  if (!type.hasStaticShape() ||
      failed(type.getStridesAndOffset(layout.strides, layout.offset)) ||
      ShapedType::isDynamic(layout.offset) ||
      llvm::any_of(layout.strides, ShapedType::isDynamic))
    return std::nullopt;
  layout.shape.assign(type.getShape().begin(), type.getShape().end());
  return layout;
}

/// The same for a value, when every view from its root keeps the offset
/// in its type (so the offset is from the root's first element).
std::optional<StaticLayout> staticLayout(Value memref) {
  bool typed;
  rootBuffer(memref, typed);
  auto type = dyn_cast<MemRefType>(memref.getType());
  if (!typed || !type)
    return std::nullopt;
  return staticLayout(type);
}

/// The dimensions of `layout` longer than 1, outermost (largest stride)
/// first, when each stride spans all of the dimensions after it (a box of
/// a row-major buffer): then an address has at most one index, found by
/// dividing by the strides in turn.
std::optional<SmallVector<int64_t>> nestedDims(const StaticLayout &layout) {
  SmallVector<int64_t> dims;
  for (auto [d, extent] : llvm::enumerate(layout.shape))
    if (extent > 1)
      dims.push_back(d);
  llvm::stable_sort(dims, [&](int64_t x, int64_t y) {
    return layout.strides[x] > layout.strides[y];
  });
  for (size_t i = 0; i + 1 < dims.size(); ++i)
    if (layout.strides[dims[i]] <
        layout.strides[dims[i + 1]] * layout.shape[dims[i + 1]])
      return std::nullopt;
  if (!dims.empty() && layout.strides[dims.back()] < 1)
    return std::nullopt;
  return dims;
}

/// Whether a kernel may take the view `value` as a parameter of identity
/// layout (passed at its offset, which the plan reads through the views):
/// a static contiguous slice or reshape of a buffer of its own, read
/// directly (`direct`: the same indices address it) or as the source of a
/// dynamic subview, whose type keeps only its strides.
bool isCapturableView(Value value, bool direct) {
  Operation *producer = value.getDefiningOp();
  auto subview = dyn_cast_or_null<memref::SubViewOp>(producer);
  if (!isa_and_nonnull<memref::SubViewOp, memref::ExpandShapeOp,
                       memref::CollapseShapeOp, memref::CastOp>(producer) ||
      (subview &&
       (!subview.getOffsets().empty() || !subview.getSizes().empty() ||
        !subview.getStrides().empty())))
    return false;
  auto type = dyn_cast<MemRefType>(value.getType());
  std::optional<StaticLayout> layout = staticLayout(value);
  if (!type || !memref::isStaticShapeAndContiguousRowMajor(type) || !layout)
    return false;
  bool typed;
  if (!isOwnBuffer(rootBuffer(value, typed)))
    return false;
  return direct ||
         layout->strides == mlir::computeSuffixProduct(type.getShape());
}

/// The ops defining `value` that come after `launch` (a view chain down to
/// an allocation), first to last, when all of them can move before it:
/// allocations and views of static shape, which take no other operands.
std::optional<SmallVector<Operation *>> chainAfter(gpu::LaunchFuncOp launch,
                                                   Value value) {
  SmallVector<Operation *> chain;
  for (Operation *op = value.getDefiningOp(); op && launch->isBeforeInBlock(op);
       op = op->getNumOperands() == 0 ? nullptr
                                      : op->getOperand(0).getDefiningOp()) {
    if (!isa<memref::AllocOp, memref::SubViewOp, memref::ExpandShapeOp,
             memref::CollapseShapeOp, memref::CastOp>(op) ||
        op->getNumOperands() > 1)
      return std::nullopt;
    chain.push_back(op);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

/// Which kernel output (index into the launch's epilogue outputs) an op's
/// iterations follow, and through which view of it.
struct Driver {
  int64_t output = -1;
  Type view;
  bool operator==(const Driver &other) const {
    return output == other.output && view == other.view;
  }
};

struct JoinedOp {
  linalg::LinalgOp op;
  Driver driver;
  /// Input positions that read the kernel output itself (the stored value).
  SmallVector<bool> readsOutput;
};

/// One access of a buffer the joined ops write: through which view, by
/// which driver.
struct RootAccess {
  Value view;
  Driver driver;
  bool write;
};

/// The joined ops after one launch and what they capture.
class EpilogueGroup {
public:
  EpilogueGroup(gpu::LaunchFuncOp launch, ArrayRef<int64_t> outputArgs)
      : launch(launch), outputArgs(outputArgs) {
    for (int64_t arg : outputArgs) {
      bool typed;
      outputRoots.push_back(rootBuffer(launch.getKernelOperand(arg), typed));
    }
    for (auto [index, operand] : llvm::enumerate(launch.getKernelOperands())) {
      if (llvm::is_contained(outputArgs, static_cast<int64_t>(index)))
        continue;
      bool typed;
      kernelInputRoots.insert(rootBuffer(operand, typed));
    }
  }

  /// Adds `op` when it may run in the epilogue after the ones added before.
  bool tryJoin(linalg::LinalgOp op) {
    if (!isa<linalg::GenericOp, linalg::CopyOp>(op) ||
        !op.hasPureBufferSemantics() || op->getNumResults() != 0 ||
        op.getNumLoops() == 0 || op.getNumParallelLoops() != op.getNumLoops() ||
        !llvm::all_of(op->getOpOperands(),
                      [&](OpOperand &operand) {
                        // Scalars (a decode position's test) take any map.
                        return !isa<MemRefType>(operand.get().getType()) ||
                               op.getMatchingIndexingMap(&operand).isIdentity();
                      }) ||
        llvm::any_of(op.getStaticLoopRanges(), ShapedType::isDynamic))
      return false;
    // A scalar body: nothing read from above, no memory effects.
    SetVector<Value> captured;
    getUsedValuesDefinedAbove(op->getRegions(), captured);
    if (llvm::any_of(captured, [](Value value) {
          return isa<MemRefType>(value.getType());
        }))
      return false;
    for (Operation &inner : op.getBlock()->without_terminator())
      if (!isa<linalg::IndexOp>(inner) &&
          (inner.getNumRegions() != 0 || !isMemoryEffectFree(&inner)))
        return false;

    JoinedOp joined{op, Driver(), {}};
    std::optional<Driver> driver;
    auto agree = [&](const Driver &candidate) {
      if (driver && !(*driver == candidate))
        return false;
      driver = candidate;
      return true;
    };
    for (OpOperand *input : op.getDpsInputOperands()) {
      Value value = input->get();
      bool typed;
      Value root = rootBuffer(value, typed);
      auto output = llvm::find(outputRoots, root);
      bool fromOutput =
          output != outputRoots.end() && isa<MemRefType>(value.getType());
      joined.readsOutput.push_back(fromOutput);
      if (fromOutput) {
        std::optional<StaticLayout> layout = staticLayout(value);
        if (!layout || !nestedDims(*layout) ||
            !agree({output - outputRoots.begin(), value.getType()}))
          return false;
        continue;
      }
      if (auto written = writtenBy.find(value); written != writtenBy.end())
        if (!agree(written->second))
          return false;
    }
    if (!driver)
      return false;
    joined.driver = *driver;
    // Every access of a buffer the group writes: one view, one driver.
    SmallVector<std::pair<Value, bool>> accesses;
    for (OpOperand *input : op.getDpsInputOperands())
      if (isa<MemRefType>(input->get().getType()))
        accesses.push_back({input->get(), false});
    for (OpOperand &init : op.getDpsInitsMutable()) {
      accesses.push_back({init.get(), true});
      if (op.payloadUsesValueFromOperand(&init))
        accesses.push_back({init.get(), false});
    }
    for (auto [value, write] : accesses) {
      bool typed;
      Value root = rootBuffer(value, typed);
      if (llvm::is_contained(outputRoots, root)) {
        if (write)
          return false;
        continue;
      }
      if (write && (!isOwnBuffer(root) || kernelInputRoots.contains(root)))
        return false;
      for (const RootAccess &other : rootAccesses[root])
        if ((write || other.write) &&
            (other.view != value || !(other.driver == *driver)))
          return false;
    }
    // Scalars recomputed in the kernel are read before it runs.
    SmallVector<Operation *> producers = clonedProducers(op);
    for (Operation *producer : producers)
      if (auto load = dyn_cast<memref::LoadOp>(producer)) {
        bool typed;
        Value root = rootBuffer(load.getMemRef(), typed);
        if (llvm::is_contained(outputRoots, root) || isWritten(root, accesses))
          return false;
      }
    for (auto [value, write] : accesses) {
      bool typed;
      Value root = rootBuffer(value, typed);
      if (!llvm::is_contained(outputRoots, root))
        rootAccesses[root].push_back({value, *driver, write});
    }
    for (OpOperand &init : op.getDpsInitsMutable())
      writtenBy[init.get()] = *driver;
    ops.push_back(std::move(joined));
    return true;
  }

  bool isWritten(Value root, ArrayRef<std::pair<Value, bool>> pending) {
    for (const RootAccess &access : rootAccesses.lookup(root))
      if (access.write)
        return true;
    for (auto [value, write] : pending) {
      bool typed;
      if (write && rootBuffer(value, typed) == root)
        return true;
    }
    return false;
  }

  gpu::LaunchFuncOp launch;
  SmallVector<int64_t> outputArgs;
  SmallVector<Value> outputRoots;
  DenseSet<Value> kernelInputRoots;
  SmallVector<JoinedOp> ops;
  DenseMap<Value, Driver> writtenBy;
  DenseMap<Value, SmallVector<RootAccess>> rootAccesses;
};

struct CudaFuseEpiloguesPass
    : impl::CudaFuseEpiloguesBase<CudaFuseEpiloguesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<EpilogueGroup> groups;
    module.walk([&](gpu::LaunchFuncOp launch) {
      auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
          launch, launch.getKernel());
      SmallVector<int64_t> outputArgs = epilogueOutputArgs(launch, kernel);
      if (outputArgs.empty())
        return;
      EpilogueGroup group(launch, outputArgs);
      for (Operation *op = launch->getNextNode(); op; op = op->getNextNode()) {
        if (isa<memref::AllocOp>(op))
          continue;
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
          if (!group.tryJoin(linalgOp))
            break;
          continue;
        }
        // Scalar loads between the joined ops run in later launches, after
        // the epilogue: they must not read what it writes.
        if (auto load = dyn_cast<memref::LoadOp>(op)) {
          bool typed;
          if (group.isWritten(rootBuffer(load.getMemRef(), typed), {}))
            break;
        }
        if (!isClonableIntoLaunch(op))
          break;
      }
      if (!group.ops.empty())
        groups.push_back(std::move(group));
    });

    llvm::StringMap<std::string> builtByBody;
    DenseSet<Operation *> replacedKernels;
    for (EpilogueGroup &group : groups) {
      auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
          group.launch, group.launch.getKernel());
      if (failed(fuse(group, kernel, builtByBody)))
        return signalPassFailure();
      replacedKernels.insert(kernel);
    }
    for (Operation *kernel : replacedKernels)
      if (SymbolTable::symbolKnownUseEmpty(kernel, module))
        kernel->erase();
  }

  /// The kernel parameters (positions) `launch` promises to store once per
  /// element; empty when it promises none.
  static SmallVector<int64_t> epilogueOutputArgs(gpu::LaunchFuncOp launch,
                                                 gpu::GPUFuncOp kernel) {
    auto outputs =
        kernel ? kernel->getAttrOfType<ArrayAttr>(kEpilogueOutputsAttrName)
               : ArrayAttr();
    auto info = launch->getAttrOfType<DictionaryAttr>(kLaunchAttrName);
    auto params = info ? info.getAs<ArrayAttr>("params") : ArrayAttr();
    if (!outputs || !params || kernel.getNumWorkgroupAttributions() != 0 ||
        kernel.getNumPrivateAttributions() != 0)
      return {};
    SmallVector<int64_t> args;
    for (auto [index, param] : llvm::enumerate(params)) {
      auto dict = dyn_cast<DictionaryAttr>(param);
      auto name = dict ? dict.getAs<StringAttr>("name") : StringAttr();
      if (name && llvm::is_contained(outputs, name))
        args.push_back(index);
    }
    // Each output a static view of the kernel's parameter shape (the
    // store's indices address it).
    for (int64_t arg : args) {
      std::optional<StaticLayout> layout =
          staticLayout(launch.getKernelOperand(arg));
      auto param = dyn_cast<MemRefType>(kernel.getArgument(arg).getType());
      if (!layout || !param || param.getShape() != ArrayRef(layout->shape))
        return {};
    }
    return args;
  }

  LogicalResult fuse(EpilogueGroup &group, gpu::GPUFuncOp kernel,
                     llvm::StringMap<std::string> &builtByBody) {
    gpu::LaunchFuncOp launch = group.launch;
    MLIRContext *context = &getContext();
    Location loc = launch.getLoc();

    // Host values the epilogue reads or writes (all but the kernel
    // outputs), the ops they are computed with, and the buffers those
    // capture: the new kernel parameters.
    // A static contiguous subview (a layer's slice of a cache or of the
    // shift state) is captured itself, passed at its offset (the plan's
    // byte offset), when the kernel can index it like a buffer of its own:
    // read by a joined op, or the source of a dynamic subview with the same
    // strides. Clones for different layers are then one kernel.
    llvm::SetVector<Value> captured;
    llvm::SetVector<Operation *> producers;
    SmallVector<std::pair<Value, bool>> worklist;
    for (JoinedOp &joined : group.ops) {
      for (auto [position, input] :
           llvm::enumerate(joined.op.getDpsInputOperands()))
        if (!joined.readsOutput[position])
          worklist.push_back({input->get(), true});
      for (OpOperand &init : joined.op.getDpsInitsMutable())
        worklist.push_back({init.get(), true});
      // Scalars the body uses from above (constants).
      SetVector<Value> above;
      getUsedValuesDefinedAbove(joined.op->getRegions(), above);
      for (Value value : above)
        worklist.push_back({value, true});
    }
    while (!worklist.empty()) {
      auto [value, direct] = worklist.pop_back_val();
      Operation *producer = value.getDefiningOp();
      if (isCapturableView(value, direct)) {
        captured.insert(value);
        continue;
      }
      if (!producer || !isClonableIntoLaunch(producer) ||
          producer->getBlock() != launch->getBlock()) {
        captured.insert(value);
        continue;
      }
      if (!producers.insert(producer))
        continue;
      auto dynamicSubview = dyn_cast<memref::SubViewOp>(producer);
      for (Value operand : producer->getOperands())
        worklist.push_back(
            {operand, dynamicSubview && operand == dynamicSubview.getSource() &&
                          !dynamicSubview.getOffsets().empty()});
    }
    SmallVector<Operation *> ordered(producers.begin(), producers.end());
    llvm::sort(ordered, [](Operation *x, Operation *y) {
      return x->isBeforeInBlock(y);
    });
    // Kernel parameters are whole buffers, or static slices passed at an
    // offset, defined before the launch or movable there (allocations and
    // their views); with anything else the ops stay where they are.
    SmallVector<Type> paramTypes;
    for (Value value : captured) {
      auto type = dyn_cast<MemRefType>(value.getType());
      if (!type || !memref::isStaticShapeAndContiguousRowMajor(type) ||
          !staticLayout(value) || !chainAfter(launch, value))
        return success();
      paramTypes.push_back(
          MemRefType::get(type.getShape(), type.getElementType()));
    }

    // The clone: parameters appended, the host ops recomputed at its entry,
    // the joined ops after every store of an output.
    OpBuilder builder(kernel);
    auto fused = cast<gpu::GPUFuncOp>(builder.clone(*kernel));
    unsigned firstNew = fused.getNumArguments();
    for (Type type : paramTypes)
      if (failed(fused.insertArgument(fused.getNumArguments(), type,
                                      DictionaryAttr(), loc)))
        return launch.emitOpError("mb-cuda-fuse-epilogues: cannot add a "
                                  "kernel parameter");
    Block &entry = fused.getBody().front();
    IRMapping hostToKernel;
    for (auto [index, value] : llvm::enumerate(captured))
      hostToKernel.map(value, entry.getArgument(firstNew + index));
    OpBuilder b(context);
    b.setInsertionPointToStart(&entry);
    for (Operation *producer : ordered)
      b.clone(*producer, hostToKernel);

    // Scalar stores, and 1-D vector stores (a norm kernel's pairs) taken
    // element by element.
    SmallVector<Operation *> stores;
    fused.walk([&](Operation *op) {
      Value base;
      if (auto store = dyn_cast<memref::StoreOp>(op))
        base = store.getMemRef();
      else if (auto store = dyn_cast<vector::StoreOp>(op);
               store && store.getVectorType().getRank() == 1)
        base = store.getBase();
      auto argument = dyn_cast_or_null<BlockArgument>(base);
      if (argument && argument.getOwner() == &entry &&
          llvm::is_contained(group.outputArgs,
                             static_cast<int64_t>(argument.getArgNumber())))
        stores.push_back(op);
    });
    for (Operation *store : stores) {
      b.setInsertionPointAfter(store);
      Value base = store->getOperand(1);
      int64_t output = llvm::find(group.outputArgs,
                                  cast<BlockArgument>(base).getArgNumber()) -
                       group.outputArgs.begin();
      SmallVector<Value> indices(store->getOperands().drop_front(2));
      if (auto vectorStore = dyn_cast<vector::StoreOp>(store)) {
        for (int64_t i = 0; i < vectorStore.getVectorType().getDimSize(0);
             ++i) {
          SmallVector<Value> at = indices;
          at.back() = arith::AddIOp::create(
              b, store->getLoc(), at.back(),
              arith::ConstantIndexOp::create(b, store->getLoc(), i));
          Value element = vector::ExtractOp::create(
              b, store->getLoc(), vectorStore.getValueToStore(), i);
          emitEpilogue(b, store->getLoc(), element, at, output, group,
                       hostToKernel);
        }
        continue;
      }
      emitEpilogue(b, store->getLoc(), store->getOperand(0), indices, output,
                   group, hostToKernel);
    }

    // Launch facts: the new parameters after the kernel's own.
    auto info = launch->getAttrOfType<DictionaryAttr>(kLaunchAttrName);
    SmallVector<Attribute> params(info.getAs<ArrayAttr>("params").getValue());
    Builder attrs(context);
    for (size_t i = 0; i < captured.size(); ++i)
      params.push_back(attrs.getDictionaryAttr(
          {attrs.getNamedAttr("name",
                              attrs.getStringAttr("epilogue_" + Twine(i))),
           attrs.getNamedAttr("kind", attrs.getStringAttr("ptr"))}));
    NamedAttrList fields(info);
    fields.set("params", attrs.getArrayAttr(params));
    DictionaryAttr newInfo = fields.getDictionary(context);
    fused->setAttr(kLaunchAttrName, newInfo);

    // Structurally identical clones (the same layer shape and epilogue)
    // are one kernel.
    auto kernels = kernel->getParentOfType<gpu::GPUModuleOp>();
    fused.setName("epilogue");
    std::string body;
    {
      llvm::raw_string_ostream os(body);
      fused->print(os, OpPrintingFlags().printGenericOpForm().useLocalScope());
    }
    std::string name;
    if (auto found = builtByBody.find(body); found != builtByBody.end()) {
      name = found->second;
      fused.erase();
    } else {
      for (int64_t n = 0; name.empty() || kernels.lookupSymbol(name); ++n)
        name = (kernel.getName() + "_epilogue" +
                (n == 0 ? Twine() : Twine("_") + Twine(n)))
                   .str();
      fused.setName(name);
      builtByBody[body] = name;
    }

    // Buffers allocated after the launch (the joined ops' results) are
    // allocated before it, with the views it takes of them.
    for (Value value : captured) {
      SmallVector<Operation *> chain = *chainAfter(launch, value);
      for (Operation *op : chain)
        op->moveBefore(launch);
    }
    builder.setInsertionPoint(launch);
    SmallVector<Value> operands(launch.getKernelOperands());
    for (auto [value, type] : llvm::zip(captured, paramTypes))
      operands.push_back(
          value.getType() == type
              ? value
              : UnrealizedConversionCastOp::create(builder, loc, type, value)
                    .getResult(0));
    auto newLaunch = gpu::LaunchFuncOp::create(
        builder, loc,
        SymbolRefAttr::get(kernels.getNameAttr(),
                           {FlatSymbolRefAttr::get(context, name)}),
        launch.getGridSizeOperandValues(), launch.getBlockSizeOperandValues(),
        launch.getDynamicSharedMemorySize(), operands);
    newLaunch->setAttr(kLaunchAttrName, newInfo);
    launch.erase();
    for (JoinedOp &joined : group.ops)
      joined.op->erase();
    return success();
  }

  /// After `store` (output `output`'s element), each joined op driven by
  /// that output, at the point whose driving view holds the element (none:
  /// the op skips it).
  void emitEpilogue(OpBuilder &b, Location loc, Value stored,
                    ValueRange indices, int64_t output, EpilogueGroup &group,
                    IRMapping &hostToKernel) {
    auto index = [&](int64_t value) -> Value {
      return arith::ConstantIndexOp::create(b, loc, value);
    };
    // The element's address in the output's root buffer.
    StaticLayout layout =
        *staticLayout(group.launch.getKernelOperand(group.outputArgs[output]));
    Value address = index(layout.offset);
    for (auto [i, value] : llvm::enumerate(indices))
      address = arith::AddIOp::create(
          b, loc, address,
          arith::MulIOp::create(b, loc, value, index(layout.strides[i])));
    // Per driving view: the point it gives the element, and whether it
    // holds the element at all (plain arithmetic, computed once).
    DenseMap<Type, std::pair<SmallVector<Value>, Value>> points;
    for (JoinedOp &joined : group.ops) {
      if (joined.driver.output != output)
        continue;
      auto [it, inserted] = points.try_emplace(joined.driver.view);
      if (inserted)
        it->second =
            pointOf(b, loc, address, cast<MemRefType>(joined.driver.view));
      auto &[point, inside] = it->second;
      linalg::LinalgOp op = joined.op;
      OpBuilder::InsertionGuard guard(b);
      auto ifInside = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
      b.setInsertionPointToStart(&ifInside.getThenRegion().front());
      // What earlier ops wrote at this point is read back from memory: the
      // same thread stored it.
      Block *body = op.getBlock();
      IRMapping mapping;
      SetVector<Value> above;
      getUsedValuesDefinedAbove(op->getRegions(), above);
      for (Value value : above)
        mapping.map(value, hostToKernel.lookup(value));
      for (auto [position, input] : llvm::enumerate(op.getDpsInputOperands()))
        mapping.map(body->getArgument(position),
                    joined.readsOutput[position] ? stored
                    : !isa<MemRefType>(input->get().getType())
                        ? hostToKernel.lookup(input->get())
                        : memref::LoadOp::create(
                              b, loc, hostToKernel.lookup(input->get()), point)
                              .getResult());
      for (OpOperand &init : op.getDpsInitsMutable())
        if (op.payloadUsesValueFromOperand(&init))
          mapping.map(op.getMatchingBlockArgument(&init),
                      memref::LoadOp::create(
                          b, loc, hostToKernel.lookup(init.get()), point));
      for (Operation &inner : body->without_terminator()) {
        if (auto indexOp = dyn_cast<linalg::IndexOp>(inner)) {
          mapping.map(indexOp.getResult(), point[indexOp.getDim()]);
          continue;
        }
        b.clone(inner, mapping);
      }
      auto yield = cast<linalg::YieldOp>(body->getTerminator());
      for (auto [init, yielded] :
           llvm::zip(op.getDpsInitsMutable(), yield.getValues()))
        memref::StoreOp::create(b, loc, mapping.lookupOrDefault(yielded),
                                hostToKernel.lookup(init.get()), point);
    }
  }

  /// The indices of the element at `address` of the root buffer in a view
  /// of type `view` (a box of it, nestedDims), and whether the view holds
  /// that element.
  static std::pair<SmallVector<Value>, Value>
  pointOf(OpBuilder &b, Location loc, Value address, MemRefType view) {
    auto index = [&](int64_t value) -> Value {
      return arith::ConstantIndexOp::create(b, loc, value);
    };
    StaticLayout layout = *staticLayout(view);
    SmallVector<int64_t> dims = *nestedDims(layout);
    Value rest = arith::SubIOp::create(b, loc, address, index(layout.offset));
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                         rest, index(0));
    SmallVector<Value> point(layout.shape.size(), index(0));
    for (int64_t d : dims) {
      Value stride = index(layout.strides[d]);
      point[d] = arith::DivSIOp::create(b, loc, rest, stride);
      rest = arith::RemSIOp::create(b, loc, rest, stride);
      inside = arith::AndIOp::create(
          b, loc, inside,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, point[d],
                                index(layout.shape[d])));
    }
    inside = arith::AndIOp::create(
        b, loc, inside,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rest,
                              index(0)));
    return {point, inside};
  }
};

} // namespace
} // namespace mbc
