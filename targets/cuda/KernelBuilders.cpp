//===- KernelBuilders.cpp - pieces shared by the kernel passes -------------===//

#include "targets/cuda/KernelBuilders.h"

#include "passes/IRQueries.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

linalg::FillOp ssmc::cuda::zeroFillBefore(Operation *op, Value out) {
  Value root = ssmc::rootBuffer(out);
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev); fill && fill.getOutputs()[0] == out) {
      auto value = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
      auto zero = value ? dyn_cast<FloatAttr>(value.getValue()) : FloatAttr();
      return zero && zero.getValue().isPosZero() ? fill : linalg::FillOp();
    }
    bool touches = false;
    prev->walk([&](Operation *inner) {
      // Sizes and views of the buffer read no data (uses of a view are
      // seen through rootBuffer).
      if (isa<memref::DimOp, ViewLikeOpInterface>(inner))
        return;
      for (Value operand : inner->getOperands())
        touches |= isa<BaseMemRefType>(operand.getType()) && ssmc::rootBuffer(operand) == root;
    });
    if (touches)
      return {};
  }
  return {};
}

Value ssmc::cuda::warpSum(OpBuilder &b, Location loc, Value value) {
  constexpr int32_t kWarp = 32;
  Value width = arith::ConstantIntOp::create(b, loc, kWarp, 32);
  for (int32_t offset = kWarp / 2; offset >= 1; offset /= 2) {
    Value off = arith::ConstantIntOp::create(b, loc, offset, 32);
    auto shuffled = gpu::ShuffleOp::create(b, loc, value, off, width, gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, loc, value, shuffled.getShuffleResult());
  }
  return value;
}

linalg::GenericOp ssmc::cuda::foldableConsumerOf(Operation *op, Value out, bool allowBroadcast) {
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  if (!alloc)
    return {};
  // The consumer is the first user after `op` (besides fills and
  // deallocations). Any later user only sees the consumer's result, so it
  // is allowed when that result overwrites `out` (an in-place consumer,
  // e.g. the chunk's decay mask applied to C B^T): the kernel then stores the
  // consumer's values into `out` and nothing reads the raw sums.
  linalg::GenericOp consumer;
  SmallVector<Operation *> laterUsers;
  for (Operation *user : out.getUsers()) {
    if (user == op || isa<memref::DeallocOp, linalg::FillOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    Operation *inBlock = op->getBlock()->findAncestorOpInBlock(*user);
    if (!inBlock)
      return {};
    if (generic && generic->getBlock() == op->getBlock() && op->isBeforeInBlock(generic) &&
        (!consumer || generic->isBeforeInBlock(consumer))) {
      if (consumer)
        laterUsers.push_back(consumer);
      consumer = generic;
      continue;
    }
    laterUsers.push_back(inBlock);
  }
  if (!consumer || consumer.getNumDpsInits() != 1 || consumer.getNumReductionLoops() != 0 ||
      !consumer.hasPureBufferSemantics())
    return {};
  bool inPlace = consumer.getDpsInits()[0] == out;
  if (inPlace && allowBroadcast)
    return {};
  for (Operation *later : laterUsers)
    if (!inPlace || !consumer->isBeforeInBlock(later))
      return {};
  auto outRank = cast<MemRefType>(out.getType()).getRank();
  if (!consumer.getIndexingMapsArray().back().isIdentity())
    return {};
  if (allowBroadcast ? consumer.getNumLoops() < static_cast<unsigned>(outRank)
                     : consumer.getNumLoops() != static_cast<unsigned>(outRank))
    return {};
  // Every read of `out` must see the one value the kernel has: same map.
  AffineMap outMap;
  for (OpOperand *input : consumer.getDpsInputOperands()) {
    AffineMap map = consumer.getMatchingIndexingMap(input);
    if (input->get() == out) {
      if ((outMap && map != outMap) ||
          (allowBroadcast ? !map.isProjectedPermutation() : !map.isIdentity()))
        return {};
      outMap = map;
    } else if (!map.isProjectedPermutation(/*allowZeroInResults=*/true)) {
      return {};
    }
  }
  if (inPlace)
    outMap = consumer.getIndexingMapsArray().back(); // read as the init (identity)
  if (!outMap)
    return {};
  for (Operation *between = op->getNextNode(); between != consumer.getOperation();
       between = between->getNextNode())
    if (!isa<memref::AllocOp, memref::DimOp, arith::ConstantOp, ViewLikeOpInterface>(between))
      return {};
  return consumer;
}

void ssmc::cuda::hoistBetween(Operation *op, linalg::GenericOp consumer) {
  while (op->getNextNode() != consumer.getOperation())
    op->getNextNode()->moveBefore(op);
}

Value ssmc::cuda::evaluateBodyAt(OpBuilder &b, Location loc, linalg::GenericOp generic,
                                 ArrayRef<Value> ivs, Value known, Value knownValue) {
  if (!known)
    return evaluateBodyAt(b, loc, generic, ivs, ArrayRef<std::pair<Value, Value>>{});
  std::pair<Value, Value> pair{known, knownValue};
  return evaluateBodyAt(b, loc, generic, ivs, ArrayRef(pair));
}

Value ssmc::cuda::evaluateBodyAt(OpBuilder &b, Location loc, linalg::GenericOp generic,
                                 ArrayRef<Value> ivs, ArrayRef<std::pair<Value, Value>> known) {
  return evaluateBodyAt(b, loc, generic, ivs, known, {});
}

Value ssmc::cuda::evaluateBodyAt(OpBuilder &b, Location loc, linalg::GenericOp generic,
                                 ArrayRef<Value> ivs, ArrayRef<std::pair<Value, Value>> known,
                                 ArrayRef<std::pair<Value, Value>> given, Value result) {
  Block &body = generic.getRegion().front();
  IRMapping mapping;
  auto maps = generic.getIndexingMapsArray();
  // For a value other than the yielded one, only the ops it depends on.
  llvm::SmallPtrSet<Operation *, 16> needed;
  if (result) {
    SmallVector<Value> work = {result};
    while (!work.empty()) {
      Operation *def = work.pop_back_val().getDefiningOp();
      if (def && def->getBlock() == &body && needed.insert(def).second)
        llvm::append_range(work, def->getOperands());
    }
  }
  for (OpOperand &operand : generic->getOpOperands()) {
    BlockArgument arg = body.getArgument(operand.getOperandNumber());
    if (arg.use_empty())
      continue;
    if (result && arg != result &&
        llvm::none_of(arg.getUsers(), [&](Operation *user) { return needed.contains(user); }))
      continue;
    auto knownAt = llvm::find_if(known, [&](const auto &k) { return k.first == operand.get(); });
    if (knownAt != known.end()) {
      mapping.map(arg, knownAt->second);
      continue;
    }
    SmallVector<Value> indices;
    for (AffineExpr e : maps[operand.getOperandNumber()].getResults())
      indices.push_back(isa<AffineDimExpr>(e)
                            ? ivs[cast<AffineDimExpr>(e).getPosition()]
                            : arith::ConstantIndexOp::create(b, loc, 0).getResult());
    mapping.map(arg, memref::LoadOp::create(b, loc, operand.get(), indices));
  }
  for (auto [value, givenValue] : given)
    mapping.map(value, givenValue);
  for (Operation &inner : body.without_terminator()) {
    if (result && !needed.contains(&inner))
      continue;
    if (auto idx = dyn_cast<linalg::IndexOp>(inner)) {
      mapping.map(idx.getResult(), ivs[idx.getDim()]);
      continue;
    }
    if (llvm::any_of(given, [&](const auto &g) { return g.first.getDefiningOp() == &inner; }))
      continue;
    b.clone(inner, mapping);
  }
  return mapping.lookupOrDefault(result ? result : body.getTerminator()->getOperand(0));
}

void ssmc::cuda::emitConsumerAt(OpBuilder &b, Location loc, linalg::GenericOp consumer, Value out,
                                Value value, ArrayRef<Value> ivs) {
  std::pair<Value, Value> pair{out, value};
  emitConsumerAt(b, loc, consumer, ArrayRef(pair), ivs);
}

void ssmc::cuda::emitConsumerAt(OpBuilder &b, Location loc, linalg::GenericOp consumer,
                                ArrayRef<std::pair<Value, Value>> known, ArrayRef<Value> ivs) {
  Value result = evaluateBodyAt(b, loc, consumer, ivs, known);
  memref::StoreOp::create(b, loc, result, consumer.getDpsInits()[0], ivs);
}

namespace {
/// The elementwise op right before `op` (allocations, sizes, constants,
/// views and fills of other buffers between) that writes `buffer` in place
/// at identity indices, reads no view of it, and has as many loops as
/// `buffer` has dims; null otherwise.
linalg::GenericOp inPlaceWriterBefore(Operation *op, Value buffer) {
  auto type = dyn_cast<MemRefType>(buffer.getType());
  if (!type)
    return {};
  unsigned loops = type.getRank();
  Value root = ssmc::rootBuffer(buffer);
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (isa<memref::AllocOp, memref::DimOp, arith::ConstantOp, ViewLikeOpInterface>(prev))
      continue;
    // A fill of another buffer (the op's own accumulator) may lie between.
    if (auto fill = dyn_cast<linalg::FillOp>(prev);
        fill && ssmc::rootBuffer(fill.getOutputs()[0]) != root)
      continue;
    auto producer = dyn_cast<linalg::GenericOp>(prev);
    if (!producer || !producer.hasPureBufferSemantics() || producer.getNumDpsInits() != 1 ||
        producer.getDpsInits()[0] != buffer || producer.getNumLoops() != loops ||
        producer.getNumReductionLoops() != 0 ||
        !producer.getIndexingMapsArray().back().isIdentity())
      return {};
    for (OpOperand *operand : producer.getDpsInputOperands()) {
      if (ssmc::rootBuffer(operand->get()) == root ||
          !producer.getMatchingIndexingMap(operand).isProjectedPermutation(true))
        return {};
    }
    return producer;
  }
  return {};
}
} // namespace

linalg::GenericOp ssmc::cuda::elementwiseProducerOf(Operation *op, Value input) {
  auto alloc = input.getDefiningOp<memref::AllocOp>();
  if (!alloc)
    return {};
  linalg::GenericOp producer;
  for (Operation *user : input.getUsers()) {
    if (user == op || isa<memref::DeallocOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (producer || !generic || generic.getNumDpsInits() != 1 || generic.getDpsInits()[0] != input)
      return {};
    producer = generic;
  }
  if (!producer || producer->getBlock() != op->getBlock() || !producer->isBeforeInBlock(op) ||
      !producer.hasPureBufferSemantics() || producer.getNumReductionLoops() != 0 ||
      !producer.getIndexingMapsArray().back().isPermutation() ||
      !producer.getMatchingBlockArgument(producer.getDpsInitOperand(0)).use_empty())
    return {};
  llvm::SmallPtrSet<Value, 4> reads;
  for (OpOperand *operand : producer.getDpsInputOperands()) {
    if (!producer.getMatchingIndexingMap(operand).isProjectedPermutation(true))
      return {};
    if (isa<BaseMemRefType>(operand->get().getType()))
      reads.insert(ssmc::rootBuffer(operand->get()));
  }
  for (Operation *between = producer->getNextNode(); between != op; between = between->getNextNode()) {
    if (isa<memref::AllocOp, memref::DimOp, arith::ConstantOp, ViewLikeOpInterface>(between))
      continue;
    if (auto fill = dyn_cast<linalg::FillOp>(between);
        fill && !reads.contains(ssmc::rootBuffer(fill.getOutputs()[0])))
      continue;
    return {};
  }
  return producer;
}

Value ssmc::cuda::evaluateProducerAt(OpBuilder &b, Location loc, linalg::GenericOp producer,
                                     ArrayRef<Value> indices) {
  AffineMap outMap = producer.getIndexingMapsArray().back();
  SmallVector<Value> ivs(producer.getNumLoops());
  for (auto [p, index] : llvm::enumerate(indices))
    ivs[outMap.getDimPosition(p)] = index;
  return evaluateBodyAt(b, loc, producer, ivs);
}

linalg::GenericOp ssmc::cuda::inPlaceProducerOf(linalg::GenericOp op, Value input) {
  if (cast<MemRefType>(input.getType()).getRank() != static_cast<int64_t>(op.getNumLoops()))
    return {};
  for (OpOperand *operand : op.getDpsInputOperands())
    if (operand->get() == input && !op.getMatchingIndexingMap(operand).isIdentity())
      return {};
  return inPlaceWriterBefore(op, input);
}

linalg::GenericOp ssmc::cuda::inPlaceProducerOfInit(linalg::GenericOp op) {
  return inPlaceWriterBefore(op, op.getDpsInits()[0]);
}

arith::AddFOp ssmc::cuda::finalSum(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getNumOperands() != 1)
    return nullptr;
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  BlockArgument acc = body.getArgument(body.getNumArguments() - 1);
  if (!add || !acc.hasOneUse() || (add.getLhs() != acc && add.getRhs() != acc) ||
      add.getLhs() == add.getRhs() || !add.getResult().hasOneUse())
    return nullptr;
  return add;
}
