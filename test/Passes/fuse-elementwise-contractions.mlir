// RUN: ssmc-opt %s -ssm-fuse-elementwise=into-batched-contractions=true -split-input-file | FileCheck %s
// RUN: ssmc-opt %s -ssm-fuse-elementwise -split-input-file | FileCheck %s --check-prefix=OFF

// The masked f32 copy of x that two batched contractions read (Y_diag and
// the chunk state): with the option it is recomputed inside both (arith
// only), and the copy is gone; without it, it stays.
// CHECK-LABEL: func.func @masked_x
// CHECK-NOT: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK: linalg.generic {{.*}}"reduction"{{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8x8xf32>, tensor<4x8x16xbf16>, tensor<4xi32>)
// CHECK: arith.select
// CHECK: linalg.generic {{.*}}"reduction"{{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8x32xbf16>, tensor<4x8x16xbf16>, tensor<4xi32>)
// CHECK: arith.select
// OFF-LABEL: func.func @masked_x
// OFF: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]}
// OFF: ins(%{{.*}}, %{{.*}} : tensor<4x8x8xf32>, tensor<4x8x16xf32>)
#x3 = affine_map<(h, l, p) -> (h, l, p)>
#len = affine_map<(h, l, p) -> (h)>
func.func @masked_x(%x: tensor<4x8x16xbf16>, %len: tensor<4xi32>, %L: tensor<4x8x8xf32>, %B: tensor<4x8x32xbf16>)
    -> (tensor<4x8x16xf32>, tensor<4x16x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8x16xf32>
  %u = linalg.generic {indexing_maps = [#x3, #len, #x3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %len : tensor<4x8x16xbf16>, tensor<4xi32>) outs(%e : tensor<4x8x16xf32>) {
  ^bb0(%v: bf16, %n: i32, %o: f32):
    %l = linalg.index 1 : index
    %ni = arith.index_cast %n : i32 to index
    %in = arith.cmpi slt, %l, %ni : index
    %w = arith.extf %v : bf16 to f32
    %m = arith.select %in, %w, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x8x16xf32>
  %ey = tensor.empty() : tensor<4x8x16xf32>
  %fy = linalg.fill ins(%zero : f32) outs(%ey : tensor<4x8x16xf32>) -> tensor<4x8x16xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(h, l, p, s) -> (h, l, s)>, affine_map<(h, l, p, s) -> (h, s, p)>,
                                        affine_map<(h, l, p, s) -> (h, l, p)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%L, %u : tensor<4x8x8xf32>, tensor<4x8x16xf32>) outs(%fy : tensor<4x8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  } -> tensor<4x8x16xf32>
  %es = tensor.empty() : tensor<4x16x32xf32>
  %fs = linalg.fill ins(%zero : f32) outs(%es : tensor<4x16x32xf32>) -> tensor<4x16x32xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(h, p, n, l) -> (h, l, n)>, affine_map<(h, p, n, l) -> (h, l, p)>,
                                        affine_map<(h, p, n, l) -> (h, p, n)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%B, %u : tensor<4x8x32xbf16>, tensor<4x8x16xf32>) outs(%fs : tensor<4x16x32xf32>) {
  ^bb0(%bv: bf16, %uv: f32, %acc: f32):
    %0 = arith.extf %bv : bf16 to f32
    %1 = arith.mulf %0, %uv : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4x16x32xf32>
  return %y, %s : tensor<4x8x16xf32>, tensor<4x16x32xf32>
}

// -----

// A projection (its weight reads no batch loop) is never fused into.
// CHECK-LABEL: func.func @projection
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]}
// CHECK: linalg.generic {{.*}}"reduction"
func.func @projection(%x: tensor<4x64xbf16>, %w: tensor<32x64xbf16>) -> tensor<4x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x64xf32>
  %u = linalg.generic {indexing_maps = [affine_map<(m, k) -> (m, k)>, affine_map<(m, k) -> (m, k)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x64xbf16>) outs(%e : tensor<4x64xf32>) {
  ^bb0(%v: bf16, %o: f32):
    %w0 = arith.extf %v : bf16 to f32
    linalg.yield %w0 : f32
  } -> tensor<4x64xf32>
  %eo = tensor.empty() : tensor<4x32xf32>
  %fo = linalg.fill ins(%zero : f32) outs(%eo : tensor<4x32xf32>) -> tensor<4x32xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%u, %w : tensor<4x64xf32>, tensor<32x64xbf16>) outs(%fo : tensor<4x32xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %0 = arith.extf %b : bf16 to f32
    %1 = arith.mulf %a, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4x32xf32>
  return %o : tensor<4x32xf32>
}
