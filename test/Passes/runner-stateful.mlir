// Numerical check of the stateful lowerings of convert-ssm-to-linalg: lower
// to LLVM with upstream passes, run with mlir-runner and compare with values
// computed by hand. States cross function boundaries as !ssm types (so the
// signature, call and return conversions run too); @main builds and reads
// them through unrealized_conversion_cast, folded by the reconcile pass.
// RUN: ssmc-opt %s -convert-ssm-to-linalg -reconcile-unrealized-casts \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries" -convert-linalg-to-loops \
// RUN:   -convert-scf-to-cf -expand-strided-metadata -lower-affine -finalize-memref-to-llvm \
// RUN:   -convert-math-to-llvm -convert-arith-to-llvm -convert-func-to-llvm -convert-cf-to-llvm \
// RUN:   -reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_libs \
// RUN: | FileCheck %s

func.func private @printMemrefF32(memref<*xf32>)

func.func @print3(%t: tensor<?x?x?xf32>) {
  %m = bufferization.to_buffer %t : tensor<?x?x?xf32> to memref<?x?x?xf32>
  %u = memref.cast %m : memref<?x?x?xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @print2(%t: tensor<?x?xf32>) {
  %m = bufferization.to_buffer %t : tensor<?x?xf32> to memref<?x?xf32>
  %u = memref.cast %m : memref<?x?xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @print4(%t: tensor<?x?x?x?xf32>) {
  %m = bufferization.to_buffer %t : tensor<?x?x?x?xf32> to memref<?x?x?x?xf32>
  %u = memref.cast %m : memref<?x?x?x?xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @conv(%x: tensor<2x2x1xf32>, %len: tensor<2xi32>, %s: !ssm.conv_state<1x3xf32>)
    -> (tensor<2x2x1xf32>, !ssm.conv_state<1x3xf32>) {
  %w = arith.constant dense<[[[1.0, 2.0, 3.0]]]> : tensor<1x1x3xf32>
  %bias = arith.constant dense<0.5> : tensor<1xf32>
  %y, %so = ssm.causal_conv1d %x, lengths %len, state %s, weights(%w, %bias) activation <identity>
      : (tensor<2x2x1xf32>, tensor<2xi32>, !ssm.conv_state<1x3xf32>, tensor<1x1x3xf32>, tensor<1xf32>)
      -> (tensor<2x2x1xf32>, !ssm.conv_state<1x3xf32>)
  return %y, %so : tensor<2x2x1xf32>, !ssm.conv_state<1x3xf32>
}

func.func @conv_step(%x: tensor<1x1xf32>, %s: !ssm.conv_state<1x3xf32>)
    -> (tensor<1x1xf32>, !ssm.conv_state<1x3xf32>) {
  %w = arith.constant dense<[[[1.0, 2.0, 3.0]]]> : tensor<1x1x3xf32>
  %bias = arith.constant dense<-19.5> : tensor<1xf32>
  %y, %so = ssm.causal_conv1d_step %x, state %s, weights(%w, %bias) activation <silu>
      : (tensor<1x1xf32>, !ssm.conv_state<1x3xf32>, tensor<1x1x3xf32>, tensor<1xf32>)
      -> (tensor<1x1xf32>, !ssm.conv_state<1x3xf32>)
  return %y, %so : tensor<1x1xf32>, !ssm.conv_state<1x3xf32>
}

func.func @scan(%x: tensor<2x3x1x1xf32>, %la: tensor<2x3x1xf32>, %b: tensor<2x3x1x2xf32>,
                %c: tensor<2x3x1x2xf32>, %s: !ssm.ssm_state<1x1x2xf32>, %len: tensor<2xi32>,
                %dt: tensor<2x3x1xf32>, %d: tensor<1xf32>)
    -> (tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>) {
  %y, %so = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d
      : (tensor<2x3x1x1xf32>, tensor<2x3x1xf32>, tensor<2x3x1x2xf32>, tensor<2x3x1x2xf32>,
         !ssm.ssm_state<1x1x2xf32>, tensor<2xi32>, tensor<2x3x1xf32>, tensor<1xf32>)
      -> (tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>)
  return %y, %so : tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>
}

func.func @chunked(%x: tensor<2x3x1x1xf32>, %la: tensor<2x3x1xf32>, %b: tensor<2x3x1x2xf32>,
                   %c: tensor<2x3x1x2xf32>, %s: !ssm.ssm_state<1x1x2xf32>, %len: tensor<2xi32>,
                   %dt: tensor<2x3x1xf32>, %d: tensor<1xf32>)
    -> (tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 2
      : (tensor<2x3x1x1xf32>, tensor<2x3x1xf32>, tensor<2x3x1x2xf32>, tensor<2x3x1x2xf32>,
         !ssm.ssm_state<1x1x2xf32>, tensor<2xi32>, tensor<2x3x1xf32>, tensor<1xf32>)
      -> (tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>)
  return %y, %so : tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>
}

func.func @step(%x: tensor<1x1x1xf32>, %la: tensor<1x1xf32>, %b: tensor<1x1x2xf32>,
                %c: tensor<1x1x2xf32>, %s: !ssm.ssm_state<1x1x2xf32>, %dt: tensor<1x1xf32>,
                %d: tensor<1xf32>) -> (tensor<1x1x1xf32>, !ssm.ssm_state<1x1x2xf32>) {
  %y, %so = ssm.state_update %x, %la, %b, %c, state %s dt %dt skip %d
      : (tensor<1x1x1xf32>, tensor<1x1xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>,
         !ssm.ssm_state<1x1x2xf32>, tensor<1x1xf32>, tensor<1xf32>)
      -> (tensor<1x1x1xf32>, !ssm.ssm_state<1x1x2xf32>)
  return %y, %so : tensor<1x1x1xf32>, !ssm.ssm_state<1x1x2xf32>
}

func.func @main() {
  // causal_conv1d, C = 1, W = 3, w = [1, 2, 3], bias = 0.5, identity.
  // Sequence 0: state [1, 2, 3] (times -3, -2, -1), inputs [4, 5], length 2.
  //   y0 = 0.5 + 1*2 + 2*3 + 3*4 = 20.5;  y1 = 0.5 + 1*3 + 2*4 + 3*5 = 26.5
  //   new state = times -1, 0, 1 = [3, 4, 5]
  // Sequence 1: state [7, 8, 9], inputs [6, 100], length 1 (token 1 is padding).
  //   y0 = 0.5 + 1*8 + 2*9 + 3*6 = 44.5;  y1 is unspecified
  //   new state = times -2, -1, 0 = [8, 9, 6] (the padding input is not taken)
  // CHECK-LABEL: sizes = [2, 2, 1]
  // CHECK-NEXT: {{\[\[\[}}20.5],
  // CHECK-NEXT: [26.5]],
  // CHECK-NEXT: {{\[\[}}44.5],
  // CHECK-LABEL: sizes = [2, 1, 3]
  // CHECK-NEXT: {{\[\[\[}}3,{{ +}}4,{{ +}}5]],
  // CHECK-NEXT: {{\[\[}}8,{{ +}}9,{{ +}}6]]]
  %cx = arith.constant dense<[[[4.0], [5.0]], [[6.0], [100.0]]]> : tensor<2x2x1xf32>
  %clen = arith.constant dense<[2, 1]> : tensor<2xi32>
  %cs_t = arith.constant dense<[[[1.0, 2.0, 3.0]], [[7.0, 8.0, 9.0]]]> : tensor<2x1x3xf32>
  %cs_d = tensor.cast %cs_t : tensor<2x1x3xf32> to tensor<?x1x3xf32>
  %cs = builtin.unrealized_conversion_cast %cs_d : tensor<?x1x3xf32> to !ssm.conv_state<1x3xf32>
  %cy, %cso = func.call @conv(%cx, %clen, %cs)
      : (tensor<2x2x1xf32>, tensor<2xi32>, !ssm.conv_state<1x3xf32>) -> (tensor<2x2x1xf32>, !ssm.conv_state<1x3xf32>)
  %cy_d = tensor.cast %cy : tensor<2x2x1xf32> to tensor<?x?x?xf32>
  func.call @print3(%cy_d) : (tensor<?x?x?xf32>) -> ()
  %cso_t = builtin.unrealized_conversion_cast %cso : !ssm.conv_state<1x3xf32> to tensor<?x1x3xf32>
  %cso_d = tensor.cast %cso_t : tensor<?x1x3xf32> to tensor<?x?x?xf32>
  func.call @print3(%cso_d) : (tensor<?x?x?xf32>) -> ()

  // causal_conv1d_step from state [1, 2, 3] with input 4, bias -19.5, silu:
  //   new state = [2, 3, 4]; pre-activation = -19.5 + 1*2 + 2*3 + 3*4 = 0.5
  //   silu(0.5) = 0.5 / (1 + e^-0.5) = 0.5 / 1.6065307 = 0.3112296
  // CHECK-LABEL: sizes = [1, 1]
  // CHECK-NEXT: {{\[\[}}0.31123{{[0-9]*}}]]
  // CHECK-LABEL: sizes = [1, 1, 3]
  // CHECK-NEXT: {{\[\[\[}}2,{{ +}}3,{{ +}}4]]]
  %sx = arith.constant dense<[[4.0]]> : tensor<1x1xf32>
  %ss_t = arith.constant dense<[[[1.0, 2.0, 3.0]]]> : tensor<1x1x3xf32>
  %ss_d = tensor.cast %ss_t : tensor<1x1x3xf32> to tensor<?x1x3xf32>
  %ss = builtin.unrealized_conversion_cast %ss_d : tensor<?x1x3xf32> to !ssm.conv_state<1x3xf32>
  %sy, %sso = func.call @conv_step(%sx, %ss)
      : (tensor<1x1xf32>, !ssm.conv_state<1x3xf32>) -> (tensor<1x1xf32>, !ssm.conv_state<1x3xf32>)
  %sy_d = tensor.cast %sy : tensor<1x1xf32> to tensor<?x?xf32>
  func.call @print2(%sy_d) : (tensor<?x?xf32>) -> ()
  %sso_t = builtin.unrealized_conversion_cast %sso : !ssm.conv_state<1x3xf32> to tensor<?x1x3xf32>
  %sso_d = tensor.cast %sso_t : tensor<?x1x3xf32> to tensor<?x?x?xf32>
  func.call @print3(%sso_d) : (tensor<?x?x?xf32>) -> ()

  // selective_scan, H = 1, P = 1, N = 2, 3 steps, both sequences with the
  // same inputs: S_-1 = [1, 2], a = exp(log_a) = [1, 0.5, 1], dt = [1, 2, 0.5],
  // x = [1, 2, 4], B = [1, 0], [0, 1], [1, 1], C = [1, 1], [1, 0], [0, 2], D = 0.5.
  //   t0: S = [1, 2] + (1*1)[1, 0] = [2, 2];       y = 2 + 2 + 0.5*1 = 4.5
  //   t1: S = 0.5[2, 2] + (2*2)[0, 1] = [1, 5];   y = 1 + 0 + 0.5*2 = 2
  //   t2: S = [1, 5] + (0.5*4)[1, 1] = [3, 7];    y = 0 + 14 + 0.5*4 = 16
  // Sequence 0 has length 3: y = [4.5, 2, 16], final state [3, 7].
  // Sequence 1 has length 1: y0 = 4.5 (the rest unspecified), state frozen
  // after t0 at [2, 2].
  // chunked_scan (chunk 2) lowers to the same recurrence: same numbers.
  // CHECK-LABEL: sizes = [2, 3, 1, 1]
  // CHECK-NEXT: {{\[\[\[\[}}4.5]],
  // CHECK-NEXT: {{\[\[}}2]],
  // CHECK-NEXT: {{\[\[}}16]]],
  // CHECK-NEXT: {{\[\[\[}}4.5]],
  // CHECK-LABEL: sizes = [2, 1, 1, 2]
  // CHECK-NEXT: {{\[\[\[\[}}3,{{ +}}7]]],
  // CHECK-NEXT: {{\[\[\[}}2,{{ +}}2]]]]
  // CHECK-LABEL: sizes = [2, 3, 1, 1]
  // CHECK-NEXT: {{\[\[\[\[}}4.5]],
  // CHECK-NEXT: {{\[\[}}2]],
  // CHECK-NEXT: {{\[\[}}16]]],
  // CHECK-NEXT: {{\[\[\[}}4.5]],
  // CHECK-LABEL: sizes = [2, 1, 1, 2]
  // CHECK-NEXT: {{\[\[\[\[}}3,{{ +}}7]]],
  // CHECK-NEXT: {{\[\[\[}}2,{{ +}}2]]]]
  %x = arith.constant dense<[[[[1.0]], [[2.0]], [[4.0]]], [[[1.0]], [[2.0]], [[4.0]]]]> : tensor<2x3x1x1xf32>
  %la = arith.constant dense<[[[0.0], [-0.693147182], [0.0]], [[0.0], [-0.693147182], [0.0]]]> : tensor<2x3x1xf32>
  %b = arith.constant dense<[[[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]], [[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]]]> : tensor<2x3x1x2xf32>
  %c = arith.constant dense<[[[[1.0, 1.0]], [[1.0, 0.0]], [[0.0, 2.0]]], [[[1.0, 1.0]], [[1.0, 0.0]], [[0.0, 2.0]]]]> : tensor<2x3x1x2xf32>
  %dt = arith.constant dense<[[[1.0], [2.0], [0.5]], [[1.0], [2.0], [0.5]]]> : tensor<2x3x1xf32>
  %d = arith.constant dense<0.5> : tensor<1xf32>
  %len = arith.constant dense<[3, 1]> : tensor<2xi32>
  %s_t = arith.constant dense<[[[[1.0, 2.0]]], [[[1.0, 2.0]]]]> : tensor<2x1x1x2xf32>
  %s_d = tensor.cast %s_t : tensor<2x1x1x2xf32> to tensor<?x1x1x2xf32>
  %s = builtin.unrealized_conversion_cast %s_d : tensor<?x1x1x2xf32> to !ssm.ssm_state<1x1x2xf32>
  %y, %so = func.call @scan(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x3x1x1xf32>, tensor<2x3x1xf32>, tensor<2x3x1x2xf32>, tensor<2x3x1x2xf32>,
         !ssm.ssm_state<1x1x2xf32>, tensor<2xi32>, tensor<2x3x1xf32>, tensor<1xf32>)
      -> (tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>)
  %y_d = tensor.cast %y : tensor<2x3x1x1xf32> to tensor<?x?x?x?xf32>
  func.call @print4(%y_d) : (tensor<?x?x?x?xf32>) -> ()
  %so_t = builtin.unrealized_conversion_cast %so : !ssm.ssm_state<1x1x2xf32> to tensor<?x1x1x2xf32>
  %so_d = tensor.cast %so_t : tensor<?x1x1x2xf32> to tensor<?x?x?x?xf32>
  func.call @print4(%so_d) : (tensor<?x?x?x?xf32>) -> ()

  %ky, %kso = func.call @chunked(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x3x1x1xf32>, tensor<2x3x1xf32>, tensor<2x3x1x2xf32>, tensor<2x3x1x2xf32>,
         !ssm.ssm_state<1x1x2xf32>, tensor<2xi32>, tensor<2x3x1xf32>, tensor<1xf32>)
      -> (tensor<2x3x1x1xf32>, !ssm.ssm_state<1x1x2xf32>)
  %ky_d = tensor.cast %ky : tensor<2x3x1x1xf32> to tensor<?x?x?x?xf32>
  func.call @print4(%ky_d) : (tensor<?x?x?x?xf32>) -> ()
  %kso_t = builtin.unrealized_conversion_cast %kso : !ssm.ssm_state<1x1x2xf32> to tensor<?x1x1x2xf32>
  %kso_d = tensor.cast %kso_t : tensor<?x1x1x2xf32> to tensor<?x?x?x?xf32>
  func.call @print4(%kso_d) : (tensor<?x?x?x?xf32>) -> ()

  // state_update with the inputs of the scan's first step: y = 4.5, S = [2, 2].
  // CHECK-LABEL: sizes = [1, 1, 1]
  // CHECK-NEXT: {{\[\[\[}}4.5]]]
  // CHECK-LABEL: sizes = [1, 1, 1, 2]
  // CHECK-NEXT: {{\[\[\[\[}}2,{{ +}}2]]]]
  %ux = arith.constant dense<1.0> : tensor<1x1x1xf32>
  %ula = arith.constant dense<0.0> : tensor<1x1xf32>
  %ub = arith.constant dense<[[[1.0, 0.0]]]> : tensor<1x1x2xf32>
  %uc = arith.constant dense<[[[1.0, 1.0]]]> : tensor<1x1x2xf32>
  %udt = arith.constant dense<1.0> : tensor<1x1xf32>
  %us_t = arith.constant dense<[[[[1.0, 2.0]]]]> : tensor<1x1x1x2xf32>
  %us_d = tensor.cast %us_t : tensor<1x1x1x2xf32> to tensor<?x1x1x2xf32>
  %us = builtin.unrealized_conversion_cast %us_d : tensor<?x1x1x2xf32> to !ssm.ssm_state<1x1x2xf32>
  %uy, %uso = func.call @step(%ux, %ula, %ub, %uc, %us, %udt, %d)
      : (tensor<1x1x1xf32>, tensor<1x1xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>,
         !ssm.ssm_state<1x1x2xf32>, tensor<1x1xf32>, tensor<1xf32>)
      -> (tensor<1x1x1xf32>, !ssm.ssm_state<1x1x2xf32>)
  %uy_d = tensor.cast %uy : tensor<1x1x1xf32> to tensor<?x?x?xf32>
  func.call @print3(%uy_d) : (tensor<?x?x?xf32>) -> ()
  %uso_t = builtin.unrealized_conversion_cast %uso : !ssm.ssm_state<1x1x2xf32> to tensor<?x1x1x2xf32>
  %uso_d = tensor.cast %uso_t : tensor<?x1x1x2xf32> to tensor<?x?x?x?xf32>
  func.call @print4(%uso_d) : (tensor<?x?x?x?xf32>) -> ()
  return
}
