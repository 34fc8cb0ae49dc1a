// RUN: ssmc-opt %s -pass-pipeline='builtin.module(gpu.module(ssm-gpu-expand-math))' -verify-diagnostics -o /dev/null

// Math without a libdevice-free lowering is reported, not turned into an
// unresolved __nv_* call that only ptxas would catch.
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @f(%x: memref<4xf64>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %x[%c0] : memref<4xf64>
      // expected-error @+1 {{'math.exp' has no lowering for kernels that avoids libdevice}}
      %r = math.exp %v : f64
      memref.store %r, %x[%c0] : memref<4xf64>
      gpu.return
    }
  }
}
