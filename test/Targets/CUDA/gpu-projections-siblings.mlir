// RUN: ssmc-opt %s -split-input-file -ssm-gpu-projections | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -ssm-gpu-projections=merge-siblings=false | FileCheck %s --check-prefix=OFF

// The MLP's gate and up: two projections of the same x whose weights lie
// back to back in the weight buffer (64 rows of 256 bf16 = 32768 bytes
// apart) become one over a 128-row view; silu(gate) * up reads the two
// halves of its bf16 rounding (the truncf ops move into the projection's
// stores). One warp kernel instead of two.
// CHECK-LABEL: func.func @gate_up
// CHECK: %[[W:.*]] = memref.view %{{.*}}[%c1024][] : memref<?xi8> to memref<128x256xbf16>
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: memref.subview %[[R:.*]][0, 0, 0] [%{{.*}}, %{{.*}}, 64] [1, 1, 1]
// CHECK: memref.subview %[[R]][0, 0, 64] [%{{.*}}, %{{.*}}, 64] [1, 1, 1]
// CHECK: linalg.generic
// CHECK-SAME: memref<?x?x64xbf16, strided<[?, 128, 1]>>, memref<?x?x64xbf16, strided<[?, 128, 1], offset: 64>>
// CHECK-NOT: arith.truncf %{{.*}} : f32 to bf16
// CHECK: math.exp
// OFF-LABEL: func.func @gate_up
// OFF-NOT: memref<128x256xbf16>
#x = affine_map<(b, l, n, k) -> (b, l, k)>
#w = affine_map<(b, l, n, k) -> (n, k)>
#o = affine_map<(b, l, n, k) -> (b, l, n)>
#id = affine_map<(b, l, n) -> (b, l, n)>
func.func @gate_up(%weights: memref<?xi8>, %x: memref<?x?x256xbf16>, %y: memref<?x?x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1024 = arith.constant 1024 : index
  %c33792 = arith.constant 33792 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x256xbf16>
  %l = memref.dim %x, %c1 : memref<?x?x256xbf16>
  %wg = memref.view %weights[%c1024][] : memref<?xi8> to memref<64x256xbf16>
  %wu = memref.view %weights[%c33792][] : memref<?xi8> to memref<64x256xbf16>
  %g = memref.alloc(%b, %l) : memref<?x?x64xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<?x?x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %wg : memref<?x?x256xbf16>, memref<64x256xbf16>) outs(%g : memref<?x?x64xf32>) {
  ^bb0(%a: bf16, %v: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %v : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  %u = memref.alloc(%b, %l) : memref<?x?x64xf32>
  linalg.fill ins(%zero : f32) outs(%u : memref<?x?x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %wu : memref<?x?x256xbf16>, memref<64x256xbf16>) outs(%u : memref<?x?x64xf32>) {
  ^bb0(%a: bf16, %v: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %v : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %u : memref<?x?x64xf32>, memref<?x?x64xf32>) outs(%y : memref<?x?x64xbf16>) {
  ^bb0(%gv: f32, %uv: f32, %o: bf16):
    %gr = arith.truncf %gv : f32 to bf16
    %ur = arith.truncf %uv : f32 to bf16
    %ge = arith.extf %gr : bf16 to f32
    %n = arith.negf %ge : f32
    %e = math.exp %n : f32
    %d = arith.addf %e, %one : f32
    %s = arith.divf %ge, %d : f32
    %ue = arith.extf %ur : bf16 to f32
    %p = arith.mulf %s, %ue : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %g : memref<?x?x64xf32>
  memref.dealloc %u : memref<?x?x64xf32>
  return
}
