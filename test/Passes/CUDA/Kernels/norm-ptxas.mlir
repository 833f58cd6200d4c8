// ptxas accepts the norm kernels without spills, stack or libdevice calls.
// REQUIRES: ptxas
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.n1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.n1.ptx -o %t.n1.cubin 2>&1 | FileCheck %s --check-prefix=N1
// RUN: FileCheck %s --check-prefix=PTX < %t.n1.ptx
// N1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N1: Used 32 registers
// PTX-NOT: .extern
// PTX: shfl.sync.bfly
// PTX: sqrt.rn.f32
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="norm=layer epsilon=1e-5 token-shift=false dim=1024 rows=128 positions=128" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.n2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.n2.ptx -o %t.n2.cubin 2>&1 | FileCheck %s --check-prefix=N2
// N2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
