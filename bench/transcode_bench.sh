#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2054,SC2180  # S1A_* etc. are set via eval; commas/brackets are ffmpeg syntax
# transcode_bench.sh - benchmarks `vidproc transcode` against the ffmpeg CLI,
# side by side in one run, on the same 1080p input made from real footage.
# Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/transcode_bench.sh [--vidproc PATH] [--rounds N] [--work DIR]
#                                 [--out FILE] [--preset P] [--quick]
#   --vidproc PATH  vidproc binary (default build/vidproc, relative to the repo)
#   --rounds N      rounds of alternating A/B runs (default 3)
#   --work DIR      work dir; the input is built once and reused (default: mktemp, removed at exit)
#   --out FILE      report file (default bench/results/transcode-<date>.md)
#   --preset P      x264 preset of scenarios 1 and 2 (default veryfast)
#   --quick         10 s input and 1 round: a smoke run
# Progress goes to stderr; stdout carries only the report.
# If the vidproc binary is missing or fails, its cells are n/a and the ffmpeg side still runs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=transcode_bench
BENCH_LOG_TAG=bench

VIDPROC_SHOWN=build/vidproc
VIDPROC="$REPO/build/vidproc"
ROUNDS=3
ROUNDS_SET=0
WORK=""
OUT=""
PRESET=veryfast
QUICK=0

while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC_SHOWN=$OPT_VALUE; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --rounds|--rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; ROUNDS_SET=1; shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --preset|--preset=*) option_value "$@"; PRESET=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --quick) QUICK=1; shift ;;
    -h|--help) print_usage 3 16; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
if [ "$QUICK" = 1 ]; then
  DUR=10
  [ "$ROUNDS_SET" = 1 ] || ROUNDS=1
  RUN_TIMEOUT=900
else
  DUR=60
  RUN_TIMEOUT=3600
fi
[ -n "$OUT" ] || OUT="$REPO/bench/results/transcode-$(date +%Y-%m-%d).md"

BITRATE=1500k
PRESETS=(veryfast faster fast medium)
NPROC=$(nproc)
SLOTS=2
THREADS_PER_JOB=$(( NPROC / SLOTS )); [ "$THREADS_PER_JOB" -ge 1 ] || THREADS_PER_JOB=1

# ---------------------------------------------------------------- dependencies
ensure_deps() {
  local need=()
  { command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || need+=(ffmpeg)
  /usr/bin/time --version 2>&1 | grep -q 'GNU' || need+=(time)
  command -v timeout >/dev/null 2>&1 || need+=(coreutils)
  command -v dpkg >/dev/null 2>&1 || die "dpkg is required (Debian)"
  apt_install "${need[@]}"
}
ensure_deps

# ---------------------------------------------------------------- work dir
open_work_dir vidproc-bench.XXXXXX
LOGS="$WORK/logs"
OUTS="$WORK/out"
rm -rf "$LOGS" "$OUTS"
mkdir -p "$LOGS" "$OUTS"
RPT="$WORK/report.md.part"
: >"$RPT"
trap remove_auto_work EXIT

# ---------------------------------------------------------------- small helpers
declare -A V=()          # V[key] = space-separated samples
add() { V[$1]="${V[$1]:-} $2"; }
med() { median "${V[$1]:-}"; }

# number formatting (and f0-f3, mib, ratio in lib.sh); n/a passes through
f6() { isnum "${1:-}" && calc "printf \"%.6f\", $1" || printf 'n/a'; }
fx() { isnum "${1:-}" && calc "printf \"%.2fx\", $1" || printf 'n/a'; }
fx3() { isnum "${1:-}" && calc "printf \"%.3fx\", $1" || printf 'n/a'; }
diff6() { if isnum "${1:-}" && isnum "${2:-}"; then calc "printf \"%+.4f\", $1 - $2"; else printf 'n/a'; fi; }
# judge le|ge VALUE THRESHOLD -> PASS / FAIL / n/a
judge() {
  isnum "${2:-}" || { printf 'n/a'; return; }
  if [ "$1" = le ]; then calc "exit !($2 <= $3)" && printf 'PASS' || printf 'FAIL'
  else calc "exit !($2 >= $3)" && printf 'PASS' || printf 'FAIL'; fi
}

declare -A CMD=()        # CMD[name] = command line shown in the report
remember_cmd() { local k=$1; shift; [ -n "${CMD[$k]:-}" ] || CMD[$k]=$(showcmd "$@"); }

NOTES=()

# ---------------------------------------------------------------- probing
probe1() { # FILE ENTRIES -> first value of v:0
  { ffprobe -v error -select_streams v:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$1" 2>/dev/null || true; } | awk 'NR==1'
}
video_kbps() {
  local f=$1 br dur bytes
  br=$(probe1 "$f" bit_rate)
  if ! isnum "$br"; then
    bytes=$({ ffprobe -v error -select_streams v:0 -show_entries packet=size -of csv=p=0 "$f" 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')
    dur=$({ ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$f" 2>/dev/null || true; } | awk 'NR==1')
    if isnum "$dur" && calc "exit !($dur > 0)"; then br=$(calc "printf \"%.0f\", $bytes * 8 / $dur"); else br=n/a; fi
  fi
  isnum "$br" && calc "printf \"%.0f\", $br / 1000" || printf 'n/a'
}
stream_md5() { # md5 of the video stream's packets
  { ffmpeg -nostdin -v error -i "$1" -map 0:v:0 -c copy -f md5 - 2>/dev/null || true; } | awk 'NR==1'
}
ssim() { # OUT REF TAG -> SSIM All, REF scaled to OUT's size
  local out=$1 ref=$2 tag=$3 wh w h v
  wh=$(dims "$out")
  [[ $wh =~ ^[0-9]+x[0-9]+$ ]] || { printf 'n/a'; return; }
  w=${wh%x*}; h=${wh#*x}
  log "SSIM $tag"
  if ffmpeg -nostdin -hide_banner -i "$out" -i "$ref" \
      -lavfi "[1:v]scale=$w:$h:flags=bicubic[ref];[0:v][ref]ssim" -f null - >"$LOGS/ssim-$tag.log" 2>&1; then
    v=$(grep -o 'All:[0-9.]*' "$LOGS/ssim-$tag.log" | tail -n1 | cut -d: -f2 || true)
    isnum "$v" && printf '%s' "$v" || printf 'n/a'
  else
    printf 'n/a'
  fi
}

# vidproc availability; after 3 failures in a row it is not run any more
VP_OK=1
VP_STATUS=""
VP_VERSION=""
VP_FAILS=0
if [ ! -e "$VIDPROC" ]; then
  VP_OK=0; VP_STATUS="not found at \`$VIDPROC_SHOWN\`: every vidproc cell is n/a, the ffmpeg side ran alone"
  NOTES+=("vidproc was not run: no binary at \`$VIDPROC_SHOWN\` (build it, or pass --vidproc PATH)")
elif [ ! -x "$VIDPROC" ] || [ -d "$VIDPROC" ]; then
  VP_OK=0; VP_STATUS="\`$VIDPROC_SHOWN\` is not an executable file: every vidproc cell is n/a, the ffmpeg side ran alone"
  NOTES+=("vidproc was not run: \`$VIDPROC_SHOWN\` is not executable")
else
  if VP_VERSION=$(timeout 20 "$VIDPROC" --version 2>&1 </dev/null); then
    VP_VERSION=$(printf '%s' "$VP_VERSION" | md_clean)
  else
    VP_VERSION="(--version failed: $(printf '%s' "$VP_VERSION" | md_clean))"
  fi
  VP_STATUS="found at \`$VIDPROC_SHOWN\`"
fi
vp_done() { # TAG OUTFILE -> result + failure bookkeeping
  if result "$1" "$2"; then
    VP_FAILS=0
    local last
    last=$(tail -n1 "$LOGS/$1.out" 2>/dev/null || true)
    [[ $last == \{* ]] || note "\`$1\`: the last stdout line is not a JSON object: \`$(printf '%s' "$last" | md_clean)\`"
    return 0
  fi
  VP_FAILS=$((VP_FAILS + 1))
  if [ "$VP_FAILS" -ge 3 ] && [ "$VP_OK" = 1 ]; then
    VP_OK=0
    VP_STATUS="$VP_STATUS; it failed 3 times in a row, so it was not run any more (later vidproc cells n/a)"
    note "vidproc failed 3 times in a row; no further vidproc runs"
  fi
  return 1
}

vp_cmd()  { printf '%s\0' "$VIDPROC" transcode "$1" "$2" --preset "$3" --bitrate "$BITRATE" --progress none --force-encode; }
ff_cmd()  {
  printf '%s\0' ffmpeg -nostdin -y -i "$1" \
    -vf scale=w=1280:h=720:force_original_aspect_ratio=decrease:force_divisible_by=2 \
    -c:v libx264 -preset "$3" -b:v "$BITRATE" -maxrate 2250k -bufsize 3000k \
    -c:a aac -b:a 128k -movflags +faststart "$2"
}
readcmd() { mapfile -d '' -t C < <("$@"); }   # fills array C

BENCH_T0=$(date +%s)
DATE_HUMAN=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[ -n "$CPU_MODEL" ] || CPU_MODEL=unknown
MEM_TOTAL=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
OS_NAME=$( (. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-unknown}") || echo unknown)
FFMPEG_VERSION=$(ffmpeg -version 2>/dev/null | awk 'NR==1' || true)
X264_NOTE=$(ffmpeg -hide_banner -h encoder=libx264 >/dev/null 2>&1 && echo yes || echo no)
[ "$X264_NOTE" = yes ] || die "this ffmpeg has no libx264 encoder"

log "work dir $WORK; input ${DUR}s; rounds $ROUNDS; vidproc: $VP_STATUS"

# ---------------------------------------------------------------- input
# A real 1080p phone clip from the Debian package forensics-samples-files,
# played forwards then backwards (ping-pong) and looped to DUR seconds.
CLIP_REL=usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4
CLIP="$WORK/cache/pkg/$CLIP_REL"
# The clip (~30 fps, 41 frames, 1.52 s) holds its first frame for 0.18 s, so video starts at 0.15 s.
# Forward: frames 1..N-1; backward: frames N-2..0, so the loop joins frame 0 -> 1 with no held frame.
PP_FILTER="[0:v]trim=start=0.15,setpts=PTS-STARTPTS,fps=30,scale=1920:1080,format=yuv420p,split[a][b];\
[a]trim=start_frame=1,setpts=PTS-STARTPTS[fw];[b]reverse,trim=start_frame=1,setpts=PTS-STARTPTS[bw];\
[fw][bw]concat=n=2:v=1:a=0[v];\
[0:a]atrim=start=0.2178:duration=1.3,asetpts=PTS-STARTPTS,asplit[x][y];[y]areverse[ry];[x][ry]concat=n=2:v=0:a=1[a]"

fetch_clip() {
  [ -s "$CLIP" ] && return 0
  fetch_samples_package "$WORK/cache"
  [ -s "$CLIP" ] || die "$CLIP_REL not found in $DEB_NAME"
}

IN="$WORK/input-1080p-${DUR}s.mp4"
PP="$WORK/pingpong.mkv"
INPUT_REUSED=no
build_input() {
  if [ -s "$IN" ] && [ -f "$IN.ok" ]; then INPUT_REUSED=yes; log "reusing $IN"; return 0; fi
  fetch_clip
  local t0=$SECONDS tmp="$WORK/input.part.mp4"
  log "building the ${DUR}s input (libx264 crf 16, takes ~$((DUR * 17 / 10))s on 2 cores)"
  local c1=(ffmpeg -nostdin -v error -y -i "$CLIP" -filter_complex "$PP_FILTER" -map '[v]' -map '[a]'
            -c:v libx264 -qp 0 -preset ultrafast -c:a pcm_s16le "$PP")
  local c2=(ffmpeg -nostdin -v error -y -stream_loop -1 -i "$PP" -t "$DUR" -map 0:v:0 -map 0:a:0
            -c:v libx264 -crf 16 -preset fast -pix_fmt yuv420p -r 30
            -c:a aac -b:a 192k -ar 48000 -movflags +faststart "$IN")
  CMD[input1]=$(showcmd "${c1[@]}")
  CMD[input2]=$(showcmd "${c2[@]}")
  c2[${#c2[@]}-1]=$tmp
  "${c1[@]}" 2>"$LOGS/input1.err" || { cat "$LOGS/input1.err" >&2; die "ping-pong step failed"; }
  "${c2[@]}" 2>"$LOGS/input2.err" || { cat "$LOGS/input2.err" >&2; die "input encode failed"; }
  mv "$tmp" "$IN"
  touch "$IN.ok"
  INPUT_BUILD_S=$((SECONDS - t0))
}
INPUT_BUILD_S=""
DEB_NAME=""
build_input
if [ -z "${CMD[input1]:-}" ]; then # reused: still show the commands
  CMD[input1]=$(showcmd ffmpeg -nostdin -v error -y -i "$CLIP" -filter_complex "$PP_FILTER" -map '[v]' -map '[a]' -c:v libx264 -qp 0 -preset ultrafast -c:a pcm_s16le "$PP")
  CMD[input2]=$(showcmd ffmpeg -nostdin -v error -y -stream_loop -1 -i "$PP" -t "$DUR" -map 0:v:0 -map 0:a:0 -c:v libx264 -crf 16 -preset fast -pix_fmt yuv420p -r 30 -c:a aac -b:a 192k -ar 48000 -movflags +faststart "$IN")
fi
[ -n "$DEB_NAME" ] || DEB_NAME=$(cd "$WORK/cache" 2>/dev/null && ls forensics-samples-files_*.deb 2>/dev/null | head -n1 || true)
IN_INFO=$( { ffprobe -v error -show_entries stream=codec_name,profile,width,height,r_frame_rate,bit_rate,sample_rate:format=duration,size -of compact=p=0:nk=0 "$IN" 2>/dev/null || true; } | tr '\n' ';')
IN_KBPS=$(video_kbps "$IN")
cat "$IN" >/dev/null   # warm the page cache

# ---------------------------------------------------------------- scenario 1: one job
S1_T0=$SECONDS
log "scenario 1: one job, preset $PRESET, $ROUNDS round(s), A B alternating"
for r in $(seq 1 "$ROUNDS"); do
  if [ "$VP_OK" = 1 ]; then
    o="$OUTS/s1-vidproc-r$r.mp4"; rm -f "$o"
    readcmd vp_cmd "$IN" "$o" "$PRESET"; remember_cmd A "${C[@]}"
    log "  round $r: A vidproc"
    timed "s1-A-r$r" "${C[@]}"
    if vp_done "s1-A-r$r" "$o"; then
      add s1.A.wall "$T_WALL"; add s1.A.cpu "$T_CPU"; add s1.A.user "$T_USER"; add s1.A.sys "$T_SYS"; add s1.A.rss "$T_RSS"
      add s1.A.kbps "$(video_kbps "$o")"
      [ "$r" = 1 ] && { S1_A_DIMS=$(dims "$o"); S1_A_JSON=$(tail -n1 "$LOGS/s1-A-r$r.out" | cut -c1-2000); }
    fi
  fi
  o="$OUTS/s1-ffmpeg-r$r.mp4"; rm -f "$o"
  readcmd ff_cmd "$IN" "$o" "$PRESET"; remember_cmd B "${C[@]}"
  log "  round $r: B ffmpeg"
  timed "s1-B-r$r" "${C[@]}"
  if result "s1-B-r$r" "$o"; then
    add s1.B.wall "$T_WALL"; add s1.B.cpu "$T_CPU"; add s1.B.user "$T_USER"; add s1.B.sys "$T_SYS"; add s1.B.rss "$T_RSS"
    add s1.B.kbps "$(video_kbps "$o")"
    [ "$r" = 1 ] && S1_B_DIMS=$(dims "$o")
  fi
done
S1_A_SSIM=n/a; S1_B_SSIM=n/a
[ -s "$OUTS/s1-vidproc-r1.mp4" ] && [ -n "${S1_A_DIMS:-}" ] && S1_A_SSIM=$(ssim "$OUTS/s1-vidproc-r1.mp4" "$IN" s1-A)
[ -n "${S1_B_DIMS:-}" ] && S1_B_SSIM=$(ssim "$OUTS/s1-ffmpeg-r1.mp4" "$IN" s1-B)
for r in $(seq 2 "$ROUNDS"); do rm -f "$OUTS/s1-vidproc-r$r.mp4" "$OUTS/s1-ffmpeg-r$r.mp4"; done
S1_S=$((SECONDS - S1_T0))

# ---------------------------------------------------------------- scenario 2: two concurrent jobs
S2_T0=$SECONDS
log "scenario 2: two concurrent jobs, preset $PRESET, $ROUNDS round(s)"
# pair KIND(A|B) ROUND: runs two jobs at once; sets P_OK and adds samples
pair() {
  local k=$1 r=$2 i t0 t1 ok=1 cpu=0 rsum=0 rmax=0 pids=() walls=()
  for i in 1 2; do
    local o="$OUTS/s2-$k-r$r-$i.mp4"; rm -f "$o"
    if [ "$k" = A ]; then readcmd vp_cmd "$IN" "$o" "$PRESET"; C+=(--threads "$THREADS_PER_JOB"); remember_cmd A2 "${C[@]}"
    else readcmd ff_cmd "$IN" "$o" "$PRESET"; remember_cmd B2 "${C[@]}"; fi
    eval "C$i=(\"\${C[@]}\")"
  done
  t0=$(now)
  timed "s2-$k-r$r-1" "${C1[@]}" & pids+=($!)
  timed "s2-$k-r$r-2" "${C2[@]}" & pids+=($!)
  wait "${pids[0]}" || true
  wait "${pids[1]}" || true
  t1=$(now)
  for i in 1 2; do
    local rc=0
    if [ "$k" = A ]; then vp_done "s2-$k-r$r-$i" "$OUTS/s2-$k-r$r-$i.mp4" || rc=1
    else result "s2-$k-r$r-$i" "$OUTS/s2-$k-r$r-$i.mp4" || rc=1; fi
    if [ "$rc" = 0 ]; then
      cpu=$(calc "printf \"%.2f\", $cpu + $T_CPU"); rsum=$(calc "printf \"%.0f\", $rsum + $T_RSS")
      rmax=$(calc "printf \"%.0f\", ($T_RSS > $rmax) ? $T_RSS : $rmax"); walls+=("$T_WALL")
      [ "$r" = 1 ] && add "s2.$k.kbps1" "$(video_kbps "$OUTS/s2-$k-r$r-$i.mp4")"
    else ok=0; fi
  done
  if [ "$ok" = 1 ]; then
    add "s2.$k.wall" "$(calc "printf \"%.2f\", $t1 - $t0")"
    add "s2.$k.cpu" "$cpu"; add "s2.$k.rsssum" "$rsum"; add "s2.$k.rssmax" "$rmax"
    add "s2.$k.jobwall" "${walls[0]}"; add "s2.$k.jobwall" "${walls[1]}"
  fi
  rm -f "$OUTS/s2-$k-r$r-"*.mp4
}
for r in $(seq 1 "$ROUNDS"); do
  if [ "$VP_OK" = 1 ]; then log "  round $r: A 2x vidproc --threads $THREADS_PER_JOB"; pair A "$r"; fi
  log "  round $r: B 2x ffmpeg"; pair B "$r"
done
S2_S=$((SECONDS - S2_T0))

# ---------------------------------------------------------------- scenario 3: presets
S3_T0=$SECONDS
log "scenario 3: presets ${PRESETS[*]}, one round each"
declare -A P3=()
for p in "${PRESETS[@]}"; do
  if [ "$p" = "$PRESET" ]; then   # already measured in scenario 1: reuse its medians and SSIM
    for k in A B; do
      for m in wall cpu rss kbps; do P3[$p.$k.$m]=$(med "s1.$k.$m"); done
    done
    P3[$p.A.ssim]=$S1_A_SSIM; P3[$p.B.ssim]=$S1_B_SSIM; P3[$p.from]=" (scenario 1)"
    continue
  fi
  for k in A B; do
    for m in wall cpu rss kbps ssim; do P3[$p.$k.$m]=n/a; done
    o="$OUTS/s3-$k-$p.mp4"; rm -f "$o"
    if [ "$k" = A ]; then
      [ "$VP_OK" = 1 ] || continue
      readcmd vp_cmd "$IN" "$o" "$p"
    else
      readcmd ff_cmd "$IN" "$o" "$p"
    fi
    log "  preset $p: $k"
    timed "s3-$k-$p" "${C[@]}"
    if [ "$k" = A ]; then vp_done "s3-$k-$p" "$o" || continue; else result "s3-$k-$p" "$o" || continue; fi
    P3[$p.$k.wall]=$T_WALL; P3[$p.$k.cpu]=$T_CPU; P3[$p.$k.rss]=$T_RSS
    P3[$p.$k.kbps]=$(video_kbps "$o")
    P3[$p.$k.ssim]=$(ssim "$o" "$IN" "s3-$k-$p")
    rm -f "$o"
  done
done
S3_S=$((SECONDS - S3_T0))

# ---------------------------------------------------------------- scenario 4: passthrough
S4_T0=$SECONDS
COMP="$WORK/compliant-720p-${DUR}s.mp4"
COMP_CMD=(ffmpeg -nostdin -v error -y -i "$IN" -t "$DUR" -vf scale=1280:720:flags=bicubic,fps=30
          -c:v libx264 -profile:v high -pix_fmt yuv420p -preset fast -b:v 1000k -maxrate 1000k -bufsize 2000k
          -c:a aac -profile:a aac_low -b:a 128k -ar 48000 -ac 2 -movflags +faststart "$COMP")
CMD[compliant]=$(showcmd "${COMP_CMD[@]}")
if [ ! -s "$COMP" ] || [ ! -f "$COMP.ok" ]; then
  log "scenario 4: building the compliant 720p file"
  COMP_CMD[${#COMP_CMD[@]}-1]="$WORK/compliant.part.mp4"
  "${COMP_CMD[@]}" 2>"$LOGS/compliant.err" || { cat "$LOGS/compliant.err" >&2; die "compliant file encode failed"; }
  mv "$WORK/compliant.part.mp4" "$COMP"; touch "$COMP.ok"
fi
COMP_INFO=$( { ffprobe -v error -show_entries stream=codec_name,profile,pix_fmt,width,height,r_frame_rate,bit_rate,sample_rate:format=duration -of compact=p=0:nk=0 "$COMP" 2>/dev/null || true; } | tr '\n' ';')
COMP_MD5=$(stream_md5 "$COMP")
S4_PT_IDENT=n/a
log "scenario 4: passthrough vs --force-encode, $ROUNDS round(s)"
for r in $(seq 1 "$ROUNDS"); do
  [ "$VP_OK" = 1 ] || break
  for k in P F; do
    o="$OUTS/s4-$k-r$r.mp4"; rm -f "$o"
    C=("$VIDPROC" transcode "$COMP" "$o" --progress none)
    [ "$k" = F ] && C+=(--force-encode)
    remember_cmd "S4$k" "${C[@]}"
    log "  round $r: vidproc $([ "$k" = P ] && echo passthrough || echo --force-encode)"
    timed "s4-$k-r$r" "${C[@]}"
    if vp_done "s4-$k-r$r" "$o"; then
      add "s4.$k.wall" "$T_WALL"; add "s4.$k.cpu" "$T_CPU"; add "s4.$k.rss" "$T_RSS"
      if [ "$r" = 1 ]; then
        add "s4.$k.kbps" "$(video_kbps "$o")"
        if [ "$k" = P ]; then
          if [ -n "$COMP_MD5" ] && [ "$(stream_md5 "$o")" = "$COMP_MD5" ]; then S4_PT_IDENT=yes; else S4_PT_IDENT=no; fi
        fi
      fi
    fi
    rm -f "$o"
  done
done
# ffmpeg reference, one round: remux (what a passthrough costs at best) and the B re-encode
o="$OUTS/s4-ffremux.mp4"; rm -f "$o"
C=(ffmpeg -nostdin -y -i "$COMP" -map 0 -c copy -movflags +faststart "$o"); remember_cmd S4R "${C[@]}"
log "  ffmpeg reference: remux"
timed s4-ffremux "${C[@]}"
if result s4-ffremux "$o"; then add s4.R.wall "$T_WALL"; add s4.R.cpu "$T_CPU"; add s4.R.rss "$T_RSS"; fi
o="$OUTS/s4-ffenc.mp4"; rm -f "$o"
readcmd ff_cmd "$COMP" "$o" "$PRESET"; remember_cmd S4E "${C[@]}"
log "  ffmpeg reference: re-encode"
timed s4-ffenc "${C[@]}"
if result s4-ffenc "$o"; then add s4.E.wall "$T_WALL"; add s4.E.cpu "$T_CPU"; add s4.E.rss "$T_RSS"; fi
rm -f "$OUTS"/s4-ff*.mp4
S4_S=$((SECONDS - S4_T0))

# ---------------------------------------------------------------- report
BENCH_S=$(( $(date +%s) - BENCH_T0 ))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# scenario 1 numbers
for m in wall cpu user sys rss kbps; do
  eval "S1A_$m=\$(med s1.A.$m)"; eval "S1B_$m=\$(med s1.B.$m)"
done
R1_WALL=$(ratio "$S1A_wall" "$S1B_wall" 4); R1_CPU=$(ratio "$S1A_cpu" "$S1B_cpu" 4); R1_RSS=$(ratio "$S1A_rss" "$S1B_rss" 4)
R1_USER=$(ratio "$S1A_user" "$S1B_user" 4); R1_SYS=$(ratio "$S1A_sys" "$S1B_sys" 4); R1_KBPS=$(ratio "$S1A_kbps" "$S1B_kbps" 4)
SSIM_MIN=n/a; isnum "$S1_B_SSIM" && SSIM_MIN=$(calc "printf \"%.6f\", $S1_B_SSIM - 0.002")
# scenario 2
for m in wall cpu rsssum rssmax jobwall kbps1; do
  eval "S2A_$m=\$(med s2.A.$m)"; eval "S2B_$m=\$(med s2.B.$m)"
done
R2_WALL=$(ratio "$S2A_wall" "$S2B_wall" 4); R2_CPU=$(ratio "$S2A_cpu" "$S2B_cpu" 4)
R2_RSSSUM=$(ratio "$S2A_rsssum" "$S2B_rsssum" 4); R2_RSSMAX=$(ratio "$S2A_rssmax" "$S2B_rssmax" 4)
R2_JOB=$(ratio "$S2A_jobwall" "$S2B_jobwall" 4); R2_KBPS=$(ratio "$S2A_kbps1" "$S2B_kbps1" 4)
# scenario 4
for k in P F R E; do for m in wall cpu rss kbps; do eval "S4${k}_$m=\$(med s4.$k.$m)"; done; done
S4_SPEEDUP=$(ratio "$S4F_wall" "$S4P_wall" 4)
S4_FF_SPEEDUP=$(ratio "$S4E_wall" "$S4R_wall" 4)

MODE="full"; [ "$QUICK" = 1 ] && MODE="quick (smoke run: ${DUR} s input)"
vp_shown=${VP_VERSION:-n/a}

r "# vidproc transcode benchmark: vidproc (A) vs ffmpeg CLI (B)"
r ""
r "| | |"
r "|---|---|"
r "| date | $DATE_HUMAN |"
r "| mode | $MODE, rounds=$ROUNDS, input ${DUR} s |"
r "| machine | nproc=$NPROC, CPU: $CPU_MODEL, RAM $MEM_TOTAL, $OS_NAME |"
r "| load average (1/5/15 min) | at start $LOAD_START, at end $LOAD_END |"
r "| ffmpeg | \`$FFMPEG_VERSION\` |"
r "| vidproc | $VP_STATUS |"
r "| vidproc --version | \`$vp_shown\` |"
r "| bench time | ${BENCH_S} s (input $( [ -n "$INPUT_BUILD_S" ] && echo "built in ${INPUT_BUILD_S} s" || echo reused), S1 ${S1_S} s, S2 ${S2_S} s, S3 ${S3_S} s, S4 ${S4_S} s) |"
r ""
if calc "exit !(${LOAD_START%% *} > 0.5)"; then
  r "> Note: the 1-minute load average was ${LOAD_START%% *} at the start: something else was using the CPU, so timings are noisy."
  r ""
fi
r "Every run is measured by GNU \`/usr/bin/time -f '%e %U %S %M'\` (wall s, user s, sys s, peak RSS KiB)."
r "Medians over rounds; A and B runs alternate (A B A B ...). Ratios are A/B: below 1.00x means vidproc uses less."
r "CPU = user + sys. RSS in MiB. Video bitrate from ffprobe \`stream=bit_rate\` of v:0 (or packet bytes*8/duration)."
r ""
r "## Targets"
r ""
r "| target | vidproc (A) | ffmpeg (B) | A/B | goal | result |"
r "|---|---:|---:|---:|---|---|"
r "| S1 one job: wall s | $(f2 "$S1A_wall") | $(f2 "$S1B_wall") | $(fx3 "$R1_WALL") | ≤ 1.00x | $(judge le "$R1_WALL" 1.00) |"
r "| S2 two concurrent jobs: total wall s | $(f2 "$S2A_wall") | $(f2 "$S2B_wall") | $(fx3 "$R2_WALL") | ≤ 0.85x | $(judge le "$R2_WALL" 0.85) |"
r "| S1 one job: peak RSS MiB | $(mib "$S1A_rss") | $(mib "$S1B_rss") | $(fx3 "$R1_RSS") | ≤ 0.80x | $(judge le "$R1_RSS" 0.80) |"
r "| S2 two jobs: summed peak RSS MiB | $(mib "$S2A_rsssum") | $(mib "$S2B_rsssum") | $(fx3 "$R2_RSSSUM") | ≤ 0.80x | $(judge le "$R2_RSSSUM" 0.80) |"
r "| S1 SSIM vs source | $(f6 "$S1_A_SSIM") | $(f6 "$S1_B_SSIM") | $(diff6 "$S1_A_SSIM" "$S1_B_SSIM") | ≥ $(f6 "$SSIM_MIN") (B − 0.002) | $(judge ge "$S1_A_SSIM" "${SSIM_MIN}") |"
r "| S4 passthrough speed-up (force-encode wall / passthrough wall) | $(isnum "$S4P_wall" && echo "passthrough $(f2 "$S4P_wall") s, forced $(f2 "$S4F_wall") s" || echo n/a) | — | $(fx "$S4_SPEEDUP") | ≥ 20x | $(judge ge "$S4_SPEEDUP" 20) |"
r ""
r "## Input"
r ""
r "Real footage, the same file for every run: \`$CLIP_REL\` from the Debian package"
r "\`forensics-samples-files\` (${DEB_NAME:-cached}, fetched with \`apt-get download\`, unpacked with \`dpkg -x\`):"
r "a 1.52 s 1920x1080 H.264 High + AAC phone clip (a dog on a tiled floor, hand-held)."
r "Its first frame is held for 0.18 s, so the clip is cut to start at 0.15 s and resampled to 30 fps;"
r "it is then played forwards (frames 1..N-1) and backwards (frames N-2..0), a 2.6 s ping-pong cycle"
r "whose joins repeat no frame, so motion is continuous (audio likewise forwards + reversed)."
r "That cycle is kept losslessly (x264 qp 0, PCM), then looped with \`-stream_loop -1\` to ${DUR} s and"
r "encoded at high quality: libx264 crf 16 preset fast, yuv420p, 30 fps CFR, AAC 192k 48 kHz, faststart."
r "Built once per work dir${INPUT_BUILD_S:+ (took ${INPUT_BUILD_S} s)}; reused: $INPUT_REUSED."
r ""
r "Result: \`$(printf '%s' "$IN_INFO" | md_clean)\` (video $(f0 "$IN_KBPS") kb/s)"
r ""
r '```sh'
r "${CMD[input1]}"
r "${CMD[input2]}"
r '```'
r ""
r "## Commands"
r ""
r "IN = \`${IN//"$WORK"/\$WORK}\`, OUT = the output file, \$WORK = the work dir."
r ""
r '```sh'
r "# A, scenario 1 (scenario 3: same with each preset)"
r "${CMD[A]:-$(readcmd vp_cmd "$IN" OUT "$PRESET"; showcmd "${C[@]}")}"
r "# B, scenarios 1 and 2 (scenario 3: same with each preset)"
r "${CMD[B]:-$(readcmd ff_cmd "$IN" OUT "$PRESET"; showcmd "${C[@]}")}"
r "# A, scenario 2 (two at once)"
r "${CMD[A2]:-$(readcmd vp_cmd "$IN" OUT "$PRESET"; C+=(--threads "$THREADS_PER_JOB"); showcmd "${C[@]}")}"
r "# SSIM (W:H = the output's size; All: value)"
r "${CMD[ssim]:-ffmpeg -nostdin -i OUT -i IN -lavfi '[1:v]scale=W:H:flags=bicubic[ref];[0:v][ref]ssim' -f null -}"
r "# scenario 4: compliant 720p file, then passthrough vs forced encode"
r "${CMD[compliant]}"
r "${CMD[S4P]:-$(showcmd "$VIDPROC" transcode "$COMP" OUT --progress none)}"
r "${CMD[S4F]:-$(showcmd "$VIDPROC" transcode "$COMP" OUT --progress none --force-encode)}"
r "# scenario 4, ffmpeg reference: remux and re-encode"
r "${CMD[S4R]:-}"
r "${CMD[S4E]:-}"
r '```'
r ""
r "## Scenario 1: one job (preset $PRESET, ${BITRATE}, medians of $ROUNDS round(s))"
r ""
r "| metric | vidproc (A) | ffmpeg (B) | A/B |"
r "|---|---:|---:|---:|"
r "| wall s | $(f2 "$S1A_wall") | $(f2 "$S1B_wall") | $(fx "$R1_WALL") |"
r "| CPU s (user+sys) | $(f2 "$S1A_cpu") | $(f2 "$S1B_cpu") | $(fx "$R1_CPU") |"
r "| user s | $(f2 "$S1A_user") | $(f2 "$S1B_user") | $(fx "$R1_USER") |"
r "| sys s | $(f2 "$S1A_sys") | $(f2 "$S1B_sys") | $(fx "$R1_SYS") |"
r "| cores busy (CPU/wall) | $(isnum "$S1A_wall" && f2 "$(calc "print $S1A_cpu / $S1A_wall")" || echo n/a) | $(isnum "$S1B_wall" && f2 "$(calc "print $S1B_cpu / $S1B_wall")" || echo n/a) | |"
r "| peak RSS MiB | $(mib "$S1A_rss") | $(mib "$S1B_rss") | $(fx "$R1_RSS") |"
r "| video bitrate kb/s | $(f0 "$S1A_kbps") | $(f0 "$S1B_kbps") | $(fx "$R1_KBPS") |"
r "| output size (round 1) | ${S1_A_DIMS:-n/a} | ${S1_B_DIMS:-n/a} | |"
r "| SSIM vs source (round 1) | $(f6 "$S1_A_SSIM") | $(f6 "$S1_B_SSIM") | $(diff6 "$S1_A_SSIM" "$S1_B_SSIM") |"
r ""
r "Per round, wall s: A =${V[s1.A.wall]:- n/a}; B =${V[s1.B.wall]:- n/a}. Peak RSS KiB: A =${V[s1.A.rss]:- n/a}; B =${V[s1.B.rss]:- n/a}."
if [ -n "${S1_A_JSON:-}" ]; then
  r ""
  r "vidproc JSON summary (round 1):"
  r '```json'
  r "${S1_A_JSON//"$WORK"/\$WORK}"
  r '```'
fi
if [ -n "${S1_A_DIMS:-}" ] && [ -n "${S1_B_DIMS:-}" ] && [ "$S1_A_DIMS" != "$S1_B_DIMS" ]; then
  r ""
  r "> Note: the outputs differ in size (A ${S1_A_DIMS}, B ${S1_B_DIMS}); SSIM scales the source to each output's size."
fi
r ""
r "## Scenario 2: two concurrent jobs on $NPROC cores (preset $PRESET, medians of $ROUNDS round(s))"
r ""
r "Two vidproc jobs started at the same time, each \`--threads $THREADS_PER_JOB\` (its budget: $NPROC cores / $SLOTS slots),"
r "versus two ffmpeg processes started at the same time with default threads. Total wall = until both finish."
r ""
r "| metric | 2x vidproc (A) | 2x ffmpeg (B) | A/B |"
r "|---|---:|---:|---:|"
r "| total wall s | $(f2 "$S2A_wall") | $(f2 "$S2B_wall") | $(fx "$R2_WALL") |"
r "| per-job wall s (median of jobs) | $(f2 "$S2A_jobwall") | $(f2 "$S2B_jobwall") | $(fx "$R2_JOB") |"
r "| summed CPU s | $(f2 "$S2A_cpu") | $(f2 "$S2B_cpu") | $(fx "$R2_CPU") |"
r "| summed peak RSS MiB | $(mib "$S2A_rsssum") | $(mib "$S2B_rsssum") | $(fx "$R2_RSSSUM") |"
r "| max peak RSS of the two, MiB | $(mib "$S2A_rssmax") | $(mib "$S2B_rssmax") | $(fx "$R2_RSSMAX") |"
r "| video bitrate kb/s (round 1) | $(f0 "$S2A_kbps1") | $(f0 "$S2B_kbps1") | $(fx "$R2_KBPS") |"
r ""
r "Per round, total wall s: A =${V[s2.A.wall]:- n/a}; B =${V[s2.B.wall]:- n/a}."
r ""
r "## Scenario 3: presets (one round each; vidproc with all cores, ffmpeg default threads)"
r ""
r "| preset | engine | wall s | CPU s | video kb/s | SSIM | peak RSS MiB | wall A/B | SSIM A−B |"
r "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for p in "${PRESETS[@]}"; do
  r "| $p${P3[$p.from]:-} | vidproc | $(f2 "${P3[$p.A.wall]}") | $(f2 "${P3[$p.A.cpu]}") | $(f0 "${P3[$p.A.kbps]}") | $(f6 "${P3[$p.A.ssim]}") | $(mib "${P3[$p.A.rss]}") | $(fx "$(ratio "${P3[$p.A.wall]}" "${P3[$p.B.wall]}" 4)") | $(diff6 "${P3[$p.A.ssim]}" "${P3[$p.B.ssim]}") |"
  r "| $p${P3[$p.from]:-} | ffmpeg | $(f2 "${P3[$p.B.wall]}") | $(f2 "${P3[$p.B.cpu]}") | $(f0 "${P3[$p.B.kbps]}") | $(f6 "${P3[$p.B.ssim]}") | $(mib "${P3[$p.B.rss]}") | | |"
done
r ""
r "## Scenario 4: passthrough (medians of $ROUNDS round(s))"
r ""
r "Compliant file made from the same input: H.264 High yuv420p 1280x720 30 fps 1000k, AAC-LC 128k 48 kHz, faststart, ${DUR} s:"
r "\`$(printf '%s' "$COMP_INFO" | md_clean)\`"
r ""
r "| run | wall s | CPU s | peak RSS MiB | video kb/s |"
r "|---|---:|---:|---:|---:|"
r "| vidproc passthrough | $(f2 "$S4P_wall") | $(f2 "$S4P_cpu") | $(mib "$S4P_rss") | $(f0 "$S4P_kbps") |"
r "| vidproc --force-encode | $(f2 "$S4F_wall") | $(f2 "$S4F_cpu") | $(mib "$S4F_rss") | $(f0 "$S4F_kbps") |"
r "| ffmpeg -c copy (reference, 1 round) | $(f2 "$S4R_wall") | $(f2 "$S4R_cpu") | $(mib "$S4R_rss") | |"
r "| ffmpeg re-encode B (reference, 1 round) | $(f2 "$S4E_wall") | $(f2 "$S4E_cpu") | $(mib "$S4E_rss") | |"
r ""
r "vidproc passthrough speed-up: **$(fx "$S4_SPEEDUP")** (goal ≥ 20x: $(judge ge "$S4_SPEEDUP" 20)); ffmpeg's remux vs re-encode for reference: $(fx "$S4_FF_SPEEDUP")."
r "Passthrough output's video packets identical to the compliant file's: $S4_PT_IDENT."
r ""
finish_report
