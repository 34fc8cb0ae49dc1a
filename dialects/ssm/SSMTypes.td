//===- SSMTypes.td - Types of the ssm dialect --------------*- tablegen -*-===//
//
// Recurrent-state types (one value = the state of one layer for a whole batch
// of sequences) and the quantized weight type.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_DIALECTS_SSM_SSMTYPES_TD
#define SSMC_DIALECTS_SSM_SSMTYPES_TD

include "dialects/ssm/SSMAttrs.td"
include "mlir/IR/AttrTypeBase.td"

class SSM_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<SSM_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

// A state type: a static per-sequence shape and a floating-point element type.
class SSM_StateType<string name, string typeMnemonic, int rank>
    : SSM_Type<name, typeMnemonic> {
  let parameters = (ins ArrayRefParameter<"int64_t", "per-sequence shape">:$shape,
                        "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  int stateRank = rank;
  let extraClassDeclaration = [{
    /// The tensor holding this state for `batch` sequences (dynamic if < 0).
    ::mlir::RankedTensorType getBatchTensorType(int64_t batch) const;
    /// Number of elements per sequence.
    int64_t getNumElementsPerSequence() const;
  }];
}

def SSM_ConvStateType : SSM_StateType<"ConvState", "conv_state", 2> {
  let summary = "causal-convolution state of one layer";
  let description = [{
    `!ssm.conv_state<C x W x f32>`: for each sequence, the last `W` pre-conv
    inputs of the layer's `C` conv channels, oldest at index 0 (spec §1.4).
    Zero for a new sequence.
  }];
}

def SSM_SSMStateType : SSM_StateType<"SSMState", "ssm_state", 3> {
  let summary = "selective-scan state of one layer";
  let description = [{
    `!ssm.ssm_state<H x P x N x f32>`: for each sequence and head `h`, the
    matrix `H_t` of the recurrence `H_t = a_t H_{t-1} + x_t (x) B_t` (spec
    §1.5). float32 so that decay and accumulation do not round between steps.
  }];
}

def SSM_KVCacheType : SSM_StateType<"KVCache", "kv_cache", 2> {
  let summary = "key/value cache of one attention layer";
  let description = [{
    `!ssm.kv_cache<KVH x D x bf16>`: for each sequence, the post-RoPE keys and
    the values of every position processed so far, `KVH` key/value heads of
    `D` channels each. Capacity (maximum context) is fixed when a session is
    created; the number of valid positions of a sequence is its position
    counter.
  }];
}

def SSM_QuantizedWeightType : SSM_Type<"QuantizedWeight", "qweight"> {
  let summary = "a group-wise quantized weight matrix";
  let description = [{
    `!ssm.qweight<N x K x i4, group = 128, scale = f16, zero_point = none,
    packing = nibbles_lo_first>`: an `N x K` matrix (PyTorch `Linear` layout:
    output rows, input columns) whose elements are `bits`-wide integers.
    Consecutive runs of `group` elements along K share one scale (`scale`
    type) and, unless `zero_point = none`, one zero point: the dequantized
    value is `scale * q` (none), `scale * (q - zp)` (integer) or `scale * q + zp`
    (float). Integer elements are signed for `zero_point = none` and unsigned
    otherwise. `packing` tells how sub-byte elements share a byte.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t", "N x K">:$shape,
                        "unsigned":$bits,
                        "int64_t":$group,
                        "::mlir::Type":$scaleType,
                        "::ssmc::ssm::ZeroPoint":$zeroPoint,
                        "::ssmc::ssm::Packing":$packing);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRows() const { return getShape()[0]; }
    int64_t getCols() const { return getShape()[1]; }
    int64_t getNumGroups() const { return getRows() * (getCols() / getGroup()); }
    /// Bytes of the packed integer payload (scales and zero points excluded).
    int64_t getPackedBytes() const;
  }];
}

#endif // SSMC_DIALECTS_SSM_SSMTYPES_TD
