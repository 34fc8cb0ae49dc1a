// Folds of the ssm dialect.
// RUN: ssmc-opt %s -canonicalize -cse -split-input-file | FileCheck %s

// A chunk longer than a static sequence folds to the sequence length.
// CHECK-LABEL: func.func @chunk_clamped_to_static_length
// CHECK: ssm.chunked_scan {{.*}} chunk 48 :
func.func @chunk_clamped_to_static_length(%x: tensor<2x48x2x16xf32>, %la: tensor<2x48x4xf32>, %b: tensor<2x48x2x8xf32>,
    %c: tensor<2x48x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<2xi32>) -> tensor<2x48x4x16xf32> {
  %y, %s1 = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len chunk 256
      : (tensor<2x48x2x16xf32>, tensor<2x48x4xf32>, tensor<2x48x2x8xf32>, tensor<2x48x4x8xf32>, !ssm.ssm_state<4x16x8xf32>,
         tensor<2xi32>) -> (tensor<2x48x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return %y : tensor<2x48x4x16xf32>
}

// -----

// A chunk no longer than the sequence, or a dynamic sequence, is kept.
// CHECK-LABEL: func.func @chunk_kept
// CHECK: ssm.chunked_scan {{.*}} chunk 16 :
// CHECK: ssm.chunked_scan {{.*}} chunk 256 :
func.func @chunk_kept(%x: tensor<2x48x2x16xf32>, %la: tensor<2x48x4xf32>, %b: tensor<2x48x2x8xf32>,
    %c: tensor<2x48x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<2xi32>,
    %xd: tensor<2x?x2x16xf32>, %lad: tensor<2x?x4xf32>, %bd: tensor<2x?x2x8xf32>, %cd: tensor<2x?x4x8xf32>)
    -> (tensor<2x48x4x16xf32>, tensor<2x?x4x16xf32>) {
  %y, %s1 = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len chunk 16
      : (tensor<2x48x2x16xf32>, tensor<2x48x4xf32>, tensor<2x48x2x8xf32>, tensor<2x48x4x8xf32>, !ssm.ssm_state<4x16x8xf32>,
         tensor<2xi32>) -> (tensor<2x48x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  %yd, %s2 = ssm.chunked_scan %xd, %lad, %bd, %cd, state %s1, lengths %len chunk 256
      : (tensor<2x?x2x16xf32>, tensor<2x?x4xf32>, tensor<2x?x2x8xf32>, tensor<2x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>,
         tensor<2xi32>) -> (tensor<2x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return %y, %yd : tensor<2x48x4x16xf32>, tensor<2x?x4x16xf32>
}

// -----

// Weights are pure: two references to the same tensor are one after CSE, and an
// unused reference disappears.
// CHECK-LABEL: func.func @weights_dedup
// CHECK-COUNT-1: ssm.weight "w"
// CHECK-NOT: ssm.weight
func.func @weights_dedup(%x: tensor<?x4xf32>) -> tensor<?x8xf32> {
  %w0 = ssm.weight "w" : tensor<8x4xf32>
  %w1 = ssm.weight "w" : tensor<8x4xf32>
  %unused = ssm.weight "unused" : tensor<8x4xf32>
  %0 = ssm.linear %x, %w0 : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
  %1 = ssm.linear %x, %w1 : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
  %2 = ssm.add %0, %1 : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}
