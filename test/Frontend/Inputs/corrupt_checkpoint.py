#!/usr/bin/env python3
"""Damages a generated checkpoint directory in one named way, for the importer's
error tests: corrupt_checkpoint.py <kind> <dir>."""
import json
import os
import struct
import sys
import zipfile

kind, d = sys.argv[1], sys.argv[2]
st = os.path.join(d, "model.safetensors")
cfg_path = os.path.join(d, "config.json")


def read_st():
    raw = open(st, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_st(header, data):
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(st, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def edit_config(fn):
    cfg = json.load(open(cfg_path))
    fn(cfg)
    json.dump(cfg, open(cfg_path, "w"))


if kind == "missing-tensor":
    h, data = read_st()
    del h["backbone.layers.1.mixer.D"]
    write_st(h, data)
elif kind == "extra-tensor":
    h, data = read_st()
    end = len(data)
    h["backbone.layers.0.mixer.extra"] = {"dtype": "F32", "shape": [4], "data_offsets": [end, end + 16]}
    write_st(h, data + b"\0" * 16)
elif kind == "wrong-shape":
    h, data = read_st()
    r, c = h["backbone.layers.0.mixer.in_proj.weight"]["shape"]
    h["backbone.layers.0.mixer.in_proj.weight"]["shape"] = [c, r]
    write_st(h, data)
elif kind == "int-dtype":
    h, data = read_st()
    h["backbone.layers.0.mixer.D"]["dtype"] = "I32"
    write_st(h, data)
elif kind == "overlap":
    h, data = read_st()
    a = h["backbone.layers.0.mixer.D"]["data_offsets"]
    b = h["backbone.layers.1.mixer.D"]
    b["data_offsets"] = [a[0], a[0] + (b["data_offsets"][1] - b["data_offsets"][0])]
    write_st(h, data)
elif kind == "header-beyond-file":
    raw = open(st, "rb").read()
    open(st, "wb").write(struct.pack("<Q", len(raw) * 4) + raw[8:])
elif kind == "truncated-weights":
    raw = open(st, "rb").read()
    open(st, "wb").write(raw[: len(raw) // 2])
elif kind == "truncated-config":
    text = open(cfg_path).read()
    open(cfg_path, "w").write(text[: len(text) // 2])
elif kind == "unknown-model-type":
    edit_config(lambda c: c.__setitem__("model_type", "rwkv"))
elif kind == "heads-not-dividing":
    edit_config(lambda c: c["ssm_cfg"].__setitem__("n_v_heads", 5))
elif kind == "missing-config":
    os.remove(cfg_path)
elif kind == "missing-weights":
    os.remove(st)
elif kind == "hostile-pickle":
    # Replace data.pkl of a PyTorch zip by a pickle that would call os.system.
    src = os.path.join(d, "pytorch_model.bin")
    with zipfile.ZipFile(src) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    with zipfile.ZipFile(src, "w", zipfile.ZIP_STORED) as z:
        for name, blob in entries:
            z.writestr(name, evil if name.endswith("data.pkl") else blob)
else:
    sys.exit("unknown corruption " + kind)
