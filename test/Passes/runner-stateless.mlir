// Numerical check of convert-ssm-to-linalg: lower to LLVM with upstream
// passes, run with mlir-runner and compare with values computed by hand.
// RUN: ssmc-opt %s -convert-ssm-to-linalg \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries" -convert-linalg-to-loops \
// RUN:   -lower-affine -convert-scf-to-cf -expand-strided-metadata -finalize-memref-to-llvm \
// RUN:   -convert-math-to-llvm -convert-arith-to-llvm -convert-func-to-llvm -convert-cf-to-llvm \
// RUN:   -reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_libs \
// RUN: | FileCheck %s

func.func private @printMemrefF32(memref<*xf32>)

func.func @print(%t: tensor<?x?x?xf32>) {
  %m = bufferization.to_buffer %t : tensor<?x?x?xf32> to memref<?x?x?xf32>
  %u = memref.cast %m : memref<?x?x?xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @main() {
  // linear: x = [1, 2, 3], W = [[1, 0, -1], [0.5, 0.5, 0.5]]
  //   y0 = 1*1 + 2*0 + 3*(-1) = -2;  y1 = 0.5*(1 + 2 + 3) = 3
  // CHECK: [-2, 3]
  %x = arith.constant dense<[[[1.0, 2.0, 3.0]]]> : tensor<1x1x3xf32>
  %w = arith.constant dense<[[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]> : tensor<2x3xf32>
  %y = ssm.linear %x, %w : tensor<1x1x3xf32>, tensor<2x3xf32> -> tensor<1x1x2xf32>
  %y_d = tensor.cast %y : tensor<1x1x2xf32> to tensor<?x?x?xf32>
  func.call @print(%y_d) : (tensor<?x?x?xf32>) -> ()

  // rms_norm (hf and fused agree in f32): x = [3, 4], w = [1, 2], eps = 3.5
  //   mean(x^2) = (9 + 16) / 2 = 12.5; rstd = 1/sqrt(12.5 + 3.5) = 0.25
  //   y = [3*0.25*1, 4*0.25*2] = [0.75, 2]
  // CHECK: [0.75, 2]
  // CHECK: [0.75, 2]
  %n = arith.constant dense<[[[3.0, 4.0]]]> : tensor<1x1x2xf32>
  %nw = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %hf = ssm.rms_norm %n, %nw eps 3.5 rounding <hf> : tensor<1x1x2xf32>, tensor<2xf32> -> tensor<1x1x2xf32>
  %hf_d = tensor.cast %hf : tensor<1x1x2xf32> to tensor<?x?x?xf32>
  func.call @print(%hf_d) : (tensor<?x?x?xf32>) -> ()
  %fu = ssm.rms_norm %n, %nw eps 3.5 rounding <fused> : tensor<1x1x2xf32>, tensor<2xf32> -> tensor<1x1x2xf32>
  %fu_d = tensor.cast %fu : tensor<1x1x2xf32> to tensor<?x?x?xf32>
  func.call @print(%fu_d) : (tensor<?x?x?xf32>) -> ()

  // gated_rms_norm, group 2: y = [2, 4, 1, 1], z = [30, 30, 30, 30]
  //   silu(30) = 30 / (1 + e^-30) = 30 (to f32), v = [60, 120, 30, 30]
  //   group 0: mean = (3600 + 14400)/2 = 9000, rstd = 1/sqrt(9000 + 0.001)
  //     -> v/sqrt(9000) = [0.632456, 1.26491]; with w = [1, 2]: [0.632456, 2.52982]
  //   group 1: mean = 900, v/30 = [1, 1]; with w = [3, 4]: [3, 4]
  // CHECK: [0.63245{{[0-9]}}, 2.5298{{[0-9]}}, 3, 4]
  %gy = arith.constant dense<[[[2.0, 4.0, 1.0, 1.0]]]> : tensor<1x1x4xf32>
  %gz = arith.constant dense<30.0> : tensor<1x1x4xf32>
  %gw = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %g = ssm.gated_rms_norm %gy, %gz, %gw group 2 eps 1.0e-03 : (tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<4xf32>) -> tensor<1x1x4xf32>
  %g_d = tensor.cast %g : tensor<1x1x4xf32> to tensor<?x?x?xf32>
  func.call @print(%g_d) : (tensor<?x?x?xf32>) -> ()

  // embed then add: table rows [1, 2], [3, 4], [5, 6]; ids [2, 0]
  //   e = [[5, 6], [1, 2]]; e + e = [[10, 12], [2, 4]]
  // CHECK: [10, 12]
  // CHECK: [2, 4]
  %table = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %ids = arith.constant dense<[[2, 0]]> : tensor<1x2xi32>
  %e = ssm.embed %table[%ids] : tensor<3x2xf32>, tensor<1x2xi32> -> tensor<1x2x2xf32>
  %s = ssm.add %e, %e : tensor<1x2x2xf32>, tensor<1x2x2xf32> -> tensor<1x2x2xf32>
  %s_d = tensor.cast %s : tensor<1x2x2xf32> to tensor<?x?x?xf32>
  func.call @print(%s_d) : (tensor<?x?x?xf32>) -> ()

  // lm_head, valid_vocab = 2: h = [1, 2], W = [[1, 1], [2, 0], [0, 1]]
  //   logits = [3, 2, 2]; row 2 is padding -> -inf
  // CHECK: [3, 2, -inf]
  %h = arith.constant dense<[[[1.0, 2.0]]]> : tensor<1x1x2xf32>
  %hw = arith.constant dense<[[1.0, 1.0], [2.0, 0.0], [0.0, 1.0]]> : tensor<3x2xf32>
  %l = ssm.lm_head %h, %hw {valid_vocab = 2 : i64} : tensor<1x1x2xf32>, tensor<3x2xf32> -> tensor<1x1x3xf32>
  %l_d = tensor.cast %l : tensor<1x1x3xf32> to tensor<?x?x?xf32>
  func.call @print(%l_d) : (tensor<?x?x?xf32>) -> ()
  return
}
