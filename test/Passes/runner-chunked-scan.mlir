// Numerical check of the chunked SSD lowering of ssm.chunked_scan (spec
// §1.6) against the recurrent lowering of ssm.selective_scan (spec §1.5):
// the same inputs go through selective_scan and through chunked_scan with
// chunks of 1, 2, 3 (L = 5: the last chunk is partial for 2 and 3), 5 and 8
// (one chunk covering the sequence), and with 2 on a dynamic L. Every run
// prints y and the final state, and every print is checked by the same
// lines, computed once in double precision from the §1.5 recurrence.
//
// Shapes: batch 2, L = 5, Hx = 1 x head shared by H = 2 heads, P = 2, N = 2,
// Gb = 1 B group, Gc = 2 C groups, with dt, D, a nonzero initial state, and
// lengths [5, 3]: sequence 1's last two tokens are padding and must leave its
// state unchanged. Decays are 1, 1/2 and 1/4. The outputs at padding positions
// are unspecified by the ops; both lowerings give S_frozen . C_t + D x_t there,
// so they are checked too.
// RUN: ssmc-opt %s -convert-ssm-to-linalg -reconcile-unrealized-casts \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries" -convert-linalg-to-loops \
// RUN:   -convert-scf-to-cf -expand-strided-metadata -lower-affine -finalize-memref-to-llvm \
// RUN:   -convert-math-to-llvm -convert-arith-to-llvm -convert-func-to-llvm -convert-cf-to-llvm \
// RUN:   -reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_libs \
// RUN: | FileCheck %s
// The all-chunks schedule (whole chunks in the same ops, as on a GPU) must
// print the same, static and dynamic lengths alike.
// RUN: ssmc-opt %s -convert-ssm-to-linalg=scan-all-chunks-at-once=true -reconcile-unrealized-casts \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries" -convert-linalg-to-loops \
// RUN:   -convert-scf-to-cf -expand-strided-metadata -lower-affine -finalize-memref-to-llvm \
// RUN:   -convert-math-to-llvm -convert-arith-to-llvm -convert-func-to-llvm -convert-cf-to-llvm \
// RUN:   -reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_runner_libs \
// RUN: | FileCheck %s

func.func private @printMemrefF32(memref<*xf32>)

func.func @print4(%t: tensor<?x?x?x?xf32>) {
  %m = bufferization.to_buffer %t : tensor<?x?x?x?xf32> to memref<?x?x?x?xf32>
  %u = memref.cast %m : memref<?x?x?x?xf32> to memref<*xf32>
  func.call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

// Prints y, then the final state.
func.func @report(%y: tensor<?x?x?x?xf32>, %s: !ssm.ssm_state<2x2x2xf32>) {
  func.call @print4(%y) : (tensor<?x?x?x?xf32>) -> ()
  %st = builtin.unrealized_conversion_cast %s : !ssm.ssm_state<2x2x2xf32> to tensor<?x2x2x2xf32>
  %sd = tensor.cast %st : tensor<?x2x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @print4(%sd) : (tensor<?x?x?x?xf32>) -> ()
  return
}

func.func @scan(%x: tensor<2x5x1x2xf32>, %la: tensor<2x5x2xf32>, %b: tensor<2x5x1x2xf32>,
    %c: tensor<2x5x2x2xf32>, %s: !ssm.ssm_state<2x2x2xf32>, %len: tensor<2xi32>,
    %dt: tensor<2x5x2xf32>, %d: tensor<2xf32>)
    -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>) {
  %y, %so = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
         !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
      -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  return %y, %so : tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>
}

func.func @chunked1(%x: tensor<2x5x1x2xf32>, %la: tensor<2x5x2xf32>, %b: tensor<2x5x1x2xf32>,
    %c: tensor<2x5x2x2xf32>, %s: !ssm.ssm_state<2x2x2xf32>, %len: tensor<2xi32>,
    %dt: tensor<2x5x2xf32>, %d: tensor<2xf32>)
    -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 1
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
         !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
      -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  return %y, %so : tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>
}

func.func @chunked2(%x: tensor<2x5x1x2xf32>, %la: tensor<2x5x2xf32>, %b: tensor<2x5x1x2xf32>,
    %c: tensor<2x5x2x2xf32>, %s: !ssm.ssm_state<2x2x2xf32>, %len: tensor<2xi32>,
    %dt: tensor<2x5x2xf32>, %d: tensor<2xf32>)
    -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 2
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
         !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
      -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  return %y, %so : tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>
}

func.func @chunked3(%x: tensor<2x5x1x2xf32>, %la: tensor<2x5x2xf32>, %b: tensor<2x5x1x2xf32>,
    %c: tensor<2x5x2x2xf32>, %s: !ssm.ssm_state<2x2x2xf32>, %len: tensor<2xi32>,
    %dt: tensor<2x5x2xf32>, %d: tensor<2xf32>)
    -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 3
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
         !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
      -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  return %y, %so : tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>
}

func.func @chunked5(%x: tensor<2x5x1x2xf32>, %la: tensor<2x5x2xf32>, %b: tensor<2x5x1x2xf32>,
    %c: tensor<2x5x2x2xf32>, %s: !ssm.ssm_state<2x2x2xf32>, %len: tensor<2xi32>,
    %dt: tensor<2x5x2xf32>, %d: tensor<2xf32>)
    -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 5
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
         !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
      -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  return %y, %so : tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>
}

func.func @chunked8(%x: tensor<2x5x1x2xf32>, %la: tensor<2x5x2xf32>, %b: tensor<2x5x1x2xf32>,
    %c: tensor<2x5x2x2xf32>, %s: !ssm.ssm_state<2x2x2xf32>, %len: tensor<2xi32>,
    %dt: tensor<2x5x2xf32>, %d: tensor<2xf32>)
    -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 8
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
         !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
      -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  return %y, %so : tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>
}

func.func @chunked2_dynamic(%x: tensor<2x?x1x2xf32>, %la: tensor<2x?x2xf32>, %b: tensor<2x?x1x2xf32>,
    %c: tensor<2x?x2x2xf32>, %s: !ssm.ssm_state<2x2x2xf32>, %len: tensor<2xi32>,
    %dt: tensor<2x?x2xf32>, %d: tensor<2xf32>)
    -> (tensor<2x?x2x2xf32>, !ssm.ssm_state<2x2x2xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 2
      : (tensor<2x?x1x2xf32>, tensor<2x?x2xf32>, tensor<2x?x1x2xf32>, tensor<2x?x2x2xf32>,
         !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x?x2xf32>, tensor<2xf32>)
      -> (tensor<2x?x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  return %y, %so : tensor<2x?x2x2xf32>, !ssm.ssm_state<2x2x2xf32>
}

func.func @main() {
  %x = arith.constant dense<[[[[1.0, -1.0]], [[2.0, 0.5]], [[-1.0, 3.0]], [[0.5, 1.0]], [[2.0, -2.0]]], [[[-2.0, 1.0]], [[1.0, 1.0]], [[0.5, -1.5]], [[3.0, 2.0]], [[7.0, -9.0]]]]> : tensor<2x5x1x2xf32>
  %la = arith.constant dense<[[[0.0, -0.693147182], [-0.693147182, -1.38629436], [0.0, -0.693147182], [-1.38629436, 0.0], [-0.693147182, -0.693147182]], [[-0.693147182, 0.0], [-1.38629436, -0.693147182], [0.0, -1.38629436], [-0.693147182, -0.693147182], [-1.38629436, 0.0]]]> : tensor<2x5x2xf32>
  %b = arith.constant dense<[[[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]], [[2.0, -1.0]], [[0.5, 0.5]]], [[[0.0, 2.0]], [[1.0, -1.0]], [[1.0, 0.5]], [[-1.0, 1.0]], [[3.0, 3.0]]]]> : tensor<2x5x1x2xf32>
  %c = arith.constant dense<[[[[1.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [2.0, 1.0]], [[0.0, 2.0], [1.0, -1.0]], [[1.0, -1.0], [0.5, 0.5]], [[2.0, 1.0], [1.0, 0.0]]], [[[1.0, 0.0], [1.0, 0.5]], [[0.5, 2.0], [0.0, 1.0]], [[1.0, 1.0], [-1.0, 2.0]], [[2.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, -1.0]]]]> : tensor<2x5x2x2xf32>
  %dt = arith.constant dense<[[[1.0, 0.5], [2.0, 1.0], [0.5, 2.0], [1.0, 1.0], [2.0, 0.5]], [[0.5, 1.0], [1.0, 2.0], [2.0, 0.5], [1.0, 1.0], [0.5, 2.0]]]> : tensor<2x5x2xf32>
  %d = arith.constant dense<[0.5, -0.75]> : tensor<2xf32>
  %len = arith.constant dense<[5, 3]> : tensor<2xi32>
  %s_t = arith.constant dense<[[[[1.0, 2.0], [0.0, -1.0]], [[0.5, 1.0], [2.0, 0.0]]], [[[-1.0, 1.0], [1.0, 1.0]], [[0.0, 2.0], [1.0, -2.0]]]]> : tensor<2x2x2x2xf32>
  %s_d = tensor.cast %s_t : tensor<2x2x2x2xf32> to tensor<?x2x2x2xf32>
  %s = builtin.unrealized_conversion_cast %s_d : tensor<?x2x2x2xf32> to !ssm.ssm_state<2x2x2xf32>

  // @scan
// CHECK-LABEL: sizes = [2, 5, 2, 2]
// CHECK-NEXT: {{\[}}4.5,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}-0.25,{{ +}}{{(0\.749999|0\.75|0\.750001)}}]
// CHECK-NEXT: {{\[}}2,{{ +}}-0.25]
// CHECK-NEXT: {{\[}}{{(0\.999999|1)}},{{ +}}0.375]
// CHECK-NEXT: {{\[}}{{(8\.49999|8\.5|8\.50001)}},{{ +}}{{(5\.49999|5\.5|5\.50001)}}]
// CHECK-NEXT: {{\[}}-0.21875,{{ +}}-2.4375]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}3.25]
// CHECK-NEXT: {{\[}}{{(-1\.54687|-1\.54688)}},{{ +}}{{(5\.90624|5\.90625|5\.90626)}}]
// CHECK-NEXT: {{\[}}{{(8\.43749|8\.4375|8\.43751)}},{{ +}}{{(-5|-5\.00001)}}]
// CHECK-NEXT: {{\[}}{{(-1\.45312|-1\.45313)}},{{ +}}{{(5\.03124|5\.03125|5\.03126)}}]
// CHECK-NEXT: {{\[}}-1.5,{{ +}}{{(0\.999999|1)}}]
// CHECK-NEXT: {{\[}}{{(0\.499999|0\.5)}},{{ +}}0.25]
// CHECK-NEXT: {{\[}}-1.8125,{{ +}}-0.1875]
// CHECK-NEXT: {{\[}}-3.75,{{ +}}-2.75]
// CHECK-NEXT: {{\[}}1.25,{{ +}}-4.75]
// CHECK-NEXT: {{\[}}-2.375,{{ +}}{{(-0\.499999|-0\.5)}}]
// CHECK-NEXT: {{\[}}{{(5\.24999|5\.25|5\.25001)}},{{ +}}-2.75]
// CHECK-NEXT: {{\[}}-2.125,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}4.5,{{ +}}{{(-8\.49999|-8\.5|-8\.50001)}}]
// CHECK-NEXT: {{\[}}-3.875,{{ +}}{{(7\.49999|7\.5|7\.50001)}}]
// CHECK-LABEL: sizes = [2, 2, 2, 2]
// CHECK-NEXT: {{\[}}2.5625,{{ +}}2.3125]
// CHECK-NEXT: {{\[}}{{(-0\.874999|-0\.875|-0\.875001)}},{{ +}}-2.25]
// CHECK-NEXT: {{\[}}0.046875,{{ +}}-0.21875]
// CHECK-NEXT: {{\[}}3.53125,{{ +}}2.125]
// CHECK-NEXT: {{\[}}1.875,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
// CHECK-NEXT: {{\[}}-1.875,{{ +}}-2.125]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}{{(-0\.624999|-0\.625|-0\.625001)}}]
// CHECK-NEXT: {{\[}}-0.125,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
  %y0, %so0 = func.call @scan(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
           !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
        -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  %yd0 = tensor.cast %y0 : tensor<2x5x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @report(%yd0, %so0) : (tensor<?x?x?x?xf32>, !ssm.ssm_state<2x2x2xf32>) -> ()

  // @chunked1
// CHECK-LABEL: sizes = [2, 5, 2, 2]
// CHECK-NEXT: {{\[}}4.5,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}-0.25,{{ +}}{{(0\.749999|0\.75|0\.750001)}}]
// CHECK-NEXT: {{\[}}2,{{ +}}-0.25]
// CHECK-NEXT: {{\[}}{{(0\.999999|1)}},{{ +}}0.375]
// CHECK-NEXT: {{\[}}{{(8\.49999|8\.5|8\.50001)}},{{ +}}{{(5\.49999|5\.5|5\.50001)}}]
// CHECK-NEXT: {{\[}}-0.21875,{{ +}}-2.4375]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}3.25]
// CHECK-NEXT: {{\[}}{{(-1\.54687|-1\.54688)}},{{ +}}{{(5\.90624|5\.90625|5\.90626)}}]
// CHECK-NEXT: {{\[}}{{(8\.43749|8\.4375|8\.43751)}},{{ +}}{{(-5|-5\.00001)}}]
// CHECK-NEXT: {{\[}}{{(-1\.45312|-1\.45313)}},{{ +}}{{(5\.03124|5\.03125|5\.03126)}}]
// CHECK-NEXT: {{\[}}-1.5,{{ +}}{{(0\.999999|1)}}]
// CHECK-NEXT: {{\[}}{{(0\.499999|0\.5)}},{{ +}}0.25]
// CHECK-NEXT: {{\[}}-1.8125,{{ +}}-0.1875]
// CHECK-NEXT: {{\[}}-3.75,{{ +}}-2.75]
// CHECK-NEXT: {{\[}}1.25,{{ +}}-4.75]
// CHECK-NEXT: {{\[}}-2.375,{{ +}}{{(-0\.499999|-0\.5)}}]
// CHECK-NEXT: {{\[}}{{(5\.24999|5\.25|5\.25001)}},{{ +}}-2.75]
// CHECK-NEXT: {{\[}}-2.125,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}4.5,{{ +}}{{(-8\.49999|-8\.5|-8\.50001)}}]
// CHECK-NEXT: {{\[}}-3.875,{{ +}}{{(7\.49999|7\.5|7\.50001)}}]
// CHECK-LABEL: sizes = [2, 2, 2, 2]
// CHECK-NEXT: {{\[}}2.5625,{{ +}}2.3125]
// CHECK-NEXT: {{\[}}{{(-0\.874999|-0\.875|-0\.875001)}},{{ +}}-2.25]
// CHECK-NEXT: {{\[}}0.046875,{{ +}}-0.21875]
// CHECK-NEXT: {{\[}}3.53125,{{ +}}2.125]
// CHECK-NEXT: {{\[}}1.875,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
// CHECK-NEXT: {{\[}}-1.875,{{ +}}-2.125]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}{{(-0\.624999|-0\.625|-0\.625001)}}]
// CHECK-NEXT: {{\[}}-0.125,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
  %y1, %so1 = func.call @chunked1(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
           !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
        -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  %yd1 = tensor.cast %y1 : tensor<2x5x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @report(%yd1, %so1) : (tensor<?x?x?x?xf32>, !ssm.ssm_state<2x2x2xf32>) -> ()

  // @chunked2
// CHECK-LABEL: sizes = [2, 5, 2, 2]
// CHECK-NEXT: {{\[}}4.5,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}-0.25,{{ +}}{{(0\.749999|0\.75|0\.750001)}}]
// CHECK-NEXT: {{\[}}2,{{ +}}-0.25]
// CHECK-NEXT: {{\[}}{{(0\.999999|1)}},{{ +}}0.375]
// CHECK-NEXT: {{\[}}{{(8\.49999|8\.5|8\.50001)}},{{ +}}{{(5\.49999|5\.5|5\.50001)}}]
// CHECK-NEXT: {{\[}}-0.21875,{{ +}}-2.4375]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}3.25]
// CHECK-NEXT: {{\[}}{{(-1\.54687|-1\.54688)}},{{ +}}{{(5\.90624|5\.90625|5\.90626)}}]
// CHECK-NEXT: {{\[}}{{(8\.43749|8\.4375|8\.43751)}},{{ +}}{{(-5|-5\.00001)}}]
// CHECK-NEXT: {{\[}}{{(-1\.45312|-1\.45313)}},{{ +}}{{(5\.03124|5\.03125|5\.03126)}}]
// CHECK-NEXT: {{\[}}-1.5,{{ +}}{{(0\.999999|1)}}]
// CHECK-NEXT: {{\[}}{{(0\.499999|0\.5)}},{{ +}}0.25]
// CHECK-NEXT: {{\[}}-1.8125,{{ +}}-0.1875]
// CHECK-NEXT: {{\[}}-3.75,{{ +}}-2.75]
// CHECK-NEXT: {{\[}}1.25,{{ +}}-4.75]
// CHECK-NEXT: {{\[}}-2.375,{{ +}}{{(-0\.499999|-0\.5)}}]
// CHECK-NEXT: {{\[}}{{(5\.24999|5\.25|5\.25001)}},{{ +}}-2.75]
// CHECK-NEXT: {{\[}}-2.125,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}4.5,{{ +}}{{(-8\.49999|-8\.5|-8\.50001)}}]
// CHECK-NEXT: {{\[}}-3.875,{{ +}}{{(7\.49999|7\.5|7\.50001)}}]
// CHECK-LABEL: sizes = [2, 2, 2, 2]
// CHECK-NEXT: {{\[}}2.5625,{{ +}}2.3125]
// CHECK-NEXT: {{\[}}{{(-0\.874999|-0\.875|-0\.875001)}},{{ +}}-2.25]
// CHECK-NEXT: {{\[}}0.046875,{{ +}}-0.21875]
// CHECK-NEXT: {{\[}}3.53125,{{ +}}2.125]
// CHECK-NEXT: {{\[}}1.875,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
// CHECK-NEXT: {{\[}}-1.875,{{ +}}-2.125]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}{{(-0\.624999|-0\.625|-0\.625001)}}]
// CHECK-NEXT: {{\[}}-0.125,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
  %y2, %so2 = func.call @chunked2(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
           !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
        -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  %yd2 = tensor.cast %y2 : tensor<2x5x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @report(%yd2, %so2) : (tensor<?x?x?x?xf32>, !ssm.ssm_state<2x2x2xf32>) -> ()

  // @chunked3
// CHECK-LABEL: sizes = [2, 5, 2, 2]
// CHECK-NEXT: {{\[}}4.5,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}-0.25,{{ +}}{{(0\.749999|0\.75|0\.750001)}}]
// CHECK-NEXT: {{\[}}2,{{ +}}-0.25]
// CHECK-NEXT: {{\[}}{{(0\.999999|1)}},{{ +}}0.375]
// CHECK-NEXT: {{\[}}{{(8\.49999|8\.5|8\.50001)}},{{ +}}{{(5\.49999|5\.5|5\.50001)}}]
// CHECK-NEXT: {{\[}}-0.21875,{{ +}}-2.4375]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}3.25]
// CHECK-NEXT: {{\[}}{{(-1\.54687|-1\.54688)}},{{ +}}{{(5\.90624|5\.90625|5\.90626)}}]
// CHECK-NEXT: {{\[}}{{(8\.43749|8\.4375|8\.43751)}},{{ +}}{{(-5|-5\.00001)}}]
// CHECK-NEXT: {{\[}}{{(-1\.45312|-1\.45313)}},{{ +}}{{(5\.03124|5\.03125|5\.03126)}}]
// CHECK-NEXT: {{\[}}-1.5,{{ +}}{{(0\.999999|1)}}]
// CHECK-NEXT: {{\[}}{{(0\.499999|0\.5)}},{{ +}}0.25]
// CHECK-NEXT: {{\[}}-1.8125,{{ +}}-0.1875]
// CHECK-NEXT: {{\[}}-3.75,{{ +}}-2.75]
// CHECK-NEXT: {{\[}}1.25,{{ +}}-4.75]
// CHECK-NEXT: {{\[}}-2.375,{{ +}}{{(-0\.499999|-0\.5)}}]
// CHECK-NEXT: {{\[}}{{(5\.24999|5\.25|5\.25001)}},{{ +}}-2.75]
// CHECK-NEXT: {{\[}}-2.125,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}4.5,{{ +}}{{(-8\.49999|-8\.5|-8\.50001)}}]
// CHECK-NEXT: {{\[}}-3.875,{{ +}}{{(7\.49999|7\.5|7\.50001)}}]
// CHECK-LABEL: sizes = [2, 2, 2, 2]
// CHECK-NEXT: {{\[}}2.5625,{{ +}}2.3125]
// CHECK-NEXT: {{\[}}{{(-0\.874999|-0\.875|-0\.875001)}},{{ +}}-2.25]
// CHECK-NEXT: {{\[}}0.046875,{{ +}}-0.21875]
// CHECK-NEXT: {{\[}}3.53125,{{ +}}2.125]
// CHECK-NEXT: {{\[}}1.875,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
// CHECK-NEXT: {{\[}}-1.875,{{ +}}-2.125]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}{{(-0\.624999|-0\.625|-0\.625001)}}]
// CHECK-NEXT: {{\[}}-0.125,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
  %y3, %so3 = func.call @chunked3(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
           !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
        -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  %yd3 = tensor.cast %y3 : tensor<2x5x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @report(%yd3, %so3) : (tensor<?x?x?x?xf32>, !ssm.ssm_state<2x2x2xf32>) -> ()

  // @chunked5
// CHECK-LABEL: sizes = [2, 5, 2, 2]
// CHECK-NEXT: {{\[}}4.5,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}-0.25,{{ +}}{{(0\.749999|0\.75|0\.750001)}}]
// CHECK-NEXT: {{\[}}2,{{ +}}-0.25]
// CHECK-NEXT: {{\[}}{{(0\.999999|1)}},{{ +}}0.375]
// CHECK-NEXT: {{\[}}{{(8\.49999|8\.5|8\.50001)}},{{ +}}{{(5\.49999|5\.5|5\.50001)}}]
// CHECK-NEXT: {{\[}}-0.21875,{{ +}}-2.4375]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}3.25]
// CHECK-NEXT: {{\[}}{{(-1\.54687|-1\.54688)}},{{ +}}{{(5\.90624|5\.90625|5\.90626)}}]
// CHECK-NEXT: {{\[}}{{(8\.43749|8\.4375|8\.43751)}},{{ +}}{{(-5|-5\.00001)}}]
// CHECK-NEXT: {{\[}}{{(-1\.45312|-1\.45313)}},{{ +}}{{(5\.03124|5\.03125|5\.03126)}}]
// CHECK-NEXT: {{\[}}-1.5,{{ +}}{{(0\.999999|1)}}]
// CHECK-NEXT: {{\[}}{{(0\.499999|0\.5)}},{{ +}}0.25]
// CHECK-NEXT: {{\[}}-1.8125,{{ +}}-0.1875]
// CHECK-NEXT: {{\[}}-3.75,{{ +}}-2.75]
// CHECK-NEXT: {{\[}}1.25,{{ +}}-4.75]
// CHECK-NEXT: {{\[}}-2.375,{{ +}}{{(-0\.499999|-0\.5)}}]
// CHECK-NEXT: {{\[}}{{(5\.24999|5\.25|5\.25001)}},{{ +}}-2.75]
// CHECK-NEXT: {{\[}}-2.125,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}4.5,{{ +}}{{(-8\.49999|-8\.5|-8\.50001)}}]
// CHECK-NEXT: {{\[}}-3.875,{{ +}}{{(7\.49999|7\.5|7\.50001)}}]
// CHECK-LABEL: sizes = [2, 2, 2, 2]
// CHECK-NEXT: {{\[}}2.5625,{{ +}}2.3125]
// CHECK-NEXT: {{\[}}{{(-0\.874999|-0\.875|-0\.875001)}},{{ +}}-2.25]
// CHECK-NEXT: {{\[}}0.046875,{{ +}}-0.21875]
// CHECK-NEXT: {{\[}}3.53125,{{ +}}2.125]
// CHECK-NEXT: {{\[}}1.875,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
// CHECK-NEXT: {{\[}}-1.875,{{ +}}-2.125]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}{{(-0\.624999|-0\.625|-0\.625001)}}]
// CHECK-NEXT: {{\[}}-0.125,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
  %y4, %so4 = func.call @chunked5(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
           !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
        -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  %yd4 = tensor.cast %y4 : tensor<2x5x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @report(%yd4, %so4) : (tensor<?x?x?x?xf32>, !ssm.ssm_state<2x2x2xf32>) -> ()

  // @chunked8
// CHECK-LABEL: sizes = [2, 5, 2, 2]
// CHECK-NEXT: {{\[}}4.5,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}-0.25,{{ +}}{{(0\.749999|0\.75|0\.750001)}}]
// CHECK-NEXT: {{\[}}2,{{ +}}-0.25]
// CHECK-NEXT: {{\[}}{{(0\.999999|1)}},{{ +}}0.375]
// CHECK-NEXT: {{\[}}{{(8\.49999|8\.5|8\.50001)}},{{ +}}{{(5\.49999|5\.5|5\.50001)}}]
// CHECK-NEXT: {{\[}}-0.21875,{{ +}}-2.4375]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}3.25]
// CHECK-NEXT: {{\[}}{{(-1\.54687|-1\.54688)}},{{ +}}{{(5\.90624|5\.90625|5\.90626)}}]
// CHECK-NEXT: {{\[}}{{(8\.43749|8\.4375|8\.43751)}},{{ +}}{{(-5|-5\.00001)}}]
// CHECK-NEXT: {{\[}}{{(-1\.45312|-1\.45313)}},{{ +}}{{(5\.03124|5\.03125|5\.03126)}}]
// CHECK-NEXT: {{\[}}-1.5,{{ +}}{{(0\.999999|1)}}]
// CHECK-NEXT: {{\[}}{{(0\.499999|0\.5)}},{{ +}}0.25]
// CHECK-NEXT: {{\[}}-1.8125,{{ +}}-0.1875]
// CHECK-NEXT: {{\[}}-3.75,{{ +}}-2.75]
// CHECK-NEXT: {{\[}}1.25,{{ +}}-4.75]
// CHECK-NEXT: {{\[}}-2.375,{{ +}}{{(-0\.499999|-0\.5)}}]
// CHECK-NEXT: {{\[}}{{(5\.24999|5\.25|5\.25001)}},{{ +}}-2.75]
// CHECK-NEXT: {{\[}}-2.125,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}4.5,{{ +}}{{(-8\.49999|-8\.5|-8\.50001)}}]
// CHECK-NEXT: {{\[}}-3.875,{{ +}}{{(7\.49999|7\.5|7\.50001)}}]
// CHECK-LABEL: sizes = [2, 2, 2, 2]
// CHECK-NEXT: {{\[}}2.5625,{{ +}}2.3125]
// CHECK-NEXT: {{\[}}{{(-0\.874999|-0\.875|-0\.875001)}},{{ +}}-2.25]
// CHECK-NEXT: {{\[}}0.046875,{{ +}}-0.21875]
// CHECK-NEXT: {{\[}}3.53125,{{ +}}2.125]
// CHECK-NEXT: {{\[}}1.875,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
// CHECK-NEXT: {{\[}}-1.875,{{ +}}-2.125]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}{{(-0\.624999|-0\.625|-0\.625001)}}]
// CHECK-NEXT: {{\[}}-0.125,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
  %y5, %so5 = func.call @chunked8(%x, %la, %b, %c, %s, %len, %dt, %d)
      : (tensor<2x5x1x2xf32>, tensor<2x5x2xf32>, tensor<2x5x1x2xf32>, tensor<2x5x2x2xf32>,
           !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x5x2xf32>, tensor<2xf32>)
        -> (tensor<2x5x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  %yd5 = tensor.cast %y5 : tensor<2x5x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @report(%yd5, %so5) : (tensor<?x?x?x?xf32>, !ssm.ssm_state<2x2x2xf32>) -> ()

  // @chunked2_dynamic: the same numbers with L unknown at compile time.
// CHECK-LABEL: sizes = [2, 5, 2, 2]
// CHECK-NEXT: {{\[}}4.5,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}-0.25,{{ +}}{{(0\.749999|0\.75|0\.750001)}}]
// CHECK-NEXT: {{\[}}2,{{ +}}-0.25]
// CHECK-NEXT: {{\[}}{{(0\.999999|1)}},{{ +}}0.375]
// CHECK-NEXT: {{\[}}{{(8\.49999|8\.5|8\.50001)}},{{ +}}{{(5\.49999|5\.5|5\.50001)}}]
// CHECK-NEXT: {{\[}}-0.21875,{{ +}}-2.4375]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}3.25]
// CHECK-NEXT: {{\[}}{{(-1\.54687|-1\.54688)}},{{ +}}{{(5\.90624|5\.90625|5\.90626)}}]
// CHECK-NEXT: {{\[}}{{(8\.43749|8\.4375|8\.43751)}},{{ +}}{{(-5|-5\.00001)}}]
// CHECK-NEXT: {{\[}}{{(-1\.45312|-1\.45313)}},{{ +}}{{(5\.03124|5\.03125|5\.03126)}}]
// CHECK-NEXT: {{\[}}-1.5,{{ +}}{{(0\.999999|1)}}]
// CHECK-NEXT: {{\[}}{{(0\.499999|0\.5)}},{{ +}}0.25]
// CHECK-NEXT: {{\[}}-1.8125,{{ +}}-0.1875]
// CHECK-NEXT: {{\[}}-3.75,{{ +}}-2.75]
// CHECK-NEXT: {{\[}}1.25,{{ +}}-4.75]
// CHECK-NEXT: {{\[}}-2.375,{{ +}}{{(-0\.499999|-0\.5)}}]
// CHECK-NEXT: {{\[}}{{(5\.24999|5\.25|5\.25001)}},{{ +}}-2.75]
// CHECK-NEXT: {{\[}}-2.125,{{ +}}-2.5]
// CHECK-NEXT: {{\[}}4.5,{{ +}}{{(-8\.49999|-8\.5|-8\.50001)}}]
// CHECK-NEXT: {{\[}}-3.875,{{ +}}{{(7\.49999|7\.5|7\.50001)}}]
// CHECK-LABEL: sizes = [2, 2, 2, 2]
// CHECK-NEXT: {{\[}}2.5625,{{ +}}2.3125]
// CHECK-NEXT: {{\[}}{{(-0\.874999|-0\.875|-0\.875001)}},{{ +}}-2.25]
// CHECK-NEXT: {{\[}}0.046875,{{ +}}-0.21875]
// CHECK-NEXT: {{\[}}3.53125,{{ +}}2.125]
// CHECK-NEXT: {{\[}}1.875,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
// CHECK-NEXT: {{\[}}-1.875,{{ +}}-2.125]
// CHECK-NEXT: {{\[}}{{(0\.749999|0\.75|0\.750001)}},{{ +}}{{(-0\.624999|-0\.625|-0\.625001)}}]
// CHECK-NEXT: {{\[}}-0.125,{{ +}}{{(-0\.874999|-0\.875|-0\.875001)}}]
  %x_dyn = tensor.cast %x : tensor<2x5x1x2xf32> to tensor<2x?x1x2xf32>
  %la_dyn = tensor.cast %la : tensor<2x5x2xf32> to tensor<2x?x2xf32>
  %b_dyn = tensor.cast %b : tensor<2x5x1x2xf32> to tensor<2x?x1x2xf32>
  %c_dyn = tensor.cast %c : tensor<2x5x2x2xf32> to tensor<2x?x2x2xf32>
  %dt_dyn = tensor.cast %dt : tensor<2x5x2xf32> to tensor<2x?x2xf32>
  %yn, %son = func.call @chunked2_dynamic(%x_dyn, %la_dyn, %b_dyn, %c_dyn, %s, %len, %dt_dyn, %d)
      : (tensor<2x?x1x2xf32>, tensor<2x?x2xf32>, tensor<2x?x1x2xf32>, tensor<2x?x2x2xf32>,
           !ssm.ssm_state<2x2x2xf32>, tensor<2xi32>, tensor<2x?x2xf32>, tensor<2xf32>)
        -> (tensor<2x?x2x2xf32>, !ssm.ssm_state<2x2x2xf32>)
  %ydn = tensor.cast %yn : tensor<2x?x2x2xf32> to tensor<?x?x?x?xf32>
  func.call @report(%ydn, %son) : (tensor<?x?x?x?xf32>, !ssm.ssm_state<2x2x2xf32>) -> ()
  return
}
