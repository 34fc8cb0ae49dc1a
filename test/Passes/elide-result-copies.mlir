// RUN: ssmc-opt %s -ssm-elide-result-copies -split-input-file | FileCheck %s

// y of all whole chunks (B x c x q x P) is copied, collapsed, into the
// sequence's y: the generic writes the expanded subview instead; the
// subview, made after the generic, moves up.
// CHECK-LABEL: func.func @chunks_into_sequence
// CHECK-NOT: memref.alloc
// CHECK: %[[SUB:.*]] = memref.subview %[[Y:.*]][0, 0, 0] [%{{.*}}, %{{.*}}, 16] [1, 1, 1]
// CHECK: %[[EXP:.*]] = memref.expand_shape %[[SUB]] {{\[}}[0], [1, 2], [3]] output_shape [%{{.*}}, %{{.*}}, 8, 16]
// CHECK: linalg.generic {{.*}} outs(%[[EXP]] : memref<?x?x8x16xf32, strided<[?, 128, 16, 1]>>)
// CHECK-NOT: memref.copy
// CHECK-NOT: memref.dealloc
func.func @chunks_into_sequence(%x: memref<?x?x8x16xf32>, %y: memref<?x?x16xf32>, %b: index, %c: index, %l: index) {
  %a = memref.alloc(%b, %c) : memref<?x?x8x16xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k, p) -> (i, j, k, p)>, affine_map<(i, j, k, p) -> (i, j, k, p)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<?x?x8x16xf32>) outs(%a : memref<?x?x8x16xf32>) {
  ^bb0(%v: f32, %o: f32):
    %d = arith.addf %v, %v : f32
    linalg.yield %d : f32
  }
  %flat = memref.collapse_shape %a [[0], [1, 2], [3]] : memref<?x?x8x16xf32> into memref<?x?x16xf32>
  %dst = memref.subview %y[0, 0, 0] [%b, %l, 16] [1, 1, 1] : memref<?x?x16xf32> to memref<?x?x16xf32, strided<[?, 16, 1]>>
  memref.copy %flat, %dst : memref<?x?x16xf32> to memref<?x?x16xf32, strided<[?, 16, 1]>>
  memref.dealloc %a : memref<?x?x8x16xf32>
  return
}

// -----

// Left alone: something writes the destination between the generic and
// the copy; a generic that reads its output's old contents; and one that
// reads the destination (a shifted state: writing it in place would race).
// CHECK-LABEL: func.func @not_elided
// CHECK: memref.copy
// CHECK: memref.copy
// CHECK: memref.copy
func.func @not_elided(%x: memref<4x16xf32>, %y: memref<4x16xf32>, %z: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %a = memref.alloc() : memref<4x16xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x16xf32>) outs(%a : memref<4x16xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  linalg.fill ins(%zero : f32) outs(%y : memref<4x16xf32>)
  memref.copy %a, %y : memref<4x16xf32> to memref<4x16xf32>
  %a2 = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%a2 : memref<4x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x16xf32>) outs(%a2 : memref<4x16xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.addf %v, %o : f32
    linalg.yield %s : f32
  }
  memref.copy %a2, %z : memref<4x16xf32> to memref<4x16xf32>
  %a3 = memref.alloc() : memref<4x16xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      outs(%a3 : memref<4x16xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %c15 = arith.constant 15 : index
    %c1 = arith.constant 1 : index
    %n = arith.addi %j, %c1 : index
    %m = arith.minui %n, %c15 : index
    %v = memref.load %z[%i, %m] : memref<4x16xf32>
    linalg.yield %v : f32
  }
  memref.copy %a3, %z : memref<4x16xf32> to memref<4x16xf32>
  return
}
