#!/usr/bin/env bash
# Session 6's device calls (H100): unpack the bundles carried as out/*.tar.xz
# (PTX compresses ~25x: the llamba-1b and llamba-8b artifacts are 60 MB as
# files, 1.6 MB packed), then the steps named in $STEPS:
#   parity  tiny models of four families + default-llamba over whole chunks
#           vs the reference, one run under compute-sanitizer memcheck
#   bench   llamba-1b / llamba-8b: prefill 2K and 8K at batch 1 with decode
#           at batch 1
#   batched decode at batch 16, 64 (, 256) 2048 tokens deep
#   ncu     per-kernel GPU times: llamba-1b decode (3 steps, graphs off)
#   ncu-prefill  the same for a llamba-8b prefill of 256 tokens (two whole chunks)
#   scan    the chunked scan of llamba-8b's first layer over a 2048-token
#           prompt (one prefill call; 32K tokens are 16 such calls): ncu
#           profiles only that layer's scan kernels (named by
#           out/l8b-scan-kernels.txt) and scan-times.py sums them
#   ncu-detail  ncu sections (occupancy, warp stalls, memory) of $DETAIL_KERNELS
#   torch   the PyTorch baseline (out/tc.tar.xz from bench/torch/prepare-check.sh):
#           its parity check, then its bench of both presets, eager and graphs
# The bundles, made here (no GPU needed) from a build:
#   bash test/E2E/gpu/run-on-device.sh --prepare build/gpu-check
#   mkdir -p /tmp/gb && for p in llamba-1b llamba-8b; do build/bin/ssmc compile --preset $p \
#     --synthetic-weights --seed 0 --dtype bf16 --target cuda --sm 90 -o /tmp/gb/$p.ssmx; done
#   cp build/bin/ssmc-run-lite build/lib/libssmc_runtime.so /tmp/gb/
#   cp -r build/gpu-check/fallback-lib /tmp/gb/
#   tar -C /tmp -cJf out/gb.tar.xz gb && tar -C build -cJf out/gc.tar.xz gpu-check
#   build/bin/ssmc compile --preset llamba-8b --synthetic-weights --dtype bf16 --target cuda \
#     --sm 90 --emit=mlir --print-ir-after=gpu-kernel-outlining -o /dev/null 2> /tmp/l8.mlir
#   python3 bench/cuda/scan-kernels.py /tmp/l8.mlir > out/l8b-scan-kernels.txt
#   (torch step: bash bench/torch/prepare-check.sh out/torch-check && tar -C out -cJf out/tc.tar.xz torch-check)
#   splitk  (with GB=/tmp/gb2, a bundle of the same models compiled with
#           ssm-gpu-projections{min-warps=8192}, packed as out/gb2.tar.xz):
#           GB's default-llamba over whole chunks vs gpu-check's reference
# usage: STEPS="parity bench batched ncu scan" bash bench/cuda/s6-run.sh
#        Logs go to $LOGS (default /tmp/s6-logs) and leave as one archive,
#        $OUT/logs-$TAG.tar.xz (the device returns at most 8 files);
#        SANITIZE= skips the memcheck run of the parity step.
set -uo pipefail
TAG=${TAG:-main}
O=${LOGS:-/tmp/s6-logs}/$TAG; mkdir -p "$O"
trap 'tar -C "$O/.." -cJf "${OUT:-.}/logs-$TAG.tar.xz" "$TAG"' EXIT
STEPS=${STEPS:-parity bench batched ncu}
has() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }
G=${GB:-/tmp/gb}
for a in out/gb*.tar.xz; do b=$(basename "$a" .tar.xz); [ -d /tmp/$b ] || tar -C /tmp -xJf "$a"; done
[ -d /tmp/gpu-check ] || tar -C /tmp -xJf out/gc.tar.xz
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u
CUBLAS=$(find /opt /usr/local /usr/lib -name 'libcublas.so.1[0-9]*' 2>/dev/null | grep -v Lt | head -1)
export SSMC_CUBLAS=$CUBLAS LD_LIBRARY_PATH=$(dirname "$CUBLAS"):/tmp/gb/fallback-lib
echo "cublas: $CUBLAS"
RUN=/tmp/gb/ssmc-run-lite
if has parity; then
  timeout 240 bash test/E2E/gpu/run-on-device.sh --prepared /tmp/gpu-check ${SANITIZE---sanitize} > "$O/parity.log" 2>&1
  grep -E "^(PASS|FAIL)|gpu e2e" "$O/parity.log" | cut -c1-150
fi
if has splitk; then
  L="$(seq -s, 1 300);$(seq -s, 7 150)"
  timeout 120 $RUN $G/default-llamba.ssmx --prompt-ids "$L" --max-new-tokens 8 --logits-out "$O/splitk.json" > "$O/splitk.txt" 2>&1
  python3 /tmp/gpu-check/compare_logits.py "$O/splitk.json" /tmp/gpu-check/default-llamba.ref.json --rtol 1e-4 &&
    echo "PASS splitk default-llamba whole chunks" || echo "FAIL splitk default-llamba whole chunks"
fi
for p in ${PRESETS:-llamba-1b llamba-8b}; do
  if has bench; then
    g=64; [ $p = llamba-8b ] && g=32
    timeout 200 $RUN bench $G/$p.ssmx --batch 1 --prompt-len 2048,8192 --gen $g --json "$O/$p-b1.json" > "$O/$p-b1.txt" 2>&1
    echo "== $p batch 1"; grep -vE "^(#|$)" "$O/$p-b1.txt" | tail -8 | cut -c1-150
  fi
  if has batched; then
    b=16,64,256; [ $p = llamba-8b ] && b=16,64
    timeout 150 $RUN bench $G/$p.ssmx --batch $b --prompt-len 2048 --gen 16 --skip-prefill --json "$O/$p-bn.json" > "$O/$p-bn.txt" 2>&1
    echo "== $p batched"; grep -vE "^(#|$)" "$O/$p-bn.txt" | tail -8 | cut -c1-150
  fi
done
if has ncu; then
  SSMC_CUDA_GRAPHS=0 timeout 200 ncu --csv --metrics gpu__time_duration.sum $RUN $G/llamba-1b.ssmx --prompt-ids 1 --max-new-tokens 2 > "$O/ncu-l1b-decode.csv" 2> "$O/ncu-l1b-decode.err"
  python3 bench/cuda/kernel-times.py "$O/ncu-l1b-decode.csv" 12
fi
if has ncu-prefill; then
  P=$(seq -s, 1 256)
  timeout 240 ncu --csv --metrics gpu__time_duration.sum $RUN $G/llamba-8b.ssmx --prompt-ids "$P" --max-new-tokens 1 > "$O/ncu-l8b-prefill.csv" 2> "$O/ncu-l8b-prefill.err"
  python3 bench/cuda/kernel-times.py "$O/ncu-l8b-prefill.csv" 12
fi
if has scan; then
  # One prefill call takes at most the manifest's max_prefill_tokens (8192
  # for CUDA artifacts of attention-free models since session 8, 2048
  # before), so a 32768-token prompt is 32768 / T calls of the shape timed
  # here (and a 32K id list is over the kernel's 128 KB limit for one
  # argument). SCAN_TOKENS lists the prompt lengths T to time.
  for T in ${SCAN_TOKENS:-2048}; do
    P=$(seq -s, 1 $T)
    timeout 200 ncu --csv --metrics gpu__time_duration.sum -k "$(cat ${SCAN_KERNELS:-out/l8b-scan-kernels.txt})" $RUN $G/llamba-8b.ssmx --prompt-ids "$P" --max-new-tokens 1 > "$O/ncu-l8b-scan-$T.csv" 2> "$O/ncu-l8b-scan-$T.err"
    python3 bench/cuda/scan-times.py "$O/ncu-l8b-scan-$T.csv" $T $((32768 / T))
  done
fi
if has ncu-detail; then
  # Stall reasons, occupancy and throughput of the kernels named by the
  # regex $DETAIL_KERNELS (first launch of each) in an 8192-token prefill.
  P=$(seq -s, 1 8192)
  timeout 240 ncu --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats \
    --section MemoryWorkloadAnalysis -k "regex:${DETAIL_KERNELS:-^forward_kernel_(15|17|19)$}" -c ${DETAIL_COUNT:-3} \
    $RUN $G/llamba-8b.ssmx --prompt-ids "$P" --max-new-tokens 1 > "$O/ncu-detail.txt" 2> "$O/ncu-detail.err"
  grep -E "^  [a-z_0-9]+\(|forward_kernel|Duration|Registers Per|Achieved Occupancy|Theoretical Occupancy|Memory Throughput|DRAM Throughput|Compute \(SM\)|Warp Cycles Per Issued|Stall|Block Limit" "$O/ncu-detail.txt" | cut -c1-150 | head -80
fi
if has torch; then
  [ -d /tmp/torch-check ] || tar -C /tmp -xJf out/tc.tar.xz
  timeout 120 python3 bench/torch/baseline.py check --dir /tmp/torch-check > "$O/torch-check.log" 2>&1
  tail -3 "$O/torch-check.log"
  PYTHONUNBUFFERED=1 timeout 360 python3 bench/torch/baseline.py bench --preset llamba-1b,llamba-8b \
    --dtype bfloat16 --batch 1,16,64,256 --prompt-len 2048,8192 --gen 32 --graphs \
    --json "$O/torch-bench.json" > "$O/torch-bench.log" 2>&1
  tail -30 "$O/torch-bench.log" | cut -c1-160
fi
date -u
