//===- SSMOps.td - Operations of the ssm dialect -----------*- tablegen -*-===//
//
// Model-level ops (one per upstream module, emitted by frontends) and the
// building blocks the pipeline tiles and lowers. Shapes use B = batch,
// L = sequence length, D = model width; `T` is the model element type.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_DIALECTS_SSM_SSMOPS_TD
#define SSMC_DIALECTS_SSM_SSMOPS_TD

include "dialects/ssm/SSMTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

def SSM_WeightLike : AnyTypeOf<[AnyRankedTensor, SSM_QuantizedWeightType],
                               "ranked tensor or !ssm.qweight">;
def SSM_Lengths : TensorOf<[I32]>;
def SSM_Positions : TensorOf<[I64]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def SSM_WeightOp : SSM_Op<"weight", [Pure]> {
  let summary = "a named tensor of the external weight store";
  let description = [{
    Refers to the tensor `name` of the module's `ssm.weight_store`. The value
    is never inlined: compilation streams it from the store into the
    artifact's weight section, converted (or quantized) to the result type.
    The result is a static-shape ranked tensor, or `!ssm.qweight` once a
    quantization pass has rewritten it.

    ```mlir
    %w = ssm.weight "backbone.layers.0.mixer.in_proj.weight" : tensor<8224x2048xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs SSM_WeightLike:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

def SSM_EmbedOp : SSM_Op<"embed", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `result[b, t, :] = table[ids[b, t], :]` with `table : V x D`,
    `ids : B x L` and `result : B x L x D` of the table's element type (or
    the dequantized element type for a quantized table). Ids outside
    `[0, V)` are rejected by the runtime before the model runs.
  }];
  let arguments = (ins SSM_WeightLike:$table, TensorOf<[I32, I64]>:$ids);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
  let hasVerifier = 1;
}

def SSM_RMSNormOp : SSM_Op<"rms_norm", [Pure]> {
  let summary = "RMSNorm over the last dimension, in either upstream rounding order";
  let description = [{
    `y = x / sqrt(mean(x^2) + eps) * w` over the last dimension `D`, the
    mean of squares accumulated in float32. `rounding = hf`: normalized `x`
    rounded to the result type, then multiplied by `w` (Hugging Face
    `LlamaRMSNorm`, used by Llamba and Llama). `rounding = fused`: product
    with `w` in float32, rounded once (mamba_ssm Triton `RMSNorm`, used by
    Mamba-2 and the Mamba-in-the-Llama decoder layers). The input may be
    float32 (a float32 residual stream) with a narrower result.

    ```mlir
    %u = ssm.rms_norm %h, %w eps 1.000000e-05 rounding hf
           : tensor<?x?x2048xbf16>, tensor<2048xbf16> -> tensor<?x?x2048xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight, F64Attr:$eps,
                       SSM_NormRoundingAttr:$rounding);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `eps` $eps `rounding` $rounding attr-dict `:` type($input) `,`
    type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def SSM_AddOp : SSM_Op<"add", [Pure, Commutative]> {
  let summary = "residual add";
  let description = [{
    `result = round(float32(lhs) + float32(rhs))` element-wise; operand and
    result element types may differ (a float32 residual stream adding a
    bfloat16 mixer output). Shapes are equal.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def SSM_SwiGLUMLPOp : SSM_Op<"swiglu_mlp", [Pure]> {
  let summary = "Llama SwiGLU MLP";
  let description = [{
    `y = W_down (silu(W_gate x) * (W_up x))` with `gate, up : I x D`,
    `down : D x I` (PyTorch `Linear` layout), no biases. Each projection
    accumulates in float32 and rounds to the result element type; `silu` and
    the product are computed in float32 and rounded before `W_down`.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_WeightLike:$gate, SSM_WeightLike:$up,
                       SSM_WeightLike:$down);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def SSM_DiscreteMamba2Op : SSM_Op<"discrete_mamba2", [Pure]> {
  let summary = "Discrete Mamba-2 mixer (Llamba), sequence and step in one";
  let description = [{
    The Llamba mixer (spec §2.5-2.7) over `input : B x L x D`, starting from
    `conv_state` and `ssm_state` and returning the states after token
    `lengths[b] - 1` of each sequence (tokens at `t >= lengths[b]` are
    padding: their outputs are unspecified and they do not change the state).

    ```
    [xBC | z | a] = input @ in_proj^T           widths (Di + 2GN, Di, H), Di = H*P
    xBC = causal_conv(xBC; conv_weight, conv_bias)    identity activation
    x, B, C = split(xBC, [Di, GN, GN])          x: H x P, B, C: G x N
    per head h (group g = h / (H/G)), in float32:
      H_t = exp(-softplus(a_t,h)) H_{t-1} + x_t,h (x) B_t,g
      y_t,h = H_t C_t,g + D_h x_t,h
    result = (y * silu(z + z_bias)) @ out_proj^T
    ```
    Weights: `in_proj : (2Di + 2GN + H) x D`, `z_bias : Di`,
    `conv_weight : (Di + 2GN) x 1 x W`, `conv_bias : Di + 2GN`, `D : H`,
    `out_proj : D x Di`. States: `!ssm.conv_state<(Di + 2GN) x W x f32>`,
    `!ssm.ssm_state<H x P x N x f32>`. Projections accumulate in float32;
    decay, state and scan are float32.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_Lengths:$lengths,
                       SSM_ConvStateType:$conv_state, SSM_SSMStateType:$ssm_state,
                       SSM_WeightLike:$in_proj, AnyRankedTensor:$z_bias,
                       AnyRankedTensor:$conv_weight, AnyRankedTensor:$conv_bias,
                       AnyRankedTensor:$D, SSM_WeightLike:$out_proj,
                       SSM_DiscreteMamba2ConfigAttr:$config);
  let results = (outs AnyRankedTensor:$result, SSM_ConvStateType:$conv_state_out,
                      SSM_SSMStateType:$ssm_state_out);
  let assemblyFormat = [{
    $input `,` `lengths` $lengths `,` `state` `(` $conv_state `,` $ssm_state `)` `,`
    `weights` `(` $in_proj `,` $z_bias `,` $conv_weight `,` $conv_bias `,` $D `,` $out_proj `)`
    $config attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SSM_Mamba2Op : SSM_Op<"mamba2", [Pure]> {
  let summary = "Mamba-2 mixer (upstream or Mamba-in-the-Llama), sequence and step in one";
  let description = [{
    The Mamba-2 mixer (spec §1.8, §3.5, §7.5) over `input : B x L x D` from
    `conv_state`/`ssm_state`; state and padding semantics as
    `ssm.discrete_mamba2`. With `Di = H*P`, `Xw = x_heads*P`:

    ```
    [z | xBC | dt] = input @ in_proj^T          widths (Di, Xw + (Gb + Gc) N, H)
    xBC = silu(causal_conv(xBC; conv_weight, conv_bias))
    x, B, C = split(xBC, [Xw, Gb N, Gc N])
    per head h (x head h/(H/x_heads), B group h/(H/Gb), C group h/(H/Gc)), float32:
      delta = softplus(dt_h + dt_bias_h);  A_h = -exp(A_log_h)
      H_t = exp(delta A_h) H_{t-1} + (delta x_t) (x) B_t
      y_t,h = H_t C_t + D_h x_t
    v = y * silu(z); per group of norm_group channels: v /= sqrt(mean(v^2) + norm_eps)
    result = (v * norm_weight) @ out_proj^T
    ```
    Weights: `in_proj : (Di + Xw + (Gb+Gc)N + H) x D`, `conv_weight :
    (Xw + (Gb+Gc)N) x 1 x W`, `conv_bias`, `dt_bias : H`, `A_log : H`,
    `D : H`, `norm_weight : Di`, `out_proj : D x Di`.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_Lengths:$lengths,
                       SSM_ConvStateType:$conv_state, SSM_SSMStateType:$ssm_state,
                       SSM_WeightLike:$in_proj, AnyRankedTensor:$conv_weight,
                       AnyRankedTensor:$conv_bias, AnyRankedTensor:$dt_bias,
                       AnyRankedTensor:$A_log, AnyRankedTensor:$D,
                       AnyRankedTensor:$norm_weight, SSM_WeightLike:$out_proj,
                       SSM_Mamba2ConfigAttr:$config);
  let results = (outs AnyRankedTensor:$result, SSM_ConvStateType:$conv_state_out,
                      SSM_SSMStateType:$ssm_state_out);
  let assemblyFormat = [{
    $input `,` `lengths` $lengths `,` `state` `(` $conv_state `,` $ssm_state `)` `,`
    `weights` `(` $in_proj `,` $conv_weight `,` $conv_bias `,` $dt_bias `,` $A_log `,` $D `,`
    $norm_weight `,` $out_proj `)` $config attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SSM_AttentionOp : SSM_Op<"attention", [Pure]> {
  let summary = "grouped-query causal self-attention with RoPE and a KV cache";
  let description = [{
    Llama attention (spec §3.5): `q = x Wq^T`, `k = x Wk^T`, `v = x Wv^T`
    split into heads, RoPE (`config.rope`) at absolute positions
    `positions[b] + t`, keys and values appended to `kv_cache` (which already
    holds `positions[b]` positions of sequence `b`), causal softmax attention
    with scale `1/sqrt(head_dim)` over the cache (query head h reads kv head
    h / (heads/kv_heads)), `result = ctx Wo^T`. Scores, softmax and the
    weighted sum accumulate in float32. Padding tokens (`t >= lengths[b]`)
    are not appended.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_Lengths:$lengths,
                       SSM_Positions:$positions, SSM_KVCacheType:$kv_cache,
                       SSM_WeightLike:$q_proj, SSM_WeightLike:$k_proj,
                       SSM_WeightLike:$v_proj, SSM_WeightLike:$o_proj,
                       SSM_AttentionConfigAttr:$config);
  let results = (outs AnyRankedTensor:$result, SSM_KVCacheType:$kv_cache_out);
  let assemblyFormat = [{
    $input `,` `lengths` $lengths `,` `positions` $positions `,` `cache` $kv_cache `,`
    `weights` `(` $q_proj `,` $k_proj `,` $v_proj `,` $o_proj `)` $config attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SSM_LastTokenOp : SSM_Op<"last_token", [Pure]> {
  let summary = "each sequence's activations at its last valid position";
  let description = [{
    `result[b, 0, :] = input[b, lengths[b] - 1, :]` for `input : B x L x D`:
    what the LM head needs, since logits are only ever read after a
    sequence's last token (runtime ABI). Placed before the final norm, it
    keeps the norm and the head from computing B x L x V logits of which
    B x 1 x V are used. `lengths[b]` must be in [1, L].
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_Lengths:$lengths);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` `lengths` $lengths attr-dict `:` type($input) `,` type($lengths) `->` type($result)
  }];
  let hasVerifier = 1;
}

def SSM_LMHeadOp : SSM_Op<"lm_head", [Pure]> {
  let summary = "output projection to float32 logits (tied or untied)";
  let description = [{
    `logits = float32(input @ weight^T)`, `weight : V x D`, accumulated in
    float32. A tied head passes the embedding table as `weight`. With
    `valid_vocab`, logits of rows `>= valid_vocab` (vocabulary padding that
    no tokenizer produces) are `-inf` so that sampling never picks them.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_WeightLike:$weight,
                       OptionalAttr<I64Attr>:$valid_vocab);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

def SSM_LinearOp : SSM_Op<"linear", [Pure]> {
  let summary = "projection by a (possibly quantized) weight";
  let description = [{
    `result[..., n] = sum_k input[..., k] * weight[n, k]` (PyTorch `Linear`,
    no bias), accumulated in float32 and rounded to the result type. A
    `!ssm.qweight` is dequantized group-wise on the fly.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_WeightLike:$weight);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def SSM_CausalConv1dOp : SSM_Op<"causal_conv1d", [Pure]> {
  let summary = "causal depthwise convolution over a sequence, with state";
  let description = [{
    For `input : B x L x C`, `weight : C x 1 x W`, `bias : C`, and the
    conv state (the `W` inputs before the sequence, oldest first):
    `out[b, t, c] = act(bias[c] + sum_k weight[c, 0, k] * in[b, t - (W-1) + k, c])`
    where positions before 0 read the state (`in[b, -j, c] = state[b, c, W - j]`).
    `state_out` holds the last `W` inputs up to token `lengths[b] - 1`.
    Accumulates in float32.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_Lengths:$lengths,
                       SSM_ConvStateType:$state, AnyRankedTensor:$weight,
                       AnyRankedTensor:$bias, SSM_ActivationAttr:$activation);
  let results = (outs AnyRankedTensor:$result, SSM_ConvStateType:$state_out);
  let assemblyFormat = [{
    $input `,` `lengths` $lengths `,` `state` $state `,` `weights` `(` $weight `,` $bias `)`
    `activation` $activation attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SSM_CausalConv1dStepOp : SSM_Op<"causal_conv1d_step", [Pure]> {
  let summary = "one step of the causal depthwise convolution";
  let description = [{
    `input : B x C` is appended to the state (shift left by one), then
    `out[b, c] = act(bias[c] + sum_k weight[c, 0, k] * state_out[b, c, k])`.
    Accumulates in float32.
  }];
  let arguments = (ins AnyRankedTensor:$input, SSM_ConvStateType:$state,
                       AnyRankedTensor:$weight, AnyRankedTensor:$bias,
                       SSM_ActivationAttr:$activation);
  let results = (outs AnyRankedTensor:$result, SSM_ConvStateType:$state_out);
  let assemblyFormat = [{
    $input `,` `state` $state `,` `weights` `(` $weight `,` $bias `)` `activation` $activation
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

class SSM_ScanBase<string mnemonic, list<Trait> traits = []>
    : SSM_Op<mnemonic, !listconcat(traits, [Pure, AttrSizedOperandSegments])> {
  let results = (outs AnyRankedTensor:$result, SSM_SSMStateType:$state_out);
  let hasVerifier = 1;
}

def SSM_SelectiveScanOp : SSM_ScanBase<"selective_scan"> {
  let summary = "scalar-decay selective scan, recurrent form";
  let description = [{
    The SSD recurrence (spec §1.5) over `L` tokens, per sequence `b` and head
    `h < H`, all in float32:
    ```
    S_t = exp(log_a[b,t,h]) S_{t-1} + (dt[b,t,h] x[b,t,h/rx]) (x) B[b,t,h/rb]
    y[b,t,h] = S_t C[b,t,h/rc] + D[h] x[b,t,h/rx]
    ```
    with `x : B x L x Hx x P`, `log_a, dt : B x L x H` (float32),
    `B : B x L x Gb x N`, `C : B x L x Gc x N`, `rx = H/Hx`, `rb = H/Gb`,
    `rc = H/Gc`, `S_{-1}` = `state`. Without `dt` the input is not scaled
    (Llamba); without `D` there is no skip. `state_out` is `S` after token
    `lengths[b] - 1`; outputs of padding tokens are unspecified.
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$log_a, AnyRankedTensor:$B,
                       AnyRankedTensor:$C, SSM_SSMStateType:$state, SSM_Lengths:$lengths,
                       Optional<AnyRankedTensor>:$dt, Optional<AnyRankedTensor>:$D);
  let assemblyFormat = [{
    $x `,` $log_a `,` $B `,` $C `,` `state` $state `,` `lengths` $lengths
    (`dt` $dt^)? (`skip` $D^)? attr-dict `:` functional-type(operands, results)
  }];
}

def SSM_ChunkedScanOp : SSM_ScanBase<"chunked_scan"> {
  let summary = "selective scan by the chunked SSD algorithm";
  let description = [{
    Same result as `ssm.selective_scan` (up to float32 rounding), computed by
    the chunked algorithm of spec §1.6 with chunks of `chunk` tokens:
    intra-chunk outputs from the masked decay matrix `exp(segsum(log_a))`,
    per-chunk states, the inter-chunk recurrence on states, and the
    state-to-output term. Chunk-local quantities (`C B^T`, decays, states)
    are float32. The pipeline chooses `chunk` per target; a chunk longer than
    a static sequence folds to the sequence length.
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$log_a, AnyRankedTensor:$B,
                       AnyRankedTensor:$C, SSM_SSMStateType:$state, SSM_Lengths:$lengths,
                       Optional<AnyRankedTensor>:$dt, Optional<AnyRankedTensor>:$D,
                       I64Attr:$chunk);
  let assemblyFormat = [{
    $x `,` $log_a `,` $B `,` $C `,` `state` $state `,` `lengths` $lengths
    (`dt` $dt^)? (`skip` $D^)? `chunk` $chunk attr-dict `:` functional-type(operands, results)
  }];
  let hasFolder = 1;
}

def SSM_StateUpdateOp : SSM_Op<"state_update", [Pure, AttrSizedOperandSegments]> {
  let summary = "single-token selective-state update (decode)";
  let description = [{
    One step of `ssm.selective_scan` for every sequence of the batch:
    `x : B x Hx x P`, `log_a, dt : B x H`, `B : B x Gb x N`, `C : B x Gc x N`,
    `result : B x H x P`. float32 state and arithmetic.
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$log_a, AnyRankedTensor:$B,
                       AnyRankedTensor:$C, SSM_SSMStateType:$state,
                       Optional<AnyRankedTensor>:$dt, Optional<AnyRankedTensor>:$D);
  let results = (outs AnyRankedTensor:$result, SSM_SSMStateType:$state_out);
  let assemblyFormat = [{
    $x `,` $log_a `,` $B `,` $C `,` `state` $state (`dt` $dt^)? (`skip` $D^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SSM_GatedRMSNormOp : SSM_Op<"gated_rms_norm", [Pure]> {
  let summary = "gated, grouped RMSNorm of the Mamba-2 mixer";
  let description = [{
    `v = y * silu(z)` in float32, then every contiguous group of `group`
    channels of the last dimension is divided by `sqrt(mean(v_g^2) + eps)`,
    and `result = round(v * weight)` (mamba_ssm `RMSNormGated`,
    `norm_before_gate = False`).
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$gate,
                       AnyRankedTensor:$weight, I64Attr:$group, F64Attr:$eps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $weight `group` $group `eps` $eps attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // SSMC_DIALECTS_SSM_SSMOPS_TD
