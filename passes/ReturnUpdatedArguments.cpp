//===- ReturnUpdatedArguments.cpp - return state arguments, not clones ----===//
//
// @forward takes every recurrent state as an argument and returns the state
// after the call. Bufferization updates the argument's buffer in place (the
// scan and conv write their new state over the old one), but the ownership
// based deallocation must hand the caller a buffer it owns, so it returns a
// clone: an allocation and a copy of the whole state at the end of every
// call (on a GPU, one copy kernel per state and layer per decode step; at
// batch 64 the SSM states of llamba-1b are 540 us of a 3.8 ms step). The
// launch code already accepts a returned state that is the argument itself
// (then the rows were updated in place and nothing is copied or freed), so
// such a clone is replaced by the argument.
//
// Matched, in the function's entry block: `return ..., %c, ...` where %c is
// a `memref.alloc` used only by that return and by one `memref.copy %arg,
// %c` of a function argument of the same type, and every op between the
// copy and the return only allocates, frees, copies into new allocations,
// or reads sizes and constants (nothing that could write %arg after the
// copy).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMRETURNUPDATEDARGUMENTS
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {

/// Whether `op` (between a clone's copy and the return) leaves every
/// function argument's contents alone.
bool leavesArgumentsAlone(Operation *op) {
  if (isa<memref::AllocOp, memref::DeallocOp, memref::DimOp, arith::ConstantOp>(op))
    return true;
  if (auto copy = dyn_cast<memref::CopyOp>(op))
    return copy.getTarget().getDefiningOp<memref::AllocOp>() != nullptr;
  return false;
}

struct SSMReturnUpdatedArgumentsPass
    : public ssmc::impl::SSMReturnUpdatedArgumentsBase<SSMReturnUpdatedArgumentsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    auto ret = dyn_cast<func::ReturnOp>(func.getBody().front().getTerminator());
    if (!ret)
      return;
    for (OpOperand &result : ret->getOpOperands()) {
      auto alloc = result.get().getDefiningOp<memref::AllocOp>();
      if (!alloc || alloc->getBlock() != ret->getBlock())
        continue;
      memref::CopyOp copy;
      bool onlyCopyAndReturn = true;
      for (OpOperand &use : alloc->getUses()) {
        if (use.getOwner() == ret.getOperation())
          continue;
        auto c = dyn_cast<memref::CopyOp>(use.getOwner());
        if (!c || copy || c.getTarget() != alloc.getResult()) {
          onlyCopyAndReturn = false;
          break;
        }
        copy = c;
      }
      // Returned once, filled by one copy from an argument of its type.
      if (!onlyCopyAndReturn || !copy || llvm::count(ret->getOperands(), alloc.getResult()) != 1)
        continue;
      auto arg = dyn_cast<BlockArgument>(copy.getSource());
      if (!arg || arg.getOwner() != &func.getBody().front() || arg.getType() != alloc.getType() ||
          copy->getBlock() != ret->getBlock())
        continue;
      bool untouched = true;
      for (Operation *op = copy->getNextNode(); op != ret.getOperation(); op = op->getNextNode())
        untouched &= leavesArgumentsAlone(op);
      if (!untouched)
        continue;
      result.set(arg);
      copy->erase();
      alloc->erase();
    }
  }
};

} // namespace
