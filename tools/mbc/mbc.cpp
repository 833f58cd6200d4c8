//===- mbc.cpp - the mbc compiler driver ----------------------------------===//
//
//   mbc MODEL_DIR --emit=mb [-o out.mlir] [--inline-weights]
//       [--batch N] [--seq-len T]
//
// Reads MODEL_DIR/config.json and MODEL_DIR/model.safetensors, validates them
// against each other and runs the compiler pipeline up to the requested
// level. The standard MLIR options (--mlir-print-ir-after-all, --mlir-timing,
// --mlir-pass-pipeline-crash-reproducer, ...) apply to that pipeline.
//
//===----------------------------------------------------------------------===//
#include "mbc/Import/ModelImporter.h"
#include "mbc/Support/OutputFile.h"
#include "passes/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;

namespace {

enum class EmitKind { MB };

llvm::cl::opt<std::string> modelDir(llvm::cl::Positional,
                                    llvm::cl::desc("<model dir>"),
                                    llvm::cl::Required);
llvm::cl::opt<EmitKind> emitKind(
    "emit", llvm::cl::desc("what to produce"), llvm::cl::init(EmitKind::MB),
    llvm::cl::values(clEnumValN(EmitKind::MB, "mb",
                                "the model as mb dialect IR")));
llvm::cl::opt<std::string> outputPath("o", llvm::cl::desc("output file"),
                                      llvm::cl::value_desc("file"),
                                      llvm::cl::init("-"));
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
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "mbc: the MEGABYTE compiler\n");

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

  MLIRContext context;
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
  timing.stop();

  if (llvm::Error error = mbc::writeFileAtomically(
          outputPath, [&](llvm::raw_ostream &os) {
            (*module)->print(os);
            os << "\n";
            return llvm::Error::success();
          }))
    return fail(std::move(error));
  return 0;
}
