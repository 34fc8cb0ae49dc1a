#!/usr/bin/env bash
# Writes into DIR what `baseline.py check` needs on the GPU machine (which has
# PyTorch but no LLVM/MLIR build): tiny float32 checkpoints of each family made
# by `ssmc make-model`, and for each the independent double-precision
# reference (`ssmc-ref`) on a ragged batch of prompts and on a single prompt,
# 16 greedy tokens each. The prompts are added to every reference JSON under
# the key "prompts" (compare_logits.py ignores it), and check-manifest.json
# lists the (checkpoint, reference) pairs for `baseline.py check --dir DIR`.
#
# usage: bench/torch/prepare-check.sh DIR      (DIR: new, empty, or an earlier one's)
# Needs ssmc and ssmc-ref: $SSMC_BUILD_DIR/bin, else the checkout's build/bin,
# else the ones on PATH; and python3. DIR is about 7 MB.
set -euo pipefail
DIR=${1:?usage: prepare-check.sh DIR}
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SSMC_BUILD_DIR:-$ROOT/build}
if [ -x "$BUILD/bin/ssmc" ] && [ -x "$BUILD/bin/ssmc-ref" ]; then
  SSMC=$BUILD/bin/ssmc REF=$BUILD/bin/ssmc-ref
else
  SSMC=$(command -v ssmc) REF=$(command -v ssmc-ref) || {
    echo "prepare-check: no ssmc/ssmc-ref in $BUILD/bin nor on PATH (build first, or set SSMC_BUILD_DIR)" >&2
    exit 1; }
fi
if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/check-manifest.json" ]; then
  echo "prepare-check: $DIR is not empty and not an earlier prepare-check's; not replacing it" >&2
  exit 2
fi
rm -rf "$DIR" && mkdir -p "$DIR"

# The prompts of test/E2E (a 2-token prompt shorter than the conv width, a
# 40-token one spanning several 16-token chunks, a 7-token one) and one more.
BATCH="1,2;3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42;5,6,7,8,9,10,11"
SINGLE="9,8,7"
# For the model with the real chunk length (128): a 300-token prompt crosses
# two chunk boundaries and ends inside a padded chunk.
LONG="$(python3 -c "print(','.join(str(1 + (7 * i) % 250) for i in range(300)))");5,6,7,8,9"
NEW=16

# name | make-model arguments | prompt sets (label=ids ...)
# mamba2 and mil are written as safetensors (their upstream format is a
# PyTorch zip; baseline.py reads both, safetensors needs no unpickling).
MODELS=(
  "tiny-llamba|--preset tiny-llamba --seed 7|batch=$BATCH single=$SINGLE"
  "tiny-llama|--preset tiny-llama --seed 7|batch=$BATCH single=$SINGLE"
  "tiny-mamba2|--preset tiny-mamba2 --seed 7 --format safetensors|batch=$BATCH single=$SINGLE"
  "tiny-mil|--preset tiny-mil --seed 7 --format safetensors|batch=$BATCH single=$SINGLE"
  # Llamba with the published head structure (32 value heads, 32 B/C heads,
  # chunk 128) at a small width: d_model 128 -> head dim 4.
  "small-llamba|--family llamba --d-model 128 --n-layer 2 --vocab 1000 --intermediate 256 --heads 32 --groups 32 --d-state 16 --chunk-size 128 --tie --seed 3|long=$LONG"
)

entries=()
for m in "${MODELS[@]}"; do
  IFS='|' read -r name args sets <<< "$m"
  # shellcheck disable=SC2086
  "$SSMC" make-model $args --dtype f32 -o "$DIR/$name" > /dev/null
  for set in $sets; do
    label=${set%%=*}; ids=${set#*=}
    ref=$DIR/$name.$label.json
    "$REF" "$DIR/$name" --prompt-ids "$ids" --max-new-tokens $NEW --logits-out "$ref" > /dev/null
    # Add the prompts to the reference (json round-trips the %.17g numbers exactly).
    python3 - "$ref" "$ids" <<'PY'
import json, sys
path, ids = sys.argv[1], sys.argv[2]
data = json.load(open(path))
data["prompts"] = [[int(t) for t in seq.split(",")] for seq in ids.split(";")]
json.dump(data, open(path, "w"))
PY
    entries+=("{\"checkpoint\": \"$name\", \"ref\": \"$name.$label.json\"}")
  done
done
{
  echo "{\"ssmc\": \"$("$SSMC" version 2>/dev/null | head -1)\","
  echo " \"commit\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)\","
  echo " \"new_tokens\": $NEW,"
  printf ' "checks": [%s]}\n' "$(IFS=,; echo "${entries[*]}")"
} > "$DIR/check-manifest.json"
python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$DIR/check-manifest.json"
echo "prepared $DIR ($(du -sh "$DIR" | cut -f1)): ${#entries[@]} checks"
echo "on the GPU machine: python3 bench/torch/baseline.py check --dir $(basename "$DIR")"
