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

// -----

// The masked decay log_a (zero past each sequence's length) computed for
// this sum alone: the producer's body is evaluated where the terms would be
// loaded (its output is the input's layout, permuted from its loops), and
// its buffer and kernel go.
// CHECK-LABEL: func.func @cumsum_of_masked
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch
// CHECK-COUNT-4: arith.select
// CHECK-COUNT-5: gpu.shuffle  up
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.dealloc
// CHECK: return
func.func @cumsum_of_masked(%a: memref<?x?x128x32xf32>, %lengths: memref<?xi32>, %out: memref<?x?x128x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %a, %c0 : memref<?x?x128x32xf32>
  %n = memref.dim %a, %c1 : memref<?x?x128x32xf32>
  %masked = memref.alloc(%b, %n) : memref<?x?x32x128xf32>
  linalg.generic {indexing_maps = [affine_map<(b, c, l, h) -> (b, c, l, h)>, affine_map<(b, c, l, h) -> (b)>,
                                   affine_map<(b, c, l, h) -> (b, c, h, l)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%a, %lengths : memref<?x?x128x32xf32>, memref<?xi32>) outs(%masked : memref<?x?x32x128xf32>) {
  ^bb0(%v: f32, %len: i32, %o: f32):
    %c = linalg.index 1 : index
    %l = linalg.index 2 : index
    %base = arith.muli %c, %c128 : index
    %t = arith.addi %base, %l : index
    %lenIndex = arith.index_cast %len : i32 to index
    %real = arith.cmpi slt, %t, %lenIndex : index
    %m = arith.select %real, %v, %zero : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%zero : f32) outs(%out : memref<?x?x128x32xf32>)
  linalg.generic {indexing_maps = [affine_map<(b, c, l, h, k) -> (b, c, h, k)>,
                                   affine_map<(b, c, l, h, k) -> (b, c, l, h)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%masked : memref<?x?x32x128xf32>) outs(%out : memref<?x?x128x32xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %l = linalg.index 2 : index
    %k = linalg.index 4 : index
    %m = arith.cmpi ule, %k, %l : index
    %s = arith.select %m, %v, %zero : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  }
  memref.dealloc %masked : memref<?x?x32x128xf32>
  return
}
