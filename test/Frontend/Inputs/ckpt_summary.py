#!/usr/bin/env python3
"""Prints what a checkpoint directory holds, one line per tensor, sorted by name:

    config <file> <key>=<value> ...    top-level keys of config.json / mamba_config.json
    <name> <dtype> [shape] [storage k]  from safetensors headers or a PyTorch zip's data.pkl

Reads the files with the standard library only (no torch, no safetensors), so
the lit tests check the files ssmc writes against independent readers. The
pickle is read with a restricted unpickler that knows only the few globals
torch.save uses for tensors.
"""
import collections
import json
import os
import pickle
import struct
import sys
import zipfile

STORAGE_DTYPES = {"FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16"}


class _Storage:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, *rest):
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return _Storage(name)
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        return (pid[1].name, pid[2], pid[4])


def summarize_safetensors(path, out):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        size = os.path.getsize(path)
    if n % 8 != 0:
        out.append(f"error {path}: header length {n} is not a multiple of 8")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            out.append(f"metadata {json.dumps(info, sort_keys=True)}")
            continue
        begin, stop = info["data_offsets"]
        end = max(end, stop)
        out.append(f"{name} {info['dtype']} {info['shape']}")
    if 8 + n + end != size:
        out.append(f"error {path}: data ends at {8 + n + end}, file has {size} bytes")


def summarize_zip(path, out):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl")]
        if len(pkl) != 1:
            out.append(f"error {path}: {len(pkl)} data.pkl entries")
            return
        prefix = pkl[0][: -len("data.pkl")]
        state = _Unpickler(z.open(pkl[0])).load()
        for name, (_, (storage, key, numel), offset, size, stride) in state.items():
            entry = z.getinfo(f"{prefix}data/{key}")
            itemsize = {"F32": 4, "F16": 2, "BF16": 2}[STORAGE_DTYPES[storage]]
            if entry.file_size != numel * itemsize or entry.compress_type != zipfile.ZIP_STORED:
                out.append(f"error {path}: storage {key} is not {numel} stored elements")
            out.append(f"{name} {STORAGE_DTYPES[storage]} {list(size)} storage {key}")


def main():
    d = sys.argv[1]
    out = []
    for cfg in ("config.json", "mamba_config.json"):
        p = os.path.join(d, cfg)
        if os.path.exists(p):
            with open(p) as f:
                c = json.load(f)
            keys = " ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(c.items())
                            if k != "_name_or_path")
            print(f"config {cfg} {keys}")
    tensors = []
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        if f.endswith(".safetensors"):
            print(f"file {f}")
            summarize_safetensors(p, tensors)
        elif f.endswith(".bin"):
            print(f"file {f}")
            summarize_zip(p, tensors)
        elif f.endswith(".index.json"):
            with open(p) as fh:
                index = json.load(fh)
            print(f"file {f} total_size={index['metadata']['total_size']} "
                  f"shards={len(set(index['weight_map'].values()))}")
    for line in sorted(tensors):
        print(line)
    print(f"tensors {sum(1 for t in tensors if not t.startswith(('metadata', 'error')))}")


if __name__ == "__main__":
    main()
