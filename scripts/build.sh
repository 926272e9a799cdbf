#!/usr/bin/env bash
# Configures and builds vidproc into build/ (or $1). Extra arguments go to cmake.
# TARGET=vidproc builds only the program (no tests).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)" ${TARGET:+--target "$TARGET"}
