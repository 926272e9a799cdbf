# Helpers shared by scripts/pg-test-server.sh and scripts/s3-test-server.sh (sourced, not run).
# The caller sets SERVER_NAME (the prefix of its messages) before sourcing, and calls
# open_server_dir before anything that logs: it sets DIR and LOGS.
# shellcheck shell=bash

# Checks the command line `CMD DIR` against the commands the caller accepts, given as
# "start|stop|status"; sets cmd and dir_arg.
# usage: parse_server_args "start|stop|status" "$@"
parse_server_args() {
  local commands=$1
  shift
  if [ $# -ne 2 ] || [[ "|$commands|" != *"|$1|"* ]]; then
    echo "usage: $0 $commands DIR" >&2
    exit 2
  fi
  cmd=$1
  dir_arg=$2
}

# Refuses a DIR that would break the generated configuration files: one with whitespace or any
# character of $1; $2 names them for the message.
# usage: refuse_dir_chars "'\\" "whitespace, quotes or backslashes"
refuse_dir_chars() {
  local extra=$1 what=$2
  if [[ "$dir_arg" == *[[:space:]]* ]] || { [ -n "$extra" ] && [[ "$dir_arg" == *["$extra"]* ]]; }; then
    echo "$SERVER_NAME: DIR must not contain $what: '$dir_arg'" >&2
    exit 2
  fi
}

# Makes DIR (absolute, links resolved) and LOGS. A command other than start on a missing DIR
# has nothing to act on: stop succeeds, everything else fails.
open_server_dir() {
  if [ "$cmd" != start ] && [ ! -d "$dir_arg" ]; then
    [ "$cmd" = stop ] && exit 0
    exit 1
  fi
  mkdir -p "$dir_arg"
  DIR=$(cd "$dir_arg" && pwd -P)
  LOGS="$DIR/logs"
  mkdir -p "$LOGS"
}

# One start or stop at a time per DIR: the lock is fd 9, which every process started from here
# must close (9>&-) so that it does not outlive this script.
lock_server_dir() {
  exec 9>"$DIR/.lock"
  flock -w 300 9 || die "another start/stop on $DIR holds $DIR/.lock"
}

# `start` on a DIR whose server runs prints its env and changes nothing. `running` is the
# caller's own check.
exit_if_running() {
  if running; then
    log "already running"
    cat "$DIR/env"
    exit 0
  fi
}

# `status`: the env and exit 0 when the server runs, exit 1 otherwise.
print_status() {
  running || exit 1
  cat "$DIR/env"
}

log() {
  local line
  line="$SERVER_NAME: $*"
  echo "$line" >&2
  echo "$(date '+%F %T') $line" >>"$LOGS/$SERVER_NAME.log"
}

die() {
  log "error: $*"
  exit 1
}

# --- ports ------------------------------------------------------------------------------------

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The first free port from $1 upwards (at most $2 tries); empty if none. Ports from
# RESERVED_PORTS_FIRST to RESERVED_PORTS_LAST (when the caller sets them) are passed over.
free_port_from() {
  local p=$1 tries=$2
  for ((; tries > 0 && p < 65536; tries--, p++)); do
    if [ -n "${RESERVED_PORTS_FIRST:-}" ] && ((p >= RESERVED_PORTS_FIRST && p <= RESERVED_PORTS_LAST)); then
      continue
    fi
    if ! port_busy "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

random_free_port() {
  free_port_from $((20000 + RANDOM % 30000)) 200
}

# --- installation -----------------------------------------------------------------------------

# Installs the Debian packages named that are not installed yet (apt output in LOGS/apt.log).
install_missing_packages() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing: ${missing[*]} (apt output in $LOGS/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying"
    $sudo apt-get update >>"$LOGS/apt.log" 2>&1 || die "apt-get update failed (see $LOGS/apt.log)"
    $sudo apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1 ||
      die "apt-get install failed (see $LOGS/apt.log)"
  fi
}
