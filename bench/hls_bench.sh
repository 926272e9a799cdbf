#!/usr/bin/env bash
# hls_bench.sh - what HLS from the same encode costs, and how soon a video can be watched:
#   engine: `vidproc transcode IN OUT`, the same with `--hls DIR`, and with `--hls DIR
#           --renditions 360` (a second rung) on the same input, rounds rotating the order:
#           CPU-seconds (user+sys) and wall of each;
#   packaging alone: the engine's own 720p output remuxed (no decode, no encode) with and without
#           `--hls`, 7 rounds alternating: the CPU the HLS muxing adds, as a share of the encode's
#           CPU (the engine rows' noise between rounds is larger than this cost);
#   serve:  `vidproc serve` with its defaults (VIDPROC_OUTPUTS=mp4,hls) against the same server
#           with VIDPROC_OUTPUTS=mp4, one upload alone each, rounds alternating: upload done ->
#           first playable (the resource says playable, HLS published) and -> ready, and the
#           server's CPU-seconds (its transcoder children included).
# Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/hls_bench.sh [--vidproc PATH] [--input FILE] [--duration S] [--rounds N]
#                           [--out FILE] [--work DIR]
#   --vidproc PATH  vidproc binary (default build/vidproc, relative to the repo)
#   --input FILE    the upload (default: Debian's forensics-samples-files 1080p phone clip, looped
#                   to --duration seconds and re-encoded as H.264 at 12 Mbit/s)
#   --duration S    length of the default input (default 60)
#   --rounds N      paired rounds (default 3)
#   --out FILE      report file (default bench/results/hls-<date>.md)
#   --work DIR      work dir; the input is built once and reused (default: mktemp, removed at exit)
# Progress goes to stderr; stdout carries only the report.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=hls_bench

VIDPROC_SHOWN=build/vidproc
VIDPROC="$REPO/build/vidproc"
INPUT=""
DURATION=60
ROUNDS=3
WORK=""
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC_SHOWN=$OPT_VALUE; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --input|--input=*) option_value "$@"; INPUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --duration|--duration=*) option_value "$@"; DURATION=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --rounds|--rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    -h|--help) print_usage 2 20; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$OUT" ] || OUT="$REPO/bench/results/hls-$(date +%Y-%m-%d).md"
{ [ -x "$VIDPROC" ] && [ ! -d "$VIDPROC" ]; } || die "no vidproc binary at $VIDPROC_SHOWN (build it, or pass --vidproc PATH)"
need=()
{ command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || need+=(ffmpeg)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ -x /usr/bin/time ] || need+=(time)
apt_install "${need[@]}"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is required (EPOCHREALTIME)"

open_work_dir vidproc-hls-bench.XXXXXX
LOGS="$WORK/logs"; RUNDIR="$WORK/cwd"; OUTS="$WORK/outs"
rm -rf "$LOGS" "$RUNDIR" "$OUTS"
mkdir -p "$LOGS" "$RUNDIR" "$OUTS"
RPT="$WORK/report.md.part"
: >"$RPT"
NOTES=()
SPID=""
stop_server() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  SPID=""
}
cleanup() { stop_server; remove_auto_work; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the input
if [ -z "$INPUT" ]; then
  CACHE="$WORK/cache"
  CLIP=usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4
  [ -s "$CACHE/pkg/$CLIP" ] || fetch_samples_package "$CACHE"
  INPUT="$WORK/phone-1080p-${DURATION}s.mp4"
  if [ ! -s "$INPUT" ]; then
    log "building the input: $DURATION s of 1080p H.264 from $CLIP"
    ffmpeg -nostdin -v error -y -stream_loop -1 -i "$CACHE/pkg/$CLIP" -t "$DURATION" \
      -c:v libx264 -preset veryfast -b:v 12M -maxrate 14M -bufsize 24M -c:a aac -b:a 128k \
      "$INPUT.part.mp4"
    mv "$INPUT.part.mp4" "$INPUT"
  fi
fi
[ -s "$INPUT" ] || die "no input at $INPUT"
IN_DESC=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height,r_frame_rate:format=duration,size \
  -of default=nw=1 "$INPUT" | awk -F= '{v[$1] = $2} END {printf "%s %sx%s @ %s, %.1f s, %.1f MB", v["codec_name"], v["width"], v["height"], v["r_frame_rate"], v["duration"], v["size"] / 1e6}')

# ---------------------------------------------------------------- the engine alone
engine_run() { # mp4|hls|hls360 -> sets WALL CPU
  local args=("$VIDPROC" transcode "$INPUT" "$OUTS/out.mp4" -y --progress none --force-encode)
  rm -rf "$OUTS/hls"
  case $1 in
    hls) args+=(--hls "$OUTS/hls") ;;
    hls360) args+=(--hls "$OUTS/hls" --renditions 360) ;;
  esac
  /usr/bin/time -f '%e %U %S' -o "$LOGS/time" "${args[@]}" >/dev/null 2>"$LOGS/engine.err" ||
    die "transcode failed: $(tail -n3 "$LOGS/engine.err")"
  read -r WALL u s <"$LOGS/time"
  CPU=$(calc "printf \"%.2f\", $u + $s")
}

declare -A EW=() EC=()
last() { echo "$1" | awk '{print $NF}'; }
for r in $(seq 1 "$ROUNDS"); do
  case $((r % 3)) in
    1) order="mp4 hls hls360" ;;
    2) order="hls hls360 mp4" ;;
    0) order="hls360 mp4 hls" ;;
  esac
  for side in $order; do
    log "engine round $r: $side"
    engine_run "$side"
    EW[$side]+="$WALL "; EC[$side]+="$CPU "
    if [ "$side" = hls ]; then
      SEGMENTS=$(grep -c '\.m4s$' "$OUTS/hls/720p.m3u8" 2>/dev/null || echo 0)
      HLS_BYTES=$(du -cb "$OUTS"/hls/*.m4s "$OUTS"/hls/*-init.mp4 2>/dev/null | tail -n1 | cut -f1)
    fi
  done
  for v in hls hls360; do
    EC[ratio_$v]+="$(ratio "$(last "${EC[$v]}")" "$(last "${EC[mp4]}")" 4) "
    EW[ratio_$v]+="$(ratio "$(last "${EW[$v]}")" "$(last "${EW[mp4]}")" 4) "
  done
done
MP4_BYTES=$(stat -c %s "$OUTS/out.mp4")

# ---------------------------------------------------------------- packaging alone
REMUX_IN="$WORK/remux-in.mp4"
cp "$OUTS/out.mp4" "$REMUX_IN"
remux_run() { # mp4|hls -> sets CPU
  local args=("$VIDPROC" transcode "$REMUX_IN" "$OUTS/remux.mp4" -y --progress none)
  rm -rf "$OUTS/remux-hls"
  [ "$1" = hls ] && args+=(--hls "$OUTS/remux-hls")
  /usr/bin/time -f '%e %U %S' -o "$LOGS/time" "${args[@]}" >"$LOGS/remux.out" 2>"$LOGS/remux.err" ||
    die "remux failed: $(tail -n3 "$LOGS/remux.err")"
  grep -q '"path":"passthrough"' "$LOGS/remux.out" || die "the engine's output was not remuxed: $(head -c 300 "$LOGS/remux.out")"
  read -r _ u s <"$LOGS/time"
  CPU=$(calc "printf \"%.3f\", $u + $s")
}
declare -A RC=()
for r in $(seq 1 7); do
  if [ $((r % 2)) = 1 ]; then order="mp4 hls"; else order="hls mp4"; fi
  for side in $order; do remux_run "$side"; RC[$side]+="$CPU "; done
done
PACK_CPU=$(calc "printf \"%.3f\", $(median "${RC[hls]}") - $(median "${RC[mp4]}")")
PACK_SHARE=$(calc "printf \"%.2f\", 100 * $PACK_CPU / $(median "${EC[mp4]}")")

# ---------------------------------------------------------------- through vidproc serve

start_server() { # OUTPUTS
  stop_server
  rm -rf "$WORK/data" "$WORK/port"
  (cd "$RUNDIR" && exec env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 LOG_FORMAT=json \
    "VIDPROC_DATA_DIR=$WORK/data" "VIDPROC_OUTPUTS=$1" "$VIDPROC" serve --listen 127.0.0.1:0 \
    --port-file "$WORK/port") >"$LOGS/serve-$1.log" 2>&1 &
  SPID=$!
  for _ in $(seq 1 300); do
    [ -s "$WORK/port" ] && grep -q '"msg":"worker started"' "$LOGS/serve-$1.log" && break
    sleep 0.1
  done
  grep -q '"msg":"worker started"' "$LOGS/serve-$1.log" || die "vidproc serve did not start: $(tail -n3 "$LOGS/serve-$1.log")"
  API="http://127.0.0.1:$(cat "$WORK/port")/api/v1"
}

serve_run() { # OUTPUTS -> sets WALL PLAYABLE CPU
  local c0 id up s body
  start_server "$1"
  c0=$(cpu_of "$SPID")
  id=$(curl -sf -H 'Content-Type: video/mp4' -H "X-Filename: $(basename "$INPUT")" --data-binary @"$INPUT" "$API/videos" |
    grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)
  up=$EPOCHREALTIME
  [ -n "$id" ] || die "upload failed: $(tail -n3 "$LOGS/serve-$1.log")"
  PLAYABLE=n/a
  for _ in $(seq 1 36000); do
    body=$(curl -sf "$API/videos/$id")
    s=$(printf '%s' "$body" | grep -o '"status":"[^"]*"' | head -n1 | cut -d'"' -f4)
    if [ "$PLAYABLE" = n/a ] && printf '%s' "$body" | grep -q '"playable":true'; then
      PLAYABLE=$(elapsed "$up" "$EPOCHREALTIME")
    fi
    case $s in
      ready) break ;;
      failed) die "video $id failed: $body" ;;
    esac
    sleep 0.05
  done
  WALL=$(elapsed "$up" "$EPOCHREALTIME")
  CPU=$(calc "printf \"%.2f\", $(cpu_of "$SPID") - $c0")
  [ "$PLAYABLE" = n/a ] && PLAYABLE=$WALL   # without HLS, ready is the first playable moment
  stop_server
}

declare -A SW=() SP=() SC=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="mp4 mp4,hls"; else order="mp4,hls mp4"; fi
  for side in $order; do
    log "serve round $r: VIDPROC_OUTPUTS=$side"
    serve_run "$side"
    SW[$side]+="$WALL "; SP[$side]+="$PLAYABLE "; SC[$side]+="$CPU "
  done
done

r "# HLS from the same encode: its cost, and how soon a video plays"
r ""
r "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
r "Input: $IN_DESC; $ROUNDS rounds, order alternating."
r ""
r "## The engine: \`vidproc transcode\` with and without \`--hls\`"
r ""
r "| | CPU-s (user+sys) | **CPU ratio to MP4 only** (median of rounds) | wall (s) | wall ratio |"
r "|---|---|---|---|---|"
r "| MP4 only | $(f2 "$(median "${EC[mp4]}")") (${EC[mp4]% }) | 1 | $(f2 "$(median "${EW[mp4]}")") | 1 |"
r "| MP4 + HLS (\`--hls\`) | $(f2 "$(median "${EC[hls]}")") (${EC[hls]% }) | **$(f3 "$(median "${EC[ratio_hls]}")")x** (${EC[ratio_hls]% }) | $(f2 "$(median "${EW[hls]}")") | $(f3 "$(median "${EW[ratio_hls]}")")x |"
r "| MP4 + HLS + a 360p rung (\`--renditions 360\`) | $(f2 "$(median "${EC[hls360]}")") (${EC[hls360]% }) | **$(f3 "$(median "${EC[ratio_hls360]}")")x** (${EC[ratio_hls360]% }) | $(f2 "$(median "${EW[hls360]}")") | $(f3 "$(median "${EW[ratio_hls360]}")")x |"
r ""
r "HLS: $SEGMENTS segments, $(calc "printf \"%.2f\", $HLS_BYTES / 1e6") MB with the init segment, against the MP4's $(calc "printf \"%.2f\", $MP4_BYTES / 1e6") MB."
r ""
r "**Packaging alone** (the 720p output remuxed, 7 rounds): $(median "${RC[mp4]}") CPU-s without \`--hls\` (${RC[mp4]% }), $(median "${RC[hls]}") with it (${RC[hls]% }): HLS adds **$PACK_CPU CPU-s, $PACK_SHARE %** of the encode's $(f2 "$(median "${EC[mp4]}")") CPU-s."
r ""
r "## \`vidproc serve\`: upload done to playable and to ready"
r ""
r "| VIDPROC_OUTPUTS | upload done -> playable (s) | upload done -> ready (s) | server CPU-s |"
r "|---|---|---|---|"
for side in mp4 mp4,hls; do
  r "| \`$side\` | $(f2 "$(median "${SP[$side]}")") (${SP[$side]% }) | $(f2 "$(median "${SW[$side]}")") (${SW[$side]% }) | $(f1 "$(median "${SC[$side]}")") (${SC[$side]% }) |"
done
r ""
r "Playable: the first time \`GET /api/v1/videos/{id}\` (polled every 50 ms) said \`\"playable\": true\` (the"
r "master and media playlists and the first segment are stored); with \`mp4\` only, the video plays once ready."
r "Server CPU-s: the server process and its transcoder children (/proc/PID/stat, utime+stime+cutime+cstime)."
r ""
finish_report
