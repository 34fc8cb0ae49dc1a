// RUN: ssmc-opt %s -ssm-gpu-parallel-dims-first | FileCheck %s
// RUN: ssmc-opt %s -ssm-gpu-parallel-dims-first -convert-linalg-to-parallel-loops | FileCheck %s --check-prefix=LOOPS

// The scan's state update: a reduction over chunk positions l between the
// parallel (b, h) and (p, n). Interchanged, the four parallel dimensions
// come first and l last, so one parallel loop covers every output element.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d4, d1, d2)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @state_update
// CHECK: linalg.generic {indexing_maps = [#[[X]], #{{.*}}, #[[S]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// LOOPS-LABEL: func.func @state_update
// LOOPS: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) =
// LOOPS-NEXT: scf.for
// LOOPS-NOT: scf.parallel
#x = affine_map<(b, h, l, p, n) -> (b, l, h, p)>
#bm = affine_map<(b, h, l, p, n) -> (b, l, h, n)>
#s = affine_map<(b, h, l, p, n) -> (b, h, p, n)>
func.func @state_update(%x: memref<?x?x4x8xf32>, %bm: memref<?x?x4x16xf32>, %s: memref<?x4x8x16xf32>) {
  linalg.generic {indexing_maps = [#x, #bm, #s], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]}
      ins(%x, %bm : memref<?x?x4x8xf32>, memref<?x?x4x16xf32>) outs(%s : memref<?x4x8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}
