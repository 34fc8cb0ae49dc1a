// RUN: ssmc-opt %s -split-input-file -ssm-gpu-tile-contractions | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-tile-contractions=min-blocks=1 | FileCheck %s --check-prefix=BIG

// C B^T of a chunk: cb[b, l, s, h] = sum_n C[b, l, h, n] B[b, s, h, n] into a
// zero-filled buffer. Batch loops b and h (read by both inputs), i = l,
// j = s, k = n (innermost in both: staged k-fastest). 128 x 128 per head
// and 32 heads make 128 blocks of 64 x 64, below min-blocks: 32 x 32 tiles
// (2 x 2 sums per thread); the fill folds into the kernel.
// CHECK-LABEL: func.func @c_bt
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch blocks({{.*}}) threads({{.*}}) in ({{.*}} = %c256, {{.*}}) workgroup(%[[SC:[^ ]*]] : memref<16x33xbf16, #gpu.address_space<workgroup>>, %[[SB:[^ ]*]] : memref<16x33xbf16, #gpu.address_space<workgroup>>)
// CHECK: scf.for %[[K0:.*]] = %c0{{.*}} to %c64{{.*}} step %c16{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32)
// CHECK: memref.load %{{.*}} : memref<?x128x32x64xbf16>
// CHECK: memref.store %{{.*}}, %[[SC]]
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} to %c16{{.*}} -> (f32, f32, f32, f32)
// CHECK-COUNT-4: arith.extf
// CHECK: gpu.barrier
// CHECK-COUNT-4: memref.store %{{.*}} : memref<?x128x128x32xf32>
// CHECK-NOT: linalg.generic
// BIG-LABEL: func.func @c_bt
// BIG: workgroup({{.*}} : memref<16x65xbf16, #gpu.address_space<workgroup>>
// BIG: -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
#c = affine_map<(b, l, s, h, n) -> (b, l, h, n)>
#bm = affine_map<(b, l, s, h, n) -> (b, s, h, n)>
#cb = affine_map<(b, l, s, h, n) -> (b, l, s, h)>
func.func @c_bt(%C: memref<?x128x32x64xbf16>, %B: memref<?x128x32x64xbf16>, %out: memref<?x128x128x32xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x128x128x32xf32>)
  linalg.generic {indexing_maps = [#c, #bm, #cb],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %B : memref<?x128x32x64xbf16>, memref<?x128x32x64xbf16>) outs(%out : memref<?x128x128x32xf32>) {
  ^bb0(%c: bf16, %bv: bf16, %acc: f32):
    %0 = arith.extf %c : bf16 to f32
    %1 = arith.extf %bv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// The chunk state: S[b, h, p, n] = exp(T[b, h]) S[b, h, p, n] (in place), then
// S += sum_l toEnd[b, l, h] u[b, l, h, p] B[b, l, h, n]. toEnd reads neither
// p nor n: 16 values per K-slice. No fill before: the sums are added to the
// state, decayed as each store reads it.
// CHECK-LABEL: func.func @chunk_state
// CHECK-NOT: linalg.generic
// CHECK: workgroup(%[[ST:[^ ]*]] : memref<16xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<16x33xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<16x33xbf16, #gpu.address_space<workgroup>>)
// CHECK: arith.cmpi ult, %{{.*}}, %c16
// CHECK: memref.store %{{.*}}, %[[ST]]
// CHECK: gpu.barrier
// CHECK: memref.load %{{.*}} : memref<?x4x32x64xf32>
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: memref.store %{{.*}} : memref<?x4x32x64xf32>
// CHECK-NOT: linalg.generic
#te = affine_map<(b, h, l, p, n) -> (b, l, h)>
#u = affine_map<(b, h, l, p, n) -> (b, l, h, p)>
#bb = affine_map<(b, h, l, p, n) -> (b, l, h, n)>
#s = affine_map<(b, h, l, p, n) -> (b, h, p, n)>
#hd2 = affine_map<(b, h, p, n) -> (b, h)>
#id4s = affine_map<(b, h, p, n) -> (b, h, p, n)>
func.func @chunk_state(%te: memref<?x128x4xf32>, %u: memref<?x128x4x32xf32>, %B: memref<?x128x4x64xbf16>, %S: memref<?x4x32x64xf32>,
                       %T: memref<?x4xf32>) {
  linalg.generic {indexing_maps = [#hd2, #id4s], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%T : memref<?x4xf32>) outs(%S : memref<?x4x32x64xf32>) {
  ^bb0(%t: f32, %s: f32):
    %0 = math.exp %t : f32
    %1 = arith.mulf %0, %s : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [#te, #u, #bb, #s],
                  iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]}
      ins(%te, %u, %B : memref<?x128x4xf32>, memref<?x128x4x32xf32>, memref<?x128x4x64xbf16>) outs(%S : memref<?x4x32x64xf32>) {
  ^bb0(%t: f32, %x: f32, %bv: bf16, %acc: f32):
    %0 = arith.mulf %t, %x : f32
    %1 = arith.extf %bv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// A reduction of dynamic extent (a partial chunk's Y_diag) is left alone,
// and so is one input reading both i and j.
// CHECK-LABEL: func.func @not_matched
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK: linalg.generic
#w = affine_map<(b, l, h, s, p) -> (b, l, s, h)>
#x = affine_map<(b, l, h, s, p) -> (b, s, h, p)>
#y = affine_map<(b, l, h, s, p) -> (b, l, h, p)>
#m2 = affine_map<(i, j, k) -> (i, j, k)>
#m3 = affine_map<(i, j, k) -> (j, k)>
#m4 = affine_map<(i, j, k) -> (i, j)>
func.func @not_matched(%wt: memref<1x?x?x4xf32>, %u: memref<1x?x4x32xf32>, %y: memref<1x?x4x32xf32>,
                       %a: memref<8x8x16xf32>, %bm: memref<8x16xf32>, %o: memref<8x8xf32>) {
  linalg.generic {indexing_maps = [#w, #x, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]}
      ins(%wt, %u : memref<1x?x?x4xf32>, memref<1x?x4x32xf32>) outs(%y : memref<1x?x4x32xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %0 = arith.mulf %p, %q : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [#m2, #m3, #m4], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %bm : memref<8x8x16xf32>, memref<8x16xf32>) outs(%o : memref<8x8xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %0 = arith.mulf %p, %q : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// An elementwise op overwriting the sums in place (the chunk's decay mask on
// C B^T) runs in the tile kernel at each stored element; a later reader of
// the buffer sees its result.
// CHECK-LABEL: func.func @masked_c_bt
// CHECK: gpu.launch
// CHECK: gpu.barrier
// CHECK: math.exp
// CHECK: memref.store %{{.*}} : memref<?x32x128x128xf32>
// CHECK: gpu.terminator
// CHECK-NOT: math.exp
// CHECK: linalg.copy
#c5 = affine_map<(b, l, s, h, n) -> (b, l, h, n)>
#b5 = affine_map<(b, l, s, h, n) -> (b, s, h, n)>
#o5 = affine_map<(b, l, s, h, n) -> (b, h, l, s)>
#a4 = affine_map<(b, h, l, s) -> (b, l, h)>
#id4 = affine_map<(b, h, l, s) -> (b, h, l, s)>
func.func @masked_c_bt(%C: memref<?x128x32x64xbf16>, %B: memref<?x128x32x64xbf16>, %acum: memref<?x128x32xf32>,
                       %copy: memref<?x32x128x128xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %C, %c0 : memref<?x128x32x64xbf16>
  %cb = memref.alloc(%b) : memref<?x32x128x128xf32>
  linalg.fill ins(%zero : f32) outs(%cb : memref<?x32x128x128xf32>)
  linalg.generic {indexing_maps = [#c5, #b5, #o5],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %B : memref<?x128x32x64xbf16>, memref<?x128x32x64xbf16>) outs(%cb : memref<?x32x128x128xf32>) {
  ^bb0(%c: bf16, %bv: bf16, %acc: f32):
    %0 = arith.extf %c : bf16 to f32
    %1 = arith.extf %bv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#a4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%acum : memref<?x128x32xf32>) outs(%cb : memref<?x32x128x128xf32>) {
  ^bb0(%a: f32, %v: f32):
    %0 = math.exp %a : f32
    %1 = arith.mulf %v, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.copy ins(%cb : memref<?x32x128x128xf32>) outs(%copy : memref<?x32x128x128xf32>)
  memref.dealloc %cb : memref<?x32x128x128xf32>
  return
}

// -----

// C B^T of every whole chunk at once (convert-ssm-to-linalg's all-chunks
// schedule): batch loops b, c (both dynamic) and h. The second dynamic
// batch loop is assumed to bring at least 8 chunks: 8 x 32 heads x 4 tiles
// reach min-blocks, so the tiles are 64 x 64 (4 x 4 sums per thread).
// CHECK-LABEL: func.func @c_bt_all_chunks
// CHECK: workgroup({{.*}} : memref<16x65xbf16, #gpu.address_space<workgroup>>
// CHECK: -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-NOT: linalg.generic
#c = affine_map<(b, c, l, s, h, n) -> (b, c, l, h, n)>
#bm = affine_map<(b, c, l, s, h, n) -> (b, c, s, h, n)>
#cb = affine_map<(b, c, l, s, h, n) -> (b, c, h, l, s)>
func.func @c_bt_all_chunks(%C: memref<?x?x128x32x64xbf16>, %B: memref<?x?x128x32x64xbf16>, %out: memref<?x?x32x128x128xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x?x32x128x128xf32>)
  linalg.generic {indexing_maps = [#c, #bm, #cb],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %B : memref<?x?x128x32x64xbf16>, memref<?x?x128x32x64xbf16>) outs(%out : memref<?x?x32x128x128xf32>) {
  ^bb0(%cv: bf16, %bv: bf16, %acc: f32):
    %0 = arith.extf %cv : bf16 to f32
    %1 = arith.extf %bv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
