#!/usr/bin/env bash
# The reference droplet's memory, enforced by the kernel: `vidproc serve` runs in a memory cgroup
# limited to 2 GB (cgroup v2, or the v1 memory controller where that is what the machine has)
# with MAX_VIDEO_PROCESSING_TASKS=3, and four 4K HEVC Main10 HLG uploads and two 1080p uploads
# are queued at once. Every video must end ready, the server must still answer, and the kernel
# must not have OOM-killed any process of the group. The group's peak is printed for the record.
# Needs root (it creates a cgroup); exits 77 (skipped, not passed) where that is not possible.
#
#   tests/worker/memory_limit_test.sh VIDPROC_BIN FIXTURES_DIR
set -euo pipefail
vidproc=$1
fixtures=$2
limit_bytes=$((2000 * 1000 * 1000))

fail() {
  echo "FAIL: $*"
  exit 1
}
skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "creating a memory cgroup needs root"

# ---------------------------------------------------------------- the cgroup
# shellcheck source=scripts/lib/memory-cgroup.sh
. "$(dirname "$0")/../../scripts/lib/memory-cgroup.sh"
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  memcg_remove
  rm -rf "$work"
}
trap cleanup EXIT
memcg_create "$limit_bytes" ||
  skip "no writable memory cgroup that counts OOM kills (v2 memory controller or v1 hierarchy)"

# ---------------------------------------------------------------- the footage
# 4K60-class phone HDR: 3840x2160 HEVC Main10, BT.2020, HLG. Two seconds: the decoder's picture
# buffers, the tone mapping and the encoder's lookahead reach their peak within the first GOP.
hdr="$work/hlg_4k.mkv"
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=3840x2160:r=30:d=2" \
  -vf format=yuv420p10le -c:v libx265 -preset ultrafast \
  -x265-params "log-level=error:colorprim=bt2020:colormatrix=bt2020nc:transfer=arib-std-b67" \
  -color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc "$hdr" ||
  fail "could not make the 4K HLG clip"
sdr="$fixtures/real_1080p.mp4"
[ -s "$sdr" ] || fail "no fixture $sdr"

# ---------------------------------------------------------------- the service in the group
memcg_join
(cd "$work" && exec env -i PATH=/usr/bin:/bin MAX_VIDEO_PROCESSING_TASKS=3 \
  "$vidproc" serve --env-file /dev/null --data-dir "$work/data" --listen 127.0.0.1:0 \
  --port-file "$work/port") >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || fail "the server did not start: $(tail -5 "$work/server.log")"
base="http://127.0.0.1:$(cat "$work/port")"

ids=()
upload() { # FILE NAME
  local id
  id=$(curl -sf -H 'Content-Type: video/mp4' -H "X-Filename: $2" --data-binary @"$1" \
    "$base/api/v1/videos" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
  [ -n "$id" ] || fail "the upload of $2 was not accepted"
  ids+=("$id")
}
for i in 1 2 3 4; do upload "$hdr" "hdr$i.mkv"; done
for i in 1 2; do upload "$sdr" "sdr$i.mp4"; done

# ---------------------------------------------------------------- every video ends ready
deadline=$((SECONDS + 900))
pending=("${ids[@]}")
while [ ${#pending[@]} -gt 0 ]; do
  [ $SECONDS -lt $deadline ] || fail "not done after 900 s: ${pending[*]}"
  kill -0 "$server" 2>/dev/null || fail "the server died: $(tail -5 "$work/server.log")"
  still=()
  for id in "${pending[@]}"; do
    body=$(curl -sf "$base/api/v1/videos/$id") || fail "GET $id failed"
    status=$(sed -n 's/.*"status": *"\([a-z_]*\)".*/\1/p' <<<"$body")
    case $status in
      ready) ;;
      failed) fail "video $id failed: $body" ;;
      *) still+=("$id") ;;
    esac
  done
  pending=("${still[@]+"${still[@]}"}")
  [ ${#pending[@]} -eq 0 ] || sleep 1
done
curl -sf -o /dev/null "$base/healthz" || fail "the server no longer answers"
kills=$(memcg_oom_kills)
[ "$kills" = 0 ] || fail "the kernel OOM-killed $kills process(es) in the 2 GB group"
echo "ok: 4 x 4K HLG + 2 x 1080p under a 2 GB cgroup v$MEMCG_VERSION limit with 3 slots: all ready," \
  "no OOM kill; the group's peak: $(memcg_peak_bytes) bytes (page cache included)"
