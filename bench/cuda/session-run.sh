#!/usr/bin/env bash
# One GPU lease, everything in one call (the device machine has no LLVM; the
# bundles come from `run-on-device.sh --prepare` and `bench-on-device.sh
# --prepare`). Steps, each optional by flag:
#   parity   tiny models of the four families vs the reference (gpu-check)
#   ab       A/B on llamba-1b: CUDA graphs on/off (decode batch 1), cuBLAS
#            on/off (prefill 2048)
#   bench    ssmc-run-lite bench on the presets in gpu-bench
#   torch    the PyTorch baseline: parity check and bench of the same presets
# usage: bench/cuda/session-run.sh [--check DIR] [--bench DIR] [--torch DIR]
#          [--presets "..."] [--batch B] [--prompt-len P] [--gen G]
#          [--budget S] [--steps "parity ab bench torch"]
# Writes logs and JSON under $OUT (or ./session-out).
set -uo pipefail
CHECK=build/gpu-check BENCH=build/gpu-bench TORCH=out/torch-check
PRESETS="llamba-1b llamba-8b" BATCH=1,16,64,256 PROMPT=2048,8192 GEN=32 BUDGET=200
STEPS="parity ab bench torch"
while [ $# -gt 0 ]; do
  case "$1" in
    --check) CHECK=$2; shift 2 ;; --bench) BENCH=$2; shift 2 ;; --torch) TORCH=$2; shift 2 ;;
    --presets) PRESETS=$2; shift 2 ;; --batch) BATCH=$2; shift 2 ;;
    --prompt-len) PROMPT=$2; shift 2 ;; --gen) GEN=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;; --steps) STEPS=$2; shift 2 ;;
    *) echo "session-run: unknown option $1" >&2; exit 2 ;;
  esac
done
O=${OUT:-session-out}; mkdir -p "$O"
has() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
date -u
# cuBLAS: the one of the Python wheels (the runtime dlopens it).
CUBLAS=$(find /opt /usr/local /usr/lib -name 'libcublas.so.1[0-9]*' 2>/dev/null | grep -v Lt | head -1)
if [ -n "$CUBLAS" ]; then
  export SSMC_CUBLAS=$CUBLAS LD_LIBRARY_PATH=$(dirname "$CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
echo "cublas: ${CUBLAS:-none found}"
RUN=$BENCH/ssmc-run-lite
[ -d "$BENCH/fallback-lib" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$BENCH/fallback-lib
if has parity; then
  echo "== parity (tiny models, four families)"
  timeout 150 bash test/E2E/gpu/run-on-device.sh --prepared "$CHECK" --sanitize > "$O/parity.log" 2>&1
  grep -E "^(PASS|FAIL)|gpu e2e" "$O/parity.log" | cut -c1-160
  echo "== parity without cuBLAS (the kernels' own fallback)"
  SSMC_CUBLAS=none timeout 100 bash test/E2E/gpu/run-on-device.sh --prepared "$CHECK" > "$O/parity-nocublas.log" 2>&1
  tail -1 "$O/parity-nocublas.log"
fi
if has ab; then
  A=$BENCH/llamba-1b.ssmx
  echo "== A/B llamba-1b"
  for g in 1 0; do
    SSMC_CUDA_GRAPHS=$g timeout 60 "$RUN" bench "$A" --batch 1 --prompt-len 128 --gen 64 > "$O/ab-graphs$g.txt" 2>&1
    echo "graphs=$g: $(grep -E '^decode' "$O/ab-graphs$g.txt" | head -2 | tr '\n' ' ')"
  done
  for c in "$CUBLAS" none; do
    SSMC_CUBLAS=$c timeout 90 "$RUN" bench "$A" --batch 1 --prompt-len 2048 --gen 4 > "$O/ab-cublas-$(basename "$c").txt" 2>&1
    echo "cublas=$(basename "$c"): $(grep -E '^prefill' "$O/ab-cublas-$(basename "$c").txt" | head -2 | tr '\n' ' ')"
  done
fi
if has bench; then
  for p in $PRESETS; do
    echo "== bench $p"
    timeout $((BUDGET + 120)) "$RUN" bench "$BENCH/$p.ssmx" --batch "$BATCH" --prompt-len "$PROMPT" \
      --gen "$GEN" --budget-seconds "$BUDGET" --json "$O/$p.json" > "$O/$p.txt" 2>&1
    echo "rc=$?"; tail -20 "$O/$p.txt" | cut -c1-150
  done
fi
if has torch; then
  echo "== torch check"
  timeout 120 python3 bench/torch/baseline.py check --dir "$TORCH" > "$O/torch-check.log" 2>&1
  tail -4 "$O/torch-check.log"
  echo "== torch bench"
  PYTHONUNBUFFERED=1 timeout $((BUDGET + 60)) python3 bench/torch/baseline.py bench --preset "${PRESETS// /,}" \
    --dtype bfloat16 --batch "$BATCH" --prompt-len "$PROMPT" --gen "$GEN" --graphs \
    --json "$O/torch-bench.json" > "$O/torch-bench.log" 2>&1
  tail -25 "$O/torch-bench.log" | cut -c1-150
fi
date -u
