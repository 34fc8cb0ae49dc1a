// RUN: ssmc-opt %s -split-input-file -convert-ssm-to-linalg=scan-all-chunks-at-once=true | FileCheck %s

// The all-chunks schedule of a bf16 model's scan: the decay-weighted C B^T
// is stored in bf16 (rounded once, where upstream rounds it), Y_diag states
// its causal mask (s <= l) in its own term, and the inter-chunk pass records
// each chunk's entering state in bf16 beside the f32 state it carries.
// CHECK-LABEL: func.func @all_chunks_bf16
// CHECK: scf.if
// C B^T, f32 sums:
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x?x4x2x3xbf16>, tensor<1x?x4x2x3xbf16>) outs(%{{.*}} : tensor<1x?x2x4x4xf32>)
// times the masked decay, rounded:
// CHECK: %[[W:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x?x2x4x4xbf16>)
// CHECK: math.exp
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// Y_diag over s <= l:
// CHECK: linalg.generic {{.*}} ins(%[[W]], %{{.*}} : tensor<1x?x2x4x4xbf16>, tensor<1x?x4x2x2xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[L:.*]] = linalg.index 2
// CHECK: %[[S:.*]] = linalg.index 4
// CHECK: arith.cmpi ule, %[[S]], %[[L]]
// CHECK: arith.select
// the inter-chunk pass: f32 state, bf16 record:
// CHECK: linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<1x2x2x3xf32>, tensor<1x?x2x2x3xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @all_chunks_bf16(%x: tensor<1x?x2x2xbf16>, %la: tensor<1x?x2xf32>, %b: tensor<1x?x2x3xbf16>,
                           %c: tensor<1x?x2x3xbf16>, %s: !ssm.ssm_state<2x2x3xf32>, %len: tensor<1xi32>)
    -> (tensor<1x?x2x2xbf16>, !ssm.ssm_state<2x2x3xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len chunk 4
      : (tensor<1x?x2x2xbf16>, tensor<1x?x2xf32>, tensor<1x?x2x3xbf16>, tensor<1x?x2x3xbf16>,
         !ssm.ssm_state<2x2x3xf32>, tensor<1xi32>) -> (tensor<1x?x2x2xbf16>, !ssm.ssm_state<2x2x3xf32>)
  return %y, %so : tensor<1x?x2x2xbf16>, !ssm.ssm_state<2x2x3xf32>
}

// -----

// A static sequence length: the chunks are expanded from a static slice and
// y goes back in at its static length.
// CHECK-LABEL: func.func @all_chunks_static
// CHECK: tensor.cast %{{.*}} : tensor<2x?x2x2xf32> to tensor<2x8x2x2xf32>
// CHECK: tensor.expand_shape {{.*}} into tensor<2x2x4x2x2xf32>
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0, 0] [2, 8, 2, 2] [1, 1, 1, 1] : tensor<2x8x2x2xf32> into tensor<2x8x2x2xf32>
func.func @all_chunks_static(%x: tensor<2x8x2x2xf32>, %la: tensor<2x8x2xf32>, %b: tensor<2x8x2x3xf32>,
                             %c: tensor<2x8x2x3xf32>, %s: !ssm.ssm_state<2x2x3xf32>, %len: tensor<2xi32>)
    -> (tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len chunk 4
      : (tensor<2x8x2x2xf32>, tensor<2x8x2xf32>, tensor<2x8x2x3xf32>, tensor<2x8x2x3xf32>,
         !ssm.ssm_state<2x2x3xf32>, tensor<2xi32>) -> (tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>)
  return %y, %so : tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>
}
