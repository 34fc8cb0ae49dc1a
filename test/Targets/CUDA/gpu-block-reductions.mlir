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
// SHORT-LABEL: func.func @sum_of_squares
// SHORT-NOT: gpu.launch
// SHORT: linalg.generic
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
