// RUN: ssmc-opt %s -split-input-file -ssm-gpu-projections=min-warps=1 | FileCheck %s
// RUN: ssmc-opt %s -split-input-file "-ssm-gpu-projections=min-warps=8192 min-warp-k=0" | FileCheck %s --check-prefix=SPLIT
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-projections=vendor-gemm=false | FileCheck %s --check-prefix=NOGEMM
// RUN: not ssmc-opt %s -split-input-file -ssm-gpu-projections=warps-per-block=64 2>&1 | FileCheck %s --check-prefix=BAD

#x = affine_map<(b, l, n, k) -> (b, l, k)>
#w = affine_map<(b, l, n, k) -> (n, k)>
#o = affine_map<(b, l, n, k) -> (b, l, n)>

// A bf16 projection: at most 4 activation rows take a warp kernel (one
// warp per weight row, 16-byte loads of the weight row, a shuffle tree):
// one row has its own kernel, more rows a register tile of 4 rows; more
// than 4 rows call the vendor GEMM, and the original op runs when that
// reports "unsupported". k = 64 is shorter than one unrolled step: only the
// per-lane loop remains. Without a zero fill before, the sums are added.
// CHECK-LABEL: func.func @projection
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[L:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[M:.*]] = arith.muli %{{.*}}, %[[L]]
// CHECK: %[[SMALL:.*]] = arith.cmpi ule, %[[M]], %c4
// CHECK: scf.if %[[SMALL]] {
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[M]], %c1
// CHECK: scf.if %[[ONE]] {
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c12{{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK: scf.for {{.*}} step %c256{{.*}} iter_args
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<96x64xbf16>, vector<8xbf16>
// CHECK-COUNT-1: vector.fma
// CHECK-NOT: vector.fma
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: memref.load
// CHECK: memref.store
// CHECK: } else {
// CHECK: gpu.launch
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

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
#e = affine_map<(m, n) -> (m, n)>
#r = affine_map<(m, n) -> (n)>

// A zero fill right before the projection and an elementwise consumer of
// its output (rounding plus a residual add) fold into the warp kernels: the
// sum is stored through the consumer's body, with no load of the output and
// no fill. k = 1024 bf16 is 4 steps of 512 bytes: the single-row kernel
// (8 steps asked) and the tile (4) both load them in one unrolled iteration.
// The vendor GEMM stores the rounded product (see @rounded_then_added).
// With min-warps=8192, 64 rows are few: 4 warps share each row,
// each summing 256 of k (one 512-byte step), and the row's first warp adds
// the four sums from workgroup memory in k order before the epilogue.
// SPLIT-LABEL: func.func @fill_and_epilogue
// SPLIT: gpu.launch blocks({{.*}}) in ({{.*}} = %c32{{.*}}) threads({{.*}}) in ({{.*}} = %c256{{.*}}) workgroup(%[[P:.*]] : memref<8xf32, #gpu.address_space<workgroup>>)
// SPLIT: arith.minui %{{.*}}, %c63
// SPLIT: memref.store %{{.*}}, %[[P]]
// SPLIT: gpu.barrier
// SPLIT-COUNT-4: memref.load %[[P]]
// SPLIT: arith.truncf
// SPLIT: gpu.barrier
// CHECK-LABEL: func.func @fill_and_epilogue
// CHECK: %[[RES:.*]] = memref.alloc(%{{.*}}) : memref<?x64xbf16>
// CHECK: scf.if
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c1024{{.*}} step %c1024
// CHECK-COUNT-4: vector.load {{.*}} memref<64x1024xbf16>, vector<8xbf16>
// CHECK: gpu.shuffle
// CHECK-NOT: memref.load %[[OUT:.*]][
// CHECK: %[[BIAS:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<64xbf16>
// CHECK: arith.truncf
// CHECK: memref.store %{{.*}}, %[[RES]][{{.*}}] : memref<?x64xbf16>
// CHECK: } else {
// CHECK: gpu.launch
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c1024{{.*}} step %c1024
// CHECK-COUNT-4: vector.load {{.*}} memref<64x1024xbf16>, vector<8xbf16>
// CHECK: } else {
// CHECK: call @ssmc_gpu_gemm_store_bf16_bf16
// CHECK: scf.if
// CHECK-NEXT: linalg.fill
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : memref<?x64xf32>, memref<64xbf16>) outs(%[[RES]]
// CHECK: } else {
// CHECK-NEXT: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : memref<?x64xbf16>, memref<64xbf16>) outs(%[[RES]]
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @fill_and_epilogue(%x: memref<?x1024xbf16>, %w: memref<64x1024xbf16>, %bias: memref<64xbf16>) -> memref<?x64xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x1024xbf16>
  %acc = memref.alloc(%m) : memref<?x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x1024xbf16>, memref<64x1024xbf16>) outs(%acc : memref<?x64xf32>) {
  ^bb0(%a: bf16, %b: bf16, %s: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %s, %2 : f32
    linalg.yield %3 : f32
  }
  %res = memref.alloc(%m) : memref<?x64xbf16>
  linalg.generic {indexing_maps = [#e, #r, #e], iterator_types = ["parallel", "parallel"]}
      ins(%acc, %bias : memref<?x64xf32>, memref<64xbf16>) outs(%res : memref<?x64xbf16>) {
  ^bb0(%s: f32, %b: bf16, %o: bf16):
    %0 = arith.truncf %s : f32 to bf16
    %1 = arith.addf %0, %b : bf16
    linalg.yield %1 : bf16
  }
  memref.dealloc %acc : memref<?x64xf32>
  return %res : memref<?x64xbf16>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// A zero-filled projection read only rounded to bf16 (here by a residual
// add): on the vendor path the GEMM stores the rounded product into a bf16
// buffer (no fill, no f32 round trip) and the epilogue reads that with the
// truncf gone; fill, f32 product and the original epilogue are the
// fallback.
// CHECK-LABEL: func.func @rounded_then_added
// CHECK: } else {
// CHECK: %[[R:.*]] = memref.alloc(%{{.*}}) : memref<?x96xbf16>
// CHECK: %[[RC:.*]] = func.call @ssmc_gpu_gemm_store_bf16_bf16(%{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xbf16>) -> i32
// CHECK: %[[UNSUP:.*]] = arith.cmpi ne, %[[RC]], %c0_i32
// CHECK: scf.if %[[UNSUP]] {
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: linalg.generic
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: } else {
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[R]], %{{.*}} : memref<?x96xbf16>, memref<?x96xbf16>)
// CHECK-NEXT: ^bb0(%[[IN:[^:]*]]: bf16,
// CHECK-NEXT: arith.extf %[[IN]] : bf16 to f32
// CHECK: }
// CHECK: memref.dealloc %[[R]]
func.func @rounded_then_added(%x: memref<?x64xbf16>, %w: memref<96x64xbf16>, %res: memref<?x96xbf16>) -> memref<?x96xbf16> {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %out = memref.alloc(%m) : memref<?x96xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xbf16>, memref<96x64xbf16>) outs(%out : memref<?x96xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  %r = memref.alloc(%m) : memref<?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%out, %res : memref<?x96xf32>, memref<?x96xbf16>) outs(%r : memref<?x96xbf16>) {
  ^bb0(%a: f32, %b: bf16, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    %e = arith.extf %t : bf16 to f32
    %f = arith.extf %b : bf16 to f32
    %s = arith.addf %e, %f : f32
    %u = arith.truncf %s : f32 to bf16
    linalg.yield %u : bf16
  }
  memref.dealloc %out : memref<?x96xf32>
  return %r : memref<?x96xbf16>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// A projection followed by its rounding alone: the GEMM writes the rounded
// product straight into the rounding's output; no epilogue kernel remains
// on that path.
// CHECK-LABEL: func.func @rounded_only
// CHECK: } else {
// CHECK-NOT: memref.alloc
// CHECK: %[[DST:.*]] = memref.cast %[[OUT:.*]] : memref<?x96xbf16> to memref<*xbf16>
// CHECK: %[[RC:.*]] = func.call @ssmc_gpu_gemm_store_bf16_bf16(%{{.*}}, %{{.*}}, %[[DST]])
// CHECK: scf.if %{{.*}} {
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: linalg.generic
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : memref<?x96xbf16>)
// CHECK-NOT: linalg.generic
// CHECK: return
// NOGEMM-LABEL: func.func @rounded_only
// NOGEMM-NOT: ssmc_gpu_gemm
func.func @rounded_only(%x: memref<?x64xbf16>, %w: memref<96x64xbf16>, %r: memref<?x96xbf16>) {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %out = memref.alloc(%m) : memref<?x96xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xbf16>, memref<96x64xbf16>) outs(%out : memref<?x96xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%out : memref<?x96xf32>) outs(%r : memref<?x96xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %out : memref<?x96xf32>
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// The MLP's gate and up: silu(round(gate)) * round(up) reads the gate's f32
// output after the up projection, so it cannot fold into the gate's kernel.
// The gate is rounded early: a bf16 buffer written by the gate's own
// kernels (warp kernel epilogue, vendor GEMM store), which silu * up reads
// without its truncf; it is freed with the f32 buffer.
// CHECK-LABEL: func.func @gate_up
// CHECK: %[[GATE:.*]] = memref.alloc(%{{.*}}) : memref<?x96xf32>
// CHECK: %[[RG:.*]] = memref.alloc(%{{.*}}) : memref<?x96xbf16>
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %[[RG]]
// CHECK: func.call @ssmc_gpu_gemm_store_bf16_bf16(%{{.*}}, %{{.*}}, %{{.*}})
// CHECK: linalg.generic {{.*}} ins(%[[GATE]] : memref<?x96xf32>) outs(%[[RG]] : memref<?x96xbf16>)
// CHECK: linalg.generic {{.*}} ins(%[[RG]], %{{.*}} : memref<?x96xbf16>, memref<?x96xf32>)
// CHECK-NEXT: ^bb0(%{{[^:]*}}: bf16, %{{[^:]*}}: f32,
// CHECK-NOT: arith.truncf %{{.*}}#0
// CHECK: memref.dealloc %[[RG]]
func.func @gate_up(%x: memref<?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>, %r: memref<?x96xbf16>) {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%m) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wg : memref<?x64xbf16>, memref<96x64xbf16>) outs(%gate : memref<?x96xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  %up = memref.alloc(%m) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wu : memref<?x64xbf16>, memref<96x64xbf16>) outs(%up : memref<?x96xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%gate, %up : memref<?x96xf32>, memref<?x96xf32>) outs(%r : memref<?x96xbf16>) {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %0 = arith.truncf %g : f32 to bf16
    %1 = arith.truncf %u : f32 to bf16
    %2 = arith.extf %0 : bf16 to f32
    %3 = arith.negf %2 : f32
    %4 = math.exp %3 : f32
    %5 = arith.addf %4, %one : f32
    %6 = arith.divf %2, %5 : f32
    %7 = arith.extf %1 : bf16 to f32
    %8 = arith.mulf %6, %7 : f32
    %9 = arith.truncf %8 : f32 to bf16
    linalg.yield %9 : bf16
  }
  memref.dealloc %gate : memref<?x96xf32>
  memref.dealloc %up : memref<?x96xf32>
  return
}
