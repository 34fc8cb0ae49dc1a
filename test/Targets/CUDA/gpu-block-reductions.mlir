// RUN: ssmc-opt %s -split-input-file -ssm-gpu-block-reductions | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-block-reductions=min-extent=4096 | FileCheck %s --check-prefix=SHORT
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-block-reductions -gpu-kernel-outlining -ssm-gpu-lower-all-reduce | FileCheck %s --check-prefix=LOWER

#in = affine_map<(b, l, d) -> (b, l, d)>
#out = affine_map<(b, l, d) -> (b, l)>

// A norm's sum of squares over 2048 elements per token: one block of 256
// threads per token; threads stride d by 256 and sum in a register (8
// steps, unrolled: the 8 loads issue together), then gpu.all_reduce; every
// thread adds the total to the output, thread 0 stores it.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[L:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[P:.*]] = arith.muli %{{.*}}, %[[L]]
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in ({{.*}} = %[[P]], {{.*}}) threads(%[[TID:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %c256
// CHECK-NOT: scf.for
// CHECK: %[[D0:.*]] = arith.addi %[[TID]], %{{.*}} : index
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %[[D0]]] : memref<?x?x2048xbf16>
// CHECK-COUNT-7: memref.load %{{.*}} : memref<?x?x2048xbf16>
// CHECK-NOT: memref.load %{{.*}} : memref<?x?x2048xbf16>
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: gpu.all_reduce  add %{{.*}} uniform
// CHECK: memref.load %{{.*}} : memref<?x?xf32>
// CHECK: arith.cmpi eq, %[[TID]], %c0
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
// CHECK-NOT: scf.for
// CHECK-COUNT-4: memref.load %{{.*}} : memref<?x64xbf16>
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

// -----

// RMSNorm: the sum of squares into a zero-filled local buffer, then the
// scaling of the row by rsqrt(mean + eps) and the weight. The fill and the
// scaling fold into the reduction's kernel: after gpu.all_reduce every
// thread of the row's block scales every 256th element of the row (8 per
// thread, unrolled).
// CHECK-LABEL: func.func @rms_norm
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch blocks({{.*}}) threads(%[[TID:[^,]*]], {{.*}}) in ({{.*}} = %c256
// CHECK: gpu.all_reduce  add
// CHECK: scf.if
// CHECK: memref.store
// CHECK: }
// CHECK-NOT: scf.for
// CHECK: %[[D:.*]] = arith.addi %[[TID]], %{{.*}} : index
// CHECK: memref.load %{{.*}}[%[[D]]] : memref<2048xbf16>
// CHECK: math.rsqrt
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[D]]] : memref<?x?x2048xbf16>
// CHECK-COUNT-7: memref.store %{{.*}} : memref<?x?x2048xbf16>
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// SHORT-LABEL: func.func @rms_norm
// SHORT: gpu.launch
// SHORT-COUNT-5: gpu.shuffle  xor
// SHORT: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// SHORT: math.rsqrt
// SHORT-NOT: linalg.generic
#in = affine_map<(b, l, d) -> (b, l, d)>
#out = affine_map<(b, l, d) -> (b, l)>
#row = affine_map<(b, l, d) -> (b, l)>
#weight = affine_map<(b, l, d) -> (d)>
func.func @rms_norm(%x: memref<?x?x2048xbf16>, %w: memref<2048xbf16>) -> memref<?x?x2048xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 2048.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %x, %c0 : memref<?x?x2048xbf16>
  %l = memref.dim %x, %c1 : memref<?x?x2048xbf16>
  %sum = memref.alloc(%b, %l) : memref<?x?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x?xf32>)
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x?x2048xbf16>) outs(%sum : memref<?x?xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  }
  %scaled = memref.alloc(%b, %l) : memref<?x?x2048xbf16>
  linalg.generic {indexing_maps = [#in, #row, #weight, #in], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %sum, %w : memref<?x?x2048xbf16>, memref<?x?xf32>, memref<2048xbf16>)
      outs(%scaled : memref<?x?x2048xbf16>) {
  ^bb0(%a: bf16, %s: f32, %g: bf16, %o: bf16):
    %mean = arith.divf %s, %n : f32
    %var = arith.addf %mean, %eps : f32
    %r = math.rsqrt %var : f32
    %af = arith.extf %a : bf16 to f32
    %y = arith.mulf %af, %r : f32
    %yb = arith.truncf %y : f32 to bf16
    %z = arith.mulf %yb, %g : bf16
    linalg.yield %z : bf16
  }
  memref.dealloc %sum : memref<?x?xf32>
  return %scaled : memref<?x?x2048xbf16>
}

// -----

// A consumer that reads the sum at the same indices (the scan's output after
// its S . C contraction) runs in lane 0 of the sum's warp.
// SHORT-LABEL: func.func @sum_then_scale
// SHORT: gpu.launch
// SHORT-COUNT-5: gpu.shuffle  xor
// SHORT: scf.if
// SHORT: memref.store %{{.*}} : memref<?x16xf32>
// SHORT: math.exp
// SHORT: memref.store %{{.*}} : memref<?x16xbf16>
// SHORT-NEXT: }
// SHORT-NEXT: }
// SHORT-NOT: linalg.generic
#in2 = affine_map<(b, p, n) -> (b, p, n)>
#out2 = affine_map<(b, p, n) -> (b, p)>
#id2 = affine_map<(b, p) -> (b, p)>
func.func @sum_then_scale(%s: memref<?x16x64xf32>, %c: memref<?x16xf32>) -> memref<?x16xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %s, %c0 : memref<?x16x64xf32>
  %acc = memref.alloc(%b) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x16xf32>)
  linalg.generic {indexing_maps = [#in2, #out2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%s : memref<?x16x64xf32>) outs(%acc : memref<?x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.addf %o, %a : f32
    linalg.yield %0 : f32
  }
  %y = memref.alloc(%b) : memref<?x16xbf16>
  linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%acc, %c : memref<?x16xf32>, memref<?x16xf32>) outs(%y : memref<?x16xbf16>) {
  ^bb0(%a: f32, %e: f32, %o: bf16):
    %0 = math.exp %e : f32
    %1 = arith.mulf %a, %0 : f32
    %2 = arith.truncf %1 : f32 to bf16
    linalg.yield %2 : bf16
  }
  memref.dealloc %acc : memref<?x16xf32>
  return %y : memref<?x16xbf16>
}

// -----

// The decode step: the state updated in place, then y = S' . C. The update
// runs in the reduction's kernel: each lane updates its state element (32
// terms: one step, unrolled), stores it and sums.
// SHORT-LABEL: func.func @update_then_sum
// SHORT: gpu.launch
// SHORT-NOT: scf.for
// SHORT: math.exp
// SHORT: memref.store %{{.*}} : memref<?x4x16x32xf32>
// SHORT: arith.mulf
// SHORT-COUNT-5: gpu.shuffle  xor
// SHORT-NOT: linalg.generic
#s4 = affine_map<(b, h, p, n) -> (b, h, p, n)>
#hd = affine_map<(b, h, p, n) -> (b, h)>
#cn = affine_map<(b, h, p, n) -> (b, h, n)>
#y3 = affine_map<(b, h, p, n) -> (b, h, p)>
func.func @update_then_sum(%S: memref<?x4x16x32xf32>, %la: memref<?x4xf32>, %C: memref<?x4x32xf32>) -> memref<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#hd, #s4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%la : memref<?x4xf32>) outs(%S : memref<?x4x16x32xf32>) {
  ^bb0(%a: f32, %s: f32):
    %0 = math.exp %a : f32
    %1 = arith.mulf %0, %s : f32
    linalg.yield %1 : f32
  }
  %b = memref.dim %S, %c0 : memref<?x4x16x32xf32>
  %y = memref.alloc(%b) : memref<?x4x16xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x4x16xf32>)
  linalg.generic {indexing_maps = [#s4, #cn, #y3], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%S, %C : memref<?x4x16x32xf32>, memref<?x4x32xf32>) outs(%y : memref<?x4x16xf32>) {
  ^bb0(%s: f32, %c: f32, %acc: f32):
    %0 = arith.mulf %s, %c : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return %y : memref<?x4x16xf32>
}
