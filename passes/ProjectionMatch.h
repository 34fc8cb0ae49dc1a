//===- ProjectionMatch.h - recognize projections on buffers ------*- C++ -*-===//
//
// Every projection of the model (`ssm.linear`, the LM head) reaches the
// target-specific passes as one linalg.generic on buffers. The CPU and CUDA
// targets each replace it by their own kernel; this is the one definition of
// what they replace.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_PROJECTIONMATCH_H
#define SSMC_PASSES_PROJECTIONMATCH_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace ssmc {
/// True when `op` is `out[b.., n] += ext(x[b.., k]) * ext(w[n, k])` on
/// buffers with an f32 accumulator (ext: arith.extf or nothing), the weight
/// in its checkpoint layout (row n contiguous in k).
bool isProjection(mlir::linalg::GenericOp op);
} // namespace ssmc

#endif // SSMC_PASSES_PROJECTIONMATCH_H
