#!/usr/bin/env bash
# gen-golden.sh — regenerate rswitch's Open vSwitch truth data.
#
# Usage: tests/ovs/gen-golden.sh [--only flows|stats|trace]...
#
# Starts a private, userspace-only OVS via tests/ovs/ovs-sandbox.sh (temp dir +
# throw-away network namespace, torn down afterwards) and runs
# tests/ovs/gen_golden.py inside it, which (re)writes:
#   ofproto/tests/data/golden_flows.tsv   add-flow -> dump-flows --no-stats cases
#   ofproto/tests/data/golden_stats.txt   dump-flows with stats/sort/filters, aggregate,
#                                          diff-flows, replace-flows, mod/del-flows
#   ofproto/tests/data/golden_trace.txt   ofproto/trace transcripts (Neutron br-tun,
#                                          resubmit loops, NORMAL on standalone)
# Needs root and Open vSwitch 3.1 (Debian: openvswitch-switch); exits 77 if
# OVS is missing.  Takes well under a minute.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/ofproto/tests/data"
mkdir -p "$out"
exec "$here/ovs-sandbox.sh" python3 "$here/gen_golden.py" --out-dir "$out" "$@"
