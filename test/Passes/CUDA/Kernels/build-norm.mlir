// The token-shift + norm + rounding kernel: one warp a row (4 per CTA),
// parameters x, weight, [bias], out; unsupported specs are errors naming
// the option. ptxas accepts it without spills (registers per thread, CUDA
// 13: 32 for D 256 with the shift, 117 for LayerNorm over D 1024, the dual
// patch norm's width).

// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm | FileCheck %s
// CHECK-LABEL: gpu.func @norm
// CHECK-SAME: (%{{.*}}: memref<129x256xf32>, %{{.*}}: memref<256xf32>, %{{.*}}: memref<129x256xbf16>) kernel
// CHECK-SAME: mbc.launch = {block = array<i64: 128, 1, 1>, grid = array<i64: 33, 1, 1>, params = [{kind = "ptr", name = "x"}, {kind = "ptr", name = "weight"}, {kind = "ptr", name = "out"}], shared_bytes = 0 : i64}
// CHECK: gpu.shuffle xor
// CHECK: math.sqrt
// CHECK: arith.maximumf
// CHECK: arith.truncf {{.*}} : vector<2xf32> to vector<2xbf16>

// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="norm=layer epsilon=1e-5 token-shift=false dim=1024 rows=128 positions=128" | FileCheck %s --check-prefix=LAYER
// LAYER: params = [{kind = "ptr", name = "x"}, {kind = "ptr", name = "weight"}, {kind = "ptr", name = "bias"}, {kind = "ptr", name = "out"}]

// With start rows (mb.start_token's result: 2 sequences of 64 rows, 130
// rows out) the start row comes before out; the warp of a sequence's first
// row also stores the start row, one row before its own.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="norm=layer epsilon=1e-5 token-shift=false rows=128 positions=64 element-type=f32 weight-type=bf16 start-type=bf16" | FileCheck %s --check-prefix=START
// START: gpu.func @norm(%{{.*}}: memref<128x256xf32>, %{{.*}}: memref<256xbf16>, %{{.*}}: memref<256xbf16>, %[[START:.*]]: memref<256xbf16>, %[[OUT:.*]]: memref<130x256xf32>)
// START-SAME: params = [{kind = "ptr", name = "x"}, {kind = "ptr", name = "weight"}, {kind = "ptr", name = "bias"}, {kind = "ptr", name = "start"}, {kind = "ptr", name = "out"}]
// START: %[[SEQ:.*]] = arith.divui %{{.*}}, %c64
// START: %[[SUM:.*]] = arith.addi %{{.*}}, %[[SEQ]]
// START: %[[ROW:.*]] = arith.addi %[[SUM]], %c1
// START: scf.if
// START: %[[PREV:.*]] = arith.subi %[[ROW]], %c1
// START: vector.load %[[START]]
// START: vector.store %{{.*}}, %[[OUT]][%[[PREV]],
// START: vector.store %{{.*}}, %[[OUT]][%[[ROW]],
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="start-type=i8" 2>&1 | FileCheck %s --check-prefix=START-TYPE
// START-TYPE: error: mb-cuda-test-build-norm: start-type = 'i8' (expected f32, bf16 or f16)

// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="dim=96" 2>&1 | FileCheck %s --check-prefix=DIM
// DIM: error: dim = 96 is not supported (a positive multiple of 64)
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="rows=130 positions=129" 2>&1 | FileCheck %s --check-prefix=ROWS
// ROWS: error: norm rows = 130 must be a positive multiple of positions = 129
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="element-type=f64" 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: mb-cuda-test-build-norm: element-type = 'f64' (expected bf16, f16 or f32)
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-norm="dim=4096" 2>&1 | FileCheck %s --check-prefix=WIDE
// WIDE: error: dim = 4096 is not supported (at most 2048: a lane keeps its row's pairs in registers)
