//===- CUDAPasses.h - GPU mapping passes of the CUDA target ------*- C++ -*-===//
#ifndef SSMC_TARGETS_CUDA_CUDAPASSES_H
#define SSMC_TARGETS_CUDA_CUDAPASSES_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace ssmc::cuda {
#define GEN_PASS_DECL
#include "targets/cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "targets/cuda/Passes.h.inc"

/// Registers the passes of Passes.td (ssmc-opt and the textual pipelines).
void registerCUDAPasses();
} // namespace ssmc::cuda

#endif // SSMC_TARGETS_CUDA_CUDAPASSES_H
