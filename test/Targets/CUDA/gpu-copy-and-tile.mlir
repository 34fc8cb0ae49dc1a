// RUN: ssmc-opt %s -split-input-file -ssm-gpu-copy-to-linalg | FileCheck %s --check-prefix=COPY
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-copy-to-linalg -convert-linalg-to-parallel-loops -ssm-gpu-tile-parallel-loops=block-size=128 | FileCheck %s --check-prefix=TILE
// RUN: not ssmc-opt %s -split-input-file -ssm-gpu-tile-parallel-loops=block-size=2048 2>&1 | FileCheck %s --check-prefix=BAD

// A strided copy becomes linalg.copy, then one parallel loop over all
// elements: collapsed to one dimension and split into blocks of 128 threads
// (constant inner bound, guarded).
// COPY-LABEL: func.func @copy
// COPY-NOT: memref.copy
// COPY: linalg.copy ins(%{{.*}} : memref<?x8xf32, strided<[16, 1]>>) outs(%{{.*}} : memref<?x8xf32>)
// TILE-LABEL: func.func @copy
// TILE: %[[N:.*]] = arith.muli %{{.*}}, %c8
// TILE: %[[STEP:.*]] = arith.muli %{{.*}}, %c128 : index
// TILE: scf.parallel (%[[BLOCK:.*]]) = (%{{.*}}) to (%[[N]]) step (%[[STEP]])
// TILE-NEXT: scf.parallel (%[[T:.*]]) = (%{{.*}}) to (%[[STEP]]) step
// TILE: %[[I:.*]] = arith.addi %[[T]], %[[BLOCK]]
// TILE: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[N]]
// TILE: scf.if
// TILE: %[[COL:.*]] = arith.remsi %[[I]], %c8
// TILE: %[[ROW:.*]] = arith.divsi %[[I]], %c8
// TILE: memref.load %{{.*}}[%[[ROW]], %[[COL]]]
// TILE: memref.store
// TILE-NOT: scf.parallel
// BAD: block-size must be in [1, 1024]
func.func @copy(%a: memref<?x8xf32, strided<[16, 1]>>, %b: memref<?x8xf32>) {
  memref.copy %a, %b : memref<?x8xf32, strided<[16, 1]>> to memref<?x8xf32>
  return
}

// -----

// A reduction keeps its sequential loop inside the thread's body; only the
// parallel dimension is mapped.
// TILE-LABEL: func.func @rowsum
// TILE: scf.parallel
// TILE-NEXT: scf.parallel
// TILE: scf.if
// TILE: scf.for
// TILE: arith.addf
func.func @rowsum(%a: memref<?x64xf32>, %out: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, k) -> (i, k)>, affine_map<(i, k) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<?x64xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}
