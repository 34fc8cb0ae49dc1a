// RUN: ssmc-opt %s -ssm-decompose-model -split-input-file | FileCheck %s

// Discrete Mamba-2: D = 8, H = 2 heads of P = 4 (Di = 8), G = 1 group of
// N = 2, W = 4. in_proj rows = 2*Di + 2*G*N + H = 22; conv channels = 12.
// CHECK-LABEL: func.func @discrete_mamba2
// CHECK-SAME: (%[[IN:.*]]: tensor<2x5x8xbf16>, %[[LEN:.*]]: tensor<2xi32>, %[[CS:.*]]: !ssm.conv_state<12x4xf32>, %[[SS:.*]]: !ssm.ssm_state<2x4x2xf32>
// CHECK: %[[ZXA:.*]] = ssm.linear %[[IN]], %{{.*}} : tensor<2x5x8xbf16>, tensor<22x8xbf16> -> tensor<2x5x22xbf16>
// CHECK-DAG: %[[XBC:.*]] = tensor.extract_slice %[[ZXA]][0, 0, 0] [2, 5, 12] [1, 1, 1]
// CHECK-DAG: %[[Z:.*]] = tensor.extract_slice %[[ZXA]][0, 0, 12] [2, 5, 8] [1, 1, 1]
// CHECK-DAG: %[[A:.*]] = tensor.extract_slice %[[ZXA]][0, 0, 20] [2, 5, 2] [1, 1, 1]
// CHECK: %[[CONV:.*]], %[[CSO:.*]] = ssm.causal_conv1d %[[XBC]], lengths %[[LEN]], state %[[CS]], weights(%{{.*}}, %{{.*}}) activation <identity>
// CHECK: %[[XS:.*]] = tensor.extract_slice %[[CONV]][0, 0, 0] [2, 5, 8]
// CHECK: %[[X:.*]] = tensor.expand_shape %[[XS]] {{\[\[}}0], [1], [2, 3]] output_shape [2, 5, 2, 4] : tensor<2x5x8xbf16> into tensor<2x5x2x4xbf16>
// CHECK: tensor.extract_slice %[[CONV]][0, 0, 8] [2, 5, 2]
// CHECK: %[[B:.*]] = tensor.expand_shape {{.*}} into tensor<2x5x1x2xbf16>
// CHECK: tensor.extract_slice %[[CONV]][0, 0, 10] [2, 5, 2]
// CHECK: %[[C:.*]] = tensor.expand_shape {{.*}} into tensor<2x5x1x2xbf16>
// CHECK: %[[LOGA:.*]] = linalg.generic {{.*}} ins(%[[A]] : tensor<2x5x2xbf16>) outs(%{{.*}} : tensor<2x5x2xf32>)
// CHECK: arith.extf
// CHECK: math.exp
// CHECK: math.log1p
// CHECK: arith.cmpf ogt
// CHECK: arith.select
// CHECK: arith.negf
// CHECK: %[[Y:.*]], %[[SSO:.*]] = ssm.chunked_scan %[[X]], %[[LOGA]], %[[B]], %[[C]], state %[[SS]], lengths %[[LEN]] skip %{{.*}} chunk 16 : {{.*}} -> (tensor<2x5x2x4xbf16>, !ssm.ssm_state<2x4x2xf32>)
// CHECK: %[[YF:.*]] = tensor.collapse_shape %[[Y]] {{\[\[}}0], [1], [2, 3]] : tensor<2x5x2x4xbf16> into tensor<2x5x8xbf16>
// CHECK: %[[G:.*]] = linalg.generic {{.*}} ins(%[[YF]], %[[Z]], %{{.*}} : tensor<2x5x8xbf16>, tensor<2x5x8xbf16>, tensor<8xbf16>) outs(%{{.*}} : tensor<2x5x8xbf16>)
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: %[[OUT:.*]] = ssm.linear %[[G]], %{{.*}} : tensor<2x5x8xbf16>, tensor<8x8xbf16> -> tensor<2x5x8xbf16>
// CHECK: return %[[OUT]], %[[CSO]], %[[SSO]]
// CHECK-NOT: ssm.discrete_mamba2
func.func @discrete_mamba2(%in: tensor<2x5x8xbf16>, %len: tensor<2xi32>,
    %cs: !ssm.conv_state<12x4xf32>, %ss: !ssm.ssm_state<2x4x2xf32>)
    -> (tensor<2x5x8xbf16>, !ssm.conv_state<12x4xf32>, !ssm.ssm_state<2x4x2xf32>) {
  %in_proj = ssm.weight "in_proj" : tensor<22x8xbf16>
  %z_bias = ssm.weight "z_bias" : tensor<8xbf16>
  %conv_w = ssm.weight "conv_w" : tensor<12x1x4xbf16>
  %conv_b = ssm.weight "conv_b" : tensor<12xbf16>
  %d = ssm.weight "D" : tensor<2xf32>
  %out_proj = ssm.weight "out_proj" : tensor<8x8xbf16>
  %r, %cso, %sso = ssm.discrete_mamba2 %in, lengths %len, state(%cs, %ss),
      weights(%in_proj, %z_bias, %conv_w, %conv_b, %d, %out_proj)
      <heads = 2, head_dim = 4, groups = 1, state = 2, conv = 4, chunk = 16>
      : (tensor<2x5x8xbf16>, tensor<2xi32>, !ssm.conv_state<12x4xf32>, !ssm.ssm_state<2x4x2xf32>,
         tensor<22x8xbf16>, tensor<8xbf16>, tensor<12x1x4xbf16>, tensor<12xbf16>, tensor<2xf32>,
         tensor<8x8xbf16>)
      -> (tensor<2x5x8xbf16>, !ssm.conv_state<12x4xf32>, !ssm.ssm_state<2x4x2xf32>)
  return %r, %cso, %sso : tensor<2x5x8xbf16>, !ssm.conv_state<12x4xf32>, !ssm.ssm_state<2x4x2xf32>
}

// -----

// Mamba-2 (Mamba-in-the-Llama shaped): H = 4 heads of P = 2 (Di = 8),
// x_heads = 2 (Xw = 4), b_groups = 2, c_groups = 4, N = 2, W = 4.
// conv channels = 4 + (2 + 4) * 2 = 16; in_proj rows = 8 + 16 + 4 = 28.
// Dynamic batch and length stay dynamic.
// CHECK-LABEL: func.func @mamba2
// CHECK-SAME: (%[[IN:.*]]: tensor<?x?x6xf32>, %[[LEN:.*]]: tensor<?xi32>
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[BATCH:.*]] = tensor.dim %[[IN]], %[[C0]]
// CHECK-DAG: %[[LENGTH:.*]] = tensor.dim %[[IN]], %[[C1]]
// CHECK: %[[ZX:.*]] = ssm.linear %[[IN]], %{{.*}} : tensor<?x?x6xf32>, tensor<28x6xf32> -> tensor<?x?x28xf32>
// CHECK: %[[Z:.*]] = tensor.extract_slice %[[ZX]][0, 0, 0] [%[[BATCH]], %[[LENGTH]], 8] [1, 1, 1] : tensor<?x?x28xf32> to tensor<?x?x8xf32>
// CHECK: %[[XBC:.*]] = tensor.extract_slice %[[ZX]][0, 0, 8] [%[[BATCH]], %[[LENGTH]], 16]
// CHECK: %[[DT:.*]] = tensor.extract_slice %[[ZX]][0, 0, 24] [%[[BATCH]], %[[LENGTH]], 4]
// CHECK: %[[CONV:.*]], %[[CSO:.*]] = ssm.causal_conv1d %[[XBC]], {{.*}} activation <silu>
// CHECK: tensor.extract_slice %[[CONV]][0, 0, 0] [%[[BATCH]], %[[LENGTH]], 4]
// CHECK: %[[X:.*]] = tensor.expand_shape {{.*}} output_shape [%[[BATCH]], %[[LENGTH]], 2, 2] : tensor<?x?x4xf32> into tensor<?x?x2x2xf32>
// CHECK: tensor.extract_slice %[[CONV]][0, 0, 4] [%[[BATCH]], %[[LENGTH]], 4]
// CHECK: %[[B:.*]] = tensor.expand_shape {{.*}} into tensor<?x?x2x2xf32>
// CHECK: tensor.extract_slice %[[CONV]][0, 0, 8] [%[[BATCH]], %[[LENGTH]], 8]
// CHECK: %[[C:.*]] = tensor.expand_shape {{.*}} into tensor<?x?x4x2xf32>
// CHECK: %[[DELTA:.*]] = linalg.generic {{.*}} ins(%[[DT]], %{{.*}} : tensor<?x?x4xf32>, tensor<4xf32>) outs(%{{.*}} : tensor<?x?x4xf32>)
// CHECK: arith.addf
// CHECK: math.log1p
// CHECK: %[[LOGA:.*]] = linalg.generic {{.*}} ins(%[[DELTA]], %{{.*}} : tensor<?x?x4xf32>, tensor<4xf32>)
// CHECK: math.exp
// CHECK: arith.negf
// CHECK: arith.mulf
// CHECK: %[[Y:.*]], %[[SSO:.*]] = ssm.chunked_scan %[[X]], %[[LOGA]], %[[B]], %[[C]], state %{{.*}}, lengths %[[LEN]] dt %[[DELTA]] skip %{{.*}} chunk 8 : {{.*}} -> (tensor<?x?x4x2xf32>, !ssm.ssm_state<4x2x2xf32>)
// CHECK: %[[YF:.*]] = tensor.collapse_shape %[[Y]] {{.*}} into tensor<?x?x8xf32>
// CHECK: %[[N:.*]] = ssm.gated_rms_norm %[[YF]], %[[Z]], %{{.*}} group 4 eps 1.000000e-05
// CHECK: %[[OUT:.*]] = ssm.linear %[[N]], %{{.*}} : tensor<?x?x8xf32>, tensor<6x8xf32> -> tensor<?x?x6xf32>
// CHECK: return %[[OUT]], %[[CSO]], %[[SSO]]
func.func @mamba2(%in: tensor<?x?x6xf32>, %len: tensor<?xi32>,
    %cs: !ssm.conv_state<16x4xf32>, %ss: !ssm.ssm_state<4x2x2xf32>)
    -> (tensor<?x?x6xf32>, !ssm.conv_state<16x4xf32>, !ssm.ssm_state<4x2x2xf32>) {
  %in_proj = ssm.weight "in_proj" : tensor<28x6xf32>
  %conv_w = ssm.weight "conv_w" : tensor<16x1x4xf32>
  %conv_b = ssm.weight "conv_b" : tensor<16xf32>
  %dt_bias = ssm.weight "dt_bias" : tensor<4xf32>
  %a_log = ssm.weight "A_log" : tensor<4xf32>
  %d = ssm.weight "D" : tensor<4xf32>
  %norm = ssm.weight "norm" : tensor<8xf32>
  %out_proj = ssm.weight "out_proj" : tensor<6x8xf32>
  %r, %cso, %sso = ssm.mamba2 %in, lengths %len, state(%cs, %ss),
      weights(%in_proj, %conv_w, %conv_b, %dt_bias, %a_log, %d, %norm, %out_proj)
      <heads = 4, head_dim = 2, state = 2, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4,
       chunk = 8, norm_group = 4, norm_eps = 1.0e-05>
      : (tensor<?x?x6xf32>, tensor<?xi32>, !ssm.conv_state<16x4xf32>, !ssm.ssm_state<4x2x2xf32>,
         tensor<28x6xf32>, tensor<16x1x4xf32>, tensor<16xf32>, tensor<4xf32>, tensor<4xf32>,
         tensor<4xf32>, tensor<8xf32>, tensor<6x8xf32>)
      -> (tensor<?x?x6xf32>, !ssm.conv_state<16x4xf32>, !ssm.ssm_state<4x2x2xf32>)
  return %r, %cso, %sso : tensor<?x?x6xf32>, !ssm.conv_state<16x4xf32>, !ssm.ssm_state<4x2x2xf32>
}

// -----

// CHECK-LABEL: func.func @swiglu
// CHECK: %[[G:.*]] = ssm.linear %[[X:.*]], %{{.*}} : tensor<1x3x4xbf16>, tensor<6x4xbf16> -> tensor<1x3x6xbf16>
// CHECK: %[[U:.*]] = ssm.linear %[[X]], %{{.*}} : tensor<1x3x4xbf16>, tensor<6x4xbf16> -> tensor<1x3x6xbf16>
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[U]] : tensor<1x3x6xbf16>, tensor<1x3x6xbf16>) outs(%{{.*}} : tensor<1x3x6xbf16>)
// CHECK: arith.extf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: arith.mulf
// CHECK: arith.truncf
// CHECK: %[[D:.*]] = ssm.linear %[[P]], %{{.*}} : tensor<1x3x6xbf16>, tensor<4x6xbf16> -> tensor<1x3x4xbf16>
// CHECK: return %[[D]]
func.func @swiglu(%x: tensor<1x3x4xbf16>) -> tensor<1x3x4xbf16> {
  %g = ssm.weight "gate" : tensor<6x4xbf16>
  %u = ssm.weight "up" : tensor<6x4xbf16>
  %d = ssm.weight "down" : tensor<4x6xbf16>
  %y = ssm.swiglu_mlp %x, %g, %u, %d : (tensor<1x3x4xbf16>, tensor<6x4xbf16>, tensor<6x4xbf16>, tensor<4x6xbf16>) -> tensor<1x3x4xbf16>
  return %y : tensor<1x3x4xbf16>
}

// -----

// Attention is not decomposed yet: it passes through unchanged.
// CHECK-LABEL: func.func @attention_untouched
// CHECK: ssm.attention
func.func @attention_untouched(%x: tensor<1x2x8xf32>, %len: tensor<1xi32>, %pos: tensor<1xi64>,
    %kv: !ssm.kv_cache<1x4xf32>) -> (tensor<1x2x8xf32>, !ssm.kv_cache<1x4xf32>) {
  %q = ssm.weight "q" : tensor<8x8xf32>
  %k = ssm.weight "k" : tensor<4x8xf32>
  %v = ssm.weight "v" : tensor<4x8xf32>
  %o = ssm.weight "o" : tensor<8x8xf32>
  %r, %kvo = ssm.attention %x, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o)
      <heads = 2, kv_heads = 1, head_dim = 4, rope = <theta = 10000.0, dim = 4>>
      : (tensor<1x2x8xf32>, tensor<1xi32>, tensor<1xi64>, !ssm.kv_cache<1x4xf32>,
         tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>)
      -> (tensor<1x2x8xf32>, !ssm.kv_cache<1x4xf32>)
  return %r, %kvo : tensor<1x2x8xf32>, !ssm.kv_cache<1x4xf32>
}

// -----

// A target's chunk length replaces the model's.
// RUN: ssmc-opt %s -ssm-decompose-model="chunk=8" -split-input-file | FileCheck %s --check-prefix=CHUNK
// RUN: not ssmc-opt %s -ssm-decompose-model="chunk=-1" -split-input-file 2>&1 | FileCheck %s --check-prefix=BADCHUNK
// CHUNK: ssm.chunked_scan {{.*}} chunk 8
// BADCHUNK: ssm-decompose-model: chunk must be >= 0, got -1
