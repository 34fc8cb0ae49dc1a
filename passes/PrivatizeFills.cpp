//===- PrivatizeFills.cpp - one zero-filled tensor per accumulating user --===//
//
// Every projection, norm sum and scan contraction accumulates into a
// `linalg.fill` of zeros. CSE merges the fills of equal shape, so one filled
// tensor ends up as the init of several ops; one-shot bufferization must then
// keep the filled buffer intact for the later users and gives each writer a
// copy of it: a fill and a copy per projection (on a GPU, two more kernels
// per projection per decode step). Giving each user its own fill (and its
// own tensor.empty, right before it) lets every fill be written in place,
// and lets the target fold the fill into its kernel (ssm-gpu-projections).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMPRIVATIZEFILLS
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {
struct SSMPrivatizeFillsPass : public ssmc::impl::SSMPrivatizeFillsBase<SSMPrivatizeFillsPass> {
  void runOnOperation() override {
    SmallVector<linalg::FillOp> shared;
    getOperation()->walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && !fill->getResult(0).use_empty() &&
          fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>())
        shared.push_back(fill);
    });
    for (linalg::FillOp fill : shared) {
      auto empty = fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>();
      // Every use gets a clone of the empty tensor and the fill, placed right
      // before the user (its operands dominate it there: they dominate the
      // original fill, which dominates the user), so that the target sees
      // the fill next to the op that accumulates onto it.
      auto uses = llvm::map_to_vector(fill->getResult(0).getUses(),
                                      [](OpOperand &use) { return &use; });
      for (OpOperand *use : uses) {
        OpBuilder b(use->getOwner());
        Operation *emptyCopy = b.clone(*empty);
        IRMapping mapping;
        mapping.map(empty.getResult(), emptyCopy->getResult(0));
        Operation *fillCopy = b.clone(*fill, mapping);
        use->set(fillCopy->getResult(0));
      }
      fill->erase();
      if (empty->use_empty())
        empty->erase();
    }
  }
};
} // namespace
