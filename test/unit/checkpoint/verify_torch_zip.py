"""Checks a PyTorch zip checkpoint with Python's own zipfile and pickle modules
(torch itself is not needed) and prints one line per state-dict entry:
    name storage_type key location numel offset [size] [stride] requires_grad num_hooks
Used by the checkpoint unit tests to confirm that ssmc's writer produces
archives that Python's readers accept. Exits non-zero on any problem."""

import collections
import io
import pickle
import struct
import sys
import zipfile


class StateDictUnpickler(pickle.Unpickler):
    """Resolves only the names torch.save uses for a state dict."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            def rebuild(storage, offset, size, stride, requires_grad, hooks, *metadata):
                return (storage, offset, size, stride, requires_grad, hooks)
            return rebuild
        if module == "torch" and name.endswith("Storage"):
            return name
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        return pid


def main(path):
    with open(path, "rb") as f:
        raw = f.read()
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()  # reads every entry and checks its CRC-32
        if bad is not None:
            sys.exit(f"CRC mismatch in {bad}")
        for info in z.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                sys.exit(f"{info.filename} is compressed")
            sig, = struct.unpack_from("<I", raw, info.header_offset)
            if sig != 0x04034B50:
                sys.exit(f"{info.filename}: no local header")
            name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
            start = info.header_offset + 30 + name_len + extra_len
            if start % 64 != 0:
                sys.exit(f"{info.filename}: data at {start} is not 64-byte aligned")
        names = z.namelist()
        folder = names[0].split("/")[0]
        for required in ("data.pkl", "version"):
            if f"{folder}/{required}" not in names:
                sys.exit(f"missing {folder}/{required}")
        pkl = z.read(f"{folder}/data.pkl")
        if pkl[:2] != b"\x80\x02":
            sys.exit("data.pkl is not a protocol-2 pickle")
        state = StateDictUnpickler(io.BytesIO(pkl)).load()
        if not isinstance(state, collections.OrderedDict):
            sys.exit("data.pkl does not hold an OrderedDict")
        for key, (storage, offset, size, stride, requires_grad, hooks) in state.items():
            tag, storage_type, storage_key, location, numel = storage
            if tag != "storage" or f"{folder}/data/{storage_key}" not in names:
                sys.exit(f"{key}: bad storage {storage}")
            print(key, storage_type, storage_key, location, numel, offset, list(size),
                  list(stride), requires_grad, len(hooks))


if __name__ == "__main__":
    main(sys.argv[1])
