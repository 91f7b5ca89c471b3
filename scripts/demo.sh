#!/usr/bin/env bash
# The demo: a real switch in one command (as root). Builds rswitch, starts
# rswitchd inside a fresh network namespace with a private run directory,
# attaches two hosts (namespaces, by veth) to bridge br0, pings between
# them, shows the switch's state, and removes everything it made, also
# when something fails. Nothing touches the machine's own interfaces:
# every link lives in the demo's namespaces, addresses are 198.18.0.0/15.
#
#   sudo scripts/demo.sh             the live demo (needs root and iproute2)
#   scripts/demo.sh --offline        no root needed: rswitch's OpenFlow
#                                    pipeline learning a VM's MAC as in the
#                                    OpenStack Neutron lab (LABS.md L6)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "demo.sh: $*" >&2; exit 1; }

need_cargo="cargo (install Rust: https://rustup.rs)"

case "${1:-}" in
  --offline)
    command -v cargo >/dev/null || die "needs $need_cargo"
    exec cargo run --release -q -p rswitch-cli --bin rswitch-ofctl -- demo ;;
  "") ;;
  -h|--help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown option $1 (use --offline or no option)" ;;
esac

# Install what the demo needs when we can (root on Debian/Ubuntu).
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  pkgs=()
  command -v ip >/dev/null || pkgs+=(iproute2)
  command -v ping >/dev/null || pkgs+=(iputils-ping)
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "# installing ${pkgs[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}") >/dev/null || true
  fi
fi

missing=()
command -v cargo >/dev/null || missing+=("$need_cargo")
[ "$(id -u)" -eq 0 ] || missing+=("root (network namespaces need it: sudo $0)")
command -v ip >/dev/null || missing+=("iproute2 (the ip command: apt-get install iproute2)")
command -v ping >/dev/null || missing+=("ping (apt-get install iputils-ping)")
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do echo "demo.sh: needs $m" >&2; done
  echo "demo.sh: or run 'scripts/demo.sh --offline', which needs neither" >&2
  exit 1
fi

echo "# building (cargo build --release)"
cargo build --release -q -p rswitch-cli
bin=$PWD/target/release

# Everything the demo creates, named so that cleanup can find it.
tag="rsdemo$$"
sw="$tag-switch"
h1="$tag-host1"
h2="$tag-host2"
rundir=$(mktemp -d "/tmp/$tag.XXXXXX")
daemon_pid=""

cleanup() {
  local rc=$?
  set +e
  if [ -z "$daemon_pid" ] && [ -f "$rundir/rswitchd.pid" ]; then
    daemon_pid=$(cat "$rundir/rswitchd.pid" 2>/dev/null)
  fi
  # Stop our daemon by pid (only if that pid still is an rswitchd).
  if [ -n "$daemon_pid" ] && grep -q rswitchd "/proc/$daemon_pid/cmdline" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null
    for _ in $(seq 50); do
      kill -0 "$daemon_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$daemon_pid" 2>/dev/null
  fi
  # Deleting the namespaces deletes every link in them.
  for ns in "$h1" "$h2" "$sw"; do
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$rundir"
  if [ $rc -eq 0 ]; then
    echo "# cleaned up: namespaces $sw $h1 $h2, rswitchd ${daemon_pid:-(not started)}, $rundir"
  else
    echo "demo.sh: failed (exit $rc); cleaned up everything it had created" >&2
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rswitch() { "$bin/rswitch" --rundir "$rundir" "$@"; }
rswitch-ofctl() { "$bin/rswitch-ofctl" --rundir "$rundir" "$@"; }
run() { echo "\$ $*"; "$@"; }

echo "# namespaces: $sw runs the switch; $h1 and $h2 are the hosts"
for ns in "$sw" "$h1" "$h2"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
# Veth pairs created directly inside the namespaces (never in ours).
ip -n "$h1" link add eth0 type veth peer name veth-h1 netns "$sw"
ip -n "$h2" link add eth0 type veth peer name veth-h2 netns "$sw"
ip -n "$h1" addr add 198.18.0.1/24 dev eth0
ip -n "$h2" addr add 198.18.0.2/24 dev eth0
for ns in "$h1" "$h2"; do ip -n "$ns" link set eth0 up; done
ip -n "$sw" link set veth-h1 up
ip -n "$sw" link set veth-h2 up

echo "# starting rswitchd in $sw (run directory $rundir)"
ip netns exec "$sw" "$bin/rswitchd" --rundir "$rundir" --detach
daemon_pid=$(cat "$rundir/rswitchd.pid")
echo "# rswitchd pid $daemon_pid"

run rswitch add-br br0
run rswitch add-port br0 veth-h1
run rswitch add-port br0 veth-h2

echo
run ip netns exec "$h1" ping -c 3 -i 0.2 -W 1 198.18.0.2
echo
run ip netns exec "$h2" ping -c 3 -i 0.2 -W 1 198.18.0.1

echo
run rswitch show
echo
run rswitch-ofctl dump-flows br0
echo
run rswitch-ofctl dump-ports br0
echo
