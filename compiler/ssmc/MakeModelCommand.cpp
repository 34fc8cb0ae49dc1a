//===- MakeModelCommand.cpp - ssmc make-model ------------------------------===//
//
// ssmc make-model --preset <name> -o <dir> [--dtype f32|bf16|f16] [--seed N]
//                 [--format safetensors|sharded|torch] [--shard-size-mb N]
//                 [--family F] [shape overrides]
//
// Writes a checkpoint directory laid out as the upstream one, with seeded
// random weights (frontends/hf/ModelGenerator.h). Shape overrides edit the
// upstream config keys of the preset and re-read them through the config
// parser, so an override gets exactly the checks a config file on disk gets.
// Arguments are parsed by hand: the driver hosts several commands, and
// llvm::cl options are process-global.
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"

#include "frontends/checkpoint/Checkpoint.h"
#include "frontends/hf/ModelConfig.h"
#include "frontends/hf/ModelConfigJSON.h"
#include "frontends/hf/ModelGenerator.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <tuple>
#include <string>

using namespace ssmc::hf;
using llvm::StringRef;
namespace json = llvm::json;

namespace {

constexpr const char *kUsage = R"(USAGE: ssmc make-model (--preset NAME | --family F) -o DIR [options]

Writes a checkpoint directory (upstream config file(s) + weights under the
upstream tensor names) with seeded random weights.

OPTIONS:
  --preset NAME        a named shape (--list-presets)
  --family F           llamba | mamba2 | mil | llama; alone, starts from tiny-F
  -o, --output DIR     directory to write (created if needed)
  --dtype T            f32 (default) | bf16 | f16
  --seed N             generator seed (default 0); same seed, same bytes
  --format F           safetensors | sharded | torch (default: the family's
                       upstream format: safetensors for llamba and llama,
                       torch for mil and mamba2)
  --shard-size-mb N    shard limit in MB (10^6 bytes); implies --format sharded
  --list-presets       list the presets and exit

SHAPE OVERRIDES (upstream config keys they set, re-checked by the parser):
  --d-model N          d_model / hidden_size
  --n-layer N          n_layer / num_hidden_layers
  --vocab N            vocab_size (padded as the family pads)
  --intermediate N     MLP width (mlp_cfg.intermediate_size / intermediate_size)
  --tie, --untie       tie the output head to the embedding or not
  --attn-layers L      mil: attention layer indices, e.g. 1,3 ("" for none)
  --heads N            llamba: ssm_cfg.n_v_heads; mil/llama: num_attention_heads
  --kv-heads N         mil/llama: num_key_value_heads
  --head-dim N         mamba2: ssm_cfg.headdim; mil/llama: head_dim
                       (mil/llama default: hidden size / heads when those change)
  --groups N           llamba: ssm_cfg.n_qk_heads; mamba2: ssm_cfg.ngroups
  --d-state N          llamba/mamba2: ssm_cfg.d_state
  --chunk-size N       llamba/mamba2/mil: ssm_cfg.chunk_size
)";

struct Options {
  std::string preset, family, outDir, dtype = "f32", format;
  uint64_t seed = 0;
  std::optional<uint64_t> shardSizeMB;
  bool listPresets = false, help = false;
  // Shape overrides.
  std::optional<int64_t> dModel, nLayer, vocab, intermediate, heads, kvHeads, headDim, groups,
      dState, chunkSize;
  std::optional<bool> tie;
  std::optional<std::vector<int64_t>> attnLayers;
  bool anyShapeOverride() const {
    return dModel || nLayer || vocab || intermediate || heads || kvHeads || headDim || groups ||
           dState || chunkSize || tie || attnLayers;
  }
};

/// Prints "ssmc make-model: error: ..." and returns 1.
int fail(const llvm::Twine &msg) {
  llvm::errs() << "ssmc make-model: error: " << msg << "\n";
  return 1;
}

std::optional<int64_t> parsePositive(StringRef text) {
  int64_t v;
  if (text.getAsInteger(10, v) || v <= 0)
    return std::nullopt;
  return v;
}

/// The shape override flags, each setting one positive integer of Options.
std::optional<int64_t> Options::*shapeFlag(StringRef flag) {
  static const std::pair<StringRef, std::optional<int64_t> Options::*> kFlags[] = {
      {"--d-model", &Options::dModel},   {"--n-layer", &Options::nLayer},
      {"--vocab", &Options::vocab},      {"--intermediate", &Options::intermediate},
      {"--heads", &Options::heads},      {"--kv-heads", &Options::kvHeads},
      {"--head-dim", &Options::headDim}, {"--groups", &Options::groups},
      {"--d-state", &Options::dState},   {"--chunk-size", &Options::chunkSize},
  };
  for (const auto &[name, field] : kFlags)
    if (flag == name)
      return field;
  return nullptr;
}

/// Parses argv into `opts`; returns an error message or "".
std::string parseArgs(int argc, char **argv, Options &opts) {
  for (int i = 1; i < argc; ++i) {
    StringRef arg = argv[i];
    StringRef flag = arg, inlineValue;
    bool hasInline = false;
    if (arg.starts_with("--") && arg.contains('=')) {
      std::tie(flag, inlineValue) = arg.split('=');
      hasInline = true;
    }
    // The value of a flag that takes one.
    auto value = [&](StringRef &out) -> bool {
      if (hasInline) {
        out = inlineValue;
        return true;
      }
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    auto noValue = [&]() -> std::string {
      return hasInline ? (flag + " takes no value").str() : "";
    };
    auto positive = [&](std::optional<int64_t> &out) -> std::string {
      StringRef v;
      if (!value(v))
        return (flag + " expects a value").str();
      out = parsePositive(v);
      if (!out)
        return (flag + " expects a positive integer, got '" + v + "'").str();
      return "";
    };
    auto text = [&](std::string &out) -> std::string {
      StringRef v;
      if (!value(v))
        return (flag + " expects a value").str();
      out = v.str();
      return "";
    };

    std::string err;
    if (flag == "--help" || flag == "-h") {
      opts.help = true;
      err = noValue();
    } else if (flag == "--list-presets") {
      opts.listPresets = true;
      err = noValue();
    } else if (flag == "--preset") {
      err = text(opts.preset);
    } else if (flag == "--family") {
      err = text(opts.family);
    } else if (flag == "-o" || flag == "--output") {
      err = text(opts.outDir);
    } else if (flag == "--dtype") {
      err = text(opts.dtype);
    } else if (flag == "--format") {
      err = text(opts.format);
    } else if (flag == "--seed") {
      StringRef v;
      if (!value(v))
        err = "--seed expects a value";
      else if (v.getAsInteger(10, opts.seed))
        err = ("--seed expects a non-negative integer, got '" + v + "'").str();
    } else if (flag == "--shard-size-mb") {
      std::optional<int64_t> mb;
      err = positive(mb);
      if (mb)
        opts.shardSizeMB = uint64_t(*mb);
    } else if (std::optional<int64_t> Options::*field = shapeFlag(flag)) {
      err = positive(opts.*field);
    } else if (flag == "--tie" || flag == "--untie") {
      if (opts.tie && *opts.tie != (flag == "--tie"))
        err = "--tie and --untie contradict each other";
      else
        err = noValue();
      opts.tie = flag == "--tie";
    } else if (flag == "--attn-layers") {
      StringRef v;
      if (!value(v)) {
        err = "--attn-layers expects a comma-separated list of layer indices";
      } else {
        std::vector<int64_t> layers;
        llvm::SmallVector<StringRef> parts;
        v.split(parts, ',', -1, /*KeepEmpty=*/false);
        for (StringRef p : parts) {
          int64_t l;
          if (p.trim().getAsInteger(10, l) || l < 0) {
            err = ("--attn-layers: '" + p + "' is not a layer index").str();
            break;
          }
          layers.push_back(l);
        }
        opts.attnLayers = std::move(layers);
      }
    } else if (arg.starts_with("-")) {
      err = ("unknown option '" + arg + "' (see ssmc make-model --help)").str();
    } else {
      err = ("unexpected argument '" + arg + "' (the output directory goes after -o)").str();
    }
    if (!err.empty())
      return err;
  }
  return "";
}

std::optional<Family> parseFamily(StringRef name) {
  if (name == "llamba")
    return Family::Llamba;
  if (name == "mamba2")
    return Family::Mamba2;
  if (name == "mil" || name == "mamba_in_llama" || name == "mamba-in-llama")
    return Family::MambaInLlama;
  if (name == "llama")
    return Family::Llama;
  return std::nullopt;
}

StringRef tinyPreset(Family f) {
  switch (f) {
  case Family::Llamba:
    return "tiny-llamba";
  case Family::Mamba2:
    return "tiny-mamba2";
  case Family::MambaInLlama:
    return "tiny-mil";
  case Family::Llama:
    return "tiny-llama";
  }
  return "";
}

json::Object &object(json::Object &o, StringRef key) {
  if (!o.getObject(key))
    o[key] = json::Object{};
  return *o.getObject(key);
}

/// Applies the shape overrides to the upstream keys of `base` and re-reads
/// the result through the config parser.
llvm::Expected<ModelConfig> applyOverrides(const ModelConfig &base, const Options &o,
                                           StringRef baseName) {
  auto flagError = [&](StringRef flag, StringRef why = "") {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s does not apply to %s models%s",
                                   flag.str().c_str(), familyName(base.family).str().c_str(),
                                   why.str().c_str());
  };
  ConfigTexts texts = renderModelConfig(base);
  llvm::Expected<json::Value> configValue = json::parse(texts.config);
  if (!configValue)
    return configValue.takeError();
  json::Object &c = *configValue->getAsObject();
  json::Value mambaValue = json::Object{};
  if (!texts.mambaConfig.empty()) {
    llvm::Expected<json::Value> m = json::parse(texts.mambaConfig);
    if (!m)
      return m.takeError();
    mambaValue = std::move(*m);
  }
  json::Object &m = *mambaValue.getAsObject();

  switch (base.family) {
  case Family::Llamba: {
    if (o.kvHeads)
      return flagError("--kv-heads");
    if (o.headDim)
      return flagError("--head-dim", " (the head dim is d_model * expand / --heads)");
    if (o.attnLayers)
      return flagError("--attn-layers");
    json::Object &ssm = object(c, "ssm_cfg");
    if (o.dModel)
      c["d_model"] = *o.dModel;
    if (o.nLayer)
      c["n_layer"] = *o.nLayer;
    if (o.vocab)
      c["vocab_size"] = *o.vocab;
    if (o.intermediate)
      object(c, "mlp_cfg")["intermediate_size"] = *o.intermediate;
    if (o.tie)
      c["tie_embeddings"] = *o.tie;
    if (o.heads)
      ssm["n_v_heads"] = *o.heads;
    if (o.groups)
      ssm["n_qk_heads"] = *o.groups;
    if (o.dState)
      ssm["d_state"] = *o.dState;
    if (o.chunkSize)
      ssm["chunk_size"] = *o.chunkSize;
    break;
  }
  case Family::Mamba2: {
    if (o.heads)
      return flagError("--heads", " (the heads are expand * d_model / --head-dim)");
    if (o.kvHeads)
      return flagError("--kv-heads");
    json::Object &ssm = object(c, "ssm_cfg");
    if (o.dModel)
      c["d_model"] = *o.dModel;
    if (o.nLayer)
      c["n_layer"] = *o.nLayer;
    if (o.vocab)
      c["vocab_size"] = *o.vocab;
    if (o.intermediate)
      c["d_intermediate"] = *o.intermediate; // the parser says why this is refused
    if (o.tie)
      c["tie_embeddings"] = *o.tie;
    if (o.attnLayers)
      c["attn_layer_idx"] = json::Array(*o.attnLayers);
    if (o.headDim)
      ssm["headdim"] = *o.headDim;
    if (o.groups)
      ssm["ngroups"] = *o.groups;
    if (o.dState)
      ssm["d_state"] = *o.dState;
    if (o.chunkSize)
      ssm["chunk_size"] = *o.chunkSize;
    break;
  }
  case Family::MambaInLlama:
  case Family::Llama: {
    bool hybrid = base.family == Family::MambaInLlama;
    if (o.groups)
      return flagError("--groups", " (the SSM groups follow the attention heads)");
    if (o.dState)
      return flagError("--d-state", " (the SSM state size is the attention head dim)");
    if (!hybrid && o.attnLayers)
      return flagError("--attn-layers", " (every layer attends)");
    if (!hybrid && o.chunkSize)
      return flagError("--chunk-size");
    int64_t hidden = o.dModel.value_or(base.dModel);
    int64_t heads = o.heads.value_or(base.attnHeads);
    int64_t kvHeads = o.kvHeads.value_or(base.kvHeads);
    int64_t headDim = base.attnHeadDim;
    if (o.headDim) {
      headDim = *o.headDim;
    } else if (o.dModel || o.heads) {
      if (hidden % heads != 0)
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "the hidden size (%lld) is not a multiple of the heads "
                                       "(%lld); pass --head-dim",
                                       (long long)hidden, (long long)heads);
      headDim = hidden / heads;
    }
    int64_t nLayer = o.nLayer.value_or(base.nLayer);
    int64_t intermediate = o.intermediate.value_or(base.intermediateSize);
    c["hidden_size"] = hidden;
    c["num_hidden_layers"] = nLayer;
    c["num_attention_heads"] = heads;
    c["num_key_value_heads"] = kvHeads;
    c["head_dim"] = headDim;
    c["intermediate_size"] = intermediate;
    if (o.vocab)
      c["vocab_size"] = *o.vocab;
    if (o.tie)
      c["tie_word_embeddings"] = *o.tie;
    if (hybrid) {
      // Re-derive mamba_config.json from the attention shape, as
      // MambaInLlama's distillation script does.
      json::Object &ssm = object(m, "ssm_cfg");
      m["d_model"] = hidden;
      m["n_layer"] = nLayer;
      m["intermediate_size"] = intermediate;
      ssm["ngroups"] = heads;
      ssm["d_state"] = headDim;
      m["d_inner"] = heads * headDim;
      m["d_xb"] = kvHeads * headDim;
      if (o.chunkSize)
        ssm["chunk_size"] = *o.chunkSize;
      if (o.attnLayers)
        m["attn_layers"] = json::Array(*o.attnLayers);
    }
    break;
  }
  }
  std::string where = ("preset " + baseName + " with overrides").str();
  std::string mambaText =
      base.family == Family::MambaInLlama ? llvm::formatv("{0}", mambaValue).str() : "";
  return parseModelConfigText(llvm::formatv("{0}", *configValue).str(), where + ", config.json",
                              mambaText, where + ", mamba_config.json");
}

/// 1234567 -> "1,234,567".
std::string withCommas(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

int listPresets() {
  llvm::outs() << llvm::formatv("{0,-18} {1,-15} {2,7} {3,7} {4,16}\n", "PRESET", "FAMILY",
                                "D_MODEL", "LAYERS", "PARAMETERS");
  for (const std::string &name : presetNames()) {
    llvm::Expected<ModelConfig> cfg = presetConfig(name);
    if (!cfg)
      return fail(llvm::toString(cfg.takeError()));
    llvm::outs() << llvm::formatv("{0,-18} {1,-15} {2,7} {3,7} {4,16}\n", name,
                                  familyName(cfg->family), cfg->dModel, cfg->nLayer,
                                  withCommas(uint64_t(parameterCount(*cfg))));
  }
  return 0;
}
} // namespace

int ssmc::driver::runMakeModel(int argc, char **argv) {
  Options opts;
  std::string err = parseArgs(argc, argv, opts);
  if (!err.empty())
    return fail(err);
  if (opts.help) {
    llvm::outs() << kUsage;
    return 0;
  }
  if (opts.listPresets)
    return listPresets();

  std::optional<Family> family;
  if (!opts.family.empty()) {
    family = parseFamily(opts.family);
    if (!family)
      return fail("unknown family '" + opts.family + "' (llamba, mamba2, mil, llama)");
  }
  std::string presetName = opts.preset;
  if (presetName.empty()) {
    if (!family)
      return fail("one of --preset or --family is required (see ssmc make-model --help)");
    presetName = tinyPreset(*family).str();
  }
  if (opts.outDir.empty())
    return fail("no output directory (-o DIR)");

  GenerateOptions gen;
  gen.seed = opts.seed;
  if (opts.dtype == "f32" || opts.dtype == "float32")
    gen.dtype = ssmc::ckpt::DType::F32;
  else if (opts.dtype == "bf16" || opts.dtype == "bfloat16")
    gen.dtype = ssmc::ckpt::DType::BF16;
  else if (opts.dtype == "f16" || opts.dtype == "float16")
    gen.dtype = ssmc::ckpt::DType::F16;
  else
    return fail("--dtype must be f32, bf16 or f16, got '" + opts.dtype + "'");

  if (opts.format.empty())
    gen.format = opts.shardSizeMB ? WeightFormat::ShardedSafetensors : WeightFormat::Default;
  else if (opts.format == "safetensors")
    gen.format = WeightFormat::Safetensors;
  else if (opts.format == "sharded")
    gen.format = WeightFormat::ShardedSafetensors;
  else if (opts.format == "torch" || opts.format == "pytorch")
    gen.format = WeightFormat::TorchZip;
  else
    return fail("--format must be safetensors, sharded or torch, got '" + opts.format + "'");
  if (opts.shardSizeMB) {
    if (gen.format != WeightFormat::ShardedSafetensors)
      return fail("--shard-size-mb needs --format sharded");
    gen.maxShardBytes = *opts.shardSizeMB * 1000000ull;
  }

  llvm::Expected<ModelConfig> cfg = presetConfig(presetName);
  if (!cfg)
    return fail(llvm::toString(cfg.takeError()));
  if (family && cfg->family != *family)
    return fail("preset '" + presetName + "' is a " + familyName(cfg->family) +
                " model, not " + familyName(*family));
  if (opts.anyShapeOverride()) {
    cfg = applyOverrides(*cfg, opts, presetName);
    if (!cfg)
      return fail(llvm::toString(cfg.takeError()));
  }

  GenerateReport report;
  if (llvm::Error e = generateCheckpoint(*cfg, opts.outDir, gen, &report))
    return fail(llvm::toString(std::move(e)));

  llvm::raw_ostream &os = llvm::outs();
  os << "wrote " << opts.outDir << ": " << presetName
     << (opts.anyShapeOverride() ? " with overrides" : "") << " (" << familyName(cfg->family)
     << ", d_model " << cfg->dModel << ", " << cfg->nLayer << " layers, "
     << ssmc::ckpt::dtypeName(gen.dtype) << ", seed " << gen.seed << ", "
     << weightFormatName(report.format) << ")\n";
  for (const std::string &file : report.files) {
    uint64_t size = 0;
    (void)llvm::sys::fs::file_size(file, size);
    os << "  " << file << "  " << withCommas(size) << " bytes\n";
  }
  os << "parameters: " << withCommas(uint64_t(report.numParameters))
     << "  tensor bytes: " << withCommas(report.weightBytes) << "\n";
  return 0;
}
