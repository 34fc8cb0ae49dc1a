//===- ChunkedScanLowering.cpp - ssm.chunked_scan by chunked SSD ----------===//
//
// Lowers `ssm.chunked_scan` by the chunked SSD algorithm of spec §1.6: an
// scf.for over chunks of Q = `chunk` tokens carries the float32 state
// `S : B x H x P x N` of the whole batch, and each chunk is a handful of
// linalg.generic ops on `B x q x ...` slices (q = Q, or the rest of the
// sequence for a last, partial chunk):
//
//   0. masked inputs: u = dt * x and log_a, both zero at padding positions;
//      Acum = within-chunk cumsum of log_a, T = its total (= Acum[q-1]).
//   1. Y_diag[l] = sum_{s<=l} (C_l . B_s) exp(Acum[l] - Acum[s]) u_s.
//   4. Y_off[l]  = exp(Acum[l]) (S_enter . C_l);  y = Y_diag + Y_off + D x.
//   2.+3. S_exit = exp(T) S_enter + sum_s exp(T - Acum[s]) u_s (x) B_s.
//
// Steps 2 and 3 of the spec (per-chunk states, then the inter-chunk
// recurrence as a (c+1) x (c+1) decay matrix) fold into the carried state
// here: the loop over chunks *is* the inter-chunk recurrence, which keeps
// memory at one state per sequence and handles a dynamic number of chunks.
//
// Padding (`lengths`): a position t >= lengths[b] gets log_a = 0 (decay 1)
// and u = 0 (no input), so it leaves the state unchanged; the state after
// the last chunk is therefore the state after token lengths[b] - 1, as the op
// requires, without any per-sequence gather. Outputs at padding positions are
// whatever this computes (the op leaves them unspecified).
//
// Stability: exponentials are only taken of Acum[l] - Acum[s] for s <= l,
// T - Acum[s] and Acum[l], all sums of log_a over a non-empty or empty range
// and so <= 0 for decays a <= 1; the s > l half of the decay matrix is
// selected to 0 without evaluating exp, so it cannot overflow (the stable
// segsum of §1.6). All chunk-local quantities (C B^T, decays, states) are
// float32; only y is rounded to the result type.
//
//===----------------------------------------------------------------------===//

#include "passes/ChunkedScanLowering.h"

#include "dialects/ssm/SSMOps.h"
#include "dialects/ssm/SSMTypes.h"
#include "passes/LinalgBuilders.h"
#include "passes/StatefulLowerings.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace ssmc;
using namespace ssmc::ssm;

namespace {

// Scalar pieces of the chunk builders' op bodies (all float32).
Value mul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::MulFOp::create(b, loc, lhs, rhs);
}
Value add(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::AddFOp::create(b, loc, lhs, rhs);
}
Value subf(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::SubFOp::create(b, loc, lhs, rhs);
}
Value expOf(OpBuilder &b, Location loc, Value v) { return math::ExpOp::create(b, loc, v); }
/// Lower-triangle test between two loops of the enclosing generic.
Value notAfter(OpBuilder &b, Location loc, unsigned lhsLoop, unsigned rhsLoop) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule,
                               linalg::IndexOp::create(b, loc, lhsLoop),
                               linalg::IndexOp::create(b, loc, rhsLoop));
}

/// u = dt x (spec 1.5's x~), or x without dt, in float32; 0 where `real` is
/// false (padding). `args` = (x, lengths[, dt]).
Value maskedInput(OpBuilder &b, Location loc, ValueRange args, bool hasDt, Value real) {
  Type f32 = b.getF32Type();
  Value v = castFloat(b, loc, args[0], f32);
  if (hasDt)
    v = mul(b, loc, castFloat(b, loc, args[2], f32), v);
  return arith::SelectOp::create(b, loc, real, v, floatConstant(b, loc, f32, 0.0));
}

/// C B^T[l, s] times the causal decay exp(Acum[l] - Acum[s]) for s <= l, 0
/// above the diagonal; `args` = (Acum[l], Acum[s], C B^T[l, s]). Branch-free
/// masking: the exponent is replaced by 0 above the diagonal, so exp only
/// ever sees sums of log_a over s < k <= l (it cannot overflow).
Value maskedDecay(OpBuilder &b, Location loc, ValueRange args, unsigned sLoop, unsigned lLoop) {
  Value causal = notAfter(b, loc, sLoop, lLoop);
  Value zero = floatConstant(b, loc, b.getF32Type(), 0.0);
  Value exponent = arith::SelectOp::create(b, loc, causal, subf(b, loc, args[0], args[1]), zero);
  Value weighted = mul(b, loc, args[2], expOf(b, loc, exponent));
  return arith::SelectOp::create(b, loc, causal, weighted, zero);
}

/// The chunk builders' indexing maps and tensors, built at one location.
struct ChunkTensors {
  OpBuilder &b;
  Location loc;
  AffineMap map(unsigned loops, ArrayRef<AffineExpr> results) const {
    return AffineMap::get(loops, 0, results, b.getContext());
  }
  Value zeros(ArrayRef<OpFoldResult> sizes) const {
    return filledTensor(b, loc, sizes, b.getF32Type(), 0.0);
  }
  Value empty(ArrayRef<OpFoldResult> sizes, Type type) const {
    return tensor::EmptyOp::create(b, loc, sizes, type);
  }
};

/// `seq[:, start : start + size]` for a `B x L x ...` tensor.
Value sliceChunk(OpBuilder &b, Location loc, Value seq, Value start, OpFoldResult size) {
  int64_t rank = cast<RankedTensorType>(seq.getType()).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, seq);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  offsets[1] = start;
  sizes[1] = size;
  return tensor::ExtractSliceOp::create(b, loc, seq, offsets, sizes, strides);
}

/// One chunk's slices of the op's operands (`dt` and `skip` may be null;
/// `skip` and `lengths` are not sliced) and the chunk's first time index.
struct ChunkOperands {
  Value x, logA, bMat, cMat, dt, skip, lengths, start;
};

/// The chunk of spec §1.6 for the whole batch: from the state entering the
/// chunk (`B x H x P x N`, float32) returns the state leaving it and the
/// chunk's outputs `B x q x H x P` in `resultElement`.
std::pair<Value, Value> buildChunk(OpBuilder &b, Location loc, const ChunkOperands &in,
                                   Value state, OpFoldResult batch, OpFoldResult q,
                                   Type resultElement) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto stateType = cast<RankedTensorType>(state.getType());
  int64_t heads = stateType.getDimSize(1);
  OpFoldResult hSize = b.getIndexAttr(heads), pSize = b.getIndexAttr(stateType.getDimSize(2));
  auto groupSize = [&](Value v) { return heads / cast<RankedTensorType>(v.getType()).getDimSize(2); };
  int64_t rx = groupSize(in.x), rb = groupSize(in.bMat), rc = groupSize(in.cMat);
  auto dims = [&](unsigned n) {
    SmallVector<AffineExpr> exprs;
    for (unsigned i = 0; i < n; ++i)
      exprs.push_back(getAffineDimExpr(i, ctx));
    return exprs;
  };
  ChunkTensors t{b, loc};
  // Time start + l (l = loop 1 of the enclosing generic) is a real token of
  // sequence b iff it is below lengths[b].
  auto isReal = [&](OpBuilder &nb, Location l, Value length) -> Value {
    Value time = arith::AddIOp::create(nb, l, in.start, linalg::IndexOp::create(nb, l, 1));
    Value len = arith::IndexCastOp::create(nb, l, nb.getIndexType(), length);
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, time, len);
  };

  // Step 0: padding positions get log_a = 0 and no input (see file comment).
  SmallVector<AffineExpr> d3 = dims(3), d4 = dims(4), d5 = dims(5);
  SmallVector<OpFoldResult> seqH = {batch, q, hSize}, seqHP = {batch, q, hSize, pSize};
  // Stored head-major (B x H x q): the cumulative sum below then reads it
  // along its innermost dimension (one warp per sum on a GPU, contiguous).
  Value logA = buildGenericInto(
      b, loc, ValueRange{in.logA, in.lengths}, t.empty({batch, hSize, q}, f32),
      {t.map(3, d3), t.map(3, {d3[0]}), t.map(3, {d3[0], d3[2], d3[1]})}, {},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value zero = floatConstant(nb, l, f32, 0.0);
        return arith::SelectOp::create(nb, l, isReal(nb, l, args[1]),
                                       castFloat(nb, l, args[0], f32), zero);
      });
  // u[b,l,h,p] = dt[b,l,h] x[b,l,h/rx,p] (spec §1.5's x~), zero at padding.
  SmallVector<Value> uInputs = {in.x, in.lengths};
  SmallVector<AffineMap> uMaps = {t.map(4, {d4[0], d4[1], d4[2].floorDiv(rx), d4[3]}),
                                  t.map(4, {d4[0]})};
  if (in.dt) {
    uInputs.push_back(in.dt);
    uMaps.push_back(t.map(4, {d4[0], d4[1], d4[2]}));
  }
  uMaps.push_back(t.map(4, d4));
  Value u = buildGenericInto(b, loc, uInputs, t.empty(seqHP, f32), uMaps, {},
                        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                          return maskedInput(nb, l, args, in.dt != nullptr,
                                             isReal(nb, l, args[1]));
                        });

  // Step 0: Acum[b,l,h] = sum_{k<=l} log_a[b,k,h] over loops (b, l, h, k),
  // as a plain sum of masked terms (0 for k > l).
  Value acum = buildGenericInto(b, loc, ValueRange{logA}, t.zeros(seqH),
                           {t.map(4, {d4[0], d4[2], d4[3]}), t.map(4, {d4[0], d4[1], d4[2]})}, {3},
                           [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                             Value term = arith::SelectOp::create(
                                 nb, l, notAfter(nb, l, 3, 1), args[0],
                                 floatConstant(nb, l, f32, 0.0));
                             return add(nb, l, args[1], term);
                           });
  // T = Acum[q-1], the whole chunk's log decay (the same sum, in the same
  // order): a slice, not another reduction.
  Value last = arith::SubIOp::create(b, loc, getValueOrCreateConstantIndexOp(b, loc, q),
                                     arith::ConstantIndexOp::create(b, loc, 1));
  SmallVector<OpFoldResult> totalOffsets = {b.getIndexAttr(0), last, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> totalSizes = {batch, b.getIndexAttr(1), hSize};
  SmallVector<OpFoldResult> unitStrides(3, b.getIndexAttr(1));
  auto acumType = cast<RankedTensorType>(acum.getType());
  auto totalType = RankedTensorType::get({acumType.getDimSize(0), heads}, f32);
  Value total = tensor::ExtractSliceOp::create(b, loc, totalType, acum, totalOffsets, totalSizes,
                                               unitStrides);

  // Step 1: CB[b,h,l,s] = C[b,l,h/rc] . B[b,s,h/rb] over loops (b, l, s, h, n),
  // float32 like the production kernel's C B^T. Stored head-major: each
  // head's q x q block is contiguous (a tiled GPU kernel writes its rows
  // whole, and Y_diag reads them along s).
  Value cb = buildGenericInto(
      b, loc, ValueRange{in.cMat, in.bMat}, t.zeros({batch, hSize, q, q}),
      {t.map(5, {d5[0], d5[1], d5[3].floorDiv(rc), d5[4]}),
       t.map(5, {d5[0], d5[2], d5[3].floorDiv(rb), d5[4]}), t.map(5, {d5[0], d5[3], d5[1], d5[2]})},
      {4}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return add(nb, l, args[2],
                   mul(nb, l, castFloat(nb, l, args[0], f32), castFloat(nb, l, args[1], f32)));
      });
  // Step 1: times the decay matrix exp(segsum(log_a)), lower triangle only;
  // the s > l entries are selected to 0 before any exp could overflow.
  // Loops (b, h, l, s).
  Value weights = buildGenericInto(
      b, loc, ValueRange{acum, acum}, cb,
      {t.map(4, {d4[0], d4[2], d4[1]}), t.map(4, {d4[0], d4[3], d4[1]}), t.map(4, d4)}, {},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return maskedDecay(nb, l, args, /*sLoop=*/3, /*lLoop=*/2);
      });
  // Step 1: Y_diag[b,l,h,p] = sum_s weights[b,h,l,s] u[b,s,h,p] over loops
  // (b, l, h, s, p): p innermost, contiguous in u and Y_diag, so the inner
  // loop is a vectorizable axpy rather than a strided dot product.
  Value yDiag = buildGenericInto(
      b, loc, ValueRange{weights, u}, t.zeros(seqHP),
      {t.map(5, {d5[0], d5[2], d5[1], d5[3]}), t.map(5, {d5[0], d5[3], d5[2], d5[4]}),
       t.map(5, {d5[0], d5[1], d5[2], d5[4]})},
      {3}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return add(nb, l, args[2], mul(nb, l, args[0], args[1]));
      });

  // Step 4: S_enter . C_l over (b, l, h, p, n); scaled by exp(Acum[l]) below.
  Value stateC = buildGenericInto(
      b, loc, ValueRange{in.cMat, state}, t.zeros(seqHP),
      {t.map(5, {d5[0], d5[1], d5[2].floorDiv(rc), d5[4]}), t.map(5, {d5[0], d5[2], d5[3], d5[4]}),
       t.map(5, {d5[0], d5[1], d5[2], d5[3]})},
      {4}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return add(nb, l, args[2], mul(nb, l, castFloat(nb, l, args[0], f32), args[1]));
      });
  // Steps 4-5: y = Y_diag + exp(Acum[l]) (S_enter . C_l) (+ D[h] x[b,l,h/rx,p]).
  SmallVector<Value> yInputs = {yDiag, stateC, acum};
  SmallVector<AffineMap> yMaps = {t.map(4, d4), t.map(4, d4), t.map(4, {d4[0], d4[1], d4[2]})};
  if (in.skip) {
    yInputs.append({in.skip, in.x});
    yMaps.push_back(t.map(4, {d4[2]}));
    yMaps.push_back(t.map(4, {d4[0], d4[1], d4[2].floorDiv(rx), d4[3]}));
  }
  yMaps.push_back(t.map(4, d4));
  Value y = buildGenericInto(b, loc, yInputs, t.empty(seqHP, resultElement), yMaps, {},
                        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                          Value v = add(nb, l, args[0], mul(nb, l, expOf(nb, l, args[2]), args[1]));
                          if (in.skip)
                            v = add(nb, l, v,
                                    mul(nb, l, castFloat(nb, l, args[3], f32),
                                        castFloat(nb, l, args[4], f32)));
                          return castFloat(nb, l, v, resultElement);
                        });

  // Steps 2-3: the state leaving the chunk. decay_states[b,l,h] =
  // exp(Acum[q-1] - Acum[l]), once per token and head rather than once per
  // state element.
  Value toEnd = buildGenericInto(b, loc, ValueRange{total, acum}, t.empty(seqH, f32),
                            {t.map(3, {d3[0], d3[2]}), t.map(3, d3), t.map(3, d3)}, {},
                            [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                              return expOf(nb, l, subf(nb, l, args[0], args[1]));
                            });
  // Then the entering state decayed over the whole chunk (exp(Acum[q-1])
  // S_enter), written over S_enter: it is S_enter's last use, so the carried
  // state stays in one buffer. Right before the sum that adds onto it, so
  // that a GPU kernel of the sum can apply the decay as it reads the state.
  Value decayed = buildGenericInto(b, loc, ValueRange{total}, state,
                              {t.map(4, {d4[0], d4[1]}), t.map(4, d4)}, {},
                              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                return mul(nb, l, expOf(nb, l, args[0]), args[1]);
                              });
  // S_exit[b,h,p,n] += sum_l toEnd[b,l,h] u[b,l,h,p] B[b,l,h/rb,n] over loops
  // (b, h, l, p, n): n innermost, contiguous in B and the state (an axpy).
  Value newState = buildGenericInto(
      b, loc, ValueRange{toEnd, u, in.bMat}, decayed,
      {t.map(5, {d5[0], d5[2], d5[1]}), t.map(5, {d5[0], d5[2], d5[1], d5[3]}),
       t.map(5, {d5[0], d5[2], d5[1].floorDiv(rb), d5[4]}), t.map(5, {d5[0], d5[1], d5[3], d5[4]})},
      {2}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value term = mul(nb, l, mul(nb, l, args[0], args[1]), castFloat(nb, l, args[2], f32));
        return add(nb, l, args[3], term);
      });
  return {newState, y};
}

/// The whole-chunk part of the sequence with all chunks at once (spec §1.6
/// as written: steps 0-2 and 4 batched over a chunk loop c, step 3 as one
/// sequential pass over c per state element). `in`'s sequences are the first
/// `chunks * q` tokens, reshaped to `B x chunks x q x ...`; returns the state
/// after them and their outputs `B x chunks x q x H x P`.
///
/// Unlike buildChunk's loop, every op sees all chunks, so a GPU gets
/// chunks x heads x tiles blocks per kernel instead of heads x tiles (and
/// ~9 launches per layer instead of ~8 per chunk). The price is memory: the
/// per-chunk states and entering states (B x chunks x H x P x N float32
/// each) and the chunk-local C B^T and sums exist for all chunks at once.
std::pair<Value, Value> buildAllChunks(OpBuilder &b, Location loc, const ChunkOperands &in,
                                       Value state, OpFoldResult batch, OpFoldResult chunks,
                                       int64_t q, Type resultElement) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto stateType = cast<RankedTensorType>(state.getType());
  int64_t heads = stateType.getDimSize(1);
  OpFoldResult hSize = b.getIndexAttr(heads), pSize = b.getIndexAttr(stateType.getDimSize(2)),
               nSize = b.getIndexAttr(stateType.getDimSize(3)), qSize = b.getIndexAttr(q);
  // Operands are B x c x q x (groups) x ...: dim 3 is the head or group.
  auto groupSize = [&](Value v) { return heads / cast<RankedTensorType>(v.getType()).getDimSize(3); };
  int64_t rx = groupSize(in.x), rb = groupSize(in.bMat), rc = groupSize(in.cMat);
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  ChunkTensors t{b, loc};
  // Token (chunk c = loop 1, position l = loop 2) of sequence b is real iff
  // c * q + l < lengths[b] (the chunks start at token 0).
  auto isReal = [&](OpBuilder &nb, Location l, Value length) -> Value {
    Value time = arith::AddIOp::create(
        nb, l,
        arith::MulIOp::create(nb, l, linalg::IndexOp::create(nb, l, 1),
                              arith::ConstantIndexOp::create(nb, l, q)),
        linalg::IndexOp::create(nb, l, 2));
    Value len = arith::IndexCastOp::create(nb, l, nb.getIndexType(), length);
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, time, len);
  };
  SmallVector<OpFoldResult> seqH = {batch, chunks, qSize, hSize},
                            seqHP = {batch, chunks, qSize, hSize, pSize},
                            statesHPN = {batch, chunks, hSize, pSize, nSize};

  // Step 0, loops (b, c, l, h): log_a, zero at padding, stored B x c x H x q.
  Value logA = buildGenericInto(
      b, loc, ValueRange{in.logA, in.lengths}, t.empty({batch, chunks, hSize, qSize}, f32),
      {t.map(4, {d(0), d(1), d(2), d(3)}), t.map(4, {d(0)}), t.map(4, {d(0), d(1), d(3), d(2)})}, {},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value zero = floatConstant(nb, l, f32, 0.0);
        return arith::SelectOp::create(nb, l, isReal(nb, l, args[1]),
                                       castFloat(nb, l, args[0], f32), zero);
      });
  // u = dt x, zero at padding; loops (b, c, l, h, p).
  SmallVector<Value> uInputs = {in.x, in.lengths};
  SmallVector<AffineMap> uMaps = {t.map(5, {d(0), d(1), d(2), d(3).floorDiv(rx), d(4)}),
                                  t.map(5, {d(0)})};
  if (in.dt) {
    uInputs.push_back(in.dt);
    uMaps.push_back(t.map(5, {d(0), d(1), d(2), d(3)}));
  }
  uMaps.push_back(t.map(5, {d(0), d(1), d(2), d(3), d(4)}));
  Value u = buildGenericInto(b, loc, uInputs, t.empty(seqHP, f32), uMaps, {},
                             [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                               return maskedInput(nb, l, args, in.dt != nullptr,
                                                  isReal(nb, l, args[1]));
                             });
  // Acum[b,c,l,h] = sum_{k<=l} log_a, loops (b, c, l, h, k).
  Value acum = buildGenericInto(
      b, loc, ValueRange{logA}, t.zeros(seqH),
      {t.map(5, {d(0), d(1), d(3), d(4)}), t.map(5, {d(0), d(1), d(2), d(3)})}, {4},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value term = arith::SelectOp::create(nb, l, notAfter(nb, l, 4, 2), args[0],
                                             floatConstant(nb, l, f32, 0.0));
        return add(nb, l, args[1], term);
      });
  // T[b,c,h] = Acum[b,c,q-1,h].
  auto acumType = cast<RankedTensorType>(acum.getType());
  auto totalType =
      RankedTensorType::get({acumType.getDimSize(0), acumType.getDimSize(1), heads}, f32);
  Value total = tensor::ExtractSliceOp::create(
      b, loc, totalType, acum,
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0), b.getIndexAttr(q - 1),
                             b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{batch, chunks, b.getIndexAttr(1), hSize},
      SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));

  // Step 1: CB[b,c,h,l,s] = C_l . B_s, loops (b, c, l, s, h, n).
  Value cb = buildGenericInto(
      b, loc, ValueRange{in.cMat, in.bMat}, t.zeros({batch, chunks, hSize, qSize, qSize}),
      {t.map(6, {d(0), d(1), d(2), d(4).floorDiv(rc), d(5)}),
       t.map(6, {d(0), d(1), d(3), d(4).floorDiv(rb), d(5)}),
       t.map(6, {d(0), d(1), d(4), d(2), d(3)})},
      {5}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return add(nb, l, args[2],
                   mul(nb, l, castFloat(nb, l, args[0], f32), castFloat(nb, l, args[1], f32)));
      });
  // Times the causal decay matrix, loops (b, c, h, l, s); see buildChunk.
  // Half-precision models store these weights, and the entering states of
  // step 3, in the model's type: upstream's chunk-scan kernel rounds both to
  // it before its two matrix products (the weighted C B^T to x's type, the
  // states to C's), and so do the tensor-core products that read them
  // (ssm-gpu-tile-contractions rounds each factor as it stages it). Stored
  // rounded, they cost half the memory traffic for the same results.
  Type staged = resultElement.isBF16() || resultElement.isF16() ? resultElement : f32;
  AffineMap id5 = t.map(5, {d(0), d(1), d(2), d(3), d(4)});
  Value weights = buildGenericInto(
      b, loc, ValueRange{acum, acum, cb}, t.empty({batch, chunks, hSize, qSize, qSize}, staged),
      {t.map(5, {d(0), d(1), d(3), d(2)}), t.map(5, {d(0), d(1), d(4), d(2)}), id5, id5}, {},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return castFloat(nb, l, maskedDecay(nb, l, args, /*sLoop=*/4, /*lLoop=*/3), staged);
      });
  // Y_diag[b,c,l,h,p] = sum_{s <= l} W[b,c,h,l,s] u[b,c,s,h,p], loops
  // (b, c, l, h, s, p). W is 0 above the diagonal already; saying s <= l
  // in the sum too (the same value) lets a kernel skip those terms
  // (ssm-gpu-tile-contractions bounds the sum per tile of l).
  Value yDiag = buildGenericInto(
      b, loc, ValueRange{weights, u}, t.zeros(seqHP),
      {t.map(6, {d(0), d(1), d(3), d(2), d(4)}), t.map(6, {d(0), d(1), d(4), d(3), d(5)}),
       t.map(6, {d(0), d(1), d(2), d(3), d(5)})},
      {4}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value w = arith::SelectOp::create(nb, l, notAfter(nb, l, 4, 2),
                                          castFloat(nb, l, args[0], f32),
                                          floatConstant(nb, l, f32, 0.0));
        return add(nb, l, args[2], mul(nb, l, w, args[1]));
      });

  // Step 2: each chunk's own state from zero, S_c[b,c,h,p,n] =
  // sum_l exp(T - Acum[l]) u_l B_l, loops (b, c, h, l, p, n).
  Value toEnd = buildGenericInto(
      b, loc, ValueRange{total, acum}, t.empty(seqH, f32),
      {t.map(4, {d(0), d(1), d(3)}), t.map(4, {d(0), d(1), d(2), d(3)}),
       t.map(4, {d(0), d(1), d(2), d(3)})},
      {}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return expOf(nb, l, subf(nb, l, args[0], args[1]));
      });
  Value chunkStates = buildGenericInto(
      b, loc, ValueRange{toEnd, u, in.bMat}, t.zeros(statesHPN),
      {t.map(6, {d(0), d(1), d(3), d(2)}), t.map(6, {d(0), d(1), d(3), d(2), d(4)}),
       t.map(6, {d(0), d(1), d(3), d(2).floorDiv(rb), d(5)}),
       t.map(6, {d(0), d(1), d(2), d(4), d(5)})},
      {3}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value term = mul(nb, l, mul(nb, l, args[0], args[1]), castFloat(nb, l, args[2], f32));
        return add(nb, l, args[3], term);
      });

  // Step 3: the inter-chunk recurrence, loops (b, h, p, n, c) with c
  // sequential (a reduction loop: one thread per state element walks the
  // chunks in order): S_enter[c] = S; S = exp(T[c]) S + S_c. The state is
  // the accumulator; the entering states are a second output that records
  // it before each chunk. Same order of operations as buildChunk's loop.
  ValueRange passed = buildGeneric(
      b, loc, ValueRange{chunkStates, total},
      ValueRange{state, t.empty(statesHPN, staged)},
      {t.map(5, {d(0), d(4), d(1), d(2), d(3)}), t.map(5, {d(0), d(4), d(1)}),
       t.map(5, {d(0), d(1), d(2), d(3)}), t.map(5, {d(0), d(4), d(1), d(2), d(3)})},
      {4}, [&](OpBuilder &nb, Location l, ValueRange args) -> SmallVector<Value> {
        Value decayed = mul(nb, l, expOf(nb, l, args[1]), args[2]);
        return {add(nb, l, decayed, args[0]), castFloat(nb, l, args[2], staged)};
      });
  Value finalState = passed[0], entering = passed[1];

  // Step 4: S_enter . C_l, loops (b, c, l, h, p, n); then
  // y = Y_diag + exp(Acum[l]) (S_enter . C_l) (+ D x), loops (b, c, l, h, p).
  Value stateC = buildGenericInto(
      b, loc, ValueRange{in.cMat, entering}, t.zeros(seqHP),
      {t.map(6, {d(0), d(1), d(2), d(3).floorDiv(rc), d(5)}),
       t.map(6, {d(0), d(1), d(3), d(4), d(5)}), t.map(6, {d(0), d(1), d(2), d(3), d(4)})},
      {5}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return add(nb, l, args[2],
                   mul(nb, l, castFloat(nb, l, args[0], f32), castFloat(nb, l, args[1], f32)));
      });
  SmallVector<Value> yInputs = {yDiag, stateC, acum};
  SmallVector<AffineMap> yMaps = {id5, id5, t.map(5, {d(0), d(1), d(2), d(3)})};
  if (in.skip) {
    yInputs.append({in.skip, in.x});
    yMaps.push_back(t.map(5, {d(3)}));
    yMaps.push_back(t.map(5, {d(0), d(1), d(2), d(3).floorDiv(rx), d(4)}));
  }
  yMaps.push_back(id5);
  Value y = buildGenericInto(b, loc, yInputs, t.empty(seqHP, resultElement), yMaps, {},
                             [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                               Value v = add(nb, l, args[0],
                                             mul(nb, l, expOf(nb, l, args[2]), args[1]));
                               if (in.skip)
                                 v = add(nb, l, v,
                                         mul(nb, l, castFloat(nb, l, args[3], f32),
                                             castFloat(nb, l, args[4], f32)));
                               return castFloat(nb, l, v, resultElement);
                             });
  return {finalState, y};
}

/// `seq[:, :chunks * q]` (`B x L x ...`) as `B x chunks x q x ...`.
Value chunked(OpBuilder &b, Location loc, Value seq, OpFoldResult chunks, Value end, int64_t q) {
  Value head = sliceChunk(b, loc, seq, arith::ConstantIndexOp::create(b, loc, 0), end);
  auto type = cast<RankedTensorType>(head.getType());
  SmallVector<int64_t> shape = {type.getDimSize(0), ShapedType::kDynamic, q};
  if (std::optional<int64_t> c = getConstantIntValue(chunks)) {
    shape[1] = *c;
    // A static chunk count expands a static length: the slice's length is
    // a value, so say what it is.
    if (type.isDynamicDim(1)) {
      SmallVector<int64_t> staticShape(type.getShape());
      staticShape[1] = *c * q;
      type = RankedTensorType::get(staticShape, type.getElementType());
      head = tensor::CastOp::create(b, loc, type, head);
    }
  }
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, head);
  SmallVector<OpFoldResult> outSizes = {sizes[0], chunks, b.getIndexAttr(q)};
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2}};
  for (int64_t dim = 2; dim < type.getRank(); ++dim) {
    outSizes.push_back(sizes[dim]);
    shape.push_back(type.getDimSize(dim));
    groups.push_back({dim + 1});
  }
  return tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get(shape, type.getElementType()),
                                       head, groups, outSizes);
}

struct ChunkedScanLowering : OpConversionPattern<ChunkedScanOp> {
  ChunkedScanLowering(const TypeConverter &converter, MLIRContext *ctx, bool allChunksAtOnce)
      : OpConversionPattern(converter, ctx), allChunksAtOnce(allChunksAtOnce) {}
  /// Whole chunks by buildAllChunks instead of the loop over chunks.
  bool allChunksAtOnce;

  LogicalResult matchAndRewrite(ChunkedScanOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type resultElement = resultType.getElementType();
    Value x = adaptor.getX();
    Value state = refineBatch(rewriter, loc, adaptor.getState(), x);
    auto stateTensorType = cast<RankedTensorType>(state.getType());

    SmallVector<OpFoldResult> xSizes = tensor::getMixedSizes(rewriter, loc, x);
    OpFoldResult batch = xSizes[0], length = xSizes[1];
    // A chunk longer than a static sequence is the sequence (as the folder
    // does); when the chunks tile a static sequence exactly there is no
    // partial chunk to peel.
    int64_t chunk = op.getChunk();
    std::optional<int64_t> staticLength = getConstantIntValue(length);
    if (staticLength && *staticLength > 0)
      chunk = std::min(chunk, *staticLength);
    bool exactChunks = staticLength && *staticLength % chunk == 0;

    OpFoldResult hSize = rewriter.getIndexAttr(stateTensorType.getDimSize(1));
    OpFoldResult pSize = rewriter.getIndexAttr(stateTensorType.getDimSize(2));
    Value yInit =
        tensor::EmptyOp::create(rewriter, loc, ArrayRef<OpFoldResult>{batch, length, hSize, pSize},
                                resultElement);
    Value lower = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value step = arith::ConstantIndexOp::create(rewriter, loc, chunk);
    Value upper = getValueOrCreateConstantIndexOp(rewriter, loc, length);
    Value dt = adaptor.getDt();

    // One chunk of `size` tokens at `start`: the state leaving it and y with
    // the chunk's rows written.
    auto chunkAt = [&](OpBuilder &b, Location l, Value start, OpFoldResult size, Value carriedState,
                       Value carriedY) -> std::pair<Value, Value> {
      ChunkOperands in;
      in.x = sliceChunk(b, l, x, start, size);
      in.logA = sliceChunk(b, l, adaptor.getLogA(), start, size);
      in.bMat = sliceChunk(b, l, adaptor.getB(), start, size);
      in.cMat = sliceChunk(b, l, adaptor.getC(), start, size);
      in.dt = dt ? sliceChunk(b, l, dt, start, size) : Value();
      in.skip = adaptor.getD();
      in.lengths = adaptor.getLengths();
      in.start = start;
      auto [newState, yChunk] = buildChunk(b, l, in, carriedState, batch, size, resultElement);
      OpFoldResult zero = b.getIndexAttr(0);
      Value y = tensor::InsertSliceOp::create(
          b, l, yChunk, carriedY, ArrayRef<OpFoldResult>{zero, start, zero, zero},
          ArrayRef<OpFoldResult>{batch, size, hSize, pSize},
          SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
      return {newState, y};
    };
    // The loop over chunks is the inter-chunk recurrence of §1.6 step 3.
    // Its chunks all have the static length `chunk` (static shapes: cheap
    // index arithmetic, static loop bounds in every kernel); a last, shorter
    // chunk of a dynamic or unevenly chunked sequence is peeled off after it.
    // All whole chunks at once (buildAllChunks), when there is any.
    auto buildAll = [&](OpBuilder &builder, Location loopLoc, Value fullEnd) -> scf::IfOp {
      Value chunks = arith::DivUIOp::create(builder, loopLoc, fullEnd, step);
      OpFoldResult chunkCount = chunks;
      if (staticLength)
        chunkCount = builder.getIndexAttr(*staticLength / chunk);
      Value any = arith::CmpIOp::create(builder, loopLoc, arith::CmpIPredicate::ugt, chunks, lower);
      return scf::IfOp::create(
          builder, loopLoc, any,
          [&](OpBuilder &b, Location l) {
            ChunkOperands in;
            in.x = chunked(b, l, x, chunkCount, fullEnd, chunk);
            in.logA = chunked(b, l, adaptor.getLogA(), chunkCount, fullEnd, chunk);
            in.bMat = chunked(b, l, adaptor.getB(), chunkCount, fullEnd, chunk);
            in.cMat = chunked(b, l, adaptor.getC(), chunkCount, fullEnd, chunk);
            in.dt = dt ? chunked(b, l, dt, chunkCount, fullEnd, chunk) : Value();
            in.skip = adaptor.getD();
            in.lengths = adaptor.getLengths();
            auto [newState, yChunks] =
                buildAllChunks(b, l, in, state, batch, chunkCount, chunk, resultElement);
            Value yRows = tensor::CollapseShapeOp::create(
                b, l, yChunks, SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
            OpFoldResult zero = b.getIndexAttr(0);
            // The rows' length as yRows has it (static with a static count).
            OpFoldResult rows = fullEnd;
            if (std::optional<int64_t> c = getConstantIntValue(chunkCount))
              rows = b.getIndexAttr(*c * chunk);
            Value y = tensor::InsertSliceOp::create(
                b, l, yRows, yInit, ArrayRef<OpFoldResult>{zero, zero, zero, zero},
                ArrayRef<OpFoldResult>{batch, rows, hSize, pSize},
                SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
            scf::YieldOp::create(b, l, ValueRange{castToType(b, l, newState, state.getType()), y});
          },
          [&](OpBuilder &b, Location l) { scf::YieldOp::create(b, l, ValueRange{state, yInit}); });
    };
    auto buildLoop = [&](OpBuilder &builder, Location loopLoc) -> std::pair<Value, Value> {
      Value fullEnd = upper;
      if (!exactChunks)
        fullEnd = arith::MulIOp::create(builder, loopLoc,
                                        arith::DivUIOp::create(builder, loopLoc, upper, step), step);
      Operation *loop;
      if (allChunksAtOnce) {
        loop = buildAll(builder, loopLoc, fullEnd);
      } else {
        loop = scf::ForOp::create(
            builder, loopLoc, lower, fullEnd, step, ValueRange{state, yInit},
            [&](OpBuilder &b, Location l, Value start, ValueRange carried) {
              auto [newState, y] =
                  chunkAt(b, l, start, b.getIndexAttr(chunk), carried[0], carried[1]);
              scf::YieldOp::create(b, l, ValueRange{newState, y});
            });
      }
      if (exactChunks)
        return {loop->getResult(0), loop->getResult(1)};
      Value partial =
          arith::CmpIOp::create(builder, loopLoc, arith::CmpIPredicate::ult, fullEnd, upper);
      auto ifPartial = scf::IfOp::create(
          builder, loopLoc, partial,
          [&](OpBuilder &b, Location l) {
            Value rest = arith::SubIOp::create(b, l, upper, fullEnd);
            auto [newState, y] =
                chunkAt(b, l, fullEnd, rest, loop->getResult(0), loop->getResult(1));
            scf::YieldOp::create(b, l, ValueRange{newState, y});
          },
          [&](OpBuilder &b, Location l) { scf::YieldOp::create(b, l, loop->getResults()); });
      return {ifPartial.getResult(0), ifPartial.getResult(1)};
    };
    // A single token (decode) takes the recurrence itself (spec §1.5; three
    // ops instead of a chunk's dozen, whose segsum, C B^T and decay matrices
    // are all 1 x 1 here). y goes into yInit's first token, so that both
    // branches of the dispatch below yield the buffers they were given (no
    // new ones).
    auto buildSingle = [&](OpBuilder &b, Location l) -> std::pair<Value, Value> {
      Value first = arith::ConstantIndexOp::create(b, l, 0);
      ScanStepOperands in;
      in.x = sliceAtTime(b, l, x, first);
      in.logA = sliceAtTime(b, l, adaptor.getLogA(), first);
      in.bMat = sliceAtTime(b, l, adaptor.getB(), first);
      in.cMat = sliceAtTime(b, l, adaptor.getC(), first);
      in.dt = dt ? sliceAtTime(b, l, dt, first) : Value();
      in.skip = adaptor.getD();
      auto [newState, y] = buildScanStep(b, l, in, state, ScanStepMask{adaptor.getLengths(), first},
                                         resultElement);
      OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
      return {newState, tensor::InsertSliceOp::create(
                            b, l, y, yInit, SmallVector<OpFoldResult>(4, zero),
                            ArrayRef<OpFoldResult>{batch, one, hSize, pSize},
                            SmallVector<OpFoldResult>(4, one))
                            .getResult()};
    };
    auto [stateOut, yOut] = dispatchOnSingleToken(rewriter, loc, length, buildSingle, buildLoop);

    Type stateType = getTypeConverter()->convertType(op.getStateOut().getType());
    rewriter.replaceOp(op, {castToType(rewriter, loc, yOut, resultType),
                            castToType(rewriter, loc, stateOut, stateType)});
    return success();
  }
};

} // namespace

void ssmc::populateChunkedScanLoweringPatterns(const TypeConverter &converter,
                                               RewritePatternSet &patterns,
                                               bool allChunksAtOnce) {
  patterns.add<ChunkedScanLowering>(converter, patterns.getContext(), allChunksAtOnce);
}
