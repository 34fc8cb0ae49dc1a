// RUN: ssmc-opt %s -convert-ssm-to-linalg -split-input-file | FileCheck %s

// The projection contracts K against the PyTorch-layout weight (N x K) in
// float32 and rounds once to the result type.
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4xbf16>, %[[WT:.*]]: tensor<3x4xbf16>)
// CHECK: %[[EMPTY:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x3xf32>
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[ACC:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[EMPTY]] : tensor<?x?x3xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[IN]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]], %[[WT]] : tensor<?x?x4xbf16>, tensor<3x4xbf16>) outs(%[[ACC]] : tensor<?x?x3xf32>)
// CHECK: arith.extf
// CHECK: arith.extf
// CHECK: arith.mulf {{.*}} : f32
// CHECK: arith.addf {{.*}} : f32
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<?x?x3xf32>) outs(%{{.*}} : tensor<?x?x3xbf16>)
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: return %[[R]]
func.func @linear(%x: tensor<?x?x4xbf16>, %w: tensor<3x4xbf16>) -> tensor<?x?x3xbf16> {
  %y = ssm.linear %x, %w : tensor<?x?x4xbf16>, tensor<3x4xbf16> -> tensor<?x?x3xbf16>
  return %y : tensor<?x?x3xbf16>
}

// -----

// A quantized weight is not this pass's business.
// CHECK-LABEL: func.func @linear_quantized
// CHECK: ssm.linear
func.func @linear_quantized(%x: tensor<1x2x128xf16>,
    %w: !ssm.qweight<4x128xi4, group = 128, scale = f16, zero_point = none, packing = nibbles_lo_first>)
    -> tensor<1x2x4xf16> {
  %y = ssm.linear %x, %w : tensor<1x2x128xf16>, !ssm.qweight<4x128xi4, group = 128, scale = f16, zero_point = none, packing = nibbles_lo_first> -> tensor<1x2x4xf16>
  return %y : tensor<1x2x4xf16>
}

// -----

// hf order: normalize in f32, round to the result type, multiply there.
// CHECK-LABEL: func.func @rms_norm_hf
// CHECK: %[[SS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<2x3x4xf32>) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[SS]], %{{.*}} : tensor<2x3x4xf32>, tensor<2x3xf32>, tensor<4xbf16>) outs(%{{.*}} : tensor<2x3x4xbf16>)
// CHECK: arith.divf
// CHECK: math.rsqrt
// CHECK: arith.mulf {{.*}} : f32
// CHECK: %[[ROUNDED:.*]] = arith.truncf {{.*}} : f32 to bf16
// CHECK: arith.mulf %[[ROUNDED]], {{.*}} : bf16
func.func @rms_norm_hf(%x: tensor<2x3x4xf32>, %w: tensor<4xbf16>) -> tensor<2x3x4xbf16> {
  %y = ssm.rms_norm %x, %w eps 1.000000e-05 rounding <hf> : tensor<2x3x4xf32>, tensor<4xbf16> -> tensor<2x3x4xbf16>
  return %y : tensor<2x3x4xbf16>
}

// -----

// fused order: everything in f32, one rounding at the end.
// CHECK-LABEL: func.func @rms_norm_fused
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x4xbf16>)
// CHECK: math.rsqrt
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: arith.mulf {{.*}} : f32
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK-NEXT: linalg.yield
func.func @rms_norm_fused(%x: tensor<?x4xbf16>, %w: tensor<4xbf16>) -> tensor<?x4xbf16> {
  %y = ssm.rms_norm %x, %w eps 1.000000e-05 rounding <fused> : tensor<?x4xbf16>, tensor<4xbf16> -> tensor<?x4xbf16>
  return %y : tensor<?x4xbf16>
}

// -----

// CHECK-LABEL: func.func @gated_rms_norm
// CHECK: %[[V:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x2x8xbf16>, tensor<1x2x8xbf16>) outs(%{{.*}} : tensor<1x2x8xf32>)
// CHECK: math.exp
// CHECK: %[[G:.*]] = tensor.expand_shape %[[V]] {{\[\[}}0], [1], [2, 3]] output_shape [1, 2, 2, 4] : tensor<1x2x8xf32> into tensor<1x2x2x4xf32>
// CHECK: %[[WG:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [2, 4] : tensor<8xbf16> into tensor<2x4xbf16>
// CHECK: %[[SS:.*]] = linalg.generic {{.*}} ins(%[[G]] : tensor<1x2x2x4xf32>) outs(%{{.*}} : tensor<1x2x2xf32>)
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[SS]], %[[WG]] : tensor<1x2x2x4xf32>, tensor<1x2x2xf32>, tensor<2x4xbf16>) outs(%{{.*}} : tensor<1x2x2x4xbf16>)
// CHECK: arith.constant 4.000000e+00 : f32
// CHECK: math.rsqrt
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[N]] {{\[\[}}0], [1], [2, 3]] : tensor<1x2x2x4xbf16> into tensor<1x2x8xbf16>
// CHECK: return %[[R]]
func.func @gated_rms_norm(%y: tensor<1x2x8xbf16>, %z: tensor<1x2x8xbf16>, %w: tensor<8xbf16>) -> tensor<1x2x8xbf16> {
  %r = ssm.gated_rms_norm %y, %z, %w group 4 eps 1.000000e-05 : (tensor<1x2x8xbf16>, tensor<1x2x8xbf16>, tensor<8xbf16>) -> tensor<1x2x8xbf16>
  return %r : tensor<1x2x8xbf16>
}

// -----

// CHECK-LABEL: func.func @add_mixed
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x?x4xf32>, tensor<?x?x4xbf16>) outs(%{{.*}} : tensor<?x?x4xf32>)
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: arith.addf
// CHECK-NEXT: linalg.yield
func.func @add_mixed(%a: tensor<?x?x4xf32>, %b: tensor<?x?x4xbf16>) -> tensor<?x?x4xf32> {
  %r = ssm.add %a, %b : tensor<?x?x4xf32>, tensor<?x?x4xbf16> -> tensor<?x?x4xf32>
  return %r : tensor<?x?x4xf32>
}

// -----

// CHECK-LABEL: func.func @embed
// CHECK-SAME: (%[[TABLE:.*]]: tensor<10x4xbf16>, %[[IDS:.*]]: tensor<?x?xi32>)
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[IDS]] : tensor<?x?xi32>) outs(%{{.*}} : tensor<?x?x4xbf16>)
// CHECK: %[[ROW:.*]] = arith.index_cast %{{.*}} : i32 to index
// CHECK: %[[COL:.*]] = linalg.index 2 : index
// CHECK: tensor.extract %[[TABLE]][%[[ROW]], %[[COL]]] : tensor<10x4xbf16>
func.func @embed(%t: tensor<10x4xbf16>, %ids: tensor<?x?xi32>) -> tensor<?x?x4xbf16> {
  %e = ssm.embed %t[%ids] : tensor<10x4xbf16>, tensor<?x?xi32> -> tensor<?x?x4xbf16>
  return %e : tensor<?x?x4xbf16>
}

// -----

// Rows >= valid_vocab are masked to -inf after the f32 projection.
// CHECK-LABEL: func.func @lm_head_padded
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x6xf32>)
// CHECK: %[[ROW:.*]] = linalg.index 2
// CHECK: %[[PAD:.*]] = arith.cmpi sge, %[[ROW]], %c5
// CHECK: %[[NEG:.*]] = arith.constant 0xFF800000 : f32
// CHECK: arith.select %[[PAD]], %[[NEG]]
func.func @lm_head_padded(%h: tensor<1x1x4xbf16>, %w: tensor<6x4xbf16>) -> tensor<1x1x6xf32> {
  %l = ssm.lm_head %h, %w {valid_vocab = 5 : i64} : tensor<1x1x4xbf16>, tensor<6x4xbf16> -> tensor<1x1x6xf32>
  return %l : tensor<1x1x6xf32>
}

// -----

// ssm.last_token is a gather of row lengths[b] - 1 of every sequence.
// CHECK-LABEL: func.func @last_token
// CHECK: %[[INIT:.*]] = tensor.empty(%{{.*}}) : tensor<?x1x8xbf16>
// CHECK: linalg.generic {{.*}} ins(%arg1 : tensor<?xi32>) outs(%[[INIT]] : tensor<?x1x8xbf16>)
// CHECK: %[[LEN:.*]] = arith.index_cast
// CHECK: %[[POS:.*]] = arith.subi %[[LEN]], %c1
// CHECK: tensor.extract %arg0[%{{.*}}, %[[POS]], %{{.*}}] : tensor<?x?x8xbf16>
func.func @last_token(%x: tensor<?x?x8xbf16>, %len: tensor<?xi32>) -> tensor<?x1x8xbf16> {
  %0 = ssm.last_token %x, lengths %len : tensor<?x?x8xbf16>, tensor<?xi32> -> tensor<?x1x8xbf16>
  return %0 : tensor<?x1x8xbf16>
}
