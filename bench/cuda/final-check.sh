#!/usr/bin/env bash
# Parity after the last kernel changes (tiny models of four families; a
# default-llamba with d_model 512, which takes the block-reduction and warp
# projection kernels, synthesized on the device, with and without cuBLAS),
# then the PyTorch baseline: its parity check and its bench.
set -uo pipefail
O=${OUT:-final-out}; mkdir -p "$O"
C=$(find /opt /usr/local -name 'libcublas.so.13' 2>/dev/null | head -1)
export SSMC_CUBLAS=$C LD_LIBRARY_PATH=$(dirname "$C"):build/gpu-check/fallback-lib
timeout 150 bash test/E2E/gpu/run-on-device.sh --prepared build/gpu-check > "$O/parity.log" 2>&1
grep -E "^(PASS|FAIL)|gpu e2e|error" "$O/parity.log" | head -24
X=build/gpu-extra P="1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24;5,6,7"
for c in "$C" none; do
  SSMC_CUBLAS=$c build/gpu-check/ssmc-run-lite $X/default-llamba.ssmx --prompt-ids "$P" --max-new-tokens 8 \
    --logits-out "$O/dl.json" > /dev/null && echo "default-llamba cublas=$(basename "$c"): $(python3 $X/compare_logits.py "$O/dl.json" $X/default-llamba.ref.json --rtol 1e-4 2>&1 | tail -1)"
done
timeout 100 python3 bench/torch/baseline.py check --dir out/torch-check > "$O/torch-check.log" 2>&1
tail -3 "$O/torch-check.log"
PYTHONUNBUFFERED=1 timeout 330 python3 bench/torch/baseline.py bench --preset llamba-1b,llamba-8b --dtype bfloat16 \
  --batch 1,16,64,256 --prompt-len 2048,8192 --gen 32 --graphs --json "$O/torch-bench.json" > "$O/torch-bench.log" 2>&1
tail -30 "$O/torch-bench.log" | cut -c1-160
