# A memory cgroup for a test or a benchmark (sourced, not run): cgroup v2 where the machine has
# its memory controller, else the v1 memory hierarchy. Needs root.
#   memcg_create LIMIT_BYTES || skip   sets MEMCG_DIR and MEMCG_VERSION
#   memcg_join                         moves this shell in: everything it starts is counted
#   memcg_oom_kills                    processes the kernel OOM-killed in the group so far
#   memcg_peak_bytes                   the group's peak charge (page cache included)
#   memcg_resident_bytes               what it holds now that reclaim cannot free: anonymous
#                                      memory plus mapped files (shared libraries count once)
#   memcg_remove                       moves this shell back and removes the group
# shellcheck shell=bash

MEMCG_DIR=""
MEMCG_VERSION=""
MEMCG_HOME=""

memcg_create() {
  local limit=$1 own parent
  if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
    own=$(sed -n 's/^0:://p' /proc/self/cgroup)
    MEMCG_HOME=/sys/fs/cgroup${own%/}
    # A v2 group that holds processes cannot give its children controllers ("no internal
    # processes"), so the new group goes beside ours, under our parent.
    parent=$(dirname "$MEMCG_HOME")
    [ "$MEMCG_HOME" = /sys/fs/cgroup ] && parent=/sys/fs/cgroup
    grep -qw memory "$parent/cgroup.subtree_control" 2>/dev/null ||
      echo +memory >"$parent/cgroup.subtree_control" 2>/dev/null || return 1
    MEMCG_DIR=$(mktemp -d "$parent/vidproc-memcg.XXXXXX" 2>/dev/null) || return 1
    MEMCG_VERSION=2
    echo "$limit" >"$MEMCG_DIR/memory.max" || return 1
    echo 0 >"$MEMCG_DIR/memory.swap.max" 2>/dev/null || true
  elif [ -d /sys/fs/cgroup/memory ]; then
    own=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
    MEMCG_HOME=/sys/fs/cgroup/memory${own%/}
    MEMCG_DIR=$(mktemp -d "$MEMCG_HOME/vidproc-memcg.XXXXXX" 2>/dev/null) || return 1
    MEMCG_VERSION=1
    echo "$limit" >"$MEMCG_DIR/memory.limit_in_bytes" || return 1
    echo "$limit" >"$MEMCG_DIR/memory.memsw.limit_in_bytes" 2>/dev/null || true
  else
    return 1
  fi
  [ -n "$(memcg_oom_kills)" ] # a kernel too old to count OOM kills cannot serve
}

memcg_join() { echo $$ >"$MEMCG_DIR/cgroup.procs"; }

memcg_oom_kills() {
  if [ "$MEMCG_VERSION" = 2 ]; then
    sed -n 's/^oom_kill //p' "$MEMCG_DIR/memory.events"
  else
    sed -n 's/^oom_kill //p' "$MEMCG_DIR/memory.oom_control"
  fi
}

memcg_peak_bytes() {
  if [ "$MEMCG_VERSION" = 2 ]; then
    cat "$MEMCG_DIR/memory.peak" 2>/dev/null || echo unknown
  else
    cat "$MEMCG_DIR/memory.max_usage_in_bytes"
  fi
}

memcg_resident_bytes() {
  if [ "$MEMCG_VERSION" = 2 ]; then
    awk '$1 == "anon" || $1 == "file_mapped" || $1 == "shmem" {s += $2} END {print s + 0}' \
      "$MEMCG_DIR/memory.stat"
  else
    awk '$1 == "total_rss" || $1 == "total_mapped_file" || $1 == "total_shmem" {s += $2}
         END {print s + 0}' "$MEMCG_DIR/memory.stat"
  fi
}

memcg_remove() {
  [ -n "$MEMCG_DIR" ] || return 0
  echo $$ >"$MEMCG_HOME/cgroup.procs" 2>/dev/null || true
  rmdir "$MEMCG_DIR" 2>/dev/null || true
  MEMCG_DIR=""
}
