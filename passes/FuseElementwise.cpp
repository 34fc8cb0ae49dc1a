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
// ssm-vectorize-projections.
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
struct SSMFuseElementwisePass
    : public ssmc::impl::SSMFuseElementwiseBase<SSMFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::ControlFusionFn control = [](OpOperand *fused) {
      auto consumer = dyn_cast<linalg::GenericOp>(fused->getOwner());
      auto producer = fused->get().getDefiningOp<linalg::GenericOp>();
      if (!consumer || !producer)
        return false;
      if (consumer.getNumReductionLoops() != 0 || producer.getNumReductionLoops() != 0)
        return false;
      // A producer read by several ops would be recomputed in each.
      return producer->hasOneUse();
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
