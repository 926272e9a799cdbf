#!/usr/bin/env bash
# Builds vidproc and runs the service on its embedded defaults: the HTTP API, the web page and two
# worker slots, with SQLite and local storage under ./data. On the first run a real 1080p phone
# clip (from Debian's forensics-samples-files package) is queued, so the page has a video to show.
# Extra arguments go to `vidproc serve` (e.g. --listen 0.0.0.0:8080 with VIDPROC_API_TOKEN set).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
TARGET=vidproc scripts/build.sh build

mkdir -p sample/.debs
input=sample/phone-1080p.mp4
if [ ! -f "$input" ]; then
  (cd sample/.debs && apt-get download forensics-samples-files >/dev/null 2>&1 || \
     { [ "$(id -u)" -eq 0 ] && apt-get update -qq && apt-get download forensics-samples-files; })
  dpkg -x sample/.debs/forensics-samples-files_*.deb sample/.debs/root
  cp sample/.debs/root/usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4 "$input"
fi
if [ ! -f data/.sample-queued ]; then
  echo "== queueing the sample clip: build/vidproc enqueue $input"
  build/vidproc enqueue "$input" && touch data/.sample-queued
fi

echo "== vidproc serve: open the URL it prints (Ctrl-C stops it)"
exec build/vidproc serve "$@"
