#!/usr/bin/env bash
# memory_bench.sh - peak memory of `vidproc serve` (defaults: 2 slots) processing two 4K60 HEVC
# Main10 HDR phone uploads at once, against two ffmpeg CLI processes doing the same work (the
# zscale + tonemap=hable chain, 720p, x264 veryfast 1500k, AAC), each side alone in a fresh memory
# cgroup. Prints a Markdown report to stdout and writes it to --out FILE. Needs root (cgroups).
#
# Usage: bench/memory_bench.sh [--vidproc PATH] [--transfer hlg|pq] [--seconds N] [--rounds N]
#                              [--work DIR] [--out FILE]
#   --vidproc PATH  the binary (default build/vidproc)
#   --transfer T    the clips' HDR transfer (default hlg)
#   --seconds N     clip length (default 6)
#   --rounds N      rounds, each side once per round, alternating (default 2); medians reported
#   --work DIR      work dir; the clip is built once and reused (default: mktemp, removed at exit)
#   --out FILE      report file (default bench/results/memory-<date>.md)
# Memory is the group's resident charge sampled every 0.1 s: anonymous memory plus mapped files,
# so a shared library counts once however many processes map it, and reclaimable page cache (the
# clips read, the outputs written) does not count. That is what a 2 GB droplet runs out of. The
# kernel's own peak (page cache included) is reported beside it.
set -euo pipefail
# shellcheck disable=SC2034  # BENCH_NAME is read by lib.sh (die, log)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
# shellcheck source=scripts/lib/memory-cgroup.sh
. "$REPO/scripts/lib/memory-cgroup.sh"
BENCH_NAME=memory_bench

VIDPROC="$REPO/build/vidproc"
TRANSFER=hlg
SECS=6
ROUNDS=2
WORK=""
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --transfer|--transfer=*) option_value "$@"; TRANSFER=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --seconds|--seconds=*) option_value "$@"; SECS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --rounds|--rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    -h|--help) print_usage 2 18; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[ -x "$VIDPROC" ] || die "no vidproc at $VIDPROC (build it first)"
[ "$(id -u)" -eq 0 ] || die "needs root (it creates memory cgroups)"
[ -n "$OUT" ] || OUT="$REPO/bench/results/memory-$(date +%Y-%m-%d).md"

open_work_dir vidproc-memory-bench.XXXXXX
SAMPLER=""
SERVER=""
PEAK=""
RESULT=""
stop_all() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null && wait "$SAMPLER" 2>/dev/null || true
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  SAMPLER=""
  SERVER=""
  memcg_remove
}
trap 'stop_all; remove_auto_work' EXIT
LOGS="$WORK/logs"
mkdir -p "$LOGS"
CLIP="$WORK/$TRANSFER-4k60-${SECS}s.mkv"
make_phone_hdr_clip "$TRANSFER" "$SECS" "$CLIP"

# Starts sampling the group's resident charge; stop_sampling sets PEAK to the peak in bytes.
start_sampling() {
  memcg_join
  (
    peak=0
    while :; do
      now=$(memcg_resident_bytes)
      [ "$now" -gt "$peak" ] && peak=$now && echo "$peak" >"$WORK/peak"
      sleep 0.1
    done
  ) &
  SAMPLER=$!
}
stop_sampling() {
  kill "$SAMPLER" 2>/dev/null && wait "$SAMPLER" 2>/dev/null || true
  SAMPLER=""
  PEAK=$(cat "$WORK/peak")
}

run_vidproc() { # sets RESULT to "resident_peak kernel_peak wall"
  local data="$WORK/data" t0 t1 ids=() id pending status base
  rm -rf "$data" "$WORK/port" "$WORK/peak"
  memcg_create $((16 * 1024 * 1024 * 1024)) || die "no memory cgroup"
  start_sampling
  (cd "$WORK" && exec env -i PATH=/usr/bin:/bin "$VIDPROC" serve --env-file /dev/null \
    --data-dir "$data" --listen 127.0.0.1:0 --port-file "$WORK/port") >>"$LOGS/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  [ -s "$WORK/port" ] || die "vidproc serve did not start (see $LOGS/serve.log)"
  base="http://127.0.0.1:$(cat "$WORK/port")"
  t0=$(now) # from the first upload on
  for n in 1 2; do
    id=$(curl -sf -H 'Content-Type: video/x-matroska' -H "X-Filename: phone$n.mkv" \
      --data-binary @"$CLIP" "$base/api/v1/videos" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
    [ -n "$id" ] || die "upload $n refused (see $LOGS/serve.log)"
    ids+=("$id")
  done
  pending=2
  while [ "$pending" -gt 0 ]; do
    pending=0
    for id in "${ids[@]}"; do
      status=$(curl -sf "$base/api/v1/videos/$id" | sed -n 's/.*"status": *"\([a-z_]*\)".*/\1/p')
      [ "$status" = failed ] && die "video $id failed (see $LOGS/serve.log)"
      [ "$status" = ready ] || pending=$((pending + 1))
    done
    [ "$pending" -eq 0 ] || sleep 0.2
  done
  t1=$(now)
  stop_sampling
  RESULT="$PEAK $(memcg_peak_bytes) $(elapsed "$t0" "$t1")"
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
  memcg_remove
}

# What the replaced system ran for every upload (lib.sh's tone mapping chain), to 720p.
FFMPEG_VF="$FF_TONEMAP_VF,scale=1280:720:force_original_aspect_ratio=decrease:force_divisible_by=2"
run_ffmpeg() { # sets RESULT to "resident_peak kernel_peak wall"
  local t0 t1 pids=() n
  rm -f "$WORK/peak"
  memcg_create $((16 * 1024 * 1024 * 1024)) || die "no memory cgroup"
  start_sampling
  t0=$(now)
  for n in 1 2; do
    ffmpeg -nostdin -v error -y -i "$CLIP" -vf "$FFMPEG_VF" -c:v libx264 -preset veryfast \
      -b:v 1500k -maxrate 1500k -bufsize 3000k -c:a aac -b:a 128k -movflags +faststart \
      "$WORK/ffmpeg$n.mp4" 2>>"$LOGS/ffmpeg.log" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || die "ffmpeg failed (see $LOGS/ffmpeg.log)"; done
  t1=$(now)
  stop_sampling
  RESULT="$PEAK $(memcg_peak_bytes) $(elapsed "$t0" "$t1")"
  memcg_remove
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A V=()
add() { V[$1]="${V[$1]:-} $2"; }
for round in $(seq 1 "$ROUNDS"); do
  order="vidproc ffmpeg"
  [ $((round % 2)) -eq 0 ] && order="ffmpeg vidproc"
  for side in $order; do
    log "round $round: $side"
    "run_$side"
    read -r resident kernel wall <<<"$RESULT"
    log "$side: resident peak $resident B, kernel peak $kernel B, wall $wall s"
    add "$side.resident" "$resident"
    add "$side.kernel" "$kernel"
    add "$side.wall" "$wall"
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
mb() { isnum "${1:-}" && calc "printf \"%.0f\", $1 / 1000000" || printf 'n/a'; }
med() { median "${V[$1]:-}"; }

{
  echo "# Memory: two 4K HDR phone uploads at once ($(date -u +%Y-%m-%d))"
  echo
  echo "Input: ${SECS} s of 3840x2160 60 fps HEVC Main10 $TRANSFER (x265) made from real footage,"
  echo "uploaded twice. vidproc: \`vidproc serve\` with its defaults (2 slots, SQLite + local disk),"
  echo "from the first upload until both are ready. ffmpeg: two CLI processes started together,"
  echo "zscale + tonemap=hable to 720p, x264 veryfast 1500k, AAC. Each side alone in a fresh memory"
  echo "cgroup (v$MEMCG_VERSION); $ROUNDS round(s), alternating, medians."
  echo "Resident: anonymous memory plus mapped files, sampled every 0.1 s (a shared library counts"
  echo "once; page cache does not). Kernel peak: the cgroup's own peak charge, page cache included."
  echo "Machine: nproc=$(nproc); load average at start $LOAD_START, at end $LOAD_END."
  echo
  echo "| measure | vidproc serve | two ffmpeg | vidproc / ffmpeg | target |"
  echo "|---|---:|---:|---:|---|"
  echo "| resident peak, MB | $(mb "$(med vidproc.resident)") | $(mb "$(med ffmpeg.resident)") | $(ratio "$(med vidproc.resident)" "$(med ffmpeg.resident)") | vidproc <= 650 MB |"
  echo "| kernel peak (page cache included), MB | $(mb "$(med vidproc.kernel)") | $(mb "$(med ffmpeg.kernel)") | $(ratio "$(med vidproc.kernel)" "$(med ffmpeg.kernel)") | |"
  echo "| wall, s | $(f1 "$(med vidproc.wall)") | $(f1 "$(med ffmpeg.wall)") | $(ratio "$(med vidproc.wall)" "$(med ffmpeg.wall)") | |"
  echo
  echo "Command: \`bench/memory_bench.sh --transfer $TRANSFER --seconds $SECS --rounds $ROUNDS\`"
} | tee "$OUT.part"
mkdir -p "$(dirname "$OUT")"
mv "$OUT.part" "$OUT"
