//===- GPULowerAllReduce.cpp - gpu.all_reduce to shuffles + shared memory -===//
//
// convert-gpu-to-nvvm has no lowering of gpu.all_reduce (ssm-gpu-block-
// reductions emits it); upstream's rewrite patterns turn it into warp
// shuffles and a workgroup buffer. This pass only applies them.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPULOWERALLREDUCE
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {
struct GPULowerAllReducePass
    : ssmc::cuda::impl::GPULowerAllReduceBase<GPULowerAllReducePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateGpuAllReducePatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
