// RUN: mbc-opt %s --split-input-file --mb-cuda-fuse-epilogues | FileCheck %s

// A decode layer after its output projection: the residual add, the token
// shift (half the features from the state) and the state update run in the
// thread that stored each element of C, right after that store. Both
// launches get one kernel (the same epilogue; the state rows are passed at
// their offsets), and the kernel without an epilogue is erased.

#id = affine_map<(d0, d1) -> (d0, d1)>
module attributes {gpu.container_module} {
  gpu.module @mbc_kernels {
    gpu.func @k(%a: memref<1x8xf32>, %c: memref<1x8xf32>) kernel attributes {mbc.epilogue_outputs = ["c"]} {
      %t = gpu.thread_id x
      %c0 = arith.constant 0 : index
      %v = memref.load %a[%c0, %t] : memref<1x8xf32>
      %w = arith.mulf %v, %v : f32
      memref.store %w, %c[%c0, %t] : memref<1x8xf32>
      gpu.return
    }
  }
  func.func @step(%a: memref<1x8xf32>, %x: memref<1x8xf32>, %state: memref<2x8xf32>, %shifted: memref<1x8xf32>, %shifted2: memref<1x8xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c = memref.alloc() : memref<1x8xf32>
    gpu.launch_func @mbc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%a : memref<1x8xf32>, %c : memref<1x8xf32>) {mbc.launch = {block = array<i64: 8, 1, 1>, grid = array<i64: 1, 1, 1>, params = [{kind = "ptr", name = "a"}, {kind = "ptr", name = "c"}], shared_bytes = 0 : i64}}
    %sum = memref.alloc() : memref<1x8xf32>
    linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%c, %x : memref<1x8xf32>, memref<1x8xf32>) outs(%sum : memref<1x8xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %0 = arith.addf %in, %in_0 : f32
      linalg.yield %0 : f32
    }
    %row = memref.subview %state[0, 0] [1, 8] [1, 1] : memref<2x8xf32> to memref<1x8xf32, strided<[8, 1]>>
    linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%sum, %row : memref<1x8xf32>, memref<1x8xf32, strided<[8, 1]>>) outs(%shifted : memref<1x8xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %i = linalg.index 1 : index
      %low = arith.cmpi ult, %i, %c4 : index
      %0 = arith.select %low, %in, %in_0 : f32
      linalg.yield %0 : f32
    }
    linalg.copy ins(%sum : memref<1x8xf32>) outs(%row : memref<1x8xf32, strided<[8, 1]>>)
    %c_2 = memref.alloc() : memref<1x8xf32>
    gpu.launch_func @mbc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%shifted : memref<1x8xf32>, %c_2 : memref<1x8xf32>) {mbc.launch = {block = array<i64: 8, 1, 1>, grid = array<i64: 1, 1, 1>, params = [{kind = "ptr", name = "a"}, {kind = "ptr", name = "c"}], shared_bytes = 0 : i64}}
    %sum_2 = memref.alloc() : memref<1x8xf32>
    linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%c_2, %sum : memref<1x8xf32>, memref<1x8xf32>) outs(%sum_2 : memref<1x8xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %0 = arith.addf %in, %in_0 : f32
      linalg.yield %0 : f32
    }
    %row_2 = memref.subview %state[1, 0] [1, 8] [1, 1] : memref<2x8xf32> to memref<1x8xf32, strided<[8, 1], offset: 8>>
    linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%sum_2, %row_2 : memref<1x8xf32>, memref<1x8xf32, strided<[8, 1], offset: 8>>) outs(%shifted2 : memref<1x8xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %i = linalg.index 1 : index
      %low = arith.cmpi ult, %i, %c4 : index
      %0 = arith.select %low, %in, %in_0 : f32
      linalg.yield %0 : f32
    }
    linalg.copy ins(%sum_2 : memref<1x8xf32>) outs(%row_2 : memref<1x8xf32, strided<[8, 1], offset: 8>>)
    return
  }
}

// CHECK-LABEL: gpu.module @mbc_kernels
// CHECK-NOT:   gpu.func @k(
// CHECK:       gpu.func @k_epilogue(%[[A:.*]]: memref<1x8xf32>, %[[C:.*]]: memref<1x8xf32>, %[[ROW:.*]]: memref<1x8xf32>, %[[SUM:.*]]: memref<1x8xf32>, %[[SHIFTED:.*]]: memref<1x8xf32>, %[[X:.*]]: memref<1x8xf32>)
// CHECK-SAME:    name = "epilogue_3"
// CHECK:         memref.store %[[W:.*]], %[[C]][%[[I0:.*]], %[[I1:.*]]]
// CHECK:         scf.if
// CHECK:           %[[XV:.*]] = memref.load %[[X]]
// CHECK:           %[[S:.*]] = arith.addf %[[W]], %[[XV]]
// CHECK:           memref.store %[[S]], %[[SUM]]
// CHECK:         scf.if
// CHECK:           memref.load %[[SUM]]
// CHECK:           memref.load %[[ROW]]
// CHECK:           arith.select
// CHECK:           memref.store {{.*}}, %[[SHIFTED]]
// CHECK:         scf.if
// CHECK:           %[[NEW:.*]] = memref.load %[[SUM]]
// CHECK:           memref.store %[[NEW]], %[[ROW]]
// CHECK:         gpu.return
// CHECK-NOT:   gpu.func
// CHECK-LABEL: func.func @step
// CHECK:       %[[ROW0:.*]] = memref.subview %{{.*}}[0, 0] [1, 8] [1, 1]
// CHECK:       %[[CAST0:.*]] = builtin.unrealized_conversion_cast %[[ROW0]] : memref<1x8xf32, strided<[8, 1]>> to memref<1x8xf32>
// CHECK:       gpu.launch_func @mbc_kernels::@k_epilogue {{.*}} args({{.*}}, %[[CAST0]] : memref<1x8xf32>, %{{.*}} : memref<1x8xf32>)
// CHECK-SAME:    name = "epilogue_3"
// CHECK:       %[[ROW1:.*]] = memref.subview %{{.*}}[1, 0] [1, 8] [1, 1]
// CHECK:       builtin.unrealized_conversion_cast %[[ROW1]]
// CHECK:       gpu.launch_func @mbc_kernels::@k_epilogue
// CHECK-NOT:   linalg.
// CHECK:       return

// -----

// A paired projection's second output [1, 16] holds a key and a value row:
// the copies of its halves into the caches at the decode position run
// where their elements are stored (the view of each half picks the
// elements it holds); the position is loaded in the kernel.

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
module attributes {gpu.container_module} {
  gpu.module @mbc_kernels {
    gpu.func @kv(%a: memref<1x16xf32>, %c: memref<1x16xf32>) kernel attributes {mbc.epilogue_outputs = ["c"]} {
      %t = gpu.thread_id x
      %c0 = arith.constant 0 : index
      %v = memref.load %a[%c0, %t] : memref<1x16xf32>
      memref.store %v, %c[%c0, %t] : memref<1x16xf32>
      gpu.return
    }
  }
  func.func @step(%a: memref<1x16xf32>, %position: memref<1xi64>, %k_cache: memref<2x4x8xf32>, %v_cache: memref<2x4x8xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    %p = memref.load %position[%c0] : memref<1xi64>
    %pos = arith.index_cast %p : i64 to index
    %kv = memref.alloc() : memref<1x16xf32>
    gpu.launch_func @mbc_kernels::@kv blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%a : memref<1x16xf32>, %kv : memref<1x16xf32>) {mbc.launch = {block = array<i64: 16, 1, 1>, grid = array<i64: 1, 1, 1>, params = [{kind = "ptr", name = "a"}, {kind = "ptr", name = "c"}], shared_bytes = 0 : i64}}
    %k = memref.subview %kv[0, 0] [1, 8] [1, 1] : memref<1x16xf32> to memref<1x8xf32, strided<[16, 1]>>
    %v = memref.subview %kv[0, 8] [1, 8] [1, 1] : memref<1x16xf32> to memref<1x8xf32, strided<[16, 1], offset: 8>>
    %k3 = memref.expand_shape %k [[0], [1, 2]] output_shape [1, 1, 8] : memref<1x8xf32, strided<[16, 1]>> into memref<1x1x8xf32, strided<[16, 8, 1]>>
    %v3 = memref.expand_shape %v [[0], [1, 2]] output_shape [1, 1, 8] : memref<1x8xf32, strided<[16, 1], offset: 8>> into memref<1x1x8xf32, strided<[16, 8, 1], offset: 8>>
    %k_layer = memref.subview %k_cache[1, 0, 0] [1, 4, 8] [1, 1, 1] : memref<2x4x8xf32> to memref<1x4x8xf32, strided<[32, 8, 1], offset: 32>>
    %v_layer = memref.subview %v_cache[1, 0, 0] [1, 4, 8] [1, 1, 1] : memref<2x4x8xf32> to memref<1x4x8xf32, strided<[32, 8, 1], offset: 32>>
    %k_row = memref.subview %k_layer[0, %pos, 0] [1, 1, 8] [1, 1, 1] : memref<1x4x8xf32, strided<[32, 8, 1], offset: 32>> to memref<1x1x8xf32, strided<[32, 8, 1], offset: ?>>
    %v_row = memref.subview %v_layer[0, %pos, 0] [1, 1, 8] [1, 1, 1] : memref<1x4x8xf32, strided<[32, 8, 1], offset: 32>> to memref<1x1x8xf32, strided<[32, 8, 1], offset: ?>>
    linalg.copy ins(%k3 : memref<1x1x8xf32, strided<[16, 8, 1]>>) outs(%k_row : memref<1x1x8xf32, strided<[32, 8, 1], offset: ?>>)
    linalg.copy ins(%v3 : memref<1x1x8xf32, strided<[16, 8, 1], offset: 8>>) outs(%v_row : memref<1x1x8xf32, strided<[32, 8, 1], offset: ?>>)
    return
  }
}

// CHECK-LABEL: gpu.func @kv_epilogue
// CHECK-SAME:    (%{{.*}}: memref<1x16xf32>, %[[C:.*]]: memref<1x16xf32>, %[[POSITION:.*]]: memref<1xi64>, %[[VL:.*]]: memref<1x4x8xf32>, %[[KL:.*]]: memref<1x4x8xf32>)
// CHECK-DAG:     %[[P:.*]] = memref.load %[[POSITION]]
// CHECK-DAG:     %[[POS:.*]] = arith.index_cast %[[P]]
// CHECK-DAG:     %[[KROW:.*]] = memref.subview %[[KL]][0, %[[POS]], 0] [1, 1, 8]
// CHECK-DAG:     %[[VROW:.*]] = memref.subview %[[VL]][0, %[[POS]], 0] [1, 1, 8]
// CHECK:         memref.store %[[VALUE:.*]], %[[C]][%{{.*}}, %{{.*}}]
// The key half holds elements 0..7 of C, the value half 8..15.
// CHECK:         %[[KI:.*]] = arith.divsi
// CHECK:         arith.cmpi slt, %[[KI]], %c8
// CHECK:         scf.if
// CHECK-NEXT:      memref.store %[[VALUE]], %[[KROW]][%{{.*}}, %{{.*}}, %[[KI]]]
// CHECK:         arith.subi %{{.*}}, %c8
// CHECK:         %[[VI:.*]] = arith.divsi
// CHECK:         scf.if
// CHECK-NEXT:      memref.store %[[VALUE]], %[[VROW]][%{{.*}}, %{{.*}}, %[[VI]]]
// CHECK-LABEL: func.func @step
// CHECK:       gpu.launch_func @mbc_kernels::@kv_epilogue
// CHECK-NOT:   linalg.copy

// -----

// What stays a launch of its own: an op reading C at another element (a
// reversal), and everything after it (the run stops); an op writing a
// buffer the kernel reads.

#id = affine_map<(d0, d1) -> (d0, d1)>
#rev = affine_map<(d0, d1) -> (d0, 7 - d1)>
module attributes {gpu.container_module} {
  gpu.module @mbc_kernels {
    gpu.func @k(%a: memref<1x8xf32>, %c: memref<1x8xf32>) kernel attributes {mbc.epilogue_outputs = ["c"]} {
      %t = gpu.thread_id x
      %c0 = arith.constant 0 : index
      %v = memref.load %a[%c0, %t] : memref<1x8xf32>
      memref.store %v, %c[%c0, %t] : memref<1x8xf32>
      gpu.return
    }
  }
  func.func @reversed(%a: memref<1x8xf32>, %out: memref<1x8xf32>, %out2: memref<1x8xf32>) {
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %c = memref.alloc() : memref<1x8xf32>
    gpu.launch_func @mbc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%a : memref<1x8xf32>, %c : memref<1x8xf32>) {mbc.launch = {block = array<i64: 8, 1, 1>, grid = array<i64: 1, 1, 1>, params = [{kind = "ptr", name = "a"}, {kind = "ptr", name = "c"}], shared_bytes = 0 : i64}}
    linalg.generic {indexing_maps = [#rev, #id], iterator_types = ["parallel", "parallel"]} ins(%c : memref<1x8xf32>) outs(%out : memref<1x8xf32>) {
    ^bb0(%in: f32, %o: f32):
      linalg.yield %in : f32
    }
    linalg.copy ins(%c : memref<1x8xf32>) outs(%out2 : memref<1x8xf32>)
    return
  }
  func.func @writes_input(%a: memref<1x8xf32>) {
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %c = memref.alloc() : memref<1x8xf32>
    gpu.launch_func @mbc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%a : memref<1x8xf32>, %c : memref<1x8xf32>) {mbc.launch = {block = array<i64: 8, 1, 1>, grid = array<i64: 1, 1, 1>, params = [{kind = "ptr", name = "a"}, {kind = "ptr", name = "c"}], shared_bytes = 0 : i64}}
    linalg.copy ins(%c : memref<1x8xf32>) outs(%a : memref<1x8xf32>)
    return
  }
}

// CHECK-LABEL: gpu.module @mbc_kernels
// CHECK:       gpu.func @k(
// CHECK-NOT:   gpu.func
// CHECK-LABEL: func.func @reversed
// CHECK:       gpu.launch_func @mbc_kernels::@k
// CHECK-NEXT:  linalg.generic
// CHECK-NEXT:  ^bb0
// CHECK-NEXT:    linalg.yield
// CHECK-NEXT:  }
// CHECK-NEXT:  linalg.copy
// CHECK-LABEL: func.func @writes_input
// CHECK:       gpu.launch_func @mbc_kernels::@k
// CHECK-NEXT:  linalg.copy

// -----

// A kernel storing pairs (a norm kernel's 2-element vector stores): each
// element of a pair runs the epilogue (here: a position embedding row
// added, except at position 0; the position is loaded in the kernel).

#id = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>
module attributes {gpu.container_module} {
  gpu.module @mbc_kernels {
    gpu.func @norm(%x: memref<1x8xf32>, %out: memref<1x8xf32>) kernel attributes {mbc.epilogue_outputs = ["out"]} {
      %t = gpu.thread_id x
      %c0 = arith.constant 0 : index
      %c2 = arith.constant 2 : index
      %column = arith.muli %t, %c2 : index
      %v = vector.load %x[%c0, %column] : memref<1x8xf32>, vector<2xf32>
      vector.store %v, %out[%c0, %column] : memref<1x8xf32>, vector<2xf32>
      gpu.return
    }
  }
  func.func @embed(%x: memref<1x8xf32>, %table: memref<4x8xf32>, %position: memref<1xi64>, %result: memref<1x8xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %p = memref.load %position[%c0] : memref<1xi64>
    %pos = arith.index_cast %p : i64 to index
    %first = arith.cmpi eq, %pos, %c0 : index
    %c4 = arith.constant 4 : index
    %normed = memref.alloc() : memref<1x8xf32>
    gpu.launch_func @mbc_kernels::@norm blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%x : memref<1x8xf32>, %normed : memref<1x8xf32>) {mbc.launch = {block = array<i64: 4, 1, 1>, grid = array<i64: 1, 1, 1>, params = [{kind = "ptr", name = "x"}, {kind = "ptr", name = "out"}], shared_bytes = 0 : i64}}
    %row = memref.subview %table[2, 0] [1, 8] [1, 1] : memref<4x8xf32> to memref<1x8xf32, strided<[8, 1], offset: 16>>
    linalg.generic {indexing_maps = [#scalar, #id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%first, %normed, %row : i1, memref<1x8xf32>, memref<1x8xf32, strided<[8, 1], offset: 16>>) outs(%result : memref<1x8xf32>) {
    ^bb0(%f: i1, %in: f32, %in_0: f32, %out: f32):
      %0 = arith.addf %in, %in_0 : f32
      %1 = arith.select %f, %in, %0 : f32
      linalg.yield %1 : f32
    }
    return
  }
}

// CHECK-LABEL: gpu.func @norm_epilogue
// CHECK-SAME:    (%{{.*}}: memref<1x8xf32>, %[[OUT:.*]]: memref<1x8xf32>, %[[RESULT:.*]]: memref<1x8xf32>, %[[ROW:.*]]: memref<1x8xf32>, %[[POSITION:.*]]: memref<1xi64>)
// CHECK:         %[[P:.*]] = memref.load %[[POSITION]]
// CHECK:         %[[POS:.*]] = arith.index_cast %[[P]]
// CHECK:         %[[FIRST:.*]] = arith.cmpi eq, %[[POS]]
// CHECK:         vector.store %[[V:.*]], %[[OUT]][%{{.*}}, %[[COLUMN:.*]]]
// CHECK:         %[[V0:.*]] = vector.extract %[[V]][0]
// CHECK:         scf.if
// CHECK:           %[[E0:.*]] = memref.load %[[ROW]]
// CHECK:           %[[S0:.*]] = arith.addf %[[V0]], %[[E0]]
// CHECK:           %[[R0:.*]] = arith.select %[[FIRST]], %[[V0]], %[[S0]]
// CHECK:           memref.store %[[R0]], %[[RESULT]]
// CHECK:         %[[NEXT:.*]] = arith.addi %[[COLUMN]], %c1
// CHECK:         %[[SECOND:.*]] = vector.extract %[[V]][1]
// CHECK:         scf.if
// CHECK:           arith.addf %[[SECOND]]
// CHECK-LABEL: func.func @embed
// CHECK:       %[[TABLEROW:.*]] = memref.subview %{{.*}}[2, 0] [1, 8] [1, 1]
// CHECK:       %[[CAST:.*]] = builtin.unrealized_conversion_cast %[[TABLEROW]]
// CHECK:       gpu.launch_func @mbc_kernels::@norm_epilogue {{.*}} args(%{{.*}} : memref<1x8xf32>, %{{.*}} : memref<1x8xf32>, %{{.*}} : memref<1x8xf32>, %[[CAST]] : memref<1x8xf32>, %{{.*}} : memref<1xi64>)
// CHECK-NOT:   linalg.generic
