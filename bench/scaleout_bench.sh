#!/usr/bin/env bash
# End-to-end throughput of 1, 2 and 3 `vidproc worker` processes (one slot each, separate scratch
# directories, as on separate machines) sharing one PostgreSQL queue and one S3 bucket (a local
# Ceph RADOS Gateway), against the ffmpeg CLI running the same number of processes at once on
# the same files (xargs -P N), in the same run. On a 2-core machine this is CPU-bound: more
# processes than cores cannot go faster, and the numbers say so.
#
#   bench/scaleout_bench.sh [--vidproc build/vidproc] [--videos 12] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
BENCH_NAME=scaleout_bench

VIDPROC=build/vidproc
VIDEOS=12
OUT="bench/results/scaleout-$(date -u +%Y-%m-%d).md"
while [ $# -gt 0 ]; do
  case "$1" in
    --vidproc|--vidproc=*) option_value "$@"; VIDPROC=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --videos|--videos=*) option_value "$@"; VIDEOS=$OPT_VALUE; shift "$OPT_WORDS" ;;
    --out|--out=*) option_value "$@"; OUT=$OPT_VALUE; shift "$OPT_WORDS" ;;
    *) echo "usage: $0 [--vidproc PATH] [--videos N] [--out FILE]" >&2; exit 2 ;;
  esac
done
require_vidproc
scripts/install-deps.sh

WORK=$(bench_tmp_dir scaleout.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/s3-test-server.sh stop "$WORK/s3" >/dev/null 2>&1 || true
  scripts/pg-test-server.sh stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
eval "$(scripts/pg-test-server.sh start "$WORK/pg")"
eval "$(scripts/s3-test-server.sh start "$WORK/s3")"

# Short real-looking clips: 4 s, 1280x720, moving test pattern + tone, H.264 in Matroska (so every
# job re-encodes: none is web-ready as it is).
mkdir -p "$WORK/in"
for i in $(seq "$VIDEOS"); do
  ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=4,hue=h=$((i * 29))" \
    -f lavfi -i "sine=frequency=$((300 + i * 20)):duration=4" -c:v libx264 -preset ultrafast \
    -c:a aac -shortest "$WORK/in/clip$i.mkv"
done

export HOME="$WORK" AWS_ACCESS_KEY_ID="$S3_TEST_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_TEST_SECRET_KEY"
export AWS_DEFAULT_REGION="$S3_TEST_REGION"
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

declare -A VP FF
for n in 1 2 3; do
  bucket="bench-$n"
  /usr/bin/aws --endpoint-url "$S3_TEST_ENDPOINT" s3api create-bucket --bucket "$bucket" >/dev/null
  psql -q "postgres://postgres@127.0.0.1:$PG_TEST_PORT/postgres" \
    -c "CREATE DATABASE scaleout_$n OWNER vidproc" >/dev/null
  db="${PG_TEST_URL%/*}/scaleout_$n"
  env_vars=(VIDPROC_DATABASE_URL="$db" USE_SPACES=True SPACES_ACCESS_KEY="$S3_TEST_ACCESS_KEY"
            SPACES_SECRET_KEY="$S3_TEST_SECRET_KEY" SPACES_BUCKET_NAME="$bucket"
            SPACES_ENDPOINT_URL="$S3_TEST_ENDPOINT" SPACES_REGION="$S3_TEST_REGION"
            LOG_LEVEL=warning MAX_VIDEO_PROCESSING_TASKS=1)
  env "${env_vars[@]}" VIDPROC_DATA_DIR="$WORK/enqueue" "$VIDPROC" enqueue "$WORK"/in/*.mkv >/dev/null
  t0=$(now)
  PIDS=()
  for w in $(seq "$n"); do
    env "${env_vars[@]}" VIDPROC_DATA_DIR="$WORK/w$n-$w" VIDPROC_WORKER_ID="w$w" \
      "$VIDPROC" worker > "$WORK/w$n-$w.log" 2>&1 &
    PIDS+=($!)
  done
  while true; do
    ready=$(psql -tA "$db" -c "SELECT count(*) FROM videos WHERE status IN ('ready','failed')")
    [ "$ready" -ge "$VIDEOS" ] && break
    sleep 0.2
  done
  t1=$(now)
  for p in "${PIDS[@]}"; do kill "$p"; wait "$p" || true; done
  PIDS=()
  failed=$(psql -tA "$db" -c "SELECT count(*) FROM videos WHERE status = 'failed'")
  [ "$failed" -eq 0 ] || { echo "$failed videos failed" >&2; exit 1; }
  VP[$n]=$(secs "$t0" "$t1")

  mkdir -p "$WORK/ff$n"
  t0=$(now)
  ls "$WORK"/in/*.mkv | xargs -P "$n" -I{} sh -c 'f={}; ffmpeg -nostdin -y -v error -i "$f" \
    -vf "scale=w=1280:h=720:force_original_aspect_ratio=decrease:force_divisible_by=2" \
    -c:v libx264 -preset veryfast -b:v 1500k -maxrate 2250k -bufsize 3000k -g 60 \
    -c:a aac -b:a 128k -movflags +faststart "'"$WORK/ff$n"'/$(basename "$f" .mkv).mp4"'
  t1=$(now)
  FF[$n]=$(secs "$t0" "$t1")
  echo "workers $n: vidproc ${VP[$n]} s, ffmpeg ${FF[$n]} s"
done

mkdir -p "$(dirname "$OUT")"
{
  echo "# Scale-out, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores. $VIDEOS clips of 4 s 1280x720 H.264/AAC in Matroska (every job re-encodes)."
  echo "vidproc: N \`vidproc worker\` processes (MAX_VIDEO_PROCESSING_TASKS=1 each, own scratch dir) on one"
  echo "PostgreSQL queue and one S3 bucket (Ceph RGW), from the first claim to the last video ready,"
  echo "including downloads, uploads and bookkeeping. ffmpeg: N processes at once (xargs -P N) on local"
  echo "files, no storage. Thumbnails are made by vidproc only."
  echo
  echo "| worker processes | vidproc wall s | videos/min | ffmpeg CLI wall s | vidproc/ffmpeg |"
  echo "| --- | --- | --- | --- | --- |"
  for n in 1 2 3; do
    echo "| $n | ${VP[$n]} | $(python3 -c "print(f'{$VIDEOS * 60 / ${VP[$n]}:.1f}')") | ${FF[$n]} | $(ratio "${VP[$n]}" "${FF[$n]}") |"
  done
} | tee "$OUT"
