// Numerical check of ssm-vectorize-projections: the same projection lowered
// with and without the pass prints the same values. Six activation rows (not
// a multiple of the 4-row register block), ten weight rows (not a multiple of
// the 3-row block), k = 32 (four 8-lane vectors); bf16 weights widened in
// registers. Inputs are small integers, so every sum is exact in f32.
// RUN: ssmc-opt %s -ssm-vectorize-projections -convert-linalg-to-loops \
// RUN:   -lower-affine -convert-scf-to-cf -expand-strided-metadata -convert-vector-to-llvm \
// RUN:   -finalize-memref-to-llvm -convert-math-to-llvm -convert-arith-to-llvm \
// RUN:   -convert-func-to-llvm -convert-cf-to-llvm -reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_libs \
// RUN: | FileCheck %s
// RUN: ssmc-opt %s -convert-linalg-to-loops \
// RUN:   -lower-affine -convert-scf-to-cf -expand-strided-metadata -convert-vector-to-llvm \
// RUN:   -finalize-memref-to-llvm -convert-math-to-llvm -convert-arith-to-llvm \
// RUN:   -convert-func-to-llvm -convert-cf-to-llvm -reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_libs \
// RUN: | FileCheck %s

// Expected values computed independently (Python, exact integers + 0.5):
// CHECK: sizes = [2, 3, 10]
// CHECK: [42.5,{{ +}}2.5,{{ +}}-4.5,{{ +}}10.5,{{ +}}-7.5,{{ +}}-25.5,{{ +}}-32.5,{{ +}}4.5,{{ +}}19.5,{{ +}}-9.5]
// CHECK: [2.5,{{ +}}42.5,{{ +}}5.5,{{ +}}-9.5,{{ +}}19.5,{{ +}}4.5,{{ +}}-32.5,{{ +}}-25.5,{{ +}}-7.5,{{ +}}10.5]
// CHECK: [4.5,{{ +}}-15.5,{{ +}}8.5,{{ +}}54.5,{{ +}}-9.5,{{ +}}-7.5,{{ +}}16.5,{{ +}}7.5,{{ +}}-34.5,{{ +}}-32.5]
// CHECK: [24.5,{{ +}}-14.5,{{ +}}-31.5,{{ +}}-26.5,{{ +}}22.5,{{ +}}5.5,{{ +}}-11.5,{{ +}}15.5,{{ +}}31.5,{{ +}}-7.5]
// CHECK: [-15.5,{{ +}}4.5,{{ +}}13.5,{{ +}}-32.5,{{ +}}-34.5,{{ +}}7.5,{{ +}}16.5,{{ +}}-7.5,{{ +}}-9.5,{{ +}}54.5]
// CHECK: [42.5,{{ +}}2.5,{{ +}}-4.5,{{ +}}10.5,{{ +}}-7.5,{{ +}}-25.5,{{ +}}-32.5,{{ +}}4.5,{{ +}}19.5,{{ +}}-9.5]

func.func private @printMemrefF32(memref<*xf32>)

func.func @main() {
  %x = memref.alloc() : memref<2x3x32xbf16>
  %w = memref.alloc() : memref<10x32xbf16>
  %out = memref.alloc() : memref<2x3x10xf32>
  // x[b, l, k] = (3 l + k + b) mod 7 - 3, w[n, k] = (3 n + 2 k) mod 11 - 5.
  linalg.generic {indexing_maps = [affine_map<(b, l, k) -> (b, l, k)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      outs(%x : memref<2x3x32xbf16>) {
  ^bb0(%o: bf16):
    %b = linalg.index 0 : index
    %l = linalg.index 1 : index
    %k = linalg.index 2 : index
    %c3 = arith.constant 3 : index
    %c7 = arith.constant 7 : index
    %l3 = arith.muli %l, %c3 : index
    %s0 = arith.addi %l3, %k : index
    %s1 = arith.addi %s0, %b : index
    %m = arith.remui %s1, %c7 : index
    %i = arith.index_cast %m : index to i32
    %f = arith.sitofp %i : i32 to f32
    %c = arith.constant 3.0 : f32
    %v = arith.subf %f, %c : f32
    %h = arith.truncf %v : f32 to bf16
    linalg.yield %h : bf16
  }
  linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>],
                  iterator_types = ["parallel", "parallel"]}
      outs(%w : memref<10x32xbf16>) {
  ^bb0(%o: bf16):
    %n = linalg.index 0 : index
    %k = linalg.index 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %c11 = arith.constant 11 : index
    %k2 = arith.muli %k, %c2 : index
    %n3 = arith.muli %n, %c3 : index
    %s = arith.addi %n3, %k2 : index
    %m = arith.remui %s, %c11 : index
    %i = arith.index_cast %m : index to i32
    %f = arith.sitofp %i : i32 to f32
    %c = arith.constant 5.0 : f32
    %v = arith.subf %f, %c : f32
    %h = arith.truncf %v : f32 to bf16
    linalg.yield %h : bf16
  }
  // The accumulator starts at 0.5: the projection adds to what is there.
  %half = arith.constant 0.5 : f32
  linalg.fill ins(%half : f32) outs(%out : memref<2x3x10xf32>)
  linalg.generic {indexing_maps = [affine_map<(b, l, n, k) -> (b, l, k)>,
                                   affine_map<(b, l, n, k) -> (n, k)>,
                                   affine_map<(b, l, n, k) -> (b, l, n)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x3x32xbf16>, memref<10x32xbf16>) outs(%out : memref<2x3x10xf32>) {
  ^bb0(%a: bf16, %bw: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %bw : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  %u = memref.cast %out : memref<2x3x10xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}
