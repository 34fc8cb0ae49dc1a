//===- DecomposeModel.cpp - Model-level ssm ops to building blocks --------===//
//
// Each model-level op becomes the sequence of building blocks its
// description writes down. Conventions shared by the rewrites:
//  - projections (`ssm.linear`) produce the model element type T (the op's
//    result element type), i.e. they round after float32 accumulation;
//  - decay math (softplus, -exp(A_log)) is float32, and so is the scan's
//    state; the scan's output is T (the upstream kernels store it in x's
//    dtype);
//  - gates are computed in float32 from T operands and rounded once to T
//    before the output projection.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/ssm/SSMAttrs.h"
#include "dialects/ssm/SSMDialect.h"
#include "dialects/ssm/SSMOps.h"
#include "dialects/ssm/SSMTypes.h"
#include "passes/LinalgBuilders.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMDECOMPOSEMODEL
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;
using namespace ssmc;
using namespace ssmc::ssm;

namespace {

/// Builds the pieces of a mixer on `B x L x ...` activations, keeping the
/// batch and sequence dims as the input has them (static or dynamic).
class SequenceBuilder {
public:
  SequenceBuilder(PatternRewriter &rewriter, Location loc, Value input)
      : rewriter(rewriter), loc(loc) {
    auto type = cast<RankedTensorType>(input.getType());
    batch = type.getDimSize(0);
    length = type.getDimSize(1);
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, input);
    batchSize = sizes[0];
    lengthSize = sizes[1];
  }

  RankedTensorType seqType(ArrayRef<int64_t> tail, Type element) const {
    SmallVector<int64_t> shape = {batch, length};
    shape.append(tail.begin(), tail.end());
    return RankedTensorType::get(shape, element);
  }

  Value linear(Value input, Value weight, int64_t width, Type element) {
    return LinearOp::create(rewriter, loc, seqType({width}, element), input, weight);
  }

  /// Channels `[offset, offset + width)` of a `B x L x C` tensor.
  Value channels(Value source, int64_t offset, int64_t width) {
    Type element = cast<RankedTensorType>(source.getType()).getElementType();
    SmallVector<OpFoldResult> offsets = {rewriter.getIndexAttr(0), rewriter.getIndexAttr(0),
                                         rewriter.getIndexAttr(offset)};
    SmallVector<OpFoldResult> sizes = {batchSize, lengthSize, rewriter.getIndexAttr(width)};
    SmallVector<OpFoldResult> strides(3, rewriter.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(rewriter, loc, seqType({width}, element), source, offsets,
                                          sizes, strides);
  }

  /// `B x L x (heads*dim)` -> `B x L x heads x dim` (channel c = h*dim + d).
  Value splitHeads(Value source, int64_t heads, int64_t dim) {
    Type element = cast<RankedTensorType>(source.getType()).getElementType();
    SmallVector<OpFoldResult> sizes = {batchSize, lengthSize, rewriter.getIndexAttr(heads),
                                       rewriter.getIndexAttr(dim)};
    return tensor::ExpandShapeOp::create(rewriter, loc, seqType({heads, dim}, element), source,
                                         headReassociation(), sizes);
  }

  /// Inverse of splitHeads.
  Value mergeHeads(Value source) {
    return tensor::CollapseShapeOp::create(rewriter, loc, source, headReassociation());
  }

  static SmallVector<ReassociationIndices> headReassociation() { return {{0}, {1}, {2, 3}}; }

  PatternRewriter &rewriter;
  Location loc;
  int64_t batch, length;
  OpFoldResult batchSize, lengthSize;
};

Type elementTypeOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }

/// ssm.discrete_mamba2 (spec §2.5-2.6): identity conv, decay
/// exp(-softplus(a)), no dt scaling, gate y * silu(z + z_bias), no norm.
struct DecomposeDiscreteMamba2 : OpRewritePattern<DiscreteMamba2Op> {
  /// `chunk` > 0 overrides the model's scan chunk length (a target choice).
  DecomposeDiscreteMamba2(MLIRContext *ctx, int64_t chunk) : OpRewritePattern(ctx), chunk(chunk) {}
  int64_t chunk;
  LogicalResult matchAndRewrite(DiscreteMamba2Op op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    DiscreteMamba2ConfigAttr cfg = op.getConfig();
    Type model = elementTypeOf(op.getResult()), f32 = rewriter.getF32Type();
    int64_t heads = cfg.getHeads(), headDim = cfg.getHeadDim(), groups = cfg.getGroups();
    int64_t state = cfg.getState(), inner = cfg.getInner(), conv = cfg.getConvChannels();
    SequenceBuilder seq(rewriter, loc, op.getInput());

    // [xBC | z | a] = input @ in_proj^T
    Value zxa = seq.linear(op.getInput(), op.getInProj(), cfg.getInProjRows(), model);
    Value xbc = seq.channels(zxa, 0, conv);
    Value z = seq.channels(zxa, conv, inner);
    Value a = seq.channels(zxa, conv + inner, heads);

    auto convOp = CausalConv1dOp::create(
        rewriter, loc, xbc.getType(), op.getConvState().getType(), xbc, op.getLengths(),
        op.getConvState(), op.getConvWeight(), op.getConvBias(),
        ActivationAttr::get(rewriter.getContext(), Activation::identity));
    Value convOut = convOp.getResult();
    Value x = seq.splitHeads(seq.channels(convOut, 0, inner), heads, headDim);
    Value bMat = seq.splitHeads(seq.channels(convOut, inner, groups * state), groups, state);
    Value cMat = seq.splitHeads(seq.channels(convOut, inner + groups * state, groups * state),
                                groups, state);

    // log a_t = -softplus(a_t), float32.
    Value logDecay = buildElementwise(
        rewriter, loc, ValueRange{a}, f32, [&](OpBuilder &b, Location l, ValueRange args) {
          Value v = castFloat(b, l, args[0], f32);
          return arith::NegFOp::create(b, l, buildSoftplus(b, l, v)).getResult();
        });

    auto scan = ChunkedScanOp::create(rewriter, loc, seq.seqType({heads, headDim}, model),
                                      op.getSsmState().getType(), x, logDecay, bMat, cMat,
                                      op.getSsmState(), op.getLengths(), /*dt=*/Value(), op.getD(),
                                      static_cast<uint64_t>(chunk > 0 ? chunk : cfg.getChunk()));
    Value y = seq.mergeHeads(scan.getResult());

    // y * silu(z + z_bias), float32, one rounding to the model type.
    Value gated = buildElementwise(
        rewriter, loc, ValueRange{y, z, op.getZBias()}, model,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value zb = arith::AddFOp::create(b, l, castFloat(b, l, args[1], f32),
                                           castFloat(b, l, args[2], f32));
          Value g = arith::MulFOp::create(b, l, castFloat(b, l, args[0], f32), buildSilu(b, l, zb));
          return castFloat(b, l, g, model);
        });
    Value out = LinearOp::create(rewriter, loc, op.getResult().getType(), gated, op.getOutProj());
    rewriter.replaceOp(op, {out, convOp.getStateOut(), scan.getStateOut()});
    return success();
  }
};

/// ssm.mamba2 (spec §1.8, §3.5): silu conv, delta = softplus(dt + dt_bias),
/// log a = delta * -exp(A_log), dt-scaled scan, gated grouped RMSNorm.
struct DecomposeMamba2 : OpRewritePattern<Mamba2Op> {
  /// `chunk` > 0 overrides the model's scan chunk length (a target choice).
  DecomposeMamba2(MLIRContext *ctx, int64_t chunk) : OpRewritePattern(ctx), chunk(chunk) {}
  int64_t chunk;
  LogicalResult matchAndRewrite(Mamba2Op op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Mamba2ConfigAttr cfg = op.getConfig();
    Type model = elementTypeOf(op.getResult()), f32 = rewriter.getF32Type();
    int64_t heads = cfg.getHeads(), headDim = cfg.getHeadDim(), state = cfg.getState();
    int64_t inner = cfg.getInner(), conv = cfg.getConvChannels(), xWidth = cfg.getXWidth();
    int64_t bWidth = cfg.getBGroups() * state, cWidth = cfg.getCGroups() * state;
    SequenceBuilder seq(rewriter, loc, op.getInput());

    // [z | xBC | dt] = input @ in_proj^T
    Value zxbcdt = seq.linear(op.getInput(), op.getInProj(), cfg.getInProjRows(), model);
    Value z = seq.channels(zxbcdt, 0, inner);
    Value xbc = seq.channels(zxbcdt, inner, conv);
    Value dt = seq.channels(zxbcdt, inner + conv, heads);

    auto convOp = CausalConv1dOp::create(
        rewriter, loc, xbc.getType(), op.getConvState().getType(), xbc, op.getLengths(),
        op.getConvState(), op.getConvWeight(), op.getConvBias(),
        ActivationAttr::get(rewriter.getContext(), Activation::silu));
    Value convOut = convOp.getResult();
    Value x = seq.splitHeads(seq.channels(convOut, 0, xWidth), cfg.getXHeads(), headDim);
    Value bMat = seq.splitHeads(seq.channels(convOut, xWidth, bWidth), cfg.getBGroups(), state);
    Value cMat =
        seq.splitHeads(seq.channels(convOut, xWidth + bWidth, cWidth), cfg.getCGroups(), state);

    // delta = softplus(dt + dt_bias); log a = delta * -exp(A_log); float32.
    Value delta = buildElementwise(rewriter, loc, ValueRange{dt, op.getDtBias()}, f32,
                                   [&](OpBuilder &b, Location l, ValueRange args) {
                                     Value v =
                                         arith::AddFOp::create(b, l, castFloat(b, l, args[0], f32),
                                                               castFloat(b, l, args[1], f32));
                                     return buildSoftplus(b, l, v);
                                   });
    Value logDecay =
        buildElementwise(rewriter, loc, ValueRange{delta, op.getALog()}, f32,
                         [&](OpBuilder &b, Location l, ValueRange args) {
                           Value rate = arith::NegFOp::create(
                               b, l, math::ExpOp::create(b, l, castFloat(b, l, args[1], f32)));
                           return arith::MulFOp::create(b, l, args[0], rate).getResult();
                         });

    auto scan = ChunkedScanOp::create(rewriter, loc, seq.seqType({heads, headDim}, model),
                                      op.getSsmState().getType(), x, logDecay, bMat, cMat,
                                      op.getSsmState(), op.getLengths(), delta, op.getD(),
                                      static_cast<uint64_t>(chunk > 0 ? chunk : cfg.getChunk()));
    Value y = seq.mergeHeads(scan.getResult());
    Value normed =
        GatedRMSNormOp::create(rewriter, loc, y.getType(), y, z, op.getNormWeight(),
                               static_cast<uint64_t>(cfg.getNormGroup()), cfg.getNormEps());
    Value out = LinearOp::create(rewriter, loc, op.getResult().getType(), normed, op.getOutProj());
    rewriter.replaceOp(op, {out, convOp.getStateOut(), scan.getStateOut()});
    return success();
  }
};

/// ssm.swiglu_mlp: down(round(silu(gate x) * (up x))).
struct DecomposeSwiGLU : OpRewritePattern<SwiGLUMLPOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwiGLUMLPOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Type model = resultType.getElementType(), f32 = rewriter.getF32Type();
    int64_t hidden = getWeightShape(op.getGate().getType())[0];
    SmallVector<int64_t> hiddenShape(cast<RankedTensorType>(op.getInput().getType()).getShape());
    hiddenShape.back() = hidden;
    auto hiddenType = RankedTensorType::get(hiddenShape, model);
    Value gate = LinearOp::create(rewriter, loc, hiddenType, op.getInput(), op.getGate());
    Value up = LinearOp::create(rewriter, loc, hiddenType, op.getInput(), op.getUp());
    Value product = buildElementwise(
        rewriter, loc, ValueRange{gate, up}, model, [&](OpBuilder &b, Location l, ValueRange args) {
          Value g = buildSilu(b, l, castFloat(b, l, args[0], f32));
          Value p = arith::MulFOp::create(b, l, g, castFloat(b, l, args[1], f32));
          return castFloat(b, l, p, model);
        });
    rewriter.replaceOpWithNewOp<LinearOp>(op, resultType, product, op.getDown());
    return success();
  }
};

struct SSMDecomposeModelPass : ssmc::impl::SSMDecomposeModelBase<SSMDecomposeModelPass> {
  using SSMDecomposeModelBase::SSMDecomposeModelBase;
  void runOnOperation() override {
    if (chunk < 0) {
      getOperation()->emitError() << "ssm-decompose-model: chunk must be >= 0, got "
                              << static_cast<int64_t>(chunk.getValue());
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<DecomposeDiscreteMamba2, DecomposeMamba2>(&getContext(), chunk.getValue());
    patterns.add<DecomposeSwiGLU>(&getContext());
    // Only these rewrites run: no folding, so the IR keeps the exact ops the
    // rewrites produce (canonicalize separately when wanted).
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
