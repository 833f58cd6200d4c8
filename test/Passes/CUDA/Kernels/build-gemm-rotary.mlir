// The rotary epilogue (wgmma GEMMs): C's first rotary-columns columns are
// rotated before the store (NeoX rotate-half: column i < dh / 2 of a head
// with i + dh / 2). The thread of a quad in a head's first half reads its
// partner quad dh / 2 columns on from the epilogue's shared f32 tile,
// computes cos and sin of position x inv_freq (position = row % positions;
// inv_freq through ex2.approx, sin/cos polynomials: no libdevice call)
// and stores both rotated quads; columns past rotary-columns are stored
// as they are. A paired GEMM (q and kv) rotates the first rotary-columns
// of both products.

// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=4096 n=512 k=512 paired-n=1024 rotary-columns=512 rotary-head-dim=64 rotary-positions=1024" | FileCheck %s --check-prefix=IR
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=4096 n=512 k=512 paired-n=1024 rotary-columns=512 rotary-head-dim=64 rotary-positions=1024" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=__nv_ < %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not='(C75'
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=1000 n=1024 k=512 tile-n=256 stages=4 consumers=2 rotary-columns=512 rotary-head-dim=128 rotary-positions=1000" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.ws.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.ws.ptx -o %t.ws.cubin 2>&1 | FileCheck %s --check-prefix=WS --implicit-check-not='(C75'

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=128 k=64 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 rotary-columns=128" 2>&1 | FileCheck %s --check-prefix=MMA-SYNC
// MMA-SYNC: error: a rotary epilogue needs mma = wgmma (its epilogue tile holds both halves of a head)
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=128 k=64 bias=true rotary-columns=128" 2>&1 | FileCheck %s --check-prefix=BIAS
// BIAS: error: a rotary epilogue takes no bias, activation or residual
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=192 k=64 rotary-columns=96 rotary-head-dim=96" 2>&1 | FileCheck %s --check-prefix=HEAD-DIM
// HEAD-DIM: error: rotary-head-dim = 96 must be a multiple of 8 dividing tile-n = 128 and rotary-columns = 96
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=128 k=64 rotary-columns=256" 2>&1 | FileCheck %s --check-prefix=COLUMNS
// COLUMNS: error: rotary-columns = 256 exceeds N
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=128 k=64 rotary-columns=128 rotary-positions=100" 2>&1 | FileCheck %s --check-prefix=POSITIONS
// POSITIONS: error: rotary-positions = 100 must divide M = 128 and rotary-theta must be positive

module {}

// IR-LABEL: gpu.func @gemm(
// The quad and, in a head's first half, its partner from the f32 tile.
// Both at their swizzled columns (the tile's 32-byte chunks XOR row % 4),
// in the copy loop after the fragment stores.
// IR: vector.store {{.*}}, vector<2xf32>
// IR: scf.for
// IR: %[[SCOL:.*]] = arith.xori %[[COL:.*]], %{{.*}} : index
// IR: %[[QUAD:.*]] = vector.load %[[TILE:.*]][%[[ROW:.*]], %[[SCOL]]] {alignment = 16 : i64} : memref<128x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// IR: scf.if
// IR: %[[PARTNER_COL:.*]] = arith.addi %[[COL]], %c32
// IR: %[[SPARTNER:.*]] = arith.xori %[[PARTNER_COL]], %{{.*}} : index
// IR: %[[PARTNER:.*]] = vector.load %[[TILE]][%[[ROW]], %[[SPARTNER]]]
// IR: arith.remui %{{.*}}, %c1024
// IR: math.cos
// IR: math.sin
// x1 cos - x2 sin, x2 cos + x1 sin (y1 stored at the quad's column, y2
// at the partner's).
// IR: %[[COS:.*]] = vector.from_elements
// IR: %[[SIN:.*]] = vector.from_elements
// IR-DAG: %[[X2SIN:.*]] = arith.mulf %[[PARTNER]], %[[SIN]] : vector<4xf32>
// IR-DAG: %[[X1COS:.*]] = arith.mulf %[[QUAD]], %[[COS]] : vector<4xf32>
// IR: %[[Y1:.*]] = arith.subf %[[X1COS]], %[[X2SIN]] : vector<4xf32>
// IR-DAG: %[[X1SIN:.*]] = arith.mulf %[[QUAD]], %[[SIN]] : vector<4xf32>
// IR-DAG: %[[X2COS:.*]] = arith.mulf %[[PARTNER]], %[[COS]] : vector<4xf32>
// IR: %[[Y2:.*]] = arith.addf %[[X2COS]], %[[X1SIN]] : vector<4xf32>
// IR: vector.store %[[Y1]]
// IR: vector.store %[[Y2]]

// PTX: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// PTX: ex2.approx.ftz.f32
// PTX: cvt.rmi.f32.f32
// PTX: st.global.v4.b32
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS: Used 162 registers, used 1 barriers, 48 bytes smem
// WS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// WS: Used 168 registers, used 2 barriers, 64 bytes smem
