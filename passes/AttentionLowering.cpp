//===- AttentionLowering.cpp - ssm.attention to linalg --------------------===//
//
// Lowers `ssm.attention` (spec §3.5) to linalg/tensor/scf on tensors:
//
// 1. q, k, v projections (float32 accumulation, rounded to the model type),
//    split into heads: `B x L x heads x D`.
// 2. RoPE: cos/sin of `(positions[b] + t) * f_i` in float32 from frequencies
//    computed in float64 at compile time (llama3 rule included) and emitted
//    as a constant; dims `(i, i + dim/2)`, `i < dim/2`, are rotated.
// 3. The post-RoPE keys and the values of real tokens are written into the
//    cache at `positions[b] + t` (an scf.for over the batch, one insert_slice
//    of `lengths[b]` tokens per sequence).
// 4. Attention over the cache prefix `[0, max_b(positions[b] + lengths[b]))`:
//    float32 dot products, a mask (`c <= positions[b] + t`, causal, and
//    `c < positions[b] + lengths[b]`, written), softmax with the row maximum
//    subtracted, the weighted sum of values, all in float32; the context is
//    rounded to the model type before the output projection.
//
// Padding tokens (`t >= lengths[b]`) see only written positions, so their
// (unspecified) outputs stay finite. A sequence with nothing to attend to
// gets a zero context rather than 0/0.
//
//===----------------------------------------------------------------------===//

#include "passes/AttentionLowering.h"

#include "dialects/ssm/SSMAttrs.h"
#include "dialects/ssm/SSMOps.h"
#include "passes/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace ssmc;
using namespace ssmc::ssm;

RankedTensorType ssmc::getKVCacheTensorType(KVCacheType type) {
  // `getBatchTensorType` has no room for the context capacity, which is
  // fixed per session like the batch: both dimensions are dynamic here. K
  // and V of one position sit next to each other so that appending a token
  // is one contiguous slice per sequence.
  SmallVector<int64_t> shape = {ShapedType::kDynamic, ShapedType::kDynamic, 2};
  llvm::append_range(shape, type.getShape());
  return RankedTensorType::get(shape, type.getElementType());
}

namespace {

/// The RoPE frequencies `f_i`, `i < dim/2`, in float64 (SSMAttrs.td, RopeAttr).
SmallVector<double> ropeFrequencies(RopeAttr rope) {
  int64_t dim = rope.getDim();
  double theta = rope.getTheta().convertToDouble();
  bool llama3 = rope.getScaling() == RopeScaling::llama3;
  double factor = rope.getFactor().convertToDouble();
  double lowFactor = rope.getLowFreqFactor().convertToDouble();
  double highFactor = rope.getHighFreqFactor().convertToDouble();
  double originalMax = static_cast<double>(rope.getOriginalMaxPositions());
  SmallVector<double> freqs;
  for (int64_t i = 0; i < dim / 2; ++i) {
    double f = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
    if (llama3) {
      double wavelength = 2.0 * llvm::numbers::pi / f;
      if (wavelength > originalMax / lowFactor) {
        f = f / factor;
      } else if (wavelength >= originalMax / highFactor) {
        double s = (originalMax / wavelength - lowFactor) / (highFactor - lowFactor);
        f = (1.0 - s) * f / factor + s * f;
      }
    }
    freqs.push_back(f);
  }
  return freqs;
}

/// The map from `loops` loops to the listed loop dims.
AffineMap dimsMap(MLIRContext *ctx, unsigned loops, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(loops, 0, exprs, ctx);
}

/// `B x L x (heads * D)` -> `B x L x heads x D`.
Value splitHeads(OpBuilder &b, Location loc, Value v, int64_t heads, int64_t headDim) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  sizes.back() = b.getIndexAttr(heads);
  sizes.push_back(b.getIndexAttr(headDim));
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = heads;
  shape.push_back(headDim);
  return tensor::ExpandShapeOp::create(b, loc, type.clone(shape), v,
                                       ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}}, sizes);
}

Value indexToI64(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
}

/// Whether cache position `c` is visible to token `t` of a sequence with
/// `pos` cached positions and `len` real tokens: causal and written.
Value isVisible(OpBuilder &b, Location loc, Value pos, Value len, Value t, Value c) {
  Value c64 = indexToI64(b, loc, c);
  Value last = arith::AddIOp::create(b, loc, pos, indexToI64(b, loc, t));
  Value end =
      arith::AddIOp::create(b, loc, pos, arith::ExtSIOp::create(b, loc, b.getI64Type(), len));
  Value causal = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, c64, last);
  Value written = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, c64, end);
  return arith::AndIOp::create(b, loc, causal, written);
}

struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    for (Value w : {op.getQProj(), op.getKProj(), op.getVProj(), op.getOProj()})
      if (!isa<RankedTensorType>(w.getType()))
        return rewriter.notifyMatchFailure(op, "quantized weights are lowered elsewhere");
    Location loc = op.getLoc();
    AttentionConfigAttr config = op.getConfig();
    int64_t heads = config.getHeads(), kvHeads = config.getKvHeads(), headDim = config.getHeadDim();
    Value x = adaptor.getInput();
    auto xType = cast<RankedTensorType>(x.getType());
    Type modelElement = xType.getElementType();
    Value positions = adaptor.getPositions(), lengths = adaptor.getLengths();
    Value cache = adaptor.getKvCache();
    Type cacheElement = cast<RankedTensorType>(cache.getType()).getElementType();

    // 1. Projections, rounded to the model type like the PyTorch Linear.
    auto projection = [&](Value weight, int64_t n) {
      SmallVector<int64_t> shape(xType.getShape());
      shape.back() = n * headDim;
      Value p = buildProjection(rewriter, loc, x, weight, xType.clone(shape));
      return splitHeads(rewriter, loc, p, n, headDim);
    };
    Value q = projection(adaptor.getQProj(), heads);
    Value k = projection(adaptor.getKProj(), kvHeads);
    Value v = projection(adaptor.getVProj(), kvHeads);

    OpFoldResult batch = tensor::getMixedSize(rewriter, loc, x, 0);
    OpFoldResult seqLen = tensor::getMixedSize(rewriter, loc, x, 1);

    // 2. RoPE.
    RopeAttr rope = config.getRope();
    int64_t half = rope.getDim() / 2;
    if (half > 0) {
      auto [cosTable, sinTable] = buildRopeTables(rewriter, loc, rope, positions, batch, seqLen);
      q = applyRope(rewriter, loc, q, cosTable, sinTable, half);
      k = applyRope(rewriter, loc, k, cosTable, sinTable, half);
    }

    // 3. Append K and V of the real tokens.
    Value updated = appendToCache(rewriter, loc, cache, k, v, positions, lengths, cacheElement,
                                  batch, seqLen, kvHeads, headDim);

    // 4. Attention over the written prefix of the cache.
    Value context = buildAttention(rewriter, loc, q, updated, positions, lengths, batch, seqLen,
                                   heads / kvHeads, headDim, modelElement);
    Value flat = tensor::CollapseShapeOp::create(rewriter, loc, context,
                                                 ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    Value out = buildProjection(rewriter, loc, flat, adaptor.getOProj(), resultType);
    rewriter.replaceOp(op, {castToType(rewriter, loc, out, resultType), updated});
    return success();
  }

private:
  /// `B x L x dim/2` float32 tables of cos and sin of the RoPE angles.
  static std::pair<Value, Value> buildRopeTables(OpBuilder &b, Location loc, RopeAttr rope,
                                                 Value positions, OpFoldResult batch,
                                                 OpFoldResult seqLen) {
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    SmallVector<float> freqs;
    for (double f : ropeFrequencies(rope))
      freqs.push_back(static_cast<float>(f));
    auto freqType = RankedTensorType::get({static_cast<int64_t>(freqs.size())}, f32);
    Value freqConst = arith::ConstantOp::create(
        b, loc, freqType, DenseElementsAttr::get(freqType, ArrayRef<float>(freqs)));
    SmallVector<OpFoldResult> sizes = {batch, seqLen, b.getIndexAttr(freqs.size())};
    // One fresh tensor per result: a shared one would make bufferization copy.
    Value cosInit = tensor::EmptyOp::create(b, loc, sizes, f32);
    Value sinInit = tensor::EmptyOp::create(b, loc, sizes, f32);
    AffineMap id = b.getMultiDimIdentityMap(3);
    ValueRange tables = buildGeneric(
        b, loc, ValueRange{positions, freqConst}, ValueRange{cosInit, sinInit},
        {dimsMap(ctx, 3, {0}), dimsMap(ctx, 3, {2}), id, id}, {},
        [&](OpBuilder &nb, Location l, ValueRange args) -> SmallVector<Value> {
          Value t = linalg::IndexOp::create(nb, l, 1);
          Value pos = arith::AddIOp::create(nb, l, args[0], indexToI64(nb, l, t));
          Value angle =
              arith::MulFOp::create(nb, l, arith::SIToFPOp::create(nb, l, f32, pos), args[1]);
          return {math::CosOp::create(nb, l, angle), math::SinOp::create(nb, l, angle)};
        });
    return {tables[0], tables[1]};
  }

  /// Rotates dims `(i, i + half)`, `i < half`, of every head of
  /// `heads : B x L x N x D` (rotate_half pairing); float32 math, rounded once.
  static Value applyRope(OpBuilder &b, Location loc, Value heads, Value cosTable, Value sinTable,
                         int64_t half) {
    Type element = cast<RankedTensorType>(heads.getType()).getElementType();
    Type f32 = b.getF32Type();
    return buildElementwise(
        b, loc, ValueRange{heads}, element, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value bi = linalg::IndexOp::create(nb, l, 0), t = linalg::IndexOp::create(nb, l, 1);
          Value h = linalg::IndexOp::create(nb, l, 2), i = linalg::IndexOp::create(nb, l, 3);
          Value halfC = arith::ConstantIndexOp::create(nb, l, half);
          Value zero = arith::ConstantIndexOp::create(nb, l, 0);
          Value lower = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, i, halfC);
          Value rotated = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, i,
                                                arith::ConstantIndexOp::create(nb, l, 2 * half));
          // Dims past the rotary ones read frequency 0 and keep their value.
          Value upperIndex = arith::SubIOp::create(nb, l, i, halfC);
          Value freqIndex = arith::SelectOp::create(
              nb, l, lower, i, arith::SelectOp::create(nb, l, rotated, upperIndex, zero));
          Value partnerIndex = arith::SelectOp::create(
              nb, l, lower, arith::AddIOp::create(nb, l, i, halfC), upperIndex);
          Value c = tensor::ExtractOp::create(nb, l, cosTable, ValueRange{bi, t, freqIndex});
          Value s = tensor::ExtractOp::create(nb, l, sinTable, ValueRange{bi, t, freqIndex});
          Value partner = castFloat(
              nb, l, tensor::ExtractOp::create(nb, l, heads, ValueRange{bi, t, h, partnerIndex}),
              f32);
          // rotate_half: x_i cos - x_{i+half} sin below half, x_i cos +
          // x_{i-half} sin above.
          Value signedPartner =
              arith::SelectOp::create(nb, l, lower, arith::NegFOp::create(nb, l, partner), partner);
          Value self = castFloat(nb, l, args[0], f32);
          Value result = arith::AddFOp::create(nb, l, arith::MulFOp::create(nb, l, self, c),
                                               arith::MulFOp::create(nb, l, signedPartner, s));
          return arith::SelectOp::create(nb, l, rotated, castFloat(nb, l, result, element), args[0])
              .getResult();
        });
  }

  /// Writes K and V (`B x L x KVH x D`) of tokens `t < lengths[b]` into
  /// `cache` at positions `positions[b] + t`.
  static Value appendToCache(OpBuilder &b, Location loc, Value cache, Value k, Value v,
                             Value positions, Value lengths, Type cacheElement, OpFoldResult batch,
                             OpFoldResult seqLen, int64_t kvHeads, int64_t headDim) {
    MLIRContext *ctx = b.getContext();
    // Stack K and V as `B x L x 2 x KVH x D` in the cache's element type so
    // that each sequence's new tokens are one slice of the cache layout.
    SmallVector<OpFoldResult> sizes = {batch, seqLen, b.getIndexAttr(2), b.getIndexAttr(kvHeads),
                                       b.getIndexAttr(headDim)};
    Value init = tensor::EmptyOp::create(b, loc, sizes, cacheElement);
    AffineMap headMap = dimsMap(ctx, 5, {0, 1, 3, 4});
    Value stacked = buildGeneric(
        b, loc, ValueRange{k, v}, ValueRange{init}, {headMap, headMap, b.getMultiDimIdentityMap(5)},
        {}, [&](OpBuilder &nb, Location l, ValueRange args) -> SmallVector<Value> {
          Value which = linalg::IndexOp::create(nb, l, 2);
          Value isKey = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, which,
                                              arith::ConstantIndexOp::create(nb, l, 0));
          Value kv = arith::SelectOp::create(nb, l, isKey, args[0], args[1]);
          return {castFloat(nb, l, kv, cacheElement)};
        })[0];

    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value batchSize = getValueOrCreateConstantIndexOp(b, loc, batch);
    Value seqSize = getValueOrCreateConstantIndexOp(b, loc, seqLen);
    auto loop = scf::ForOp::create(
        b, loc, zero, batchSize, one, ValueRange{cache},
        [&](OpBuilder &nb, Location l, Value bi, ValueRange iter) {
          Value len = arith::IndexCastOp::create(
              nb, l, nb.getIndexType(), tensor::ExtractOp::create(nb, l, lengths, ValueRange{bi}));
          // Never read past the L tokens of this call.
          len = arith::MinSIOp::create(nb, l, len, seqSize);
          Value pos = arith::IndexCastOp::create(
              nb, l, nb.getIndexType(),
              tensor::ExtractOp::create(nb, l, positions, ValueRange{bi}));
          OpFoldResult zeroAttr = nb.getIndexAttr(0), oneAttr = nb.getIndexAttr(1);
          SmallVector<OpFoldResult> sliceSizes = {
              oneAttr, len, nb.getIndexAttr(2), nb.getIndexAttr(kvHeads), nb.getIndexAttr(headDim)};
          SmallVector<OpFoldResult> strides(5, oneAttr);
          Value tokens = tensor::ExtractSliceOp::create(
              nb, l, stacked, SmallVector<OpFoldResult>{bi, zeroAttr, zeroAttr, zeroAttr, zeroAttr},
              sliceSizes, strides);
          Value written = tensor::InsertSliceOp::create(
              nb, l, tokens, iter[0],
              SmallVector<OpFoldResult>{bi, pos, zeroAttr, zeroAttr, zeroAttr}, sliceSizes,
              strides);
          scf::YieldOp::create(nb, l, written);
        });
    return loop.getResult(0);
  }

  /// Causal grouped-query softmax attention of `q : B x L x H x D` over the
  /// written prefix of `cache`; returns the context `B x L x H x D` in
  /// `modelElement`.
  static Value buildAttention(OpBuilder &b, Location loc, Value q, Value cache, Value positions,
                              Value lengths, OpFoldResult batch, OpFoldResult seqLen, int64_t group,
                              int64_t headDim, Type modelElement) {
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type(), i64 = b.getI64Type();
    int64_t heads = cast<RankedTensorType>(q.getType()).getDimSize(2);
    int64_t kvHeads = heads / group;

    // The longest written prefix of the batch, clamped to the capacity so
    // that the slice below never leaves the cache.
    Value zero64 = arith::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(0));
    Value scalarInit = linalg::FillOp::create(
                           b, loc, ValueRange{zero64},
                           ValueRange{tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, i64)})
                           .getResult(0);
    Value longest =
        buildGeneric(b, loc, ValueRange{positions, lengths}, ValueRange{scalarInit},
                     {dimsMap(ctx, 1, {0}), dimsMap(ctx, 1, {0}), dimsMap(ctx, 1, {})}, {0},
                     [&](OpBuilder &nb, Location l, ValueRange args) -> SmallVector<Value> {
                       Value end = arith::AddIOp::create(
                           nb, l, args[0], arith::ExtSIOp::create(nb, l, i64, args[1]));
                       return {arith::MaxSIOp::create(nb, l, args[2], end)};
                     })[0];
    Value extent = arith::IndexCastOp::create(
        b, loc, b.getIndexType(), tensor::ExtractOp::create(b, loc, longest, ValueRange{}));
    extent = arith::MinSIOp::create(b, loc, extent, tensor::DimOp::create(b, loc, cache, 1));
    OpFoldResult zeroAttr = b.getIndexAttr(0), oneAttr = b.getIndexAttr(1);
    Value window = tensor::ExtractSliceOp::create(
        b, loc, cache, SmallVector<OpFoldResult>(5, zeroAttr),
        SmallVector<OpFoldResult>{batch, extent, b.getIndexAttr(2), b.getIndexAttr(kvHeads),
                                  b.getIndexAttr(headDim)},
        SmallVector<OpFoldResult>(5, oneAttr));

    // Loops (b, t, h, c, d); query head h reads kv head h / group.
    AffineExpr d0 = getAffineDimExpr(0, ctx), c = getAffineDimExpr(3, ctx),
               dd = getAffineDimExpr(4, ctx), kvHead = getAffineDimExpr(2, ctx).floorDiv(group);
    auto cacheMap = [&](int64_t which) {
      return AffineMap::get(5, 0, {d0, c, getAffineConstantExpr(which, ctx), kvHead, dd}, ctx);
    };
    SmallVector<OpFoldResult> scoreSizes = {batch, seqLen, b.getIndexAttr(heads), extent};
    Value dots = buildGeneric(
        b, loc, ValueRange{q, window}, ValueRange{filledTensor(b, loc, scoreSizes, f32, 0.0)},
        {dimsMap(ctx, 5, {0, 1, 2, 4}), cacheMap(0), dimsMap(ctx, 5, {0, 1, 2, 3})}, {4},
        [&](OpBuilder &nb, Location l, ValueRange args) -> SmallVector<Value> {
          Value prod = arith::MulFOp::create(nb, l, castFloat(nb, l, args[0], f32),
                                             castFloat(nb, l, args[1], f32));
          return {arith::AddFOp::create(nb, l, args[2], prod)};
        })[0];

    // Scaled logits, -inf where not visible.
    double negInf = -std::numeric_limits<double>::infinity();
    double scale = 1.0 / std::sqrt(static_cast<double>(headDim));
    AffineMap id4 = b.getMultiDimIdentityMap(4), batchOf4 = dimsMap(ctx, 4, {0});
    Value logits = buildMapped(
        b, loc, ValueRange{dots, positions, lengths}, {id4, batchOf4, batchOf4}, dots, f32,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value visible = isVisible(nb, l, args[1], args[2], linalg::IndexOp::create(nb, l, 1),
                                    linalg::IndexOp::create(nb, l, 3));
          Value scaled = arith::MulFOp::create(nb, l, args[0], floatConstant(nb, l, f32, scale));
          return arith::SelectOp::create(nb, l, visible, scaled, floatConstant(nb, l, f32, negInf))
              .getResult();
        });

    // Row maximum, subtracted before exp.
    SmallVector<OpFoldResult> rowSizes = {batch, seqLen, b.getIndexAttr(heads)};
    AffineMap rowOf4 = dimsMap(ctx, 4, {0, 1, 2});
    Value rowMax = buildGeneric(
        b, loc, ValueRange{logits}, ValueRange{filledTensor(b, loc, rowSizes, f32, negInf)},
        {id4, rowOf4}, {3}, [&](OpBuilder &nb, Location l, ValueRange args) -> SmallVector<Value> {
          return {arith::MaximumFOp::create(nb, l, args[1], args[0])};
        })[0];
    // exp(-inf - m) would be NaN when a whole row is masked: masked entries
    // are exactly 0 instead.
    Value probs = buildMapped(
        b, loc, ValueRange{logits, rowMax}, {id4, rowOf4}, logits, f32,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value masked = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, args[0],
                                               floatConstant(nb, l, f32, negInf));
          Value e = math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
          return arith::SelectOp::create(nb, l, masked, floatConstant(nb, l, f32, 0.0), e)
              .getResult();
        });
    Value rowSum = buildLastDimSum(b, loc, probs,
                                   [](OpBuilder &, Location, ValueRange args) { return args[0]; });

    // Loops (b, t, h, d, c): weighted sum of the values.
    AffineExpr vd = getAffineDimExpr(3, ctx), vc = getAffineDimExpr(4, ctx);
    AffineMap valueMap =
        AffineMap::get(5, 0, {d0, vc, getAffineConstantExpr(1, ctx), kvHead, vd}, ctx);
    SmallVector<OpFoldResult> ctxSizes = {batch, seqLen, b.getIndexAttr(heads),
                                          b.getIndexAttr(headDim)};
    Value weighted = buildGeneric(
        b, loc, ValueRange{probs, window}, ValueRange{filledTensor(b, loc, ctxSizes, f32, 0.0)},
        {dimsMap(ctx, 5, {0, 1, 2, 4}), valueMap, dimsMap(ctx, 5, {0, 1, 2, 3})}, {4},
        [&](OpBuilder &nb, Location l, ValueRange args) -> SmallVector<Value> {
          Value prod = arith::MulFOp::create(nb, l, args[0], castFloat(nb, l, args[1], f32));
          return {arith::AddFOp::create(nb, l, args[2], prod)};
        })[0];
    return buildMapped(
        b, loc, ValueRange{weighted, rowSum}, {id4, rowOf4}, weighted, modelElement,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value zero = floatConstant(nb, l, f32, 0.0);
          Value any = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, args[1], zero);
          Value normalized = arith::DivFOp::create(nb, l, args[0], args[1]);
          return castFloat(nb, l, arith::SelectOp::create(nb, l, any, normalized, zero),
                           modelElement);
        });
  }
};

} // namespace

void ssmc::configureSSMAttentionLegality(ConversionTarget &target) {
  target.addDynamicallyLegalOp<AttentionOp>([](AttentionOp op) {
    return !llvm::all_of(ValueRange{op.getQProj(), op.getKProj(), op.getVProj(), op.getOProj()},
                         [](Value w) { return isa<RankedTensorType>(w.getType()); });
  });
}

void ssmc::populateSSMAttentionLoweringPatterns(TypeConverter &converter,
                                                RewritePatternSet &patterns) {
  // Conversions registered later are tried first, so this one overrides a
  // batch-only kv_cache conversion registered by the state converter.
  converter.addConversion([](KVCacheType type) -> Type { return getKVCacheTensorType(type); });
  patterns.add<AttentionLowering>(converter, patterns.getContext());
}
