#!/usr/bin/env python3
"""Sums an `ncu --csv --metrics gpu__time_duration.sum` log per kernel name.

usage: kernel-times.py NCU.csv [TOP]  -> total GPU time, kernel count, and the
TOP kernels by total time (name, launches, total us, mean us).
"""
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
hdr = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hdr]
ki, mi, ui = h.index("Kernel Name"), h.index("Metric Value"), h.index("Metric Unit")
tot = collections.defaultdict(float); cnt = collections.Counter()
for r in rows[hdr + 1:]:
    if len(r) <= mi or not r[mi]:
        continue
    v = float(r[mi].replace(",", ""))
    unit = r[ui]
    us = v / 1000 if unit in ("nsecond", "ns") else v * 1000 if unit in ("msecond", "ms") else v
    tot[r[ki]] += us; cnt[r[ki]] += 1
print(f"kernels: {sum(cnt.values())} launches, {sum(tot.values()):.0f} us total")
for k, t in sorted(tot.items(), key=lambda x: -x[1])[:top]:
    print(f"{k[:40]:40s} {cnt[k]:6d} {t:12.1f} {t / cnt[k]:10.1f}")
