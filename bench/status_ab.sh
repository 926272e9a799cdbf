#!/usr/bin/env bash
# Status-request throughput of two vidproc builds side by side: each serves its own data
# directory on loopback (`vidproc serve --workers 0`, access log on), and wrk alternates between
# them (A B, then B A) for ROUNDS rounds of GET /api/v1/videos/{id}, keep-alive, 64 connections,
# 10 s each. Reports the median req/s and p99 of each and their ratio. Used to check that a
# change on the request path costs nothing measurable (build the other commit in a worktree).
#
#   bench/status_ab.sh --before OLD_VIDPROC [--vidproc build/vidproc] [--rounds 12] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
BENCH_NAME=status_ab

VIDPROC=build/vidproc
BEFORE=""
ROUNDS=12
OUT="bench/results/status-ab-$(date -u +%Y-%m-%d).md"
while [ $# -gt 0 ]; do
  case "$1" in
    --before | --before=*) option_value "$@"; BEFORE=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --vidproc | --vidproc=*) option_value "$@"; VIDPROC=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --rounds | --rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --out | --out=*) option_value "$@"; OUT=$OPT_VALUE; shift "$OPT_WORDS" ;;
    *) print_usage 9 9 >&2; exit 2 ;;
  esac
done
[ -n "$BEFORE" ] || { print_usage 9 9 >&2; exit 2; }
require_vidproc
BEFORE=$(abspath "$BEFORE")
[ -x "$BEFORE" ] || die "no vidproc at $BEFORE"
command -v wrk >/dev/null || apt_install wrk

WORK=$(bench_tmp_dir status-ab.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c 100000 /dev/urandom > "$WORK/tiny"
declare -A URL
for side in A B; do
  bin=$BEFORE
  [ "$side" = B ] && bin=$VIDPROC
  mkdir -p "$WORK/$side"
  "$bin" serve --listen 127.0.0.1:0 --port-file "$WORK/$side/port" --workers 0 \
    --data-dir "$WORK/$side/data" > "$WORK/$side/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$WORK/$side/port" ] && break; sleep 0.1; done
  base="http://127.0.0.1:$(cat "$WORK/$side/port")"
  id=$(curl -sf -H 'Content-Type: video/mp4' -H 'X-Filename: status.mp4' \
    --data-binary @"$WORK/tiny" "$base/api/v1/videos" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  URL[$side]="$base/api/v1/videos/$id"
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

: > "$WORK/runs"
for r in $(seq "$ROUNDS"); do
  order="A B"
  [ $((r % 2)) = 0 ] && order="B A"
  for side in $order; do
    log "round $r: $side"
    echo "$side $(wrk_run "${URL[$side]}")" >> "$WORK/runs"
  done
done

rps_a=$(awk '$1=="A" {print $2}' "$WORK/runs" | median)
rps_b=$(awk '$1=="B" {print $2}' "$WORK/runs" | median)
p99_a=$(awk '$1=="A" {print $3}' "$WORK/runs" | median)
p99_b=$(awk '$1=="B" {print $3}' "$WORK/runs" | median)
mkdir -p "$(dirname "$OUT")"
{
  echo "# Status requests, two builds side by side ($(date -u +%Y-%m-%d))"
  echo
  echo "A: $("$BEFORE" --version). B: $("$VIDPROC" --version)."
  echo "wrk -t2 -c64 -d10s on the same 2 cores; medians of $ROUNDS rounds, A B / B A alternating."
  echo
  echo "| build | req/s | p99 ms |"
  echo "| --- | --- | --- |"
  echo "| A (before) | $rps_a | $p99_a |"
  echo "| B | $rps_b | $p99_b |"
  echo "| B/A | $(awk -v a="$rps_a" -v b="$rps_b" 'BEGIN {printf "%.2f", b/a}') | $(awk -v a="$p99_a" -v b="$p99_b" 'BEGIN {printf "%.2f", b/a}') |"
  echo
  echo "Every round (side, req/s, p99 ms):"
  echo
  sed 's/^/    /' "$WORK/runs"
} > "$OUT"
cat "$OUT"
