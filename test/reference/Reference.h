//===- Reference.h - Independent double-precision reference models -------===//
//
// The reference implementation every compiled result is checked against
// (../shared/spec/models.md). It shares no code with the compiler: no MLIR,
// nothing from frontends/hf, passes/ or targets/. It reads config.json itself,
// hard-codes the upstream tensor names itself, and does all arithmetic in
// double precision.
//
// Numerics: the reference models exact-arithmetic semantics. The upstream
// implementations differ in where they round to bf16/fp16/fp32 (HF vs Triton
// RMSNorm order, residual_in_fp32, bf16 chunk-entering states, x/Δ·Δ in
// Llamba, ...; spec §1.2, §2.8, §3.7, §7.4). In double precision those orders
// coincide, so each formula is implemented once; the effect of the dtype
// rounding is the compiler's tolerance budget, not something modelled here.
//
// Families (spec section):
//   Llamba        Discrete Mamba-2 mixer + SwiGLU MLP          (§2.5, §2.7)
//   Mamba2        state-spaces Mamba-2 LM, one norm per block   (§1.8, §7.4, §7.5)
//   MambaInLlama  Llama with some layers' attention replaced by the
//                 GQA-shaped Mamba-2 mixer                      (§3.5, §3.6)
//   Llama         stock Llama-3 attention                       (§3.5)
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TEST_REFERENCE_REFERENCE_H
#define SSMC_TEST_REFERENCE_REFERENCE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ssmc::ref {

//===----------------------------------------------------------------------===//
// Configuration (the reference's own reading of config.json)
//===----------------------------------------------------------------------===//

enum class Family { Llamba, Mamba2, MambaInLlama, Llama };
/// "llamba", "mamba2", "mamba_in_llama", "llama".
llvm::StringRef familyName(Family f);

/// Rotary embedding of attention layers (§3.5).
struct RopeParams {
  double theta = 10000.0;
  bool llama3 = false; ///< rope_scaling.rope_type == "llama3"
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  double originalMaxPositions = 8192.0;
};

struct Config {
  Family family = Family::Llamba;

  // --- whole model ---
  int64_t vocabSize = 0;         ///< rows of the embedding and the head (padded where the family pads)
  int64_t vocabSizeUnpadded = 0; ///< config "vocab_size"; greedy decoding only picks ids below it
  int64_t dModel = 0;            ///< D
  int64_t nLayer = 0;
  bool tieEmbeddings = false;    ///< head = embedding
  double finalNormEps = 1e-5;
  double ssmBlockNormEps = 1e-5;  ///< norms of blocks whose mixer is an SSM
  double attnBlockNormEps = 1e-5; ///< norms of blocks whose mixer is attention
  /// SwiGLU MLP width I (Llamba, MambaInLlama, Llama); 0 = none.
  int64_t intermediateSize = 0;
  /// Mamba-2 LM GatedMLP width (d_intermediate rounded up to 128, §7.3); 0 = none.
  int64_t gatedMlpSize = 0;

  // --- SSM mixer (Llamba, Mamba2, MambaInLlama) ---
  int64_t dInner = 0;   ///< H * P, width of the gate z and of y
  int64_t nHeads = 0;   ///< H
  int64_t headDim = 0;  ///< P
  int64_t dState = 0;   ///< N
  /// B/C groups: Llamba n_qk_heads, Mamba2 ngroups (B and C). MambaInLlama:
  /// ngroups = H is the number of C groups; B and x have dXB / N groups.
  int64_t nGroups = 0;
  int64_t dXB = 0;      ///< MambaInLlama only: width of x and of B
  int64_t convWidth = 4; ///< W
  bool convBias = true;
  int64_t chunkSize = 256;     ///< default chunk length Q of the chunked scan
  int64_t normGroupSize = 0;   ///< gated RMSNorm group (Mamba2, MambaInLlama)
  double mixerNormEps = 1e-5;  ///< gated RMSNorm eps (hard-coded upstream)

  // --- attention (MambaInLlama attention layers, Llama) ---
  int64_t nAttnHeads = 0; ///< Hq
  int64_t nKVHeads = 0;   ///< Hkv
  int64_t attnHeadDim = 0;
  RopeParams rope;
  std::vector<int64_t> attnLayers; ///< layer indices whose mixer is attention

  bool isAttentionLayer(int64_t layer) const;
  /// Channels of the SSM depthwise conv ([x | B | C]).
  int64_t convChannels() const;
  /// Rows of the SSM in_proj weight.
  int64_t inProjRows() const;
  /// Groups of B (head h reads group h / (H / bGroups)).
  int64_t bGroups() const;
  /// Groups of C.
  int64_t cGroups() const;
};

/// Parses config.json (and, for MambaInLlama, mamba_config.json) given as
/// text. `mambaConfigJson` empty means the file does not exist. Family
/// detection: mamba_config.json present -> MambaInLlama; model_type "llamba"
/// -> Llamba; model_type "llama" -> Llama; no model_type and
/// ssm_cfg.layer == "Mamba2" -> Mamba2. Errors name `where` and the key.
llvm::Expected<Config> parseConfig(llvm::StringRef configJson, llvm::StringRef mambaConfigJson,
                                   llvm::StringRef where = "config.json");
/// Reads `dir`/config.json and, if present, `dir`/mamba_config.json.
llvm::Expected<Config> parseConfigDir(llvm::StringRef dir);
/// Checks the structural invariants the model code relies on (widths divide).
llvm::Error validateConfig(const Config &cfg);

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data; ///< row-major
  int64_t numElements() const;
};
/// Upstream tensor name -> tensor.
using Weights = std::map<std::string, Tensor>;
/// "[a, b, c]".
std::string shapeString(llvm::ArrayRef<int64_t> shape);

/// Supplies the tensor called `name`, which the model needs with `shape`.
/// The reference checks the returned shape itself, so a source may return
/// whatever it has.
using TensorSource =
    llvm::function_ref<llvm::Expected<Tensor>(llvm::StringRef name, llvm::ArrayRef<int64_t> shape)>;

//===----------------------------------------------------------------------===//
// Building blocks (exposed for the self-tests)
//===----------------------------------------------------------------------===//

/// log(1 + exp(v)), identity for v > 20 (PyTorch threshold, spec notation table).
double softplus(double v);
double sigmoid(double v);
double silu(double v); ///< v * sigmoid(v)

/// RMSNorm (§1.2): w * x / sqrt(mean(x^2) + eps).
std::vector<double> rmsNorm(llvm::ArrayRef<double> x, llvm::ArrayRef<double> w, double eps);
/// Gated grouped RMSNorm with norm_before_gate = False (§1.2): v = y * silu(z);
/// each contiguous group of `groupSize` channels is divided by
/// sqrt(mean(v_g^2) + eps); then multiplied by w.
std::vector<double> gatedRmsNorm(llvm::ArrayRef<double> y, llvm::ArrayRef<double> z,
                                 llvm::ArrayRef<double> w, int64_t groupSize, double eps);

/// The per-pair rotary frequencies f_i, i = 0 .. headDim/2 - 1, including the
/// llama3 rule when rope.llama3 (§3.5).
std::vector<double> ropeFrequencies(const RopeParams &rope, int64_t headDim);
/// Rotates one head vector in place for absolute position `position`,
/// rotate_half pairing (i, i + d/2) (§3.5).
void applyRope(llvm::MutableArrayRef<double> head, int64_t position, llvm::ArrayRef<double> freqs);

/// Causal depthwise conv (§1.4). `weight` has shape (C, 1, W) (or (C, W)),
/// `bias` shape (C); `state` is (C, W) row-major, the last W pre-conv inputs,
/// oldest at index 0. No activation is applied.
/// Decode step: shift the state left, append `x`, return bias + Σ_k state[:,k] w[:,k].
std::vector<double> convStep(std::vector<double> &state, const Tensor &weight, const Tensor &bias,
                             llvm::ArrayRef<double> x);
/// Sequence form: out[t][c] = bias[c] + Σ_k w[c,k] in[t-(W-1)+k], where inputs
/// before t = 0 are the ones held in `state` (zeros for a fresh state, i.e. left
/// zero padding). Leaves the last W inputs in `state`.
std::vector<std::vector<double>> convSequence(std::vector<double> &state, const Tensor &weight,
                                              const Tensor &bias,
                                              const std::vector<std::vector<double>> &inputs);

/// One SSD scan problem for one sequence (§1.5): per head h and step t,
///   S_h <- exp(logA[t,h]) S_h + x[t,h,:] ⊗ B[t, h / (H / bGroups), :]
///   y[t,h,:] = S_h · C[t, h / (H / cGroups), :]
/// x is the already-scaled input x̃ (Δ·x for Mamba-2, x for Llamba); the D skip
/// and gating are the caller's.
struct ScanProblem {
  int64_t length = 0;   ///< L
  int64_t heads = 0;    ///< H
  int64_t headDim = 0;  ///< P
  int64_t stateDim = 0; ///< N
  int64_t bGroups = 1;
  int64_t cGroups = 1;
  std::vector<double> x;    ///< (L, H, P)
  std::vector<double> logA; ///< (L, H): log of the per-step decay a_t
  std::vector<double> B;    ///< (L, bGroups, N)
  std::vector<double> C;    ///< (L, cGroups, N)
};
struct ScanResult {
  std::vector<double> y;          ///< (L, H, P)
  std::vector<double> finalState; ///< (H, P, N)
};
/// The recurrence of §1.5, step by step. `initialState` (H, P, N) or empty for zeros.
ScanResult scanRecurrent(const ScanProblem &p, llvm::ArrayRef<double> initialState = {});
/// The chunked SSD algorithm of §1.6 (steps 0-5, segsum), chunk length `chunkLen`,
/// L padded with zeros to a multiple of it.
ScanResult scanChunked(const ScanProblem &p, int64_t chunkLen, llvm::ArrayRef<double> initialState = {});

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

enum class ScanMode {
  Recurrent, ///< token by token: conv step (§1.4) + recurrence (§1.5/§1.7)
  Chunked    ///< per call: sequence conv + chunked SSD (§1.6) from the current state
};
struct ForwardOptions {
  ScanMode mode = ScanMode::Recurrent;
  int64_t chunkSize = 0; ///< Q for ScanMode::Chunked; 0 = Config::chunkSize
};

/// Recurrent state of one layer of one sequence.
struct LayerState {
  std::vector<double> conv; ///< SSM layers: (C, W), last W pre-conv inputs, oldest first
  std::vector<double> ssm;  ///< SSM layers: (H, P, N)
  /// Attention layers: one entry per processed position, post-RoPE K and V, (Hkv, hd).
  std::vector<std::vector<double>> keys, values;
};
struct SequenceState {
  int64_t position = 0; ///< tokens processed so far
  std::vector<LayerState> layers;
};
struct State {
  std::vector<SequenceState> sequences;
};

/// Rows of vectors: [t][channel].
using Matrix = std::vector<std::vector<double>>;

class Model {
public:
  /// Builds the model, asking `source` for every upstream tensor by name.
  /// Fails on a missing tensor or a wrong shape (naming the tensor and both shapes).
  static llvm::Expected<Model> create(const Config &cfg, TensorSource source);
  /// Same, from an in-memory name -> tensor map (extra entries are ignored).
  static llvm::Expected<Model> create(const Config &cfg, const Weights &weights);

  const Config &config() const { return cfg; }

  /// The upstream tensor names and shapes this config needs, in model order
  /// (allocates nothing, so real-size configs are fine).
  static std::vector<std::pair<std::string, std::vector<int64_t>>> tensorList(const Config &cfg);

  State newState(int64_t batch) const;
  SequenceState newSequenceState() const;

  /// Runs ids[b] (a chunk of tokens, lengths may differ, may be empty) through
  /// sequence b starting from state.sequences[b] and advances that state.
  /// Returns logits[b][t][vocabSize]. Fails on a token id out of range or a
  /// batch size different from the state's.
  llvm::Expected<std::vector<Matrix>> forward(State &state, const std::vector<std::vector<int>> &ids,
                                              const ForwardOptions &opts = {}) const;
  /// One sequence; ids must be in range.
  Matrix forwardSequence(SequenceState &seq, llvm::ArrayRef<int> ids, const ForwardOptions &opts = {}) const;

  /// Runs only the mixer (SSM or attention) of `layer` on the rows `u`
  /// (inputs after the block norm) starting at absolute position `position`.
  /// Exposed so the self-tests can check the mixers on hand-computed inputs.
  Matrix runMixer(int64_t layer, LayerState &st, int64_t position, const Matrix &u,
                  const ForwardOptions &opts = {}) const;

  /// Index of the largest logit among the first vocabSizeUnpadded (first one on ties).
  int64_t greedyToken(llvm::ArrayRef<double> logits) const;

private:
  struct SsmWeights {
    Tensor inProj, convWeight, convBias, zBias, D, dtBias, ALog, normWeight, outProj;
  };
  struct AttnWeights {
    Tensor q, k, v, o;
  };
  struct LayerWeights {
    bool attention = false;
    Tensor norm1, norm2; ///< norm2 empty when the block has no MLP
    SsmWeights ssm;
    AttnWeights attn;
    Tensor mlpGate, mlpUp, mlpDown; ///< SwiGLU (§1.3)
    Tensor fc1, fc2;                ///< Mamba-2 LM GatedMLP (§7.3)
  };

  Model() = default;
  /// Asks `source` for every tensor; `shapesOnly` checks names and shapes
  /// without keeping data (tensorList).
  static llvm::Error build(Model &m, TensorSource source, bool shapesOnly = false);

  Matrix ssmMixer(int64_t layer, LayerState &st, const Matrix &u, const ForwardOptions &opts) const;
  std::vector<double> attentionStep(int64_t layer, LayerState &st, int64_t position,
                                    llvm::ArrayRef<double> u) const;
  std::vector<double> mlp(const LayerWeights &lw, llvm::ArrayRef<double> u) const;

  Config cfg;
  Tensor embedding, finalNorm, lmHead;
  std::vector<LayerWeights> layers;
  std::vector<double> ropeFreqs;
};

/// Largest |a_i - b_i| divided by the largest |b_i| (0 when both are all zero).
double relativeError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b);

} // namespace ssmc::ref

#endif // SSMC_TEST_REFERENCE_REFERENCE_H
