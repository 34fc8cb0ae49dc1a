//===- ApproximateExp.cpp - math.exp as a vectorizable polynomial ---------===//
//
// LLVM lowers a float32 `math.exp` to a call of libm's expf, which stops the
// loop vectorizer; the chunked scan takes one exp per (token, token, head) of
// every chunk. Upstream MLIR's polynomial approximation (range reduction to
// [-ln2/2, ln2/2], a polynomial, scaling by 2^k; errors of a few float32 ulp)
// is plain arithmetic and vectorizes. Only `math.exp` is rewritten here: the
// softplus and the other transcendental ops keep their libm calls.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMAPPROXIMATEEXP
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {
struct SSMApproximateExpPass : public ssmc::impl::SSMApproximateExpBase<SSMApproximateExpPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) { return name == math::ExpOp::getOperationName(); });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
