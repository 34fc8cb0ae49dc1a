//===- KernelBuilders.h - pieces shared by the kernel passes -----*- C++ -*-===//
//
// What the CUDA kernel passes (projections, block reductions, tile
// contractions, prefix sums) share: finding the zero fill an accumulation
// starts from, folding the elementwise ops that produce a kernel's input or
// consume its output into that kernel, and a warp's shuffle-tree sum.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TARGETS_CUDA_KERNELBUILDERS_H
#define SSMC_TARGETS_CUDA_KERNELBUILDERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
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

/// The `out + term` that ends a reduction's body, when the accumulator (the
/// output's block argument) is used by nothing else; null otherwise.
mlir::arith::AddFOp finalSum(mlir::linalg::GenericOp op);

/// The elementwise op that consumes the output `out` of `op` (about to
/// become a kernel), when it can be computed inside that kernel: `out` is a
/// local allocation; the consumer is the first all-parallel linalg.generic
/// on buffers after `op` in its block that uses `out`, with one output
/// written at identity indices, reading `out` (through one indexing map)
/// and its other inputs at projected indices; only allocations, sizes,
/// constants and views lie between the two ops. Nothing else may read `out`
/// (besides its zero fill and deallocation), unless the consumer overwrites
/// `out` in place (identity indices), in which case later ops may read it.
/// Without `allowBroadcast` the consumer reads `out` at identity indices
/// (one consumer element per element of `out`: a projection's rounding,
/// residual add or gate, a decay mask); with it, `out` may be read at a
/// projected permutation of the consumer's loops, so that each element of
/// `out` feeds several consumer elements (a norm's sum of squares feeding
/// the scaling of its whole row). Null when there is none.
mlir::linalg::GenericOp foldableConsumerOf(mlir::Operation *op, mlir::Value out,
                                           bool allowBroadcast);

/// Moves the allocations and views between `op` and its foldable
/// `consumer` above `op`, so that a kernel built at `op` can use them.
void hoistBetween(mlir::Operation *op, mlir::linalg::GenericOp consumer);

/// `generic`'s body evaluated at its loop indices `ivs` (operands loaded
/// at their indexing maps; `known`, if given, read as `knownValue`).
mlir::Value evaluateBodyAt(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::GenericOp generic,
                           mlir::ArrayRef<mlir::Value> ivs, mlir::Value known = {},
                           mlir::Value knownValue = {});

/// The same with any number of (operand, value) pairs known.
mlir::Value evaluateBodyAt(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::GenericOp generic,
                           mlir::ArrayRef<mlir::Value> ivs,
                           mlir::ArrayRef<std::pair<mlir::Value, mlir::Value>> known);

/// The same, also with values of the body itself given (`given`: body value,
/// its value; the op defining it is not evaluated), returning body value
/// `result` (default: the yielded one).
mlir::Value evaluateBodyAt(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::GenericOp generic,
                           mlir::ArrayRef<mlir::Value> ivs,
                           mlir::ArrayRef<std::pair<mlir::Value, mlir::Value>> known,
                           mlir::ArrayRef<std::pair<mlir::Value, mlir::Value>> given,
                           mlir::Value result = {});

/// The elementwise op that writes `input` in place right before `op` reads
/// it at identity indices (the scan's state update before y = S' . C): an
/// all-parallel linalg.generic over the same loops whose only output is
/// `input` (identity indices) and that reads no other view of it; only
/// allocations, sizes, constants, views and fills of other buffers lie
/// between. A kernel that visits every element of `input` once can compute
/// and store it there, then use the value. Null when there is none.
mlir::linalg::GenericOp inPlaceProducerOf(mlir::linalg::GenericOp op, mlir::Value input);

/// The elementwise op that writes `op`'s output in place right before `op`
/// accumulates onto it (the chunk's decay of the carried state before the
/// chunk's sum is added), under the same conditions as inPlaceProducerOf
/// with the output's dims for loops: a kernel that stores every output
/// element once can apply it to the value it reads. Null when none.
mlir::linalg::GenericOp inPlaceProducerOfInit(mlir::linalg::GenericOp op);

/// The elementwise op that computes `input` for `op` alone (the chunked
/// scan's masked decay before its prefix sum): `input` is a local
/// allocation that only this producer writes and only `op` reads (besides
/// deallocations); the producer is an all-parallel linalg.generic on
/// buffers with `input` as its one output at permuted indices; only
/// allocations, sizes, constants, views and fills of buffers it does not
/// read lie between the two. A kernel can evaluate the producer's body
/// where it would load `input` (evaluateProducerAt), and the buffer goes
/// away. Null when there is none.
mlir::linalg::GenericOp elementwiseProducerOf(mlir::Operation *op, mlir::Value input);

/// The value an elementwise `producer` (see elementwiseProducerOf) stores
/// at `indices` of its output, computed from its inputs.
mlir::Value evaluateProducerAt(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::linalg::GenericOp producer, mlir::ArrayRef<mlir::Value> indices);

/// Emits `consumer`'s body for its loop indices `ivs`, with `value` standing
/// for the element it reads from `out`, and stores the result in its output.
void emitConsumerAt(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::GenericOp consumer,
                    mlir::Value out, mlir::Value value, mlir::ArrayRef<mlir::Value> ivs);

/// The same with several known operands: each (buffer, value) pair stands
/// for the element the consumer reads from that buffer.
void emitConsumerAt(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::GenericOp consumer,
                    mlir::ArrayRef<std::pair<mlir::Value, mlir::Value>> known,
                    mlir::ArrayRef<mlir::Value> ivs);

/// The sum of the f32 `value` over the 32 lanes of the warp (a butterfly of
/// gpu.shuffle xor), in every lane; all lanes must take part.
mlir::Value warpSum(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value);
} // namespace ssmc::cuda

#endif // SSMC_TARGETS_CUDA_KERNELBUILDERS_H
