//===- ReferenceSelfTest.cpp - Self-checks of the reference implementation ===//
//
// Three kinds of checks, none of which needs a checkpoint file:
//   1. the chunked SSD scan (§1.6) against the recurrence (§1.5);
//   2. whole tiny models of every family with random weights (own seeded PRNG):
//      chunked == recurrent, prefill == step-by-step decode, prefill + decode ==
//      one prefill, a batch of different lengths == each sequence alone;
//   3. hand-computed cases: written out from the spec's formulas with literal
//      numbers (the arithmetic is in the comments), plus config parsing of the
//      published configs against the spec's derived sizes and parameter counts.
//
//===----------------------------------------------------------------------===//

#include "test/reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace ssmc::ref;

namespace {

constexpr double kTol = 1e-10;     // chunked vs recurrent, prefill vs decode
constexpr double kHandTol = 1e-13; // hand-computed values (all O(1))

/// splitmix64: a small, well-known seeded generator, so runs are reproducible.
class Rng {
public:
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [-1, 1).
  double uniform() { return static_cast<double>(next() >> 11) * (2.0 / 9007199254740992.0) - 1.0; }
  int token(int64_t vocab) { return static_cast<int>(next() % static_cast<uint64_t>(vocab)); }

private:
  uint64_t s;
};

std::vector<double> flatten(const Matrix &m) {
  std::vector<double> v;
  for (const auto &row : m)
    v.insert(v.end(), row.begin(), row.end());
  return v;
}

// Independent one-liners for the expected values (not the reference's own).
double hSilu(double v) { return v / (1.0 + std::exp(-v)); }
double hSoftplus(double v) { return std::log(1.0 + std::exp(v)); }

/// Every tensor of `cfg` set to zero; the caller then fills the ones it needs.
Weights zeroWeights(const Config &cfg) {
  Weights w;
  for (const auto &[name, shape] : Model::tensorList(cfg)) {
    Tensor t{shape, {}};
    t.data.assign(t.numElements(), 0.0);
    w[name] = std::move(t);
  }
  return w;
}

/// Random weights for every tensor the config needs, scaled by role so that
/// activations stay O(1).
Weights randomWeights(const Config &cfg, uint64_t seed) {
  Rng rng(seed);
  Weights w;
  for (const auto &[name, shape] : Model::tensorList(cfg)) {
    Tensor t{shape, {}};
    t.data.resize(t.numElements());
    llvm::StringRef n(name);
    for (double &v : t.data) {
      const double r = rng.uniform();
      if (n.ends_with("norm.weight") || n.ends_with("norm_f.weight") || n.ends_with("norm2.weight"))
        v = 1.0 + 0.2 * r;
      else if (n.ends_with("A_log"))
        v = r; // A in [-e, -1/e]
      else if (n.ends_with("dt_bias") || n.ends_with("conv1d.bias") || n.ends_with("z_bias"))
        v = 0.3 * r;
      else if (n.ends_with(".D"))
        v = r;
      else if (n.ends_with("conv1d.weight"))
        v = 0.6 * r;
      else if (n.ends_with("embedding.weight") || n.ends_with("embed_tokens.weight"))
        v = r;
      else // (out, in) projection
        v = r * 1.5 / std::sqrt(static_cast<double>(shape[1]));
    }
    w[name] = std::move(t);
  }
  return w;
}

//===----------------------------------------------------------------------===//
// Tiny configs of every family
//===----------------------------------------------------------------------===//

Config tinyLlamba() {
  Config c;
  c.family = Family::Llamba;
  c.vocabSizeUnpadded = 19;
  c.vocabSize = 24; // padded to a multiple of 8
  c.dModel = 8;
  c.nLayer = 2;
  c.intermediateSize = 12;
  c.tieEmbeddings = false;
  c.dInner = 8;
  c.nHeads = 2; // H > G: both heads share one B/C group
  c.headDim = 4;
  c.dState = 3;
  c.nGroups = 1;
  c.chunkSize = 4;
  return c;
}

Config tinyMamba2(bool withMlp) {
  Config c;
  c.family = Family::Mamba2;
  c.vocabSizeUnpadded = 21;
  c.vocabSize = 32; // padded to a multiple of 16
  c.dModel = 8;
  c.nLayer = 2;
  c.tieEmbeddings = true;
  c.dInner = 16; // expand 2
  c.nHeads = 4;
  c.headDim = 4;
  c.dState = 3;
  c.nGroups = 2;
  c.normGroupSize = 8;
  c.chunkSize = 5;
  c.gatedMlpSize = withMlp ? 128 : 0;
  return c;
}

Config tinyMambaInLlama() {
  Config c;
  c.family = Family::MambaInLlama;
  c.vocabSizeUnpadded = c.vocabSize = 23;
  c.dModel = 16;
  c.nLayer = 3;
  c.intermediateSize = 24;
  c.tieEmbeddings = true;
  c.dInner = 32; // Hq * hd
  c.nHeads = 4;  // = ngroups
  c.headDim = 8; // = d_state
  c.dState = 8;
  c.nGroups = 4;
  c.dXB = 16; // Hkv * hd: 2 x/B groups, repeat 2
  c.normGroupSize = 8;
  c.chunkSize = 4;
  c.ssmBlockNormEps = 1e-5;
  c.attnBlockNormEps = 1e-6;
  c.finalNormEps = 1e-6;
  c.nAttnHeads = 4;
  c.nKVHeads = 2;
  c.attnHeadDim = 8;
  c.rope.theta = 10000;
  c.rope.llama3 = true; // wavelengths 6.3, 63, 628, 6283: all three llama3 regimes
  c.rope.factor = 8;
  c.rope.lowFreqFactor = 1;
  c.rope.highFreqFactor = 4;
  c.rope.originalMaxPositions = 1024;
  c.attnLayers = {1};
  return c;
}

Config tinyLlama() {
  Config c;
  c.family = Family::Llama;
  c.vocabSizeUnpadded = c.vocabSize = 30;
  c.dModel = 16;
  c.nLayer = 2;
  c.intermediateSize = 24;
  c.tieEmbeddings = false;
  c.attnBlockNormEps = c.finalNormEps = 1e-6;
  c.nAttnHeads = 4;
  c.nKVHeads = 2;
  c.attnHeadDim = 4;
  c.rope.theta = 10000;
  c.attnLayers = {0, 1};
  return c;
}

struct FamilyCase {
  const char *name;
  Config (*make)();
};

const FamilyCase kFamilies[] = {
    {"Llamba", tinyLlamba},
    {"Mamba2", [] { return tinyMamba2(false); }},
    {"Mamba2GatedMlp", [] { return tinyMamba2(true); }},
    {"MambaInLlama", tinyMambaInLlama},
    {"Llama", tinyLlama},
};

Model makeModel(const Config &cfg, uint64_t seed) {
  return llvm::cantFail(Model::create(cfg, randomWeights(cfg, seed)));
}

std::vector<int> randomIds(const Config &cfg, int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<int> ids;
  for (int i = 0; i < n; ++i)
    ids.push_back(rng.token(cfg.vocabSize)); // padded rows are valid embedding rows too
  return ids;
}

/// All recurrent state of two sequences agrees.
void expectStatesEqual(const SequenceState &a, const SequenceState &b, double tol) {
  ASSERT_EQ(a.position, b.position);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_LT(relativeError(a.layers[i].conv, b.layers[i].conv), tol) << "conv state, layer " << i;
    EXPECT_LT(relativeError(a.layers[i].ssm, b.layers[i].ssm), tol) << "ssm state, layer " << i;
    ASSERT_EQ(a.layers[i].keys.size(), b.layers[i].keys.size()) << "layer " << i;
    for (size_t t = 0; t < a.layers[i].keys.size(); ++t) {
      EXPECT_LT(relativeError(a.layers[i].keys[t], b.layers[i].keys[t]), tol) << "K, layer " << i;
      EXPECT_LT(relativeError(a.layers[i].values[t], b.layers[i].values[t]), tol) << "V, layer " << i;
    }
  }
}

//===----------------------------------------------------------------------===//
// 1. Chunked scan == recurrence
//===----------------------------------------------------------------------===//

ScanProblem randomScan(int64_t L, int64_t H, int64_t P, int64_t N, int64_t Gb, int64_t Gc, uint64_t seed) {
  Rng rng(seed);
  ScanProblem p;
  p.length = L;
  p.heads = H;
  p.headDim = P;
  p.stateDim = N;
  p.bGroups = Gb;
  p.cGroups = Gc;
  for (int64_t i = 0; i < L * H * P; ++i)
    p.x.push_back(rng.uniform());
  for (int64_t i = 0; i < L * H; ++i)
    p.logA.push_back(-softplus(2.0 * rng.uniform())); // decays in (0.1, 0.9)
  for (int64_t i = 0; i < L * Gb * N; ++i)
    p.B.push_back(rng.uniform());
  for (int64_t i = 0; i < L * Gc * N; ++i)
    p.C.push_back(rng.uniform());
  return p;
}

TEST(ReferenceScan, ChunkedMatchesRecurrent) {
  // (L, Q): multiples, L not a multiple of Q, L < Q, L = 1, Q = 1, Q = L.
  const std::pair<int64_t, int64_t> cases[] = {{16, 4}, {13, 4}, {3, 8}, {1, 4}, {1, 1}, {9, 1},
                                               {7, 7},  {20, 6}, {2, 3}, {12, 5}, {5, 64}};
  // (H, Gb, Gc): H > G grouping, Mamba-in-the-Llama shape (Gc = H), one group.
  const int64_t groupings[][3] = {{4, 2, 2}, {4, 2, 4}, {3, 1, 1}};
  uint64_t seed = 1;
  for (auto [L, Q] : cases)
    for (const auto &g : groupings)
      for (bool withInit : {false, true}) {
        const int64_t H = g[0], P = 3, N = 2;
        ScanProblem p = randomScan(L, H, P, N, g[1], g[2], seed++);
        std::vector<double> init;
        if (withInit) {
          Rng rng(seed++);
          for (int64_t i = 0; i < H * P * N; ++i)
            init.push_back(rng.uniform());
        }
        ScanResult rec = scanRecurrent(p, init);
        ScanResult chk = scanChunked(p, Q, init);
        SCOPED_TRACE("L=" + std::to_string(L) + " Q=" + std::to_string(Q) + " H=" + std::to_string(H) +
                     " Gb=" + std::to_string(g[1]) + " Gc=" + std::to_string(g[2]) +
                     (withInit ? " with initial state" : ""));
        EXPECT_LT(relativeError(chk.y, rec.y), kTol);
        EXPECT_LT(relativeError(chk.finalState, rec.finalState), kTol);
      }
}

TEST(ReferenceScan, ChunkedEmptySequenceKeepsState) {
  ScanProblem p = randomScan(0, 2, 2, 2, 1, 1, 5);
  std::vector<double> init = {1, 2, 3, 4, 5, 6, 7, 8};
  ScanResult r = scanChunked(p, 4, init);
  EXPECT_TRUE(r.y.empty());
  EXPECT_EQ(r.finalState, init);
}

TEST(ReferenceScan, LongSequenceStrongDecay) {
  // Long enough that cumulative log-decays reach about -100 within a chunk.
  ScanProblem p = randomScan(200, 2, 2, 3, 1, 2, 77);
  for (double &a : p.logA)
    a = -2.0 + 0.5 * a;
  ScanResult rec = scanRecurrent(p);
  for (int64_t Q : {16, 64, 256}) {
    ScanResult chk = scanChunked(p, Q);
    EXPECT_LT(relativeError(chk.y, rec.y), kTol) << "Q=" << Q;
    EXPECT_LT(relativeError(chk.finalState, rec.finalState), kTol) << "Q=" << Q;
  }
}

//===----------------------------------------------------------------------===//
// 2. Whole models, every family
//===----------------------------------------------------------------------===//

class ReferenceModel : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(ReferenceModel, ChunkedEqualsRecurrent) {
  const Config cfg = GetParam().make();
  const Model m = makeModel(cfg, 11);
  const std::vector<int> ids = randomIds(cfg, 11, 12);

  SequenceState rec = m.newSequenceState();
  const Matrix ref = m.forwardSequence(rec, ids);
  for (int64_t Q : {1, 3, 4, 16}) {
    SequenceState chk = m.newSequenceState();
    const Matrix got = m.forwardSequence(chk, ids, {ScanMode::Chunked, Q});
    EXPECT_LT(relativeError(flatten(got), flatten(ref)), kTol) << "Q=" << Q;
    expectStatesEqual(chk, rec, kTol);
  }
}

TEST_P(ReferenceModel, PrefillEqualsStepByStepDecode) {
  const Config cfg = GetParam().make();
  const Model m = makeModel(cfg, 21);
  const std::vector<int> ids = randomIds(cfg, 10, 22);

  SequenceState whole = m.newSequenceState();
  const Matrix ref = m.forwardSequence(whole, ids);
  for (ScanMode mode : {ScanMode::Recurrent, ScanMode::Chunked}) {
    SequenceState steps = m.newSequenceState();
    for (size_t t = 0; t < ids.size(); ++t) {
      const Matrix row = m.forwardSequence(steps, llvm::ArrayRef<int>(ids).slice(t, 1), {mode, 4});
      ASSERT_EQ(row.size(), 1u);
      EXPECT_LT(relativeError(row[0], ref[t]), kTol)
          << "token " << t << (mode == ScanMode::Chunked ? " (chunked steps)" : "");
    }
    expectStatesEqual(steps, whole, kTol);
  }
}

TEST_P(ReferenceModel, PrefillThenDecodeEqualsOnePrefill) {
  const Config cfg = GetParam().make();
  const Model m = makeModel(cfg, 31);
  const std::vector<int> ids = randomIds(cfg, 12, 32);
  llvm::ArrayRef<int> all(ids);
  const size_t p = 5;

  SequenceState whole = m.newSequenceState();
  const Matrix ref = m.forwardSequence(whole, ids);

  // Chunked prefill of p tokens, then recurrent decode of the rest.
  SequenceState s1 = m.newSequenceState();
  Matrix got = m.forwardSequence(s1, all.take_front(p), {ScanMode::Chunked, 3});
  for (size_t t = p; t < ids.size(); ++t)
    got.push_back(m.forwardSequence(s1, all.slice(t, 1))[0]);
  EXPECT_LT(relativeError(flatten(got), flatten(ref)), kTol);
  expectStatesEqual(s1, whole, kTol);

  // Chunked prefill, then the rest as one chunked call starting from that state
  // (initial SSM state and conv history in the sequence forms).
  SequenceState s2 = m.newSequenceState();
  Matrix got2 = m.forwardSequence(s2, all.take_front(p), {ScanMode::Chunked, 4});
  Matrix rest = m.forwardSequence(s2, all.drop_front(p), {ScanMode::Chunked, 4});
  got2.insert(got2.end(), rest.begin(), rest.end());
  EXPECT_LT(relativeError(flatten(got2), flatten(ref)), kTol);
  expectStatesEqual(s2, whole, kTol);
}

TEST_P(ReferenceModel, BatchEqualsEachSequenceAlone) {
  const Config cfg = GetParam().make();
  const Model m = makeModel(cfg, 41);
  const std::vector<std::vector<int>> call1 = {randomIds(cfg, 7, 42), randomIds(cfg, 1, 43),
                                               randomIds(cfg, 4, 44)};
  const std::vector<std::vector<int>> call2 = {randomIds(cfg, 2, 45), {}, randomIds(cfg, 3, 46)};
  for (ScanMode mode : {ScanMode::Recurrent, ScanMode::Chunked}) {
    const ForwardOptions opts{mode, 3};
    State batch = m.newState(3);
    const std::vector<Matrix> b1 = llvm::cantFail(m.forward(batch, call1, opts));
    const std::vector<Matrix> b2 = llvm::cantFail(m.forward(batch, call2, opts));
    for (size_t b = 0; b < 3; ++b) {
      SequenceState alone = m.newSequenceState();
      const Matrix a1 = m.forwardSequence(alone, call1[b], opts);
      const Matrix a2 = m.forwardSequence(alone, call2[b], opts);
      ASSERT_EQ(b1[b].size(), call1[b].size());
      ASSERT_EQ(b2[b].size(), call2[b].size());
      // The sequences are independent: bit-identical, not just close.
      EXPECT_EQ(flatten(b1[b]), flatten(a1)) << "sequence " << b;
      EXPECT_EQ(flatten(b2[b]), flatten(a2)) << "sequence " << b;
      expectStatesEqual(batch.sequences[b], alone, 1e-300); // exact
    }
  }
}

TEST_P(ReferenceModel, RejectsBadIdsAndBatch) {
  const Config cfg = GetParam().make();
  const Model m = makeModel(cfg, 51);
  State st = m.newState(1);
  auto bad = m.forward(st, {{0, static_cast<int>(cfg.vocabSize)}});
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("outside the vocabulary"), std::string::npos);
  auto wrongBatch = m.forward(st, {{0}, {1}});
  ASSERT_FALSE(static_cast<bool>(wrongBatch));
  llvm::consumeError(wrongBatch.takeError());
}

/// The logits of one sequence recomputed from the weights map by upstream
/// name, following the block structure of §2.5 / §3.5 / §7.4 token by token,
/// with only the mixers taken from the model (they have their own hand tests).
/// Catches a tensor bound to the wrong role, a missing residual, a wrong eps.
Matrix composeByName(const Model &m, const Weights &w, const std::vector<int> &ids) {
  const Config &c = m.config();
  auto W = [&](const std::string &n) -> const std::vector<double> & { return w.at(n).data; };
  auto linear = [&](const std::string &n, const std::vector<double> &x) {
    const Tensor &t = w.at(n);
    std::vector<double> y(t.shape[0], 0.0);
    for (int64_t o = 0; o < t.shape[0]; ++o)
      for (int64_t i = 0; i < t.shape[1]; ++i)
        y[o] += t.data[o * t.shape[1] + i] * x[i];
    return y;
  };
  const bool backbone = c.family == Family::Llamba || c.family == Family::Mamba2;
  const std::string emb = backbone ? "backbone.embedding.weight" : "model.embed_tokens.weight";
  const std::string finalNorm = c.family == Family::Llamba   ? "backbone.final_layernorm.weight"
                                : c.family == Family::Mamba2 ? "backbone.norm_f.weight"
                                                             : "model.norm.weight";
  SequenceState st = m.newSequenceState();
  Matrix logits;
  for (size_t t = 0; t < ids.size(); ++t) {
    std::vector<double> h(W(emb).begin() + ids[t] * c.dModel, W(emb).begin() + (ids[t] + 1) * c.dModel);
    for (int64_t i = 0; i < c.nLayer; ++i) {
      const std::string lp = (backbone ? "backbone.layers." : "model.layers.") + std::to_string(i) + ".";
      const bool attn = c.family == Family::Llama || c.isAttentionLayer(i);
      const double eps = attn ? c.attnBlockNormEps : c.ssmBlockNormEps;
      const std::string norm1 = c.family == Family::Mamba2 ? "norm.weight" : "input_layernorm.weight";
      const std::vector<double> u = rmsNorm(h, W(lp + norm1), eps);
      const std::vector<double> mixed = m.runMixer(i, st.layers[i], static_cast<int64_t>(t), {u})[0];
      for (int64_t d = 0; d < c.dModel; ++d)
        h[d] += mixed[d];
      std::vector<double> mlpOut;
      if (c.family == Family::Mamba2) {
        if (c.gatedMlpSize == 0)
          continue;
        const std::vector<double> y = linear(lp + "mlp.fc1.weight", rmsNorm(h, W(lp + "norm2.weight"), eps));
        std::vector<double> hidden(c.gatedMlpSize);
        for (int64_t k = 0; k < c.gatedMlpSize; ++k)
          hidden[k] = y[k] * hSilu(y[c.gatedMlpSize + k]); // first half value, second half gate
        mlpOut = linear(lp + "mlp.fc2.weight", hidden);
      } else {
        const std::vector<double> v = rmsNorm(h, W(lp + "post_attention_layernorm.weight"), eps);
        std::vector<double> gate = linear(lp + "mlp.gate_proj.weight", v);
        const std::vector<double> up = linear(lp + "mlp.up_proj.weight", v);
        for (size_t k = 0; k < gate.size(); ++k)
          gate[k] = hSilu(gate[k]) * up[k];
        mlpOut = linear(lp + "mlp.down_proj.weight", gate);
      }
      for (int64_t d = 0; d < c.dModel; ++d)
        h[d] += mlpOut[d];
    }
    logits.push_back(linear(c.tieEmbeddings ? emb : "lm_head.weight", rmsNorm(h, W(finalNorm), c.finalNormEps)));
  }
  return logits;
}

TEST_P(ReferenceModel, BlockStructureByTensorName) {
  const Config cfg = GetParam().make();
  const Weights w = randomWeights(cfg, 61);
  const Model m = llvm::cantFail(Model::create(cfg, w));
  const std::vector<int> ids = randomIds(cfg, 6, 62);
  SequenceState st = m.newSequenceState();
  const Matrix got = m.forwardSequence(st, ids);
  const Matrix expected = composeByName(m, w, ids);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t t = 0; t < got.size(); ++t) {
    ASSERT_EQ(got[t].size(), static_cast<size_t>(cfg.vocabSize));
    EXPECT_LT(relativeError(got[t], expected[t]), 1e-13) << "token " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ReferenceModel, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<FamilyCase> &info) { return info.param.name; });

TEST(ReferenceModelErrors, MissingTensorAndWrongShapeAreNamed) {
  const Config cfg = tinyLlamba();
  Weights w = randomWeights(cfg, 3);
  Weights missing = w;
  missing.erase("backbone.layers.1.mixer.D");
  auto m1 = Model::create(cfg, missing);
  ASSERT_FALSE(static_cast<bool>(m1));
  const std::string e1 = llvm::toString(m1.takeError());
  EXPECT_NE(e1.find("missing tensor 'backbone.layers.1.mixer.D'"), std::string::npos) << e1;

  Weights wrong = w;
  wrong["backbone.layers.0.mixer.in_proj.weight"] = Tensor{{3, 8}, std::vector<double>(24, 0.0)};
  auto m2 = Model::create(cfg, wrong);
  ASSERT_FALSE(static_cast<bool>(m2));
  const std::string e2 = llvm::toString(m2.takeError());
  // in_proj rows = 2 * d_inner + 2 * G * N + H = 16 + 6 + 2 = 24.
  EXPECT_NE(e2.find("'backbone.layers.0.mixer.in_proj.weight' has shape [3, 8] but the model needs [24, 8]"),
            std::string::npos)
      << e2;
}

//===----------------------------------------------------------------------===//
// 3. Hand-computed cases
//===----------------------------------------------------------------------===//


TEST(ReferenceHand, SoftplusThresholdAndDecay) {
  // Identity above 20 (PyTorch threshold): exactly, not approximately.
  EXPECT_EQ(softplus(20.5), 20.5);
  EXPECT_EQ(softplus(25.0), 25.0);
  // At or below 20 the log form: log(1 + e^19.5) = 19.5 + log(1 + e^-19.5)
  //   = 19.5 + 3.3982678194950711e-09; the difference to 19.5 is resolved to
  //   about one ulp of 19.5 (3.6e-15), so compare with 1e-14.
  EXPECT_NEAR(softplus(19.5) - 19.5, 3.3982678194950711e-09, 1e-14);
  EXPECT_NEAR(softplus(20.0) - 20.0, 2.0611536224385579e-09, 1e-14);
  EXPECT_NE(softplus(20.0), 20.0);
  EXPECT_NEAR(softplus(0.0), 0.69314718055994531, 1e-16); // log 2
  // Discrete Mamba-2 decay exp(-softplus(α)) = 1 / (1 + e^α) = sigmoid(-α) (§2.6).
  for (double a : {-3.0, -0.5, 0.0, 1.25, 4.0})
    EXPECT_NEAR(std::exp(-softplus(a)), 1.0 / (1.0 + std::exp(a)), 1e-15) << a;
  EXPECT_NEAR(silu(1.0), 0.73105857863000490, 1e-16); // 1 / (1 + e^-1)
}

TEST(ReferenceHand, ConvShortSequenceAndState) {
  // C = 2 channels, W = 4, L = 2 < W: left zero padding.
  //   w[0] = [0.1, 0.2, 0.3, 0.4], w[1] = [1, -1, 2, -2], bias = [0.5, -0.25]
  //   inputs t0 = [1, 2], t1 = [3, 4]
  const Tensor w{{2, 1, 4}, {0.1, 0.2, 0.3, 0.4, 1, -1, 2, -2}};
  const Tensor b{{2}, {0.5, -0.25}};
  const Matrix in = {{1, 2}, {3, 4}};
  // out[c,t] = b + Σ_k w[c,k] in[c, t-3+k]:
  //   out[0][0] = 0.5 + 0.4*1 = 0.9           out[0][1] = -0.25 + (-2)*2 = -4.25
  //   out[1][0] = 0.5 + 0.3*1 + 0.4*3 = 2.0   out[1][1] = -0.25 + 2*2 + (-2)*4 = -4.25
  const Matrix expected = {{0.9, -4.25}, {2.0, -4.25}};
  // State: the last 4 inputs, left-padded: [0, 0, 1, 3] and [0, 0, 2, 4].
  const std::vector<double> expectedState = {0, 0, 1, 3, 0, 0, 2, 4};

  std::vector<double> seqState(8, 0.0);
  const Matrix seqOut = convSequence(seqState, w, b, in);
  std::vector<double> stepState(8, 0.0);
  Matrix stepOut;
  for (const auto &x : in)
    stepOut.push_back(convStep(stepState, w, b, x));
  for (int t = 0; t < 2; ++t)
    for (int c = 0; c < 2; ++c) {
      EXPECT_NEAR(seqOut[t][c], expected[t][c], kHandTol) << t << "," << c;
      EXPECT_NEAR(stepOut[t][c], expected[t][c], kHandTol) << t << "," << c;
    }
  EXPECT_EQ(seqState, expectedState);
  EXPECT_EQ(stepState, expectedState);

  // One more step, x = [5, 6]:
  //   out[0] = 0.5 + 0.2*1 + 0.3*3 + 0.4*5 = 3.6
  //   out[1] = -0.25 + (-1)*2 + 2*4 + (-2)*6 = -6.25
  //   state  = [0, 1, 3, 5], [0, 2, 4, 6]
  const std::vector<double> y = convStep(stepState, w, b, {5, 6});
  EXPECT_NEAR(y[0], 3.6, kHandTol);
  EXPECT_NEAR(y[1], -6.25, kHandTol);
  EXPECT_EQ(stepState, (std::vector<double>{0, 1, 3, 5, 0, 2, 4, 6}));
  // The sequence form continuing from a non-empty state gives the same.
  const Matrix cont = convSequence(seqState, w, b, {{5, 6}});
  EXPECT_NEAR(cont[0][0], 3.6, kHandTol);
  EXPECT_NEAR(cont[0][1], -6.25, kHandTol);
  EXPECT_EQ(seqState, stepState);
}

/// Sets column `col` of a (rows, 2) matrix.
void setColumn(Tensor &t, int col, const std::vector<double> &values) {
  for (size_t r = 0; r < values.size(); ++r)
    t.data[r * 2 + col] = values[r];
}

TEST(ReferenceHand, DiscreteMamba2TwoSteps) {
  // One Llamba mixer: D = d_inner = 2, H = 1, P = 2, N = 2, G = 1, W = 4.
  Config c;
  c.family = Family::Llamba;
  c.vocabSize = c.vocabSizeUnpadded = 2;
  c.dModel = 2;
  c.nLayer = 1;
  c.intermediateSize = 1;
  c.dInner = 2;
  c.nHeads = 1;
  c.headDim = 2;
  c.dState = 2;
  c.nGroups = 1;
  c.chunkSize = 2;
  Weights w = zeroWeights(c);
  const std::string mp = "backbone.layers.0.mixer.";
  // in_proj rows [x0 x1 B0 B1 C0 C1 | z0 z1 | α]; token 1 is u = (1, 0) and
  // reads column 0, token 2 is u = (0, 1) and reads column 1.
  Tensor &inProj = w[mp + "in_proj.weight"];
  setColumn(inProj, 0, {1, 2, 0.5, -1, 1, 0.25, 0.3, -0.6, 0.2});
  setColumn(inProj, 1, {-1, 0.5, 2, 1, -0.5, 1, 1, 0.4, -1});
  // Conv: every channel passes its current input (last tap 1); channel x0
  // also adds 0.5 x its previous input. No bias. Identity activation.
  Tensor &conv = w[mp + "conv1d.weight"];
  for (int ch = 0; ch < 6; ++ch)
    conv.data[ch * 4 + 3] = 1.0;
  conv.data[0 * 4 + 2] = 0.5;
  w[mp + "z_bias"].data = {0.1, 0.2};
  w[mp + "D"].data = {0.5};
  w[mp + "out_proj.weight"].data = {1, 0, 0, 1}; // identity
  const Model m = llvm::cantFail(Model::create(c, w));

  // Token 1: x = (1, 2), B = (0.5, -1), C = (1, 0.25), z = (0.3, -0.6), α = 0.2.
  //   a1 = exp(-softplus(0.2)) = 1 / (1 + e^0.2)
  //   S1 = x ⊗ B = [[0.5, -1], [1, -2]]
  //   y  = S1 C + D x = (0.5 - 0.25 + 0.5, 1 - 0.5 + 1) = (0.75, 1.5)
  //   out = y ⊙ silu(z + z_bias) = (0.75 silu(0.4), 1.5 silu(-0.4))
  const double out1[2] = {0.75 * hSilu(0.4), 1.5 * hSilu(-0.4)};
  // Token 2: conv x0 = -1 + 0.5*1 = -0.5, x1 = 0.5; B = (2, 1), C = (-0.5, 1),
  //   z = (1, 0.4), α = -1, a2 = 1 / (1 + e^-1).
  //   S2 = a2 S1 + x ⊗ B = [[0.5 a2 - 1, -a2 - 0.5], [a2 + 1, -2 a2 + 0.5]]
  //   y0 = (0.5 a2 - 1)(-0.5) + (-a2 - 0.5) + 0.5(-0.5) = -1.25 a2 - 0.25
  //   y1 = (a2 + 1)(-0.5) + (-2 a2 + 0.5) + 0.5(0.5)    = -2.5 a2 + 0.25
  //   out = (y0 silu(1.1), y1 silu(0.6))
  const double a2 = 1.0 / (1.0 + std::exp(-1.0));
  const double out2[2] = {(-1.25 * a2 - 0.25) * hSilu(1.1), (-2.5 * a2 + 0.25) * hSilu(0.6)};
  const std::vector<double> S2 = {0.5 * a2 - 1, -a2 - 0.5, a2 + 1, -2 * a2 + 0.5};

  for (ForwardOptions opts : {ForwardOptions{ScanMode::Recurrent, 0}, ForwardOptions{ScanMode::Chunked, 1},
                              ForwardOptions{ScanMode::Chunked, 2}, ForwardOptions{ScanMode::Chunked, 5}}) {
    LayerState st = m.newSequenceState().layers[0];
    const Matrix out = m.runMixer(0, st, 0, {{1, 0}, {0, 1}}, opts);
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(out[0][i], out1[i], kHandTol) << "token 1, channel " << i;
      EXPECT_NEAR(out[1][i], out2[i], kHandTol) << "token 2, channel " << i;
    }
    for (int i = 0; i < 4; ++i)
      EXPECT_NEAR(st.ssm[i], S2[i], kHandTol) << "state " << i;
    // Conv state of channel x0 after two tokens: [0, 0, 1, -1].
    EXPECT_EQ(std::vector<double>(st.conv.begin(), st.conv.begin() + 4), (std::vector<double>{0, 0, 1, -1}));
  }
}

TEST(ReferenceHand, Mamba2TwoStepsWithSoftplusThreshold) {
  // One Mamba-2 mixer: D = d_inner = 2 (expand 1), headdim 2 -> H = 1, N = 2,
  // ngroups 1, gated norm over both channels, eps 1e-5.
  Config c;
  c.family = Family::Mamba2;
  c.vocabSize = c.vocabSizeUnpadded = 2;
  c.dModel = 2;
  c.nLayer = 1;
  c.tieEmbeddings = true;
  c.dInner = 2;
  c.nHeads = 1;
  c.headDim = 2;
  c.dState = 2;
  c.nGroups = 1;
  c.normGroupSize = 2;
  c.chunkSize = 2;
  Weights w = zeroWeights(c);
  const std::string mp = "backbone.layers.0.mixer.";
  // in_proj rows [z0 z1 | x0 x1 B0 B1 C0 C1 | dt].
  Tensor &inProj = w[mp + "in_proj.weight"];
  setColumn(inProj, 0, {0.5, -1, 1, -2, 0.5, 1, 2, -1, 0.3});
  setColumn(inProj, 1, {2, 0.1, 0.5, 1, -1, 0.5, 1, 1, 20.0});
  Tensor &conv = w[mp + "conv1d.weight"];
  for (int ch = 0; ch < 6; ++ch)
    conv.data[ch * 4 + 3] = 1.0; // pass-through, then SiLU
  w[mp + "dt_bias"].data = {0.25};
  w[mp + "A_log"].data = {std::log(0.05)}; // A = -0.05
  w[mp + "D"].data = {0.5};
  w[mp + "norm.weight"].data = {1.5, 0.5};
  w[mp + "out_proj.weight"].data = {1, 0, 0, 1};
  const Model m = llvm::cantFail(Model::create(c, w));

  const double A = -0.05;
  // Token 1: x = silu(1, -2), B = silu(0.5, 1), C = silu(2, -1), z = (0.5, -1),
  //   Δ1 = softplus(0.3 + 0.25) = log(1 + e^0.55) (below the threshold),
  //   S1[p][n] = Δ1 x_p B_n (zero initial state), y_p = Σ_n S1[p][n] C_n + 0.5 x_p.
  const double x1[2] = {hSilu(1), hSilu(-2)}, B1[2] = {hSilu(0.5), hSilu(1)}, C1[2] = {hSilu(2), hSilu(-1)};
  const double z1[2] = {0.5, -1};
  const double d1 = hSoftplus(0.55);
  double S[2][2], y1[2];
  for (int p = 0; p < 2; ++p) {
    for (int n = 0; n < 2; ++n)
      S[p][n] = d1 * x1[p] * B1[n];
    y1[p] = S[p][0] * C1[0] + S[p][1] * C1[1] + 0.5 * x1[p];
  }
  // Token 2: dt + dt_bias = 20.0 + 0.25 = 20.25 > 20, so Δ2 = 20.25 exactly;
  //   a2 = exp(Δ2 A) = exp(-1.0125); S2 = a2 S1 + Δ2 x ⊗ B.
  const double x2[2] = {hSilu(0.5), hSilu(1)}, B2[2] = {hSilu(-1), hSilu(0.5)}, C2[2] = {hSilu(1), hSilu(1)};
  const double z2[2] = {2, 0.1};
  const double d2 = 20.25, a2 = std::exp(d2 * A);
  double y2[2];
  for (int p = 0; p < 2; ++p) {
    for (int n = 0; n < 2; ++n)
      S[p][n] = a2 * S[p][n] + d2 * x2[p] * B2[n];
    y2[p] = S[p][0] * C2[0] + S[p][1] * C2[1] + 0.5 * x2[p];
  }
  // Gated norm (norm_before_gate = False): v = y silu(z); v / sqrt(mean(v^2) + 1e-5) * w.
  auto gatedNorm = [](const double y[2], const double z[2]) {
    const double v0 = y[0] * hSilu(z[0]), v1 = y[1] * hSilu(z[1]);
    const double r = 1.0 / std::sqrt((v0 * v0 + v1 * v1) / 2.0 + 1e-5);
    return std::vector<double>{v0 * r * 1.5, v1 * r * 0.5};
  };
  const std::vector<double> out1 = gatedNorm(y1, z1), out2 = gatedNorm(y2, z2);

  for (ForwardOptions opts : {ForwardOptions{ScanMode::Recurrent, 0}, ForwardOptions{ScanMode::Chunked, 1},
                              ForwardOptions{ScanMode::Chunked, 2}, ForwardOptions{ScanMode::Chunked, 3}}) {
    LayerState st = m.newSequenceState().layers[0];
    const Matrix out = m.runMixer(0, st, 0, {{1, 0}, {0, 1}}, opts);
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(out[0][i], out1[i], kHandTol) << "token 1, channel " << i;
      EXPECT_NEAR(out[1][i], out2[i], kHandTol) << "token 2, channel " << i;
    }
    for (int p = 0; p < 2; ++p)
      for (int n = 0; n < 2; ++n)
        EXPECT_NEAR(st.ssm[p * 2 + n], S[p][n], kHandTol * 20) << "state " << p << "," << n;
  }
}

TEST(ReferenceHand, MambaInLlamaMixerGqaRepeat) {
  // One Mamba-in-the-Llama mixer (§3.5 steps 1-8): H = ngroups = 4 heads,
  // P = N = d_state = 2, d_inner = 8, d_xb = 4 -> G_kv = 2 x/B groups, r = 2:
  // heads 0, 1 read x/B group 0, heads 2, 3 read group 1; C is per head.
  // D = 28 and in_proj = identity on the first 28 inputs, so u is the
  // projection itself: u = [z (8) | x (4) | B (4) | C (8) | dt (4)].
  Config c;
  c.family = Family::MambaInLlama;
  c.vocabSize = c.vocabSizeUnpadded = 2;
  c.dModel = 28;
  c.nLayer = 1;
  c.intermediateSize = 1;
  c.dInner = 8;
  c.nHeads = 4;
  c.headDim = 2;
  c.dState = 2;
  c.nGroups = 4;
  c.dXB = 4;
  c.normGroupSize = 2;
  c.chunkSize = 4;
  Weights w = zeroWeights(c);
  const std::string mp = "model.layers.0.mamba.";
  Tensor &inProj = w[mp + "in_proj.weight"]; // (28, 28)
  for (int i = 0; i < 28; ++i)
    inProj.data[i * 28 + i] = 1.0;
  Tensor &conv = w[mp + "conv1d.weight"]; // (16, 1, 4), channels [x | B | C]
  for (int ch = 0; ch < 16; ++ch)
    conv.data[ch * 4 + 3] = 1.0; // pass-through, then SiLU
  w[mp + "dt_bias"].data = {0.1, -0.2, 0.3, 0.0};
  w[mp + "A_log"].data = {0.0, std::log(0.5), std::log(2.0), 0.0}; // A = -1, -0.5, -2, -1
  w[mp + "D"].data = {1.0, 0.5, -0.5, 2.0};
  w[mp + "norm.weight"].data = {1, 2, 3, 4, 5, 6, 7, 8};
  Tensor &outProj = w[mp + "out_proj.weight"]; // (28, 8): rows 0..7 identity
  for (int i = 0; i < 8; ++i)
    outProj.data[i * 8 + i] = 1.0;
  const Model m = llvm::cantFail(Model::create(c, w));

  const std::vector<double> u = {
      0.5, -1.0, 1.5, 0.25, -0.5, 2.0, 1.0, -1.5, // z, channel h*2 + p
      1.0, -2.0, 0.5, 3.0,                         // x: group 0 = (1, -2), group 1 = (0.5, 3)
      0.5, 1.0, -1.0, 2.0,                         // B: group 0 = (0.5, 1), group 1 = (-1, 2)
      2.0, -1.0, 1.0, 1.0, -0.5, 0.5, 1.5, -2.0,  // C: head h = (C[2h], C[2h+1])
      0.3, -1.0, 0.7, 25.0};                       // dt per head (head 3: 25 > 20, Δ = 25)
  const int kvGroup[4] = {0, 0, 1, 1}; // h / r with r = H / G_kv = 2
  const double dtBias[4] = {0.1, -0.2, 0.3, 0.0}, A[4] = {-1, -0.5, -2, -1}, Dskip[4] = {1, 0.5, -0.5, 2};
  // One token from a zero state, per head h (g = kvGroup[h]):
  //   x = silu(x_g), B = silu(B_g), C = silu(C_h), Δ = softplus(dt_h + dt_bias_h)
  //   S[p][n] = Δ x_p B_n;  y_p = Σ_n S[p][n] C_n + D_h x_p
  //   gated norm over the head's 2 channels: v = y silu(z); v / sqrt(mean(v^2) + 1e-5) * w
  std::vector<double> expected(8), expectedState(16);
  for (int h = 0; h < 4; ++h) {
    const int g = kvGroup[h];
    const double x[2] = {hSilu(u[8 + 2 * g]), hSilu(u[9 + 2 * g])};
    const double B[2] = {hSilu(u[12 + 2 * g]), hSilu(u[13 + 2 * g])};
    const double C[2] = {hSilu(u[16 + 2 * h]), hSilu(u[17 + 2 * h])};
    const double v = u[24 + h] + dtBias[h];
    const double delta = v > 20 ? v : hSoftplus(v);
    (void)A; // a zero initial state makes the decay exp(Δ A) irrelevant for one token
    double y[2];
    for (int p = 0; p < 2; ++p) {
      y[p] = Dskip[h] * x[p];
      for (int n = 0; n < 2; ++n) {
        expectedState[(h * 2 + p) * 2 + n] = delta * x[p] * B[n];
        y[p] += delta * x[p] * B[n] * C[n];
      }
    }
    const double v0 = y[0] * hSilu(u[2 * h]), v1 = y[1] * hSilu(u[2 * h + 1]);
    const double r = 1.0 / std::sqrt((v0 * v0 + v1 * v1) / 2 + 1e-5);
    expected[2 * h] = v0 * r * (2 * h + 1);
    expected[2 * h + 1] = v1 * r * (2 * h + 2);
  }
  // Second token: the decay. Same u again: S' = exp(Δ A) S + Δ x ⊗ B.
  std::vector<double> expectedState2(16);
  for (int h = 0; h < 4; ++h) {
    const double v = u[24 + h] + dtBias[h];
    const double delta = v > 20 ? v : hSoftplus(v);
    for (int i = 0; i < 4; ++i)
      expectedState2[h * 4 + i] = std::exp(delta * A[h]) * expectedState[h * 4 + i] + expectedState[h * 4 + i];
  }
  for (ForwardOptions opts : {ForwardOptions{ScanMode::Recurrent, 0}, ForwardOptions{ScanMode::Chunked, 1},
                              ForwardOptions{ScanMode::Chunked, 4}}) {
    LayerState st = m.newSequenceState().layers[0];
    const Matrix out = m.runMixer(0, st, 0, {u, u}, opts);
    for (int i = 0; i < 8; ++i)
      EXPECT_NEAR(out[0][i], expected[i], kHandTol) << "channel " << i;
    for (int i = 8; i < 28; ++i)
      EXPECT_EQ(out[0][i], 0.0);
    for (int i = 0; i < 16; ++i)
      EXPECT_NEAR(st.ssm[i], expectedState2[i], 1e-11) << "state " << i;
  }
}

TEST(ReferenceHand, RmsNorm) {
  // x = (3, 4): mean(x^2) = 12.5; w = (2, 0.5), eps = 0.5 -> divide by sqrt(13) = 3.6055...
  const std::vector<double> y = rmsNorm({3, 4}, {2, 0.5}, 0.5);
  EXPECT_NEAR(y[0], 6 / std::sqrt(13.0), kHandTol);
  EXPECT_NEAR(y[1], 2 / std::sqrt(13.0), kHandTol);
}

TEST(ReferenceHand, Llama3RopeFrequencies) {
  // θ = 500000, d = 8, factor 8, low_freq_factor 1, high_freq_factor 4,
  // original_max_position_embeddings 8192 -> low_wl = 8192, high_wl = 2048.
  RopeParams r;
  r.theta = 500000;
  r.llama3 = true;
  r.factor = 8;
  r.lowFreqFactor = 1;
  r.highFreqFactor = 4;
  r.originalMaxPositions = 8192;
  const std::vector<double> f = ropeFrequencies(r, 8);
  ASSERT_EQ(f.size(), 4u);
  const double pi = 3.14159265358979323846;
  // inv_i = 500000^(-i/4): 1, 0.0376060309..., 0.0014142135..., 5.3182958969...e-05
  // λ_i = 2π / inv_i:      6.28,  167.08,      4442.88,        118142.7
  const double inv1 = 1.0 / std::pow(500000.0, 0.25), inv2 = 1.0 / std::sqrt(500000.0);
  const double inv3 = 1.0 / std::pow(500000.0, 0.75);
  EXPECT_NEAR(inv1, 0.037606030930863936, 1e-17);
  // i = 0, 1: λ < 2048, unchanged.
  EXPECT_NEAR(f[0], 1.0, 1e-16);
  EXPECT_NEAR(f[1], inv1, 1e-17);
  // i = 2: 2048 <= λ2 = 2π·sqrt(500000) = 4442.8829... <= 8192, smoothed:
  //   s = (8192 / λ2 - 1) / (4 - 1) = 0.2812826...,  f = (1 - s) inv2 / 8 + s inv2.
  const double lambda2 = 2 * pi * std::sqrt(500000.0);
  const double s = (8192.0 / lambda2 - 1.0) / 3.0;
  EXPECT_NEAR(s, 0.28128260516325104, 1e-15);
  EXPECT_NEAR(f[2], (1 - s) * inv2 / 8 + s * inv2, 1e-18);
  // i = 3: λ > 8192, divided by the factor.
  EXPECT_NEAR(f[3], inv3 / 8, 1e-20);

  // Without llama3 scaling: plain θ^(-2i/d).
  r.llama3 = false;
  const std::vector<double> plain = ropeFrequencies(r, 8);
  EXPECT_NEAR(plain[2], inv2, 1e-18);
  EXPECT_NEAR(plain[3], inv3, 1e-20);
}

TEST(ReferenceHand, RopeRotateHalfPairing) {
  // d = 4: pairs (0, 2) and (1, 3); freqs (1, 0.01); position 3 -> angles 3, 0.03.
  std::vector<double> q = {1, 2, 3, 4};
  applyRope(q, 3, {1.0, 0.01});
  EXPECT_NEAR(q[0], 1 * std::cos(3.0) - 3 * std::sin(3.0), kHandTol);
  EXPECT_NEAR(q[2], 3 * std::cos(3.0) + 1 * std::sin(3.0), kHandTol);
  EXPECT_NEAR(q[1], 2 * std::cos(0.03) - 4 * std::sin(0.03), kHandTol);
  EXPECT_NEAR(q[3], 4 * std::cos(0.03) + 2 * std::sin(0.03), kHandTol);
}

Config oneAttentionLayer(int64_t heads, int64_t kvHeads, int64_t hd) {
  Config c;
  c.family = Family::Llama;
  c.vocabSize = c.vocabSizeUnpadded = 2;
  c.dModel = 2;
  c.nLayer = 1;
  c.intermediateSize = 1;
  c.nAttnHeads = heads;
  c.nKVHeads = kvHeads;
  c.attnHeadDim = hd;
  c.rope.theta = 10000; // hd = 2: a single frequency, 1
  c.attnLayers = {0};
  return c;
}

TEST(ReferenceHand, AttentionTwoPositionsWithCacheAndRope) {
  // Hq = 2, Hkv = 1 (both q heads read the one kv head), hd = 2, D = 2.
  const Config c = oneAttentionLayer(2, 1, 2);
  Weights w = zeroWeights(c);
  const std::string ap = "model.layers.0.self_attn.";
  w[ap + "q_proj.weight"].data = {1, 0, 0, 1, 2, 0, 0, -2}; // head0 = (u0, u1), head1 = (2u0, -2u1)
  w[ap + "k_proj.weight"].data = {0.5, 0, 0, 1};             // k = (0.5 u0, u1)
  w[ap + "v_proj.weight"].data = {1, 2, 3, 4};               // v = (u0 + 2u1, 3u0 + 4u1)
  w[ap + "o_proj.weight"].data = {1, 0, 1, 0, 0, 1, 0, 1};   // out = ctx_head0 + ctx_head1
  const Model m = llvm::cantFail(Model::create(c, w));
  LayerState st;
  const Matrix out = m.runMixer(0, st, 0, {{1, 0}, {0, 1}});
  // Position 0 (no rotation): one key, softmax = 1, ctx = v = (1, 3) for both heads.
  EXPECT_NEAR(out[0][0], 2.0, kHandTol);
  EXPECT_NEAR(out[0][1], 6.0, kHandTol);
  // Position 1, angle 1, rotate (a, b) -> (a cos1 - b sin1, b cos1 + a sin1):
  //   q0 = (0, 1) -> (-s, c); q1 = (0, -2) -> (2s, -2c); k1 = (0, 1) -> (-s, c);
  //   cached k0 = (0.5, 0) (rotated at position 0, unchanged); v0 = (1, 3), v1 = (2, 4).
  //   scores before the 1/sqrt(2) scale, (q·k0, q·k1): head0 (-0.5 s, 1), head1 (s, -2).
  const double sn = std::sin(1.0), sc = 1 / std::sqrt(2.0);
  auto ctx = [&](double s0, double s1, int d) {
    const double e0 = std::exp(s0 * sc), e1 = std::exp(s1 * sc);
    const double v0[2] = {1, 3}, v1[2] = {2, 4};
    return (e0 * v0[d] + e1 * v1[d]) / (e0 + e1);
  };
  for (int d = 0; d < 2; ++d)
    EXPECT_NEAR(out[1][d], ctx(-0.5 * sn, 1, d) + ctx(sn, -2, d), kHandTol) << d;
  // The cache holds post-RoPE keys.
  ASSERT_EQ(st.keys.size(), 2u);
  EXPECT_NEAR(st.keys[1][0], -sn, kHandTol);
  EXPECT_NEAR(st.keys[1][1], std::cos(1.0), kHandTol);
}

TEST(ReferenceHand, GqaHeadToKvHeadMapping) {
  // Hq = 4, Hkv = 2, hd = 2: q heads 0,1 read kv head 0, heads 2,3 read kv head 1
  // (contiguous, repeat_interleave). One token: softmax over one key, ctx_h = v_{kv(h)}.
  const Config c = oneAttentionLayer(4, 2, 2);
  Weights w = zeroWeights(c);
  const std::string ap = "model.layers.0.self_attn.";
  w[ap + "v_proj.weight"].data = {1, 0, 1, 0, 2, 0, 2, 0}; // u = (1, 0): v_kv0 = (1, 1), v_kv1 = (2, 2)
  Tensor &o = w[ap + "o_proj.weight"];                       // (2, 8)
  o.data[0 * 8 + 2] = 1;                                     // out0 = ctx_head1[0]
  o.data[1 * 8 + 4] = 1;                                     // out1 = ctx_head2[0]
  const Model m = llvm::cantFail(Model::create(c, w));
  LayerState st;
  const Matrix out = m.runMixer(0, st, 0, {{1, 0}});
  EXPECT_NEAR(out[0][0], 1.0, kHandTol); // head 1 -> kv 0
  EXPECT_NEAR(out[0][1], 2.0, kHandTol); // head 2 -> kv 1
}

TEST(ReferenceHand, GatedRmsNormGroups) {
  // Two groups of 2, eps = 0, y = (1, 2, 3, 4), the same gate z = 30 on every
  // channel (g = silu(30)), w = (1, 1, 2, 2). v = g y; the common factor g
  // cancels inside each group:
  //   group 0: v = g (1, 2), rms = g sqrt((1 + 4) / 2)  -> (1, 2) / sqrt(2.5)
  //   group 1: v = g (3, 4), rms = g sqrt((9 + 16) / 2) -> 2 (3, 4) / sqrt(12.5)
  // (One norm over all four channels would give (1, 2, 6, 8) / sqrt(7.5) instead.)
  const std::vector<double> out = gatedRmsNorm({1, 2, 3, 4}, {30, 30, 30, 30}, {1, 1, 2, 2}, 2, 0.0);
  EXPECT_NEAR(out[0], 1 / std::sqrt(2.5), kHandTol);
  EXPECT_NEAR(out[1], 2 / std::sqrt(2.5), kHandTol);
  EXPECT_NEAR(out[2], 6 / std::sqrt(12.5), kHandTol);
  EXPECT_NEAR(out[3], 8 / std::sqrt(12.5), kHandTol);
}

//===----------------------------------------------------------------------===//
// Config parsing of the published configs (§2.2, §3.2, §7.2) against the
// spec's derived sizes (§2.3, §3.3, §7.3)
//===----------------------------------------------------------------------===//

int64_t paramCount(const Config &c) {
  int64_t n = 0;
  for (const auto &entry : Model::tensorList(c)) {
    int64_t e = 1;
    for (int64_t d : entry.second)
      e *= d;
    n += e;
  }
  return n;
}

const char *kLlamba3B = R"({"model_type": "llamba", "vocab_size": 128256, "tie_embeddings": true,
 "pad_vocab_size_multiple": 8, "lm_head_bias": false, "d_model": 3072, "n_layer": 28,
 "resid_dropout": 0.0, "norm_epsilon": 1e-5,
 "mlp_cfg": {"intermediate_size": 8192, "bias": false, "act_fn": "silu"},
 "ssm_cfg": {"d_state": 64, "n_v_heads": 32, "n_qk_heads": 32, "expand": 1, "chunk_size": 128,
             "activation": "identity", "bias": false}})";

TEST(ReferenceConfig, Llamba3B) {
  Config c = llvm::cantFail(parseConfig(kLlamba3B, ""));
  EXPECT_EQ(c.family, Family::Llamba);
  EXPECT_EQ(c.vocabSize, 128256);
  EXPECT_EQ(c.headDim, 96);
  EXPECT_EQ(c.convChannels(), 7168);
  EXPECT_EQ(c.inProjRows(), 10272);
  EXPECT_TRUE(c.tieEmbeddings);
  EXPECT_EQ(c.chunkSize, 128);
  EXPECT_EQ(paramCount(c), 3656994688); // §2.3, tied
  // Llamba-1B and -8B shapes (§2.3): only d_model / n_layer / intermediate differ.
  std::string oneB = kLlamba3B;
  oneB.replace(oneB.find("3072"), 4, "2048");
  oneB.replace(oneB.find("\"n_layer\": 28"), 13, "\"n_layer\": 16");
  Config c1 = llvm::cantFail(parseConfig(oneB, ""));
  EXPECT_EQ(c1.headDim, 64);
  EXPECT_EQ(c1.inProjRows(), 8224);
  EXPECT_EQ(paramCount(c1), 1405159936);
  c1.tieEmbeddings = false;
  EXPECT_EQ(paramCount(c1), 1667828224);
}

TEST(ReferenceConfig, Mamba2_130m) {
  const char *text = R"({"d_model": 768, "d_intermediate": 0, "n_layer": 24, "vocab_size": 50277,
   "ssm_cfg": {"layer": "Mamba2"}, "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": true,
   "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 16, "tie_embeddings": true})";
  Config c = llvm::cantFail(parseConfig(text, ""));
  EXPECT_EQ(c.family, Family::Mamba2);
  EXPECT_EQ(c.vocabSize, 50288);
  EXPECT_EQ(c.vocabSizeUnpadded, 50277);
  EXPECT_EQ(c.nHeads, 24);
  EXPECT_EQ(c.headDim, 64);
  EXPECT_EQ(c.dState, 128);
  EXPECT_EQ(c.inProjRows(), 3352);
  EXPECT_EQ(c.convChannels(), 1792);
  EXPECT_EQ(c.normGroupSize, 1536);
  EXPECT_EQ(c.gatedMlpSize, 0);
  EXPECT_EQ(paramCount(c), 128989632); // §7.3
}

const char *kLlama32_3B = R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
 "vocab_size": 128256, "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 28,
 "num_attention_heads": 24, "num_key_value_heads": 8, "head_dim": 128, "rms_norm_eps": 1e-05,
 "rope_theta": 500000.0, "max_position_embeddings": 131072, "tie_word_embeddings": true,
 "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
 "hidden_act": "silu", "attention_bias": false, "mlp_bias": false, "bos_token_id": 128000})";

TEST(ReferenceConfig, MambaInLlama3B) {
  const char *mamba = R"({"d_model": 3072, "ssm_cfg": {"expand": 1, "ngroups": 24, "d_state": 128},
   "rms_norm_eps": 1e-05, "vocab_size": null, "d_inner": 3072, "d_xb": 1024, "intermediate_size": 8192,
   "hidden_act": "silu", "n_layer": 28, "attn_layers": [1,3,5,7,9,11,13,15,17,19,21,23,25,27]})";
  Config c = llvm::cantFail(parseConfig(kLlama32_3B, mamba));
  EXPECT_EQ(c.family, Family::MambaInLlama);
  EXPECT_EQ(c.nHeads, 24);
  EXPECT_EQ(c.headDim, 128);
  EXPECT_EQ(c.bGroups(), 8);
  EXPECT_EQ(c.cGroups(), 24);
  EXPECT_EQ(c.inProjRows(), 8216);
  EXPECT_EQ(c.convChannels(), 5120);
  EXPECT_EQ(c.attnLayers.size(), 14u);
  EXPECT_TRUE(c.rope.llama3);
  EXPECT_EQ(c.rope.factor, 32.0);
  EXPECT_EQ(paramCount(c), 3346305008); // §3.3
}

TEST(ReferenceConfig, MambaInLlama8BAndLlama8B) {
  std::string llama8 = kLlama32_3B;
  auto set = [&](const std::string &from, const std::string &to) { llama8.replace(llama8.find(from), from.size(), to); };
  set("\"hidden_size\": 3072", "\"hidden_size\": 4096");
  set("\"intermediate_size\": 8192", "\"intermediate_size\": 14336");
  set("\"num_hidden_layers\": 28", "\"num_hidden_layers\": 32");
  set("\"num_attention_heads\": 24", "\"num_attention_heads\": 32");
  set("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
  set("\"factor\": 32.0", "\"factor\": 8.0");
  // §5 item 9 (derived mamba_config of Llama3.1-Mamba2-8B-distill).
  const char *mamba = R"({"d_model":4096,"ssm_cfg":{"expand":1,"ngroups":32,"d_state":128},"rms_norm_eps":1e-05,
   "vocab_size":null,"d_inner":4096,"d_xb":1024,"intermediate_size":14336,"hidden_act":"silu","n_layer":32,
   "attn_layers":[1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31]})";
  Config hybrid = llvm::cantFail(parseConfig(llama8, mamba));
  EXPECT_EQ(hybrid.inProjRows(), 10272);
  EXPECT_EQ(hybrid.convChannels(), 6144);
  EXPECT_EQ(paramCount(hybrid), 8301352448); // §3.3
  Config llama = llvm::cantFail(parseConfig(llama8, ""));
  EXPECT_EQ(llama.family, Family::Llama);
  EXPECT_EQ(llama.attnLayers.size(), 32u);
  EXPECT_EQ(llama.rope.factor, 8.0);
  EXPECT_EQ(llama.nKVHeads, 8);
  EXPECT_EQ(paramCount(llama), 8030261248); // Llama-3.1-8B
}

TEST(ReferenceConfig, ErrorsNameTheKey) {
  auto expectError = [](llvm::Expected<Config> c, const std::string &needle) {
    ASSERT_FALSE(static_cast<bool>(c));
    const std::string msg = llvm::toString(c.takeError());
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  };
  expectError(parseConfig(R"({"d_model": 768, "ssm_cfg": {}})", ""), "Mamba1");
  expectError(parseConfig(R"({"model_type": "llamba", "vocab_size": 10})", ""), "missing key 'd_model'");
  expectError(parseConfig(R"({"model_type": "gpt2"})", ""), "unsupported model_type 'gpt2'");
  expectError(parseConfig("{not json", ""), "malformed JSON");
  expectError(parseConfig(kLlama32_3B, R"({"d_model": 3072, "n_layer": 28, "d_inner": 3000, "d_xb": 1024,
                                          "ssm_cfg": {"ngroups": 24, "d_state": 128}})"),
              "d_inner must equal");
}

} // namespace
