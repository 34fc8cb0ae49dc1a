//===- KernelBuilders.cpp - pieces shared by the kernel passes -------------===//

#include "targets/cuda/KernelBuilders.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

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
