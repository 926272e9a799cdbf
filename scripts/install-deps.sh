#!/usr/bin/env bash
# Installs the Debian 12 packages vidproc needs to build, run and test.
# Idempotent: asks apt only for what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libswresample-dev libavutil-dev
  nlohmann-json3-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev
  libseccomp-dev  # the transcoder child's syscall allowlist (runtime: libseccomp2)
  libgtest-dev libgmock-dev
  libbenchmark-dev   # bench/queue_bench (only built with -DVIDPROC_BUILD_BENCH=ON)
  clang-format
  ffmpeg   # fixtures and benchmark baseline only; the product links the libraries
  time     # GNU time, for peak memory in benchmarks
  awscli   # a standard S3 client: tests check the bucket with it
  curl
  libboost-dev  # Boost.Beast and Asio (header-only): the HTTP server
  chromium      # the web page's browser test (driven by playwright-core from npm)
  wrk           # bench/http_bench.sh
  nginx-light   # the tests check docs/DEPLOY.md's nginx block with nginx -t; the HTTP benchmark's baseline
  openssl       # a self-signed certificate for that check
  python3 python3-django   # examples/django and its test (Debian 12: Django 3.2)
)

# Node.js: Debian's nodejs + npm, unless a Node.js with npm is installed already (another
# distribution's nodejs package bundles npm and conflicts with Debian's).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# What the web page embeds at build time (web/package.json: hls.js), from the npm registry, at
# the versions web/package-lock.json pins. Again only when the lock file changed.
web="$(dirname "$0")/../web"
if [ ! -f "$web/node_modules/.package-lock.json" ] ||
  [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  echo "installing the web page's npm packages (web/package-lock.json)"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
