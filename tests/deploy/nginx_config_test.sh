#!/usr/bin/env bash
# The nginx configuration of docs/DEPLOY.md, pasted as an operator pastes it, passes `nginx -t`
# with Debian's nginx. The certificate paths it names are replaced by a self-signed pair made here
# (nginx -t loads them); nothing else is changed.
#
#   tests/deploy/nginx_config_test.sh docs/DEPLOY.md
set -euo pipefail
doc=$1
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "FAIL: no nginx (scripts/install-deps.sh installs nginx-light)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

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
