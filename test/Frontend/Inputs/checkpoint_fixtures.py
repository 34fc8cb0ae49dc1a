#!/usr/bin/env python3
"""Writes small weight files, valid or damaged in one named way, for the
`ssmc inspect` lit tests: checkpoint_fixtures.py <kind> <output path>.

Safetensors files are built from their JSON header; PyTorch archives are
written with Python's zipfile module, their data.pkl with Python's own pickler
(stand-in `torch` modules provide the names torch.save refers to, so that the
pickle stream is what torch.save would emit, memo and all) or by hand for
hostile streams. Nothing here needs torch or numpy."""

import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile


# --- safetensors ------------------------------------------------------------

def safetensors_bytes(header, data, header_len=None):
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    text += b" " * ((8 - len(text) % 8) % 8)
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


VALID_HEADER = {
    "__metadata__": {"format": "pt"},
    "model.embed.weight": entry("F32", [2, 3], 0, 24),
    "model.norm.weight": entry("BF16", [4], 24, 32),
    "step": entry("I64", [], 32, 40),
}
VALID_DATA = bytes(range(40))


def write(path, raw):
    with open(path, "wb") as f:
        f.write(raw)


def write_sharded(d, weight_map, shards):
    os.makedirs(d, exist_ok=True)
    for name, header in shards.items():
        size = max([e["data_offsets"][1] for k, e in header.items() if k != "__metadata__"] + [0])
        write(os.path.join(d, name), safetensors_bytes(header, bytes(size)))
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)


SHARD1 = {"a.weight": entry("F16", [2, 2], 0, 8), "b.weight": entry("F32", [1], 8, 12)}
SHARD2 = {"c.weight": entry("BF16", [3], 0, 6)}
SHARD_MAP = {"a.weight": "model-00001-of-00002.safetensors",
             "b.weight": "model-00001-of-00002.safetensors",
             "c.weight": "model-00002-of-00002.safetensors"}


# --- PyTorch zip --------------------------------------------------------------

def install_fake_torch():
    """Registers modules named like torch's so that pickle refers to them."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("never called")
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    storages = {}
    for name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)
        storages[name] = cls
    return _rebuild_tensor_v2, storages


class Storage:
    def __init__(self, type_, key, numel):
        self.type, self.key, self.numel = type_, key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce_ex__(self, protocol):
        return (REBUILD, (self.storage, self.offset, tuple(self.size), tuple(self.stride),
                          False, collections.OrderedDict()))


class StatePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.type, obj.key, "cpu", obj.numel)
        return None


def state_dict_pickle(state):
    buf = io.BytesIO()
    StatePickler(buf, protocol=2).dump(state)
    return buf.getvalue()


REBUILD, STORAGES = install_fake_torch()


def torch_state():
    """A state dict like a model's: a tied pair sharing one storage, a view at
    an offset into another, and the `_metadata` attribute state_dict() sets."""
    emb = Storage(STORAGES["FloatStorage"], "0", 6)
    norm = Storage(STORAGES["BFloat16Storage"], "1", 8)
    state = collections.OrderedDict()
    state["backbone.embedding.weight"] = Tensor(emb, 0, [3, 2], [2, 1])
    state["backbone.norm.weight"] = Tensor(norm, 4, [4], [1])
    state["lm_head.weight"] = Tensor(emb, 0, [3, 2], [2, 1])
    state._metadata = collections.OrderedDict([("", {"version": 1})])
    storages = {"0": bytes(24), "1": bytes(16)}
    return state, storages


def write_torch_zip(path, pkl, storages, compress_pkl=False, byteorder=b"little",
                    folder="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{folder}/data.pkl", pkl,
                   compress_type=zipfile.ZIP_DEFLATED if compress_pkl else zipfile.ZIP_STORED)
        if byteorder is not None:
            z.writestr(f"{folder}/byteorder", byteorder)
        for key, data in storages.items():
            z.writestr(f"{folder}/data/{key}", data)
        z.writestr(f"{folder}/version", b"3\n")


def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "safetensors":
        write(out, safetensors_bytes(VALID_HEADER, VALID_DATA))
    elif kind == "truncated":
        write(out, safetensors_bytes(VALID_HEADER, VALID_DATA)[:-10])
    elif kind == "truncated-header":
        write(out, safetensors_bytes(VALID_HEADER, VALID_DATA)[:60])
    elif kind == "header-too-long":
        write(out, safetensors_bytes(VALID_HEADER, VALID_DATA, header_len=4096))
    elif kind == "header-absurd":
        write(out, safetensors_bytes(VALID_HEADER, VALID_DATA, header_len=1 << 60))
    elif kind == "overlap":
        header = dict(VALID_HEADER)
        header["model.norm.weight"] = entry("BF16", [4], 16, 24)
        write(out, safetensors_bytes(header, VALID_DATA))
    elif kind == "bad-json":
        write(out, safetensors_bytes(b'{"model.embed.weight": {"dtype": "F32", "shape": [2, 3]', b""))
    elif kind == "deep-json":
        write(out, safetensors_bytes(b"[" * 100000 + b"]" * 100000, b""))
    elif kind == "unknown-dtype":
        header = dict(VALID_HEADER)
        header["model.norm.weight"] = entry("F8_E4M3", [8], 24, 32)
        write(out, safetensors_bytes(header, VALID_DATA))
    elif kind == "negative-dim":
        header = dict(VALID_HEADER)
        header["model.norm.weight"] = entry("BF16", [-4], 24, 32)
        write(out, safetensors_bytes(header, VALID_DATA))
    elif kind == "size-mismatch":
        header = dict(VALID_HEADER)
        header["model.embed.weight"] = entry("F32", [2, 2], 0, 24)
        write(out, safetensors_bytes(header, VALID_DATA))
    elif kind == "sharded":
        write_sharded(out, SHARD_MAP, {"model-00001-of-00002.safetensors": SHARD1,
                                       "model-00002-of-00002.safetensors": SHARD2})
    elif kind == "sharded-missing":
        write_sharded(out, SHARD_MAP, {"model-00001-of-00002.safetensors": SHARD1})
    elif kind == "sharded-unlisted":
        weight_map = dict(SHARD_MAP)
        del weight_map["b.weight"]
        write_sharded(out, weight_map, {"model-00001-of-00002.safetensors": SHARD1,
                                        "model-00002-of-00002.safetensors": SHARD2})
    elif kind == "sharded-duplicate":
        shard2 = dict(SHARD2)
        shard2["a.weight"] = entry("F16", [2, 2], 8, 16)
        write_sharded(out, SHARD_MAP, {"model-00001-of-00002.safetensors": SHARD1,
                                       "model-00002-of-00002.safetensors": shard2})
    elif kind == "torch":
        state, storages = torch_state()
        write_torch_zip(out, state_dict_pickle(state), storages)
    elif kind == "torch-zip64":
        # Lower zipfile's ZIP64 thresholds so that this small archive gets
        # ZIP64 extra fields, end record and locator, as a >4 GB one would.
        zipfile.ZIP64_LIMIT = 16
        zipfile.ZIP_FILECOUNT_LIMIT = 2
        state, storages = torch_state()
        write_torch_zip(out, state_dict_pickle(state), storages, folder="pytorch_model")
        with zipfile.ZipFile(out) as z:  # make sure the records really are ZIP64
            assert any(i.extra[:2] == b"\x01\x00" for i in z.infolist())
    elif kind == "torch-hostile":
        # What `pickle.dumps(Evil())` would be if Evil.__reduce__ returned
        # (os.system, ("echo pwned",)), with the module spelled `os`.
        pkl = b"\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
        write_torch_zip(out, pkl, {})
    elif kind == "torch-opcode":
        # INST (a protocol-0 way to call a class) is not something torch.save emits.
        pkl = b"\x80\x02(ibuiltins\nlist\n."
        write_torch_zip(out, pkl, {})
    elif kind == "torch-compressed":
        state, storages = torch_state()
        write_torch_zip(out, state_dict_pickle(state), storages, compress_pkl=True)
    elif kind == "torch-big-endian":
        state, storages = torch_state()
        write_torch_zip(out, state_dict_pickle(state), storages, byteorder=b"big")
    elif kind == "torch-noncontiguous":
        state, storages = torch_state()
        state["backbone.embedding.weight"] = Tensor(state["lm_head.weight"].storage, 0, [3, 2],
                                                    [1, 3])
        write_torch_zip(out, state_dict_pickle(state), storages)
    elif kind == "torch-out-of-bounds":
        state, storages = torch_state()
        state["backbone.norm.weight"] = Tensor(state["backbone.norm.weight"].storage, 6, [4], [1])
        write_torch_zip(out, state_dict_pickle(state), storages)
    elif kind == "torch-missing-storage":
        state, storages = torch_state()
        del storages["1"]
        write_torch_zip(out, state_dict_pickle(state), storages)
    else:
        sys.exit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
