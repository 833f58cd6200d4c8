//===- CudaCodegen.cpp - cubins with ptxas, NVVM IR, META "cuda" ----------===//
#include "mbc/Target/CudaCodegen.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;

namespace mbc {
namespace {

/// A temporary file removed when this goes out of scope.
struct TemporaryFile {
  llvm::SmallString<128> path;
  ~TemporaryFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
};

llvm::Error makeTemporary(llvm::StringRef prefix, llvm::StringRef suffix,
                          TemporaryFile &file) {
  if (std::error_code error =
          llvm::sys::fs::createTemporaryFile(prefix, suffix, file.path))
    return llvm::createStringError("cannot create a temporary file: " +
                                   error.message());
  return llvm::Error::success();
}

/// Registers and spill stores per kernel from `ptxas -v`'s report.
void readPtxasReport(llvm::StringRef report, CudaCode &code) {
  llvm::Regex entry("Compiling entry function '([A-Za-z0-9_$.]+)'");
  llvm::Regex spills("([0-9]+) bytes spill stores");
  llvm::Regex registers("Used ([0-9]+) registers");
  CudaKernel *current = nullptr;
  llvm::SmallVector<llvm::StringRef> lines;
  report.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    llvm::SmallVector<llvm::StringRef> match;
    if (entry.match(line, &match)) {
      current = nullptr;
      for (CudaKernel &kernel : code.kernels)
        if (kernel.name == match[1])
          current = &kernel;
      continue;
    }
    if (!current)
      continue;
    int64_t value = 0;
    if (spills.match(line, &match) && !match[1].getAsInteger(10, value))
      current->spillStoreBytes = value;
    if (registers.match(line, &match) && !match[1].getAsInteger(10, value))
      current->registers = value;
  }
}

} // namespace

llvm::Expected<std::optional<std::string>> findPtxas() {
  if (const char *explicitPath = std::getenv("MBC_PTXAS")) {
    if (!*explicitPath)
      return std::nullopt;
    if (!llvm::sys::fs::can_execute(explicitPath))
      return llvm::createStringError(llvm::Twine("MBC_PTXAS=") + explicitPath +
                                     ": not an executable");
    return std::optional<std::string>(explicitPath);
  }
  if (llvm::ErrorOr<std::string> onPath = llvm::sys::findProgramByName("ptxas"))
    return std::optional<std::string>(*onPath);
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return std::optional<std::string>("/usr/local/cuda/bin/ptxas");
  return std::nullopt;
}

llvm::Error assembleCubins(CudaCode &code, llvm::StringRef ptxas) {
  std::vector<CudaImage> cubins;
  for (size_t i = 0; i < code.images.size(); ++i) {
    const CudaImage &image = code.images[i];
    if (image.format != "ptx")
      continue;
    TemporaryFile ptx, cubin, report;
    if (llvm::Error error = makeTemporary("mbc-kernels", "ptx", ptx))
      return error;
    if (llvm::Error error = makeTemporary("mbc-kernels", "cubin", cubin))
      return error;
    if (llvm::Error error = makeTemporary("mbc-ptxas", "txt", report))
      return error;
    {
      std::error_code error;
      llvm::raw_fd_ostream os(ptx.path, error);
      if (error)
        return llvm::createStringError(ptx.path + ": " + error.message());
      os << image.bytes;
    }
    std::string archFlag = "-arch=" + image.arch;
    llvm::SmallVector<llvm::StringRef> args = {
        ptxas, archFlag, "-v", "-O3", ptx.path, "-o", cubin.path};
    std::optional<llvm::StringRef> redirects[] = {std::nullopt,
                                                  llvm::StringRef(report.path),
                                                  llvm::StringRef(report.path)};
    std::string message;
    int status = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                                           0, 0, &message);
    auto reportText = llvm::MemoryBuffer::getFile(report.path);
    llvm::StringRef reportBytes =
        reportText ? (*reportText)->getBuffer() : llvm::StringRef();
    if (status != 0)
      return llvm::createStringError(
          ptxas + " " + archFlag + " rejected the PTX (" +
          (message.empty() ? "exit status " + std::to_string(status)
                           : message) +
          "):\n" + reportBytes);
    if (i == 0)
      readPtxasReport(reportBytes, code);
    auto cubinBytes = llvm::MemoryBuffer::getFile(cubin.path);
    if (!cubinBytes)
      return llvm::createStringError(cubin.path + ": " +
                                     cubinBytes.getError().message());
    cubins.push_back({image.arch, "cubin", (*cubinBytes)->getBuffer().str()});
  }
  for (CudaImage &cubin : cubins)
    code.images.push_back(std::move(cubin));
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<llvm::Module>>
translateKernelsToLLVMIR(ModuleOp module, llvm::LLVMContext &context) {
  auto kernels = llvm::to_vector(module.getOps<gpu::GPUModuleOp>());
  if (kernels.size() != 1)
    return llvm::createStringError(
        "expected one gpu.module of kernels, found " +
        llvm::Twine(kernels.size()));
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(kernels.front(), context, "mbc_kernels");
  if (!llvmModule)
    return llvm::createStringError("translating the kernels to NVVM IR failed");
  llvmModule->setTargetTriple(llvm::Triple("nvptx64-nvidia-cuda"));
  return std::move(llvmModule);
}

llvm::json::Object cudaMetadata(const CudaCode &code,
                                llvm::ArrayRef<uint64_t> offsets) {
  llvm::json::Array images;
  for (auto [image, offset] : llvm::zip(code.images, offsets))
    images.push_back(llvm::json::Object{{"arch", image.arch},
                                        {"format", image.format},
                                        {"offset", int64_t(offset)},
                                        {"size", int64_t(image.bytes.size())}});
  llvm::json::Array kernels;
  for (const CudaKernel &kernel : code.kernels) {
    llvm::json::Array params;
    for (const std::string &param : kernel.params)
      params.push_back(param);
    llvm::json::Object entry{
        {"name", kernel.name},
        {"params", std::move(params)},
        {"block",
         llvm::json::Array{kernel.block[0], kernel.block[1], kernel.block[2]}},
        {"shared_bytes", kernel.sharedBytes}};
    if (kernel.registers)
      entry["registers"] = *kernel.registers;
    if (kernel.spillStoreBytes)
      entry["spill_store_bytes"] = *kernel.spillStoreBytes;
    kernels.push_back(std::move(entry));
  }
  return llvm::json::Object{{"images", std::move(images)},
                            {"kernels", std::move(kernels)},
                            {"plans", llvm::json::Object(code.plans)}};
}

} // namespace mbc
