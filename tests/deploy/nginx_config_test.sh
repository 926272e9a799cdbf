#!/usr/bin/env bash
# The nginx configuration of docs/DEPLOY.md, pasted as an operator pastes it, passes `nginx -t`
# with Debian's nginx. The certificate paths it names are replaced by a self-signed pair made here
# (nginx -t loads them); nothing else is changed.
# Given a vidproc binary and a video, the block then runs (its ports moved to free ones on
# 127.0.0.1) in front of a real `vidproc serve`: without a token, what nginx forwards is refused
# (403 remote_access_needs_token) while a direct local request is served; with a token, a request
# through nginx needs it (401 without), and an upload streams through to 201.
#
#   tests/deploy/nginx_config_test.sh docs/DEPLOY.md [VIDPROC_BIN VIDEO]
set -euo pipefail
doc=$1
vidproc=${2:-}
video=${3:-}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "FAIL: no nginx (scripts/install-deps.sh installs nginx-light)"; exit 1; }
work=$(mktemp -d)
server=""
proxy=""
stop() {
  [ -n "$proxy" ] && kill "$proxy" 2>/dev/null && wait "$proxy" 2>/dev/null
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  proxy=""
  server=""
}
trap 'stop; rm -rf "$work"' EXIT

awk '/^```nginx/ {inside = 1; next} /^```/ {inside = 0} inside' "$doc" > "$work/site.conf"
[ -s "$work/site.conf" ] || { echo "FAIL: $doc has no nginx block"; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=videos.example.com \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
sed -i -E "s#^([[:space:]]*ssl_certificate[[:space:]]+)[^;]+;#\1$work/cert.pem;#;
           s#^([[:space:]]*ssl_certificate_key[[:space:]]+)[^;]+;#\1$work/key.pem;#" \
  "$work/site.conf"

mkdir -p "$work/tmp"
cat > "$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  include $work/site.conf;
}
CONF
if ! out=$("$nginx" -t -q -c "$work/nginx.conf" -p "$work" 2>&1); then
  echo "FAIL: nginx -t refuses the block of $doc:"
  echo "$out"
  exit 1
fi
echo "ok: nginx -t accepts the block of $doc ($("$nginx" -v 2>&1))"
[ -n "$vidproc" ] || exit 0

# A port nothing answers on (bash's /dev/tcp: nothing beyond what the test already needs).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
# Starts `vidproc serve` (API only) with the environment given, and the block in front of it.
start() {
  rm -f "$work/port"
  (cd "$work" && exec env -i PATH=/usr/bin:/bin VIDPROC_DATA_DIR="$work/data" "$@" \
    "$vidproc" serve --env-file /dev/null --workers 0 --listen 127.0.0.1:0 \
    --port-file "$work/port") > "$work/vidproc.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { echo "FAIL: vidproc did not start: $(tail -5 "$work/vidproc.log")"; exit 1; }
  direct="http://127.0.0.1:$(cat "$work/port")"
  https_port=$(free_port)
  http_port=$(free_port)
  sed -E "s#^([[:space:]]*listen[[:space:]]+)443([[:space:]]|;)#\1127.0.0.1:$https_port\2#;
          s#^([[:space:]]*listen[[:space:]]+)80;#\1127.0.0.1:$http_port;#;
          s#proxy_pass http://127\.0\.0\.1:8080;#proxy_pass $direct;#" \
    "$work/site.conf" > "$work/site-run.conf"
  grep -q "proxy_pass $direct;" "$work/site-run.conf" ||
    { echo "FAIL: the block does not proxy_pass to http://127.0.0.1:8080"; exit 1; }
  sed "s#include $work/site.conf;#include $work/site-run.conf;#" "$work/nginx.conf" \
    > "$work/nginx-run.conf"
  # As root, nginx's workers would otherwise switch to a user that cannot enter the work directory.
  [ "$(id -u)" -ne 0 ] || sed -i '1i user root;' "$work/nginx-run.conf"
  "$nginx" -q -c "$work/nginx-run.conf" -p "$work" -g 'daemon off;' 2>>"$work/error.log" &
  proxy=$!
  proxied="https://127.0.0.1:$https_port"
  for _ in $(seq 100); do
    curl -sk -o /dev/null "$proxied/healthz" && return 0
    sleep 0.1
  done
  echo "FAIL: nginx did not start: $(tail -5 "$work/error.log")"
  exit 1
}
# The status of a request through nginx, as a browser on the internet sends it.
code() { curl -sk --http1.1 -o "$work/body" -w '%{http_code}' -H 'Host: videos.example.com' "$@"; }
expect() {
  local want=$1 what=$2
  shift 2
  local got
  got=$(code "$@")
  [ "$got" = "$want" ] || { echo "FAIL: $what: $got, want $want: $(cat "$work/body")"; exit 1; }
}

start
expect 403 "no token: a list through nginx" "$proxied/api/v1/videos"
grep -q '"remote_access_needs_token"' "$work/body" || { echo "FAIL: $(cat "$work/body")"; exit 1; }
expect 403 "no token: an upload through nginx" -H 'Content-Type: video/mp4' \
  --data-binary @"$video" "$proxied/api/v1/videos"
expect 200 "no token: /healthz through nginx" "$proxied/healthz"
expect 301 "plain http redirects to https" "http://127.0.0.1:$http_port/api/v1/videos"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$direct/api/v1/videos")" = 200 ] ||
  { echo "FAIL: no token: a direct local request is not served"; exit 1; }
stop

token=$(openssl rand -hex 32)
start VIDPROC_API_TOKEN="$token"
expect 401 "token: a list through nginx without it" "$proxied/api/v1/videos"
expect 200 "token: a list through nginx with it" -H "Authorization: Bearer $token" \
  "$proxied/api/v1/videos"
expect 201 "token: an upload through nginx" -H "Authorization: Bearer $token" \
  -H 'Content-Type: video/mp4' -H 'X-Filename: phone.mp4' --data-binary @"$video" \
  "$proxied/api/v1/videos"
stop
echo "ok: through nginx, no token refuses what is forwarded; a token admits it"
