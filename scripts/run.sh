#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds
# ssmc, generates the bundled default model (a small Llamba, deterministic
# seed; weights are generated, never committed), imports it into the ssm
# dialect and runs the ssm pipeline that exists so far on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BUILD=${SSMC_BUILD_DIR:-build}
OUT=${SSMC_OUT_DIR:-out}
mkdir -p "$OUT"
"$BUILD/bin/ssmc" make-model --preset default-llamba --seed 0 -o "$OUT/default-llamba"
"$BUILD/bin/ssmc" import "$OUT/default-llamba" -o "$OUT/default-llamba.mlir"
"$BUILD/bin/ssmc-opt" "$OUT/default-llamba.mlir" -canonicalize -cse -o "$OUT/default-llamba.opt.mlir"
echo "--- $OUT/default-llamba.opt.mlir (first layer) ---"
sed -n '1,/ssm.swiglu_mlp/p' "$OUT/default-llamba.opt.mlir"
echo "run: ok ($(grep -c 'ssm.discrete_mamba2 ' "$OUT/default-llamba.opt.mlir") Discrete Mamba-2 layers imported and verified)"
