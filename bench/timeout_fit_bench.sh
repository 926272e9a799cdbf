#!/usr/bin/env bash
# timeout_fit_bench.sh - does a long 4K60 HDR phone clip finish inside VIDEO_PROCESSING_TIMEOUT
# while another one runs? Two uploads of the same SECS-second 3840x2160 60 fps HEVC Main10 clip
# (HLG or PQ, 50 Mbit/s, made from Debian's forensics-samples-files phone clip: 10 s encoded,
# then looped by stream copy) go to one `vidproc serve` with its defaults (2 slots, the default
# 600 s timeout) at once. Reported per job: upload done -> ready, its realtime factor (SECS / that
# time), the settings the admission chose (x264 preset, frame-rate cap) and why, the predicted
# and measured time and memory of the transcoder child; and whether both ended ready.
# Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/timeout_fit_bench.sh [--vidproc PATH] [--seconds N] [--transfer hlg|pq]
#                                   [--work DIR] [--out FILE]
#   --vidproc PATH  vidproc binary (default build/vidproc, relative to the repo)
#   --seconds N     clip length in seconds (default 180: a 3-minute phone clip)
#   --transfer T    the clip's HDR transfer (default hlg)
#   --work DIR      work dir; the clip is built once and reused (default: mktemp, removed at exit)
#   --out FILE      report file (default bench/results/timeout-fit-<date>.md)
# Running time on 2 idle cores: 3 minutes to build the clip (once per work dir), then about as
# long as the jobs take (under the 600 s timeout when they fit). Needs ~2.3 GB of disk per 180 s
# (the clip and the server's copies of it).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=timeout_fit_bench

VIDPROC_SHOWN=build/vidproc
VIDPROC="$REPO/build/vidproc"
SECS=180
TRANSFER=hlg
WORK=""
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC_SHOWN=$OPT_VALUE; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --seconds|--seconds=*) option_value "$@"; SECS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --transfer|--transfer=*) option_value "$@"; TRANSFER=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    -h|--help) print_usage 2 20; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
[[ $TRANSFER =~ ^(hlg|pq)$ ]] || die "--transfer must be hlg or pq"
[ -n "$OUT" ] || OUT="$REPO/bench/results/timeout-fit-$(date +%Y-%m-%d).md"
{ [ -x "$VIDPROC" ] && [ ! -d "$VIDPROC" ]; } || die "no vidproc binary at $VIDPROC_SHOWN (build it, or pass --vidproc PATH)"
need=()
{ command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || need+=(ffmpeg)
command -v curl >/dev/null 2>&1 || need+=(curl)
apt_install "${need[@]}"

open_work_dir vidproc-timeout-fit-bench.XXXXXX
LOGS="$WORK/logs"; RUNDIR="$WORK/cwd"
rm -rf "$LOGS" "$RUNDIR" "$WORK/data" "$WORK/port"
mkdir -p "$LOGS" "$RUNDIR" # RUNDIR: the server's working directory, so no .env is read
open_serve_report
use_binary_copy

# ---------------------------------------------------------------- the clip
BASE="$WORK/4k60-$TRANSFER-10s.mp4"
CLIP="$WORK/4k60-$TRANSFER-${SECS}s.mp4"
make_phone_hdr_clip "$TRANSFER" 10 "$BASE" 60 3840x2160 framerate 50M
if [ ! -s "$CLIP" ]; then
  log "looping the clip to $SECS s (stream copy)"
  ffmpeg -nostdin -v error -y -stream_loop -1 -i "$BASE" -c copy -t "$SECS" "$CLIP.part.mp4"
  mv "$CLIP.part.mp4" "$CLIP"
fi
CLIP_DESC=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,profile,width,height,r_frame_rate,color_transfer:format=duration,size \
  -of default=nw=1 "$CLIP" | awk -F= '{v[$1] = $2} END {printf "%s %s %sx%s @ %s, %s, %.1f s, %.0f MB", v["codec_name"], v["profile"], v["width"], v["height"], v["r_frame_rate"], v["color_transfer"], v["duration"], v["size"] / 1e6}')

# ---------------------------------------------------------------- two uploads at once
DATE_HUMAN=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
serve_start "$WORK/data" "$WORK/port" "$LOGS/serve.log" "$RUNDIR" || die "vidproc serve did not start: $(tail -n3 "$LOGS/serve.log")"
TIMEOUT_S=$(grep -o '"timeout_s":[0-9]*' "$LOGS/serve.log" | head -n1 | cut -d: -f2 || true)
upload "$CLIP" >"$LOGS/up1" & p1=$!
upload "$CLIP" >"$LOGS/up2" & p2=$!
wait "$p1" "$p2" || true
IDS=() DONE=() OK=()
for f in "$LOGS/up1" "$LOGS/up2"; do
  read -r id t <"$f" || die "an upload failed: $(tail -n3 "$LOGS/serve.log")"
  IDS+=("$id"); DONE+=("$t")
done
for i in 0 1; do
  if ready=$(wait_ready "${IDS[$i]}" "${DONE[$i]}" 2>>"$LOGS/wait.err"); then
    OK+=("ready $(elapsed "${DONE[$i]}" "$ready")")
  else
    OK+=("failed n/a")
    note "job $((i + 1)) did not end ready: $(tail -n1 "$LOGS/wait.err" | md_clean)"
  fi
done
serve_stop

# ---------------------------------------------------------------- report
field() { printf '%s' "$1" | grep -o "\"$2\":[^,}]*" | head -n1 | cut -d: -f2 | tr -d '"'; }
r "# A long 4K60 HDR phone clip against VIDEO_PROCESSING_TIMEOUT, two at once"
r ""
r "$DATE_HUMAN, $(nproc) cores ($(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)), load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (only a quiet machine's numbers mean anything)."
r "vidproc serve with its defaults ($SERVE_SLOTS slots, $SERVE_CORES cores${TIMEOUT_S:+, VIDEO_PROCESSING_TIMEOUT $TIMEOUT_S s}); two uploads at once of: $CLIP_DESC."
r ""
r "| job | status | upload done -> ready (s) | realtime factor | x264 preset | max fps | fitted to the timeout | predicted s | child s | predicted MB | peak MB |"
r "|---|---|---:|---:|---|---:|---|---:|---:|---:|---:|"
for i in 0 1; do
  read -r status wall <<<"${OK[$i]}"
  line=$(grep '"msg":"ready"' "$LOGS/serve.log" | grep "\"video\":\"${IDS[$i]}\"" | head -n1 || true)
  fitted=no
  grep '"msg":"cheaper settings to fit the time limit"' "$LOGS/serve.log" | grep -q "\"video\":\"${IDS[$i]}\"" && fitted=yes
  rt=n/a; isnum "$wall" && rt="$(calc "printf \"%.3f\", $SECS / $wall")x"
  r "| $((i + 1)) | $status | $(f1 "$wall") | $rt | $(field "$line" preset) | $(field "$line" max_fps) | $fitted | $(f0 "$(field "$line" predicted_s)") | $(f0 "$(field "$line" child_s)") | $(f0 "$(field "$line" predicted_mb)") | $(f0 "$(field "$line" peak_mb)") |"
done
r ""
r "Why the admission chose cheaper settings, from the server's log:"
r ""
grep '"msg":"cheaper settings to fit the time limit"' "$LOGS/serve.log" | grep -o '"reason":"[^"]*"' | sed 's/^"reason":/- /' >>"$RPT" || r "- (it did not)"
r ""
finish_report
