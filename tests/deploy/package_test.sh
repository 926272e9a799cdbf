#!/usr/bin/env bash
# The Debian package, built from BUILD_DIR with scripts/package.sh --from:
#   - its contents: a stripped binary, the two units, the env file as a conffile, the docs; its
#     dependencies computed from the binary's libraries, with no build or test tool among them;
#   - `systemd-analyze verify` accepts both units (ExecStart pointed at the unpacked binary, the
#     only change: the package is not installed here), with no warning;
#   - the env file reads the same under systemd's EnvironmentFile= rules and vidproc's own: only
#     whole-line comments and plain KEY=VALUE lines, which `vidproc config` accepts as they are.
#   tests/deploy/package_test.sh REPO BUILD_DIR
set -euo pipefail
repo=$1
build=$2
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

deb=$("$repo/scripts/package.sh" --from "$build" 2>/dev/null | tail -1)
[ -f "$deb" ] || fail "scripts/package.sh made no package"
version=$(sed -n 's/^project(vidproc VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
[ "$(basename "$deb")" = "vidproc_${version}_amd64.deb" ] || fail "package named $(basename "$deb")"

# Contents.
dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"
for f in usr/bin/vidproc lib/systemd/system/vidproc.service \
  lib/systemd/system/vidproc-worker.service etc/vidproc/vidproc.env; do
  [ -f "$work/root/$f" ] || fail "the package has no /$f"
done
grep -qx /etc/vidproc/vidproc.env "$work/control/conffiles" || fail "the env file is not a conffile"
if readelf -S "$work/root/usr/bin/vidproc" | grep -qE '\.symtab|\.debug_'; then
  fail "the binary is not stripped"
fi
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libavcodec libavformat libavfilter libsqlite3 libpq5 libseccomp2 adduser; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
if grep -qE -- '-dev\b|gtest|chromium|nodejs|npm|awscli|clang|cmake|ninja|wrk' <<<"$depends"; then
  fail "Depends names a build or test tool: $depends"
fi

# The units.
for unit in vidproc.service vidproc-worker.service; do
  sed "s#^ExecStart=/usr/bin/vidproc#ExecStart=$work/root/usr/bin/vidproc#" \
    "$work/root/lib/systemd/system/$unit" > "$work/$unit"
  out=$(systemd-analyze verify --man=no "$work/$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $unit warns: $out"
  for key in EnvironmentFile=/etc/vidproc/vidproc.env ProtectSystem=strict \
    ReadWritePaths=/var/lib/vidproc NoNewPrivileges=yes PrivateTmp=yes MemoryMax= \
    Restart=on-failure User=vidproc; do
    grep -q "^$key" "$work/$unit" || fail "$unit lacks $key"
  done
done

# The API: never without a token. The token file the postinst makes is read first, so that a
# VIDPROC_API_TOKEN the operator sets in vidproc.env wins; it is required (no "-"), so that a
# missing token stops the service rather than opens it.
files=$(sed -n 's/^EnvironmentFile=//p' "$work/root/lib/systemd/system/vidproc.service" | tr '\n' ' ')
[ "$files" = "/etc/vidproc/api-token.env /etc/vidproc/vidproc.env " ] ||
  fail "vidproc.service reads the env files '$files'"
grep -q 'api-token.env' "$work/control/postinst" || fail "the postinst makes no API token"

# The env file: what systemd reads is what vidproc reads.
env_file="$work/root/etc/vidproc/vidproc.env"
bad=$(grep -vE '^(#.*)?$' "$env_file" | grep -vE '^[A-Z][A-Z0-9_]*=[^#"'"'"'\\[:space:]]*$' || true)
[ -z "$bad" ] || fail "env file lines that systemd and vidproc would read differently: $bad"
mapfile -t settings < <(grep -vE '^(#.*)?$' "$env_file")
[ "${settings[*]}" = "VIDPROC_DATA_DIR=/var/lib/vidproc" ] ||
  fail "the env file sets more than the data directory: ${settings[*]}"
every=$(grep -cE '^#[A-Z][A-Z0-9_]*=' "$env_file")
listed=$(env -i "$build/vidproc" config --markdown | grep -c '^| `')
[ "$every" -eq $((listed - 1)) ] || fail "the env file shows $every settings, vidproc has $listed"
shown=$(cd "$work" && env -i "${settings[@]}" "$build/vidproc" config --env-file /dev/null) ||
  fail "vidproc refuses the packaged settings"
grep -q '"VIDPROC_DATA_DIR": "/var/lib/vidproc"' <<<"$shown" || fail "VIDPROC_DATA_DIR not applied"
echo "ok: $(basename "$deb"): $(du -h "$deb" | cut -f1), binary $(du -h "$work/root/usr/bin/vidproc" | cut -f1), Depends: $depends"
