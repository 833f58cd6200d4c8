//===- mbc.cpp - the mbc compiler driver ----------------------------------===//
//
//   mbc MODEL_DIR -o model.mbx [--target=cpu] [--weights=embed|external]
//       [--cpu=native|generic|NAME]
//   mbc MODEL_DIR --emit=mb|linalg|llvm-dialect|llvm [-o FILE]
//       [--inline-weights] [--batch N] [--seq-len T]
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
#include "mbc/Target/HostCodegen.h"
#include "passes/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
using mbc::WeightsMode;

namespace {

enum class EmitKind { MB, Linalg, LLVMDialect, LLVMIR, Artifact };
enum class TargetKind { CPU };

llvm::cl::opt<std::string> modelDir(llvm::cl::Positional,
                                    llvm::cl::desc("<model dir>"),
                                    llvm::cl::Required);
llvm::cl::opt<EmitKind> emitKind(
    "emit", llvm::cl::desc("what to produce"),
    llvm::cl::init(EmitKind::Artifact),
    llvm::cl::values(
        clEnumValN(EmitKind::MB, "mb", "the model as mb dialect IR"),
        clEnumValN(EmitKind::Linalg, "linalg",
                   "entry points lowered to linalg on tensors"),
        clEnumValN(EmitKind::LLVMDialect, "llvm-dialect",
                   "the CPU code in MLIR's LLVM dialect"),
        clEnumValN(EmitKind::LLVMIR, "llvm", "the optimized CPU LLVM IR"),
        clEnumValN(EmitKind::Artifact, "artifact",
                   "a .mbx artifact for libmbrt (the default)")));
llvm::cl::opt<std::string> outputPath("o", llvm::cl::desc("output file"),
                                      llvm::cl::value_desc("file"),
                                      llvm::cl::init("-"));
llvm::cl::opt<TargetKind>
    target("target", llvm::cl::desc("code generation target"),
           llvm::cl::init(TargetKind::CPU),
           llvm::cl::values(clEnumValN(TargetKind::CPU, "cpu",
                                       "the host CPU (x86-64: AVX-512/AVX2 "
                                       "when present)")));
llvm::cl::opt<WeightsMode> weightsMode(
    "weights", llvm::cl::desc("where the artifact's weights live"),
    llvm::cl::init(WeightsMode::Embedded),
    llvm::cl::values(
        clEnumValN(WeightsMode::Embedded, "embed", "inside the artifact"),
        clEnumValN(WeightsMode::External, "external",
                   "in MODEL_DIR/model.safetensors, validated at load")));
llvm::cl::opt<std::string>
    cpuName("cpu",
            llvm::cl::desc("CPU to generate code for: native (this machine), "
                           "generic (portable x86-64) or an LLVM CPU name"),
            llvm::cl::init("native"));
llvm::cl::opt<unsigned> optLevel("opt-level",
                                 llvm::cl::desc("LLVM optimization level"),
                                 llvm::cl::init(3));
llvm::cl::opt<bool> inlineWeights(
    "inline-weights",
    llvm::cl::desc("put the weights into the IR instead of naming them"));
llvm::cl::opt<int64_t> batch("batch", llvm::cl::desc("sequences per call"),
                             llvm::cl::init(1));
llvm::cl::opt<int64_t>
    sequenceLength("seq-len",
                   llvm::cl::desc("bytes per sequence (default: the model's "
                                  "maximum; a multiple of the patch size)"),
                   llvm::cl::init(0));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "mbc") << message << "\n";
  return 1;
}

int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Every pass is known by name (registered before the pass-manager options),
  // so --mlir-print-ir-before=<pass> etc. work.
  registerAllPasses();
  mbc::registerPasses();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  llvm::cl::ParseCommandLineOptions(argc, argv, "mbc: the MEGABYTE compiler\n");

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
  llvm::Expected<mbc::HostTarget> hostTarget = mbc::resolveHostTarget(cpuName);
  if (!hostTarget)
    return fail(llvm::Twine("--cpu=") + cpuName + ": " +
                llvm::toString(hostTarget.takeError()));
  // Kernel configurations (register tiles) follow the target's vectors.
  mbc::CpuPipelineOptions cpuOptions;
  cpuOptions.vectorBits = mbc::vectorBitsOf(*hostTarget);
  if (emitKind >= EmitKind::Linalg)
    mbc::buildCpuTensorPipeline(pm, cpuOptions);
  if (emitKind >= EmitKind::LLVMDialect)
    mbc::buildCpuLoweringPipeline(pm, cpuOptions);
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
  if (emitKind <= EmitKind::LLVMDialect)
    return writeText([&](llvm::raw_ostream &os) {
      (*module)->print(os);
      os << "\n";
    });

  llvm::LLVMContext llvmContext;
  auto llvmModule = [&] {
    TimingScope scope = timing.nest("LLVM IR translation and optimization");
    return mbc::translateToOptimizedLLVMIR(**module, llvmContext, *hostTarget,
                                           optLevel);
  }();
  if (!llvmModule)
    return fail(llvmModule.takeError());
  if (emitKind == EmitKind::LLVMIR)
    return writeText(
        [&](llvm::raw_ostream &os) { (*llvmModule)->print(os, nullptr); });

  if (outputPath == "-")
    return fail("an artifact needs an output file: -o model.mbx");
  auto sharedObject = [&] {
    TimingScope scope = timing.nest("object code and linking");
    return mbc::buildSharedObject(**llvmModule, *hostTarget);
  }();
  if (!sharedObject)
    return fail(sharedObject.takeError());

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
  artifact.cpuTarget = *hostTarget;
  artifact.cpuCode = std::move(*sharedObject);
  TimingScope writeScope = timing.nest("artifact");
  if (llvm::Error error = mbc::writeArtifact(outputPath, artifact))
    return fail(std::move(error));
  return 0;
}
