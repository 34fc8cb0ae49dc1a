#!/usr/bin/env bash
# Installs every Debian package ssmc needs, idempotently. LLVM/MLIR are pinned to major 22
# (bookworm-security ships 22.1.x). Safe to run repeatedly: packages already present are skipped.
set -euo pipefail

LLVM_MAJOR=22
PKGS=(
  # compiler toolchain and build
  cmake ninja-build g++ python3 pkg-config
  "llvm-${LLVM_MAJOR}-dev" "libmlir-${LLVM_MAJOR}-dev" "mlir-${LLVM_MAJOR}-tools"
  "llvm-${LLVM_MAJOR}-tools" "clang-${LLVM_MAJOR}" "lld-${LLVM_MAJOR}"
  libzstd-dev zlib1g-dev
  # unit tests
  libgtest-dev
  # AArch64 cross compilation and emulation (NEON target tests)
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  # benchmarks: OpenBLAS is the prefill peer on CPU
  libopenblas-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq || { echo "setup: error: apt-get update failed" >&2; exit 1; }
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ssmc-setup-apt.log 2>&1; then
    tail -20 /tmp/ssmc-setup-apt.log >&2
    echo "setup: error: could not install: ${missing[*]} (LLVM/MLIR ${LLVM_MAJOR} come from bookworm-security; is it in the apt sources?)" >&2
    exit 1
  fi
else
  echo "setup: all packages present"
fi

# Verify the pinned major version actually landed (a moved security suite must not silently change it).
ver=$(dpkg-query -W -f='${Version}' "llvm-${LLVM_MAJOR}-dev")
case "$ver" in
  *:${LLVM_MAJOR}.*) ;;
  *) echo "setup: error: llvm-${LLVM_MAJOR}-dev has version '$ver', expected ${LLVM_MAJOR}.x" >&2; exit 1 ;;
esac
for tool in /usr/lib/llvm-${LLVM_MAJOR}/bin/FileCheck /usr/lib/llvm-${LLVM_MAJOR}/bin/lit /usr/lib/llvm-${LLVM_MAJOR}/bin/mlir-tblgen; do
  [ -x "$tool" ] || { echo "setup: error: $tool missing after install" >&2; exit 1; }
done
echo "setup: ok (LLVM/MLIR $ver)"
