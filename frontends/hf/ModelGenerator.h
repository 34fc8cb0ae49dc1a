//===- ModelGenerator.h - Checkpoints with seeded random weights ----------===//
//
// Writes a checkpoint directory of any supported family, laid out exactly as
// the upstream one (config file(s) + weights under the upstream tensor names),
// with weights drawn from a seeded generator whose output is the same on every
// machine. Tensors are generated one at a time straight into the writer's
// buffer, so the whole model is never held in memory.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_FRONTENDS_HF_MODELGENERATOR_H
#define SSMC_FRONTENDS_HF_MODELGENERATOR_H

#include "frontends/checkpoint/Checkpoint.h"
#include "frontends/hf/ModelConfig.h"
#include "runtime/WeightSynthesis.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ssmc::hf {

/// Weight file layout of a generated checkpoint.
enum class WeightFormat {
  Default,            ///< the family's upstream format (defaultWeightFormat)
  Safetensors,        ///< model.safetensors
  ShardedSafetensors, ///< model-0000k-of-0000n.safetensors + model.safetensors.index.json
  TorchZip,           ///< pytorch_model.bin (torch.save zip)
};

/// Llamba and Llama: Safetensors; MambaInLlama and Mamba2: TorchZip.
WeightFormat defaultWeightFormat(Family f);
/// "safetensors", "sharded", "torch"; Default resolves first.
llvm::StringRef weightFormatName(WeightFormat f);

struct GenerateOptions {
  uint64_t seed = 0;
  /// F32, BF16 or F16. Mamba-2 `D` stays F32 whatever this is, as in the
  /// published mamba_ssm checkpoints (spec §7.3).
  ckpt::DType dtype = ckpt::DType::F32;
  WeightFormat format = WeightFormat::Default;
  /// Shard size limit for ShardedSafetensors (transformers' default "5GB").
  uint64_t maxShardBytes = 5000000000ull;
};

/// What generateCheckpoint wrote.
struct GenerateReport {
  WeightFormat format = WeightFormat::Default; ///< resolved format
  std::vector<std::string> files;              ///< paths written, configs first
  int64_t numParameters = 0;                   ///< distinct parameters (tied head counted once)
  uint64_t weightBytes = 0;                    ///< tensor bytes, excluding headers
};

/// Parameters of `cfg`: the elements of expectedTensors(cfg), a tied head
/// counted once.
int64_t parameterCount(const ModelConfig &cfg);

/// The tensors generateCheckpoint writes for `cfg`: expectedTensors(cfg) in
/// module order with their stored element type.
std::vector<ckpt::TensorSpec> generatedTensorSpecs(const ModelConfig &cfg, ckpt::DType dtype);

/// The distribution the generator draws the elements of `t` from (by its
/// role and shape); the rule that draws them is runtime/WeightSynthesis.h.
llvm::Expected<synth::Init> generatedInit(const ExpectedTensor &t);

/// Fills `out` (sized to the tensor's bytes) with the seeded values of `t`
/// stored as `dtype`. Values depend only on the seed, the tensor's name, role
/// and shape, and the dtype.
llvm::Error fillGeneratedTensor(const ExpectedTensor &t, ckpt::DType dtype, uint64_t seed,
                                llvm::MutableArrayRef<uint8_t> out);

/// Creates `outDir` if needed and writes the config file(s) and weights of
/// `cfg` with seeded random weights. Weight files of other layouts already in
/// `outDir` are removed first so that readers do not pick up stale ones.
/// `report`, when given, receives what was written.
llvm::Error generateCheckpoint(const ModelConfig &cfg, llvm::StringRef outDir,
                               const GenerateOptions &options = {},
                               GenerateReport *report = nullptr);

} // namespace ssmc::hf

#endif // SSMC_FRONTENDS_HF_MODELGENERATOR_H
