#!/usr/bin/env bash
# phone_bench.sh - phone footage through vidproc against the ffmpeg CLI doing the same work: a
# 1080p30 H.264 clip with AAC stereo and four 4K HEVC Main10 HDR clips (HLG and PQ, 30 and 60 fps,
# landscape and portrait), all made from Debian's forensics-samples-files phone clip. Per clip:
#   1. transcode, one job:          `vidproc transcode` (all cores) vs one ffmpeg process;
#   2. transcode, two at once:      two `vidproc transcode --threads T` (T = what the worker gives
#                                   each of two jobs: max(2, cores/2)) vs two ffmpeg processes;
#   3. serve, one upload:           `vidproc serve` (defaults), upload done -> ready, vs (1)'s ffmpeg;
#   4. serve, two uploads at once:  first upload done -> both ready, vs (2)'s ffmpeg.
# Also the realtime factor (clip duration / a job's own wall time) of the jobs run two at once,
# and the admission model's prediction error: predicted vs measured seconds and MB of every job
# through serve, from the server's `ready` log lines.
# Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/phone_bench.sh [--vidproc PATH] [--seconds N] [--rounds N] [--clips LIST]
#                             [--work DIR] [--out FILE]
#   --vidproc PATH  vidproc binary (default build/vidproc, relative to the repo)
#   --seconds N     clip length in seconds (default 10)
#   --rounds N      rounds (default 1): vidproc first in odd rounds, ffmpeg first in even ones;
#                   medians reported
#   --clips LIST    comma list of 1080p30-h264, 4k30-hlg-landscape, 4k60-hlg-portrait,
#                   4k30-pq-portrait, 4k60-pq-landscape (default all)
#   --work DIR      work dir; the clips are built once and reused (default: mktemp, removed at exit)
#   --out FILE      report file (default bench/results/phone-<date>.md)
# Running time of the defaults on 2 idle cores: about 25 minutes (3-4 of them building the clips,
# once per work dir; most of the rest is ffmpeg's float tone mapping of the 4K clips); each
# further round adds about 20 minutes.
# Progress goes to stderr; stdout carries only the report. A vidproc run that fails is listed
# under Notes and shows n/a; the rest of the run goes on. The numbers mean something only on a
# quiet machine. The binary is copied into the work dir and run from there, so that a rebuild
# during the run cannot change what is measured (the server starts its children from its own
# path).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=phone_bench

ALL_CLIPS=(1080p30-h264 4k30-hlg-landscape 4k60-hlg-portrait 4k30-pq-portrait 4k60-pq-landscape)
VIDPROC_SHOWN=build/vidproc
VIDPROC="$REPO/build/vidproc"
SECS=10
ROUNDS=1
CLIPS_ARG=""
WORK=""
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC_SHOWN=$OPT_VALUE; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --seconds|--seconds=*) option_value "$@"; SECS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --rounds|--rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --clips|--clips=*) option_value "$@"; CLIPS_ARG=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    -h|--help) print_usage 2 32; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
CLIPS=()
if [ -z "$CLIPS_ARG" ]; then
  CLIPS=("${ALL_CLIPS[@]}")
else
  IFS=, read -r -a wanted <<<"$CLIPS_ARG"
  for c in "${wanted[@]}"; do
    [[ " ${ALL_CLIPS[*]} " == *" $c "* ]] || die "unknown clip: $c (one of: ${ALL_CLIPS[*]})"
    [[ " ${CLIPS[*]:-} " == *" $c "* ]] || CLIPS+=("$c")
  done
  [ ${#CLIPS[@]} -gt 0 ] || die "--clips names no clip"
fi
[ -n "$OUT" ] || OUT="$REPO/bench/results/phone-$(date +%Y-%m-%d).md"
{ [ -x "$VIDPROC" ] && [ ! -d "$VIDPROC" ]; } || die "no vidproc binary at $VIDPROC_SHOWN (build it, or pass --vidproc PATH)"
need=()
{ command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || need+=(ffmpeg)
command -v curl >/dev/null 2>&1 || need+=(curl)
/usr/bin/time --version 2>&1 | grep -q GNU || need+=(time)
command -v timeout >/dev/null 2>&1 || need+=(coreutils)
apt_install "${need[@]}"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is required (EPOCHREALTIME)"

open_work_dir vidproc-phone-bench.XXXXXX
LOGS="$WORK/logs"; OUTS="$WORK/out"; RUNDIR="$WORK/cwd"; CLIPDIR="$WORK/clips"
rm -rf "$LOGS" "$OUTS" "$RUNDIR" "$WORK/data" "$WORK/port"
mkdir -p "$LOGS" "$OUTS" "$RUNDIR" "$CLIPDIR"   # RUNDIR: vidproc's working directory, so no .env is read
open_serve_report
use_binary_copy
VP_SHA=$(sha256sum "$VIDPROC" | cut -c1-12)

BENCH_T0=$SECONDS
DATE_HUMAN=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
NPROC=$(nproc)
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
VP_VERSION=$(timeout 20 "$VIDPROC" --version 2>&1 </dev/null | head -n1 || true)
FFMPEG_VERSION=$(ffmpeg -version 2>/dev/null | awk 'NR == 1 {print $3}')
# What the worker gives each of two jobs on an idle machine (worker/thread_budget.cc:
# cores / (running + 1), at least 2, at most the cores).
T2=$((NPROC / 2)); [ "$T2" -ge 2 ] || T2=2; [ "$T2" -le "$NPROC" ] || T2=$NPROC
RUN_TIMEOUT=3600

# ---------------------------------------------------------------- the clips
# NAME -> KIND (sdr|hdr) TRANSFER FPS WxH RATE BITRATE; a phone's bitrate for the 4K clips.
clip_spec() {
  case $1 in
    1080p30-h264) echo "sdr - 30 1920x1080 fps 12M" ;;
    4k30-hlg-landscape) echo "hdr hlg 30 3840x2160 fps 35M" ;;
    4k60-hlg-portrait) echo "hdr hlg 60 2160x3840 framerate 50M" ;;
    4k30-pq-portrait) echo "hdr pq 30 2160x3840 fps 35M" ;;
    4k60-pq-landscape) echo "hdr pq 60 3840x2160 framerate 50M" ;;
  esac
}
# 1080p30 H.264 as a phone writes it: the ping-pong footage (continuous motion) looped to SECS
# s, libx264 veryfast ~12 Mbit/s (as serve_bench.sh's input), with the phone clip's own AAC
# stereo track looped under it (AAC 128k). Writes OUT once (reused when OUT.ok exists).
make_phone_h264_clip() { # SECS OUT
  local secs=$1 out=$2 clip="$WORK/cache/pkg/$PHONE_CLIP_REL"
  if [ -s "$out" ] && [ -f "$out.ok" ]; then log "reusing $out"; return 0; fi
  make_pingpong
  [ -s "$clip" ] || fetch_samples_package "$WORK/cache"
  log "encoding 1080p30 H.264 with the phone's AAC audio ($secs s)"
  ffmpeg -nostdin -v error -y -stream_loop -1 -i "$WORK/pingpong.mkv" -stream_loop -1 -i "$clip" \
    -t "$secs" -map 0:v:0 -map 1:a:0 -c:v libx264 -preset veryfast -b:v 12M -maxrate 14M -bufsize 24M \
    -pix_fmt yuv420p -c:a aac -b:a 128k "$out" 2>>"$LOGS/encode.log" ||
    die "encoding the 1080p clip failed (see $LOGS/encode.log)"
  touch "$out.ok"
}

declare -A CLIP_FILE=() CLIP_DUR=() CLIP_KIND=() CLIP_PORTRAIT=() CLIP_DESC=()
T_CLIPS=$SECONDS
for c in "${CLIPS[@]}"; do
  read -r kind transfer fps size rate bitrate <<<"$(clip_spec "$c")"
  f="$CLIPDIR/$c-${SECS}s.mp4"
  if [ "$kind" = sdr ]; then
    make_phone_h264_clip "$SECS" "$f"
  else
    make_phone_hdr_clip "$transfer" "$SECS" "$f" "$fps" "$size" "$rate" "$bitrate"
  fi
  CLIP_FILE[$c]=$f
  CLIP_KIND[$c]=$kind
  CLIP_PORTRAIT[$c]=0; [ "${size%x*}" -lt "${size#*x}" ] && CLIP_PORTRAIT[$c]=1
  CLIP_DUR[$c]=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$f")
  CLIP_DESC[$c]=$(ffprobe -v error -show_entries stream=codec_type,codec_name,profile,width,height,avg_frame_rate,pix_fmt,color_transfer,channels:format=bit_rate \
    "$f" | awk -F= '
      /^\[STREAM\]/ { delete s } /^\[\/STREAM\]/ { for (k in s) st[s["codec_type"] "." k] = s[k] }
      /^[a-z_]+=/ { s[$1] = $2 } $1 == "bit_rate" { br = $2 }
      END {
        split(st["video.avg_frame_rate"], fr, "/")
        printf "%s %s, %sx%s, %g fps, %s, %s, %.1f Mbit/s, %s", st["video.codec_name"], st["video.profile"],
          st["video.width"], st["video.height"], fr[2] ? fr[1] / fr[2] : fr[1], st["video.pix_fmt"],
          st["video.color_transfer"], br / 1e6,
          ("audio.codec_name" in st) ? st["audio.codec_name"] " " st["audio.channels"] " ch" : "no audio"
      }')
done
CLIPS_S=$((SECONDS - T_CLIPS))
cat "${CLIP_FILE[@]}" >/dev/null   # into the page cache

# ---------------------------------------------------------------- the commands
# The engine's output (docs: fitted inside 1280x720, either orientation, never upscaled; H.264
# veryfast 1500k; AAC 128k; faststart) made by the ffmpeg CLI: the scale box of serve_bench.sh
# (turned for a portrait clip, as the engine turns its box), after memory_bench.sh's zscale +
# tonemap=hable chain for HDR. At the transcoder child's nice level (10,
# worker/child_process.h), and so is `vidproc transcode`, so that other load slows all alike.
ff_cmd() { # CLIP OUT -> C
  local c=$1 vf
  if [ "${CLIP_PORTRAIT[$c]}" = 1 ]; then vf=$(ff_fit_vf 720 1280); else vf=$(ff_fit_vf 1280 720); fi
  [ "${CLIP_KIND[$c]}" = hdr ] && vf="$FF_TONEMAP_VF,$vf"
  C=(nice -n 10 ffmpeg -nostdin -y -v error -i "${CLIP_FILE[$c]}" -vf "$vf" -fps_mode passthrough
    -c:v libx264 -preset veryfast -b:v 1500k -maxrate 2250k -bufsize 3000k
    -c:a aac -b:a 128k -movflags +faststart "$2")
}
vp_cmd() { # CLIP OUT [THREADS] -> C
  C=(nice -n 10 "$VIDPROC" transcode "${CLIP_FILE[$1]}" "$2" -y --progress json)
  if [ -n "${3:-}" ]; then C+=(--threads "$3"); fi
}
declare -A CMD=()
remember_cmd() { local k=$1; shift; [ -n "${CMD[$k]:-}" ] || CMD[$k]=$(showcmd "$@"); }

declare -A V=()   # V[key] = space-separated samples
add() { V[$1]="${V[$1]:-} $2"; }
med() { median "${V[$1]:-}"; }
fx() { isnum "${1:-}" && calc "printf \"%.2fx\", $1" || printf 'n/a'; }
mb_kib() { isnum "${1:-}" && calc "printf \"%.0f\", $1 * 1024 / 1e6" || printf 'n/a'; }   # KiB -> MB
declare -A DIMS=()

# ---------------------------------------------------------------- scenarios 1 and 2: transcode
t1_run() { # CLIP ROUND SIDE(vp|ff)
  local c=$1 r=$2 side=$3 o="$OUTS/$1-s1-$3.mp4" tag="$1-r$2-s1-$3"
  rm -f "$o"
  "${side}_cmd" "$c" "$o"; remember_cmd "$side.$c" "${C[@]}"
  log "$c, round $r, transcode one job: $side"
  timed "$tag" "${C[@]}"
  if result "$tag" "$o"; then
    add "$c.s1.$side.wall" "$T_WALL"; add "$c.s1.$side.cpu" "$T_CPU"; add "$c.s1.$side.rss" "$T_RSS"
    [ -n "${DIMS[$c.$side]:-}" ] || DIMS[$c.$side]=$(dims "$o")
  fi
  rm -f "$o"
}
t2_run() { # CLIP ROUND SIDE(vp|ff): two at once
  local c=$1 r=$2 side=$3 i t0 t1 ok=1 cpu=0 rss=0 slow=0 pids=() tags=() outs=()
  log "$c, round $r, transcode two at once: $side"
  for i in 1 2; do
    outs[i]="$OUTS/$c-s2-$side-$i.mp4"; tags[i]="$c-r$r-s2-$side-$i"
    rm -f "${outs[i]}"
  done
  t0=$EPOCHREALTIME
  for i in 1 2; do
    if [ "$side" = vp ]; then vp_cmd "$c" "${outs[i]}" "$T2"; else ff_cmd "$c" "${outs[i]}"; fi
    remember_cmd "$side.$c.2" "${C[@]}"
    timed "${tags[i]}" "${C[@]}" & pids+=($!)
  done
  wait "${pids[0]}" || true
  wait "${pids[1]}" || true
  t1=$EPOCHREALTIME
  for i in 1 2; do
    if result "${tags[i]}" "${outs[i]}"; then
      cpu=$(calc "printf \"%.2f\", $cpu + $T_CPU"); rss=$(calc "printf \"%.0f\", $rss + $T_RSS")
      slow=$(calc "printf \"%.2f\", ($T_WALL > $slow) ? $T_WALL : $slow")
    else
      ok=0
    fi
  done
  if [ "$ok" = 1 ]; then
    add "$c.s2.$side.wall" "$(elapsed "$t0" "$t1")"; add "$c.s2.$side.cpu" "$cpu"; add "$c.s2.$side.rss" "$rss"
    add "$c.s2.$side.rtf" "$(ratio "${CLIP_DUR[$c]}" "$slow" 4)"
  fi
  rm -f "${outs[@]}"
}

# ---------------------------------------------------------------- scenarios 3 and 4: serve
# One server for the whole run: each job is measured from its upload on, the server is idle
# between them (its CPU then is reported), and each video is deleted once measured.
SERVE_OK=0
if serve_start "$WORK/data" "$WORK/port" "$LOGS/serve.log" "$RUNDIR"; then
  SERVE_OK=1
  SERVE_CPU0=$(cpu_of "$SPID")
else
  note "vidproc serve did not start, so scenarios 3 and 4 are n/a: \`$(tail -n3 "$LOGS/serve.log" | md_clean)\`"
fi
SERVE_MEASURED_CPU=0

# The `ready` line of video ID in the server's log (it may follow the event by a moment).
ready_line() {
  local line
  for _ in $(seq 1 40); do
    line=$(grep '"msg":"ready"' "$SERVE_LOG" | grep "\"video\":\"$1\"" | head -n1 || true)
    [ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
    sleep 0.05
  done
  return 1
}
jfield() { # JSON_LINE NAME -> the value (number or string), empty if absent
  printf '%s' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|-\{0,1\}[0-9.eE+-]*\)" | head -n1 | cut -d: -f2- | tr -d '"' || true
}
relerr() { # PREDICTED MEASURED -> signed relative error in % (n/a without a prediction)
  if isnum "${1:-}" && isnum "${2:-}" && calc "exit !($1 >= 0 && $2 > 0)"; then
    calc "printf \"%+.1f\", 100 * ($1 - $2) / $2"
  else
    printf 'n/a'
  fi
}
abs() { calc "printf \"%.1f\", ($1 < 0) ? -($1) : $1"; }
PRED_ROWS=()
declare -A ERR=()   # ERR[time|mem .all|.one|.two] = absolute relative errors, %
CHEAPER=0
# Reads video ID's ready line into the prediction table (scenario label LABEL); sets JOB_OK.
record_job() { # ID CLIP ROUND LABEL
  local id=$1 line preset cheap retried extra="" et em pred_s child_s pred_mb peak_mb
  if ! line=$(ready_line "$id"); then
    note "$2, round $3, $4: no \`ready\` line for video $id in the server's log"
    PRED_ROWS+=("| $2 | $4 | $3 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |")
    return 0
  fi
  preset=$(jfield "$line" preset)
  cheap=$(grep '"msg":"cheaper settings to fit the time limit"' "$SERVE_LOG" | grep "\"video\":\"$id\"" | head -n1 || true)
  if [ -n "$cheap" ]; then
    CHEAPER=$((CHEAPER + 1))
    extra=" **(cheaper, to fit the time limit: max_fps $(jfield "$cheap" max_fps); $(jfield "$cheap" reason | md_clean))**"
  elif [ -n "$preset" ] && [ "$preset" != veryfast ]; then
    CHEAPER=$((CHEAPER + 1))
    extra=" **(not veryfast)**"
  fi
  grep '"msg":"waiting for memory"' "$SERVE_LOG" | grep -q "\"video\":\"$id\"" && extra+=" (waited for memory)"
  # A job that failed and was retried: its wall includes the failed attempt and the back-off.
  retried=$(grep '"msg":"job failed, will retry"' "$SERVE_LOG" | grep "\"video\":\"$id\"" | head -n1 || true)
  if [ -n "$retried" ]; then
    extra+=" (retried)"
    note "$2, round $3, serve $4: video $id failed once ($(jfield "$retried" code); $(grep "\"video\":\"$id\"" "$SERVE_LOG" | grep -o '"reason":"[^"]*"' | head -n1 | cut -d'"' -f4 | md_clean)) and was retried: its wall includes the retry"
  fi
  pred_s=$(jfield "$line" predicted_s); child_s=$(jfield "$line" child_s)
  pred_mb=$(jfield "$line" predicted_mb); peak_mb=$(jfield "$line" peak_mb)
  et=$(relerr "$pred_s" "$child_s"); em=$(relerr "$pred_mb" "$peak_mb")
  for k in all "${4%%,*}"; do
    if [ "$et" != n/a ]; then ERR[time.$k]+="$(abs "$et") "; fi
    if [ "$em" != n/a ]; then ERR[mem.$k]+="$(abs "$em") "; fi
  done
  [ "$4" = "one upload" ] && add "$2.s3.peak" "$peak_mb"
  PRED_ROWS+=("| $2 | $4 | $3 | $(jfield "$line" threads) | ${preset:-n/a}$extra | $(f2 "$child_s") | $(f2 "$pred_s") | $et | $(f2 "$(jfield "$line" cpu_s)") | $(f0 "$peak_mb") | $(f0 "$pred_mb") | $em |")
}
sv_run() { # CLIP ROUND N(1|2)
  local c=$1 r=$2 n=$3 c0 i line id t first="" last="" ok=1 slow="" ids=() dones=() pids=() label
  [ "$SERVE_OK" = 1 ] || return 0
  label="one upload"; [ "$n" = 2 ] && label="two at once"
  log "$c, round $r, serve: $label"
  c0=$(cpu_of "$SPID")
  for i in $(seq 1 "$n"); do
    upload "${CLIP_FILE[$c]}" >"$LOGS/up$i" 2>"$LOGS/up$i.err" & pids+=($!)
  done
  for i in $(seq 1 "$n"); do wait "${pids[i-1]}" || true; done   # (`wait` alone would wait for the server)
  for i in $(seq 1 "$n"); do
    if read -r id t <"$LOGS/up$i"; then
      ids+=("$id"); dones+=("$t")
      if [ -z "$first" ] || calc "exit !($t < $first)"; then first=$t; fi
    else
      ok=0; note "$c, round $r, serve $label: upload $i failed: \`$(md_clean <"$LOGS/up$i.err")\`"
    fi
  done
  for i in "${!ids[@]}"; do
    if t=$(wait_ready "${ids[i]}" "$first" 2>"$LOGS/wait.err"); then
      if [ -z "$last" ] || calc "exit !($t > $last)"; then last=$t; fi
      t=$(ratio "${CLIP_DUR[$c]}" "$(elapsed "${dones[i]}" "$t")" 4)
      if [ -z "$slow" ] || calc "exit !($t < $slow)"; then slow=$t; fi
      record_job "${ids[i]}" "$c" "$r" "$label$([ "$n" = 2 ] && echo ", job $((i + 1))")"
    else
      ok=0; note "$c, round $r, serve $label: $(md_clean <"$LOGS/wait.err")"
    fi
  done
  t=$(calc "printf \"%.2f\", $(cpu_of "$SPID") - $c0")
  SERVE_MEASURED_CPU=$(calc "printf \"%.2f\", $SERVE_MEASURED_CPU + $t")
  if [ "$ok" = 1 ]; then
    add "$c.s$((n + 2)).vp.wall" "$(elapsed "$first" "$last")"; add "$c.s$((n + 2)).vp.cpu" "$t"
    [ "$n" = 2 ] && add "$c.s4.vp.rtf" "$slow"
  fi
  for id in "${ids[@]}"; do
    curl -sf -X DELETE "$API/videos/$id" >/dev/null || note "could not delete video $id"
  done
}

# ---------------------------------------------------------------- the rounds
T_RUNS=$SECONDS
for r in $(seq 1 "$ROUNDS"); do
  for c in "${CLIPS[@]}"; do
    if [ $((r % 2)) = 1 ]; then
      t1_run "$c" "$r" vp; sv_run "$c" "$r" 1; t1_run "$c" "$r" ff
      t2_run "$c" "$r" vp; sv_run "$c" "$r" 2; t2_run "$c" "$r" ff
    else
      t1_run "$c" "$r" ff; t1_run "$c" "$r" vp; sv_run "$c" "$r" 1
      t2_run "$c" "$r" ff; t2_run "$c" "$r" vp; sv_run "$c" "$r" 2
    fi
  done
done
RUNS_S=$((SECONDS - T_RUNS))
SERVE_IDLE_CPU=n/a
if [ "$SERVE_OK" = 1 ] && kill -0 "$SPID" 2>/dev/null; then
  SERVE_IDLE_CPU=$(calc "printf \"%.2f\", $(cpu_of "$SPID") - $SERVE_CPU0 - $SERVE_MEASURED_CPU")
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- the report
r "# vidproc phone benchmark: phone footage through vidproc and the ffmpeg CLI"
r ""
r "$DATE_HUMAN, $NPROC cores ($CPU_MODEL), load average at the start $LOAD_START, at the end $LOAD_END."
r "The numbers mean something only on a quiet machine: anything else running takes CPU from both sides, unevenly."
r "vidproc: \`$VP_VERSION\` ($VIDPROC_SHOWN, sha256 $VP_SHA..., run from a copy); ffmpeg $FFMPEG_VERSION. Clips of $SECS s; $ROUNDS round(s), vidproc first in odd rounds and ffmpeg first in even ones; medians."
r "vidproc serve: its defaults (${SERVE_SLOTS:-n/a} slots, ${SERVE_CORES:-n/a} cores), one server for the whole run; took $((SECONDS - BENCH_T0)) s (clips $CLIPS_S s, runs $RUNS_S s)."
if calc "exit !(${LOAD_START%% *} > 0.5)"; then
  r ""
  r "> The 1-minute load average was ${LOAD_START%% *} at the start: the machine was not quiet, so these timings are skewed."
fi
r ""
r "## Clips"
r ""
r "Made from the 1080p phone clip of Debian's \`forensics-samples-files\` ($PHONE_CLIP_REL), played forwards then"
r "backwards so that motion stays continuous, looped to $SECS s. 1080p: libx264 veryfast 12 Mbit/s with the clip's own AAC"
r "stereo track looped (AAC 128k). 4K: upscaled with zscale into HLG or PQ (BT.2020, PQ with mastering and MaxCLL metadata),"
r "HEVC Main10 (x265 ultrafast) at a phone's bitrate (35M at 30 fps, 50M at 60 fps); 60 fps by \`framerate\`, so every picture"
r "differs; portrait clips turned first. No audio in the 4K clips."
r ""
r "| clip | duration s | stream |"
r "|---|---:|---|"
for c in "${CLIPS[@]}"; do r "| $c | $(f2 "${CLIP_DUR[$c]}") | ${CLIP_DESC[$c]} |"; done
r ""
r "## Commands"
r ""
r "Both sides at nice 10 (the transcoder child's level in the service). \$WORK = the work dir, OUT = the output."
r ""
r '```sh'
for c in "${CLIPS[@]}"; do
  r "# $c: scenario 1 (scenario 2: two at once, vidproc with --threads $T2)"
  r "${CMD[vp.$c]:-$(vp_cmd "$c" "$OUTS/x.mp4"; showcmd "${C[@]}")}"
  r "${CMD[ff.$c]:-$(ff_cmd "$c" "$OUTS/x.mp4"; showcmd "${C[@]}")}"
done
r "# scenarios 3 and 4: POST each clip as the raw body of /api/v1/videos to:"
r "env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 LOG_FORMAT=json VIDPROC_DATA_DIR=\$WORK/data $VIDPROC_SHOWN serve --listen 127.0.0.1:0 --port-file \$WORK/port"
r '```'
r ""
r "Output sizes (vidproc / ffmpeg):$(for c in "${CLIPS[@]}"; do printf ' %s %s / %s;' "$c" "${DIMS[$c.vp]:-n/a}" "${DIMS[$c.ff]:-n/a}"; done | sed 's/;$/./')"
r ""
r "## 1. transcode, one job"
r ""
r "\`vidproc transcode\` with its default thread budget (all cores) vs one ffmpeg process; GNU time. CPU-s = user + sys; RSS = peak (MB)."
r ""
r "| clip | wall s vidproc | ffmpeg | vidproc/ffmpeg | CPU-s vidproc | ffmpeg | vidproc/ffmpeg | peak RSS MB vidproc | ffmpeg | vidproc/ffmpeg |"
r "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CLIPS[@]}"; do
  r "| $c | $(f2 "$(med "$c.s1.vp.wall")") | $(f2 "$(med "$c.s1.ff.wall")") | $(ratio "$(med "$c.s1.vp.wall")" "$(med "$c.s1.ff.wall")") | $(f1 "$(med "$c.s1.vp.cpu")") | $(f1 "$(med "$c.s1.ff.cpu")") | $(ratio "$(med "$c.s1.vp.cpu")" "$(med "$c.s1.ff.cpu")") | $(mb_kib "$(med "$c.s1.vp.rss")") | $(mb_kib "$(med "$c.s1.ff.rss")") | $(ratio "$(med "$c.s1.vp.rss")" "$(med "$c.s1.ff.rss")") |"
done
r ""
r "## 2. transcode, two at once"
r ""
r "Two \`vidproc transcode --threads $T2\` started together (the worker's share for each of two jobs: max(2, cores/2)) vs two ffmpeg"
r "processes. Wall: until both are done; CPU-s and peak RSS summed over the two."
r ""
r "| clip | wall s vidproc | ffmpeg | vidproc/ffmpeg | CPU-s vidproc | ffmpeg | vidproc/ffmpeg | summed peak RSS MB vidproc | ffmpeg | vidproc/ffmpeg |"
r "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CLIPS[@]}"; do
  r "| $c | $(f2 "$(med "$c.s2.vp.wall")") | $(f2 "$(med "$c.s2.ff.wall")") | $(ratio "$(med "$c.s2.vp.wall")" "$(med "$c.s2.ff.wall")") | $(f1 "$(med "$c.s2.vp.cpu")") | $(f1 "$(med "$c.s2.ff.cpu")") | $(ratio "$(med "$c.s2.vp.cpu")" "$(med "$c.s2.ff.cpu")") | $(mb_kib "$(med "$c.s2.vp.rss")") | $(mb_kib "$(med "$c.s2.ff.rss")") | $(ratio "$(med "$c.s2.vp.rss")" "$(med "$c.s2.ff.rss")") |"
done
r ""
r "## 3. serve, one upload"
r ""
r "\`vidproc serve\` (defaults; it also writes HLS, a thumbnail and a storyboard), upload done -> ready read from the event stream."
r "CPU-s: the server and its transcoder children (/proc/PID/stat), upload handling included. **The ffmpeg columns are scenario 1's"
r "ffmpeg numbers** (not measured again). Peak MB of vidproc: the transcoder child's, from the server's \`ready\` line."
r ""
r "| clip | wall s vidproc | ffmpeg (1.) | vidproc/ffmpeg | CPU-s vidproc | ffmpeg (1.) | vidproc/ffmpeg | peak MB vidproc child | ffmpeg (1.) | vidproc/ffmpeg |"
r "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CLIPS[@]}"; do
  ffrss=$(mb_kib "$(med "$c.s1.ff.rss")")
  r "| $c | $(f2 "$(med "$c.s3.vp.wall")") | $(f2 "$(med "$c.s1.ff.wall")") | $(ratio "$(med "$c.s3.vp.wall")" "$(med "$c.s1.ff.wall")") | $(f1 "$(med "$c.s3.vp.cpu")") | $(f1 "$(med "$c.s1.ff.cpu")") | $(ratio "$(med "$c.s3.vp.cpu")" "$(med "$c.s1.ff.cpu")") | $(f0 "$(med "$c.s3.peak")") | $ffrss | $(ratio "$(med "$c.s3.peak")" "$ffrss") |"
done
r ""
r "## 4. serve, two uploads at once"
r ""
r "Both uploads sent together; wall from the first upload done to both ready. **The ffmpeg columns are scenario 2's ffmpeg numbers.**"
r ""
r "| clip | wall s vidproc | ffmpeg (2.) | vidproc/ffmpeg | CPU-s vidproc | ffmpeg (2.) | vidproc/ffmpeg |"
r "|---|---:|---:|---:|---:|---:|---:|"
for c in "${CLIPS[@]}"; do
  r "| $c | $(f2 "$(med "$c.s4.vp.wall")") | $(f2 "$(med "$c.s2.ff.wall")") | $(ratio "$(med "$c.s4.vp.wall")" "$(med "$c.s2.ff.wall")") | $(f1 "$(med "$c.s4.vp.cpu")") | $(f1 "$(med "$c.s2.ff.cpu")") | $(ratio "$(med "$c.s4.vp.cpu")" "$(med "$c.s2.ff.cpu")") |"
done
r ""
r "## Realtime factor, two jobs at once"
r ""
r "Clip duration / a job's own wall time (transcode: its process; serve: its upload done -> ready), the slower of the two jobs."
r "Target: a 3-minute 4K60 HDR clip finishes inside the default 600 s VIDEO_PROCESSING_TIMEOUT while another job runs."
r ""
r "| clip | 2. transcode, vidproc | 2. transcode, ffmpeg | 4. serve, vidproc (against 2.'s ffmpeg) | 4K60 HDR: >= 0.33x |"
r "|---|---:|---:|---:|---|"
meets() { isnum "${1:-}" || { printf 'n/a'; return; }; calc "exit !($1 >= 0.33)" && printf 'met' || printf '**missed**'; }
for c in "${CLIPS[@]}"; do
  tv=$(med "$c.s2.vp.rtf"); tf=$(med "$c.s2.ff.rtf"); sv=$(med "$c.s4.vp.rtf")
  target="(no target)"
  [[ $c == 4k60-* ]] && target="transcode $(meets "$tv"), serve $(meets "$sv")"
  r "| $c | $(fx "$tv") | $(fx "$tf") | $(fx "$sv") | $target |"
done
r ""
r "## The admission model's prediction error"
r ""
r "Every job through serve: the server's \`ready\` line gives the transcoder child's wall (\`child_s\`), CPU (\`cpu_s\`) and peak"
r "memory (\`peak_mb\`), and what the model predicted at admission (\`predicted_s\`, \`predicted_mb\`), and the x264 \`preset\` the job"
r "ran with (not veryfast: the admission chose a cheaper one to fit the time limit). Error = (predicted - measured) / measured."
r ""
r "| clip | scenario | round | threads | preset | child_s | predicted_s | time error % | cpu_s | peak_mb | predicted_mb | memory error % |"
r "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for row in "${PRED_ROWS[@]}"; do r "$row"; done
[ ${#PRED_ROWS[@]} -gt 0 ] || r "| n/a | | | | | | | | | | | |"
r ""
njobs() { printf '%s' "${ERR[time.$1]:-}" | wc -w; }
r "Median absolute relative error over the $(njobs all) job(s) with a prediction: time **$(f1 "$(median "${ERR[time.all]:-}")") %**, memory **$(f1 "$(median "${ERR[mem.all]:-}")") %**"
r "(the $(njobs "one upload") lone job(s): time $(f1 "$(median "${ERR[time.one upload]:-}")") %, memory $(f1 "$(median "${ERR[mem.one upload]:-}")") %; the $(njobs "two at once") job(s) run two at once: time $(f1 "$(median "${ERR[time.two at once]:-}")") %, memory $(f1 "$(median "${ERR[mem.two at once]:-}")") %)."
r "A job's time is predicted at admission, for the cores the model expects it to have: the rows of jobs run two at once show"
r "how that holds when a second job arrives. The model predicts for a machine with no other load: on a loaded machine the"
r "measured times grow, and the time errors with them (memory hardly moves)."
if [ "$CHEAPER" -gt 0 ]; then
  r "The admission chose cheaper settings for $CHEAPER job(s) (marked above): their times are not veryfast's."
else
  r "Every job ran with the default preset (the admission chose no cheaper settings)."
fi
r ""
r "The server used $(f2 "$SERVE_IDLE_CPU") CPU-s while idle between its measurements (during the transcode scenarios)."
r ""
finish_report
