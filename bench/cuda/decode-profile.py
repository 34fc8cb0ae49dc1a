#!/usr/bin/env python3
"""One decode step's kernels from an `ncu --csv --metrics gpu__time_duration.sum`
log of `ssmc-run-lite MODEL --prompt-ids ... --max-new-tokens 3` (graphs off):
the launches between the last two launches of the LM head kernel (the one
kernel with the most GPU time), grouped by the kernel's position in a layer.

usage: decode-profile.py NCU.csv LAYERS
"""
import collections, csv, sys

rows = list(csv.reader(open(sys.argv[1])))
layers = int(sys.argv[2])
hdr = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hdr]
ki, mi, ui, gi = h.index("Kernel Name"), h.index("Metric Value"), h.index("Metric Unit"), h.index("Grid Size")
runs = []
for r in rows[hdr + 1:]:
    if len(r) <= mi or not r[mi]:
        continue
    v = float(r[mi].replace(",", ""))
    us = v / 1000 if r[ui] in ("ns", "nsecond") else v * 1000 if r[ui] in ("ms", "msecond") else v
    runs.append((r[ki], r[gi], us))
tot = collections.Counter()
for n, _, t in runs:
    tot[n] += t
head = max(tot, key=tot.get)
at = [i for i, (n, _, _) in enumerate(runs) if n == head]
step = runs[at[-2] + 1: at[-1] + 1]
print(f"decode step: {len(step)} kernels, {sum(t for *_, t in step):.1f} us GPU time (LM head {head}: {step[-1][2]:.1f} us)")
body = [k for k in step[:-1]]
per = len(body) // layers if layers else 0
print(f"per layer ({per} kernels, layer 1 of {layers}):")
for n, g, t in body[per:2 * per]:
    print(f"  {n:24s} grid {g:16s} {t:8.1f} us")
