// RUN: mbc-opt %s --mb-cuda-attach-targets="archs=sm_90a,sm_80" | FileCheck %s
// RUN: not mbc-opt %s --mb-cuda-attach-targets="archs=sm_70" 2>&1 | FileCheck %s --check-prefix=OLD
// RUN: not mbc-opt %s --mb-cuda-attach-targets="archs=gfx90a" 2>&1 | FileCheck %s --check-prefix=FOREIGN
// RUN: not mbc-opt %s --mb-cuda-attach-targets 2>&1 | FileCheck %s --check-prefix=NONE

// CHECK: gpu.module @mbc_kernels [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, #nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">]
// OLD: mb-cuda-attach-targets: unsupported CUDA architecture 'sm_70' (expected sm_<NN> or sm_<NN>a with NN >= 80
// FOREIGN: unsupported CUDA architecture 'gfx90a'
// NONE: mb-cuda-attach-targets: no architecture given
module attributes {gpu.container_module} {
  gpu.module @mbc_kernels {
  }
}
