// ptxas accepts the norm kernels without spills, stack or libdevice calls.
// REQUIRES: ptxas
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.n1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.n1.ptx -o %t.n1.cubin 2>&1 | FileCheck %s --check-prefix=N1
// RUN: FileCheck %s --check-prefix=PTX < %t.n1.ptx
// N1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N1: Used 32 registers
// PTX-NOT: .extern .func
// PTX: shfl.sync.bfly
// PTX: sqrt.rn.f32
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="norm=layer epsilon=1e-5 token-shift=false dim=1024 rows=128 positions=128" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.n2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.n2.ptx -o %t.n2.cubin 2>&1 | FileCheck %s --check-prefix=N2
// N2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// The third kernel has its weight stored in bf16 (read as stored, widened).
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm=weight-type=bf16 -o %t.n3.mlir
// RUN: FileCheck %s --check-prefix=N3-IR < %t.n3.mlir
// RUN: mbc-opt %t.n3.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.n3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.n3.ptx -o %t.n3.cubin 2>&1 | FileCheck %s --check-prefix=N3
// N3-IR: gpu.func @norm(%{{.*}}: memref<129x256xf32>, %{{.*}}: memref<256xbf16>, %{{.*}}: memref<129x256xbf16>)
// N3-IR: arith.extf {{.*}} : vector<2xbf16> to vector<2xf32>
// N3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N3: Used 35 registers
// A decode row (one position) in f32 for a GEMV: a LayerNorm of 1024
// features with bf16 weights (the lucidrains patch embedding's), stored as
// f32 pairs.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="rows=1 positions=1 dim=1024 norm=layer epsilon=1e-5 token-shift=false element-type=f32 weight-type=bf16" -o %t.n4.mlir
// RUN: FileCheck %s --check-prefix=N4-IR < %t.n4.mlir
// RUN: mbc-opt %t.n4.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.n4.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=N4-PTX < %t.n4.ptx
// RUN: %ptxas -arch=sm_90a -v %t.n4.ptx -o %t.n4.cubin 2>&1 | FileCheck %s --check-prefix=N4
// N4-IR: gpu.func @norm(%{{.*}}: memref<1x1024xf32>, %{{.*}}: memref<1024xbf16>, %{{.*}}: memref<1024xbf16>, %{{.*}}: memref<1x1024xf32>)
// N4-IR-NOT: arith.truncf
// N4-PTX: st.global.v2.b32
// N4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N4: Used 118 registers
// The patch embedding's last LayerNorm writing MEGABYTE's global input:
// the start rows (bf16) and the normalized rows one row on.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="rows=128 positions=64 norm=layer epsilon=1e-5 token-shift=false element-type=f32 weight-type=bf16 start-type=bf16" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.n5.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.n5.ptx -o %t.n5.cubin 2>&1 | FileCheck %s --check-prefix=N5
// N5: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N5: Used 47 registers
