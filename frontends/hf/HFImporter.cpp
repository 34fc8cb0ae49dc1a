//===- HFImporter.cpp - Hugging Face checkpoints into the ssm dialect -----===//
//
// The importer never spells a tensor name: it asks expectedTensors() for the
// upstream layout of the family and looks weights up by (layer, role). A new
// family therefore needs a layout in ModelConfig.cpp and, only if its block
// structure is new, a builder here.
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/HFImporter.h"

#include "dialects/ssm/SSMOps.h"
#include "frontends/checkpoint/Checkpoint.h"
#include "frontends/hf/ModelGenerator.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <map>
#include <set>

using namespace mlir;
using namespace ssmc;
using namespace ssmc::hf;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  return "[" + llvm::join(llvm::map_range(shape, [](int64_t d) { return std::to_string(d); }),
                          ", ") +
         "]";
}

bool isFloatDType(ckpt::DType t) {
  return t == ckpt::DType::F32 || t == ckpt::DType::BF16 || t == ckpt::DType::F16;
}

/// Tensors some exporters save besides the module's parameters; they carry no
/// model information (RoPE frequencies are recomputed from the config).
bool isIgnorableBuffer(llvm::StringRef name) { return name.ends_with("rotary_emb.inv_freq"); }

/// Checks every tensor of the checkpoint against the family's upstream layout.
llvm::Error validateTensors(const ModelConfig &cfg, const ckpt::Checkpoint &ck,
                            llvm::StringRef dir, const std::vector<ExpectedTensor> &expected) {
  std::set<std::string> expectedNames;
  const ckpt::TensorInfo *embedding = nullptr;
  for (const ExpectedTensor &e : expected) {
    expectedNames.insert(e.name);
    const ckpt::TensorInfo *t = ck.find(e.name);
    if (!t)
      return llvm::createStringError(
          llvm::formatv("{0}: missing tensor '{1}' (expected shape {2}) for a {3} model with "
                        "{4} layers",
                        dir, e.name, shapeString(e.shape), familyName(cfg.family), cfg.nLayer)
              .str());
    if (t->shape != e.shape)
      return llvm::createStringError(
          llvm::formatv("{0}: tensor '{1}' has shape {2}, expected {3} from the config", t->file,
                        e.name, shapeString(t->shape), shapeString(e.shape))
              .str());
    if (!isFloatDType(t->dtype))
      return llvm::createStringError(
          llvm::formatv("{0}: tensor '{1}' has unsupported dtype {2} (expected F32, BF16 or F16)",
                        t->file, e.name, ckpt::dtypeName(t->dtype))
              .str());
    if (e.role == "embedding")
      embedding = t;
  }
  for (const ckpt::TensorInfo &t : ck.tensors()) {
    if (expectedNames.count(t.name) || isIgnorableBuffer(t.name))
      continue;
    // Tied heads: PyTorch pickles (mamba_ssm) list the shared storage under
    // both keys. Accept the alias only if it really is the embedding.
    if (cfg.tieEmbeddings && t.name == "lm_head.weight" && embedding) {
      auto head = ck.bytes(t), emb = ck.bytes(*embedding);
      if (t.shape == embedding->shape && t.dtype == embedding->dtype &&
          head.size() == emb.size() &&
          (head.data() == emb.data() || std::memcmp(head.data(), emb.data(), head.size()) == 0))
        continue;
      return llvm::createStringError(
          llvm::formatv("{0}: tensor 'lm_head.weight' differs from '{1}' but the config ties "
                        "the embeddings",
                        t.file, embedding->name)
              .str());
    }
    return llvm::createStringError(
        llvm::formatv("{0}: unexpected tensor '{1}' for a {2} model with this config (is the "
                      "config from another model?)",
                      t.file, t.name, familyName(cfg.family))
            .str());
  }
  return llvm::Error::success();
}

/// Emits the @forward function of one model.
class ForwardBuilder {
public:
  ForwardBuilder(MLIRContext &ctx, const ModelConfig &cfg, const ckpt::Checkpoint &ck,
                 const std::vector<ExpectedTensor> &expected, std::optional<ckpt::DType> override)
      : ctx(ctx), b(&ctx), cfg(cfg), ck(ck), dtypeOverride(override) {
    for (const ExpectedTensor &e : expected)
      roles[{e.layer, e.role}] = &e;
  }

  func::FuncOp build(ModuleOp module);
  /// Element type of the activations: the override, else that of the stored
  /// embedding.
  Type modelElementType() {
    return storedOrOverride(ck.find(roles.at({-1, "embedding"})->name)->dtype);
  }

private:
  // --- types -------------------------------------------------------------
  Type elementType(ckpt::DType t) {
    switch (t) {
    case ckpt::DType::BF16:
      return b.getBF16Type();
    case ckpt::DType::F16:
      return b.getF16Type();
    default:
      return b.getF32Type();
    }
  }
  /// The type a stored tensor has in the IR: the model-type override if any.
  Type storedOrOverride(ckpt::DType stored) {
    return elementType(dtypeOverride ? *dtypeOverride : stored);
  }
  RankedTensorType activations(Type element) {
    return RankedTensorType::get({kDyn, kDyn, cfg.dModel}, element);
  }
  Location loc(const llvm::Twine &name) { return NameLoc::get(b.getStringAttr(name)); }
  std::string layerName(int64_t i) { return "layers." + std::to_string(i); }

  // --- weights -----------------------------------------------------------
  bool has(int64_t layer, llvm::StringRef role) { return roles.count({layer, role.str()}); }
  /// An ssm.weight for the tensor of (layer, role), typed as stored or as
  /// the model-type override (ssm.weight converts on compilation).
  Value weight(int64_t layer, llvm::StringRef role) {
    const ExpectedTensor *e = roles.at({layer, role.str()});
    const ckpt::TensorInfo *t = ck.find(e->name);
    auto type = RankedTensorType::get(e->shape, storedOrOverride(t->dtype));
    return ssm::WeightOp::create(b, loc(e->name), type, b.getStringAttr(e->name));
  }

  // --- blocks ------------------------------------------------------------
  Value norm(Value x, int64_t layer, llvm::StringRef role, double eps, NormRounding rounding,
             Type resultElement, const llvm::Twine &where) {
    Value w = weight(layer, role);
    auto mode = rounding == NormRounding::HF ? ssm::NormRounding::hf : ssm::NormRounding::fused;
    auto shape = cast<RankedTensorType>(x.getType()).getShape();
    return ssm::RMSNormOp::create(b, loc(where), RankedTensorType::get(shape, resultElement), x, w,
                                    b.getF64FloatAttr(eps),
                                    ssm::NormRoundingAttr::get(&ctx, mode));
  }
  Value add(Value lhs, Value rhs, Type resultElement, const llvm::Twine &where) {
    return ssm::AddOp::create(b, loc(where), activations(resultElement), lhs, rhs);
  }
  Value mlp(Value u, int64_t layer) {
    Value gate = weight(layer, "mlp_gate"), up = weight(layer, "mlp_up"),
          down = weight(layer, "mlp_down");
    return ssm::SwiGLUMLPOp::create(b, loc(layerName(layer) + ".mlp"), u.getType(), u, gate, up,
                                      down);
  }

  /// Discrete Mamba-2 mixer of layer `i` (Llamba).
  Value discreteMamba2(Value u, int64_t i) {
    auto config = ssm::DiscreteMamba2ConfigAttr::get(&ctx, cfg.ssmHeads, cfg.headDim,
                                                     cfg.bGroups, cfg.stateDim, cfg.convWidth,
                                                     cfg.chunkSize);
    auto [cs, ss] = addMixerStates(i, config.getConvChannels());
    Type convState = cs.getType(), ssmState = ss.getType();
    Value inProj = weight(i, "in_proj"), zBias = weight(i, "z_bias"),
          convW = weight(i, "conv_weight"), convB = weight(i, "conv_bias"), d = weight(i, "D"),
          outProj = weight(i, "out_proj");
    auto op = ssm::DiscreteMamba2Op::create(b, 
        loc(layerName(i) + ".mixer"), TypeRange{u.getType(), convState, ssmState}, u, lengths,
        cs, ss, inProj, zBias, convW, convB, d, outProj, config);
    newStates.push_back(op.getConvStateOut());
    newStates.push_back(op.getSsmStateOut());
    return op.getResult();
  }

  /// Mamba-2 mixer of layer `i` (Mamba-2 LMs and Mamba-in-the-Llama).
  Value mamba2(Value u, int64_t i) {
    auto config = ssm::Mamba2ConfigAttr::get(
        &ctx, cfg.ssmHeads, cfg.headDim, cfg.stateDim, cfg.xHeads, cfg.bGroups, cfg.cGroups,
        cfg.convWidth, cfg.chunkSize, cfg.normGroupSize, llvm::APFloat(cfg.mixerNormEps));
    auto [cs, ss] = addMixerStates(i, config.getConvChannels());
    Type convState = cs.getType(), ssmState = ss.getType();
    Value inProj = weight(i, "in_proj"), convW = weight(i, "conv_weight"),
          convB = weight(i, "conv_bias"), dtBias = weight(i, "dt_bias"),
          aLog = weight(i, "A_log"), d = weight(i, "D"), normW = weight(i, "mixer_norm"),
          outProj = weight(i, "out_proj");
    auto op = ssm::Mamba2Op::create(b, loc(layerName(i) + ".mixer"),
                                      TypeRange{u.getType(), convState, ssmState}, u, lengths, cs,
                                      ss, inProj, convW, convB, dtBias, aLog, d, normW, outProj,
                                      config);
    newStates.push_back(op.getConvStateOut());
    newStates.push_back(op.getSsmStateOut());
    return op.getResult();
  }

  /// Grouped-query attention of layer `i`.
  Value attention(Value u, int64_t i, Type kvElement) {
    const RopeConfig &r = cfg.rope;
    auto rope = ssm::RopeAttr::get(
        &ctx, llvm::APFloat(r.theta), r.rotaryDim > 0 ? r.rotaryDim : cfg.attnHeadDim,
        r.llama3Scaling ? ssm::RopeScaling::llama3 : ssm::RopeScaling::none,
        llvm::APFloat(r.factor), llvm::APFloat(r.lowFreqFactor), llvm::APFloat(r.highFreqFactor),
        r.originalMaxPositions);
    auto config =
        ssm::AttentionConfigAttr::get(&ctx, cfg.attnHeads, cfg.kvHeads, cfg.attnHeadDim, rope);
    auto cacheType = ssm::KVCacheType::get(&ctx, {cfg.kvHeads, cfg.attnHeadDim}, kvElement);
    Value cache = addState(cacheType, layerName(i) + ".kv_cache");
    Value q = weight(i, "q_proj"), k = weight(i, "k_proj"), v = weight(i, "v_proj"),
          o = weight(i, "o_proj");
    auto op = ssm::AttentionOp::create(b, loc(layerName(i) + ".self_attn"),
                                         TypeRange{u.getType(), cacheType}, u, lengths, positions,
                                         cache, q, k, v, o, config);
    newStates.push_back(op.getKvCacheOut());
    return op.getResult();
  }

  /// Appends the conv and SSM state arguments of mixer layer `i` (float32).
  std::pair<Value, Value> addMixerStates(int64_t i, int64_t convChannels) {
    auto convState =
        ssm::ConvStateType::get(&ctx, {convChannels, cfg.convWidth}, b.getF32Type());
    auto ssmState = ssm::SSMStateType::get(&ctx, {cfg.ssmHeads, cfg.headDim, cfg.stateDim},
                                           b.getF32Type());
    return {addState(convState, layerName(i) + ".conv_state"),
            addState(ssmState, layerName(i) + ".ssm_state")};
  }

  /// Appends a state argument to @forward (named by an argument attribute).
  Value addState(Type type, const std::string &name) {
    Block &entry = func.getBody().front();
    Value arg = entry.addArgument(type, loc(name));
    stateTypes.push_back(type);
    stateNames.push_back(name);
    return arg;
  }

  MLIRContext &ctx;
  OpBuilder b;
  const ModelConfig &cfg;
  const ckpt::Checkpoint &ck;
  std::optional<ckpt::DType> dtypeOverride;
  std::map<std::pair<int64_t, std::string>, const ExpectedTensor *> roles;

  func::FuncOp func;
  Value lengths, positions;
  SmallVector<Type> stateTypes;
  std::vector<std::string> stateNames;
  SmallVector<Value> newStates;
};

func::FuncOp ForwardBuilder::build(ModuleOp module) {
  b.setInsertionPointToEnd(module.getBody());
  bool anyAttention = !cfg.attnLayers.empty();
  Type model = modelElementType();
  auto idsType = RankedTensorType::get({kDyn, kDyn}, b.getI32Type());
  auto lengthsType = RankedTensorType::get({kDyn}, b.getI32Type());
  auto positionsType = RankedTensorType::get({kDyn}, b.getI64Type());
  // Logits after each sequence's last token only (ssm.last_token below).
  auto logitsType = RankedTensorType::get({kDyn, 1, cfg.vocabSize}, b.getF32Type());

  // The signature is finished once all layers have added their states.
  func = func::FuncOp::create(b, loc("forward"), "forward", b.getFunctionType({}, {}));
  Block *entry = func.addEntryBlock();
  Value ids = entry->addArgument(idsType, loc("ids"));
  lengths = entry->addArgument(lengthsType, loc("lengths"));
  if (anyAttention)
    positions = entry->addArgument(positionsType, loc("positions"));
  b.setInsertionPointToStart(entry);

  Value table = weight(-1, "embedding");
  Value h = ssm::EmbedOp::create(b, loc("embed"), activations(model), table, ids);

  // Mamba-2 LMs run mamba_ssm's fused add+norm (spec §7.4): each norm sees
  // the float32 sum of residual and mixer output; the carried residual is
  // float32 with residual_in_fp32 and rounded to the model type otherwise.
  bool fusedAddNorm = cfg.family == Family::Mamba2;
  Value residual; // Mamba-2 only: the carried residual stream, null before layer 0
  Value mixerOut; // Mamba-2 only: the last mixer output not yet added

  for (int64_t i = 0; i < cfg.nLayer; ++i) {
    std::string name = layerName(i);
    if (fusedAddNorm) {
      Value normInput = h;
      if (residual) {
        Value sum = add(residual, mixerOut, b.getF32Type(), name + ".add");
        normInput = sum;
        residual = cfg.residualInFp32 ? sum : add(residual, mixerOut, model, name + ".residual");
      } else {
        residual = h;
      }
      Value u = norm(normInput, i, "input_norm", cfg.blockNormEps, cfg.blockNorm, model,
                     name + ".norm");
      mixerOut = mamba2(u, i);
      continue;
    }
    Value u = norm(h, i, "input_norm", cfg.blockNormEps, cfg.blockNorm, model,
                   name + ".input_layernorm");
    Value mixed;
    if (cfg.isAttentionLayer(i))
      mixed = attention(u, i, model);
    else if (cfg.family == Family::Llamba)
      mixed = discreteMamba2(u, i);
    else
      mixed = mamba2(u, i);
    h = add(h, mixed, model, name + ".residual_mixer");
    if (cfg.intermediateSize > 0) {
      Value v = norm(h, i, "post_norm", cfg.blockNormEps, cfg.blockNorm, model,
                     name + ".post_attention_layernorm");
      h = add(h, mlp(v, i), model, name + ".residual_mlp");
    }
  }

  Value last = h;
  if (fusedAddNorm)
    last = residual ? add(residual, mixerOut, b.getF32Type(), "final.add") : h;
  // Only the last valid position of each sequence reaches the norm and head.
  {
    auto lastType = cast<RankedTensorType>(last.getType());
    auto oneType = RankedTensorType::get({lastType.getDimSize(0), 1, lastType.getDimSize(2)},
                                         lastType.getElementType());
    last = ssm::LastTokenOp::create(b, loc("last_token"), oneType, last, lengths);
  }
  Value y = norm(last, -1, "final_norm", cfg.finalNormEps, cfg.finalNorm, model, "final_norm");
  Value headWeight = has(-1, "lm_head") ? weight(-1, "lm_head") : table;
  auto head = ssm::LMHeadOp::create(b, loc("lm_head"), logitsType, y, headWeight,
                                      cfg.vocabSizeUnpadded > 0 &&
                                              cfg.vocabSizeUnpadded < cfg.vocabSize
                                          ? b.getI64IntegerAttr(cfg.vocabSizeUnpadded)
                                          : IntegerAttr());

  SmallVector<Value> results{head.getResult()};
  results.append(newStates.begin(), newStates.end());
  func::ReturnOp::create(b, loc("return"), results);

  // Finish the signature, naming inputs and states so the IR reads on its own.
  SmallVector<Type> inputs{idsType, lengthsType};
  if (anyAttention)
    inputs.push_back(positionsType);
  inputs.append(stateTypes.begin(), stateTypes.end());
  SmallVector<Type> outputs{logitsType};
  outputs.append(stateTypes.begin(), stateTypes.end());
  func.setFunctionType(b.getFunctionType(inputs, outputs));
  unsigned firstState = anyAttention ? 3 : 2;
  func.setArgAttr(0, "ssm.name", b.getStringAttr("ids"));
  func.setArgAttr(1, "ssm.name", b.getStringAttr("lengths"));
  if (anyAttention)
    func.setArgAttr(2, "ssm.name", b.getStringAttr("positions"));
  func.setResultAttr(0, "ssm.name", b.getStringAttr("logits"));
  for (auto [k, name] : llvm::enumerate(stateNames)) {
    func.setArgAttr(firstState + k, "ssm.name", b.getStringAttr(name));
    func.setResultAttr(1 + k, "ssm.name", b.getStringAttr(name));
  }
  return func;
}

/// Model facts a reader (and the compiler driver) wants without re-reading the config.
DictionaryAttr modelAttributes(MLIRContext &ctx, const ModelConfig &cfg, Type modelElement) {
  Builder b(&ctx);
  SmallVector<NamedAttribute> attrs{
      b.getNamedAttr("family", b.getStringAttr(familyName(cfg.family))),
      b.getNamedAttr("layers", b.getI64IntegerAttr(cfg.nLayer)),
      b.getNamedAttr("d_model", b.getI64IntegerAttr(cfg.dModel)),
      b.getNamedAttr("vocab", b.getI64IntegerAttr(cfg.vocabSize)),
      b.getNamedAttr("tied_embeddings", b.getBoolAttr(cfg.tieEmbeddings)),
      b.getNamedAttr("dtype", TypeAttr::get(modelElement)),
  };
  if (!cfg.attnLayers.empty())
    attrs.push_back(b.getNamedAttr("attention_layers", b.getDenseI64ArrayAttr(cfg.attnLayers)));
  if (cfg.bosTokenId >= 0)
    attrs.push_back(b.getNamedAttr("bos_token_id", b.getI64IntegerAttr(cfg.bosTokenId)));
  if (!cfg.eosTokenIds.empty())
    attrs.push_back(b.getNamedAttr("eos_token_ids", b.getDenseI64ArrayAttr(cfg.eosTokenIds)));
  return b.getDictionaryAttr(attrs);
}

} // namespace

llvm::Expected<ckpt::DType> ssmc::hf::parseModelDType(llvm::StringRef text,
                                                       llvm::StringRef flag) {
  if (text == "f32" || text == "float32")
    return ckpt::DType::F32;
  if (text == "bf16" || text == "bfloat16")
    return ckpt::DType::BF16;
  if (text == "f16" || text == "float16")
    return ckpt::DType::F16;
  return llvm::createStringError(
      llvm::formatv("{0} must be f32, bf16 or f16, got '{1}'", flag, text).str());
}

namespace {
/// The module of `cfg` over the tensors of `ck` (validated first); `where`
/// names the source in errors, `store` becomes the ssm.weight_store.
llvm::Expected<OwningOpRef<ModuleOp>> importModel(MLIRContext &ctx, const ModelConfig &cfg,
                                                  const ckpt::Checkpoint &ck,
                                                  llvm::StringRef where, Location moduleLoc,
                                                  llvm::StringRef storePath,
                                                  llvm::StringRef storeFormat,
                                                  const ImportOptions &options) {
  if (options.modelDType && !isFloatDType(*options.modelDType))
    return llvm::createStringError(
        llvm::formatv("model dtype {0} is not F32, BF16 or F16",
                      ckpt::dtypeName(*options.modelDType))
            .str());
  if (cfg.family != Family::Llama && !cfg.convBias)
    return llvm::createStringError(
        llvm::formatv("{0}: conv_bias = false is not supported yet", where).str());
  std::vector<ExpectedTensor> expected = expectedTensors(cfg);
  if (llvm::Error e = validateTensors(cfg, ck, where, expected))
    return std::move(e);

  ctx.loadDialect<ssm::SSMDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module(ModuleOp::create(moduleLoc));
  ForwardBuilder builder(ctx, cfg, ck, expected, options.modelDType);
  builder.build(*module);

  (*module)->setAttr("ssm.weight_store",
                     ssm::WeightStoreAttr::get(&ctx, storePath, storeFormat));
  (*module)->setAttr("ssm.model", modelAttributes(ctx, cfg, builder.modelElementType()));

  if (failed(verify(*module)))
    return llvm::createStringError(
        llvm::formatv("{0}: internal error: the imported IR does not verify (see the diagnostic "
                      "above); please report this checkpoint",
                      where)
            .str());
  return std::move(module);
}
} // namespace

llvm::Expected<OwningOpRef<ModuleOp>>
ssmc::hf::importCheckpoint(MLIRContext &ctx, llvm::StringRef dir, const ImportOptions &options) {
  if (options.modelDType && !isFloatDType(*options.modelDType))
    return llvm::createStringError(
        llvm::formatv("model dtype {0} is not F32, BF16 or F16",
                      ckpt::dtypeName(*options.modelDType))
            .str());
  llvm::Expected<ModelConfig> cfg = parseModelConfig(dir);
  if (!cfg)
    return cfg.takeError();
  if (cfg->family != Family::Llama && !cfg->convBias)
    return llvm::createStringError(
        llvm::formatv("{0}: conv_bias = false is not supported yet", dir).str());
  llvm::Expected<std::unique_ptr<ckpt::Checkpoint>> ck = ckpt::Checkpoint::openDirectory(dir);
  if (!ck)
    return ck.takeError();
  llvm::SmallString<256> configPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  llvm::StringRef format =
      (*ck)->format() == ckpt::Format::Safetensors ? "safetensors" : "torch_zip";
  return importModel(ctx, *cfg, **ck, dir, FileLineColLoc::get(&ctx, configPath, 1, 1), dir,
                     format, options);
}

llvm::Expected<OwningOpRef<ModuleOp>>
ssmc::hf::importSynthetic(MLIRContext &ctx, const ModelConfig &cfg, llvm::StringRef label,
                          ckpt::DType dtype) {
  if (!isFloatDType(dtype))
    return llvm::createStringError(
        llvm::formatv("model dtype {0} is not F32, BF16 or F16", ckpt::dtypeName(dtype)).str());
  // The tensors make-model would write, as types and shapes only.
  std::unique_ptr<ckpt::Checkpoint> ck =
      ckpt::Checkpoint::fromTensorTable(generatedTensorSpecs(cfg, dtype));
  ImportOptions options;
  options.modelDType = dtype;
  return importModel(ctx, cfg, *ck, label, NameLoc::get(StringAttr::get(&ctx, label)), label,
                     "synthetic", options);
}
