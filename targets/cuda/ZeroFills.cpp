//===- ZeroFills.cpp - accumulators that start from a zero fill -----------===//

#include "targets/cuda/ZeroFills.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

namespace {
/// The allocation or argument that the memref `v` is a view of.
Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}
} // namespace

linalg::FillOp ssmc::cuda::zeroFillBefore(Operation *op, Value out) {
  Value root = rootBuffer(out);
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
        touches |= isa<BaseMemRefType>(operand.getType()) && rootBuffer(operand) == root;
    });
    if (touches)
      return {};
  }
  return {};
}
