// Every op, type and attribute of the ssm dialect parses, prints, and parses
// again to the same IR, in both the custom and the generic form.
// RUN: ssmc-opt %s -split-input-file | ssmc-opt -split-input-file | FileCheck %s
// RUN: ssmc-opt %s -split-input-file -mlir-print-op-generic | ssmc-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @weights
// CHECK: ssm.weight "backbone.embedding.weight" : tensor<512x64xbf16>
// CHECK: ssm.weight "lm_head.weight" : !ssm.qweight<512x64xi4, group = 32, scale = f16, zero_point = none, packing = nibbles_lo_first>
// CHECK: ssm.weight "w8" : !ssm.qweight<16x64xi8, group = 64, scale = f32, zero_point = integer, packing = none>
// CHECK: ssm.weight "w4f" : !ssm.qweight<16x64xi4, group = 16, scale = bf16, zero_point = float, packing = nibbles_lo_first>
func.func @weights() {
  %0 = ssm.weight "backbone.embedding.weight" : tensor<512x64xbf16>
  %1 = ssm.weight "lm_head.weight" : !ssm.qweight<512x64xi4, group = 32, scale = f16, zero_point = none, packing = nibbles_lo_first>
  %2 = ssm.weight "w8" : !ssm.qweight<16x64xi8, group = 64, scale = f32, zero_point = integer, packing = none>
  %3 = ssm.weight "w4f" : !ssm.qweight<16x64xi4, group = 16, scale = bf16, zero_point = float, packing = nibbles_lo_first>
  return
}

// -----

// CHECK-LABEL: func.func @state_types
// CHECK-SAME: !ssm.conv_state<6144x4xf32>
// CHECK-SAME: !ssm.ssm_state<32x64x64xf32>
// CHECK-SAME: !ssm.kv_cache<8x128xbf16>
func.func @state_types(%a: !ssm.conv_state<6144x4xf32>, %b: !ssm.ssm_state<32x64x64xf32>,
                       %c: !ssm.kv_cache<8x128xbf16>) {
  return
}

// -----

// CHECK-LABEL: func.func @module_attrs
// Parameters equal to their defaults are elided.
// CHECK-SAME: ssm.rope = #ssm.rope<theta = 5.000000e+05, dim = 128, scaling = llama3, factor = 8.000000e+00>
// CHECK-SAME: ssm.rope_plain = #ssm.rope<theta = 1.000000e+04, dim = 64>
// CHECK-SAME: ssm.store = #ssm.weight_store<path = "/models/llamba-1b", format = "safetensors">
func.func @module_attrs() attributes {
    ssm.store = #ssm.weight_store<path = "/models/llamba-1b", format = "safetensors">,
    ssm.rope = #ssm.rope<theta = 500000.0, dim = 128, scaling = llama3, factor = 8.0,
                         low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 8192>,
    ssm.rope_plain = #ssm.rope<theta = 10000.0, dim = 64>} {
  return
}

// -----

// CHECK-LABEL: func.func @embed_norm_add_mlp_head
// CHECK: ssm.embed %{{.*}}[%{{.*}}] : tensor<512x64xbf16>, tensor<?x?xi32> -> tensor<?x?x64xbf16>
// CHECK: ssm.rms_norm %{{.*}}, %{{.*}} eps 1.000000e-05 rounding <hf> : tensor<?x?x64xbf16>, tensor<64xbf16> -> tensor<?x?x64xbf16>
// CHECK: ssm.rms_norm %{{.*}}, %{{.*}} eps 1.000000e-05 rounding <fused> : tensor<?x?x64xf32>, tensor<64xbf16> -> tensor<?x?x64xbf16>
// CHECK: ssm.swiglu_mlp %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x?x64xbf16>, tensor<128x64xbf16>, tensor<128x64xbf16>, tensor<64x128xbf16>) -> tensor<?x?x64xbf16>
// CHECK: ssm.add %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<?x?x64xbf16> -> tensor<?x?x64xf32>
// CHECK: ssm.lm_head %{{.*}}, %{{.*}} {valid_vocab = 500 : i64} : tensor<?x?x64xbf16>, tensor<512x64xbf16> -> tensor<?x?x512xf32>
// CHECK: ssm.last_token %{{.*}}, lengths %{{.*}} : tensor<?x?x64xf32>, tensor<?xi32> -> tensor<?x1x64xf32>
func.func @embed_norm_add_mlp_head(%ids: tensor<?x?xi32>, %r: tensor<?x?x64xf32>, %len: tensor<?xi32>) -> tensor<?x?x512xf32> {
  %e = ssm.weight "embedding" : tensor<512x64xbf16>
  %n = ssm.weight "norm" : tensor<64xbf16>
  %h = ssm.embed %e[%ids] : tensor<512x64xbf16>, tensor<?x?xi32> -> tensor<?x?x64xbf16>
  %u = ssm.rms_norm %h, %n eps 1.0e-05 rounding <hf> : tensor<?x?x64xbf16>, tensor<64xbf16> -> tensor<?x?x64xbf16>
  %u2 = ssm.rms_norm %r, %n eps 1.0e-05 rounding <fused> : tensor<?x?x64xf32>, tensor<64xbf16> -> tensor<?x?x64xbf16>
  %g = ssm.weight "gate" : tensor<128x64xbf16>
  %p = ssm.weight "up" : tensor<128x64xbf16>
  %d = ssm.weight "down" : tensor<64x128xbf16>
  %m = ssm.swiglu_mlp %u, %g, %p, %d : (tensor<?x?x64xbf16>, tensor<128x64xbf16>, tensor<128x64xbf16>, tensor<64x128xbf16>) -> tensor<?x?x64xbf16>
  %s = ssm.add %r, %m : tensor<?x?x64xf32>, tensor<?x?x64xbf16> -> tensor<?x?x64xf32>
  %logits = ssm.lm_head %u2, %e {valid_vocab = 500} : tensor<?x?x64xbf16>, tensor<512x64xbf16> -> tensor<?x?x512xf32>
  %last = ssm.last_token %s, lengths %len : tensor<?x?x64xf32>, tensor<?xi32> -> tensor<?x1x64xf32>
  return %logits : tensor<?x?x512xf32>
}

// -----

// A Discrete Mamba-2 (Llamba) mixer: D = 64, H = 4 heads of P = 16, G = 2 B/C
// groups of N = 16: in_proj rows = 2*64 + 2*2*16 + 4 = 196, conv channels = 128.
// CHECK-LABEL: func.func @discrete_mamba2
// CHECK: ssm.discrete_mamba2 %{{.*}}, lengths %{{.*}}, state(%{{.*}}, %{{.*}}), weights(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
func.func @discrete_mamba2(%u: tensor<?x?x64xbf16>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>,
                           %ss: !ssm.ssm_state<4x16x16xf32>) -> (tensor<?x?x64xbf16>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>) {
  %w0 = ssm.weight "in_proj" : tensor<196x64xbf16>
  %w1 = ssm.weight "z_bias" : tensor<64xbf16>
  %w2 = ssm.weight "conv1d.weight" : tensor<128x1x4xbf16>
  %w3 = ssm.weight "conv1d.bias" : tensor<128xbf16>
  %w4 = ssm.weight "D" : tensor<4xbf16>
  %w5 = ssm.weight "out_proj" : tensor<64x64xbf16>
  %y, %cs1, %ss1 = ssm.discrete_mamba2 %u, lengths %len, state(%cs, %ss), weights(%w0, %w1, %w2, %w3, %w4, %w5)
      <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xbf16>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xbf16>,
         tensor<64xbf16>, tensor<128x1x4xbf16>, tensor<128xbf16>, tensor<4xbf16>, tensor<64x64xbf16>)
      -> (tensor<?x?x64xbf16>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return %y, %cs1, %ss1 : tensor<?x?x64xbf16>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>
}

// -----

// A Mamba-in-the-Llama Mamba-2 mixer: D = 64, H = 4 heads, P = N = 16,
// x/B from 2 kv groups (d_xb = 32), C per head: in_proj = 64 + 32+32+64 + 4 = 196,
// conv channels = 128, gated norm per head (16 channels).
// CHECK-LABEL: func.func @mamba2
// CHECK: ssm.mamba2 %{{.*}}, lengths %{{.*}}, state(%{{.*}}, %{{.*}}), weights(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.000000e-05>
func.func @mamba2(%u: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>,
                  %ss: !ssm.ssm_state<4x16x16xf32>) -> tensor<?x?x64xf32> {
  %w0 = ssm.weight "in_proj" : tensor<196x64xf32>
  %w1 = ssm.weight "conv1d.weight" : tensor<128x1x4xf32>
  %w2 = ssm.weight "conv1d.bias" : tensor<128xf32>
  %w3 = ssm.weight "dt_bias" : tensor<4xf32>
  %w4 = ssm.weight "A_log" : tensor<4xf32>
  %w5 = ssm.weight "D" : tensor<4xf32>
  %w6 = ssm.weight "norm.weight" : tensor<64xf32>
  %w7 = ssm.weight "out_proj" : tensor<64x64xf32>
  %y, %cs1, %ss1 = ssm.mamba2 %u, lengths %len, state(%cs, %ss), weights(%w0, %w1, %w2, %w3, %w4, %w5, %w6, %w7)
      <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256,
       norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>,
         tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>)
      -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return %y : tensor<?x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @attention
// CHECK: ssm.attention %{{.*}}, lengths %{{.*}}, positions %{{.*}}, cache %{{.*}}, weights(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 5.000000e+05, dim = 16, scaling = llama3, factor = 3.200000e+01, high_freq_factor = 8.000000e+00, original_max_positions = 4096>>
func.func @attention(%u: tensor<?x?x64xbf16>, %len: tensor<?xi32>, %pos: tensor<?xi64>,
                     %kv: !ssm.kv_cache<2x16xbf16>) -> (tensor<?x?x64xbf16>, !ssm.kv_cache<2x16xbf16>) {
  %q = ssm.weight "q_proj" : tensor<64x64xbf16>
  %k = ssm.weight "k_proj" : tensor<32x64xbf16>
  %v = ssm.weight "v_proj" : tensor<32x64xbf16>
  %o = ssm.weight "o_proj" : tensor<64x64xbf16>
  %y, %kv1 = ssm.attention %u, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o)
      <heads = 4, kv_heads = 2, head_dim = 16,
       rope = <theta = 500000.0, dim = 16, scaling = llama3, factor = 32.0, low_freq_factor = 1.0,
               high_freq_factor = 8.0, original_max_positions = 4096>>
      : (tensor<?x?x64xbf16>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xbf16>, tensor<64x64xbf16>,
         tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<64x64xbf16>) -> (tensor<?x?x64xbf16>, !ssm.kv_cache<2x16xbf16>)
  return %y, %kv1 : tensor<?x?x64xbf16>, !ssm.kv_cache<2x16xbf16>
}

// -----

// CHECK-LABEL: func.func @linear
// CHECK: ssm.linear %{{.*}}, %{{.*}} : tensor<?x?x64xbf16>, tensor<32x64xbf16> -> tensor<?x?x32xbf16>
// CHECK: ssm.linear %{{.*}}, %{{.*}} : tensor<?x64xbf16>, !ssm.qweight<32x64xi8, group = 64, scale = f32, zero_point = none, packing = none> -> tensor<?x32xf32>
func.func @linear(%x: tensor<?x?x64xbf16>, %t: tensor<?x64xbf16>) {
  %w = ssm.weight "w" : tensor<32x64xbf16>
  %q = ssm.weight "q" : !ssm.qweight<32x64xi8, group = 64, scale = f32, zero_point = none, packing = none>
  %0 = ssm.linear %x, %w : tensor<?x?x64xbf16>, tensor<32x64xbf16> -> tensor<?x?x32xbf16>
  %1 = ssm.linear %t, %q : tensor<?x64xbf16>, !ssm.qweight<32x64xi8, group = 64, scale = f32, zero_point = none, packing = none> -> tensor<?x32xf32>
  return
}

// -----

// CHECK-LABEL: func.func @conv
// CHECK: ssm.causal_conv1d %{{.*}}, lengths %{{.*}}, state %{{.*}}, weights(%{{.*}}, %{{.*}}) activation <silu> : (tensor<?x?x128xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, tensor<128x1x4xf32>, tensor<128xf32>) -> (tensor<?x?x128xf32>, !ssm.conv_state<128x4xf32>)
// CHECK: ssm.causal_conv1d_step %{{.*}}, state %{{.*}}, weights(%{{.*}}, %{{.*}}) activation <identity> : (tensor<?x128xf32>, !ssm.conv_state<128x4xf32>, tensor<128x1x4xf32>, tensor<128xf32>) -> (tensor<?x128xf32>, !ssm.conv_state<128x4xf32>)
func.func @conv(%x: tensor<?x?x128xf32>, %t: tensor<?x128xf32>, %len: tensor<?xi32>, %s: !ssm.conv_state<128x4xf32>,
                %w: tensor<128x1x4xf32>, %b: tensor<128xf32>) {
  %y, %s1 = ssm.causal_conv1d %x, lengths %len, state %s, weights(%w, %b) activation <silu>
      : (tensor<?x?x128xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, tensor<128x1x4xf32>, tensor<128xf32>)
      -> (tensor<?x?x128xf32>, !ssm.conv_state<128x4xf32>)
  %z, %s2 = ssm.causal_conv1d_step %t, state %s1, weights(%w, %b) activation <identity>
      : (tensor<?x128xf32>, !ssm.conv_state<128x4xf32>, tensor<128x1x4xf32>, tensor<128xf32>)
      -> (tensor<?x128xf32>, !ssm.conv_state<128x4xf32>)
  return
}

// -----

// Scans: 4 heads, x from 2 heads (repeated), B from 2 groups, C per head.
// CHECK-LABEL: func.func @scans
// CHECK: ssm.selective_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, state %{{.*}}, lengths %{{.*}} dt %{{.*}} skip %{{.*}} :
// CHECK: ssm.selective_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, state %{{.*}}, lengths %{{.*}} :
// CHECK: ssm.chunked_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, state %{{.*}}, lengths %{{.*}} skip %{{.*}} chunk 64 :
// CHECK: ssm.state_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, state %{{.*}} dt %{{.*}} :
func.func @scans(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>,
                 %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %d: tensor<4xf32>,
                 %xt: tensor<?x2x16xf32>, %lat: tensor<?x4xf32>, %bt: tensor<?x2x8xf32>, %ct: tensor<?x4x8xf32>,
                 %dtt: tensor<?x4xf32>) {
  %y0, %s0 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %d
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>,
         tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  %y1, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s0, lengths %len
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>,
         tensor<?xi32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  %y2, %s2 = ssm.chunked_scan %x, %la, %b, %c, state %s1, lengths %len skip %d chunk 64
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>,
         tensor<?xi32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  %y3, %s3 = ssm.state_update %xt, %lat, %bt, %ct, state %s2 dt %dtt
      : (tensor<?x2x16xf32>, tensor<?x4xf32>, tensor<?x2x8xf32>, tensor<?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>,
         tensor<?x4xf32>) -> (tensor<?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

// CHECK-LABEL: func.func @gated_norm
// CHECK: ssm.gated_rms_norm %{{.*}}, %{{.*}}, %{{.*}} group 16 eps 1.000000e-05 : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xbf16>
func.func @gated_norm(%y: tensor<?x?x64xf32>, %z: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xbf16> {
  %0 = ssm.gated_rms_norm %y, %z, %w group 16 eps 1.0e-05
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xbf16>
  return %0 : tensor<?x?x64xbf16>
}
