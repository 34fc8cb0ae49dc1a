#!/usr/bin/env python3
"""Writes the code section of an .ssmx artifact (runtime/Artifact.h) to a
file; with --device-image, finds the ssmc device image of a CUDA artifact in
it (targets/cuda/CUDATarget.h) and describes it."""
import struct
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    if data[:8] != b"SSMX\0\0\0\1":
        sys.exit(f"{path}: not an .ssmx artifact")
    # Header: magic, u32 format version, u32 header size, u64 file size,
    # then offset/size of manifest, code and weights.
    (_, _, _, _, _, code_off, code_size) = struct.unpack_from("<IIQQQQQ", data, 8)
    code = data[code_off:code_off + code_size]
    if "--device-image" not in sys.argv:
        open(out, "wb").write(code)
        return
    # The magic also occurs as a string constant of the launch code: the
    # image is the occurrence whose sizes fit and whose PTX ends in a NUL.
    at = code.find(b"SSMCUDA1")
    while at >= 0:
        cubin, ptx = struct.unpack_from("<II", code, at + 8)
        end = at + 16 + cubin + ptx
        if ptx and end <= len(code) and code[end - 1] == 0 and \
                code[at + 16 + cubin:at + 20 + cubin] == b"//\n/":
            break
        at = code.find(b"SSMCUDA1", at + 1)
    if at < 0:
        sys.exit("no device image in the code section")
    image = code[at:at + 16 + cubin + ptx]
    open(out, "wb").write(image)
    ptx_text = image[16 + cubin:16 + cubin + ptx].decode()
    target = next(l for l in ptx_text.splitlines() if l.startswith(".target"))
    kind = " (ELF)" if cubin and image[16:20] == b"\x7fELF" else ""
    print(f"device image: cubin {cubin} bytes{kind}, PTX {ptx} bytes, {target}")


if __name__ == "__main__":
    main()
