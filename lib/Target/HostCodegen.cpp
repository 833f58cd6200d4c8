//===- HostCodegen.cpp - LLVM dialect to a host shared object -------------===//
#include "mbc/Target/HostCodegen.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <optional>

namespace mbc {
namespace {

llvm::Error codegenError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

void initializeNativeTarget() {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const HostTarget &target) {
  initializeNativeTarget();
  std::string error;
  llvm::Triple triple(target.triple);
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return codegenError("target " + target.triple + ": " + error);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return codegenError("cannot create a target machine for " + target.cpu);
  return std::move(machine);
}

/// Runs `program` with `arguments`; the error carries its output.
llvm::Error run(llvm::StringRef program,
                llvm::ArrayRef<llvm::StringRef> arguments) {
  llvm::SmallString<128> log;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("mbc-link", "log", log))
    return codegenError("cannot create a temporary file: " + ec.message());
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log.str(),
                                                log.str()};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(program, arguments, std::nullopt,
                                         redirects, 0, 0, &message);
  auto output = llvm::MemoryBuffer::getFile(log);
  llvm::sys::fs::remove(log);
  if (status != 0)
    return codegenError(program + " failed (" + message +
                        "): " + (output ? (*output)->getBuffer() : ""));
  return llvm::Error::success();
}

} // namespace

llvm::Expected<HostTarget> resolveHostTarget(llvm::StringRef cpu) {
  HostTarget target;
  target.triple = llvm::sys::getDefaultTargetTriple();
  if (cpu == "native") {
    target.cpu = llvm::sys::getHostCPUName().str();
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    std::vector<std::string> enabled;
    for (const auto &feature : features)
      enabled.push_back((feature.second ? "+" : "-") + feature.first().str());
    std::sort(enabled.begin(), enabled.end());
    target.features = llvm::join(enabled, ",");
  } else if (cpu == "generic") {
    target.cpu = llvm::Triple(target.triple).isX86() ? "x86-64" : "generic";
  } else {
    target.cpu = cpu.str();
  }
  auto machine = createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  return target;
}

int64_t vectorBitsOf(const HostTarget &target) {
  auto machine = createTargetMachine(target);
  if (!machine) {
    llvm::consumeError(machine.takeError());
    return 128;
  }
  const llvm::MCSubtargetInfo *subtarget = (*machine)->getMCSubtargetInfo();
  if (subtarget->checkFeatures("+avx512f"))
    return 512;
  if (subtarget->checkFeatures("+avx2,+fma"))
    return 256;
  return 128;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
translateToOptimizedLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context,
                           const HostTarget &target, unsigned optLevel) {
  mlir::registerBuiltinDialectTranslation(*module.getContext());
  mlir::registerLLVMDialectTranslation(*module.getContext());
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context);
  if (!llvmModule)
    return codegenError("translation of the LLVM dialect to LLVM IR failed");
  auto machine = createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  llvmModule->setDataLayout((*machine)->createDataLayout());
  // Let LLVM's vectorizers and codegen use the target's features.
  for (llvm::Function &function : *llvmModule) {
    if (function.isDeclaration())
      continue;
    function.addFnAttr("target-cpu", target.cpu);
    if (!target.features.empty())
      function.addFnAttr("target-features", target.features);
  }
  auto optimize = mlir::makeOptimizingTransformer(optLevel, /*sizeLevel=*/0,
                                                  machine->get());
  if (llvm::Error error = optimize(llvmModule.get()))
    return std::move(error);
  return std::move(llvmModule);
}

llvm::Expected<std::string> buildSharedObject(llvm::Module &module,
                                              const HostTarget &target) {
  auto machine = createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  llvm::SmallString<128> object, shared;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("mbc-kernels", "o", object))
    return codegenError("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeObject(object);
  {
    std::error_code ec;
    llvm::raw_fd_ostream stream(object, ec);
    if (ec)
      return codegenError(object + ": " + ec.message());
    llvm::legacy::PassManager passes;
    if ((*machine)->addPassesToEmitFile(passes, stream, nullptr,
                                        llvm::CodeGenFileType::ObjectFile))
      return codegenError("the target cannot emit object files");
    passes.run(module);
  }
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("mbc-kernels", "so", shared))
    return codegenError("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeShared(shared);

  // The C compiler driver knows the system's libm; ld.lld is the fallback
  // (libm symbols then resolve against the loading process).
  if (auto cc = llvm::sys::findProgramByName("cc")) {
    if (llvm::Error error = run(*cc, {*cc, "-shared", "-o", shared, object,
                                      "-lm", "-Wl,-z,noexecstack"}))
      return std::move(error);
  } else if (auto lld = llvm::sys::findProgramByName("ld.lld")) {
    if (llvm::Error error = run(*lld, {*lld, "-shared", "-o", shared, object}))
      return std::move(error);
  } else {
    return codegenError("no linker found: install a C compiler (cc) or "
                        "ld.lld to build CPU code");
  }
  auto bytes = llvm::MemoryBuffer::getFile(shared);
  if (!bytes)
    return codegenError(shared + ": " + bytes.getError().message());
  return (*bytes)->getBuffer().str();
}

} // namespace mbc
