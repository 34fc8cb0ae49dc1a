#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite (lit/FileCheck,
# GoogleTest unit tests, reference self-checks, end-to-end) in one lit run.
# The last line is "N passed, N failed" summed over all suites.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${SSMC_BUILD_DIR:-build}
if ! bash scripts/setup.sh; then echo "0 passed, 1 failed"; exit 1; fi
if ! bash scripts/build.sh; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi
out=$(/usr/lib/llvm-22/bin/lit -sv --time-tests "$BUILD/test" "$BUILD/test/unit" 2>&1)
rc=$?
echo "$out"
passed=$(echo "$out" | awk -F: '/^ *(Passed|Expectedly Failed) *:/{split($2,a," "); s+=a[1]} END{print s+0}')
failed=$(echo "$out" | awk -F: '/^ *(Failed|Unexpectedly Passed|Unresolved|Timed Out) *:/{split($2,a," "); s+=a[1]} END{print s+0}')
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit $rc
