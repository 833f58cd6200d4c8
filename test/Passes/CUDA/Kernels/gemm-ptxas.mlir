// ptxas accepts every GEMM configuration below without spills; the
// expectations record registers per thread (ptxas -v of CUDA 13) and the
// dynamic shared memory of each kernel (mbc.launch; ptxas reports only the
// static part, the mbarriers). A change in these figures is a change in the
// generated code: update them on purpose. No sm_90a kernel may draw a
// C75xx remark: setmaxnreg ignored (C7508), or a warpgroup.arrive/wait
// that ptxas inserts or wgmmas it serializes (C7517/C7519/C7520: each
// product's first wgmma starts from zero accumulators, scale-d 0, so no
// instruction writes registers a wgmma reads).
// REQUIRES: ptxas

// W1 is wgmma 128x128x64, 3 stages, bf16, B [N,K] (sm_90a).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024" -o %t.w1.mlir
// RUN: FileCheck %s --check-prefix=W1-LAUNCH < %t.w1.mlir
// RUN: mbc-opt %t.w1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w1.ptx -o %t.w1.cubin 2>&1 | FileCheck %s --check-prefix=W1 --implicit-check-not='(C75'
// W1-LAUNCH: grid = array<i64: 8, 8, 1>
// W1-LAUNCH-SAME: shared_bytes = 99328 : i64
// W1: Compiling entry function 'gemm' for 'sm_90a'
// W1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W1: Used 164 registers, used 1 barriers, 32 bytes smem

// W2 is wgmma 128x128x64, 4 stages, bf16, bias + erf GELU + residual (sm_90a).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 stages=4 bias=true gelu=erf residual=true" -o %t.w2.mlir
// RUN: FileCheck %s --check-prefix=W2-LAUNCH < %t.w2.mlir
// RUN: mbc-opt %t.w2.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w2.ptx -o %t.w2.cubin 2>&1 | FileCheck %s --check-prefix=W2 --implicit-check-not='(C75'
// W2-LAUNCH: grid = array<i64: 8, 8, 1>
// W2-LAUNCH-SAME: shared_bytes = 132096 : i64
// W2: Compiling entry function 'gemm' for 'sm_90a'
// W2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W2: Used 158 registers, used 1 barriers, 32 bytes smem

// W3 is wgmma 64x128x64, 4 stages, f16, B [K,N] (sm_90a).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 tile-m=64 stages=4 element-type=f16 b-layout=kn" -o %t.w3.mlir
// RUN: FileCheck %s --check-prefix=W3-LAUNCH < %t.w3.mlir
// RUN: mbc-opt %t.w3.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w3.ptx -o %t.w3.cubin 2>&1 | FileCheck %s --check-prefix=W3 --implicit-check-not='(C75'
// W3-LAUNCH: grid = array<i64: 8, 16, 1>
// W3-LAUNCH-SAME: shared_bytes = 99328 : i64
// W3: Compiling entry function 'gemm' for 'sm_90a'
// W3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W3: Used 90 registers, used 1 barriers, 32 bytes smem

// W4 is wgmma 64x256x64, 3 stages, bf16 (sm_90a).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 tile-m=64 tile-n=256 stages=3" -o %t.w4.mlir
// RUN: FileCheck %s --check-prefix=W4-LAUNCH < %t.w4.mlir
// RUN: mbc-opt %t.w4.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w4.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w4.ptx -o %t.w4.cubin 2>&1 | FileCheck %s --check-prefix=W4 --implicit-check-not='(C75'
// W4-LAUNCH: grid = array<i64: 4, 16, 1>
// W4-LAUNCH-SAME: shared_bytes = 123904 : i64
// W4: Compiling entry function 'gemm' for 'sm_90a'
// W4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W4: Used 168 registers, used 1 barriers, 32 bytes smem

// W5 is the warp-specialized wgmma 128x256x64, 4 stages, bf16 (sm_90a): a
// producer and two consumer warpgroups (384 threads; ptxas allocates for
// 384, setmaxnreg moves registers to the consumers at run time). Barriers:
// __syncthreads and the consumers' named barrier.
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 tile-n=256 stages=4 consumers=2" -o %t.w5.mlir
// RUN: FileCheck %s --check-prefix=W5-LAUNCH < %t.w5.mlir
// RUN: mbc-opt %t.w5.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w5.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w5.ptx -o %t.w5.cubin 2>&1 | FileCheck %s --check-prefix=W5 --implicit-check-not='(C75'
// W5-LAUNCH: block = array<i64: 384, 1, 1>, grid = array<i64: 4, 8, 1>
// W5-LAUNCH-SAME: shared_bytes = 197632 : i64
// W5: Compiling entry function 'gemm' for 'sm_90a'
// W5: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W5: Used 168 registers, used 2 barriers, 64 bytes smem

// W6 is warp-specialized 256x128x64 (two m64 blocks per consumer), 4
// stages, f16, B [K,N], bias + erf GELU + residual (sm_90a).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 tile-m=256 stages=4 consumers=2 element-type=f16 b-layout=kn bias=true gelu=erf residual=true" -o %t.w6.mlir
// RUN: FileCheck %s --check-prefix=W6-LAUNCH < %t.w6.mlir
// RUN: mbc-opt %t.w6.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w6.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w6.ptx -o %t.w6.cubin 2>&1 | FileCheck %s --check-prefix=W6 --implicit-check-not='(C75'
// W6-LAUNCH: block = array<i64: 384, 1, 1>, grid = array<i64: 8, 4, 1>
// W6-LAUNCH-SAME: shared_bytes = 197632 : i64
// W6: Compiling entry function 'gemm' for 'sm_90a'
// W6: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W6: Used 168 registers, used 2 barriers, 64 bytes smem

// W7 is W5's warp-specialized kernel made persistent (128x128 tiles, 4
// stages of 32 KiB and its own 64 KiB epilogue tile: 1 KiB alignment): at
// most 132 CTAs walk the 8 x 32 tiles. The per-consumer named barrier's id
// is a register, so ptxas reserves all 16 barriers.
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=4096 n=1024 k=1024 stages=4 consumers=2 persistent=132 bias=true gelu=erf" -o %t.w7.mlir
// RUN: FileCheck %s --check-prefix=W7-LAUNCH < %t.w7.mlir
// RUN: mbc-opt %t.w7.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w7.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w7.ptx -o %t.w7.cubin 2>&1 | FileCheck %s --check-prefix=W7 --implicit-check-not='(C75'
// W7-LAUNCH: block = array<i64: 384, 1, 1>, grid = array<i64: 132, 1, 1>
// W7-LAUNCH-SAME: shared_bytes = 197632 : i64
// W7: Compiling entry function 'gemm' for 'sm_90a'
// W7: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W7: Used 168 registers, used 16 barriers, 64 bytes smem

// S1 is mma_sync 128x128x32, 3 stages, bf16, B [N,K] (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 mma=mma_sync tile-k=32" -o %t.s1.mlir
// RUN: FileCheck %s --check-prefix=S1-LAUNCH < %t.s1.mlir
// RUN: mbc-opt %t.s1.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.s1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.s1.ptx -o %t.s1.cubin 2>&1 | FileCheck %s --check-prefix=S1
// S1-LAUNCH: grid = array<i64: 8, 8, 1>
// S1-LAUNCH-SAME: shared_bytes = 61440 : i64
// S1: Compiling entry function 'gemm' for 'sm_80'
// S1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// S1: Used 223 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// S2 is mma_sync 64x64x32, 4 stages, bf16, bias + tanh GELU (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 stages=4 bias=true gelu=tanh" -o %t.s2.mlir
// RUN: FileCheck %s --check-prefix=S2-LAUNCH < %t.s2.mlir
// RUN: mbc-opt %t.s2.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.s2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.s2.ptx -o %t.s2.cubin 2>&1 | FileCheck %s --check-prefix=S2
// S2-LAUNCH: grid = array<i64: 16, 16, 1>
// S2-LAUNCH-SAME: shared_bytes = 40960 : i64
// S2: Compiling entry function 'gemm' for 'sm_80'
// S2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// S2: Used 80 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// S3 is mma_sync 128x64x32, 3 stages, f16, B [K,N], residual (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 mma=mma_sync tile-m=128 tile-n=64 tile-k=32 element-type=f16 b-layout=kn residual=true" -o %t.s3.mlir
// RUN: FileCheck %s --check-prefix=S3-LAUNCH < %t.s3.mlir
// RUN: mbc-opt %t.s3.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.s3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.s3.ptx -o %t.s3.cubin 2>&1 | FileCheck %s --check-prefix=S3
// S3-LAUNCH: grid = array<i64: 16, 8, 1>
// S3-LAUNCH-SAME: shared_bytes = 44544 : i64
// S3: Compiling entry function 'gemm' for 'sm_80'
// S3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// S3: Used 138 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// S4 is mma_sync 128x128x64, 3 stages, bf16 (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 mma=mma_sync tile-m=128 tile-n=128 tile-k=64 stages=3" -o %t.s4.mlir
// RUN: FileCheck %s --check-prefix=S4-LAUNCH < %t.s4.mlir
// RUN: mbc-opt %t.s4.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.s4.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.s4.ptx -o %t.s4.cubin 2>&1 | FileCheck %s --check-prefix=S4
// S4-LAUNCH: grid = array<i64: 8, 8, 1>
// S4-LAUNCH-SAME: shared_bytes = 110592 : i64
// S4: Compiling entry function 'gemm' for 'sm_80'
// S4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// S4: Used 240 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// The B kernels: the bias stored as bf16 (the pipeline's 16-bit biases), read as
// stored and widened in the epilogue: 16-bit bias loads, no spills.
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=4096 n=4096 k=1024 bias=true bias-type=bf16 gelu=erf" -o %t.b1.mlir
// RUN: FileCheck %s --check-prefix=B-PARAMS < %t.b1.mlir
// RUN: mbc-opt %t.b1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.b1.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=B1-PTX < %t.b1.ptx
// RUN: %ptxas -arch=sm_90a -v %t.b1.ptx -o %t.b1.cubin 2>&1 | FileCheck %s --check-prefix=B1 --implicit-check-not='(C75'
// B-PARAMS: gpu.func @gemm({{.*}}, %{{.*}}: memref<4096xbf16>)
// B1-PTX: ld.global.v4.b16
// B1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// B1: Used 167 registers, used 1 barriers, 32 bytes smem
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 stages=4 bias=true bias-type=bf16 gelu=tanh" -o %t.b2.mlir
// RUN: mbc-opt %t.b2.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.b2.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=B2-PTX < %t.b2.ptx
// RUN: %ptxas -arch=sm_80 -v %t.b2.ptx -o %t.b2.cubin 2>&1 | FileCheck %s --check-prefix=B2
// B2-PTX: ld.global.v2.b16
// B2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// B2: Used 80 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// Norm prologues (A = norm(shift(x)) normalized by each CTA into shared
// memory, kept for every K block; only B streams). First, wgmma 64x128
// with MEGABYTE-pytorch's RMSNorm and token shift: the B loads only (4 TMA
// copies, 3 stages before the loop and 1 in it) and the proxy fence before
// the wgmmas read the rows. Then the warp-specialized 128x256 kernel with
// LayerNorm, bias and GELU (the resident 128 x 512 rows leave room for 3 B
// stages); mma.sync with a bf16 norm weight (B's 2 copies a stage only);
// a paired 128-row GEMM (a global attention layer's q and kv).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=768 k=256 tile-m=64 norm=rms_clamp norm-token-shift=true norm-positions=128" -o %t.n1.mlir
// RUN: FileCheck %s --check-prefix=N1-LAUNCH < %t.n1.mlir
// RUN: mbc-opt %t.n1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.n1.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=N1-PTX < %t.n1.ptx
// RUN: %ptxas -arch=sm_90a -v %t.n1.ptx -o %t.n1.cubin 2>&1 | FileCheck %s --check-prefix=N1 --implicit-check-not='(C75'
// N1-LAUNCH: grid = array<i64: 6, 16, 1>
// N1-LAUNCH-SAME: params = [{kind = "ptr", name = "x"}, {kind = "tensor_map", name = "b"
// N1-LAUNCH-SAME: {kind = "ptr", name = "c"}, {kind = "ptr", name = "norm_weight"}]
// N1-LAUNCH-SAME: shared_bytes = 82944 : i64
// N1-PTX-COUNT-3: cp.async.bulk.tensor
// N1-PTX-NOT: cp.async.bulk.tensor
// N1-PTX: fence.proxy.async.shared::cta;
// N1-PTX: wgmma.mma_async
// N1-PTX: cp.async.bulk.tensor
// N1-PTX-NOT: cp.async.bulk.tensor
// N1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N1: Used 94 registers, used 1 barriers, 32 bytes smem
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=4096 n=4096 k=512 consumers=2 tile-n=256 stages=3 norm=layer bias=true gelu=erf" -o %t.n2.mlir
// RUN: FileCheck %s --check-prefix=N2-LAUNCH < %t.n2.mlir
// RUN: mbc-opt %t.n2.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.n2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.n2.ptx -o %t.n2.cubin 2>&1 | FileCheck %s --check-prefix=N2 --implicit-check-not='(C75'
// N2-LAUNCH: grid = array<i64: 16, 32, 1>
// N2-LAUNCH-SAME: {kind = "ptr", name = "norm_weight"}, {kind = "ptr", name = "norm_bias"}]
// N2-LAUNCH-SAME: shared_bytes = 230400 : i64
// N2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N2: Used 168 registers, used 16 barriers, 48 bytes smem
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=512 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 norm=rms norm-weight-type=bf16" -o %t.n3.mlir
// RUN: mbc-opt %t.n3.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.n3.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=N3-PTX < %t.n3.ptx
// RUN: %ptxas -arch=sm_80 -v %t.n3.ptx -o %t.n3.cubin 2>&1 | FileCheck %s --check-prefix=N3
// N3-PTX-COUNT-6: cp.async.cg.shared.global
// N3-PTX-NOT: cp.async.cg.shared.global
// N3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N3: Used 64 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=256 paired-n=512 norm=rms" -o %t.n4.mlir
// RUN: mbc-opt %t.n4.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.n4.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.n4.ptx -o %t.n4.cubin 2>&1 | FileCheck %s --check-prefix=N4 --implicit-check-not='(C75'
// N4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// N4: Used 163 registers, used 1 barriers, 48 bytes smem
// G1 is the example's patch projection with its gathering LayerNorm
// prologue (mb-cuda-fuse-gemm-norms' gather-rows): the bytes and the bf16
// byte table in place of x (B's tensor map the third parameter); each
// pair of a row is read from the table row of its byte (the byte clamped
// to the table).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=256 k=1024 bias=true bias-type=bf16 tile-m=64 tile-n=128 stages=3 norm=layer norm-epsilon=1e-5 norm-weight-type=bf16 norm-gather-vocabulary=256 norm-gather-slots=8" -o %t.g1.mlir
// RUN: FileCheck %s --check-prefix=G1-LAUNCH < %t.g1.mlir
// RUN: mbc-opt %t.g1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.g1.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=G1-PTX < %t.g1.ptx
// RUN: %ptxas -arch=sm_90a -v %t.g1.ptx -o %t.g1.cubin 2>&1 | FileCheck %s --check-prefix=G1 --implicit-check-not='(C75'
// G1-LAUNCH: memref<128x8xi32>, %{{.*}}: memref<256x128xbf16>
// G1-LAUNCH: params = [{kind = "ptr", name = "ids"}, {kind = "ptr", name = "embedding"}, {kind = "tensor_map", name = "b"
// G1-LAUNCH-SAME: shared_bytes = 181248 : i64
// G1-PTX: ld.global.b32 [[ID:%r[0-9]+]]
// G1-PTX-NEXT: min.u32 %r{{[0-9]+}}, [[ID]], 255;
// G1-PTX: ld.global.v2.b16
// G1-PTX: fence.proxy.async.shared::cta;
// G1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// G1: Used 127 registers, used 1 barriers

// G2 is the example's patch projection as the pipeline now builds it: the
// gathering LayerNorm prologue and a LayerNorm epilogue that writes the
// global input (64 x 256 tiles: whole rows; the start row of each sequence
// before its rows), 3 B stages beside the resident A.
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=256 k=1024 bias=true bias-type=bf16 tile-m=64 tile-n=256 stages=3 norm=layer norm-epsilon=1e-5 norm-weight-type=bf16 norm-gather-vocabulary=256 norm-gather-slots=8 out-norm=layer out-norm-start-type=bf16" -o %t.g2.mlir
// RUN: FileCheck %s --check-prefix=G2-LAUNCH < %t.g2.mlir
// RUN: mbc-opt %t.g2.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.g2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.g2.ptx -o %t.g2.cubin 2>&1 | FileCheck %s --check-prefix=G2 --implicit-check-not='(C75'
// G2-LAUNCH: memref<129x256xf32>
// G2-LAUNCH: {kind = "ptr", name = "c"}, {kind = "ptr", name = "bias"}, {kind = "ptr", name = "norm_weight"}, {kind = "ptr", name = "norm_bias"}, {kind = "ptr", name = "out_norm_weight"}, {kind = "ptr", name = "out_norm_bias"}, {kind = "ptr", name = "start"}]
// G2-LAUNCH-SAME: shared_bytes = 230400 : i64
// G2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// G2: Used 168 registers, used 1 barriers

// The head with its log-softmax epilogue (64 x 256 tiles: whole rows of a
// byte vocabulary), rows stored in mb.merge_patches <start_token> order,
// its final norm as the prologue (a lucidrains local stage of D 512).
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=9216 n=256 k=512 tile-m=64 tile-n=256 bias=true bias-type=bf16 log-softmax=true merge-positions=8 merge-sequences=1024 norm=rms_clamp norm-token-shift=true norm-positions=9" -o %t.h1.mlir
// RUN: FileCheck %s --check-prefix=H1-LAUNCH < %t.h1.mlir
// RUN: mbc-opt %t.h1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.h1.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=H1-PTX < %t.h1.ptx
// RUN: %ptxas -arch=sm_90a -v %t.h1.ptx -o %t.h1.cubin 2>&1 | FileCheck %s --check-prefix=H1 --implicit-check-not='(C75'
// H1-LAUNCH: grid = array<i64: 1, 144, 1>
// H1-LAUNCH-SAME: shared_bytes = 164864 : i64
// H1-PTX: wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16
// H1-PTX: shfl.sync.bfly
// H1-PTX: ex2.approx
// H1-PTX: lg2.approx
// H1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// H1: Used 168 registers, used 1 barriers, 32 bytes smem

module {}
