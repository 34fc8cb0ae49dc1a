//===- SSMDialect.td - The ssm dialect ---------------------*- tablegen -*-===//
//
// The `ssm` dialect carries recurrent and hybrid language models (Llamba /
// Discrete Mamba-2, Mamba-2, Mamba-in-the-Llama hybrids, Llama-3) from import
// down to the building blocks the code generators lower.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_DIALECTS_SSM_SSMDIALECT_TD
#define SSMC_DIALECTS_SSM_SSMDIALECT_TD

include "mlir/IR/OpBase.td"

def SSM_Dialect : Dialect {
  let name = "ssm";
  let cppNamespace = "::ssmc::ssm";
  let summary = "Recurrent (state-space) and hybrid language models";
  let description = [{
    The `ssm` dialect describes language models whose layers are state-space
    mixers (the scalar-decay SSM of Mamba-2 and its "discrete" Llamba variant),
    grouped-query attention, and the Llama blocks around them.

    It has two levels:

    * **Model-level ops** are what a frontend emits, one op per upstream module:
      `ssm.embed`, `ssm.rms_norm`, `ssm.discrete_mamba2`, `ssm.mamba2`,
      `ssm.attention`, `ssm.swiglu_mlp`, `ssm.add`, `ssm.lm_head`. Each
      processes a rectangular batch of token sequences `B x L` starting from a
      recurrent state and returns the state after the last real token of each
      sequence; prefill (any `L`) and decode (`L = 1`) are the same op.
    * **Building-block ops** are what the pipeline tiles and lowers: the causal
      depthwise convolution in sequence and step form (`ssm.causal_conv1d`,
      `ssm.causal_conv1d_step`), the selective scan in recurrent form
      (`ssm.selective_scan`), the chunked scan of the SSD algorithm
      (`ssm.chunked_scan`), the single-token state update (`ssm.state_update`),
      the gated grouped RMSNorm (`ssm.gated_rms_norm`) and the projection
      (`ssm.linear`), whose weight may be quantized.

    Recurrent state is first class: `!ssm.conv_state`, `!ssm.ssm_state` and
    `!ssm.kv_cache` are the per-layer states of a batch of sequences (the batch
    size is fixed when a session is created, so it is not part of the type).

    Weights are never inlined. `ssm.weight` names a tensor of the module's
    external weight store (`ssm.weight_store` module attribute): the IR of an
    8B model prints in a screenful per layer.

    Numerics: every op documents its accumulation precision. State and decay
    are float32 everywhere; `softplus(v)` is `log(1 + exp(v))` for `v <= 20`
    and `v` above (the PyTorch/Triton threshold).
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();
  }];
}

class SSM_Op<string mnemonic, list<Trait> traits = []> :
    Op<SSM_Dialect, mnemonic, traits>;

#endif // SSMC_DIALECTS_SSM_SSMDIALECT_TD
