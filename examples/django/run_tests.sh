#!/usr/bin/env bash
# The Django example against a real vidproc, end to end:
#  1. `vidproc serve` on a free 127.0.0.1 port, a fresh data directory, a token, WEBHOOK_URL on this
#     site's port, WEBHOOK_SECRET and VIDPROC_CORS_ORIGINS = this site's origin;
#  2. `manage.py test`: the webhook view with signed bodies (bad signature, stale timestamp,
#     duplicate), the pages, the direct-upload view against that vidproc, and a clip uploaded
#     through a direct upload whose real webhooks reach Django's live test server;
#  3. `manage.py runserver` on that port (another origin than vidproc's) and e2e_test.mjs: headless
#     Chromium uploads the clip through the site's page straight to vidproc, the page turns ready
#     through the webhook, and its <video> plays.
#
# usage: VIDPROC_BIN=build/vidproc VIDPROC_FIXTURES_DIR=build/fixtures examples/django/run_tests.sh
#        (or run_tests.sh VIDPROC_BIN FIXTURES_DIR). CHROMIUM=/path picks another browser,
#        DJANGO_TEST_KEEP=1 keeps the temporary directory (logs, databases).
# Exit status: 0 passed, 1 failed, 77 a prerequisite is not installed (python3-django, node/npm,
# chromium): skipped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VIDPROC_BIN=${1:-${VIDPROC_BIN:-}}
fixtures=${2:-${VIDPROC_FIXTURES_DIR:-}}
chromium=${CHROMIUM:-/usr/bin/chromium}
clip_name=${DJANGO_TEST_CLIP_NAME:-real_720p.mp4}

fail() { echo "FAIL django_example: $*" >&2; exit 1; }
skip() { echo "SKIP django_example: $*" >&2; exit 77; }

# What the build and ctest provide: their absence is a failure, not a skip.
[[ -n "$VIDPROC_BIN" && -x "$VIDPROC_BIN" ]] || fail "VIDPROC_BIN (the built vidproc) is not set or not executable: '$VIDPROC_BIN'"
VIDPROC_BIN=$(cd "$(dirname "$VIDPROC_BIN")" && pwd)/$(basename "$VIDPROC_BIN")
[ -n "$fixtures" ] || fail "VIDPROC_FIXTURES_DIR (the media fixtures) is not set"
[ -d "$fixtures" ] || fail "VIDPROC_FIXTURES_DIR '$fixtures' is not a directory"
clip=$(cd "$fixtures" && pwd)/$clip_name
[ -f "$clip" ] || fail "no clip $clip_name in '$fixtures' (make the fixtures first: ctest -R make_fixtures)"

# Installed prerequisites: Debian's Django (the python3 that has it: a pyenv or venv python3
# first on PATH may not), Node.js with npm, Chromium.
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import django, sys; sys.exit(0 if django.VERSION >= (3, 2) else 1)' 2>/dev/null; then
    python=$(command -v "$candidate")
    break
  fi
done
[ -n "$python" ] || skip "no python3 with Django 3.2 or later (apt-get install python3-django)"
{ command -v node && command -v npm; } >/dev/null || skip "node and npm are not installed"
[ -x "$chromium" ] || skip "$chromium not found (apt-get install chromium)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vidproc-django-XXXXXX")
vidproc_pid=""
site_pid=""
stop() {
  local status=$?
  # Nothing here may end the cleanup early: not a failed command, nor writing to a closed pipe.
  set +e
  trap '' PIPE
  if [ -n "$site_pid" ] && kill "$site_pid" 2>/dev/null; then
    wait "$site_pid" 2>/dev/null
  fi
  if [ -n "$vidproc_pid" ] && kill -TERM "$vidproc_pid" 2>/dev/null; then
    wait "$vidproc_pid" 2>/dev/null
  fi
  if [ "$status" -ne 0 ]; then
    echo "--- vidproc log (last 40 lines, access log excluded):" >&2
    grep -v ' info http ' "$tmp/vidproc.log" 2>/dev/null | tail -40 >&2
    echo "--- runserver log (last 30 lines):" >&2
    tail -30 "$tmp/runserver.log" 2>/dev/null >&2
  fi
  if [ -n "${DJANGO_TEST_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$status"
}
trap stop EXIT
# A signal (or a reader of the output that went away) still stops the servers.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

started=$SECONDS
phase() { echo "== $* ($((SECONDS - started)) s)"; }

# --- the browser's tus client and the test's playwright-core, from the lock file
phase "npm: tus-js-client into the static files"
cd "$here"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >"$tmp/npm.log" 2>&1 || { cat "$tmp/npm.log" >&2; fail "npm ci"; }
fi
npm run --silent vendor

# --- this site's origin: a free port now, so that vidproc can be told it
site_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
site_origin="http://127.0.0.1:$site_port"
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
webhook_secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

failures=()
# A vidproc without direct uploads (POST /api/v1/direct-uploads) does not know this setting: it
# would refuse to start with it. Then it starts without it, the webhook and page tests still
# run, and the direct-upload ones fail, saying why.
cors=(VIDPROC_CORS_ORIGINS="$site_origin")
if ! env -i VIDPROC_CORS_ORIGINS="$site_origin" "$VIDPROC_BIN" config --env-file /dev/null >/dev/null 2>&1; then
  echo "FAIL: this vidproc has no direct uploads (it does not know VIDPROC_CORS_ORIGINS):" \
       "the direct-upload and end-to-end tests cannot pass" >&2
  failures+=("vidproc without direct uploads")
  cors=()
fi

phase "vidproc serve (webhooks to $site_origin)"
mkdir -p "$tmp/vidproc"
# A clean environment, an empty env file and the temp dir as cwd: nothing of the caller's leaks
# in (vidproc refuses unknown VIDPROC_* variables, such as this script's VIDPROC_BIN).
# The sanitizers' options go through (scripts/test.sh runs this under AddressSanitizer too).
keep=(PATH="$PATH" HOME="$tmp" TMPDIR="${TMPDIR:-/tmp}")
for name in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
  [ -n "${!name:-}" ] && keep+=("$name=${!name}")
done
(cd "$tmp/vidproc" && exec env -i "${keep[@]}" \
   VIDPROC_API_TOKEN="$token" WEBHOOK_URL="$site_origin/webhooks/vidproc/" \
   WEBHOOK_SECRET="$webhook_secret" "${cors[@]}" \
   "$VIDPROC_BIN" serve --env-file /dev/null --listen 127.0.0.1:0 --port-file "$tmp/vidproc.port" \
   --data-dir "$tmp/vidproc/data") >"$tmp/vidproc.log" 2>&1 &
vidproc_pid=$!
for _ in $(seq 300); do
  [ -s "$tmp/vidproc.port" ] && break
  kill -0 "$vidproc_pid" 2>/dev/null || fail "vidproc serve exited before listening"
  sleep 0.1
done
[ -s "$tmp/vidproc.port" ] || fail "vidproc serve wrote no port in 30 s"
vidproc_url="http://127.0.0.1:$(cat "$tmp/vidproc.port")"
for _ in $(seq 100); do
  curl -fsS "$vidproc_url/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$vidproc_url/healthz" >/dev/null || fail "$vidproc_url/healthz does not answer"
echo "vidproc at $vidproc_url"

export DJANGO_ENV_FILE=/dev/null DJANGO_DEBUG=1 DJANGO_DB_PATH="$tmp/site.sqlite3" \
  VIDPROC_URL="$vidproc_url" VIDPROC_API_TOKEN="$token" VIDPROC_WEBHOOK_SECRET="$webhook_secret" \
  VIDPROC_TESTS_REQUIRED=1 DJANGO_LIVE_TEST_PORT="$site_port" DJANGO_SITE_ORIGIN="$site_origin" \
  DJANGO_TEST_CLIP="$clip" PYTHONDONTWRITEBYTECODE=1

phase "manage.py test"
"$python" manage.py test --noinput -v 2 || failures+=("manage.py test")

phase "manage.py runserver on $site_origin"
"$python" manage.py migrate --noinput >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; fail "migrate"; }
"$python" manage.py runserver --noreload "127.0.0.1:$site_port" >"$tmp/runserver.log" 2>&1 &
site_pid=$!
for _ in $(seq 200); do
  curl -fsS -o /dev/null "$site_origin/" 2>/dev/null && break
  kill -0 "$site_pid" 2>/dev/null || fail "runserver exited"
  sleep 0.1
done
curl -fsS -o /dev/null "$site_origin/" || fail "$site_origin/ does not answer"

phase "Chromium: upload through the page, ready through the webhook, playing"
SITE_URL="$site_origin/" CHROMIUM="$chromium" CLIP="$clip" SCRATCH_DIR="$tmp" \
  node e2e_test.mjs || failures+=("e2e_test.mjs (Chromium)")

if [ ${#failures[@]} -gt 0 ]; then
  fail "$(IFS=';'; echo "${failures[*]}") ($((SECONDS - started)) s)"
fi
phase "PASS django_example"
