#!/usr/bin/env bash
# Queue claims per second with 1, 4 and 16 concurrent workers (each its own connection and worker
# id, as separate `vidproc worker` processes): PostgreSQL (started here with
# scripts/pg-test-server.sh; SELECT ... FOR UPDATE SKIP LOCKED) and, in the same run for
# reference, the embedded SQLite store (one writer at a time). Every claimed id is checked for
# duplicates.
#
#   bench/claim_bench.sh [--seconds 10] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
BENCH_NAME=claim_bench
SECONDS_PER_ROUND=10
OUT="bench/results/claims-$(date -u +%Y-%m-%d).md"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds|--seconds=*) option_value "$@"; SECONDS_PER_ROUND=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$OPT_VALUE; shift "$OPT_WORDS" ;;
    *) echo "usage: $0 [--seconds S] [--out FILE]" >&2; exit 2 ;;
  esac
done
scripts/install-deps.sh
TARGET=claim_bench scripts/build.sh build-bench -DVIDPROC_BUILD_BENCH=ON -DVIDPROC_BUILD_TESTS=OFF >/dev/null
WORK=$(bench_tmp_dir claims.XXXXXX)
trap 'scripts/pg-test-server.sh stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
eval "$(scripts/pg-test-server.sh start "$WORK/pg")"
mkdir -p "$(dirname "$OUT")"
{
  echo "# Queue claims, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores; $(psql --version | head -1) on loopback (fsync on); ${SECONDS_PER_ROUND} s a row."
  echo
  echo "## PostgreSQL (PostgresStore)"
  echo
  build-bench/bench/claim_bench "$PG_TEST_URL" --seconds "$SECONDS_PER_ROUND"
  echo
  echo "## SQLite (SqliteStore, WAL, synchronous=FULL), same machine, for reference"
  echo
  build-bench/bench/claim_bench "sqlite:///$WORK/claims.db" --seconds "$SECONDS_PER_ROUND" --jobs 40000
} | tee "$OUT"
