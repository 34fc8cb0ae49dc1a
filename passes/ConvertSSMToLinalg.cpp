//===- ConvertSSMToLinalg.cpp - ssm building blocks to linalg -------------===//
//
// Lowers the building blocks whose semantics are pure tensor functions to
// linalg on tensors. Reductions accumulate in float32; each op rounds to its
// result type exactly where its description says it does (twice for an
// `hf` RMSNorm, once everywhere else). The stateful blocks and the state
// types are lowered in the same conversion (StatefulLowerings.cpp) so that
// function signatures change once, together with every op producing or
// consuming a state.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/ssm/SSMDialect.h"
#include "dialects/ssm/SSMOps.h"
#include "dialects/ssm/SSMTypes.h"
#include "passes/AttentionLowering.h"
#include "passes/LinalgBuilders.h"
#include "passes/StatefulLowerings.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include "mlir/Transforms/DialectConversion.h"

#include <limits>

namespace ssmc {
#define GEN_PASS_DEF_CONVERTSSMTOLINALG
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;
using namespace ssmc;
using namespace ssmc::ssm;

namespace {

/// Maps the iteration dims `[first, first + count)` of a rank-`rank` space.
AffineMap dimRange(MLIRContext *ctx, int64_t rank, int64_t first, int64_t count) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = first; d < first + count; ++d)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

struct LinearLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!isa<RankedTensorType>(op.getWeight().getType()))
      return rewriter.notifyMatchFailure(op, "quantized weights are lowered elsewhere");
    auto resultType = cast<RankedTensorType>(op.getType());
    Value out =
        buildProjection(rewriter, op.getLoc(), adaptor.getInput(), adaptor.getWeight(), resultType);
    rewriter.replaceOp(op, castToType(rewriter, op.getLoc(), out, resultType));
    return success();
  }
};

struct LMHeadLowering : OpConversionPattern<LMHeadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(LMHeadOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!isa<RankedTensorType>(op.getWeight().getType()))
      return rewriter.notifyMatchFailure(op, "quantized weights are lowered elsewhere");
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Value logits =
        buildProjection(rewriter, loc, adaptor.getInput(), adaptor.getWeight(), resultType);
    if (std::optional<int64_t> valid = op.getValidVocab()) {
      // Vocabulary padding rows can never be sampled: their logits are -inf.
      int64_t vocabDim = resultType.getRank() - 1;
      Type f32 = rewriter.getF32Type();
      logits = buildElementwise(
          rewriter, loc, ValueRange{logits}, f32, [&](OpBuilder &b, Location l, ValueRange args) {
            Value row = linalg::IndexOp::create(b, l, vocabDim);
            Value limit = arith::ConstantIndexOp::create(b, l, *valid);
            Value padding = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, row, limit);
            Value negInf = floatConstant(b, l, f32, -std::numeric_limits<double>::infinity());
            return arith::SelectOp::create(b, l, padding, negInf, args[0]).getResult();
          });
    }
    rewriter.replaceOp(op, castToType(rewriter, loc, logits, resultType));
    return success();
  }
};

struct LastTokenLowering : OpConversionPattern<LastTokenOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(LastTokenOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto resultType = cast<RankedTensorType>(op.getType());
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, input);
    sizes[1] = rewriter.getIndexAttr(1);
    Value init = tensor::EmptyOp::create(rewriter, loc, sizes, resultType.getElementType());
    MLIRContext *ctx = rewriter.getContext();
    // A gather: loops (b, 0, d) read input[b, lengths[b] - 1, d].
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {getAffineDimExpr(0, ctx)}, ctx),
                                   rewriter.getMultiDimIdentityMap(3)};
    SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
    Value out = linalg::GenericOp::create(
                    rewriter, loc, TypeRange{init.getType()}, ValueRange{adaptor.getLengths()},
                    ValueRange{init}, maps, iterators,
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      Value length = arith::IndexCastOp::create(b, l, b.getIndexType(), args[0]);
                      Value last = arith::SubIOp::create(
                          b, l, length, arith::ConstantIndexOp::create(b, l, 1));
                      Value batch = linalg::IndexOp::create(b, l, 0);
                      Value d = linalg::IndexOp::create(b, l, 2);
                      Value v = tensor::ExtractOp::create(b, l, input, ValueRange{batch, last, d});
                      linalg::YieldOp::create(b, l, v);
                    })
                    .getResult(0);
    rewriter.replaceOp(op, castToType(rewriter, loc, out, resultType));
    return success();
  }
};

struct RMSNormLowering : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto inType = cast<RankedTensorType>(input.getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    Type outElement = resultType.getElementType(), f32 = rewriter.getF32Type();
    int64_t rank = inType.getRank();
    double width = static_cast<double>(inType.getShape().back());
    double eps = op.getEps().convertToDouble();
    bool hfOrder = op.getRounding() == NormRounding::hf;

    Value sumSquares =
        buildLastDimSum(rewriter, loc, input, [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = castFloat(b, l, args[0], f32);
          return arith::MulFOp::create(b, l, x, x).getResult();
        });
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank),
                                   dimRange(ctx, rank, 0, rank - 1),
                                   dimRange(ctx, rank, rank - 1, 1)};
    Value out = buildMapped(
        rewriter, loc, ValueRange{input, sumSquares, adaptor.getWeight()}, maps, input, outElement,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = arith::DivFOp::create(b, l, args[1], floatConstant(b, l, f32, width));
          Value rstd = math::RsqrtOp::create(
              b, l, arith::AddFOp::create(b, l, mean, floatConstant(b, l, f32, eps)));
          Value normalized = arith::MulFOp::create(b, l, castFloat(b, l, args[0], f32), rstd);
          if (hfOrder) {
            // Hugging Face: round the normalized value, multiply in the result type.
            Value rounded = castFloat(b, l, normalized, outElement);
            return arith::MulFOp::create(b, l, rounded, castFloat(b, l, args[2], outElement))
                .getResult();
          }
          Value scaled = arith::MulFOp::create(b, l, normalized, castFloat(b, l, args[2], f32));
          return castFloat(b, l, scaled, outElement);
        });
    rewriter.replaceOp(op, castToType(rewriter, loc, out, resultType));
    return success();
  }
};

struct GatedRMSNormLowering : OpConversionPattern<GatedRMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(GatedRMSNormOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inType = cast<RankedTensorType>(adaptor.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    Type outElement = resultType.getElementType(), f32 = rewriter.getF32Type();
    int64_t rank = inType.getRank(), width = inType.getShape().back();
    int64_t group = op.getGroup(), groups = width / group;
    double eps = op.getEps().convertToDouble();

    Value gated =
        buildElementwise(rewriter, loc, ValueRange{adaptor.getInput(), adaptor.getGate()}, f32,
                         [&](OpBuilder &b, Location l, ValueRange args) {
                           Value y = castFloat(b, l, args[0], f32);
                           Value z = castFloat(b, l, args[1], f32);
                           return arith::MulFOp::create(b, l, y, buildSilu(b, l, z)).getResult();
                         });

    // Split the channels into (groups x group) so that each group is a
    // contiguous last dimension to reduce over.
    SmallVector<ReassociationIndices> reassociation;
    for (int64_t d = 0; d < rank - 1; ++d)
      reassociation.push_back({d});
    reassociation.push_back({rank - 1, rank});
    SmallVector<OpFoldResult> groupedSizes = tensor::getMixedSizes(rewriter, loc, gated);
    groupedSizes.back() = rewriter.getIndexAttr(groups);
    groupedSizes.push_back(rewriter.getIndexAttr(group));
    SmallVector<int64_t> groupedShape(inType.getShape());
    groupedShape.back() = groups;
    groupedShape.push_back(group);
    Value grouped =
        tensor::ExpandShapeOp::create(rewriter, loc, RankedTensorType::get(groupedShape, f32),
                                      gated, reassociation, groupedSizes);
    Value weight = adaptor.getWeight();
    Type weightElement = cast<RankedTensorType>(weight.getType()).getElementType();
    Value groupedWeight = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get({groups, group}, weightElement), weight,
        ArrayRef<ReassociationIndices>{{0, 1}},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(groups), rewriter.getIndexAttr(group)});

    Value sumSquares =
        buildLastDimSum(rewriter, loc, grouped, [&](OpBuilder &b, Location l, ValueRange args) {
          return arith::MulFOp::create(b, l, args[0], args[0]).getResult();
        });
    MLIRContext *ctx = rewriter.getContext();
    int64_t loops = rank + 1;
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(loops),
                                   dimRange(ctx, loops, 0, loops - 1),
                                   dimRange(ctx, loops, loops - 2, 2)};
    Value normalized = buildMapped(
        rewriter, loc, ValueRange{grouped, sumSquares, groupedWeight}, maps, grouped, outElement,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = arith::DivFOp::create(b, l, args[1],
                                             floatConstant(b, l, f32, static_cast<double>(group)));
          Value rstd = math::RsqrtOp::create(
              b, l, arith::AddFOp::create(b, l, mean, floatConstant(b, l, f32, eps)));
          Value scaled = arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, args[0], rstd),
                                               castFloat(b, l, args[2], f32));
          return castFloat(b, l, scaled, outElement);
        });
    Value out = tensor::CollapseShapeOp::create(rewriter, loc, normalized, reassociation);
    rewriter.replaceOp(op, castToType(rewriter, loc, out, resultType));
    return success();
  }
};

struct AddLowering : OpConversionPattern<AddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AddOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto resultType = cast<RankedTensorType>(op.getType());
    Type outElement = resultType.getElementType(), f32 = rewriter.getF32Type();
    Value sum =
        buildElementwise(rewriter, op.getLoc(), ValueRange{adaptor.getLhs(), adaptor.getRhs()},
                         outElement, [&](OpBuilder &b, Location l, ValueRange args) {
                           Value s = arith::AddFOp::create(b, l, castFloat(b, l, args[0], f32),
                                                           castFloat(b, l, args[1], f32));
                           return castFloat(b, l, s, outElement);
                         });
    rewriter.replaceOp(op, castToType(rewriter, op.getLoc(), sum, resultType));
    return success();
  }
};

struct EmbedLowering : OpConversionPattern<EmbedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(EmbedOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!isa<RankedTensorType>(op.getTable().getType()))
      return rewriter.notifyMatchFailure(op, "quantized tables are lowered elsewhere");
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Type outElement = resultType.getElementType();
    Value ids = adaptor.getIds(), table = adaptor.getTable();
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, ids);
    sizes.push_back(rewriter.getIndexAttr(resultType.getShape().back()));
    Value init = tensor::EmptyOp::create(rewriter, loc, sizes, outElement);
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineMap> maps = {dimRange(ctx, 3, 0, 2), rewriter.getMultiDimIdentityMap(3)};
    SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
    Value rows = linalg::GenericOp::create(
                     rewriter, loc, TypeRange{init.getType()}, ValueRange{ids}, ValueRange{init},
                     maps, iterators,
                     [&](OpBuilder &b, Location l, ValueRange args) {
                       Value row = arith::IndexCastOp::create(b, l, b.getIndexType(), args[0]);
                       Value col = linalg::IndexOp::create(b, l, 2);
                       Value v = tensor::ExtractOp::create(b, l, table, ValueRange{row, col});
                       linalg::YieldOp::create(b, l, ValueRange{castFloat(b, l, v, outElement)});
                     })
                     .getResult(0);
    rewriter.replaceOp(op, castToType(rewriter, loc, rows, resultType));
    return success();
  }
};

struct ConvertSSMToLinalgPass : ssmc::impl::ConvertSSMToLinalgBase<ConvertSSMToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    SSMStateTypeConverter typeConverter;
    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect, arith::ArithDialect,
                           math::MathDialect, scf::SCFDialect, SSMDialect>();
    auto tensorWeight = [](Value w) { return !isa<RankedTensorType>(w.getType()); };
    target.addDynamicallyLegalOp<LinearOp>(
        [&](LinearOp op) { return tensorWeight(op.getWeight()); });
    target.addDynamicallyLegalOp<LMHeadOp>(
        [&](LMHeadOp op) { return tensorWeight(op.getWeight()); });
    target.addDynamicallyLegalOp<EmbedOp>([&](EmbedOp op) { return tensorWeight(op.getTable()); });
    target.addIllegalOp<RMSNormOp, GatedRMSNormOp, AddOp, CausalConv1dOp, CausalConv1dStepOp,
                        SelectiveScanOp, ChunkedScanOp, StateUpdateOp, LastTokenOp>();
    configureSSMAttentionLegality(target);
    // Function boundaries carry states as batch tensors. Ops still using
    // state types (ssm.attention and its kv_cache until it is lowered) get
    // unrealized_conversion_casts at their operands and results.
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
      return typeConverter.isSignatureLegal(op.getFunctionType()) &&
             typeConverter.isLegal(&op.getBody());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return typeConverter.isLegal(op); });
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    RewritePatternSet patterns(ctx);
    patterns.add<LinearLowering, LMHeadLowering, RMSNormLowering, GatedRMSNormLowering, AddLowering,
                 EmbedLowering, LastTokenLowering>(ctx);
    populateSSMStatefulLoweringPatterns(typeConverter, patterns, scanAllChunksAtOnce);
    // Also overrides the kv_cache conversion of typeConverter (AttentionLowering.h).
    populateSSMAttentionLoweringPatterns(typeConverter, patterns);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns, typeConverter);
    populateReturnOpTypeConversionPattern(patterns, typeConverter);
    populateCallOpTypeConversionPattern(patterns, typeConverter);
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
