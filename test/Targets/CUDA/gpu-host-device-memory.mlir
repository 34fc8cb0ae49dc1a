// RUN: ssmc-opt %s -split-input-file -ssm-gpu-host-device-memory -verify-diagnostics | FileCheck %s

// A buffer a kernel writes becomes gpu.alloc (and its dealloc gpu.dealloc);
// a buffer only the host touches stays host memory; the host's loads of an
// integer argument read a host copy appended to the signature.
// CHECK-LABEL: func.func @f(
// CHECK-SAME: %[[LEN:[^:]*]]: memref<?xi32> {ssm.name = "lengths"}
// CHECK-SAME: %[[OUT:[^:]*]]: memref<?xf32>
// CHECK-SAME: %[[HOST:[^:]*]]: memref<?xi32> {ssm.name = "lengths.host", ssmc.host_mirror_of = 0 : i64}
// CHECK: %[[TMP:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK: %[[ACC:.*]] = memref.alloc() : memref<i32>
// CHECK: memref.load %[[HOST]][%{{.*}}] : memref<?xi32>
// CHECK: memref.store %{{.*}}, %[[ACC]][]
// CHECK: gpu.launch
// CHECK: memref.load %[[LEN]]
// CHECK: memref.store %{{.*}}, %[[TMP]]
// CHECK: gpu.dealloc %[[TMP]] : memref<?xf32>
// CHECK: memref.dealloc %[[ACC]] : memref<i32>
func.func @f(%lengths: memref<?xi32> {ssm.name = "lengths"}, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %out, %c0 : memref<?xf32>
  %tmp = memref.alloc(%n) : memref<?xf32>
  %acc = memref.alloc() : memref<i32>
  %l0 = memref.load %lengths[%c0] : memref<?xi32>
  memref.store %l0, %acc[] : memref<i32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %l = memref.load %lengths[%bx] : memref<?xi32>
    %f = arith.sitofp %l : i32 to f32
    memref.store %f, %tmp[%bx] : memref<?xf32>
    gpu.terminator
  }
  memref.dealloc %tmp : memref<?xf32>
  memref.dealloc %acc : memref<i32>
  return
}

// -----

// A constant global a kernel reads is read inside the kernel (outlining then
// copies it into the kernel module); the host's copy is left dead.
// CHECK-LABEL: func.func @constant
// CHECK: gpu.launch
// CHECK: %[[T:.*]] = memref.get_global @table : memref<4xf32>
// CHECK: memref.load %[[T]]
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func @constant(%out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %t = memref.get_global @table : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %t[%bx] : memref<4xf32>
    memref.store %v, %out[%bx] : memref<4xf32>
    gpu.terminator
  }
  return
}

// -----

// Views of a device buffer are followed to it.
// CHECK-LABEL: func.func @views
// CHECK: %[[A:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: memref.subview %[[A]]
// CHECK: gpu.dealloc %[[A]]
func.func @views() {
  %c1 = arith.constant 1 : index
  %a = memref.alloc() : memref<8xf32>
  %v = memref.subview %a[2] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 2>>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %z = arith.constant 0.0 : f32
    memref.store %z, %v[%bx] : memref<4xf32, strided<[1], offset: 2>>
    gpu.terminator
  }
  memref.dealloc %a : memref<8xf32>
  return
}

// -----

func.func @host_reads_device(%out: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc() : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %z = arith.constant 0.0 : f32
    memref.store %z, %a[%bx] : memref<4xf32>
    gpu.terminator
  }
  // expected-error @+1 {{host code reads device memory}}
  %v = memref.load %a[%c0] : memref<4xf32>
  return %v : f32
}

// -----

func.func @host_writes_argument(%lengths: memref<?xi32>) {
  %c0 = arith.constant 0 : index
  %z = arith.constant 0 : i32
  // expected-error @+1 {{host code writes device memory}}
  memref.store %z, %lengths[%c0] : memref<?xi32>
  return
}

// -----

func.func @host_reads_float_argument(%x: memref<?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{host code reads device memory; only loads of integer arguments}}
  %v = memref.load %x[%c0] : memref<?xf32>
  return %v : f32
}

// -----

func.func @host_result() -> memref<4xf32> {
  %a = memref.alloc() : memref<4xf32>
  // expected-error @+1 {{a result is a host buffer that no kernel writes}}
  return %a : memref<4xf32>
}
