//===- mbc.cpp - the mbc compiler driver ----------------------------------===//
//
//   mbc MODEL_DIR -o model.mbx [--target=cpu|cuda|cpu,cuda]
//       [--cuda-arch=sm_90a[,sm_80]] [--weights=embed|external]
//       [--cpu=native|generic|NAME]
//   mbc MODEL_DIR --emit=mb|linalg|llvm-dialect|llvm|ptx [-o FILE]
//       [--target=cpu|cuda] [--inline-weights] [--batch N] [--seq-len T]
//
// Reads MODEL_DIR/config.json and MODEL_DIR/model.safetensors, validates them
// against each other and runs the compiler pipeline up to the requested
// level. The standard MLIR options (--mlir-print-ir-after-all, --mlir-timing,
// --mlir-pass-pipeline-crash-reproducer, ...) apply to that pipeline.
//
//===----------------------------------------------------------------------===//
#include "mbc/Import/ModelImporter.h"
#include "mbc/Support/OutputFile.h"
#include "mbc/Target/Artifact.h"
#include "mbc/Target/CudaCodegen.h"
#include "mbc/Target/HostCodegen.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Passes.h"
#include "passes/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
using mbc::WeightsMode;

namespace {

llvm::cl::OptionCategory mbcOptions("mbc options");

enum class EmitKind { MB, Linalg, LLVMDialect, LLVMIR, PTX, Artifact };

llvm::cl::opt<std::string> modelDir(llvm::cl::Positional,
                                    llvm::cl::desc("<model dir>"),
                                    llvm::cl::Required,
                                    llvm::cl::cat(mbcOptions));
llvm::cl::opt<EmitKind> emitKind(
    "emit", llvm::cl::desc("what to produce"),
    llvm::cl::init(EmitKind::Artifact),
    llvm::cl::values(
        clEnumValN(EmitKind::MB, "mb", "the model as mb dialect IR"),
        clEnumValN(EmitKind::Linalg, "linalg",
                   "entry points lowered to linalg on tensors"),
        clEnumValN(EmitKind::LLVMDialect, "llvm-dialect",
                   "the code in MLIR's LLVM dialect (CUDA: host side and "
                   "NVVM kernels)"),
        clEnumValN(EmitKind::LLVMIR, "llvm",
                   "the optimized CPU LLVM IR, or the kernels' NVVM IR "
                   "(--target=cuda)"),
        clEnumValN(EmitKind::PTX, "ptx",
                   "the kernels' PTX for the first --cuda-arch "
                   "(--target=cuda)"),
        clEnumValN(EmitKind::Artifact, "artifact",
                   "a .mbx artifact for libmbrt (the default)")),
    llvm::cl::cat(mbcOptions));
llvm::cl::opt<std::string> outputPath("o", llvm::cl::desc("output file"),
                                      llvm::cl::value_desc("file"),
                                      llvm::cl::init("-"),
                                      llvm::cl::cat(mbcOptions));
llvm::cl::opt<std::string> targetList(
    "target",
    llvm::cl::desc("code generation targets, a comma list: cpu (the host "
                   "CPU; x86-64 AVX-512/AVX2 when present), cuda (NVIDIA "
                   "GPUs, docs/cuda.md)"),
    llvm::cl::init("cpu"), llvm::cl::cat(mbcOptions));
llvm::cl::opt<std::string> cudaArchList(
    "cuda-arch",
    llvm::cl::desc("CUDA architectures for --target=cuda, a comma list "
                   "(sm_<NN> or sm_<NN>a, NN >= 80)"),
    llvm::cl::init("sm_90a"), llvm::cl::cat(mbcOptions));
llvm::cl::opt<WeightsMode> weightsMode(
    "weights", llvm::cl::desc("where the artifact's weights live"),
    llvm::cl::init(WeightsMode::Embedded),
    llvm::cl::values(
        clEnumValN(WeightsMode::Embedded, "embed", "inside the artifact"),
        clEnumValN(WeightsMode::External, "external",
                   "in MODEL_DIR/model.safetensors, validated at load")),
    llvm::cl::cat(mbcOptions));
llvm::cl::opt<std::string>
    cpuName("cpu",
            llvm::cl::desc("CPU to generate code for: native (this machine), "
                           "generic (portable x86-64) or an LLVM CPU name"),
            llvm::cl::init("native"), llvm::cl::cat(mbcOptions));
llvm::cl::opt<unsigned> optLevel("opt-level",
                                 llvm::cl::desc("LLVM optimization level"),
                                 llvm::cl::init(3), llvm::cl::cat(mbcOptions));
llvm::cl::opt<bool> inlineWeights(
    "inline-weights",
    llvm::cl::desc("put the weights into the IR instead of naming them"),
    llvm::cl::cat(mbcOptions));
llvm::cl::opt<std::string> emulateCudaKernels(
    "emulate-cuda-kernels",
    llvm::cl::desc("testing (--target=cpu): run the CUDA pipeline's "
                   "tensor-core kernel selection on the CPU with 16-bit "
                   "operands (wgmma or mma_sync tiling rules)"),
    llvm::cl::init(""), llvm::cl::Hidden, llvm::cl::cat(mbcOptions));
llvm::cl::opt<bool> cudaTensorCores(
    "cuda-tensor-cores",
    llvm::cl::desc("--target=cuda: large projections and attention on "
                   "tensor-core kernels with bf16/f16 operands (default); "
                   "--cuda-tensor-cores=false keeps every op on the "
                   "generic f32 kernels"),
    llvm::cl::init(true), llvm::cl::cat(mbcOptions));
llvm::cl::opt<bool> cudaFuseLocalLayers(
    "cuda-fuse-local-layers",
    llvm::cl::desc("--target=cuda: each local-model layer the fused kernel "
                   "supports runs as one kernel (default); false: its "
                   "projections and attention get separate kernels"),
    llvm::cl::init(true), llvm::cl::cat(mbcOptions));
llvm::cl::opt<bool> cudaFuseLocalInput(
    "cuda-fuse-local-input",
    llvm::cl::desc("--target=cuda: the first fused local layer builds the "
                   "local input (start token, byte embeddings, "
                   "global-to-local projection) in its prologue (default); "
                   "false: a kernel of its own writes it first"),
    llvm::cl::init(true), llvm::cl::cat(mbcOptions));
llvm::cl::opt<bool> cudaFuseNorms(
    "cuda-fuse-norms",
    llvm::cl::desc("--target=cuda: a norm read only by tensor-core GEMMs "
                   "runs in their prologue (default); false: a norm kernel "
                   "writes its rounded rows first"),
    llvm::cl::init(true), llvm::cl::cat(mbcOptions));
llvm::cl::opt<int64_t> batch("batch", llvm::cl::desc("sequences per call"),
                             llvm::cl::init(1), llvm::cl::cat(mbcOptions));
llvm::cl::opt<int64_t>
    sequenceLength("seq-len",
                   llvm::cl::desc("bytes per sequence (default: the model's "
                                  "maximum; a multiple of the patch size)"),
                   llvm::cl::init(0), llvm::cl::cat(mbcOptions));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "mbc") << message << "\n";
  return 1;
}

int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

struct Targets {
  bool cpu = false;
  bool cuda = false;
  std::vector<std::string> cudaArchs;
};

llvm::Expected<Targets> parseTargets() {
  Targets targets;
  llvm::SmallVector<llvm::StringRef> names;
  llvm::StringRef(targetList).split(names, ',');
  for (llvm::StringRef name : names) {
    name = name.trim();
    if (name == "cpu")
      targets.cpu = true;
    else if (name == "cuda")
      targets.cuda = true;
    else
      return llvm::createStringError("--target=" + targetList +
                                     ": unknown target '" + name +
                                     "' (expected cpu, cuda or cpu,cuda)");
  }
  llvm::SmallVector<llvm::StringRef> archs;
  llvm::StringRef(cudaArchList).split(archs, ',');
  for (llvm::StringRef arch : archs) {
    arch = arch.trim();
    if (!mbc::isSupportedCudaArch(arch))
      return llvm::createStringError(
          "--cuda-arch=" + cudaArchList + ": unknown CUDA architecture '" +
          arch +
          "' (expected sm_<NN> or sm_<NN>a with NN >= 80, e.g. "
          "sm_90a,sm_80)");
    if (llvm::is_contained(targets.cudaArchs, arch))
      return llvm::createStringError("--cuda-arch=" + cudaArchList + ": '" +
                                     arch + "' is listed twice");
    targets.cudaArchs.push_back(arch.str());
  }
  return targets;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Every pass is known by name (registered before the pass-manager options),
  // so --mlir-print-ir-before=<pass> etc. work.
  registerAllPasses();
  mbc::registerPasses();
  mbc::registerCudaKernelPasses();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  // --help lists mbc's own options; LLVM's and MLIR's (--mlir-timing,
  // --mlir-print-ir-after-all, ...) still work, unlisted (README).
  llvm::cl::HideUnrelatedOptions(mbcOptions);
  llvm::cl::ParseCommandLineOptions(argc, argv, "mbc: the MEGABYTE compiler\n");

  llvm::Expected<Targets> targets = parseTargets();
  if (!targets)
    return fail(targets.takeError());
  if (emitKind != EmitKind::Artifact && emitKind != EmitKind::MB &&
      targets->cpu && targets->cuda)
    return fail("--target=" + targetList +
                ": --emit other than mb or artifact produces one target's "
                "code; give --target=cpu or --target=cuda");
  if (emitKind == EmitKind::Artifact && outputPath == "-")
    return fail("an artifact needs an output file: -o model.mbx");
  if (emitKind == EmitKind::PTX && !targets->cuda)
    return fail("--emit=ptx needs --target=cuda (the CPU target has no PTX)");
  if (!llvm::sys::fs::is_directory(modelDir))
    return fail(modelDir + ": not a model directory (expected config.json and "
                           "model.safetensors in it)");
  llvm::SmallString<256> configPath(modelDir), weightsPath(modelDir);
  llvm::sys::path::append(configPath, "config.json");
  llvm::sys::path::append(weightsPath, "model.safetensors");

  llvm::Expected<mbc::ModelConfig> config = mbc::readModelConfig(configPath);
  if (!config)
    return fail(config.takeError());
  llvm::Expected<mbc::SafetensorsFile> weights =
      mbc::SafetensorsFile::open(weightsPath);
  if (!weights)
    return fail(weights.takeError());
  if (llvm::Error error = mbc::validateWeights(*config, *weights))
    return fail(std::move(error));

  // The pipeline's dialects and their interface models (bufferization,
  // LLVM IR translation), as in mbc-opt.
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // Serializing gpu modules (mbc-cuda-pipeline) translates them to LLVM IR.
  registerAllToLLVMIRTranslations(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  MLIRContext context(registry);
  mbc::ImportOptions options;
  options.batch = batch;
  options.sequenceLength = sequenceLength;
  auto module = mbc::importModel(context, *config, *weights, options);
  if (!module)
    return fail(module.takeError());

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("invalid pass manager options");
  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();
  pm.enableTiming(timing);
  if (inlineWeights)
    pm.addPass(mbc::createInlineWeights({weightsPath.str().str()}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (failed(pm.run(**module)))
    return fail("compilation failed");

  auto writeText = [&](auto print) -> int {
    if (llvm::Error error =
            mbc::writeFileAtomically(outputPath, [&](llvm::raw_ostream &os) {
              print(os);
              return llvm::Error::success();
            }))
      return fail(std::move(error));
    return 0;
  };
  auto writeModule = [&](ModuleOp printed) {
    return writeText([&](llvm::raw_ostream &os) {
      printed->print(os);
      os << "\n";
    });
  };
  if (emitKind == EmitKind::MB)
    return writeModule(**module);

  // --- CUDA: its own copy of the module when the CPU code is made too.
  std::optional<mbc::CudaCode> cudaCode;
  ArrayAttr cudaEntryPoints;
  ArrayAttr cudaDerivedWeights;
  if (targets->cuda) {
    OwningOpRef<ModuleOp> cudaModule =
        targets->cpu ? OwningOpRef<ModuleOp>((*module)->clone())
                     : std::move(*module);
    PassManager cudaPm(&context);
    if (failed(applyPassManagerCLOptions(cudaPm)))
      return fail("invalid pass manager options");
    cudaPm.enableTiming(timing);
    mbc::CudaPipelineOptions cudaOptions;
    cudaOptions.archs = targets->cudaArchs;
    cudaOptions.tensorCores = cudaTensorCores;
    cudaOptions.fuseLocalLayers = cudaFuseLocalLayers;
    cudaOptions.fuseLocalInput = cudaFuseLocalInput;
    cudaOptions.fuseGemmNorms = cudaFuseNorms;
    cudaOptions.serialize =
        emitKind == EmitKind::PTX || emitKind == EmitKind::Artifact;
    if (emitKind == EmitKind::Linalg)
      mbc::buildCudaTensorPipeline(cudaPm, cudaOptions);
    else
      mbc::buildCudaPipeline(cudaPm, cudaOptions);
    if (failed(cudaPm.run(*cudaModule)))
      return fail("CUDA compilation failed");
    if (emitKind <= EmitKind::LLVMDialect)
      return writeModule(*cudaModule);
    if (emitKind == EmitKind::LLVMIR) {
      llvm::LLVMContext llvmContext;
      auto kernels = mbc::translateKernelsToLLVMIR(*cudaModule, llvmContext);
      if (!kernels)
        return fail(kernels.takeError());
      return writeText(
          [&](llvm::raw_ostream &os) { (*kernels)->print(os, nullptr); });
    }
    auto entryPoints =
        (*cudaModule)->getAttrOfType<ArrayAttr>("mb.entry_points");
    llvm::Expected<mbc::CudaCode> code =
        mbc::extractCudaCode(*cudaModule, entryPoints);
    if (!code)
      return fail(code.takeError());
    if (emitKind == EmitKind::PTX)
      return writeText(
          [&](llvm::raw_ostream &os) { os << code->images.front().bytes; });
    llvm::Expected<std::optional<std::string>> ptxas = mbc::findPtxas();
    if (!ptxas)
      return fail(ptxas.takeError());
    if (*ptxas) {
      TimingScope scope = timing.nest("ptxas");
      if (llvm::Error error = mbc::assembleCubins(*code, **ptxas))
        return fail(std::move(error));
    } else {
      const char *explicitPath = std::getenv("MBC_PTXAS");
      llvm::WithColor::warning(llvm::errs(), "mbc")
          << (explicitPath ? "ptxas disabled (MBC_PTXAS is empty)"
                           : "ptxas not found (MBC_PTXAS, PATH, "
                             "/usr/local/cuda/bin)")
          << ": the artifact carries PTX only (JIT-compiled by the "
             "driver)\n";
    }
    cudaCode = std::move(*code);
    cudaEntryPoints = entryPoints;
    cudaDerivedWeights =
        (*cudaModule)->getAttrOfType<ArrayAttr>("mb.derived_weights");
    if (!targets->cpu)
      *module = std::move(cudaModule);
  }

  // --- CPU.
  std::string sharedObject;
  mbc::HostTarget hostTarget;
  if (targets->cpu) {
    PassManager cpuPm(&context);
    if (failed(applyPassManagerCLOptions(cpuPm)))
      return fail("invalid pass manager options");
    cpuPm.enableTiming(timing);
    llvm::Expected<mbc::HostTarget> resolved = mbc::resolveHostTarget(cpuName);
    if (!resolved)
      return fail(llvm::Twine("--cpu=") + cpuName + ": " +
                  llvm::toString(resolved.takeError()));
    hostTarget = *resolved;
    // Kernel configurations (register tiles) follow the target's vectors.
    mbc::CpuPipelineOptions cpuOptions;
    cpuOptions.vectorBits = mbc::vectorBitsOf(hostTarget);
    cpuOptions.emulateCudaKernels = emulateCudaKernels;
    mbc::buildCpuTensorPipeline(cpuPm, cpuOptions);
    if (emitKind >= EmitKind::LLVMDialect)
      mbc::buildCpuLoweringPipeline(cpuPm, cpuOptions);
    if (failed(cpuPm.run(**module)))
      return fail("compilation failed");
    if (emitKind <= EmitKind::LLVMDialect)
      return writeModule(**module);
    llvm::LLVMContext llvmContext;
    auto llvmModule = [&] {
      TimingScope scope = timing.nest("LLVM IR translation and optimization");
      return mbc::translateToOptimizedLLVMIR(**module, llvmContext, hostTarget,
                                             optLevel);
    }();
    if (!llvmModule)
      return fail(llvmModule.takeError());
    if (emitKind == EmitKind::LLVMIR)
      return writeText(
          [&](llvm::raw_ostream &os) { (*llvmModule)->print(os, nullptr); });
    auto object = [&] {
      TimingScope scope = timing.nest("object code and linking");
      return mbc::buildSharedObject(**llvmModule, hostTarget);
    }();
    if (!object)
      return fail(object.takeError());
    sharedObject = std::move(*object);
  }

  mbc::ArtifactInputs artifact;
  artifact.config = &*config;
  artifact.weights = &*weights;
  artifact.weightsMode = weightsMode;
  // External weights are found again through an absolute path, wherever the
  // artifact is moved.
  llvm::SmallString<256> absoluteWeights;
  if (llvm::sys::fs::real_path(weightsPath, absoluteWeights))
    absoluteWeights = weightsPath;
  artifact.weightsReference = absoluteWeights.str().str();
  artifact.entryPoints =
      (**module)->getAttrOfType<ArrayAttr>("mb.entry_points");
  artifact.derivedWeights = cudaDerivedWeights;
  // The CUDA plans index the args of the CUDA module's entry points; META
  // lists the CPU module's. Both come from the same import, so they agree.
  if (cudaEntryPoints && targets->cpu) {
    auto argsOf = [](ArrayAttr entries) {
      SmallVector<Attribute> args;
      for (auto entry : entries.getAsRange<DictionaryAttr>())
        args.push_back(entry.get("args"));
      return args;
    };
    if (argsOf(cudaEntryPoints) != argsOf(artifact.entryPoints))
      return fail("internal error: the CPU and CUDA entry points take "
                  "different arguments");
  }
  artifact.hasCpu = targets->cpu;
  artifact.cpuTarget = hostTarget;
  artifact.cpuCode = std::move(sharedObject);
  if (cudaCode)
    artifact.cuda = &*cudaCode;
  TimingScope writeScope = timing.nest("artifact");
  if (llvm::Error error = mbc::writeArtifact(outputPath, artifact))
    return fail(std::move(error));
  return 0;
}
