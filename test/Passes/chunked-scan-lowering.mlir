// RUN: ssmc-opt %s -convert-ssm-to-linalg -split-input-file | FileCheck %s

// ssm.chunked_scan lowers by the chunked SSD algorithm (spec §1.6): an
// scf.for over chunks of `chunk` tokens carrying the float32 state. With a
// dynamic L the loop takes the whole chunks and a last, shorter chunk of
// dynamic size L - FULL is peeled off after it.
// Padding positions (start + l >= lengths[b]) get log_a = 0 and input 0, so
// they leave the state unchanged. Groups: x head h/2, B group h/2, C group h.
// CHECK-DAG: #[[XHEAD:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2 floordiv 2, d3)>
// CHECK-DAG: #[[HEADMAJOR:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[CUMIN:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[CL:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-DAG: #[[BS:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d3 floordiv 2, d4)>
// CHECK-DAG: #[[CBOUT:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d2)>
// CHECK-LABEL: func.func @chunked_dynamic
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x?x1x2xbf16>, %[[LA:[^:]*]]: tensor<?x?x2xf32>,
// CHECK-SAME: %[[S:[^:]*]]: tensor<?x2x2x3xf32>, %[[LEN:[^:]*]]: tensor<?xi32>,
// CHECK: %[[L:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[Q:.*]] = arith.constant 4 : index
// A single token (decode) takes the recurrence itself (the shared scan
// step): S' = exp(log_a) S + (dt x) B over (b, h, p, n) in place, masked by
// 0 < lengths[b], then y = S' . C + D x, inserted as y's first token; longer
// sequences take the chunks.
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[L]], %c1
// CHECK: %[[DISPATCH:.*]]:2 = scf.if %[[ONE]]
// CHECK: %[[STEP:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]{{.*}} outs(%[[S]] : tensor<?x2x2x3xf32>)
// CHECK: math.exp
// CHECK: arith.cmpi slt
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} ins(%[[STEP]],
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[YONE:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0, 0] [%{{.*}}, 1, 2, 2]
// CHECK: scf.yield %[[STEP]], %[[YONE]]
// CHECK: } else {
// Whole chunks of static length 4 in the loop; the rest is peeled off below.
// CHECK: %[[NFULL:.*]] = arith.divui %[[L]], %[[Q]]
// CHECK: %[[FULL:.*]] = arith.muli %[[NFULL]], %[[Q]]
// CHECK: %[[LOOP:.*]]:2 = scf.for %[[T:.*]] = %{{.*}} to %[[FULL]] step %[[Q]] iter_args(%[[ST:.*]] = %[[S]], %[[Y:.*]] = %{{.*}})
// CHECK: %[[XC:.*]] = tensor.extract_slice %[[X]][0, %[[T]], 0, 0] [%{{.*}}, 4, 1, 2]
// CHECK: %[[LAC:.*]] = tensor.extract_slice %[[LA]][0, %[[T]], 0] [%{{.*}}, 4, 2]
// Step 0: masked log_a (stored head-major) and u = dt x.
// CHECK: linalg.generic {{.*}} #[[HEADMAJOR]]]{{.*}} ins(%[[LAC]], %[[LEN]] :
// CHECK: arith.cmpi slt
// CHECK: linalg.generic {indexing_maps = [#[[XHEAD]], {{.*}} ins(%[[XC]], %[[LEN]],
// Step 0: cumsum within the chunk (a sum of masked terms), and its total as
// the slice at the chunk's last token.
// CHECK: %[[ACUM:.*]] = linalg.generic {indexing_maps = [#[[CUMIN]], {{.*}}, iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: arith.cmpi ule
// CHECK: arith.select
// CHECK: arith.addf
// CHECK: %[[LAST:.*]] = arith.subi %{{.*}}, %c1
// CHECK: tensor.extract_slice %[[ACUM]][0, %[[LAST]], 0] [%{{.*}}, 1, 2] [1, 1, 1] : tensor<?x4x2xf32> to tensor<?x2xf32>
// Step 1: C B^T in float32 (stored head-major, B x H x l x s), then the
// masked decay matrix (exp only of a selected exponent), then Y_diag.
// CHECK: linalg.generic {indexing_maps = [#[[CL]], #[[BS]], #[[CBOUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} {{.*}} outs(%{{.*}} : tensor<?x2x4x4xf32>)
// CHECK: %[[CAUSAL:.*]] = arith.cmpi ule
// CHECK: %[[E:.*]] = arith.select %[[CAUSAL]]
// CHECK: math.exp %[[E]]
// Y_diag sums over s with p innermost (an axpy over contiguous p).
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]
// Step 4: S_enter . C, then y = Y_diag + exp(Acum) (S_enter . C) + D x.
// CHECK: ins(%{{.*}}, %[[ST]] : tensor<?x4x2x3xbf16>, tensor<?x2x2x3xf32>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// Steps 2-3: the carried state decayed over the chunk plus the chunk's inputs.
// CHECK: outs(%[[ST]] : tensor<?x2x2x3xf32>)
// CHECK: %[[NEW:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK: %[[YN:.*]] = tensor.insert_slice %{{.*}} into %[[Y]][0, %[[T]], 0, 0] [%{{.*}}, 4, 2, 2]
// CHECK: scf.yield %[[NEW]], %[[YN]]
// The last, shorter chunk (dynamic length L - FULL) continues from the loop.
// CHECK: %[[PARTIAL:.*]] = arith.cmpi ult, %[[FULL]], %[[L]]
// CHECK: %[[REST:.*]]:2 = scf.if %[[PARTIAL]]
// CHECK: %[[SIZE:.*]] = arith.subi %[[L]], %[[FULL]]
// CHECK: tensor.extract_slice %[[X]][0, %[[FULL]], 0, 0] [%{{.*}}, %[[SIZE]], 1, 2]
// CHECK: tensor.insert_slice %{{.*}} into %[[LOOP]]#1[0, %[[FULL]], 0, 0] [%{{.*}}, %[[SIZE]], 2, 2]
// CHECK: } else {
// CHECK-NEXT: scf.yield %[[LOOP]]#0, %[[LOOP]]#1
// CHECK: scf.yield %[[REST]]#0, %[[REST]]#1
// CHECK: return %[[DISPATCH]]#1, %[[DISPATCH]]#0
// CHECK-NOT: ssm.
func.func @chunked_dynamic(%x: tensor<?x?x1x2xbf16>, %la: tensor<?x?x2xf32>, %b: tensor<?x?x1x3xbf16>,
                           %c: tensor<?x?x2x3xbf16>, %s: !ssm.ssm_state<2x2x3xf32>, %len: tensor<?xi32>,
                           %dt: tensor<?x?x2xf32>, %d: tensor<2xf32>)
    -> (tensor<?x?x2x2xbf16>, !ssm.ssm_state<2x2x3xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d chunk 4
      : (tensor<?x?x1x2xbf16>, tensor<?x?x2xf32>, tensor<?x?x1x3xbf16>, tensor<?x?x2x3xbf16>,
         !ssm.ssm_state<2x2x3xf32>, tensor<?xi32>, tensor<?x?x2xf32>, tensor<2xf32>)
      -> (tensor<?x?x2x2xbf16>, !ssm.ssm_state<2x2x3xf32>)
  return %y, %so : tensor<?x?x2x2xbf16>, !ssm.ssm_state<2x2x3xf32>
}

// -----

// Chunks that tile a static sequence keep static shapes: no dynamic size.
// Without dt the input is not scaled; without D there is no skip term.
// CHECK-LABEL: func.func @chunked_static
// CHECK: %[[Q:.*]] = arith.constant 4 : index
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %[[Q]]
// CHECK-NOT: arith.minsi
// CHECK: tensor.extract_slice %{{.*}}[0, %[[T]], 0, 0] [2, 4, 2, 2] {{.*}} to tensor<2x4x2x2xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x4x2x2xf32>, tensor<2xi32>)
// CHECK-NOT: arith.mulf
// CHECK: arith.select
// CHECK: scf.yield
func.func @chunked_static(%x: tensor<2x8x2x2xf32>, %la: tensor<2x8x2xf32>, %b: tensor<2x8x2x3xf32>,
                          %c: tensor<2x8x2x3xf32>, %s: !ssm.ssm_state<2x2x3xf32>, %len: tensor<2xi32>)
    -> (tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len chunk 4
      : (tensor<2x8x2x2xf32>, tensor<2x8x2xf32>, tensor<2x8x2x3xf32>, tensor<2x8x2x3xf32>,
         !ssm.ssm_state<2x2x3xf32>, tensor<2xi32>) -> (tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>)
  return %y, %so : tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>
}

// -----

// A chunk longer than a static sequence is the sequence: one chunk of 8.
// CHECK-LABEL: func.func @chunked_long
// CHECK: %[[Q:.*]] = arith.constant 8 : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[Q]]
// CHECK-NOT: arith.minsi
// CHECK: to tensor<2x8x2x2xf32>
func.func @chunked_long(%x: tensor<2x8x2x2xf32>, %la: tensor<2x8x2xf32>, %b: tensor<2x8x2x3xf32>,
                        %c: tensor<2x8x2x3xf32>, %s: !ssm.ssm_state<2x2x3xf32>, %len: tensor<2xi32>)
    -> (tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len chunk 64
      : (tensor<2x8x2x2xf32>, tensor<2x8x2xf32>, tensor<2x8x2x3xf32>, tensor<2x8x2x3xf32>,
         !ssm.ssm_state<2x2x3xf32>, tensor<2xi32>) -> (tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>)
  return %y, %so : tensor<2x8x2x2xf32>, !ssm.ssm_state<2x2x3xf32>
}
