#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds
# ssmc, generates the bundled default model (a small Llamba, deterministic
# seed; weights are generated, never committed), compiles it for this
# machine and generates tokens with it through the runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BUILD=${SSMC_BUILD_DIR:-build}
OUT=${SSMC_OUT_DIR:-out}
mkdir -p "$OUT"
"$BUILD/bin/ssmc" make-model --preset default-llamba --seed 0 -o "$OUT/default-llamba"
"$BUILD/bin/ssmc" compile "$OUT/default-llamba" --target host -o "$OUT/default-llamba.ssmx"
"$BUILD/bin/ssmc" run "$OUT/default-llamba.ssmx" --prompt-ids 1,791,2144,315,264,1646 \
  --max-new-tokens 32
