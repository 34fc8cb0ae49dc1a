//===- StatefulLowerings.cpp - Conv and scan blocks to linalg -------------===//
//
// Lowers the building blocks that carry recurrent state. A state value of the
// whole batch becomes a `B x ...` tensor (B dynamic: the batch is a session
// property, not a compile-time one). All arithmetic is float32; only the
// outputs are rounded to their result types.
//
// - causal_conv1d: the W state entries and the L inputs are concatenated
//   into one `B x (W + L) x C` history (index j is time j - W), so that the
//   convolution is a plain windowed reduction and the new state a gather at
//   `lengths[b]`.
// - causal_conv1d_step: shift the state left, append the input, reduce.
// - selective_scan: an scf.for over time carrying the float32 state; each
//   step is the state_update computation plus a select that freezes the
//   state of sequences whose tokens have run out. (chunked_scan: see
//   ChunkedScanLowering.cpp.)
//
//===----------------------------------------------------------------------===//

#include "passes/StatefulLowerings.h"

#include "dialects/ssm/SSMOps.h"
#include "dialects/ssm/SSMTypes.h"
#include "passes/ChunkedScanLowering.h"
#include "passes/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace ssmc;
using namespace ssmc::ssm;

SSMStateTypeConverter::SSMStateTypeConverter() {
  // Registered first so that it is tried last: every non-state type is legal.
  addConversion([](Type type) { return type; });
  addConversion([](ConvStateType type) -> Type { return type.getBatchTensorType(-1); });
  addConversion([](SSMStateType type) -> Type { return type.getBatchTensorType(-1); });
  addConversion([](KVCacheType type) -> Type { return type.getBatchTensorType(-1); });
  // Ops that still take state types (ssm.attention until it is lowered, or
  // casts written by a caller) keep seeing them through a cast in each
  // direction; a later reconcile-unrealized-casts folds back-to-back pairs.
  auto castMaterialization = [](OpBuilder &b, Type type, ValueRange inputs,
                                Location loc) -> Value {
    return UnrealizedConversionCastOp::create(b, loc, type, inputs).getResult(0);
  };
  addSourceMaterialization(castMaterialization);
  addTargetMaterialization(castMaterialization);
}

namespace {

/// An index-typed size plus a constant, folded when the size is static.
OpFoldResult addToSize(OpBuilder &b, Location loc, OpFoldResult size, int64_t delta) {
  if (std::optional<int64_t> value = getConstantIntValue(size))
    return b.getIndexAttr(*value + delta);
  Value constant = arith::ConstantIndexOp::create(b, loc, delta);
  return arith::AddIOp::create(b, loc, cast<Value>(size), constant).getResult();
}

/// `v` with its elements converted to `elementType` (no-op when they are).
Value convertElements(OpBuilder &b, Location loc, Value v, Type elementType) {
  if (cast<RankedTensorType>(v.getType()).getElementType() == elementType)
    return v;
  return buildElementwise(b, loc, ValueRange{v}, elementType,
                          [&](OpBuilder &nb, Location l, ValueRange args) {
                            return castFloat(nb, l, args[0], elementType);
                          });
}

/// `act(acc + bias)` rounded to `init`'s element type and written into
/// `init`, with `bias : C` broadcast along the leading dimensions of
/// `acc : ... x C`.
Value buildConvEpilogue(OpBuilder &b, Location loc, Value acc, Value bias, Activation activation,
                        Value init) {
  Type f32 = b.getF32Type();
  Type elementType = cast<RankedTensorType>(init.getType()).getElementType();
  int64_t rank = cast<RankedTensorType>(acc.getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap channel = AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, b.getContext()));
  return buildGenericInto(b, loc, ValueRange{acc, bias}, init, {identity, channel, identity}, {},
                          [&](OpBuilder &nb, Location l, ValueRange args) {
                            Value v = arith::AddFOp::create(nb, l, args[0],
                                                            castFloat(nb, l, args[1], f32));
                            if (activation == Activation::silu)
                              v = buildSilu(nb, l, v);
                            return castFloat(nb, l, v, elementType);
                          });
}

/// `sum_k weight[c, 0, k] * window(k)`, accumulated in float32 over the
/// iteration space (dims..., c, k) whose last dim is the reduction; `windowMap`
/// reads the window, `outSizes` are the sizes of the (dims..., c) result.
Value buildConvReduction(OpBuilder &b, Location loc, Value window, AffineMap windowMap,
                         Value weight, ArrayRef<OpFoldResult> outSizes) {
  MLIRContext *ctx = b.getContext();
  unsigned loops = windowMap.getNumDims();
  AffineExpr c = getAffineDimExpr(loops - 2, ctx), k = getAffineDimExpr(loops - 1, ctx);
  AffineMap weightMap = AffineMap::get(loops, 0, {c, getAffineConstantExpr(0, ctx), k}, ctx);
  AffineMap outMap = b.getMultiDimIdentityMap(loops).dropResult(loops - 1);
  Type f32 = b.getF32Type();
  Value acc = filledTensor(b, loc, outSizes, f32, 0.0);
  return buildGenericInto(b, loc, ValueRange{window, weight}, acc, {windowMap, weightMap, outMap},
                          {loops - 1}, [&](OpBuilder &nb, Location l, ValueRange args) {
                            Value prod = arith::MulFOp::create(nb, l, castFloat(nb, l, args[0], f32),
                                                               castFloat(nb, l, args[1], f32));
                            return arith::AddFOp::create(nb, l, args[2], prod).getResult();
                          });
}

struct CausalConv1dLowering : OpConversionPattern<CausalConv1dOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(CausalConv1dOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    Value input = adaptor.getInput();
    Value state = refineBatch(rewriter, loc, adaptor.getState(), input);
    Type stateElement = cast<RankedTensorType>(state.getType()).getElementType();
    int64_t width = cast<RankedTensorType>(op.getWeight().getType()).getDimSize(2);
    SmallVector<OpFoldResult> inSizes = tensor::getMixedSizes(rewriter, loc, input);
    OpFoldResult batch = inSizes[0], length = inSizes[1], channels = inSizes[2];
    OpFoldResult widthSize = rewriter.getIndexAttr(width);
    SmallVector<OpFoldResult> unitStrides(3, rewriter.getIndexAttr(1));
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx), d3 = getAffineDimExpr(3, ctx);
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    // Both ways below write the output into this buffer and the new state
    // over the old one, so that the dispatch between them yields the buffers
    // it was given (no allocation escapes a branch).
    Value outInit = tensor::EmptyOp::create(rewriter, loc, inSizes, resultType.getElementType());

    // A whole sequence: history[b, j, c] = input at time j - W, the state
    // (stored C x W) first, transposed to time-major, then the sequence.
    auto buildSequence = [&](OpBuilder &b, Location l) -> std::pair<Value, Value> {
      OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
      Value history = tensor::EmptyOp::create(
          b, l, ArrayRef<OpFoldResult>{batch, addToSize(b, l, length, width), channels}, f32);
      Value stateTimeMajor =
          tensor::EmptyOp::create(b, l, ArrayRef<OpFoldResult>{batch, widthSize, channels}, f32);
      AffineMap transposed = AffineMap::get(3, 0, {d0, d2, d1}, ctx);
      stateTimeMajor = buildGenericInto(b, l, ValueRange{state}, stateTimeMajor,
                                        {transposed, b.getMultiDimIdentityMap(3)}, {},
                                        [&](OpBuilder &nb, Location nl, ValueRange args) {
                                          return castFloat(nb, nl, args[0], f32);
                                        });
      history = tensor::InsertSliceOp::create(b, l, stateTimeMajor, history,
                                              ArrayRef<OpFoldResult>{zero, zero, zero},
                                              ArrayRef<OpFoldResult>{batch, widthSize, channels},
                                              unitStrides);
      history = tensor::InsertSliceOp::create(b, l, convertElements(b, l, input, f32), history,
                                              ArrayRef<OpFoldResult>{zero, widthSize, zero},
                                              inSizes, unitStrides);

      // Output t reads times t - (W-1) .. t, i.e. history[t + 1 + k]: drop
      // the oldest state entry (it only matters for the new state) and
      // convolve.
      Value window = tensor::ExtractSliceOp::create(
          b, l, history, ArrayRef<OpFoldResult>{zero, one, zero},
          ArrayRef<OpFoldResult>{batch, addToSize(b, l, length, width - 1), channels},
          unitStrides);
      AffineMap windowMap = AffineMap::get(4, 0, {d0, d1 + d3, d2}, ctx);
      Value acc = buildConvReduction(b, l, window, windowMap, adaptor.getWeight(), inSizes);
      Value out = buildConvEpilogue(b, l, acc, adaptor.getBias(), op.getActivation(), outInit);

      // state_out[b, c, k] = input at time lengths[b] - W + k =
      // history[lengths[b] + k]. Lengths are clamped to [0, L] so that a bad
      // length cannot read out of bounds. Written over the old state (its
      // last reader was the history above); a sequence without tokens keeps
      // its element as it is (history[k] is that element too, but a body
      // that never read its output would let canonicalization give the op a
      // fresh buffer, and the dispatch's branches then different ones).
      Value lengthValue = getValueOrCreateConstantIndexOp(b, l, length);
      Value stateOut = buildGenericInto(
          b, l, ValueRange{adaptor.getLengths()},
          state, {AffineMap::get(3, 0, {d0}, ctx), b.getMultiDimIdentityMap(3)}, {},
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value len = arith::IndexCastOp::create(nb, nl, nb.getIndexType(), args[0]);
            len = arith::MaxSIOp::create(nb, nl, len, arith::ConstantIndexOp::create(nb, nl, 0));
            len = arith::MinSIOp::create(nb, nl, len, lengthValue);
            Value time = arith::AddIOp::create(nb, nl, len, linalg::IndexOp::create(nb, nl, 2));
            Value v = tensor::ExtractOp::create(nb, nl, history,
                                                ValueRange{linalg::IndexOp::create(nb, nl, 0), time,
                                                           linalg::IndexOp::create(nb, nl, 1)});
            Value noTokens = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, len,
                                                   arith::ConstantIndexOp::create(nb, nl, 0));
            return arith::SelectOp::create(nb, nl, noTokens, args[1],
                                           castFloat(nb, nl, v, stateElement))
                .getResult();
          });
      return {out, stateOut};
    };

    // A single token (decode): the window is the state's newest W-1 entries
    // and the token, so the output is one elementwise op with the W taps
    // unrolled, and the new state the window itself. Three ops instead of
    // the sequence's history, transposes, fill, reduction and epilogue.
    auto buildSingle = [&](OpBuilder &b, Location l) -> std::pair<Value, Value> {
      Value weight = adaptor.getWeight(), token = input;
      Activation activation = op.getActivation();
      Type resultElement = resultType.getElementType();
      auto tapAt = [&](OpBuilder &nb, Location nl, Value batchIdx, Value channel,
                       int64_t k) -> Value {
        if (k == width - 1)
          return castFloat(nb, nl,
                           tensor::ExtractOp::create(
                               nb, nl, token,
                               ValueRange{batchIdx, arith::ConstantIndexOp::create(nb, nl, 0),
                                          channel}),
                           f32);
        return castFloat(nb, nl,
                         tensor::ExtractOp::create(
                             nb, nl, state,
                             ValueRange{batchIdx, channel,
                                        arith::ConstantIndexOp::create(nb, nl, k + 1)}),
                         f32);
      };
      AffineMap channelMap = AffineMap::get(3, 0, {d2}, ctx);
      Value out = buildGenericInto(
          b, l, ValueRange{adaptor.getBias()}, outInit,
          {channelMap, b.getMultiDimIdentityMap(3)}, {},
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value batchIdx = linalg::IndexOp::create(nb, nl, 0);
            Value channel = linalg::IndexOp::create(nb, nl, 2);
            Value zeroIdx = arith::ConstantIndexOp::create(nb, nl, 0);
            Value acc = floatConstant(nb, nl, f32, 0.0);
            for (int64_t k = 0; k < width; ++k) {
              Value w = castFloat(
                  nb, nl,
                  tensor::ExtractOp::create(
                      nb, nl, weight,
                      ValueRange{channel, zeroIdx, arith::ConstantIndexOp::create(nb, nl, k)}),
                  f32);
              acc = arith::AddFOp::create(nb, nl, acc,
                                          arith::MulFOp::create(nb, nl, w,
                                                                tapAt(nb, nl, batchIdx, channel, k)));
            }
            Value v = arith::AddFOp::create(nb, nl, acc, castFloat(nb, nl, args[0], f32));
            if (activation == Activation::silu)
              v = buildSilu(nb, nl, v);
            return castFloat(nb, nl, v, resultElement);
          });
      // The new state: shifted left by one with the token appended, for
      // sequences that have a token (lengths[b] >= 1); computed into a
      // fresh tensor (every element reads its neighbour) and then copied
      // over the old state.
      SmallVector<OpFoldResult> stateSizes = tensor::getMixedSizes(b, l, state);
      Value shifted = buildGenericInto(
          b, l, ValueRange{adaptor.getLengths()},
          tensor::EmptyOp::create(b, l, stateSizes, stateElement),
          {AffineMap::get(3, 0, {d0}, ctx), b.getMultiDimIdentityMap(3)}, {},
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value batchIdx = linalg::IndexOp::create(nb, nl, 0);
            Value channel = linalg::IndexOp::create(nb, nl, 1);
            Value k = linalg::IndexOp::create(nb, nl, 2);
            Value last = arith::ConstantIndexOp::create(nb, nl, width - 1);
            Value next = arith::MinUIOp::create(
                nb, nl, arith::AddIOp::create(nb, nl, k, arith::ConstantIndexOp::create(nb, nl, 1)),
                last);
            Value older = tensor::ExtractOp::create(nb, nl, state, ValueRange{batchIdx, channel, next});
            Value newest = castFloat(
                nb, nl,
                tensor::ExtractOp::create(
                    nb, nl, token,
                    ValueRange{batchIdx, arith::ConstantIndexOp::create(nb, nl, 0), channel}),
                stateElement);
            Value isNewest = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, k, last);
            Value moved = arith::SelectOp::create(nb, nl, isNewest, newest, older);
            Value own = tensor::ExtractOp::create(nb, nl, state, ValueRange{batchIdx, channel, k});
            Value noTokens = arith::ConstantOp::create(nb, nl, nb.getZeroAttr(args[0].getType()));
            Value hasToken =
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sgt, args[0], noTokens);
            return arith::SelectOp::create(nb, nl, hasToken, moved, own).getResult();
          });
      Value stateOut = linalg::CopyOp::create(b, l, shifted, state).getResult(0);
      return {out, stateOut};
    };

    auto [out, stateOut] = dispatchOnSingleToken(rewriter, loc, length, buildSingle, buildSequence);

    Type stateType = getTypeConverter()->convertType(op.getStateOut().getType());
    rewriter.replaceOp(op, {castToType(rewriter, loc, out, resultType),
                            castToType(rewriter, loc, stateOut, stateType)});
    return success();
  }
};

struct CausalConv1dStepLowering : OpConversionPattern<CausalConv1dStepOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(CausalConv1dStepOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    Value state = refineBatch(rewriter, loc, adaptor.getState(), input);
    auto stateTensorType = cast<RankedTensorType>(state.getType());
    int64_t width = stateTensorType.getDimSize(2);
    SmallVector<OpFoldResult> stateSizes = tensor::getMixedSizes(rewriter, loc, state);
    OpFoldResult zero = rewriter.getIndexAttr(0), one = rewriter.getIndexAttr(1);
    SmallVector<OpFoldResult> unitStrides(3, one);

    // Shift left by one and append the input as the newest entry.
    SmallVector<OpFoldResult> keptSizes(stateSizes);
    keptSizes[2] = rewriter.getIndexAttr(width - 1);
    Value kept = tensor::ExtractSliceOp::create(rewriter, loc, state,
                                                ArrayRef<OpFoldResult>{zero, zero, one}, keptSizes,
                                                unitStrides);
    Value stateOut = tensor::EmptyOp::create(rewriter, loc, stateSizes,
                                             stateTensorType.getElementType());
    stateOut = tensor::InsertSliceOp::create(rewriter, loc, kept, stateOut,
                                             ArrayRef<OpFoldResult>{zero, zero, zero}, keptSizes,
                                             unitStrides);
    SmallVector<OpFoldResult> newestSizes(stateSizes);
    newestSizes[2] = one;
    stateOut = tensor::InsertSliceOp::create(
        rewriter, loc, convertElements(rewriter, loc, input, stateTensorType.getElementType()),
        stateOut, ArrayRef<OpFoldResult>{zero, zero, rewriter.getIndexAttr(width - 1)},
        newestSizes, unitStrides);

    Value acc = buildConvReduction(rewriter, loc, stateOut, rewriter.getMultiDimIdentityMap(3),
                                   adaptor.getWeight(), tensor::getMixedSizes(rewriter, loc, input));
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Value out = buildConvEpilogue(rewriter, loc, acc, adaptor.getBias(), op.getActivation(),
                                  emptyLike(rewriter, loc, input, resultType.getElementType()));
    Type stateType = getTypeConverter()->convertType(op.getStateOut().getType());
    rewriter.replaceOp(op, {castToType(rewriter, loc, out, resultType),
                            castToType(rewriter, loc, stateOut, stateType)});
    return success();
  }
};

} // namespace

std::pair<Value, Value> ssmc::dispatchOnSingleToken(OpBuilder &b, Location loc,
                                                    OpFoldResult length, PairBuilder single,
                                                    PairBuilder sequence) {
  std::optional<int64_t> staticLength = getConstantIntValue(length);
  if (staticLength)
    return *staticLength == 1 ? single(b, loc) : sequence(b, loc);
  Value isSingle =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                            getValueOrCreateConstantIndexOp(b, loc, length),
                            arith::ConstantIndexOp::create(b, loc, 1));
  auto dispatch = scf::IfOp::create(
      b, loc, isSingle,
      [&](OpBuilder &nb, Location l) {
        auto [first, second] = single(nb, l);
        scf::YieldOp::create(nb, l, ValueRange{first, second});
      },
      [&](OpBuilder &nb, Location l) {
        auto [first, second] = sequence(nb, l);
        scf::YieldOp::create(nb, l, ValueRange{first, second});
      });
  return {dispatch.getResult(0), dispatch.getResult(1)};
}

/// One step of the SSD recurrence (spec §1.5) on `state : B x H x P x N`
/// (float32). Returns the new state and `y : B x H x P` in `resultElement`.
std::pair<Value, Value> ssmc::buildScanStep(OpBuilder &b, Location loc, const ScanStepOperands &in,
                                      Value state, ScanStepMask mask, Type resultElement) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto stateType = cast<RankedTensorType>(state.getType());
  int64_t heads = stateType.getDimSize(1);
  auto groupSize = [&](Value v) {
    return heads / cast<RankedTensorType>(v.getType()).getDimSize(1);
  };
  // Head h reads x head h / rx, B group h / rb, C group h / rc.
  AffineExpr bat = getAffineDimExpr(0, ctx), head = getAffineDimExpr(1, ctx),
             p = getAffineDimExpr(2, ctx), n = getAffineDimExpr(3, ctx);
  AffineExpr xHead = head.floorDiv(groupSize(in.x)), bGroup = head.floorDiv(groupSize(in.bMat)),
             cGroup = head.floorDiv(groupSize(in.cMat));

  // S'[b,h,p,n] = exp(log_a[b,h]) S[b,h,p,n] + (dt[b,h] x[b,h/rx,p]) B[b,h/rb,n],
  // written over S itself: each element only reads its own old value, and an
  // in-place update keeps the loop-carried state in one buffer.
  SmallVector<Value> inputs = {in.x, in.logA, in.bMat};
  SmallVector<AffineMap> maps = {AffineMap::get(4, 0, {bat, xHead, p}, ctx),
                                 AffineMap::get(4, 0, {bat, head}, ctx),
                                 AffineMap::get(4, 0, {bat, bGroup, n}, ctx)};
  if (in.dt) {
    inputs.push_back(in.dt);
    maps.push_back(AffineMap::get(4, 0, {bat, head}, ctx));
  }
  if (mask.lengths) {
    inputs.push_back(mask.lengths);
    maps.push_back(AffineMap::get(4, 0, {bat}, ctx));
  }
  maps.push_back(b.getMultiDimIdentityMap(4));
  Value newState = buildGenericInto(
      b, loc, inputs, state, maps, {}, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value s = args.back();
        Value x = castFloat(nb, l, args[0], f32);
        Value decay = math::ExpOp::create(nb, l, args[1]);
        Value bv = castFloat(nb, l, args[2], f32);
        unsigned next = 3;
        if (in.dt)
          x = arith::MulFOp::create(nb, l, args[next++], x);
        Value updated = arith::AddFOp::create(nb, l, arith::MulFOp::create(nb, l, decay, s),
                                              arith::MulFOp::create(nb, l, x, bv));
        if (!mask.lengths)
          return updated;
        Value len = arith::IndexCastOp::create(nb, l, nb.getIndexType(), args[next]);
        Value real = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, mask.time, len);
        return arith::SelectOp::create(nb, l, real, updated, s).getResult();
      });

  // y[b,h,p] = sum_n S'[b,h,p,n] C[b,h/rc,n] (+ D[h] x[b,h/rx,p])
  SmallVector<OpFoldResult> ySizes = tensor::getMixedSizes(b, loc, state);
  ySizes.pop_back();
  Value acc = filledTensor(b, loc, ySizes, f32, 0.0);
  acc = buildGenericInto(b, loc, ValueRange{newState, in.cMat}, acc,
                         {b.getMultiDimIdentityMap(4), AffineMap::get(4, 0, {bat, cGroup, n}, ctx),
                          AffineMap::get(4, 0, {bat, head, p}, ctx)},
                         {3}, [&](OpBuilder &nb, Location l, ValueRange args) {
                           Value prod = arith::MulFOp::create(nb, l, args[0],
                                                              castFloat(nb, l, args[1], f32));
                           return arith::AddFOp::create(nb, l, args[2], prod).getResult();
                         });
  SmallVector<Value> outInputs = {acc};
  SmallVector<AffineMap> outMaps = {b.getMultiDimIdentityMap(3)};
  if (in.skip) {
    outInputs.append({in.skip, in.x});
    outMaps.push_back(AffineMap::get(3, 0, {head}, ctx));
    outMaps.push_back(AffineMap::get(3, 0, {bat, xHead, p}, ctx));
  }
  Value y = buildMapped(b, loc, outInputs, outMaps, acc, resultElement,
                        [&](OpBuilder &nb, Location l, ValueRange args) {
                          Value v = args[0];
                          if (in.skip) {
                            Value skip = arith::MulFOp::create(nb, l, castFloat(nb, l, args[1], f32),
                                                               castFloat(nb, l, args[2], f32));
                            v = arith::AddFOp::create(nb, l, v, skip);
                          }
                          return castFloat(nb, l, v, resultElement);
                        });
  return {newState, y};
}

/// `seq[:, time]` without the time dimension (`B x L x ...` -> `B x ...`).
Value ssmc::sliceAtTime(OpBuilder &b, Location loc, Value seq, Value time) {
  auto type = cast<RankedTensorType>(seq.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, seq);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  offsets[1] = time;
  sizes[1] = b.getIndexAttr(1);
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + 1);
  return tensor::ExtractSliceOp::create(b, loc, RankedTensorType::get(shape, type.getElementType()),
                                        seq, offsets, sizes, strides);
}

namespace {

/// The recurrent lowering of selective_scan (templated on the op so that
/// any scan op with its operands could reuse it): an scf.for over time
/// carrying the state and the output sequence.
template <typename ScanOp>
struct RecurrentScanLowering : OpConversionPattern<ScanOp> {
  using OpConversionPattern<ScanOp>::OpConversionPattern;
  using OpAdaptor = typename ScanOp::Adaptor;
  LogicalResult matchAndRewrite(ScanOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type resultElement = resultType.getElementType();
    Value x = adaptor.getX();
    Value state = refineBatch(rewriter, loc, adaptor.getState(), x);
    auto stateTensorType = cast<RankedTensorType>(state.getType());

    // y : B x L x H x P, every token written by the loop.
    SmallVector<OpFoldResult> xSizes = tensor::getMixedSizes(rewriter, loc, x);
    SmallVector<OpFoldResult> ySizes = {xSizes[0], xSizes[1],
                                        rewriter.getIndexAttr(stateTensorType.getDimSize(1)),
                                        rewriter.getIndexAttr(stateTensorType.getDimSize(2))};
    Value yInit = tensor::EmptyOp::create(rewriter, loc, ySizes, resultElement);
    Value lower = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value step = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value upper = getValueOrCreateConstantIndexOp(rewriter, loc, xSizes[1]);
    Value lengths = adaptor.getLengths(), dt = adaptor.getDt(), skip = adaptor.getD();

    auto loop = scf::ForOp::create(
        rewriter, loc, lower, upper, step, ValueRange{state, yInit},
        [&](OpBuilder &b, Location l, Value time, ValueRange carried) {
          ScanStepOperands in;
          in.x = sliceAtTime(b, l, x, time);
          in.logA = sliceAtTime(b, l, adaptor.getLogA(), time);
          in.bMat = sliceAtTime(b, l, adaptor.getB(), time);
          in.cMat = sliceAtTime(b, l, adaptor.getC(), time);
          in.dt = dt ? sliceAtTime(b, l, dt, time) : Value();
          in.skip = skip;
          auto [newState, yStep] =
              buildScanStep(b, l, in, carried[0], ScanStepMask{lengths, time}, resultElement);
          SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), time, b.getIndexAttr(0),
                                               b.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes(ySizes);
          sizes[1] = b.getIndexAttr(1);
          Value y = tensor::InsertSliceOp::create(b, l, yStep, carried[1], offsets, sizes,
                                                  SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
          scf::YieldOp::create(b, l, ValueRange{newState, y});
        });

    Type stateType = this->getTypeConverter()->convertType(op.getStateOut().getType());
    rewriter.replaceOp(op, {castToType(rewriter, loc, loop.getResult(1), resultType),
                            castToType(rewriter, loc, loop.getResult(0), stateType)});
    return success();
  }
};

struct StateUpdateLowering : OpConversionPattern<StateUpdateOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(StateUpdateOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    ScanStepOperands in{adaptor.getX(),  adaptor.getLogA(), adaptor.getB(),
                        adaptor.getC(),  adaptor.getDt(),   adaptor.getD()};
    Value state = refineBatch(rewriter, loc, adaptor.getState(), in.x);
    auto [newState, y] = buildScanStep(rewriter, loc, in, state, ScanStepMask{},
                                       resultType.getElementType());
    Type stateType = getTypeConverter()->convertType(op.getStateOut().getType());
    rewriter.replaceOp(op, {castToType(rewriter, loc, y, resultType),
                            castToType(rewriter, loc, newState, stateType)});
    return success();
  }
};

} // namespace

void ssmc::populateSSMStatefulLoweringPatterns(const TypeConverter &converter,
                                               RewritePatternSet &patterns,
                                               bool allChunksAtOnce) {
  // chunked_scan computes the same function (spec §1.6 re-associates §1.5)
  // but by chunks: its lowering lives in ChunkedScanLowering.cpp.
  patterns.add<CausalConv1dLowering, CausalConv1dStepLowering,
               RecurrentScanLowering<SelectiveScanOp>, StateUpdateLowering>(
      converter, patterns.getContext());
  populateChunkedScanLoweringPatterns(converter, patterns, allChunksAtOnce);
}
