#!/usr/bin/env bash
# Starts and stops a real S3-compatible server on 127.0.0.1 for the test suite: Ceph's RADOS
# Gateway (the software DigitalOcean Spaces is built on) from Debian 12's packages, on a
# throwaway single-node cluster (1 monitor, 1 OSD, radosgw; no manager) that lives under DIR.
#
#   scripts/s3-test-server.sh start DIR   # prints S3_TEST_* lines on stdout (also in DIR/env)
#   scripts/s3-test-server.sh stop DIR    # stops every daemon it started; idempotent
#   scripts/s3-test-server.sh status DIR  # exit 0 when running (prints the env), 1 otherwise
#   scripts/s3-test-server.sh stop-gateway DIR   # an outage: only the gateway stops; data stays
#   scripts/s3-test-server.sh start-gateway DIR  # the gateway comes back on the same port
#
#   eval "$(scripts/s3-test-server.sh start /tmp/vidproc-s3)"   # or: set -a; . DIR/env; set +a
#
# Only the S3_TEST_* lines go to stdout; everything else goes to stderr and DIR/logs/*.log.
# Each daemon runs in the foreground (-f) as a detached background process whose pid is in
# DIR/mon.pid, DIR/osd.pid, DIR/rgw.pid. No systemd, nothing under /etc/ceph is read or written.
#
# Environment:
#   S3_TEST_PORT       gateway port (default 7480; another free one is picked when busy)
#   S3_TEST_MON_PORT   monitor port (default: a free one)
#   S3_TEST_OSD_STORE  bluestore (default): objects go to a sparse 10 GiB file under DIR and the
#                      OSD's memory stays bounded (~120 MB); start takes ~8 s.
#                      memstore (default when DIR is on tmpfs): objects live in the OSD's memory
#                      (about twice their size, deleted ones until RGW's garbage collection);
#                      start takes ~1 s. Fine for small test data.
#   S3_TEST_ACCESS_KEY / S3_TEST_SECRET_KEY   override the fixed test credentials
set -euo pipefail
unset CEPH_ARGS CEPH_CONF

readonly ACCESS_KEY_DEFAULT="VIDPROCTESTACCESSKEY"
readonly SECRET_KEY_DEFAULT="vidprocTestSecretKey0123456789abcdefWXYZ"
readonly DNS_NAME="s3.localhost"
readonly USER_ID="test"
readonly START_TIMEOUT_S=90
# Stop order: the gateway, then the OSD (it tells the monitor it is going away), the monitor last.
readonly DAEMONS=(rgw osd mon)

readonly SERVER_NAME="s3-test-server"
# 6800-7300 is where the OSD binds its own ports.
readonly RESERVED_PORTS_FIRST=6800 RESERVED_PORTS_LAST=7300
# shellcheck source=scripts/lib/test-server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"

parse_server_args "start|stop|status|stop-gateway|start-gateway" "$@"
refuse_dir_chars "" "whitespace"
open_server_dir
CONF="$DIR/ceph.conf"

# --- processes --------------------------------------------------------------------------------

# True when the pid recorded in DIR/NAME.pid is alive and is one of ours (its command line
# names this DIR's ceph.conf), so a recycled pid is never signalled.
daemon_alive() {
  local name=$1 pid
  [ -f "$DIR/$name.pid" ] || return 1
  pid=$(cat "$DIR/$name.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  # A zombie has an empty command line.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF"
}

stop_daemon() {
  local name=$1 pid i
  [ -f "$DIR/$name.pid" ] || return 0
  if daemon_alive "$name"; then
    pid=$(cat "$DIR/$name.pid")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # 10 s
      daemon_alive "$name" || break
      sleep 0.1
    done
    if daemon_alive "$name"; then
      log "$name (pid $pid) ignored TERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        daemon_alive "$name" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$DIR/$name.pid"
}

stop_all() {
  local name
  for name in "${DAEMONS[@]}"; do stop_daemon "$name"; done
}

# Starts NAME's command detached (own session, no terminal, stdout/stderr to DIR/logs) and
# records its pid.
launch() {
  local name=$1
  shift
  # fd 9 (the lock below) is closed so that the daemons do not hold it.
  setsid "$@" </dev/null >>"$LOGS/$name.stderr.log" 2>&1 9>&- &
  echo $! >"$DIR/$name.pid"
  log "started $name (pid $!): $*"
}

# --- installation -----------------------------------------------------------------------------

install_packages() {
  install_missing_packages ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl util-linux
}

# --- the cluster ------------------------------------------------------------------------------

ceph_cli() {
  timeout 60 ceph -c "$CONF" --connect-timeout 30 "$@"
}

write_conf() {
  local fsid=$1 mon_port=$2 rgw_port=$3 store=$4
  local osd_store_conf
  if [ "$store" = bluestore ]; then
    # bluestore_block_path stays unset: the default is the OSD's own "block" file.
    osd_store_conf="osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
bluestore cache autotune = false
bluestore cache size = 67108864
bluestore rocksdb options = compression=kNoCompression,max_write_buffer_number=2,min_write_buffer_number_to_merge=1,recycle_log_file_num=2,write_buffer_size=16777216,writable_file_max_buffer_size=0,compaction_readahead_size=2097152"
  else
    # Capacity the OSD reports; objects use memory as they are written.
    osd_store_conf="osd objectstore = memstore
memstore device bytes = 2147483648"
  fi
  # Admin sockets must fit a unix socket path (108 bytes); without one the daemons still run.
  local asok="$DIR/run/\$cluster-\$name.asok"
  if [ $((${#DIR} + 30)) -gt 107 ]; then asok=""; fi
  cat >"$CONF" <<EOF
# Throwaway single-node test cluster written by s3-test-server.sh. Not for real data.
[global]
fsid = $fsid
mon host = 127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# No cephx: a throwaway cluster on loopback. RGW asks for a secure monitor connection by
# default, which needs cephx, so it is relaxed to crc.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
run dir = $DIR/run
admin socket = $asok
pid file = $DIR/run/\$cluster-\$name.pid
log file = $LOGS/\$cluster-\$name.log
keyring = $DIR/keyring
# One OSD: pools of size 1, placement on the OSD alone, few placement groups.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon max pg per osd = 1000
# The monitor shuts itself down when its disk is fuller than this (default 5 % free).
mon data avail crit = 1
mon data avail warn = 2

[client.admin]
# ceph / radosgw-admin invocations: no admin socket or pid file of their own.
admin socket =
pid file =

[mon]
mon data = $DIR/mon/\$cluster-\$id
# Map changes (pool creation by RGW at start and at the first bucket) are proposed at once
# instead of once a second.
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
osd data = $DIR/osd/\$cluster-\$id
$osd_store_conf
osd op num shards = 2
osd op num threads per shard = 2

[client.rgw]
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = $DNS_NAME
rgw thread pool size = 32
rgw enable usage log = false
# Deleted and overwritten objects' data is freed after 30 s instead of 2 h.
rgw gc obj min wait = 30
rgw gc processor period = 30
rgw gc processor max time = 30
EOF
}

start_cluster() {
  local store=${S3_TEST_OSD_STORE:-}
  if [ -z "$store" ]; then
    # On tmpfs a block file would be in memory anyway (and O_DIRECT may be refused).
    if [ "$(stat -f -c %T "$DIR")" = tmpfs ]; then store=memstore; else store=bluestore; fi
  fi
  case "$store" in memstore | bluestore) ;; *) die "S3_TEST_OSD_STORE must be memstore or bluestore" ;; esac

  local rgw_port=${S3_TEST_PORT:-7480} mon_port=${S3_TEST_MON_PORT:-}
  if port_busy "$rgw_port"; then
    local wanted=$rgw_port
    rgw_port=$(free_port_from $((wanted + 1)) 100 || random_free_port) || die "no free port for the gateway"
    log "port $wanted is busy; the gateway uses $rgw_port"
  fi
  if [ -z "$mon_port" ] || port_busy "$mon_port"; then
    mon_port=$(random_free_port) || die "no free port for the monitor"
  fi

  # A fresh cluster every time: whatever an earlier run left is thrown away (logs too).
  rm -rf "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/run" "$DIR/monmap" "$DIR/env" "$CONF"
  find "$LOGS" -maxdepth 1 -type f -name '*.log' ! -name apt.log ! -name s3-test-server.log -delete
  mkdir -p "$DIR/mon" "$DIR/osd/ceph-0" "$DIR/rgw" "$DIR/run"

  local fsid osd_uuid osd_id
  fsid=$(uuidgen)
  write_conf "$fsid" "$mon_port" "$rgw_port" "$store"
  log "cluster $fsid under $DIR: monitor on 127.0.0.1:$mon_port, gateway on 127.0.0.1:$rgw_port, OSD $store"

  # Monitor.
  monmaptool --create --clobber --add a "127.0.0.1:$mon_port" --fsid "$fsid" "$DIR/monmap" >>"$LOGS/setup.log" 2>&1 ||
    die "monmaptool failed (see $LOGS/setup.log)"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >>"$LOGS/setup.log" 2>&1 ||
    die "ceph-mon --mkfs failed (see $LOGS/setup.log)"
  launch mon ceph-mon -c "$CONF" -f -i a
  ceph_cli mon stat >>"$LOGS/setup.log" 2>&1 || die "the monitor does not answer (see $LOGS/ceph-mon.a.log)"

  # OSD.
  osd_uuid=$(uuidgen)
  osd_id=$(ceph_cli osd new "$osd_uuid" 2>>"$LOGS/setup.log") || die "ceph osd new failed (see $LOGS/setup.log)"
  [ "$osd_id" = 0 ] || die "unexpected OSD id '$osd_id'"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$LOGS/setup.log" 2>&1 ||
    die "ceph-osd --mkfs failed (see $LOGS/setup.log and $LOGS/ceph-osd.0.log)"
  launch osd ceph-osd -c "$CONF" -f -i 0

  # Gateway: at its first start it creates its pools (with the small pg counts above) and the
  # default realm/zonegroup/zone; it answers HTTP once that is done.
  launch rgw radosgw -c "$CONF" -f -n client.rgw
  local endpoint="http://127.0.0.1:$rgw_port" deadline=$((SECONDS + START_TIMEOUT_S)) name
  until curl -s -o /dev/null --max-time 2 "$endpoint/"; do
    for name in "${DAEMONS[@]}"; do
      daemon_alive "$name" || die "$name exited during start-up (see $LOGS/)"
    done
    [ $SECONDS -lt $deadline ] || die "the gateway did not answer on $endpoint within ${START_TIMEOUT_S}s (see $LOGS/ceph-client.rgw.log)"
    sleep 0.2
  done
  log "gateway answers on $endpoint"

  # The test user, with fixed keys.
  local access_key=${S3_TEST_ACCESS_KEY:-$ACCESS_KEY_DEFAULT} secret_key=${S3_TEST_SECRET_KEY:-$SECRET_KEY_DEFAULT}
  timeout 60 radosgw-admin -c "$CONF" user create --uid "$USER_ID" --display-name "$USER_ID" \
    --access-key "$access_key" --secret-key "$secret_key" >>"$LOGS/setup.log" 2>&1 ||
    die "radosgw-admin user create failed (see $LOGS/setup.log)"

  # The region clients sign with is the zonegroup's api_name.
  local region
  region=$(timeout 60 radosgw-admin -c "$CONF" zonegroup get 2>>"$LOGS/setup.log" |
    sed -n 's/^ *"api_name": *"\([^"]*\)".*/\1/p' | head -n 1)
  [ -n "$region" ] || region=default

  # Ready when a signed request of the user is accepted (RGW, like S3, wants the
  # x-amz-content-sha256 header, which curl's --aws-sigv4 does not add by itself).
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --aws-sigv4 "aws:amz:$region:s3" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --user "$access_key:$secret_key" \
    "$endpoint/")" = 200 ]; do
    [ $SECONDS -lt $deadline ] || die "the gateway refuses the test user's signed requests"
    sleep 0.2
  done

  cat >"$DIR/env.tmp" <<EOF
S3_TEST_ENDPOINT=$endpoint
S3_TEST_ACCESS_KEY=$access_key
S3_TEST_SECRET_KEY=$secret_key
S3_TEST_REGION=$region
S3_TEST_DNS_NAME=$DNS_NAME
EOF
  mv "$DIR/env.tmp" "$DIR/env"
}

running() {
  local name endpoint
  for name in "${DAEMONS[@]}"; do daemon_alive "$name" || return 1; done
  [ -f "$DIR/env" ] || return 1
  endpoint=$(sed -n 's/^S3_TEST_ENDPOINT=//p' "$DIR/env")
  [ -n "$endpoint" ] && curl -s -o /dev/null --max-time 5 "$endpoint/"
}

# --- commands ---------------------------------------------------------------------------------

lock_server_dir

case "$cmd" in
  start)
    exit_if_running
    install_packages
    started_at=$SECONDS
    stop_all
    # shellcheck disable=SC2154 # rc is assigned inside the trap
    trap 'rc=$?; if [ "$rc" -ne 0 ]; then log "start failed; stopping what was started"; stop_all; fi' EXIT
    start_cluster
    trap - EXIT
    log "ready in $((SECONDS - started_at))s; env in $DIR/env; stop with: $0 stop $DIR"
    cat "$DIR/env"
    ;;
  stop)
    stop_all
    rm -f "$DIR/env"
    ;;
  status)
    print_status
    ;;
  stop-gateway)
    stop_daemon rgw
    ;;
  start-gateway)
    daemon_alive mon && daemon_alive osd || die "the cluster under $DIR is not running"
    daemon_alive rgw || launch rgw radosgw -c "$CONF" -f -n client.rgw
    endpoint=$(sed -n 's/^S3_TEST_ENDPOINT=//p' "$DIR/env")
    deadline=$((SECONDS + START_TIMEOUT_S))
    until curl -s -o /dev/null --max-time 2 "$endpoint/"; do
      [ $SECONDS -lt $deadline ] || die "the gateway did not come back on $endpoint"
      sleep 0.2
    done
    log "gateway back on $endpoint"
    ;;
esac
