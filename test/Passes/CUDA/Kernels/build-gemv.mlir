// The decode GEMV (mb-cuda-test-build-gemv): f32 activations and 16-bit
// weights read with 16-byte vector loads, lane sums reduced with
// butterfly shuffles, the epilogue on lane 0; ptxas accepts it without
// spills (registers recorded below). Unsupported specs are errors naming the field.
// REQUIRES: ptxas
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=4 n=1000 k=4096 bias=true activation=gelu residual=true" -o %t.mlir
// RUN: FileCheck %s --check-prefix=LAUNCH < %t.mlir
// RUN: mbc-opt %t.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=17" 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=16 columns-per-warp=8" 2>&1 | FileCheck %s --check-prefix=ACCUMULATORS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="k=100" 2>&1 | FileCheck %s --check-prefix=K
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="activation=swish" 2>&1 | FileCheck %s --check-prefix=ACT
// A bf16 bias (as the model stores it) is loaded as bf16 and widened.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=4096 k=4096 bias=true bias-type=bf16" -o %t.bias.mlir
// RUN: FileCheck %s --check-prefix=BIAS < %t.bias.mlir
// RUN: mbc-opt %t.bias.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.bias.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=BIAS-PTX < %t.bias.ptx
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="bias=true bias-type=f64" 2>&1 | FileCheck %s --check-prefix=BIAS-TYPE
// BIAS: gpu.func @gemv({{.*}}, %{{.*}}: memref<4096xbf16>) kernel
// BIAS: memref.load {{.*}} : memref<4096xbf16>
// BIAS: arith.extf {{.*}} : bf16 to f32
// BIAS-PTX: ld.global.b16
// BIAS-TYPE: mb-cuda-test-build-gemv: bias-type = 'f64' (expected f32, bf16 or f16)

// 1000 columns, 8 warps x 2 columns per block: 63 blocks.
// LAUNCH: gpu.func @gemv(%{{.*}}: memref<4x4096xf32>, %{{.*}}: memref<1000x4096xbf16>, %{{.*}}: memref<4x1000xf32>, %{{.*}}: memref<1000xf32>, %{{.*}}: memref<4x1000xf32>) kernel
// LAUNCH-SAME: mbc.launch = {block = array<i64: 256, 1, 1>, grid = array<i64: 63, 1, 1>, params = [{kind = "ptr", name = "a"}, {kind = "ptr", name = "w"}, {kind = "ptr", name = "c"}, {kind = "ptr", name = "bias"}, {kind = "ptr", name = "residual"}], shared_bytes = 0 : i64}
// PTX-LABEL: .entry gemv(
// PTX: ld.global.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX-NOT: .extern .func
// Registers per thread (ptxas -v of CUDA 13): 4 rows x 2 columns x 8
// partial sums, and 8 weight chunks in flight.
// PTXAS: 0 bytes spill stores, 0 bytes spill loads
// PTXAS: Used 148 registers
// ROWS: GEMV rows m = 17 must be between 1 and 16
// ACCUMULATORS: GEMV rows x columns per warp = 128 is more than 64 accumulators a lane
// K: GEMV needs n >= 1 and k a positive multiple of 8 (16-byte weight loads), got n = 4096, k = 100
// ACT: mb-cuda-test-build-gemv: activation = 'swish' (expected none, gelu, gelu_tanh or relu)

// An RMSNorm prologue (a decode row's, MEGABYTE-pytorch's clamped form,
// bf16 norm weight): A is the norm's input, the norm weight the last
// parameter; the lanes fold g into the weights and accumulate x^2 from the
// same loads, the epilogue scales by 1 / max(sqrt(mean x^2), eps).
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=1536 k=512 bias=true activation=gelu norm=rms_clamp norm-weight-type=bf16" -o %t.norm.mlir
// RUN: FileCheck %s --check-prefix=NORM < %t.norm.mlir
// RUN: mbc-opt %t.norm.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.norm.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=NORM-PTX < %t.norm.ptx
// RUN: %ptxas -arch=sm_90a -v %t.norm.ptx -o %t.norm.cubin 2>&1 | FileCheck %s --check-prefix=NORM-PTXAS
// NORM: gpu.func @gemv(%{{.*}}: memref<1x512xf32>, %{{.*}}: memref<1536x512xbf16>, %{{.*}}: memref<1x1536xf32>, %{{.*}}: memref<1536xf32>, %{{.*}}: memref<512xbf16>) kernel
// NORM-SAME: {kind = "ptr", name = "norm_weight"}
// K = 512 is two whole 256-element steps a warp, straight-line; both of
// the warp's columns and the sum of squares come from the same x loads, so
// the row's rstd is computed once.
// NORM-NOT: scf.for
// NORM: arith.extf %{{.*}} : vector<8xbf16> to vector<8xf32>
// NORM: arith.mulf
// NORM: vector.fma
// NORM: vector.fma
// NORM: vector.fma
// NORM: math.sqrt
// NORM: arith.maximumf
// NORM-NOT: math.sqrt
// NORM-PTX: sqrt.rn.f32
// NORM-PTX: max.NaN.f32
// NORM-PTX-NOT: .extern .func
// NORM-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// NORM-PTXAS: Used 48 registers
// A LayerNorm prologue (the paper's decode rows): each block first
// normalizes A into dynamic shared memory (a 16-byte chunk copy, then a
// warp a row: sum, sum of squared deviations, rewrite in place), between
// barriers; the products then read A from shared memory.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=2 n=1536 k=1024 bias=true activation=relu norm=layer norm-weight-type=bf16" -o %t.ln.mlir
// RUN: FileCheck %s --check-prefix=LAYER < %t.ln.mlir
// RUN: mbc-opt %t.ln.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.ln.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=LAYER-PTX < %t.ln.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ln.ptx -o %t.ln.cubin 2>&1 | FileCheck %s --check-prefix=LAYER-PTXAS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=16 k=1024 norm=layer" 2>&1 | FileCheck %s --check-prefix=LAYER-WIDE
// LAYER: gpu.func @gemv(%{{.*}}: memref<2x1024xf32>, %{{.*}}: memref<1536x1024xbf16>, %{{.*}}: memref<2x1536xf32>, %{{.*}}: memref<1536xf32>, %{{.*}}: memref<1024xbf16>, %{{.*}}: memref<1024xbf16>) kernel
// LAYER-SAME: {kind = "ptr", name = "norm_weight"}, {kind = "ptr", name = "norm_bias"}], shared_bytes = 8192 : i64}
// LAYER: gpu.dynamic_shared_memory
// LAYER: gpu.barrier
// LAYER: arith.subf
// LAYER: math.sqrt
// LAYER: gpu.barrier
// LAYER: vector.load {{.*}} : memref<2x1024xf32, #gpu.address_space<workgroup>>, vector<8xf32>
// LAYER-PTX: st.shared.v4.b32
// LAYER-PTX: bar.sync 0
// LAYER-PTX: sqrt.rn.f32
// LAYER-PTX: ld.shared.v4.b32
// LAYER-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// LAYER-WIDE: error: a GEMV LayerNorm prologue keeps its m x k = 16 x 1024 normalized rows in shared memory: at most 49152 bytes

// Memory-level parallelism: each loop step, a lane issues the 16-byte
// weight loads of 4 chunks of both of its columns (8 loads) before the
// first FMA, so a warp keeps 4 KiB of weights in flight.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=4096 k=4096" | FileCheck %s --check-prefix=BATCH
// BATCH: scf.for {{.*}} step %c1024
// BATCH-NOT: vector.fma
// BATCH-COUNT-8: vector.load {{.*}} : memref<4096x4096xbf16>, vector<8xbf16>
// BATCH-NOT: memref<4096x4096xbf16>
// BATCH: vector.fma
// BATCH: scf.yield

// 16 rows: 2-lane accumulators (16 x 2 x 2 = 64 floats) keep the same
// number of FMAs; K = 520 ends in a step only lane 0 takes (8 elements).
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=16 n=1536 k=520 norm=rms" -o %t.wide.mlir
// RUN: FileCheck %s --check-prefix=WIDE < %t.wide.mlir
// RUN: mbc-opt %t.wide.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.wide.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.wide.ptx -o %t.wide.cubin 2>&1 | FileCheck %s --check-prefix=WIDE-PTXAS
// WIDE: vector.shuffle {{.*}} [0, 1] : vector<8xf32>, vector<8xf32>
// WIDE: vector.fma {{.*}} : vector<2xf32>
// WIDE: arith.cmpi ult, %{{.*}}, %c8{{.*}} : index
// WIDE-NEXT: scf.if
// WIDE-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// WIDE-PTXAS: Used 183 registers

// A paired GEMV (a decode layer's q and kv of the normalized token): the
// first product's 8 blocks, then the second's 16, chosen per block; w2 and
// c2 are the last parameters.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=128 k=128 paired-n=256 norm=rms_clamp norm-weight-type=bf16" -o %t.pair.mlir
// RUN: FileCheck %s --check-prefix=PAIR < %t.pair.mlir
// RUN: mbc-opt %t.pair.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.pair.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.pair.ptx -o %t.pair.cubin 2>&1 | FileCheck %s --check-prefix=PAIR-PTXAS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="paired-n=64 bias=true" 2>&1 | FileCheck %s --check-prefix=PAIR-BIAS
// PAIR: gpu.func @gemv(%{{.*}}: memref<1x128xf32>, %{{.*}}: memref<128x128xbf16>, %{{.*}}: memref<1x128xf32>, %{{.*}}: memref<128xbf16>, %{{.*}}: memref<256x128xbf16>, %{{.*}}: memref<1x256xf32>) kernel
// PAIR-SAME: grid = array<i64: 24, 1, 1>
// PAIR-SAME: {kind = "ptr", name = "norm_weight"}, {kind = "ptr", name = "w2"}, {kind = "ptr", name = "c2"}
// PAIR: %[[B:.*]] = gpu.block_id x
// PAIR: %[[FIRST:.*]] = arith.cmpi ult, %[[B]], %c8
// PAIR: scf.if %[[FIRST]] {
// PAIR: memref.store {{.*}} : memref<1x128xf32>
// PAIR: } else {
// PAIR: arith.subi %[[B]], %c8
// PAIR: memref.store {{.*}} : memref<1x256xf32>
// PAIR-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// PAIR-PTXAS: Used 40 registers
// PAIR-BIAS: a paired GEMV (paired-n = 64) takes no bias, activation or residual

// f32 weights (an f32 model's decode: read as stored, nothing rounded):
// a lane's 16-byte load holds 4 weights, so a step covers 128 of K and
// the accumulators are 4 lanes wide; K need only be a multiple of 4.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=4 n=1000 k=4100 element-type=f32 bias=true activation=gelu residual=true" -o %t.f32.mlir
// RUN: FileCheck %s --check-prefix=F32 < %t.f32.mlir
// RUN: mbc-opt %t.f32.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.f32.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=F32-PTX < %t.f32.ptx
// RUN: %ptxas -arch=sm_90a -v %t.f32.ptx -o %t.f32.cubin 2>&1 | FileCheck %s --check-prefix=F32-PTXAS
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=1536 k=512 paired-n=3072 element-type=f32 norm=rms_clamp" -o %t.f32p.mlir
// RUN: mbc-opt %t.f32p.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.f32p.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.f32p.ptx -o %t.f32p.cubin 2>&1 | FileCheck %s --check-prefix=F32-PAIRED-PTXAS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="k=102 element-type=f32" 2>&1 | FileCheck %s --check-prefix=F32-K
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="element-type=f64" 2>&1 | FileCheck %s --check-prefix=F64
// F32: gpu.func @gemv(%{{.*}}: memref<4x4100xf32>, %{{.*}}: memref<1000x4100xf32>, %{{.*}}: memref<4x1000xf32>,
// F32: scf.for {{.*}} step %c512
// F32: vector.load {{.*}} : memref<1000x4100xf32>, vector<4xf32>
// F32-NOT: arith.extf
// F32: vector.fma {{.*}} : vector<4xf32>
// F32-PTX: ld.global.v4.b32
// F32-PTX: fma.rn.f32
// F32-PTX-NOT: cvt.f32.bf16
// F32-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// Registers (CUDA 13): 4 rows x 2 columns x 4 partial sums, 8 chunks in
// flight.
// F32-PTXAS: Used 96 registers
// F32-PAIRED-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// F32-K: GEMV needs n >= 1 and k a positive multiple of 4 (16-byte weight loads), got n = 4096, k = 102
// F64: mb-cuda-test-build-gemv: element-type = 'f64' (expected f32, bf16 or f16)

// Three products of one row (the paper's q, k and v of a LayerNorm'd
// token): their blocks one after the other (16 + 16 + 13), W and C of each
// later product after the norm's parameters.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=256 k=512 paired-n=256 third-n=200 norm=layer norm-weight-type=bf16" -o %t.qkv.mlir
// RUN: FileCheck %s --check-prefix=THIRD < %t.qkv.mlir
// RUN: mbc-opt %t.qkv.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.qkv.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.qkv.ptx -o %t.qkv.cubin 2>&1 | FileCheck %s --check-prefix=THIRD-PTXAS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="third-n=5" 2>&1 | FileCheck %s --check-prefix=THIRD-ALONE
// THIRD: gpu.func @gemv({{.*}}, %{{.*}}: memref<200x512xbf16>, %{{.*}}: memref<1x200xf32>) kernel
// THIRD-SAME: mbc.epilogue_outputs = ["c", "c2", "c3"]
// THIRD-SAME: grid = array<i64: 45, 1, 1>
// THIRD-SAME: {kind = "ptr", name = "norm_bias"}, {kind = "ptr", name = "w2"}, {kind = "ptr", name = "c2"}, {kind = "ptr", name = "w3"}, {kind = "ptr", name = "c3"}]
// THIRD-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// THIRD-ALONE: error: a GEMV's third product (third-n = 5) needs a paired one (paired-n > 0)

// A decode attention prologue (the local model's output projection): A is
// the query; each block first attends over the caches' keys
// 0..min(position, 8) into shared memory (a warp per (row, head), online
// softmax with ex2.approx), then multiplies those rows.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=2 n=256 k=128 attention-heads=2 attention-head-dim=64 attention-cache-length=9 attention-cache-rows=3 attention-first-row=1 bias=true residual=true" -o %t.att.mlir
// RUN: FileCheck %s --check-prefix=ATTENTION < %t.att.mlir
// RUN: mbc-opt %t.att.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.att.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=ATTENTION-PTX < %t.att.ptx
// RUN: %ptxas -arch=sm_90a -v %t.att.ptx -o %t.att.cubin 2>&1 | FileCheck %s --check-prefix=ATTENTION-PTXAS
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=256 k=128 attention-heads=2 attention-cache-length=40" 2>&1 | FileCheck %s --check-prefix=ATTENTION-LONG
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemv="m=1 n=256 k=128 attention-heads=2 norm=rms" 2>&1 | FileCheck %s --check-prefix=ATTENTION-NORM
// ATTENTION: gpu.func @gemv(%{{.*}}: memref<2x128xf32>, %{{.*}}: memref<256x128xbf16>, %{{.*}}: memref<2x256xf32>, %{{.*}}: memref<256xf32>, %{{.*}}: memref<2x256xf32>, %{{.*}}: memref<3x9x128xf32>, %{{.*}}: memref<3x9x128xf32>, %{{.*}}: memref<1xi64>) kernel
// ATTENTION-SAME: {kind = "ptr", name = "k_cache"}, {kind = "ptr", name = "v_cache"}, {kind = "ptr", name = "position"}], shared_bytes = 1024 : i64}
// ATTENTION: gpu.dynamic_shared_memory
// ATTENTION: scf.for
// ATTENTION: vector.load {{.*}} : memref<3x9x128xf32>, vector<2xf32>
// ATTENTION: llvm.nvvm.ex2.approx.ftz.f
// ATTENTION: vector.store {{.*}} : memref<2x128xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// ATTENTION: gpu.barrier
// ATTENTION: vector.load {{.*}} : memref<2x128xf32, #gpu.address_space<workgroup>>, vector<8xf32>
// ATTENTION-PTX: shfl.sync.bfly.b32
// ATTENTION-PTX: ex2.approx.ftz.f32
// ATTENTION-PTX: st.shared.v2.b32
// ATTENTION-PTX: bar.sync 0
// ATTENTION-PTXAS: 0 bytes spill stores, 0 bytes spill loads
// ATTENTION-PTXAS: Used 40 registers
// ATTENTION-LONG: error: a GEMV attention prologue reads at most 32 cached positions, got cache-length = 40
// ATTENTION-NORM: error: a GEMV attention prologue takes no norm prologue and no paired product
