#!/usr/bin/env bash
# The HTTP service on loopback, paired with nginx (Debian's nginx-light) as the baseline in the
# same run, alternating A B A B:
#   - status requests: wrk, keep-alive, GET /api/v1/videos/{id} (a database read and the JSON)
#     against nginx serving the same JSON as a static file;
#   - upload throughput to local disk: a raw POST and a tus PATCH of a SIZE_MB file against an
#     nginx WebDAV PUT of the same file (both write it to disk), plus `cp` as the disk's ceiling;
#   - server memory while a 2 GB file is uploaded (VmRSS sampled every 50 ms, growth over idle).
# vidproc runs as `vidproc serve --workers 0` with its access log on (as in production).
#
#   bench/http_bench.sh [--vidproc build/vidproc] [--size-mb 1024] [--rounds 2] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
BENCH_NAME=http_bench

VIDPROC=build/vidproc
SIZE_MB=1024
ROUNDS=2
OUT="bench/results/http-$(date -u +%Y-%m-%d).md"
parse_transfer_options "$@"
require_vidproc
scripts/install-deps.sh
command -v nginx >/dev/null || apt_install nginx-light
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(bench_tmp_dir http-bench.XXXXXX)
SERVE_PID=""
NGINX_CONF="$WORK/nginx.conf"
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  [ -f "$WORK/nginx.pid" ] && "$NGINX" -c "$NGINX_CONF" -p "$WORK" -s stop 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# vidproc serve
"$VIDPROC" serve --listen 127.0.0.1:0 --port-file "$WORK/port" --workers 0 \
  --data-dir "$WORK/data" > "$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
V="http://127.0.0.1:$(cat "$WORK/port")"

# nginx: the same JSON as a static file, and WebDAV PUT to disk
NPORT=$(free_port)
mkdir -p "$WORK/www" "$WORK/put" "$WORK/nginx-tmp"
cat > "$NGINX_CONF" <<EOF
user $(id -un);
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log $WORK/nginx-access.log;
  client_body_temp_path $WORK/nginx-tmp;
  proxy_temp_path $WORK/nginx-tmp; fastcgi_temp_path $WORK/nginx-tmp;
  uwsgi_temp_path $WORK/nginx-tmp; scgi_temp_path $WORK/nginx-tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    location /status.json { root $WORK/www; default_type application/json; }
    location /put/ { root $WORK; dav_methods PUT; client_max_body_size 0;
                     client_body_buffer_size 256k; }
  }
}
EOF
"$NGINX" -c "$NGINX_CONF" -p "$WORK" 2>/dev/null
N="http://127.0.0.1:$NPORT"

# A video to read the status of.
tiny="$WORK/tiny.bin"
head -c 100000 /dev/urandom > "$tiny"
ID=$(curl -sf -H 'Content-Type: video/mp4' -H 'X-Filename: status.mp4' --data-binary @"$tiny" \
  "$V/api/v1/videos" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf "$V/api/v1/videos/$ID" > "$WORK/www/status.json"

big="$WORK/upload.bin"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$big"

upload_raw() {
  curl -sf -o "$WORK/resp.json" -X POST -H 'Content-Type: application/octet-stream' \
    -H 'X-Filename: big.bin' -T "$big" "$V/api/v1/videos"
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/resp.json")
}
upload_tus() {
  loc=$(curl -sf -D - -o /dev/null -X POST -H 'Tus-Resumable: 1.0.0' \
    -H "Upload-Length: $(stat -c %s "$big")" -H 'Upload-Metadata: filename YmlnLmJpbg==' \
    "$V/api/v1/uploads" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  curl -sf -o /dev/null -X PATCH -H 'Tus-Resumable: 1.0.0' -H 'Upload-Offset: 0' \
    -H 'Content-Type: application/offset+octet-stream' -T "$big" "$V$loc"
  id=${loc##*/}
}

declare -a S_V S_N U_RAW U_TUS U_NGX U_CP
sync  # the 1 GiB test file's writeback must not run during the first status rounds
for r in $(seq "$ROUNDS"); do
  echo "round $r: status"
  S_V+=("$(wrk_run "$V/api/v1/videos/$ID")")
  S_N+=("$(wrk_run "$N/status.json")")
  echo "round $r: uploads of $SIZE_MB MiB"
  sync; t0=$(now); upload_raw; sync; t1=$(now)
  U_RAW+=("$(mbps "$SIZE_MB*1048576" "$(elapsed "$t0" "$t1")")")
  curl -sf -X DELETE "$V/api/v1/videos/$id" >/dev/null
  sync; t0=$(now); upload_tus; sync; t1=$(now)
  U_TUS+=("$(mbps "$SIZE_MB*1048576" "$(elapsed "$t0" "$t1")")")
  curl -sf -X DELETE "$V/api/v1/videos/$id" >/dev/null
  sync; t0=$(now); curl -sf -T "$big" "$N/put/big.bin" -o /dev/null; sync; t1=$(now)
  U_NGX+=("$(mbps "$SIZE_MB*1048576" "$(elapsed "$t0" "$t1")")")
  rm -f "$WORK/put/big.bin"
  sync; t0=$(now); cp "$big" "$WORK/copy.bin"; sync; t1=$(now)
  U_CP+=("$(mbps "$SIZE_MB*1048576" "$(elapsed "$t0" "$t1")")")
  rm -f "$WORK/copy.bin"
done

echo "memory: a 2 GiB raw upload"
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVE_PID/status"; }
idle=$(rss)
huge="$WORK/huge.bin"
rm -f "$big"
head -c $((2048 * 1024 * 1024)) /dev/urandom > "$huge"
peak=$idle
curl -sf -o /dev/null -X POST -H 'Content-Type: application/octet-stream' -T "$huge" \
  "$V/api/v1/videos" &
CURL=$!
while kill -0 "$CURL" 2>/dev/null; do
  cur=$(rss); [ "$cur" -gt "$peak" ] && peak=$cur; sleep 0.05
done
wait "$CURL"

col() { local i=$1; shift; for x in "$@"; do echo "$x" | awk -v i="$i" '{print $i}'; done; }
sv_rps=$(median_plain "$(col 1 "${S_V[@]}")"); sv_p99=$(median_plain "$(col 2 "${S_V[@]}")")
sn_rps=$(median_plain "$(col 1 "${S_N[@]}")"); sn_p99=$(median_plain "$(col 2 "${S_N[@]}")")
raw=$(median_plain "${U_RAW[*]}"); tus=$(median_plain "${U_TUS[*]}"); ngx=$(median_plain "${U_NGX[*]}"); cpm=$(median_plain "${U_CP[*]}")

mkdir -p "$(dirname "$OUT")"
{
  echo "# HTTP benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); loopback;"
  echo "$(wrk -v 2>&1 | head -1 | cut -c1-40); $("$NGINX" -v 2>&1); vidproc $("$VIDPROC" --version | cut -d' ' -f2)."
  echo "wrk -t2 -c64 -d10s (keep-alive) on the same 2 cores as the server; medians of $ROUNDS rounds, A B alternating."
  echo
  echo "| measure | vidproc | nginx (baseline) | vidproc/nginx |"
  echo "| --- | --- | --- | --- |"
  echo "| status requests/s (GET /api/v1/videos/{id} vs a static JSON file) | $sv_rps | $sn_rps | $(ratio "$sv_rps" "$sn_rps") |"
  echo "| status p99 latency, ms | $sv_p99 | $sn_p99 | $(ratio "$sv_p99" "$sn_p99") |"
  echo "| upload to local disk, raw POST, MB/s ($SIZE_MB MiB) | $raw | $ngx (WebDAV PUT) | $(ratio "$raw" "$ngx") |"
  echo "| upload to local disk, tus PATCH, MB/s ($SIZE_MB MiB) | $tus | $ngx (WebDAV PUT) | $(ratio "$tus" "$ngx") |"
  echo
  echo "Disk ceiling (cp of the same file, then sync): $cpm MB/s."
  echo "Server memory during a 2 GiB raw upload: idle $((idle / 1024)) MiB, peak $((peak / 1024)) MiB, growth $(((peak - idle) / 1024)) MiB."
  echo
  echo "Rounds (status req/s p99): vidproc ${S_V[*]}; nginx ${S_N[*]}. Uploads MB/s: raw ${U_RAW[*]}; tus ${U_TUS[*]}; nginx ${U_NGX[*]}; cp ${U_CP[*]}."
} | tee "$OUT"
