//===- OutlineDispatches.cpp - workgroup foralls -> parallel_for calls ----===//
//
// After bufferization each workgroup grid of mb-cpu-distribute is an
// scf.forall without results. This pass makes every such forall of an entry
// point a dispatch (docs/artifact.md): a function run once per workgroup id
// that reads the values the forall used from a captures struct, called
// through the host context's parallel_for, so the runtime's thread pool
// runs the workgroups.
//
//===----------------------------------------------------------------------===//
#include "passes/CPU/Passes.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mbc {
#define GEN_PASS_DEF_CPUOUTLINEDISPATCHES
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// Values a dispatch rebuilds instead of reading them from the captures:
/// constants and references to globals.
bool isRematerializable(Value value) {
  Operation *producer = value.getDefiningOp();
  return producer && producer->getNumOperands() == 0 &&
         producer->getNumRegions() == 0 &&
         (producer->hasTrait<OpTrait::ConstantLike>() ||
          isa<memref::GetGlobalOp>(producer));
}

/// How a captured value is stored in the captures struct: a memref as its
/// LLVM descriptor (pointers, offset, sizes, strides), an index as i64,
/// integers, floats and pointers as they are. Null when it cannot be.
Type storedType(Value value, const LLVMTypeConverter &converter) {
  Type type = value.getType();
  if (isa<MemRefType>(type))
    return converter.convertType(type);
  if (isa<IndexType>(type))
    return IntegerType::get(type.getContext(), 64);
  if (isa<IntegerType, FloatType, LLVM::LLVMPointerType>(type))
    return type;
  return nullptr;
}

/// The static workgroup counts of each dimension of `loop`.
std::optional<SmallVector<int64_t>> workgroupCounts(scf::ForallOp loop) {
  SmallVector<int64_t> counts;
  for (auto [lower, upper, step] :
       llvm::zip(loop.getMixedLowerBound(), loop.getMixedUpperBound(),
                 loop.getMixedStep())) {
    std::optional<int64_t> l = getConstantIntValue(lower);
    std::optional<int64_t> u = getConstantIntValue(upper);
    std::optional<int64_t> s = getConstantIntValue(step);
    if (!l || !u || !s || *s <= 0)
      return std::nullopt;
    counts.push_back(*u > *l ? llvm::divideCeil(*u - *l, *s) : 0);
  }
  return counts;
}

struct CpuOutlineDispatchesPass
    : impl::CpuOutlineDispatchesBase<CpuOutlineDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto entries = module->getAttrOfType<ArrayAttr>("mb.entry_points");
    if (!entries)
      return;
    LLVMTypeConverter converter(&getContext());
    Builder b(&getContext());
    SmallVector<Attribute> updatedEntries;
    for (auto entry : entries.getAsRange<DictionaryAttr>()) {
      auto name = entry.getAs<StringAttr>("name");
      auto function = module.lookupSymbol<func::FuncOp>(name);
      SmallVector<Attribute> dispatches;
      if (function && !function.isDeclaration() &&
          function.getNumArguments() > 0 &&
          isa<LLVM::LLVMPointerType>(function.getArgument(0).getType())) {
        // Outermost foralls only; nested ones stay loops of their dispatch.
        SmallVector<scf::ForallOp> loops;
        function.walk<WalkOrder::PreOrder>([&](scf::ForallOp loop) {
          loops.push_back(loop);
          return WalkResult::skip();
        });
        for (scf::ForallOp loop : loops) {
          std::string dispatchName =
              (name.getValue() + "_dispatch_" + Twine(dispatches.size())).str();
          std::optional<SmallVector<int64_t>> counts =
              outline(loop, function, dispatchName, converter);
          if (!counts)
            continue;
          dispatches.push_back(b.getDictionaryAttr(
              {b.getNamedAttr("name", b.getStringAttr(dispatchName)),
               b.getNamedAttr("workgroups", b.getI64ArrayAttr(*counts))}));
        }
      }
      NamedAttrList fields(entry);
      fields.set("dispatches", b.getArrayAttr(dispatches));
      updatedEntries.push_back(fields.getDictionary(&getContext()));
    }
    module->setAttr("mb.entry_points", b.getArrayAttr(updatedEntries));
  }

  /// Replaces `loop` by a parallel_for call of a new function `name`;
  /// returns the workgroup counts, or std::nullopt when the loop stays (it
  /// then runs sequentially, as a loop).
  std::optional<SmallVector<int64_t>>
  outline(scf::ForallOp loop, func::FuncOp entry, StringRef name,
          const LLVMTypeConverter &converter) {
    std::optional<SmallVector<int64_t>> counts = workgroupCounts(loop);
    if (!counts || loop.getNumResults() != 0 ||
        !loop.getTerminator().getYieldingOps().empty())
      return std::nullopt;

    SetVector<Value> usedAbove;
    getUsedValuesDefinedAbove(loop.getRegion(), usedAbove);
    SmallVector<Value> captures, rematerialized;
    SmallVector<Type> fieldTypes;
    for (Value value : usedAbove) {
      if (isRematerializable(value)) {
        rematerialized.push_back(value);
        continue;
      }
      Type stored = storedType(value, converter);
      if (!stored) {
        loop.emitWarning("mb-cpu-outline-dispatches: cannot capture a value "
                         "of type ")
            << value.getType() << "; the workgroups run sequentially";
        return std::nullopt;
      }
      captures.push_back(value);
      fieldTypes.push_back(stored);
    }

    MLIRContext *context = &getContext();
    Location loc = loop.getLoc();
    auto pointer = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);
    auto capturesType = LLVM::LLVMStructType::getLiteral(context, fieldTypes);

    // The dispatch: void name(void *captures, int64_t workgroup).
    OpBuilder builder(entry);
    builder.setInsertionPointAfter(entry);
    auto dispatchType = builder.getFunctionType({pointer, i64}, {});
    auto dispatch = func::FuncOp::create(builder, loc, name, dispatchType);
    dispatch.setPrivate();
    // Internal in the shared object: the runtime reaches dispatches only
    // through parallel_for.
    dispatch->setAttr("llvm.linkage",
                      LLVM::LinkageAttr::get(context, LLVM::Linkage::Internal));
    Block *body = dispatch.addEntryBlock();
    builder.setInsertionPointToStart(body);
    IRMapping mapping;
    for (Value value : rematerialized)
      mapping.map(value, builder.clone(*value.getDefiningOp())->getResult(0));
    for (auto [index, value] : llvm::enumerate(captures)) {
      Value field = LLVM::GEPOp::create(
          builder, loc, pointer, capturesType, body->getArgument(0),
          ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(index)});
      Value stored =
          LLVM::LoadOp::create(builder, loc, fieldTypes[index], field);
      Value restored = stored;
      if (isa<MemRefType>(value.getType()))
        restored = UnrealizedConversionCastOp::create(builder, loc,
                                                      value.getType(), stored)
                       .getResult(0);
      else if (isa<IndexType>(value.getType()))
        restored = arith::IndexCastOp::create(builder, loc,
                                              builder.getIndexType(), stored);
      mapping.map(value, restored);
    }
    // Workgroup id -> one induction variable per dimension, the last
    // dimension fastest.
    Value remaining = arith::IndexCastOp::create(
        builder, loc, builder.getIndexType(), body->getArgument(1));
    SmallVector<Value> inductionVars(counts->size());
    for (int64_t dim = counts->size() - 1; dim >= 0; --dim) {
      Value position = remaining;
      if (dim > 0) {
        Value count =
            arith::ConstantIndexOp::create(builder, loc, (*counts)[dim]);
        position = arith::RemUIOp::create(builder, loc, remaining, count);
        remaining = arith::DivUIOp::create(builder, loc, remaining, count);
      }
      Value lower = getValueOrCreateConstantIndexOp(
          builder, loc, loop.getMixedLowerBound()[dim]);
      Value step = getValueOrCreateConstantIndexOp(builder, loc,
                                                   loop.getMixedStep()[dim]);
      inductionVars[dim] = arith::AddIOp::create(
          builder, loc, lower,
          arith::MulIOp::create(builder, loc, position, step));
    }
    mapping.map(loop.getInductionVars(), inductionVars);
    for (Operation &op : loop.getBody()->without_terminator())
      builder.clone(op, mapping);
    func::ReturnOp::create(builder, loc);

    // The call site: captures on the stack (allocated once, in the entry
    // block), then context->parallel_for(context->runtime, fn, captures, n).
    Block &entryBlock = entry.getBody().front();
    builder.setInsertionPointToStart(&entryBlock);
    Value one = LLVM::ConstantOp::create(builder, loc, i64,
                                         builder.getI64IntegerAttr(1));
    Value capturesBuffer =
        LLVM::AllocaOp::create(builder, loc, pointer, capturesType, one);
    builder.setInsertionPoint(loop);
    for (auto [index, value] : llvm::enumerate(captures)) {
      Value stored = value;
      if (isa<MemRefType>(value.getType()))
        stored = UnrealizedConversionCastOp::create(builder, loc,
                                                    fieldTypes[index], value)
                     .getResult(0);
      else if (isa<IndexType>(value.getType()))
        stored = arith::IndexCastOp::create(builder, loc, i64, value);
      Value field = LLVM::GEPOp::create(
          builder, loc, pointer, capturesType, capturesBuffer,
          ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(index)});
      LLVM::StoreOp::create(builder, loc, stored, field);
    }
    Value hostContext = entry.getArgument(0);
    auto hostContextType =
        LLVM::LLVMStructType::getLiteral(context, {pointer, pointer});
    Value parallelFor =
        LLVM::LoadOp::create(builder, loc, pointer, hostContext);
    Value runtimeField =
        LLVM::GEPOp::create(builder, loc, pointer, hostContextType, hostContext,
                            ArrayRef<LLVM::GEPArg>{0, 1});
    Value runtime = LLVM::LoadOp::create(builder, loc, pointer, runtimeField);
    // func.constant becomes llvm.mlir.addressof with the function lowering.
    Value function = func::ConstantOp::create(builder, loc, dispatchType,
                                              SymbolRefAttr::get(dispatch));
    Value functionPointer =
        UnrealizedConversionCastOp::create(builder, loc, pointer, function)
            .getResult(0);
    int64_t total = 1;
    for (int64_t count : *counts)
      total *= count;
    Value workgroups = LLVM::ConstantOp::create(
        builder, loc, i64, builder.getI64IntegerAttr(total));
    auto parallelForType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(context), {pointer, pointer, pointer, i64});
    LLVM::CallOp::create(builder, loc, parallelForType,
                         ValueRange{parallelFor, runtime, functionPointer,
                                    capturesBuffer, workgroups});
    loop.erase();
    return counts;
  }
};

} // namespace
} // namespace mbc
