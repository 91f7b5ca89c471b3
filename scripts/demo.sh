#!/usr/bin/env bash
# The demo: a real switch in one command (as root). Builds rswitch and brings
# up its built-in lab (`rswitch lab up builtin:demo`): rswitchd in its own
# network namespace, three hosts joined to br0 by veth pairs, host1 and host2
# on VLAN 10, host3 alone on VLAN 20. Then it runs the lab's checks (pings
# that must pass, pings VLAN 20 must block, a TCP transfer), shows the
# switch's state, and takes the lab down again, also when something fails.
# Nothing touches the machine's own interfaces: every link lives in the
# lab's namespaces, addresses are 198.18.0.0/15.
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
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# The lab's namespaces get a prefix of their own, so the demo never meets
# namespaces of the same name (and can run twice at once).
prefix="rsdemo$$-"
lab_up=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "$lab_up" ]; then
    echo
    echo "\$ rswitch lab down builtin:demo --prefix $prefix"
    "$bin/rswitch" lab down builtin:demo --prefix "$prefix"
  fi
  if [ $rc -ne 0 ]; then
    echo "demo.sh: failed (exit $rc); removed everything it had created" >&2
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run() { echo "\$ $*"; "$@"; }
rswitch() { "$bin/rswitch" "$@"; }
rswitch-ofctl() { "$bin/rswitch-ofctl" "$@"; }

echo
lab_up=1   # from here on, `lab down` runs on exit (a no-op if up failed)
run rswitch lab up builtin:demo --prefix "$prefix"
rundir="/run/rswitch-lab/${prefix}demo/switch"

echo
run rswitch lab check builtin:demo --prefix "$prefix"
echo
run rswitch lab status builtin:demo --prefix "$prefix"
echo
run ip netns exec "${prefix}host1" ping -c 3 -i 0.2 -W 1 198.18.0.2
echo
run rswitch --rundir "$rundir" show
echo
run rswitch-ofctl --rundir "$rundir" dump-flows br0
echo
run rswitch-ofctl --rundir "$rundir" dump-ports br0
echo
