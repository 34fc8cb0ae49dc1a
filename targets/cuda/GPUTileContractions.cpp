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
#include "targets/cuda/KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
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
  /// Per input operand: 'i', 'j' or 'k' (reads neither i nor j).
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
  SmallVector<AffineMap> inputMaps;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isFunctionOfDim(shape.k) || !isa<MemRefType>(input->get().getType()))
      return std::nullopt;
    inputMaps.push_back(map);
  }
  if (inputMaps.empty())
    return std::nullopt;
  SmallVector<unsigned> free;
  for (unsigned d = 0; d < iterators.size(); ++d) {
    if (d == shape.k)
      continue;
    if (!outMap.isFunctionOfDim(d))
      return std::nullopt;
    if (llvm::all_of(inputMaps, [&](AffineMap m) { return m.isFunctionOfDim(d); }))
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
    if (readsI && readsJ)
      return std::nullopt;
    shape.roles.push_back(readsI ? 'i' : readsJ ? 'j' : 'k');
    iRead |= readsI;
    jRead |= readsJ;
  }
  if (!iRead || !jRead)
    return std::nullopt;
  return shape;
}

struct GPUTileContractionsPass
    : ssmc::cuda::impl::GPUTileContractionsBase<GPUTileContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, ContractionShape>> ops;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<ContractionShape> shape = match(op))
        ops.push_back({op, *shape});
    });
    for (auto &[op, shape] : ops)
      rewrite(op, shape);
  }

  void rewrite(linalg::GenericOp op, const ContractionShape &shape) {
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
    int64_t perThread = tile / kThreadsPerSide;

    Value sizeI = size(shape.i), sizeJ = size(shape.j);
    Value tilesI = arith::CeilDivUIOp::create(b, loc, sizeI, index(tile));
    Value tilesJ = arith::CeilDivUIOp::create(b, loc, sizeJ, index(tile));
    SmallVector<Value> batchSizes;
    Value blocks = arith::MulIOp::create(b, loc, tilesI, tilesJ);
    for (unsigned d : shape.batch) {
      batchSizes.push_back(size(d));
      blocks = arith::MulIOp::create(b, loc, blocks, batchSizes.back());
    }

    // Workgroup memory: a 16 x (T + 1) tile per i- or j-operand (padded
    // rows: the column-wise stores of k-innermost operands do not all hit
    // one bank), 16 values per k-only operand.
    auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    SmallVector<Type> attributions;
    SmallVector<OpOperand *> inputs = op.getDpsInputOperands();
    for (auto [n, input] : llvm::enumerate(inputs)) {
      Type element = cast<MemRefType>(input->get().getType()).getElementType();
      SmallVector<int64_t> tileShape =
          shape.roles[n] == 'k' ? SmallVector<int64_t>{kTileK}
                                : SmallVector<int64_t>{kTileK, tile + 1};
      attributions.push_back(MemRefType::get(tileShape, element, AffineMap(), workgroup));
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

    // Block -> (batch..., tile of i, tile of j); thread -> (ty, tx).
    Value tid = launch.getThreadIds().x;
    Value tx = arith::RemUIOp::create(b, loc, tid, index(kThreadsPerSide));
    Value ty = arith::DivUIOp::create(b, loc, tid, index(kThreadsPerSide));
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
    Value i0 = arith::MulIOp::create(b, loc, tileI, index(tile));
    Value j0 = arith::MulIOp::create(b, loc, tileJ, index(tile));
    Value lastI = arith::SubIOp::create(b, loc, sizeI, c1);
    Value lastJ = arith::SubIOp::create(b, loc, sizeJ, c1);
    auto workgroupMemory = launch.getWorkgroupAttributions();
    auto maps = op.getIndexingMapsArray();
    auto operandIndices = [&](unsigned operand, ArrayRef<Value> loopIvs) {
      SmallVector<Value> indices;
      for (AffineExpr e : maps[operand].getResults()) {
        Value iv = loopIvs[*loopOf(e)];
        if (auto bin = dyn_cast<AffineBinaryOpExpr>(e))
          iv = arith::DivUIOp::create(
              b, loc, iv, index(cast<AffineConstantExpr>(bin.getRHS()).getValue()));
        indices.push_back(iv);
      }
      return indices;
    };

    Block &body = op.getRegion().front();
    arith::AddFOp sum = ssmc::cuda::finalSum(op);
    BlockArgument accArg = body.getArgument(body.getNumArguments() - 1);
    Value term = sum.getLhs() == accArg ? sum.getRhs() : sum.getLhs();
    Type accType = accArg.getType();
    Value zero = arith::ConstantOp::create(b, loc, accType, b.getZeroAttr(accType));
    int64_t sums = perThread * perThread;
    int64_t extentK = staticRanges[shape.k];

    auto kTiles = scf::ForOp::create(b, loc, index(0), index(extentK), index(kTileK),
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
        if (shape.roles[n] == 'k') {
          Value isLoader = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, tid, index(kTileK));
          auto ifLoad = scf::IfOp::create(b, loc, isLoader, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPointToStart(ifLoad.thenBlock());
          SmallVector<Value> loadIvs(ivs);
          loadIvs[shape.k] = arith::AddIOp::create(b, loc, k0, tid);
          Value v = memref::LoadOp::create(b, loc, input->get(), operandIndices(operand, loadIvs));
          memref::StoreOp::create(b, loc, v, smem, ValueRange{tid});
          continue;
        }
        bool isI = shape.roles[n] == 'i';
        unsigned rowDim = isI ? shape.i : shape.j;
        Value origin = isI ? i0 : j0, last = isI ? lastI : lastJ;
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
          Value v = memref::LoadOp::create(b, loc, input->get(), operandIndices(operand, loadIvs));
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
              Value v = shape.roles[n] == 'k'   ? operandValues[n][0]
                        : shape.roles[n] == 'i' ? operandValues[n][r]
                                                : operandValues[n][c];
              mapping.map(body.getArgument(input->getOperandNumber()), v);
            }
            SmallVector<Value> termIvs(ivs);
            if (usesIndices) {
              termIvs[shape.k] = arith::AddIOp::create(b, loc, kTiles.getInductionVar(), kk);
              termIvs[shape.i] = arith::AddIOp::create(
                  b, loc, i0, arith::AddIOp::create(b, loc, ty, index(r * kThreadsPerSide)));
              termIvs[shape.j] = arith::AddIOp::create(
                  b, loc, j0, arith::AddIOp::create(b, loc, tx, index(c * kThreadsPerSide)));
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

    // Store the sums of in-range outputs (or the consumer's values there).
    for (int64_t r = 0; r < perThread; ++r) {
      for (int64_t c = 0; c < perThread; ++c) {
        SmallVector<Value> outIvs(ivs);
        outIvs[shape.i] = arith::AddIOp::create(
            b, loc, i0, arith::AddIOp::create(b, loc, ty, index(r * kThreadsPerSide)));
        outIvs[shape.j] = arith::AddIOp::create(
            b, loc, j0, arith::AddIOp::create(b, loc, tx, index(c * kThreadsPerSide)));
        Value inRange = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, outIvs[shape.i], sizeI),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, outIvs[shape.j], sizeJ));
        auto ifStore = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(ifStore.thenBlock());
        SmallVector<Value> outIndices = operandIndices(op.getNumDpsInputs(), outIvs);
        Value total = kTiles.getResult(r * perThread + c);
        if (!zeroFill) {
          Value before = producer ? ssmc::cuda::evaluateBodyAt(b, loc, producer, outIndices)
                                  : memref::LoadOp::create(b, loc, out, outIndices).getResult();
          total = arith::AddFOp::create(b, loc, before, total);
        }
        if (consumer)
          ssmc::cuda::emitConsumerAt(b, loc, consumer, out, total, outIndices);
        else
          memref::StoreOp::create(b, loc, total, out, outIndices);
      }
    }
    if (zeroFill)
      zeroFill.erase();
    if (consumer)
      consumer.erase();
    if (producer)
      producer.erase();
    op.erase();
  }
};

} // namespace
