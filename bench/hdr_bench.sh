#!/usr/bin/env bash
# hdr_bench.sh - CPU of the HDR to SDR video chain against the SDR chain on the same pictures,
# on 4K60 HEVC Main10 HLG and PQ clips made from real footage, and the SSIM of the table-driven
# tone mapping to the float zscale + hable chain it replaced. Prints a Markdown report to stdout
# and writes it to --out FILE.
#
# Usage: bench/hdr_bench.sh [--bench PATH] [--seconds N] [--rounds N] [--size WxH]
#                           [--kernel K] [--work DIR] [--out FILE]
#   --bench PATH   the tone_map_bench binary (default build/bench/tone_map_bench; configure the
#                  build with -DVIDPROC_BUILD_BENCH=ON)
#   --seconds N    clip length (default 10)
#   --rounds N     runs per clip, alternating the clips (default 3); the report gives medians
#   --size WxH     output size (default 1280x720, vidproc's default box)
#   --kernel K     ToneMapLut kernel: auto (default: AVX2 where the CPU has it), scalar or avx2
#   --work DIR     work dir; the clips are built once and reused (default: mktemp, removed at exit)
#   --out FILE     report file (default bench/results/hdr-<date>.md)
# CPU-seconds come from each thread's CPU clock, with the three chains taking turns on every
# picture, so a busy machine inflates all three alike; decoding is not counted.
set -euo pipefail
# shellcheck disable=SC2034  # BENCH_NAME is read by lib.sh (die, log)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
BENCH_NAME=hdr_bench

BENCH="$REPO/build/bench/tone_map_bench"
SECS=10
ROUNDS=3
SIZE=1280x720
KERNEL=auto
WORK=""
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --bench|--bench=*) option_value "$@"; BENCH=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --seconds|--seconds=*) option_value "$@"; SECS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --rounds|--rounds=*) option_value "$@"; ROUNDS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --size|--size=*) option_value "$@"; SIZE=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --kernel|--kernel=*) option_value "$@"; KERNEL=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --work|--work=*) option_value "$@"; WORK=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$(abspath "$OPT_VALUE"); shift "$OPT_WORDS" ;;
    -h|--help) print_usage 2 18; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
[ -x "$BENCH" ] || die "no tone_map_bench at $BENCH (cmake -DVIDPROC_BUILD_BENCH=ON, then build target tone_map_bench)"
[ -n "$OUT" ] || OUT="$REPO/bench/results/hdr-$(date +%Y-%m-%d).md"
command -v ffmpeg >/dev/null 2>&1 || apt_install ffmpeg

open_work_dir vidproc-hdr-bench.XXXXXX
trap remove_auto_work EXIT
LOGS="$WORK/logs"
mkdir -p "$LOGS"

# ---------------------------------------------------------------- clips
make_phone_hdr_clip hlg "$SECS" "$WORK/hlg-4k60-${SECS}s.mkv"
make_phone_hdr_clip pq "$SECS" "$WORK/pq-4k60-${SECS}s.mkv"

# ---------------------------------------------------------------- runs
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A V=()
add() { V[$1]="${V[$1]:-} $2"; }
for round in $(seq 1 "$ROUNDS"); do
  for name in hlg pq; do
    log "round $round: $name"
    line=$("$BENCH" "$WORK/$name-4k60-${SECS}s.mkv" --size "$SIZE" --kernel "$KERNEL" \
      2>>"$LOGS/bench.log") ||
      die "tone_map_bench failed on $name (see $LOGS/bench.log)"
    echo "$name round $round: $line" >>"$LOGS/bench.log"
    for kv in $line; do add "$name.${kv%%=*}" "${kv#*=}"; done
    RAN_KERNEL=$(printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^kernel=//p')
  done
done
med() { median "${V[$1]:-}"; }
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
{
  echo "# HDR to SDR video chain: CPU against the SDR chain ($(date -u +%Y-%m-%d))"
  echo
  echo "Input: ${SECS} s of 3840x2160 60 fps HEVC Main10 (x265) made from real footage, HLG and PQ;"
  echo "output ${SIZE}; one filter thread; ${ROUNDS} round(s), medians. CPU-seconds of the filters"
  echo "only (thread CPU clock), the three chains taking turns on each decoded picture."
  echo "\`sdr\`: the chain an SDR source gets (scale to yuv420p). \`table\`: vidproc's HDR chain"
  echo "(zscale in the source's encoding, then ToneMapLut). \`float\`: the zscale + tonemap=hable chain"
  echo "it replaced; SSIM is table against float (libavfilter's ssim windows, Y:U:V 4:1:1)."
  echo "ToneMapLut kernel: $RAN_KERNEL (asked: $KERNEL)."
  echo "Machine: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');"
  echo "load average (1/5/15 min) at start $LOAD_START, at end $LOAD_END."
  echo
  echo "| clip | frames | sdr CPU-s | table CPU-s | float CPU-s | table / sdr (target <= 1.3) | float / sdr | SSIM mean | SSIM min | table build CPU-s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for name in hlg pq; do
    echo "| $name | $(med "$name.frames" | cut -d. -f1) | $(f2 "$(med "$name.sdr_cpu_s")") | $(f2 "$(med "$name.table_cpu_s")") | $(f2 "$(med "$name.float_cpu_s")") | $(f2 "$(med "$name.table_over_sdr")")x | $(f2 "$(med "$name.float_over_sdr")")x | $(calc "printf \"%.4f\", $(med "$name.ssim_mean")") | $(calc "printf \"%.4f\", $(med "$name.ssim_min")") | $(f3 "$(med "$name.table_build_cpu_s")") |"
  done
  echo
  echo "Command: \`bench/hdr_bench.sh --seconds $SECS --rounds $ROUNDS --size $SIZE --kernel $KERNEL\`"
} | tee "$OUT.part"
mkdir -p "$(dirname "$OUT")"
mv "$OUT.part" "$OUT"
