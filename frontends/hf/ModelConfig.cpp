//===- ModelConfig.cpp - Reading, checking and writing model configs ------===//
//
// One parser per family reads the upstream keys with the upstream defaults
// (../shared/spec/models.md §2.2, §3.2, §3.5, §7.2) and derives the mixer
// dimensions the way the upstream constructors do. Every config, whether read
// from disk, built from a preset or edited by `ssmc make-model`, goes through
// parseModelConfigText, so the derivation lives in one place.
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/ModelConfig.h"
#include "frontends/checkpoint/Checkpoint.h"
#include "frontends/hf/ModelConfigJSON.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

using namespace ssmc::hf;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
namespace json = llvm::json;

//===----------------------------------------------------------------------===//
// ModelConfig members
//===----------------------------------------------------------------------===//

StringRef ssmc::hf::familyName(Family f) {
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

bool ModelConfig::isAttentionLayer(int64_t layer) const {
  return std::binary_search(attnLayers.begin(), attnLayers.end(), layer);
}

// The in_proj rows hold, in upstream order, z (dInner), x (xHeads*P),
// B (bGroups*N), C (cGroups*N) and one dt/decay value per head; Llamba stores
// them as [x B C | z | a] and the others as [z | x B C | dt], same total.
int64_t ModelConfig::inProjRows() const {
  return dInner + convChannels() + ssmHeads;
}

int64_t ModelConfig::convChannels() const {
  return xWidth() + (bGroups + cGroups) * stateDim;
}

//===----------------------------------------------------------------------===//
// validateModelConfig
//===----------------------------------------------------------------------===//

namespace {
/// Sizes above this are rejected, so that a product of two sizes cannot
/// overflow int64_t; widths and counts derived from more than two are checked
/// with overflow-checked arithmetic (checkedWidths).
constexpr int64_t kMaxSize = int64_t(1) << 31;
/// More layers than this is surely a mistake; it also bounds expectedTensors.
constexpr int64_t kMaxLayers = int64_t(1) << 20;
/// More parameters than this (~70 trillion) is surely a mistake.
constexpr int64_t kMaxParameters = int64_t(1) << 46;

bool isSSMFamily(Family f) { return f != Family::Llama; }
bool hasAttention(Family f) { return f == Family::MambaInLlama || f == Family::Llama; }

int64_t roundUp(int64_t v, int64_t multiple) { return (v + multiple - 1) / multiple * multiple; }

/// Collects the first broken invariant of a ModelConfig.
class InvariantChecker {
public:
  explicit InvariantChecker(StringRef where) : where(where.str()) {}
  bool ok() const { return message.empty(); }
  void fail(const Twine &msg) {
    if (ok())
      message = (where + ": " + msg).str();
  }
  void positive(StringRef field, int64_t v) {
    if (v <= 0 || v > kMaxSize)
      fail(llvm::formatv("{0} must be in [1, 2^31], got {1}", field, v));
  }
  void positiveFinite(StringRef field, double v) {
    if (!(v > 0) || !std::isfinite(v))
      fail(llvm::formatv("{0} must be a positive finite number, got {1}", field, v));
  }
  void divides(StringRef num, int64_t n, StringRef den, int64_t d) {
    if (d > 0 && n % d != 0)
      fail(llvm::formatv("{0} ({1}) is not a multiple of {2} ({3})", num, n, den, d));
  }
  /// Checks that the SSM widths, products and sums of several sizes, stay
  /// within kMaxSize (so that shapes and element counts cannot overflow).
  void checkedWidths(const ModelConfig &c) {
    auto bounded = [&](StringRef what, std::initializer_list<std::pair<int64_t, int64_t>> terms) {
      int64_t sum = 0;
      for (auto [a, b] : terms) {
        int64_t product;
        if (llvm::MulOverflow(a, b, product) || llvm::AddOverflow(sum, product, sum) ||
            sum > kMaxSize)
          return fail(llvm::formatv("{0} is larger than 2^31", what));
      }
    };
    bounded("ssmHeads * headDim", {{c.ssmHeads, c.headDim}});
    bounded("xHeads * headDim + (bGroups + cGroups) * stateDim (conv channels)",
            {{c.xHeads, c.headDim}, {c.bGroups, c.stateDim}, {c.cGroups, c.stateDim}});
    bounded("dInner + conv channels + ssmHeads (in_proj rows)",
            {{c.dInner, 1},
             {c.xHeads, c.headDim},
             {c.bGroups, c.stateDim},
             {c.cGroups, c.stateDim},
             {c.ssmHeads, 1}});
  }
  void equal(StringRef a, int64_t va, StringRef b, int64_t vb) {
    if (va != vb)
      fail(llvm::formatv("{0} ({1}) must equal {2} ({3})", a, va, b, vb));
  }
  Error takeError() {
    if (ok())
      return Error::success();
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  }

private:
  std::string where;
  std::string message;
};
} // namespace

Error ssmc::hf::validateModelConfig(const ModelConfig &c, StringRef where) {
  InvariantChecker k(where);
  k.positive("dModel", c.dModel);
  k.positive("nLayer", c.nLayer);
  k.positive("vocabSizeUnpadded", c.vocabSizeUnpadded);
  k.positive("padVocabMultiple", c.padVocabMultiple);
  k.positiveFinite("blockNormEps", c.blockNormEps);
  k.positiveFinite("finalNormEps", c.finalNormEps);
  if (c.intermediateSize < 0 || c.intermediateSize > kMaxSize)
    k.fail(llvm::formatv("intermediateSize must be in [0, 2^31], got {0}", c.intermediateSize));
  if (c.nLayer > kMaxLayers)
    k.fail(llvm::formatv("nLayer ({0}) is larger than 2^20", c.nLayer));
  if (!k.ok())
    return k.takeError();
  k.equal("vocabSize", c.vocabSize, "vocabSizeUnpadded rounded up to padVocabMultiple",
          roundUp(c.vocabSizeUnpadded, c.padVocabMultiple));
  if (c.family == Family::Mamba2) {
    if (c.intermediateSize != 0)
      k.fail("intermediateSize must be 0 for mamba2 (GatedMLP blocks are not supported yet)");
  } else {
    k.positive("intermediateSize", c.intermediateSize);
  }
  if (c.family != Family::Mamba2 && c.residualInFp32)
    k.fail("residualInFp32 is only meaningful for mamba2");

  if (isSSMFamily(c.family)) {
    k.positive("ssmHeads", c.ssmHeads);
    k.positive("headDim", c.headDim);
    k.positive("stateDim", c.stateDim);
    k.positive("xHeads", c.xHeads);
    k.positive("bGroups", c.bGroups);
    k.positive("cGroups", c.cGroups);
    k.positive("convWidth", c.convWidth);
    k.positive("chunkSize", c.chunkSize);
    k.positiveFinite("mixerNormEps", c.mixerNormEps);
    if (!k.ok())
      return k.takeError();
    k.checkedWidths(c);
    if (!k.ok())
      return k.takeError();
    k.equal("dInner", c.dInner, "ssmHeads * headDim", c.ssmHeads * c.headDim);
    k.divides("ssmHeads", c.ssmHeads, "xHeads", c.xHeads);
    k.divides("ssmHeads", c.ssmHeads, "bGroups", c.bGroups);
    k.divides("ssmHeads", c.ssmHeads, "cGroups", c.cGroups);
  }
  switch (c.family) {
  case Family::Llamba:
    k.equal("xHeads", c.xHeads, "ssmHeads", c.ssmHeads);
    k.equal("cGroups", c.cGroups, "bGroups", c.bGroups);
    k.divides("dInner", c.dInner, "dModel", c.dModel); // expand is an integer
    k.equal("normGroupSize", c.normGroupSize, "0 (no mixer norm in Llamba)", 0);
    if (c.blockNorm != NormRounding::HF || c.finalNorm != NormRounding::HF)
      k.fail("Llamba norms use HF rounding");
    break;
  case Family::Mamba2:
    k.equal("xHeads", c.xHeads, "ssmHeads", c.ssmHeads);
    k.equal("cGroups", c.cGroups, "bGroups", c.bGroups);
    k.divides("dInner", c.dInner, "dModel", c.dModel);
    k.equal("normGroupSize", c.normGroupSize, "dInner / bGroups", c.dInner / c.bGroups);
    if (c.blockNorm != NormRounding::Fused || c.finalNorm != NormRounding::Fused)
      k.fail("mamba2 norms use fused rounding");
    break;
  case Family::MambaInLlama:
    k.equal("headDim", c.headDim, "stateDim", c.stateDim);
    k.equal("bGroups", c.bGroups, "xHeads", c.xHeads);
    k.equal("cGroups", c.cGroups, "ssmHeads", c.ssmHeads);
    k.equal("normGroupSize", c.normGroupSize, "headDim", c.headDim);
    if (c.blockNorm != NormRounding::Fused || c.finalNorm != NormRounding::HF)
      k.fail("MambaInLlama uses fused block norms and an HF final norm");
    if (c.blockNormEps != c.finalNormEps)
      k.fail("MambaInLlama blockNormEps must equal finalNormEps (one rms_norm_eps serves "
             "the attention layers and the final norm)");
    break;
  case Family::Llama:
    if (c.blockNorm != NormRounding::HF || c.finalNorm != NormRounding::HF)
      k.fail("Llama norms use HF rounding");
    if (c.blockNormEps != c.finalNormEps)
      k.fail("Llama blockNormEps must equal finalNormEps");
    break;
  }
  if (!k.ok())
    return k.takeError();

  if (hasAttention(c.family)) {
    k.positive("attnHeads", c.attnHeads);
    k.positive("kvHeads", c.kvHeads);
    k.positive("attnHeadDim", c.attnHeadDim);
    k.positive("maxPositions", c.maxPositions);
    k.positiveFinite("rope.theta", c.rope.theta);
    if (!k.ok())
      return k.takeError();
    int64_t qWidth;
    if (llvm::MulOverflow(c.attnHeads, c.attnHeadDim, qWidth) || qWidth > kMaxSize)
      k.fail("attnHeads * attnHeadDim is larger than 2^31");
    k.divides("attnHeads", c.attnHeads, "kvHeads", c.kvHeads);
    k.divides("attnHeadDim", c.attnHeadDim, "2 (RoPE rotates pairs)", 2);
    k.equal("rope.rotaryDim", c.rope.rotaryDim, "attnHeadDim", c.attnHeadDim);
    if (c.rope.llama3Scaling) {
      k.positiveFinite("rope.factor", c.rope.factor);
      k.positiveFinite("rope.lowFreqFactor", c.rope.lowFreqFactor);
      k.positiveFinite("rope.highFreqFactor", c.rope.highFreqFactor);
      k.positive("rope.originalMaxPositions", c.rope.originalMaxPositions);
      if (k.ok() && !(c.rope.lowFreqFactor < c.rope.highFreqFactor))
        k.fail("rope.lowFreqFactor must be below rope.highFreqFactor");
    }
  } else if (!c.attnLayers.empty()) {
    k.fail(llvm::formatv("attnLayers must be empty for {0}", familyName(c.family)));
  }
  for (size_t i = 0; i < c.attnLayers.size() && k.ok(); ++i) {
    int64_t l = c.attnLayers[i];
    if (l < 0 || l >= c.nLayer)
      k.fail(llvm::formatv("attnLayers entry {0} is outside [0, nLayer={1})", l, c.nLayer));
    else if (i > 0 && l <= c.attnLayers[i - 1])
      k.fail("attnLayers must be sorted and free of duplicates");
  }
  if (c.family == Family::Llama && k.ok() && int64_t(c.attnLayers.size()) != c.nLayer)
    k.fail("attnLayers must list every layer of a Llama model");
  if (!k.ok())
    return k.takeError();
  // Every shape is now a product of two bounded sizes; bound the total.
  int64_t total = 0;
  for (const ExpectedTensor &t : expectedTensors(c)) {
    int64_t n = 1;
    bool overflow = false;
    for (int64_t d : t.shape)
      overflow |= llvm::MulOverflow(n, d, n);
    if (overflow || llvm::AddOverflow(total, n, total) || total > kMaxParameters) {
      k.fail("the model has more than 2^46 parameters");
      break;
    }
  }
  return k.takeError();
}

//===----------------------------------------------------------------------===//
// Reading JSON fields
//===----------------------------------------------------------------------===//

namespace {
/// A JSON object of a config file and the dotted key path it sits at.
struct Section {
  const json::Object *obj = nullptr; ///< null when the object is absent
  std::string prefix;                ///< "" or e.g. "ssm_cfg."
  std::string key(StringRef k) const { return prefix + k.str(); }
};

const char *kindName(const json::Value &v) {
  switch (v.kind()) {
  case json::Value::Null:
    return "null";
  case json::Value::Boolean:
    return "a boolean";
  case json::Value::Number:
    return "a number";
  case json::Value::String:
    return "a string";
  case json::Value::Array:
    return "an array";
  case json::Value::Object:
    return "an object";
  }
  return "a value";
}

/// Reads typed fields of one config file. The first problem is kept and
/// returned by takeError(); reads after it return defaults, so a parser reads
/// on and checks ok() only before it computes with the values. A key set to
/// null counts as absent (upstream writes null for "use the default").
class FieldReader {
public:
  explicit FieldReader(StringRef file) : file(file.str()) {}

  bool ok() const { return message.empty(); }
  const std::string &fileName() const { return file; }
  void fail(const Section &s, StringRef k, const Twine &msg) {
    if (ok())
      message = (file + ": key '" + s.key(k) + "': " + msg).str();
  }
  void failFile(const Twine &msg) {
    if (ok())
      message = (file + ": " + msg).str();
  }
  Error takeError() {
    if (ok())
      return Error::success();
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  }

  const json::Value *find(const Section &s, StringRef k) const {
    if (!s.obj)
      return nullptr;
    const json::Value *v = s.obj->get(k);
    return v && v->kind() != json::Value::Null ? v : nullptr;
  }
  bool has(const Section &s, StringRef k) const { return find(s, k) != nullptr; }

  std::optional<int64_t> integer(const Section &s, StringRef k) {
    const json::Value *v = find(s, k);
    if (!v)
      return std::nullopt;
    if (std::optional<int64_t> i = v->getAsInteger())
      return *i;
    typeError(s, k, "an integer", *v);
    return std::nullopt;
  }
  int64_t requiredInt(const Section &s, StringRef k) {
    if (!has(s, k)) {
      missing(s, k);
      return 0;
    }
    return integer(s, k).value_or(0);
  }
  int64_t intOr(const Section &s, StringRef k, int64_t dflt) { return integer(s, k).value_or(dflt); }
  /// A size: an integer in [1, 2^31].
  int64_t size(const Section &s, StringRef k, std::optional<int64_t> dflt) {
    int64_t v = dflt ? intOr(s, k, *dflt) : requiredInt(s, k);
    if (ok() && (v <= 0 || v > kMaxSize))
      fail(s, k, llvm::formatv("must be a positive integer no larger than 2^31, got {0}", v));
    return v;
  }

  std::optional<double> number(const Section &s, StringRef k) {
    const json::Value *v = find(s, k);
    if (!v)
      return std::nullopt;
    if (std::optional<double> d = v->getAsNumber())
      return *d;
    typeError(s, k, "a number", *v);
    return std::nullopt;
  }
  double requiredNumber(const Section &s, StringRef k) {
    if (!has(s, k)) {
      missing(s, k);
      return 0;
    }
    return number(s, k).value_or(0);
  }
  double numberOr(const Section &s, StringRef k, double dflt) { return number(s, k).value_or(dflt); }
  double positiveNumber(const Section &s, StringRef k, std::optional<double> dflt) {
    double v = dflt ? numberOr(s, k, *dflt) : requiredNumber(s, k);
    if (ok() && (!(v > 0) || !std::isfinite(v)))
      fail(s, k, llvm::formatv("must be a positive number, got {0}", v));
    return v;
  }

  bool boolOr(const Section &s, StringRef k, bool dflt) {
    const json::Value *v = find(s, k);
    if (!v)
      return dflt;
    if (std::optional<bool> b = v->getAsBoolean())
      return *b;
    typeError(s, k, "a boolean", *v);
    return dflt;
  }
  /// Requires the key, if present, to hold `expected`.
  void requireBool(const Section &s, StringRef k, bool expected, StringRef why) {
    if (has(s, k) && boolOr(s, k, expected) != expected)
      fail(s, k, llvm::formatv("{0} is not supported ({1})", expected ? "false" : "true", why));
  }

  std::optional<std::string> string(const Section &s, StringRef k) {
    const json::Value *v = find(s, k);
    if (!v)
      return std::nullopt;
    if (std::optional<StringRef> str = v->getAsString())
      return str->str();
    typeError(s, k, "a string", *v);
    return std::nullopt;
  }
  std::string stringOr(const Section &s, StringRef k, StringRef dflt) {
    return string(s, k).value_or(dflt.str());
  }

  /// The nested object `k` (an absent section when the key is absent).
  Section object(const Section &s, StringRef k) {
    Section sub{nullptr, s.key(k) + "."};
    const json::Value *v = find(s, k);
    if (!v)
      return sub;
    sub.obj = v->getAsObject();
    if (!sub.obj)
      typeError(s, k, "an object", *v);
    return sub;
  }

  /// A list of integers; `allowScalar` also takes a single integer (HF's
  /// eos_token_id may be either).
  std::vector<int64_t> intList(const Section &s, StringRef k, bool allowScalar) {
    const json::Value *v = find(s, k);
    if (!v)
      return {};
    if (allowScalar)
      if (std::optional<int64_t> i = v->getAsInteger())
        return {*i};
    const json::Array *arr = v->getAsArray();
    if (!arr) {
      typeError(s, k, allowScalar ? "an integer or a list of integers" : "a list of integers", *v);
      return {};
    }
    std::vector<int64_t> out;
    for (const json::Value &e : *arr) {
      std::optional<int64_t> i = e.getAsInteger();
      if (!i) {
        fail(s, k, llvm::formatv("list entries must be integers, found {0}", kindName(e)));
        return {};
      }
      out.push_back(*i);
    }
    return out;
  }

private:
  void missing(const Section &s, StringRef k) {
    if (ok())
      message = file + ": missing required key '" + s.key(k) + "'";
  }
  void typeError(const Section &s, StringRef k, StringRef expected, const json::Value &got) {
    fail(s, k, llvm::formatv("expected {0}, got {1}", expected, kindName(got)));
  }

  std::string file;
  std::string message;
};

void setVocab(ModelConfig &c, int64_t vocab, int64_t padMultiple) {
  c.vocabSizeUnpadded = vocab;
  c.padVocabMultiple = padMultiple;
  c.vocabSize = roundUp(vocab, padMultiple);
}

/// Llamba (cartesia LlambaConfig + DiscreteMamba2 defaults, spec §2.2-2.3).
void parseLlamba(FieldReader &r, const Section &top, ModelConfig &c) {
  c.family = Family::Llamba;
  int64_t vocab = r.size(top, "vocab_size", std::nullopt);
  int64_t padMultiple = r.size(top, "pad_vocab_size_multiple", 8);
  c.dModel = r.size(top, "d_model", std::nullopt);
  c.nLayer = r.size(top, "n_layer", 32);
  c.tieEmbeddings = r.boolOr(top, "tie_embeddings", false);
  r.requireBool(top, "lm_head_bias", false, "Llamba checkpoints have no head bias");
  c.finalNormEps = r.positiveNumber(top, "norm_epsilon", 1e-5);
  c.blockNormEps = 1e-5; // Block.__init__ hard-codes it
  c.blockNorm = c.finalNorm = NormRounding::HF;

  Section mlp = r.object(top, "mlp_cfg");
  c.intermediateSize = r.size(mlp, "intermediate_size", 14336);
  r.requireBool(mlp, "bias", false, "the SwiGLU MLP has no biases");
  std::string act = r.stringOr(mlp, "act_fn", "silu");
  if (r.ok() && act != "silu")
    r.fail(mlp, "act_fn", "only \"silu\" is supported, got \"" + act + "\"");

  Section ssm = r.object(top, "ssm_cfg");
  c.stateDim = r.size(ssm, "d_state", 64);
  int64_t vHeads = r.size(ssm, "n_v_heads", 32);
  int64_t qkHeads = r.size(ssm, "n_qk_heads", 32);
  int64_t expand = r.size(ssm, "expand", 1);
  c.chunkSize = r.size(ssm, "chunk_size", 128);
  c.convWidth = r.size(ssm, "d_conv", 4);
  c.convBias = r.boolOr(ssm, "conv_bias", true);
  std::string activation = r.stringOr(ssm, "activation", "identity");
  if (r.ok() && activation != "identity")
    r.fail(ssm, "activation", "only \"identity\" is supported, got \"" + activation + "\"");
  r.requireBool(ssm, "bias", false, "Llamba's in_proj/out_proj have no bias");
  if (!r.ok())
    return;

  setVocab(c, vocab, padMultiple);
  c.dInner = c.dModel * expand;
  if (c.dInner % vHeads != 0)
    return r.fail(ssm, "n_v_heads",
                  llvm::formatv("({0}) does not divide d_model * expand ({1})", vHeads, c.dInner));
  if (vHeads % qkHeads != 0)
    return r.fail(ssm, "n_qk_heads",
                  llvm::formatv("({0}) does not divide ssm_cfg.n_v_heads ({1})", qkHeads, vHeads));
  c.ssmHeads = vHeads;
  c.headDim = c.dInner / vHeads;
  c.xHeads = vHeads;
  c.bGroups = c.cGroups = qkHeads;
  c.normGroupSize = 0;
}

/// state-spaces mamba_ssm MambaConfig with a Mamba2 mixer (spec §7.2-7.3).
void parseMamba2(FieldReader &r, const Section &top, ModelConfig &c) {
  c.family = Family::Mamba2;
  c.dModel = r.size(top, "d_model", 2560);
  c.nLayer = r.size(top, "n_layer", 64);
  int64_t vocab = r.size(top, "vocab_size", 50277);
  int64_t padMultiple = r.size(top, "pad_vocab_size_multiple", 8);
  c.tieEmbeddings = r.boolOr(top, "tie_embeddings", true);
  c.residualInFp32 = r.boolOr(top, "residual_in_fp32", true);
  if (r.intOr(top, "d_intermediate", 0) != 0)
    r.fail(top, "d_intermediate", "must be 0: Mamba-2 blocks with a GatedMLP are not supported yet");
  if (!r.intList(top, "attn_layer_idx", false).empty())
    r.fail(top, "attn_layer_idx", "attention layers in mamba2 configs are not supported yet");
  r.requireBool(top, "rms_norm", true, "LayerNorm blocks are not supported");
  r.requireBool(top, "fused_add_norm", true,
                "the unfused add+norm rounds differently and is not supported");
  // Every norm of a mamba_ssm LM is the Triton RMSNorm with the default eps.
  c.blockNormEps = c.finalNormEps = c.mixerNormEps = 1e-5;
  c.blockNorm = c.finalNorm = NormRounding::Fused;
  c.intermediateSize = 0;

  Section ssm = r.object(top, "ssm_cfg");
  c.stateDim = r.size(ssm, "d_state", 128);
  c.convWidth = r.size(ssm, "d_conv", 4);
  int64_t expand = r.size(ssm, "expand", 2);
  c.headDim = r.size(ssm, "headdim", 64);
  int64_t groups = r.size(ssm, "ngroups", 1);
  c.chunkSize = r.size(ssm, "chunk_size", 256);
  c.convBias = r.boolOr(ssm, "conv_bias", true);
  r.requireBool(ssm, "rmsnorm", true, "the mixer without its gated RMSNorm");
  r.requireBool(ssm, "norm_before_gate", false, "only the gate-then-norm order is implemented");
  r.requireBool(ssm, "D_has_hdim", false, "D must be one value per head");
  r.requireBool(ssm, "bias", false, "in_proj/out_proj biases");
  r.requireBool(ssm, "learnable_init_states", false, "learned initial states");
  if (r.has(ssm, "dt_limit"))
    r.fail(ssm, "dt_limit", "a dt clamp is not supported (only the default (0, inf))");
  std::string activation = r.stringOr(ssm, "activation", "swish");
  if (r.ok() && activation != "swish" && activation != "silu")
    r.fail(ssm, "activation", "only \"swish\" (SiLU) is supported, got \"" + activation + "\"");
  if (!r.ok())
    return;

  setVocab(c, vocab, padMultiple);
  c.dInner = expand * c.dModel;
  if (std::optional<int64_t> dSsm = r.integer(ssm, "d_ssm"); dSsm && *dSsm != c.dInner)
    return r.fail(ssm, "d_ssm",
                  llvm::formatv("({0}) must equal expand * d_model ({1}): a partial SSM with a "
                                "gated MLP branch is not supported",
                                *dSsm, c.dInner));
  if (c.dInner % c.headDim != 0)
    return r.fail(ssm, "headdim",
                  llvm::formatv("({0}) does not divide expand * d_model ({1})", c.headDim, c.dInner));
  c.ssmHeads = c.dInner / c.headDim;
  if (c.ssmHeads % groups != 0)
    return r.fail(ssm, "ngroups",
                  llvm::formatv("({0}) does not divide the number of heads ({1} = expand * d_model / "
                                "headdim)",
                                groups, c.ssmHeads));
  c.xHeads = c.ssmHeads;
  c.bGroups = c.cGroups = groups;
  c.normGroupSize = c.dInner / groups;
}

/// HF LlamaConfig (spec §3.2 table, §3.5), shared by Llama and the attention
/// half of MambaInLlama. Defaults are LlamaConfig's.
void parseLlamaAttention(FieldReader &r, const Section &top, ModelConfig &c) {
  int64_t vocab = r.size(top, "vocab_size", std::nullopt);
  c.dModel = r.size(top, "hidden_size", std::nullopt);
  c.nLayer = r.size(top, "num_hidden_layers", std::nullopt);
  c.attnHeads = r.size(top, "num_attention_heads", std::nullopt);
  c.kvHeads = r.size(top, "num_key_value_heads", r.intOr(top, "num_attention_heads", 1));
  c.intermediateSize = r.size(top, "intermediate_size", std::nullopt);
  double eps = r.positiveNumber(top, "rms_norm_eps", 1e-6);
  c.blockNormEps = c.finalNormEps = eps;
  c.maxPositions = r.size(top, "max_position_embeddings", 2048);
  c.tieEmbeddings = r.boolOr(top, "tie_word_embeddings", false);
  c.rope.theta = r.positiveNumber(top, "rope_theta", 10000.0);
  std::string act = r.stringOr(top, "hidden_act", "silu");
  if (r.ok() && act != "silu")
    r.fail(top, "hidden_act", "only \"silu\" is supported, got \"" + act + "\"");
  r.requireBool(top, "attention_bias", false, "q/k/v/o biases");
  r.requireBool(top, "mlp_bias", false, "MLP biases");
  c.bosTokenId = r.intOr(top, "bos_token_id", -1);
  c.eosTokenIds = r.intList(top, "eos_token_id", /*allowScalar=*/true);
  // transformers 5 renamed torch_dtype to dtype.
  c.torchDtype = r.stringOr(top, "torch_dtype", r.stringOr(top, "dtype", ""));

  Section scaling = r.object(top, "rope_scaling");
  if (scaling.obj) {
    std::string type = r.stringOr(scaling, "rope_type", r.stringOr(scaling, "type", "default"));
    if (type == "llama3") {
      c.rope.llama3Scaling = true;
      c.rope.factor = r.positiveNumber(scaling, "factor", std::nullopt);
      c.rope.lowFreqFactor = r.positiveNumber(scaling, "low_freq_factor", std::nullopt);
      c.rope.highFreqFactor = r.positiveNumber(scaling, "high_freq_factor", std::nullopt);
      c.rope.originalMaxPositions =
          r.size(scaling, "original_max_position_embeddings", std::nullopt);
      if (r.ok() && !(c.rope.lowFreqFactor < c.rope.highFreqFactor))
        r.fail(scaling, "high_freq_factor", "must be larger than low_freq_factor");
    } else if (type != "default" && r.ok()) {
      r.fail(scaling, r.has(scaling, "rope_type") ? "rope_type" : "type",
             "only \"llama3\" RoPE scaling is supported, got \"" + type + "\"");
    }
  }
  if (!r.ok())
    return;
  setVocab(c, vocab, 1);
  if (r.has(top, "head_dim")) {
    c.attnHeadDim = r.size(top, "head_dim", std::nullopt);
  } else {
    if (c.dModel % c.attnHeads != 0)
      return r.fail(top, "num_attention_heads",
                    llvm::formatv("({0}) does not divide hidden_size ({1}) and there is no "
                                  "head_dim key",
                                  c.attnHeads, c.dModel));
    c.attnHeadDim = c.dModel / c.attnHeads;
  }
  if (!r.ok())
    return;
  if (c.attnHeadDim % 2 != 0)
    return r.fail(top, "head_dim",
                  llvm::formatv("({0}) must be even: RoPE rotates pairs", c.attnHeadDim));
  if (c.attnHeads % c.kvHeads != 0)
    return r.fail(top, "num_key_value_heads",
                  llvm::formatv("({0}) does not divide num_attention_heads ({1})", c.kvHeads,
                                c.attnHeads));
  c.rope.rotaryDim = c.attnHeadDim;
  c.blockNorm = c.finalNorm = NormRounding::HF;
}

/// MambaInLlama mamba_config.json (spec §3.2-3.3): the SSM half of a hybrid
/// whose attention half `c` already holds.
void parseMambaInLlama(FieldReader &r, const Section &top, ModelConfig &c) {
  c.family = Family::MambaInLlama;
  int64_t dModel = r.size(top, "d_model", 2560);
  Section ssm = r.object(top, "ssm_cfg");
  c.stateDim = r.size(ssm, "d_state", 128);
  int64_t groups = r.size(ssm, "ngroups", 1);
  r.size(ssm, "expand", 1); // unused by the hybrid layer (d_inner is explicit); type-checked only
  c.convWidth = r.size(ssm, "d_conv", 4);
  c.convBias = r.boolOr(ssm, "conv_bias", true);
  c.chunkSize = r.size(ssm, "chunk_size", 256);
  double eps = r.positiveNumber(top, "rms_norm_eps", 1e-5);
  c.dInner = r.size(top, "d_inner", std::nullopt);
  int64_t dXB = r.size(top, "d_xb", 2560);
  int64_t intermediate = r.size(top, "intermediate_size", 10240);
  std::string act = r.stringOr(top, "hidden_act", "silu");
  if (r.ok() && act != "silu")
    r.fail(top, "hidden_act", "only \"silu\" is supported, got \"" + act + "\"");
  int64_t nLayer = r.size(top, "n_layer", 32);
  std::vector<int64_t> attn = r.intList(top, "attn_layers", false);
  if (!r.ok())
    return;

  auto mustMatch = [&](StringRef key, int64_t v, StringRef llamaKey, int64_t llamaV) {
    if (r.ok() && v != llamaV)
      r.fail(top, key,
             llvm::formatv("({0}) differs from {1} ({2}) in config.json", v, llamaKey, llamaV));
  };
  mustMatch("d_model", dModel, "hidden_size", c.dModel);
  mustMatch("n_layer", nLayer, "num_hidden_layers", c.nLayer);
  mustMatch("intermediate_size", intermediate, "intermediate_size", c.intermediateSize);
  if (r.ok() && eps != c.finalNormEps)
    r.fail(top, "rms_norm_eps",
           llvm::formatv("({0}) differs from rms_norm_eps ({1}) in config.json; one eps for all "
                         "block norms is supported",
                         eps, c.finalNormEps));
  if (r.ok() && c.dInner != groups * c.stateDim)
    r.fail(top, "d_inner",
           llvm::formatv("({0}) must equal ssm_cfg.ngroups * ssm_cfg.d_state ({1} * {2})", c.dInner,
                         groups, c.stateDim));
  if (r.ok() && dXB % c.stateDim != 0)
    r.fail(top, "d_xb",
           llvm::formatv("({0}) is not a multiple of ssm_cfg.d_state ({1})", dXB, c.stateDim));
  if (r.ok() && groups % (dXB / c.stateDim) != 0)
    r.fail(top, "d_xb",
           llvm::formatv("d_xb / d_state ({0}) does not divide ssm_cfg.ngroups ({1})",
                         dXB / c.stateDim, groups));
  std::sort(attn.begin(), attn.end());
  for (size_t i = 0; i < attn.size() && r.ok(); ++i) {
    if (attn[i] < 0 || attn[i] >= c.nLayer)
      r.fail(top, "attn_layers",
             llvm::formatv("index {0} is out of range for n_layer {1}", attn[i], c.nLayer));
    else if (i > 0 && attn[i] == attn[i - 1])
      r.fail(top, "attn_layers", llvm::formatv("index {0} is listed twice", attn[i]));
  }
  if (!r.ok())
    return;
  // Mamba2.__init__ of the hybrid overrides nheads = ngroups, headdim = d_state.
  c.ssmHeads = groups;
  c.headDim = c.stateDim;
  c.xHeads = c.bGroups = dXB / c.stateDim;
  c.cGroups = groups;
  c.normGroupSize = c.dInner / groups;
  c.mixerNormEps = 1e-5;
  c.blockNorm = NormRounding::Fused; // mamba_ssm Triton RMSNorm in the decoder layers
  c.finalNorm = NormRounding::HF;
  c.attnLayers = std::move(attn);
}

Expected<json::Value> parseJSONText(StringRef text, StringRef name) {
  Expected<json::Value> v = ssmc::ckpt::parseJsonBounded(text);
  if (!v)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: malformed JSON %s",
                                   name.str().c_str(), llvm::toString(v.takeError()).c_str());
  if (!v->getAsObject())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "%s: the top level must be a JSON object, got %s",
                                   name.str().c_str(), kindName(*v));
  return v;
}
} // namespace

Expected<ModelConfig> ssmc::hf::parseModelConfigText(StringRef configText, StringRef configName,
                                                     StringRef mambaText, StringRef mambaName) {
  Expected<json::Value> root = parseJSONText(configText, configName);
  if (!root)
    return root.takeError();
  FieldReader r(configName);
  Section top{root->getAsObject(), ""};
  ModelConfig c;

  std::optional<std::string> modelType = r.string(top, "model_type");
  if (!r.ok())
    return r.takeError();
  if (!mambaText.empty() && modelType != std::optional<std::string>("llama"))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "%s: a mamba_config.json (%s) belongs to a Llama config, but model_type is %s",
        configName.str().c_str(), mambaName.str().c_str(),
        modelType ? ("\"" + *modelType + "\"").c_str() : "missing");

  if (modelType == std::optional<std::string>("llamba")) {
    parseLlamba(r, top, c);
  } else if (modelType == std::optional<std::string>("llama")) {
    c.family = Family::Llama;
    parseLlamaAttention(r, top, c);
    if (r.ok() && mambaText.empty())
      for (int64_t i = 0; i < c.nLayer; ++i)
        c.attnLayers.push_back(i);
  } else if (modelType) {
    r.fail(top, "model_type",
           "unknown model_type \"" + *modelType +
               "\" (supported: \"llamba\", \"llama\" with or without mamba_config.json, and "
               "state-spaces Mamba-2 configs, which have no model_type)");
  } else if (r.has(top, "ssm_cfg")) {
    Section ssm = r.object(top, "ssm_cfg");
    // mamba_ssm's create_block pops ssm_cfg["layer"], defaulting to Mamba1.
    std::string layer = r.stringOr(ssm, "layer", "Mamba1");
    if (r.ok() && layer != "Mamba2")
      r.fail(ssm, "layer",
             "only \"Mamba2\" mixers are supported, got \"" + layer + "\"" +
                 (r.has(ssm, "layer") ? "" : " (the mamba_ssm default when the key is absent)"));
    if (r.ok())
      parseMamba2(r, top, c);
  } else {
    r.failFile("cannot tell the model family: no model_type key and no ssm_cfg object");
  }
  if (!r.ok())
    return r.takeError();

  if (!mambaText.empty()) {
    Expected<json::Value> mroot = parseJSONText(mambaText, mambaName);
    if (!mroot)
      return mroot.takeError();
    FieldReader mr(mambaName);
    parseMambaInLlama(mr, Section{mroot->getAsObject(), ""}, c);
    if (!mr.ok())
      return mr.takeError();
  }
  if (Error e = validateModelConfig(c, configName))
    return e;
  return c;
}

Expected<ModelConfig> ssmc::hf::parseModelConfig(StringRef dir) {
  llvm::SmallString<256> configPath(dir), mambaPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  llvm::sys::path::append(mambaPath, "mamba_config.json");
  auto read = [](StringRef path) -> Expected<std::unique_ptr<llvm::MemoryBuffer>> {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buf =
        llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
    if (!buf)
      return llvm::createStringError(buf.getError(), "%s: cannot read: %s", path.str().c_str(),
                                     buf.getError().message().c_str());
    return std::move(*buf);
  };
  if (!llvm::sys::fs::exists(configPath))
    return llvm::createStringError(std::make_error_code(std::errc::no_such_file_or_directory),
                                   "%s: file not found", configPath.c_str());
  Expected<std::unique_ptr<llvm::MemoryBuffer>> config = read(configPath);
  if (!config)
    return config.takeError();
  std::unique_ptr<llvm::MemoryBuffer> mamba;
  if (llvm::sys::fs::exists(mambaPath)) {
    Expected<std::unique_ptr<llvm::MemoryBuffer>> m = read(mambaPath);
    if (!m)
      return m.takeError();
    mamba = std::move(*m);
    if (mamba->getBuffer().trim().empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: file is empty",
                                     mambaPath.c_str());
  }
  return parseModelConfigText((*config)->getBuffer(), configPath,
                              mamba ? mamba->getBuffer() : StringRef(), mambaPath);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

std::string ssmc::hf::formatJSONNumber(double v) {
  if (!std::isfinite(v))
    return "null";
  // Shortest scientific form that reads back exactly, then Python's repr
  // layout: positional for exponents in [-4, 16), else d.ddde±XX.
  char buf[64];
  for (int precision = 0; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*e", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  StringRef text(buf);
  bool negative = text.consume_front("-");
  auto [mantissa, expText] = text.split('e');
  int exponent = std::atoi(expText.str().c_str());
  std::string digits;
  for (char ch : mantissa)
    if (ch != '.')
      digits += ch;
  while (digits.size() > 1 && digits.back() == '0')
    digits.pop_back();

  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      size_t intDigits = size_t(exponent) + 1;
      std::string whole = digits.substr(0, std::min(intDigits, digits.size()));
      whole.append(intDigits - whole.size(), '0');
      std::string frac = digits.size() > intDigits ? digits.substr(intDigits) : "0";
      out += whole + "." + frac;
    } else {
      out += "0." + std::string(size_t(-exponent - 1), '0') + digits;
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1)
      out += "." + digits.substr(1);
    char expBuf[16];
    std::snprintf(expBuf, sizeof(expBuf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += expBuf;
  }
  return out;
}

namespace {
/// Writes a JSON object with its keys in the order given (json::Object would
/// sort them) and numbers in Python's layout.
class OrderedJSON {
public:
  explicit OrderedJSON(llvm::raw_ostream &os) : j(os, 2) {}
  void begin() { j.objectBegin(); }
  void end() { j.objectEnd(); }
  void key(StringRef k, int64_t v) { j.attribute(k, v); }
  void key(StringRef k, bool v) { j.attribute(k, v); }
  void key(StringRef k, const char *v) { j.attribute(k, v); }
  void key(StringRef k, const std::string &v) { j.attribute(k, v); }
  void number(StringRef k, double v) {
    j.attributeBegin(k);
    j.rawValue(formatJSONNumber(v));
    j.attributeEnd();
  }
  void null(StringRef k) { j.attribute(k, nullptr); }
  void list(StringRef k, llvm::ArrayRef<int64_t> values) {
    j.attributeArray(k, [&] {
      for (int64_t v : values)
        j.value(v);
    });
  }
  void object(StringRef k, llvm::function_ref<void()> body) { j.attributeObject(k, body); }
  void stringList(StringRef k, llvm::ArrayRef<const char *> values) {
    j.attributeArray(k, [&] {
      for (const char *v : values)
        j.value(v);
    });
  }

private:
  json::OStream j;
};

std::string renderLlamba(const ModelConfig &c) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OrderedJSON o(os);
  // Key order of the published Llamba-3B config.json.
  o.begin();
  o.key("model_type", "llamba");
  o.key("vocab_size", c.vocabSizeUnpadded);
  o.key("tie_embeddings", c.tieEmbeddings);
  o.key("pad_vocab_size_multiple", c.padVocabMultiple);
  o.key("lm_head_bias", false);
  o.key("d_model", c.dModel);
  o.key("n_layer", c.nLayer);
  o.number("resid_dropout", 0.0);
  o.number("norm_epsilon", c.finalNormEps);
  o.object("mlp_cfg", [&] {
    o.key("intermediate_size", c.intermediateSize);
    o.key("bias", false);
    o.key("act_fn", "silu");
  });
  o.object("ssm_cfg", [&] {
    o.key("d_state", c.stateDim);
    o.key("n_v_heads", c.ssmHeads);
    o.key("n_qk_heads", c.bGroups);
    o.key("expand", c.dInner / c.dModel);
    o.key("chunk_size", c.chunkSize);
    o.key("activation", "identity");
    o.key("bias", false);
    // DiscreteMamba2 keyword arguments, written only when not the default.
    if (c.convWidth != 4)
      o.key("d_conv", c.convWidth);
    if (!c.convBias)
      o.key("conv_bias", false);
  });
  o.end();
  return text;
}

std::string renderMamba2(const ModelConfig &c) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OrderedJSON o(os);
  // Exactly the 12 MambaConfig fields (mamba_ssm rejects any other key).
  o.begin();
  o.key("d_model", c.dModel);
  o.key("d_intermediate", int64_t(0));
  o.key("n_layer", c.nLayer);
  o.key("vocab_size", c.vocabSizeUnpadded);
  o.object("ssm_cfg", [&] {
    o.key("layer", "Mamba2");
    // Mamba2.__init__ keyword arguments, written only when not the default,
    // as in the published configs ({"layer": "Mamba2"}).
    if (c.stateDim != 128)
      o.key("d_state", c.stateDim);
    if (c.convWidth != 4)
      o.key("d_conv", c.convWidth);
    if (c.dInner / c.dModel != 2)
      o.key("expand", c.dInner / c.dModel);
    if (c.headDim != 64)
      o.key("headdim", c.headDim);
    if (c.bGroups != 1)
      o.key("ngroups", c.bGroups);
    if (c.chunkSize != 256)
      o.key("chunk_size", c.chunkSize);
    if (!c.convBias)
      o.key("conv_bias", false);
  });
  o.list("attn_layer_idx", {});
  o.object("attn_cfg", [] {});
  o.key("rms_norm", true);
  o.key("residual_in_fp32", c.residualInFp32);
  o.key("fused_add_norm", true);
  o.key("pad_vocab_size_multiple", c.padVocabMultiple);
  o.key("tie_embeddings", c.tieEmbeddings);
  o.end();
  return text;
}

/// A LlamaForCausalLM config.json; keys sorted, as transformers writes them.
std::string renderLlama(const ModelConfig &c, StringRef nameOrPath) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OrderedJSON o(os);
  o.begin();
  if (!nameOrPath.empty())
    o.key("_name_or_path", nameOrPath.str());
  o.stringList("architectures", {"LlamaForCausalLM"});
  o.key("attention_bias", false);
  o.number("attention_dropout", 0.0);
  if (c.bosTokenId >= 0)
    o.key("bos_token_id", c.bosTokenId);
  else
    o.null("bos_token_id");
  if (c.eosTokenIds.size() == 1)
    o.key("eos_token_id", c.eosTokenIds.front());
  else if (c.eosTokenIds.empty())
    o.null("eos_token_id");
  else
    o.list("eos_token_id", c.eosTokenIds);
  o.key("head_dim", c.attnHeadDim);
  o.key("hidden_act", "silu");
  o.key("hidden_size", c.dModel);
  o.number("initializer_range", 0.02);
  o.key("intermediate_size", c.intermediateSize);
  o.key("max_position_embeddings", c.maxPositions);
  o.key("mlp_bias", false);
  o.key("model_type", "llama");
  o.key("num_attention_heads", c.attnHeads);
  o.key("num_hidden_layers", c.nLayer);
  o.key("num_key_value_heads", c.kvHeads);
  o.key("pretraining_tp", int64_t(1));
  o.number("rms_norm_eps", c.finalNormEps);
  if (c.rope.llama3Scaling) {
    o.object("rope_scaling", [&] {
      o.number("factor", c.rope.factor);
      o.number("high_freq_factor", c.rope.highFreqFactor);
      o.number("low_freq_factor", c.rope.lowFreqFactor);
      o.key("original_max_position_embeddings", c.rope.originalMaxPositions);
      o.key("rope_type", "llama3");
    });
  } else {
    o.null("rope_scaling");
  }
  o.number("rope_theta", c.rope.theta);
  o.key("tie_word_embeddings", c.tieEmbeddings);
  if (c.torchDtype.empty())
    o.null("torch_dtype");
  else
    o.key("torch_dtype", c.torchDtype);
  o.key("transformers_version", "4.45.2");
  o.key("use_cache", true);
  o.key("vocab_size", c.vocabSizeUnpadded);
  o.end();
  return text;
}

/// mamba_config.json of a MambaInLlama hybrid, keys in MambaConfig's order.
std::string renderMambaInLlama(const ModelConfig &c) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OrderedJSON o(os);
  o.begin();
  o.key("d_model", c.dModel);
  o.object("ssm_cfg", [&] {
    o.key("expand", int64_t(1));
    o.key("ngroups", c.ssmHeads);
    o.key("d_state", c.stateDim);
    if (c.convWidth != 4)
      o.key("d_conv", c.convWidth);
    if (!c.convBias)
      o.key("conv_bias", false);
    if (c.chunkSize != 256)
      o.key("chunk_size", c.chunkSize);
  });
  o.number("rms_norm_eps", c.blockNormEps);
  o.null("vocab_size");
  o.key("d_inner", c.dInner);
  o.key("d_xb", c.xWidth());
  o.key("intermediate_size", c.intermediateSize);
  o.key("hidden_act", "silu");
  o.key("n_layer", c.nLayer);
  o.list("attn_layers", c.attnLayers);
  o.end();
  return text;
}

ConfigTexts renderConfigs(const ModelConfig &c, StringRef nameOrPath) {
  ConfigTexts t;
  switch (c.family) {
  case Family::Llamba:
    t.config = renderLlamba(c);
    break;
  case Family::Mamba2:
    t.config = renderMamba2(c);
    break;
  case Family::MambaInLlama:
    t.config = renderLlama(c, nameOrPath);
    t.mambaConfig = renderMambaInLlama(c);
    break;
  case Family::Llama:
    t.config = renderLlama(c, "");
    break;
  }
  t.config += "\n";
  if (!t.mambaConfig.empty())
    t.mambaConfig += "\n";
  return t;
}

Error writeTextFile(StringRef path, StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return llvm::createStringError(ec, "%s: cannot write: %s", path.str().c_str(),
                                   ec.message().c_str());
  os << text;
  os.close();
  if (os.has_error())
    return llvm::createStringError(os.error(), "%s: write failed: %s", path.str().c_str(),
                                   os.error().message().c_str());
  return Error::success();
}
} // namespace

ConfigTexts ssmc::hf::renderModelConfig(const ModelConfig &cfg) { return renderConfigs(cfg, ""); }

Error ssmc::hf::writeModelConfig(const ModelConfig &cfg, StringRef dir) {
  if (Error e = validateModelConfig(cfg, dir))
    return e;
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return llvm::createStringError(ec, "%s: cannot create directory: %s", dir.str().c_str(),
                                   ec.message().c_str());
  // MambaInLlama's loader rebuilds the Llama model named by _name_or_path and
  // then swaps in the Mamba layers; naming this directory makes it build the
  // model of these shapes rather than a Hub model.
  llvm::SmallString<256> absDir(dir);
  if (cfg.family == Family::MambaInLlama)
    (void)llvm::sys::fs::make_absolute(absDir);
  ConfigTexts texts = renderConfigs(cfg, cfg.family == Family::MambaInLlama ? absDir.str() : "");

  llvm::SmallString<256> configPath(dir), mambaPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  llvm::sys::path::append(mambaPath, "mamba_config.json");
  if (Error e = writeTextFile(configPath, texts.config))
    return e;
  if (!texts.mambaConfig.empty())
    return writeTextFile(mambaPath, texts.mambaConfig);
  // A leftover mamba_config.json would turn this Llama config into a hybrid.
  if (llvm::sys::fs::exists(mambaPath))
    if (std::error_code ec = llvm::sys::fs::remove(mambaPath))
      return llvm::createStringError(ec, "%s: cannot remove stale file: %s", mambaPath.c_str(),
                                     ec.message().c_str());
  return Error::success();
}

//===----------------------------------------------------------------------===//
// expectedTensors
//===----------------------------------------------------------------------===//

namespace {
class TensorList {
public:
  explicit TensorList(std::vector<ExpectedTensor> &out) : out(out) {}
  void add(std::string name, std::vector<int64_t> shape, StringRef role, int64_t layer = -1) {
    out.push_back(ExpectedTensor{std::move(name), std::move(shape), role.str(), layer});
  }

private:
  std::vector<ExpectedTensor> &out;
};

/// The tensors of one Mamba-2 style mixer (upstream Mamba2 and the
/// MambaInLlama hybrid share the module layout).
void addMamba2Mixer(TensorList &t, const ModelConfig &c, const std::string &p, int64_t layer) {
  t.add(p + "in_proj.weight", {c.inProjRows(), c.dModel}, "in_proj", layer);
  t.add(p + "conv1d.weight", {c.convChannels(), 1, c.convWidth}, "conv_weight", layer);
  if (c.convBias)
    t.add(p + "conv1d.bias", {c.convChannels()}, "conv_bias", layer);
  t.add(p + "dt_bias", {c.ssmHeads}, "dt_bias", layer);
  t.add(p + "A_log", {c.ssmHeads}, "A_log", layer);
  t.add(p + "D", {c.ssmHeads}, "D", layer);
  t.add(p + "norm.weight", {c.dInner}, "mixer_norm", layer);
  t.add(p + "out_proj.weight", {c.dModel, c.dInner}, "out_proj", layer);
}

void addSwiGLU(TensorList &t, const ModelConfig &c, const std::string &p, int64_t layer) {
  t.add(p + "gate_proj.weight", {c.intermediateSize, c.dModel}, "mlp_gate", layer);
  t.add(p + "up_proj.weight", {c.intermediateSize, c.dModel}, "mlp_up", layer);
  t.add(p + "down_proj.weight", {c.dModel, c.intermediateSize}, "mlp_down", layer);
}
} // namespace

std::vector<ExpectedTensor> ssmc::hf::expectedTensors(const ModelConfig &c) {
  std::vector<ExpectedTensor> out;
  TensorList t(out);
  const int64_t D = c.dModel, V = c.vocabSize;
  switch (c.family) {
  case Family::Llamba: // spec §2.4, module order of LlambaLMHeadModel
    t.add("backbone.embedding.weight", {V, D}, "embedding");
    for (int64_t i = 0; i < c.nLayer; ++i) {
      std::string p = "backbone.layers." + std::to_string(i) + ".";
      t.add(p + "input_layernorm.weight", {D}, "input_norm", i);
      t.add(p + "mixer.in_proj.weight", {c.inProjRows(), D}, "in_proj", i);
      t.add(p + "mixer.z_bias", {c.dInner}, "z_bias", i);
      t.add(p + "mixer.conv1d.weight", {c.convChannels(), 1, c.convWidth}, "conv_weight", i);
      if (c.convBias)
        t.add(p + "mixer.conv1d.bias", {c.convChannels()}, "conv_bias", i);
      t.add(p + "mixer.D", {c.ssmHeads}, "D", i);
      t.add(p + "mixer.out_proj.weight", {D, c.dInner}, "out_proj", i);
      t.add(p + "post_attention_layernorm.weight", {D}, "post_norm", i);
      addSwiGLU(t, c, p + "mlp.", i);
    }
    t.add("backbone.final_layernorm.weight", {D}, "final_norm");
    if (!c.tieEmbeddings)
      t.add("lm_head.weight", {V, D}, "lm_head");
    break;
  case Family::Mamba2: // spec §7.3, module order of MambaLMHeadModel
    t.add("backbone.embedding.weight", {V, D}, "embedding");
    for (int64_t i = 0; i < c.nLayer; ++i) {
      std::string p = "backbone.layers." + std::to_string(i) + ".";
      t.add(p + "norm.weight", {D}, "input_norm", i);
      addMamba2Mixer(t, c, p + "mixer.", i);
    }
    t.add("backbone.norm_f.weight", {D}, "final_norm");
    if (!c.tieEmbeddings)
      t.add("lm_head.weight", {V, D}, "lm_head");
    break;
  case Family::MambaInLlama: // spec §3.4
  case Family::Llama:        // HF LlamaForCausalLM; decoder layers register mixer, mlp, norms
    t.add("model.embed_tokens.weight", {V, D}, "embedding");
    for (int64_t i = 0; i < c.nLayer; ++i) {
      std::string p = "model.layers." + std::to_string(i) + ".";
      if (c.family == Family::Llama || c.isAttentionLayer(i)) {
        int64_t q = c.attnHeads * c.attnHeadDim, kv = c.kvHeads * c.attnHeadDim;
        t.add(p + "self_attn.q_proj.weight", {q, D}, "q_proj", i);
        t.add(p + "self_attn.k_proj.weight", {kv, D}, "k_proj", i);
        t.add(p + "self_attn.v_proj.weight", {kv, D}, "v_proj", i);
        t.add(p + "self_attn.o_proj.weight", {D, q}, "o_proj", i);
      } else {
        addMamba2Mixer(t, c, p + "mamba.", i);
      }
      addSwiGLU(t, c, p + "mlp.", i);
      t.add(p + "input_layernorm.weight", {D}, "input_norm", i);
      t.add(p + "post_attention_layernorm.weight", {D}, "post_norm", i);
    }
    t.add("model.norm.weight", {D}, "final_norm");
    if (!c.tieEmbeddings)
      t.add("lm_head.weight", {V, D}, "lm_head");
    break;
  }
  return out;
}
