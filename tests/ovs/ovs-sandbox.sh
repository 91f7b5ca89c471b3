#!/usr/bin/env bash
# ovs-sandbox.sh — run a command against a throw-away, userspace-only Open vSwitch.
#
# Usage:
#   tests/ovs/ovs-sandbox.sh CMD [ARGS...]
#   tests/ovs/ovs-sandbox.sh bash -c 'ovs-vsctl add-br br0 -- set bridge br0 datapath_type=netdev; ovs-ofctl dump-flows br0'
#
# What it does:
#   1. Creates a private temp dir (mktemp -d) and a uniquely named network
#      namespace (rsw-ovs-<random>).
#   2. Creates a fresh conf.db with `ovsdb-tool create` from
#      /usr/share/openvswitch/vswitch.ovsschema (override: OVS_SCHEMA=...).
#   3. Starts ovsdb-server (unix socket $TMP/db.sock) and ovs-vswitchd
#      (--enable-dummy --disable-system, so `type=dummy` ports work with no
#      kernel devices; run inside the namespace).  Both are daemons with
#      pidfiles in the temp dir; their pids are recorded and they are stopped
#      BY PID only.
#   4. Runs `ovs-vsctl --no-wait init`.
#   5. Runs CMD inside the namespace (`ip netns exec`) with OVS_RUNDIR,
#      OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR, OVS_PKGDATADIR exported, so plain
#      `ovs-vsctl`, `ovs-ofctl BRIDGE`, `ovs-appctl` inside CMD talk to this
#      sandbox and nothing else.  SANDBOX_DIR and SANDBOX_NETNS are exported
#      too (scratch files may be written into $SANDBOX_DIR).
#   6. Tears down: SIGTERM (then SIGKILL) to the recorded pids, deletes the
#      namespace and the temp dir.  This also happens on error / Ctrl-C
#      (trap EXIT INT TERM).
#
# Exit status: CMD's exit status; 77 (the "skip" code) if Open vSwitch is not
# installed; 99 if the sandbox itself could not be set up.  Must run as root
# (namespaces).  Bridges you create should use datapath_type=netdev (the
# kernel datapath is never used: ovs-vswitchd runs with --disable-system).
#
# Notes: a netdev bridge's LOCAL port is a tap device, created inside the
# namespace only.  Inject packets into dummy ports with
#   ovs-appctl netdev-dummy/receive p1 'in_port(1),eth(src=..,dst=..),eth_type(0x0800),ipv4(...)'
# Exit 77 is also used when not running as root.
#
# Environment knobs:
#   OVS_SANDBOX_KEEP=1      keep the temp dir (logs) after exit; path printed
#   OVS_SANDBOX_TIMEOUT=N   seconds to wait for each daemon socket (default 20)
#   OVS_SANDBOX_VERBOSE=1   print setup/teardown progress to stderr
set -u

log() { if [ "${OVS_SANDBOX_VERBOSE:-0}" = 1 ]; then echo "ovs-sandbox: $*" >&2; fi; }
die() { echo "ovs-sandbox: error: $*" >&2; exit 99; }

if [ $# -lt 1 ]; then
    sed -n '2,40p' "$0" >&2
    exit 2
fi

# --- Is OVS installed? -------------------------------------------------------
find_bin() {
    local b
    for b in "$(command -v "$1" 2>/dev/null)" "/usr/sbin/$1" "/usr/bin/$1" "/usr/local/sbin/$1" "/usr/local/bin/$1"; do
        if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; return 0; fi
    done
    return 1
}
OVSDB_SERVER=$(find_bin ovsdb-server) || OVSDB_SERVER=
OVSDB_TOOL=$(find_bin ovsdb-tool) || OVSDB_TOOL=
OVS_VSWITCHD=$(find_bin ovs-vswitchd) || OVS_VSWITCHD=
OVS_VSCTL=$(find_bin ovs-vsctl) || OVS_VSCTL=
OVS_SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
if [ -z "$OVSDB_SERVER" ] || [ -z "$OVSDB_TOOL" ] || [ -z "$OVS_VSWITCHD" ] \
   || [ -z "$OVS_VSCTL" ] || ! command -v ovs-ofctl >/dev/null 2>&1 \
   || [ ! -r "$OVS_SCHEMA" ]; then
    echo "ovs-sandbox: Open vSwitch is not installed (need ovsdb-server, ovsdb-tool, ovs-vswitchd, ovs-vsctl, ovs-ofctl and $OVS_SCHEMA); skipping" >&2
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    echo "ovs-sandbox: must run as root (network namespaces); skipping" >&2
    exit 77
fi
command -v ip >/dev/null 2>&1 || { echo "ovs-sandbox: iproute2 'ip' not found; skipping" >&2; exit 77; }

TIMEOUT=${OVS_SANDBOX_TIMEOUT:-20}

# --- State + teardown ----------------------------------------------------------
SANDBOX_DIR=
NETNS=
PIDS=()
CMD_PID=

alive() {
    # alive PID: true if PID exists and is not a zombie (a daemon we started
    # is reparented to PID 1, which may take a while to reap it).
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ]
}

stop_pid() {
    # stop_pid PID: SIGTERM, wait up to ~5s, then SIGKILL.  Only the given pid.
    local pid=$1 i
    [ -n "$pid" ] || return 0
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do
        alive "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    for i in $(seq 40); do
        alive "$pid" || return 0
        sleep 0.05
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local i
    if [ -n "$CMD_PID" ]; then
        log "stopping command pid $CMD_PID"
        stop_pid "$CMD_PID"
    fi
    # Stop in reverse start order (vswitchd first, then ovsdb-server).
    for ((i=${#PIDS[@]}-1; i>=0; i--)); do
        log "stopping pid ${PIDS[i]}"
        stop_pid "${PIDS[i]}"
    done
    if [ -n "$NETNS" ]; then
        log "deleting netns $NETNS"
        ip netns delete "$NETNS" 2>/dev/null
    fi
    if [ -n "$SANDBOX_DIR" ] && [ -d "$SANDBOX_DIR" ]; then
        if [ "${OVS_SANDBOX_KEEP:-0}" = 1 ]; then
            echo "ovs-sandbox: kept $SANDBOX_DIR" >&2
        else
            rm -rf -- "$SANDBOX_DIR"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for COND-CMD... : poll until the command succeeds, at most $TIMEOUT s.
wait_for() {
    local deadline=$(( $(date +%s) + TIMEOUT ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
    return 0
}

# read_pidfile FILE : wait for the pidfile, print its pid.
read_pidfile() {
    wait_for test -s "$1" || return 1
    local pid
    pid=$(tr -dc '0-9' < "$1")
    [ -n "$pid" ] || return 1
    echo "$pid"
}

# --- Set up ----------------------------------------------------------------------
SANDBOX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rsw-ovs.XXXXXXXX") || die "mktemp failed"
chmod 755 "$SANDBOX_DIR"
NETNS="rsw-ovs-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')-$$"
ip netns add "$NETNS" || { NETNS=; die "cannot create network namespace"; }
ip netns exec "$NETNS" ip link set lo up 2>/dev/null || true
log "dir=$SANDBOX_DIR netns=$NETNS"

export OVS_RUNDIR="$SANDBOX_DIR"
export OVS_DBDIR="$SANDBOX_DIR"
export OVS_LOGDIR="$SANDBOX_DIR"
export OVS_SYSCONFDIR="$SANDBOX_DIR"
# OVS_PKGDATADIR is where ovs-vswitchd finds e.g. vswitch.ovsschema-related
# data; keep the system one (read-only use).
export OVS_PKGDATADIR="${OVS_PKGDATADIR:-$(dirname "$OVS_SCHEMA")}"
export SANDBOX_DIR
export SANDBOX_NETNS="$NETNS"
DB_SOCK="$SANDBOX_DIR/db.sock"

"$OVSDB_TOOL" create "$SANDBOX_DIR/conf.db" "$OVS_SCHEMA" \
    || die "ovsdb-tool create failed"

ip netns exec "$NETNS" "$OVSDB_SERVER" "$SANDBOX_DIR/conf.db" \
    --remote="punix:$DB_SOCK" \
    --pidfile="$SANDBOX_DIR/ovsdb-server.pid" \
    --log-file="$SANDBOX_DIR/ovsdb-server.log" \
    --no-chdir --detach 2>"$SANDBOX_DIR/ovsdb-server.stderr" \
    || { cat "$SANDBOX_DIR/ovsdb-server.stderr" >&2; die "ovsdb-server failed to start"; }
pid=$(read_pidfile "$SANDBOX_DIR/ovsdb-server.pid") || die "ovsdb-server pidfile did not appear"
PIDS+=("$pid")
wait_for test -S "$DB_SOCK" || die "ovsdb-server socket did not appear within ${TIMEOUT}s"
log "ovsdb-server pid $pid"

"$OVS_VSCTL" --db="unix:$DB_SOCK" --no-wait --timeout="$TIMEOUT" init \
    || die "ovs-vsctl init failed"

ip netns exec "$NETNS" "$OVS_VSWITCHD" "unix:$DB_SOCK" \
    --enable-dummy --disable-system --disable-system-route \
    --pidfile="$SANDBOX_DIR/ovs-vswitchd.pid" \
    --log-file="$SANDBOX_DIR/ovs-vswitchd.log" \
    -vconsole:off -vfile:info \
    --no-chdir --detach 2>"$SANDBOX_DIR/ovs-vswitchd.stderr" \
    || { cat "$SANDBOX_DIR/ovs-vswitchd.stderr" "$SANDBOX_DIR/ovs-vswitchd.log" >&2 2>/dev/null; die "ovs-vswitchd failed to start"; }
pid=$(read_pidfile "$SANDBOX_DIR/ovs-vswitchd.pid") || die "ovs-vswitchd pidfile did not appear"
PIDS+=("$pid")
wait_for test -S "$SANDBOX_DIR/ovs-vswitchd.$pid.ctl" || die "ovs-vswitchd control socket did not appear"
log "ovs-vswitchd pid $pid"
# Make sure vswitchd has connected to the db and configured itself.
"$OVS_VSCTL" --timeout="$TIMEOUT" --db="unix:$DB_SOCK" -- set Open_vSwitch . external_ids:rsw-sandbox=1 \
    || die "ovs-vswitchd did not become ready"

# --- Run the command ---------------------------------------------------------------
# Run CMD in the background (stdin passed through explicitly) and `wait` for
# it, so that SIGINT/SIGTERM sent to this script are acted on at once: the trap
# stops CMD (by pid) and then the daemons.
ip netns exec "$NETNS" "$@" <&0 &
CMD_PID=$!
wait "$CMD_PID"
rc=$?
CMD_PID=
exit "$rc"
