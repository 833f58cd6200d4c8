//===- Registration.cpp - registers mbc's CUDA passes ---------------------===//
#include "passes/CUDA/Passes.h"

namespace mbc {
namespace {
#define GEN_PASS_REGISTRATION
#include "passes/CUDA/Passes.h.inc"
} // namespace

void registerCudaPasses() { registerMBCCUDAPasses(); }

} // namespace mbc
