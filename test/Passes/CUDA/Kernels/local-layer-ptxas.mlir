// ptxas accepts the fused local-layer kernels below without spills; the
// expectations record registers per thread (ptxas -v of CUDA 13), the grid
// (one CTA per 64 rows: 7 packed patches of 9 rows, or 8 of 8) and the dynamic
// shared memory (residual stream f32, normalized rows, attention output,
// q/k/v of one head or the FFN's hidden chunk, weight stages), which also
// sets the CTAs an SM holds (.minnctapersm: 2 for L1, 1 for L6), so ptxas
// may use the registers of CTAs that would not fit.
// REQUIRES: ptxas

// L1 is the example model's local layer (128 patches of 9 positions, D 128,
// 4 heads of 32, FFN 512, clamped RMSNorm, token shift, GELU, to_kv), sm_80.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer -o %t.l1.mlir
// RUN: FileCheck %s --check-prefix=L1-LAUNCH < %t.l1.mlir
// RUN: mbc-opt %t.l1.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.l1.ptx -o %t.l1.cubin 2>&1 | FileCheck %s --check-prefix=L1
// RUN: FileCheck %s --check-prefix=L1-PTX < %t.l1.ptx
// L1-PTX: .maxntid 128, 1, 1
// L1-PTX-NEXT: .minnctapersm 2
// L1-LAUNCH: grid = array<i64: 19, 1, 1>
// L1-LAUNCH-SAME: params = [{kind = "ptr", name = "x"}, {kind = "ptr", name = "norm1_weight"}, {kind = "ptr", name = "wq"}, {kind = "ptr", name = "wkv"}, {kind = "ptr", name = "wo"}, {kind = "ptr", name = "norm2_weight"}, {kind = "ptr", name = "up_weight"}, {kind = "ptr", name = "up_bias"}, {kind = "ptr", name = "down_weight"}, {kind = "ptr", name = "down_bias"}, {kind = "ptr", name = "out"}]
// L1-LAUNCH-SAME: shared_bytes = 112640 : i64
// L1: Compiling entry function 'local_layer' for 'sm_80'
// L1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L1: Used 130 registers, used 1 barriers

// L2 is the same for sm_90a.
// RUN: mbc-opt %t.l1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.l2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.l2.ptx -o %t.l2.cubin 2>&1 | FileCheck %s --check-prefix=L2
// L2: Compiling entry function 'local_layer' for 'sm_90a'
// L2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L2: Used 136 registers, used 1 barriers

// L3 is MEGABYTE.md's local stage (D 256, 8 heads of 64, FFN 1024), sm_90a:
// the largest tiles that fit one CTA's shared memory.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer="dim=256 heads=8 head-dim=64 hidden=1024" -o %t.l3.mlir
// RUN: FileCheck %s --check-prefix=L3-LAUNCH < %t.l3.mlir
// RUN: mbc-opt %t.l3.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.l3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.l3.ptx -o %t.l3.cubin 2>&1 | FileCheck %s --check-prefix=L3
// L3-LAUNCH: shared_bytes = 223232 : i64
// L3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L3: Used 252 registers, used 1 barriers

// L4 is the paper's layer (LayerNorm with bias, no token shift, ReLU,
// separate k and v), 8 positions (8 patches per CTA), head dim 128, f16.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer="sequences=50 positions=8 dim=64 heads=1 head-dim=128 hidden=256 norm=layer epsilon=1e-5 token-shift=false activation=relu fused-kv=false element-type=f16" -o %t.l4.mlir
// RUN: FileCheck %s --check-prefix=L4-LAUNCH < %t.l4.mlir
// RUN: mbc-opt %t.l4.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l4.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.l4.ptx -o %t.l4.cubin 2>&1 | FileCheck %s --check-prefix=L4
// RUN: FileCheck %s --check-prefix=L4-PTX < %t.l4.ptx
// L4-LAUNCH: grid = array<i64: 7, 1, 1>
// L4-LAUNCH-SAME: {kind = "ptr", name = "norm1_bias"}, {kind = "ptr", name = "wq"}, {kind = "ptr", name = "wk"}, {kind = "ptr", name = "wv"}
// L4-LAUNCH-SAME: shared_bytes = 152576 : i64
// L4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L4: Used 174 registers, used 1 barriers
// L4-PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32

// L5 has head dim 128 with 2 stages, tanh GELU and RMSNorm with the
// epsilon in the root (built, not assembled: ptxas takes a minute on it).
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer="dim=256 heads=2 head-dim=128 hidden=1024 stages=2 activation=gelu_tanh norm=rms" | FileCheck %s --check-prefix=L5
// L5: gpu.func @local_layer{{.*}}shared_bytes = 224256 : i64
// L5: math.sqrt
// L5: math.tanh

// L6 has rotary (theta 10000) on q and k: a cos/sin table per CTA in shared
// memory, sin and cos as polynomials (no libdevice, no local memory).
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer="dim=128 heads=2 head-dim=64 hidden=512 rotary-theta=10000" -o %t.l6.mlir
// RUN: FileCheck %s --check-prefix=L6-LAUNCH < %t.l6.mlir
// RUN: mbc-opt %t.l6.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l6.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.l6.ptx -o %t.l6.cubin 2>&1 | FileCheck %s --check-prefix=L6
// RUN: FileCheck %s --check-prefix=L6-PTX < %t.l6.ptx
// RUN: FileCheck %s --check-prefix=L6-CTAS < %t.l6.ptx
// L6-CTAS: .minnctapersm 1
// L6-LAUNCH: shared_bytes = 127872 : i64
// L6: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L6: Used 168 registers, used 1 barriers
// L6-PTX-NOT: .extern .func
// L6-PTX-NOT: __cudart_i2opi_f
// L6-PTX-NOT: .local

// L7 is L1 with its norm weights and FFN biases stored in bf16.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer=vector-type=bf16 -o %t.l7.mlir
// RUN: FileCheck %s --check-prefix=L7-IR < %t.l7.mlir
// RUN: mbc-opt %t.l7.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l7.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.l7.ptx -o %t.l7.cubin 2>&1 | FileCheck %s --check-prefix=L7
// L7-IR: gpu.func @local_layer(%{{.*}}: memref<1152x128xf32>, %{{.*}}: memref<128xbf16>,
// L7: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L7: Used 130 registers, used 1 barriers

// L8 is the example's two local layers chained in one kernel
// (mb-cuda-chain-local-layers): each layer's parameters after the
// previous one's ("layer1_..."), one schedule of both layers' weights.
// ptxas spends more registers on the longer schedule (214: still 2 CTAs
// an SM, as the shared memory allows) and spills none.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer="sequences=128 positions=9 dim=128 heads=4 head-dim=32 hidden=512 layers=2" -o %t.l8.mlir
// RUN: FileCheck %s --check-prefix=L8-IR < %t.l8.mlir
// RUN: mbc-opt %t.l8.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l8.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.l8.ptx -o %t.l8.cubin 2>&1 | FileCheck %s --check-prefix=L8
// L8-IR: {kind = "ptr", name = "down_bias"}, {kind = "ptr", name = "layer1_norm1_weight"}
// L8-IR-SAME: {kind = "ptr", name = "layer1_down_bias"}, {kind = "ptr", name = "out"}]
// L8-IR-SAME: shared_bytes = 112640 : i64
// L8: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L8: Used 216 registers, used 1 barriers

// L9 is L8 building its input rows (the example's local stage as the
// pipeline selects it): the context rows, bytes, embedding table and start
// token in place of x; the prologue gathers each row's embedding (4 bf16 a
// thread) and adds the context's f32 quad. 216 registers, 0 spills.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-local-layer="sequences=128 positions=9 dim=128 heads=4 head-dim=32 hidden=512 layers=2 input-vocabulary=256 input-patches=128" -o %t.l9.mlir
// RUN: FileCheck %s --check-prefix=L9-IR < %t.l9.mlir
// RUN: mbc-opt %t.l9.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l9.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.l9.ptx -o %t.l9.cubin 2>&1 | FileCheck %s --check-prefix=L9
// RUN: FileCheck %s --check-prefix=L9-PTX < %t.l9.ptx
// L9-IR: memref<129x1024xf32>, %{{.*}}: memref<128x8xi32>, %{{.*}}: memref<256x128xbf16>, %{{.*}}: memref<128xbf16>
// L9-IR: params = [{kind = "ptr", name = "context"}, {kind = "ptr", name = "bytes"}, {kind = "ptr", name = "embedding"}, {kind = "ptr", name = "start_token"}, {kind = "ptr", name = "norm1_weight"}
// L9-IR-SAME: shared_bytes = 112640 : i64
// L9-PTX: ld.global.b32 [[BYTE:%r[0-9]+]]
// L9-PTX-NEXT: min.u32 %r{{[0-9]+}}, [[BYTE]], 255;
// L9-PTX: ld.global.v4.b16
// L9-PTX-COUNT-4: cvt.f32.bf16
// L9-PTX: ld.global.v4.b32
// L9: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L9: Used 216 registers, used 1 barriers
