#!/usr/bin/env bash
# Configures and builds ssmc (Release) into ${SSMC_BUILD_DIR:-build}. Used by run.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SSMC_BUILD_DIR:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >"${BUILD}.configure.log" 2>&1 || {
    cat "${BUILD}.configure.log" >&2; echo "build: error: cmake configure failed" >&2; exit 1; }
fi
ninja -C "$BUILD"
