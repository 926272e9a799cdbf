#!/usr/bin/env bash
# Builds vidproc and runs every test once: the system tests on the normal build, the rest under
# AddressSanitizer and UndefinedBehaviorSanitizer (below). Installs what it needs first (Debian
# packages, the web page's npm packages).
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

# Every test runs once (the label `system` is in tests/CMakeLists.txt):
# - the system tests on the normal build, the one that ships: vidproc with the S3 server, several
#   processes scaling out, the Debian package, nginx, Django, browsers, the memory cgroup (their
#   timings and memory bounds are the product's, not ASan's);
# - every other test under AddressSanitizer and UBSan: vidproc's own code in the test process or
#   in `vidproc` children, with SQLite, PostgreSQL and local storage, where a memory error or
#   undefined behaviour is caught at the line it happens.
# The normal build therefore compiles only what the system tests run.
echo "== build (RelWithDebInfo): vidproc and the system tests"
TARGET="vidproc vidproc_s3_tests vidproc_s3_pipeline_tests vidproc_scale_tests" \
  scripts/build.sh build -DVIDPROC_FIXTURES_DIR="$fixtures"
echo "== system tests"
(cd build && ctest -j"$jobs" -L system --output-on-failure)

echo "== build (AddressSanitizer + UBSan)"
scripts/build.sh build-asan -DVIDPROC_SANITIZE=ON -DVIDPROC_FIXTURES_DIR="$fixtures"
echo "== tests under sanitizers"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest -j"$jobs" -LE system --output-on-failure)
