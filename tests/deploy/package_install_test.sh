#!/usr/bin/env bash
# The Debian package installed with apt on this machine (as root only: it adds a user and writes
# /etc, /usr and /var): the `vidproc` user, the data directory and the env file's owners, the
# installed units verified; the API token the package made; the service's command run as its user
# with the packaged env files, as systemd would run it, refusing a request without the token and
# processing an upload with it; a reinstall that keeps the token; then a purge that leaves nothing
# behind.
# Exits 77 (skipped) when not root, or when a vidproc package is installed already.
#   tests/deploy/package_install_test.sh REPO BUILD_DIR VIDEO
set -euo pipefail
repo=$1
build=$2
video=$3
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "skipped: installing a package needs root"; exit 77; }
if dpkg-query -W -f='${Status}' vidproc 2>/dev/null | grep -q installed; then
  echo "skipped: a vidproc package is installed on this machine; not touching it"
  exit 77
fi
deb=$(realpath "$("$repo/scripts/package.sh" --from "$build" 2>/dev/null | tail -1)")
server=""
log=$(mktemp)
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -f "$log"
  if dpkg-query -W -f='${Status}' vidproc 2>/dev/null | grep -q installed; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq vidproc >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null ||
  fail "apt-get install $deb"
getent passwd vidproc >/dev/null || fail "no vidproc user"
[ "$(stat -c %U:%G /var/lib/vidproc)" = vidproc:vidproc ] || fail "/var/lib/vidproc not vidproc's"
[ "$(stat -c %U:%G:%a /etc/vidproc/vidproc.env)" = root:vidproc:640 ] ||
  fail "env file is $(stat -c %U:%G:%a /etc/vidproc/vidproc.env), want root:vidproc:640"
token_file=/etc/vidproc/api-token.env
[ "$(stat -c %U:%G:%a "$token_file")" = root:vidproc:640 ] ||
  fail "the token file is $(stat -c %U:%G:%a "$token_file"), want root:vidproc:640"
token=$(sed -n 's/^VIDPROC_API_TOKEN=//p' "$token_file")
[[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "the package made no 256-bit API token: '$token'"
for unit in vidproc.service vidproc-worker.service; do
  out=$(systemd-analyze verify --man=no "/lib/systemd/system/$unit" 2>&1) ||
    fail "systemd-analyze verify $unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $unit warns: $out"
done

# As systemd runs it: the user, the working directory, the environment from the env files only,
# in the unit's order.
mapfile -t settings < <(grep -h -vE '^(#.*)?$' \
  $(sed -n 's/^EnvironmentFile=-\{0,1\}//p' /lib/systemd/system/vidproc.service))
rm -f /var/lib/vidproc/port
(cd /var/lib/vidproc && exec runuser -u vidproc -- env -i PATH=/usr/bin:/bin "${settings[@]}" \
  /usr/bin/vidproc serve --listen 127.0.0.1:0 --port-file /var/lib/vidproc/port) \
  > "$log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -s /var/lib/vidproc/port ] && break; sleep 0.1; done
[ -s /var/lib/vidproc/port ] || fail "the packaged service did not start: $(tail -5 "$log")"
base="http://127.0.0.1:$(cat /var/lib/vidproc/port)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/videos")" = 401 ] ||
  fail "the packaged service answers without its token"
auth="Authorization: Bearer $token"
id=$(curl -sf -H "$auth" -H 'Content-Type: video/mp4' -H 'X-Filename: upload.mp4' --data-binary @"$video" \
  "$base/api/v1/videos" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
[ -n "$id" ] || fail "the upload was not accepted"
status=""
for _ in $(seq 600); do
  status=$(curl -sf -H "$auth" "$base/api/v1/videos/$id" | sed -n 's/.*"status": *"\([a-z_]*\)".*/\1/p')
  [ "$status" = ready ] || [ "$status" = failed ] && break
  sleep 0.2
done
[ "$status" = ready ] || fail "the video ended $status: $(tail -5 "$log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "$base/api/v1/videos/$id/video")" = 200 ] ||
  fail "the processed video is not served"
owner=$(find /var/lib/vidproc -name '*.db' -printf '%u\n' | sort -u)
[ "$owner" = vidproc ] || fail "the database belongs to $owner"
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
server=""

# An upgrade (here: the same version again) keeps the token clients were given.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "$deb" >/dev/null ||
  fail "apt-get install --reinstall $deb"
[ "$(sed -n 's/^VIDPROC_API_TOKEN=//p' "$token_file")" = "$token" ] ||
  fail "a reinstall changed the API token"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq vidproc >/dev/null || fail "apt-get purge"
for gone in /usr/bin/vidproc /etc/vidproc /var/lib/vidproc /lib/systemd/system/vidproc.service; do
  [ ! -e "$gone" ] || fail "$gone is left after the purge"
done
! getent passwd vidproc >/dev/null || fail "the vidproc user is left after the purge"
! getent group vidproc >/dev/null || fail "the vidproc group is left after the purge"
echo "ok: installed, served an upload as the vidproc user, purged clean"
