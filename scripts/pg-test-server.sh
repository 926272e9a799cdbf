#!/usr/bin/env bash
# Starts and stops a real throwaway PostgreSQL 15 server (Debian 12's postgresql package) on
# 127.0.0.1 for the test suite. The cluster lives under DIR: DIR/data (initdb), DIR/run (its unix
# socket), DIR/logs. No systemd, no pg_ctlcluster; nothing under /etc/postgresql is used.
#
#   scripts/pg-test-server.sh start DIR    # prints PG_TEST_* lines on stdout (also in DIR/env)
#   scripts/pg-test-server.sh stop DIR     # stops the server; idempotent; exit 0 if DIR is missing
#   scripts/pg-test-server.sh restart DIR  # stop, then start the SAME data on the same port
#   scripts/pg-test-server.sh status DIR   # exit 0 when running (prints the env), 1 otherwise
#
#   eval "$(scripts/pg-test-server.sh start /tmp/vidproc-pg)"   # or: set -a; . DIR/env; set +a
#   psql "$PG_TEST_URL" -c 'select 1'
#
# `start` on a DIR whose server runs prints its env and changes nothing; otherwise it throws
# away whatever an earlier run left in DIR/data and initdb's a fresh cluster. `restart` keeps the
# data: connections open across it are broken, and clients must reconnect.
#
# Only the PG_TEST_* lines go to stdout (PG_TEST_URL, PG_TEST_PORT, PG_TEST_DIR, and
# PG_TEST_SOCKET_DIR unless DIR is too long for a unix socket); everything else goes to stderr
# and DIR/logs/*.log (the server's own log is DIR/logs/postgres.log). The server runs detached
# (its own session) under pg_ctl; its pid is the first line of DIR/data/postmaster.pid, and every
# process of it has DIR/data as its working directory, which is how stop finds them all.
#
# PostgreSQL refuses to run as root: when run as root, DIR belongs to the `postgres` user (the
# Debian package creates it) and initdb, pg_ctl and the server run as that user (runuser);
# otherwise they run as the calling user. When that user cannot reach DIR (a parent folder is
# closed to it), DIR/data and DIR/run are links to a folder of its own under /tmp.
#
# The server: trust authentication for unix-socket and 127.0.0.1 connections (it listens on
# nothing else), fsync and synchronous_commit on, shared_buffers 16MB, max_connections 100,
# TimeZone UTC, locale C, UTF8. Role `vidproc` (LOGIN) owns database `vidproc_test`; the
# superuser is `postgres`.
#
# Environment:
#   PG_TEST_PORT   port (default 55432; the next free one is picked when busy)
set -euo pipefail

readonly PG_MAJOR=15
readonly BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
readonly DB_NAME="vidproc_test"
readonly DB_ROLE="vidproc"
readonly SUPERUSER="postgres"
readonly CONF_NAME="pg-test-server.conf"   # our settings, included by DIR/data/postgresql.conf
readonly START_TIMEOUT_S=60
readonly STOP_TIMEOUT_S=30

wanted_port=${PG_TEST_PORT:-55432}
# libpq's and pg_ctl's own variables (PGHOST, PGPORT, PGDATA, ...) must not steer the tools here.
while read -r name; do
  [[ "$name" =~ ^PG[A-Z]*$ ]] && unset "$name"
done < <(compgen -e)

readonly SERVER_NAME="pg-test-server"
# shellcheck source=scripts/lib/test-server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"

parse_server_args "start|stop|restart|status" "$@"
refuse_dir_chars "'\\" "whitespace, quotes or backslashes"
if ! [[ "$wanted_port" =~ ^[0-9]+$ ]] || ((wanted_port < 1 || wanted_port > 65535)); then
  echo "pg-test-server: PG_TEST_PORT must be a port number: '$wanted_port'" >&2
  exit 2
fi

if [ "$cmd" = restart ] && [ ! -d "$dir_arg" ]; then
  echo "$SERVER_NAME: no server to restart under $dir_arg" >&2
  exit 1
fi
open_server_dir
SERVER_LOG="$LOGS/postgres.log"

# The server's own files, DATA (initdb) and RUN (its unix socket), are DIR/data and DIR/run.
# When the server's user cannot reach DIR (a parent folder closed to it, e.g. a checkout under
# /root), they are in a folder of /tmp of their own instead, which DIR/data and DIR/run link to.
set_root() {
  if [ -L "$DIR/data" ]; then
    PGROOT=$(dirname "$(readlink -f "$DIR/data")")
  else
    PGROOT=$DIR
  fi
  DATA="$PGROOT/data"
  RUN="$PGROOT/run"
}
set_root

# --- as the server's user ---------------------------------------------------------------------

if [ "$(id -u)" -eq 0 ]; then
  PG_USER=postgres
else
  PG_USER=$(id -un)
fi

# Runs a command as PG_USER from / (the caller's directory may be out of its reach), with the
# lock (fd 9) closed so that a server started here does not hold it.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && exec runuser -u "$PG_USER" -- "$@" 9>&-)
  else
    (cd / && exec "$@" 9>&-)
  fi
}

# --- processes --------------------------------------------------------------------------------

# Pids of every process of this cluster: the postmaster and its children (orphaned backends of
# a killed postmaster included) are `postgres` processes whose working directory is DATA.
cluster_pids() {
  local d
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/cwd" 2>/dev/null)" = "$DATA" ] || continue
    [ "$(cat "$d/comm" 2>/dev/null)" = postgres ] || continue
    echo "${d#/proc/}"
  done
  return 0
}

# The postmaster's pid when it is alive and ours; fails otherwise.
postmaster_pid() {
  local pid
  [ -f "$DATA/postmaster.pid" ] || return 1
  pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$DATA" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 1
  echo "$pid"
}

stop_server() {
  local pid i pids
  if pid=$(postmaster_pid); then
    log "stopping the server (pid $pid)"
    as_pg "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t "$STOP_TIMEOUT_S" >>"$LOGS/pg_ctl.log" 2>&1 ||
      log "pg_ctl stop -m fast did not finish within ${STOP_TIMEOUT_S}s; killing the server"
  fi
  pids=$(cluster_pids)
  if [ -n "$pids" ]; then
    log "killing what is left: $(tr '\n' ' ' <<<"$pids")"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # 10 s
      [ -z "$(cluster_pids)" ] && break
      sleep 0.1
    done
    [ -z "$(cluster_pids)" ] || die "processes of $DATA survive SIGKILL: $(cluster_pids | tr '\n' ' ')"
  fi
  # Nothing of the cluster runs now. Lock files left by a killed server would stop the next
  # start while their pid is still taken (a zombie not yet reaped, or a recycled pid).
  rm -f "$DATA/postmaster.pid" "$RUN"/.s.PGSQL.*
  return 0
}

# --- installation -----------------------------------------------------------------------------

install_packages() {
  install_missing_packages postgresql postgresql-client libpq-dev
  [ -x "$BIN/postgres" ] || die "$BIN/postgres is missing after installing PostgreSQL $PG_MAJOR"
  id -u "$PG_USER" >/dev/null 2>&1 || die "user $PG_USER does not exist"
}

# --- the cluster ------------------------------------------------------------------------------

# A fresh PGROOT (see set_root) that the server's user owns and reaches; the old one is gone.
new_root() {
  if [ "$PGROOT" != "$DIR" ]; then rm -rf "$PGROOT"; fi
  rm -rf "$DIR/data" "$DIR/run"
  PGROOT=$DIR
  if [ "$(id -u)" -eq 0 ]; then chown "$PG_USER:" "$DIR"; fi
  if ! as_pg test -w "$DIR" -a -x "$DIR"; then
    PGROOT=$(mktemp -d /tmp/pg-test-server.XXXXXXXX)
    chmod 0755 "$PGROOT"
    if [ "$(id -u)" -eq 0 ]; then chown "$PG_USER:" "$PGROOT"; fi
    ln -s "$PGROOT/data" "$DIR/data"
    ln -s "$PGROOT/run" "$DIR/run"
    log "user $PG_USER cannot reach $DIR (a parent folder is closed to it): the server's files are in $PGROOT, linked from $DIR"
  fi
  DATA="$PGROOT/data"
  RUN="$PGROOT/run"
  own_run
}

# The socket folder, which the server's user owns.
own_run() {
  mkdir -p "$RUN"
  chmod 0755 "$RUN"
  if [ "$(id -u)" -eq 0 ]; then chown "$PG_USER:" "$RUN"; fi
  as_pg test -w "$PGROOT" -a -x "$PGROOT" -a -w "$RUN" || die "user $PG_USER cannot write to $PGROOT"
}

# Unix sockets need a path under 108 bytes; with a DIR too long for that, TCP only.
socket_dir_for() {
  local port=$1
  if [ $((${#RUN} + ${#port} + 12)) -lt 108 ]; then echo "$RUN"; fi
}

# pg_hba.conf, and the settings in DATA/pg-test-server.conf (included by postgresql.conf).
write_conf() {
  local port=$1 socket_dir=$2
  cat >"$DATA/pg_hba.conf" <<EOF
# Written by pg-test-server.sh: a throwaway test cluster. Trust for local connections only.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
host    all          all   127.0.0.1/32   trust
local   replication  all                  trust
host    replication  all   127.0.0.1/32   trust
EOF
  grep -qF "include '$CONF_NAME'" "$DATA/postgresql.conf" ||
    printf "\n# pg-test-server.sh's settings (last: they win)\ninclude '%s'\n" "$CONF_NAME" >>"$DATA/postgresql.conf"
  cat >"$DATA/$CONF_NAME" <<EOF
# Written by pg-test-server.sh: a throwaway test cluster. Not for real data.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
unix_socket_permissions = 0777
max_connections = 100
shared_buffers = 16MB
huge_pages = off
# Durability as in production: the durability tests need it.
fsync = on
synchronous_commit = on
full_page_writes = on
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  if [ "$(id -u)" -eq 0 ]; then chown "$PG_USER:" "$DATA/$CONF_NAME"; fi
  echo "$port" >"$DIR/port"
}

# Starts the server on DATA (already initdb'd and configured) and waits until it answers.
# Fails (after logging why) when it does not come up; a start that failed to bind its port
# leaves the mark DIR/.port-taken.
start_server() {
  local port=$1 log_size=0
  rm -f "$DIR/.port-taken"
  [ -f "$SERVER_LOG" ] && log_size=$(stat -c %s "$SERVER_LOG")
  # No -l: the server (and pg_ctl's few lines) write to the log this script opens, so the server's
  # user needs no access to DIR/logs.
  if ! as_pg setsid "$BIN/pg_ctl" start -D "$DATA" -w -t "$START_TIMEOUT_S" \
    >>"$SERVER_LOG" 2>&1 </dev/null; then
    if tail -c +$((log_size + 1)) "$SERVER_LOG" 2>/dev/null |
      grep -q "could not bind\|Address already in use"; then
      touch "$DIR/.port-taken"
      log "port $port was taken before the server could bind it"
    else
      log "the server did not start on port $port (see $SERVER_LOG)"
    fi
    stop_server
    return 1
  fi
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres -t 2; do
    if ! postmaster_pid >/dev/null; then
      log "the server exited during start-up (see $SERVER_LOG)"
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "the server does not answer on 127.0.0.1:$port (see $SERVER_LOG)"
      return 1
    fi
    sleep 0.1
  done
  log "server (pid $(postmaster_pid)) answers on 127.0.0.1:$port"
}

psql_admin() {
  local port=$1
  shift
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres "$@"
}

write_env() {
  local port=$1 socket_dir=$2
  {
    echo "PG_TEST_URL=postgres://$DB_ROLE@127.0.0.1:$port/$DB_NAME"
    echo "PG_TEST_PORT=$port"
    echo "PG_TEST_DIR=$DIR"
    [ -n "$socket_dir" ] && echo "PG_TEST_SOCKET_DIR=$socket_dir"
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
}

# The first free port from $1 upwards, else a random free one.
next_port() {
  free_port_from "$1" 100 || random_free_port
}

fresh_cluster() {
  # Whatever an earlier run left is thrown away (logs too).
  rm -rf "$DATA" "$RUN" "$DIR/env" "$DIR/port" "$DIR/.port-taken"
  find "$LOGS" -maxdepth 1 -type f -name '*.log' ! -name apt.log ! -name pg-test-server.log -delete
  new_root

  log "initdb into $DATA"
  # --no-sync: initdb's own files are not fsync'd (a throwaway cluster); the server fsyncs.
  as_pg "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust --encoding=UTF8 --locale=C \
    --no-sync >>"$LOGS/initdb.log" 2>&1 || die "initdb failed (see $LOGS/initdb.log)"

  # Another server (another DIR's, say) may take a free port between the check and the bind.
  local port=$wanted_port socket_dir tries
  for ((tries = 1; ; tries++)); do
    port=$(next_port "$port") || die "no free port"
    [ "$port" = "$wanted_port" ] || log "port $wanted_port is busy; the server uses $port"
    socket_dir=$(socket_dir_for "$port")
    [ -n "$socket_dir" ] || log "$RUN is too long for a unix socket; TCP only"
    write_conf "$port" "$socket_dir"
    start_server "$port" && break
    if [ ! -f "$DIR/.port-taken" ] || [ $tries -ge 5 ]; then
      die "the server did not start (see $SERVER_LOG)"
    fi
    port=$((port + 1))
  done

  psql_admin "$port" -c "CREATE ROLE $DB_ROLE LOGIN" >>"$LOGS/setup.log" 2>&1 ||
    die "creating role $DB_ROLE failed (see $LOGS/setup.log)"
  psql_admin "$port" -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE" >>"$LOGS/setup.log" 2>&1 ||
    die "creating database $DB_NAME failed (see $LOGS/setup.log)"
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "postgres://$DB_ROLE@127.0.0.1:$port/$DB_NAME" \
    -c 'select 1' >>"$LOGS/setup.log" 2>&1 || die "$DB_ROLE cannot connect to $DB_NAME (see $LOGS/setup.log)"
  write_env "$port" "$socket_dir"
}

# Starts the cluster already in DATA on the port it was made with.
existing_cluster() {
  local port socket_dir
  if [ ! -f "$DATA/PG_VERSION" ] || [ ! -f "$DIR/port" ]; then die "no cluster under $DATA to restart"; fi
  port=$(cat "$DIR/port")
  socket_dir=$(socket_dir_for "$port")
  port_busy "$port" && die "port $port, the cluster's, is taken by another process"
  own_run
  start_server "$port" || die "the server did not restart (see $SERVER_LOG)"
  write_env "$port" "$socket_dir"
}

running() {
  local port
  postmaster_pid >/dev/null || return 1
  [ -f "$DIR/env" ] || return 1
  port=$(sed -n 's/^PG_TEST_PORT=//p' "$DIR/env")
  [ -n "$port" ] && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres -t 5
}

# --- commands ---------------------------------------------------------------------------------

lock_server_dir

case "$cmd" in
  start)
    exit_if_running
    install_packages
    started_ms=$(($(date +%s%N) / 1000000))
    stop_server
    # shellcheck disable=SC2154 # rc is assigned inside the trap
    trap 'rc=$?; if [ "$rc" -ne 0 ]; then log "start failed; stopping what was started"; stop_server; rm -f "$DIR/env"; fi' EXIT
    fresh_cluster
    trap - EXIT
    log "ready in $(($(date +%s%N) / 1000000 - started_ms)) ms; env in $DIR/env; stop with: $0 stop $DIR"
    cat "$DIR/env"
    ;;
  stop)
    stop_server
    rm -f "$DIR/env"
    ;;
  restart)
    install_packages
    rm -f "$DIR/env"
    stop_server
    existing_cluster
    log "restarted; clients connected before must reconnect"
    cat "$DIR/env"
    ;;
  status)
    print_status
    ;;
esac
