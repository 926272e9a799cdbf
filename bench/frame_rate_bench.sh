#!/usr/bin/env bash
# frame_rate_bench.sh - Should 60 fps sources keep 60 fps at 720p and 1500 kbit/s? Encodes 60 fps
# clips made from real footage with `vidproc transcode --max-fps 60` and `--max-fps 30`, and
# measures, per clip and cap:
#   - SSIM as watched: the output shown on a 60 Hz display (a 30 fps output holds each frame for
#     two refreshes) against every source frame, scaled to the output size;
#   - SSIM of the pictures: each output frame against the source frame of the same instant (what
#     the bits buy per picture);
#   - the worst 1 % of frames as watched, bits per frame, and the encode's CPU-seconds.
# Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/frame_rate_bench.sh [--vidproc PATH] [--seconds N] [--bitrate B] [--work DIR]
#                                  [--out FILE]
#   --vidproc PATH  the vidproc binary (default build/vidproc)
#   --seconds N     clip length (default 8)
#   --bitrate B     target bitrate (default 1500k, vidproc's default)
#   --work DIR      work dir; the clips are built once and reused (default: mktemp, removed at exit)
#   --out FILE      report file (default bench/results/frame-rate-<date>.md)
# Clips (all 1920x1080 at 60 fps, H.264 at CRF 12 so the source's own loss stays small):
#   phone     Debian's forensics-samples-files phone clip (handheld, 30 fps), played forwards then
#             backwards, with motion-compensated in-between frames (minterpolate) to 60 fps;
#   pan-slow  a camera pan across a 12 MP phone photo from the same package, 120 px/s;
#   pan-fast  a swinging pan across another photo, up to 960 px/s (a quick sweep).
set -euo pipefail
# shellcheck disable=SC2034  # BENCH_NAME is read by lib.sh (die, log)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=frame_rate_bench

VIDPROC="$REPO/build/vidproc"
SECS=8
BITRATE=1500k
WORK=""
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --seconds|--seconds=*) option_value "$@"; SECS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --bitrate|--bitrate=*) option_value "$@"; BITRATE=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    -h|--help) print_usage 2 25; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
[ -x "$VIDPROC" ] || die "no vidproc at $VIDPROC (scripts/build.sh build)"
[ -n "$OUT" ] || OUT="$REPO/bench/results/frame-rate-$(date +%Y-%m-%d).md"
command -v ffmpeg >/dev/null 2>&1 || apt_install ffmpeg
[ -x /usr/bin/time ] || apt_install time

open_work_dir vidproc-frame-rate-bench.XXXXXX
trap remove_auto_work EXIT
LOGS="$WORK/logs"
mkdir -p "$LOGS"

# ---------------------------------------------------------------- clips
fetch_samples_package "$WORK/cache"
FILES="$WORK/cache/pkg/usr/share/forensics-samples/original-files"
X264_SRC=(-c:v libx264 -preset veryfast -crf 12 -pix_fmt yuv420p -an)

make_clip() { # NAME FFMPEG_ARGS...
  local name=$1 out="$WORK/$1.mkv"
  shift
  if [ -s "$out" ] && [ -f "$out.ok" ]; then log "reusing $out"; return 0; fi
  log "making $name (1080p60)"
  ffmpeg -nostdin -v error -y "$@" -t "$SECS" "${X264_SRC[@]}" "$out" 2>>"$LOGS/clips.log" ||
    die "making $name failed (see $LOGS/clips.log)"
  touch "$out.ok"
}

PHONE_FILTER="[0:v]trim=start=0.15,setpts=PTS-STARTPTS,fps=30,format=yuv420p,split[a][b];\
[a]trim=start_frame=1,setpts=PTS-STARTPTS[fw];[b]reverse,trim=start_frame=1,setpts=PTS-STARTPTS[bw];\
[fw][bw]concat=n=2:v=1:a=0,minterpolate=fps=60:mi_mode=mci:mc_mode=aobmc:me_mode=bidir[v]"
if [ ! -s "$WORK/pingpong60.mkv" ]; then
  log "interpolating the phone clip to 60 fps (minterpolate, slow)"
  ffmpeg -nostdin -v error -y -i "$FILES/movie1/VID_20191220_170832.mp4" \
    -filter_complex "$PHONE_FILTER" -map '[v]' "${X264_SRC[@]}" "$WORK/pingpong60.mkv" \
    2>>"$LOGS/clips.log" || die "minterpolate failed (see $LOGS/clips.log)"
fi
make_clip phone -stream_loop -1 -i "$WORK/pingpong60.mkv"
make_clip pan-slow -loop 1 -framerate 60 -i "$FILES/pic2/IMG_20200608_111614.jpg" \
  -vf "scale=-2:2160,crop=1920:1080:x='min(t*120,iw-ow)':y='(ih-oh)/2',format=yuv420p"
make_clip pan-fast -loop 1 -framerate 60 -i "$FILES/pic2/IMG_20191224_234846.jpg" \
  -vf "scale=-2:2160,crop=1920:1080:x='(iw-ow)*(0.5+0.5*sin(t))':y='(ih-oh)*(0.5+0.3*sin(t*0.7))',format=yuv420p"

# ---------------------------------------------------------------- measure
# SSIM_ALL (as watched at 60 Hz), SSIM_PIC (same-instant pictures), P1 (1st percentile as
# watched), KBIT_PER_FRAME, CPU_S for CLIP at CAP.
measure() { # CLIP CAP
  local clip=$1 cap=$2 out="$WORK/$1-$2.mp4" stats="$WORK/$1-$2.ssim" times
  /usr/bin/time -f "%U %S" -o "$WORK/time" "$VIDPROC" transcode "$WORK/$clip.mkv" "$out" -y \
    --force-encode --progress none --max-fps "$cap" --bitrate "$BITRATE" \
    >>"$LOGS/transcode.log" 2>&1 || die "transcode $clip at $cap failed (see $LOGS/transcode.log)"
  CPU_S=$(awk '{ printf "%.1f", $1 + $2 }' "$WORK/time")
  local size w h
  size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 "$out")
  w=${size%,*}
  h=${size#*,}
  # Frames are paired by their index (setpts=N/rate), not by timestamps, and the source's frames
  # are picked by index (select): the source's millisecond timestamps through framesync or the
  # fps filter would pair neighbours now and then, which a pan punishes. CAP divides 60.
  local ref="[1:v]scale=${w}:${h}:flags=bicubic,setpts=PTS-STARTPTS"
  # As watched: the output on a 60 Hz display (fps=60 repeats a 30 fps frame) against all frames.
  ffmpeg -nostdin -v error -i "$out" -i "$WORK/$clip.mkv" -lavfi \
    "[0:v]setpts=PTS-STARTPTS,fps=60,setpts=N/60/TB[a];$ref,setpts=N/60/TB[b];[a][b]ssim=stats_file=$stats" -f null - \
    2>>"$LOGS/ssim.log" || die "ssim failed (see $LOGS/ssim.log)"
  read -r SSIM_ALL P1 < <(sed -n 's/.* Y:\([0-9.]*\) .*/\1/p' "$stats" | sort -n |
    awk '{ v[NR] = $1; s += $1 } END { printf "%.4f %.4f\n", s / NR, v[int(NR / 100) + 1] }')
  # The pictures: each output frame against the source frame of the same instant.
  ffmpeg -nostdin -v error -i "$out" -i "$WORK/$clip.mkv" -lavfi \
    "[0:v]setpts=N/$cap/TB[a];$ref,select='not(mod(n\\,$((60 / cap))))',setpts=N/$cap/TB[b];[a][b]ssim=stats_file=$stats.pic" -f null - \
    2>>"$LOGS/ssim.log" || die "ssim failed (see $LOGS/ssim.log)"
  SSIM_PIC=$(sed -n 's/.* Y:\([0-9.]*\) .*/\1/p' "$stats.pic" | awk '{ s += $1 } END { printf "%.4f", s / NR }')
  local bytes frames
  read -r bytes frames < <(ffprobe -v error -select_streams v:0 -show_entries packet=size \
    -of csv=p=0 "$out" | awk '{ s += $1; n++ } END { print s, n }')
  KBIT_PER_FRAME=$(calc "printf \"%.1f\", $bytes * 8 / 1000 / $frames")
}

{
  echo "# Frame-rate policy: 60 fps sources at 720p and $BITRATE ($(date -u +%Y-%m-%d))"
  echo
  echo "vidproc: $("$VIDPROC" --version 2>/dev/null || echo "$VIDPROC"); $(nproc) cores; clips of ${SECS} s (bench/frame_rate_bench.sh)."
  echo
  echo "| clip | cap | SSIM as watched (60 Hz) | worst 1 % as watched | SSIM of the pictures | kbit/frame | encode CPU-s |"
  echo "|---|---|---|---|---|---|---|"
} > "$OUT.tmp"
for clip in phone pan-slow pan-fast; do
  for cap in 60 30; do
    log "$clip at $cap fps"
    measure "$clip" "$cap"
    echo "| $clip | $cap | $SSIM_ALL | $P1 | $SSIM_PIC | $KBIT_PER_FRAME | $CPU_S |" >> "$OUT.tmp"
  done
done
mv "$OUT.tmp" "$OUT"
cat "$OUT"
