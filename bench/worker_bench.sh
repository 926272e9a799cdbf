#!/usr/bin/env bash
# worker_bench.sh - measures the queue and the worker around the engine: what the queue costs per
# job, end-to-end throughput against two ffmpeg CLI processes, and the worker's peak memory.
# Prints a Markdown report to stdout and writes it to --out FILE.
#
# Usage: bench/worker_bench.sh [--vidproc PATH] [--out FILE] [--work DIR] [--quick]
#   --vidproc PATH  vidproc binary (default build/vidproc, relative to the repo)
#   --out FILE      report file (default bench/results/worker-<date>.md)
#   --work DIR      work dir; inputs are built once and reused (default: mktemp, removed at exit)
#   --quick         smoke run: 10 tiny jobs, 5 real videos, a 10 s input, 1 round, no idle wait
# Progress goes to stderr; stdout carries only the report.
#
# (a) queue overhead per job: 40 copies of a tiny video through `vidproc worker` with 2 slots,
#     overhead = batch wall x 2 / 40 - median of `vidproc transcode` run directly (10 runs).
# (b) throughput: 10 short real videos through the worker (2 slots) vs two ffmpeg CLI processes
#     (xargs -P 2) with the engine's settings, and with those settings fitted to what the engine
#     outputs (no upscaling, timestamps kept); 2 alternating rounds, medians and the ratios.
# (c) peak memory: the summed RSS of the worker and all its descendants, sampled every 100 ms,
#     while two 30 s 1080p inputs are turned into 720p at once (target: at most 600 MB).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=worker_bench

VIDPROC_SHOWN=build/vidproc
VIDPROC="$REPO/build/vidproc"
WORK=""
OUT=""
QUICK=0

while [ $# -gt 0 ]; do
  case $1 in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC_SHOWN=$OPT_VALUE; VIDPROC=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --quick) QUICK=1; shift ;;
    -h|--help) print_usage 2 11; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

SLOTS=2
NPROC=$(nproc)
THREADS_PER_JOB=$(( NPROC / SLOTS )); [ "$THREADS_PER_JOB" -ge 1 ] || THREADS_PER_JOB=1
DIRECT_RUNS=10
if [ "$QUICK" = 1 ]; then
  TINY_N=10; REAL_COPIES=1; ROUNDS=1; MEM_DUR=10
else
  TINY_N=40; REAL_COPIES=2; ROUNDS=2; MEM_DUR=30
fi
IDLE_LOAD=0.7          # wait until the 1-minute load average is below this ...
IDLE_WAIT_MAX=600      # ... for at most this many seconds ...
IDLE_CHECK=15          # ... checking this often (full runs only)
POLL_US=200000         # `vidproc status` polling period (0.2 s)
SAMPLE_US=100000       # memory sampling period (0.1 s)
BATCH_TIMEOUT=1800     # a batch that takes longer is abandoned
MEM_TARGET_MB=600
[ -n "$OUT" ] || OUT="$REPO/bench/results/worker-$(date +%Y-%m-%d).md"

# ---------------------------------------------------------------- dependencies
ensure_deps() {
  local need=()
  { command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || need+=(ffmpeg)
  command -v timeout >/dev/null 2>&1 || need+=(coreutils)
  command -v xargs >/dev/null 2>&1 || need+=(findutils)
  command -v awk >/dev/null 2>&1 || need+=(gawk)
  command -v dpkg >/dev/null 2>&1 || die "dpkg is required (Debian)"
  apt_install "${need[@]}"
}
ensure_deps
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is required (EPOCHREALTIME)"
{ [ -x "$VIDPROC" ] && [ ! -d "$VIDPROC" ]; } || die "no vidproc binary at $VIDPROC_SHOWN (build it, or pass --vidproc PATH)"
ffmpeg -hide_banner -h encoder=libx264 >/dev/null 2>&1 || die "this ffmpeg has no libx264 encoder"

# ---------------------------------------------------------------- work dir
open_work_dir vidproc-worker-bench.XXXXXX
LOGS="$WORK/logs"; RUNS="$WORK/runs"; RUNDIR="$WORK/cwd"
rm -rf "$LOGS" "$RUNS" "$RUNDIR"
mkdir -p "$LOGS" "$RUNS" "$RUNDIR"   # RUNDIR: vidproc's working directory, so no .env is read
RPT="$WORK/report.md.part"
: >"$RPT"

WPID=""                               # the running worker, if any
cleanup() {
  if [ -n "$WPID" ] && kill -0 "$WPID" 2>/dev/null; then
    kill -TERM "$WPID" 2>/dev/null || true
    sleep 1
    kill -KILL "$WPID" 2>/dev/null || true
  fi
  remove_auto_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- small helpers
minmax() { awk -v s="${1:-}" 'BEGIN { n = split(s, a, " "); if (!n) { print "n/a"; exit }
  lo = hi = a[1] + 0; for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
  printf "%.3f–%.3f\n", lo, hi }'; }
ms_of() { isnum "${1:-}" && calc "printf \"%.1f\", $1 * 1000" || printf 'n/a'; }   # s -> ms
load1() { cut -d' ' -f1 /proc/loadavg; }
# Other processes' CPU use while a part ran: the machine's busy CPU time (/proc/stat) minus this
# script's own and its reaped descendants' (bash `times`). cpu_mark starts a part; cpu_foreign
# KEY ends it and records "X s of other processes (P% of the cores), steal S s" in FOREIGN[KEY].
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
declare -A FOREIGN=()
cpu_sample() { # sets CS_BUSY CS_STEAL (s, machine) CS_OURS (s, this script + reaped children) CS_T
  local _c u n sy irq sirq st rest t1 t2 t3 t4
  read -r _c u n sy _ _ irq sirq st rest </proc/stat
  CS_BUSY=$(( u + n + sy + irq + sirq )); CS_STEAL=${st:-0}
  times >"$LOGS/times"        # in this shell: a subshell's `times` would not see our children
  read -r t1 t2 t3 t4 < <(tr "\n" " " <"$LOGS/times") || true   # no final newline
  CS_OURS=$(awk -v a="$t1 $t2 $t3 $t4" 'BEGIN { n = split(a, v, " "); s = 0
    for (i = 1; i <= n; i++) { split(v[i], p, "m"); sub(/s$/, "", p[2]); s += p[1] * 60 + p[2] } printf "%.3f", s }')
  CS_T=$EPOCHREALTIME
}
cpu_mark() { cpu_sample; CM_BUSY=$CS_BUSY; CM_STEAL=$CS_STEAL; CM_OURS=$CS_OURS; CM_T=$CS_T; }
cpu_foreign() {
  cpu_sample
  FOREIGN[$1]=$(awk -v b=$((CS_BUSY - CM_BUSY)) -v st=$((CS_STEAL - CM_STEAL)) -v hz="$HZ" \
    -v o="$(calc "print $CS_OURS - $CM_OURS")" -v t="$(calc "print $CS_T - $CM_T")" -v c="$NPROC" 'BEGIN {
      f = b / hz - o; if (f < 0) f = 0
      printf "%.1f s (%.0f%% of %d cores over %.0f s), steal %.1f s", f, (t > 0 ? 100 * f / (t * c) : 0), c, t, st / hz }')
  FOREIGN_PCT[$1]=$(awk -v s="${FOREIGN[$1]}" 'BEGIN { if (match(s, /\(([0-9]+)%/)) print substr(s, RSTART + 1, RLENGTH - 2) + 0; else print 0 }')
}
declare -A FOREIGN_PCT=()
NOTES=()

# ---------------------------------------------------------------- vidproc, isolated
# vidproc runs with only these variables (no VIDPROC_DATABASE_URL, VIDPROC_* or .env of the caller's),
# with the production defaults spelled out, in a working directory of its own.
VP_ENV=(PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 LOG_FORMAT=json LOG_LEVEL=info
        "MAX_VIDEO_PROCESSING_TASKS=$SLOTS" VIDPROC_PRESET=veryfast VIDPROC_VIDEO_BITRATE=1500k
        VIDPROC_MAX_SIZE=1280x720)
vp() { # DATADIR ARGS... : runs vidproc on that data dir
  local data=$1; shift
  (cd "$RUNDIR" && exec env -i "${VP_ENV[@]}" "VIDPROC_DATA_DIR=$data" "$VIDPROC" "$@")
}
# The command line a worker slot gives its child (src/worker/job_runner.cc), for direct runs.
direct_cmd() { # IN OUTDIR
  C=("$VIDPROC" transcode "$1" "$2/video.mp4" --thumbnail "$2/thumbnail.jpg" --progress json
     --threads "$THREADS_PER_JOB" --preset veryfast --bitrate 1500k --max-size 1280x720)
}
# The ffmpeg CLI baseline. "spec": the engine's settings as the issue gives them. "fit": the same,
# but never upscaling and keeping the input's timestamps (-fps_mode passthrough), which is what
# the engine does: the same output sizes and frame counts as vidproc's.
FF_VF_SPEC=scale=w=1280:h=720:force_original_aspect_ratio=decrease:force_divisible_by=2
FF_VF_FIT="scale=w='min(1280,iw)':h='min(720,ih)':force_original_aspect_ratio=decrease:force_divisible_by=2"
ff_cmd() { # IN OUT spec|fit
  local vf=$FF_VF_SPEC extra=()
  if [ "$3" = fit ]; then vf=$FF_VF_FIT; extra=(-fps_mode passthrough); fi
  C=(ffmpeg -nostdin -y -v error -i "$1" -vf "$vf" "${extra[@]}"
     -c:v libx264 -preset veryfast -b:v 1500k -maxrate 2250k -bufsize 3000k
     -c:a aac -b:a 128k -movflags +faststart "$2")
}
# ff_script KIND: the `sh -c` script xargs runs: the ffmpeg command with $1 = input, $2 = output;
# a non-zero exit is named on stderr as "ffmpeg exit N: FILE".
ff_script() {
  local a
  FF_SCRIPT=""
  ff_cmd IN OUT "$1"
  for a in "${C[@]}"; do
    # shellcheck disable=SC2016  # $1 and $2 are sh -c's arguments
    case $a in
      IN) FF_SCRIPT+=' "$1"' ;;
      OUT) FF_SCRIPT+=' "$2"' ;;
      *) if [[ $a =~ ^[A-Za-z0-9_./:=+,-]+$ ]]; then FF_SCRIPT+=" $a"; else FF_SCRIPT+=" \"$a\""; fi ;;
    esac
  done
  # shellcheck disable=SC2016
  FF_SCRIPT+=' || { rc=$?; echo "ffmpeg exit $rc: ${1##*/}" >&2; exit "$rc"; }'
}
out_desc() { # MP4 -> "WxH, N frames, D s": its video stream, and the file's (container) duration
  local wh n d
  wh=$({ ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=s=x:p=0 "$1" 2>/dev/null || true; } | awk 'NR==1')
  n=$({ ffprobe -v error -select_streams v:0 -show_entries stream=nb_frames -of default=nw=1:nk=1 "$1" 2>/dev/null || true; } | awk 'NR==1')
  d=$({ ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$1" 2>/dev/null || true; } | awk 'NR==1')
  if [ -n "$wh" ]; then printf '%s, %s frames, %s s' "$wh" "${n:-?}" "$(f1 "$d")"; else printf 'unreadable'; fi
}
vp_out_desc() { # DATADIR ID -> the same for a ready video: its stored file if on this disk, else `status`
  local f
  f=$(find "$1/storage" -path "*/$2/video.mp4" -print -quit 2>/dev/null || true)
  if [ -n "$f" ]; then out_desc "$f"; return; fi
  # `--`: an id may start with "-" (NewId() draws from A-Z a-z 0-9 - _)
  { vp "$1" status -- "$2" 2>>"$LOGS/status.err" || true; } | awk '
    /^  "status":/ {st = $2; gsub(/[",]/, "", st)}
    /^  "output": \{/ {o = 1; next} o && /^  \}/ {o = 0}
    o && /^    "width":/ {w = $2 + 0} o && /^    "height":/ {h = $2 + 0} o && /^    "duration_s":/ {d = $2 + 0}
    END {if (st == "ready") printf "%dx%d, ? frames, %.1f s", w, h, d; else printf "%s", (st ? st : "?")}'
}

# Counts from `vidproc status`: sets Q_UPLOADING Q_QUEUED Q_PROC Q_READY Q_FAILED; 1 on failure.
# shellcheck disable=SC2034  # Q_UPLOADING is kept for completeness
counts() {
  local out
  out=$(vp "$1" status 2>>"$LOGS/status.err") || return 1
  read -r Q_UPLOADING Q_QUEUED Q_PROC Q_READY Q_FAILED < <(awk '
    /^  "uploading":/ {u = $2 + 0} /^  "queued":/ {q = $2 + 0} /^  "processing":/ {p = $2 + 0}
    /^  "ready":/ {r = $2 + 0} /^  "failed":/ {f = $2 + 0}
    END {print u + 0, q + 0, p + 0, r + 0, f + 0}' <<<"$out")
}

# Summed VmRSS (KiB) of PID and all its descendants: sets TREE_RSS, TREE_PSS (the same with shared
# pages divided among their users, from smaps_rollup), TREE_N, ROOT_RSS, and keeps the largest
# VmHWM seen per process in HWM[]. Bash builtins only: no process per sample.
declare -A HWM=()
tree_rss() {
  local root=$1 f line rest p k v i=0
  local -A kids=()
  local -a fields queue=("$root")
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    rest=${line##*) }                      # after the command name: state ppid ...
    read -r -a fields <<<"$rest"
    kids[${fields[1]}]+=" ${line%% *}"
  done
  while [ "$i" -lt "${#queue[@]}" ]; do
    p=${queue[$i]}; i=$((i + 1))
    # shellcheck disable=SC2206  # word splitting wanted: a list of pids
    [ -n "${kids[$p]:-}" ] && queue+=(${kids[$p]})
  done
  TREE_RSS=0; TREE_PSS=0; TREE_N=0; ROOT_RSS=0
  for p in "${queue[@]}"; do
    local rss="" hwm="" pss=""
    { while read -r k v _; do
        case $k in VmHWM:) hwm=$v ;; VmRSS:) rss=$v; break ;; esac
      done <"/proc/$p/status"; } 2>/dev/null || continue
    [ -n "$rss" ] || continue
    { while read -r k v _; do
        [ "$k" = Pss: ] && { pss=$v; break; }
      done <"/proc/$p/smaps_rollup"; } 2>/dev/null || true
    TREE_RSS=$((TREE_RSS + rss)); TREE_PSS=$((TREE_PSS + ${pss:-0})); TREE_N=$((TREE_N + 1))
    [ "$p" = "$root" ] && ROOT_RSS=$rss
    if [ -n "$hwm" ] && [ "$hwm" -gt "${HWM[$p]:-0}" ]; then HWM[$p]=$hwm; fi
  done
}

# Microseconds since the epoch, without a subprocess: NOW_US; and back to "s.uuuuuu" in a variable.
now_us() { NOW_US=${EPOCHREALTIME/[!0-9]/}; }
us_to_s() { printf -v "$1" '%d.%06d' $(( $2 / 1000000 )) $(( $2 % 1000000 )); }
ts_to_s() { date -u -d "$1" +%s.%3N; }   # a log line's "ts" -> seconds since the epoch

start_worker() { # DATADIR LOG
  (cd "$RUNDIR" && exec env -i "${VP_ENV[@]}" "VIDPROC_DATA_DIR=$1" "$VIDPROC" worker) >/dev/null 2>"$2" &
  WPID=$!
}
stop_worker() {
  [ -n "$WPID" ] || return 0
  kill -TERM "$WPID" 2>/dev/null || true
  local rc=0
  wait "$WPID" || rc=$?
  [ "$rc" = 0 ] || note "the worker exited with status $rc after SIGTERM"
  WPID=""
}

# run_batch DATADIR N TAG [SAMPLE_MEMORY]: starts the worker on a data dir holding N queued jobs,
# waits until all are ready or failed, stops it. Sets B_T0 (the worker's start, s since the epoch),
# B_WALL (start -> `vidproc status` shows all done, s), B_LOGEND (start -> the last "ready" in the
# worker log, s), B_READY, B_FAILED; with SAMPLE_MEMORY=1 also M_PEAK, M_PEAK_PSS (KiB), M_PEAK_N, M_PEAK_ROOT,
# M_SAMPLES, M_HWMSUM. Returns 1 if the batch did not finish with every job ready.
run_batch() {
  local data=$1 n=$2 tag=$3 mem=${4:-0} wlog="$LOGS/$3.worker.log"
  local t0 next end period_us=$POLL_US last_poll=0 d p last_ts
  B_WALL=n/a; B_LOGEND=n/a; B_READY=0; B_FAILED=0
  M_PEAK=0; M_PEAK_PSS=0; M_PEAK_N=0; M_PEAK_ROOT=0; M_SAMPLES=0; M_HWMSUM=0; HWM=()
  [ "$mem" = 1 ] && period_us=$SAMPLE_US
  now_us; t0=$NOW_US; us_to_s B_T0 "$t0"
  start_worker "$data" "$wlog"
  next=$t0
  while :; do
    next=$((next + period_us))
    now_us
    if [ "$NOW_US" -lt "$next" ]; then us_to_s d $((next - NOW_US)); sleep "$d"; fi
    if [ "$mem" = 1 ]; then
      tree_rss "$WPID"
      M_SAMPLES=$((M_SAMPLES + 1))
      if [ "$TREE_RSS" -gt "$M_PEAK" ]; then M_PEAK=$TREE_RSS; M_PEAK_N=$TREE_N; M_PEAK_ROOT=$ROOT_RSS; fi
      [ "$TREE_PSS" -gt "$M_PEAK_PSS" ] && M_PEAK_PSS=$TREE_PSS
      now_us                                  # the queue is asked every 0.5 s while sampling
      [ $((NOW_US - last_poll)) -ge 500000 ] || continue
      last_poll=$NOW_US
    fi
    if ! kill -0 "$WPID" 2>/dev/null; then
      note "\`$tag\`: the worker exited early; log tail: \`$(tail -n3 "$wlog" | md_clean)\`"
      WPID=""; return 1
    fi
    if counts "$data" && [ $((Q_READY + Q_FAILED)) -ge "$n" ]; then
      now_us; end=$NOW_US
      break
    fi
    now_us
    if [ $((NOW_US - t0)) -gt $((BATCH_TIMEOUT * 1000000)) ]; then
      note "\`$tag\`: not finished after ${BATCH_TIMEOUT}s (${Q_QUEUED:-?} queued, ${Q_PROC:-?} processing, ${Q_READY:-?} ready, ${Q_FAILED:-?} failed of $n)"
      stop_worker; return 1
    fi
  done
  us_to_s B_WALL $((end - t0)); B_READY=$Q_READY; B_FAILED=$Q_FAILED
  stop_worker
  if [ "$mem" = 1 ]; then
    for p in "${!HWM[@]}"; do M_HWMSUM=$((M_HWMSUM + HWM[$p])); done
  fi
  last_ts=$(grep '"msg":"ready"' "$wlog" | grep -o '"ts":"[^"]*"' | cut -d'"' -f4 | sort | tail -n1 || true)
  [ -n "$last_ts" ] && B_LOGEND=$(elapsed "$B_T0" "$(ts_to_s "$last_ts")")
  if [ "$B_FAILED" -gt 0 ]; then
    note "\`$tag\`: $B_FAILED of $n jobs failed: \`$(grep '"msg":"failed"' "$wlog" | head -n2 | md_clean)\`"
    return 1
  fi
  return 0
}
# Numbers from the worker log's "ready" lines: FIELD -> space-separated values
ready_field() { grep '"msg":"ready"' "$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2 | tr -d '"' | tr '\n' ' '; }
started_first() { grep '"msg":"started"' "$1" | grep -o '"ts":"[^"]*"' | cut -d'"' -f4 | sort | head -n1; }

enqueue() { # DATADIR TAG FILES... -> ids in $LOGS/TAG.ids; sets E_WALL
  local data=$1 tag=$2 t0; shift 2
  mkdir -p "$data"
  t0=$EPOCHREALTIME
  vp "$data" enqueue "$@" >"$LOGS/$tag.ids" 2>"$LOGS/$tag.enqueue.log" \
    || die "enqueue failed ($tag): $(tail -n3 "$LOGS/$tag.enqueue.log")"
  E_WALL=$(elapsed "$t0" "$EPOCHREALTIME")
  [ "$(wc -l <"$LOGS/$tag.ids")" -eq $# ] || die "enqueue ($tag) printed $(wc -l <"$LOGS/$tag.ids") ids for $# files"
}

# ---------------------------------------------------------------- machine and inputs
BENCH_T0=$SECONDS
DATE_HUMAN=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo); CPU_MODEL=${CPU_MODEL:-unknown}
MEM_TOTAL=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
# shellcheck disable=SC1091
OS_NAME=$( (. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-unknown}") || echo unknown)
FFMPEG_VERSION=$(ffmpeg -version 2>/dev/null | awk 'NR==1' || true)
VP_VERSION=$(timeout 20 "$VIDPROC" --version 2>&1 </dev/null | md_clean || true)
WORK_FS=$(df -PT "$WORK" 2>/dev/null | awk 'NR==2 {print $2}' || true)

CACHE="$WORK/cache"
PKG_DIR=usr/share/forensics-samples/original-files
CLIP_1080=movie1/VID_20191220_170832.mp4
REAL_NAMES=("$CLIP_1080" movie2/movie-hello.mp4 movie2/movie-hello.avi movie2/movie-hello.ogg movie2/movie-hello.mpeg)
fetch_samples() {
  [ -s "$CACHE/pkg/$PKG_DIR/$CLIP_1080" ] && [ -s "$CACHE/pkg/$PKG_DIR/movie2/movie-hello.mpeg" ] && return 0
  fetch_samples_package "$CACHE"
}
fetch_samples
debs=("$CACHE"/forensics-samples-files_*.deb); DEB_NAME=$(basename "${debs[0]}")
for nm in "${REAL_NAMES[@]}"; do [ -s "$CACHE/pkg/$PKG_DIR/$nm" ] || die "$PKG_DIR/$nm not found in $DEB_NAME"; done

describe() { # FILE -> one line: container, codecs, size, duration
  ffprobe -v error -show_entries stream=codec_name,width,height:format=format_name,duration \
    -of default=nw=1 "$1" 2>/dev/null | awk -F= '
    $1 == "codec_name" {c = c (c ? "+" : "") $2} $1 == "width" && $2 != "" {w = $2} $1 == "height" && $2 != "" {h = $2}
    $1 == "format_name" {f = $2} $1 == "duration" {d = $2}
    END {printf "%s, %s, %sx%s, %.2f s", f, c, w, h, d}'
}

# The tiny video: 0.2 s of 320x180 testsrc2, H.264 + AAC.
TINY="$WORK/tiny-320x180-0.2s.mp4"
TINY_CMD=(ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x180:rate=30
          -f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.2
          -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 64k -movflags +faststart "$TINY")
if [ ! -s "$TINY" ]; then log "making the tiny video"; "${TINY_CMD[@]}" 2>"$LOGS/tiny.err" || die "tiny video: $(tail -n3 "$LOGS/tiny.err")"; fi

# The memory input: the 1.6 s 1080p clip looped to MEM_DUR seconds.
MEMIN="$WORK/input-1080p-${MEM_DUR}s.mp4"
MEMIN_CMD=(ffmpeg -nostdin -v error -y -stream_loop -1 -i "$CACHE/pkg/$PKG_DIR/$CLIP_1080" -t "$MEM_DUR"
           -c:v libx264 -crf 18 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k -movflags +faststart "$MEMIN")
MEMIN_BUILT="reused"
if [ ! -s "$MEMIN" ] || [ ! -f "$MEMIN.ok" ]; then
  log "making the ${MEM_DUR}s 1080p input"
  t=$SECONDS
  mi=("${MEMIN_CMD[@]}"); mi[${#mi[@]}-1]="$WORK/memin.part.mp4"
  "${mi[@]}" 2>"$LOGS/memin.err" || die "1080p input: $(tail -n3 "$LOGS/memin.err")"
  mv "$WORK/memin.part.mp4" "$MEMIN"; touch "$MEMIN.ok"
  MEMIN_BUILT="built in $((SECONDS - t)) s"
fi

# The real batch: each clip REAL_COPIES times.
REAL=()
for _ in $(seq 1 "$REAL_COPIES"); do for nm in "${REAL_NAMES[@]}"; do REAL+=("$CACHE/pkg/$PKG_DIR/$nm"); done; done
REAL_N=${#REAL[@]}

# ---------------------------------------------------------------- wait for an idle machine
LOAD_BEFORE_WAIT=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_RESULT="skipped (--quick)"
if [ "$QUICK" = 0 ]; then
  waited=0
  while calc "exit !($(load1) >= $IDLE_LOAD)"; do
    if [ "$waited" -ge "$IDLE_WAIT_MAX" ]; then break; fi
    log "1-minute load $(load1) >= $IDLE_LOAD; waiting ($waited s of at most $IDLE_WAIT_MAX s)"
    sleep "$IDLE_CHECK"; waited=$((waited + IDLE_CHECK))
  done
  if calc "exit !($(load1) < $IDLE_LOAD)"; then
    IDLE_RESULT="idle (load $(load1) < $IDLE_LOAD) after waiting $waited s"
  else
    IDLE_RESULT="**not idle**: load still $(load1) after waiting $waited s; measured anyway"
    note "the machine did not become idle (1-minute load $(load1) after ${waited}s): timings are noisy"
  fi
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
MEASURE_T0=$SECONDS
log "work dir $WORK; vidproc $VIDPROC_SHOWN; load $LOAD_START"

# ---------------------------------------------------------------- (a) queue overhead per job
SECTION_LOADS="(a) $(load1)"
cpu_mark
log "(a) $DIRECT_RUNS direct \`vidproc transcode\` runs of the tiny video"
DIRECT=""
DIRECT_PATH=n/a
mkdir -p "$RUNS/direct"
for i in $(seq 1 "$DIRECT_RUNS"); do
  d="$RUNS/direct/$i"; mkdir -p "$d"
  direct_cmd "$TINY" "$d"
  t0=$EPOCHREALTIME
  rc=0; (cd "$RUNDIR" && exec env -i "${VP_ENV[@]}" "${C[@]}") >"$LOGS/direct-$i.out" 2>"$LOGS/direct-$i.err" </dev/null || rc=$?
  t1=$EPOCHREALTIME
  if [ "$rc" = 0 ] && [ -s "$d/video.mp4" ]; then
    DIRECT+=" $(elapsed "$t0" "$t1")"
    [ "$i" = 1 ] && DIRECT_PATH=$(tail -n1 "$LOGS/direct-$i.out" | grep -o '"path":"[a-z]*"' | head -n1 | cut -d'"' -f4)
  else
    note "direct run $i failed (exit $rc): \`$(tail -n3 "$LOGS/direct-$i.err" | md_clean)\`"
  fi
  rm -rf "$d"
done
CMD_DIRECT=$(direct_cmd "$TINY" OUTDIR; showcmd "${C[@]}")
DIRECT_MED=$(median "$DIRECT")

log "(a) $TINY_N tiny jobs through \`vidproc worker\` with $SLOTS slots"
A_DATA="$RUNS/tiny/data"
TINY_ARGS=(); for i in $(seq 1 "$TINY_N"); do TINY_ARGS+=("$TINY"); done
enqueue "$A_DATA" tiny "${TINY_ARGS[@]}"
A_ENQ=$E_WALL
A_OK=1
run_batch "$A_DATA" "$TINY_N" tiny || A_OK=0
A_WALL=$B_WALL; A_LOGEND=$B_LOGEND; A_READY=$B_READY
A_FIRST=$(started_first "$LOGS/tiny.worker.log")
A_JOB_S=$(median "$(ready_field "$LOGS/tiny.worker.log" seconds)")
A_ENGINE_S=$(median "$(ready_field "$LOGS/tiny.worker.log" transcode_s)")
A_PATHS=$(ready_field "$LOGS/tiny.worker.log" path | tr ' ' '\n' | sort | uniq -c | awk 'NF {printf "%s%s x%s", sep, $2, $1; sep = ", "}')
A_OVER=n/a; A_OVER_LOG=n/a; A_PERJOB=n/a; A_PERJOB_LOG=n/a
if [ "$A_OK" = 1 ] && isnum "$DIRECT_MED"; then
  A_PERJOB=$(calc "printf \"%.6f\", $A_WALL * $SLOTS / $TINY_N")
  A_OVER=$(calc "printf \"%.6f\", $A_PERJOB - $DIRECT_MED")
  if isnum "$A_LOGEND"; then
    A_PERJOB_LOG=$(calc "printf \"%.6f\", $A_LOGEND * $SLOTS / $TINY_N")
    A_OVER_LOG=$(calc "printf \"%.6f\", $A_PERJOB_LOG - $DIRECT_MED")
  fi
fi
A_STARTUP=n/a
[ -n "$A_FIRST" ] && A_STARTUP=$(elapsed "$B_T0" "$(ts_to_s "$A_FIRST")")

# ---------------------------------------------------------------- (b) throughput vs ffmpeg
log "(b) $REAL_N real videos: vidproc worker ($SLOTS slots) vs ffmpeg (xargs -P $SLOTS), $ROUNDS round(s)"
declare -A WALLS=() OUTD=() OUTSUM=() FFRC=()
VP_ENQ=""
sum_dur() { awk '{split($0, a, ", "); sub(/ s$/, "", a[3]); t += a[3]} END {printf "%.1f", t}'; }   # "WxH, N frames, D s" lines
ff_batch() { # KIND ROUND
  local kind=$1 r=$2 od="$RUNS/ff-$1-r$2" pairs=() i=0 f t0 t1 rc=0 bad=0 j
  mkdir -p "$od"
  for f in "${REAL[@]}"; do i=$((i + 1)); pairs+=("$f" "$od/$i.mp4"); done
  ff_script "$kind"
  log "  round $r: ffmpeg ($kind)"
  t0=$EPOCHREALTIME
  printf '%s\0' "${pairs[@]}" | xargs -0 -n 2 -P "$SLOTS" sh -c "$FF_SCRIPT" sh 2>"$LOGS/ff-$kind-r$r.err" || rc=$?
  t1=$EPOCHREALTIME
  for ((j = 1; j <= REAL_N; j++)); do [ "$(out_desc "$od/$j.mp4")" != unreadable ] || bad=$((bad + 1)); done
  if [ "$bad" = 0 ]; then
    WALLS[$kind]+=" $(elapsed "$t0" "$t1")"
    # a non-zero exit with every output written is reported, not counted as a failure
    [ "$rc" = 0 ] || FFRC[$kind]="$(grep '^ffmpeg exit' "$LOGS/ff-$kind-r$r.err" | sort | uniq -c | awk '{$1 = $1 "x"; print}' | paste -sd ';' - | md_clean) (outputs written; stderr: \`$(grep -v '^ffmpeg exit' "$LOGS/ff-$kind-r$r.err" | head -n2 | md_clean)\`)"
  else
    note "ffmpeg ($kind) round $r failed: $bad outputs missing or unreadable (xargs exit $rc): \`$(tail -n3 "$LOGS/ff-$kind-r$r.err" | md_clean)\`"
  fi
  if [ "$r" = 1 ]; then
    for ((j = 1; j <= REAL_N; j++)); do OUTD[$kind.$j]=$(out_desc "$od/$j.mp4"); done
    OUTSUM[$kind]=$(for ((j = 1; j <= REAL_N; j++)); do printf '%s\n' "${OUTD[$kind.$j]}"; done | sum_dur)
  fi
  rm -rf "$od"
}
cpu_foreign a
FOREIGN_KEYS=(a)
for r in $(seq 1 "$ROUNDS"); do
  SECTION_LOADS+=", (b) round $r $(load1)"
  cpu_mark
  data="$RUNS/real-r$r/data"
  enqueue "$data" "real-r$r" "${REAL[@]}"
  VP_ENQ+=" $E_WALL"
  log "  round $r: vidproc"
  if run_batch "$data" "$REAL_N" "real-r$r"; then WALLS[vp]+=" $B_WALL"; fi
  if [ "$r" = 1 ]; then
    j=0
    while read -r id; do j=$((j + 1)); OUTD[vp.$j]=$(vp_out_desc "$data" "$id"); done <"$LOGS/real-r1.ids"
    OUTSUM[vp]=$(for ((j = 1; j <= REAL_N; j++)); do printf '%s\n' "${OUTD[vp.$j]}"; done | sum_dur)
    B_JOB_S=$(ready_field "$LOGS/real-r1.worker.log" seconds)
    B_ENGINE_S=$(ready_field "$LOGS/real-r1.worker.log" transcode_s)
  fi
  rm -rf "$RUNS/real-r$r"
  ff_batch spec "$r"
  ff_batch fit "$r"
  cpu_foreign "b round $r"; FOREIGN_KEYS+=("b round $r")
done
VP_MED=$(median "${WALLS[vp]:-}"); FF_MED=$(median "${WALLS[spec]:-}"); FIT_MED=$(median "${WALLS[fit]:-}")
B_RATIO=$(ratio "$VP_MED" "$FF_MED" 3); B_RATIO_FIT=$(ratio "$VP_MED" "$FIT_MED" 3)
ff_cmd IN OUT spec; CMD_FF=$(showcmd "${C[@]}")
ff_cmd IN OUT fit; CMD_FIT=$(showcmd "${C[@]}")

# ---------------------------------------------------------------- (c) peak memory
SECTION_LOADS+=", (c) $(load1)"
cpu_mark
log "(c) peak memory: two ${MEM_DUR}s 1080p jobs at once"
C_DATA="$RUNS/mem/data"
enqueue "$C_DATA" mem "$MEMIN" "$MEMIN"
C_OK=1
run_batch "$C_DATA" 2 mem 1 || C_OK=0
C_WALL=$B_WALL
C_PEAK=$M_PEAK; C_PEAK_PSS=$M_PEAK_PSS; C_PEAK_N=$M_PEAK_N; C_PEAK_ROOT=$M_PEAK_ROOT; C_SAMPLES=$M_SAMPLES; C_HWMSUM=$M_HWMSUM
C_DIMS=$(ready_field "$LOGS/mem.worker.log" width | awk '{print $1}')x$(ready_field "$LOGS/mem.worker.log" height | awk '{print $1}')
C_ENGINE_S=$(ready_field "$LOGS/mem.worker.log" transcode_s)
[ "$C_OK" = 1 ] || { C_PEAK=n/a; C_PEAK_PSS=n/a; C_HWMSUM=n/a; }
mb() { isnum "${1:-}" && calc "printf \"%.1f\", $1 * 1024 / 1000000" || printf 'n/a'; }
C_VERDICT=n/a
if isnum "$C_PEAK"; then
  if calc "exit !($C_PEAK * 1024 / 1000000 <= $MEM_TARGET_MB)"; then C_VERDICT=met; else C_VERDICT="**not met**"; fi
fi
rm -rf "$RUNS/mem"
cpu_foreign c; FOREIGN_KEYS+=(c)
FOREIGN_SHOWN=""
for k in "${FOREIGN_KEYS[@]}"; do
  FOREIGN_SHOWN+="${FOREIGN_SHOWN:+; }($k) ${FOREIGN[$k]}"
  [ "${FOREIGN_PCT[$k]:-0}" -lt 5 ] || note "other processes used ${FOREIGN[$k]} during ($k): those numbers are skewed; re-run on a quiet machine"
done

# ---------------------------------------------------------------- report
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH_S=$((SECONDS - BENCH_T0)); MEASURE_S=$((SECONDS - MEASURE_T0))
MODE=full; [ "$QUICK" = 1 ] && MODE="quick (smoke run)"

r "# vidproc worker benchmark: queue overhead, throughput vs ffmpeg, peak memory"
r ""
r "| | |"
r "|---|---|"
r "| date | $DATE_HUMAN |"
r "| mode | $MODE: $TINY_N tiny jobs, $REAL_N real videos x $ROUNDS round(s), ${MEM_DUR} s 1080p input |"
r "| machine | nproc=$NPROC, CPU: $CPU_MODEL, RAM $MEM_TOTAL, $OS_NAME; work dir on ${WORK_FS:-?} |"
r "| idle wait | $IDLE_RESULT (load before waiting: $LOAD_BEFORE_WAIT) |"
r "| load average (1/5/15 min) | at start $LOAD_START, at end $LOAD_END (the benchmark's own encoder threads count in it) |"
r "| 1-minute load as each part started | $SECTION_LOADS |"
r "| CPU used by other processes (machine busy time − this benchmark's processes) | $FOREIGN_SHOWN |"
r "| ffmpeg | \`$FFMPEG_VERSION\` |"
r "| vidproc | \`$VIDPROC_SHOWN\`, \`$VP_VERSION\` |"
r "| worker settings | MAX_VIDEO_PROCESSING_TASKS=$SLOTS (each job \`--threads $THREADS_PER_JOB\`), veryfast, 1500k, 1280x720; a fresh VIDPROC_DATA_DIR per batch |"
r "| bench time | ${BENCH_S} s (measurements ${MEASURE_S} s; 1080p input $MEMIN_BUILT) |"
r ""
if calc "exit !(${LOAD_START%% *} >= $IDLE_LOAD)"; then
  r "> Note: the 1-minute load average was ${LOAD_START%% *} when the measurements started: something else used the CPU, so timings are noisy."
  r ""
fi
r "## Summary"
r ""
r "| measure | value | |"
r "|---|---:|---|"
r "| (a) queue overhead per job (batch wall x $SLOTS / $TINY_N − direct transcode) | **$(ms_of "$A_OVER") ms** | direct transcode median $(ms_of "$DIRECT_MED") ms |"
r "| (b) end-to-end wall, $REAL_N real videos, vidproc / ffmpeg (the issue's command) | **$(f3 "$B_RATIO")x** | vidproc $(f2 "$VP_MED") s, ffmpeg $(f2 "$FF_MED") s (medians) |"
r "| (b) the same, vs ffmpeg making vidproc's outputs (no upscaling, timestamps kept) | $(f3 "$B_RATIO_FIT")x | ffmpeg $(f2 "$FIT_MED") s |"
r "| (c) peak summed RSS, worker + 2 jobs (1080p → 720p) | **$(mib "$C_PEAK") MiB** ($(mb "$C_PEAK") MB) | target ≤ $MEM_TARGET_MB MB: $C_VERDICT |"
r ""
r "## (a) Queue overhead per job"
r ""
r "Input: \`$(describe "$TINY")\` (0.2 s of testsrc2 320x180 + a sine tone), the same file enqueued $TINY_N times."
r "The engine's path for it: direct run \`${DIRECT_PATH:-n/a}\`, in the worker: ${A_PATHS:-n/a}."
r ""
r "| | |"
r "|---|---:|"
r "| direct \`vidproc transcode\`, median of $DIRECT_RUNS (min–max) | $(ms_of "$DIRECT_MED") ms ($(minmax "$DIRECT")) s |"
r "| enqueue of $TINY_N files (not timed in the batch) | $(f2 "$A_ENQ") s |"
r "| batch wall: worker start → \`vidproc status\` shows $A_READY/$TINY_N ready (0.2 s polls) | $(f3 "$A_WALL") s |"
r "| per job: batch wall x $SLOTS / $TINY_N | $(ms_of "$A_PERJOB") ms |"
r "| **overhead per job** | **$(ms_of "$A_OVER") ms** |"
r "| same, batch ending at the last \"ready\" in the worker log ($(f3 "$A_LOGEND") s: no polling granularity) | $(ms_of "$A_OVER_LOG") ms |"
r "| worker start → first job started (worker log) | $(ms_of "$A_STARTUP") ms |"
r "| median per job inside a slot: claim → ready (log \`seconds\`) | $(ms_of "$A_JOB_S") ms |"
r "| median engine time per job (log \`transcode_s\`, the child's own measure) | $(ms_of "$A_ENGINE_S") ms |"
r ""
r "Direct runs use the command line a worker slot gives its child (same options, same \`--threads\`),"
r "in the same minimal environment, one after another. Per-run seconds:${DIRECT:- n/a}."
r "The overhead is what a job costs beyond its transcoder process: claiming, the scratch directory,"
r "spawning the sandboxed child and reading its progress, storing video and thumbnail, completing the"
r "job, deleting the original, the worker's start-up, spread over the batch, plus up to one 0.2 s poll."
r ""
r "## (b) Throughput: worker with $SLOTS slots vs two ffmpeg CLI processes"
r ""
r "Batch: $REAL_N videos, the real clips of Debian's \`forensics-samples-files\` (${DEB_NAME:-cached}), each used $REAL_COPIES time(s):"
r ""
for nm in "${REAL_NAMES[@]}"; do r "- \`$nm\`: $(describe "$CACHE/pkg/$PKG_DIR/$nm")"; done
r ""
r "vidproc: the files are enqueued (not timed; $(f2 "$(median "$VP_ENQ")") s), then timed from starting the worker until"
r "\`vidproc status\` shows all $REAL_N ready (polled every 0.2 s); the worker is then stopped with SIGTERM."
r "ffmpeg: the same files, two processes at a time (\`xargs -P $SLOTS\`), default threads, each with a fresh output."
r "Two ffmpeg commands: **as given** by the issue (the engine's settings), and **fitted**: the same but never"
r "upscaling and keeping the input's timestamps (\`-fps_mode passthrough\`), as the engine does, so its outputs"
r "have vidproc's sizes and frame counts. Each round runs vidproc, ffmpeg as given, ffmpeg fitted, in that order."
r ""
r "| | vidproc worker | ffmpeg x$SLOTS, as given | ffmpeg x$SLOTS, fitted |"
r "|---|---:|---:|---:|"
r "| wall s, median of $ROUNDS | $(f2 "$VP_MED") | $(f2 "$FF_MED") | $(f2 "$FIT_MED") |"
r "| per round, s |${WALLS[vp]:- n/a} |${WALLS[spec]:- n/a} |${WALLS[fit]:- n/a} |"
r "| **vidproc / ffmpeg** | | **$(f3 "$B_RATIO")x** | **$(f3 "$B_RATIO_FIT")x** |"
r "| total duration of the outputs, s (round 1, all $REAL_N) | ${OUTSUM[vp]:-n/a} | ${OUTSUM[spec]:-n/a} | ${OUTSUM[fit]:-n/a} |"
r "| exit statuses | all 0 (jobs ready) | ${FFRC[spec]:-all 0} | ${FFRC[fit]:-all 0} |"
r ""
r "Outputs of round 1 (picture size, video frames, file duration), first copy of each input:"
r ""
r "| input | vidproc | ffmpeg, as given | ffmpeg, fitted |"
r "|---|---|---|---|"
for ((j = 1; j <= ${#REAL_NAMES[@]}; j++)); do
  r "| \`$(basename "${REAL_NAMES[$((j - 1))]}")\` | ${OUTD[vp.$j]:-n/a} | ${OUTD[spec.$j]:-n/a} | ${OUTD[fit.$j]:-n/a} |"
done
r ""
r "vidproc per job (round 1, worker log), claim → ready s:${B_JOB_S:- n/a}; engine s:${B_ENGINE_S:- n/a}."
r ""
r "## (c) Peak memory: worker + two 1080p → 720p jobs"
r ""
r "Input: \`$(describe "$MEMIN")\`, the 1.6 s 1080p clip looped (\`-stream_loop -1 -t $MEM_DUR\`, libx264 crf 18 veryfast), enqueued twice."
r "Every 100 ms the VmRSS of the worker and all its descendants (from /proc/PID/status) is summed."
r ""
r "| | |"
r "|---|---:|"
r "| **peak summed RSS** | **$(mib "$C_PEAK") MiB** ($(mb "$C_PEAK") MB) |"
r "| processes in the tree at the peak | $C_PEAK_N |"
r "| of which the worker itself | $(mib "$C_PEAK_ROOT") MiB |"
r "| sum of each process's own peak (VmHWM), an upper bound | $(mib "$C_HWMSUM") MiB |"
r "| peak summed PSS (shared library pages counted once, not once per process) | $(mib "$C_PEAK_PSS") MiB |"
r "| samples | $C_SAMPLES over $(f1 "$C_WALL") s |"
r "| outputs | $C_DIMS; engine s:${C_ENGINE_S:- n/a} |"
r "| target | ≤ $MEM_TARGET_MB MB: $C_VERDICT |"
r ""
r "## Commands"
r ""
r "\$WORK = the work dir; vidproc runs as \`env -i ${VP_ENV[*]} VIDPROC_DATA_DIR=\$WORK/runs/.../data\`."
r ""
r '```sh'
r "# inputs"
r "$(showcmd "${TINY_CMD[@]}")"
r "$(showcmd "${MEMIN_CMD[@]}")"
r "# (a) direct runs"
r "$CMD_DIRECT"
r "# (a), (b), (c): queue and process"
r "$VIDPROC_SHOWN enqueue FILE...        # then"
r "$VIDPROC_SHOWN worker &   # polled with: $VIDPROC_SHOWN status; stopped with SIGTERM"
r "# (b) ffmpeg side: for each (IN, OUT), two at a time: xargs -0 -n 2 -P $SLOTS sh -c 'ffmpeg ... \"\$1\" ... \"\$2\"' sh"
r "$CMD_FF"
r "# (b) ffmpeg, fitted"
r "$CMD_FIT"
r '```'
r ""
finish_report
