//===- ElideResultCopies.cpp - write results where they are copied to ----===//
//
// Tensor code often computes a value into a new tensor and then inserts it
// into a bigger one (the chunked scan computes y for all whole chunks as
// B x chunks x q x H x P and inserts it, reshaped, into the sequence's
// B x L x H x P). Empty-tensor elimination cannot see through the reshape,
// so bufferization leaves an allocation, the op writing it, and a
// memref.copy into the destination: on a GPU one more kernel reading and
// writing the whole tensor (35 us of a 2048-token llamba-8b scan on an
// H100). Here the op writes the destination directly.
//
// Matched, in one block: `memref.copy %src, %dst` where %src is an
// allocation A or a memref.collapse_shape of it; A is written by
// one all-parallel linalg.generic W (A its only output, at identity
// indices, whose old contents W's body does not read) and otherwise used
// only by those reshapes, the copy and deallocations; only view, size and
// constant ops lie between W and the copy; W reads nothing of %dst's
// buffer; %dst is defined before W (or is a subview of values that are,
// which moves up). Then
// W writes the expand_shape of %dst (the inverse reshape) and A, the
// reshape and the copy go away.
//
//===----------------------------------------------------------------------===//

#include "passes/IRQueries.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMELIDERESULTCOPIES
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {

/// Ops that may lie between the writer and the copy: they neither read
/// nor write buffer contents.
bool isViewOrScalar(Operation *op) {
  return isa<memref::CollapseShapeOp, memref::ExpandShapeOp, memref::SubViewOp, memref::CastOp,
             memref::DimOp, memref::ReinterpretCastOp, memref::ExtractStridedMetadataOp>(op) ||
         op->getDialect()->getNamespace() == "arith";
}

/// The all-parallel generic that overwrites all of `alloc` without reading
/// it, when it is the only writer; null otherwise.
linalg::GenericOp soleOverwriter(memref::AllocOp alloc) {
  linalg::GenericOp writer;
  for (Operation *user : alloc->getUsers()) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic)
      continue;
    if (writer || generic.getNumDpsInits() != 1 || generic.getDpsInits()[0] != alloc.getResult() ||
        llvm::is_contained(generic.getDpsInputs(), alloc.getResult()))
      return {};
    writer = generic;
  }
  if (!writer || writer.getNumReductionLoops() != 0 || !writer.hasPureBufferSemantics())
    return {};
  OpOperand *init = writer.getDpsInitOperand(0);
  if (!writer.getMatchingIndexingMap(init).isIdentity() || writer.payloadUsesValueFromOperand(init))
    return {};
  return writer;
}

/// Whether `writer` may read any part of the buffer `root` (an input, or a
/// load in its body, of a view of it): writing there instead of a fresh
/// buffer could then change what it reads.
bool mayRead(linalg::GenericOp writer, Value root) {
  for (Value input : writer.getDpsInputs())
    if (isa<MemRefType>(input.getType()) && ssmc::rootBuffer(input) == root)
      return true;
  bool reads = false;
  writer.getRegion().walk([&](Operation *op) {
    for (Value operand : op->getOperands())
      if (isa<MemRefType>(operand.getType()) && ssmc::rootBuffer(operand) == root)
        reads = true;
  });
  return reads;
}

struct SSMElideResultCopiesPass
    : ssmc::impl::SSMElideResultCopiesBase<SSMElideResultCopiesPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    DominanceInfo dominance(getOperation());
    for (memref::CopyOp copy : copies)
      elide(copy, dominance);
  }

  void elide(memref::CopyOp copy, DominanceInfo &dominance) {
    // %src is A or collapse_shape(A).
    Value src = copy.getSource();
    auto collapse = src.getDefiningOp<memref::CollapseShapeOp>();
    if (collapse) {
      if (!collapse->hasOneUse())
        return;
      src = collapse.getSrc();
    }
    auto alloc = src.getDefiningOp<memref::AllocOp>();
    if (!alloc || alloc->getBlock() != copy->getBlock())
      return;
    linalg::GenericOp writer = soleOverwriter(alloc);
    if (!writer || writer->getBlock() != copy->getBlock() || !writer->isBeforeInBlock(copy))
      return;
    Operation *reader = collapse ? collapse.getOperation() : copy.getOperation();
    for (Operation *user : alloc->getUsers())
      if (user != writer.getOperation() && user != reader && !isa<memref::DeallocOp>(user))
        return;
    for (Operation *op = writer->getNextNode(); op != copy.getOperation(); op = op->getNextNode())
      if (!isViewOrScalar(op))
        return;
    // The destination must exist before W; a subview made after W from
    // values that exist before it moves up (it reads no contents).
    Value dst = copy.getTarget();
    if (mayRead(writer, ssmc::rootBuffer(dst)))
      return;
    if (!dominance.properlyDominates(dst, writer)) {
      auto subview = dst.getDefiningOp<memref::SubViewOp>();
      if (!subview || subview->getBlock() != writer->getBlock() ||
          llvm::any_of(subview->getOperands(),
                       [&](Value v) { return !dominance.properlyDominates(v, writer); }))
        return;
      subview->moveBefore(writer);
    }

    // The destination in A's shape: the collapse undone (A's dynamic sizes
    // are its allocation's operands, defined before W).
    OpBuilder b(writer);
    Value view = dst;
    if (collapse) {
      auto allocType = alloc.getType();
      SmallVector<OpFoldResult> sizes;
      unsigned dynamic = 0;
      for (int64_t d = 0; d < allocType.getRank(); ++d)
        sizes.push_back(allocType.isDynamicDim(d)
                            ? OpFoldResult(alloc.getDynamicSizes()[dynamic++])
                            : OpFoldResult(b.getIndexAttr(allocType.getDimSize(d))));
      auto expanded = memref::ExpandShapeOp::computeExpandedType(
          cast<MemRefType>(dst.getType()), allocType.getShape(),
          collapse.getReassociationIndices());
      if (failed(expanded))
        return;
      view = memref::ExpandShapeOp::create(b, copy.getLoc(), *expanded, dst,
                                           collapse.getReassociationIndices(), sizes);
    } else if (dst.getType() != alloc.getType() &&
               cast<MemRefType>(dst.getType()).getShape() != alloc.getType().getShape()) {
      return;
    }
    writer.getDpsInitOperand(0)->set(view);
    copy.erase();
    if (collapse)
      collapse.erase();
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      if (isa<memref::DeallocOp>(user))
        user->erase();
    if (alloc->use_empty())
      alloc.erase();
  }
};

} // namespace
