//===- Passes.h - Passes of the ssmc pipeline ---------------------*- C++ -*-===//
#ifndef SSMC_PASSES_PASSES_H
#define SSMC_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace ssmc {
#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

// In a namespace of its own: the generated `registerSSMCPasses()` would
// otherwise collide with the tool-level ssmc::registerSSMCPasses().
namespace passes {
#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"
} // namespace passes
} // namespace ssmc

#endif // SSMC_PASSES_PASSES_H
