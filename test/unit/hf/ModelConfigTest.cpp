//===- ModelConfigTest.cpp - Config parsing, writing, presets, tensors ----===//
//
// Numbers come from ../shared/spec/models.md: §2.3 (Llamba derived sizes),
// §3.3 (MambaInLlama), §7.3 (Mamba-2), and the verbatim configs quoted there.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "frontends/hf/ModelConfig.h"
#include "frontends/hf/ModelConfigJSON.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <map>
#include <set>

using namespace ssmc::hf;
using ssmc::hf::test::countParameters;
using ssmc::hf::test::TempDir;

namespace {

ModelConfig preset(llvm::StringRef name) {
  llvm::Expected<ModelConfig> cfg = presetConfig(name);
  if (!cfg) {
    ADD_FAILURE() << name.str() << ": " << llvm::toString(cfg.takeError());
    return ModelConfig();
  }
  return *cfg;
}

void expectSameConfig(const ModelConfig &a, const ModelConfig &b, const std::string &what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.vocabSizeUnpadded, b.vocabSizeUnpadded);
  EXPECT_EQ(a.padVocabMultiple, b.padVocabMultiple);
  EXPECT_EQ(a.dModel, b.dModel);
  EXPECT_EQ(a.nLayer, b.nLayer);
  EXPECT_EQ(a.intermediateSize, b.intermediateSize);
  EXPECT_EQ(a.tieEmbeddings, b.tieEmbeddings);
  EXPECT_EQ(a.blockNormEps, b.blockNormEps);
  EXPECT_EQ(a.finalNormEps, b.finalNormEps);
  EXPECT_EQ(a.blockNorm, b.blockNorm);
  EXPECT_EQ(a.finalNorm, b.finalNorm);
  EXPECT_EQ(a.residualInFp32, b.residualInFp32);
  EXPECT_EQ(a.eosTokenIds, b.eosTokenIds);
  EXPECT_EQ(a.bosTokenId, b.bosTokenId);
  EXPECT_EQ(a.ssmHeads, b.ssmHeads);
  EXPECT_EQ(a.headDim, b.headDim);
  EXPECT_EQ(a.stateDim, b.stateDim);
  EXPECT_EQ(a.xHeads, b.xHeads);
  EXPECT_EQ(a.bGroups, b.bGroups);
  EXPECT_EQ(a.cGroups, b.cGroups);
  EXPECT_EQ(a.dInner, b.dInner);
  EXPECT_EQ(a.convWidth, b.convWidth);
  EXPECT_EQ(a.convBias, b.convBias);
  EXPECT_EQ(a.chunkSize, b.chunkSize);
  EXPECT_EQ(a.normGroupSize, b.normGroupSize);
  EXPECT_EQ(a.mixerNormEps, b.mixerNormEps);
  EXPECT_EQ(a.attnHeads, b.attnHeads);
  EXPECT_EQ(a.kvHeads, b.kvHeads);
  EXPECT_EQ(a.attnHeadDim, b.attnHeadDim);
  EXPECT_EQ(a.maxPositions, b.maxPositions);
  EXPECT_EQ(a.rope.theta, b.rope.theta);
  EXPECT_EQ(a.rope.rotaryDim, b.rope.rotaryDim);
  EXPECT_EQ(a.rope.llama3Scaling, b.rope.llama3Scaling);
  EXPECT_EQ(a.rope.factor, b.rope.factor);
  EXPECT_EQ(a.rope.lowFreqFactor, b.rope.lowFreqFactor);
  EXPECT_EQ(a.rope.highFreqFactor, b.rope.highFreqFactor);
  EXPECT_EQ(a.rope.originalMaxPositions, b.rope.originalMaxPositions);
  EXPECT_EQ(a.attnLayers, b.attnLayers);
  EXPECT_EQ(a.torchDtype, b.torchDtype);
}

/// The error message of parsing `config` (and `mamba`), or "" on success.
std::string parseError(llvm::StringRef config, llvm::StringRef mamba = "") {
  llvm::Expected<ModelConfig> cfg =
      parseModelConfigText(config, "dir/config.json", mamba, "dir/mamba_config.json");
  if (cfg)
    return "";
  return llvm::toString(cfg.takeError());
}

/// The rendered config of `preset` with `edit` applied to its JSON.
std::string edited(llvm::StringRef presetName, llvm::function_ref<void(llvm::json::Object &)> edit,
                   bool mambaFile = false) {
  ConfigTexts texts = renderModelConfig(preset(presetName));
  llvm::Expected<llvm::json::Value> v =
      llvm::json::parse(mambaFile ? texts.mambaConfig : texts.config);
  EXPECT_TRUE(bool(v));
  if (!v) {
    llvm::consumeError(v.takeError());
    return "";
  }
  edit(*v->getAsObject());
  return llvm::formatv("{0}", *v).str();
}

std::string editedError(llvm::StringRef presetName,
                        llvm::function_ref<void(llvm::json::Object &)> edit) {
  return parseError(edited(presetName, edit));
}

std::string editedMambaError(llvm::StringRef presetName,
                             llvm::function_ref<void(llvm::json::Object &)> edit) {
  ConfigTexts texts = renderModelConfig(preset(presetName));
  return parseError(texts.config, edited(presetName, edit, /*mambaFile=*/true));
}

llvm::json::Object &sub(llvm::json::Object &o, llvm::StringRef key) {
  return *o.getObject(key);
}

const ExpectedTensor *findTensor(const std::vector<ExpectedTensor> &ts, llvm::StringRef name) {
  for (const ExpectedTensor &t : ts)
    if (t.name == name)
      return &t;
  return nullptr;
}

std::vector<int64_t> shapeOf(const ModelConfig &cfg, llvm::StringRef name) {
  std::vector<ExpectedTensor> ts = expectedTensors(cfg);
  const ExpectedTensor *t = findTensor(ts, name);
  EXPECT_NE(t, nullptr) << name.str();
  return t ? t->shape : std::vector<int64_t>{};
}

using Shape = std::vector<int64_t>;

//===----------------------------------------------------------------------===//
// Presets and round trips
//===----------------------------------------------------------------------===//

TEST(ModelConfigPresets, NamesCoverEveryFamilyAndPublishedShape) {
  std::vector<std::string> names = presetNames();
  std::set<std::string> set(names.begin(), names.end());
  EXPECT_EQ(set.size(), names.size()) << "duplicate preset names";
  for (const char *required :
       {"tiny-llamba", "tiny-mamba2", "tiny-mil", "tiny-llama", "llamba-1b", "llamba-3b",
        "llamba-8b", "mil-3b-50", "mil-8b-50", "mil-8b-25", "llama-3.2-1b", "llama-3.1-8b",
        "mamba2-130m", "mamba2-1.3b", "mamba2-2.7b"})
    EXPECT_TRUE(set.count(required)) << required;
}

TEST(ModelConfigPresets, UnknownPresetIsAnError) {
  llvm::Expected<ModelConfig> cfg = presetConfig("llamba-70b");
  ASSERT_FALSE(bool(cfg));
  std::string msg = llvm::toString(cfg.takeError());
  EXPECT_NE(msg.find("unknown preset 'llamba-70b'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tiny-llamba"), std::string::npos) << msg;
}

TEST(ModelConfigPresets, EveryPresetRoundTripsThroughFiles) {
  for (const std::string &name : presetNames()) {
    ModelConfig cfg = preset(name);
    EXPECT_FALSE(bool(validateModelConfig(cfg, name))) << name;
    TempDir dir;
    ASSERT_FALSE(bool(writeModelConfig(cfg, dir.str()))) << name;
    EXPECT_EQ(llvm::sys::fs::exists(dir.file("mamba_config.json")),
              cfg.family == Family::MambaInLlama)
        << name;
    llvm::Expected<ModelConfig> back = parseModelConfig(dir.str());
    ASSERT_TRUE(bool(back)) << name << ": " << llvm::toString(back.takeError());
    expectSameConfig(cfg, *back, name);
    // And through the text form.
    ConfigTexts texts = renderModelConfig(cfg);
    llvm::Expected<ModelConfig> fromText =
        parseModelConfigText(texts.config, "config.json", texts.mambaConfig);
    ASSERT_TRUE(bool(fromText)) << name << ": " << llvm::toString(fromText.takeError());
    expectSameConfig(cfg, *fromText, name + " (text)");
  }
}

TEST(ModelConfigPresets, TinyPresetsKeepEveryStructuralFeature) {
  ModelConfig llamba = preset("tiny-llamba");
  EXPECT_EQ(llamba.family, Family::Llamba);
  EXPECT_LT(llamba.bGroups, llamba.ssmHeads);
  EXPECT_NE(llamba.vocabSize, llamba.vocabSizeUnpadded); // padding exercised
  EXPECT_FALSE(llamba.tieEmbeddings);

  ModelConfig mamba2 = preset("tiny-mamba2");
  EXPECT_EQ(mamba2.family, Family::Mamba2);
  EXPECT_GT(mamba2.bGroups, 1);
  EXPECT_LT(mamba2.bGroups, mamba2.ssmHeads);
  EXPECT_NE(mamba2.vocabSize, mamba2.vocabSizeUnpadded);
  EXPECT_LT(mamba2.normGroupSize, mamba2.dInner); // more than one norm group
  EXPECT_TRUE(mamba2.tieEmbeddings);

  ModelConfig mil = preset("tiny-mil");
  EXPECT_EQ(mil.family, Family::MambaInLlama);
  EXPECT_LT(mil.xHeads, mil.ssmHeads); // x/B repeated to heads
  EXPECT_EQ(mil.cGroups, mil.ssmHeads);
  EXPECT_LT(mil.kvHeads, mil.attnHeads); // GQA
  EXPECT_FALSE(mil.attnLayers.empty());
  EXPECT_LT(int64_t(mil.attnLayers.size()), mil.nLayer);
  EXPECT_FALSE(mil.tieEmbeddings);

  ModelConfig llama = preset("tiny-llama");
  EXPECT_EQ(llama.family, Family::Llama);
  EXPECT_LT(llama.kvHeads, llama.attnHeads);
  EXPECT_TRUE(llama.rope.llama3Scaling);
  EXPECT_TRUE(llama.tieEmbeddings);
  EXPECT_EQ(llama.eosTokenIds, (std::vector<int64_t>{2, 3}));

  for (const ModelConfig &c : {llamba, mamba2, mil, llama}) {
    EXPECT_GE(c.dModel, 64);
    EXPECT_LE(c.dModel, 128);
    EXPECT_GE(c.nLayer, 2);
    EXPECT_LE(c.nLayer, 4);
    EXPECT_GE(c.vocabSize, 256);
    EXPECT_LE(c.vocabSize, 512);
  }
}

//===----------------------------------------------------------------------===//
// Derived dimensions and tensor inventories against the spec tables
//===----------------------------------------------------------------------===//

TEST(ModelConfigShapes, Llamba1B) {
  ModelConfig c = preset("llamba-1b");
  EXPECT_EQ(c.ssmHeads, 32);
  EXPECT_EQ(c.headDim, 64);
  EXPECT_EQ(c.stateDim, 64);
  EXPECT_EQ(c.bGroups, 32);
  EXPECT_EQ(c.cGroups, 32);
  EXPECT_EQ(c.xHeads, 32);
  EXPECT_EQ(c.chunkSize, 128);
  EXPECT_EQ(c.inProjRows(), 8224);
  EXPECT_EQ(c.convChannels(), 6144);
  EXPECT_EQ(c.vocabSize, 128256);
  EXPECT_EQ(c.blockNorm, NormRounding::HF);
  EXPECT_EQ(shapeOf(c, "backbone.layers.0.mixer.in_proj.weight"), (Shape{8224, 2048}));
  EXPECT_EQ(shapeOf(c, "backbone.layers.15.mixer.conv1d.weight"), (Shape{6144, 1, 4}));
  EXPECT_EQ(shapeOf(c, "backbone.layers.3.mixer.z_bias"), (Shape{2048}));
  EXPECT_EQ(shapeOf(c, "backbone.layers.3.mixer.D"), (Shape{32}));
  EXPECT_EQ(shapeOf(c, "backbone.layers.3.mlp.down_proj.weight"), (Shape{2048, 8192}));
  std::vector<ExpectedTensor> ts = expectedTensors(c);
  EXPECT_EQ(findTensor(ts, "lm_head.weight"), nullptr);
  EXPECT_EQ(countParameters(c), 1405159936);
  c.tieEmbeddings = false;
  EXPECT_EQ(countParameters(c), 1667828224);
  EXPECT_NE(findTensor(expectedTensors(c), "lm_head.weight"), nullptr);
}

TEST(ModelConfigShapes, Llamba3BAnd8B) {
  ModelConfig c3 = preset("llamba-3b");
  EXPECT_EQ(c3.headDim, 96);
  EXPECT_EQ(c3.inProjRows(), 10272);
  EXPECT_EQ(c3.convChannels(), 7168);
  EXPECT_EQ(countParameters(c3), 3656994688);
  c3.tieEmbeddings = false;
  EXPECT_EQ(countParameters(c3), 4050997120);

  ModelConfig c8 = preset("llamba-8b");
  EXPECT_EQ(c8.headDim, 128);
  EXPECT_EQ(c8.inProjRows(), 12320);
  EXPECT_EQ(c8.convChannels(), 8192);
  EXPECT_EQ(countParameters(c8), 8315868160);
  EXPECT_EQ(countParameters(preset("llamba-8b-untied")), 8841204736);
}

TEST(ModelConfigShapes, LlambaTensorOrderAndRoles) {
  std::vector<ExpectedTensor> ts = expectedTensors(preset("tiny-llamba"));
  std::vector<std::pair<std::string, std::string>> head;
  for (size_t i = 0; i < 14 && i < ts.size(); ++i)
    head.emplace_back(ts[i].name, ts[i].role);
  std::vector<std::pair<std::string, std::string>> want = {
      {"backbone.embedding.weight", "embedding"},
      {"backbone.layers.0.input_layernorm.weight", "input_norm"},
      {"backbone.layers.0.mixer.in_proj.weight", "in_proj"},
      {"backbone.layers.0.mixer.z_bias", "z_bias"},
      {"backbone.layers.0.mixer.conv1d.weight", "conv_weight"},
      {"backbone.layers.0.mixer.conv1d.bias", "conv_bias"},
      {"backbone.layers.0.mixer.D", "D"},
      {"backbone.layers.0.mixer.out_proj.weight", "out_proj"},
      {"backbone.layers.0.post_attention_layernorm.weight", "post_norm"},
      {"backbone.layers.0.mlp.gate_proj.weight", "mlp_gate"},
      {"backbone.layers.0.mlp.up_proj.weight", "mlp_up"},
      {"backbone.layers.0.mlp.down_proj.weight", "mlp_down"},
      {"backbone.layers.1.input_layernorm.weight", "input_norm"},
      {"backbone.layers.1.mixer.in_proj.weight", "in_proj"},
  };
  EXPECT_EQ(head, want);
  EXPECT_EQ(ts.back().name, "lm_head.weight"); // tiny-llamba is untied
  EXPECT_EQ(ts.back().role, "lm_head");
  EXPECT_EQ(ts.back().layer, -1);
  EXPECT_EQ(ts[ts.size() - 2].name, "backbone.final_layernorm.weight");
  EXPECT_EQ(ts[2].layer, 0);
  EXPECT_EQ(ts[13].layer, 1);
  // tiny-llamba: d 64, 4 heads of 16, 2 groups of 16 -> in_proj 64+64+64+4.
  EXPECT_EQ(ts[2].shape, (Shape{196, 64}));
  EXPECT_EQ(ts[4].shape, (Shape{128, 1, 4}));
  EXPECT_EQ(ts[0].shape, (Shape{304, 64})); // 300 padded to a multiple of 8
}

TEST(ModelConfigShapes, Mamba2Published) {
  ModelConfig c = preset("mamba2-130m");
  EXPECT_EQ(c.vocabSizeUnpadded, 50277);
  EXPECT_EQ(c.vocabSize, 50288);
  EXPECT_EQ(c.dInner, 1536);
  EXPECT_EQ(c.ssmHeads, 24);
  EXPECT_EQ(c.headDim, 64);
  EXPECT_EQ(c.stateDim, 128);
  EXPECT_EQ(c.bGroups, 1);
  EXPECT_EQ(c.normGroupSize, 1536);
  EXPECT_EQ(c.chunkSize, 256);
  EXPECT_TRUE(c.residualInFp32);
  EXPECT_EQ(c.blockNorm, NormRounding::Fused);
  EXPECT_EQ(c.finalNorm, NormRounding::Fused);
  EXPECT_EQ(c.intermediateSize, 0);
  EXPECT_EQ(shapeOf(c, "backbone.layers.0.mixer.in_proj.weight"), (Shape{3352, 768}));
  EXPECT_EQ(shapeOf(c, "backbone.layers.0.mixer.conv1d.weight"), (Shape{1792, 1, 4}));
  EXPECT_EQ(shapeOf(c, "backbone.layers.23.mixer.norm.weight"), (Shape{1536}));
  EXPECT_EQ(shapeOf(c, "backbone.layers.23.mixer.out_proj.weight"), (Shape{768, 1536}));
  EXPECT_EQ(shapeOf(c, "backbone.embedding.weight"), (Shape{50288, 768}));
  EXPECT_EQ(shapeOf(c, "backbone.norm_f.weight"), (Shape{768}));
  EXPECT_EQ(findTensor(expectedTensors(c), "lm_head.weight"), nullptr);
  EXPECT_EQ(countParameters(c), 128989632);
  EXPECT_EQ(countParameters(preset("mamba2-370m")), 368346624);
  EXPECT_EQ(countParameters(preset("mamba2-780m")), 780161280);
  EXPECT_EQ(countParameters(preset("mamba2-1.3b")), 1343757312);
  EXPECT_EQ(countParameters(preset("mamba2-2.7b")), 2702599680);
  EXPECT_EQ(preset("mamba2-2.7b").inProjRows(), 10576);
  EXPECT_EQ(preset("mamba2-2.7b").convChannels(), 5376);
}

TEST(ModelConfigShapes, MambaInLlama8B) {
  ModelConfig c = preset("mil-8b-50");
  EXPECT_EQ(c.ssmHeads, 32);
  EXPECT_EQ(c.headDim, 128);
  EXPECT_EQ(c.stateDim, 128);
  EXPECT_EQ(c.xHeads, 8);
  EXPECT_EQ(c.bGroups, 8);
  EXPECT_EQ(c.cGroups, 32);
  EXPECT_EQ(c.xWidth(), 1024);
  EXPECT_EQ(c.normGroupSize, 128);
  EXPECT_EQ(c.chunkSize, 256);
  EXPECT_EQ(c.inProjRows(), 10272);
  EXPECT_EQ(c.convChannels(), 6144);
  EXPECT_EQ(c.blockNorm, NormRounding::Fused);
  EXPECT_EQ(c.finalNorm, NormRounding::HF);
  EXPECT_TRUE(c.rope.llama3Scaling);
  EXPECT_EQ(c.rope.factor, 8.0);
  EXPECT_EQ(c.rope.rotaryDim, 128);
  EXPECT_EQ(c.attnLayers.size(), 16u);
  EXPECT_TRUE(c.isAttentionLayer(1));
  EXPECT_TRUE(c.isAttentionLayer(31));
  EXPECT_FALSE(c.isAttentionLayer(0));
  EXPECT_FALSE(c.isAttentionLayer(30));
  EXPECT_EQ(shapeOf(c, "model.layers.0.mamba.in_proj.weight"), (Shape{10272, 4096}));
  EXPECT_EQ(shapeOf(c, "model.layers.0.mamba.conv1d.weight"), (Shape{6144, 1, 4}));
  EXPECT_EQ(shapeOf(c, "model.layers.0.mamba.norm.weight"), (Shape{4096}));
  EXPECT_EQ(shapeOf(c, "model.layers.0.mamba.dt_bias"), (Shape{32}));
  EXPECT_EQ(shapeOf(c, "model.layers.1.self_attn.q_proj.weight"), (Shape{4096, 4096}));
  EXPECT_EQ(shapeOf(c, "model.layers.1.self_attn.k_proj.weight"), (Shape{1024, 4096}));
  EXPECT_EQ(shapeOf(c, "model.layers.1.self_attn.o_proj.weight"), (Shape{4096, 4096}));
  std::vector<ExpectedTensor> ts = expectedTensors(c);
  EXPECT_EQ(findTensor(ts, "model.layers.1.mamba.in_proj.weight"), nullptr);
  EXPECT_EQ(findTensor(ts, "model.layers.0.self_attn.q_proj.weight"), nullptr);
  EXPECT_EQ(ts.back().name, "lm_head.weight");
  EXPECT_EQ(countParameters(c), 8301352448);

  ModelConfig c25 = preset("mil-8b-25");
  EXPECT_EQ(c25.attnLayers, (std::vector<int64_t>{3, 7, 11, 15, 19, 23, 27, 31}));
  EXPECT_FALSE(c25.rope.llama3Scaling);
  EXPECT_EQ(c25.maxPositions, 8192);
  EXPECT_EQ(c25.eosTokenIds, (std::vector<int64_t>{128009}));
}

TEST(ModelConfigShapes, MambaInLlama3B) {
  ModelConfig c = preset("mil-3b-50");
  EXPECT_EQ(c.ssmHeads, 24);
  EXPECT_EQ(c.xHeads, 8);
  EXPECT_EQ(c.inProjRows(), 8216);
  EXPECT_EQ(c.convChannels(), 5120);
  EXPECT_TRUE(c.tieEmbeddings);
  EXPECT_EQ(c.rope.factor, 32.0);
  EXPECT_EQ(c.eosTokenIds, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(countParameters(c), 3346305008);
}

TEST(ModelConfigShapes, Llama) {
  ModelConfig c = preset("llama-3.2-1b");
  EXPECT_EQ(c.attnHeads, 32);
  EXPECT_EQ(c.kvHeads, 8);
  EXPECT_EQ(c.attnHeadDim, 64);
  EXPECT_EQ(c.rope.factor, 32.0);
  EXPECT_EQ(c.rope.originalMaxPositions, 8192);
  EXPECT_EQ(c.maxPositions, 131072);
  EXPECT_EQ(c.attnLayers.size(), 16u);
  EXPECT_EQ(c.bosTokenId, 128000);
  EXPECT_EQ(c.torchDtype, "bfloat16");
  EXPECT_EQ(shapeOf(c, "model.layers.0.self_attn.k_proj.weight"), (Shape{512, 2048}));
  EXPECT_EQ(countParameters(c), 1235814400); // Llama-3.2-1B
  EXPECT_EQ(countParameters(preset("llama-3.1-8b")), 8030261248);
  std::vector<ExpectedTensor> ts = expectedTensors(c);
  EXPECT_EQ(ts[1].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(ts[1].role, "q_proj");
  EXPECT_EQ(ts.back().name, "model.norm.weight");
}

//===----------------------------------------------------------------------===//
// Written files against the verbatim upstream configs
//===----------------------------------------------------------------------===//

llvm::json::Value json(llvm::StringRef text) {
  llvm::Expected<llvm::json::Value> v = llvm::json::parse(text);
  if (!v) {
    ADD_FAILURE() << llvm::toString(v.takeError());
    return nullptr;
  }
  return std::move(*v);
}

std::set<std::string> keysOf(const llvm::json::Value &v) {
  std::set<std::string> keys;
  if (const llvm::json::Object *o = v.getAsObject())
    for (const auto &kv : *o)
      keys.insert(kv.first.str());
  return keys;
}

TEST(ModelConfigWrite, Llamba3BEqualsPublishedConfig) {
  const char *published =
      R"({"model_type": "llamba", "vocab_size": 128256, "tie_embeddings": true, "pad_vocab_size_multiple": 8,
 "lm_head_bias": false, "d_model": 3072, "n_layer": 28, "resid_dropout": 0.0, "norm_epsilon": 1e-5,
 "mlp_cfg": {"intermediate_size": 8192, "bias": false, "act_fn": "silu"},
 "ssm_cfg": {"d_state": 64, "n_v_heads": 32, "n_qk_heads": 32, "expand": 1, "chunk_size": 128,
             "activation": "identity", "bias": false}})";
  EXPECT_EQ(json(renderModelConfig(preset("llamba-3b")).config), json(published));
  llvm::Expected<ModelConfig> parsed = parseModelConfigText(published, "Llamba-3B/config.json");
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  expectSameConfig(*parsed, preset("llamba-3b"), "Llamba-3B");
}

TEST(ModelConfigWrite, Mamba2130mEqualsPublishedConfig) {
  const char *published =
      R"({"d_model": 768, "d_intermediate": 0, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {"layer": "Mamba2"},
 "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": true, "residual_in_fp32": true, "fused_add_norm": true,
 "pad_vocab_size_multiple": 16, "tie_embeddings": true})";
  EXPECT_EQ(json(renderModelConfig(preset("mamba2-130m")).config), json(published));
  // Exactly the 12 MambaConfig fields, also when ssm_cfg overrides defaults.
  std::set<std::string> twelve = {"d_model",          "d_intermediate", "n_layer",
                                  "vocab_size",       "ssm_cfg",        "attn_layer_idx",
                                  "attn_cfg",         "rms_norm",       "residual_in_fp32",
                                  "fused_add_norm",   "pad_vocab_size_multiple",
                                  "tie_embeddings"};
  EXPECT_EQ(keysOf(json(renderModelConfig(preset("tiny-mamba2")).config)), twelve);
}

TEST(ModelConfigWrite, MambaInLlamaEqualsPublishedMambaConfigs) {
  const char *mil3b =
      R"({"d_model": 3072, "ssm_cfg": {"expand": 1, "ngroups": 24, "d_state": 128}, "rms_norm_eps": 1e-05,
 "vocab_size": null, "d_inner": 3072, "d_xb": 1024, "intermediate_size": 8192, "hidden_act": "silu",
 "n_layer": 28, "attn_layers": [1,3,5,7,9,11,13,15,17,19,21,23,25,27]})";
  const char *mil8b25 =
      R"({"d_model": 4096, "ssm_cfg": {"expand": 1, "ngroups": 32, "d_state": 128}, "rms_norm_eps": 1e-05,
 "vocab_size": null, "d_inner": 4096, "d_xb": 1024, "intermediate_size": 14336, "hidden_act": "silu",
 "n_layer": 32, "attn_layers": [3,7,11,15,19,23,27,31]})";
  EXPECT_EQ(json(renderModelConfig(preset("mil-3b-50")).mambaConfig), json(mil3b));
  EXPECT_EQ(json(renderModelConfig(preset("mil-8b-25")).mambaConfig), json(mil8b25));
}

TEST(ModelConfigWrite, LlamaConfigKeys) {
  llvm::json::Value v = json(renderModelConfig(preset("llama-3.2-1b")).config);
  const llvm::json::Object &o = *v.getAsObject();
  EXPECT_EQ(o.getString("model_type"), std::optional<llvm::StringRef>("llama"));
  EXPECT_EQ(*o.get("architectures"), llvm::json::Value(llvm::json::Array{"LlamaForCausalLM"}));
  EXPECT_EQ(o.getString("torch_dtype"), std::optional<llvm::StringRef>("bfloat16"));
  EXPECT_EQ(o.getInteger("num_key_value_heads"), std::optional<int64_t>(8));
  EXPECT_EQ(o.getInteger("head_dim"), std::optional<int64_t>(64));
  EXPECT_EQ(o.getBoolean("tie_word_embeddings"), std::optional<bool>(true));
  EXPECT_EQ(o.getInteger("eos_token_id"), std::optional<int64_t>(128001));
  const llvm::json::Object *rope = o.getObject("rope_scaling");
  ASSERT_NE(rope, nullptr);
  EXPECT_EQ(rope->getString("rope_type"), std::optional<llvm::StringRef>("llama3"));
  EXPECT_EQ(rope->getNumber("factor"), std::optional<double>(32.0));
  EXPECT_EQ(rope->getInteger("original_max_position_embeddings"), std::optional<int64_t>(8192));
  // A list of eos ids stays a list; no scaling is null.
  llvm::json::Value mil = json(renderModelConfig(preset("mil-8b-25")).config);
  EXPECT_EQ(*mil.getAsObject()->get("rope_scaling"), llvm::json::Value(nullptr));
  llvm::json::Value mil3 = json(renderModelConfig(preset("mil-3b-50")).config);
  EXPECT_EQ(*mil3.getAsObject()->get("eos_token_id"),
            llvm::json::Value(llvm::json::Array{128001, 128008, 128009}));
}

TEST(ModelConfigWrite, MambaInLlamaNamesItsOwnDirectory) {
  TempDir dir;
  ASSERT_FALSE(bool(writeModelConfig(preset("tiny-mil"), dir.str())));
  auto buf = llvm::MemoryBuffer::getFile(dir.file("config.json"));
  ASSERT_TRUE(bool(buf));
  llvm::json::Value v = json((*buf)->getBuffer());
  std::optional<llvm::StringRef> name = v.getAsObject()->getString("_name_or_path");
  ASSERT_TRUE(name.has_value());
  EXPECT_TRUE(llvm::sys::fs::equivalent(*name, dir.str()));
}

TEST(ModelConfigWrite, LlamaOverAHybridRemovesItsMambaConfig) {
  TempDir dir;
  ASSERT_FALSE(bool(writeModelConfig(preset("tiny-mil"), dir.str())));
  ASSERT_FALSE(bool(writeModelConfig(preset("tiny-llama"), dir.str())));
  llvm::Expected<ModelConfig> back = parseModelConfig(dir.str());
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->family, Family::Llama);
}

TEST(ModelConfigWrite, InvalidConfigIsNotWritten) {
  ModelConfig c = preset("tiny-llamba");
  c.headDim = 15;
  TempDir dir;
  llvm::Error e = writeModelConfig(c, dir.str());
  ASSERT_TRUE(bool(e));
  std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("dInner"), std::string::npos) << msg;
  EXPECT_FALSE(llvm::sys::fs::exists(dir.file("config.json")));
}

TEST(ModelConfigWrite, NumbersAsPythonWritesThem) {
  EXPECT_EQ(formatJSONNumber(1e-5), "1e-05");
  EXPECT_EQ(formatJSONNumber(1e-6), "1e-06");
  EXPECT_EQ(formatJSONNumber(500000.0), "500000.0");
  EXPECT_EQ(formatJSONNumber(32.0), "32.0");
  EXPECT_EQ(formatJSONNumber(0.0), "0.0");
  EXPECT_EQ(formatJSONNumber(0.02), "0.02");
  EXPECT_EQ(formatJSONNumber(1.5), "1.5");
  EXPECT_EQ(formatJSONNumber(-0.25), "-0.25");
  EXPECT_EQ(formatJSONNumber(1e16), "1e+16");
  EXPECT_EQ(formatJSONNumber(123456789.125), "123456789.125");
  EXPECT_EQ(formatJSONNumber(0.1 + 0.2), "0.30000000000000004");
}

//===----------------------------------------------------------------------===//
// Errors: one test per class, checking that the message names file and key
//===----------------------------------------------------------------------===//

void expectMessage(const std::string &msg, std::initializer_list<const char *> parts) {
  EXPECT_FALSE(msg.empty()) << "expected an error";
  for (const char *part : parts)
    EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
}

TEST(ModelConfigErrors, MissingFile) {
  TempDir dir;
  llvm::Expected<ModelConfig> c = parseModelConfig(dir.str());
  ASSERT_FALSE(bool(c));
  std::string msg = llvm::toString(c.takeError());
  EXPECT_EQ(msg.rfind(dir.file("config.json"), 0), 0u) << msg;
  expectMessage(msg, {"file not found"});
}

TEST(ModelConfigErrors, MalformedJSONKeepsLineAndColumn) {
  expectMessage(parseError("{\"d_model\": 64,\n  \"n_layer\": }"),
                {"dir/config.json", "malformed JSON", "[2:"});
  expectMessage(parseError("[1, 2]"), {"dir/config.json", "top level must be a JSON object"});
  expectMessage(parseError(renderModelConfig(preset("tiny-mil")).config, "{\"d_model\": "),
                {"dir/mamba_config.json", "malformed JSON"});
}

TEST(ModelConfigErrors, FileErrorsStartWithThePath) {
  TempDir dir;
  dir.write("config.json", renderModelConfig(preset("tiny-mil")).config);
  dir.write("mamba_config.json", "{\"d_model\": 64, \"d_inner\": 65, \"ssm_cfg\": {}}");
  llvm::Expected<ModelConfig> c = parseModelConfig(dir.str());
  ASSERT_FALSE(bool(c));
  std::string msg = llvm::toString(c.takeError());
  EXPECT_EQ(msg.rfind(dir.file("mamba_config.json") + ": ", 0), 0u) << msg;
}

TEST(ModelConfigErrors, MissingRequiredKey) {
  expectMessage(editedError("tiny-llamba", [](auto &o) { o.erase("d_model"); }),
                {"dir/config.json", "missing required key 'd_model'"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o.erase("vocab_size"); }),
                {"missing required key 'vocab_size'"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o.erase("num_attention_heads"); }),
                {"missing required key 'num_attention_heads'"});
  expectMessage(editedMambaError("tiny-mil", [](auto &o) { o.erase("d_inner"); }),
                {"dir/mamba_config.json", "missing required key 'd_inner'"});
  expectMessage(editedError("tiny-llama", [](auto &o) { sub(o, "rope_scaling").erase("factor"); }),
                {"missing required key 'rope_scaling.factor'"});
}

TEST(ModelConfigErrors, WrongType) {
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["d_model"] = "64"; }),
                {"dir/config.json", "key 'd_model'", "expected an integer, got a string"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { sub(o, "ssm_cfg")["d_state"] = true; }),
                {"key 'ssm_cfg.d_state'", "expected an integer, got a boolean"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["d_model"] = 64.5; }),
                {"key 'd_model'", "expected an integer, got a number"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["ssm_cfg"] = 3; }),
                {"key 'ssm_cfg'", "expected an object, got a number"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["tie_embeddings"] = "yes"; }),
                {"key 'tie_embeddings'", "expected a boolean"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["eos_token_id"] = "2"; }),
                {"key 'eos_token_id'", "expected an integer or a list of integers"});
  expectMessage(editedError("tiny-llama",
                            [](auto &o) { o["eos_token_id"] = llvm::json::Array{1, "x"}; }),
                {"key 'eos_token_id'", "list entries must be integers"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["rms_norm_eps"] = "1e-5"; }),
                {"key 'rms_norm_eps'", "expected a number"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["model_type"] = 7; }),
                {"key 'model_type'", "expected a string"});
}

TEST(ModelConfigErrors, UnknownFamily) {
  expectMessage(editedError("tiny-llama", [](auto &o) { o["model_type"] = "gpt2"; }),
                {"dir/config.json", "key 'model_type'", "unknown model_type \"gpt2\""});
  expectMessage(parseError("{\"d_model\": 64}"),
                {"dir/config.json", "no model_type key and no ssm_cfg"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg").erase("layer"); }),
                {"key 'ssm_cfg.layer'", "\"Mamba1\"", "default"});
  expectMessage(
      editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["layer"] = "Mamba3"; }),
      {"key 'ssm_cfg.layer'", "\"Mamba3\""});
  // mamba_config.json next to a config that is not a Llama one.
  expectMessage(parseError(renderModelConfig(preset("tiny-llamba")).config,
                           renderModelConfig(preset("tiny-mil")).mambaConfig),
                {"dir/config.json", "mamba_config.json", "\"llamba\""});
}

TEST(ModelConfigErrors, NonPositiveSizes) {
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["d_model"] = 0; }),
                {"key 'd_model'", "must be a positive integer"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["n_layer"] = -2; }),
                {"key 'n_layer'", "must be a positive integer"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["headdim"] = 0; }),
                {"key 'ssm_cfg.headdim'", "positive"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["vocab_size"] = int64_t(1) << 40; }),
                {"key 'vocab_size'", "no larger than 2^31"});
  // Sizes that pass one by one but multiply to absurd shapes.
  expectMessage(editedError("tiny-llama",
                            [](auto &o) {
                              o["vocab_size"] = int64_t(1) << 30;
                              o["hidden_size"] = int64_t(1) << 30;
                              o.erase("head_dim");
                            }),
                {"dir/config.json", "more than 2^46 parameters"});
  expectMessage(editedError("tiny-llamba",
                            [](auto &o) {
                              o["d_model"] = int64_t(1) << 30;
                              sub(o, "ssm_cfg")["expand"] = 4;
                              sub(o, "ssm_cfg")["d_state"] = int64_t(1) << 31;
                            }),
                {"dir/config.json", "larger than 2^31"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["n_layer"] = int64_t(1) << 21; }),
                {"nLayer", "larger than 2^20"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["rms_norm_eps"] = 0.0; }),
                {"key 'rms_norm_eps'", "positive"});
  expectMessage(editedError("tiny-llama",
                            [](auto &o) { sub(o, "rope_scaling")["low_freq_factor"] = 8.0; }),
                {"key 'rope_scaling.high_freq_factor'", "larger than low_freq_factor"});
}

TEST(ModelConfigErrors, HeadsMustDivideWidths) {
  expectMessage(editedError("tiny-llamba", [](auto &o) { sub(o, "ssm_cfg")["n_v_heads"] = 5; }),
                {"key 'ssm_cfg.n_v_heads'", "does not divide d_model * expand (64)"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { sub(o, "ssm_cfg")["n_qk_heads"] = 3; }),
                {"key 'ssm_cfg.n_qk_heads'", "does not divide ssm_cfg.n_v_heads (4)"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["headdim"] = 48; }),
                {"key 'ssm_cfg.headdim'", "does not divide expand * d_model (128)"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["ngroups"] = 3; }),
                {"key 'ssm_cfg.ngroups'", "does not divide the number of heads (8"});
  expectMessage(editedError("tiny-llama",
                            [](auto &o) {
                              o.erase("head_dim");
                              o["num_attention_heads"] = 6;
                              o["num_key_value_heads"] = 2;
                            }),
                {"key 'num_attention_heads'", "does not divide hidden_size (64)"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["num_key_value_heads"] = 3; }),
                {"key 'num_key_value_heads'", "does not divide num_attention_heads (4)"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["head_dim"] = 15; }),
                {"key 'head_dim'", "must be even"});
}

TEST(ModelConfigErrors, MambaInLlamaConsistency) {
  expectMessage(editedMambaError("tiny-mil", [](auto &o) { o["d_inner"] = 96; }),
                {"dir/mamba_config.json", "key 'd_inner'",
                 "must equal ssm_cfg.ngroups * ssm_cfg.d_state (4 * 16)"});
  expectMessage(editedMambaError("tiny-mil", [](auto &o) { o["d_xb"] = 40; }),
                {"key 'd_xb'", "not a multiple of ssm_cfg.d_state (16)"});
  expectMessage(editedMambaError("tiny-mil", [](auto &o) { o["d_xb"] = 48; }),
                {"key 'd_xb'", "does not divide ssm_cfg.ngroups (4)"});
  expectMessage(editedMambaError("tiny-mil", [](auto &o) { o["d_model"] = 128; }),
                {"key 'd_model'", "differs from hidden_size (64)"});
  expectMessage(editedMambaError("tiny-mil", [](auto &o) { o["n_layer"] = 5; }),
                {"key 'n_layer'", "differs from num_hidden_layers (4)"});
  expectMessage(editedMambaError("tiny-mil", [](auto &o) { o["rms_norm_eps"] = 1e-6; }),
                {"key 'rms_norm_eps'", "differs"});
}

TEST(ModelConfigErrors, AttentionLayerIndices) {
  expectMessage(editedMambaError("tiny-mil",
                                 [](auto &o) { o["attn_layers"] = llvm::json::Array{1, 4}; }),
                {"dir/mamba_config.json", "key 'attn_layers'", "index 4 is out of range"});
  expectMessage(editedMambaError("tiny-mil",
                                 [](auto &o) { o["attn_layers"] = llvm::json::Array{-1}; }),
                {"key 'attn_layers'", "out of range"});
  expectMessage(editedMambaError("tiny-mil",
                                 [](auto &o) { o["attn_layers"] = llvm::json::Array{3, 1, 3}; }),
                {"key 'attn_layers'", "listed twice"});
  // Unsorted but valid lists are accepted and sorted.
  ConfigTexts t = renderModelConfig(preset("tiny-mil"));
  std::string mamba = edited(
      "tiny-mil", [](auto &o) { o["attn_layers"] = llvm::json::Array{3, 0}; }, true);
  llvm::Expected<ModelConfig> c = parseModelConfigText(t.config, "c", mamba, "m");
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->attnLayers, (std::vector<int64_t>{0, 3}));
}

TEST(ModelConfigErrors, UnsupportedMamba2Variants) {
  expectMessage(
      editedError("tiny-mamba2", [](auto &o) { o["attn_layer_idx"] = llvm::json::Array{1}; }),
      {"dir/config.json", "key 'attn_layer_idx'",
       "attention layers in mamba2 configs are not supported yet"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { o["d_intermediate"] = 256; }),
                {"key 'd_intermediate'", "GatedMLP"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { o["rms_norm"] = false; }),
                {"key 'rms_norm'", "not supported"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { o["fused_add_norm"] = false; }),
                {"key 'fused_add_norm'", "not supported"});
  expectMessage(
      editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["norm_before_gate"] = true; }),
      {"key 'ssm_cfg.norm_before_gate'", "not supported"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["D_has_hdim"] = true; }),
                {"key 'ssm_cfg.D_has_hdim'"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["rmsnorm"] = false; }),
                {"key 'ssm_cfg.rmsnorm'"});
  expectMessage(editedError("tiny-mamba2", [](auto &o) { sub(o, "ssm_cfg")["d_ssm"] = 64; }),
                {"key 'ssm_cfg.d_ssm'"});
  // Defaults that match are fine, and the keys round-trip.
  llvm::Expected<ModelConfig> ok = parseModelConfigText(
      edited("tiny-mamba2",
             [](auto &o) {
               sub(o, "ssm_cfg")["norm_before_gate"] = false;
               sub(o, "ssm_cfg")["d_ssm"] = 128;
               sub(o, "ssm_cfg")["dt_min"] = 0.001;
             }),
      "c");
  EXPECT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
}

TEST(ModelConfigErrors, UnsupportedOptions) {
  expectMessage(
      editedError("tiny-llamba", [](auto &o) { sub(o, "ssm_cfg")["activation"] = "silu"; }),
      {"key 'ssm_cfg.activation'", "\"identity\""});
  expectMessage(editedError("tiny-llamba", [](auto &o) { sub(o, "ssm_cfg")["bias"] = true; }),
                {"key 'ssm_cfg.bias'"});
  expectMessage(editedError("tiny-llamba", [](auto &o) { o["lm_head_bias"] = true; }),
                {"key 'lm_head_bias'"});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["hidden_act"] = "gelu"; }),
                {"key 'hidden_act'", "\"gelu\""});
  expectMessage(editedError("tiny-llama", [](auto &o) { o["attention_bias"] = true; }),
                {"key 'attention_bias'"});
  expectMessage(editedError("tiny-llama",
                            [](auto &o) { sub(o, "rope_scaling")["rope_type"] = "yarn"; }),
                {"key 'rope_scaling.rope_type'", "\"yarn\""});
}

TEST(ModelConfigParse, UpstreamDefaultsAndAlternateSpellings) {
  // Llamba: everything but vocab_size and d_model has a default.
  llvm::Expected<ModelConfig> llamba =
      parseModelConfigText(R"({"model_type": "llamba", "vocab_size": 128256, "d_model": 4096})", "c");
  ASSERT_TRUE(bool(llamba)) << llvm::toString(llamba.takeError());
  EXPECT_EQ(llamba->nLayer, 32);
  EXPECT_EQ(llamba->intermediateSize, 14336);
  EXPECT_FALSE(llamba->tieEmbeddings);
  EXPECT_EQ(llamba->ssmHeads, 32);
  EXPECT_EQ(llamba->convWidth, 4);
  EXPECT_TRUE(llamba->convBias);
  EXPECT_EQ(countParameters(*llamba), 8841204736); // = Llamba-8B untied

  // Llama: legacy rope_scaling "type", eos as a list, no head_dim, "dtype".
  llvm::Expected<ModelConfig> llama = parseModelConfigText(
      R"({"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 128, "eos_token_id": [5, 6],
          "rope_scaling": {"type": "llama3", "factor": 8, "low_freq_factor": 1,
                           "high_freq_factor": 4, "original_max_position_embeddings": 64},
          "dtype": "float16"})",
      "c");
  ASSERT_TRUE(bool(llama)) << llvm::toString(llama.takeError());
  EXPECT_EQ(llama->attnHeadDim, 16);
  EXPECT_EQ(llama->kvHeads, 4);
  EXPECT_EQ(llama->eosTokenIds, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(llama->bosTokenId, -1);
  EXPECT_TRUE(llama->rope.llama3Scaling);
  EXPECT_EQ(llama->rope.theta, 10000.0);
  EXPECT_EQ(llama->blockNormEps, 1e-6);
  EXPECT_EQ(llama->torchDtype, "float16");
  EXPECT_EQ(llama->attnLayers, (std::vector<int64_t>{0, 1}));

  // rope_scaling of type "default" means none.
  llvm::Expected<ModelConfig> plain = parseModelConfigText(
      edited("tiny-llama",
             [](auto &o) { o["rope_scaling"] = llvm::json::Object{{"rope_type", "default"}}; }),
      "c");
  ASSERT_TRUE(bool(plain)) << llvm::toString(plain.takeError());
  EXPECT_FALSE(plain->rope.llama3Scaling);
}

TEST(ModelConfigValidate, NamesTheBrokenField) {
  auto message = [](const ModelConfig &c) {
    llvm::Error e = validateModelConfig(c, "here");
    return e ? llvm::toString(std::move(e)) : std::string();
  };
  ModelConfig c = preset("tiny-mil");
  c.attnLayers.push_back(9);
  expectMessage(message(c), {"here: ", "attnLayers entry 9"});
  c = preset("tiny-mil");
  c.cGroups = 2;
  expectMessage(message(c), {"cGroups"});
  c = preset("tiny-mamba2");
  c.vocabSize = 500;
  expectMessage(message(c), {"vocabSize"});
  c = preset("tiny-mamba2");
  c.attnLayers = {0};
  expectMessage(message(c), {"attnLayers must be empty"});
  c = preset("tiny-llama");
  c.kvHeads = 3;
  expectMessage(message(c), {"attnHeads", "kvHeads"});
  c = preset("tiny-llamba");
  c.dModel = 0;
  expectMessage(message(c), {"dModel"});
}

} // namespace
