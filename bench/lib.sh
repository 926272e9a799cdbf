# Helpers shared by the bench scripts (sourced, not run). A script sets BENCH_NAME (its name in
# error messages) and, if its progress lines use another tag, BENCH_LOG_TAG, before using them.
# shellcheck shell=bash
# shellcheck disable=SC2034  # OPT_VALUE, OPT_WORDS, DEB_NAME, AUTO_WORK, T_* etc. are for the caller

# ---------------------------------------------------------------- messages and arguments
warn() { echo "$BENCH_NAME: $*" >&2; }
die() {
  warn "$@"
  exit 2
}
log() { printf '[%s %s] %s\n' "${BENCH_LOG_TAG:-$BENCH_NAME}" "$(date +%H:%M:%S)" "$*" >&2; }

# Lines FIRST to LAST of the running script's header comment, without the leading "# ".
print_usage() { sed -n "$1,$2p" "${BASH_SOURCE[-1]}" | sed 's/^# \{0,1\}//'; }

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

# The value of the option at "$@": from `--opt VALUE` or `--opt=VALUE`. Sets OPT_VALUE, and
# OPT_WORDS to the number of words to shift.
#   --out | --out=*) option_value "$@"; OUT=$OPT_VALUE; shift "$OPT_WORDS" ;;
option_value() {
  case $1 in
    *=*)
      OPT_VALUE=${1#*=}
      OPT_WORDS=1
      ;;
    *)
      [ $# -ge 2 ] || die "$1 needs a value"
      OPT_VALUE=$2
      OPT_WORDS=2
      ;;
  esac
}

# The options of the transfer benchmarks (http_bench.sh, s3_bench.sh), whose defaults the caller
# sets: --vidproc (VIDPROC), --size-mb (SIZE_MB), --rounds (ROUNDS), --out (OUT).
parse_transfer_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --vidproc | --vidproc=*) option_value "$@"; VIDPROC=$OPT_VALUE; shift "$OPT_WORDS" ;;
      --size-mb | --size-mb=*) option_value "$@"; SIZE_MB=$OPT_VALUE; shift "$OPT_WORDS" ;;
      --rounds | --rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; shift "$OPT_WORDS" ;;
      --out | --out=*) option_value "$@"; OUT=$OPT_VALUE; shift "$OPT_WORDS" ;;
      *) echo "usage: $0 [--vidproc PATH] [--size-mb N] [--rounds N] [--out FILE]" >&2; exit 2 ;;
    esac
  done
}

# For the scripts run from the repository root: VIDPROC made absolute; exits when no program is
# there.
require_vidproc() {
  VIDPROC=$(cd "$(dirname "$VIDPROC")" && pwd)/$(basename "$VIDPROC")
  [ -x "$VIDPROC" ] || {
    echo "no vidproc at $VIDPROC (build it first)" >&2
    exit 1
  }
}

# ---------------------------------------------------------------- HTTP load
# wrk against URL (2 threads, 64 keep-alive connections, 10 s): prints "requests/s p99_ms".
wrk_run() {
  wrk -t2 -c64 -d10s --latency "$1" | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)}
              else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
    END {printf "%.0f %.2f\n", rps, p99}'
}

# ---------------------------------------------------------------- vidproc serve
# `vidproc serve` (VIDPROC) with its defaults, started as a fresh install would run it: on the
# data dir DATA (give a fresh one), in the working directory RUNDIR (so no .env is read), under
# env -i with only PATH, LANG and LOG_FORMAT=json, on a free loopback port written to PORT_FILE,
# its log in LOG. Waits until its worker has started (30 s at most) and sets SPID, SERVE_LOG,
# API (the /api/v1 base URL), SERVE_SLOTS and SERVE_CORES (as its log says); 1 if it did not
# start. serve_stop ends it.
serve_start() { # DATA PORT_FILE LOG RUNDIR
  log "starting vidproc serve (defaults) on a fresh data dir"
  (cd "$4" && exec env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 LOG_FORMAT=json \
    "VIDPROC_DATA_DIR=$1" "$VIDPROC" serve --listen 127.0.0.1:0 --port-file "$2") \
    >"$3" 2>&1 &
  SPID=$!
  SERVE_LOG=$3
  for _ in $(seq 1 300); do
    [ -s "$2" ] && grep -q '"msg":"worker started"' "$3" && break
    sleep 0.1
  done
  grep -q '"msg":"worker started"' "$3" || return 1
  API="http://127.0.0.1:$(cat "$2")/api/v1"
  SERVE_SLOTS=$(grep -o '"slots":[0-9]*' "$3" | head -n1 | cut -d: -f2 || true)
  SERVE_CORES=$(grep -o '"cores":[0-9]*' "$3" | head -n1 | cut -d: -f2 || true)
}
serve_stop() {
  if [ -n "${SPID:-}" ] && kill -0 "$SPID" 2>/dev/null; then
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  SPID=""
}

# The CPU-seconds of process PID and its reaped children (utime+stime+cutime+cstime).
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_of() { awk -v hz="$HZ" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat"; }

# Uploads FILE (raw body, Content-Type TYPE, default video/mp4) to API; prints "ID EPOCH", EPOCH
# (bash's EPOCHREALTIME) when the upload was done. 1 if it was refused.
upload() { # FILE [TYPE]
  local id
  # -T streams the file (--data-binary @FILE reads it into memory first, and refuses over 1 GB).
  id=$(curl -sf -X POST -T "$1" -H "Content-Type: ${2:-video/mp4}" -H "X-Filename: $(basename "$1")" "$API/videos" |
    grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)
  [ -n "$id" ] || { warn "upload failed: $(tail -n3 "$SERVE_LOG")"; return 1; }
  printf '%s %s\n' "$id" "$EPOCHREALTIME"
}
# Prints when video ID became ready, by the server's clock (its event's id); 1 (the reason on
# stderr) if it failed or was not ready within 30 minutes.
wait_ready() { # ID SINCE
  # The event stream, not polling: a poll every 50 ms spawned four processes each time and took
  # CPU from the job it measured (the ffmpeg side waits on its process). Last-Event-ID replays
  # every change since SINCE (epoch s), so a video ready before the stream connects is not missed;
  # the ready record's updated_at (the event id, ms) is when it became ready.
  local line event_ms="" since_ms
  since_ms=$(calc "printf \"%d\", ($2 - 1) * 1000")
  while IFS= read -r line; do
    line=${line%$'\r'}
    case $line in
      "id: "*) event_ms=${line#id: } ;;
      "data: "*"\"id\":\"$1\""*"\"status\":\"ready\""*)
        printf '%d.%03d\n' "$((event_ms / 1000))" "$((event_ms % 1000))"
        return 0 ;;
      "data: "*"\"id\":\"$1\""*"\"status\":\"failed\""*) warn "video $1 failed: $line"; return 1 ;;
    esac
  done < <(curl -sN --max-time 1800 -H "Last-Event-ID: $since_ms" "$API/events")
  warn "video $1 not ready after 30 minutes"
  return 1
}

# ---------------------------------------------------------------- packages and work dirs
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Installs the Debian packages named (none: nothing to do).
apt_install() {
  [ $# -gt 0 ] || return 0
  log "installing missing packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >&2
}

# The Debian package forensics-samples-files (real camera footage), downloaded into CACHE once
# and unpacked into CACHE/pkg; sets DEB_NAME. Its log is LOGS/fetch.log.
fetch_samples_package() {
  local cache=$1 debs
  mkdir -p "$cache"
  debs=("$cache"/forensics-samples-files_*.deb)
  if [ ! -s "${debs[0]}" ]; then
    log "apt-get download forensics-samples-files"
    if ! (cd "$cache" && apt-get download forensics-samples-files) >>"$LOGS/fetch.log" 2>&1; then
      log "apt-get download failed; apt-get update and retry"
      $SUDO apt-get update -qq >>"$LOGS/fetch.log" 2>&1 || true
      (cd "$cache" && apt-get download forensics-samples-files) >>"$LOGS/fetch.log" 2>&1 ||
        {
          cat "$LOGS/fetch.log" >&2
          die "cannot download forensics-samples-files"
        }
    fi
    debs=("$cache"/forensics-samples-files_*.deb)
  fi
  DEB_NAME=$(basename "${debs[0]}")
  dpkg -x "${debs[0]}" "$cache/pkg"
}

# A fresh scratch folder under bench/results (or BENCH_TMP) named after TEMPLATE (NAME.XXXXXX),
# for the scripts run from the repository root.
bench_tmp_dir() { mktemp -d -p "${BENCH_TMP:-$PWD/bench/results}" "$1"; }

# WORK as given (--work) or, when empty, a mktemp folder from TEMPLATE that remove_auto_work
# deletes at exit; sets AUTO_WORK.
open_work_dir() {
  AUTO_WORK=0
  if [ -z "$WORK" ]; then
    WORK=$(mktemp -d -t "$1")
    AUTO_WORK=1
  fi
  mkdir -p "$WORK"
}
remove_auto_work() {
  if [ "$AUTO_WORK" = 1 ]; then rm -rf "$WORK"; fi
}
# For the scripts that start `vidproc serve`: an empty report (RPT) and notes, and at exit the
# server stopped and an automatic work dir removed.
open_serve_report() {
  RPT="$WORK/report.md.part"
  : >"$RPT"
  NOTES=()
  SPID=""
  trap 'serve_stop; remove_auto_work' EXIT
  trap 'exit 130' INT TERM
}
# VIDPROC copied into WORK/bin and run from there, so that a rebuild during the run cannot change
# what is measured (the server starts its children from its own path).
use_binary_copy() {
  mkdir -p "$WORK/bin"
  cp "$VIDPROC" "$WORK/bin/vidproc.part"
  mv "$WORK/bin/vidproc.part" "$WORK/bin/vidproc"
  VIDPROC="$WORK/bin/vidproc"
}

# ---------------------------------------------------------------- numbers
now() { date +%s.%N; }
# awk does the arithmetic (no bc needed)
calc() { awk "BEGIN { $1 }"; }
isnum() { [[ ${1:-} =~ ^-?[0-9]+([.][0-9]+)?$ ]]; }
elapsed() { calc "printf \"%.3f\", $2 - $1"; } # T0 T1 -> s

# The median of whitespace-separated numbers (n/a if none), with six decimals (median) or as
# given (median_plain: the middle one as written, the mean of the two middle ones as awk prints
# numbers, to six significant digits).
median() { median_in_format "%.6f" "${1:-}"; }
median_plain() { median_in_format "" "${1:-}"; }
median_in_format() {
  awk -v f="$1" -v s="${2:-}" 'BEGIN {
    n = split(s, a, " ")
    if (n == 0) { print "n/a"; exit }
    for (i = 2; i <= n; i++) { v = a[i]; j = i - 1; while (j > 0 && a[j] + 0 > v + 0) { a[j+1] = a[j]; j-- } a[j+1] = v }
    m = n % 2 ? a[(n + 1) / 2] : (a[n/2] + a[n/2 + 1]) / 2
    if (f == "") print m; else printf f "\n", m
  }'
}

# Number formatting; n/a (or anything not a number) passes through as n/a.
f0() { isnum "${1:-}" && calc "printf \"%.0f\", $1" || printf 'n/a'; }
f1() { isnum "${1:-}" && calc "printf \"%.1f\", $1" || printf 'n/a'; }
f2() { isnum "${1:-}" && calc "printf \"%.2f\", $1" || printf 'n/a'; }
f3() { isnum "${1:-}" && calc "printf \"%.3f\", $1" || printf 'n/a'; }
mib() { isnum "${1:-}" && calc "printf \"%.1f\", $1 / 1024" || printf 'n/a'; } # KiB -> MiB
# A / B with DIGITS decimals (default 2); n/a unless both are numbers and B > 0.
ratio() {
  if isnum "${1:-}" && isnum "${2:-}" && calc "exit !($2 > 0)"; then
    calc "printf \"%.${3:-2}f\", $1 / $2"
  else
    printf 'n/a'
  fi
}
# BYTES (an awk expression) moved in SECONDS -> whole MiB/s.
mbps() { calc "printf \"%.0f\", ($1) / 1048576 / ($2)"; }

# ---------------------------------------------------------------- reports
# A line of the report being written to RPT.
r() { printf '%s\n' "$*" >>"$RPT"; }
# A note for the report's Notes section (the caller declares NOTES=()), also logged.
note() {
  NOTES+=("$*")
  log "note: $*"
}
# Text made safe for one Markdown table cell.
md_clean() { tr '\n`|' ' ' | cut -c1-400; }
# The Notes section ends the report, which is then copied to OUT and printed.
finish_report() {
  local n
  r "## Notes"
  r ""
  if [ ${#NOTES[@]} -eq 0 ]; then r "None: every run succeeded."; else for n in "${NOTES[@]}"; do r "- $n"; done; fi
  mkdir -p "$(dirname "$OUT")"
  cp "$RPT" "$OUT"
  cat "$RPT"
  log "report written to $OUT"
}
# A command line quoted for the report: the work dir shows as $WORK, the binary as VIDPROC_SHOWN,
# and any argument under OUTS (when set) as OUT.
showcmd() {
  local a out=""
  for a in "$@"; do
    if [ -n "${OUTS:-}" ] && [[ $a == "$OUTS"/* ]]; then
      out+="OUT "
    elif [[ $a =~ ^[A-Za-z0-9_./:=+,%@-]+$ ]]; then
      out+="$a "
    elif [[ $a == *\'* && $a != *[\"\$\`\\]* ]]; then
      out+="\"$a\" "
    else
      out+="'${a//\'/\'\\\'\'}' "
    fi
  done
  out=${out% }
  out=${out//"$VIDPROC"/$VIDPROC_SHOWN} # first: the binary may be a copy in the work dir
  out=${out//"$WORK"/\$WORK}
  printf '%s\n' "$out"
}

# ---------------------------------------------------------------- timed runs
# WxH of FILE's first video stream (empty if none).
dims() { { ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=s=x:p=0 "$1" 2>/dev/null || true; } | awk 'NR==1'; }
# timed TAG CMD... : runs CMD under GNU time (and `timeout RUN_TIMEOUT`, default 3600 s), stdin
# from /dev/null; stdout/stderr/times/rc go to $LOGS/TAG.*
timed() {
  local tag=$1 rc=0; shift
  timeout --kill-after=30 "${RUN_TIMEOUT:-3600}" /usr/bin/time -f '%e %U %S %M' -o "$LOGS/$tag.time" "$@" \
    >"$LOGS/$tag.out" 2>"$LOGS/$tag.err" </dev/null || rc=$?
  echo "$rc" >"$LOGS/$tag.rc"
}
# result TAG OUTFILE : checks a finished run; sets T_WALL T_USER T_SYS T_RSS (KiB) T_CPU; 1 if it
# failed (then a note says why, with the end of its stderr)
result() {
  local tag=$1 out=$2 rc line why=""
  T_WALL=n/a T_USER=n/a T_SYS=n/a T_RSS=n/a T_CPU=n/a
  rc=$(cat "$LOGS/$tag.rc" 2>/dev/null || echo "?")
  if [ "$rc" != 0 ]; then
    why="exit status $rc"; [ "$rc" = 124 ] && why="timed out after ${RUN_TIMEOUT:-3600}s"
    [ "$rc" = 127 ] && why="exit status 127 (command not found)"
  else
    line=$(tail -n1 "$LOGS/$tag.time" 2>/dev/null || true)
    read -r T_WALL T_USER T_SYS T_RSS <<<"$line" || true
    if ! isnum "$T_WALL" || ! isnum "$T_USER" || ! isnum "$T_SYS" || ! isnum "$T_RSS"; then
      why="no GNU time record"
    elif [ ! -s "$out" ] || [ -z "$(dims "$out")" ]; then
      why="exit 0 but no readable video in the output"
    fi
  fi
  if [ -n "$why" ]; then
    T_WALL=n/a T_USER=n/a T_SYS=n/a T_RSS=n/a T_CPU=n/a
    note "\`$tag\` failed: $why; stderr tail: \`$(tail -n3 "$LOGS/$tag.err" 2>/dev/null | md_clean)\`"
    return 1
  fi
  T_CPU=$(calc "printf \"%.2f\", $T_USER + $T_SYS")
  return 0
}

# ---------------------------------------------------------------- the ffmpeg CLI doing the engine's work
# The engine's box for ffmpeg's scale filter: fitted inside WxH, never upscaled, even sizes.
ff_fit_vf() { # W H
  printf '%s\n' "scale=w='min($1,iw)':h='min($2,ih)':force_original_aspect_ratio=decrease:force_divisible_by=2"
}
# HDR (HLG or PQ) to SDR BT.709 the way the replaced system did it, with the tone mapping that
# keeps HDR from looking washed out (the same look as vidproc's): float zscale + tonemap=hable.
# A scale to the output's size follows it.
FF_TONEMAP_VF="zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"

# ---------------------------------------------------------------- phone footage
# Debian's forensics-samples-files 1080p phone clip played forwards then backwards (continuous
# motion) at 30 fps, lossless: WORK/pingpong.mkv, the source of every phone clip below. Uses
# WORK/cache and logs to LOGS/encode.log.
PHONE_CLIP_REL=usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4
make_pingpong() {
  local pp="$WORK/pingpong.mkv" clip="$WORK/cache/pkg/$PHONE_CLIP_REL"
  command -v ffmpeg >/dev/null 2>&1 || apt_install ffmpeg
  [ -s "$pp" ] && return 0
  [ -s "$clip" ] || fetch_samples_package "$WORK/cache"
  [ -s "$clip" ] || die "$PHONE_CLIP_REL not found in $DEB_NAME"
  ffmpeg -nostdin -v error -y -i "$clip" -filter_complex \
    "[0:v]trim=start=0.15,setpts=PTS-STARTPTS,fps=30,format=yuv420p,split[a][b];\
[a]trim=start_frame=1,setpts=PTS-STARTPTS[fw];[b]reverse,trim=start_frame=1,setpts=PTS-STARTPTS[bw];\
[fw][bw]concat=n=2:v=1:a=0[v]" -map '[v]' -c:v libx264 -qp 0 -preset ultrafast "$pp" \
    2>>"$LOGS/encode.log" || die "ping-pong failed (see $LOGS/encode.log)"
}

# 4K60 phone HDR made from the ping-pong clip, looped to SECS s at FPS (default 60) frames per
# second, upscaled to WxH (default 3840x2160; a portrait size turns the picture first) and
# encoded as HEVC Main10 (x265 ultrafast) in TRANSFER hlg or pq (SDR white at 203 cd/m2 for PQ,
# as BT.2408 places it). RATE is the filter that makes FPS from 30: fps (default: repeats
# pictures) or framerate (blends neighbours, so every picture differs as in real 60 fps footage).
# BITRATE (e.g. 50M, a phone's) sets the video's bitrate; without it x265's default CRF 28 makes
# about 1 Mbit/s of this smooth footage. Writes OUT once (reused when OUT.ok exists).
make_phone_hdr_clip() { # TRANSFER SECS OUT [FPS [WxH [RATE [BITRATE]]]]
  local transfer=$1 secs=$2 out=$3 fps=${4:-60} size=${5:-3840x2160} rate=${6:-fps}
  local x265 trc npl turn="" bitrate=()""
  if [ -s "$out" ] && [ -f "$out.ok" ]; then log "reusing $out"; return 0; fi
  make_pingpong
  [ "${size%x*}" -lt "${size#*x}" ] && turn="transpose=clock,"
  [ -n "${7:-}" ] && bitrate=(-b:v "$7")
  case $transfer in
    hlg) trc=arib-std-b67; npl=100; x265="transfer=arib-std-b67" ;;
    pq)
      trc=smpte2084
      npl=203
      x265="transfer=smpte2084:master-display=G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(10000000,1):max-cll=1000,400"
      ;;
    *) die "make_phone_hdr_clip: unknown transfer $transfer" ;;
  esac
  log "encoding $transfer ($size at $fps fps, HEVC Main10, x265 ultrafast, $secs s)"
  ffmpeg -nostdin -v error -y -stream_loop -1 -i "$WORK/pingpong.mkv" -t "$secs" -an \
    -vf "$rate=$fps,${turn}zscale=w=${size%x*}:h=${size#*x}:f=bicubic:tin=bt709:min=bt709:pin=bt709:rin=tv:t=$trc:p=bt2020:m=bt2020nc:r=tv:npl=$npl,format=yuv420p10le" \
    -c:v libx265 -preset ultrafast "${bitrate[@]}" \
    -x265-params "log-level=error:colorprim=bt2020:colormatrix=bt2020nc:$x265" \
    -pix_fmt yuv420p10le -color_primaries bt2020 -color_trc "$trc" -colorspace bt2020nc "$out" \
    2>>"$LOGS/encode.log" || die "encoding $transfer failed (see $LOGS/encode.log)"
  touch "$out.ok"
}
