#!/usr/bin/env python3
"""Compares `ssmc run --logits-out` (compiled code) with `ssmc-ref --logits-out`
(the independent double-precision reference).

Checks that the generated tokens are identical and that, for every returned
position of every sequence, max|a - b| / max|b| over the real vocabulary
(entries the compiled model masks as padding are null and skipped) is at most
--rtol. Prints the worst relative error; exits 1 on any mismatch.
--logits-only skips the token comparison (for rounding that may flip a
near-tie argmax); the logits are still checked."""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("compiled")
ap.add_argument("reference")
ap.add_argument("--rtol", type=float, required=True)
ap.add_argument("--logits-only", action="store_true")
args = ap.parse_args()
a = json.load(open(args.compiled))
b = json.load(open(args.reference))


def per_sequence(data):
    toks, logits = data["tokens"], data["logits"]
    if toks and not isinstance(toks[0], list):  # single prompt: unnested
        toks, logits = [toks], [logits]
    return toks, logits


ta, la = per_sequence(a)
tb, lb = per_sequence(b)
ok = True
if ta != tb and not args.logits_only:
    print(f"tokens differ:\n  compiled  {ta}\n  reference {tb}")
    ok = False
if len(la) != len(lb):
    sys.exit(f"{len(la)} sequences vs {len(lb)}")
worst = 0.0
for s, (rows_a, rows_b) in enumerate(zip(la, lb)):
    if len(rows_a) != len(rows_b):
        print(f"sequence {s}: {len(rows_a)} logits rows vs {len(rows_b)}")
        ok = False
    for k, (ra, rb) in enumerate(zip(rows_a, rows_b)):
        pairs = [(x, y) for x, y in zip(ra, rb) if x is not None]
        scale = max(abs(y) for _, y in pairs)
        err = max(abs(x - y) for x, y in pairs) / scale
        worst = max(worst, err)
        if err > args.rtol:
            print(f"sequence {s} row {k}: relative error {err:.3e} > {args.rtol:g}")
            ok = False
same = "identical" if ta == tb else ("differ (not checked)" if args.logits_only else "DIFFER")
print(f"tokens {same}; worst relative error {worst:.3e}")
sys.exit(0 if ok else 1)
