#!/usr/bin/env python3
"""Compares two ssmc-ref --logits-out files.

Checks the layout ({"tokens": [[...]], "logits": [[[...]]]}, max(N, 1) logits
rows per sequence, all values finite, each token the argmax of its row below
--vocab), that the generated tokens are identical,
and that the logits agree: per sequence, the largest absolute difference divided
by the largest absolute value of the second file must not exceed --rtol.
"""
import argparse
import json
import math
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    if set(data) != {"tokens", "logits"}:
        sys.exit(f"{path}: expected keys tokens and logits, got {sorted(data)}")
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rtol", type=float, default=1e-10)
    ap.add_argument("--sequences", type=int, help="expected number of sequences")
    ap.add_argument("--tokens", type=int, help="expected generated tokens per sequence")
    ap.add_argument("--vocab", type=int, help="unpadded vocabulary: check tokens are the argmax below it")
    args = ap.parse_args()
    a, b = load(args.a), load(args.b)

    for name, d in ((args.a, a), (args.b, b)):
        if len(d["tokens"]) != len(d["logits"]):
            sys.exit(f"{name}: {len(d['tokens'])} token lists but {len(d['logits'])} logits lists")
        if args.sequences is not None and len(d["tokens"]) != args.sequences:
            sys.exit(f"{name}: {len(d['tokens'])} sequences, expected {args.sequences}")
        for s, (toks, rows) in enumerate(zip(d["tokens"], d["logits"])):
            if args.tokens is not None and len(toks) != args.tokens:
                sys.exit(f"{name}: sequence {s} has {len(toks)} tokens, expected {args.tokens}")
            if len(rows) != max(len(toks), 1):
                sys.exit(f"{name}: sequence {s} has {len(rows)} logits rows for {len(toks)} tokens")
            for r, row in enumerate(rows):
                if not row or len(row) != len(rows[0]):
                    sys.exit(f"{name}: sequence {s} row {r} has width {len(row)}")
                if not all(math.isfinite(v) for v in row):
                    sys.exit(f"{name}: sequence {s} row {r} has a non-finite value")
                # Greedy: the token is the first maximum among the real ids.
                if args.vocab is not None and r < len(toks):
                    cand = row[: args.vocab]
                    if toks[r] != cand.index(max(cand)):
                        sys.exit(f"{name}: sequence {s} token {r} = {toks[r]} is not the argmax of its row")

    if a["tokens"] != b["tokens"]:
        sys.exit(f"tokens differ:\n  {args.a}: {a['tokens']}\n  {args.b}: {b['tokens']}")
    worst = 0.0
    for s, (ra, rb) in enumerate(zip(a["logits"], b["logits"])):
        if len(ra) != len(rb) or any(len(x) != len(y) for x, y in zip(ra, rb)):
            sys.exit(f"sequence {s}: logits shapes differ")
        diff = max(abs(x - y) for xr, yr in zip(ra, rb) for x, y in zip(xr, yr))
        ref = max(abs(y) for yr in rb for y in yr)
        rel = diff / ref if ref > 0 else (0.0 if diff == 0 else math.inf)
        if rel > args.rtol:
            sys.exit(f"sequence {s}: logits differ, relative {rel:.3e} > {args.rtol:.1e}")
        worst = max(worst, rel)
    print(f"ok: {len(a['tokens'])} sequences, tokens identical, "
          f"max relative logits difference {worst:.1e} <= {args.rtol:.0e}")


if __name__ == "__main__":
    main()
