//===- LowerReductions.cpp - reductions with register accumulators --------===//
//
// convert-linalg-to-(parallel-)loops lowers a reduction by loading and
// storing the output element on every iteration. LLVM then cannot keep the
// sum in a register (it cannot prove that the output does not alias an
// input, whose pointers come out of memref descriptors), so the loop stays
// scalar and memory-bound. Linalg's semantics say more: the output element
// of a reduction is read once, combined with every product and written once.
// This pass uses that: a linalg.generic on buffers whose reduction loops are
// its innermost loops becomes an scf.parallel over the parallel loops, a load
// of the output element, an scf.for nest over the reduction loops carrying the
// accumulator as an iter_arg, and one store. The combining arith op of the
// body (the one producing the yielded value from the accumulator) gets the
// `reassoc` fast-math flag so LLVM may vectorize the sum; reassociation
// changes float32 rounding only at the level of float32 rounding itself.
//
// A generic may have further outputs that record a value at every step (the
// chunked scan's inter-chunk pass writes each chunk's entering state beside
// the carried state): outputs whose block argument is unused are stored in
// the innermost loop, at their own indices; the outputs whose block
// argument is used are the accumulators, carried in registers.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMLOWERREDUCTIONS
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {

/// Indices of `map` applied to the loop induction variables.
SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map, ArrayRef<Value> ivs) {
  SmallVector<Value> indices;
  for (AffineExpr expr : map.getResults()) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
      indices.push_back(ivs[dim.getPosition()]);
      continue;
    }
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), 0, expr), ivs));
  }
  return indices;
}

/// Whether output `n`'s block argument is read (an accumulator) rather than
/// only written (a record).
bool isAccumulator(linalg::GenericOp op, unsigned n) {
  return !op.getMatchingBlockArgument(op.getDpsInitOperand(n)).use_empty();
}

bool isCandidate(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumReductionLoops() == 0)
    return false;
  auto iterators = op.getIteratorTypesArray();
  unsigned loops = op.getNumLoops(), parallel = op.getNumParallelLoops();
  for (unsigned d = 0; d < loops; ++d)
    if ((d < parallel) != (iterators[d] == utils::IteratorType::parallel))
      return false; // a parallel loop inside a reduction loop
  // Accumulators are indexed by the parallel loops alone.
  unsigned accumulators = 0;
  for (unsigned n = 0; n < op.getNumDpsInits(); ++n) {
    if (!isa<MemRefType>(op.getDpsInits()[n].getType()))
      return false;
    if (!isAccumulator(op, n))
      continue;
    ++accumulators;
    AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(n));
    for (AffineExpr expr : outMap.getResults())
      for (unsigned d = parallel; d < loops; ++d)
        if (expr.isFunctionOfDim(d))
          return false;
  }
  if (accumulators == 0)
    return false;
  for (Value input : op.getDpsInputs())
    if (!isa<MemRefType>(input.getType()))
      return false;
  return true;
}

struct SSMLowerReductionsPass
    : public ssmc::impl::SSMLowerReductionsBase<SSMLowerReductionsPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> candidates;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (isCandidate(op))
        candidates.push_back(op);
    });
    for (linalg::GenericOp op : candidates)
      rewrite(op);
  }

  void rewrite(linalg::GenericOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<Range, 4> ranges =
        cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
    unsigned loops = op.getNumLoops(), parallel = op.getNumParallelLoops();
    auto value = [&](OpFoldResult r) { return getValueOrCreateConstantIndexOp(b, loc, r); };
    SmallVector<Value> lbs, ubs, steps;
    for (const Range &r : ranges) {
      lbs.push_back(value(r.offset));
      ubs.push_back(value(r.size));
      steps.push_back(value(r.stride));
    }
    Block &body = op.getRegion().front();
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    SmallVector<unsigned> accumulators, records;
    for (unsigned n = 0; n < op.getNumDpsInits(); ++n)
      (isAccumulator(op, n) ? accumulators : records).push_back(n);

    auto buildInner = [&](OpBuilder &pb, Location l, ValueRange parallelIvs) {
      SmallVector<Value> ivs(parallelIvs.begin(), parallelIvs.end());
      // Indices of the accumulators (parallel loops only; pad the rest with any iv).
      SmallVector<Value> padded(ivs);
      padded.resize(loops, ivs.empty() ? lbs[0] : ivs[0]);
      SmallVector<SmallVector<Value>> accIndices;
      SmallVector<Value> inits;
      for (unsigned n : accumulators) {
        OpOperand *init = op.getDpsInitOperand(n);
        accIndices.push_back(applyMap(pb, l, op.getMatchingIndexingMap(init), padded));
        inits.push_back(memref::LoadOp::create(pb, l, init->get(), accIndices.back()));
      }
      // Reduction nest carrying the accumulators.
      std::function<SmallVector<Value>(OpBuilder &, unsigned, ValueRange)> nest =
          [&](OpBuilder &nb, unsigned d, ValueRange accs) -> SmallVector<Value> {
        auto loop = scf::ForOp::create(
            nb, l, lbs[d], ubs[d], steps[d], accs,
            [&](OpBuilder &fb, Location fl, Value iv, ValueRange carried) {
              ivs.push_back(iv);
              SmallVector<Value> next;
              if (d + 1 < loops) {
                next = nest(fb, d + 1, carried);
              } else {
                IRMapping mapping;
                for (OpOperand *input : op.getDpsInputOperands()) {
                  SmallVector<Value> idx =
                      applyMap(fb, fl, op.getMatchingIndexingMap(input), ivs);
                  mapping.map(body.getArgument(input->getOperandNumber()),
                              memref::LoadOp::create(fb, fl, input->get(), idx));
                }
                for (auto [n, acc] : llvm::zip(accumulators, carried))
                  mapping.map(op.getMatchingBlockArgument(op.getDpsInitOperand(n)), acc);
                for (Operation &inner : body.without_terminator()) {
                  if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
                    mapping.map(index.getResult(), ivs[index.getDim()]);
                    continue;
                  }
                  Operation *clone = fb.clone(inner, mapping);
                  // A combiner may be reassociated (see the file comment).
                  if (inner.getNumResults() != 1)
                    continue;
                  for (unsigned n : accumulators) {
                    BlockArgument accArg = op.getMatchingBlockArgument(op.getDpsInitOperand(n));
                    if (inner.getResult(0) == yield.getOperand(n) &&
                        llvm::is_contained(inner.getOperands(), accArg))
                      if (auto fm = dyn_cast<arith::ArithFastMathInterface>(clone))
                        clone->setAttr(fm.getFastMathAttrName(),
                                       arith::FastMathFlagsAttr::get(
                                           clone->getContext(), arith::FastMathFlags::reassoc));
                  }
                }
                for (unsigned n : accumulators)
                  next.push_back(mapping.lookupOrDefault(yield.getOperand(n)));
                // Records are written at every step, at their own indices.
                for (unsigned n : records) {
                  OpOperand *init = op.getDpsInitOperand(n);
                  memref::StoreOp::create(fb, fl, mapping.lookupOrDefault(yield.getOperand(n)),
                                          init->get(),
                                          applyMap(fb, fl, op.getMatchingIndexingMap(init), ivs));
                }
              }
              ivs.pop_back();
              scf::YieldOp::create(fb, fl, next);
            });
        return SmallVector<Value>(loop.getResults());
      };
      SmallVector<Value> results = nest(pb, parallel, inits);
      for (auto [n, result] : llvm::enumerate(results))
        memref::StoreOp::create(pb, l, result, op.getDpsInits()[accumulators[n]], accIndices[n]);
    };

    if (parallel == 0) {
      buildInner(b, loc, {});
    } else {
      scf::ParallelOp::create(
          b, loc, ArrayRef<Value>(lbs).take_front(parallel),
          ArrayRef<Value>(ubs).take_front(parallel), ArrayRef<Value>(steps).take_front(parallel),
          [&](OpBuilder &pb, Location l, ValueRange ivs) { buildInner(pb, l, ivs); });
    }
    op.erase();
  }
};
} // namespace
