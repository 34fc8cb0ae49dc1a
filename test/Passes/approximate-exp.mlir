// RUN: ssmc-opt %s -ssm-approximate-exp | FileCheck %s

// f32 exp becomes arithmetic (no math.exp left, so no libm call); log stays.
// CHECK-LABEL: func.func @decay
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK: math.log
func.func @decay(%x: f32) -> f32 {
  %e = math.exp %x : f32
  %l = math.log %e : f32
  return %l : f32
}
