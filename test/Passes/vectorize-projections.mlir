// RUN: ssmc-opt %s -ssm-vectorize-projections -split-input-file | FileCheck %s
// RUN: ssmc-opt %s -ssm-vectorize-projections="vector-width=16 rows=2 cols=5" -split-input-file \
// RUN:   | FileCheck %s --check-prefix=WIDE
// RUN: not ssmc-opt %s -ssm-vectorize-projections="rows=0" -split-input-file 2>&1 \
// RUN:   | FileCheck %s --check-prefix=BADOPT
// BADOPT: ssm-vectorize-projections: every option must be positive

// A bf16 projection with batch dims: activations widened once into an f32
// buffer, batch dims collapsed into rows, tasks of weight rows in parallel,
// 4 x 3 register blocks of 8-lane accumulators, bf16 widened by a shift.
// CHECK-LABEL: func.func @bf16_projection
// CHECK: %[[X32:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK: linalg.generic
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[X2:.*]] = memref.collapse_shape %[[X32]] {{\[\[}}0, 1], [2]] : memref<?x?x64xf32> into memref<?x64xf32>
// CHECK: memref.collapse_shape %arg2 {{\[\[}}0, 1], [2]]
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-COUNT-4: vector.load %[[X2]]
// CHECK: vector.load %arg1{{.*}} : memref<48x64xbf16>, vector<8xbf16>
// CHECK: arith.shli
// CHECK-COUNT-4: vector.fma
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<8xf32> into f32
// CHECK: memref.dealloc %[[X32]]
// CHECK-NOT: linalg.generic
// CHECK: return
// WIDE-LABEL: func.func @bf16_projection
// WIDE: scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
func.func @bf16_projection(%x: memref<?x?x64xbf16>, %w: memref<48x64xbf16>, %out: memref<?x?x48xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x?x64xbf16>, memref<48x64xbf16>) outs(%out : memref<?x?x48xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// f32 activations with an identity layout are used in place; 50 weight rows
// leave a last block of two rows, handled one row at a time.
// CHECK-LABEL: func.func @f32_projection_column_tail
// CHECK-NOT: memref.alloc
// CHECK: scf.parallel
// CHECK: scf.if
// CHECK: } else {
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<8xf32>)
// CHECK-NOT: memref.dealloc
func.func @f32_projection_column_tail(%x: memref<?x32xf32>, %w: memref<50x32xf32>, %out: memref<?x50xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x32xf32>, memref<50x32xf32>) outs(%out : memref<?x50xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %2 = arith.mulf %a, %b : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// Not rewritten: k = 12 is not a multiple of the vector width.
// CHECK-LABEL: func.func @k_not_multiple_of_width
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic
func.func @k_not_multiple_of_width(%x: memref<?x12xf32>, %w: memref<8x12xf32>, %out: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x12xf32>, memref<8x12xf32>) outs(%out : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %2 = arith.mulf %a, %b : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// Not a projection: the weight is indexed (k, n), not (n, k).
// CHECK-LABEL: func.func @transposed_weight
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic
func.func @transposed_weight(%x: memref<?x16xf32>, %w: memref<16x8xf32>, %out: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x16xf32>, memref<16x8xf32>) outs(%out : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %2 = arith.mulf %a, %b : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
