//===- Reference.cpp - Independent double-precision reference models -----===//
//
// Plain loops, double precision everywhere, one function per formula of
// ../shared/spec/models.md. Speed is not a goal: the reference runs tiny and
// small models only.
//
//===----------------------------------------------------------------------===//

#include "test/reference/Reference.h"

#include "llvm/ADT/Twine.h"

#include <cassert>
#include <cmath>
#include <limits>

using namespace ssmc::ref;
using llvm::ArrayRef;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string ssmc::ref::shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

double ssmc::ref::relativeError(ArrayRef<double> a, ArrayRef<double> b) {
  if (a.size() != b.size())
    return std::numeric_limits<double>::infinity();
  double maxDiff = 0, maxRef = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    maxDiff = std::max(maxDiff, std::fabs(a[i] - b[i]));
    maxRef = std::max(maxRef, std::fabs(b[i]));
  }
  if (std::isnan(maxDiff))
    return std::numeric_limits<double>::infinity();
  if (maxRef == 0)
    return maxDiff == 0 ? 0 : std::numeric_limits<double>::infinity();
  return maxDiff / maxRef;
}

namespace {

Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg.str());
}

/// y = W x for a PyTorch Linear weight W of shape (out, in) (spec notation table).
std::vector<double> matvec(const Tensor &w, ArrayRef<double> x) {
  assert(w.shape.size() == 2 && static_cast<int64_t>(x.size()) == w.shape[1]);
  const int64_t out = w.shape[0], in = w.shape[1];
  std::vector<double> y(out, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    double acc = 0;
    for (int64_t i = 0; i < in; ++i)
      acc += w.data[o * in + i] * x[i];
    y[o] = acc;
  }
  return y;
}

/// Copy of x[begin, begin + n).
std::vector<double> slice(ArrayRef<double> x, int64_t begin, int64_t n) {
  return std::vector<double>(x.begin() + begin, x.begin() + begin + n);
}

} // namespace

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

double ssmc::ref::softplus(double v) { return v > 20.0 ? v : std::log1p(std::exp(v)); }
double ssmc::ref::sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double ssmc::ref::silu(double v) { return v * sigmoid(v); }

std::vector<double> ssmc::ref::rmsNorm(ArrayRef<double> x, ArrayRef<double> w, double eps) {
  double sumSq = 0;
  for (double v : x)
    sumSq += v * v;
  const double scale = 1.0 / std::sqrt(sumSq / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = w[i] * (x[i] * scale);
  return y;
}

std::vector<double> ssmc::ref::gatedRmsNorm(ArrayRef<double> y, ArrayRef<double> z, ArrayRef<double> w,
                                             int64_t groupSize, double eps) {
  const int64_t n = static_cast<int64_t>(y.size());
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i)
    v[i] = y[i] * silu(z[i]); // norm_before_gate = False: gate first
  std::vector<double> out(n);
  for (int64_t g = 0; g < n / groupSize; ++g) {
    double sumSq = 0;
    for (int64_t i = g * groupSize; i < (g + 1) * groupSize; ++i)
      sumSq += v[i] * v[i];
    const double scale = 1.0 / std::sqrt(sumSq / static_cast<double>(groupSize) + eps);
    for (int64_t i = g * groupSize; i < (g + 1) * groupSize; ++i)
      out[i] = v[i] * scale * w[i];
  }
  return out;
}

std::vector<double> ssmc::ref::ropeFrequencies(const RopeParams &rope, int64_t headDim) {
  const double pi = 3.14159265358979323846;
  std::vector<double> freqs(headDim / 2);
  for (int64_t i = 0; i < headDim / 2; ++i) {
    // inv_freq_i = θ^(-2i/d)
    const double invFreq = 1.0 / std::pow(rope.theta, static_cast<double>(2 * i) / static_cast<double>(headDim));
    double f = invFreq;
    if (rope.llama3) {
      // §3.5 llama3 rule: keep high frequencies, divide low ones by `factor`,
      // interpolate linearly (in 1/λ) between.
      const double wavelen = 2.0 * pi / invFreq;
      const double lowWavelen = rope.originalMaxPositions / rope.lowFreqFactor;
      const double highWavelen = rope.originalMaxPositions / rope.highFreqFactor;
      if (wavelen < highWavelen) {
        f = invFreq;
      } else if (wavelen > lowWavelen) {
        f = invFreq / rope.factor;
      } else {
        const double s = (rope.originalMaxPositions / wavelen - rope.lowFreqFactor) /
                         (rope.highFreqFactor - rope.lowFreqFactor);
        f = (1.0 - s) * invFreq / rope.factor + s * invFreq;
      }
    }
    freqs[i] = f;
  }
  return freqs;
}

void ssmc::ref::applyRope(llvm::MutableArrayRef<double> head, int64_t position, ArrayRef<double> freqs) {
  const size_t half = head.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(position) * freqs[i];
    const double c = std::cos(angle), s = std::sin(angle);
    const double a = head[i], b = head[i + half];
    head[i] = a * c - b * s;        // q'_i       = q_i cos − q_{i+d/2} sin
    head[i + half] = b * c + a * s; // q'_{i+d/2} = q_{i+d/2} cos + q_i sin
  }
}

std::vector<double> ssmc::ref::convStep(std::vector<double> &state, const Tensor &weight, const Tensor &bias,
                                        ArrayRef<double> x) {
  const int64_t C = static_cast<int64_t>(x.size());
  const int64_t W = weight.numElements() / C;
  std::vector<double> out(C);
  for (int64_t c = 0; c < C; ++c) {
    double *s = &state[c * W];
    for (int64_t k = 0; k + 1 < W; ++k) // S <- concat(S[:, 1:], x_t)
      s[k] = s[k + 1];
    s[W - 1] = x[c];
    double acc = bias.data.empty() ? 0.0 : bias.data[c];
    for (int64_t k = 0; k < W; ++k)
      acc += s[k] * weight.data[c * W + k];
    out[c] = acc;
  }
  return out;
}

Matrix ssmc::ref::convSequence(std::vector<double> &state, const Tensor &weight, const Tensor &bias,
                               const Matrix &inputs) {
  const int64_t T = static_cast<int64_t>(inputs.size());
  if (T == 0)
    return {};
  const int64_t C = static_cast<int64_t>(inputs[0].size());
  const int64_t W = weight.numElements() / C;
  // Extended input of channel c: positions -W..-1 come from the state, 0..T-1 from `inputs`.
  auto ext = [&](int64_t c, int64_t j) { // j = position + W
    return j < W ? state[c * W + j] : inputs[j - W][c];
  };
  Matrix out(T, std::vector<double>(C));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) {
      double acc = bias.data.empty() ? 0.0 : bias.data[c];
      for (int64_t k = 0; k < W; ++k) // in[c, t - (W-1) + k]
        acc += weight.data[c * W + k] * ext(c, W + t - (W - 1) + k);
      out[t][c] = acc;
    }
  std::vector<double> newState(C * W);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k = 0; k < W; ++k)
      newState[c * W + k] = ext(c, T + k); // the last W inputs, oldest first
  state = std::move(newState);
  return out;
}

ScanResult ssmc::ref::scanRecurrent(const ScanProblem &p, ArrayRef<double> initialState) {
  const int64_t L = p.length, H = p.heads, P = p.headDim, N = p.stateDim;
  const int64_t headsPerB = H / p.bGroups, headsPerC = H / p.cGroups;
  ScanResult r;
  r.finalState = initialState.empty() ? std::vector<double>(H * P * N, 0.0) : initialState.vec();
  r.y.assign(L * H * P, 0.0);
  std::vector<double> &S = r.finalState;
  for (int64_t t = 0; t < L; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const double a = std::exp(p.logA[t * H + h]);
      const double *B = &p.B[(t * p.bGroups + h / headsPerB) * N];
      const double *C = &p.C[(t * p.cGroups + h / headsPerC) * N];
      for (int64_t q = 0; q < P; ++q) {
        const double x = p.x[(t * H + h) * P + q];
        double *s = &S[(h * P + q) * N];
        double y = 0;
        for (int64_t n = 0; n < N; ++n) {
          s[n] = a * s[n] + x * B[n]; // H_t = a_t H_{t-1} + x̃_t ⊗ B_t
          y += s[n] * C[n];           // y_t = H_t C_t
        }
        r.y[(t * H + h) * P + q] = y;
      }
    }
  return r;
}

ScanResult ssmc::ref::scanChunked(const ScanProblem &p, int64_t chunkLen, ArrayRef<double> initialState) {
  const int64_t L = p.length, H = p.heads, P = p.headDim, N = p.stateDim, Q = chunkLen;
  const int64_t nc = (L + Q - 1) / Q; // chunks c
  const int64_t Lp = nc * Q;          // L padded to a multiple of Q
  const int64_t headsPerB = H / p.bGroups, headsPerC = H / p.cGroups;

  // Step 0: pad with zeros to Lp (zero input, log-decay 0), broadcast B and C
  // to heads, split time into (chunk, l) with t = chunk * Q + l;
  // Acum = cumsum of A within each chunk.
  std::vector<double> X(Lp * H * P, 0.0), A(H * Lp, 0.0), Bh(Lp * H * N, 0.0), Ch(Lp * H * N, 0.0);
  auto xi = [&](int64_t t, int64_t h, int64_t q) { return (t * H + h) * P + q; };
  auto ni = [&](int64_t t, int64_t h, int64_t n) { return (t * H + h) * N + n; };
  auto ai = [&](int64_t h, int64_t t) { return h * Lp + t; };
  for (int64_t t = 0; t < L; ++t)
    for (int64_t h = 0; h < H; ++h) {
      A[ai(h, t)] = p.logA[t * H + h];
      for (int64_t q = 0; q < P; ++q)
        X[xi(t, h, q)] = p.x[(t * H + h) * P + q];
      for (int64_t n = 0; n < N; ++n) {
        Bh[ni(t, h, n)] = p.B[(t * p.bGroups + h / headsPerB) * N + n];
        Ch[ni(t, h, n)] = p.C[(t * p.cGroups + h / headsPerC) * N + n];
      }
    }
  std::vector<double> Acum(H * Lp, 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t c = 0; c < nc; ++c) {
      double run = 0;
      for (int64_t l = 0; l < Q; ++l) {
        run += A[ai(h, c * Q + l)];
        Acum[ai(h, c * Q + l)] = run;
      }
    }
  // segsum within chunk c: Σ_{k=s+1}^{l} A[k] for l >= s (summed directly, the
  // "stable" form); -inf above the diagonal, i.e. exp(segsum) = 0 there.
  auto expSegsumChunk = [&](int64_t h, int64_t c, int64_t l, int64_t s) {
    if (l < s)
      return 0.0;
    double sum = 0;
    for (int64_t k = s + 1; k <= l; ++k)
      sum += A[ai(h, c * Q + k)];
    return std::exp(sum);
  };

  // Step 1: intra-chunk outputs,
  // Y_diag[c,l,h,p] = Σ_s Σ_n C[c,l,h,n] B[c,s,h,n] Lmat[h,c,l,s] X[c,s,h,p].
  std::vector<double> Ydiag(Lp * H * P, 0.0);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t l = 0; l < Q; ++l)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s <= l; ++s) {
          const int64_t tl = c * Q + l, ts = c * Q + s;
          double cb = 0;
          for (int64_t n = 0; n < N; ++n)
            cb += Ch[ni(tl, h, n)] * Bh[ni(ts, h, n)];
          const double weight = cb * expSegsumChunk(h, c, l, s);
          for (int64_t q = 0; q < P; ++q)
            Ydiag[xi(tl, h, q)] += weight * X[xi(ts, h, q)];
        }

  // Step 2: per-chunk states,
  // S_chunk[c,h,p,n] = Σ_l B[c,l,h,n] exp(Acum[h,c,Q-1] - Acum[h,c,l]) X[c,l,h,p].
  const int64_t SZ = H * P * N; // one state
  auto si = [&](int64_t h, int64_t q, int64_t n) { return (h * P + q) * N + n; };
  std::vector<double> Schunk(nc * SZ, 0.0);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t h = 0; h < H; ++h) {
      const double last = Acum[ai(h, c * Q + Q - 1)];
      for (int64_t l = 0; l < Q; ++l) {
        const int64_t t = c * Q + l;
        const double decay = std::exp(last - Acum[ai(h, t)]);
        for (int64_t q = 0; q < P; ++q)
          for (int64_t n = 0; n < N; ++n)
            Schunk[c * SZ + si(h, q, n)] += Bh[ni(t, h, n)] * decay * X[xi(t, h, q)];
      }
    }

  // Step 3: inter-chunk recurrence. S_all = [S_init, S_chunk[0..nc-1]];
  // chunk_decay[h,z,k] = exp(segsum(pad_left(Acum[h,:,Q-1], 0))[z,k]);
  // S_new[z] = Σ_k chunk_decay[h,z,k] S_all[k]. S_new[c] enters chunk c,
  // S_new[nc] is the final state.
  std::vector<double> Sall((nc + 1) * SZ, 0.0);
  if (!initialState.empty())
    std::copy(initialState.begin(), initialState.end(), Sall.begin());
  std::copy(Schunk.begin(), Schunk.end(), Sall.begin() + SZ);
  std::vector<double> Snew((nc + 1) * SZ, 0.0);
  for (int64_t h = 0; h < H; ++h) {
    std::vector<double> aPad(nc + 1, 0.0);
    for (int64_t c = 0; c < nc; ++c)
      aPad[c + 1] = Acum[ai(h, c * Q + Q - 1)];
    for (int64_t z = 0; z <= nc; ++z)
      for (int64_t k = 0; k <= z; ++k) {
        double sum = 0;
        for (int64_t j = k + 1; j <= z; ++j)
          sum += aPad[j];
        const double decay = std::exp(sum);
        for (int64_t q = 0; q < P; ++q)
          for (int64_t n = 0; n < N; ++n)
            Snew[z * SZ + si(h, q, n)] += decay * Sall[k * SZ + si(h, q, n)];
      }
  }

  // Step 4: state -> output,
  // Y_off[c,l,h,p] = Σ_n C[c,l,h,n] S_enter[c,h,p,n] exp(Acum[h,c,l]).
  std::vector<double> Yoff(Lp * H * P, 0.0);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t l = 0; l < Q; ++l)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t t = c * Q + l;
        const double decayOut = std::exp(Acum[ai(h, t)]);
        for (int64_t q = 0; q < P; ++q) {
          double acc = 0;
          for (int64_t n = 0; n < N; ++n)
            acc += Ch[ni(t, h, n)] * Snew[c * SZ + si(h, q, n)] * decayOut;
          Yoff[xi(t, h, q)] = acc;
        }
      }

  // Step 5: Y = Y_diag + Y_off, padding dropped.
  ScanResult r;
  r.y.assign(L * H * P, 0.0);
  for (int64_t i = 0; i < L * H * P; ++i)
    r.y[i] = Ydiag[i] + Yoff[i];
  if (nc == 0)
    r.finalState = initialState.empty() ? std::vector<double>(SZ, 0.0) : initialState.vec();
  else
    r.finalState.assign(Snew.begin() + nc * SZ, Snew.end());
  return r;
}

//===----------------------------------------------------------------------===//
// Model construction: the upstream tensor names (§2.4, §3.4, §7.3, Llama)
//===----------------------------------------------------------------------===//

Error Model::build(Model &m, TensorSource source, bool shapesOnly) {
  const Config &c = m.cfg;
  auto take = [&](const std::string &name, std::vector<int64_t> shape, Tensor &out) -> Error {
    Expected<Tensor> t = source(name, shape);
    if (!t)
      return t.takeError();
    if (t->shape != shape)
      return makeError("tensor '" + name + "' has shape " + shapeString(t->shape) + " but the model needs " +
                       shapeString(shape));
    if (shapesOnly)
      return Error::success();
    if (static_cast<int64_t>(t->data.size()) != t->numElements())
      return makeError("tensor '" + name + "' holds " + llvm::Twine(t->data.size()) + " values, its shape " +
                       shapeString(shape) + " needs " + llvm::Twine(t->numElements()));
    out = std::move(*t);
    return Error::success();
  };

  const int64_t D = c.dModel, V = c.vocabSize;
  std::string layerStem; // "backbone.layers." / "model.layers."
  std::string embName, finalNormName;
  switch (c.family) {
  case Family::Llamba: // §2.4
    embName = "backbone.embedding.weight";
    layerStem = "backbone.layers.";
    finalNormName = "backbone.final_layernorm.weight";
    break;
  case Family::Mamba2: // §7.3
    embName = "backbone.embedding.weight";
    layerStem = "backbone.layers.";
    finalNormName = "backbone.norm_f.weight";
    break;
  case Family::MambaInLlama: // §3.4
  case Family::Llama:
    embName = "model.embed_tokens.weight";
    layerStem = "model.layers.";
    finalNormName = "model.norm.weight";
    break;
  }

  if (Error e = take(embName, {V, D}, m.embedding))
    return e;
  m.layers.assign(c.nLayer, LayerWeights());
  for (int64_t i = 0; i < c.nLayer; ++i) {
    LayerWeights &lw = m.layers[i];
    const std::string lp = layerStem + std::to_string(i) + ".";
    lw.attention = c.family == Family::Llama || c.isAttentionLayer(i);

    // Block norms and MLP.
    if (c.family == Family::Mamba2) {
      if (Error e = take(lp + "norm.weight", {D}, lw.norm1))
        return e;
      if (c.gatedMlpSize > 0) {
        if (Error e = take(lp + "norm2.weight", {D}, lw.norm2))
          return e;
        if (Error e = take(lp + "mlp.fc1.weight", {2 * c.gatedMlpSize, D}, lw.fc1))
          return e;
        if (Error e = take(lp + "mlp.fc2.weight", {D, c.gatedMlpSize}, lw.fc2))
          return e;
      }
    } else {
      const int64_t I = c.intermediateSize;
      if (Error e = take(lp + "input_layernorm.weight", {D}, lw.norm1))
        return e;
      if (Error e = take(lp + "post_attention_layernorm.weight", {D}, lw.norm2))
        return e;
      if (Error e = take(lp + "mlp.gate_proj.weight", {I, D}, lw.mlpGate))
        return e;
      if (Error e = take(lp + "mlp.up_proj.weight", {I, D}, lw.mlpUp))
        return e;
      if (Error e = take(lp + "mlp.down_proj.weight", {D, I}, lw.mlpDown))
        return e;
    }

    if (lw.attention) {
      const int64_t hd = c.attnHeadDim;
      const std::string ap = lp + "self_attn.";
      if (Error e = take(ap + "q_proj.weight", {c.nAttnHeads * hd, D}, lw.attn.q))
        return e;
      if (Error e = take(ap + "k_proj.weight", {c.nKVHeads * hd, D}, lw.attn.k))
        return e;
      if (Error e = take(ap + "v_proj.weight", {c.nKVHeads * hd, D}, lw.attn.v))
        return e;
      if (Error e = take(ap + "o_proj.weight", {D, c.nAttnHeads * hd}, lw.attn.o))
        return e;
      continue;
    }

    // SSM mixer.
    SsmWeights &s = lw.ssm;
    const std::string mp = lp + (c.family == Family::MambaInLlama ? "mamba." : "mixer.");
    const int64_t Cch = c.convChannels(), H = c.nHeads;
    if (Error e = take(mp + "in_proj.weight", {c.inProjRows(), D}, s.inProj))
      return e;
    if (Error e = take(mp + "conv1d.weight", {Cch, 1, c.convWidth}, s.convWeight))
      return e;
    if (c.convBias) {
      if (Error e = take(mp + "conv1d.bias", {Cch}, s.convBias))
        return e;
    } else {
      s.convBias = Tensor{{Cch}, std::vector<double>(Cch, 0.0)};
    }
    if (Error e = take(mp + "D", {H}, s.D))
      return e;
    if (Error e = take(mp + "out_proj.weight", {D, c.dInner}, s.outProj))
      return e;
    if (c.family == Family::Llamba) {
      if (Error e = take(mp + "z_bias", {c.dInner}, s.zBias))
        return e;
    } else {
      if (Error e = take(mp + "dt_bias", {H}, s.dtBias))
        return e;
      if (Error e = take(mp + "A_log", {H}, s.ALog))
        return e;
      if (Error e = take(mp + "norm.weight", {c.dInner}, s.normWeight))
        return e;
    }
  }

  if (Error e = take(finalNormName, {D}, m.finalNorm))
    return e;
  if (!c.tieEmbeddings)
    if (Error e = take("lm_head.weight", {V, D}, m.lmHead))
      return e;
  if (c.nAttnHeads > 0)
    m.ropeFreqs = ropeFrequencies(c.rope, c.attnHeadDim);
  return Error::success();
}

Expected<Model> Model::create(const Config &cfg, TensorSource source) {
  if (Error e = validateConfig(cfg))
    return std::move(e);
  Model m;
  m.cfg = cfg;
  if (Error e = build(m, source))
    return std::move(e);
  return std::move(m);
}

Expected<Model> Model::create(const Config &cfg, const Weights &weights) {
  auto lookup = [&](StringRef name, ArrayRef<int64_t> shape) -> Expected<Tensor> {
    auto it = weights.find(name.str());
    if (it == weights.end())
      return makeError("missing tensor '" + name + "' (the model needs shape " + shapeString(shape) + ")");
    return it->second;
  };
  return create(cfg, lookup);
}

std::vector<std::pair<std::string, std::vector<int64_t>>> Model::tensorList(const Config &cfg) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> list;
  auto record = [&](StringRef name, ArrayRef<int64_t> shape) -> Expected<Tensor> {
    list.emplace_back(name.str(), shape.vec());
    return Tensor{shape.vec(), {}};
  };
  Model m;
  m.cfg = cfg;
  llvm::consumeError(build(m, record, /*shapesOnly=*/true));
  return list;
}

//===----------------------------------------------------------------------===//
// State
//===----------------------------------------------------------------------===//

SequenceState Model::newSequenceState() const {
  SequenceState s;
  s.layers.resize(cfg.nLayer);
  for (int64_t i = 0; i < cfg.nLayer; ++i) {
    if (layers[i].attention)
      continue; // KV cache starts empty
    s.layers[i].conv.assign(cfg.convChannels() * cfg.convWidth, 0.0);
    s.layers[i].ssm.assign(cfg.nHeads * cfg.headDim * cfg.dState, 0.0);
  }
  return s;
}

State Model::newState(int64_t batch) const {
  State s;
  for (int64_t b = 0; b < batch; ++b)
    s.sequences.push_back(newSequenceState());
  return s;
}

//===----------------------------------------------------------------------===//
// Mixers
//===----------------------------------------------------------------------===//

Matrix Model::ssmMixer(int64_t layer, LayerState &st, const Matrix &u, const ForwardOptions &opts) const {
  const SsmWeights &w = layers[layer].ssm;
  const Config &c = cfg;
  const int64_t T = static_cast<int64_t>(u.size());
  const int64_t H = c.nHeads, P = c.headDim, N = c.dState, di = c.dInner, Cch = c.convChannels();
  const int64_t Gb = c.bGroups(), Gc = c.cGroups();
  if (T == 0)
    return {};

  // 1. in_proj and split. Llamba: [xBC | z | a] (§2.5 step 2); Mamba-2 and
  //    MambaInLlama: [z | xBC | dt] (§1.8, §3.5 step 2).
  Matrix z(T), xBC(T), dtRaw(T);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> proj = matvec(w.inProj, u[t]);
    if (c.family == Family::Llamba) {
      xBC[t] = slice(proj, 0, Cch);
      z[t] = slice(proj, Cch, di);
      dtRaw[t] = slice(proj, Cch + di, H);
    } else {
      z[t] = slice(proj, 0, di);
      xBC[t] = slice(proj, di, Cch);
      dtRaw[t] = slice(proj, di + Cch, H);
    }
  }

  // 2. Causal conv over [x | B | C] (§1.4), then the activation: identity for
  //    Llamba (§2.5 step 4), SiLU otherwise (§1.8, §3.5 step 4).
  auto activate = [&](std::vector<double> &v) {
    if (c.family != Family::Llamba)
      for (double &e : v)
        e = silu(e);
  };

  // 3. Scan inputs of one token from its post-conv xBC and its raw dt / a.
  //    x (per head, GQA-repeated for MambaInLlama), B, C, log-decay, x̃ = scale·x.
  struct TokenInputs {
    std::vector<double> x, xTilde, logA, B, C;
  };
  auto scanInputs = [&](const std::vector<double> &v, const std::vector<double> &dt) {
    TokenInputs in;
    in.x.assign(H * P, 0.0);
    in.xTilde.assign(H * P, 0.0);
    in.logA.assign(H, 0.0);
    if (c.family == Family::MambaInLlama) {
      // [x (d_xb) | B (d_xb) | C (d_inner)]; x, B have Gkv = d_xb/N groups,
      // head h reads group h / r, r = H / Gkv; C is per head (§3.5 step 5).
      const int64_t r = H / Gb;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t p = 0; p < P; ++p)
          in.x[h * P + p] = v[(h / r) * N + p];
      in.B = slice(v, c.dXB, c.dXB);
      in.C = slice(v, 2 * c.dXB, di);
    } else {
      // [x (d_inner) | B (G·N) | C (G·N)], channel h·P + p (§2.5 step 5, §1.8).
      in.x = slice(v, 0, di);
      in.B = slice(v, di, Gb * N);
      in.C = slice(v, di + Gb * N, Gc * N);
    }
    for (int64_t h = 0; h < H; ++h) {
      double scale;
      if (c.family == Family::Llamba) {
        // a_t = exp(-softplus(α_t)), x not scaled (§2.6).
        in.logA[h] = -softplus(dt[h]);
        scale = 1.0;
      } else {
        // Δ = softplus(dt + dt_bias), A = -exp(A_log), a = exp(ΔA), x̃ = Δx (§1.5).
        const double delta = softplus(dt[h] + w.dtBias.data[h]);
        const double A = -std::exp(w.ALog.data[h]);
        in.logA[h] = delta * A;
        scale = delta;
      }
      for (int64_t p = 0; p < P; ++p)
        in.xTilde[h * P + p] = scale * in.x[h * P + p];
    }
    return in;
  };

  // 5./6. D skip with the original x, gate or gated norm, out_proj.
  auto finish = [&](std::vector<double> y, const TokenInputs &in, const std::vector<double> &zt) {
    for (int64_t h = 0; h < H; ++h)
      for (int64_t p = 0; p < P; ++p)
        y[h * P + p] += w.D.data[h] * in.x[h * P + p];
    std::vector<double> g(di);
    if (c.family == Family::Llamba) {
      for (int64_t i = 0; i < di; ++i) // y ⊙ silu(z + z_bias), no norm (§2.5 step 8)
        g[i] = y[i] * silu(zt[i] + w.zBias.data[i]);
    } else {
      g = gatedRmsNorm(y, zt, w.normWeight.data, c.normGroupSize, c.mixerNormEps);
    }
    return matvec(w.outProj, g);
  };

  auto problemFor = [&](int64_t L) {
    ScanProblem p;
    p.length = L;
    p.heads = H;
    p.headDim = P;
    p.stateDim = N;
    p.bGroups = Gb;
    p.cGroups = Gc;
    return p;
  };

  Matrix out(T);
  if (opts.mode == ScanMode::Recurrent) {
    // Token by token: conv step, then one step of the recurrence.
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> v = convStep(st.conv, w.convWeight, w.convBias, xBC[t]);
      activate(v);
      TokenInputs in = scanInputs(v, dtRaw[t]);
      ScanProblem p = problemFor(1);
      p.x = in.xTilde;
      p.logA = in.logA;
      p.B = in.B;
      p.C = in.C;
      ScanResult r = scanRecurrent(p, st.ssm);
      st.ssm = std::move(r.finalState);
      out[t] = finish(std::move(r.y), in, z[t]);
    }
    return out;
  }

  // Chunked: sequence conv over the whole call, one chunked scan from the current state.
  const int64_t Q = opts.chunkSize > 0 ? opts.chunkSize : c.chunkSize;
  Matrix conv = convSequence(st.conv, w.convWeight, w.convBias, xBC);
  std::vector<TokenInputs> ins(T);
  ScanProblem p = problemFor(T);
  for (int64_t t = 0; t < T; ++t) {
    activate(conv[t]);
    ins[t] = scanInputs(conv[t], dtRaw[t]);
    p.x.insert(p.x.end(), ins[t].xTilde.begin(), ins[t].xTilde.end());
    p.logA.insert(p.logA.end(), ins[t].logA.begin(), ins[t].logA.end());
    p.B.insert(p.B.end(), ins[t].B.begin(), ins[t].B.end());
    p.C.insert(p.C.end(), ins[t].C.begin(), ins[t].C.end());
  }
  ScanResult r = scanChunked(p, Q, st.ssm);
  st.ssm = std::move(r.finalState);
  for (int64_t t = 0; t < T; ++t)
    out[t] = finish(slice(r.y, t * H * P, H * P), ins[t], z[t]);
  return out;
}

std::vector<double> Model::attentionStep(int64_t layer, LayerState &st, int64_t position,
                                         ArrayRef<double> u) const {
  // Llama attention (§3.5): GQA, RoPE, causal softmax with scale 1/sqrt(hd),
  // KV cache of post-RoPE K and V (§3.6).
  const AttnWeights &w = layers[layer].attn;
  const int64_t Hq = cfg.nAttnHeads, Hkv = cfg.nKVHeads, hd = cfg.attnHeadDim;
  std::vector<double> q = matvec(w.q, u), k = matvec(w.k, u), v = matvec(w.v, u);
  for (int64_t h = 0; h < Hq; ++h)
    applyRope(llvm::MutableArrayRef<double>(q).slice(h * hd, hd), position, ropeFreqs);
  for (int64_t j = 0; j < Hkv; ++j)
    applyRope(llvm::MutableArrayRef<double>(k).slice(j * hd, hd), position, ropeFreqs);
  st.keys.push_back(std::move(k));
  st.values.push_back(std::move(v));

  const int64_t T = static_cast<int64_t>(st.keys.size()); // positions 0..position
  const int64_t perKv = Hq / Hkv;                          // kv head j serves q heads j·perKv ...
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<double> ctx(Hq * hd, 0.0);
  for (int64_t h = 0; h < Hq; ++h) {
    const int64_t j = h / perKv;
    std::vector<double> score(T);
    double maxScore = -std::numeric_limits<double>::infinity();
    for (int64_t s = 0; s < T; ++s) {
      double dot = 0;
      for (int64_t d = 0; d < hd; ++d)
        dot += q[h * hd + d] * st.keys[s][j * hd + d];
      score[s] = dot * scale;
      maxScore = std::max(maxScore, score[s]);
    }
    double denom = 0;
    for (int64_t s = 0; s < T; ++s) {
      score[s] = std::exp(score[s] - maxScore);
      denom += score[s];
    }
    for (int64_t s = 0; s < T; ++s)
      for (int64_t d = 0; d < hd; ++d)
        ctx[h * hd + d] += score[s] / denom * st.values[s][j * hd + d];
  }
  return matvec(w.o, ctx);
}

std::vector<double> Model::mlp(const LayerWeights &lw, ArrayRef<double> u) const {
  if (!lw.fc1.data.empty()) {
    // Mamba-2 LM GatedMLP (§7.3): [a | g] = fc1 u, fc2(a ⊙ silu(g)).
    const int64_t I = lw.fc2.shape[1];
    std::vector<double> y = matvec(lw.fc1, u);
    std::vector<double> hidden(I);
    for (int64_t i = 0; i < I; ++i)
      hidden[i] = y[i] * silu(y[I + i]);
    return matvec(lw.fc2, hidden);
  }
  // SwiGLU (§1.3): W_down(silu(W_gate u) ⊙ W_up u).
  std::vector<double> gate = matvec(lw.mlpGate, u), up = matvec(lw.mlpUp, u);
  for (size_t i = 0; i < gate.size(); ++i)
    gate[i] = silu(gate[i]) * up[i];
  return matvec(lw.mlpDown, gate);
}

Matrix Model::runMixer(int64_t layer, LayerState &st, int64_t position, const Matrix &u,
                       const ForwardOptions &opts) const {
  if (!layers[layer].attention)
    return ssmMixer(layer, st, u, opts);
  Matrix out(u.size());
  for (size_t t = 0; t < u.size(); ++t)
    out[t] = attentionStep(layer, st, position + static_cast<int64_t>(t), u[t]);
  return out;
}

//===----------------------------------------------------------------------===//
// Whole model
//===----------------------------------------------------------------------===//

Matrix Model::forwardSequence(SequenceState &seq, ArrayRef<int> ids, const ForwardOptions &opts) const {
  const int64_t T = static_cast<int64_t>(ids.size()), D = cfg.dModel;
  if (T == 0)
    return {};
  // h = E[ids]: no scaling, no positional embedding.
  Matrix h(T);
  for (int64_t t = 0; t < T; ++t)
    h[t] = slice(embedding.data, static_cast<int64_t>(ids[t]) * D, D);

  // Pre-norm blocks (§2.5, §3.5, §7.4): h += Mixer(Norm1(h)); h += MLP(Norm2(h)).
  for (int64_t i = 0; i < cfg.nLayer; ++i) {
    const LayerWeights &lw = layers[i];
    const double eps = lw.attention ? cfg.attnBlockNormEps : cfg.ssmBlockNormEps;
    Matrix u(T);
    for (int64_t t = 0; t < T; ++t)
      u[t] = rmsNorm(h[t], lw.norm1.data, eps);
    Matrix m = runMixer(i, seq.layers[i], seq.position, u, opts);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d)
        h[t][d] += m[t][d];
    if (lw.norm2.data.empty())
      continue; // Mamba-2 LM with d_intermediate = 0: no MLP
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> y = mlp(lw, rmsNorm(h[t], lw.norm2.data, eps));
      for (int64_t d = 0; d < D; ++d)
        h[t][d] += y[d];
    }
  }

  // Final norm and head (tied: the embedding, padded rows included).
  const Tensor &head = cfg.tieEmbeddings ? embedding : lmHead;
  Matrix logits(T);
  for (int64_t t = 0; t < T; ++t)
    logits[t] = matvec(head, rmsNorm(h[t], finalNorm.data, cfg.finalNormEps));
  seq.position += T;
  return logits;
}

Expected<std::vector<Matrix>> Model::forward(State &state, const std::vector<std::vector<int>> &ids,
                                             const ForwardOptions &opts) const {
  if (ids.size() != state.sequences.size())
    return makeError("batch of " + llvm::Twine(ids.size()) + " sequences but the state holds " +
                     llvm::Twine(state.sequences.size()));
  for (size_t b = 0; b < ids.size(); ++b)
    for (int id : ids[b])
      if (id < 0 || id >= cfg.vocabSize)
        return makeError("token id " + llvm::Twine(id) + " of sequence " + llvm::Twine(b) +
                         " is outside the vocabulary [0, " + llvm::Twine(cfg.vocabSize) + ")");
  std::vector<Matrix> out;
  for (size_t b = 0; b < ids.size(); ++b)
    out.push_back(forwardSequence(state.sequences[b], ids[b], opts));
  return out;
}

int64_t Model::greedyToken(ArrayRef<double> logits) const {
  int64_t best = 0;
  for (int64_t i = 1; i < cfg.vocabSizeUnpadded; ++i)
    if (logits[i] > logits[best])
      best = i;
  return best;
}
