#!/usr/bin/env bash
# Instruction counts per packet for the stages of the forwarding path,
# measured with callgrind (repeatable on a noisy machine, unlike timings).
# Usage: scripts/callgrind.sh   (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not found (apt-get install valgrind)" >&2; exit 2; }
cargo build --release -q -p datapath --example hotpath
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "running the hot-path stages under callgrind (about 15 s)..." >&2
valgrind --tool=callgrind --callgrind-out-file="$out/cg" target/release/examples/hotpath >"$out/stdout" 2>"$out/stderr"
n=$(awk '/iterations per stage/ {print $4}' "$out/stdout")
callgrind_annotate --inclusive=yes "$out/cg" 2>/dev/null >"$out/annotated"
printf '%-34s %14s\n' "stage (per packet)" "instructions"
for s in extract pipeline rewrite pipeline_big; do
    ir=$(grep -E "=> .*hotpath::stage_${s} \(1x\)" "$out/annotated" | head -1 | awk '{gsub(",","",$1); print $1}')
    case $s in
        extract) label="extract_key (60-byte UDP)";;
        pipeline) label="pipeline miss, 2 flows";;
        rewrite) label="apply_output (output only)";;
        pipeline_big) label="pipeline miss, 100,002 flows";;
    esac
    if [ -n "$ir" ]; then
        printf '%-34s %14d\n' "$label" $(( ir / n ))
    else
        printf '%-34s %14s\n' "$label" "?"
    fi
done
