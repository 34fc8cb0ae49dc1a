// RUN: ssmc-opt %s -split-input-file -pass-pipeline='builtin.module(gpu.module(ssm-gpu-align-workgroup-memory))' | FileCheck %s
// RUN: not ssmc-opt %s -split-input-file -pass-pipeline='builtin.module(gpu.module(ssm-gpu-align-workgroup-memory{alignment=24}))' 2>&1 | FileCheck %s --check-prefix=BAD

// Shared-memory globals (address space 3) get at least 16 bytes; larger
// alignments and other address spaces are left alone.
// CHECK-LABEL: gpu.module @kernels
// CHECK: llvm.mlir.global internal @__wg_tile_0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<2560 x bf16>
// CHECK: llvm.mlir.global internal @__wg_tile_1() {addr_space = 3 : i32, alignment = 64 : i64} : !llvm.array<64 x f32>
// CHECK: llvm.mlir.global internal @table() {addr_space = 1 : i32} : !llvm.array<4 x f32>
// BAD: error: ssm-gpu-align-workgroup-memory: alignment must be a power of 2, got 24
module attributes {gpu.container_module} {
  gpu.module @kernels {
    llvm.mlir.global internal @__wg_tile_0() {addr_space = 3 : i32} : !llvm.array<2560 x bf16>
    llvm.mlir.global internal @__wg_tile_1() {addr_space = 3 : i32, alignment = 64 : i64} : !llvm.array<64 x f32>
    llvm.mlir.global internal @table() {addr_space = 1 : i32} : !llvm.array<4 x f32>
  }
}
