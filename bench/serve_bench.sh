#!/usr/bin/env bash
# serve_bench.sh - upload-done to ready through `vidproc serve` with its defaults, paired with the
# ffmpeg CLI on the same file with the engine's settings, on the same machine in the same run:
#   one:  one upload alone, upload done -> ready, against one ffmpeg process;
#   two:  two uploads at once, the first upload done -> both ready, against two ffmpeg processes
#         started together.
# Rounds alternate the order (vidproc first, then ffmpeg first). Reports wall times, their ratios
# (median of the per-round ratios), the CPU-seconds of each side, and where the time of the lone
# job went according to the server's log (queued, claimed, transcoded, stored, ready).
# Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/serve_bench.sh [--vidproc PATH] [--input FILE] [--duration S] [--rounds N]
#                             [--out FILE] [--work DIR]
#   --vidproc PATH  vidproc binary (default build/vidproc, relative to the repo)
#   --input FILE    the upload (default: Debian's forensics-samples-files 1080p phone clip, looped
#                   to --duration seconds and re-encoded as H.264 at 12 Mbit/s)
#   --duration S    length of the default input (default 60)
#   --rounds N      paired rounds (default 3)
#   --out FILE      report file (default bench/results/serve-<date>.md)
#   --work DIR      work dir; the input is built once and reused (default: mktemp, removed at exit)
# Progress goes to stderr; stdout carries only the report.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=serve_bench

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
    -h|--help) print_usage 2 21; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$OUT" ] || OUT="$REPO/bench/results/serve-$(date +%Y-%m-%d).md"
{ [ -x "$VIDPROC" ] && [ ! -d "$VIDPROC" ]; } || die "no vidproc binary at $VIDPROC_SHOWN (build it, or pass --vidproc PATH)"
need=()
{ command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || need+=(ffmpeg)
command -v curl >/dev/null 2>&1 || need+=(curl)
apt_install "${need[@]}"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is required (EPOCHREALTIME)"

open_work_dir vidproc-serve-bench.XXXXXX
LOGS="$WORK/logs"; RUNDIR="$WORK/cwd"; FFOUT="$WORK/ffout"
rm -rf "$LOGS" "$RUNDIR" "$FFOUT"
mkdir -p "$LOGS" "$RUNDIR" "$FFOUT"   # RUNDIR: vidproc's working directory, so no .env is read
open_serve_report

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

# The engine's settings (VIDPROC_PRESET, VIDPROC_VIDEO_BITRATE, VIDPROC_MAX_SIZE defaults): no
# upscaling, the input's timestamps kept, AAC 128k, faststart, as the engine's output has. At the
# transcoder child's nice level (10, worker/child_process.h), so that other load on the machine
# slows both sides alike.
FF_VF=$(ff_fit_vf 1280 720)
ff_one() { # OUT
  nice -n 10 ffmpeg -nostdin -y -v error -i "$INPUT" -vf "$FF_VF" -fps_mode passthrough \
    -c:v libx264 -preset veryfast -b:v 1500k -maxrate 2250k -bufsize 3000k \
    -c:a aac -b:a 128k -movflags +faststart "$1"
}

# ---------------------------------------------------------------- vidproc serve, defaults
# The CPU-seconds of this shell's reaped children (bash `times`, second line). Called as a
# command, not in $( ): a subshell's `times` would not see this shell's children.
children_cpu() {
  times >"$LOGS/times"
  CHILDREN_CPU=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); s += p[1] * 60 + p[2] } printf "%.2f", s }' "$LOGS/times")
}

rm -rf "$WORK/data" "$WORK/port"
serve_start "$WORK/data" "$WORK/port" "$LOGS/serve.log" "$RUNDIR" ||
  die "vidproc serve did not start: $(tail -n3 "$LOGS/serve.log")"
SLOTS=$SERVE_SLOTS
CORES=$SERVE_CORES

vp_run() { # N (1 or 2) -> sets WALL CPU
  local c0 ids=() dones=() line t first="" last="" p1 p2
  c0=$(cpu_of "$SPID")
  if [ "$1" = 1 ]; then
    line=$(upload "$INPUT") || exit 2
    ids=("${line% *}"); first=${line#* }
  else
    # (`wait` with no pids would wait for the server too)
    upload "$INPUT" >"$LOGS/up1" & p1=$!
    upload "$INPUT" >"$LOGS/up2" & p2=$!
    wait "$p1" "$p2" || true
    for f in "$LOGS/up1" "$LOGS/up2"; do
      read -r id t <"$f" || die "an upload failed: $(tail -n3 "$LOGS/serve.log")"
      ids+=("$id")
      if [ -z "$first" ] || calc "exit !($t < $first)"; then first=$t; fi
    done
  fi
  for id in "${ids[@]}"; do t=$(wait_ready "$id" "$first") || exit 2; dones+=("$t"); done
  last=$(printf '%s\n' "${dones[@]}" | sort -n | tail -n1)
  WALL=$(elapsed "$first" "$last")
  CPU=$(calc "printf \"%.2f\", $(cpu_of "$SPID") - $c0")
  LAST_IDS=("${ids[@]}")
  for id in "${ids[@]}"; do curl -sf -X DELETE "$API/videos/$id" >/dev/null || true; done
}
ff_run() { # N -> sets WALL CPU
  local c0 t0 p1 p2
  children_cpu; c0=$CHILDREN_CPU; t0=$EPOCHREALTIME
  if [ "$1" = 1 ]; then
    ff_one "$FFOUT/a.mp4"
  else
    ff_one "$FFOUT/a.mp4" & p1=$!
    ff_one "$FFOUT/b.mp4" & p2=$!
    wait "$p1" || die "ffmpeg failed"
    wait "$p2" || die "ffmpeg failed"
  fi
  WALL=$(elapsed "$t0" "$EPOCHREALTIME")
  children_cpu
  CPU=$(calc "printf \"%.2f\", $CHILDREN_CPU - $c0")
}

declare -A W=() C=()
for r in $(seq 1 "$ROUNDS"); do
  for n in 1 2; do
    if [ $((r % 2)) = 1 ]; then order="vp ff"; else order="ff vp"; fi
    for side in $order; do
      log "round $r, $n upload(s): $side"
      "${side}_run" "$n"
      W[$side$n]+="$WALL "; C[$side$n]+="$CPU "
      if [ "$side" = vp ] && [ "$n" = 1 ]; then ONE_ID=${LAST_IDS[0]}; fi
    done
    W[ratio$n]+="$(ratio "$(echo "${W[vp$n]}" | awk '{print $NF}')" "$(echo "${W[ff$n]}" | awk '{print $NF}')" 3) "
    C[ratio$n]+="$(ratio "$(echo "${C[vp$n]}" | awk '{print $NF}')" "$(echo "${C[ff$n]}" | awk '{print $NF}')" 3) "
  done
done

# ---------------------------------------------------------------- the lone job's timeline
ts_s() { date -d "$1" +%s.%N; }
line_ts() { grep "\"msg\":\"$1\"" "$LOGS/serve.log" | grep "\"video\":\"$ONE_ID\"" | head -n1 | grep -o '"ts":"[^"]*"' | cut -d'"' -f4; }
T_QUEUED=$(line_ts queued); T_STARTED=$(line_ts started)
READY_LINE=$(grep '"msg":"ready"' "$LOGS/serve.log" | grep "\"video\":\"$ONE_ID\"" | head -n1)
field() { printf '%s' "$READY_LINE" | grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }
JOB_S=$(field seconds); BEFORE_S=$(field before_child_s); CHILD_S=$(field child_s)
TRANSCODE_S=$(field transcode_s); STORE_S=$(field store_s); THREADS=$(field threads)
CLAIM_S=n/a; if [ -n "$T_QUEUED" ] && [ -n "$T_STARTED" ]; then CLAIM_S=$(elapsed "$(ts_s "$T_QUEUED")" "$(ts_s "$T_STARTED")"); fi

r "# vidproc serve benchmark: upload done to ready, vs the ffmpeg CLI"
r ""
r "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
r "vidproc serve with its defaults ($SLOTS slots, $CORES cores shared by the jobs); input: $IN_DESC; $ROUNDS paired rounds, order alternating."
r ""
r "| | vidproc serve wall (s) | ffmpeg wall (s) | **wall ratio** (median) | vidproc CPU-s | ffmpeg CPU-s | CPU ratio (median) |"
r "|---|---|---|---|---|---|---|"
for n in 1 2; do
  label="one upload alone"; [ "$n" = 2 ] && label="two uploads at once (to both ready)"
  r "| $label | $(f2 "$(median "${W[vp$n]}")") (${W[vp$n]% }) | $(f2 "$(median "${W[ff$n]}")") (${W[ff$n]% }) | **$(f3 "$(median "${W[ratio$n]}")")x** (${W[ratio$n]% }) | $(f1 "$(median "${C[vp$n]}")") | $(f1 "$(median "${C[ff$n]}")") | $(f3 "$(median "${C[ratio$n]}")")x |"
done
r ""
r "Where the lone job of the last round spent its time, from the server's log (s):"
r ""
r "| queued -> claimed | claimed -> child started | child (spawn to exit) | of which the transcode | child exit -> ready (outputs stored, job completed) | claim -> ready | threads |"
r "|---|---|---|---|---|---|---|"
r "| $CLAIM_S | $BEFORE_S | $CHILD_S | $TRANSCODE_S | $STORE_S | $JOB_S | $THREADS |"
r ""
r "vidproc CPU-s: the server process and its transcoder children (/proc/PID/stat, utime+stime+cutime+cstime),"
r "upload handling included. ffmpeg: the children of this script (bash \`times\`)."
r ""
r "ffmpeg command: \`nice -n 10 ffmpeg -i IN -vf \"$FF_VF\" -fps_mode passthrough -c:v libx264 -preset veryfast -b:v 1500k -maxrate 2250k -bufsize 3000k -c:a aac -b:a 128k -movflags +faststart OUT\`"
r ""
finish_report
