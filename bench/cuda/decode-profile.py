#!/usr/bin/env python3
"""One decode step's kernels from an `ncu --csv --metrics gpu__time_duration.sum`
log of `ssmc-run-lite MODEL --prompt-ids ... --max-new-tokens 3` (graphs off).
Steps are split at the launches of the longest single kernel (the LM head);
prints the last whole step's total and its TOP longest launches.

usage: decode-profile.py NCU.csv [TOP]
"""
import csv, sys

rows = list(csv.reader(open(sys.argv[1])))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
hdr = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hdr]
ki, mi, ui, gi = (h.index("Kernel Name"), h.index("Metric Value"), h.index("Metric Unit"),
                  h.index("Grid Size"))
runs = []
for r in rows[hdr + 1:]:
    if len(r) <= mi or not r[mi]:
        continue
    v = float(r[mi].replace(",", ""))
    us = v / 1000 if r[ui] in ("ns", "nsecond") else v * 1000 if r[ui] in ("ms", "msecond") else v
    runs.append((r[ki], r[gi], us))
head = max(runs, key=lambda x: x[2])[0]
at = [i for i, (n, _, _) in enumerate(runs) if n == head]
if len(at) < 2:
    sys.exit(f"decode-profile: fewer than two launches of {head}: run 3 or more tokens")
step = runs[at[-2] + 1: at[-1] + 1]
print(f"decode step: {len(step)} kernels, {sum(t for *_, t in step):.1f} us GPU time "
      f"(split at {head})")
for n, g, t in sorted(step, key=lambda x: -x[2])[:top]:
    print(f"  {n[:48]:48s} grid {g:16s} {t:8.1f} us")
