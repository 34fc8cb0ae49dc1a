// Every verifier error of the ssm dialect's ops and attributes, with its exact message.
// RUN: ssmc-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{'ssm.weight' op weight name must not be empty}}
%0 = ssm.weight "" : tensor<4xf32>

// -----

// expected-error @+1 {{'ssm.weight' op weight 'w' must have a static shape, got 'tensor<?x4xf32>'}}
%0 = ssm.weight "w" : tensor<?x4xf32>

// -----

// expected-error @+1 {{'ssm.weight' op weight 'w' must have float or integer elements, got 'tensor<4xindex>'}}
%0 = ssm.weight "w" : tensor<4xindex>

// -----

func.func @f(%t: tensor<8xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'ssm.embed' op 'table' must be V x D, got 'tensor<8xf32>'}}
  %0 = ssm.embed %t[%ids] : tensor<8xf32>, tensor<?x?xi32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%t: tensor<8x4xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{'ssm.embed' op 'ids' must be a rank-2 tensor, got 'tensor<?xi32>'}}
  %0 = ssm.embed %t[%ids] : tensor<8x4xf32>, tensor<?xi32> -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%t: tensor<8x4xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'ssm.embed' op 'result' has shape ?x?x5, expected ?x?x4}}
  %0 = ssm.embed %t[%ids] : tensor<8x4xf32>, tensor<?x?xi32> -> tensor<?x?x5xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.rms_norm' op eps must be positive}}
  %0 = ssm.rms_norm %x, %w eps 0.0 rounding <hf> : tensor<?x?x4xf32>, tensor<4xf32> -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xf32>, %w: tensor<5xf32>) {
  // expected-error @+1 {{'ssm.rms_norm' op 'weight' has shape 5, expected 4}}
  %0 = ssm.rms_norm %x, %w eps 1.0e-5 rounding <hf> : tensor<?x?x4xf32>, tensor<5xf32> -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x?xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.rms_norm' op 'input' needs a static last dimension, got 'tensor<?x?x?xf32>'}}
  %0 = ssm.rms_norm %x, %w eps 1.0e-5 rounding <fused> : tensor<?x?x?xf32>, tensor<4xf32> -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xi32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.rms_norm' op 'input' must have a float element type, got 'tensor<?x?x4xi32>'}}
  %0 = ssm.rms_norm %x, %w eps 1.0e-5 rounding <hf> : tensor<?x?x4xi32>, tensor<4xf32> -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.rms_norm' op 'result' has shape 3x3x4, expected 2x3x4}}
  %0 = ssm.rms_norm %x, %w eps 1.0e-5 rounding <hf> : tensor<2x3x4xf32>, tensor<4xf32> -> tensor<3x3x4xf32>
  return
}

// -----

func.func @f(%a: tensor<?x?x4xf32>, %b: tensor<?x?x5xf32>) {
  // expected-error @+1 {{'ssm.add' op 'rhs' has shape ?x?x5, expected ?x?x4}}
  %0 = ssm.add %a, %b : tensor<?x?x4xf32>, tensor<?x?x5xf32> -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%a: tensor<?x?x4xf32>, %b: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'ssm.add' op 'result' must have a float element type, got 'tensor<?x?x4xi32>'}}
  %0 = ssm.add %a, %b : tensor<?x?x4xf32>, tensor<?x?x4xf32> -> tensor<?x?x4xi32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xf32>, %g: tensor<8xf32>, %u: tensor<16x4xf32>, %d: tensor<4x16xf32>) {
  // expected-error @+1 {{'ssm.swiglu_mlp' op 'gate' must be I x D, got 'tensor<8xf32>'}}
  %0 = ssm.swiglu_mlp %x, %g, %u, %d : (tensor<?x?x4xf32>, tensor<8xf32>, tensor<16x4xf32>, tensor<4x16xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xf32>, %g: tensor<16x4xf32>, %u: tensor<16x5xf32>, %d: tensor<4x16xf32>) {
  // expected-error @+1 {{'ssm.swiglu_mlp' op 'up' has shape 16x5, expected 16x4}}
  %0 = ssm.swiglu_mlp %x, %g, %u, %d : (tensor<?x?x4xf32>, tensor<16x4xf32>, tensor<16x5xf32>, tensor<4x16xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xf32>, %g: tensor<16x4xf32>, %u: tensor<16x4xf32>, %d: tensor<4x8xf32>) {
  // expected-error @+1 {{'ssm.swiglu_mlp' op 'down' has shape 4x8, expected 4x16}}
  %0 = ssm.swiglu_mlp %x, %g, %u, %d : (tensor<?x?x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<4x8xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xf32>, %g: tensor<16x5xf32>, %u: tensor<16x4xf32>, %d: tensor<4x16xf32>) {
  // expected-error @+1 {{'ssm.swiglu_mlp' op 'gate' has shape 16x5, expected 16x4}}
  %0 = ssm.swiglu_mlp %x, %g, %u, %d : (tensor<?x?x4xf32>, tensor<16x5xf32>, tensor<16x4xf32>, tensor<4x16xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<195x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'in_proj' has shape 195x64, expected 196x64}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<195x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<63xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'z_bias' has shape 63, expected 64}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<63xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'conv_weight' has shape 128x4, expected 128x1x4}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<96xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'conv_bias' has shape 96, expected 128}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<96xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<8xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'D' has shape 8, expected 4}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<8xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x32xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'out_proj' has shape 64x32, expected 64x64}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x32xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x3xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'conv_state' has per-sequence shape 128x3, expected 128x4}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x3xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x8xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'ssm_state' has per-sequence shape 4x16x8, expected 4x16x16}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xbf16>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'ssm_state' must have f32 elements, got 'tensor<?x4x16x16xbf16>'}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xbf16>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xbf16>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'result' has shape ?x?x32, expected ?x?x64}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x32xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'conv_state_out' type '!ssm.conv_state<128x4xbf16>' must equal '!ssm.conv_state<128x4xf32>'}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xbf16>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'input' must be a rank-3 tensor, got 'tensor<?x64xf32>'}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<2x?x64xf32>, %len: tensor<3xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.discrete_mamba2' op 'lengths' has shape 3, expected 2}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 128>
      : (tensor<2x?x64xf32>, tensor<3xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of groups (3)}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 3, state = 16, conv = 4, chunk = 128>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %zb: tensor<64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %D: tensor<4xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{chunk must be positive, got 0}}
  %y, %c, %s = ssm.discrete_mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %zb, %cw, %cb, %D, %out) <heads = 4, head_dim = 16, groups = 2, state = 16, conv = 4, chunk = 0>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<200x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'in_proj' has shape 200x64, expected 196x64}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<200x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<132x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'conv_weight' has shape 132x1x4, expected 128x1x4}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<132x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<132xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'conv_bias' has shape 132, expected 128}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<132xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<2xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'dt_bias' has shape 2, expected 4}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<2xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<2xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'A_log' has shape 2, expected 4}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<2xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4x16xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'D' has shape 4x16, expected 4}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x16xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<32xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'norm_weight' has shape 32, expected 64}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<32xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<32x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'out_proj' has shape 32x64, expected 64x64}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<32x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<96x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'conv_state' has per-sequence shape 96x4, expected 128x4}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<96x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<96x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x32xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'ssm_state' has per-sequence shape 4x16x32, expected 4x16x16}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x32xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x32xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf16>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'ssm_state' must have f32 elements, got 'tensor<?x4x16x16xf16>'}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf16>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf16>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.mamba2' op 'ssm_state_out' type '!ssm.ssm_state<4x16x16xf16>' must equal '!ssm.ssm_state<4x16x16xf32>'}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf16>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of x_heads (3)}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 3, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of b_groups (8)}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 8, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of c_groups (3)}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 3, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{heads * head_dim (64) must be a multiple of norm_group (24)}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 24, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{norm_eps must be positive}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = 16, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 0.0>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %cs: !ssm.conv_state<128x4xf32>, %ss: !ssm.ssm_state<4x16x16xf32>, %inp: tensor<196x64xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %dtb: tensor<4xf32>, %al: tensor<4xf32>, %D: tensor<4xf32>, %nw: tensor<64xf32>, %out: tensor<64x64xf32>) {
  // expected-error @+1 {{state must be positive, got -1}}
  %y, %c, %s = ssm.mamba2 %input, lengths %len, state(%cs, %ss), weights(%inp, %cw, %cb, %dtb, %al, %D, %nw, %out) <heads = 4, head_dim = 16, state = -1, x_heads = 2, b_groups = 2, c_groups = 4, conv = 4, chunk = 256, norm_group = 16, norm_eps = 1.0e-05>
      : (tensor<?x?x64xf32>, tensor<?xi32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>, tensor<196x64xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.conv_state<128x4xf32>, !ssm.ssm_state<4x16x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<32x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.attention' op 'q_proj' has shape 32x64, expected 64x64}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<64x64xf32>, %k: tensor<64x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.attention' op 'k_proj' has shape 64x64, expected 32x64}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<64x64xf32>, %k: tensor<32x64xf32>, %v: tensor<16x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.attention' op 'v_proj' has shape 16x64, expected 32x64}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<16x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<64x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x32xf32>) {
  // expected-error @+1 {{'ssm.attention' op 'o_proj' has shape 64x32, expected 64x64}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x32xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<4x16xf32>, %q: tensor<64x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.attention' op 'kv_cache' has per-sequence shape 4x16, expected 2x16}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<4x16xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<4x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?x2xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<64x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.attention' op 'positions' must be a rank-1 tensor, got 'tensor<?x2xi64>'}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?x2xi64>, !ssm.kv_cache<2x16xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<64x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{'ssm.attention' op 'kv_cache_out' type '!ssm.kv_cache<2x16xbf16>' must equal '!ssm.kv_cache<2x16xf32>'}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xbf16>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<64x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 3, head_dim = 16, rope = <theta = 10000.0, dim = 16>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xf32>)
  return
}

// -----

func.func @f(%input: tensor<?x?x64xf32>, %len: tensor<?xi32>, %pos: tensor<?xi64>, %kv: !ssm.kv_cache<2x16xf32>, %q: tensor<64x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x64xf32>, %o: tensor<64x64xf32>) {
  // expected-error @+1 {{rope dim (32) exceeds head_dim (16)}}
  %y, %c = ssm.attention %input, lengths %len, positions %pos, cache %kv, weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 16, rope = <theta = 10000.0, dim = 32>>
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<2x16xf32>, tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x64xf32>) -> (tensor<?x?x64xf32>, !ssm.kv_cache<2x16xf32>)
  return
}

// -----

// expected-error @+1 {{rope theta must be positive}}
func.func @f() attributes {r = #ssm.rope<theta = 0.0, dim = 16>} {
  return
}

// -----

// expected-error @+1 {{rope dim must be positive and even, got 15}}
func.func @f() attributes {r = #ssm.rope<theta = 10000.0, dim = 15>} {
  return
}

// -----

// expected-error @+1 {{llama3 rope factor must be positive}}
func.func @f() attributes {r = #ssm.rope<theta = 10000.0, dim = 16, scaling = llama3, factor = 0.0>} {
  return
}

// -----

// expected-error @+1 {{llama3 rope needs high_freq_factor > low_freq_factor}}
func.func @f() attributes {r = #ssm.rope<theta = 10000.0, dim = 16, scaling = llama3, factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 4.0>} {
  return
}

// -----

// expected-error @+1 {{llama3 rope original_max_positions must be positive}}
func.func @f() attributes {r = #ssm.rope<theta = 10000.0, dim = 16, scaling = llama3, factor = 8.0, original_max_positions = 0>} {
  return
}

// -----

func.func @f(%x: tensor<2x?x4xbf16>, %len: tensor<2xi32>) {
  // expected-error @+1 {{'ssm.last_token' op 'result' has shape 2x3x4, expected 2x1x4}}
  %0 = ssm.last_token %x, lengths %len : tensor<2x?x4xbf16>, tensor<2xi32> -> tensor<2x3x4xbf16>
  return
}

// -----

func.func @f(%x: tensor<2x?x4xbf16>, %len: tensor<3xi32>) {
  // expected-error @+1 {{'ssm.last_token' op 'lengths' has shape 3, expected 2}}
  %0 = ssm.last_token %x, lengths %len : tensor<2x?x4xbf16>, tensor<3xi32> -> tensor<2x1x4xbf16>
  return
}

// -----

func.func @f(%x: tensor<2x?x4xbf16>, %len: tensor<2xi32>) {
  // expected-error @+1 {{'ssm.last_token' op 'result' element type must equal the input's, 'bf16'}}
  %0 = ssm.last_token %x, lengths %len : tensor<2x?x4xbf16>, tensor<2xi32> -> tensor<2x1x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xbf16>, %w: tensor<16x4xbf16>) {
  // expected-error @+1 {{'ssm.lm_head' op 'result' must have f32 elements, got 'tensor<?x?x16xbf16>'}}
  %0 = ssm.lm_head %x, %w : tensor<?x?x4xbf16>, tensor<16x4xbf16> -> tensor<?x?x16xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xbf16>, %w: tensor<16x8xbf16>) {
  // expected-error @+1 {{'ssm.lm_head' op 'weight' has shape 16x8, expected 16x4}}
  %0 = ssm.lm_head %x, %w : tensor<?x?x4xbf16>, tensor<16x8xbf16> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xbf16>, %w: tensor<16x4xbf16>) {
  // expected-error @+1 {{'ssm.lm_head' op valid_vocab (17) must be in [1, 16]}}
  %0 = ssm.lm_head %x, %w {valid_vocab = 17} : tensor<?x?x4xbf16>, tensor<16x4xbf16> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x4xbf16>, %w: tensor<16x4xbf16>) {
  // expected-error @+1 {{'ssm.lm_head' op 'result' has shape ?x?x8, expected ?x?x16}}
  %0 = ssm.lm_head %x, %w : tensor<?x?x4xbf16>, tensor<16x4xbf16> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4xf32>, %w: tensor<8x5xf32>) {
  // expected-error @+1 {{'ssm.linear' op 'weight' has shape 8x5, expected 8x4}}
  %0 = ssm.linear %x, %w : tensor<?x4xf32>, tensor<8x5xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %w: !ssm.qweight<8x64xi8, group = 64, scale = f32, zero_point = none, packing = none>) {
  // expected-error @+1 {{'ssm.linear' op 'result' has shape ?x16, expected ?x8}}
  %0 = ssm.linear %x, %w : tensor<?x64xf32>, !ssm.qweight<8x64xi8, group = 64, scale = f32, zero_point = none, packing = none> -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'ssm.linear' op 'weight' must be N x K, got 'tensor<8xf32>'}}
  %0 = ssm.linear %x, %w : tensor<?x4xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %len: tensor<?xi32>, %s: !ssm.conv_state<8x4xf32>, %w: tensor<8x1x3xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'ssm.causal_conv1d' op 'state' has per-sequence shape 8x4, expected 8x3}}
  %y, %s1 = ssm.causal_conv1d %x, lengths %len, state %s, weights(%w, %b) activation <silu>
      : (tensor<?x?x8xf32>, tensor<?xi32>, !ssm.conv_state<8x4xf32>, tensor<8x1x3xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, !ssm.conv_state<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %len: tensor<?xi32>, %s: !ssm.conv_state<8x4xf32>, %w: tensor<8x4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'ssm.causal_conv1d' op 'weight' must be C x 1 x W, got 'tensor<8x4xf32>'}}
  %y, %s1 = ssm.causal_conv1d %x, lengths %len, state %s, weights(%w, %b) activation <silu>
      : (tensor<?x?x8xf32>, tensor<?xi32>, !ssm.conv_state<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, !ssm.conv_state<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %s: !ssm.conv_state<8x4xf32>, %w: tensor<8x1x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.causal_conv1d_step' op 'bias' has shape 4, expected 8}}
  %y, %s1 = ssm.causal_conv1d_step %x, state %s, weights(%w, %b) activation <identity>
      : (tensor<?x8xf32>, !ssm.conv_state<8x4xf32>, tensor<8x1x4xf32>, tensor<4xf32>) -> (tensor<?x8xf32>, !ssm.conv_state<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %s: !ssm.conv_state<8x4xf32>, %w: tensor<8x1x4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'ssm.causal_conv1d_step' op 'input' must be a rank-2 tensor, got 'tensor<?x?x8xf32>'}}
  %y, %s1 = ssm.causal_conv1d_step %x, state %s, weights(%w, %b) activation <identity>
      : (tensor<?x?x8xf32>, !ssm.conv_state<8x4xf32>, tensor<8x1x4xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, !ssm.conv_state<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x3x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op state heads (4) must be a multiple of x heads (3)}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x3x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x3x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op state heads (4) must be a multiple of B groups (3)}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x3x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x8x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op state heads (4) must be a multiple of C groups (8)}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x8x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x8xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'x' has shape ?x?x2x8, expected ?x?x2x16}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x8xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x2xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'log_a' has shape ?x?x2, expected ?x?x4}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x2xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xbf16>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'log_a' must have f32 elements, got 'tensor<?x?x4xbf16>'}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xbf16>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x4xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'B' has shape ?x?x2x4, expected ?x?x2x8}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x4xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'C' has shape ?x?x4x4, expected ?x?x4x8}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x4xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf16>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'dt' must have f32 elements, got 'tensor<?x?x4xf16>'}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf16>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<2xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'D' has shape 2, expected 4}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<2xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'result' has shape ?x?x2x16, expected ?x?x4x16}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x2x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xbf16>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'state' must have f32 elements}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xbf16>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xbf16>)
  return
}

// -----

func.func @f(%x: tensor<?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'x' must be a rank-4 tensor, got 'tensor<?x2x16xf32>'}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.selective_scan' op 'state_out' type '!ssm.ssm_state<4x16x4xf32>' must equal '!ssm.ssm_state<4x16x8xf32>'}}
  %y, %s1 = ssm.selective_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<?xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.chunked_scan' op chunk must be positive, got 0}}
  %y, %s1 = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D chunk 0
      : (tensor<?x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<2x?x2x16xf32>, %la: tensor<?x?x4xf32>, %b: tensor<?x?x2x8xf32>, %c: tensor<?x?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %len: tensor<4xi32>, %dt: tensor<?x?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.chunked_scan' op 'lengths' has shape 4, expected 2}}
  %y, %s1 = ssm.chunked_scan %x, %la, %b, %c, state %s, lengths %len dt %dt skip %D chunk 64
      : (tensor<2x?x2x16xf32>, tensor<?x?x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<4xi32>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<?x?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x2x16xf32>, %la: tensor<?x4xf32>, %b: tensor<?x2x16xf32>, %c: tensor<?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %dt: tensor<?x4xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.state_update' op 'B' has shape ?x2x16, expected ?x2x8}}
  %y, %s1 = ssm.state_update %x, %la, %b, %c, state %s dt %dt skip %D
      : (tensor<?x2x16xf32>, tensor<?x4xf32>, tensor<?x2x16xf32>, tensor<?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?x4xf32>, tensor<4xf32>) -> (tensor<?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x2x16xf32>, %la: tensor<?x4xf32>, %b: tensor<?x2x8xf32>, %c: tensor<?x4x8xf32>, %s: !ssm.ssm_state<4x16x8xf32>, %dt: tensor<?x2xf32>, %D: tensor<4xf32>) {
  // expected-error @+1 {{'ssm.state_update' op 'dt' has shape ?x2, expected ?x4}}
  %y, %s1 = ssm.state_update %x, %la, %b, %c, state %s dt %dt skip %D
      : (tensor<?x2x16xf32>, tensor<?x4xf32>, tensor<?x2x8xf32>, tensor<?x4x8xf32>, !ssm.ssm_state<4x16x8xf32>, tensor<?x2xf32>, tensor<4xf32>) -> (tensor<?x4x16xf32>, !ssm.ssm_state<4x16x8xf32>)
  return
}

// -----

func.func @f(%y: tensor<?x64xf32>, %z: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'ssm.gated_rms_norm' op group (24) must divide the width (64)}}
  %0 = ssm.gated_rms_norm %y, %z, %w group 24 eps 1.0e-5 : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @f(%y: tensor<?x64xf32>, %z: tensor<?x32xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'ssm.gated_rms_norm' op 'gate' has shape ?x32, expected ?x64}}
  %0 = ssm.gated_rms_norm %y, %z, %w group 16 eps 1.0e-5 : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @f(%y: tensor<?x64xf32>, %z: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'ssm.gated_rms_norm' op eps must be positive}}
  %0 = ssm.gated_rms_norm %y, %z, %w group 16 eps -1.0 : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}
