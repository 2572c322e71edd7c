#!/usr/bin/env bash
# build.sh: configures and builds synkro with CMake. The Dockerfile calls this
# same script, so the image recipe and `make build` cannot drift apart.
#   scripts/build.sh [release|test|fuzz] [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=${2:-build}; args=(-DCMAKE_BUILD_TYPE=Release -DSYNKRO_SANITIZE=OFF -DSYNKRO_TESTS=OFF) ;;
  test)    dir=${2:-build-test}; args=(-DCMAKE_BUILD_TYPE=Debug -DSYNKRO_SANITIZE=ON -DSYNKRO_TESTS=ON) ;;
  fuzz)    dir=${2:-build-fuzz}; args=(-DCMAKE_BUILD_TYPE=Debug -DSYNKRO_SANITIZE=ON -DSYNKRO_TESTS=OFF -DSYNKRO_FUZZ=ON -DCMAKE_C_COMPILER=clang) ;;
  *) echo "usage: scripts/build.sh [release|test|fuzz] [build-dir]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
