//===- Presets.cpp - Named model shapes for `ssmc make-model --preset` ----===//
//
// Each preset is written as the upstream config file(s) it stands for and
// read back through parseModelConfigText, so presets get exactly the
// derivation and checks of a config on disk. Real shapes follow
// ../shared/spec/models.md (§2.2 Llamba, §3.2 MambaInLlama and its Llama
// bases, §7.2 Mamba-2); tiny shapes keep every structural feature of their
// family (padded vocab, fewer B/C groups than heads, GQA with repeated x/B
// groups, llama3 RoPE scaling, a tied and an untied head) at d_model 64.
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/ModelConfig.h"
#include "frontends/hf/ModelConfigJSON.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <functional>
#include <optional>

using namespace ssmc::hf;
namespace json = llvm::json;

namespace {

struct LlambaShape {
  int64_t dModel, nLayer, intermediate;
  bool tie;
  int64_t vocab = 128256, dState = 64, vHeads = 32, qkHeads = 32, chunk = 128;
};

json::Object llambaConfig(const LlambaShape &s) {
  return json::Object{
      {"model_type", "llamba"},
      {"vocab_size", s.vocab},
      {"tie_embeddings", s.tie},
      {"pad_vocab_size_multiple", 8},
      {"lm_head_bias", false},
      {"d_model", s.dModel},
      {"n_layer", s.nLayer},
      {"resid_dropout", 0.0},
      {"norm_epsilon", 1e-5},
      {"mlp_cfg", json::Object{{"intermediate_size", s.intermediate}, {"bias", false},
                               {"act_fn", "silu"}}},
      {"ssm_cfg", json::Object{{"d_state", s.dState},
                               {"n_v_heads", s.vHeads},
                               {"n_qk_heads", s.qkHeads},
                               {"expand", 1},
                               {"chunk_size", s.chunk},
                               {"activation", "identity"},
                               {"bias", false}}},
  };
}

json::Object mamba2Config(int64_t dModel, int64_t nLayer, json::Object ssmCfg = {},
                          int64_t vocab = 50277) {
  ssmCfg["layer"] = "Mamba2";
  return json::Object{
      {"d_model", dModel},
      {"d_intermediate", 0},
      {"n_layer", nLayer},
      {"vocab_size", vocab},
      {"ssm_cfg", std::move(ssmCfg)},
      {"attn_layer_idx", json::Array{}},
      {"attn_cfg", json::Object{}},
      {"rms_norm", true},
      {"residual_in_fp32", true},
      {"fused_add_norm", true},
      {"pad_vocab_size_multiple", 16},
      {"tie_embeddings", true},
  };
}

struct LlamaShape {
  int64_t hidden, nLayer, heads, kvHeads, headDim, intermediate;
  bool tie;
  std::optional<double> llama3Factor; ///< none: rope_scaling null
  int64_t maxPositions = 131072;
  json::Value eos = 128001;
  int64_t vocab = 128256, bos = 128000, originalMaxPositions = 8192;
};

json::Object llamaConfig(const LlamaShape &s) {
  json::Value scaling = nullptr;
  if (s.llama3Factor)
    scaling = json::Object{{"rope_type", "llama3"},
                           {"factor", *s.llama3Factor},
                           {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0},
                           {"original_max_position_embeddings", s.originalMaxPositions}};
  return json::Object{
      {"architectures", json::Array{"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", s.hidden},
      {"num_hidden_layers", s.nLayer},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kvHeads},
      {"head_dim", s.headDim},
      {"intermediate_size", s.intermediate},
      {"hidden_act", "silu"},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 500000.0},
      {"rope_scaling", std::move(scaling)},
      {"max_position_embeddings", s.maxPositions},
      {"tie_word_embeddings", s.tie},
      {"vocab_size", s.vocab},
      {"bos_token_id", s.bos},
      {"eos_token_id", s.eos},
      {"torch_dtype", "bfloat16"},
  };
}

/// mamba_config.json as MambaInLlama's train_distill.py derives it from the
/// Llama config (spec §3.2): one SSM head per attention head, state = head
/// dim, x/B as wide as K/V.
json::Object distilledMambaConfig(const LlamaShape &s, std::vector<int64_t> attnLayers) {
  return json::Object{
      {"d_model", s.hidden},
      {"ssm_cfg", json::Object{{"expand", 1}, {"ngroups", s.heads}, {"d_state", s.headDim}}},
      {"rms_norm_eps", 1e-5},
      {"vocab_size", nullptr},
      {"d_inner", s.heads * s.headDim},
      {"d_xb", s.kvHeads * s.headDim},
      {"intermediate_size", s.intermediate},
      {"hidden_act", "silu"},
      {"n_layer", s.nLayer},
      {"attn_layers", json::Array(attnLayers)},
  };
}

std::vector<int64_t> everyKth(int64_t nLayer, int64_t first, int64_t step) {
  std::vector<int64_t> out;
  for (int64_t i = first; i < nLayer; i += step)
    out.push_back(i);
  return out;
}

// Published Llama bases (spec §3.2 table, §3.5).
LlamaShape llama32_1B() { return {2048, 16, 32, 8, 64, 8192, true, 32.0}; }
LlamaShape llama32_3B() { return {3072, 28, 24, 8, 128, 8192, true, 32.0}; }
LlamaShape llama31_8B() { return {4096, 32, 32, 8, 128, 14336, false, 8.0}; }
LlamaShape llama3_8B() {
  LlamaShape s{4096, 32, 32, 8, 128, 14336, false, std::nullopt, 8192};
  s.eos = 128009; // Meta-Llama-3-8B-Instruct as saved by MambaInLlama_0_50
  return s;
}
LlamaShape instruct(LlamaShape s) {
  s.eos = json::Array{128001, 128008, 128009};
  return s;
}
LlamaShape tinyLlama(bool tie, double factor) {
  LlamaShape s{64, 4, 4, 2, 16, 128, tie, factor, 512};
  s.vocab = 256;
  s.bos = 1;
  s.eos = json::Array{2, 3};
  s.originalMaxPositions = 64; // with head dim 16, RoPE bands fall on both sides of the ramp
  return s;
}

struct Preset {
  const char *name;
  std::function<json::Object()> config;
  std::function<json::Object()> mambaConfig = {}; ///< empty unless MambaInLlama
};

const std::vector<Preset> &presets() {
  static const std::vector<Preset> all = {
      // Tiny shapes for tests.
      {"tiny-llamba",
       [] {
         LlambaShape s{64, 2, 128, /*tie=*/false};
         s.vocab = 300; // pads to 304
         s.dState = 16;
         s.vHeads = 4;
         s.qkHeads = 2;
         s.chunk = 16;
         return llambaConfig(s);
       }},
      {"tiny-mamba2",
       [] {
         // d_inner 128, 8 heads of 16, 2 B/C groups; vocab 500 pads to 512.
         return mamba2Config(64, 2,
                             json::Object{{"d_state", 16},
                                          {"headdim", 16},
                                          {"ngroups", 2},
                                          {"chunk_size", 16}},
                             500);
       }},
      {"tiny-mil",
       [] {
         // 4 SSM heads of 16; x/B in 2 groups repeated twice; layers 1 and 3 attend.
         LlamaShape s = tinyLlama(/*tie=*/false, 8.0);
         s.eos = 2;
         return llamaConfig(s);
       },
       [] { return distilledMambaConfig(tinyLlama(false, 8.0), {1, 3}); }},
      {"tiny-llama",
       [] {
         LlamaShape s = tinyLlama(/*tie=*/true, 32.0);
         s.nLayer = 2;
         return llamaConfig(s);
       }},
      // The bundled default model of scripts/run.sh: a small Llamba with the
      // real model's structure (32 value heads, 32 B/C heads, tied head,
      // chunk 128) at a width that compiles and runs in seconds anywhere.
      {"default-llamba",
       [] {
         LlambaShape s{512, 4, 1024, /*tie=*/true};
         s.vocab = 4096;
         s.dState = 32;
         return llambaConfig(s);
       }},
      // Llamba (spec §2.2; 1B and 8B shapes inferred there).
      {"llamba-1b", [] { return llambaConfig({2048, 16, 8192, true}); }},
      {"llamba-3b", [] { return llambaConfig({3072, 28, 8192, true}); }},
      {"llamba-8b", [] { return llambaConfig({4096, 32, 14336, true}); }},
      {"llamba-8b-untied", [] { return llambaConfig({4096, 32, 14336, false}); }},
      // Mamba-in-the-Llama hybrids (spec §3.2).
      {"mil-3b-50", [] { return llamaConfig(instruct(llama32_3B())); },
       [] { return distilledMambaConfig(llama32_3B(), everyKth(28, 1, 2)); }},
      {"mil-8b-50", [] { return llamaConfig(instruct(llama31_8B())); },
       [] { return distilledMambaConfig(llama31_8B(), everyKth(32, 1, 2)); }},
      {"mil-8b-25", [] { return llamaConfig(llama3_8B()); }, // Mamba2InLlama_0_75
       [] { return distilledMambaConfig(llama3_8B(), everyKth(32, 3, 4)); }},
      // Llama 3.x (spec §3.2 table).
      {"llama-3.2-1b", [] { return llamaConfig(llama32_1B()); }},
      {"llama-3.2-3b", [] { return llamaConfig(llama32_3B()); }},
      {"llama-3.1-8b", [] { return llamaConfig(llama31_8B()); }},
      // state-spaces Mamba-2 LMs (spec §7.2).
      {"mamba2-130m", [] { return mamba2Config(768, 24); }},
      {"mamba2-370m", [] { return mamba2Config(1024, 48); }},
      {"mamba2-780m", [] { return mamba2Config(1536, 48); }},
      {"mamba2-1.3b", [] { return mamba2Config(2048, 48); }},
      {"mamba2-2.7b", [] { return mamba2Config(2560, 64); }},
  };
  return all;
}
} // namespace

std::vector<std::string> ssmc::hf::presetNames() {
  std::vector<std::string> names;
  for (const Preset &p : presets())
    names.push_back(p.name);
  return names;
}

llvm::Expected<ModelConfig> ssmc::hf::presetConfig(llvm::StringRef preset) {
  for (const Preset &p : presets()) {
    if (preset != p.name)
      continue;
    std::string config = llvm::formatv("{0}", json::Value(p.config())).str();
    std::string mamba =
        p.mambaConfig ? llvm::formatv("{0}", json::Value(p.mambaConfig())).str() : "";
    return parseModelConfigText(config, ("preset " + preset + ": config.json").str(), mamba,
                                ("preset " + preset + ": mamba_config.json").str());
  }
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "unknown preset '%s' (known: %s)", preset.str().c_str(),
                                 llvm::join(presetNames(), ", ").c_str());
}
