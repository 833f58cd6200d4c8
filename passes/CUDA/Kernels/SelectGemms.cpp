//===- SelectGemms.cpp - mb-cuda-select-gemms -----------------------------===//
//
// mb.linear / mb.ffn with enough rows -> calls of @mbc_gemm_<n>, private
// functions whose `mb.cuda_gemm` attribute is the tensor-core kernel's spec.
// The calls bufferize like any call (operands read, result a new buffer);
// mb-cuda-launch-selected-kernels builds the kernels and launches them.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "dialects/MB/MBDialect.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>

namespace mbc {
#define GEN_PASS_DEF_CUDASELECTGEMMS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// SMs of the GPU the tile heuristic sizes grids for (H100/H200: 132).
constexpr int64_t kTargetSMs = 132;

struct GemmCall {
  Value a, b, bias, residual;
  cuda::Activation activation = cuda::Activation::None;
};

struct CudaSelectGemmsPass
    : public impl::CudaSelectGemmsBase<CudaSelectGemmsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (mma != "wgmma" && mma != "mma_sync") {
      module.emitError("mb-cuda-select-gemms: mma = '")
          << mma << "' (expected wgmma or mma_sync)";
      return signalPassFailure();
    }
    SmallVector<Operation *> candidates;
    for (auto function : module.getOps<func::FuncOp>())
      function.walk([&](Operation *op) {
        if (isa<mb::LinearOp, mb::FFNOp, mb::HeadOp>(op))
          candidates.push_back(op);
      });
    SymbolTable table(module);
    symbols = &table;
    for (Operation *op : candidates) {
      if (auto linear = dyn_cast<mb::LinearOp>(op))
        rewriteLinear(linear);
      else if (auto head = dyn_cast<mb::HeadOp>(op))
        rewriteHead(head);
      else
        rewriteFFN(cast<mb::FFNOp>(op));
    }
    symbols = nullptr;
  }

private:
  SymbolTable *symbols = nullptr;
  int64_t nextIndex = 0;

  static int64_t rowsOf(Value input) {
    auto type = cast<RankedTensorType>(input.getType());
    int64_t rows = 1;
    for (int64_t extent : type.getShape().drop_back())
      rows *= extent;
    return rows;
  }

  /// The 16-bit type a weight is stored in (what its extf reads), else bf16.
  static Type storageType(Value weight) {
    if (auto ext = weight.getDefiningOp<arith::ExtFOp>()) {
      Type source = getElementTypeOrSelf(ext.getIn().getType());
      if (source.isBF16() || source.isF16())
        return source;
    }
    return BFloat16Type::get(weight.getContext());
  }

  /// `value` as `elementType`: the source of an extf from that type, else a
  /// truncf.
  static Value narrow(OpBuilder &b, Location loc, Value value,
                      Type elementType) {
    if (auto ext = value.getDefiningOp<arith::ExtFOp>())
      if (getElementTypeOrSelf(ext.getIn().getType()) == elementType)
        return ext.getIn();
    auto type = cast<RankedTensorType>(value.getType());
    return arith::TruncFOp::create(b, loc, type.clone(elementType), value);
  }

  /// [..., K] -> [M, K].
  static Value toMatrix(OpBuilder &b, Location loc, Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() == 2)
      return value;
    ReassociationIndices rows;
    for (int64_t i = 0; i + 1 < type.getRank(); ++i)
      rows.push_back(i);
    SmallVector<ReassociationIndices> groups = {
        rows, {static_cast<int64_t>(type.getRank() - 1)}};
    return tensor::CollapseShapeOp::create(b, loc, value, groups);
  }

  /// [M, N] -> the shape of `like`.
  static Value fromMatrix(OpBuilder &b, Location loc, Value matrix,
                          RankedTensorType like) {
    if (like.getRank() == 2)
      return matrix;
    ReassociationIndices rows;
    for (int64_t i = 0; i + 1 < like.getRank(); ++i)
      rows.push_back(i);
    SmallVector<ReassociationIndices> groups = {
        rows, {static_cast<int64_t>(like.getRank() - 1)}};
    return tensor::ExpandShapeOp::create(b, loc, like, matrix, groups);
  }

  /// The spec of a GEMM with these sizes and epilogue, tiles chosen unless
  /// pinned; failure when the kernels do not support it.
  FailureOr<cuda::GemmSpec> chooseSpec(int64_t m, int64_t n, int64_t k,
                                       Type elementType, const GemmCall &call) {
    cuda::GemmSpec spec;
    spec.m = m;
    spec.n = n;
    spec.k = k;
    spec.inputType = elementType;
    spec.bLayout = cuda::BLayout::NK;
    spec.bias = static_cast<bool>(call.bias);
    spec.activation = call.activation;
    spec.residual = static_cast<bool>(call.residual);
    cuda::GemmConfig &config = spec.config;
    bool wgmma = mma == "wgmma";
    config.mma = wgmma ? cuda::MmaKind::Wgmma : cuda::MmaKind::MmaSync;
    config.stages = stages;
    config.tileK = tileK > 0 ? tileK : (wgmma ? 64 : 32);
    auto tiles = [&](int64_t tm, int64_t tn) {
      return llvm::divideCeil(m, tm) * llvm::divideCeil(n, tn);
    };
    // Full-size tiles when they fill the GPU, else smaller ones.
    bool small = tiles(128, 128) < kTargetSMs;
    config.tileM = tileM > 0 ? tileM : (small ? 64 : 128);
    config.tileN = tileN > 0 ? tileN : ((small && !wgmma) ? 64 : 128);
    // The builders reject N not a multiple of 8 and K not a multiple of
    // tile-k; those stay generic.
    if (n % 8 != 0 || k % config.tileK != 0)
      return failure();
    ScopedDiagnosticHandler quiet(&getContext(),
                                  [](Diagnostic &) { return success(); });
    if (failed(cuda::verifyGemmSpec(spec, [&] {
          return emitError(UnknownLoc::get(&getContext()));
        })))
      return failure();
    return spec;
  }

  /// Declares @mbc_gemm_<n> for `spec` and calls it; returns the [M, N] f32
  /// result.
  Value emitGemm(OpBuilder &b, Location loc, const cuda::GemmSpec &spec,
                 const GemmCall &call) {
    MLIRContext *ctx = b.getContext();
    SmallVector<Value> operands = {call.a, call.b};
    if (call.bias)
      operands.push_back(call.bias);
    if (call.residual)
      operands.push_back(call.residual);
    auto resultType = RankedTensorType::get({spec.m, spec.n}, b.getF32Type());
    auto functionType =
        FunctionType::get(ctx, ValueRange(operands).getTypes(), {resultType});

    OpBuilder::InsertPoint here = b.saveInsertionPoint();
    auto module = getOperation();
    b.setInsertionPointToEnd(module.getBody());
    std::string name;
    do
      name = "mbc_gemm_" + std::to_string(nextIndex++);
    while (symbols->lookup(name));
    auto declaration = func::FuncOp::create(b, loc, name, functionType);
    declaration.setPrivate();
    for (unsigned i = 0; i < operands.size(); ++i)
      declaration.setArgAttr(i, bufferization::BufferizationDialect::
                                    kBufferAccessAttrName,
                             b.getStringAttr("read"));
    declaration->setAttr(cuda::kSelectedGemmAttrName,
                         cuda::gemmSpecToAttribute(ctx, spec));
    symbols->insert(declaration);
    b.restoreInsertionPoint(here);
    return func::CallOp::create(b, loc, declaration, operands).getResult(0);
  }

  /// The residual `op`'s result is added to, when that addition is its only
  /// use and the residual exists before `op`; the addition is returned too.
  static std::pair<arith::AddFOp, Value> residualUse(Operation *op) {
    Value result = op->getResult(0);
    if (!result.hasOneUse())
      return {};
    auto add = dyn_cast<arith::AddFOp>(*result.getUsers().begin());
    if (!add || add.getType() != result.getType())
      return {};
    Value other = add.getLhs() == result ? add.getRhs() : add.getLhs();
    if (other == result)
      return {};
    Operation *producer = other.getDefiningOp();
    bool before = producer ? producer->getBlock() == op->getBlock() &&
                                 producer->isBeforeInBlock(op)
                           : cast<BlockArgument>(other).getOwner() ==
                                 op->getBlock();
    if (!before)
      return {};
    return {add, other};
  }

  /// One projection of `input` [..., K] by `weight` [N, K]; returns the f32
  /// result in the input's shape with N last, or null when unsupported.
  Value emitProjection(OpBuilder &b, Location loc, Value input, Value weight,
                       Value bias, cuda::Activation activation, Value residual) {
    auto inputType = cast<RankedTensorType>(input.getType());
    auto weightType = cast<RankedTensorType>(weight.getType());
    int64_t m = rowsOf(input);
    int64_t k = inputType.getShape().back();
    int64_t n = weightType.getDimSize(0);
    Type elementType = storageType(weight);
    GemmCall call;
    call.bias = bias;
    call.activation = activation;
    call.residual = residual;
    FailureOr<cuda::GemmSpec> spec = chooseSpec(m, n, k, elementType, call);
    if (failed(spec))
      return {};
    call.a = narrow(b, loc, toMatrix(b, loc, input), elementType);
    call.b = narrow(b, loc, weight, elementType);
    if (residual)
      call.residual = toMatrix(b, loc, residual);
    Value product = emitGemm(b, loc, *spec, call);
    SmallVector<int64_t> shape(inputType.getShape());
    shape.back() = n;
    return fromMatrix(b, loc, product, inputType.clone(shape, b.getF32Type()));
  }

  bool bigEnough(Value input) {
    auto type = cast<RankedTensorType>(input.getType());
    return type.getElementType().isF32() && rowsOf(input) >= minRows;
  }

  void rewriteLinear(mb::LinearOp op) {
    if (!bigEnough(op.getInput()))
      return;
    auto [add, residual] = residualUse(op);
    OpBuilder b(op);
    Value result = emitProjection(b, op.getLoc(), op.getInput(), op.getWeight(),
                                  op.getBias(), cuda::Activation::None, residual);
    if (!result && residual) {
      add = {};
      result = emitProjection(b, op.getLoc(), op.getInput(), op.getWeight(),
                              op.getBias(), cuda::Activation::None, Value());
    }
    if (!result)
      return;
    finish(op, result, add);
  }

  void rewriteFFN(mb::FFNOp op) {
    if (!bigEnough(op.getInput()))
      return;
    cuda::Activation activation;
    switch (op.getActivation()) {
    case mb::Activation::gelu:
      activation = cuda::Activation::GeluErf;
      break;
    case mb::Activation::gelu_tanh:
      activation = cuda::Activation::GeluTanh;
      break;
    case mb::Activation::relu:
      activation = cuda::Activation::Relu;
      break;
    }
    // Check both GEMMs before rewriting either.
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    int64_t m = rowsOf(op.getInput());
    int64_t d = inputType.getShape().back();
    int64_t h = cast<RankedTensorType>(op.getUpWeight().getType()).getDimSize(0);
    auto [add, residual] = residualUse(op);
    GemmCall up, down;
    up.bias = op.getUpBias();
    up.activation = activation;
    down.bias = op.getDownBias();
    down.residual = residual;
    Type upType = storageType(op.getUpWeight());
    Type downType = storageType(op.getDownWeight());
    if (failed(chooseSpec(m, h, d, upType, up)))
      return;
    if (failed(chooseSpec(m, d, h, downType, down))) {
      down.residual = {};
      add = {};
      if (failed(chooseSpec(m, d, h, downType, down)))
        return;
    }
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value hidden = emitProjection(b, loc, op.getInput(), op.getUpWeight(),
                                  up.bias, activation, Value());
    Value result = emitProjection(b, loc, hidden, op.getDownWeight(),
                                  down.bias, cuda::Activation::None,
                                  down.residual);
    assert(hidden && result && "specs were checked");
    finish(op, result, add);
  }

  /// The head: the logits GEMM (+ bias), then log-softmax over the
  /// vocabulary as linalg reductions (generic kernels).
  void rewriteHead(mb::HeadOp op) {
    if (!bigEnough(op.getInput()))
      return;
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value logits = emitProjection(b, loc, op.getInput(), op.getWeight(),
                                  op.getBias(), cuda::Activation::None,
                                  Value());
    if (!logits)
      return;
    finish(op, logSoftmax(b, loc, logits), {});
  }

  /// log_softmax over the last dimension: x - max - log(sum(exp(x - max))).
  static Value logSoftmax(OpBuilder &b, Location loc, Value x) {
    MLIRContext *ctx = b.getContext();
    auto type = cast<RankedTensorType>(x.getType());
    int64_t rank = type.getRank();
    Type f32 = b.getF32Type();
    auto rowsType = RankedTensorType::get(type.getShape().drop_back(), f32);
    auto full = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto rows = full.dropResult(rank - 1);
    SmallVector<utils::IteratorType> reduce(rank, utils::IteratorType::parallel);
    reduce.back() = utils::IteratorType::reduction;
    SmallVector<utils::IteratorType> parallel(rank,
                                              utils::IteratorType::parallel);
    auto filled = [&](double value) {
      Value empty =
          tensor::EmptyOp::create(b, loc, rowsType.getShape(), f32);
      Value constant =
          arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
      return linalg::FillOp::create(b, loc, constant, empty).getResult(0);
    };
    Value max =
        linalg::GenericOp::create(
            b, loc, rowsType, ValueRange{x},
            ValueRange{filled(-std::numeric_limits<float>::infinity())},
            ArrayRef<AffineMap>{full, rows}, reduce,
            [](OpBuilder &n, Location l, ValueRange args) {
              linalg::YieldOp::create(
                  n, l, arith::MaximumFOp::create(n, l, args[0], args[1]).getResult());
            })
            .getResult(0);
    Value sum =
        linalg::GenericOp::create(
            b, loc, rowsType, ValueRange{x, max}, ValueRange{filled(0.0)},
            ArrayRef<AffineMap>{full, rows, rows}, reduce,
            [](OpBuilder &n, Location l, ValueRange args) {
              Value shifted = arith::SubFOp::create(n, l, args[0], args[1]);
              Value e = math::ExpOp::create(n, l, shifted);
              linalg::YieldOp::create(
                  n, l, arith::AddFOp::create(n, l, args[2], e).getResult());
            })
            .getResult(0);
    Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), f32);
    return linalg::GenericOp::create(
               b, loc, type, ValueRange{x, max, sum}, ValueRange{empty},
               ArrayRef<AffineMap>{full, rows, rows, full}, parallel,
               [](OpBuilder &n, Location l, ValueRange args) {
                 Value shifted =
                     arith::SubFOp::create(n, l, args[0], args[1]);
                 Value logSum = math::LogOp::create(n, l, args[2]);
                 linalg::YieldOp::create(
                     n, l, arith::SubFOp::create(n, l, shifted, logSum).getResult());
               })
        .getResult(0);
  }

  /// Replaces `op` by `result`; with a fused residual `add`, the addition
  /// is what `result` replaces.
  static void finish(Operation *op, Value result, arith::AddFOp add) {
    if (add) {
      add.getResult().replaceAllUsesWith(result);
      add.erase();
    } else {
      op->getResult(0).replaceAllUsesWith(result);
    }
    op->erase();
  }
};

} // namespace
} // namespace mbc
