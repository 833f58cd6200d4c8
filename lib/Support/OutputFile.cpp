//===- OutputFile.cpp - atomic output files -------------------------------===//
#include "mbc/Support/OutputFile.h"

#include "llvm/Support/FileSystem.h"

namespace mbc {

llvm::Error writeFileAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> write) {
  if (path == "-") {
    if (llvm::Error error = write(llvm::outs()))
      return error;
    llvm::outs().flush();
    return llvm::Error::success();
  }
  llvm::Expected<llvm::sys::fs::TempFile> temp =
      llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%%%");
  if (!temp)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": cannot create output: " + llvm::toString(temp.takeError()));
  llvm::Error result = llvm::Error::success();
  {
    llvm::raw_fd_ostream stream(temp->FD, /*shouldClose=*/false);
    result = write(stream);
    stream.flush();
    if (!result && stream.has_error())
      result = llvm::createStringError(
          stream.error(), path + ": write failed: " + stream.error().message());
    stream.clear_error();
  }
  if (result) {
    llvm::consumeError(temp->discard());
    return result;
  }
  if (llvm::Error error = temp->keep(path))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": cannot write output: " + llvm::toString(std::move(error)));
  return llvm::Error::success();
}

} // namespace mbc
