//===- KernelBuilders.h - pieces shared by the kernel passes -----*- C++ -*-===//
//
// What ssm-gpu-projections and ssm-gpu-block-reductions both need: finding
// the zero fill an accumulation starts from, and a warp's shuffle-tree sum.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TARGETS_CUDA_KERNELBUILDERS_H
#define SSMC_TARGETS_CUDA_KERNELBUILDERS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace ssmc::cuda {
/// Projections and sums accumulate onto their output (`out += ...`), which
/// the bufferized model zero-fills right before; a kernel that computes the
/// whole sum can store it instead and make the fill (one more kernel launch
/// per op at decode) unnecessary.
///
/// The `linalg.fill` of +0.0 into `out` that `op` (in the same block, later)
/// accumulates onto, when no op between them reads or writes any view of
/// `out`'s buffer; null otherwise.
mlir::linalg::FillOp zeroFillBefore(mlir::Operation *op, mlir::Value out);

/// The sum of the f32 `value` over the 32 lanes of the warp (a butterfly of
/// gpu.shuffle xor), in every lane; all lanes must take part.
mlir::Value warpSum(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value);
} // namespace ssmc::cuda

#endif // SSMC_TARGETS_CUDA_KERNELBUILDERS_H
