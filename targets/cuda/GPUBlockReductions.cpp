//===- GPUBlockReductions.cpp - long sum reductions, one warp per output ---===//
//
// The generic lowering gives each output element of a reduction one thread
// that loops over the reduced dimension. For the model's norms (a sum of
// squares over d_model for each token) at decode that is one thread reading
// thousands of elements in a serial chain while the rest of the GPU idles
// (and one warp per element still took 30 us for 2048 elements on an H100:
// 64 dependent steps). Here a linalg.generic whose only reduction is its last
// loop, of static extent >= `min-extent`, and whose body ends in `out +
// term` becomes a `gpu.launch` with one block per output element: the
// threads take every blockDim-th index of the reduced dimension (consecutive
// threads, consecutive addresses when it is the innermost one), each sums
// its terms in a register, and `gpu.all_reduce` adds the partial sums
// (ssm-gpu-lower-all-reduce). Summation order changes, which only rounding
// can see.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"
#include "targets/cuda/ZeroFills.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPUBLOCKREDUCTIONS
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {

constexpr int64_t kWarp = 32;

/// The `out + term` that ends the body, when the accumulator (the output's
/// block argument) is used by nothing else; null otherwise.
arith::AddFOp finalSum(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getNumOperands() != 1)
    return nullptr;
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  BlockArgument acc = body.getArgument(body.getNumArguments() - 1);
  if (!add || !acc.hasOneUse() || (add.getLhs() != acc && add.getRhs() != acc) ||
      add.getLhs() == add.getRhs() || !add.getResult().hasOneUse())
    return nullptr;
  return add;
}

bool matches(linalg::GenericOp op, int64_t minExtent) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 || op.getNumLoops() < 2)
    return false;
  auto iterators = op.getIteratorTypesArray();
  unsigned last = op.getNumLoops() - 1;
  for (unsigned d = 0; d < last; ++d)
    if (iterators[d] != utils::IteratorType::parallel)
      return false;
  if (iterators[last] != utils::IteratorType::reduction)
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (ShapedType::isDynamic(ranges[last]) || ranges[last] < minExtent)
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return false;
  if (op.getIndexingMapsArray().back().isFunctionOfDim(last))
    return false;
  return finalSum(op) != nullptr;
}

/// Indices of an operand for loop indices `ivs` (a projected permutation).
SmallVector<Value> operandIndices(AffineMap map, ArrayRef<Value> ivs) {
  SmallVector<Value> indices;
  for (AffineExpr e : map.getResults())
    indices.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
  return indices;
}

struct GPUBlockReductionsPass
    : ssmc::cuda::impl::GPUBlockReductionsBase<GPUBlockReductionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (threadsPerBlock < kWarp || threadsPerBlock > 1024 || threadsPerBlock % kWarp != 0) {
      getOperation()->emitError(
          "ssm-gpu-block-reductions: threads-per-block must be a multiple of 32 in [32, 1024]");
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> ops;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>() && matches(op, minExtent))
        ops.push_back(op);
    });
    for (linalg::GenericOp op : ops)
      rewrite(op);
  }

  void rewrite(linalg::GenericOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
    unsigned last = op.getNumLoops() - 1;
    SmallVector<Range, 4> ranges = cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
    SmallVector<Value> sizes;
    Value points = index(1);
    for (unsigned d = 0; d < last; ++d) {
      sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, ranges[d].size));
      points = arith::MulIOp::create(b, loc, points, sizes.back());
    }
    int64_t extent = op.getStaticLoopRanges()[last];
    // One block per output element; as many threads as the reduced extent
    // keeps busy (whole warps, at most threads-per-block).
    int64_t threads = std::min<int64_t>(threadsPerBlock, (extent + kWarp - 1) / kWarp * kWarp);
    Value c1 = index(1);
    auto launch = gpu::LaunchOp::create(b, loc, points, c1, c1, index(threads), c1, c1);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value lane = launch.getThreadIds().x, point = launch.getBlockIds().x;
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPoint(launch.getBody().front().getTerminator());

    // Parallel loop indices of this block's output element (row-major).
    SmallVector<Value> ivs(op.getNumLoops());
    Value rest = point;
    for (int64_t d = static_cast<int64_t>(last) - 1; d >= 0; --d) {
      if (d == 0) {
        ivs[d] = rest;
        break;
      }
      ivs[d] = arith::RemUIOp::create(b, loc, rest, sizes[d]);
      rest = arith::DivUIOp::create(b, loc, rest, sizes[d]);
    }

    arith::AddFOp sum = finalSum(op);
    Block &body = op.getRegion().front();
    BlockArgument acc = body.getArgument(body.getNumArguments() - 1);
    Value term = sum.getLhs() == acc ? sum.getRhs() : sum.getLhs();
    Type accType = acc.getType();
    Value zero = arith::ConstantOp::create(b, loc, accType, b.getZeroAttr(accType));
    auto lanes = scf::ForOp::create(b, loc, lane, index(extent), index(threads), ValueRange{zero});
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(lanes.getBody());
      ivs[last] = lanes.getInductionVar();
      IRMapping mapping;
      auto maps = op.getIndexingMapsArray();
      for (OpOperand *input : op.getDpsInputOperands()) {
        BlockArgument arg = body.getArgument(input->getOperandNumber());
        if (arg.use_empty())
          continue;
        Value v = input->get();
        if (isa<MemRefType>(v.getType()))
          v = memref::LoadOp::create(b, loc, v,
                                     operandIndices(maps[input->getOperandNumber()], ivs));
        mapping.map(arg, v);
      }
      for (Operation &inner : body.without_terminator()) {
        if (&inner == sum.getOperation())
          break;
        if (auto idx = dyn_cast<linalg::IndexOp>(inner)) {
          mapping.map(idx.getResult(), ivs[idx.getDim()]);
          continue;
        }
        b.clone(inner, mapping);
      }
      Value next = arith::AddFOp::create(b, loc, lanes.getRegionIterArgs()[0],
                                         mapping.lookupOrDefault(term));
      scf::YieldOp::create(b, loc, next);
    }
    // gpu.all_reduce: shuffles within warps, then across them through
    // workgroup memory (ssm-gpu-lower-all-reduce).
    auto reduce = gpu::AllReduceOp::create(
        b, loc, lanes.getResult(0),
        gpu::AllReduceOperationAttr::get(b.getContext(), gpu::AllReduceOperation::ADD),
        /*uniform=*/true);
    Value total = reduce.getResult();
    Value isLane0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
    auto ifStore = scf::IfOp::create(b, loc, isLane0, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifStore.thenBlock());
    Value out = op.getDpsInits()[0];
    SmallVector<Value> outIndices = operandIndices(op.getIndexingMapsArray().back(), ivs);
    // After a zero fill the block's sum is the result: store it, drop the fill.
    if (linalg::FillOp fill = ssmc::cuda::zeroFillBefore(launch, out)) {
      fill.erase();
    } else {
      total = arith::AddFOp::create(b, loc, memref::LoadOp::create(b, loc, out, outIndices), total);
    }
    memref::StoreOp::create(b, loc, total, out, outIndices);
    op.erase();
  }
};

} // namespace
