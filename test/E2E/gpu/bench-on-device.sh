#!/usr/bin/env bash
# Benchmarks of real-size models on an NVIDIA GPU machine that has no LLVM
# and gets only a few MB of files: the artifacts store no weights (`ssmc
# compile --preset P --synthetic-weights`; the runtime fills them at load
# from the seed, exactly as `ssmc make-model --preset P --seed N --dtype T`
# writes them), and ssmc-run-lite (runtime only) runs `bench` on them.
#
# usage: test/E2E/gpu/bench-on-device.sh --prepare DIR [--sm 90] [--dtype bf16]
#            [--seed N] [--presets "llamba-1b llamba-8b llama-3.1-8b"]
#        test/E2E/gpu/bench-on-device.sh --prepared DIR [--out OUTDIR]
#            [--presets "..."] [--batch 1,16,64,256] [--prompt-len 2048,8192]
#            [--gen 32] [--budget-seconds S] [--no-parity]
#   --prepare    on the build machine (no GPU needed): compiles the presets
#                for sm_$SM with synthesized weights, plus two tiny parity
#                models (tiny-llamba, tiny-llama; f32, synthesized) with the
#                reference logits of their make-model checkpoints (ssmc-ref),
#                and copies ssmc-run-lite, libssmc_runtime.so (+ a fallback
#                libstdc++) and compare_logits.py into DIR. Prints the size
#                of DIR (must stay under the 64 MiB a GPU machine receives).
#   --prepared   on the GPU machine: the parity checks (the device fill of
#                synthesized weights and the CUDA path against the
#                reference), then `ssmc-run-lite bench` per preset, writing
#                OUTDIR/<preset>.json (default: $OUT when set, else
#                DIR/results) and OUTDIR/<preset>.txt.
# Last line: "gpu bench: N passed, M failed".
set -uo pipefail
SM=90
DTYPE=bf16
SEED=0
PRESETS="llamba-1b llamba-8b llama-3.1-8b"
PRESETS_GIVEN=0
BATCH=1,16,64,256
PROMPT=2048,8192
GEN=32
BUDGET=
PARITY=1
MODE=
DIR=
OUTDIR=
while [ $# -gt 0 ]; do
  case "$1" in
    --sm) SM=${2:?--sm needs a value}; shift 2 ;;
    --dtype) DTYPE=${2:?--dtype needs a value}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a value}; shift 2 ;;
    --presets) PRESETS=${2:?--presets needs a value}; PRESETS_GIVEN=1; shift 2 ;;
    --batch) BATCH=${2:?--batch needs a value}; shift 2 ;;
    --prompt-len) PROMPT=${2:?--prompt-len needs a value}; shift 2 ;;
    --gen) GEN=${2:?--gen needs a value}; shift 2 ;;
    --budget-seconds) BUDGET=${2:?--budget-seconds needs a value}; shift 2 ;;
    --out) OUTDIR=${2:?--out needs a value}; shift 2 ;;
    --no-parity) PARITY=0; shift ;;
    --prepare|--prepared)
      [ -z "$MODE" ] || { echo "bench-on-device: --prepare and --prepared exclude each other" >&2; exit 2; }
      MODE=${1#--}; DIR=${2:-}
      [ -n "$DIR" ] || { echo "bench-on-device: $1 needs a directory" >&2; exit 2; }
      shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-on-device: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$MODE" ] || { echo "bench-on-device: --prepare DIR or --prepared DIR (see --help)" >&2; exit 2; }
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac
case "$OUTDIR" in ''|/*) ;; *) OUTDIR=$PWD/$OUTDIR ;; esac
cd "$(dirname "$0")/../../.."

MANIFEST=gpu-bench.manifest
PARITY_MODELS="llamba llama"
PARITY_PROMPTS="1,2;3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20;5,6,7"
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
finish() {
  echo "gpu bench: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}
manifest_get() { sed -n "s/^$1=//p" "$DIR/$MANIFEST" | head -1; }

case "$MODE" in
prepare)
  if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ] && [ ! -f "$DIR/$MANIFEST" ]; then
    echo "bench-on-device: $DIR is not empty and not an earlier --prepare's; not replacing it" >&2
    exit 2
  fi
  BUILD=${SSMC_BUILD_DIR:-build}
  for f in bin/ssmc bin/ssmc-ref bin/ssmc-run-lite lib/libssmc_runtime.so; do
    [ -e "$BUILD/$f" ] || { echo "bench-on-device: $BUILD/$f missing (bash scripts/build.sh)" >&2; exit 1; }
  done
  SSMC=$BUILD/bin/ssmc
  rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
  WORK=$(mktemp -d /tmp/ssmc-gpu-bench.XXXXXX)
  for preset in $PRESETS; do
    check "$preset compile" "$SSMC" compile --preset "$preset" --synthetic-weights --seed "$SEED" \
      --dtype "$DTYPE" --target cuda --sm "$SM" -o "$DIR/$preset.ssmx"
  done
  for family in $PARITY_MODELS; do
    "$SSMC" make-model --preset "tiny-$family" --seed 7 -o "$WORK/$family" > /dev/null &&
      check "tiny-$family compile" "$SSMC" compile --preset "tiny-$family" --synthetic-weights \
        --seed 7 --target cuda --sm "$SM" -o "$DIR/tiny-$family.ssmx" &&
      "$BUILD/bin/ssmc-ref" "$WORK/$family" --prompt-ids "$PARITY_PROMPTS" --max-new-tokens 8 \
        --logits-out "$DIR/tiny-$family.ref.json" > /dev/null ||
      { failed=$((failed + 1)); echo "FAIL tiny-$family parity inputs"; }
  done
  cp "$BUILD/bin/ssmc-run-lite" "$BUILD/lib/libssmc_runtime.so" test/Frontend/Inputs/compare_logits.py "$DIR/" || exit 1
  mkdir -p "$DIR/fallback-lib"
  for lib in libstdc++.so.6 libgcc_s.so.1; do
    path=$(ldd "$BUILD/lib/libssmc_runtime.so" | awk -v l="$lib" '$1 == l { print $3 }')
    [ -n "$path" ] && cp -L "$path" "$DIR/fallback-lib/$lib"
  done
  {
    echo "# test/E2E/gpu/bench-on-device.sh --prepared $DIR"
    echo "sm=$SM"
    echo "dtype=$DTYPE"
    echo "seed=$SEED"
    echo "presets=$PRESETS"
    echo "ssmc=$("$SSMC" version 2>/dev/null)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"
    echo "prepared=$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
  } > "$DIR/$MANIFEST"
  (cd "$DIR" && ls -l --block-size=1 | awk 'NR > 1 { printf "  %12d  %s\n", $5, $9 }')
  bytes=$(du -sb "$DIR" | cut -f1)
  echo "prepared $DIR: $bytes bytes ($((bytes / 1048576)) MiB), sm_$SM, $DTYPE, seed $SEED"
  if [ "$bytes" -ge $((64 * 1048576)) ]; then
    failed=$((failed + 1)); echo "FAIL size: $DIR is 64 MiB or more"
  fi
  finish
  ;;

prepared)
  for f in "$MANIFEST" ssmc-run-lite libssmc_runtime.so compare_logits.py; do
    [ -f "$DIR/$f" ] || { echo "bench-on-device: $DIR/$f missing (make DIR with --prepare)" >&2; exit 1; }
  done
  if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    echo "skipped: no GPU (nvidia-smi lists none)"
    exit 0
  fi
  nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader
  echo "prepared: $(manifest_get ssmc), commit $(manifest_get commit), $(manifest_get prepared)," \
    "sm_$(manifest_get sm), $(manifest_get dtype), seed $(manifest_get seed)"
  [ -n "$OUTDIR" ] || OUTDIR=${OUT:-$DIR/results}
  mkdir -p "$OUTDIR" || exit 1
  WORK=$(mktemp -d /tmp/ssmc-gpu-bench.XXXXXX)
  RUN=$DIR/ssmc-run-lite
  if [ ! -x "$RUN" ]; then # copied without modes
    mkdir -p "$WORK/bin" && cp "$RUN" "$DIR/libssmc_runtime.so" "$WORK/bin/" && chmod +x "$WORK/bin/ssmc-run-lite"
    RUN=$WORK/bin/ssmc-run-lite
  fi
  if ! why=$("$RUN" --help 2>&1 > /dev/null); then
    if [ -d "$DIR/fallback-lib" ] && LD_LIBRARY_PATH="$DIR/fallback-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$RUN" --help > /dev/null 2>&1; then
      export LD_LIBRARY_PATH="$DIR/fallback-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "note: using $DIR/fallback-lib ($why)"
    else
      failed=$((failed + 1)); echo "FAIL ssmc-run-lite does not start here:"; echo "$why" | sed 's/^/  /'
      finish
    fi
  fi
  if [ "$PARITY" = 1 ]; then
    for family in $PARITY_MODELS; do
      [ -f "$DIR/tiny-$family.ssmx" ] || continue
      check "tiny-$family synthesized on the device vs reference" bash -c \
        '"$1" "$2" --prompt-ids "$3" --max-new-tokens 8 --logits-out "$4" > /dev/null &&
         python3 "$5" "$4" "$6" --rtol 1e-4' _ \
        "$RUN" "$DIR/tiny-$family.ssmx" "$PARITY_PROMPTS" "$WORK/tiny-$family.json" \
        "$DIR/compare_logits.py" "$DIR/tiny-$family.ref.json"
    done
  fi
  [ "$PRESETS_GIVEN" = 1 ] || PRESETS=$(manifest_get presets)
  for preset in $PRESETS; do
    if [ ! -f "$DIR/$preset.ssmx" ]; then
      failed=$((failed + 1)); echo "FAIL $preset: $DIR/$preset.ssmx missing"
      continue
    fi
    echo "== $preset: ssmc-run-lite bench --batch $BATCH --prompt-len $PROMPT --gen $GEN${BUDGET:+ --budget-seconds $BUDGET}"
    "$RUN" bench "$DIR/$preset.ssmx" --batch "$BATCH" --prompt-len "$PROMPT" --gen "$GEN" \
      ${BUDGET:+--budget-seconds "$BUDGET"} --json "$OUTDIR/$preset.json" 2>&1 |
      tee "$OUTDIR/$preset.txt"
    if [ "${PIPESTATUS[0]}" = 0 ]; then
      passed=$((passed + 1)); echo "PASS $preset bench: $OUTDIR/$preset.json"
    else
      failed=$((failed + 1)); echo "FAIL $preset bench (see above; measured rows are in $OUTDIR/$preset.json)"
    fi
  done
  finish
  ;;
esac
