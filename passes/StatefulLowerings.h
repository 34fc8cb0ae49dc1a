//===- StatefulLowerings.h - State types and stateful ssm blocks --*- C++ -*-===//
//
// The part of convert-ssm-to-linalg that deals with recurrent state: the
// type converter from `!ssm.*_state` / `!ssm.kv_cache` to batch tensors and
// the patterns lowering the causal convolution and the selective-scan family.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_STATEFULLOWERINGS_H
#define SSMC_PASSES_STATEFULLOWERINGS_H

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

#include <utility>

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
/// `converter`. `allChunksAtOnce` selects chunked_scan's lowering (see
/// populateChunkedScanLoweringPatterns).
void populateSSMStatefulLoweringPatterns(const mlir::TypeConverter &converter,
                                         mlir::RewritePatternSet &patterns,
                                         bool allChunksAtOnce = false);

/// The per-token operands of one scan step, each `B x ...` (the time
/// dimension already sliced away). `dt` and `skip` may be null.
struct ScanStepOperands {
  mlir::Value x, logA, bMat, cMat, dt, skip;
};

/// Sequences whose token `time` is padding keep their state: `lengths` (B)
/// and `time` (index); both null for a step without lengths (state_update).
struct ScanStepMask {
  mlir::Value lengths, time;
};

/// One step of the SSD recurrence (spec §1.5) on `state : B x H x P x N`
/// (float32), written over `state`. Returns the new state and
/// `y : B x H x P` in `resultElement`. Shared by the recurrent lowerings and
/// the chunked scan's single-token (decode) case.
std::pair<mlir::Value, mlir::Value> buildScanStep(mlir::OpBuilder &b, mlir::Location loc,
                                                  const ScanStepOperands &in, mlir::Value state,
                                                  ScanStepMask mask, mlir::Type resultElement);

/// `seq[:, time]` without the time dimension (`B x L x ...` -> `B x ...`).
mlir::Value sliceAtTime(mlir::OpBuilder &b, mlir::Location loc, mlir::Value seq,
                        mlir::Value time);

/// Builds one of two lowerings of a sequence op, each returning two values
/// of the same types (an output and a new state).
using PairBuilder =
    llvm::function_ref<std::pair<mlir::Value, mlir::Value>(mlir::OpBuilder &, mlir::Location)>;

/// `single` for a sequence of one token (decode), `sequence` otherwise:
/// chosen by `length` when it is static, else behind `scf.if length == 1`.
/// Both must yield buffers they were given rather than new ones, so that
/// bufferization needs no ownership tracking across the branches.
std::pair<mlir::Value, mlir::Value> dispatchOnSingleToken(mlir::OpBuilder &b, mlir::Location loc,
                                                          mlir::OpFoldResult length,
                                                          PairBuilder single,
                                                          PairBuilder sequence);

} // namespace ssmc

#endif // SSMC_PASSES_STATEFULLOWERINGS_H
