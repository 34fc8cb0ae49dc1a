//===- GPUTileContractions.cpp - batched contractions as tiled kernels ----===//
//
// The chunked scan's contractions (C B^T, S . C, the weighted sum Y_diag and
// the chunk state's sum over tokens) are small batched matrix products: per
// (sequence, head) a 128 x 128 (or x 64) output summed over 64 or 128. One
// thread or one warp per output re-reads both operands once per output
// element (C B^T alone took 195 us per chunk and layer of llamba-1b on the
// H100). Here such an op becomes the classic shared-memory tiled product:
// a block of 256 threads owns a T x T tile of the output for one batch
// index, stages K-slices of 16 of its operands in workgroup memory (each
// element read from global memory once per tile) and keeps (T/16)^2 sums per
// thread in registers.
//
// Matched: a linalg.generic on buffers with one reduction loop k of static
// extent (a multiple of 16), every input read at a permutation of some loops
// (a loop may be divided by a constant: a head's B/C group) that includes k, a body ending in `out + term` (ssmc::cuda::finalSum), and
// parallel loops that split into batch loops (read by every input), one loop
// i and one loop j, no input reading both i and j. Inputs reading i (j) are
// staged as T x 16 (16 x T) tiles, inputs reading neither (a per-token
// factor) as 16 values. The term is the op's own body, cloned per output
// element and k, so casts and extra factors stay as written. Sizes of i, j
// and the batch may be dynamic (edge tiles clamp their loads and skip their
// stores). A zero fill of the output right before is folded (sums are
// stored), and so is an elementwise consumer reading the output at the same
// indices, or an elementwise op writing the output in place right before
// (applied to each output element as it is read). Summation order per output is the op's (k ascending).
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"
#include "passes/IRQueries.h"
#include "targets/cuda/KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SmallBitVector.h"

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPUTILECONTRACTIONS
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {

constexpr int64_t kThreadsPerSide = 16; // 16 x 16 threads per block
constexpr int64_t kTileK = 16;

/// How the loops of a matched op are used.
struct ContractionShape {
  unsigned k = 0, i = 0, j = 0;
  SmallVector<unsigned> batch;
  /// Per input operand: 'i', 'j', 'k' (reads k, neither i nor j) or 'n'
  /// (reads batch loops only).
  SmallVector<char> roles;
};

/// The loop a map result reads: `d` or `d floordiv c` (a grouped head: B
/// and C shared by several heads); none for anything else.
std::optional<unsigned> loopOf(AffineExpr e) {
  if (auto dim = dyn_cast<AffineDimExpr>(e))
    return dim.getPosition();
  auto bin = dyn_cast<AffineBinaryOpExpr>(e);
  if (!bin || bin.getKind() != AffineExprKind::FloorDiv || !isa<AffineDimExpr>(bin.getLHS()))
    return std::nullopt;
  auto divisor = dyn_cast<AffineConstantExpr>(bin.getRHS());
  if (!divisor || divisor.getValue() < 1)
    return std::nullopt;
  return cast<AffineDimExpr>(bin.getLHS()).getPosition();
}

/// Every result reads a loop (see loopOf), each loop at most once.
bool isGroupedPermutation(AffineMap map) {
  llvm::SmallBitVector seen(map.getNumDims());
  for (AffineExpr e : map.getResults()) {
    std::optional<unsigned> loop = loopOf(e);
    if (!loop || seen.test(*loop))
      return false;
    seen.set(*loop);
  }
  return true;
}

std::optional<ContractionShape> match(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || !ssmc::cuda::finalSum(op))
    return std::nullopt;
  ContractionShape shape;
  auto iterators = op.getIteratorTypesArray();
  for (unsigned d = 0; d < iterators.size(); ++d)
    if (iterators[d] == utils::IteratorType::reduction)
      shape.k = d;
  int64_t extent = op.getStaticLoopRanges()[shape.k];
  if (ShapedType::isDynamic(extent) || extent < kTileK || extent % kTileK != 0)
    return std::nullopt;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!isGroupedPermutation(map))
      return std::nullopt;
  AffineMap outMap = op.getIndexingMapsArray().back();
  if (!outMap.isProjectedPermutation())
    return std::nullopt;
  if (outMap.isFunctionOfDim(shape.k))
    return std::nullopt;
  // The operands proper read k; an input that does not (a sequence's
  // length, fused into the sum with its masking) may read batch loops only.
  SmallVector<AffineMap> inputMaps, kMaps;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!isa<MemRefType>(input->get().getType()))
      return std::nullopt;
    inputMaps.push_back(map);
    if (map.isFunctionOfDim(shape.k))
      kMaps.push_back(map);
  }
  if (kMaps.empty())
    return std::nullopt;
  SmallVector<unsigned> free;
  for (unsigned d = 0; d < iterators.size(); ++d) {
    if (d == shape.k)
      continue;
    if (!outMap.isFunctionOfDim(d))
      return std::nullopt;
    if (llvm::all_of(kMaps, [&](AffineMap m) { return m.isFunctionOfDim(d); }))
      shape.batch.push_back(d);
    else
      free.push_back(d);
  }
  if (free.size() != 2)
    return std::nullopt;
  shape.i = free[0];
  shape.j = free[1];
  bool iRead = false, jRead = false;
  for (AffineMap map : inputMaps) {
    bool readsI = map.isFunctionOfDim(shape.i), readsJ = map.isFunctionOfDim(shape.j);
    bool readsK = map.isFunctionOfDim(shape.k);
    if ((readsI && readsJ) || (!readsK && (readsI || readsJ)))
      return std::nullopt;
    shape.roles.push_back(readsI ? 'i' : readsJ ? 'j' : readsK ? 'k' : 'n');
    iRead |= readsI;
    jRead |= readsJ;
  }
  if (!iRead || !jRead)
    return std::nullopt;
  return shape;
}

/// How a matched op's term splits for mma.sync: out[i, j] += A[i, k] B[k, j]
/// with A the product of `aLeaves` and B that of `bLeaves` (body values).
struct MMAPlan {
  Type element;                  ///< bf16 or f16: what the factors are rounded to
  int64_t kSlice = 16;           ///< k per staged slice: 16 or 32
  SmallVector<Value> aLeaves, bLeaves;
};

/// The leaves of `v`'s tree of arith.mulf in `body`.
void collectFactors(Value v, Block &body, SmallVectorImpl<Value> &leaves) {
  if (auto mul = v.getDefiningOp<arith::MulFOp>(); mul && mul->getBlock() == &body) {
    collectFactors(mul.getLhs(), body, leaves);
    collectFactors(mul.getRhs(), body, leaves);
    return;
  }
  leaves.push_back(v);
}

/// The loops body value `v` depends on (through the inputs it reads and
/// linalg.index); none when it reads the accumulator or a region op.
std::optional<llvm::SmallBitVector> loopsOf(Value v, linalg::GenericOp op, Block &body) {
  llvm::SmallBitVector loops(op.getNumLoops());
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (arg.getOwner() != &body)
      return loops;
    if (arg.getArgNumber() >= op.getNumDpsInputs())
      return std::nullopt;
    for (AffineExpr e : op.getIndexingMapsArray()[arg.getArgNumber()].getResults())
      loops.set(*loopOf(e));
    return loops;
  }
  Operation *def = v.getDefiningOp();
  if (!def || def->getBlock() != &body)
    return loops;
  if (auto idx = dyn_cast<linalg::IndexOp>(def)) {
    loops.set(idx.getDim());
    return loops;
  }
  if (def->getNumRegions() != 0)
    return std::nullopt;
  for (Value operand : def->getOperands()) {
    std::optional<llvm::SmallBitVector> inner = loopsOf(operand, op, body);
    if (!inner)
      return std::nullopt;
    loops |= *inner;
  }
  return loops;
}

/// Whether the term is 0 wherever k > i: one of its factors is
/// `select(k <= i, v, 0.0)` (or k < i, or i >= k, i > k) on the loops'
/// indices, as in the chunked scan's causal sum over earlier tokens. A
/// tile of rows i0 .. i0 + T - 1 then needs k < i0 + T only; the terms it
/// skips are products with +0.0, which add nothing to a finite sum.
bool isCausal(linalg::GenericOp op, const ContractionShape &shape) {
  Block &body = op.getRegion().front();
  arith::AddFOp sum = ssmc::cuda::finalSum(op);
  BlockArgument acc = body.getArgument(body.getNumArguments() - 1);
  Value term = sum.getLhs() == acc ? sum.getRhs() : sum.getLhs();
  SmallVector<Value> leaves;
  collectFactors(term, body, leaves);
  auto indexOf = [](Value v) -> std::optional<unsigned> {
    if (auto idx = v.getDefiningOp<linalg::IndexOp>())
      return idx.getDim();
    return std::nullopt;
  };
  for (Value leaf : leaves) {
    auto select = leaf.getDefiningOp<arith::SelectOp>();
    auto zero = select ? select.getFalseValue().getDefiningOp<arith::ConstantOp>() : nullptr;
    auto zeroValue = zero ? dyn_cast<FloatAttr>(zero.getValue()) : FloatAttr();
    auto cmp = select ? select.getCondition().getDefiningOp<arith::CmpIOp>() : nullptr;
    if (!zeroValue || !zeroValue.getValue().isZero() || !cmp)
      continue;
    std::optional<unsigned> lhs = indexOf(cmp.getLhs()), rhs = indexOf(cmp.getRhs());
    if (!lhs || !rhs)
      continue;
    using P = arith::CmpIPredicate;
    P pred = cmp.getPredicate();
    bool kFirst = *lhs == shape.k && *rhs == shape.i, iFirst = *lhs == shape.i && *rhs == shape.k;
    if ((kFirst && (pred == P::ule || pred == P::ult || pred == P::sle || pred == P::slt)) ||
        (iFirst && (pred == P::uge || pred == P::ugt || pred == P::sge || pred == P::sgt)))
      return true;
  }
  return false;
}

/// The mma.sync plan for `op`, when the model's type is half precision and
/// the term factors into an i-side and a j-side.
std::optional<MMAPlan> planMMA(linalg::GenericOp op, const ContractionShape &shape,
                               Type modelType) {
  if (!modelType || !(modelType.isBF16() || modelType.isF16()))
    return std::nullopt;
  Block &body = op.getRegion().front();
  arith::AddFOp sum = ssmc::cuda::finalSum(op);
  BlockArgument acc = body.getArgument(body.getNumArguments() - 1);
  if (!acc.getType().isF32())
    return std::nullopt;
  Value term = sum.getLhs() == acc ? sum.getRhs() : sum.getLhs();
  MMAPlan plan;
  plan.element = modelType;
  int64_t extentK = op.getStaticLoopRanges()[shape.k];
  plan.kSlice = extentK % 32 == 0 ? 32 : 16;
  SmallVector<Value> leaves;
  collectFactors(term, body, leaves);
  for (Value leaf : leaves) {
    if (!leaf.getType().isF32())
      return std::nullopt;
    std::optional<llvm::SmallBitVector> loops = loopsOf(leaf, op, body);
    if (!loops)
      return std::nullopt;
    bool readsI = loops->test(shape.i), readsJ = loops->test(shape.j);
    if (readsI && readsJ)
      return std::nullopt;
    (readsJ ? plan.bLeaves : plan.aLeaves).push_back(leaf);
  }
  if (plan.aLeaves.empty() || plan.bLeaves.empty())
    return std::nullopt;
  return plan;
}

struct GPUTileContractionsPass
    : ssmc::cuda::impl::GPUTileContractionsBase<GPUTileContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    Type modelType = tensorCores ? ssmc::modelElementType(getOperation()) : Type();
    SmallVector<Contraction, 16> ops;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<ContractionShape> shape = match(op))
        ops.push_back({op, *shape, planMMA(op, *shape, modelType)});
    });
    // Pair each contraction with a sibling whose sums its consumer also
    // reads; the sibling is computed in the same kernel, not on its own.
    llvm::DenseMap<Operation *, Sibling> siblings;
    llvm::DenseSet<Operation *> absorbed;
    // A kernel holds two sums at most: a contraction that already has a
    // sibling is not absorbed into a third's kernel.
    for (Contraction &c : ops) {
      if (absorbed.contains(c.op))
        continue;
      std::optional<Sibling> sibling = findSibling(c, ops);
      if (!sibling || siblings.count(sibling->c.op) || absorbed.contains(sibling->c.op))
        continue;
      absorbed.insert(sibling->c.op);
      siblings.try_emplace(c.op, *sibling);
    }
    for (Contraction &c : ops) {
      if (absorbed.contains(c.op))
        continue;
      auto it = siblings.find(c.op);
      rewrite(c.op, c.shape, c.mma, it == siblings.end() ? nullptr : &it->second);
    }
  }

  struct Contraction {
    linalg::GenericOp op;
    ContractionShape shape;
    std::optional<MMAPlan> mma;
  };
  /// A contraction computed in another's kernel: both sum over the same
  /// output tiles and one elementwise consumer reads both sums (the chunked
  /// scan's Y_diag beside S . C). `loops[d]` is the kernel op's loop that
  /// the sibling's loop d corresponds to (through the outputs' indices).
  struct Sibling {
    Contraction c;
    SmallVector<unsigned> loops;
  };

  /// The sibling of `c` (see Sibling) among `ops`: a contraction earlier in
  /// the same block whose output is a local buffer that is zero-filled
  /// right before it, read only by `c`'s foldable consumer, at the same
  /// (identity) indices as `c`'s output, with the same roles of its output
  /// dims and the same kind of product; nothing between the two may write
  /// what the sibling reads.
  std::optional<Sibling> findSibling(Contraction &c, MutableArrayRef<Contraction> ops) {
    Value out = c.op.getDpsInits()[0];
    linalg::GenericOp consumer = ssmc::cuda::foldableConsumerOf(c.op, out, /*allowBroadcast=*/false);
    if (!consumer || consumer.getDpsInits()[0] == out)
      return std::nullopt;
    for (OpOperand *input : consumer.getDpsInputOperands()) {
      Value buffer = input->get();
      if (buffer == out || !consumer.getMatchingIndexingMap(input).isIdentity() ||
          !buffer.getDefiningOp<memref::AllocOp>())
        continue;
      Contraction *sib = llvm::find_if(ops, [&](Contraction &o) {
        return o.op != c.op && o.op.getDpsInits()[0] == buffer;
      });
      if (sib == ops.end() || sib->op->getBlock() != c.op->getBlock() ||
          !sib->op->isBeforeInBlock(c.op) || sib->mma.has_value() != c.mma.has_value())
        continue;
      bool onlyExpectedUsers = llvm::all_of(buffer.getUsers(), [&](Operation *user) {
        return user == sib->op.getOperation() || user == consumer.getOperation() ||
               isa<memref::DeallocOp, linalg::FillOp>(user);
      });
      if (!onlyExpectedUsers || !ssmc::cuda::zeroFillBefore(sib->op, buffer) ||
          ssmc::cuda::inPlaceProducerOfInit(sib->op))
        continue;
      // Output dim p is loop map(p) of each: the roles must agree.
      AffineMap mine = c.op.getIndexingMapsArray().back(),
                theirs = sib->op.getIndexingMapsArray().back();
      if (mine.getNumResults() != theirs.getNumResults() || !mine.isProjectedPermutation() ||
          !theirs.isProjectedPermutation())
        continue;
      Sibling sibling{*sib, SmallVector<unsigned>(sib->op.getNumLoops(), ~0u)};
      bool rolesAgree = true;
      for (unsigned p = 0; p < mine.getNumResults(); ++p) {
        unsigned m = mine.getDimPosition(p), t = theirs.getDimPosition(p);
        rolesAgree &= (m == c.shape.i) == (t == sib->shape.i) && (m == c.shape.j) == (t == sib->shape.j);
        sibling.loops[t] = m;
      }
      if (!rolesAgree)
        continue;
      // What the sibling reads must hold the same values where the kernel
      // runs (at `c`).
      llvm::SmallPtrSet<Value, 8> roots;
      for (Value read : sib->op.getDpsInputs())
        if (isa<BaseMemRefType>(read.getType()))
          roots.insert(ssmc::rootBuffer(read));
      bool clobbered = false;
      for (Operation *between = sib->op->getNextNode(); between != c.op.getOperation();
           between = between->getNextNode())
        clobbered |= mayWriteAny(between, roots);
      if (clobbered)
        continue;
      return sibling;
    }
    return std::nullopt;
  }

  /// Whether `op` (or an op inside it) may write or free a buffer whose root
  /// is in `roots`.
  static bool mayWriteAny(Operation *op, const llvm::SmallPtrSetImpl<Value> &roots) {
    bool writes = false;
    op->walk([&](Operation *inner) {
      if (auto effects = dyn_cast<MemoryEffectOpInterface>(inner)) {
        SmallVector<MemoryEffects::EffectInstance> instances;
        effects.getEffects(instances);
        for (MemoryEffects::EffectInstance &e : instances) {
          if (!isa<MemoryEffects::Write, MemoryEffects::Free>(e.getEffect()))
            continue;
          Value v = e.getValue();
          writes |= !v || !isa<BaseMemRefType>(v.getType()) || roots.contains(ssmc::rootBuffer(v));
        }
        return;
      }
      if (inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        return;
      for (Value operand : inner->getOperands())
        writes |= isa<BaseMemRefType>(operand.getType()) && roots.contains(ssmc::rootBuffer(operand));
    });
    return writes;
  }

  /// What a thread computes: its sums and, per sum, the loop values i and j
  /// of the output element it belongs to.
  struct ThreadSums {
    SmallVector<Value> sums, rows, cols;
    /// Sums 2m and 2m + 1 are adjacent columns of one row (mma fragments).
    bool pairedColumns = false;
  };

  /// Whether pairs of `buffer`'s elements along its innermost dim that
  /// start at an even index are aligned to twice the element size: a
  /// uniform value computed from the view's base, offset and strides.
  Value pairsAligned(OpBuilder &b, Location loc, Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    int64_t elementBytes = type.getElementTypeBitWidth() / 8;
    auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
    auto even = [&](Value v) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                   arith::RemUIOp::create(b, loc, v, index(2)), index(0));
    };
    auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
    Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                     arith::RemUIOp::create(b, loc, base, index(2 * elementBytes)),
                                     index(0));
    ok = arith::AndIOp::create(b, loc, ok, even(metadata.getOffset()));
    for (Value stride : metadata.getStrides().drop_back())
      ok = arith::AndIOp::create(b, loc, ok, even(stride));
    return ok;
  }

  void rewrite(linalg::GenericOp op, const ContractionShape &shape,
               const std::optional<MMAPlan> &mma, Sibling *sibling) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
    Value out = op.getDpsInits()[0];
    // An in-place elementwise op on the output right before (the decay of
    // the carried state) is applied to the value each store reads.
    linalg::GenericOp producer = ssmc::cuda::inPlaceProducerOfInit(op);
    linalg::GenericOp consumer =
        ssmc::cuda::foldableConsumerOf(op, out, /*allowBroadcast=*/false);
    if (consumer)
      ssmc::cuda::hoistBetween(op, consumer);
    b.setInsertionPoint(op);

    SmallVector<int64_t> staticRanges = op.getStaticLoopRanges();
    SmallVector<Range, 4> ranges = cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
    auto size = [&](unsigned d) { return getValueOrCreateConstantIndexOp(b, loc, ranges[d].size); };
    // Tiles of 64 x 64 (4 x 4 sums per thread) unless that leaves the GPU
    // with few blocks for a static problem; then 32 x 32 (2 x 2).
    // A dynamic batch loop counts as 1 (the batch of sequences, often 1 at
    // prefill), except that a second one (the chunk loop of the all-chunks
    // scan: one per 128 tokens) is assumed to supply at least 8.
    int64_t tile = 64;
    int64_t staticBlocks = 1;
    bool seenDynamic = false;
    for (unsigned d : shape.batch) {
      bool dynamic = ShapedType::isDynamic(staticRanges[d]);
      staticBlocks *= !dynamic ? staticRanges[d] : seenDynamic ? 8 : 1;
      seenDynamic |= dynamic;
    }
    for (unsigned d : {shape.i, shape.j})
      staticBlocks *= ShapedType::isDynamic(staticRanges[d]) ? 1 : (staticRanges[d] + 63) / 64;
    if (staticBlocks < minBlocks)
      tile = 32;

    Value sizeI = size(shape.i), sizeJ = size(shape.j);
    Value tilesI = arith::CeilDivUIOp::create(b, loc, sizeI, index(tile));
    Value tilesJ = arith::CeilDivUIOp::create(b, loc, sizeJ, index(tile));
    SmallVector<Value> batchSizes;
    Value blocks = arith::MulIOp::create(b, loc, tilesI, tilesJ);
    for (unsigned d : shape.batch) {
      batchSizes.push_back(size(d));
      blocks = arith::MulIOp::create(b, loc, blocks, batchSizes.back());
    }

    auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    SmallVector<Type> attributions;
    SmallVector<OpOperand *> inputs = op.getDpsInputOperands();
    unsigned siblingMemory = 0; // the sibling's first workgroup buffer
    if (mma) {
      // The rounded factors A[i, k] and B[j, k] (k innermost, two values
      // per 32-bit word as the mma fragments hold them). Rows padded by 4
      // words: the 8 rows a fragment load reads start in distinct banks.
      // A sibling's sums run after these and reuse the two buffers.
      Type word = b.getI32Type();
      int64_t slice = std::max(mma->kSlice, sibling ? sibling->c.mma->kSlice : 0);
      for (int n = 0; n < 2; ++n)
        attributions.push_back(MemRefType::get({tile, slice / 2 + 4}, word, AffineMap(), workgroup));
    } else {
      // A 16 x (T + 1) tile per i- or j-operand (padded rows: the
      // column-wise stores of k-innermost operands do not all hit one
      // bank), 16 values per k-only operand, none for batch-only inputs.
      auto stage = [&](linalg::GenericOp staged, const ContractionShape &roles) {
        for (auto [n, input] : llvm::enumerate(staged.getDpsInputOperands())) {
          if (roles.roles[n] == 'n')
            continue;
          Type element = cast<MemRefType>(input->get().getType()).getElementType();
          SmallVector<int64_t> tileShape =
              roles.roles[n] == 'k' ? SmallVector<int64_t>{kTileK}
                                    : SmallVector<int64_t>{kTileK, tile + 1};
          attributions.push_back(MemRefType::get(tileShape, element, AffineMap(), workgroup));
        }
      };
      stage(op, shape);
      siblingMemory = attributions.size();
      if (sibling)
        stage(sibling->c.op, sibling->c.shape);
    }
    Value c1 = index(1);
    auto launch = gpu::LaunchOp::create(b, loc, blocks, c1, c1, index(kThreadsPerSide * kThreadsPerSide),
                                        c1, c1, /*dynamicSharedMemorySize=*/nullptr,
                                        /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
                                        attributions);
    linalg::FillOp zeroFill = ssmc::cuda::zeroFillBefore(launch, out);
    b.setInsertionPointToStart(&launch.getBody().front());
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPoint(launch.getBody().front().getTerminator());

    // Block -> (batch..., tile of i, tile of j).
    Value rest = launch.getBlockIds().x;
    Value tileJ = arith::RemUIOp::create(b, loc, rest, tilesJ);
    rest = arith::DivUIOp::create(b, loc, rest, tilesJ);
    Value tileI = arith::RemUIOp::create(b, loc, rest, tilesI);
    rest = arith::DivUIOp::create(b, loc, rest, tilesI);
    SmallVector<Value> ivs(op.getNumLoops());
    for (int64_t n = static_cast<int64_t>(shape.batch.size()) - 1; n >= 0; --n) {
      if (n == 0) {
        ivs[shape.batch[n]] = rest;
        break;
      }
      ivs[shape.batch[n]] = arith::RemUIOp::create(b, loc, rest, batchSizes[n]);
      rest = arith::DivUIOp::create(b, loc, rest, batchSizes[n]);
    }
    TileFrame frame{b,      loc,    op,    shape, launch, ivs,
                    arith::MulIOp::create(b, loc, tileI, index(tile)),
                    arith::MulIOp::create(b, loc, tileJ, index(tile)),
                    arith::SubIOp::create(b, loc, sizeI, c1),
                    arith::SubIOp::create(b, loc, sizeJ, c1), tile};
    ThreadSums sums = mma ? emitMMASums(frame, *mma) : emitFMASums(frame);
    // The sibling's sums over the same tile, from its own operands.
    std::optional<ThreadSums> siblingSums;
    linalg::FillOp siblingFill;
    if (sibling) {
      linalg::GenericOp sib = sibling->c.op;
      siblingFill = ssmc::cuda::zeroFillBefore(sib, sib.getDpsInits()[0]);
      SmallVector<Value> sibIvs(sib.getNumLoops());
      for (unsigned d : sibling->c.shape.batch)
        sibIvs[d] = ivs[sibling->loops[d]];
      TileFrame sibFrame{b,     loc,      sib,      sibling->c.shape, launch, sibIvs,
                         frame.i0, frame.j0, frame.lastI, frame.lastJ, tile, siblingMemory};
      siblingSums = mma ? emitMMASums(sibFrame, *sibling->c.mma) : emitFMASums(sibFrame);
      assert(siblingSums->sums.size() == sums.sums.size() && "sibling tiles differ");
    }

    // Store the sums of in-range outputs (or the consumer's values there).
    // When every tile is whole (static extents of i and j, multiples of the
    // tile) no output needs a guard: all values are computed first and
    // stored after, so that no store lies between two loads of the same
    // element (the consumer's per-row or per-column operands, read once
    // per sum), and the loads can be shared.
    auto wholeTiles = [&](unsigned d) {
      return !ShapedType::isDynamic(staticRanges[d]) && staticRanges[d] % tile == 0;
    };
    bool guarded = !wholeTiles(shape.i) || !wholeTiles(shape.j);
    // An occupancy request (ssm-gpu-kernel-occupancy) rides on the stores:
    // ops with effects that no canonicalization before outlining removes.
    // Only kernels with a sibling ask: two sets of sums make them the ones
    // ptxas gives the most registers (128, two blocks per multiprocessor),
    // while the request lets it use up to the limit in lighter ones.
    auto requestOccupancy = [&](Operation *store) {
      if (minBlocksPerSM > 0 && sibling)
        store->setAttr("ssmc.min_blocks_per_sm", b.getI64IntegerAttr(minBlocksPerSM));
    };
    struct PendingStore {
      Value value, buffer;
      SmallVector<Value> indices;
    };
    SmallVector<PendingStore> pending;
    for (auto [e, total, row, col] : llvm::enumerate(sums.sums, sums.rows, sums.cols)) {
      SmallVector<Value> outIvs(ivs);
      outIvs[shape.i] = row;
      outIvs[shape.j] = col;
      OpBuilder::InsertionGuard g(b);
      if (guarded) {
        Value inRange = arith::AndIOp::create(
            b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, sizeI),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, col, sizeJ));
        auto ifStore = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
        b.setInsertionPointToStart(ifStore.thenBlock());
      }
      SmallVector<Value> outIndices = frame.operandIndices(op.getNumDpsInputs(), outIvs);
      Value value = total;
      if (!zeroFill) {
        Value before = producer ? ssmc::cuda::evaluateBodyAt(b, loc, producer, outIndices)
                                : memref::LoadOp::create(b, loc, out, outIndices).getResult();
        value = arith::AddFOp::create(b, loc, before, value);
      }
      PendingStore store{value, out, outIndices};
      if (consumer) {
        SmallVector<std::pair<Value, Value>, 2> known = {{out, value}};
        if (siblingSums)
          known.push_back({sibling->c.op.getDpsInits()[0], siblingSums->sums[e]});
        store.value = ssmc::cuda::evaluateBodyAt(b, loc, consumer, outIndices, known);
        store.buffer = consumer.getDpsInits()[0];
      }
      if (guarded)
        requestOccupancy(memref::StoreOp::create(b, loc, store.value, store.buffer, store.indices));
      else
        pending.push_back(std::move(store));
    }
    // Adjacent columns of an mma fragment go out as one store of two
    // elements (half the store instructions) when j is the innermost,
    // contiguous dim of the stored buffer and the view is aligned for it.
    auto storeAll = [&]() {
      for (PendingStore &store : pending)
        requestOccupancy(memref::StoreOp::create(b, loc, store.value, store.buffer, store.indices));
    };
    Value storedBuffer = pending.empty() ? Value() : pending.front().buffer;
    bool pairable = sums.pairedColumns && storedBuffer &&
                    llvm::all_of(pending, [&](const PendingStore &st) { return st.buffer == storedBuffer; });
    if (pairable) {
      auto type = cast<MemRefType>(storedBuffer.getType());
      SmallVector<int64_t> strides;
      int64_t offset;
      AffineMap outMap = op.getIndexingMapsArray().back();
      std::optional<unsigned> jDim = outMap.getResultPosition(getAffineDimExpr(shape.j, op.getContext()));
      pairable = succeeded(type.getStridesAndOffset(strides, offset)) && !strides.empty() &&
                 strides.back() == 1 && jDim && *jDim + 1 == strides.size();
    }
    if (pairable) {
      auto ifAligned = scf::IfOp::create(b, loc, pairsAligned(b, loc, storedBuffer),
                                         /*withElseRegion=*/true);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(ifAligned.thenBlock());
      Type element = cast<MemRefType>(storedBuffer.getType()).getElementType();
      int64_t pairBytes = 2 * cast<MemRefType>(storedBuffer.getType()).getElementTypeBitWidth() / 8;
      for (size_t n = 0; n + 1 < pending.size(); n += 2) {
        Value pair = vector::FromElementsOp::create(b, loc, VectorType::get({2}, element),
                                                    ValueRange{pending[n].value, pending[n + 1].value});
        requestOccupancy(vector::StoreOp::create(b, loc, pair, storedBuffer, pending[n].indices,
                                                 /*nontemporal=*/false,
                                                 llvm::MaybeAlign(pairBytes)));
      }
      b.setInsertionPointToStart(ifAligned.elseBlock());
      storeAll();
    } else {
      storeAll();
    }
    if (zeroFill)
      zeroFill.erase();
    if (consumer)
      consumer.erase();
    if (producer)
      producer.erase();
    op.erase();
    if (sibling) {
      Value sibOut = sibling->c.op.getDpsInits()[0];
      if (siblingFill)
        siblingFill.erase();
      sibling->c.op.erase();
      // Nothing reads the sibling's buffer any more.
      if (llvm::all_of(sibOut.getUsers(), [](Operation *u) { return isa<memref::DeallocOp>(u); })) {
        for (Operation *user : llvm::make_early_inc_range(sibOut.getUsers()))
          user->erase();
        sibOut.getDefiningOp()->erase();
      }
    }
  }

  /// The kernel being built: where its block's tile starts and how
  /// operands are indexed.
  struct TileFrame {
    OpBuilder &b;
    Location loc;
    linalg::GenericOp op;
    const ContractionShape &shape;
    gpu::LaunchOp launch;
    SmallVector<Value> ivs; ///< batch loops set; i, j, k unset
    Value i0, j0, lastI, lastJ;
    int64_t tile;
    unsigned firstMemory = 0; ///< the op's first workgroup buffer (CUDA-core path)

    /// Where the sum over k stops for this block: the extent of k, or for
    /// a causal term (isCausal) the end of the tile's rows rounded up to
    /// whole slices of `slice`.
    Value kEnd(int64_t slice) {
      int64_t extentK = op.getStaticLoopRanges()[shape.k];
      if (!isCausal(op, shape))
        return index(extentK);
      Value rowsEnd = add(i0, tile);
      Value rounded = arith::MulIOp::create(
          b, loc, arith::CeilDivUIOp::create(b, loc, rowsEnd, index(slice)), index(slice));
      return arith::MinUIOp::create(b, loc, rounded, index(extentK));
    }

    Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
    Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
    Value add(Value x, int64_t y) { return y == 0 ? x : add(x, index(y)); }

    /// Indices of operand `operand` at loop values `loopIvs`.
    SmallVector<Value> operandIndices(unsigned operand, ArrayRef<Value> loopIvs) {
      SmallVector<Value> indices;
      for (AffineExpr e : op.getIndexingMapsArray()[operand].getResults()) {
        Value iv = loopIvs[*loopOf(e)];
        if (auto bin = dyn_cast<AffineBinaryOpExpr>(e))
          iv = arith::DivUIOp::create(b, loc, iv,
                                      index(cast<AffineConstantExpr>(bin.getRHS()).getValue()));
        indices.push_back(iv);
      }
      return indices;
    }
  };

  /// CUDA cores: 16 x 16 threads, (T/16)^2 f32 sums each; the op's body
  /// cloned per output element and k.
  ThreadSums emitFMASums(TileFrame &f) {
    OpBuilder &b = f.b;
    Location loc = f.loc;
    linalg::GenericOp op = f.op;
    const ContractionShape &shape = f.shape;
    auto index = [&](int64_t v) { return f.index(v); };
    Value c1 = index(1);
    int64_t tile = f.tile;
    int64_t perThread = tile / kThreadsPerSide;
    SmallVector<Value> &ivs = f.ivs;
    Value tid = f.launch.getThreadIds().x;
    Value tx = arith::RemUIOp::create(b, loc, tid, index(kThreadsPerSide));
    Value ty = arith::DivUIOp::create(b, loc, tid, index(kThreadsPerSide));
    auto maps = op.getIndexingMapsArray();
    SmallVector<OpOperand *> inputs = op.getDpsInputOperands();
    MLIRContext *ctx = op.getContext();
    // Each staged input's workgroup tile; a batch-only input is read once.
    SmallVector<Value> workgroupMemory, batchOnly(inputs.size());
    {
      auto attributions = f.launch.getWorkgroupAttributions();
      unsigned next = f.firstMemory;
      for (auto [n, input] : llvm::enumerate(inputs)) {
        if (shape.roles[n] != 'n') {
          workgroupMemory.push_back(attributions[next++]);
          continue;
        }
        workgroupMemory.push_back(Value());
        batchOnly[n] = memref::LoadOp::create(b, loc, input->get(),
                                              f.operandIndices(input->getOperandNumber(), ivs));
      }
    }

    Block &body = op.getRegion().front();
    arith::AddFOp sum = ssmc::cuda::finalSum(op);
    BlockArgument accArg = body.getArgument(body.getNumArguments() - 1);
    Value term = sum.getLhs() == accArg ? sum.getRhs() : sum.getLhs();
    Type accType = accArg.getType();
    Value zero = arith::ConstantOp::create(b, loc, accType, b.getZeroAttr(accType));
    int64_t sums = perThread * perThread;

    auto kTiles = scf::ForOp::create(b, loc, index(0), f.kEnd(kTileK), index(kTileK),
                                     SmallVector<Value>(sums, zero));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(kTiles.getBody());
      Value k0 = kTiles.getInductionVar();
      // Stage this K-slice of every operand. A thread loads T * 16 / 256
      // elements of an i/j tile; consecutive threads take consecutive k
      // when k is the operand's innermost index, else consecutive i/j, so
      // that their global loads are contiguous.
      for (auto [n, input] : llvm::enumerate(inputs)) {
        unsigned operand = input->getOperandNumber();
        Value smem = workgroupMemory[n];
        if (shape.roles[n] == 'n')
          continue;
        if (shape.roles[n] == 'k') {
          Value isLoader = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, tid, index(kTileK));
          auto ifLoad = scf::IfOp::create(b, loc, isLoader, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPointToStart(ifLoad.thenBlock());
          SmallVector<Value> loadIvs(ivs);
          loadIvs[shape.k] = arith::AddIOp::create(b, loc, k0, tid);
          Value v = memref::LoadOp::create(b, loc, input->get(), f.operandIndices(operand, loadIvs));
          memref::StoreOp::create(b, loc, v, smem, ValueRange{tid});
          continue;
        }
        bool isI = shape.roles[n] == 'i';
        unsigned rowDim = isI ? shape.i : shape.j;
        Value origin = isI ? f.i0 : f.j0, last = isI ? f.lastI : f.lastJ;
        AffineMap map = maps[operand];
        bool kInnermost = map.getResults().back() == getAffineDimExpr(shape.k, ctx);
        for (int64_t m = 0; m < tile * kTileK / (kThreadsPerSide * kThreadsPerSide); ++m) {
          Value e = arith::AddIOp::create(b, loc, tid, index(m * kThreadsPerSide * kThreadsPerSide));
          Value kk = kInnermost ? arith::RemUIOp::create(b, loc, e, index(kTileK)).getResult()
                                : arith::DivUIOp::create(b, loc, e, index(tile)).getResult();
          Value rr = kInnermost ? arith::DivUIOp::create(b, loc, e, index(kTileK)).getResult()
                                : arith::RemUIOp::create(b, loc, e, index(tile)).getResult();
          SmallVector<Value> loadIvs(ivs);
          loadIvs[shape.k] = arith::AddIOp::create(b, loc, k0, kk);
          // Rows past the edge re-read the last row (in bounds); their sums
          // are never stored.
          loadIvs[rowDim] =
              arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, origin, rr), last);
          Value v = memref::LoadOp::create(b, loc, input->get(), f.operandIndices(operand, loadIvs));
          memref::StoreOp::create(b, loc, v, smem, ValueRange{kk, rr});
        }
      }
      gpu::BarrierOp::create(b, loc);
      auto kLoop = scf::ForOp::create(b, loc, index(0), index(kTileK), c1, kTiles.getRegionIterArgs());
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(kLoop.getBody());
        Value kk = kLoop.getInductionVar();
        // This thread's rows ty + 16 r and columns tx + 16 c of the tile:
        // a warp reads 16 consecutive columns (no bank conflicts) and two
        // rows (broadcasts).
        SmallVector<SmallVector<Value>> operandValues(inputs.size());
        for (auto [n, input] : llvm::enumerate(inputs)) {
          Value smem = workgroupMemory[n];
          if (shape.roles[n] == 'n') {
            operandValues[n].push_back(batchOnly[n]);
            continue;
          }
          if (shape.roles[n] == 'k') {
            operandValues[n].push_back(memref::LoadOp::create(b, loc, smem, ValueRange{kk}));
            continue;
          }
          Value base = shape.roles[n] == 'i' ? ty : tx;
          for (int64_t r = 0; r < perThread; ++r) {
            Value at = arith::AddIOp::create(b, loc, base, index(r * kThreadsPerSide));
            operandValues[n].push_back(memref::LoadOp::create(b, loc, smem, ValueRange{kk, at}));
          }
        }
        bool usesIndices = !body.getOps<linalg::IndexOp>().empty();
        SmallVector<Value> next;
        for (int64_t r = 0; r < perThread; ++r) {
          for (int64_t c = 0; c < perThread; ++c) {
            IRMapping mapping;
            for (auto [n, input] : llvm::enumerate(inputs)) {
              Value v = shape.roles[n] == 'i'   ? operandValues[n][r]
                        : shape.roles[n] == 'j' ? operandValues[n][c]
                                                : operandValues[n][0];
              mapping.map(body.getArgument(input->getOperandNumber()), v);
            }
            SmallVector<Value> termIvs(ivs);
            if (usesIndices) {
              termIvs[shape.k] = arith::AddIOp::create(b, loc, kTiles.getInductionVar(), kk);
              termIvs[shape.i] = f.add(f.i0, f.add(ty, r * kThreadsPerSide));
              termIvs[shape.j] = f.add(f.j0, f.add(tx, c * kThreadsPerSide));
            }
            for (Operation &inner : body.without_terminator()) {
              if (&inner == sum.getOperation())
                break;
              if (auto idx = dyn_cast<linalg::IndexOp>(inner)) {
                mapping.map(idx.getResult(), termIvs[idx.getDim()]);
                continue;
              }
              b.clone(inner, mapping);
            }
            Value acc = kLoop.getRegionIterArgs()[r * perThread + c];
            next.push_back(arith::AddFOp::create(b, loc, acc, mapping.lookupOrDefault(term)));
          }
        }
        scf::YieldOp::create(b, loc, next);
      }
      // The next K-slice overwrites the tiles: everyone must be done.
      gpu::BarrierOp::create(b, loc);
      scf::YieldOp::create(b, loc, kLoop.getResults());
    }
    ThreadSums result;
    for (int64_t r = 0; r < perThread; ++r) {
      for (int64_t c = 0; c < perThread; ++c) {
        result.sums.push_back(kTiles.getResult(r * perThread + c));
        result.rows.push_back(f.add(f.i0, f.add(ty, r * kThreadsPerSide)));
        result.cols.push_back(f.add(f.j0, f.add(tx, c * kThreadsPerSide)));
      }
    }
    return result;
  }

  /// Tensor cores: 8 warps as 2 x 4, each owning (T/2) x (T/4) of the tile
  /// as (T/32) x (T/32) mma tiles of 16 x 8. Per K-slice the block stages
  /// the rounded factors A (T x slice) and B (T x slice) in workgroup memory,
  /// then each warp runs slice/16 steps of m16n8k16 on its fragments.
  ThreadSums emitMMASums(TileFrame &f, const MMAPlan &plan) {
    OpBuilder &b = f.b;
    Location loc = f.loc;
    linalg::GenericOp op = f.op;
    const ContractionShape &shape = f.shape;
    MLIRContext *ctx = op.getContext();
    auto index = [&](int64_t v) { return f.index(v); };
    int64_t tile = f.tile, slice = plan.kSlice, words = slice / 2;
    int64_t warpRows = tile / 2, warpCols = tile / 4;
    int64_t mTiles = warpRows / 16, nTiles = warpCols / 8;
    Type f32 = b.getF32Type(), i32 = b.getI32Type(), i16 = b.getI16Type();
    Value tid = f.launch.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, tid, index(32));
    Value warp = arith::DivUIOp::create(b, loc, tid, index(32));
    Value group = arith::DivUIOp::create(b, loc, lane, index(4));   // row of a fragment
    Value inGroup = arith::RemUIOp::create(b, loc, lane, index(4)); // word of a fragment
    Value warpRow = arith::MulIOp::create(b, loc, arith::DivUIOp::create(b, loc, warp, index(4)),
                                          index(warpRows));
    Value warpCol = arith::MulIOp::create(b, loc, arith::RemUIOp::create(b, loc, warp, index(4)),
                                          index(warpCols));
    auto smem = f.launch.getWorkgroupAttributions();
    Block &body = op.getRegion().front();
    int64_t accs = mTiles * nTiles * 4;
    Value zero = arith::ConstantOp::create(b, loc, f32, b.getZeroAttr(f32));

    // The body ops each side's leaves need, in body order.
    auto neededFor = [&](ArrayRef<Value> leaves) {
      llvm::SmallPtrSet<Operation *, 16> needed;
      SmallVector<Value> work(leaves.begin(), leaves.end());
      while (!work.empty()) {
        Value v = work.pop_back_val();
        Operation *def = v.getDefiningOp();
        if (!def || def->getBlock() != &body || !needed.insert(def).second)
          continue;
        llvm::append_range(work, def->getOperands());
      }
      return needed;
    };
    struct Side {
      ArrayRef<Value> leaves;
      llvm::SmallPtrSet<Operation *, 16> ops;
      unsigned rowLoop;
      Value origin, last;
      bool kInnermost = true;
      OpOperand *pairInput = nullptr; ///< see the paired loads below
    };
    Side sides[2] = {{plan.aLeaves, neededFor(plan.aLeaves), shape.i, f.i0, f.lastI},
                     {plan.bLeaves, neededFor(plan.bLeaves), shape.j, f.j0, f.lastJ}};
    // Global loads are contiguous across threads along k when the first
    // operand the side reads that has a row index has k innermost.
    for (Side &side : sides) {
      for (auto [n, input] : llvm::enumerate(op.getDpsInputOperands())) {
        if (shape.roles[n] != (&side == &sides[0] ? 'i' : 'j'))
          continue;
        AffineMap map = op.getMatchingIndexingMap(input);
        side.kInnermost = map.getResults().back() == getAffineDimExpr(shape.k, ctx);
        break;
      }
    }

    // A side whose factor is one operand of the model's type widened
    // (extf), read with k innermost at unit stride, has as its word that
    // operand's two k-consecutive elements as they are: one 4-byte load
    // instead of two 2-byte loads and the rounding (exact here). Used where
    // every such view is aligned for it (checked at run time, uniform).
    // Behind the `paired-loads` option until measured on a GPU.
    Value pairsOK;
    for (Side &side : sides) {
      if (!pairedLoads || !side.kInnermost || side.leaves.size() != 1)
        continue;
      auto ext = side.leaves[0].getDefiningOp<arith::ExtFOp>();
      auto arg = ext ? dyn_cast<BlockArgument>(ext.getIn()) : BlockArgument();
      if (!arg || arg.getOwner() != &body || arg.getType() != plan.element ||
          arg.getArgNumber() >= op.getNumDpsInputs())
        continue;
      OpOperand *input = op.getDpsInputOperand(arg.getArgNumber());
      if (op.getMatchingIndexingMap(input).getResults().back() != getAffineDimExpr(shape.k, ctx))
        continue;
      SmallVector<int64_t> strides;
      int64_t offset;
      if (failed(cast<MemRefType>(input->get().getType()).getStridesAndOffset(strides, offset)) ||
          strides.empty() || strides.back() != 1)
        continue;
      side.pairInput = input;
      Value aligned = pairsAligned(b, loc, input->get());
      pairsOK = pairsOK ? arith::AndIOp::create(b, loc, pairsOK, aligned).getResult() : aligned;
    }
    // The word of k and k + 1 of a paired side at row `row` (unclamped).
    auto pairAt = [&](Side &side, Value row, Value k) {
      SmallVector<Value> loopIvs(f.ivs);
      loopIvs[shape.k] = k;
      loopIvs[side.rowLoop] = arith::MinUIOp::create(b, loc, row, side.last);
      Value pair = vector::LoadOp::create(
          b, loc, VectorType::get({2}, plan.element), side.pairInput->get(),
          f.operandIndices(side.pairInput->getOperandNumber(), loopIvs), /*nontemporal=*/false,
          llvm::MaybeAlign(4));
      Value word = vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), pair);
      return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0}).getResult();
    };

    // The side's factor at row `row` (unclamped) and k `k`, in f32.
    auto factorAt = [&](Side &side, Value row, Value k) {
      SmallVector<Value> loopIvs(f.ivs);
      loopIvs[shape.k] = k;
      loopIvs[side.rowLoop] = arith::MinUIOp::create(b, loc, row, side.last);
      SmallVector<Value> indexIvs(loopIvs);
      indexIvs[side.rowLoop] = row;
      IRMapping mapping;
      for (OpOperand *input : op.getDpsInputOperands()) {
        BlockArgument arg = body.getArgument(input->getOperandNumber());
        bool used = llvm::any_of(arg.getUsers(), [&](Operation *user) { return side.ops.contains(user); }) ||
                    llvm::is_contained(side.leaves, Value(arg));
        if (!used)
          continue;
        mapping.map(arg, memref::LoadOp::create(
                             b, loc, input->get(), f.operandIndices(input->getOperandNumber(), loopIvs)));
      }
      for (Operation &inner : body.without_terminator()) {
        if (!side.ops.contains(&inner))
          continue;
        if (auto idx = dyn_cast<linalg::IndexOp>(inner)) {
          mapping.map(idx.getResult(), indexIvs[idx.getDim()]);
          continue;
        }
        b.clone(inner, mapping);
      }
      Value product;
      for (Value leaf : side.leaves) {
        Value v = mapping.lookupOrDefault(leaf);
        product = product ? arith::MulFOp::create(b, loc, product, v).getResult() : v;
      }
      return product;
    };
    // Two factors rounded to the model's type in one word (lower k low).
    auto pack = [&](Value lo, Value hi) {
      auto bits = [&](Value v) {
        Value half = arith::TruncFOp::create(b, loc, plan.element, v);
        return arith::ExtUIOp::create(b, loc, i32, arith::BitcastOp::create(b, loc, i16, half));
      };
      Value high = arith::ShLIOp::create(b, loc, bits(hi),
                                         arith::ConstantIntOp::create(b, loc, i32, 16));
      return arith::OrIOp::create(b, loc, bits(lo), high).getResult();
    };

    // This thread's share of a slice: word w of row r of each side's tile.
    int64_t perThread = tile * words / (kThreadsPerSide * kThreadsPerSide);
    SmallVector<std::pair<Value, Value>> places; // (r, w) per side and m
    for (Side &side : sides) {
      for (int64_t m = 0; m < perThread; ++m) {
        Value e = f.add(tid, m * kThreadsPerSide * kThreadsPerSide);
        Value w = side.kInnermost ? arith::RemUIOp::create(b, loc, e, index(words)).getResult()
                                  : arith::DivUIOp::create(b, loc, e, index(tile)).getResult();
        Value r = side.kInnermost ? arith::DivUIOp::create(b, loc, e, index(words)).getResult()
                                  : arith::RemUIOp::create(b, loc, e, index(tile)).getResult();
        places.push_back({r, w});
      }
    }
    // The packed words of the slice starting at k0, in `places` order.
    auto loadWords = [&](Value k0, bool paired) {
      SmallVector<Value> packed;
      for (auto [s, side] : llvm::enumerate(sides)) {
        for (int64_t m = 0; m < perThread; ++m) {
          auto [r, w] = places[s * perThread + m];
          Value row = f.add(side.origin, r);
          Value k = f.add(k0, arith::MulIOp::create(b, loc, w, index(2)));
          if (paired && side.pairInput) {
            packed.push_back(pairAt(side, row, k));
            continue;
          }
          Value lo = factorAt(side, row, k);
          Value hi = factorAt(side, row, f.add(k, 1));
          packed.push_back(pack(lo, hi));
        }
      }
      return packed;
    };
    auto loadSlice = [&](Value k0) -> SmallVector<Value> {
      if (!pairsOK)
        return loadWords(k0, /*paired=*/false);
      auto ifPaired = scf::IfOp::create(b, loc, SmallVector<Type>(2 * perThread, i32), pairsOK,
                                        /*withElseRegion=*/true);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(ifPaired.thenBlock());
      scf::YieldOp::create(b, loc, loadWords(k0, /*paired=*/true));
      b.setInsertionPointToStart(ifPaired.elseBlock());
      scf::YieldOp::create(b, loc, loadWords(k0, /*paired=*/false));
      return SmallVector<Value>(ifPaired.getResults());
    };
    // Software pipelining through registers: the words of slice n + 1 are
    // loaded (and their factors computed) before the tensor-core steps of
    // slice n, so the global loads are in flight while the block computes;
    // the words are stored to workgroup memory at the top of the next
    // iteration. Every block has at least one slice (kEnd >= slice).
    Value kEnd = f.kEnd(slice);
    SmallVector<Value> initial(accs, zero);
    llvm::append_range(initial, loadSlice(index(0)));
    auto kTiles = scf::ForOp::create(b, loc, index(0), kEnd, index(slice), initial);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(kTiles.getBody());
      Value k0 = kTiles.getInductionVar();
      ValueRange staged = kTiles.getRegionIterArgs().drop_front(accs);
      for (auto [n, word] : llvm::enumerate(staged)) {
        auto [r, w] = places[n];
        memref::StoreOp::create(b, loc, word, smem[n / perThread], ValueRange{r, w});
      }
      gpu::BarrierOp::create(b, loc);
      Value nextK = f.add(k0, slice);
      Value hasNext = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, nextK, kEnd);
      auto prefetch = scf::IfOp::create(b, loc, TypeRange(ValueRange(staged)), hasNext,
                                        /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(prefetch.thenBlock());
        scf::YieldOp::create(b, loc, loadSlice(nextK));
        b.setInsertionPointToStart(prefetch.elseBlock());
        scf::YieldOp::create(b, loc, staged);
      }
      SmallVector<Value> acc(kTiles.getRegionIterArgs().take_front(accs));
      auto structType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
      for (int64_t step = 0; step < slice / 16; ++step) {
        Value w0 = f.add(inGroup, step * 8), w1 = f.add(inGroup, step * 8 + 4);
        // A fragment register: bf16 pairs are i32 to mma.sync, f16 pairs
        // vector<2xf16>.
        auto fragment = [&](Value tileMemory, Value row, Value word) -> Value {
          Value v = memref::LoadOp::create(b, loc, tileMemory, ValueRange{row, word});
          if (plan.element.isBF16())
            return v;
          Value asVector = vector::FromElementsOp::create(b, loc, VectorType::get({1}, i32), v);
          return vector::BitCastOp::create(b, loc, VectorType::get({2}, plan.element), asVector);
        };
        SmallVector<SmallVector<Value, 4>> aFrags, bFrags;
        for (int64_t mt = 0; mt < mTiles; ++mt) {
          Value r0 = f.add(f.add(warpRow, group), mt * 16), r1 = f.add(r0, 8);
          aFrags.push_back({fragment(smem[0], r0, w0), fragment(smem[0], r1, w0),
                            fragment(smem[0], r0, w1), fragment(smem[0], r1, w1)});
        }
        for (int64_t nt = 0; nt < nTiles; ++nt) {
          Value c0 = f.add(f.add(warpCol, group), nt * 8);
          bFrags.push_back({fragment(smem[1], c0, w0), fragment(smem[1], c0, w1)});
        }
        NVVM::MMATypes type = plan.element.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
        for (int64_t mt = 0; mt < mTiles; ++mt) {
          for (int64_t nt = 0; nt < nTiles; ++nt) {
            int64_t at = (mt * nTiles + nt) * 4;
            auto mmaOp = NVVM::MmaOp::create(
                b, loc, structType, aFrags[mt], bFrags[nt], ArrayRef<Value>(acc).slice(at, 4),
                ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
                std::array<NVVM::MMATypes, 2>{type, type},
                std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
            for (int64_t e = 0; e < 4; ++e)
              acc[at + e] = LLVM::ExtractValueOp::create(b, loc, mmaOp.getRes(), e);
          }
        }
      }
      // The next K-slice overwrites the tiles: everyone must be done.
      gpu::BarrierOp::create(b, loc);
      llvm::append_range(acc, prefetch.getResults());
      scf::YieldOp::create(b, loc, acc);
    }
    // Accumulator e of an m16n8 tile: row group + 8 (e / 2), column
    // 2 inGroup + e % 2.
    ThreadSums result;
    result.pairedColumns = true;
    Value col2 = arith::MulIOp::create(b, loc, inGroup, index(2));
    for (int64_t mt = 0; mt < mTiles; ++mt) {
      for (int64_t nt = 0; nt < nTiles; ++nt) {
        for (int64_t e = 0; e < 4; ++e) {
          result.sums.push_back(kTiles.getResult((mt * nTiles + nt) * 4 + e));
          result.rows.push_back(f.add(f.add(f.add(f.i0, warpRow), group), mt * 16 + 8 * (e / 2)));
          result.cols.push_back(f.add(f.add(f.add(f.j0, warpCol), col2), nt * 8 + e % 2));
        }
      }
    }
    return result;
  }
};

} // namespace
