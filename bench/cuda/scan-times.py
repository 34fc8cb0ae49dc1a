#!/usr/bin/env python3
"""GPU time of one layer's chunked scan from an `ncu --csv --metrics
gpu__time_duration.sum -k regex:...` log that profiled only that layer's scan
kernels (see scan-kernels.py): the sum over all their launches, i.e. over
every prefill call the prompt took.

usage: scan-times.py NCU.csv TOKENS [CALLS]  -> per-kernel totals and the
scan's total; with CALLS, also that total times CALLS (a prompt CALLS times
as long, run as CALLS prefill calls of TOKENS each).
"""
import collections, csv, sys

rows = list(csv.reader(open(sys.argv[1])))
tokens = int(sys.argv[2])
calls = int(sys.argv[3]) if len(sys.argv) > 3 else 1
hdr = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hdr]
ki, mi, ui = h.index("Kernel Name"), h.index("Metric Value"), h.index("Metric Unit")
tot = collections.defaultdict(float)
cnt = collections.Counter()
for r in rows[hdr + 1:]:
    if len(r) <= mi or not r[mi]:
        continue
    v = float(r[mi].replace(",", ""))
    us = v / 1000 if r[ui] in ("ns", "nsecond") else v * 1000 if r[ui] in ("ms", "msecond") else v
    tot[r[ki]] += us
    cnt[r[ki]] += 1
for k in sorted(tot, key=lambda k: int(k.rsplit("_", 1)[1]) if "_" in k else -1):
    print(f"{k:24s} {cnt[k]:4d} launches {tot[k]:10.1f} us")
total = sum(tot.values())
print(f"chunked scan of one layer over {tokens} tokens: {total / 1000:.3f} ms GPU time "
      f"({len(tot)} kernels, {sum(cnt.values())} launches)")
if calls > 1:
    print(f"x{calls} calls ({tokens * calls} tokens): {total * calls / 1000:.3f} ms")
