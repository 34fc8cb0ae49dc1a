#!/usr/bin/env python3
"""Checks the --json output of ssmc bench / ssmc-run-lite bench: every key,
consistent figures per run. Prints one summary line for FileCheck."""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--gen", type=int, required=True)
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--streaming", action="store_true")
    ap.add_argument("--failed", type=int, default=0)
    ap.add_argument("--skipped", type=int, default=0)
    a = ap.parse_args()
    with open(a.path) as f:
        r = json.load(f)

    def need(cond, what):
        if not cond:
            sys.exit("bench json: " + what)

    for key in ("artifact", "family", "dtype", "target", "vocab", "weight_bytes", "parameters",
                "matmul_parameters_per_token", "lm_head_parameters", "synthetic_weights",
                "load_seconds", "synthesis_seconds", "threads", "gen", "peak_rss_bytes", "runs"):
        need(key in r, "missing " + key)
    need(r["synthetic_weights"] == a.synthetic, "synthetic_weights")
    need(r["gen"] == a.gen, "gen")
    need(r["weight_bytes"] > 0 and r["parameters"] > 0, "weights")
    need(0 < r["matmul_parameters_per_token"] < r["parameters"], "matmul parameters")
    need(r["load_seconds"] >= r["synthesis_seconds"] >= 0, "load time")
    need(a.synthetic == (r["synthesis_seconds"] > 0), "synthesis time")
    need(("streaming_read_bytes_per_s" in r) == a.streaming, "streaming bandwidth")
    need(len(r["runs"]) == a.runs, "number of runs")
    failed = skipped = 0
    for run in r["runs"]:
        b, p = run["batch"], run["prompt_len"]
        if run["skipped"]:
            skipped += 1
            need(run["error"] is None and "prefill_seconds" not in run, "skipped run")
            continue
        if run["error"] is not None:
            failed += 1
            continue
        need(run["prefill_tokens"] == b * p, "prefill tokens")
        need(run["prefill_seconds"] > 0, "prefill seconds")
        need(abs(run["prefill_tokens_per_s"] * run["prefill_seconds"] - b * p) < 1e-6 * b * p,
             "prefill rate")
        flops = 2 * (r["matmul_parameters_per_token"] * b * p + r["lm_head_parameters"] * b)
        need(abs(run["prefill_matmul_flops"] - flops) <= 1e-6 * flops, "prefill flops")
        need(run["decode_steps"] == a.gen, "decode steps")
        need(abs(run["decode_tokens_per_s"] * run["decode_seconds"] - b * a.gen) < 1e-6 * b * a.gen,
             "decode rate")
        need(abs(run["decode_weight_bytes_per_s"] * run["decode_step_seconds"] - r["weight_bytes"])
             < 1e-6 * r["weight_bytes"], "decode weight bandwidth")
    need(failed == a.failed, "failed runs: %d" % failed)
    need(skipped == a.skipped, "skipped runs: %d" % skipped)
    print("bench json ok: %d runs, weight_bytes %d, parameters %d"
          % (len(r["runs"]), r["weight_bytes"], r["parameters"]))


if __name__ == "__main__":
    main()
