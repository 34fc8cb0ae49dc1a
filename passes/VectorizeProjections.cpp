//===- VectorizeProjections.cpp - register-blocked projections on buffers -===//
//
// Every projection of the model (`ssm.linear`, the LM head) reaches this pass
// as the linalg.generic `out[b.., n] += x[b.., k] * w[n, k]` on buffers, with
// the weight in its checkpoint layout (row n of the weight is contiguous in
// k). It is the bulk of the model's arithmetic and, for decode, of its
// memory traffic, so it is not left to the generic loop lowering:
//
//  * a register block of `rows` activation rows by `cols` weight rows keeps
//    rows*cols vector accumulators along k and reduces them once at the end,
//    so each weight vector loaded is used `rows` times and each activation
//    vector `cols` times; half-precision weights are widened to f32 in
//    registers (bf16 by a shift), never copied;
//  * activations are made f32 and contiguous once per projection;
//  * tiles of `tile-rows` activation rows keep the activations of a tile in
//    cache while a task's weight rows pass over them;
//  * the weight rows are split into tasks of `cols * task-blocks` rows that
//    form a one-dimensional scf.parallel (ssm-outline-parallel-loops gives it
//    to the runtime's threads). Decode (one row per sequence) thus streams the
//    weights once, split across threads.
//
// A projection whose shapes do not fit (k not a multiple of the vector
// width, non-contiguous weight rows, a non-f32 accumulator) is left as is.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/ProjectionMatch.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMVECTORIZEPROJECTIONS
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {

bool lastDimContiguous(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

struct Emitter {
  OpBuilder &b;
  Location loc;
  Value x, w, out; // x: [M, K] f32 contiguous, w: [N, K], out: [M, N] f32
  int64_t width;
  int64_t k;
  Type weightElement;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// A weight vector widened to f32.
  Value loadWeight(Value row, Value col) {
    auto raw = VectorType::get({width}, weightElement);
    auto f32v = VectorType::get({width}, b.getF32Type());
    Value v = vector::LoadOp::create(b, loc, raw, w, ValueRange{row, col});
    if (weightElement.isF32())
      return v;
    if (weightElement.isBF16()) {
      // bf16 is the high half of an f32: widen by a shift, exactly.
      auto i16v = VectorType::get({width}, b.getI16Type());
      auto i32v = VectorType::get({width}, b.getI32Type());
      Value bits = arith::BitcastOp::create(b, loc, i16v, v);
      Value wide = arith::ExtUIOp::create(b, loc, i32v, bits);
      Value sixteen = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(i32v, b.getI32IntegerAttr(16).getValue()));
      Value shifted = arith::ShLIOp::create(b, loc, wide, sixteen);
      return arith::BitcastOp::create(b, loc, f32v, shifted);
    }
    return arith::ExtFOp::create(b, loc, f32v, v);
  }

  /// out[m0 + r, n0 + c] += sum_k x[m0 + r, k] * w[n0 + c, k] for a
  /// rows x cols register block.
  void block(int64_t rows, int64_t cols, Value m0, Value n0) {
    auto f32v = VectorType::get({width}, b.getF32Type());
    Value zeroVec = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(f32v, b.getF32FloatAttr(0.0f).getValue()));
    SmallVector<Value> init(rows * cols, zeroVec);
    SmallVector<Value> mRows, nRows;
    for (int64_t r = 0; r < rows; ++r)
      mRows.push_back(r == 0 ? m0 : arith::AddIOp::create(b, loc, m0, index(r)).getResult());
    for (int64_t c = 0; c < cols; ++c)
      nRows.push_back(c == 0 ? n0 : arith::AddIOp::create(b, loc, n0, index(c)).getResult());
    auto kLoop = scf::ForOp::create(
        b, loc, index(0), index(k), index(width), init,
        [&](OpBuilder &lb, Location l, Value kk, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
          SmallVector<Value> xs;
          for (int64_t r = 0; r < rows; ++r)
            xs.push_back(vector::LoadOp::create(b, l, f32v, x, ValueRange{mRows[r], kk}));
          SmallVector<Value> next(acc.begin(), acc.end());
          for (int64_t c = 0; c < cols; ++c) {
            Value wv = loadWeight(nRows[c], kk);
            for (int64_t r = 0; r < rows; ++r)
              next[r * cols + c] = vector::FMAOp::create(b, l, xs[r], wv, next[r * cols + c]);
          }
          scf::YieldOp::create(b, l, next);
        });
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        Value sum = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                                kLoop.getResult(r * cols + c),
                                                arith::FastMathFlags::reassoc);
        Value old = memref::LoadOp::create(b, loc, out, ValueRange{mRows[r], nRows[c]});
        memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, sum), out,
                                ValueRange{mRows[r], nRows[c]});
      }
  }
};

struct SSMVectorizeProjectionsPass
    : public ssmc::impl::SSMVectorizeProjectionsBase<SSMVectorizeProjectionsPass> {
  using SSMVectorizeProjectionsBase::SSMVectorizeProjectionsBase;

  void runOnOperation() override {
    if (vectorWidth <= 0 || rows <= 0 || cols <= 0 || tileRows <= 0 || taskBlocks <= 0) {
      getOperation()->emitError()
          << "ssm-vectorize-projections: every option must be positive";
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> projections;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (ssmc::isProjection(op))
        projections.push_back(op);
    });
    for (linalg::GenericOp op : projections)
      rewrite(op);
  }

  void rewrite(linalg::GenericOp op) {
    Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1], out = op.getDpsInits()[0];
    auto xType = cast<MemRefType>(x.getType());
    auto wType = cast<MemRefType>(w.getType());
    auto outType = cast<MemRefType>(out.getType());
    if (!wType.hasStaticShape() || !lastDimContiguous(wType) || !outType.getLayout().isIdentity())
      return;
    int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
    if (k % vectorWidth != 0 || xType.getShape().back() != k)
      return;
    Type weightElement = wType.getElementType();
    if (!weightElement.isF32() && !weightElement.isBF16() && !weightElement.isF16())
      return;

    OpBuilder b(op);
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    int64_t rank = xType.getRank();

    // Activations as a contiguous f32 buffer.
    Value xf = x;
    Value scratch;
    if (!xType.getElementType().isF32() || !xType.getLayout().isIdentity()) {
      SmallVector<Value> dynSizes;
      for (int64_t d = 0; d < rank; ++d)
        if (xType.isDynamicDim(d))
          dynSizes.push_back(memref::DimOp::create(b, loc, x, d));
      auto f32Type = MemRefType::get(xType.getShape(), f32);
      scratch = memref::AllocOp::create(b, loc, f32Type, dynSizes, b.getI64IntegerAttr(64));
      SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
      SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
      linalg::GenericOp::create(b, loc, ValueRange{x}, ValueRange{scratch}, maps, iterators,
                                [&](OpBuilder &nb, Location l, ValueRange args) {
                                  Value v = args[0];
                                  if (!v.getType().isF32())
                                    v = arith::ExtFOp::create(nb, l, f32, v);
                                  linalg::YieldOp::create(nb, l, v);
                                });
      xf = scratch;
    }
    // Batch dims collapsed into rows.
    SmallVector<ReassociationIndices> groups(2);
    for (int64_t d = 0; d < rank - 1; ++d)
      groups[0].push_back(d);
    groups[1].push_back(rank - 1);
    Value x2 = rank == 2 ? xf : memref::CollapseShapeOp::create(b, loc, xf, groups).getResult();
    Value out2 =
        rank == 2 ? out : memref::CollapseShapeOp::create(b, loc, out, groups).getResult();
    Value m = memref::DimOp::create(b, loc, x2, 0);

    int64_t blocks = (n + cols - 1) / cols;
    int64_t perTask = std::max<int64_t>(1, std::min<int64_t>(taskBlocks, blocks / 16));
    int64_t tasks = (blocks + perTask - 1) / perTask;
    Emitter e{b, loc, x2, w, out2, vectorWidth, k, weightElement};

    auto par = scf::ParallelOp::create(b, loc, ValueRange{e.index(0)}, ValueRange{e.index(tasks)},
                                       ValueRange{e.index(1)});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(par.getBody()->getTerminator());
      Value task = par.getInductionVars()[0];
      Value firstBlock = arith::MulIOp::create(b, loc, task, e.index(perTask));
      Value lastBlock = arith::MinSIOp::create(
          b, loc, arith::AddIOp::create(b, loc, firstBlock, e.index(perTask)), e.index(blocks));
      scf::ForOp::create(
          b, loc, e.index(0), m, e.index(tileRows), ValueRange{},
          [&](OpBuilder &tb, Location l, Value tile, ValueRange) {
            b.setInsertionPoint(tb.getInsertionBlock(), tb.getInsertionPoint());
            Value tileEnd =
                arith::MinSIOp::create(b, l, arith::AddIOp::create(b, l, tile, e.index(tileRows)), m);
            Value span = arith::SubIOp::create(b, l, tileEnd, tile);
            Value fullEnd = arith::AddIOp::create(
                b, l, tile,
                arith::MulIOp::create(b, l, arith::DivUIOp::create(b, l, span, e.index(rows)),
                                      e.index(rows)));
            auto blockLoop = scf::ForOp::create(b, l, firstBlock, lastBlock, e.index(1));
            b.setInsertionPointToStart(blockLoop.getBody());
            Value n0 = arith::MulIOp::create(b, l, blockLoop.getInductionVar(), e.index(cols));
            auto fullColumns = [&] {
              auto full = scf::ForOp::create(b, l, tile, fullEnd, e.index(rows));
              b.setInsertionPointToStart(full.getBody());
              e.block(rows, cols, full.getInductionVar(), n0);
              b.setInsertionPointAfter(full);
              auto rest = scf::ForOp::create(b, l, fullEnd, tileEnd, e.index(1));
              b.setInsertionPointToStart(rest.getBody());
              e.block(1, cols, rest.getInductionVar(), n0);
              b.setInsertionPointAfter(rest);
            };
            if (n % cols == 0) {
              fullColumns();
            } else {
              // The last block has fewer than `cols` weight rows.
              Value isFull = arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::sle,
                  arith::AddIOp::create(b, l, n0, e.index(cols)), e.index(n));
              auto branch = scf::IfOp::create(b, l, isFull, /*withElseRegion=*/true);
              b.setInsertionPointToStart(&branch.getThenRegion().front());
              fullColumns();
              b.setInsertionPointToStart(&branch.getElseRegion().front());
              auto col = scf::ForOp::create(b, l, n0, e.index(n), e.index(1));
              b.setInsertionPointToStart(col.getBody());
              auto row = scf::ForOp::create(b, l, tile, tileEnd, e.index(1));
              b.setInsertionPointToStart(row.getBody());
              e.block(1, 1, row.getInductionVar(), col.getInductionVar());
            }
            b.setInsertionPointAfter(blockLoop);
            scf::YieldOp::create(b, l);
          });
    }
    if (scratch)
      memref::DeallocOp::create(b, loc, scratch);
    op.erase();
  }
};
} // namespace
