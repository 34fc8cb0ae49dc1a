// RUN: ssmc-opt %s -ssm-lower-reductions -split-input-file | FileCheck %s

// A dot product over the innermost loop: parallel loops over the outputs,
// one load and one store of each output, the sum carried in a register and
// marked reassociable.
// CHECK-LABEL: func.func @row_dot
// CHECK: scf.parallel (%[[I:.*]]) =
// CHECK:   %[[INIT:.*]] = memref.load %arg2[%[[I]]]
// CHECK:   %[[SUM:.*]] = scf.for %[[K:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32)
// CHECK:     memref.load %arg0[%[[I]], %[[K]]]
// CHECK:     memref.load %arg1[%[[K]]]
// CHECK:     arith.mulf
// CHECK:     arith.addf %[[ACC]], %{{.*}} fastmath<reassoc> : f32
// CHECK:   memref.store %[[SUM]], %arg2[%[[I]]]
// CHECK-NOT: linalg.generic
func.func @row_dot(%a: memref<?x16xf32>, %v: memref<16xf32>, %out: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, k) -> (i, k)>, affine_map<(i, k) -> (k)>, affine_map<(i, k) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%a, %v : memref<?x16xf32>, memref<16xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A reduction loop outside a parallel one (an axpy form) is left for the
// upstream loop lowering.
// CHECK-LABEL: func.func @axpy_form
// CHECK: linalg.generic
func.func @axpy_form(%a: memref<4x?xf32>, %out: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(k, j) -> (k, j)>, affine_map<(k, j) -> (j)>],
                  iterator_types = ["reduction", "parallel"]}
      ins(%a : memref<4x?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The chunked scan's inter-chunk pass: the carried state is an accumulator
// (its block argument is read), the entering state a record written at
// every chunk (block argument unused). The state stays in a register across
// the chunks: loaded once, stored once; the record is stored per chunk.
// CHECK-LABEL: func.func @carried_state_with_record
// CHECK: scf.parallel
// CHECK: %[[INIT:.*]] = memref.load %arg2
// CHECK: %[[FINAL:.*]] = scf.for {{.*}} iter_args(%[[S:.*]] = %[[INIT]]) -> (f32)
// CHECK: math.exp
// CHECK: memref.store %[[S]], %arg3
// CHECK: scf.yield
// CHECK: memref.store %[[FINAL]], %arg2
#states = affine_map<(h, p, c) -> (c, h, p)>
#total = affine_map<(h, p, c) -> (c, h)>
#state = affine_map<(h, p, c) -> (h, p)>
func.func @carried_state_with_record(%chunkStates: memref<?x4x8xf32>, %total: memref<?x4xf32>,
                                     %state: memref<4x8xf32>, %entering: memref<?x4x8xf32>) {
  linalg.generic {indexing_maps = [#states, #total, #state, #states],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%chunkStates, %total : memref<?x4x8xf32>, memref<?x4xf32>)
      outs(%state, %entering : memref<4x8xf32>, memref<?x4x8xf32>) {
  ^bb0(%sc: f32, %t: f32, %s: f32, %e: f32):
    %0 = math.exp %t : f32
    %1 = arith.mulf %0, %s : f32
    %2 = arith.addf %1, %sc : f32
    linalg.yield %2, %s : f32, f32
  }
  return
}
