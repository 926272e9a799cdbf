#!/usr/bin/env bash
# Configures and builds vidproc into build/ (or $1). Extra arguments go to cmake.
# TARGET=vidproc builds only the program (no tests; several targets: space-separated); JOBS=1 compiles one file at a time (the
# default is one per core; see docs/DEPLOY.md for the memory each takes).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
# shellcheck disable=SC2086  # TARGET may name several targets
cmake --build "$dir" -j "${JOBS:-$(nproc)}" ${TARGET:+--target $TARGET}
