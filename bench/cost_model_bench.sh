#!/usr/bin/env bash
# cost_model_bench.sh - measures what a transcode job costs (the child's wall time, user + system
# CPU and peak RSS) on a set of phone clips and settings, then fits the admission model
# (src/media/cost_model.h) to it with cost_model_fit, which writes the coefficients to --model and
# prints the prediction errors. Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/cost_model_bench.sh [--vidproc PATH] [--fit PATH] [--rounds N] [--quick]
#                                  [--work DIR] [--out FILE] [--model FILE] [--data FILE]
#   --vidproc PATH  the binary (default build/vidproc)
#   --fit PATH      the fitting program (default build/bench/cost_model_fit; configure the build
#                   with -DVIDPROC_BUILD_BENCH=ON)
#   --rounds N      runs of every setting, the whole list once per round (default 2); the fit
#                   takes the median of each setting's runs
#   --quick         a smoke run: 1 round of the first few settings, no model written
#   --clips-only    make the clips in --work and stop (to measure later, on a quieter machine)
#   --speedup-only  run only the speed-up pairs (below), appending to --data, then fit
#   --work DIR      work dir; the clips are built once and reused (default: mktemp, removed at exit)
#   --out FILE      report file (default bench/results/cost-model-<date>.md)
#   --model FILE    where the fit writes the model (default src/media/cost_model.json)
#   --data FILE     the measurements, one JSON object a line (default bench/results/cost-model-
#                   <date>.jsonl); cost_model_fit --data FILE refits from them without measuring
#   --speedup S     the 2-core speed-up measured on a quiet machine, for the fit, when this one is
#                   too loaded for the pairs (see below) to show it
# Every run is `vidproc transcode` with the child's command line as the worker builds it
# (src/worker/job_runner.cc RunChild: thumbnail and its widths, storyboard, HLS, sandbox,
# --progress json), timed by GNU time. The machine may be shared: the fit uses CPU-seconds, and
# wall time only for the threads' speed-up. That comes from pairs of runs, one job with 2 threads
# then 1, at nice -10 when root so that other work on the machine takes less of their wall time
# (the speed-up is what a job gets with the cores to itself); the report gives the load.
set -euo pipefail
# shellcheck disable=SC2034  # BENCH_NAME is read by lib.sh (die, log)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=cost_model_bench

VIDPROC="$REPO/build/vidproc"
FIT="$REPO/build/bench/cost_model_fit"
ROUNDS=2
QUICK=0
CLIPS_ONLY=0
SPEEDUP_ONLY=0
GIVEN_SPEEDUP=""
WORK=""
OUT=""
MODEL="$REPO/src/media/cost_model.json"
DATA=""
while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --fit|--fit=*) option_value "$@"; FIT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --rounds|--rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --quick) QUICK=1; ROUNDS=1; shift ;;
    --clips-only) CLIPS_ONLY=1; shift ;;
    --speedup-only) SPEEDUP_ONLY=1; shift ;;
    --speedup|--speedup=*) option_value "$@"; GIVEN_SPEEDUP=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --model|--model=*) option_value "$@"; MODEL=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --data|--data=*) option_value "$@"; DATA=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    -h|--help) print_usage 2 33; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[ "$CLIPS_ONLY" = 1 ] || [ -x "$VIDPROC" ] || die "no vidproc at $VIDPROC (build it first)"
[ "$CLIPS_ONLY" = 1 ] || [ -x "$FIT" ] || die "no cost_model_fit at $FIT (cmake -DVIDPROC_BUILD_BENCH=ON, then build target cost_model_fit)"
[ -n "$OUT" ] || OUT="$REPO/bench/results/cost-model-$(date +%Y-%m-%d).md"
[ -n "$DATA" ] || DATA="$REPO/bench/results/cost-model-$(date +%Y-%m-%d).jsonl"
[ -x /usr/bin/time ] || apt_install time
command -v ffmpeg >/dev/null 2>&1 || apt_install ffmpeg

open_work_dir vidproc-cost-model-bench.XXXXXX
trap remove_auto_work EXIT
LOGS="$WORK/logs"
CLIPS="$WORK/clips"
mkdir -p "$LOGS" "$CLIPS"
NOTES=()

# ---------------------------------------------------------------- clips
# SDR phone clips from the same ping-pong footage as the HDR ones: CODEC h264|hevc, DEPTH 8|10,
# FPS (60 blends neighbours: every picture differs), WxH (portrait turns the picture first), SECS,
# AUDIO 1 for a stereo AAC track, BITRATE the video's (H.264 at 1000k and 720p is web-ready: the
# engine remuxes it). Writes CLIPS/NAME.mp4 once.
make_sdr_clip() { # NAME CODEC DEPTH FPS WxH SECS AUDIO BITRATE
  local name=$1 codec=$2 depth=$3 fps=$4 size=$5 secs=$6 audio=$7 rate=$8 out="$CLIPS/$1.mp4"
  local turn="" pixfmt=yuv420p conv=fps enc audio_in=() audio_out=(-an)
  if [ -s "$out" ] && [ -f "$out.ok" ]; then return 0; fi
  make_pingpong
  [ "${size%x*}" -lt "${size#*x}" ] && turn="transpose=clock,"
  [ "$depth" = 10 ] && pixfmt=yuv420p10le
  [ "$fps" -gt 30 ] && conv=framerate
  case $codec in
    h264) enc=(-c:v libx264 -preset veryfast -b:v "$rate" -maxrate "$rate" -bufsize "$rate" -profile:v high) ;;
    hevc) enc=(-c:v libx265 -preset ultrafast -b:v "$rate" -tag:v hvc1 -x265-params log-level=error) ;;
    *) die "make_sdr_clip: unknown codec $codec" ;;
  esac
  if [ "$audio" = 1 ]; then
    audio_in=(-f lavfi -i "sine=frequency=440:sample_rate=48000,pan=stereo|c0=c0|c1=c0")
    audio_out=(-map 1:a -c:a aac -b:a 128k)
  fi
  log "encoding $name ($codec $depth-bit, $size at $fps fps, $secs s)"
  ffmpeg -nostdin -v error -y -stream_loop -1 -i "$WORK/pingpong.mkv" "${audio_in[@]}" -t "$secs" \
    -map 0:v -vf "$conv=$fps,${turn}scale=${size%x*}:${size#*x}:flags=bicubic,format=$pixfmt" \
    "${enc[@]}" -pix_fmt "$pixfmt" -color_primaries bt709 -color_trc bt709 -colorspace bt709 \
    "${audio_out[@]}" -movflags +faststart "$out" 2>>"$LOGS/encode.log" ||
    die "encoding $name failed (see $LOGS/encode.log)"
  touch "$out.ok"
}
hdr_clip() { # NAME TRANSFER FPS WxH SECS [BITRATE]
  make_phone_hdr_clip "$2" "$5" "$CLIPS/$1.mp4" "$3" "$4" framerate "${6:-}"
}

# The benchmark set of issue 14: 1080p30 H.264, 4K30 and 4K60 HEVC Main10 HLG and PQ, portrait
# and landscape; two lengths of some clips (the fixed and the per-picture costs separate), HEVC
# at 8 and 10 bits without HDR (codec, bit depth and tone mapping separate), 1080p60 H.264 and a
# web-ready 720p file (the remux). Decoding costs per bit as well as per pixel: most clips are at
# modest rates (x265's CRF 28 makes about 1 Mbit/s of this smooth 4K footage), two at a phone's
# (20 Mbit/s 1080p H.264, 50 Mbit/s 4K60 HEVC) separate the two.
make_sdr_clip h264-1080p30-4s h264 8 30 1920x1080 4 1 8M
make_sdr_clip h264-1080p30-20m-3s h264 8 30 1920x1080 3 1 20M
make_sdr_clip h264-1080p30-2s h264 8 30 1920x1080 2 1 8M
make_sdr_clip h264-1080p30-portrait-3s h264 8 30 1080x1920 3 0 8M
make_sdr_clip h264-1080p60-3s h264 8 60 1920x1080 3 1 12M
make_sdr_clip hevc8-1080p30-3s hevc 8 30 1920x1080 3 0 6M
make_sdr_clip hevc10-1080p30-3s hevc 10 30 1920x1080 3 0 6M
make_sdr_clip h264-720p30-remux-4s h264 8 30 1280x720 4 1 1000k
make_sdr_clip h264-720p30-remux-2s h264 8 30 1280x720 2 1 1000k
hdr_clip hlg-4k30-2s hlg 30 3840x2160 2
hdr_clip hlg-4k60-2s hlg 60 3840x2160 2
hdr_clip hlg-4k60-4s hlg 60 3840x2160 4
hdr_clip hlg-4k60-portrait-2s hlg 60 2160x3840 2
hdr_clip pq-4k60-2s pq 60 3840x2160 2
hdr_clip pq-4k30-portrait-2s pq 30 2160x3840 2
hdr_clip hlg-4k60-50m-2s hlg 60 3840x2160 2 50M
if [ "$CLIPS_ONLY" = 1 ]; then
  log "clips made in $CLIPS"
  exit 0
fi

# ---------------------------------------------------------------- settings
# CLIP THREADS PRESET MAX_FPS MAX_SIZE RENDITIONS(- for none): the worker's defaults (veryfast,
# 60, 1280x720, no extra rung) with 2 and 1 threads on every clip, then the cheaper settings the
# worker may choose (superfast, ultrafast, a 30 fps cap) and a bigger output and an HLS rung on a
# subset.
SETTINGS=()
for clip in h264-1080p30-4s hlg-4k60-2s h264-1080p30-2s h264-1080p30-portrait-3s h264-1080p60-3s \
  hevc8-1080p30-3s hevc10-1080p30-3s h264-720p30-remux-4s h264-720p30-remux-2s hlg-4k30-2s \
  hlg-4k60-4s hlg-4k60-portrait-2s pq-4k60-2s pq-4k30-portrait-2s h264-1080p30-20m-3s \
  hlg-4k60-50m-2s; do
  SETTINGS+=("$clip 2 veryfast 60 1280x720 -" "$clip 1 veryfast 60 1280x720 -")
done
SETTINGS+=(
  "h264-1080p30-4s 2 superfast 60 1280x720 -"
  "h264-1080p30-4s 2 ultrafast 60 1280x720 -"
  "hlg-4k30-2s 2 superfast 60 1280x720 -"
  "hlg-4k30-2s 2 ultrafast 60 1280x720 -"
  "pq-4k60-2s 2 superfast 60 1280x720 -"
  "pq-4k60-2s 2 ultrafast 60 1280x720 -"
  "hlg-4k60-4s 1 ultrafast 60 1280x720 -"
  "pq-4k30-portrait-2s 2 ultrafast 60 1280x720 -"
  "h264-1080p60-3s 2 veryfast 30 1280x720 -"
  "hlg-4k60-4s 2 veryfast 30 1280x720 -"
  "hlg-4k60-4s 1 veryfast 30 1280x720 -"
  "pq-4k60-2s 2 veryfast 30 1280x720 -"
  "hlg-4k60-portrait-2s 2 veryfast 30 1280x720 -"
  "hlg-4k60-4s 2 ultrafast 30 1280x720 -"
  "hlg-4k60-4s 2 superfast 30 1280x720 -"
  "hlg-4k60-50m-2s 2 veryfast 30 1280x720 -"
  "hlg-4k60-50m-2s 2 ultrafast 30 1280x720 -"
  "h264-1080p30-4s 2 veryfast 60 1920x1080 -"
  "hlg-4k30-2s 2 veryfast 60 1920x1080 -"
  "h264-1080p30-4s 2 veryfast 60 1280x720 360"
  "hlg-4k60-2s 2 veryfast 60 1280x720 360"
)
# The speed-up pairs: a 1080p H.264, a 1080p HEVC Main10 and two 4K HDR jobs.
SPEEDUP=()
for clip in h264-1080p30-2s hevc10-1080p30-3s hlg-4k60-2s pq-4k30-portrait-2s; do
  SPEEDUP+=("$clip 2 veryfast 60 1280x720 -" "$clip 1 veryfast 60 1280x720 -")
done
[ "$QUICK" = 1 ] && SETTINGS=("${SETTINGS[@]:0:4}") && SPEEDUP=("${SPEEDUP[@]:0:2}")
[ "$SPEEDUP_ONLY" = 1 ] && SETTINGS=()

# ---------------------------------------------------------------- probes
mkdir -p "$WORK/probes"
for clip in $(printf '%s\n' "${SETTINGS[@]}" "${SPEEDUP[@]}" | cut -d' ' -f1 | sort -u); do
  # The file's own path is the only machine-specific field: the measurements name the clip.
  "$VIDPROC" probe "$CLIPS/$clip.mp4" | tr -d '\n' |
    sed "s|\"file\": *\"[^\"]*\"|\"file\": \"$clip.mp4\"|" >"$WORK/probes/$clip.json" ||
    die "vidproc probe $clip failed"
done

# ---------------------------------------------------------------- runs
THUMBNAIL_WIDTHS=160,320,640 # storage::kThumbnailWidths, as the worker passes them
# One run of SETTING: the worker's child command line, timed; appends a JSON line to DATA.
# PHASE: main, or speedup (the pairs, at nice -10 when root).
run_setting() { # PHASE ROUND CLIP THREADS PRESET MAX_FPS MAX_SIZE RENDITIONS
  local phase=$1 round=$2 clip=$3 threads=$4 preset=$5 fps=$6 size=$7 rungs=$8 job="$WORK/job"
  local args wall user sys rss path prio=()
  rm -rf "$job"
  mkdir -p "$job/hls"
  args=("$VIDPROC" transcode "$CLIPS/$clip.mp4" "$job/video.mp4" --thumbnail "$job/thumbnail.jpg"
    --thumbnail-widths "$THUMBNAIL_WIDTHS" --storyboard "$job/storyboard.vtt" --progress json
    --threads "$threads" --preset "$preset" --bitrate 1500k --max-size "$size" --max-fps "$fps"
    --overwrite --sandbox --hls "$job/hls")
  [ "$rungs" != - ] && args+=(--renditions "$rungs")
  [ -z "${SHOWN_CMD:-}" ] && SHOWN_CMD=$(VIDPROC_SHOWN=vidproc showcmd "${args[@]}")
  [ "$phase" = speedup ] && [ "$(id -u)" -eq 0 ] && prio=(nice -n -10)
  if ! "${prio[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "${args[@]}" >"$job/progress.jsonl" \
    2>"$job/stderr"; then
    note "$clip $threads $preset $fps $size $rungs failed: $(tail -c 300 "$job/stderr" | md_clean)"
    return 0
  fi
  read -r wall user sys rss <"$WORK/time"
  path=$(grep -o '"path": *"[a-z]*"' "$job/progress.jsonl" | tail -1 | sed 's/.*"\([a-z]*\)"$/\1/')
  log "$phase $clip t$threads $preset fps$fps $size rungs=$rungs: wall $wall s, cpu $(calc "print $user + $sys") s, rss $(mib "$rss") MiB ($path)"
  printf '{"phase": "%s", "round": %s, "clip": "%s", "threads": %s, "preset": "%s", "max_fps": %s, "max_size": "%s", "renditions": "%s", "path": "%s", "wall_s": %s, "user_s": %s, "sys_s": %s, "max_rss_kb": %s, "probe": %s}\n' \
    "$phase" "$round" "$clip" "$threads" "$preset" "$fps" "$size" "${rungs#-}" "$path" "$wall" "$user" \
    "$sys" "$rss" "$(cat "$WORK/probes/$clip.json")" >>"$DATA"
}

mkdir -p "$(dirname "$DATA")"
[ "$SPEEDUP_ONLY" = 1 ] || : >"$DATA"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(now)
log "${#SETTINGS[@]} settings and ${#SPEEDUP[@]} speed-up runs x $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
  for s in "${SETTINGS[@]}"; do
    # shellcheck disable=SC2086  # the setting is six words
    run_setting main "$round" $s
  done
done
for round in $(seq 1 "$ROUNDS"); do
  for s in "${SPEEDUP[@]}"; do
    # shellcheck disable=SC2086  # the setting is six words
    run_setting speedup "$round" $s
  done
done
BENCH_S=$(elapsed "$T0" "$(now)")
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- fit
FIT_ARGS=(--data "$DATA")
[ "$QUICK" = 1 ] || FIT_ARGS+=(--model "$MODEL")
[ -n "$GIVEN_SPEEDUP" ] && FIT_ARGS+=(--speedup "$GIVEN_SPEEDUP")
"$FIT" "${FIT_ARGS[@]}" >"$WORK/fit.md" 2>"$LOGS/fit.log" || {
  cat "$LOGS/fit.log" >&2
  die "cost_model_fit failed"
}

# ---------------------------------------------------------------- report
RPT="$WORK/report.partial.md" # not --out, which may be in WORK
: >"$RPT"
r "# Cost model benchmark, $(date +%Y-%m-%d)"
r ""
r "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
r "- vidproc: $("$VIDPROC" --version 2>/dev/null | head -1 | md_clean)"
r "- ffmpeg (clips only): $(ffmpeg -version | head -1 | cut -d' ' -f3)"
r "- ${#SETTINGS[@]} settings and ${#SPEEDUP[@]} speed-up runs (at nice -10 when root) x $ROUNDS rounds in $(f0 "$BENCH_S") s; load average $LOAD_START at the start, $LOAD_END at the end"
r "- each run: \`$SHOWN_CMD\` (clip, threads, preset, max-fps, max-size and renditions varied)"
r ""
cat "$WORK/fit.md" >>"$RPT"
r ""
finish_report
