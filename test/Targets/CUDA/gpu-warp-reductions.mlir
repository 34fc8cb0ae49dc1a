// RUN: ssmc-opt %s -split-input-file -ssm-gpu-warp-reductions | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-warp-reductions=min-extent=4096 | FileCheck %s --check-prefix=SHORT

#in = affine_map<(b, l, d) -> (b, l, d)>
#out = affine_map<(b, l, d) -> (b, l)>

// A norm's sum of squares over 2048 elements per token: one warp per token
// (8 per block of 256 threads), lanes stride d by 32 and sum in a register,
// then a shuffle tree; lane 0 adds the total to the output.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[L:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[P:.*]] = arith.muli %{{.*}}, %[[L]]
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[P]], %c8
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[BLOCKS]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK: %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK: scf.for %[[D:.*]] = %[[LANE]] to %c2048 step %c32{{.*}} iter_args
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %[[D]]] : memref<?x?x2048xbf16>
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: arith.cmpi eq, %[[LANE]], %c0
// CHECK: memref.load %{{.*}} : memref<?x?xf32>
// CHECK: memref.store
// CHECK-NOT: linalg.generic
// SHORT-LABEL: func.func @sum_of_squares
// SHORT-NOT: gpu.launch
// SHORT: linalg.generic
func.func @sum_of_squares(%x: memref<?x?x2048xbf16>, %out: memref<?x?xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x?x2048xbf16>) outs(%out : memref<?x?xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  }
  return
}

// -----

#in = affine_map<(r, d) -> (r, d)>
#out = affine_map<(r, d) -> (r)>

// Not a sum (max), a reduction that is not the last loop, and the
// accumulator used twice: all left to the generic lowering.
// CHECK-LABEL: func.func @not_sums
// CHECK-NOT: gpu.launch
// CHECK-COUNT-2: linalg.generic
func.func @not_sums(%x: memref<?x512xf32>, %out: memref<?xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x512xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %0 = arith.maximumf %acc, %a : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x512xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %0 = arith.mulf %acc, %a : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}
