//===- HFImporter.h - Hugging Face checkpoints into the ssm dialect -------===//
//
// Builds the ssm-dialect module of a checkpoint directory: one func.func
// @forward that maps token ids and the recurrent state of every layer to
// logits and the new state. Every tensor is checked against the upstream
// layout of the family (names, shapes, dtypes) before any IR is built, and
// weights are referenced by name (ssm.weight), never inlined.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_FRONTENDS_HF_HFIMPORTER_H
#define SSMC_FRONTENDS_HF_HFIMPORTER_H

#include "frontends/hf/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

namespace ssmc::hf {

/// Reads config and weights of `dir` and returns the verified module.
/// Errors name the file and the tensor or key.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>> importCheckpoint(mlir::MLIRContext &context,
                                                                    llvm::StringRef dir);

} // namespace ssmc::hf

#endif // SSMC_FRONTENDS_HF_HFIMPORTER_H
