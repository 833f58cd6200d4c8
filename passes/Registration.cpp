//===- Registration.cpp - registers mbc's passes and pipelines ------------===//
#include "passes/CPU/Passes.h"
#include "passes/CUDA/Passes.h"
#include "passes/Passes.h"

namespace mbc {
namespace {
#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"
} // namespace

void registerPipelines();

void registerPasses() {
  registerMBCPasses();
  registerCpuPasses();
  registerCudaPasses();
  registerPipelines();
}

} // namespace mbc
