//===- ModelConfig.h - Hyper-parameters of the supported model families ---===//
//
// One struct describes every family ssmc imports (../shared/spec/models.md):
//   Llamba        cartesia config.json, model_type "llamba"           (spec §2)
//   Mamba2        state-spaces mamba_ssm config.json                  (spec §7)
//   MambaInLlama  Llama config.json + mamba_config.json (attn_layers) (spec §3)
//   Llama         LlamaForCausalLM config.json                        (spec §3.5)
//
// The Mamba-2 style mixers are described by three group counts so that one op
// covers upstream Mamba-2 and the Mamba-in-the-Llama variant:
//   x is xHeads*P wide and head h reads x head h / (H / xHeads);
//   B has bGroups groups of N, head h reads group h / (H / bGroups);
//   C has cGroups groups of N, head h reads group h / (H / cGroups).
//   upstream Mamba-2: xHeads = H, bGroups = cGroups = ngroups
//   MambaInLlama:     xHeads = bGroups = d_xb / N, cGroups = H
//   Llamba:           xHeads = H (n_v_heads), bGroups = cGroups = n_qk_heads
//
// parseModelConfig reads and validates the JSON; writeModelConfig writes the
// exact upstream files; expectedTensors lists the upstream tensor names and
// shapes (the single source of truth shared by the importer and the generator).
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_FRONTENDS_HF_MODELCONFIG_H
#define SSMC_FRONTENDS_HF_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ssmc::hf {

enum class Family { Llamba, Mamba2, MambaInLlama, Llama };
llvm::StringRef familyName(Family f); ///< "llamba", "mamba2", "mamba_in_llama", "llama"

/// Rotary position embedding of attention layers (spec §3.5).
struct RopeConfig {
  double theta = 500000.0;
  int64_t rotaryDim = 0;       ///< dims rotated per head (= head dim for Llama)
  bool llama3Scaling = false;  ///< rope_scaling.rope_type == "llama3"
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 8192;
};

/// Which RMSNorm rounding order a norm uses (spec §1.2).
enum class NormRounding {
  HF,   ///< LlamaRMSNorm: normalize in fp32, cast to model dtype, then * weight
  Fused ///< mamba_ssm Triton RMSNorm: x * rstd * w in fp32, single cast
};

struct ModelConfig {
  Family family = Family::Llamba;

  // --- shared ---
  int64_t vocabSize = 0;          ///< rows of the embedding (padded where the family pads)
  int64_t vocabSizeUnpadded = 0;  ///< tokenizer vocabulary (config "vocab_size")
  int64_t padVocabMultiple = 1;
  int64_t dModel = 0;
  int64_t nLayer = 0;
  int64_t intermediateSize = 0;   ///< SwiGLU width; 0 = no MLP (Mamba-2 LMs)
  bool tieEmbeddings = false;
  double blockNormEps = 1e-5;     ///< eps of the per-layer norms
  double finalNormEps = 1e-5;     ///< eps of the final norm
  NormRounding blockNorm = NormRounding::HF;
  NormRounding finalNorm = NormRounding::HF;
  bool residualInFp32 = false;    ///< Mamba-2 LMs (fused add+norm, spec §7.4)
  std::vector<int64_t> eosTokenIds;
  int64_t bosTokenId = -1;

  // --- SSM mixer (Llamba, Mamba2, MambaInLlama) ---
  int64_t ssmHeads = 0;   ///< H
  int64_t headDim = 0;    ///< P
  int64_t stateDim = 0;   ///< N
  int64_t xHeads = 0;     ///< see file comment
  int64_t bGroups = 0;
  int64_t cGroups = 0;
  int64_t dInner = 0;     ///< H * P (gate z width)
  int64_t convWidth = 4;  ///< W
  bool convBias = true;
  int64_t chunkSize = 128;     ///< SSD chunk length upstream uses
  int64_t normGroupSize = 0;   ///< gated RMSNorm group (Mamba2/MambaInLlama)
  double mixerNormEps = 1e-5;  ///< gated RMSNorm eps

  // --- attention (MambaInLlama attention layers, Llama) ---
  int64_t attnHeads = 0;
  int64_t kvHeads = 0;
  int64_t attnHeadDim = 0;
  int64_t maxPositions = 0;
  RopeConfig rope;
  std::vector<int64_t> attnLayers; ///< sorted layer indices that are attention

  /// Element type of the stored weights ("float32", "bfloat16", "float16"),
  /// from config "torch_dtype" when present; informative only.
  std::string torchDtype;

  bool isAttentionLayer(int64_t layer) const;
  int64_t inProjRows() const;  ///< rows of the SSM in_proj weight
  int64_t convChannels() const; ///< channels of the SSM conv (x|B|C)
  int64_t xWidth() const { return xHeads * headDim; }
};

/// Reads `dir`/config.json (and `dir`/mamba_config.json for MambaInLlama) and
/// validates it. The family is detected from model_type ("llamba", "llama" +
/// mamba_config.json -> MambaInLlama, "llama" -> Llama) or, for state-spaces
/// configs (no model_type), from ssm_cfg.layer == "Mamba2". Errors name the
/// file and the key: malformed JSON (with line), missing key, wrong type,
/// unknown model_type, inconsistent hyper-parameters (e.g. heads not dividing
/// the width).
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef dir);

/// Writes the upstream config file(s) of `cfg` into `dir` (config.json, plus
/// mamba_config.json for MambaInLlama).
llvm::Error writeModelConfig(const ModelConfig &cfg, llvm::StringRef dir);

/// Checks the invariants parseModelConfig checks; message names the field.
llvm::Error validateModelConfig(const ModelConfig &cfg, llvm::StringRef where);

/// A tensor the upstream checkpoint of `cfg` holds.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  /// Role tag for the importer, e.g. "embedding", "in_proj", "conv_weight".
  std::string role;
  int64_t layer = -1; ///< -1 for model-level tensors
};

/// Every tensor of the upstream layout of `cfg`, in module order.
/// For tied heads, no lm_head entry (the importer accepts an extra tied
/// `lm_head.weight` for Mamba-2 LMs, which save both keys).
std::vector<ExpectedTensor> expectedTensors(const ModelConfig &cfg);

/// Named shapes for `ssmc make-model --preset`: tiny-llamba, tiny-mamba2,
/// tiny-mil, tiny-llama, llamba-1b, llamba-3b, llamba-8b, mil-3b-50, mil-8b-50,
/// mil-8b-25, llama-3.2-1b, llama-3.1-8b, mamba2-130m, ...
llvm::Expected<ModelConfig> presetConfig(llvm::StringRef preset);
std::vector<std::string> presetNames();

} // namespace ssmc::hf

#endif // SSMC_FRONTENDS_HF_MODELCONFIG_H
