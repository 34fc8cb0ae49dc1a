#!/usr/bin/env bash
# End to end on an NVIDIA GPU: for a tiny model of each family, compile with
# `ssmc compile --target cuda --sm $SM`, generate with `ssmc run` (the
# runtime's CUDA path), and compare tokens and logits with the independent
# double-precision reference `ssmc-ref`, as test/E2E/host-*.test do for the
# CPU: a ragged batch of three prompts (one prefill, then decode), the same
# prompts fed token by token (decode kernels only), and a single prompt.
#
# usage: test/E2E/gpu/run-on-device.sh [--sm 80|90] [--rtol R] [--sanitize]
#   --sanitize also runs one case under compute-sanitizer (memcheck).
# Needs the build (build/bin/ssmc, ssmc-ref; SSMC_BUILD_DIR overrides; it is
# built with scripts/build.sh when missing). Without a GPU it prints
# "skipped: no GPU" and exits 0. Last line: "gpu e2e: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../../.."
SM=90
RTOL=1e-4
SANITIZE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sm) SM=$2; shift 2 ;;
    --rtol) RTOL=$2; shift 2 ;;
    --sanitize) SANITIZE=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run-on-device: unknown option $1" >&2; exit 2 ;;
  esac
done

if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "skipped: no GPU (nvidia-smi lists none)"
  exit 0
fi
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader

BUILD=${SSMC_BUILD_DIR:-build}
if [ ! -x "$BUILD/bin/ssmc" ] || [ ! -x "$BUILD/bin/ssmc-ref" ]; then
  echo "building ssmc into $BUILD"
  bash scripts/build.sh > /tmp/ssmc-gpu-build.log 2>&1 || {
    tail -20 /tmp/ssmc-gpu-build.log; echo "run-on-device: build failed" >&2; exit 1; }
fi
SSMC=$BUILD/bin/ssmc
REF=$BUILD/bin/ssmc-ref
COMPARE=test/Frontend/Inputs/compare_logits.py
WORK=$(mktemp -d /tmp/ssmc-gpu-e2e.XXXXXX)
echo "work directory: $WORK"

BATCH="1,2;3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42;5,6,7,8,9,10,11"
passed=0
failed=0
check() { # name, command...: runs, prints PASS/FAIL with the output's last line
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); echo "PASS $name: $(echo "$out" | tail -1)"
  else
    failed=$((failed + 1)); echo "FAIL $name:"; echo "$out" | tail -15 | sed 's/^/  /'
  fi
}

for family in llamba mamba2 mil llama; do
  dir=$WORK/$family
  "$SSMC" make-model --preset "tiny-$family" --seed 7 -o "$dir" > /dev/null || {
    failed=$((failed + 1)); echo "FAIL $family: make-model"; continue; }
  check "$family compile sm_$SM" "$SSMC" compile "$dir" --target cuda --sm "$SM" -o "$dir.ssmx"
  [ -f "$dir.ssmx" ] || continue
  "$REF" "$dir" --prompt-ids "$BATCH" --max-new-tokens 16 --logits-out "$dir.ref.json" > /dev/null
  check "$family batch" sh -c "'$SSMC' run '$dir.ssmx' --prompt-ids '$BATCH' --max-new-tokens 16 --logits-out '$dir.run.json' > '$dir.run.txt' && python3 $COMPARE '$dir.run.json' '$dir.ref.json' --rtol $RTOL"
  check "$family token-by-token" sh -c "'$SSMC' run '$dir.ssmx' --prompt-ids '$BATCH' --max-new-tokens 16 --prefill-chunk 1 --logits-out '$dir.run1.json' > /dev/null && python3 $COMPARE '$dir.run1.json' '$dir.ref.json' --rtol $RTOL"
  "$REF" "$dir" --prompt-ids 9,8,7 --max-new-tokens 16 --logits-out "$dir.ref1.json" > /dev/null
  check "$family single" sh -c "'$SSMC' run '$dir.ssmx' --prompt-ids 9,8,7 --max-new-tokens 16 --logits-out '$dir.one.json' > /dev/null && python3 $COMPARE '$dir.one.json' '$dir.ref1.json' --rtol $RTOL"
  grep -E '^(prefill|decode):' "$dir.run.txt" 2>/dev/null | sed "s/^/  $family /"
done

if [ "$SANITIZE" = 1 ]; then
  if command -v compute-sanitizer > /dev/null 2>&1; then
    check "llamba memcheck" sh -c "compute-sanitizer --tool memcheck --error-exitcode 1 '$SSMC' run '$WORK/llamba.ssmx' --prompt-ids 1,2,3 --max-new-tokens 4 | tail -3"
  else
    echo "note: compute-sanitizer not found; --sanitize skipped"
  fi
fi
echo "gpu e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]
