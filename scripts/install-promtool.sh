#!/usr/bin/env bash
# Installs promtool (Prometheus' linter for the /metrics text), which the tests run on vidproc's
# metrics. Debian ships it only inside the `prometheus` package, whose installation would also
# create a user and start a Prometheus server: this takes the binary out of that package instead.
# Idempotent: nothing to do when a promtool is on the PATH.
set -euo pipefail
command -v promtool >/dev/null && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "installing promtool (from Debian's prometheus package)"
if ! (cd "$work" && apt-get download -qq prometheus); then
  $sudo apt-get update -qq
  (cd "$work" && apt-get download -qq prometheus)
fi
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
$sudo install -m 755 "$work/root/usr/bin/promtool" /usr/local/bin/promtool
promtool --version | head -1
