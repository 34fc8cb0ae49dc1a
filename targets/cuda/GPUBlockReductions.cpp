//===- GPUBlockReductions.cpp - sum reductions, a block or warp per output ===//
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
// (ssm-gpu-lower-all-reduce). Shorter (or dynamic) f32 reductions over a
// dimension that is innermost in every input reading it get one warp per
// output element instead, its lanes reading consecutive elements and a
// shuffle tree adding them: the chunked scan's C B^T and S . C over the
// state dimension and its cumulative sum over the chunk, which as one
// thread per output read 32 rows per warp-wide load (C B^T alone took
// 330 us per 128-token chunk of llamba-1b). The elementwise op that consumes
// the sums is computed in the same kernel (a norm's scaling of its row: at
// decode the norm is then one kernel, not two), and so is an elementwise op
// that writes one of its inputs in place right before (the decode step's
// state update: state update and y = S' . C in one kernel). Summation order changes,
// which only rounding can see.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"
#include "targets/cuda/KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPUBLOCKREDUCTIONS
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {

constexpr int64_t kWarp = 32;

/// How a matching reduction is mapped: one block per output element (long
/// static reductions, the norms), or one warp per output element (shorter or
/// dynamic reductions over a dimension that every input reading it has
/// innermost, so that a warp's lanes read consecutive addresses: the scan's
/// C B^T and S . C contractions, the chunk's cumulative sum).
enum class Mapping { None, BlockPerOutput, WarpPerOutput };

/// A thread's share of `count` elements: `lane`, `lane + threads`, ... The
/// loop a thread runs; `element` gives the element index inside its body.
/// With a static count that `threads` divides into at most kMaxUnrolled
/// steps, the loop has a constant trip count and is unrolled once its body
/// is built (unrollLaneLoop), so a thread issues all its loads together
/// instead of one load latency per step (the one-block RMSNorm of a
/// 2048-wide row: 8 steps per thread, twice).
struct LaneLoop {
  scf::ForOp loop;
  bool constantTrips = false;
  Value lane;
  int64_t threads = 0;

  Value element(OpBuilder &b, Location loc) {
    Value iv = loop.getInductionVar();
    if (!constantTrips)
      return iv;
    return arith::AddIOp::create(
        b, loc, lane,
        arith::MulIOp::create(b, loc, iv, arith::ConstantIndexOp::create(b, loc, threads)));
  }
};
constexpr int64_t kMaxUnrolled = 16;

LaneLoop laneLoop(OpBuilder &b, Location loc, Value lane, Value count, int64_t threads,
                  ValueRange iterArgs) {
  LaneLoop result;
  result.lane = lane;
  result.threads = threads;
  std::optional<int64_t> staticCount = getConstantIntValue(count);
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
  if (staticCount && *staticCount % threads == 0 && *staticCount / threads <= kMaxUnrolled) {
    result.constantTrips = true;
    result.loop = scf::ForOp::create(b, loc, c(0), c(*staticCount / threads), c(1), iterArgs);
  } else {
    result.loop = scf::ForOp::create(b, loc, lane, count, c(threads), iterArgs);
  }
  return result;
}

void unrollLaneLoop(LaneLoop &l) {
  if (l.constantTrips)
    (void)loopUnrollFull(l.loop);
}


/// True when every input indexed by loop `dim` has it as its innermost index.
bool innermostInInputs(linalg::GenericOp op, unsigned dim) {
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isFunctionOfDim(dim))
      continue;
    if (map.getNumResults() == 0 || map.getResults().back() != getAffineDimExpr(dim, op.getContext()))
      return false;
  }
  return true;
}

Mapping classify(linalg::GenericOp op, int64_t minExtent) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 || op.getNumLoops() < 2)
    return Mapping::None;
  auto iterators = op.getIteratorTypesArray();
  unsigned last = op.getNumLoops() - 1;
  for (unsigned d = 0; d < last; ++d)
    if (iterators[d] != utils::IteratorType::parallel)
      return Mapping::None;
  if (iterators[last] != utils::IteratorType::reduction)
    return Mapping::None;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return Mapping::None;
  if (op.getIndexingMapsArray().back().isFunctionOfDim(last) || !ssmc::cuda::finalSum(op))
    return Mapping::None;
  int64_t extent = op.getStaticLoopRanges()[last];
  if (!ShapedType::isDynamic(extent) && extent >= minExtent)
    return Mapping::BlockPerOutput;
  bool f32Sum = op.getRegion().front().getArguments().back().getType().isF32();
  if (f32Sum && innermostInInputs(op, last) && (ShapedType::isDynamic(extent) || extent >= 16))
    return Mapping::WarpPerOutput;
  return Mapping::None;
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
    SmallVector<std::pair<linalg::GenericOp, Mapping>> ops;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (Mapping mapping = classify(op, minExtent); mapping != Mapping::None)
        ops.push_back({op, mapping});
    });
    for (auto [op, mapping] : ops)
      rewrite(op, mapping == Mapping::WarpPerOutput);
  }

  void rewrite(linalg::GenericOp op, bool warpPerOutput) {
    // (Found before anything is built here.) An elementwise op writing an input in place right before (the scan's
    // state update before y = S' . C, at decode) is computed in this kernel
    // too: each element is visited once, stored, and summed.
    linalg::GenericOp producer;
    for (OpOperand *input : op.getDpsInputOperands())
      if (!producer)
        producer = ssmc::cuda::inPlaceProducerOf(op, input->get());

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
    Value extent = getValueOrCreateConstantIndexOp(b, loc, ranges[last].size);

    // The elementwise op consuming the sums, computed in this kernel (a
    // norm's scaling: every thread of the row's block scales part of the
    // row; the scan's `Y_diag + exp(Acum) (S . C) + D x` after its S . C).
    // Its loops that index the output are this block's or warp's output
    // element; the rest ("free") are shared out among the threads.
    Value out = op.getDpsInits()[0];
    linalg::GenericOp consumer =
        ssmc::cuda::foldableConsumerOf(op, out, /*allowBroadcast=*/true);
    SmallVector<unsigned> freeDims;
    SmallVector<Value> freeSizes;
    Value freeCount = index(1);
    if (consumer) {
      ssmc::cuda::hoistBetween(op, consumer);
      b.setInsertionPoint(op);
      SmallVector<Range, 4> consumerRanges =
          cast<linalg::LinalgOp>(consumer.getOperation()).createLoopRanges(b, loc);
      AffineMap readMap;
      for (OpOperand *input : consumer.getDpsInputOperands())
        if (input->get() == out)
          readMap = consumer.getMatchingIndexingMap(input);
      SmallVector<int64_t> staticRanges = consumer.getStaticLoopRanges();
      int64_t staticFree = 1;
      for (unsigned d = 0; d < consumer.getNumLoops(); ++d) {
        if (readMap.isFunctionOfDim(d))
          continue;
        freeDims.push_back(d);
        freeSizes.push_back(getValueOrCreateConstantIndexOp(b, loc, consumerRanges[d].size));
        freeCount = arith::MulIOp::create(b, loc, freeCount, freeSizes.back());
        staticFree = ShapedType::isDynamic(staticRanges[d]) || ShapedType::isDynamic(staticFree)
                         ? ShapedType::kDynamic
                         : staticFree * staticRanges[d];
      }
      // A static count lets the threads' loop over it unroll (laneLoop).
      if (!ShapedType::isDynamic(staticFree))
        freeCount = index(staticFree);
    }
    Value c1 = index(1);
    gpu::LaunchOp launch;
    Value lane, point, threads;
    int64_t threadCount = 0;
    Value inRange; // warp mode: whether this warp has an output element
    if (warpPerOutput) {
      // Warps of a block take consecutive output elements; a warp past the
      // last one skips everything (uniformly, so shuffles stay legal).
      constexpr int64_t kWarpsPerBlock = 8;
      Value blocks = arith::CeilDivUIOp::create(b, loc, points, index(kWarpsPerBlock));
      launch = gpu::LaunchOp::create(b, loc, blocks, c1, c1, index(kWarpsPerBlock * kWarp), c1, c1);
      b.setInsertionPointToStart(&launch.getBody().front());
      Value tid = launch.getThreadIds().x;
      lane = arith::RemUIOp::create(b, loc, tid, index(kWarp));
      point = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, index(kWarpsPerBlock)),
          arith::DivUIOp::create(b, loc, tid, index(kWarp)));
      inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, point, points);
      threads = index(kWarp);
      threadCount = kWarp;
    } else {
      // One block per output element; as many threads as the reduced
      // extent keeps busy (whole warps, at most threads-per-block).
      int64_t staticExtent = op.getStaticLoopRanges()[last];
      int64_t count =
          std::min<int64_t>(threadsPerBlock, (staticExtent + kWarp - 1) / kWarp * kWarp);
      launch = gpu::LaunchOp::create(b, loc, points, c1, c1, index(count), c1, c1);
      b.setInsertionPointToStart(&launch.getBody().front());
      lane = launch.getThreadIds().x;
      point = launch.getBlockIds().x;
      threads = index(count);
      threadCount = count;
    }
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPoint(launch.getBody().front().getTerminator());
    if (inRange) {
      auto ifInRange = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
      b.setInsertionPoint(ifInRange.thenBlock()->getTerminator());
    }

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

    arith::AddFOp sum = ssmc::cuda::finalSum(op);
    Block &body = op.getRegion().front();
    BlockArgument acc = body.getArgument(body.getNumArguments() - 1);
    Value term = sum.getLhs() == acc ? sum.getRhs() : sum.getLhs();
    Type accType = acc.getType();
    Value zero = arith::ConstantOp::create(b, loc, accType, b.getZeroAttr(accType));
    LaneLoop laneSteps = laneLoop(b, loc, lane, extent, threadCount, ValueRange{zero});
    scf::ForOp lanes = laneSteps.loop;
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(lanes.getBody());
      ivs[last] = laneSteps.element(b, loc);
      IRMapping mapping;
      auto maps = op.getIndexingMapsArray();
      for (OpOperand *input : op.getDpsInputOperands()) {
        BlockArgument arg = body.getArgument(input->getOperandNumber());
        if (arg.use_empty())
          continue;
        Value v = input->get();
        if (producer && v == producer.getDpsInits()[0]) {
          Value produced = ssmc::cuda::evaluateBodyAt(b, loc, producer, ivs);
          memref::StoreOp::create(b, loc, produced, v, ivs);
          v = produced;
        } else if (isa<MemRefType>(v.getType())) {
          v = memref::LoadOp::create(b, loc, v,
                                     operandIndices(maps[input->getOperandNumber()], ivs));
        }
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
    Value total = lanes.getResult(0);
    if (warpPerOutput) {
      total = ssmc::cuda::warpSum(b, loc, total);
    } else {
      // gpu.all_reduce: shuffles within warps, then across them through
      // workgroup memory (ssm-gpu-lower-all-reduce).
      total = gpu::AllReduceOp::create(
                  b, loc, total,
                  gpu::AllReduceOperationAttr::get(b.getContext(), gpu::AllReduceOperation::ADD),
                  /*uniform=*/true)
                  .getResult();
    }
    SmallVector<Value> outIndices = operandIndices(op.getIndexingMapsArray().back(), ivs);
    // After a zero fill the block's sum is the result: store it, drop the fill.
    if (linalg::FillOp fill = ssmc::cuda::zeroFillBefore(launch, out)) {
      fill.erase();
    } else {
      total = arith::AddFOp::create(b, loc, memref::LoadOp::create(b, loc, out, outIndices), total);
    }
    Value isLane0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
    auto ifStore = scf::IfOp::create(b, loc, isLane0, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(ifStore.thenBlock());
      memref::StoreOp::create(b, loc, total, out, outIndices);
    }
    if (consumer) {
      // The consumer's loops that read the output take this output
      // element's indices; the threads split the free ones (every thread
      // has the sum: all_reduce and the shuffle butterfly leave it in all).
      SmallVector<Value> consumerIvs(consumer.getNumLoops());
      AffineMap readMap;
      for (OpOperand *input : consumer.getDpsInputOperands())
        if (input->get() == out)
          readMap = consumer.getMatchingIndexingMap(input);
      for (auto [j, e] : llvm::enumerate(readMap.getResults()))
        consumerIvs[cast<AffineDimExpr>(e).getPosition()] = outIndices[j];
      if (freeDims.empty()) {
        b.setInsertionPoint(ifStore.thenBlock()->getTerminator());
        ssmc::cuda::emitConsumerAt(b, loc, consumer, out, total, consumerIvs);
      } else {
        LaneLoop freeSteps = laneLoop(b, loc, lane, freeCount, threadCount, ValueRange{});
        b.setInsertionPointToStart(freeSteps.loop.getBody());
        Value rest = freeSteps.element(b, loc);
        for (int64_t i = static_cast<int64_t>(freeDims.size()) - 1; i >= 0; --i) {
          if (i == 0) {
            consumerIvs[freeDims[i]] = rest;
            break;
          }
          consumerIvs[freeDims[i]] = arith::RemUIOp::create(b, loc, rest, freeSizes[i]);
          rest = arith::DivUIOp::create(b, loc, rest, freeSizes[i]);
        }
        ssmc::cuda::emitConsumerAt(b, loc, consumer, out, total, consumerIvs);
        unrollLaneLoop(freeSteps);
      }
      consumer.erase();
    }
    // Last: unrolling replaces the loop's result in the ops built above.
    unrollLaneLoop(laneSteps);
    if (producer)
      producer.erase();
    op.erase();
  }
};

} // namespace
