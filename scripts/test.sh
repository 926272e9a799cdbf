#!/usr/bin/env bash
# Builds vidproc and runs every test: once in a normal build, once under AddressSanitizer and
# UndefinedBehaviorSanitizer. Installs what it needs first (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-promtool.sh

echo "== format (clang-format, .clang-format)"
sources=$(find src tests -name '*.cc' -o -name '*.h')
# shellcheck disable=SC2086
clang-format --dry-run --Werror $sources

fixtures="$PWD/build/fixtures"
jobs=$(nproc)

echo "== build (RelWithDebInfo)"
scripts/build.sh build -DVIDPROC_FIXTURES_DIR="$fixtures"
echo "== tests"
(cd build && ctest -j"$jobs" --output-on-failure)

echo "== build (AddressSanitizer + UBSan)"
scripts/build.sh build-asan -DVIDPROC_SANITIZE=ON -DVIDPROC_FIXTURES_DIR="$fixtures"
echo "== tests under sanitizers"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The browser, load and memory-limit tests measure the page and memory, not memory safety: once is
# enough (and ASan's shadow memory would break their memory bounds). The package is made from the
# normal build only.
(cd build-asan && ctest -j"$jobs" --output-on-failure -E '^(web_(browser|load)|deploy_package.*|worker_memory_limit)$')
