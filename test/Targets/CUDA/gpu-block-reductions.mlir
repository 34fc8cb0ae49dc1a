// RUN: ssmc-opt %s -split-input-file -ssm-gpu-block-reductions | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-block-reductions=min-extent=4096 | FileCheck %s --check-prefix=SHORT
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-block-reductions -gpu-kernel-outlining -ssm-gpu-lower-all-reduce | FileCheck %s --check-prefix=LOWER

#in = affine_map<(b, l, d) -> (b, l, d)>
#out = affine_map<(b, l, d) -> (b, l)>

// A norm's sum of squares over 2048 elements per token: one block of 256
// threads per token; threads stride d by 256 and sum in a register, then
// gpu.all_reduce; thread 0 adds the total to the output.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[L:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[P:.*]] = arith.muli %{{.*}}, %[[L]]
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in ({{.*}} = %[[P]], {{.*}}) threads(%[[TID:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %c256
// CHECK: scf.for %[[D:.*]] = %[[TID]] to %c2048 step %c256{{.*}} iter_args
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %[[D]]] : memref<?x?x2048xbf16>
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: gpu.all_reduce  add %{{.*}} uniform
// CHECK: arith.cmpi eq, %[[TID]], %c0
// CHECK: memref.load %{{.*}} : memref<?x?xf32>
// CHECK: memref.store
// CHECK-NOT: linalg.generic
// LOWER-LABEL: gpu.func @sum_of_squares_kernel
// LOWER-SAME: workgroup(
// LOWER: gpu.shuffle  xor
// LOWER: gpu.barrier
// LOWER-NOT: gpu.all_reduce
// Below min-extent the reduced dimension (innermost in x) takes one warp per
// output: 8 warps per block, lanes stride d by 32, a shuffle tree.
// SHORT-LABEL: func.func @sum_of_squares
// SHORT: %[[L:.*]] = memref.dim %{{.*}}, %c1
// SHORT: %[[P:.*]] = arith.muli %{{.*}}, %[[L]]
// SHORT: %[[BLOCKS:.*]] = arith.ceildivui %[[P]], %c8
// SHORT: gpu.launch blocks({{.*}}) in ({{.*}} = %[[BLOCKS]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256
// SHORT: %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// SHORT: arith.cmpi ult
// SHORT: scf.if
// SHORT: scf.for %{{.*}} = %[[LANE]] to %c2048{{.*}} step %c32
// SHORT-COUNT-5: gpu.shuffle  xor
// SHORT-NOT: gpu.all_reduce
// SHORT: memref.store
// SHORT: gpu.terminator
// SHORT-NEXT: }
// SHORT-NEXT: return
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

// -----

#c = affine_map<(l, s, n) -> (l, n)>
#b = affine_map<(l, s, n) -> (s, n)>
#o = affine_map<(l, s, n) -> (l, s)>
#t = affine_map<(l, s, n) -> (n, s)>

// The scan's C B^T: a dynamic number of outputs, 64 terms each over n, the
// innermost index of both inputs: one warp per output, and the zero fill
// before it is folded (the sum is stored, not added). The same contraction
// reading B transposed (n not innermost) stays with the generic lowering.
// CHECK-LABEL: func.func @contraction
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK: scf.for {{.*}} to %c64{{.*}} step %c32
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK-NOT: memref.load %{{.*}} : memref<?x?xf32>
// CHECK: memref.store %{{.*}} : memref<?x?xf32>
// CHECK: linalg.fill
// CHECK-NEXT: linalg.generic
func.func @contraction(%cm: memref<?x64xbf16>, %bm: memref<?x64xbf16>, %bt: memref<64x?xbf16>, %out: memref<?x?xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x?xf32>)
  linalg.generic {indexing_maps = [#c, #b, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%cm, %bm : memref<?x64xbf16>, memref<?x64xbf16>) outs(%out : memref<?x?xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.fill ins(%zero : f32) outs(%out : memref<?x?xf32>)
  linalg.generic {indexing_maps = [#c, #t, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%cm, %bt : memref<?x64xbf16>, memref<64x?xbf16>) outs(%out : memref<?x?xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
