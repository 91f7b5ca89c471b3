#!/usr/bin/env bash
# Regenerates the golden flow corpus from the Open vSwitch installed here and
# compares it with the committed one: if OVS's text ever changes, this fails
# and shows the difference (the committed corpus is what ofproto is tested on).
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp ofproto/tests/data/golden_flows.tsv "$tmp/committed.tsv"
status=0
tests/ovs/gen-golden.sh --only flows >/dev/null 2>"$tmp/gen.err" || status=$?
if [ "$status" = 77 ]; then
  echo "SKIPPED: Open vSwitch not installed"; exit 0
elif [ "$status" != 0 ]; then
  cat "$tmp/gen.err"; cp "$tmp/committed.tsv" ofproto/tests/data/golden_flows.tsv; exit "$status"
fi
if ! diff -u <(grep -v '^#' "$tmp/committed.tsv") <(grep -v '^#' ofproto/tests/data/golden_flows.tsv) > "$tmp/diff"; then
  cp "$tmp/committed.tsv" ofproto/tests/data/golden_flows.tsv
  echo "live OVS output differs from the committed corpus:"; head -50 "$tmp/diff"; exit 1
fi
cp "$tmp/committed.tsv" ofproto/tests/data/golden_flows.tsv
echo "live OVS corpus: $(grep -vc '^#' "$tmp/committed.tsv") cases identical to the committed corpus"
