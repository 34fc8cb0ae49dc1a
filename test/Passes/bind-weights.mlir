// RUN: ssmc-opt %s -split-input-file -ssm-bind-weights -verify-diagnostics | FileCheck %s

// Weights get 64-byte aligned offsets in first-use order; a name used twice
// shares its slot; the function gains the section base as first argument.
// CHECK-LABEL: module attributes
// CHECK-SAME: ssm.weight_layout = [{bytes = 24 : i64, name = "a", offset = 0 : i64, type = tensor<2x3xf32>}, {bytes = 8 : i64, name = "b", offset = 64 : i64, type = tensor<4xbf16>}]
// CHECK-SAME: ssm.weight_section_bytes = 128 : i64
// CHECK: func.func @f(%[[W:.*]]: memref<?xi8> {ssm.name = "weights"}, %{{.*}}: tensor<2xf32>)
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[A:.*]] = memref.view %[[W]][%[[C0]]][] : memref<?xi8> to memref<2x3xf32>
// CHECK: bufferization.to_tensor %[[A]] restrict : memref<2x3xf32>
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK: memref.view %[[W]][%[[C64]]][] : memref<?xi8> to memref<4xbf16>
// CHECK: memref.view %[[W]][%{{.*}}][] : memref<?xi8> to memref<2x3xf32>
// CHECK-NOT: ssm.weight
module {
  func.func @f(%x: tensor<2xf32>) -> (tensor<2x3xf32>, tensor<4xbf16>, tensor<2x3xf32>) {
    %a = ssm.weight "a" : tensor<2x3xf32>
    %b = ssm.weight "b" : tensor<4xbf16>
    %a2 = ssm.weight "a" : tensor<2x3xf32>
    return %a, %b, %a2 : tensor<2x3xf32>, tensor<4xbf16>, tensor<2x3xf32>
  }
}

// -----

module {
  func.func @f() {
    // expected-error @+1 {{'ssm.weight' op quantized weight 'q' has no weight-section layout yet}}
    %q = ssm.weight "q" : !ssm.qweight<8x64xi8, group = 64, scale = f32, zero_point = none, packing = none>
    return
  }
}

// -----

module {
  func.func @f() {
    %a = ssm.weight "a" : tensor<4xf32>
    // expected-error @+1 {{'ssm.weight' op weight 'a' is used as 'tensor<2x2xf32>' and as 'tensor<4xf32>'}}
    %b = ssm.weight "a" : tensor<2x2xf32>
    return
  }
}
