// RUN: ssmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(ssm-return-updated-arguments))' | FileCheck %s

// The deallocation's clone of a state updated in place: the argument is
// returned and the allocation and copy disappear. The logits (a fresh
// result) stay.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[S:[^:]*]]: memref<?x4xf32>
// CHECK-NOT: memref.copy %[[S]]
// CHECK: return %{{.*}}, %[[S]] : memref<?x8xf32>, memref<?x4xf32>
func.func @forward(%state: memref<?x4xf32>, %n: index) -> (memref<?x8xf32>, memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 1.0 : f32
  linalg.fill ins(%cst : f32) outs(%state : memref<?x4xf32>)
  %logits = memref.alloc(%n) : memref<?x8xf32>
  %d = memref.dim %state, %c0 : memref<?x4xf32>
  %clone = memref.alloc(%d) : memref<?x4xf32>
  memref.copy %state, %clone : memref<?x4xf32> to memref<?x4xf32>
  %tmp = memref.alloc(%n) : memref<?x8xf32>
  memref.dealloc %tmp : memref<?x8xf32>
  return %logits, %clone : memref<?x8xf32>, memref<?x4xf32>
}

// -----

// The argument is written after the copy: the clone holds the old values
// and must stay.
// CHECK-LABEL: func.func @written_after_copy
// CHECK: memref.copy
// CHECK: return %{{.*}} : memref<?x4xf32>
// CHECK-NOT: return %arg0
func.func @written_after_copy(%state: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 1.0 : f32
  %d = memref.dim %state, %c0 : memref<?x4xf32>
  %clone = memref.alloc(%d) : memref<?x4xf32>
  memref.copy %state, %clone : memref<?x4xf32> to memref<?x4xf32>
  linalg.fill ins(%cst : f32) outs(%state : memref<?x4xf32>)
  return %clone : memref<?x4xf32>
}

// -----

// A clone that is also read elsewhere (or returned twice) stays.
// CHECK-LABEL: func.func @returned_twice
// CHECK: memref.copy
// CHECK: return %[[C:.*]], %[[C]]
func.func @returned_twice(%state: memref<?x4xf32>) -> (memref<?x4xf32>, memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %d = memref.dim %state, %c0 : memref<?x4xf32>
  %clone = memref.alloc(%d) : memref<?x4xf32>
  memref.copy %state, %clone : memref<?x4xf32> to memref<?x4xf32>
  return %clone, %clone : memref<?x4xf32>, memref<?x4xf32>
}
