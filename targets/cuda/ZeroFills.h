//===- ZeroFills.h - accumulators that start from a zero fill ----*- C++ -*-===//
//
// Projections and sums accumulate onto their output (`out += ...`), which the
// bufferized model zero-fills right before. A kernel that computes the whole
// sum itself can store it instead and make the fill (one more kernel launch
// per op at decode) unnecessary.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TARGETS_CUDA_ZEROFILLS_H
#define SSMC_TARGETS_CUDA_ZEROFILLS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace ssmc::cuda {
/// The `linalg.fill` of +0.0 into `out` that `op` (in the same block, later)
/// accumulates onto, when no op between them reads or writes any view of
/// `out`'s buffer; null otherwise.
mlir::linalg::FillOp zeroFillBefore(mlir::Operation *op, mlir::Value out);
} // namespace ssmc::cuda

#endif // SSMC_TARGETS_CUDA_ZEROFILLS_H
