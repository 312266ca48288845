#!/usr/bin/env bash
# tsdb-local.sh - run a real PostgreSQL 17 + TimescaleDB server on 127.0.0.1 on a Debian 12 (bookworm)
# machine that has no TimescaleDB package and no Docker engine. Needs root.
#
# How: a minimal Debian 13 (trixie) root is built once with mmdebstrap (falls back to debootstrap)
# holding trixie's postgresql-17 and postgresql-17-timescaledb (Debian's Apache-licensed build:
# hypertables, time_bucket, drop_chunks; no compression, continuous aggregates or policies). The server
# runs chrooted into that root as the root's "postgres" user, in a private mount namespace in which
# DATADIR is bind-mounted at /pgdata and a tmpfs is mounted on /dev/shm; the mounts vanish with the server.
# On Debian 13 itself, `apt-get install postgresql-17-timescaledb` gives the same server without a root.
# Measured here: about 30 s from nothing, about 3.5 s from the cached tarball, under 1 s with the root present.
#
# Usage:
#   tsdb-local.sh start PORT DATADIR   build/restore the root if needed, initdb if needed,
#                                      start if not running, wait until ready (idempotent)
#   tsdb-local.sh stop DATADIR         fast shutdown of the server owning DATADIR (by PID)
#   tsdb-local.sh status DATADIR       exit 0 if running
#   tsdb-local.sh root                 only build/restore the root (cache warm-up)
#   tsdb-local.sh psql PORT [args...]  the root's psql 17 (as user postgres, over TCP)
#
# Connect with postgresql://postgres:postgres@127.0.0.1:PORT/postgres (trust auth on loopback).
# The extension timescaledb is created in template1 and postgres, so every CREATE DATABASE has it.
#
# Environment:
#   TSDB_HOME      where the root and its cache tarball live   (/var/cache/tsdb)
#   TSDB_SUITE     Debian suite of the root                    (trixie)
#   TSDB_MIRROR    Debian mirror                    (the one in this machine's apt sources)
#   TSDB_PG        PostgreSQL major version                    (17)
#   TSDB_TARBALL   1 = save a built root as .tar.zst beside it and restore from it when the root is gone (1)
#   TSDB_FAST      1 = fsync/synchronous_commit/full_page_writes off (tests only) (1)
#   TSDB_START_TIMEOUT  seconds to wait for readiness (60)
#   TSDB_BOOTSTRAP mmdebstrap (default, about 2x faster) or debootstrap
#   TSDB_PRELOAD   shared_preload_libraries of a NEW data dir  (timescaledb)
#                  lobkit: set it empty for a plain PostgreSQL 17 server from the same root, on which
#                  CREATE EXTENSION timescaledb really fails (tests of the plain-PostgreSQL fallback).
#                  Decided at initdb: reuse a data dir only with the same setting.
#
# Background jobs of TimescaleDB fail on PostgreSQL 17.12 ("cannot drop portal while it is being set up");
# run a job in the foreground with CALL run_job(id) where a test needs one.
set -euo pipefail

TSDB_HOME=${TSDB_HOME:-/var/cache/tsdb}
TSDB_SUITE=${TSDB_SUITE:-trixie}
# the Debian archive this machine's apt already uses (deb822 .sources or a one-line sources.list)
host_mirror() {
  { awk '/^URIs:/{print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null
    awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; break}}' /etc/apt/sources.list 2>/dev/null
  } | grep -v -e security -e '^$' | head -n1 || true
}
TSDB_MIRROR=${TSDB_MIRROR:-$(host_mirror)}
TSDB_PG=${TSDB_PG:-17}
TSDB_TARBALL=${TSDB_TARBALL:-1}
TSDB_FAST=${TSDB_FAST:-1}
TSDB_START_TIMEOUT=${TSDB_START_TIMEOUT:-60}
TSDB_PRELOAD=${TSDB_PRELOAD-timescaledb}
SCRIPT_REV=5   # bump to force a new root when the build recipe changes

log() { printf '[tsdb] %s\n' "$*" >&2; }
die() { printf '[tsdb] ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (chroot, mount namespaces)"

PGBIN=/usr/lib/postgresql/$TSDB_PG/bin
PKGS="postgresql-$TSDB_PG"
PKGS="$PKGS postgresql-$TSDB_PG-timescaledb"
KEY=$(printf '%s|%s|%s|%s|%s' "$SCRIPT_REV" "$TSDB_SUITE" "$PKGS" "-" "$(uname -m)" | sha256sum | cut -c1-12)
ROOT=$TSDB_HOME/root-$TSDB_SUITE-pg$TSDB_PG-$KEY
TARBALL=$ROOT.tar.zst

# run a command as root inside a chroot, with /proc mounted in a private mount namespace
chroot_root() {
  local r=$1; shift
  unshare -m --propagation private sh -c 'r=$1; shift; mount -t proc proc "$r/proc" && exec chroot "$r" "$@"' sh "$r" "$@"
}

ensure_host_tool() {  # ensure_host_tool CMD PKG
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 on the host"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >/dev/null; }
}

bootstrap_root() {  # bootstrap_root DIR
  local dir=$1 t0=$SECONDS
  local hook='mkdir -p "$1/etc/postgresql-common" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.conf"'
  if [ "${TSDB_BOOTSTRAP:-mmdebstrap}" = mmdebstrap ] && ensure_host_tool mmdebstrap mmdebstrap 2>/dev/null; then
    log "mmdebstrap $TSDB_SUITE + $PKGS -> $dir"
    # --include is comma separated
    unshare -m --propagation private mmdebstrap --quiet --mode=root --variant=minbase \
      --include="$(echo $PKGS | tr ' ' ,)" \
      --setup-hook="$hook" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      "$TSDB_SUITE" "$dir" "$TSDB_MIRROR" >&2
  else
    ensure_host_tool debootstrap debootstrap
    log "debootstrap $TSDB_SUITE -> $dir"
    unshare -m --propagation private debootstrap --variant=minbase "$TSDB_SUITE" "$dir" "$TSDB_MIRROR" >/dev/null
    sh -c "$hook" sh "$dir"
    printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"; chmod 755 "$dir/usr/sbin/policy-rc.d"
    { chroot_root "$dir" apt-get update -q &&
      chroot_root "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PKGS
    } > "$dir.apt.log" 2>&1 || { tail -30 "$dir.apt.log" >&2; die "apt-get in the new root failed"; }
    rm -f "$dir.apt.log"
    chroot_root "$dir" apt-get clean
    rm -rf "$dir"/var/lib/apt/lists/* "$dir/usr/sbin/policy-rc.d"
  fi
  log "root bootstrapped in $((SECONDS - t0))s"
}

ensure_root() {
  [ -f "$ROOT/.tsdb-ready" ] && return 0
  mkdir -p "$TSDB_HOME"
  (
    flock 9   # serialise concurrent builders; fd 9 is closed before the server starts
    [ -f "$ROOT/.tsdb-ready" ] && exit 0
    rm -rf "$ROOT.tmp" "$ROOT.tmp.build"
    mkdir -p "$ROOT.tmp"
    if [ "$TSDB_TARBALL" = 1 ] && [ -f "$TARBALL" ]; then
      local t0=$SECONDS
      log "restoring root from $TARBALL"
      ensure_host_tool zstd zstd
      zstd -dc -T0 "$TARBALL" | tar -C "$ROOT.tmp" -xpf - --numeric-owner
      log "root restored in $((SECONDS - t0))s"
    else
      bootstrap_root "$ROOT.tmp"
      mkdir -p "$ROOT.tmp/pgdata"
      touch "$ROOT.tmp/.tsdb-ready"
      if [ "$TSDB_TARBALL" = 1 ]; then
        local t0=$SECONDS
        ensure_host_tool zstd zstd
        tar -C "$ROOT.tmp" --numeric-owner --one-file-system -cf - . | zstd -q -T0 -3 -o "$TARBALL.tmp" -f
        mv -f "$TARBALL.tmp" "$TARBALL"
        log "cached root as $TARBALL ($(du -h "$TARBALL" | cut -f1)) in $((SECONDS - t0))s"
      fi
    fi
    [ -f "$ROOT.tmp/.tsdb-ready" ] || die "restored root incomplete"
    mv "$ROOT.tmp" "$ROOT"
  ) 9>"$TSDB_HOME/.lock"
}

pg_ids() {  # uid:gid of the root's postgres user
  awk -F: '$1=="postgres"{print $3":"$4}' "$ROOT/etc/passwd"
}

# pg_argv DATADIR: sets PGCMD to the argv prefix that runs a command in the root as its
# postgres user, in a private mount namespace with DATADIR bind-mounted on /pgdata and
# a fresh tmpfs on /dev/shm (both vanish with the namespace, i.e. when the command exits)
pg_argv() {
  PGCMD=(unshare -m --propagation private sh -c '
    r=$1; d=$2; ids=$3; shift 3
    mount --bind "$d" "$r/pgdata" &&
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm" &&
    exec chroot --userspec="$ids" "$r" env -i HOME=/var/lib/postgresql PATH='"$PGBIN"':/usr/bin:/bin \
      LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC "$@"' sh "$ROOT" "$1" "$(pg_ids)")
}
run_pg() { local data=$1; shift; pg_argv "$data"; "${PGCMD[@]}" "$@"; }

in_root_pg() {  # a client command in the root (no data dir needed)
  chroot --userspec="$(pg_ids)" "$ROOT" env -i PATH="$PGBIN":/usr/bin:/bin LANG=C.UTF-8 \
    PGOPTIONS='-c client_min_messages=warning' "$@"
}

alive() {  # alive PID: exists and is not a zombie (an exited postmaster is reparented to
           # PID 1, which may reap it late, so kill -0 alone is not enough)
  local st; st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/"$1"/status 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

server_pid() {  # prints PID of the live postmaster of DATADIR, or fails
  local f=$1/postmaster.pid pid
  [ -f "$f" ] || return 1
  pid=$(head -n1 "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = postgres ] || return 1
  [ "$(readlink /proc/"$pid"/root)" != / ] || return 1   # ours run chrooted; never touch a host postgres
  echo "$pid"
}

clear_stale_locks() {  # after a crash: let a dead postmaster's PID vanish, else drop its lock files
  local data=$1 old i
  [ -f "$data/postmaster.pid" ] || return 0
  old=$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)
  [[ "$old" =~ ^[0-9]+$ ]] || { rm -f "$data/postmaster.pid"; return 0; }
  # A killed postmaster is reparented to PID 1, which may reap it late; while it is a
  # zombie PostgreSQL's own kill(pid, 0) check takes it for a live server ("lock file
  # ... already exists"). Wait a little for it to go, then remove the stale locks.
  for ((i = 0; i < 50; i++)); do { [ -e /proc/"$old" ] && ! alive "$old"; } || break; sleep 0.1; done
  if [ -e /proc/"$old" ]; then   # still a zombie, or the PID now belongs to something else
    log "removing stale lock files of dead postmaster $old"
    rm -f "$data/postmaster.pid" "$data"/.s.PGSQL.*.lock
  fi
}

init_data() {
  local data=$1
  if [ -s "$data/PG_VERSION" ]; then return 0; fi
  mkdir -p "$data"
  [ -z "$(ls -A "$data")" ] || die "$data is not empty and has no PG_VERSION"
  chown "$(pg_ids)" "$data"; chmod 700 "$data"
  log "initdb $data"
  run_pg "$data" initdb -D /pgdata -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-sync --no-instructions >/dev/null
  {
    echo "# --- tsdb-local.sh (lobkit) ---"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '/pgdata'   # i.e. the data dir, seen from the host"
    if [ -n "$TSDB_PRELOAD" ]; then
      echo "shared_preload_libraries = '$TSDB_PRELOAD'"
      echo "timescaledb.telemetry_level = 'off'"
    fi
    echo "timezone = 'UTC'"
    echo "max_connections = 200"
    echo "max_locks_per_transaction = 256   # many chunks per statement/transaction"
    echo "max_worker_processes = 32         # one TimescaleDB scheduler per database + jobs"
    echo "jit = off"
    echo "dynamic_shared_memory_type = posix"
    if [ "$TSDB_FAST" = 1 ]; then
      echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"
    fi
  } >> "$data/postgresql.conf"
}

cmd_start() {
  local port=$1 data=$2 pid lpid rc i
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
  mkdir -p "$data"; data=$(cd "$data" && pwd -P)
  if pid=$(server_pid "$data"); then
    local cur; cur=$(sed -n 4p "$data/postmaster.pid")
    [ "$cur" = "$port" ] || die "already running (pid $pid) on port $cur, not $port"
    log "already running (pid $pid, port $port)"
    ROOT=$(readlink /proc/"$pid"/root)   # the root it actually runs in (env may differ now)
  else
    ensure_root
    init_data "$data"
    clear_stale_locks "$data"
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then die "port $port already in use"; fi
    log "starting postgres on 127.0.0.1:$port (log: $data/server.log)"
    pg_argv "$data"
    # no fork anywhere (setsid/unshare/sh/chroot/env all exec): $! is the postmaster's PID
    setsid "${PGCMD[@]}" postgres -D /pgdata -p "$port" >>"$data/server.log" 2>&1 </dev/null &
    lpid=$!
  fi
  for ((i = 0; i < TSDB_START_TIMEOUT * 10; i++)); do
    if in_root_pg pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then break; fi
    if [ -n "${lpid:-}" ] && ! alive "$lpid"; then
      rc=0; wait "$lpid" || rc=$?
      if [ "$rc" != 0 ]; then tail -20 "$data/server.log" >&2; die "postgres exited ($rc)"; fi
    fi
    sleep 0.1
  done
  in_root_pg pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres ||
    { tail -20 "$data/server.log" >&2; die "not ready after ${TSDB_START_TIMEOUT}s"; }
  # a server started without the library preloaded (TSDB_PRELOAD='') stays plain PostgreSQL
  grep -q "^shared_preload_libraries = '.*timescaledb" "$data/postgresql.conf" && for db in template1 postgres; do
    in_root_pg psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 \
      -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' >/dev/null
  done
  log "ready: postgresql://postgres:postgres@127.0.0.1:$port/postgres (pid $(server_pid "$data"))"
}

cmd_stop() {
  local data=$1 pid i
  data=$(cd "$data" 2>/dev/null && pwd -P) || { log "no such data dir"; return 0; }
  pid=$(server_pid "$data") || { log "not running"; return 0; }
  kill -INT "$pid"            # fast shutdown
  for ((i = 0; i < 300; i++)); do alive "$pid" || { log "stopped (pid $pid)"; return 0; }; sleep 0.1; done
  log "fast shutdown timed out, sending SIGQUIT to $pid"; kill -QUIT "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start)  [ $# = 3 ] || die "usage: $0 start PORT DATADIR"; cmd_start "$2" "$3" ;;
  stop)   [ $# = 2 ] || die "usage: $0 stop DATADIR"; cmd_stop "$2" ;;
  status) [ $# = 2 ] || die "usage: $0 status DATADIR"; d=$(cd "$2" && pwd -P); if pid=$(server_pid "$d"); then echo "running pid $pid port $(sed -n 4p "$d/postmaster.pid")"; else echo "not running"; exit 1; fi ;;
  root)   ensure_root; echo "$ROOT" ;;
  psql)   [ $# -ge 2 ] || die "usage: $0 psql PORT [psql args]"; p=$2; shift 2; ensure_root
          in_root_pg psql -X -h 127.0.0.1 -p "$p" -U postgres "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
