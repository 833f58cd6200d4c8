// The head's log-softmax kernel: one warp a row, the row in registers,
// exponentials and the logarithm on the approximate SFU instructions, the
// statistics from xor shuffles; ptxas accepts it without spills, stack or
// libdevice calls.
// REQUIRES: ptxas
// The scoring shape: 65,536 rows of a 256-byte vocabulary.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-log-softmax="rows=65536 columns=256" -o %t.l1.mlir
// RUN: FileCheck %s --check-prefix=L1-IR < %t.l1.mlir
// RUN: mbc-opt %t.l1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.l1.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.l1.ptx
// RUN: %ptxas -arch=sm_90a -v %t.l1.ptx -o %t.l1.cubin 2>&1 | FileCheck %s --check-prefix=L1
// L1-IR: gpu.func @log_softmax(%{{.*}}: memref<65536x256xf32>, %{{.*}}: memref<65536x256xf32>) kernel attributes {known_block_size = array<i32: 128, 1, 1>, mbc.launch = {block = array<i64: 128, 1, 1>, grid = array<i64: 16384, 1, 1>, params = [{kind = "ptr", name = "x"}, {kind = "ptr", name = "out"}], shared_bytes = 0 : i64}}
// PTX-NOT: .extern .func
// PTX-COUNT-8: ex2.approx.ftz.f32
// PTX: shfl.sync.bfly
// PTX: lg2.approx.f32
// PTX-COUNT-8: st.global.b32
// L1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L1: Used 26 registers
// A vocabulary that is not a multiple of 32 (259): the last step's lanes
// past the end read the last column as -inf and store nothing.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-log-softmax="rows=3 columns=259" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l2.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PARTIAL < %t.l2.ptx
// RUN: %ptxas -arch=sm_80 -v %t.l2.ptx -o %t.l2.cubin 2>&1 | FileCheck %s --check-prefix=L2
// PARTIAL-DAG: setp.lt.u64 {{.*}}, 259;
// PARTIAL-DAG: min.u64 {{.*}}, 258;
// L2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// L2: Used 31 registers
// The widest vocabulary a warp holds (2048 columns, 64 a lane).
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-log-softmax="rows=1 columns=2048" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.l3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.l3.ptx -o %t.l3.cubin 2>&1 | FileCheck %s --check-prefix=L3
// L3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// What it does not support is an error naming the field.
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-log-softmax="rows=1 columns=2049" 2>&1 | FileCheck %s --check-prefix=WIDE
// WIDE: error: log-softmax columns = 2049 is not supported (1 to 2048
// RUN: not mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-log-softmax="rows=0 columns=256" 2>&1 | FileCheck %s --check-prefix=ROWS
// ROWS: error: log-softmax rows = 0 must be positive
