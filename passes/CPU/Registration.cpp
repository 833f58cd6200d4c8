//===- Registration.cpp - registers mbc's CPU passes ----------------------===//
#include "passes/CPU/Passes.h"

namespace mbc {
namespace {
#define GEN_PASS_REGISTRATION
#include "passes/CPU/Passes.h.inc"
} // namespace

void registerCpuPasses() { registerMBCCPUPasses(); }

} // namespace mbc
