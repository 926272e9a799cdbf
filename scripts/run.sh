#!/usr/bin/env bash
# Builds vidproc and shows its main job on a sample: a real 1080p phone clip (from Debian's
# forensics-samples-files package) becomes a web-ready 720p MP4 and a thumbnail in sample/.
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

echo "== vidproc probe $input"
build/vidproc probe "$input"
echo "== vidproc transcode $input sample/web.mp4 --thumbnail sample/thumbnail.jpg"
build/vidproc transcode "$input" sample/web.mp4 --thumbnail sample/thumbnail.jpg "$@"
