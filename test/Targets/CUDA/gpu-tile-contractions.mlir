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

// -----

// The chunk's output: Y_diag = W . x (summed over s) and S . C (summed over
// n) over the same (l, p) tiles, read by one elementwise consumer. Y_diag is
// the sibling of S . C: both sums run in one kernel (two sets of 16 sums,
// the sibling's operands staged after S . C's) and the consumer gets both
// values; Y_diag's buffer, its fill and the second kernel are gone.
// CHECK-LABEL: func.func @sibling_sums
// CHECK: memref.alloc
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK-SAME: workgroup({{.*}} : memref<16x65xbf16, {{.*}}>, {{.*}} : memref<16x65xf32, {{.*}}>, {{.*}} : memref<16x65xbf16, {{.*}}>, {{.*}} : memref<16x65xbf16, {{.*}}>)
// CHECK: scf.for {{.*}} to %c64{{.*}} step %c16{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: scf.for {{.*}} to %c128{{.*}} step %c16{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: math.exp
// CHECK: arith.truncf
// CHECK: memref.store {{.*}} : memref<?x?x128x32x128xbf16>
// CHECK-NOT: gpu.launch
// CHECK-NOT: linalg.generic
// CHECK: return
#w = affine_map<(b, c, l, h, s, p) -> (b, c, h, l, s)>
#x = affine_map<(b, c, l, h, s, p) -> (b, c, s, h, p)>
#yd = affine_map<(b, c, l, h, s, p) -> (b, c, l, h, p)>
#cm = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, n)>
#sm = affine_map<(b, c, l, h, p, n) -> (b, c, h, p, n)>
#ys = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, p)>
#id5 = affine_map<(b, c, l, h, p) -> (b, c, l, h, p)>
#a5 = affine_map<(b, c, l, h, p) -> (b, c, l, h)>
func.func @sibling_sums(%W: memref<?x?x32x128x128xbf16>, %X: memref<?x?x128x32x128xbf16>,
                        %C: memref<?x?x128x32x64xbf16>, %S: memref<?x?x32x128x64xf32>,
                        %acum: memref<?x?x128x32xf32>, %y: memref<?x?x128x32x128xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %X, %c0 : memref<?x?x128x32x128xbf16>
  %n = memref.dim %X, %c1 : memref<?x?x128x32x128xbf16>
  %yd = memref.alloc(%b, %n) : memref<?x?x128x32x128xf32>
  linalg.fill ins(%zero : f32) outs(%yd : memref<?x?x128x32x128xf32>)
  linalg.generic {indexing_maps = [#w, #x, #yd],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "parallel"]}
      ins(%W, %X : memref<?x?x32x128x128xbf16>, memref<?x?x128x32x128xbf16>) outs(%yd : memref<?x?x128x32x128xf32>) {
  ^bb0(%wv: bf16, %xv: bf16, %acc: f32):
    %0 = arith.extf %wv : bf16 to f32
    %1 = arith.extf %xv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  %sc = memref.alloc(%b, %n) : memref<?x?x128x32x128xf32>
  linalg.fill ins(%zero : f32) outs(%sc : memref<?x?x128x32x128xf32>)
  linalg.generic {indexing_maps = [#cm, #sm, #ys],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %S : memref<?x?x128x32x64xbf16>, memref<?x?x32x128x64xf32>) outs(%sc : memref<?x?x128x32x128xf32>) {
  ^bb0(%cv: bf16, %sv: f32, %acc: f32):
    %0 = arith.extf %cv : bf16 to f32
    %1 = arith.mulf %0, %sv : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  }
  linalg.generic {indexing_maps = [#id5, #id5, #a5, #id5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%yd, %sc, %acum : memref<?x?x128x32x128xf32>, memref<?x?x128x32x128xf32>, memref<?x?x128x32xf32>)
      outs(%y : memref<?x?x128x32x128xbf16>) {
  ^bb0(%d: f32, %s: f32, %a: f32, %o: bf16):
    %0 = math.exp %a : f32
    %1 = arith.mulf %0, %s : f32
    %2 = arith.addf %d, %1 : f32
    %3 = arith.truncf %2 : f32 to bf16
    linalg.yield %3 : bf16
  }
  memref.dealloc %yd : memref<?x?x128x32x128xf32>
  memref.dealloc %sc : memref<?x?x128x32x128xf32>
  return
}

// -----

// The same, with an op between the two sums that writes what Y_diag reads
// (x): Y_diag must be computed before it, in a kernel of its own, and its
// sums stored for the consumer.
// CHECK-LABEL: func.func @sibling_input_overwritten
// CHECK: memref.alloc
// CHECK: gpu.launch
// CHECK: memref.store {{.*}} : memref<?x?x128x32x128xf32>
// CHECK: linalg.fill
// CHECK-SAME: memref<?x?x128x32x128xbf16>
// CHECK: gpu.launch
// CHECK: memref.load {{.*}} : memref<?x?x128x32x128xf32>
// CHECK: memref.store {{.*}} : memref<?x?x128x32x128xbf16>
#w = affine_map<(b, c, l, h, s, p) -> (b, c, h, l, s)>
#x = affine_map<(b, c, l, h, s, p) -> (b, c, s, h, p)>
#yd = affine_map<(b, c, l, h, s, p) -> (b, c, l, h, p)>
#cm = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, n)>
#sm = affine_map<(b, c, l, h, p, n) -> (b, c, h, p, n)>
#ys = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, p)>
#id5 = affine_map<(b, c, l, h, p) -> (b, c, l, h, p)>
#a5 = affine_map<(b, c, l, h, p) -> (b, c, l, h)>
func.func @sibling_input_overwritten(%W: memref<?x?x32x128x128xbf16>, %X: memref<?x?x128x32x128xbf16>,
                        %C: memref<?x?x128x32x64xbf16>, %S: memref<?x?x32x128x64xf32>,
                        %acum: memref<?x?x128x32xf32>, %y: memref<?x?x128x32x128xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %bzero = arith.constant 0.0 : bf16
  %b = memref.dim %X, %c0 : memref<?x?x128x32x128xbf16>
  %n = memref.dim %X, %c1 : memref<?x?x128x32x128xbf16>
  %yd = memref.alloc(%b, %n) : memref<?x?x128x32x128xf32>
  linalg.fill ins(%zero : f32) outs(%yd : memref<?x?x128x32x128xf32>)
  linalg.generic {indexing_maps = [#w, #x, #yd],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "parallel"]}
      ins(%W, %X : memref<?x?x32x128x128xbf16>, memref<?x?x128x32x128xbf16>) outs(%yd : memref<?x?x128x32x128xf32>) {
  ^bb0(%wv: bf16, %xv: bf16, %acc: f32):
    %0 = arith.extf %wv : bf16 to f32
    %1 = arith.extf %xv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.fill ins(%bzero : bf16) outs(%X : memref<?x?x128x32x128xbf16>)
  %sc = memref.alloc(%b, %n) : memref<?x?x128x32x128xf32>
  linalg.fill ins(%zero : f32) outs(%sc : memref<?x?x128x32x128xf32>)
  linalg.generic {indexing_maps = [#cm, #sm, #ys],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %S : memref<?x?x128x32x64xbf16>, memref<?x?x32x128x64xf32>) outs(%sc : memref<?x?x128x32x128xf32>) {
  ^bb0(%cv: bf16, %sv: f32, %acc: f32):
    %0 = arith.extf %cv : bf16 to f32
    %1 = arith.mulf %0, %sv : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  }
  linalg.generic {indexing_maps = [#id5, #id5, #a5, #id5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%yd, %sc, %acum : memref<?x?x128x32x128xf32>, memref<?x?x128x32x128xf32>, memref<?x?x128x32xf32>)
      outs(%y : memref<?x?x128x32x128xbf16>) {
  ^bb0(%d: f32, %s: f32, %a: f32, %o: bf16):
    %0 = math.exp %a : f32
    %1 = arith.mulf %0, %s : f32
    %2 = arith.addf %d, %1 : f32
    %3 = arith.truncf %2 : f32 to bf16
    linalg.yield %3 : bf16
  }
  memref.dealloc %yd : memref<?x?x128x32x128xf32>
  memref.dealloc %sc : memref<?x?x128x32x128xf32>
  return
}

// -----

// A causal sum (the term is 0 for s > l: a factor select(s <= l, w, 0)):
// each 64-row tile of l sums s up to the end of its rows only, the first
// tile over half of the chunk.
// CHECK-LABEL: func.func @causal_sum
// CHECK: %[[END:.*]] = arith.addi %{{.*}}, %c64{{.*}} : index
// CHECK: %[[UP:.*]] = arith.ceildivui %[[END]], %c16
// CHECK: %[[ROUNDED:.*]] = arith.muli %[[UP]], %c16
// CHECK: %[[KEND:.*]] = arith.minui %[[ROUNDED]], %c128
// CHECK: scf.for {{.*}} = %c0{{.*}} to %[[KEND]] step %c16
#w = affine_map<(b, c, l, h, s, p) -> (b, c, h, l, s)>
#x = affine_map<(b, c, l, h, s, p) -> (b, c, s, h, p)>
#yd = affine_map<(b, c, l, h, s, p) -> (b, c, l, h, p)>
func.func @causal_sum(%W: memref<?x?x32x128x128xbf16>, %X: memref<?x?x128x32x128xbf16>,
                      %yd: memref<?x?x128x32x128xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%yd : memref<?x?x128x32x128xf32>)
  linalg.generic {indexing_maps = [#w, #x, #yd],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "parallel"]}
      ins(%W, %X : memref<?x?x32x128x128xbf16>, memref<?x?x128x32x128xbf16>) outs(%yd : memref<?x?x128x32x128xf32>) {
  ^bb0(%wv: bf16, %xv: bf16, %acc: f32):
    %s = linalg.index 4 : index
    %l = linalg.index 2 : index
    %causal = arith.cmpi ule, %s, %l : index
    %0 = arith.extf %wv : bf16 to f32
    %1 = arith.select %causal, %0, %zero : f32
    %2 = arith.extf %xv : bf16 to f32
    %3 = arith.mulf %1, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
