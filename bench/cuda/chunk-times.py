#!/usr/bin/env python3
"""GPU time of the chunked scan's loop body per chunk and layer, from an
`ncu --csv --metrics gpu__time_duration.sum` log of a prefill of whole chunks
and the kernel names of the loop (chunk-kernels.py; the same per layer, in
order, `per_layer` of them).

usage: chunk-times.py NCU.csv NAMES.txt LAYERS CHUNKS
Prints the mean time of each kernel position of the loop body and their sum:
the scan's GPU time per chunk of one layer (kernel durations only, no launch
gaps), and that sum times 256 (one layer over 32K tokens in 128-token chunks).
"""
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
names = [n.strip() for n in open(sys.argv[2]) if n.strip()]
layers, chunks = int(sys.argv[3]), int(sys.argv[4])
per_layer = len(names) // layers
pos = {n: i % per_layer for i, n in enumerate(names)}
hdr = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hdr]
ki, mi, ui = h.index("Kernel Name"), h.index("Metric Value"), h.index("Metric Unit")
tot = collections.defaultdict(float)
for r in rows[hdr + 1:]:
    if len(r) <= mi or not r[mi] or r[ki] not in pos:
        continue
    v = float(r[mi].replace(",", ""))
    us = v / 1000 if r[ui] == "nsecond" else v * 1000 if r[ui] == "msecond" else v
    tot[pos[r[ki]]] += us
total = 0.0
for p in range(per_layer):
    mean = tot[p] / (layers * chunks)
    total += mean
    print(f"kernel {p}: {mean:8.1f} us per chunk and layer")
print(f"chunk body: {total:.1f} us per 128-token chunk of one layer; x256 (32K tokens): {total * 256 / 1000:.2f} ms")
