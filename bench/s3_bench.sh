#!/usr/bin/env bash
# S3 throughput: a 1 GB object up to and down from a local Ceph RADOS Gateway (started here with
# scripts/s3-test-server.sh), `vidproc storage put/get` (the S3Store the workers use) against
# `aws s3 cp` (Debian's awscli), alternating A B A B, plus vidproc's peak memory over idle.
#
#   bench/s3_bench.sh [--vidproc build/vidproc] [--size-mb 1024] [--rounds 2] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
BENCH_NAME=s3_bench

VIDPROC=build/vidproc
SIZE_MB=1024
ROUNDS=2
OUT="bench/results/s3-$(date -u +%Y-%m-%d).md"
parse_transfer_options "$@"
require_vidproc
scripts/install-deps.sh

WORK=$(mktemp -d)
DIR="$WORK/s3"
trap 'scripts/s3-test-server.sh stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
eval "$(scripts/s3-test-server.sh start "$DIR")"

export HOME="$WORK" AWS_ACCESS_KEY_ID="$S3_TEST_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_TEST_SECRET_KEY"
export AWS_DEFAULT_REGION="$S3_TEST_REGION"
AWS=(/usr/bin/aws --endpoint-url "$S3_TEST_ENDPOINT")
"${AWS[@]}" s3api create-bucket --bucket bench >/dev/null

export USE_SPACES=True SPACES_ACCESS_KEY="$S3_TEST_ACCESS_KEY" SPACES_SECRET_KEY="$S3_TEST_SECRET_KEY"
export SPACES_BUCKET_NAME=bench SPACES_ENDPOINT_URL="$S3_TEST_ENDPOINT" SPACES_REGION="$S3_TEST_REGION"
export VIDPROC_DATA_DIR="$WORK/data" LOG_LEVEL=warning

echo "making a ${SIZE_MB} MB object (incompressible)" >&2
# (openssl is stopped by SIGPIPE when head has enough: not an error)
head -c $((SIZE_MB << 20)) < <(openssl enc -aes-128-ctr -pass pass:vidproc -nosalt </dev/zero 2>/dev/null) \
  >"$WORK/object.bin"

# measure NAME CMD...: appends "NAME wall user sys rss_kb" to $WORK/runs
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/t" "$@" >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err" >&2; echo "$name failed" >&2; exit 1; }
  echo "$name $(cat "$WORK/t")" >>"$WORK/runs"
}

: >"$WORK/runs"
measure idle "$VIDPROC" storage ls nothing/
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r" >&2
  measure A_up "$VIDPROC" storage put "$WORK/object.bin" "a-$r"
  measure B_up "${AWS[@]}" s3 cp --quiet "$WORK/object.bin" "s3://bench/b-$r"
  measure A_down "$VIDPROC" storage get "a-$r" "$WORK/down.bin"
  cmp -s "$WORK/object.bin" "$WORK/down.bin" || { echo "vidproc download differs" >&2; exit 1; }
  rm -f "$WORK/down.bin"
  measure B_down "${AWS[@]}" s3 cp --quiet "s3://bench/b-$r" "$WORK/down.bin"
  rm -f "$WORK/down.bin"
done

run_median() { # median of column $2 for runs named $1
  median_plain "$(awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$WORK/runs")"
}

idle_rss=$(run_median idle 5)
{
  echo "# S3 throughput: vidproc storage (A) vs aws s3 cp (B)"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs),"
  echo "a ${SIZE_MB} MB incompressible object, Ceph RGW $(radosgw --version 2>/dev/null | awk '{print $3}') on 127.0.0.1 (bluestore on a file),"
  echo "$(/usr/bin/aws --version 2>&1 | awk '{print $1}'), medians of $ROUNDS round(s), A and B alternating."
  echo
  echo "| direction | vidproc wall | aws wall | vidproc MB/s | aws MB/s | time A/B | vidproc CPU | aws CPU |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for d in up down; do
    aw=$(run_median "A_$d" 2); bw=$(run_median "B_$d" 2)
    acpu=$(awk -v u="$(run_median "A_$d" 3)" -v s="$(run_median "A_$d" 4)" 'BEGIN { print u + s }')
    bcpu=$(awk -v u="$(run_median "B_$d" 3)" -v s="$(run_median "B_$d" 4)" 'BEGIN { print u + s }')
    echo "| $d | ${aw} s | ${bw} s | $(mbps "$SIZE_MB*1048576" "$aw") | $(mbps "$SIZE_MB*1048576" "$bw") | $(ratio "$aw" "$bw")x | ${acpu} s | ${bcpu} s |"
  done
  echo
  a_up_rss=$(run_median A_up 5); a_down_rss=$(run_median A_down 5)
  echo "| memory | peak RSS | over idle (${idle_rss} KB = $(mib "$idle_rss") MiB) |"
  echo "|---|---:|---:|"
  echo "| vidproc upload | $(mib "$a_up_rss") MiB | $(mib $((a_up_rss - idle_rss))) MiB |"
  echo "| vidproc download | $(mib "$a_down_rss") MiB | $(mib $((a_down_rss - idle_rss))) MiB |"
  echo "| aws upload | $(mib "$(run_median B_up 5)") MiB | |"
  echo "| aws download | $(mib "$(run_median B_down 5)") MiB | |"
  echo
  echo "Raw runs (name wall user sys rss_kb):"
  echo '```'
  cat "$WORK/runs"
  echo '```'
} | tee "$WORK/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
echo "report written to $OUT" >&2
