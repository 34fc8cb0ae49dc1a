// RUN: ssmc-opt %s -split-input-file -ssm-gpu-prefix-sums | FileCheck %s

// The chunked scan's cumulative decay over all chunks: out[b, c, l, h] =
// sum over k <= l of in[b, c, h, k], 128 per chunk. One warp per (b, c, h)
// row, 8 per block: each lane loads 4 consecutive terms, a 5-step shuffle-up
// scan of the lanes' totals, 4 stores; the zero fill before is folded.
// CHECK-LABEL: func.func @cumsum
// CHECK-NOT: linalg.fill
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[ROWS:[^,]*]], %c8
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[BLOCKS]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK: arith.cmpi ult, %{{.*}}, %[[ROWS]]
// CHECK-COUNT-4: memref.load %{{.*}} : memref<?x?x32x128xf32>
// CHECK-COUNT-5: gpu.shuffle  up
// CHECK-COUNT-4: memref.store %{{.*}} : memref<?x?x128x32xf32>
// CHECK-NOT: linalg.generic
func.func @cumsum(%in: memref<?x?x32x128xf32>, %out: memref<?x?x128x32xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x?x128x32xf32>)
  linalg.generic {indexing_maps = [affine_map<(b, c, l, h, k) -> (b, c, h, k)>,
                                   affine_map<(b, c, l, h, k) -> (b, c, l, h)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%in : memref<?x?x32x128xf32>) outs(%out : memref<?x?x128x32xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %l = linalg.index 2 : index
    %k = linalg.index 4 : index
    %m = arith.cmpi ule, %k, %l : index
    %s = arith.select %m, %v, %zero : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  }
  return
}

// -----

// Not prefix sums: a strict mask (k < l), and a mask on an extent that is
// not a multiple of 32.
// CHECK-LABEL: func.func @not_prefix
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @not_prefix(%in: memref<4x64xf32>, %out: memref<4x64xf32>, %in2: memref<4x48xf32>, %out2: memref<4x48xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [affine_map<(h, l, k) -> (h, k)>, affine_map<(h, l, k) -> (h, l)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%in : memref<4x64xf32>) outs(%out : memref<4x64xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %l = linalg.index 1 : index
    %k = linalg.index 2 : index
    %m = arith.cmpi ult, %k, %l : index
    %s = arith.select %m, %v, %zero : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [affine_map<(h, l, k) -> (h, k)>, affine_map<(h, l, k) -> (h, l)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%in2 : memref<4x48xf32>) outs(%out2 : memref<4x48xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %l = linalg.index 1 : index
    %k = linalg.index 2 : index
    %m = arith.cmpi ule, %k, %l : index
    %s = arith.select %m, %v, %zero : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  }
  return
}
