// RUN: ssmc-opt %s -split-input-file -ssm-gpu-projections | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-projections=vendor-gemm=false | FileCheck %s --check-prefix=NOGEMM
// RUN: not ssmc-opt %s -split-input-file -ssm-gpu-projections=warps-per-block=64 2>&1 | FileCheck %s --check-prefix=BAD

#x = affine_map<(b, l, n, k) -> (b, l, k)>
#w = affine_map<(b, l, n, k) -> (n, k)>
#o = affine_map<(b, l, n, k) -> (b, l, n)>

// A bf16 projection: at most 16 activation rows take the warp kernel (one
// warp per weight row, 16-byte loads of the weight row, tiles of 4 rows in
// registers, a shuffle tree); more rows call the vendor GEMM, and the
// original op runs when that reports "unsupported".
// CHECK-LABEL: func.func @projection
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[L:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[M:.*]] = arith.muli %{{.*}}, %[[L]]
// CHECK: %[[SMALL:.*]] = arith.cmpi ule, %[[M]], %c16
// CHECK: scf.if %[[SMALL]] {
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c12{{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %[[M]] step %c4
// CHECK-COUNT-4: arith.minui
// CHECK: scf.for {{.*}} step %c256{{.*}} iter_args
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<96x64xbf16>, vector<8xbf16>
// CHECK-COUNT-4: vector.fma
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: memref.store
// CHECK: } else {
// CHECK: %[[RC:.*]] = func.call @ssmc_gpu_gemm_bf16_bf16(%{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>) -> i32
// CHECK: %[[UNSUP:.*]] = arith.cmpi ne, %[[RC]], %c0_i32
// CHECK: scf.if %[[UNSUP]] {
// CHECK-NEXT: linalg.generic
// CHECK: func.func private @ssmc_gpu_gemm_bf16_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>) -> i32 attributes {ssmc.device_call}
// NOGEMM-LABEL: func.func @projection
// NOGEMM: gpu.launch
// NOGEMM: } else {
// NOGEMM-NEXT: linalg.generic
// NOGEMM-NOT: ssmc_gpu_gemm
// BAD: warps-per-block <= 32
func.func @projection(%x: memref<?x?x64xbf16>, %w: memref<96x64xbf16>, %out: memref<?x?x96xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x?x64xbf16>, memref<96x64xbf16>) outs(%out : memref<?x?x96xf32>) {
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

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>

// k = 30 is no multiple of the 4 f32 lanes of a 16-byte load: no warp
// kernel, only the vendor GEMM with the op as fallback.
// CHECK-LABEL: func.func @odd_k
// CHECK-NOT: gpu.launch
// CHECK: call @ssmc_gpu_gemm_f32_f32
// CHECK: scf.if
// CHECK-NEXT: linalg.generic
// NOGEMM-LABEL: func.func @odd_k
// NOGEMM-NOT: scf.if
// NOGEMM: linalg.generic
func.func @odd_k(%x: memref<?x30xf32>, %w: memref<8x30xf32>, %out: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x30xf32>, memref<8x30xf32>) outs(%out : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %2 = arith.mulf %a, %b : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
