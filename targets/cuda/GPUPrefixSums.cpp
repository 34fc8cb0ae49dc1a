//===- GPUPrefixSums.cpp - triangular-mask sums as warp scans -------------===//
//
// The chunked scan's cumulative sum of the decay within a chunk is written
// as a reduction over a triangular mask: out[.., l] = sum over k <= l of
// in[.., k]. As a reduction it costs q^2 / 2 adds per chunk and head, and
// ssm-gpu-block-reductions gives each of its q outputs a warp (43 us per
// 2048 tokens of llamba-8b on an H100). It is a prefix sum: here one warp
// computes a whole row. Each lane loads E / 32 consecutive terms, sums them
// as a running total, the lanes' totals are scanned with gpu.shuffle up
// (5 steps), and each lane stores its terms' running totals plus the sum
// of the lanes before it. Summation order changes (blocked instead of
// left to right), which only rounding can see.
//
// Matched: a linalg.generic on buffers with one f32 output and one input,
// one reduction loop k and a parallel loop l of the same static extent E
// (a multiple of 32, at most 512), the input reading k but not l, the output
// reading l but not k, every map a projected permutation, and the body
// `out + select(k <= l, in, 0)` (cmpi ule/sle on linalg.index k and l, or
// uge/sge with the operands swapped). A zero fill of the output right
// before is folded (the sums are stored), and so is the elementwise op that
// computes the input for this sum alone (elementwiseProducerOf: the masked
// decay log_a): its body is evaluated where the input would be loaded.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"
#include "targets/cuda/KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPUPREFIXSUMS
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {

constexpr int64_t kWarp = 32;
constexpr int64_t kWarpsPerBlock = 8;

/// The reduced loop k and the output's loop l of a prefix sum, if `op` is one.
std::optional<std::pair<unsigned, unsigned>> matchPrefixSum(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 || op.getNumDpsInputs() != 1 ||
      op.getNumReductionLoops() != 1)
    return std::nullopt;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return std::nullopt;
  Block &body = op.getRegion().front();
  if (!body.getArguments().back().getType().isF32())
    return std::nullopt;
  arith::AddFOp sum = ssmc::cuda::finalSum(op);
  if (!sum)
    return std::nullopt;
  BlockArgument acc = body.getArguments().back();
  auto select = (sum.getLhs() == acc ? sum.getRhs() : sum.getLhs()).getDefiningOp<arith::SelectOp>();
  if (!select || select.getTrueValue() != body.getArgument(0) ||
      !matchPattern(select.getFalseValue(), m_AnyZeroFloat()))
    return std::nullopt;
  auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
  if (!cmp)
    return std::nullopt;
  auto lhs = cmp.getLhs().getDefiningOp<linalg::IndexOp>();
  auto rhs = cmp.getRhs().getDefiningOp<linalg::IndexOp>();
  if (!lhs || !rhs)
    return std::nullopt;
  unsigned k, l;
  switch (cmp.getPredicate()) {
  case arith::CmpIPredicate::ule:
  case arith::CmpIPredicate::sle:
    k = lhs.getDim(), l = rhs.getDim();
    break;
  case arith::CmpIPredicate::uge:
  case arith::CmpIPredicate::sge:
    k = rhs.getDim(), l = lhs.getDim();
    break;
  default:
    return std::nullopt;
  }
  auto iterators = op.getIteratorTypesArray();
  if (iterators[k] != utils::IteratorType::reduction || iterators[l] != utils::IteratorType::parallel)
    return std::nullopt;
  AffineMap in = op.getIndexingMapsArray()[0], out = op.getIndexingMapsArray()[1];
  if (!in.isFunctionOfDim(k) || in.isFunctionOfDim(l) || !out.isFunctionOfDim(l) ||
      out.isFunctionOfDim(k))
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t extent = ranges[k];
  if (ShapedType::isDynamic(extent) || ranges[l] != extent || extent % kWarp != 0 ||
      extent > 16 * kWarp)
    return std::nullopt;
  return std::make_pair(k, l);
}

struct GPUPrefixSumsPass : ssmc::cuda::impl::GPUPrefixSumsBase<GPUPrefixSumsPass> {
  void runOnOperation() override {
    SmallVector<std::tuple<linalg::GenericOp, unsigned, unsigned>> sums;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (auto kl = matchPrefixSum(op))
        sums.push_back({op, kl->first, kl->second});
    });
    for (auto [op, k, l] : sums)
      rewrite(op, k, l);
  }

  void rewrite(linalg::GenericOp op, unsigned k, unsigned l) {
    // Evaluated in the kernel, which is built at `op`: what the producer
    // reads is unchanged there (elementwiseProducerOf). Looked up before
    // any op is built here.
    Value input = op.getDpsInputs()[0];
    linalg::GenericOp producer = ssmc::cuda::elementwiseProducerOf(op, input);
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
    SmallVector<Range, 4> ranges = cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
    int64_t extent = op.getStaticLoopRanges()[k];
    int64_t perLane = extent / kWarp;
    // Rows: every loop but k and l, row-major.
    SmallVector<unsigned> rowLoops;
    SmallVector<Value> rowSizes;
    Value rows = index(1);
    for (unsigned d = 0; d < op.getNumLoops(); ++d) {
      if (d == k || d == l)
        continue;
      rowLoops.push_back(d);
      rowSizes.push_back(getValueOrCreateConstantIndexOp(b, loc, ranges[d].size));
      rows = arith::MulIOp::create(b, loc, rows, rowSizes.back());
    }
    Value out = op.getDpsInits()[0];
    Value c1 = index(1);
    Value blocks = arith::CeilDivUIOp::create(b, loc, rows, index(kWarpsPerBlock));
    auto launch = gpu::LaunchOp::create(b, loc, blocks, c1, c1, index(kWarpsPerBlock * kWarp), c1, c1);
    linalg::FillOp zeroFill = ssmc::cuda::zeroFillBefore(launch, out);
    b.setInsertionPointToStart(&launch.getBody().front());
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPoint(launch.getBody().front().getTerminator());
    Value tid = launch.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, tid, index(kWarp));
    Value row = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, index(kWarpsPerBlock)),
        arith::DivUIOp::create(b, loc, tid, index(kWarp)));
    // A warp past the last row skips everything (uniformly: shuffles stay legal).
    auto ifRow = scf::IfOp::create(b, loc,
                                   arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, rows),
                                   /*withElseRegion=*/false);
    b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
    SmallVector<Value> ivs(op.getNumLoops());
    Value rest = row;
    for (int64_t n = static_cast<int64_t>(rowLoops.size()) - 1; n >= 0; --n) {
      ivs[rowLoops[n]] = n == 0 ? rest : arith::RemUIOp::create(b, loc, rest, rowSizes[n]).getResult();
      if (n > 0)
        rest = arith::DivUIOp::create(b, loc, rest, rowSizes[n]);
    }
    auto indicesOf = [&](unsigned operand, ArrayRef<Value> loopIvs) {
      SmallVector<Value> indices;
      for (AffineExpr e : op.getIndexingMapsArray()[operand].getResults())
        indices.push_back(loopIvs[cast<AffineDimExpr>(e).getPosition()]);
      return indices;
    };
    // This lane's terms k0 .. k0 + perLane - 1, their running totals.
    Value k0 = arith::MulIOp::create(b, loc, lane, index(perLane));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32Type(), b.getF32FloatAttr(0.0f));
    SmallVector<Value> running;
    Value total = zero;
    SmallVector<Value> terms;
    for (int64_t i = 0; i < perLane; ++i) {
      SmallVector<Value> loadIvs(ivs);
      loadIvs[k] = arith::AddIOp::create(b, loc, k0, index(i));
      loadIvs[l] = loadIvs[k];
      SmallVector<Value> at = indicesOf(0, loadIvs);
      terms.push_back(producer ? ssmc::cuda::evaluateProducerAt(b, loc, producer, at)
                               : memref::LoadOp::create(b, loc, input, at).getResult());
    }
    for (Value term : terms) {
      total = arith::AddFOp::create(b, loc, total, term);
      running.push_back(total);
    }
    // Inclusive scan of the lanes' totals, then the sum of the lanes before.
    Value scanned = total;
    Value width = arith::ConstantIntOp::create(b, loc, kWarp, 32);
    for (int32_t offset = 1; offset < kWarp; offset *= 2) {
      auto up = gpu::ShuffleOp::create(b, loc, scanned, arith::ConstantIntOp::create(b, loc, offset, 32),
                                       width, gpu::ShuffleMode::UP);
      Value add = arith::SelectOp::create(b, loc, up.getValid(), up.getShuffleResult(), zero);
      scanned = arith::AddFOp::create(b, loc, scanned, add);
    }
    Value before = arith::SubFOp::create(b, loc, scanned, total);
    for (int64_t i = 0; i < perLane; ++i) {
      SmallVector<Value> storeIvs(ivs);
      storeIvs[l] = arith::AddIOp::create(b, loc, k0, index(i));
      storeIvs[k] = storeIvs[l];
      SmallVector<Value> outIndices = indicesOf(1, storeIvs);
      Value value = arith::AddFOp::create(b, loc, before, running[i]);
      if (!zeroFill)
        value = arith::AddFOp::create(b, loc, memref::LoadOp::create(b, loc, out, outIndices), value);
      memref::StoreOp::create(b, loc, value, out, outIndices);
    }
    if (zeroFill)
      zeroFill.erase();
    op.erase();
    if (producer) {
      producer.erase();
      for (Operation *user : llvm::make_early_inc_range(input.getUsers()))
        user->erase(); // deallocations
      input.getDefiningOp()->erase();
    }
  }
};

} // namespace
