#!/usr/bin/env bash
# Builds the Debian package: build-pkg/vidproc_<version>_amd64.deb, a release build of the
# program alone (no tests), stripped, with its runtime dependencies computed by dpkg-shlibdeps.
#   scripts/package.sh                 # configure and build build-pkg/ (Release), then package
#   scripts/package.sh --from DIR      # package an existing build directory (the tests do this
#                                      # with their own build, to avoid a third compilation)
# Install it with `sudo apt install ./build-pkg/vidproc_*_amd64.deb` (docs/DEPLOY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-pkg
if [ "${1:-}" = --from ]; then
  dir=${2:?--from needs a build directory}
else
  scripts/install-deps.sh
  BUILD_TYPE=Release TARGET=vidproc_package_files scripts/build.sh "$dir" -DVIDPROC_BUILD_TESTS=OFF
fi
cmake --build "$dir" --target vidproc_package_files >/dev/null
(cd "$dir" && cpack -G DEB -B "$PWD" >/dev/null)
ls "$dir"/vidproc_*_amd64.deb
