// RUN: ssmc-opt %s -convert-ssm-to-linalg -split-input-file | FileCheck %s

// The state becomes a batch tensor in the signature. A single token (decode)
// convolves the state's newest entries and the token directly, computes the
// shifted state into a fresh tensor and copies it over the old one. A longer
// sequence concatenates state and inputs into a float32 history (index j =
// time j - W), the output is a windowed reduction over it, and the new state
// is gathered at lengths[b] over the old one. Both write the output into the
// same tensor and the state in place.
// CHECK-DAG: #[[TRANSPOSE:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[WINDOW:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 + d3, d2)>
// CHECK-DAG: #[[WEIGHT:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, 0, d3)>
// CHECK-LABEL: func.func @causal_conv1d
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4xbf16>, %[[LEN:.*]]: tensor<?xi32>, %[[S:.*]]: tensor<?x4x3xf32>, %[[W:.*]]: tensor<4x1x3xbf16>,
// CHECK-SAME: -> (tensor<?x?x4xbf16>, tensor<?x4x3xf32>)
// CHECK: %[[OUT:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x4xbf16>
// CHECK: %[[IF:.*]]:2 = scf.if %{{.*}} -> (tensor<?x?x4xbf16>, tensor<?x4x3xf32>) {
// CHECK: %[[Y1:.*]] = linalg.generic {{.*}} outs(%[[OUT]] : tensor<?x?x4xbf16>)
// CHECK-COUNT-3: tensor.extract %[[W]]
// CHECK: tensor.extract %[[X]]
// CHECK: math.exp
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: %[[SHIFT:.*]] = linalg.generic {{.*}} ins(%[[LEN]] : tensor<?xi32>)
// CHECK: arith.cmpi sgt
// CHECK: %[[SO1:.*]] = linalg.copy ins(%[[SHIFT]] : tensor<?x4x3xf32>) outs(%[[S]] : tensor<?x4x3xf32>)
// CHECK: scf.yield %[[Y1]], %[[SO1]]
// CHECK: } else {
// CHECK: %[[HIST0:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x4xf32>
// CHECK: %[[STM:.*]] = linalg.generic {indexing_maps = [#[[TRANSPOSE]], {{.*}}]{{.*}} ins(%[[S]] : tensor<?x4x3xf32>)
// CHECK: %[[HIST1:.*]] = tensor.insert_slice %[[STM]] into %[[HIST0]][0, 0, 0] [%{{.*}}, 3, 4] [1, 1, 1]
// CHECK: %[[XF:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<?x?x4xbf16>) outs(%{{.*}} : tensor<?x?x4xf32>)
// CHECK: %[[HIST:.*]] = tensor.insert_slice %[[XF]] into %[[HIST1]][0, 3, 0]
// CHECK: %[[WIN:.*]] = tensor.extract_slice %[[HIST]][0, 1, 0]
// CHECK: %[[ACC:.*]] = linalg.generic {indexing_maps = [#[[WINDOW]], #[[WEIGHT]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[WIN]], %[[W]] : tensor<?x?x4xf32>, tensor<4x1x3xbf16>)
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[ACC]], %{{.*}} : tensor<?x?x4xf32>, tensor<4xbf16>) outs(%[[OUT]] : tensor<?x?x4xbf16>)
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: %[[SO:.*]] = linalg.generic {{.*}} ins(%[[LEN]] : tensor<?xi32>) outs(%[[S]] : tensor<?x4x3xf32>)
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: tensor.extract %[[HIST]]
// CHECK: arith.select %{{.*}}, %out, %{{.*}} : f32
// CHECK: scf.yield %[[Y]], %[[SO]]
// CHECK: return %[[IF]]#0, %[[IF]]#1 : tensor<?x?x4xbf16>, tensor<?x4x3xf32>
func.func @causal_conv1d(%x: tensor<?x?x4xbf16>, %len: tensor<?xi32>, %s: !ssm.conv_state<4x3xf32>,
                         %w: tensor<4x1x3xbf16>, %bias: tensor<4xbf16>)
    -> (tensor<?x?x4xbf16>, !ssm.conv_state<4x3xf32>) {
  %y, %so = ssm.causal_conv1d %x, lengths %len, state %s, weights(%w, %bias) activation <silu>
      : (tensor<?x?x4xbf16>, tensor<?xi32>, !ssm.conv_state<4x3xf32>, tensor<4x1x3xbf16>, tensor<4xbf16>)
      -> (tensor<?x?x4xbf16>, !ssm.conv_state<4x3xf32>)
  return %y, %so : tensor<?x?x4xbf16>, !ssm.conv_state<4x3xf32>
}

// -----

// Step: the state shifts left by one and the input becomes its newest entry;
// a static batch refines the dynamic state tensor and is cast back at the end.
// CHECK-LABEL: func.func @causal_conv1d_step
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>, %[[S:.*]]: tensor<?x4x3xf32>,
// CHECK: %[[SS:.*]] = tensor.cast %[[S]] : tensor<?x4x3xf32> to tensor<2x4x3xf32>
// CHECK: %[[KEPT:.*]] = tensor.extract_slice %[[SS]][0, 0, 1] [2, 4, 2] [1, 1, 1]
// CHECK: %[[SHIFTED:.*]] = tensor.insert_slice %[[KEPT]] into %{{.*}}[0, 0, 0] [2, 4, 2] [1, 1, 1]
// CHECK: %[[NEW:.*]] = tensor.insert_slice %[[X]] into %[[SHIFTED]][0, 0, 2] [2, 4, 1] [1, 1, 1] : tensor<2x4xf32> into tensor<2x4x3xf32>
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[NEW]], %{{.*}} : tensor<2x4x3xf32>, tensor<4x1x3xf32>) outs(%{{.*}} : tensor<2x4xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[ACC]], %{{.*}} : tensor<2x4xf32>, tensor<4xf32>)
// CHECK-NOT: math.exp
// CHECK: %[[SO:.*]] = tensor.cast %[[NEW]] : tensor<2x4x3xf32> to tensor<?x4x3xf32>
// CHECK: return %[[Y]], %[[SO]]
func.func @causal_conv1d_step(%x: tensor<2x4xf32>, %s: !ssm.conv_state<4x3xf32>,
                              %w: tensor<4x1x3xf32>, %bias: tensor<4xf32>)
    -> (tensor<2x4xf32>, !ssm.conv_state<4x3xf32>) {
  %y, %so = ssm.causal_conv1d_step %x, state %s, weights(%w, %bias) activation <identity>
      : (tensor<2x4xf32>, !ssm.conv_state<4x3xf32>, tensor<4x1x3xf32>, tensor<4xf32>)
      -> (tensor<2x4xf32>, !ssm.conv_state<4x3xf32>)
  return %y, %so : tensor<2x4xf32>, !ssm.conv_state<4x3xf32>
}

// -----

// Recurrent scan: scf.for over time carrying the f32 state and the output;
// head h reads x head h/2, B group h/4, C group h/2; padding tokens keep the
// state (select on t < lengths[b]); y = S C + D x rounded once to bf16.
// CHECK-DAG: #[[ID4:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[XH:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 floordiv 2, d2)>
// CHECK-DAG: #[[HEAD:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-DAG: #[[BG:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 floordiv 4, d3)>
// CHECK-DAG: #[[SEQ:.*]] = affine_map<(d0, d1, d2, d3) -> (d0)>
// CHECK-DAG: #[[CG:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 floordiv 2, d3)>
// CHECK-DAG: #[[SKIPD:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-DAG: #[[SKIPX:.*]] = affine_map<(d0, d1, d2) -> (d0, d1 floordiv 2, d2)>
// CHECK-LABEL: func.func @selective_scan
// CHECK-SAME: %[[S:[a-z0-9]+]]: tensor<?x4x3x5xf32>, %[[LEN:[a-z0-9]+]]: tensor<?xi32>
// CHECK: %[[YINIT:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x4x3xbf16>
// CHECK: %[[LOOP:.*]]:2 = scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[SI:.*]] = %[[S]], %[[YI:.*]] = %[[YINIT]]) -> (tensor<?x4x3x5xf32>, tensor<?x?x4x3xbf16>)
// CHECK: %[[XT:.*]] = tensor.extract_slice %{{.*}}[0, %[[T]], 0, 0] [%{{.*}}, 1, 2, 3] [1, 1, 1, 1] : tensor<?x?x2x3xbf16> to tensor<?x2x3xbf16>
// CHECK: %[[NS:.*]] = linalg.generic {indexing_maps = [#[[XH]], #[[HEAD]], #[[BG]], #[[HEAD]], #[[SEQ]], #[[ID4]]]
// CHECK-SAME: outs(%[[SI]] : tensor<?x4x3x5xf32>)
// CHECK: math.exp
// CHECK: arith.cmpi slt, %[[T]]
// CHECK: arith.select
// CHECK: %[[ACC:.*]] = linalg.generic {indexing_maps = [#[[ID4]], #[[CG]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[NS]], {{.*}})
// CHECK: %[[YT:.*]] = linalg.generic {indexing_maps = [{{.*}}, #[[SKIPD]], #[[SKIPX]], {{.*}}]{{.*}} ins(%[[ACC]], %{{.*}}, %[[XT]] : tensor<?x4x3xf32>, tensor<4xf32>, tensor<?x2x3xbf16>) outs(%{{.*}} : tensor<?x4x3xbf16>)
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: %[[Y:.*]] = tensor.insert_slice %[[YT]] into %[[YI]][0, %[[T]], 0, 0]
// CHECK: scf.yield %[[NS]], %[[Y]]
// CHECK: return %[[LOOP]]#1, %[[LOOP]]#0 : tensor<?x?x4x3xbf16>, tensor<?x4x3x5xf32>
func.func @selective_scan(%x: tensor<?x?x2x3xbf16>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x1x5xbf16>,
                          %c: tensor<?x?x2x5xbf16>, %s: !ssm.ssm_state<4x3x5xf32>, %len: tensor<?xi32>,
                          %dt: tensor<?x?x4xf32>, %d: tensor<4xf32>)
    -> (tensor<?x?x4x3xbf16>, !ssm.ssm_state<4x3x5xf32>) {
  %y, %so = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d
      : (tensor<?x?x2x3xbf16>, tensor<?x?x4xf32>, tensor<?x?x1x5xbf16>, tensor<?x?x2x5xbf16>,
         !ssm.ssm_state<4x3x5xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>)
      -> (tensor<?x?x4x3xbf16>, !ssm.ssm_state<4x3x5xf32>)
  return %y, %so : tensor<?x?x4x3xbf16>, !ssm.ssm_state<4x3x5xf32>
}

// -----

// chunked_scan takes the chunked SSD lowering (checked in detail by
// chunked-scan-lowering.mlir): a loop over chunks of 64 carrying the state.
// CHECK-LABEL: func.func @chunked_scan
// CHECK: %[[Q:.*]] = arith.constant 64 : index
// CHECK: scf.for {{.*}} step %[[Q]]
// CHECK: scf.yield
// CHECK-NOT: ssm.
func.func @chunked_scan(%x: tensor<?x?x2x2xf32>, %la: tensor<?x?x2xf32>, %b: tensor<?x?x2x3xf32>,
                        %c: tensor<?x?x2x3xf32>, %s: !ssm.ssm_state<2x2x3xf32>, %len: tensor<?xi32>)
    -> (tensor<?x?x2x2xf32>, !ssm.ssm_state<2x2x3xf32>) {
  %y, %so = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len chunk 64
      : (tensor<?x?x2x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2x3xf32>, tensor<?x?x2x3xf32>,
         !ssm.ssm_state<2x2x3xf32>, tensor<?xi32>) -> (tensor<?x?x2x2xf32>, !ssm.ssm_state<2x2x3xf32>)
  return %y, %so : tensor<?x?x2x2xf32>, !ssm.ssm_state<2x2x3xf32>
}

// -----

// state_update: one step, no loop and no length mask.
// CHECK-LABEL: func.func @state_update
// CHECK-SAME: %[[S:[a-z0-9]+]]: tensor<?x2x2x3xf32>
// CHECK-NOT: scf.for
// CHECK: %[[NS:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<?x2x2xf16>, tensor<?x2xf32>, tensor<?x1x3xf16>, tensor<?x2xf32>) outs(%[[S]] : tensor<?x2x2x3xf32>)
// CHECK-NOT: arith.select
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2x2xf16>)
// CHECK: return %[[Y]], %[[NS]] : tensor<?x2x2xf16>, tensor<?x2x2x3xf32>
func.func @state_update(%x: tensor<?x2x2xf16>, %la: tensor<?x2xf32>, %b: tensor<?x1x3xf16>,
                        %c: tensor<?x1x3xf16>, %s: !ssm.ssm_state<2x2x3xf32>, %dt: tensor<?x2xf32>,
                        %d: tensor<2xf16>) -> (tensor<?x2x2xf16>, !ssm.ssm_state<2x2x3xf32>) {
  %y, %so = ssm.state_update %x, %la, %b, %c, state %s dt %dt skip %d
      : (tensor<?x2x2xf16>, tensor<?x2xf32>, tensor<?x1x3xf16>, tensor<?x1x3xf16>,
         !ssm.ssm_state<2x2x3xf32>, tensor<?x2xf32>, tensor<2xf16>)
      -> (tensor<?x2x2xf16>, !ssm.ssm_state<2x2x3xf32>)
  return %y, %so : tensor<?x2x2xf16>, !ssm.ssm_state<2x2x3xf32>
}

// -----

// Calls and declarations convert too; a kv_cache becomes [batch, capacity,
// K/V, kv head, dim] (AttentionLowering.h) and ssm.attention lowers, so no
// cast is left.
// CHECK-LABEL: func.func private @callee(tensor<?x?x2x2x4xbf16>) -> tensor<?x?x2x2x4xbf16>
// CHECK-LABEL: func.func @attention_and_call
// CHECK-SAME: %[[KV:[a-z0-9]+]]: tensor<?x?x2x2x4xbf16>) -> (tensor<1x3x8xbf16>, tensor<?x?x2x2x4xbf16>)
// CHECK: %[[CALLED:.*]] = call @callee(%[[KV]]) : (tensor<?x?x2x2x4xbf16>) -> tensor<?x?x2x2x4xbf16>
// CHECK-NOT: unrealized_conversion_cast
// CHECK: %[[RES:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[CALLED]])
// CHECK-NOT: unrealized_conversion_cast
// CHECK: return %{{.*}}, %[[RES]] : tensor<1x3x8xbf16>, tensor<?x?x2x2x4xbf16>
func.func private @callee(!ssm.kv_cache<2x4xbf16>) -> !ssm.kv_cache<2x4xbf16>
func.func @attention_and_call(%x: tensor<1x3x8xbf16>, %len: tensor<1xi32>, %pos: tensor<1xi64>,
                              %q: tensor<8x8xbf16>, %k: tensor<8x8xbf16>, %v: tensor<8x8xbf16>,
                              %o: tensor<8x8xbf16>, %kv: !ssm.kv_cache<2x4xbf16>)
    -> (tensor<1x3x8xbf16>, !ssm.kv_cache<2x4xbf16>) {
  %kv1 = func.call @callee(%kv) : (!ssm.kv_cache<2x4xbf16>) -> !ssm.kv_cache<2x4xbf16>
  %y, %kv2 = ssm.attention %x, lengths %len, positions %pos, cache %kv1,
      weights(%q, %k, %v, %o) <heads = 2, kv_heads = 2, head_dim = 4, rope = <theta = 10000.0, dim = 4, scaling = none, factor = 1.0, original_max_positions = 64>>
      : (tensor<1x3x8xbf16>, tensor<1xi32>, tensor<1xi64>, !ssm.kv_cache<2x4xbf16>, tensor<8x8xbf16>,
         tensor<8x8xbf16>, tensor<8x8xbf16>, tensor<8x8xbf16>) -> (tensor<1x3x8xbf16>, !ssm.kv_cache<2x4xbf16>)
  return %y, %kv2 : tensor<1x3x8xbf16>, !ssm.kv_cache<2x4xbf16>
}
