#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then
# runs formatting, lint, every cargo test, and the live comparison against
# real Open vSwitch 3.1 when it can be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ovs-vswitchd >/dev/null || need_apt+=(openvswitch-switch)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v ping >/dev/null || need_apt+=(iputils-ping)
command -v iperf3 >/dev/null || need_apt+=(iperf3)
command -v ethtool >/dev/null || need_apt+=(ethtool)
command -v iptables >/dev/null || need_apt+=(iptables)
command -v dot >/dev/null || need_apt+=(graphviz)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
# dnsmasq-base: the binary without the service (which would serve DNS on
# the machine itself); the L7 lab runs it inside a namespace.
command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
command -v dhclient >/dev/null || need_apt+=(isc-dhcp-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing ${need_apt[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}") \
      || echo "==> WARNING: could not install ${need_apt[*]}; the live OVS check will be skipped (said again below)"
  else
    echo "==> WARNING: not root, cannot install ${need_apt[*]}"
  fi
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> cargo test"
cargo test --workspace 2>&1 | tee /tmp/rswitch-test.$$.log
grep -E "^test result:" /tmp/rswitch-test.$$.log | awk '{p+=$4; f+=$6; i+=$8} END {print "cargo tests: " p " passed, " f " failed, " i " ignored"}'
rm -f /tmp/rswitch-test.$$.log

echo "==> live check: ofproto golden corpus against the installed Open vSwitch"
if [ "$(id -u)" = 0 ] && command -v ovs-vswitchd >/dev/null; then
  tests/ovs/live-check.sh
else
  echo "SKIPPED: live OVS comparison needs root and openvswitch-switch (the committed corpus was still checked above)"
fi
echo "==> all tests passed"
