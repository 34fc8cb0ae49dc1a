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
/// Static workgroup memory a kernel may have (more needs dynamic memory
/// and an opt-in at launch).
constexpr int64_t kStaticWorkgroupBytes = 48 * 1024;

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
    if (fuseProducedSide) {
      for (Contraction &c : ops) {
        auto it = siblings.find(c.op);
        if (it == siblings.end())
          continue;
        std::optional<ProducedSide> produced = findProducedSide(c, it->second, ops);
        if (!produced || absorbed.contains(produced->p.op) || siblings.count(produced->p.op))
          continue;
        absorbed.insert(produced->p.op);
        it->second.produced = std::move(*produced);
      }
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
  /// The sibling's i-side operand made in the kernel (fuse-produced-side):
  /// a buffer that an elementwise `consumer` of contraction `p`'s sums
  /// writes and only the sibling reads (the chunked scan's W: C B^T times
  /// the masked decay, rounded). The kernel computes p's sums for the
  /// block's rows, applies the consumer and keeps the sibling's factors
  /// for all its k in workgroup memory; neither p's sums nor the operand
  /// go to global memory. `loops[d]` is the sibling's loop for p's loop d.
  struct ProducedSide {
    Contraction p;
    linalg::GenericOp consumer;
    Value operand;
    SmallVector<unsigned> loops;
  };
  struct Sibling {
    Contraction c;
    SmallVector<unsigned> loops;
    std::optional<ProducedSide> produced;
  };

  /// The ops of `body` that the factors `leaves` need.
  static llvm::SmallPtrSet<Operation *, 16> opsNeededFor(Block &body, ArrayRef<Value> leaves) {
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
  }

  /// The operands of `op` that the factors `leaves` read.
  static SmallVector<OpOperand *> sideInputs(linalg::GenericOp op, ArrayRef<Value> leaves) {
    Block &body = op.getRegion().front();
    llvm::SmallPtrSet<Operation *, 16> needed = opsNeededFor(body, leaves);
    SmallVector<OpOperand *> inputs;
    for (OpOperand *input : op.getDpsInputOperands()) {
      BlockArgument arg = body.getArgument(input->getOperandNumber());
      if (llvm::any_of(arg.getUsers(), [&](Operation *user) { return needed.contains(user); }) ||
          llvm::is_contained(leaves, Value(arg)))
        inputs.push_back(input);
    }
    return inputs;
  }

  /// The produced i-side of sibling `sib` of kernel op `c` (see
  /// ProducedSide) among `ops`: the side reads one operand, a local buffer
  /// of the model's type written by the foldable consumer of a tensor-core
  /// contraction p (zero-filled sums, nothing else reads them) at identity
  /// indices; p's i and j are the sibling's i and k, its batch loops the
  /// sibling's; p's sums stage through the kernel op's workgroup tiles
  /// (same layouts and slice); nothing before `c` overwrites what p or the
  /// consumer read.
  std::optional<ProducedSide> findProducedSide(Contraction &c, Sibling &sib,
                                               MutableArrayRef<Contraction> ops) {
    Contraction &s = sib.c;
    if (!s.mma || !c.mma)
      return std::nullopt;
    SmallVector<OpOperand *> inputs = sideInputs(s.op, s.mma->aLeaves);
    if (inputs.size() != 1)
      return std::nullopt;
    Value operand = inputs[0]->get();
    auto operandType = dyn_cast<MemRefType>(operand.getType());
    if (!operandType || operandType.getElementType() != s.mma->element ||
        !operand.getDefiningOp<memref::AllocOp>() ||
        ShapedType::isDynamic(s.op.getStaticLoopRanges()[s.shape.k]))
      return std::nullopt;
    linalg::GenericOp consumer;
    for (Operation *user : operand.getUsers()) {
      if (user == s.op.getOperation() || isa<memref::DeallocOp>(user))
        continue;
      auto writer = dyn_cast<linalg::GenericOp>(user);
      if (consumer || !writer || writer.getNumDpsInits() != 1 || writer.getDpsInits()[0] != operand)
        return std::nullopt;
      consumer = writer;
    }
    if (!consumer)
      return std::nullopt;
    Contraction *p = llvm::find_if(ops, [&](Contraction &o) {
      Value out = o.op.getDpsInits()[0];
      return o.mma && o.op != s.op && o.op != c.op &&
             ssmc::cuda::foldableConsumerOf(o.op, out, /*allowBroadcast=*/false) == consumer;
    });
    if (p == ops.end() || p->mma->element != s.mma->element ||
        p->op->getBlock() != c.op->getBlock() || !p->op->isBeforeInBlock(c.op))
      return std::nullopt;
    Value sums = p->op.getDpsInits()[0];
    bool onlyExpectedUsers = llvm::all_of(sums.getUsers(), [&](Operation *user) {
      return user == p->op.getOperation() || user == consumer.getOperation() ||
             isa<memref::DeallocOp, linalg::FillOp>(user);
    });
    if (!onlyExpectedUsers || !ssmc::cuda::zeroFillBefore(p->op, sums) ||
        ssmc::cuda::inPlaceProducerOfInit(p->op) ||
        !consumer.getIndexingMapsArray().back().isIdentity())
      return std::nullopt;
    for (OpOperand *input : consumer.getDpsInputOperands())
      if (input->get() == sums && !consumer.getMatchingIndexingMap(input).isIdentity())
        return std::nullopt;
    // p stages through the kernel op's tiles.
    if (p->mma->kSlice != c.mma->kSlice || p->mma->element != c.mma->element ||
        stagedRowMajor(p->op, p->shape, 'i') != stagedRowMajor(c.op, c.shape, 'i') ||
        stagedRowMajor(p->op, p->shape, 'j') != stagedRowMajor(c.op, c.shape, 'j'))
      return std::nullopt;
    // Loops through the operand's dims: p's output map and the sibling's map.
    AffineMap pOut = p->op.getIndexingMapsArray().back();
    AffineMap sRead = s.op.getMatchingIndexingMap(inputs[0]);
    if (!pOut.isProjectedPermutation() || !sRead.isProjectedPermutation() ||
        pOut.getNumResults() != sRead.getNumResults())
      return std::nullopt;
    ProducedSide produced{*p, consumer, operand, SmallVector<unsigned>(p->op.getNumLoops(), ~0u)};
    for (unsigned r = 0; r < pOut.getNumResults(); ++r) {
      unsigned pl = pOut.getDimPosition(r), sl = sRead.getDimPosition(r);
      bool isI = pl == p->shape.i, isJ = pl == p->shape.j;
      if (isI != (sl == s.shape.i) || isJ != (sl == s.shape.k) ||
          (!isI && !isJ && !llvm::is_contained(s.shape.batch, sl)))
        return std::nullopt;
      produced.loops[pl] = sl;
    }
    for (unsigned d : p->shape.batch)
      if (produced.loops[d] == ~0u)
        return std::nullopt;
    // What p and the consumer read must hold where the kernel runs.
    llvm::SmallPtrSet<Value, 8> roots;
    for (linalg::GenericOp reader : {p->op, consumer})
      for (Value read : reader.getDpsInputs())
        if (isa<BaseMemRefType>(read.getType()) && read != sums)
          roots.insert(ssmc::rootBuffer(read));
    if (writtenBetween(p->op, c.op, roots, consumer))
      return std::nullopt;
    return produced;
  }

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
      if (writtenBetween(sib->op, c.op, roots))
        continue;
      return sibling;
    }
    return std::nullopt;
  }

  /// Whether an op strictly between `from` and `to` (same block), other
  /// than `except`, may write or free a buffer whose root is in `roots`.
  static bool writtenBetween(Operation *from, Operation *to,
                             const llvm::SmallPtrSetImpl<Value> &roots, Operation *except = nullptr) {
    for (Operation *between = from->getNextNode(); between != to; between = between->getNextNode())
      if (between != except && mayWriteAny(between, roots))
        return true;
    return false;
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

  /// Whether runs of `n` elements of `buffer` along its innermost dim that
  /// start at an index divisible by `n` are aligned to n times the element
  /// size: a uniform value computed from the view's base, offset and strides.
  static Value runsAligned(OpBuilder &b, Location loc, Value buffer, int64_t n) {
    auto type = cast<MemRefType>(buffer.getType());
    int64_t elementBytes = type.getElementTypeBitWidth() / 8;
    auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
    auto divisible = [&](Value v, int64_t by) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                   arith::RemUIOp::create(b, loc, v, index(by)), index(0));
    };
    auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
    Value ok = divisible(base, n * elementBytes);
    ok = arith::AndIOp::create(b, loc, ok, divisible(metadata.getOffset(), n));
    for (Value stride : metadata.getStrides().drop_back())
      ok = arith::AndIOp::create(b, loc, ok, divisible(stride, n));
    return ok;
  }

  /// Whether the i-side (or j-side) of an mma product is staged [row][k]
  /// (k innermost in the side's first operand that reads its row loop, so
  /// that global reads run along k) rather than [k][row].
  static bool stagedRowMajor(linalg::GenericOp op, const ContractionShape &shape, char role) {
    for (auto [n, input] : llvm::enumerate(op.getDpsInputOperands()))
      if (shape.roles[n] == role)
        return op.getMatchingIndexingMap(input).getResults().back() ==
               getAffineDimExpr(shape.k, op.getContext());
    return true;
  }

  /// A consumer that reads `sib + g * out` (sums of the sibling and of the
  /// kernel op, either order of operands), with g reading neither and the
  /// two sums read nowhere else: the kernel scales its own sums by g and
  /// lets the sibling's sum continue from them (one set of accumulators;
  /// the order upstream's chunk-scan kernel adds Y_off and Y_diag in).
  struct Chain {
    Value sum;   ///< the consumer's `sib + g * out`
    Value scale; ///< g
  };
  static std::optional<Chain> chainOf(linalg::GenericOp consumer, Value out, Value sibOut) {
    Block &body = consumer.getRegion().front();
    BlockArgument outArg, sibArg;
    for (OpOperand *input : consumer.getDpsInputOperands()) {
      if (input->get() == out)
        outArg = body.getArgument(input->getOperandNumber());
      else if (input->get() == sibOut)
        sibArg = body.getArgument(input->getOperandNumber());
    }
    if (!outArg || !sibArg || !outArg.hasOneUse() || !sibArg.hasOneUse())
      return std::nullopt;
    auto sum = dyn_cast<arith::AddFOp>(*sibArg.getUsers().begin());
    if (!sum)
      return std::nullopt;
    Value other = sum.getLhs() == sibArg ? sum.getRhs() : sum.getLhs();
    auto scaled = other.getDefiningOp<arith::MulFOp>();
    if (!scaled || !scaled->hasOneUse() || *outArg.getUsers().begin() != scaled.getOperation())
      return std::nullopt;
    Value scale = scaled.getLhs() == outArg ? scaled.getRhs() : scaled.getLhs();
    // g must not depend on either sum.
    SmallVector<Value> work = {scale};
    llvm::SmallPtrSet<Operation *, 8> seen;
    while (!work.empty()) {
      Value v = work.pop_back_val();
      if (v == outArg || v == sibArg)
        return std::nullopt;
      if (Operation *def = v.getDefiningOp(); def && def->getBlock() == &body && seen.insert(def).second)
        llvm::append_range(work, def->getOperands());
    }
    return Chain{sum.getResult(), scale};
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
    // Async copies fill `stages` tiles per side (the vector way, ldmatrix
    // reads), as many as fit the 48 KB of static workgroup memory a block
    // may have.
    int64_t stages = 1;
    // A produced side (see ProducedSide) is kept whole: T rows of all its k
    // (+ 8 elements of padding, as the stages).
    ProducedSide *produced = sibling && sibling->produced ? &*sibling->produced : nullptr;
    auto residentShape = [&]() {
      int64_t extentK = sibling->c.op.getStaticLoopRanges()[sibling->c.shape.k];
      return SmallVector<int64_t>{tile, extentK + 8};
    };
    int64_t residentBytes =
        produced ? residentShape()[0] * residentShape()[1] * mma->element.getIntOrFloatBitWidth() / 8 : 0;
    // One stage of a side's workgroup tile (see `stage` below).
    auto stagedShape = [&](const Contraction &c, char role, int64_t count) {
      return stagedRowMajor(c.op, c.shape, role)
                 ? SmallVector<int64_t>{count * tile, c.mma->kSlice + 8}
                 : SmallVector<int64_t>{count * c.mma->kSlice, tile + 8};
    };
    if (mma && vectorStaging && ldmatrix && asyncCopyStages > 1) {
      auto bytesPerStage = [&](const Contraction &c, bool staged_i) {
        int64_t bytes = 0;
        for (char role : {'i', 'j'})
          if (role == 'j' || staged_i) {
            SmallVector<int64_t> one = stagedShape(c, role, 1);
            bytes += one[0] * one[1] * c.mma->element.getIntOrFloatBitWidth() / 8;
          }
        return bytes;
      };
      int64_t perStage = bytesPerStage(Contraction{op, shape, mma}, true);
      if (sibling)
        perStage += bytesPerStage(sibling->c, !produced);
      stages = std::min<int64_t>(asyncCopyStages, (kStaticWorkgroupBytes - residentBytes) / perStage);
      stages = std::max<int64_t>(stages, 1);
    }
    if (mma) {
      // Per contraction, the rounded factors of each side in the model's
      // type: [T][slice + 8] for a side staged row-major (k innermost),
      // [slice][T + 8] for one staged k-major (see stagedRowMajor), times
      // the stages along the first dim. The padding of 8 elements (16
      // bytes) puts the 8 rows a fragment load (or one ldmatrix matrix)
      // reads in distinct banks and keeps every row 16-byte aligned.
      auto stage = [&](const Contraction &c, bool resident_i) {
        for (char role : {'i', 'j'}) {
          SmallVector<int64_t> memShape =
              role == 'i' && resident_i ? residentShape() : stagedShape(c, role, stages);
          attributions.push_back(MemRefType::get(memShape, c.mma->element, AffineMap(), workgroup));
        }
      };
      stage(Contraction{op, shape, mma}, false);
      siblingMemory = attributions.size();
      if (sibling)
        stage(sibling->c, produced != nullptr);
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
                    arith::SubIOp::create(b, loc, sizeJ, c1), tile, /*firstMemory=*/0, stages};
    // The sibling's frame: its own operands over the same tile.
    std::optional<TileFrame> sibFrame;
    SmallVector<Value> sibIvs;
    if (sibling) {
      linalg::GenericOp sib = sibling->c.op;
      sibIvs.resize(sib.getNumLoops());
      for (unsigned d : sibling->c.shape.batch)
        sibIvs[d] = ivs[sibling->loops[d]];
      sibFrame.emplace(TileFrame{b, loc, sib, sibling->c.shape, launch, sibIvs, frame.i0, frame.j0,
                                 frame.lastI, frame.lastJ, tile, siblingMemory, stages});
    }
    // With async copies the sibling's first slices are issued before the
    // kernel op's k loop (its stages are its own): the block's loads of
    // both products are in flight at once.
    bool siblingFirst = sibling && mma && stages > 1 && siblingCopiesFirst;
    // A produced side: p's sums over the block's rows and the sibling's k
    // from j0 on (one tile), through the consumer: the operand's values.
    std::function<ThreadSums(Value)> producedValues;
    SmallVector<Value> producedIvs, producedLast; // p's batch loop values; last i and j
    if (produced) {
      Contraction &pc = produced->p;
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(launch);
        SmallVector<Range, 4> pRanges =
            cast<linalg::LinalgOp>(pc.op.getOperation()).createLoopRanges(b, loc);
        for (unsigned d : {pc.shape.i, pc.shape.j})
          producedLast.push_back(arith::SubIOp::create(
              b, loc, getValueOrCreateConstantIndexOp(b, loc, pRanges[d].size), c1));
      }
      producedIvs.resize(pc.op.getNumLoops());
      for (unsigned d : pc.shape.batch)
        producedIvs[d] = sibIvs[produced->loops[d]];
      producedValues = [&, produced](Value j0) -> ThreadSums {
        Contraction &pc = produced->p;
        TileFrame pFrame{b, loc, pc.op, pc.shape, launch, producedIvs, frame.i0, j0,
                         producedLast[0], producedLast[1], tile, /*firstMemory=*/0, stages};
        ThreadSums t = emitMMASums(pFrame, *pc.mma);
        Value sums = pc.op.getDpsInits()[0];
        for (size_t e = 0; e < t.sums.size(); ++e) {
          SmallVector<Value> at(producedIvs);
          at[pc.shape.i] = t.rows[e];
          at[pc.shape.j] = t.cols[e];
          SmallVector<Value> indices = pFrame.operandIndices(pc.op.getNumDpsInputs(), at);
          SmallVector<std::pair<Value, Value>, 1> known = {{sums, t.sums[e]}};
          t.sums[e] = ssmc::cuda::evaluateBodyAt(b, loc, produced->consumer, indices, known);
        }
        return t;
      };
    }
    if (siblingFirst || produced)
      emitMMASums(*sibFrame, *sibling->c.mma, {}, AsyncPrologue::IssueOnly,
                  produced ? &producedValues : nullptr, siblingFirst);
    ThreadSums sums = mma ? emitMMASums(frame, *mma) : emitFMASums(frame);
    // The sibling's sums over the same tile, from its own operands.
    std::optional<ThreadSums> siblingSums;
    std::optional<Chain> chain;
    linalg::FillOp siblingFill;
    if (sibling) {
      linalg::GenericOp sib = sibling->c.op;
      siblingFill = ssmc::cuda::zeroFillBefore(sib, sib.getDpsInits()[0]);
      if (mma && consumer && zeroFill && !producer)
        chain = chainOf(consumer, out, sib.getDpsInits()[0]);
      SmallVector<Value> chainedStart;
      if (chain) {
        Value zero = arith::ConstantOp::create(b, loc, b.getF32Type(), b.getF32FloatAttr(0.0f));
        for (auto [total, row, col] : llvm::zip(sums.sums, sums.rows, sums.cols)) {
          SmallVector<Value> outIvs(ivs);
          outIvs[shape.i] = row;
          outIvs[shape.j] = col;
          SmallVector<Value> outIndices = frame.operandIndices(op.getNumDpsInputs(), outIvs);
          SmallVector<std::pair<Value, Value>, 2> known = {{out, total}, {sib.getDpsInits()[0], zero}};
          Value scale = ssmc::cuda::evaluateBodyAt(b, loc, consumer, outIndices, known, {}, chain->scale);
          chainedStart.push_back(arith::MulFOp::create(b, loc, scale, total));
        }
      }
      siblingSums = mma ? emitMMASums(*sibFrame, *sibling->c.mma, chainedStart,
                                      siblingFirst || produced ? AsyncPrologue::Issued
                                                               : AsyncPrologue::InLoop,
                                      produced ? &producedValues : nullptr, siblingFirst)
                        : emitFMASums(*sibFrame);
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
        SmallVector<std::pair<Value, Value>, 1> given;
        if (chain)
          given.push_back({chain->sum, siblingSums->sums[e]});
        store.value = ssmc::cuda::evaluateBodyAt(b, loc, consumer, outIndices, known, given);
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
    // staged-stores: a half-precision tile goes out through workgroup
    // memory (the kernel op's first staging buffer, free after the k
    // loops): pairs stored there at [row][T + 8], then 16-byte vectors of 8
    // j-consecutive elements to global memory, whole sectors per row.
    Type storedElement = storedBuffer ? cast<MemRefType>(storedBuffer.getType()).getElementType() : Type();
    int64_t vectorElements = storedElement && storedElement.isIntOrFloat()
                                 ? 128 / std::max<int64_t>(1, storedElement.getIntOrFloatBitWidth())
                                 : 0;
    Value epilogueTile;
    if (pairable && stagedStores && mma && storedElement == mma->element && vectorElements == 8 &&
        (tile * tile / vectorElements) % (kThreadsPerSide * kThreadsPerSide) == 0) {
      Value first = launch.getWorkgroupAttributions()[0];
      if (cast<MemRefType>(first.getType()).getNumElements() >= tile * (tile + 8) &&
          cast<MemRefType>(first.getType()).getElementType() == storedElement)
        epilogueTile = first;
    }
    if (pairable) {
      auto ifAligned = scf::IfOp::create(b, loc, runsAligned(b, loc, storedBuffer, epilogueTile ? 8 : 2),
                                         /*withElseRegion=*/true);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(ifAligned.thenBlock());
      Type element = storedElement;
      int64_t elementBytes = cast<MemRefType>(storedBuffer.getType()).getElementTypeBitWidth() / 8;
      int64_t pairBytes = 2 * elementBytes;
      if (epilogueTile) {
        int64_t pitch = tile + 8;
        auto sharedPtr = LLVM::LLVMPointerType::get(ctx, /*addressSpace=*/3);
        Value base = LLVM::IntToPtrOp::create(
            b, loc, sharedPtr,
            arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                       memref::ExtractAlignedPointerAsIndexOp::create(b, loc, epilogueTile))
                .getResult());
        auto at = [&](Value row, Value col) -> Value {
          Value offset = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, row, index(pitch)), col);
          Value bytes = arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                                   arith::MulIOp::create(b, loc, offset, index(elementBytes)));
          return LLVM::GEPOp::create(b, loc, sharedPtr, b.getI8Type(), base, ValueRange{bytes});
        };
        gpu::BarrierOp::create(b, loc);
        for (size_t n = 0; n + 1 < pending.size(); n += 2) {
          Value pair = vector::FromElementsOp::create(b, loc, VectorType::get({2}, element),
                                                      ValueRange{pending[n].value, pending[n + 1].value});
          Value row = arith::SubIOp::create(b, loc, sums.rows[n], frame.i0);
          Value col = arith::SubIOp::create(b, loc, sums.cols[n], frame.j0);
          LLVM::StoreOp::create(b, loc, pair, at(row, col), pairBytes);
        }
        gpu::BarrierOp::create(b, loc);
        Value tid = launch.getThreadIds().x;
        int64_t chunksPerRow = tile / vectorElements;
        int64_t perThread = tile * chunksPerRow / (kThreadsPerSide * kThreadsPerSide);
        auto vectorType = VectorType::get({vectorElements}, element);
        for (int64_t q = 0; q < perThread; ++q) {
          Value id = arith::AddIOp::create(b, loc, tid, index(q * kThreadsPerSide * kThreadsPerSide));
          Value row = arith::DivUIOp::create(b, loc, id, index(chunksPerRow));
          Value col = arith::MulIOp::create(b, loc, arith::RemUIOp::create(b, loc, id, index(chunksPerRow)),
                                            index(vectorElements));
          Value v = LLVM::LoadOp::create(b, loc, vectorType, at(row, col), /*alignment=*/16);
          SmallVector<Value> outIvs(ivs);
          outIvs[shape.i] = arith::AddIOp::create(b, loc, frame.i0, row);
          outIvs[shape.j] = arith::AddIOp::create(b, loc, frame.j0, col);
          requestOccupancy(vector::StoreOp::create(
              b, loc, v, storedBuffer, frame.operandIndices(op.getNumDpsInputs(), outIvs),
              /*nontemporal=*/false, llvm::MaybeAlign(16)));
        }
      }
      for (size_t n = 0; n + 1 < pending.size() && !epilogueTile; n += 2) {
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
      if (produced) {
        // p, its zero fill, the consumer, and their buffers (only freed now).
        Value sums = produced->p.op.getDpsInits()[0];
        if (linalg::FillOp fill = ssmc::cuda::zeroFillBefore(produced->p.op, sums))
          fill.erase();
        produced->consumer.erase();
        produced->p.op.erase();
        for (Value buffer : {sums, produced->operand}) {
          if (!llvm::all_of(buffer.getUsers(), [](Operation *u) { return isa<memref::DeallocOp>(u); }))
            continue;
          for (Operation *user : llvm::make_early_inc_range(buffer.getUsers()))
            user->erase();
          buffer.getDefiningOp()->erase();
        }
      }
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
  /// Tensor cores: workgroup tiles per side (async-copy-stages; 1: one).
  int64_t stages = 1;

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
  /// the rounded factors of both sides (T x slice each) in workgroup memory,
  /// then each warp runs slice/16 steps of m16n8k16 on its fragments.
  ///
  /// Staging, per side: each thread owns T * slice / 256 elements of the
  /// slice. The scalar way computes each from element loads (rows clamped
  /// at the edge). The vector way (`vector-staging`, whole tiles, aligned
  /// views) owns a run of them: 2v k-consecutive elements of one row for a
  /// row-major side, v row-consecutive elements at two consecutive k for a
  /// k-major one, and reads each operand of the side with one vector load
  /// per run (an operand that does not vary along the run: one element).
  /// Both ways keep the next slice's loads in registers while the tensor
  /// cores work on this one.
  /// Where the async copies of the first S - 1 slices are issued: before
  /// the k loop (InLoop), by an earlier call that does nothing else
  /// (IssueOnly, returning no sums), or already by such a call (Issued).
  /// A produced i-side (`producedValues`: the operand's values over the
  /// block's rows and one tile of k from a given k) is filled into its
  /// resident workgroup memory by the IssueOnly call, before the kernel
  /// op's sums; the async copies go early there only with `earlyCopies`.
  enum class AsyncPrologue { InLoop, IssueOnly, Issued };
  ThreadSums emitMMASums(TileFrame &f, const MMAPlan &plan, ArrayRef<Value> initialSums = {},
                         AsyncPrologue prologue = AsyncPrologue::InLoop,
                         std::function<ThreadSums(Value)> *producedValues = nullptr,
                         bool earlyCopies = true) {
    OpBuilder &b = f.b;
    Location loc = f.loc;
    linalg::GenericOp op = f.op;
    const ContractionShape &shape = f.shape;
    MLIRContext *ctx = op.getContext();
    auto index = [&](int64_t v) { return f.index(v); };
    int64_t tile = f.tile, slice = plan.kSlice, words = slice / 2;
    int64_t warpRows = tile / 2, warpCols = tile / 4;
    int64_t mTiles = warpRows / 16, nTiles = warpCols / 8;
    Type f32 = b.getF32Type(), i32 = b.getI32Type(), element = plan.element;
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
    SmallVector<int64_t> staticRanges = op.getStaticLoopRanges();

    // The body ops each side's leaves need.
    auto neededFor = [&](ArrayRef<Value> leaves) { return opsNeededFor(body, leaves); };
    /// How a vector-staged side reads one operand per run.
    enum class Read { Vector, Element, PerPosition };
    struct Side {
      ArrayRef<Value> leaves;
      llvm::SmallPtrSet<Operation *, 16> ops;
      unsigned rowLoop;
      Value origin, last;
      bool rowMajor = true; ///< staged [row][k] (else [k][row])
      Value memory;
      SmallVector<OpOperand *> inputs; ///< the operands the side reads
      // Vector staging: the way each input is read, and the run condition.
      bool vectorizable = false;
      SmallVector<Read> reads;
      SmallVector<bool> readsK;
      /// Where each input's loads start among the side's loaded values
      /// (vector way; recorded by loadSide, the same for every slice).
      SmallVector<unsigned> firstLoad;
      /// Filled by cp.async, global to workgroup memory, without registers
      /// (set per k loop; see kLoop).
      bool async = false;
      /// All k in workgroup memory before the k loop (a produced side): no
      /// loads or staging; fragments at k + kBase (the slice's k0).
      bool resident = false;
      Value kBase;
    };
    Side sides[2] = {{plan.aLeaves, neededFor(plan.aLeaves), shape.i, f.i0, f.lastI},
                     {plan.bLeaves, neededFor(plan.bLeaves), shape.j, f.j0, f.lastJ}};
    for (auto [s, side] : llvm::enumerate(sides)) {
      side.rowMajor = stagedRowMajor(op, shape, s == 0 ? 'i' : 'j');
      side.memory = smem[f.firstMemory + s];
      side.inputs = sideInputs(op, side.leaves);
    }

    sides[0].resident = producedValues != nullptr;
    // Per thread and slice: perThread words (2 perThread elements) per side.
    int64_t perThread = tile * words / (kThreadsPerSide * kThreadsPerSide);
    int64_t run = perThread; // vector staging: words per thread, one run
    Value vectorOK;
    for (Side &side : sides) {
      unsigned runLoop = side.rowMajor ? shape.k : side.rowLoop;
      int64_t runLength = side.rowMajor ? 2 * run : run;
      bool whole = !ShapedType::isDynamic(staticRanges[side.rowLoop]) &&
                   staticRanges[side.rowLoop] % tile == 0;
      if (!vectorStaging || !whole || runLength < 2 || side.resident)
        continue;
      side.vectorizable = true;
      SmallVector<Value> conditions;
      for (OpOperand *input : side.inputs) {
        AffineMap map = op.getMatchingIndexingMap(input);
        auto type = cast<MemRefType>(input->get().getType());
        SmallVector<int64_t> strides;
        int64_t offset;
        bool unitInnermost = succeeded(type.getStridesAndOffset(strides, offset)) &&
                             !strides.empty() && strides.back() == 1;
        side.readsK.push_back(map.isFunctionOfDim(shape.k));
        if (!map.isFunctionOfDim(runLoop)) {
          side.reads.push_back(Read::Element);
        } else if (unitInnermost && map.getResults().back() == getAffineDimExpr(runLoop, ctx) &&
                   type.getElementTypeBitWidth() % 8 == 0) {
          side.reads.push_back(Read::Vector);
          conditions.push_back(runsAligned(b, loc, input->get(), runLength));
        } else {
          side.reads.push_back(Read::PerPosition);
        }
      }
      for (Value c : conditions)
        vectorOK = vectorOK ? arith::AndIOp::create(b, loc, vectorOK, c).getResult() : c;
    }
    bool anyVector = llvm::any_of(sides, [](const Side &s) { return s.vectorizable; });
    if (anyVector && !vectorOK)
      vectorOK = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);

    // The side's factor in f32 at row `row` and k `k` (loop values), its
    // operands' elements given by `valueOf`.
    auto factorFrom = [&](Side &side, Value row, Value k,
                          llvm::function_ref<Value(unsigned)> valueOf) {
      SmallVector<Value> indexIvs(f.ivs);
      indexIvs[shape.k] = k;
      indexIvs[side.rowLoop] = row;
      IRMapping mapping;
      for (auto [n, input] : llvm::enumerate(side.inputs))
        mapping.map(body.getArgument(input->getOperandNumber()), valueOf(n));
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
    // A factor rounded to the model's type; a widened model-type value (or
    // one selected against 0) is taken as it was, without the round trip.
    std::function<Value(Value)> rounded = [&](Value v) -> Value {
      if (auto ext = v.getDefiningOp<arith::ExtFOp>(); ext && ext.getIn().getType() == element)
        return ext.getIn();
      if (auto select = v.getDefiningOp<arith::SelectOp>()) {
        auto zero = select.getFalseValue().getDefiningOp<arith::ConstantOp>();
        auto zeroValue = zero ? dyn_cast<FloatAttr>(zero.getValue()) : FloatAttr();
        auto ext = select.getTrueValue().getDefiningOp<arith::ExtFOp>();
        if (zeroValue && zeroValue.getValue().isPosZero() && ext && ext.getIn().getType() == element)
          return arith::SelectOp::create(b, loc, select.getCondition(), ext.getIn(),
                                         arith::ConstantOp::create(b, loc, element,
                                                                   b.getFloatAttr(element, 0.0)));
      }
      return arith::TruncFOp::create(b, loc, element, v);
    };
    // A factor that is one widened model-type operand, unchanged: a vector
    // load of it is stored as it is.
    auto plainOperand = [&](Side &side) -> std::optional<unsigned> {
      if (side.leaves.size() != 1)
        return std::nullopt;
      auto ext = side.leaves[0].getDefiningOp<arith::ExtFOp>();
      auto arg = ext ? dyn_cast<BlockArgument>(ext.getIn()) : BlockArgument();
      if (!arg || arg.getOwner() != &body || arg.getType() != element)
        return std::nullopt;
      for (auto [n, input] : llvm::enumerate(side.inputs))
        if (input->getOperandNumber() == arg.getArgNumber() && side.reads[n] == Read::Vector)
          return n;
      return std::nullopt;
    };
    auto loadAt = [&](OpOperand *input, ArrayRef<Value> loopIvs, int64_t vector) -> Value {
      SmallVector<Value> indices = f.operandIndices(input->getOperandNumber(), loopIvs);
      if (vector == 0)
        return memref::LoadOp::create(b, loc, input->get(), indices);
      auto type = cast<MemRefType>(input->get().getType());
      return vector::LoadOp::create(
          b, loc, VectorType::get({vector}, type.getElementType()), input->get(), indices,
          /*nontemporal=*/false, llvm::MaybeAlign(vector * type.getElementTypeBitWidth() / 8));
    };

    // Vector accesses to workgroup memory go through LLVM pointers (the
    // vector-to-LLVM conversion cannot type a memref in the GPU's workgroup
    // address space): the address of element (at0, at1) of 2-D `memory`.
    auto sharedAddress = [&](Value memory, Value at0, Value at1) -> Value {
      auto memType = cast<MemRefType>(memory.getType());
      Value offset = f.add(arith::MulIOp::create(b, loc, at0, index(memType.getShape()[1])), at1);
      Value bytes = arith::IndexCastOp::create(
          b, loc, b.getI32Type(),
          arith::MulIOp::create(b, loc, offset, index(memType.getElementTypeBitWidth() / 8)));
      Value basePtr = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memory);
      auto sharedPtr = LLVM::LLVMPointerType::get(ctx, /*addressSpace=*/3);
      Value ptr = LLVM::IntToPtrOp::create(
          b, loc, sharedPtr, arith::IndexCastOp::create(b, loc, b.getI64Type(), basePtr).getResult());
      return LLVM::GEPOp::create(b, loc, sharedPtr, b.getI8Type(), ptr, ValueRange{bytes});
    };

    // Where this thread's elements lie in the slice: (row, word) per word
    // of the scalar way; the run's first (row, word) for the vector way.
    auto scalarPlace = [&](Side &side, int64_t m) -> std::pair<Value, Value> {
      Value e = f.add(tid, m * kThreadsPerSide * kThreadsPerSide);
      if (side.rowMajor)
        return {arith::DivUIOp::create(b, loc, e, index(words)),
                arith::RemUIOp::create(b, loc, e, index(words))};
      return {arith::RemUIOp::create(b, loc, e, index(tile)),
              arith::DivUIOp::create(b, loc, e, index(tile))};
    };
    auto runPlace = [&](Side &side) -> std::pair<Value, Value> {
      if (side.rowMajor) {
        int64_t runsPerRow = words / run;
        return {arith::DivUIOp::create(b, loc, tid, index(runsPerRow)),
                arith::MulIOp::create(b, loc, arith::RemUIOp::create(b, loc, tid, index(runsPerRow)),
                                      index(run))};
      }
      int64_t runsPerK = tile / run;
      return {arith::MulIOp::create(b, loc, arith::RemUIOp::create(b, loc, tid, index(runsPerK)),
                                    index(run)),
              arith::DivUIOp::create(b, loc, tid, index(runsPerK))};
    };

    // What a side loads for the slice at k0, kept in registers until it is
    // staged. Scalar way: the rounded factors, 2 per word. Vector way: per
    // input, its loads (see Read).
    auto loadSide = [&](Side &side, Value k0, bool vectorized) {
      SmallVector<Value> loaded;
      if (!vectorized) {
        for (int64_t m = 0; m < perThread; ++m) {
          auto [r, w] = scalarPlace(side, m);
          Value row = f.add(side.origin, r);
          Value k = f.add(k0, arith::MulIOp::create(b, loc, w, index(2)));
          for (int64_t half = 0; half < 2; ++half) {
            Value kk = f.add(k, half);
            SmallVector<Value> loopIvs(f.ivs);
            loopIvs[shape.k] = kk;
            loopIvs[side.rowLoop] = arith::MinUIOp::create(b, loc, row, side.last);
            loaded.push_back(rounded(factorFrom(side, row, kk, [&](unsigned n) {
              return loadAt(side.inputs[n], loopIvs, 0);
            })));
          }
        }
        return loaded;
      }
      auto [r, w] = runPlace(side);
      Value row = f.add(side.origin, r);
      Value k = f.add(k0, arith::MulIOp::create(b, loc, w, index(2)));
      side.firstLoad.clear();
      for (auto [n, input] : llvm::enumerate(side.inputs)) {
        side.firstLoad.push_back(loaded.size());
        SmallVector<Value> loopIvs(f.ivs);
        loopIvs[shape.k] = k;
        loopIvs[side.rowLoop] = row;
        if (side.rowMajor) {
          // Positions p = 0 .. 2 run - 1 along k.
          if (side.reads[n] == Read::Vector) {
            loaded.push_back(loadAt(input, loopIvs, 2 * run));
          } else if (side.reads[n] == Read::Element) {
            loaded.push_back(loadAt(input, loopIvs, 0));
          } else {
            for (int64_t p = 0; p < 2 * run; ++p) {
              loopIvs[shape.k] = f.add(k, p);
              loaded.push_back(loadAt(input, loopIvs, 0));
            }
          }
          continue;
        }
        // Positions (q, t): row + q (q < run), k + t (t < 2).
        int64_t ks = side.readsK[n] ? 2 : 1;
        for (int64_t t = 0; t < ks; ++t) {
          loopIvs[shape.k] = f.add(k, t);
          if (side.reads[n] == Read::Vector) {
            loaded.push_back(loadAt(input, loopIvs, run));
          } else if (side.reads[n] == Read::Element) {
            loaded.push_back(loadAt(input, loopIvs, 0));
          } else {
            for (int64_t q = 0; q < run; ++q) {
              loopIvs[side.rowLoop] = f.add(row, q);
              loaded.push_back(loadAt(input, loopIvs, 0));
            }
          }
        }
      }
      return loaded;
    };
    // Stores what loadSide loaded into the side's workgroup tile, whose
    // first row in the side's memory is `first` (a stage: async copies).
    auto stageSide = [&](Side &side, ValueRange loaded, bool vectorized, Value k0, Value first) {
      auto storeVector = [&](ArrayRef<Value> elements, Value at0, Value at1) {
        Value v = elements.size() == 1 && isa<VectorType>(elements[0].getType())
                      ? elements[0]
                      : vector::FromElementsOp::create(
                            b, loc, VectorType::get({(int64_t)elements.size()}, element), elements)
                            .getResult();
        int64_t bytes = cast<VectorType>(v.getType()).getNumElements() * element.getIntOrFloatBitWidth() / 8;
        LLVM::StoreOp::create(b, loc, v, sharedAddress(side.memory, at0, at1), bytes);
      };
      if (!vectorized) {
        for (int64_t m = 0; m < perThread; ++m) {
          auto [r, w] = scalarPlace(side, m);
          Value k = arith::MulIOp::create(b, loc, w, index(2));
          if (side.rowMajor) {
            storeVector({loaded[2 * m], loaded[2 * m + 1]}, f.add(first, r), k);
            continue;
          }
          memref::StoreOp::create(b, loc, loaded[2 * m], side.memory, ValueRange{f.add(first, k), r});
          memref::StoreOp::create(b, loc, loaded[2 * m + 1], side.memory,
                                  ValueRange{f.add(f.add(first, k), 1), r});
        }
        return;
      }
      auto [r, w] = runPlace(side);
      Value k = arith::MulIOp::create(b, loc, w, index(2));
      Value row = f.add(side.origin, r);
      ArrayRef<unsigned> firstOf = side.firstLoad;
      auto extract = [&](Value v, int64_t p) {
        return vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{p}).getResult();
      };
      std::optional<unsigned> plain = plainOperand(side);
      if (side.rowMajor) {
        if (plain) {
          storeVector({loaded[firstOf[*plain]]}, f.add(first, r), k);
          return;
        }
        SmallVector<Value> elements;
        for (int64_t p = 0; p < 2 * run; ++p)
          elements.push_back(rounded(factorFrom(side, row, f.add(f.add(k0, k), p), [&](unsigned n) {
            Value v = loaded[firstOf[n] + (side.reads[n] == Read::PerPosition ? p : 0)];
            return side.reads[n] == Read::Vector ? extract(v, p) : v;
          })));
        storeVector(elements, f.add(first, r), k);
        return;
      }
      for (int64_t t = 0; t < 2; ++t) {
        if (plain) {
          storeVector({loaded[firstOf[*plain] + (side.readsK[*plain] ? t : 0)]},
                      f.add(first, f.add(k, t)), r);
          continue;
        }
        SmallVector<Value> elements;
        for (int64_t q = 0; q < run; ++q)
          elements.push_back(rounded(factorFrom(side, f.add(row, q), f.add(f.add(k0, k), t), [&](unsigned n) {
            unsigned at = firstOf[n] + (side.readsK[n] ? t : 0) * (side.reads[n] == Read::PerPosition ? run : 1);
            if (side.reads[n] == Read::PerPosition)
              return loaded[at + q];
            return side.reads[n] == Read::Vector ? extract(loaded[at], q) : loaded[at];
          })));
        storeVector(elements, f.add(first, f.add(k, t)), r);
      }
    };

    // The mma operand of two k-consecutive factors: bf16 pairs are i32 to
    // mma.sync, f16 pairs vector<2xf16>.
    auto operand = [&](Value pair) -> Value {
      if (!element.isBF16())
        return pair;
      Value word = vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), pair);
      return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
    };
    // Fragment registers of a side for mma step `step` (16 k): for the
    // i-side (A) of m-tile mt: rows +0/+8 x k +0/+8 (4 registers); for the
    // j-side (B) of n-tiles nt and nt + 1: k +0/+8 each (4 registers, or 2
    // when the warp has one n-tile). ldmatrix: lane L gives the address of
    // row L % 8 of matrix L / 8; a k-major side is read transposed.
    auto fragments = [&](Side &side, bool isA, int64_t step, int64_t t0, Value first) -> SmallVector<Value> {
      int64_t count = isA ? 4 : (t0 + 1 < nTiles ? 4 : 2);
      // A resident side holds every k: the slice starts at kBase.
      auto sliceK = [&](Value k) { return side.resident ? f.add(k, side.kBase) : k; };
      if (side.resident)
        first = index(0);
      Value base = isA ? f.add(warpRow, t0 * 16) : f.add(warpCol, t0 * 8);
      if (ldmatrix) {
        Value matrix = arith::DivUIOp::create(b, loc, lane, index(8));
        if (count == 2)
          matrix = arith::RemUIOp::create(b, loc, matrix, index(2));
        Value q = arith::RemUIOp::create(b, loc, lane, index(8));
        // Matrix m: A: rows + 8 (m % 2), k + 8 (m / 2); B: n + 8 (m / 2), k + 8 (m % 2).
        Value rowHalf = arith::RemUIOp::create(b, loc, matrix, index(2));
        Value kHalf = arith::DivUIOp::create(b, loc, matrix, index(2));
        if (!isA)
          std::swap(rowHalf, kHalf);
        // The 8 rows of a matrix are 8 rows of the tile for a row-major
        // side, 8 consecutive k for a k-major one (read transposed).
        Value row = f.add(base, arith::MulIOp::create(b, loc, rowHalf, index(8)));
        Value k = f.add(arith::MulIOp::create(b, loc, kHalf, index(8)), step * 16);
        if (side.rowMajor)
          row = f.add(row, q);
        else
          k = f.add(k, q);
        k = sliceK(k);
        Value ptr = side.rowMajor ? sharedAddress(side.memory, f.add(first, row), k)
                                  : sharedAddress(side.memory, f.add(first, k), row);
        Type result = count == 4 ? Type(LLVM::LLVMStructType::getLiteral(ctx, {i32, i32, i32, i32}))
                                 : Type(LLVM::LLVMStructType::getLiteral(ctx, {i32, i32}));
        Value loaded = NVVM::LdMatrixOp::create(
            b, loc, result, ptr, static_cast<uint32_t>(count),
            side.rowMajor ? NVVM::MMALayout::row : NVVM::MMALayout::col,
            NVVM::LdStMatrixShapeAttr::get(ctx, 8, 8), NVVM::LdStMatrixEltType::B16);
        SmallVector<Value> regs;
        for (int64_t m = 0; m < count; ++m) {
          Value word = LLVM::ExtractValueOp::create(b, loc, loaded, m);
          if (element.isBF16()) {
            regs.push_back(word);
            continue;
          }
          Value asVector = vector::FromElementsOp::create(b, loc, VectorType::get({1}, i32), word);
          regs.push_back(vector::BitCastOp::create(b, loc, VectorType::get({2}, element), asVector));
        }
        return regs;
      }
      // Element loads: the pair at row `row`, words w (k = 2 w, 2 w + 1).
      auto pairAt = [&](Value row, int64_t kOffset) {
        Value k = sliceK(f.add(arith::MulIOp::create(b, loc, inGroup, index(2)), step * 16 + kOffset));
        if (side.rowMajor)
          return operand(LLVM::LoadOp::create(b, loc, VectorType::get({2}, element),
                                              sharedAddress(side.memory, f.add(first, row), k),
                                              /*alignment=*/4));
        Value lo = memref::LoadOp::create(b, loc, side.memory, ValueRange{f.add(first, k), row});
        Value hi = memref::LoadOp::create(b, loc, side.memory, ValueRange{f.add(f.add(first, k), 1), row});
        return operand(vector::FromElementsOp::create(b, loc, VectorType::get({2}, element),
                                                      ValueRange{lo, hi}));
      };
      Value r0 = f.add(base, group);
      if (isA)
        return {pairAt(r0, 0), pairAt(f.add(r0, 8), 0), pairAt(r0, 8), pairAt(f.add(r0, 8), 8)};
      SmallVector<Value> regs = {pairAt(r0, 0), pairAt(r0, 8)};
      if (count == 4)
        llvm::append_range(regs, SmallVector<Value>{pairAt(f.add(r0, 8), 0), pairAt(f.add(r0, 8), 8)});
      return regs;
    };

    // Async copies (`async-copy-stages` S > 1, vector way): a plain side
    // (one model-type operand, read as loaded) goes from global to
    // workgroup memory by cp.async, one run per thread, into one of S
    // stages of its memory; no registers hold it. The stage of slice n is
    // n % S; its first row in the side's memory:
    auto stageFirst = [&](Side &side, Value slot) {
      return arith::MulIOp::create(b, loc, slot, index(side.rowMajor ? tile : slice)).getResult();
    };
    // The global address of `input`'s element at `loopIvs`, in the global
    // address space (cp.async's source).
    auto globalAddress = [&](OpOperand *input, ArrayRef<Value> loopIvs) -> Value {
      Value memory = input->get();
      auto type = cast<MemRefType>(memory.getType());
      auto meta = memref::ExtractStridedMetadataOp::create(b, loc, memory);
      Value linear = meta.getOffset();
      for (auto [at, stride] : llvm::zip(f.operandIndices(input->getOperandNumber(), loopIvs),
                                         meta.getStrides()))
        linear = f.add(linear, arith::MulIOp::create(b, loc, at, stride));
      Value bytes = arith::MulIOp::create(b, loc, linear, index(type.getElementTypeBitWidth() / 8));
      Value address = f.add(memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memory), bytes);
      Value generic = LLVM::IntToPtrOp::create(
          b, loc, LLVM::LLVMPointerType::get(ctx),
          arith::IndexCastOp::create(b, loc, b.getI64Type(), address).getResult());
      return LLVM::AddrSpaceCastOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, /*addressSpace=*/1),
                                           generic);
    };
    // Copies this thread's run of the slice at k0 into the stage at `first`:
    // 2 run k-consecutive elements of one row (row-major side), or run
    // row-consecutive elements at each of two k (k-major side).
    auto issueAsync = [&](Side &side, Value k0, Value first) {
      unsigned n = *plainOperand(side);
      OpOperand *input = side.inputs[n];
      auto [r, w] = runPlace(side);
      Value k = arith::MulIOp::create(b, loc, w, index(2));
      SmallVector<Value> loopIvs(f.ivs);
      loopIvs[side.rowLoop] = f.add(side.origin, r);
      int64_t elementBytes = element.getIntOrFloatBitWidth() / 8;
      auto copy = [&](Value dst, Value src, int64_t bytes) {
        // .cg (L2 only) takes 16-byte copies alone.
        NVVM::CpAsyncOp::create(b, loc, dst, src, static_cast<uint32_t>(bytes),
                                bytes == 16 ? NVVM::LoadCacheModifierKind::CG
                                            : NVVM::LoadCacheModifierKind::CA,
                                /*cpSize=*/Value());
      };
      if (side.rowMajor) {
        loopIvs[shape.k] = f.add(k0, k);
        copy(sharedAddress(side.memory, f.add(first, r), k), globalAddress(input, loopIvs),
             2 * run * elementBytes);
        return;
      }
      for (int64_t t = 0; t < 2; ++t) {
        loopIvs[shape.k] = f.add(f.add(k0, k), t);
        copy(sharedAddress(side.memory, f.add(first, f.add(k, t)), r), globalAddress(input, loopIvs),
             run * elementBytes);
      }
    };
    // Whether a side can be copied asynchronously: a plain side of the
    // vector way whose run is a cp.async size (4, 8 or 16 bytes) and, when
    // k-major, whose operand reads k.
    auto asyncCapable = [&](Side &side) {
      std::optional<unsigned> plain = plainOperand(side);
      if (!plain || (!side.rowMajor && !side.readsK[*plain]))
        return false;
      int64_t bytes = (side.rowMajor ? 2 * run : run) * element.getIntOrFloatBitWidth() / 8;
      return bytes == 4 || bytes == 8 || bytes == 16;
    };

    // The tensor-core steps of one staged slice, fragments read from the
    // stages at firstA / firstB.
    auto mmaSteps = [&](SmallVector<Value> &acc, Value firstA, Value firstB) {
      auto structType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
      NVVM::MMATypes type = element.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
      for (int64_t step = 0; step < slice / 16; ++step) {
        SmallVector<SmallVector<Value>> aFrags, bFrags;
        for (int64_t mt = 0; mt < mTiles; ++mt)
          aFrags.push_back(fragments(sides[0], /*isA=*/true, step, mt, firstA));
        for (int64_t nt = 0; nt < nTiles; nt += 2) {
          SmallVector<Value> regs = fragments(sides[1], /*isA=*/false, step, nt, firstB);
          bFrags.push_back({regs[0], regs[1]});
          if (regs.size() == 4)
            bFrags.push_back({regs[2], regs[3]});
        }
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
    };

    // The k loop, one way of staging per side. Software pipelining through
    // registers: slice n + 1 is loaded before the tensor-core steps of
    // slice n and staged at the top of the next iteration. Async sides
    // (when any) are copied S - 1 slices ahead instead, one commit group
    // per slice, into the stage the previous iteration finished reading.
    // Every block has at least one slice (kEnd >= slice).
    Value kEnd = f.kEnd(slice);
    // Marks the sides copied asynchronously in one way of staging; the
    // stages the k loop cycles through.
    auto chooseAsync = [&](bool vectorized) -> int64_t {
      for (Side &side : sides)
        side.async = f.stages > 1 && vectorized && side.vectorizable && !side.resident &&
                     asyncCapable(side);
      bool anyAsync = llvm::any_of(sides, [](const Side &s) { return s.async; });
      return anyAsync ? f.stages : 1;
    };
    // The async sides' copies of the slice at k (when below kEnd) into
    // stage `slot`, and a commit (always: one group per slice keeps
    // wait_group's count uniform).
    auto issueSlice = [&](Value k, Value slot) {
      Value below = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, k, kEnd);
      auto ifIssue = scf::IfOp::create(b, loc, TypeRange(), below, /*withElseRegion=*/false);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(ifIssue.thenBlock());
        for (Side &side : sides)
          if (side.async)
            issueAsync(side, k, stageFirst(side, slot));
      }
      NVVM::CpAsyncCommitGroupOp::create(b, loc);
    };
    if (prologue == AsyncPrologue::IssueOnly) {
      if (producedValues) {
        // The produced side's factors for every k below kEnd, one tile of
        // k at a time, stored at (row - i0, k).
        Side &side = sides[0];
        auto tiles = scf::ForOp::create(b, loc, index(0), kEnd, index(tile));
        {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPointToStart(tiles.getBody());
          ThreadSums values = (*producedValues)(tiles.getInductionVar());
          for (size_t e = 0; e < values.sums.size(); ++e) {
            Value factor = rounded(factorFrom(side, values.rows[e], values.cols[e],
                                              [&](unsigned) { return values.sums[e]; }));
            Value row = arith::SubIOp::create(b, loc, values.rows[e], f.i0);
            SmallVector<Value> at = side.rowMajor ? SmallVector<Value>{row, values.cols[e]}
                                                  : SmallVector<Value>{values.cols[e], row};
            memref::StoreOp::create(b, loc, factor, side.memory, at);
          }
        }
        gpu::BarrierOp::create(b, loc);
      }
      // The vector way's first S - 1 slices, when its views are aligned (a
      // uniform condition: the same commits in every thread).
      int64_t stages = earlyCopies ? chooseAsync(/*vectorized=*/true) : 1;
      if (stages > 1) {
        auto ifVector = scf::IfOp::create(b, loc, TypeRange(), vectorOK, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(ifVector.thenBlock());
        for (int64_t s = 0; s + 1 < stages; ++s)
          issueSlice(index(s * slice), index(s));
      }
      return {};
    }
    auto kLoop = [&](bool vectorized) -> SmallVector<Value> {
      auto way = [&](Side &side) { return vectorized && side.vectorizable; };
      int64_t stages = chooseAsync(vectorized);
      SmallVector<unsigned> counts;
      auto loadSlice = [&](Value k0) {
        SmallVector<Value> loaded;
        counts.clear();
        for (Side &side : sides) {
          SmallVector<Value> part =
              side.async || side.resident ? SmallVector<Value>() : loadSide(side, k0, way(side));
          counts.push_back(part.size());
          llvm::append_range(loaded, part);
        }
        return loaded;
      };
      // Slice k0 + d * slice is loaded (when below kEnd; else the previous
      // group is passed on unchanged, never staged) d iterations ahead: the
      // loop carries `prefetchDepth` groups of loads.
      int64_t depth = std::max<int64_t>(1, prefetchDepth);
      auto loadIfBelowEnd = [&](Value k, ValueRange otherwise) -> SmallVector<Value> {
        if (otherwise.empty())
          return {};
        Value below = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, k, kEnd);
        auto ifLoad = scf::IfOp::create(b, loc, TypeRange(otherwise), below, /*withElseRegion=*/true);
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(ifLoad.thenBlock());
        scf::YieldOp::create(b, loc, loadSlice(k));
        b.setInsertionPointToStart(ifLoad.elseBlock());
        scf::YieldOp::create(b, loc, otherwise);
        return SmallVector<Value>(ifLoad.getResults());
      };
      SmallVector<Value> initial(accs, zero);
      if (!initialSums.empty())
        initial.assign(initialSums.begin(), initialSums.end());
      bool prologueIssued = prologue == AsyncPrologue::Issued && earlyCopies;
      for (int64_t s = 0; s + 1 < stages && !prologueIssued; ++s)
        issueSlice(index(s * slice), index(s));
      SmallVector<Value> group = loadSlice(index(0));
      int64_t groupSize = group.size();
      llvm::append_range(initial, group);
      for (int64_t d = 1; d < depth; ++d) {
        group = loadIfBelowEnd(index(d * slice), group);
        llvm::append_range(initial, group);
      }
      auto kTiles = scf::ForOp::create(b, loc, index(0), kEnd, index(slice), initial);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(kTiles.getBody());
      Value k0 = kTiles.getInductionVar();
      Value slot = index(0);
      if (stages > 1) {
        Value n = arith::DivUIOp::create(b, loc, k0, index(slice));
        slot = arith::RemUIOp::create(b, loc, n, index(stages));
        issueSlice(f.add(k0, (stages - 1) * slice),
                   arith::RemUIOp::create(b, loc, f.add(n, stages - 1), index(stages)));
      }
      ValueRange groups = kTiles.getRegionIterArgs().drop_front(accs);
      ValueRange staged = groups.take_front(groupSize);
      Value firstA = stageFirst(sides[0], slot), firstB = stageFirst(sides[1], slot);
      sides[0].kBase = k0;
      if (!sides[0].async && !sides[0].resident)
        stageSide(sides[0], staged.take_front(counts[0]), way(sides[0]), k0, firstA);
      if (!sides[1].async)
        stageSide(sides[1], staged.drop_front(counts[0]), way(sides[1]), k0, firstB);
      // This slice's copies are done once at most the S - 1 newer groups
      // are pending (this thread's); the barrier makes everyone's visible.
      if (stages > 1)
        NVVM::CpAsyncWaitGroupOp::create(b, loc, static_cast<uint32_t>(stages - 1));
      gpu::BarrierOp::create(b, loc);
      SmallVector<Value> carried(groups.drop_front(groupSize));
      llvm::append_range(carried, loadIfBelowEnd(f.add(k0, depth * slice), groups.take_back(groupSize)));
      SmallVector<Value> acc(kTiles.getRegionIterArgs().take_front(accs));
      mmaSteps(acc, firstA, firstB);
      // The next K-slice overwrites a stage: everyone must be done.
      gpu::BarrierOp::create(b, loc);
      llvm::append_range(acc, carried);
      scf::YieldOp::create(b, loc, acc);
      return SmallVector<Value>(kTiles.getResults().take_front(accs));
    };
    SmallVector<Value> sums;
    if (!anyVector) {
      sums = kLoop(/*vectorized=*/false);
    } else {
      auto ifVector = scf::IfOp::create(b, loc, SmallVector<Type>(accs, f32), vectorOK,
                                        /*withElseRegion=*/true);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(ifVector.thenBlock());
      scf::YieldOp::create(b, loc, kLoop(/*vectorized=*/true));
      b.setInsertionPointToStart(ifVector.elseBlock());
      scf::YieldOp::create(b, loc, kLoop(/*vectorized=*/false));
      sums.assign(ifVector.getResults().begin(), ifVector.getResults().end());
    }

    // Accumulator e of an m16n8 tile: row group + 8 (e / 2), column
    // 2 inGroup + e % 2.
    ThreadSums result;
    result.pairedColumns = true;
    Value col2 = arith::MulIOp::create(b, loc, inGroup, index(2));
    for (int64_t mt = 0; mt < mTiles; ++mt) {
      for (int64_t nt = 0; nt < nTiles; ++nt) {
        for (int64_t e = 0; e < 4; ++e) {
          result.sums.push_back(sums[(mt * nTiles + nt) * 4 + e]);
          result.rows.push_back(f.add(f.add(f.add(f.i0, warpRow), group), mt * 16 + 8 * (e / 2)));
          result.cols.push_back(f.add(f.add(f.add(f.j0, warpCol), col2), nt * 8 + e % 2));
        }
      }
    }
    return result;
  }
};

} // namespace
