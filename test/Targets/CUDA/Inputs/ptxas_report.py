#!/usr/bin/env python3
"""Summarizes `ptxas -v` output per kernel: registers, stack, spills.

usage: ptxas_report.py LOG [--fail-on-spill REGEX] [--max-registers N]

Prints one line per kernel (sorted by registers, most first) and a summary
line. Exits 1 if a kernel whose name matches REGEX spills (spill stores or
loads > 0), or uses more than N registers.
"""
import argparse
import re
import sys


def parse(text):
    kernels = {}
    current = None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)' for '(sm_\d+a?)'", line)
        if m:
            current = m.group(1)
            kernels[current] = {"sm": m.group(2), "registers": None, "stack": 0,
                                "spill_stores": 0, "spill_loads": 0}
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            k = kernels[current]
            k["stack"], k["spill_stores"], k["spill_loads"] = map(int, m.groups())
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m:
            kernels[current]["registers"] = int(m.group(1))
    return kernels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--fail-on-spill", default=None)
    ap.add_argument("--max-registers", type=int, default=None)
    args = ap.parse_args()
    kernels = parse(open(args.log).read())
    if not kernels:
        print("error: no kernels in the ptxas -v output", file=sys.stderr)
        return 1
    bad = []
    for name, k in sorted(kernels.items(), key=lambda kv: (-(kv[1]["registers"] or 0), kv[0])):
        spills = k["spill_stores"] + k["spill_loads"]
        print(f"{name:40s} {k['sm']} registers {k['registers']:3d} stack {k['stack']:5d} "
              f"spill {k['spill_stores']}/{k['spill_loads']}")
        if args.fail_on_spill and re.search(args.fail_on_spill, name) and spills:
            bad.append(f"{name} spills {k['spill_stores']} bytes (stores) / {k['spill_loads']} (loads)")
        if args.max_registers is not None and k["registers"] is not None \
                and k["registers"] > args.max_registers:
            bad.append(f"{name} uses {k['registers']} registers (limit {args.max_registers})")
    spilling = sum(1 for k in kernels.values() if k["spill_stores"] + k["spill_loads"])
    most = max(kernels.items(), key=lambda kv: kv[1]["registers"] or 0)
    print(f"summary: {len(kernels)} kernels for {most[1]['sm']}, max {most[1]['registers']} "
          f"registers ({most[0]}), {spilling} spilling")
    for b in bad:
        print("error: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
