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

#include "frontends/checkpoint/Checkpoint.h"
#include "frontends/hf/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace ssmc::hf {

struct ImportOptions {
  /// When set (F32, BF16 or F16), the model computes in this type: every
  /// weight is typed with it (compilation converts the stored bytes) and so
  /// are the activations; recurrent state stays float32. Unset: the
  /// checkpoint's types (weights as stored, activations as the embedding).
  std::optional<ckpt::DType> modelDType;
};

/// Reads config and weights of `dir` and returns the verified module.
/// Errors name the file and the tensor or key.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importCheckpoint(mlir::MLIRContext &context, llvm::StringRef dir,
                 const ImportOptions &options = {});

/// Builds the module of `cfg` over weights known only by name, type and
/// shape: the tensors `ssmc make-model` writes for `cfg` in `dtype`
/// (generatedTensorSpecs), all typed `dtype` in the IR (as
/// ImportOptions::modelDType). The weight store is `label` with format
/// "synthetic". This is the IR of `ssmc compile --preset P
/// --synthetic-weights`, whose weights the runtime fills at load.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importSynthetic(mlir::MLIRContext &context, const ModelConfig &cfg, llvm::StringRef label,
                ckpt::DType dtype);

/// Parses the `--dtype` spelling of a model type: f32, bf16 or f16 (also
/// float32, bfloat16, float16). The error names `flag` and the value.
llvm::Expected<ckpt::DType> parseModelDType(llvm::StringRef text, llvm::StringRef flag);

} // namespace ssmc::hf

#endif // SSMC_FRONTENDS_HF_HFIMPORTER_H
