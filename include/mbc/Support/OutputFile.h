//===- OutputFile.h - atomic output files -----------------------*- C++ -*-===//
#ifndef MBC_SUPPORT_OUTPUTFILE_H
#define MBC_SUPPORT_OUTPUTFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace mbc {

/// Writes `path` ("-" is stdout) through `write` so that it either appears
/// whole or not at all: the data goes to a temporary file next to `path`,
/// which is renamed over it only when `write` succeeded and the stream has no
/// error. On failure the temporary is removed and any old `path` is kept.
llvm::Error
writeFileAtomically(llvm::StringRef path,
                    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> write);

} // namespace mbc

#endif // MBC_SUPPORT_OUTPUTFILE_H
