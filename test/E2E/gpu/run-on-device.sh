#!/usr/bin/env bash
# End to end on an NVIDIA GPU: for a tiny model of each family, compile with
# `ssmc compile --target cuda --sm $SM`, generate through the runtime's CUDA
# path, and compare tokens and logits with the independent double-precision
# reference `ssmc-ref`, as test/E2E/host-*.test do for the CPU: a ragged
# batch of three prompts (one prefill, then decode), the same prompts fed
# token by token (decode kernels only), and a single prompt. Then prompts
# of several whole chunks (a ragged batch of 300 and 144 tokens) on
# default-llamba (chunk 128, 32 heads, d_state 32: the shapes the tiled
# scan kernels take), its weights synthesized by the runtime. Then tiny
# Llamba and Mamba-2 models in bf16 and f16 (the dtypes published
# checkpoints run in; prefill products go to the vendor GEMM's rounded store)
# against the same double-precision reference at the host test's justified
# tolerances (test/E2E/host-half-precision.test: bf16 5e-2, f16 1e-2;
# last-position logits of the ragged batch, one new token).
#
# usage: test/E2E/gpu/run-on-device.sh [--sm 80|90] [--rtol R] [--sanitize]
#        test/E2E/gpu/run-on-device.sh --prepare DIR [--sm 80|90]
#        test/E2E/gpu/run-on-device.sh --prepared DIR [--rtol R] [--sanitize]
#   (no mode)    everything on this machine: needs the build (build/bin/ssmc,
#                ssmc-ref; SSMC_BUILD_DIR overrides; built with
#                scripts/build.sh when missing) and a GPU; generates with
#                `ssmc run`.
#   --prepare    on the build machine (no GPU needed): generates and compiles
#                the models, computes the reference logits, and writes into
#                DIR (a few MB) the artifacts, the reference JSONs,
#                ssmc-run-lite, libssmc_runtime.so (+ a fallback libstdc++),
#                compare_logits.py and a manifest. DIR must be empty, new, or
#                an earlier --prepare's (it is replaced).
#   --prepared   on a GPU machine without LLVM/MLIR: runs DIR/ssmc-run-lite
#                (the runtime C API only) on DIR's artifacts and compares with
#                DIR's references. Needs python3 and the NVIDIA driver.
#   --sanitize   also runs one case under compute-sanitizer (memcheck).
# SSMC_COMPILE_FLAGS (words) are added to every `ssmc compile` (A/B builds:
# --pass-options='ssm-gpu-tile-contractions{async-copy-stages=3}').
# Without a GPU (both running modes) it prints "skipped: no GPU" and exits 0.
# Last line of a run: "gpu e2e: N passed, M failed" (exit 1 on a failure).
set -uo pipefail
SM=90
SM_GIVEN=0
read -r -a COMPILE_FLAGS <<< "${SSMC_COMPILE_FLAGS:-}"
RTOL=1e-4
SANITIZE=0
MODE=self
DIR=
while [ $# -gt 0 ]; do
  case "$1" in
    --sm) SM=${2:?--sm needs a value}; SM_GIVEN=1; shift 2 ;;
    --rtol) RTOL=${2:?--rtol needs a value}; shift 2 ;;
    --sanitize) SANITIZE=1; shift ;;
    --prepare|--prepared)
      [ "$MODE" = self ] || { echo "run-on-device: --prepare and --prepared exclude each other" >&2; exit 2; }
      MODE=${1#--}; DIR=${2:-}
      [ -n "$DIR" ] || { echo "run-on-device: $1 needs a directory" >&2; exit 2; }
      shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-on-device: unknown option $1" >&2; exit 2 ;;
  esac
done
# DIR is relative to the caller's directory; everything else to the repo root.
case "$DIR" in ''|/*) ;; *) DIR=$PWD/$DIR ;; esac
cd "$(dirname "$0")/../../.."

FAMILIES="llamba mamba2 mil llama"
BATCH="1,2;3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42;5,6,7,8,9,10,11"
SINGLE="9,8,7"
NEW=16
LONG="$(seq -s, 1 300);$(seq -s, 7 150)"
MANIFEST=gpu-e2e.manifest
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
have_gpu() {
  command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'
}
need_gpu() {
  if ! have_gpu; then
    echo "skipped: no GPU (nvidia-smi lists none)"
    exit 0
  fi
  nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader
}
need_build() {
  BUILD=${SSMC_BUILD_DIR:-build}
  local missing=0 f
  for f in "$@"; do [ -e "$BUILD/$f" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    echo "building ssmc into $BUILD"
    bash scripts/build.sh > /tmp/ssmc-gpu-build.log 2>&1 || {
      tail -20 /tmp/ssmc-gpu-build.log; echo "run-on-device: build failed" >&2; exit 1; }
  fi
  SSMC=$BUILD/bin/ssmc
  REF=$BUILD/bin/ssmc-ref
}

# make_family FAMILY OUTDIR: a seeded tiny model in $WORK/FAMILY, compiled
# for sm_$SM into OUTDIR/FAMILY.ssmx (a counted check), with the reference
# logits OUTDIR/FAMILY.ref.json (the batch) and FAMILY.ref1.json (single).
make_family() {
  local family=$1 out=$2 dir=$WORK/$1
  "$SSMC" make-model --preset "tiny-$family" --seed 7 -o "$dir" > /dev/null || {
    failed=$((failed + 1)); echo "FAIL $family: make-model"; return 1; }
  check "$family compile sm_$SM" "$SSMC" compile "$dir" --target cuda --sm "$SM" "${COMPILE_FLAGS[@]}" -o "$out/$family.ssmx"
  [ -f "$out/$family.ssmx" ] || return 1
  "$REF" "$dir" --prompt-ids "$BATCH" --max-new-tokens $NEW --logits-out "$out/$family.ref.json" > /dev/null ||
    echo "  note: ssmc-ref failed for the $family batch"
  "$REF" "$dir" --prompt-ids "$SINGLE" --max-new-tokens $NEW --logits-out "$out/$family.ref1.json" > /dev/null ||
    echo "  note: ssmc-ref failed for the $family single prompt"
}

# generate_and_compare OUT.json REF.json ARGS...: RUNNER ARGS with
# --logits-out OUT.json (stdout to OUT.json.txt), then compare_logits.py.
generate_and_compare() {
  local out=$1 ref=$2; shift 2
  "${RUNNER[@]}" "$@" --logits-out "$out" > "$out.txt" &&
    python3 "$COMPARE" "$out" "$ref" --rtol "$RTOL"
}

# run_family FAMILY ARTDIR: the three generation checks of ARTDIR/FAMILY.ssmx
# against ARTDIR's references; outputs go to $WORK.
run_family() {
  local family=$1 art=$2/$1.ssmx ref=$2/$1 out=$WORK/$1
  check "$family batch" generate_and_compare "$out.run.json" "$ref.ref.json" \
    "$art" --prompt-ids "$BATCH" --max-new-tokens $NEW
  check "$family token-by-token" generate_and_compare "$out.run1.json" "$ref.ref.json" \
    "$art" --prompt-ids "$BATCH" --max-new-tokens $NEW --prefill-chunk 1
  check "$family single" generate_and_compare "$out.one.json" "$ref.ref1.json" \
    "$art" --prompt-ids "$SINGLE" --max-new-tokens $NEW
  grep -E '^(prefill|decode):' "$out.run.json.txt" 2>/dev/null | sed "s/^/  $family /"
}

# make_long OUTDIR: default-llamba compiled with synthesized weights (seed 7,
# f32) into OUTDIR/default-llamba.ssmx, and the reference logits of the
# same weights (make-model --seed 7) for the LONG prompts.
make_long() {
  local out=$1 dir=$WORK/default-llamba
  "$SSMC" make-model --preset default-llamba --seed 7 -o "$dir" > /dev/null || {
    failed=$((failed + 1)); echo "FAIL default-llamba: make-model"; return 1; }
  check "default-llamba compile sm_$SM" "$SSMC" compile --preset default-llamba --synthetic-weights \
    --seed 7 --target cuda --sm "$SM" "${COMPILE_FLAGS[@]}" -o "$out/default-llamba.ssmx"
  "$REF" "$dir" --prompt-ids "$LONG" --max-new-tokens 8 --logits-out "$out/default-llamba.ref.json" \
    > /dev/null || { failed=$((failed + 1)); echo "FAIL default-llamba: ssmc-ref"; }
}
run_long() { # ARTDIR
  check "default-llamba whole chunks" generate_and_compare "$WORK/default-llamba.run.json" \
    "$1/default-llamba.ref.json" "$1/default-llamba.ssmx" --prompt-ids "$LONG" --max-new-tokens 8
}
HALF_MODELS="llamba-bf16 mamba2-bf16 llamba-f16 mamba2-f16 default-llamba-bf16 default-llamba-f16"
# A half model's preset (tiny-F for F-DTYPE; default-llamba as named) and
# prompts: default-llamba takes the whole-chunk prompts, where the scan's
# contractions run on tensor cores (mma.sync) in half-precision models.
half_preset() { case $1 in default-*) echo "${1%-*}" ;; *) echo "tiny-${1%-*}" ;; esac; }
half_prompts() { case $1 in default-*) echo "$LONG" ;; *) echo "$BATCH" ;; esac; }
# make_half OUTDIR: the HALF_MODELS (seed 7) compiled into OUTDIR/M.ssmx
# with their reference logits OUTDIR/M.ref.json (the batch, one new token).
make_half() {
  local out=$1 m dir
  for m in $HALF_MODELS; do
    dir=$WORK/$m
    "$SSMC" make-model --preset "$(half_preset "$m")" --seed 7 --dtype "${m##*-}" -o "$dir" > /dev/null || {
      failed=$((failed + 1)); echo "FAIL $m: make-model"; continue; }
    # default-llamba's weights are synthesized at load (the same generator
    # and seed as make-model's: a few MB of bundle instead of 30 MB).
    case $m in
      default-*) check "$m compile sm_$SM" "$SSMC" compile --preset "$(half_preset "$m")" --synthetic-weights \
        --seed 7 --dtype "${m##*-}" --target cuda --sm "$SM" "${COMPILE_FLAGS[@]}" -o "$out/$m.ssmx" ;;
      *) check "$m compile sm_$SM" "$SSMC" compile "$dir" --target cuda --sm "$SM" "${COMPILE_FLAGS[@]}" -o "$out/$m.ssmx" ;;
    esac
    "$REF" "$dir" --prompt-ids "$(half_prompts "$m")" --max-new-tokens 1 --logits-out "$out/$m.ref.json" > /dev/null ||
      { failed=$((failed + 1)); echo "FAIL $m: ssmc-ref"; }
  done
}
run_half() { # ARTDIR
  local m tol
  for m in $HALF_MODELS; do
    tol=5e-2; [ "${m##*-}" = f16 ] && tol=1e-2
    if [ ! -f "$1/$m.ssmx" ]; then
      failed=$((failed + 1)); echo "FAIL $m: $1/$m.ssmx missing"; continue
    fi
    local saved=$RTOL; RTOL=$tol
    check "$m batch (rtol $tol)" generate_and_compare "$WORK/$m.run.json" "$1/$m.ref.json" \
      "$1/$m.ssmx" --prompt-ids "$(half_prompts "$m")" --max-new-tokens 1
    RTOL=$saved
  done
}
sanitize() { # ARTIFACT: one short generation under compute-sanitizer memcheck
  [ "$SANITIZE" = 1 ] || return 0
  if ! command -v compute-sanitizer > /dev/null 2>&1; then
    echo "note: compute-sanitizer not found; --sanitize skipped"
  elif [ ! -f "$1" ]; then
    failed=$((failed + 1)); echo "FAIL memcheck: $1 missing"
  else
    check "llamba memcheck" compute-sanitizer --tool memcheck --error-exitcode 1 \
      "${RUNNER[@]}" "$1" --prompt-ids 1,2,3 --max-new-tokens 4
  fi
}

finish() {
  echo "gpu e2e: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}

manifest_get() { sed -n "s/^$1=//p" "$DIR/$MANIFEST" | head -1; }

case "$MODE" in
self)
  need_gpu
  need_build bin/ssmc bin/ssmc-ref
  COMPARE=test/Frontend/Inputs/compare_logits.py
  RUNNER=("$SSMC" run)
  WORK=$(mktemp -d /tmp/ssmc-gpu-e2e.XXXXXX)
  echo "work directory: $WORK"
  for family in $FAMILIES; do
    make_family "$family" "$WORK" && run_family "$family" "$WORK"
  done
  make_long "$WORK" && run_long "$WORK"
  make_half "$WORK" && run_half "$WORK"
  sanitize "$WORK/llamba.ssmx"
  finish
  ;;

prepare)
  if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ] && [ ! -f "$DIR/$MANIFEST" ]; then
    echo "run-on-device: $DIR is not empty and not an earlier --prepare's; not replacing it" >&2
    exit 2
  fi
  need_build bin/ssmc bin/ssmc-ref bin/ssmc-run-lite lib/libssmc_runtime.so
  rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
  WORK=$(mktemp -d /tmp/ssmc-gpu-prepare.XXXXXX)
  for family in $FAMILIES; do
    make_family "$family" "$DIR" || continue
    for r in ref ref1; do
      [ -s "$DIR/$family.$r.json" ] || { failed=$((failed + 1)); echo "FAIL $family: no $family.$r.json"; }
    done
  done
  make_long "$DIR"
  make_half "$DIR"
  cp "$BUILD/bin/ssmc-run-lite" "$BUILD/lib/libssmc_runtime.so" test/Frontend/Inputs/compare_logits.py "$DIR/" || exit 1
  # The C++ runtime needs the libstdc++ it was built with (GLIBCXX_3.4.30 for
  # GCC 12); --prepared falls back on this copy where the system's is older.
  mkdir -p "$DIR/fallback-lib"
  for lib in libstdc++.so.6 libgcc_s.so.1; do
    path=$(ldd "$BUILD/lib/libssmc_runtime.so" | awk -v l="$lib" '$1 == l { print $3 }')
    [ -n "$path" ] && cp -L "$path" "$DIR/fallback-lib/$lib"
  done
  {
    echo "# test/E2E/gpu/run-on-device.sh --prepared $DIR"
    echo "sm=$SM"
    echo "families=$FAMILIES"
    echo "batch=$BATCH"
    echo "single=$SINGLE"
    echo "new=$NEW"
    echo "ssmc=$("$SSMC" version 2>/dev/null)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"
    echo "prepared=$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  } > "$DIR/$MANIFEST"
  # ssmc-run-lite must start from DIR, and the runtime must have CUDA support
  # (built with cuda.h): without a GPU here the load stops at libcuda.
  if [ -f "$DIR/llamba.ssmx" ]; then
    smoke=$("$DIR/ssmc-run-lite" "$DIR/llamba.ssmx" --prompt-ids 1 --max-new-tokens 1 2>&1)
    if echo "$smoke" | grep -q "without CUDA support"; then
      failed=$((failed + 1)); echo "FAIL runtime: $smoke"
    elif ! "$DIR/ssmc-run-lite" --help > /dev/null 2>&1; then
      failed=$((failed + 1)); echo "FAIL ssmc-run-lite does not start: $smoke"
    else
      echo "ssmc-run-lite here: $(echo "$smoke" | tail -1)"
    fi
  fi
  echo "prepared $DIR: $(du -sh "$DIR" | cut -f1), sm_$SM, families: $FAMILIES"
  echo "gpu e2e prepare: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
  ;;

prepared)
  for f in "$MANIFEST" ssmc-run-lite libssmc_runtime.so compare_logits.py; do
    [ -f "$DIR/$f" ] || { echo "run-on-device: $DIR/$f missing (make DIR with --prepare)" >&2; exit 1; }
  done
  PSM=$(manifest_get sm)
  if [ "$SM_GIVEN" = 1 ] && [ "$SM" != "$PSM" ]; then
    echo "run-on-device: $DIR holds sm_$PSM artifacts, not sm_$SM (--sm belongs to --prepare)" >&2
    exit 2
  fi
  SM=$PSM
  FAMILIES=$(manifest_get families)
  BATCH=$(manifest_get batch)
  SINGLE=$(manifest_get single)
  NEW=$(manifest_get new)
  need_gpu
  echo "prepared: $(manifest_get ssmc), commit $(manifest_get commit), $(manifest_get prepared)"
  WORK=$(mktemp -d /tmp/ssmc-gpu-e2e.XXXXXX)
  echo "work directory: $WORK"
  COMPARE=$DIR/compare_logits.py
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
  RUNNER=("$RUN")
  for family in $FAMILIES; do
    if [ -f "$DIR/$family.ssmx" ]; then
      passed=$((passed + 1)); echo "PASS $family compile sm_$SM: at --prepare"
      run_family "$family" "$DIR"
    else
      failed=$((failed + 1)); echo "FAIL $family compile sm_$SM: $DIR/$family.ssmx missing (failed at --prepare?)"
    fi
  done
  if [ -f "$DIR/default-llamba.ssmx" ]; then
    run_long "$DIR"
  else
    failed=$((failed + 1)); echo "FAIL default-llamba: $DIR/default-llamba.ssmx missing"
  fi
  run_half "$DIR"
  sanitize "$DIR/llamba.ssmx"
  finish
  ;;
esac
