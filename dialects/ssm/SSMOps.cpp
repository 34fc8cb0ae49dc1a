//===- SSMOps.cpp - Operations of the ssm dialect -------------------------===//
//
// Verifiers check every shape relation an op's semantics rely on, and name the
// operand and both shapes when one does not hold.
//
//===----------------------------------------------------------------------===//

#include "dialects/ssm/SSMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace ssmc::ssm;

#define GET_OP_CLASSES
#include "dialects/ssm/SSMOps.cpp.inc"

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (shape.empty())
    return "scalar";
  llvm::interleave(
      shape, os, [&](int64_t d) { d == kDyn ? os << "?" : os << d; }, "x");
  return s;
}

bool dimsCompatible(int64_t a, int64_t b) { return a == kDyn || b == kDyn || a == b; }

/// Checks that `type` (a ranked tensor or qweight) has `expected` shape, where
/// kDyn in either matches anything.
LogicalResult expectShape(Operation *op, StringRef what, Type type,
                          ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> actual = getWeightShape(type);
  bool ok = actual.size() == expected.size();
  for (size_t i = 0; ok && i < actual.size(); ++i)
    ok = dimsCompatible(actual[i], expected[i]);
  if (ok)
    return success();
  return op->emitOpError() << "'" << what << "' has shape " << shapeString(actual)
                           << ", expected " << shapeString(expected);
}

LogicalResult expectRank(Operation *op, StringRef what, Type type, int64_t rank) {
  auto shaped = dyn_cast<RankedTensorType>(type);
  if (shaped && shaped.getRank() == rank)
    return success();
  return op->emitOpError() << "'" << what << "' must be a rank-" << rank << " tensor, got "
                           << type;
}

LogicalResult expectFloatElements(Operation *op, StringRef what, Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (shaped && isa<FloatType>(shaped.getElementType()))
    return success();
  if (isa<QuantizedWeightType>(type))
    return success();
  return op->emitOpError() << "'" << what << "' must have a float element type, got " << type;
}

LogicalResult expectF32Elements(Operation *op, StringRef what, Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (shaped && shaped.getElementType().isF32())
    return success();
  return op->emitOpError() << "'" << what << "' must have f32 elements, got " << type;
}

/// A static last dimension of a ranked tensor, or failure with a message.
FailureOr<int64_t> staticLastDim(Operation *op, StringRef what, Type type) {
  auto shaped = dyn_cast<RankedTensorType>(type);
  if (!shaped || shaped.getRank() == 0 || shaped.isDynamicDim(shaped.getRank() - 1)) {
    op->emitOpError() << "'" << what << "' needs a static last dimension, got " << type;
    return failure();
  }
  return shaped.getShape().back();
}

/// Sequence activations are B x L x D with a static D.
FailureOr<int64_t> verifySequenceInput(Operation *op, Type type) {
  if (failed(expectRank(op, "input", type, 3)) || failed(expectFloatElements(op, "input", type)))
    return failure();
  return staticLastDim(op, "input", type);
}

/// lengths is a B vector matching the activations' batch.
LogicalResult verifyLengths(Operation *op, StringRef what, Type lengths, Type activations) {
  if (failed(expectRank(op, what, lengths, 1)))
    return failure();
  int64_t b = cast<RankedTensorType>(activations).getDimSize(0);
  return expectShape(op, what, lengths, {b});
}

template <typename StateT>
LogicalResult expectState(Operation *op, StringRef what, StateT type,
                          ArrayRef<int64_t> expected) {
  if (type.getShape() == expected)
    return success();
  return op->emitOpError() << "'" << what << "' has per-sequence shape "
                           << shapeString(type.getShape()) << ", expected "
                           << shapeString(expected);
}

LogicalResult expectSameType(Operation *op, StringRef what, Type actual, Type expected) {
  if (actual == expected)
    return success();
  return op->emitOpError() << "'" << what << "' type " << actual << " must equal " << expected;
}

/// The result of a sequence-to-sequence op: same B x L as the input, width `width`.
LogicalResult verifySequenceResult(Operation *op, Type input, Type result, int64_t width) {
  if (failed(expectRank(op, "result", result, 3)) ||
      failed(expectFloatElements(op, "result", result)))
    return failure();
  auto in = cast<RankedTensorType>(input);
  return expectShape(op, "result", result, {in.getDimSize(0), in.getDimSize(1), width});
}

LogicalResult checkGroups(Operation *op, StringRef heads, int64_t h, StringRef groups,
                          int64_t g) {
  if (g > 0 && h % g == 0)
    return success();
  return op->emitOpError() << heads << " (" << h << ") must be a multiple of " << groups << " ("
                           << g << ")";
}

/// The state and result checks shared by the SSM mixers: conv and SSM state
/// shapes, float32 SSM state, the result's B x L x D, and unchanged state types.
template <typename MixerOp>
LogicalResult verifyMixerStatesAndResult(MixerOp op, ArrayRef<int64_t> convShape,
                                         ArrayRef<int64_t> ssmShape, int64_t width) {
  Operation *o = op.getOperation();
  if (failed(expectState(o, "conv_state", op.getConvState().getType(), convShape)) ||
      failed(expectState(o, "ssm_state", op.getSsmState().getType(), ssmShape)) ||
      failed(expectF32Elements(o, "ssm_state",
                               op.getSsmState().getType().getBatchTensorType(-1))) ||
      failed(verifySequenceResult(o, op.getInput().getType(), op.getResult().getType(), width)) ||
      failed(expectSameType(o, "conv_state_out", op.getConvStateOut().getType(),
                            op.getConvState().getType())) ||
      failed(expectSameType(o, "ssm_state_out", op.getSsmStateOut().getType(),
                            op.getSsmState().getType())))
    return failure();
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("weight name must not be empty");
  if (auto tensor = dyn_cast<RankedTensorType>(getType())) {
    if (!tensor.hasStaticShape())
      return emitOpError() << "weight '" << getName() << "' must have a static shape, got "
                           << tensor;
    if (!isa<FloatType, IntegerType>(tensor.getElementType()))
      return emitOpError() << "weight '" << getName()
                           << "' must have float or integer elements, got " << tensor;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  ArrayRef<int64_t> table = getWeightShape(getTable().getType());
  if (table.size() != 2)
    return emitOpError() << "'table' must be V x D, got " << getTable().getType();
  if (failed(expectRank(*this, "ids", getIds().getType(), 2)) ||
      failed(expectRank(*this, "result", getType(), 3)) ||
      failed(expectFloatElements(*this, "result", getType())))
    return failure();
  auto ids = cast<RankedTensorType>(getIds().getType());
  return expectShape(*this, "result", getType(),
                     {ids.getDimSize(0), ids.getDimSize(1), table[1]});
}

LogicalResult RMSNormOp::verify() {
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be positive");
  if (failed(expectFloatElements(*this, "input", getInput().getType())) ||
      failed(expectFloatElements(*this, "result", getType())))
    return failure();
  FailureOr<int64_t> width = staticLastDim(*this, "input", getInput().getType());
  if (failed(width) || failed(expectShape(*this, "weight", getWeight().getType(), {*width})))
    return failure();
  return expectShape(*this, "result", getType(),
                     cast<RankedTensorType>(getInput().getType()).getShape());
}

LogicalResult AddOp::verify() {
  if (failed(expectFloatElements(*this, "lhs", getLhs().getType())) ||
      failed(expectFloatElements(*this, "rhs", getRhs().getType())) ||
      failed(expectFloatElements(*this, "result", getType())))
    return failure();
  ArrayRef<int64_t> lhs = cast<RankedTensorType>(getLhs().getType()).getShape();
  if (failed(expectShape(*this, "rhs", getRhs().getType(), lhs)))
    return failure();
  return expectShape(*this, "result", getType(), lhs);
}

LogicalResult SwiGLUMLPOp::verify() {
  if (failed(expectFloatElements(*this, "input", getInput().getType())))
    return failure();
  FailureOr<int64_t> d = staticLastDim(*this, "input", getInput().getType());
  if (failed(d))
    return failure();
  ArrayRef<int64_t> gate = getWeightShape(getGate().getType());
  if (gate.size() != 2)
    return emitOpError() << "'gate' must be I x D, got " << getGate().getType();
  int64_t inter = gate[0];
  if (failed(expectShape(*this, "gate", getGate().getType(), {inter, *d})) ||
      failed(expectShape(*this, "up", getUp().getType(), {inter, *d})) ||
      failed(expectShape(*this, "down", getDown().getType(), {*d, inter})))
    return failure();
  return expectShape(*this, "result", getType(),
                     cast<RankedTensorType>(getInput().getType()).getShape());
}

LogicalResult DiscreteMamba2Op::verify() {
  DiscreteMamba2ConfigAttr cfg = getConfig();
  FailureOr<int64_t> d = verifySequenceInput(*this, getInput().getType());
  if (failed(d) || failed(verifyLengths(*this, "lengths", getLengths().getType(),
                                        getInput().getType())))
    return failure();
  int64_t inner = cfg.getInner(), channels = cfg.getConvChannels();
  if (failed(expectShape(*this, "in_proj", getInProj().getType(), {cfg.getInProjRows(), *d})) ||
      failed(expectShape(*this, "z_bias", getZBias().getType(), {inner})) ||
      failed(expectShape(*this, "conv_weight", getConvWeight().getType(),
                         {channels, 1, cfg.getConv()})) ||
      failed(expectShape(*this, "conv_bias", getConvBias().getType(), {channels})) ||
      failed(expectShape(*this, "D", getD().getType(), {cfg.getHeads()})) ||
      failed(expectShape(*this, "out_proj", getOutProj().getType(), {*d, inner})))
    return failure();
  return verifyMixerStatesAndResult(*this, {channels, cfg.getConv()},
                                    {cfg.getHeads(), cfg.getHeadDim(), cfg.getState()}, *d);
}

LogicalResult Mamba2Op::verify() {
  Mamba2ConfigAttr cfg = getConfig();
  FailureOr<int64_t> d = verifySequenceInput(*this, getInput().getType());
  if (failed(d) || failed(verifyLengths(*this, "lengths", getLengths().getType(),
                                        getInput().getType())))
    return failure();
  int64_t inner = cfg.getInner(), channels = cfg.getConvChannels(), heads = cfg.getHeads();
  if (failed(expectShape(*this, "in_proj", getInProj().getType(), {cfg.getInProjRows(), *d})) ||
      failed(expectShape(*this, "conv_weight", getConvWeight().getType(),
                         {channels, 1, cfg.getConv()})) ||
      failed(expectShape(*this, "conv_bias", getConvBias().getType(), {channels})) ||
      failed(expectShape(*this, "dt_bias", getDtBias().getType(), {heads})) ||
      failed(expectShape(*this, "A_log", getALog().getType(), {heads})) ||
      failed(expectShape(*this, "D", getD().getType(), {heads})) ||
      failed(expectShape(*this, "norm_weight", getNormWeight().getType(), {inner})) ||
      failed(expectShape(*this, "out_proj", getOutProj().getType(), {*d, inner})))
    return failure();
  return verifyMixerStatesAndResult(*this, {channels, cfg.getConv()},
                                    {heads, cfg.getHeadDim(), cfg.getState()}, *d);
}

LogicalResult AttentionOp::verify() {
  AttentionConfigAttr cfg = getConfig();
  FailureOr<int64_t> d = verifySequenceInput(*this, getInput().getType());
  if (failed(d) ||
      failed(verifyLengths(*this, "lengths", getLengths().getType(), getInput().getType())) ||
      failed(verifyLengths(*this, "positions", getPositions().getType(), getInput().getType())))
    return failure();
  int64_t q = cfg.getHeads() * cfg.getHeadDim(), kv = cfg.getKvHeads() * cfg.getHeadDim();
  if (failed(expectShape(*this, "q_proj", getQProj().getType(), {q, *d})) ||
      failed(expectShape(*this, "k_proj", getKProj().getType(), {kv, *d})) ||
      failed(expectShape(*this, "v_proj", getVProj().getType(), {kv, *d})) ||
      failed(expectShape(*this, "o_proj", getOProj().getType(), {*d, q})))
    return failure();
  if (failed(expectState(*this, "kv_cache", getKvCache().getType(),
                         {cfg.getKvHeads(), cfg.getHeadDim()})) ||
      failed(verifySequenceResult(*this, getInput().getType(), getResult().getType(), *d)) ||
      failed(expectSameType(*this, "kv_cache_out", getKvCacheOut().getType(),
                            getKvCache().getType())))
    return failure();
  return success();
}

LogicalResult LastTokenOp::verify() {
  FailureOr<int64_t> d = verifySequenceInput(*this, getInput().getType());
  if (failed(d) || failed(verifyLengths(*this, "lengths", getLengths().getType(),
                                        getInput().getType())))
    return failure();
  if (failed(expectRank(*this, "result", getType(), 3)))
    return failure();
  auto in = cast<RankedTensorType>(getInput().getType());
  if (cast<RankedTensorType>(getType()).getElementType() != in.getElementType())
    return emitOpError() << "'result' element type must equal the input's, "
                         << in.getElementType();
  return expectShape(*this, "result", getType(), {in.getDimSize(0), 1, *d});
}

LogicalResult LMHeadOp::verify() {
  if (failed(expectFloatElements(*this, "input", getInput().getType())))
    return failure();
  FailureOr<int64_t> d = staticLastDim(*this, "input", getInput().getType());
  if (failed(d))
    return failure();
  ArrayRef<int64_t> w = getWeightShape(getWeight().getType());
  if (w.size() != 2)
    return emitOpError() << "'weight' must be V x D, got " << getWeight().getType();
  if (failed(expectShape(*this, "weight", getWeight().getType(), {w[0], *d})) ||
      failed(expectF32Elements(*this, "result", getType())))
    return failure();
  SmallVector<int64_t> expected(cast<RankedTensorType>(getInput().getType()).getShape());
  expected.back() = w[0];
  if (failed(expectShape(*this, "result", getType(), expected)))
    return failure();
  if (std::optional<int64_t> valid = getValidVocab())
    if (*valid <= 0 || *valid > w[0])
      return emitOpError() << "valid_vocab (" << *valid << ") must be in [1, " << w[0] << "]";
  return success();
}

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  if (failed(expectFloatElements(*this, "input", getInput().getType())) ||
      failed(expectFloatElements(*this, "result", getType())))
    return failure();
  FailureOr<int64_t> k = staticLastDim(*this, "input", getInput().getType());
  if (failed(k))
    return failure();
  ArrayRef<int64_t> w = getWeightShape(getWeight().getType());
  if (w.size() != 2)
    return emitOpError() << "'weight' must be N x K, got " << getWeight().getType();
  if (failed(expectShape(*this, "weight", getWeight().getType(), {w[0], *k})))
    return failure();
  SmallVector<int64_t> expected(cast<RankedTensorType>(getInput().getType()).getShape());
  expected.back() = w[0];
  return expectShape(*this, "result", getType(), expected);
}

namespace {
/// Shared checks of the sequence and step conv ops: weight C x 1 x W, bias C,
/// state C x W.
LogicalResult verifyConv(Operation *op, int64_t channels, Type weight, Type bias,
                         ConvStateType state) {
  ArrayRef<int64_t> w = getWeightShape(weight);
  if (w.size() != 3)
    return op->emitOpError() << "'weight' must be C x 1 x W, got " << weight;
  if (failed(expectShape(op, "weight", weight, {channels, 1, w[2]})) ||
      failed(expectShape(op, "bias", bias, {channels})))
    return failure();
  return expectState(op, "state", state, {channels, w[2]});
}
} // namespace

LogicalResult CausalConv1dOp::verify() {
  FailureOr<int64_t> c = verifySequenceInput(*this, getInput().getType());
  if (failed(c) ||
      failed(verifyLengths(*this, "lengths", getLengths().getType(), getInput().getType())) ||
      failed(verifyConv(*this, *c, getWeight().getType(), getBias().getType(),
                        getState().getType())))
    return failure();
  if (failed(verifySequenceResult(*this, getInput().getType(), getResult().getType(), *c)))
    return failure();
  return expectSameType(*this, "state_out", getStateOut().getType(), getState().getType());
}

LogicalResult CausalConv1dStepOp::verify() {
  if (failed(expectRank(*this, "input", getInput().getType(), 2)))
    return failure();
  FailureOr<int64_t> c = staticLastDim(*this, "input", getInput().getType());
  if (failed(c) || failed(verifyConv(*this, *c, getWeight().getType(), getBias().getType(),
                                     getState().getType())))
    return failure();
  if (failed(expectShape(*this, "result", getResult().getType(),
                         cast<RankedTensorType>(getInput().getType()).getShape())))
    return failure();
  return expectSameType(*this, "state_out", getStateOut().getType(), getState().getType());
}

namespace {
/// Checks the scan family. `seq` is true for the B x L x ... forms and false
/// for the single-token state update (B x ...).
LogicalResult verifyScanOperands(Operation *op, bool seq, Value x, Value logA, Value bMat,
                                 Value cMat, SSMStateType state, Value dt, Value skip,
                                 Value result) {
  int64_t lead = seq ? 2 : 1; // leading B (and L) dims
  if (failed(expectRank(op, "x", x.getType(), lead + 2)) ||
      failed(expectRank(op, "log_a", logA.getType(), lead + 1)) ||
      failed(expectRank(op, "B", bMat.getType(), lead + 2)) ||
      failed(expectRank(op, "C", cMat.getType(), lead + 2)) ||
      failed(expectF32Elements(op, "log_a", logA.getType())))
    return failure();
  ArrayRef<int64_t> st = state.getShape();
  int64_t heads = st[0], headDim = st[1], n = st[2];
  if (!state.getElementType().isF32())
    return op->emitOpError("'state' must have f32 elements");
  auto xType = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> prefix(xType.getShape().take_front(lead));
  int64_t xHeads = xType.getDimSize(lead);
  auto withPrefix = [&](ArrayRef<int64_t> tail) {
    SmallVector<int64_t> dims(prefix);
    dims.append(tail.begin(), tail.end());
    return dims;
  };
  int64_t bGroups = cast<RankedTensorType>(bMat.getType()).getDimSize(lead);
  int64_t cGroups = cast<RankedTensorType>(cMat.getType()).getDimSize(lead);
  if (xHeads == kDyn || bGroups == kDyn || cGroups == kDyn)
    return op->emitOpError("head and group dimensions must be static");
  if (failed(checkGroups(op, "state heads", heads, "x heads", xHeads)) ||
      failed(checkGroups(op, "state heads", heads, "B groups", bGroups)) ||
      failed(checkGroups(op, "state heads", heads, "C groups", cGroups)))
    return failure();
  if (failed(expectShape(op, "x", x.getType(), withPrefix({xHeads, headDim}))) ||
      failed(expectShape(op, "log_a", logA.getType(), withPrefix({heads}))) ||
      failed(expectShape(op, "B", bMat.getType(), withPrefix({bGroups, n}))) ||
      failed(expectShape(op, "C", cMat.getType(), withPrefix({cGroups, n}))))
    return failure();
  if (dt && (failed(expectShape(op, "dt", dt.getType(), withPrefix({heads}))) ||
             failed(expectF32Elements(op, "dt", dt.getType()))))
    return failure();
  if (skip && failed(expectShape(op, "D", skip.getType(), {heads})))
    return failure();
  return expectShape(op, "result", result.getType(), withPrefix({heads, headDim}));
}
} // namespace

LogicalResult SelectiveScanOp::verify() {
  if (failed(verifyScanOperands(*this, /*seq=*/true, getX(), getLogA(), getB(), getC(),
                                getState().getType(), getDt(), getD(), getResult())) ||
      failed(verifyLengths(*this, "lengths", getLengths().getType(), getX().getType())))
    return failure();
  return expectSameType(*this, "state_out", getStateOut().getType(), getState().getType());
}

LogicalResult ChunkedScanOp::verify() {
  if (getChunk() <= 0)
    return emitOpError() << "chunk must be positive, got " << getChunk();
  if (failed(verifyScanOperands(*this, /*seq=*/true, getX(), getLogA(), getB(), getC(),
                                getState().getType(), getDt(), getD(), getResult())) ||
      failed(verifyLengths(*this, "lengths", getLengths().getType(), getX().getType())))
    return failure();
  return expectSameType(*this, "state_out", getStateOut().getType(), getState().getType());
}

/// A chunk longer than a static sequence is the whole sequence: clamp it so
/// that later tiling sees the real work size.
LogicalResult ChunkedScanOp::fold(FoldAdaptor, SmallVectorImpl<OpFoldResult> &) {
  int64_t len = cast<RankedTensorType>(getX().getType()).getDimSize(1);
  if (len == kDyn || len <= 0 || getChunk() <= len)
    return failure();
  setChunk(len);
  return success();
}

LogicalResult StateUpdateOp::verify() {
  if (failed(verifyScanOperands(*this, /*seq=*/false, getX(), getLogA(), getB(), getC(),
                                getState().getType(), getDt(), getD(), getResult())))
    return failure();
  return expectSameType(*this, "state_out", getStateOut().getType(), getState().getType());
}

LogicalResult GatedRMSNormOp::verify() {
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be positive");
  if (failed(expectFloatElements(*this, "input", getInput().getType())))
    return failure();
  FailureOr<int64_t> width = staticLastDim(*this, "input", getInput().getType());
  if (failed(width))
    return failure();
  if (getGroup() <= 0 || *width % getGroup() != 0)
    return emitOpError() << "group (" << getGroup() << ") must divide the width (" << *width
                         << ")";
  ArrayRef<int64_t> shape = cast<RankedTensorType>(getInput().getType()).getShape();
  if (failed(expectShape(*this, "gate", getGate().getType(), shape)) ||
      failed(expectShape(*this, "weight", getWeight().getType(), {*width})))
    return failure();
  return expectShape(*this, "result", getType(), shape);
}
