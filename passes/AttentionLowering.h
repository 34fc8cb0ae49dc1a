//===- AttentionLowering.h - ssm.attention and its KV cache -------*- C++
//-*-===//
//
// The part of convert-ssm-to-linalg that lowers `ssm.attention` (projections,
// RoPE, KV-cache append, causal grouped-query softmax attention, output
// projection) to linalg/tensor/scf on tensors, together with the tensor form
// of `!ssm.kv_cache`.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_ATTENTIONLOWERING_H
#define SSMC_PASSES_ATTENTIONLOWERING_H

#include "dialects/ssm/SSMTypes.h"

#include "mlir/Transforms/DialectConversion.h"

namespace ssmc {

/// The tensor a `!ssm.kv_cache<KVH x D x T>` lowers to:
/// `tensor<? x ? x 2 x KVH x D x T>`, i.e. [batch, context capacity, K/V,
/// kv head, channel]. Both the batch and the capacity are session properties,
/// so both are dynamic.
mlir::RankedTensorType getKVCacheTensorType(ssm::KVCacheType type);

/// Makes `ssm.attention` illegal when all four projections are plain tensors
/// (quantized projections are lowered elsewhere).
void configureSSMAttentionLegality(mlir::ConversionTarget &target);

/// Registers the kv_cache conversion of getKVCacheTensorType on `converter`
/// (taking precedence over any earlier kv_cache conversion) and adds the
/// pattern lowering `ssm.attention`.
void populateSSMAttentionLoweringPatterns(mlir::TypeConverter &converter,
                                          mlir::RewritePatternSet &patterns);

} // namespace ssmc

#endif // SSMC_PASSES_ATTENTIONLOWERING_H
