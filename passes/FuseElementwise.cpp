//===- FuseElementwise.cpp - chains of elementwise ops into one loop nest -===//
//
// The decomposition leaves chains of elementwise linalg.generic ops (a
// projection's rounding to bf16 followed by the gate's silu and product, a
// norm's scaling, the residual add, the masking of the scan's inputs); each
// writes and rereads a whole activation tensor. Upstream's elementwise fusion
// merges a producer into its consumer so the chain becomes one loop nest and
// the intermediates never reach memory. Every op's rounding stays in the fused
// body, so results are bit-identical.
//
// Only fusions into an all-parallel consumer are allowed: fusing into a
// reduction (a projection, a norm's sum) would repeat the producer's work
// once per reduction step and hide the projections from
// ssm-vectorize-projections. With `into-batched-contractions` (the CUDA
// pipeline, half-precision models), a cheap producer (casts, masks and
// products: arith only) also fuses into a batched contraction (a reduction
// with two or more inputs that all read some common parallel loop: the
// chunked scan's sums, never a projection, whose weight reads no batch
// loop), even when it has other users: the tensor-core kernel computes its
// operands once per tile as it stages them, so the masked f32 copy of x
// that both the Y_diag and chunk-state sums read never reaches memory.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMFUSEELEMENTWISE
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {
/// Only arith ops (casts, compares, selects, products), linalg.index and the
/// yield: worth recomputing wherever it is read.
bool isCheap(linalg::GenericOp op) {
  for (Operation &inner : op.getRegion().front())
    if (!isa<linalg::IndexOp, linalg::YieldOp>(inner) &&
        (!inner.getDialect() || inner.getDialect()->getNamespace() != "arith"))
      return false;
  return true;
}

/// One reduction loop, two or more inputs, and a parallel loop that every
/// input reads (the scan's per-chunk, per-head sums; a projection's weight
/// reads no batch loop).
bool isBatchedContraction(linalg::GenericOp op) {
  if (op.getNumReductionLoops() != 1 || op.getNumDpsInputs() < 2)
    return false;
  auto iterators = op.getIteratorTypesArray();
  for (unsigned d = 0; d < iterators.size(); ++d) {
    if (iterators[d] != utils::IteratorType::parallel)
      continue;
    if (llvm::all_of(op.getDpsInputOperands(), [&](OpOperand *input) {
          return op.getMatchingIndexingMap(input).isFunctionOfDim(d);
        }))
      return true;
  }
  return false;
}

struct SSMFuseElementwisePass
    : public ssmc::impl::SSMFuseElementwiseBase<SSMFuseElementwisePass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    bool intoContractions = intoBatchedContractions;
    linalg::ControlFusionFn control = [intoContractions](OpOperand *fused) {
      auto consumer = dyn_cast<linalg::GenericOp>(fused->getOwner());
      auto producer = fused->get().getDefiningOp<linalg::GenericOp>();
      if (!consumer || !producer || producer.getNumReductionLoops() != 0)
        return false;
      if (consumer.getNumReductionLoops() != 0)
        return intoContractions && isCheap(producer) && isBatchedContraction(consumer);
      // A producer read by several ops would be recomputed in each.
      return producer->hasOneUse();
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
