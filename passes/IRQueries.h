//===- IRQueries.h - questions the passes and targets ask of the IR -*- C++ -*-===//
//
// Read-only queries shared by the passes here and the target passes: which
// buffer a view reads, and what precision the imported model computes in.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_IRQUERIES_H
#define SSMC_PASSES_IRQUERIES_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace ssmc {
/// The buffer `v` is a view of (through view-like ops), or `v` itself.
mlir::Value rootBuffer(mlir::Value v);

/// The element type the model computes in: the `dtype` of the enclosing
/// module's `ssm.model` attribute (set by the importers), or null.
mlir::Type modelElementType(mlir::Operation *op);
} // namespace ssmc

#endif // SSMC_PASSES_IRQUERIES_H
