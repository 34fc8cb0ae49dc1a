#!/usr/bin/env python3
"""Feeds ssmc-opt damaged IR and checks it fails cleanly.

For each seed file: truncations at many byte offsets, random byte flips, and
random garbage. ssmc-opt must exit 0 (the damage happened to leave valid IR) or
1 with a located diagnostic ("file:line:col: error:"); a signal, another exit
status, or a run over the time limit is a failure. Prints one line per failure
and a summary; exits 1 if anything failed.
"""
import os
import random
import re
import subprocess
import sys
import tempfile

opt, out_dir, *seeds = sys.argv[1:]
rng = random.Random(1234)
located = re.compile(rb":\d+:\d+: error:")
failures = 0
runs = 0


def check(data, what):
    global failures, runs
    runs += 1
    path = os.path.join(out_dir, "case.mlir")
    with open(path, "wb") as f:
        f.write(data)
    try:
        p = subprocess.run([opt, path, "-split-input-file"], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        failures += 1
        print(f"FAIL {what}: timed out")
        return
    if p.returncode == 0:
        return
    if p.returncode != 1:
        failures += 1
        print(f"FAIL {what}: exit status {p.returncode}\n{p.stderr.decode(errors='replace')[-2000:]}")
    elif not located.search(p.stderr):
        failures += 1
        print(f"FAIL {what}: no located diagnostic\n{p.stderr.decode(errors='replace')[-2000:]}")


for seed in seeds:
    text = open(seed, "rb").read()
    name = os.path.basename(seed)
    for cut in sorted(set(rng.randrange(1, len(text)) for _ in range(30))):
        check(text[:cut], f"{name} truncated at {cut}")
    for i in range(20):
        data = bytearray(text)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        check(bytes(data), f"{name} flip #{i}")
for i in range(10):
    check(bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096))), f"garbage #{i}")

print(f"{runs} runs, {failures} failures")
sys.exit(1 if failures else 0)
