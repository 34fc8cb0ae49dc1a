//===- ReferenceConfig.cpp - The reference's own reading of config.json ---===//
//
// Written from the spec (§2.2 Llamba, §3.2 Mamba-in-the-Llama, §7.2 Mamba-2
// LMs, Llama-3 configs in §3.2), independently of frontends/hf. Keys that
// would change the math in a way the spec does not describe are rejected
// rather than guessed.
//
//===----------------------------------------------------------------------===//

#include "frontends/checkpoint/Checkpoint.h"
#include "test/reference/Reference.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>

using namespace ssmc::ref;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
namespace json = llvm::json;

llvm::StringRef ssmc::ref::familyName(Family f) {
  switch (f) {
  case Family::Llamba:
    return "llamba";
  case Family::Mamba2:
    return "mamba2";
  case Family::MambaInLlama:
    return "mamba_in_llama";
  case Family::Llama:
    return "llama";
  }
  return "unknown";
}

bool Config::isAttentionLayer(int64_t layer) const {
  return std::find(attnLayers.begin(), attnLayers.end(), layer) != attnLayers.end();
}

int64_t Config::bGroups() const { return family == Family::MambaInLlama ? dXB / dState : nGroups; }
int64_t Config::cGroups() const { return nGroups; }

int64_t Config::convChannels() const {
  if (family == Family::MambaInLlama)
    return dInner + 2 * dXB; // [x (d_xb) | B (d_xb) | C (d_inner)], §3.4
  return dInner + 2 * nGroups * dState; // [x | B | C], §2.4 / §7.3
}

int64_t Config::inProjRows() const {
  // Llamba [xBC | z | a] (§2.5), Mamba-2 [z | xBC | dt] (§1.8), MambaInLlama
  // [z | x | B | C | dt] (§3.4): always z + conv channels + one row per head.
  return dInner + convChannels() + nHeads;
}

namespace {

Error fail(StringRef where, const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), (where + ": " + msg).str());
}

/// Typed access to one JSON object with "<where>: key 'k' ..." errors. A key
/// whose value is null counts as absent (configs write "rope_scaling": null).
class Obj {
public:
  Obj(const json::Object *o, std::string where) : o(o), where(std::move(where)) {}

  bool has(StringRef key) const {
    const json::Value *v = o ? o->get(key) : nullptr;
    return v && !v->getAsNull();
  }

  Error getInt(StringRef key, int64_t &out, bool required) const {
    if (!has(key))
      return required ? fail(where, "missing key '" + key + "'") : Error::success();
    std::optional<int64_t> v = o->get(key)->getAsInteger();
    if (!v)
      return fail(where, "key '" + key + "' must be an integer");
    out = *v;
    return Error::success();
  }

  Error getNumber(StringRef key, double &out, bool required) const {
    if (!has(key))
      return required ? fail(where, "missing key '" + key + "'") : Error::success();
    std::optional<double> v = o->get(key)->getAsNumber();
    if (!v)
      return fail(where, "key '" + key + "' must be a number");
    out = *v;
    return Error::success();
  }

  Error getBool(StringRef key, bool &out, bool required) const {
    if (!has(key))
      return required ? fail(where, "missing key '" + key + "'") : Error::success();
    std::optional<bool> v = o->get(key)->getAsBoolean();
    if (!v)
      return fail(where, "key '" + key + "' must be a boolean");
    out = *v;
    return Error::success();
  }

  Error getString(StringRef key, std::string &out, bool required) const {
    if (!has(key))
      return required ? fail(where, "missing key '" + key + "'") : Error::success();
    std::optional<StringRef> v = o->get(key)->getAsString();
    if (!v)
      return fail(where, "key '" + key + "' must be a string");
    out = v->str();
    return Error::success();
  }

  /// Sub-object `key`; an absent key gives an empty object.
  Expected<Obj> getObject(StringRef key) const {
    if (!has(key))
      return Obj(nullptr, where + ": " + key.str());
    const json::Object *sub = o->get(key)->getAsObject();
    if (!sub)
      return fail(where, "key '" + key + "' must be an object");
    return Obj(sub, where + ": " + key.str());
  }

  Error getIntList(StringRef key, std::vector<int64_t> &out) const {
    if (!has(key))
      return Error::success();
    const json::Array *arr = o->get(key)->getAsArray();
    if (!arr)
      return fail(where, "key '" + key + "' must be a list of integers");
    out.clear();
    for (const json::Value &v : *arr) {
      std::optional<int64_t> i = v.getAsInteger();
      if (!i)
        return fail(where, "key '" + key + "' must be a list of integers");
      out.push_back(*i);
    }
    return Error::success();
  }

  /// Rejects a boolean option whose non-default value the reference does not implement.
  Error requireBool(StringRef key, bool expected, bool dflt) const {
    bool v = dflt;
    if (Error e = getBool(key, v, false))
      return e;
    if (v != expected)
      return fail(where, "key '" + key + "' = " + (v ? "true" : "false") +
                             " is not supported (only " + (expected ? "true" : "false") + ")");
    return Error::success();
  }

  const std::string &name() const { return where; }

private:
  const json::Object *o;
  std::string where;
};

Expected<json::Value> parseJson(StringRef text, StringRef where) {
  Expected<json::Value> v = ssmc::ckpt::parseJsonBounded(text);
  if (!v)
    return fail(where, "malformed JSON: " + llvm::toString(v.takeError()));
  if (!v->getAsObject())
    return fail(where, "top level must be an object");
  return std::move(*v);
}

int64_t roundUp(int64_t v, int64_t multiple) {
  if (multiple <= 1)
    return v;
  return (v + multiple - 1) / multiple * multiple;
}

/// Llamba config.json (§2.2; LlambaConfig / DiscreteMamba2 defaults).
Error parseLlamba(const Obj &top, Config &c) {
  c.family = Family::Llamba;
  int64_t padMultiple = 8;
  c.nLayer = 32;
  if (Error e = top.getInt("vocab_size", c.vocabSizeUnpadded, true))
    return e;
  if (Error e = top.getInt("d_model", c.dModel, true))
    return e;
  if (Error e = top.getInt("n_layer", c.nLayer, false))
    return e;
  if (Error e = top.getInt("pad_vocab_size_multiple", padMultiple, false))
    return e;
  if (Error e = top.getBool("tie_embeddings", c.tieEmbeddings, false))
    return e;
  if (Error e = top.requireBool("lm_head_bias", false, false))
    return e;
  if (Error e = top.getNumber("norm_epsilon", c.finalNormEps, false))
    return e;
  c.vocabSize = roundUp(c.vocabSizeUnpadded, padMultiple);
  c.ssmBlockNormEps = 1e-5; // hard-coded in Block.__init__ (§2.4)

  Expected<Obj> mlp = top.getObject("mlp_cfg");
  if (!mlp)
    return mlp.takeError();
  c.intermediateSize = 14336;
  if (Error e = mlp->getInt("intermediate_size", c.intermediateSize, false))
    return e;
  if (Error e = mlp->requireBool("bias", false, false))
    return e;
  std::string act = "silu";
  if (Error e = mlp->getString("act_fn", act, false))
    return e;
  if (act != "silu")
    return fail(mlp->name(), "act_fn '" + act + "' is not supported (only silu)");

  Expected<Obj> ssm = top.getObject("ssm_cfg");
  if (!ssm)
    return ssm.takeError();
  int64_t expand = 1;
  c.dState = 64;
  c.nHeads = 32;
  c.nGroups = 32;
  c.chunkSize = 128;
  if (Error e = ssm->getInt("d_state", c.dState, false))
    return e;
  if (Error e = ssm->getInt("n_v_heads", c.nHeads, false))
    return e;
  if (Error e = ssm->getInt("n_qk_heads", c.nGroups, false))
    return e;
  if (Error e = ssm->getInt("expand", expand, false))
    return e;
  if (Error e = ssm->getInt("chunk_size", c.chunkSize, false))
    return e;
  if (Error e = ssm->getInt("d_conv", c.convWidth, false))
    return e;
  if (Error e = ssm->getBool("conv_bias", c.convBias, false))
    return e;
  if (Error e = ssm->requireBool("bias", false, false))
    return e;
  std::string activation = "identity";
  if (Error e = ssm->getString("activation", activation, false))
    return e;
  if (activation != "identity")
    return fail(ssm->name(), "activation '" + activation + "' is not supported (only identity)");
  c.dInner = expand * c.dModel;
  if (c.nHeads <= 0 || c.dInner % c.nHeads != 0)
    return fail(ssm->name(), "n_v_heads must divide expand * d_model");
  c.headDim = c.dInner / c.nHeads;
  return Error::success();
}

/// state-spaces mamba_ssm config.json (§7.2; MambaConfig dataclass and
/// Mamba2.__init__ defaults of §1.8).
Error parseMamba2(const Obj &top, const Obj &ssm, Config &c) {
  c.family = Family::Mamba2;
  c.dModel = 2560;
  c.nLayer = 64;
  c.vocabSizeUnpadded = 50277;
  int64_t padMultiple = 8;
  int64_t dIntermediate = 0;
  c.tieEmbeddings = true;
  if (Error e = top.getInt("d_model", c.dModel, false))
    return e;
  if (Error e = top.getInt("n_layer", c.nLayer, false))
    return e;
  if (Error e = top.getInt("vocab_size", c.vocabSizeUnpadded, false))
    return e;
  if (Error e = top.getInt("pad_vocab_size_multiple", padMultiple, false))
    return e;
  if (Error e = top.getInt("d_intermediate", dIntermediate, false))
    return e;
  if (Error e = top.getBool("tie_embeddings", c.tieEmbeddings, false))
    return e;
  if (Error e = top.requireBool("rms_norm", true, true))
    return e;
  std::vector<int64_t> attn;
  if (Error e = top.getIntList("attn_layer_idx", attn))
    return e;
  if (!attn.empty())
    return fail(top.name(), "attn_layer_idx is not supported (MHA blocks of mamba2attn)");
  // residual_in_fp32 / fused_add_norm only change rounding (§7.4): nothing to do in double.
  c.vocabSize = roundUp(c.vocabSizeUnpadded, padMultiple);
  c.ssmBlockNormEps = 1e-5; // no eps key (§7.2)
  c.finalNormEps = 1e-5;
  c.gatedMlpSize = roundUp(dIntermediate, 128); // GatedMLP multiple_of = 128 (§7.3)

  int64_t expand = 2, headdim = 64;
  c.dState = 128;
  c.nGroups = 1;
  c.chunkSize = 256;
  if (Error e = ssm.getInt("d_state", c.dState, false))
    return e;
  if (Error e = ssm.getInt("d_conv", c.convWidth, false))
    return e;
  if (Error e = ssm.getInt("expand", expand, false))
    return e;
  if (Error e = ssm.getInt("headdim", headdim, false))
    return e;
  if (Error e = ssm.getInt("ngroups", c.nGroups, false))
    return e;
  if (Error e = ssm.getInt("chunk_size", c.chunkSize, false))
    return e;
  if (Error e = ssm.getBool("conv_bias", c.convBias, false))
    return e;
  if (Error e = ssm.requireBool("rmsnorm", true, true))
    return e;
  if (Error e = ssm.requireBool("norm_before_gate", false, false))
    return e;
  if (Error e = ssm.requireBool("D_has_hdim", false, false))
    return e;
  if (Error e = ssm.requireBool("bias", false, false))
    return e;
  if (ssm.has("dt_limit"))
    return fail(ssm.name(), "key 'dt_limit' is not supported (only the default (0, inf))");
  c.dInner = expand * c.dModel;
  int64_t dSsm = c.dInner;
  if (Error e = ssm.getInt("d_ssm", dSsm, false))
    return e;
  if (dSsm != c.dInner)
    return fail(ssm.name(), "d_ssm != expand * d_model (the d_mlp part of in_proj) is not supported");
  if (headdim <= 0 || c.dInner % headdim != 0)
    return fail(ssm.name(), "headdim must divide expand * d_model");
  c.headDim = headdim;
  c.nHeads = c.dInner / headdim;
  if (c.nGroups <= 0 || c.dInner % c.nGroups != 0)
    return fail(ssm.name(), "ngroups must divide d_inner");
  c.normGroupSize = c.dInner / c.nGroups; // RMSNormGated(group_size = d_ssm / ngroups)
  return Error::success();
}

/// The attention part of a Llama config.json (LlamaConfig defaults).
Error parseLlamaConfig(const Obj &top, Config &c) {
  if (Error e = top.getInt("vocab_size", c.vocabSizeUnpadded, true))
    return e;
  if (Error e = top.getInt("hidden_size", c.dModel, true))
    return e;
  if (Error e = top.getInt("num_hidden_layers", c.nLayer, true))
    return e;
  if (Error e = top.getInt("intermediate_size", c.intermediateSize, true))
    return e;
  if (Error e = top.getInt("num_attention_heads", c.nAttnHeads, true))
    return e;
  c.nKVHeads = c.nAttnHeads;
  if (Error e = top.getInt("num_key_value_heads", c.nKVHeads, false))
    return e;
  if (c.nAttnHeads <= 0 || c.dModel % c.nAttnHeads != 0) {
    if (!top.has("head_dim"))
      return fail(top.name(), "num_attention_heads must divide hidden_size when head_dim is absent");
  } else {
    c.attnHeadDim = c.dModel / c.nAttnHeads;
  }
  if (Error e = top.getInt("head_dim", c.attnHeadDim, false))
    return e;
  double eps = 1e-6; // LlamaConfig default
  if (Error e = top.getNumber("rms_norm_eps", eps, false))
    return e;
  c.attnBlockNormEps = eps;
  c.finalNormEps = eps;
  c.ssmBlockNormEps = eps;
  c.tieEmbeddings = false;
  if (Error e = top.getBool("tie_word_embeddings", c.tieEmbeddings, false))
    return e;
  if (Error e = top.requireBool("attention_bias", false, false))
    return e;
  if (Error e = top.requireBool("mlp_bias", false, false))
    return e;
  std::string act = "silu";
  if (Error e = top.getString("hidden_act", act, false))
    return e;
  if (act != "silu")
    return fail(top.name(), "hidden_act '" + act + "' is not supported (only silu)");
  c.vocabSize = c.vocabSizeUnpadded;

  // RoPE: rope_theta + rope_scaling (transformers 4.x) or rope_parameters (5.x).
  c.rope = RopeParams();
  if (Error e = top.getNumber("rope_theta", c.rope.theta, false))
    return e;
  Expected<Obj> scaling = top.getObject(top.has("rope_parameters") ? "rope_parameters" : "rope_scaling");
  if (!scaling)
    return scaling.takeError();
  if (Error e = scaling->getNumber("rope_theta", c.rope.theta, false))
    return e;
  std::string type = "default";
  if (Error e = scaling->getString("type", type, false))
    return e;
  if (Error e = scaling->getString("rope_type", type, false))
    return e;
  if (type == "llama3") {
    c.rope.llama3 = true;
    if (Error e = scaling->getNumber("factor", c.rope.factor, true))
      return e;
    if (Error e = scaling->getNumber("low_freq_factor", c.rope.lowFreqFactor, true))
      return e;
    if (Error e = scaling->getNumber("high_freq_factor", c.rope.highFreqFactor, true))
      return e;
    if (Error e = scaling->getNumber("original_max_position_embeddings", c.rope.originalMaxPositions, true))
      return e;
  } else if (type != "default") {
    return fail(scaling->name(), "rope type '" + type + "' is not supported (default or llama3)");
  }
  return Error::success();
}

/// mamba_config.json of a Mamba-in-the-Llama checkpoint (§3.2, §3.3).
Error parseMambaInLlama(const Obj &m, Config &c) {
  c.family = Family::MambaInLlama;
  int64_t dModel = 0, nLayer = 0, intermediate = 0;
  if (Error e = m.getInt("d_model", dModel, true))
    return e;
  if (Error e = m.getInt("n_layer", nLayer, true))
    return e;
  if (Error e = m.getInt("intermediate_size", intermediate, false))
    return e;
  if (dModel != c.dModel)
    return fail(m.name(), "d_model " + llvm::Twine(dModel) + " differs from config.json hidden_size " +
                              llvm::Twine(c.dModel));
  if (nLayer != c.nLayer)
    return fail(m.name(), "n_layer " + llvm::Twine(nLayer) + " differs from config.json num_hidden_layers " +
                              llvm::Twine(c.nLayer));
  if (intermediate != 0 && intermediate != c.intermediateSize)
    return fail(m.name(), "intermediate_size differs from config.json");
  // MambaDecoderLayer norms use mamba_config's eps (§3.5); attention layers and
  // the final norm keep config.json's rms_norm_eps.
  if (Error e = m.getNumber("rms_norm_eps", c.ssmBlockNormEps, false))
    return e;
  if (Error e = m.getInt("d_inner", c.dInner, true))
    return e;
  if (Error e = m.getInt("d_xb", c.dXB, true))
    return e;
  std::string act = "silu";
  if (Error e = m.getString("hidden_act", act, false))
    return e;
  if (act != "silu")
    return fail(m.name(), "hidden_act '" + act + "' is not supported (only silu)");
  if (Error e = m.getIntList("attn_layers", c.attnLayers))
    return e;
  Expected<Obj> ssm = m.getObject("ssm_cfg");
  if (!ssm)
    return ssm.takeError();
  if (Error e = ssm->getInt("ngroups", c.nGroups, true))
    return e;
  if (Error e = ssm->getInt("d_state", c.dState, true))
    return e;
  if (Error e = ssm->getInt("d_conv", c.convWidth, false))
    return e;
  if (Error e = ssm->getBool("conv_bias", c.convBias, false))
    return e;
  c.chunkSize = 256;
  if (Error e = ssm->getInt("chunk_size", c.chunkSize, false))
    return e;
  if (Error e = ssm->requireBool("repeat_kv_before_conv", false, false))
    return e;
  // Mamba2.__init__ (§3.3): nheads = ngroups, headdim = d_state, d_inner = ngroups * d_state.
  if (c.dInner != c.nGroups * c.dState)
    return fail(m.name(), "d_inner must equal ssm_cfg.ngroups * ssm_cfg.d_state");
  c.nHeads = c.nGroups;
  c.headDim = c.dState;
  c.normGroupSize = c.dInner / c.nGroups;
  if (c.dState <= 0 || c.dXB % c.dState != 0)
    return fail(m.name(), "d_xb must be a multiple of ssm_cfg.d_state");
  for (int64_t l : c.attnLayers)
    if (l < 0 || l >= c.nLayer)
      return fail(m.name(), "attn_layers entry " + llvm::Twine(l) + " is not a layer index");
  return Error::success();
}

} // namespace

Error ssmc::ref::validateConfig(const Config &c) {
  auto bad = [](const llvm::Twine &msg) { return fail("config", msg); };
  if (c.vocabSize <= 0 || c.vocabSizeUnpadded <= 0 || c.vocabSizeUnpadded > c.vocabSize)
    return bad("vocabulary sizes must be positive, unpadded <= padded");
  if (c.dModel <= 0 || c.nLayer <= 0)
    return bad("d_model and the layer count must be positive");
  bool hasSsm = false, hasAttn = false;
  for (int64_t l = 0; l < c.nLayer; ++l)
    (c.family == Family::Llama || c.isAttentionLayer(l) ? hasAttn : hasSsm) = true;
  if (hasSsm) {
    if (c.nHeads <= 0 || c.headDim <= 0 || c.dState <= 0 || c.nGroups <= 0 || c.convWidth <= 0)
      return bad("SSM dimensions must be positive");
    if (c.nHeads * c.headDim != c.dInner)
      return bad("H * P must equal d_inner");
    if (c.nHeads % c.bGroups() != 0 || c.nHeads % c.cGroups() != 0)
      return bad("B/C groups must divide the head count");
    if (c.family == Family::MambaInLlama && (c.headDim != c.dState || c.bGroups() * c.dState != c.dXB))
      return bad("MambaInLlama needs headdim = d_state and d_xb = x/B groups * d_state");
    if (c.family != Family::Llamba && (c.normGroupSize <= 0 || c.dInner % c.normGroupSize != 0))
      return bad("gated norm group size must divide d_inner");
    if (c.chunkSize <= 0)
      return bad("chunk size must be positive");
  }
  if (hasAttn) {
    if (c.nAttnHeads <= 0 || c.nKVHeads <= 0 || c.attnHeadDim <= 0 || c.attnHeadDim % 2 != 0)
      return bad("attention heads must be positive, head dim even");
    if (c.nAttnHeads % c.nKVHeads != 0)
      return bad("num_key_value_heads must divide num_attention_heads");
  }
  if (c.family == Family::Mamba2 && c.intermediateSize != 0)
    return bad("Mamba-2 LMs use the GatedMLP (gatedMlpSize), not SwiGLU");
  return Error::success();
}

Expected<Config> ssmc::ref::parseConfig(StringRef configJson, StringRef mambaConfigJson, StringRef where) {
  Expected<json::Value> topV = parseJson(configJson, where);
  if (!topV)
    return topV.takeError();
  Obj top(topV->getAsObject(), where.str());
  Config c;
  std::string modelType;
  if (Error e = top.getString("model_type", modelType, false))
    return std::move(e);

  if (!mambaConfigJson.empty()) {
    llvm::SmallString<256> mwhere(llvm::sys::path::parent_path(where));
    llvm::sys::path::append(mwhere, "mamba_config.json");
    if (modelType != "llama")
      return fail(where, "mamba_config.json found but model_type is '" + modelType + "', expected 'llama'");
    if (Error e = parseLlamaConfig(top, c))
      return std::move(e);
    Expected<json::Value> mV = parseJson(mambaConfigJson, mwhere);
    if (!mV)
      return mV.takeError();
    if (Error e = parseMambaInLlama(Obj(mV->getAsObject(), mwhere.str().str()), c))
      return std::move(e);
  } else if (modelType == "llamba") {
    if (Error e = parseLlamba(top, c))
      return std::move(e);
  } else if (modelType == "llama") {
    c.family = Family::Llama;
    if (Error e = parseLlamaConfig(top, c))
      return std::move(e);
    c.attnLayers.clear();
    for (int64_t l = 0; l < c.nLayer; ++l)
      c.attnLayers.push_back(l);
  } else if (modelType.empty()) {
    Expected<Obj> ssm = top.getObject("ssm_cfg");
    if (!ssm)
      return ssm.takeError();
    std::string layer = "Mamba1"; // create_block default (§7.2)
    if (Error e = ssm->getString("layer", layer, false))
      return std::move(e);
    if (layer != "Mamba2")
      return fail(where, "no model_type and ssm_cfg.layer is '" + layer +
                             "': only state-spaces Mamba-2 configs are supported");
    if (Error e = parseMamba2(top, *ssm, c))
      return std::move(e);
  } else {
    return fail(where, "unsupported model_type '" + modelType + "'");
  }
  if (Error e = validateConfig(c))
    return fail(where, llvm::toString(std::move(e)));
  return c;
}

Expected<Config> ssmc::ref::parseConfigDir(StringRef dir) {
  llvm::SmallString<256> cfgPath(dir), mambaPath(dir);
  llvm::sys::path::append(cfgPath, "config.json");
  llvm::sys::path::append(mambaPath, "mamba_config.json");
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> cfgBuf = llvm::MemoryBuffer::getFile(cfgPath);
  if (!cfgBuf)
    return fail(cfgPath, "cannot read: " + cfgBuf.getError().message());
  std::string mambaText;
  if (llvm::sys::fs::exists(mambaPath)) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> mBuf = llvm::MemoryBuffer::getFile(mambaPath);
    if (!mBuf)
      return fail(mambaPath, "cannot read: " + mBuf.getError().message());
    mambaText = (*mBuf)->getBuffer().str();
    if (mambaText.empty())
      return fail(mambaPath, "file is empty");
  }
  return parseConfig((*cfgBuf)->getBuffer(), mambaText, cfgPath);
}
