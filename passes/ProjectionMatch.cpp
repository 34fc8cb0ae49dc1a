//===- ProjectionMatch.cpp - recognize projections on buffers -------------===//

#include "passes/ProjectionMatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

namespace {
/// Follows extf (or nothing) back to a block argument of the body.
BlockArgument widenedArgument(Value v) {
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    v = ext.getIn();
  return dyn_cast<BlockArgument>(v);
}
} // namespace

bool ssmc::isProjection(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
    return false;
  auto x = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto w = dyn_cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto out = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!x || !w || !out || w.getRank() != 2 || x.getRank() < 2 || out.getRank() != x.getRank())
    return false;
  if (!out.getElementType().isF32())
    return false;
  int64_t rank = x.getRank(), loops = rank + 1;
  if (op.getNumLoops() != loops)
    return false;
  MLIRContext *ctx = op.getContext();
  SmallVector<AffineExpr> batch;
  for (int64_t d = 0; d < rank - 1; ++d)
    batch.push_back(getAffineDimExpr(d, ctx));
  AffineExpr n = getAffineDimExpr(rank - 1, ctx), k = getAffineDimExpr(rank, ctx);
  SmallVector<AffineExpr> xExprs(batch), outExprs(batch);
  xExprs.push_back(k);
  outExprs.push_back(n);
  SmallVector<AffineMap> expected = {AffineMap::get(loops, 0, xExprs, ctx),
                                     AffineMap::get(loops, 0, {n, k}, ctx),
                                     AffineMap::get(loops, 0, outExprs, ctx)};
  if (op.getIndexingMapsArray() != ArrayRef<AffineMap>(expected))
    return false;
  auto iterators = op.getIteratorTypesArray();
  for (int64_t d = 0; d < loops; ++d)
    if (iterators[d] != (d == loops - 1 ? utils::IteratorType::reduction
                                        : utils::IteratorType::parallel))
      return false;
  // Body: yield(acc + ext(x) * ext(w)).
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value accumulated = add.getLhs(), product = add.getRhs();
  if (!isa<BlockArgument>(accumulated))
    std::swap(accumulated, product);
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (accumulated != body.getArgument(2) || !mul)
    return false;
  BlockArgument a = widenedArgument(mul.getLhs()), bArg = widenedArgument(mul.getRhs());
  if (!a || !bArg)
    return false;
  return (a == body.getArgument(0) && bArg == body.getArgument(1)) ||
         (a == body.getArgument(1) && bArg == body.getArgument(0));
}

