// RUN: ssmc-opt %s -ssm-outline-parallel-loops -split-input-file | FileCheck %s

// The body becomes @<func>_parallel_0(ctx, begin, end); the captured memref
// (aligned pointer, offset, 2 sizes, 2 strides), the scalar and the two
// bounds are stored in a 9-field stack record (the constants, the step among
// them, are re-created in the body); the loop becomes the runtime call.
// CHECK-LABEL: func.func @scale
// CHECK: %[[N:.*]] = llvm.mlir.constant(9 : i64) : i64
// CHECK: %[[REC:.*]] = llvm.alloca %[[N]] x i64 {alignment = 8 : i64}
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: llvm.store
// CHECK: memref.extract_strided_metadata %arg0
// CHECK-COUNT-8: llvm.store
// CHECK: arith.ceildivsi
// CHECK: %[[FN:.*]] = constant @scale_parallel_0 : (!llvm.ptr, i64, i64) -> ()
// CHECK: call @ssmc_parallel_for(%{{.*}}, %[[FN]], %[[REC]])
// CHECK-NOT: scf.parallel
// CHECK: func.func private @ssmc_parallel_for(i64, (!llvm.ptr, i64, i64) -> (), !llvm.ptr)
// CHECK: func.func private @scale_parallel_0(%[[CTX:.*]]: !llvm.ptr, %[[BEGIN:.*]]: i64, %[[END:.*]]: i64)
// CHECK-DAG: arith.constant 0 : index
// CHECK-DAG: arith.constant 2 : index
// CHECK-COUNT-6: llvm.load
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> to memref<?x16xf32>
// CHECK: scf.for
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK: memref.load
// CHECK: arith.mulf
// CHECK: memref.store
func.func @scale(%m: memref<?x16xf32>, %s: f32, %lb: index, %ub: index) {
  %c2 = arith.constant 2 : index
  %c0 = arith.constant 0 : index
  scf.parallel (%i) = (%lb) to (%ub) step (%c2) {
    %v = memref.load %m[%i, %c0] : memref<?x16xf32>
    %p = arith.mulf %v, %s : f32
    memref.store %p, %m[%i, %c0] : memref<?x16xf32>
    scf.reduce
  }
  return
}

// -----

// Nested parallel loops: only the outermost is outlined. A two-dimensional
// loop runs its outer dimension on threads and keeps the inner one serial.
// CHECK-LABEL: func.func @nested
// CHECK: call @ssmc_parallel_for
// CHECK-LABEL: func.func @two_dims
// CHECK: arith.ceildivsi
// CHECK: call @ssmc_parallel_for
// CHECK: func.func private @nested_parallel_0
// CHECK: scf.parallel
// CHECK: func.func private @two_dims_parallel_0
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:   scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:     memref.store %{{.*}}, %{{.*}}[%{{.*}}, %[[J]]]
func.func @nested(%m: memref<8x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %z = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %z, %m[%i, %j] : memref<8x8xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}
func.func @two_dims(%m: memref<?x?xf32>, %rows: index, %cols: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%rows, %cols) step (%c1, %c1) {
    memref.store %z, %m[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}
