#!/usr/bin/env python3
"""PyTorch baseline for ssmc (issue 5): the model families of
../shared/spec/models.md written in plain PyTorch ops, used as the peer
baseline on the GPU.

  baseline.py check    --checkpoint DIR --ref REF.json [--dtype float32]
  baseline.py check    --dir DIR              (every pair prepare-check.sh wrote)
  baseline.py bench    --preset llamba-1b[,llama-3.1-8b] --dtype bfloat16 \
                       --batch 1,16,64,256 --prompt-len 2048,8192 --gen 32 \
                       [--graphs] [--sweep] [--json out.json]
  baseline.py describe --preset NAME | --checkpoint DIR   (no torch needed)

Families: Llamba (Discrete Mamba-2 mixer, spec §2), state-spaces Mamba-2 LMs
(§7), Mamba-in-the-Llama Mamba-2/attention hybrids (§3) and Llama-3 (§3.2,
§3.5). Weights come from a Hugging Face-style directory (config.json
[+ mamba_config.json] + *.safetensors or pytorch_model.bin, upstream tensor
names) or are generated in-process on the device from a preset (the shapes of
frontends/hf/Presets.cpp, the distributions of frontends/hf/ModelGenerator.cpp).

Numerics (what the spec asks for, and where this file deliberately differs):
  * SSM state and decay in float32: the chunked scan (§1.6) runs entirely in
    float32 from the model-dtype projections, the decode step (§1.7) keeps a
    float32 state (--ssm-state-dtype model stores it in the model dtype, like
    the upstream CUDA-graph paths).
  * softplus with PyTorch's threshold 20 (identity above 20).
  * Norms per family: HF LlamaRMSNorm (normalize in fp32, round, then multiply
    by the weight) for Llamba and Llama; mamba_ssm's Triton RMSNorm (fp32, one
    rounding) for the Mamba decoder layers of MambaInLlama; fused add+norm with
    an fp32 residual for Mamba-2 LMs (§7.4); the gated grouped RMSNorm in fp32.
  * The depthwise conv runs in fp32 and its output enters the scan unrounded;
    scan epilogues (D skip, gate, gated norm) and RoPE are computed in fp32 and
    rounded once to the model dtype. Upstream rounds some of them in between
    (and Llamba feeds x/Δ and multiplies by Δ again, §2.8); all of this is
    exact in float32, which is what the parity check uses.
  * The chunk length is the config's (Llamba 128, Mamba-2 256); prompts are
    zero-padded to a multiple of it inside the scan with log-decay 0, so the
    padding neither reaches the outputs nor the final state.
Matmuls never use TF32 (the float32 check needs full precision; in bf16 mode
the scan's einsums are float32 on purpose).
"""

import argparse
import gc
import json
import math
import os
import statistics
import struct
import sys
import time

# torch is imported lazily (main) so that `describe` and --help work on a
# machine without it.
torch = None
F = None

# ---------------------------------------------------------------------------
# Configuration (pure Python): config.json -> Config, following
# test/reference/ReferenceConfig.cpp's reading of the spec.
# ---------------------------------------------------------------------------


class Config:
    """Every size the model code needs, whatever the family."""

    def __init__(self):
        self.family = None  # "llamba" | "mamba2" | "mil" | "llama"
        self.d_model = 0
        self.n_layer = 0
        self.vocab = 0  # padded (rows of the embedding / head)
        self.vocab_unpadded = 0  # greedy decoding picks ids below this
        self.tie = False
        self.intermediate = 0  # SwiGLU width (0: no MLP, Mamba-2 LMs)
        self.final_eps = 1e-5
        self.ssm_block_eps = 1e-5
        self.attn_block_eps = 1e-5
        self.residual_in_fp32 = False  # Mamba-2 LMs only (§7.4)
        # SSM mixer
        self.d_inner = 0
        self.heads = 0  # H
        self.head_dim = 0  # P
        self.d_state = 0  # N
        self.b_groups = 0  # head h reads B group h // (H / b_groups)
        self.c_groups = 0
        self.d_xb = 0  # MambaInLlama: width of x and of B (x has d_xb / N groups)
        self.conv_width = 4
        self.conv_bias = True
        self.chunk = 128
        self.norm_group = 0  # gated RMSNorm group size (Mamba-2, MIL)
        self.mixer_norm_eps = 1e-5
        # attention
        self.attn_heads = 0
        self.kv_heads = 0
        self.attn_head_dim = 0
        self.rope_theta = 10000.0
        self.rope_llama3 = None  # dict(factor, low, high, original) or None
        self.attn_layers = set()

    def is_attention(self, layer):
        return self.family == "llama" or layer in self.attn_layers

    def conv_channels(self):
        if self.family == "mil":
            return self.d_inner + 2 * self.d_xb  # [x (d_xb) | B (d_xb) | C (d_inner)] §3.4
        return self.d_inner + 2 * self.b_groups * self.d_state  # [x | B | C] §2.4, §7.3

    def in_proj_rows(self):
        # Llamba [xBC | z | a] (§2.5), Mamba-2 / MIL [z | xBC | dt] (§1.8, §3.5)
        return self.d_inner + self.conv_channels() + self.heads


def _round_up(v, m):
    return (v + m - 1) // m * m if m > 1 else v


def _get(obj, key, default):
    """config value; a null counts as absent (configs write "rope_scaling": null)."""
    v = obj.get(key) if obj else None
    return default if v is None else v


def _require(cond, msg):
    if not cond:
        raise ValueError(msg)


def parse_llamba(top):
    """§2.2: LlambaConfig and DiscreteMamba2 defaults."""
    c = Config()
    c.family = "llamba"
    c.vocab_unpadded = top["vocab_size"]
    c.vocab = _round_up(c.vocab_unpadded, _get(top, "pad_vocab_size_multiple", 8))
    c.d_model = top["d_model"]
    c.n_layer = _get(top, "n_layer", 32)
    c.tie = bool(_get(top, "tie_embeddings", False))
    _require(not _get(top, "lm_head_bias", False), "lm_head_bias is not supported")
    c.final_eps = float(_get(top, "norm_epsilon", 1e-5))
    c.ssm_block_eps = 1e-5  # hard-coded in Block.__init__ (§2.4)
    mlp = _get(top, "mlp_cfg", {})
    c.intermediate = _get(mlp, "intermediate_size", 14336)
    _require(not _get(mlp, "bias", False), "mlp_cfg.bias is not supported")
    _require(_get(mlp, "act_fn", "silu") == "silu", "only silu MLPs are supported")
    ssm = _get(top, "ssm_cfg", {})
    expand = _get(ssm, "expand", 1)
    c.d_state = _get(ssm, "d_state", 64)
    c.heads = _get(ssm, "n_v_heads", 32)
    c.b_groups = c.c_groups = _get(ssm, "n_qk_heads", 32)
    c.chunk = _get(ssm, "chunk_size", 128)
    c.conv_width = _get(ssm, "d_conv", 4)
    c.conv_bias = bool(_get(ssm, "conv_bias", True))
    _require(not _get(ssm, "bias", False), "ssm_cfg.bias is not supported")
    _require(_get(ssm, "activation", "identity") == "identity", "only the identity conv activation")
    c.d_inner = expand * c.d_model
    _require(c.d_inner % c.heads == 0, "n_v_heads must divide expand * d_model")
    c.head_dim = c.d_inner // c.heads
    return c


def parse_mamba2(top):
    """§7.2: state-spaces MambaConfig with the Mamba2.__init__ defaults of §1.8."""
    c = Config()
    c.family = "mamba2"
    c.d_model = _get(top, "d_model", 2560)
    c.n_layer = _get(top, "n_layer", 64)
    c.vocab_unpadded = _get(top, "vocab_size", 50277)
    c.vocab = _round_up(c.vocab_unpadded, _get(top, "pad_vocab_size_multiple", 8))
    c.tie = bool(_get(top, "tie_embeddings", True))
    _require(_get(top, "d_intermediate", 0) == 0, "Mamba-2 GatedMLP blocks (d_intermediate > 0) are not supported")
    _require(_get(top, "rms_norm", True), "only rms_norm configs are supported")
    _require(not _get(top, "attn_layer_idx", []), "attn_layer_idx (mamba2attn MHA blocks) is not supported")
    c.residual_in_fp32 = bool(_get(top, "residual_in_fp32", True))
    c.ssm_block_eps = c.final_eps = 1e-5  # no eps key (§7.2)
    ssm = _get(top, "ssm_cfg", {})
    _require(_get(ssm, "layer", "Mamba1") == "Mamba2", "only ssm_cfg.layer = Mamba2")
    expand = _get(ssm, "expand", 2)
    headdim = _get(ssm, "headdim", 64)
    c.d_state = _get(ssm, "d_state", 128)
    c.b_groups = c.c_groups = _get(ssm, "ngroups", 1)
    c.chunk = _get(ssm, "chunk_size", 256)
    c.conv_width = _get(ssm, "d_conv", 4)
    c.conv_bias = bool(_get(ssm, "conv_bias", True))
    for key in ("norm_before_gate", "D_has_hdim", "bias"):
        _require(not _get(ssm, key, False), "ssm_cfg.%s is not supported" % key)
    _require("dt_limit" not in ssm, "dt_limit is not supported")
    c.d_inner = expand * c.d_model
    c.head_dim = headdim
    c.heads = c.d_inner // headdim
    c.norm_group = c.d_inner // c.b_groups  # RMSNormGated(group_size = d_ssm / ngroups)
    return c


def _parse_llama_part(top, c):
    """The attention part of a Llama config.json (LlamaConfig defaults)."""
    c.vocab_unpadded = c.vocab = top["vocab_size"]
    c.d_model = top["hidden_size"]
    c.n_layer = top["num_hidden_layers"]
    c.intermediate = top["intermediate_size"]
    c.attn_heads = top["num_attention_heads"]
    c.kv_heads = _get(top, "num_key_value_heads", c.attn_heads)
    c.attn_head_dim = _get(top, "head_dim", c.d_model // c.attn_heads)
    eps = float(_get(top, "rms_norm_eps", 1e-6))
    c.attn_block_eps = c.final_eps = c.ssm_block_eps = eps
    c.tie = bool(_get(top, "tie_word_embeddings", False))
    for key in ("attention_bias", "mlp_bias"):
        _require(not _get(top, key, False), "%s is not supported" % key)
    _require(_get(top, "hidden_act", "silu") == "silu", "only silu MLPs are supported")
    scaling = _get(top, "rope_parameters", None) or _get(top, "rope_scaling", None) or {}
    c.rope_theta = float(_get(scaling, "rope_theta", _get(top, "rope_theta", 10000.0)))
    kind = _get(scaling, "rope_type", _get(scaling, "type", "default"))
    if kind == "llama3":
        c.rope_llama3 = dict(factor=float(scaling["factor"]), low=float(scaling["low_freq_factor"]),
                             high=float(scaling["high_freq_factor"]),
                             original=float(scaling["original_max_position_embeddings"]))
    else:
        _require(kind == "default", "rope type %r is not supported (default or llama3)" % kind)


def parse_llama(top):
    c = Config()
    c.family = "llama"
    _parse_llama_part(top, c)
    c.attn_layers = set(range(c.n_layer))
    return c


def parse_mil(top, m):
    """config.json (a Llama config) + mamba_config.json (§3.2, §3.3)."""
    c = Config()
    c.family = "mil"
    _parse_llama_part(top, c)
    _require(m["d_model"] == c.d_model and m["n_layer"] == c.n_layer, "mamba_config.json disagrees with config.json")
    c.ssm_block_eps = float(_get(m, "rms_norm_eps", c.ssm_block_eps))  # MambaDecoderLayer norms
    c.d_inner = m["d_inner"]
    c.d_xb = m["d_xb"]
    c.attn_layers = set(_get(m, "attn_layers", []))
    ssm = _get(m, "ssm_cfg", {})
    ngroups = ssm["ngroups"]
    c.d_state = ssm["d_state"]
    c.conv_width = _get(ssm, "d_conv", 4)
    c.conv_bias = bool(_get(ssm, "conv_bias", True))
    c.chunk = _get(ssm, "chunk_size", 256)
    _require(not _get(ssm, "repeat_kv_before_conv", False), "repeat_kv_before_conv is not supported")
    _require(c.d_inner == ngroups * c.d_state, "d_inner must equal ngroups * d_state")
    # Mamba2.__init__ (§3.3): nheads = ngroups, headdim = d_state.
    c.heads = c.c_groups = ngroups
    c.head_dim = c.d_state
    c.b_groups = c.d_xb // c.d_state  # x and B: d_xb / N groups, repeated to the heads
    c.norm_group = c.d_inner // ngroups
    return c


def parse_config(top, mamba=None):
    model_type = top.get("model_type", "")
    if mamba is not None:
        _require(model_type == "llama", "mamba_config.json needs a llama config.json")
        return parse_mil(top, mamba)
    if model_type == "llamba":
        return parse_llamba(top)
    if model_type == "llama":
        return parse_llama(top)
    if model_type == "":
        return parse_mamba2(top)
    raise ValueError("unsupported model_type %r" % model_type)


def load_config_dir(path):
    with open(os.path.join(path, "config.json")) as f:
        top = json.load(f)
    mamba = None
    mpath = os.path.join(path, "mamba_config.json")
    if os.path.exists(mpath):
        with open(mpath) as f:
            mamba = json.load(f)
    return parse_config(top, mamba)


# Presets: the config files frontends/hf/Presets.cpp writes for the same names.
def _llamba_cfg(d, layers, inter, tie, vocab=128256, d_state=64, vh=32, qkh=32, chunk=128):
    return {"model_type": "llamba", "vocab_size": vocab, "tie_embeddings": tie,
            "pad_vocab_size_multiple": 8, "lm_head_bias": False, "d_model": d, "n_layer": layers,
            "norm_epsilon": 1e-5,
            "mlp_cfg": {"intermediate_size": inter, "bias": False, "act_fn": "silu"},
            "ssm_cfg": {"d_state": d_state, "n_v_heads": vh, "n_qk_heads": qkh, "expand": 1,
                        "chunk_size": chunk, "activation": "identity", "bias": False}}


def _llama_cfg(hidden, layers, heads, kv, hd, inter, tie, factor, vocab=128256, orig=8192):
    scaling = None
    if factor is not None:
        scaling = {"rope_type": "llama3", "factor": factor, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": orig}
    return {"model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": hd,
            "intermediate_size": inter, "hidden_act": "silu", "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0, "rope_scaling": scaling, "tie_word_embeddings": tie,
            "vocab_size": vocab}


def _mil_mamba_cfg(llama, attn_layers):
    h, hd = llama["num_attention_heads"], llama["head_dim"]
    return {"d_model": llama["hidden_size"], "ssm_cfg": {"expand": 1, "ngroups": h, "d_state": hd},
            "rms_norm_eps": 1e-5, "d_inner": h * hd, "d_xb": llama["num_key_value_heads"] * hd,
            "intermediate_size": llama["intermediate_size"], "hidden_act": "silu",
            "n_layer": llama["num_hidden_layers"], "attn_layers": attn_layers}


def _mamba2_cfg(d, layers, ssm=None, vocab=50277):
    s = dict(ssm or {})
    s["layer"] = "Mamba2"
    return {"d_model": d, "d_intermediate": 0, "n_layer": layers, "vocab_size": vocab, "ssm_cfg": s,
            "attn_layer_idx": [], "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
            "pad_vocab_size_multiple": 16, "tie_embeddings": True}


_L31_8B = _llama_cfg(4096, 32, 32, 8, 128, 14336, False, 8.0)
_TINY_LLAMA = _llama_cfg(64, 4, 4, 2, 16, 128, False, 8.0, vocab=256, orig=64)
PRESETS = {
    "tiny-llamba": (_llamba_cfg(64, 2, 128, False, vocab=300, d_state=16, vh=4, qkh=2, chunk=16), None),
    "tiny-mamba2": (_mamba2_cfg(64, 2, {"d_state": 16, "headdim": 16, "ngroups": 2, "chunk_size": 16}, 500), None),
    "tiny-mil": (_TINY_LLAMA, _mil_mamba_cfg(_TINY_LLAMA, [1, 3])),
    "tiny-llama": (dict(_llama_cfg(64, 2, 4, 2, 16, 128, True, 32.0, vocab=256, orig=64)), None),
    "default-llamba": (_llamba_cfg(512, 4, 1024, True, vocab=4096, d_state=32), None),
    "llamba-1b": (_llamba_cfg(2048, 16, 8192, True), None),
    "llamba-3b": (_llamba_cfg(3072, 28, 8192, True), None),
    "llamba-8b": (_llamba_cfg(4096, 32, 14336, True), None),
    "llamba-8b-untied": (_llamba_cfg(4096, 32, 14336, False), None),
    "mil-8b-50": (_L31_8B, _mil_mamba_cfg(_L31_8B, list(range(1, 32, 2)))),
    "llama-3.2-1b": (_llama_cfg(2048, 16, 32, 8, 64, 8192, True, 32.0), None),
    "llama-3.2-3b": (_llama_cfg(3072, 28, 24, 8, 128, 8192, True, 32.0), None),
    "llama-3.1-8b": (_L31_8B, None),
    "mamba2-130m": (_mamba2_cfg(768, 24), None),
    "mamba2-1.3b": (_mamba2_cfg(2048, 48), None),
    "mamba2-2.7b": (_mamba2_cfg(2560, 64), None),
}


def preset_config(name):
    if name not in PRESETS:
        raise ValueError("unknown preset %r (known: %s)" % (name, ", ".join(PRESETS)))
    top, mamba = PRESETS[name]
    return parse_config(top, mamba)


def expected_tensors(c):
    """(name, shape, role) of every checkpoint tensor, upstream names (§2.4, §3.4,
    §7.3, Llama). The role picks the random distribution of a preset."""
    out = []
    D, V, I = c.d_model, c.vocab, c.intermediate
    if c.family in ("llamba", "mamba2"):
        emb, stem = "backbone.embedding.weight", "backbone.layers."
        final = "backbone.final_layernorm.weight" if c.family == "llamba" else "backbone.norm_f.weight"
    else:
        emb, stem, final = "model.embed_tokens.weight", "model.layers.", "model.norm.weight"
    out.append((emb, (V, D), "embedding"))
    for i in range(c.n_layer):
        p = "%s%d." % (stem, i)
        if c.family == "mamba2":
            out.append((p + "norm.weight", (D,), "norm"))
        else:
            out.append((p + "input_layernorm.weight", (D,), "norm"))
            out.append((p + "post_attention_layernorm.weight", (D,), "norm"))
            out.append((p + "mlp.gate_proj.weight", (I, D), "linear"))
            out.append((p + "mlp.up_proj.weight", (I, D), "linear"))
            out.append((p + "mlp.down_proj.weight", (D, I), "linear"))
        if c.is_attention(i):
            hd, a = c.attn_head_dim, p + "self_attn."
            out.append((a + "q_proj.weight", (c.attn_heads * hd, D), "linear"))
            out.append((a + "k_proj.weight", (c.kv_heads * hd, D), "linear"))
            out.append((a + "v_proj.weight", (c.kv_heads * hd, D), "linear"))
            out.append((a + "o_proj.weight", (D, c.attn_heads * hd), "linear"))
            continue
        m = p + ("mamba." if c.family == "mil" else "mixer.")
        C, H = c.conv_channels(), c.heads
        out.append((m + "in_proj.weight", (c.in_proj_rows(), D), "linear"))
        out.append((m + "conv1d.weight", (C, 1, c.conv_width), "conv_weight"))
        if c.conv_bias:
            out.append((m + "conv1d.bias", (C,), "small_bias"))
        out.append((m + "D", (H,), "D"))
        out.append((m + "out_proj.weight", (D, c.d_inner), "linear"))
        if c.family == "llamba":
            out.append((m + "z_bias", (c.d_inner,), "small_bias"))
        else:
            out.append((m + "dt_bias", (H,), "dt_bias"))
            out.append((m + "A_log", (H,), "A_log"))
            out.append((m + "norm.weight", (c.d_inner,), "norm"))
    out.append((final, (D,), "norm"))
    if not c.tie:
        out.append(("lm_head.weight", (V, D), "linear"))
    return out


def parameter_count(c):
    n = 0
    for _, shape, _ in expected_tensors(c):
        n += math.prod(shape)
    return n


def describe_config(c):
    rows = [("family", c.family), ("d_model", c.d_model), ("layers", c.n_layer),
            ("vocab (padded)", "%d (%d)" % (c.vocab_unpadded, c.vocab)), ("tied head", c.tie),
            ("MLP width", c.intermediate)]
    if c.family != "llama":
        rows += [("SSM heads x head dim x state", "%d x %d x %d" % (c.heads, c.head_dim, c.d_state)),
                 ("B / C groups", "%d / %d" % (c.b_groups, c.c_groups)),
                 ("conv channels", c.conv_channels()), ("in_proj rows", c.in_proj_rows()),
                 ("chunk", c.chunk)]
    if c.attn_layers:
        rows += [("attention layers", len(c.attn_layers)),
                 ("q / kv heads x head dim", "%d / %d x %d" % (c.attn_heads, c.kv_heads, c.attn_head_dim)),
                 ("rope", "theta %g, llama3 %s" % (c.rope_theta, c.rope_llama3))]
    rows.append(("parameters", "{:,}".format(parameter_count(c))))
    return rows


def read_safetensors_header(path):
    """{name: (dtype string, shape, (begin, end))} and the data offset."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return {k: (v["dtype"], tuple(v["shape"]), tuple(v["data_offsets"])) for k, v in header.items()}, 8 + n


def weight_files(path):
    names = sorted(os.listdir(path))
    st = [n for n in names if n.endswith(".safetensors")]
    if st:
        return [os.path.join(path, n) for n in st]
    pt = [n for n in names if n == "pytorch_model.bin" or (n.startswith("pytorch_model-") and n.endswith(".bin"))]
    if pt:
        return [os.path.join(path, n) for n in pt]
    raise FileNotFoundError("%s: no *.safetensors or pytorch_model*.bin" % path)


# ---------------------------------------------------------------------------
# Model (torch)
# ---------------------------------------------------------------------------

DTYPES = {}  # filled in main once torch is imported


def _load_torch():
    global torch, F
    import torch as _torch
    import torch.nn.functional as _F
    torch, F = _torch, _F
    DTYPES.update({"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
                   "f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16})
    # Full float32 matmuls and convolutions (TF32 would cost the parity check
    # ~1e-3; in bf16 mode it would truncate the fp32 scan operands). PyTorch
    # >= 2.9 has fp32_precision and refuses a mix with the older flags.
    try:
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    except Exception:  # older PyTorch (AttributeError, or AssertionError in 1.x)
        torch.backends.cuda.matmul.allow_tf32 = False
    try:
        torch.backends.cudnn.conv.fp32_precision = "ieee"
    except Exception:
        torch.backends.cudnn.allow_tf32 = False


def load_checkpoint_tensors(path, names, device, dtype):
    """{name: tensor on device}; floating tensors converted to dtype (A_log, D,
    dt_bias stay float32: the model reads them in float32 anyway)."""
    wanted = set(names)
    out = {}
    keep_f32 = ("A_log", "D", "dt_bias")
    st_dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64}

    def put(name, t):
        if name not in wanted:
            return  # e.g. a tied model's lm_head.weight alias
        target = torch.float32 if name.rsplit(".", 1)[-1] in keep_f32 else dtype
        out[name] = t.to(device=device, dtype=target)

    for fpath in weight_files(path):
        if fpath.endswith(".safetensors"):
            # The format is 8 bytes of header length, a JSON header, then the
            # raw little-endian data; read it directly (no dependency).
            header, base = read_safetensors_header(fpath)
            with open(fpath, "rb") as f:
                for name, (dt, shape, (b, e)) in header.items():
                    if name not in wanted:
                        continue
                    f.seek(base + b)
                    buf = bytearray(f.read(e - b))
                    t = torch.frombuffer(buf, dtype=st_dtypes[dt]).reshape(shape).clone()
                    put(name, t)
        else:
            sd = torch.load(fpath, map_location="cpu", weights_only=True)
            for name, t in sd.items():
                put(name, t)
    return out


def random_tensors(c, device, dtype, seed):
    """Random weights generated on the device, with the distributions of
    frontends/hf/ModelGenerator.cpp (activations stay O(1) through the model):
    linears U(+-sqrt(3/fan_in)) (std 1/sqrt(fan_in)), embedding
    U(+-sqrt(3/D)), norms U(0.8, 1.2), conv U(+-1/sqrt(W)), conv bias and
    z_bias U(+-0.1), D U(0.5, 1.5), A_log log U(1, 16), dt_bias
    softplus^-1(exp U(log 1e-3, log 1e-1))."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    out = {}
    for name, shape, role in expected_tensors(c):
        if role in ("A_log", "D", "dt_bias"):
            t = torch.empty(shape, dtype=torch.float32, device=device)
            if role == "A_log":
                t.uniform_(1.0, 16.0, generator=g).log_()
            elif role == "D":
                t.uniform_(0.5, 1.5, generator=g)
            else:
                t.uniform_(math.log(1e-3), math.log(1e-1), generator=g).exp_()
                t = t + torch.log(-torch.expm1(-t))  # softplus^-1(dt)
            out[name] = t
            continue
        t = torch.empty(shape, dtype=dtype, device=device)
        if role == "embedding":
            a = math.sqrt(3.0 / shape[-1])
            t.uniform_(-a, a, generator=g)
        elif role == "linear":
            a = math.sqrt(3.0 / shape[1])
            t.uniform_(-a, a, generator=g)
        elif role == "norm":
            t.uniform_(0.8, 1.2, generator=g)
        elif role == "conv_weight":
            a = 1.0 / math.sqrt(shape[-1])
            t.uniform_(-a, a, generator=g)
        elif role == "small_bias":
            t.uniform_(-0.1, 0.1, generator=g)
        else:
            raise ValueError("no distribution for %s" % name)
        out[name] = t
    return out


# ----- building blocks ------------------------------------------------------


def rms_norm_hf(x, w, eps):
    """HF LlamaRMSNorm (§1.2): normalize in fp32, round to the input dtype,
    then multiply by the weight in the model dtype (a second rounding)."""
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(x.dtype)


def rms_norm_fp32(xf, w, eps, out_dtype):
    """mamba_ssm Triton RMSNorm (§1.2): x * rstd * w all in fp32, one rounding."""
    xf = xf.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(out_dtype)


def gated_rms_norm(y, z, w32, group, eps, out_dtype):
    """RMSNormGated, norm_before_gate=False (§1.2): v = y * silu(z), each group
    of `group` channels normalized, times the weight; fp32, one rounding."""
    v = y * F.silu(z.float())
    shape = v.shape
    vg = v.reshape(*shape[:-1], shape[-1] // group, group)
    vg = vg * torch.rsqrt(vg.pow(2).mean(-1, keepdim=True) + eps)
    return (vg.reshape(shape) * w32).to(out_dtype)


def repeat_groups(t, r, dim):
    """Each group along `dim` repeated r times in a row (= repeat_interleave(r,
    dim)) through expand: no host synchronization, so it can be captured in a
    CUDA graph."""
    if r == 1:
        return t
    dim = dim % t.dim()
    shape = list(t.shape)
    e = t.unsqueeze(dim + 1).expand(*shape[:dim + 1], r, *shape[dim + 1:])
    return e.reshape(*shape[:dim], shape[dim] * r, *shape[dim + 1:])


def segsum(a):
    """segsum(a)[..., i, j] = sum_{k=j+1..i} a[..., k] for i >= j, -inf above
    the diagonal (§1.6), built by a masked cumulative sum (the "stable" form:
    no difference of two long cumsums)."""
    T = a.shape[-1]
    x = a.unsqueeze(-1).expand(*a.shape, T)  # x[..., k, j] = a[..., k]
    strict = torch.ones(T, T, dtype=torch.bool, device=a.device).tril(-1)  # k > j
    x = x.masked_fill(~strict, 0.0)
    s = torch.cumsum(x, dim=-2)  # s[..., i, j] = sum_{j < k <= i} a[k]
    lower = torch.ones(T, T, dtype=torch.bool, device=a.device).tril(0)
    return s.masked_fill(~lower, float("-inf"))


def ssd_chunked(X, logA, B, C, Q):
    """The chunked SSD scan of §1.6 from a zero state, in float32.
    X (b, L, h, p) = x~, logA (b, L, h) = log a_t, B, C (b, L, h, n) (already
    per head). Returns Y (b, L, h, p) and the final state (b, h, p, n)."""
    b, L, h, p = X.shape
    n = B.shape[-1]
    pad = (-L) % Q
    if pad:  # zero input and log-decay 0 after the last token: outputs and state unchanged
        X = F.pad(X, (0, 0, 0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))
        logA = F.pad(logA, (0, 0, 0, pad))
    c = (L + pad) // Q
    X = X.reshape(b, c, Q, h, p)
    B = B.reshape(b, c, Q, h, n)
    C = C.reshape(b, c, Q, h, n)
    A = logA.reshape(b, c, Q, h).permute(0, 3, 1, 2)  # (b, h, c, Q)
    Acum = torch.cumsum(A, dim=-1)

    # 1. intra-chunk: Y_diag = sum_s (C_l . B_s) exp(segsum)[l, s] X_s
    Lmat = torch.exp(segsum(A))  # (b, h, c, Q, Q)
    CB = torch.einsum("bclhn,bcshn->bhcls", C, B)
    Y_diag = torch.einsum("bhcls,bcshp->bclhp", CB * Lmat, X)

    # 2. chunk states: S_c = sum_l B_l exp(Acum[Q-1] - Acum[l]) X_l
    decay_states = torch.exp(Acum[..., -1:] - Acum).permute(0, 2, 3, 1).unsqueeze(-1)  # (b, c, Q, h, 1)
    S_chunk = torch.einsum("bclhn,bclhp->bchpn", B * decay_states, X)

    # 3. inter-chunk recurrence over the chunk states (zero initial state)
    S_all = torch.cat([torch.zeros_like(S_chunk[:, :1]), S_chunk], dim=1)  # (b, c+1, h, p, n)
    chunk_decay = torch.exp(segsum(F.pad(Acum[..., -1], (1, 0))))  # (b, h, c+1, c+1)
    S_new = torch.einsum("bhzk,bkhpn->bzhpn", chunk_decay, S_all)
    S_enter, final = S_new[:, :-1], S_new[:, -1]

    # 4. state -> output: Y_off = (C_l . S_enter) exp(Acum[l])
    decay_out = torch.exp(Acum).permute(0, 2, 3, 1).unsqueeze(-1)  # (b, c, Q, h, 1)
    Y_off = torch.einsum("bclhn,bchpn->bclhp", C, S_enter) * decay_out

    Y = (Y_diag + Y_off).reshape(b, c * Q, h, p)[:, :L]
    return Y, final


def rope_tables(c, length, device):
    """cos / sin (length, head_dim/2) in float32 from angles computed in
    float64, with the llama3 frequency rule of §3.5."""
    d = c.attn_head_dim
    i = torch.arange(d // 2, dtype=torch.float64)
    inv = 1.0 / (c.rope_theta ** (2.0 * i / d))
    if c.rope_llama3:
        r = c.rope_llama3
        wavelen = 2.0 * math.pi / inv
        low_wl, high_wl = r["original"] / r["low"], r["original"] / r["high"]
        s = (r["original"] / wavelen - r["low"]) / (r["high"] - r["low"])
        mid = (1.0 - s) * inv / r["factor"] + s * inv
        inv = torch.where(wavelen < high_wl, inv, torch.where(wavelen > low_wl, inv / r["factor"], mid))
    ang = torch.arange(length, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float().to(device), torch.sin(ang).float().to(device)


def apply_rope(x, cos, sin):
    """Non-interleaved rotation of pairs (i, i + d/2) (§3.5), in fp32; cos/sin
    broadcast against x's leading dims."""
    half = x.shape[-1] // 2
    xf = x.float()
    a, b = xf[..., :half], xf[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1).to(x.dtype)


USE_SDPA = True  # check mode may switch to the plain formula


def attention(q, k, v, mask=None, causal=False):
    """softmax(q k^T / sqrt(d)) v over the last two dims; mask: True = attend."""
    if USE_SDPA and hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    s = torch.matmul(q.float(), k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        Lq, Lk = q.shape[-2], k.shape[-2]
        tri = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device).tril(Lk - Lq)
        s = s.masked_fill(~tri, float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v.float()).to(q.dtype)


class Model:
    """Weights + forward passes. State per layer: SSM layers {"conv": (B, C, W)
    model dtype (the last W pre-conv inputs, oldest first: exact in the model
    dtype, they are in_proj outputs), "ssm": (B, H, P, N) float32}; attention
    layers {"k", "v": (B, KVH, T, hd) model dtype, post-RoPE K}."""

    def __init__(self, cfg, tensors, dtype, device, ssm_state_dtype=None):
        self.cfg, self.dtype, self.device = cfg, dtype, device
        self.ssm_state_dtype = ssm_state_dtype or torch.float32
        names = expected_tensors(cfg)
        missing = [n for n, _, _ in names if n not in tensors]
        if missing:
            raise KeyError("missing tensors: %s" % ", ".join(missing[:5]))
        for n, shape, _ in names:
            if tuple(tensors[n].shape) != tuple(shape):
                raise ValueError("%s has shape %s, the config needs %s" % (n, tuple(tensors[n].shape), shape))
        it = iter(names)
        t = lambda: tensors[next(it)[0]]  # tensors in expected_tensors order
        self.embed = t()
        self.layers = []
        for i in range(cfg.n_layer):
            lw = {"attention": cfg.is_attention(i)}
            if cfg.family == "mamba2":
                lw["norm1"] = t()
            else:
                lw["norm1"], lw["norm2"] = t(), t()
                lw["gate"], lw["up"], lw["down"] = t(), t(), t()
            if lw["attention"]:
                lw["q"], lw["k"], lw["v"], lw["o"] = t(), t(), t(), t()
            else:
                lw["in_proj"], lw["conv_w"] = t(), t()
                lw["conv_b"] = t() if cfg.conv_bias else None
                lw["D"] = t().float()
                lw["out_proj"] = t()
                if cfg.family == "llamba":
                    lw["z_bias"] = t().float()
                else:
                    lw["dt_bias"] = t().float()
                    lw["A"] = -torch.exp(t().float())  # A = -exp(A_log.float()) (§3.7)
                    lw["gnorm"] = t().float()
                # The conv runs in fp32 (prefill and decode alike): fp32 copies, a few MB.
                lw["conv_w32"] = lw["conv_w"].float()  # (C, 1, W)
                lw["conv_b32"] = lw["conv_b"].float() if lw["conv_b"] is not None else None
            self.layers.append(lw)
        self.final_norm = t()
        self.head = self.embed if cfg.tie else t()
        self.rope_cos = self.rope_sin = None

    # ----- state -----------------------------------------------------------

    def alloc_state(self, batch, max_len):
        c, st = self.cfg, []
        if c.attn_layers:
            self.ensure_rope(max_len)
        for lw in self.layers:
            if lw["attention"]:
                shape = (batch, c.kv_heads, max_len, c.attn_head_dim)
                st.append({"k": torch.zeros(shape, dtype=self.dtype, device=self.device),
                           "v": torch.zeros(shape, dtype=self.dtype, device=self.device)})
            else:
                st.append({"conv": torch.zeros(batch, c.conv_channels(), c.conv_width, dtype=self.dtype,
                                               device=self.device),
                           "ssm": torch.zeros(batch, c.heads, c.head_dim, c.d_state,
                                              dtype=self.ssm_state_dtype, device=self.device)})
        return st

    def ensure_rope(self, length):
        if self.rope_cos is None or self.rope_cos.shape[0] < length:
            self.rope_cos, self.rope_sin = rope_tables(self.cfg, length, self.device)

    @staticmethod
    def state_rows(state, b0, b1):
        """Views of rows [b0, b1) of every state tensor (writes go through)."""
        return [{k: v[b0:b1] for k, v in s.items()} for s in state]

    # ----- mixers ----------------------------------------------------------

    def _split_in_proj(self, proj):
        c = self.cfg
        Cc = c.conv_channels()
        if c.family == "llamba":  # [xBC | z | a] (§2.5 step 2)
            return proj[..., Cc:Cc + c.d_inner], proj[..., :Cc], proj[..., Cc + c.d_inner:]
        return proj[..., :c.d_inner], proj[..., c.d_inner:c.d_inner + Cc], proj[..., c.d_inner + Cc:]

    def _scan_inputs(self, lw, xbc, dt):
        """Post-conv xBC (fp32, (..., C)) and raw dt/a (..., H) -> x (..., H, P)
        (original x, for the D skip), x~ (..., H, P), log a (..., H), B and C
        broadcast to heads (..., H, N)."""
        c = self.cfg
        H, P, N = c.heads, c.head_dim, c.d_state
        lead = xbc.shape[:-1]
        if c.family == "mil":  # [x (d_xb) | B (d_xb) | C (d_inner)], GQA-style repeat (§3.5 step 5)
            r = H // c.b_groups
            x = repeat_groups(xbc[..., :c.d_xb].reshape(*lead, c.b_groups, N), r, -2)
            Bm = repeat_groups(xbc[..., c.d_xb:2 * c.d_xb].reshape(*lead, c.b_groups, N), r, -2)
            Cm = xbc[..., 2 * c.d_xb:].reshape(*lead, H, N)
        else:  # [x (d_inner) | B (G N) | C (G N)]; head h reads group h // (H / G)
            x = xbc[..., :c.d_inner].reshape(*lead, H, P)
            GN = c.b_groups * N
            Bm = xbc[..., c.d_inner:c.d_inner + GN].reshape(*lead, c.b_groups, N)
            Cm = xbc[..., c.d_inner + GN:].reshape(*lead, c.c_groups, N)
            Bm = repeat_groups(Bm, H // c.b_groups, -2)
            Cm = repeat_groups(Cm, H // c.c_groups, -2)
        if c.family == "llamba":
            # a_t = exp(-softplus(alpha)); x not scaled (§2.6)
            logA = -F.softplus(dt.float())
            xs = x
        else:
            # delta = softplus(dt + dt_bias), a = exp(delta A), x~ = delta x (§1.5)
            delta = F.softplus(dt.float() + lw["dt_bias"])
            logA = delta * lw["A"]
            xs = x * delta.unsqueeze(-1)
        return x, xs, logA, Bm, Cm

    def _ssm_out(self, lw, y, x, z):
        """D skip with the original x, then gate (Llamba: y * silu(z + z_bias),
        no norm; others: gated grouped RMSNorm), out_proj."""
        c = self.cfg
        y = y + lw["D"][:, None] * x
        y = y.reshape(*y.shape[:-2], c.d_inner)
        if c.family == "llamba":
            g = (y * F.silu(z.float() + lw["z_bias"])).to(self.dtype)
        else:
            g = gated_rms_norm(y, z, lw["gnorm"], c.norm_group, c.mixer_norm_eps, self.dtype)
        return F.linear(g, lw["out_proj"])

    def ssm_prefill(self, lw, u, st):
        """u (B, L, D) from a zero state; writes st["conv"], st["ssm"]."""
        c = self.cfg
        L, W = u.shape[1], c.conv_width
        z, xbc, dt = self._split_in_proj(F.linear(u, lw["in_proj"]))
        xt = xbc.transpose(1, 2)  # (B, C, L)
        # conv state: the last W pre-conv inputs, left-zero-padded (§1.4)
        st["conv"].copy_(xt[:, :, L - W:] if L >= W else F.pad(xt, (W - L, 0)))
        conv = F.conv1d(xt.float(), lw["conv_w32"], lw["conv_b32"], padding=W - 1, groups=xt.shape[1])[..., :L]
        conv = conv.transpose(1, 2)
        if c.family != "llamba":
            conv = F.silu(conv)  # identity for Llamba
        x, xs, logA, Bm, Cm = self._scan_inputs(lw, conv, dt)
        y, final = ssd_chunked(xs, logA, Bm, Cm, c.chunk)
        st["ssm"].copy_(final)
        return self._ssm_out(lw, y, x, z)

    def ssm_decode(self, lw, u, st):
        """u (B, D): one conv step and one recurrence step (§1.4, §1.7) in place."""
        c = self.cfg
        z, xbc, dt = self._split_in_proj(F.linear(u, lw["in_proj"]))
        conv = st["conv"]
        conv.copy_(torch.cat([conv[:, :, 1:], xbc.unsqueeze(-1)], dim=-1))  # shift left, append
        v = (conv.float() * lw["conv_w32"][:, 0, :]).sum(-1)
        if lw["conv_b32"] is not None:
            v = v + lw["conv_b32"]
        if c.family != "llamba":
            v = F.silu(v)
        x, xs, logA, Bm, Cm = self._scan_inputs(lw, v, dt)
        S = st["ssm"]
        S32 = S if S.dtype == torch.float32 else S.float()
        S32.mul_(torch.exp(logA)[..., None, None])  # H_t = a_t H_{t-1} ...
        S32.addcmul_(xs.unsqueeze(-1), Bm.unsqueeze(-2))  # ... + x~_t (outer) B_t
        if S32 is not S:
            S.copy_(S32)
        y = torch.matmul(S32, Cm.unsqueeze(-1)).squeeze(-1)  # y_t = H_t C_t
        return self._ssm_out(lw, y, x, z)

    def attn_prefill(self, lw, u, st):
        """u (B, L, D) at positions 0..L-1; writes K/V rows [0, L)."""
        c = self.cfg
        Bsz, L, _ = u.shape
        hd, Hq, Hkv = c.attn_head_dim, c.attn_heads, c.kv_heads
        q = F.linear(u, lw["q"]).reshape(Bsz, L, Hq, hd).transpose(1, 2)
        k = F.linear(u, lw["k"]).reshape(Bsz, L, Hkv, hd).transpose(1, 2)
        v = F.linear(u, lw["v"]).reshape(Bsz, L, Hkv, hd).transpose(1, 2)
        cos, sin = self.rope_cos[:L], self.rope_sin[:L]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        st["k"][:, :, :L] = k
        st["v"][:, :, :L] = v
        r = Hq // Hkv  # kv head j serves q heads j*r .. j*r+r-1
        ctx = attention(q, repeat_groups(k, r, 1), repeat_groups(v, r, 1), causal=True)
        return F.linear(ctx.transpose(1, 2).reshape(Bsz, L, Hq * hd), lw["o"])

    def attn_decode(self, lw, u, st, pos, rows):
        """u (B, D), pos (B,) positions of this token; static KV cache with a
        mask over its T positions (graph-capturable: no host sync)."""
        c = self.cfg
        Bsz = u.shape[0]
        hd, Hq, Hkv = c.attn_head_dim, c.attn_heads, c.kv_heads
        cos, sin = self.rope_cos[pos].unsqueeze(1), self.rope_sin[pos].unsqueeze(1)  # (B, 1, hd/2)
        q = apply_rope(F.linear(u, lw["q"]).reshape(Bsz, Hq, hd), cos, sin)
        k = apply_rope(F.linear(u, lw["k"]).reshape(Bsz, Hkv, hd), cos, sin)
        v = F.linear(u, lw["v"]).reshape(Bsz, Hkv, hd)
        st["k"][rows, :, pos] = k
        st["v"][rows, :, pos] = v
        T = st["k"].shape[2]
        mask = torch.arange(T, device=u.device)[None, :] <= pos[:, None]  # (B, T)
        # The r query heads of one kv head become r query rows of that head:
        # no repeated K/V (GQA without copying the cache).
        qg = q.reshape(Bsz, Hkv, Hq // Hkv, hd)
        ctx = attention(qg, st["k"], st["v"], mask=mask[:, None, None, :])
        return F.linear(ctx.reshape(Bsz, Hq * hd), lw["o"])

    # ----- blocks and model ------------------------------------------------

    def _mlp(self, lw, u):
        return F.linear(F.silu(F.linear(u, lw["gate"])) * F.linear(u, lw["up"]), lw["down"])

    def _layers(self, h, state, mixer):
        """The pre-norm blocks; mixer(i, lw, u, st) runs one mixer. Returns the
        final hidden state (and the fp32 residual of Mamba-2 LMs)."""
        c = self.cfg
        if c.family == "mamba2":
            # fused add+norm (§7.4): the block adds its input to the residual in
            # fp32 and normalizes the unrounded sum
            resid = None
            for i, lw in enumerate(self.layers):
                s = h.float() if resid is None else h.float() + resid
                resid = s if c.residual_in_fp32 else s.to(self.dtype)
                h = mixer(i, lw, rms_norm_fp32(s, lw["norm1"], c.ssm_block_eps, self.dtype), state[i])
            return h, resid
        for i, lw in enumerate(self.layers):
            if lw["attention"]:
                u = rms_norm_hf(h, lw["norm1"], c.attn_block_eps)
            elif c.family == "mil":  # MambaDecoderLayer: Triton RMSNorm
                u = rms_norm_fp32(h, lw["norm1"], c.ssm_block_eps, self.dtype)
            else:
                u = rms_norm_hf(h, lw["norm1"], c.ssm_block_eps)
            h = h + mixer(i, lw, u, state[i]).to(h.dtype)
            if c.family == "mil" and not lw["attention"]:
                u = rms_norm_fp32(h, lw["norm2"], c.ssm_block_eps, self.dtype)
            else:
                u = rms_norm_hf(h, lw["norm2"], c.attn_block_eps if lw["attention"] else c.ssm_block_eps)
            h = h + self._mlp(lw, u)
        return h, None

    def _head(self, h, resid):
        c = self.cfg
        if c.family == "mamba2":
            s = h.float() + resid
            y = rms_norm_fp32(s, self.final_norm, c.final_eps, self.dtype)
        else:
            y = rms_norm_hf(h, self.final_norm, c.final_eps)
        return F.linear(y, self.head).float()  # logits (B, V_padded), fp32

    def prefill(self, ids, state):
        """ids (B, L) from an empty state: fills it, returns the logits of the
        last position (B, V). Only the last position reaches the head."""
        h = F.embedding(ids, self.embed)

        def mixer(i, lw, u, st):
            return self.attn_prefill(lw, u, st) if lw["attention"] else self.ssm_prefill(lw, u, st)

        h, resid = self._layers(h, state, mixer)
        return self._head(h[:, -1], None if resid is None else resid[:, -1])

    def decode(self, ids, pos, state):
        """ids (B,) at positions pos (B,): one step, logits (B, V)."""
        h = F.embedding(ids, self.embed)
        rows = torch.arange(ids.shape[0], device=ids.device) if self.cfg.attn_layers else None

        def mixer(i, lw, u, st):
            return self.attn_decode(lw, u, st, pos, rows) if lw["attention"] else self.ssm_decode(lw, u, st)

        h, resid = self._layers(h, state, mixer)
        return self._head(h, resid)

    def greedy(self, logits):
        """argmax over the real vocabulary (padding rows excluded), first maximum."""
        return logits[:, :self.cfg.vocab_unpadded].argmax(-1)


def pick_device(name):
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_model(args, source, dtype, device):
    """source: a preset name or a checkpoint directory."""
    if source in PRESETS:
        cfg = preset_config(source)
        tensors = random_tensors(cfg, device, dtype, args.seed)
    else:
        cfg = load_config_dir(source)
        tensors = load_checkpoint_tensors(source, [n for n, _, _ in expected_tensors(cfg)], device, dtype)
    state_dtype = dtype if getattr(args, "ssm_state_dtype", "float32") == "model" else torch.float32
    return Model(cfg, tensors, dtype, device, state_dtype)


# ---------------------------------------------------------------------------
# check: parity with the reference JSON of ssmc-ref
# ---------------------------------------------------------------------------


def generate(model, prompts, n_new, token_by_token):
    """ssmc-ref's protocol: prefill each prompt, then n_new greedy tokens per
    sequence in one batched decode. Row k of a sequence is the distribution
    generated token k+1 is picked from (row 0: last prompt position);
    max(n_new, 1) rows. token_by_token feeds the prompts through decode
    steps instead of the chunked prefill."""
    dev = model.device
    B = len(prompts)
    state = model.alloc_state(B, max(len(p) for p in prompts) + max(n_new, 1))
    last = []
    for b, p in enumerate(prompts):
        rows = Model.state_rows(state, b, b + 1)
        if token_by_token:
            for t, tok in enumerate(p):
                logits = model.decode(torch.tensor([tok], device=dev), torch.tensor([t], device=dev), rows)
        else:
            logits = model.prefill(torch.tensor([p], device=dev), rows)
        last.append(logits[0])
    cur = torch.stack(last)
    pos = torch.tensor([len(p) for p in prompts], device=dev)
    tokens = [[] for _ in prompts]
    rows = [[] for _ in prompts]
    for step in range(max(n_new, 1)):
        for b in range(B):
            rows[b].append(cur[b].double().cpu())
        if step >= n_new:
            break
        nxt = model.greedy(cur)
        for b in range(B):
            tokens[b].append(int(nxt[b]))
        if step + 1 >= n_new:
            break
        cur = model.decode(nxt, pos, state)
        pos = pos + 1
    return tokens, rows


def compare(tokens, rows, ref):
    """Worst per-row errors against the reference: max|a-b|/max|b| (as
    test/Frontend/Inputs/compare_logits.py) and ||a-b||/||b||."""
    worst_max = worst_norm = 0.0
    problems = []
    for s, (ours, theirs) in enumerate(zip(rows, ref["logits"])):
        if len(ours) != len(theirs):
            problems.append("sequence %d: %d rows vs %d" % (s, len(ours), len(theirs)))
        for k, (a, r) in enumerate(zip(ours, theirs)):
            r = torch.tensor([float("nan") if v is None else v for v in r], dtype=torch.float64)
            if a.numel() != r.numel():
                problems.append("sequence %d row %d: width %d vs %d" % (s, k, a.numel(), r.numel()))
                continue
            keep = ~torch.isnan(r)
            a, r = a[keep], r[keep]
            d = (a - r).abs()
            e_max = float(d.max() / r.abs().max())
            e_norm = float((a - r).norm() / r.norm())
            if math.isnan(e_max) or math.isnan(e_norm):
                e_max = e_norm = float("inf")
            worst_max, worst_norm = max(worst_max, e_max), max(worst_norm, e_norm)
    same = tokens == ref["tokens"]
    return same, worst_max, worst_norm, problems


def cmd_check(args):
    global USE_SDPA
    dtype = DTYPES[args.dtype]
    device = pick_device(args.device)
    pairs = []
    if args.dir:
        with open(os.path.join(args.dir, "check-manifest.json")) as f:
            man = json.load(f)
        pairs = [(os.path.join(args.dir, e["checkpoint"]), os.path.join(args.dir, e["ref"])) for e in man["checks"]]
    else:
        if not (args.checkpoint and args.ref):
            sys.exit("check: give --checkpoint DIR --ref REF.json, or --dir DIR")
        pairs = [(args.checkpoint, args.ref)]
    print("check on %s, %s, torch %s" % (device_name(device), args.dtype, torch.__version__))
    passed = failed = 0
    models = {}
    for ckpt, refpath in pairs:
        with open(refpath) as f:
            ref = json.load(f)
        if ref["tokens"] and not isinstance(ref["tokens"][0], list):  # single unnested sequence
            ref["tokens"], ref["logits"] = [ref["tokens"]], [ref["logits"]]
        if args.prompt_ids:
            prompts = [[int(t) for t in s.split(",")] for s in args.prompt_ids.split(";")]
        elif "prompts" in ref:
            prompts = ref["prompts"]
        else:
            sys.exit("check: %s has no \"prompts\" (write it with prepare-check.sh, or give --prompt-ids)" % refpath)
        n_new = len(ref["tokens"][0])
        if ckpt not in models:
            models.clear()
            models[ckpt] = build_model(args, ckpt, dtype, device)
        model = models[ckpt]
        modes = {"prefill": [False], "decode": [True], "both": [False, True]}[args.mode]
        for tbt in modes:
            # sdpa: the efficient kernels are not full float32; the math
            # backend runs the same call with plain matmuls.
            USE_SDPA = args.sdpa
            ctx = _math_sdpa() if (args.sdpa and dtype == torch.float32) else _null()
            with torch.no_grad(), ctx:
                tokens, rows = generate(model, prompts, n_new, tbt)
            same, e_max, e_norm, problems = compare(tokens, rows, ref)
            ok = same and not problems and e_max <= args.rtol and e_norm <= args.rtol
            name = "%s %s%s" % (os.path.basename(ckpt.rstrip("/")), os.path.basename(refpath),
                                " token-by-token" if tbt else "")
            print("%s %s: tokens %s; worst relative error max-norm %.3e, 2-norm %.3e%s" % (
                "PASS" if ok else "FAIL", name, "identical" if same else "DIFFER", e_max, e_norm,
                "".join("; " + p for p in problems[:3])))
            if not same:
                print("  ours      %s\n  reference %s" % (tokens, ref["tokens"]))
            passed, failed = passed + ok, failed + (not ok)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _math_sdpa():
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        return sdpa_kernel(SDPBackend.MATH)
    except ImportError:
        return _null()


# ---------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------

OOM = "OOM"


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, fn, repeats, warmup=1, before=None):
    """Median milliseconds of fn() over `repeats` runs after `warmup` runs;
    CUDA events on the GPU. before() runs untimed ahead of each run."""
    for _ in range(warmup):
        if before:
            before()
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        if before:
            before()
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 30
    return None


def _is_oom(e):
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    text = str(e).lower()
    return (oom is not None and isinstance(e, oom)) or "out of memory" in text or "alloc_failed" in text


def guarded(device, fn):
    """fn() or "OOM"; the memory of a failed attempt is released before the
    next one (the exception, holding its frames, is gone after the except)."""
    result = None
    try:
        result = fn()
    except RuntimeError as e:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if not _is_oom(e):
            raise
        result = OOM
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def bench_prefill(model, L, repeats, gen, seed):
    dev = model.device
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    ids = torch.randint(0, model.cfg.vocab_unpadded, (1, L), generator=g).to(dev)
    state = model.alloc_state(1, L + gen)
    reset_peak(dev)
    with torch.no_grad():
        ms = timed(dev, lambda: model.prefill(ids, state), repeats)
    return {"prompt_len": L, "ms": ms, "tok_s": L / ms * 1e3, "peak_gib": peak_gib(dev)}


def make_decode_step(model, state, ids, pos):
    """One greedy decode step on static buffers: logits, next token into ids,
    pos + 1. The same function is run eagerly or captured in a CUDA graph."""
    def step():
        logits = model.decode(ids, pos, state)
        ids.copy_(model.greedy(logits))
        pos.add_(1)
    return step


def bench_decode(model, B, start_pos, cache_len, steps, repeats, graphs, eager=True, seed_state=None):
    """Decode tok/s at batch B: `steps` greedy steps from position start_pos
    (reset before every timed run) with a KV cache of cache_len positions.
    seed_state: a batch-1 state (after a real prefill) copied to every row;
    otherwise the state is zeros (the work of a step does not depend on it)."""
    dev = model.device
    state = model.alloc_state(B, cache_len)
    if seed_state is not None:
        for s, s1 in zip(state, seed_state):
            for k in s:
                s[k].copy_(s1[k].expand_as(s[k]))
    ids = torch.randint(0, model.cfg.vocab_unpadded, (B,), device=dev)
    pos = torch.full((B,), start_pos, dtype=torch.long, device=dev)
    step = make_decode_step(model, state, ids, pos)
    reset_pos = lambda: pos.fill_(start_pos)
    out = {"batch": B, "position": start_pos, "cache_len": cache_len if model.cfg.attn_layers else None}
    reset_peak(dev)
    with torch.no_grad():
        if eager:
            ms = timed(dev, lambda: [step() for _ in range(steps)], repeats, before=reset_pos)
            out["eager_ms_per_step"] = ms / steps
            out["eager_tok_s"] = B * steps / ms * 1e3
        if graphs and dev.type == "cuda":
            # Warm up on a side stream (lazy initializations must not happen
            # during capture), then capture one step and replay it.
            # Positions restart before each, so the KV writes stay inside the cache.
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                reset_pos()
                for _ in range(2):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            reset_pos()
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph):
                    step()
            except RuntimeError as e:
                if _is_oom(e):
                    raise
                # Not a memory error: keep the eager figures, report why.
                out["graph_tok_s"] = "capture failed"
                out["graph_error"] = str(e).splitlines()[0][:300]
                print("    CUDA graph capture failed: %s" % out["graph_error"], flush=True)
                graph = None
                torch.cuda.synchronize(dev)
            if graph is not None:
                ms = timed(dev, lambda: [graph.replay() for _ in range(steps)], repeats, before=reset_pos)
                out["graph_ms_per_step"] = ms / steps
                out["graph_tok_s"] = B * steps / ms * 1e3
            del graph
    out["peak_gib"] = peak_gib(dev)
    return out


def parse_list(text):
    return [int(v) for v in str(text).split(",") if v]


def bench_model(args, source, dtype, device):
    t0 = time.time()
    model = build_model(args, source, dtype, device)
    sync(device)
    c = model.cfg
    res = {"model": source, "family": c.family, "parameters": parameter_count(c),
           "weights_gib": torch.cuda.memory_allocated(device) / 2 ** 30 if device.type == "cuda" else None, "build_s": time.time() - t0,
           "prefill": [], "decode": [], "sweep": []}
    print("%s: %s, %s parameters, built in %.1f s" % (source, c.family, "{:,}".format(parameter_count(c)),
                                                       res["build_s"]), flush=True)
    has_attn = bool(c.attn_layers)
    for L in parse_list(args.prompt_len):
        r = guarded(device, lambda: bench_prefill(model, L, args.repeats, args.gen, args.seed))
        res["prefill"].append(r if r != OOM else {"prompt_len": L, "tok_s": OOM})
        print("  prefill %6d tokens: %s" % (L, _fmt_rate(res["prefill"][-1].get("tok_s"))), flush=True)

    # Decode per batch. Pure SSMs: the step's work does not depend on the
    # context length, so it is measured once (after the first prompt length).
    lengths = parse_list(args.prompt_len) if has_attn else parse_list(args.prompt_len)[:1]
    for L in lengths:
        def prefill_seed():
            st = model.alloc_state(1, L + args.gen)
            g = torch.Generator(device="cpu")
            g.manual_seed(args.seed + 1)
            ids = torch.randint(0, c.vocab_unpadded, (1, L), generator=g).to(device)
            with torch.no_grad():
                model.prefill(ids, st)
            return st

        seed = guarded(device, prefill_seed)
        if seed == OOM:
            seed = None
        for B in parse_list(args.batch):
            r = guarded(device, lambda: bench_decode(model, B, L, L + args.gen, args.gen, args.repeats,
                                                     args.graphs, seed_state=seed))
            if r == OOM:
                r = {"batch": B, "position": L, "eager_tok_s": OOM, "graph_tok_s": OOM if args.graphs else None}
            r["prompt_len"] = L
            res["decode"].append(r)
            print("  decode batch %4d after %d: eager %s, graph %s, peak %s GiB" % (
                B, L, _fmt_rate(r.get("eager_tok_s")), _fmt_rate(r.get("graph_tok_s")),
                _fmt_num(r.get("peak_gib"))), flush=True)
        del seed
        guarded(device, lambda: None)

    if args.sweep:
        use_graphs = bool(args.graphs) and device.type == "cuda"
        gens = parse_list(args.sweep_gen)
        batches = parse_list(args.sweep_batch)
        for G in (gens if has_attn else gens[:1]):
            for B in batches:
                # End of context: the cache holds G positions, the timed steps
                # write its last positions (every run restarts there).
                start = max(G - args.sweep_steps, 0)
                r = guarded(device, lambda: bench_decode(model, B, start, G, args.sweep_steps, args.repeats,
                                                         args.graphs, eager=not use_graphs))
                if r == OOM:
                    res["sweep"].append({"gen_len": G, "batch": B, "tok_s": OOM})
                    print("  sweep gen %d batch %5d: OOM (stopping this length)" % (G, B), flush=True)
                    break
                tok_s = r.get("graph_tok_s") if use_graphs else r.get("eager_tok_s")
                ms = r.get("graph_ms_per_step") if use_graphs else r.get("eager_ms_per_step")
                if ms is None:  # graph capture failed: nothing measured at this size
                    res["sweep"].append({"gen_len": G, "batch": B, "tok_s": tok_s, "error": r.get("graph_error")})
                    break
                entry = {"gen_len": G, "batch": B, "tok_s": tok_s, "ms_per_step": ms,
                         "peak_gib": r.get("peak_gib"), "graphs": use_graphs}
                if not has_attn:
                    entry["note"] = "state size independent of length: measured once for %s" % gens
                res["sweep"].append(entry)
                print("  sweep gen %d batch %5d: %s tok/s, %.2f ms/step, peak %s GiB" % (
                    G, B, _fmt_rate(tok_s), ms, _fmt_num(r.get("peak_gib"))), flush=True)
    res["total_s"] = time.time() - t0
    del model
    guarded(device, lambda: None)
    return res


def _fmt_rate(v):
    if v is None:
        return "-"
    if isinstance(v, str):  # "OOM", "capture failed"
        return v
    return "%.1f" % v if v < 1000 else "%.0f" % v


def _fmt_num(v):
    return "-" if v is None else "%.2f" % v


def print_tables(results):
    for r in results:
        print("\n== %s (%s, %s parameters, weights %s GiB) ==" % (
            r["model"], r["family"], "{:,}".format(r["parameters"]), _fmt_num(r.get("weights_gib"))))
        print("%-10s %12s %10s %10s" % ("prefill", "tokens", "tok/s", "peak GiB"))
        for p in r["prefill"]:
            print("%-10s %12d %10s %10s" % ("", p["prompt_len"], _fmt_rate(p.get("tok_s")), _fmt_num(p.get("peak_gib"))))
        print("%-10s %7s %7s %12s %12s %10s" % ("decode", "batch", "context", "eager tok/s", "graph tok/s", "peak GiB"))
        for d in r["decode"]:
            print("%-10s %7d %7d %12s %12s %10s" % ("", d["batch"], d["prompt_len"], _fmt_rate(d.get("eager_tok_s")),
                                                     _fmt_rate(d.get("graph_tok_s")), _fmt_num(d.get("peak_gib"))))
        if r["sweep"]:
            print("%-10s %7s %7s %12s %10s" % ("sweep", "gen", "batch", "tok/s", "peak GiB"))
            for s in r["sweep"]:
                print("%-10s %7d %7d %12s %10s" % ("", s["gen_len"], s["batch"], _fmt_rate(s.get("tok_s")),
                                                   _fmt_num(s.get("peak_gib"))))


def cmd_bench(args):
    dtype = DTYPES[args.dtype]
    device = pick_device(args.device)
    sources = [s for s in (args.preset or "").split(",") if s] + ([args.checkpoint] if args.checkpoint else [])
    if not sources:
        sys.exit("bench: give --preset NAME[,NAME] and/or --checkpoint DIR")
    env = {"device": device_name(device), "torch": torch.__version__, "cuda": torch.version.cuda,
           "dtype": args.dtype, "ssm_state_dtype": args.ssm_state_dtype, "graphs": bool(args.graphs),
           "repeats": args.repeats, "gen": args.gen, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print("bench on %s, torch %s (CUDA %s), %s" % (env["device"], env["torch"], env["cuda"], args.dtype), flush=True)
    results = []
    for src in sources:
        r = guarded(device, lambda: bench_model(args, src, dtype, device))
        if r == OOM:
            print("%s: OOM while building the model" % src)
            continue
        results.append(r)
        if args.json:  # write after every model: a later failure keeps what was measured
            with open(args.json, "w") as f:
                json.dump({"env": env, "results": results}, f, indent=1)
    print_tables(results)
    return 0


def cmd_describe(args):
    if args.compare_presets:
        # `ssmc make-model --list-presets` output: NAME FAMILY D_MODEL LAYERS PARAMETERS
        theirs = {}
        with open(args.compare_presets) as f:
            for line in f:
                cols = line.split()
                if len(cols) == 5 and cols[0] != "PRESET":
                    theirs[cols[0]] = int(cols[4].replace(",", ""))
        bad = 0
        for name in PRESETS:
            ours = parameter_count(preset_config(name))
            if theirs.get(name) != ours:
                print("preset %s: %s parameters here, %s in ssmc" % (name, ours, theirs.get(name, "none")))
                bad += 1
        print("presets: %d compared, %d differ" % (len(PRESETS), bad))
        return 1 if bad else 0
    if args.preset:
        for name in args.preset.split(","):
            print("== preset %s" % name)
            for k, v in describe_config(preset_config(name)):
                print("  %-30s %s" % (k, v))
    if args.checkpoint:
        cfg = load_config_dir(args.checkpoint)
        print("== %s" % args.checkpoint)
        for k, v in describe_config(cfg):
            print("  %-30s %s" % (k, v))
        found = {}
        for f in weight_files(args.checkpoint):
            if f.endswith(".safetensors"):
                header, _ = read_safetensors_header(f)
                found.update({k: v[1] for k, v in header.items()})
        if found:
            bad = 0
            for name, shape, _ in expected_tensors(cfg):
                if name not in found:
                    print("  missing tensor %s %s" % (name, shape))
                    bad += 1
                elif tuple(found[name]) != tuple(shape):
                    print("  tensor %s has shape %s, the config needs %s" % (name, found[name], shape))
                    bad += 1
            extra = set(found) - {n for n, _, _ in expected_tensors(cfg)}
            print("  tensors: %d expected, %d in the files, %d problems, extra: %s" % (
                len(expected_tensors(cfg)), len(found), bad, sorted(extra) or "none"))
            return 1 if bad else 0
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", default=None, help="cuda | cpu (default: cuda when present)")
    common.add_argument("--seed", type=int, default=0, help="seed of preset weights and prompts")
    common.add_argument("--ssm-state-dtype", choices=["float32", "model"], default="float32",
                        help="decode SSM state storage (default float32)")

    c = sub.add_parser("check", parents=[common], help="parity with an ssmc-ref JSON")
    c.add_argument("--checkpoint", help="checkpoint directory")
    c.add_argument("--ref", help="reference JSON of ssmc-ref --logits-out (with \"prompts\")")
    c.add_argument("--dir", help="a prepare-check.sh directory: run every pair it lists")
    c.add_argument("--prompt-ids", help="'1,2,3;4,5' (default: the JSON's \"prompts\")")
    c.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    c.add_argument("--rtol", type=float, default=1e-4)
    c.add_argument("--mode", choices=["prefill", "decode", "both"], default="both",
                   help="prompts through the chunked prefill, token by token through decode, or both")
    c.add_argument("--no-sdpa", dest="sdpa", action="store_false",
                   help="plain softmax attention instead of scaled_dot_product_attention")

    b = sub.add_parser("bench", parents=[common], help="prefill / decode throughput and memory")
    b.add_argument("--preset", help="comma-separated presets (random weights on the device): " + ", ".join(PRESETS))
    b.add_argument("--checkpoint", help="a checkpoint directory instead")
    b.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    b.add_argument("--batch", default="1,16,64,256")
    b.add_argument("--prompt-len", default="2048,8192")
    b.add_argument("--gen", type=int, default=32, help="decode steps per timed run")
    b.add_argument("--repeats", type=int, default=3, help="timed runs (median) after one warm-up")
    b.add_argument("--graphs", action="store_true", help="also decode with a captured CUDA graph per step")
    b.add_argument("--sweep", action="store_true",
                   help="decode throughput/memory vs batch at the end of long generations")
    b.add_argument("--sweep-gen", default="2048,8192")
    b.add_argument("--sweep-batch", default=",".join(str(2 ** i) for i in range(3, 12)))
    b.add_argument("--sweep-steps", type=int, default=16)
    b.add_argument("--json", help="write the results here")

    d = sub.add_parser("describe", help="derived sizes and tensor inventory (no torch needed)")
    d.add_argument("--preset")
    d.add_argument("--checkpoint")
    d.add_argument("--compare-presets", metavar="FILE",
                   help="check the presets' parameter counts against `ssmc make-model --list-presets` output")

    args = ap.parse_args(argv)
    if args.cmd == "describe":
        return cmd_describe(args)
    _load_torch()
    if args.cmd == "check":
        return cmd_check(args)
    return cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
