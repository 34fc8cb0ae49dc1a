//===- StatefulLowerings.h - State types and stateful ssm blocks --*- C++ -*-===//
//
// The part of convert-ssm-to-linalg that deals with recurrent state: the
// type converter from `!ssm.*_state` / `!ssm.kv_cache` to batch tensors and
// the patterns lowering the causal convolution and the selective-scan family.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_STATEFULLOWERINGS_H
#define SSMC_PASSES_STATEFULLOWERINGS_H

#include "mlir/Transforms/DialectConversion.h"

namespace ssmc {

/// Maps every ssm state type to the tensor of a dynamic batch of states
/// (`getBatchTensorType(-1)`) and leaves all other types unchanged.
class SSMStateTypeConverter : public mlir::TypeConverter {
public:
  SSMStateTypeConverter();
};

/// Patterns lowering `ssm.causal_conv1d`, `ssm.causal_conv1d_step`,
/// `ssm.selective_scan`, `ssm.chunked_scan` and `ssm.state_update` to
/// linalg/tensor/scf on tensors; state operands and results are converted by
/// `converter`.
void populateSSMStatefulLoweringPatterns(const mlir::TypeConverter &converter,
                                         mlir::RewritePatternSet &patterns);

} // namespace ssmc

#endif // SSMC_PASSES_STATEFULLOWERINGS_H
