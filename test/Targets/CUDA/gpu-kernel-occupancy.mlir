// RUN: ssmc-opt %s -split-input-file -pass-pipeline='builtin.module(gpu.module(ssm-gpu-kernel-occupancy))' -verify-diagnostics | FileCheck %s

// A request on a store inside the kernel becomes the kernel's
// nvvm.minctasm, with its known block size as nvvm.maxntid (ptxas derives
// the register limit from both); the request is removed. Kernels without a
// request are left alone.
// CHECK-LABEL: gpu.module @kernels
// CHECK: gpu.func @heavy
// CHECK-SAME: nvvm.maxntid = array<i32: 256, 1, 1>
// CHECK-SAME: nvvm.minctasm = 3 : i32
// CHECK-NOT: ssmc.min_blocks_per_sm
// CHECK: gpu.func @light
// CHECK-NOT: nvvm.minctasm
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @heavy(%m: memref<4xf32>) kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
      %c0 = arith.constant 0 : index
      %v = arith.constant 1.0 : f32
      memref.store %v, %m[%c0] {ssmc.min_blocks_per_sm = 3 : i64} : memref<4xf32>
      gpu.return
    }
    gpu.func @light(%m: memref<4xf32>) kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
      %c0 = arith.constant 0 : index
      %v = arith.constant 1.0 : f32
      memref.store %v, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    // expected-error @below {{a kernel asking for 2 blocks per multiprocessor needs a known block size}}
    gpu.func @unknown(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = arith.constant 1.0 : f32
      memref.store %v, %m[%c0] {ssmc.min_blocks_per_sm = 2 : i64} : memref<4xf32>
      gpu.return
    }
  }
}
