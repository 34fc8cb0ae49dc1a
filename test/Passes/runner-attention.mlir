// Numerical check of the ssm.attention lowering of convert-ssm-to-linalg:
// lower to LLVM with upstream passes, run with mlir-runner and compare with
// values computed by hand. The KV cache crosses the function boundary as
// !ssm.kv_cache (so its conversion to [batch, capacity, K/V, head, dim] runs
// on the signature too); @main builds and reads it through
// unrealized_conversion_cast, folded by the reconcile pass.
// RUN: ssmc-opt %s -convert-ssm-to-linalg -reconcile-unrealized-casts \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries" -convert-linalg-to-loops \
// RUN:   -convert-scf-to-cf -expand-strided-metadata -lower-affine -finalize-memref-to-llvm \
// RUN:   -convert-math-to-llvm -convert-arith-to-llvm -convert-func-to-llvm -convert-cf-to-llvm \
// RUN:   -reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_libs \
// RUN: | FileCheck %s

func.func private @printMemrefF32(memref<*xf32>)

func.func @print3(%t: tensor<?x?x4xf32>) {
  %m = bufferization.to_buffer %t : tensor<?x?x4xf32> to memref<?x?x4xf32>
  %u = memref.cast %m : memref<?x?x4xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @print5(%t: tensor<?x?x2x1x2xf32>) {
  %m = bufferization.to_buffer %t : tensor<?x?x2x1x2xf32> to memref<?x?x2x1x2xf32>
  %u = memref.cast %m : memref<?x?x2x1x2xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

// Model dim 4, heads 2, kv_heads 1, head_dim 2, RoPE over both dims (one
// frequency, theta^0 = 1, so position p rotates by p radians).
// Wq = I: q head 0 = x[0:2], q head 1 = x[2:4]; Wk picks x[0:2], Wv picks
// x[2:4]; Wo = I, so the result is the context of both heads.
func.func @attn(%x: tensor<?x?x4xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>,
                %kv: !ssm.kv_cache<1x2xf32>) -> (tensor<?x?x4xf32>, !ssm.kv_cache<1x2xf32>) {
  %eye = arith.constant dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0],
                               [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]> : tensor<4x4xf32>
  %wk = arith.constant dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]> : tensor<2x4xf32>
  %wv = arith.constant dense<[[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]> : tensor<2x4xf32>
  %y, %kvo = ssm.attention %x, lengths %len, positions %pos, cache %kv,
      weights(%eye, %wk, %wv, %eye) <heads = 2, kv_heads = 1, head_dim = 2, rope = <theta = 10000.0, dim = 2>>
      : (tensor<?x?x4xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<1x2xf32>, tensor<4x4xf32>,
         tensor<2x4xf32>, tensor<2x4xf32>, tensor<4x4xf32>) -> (tensor<?x?x4xf32>, !ssm.kv_cache<1x2xf32>)
  return %y, %kvo : tensor<?x?x4xf32>, !ssm.kv_cache<1x2xf32>
}

func.func @main() {
  // Call 1: empty cache of capacity 4, tokens x0 = [1, 0, 1, 2] and
  // x1 = [0, 1, 3, 4] at positions 0 and 1. With c = cos 1 = 0.540302,
  // s = sin 1 = 0.841471, rotating (a, b) by 1 rad gives (a c - b s, b c + a s):
  //   k0 = (1, 0), v0 = (1, 2);  k1 = rot(0, 1) = (-s, c) = (-0.841471, 0.540302), v1 = (3, 4)
  //   token 0 sees only position 0: both heads' context is v0 -> [1, 2, 1, 2]
  //   token 1, head 0: q = (-s, c); q.k0 = -s, q.k1 = s^2 + c^2 = 1; scaled by
  //     1/sqrt(2): logits -0.595010, 0.707107; p1 = 1 / (1 + e^-1.302117) = 0.786191
  //     context = v0 + p1 (v1 - v0) = (1 + 2 p1, 2 + 2 p1) = (2.572382, 3.572382)
  //   token 1, head 1: q = rot(3, 4) = (3c - 4s, 4c + 3s) = (-1.744977, 4.685622);
  //     q.k0 = -1.744977, q.k1 = 4 (rotation keeps 3*0 + 4*1); logits -1.233885,
  //     2.828427; p1 = 1 / (1 + e^-4.062312) = 0.983082 -> (2.966164, 3.966164)
  // CHECK-LABEL: sizes = [1, 2, 4]
  // CHECK-NEXT: {{\[\[\[}}1,{{ +}}2,{{ +}}1,{{ +}}2],
  // CHECK-NEXT: [2.57238{{[0-9]*}},{{ +}}3.57238{{[0-9]*}},{{ +}}2.96616{{[0-9]*}},{{ +}}3.96616{{[0-9]*}}]]]
  %x = arith.constant dense<[[[1.0, 0.0, 1.0, 2.0], [0.0, 1.0, 3.0, 4.0]]]> : tensor<1x2x4xf32>
  %xd = tensor.cast %x : tensor<1x2x4xf32> to tensor<?x?x4xf32>
  %len = arith.constant dense<2> : tensor<1xi32>
  %lend = tensor.cast %len : tensor<1xi32> to tensor<?xi32>
  %pos = arith.constant dense<0> : tensor<1xi64>
  %posd = tensor.cast %pos : tensor<1xi64> to tensor<?xi64>
  %empty = arith.constant dense<0.0> : tensor<1x4x2x1x2xf32>
  %cd = tensor.cast %empty : tensor<1x4x2x1x2xf32> to tensor<?x?x2x1x2xf32>
  %c = builtin.unrealized_conversion_cast %cd : tensor<?x?x2x1x2xf32> to !ssm.kv_cache<1x2xf32>
  %y, %kv1 = func.call @attn(%xd, %lend, %posd, %c)
      : (tensor<?x?x4xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<1x2xf32>)
      -> (tensor<?x?x4xf32>, !ssm.kv_cache<1x2xf32>)
  func.call @print3(%y) : (tensor<?x?x4xf32>) -> ()

  // Call 2: one token x2 = [1, 1, 0, 2] at position 2 (cos 2 = -0.416147,
  // sin 2 = 0.909297) reading positions 0 and 1 from the cache:
  //   k2 = rot2(1, 1) = (-1.325444, 0.493151), v2 = (0, 2)
  //   head 0: q = k2; q.k0 = -1.325444, q.k1 = 1.381773, q.k2 = |(1, 1)|^2 = 2;
  //     logits -0.937231, 0.977061, 1.414214 -> p = 0.054696, 0.370956, 0.574348
  //     context = p0 (1, 2) + p1 (3, 4) + p2 (0, 2) = (1.167564, 2.741912)
  //   head 1: q = rot2(0, 2) = (-1.818595, -0.832294); q.k0 = -1.818595,
  //     q.k1 = 1.080605, q.k2 = 2; logits -1.285941, 0.764103, 1.414214
  //     -> p = 0.042283, 0.328463, 0.629254; context = (1.027672, 2.656926)
  // The cache then holds K/V of positions 0..2 and still zeros at 3.
  // CHECK-LABEL: sizes = [1, 1, 4]
  // CHECK-NEXT: {{\[\[\[}}1.16756{{[0-9]*}},{{ +}}2.74191{{[0-9]*}},{{ +}}1.02767{{[0-9]*}},{{ +}}2.6569{{[0-9]*}}]]]
  // CHECK-LABEL: sizes = [1, 4, 2, 1, 2]
  // CHECK-NEXT: {{\[\[\[\[\[}}1,{{ +}}0]],
  // CHECK-NEXT: {{\[\[}}1,{{ +}}2]]],
  // CHECK-NEXT: {{\[\[\[}}-0.841471,{{ +}}0.540302]],
  // CHECK-NEXT: {{\[\[}}3,{{ +}}4]]],
  // CHECK-NEXT: {{\[\[\[}}-1.32544,{{ +}}0.49315{{[0-9]*}}]],
  // CHECK-NEXT: {{\[\[}}0,{{ +}}2]]],
  // CHECK-NEXT: {{\[\[\[}}0,{{ +}}0]],
  // CHECK-NEXT: {{\[\[}}0,{{ +}}0]]]]]
  %x2 = arith.constant dense<[[[1.0, 1.0, 0.0, 2.0]]]> : tensor<1x1x4xf32>
  %x2d = tensor.cast %x2 : tensor<1x1x4xf32> to tensor<?x?x4xf32>
  %len2 = arith.constant dense<1> : tensor<1xi32>
  %len2d = tensor.cast %len2 : tensor<1xi32> to tensor<?xi32>
  %pos2 = arith.constant dense<2> : tensor<1xi64>
  %pos2d = tensor.cast %pos2 : tensor<1xi64> to tensor<?xi64>
  %y2, %kv2 = func.call @attn(%x2d, %len2d, %pos2d, %kv1)
      : (tensor<?x?x4xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<1x2xf32>)
      -> (tensor<?x?x4xf32>, !ssm.kv_cache<1x2xf32>)
  func.call @print3(%y2) : (tensor<?x?x4xf32>) -> ()
  %kv2t = builtin.unrealized_conversion_cast %kv2 : !ssm.kv_cache<1x2xf32> to tensor<?x?x2x1x2xf32>
  func.call @print5(%kv2t) : (tensor<?x?x2x1x2xf32>) -> ()
  return
}
