// RUN: ssmc-opt %s -gpu-kernel-outlining -ssm-gpu-merge-modules | FileCheck %s --check-prefix=MERGE
// RUN: ssmc-opt %s -pass-pipeline='builtin.module(gpu-kernel-outlining,ssm-gpu-merge-modules,nvvm-attach-target{chip=sm_90},gpu.module(ssm-gpu-expand-math,convert-gpu-to-nvvm))' | FileCheck %s --check-prefix=NVVM

// Outlining makes one module per kernel; merged, there is one module whose
// kernels carry their old modules' unique names, and launches follow.
// MERGE-LABEL: module attributes {gpu.container_module}
// MERGE: func.func @two
// MERGE: gpu.launch_func @ssmc_kernels::@two_kernel blocks
// MERGE: gpu.launch_func @ssmc_kernels::@two_kernel_0 blocks
// MERGE: gpu.module @ssmc_kernels
// MERGE-DAG: gpu.func @two_kernel(
// MERGE-DAG: gpu.func @two_kernel_0(
// MERGE-NOT: gpu.module
//
// Transcendental math becomes polynomial approximations and the ops NVPTX
// selects natively become intrinsic calls: no libdevice (__nv_*) function is
// referenced.
// NVVM-LABEL: gpu.module @ssmc_kernels
// NVVM-NOT: __nv_
// NVVM: llvm.call_intrinsic "llvm.sqrt.f32"
// NVVM-NOT: __nv_
// NVVM: llvm.call_intrinsic "llvm.fabs.f32"
// NVVM-NOT: __nv_
func.func @two(%x: memref<4xf32>, %y: memref<4xbf16>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%bx] : memref<4xf32>
    %e = math.exp %v : f32
    %l = math.log1p %e : f32
    %r = math.rsqrt %l : f32
    memref.store %r, %x[%bx] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %y[%bx] : memref<4xbf16>
    %t = math.tanh %v : bf16
    %a = math.absf %t : bf16
    %s = math.sin %a : bf16
    memref.store %s, %y[%bx] : memref<4xbf16>
    gpu.terminator
  }
  return
}
