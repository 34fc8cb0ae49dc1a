//===- SSMAttrs.td - Attributes of the ssm dialect ---------*- tablegen -*-===//
//
// Enums and the typed hyper-parameter attributes that model-level ops carry.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_DIALECTS_SSM_SSMATTRS_TD
#define SSMC_DIALECTS_SSM_SSMATTRS_TD

include "dialects/ssm/SSMDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def SSM_NormRounding : I32EnumAttr<"NormRounding",
    "rounding order of an RMSNorm", [
      I32EnumAttrCase<"hf", 0>,
      I32EnumAttrCase<"fused", 1>
    ]> {
  let cppNamespace = "::ssmc::ssm";
  let genSpecializedAttr = 0;
  let description = [{
    `hf` (Hugging Face `LlamaRMSNorm`): `y = w * round(x * rsqrt(mean(x^2) + eps))`
    where the normalization is computed in float32, rounded to the result
    element type, then multiplied by the weight in the result type (two
    roundings). `fused` (mamba_ssm Triton `RMSNorm`): `y = round(x * rstd * w)`
    all in float32, one rounding.
  }];
}
def SSM_NormRoundingAttr : EnumAttr<SSM_Dialect, SSM_NormRounding, "rounding"> {
  let assemblyFormat = "`<` $value `>`";
}

def SSM_Activation : I32EnumAttr<"Activation", "activation function", [
      I32EnumAttrCase<"identity", 0>,
      I32EnumAttrCase<"silu", 1>
    ]> {
  let cppNamespace = "::ssmc::ssm";
  let genSpecializedAttr = 0;
}
def SSM_ActivationAttr : EnumAttr<SSM_Dialect, SSM_Activation, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}

def SSM_RopeScaling : I32EnumAttr<"RopeScaling", "RoPE frequency scaling", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"llama3", 1>
    ]> {
  let cppNamespace = "::ssmc::ssm";
  let genSpecializedAttr = 0;
}

def SSM_ZeroPoint : I32EnumAttr<"ZeroPoint", "zero-point layout of a quantized weight", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"integer", 1>,
      I32EnumAttrCase<"floating", 2, "float">
    ]> {
  let cppNamespace = "::ssmc::ssm";
  let genSpecializedAttr = 0;
  let description = [{
    `none`: symmetric, `w = scale * q`. `integer`: `w = scale * (q - zp)` with
    one zero point per group stored in the quantized element type. `float`:
    `w = scale * q + zp` with one zero point per group stored in the scale type.
  }];
}

def SSM_Packing : I32EnumAttr<"Packing", "how sub-byte elements are packed", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"nibbles_lo_first", 1>
    ]> {
  let cppNamespace = "::ssmc::ssm";
  let genSpecializedAttr = 0;
  let description = [{
    `none`: one element per byte (8-bit). `nibbles_lo_first`: two 4-bit
    elements per byte along the input (K) dimension, element `2k` in the low
    nibble and `2k + 1` in the high nibble.
  }];
}

//===----------------------------------------------------------------------===//
// Hyper-parameter attributes
//===----------------------------------------------------------------------===//

// A double hyper-parameter with a default, compared bitwise.
class SSM_FloatParameter<string value>
    : DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(" # value # ")"> {
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
}

class SSM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<SSM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def SSM_RopeAttr : SSM_Attr<"Rope", "rope"> {
  let summary = "rotary position embedding of an attention layer";
  let description = [{
    Rotates dims `(i, i + dim/2)` of each query and key head ("rotate_half"
    pairing) by the angle `t * f_i`, `t` the 0-based absolute position and
    `f_i = theta^(-2i/dim)`, `i < dim/2`. With `scaling = llama3` the
    frequencies follow Llama 3.1's rule: with wavelength `l_i = 2*pi/f_i`,
    `f_i` is kept when `l_i < original_max_positions / high_freq_factor`,
    divided by `factor` when `l_i > original_max_positions / low_freq_factor`,
    and interpolated with `s = (original_max_positions / l_i - low_freq_factor)
    / (high_freq_factor - low_freq_factor)` as `(1 - s) * f_i / factor + s * f_i`
    in between. Angles are computed in float32 from float64 frequencies.

    Example: `#ssm.rope<theta = 500000.0, dim = 128, scaling = llama3,
    factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0,
    original_max_positions = 8192>`
  }];
  let parameters = (ins
    APFloatParameter<"base of the frequencies">:$theta,
    "int64_t":$dim,
    DefaultValuedParameter<"::ssmc::ssm::RopeScaling", "::ssmc::ssm::RopeScaling::none">:$scaling,
    SSM_FloatParameter<"1.0">:$factor,
    SSM_FloatParameter<"1.0">:$low_freq_factor,
    SSM_FloatParameter<"4.0">:$high_freq_factor,
    DefaultValuedParameter<"int64_t", "8192">:$original_max_positions
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def SSM_DiscreteMamba2ConfigAttr : SSM_Attr<"DiscreteMamba2Config", "discrete_mamba2"> {
  let summary = "hyper-parameters of a Discrete Mamba-2 (Llamba) mixer";
  let description = [{
    `heads` value heads H (`n_v_heads`) of `head_dim` P channels,
    `groups` B/C heads G (`n_qk_heads`, H % G == 0, head h reads group
    h / (H/G)), `state` N (`d_state`), `conv` width W, and `chunk` the SSD
    chunk length upstream uses (a default; the pipeline retiles per target).

    Example: `#ssm.discrete_mamba2<heads = 32, head_dim = 64, groups = 32,
    state = 64, conv = 4, chunk = 128>`
  }];
  let parameters = (ins "int64_t":$heads, "int64_t":$head_dim, "int64_t":$groups,
                        "int64_t":$state, "int64_t":$conv, "int64_t":$chunk);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getInner() const { return getHeads() * getHeadDim(); }
    int64_t getConvChannels() const { return getInner() + 2 * getGroups() * getState(); }
    int64_t getInProjRows() const { return 2 * getInner() + 2 * getGroups() * getState() + getHeads(); }
  }];
}

def SSM_Mamba2ConfigAttr : SSM_Attr<"Mamba2Config", "mamba2"> {
  let summary = "hyper-parameters of a Mamba-2 mixer (upstream or Mamba-in-the-Llama)";
  let description = [{
    H = `heads` SSM heads of `head_dim` P channels and `state` N. The three
    group counts make one op cover upstream Mamba-2 and its GQA-shaped
    Mamba-in-the-Llama variant: `x` has `x_heads` heads of P channels (head h
    reads x head h / (H/x_heads)), B has `b_groups` groups of N, C has
    `c_groups` groups of N. Upstream: x_heads = H, b_groups = c_groups =
    ngroups. Mamba-in-the-Llama: x_heads = b_groups = d_xb / N, c_groups = H.
    The gated RMSNorm normalizes groups of `norm_group` channels with
    `norm_eps`; `chunk` is the SSD chunk length upstream uses.

    Example: `#ssm.mamba2<heads = 32, head_dim = 128, state = 128, x_heads = 8,
    b_groups = 8, c_groups = 32, conv = 4, chunk = 256, norm_group = 128,
    norm_eps = 1.0e-05>`
  }];
  let parameters = (ins "int64_t":$heads, "int64_t":$head_dim, "int64_t":$state,
                        "int64_t":$x_heads, "int64_t":$b_groups, "int64_t":$c_groups,
                        "int64_t":$conv, "int64_t":$chunk, "int64_t":$norm_group,
                        APFloatParameter<"gated norm epsilon">:$norm_eps);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getInner() const { return getHeads() * getHeadDim(); }
    int64_t getXWidth() const { return getXHeads() * getHeadDim(); }
    int64_t getConvChannels() const {
      return getXWidth() + (getBGroups() + getCGroups()) * getState();
    }
    int64_t getInProjRows() const { return getInner() + getConvChannels() + getHeads(); }
  }];
}

def SSM_AttentionConfigAttr : SSM_Attr<"AttentionConfig", "attention"> {
  let summary = "hyper-parameters of a grouped-query causal attention layer";
  let description = [{
    `heads` query heads and `kv_heads` key/value heads (kv head j serves query
    heads j*(heads/kv_heads) ... (j+1)*(heads/kv_heads)-1) of `head_dim`
    channels, softmax scale 1/sqrt(head_dim), causal, with `rope`.
  }];
  let parameters = (ins "int64_t":$heads, "int64_t":$kv_heads, "int64_t":$head_dim,
                        "::ssmc::ssm::RopeAttr":$rope);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def SSM_WeightStoreAttr : SSM_Attr<"WeightStore", "weight_store"> {
  let summary = "the external store `ssm.weight` names refer to";
  let description = [{
    Attached to the module as `ssm.weight_store`. `path` is the checkpoint
    directory (or file) and `format` its layout (`safetensors`, `torch_zip`,
    `onnx`, `ssmx`).

    Example: `#ssm.weight_store<path = "/models/llamba-1b", format = "safetensors">`
  }];
  let parameters = (ins StringRefParameter<"store path">:$path,
                        StringRefParameter<"store format">:$format);
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // SSMC_DIALECTS_SSM_SSMATTRS_TD
