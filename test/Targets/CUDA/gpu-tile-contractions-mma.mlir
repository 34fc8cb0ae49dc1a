// RUN: ssmc-opt %s -split-input-file -ssm-gpu-tile-contractions=async-copy-stages=1 | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-tile-contractions=tensor-cores=false | FileCheck %s --check-prefix=FMA
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-tile-contractions=min-blocks-per-sm=3 | FileCheck %s --check-prefix=OCC
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-tile-contractions=min-blocks-per-sm=0 | FileCheck %s --check-prefix=NOOCC
// RUN: ssmc-opt %s -split-input-file "-ssm-gpu-tile-contractions=prefetch-depth=2 async-copy-stages=1" | FileCheck %s --check-prefix=DEPTH2
// RUN: ssmc-opt %s -split-input-file "-ssm-gpu-tile-contractions=vector-staging=false ldmatrix=false" | FileCheck %s --check-prefix=SCALAR
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-tile-contractions=async-copy-stages=3 | FileCheck %s --check-prefix=ASYNC
// RUN: ssmc-opt %s -split-input-file "-ssm-gpu-tile-contractions=fuse-produced-side=true async-copy-stages=1" | FileCheck %s --check-prefix=PRODUCED

// A bf16 model's C B^T over all chunks: C reads i, B reads j, both with k
// innermost, so both sides are staged row-major ([64 rows][32 k + 8 of
// padding] bf16). K = 64 in two slices of 32, each two m16n8k16 steps per
// mma tile; a warp owns 2 x 2 tiles of 16 x 8 (16 f32 sums per lane).
// Where every view is aligned for it (checked at run time, uniform), each
// thread reads its 8 k-consecutive elements of a side with one 16-byte load
// (the factor is the bf16 operand itself: stored as loaded, one 16-byte
// store), and the fragments come from ldmatrix (x4: A of one m-tile, B of
// two n-tiles); else element loads, rounded factors stored in pairs. The
// loads of the next slice are in flight while a slice is multiplied; with
// prefetch-depth=2 those of the next two (the loop carries two groups).
// DEPTH2-LABEL: func.func @c_bt_bf16
// DEPTH2: scf.for {{.*}} to %c64{{.*}} step %c32{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, vector<8xbf16>, vector<8xbf16>, vector<8xbf16>, vector<8xbf16>)
// With async-copy-stages=3 both sides (each the bf16 operand itself) go
// from global to workgroup memory by cp.async (16 bytes per thread and
// side, L2 only) into three stages of 64 rows: slices 0 and 1 before the
// loop (one commit group each), slice n + 2 at the top of iteration n; the
// loop carries no loads, and waits until at most 2 groups are pending.
// The element way (the else branch) keeps registers and one stage.
// ASYNC-LABEL: func.func @c_bt_bf16
// ASYNC: workgroup(%{{[^ ]*}} : memref<192x40xbf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<192x40xbf16, #gpu.address_space<workgroup>>)
// ASYNC: scf.if %{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// ASYNC-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// ASYNC: nvvm.cp.async.commit.group
// ASYNC-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// ASYNC: nvvm.cp.async.commit.group
// ASYNC: scf.for {{.*}} to %c64{{.*}} step %c32{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// ASYNC-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// ASYNC: nvvm.cp.async.commit.group
// ASYNC-NOT: llvm.store
// ASYNC: nvvm.cp.async.wait.group 2
// ASYNC-NEXT: gpu.barrier
// ASYNC: nvvm.ldmatrix
// ASYNC-COUNT-4: nvvm.mma.sync
// ASYNC: gpu.barrier
// ASYNC: } else {
// ASYNC-NOT: nvvm.cp.async
// ASYNC: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, bf16,
// CHECK-LABEL: func.func @c_bt_bf16
// CHECK: workgroup(%[[SA:[^ ]*]] : memref<64x40xbf16, #gpu.address_space<workgroup>>, %[[SB:[^ ]*]] : memref<64x40xbf16, #gpu.address_space<workgroup>>)
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: memref.extract_aligned_pointer_as_index %arg1
// CHECK: scf.if %{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK: vector.load %arg0{{.*}} {alignment = 16 : i64} : memref<?x?x128x32x64xbf16>, vector<8xbf16>
// CHECK: vector.load %arg1{{.*}} {alignment = 16 : i64} : memref<?x?x128x32x64xbf16>, vector<8xbf16>
// CHECK: scf.for {{.*}} to %c64{{.*}} step %c32{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, vector<8xbf16>, vector<8xbf16>)
// CHECK: memref.extract_aligned_pointer_as_index %[[SA]]
// CHECK: llvm.store %{{.*}} {alignment = 16 : i64} : vector<8xbf16>, !llvm.ptr<3>
// CHECK: memref.extract_aligned_pointer_as_index %[[SB]]
// CHECK: llvm.store %{{.*}} {alignment = 16 : i64} : vector<8xbf16>, !llvm.ptr<3>
// CHECK: gpu.barrier
// CHECK: scf.if %{{.*}} -> (vector<8xbf16>, vector<8xbf16>)
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 4 : i32
// CHECK-COUNT-4: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: gpu.barrier
// CHECK: } else {
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16, bf16)
// CHECK-COUNT-8: llvm.store %{{.*}} {alignment = 4 : i64} : vector<2xbf16>, !llvm.ptr<3>
// Adjacent columns of a fragment are stored as pairs when the view allows
// (checked at run time: base, offset and outer strides), else one by one.
// CHECK: memref.extract_aligned_pointer_as_index %arg2
// CHECK: scf.if
// CHECK-COUNT-8: vector.store {{.*}} {alignment = 8 : i64} : memref<?x?x32x128x128xf32>, vector<2xf32>
// CHECK: } else {
// CHECK-COUNT-16: memref.store %{{.*}} : memref<?x?x32x128x128xf32>
// CHECK-NOT: linalg.generic
// Without vector staging and ldmatrix: one way, element loads, fragments
// as pairs of elements.
// SCALAR-LABEL: func.func @c_bt_bf16
// SCALAR-NOT: vector.load %arg0
// SCALAR: scf.for
// SCALAR-COUNT-8: llvm.store %{{.*}} {alignment = 4 : i64} : vector<2xbf16>, !llvm.ptr<3>
// SCALAR-NOT: nvvm.ldmatrix
// SCALAR: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<3> -> vector<2xbf16>
// SCALAR: nvvm.mma.sync
// FMA-LABEL: func.func @c_bt_bf16
// FMA-NOT: nvvm.mma.sync
// FMA: memref<16x65xbf16, #gpu.address_space<workgroup>>
module attributes {ssm.model = {dtype = bf16}} {
func.func @c_bt_bf16(%C: memref<?x?x128x32x64xbf16>, %B: memref<?x?x128x32x64xbf16>, %out: memref<?x?x32x128x128xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x?x32x128x128xf32>)
  linalg.generic {indexing_maps = [affine_map<(b, c, l, s, h, n) -> (b, c, l, h, n)>,
                                   affine_map<(b, c, l, s, h, n) -> (b, c, s, h, n)>,
                                   affine_map<(b, c, l, s, h, n) -> (b, c, h, l, s)>],
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
}

// -----

// The chunk state of an f16 model: S[b, c, h, p, n] = sum_l toEnd[l] u[l, p]
// B[l, n]. toEnd reads neither p nor n and joins the i side (u), which is
// f32 and rounded to f16 when staged (32 x 32 tiles: 8 x 32 heads x 1 tile
// per chunk is below min-blocks). The k loop l is outermost in u and B, so
// both sides are staged k-major ([32 k][32 rows + 8]) and their fragments
// read with ldmatrix transposed (layout col); vector staging reads 2
// row-consecutive elements of u and of B at each of two k, toEnd once per
// k. f16 pairs go to mma.sync as vector<2xf16>.
// With async copies the f16 B side (plain, k-major) is copied as 4-byte
// runs at each of two k (.ca: .cg takes 16 bytes only); u (an f32 factor
// times toEnd) still goes through registers, stored into the same stage.
// ASYNC-LABEL: func.func @chunk_state_f16
// ASYNC: workgroup(%{{[^ ]*}} : memref<96x40xf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<96x40xf16, #gpu.address_space<workgroup>>)
// ASYNC-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache = ca
// ASYNC: nvvm.cp.async.commit.group
// ASYNC: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, vector<2xf32>, vector<2xf32>) {
// ASYNC: nvvm.cp.async.commit.group
// ASYNC: llvm.store %{{.*}} {alignment = 4 : i64} : vector<2xf16>, !llvm.ptr<3>
// ASYNC: nvvm.cp.async.wait.group 2
// CHECK-LABEL: func.func @chunk_state_f16
// CHECK: workgroup(%{{[^ ]*}} : memref<32x40xf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<32x40xf16, #gpu.address_space<workgroup>>)
// CHECK: scf.if %{{.*}} -> (f32, f32, f32, f32) {
// CHECK-COUNT-2: vector.load %arg1{{.*}} {alignment = 8 : i64} : memref<?x?x128x32x64xf32>, vector<2xf32>
// CHECK-COUNT-2: vector.load %arg2{{.*}} {alignment = 4 : i64} : memref<?x?x128x32x64xf16>, vector<2xf16>
// CHECK: scf.for
// CHECK: math.exp
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: llvm.store %{{.*}} {alignment = 4 : i64} : vector<2xf16>, !llvm.ptr<3>
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<col>, num = 4 : i32
// CHECK: vector.bitcast %{{.*}} : vector<1xi32> to vector<2xf16>
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<col>, num = 2 : i32
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)
module attributes {ssm.model = {dtype = f16}} {
func.func @chunk_state_f16(%cs: memref<?x?x128x32xf32>, %u: memref<?x?x128x32x64xf32>, %B: memref<?x?x128x32x64xf16>,
                           %S: memref<?x?x32x64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%S : memref<?x?x32x64x64xf32>)
  linalg.generic {indexing_maps = [affine_map<(b, c, h, l, p, n) -> (b, c, l, h)>,
                                   affine_map<(b, c, h, l, p, n) -> (b, c, l, h, p)>,
                                   affine_map<(b, c, h, l, p, n) -> (b, c, l, h, n)>,
                                   affine_map<(b, c, h, l, p, n) -> (b, c, h, p, n)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel", "parallel"]}
      ins(%cs, %u, %B : memref<?x?x128x32xf32>, memref<?x?x128x32x64xf32>, memref<?x?x128x32x64xf16>)
      outs(%S : memref<?x?x32x64x64xf32>) {
  ^bb0(%t: f32, %x: f32, %bv: f16, %acc: f32):
    %0 = math.exp %t : f32
    %1 = arith.mulf %0, %x : f32
    %2 = arith.extf %bv : f16 to f32
    %3 = arith.mulf %1, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
}

// -----

// Not factorable: the causal mask selects on both i and j (a select, not a
// product), so a bf16 model's term stays on CUDA cores; and a float32
// model's C B^T stays there too.
// CHECK-LABEL: func.func @masked_term
// CHECK-NOT: nvvm.mma.sync
// CHECK: memref<16x65xf32, #gpu.address_space<workgroup>>
module attributes {ssm.model = {dtype = bf16}} {
func.func @masked_term(%L: memref<?x?x32x128x128xf32>, %u: memref<?x?x128x32x64xf32>, %y: memref<?x?x128x32x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [affine_map<(b, c, l, h, p, s) -> (b, c, h, l, s)>,
                                   affine_map<(b, c, l, h, p, s) -> (b, c, s, h, p)>,
                                   affine_map<(b, c, l, h, p, s) -> (b, c, l, h, p)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%L, %u : memref<?x?x32x128x128xf32>, memref<?x?x128x32x64xf32>) outs(%y : memref<?x?x128x32x64xf32>) {
  ^bb0(%lv: f32, %uv: f32, %acc: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 4 : index
    %m = arith.cmpi ule, %j, %i : index
    %0 = arith.mulf %lv, %uv : f32
    %1 = arith.select %m, %0, %zero : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  }
  return
}
}

// -----

// CHECK-LABEL: func.func @c_bt_f32
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.launch
module attributes {ssm.model = {dtype = f32}} {
func.func @c_bt_f32(%C: memref<?x?x128x32x64xf32>, %B: memref<?x?x128x32x64xf32>, %out: memref<?x?x32x128x128xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, c, l, s, h, n) -> (b, c, l, h, n)>,
                                   affine_map<(b, c, l, s, h, n) -> (b, c, s, h, n)>,
                                   affine_map<(b, c, l, s, h, n) -> (b, c, h, l, s)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %B : memref<?x?x128x32x64xf32>, memref<?x?x128x32x64xf32>) outs(%out : memref<?x?x32x128x128xf32>) {
  ^bb0(%cv: f32, %bv: f32, %acc: f32):
    %0 = arith.mulf %cv, %bv : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}
}

// -----

// Sibling sums on tensor cores (see gpu-tile-contractions.mlir
// @sibling_sums): S . C (K = 64, two slices of 32) and then Y_diag (K = 128,
// four slices) in one kernel, each with its own staging buffers (S . C: C
// and S row-major; Y_diag: W row-major, x k-major as [32 s][64 p + 8]); the
// consumer reads y = Y_diag + exp(Acum[l]) (S . C) + D x, so the sums chain:
// S . C's sums times exp(Acum[l]) are where Y_diag's accumulators start
// (one set of 16 live sums, not two). Each has a vector and an element way.
// CHECK-LABEL: func.func @sibling_sums_bf16
// CHECK: gpu.launch
// CHECK-SAME: workgroup({{.*}} : memref<64x40xbf16, {{.*}}>, {{.*}} : memref<64x40xbf16, {{.*}}>, {{.*}} : memref<64x40xbf16, {{.*}}>, {{.*}} : memref<32x72xbf16, {{.*}}>)
// CHECK: scf.for {{.*}} to %c64{{.*}} step %c32{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, vector<8xbf16>, vector<8xbf16>)
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: math.exp
// CHECK: %[[START:[0-9]+]] = arith.mulf
// CHECK: scf.for {{.*}} to %{{.*}} step %c32{{.*}} iter_args(%{{[^ ]*}} = %[[START]], {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, vector<8xbf16>, vector<4xbf16>, vector<4xbf16>)
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<col>
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: math.exp
// CHECK: memref.store {{.*}} : memref<?x?x128x32x128xbf16>
// CHECK-NOT: gpu.launch
// With min-blocks-per-sm, the stores of a kernel with sibling sums carry
// the occupancy request (for ssm-gpu-kernel-occupancy); others do not.
// Two contractions' stages share 48 KB: async-copy-stages=3 gets two. The
// sibling's first slice (W rows, 16 bytes, and x at two k, 8 bytes each:
// its k-major side) is issued before the kernel op's (S . C) k loop, so
// that the block's loads of both products are in flight together.
// ASYNC-LABEL: func.func @sibling_sums_bf16
// ASYNC: workgroup(%{{[^ ]*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<64x72xbf16, #gpu.address_space<workgroup>>)
// ASYNC: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// ASYNC-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 8, cache = ca
// ASYNC: nvvm.cp.async.commit.group
// ASYNC: scf.for
// ASYNC: nvvm.cp.async.wait.group 1
// ASYNC: scf.for
// ASYNC: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 8, cache = ca
// ASYNC: nvvm.cp.async.wait.group 1
// NOOCC-LABEL: func.func @sibling_sums_bf16
// NOOCC-NOT: ssmc.min_blocks_per_sm
// OCC-LABEL: func.func @c_bt_bf16
// OCC-NOT: ssmc.min_blocks_per_sm
// OCC-LABEL: func.func @sibling_sums_bf16
// OCC: vector.store {{.*}}ssmc.min_blocks_per_sm = 3
// FMA-LABEL: func.func @sibling_sums_bf16
// FMA: gpu.launch
// FMA-NOT: gpu.launch
// FMA: return
#w = affine_map<(b, c, l, h, s, p) -> (b, c, h, l, s)>
#x = affine_map<(b, c, l, h, s, p) -> (b, c, s, h, p)>
#yd = affine_map<(b, c, l, h, s, p) -> (b, c, l, h, p)>
#cm = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, n)>
#sm = affine_map<(b, c, l, h, p, n) -> (b, c, h, p, n)>
#ys = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, p)>
#id5 = affine_map<(b, c, l, h, p) -> (b, c, l, h, p)>
#a5 = affine_map<(b, c, l, h, p) -> (b, c, l, h)>
module attributes {ssm.model = {dtype = bf16}} {
func.func @sibling_sums_bf16(%W: memref<?x?x32x128x128xbf16>, %X: memref<?x?x128x32x128xbf16>,
                             %C: memref<?x?x128x32x64xbf16>, %S: memref<?x?x32x128x64xbf16>,
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
      ins(%C, %S : memref<?x?x128x32x64xbf16>, memref<?x?x32x128x64xbf16>) outs(%sc : memref<?x?x128x32x128xf32>) {
  ^bb0(%cv: bf16, %sv: bf16, %acc: f32):
    %0 = arith.extf %cv : bf16 to f32
    %1 = arith.extf %sv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
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
}

// -----

// The scan's W made in the output kernel (fuse-produced-side): W = C B^T
// times the masked decay, rounded, is written by the elementwise consumer
// of the C B^T contraction and read only by Y_diag (the sibling's i side).
// One kernel: C B^T over the block's 64 rows and each 64-wide tile of s
// below the causal end (staged through S . C's tiles, same layouts), the
// consumer applied, and the rounded factors stored in a resident
// [64][128 + 8] tile; Y_diag's fragments read it at the slice's k0. Neither
// C B^T's sums nor W reach global memory; the x side still stages.
// Without it (the default), C B^T and its consumer are a kernel of their
// own, W goes through global memory.
// CHECK-LABEL: func.func @produced_side_bf16
// CHECK: memref.alloc{{.*}} : memref<?x?x32x128x128xbf16>
// CHECK-COUNT-2: gpu.launch
// PRODUCED-LABEL: func.func @produced_side_bf16
// PRODUCED: gpu.launch
// PRODUCED-SAME: workgroup(%[[T0:[^ ]*]] : memref<64x40xbf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>, %[[RES:[^ ]*]] : memref<64x136xbf16, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<32x72xbf16, #gpu.address_space<workgroup>>)
// PRODUCED-NOT: gpu.launch
// PRODUCED: scf.for %[[J0:[^ ]*]] = %{{.*}} to %{{.*}} step %c64
// PRODUCED: nvvm.mma.sync
// PRODUCED: math.exp
// PRODUCED: memref.store %{{.*}}, %[[RES]][%{{.*}}, %{{.*}}] : memref<64x136xbf16, #gpu.address_space<workgroup>>
// PRODUCED: gpu.barrier
// PRODUCED: nvvm.mma.sync
// PRODUCED: memref.extract_aligned_pointer_as_index %[[RES]]
// PRODUCED: nvvm.ldmatrix
// PRODUCED-NOT: memref.alloc
// PRODUCED: return
#cb_c = affine_map<(b, c, l, s, h, n) -> (b, c, l, h, n)>
#cb_b = affine_map<(b, c, l, s, h, n) -> (b, c, s, h, n)>
#cb_o = affine_map<(b, c, l, s, h, n) -> (b, c, h, l, s)>
#id5w = affine_map<(b, c, h, l, s) -> (b, c, h, l, s)>
#al = affine_map<(b, c, h, l, s) -> (b, c, l, h)>
#as = affine_map<(b, c, h, l, s) -> (b, c, s, h)>
#w2 = affine_map<(b, c, l, h, s, p) -> (b, c, h, l, s)>
#x2 = affine_map<(b, c, l, h, s, p) -> (b, c, s, h, p)>
#yd2 = affine_map<(b, c, l, h, s, p) -> (b, c, l, h, p)>
#cm2 = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, n)>
#sm2 = affine_map<(b, c, l, h, p, n) -> (b, c, h, p, n)>
#ys2 = affine_map<(b, c, l, h, p, n) -> (b, c, l, h, p)>
#id5y = affine_map<(b, c, l, h, p) -> (b, c, l, h, p)>
#a5y = affine_map<(b, c, l, h, p) -> (b, c, l, h)>
module attributes {ssm.model = {dtype = bf16}} {
func.func @produced_side_bf16(%X: memref<?x?x128x32x128xbf16>, %C: memref<?x?x128x32x64xbf16>,
                              %B: memref<?x?x128x32x64xbf16>, %S: memref<?x?x32x128x64xbf16>,
                              %acum: memref<?x?x128x32xf32>, %y: memref<?x?x128x32x128xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %X, %c0 : memref<?x?x128x32x128xbf16>
  %n = memref.dim %X, %c1 : memref<?x?x128x32x128xbf16>
  %cb = memref.alloc(%b, %n) : memref<?x?x32x128x128xf32>
  linalg.fill ins(%zero : f32) outs(%cb : memref<?x?x32x128x128xf32>)
  linalg.generic {indexing_maps = [#cb_c, #cb_b, #cb_o],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %B : memref<?x?x128x32x64xbf16>, memref<?x?x128x32x64xbf16>) outs(%cb : memref<?x?x32x128x128xf32>) {
  ^bb0(%cv: bf16, %bv: bf16, %acc: f32):
    %0 = arith.extf %cv : bf16 to f32
    %1 = arith.extf %bv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  %W = memref.alloc(%b, %n) : memref<?x?x32x128x128xbf16>
  linalg.generic {indexing_maps = [#al, #as, #id5w, #id5w], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%acum, %acum, %cb : memref<?x?x128x32xf32>, memref<?x?x128x32xf32>, memref<?x?x32x128x128xf32>)
      outs(%W : memref<?x?x32x128x128xbf16>) {
  ^bb0(%al: f32, %as: f32, %v: f32, %o: bf16):
    %l = linalg.index 3 : index
    %s = linalg.index 4 : index
    %causal = arith.cmpi ule, %s, %l : index
    %0 = arith.subf %al, %as : f32
    %1 = arith.select %causal, %0, %zero : f32
    %2 = math.exp %1 : f32
    %3 = arith.mulf %v, %2 : f32
    %4 = arith.select %causal, %3, %zero : f32
    %5 = arith.truncf %4 : f32 to bf16
    linalg.yield %5 : bf16
  }
  %yd = memref.alloc(%b, %n) : memref<?x?x128x32x128xf32>
  linalg.fill ins(%zero : f32) outs(%yd : memref<?x?x128x32x128xf32>)
  linalg.generic {indexing_maps = [#w2, #x2, #yd2],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "parallel"]}
      ins(%W, %X : memref<?x?x32x128x128xbf16>, memref<?x?x128x32x128xbf16>) outs(%yd : memref<?x?x128x32x128xf32>) {
  ^bb0(%wv: bf16, %xv: bf16, %acc: f32):
    %l = linalg.index 2 : index
    %s = linalg.index 4 : index
    %causal = arith.cmpi ule, %s, %l : index
    %0 = arith.extf %wv : bf16 to f32
    %1 = arith.select %causal, %0, %zero : f32
    %2 = arith.extf %xv : bf16 to f32
    %3 = arith.mulf %1, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  %sc = memref.alloc(%b, %n) : memref<?x?x128x32x128xf32>
  linalg.fill ins(%zero : f32) outs(%sc : memref<?x?x128x32x128xf32>)
  linalg.generic {indexing_maps = [#cm2, #sm2, #ys2],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%C, %S : memref<?x?x128x32x64xbf16>, memref<?x?x32x128x64xbf16>) outs(%sc : memref<?x?x128x32x128xf32>) {
  ^bb0(%cv: bf16, %sv: bf16, %acc: f32):
    %0 = arith.extf %cv : bf16 to f32
    %1 = arith.extf %sv : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#id5y, #id5y, #a5y, #id5y], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%yd, %sc, %acum : memref<?x?x128x32x128xf32>, memref<?x?x128x32x128xf32>, memref<?x?x128x32xf32>)
      outs(%y : memref<?x?x128x32x128xbf16>) {
  ^bb0(%d: f32, %s: f32, %a: f32, %o: bf16):
    %0 = math.exp %a : f32
    %1 = arith.mulf %0, %s : f32
    %2 = arith.addf %d, %1 : f32
    %3 = arith.truncf %2 : f32 to bf16
    linalg.yield %3 : bf16
  }
  memref.dealloc %cb : memref<?x?x32x128x128xf32>
  memref.dealloc %W : memref<?x?x32x128x128xbf16>
  memref.dealloc %yd : memref<?x?x128x32x128xf32>
  memref.dealloc %sc : memref<?x?x128x32x128xf32>
  return
}
}
