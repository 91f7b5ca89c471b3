#!/bin/sh
# Draw the topology of each lab of the README's cookbook (examples/L<n>.toml)
# into docs/pictures/L<n>.svg, or L<n>-<host>.svg for a lab with several
# switch hosts: `rswitch lab up`, `rswitch --rundir … show --format svg` on
# each switch host, `rswitch lab down`.
#
#   sudo scripts/lab-pictures.sh            # all of L1 … L10
#   sudo scripts/lab-pictures.sh L5 L6      # only these
#
# Needs root, Graphviz (`dot`) and the binaries built first
# (`cargo build --release -p rswitch-cli`; $RSWITCH names another rswitch).
# The labs run without --prefix, so the pictures show the namespaces under
# the file's names; `lab up` refuses (and this script stops) if a namespace
# of that name exists already and is not the lab's. Each lab is taken down
# again, also on failure or Ctrl-C.
set -eu

cd "$(dirname "$0")/.."
RSWITCH=${RSWITCH:-target/release/rswitch}
OUT=${OUT:-docs/pictures}

if [ ! -x "$RSWITCH" ]; then
    echo "$0: $RSWITCH not found; run: cargo build --release -p rswitch-cli" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "$0: labs need root (sudo $0)" >&2
    exit 1
fi
command -v dot >/dev/null || { echo "$0: needs Graphviz (apt-get install graphviz)" >&2; exit 1; }
mkdir -p "$OUT"

if [ $# -eq 0 ]; then
    set -- L1 L2 L3 L4 L5 L6 L7 L8 L9 L10
fi

current=
down() {
    if [ -n "$current" ]; then
        "$RSWITCH" lab down "$current" >/dev/null || "$RSWITCH" lab down "$current"
        current=
    fi
}
trap 'rc=$?; trap - EXIT INT TERM; down; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for lab in "$@"; do
    file=examples/$lab.toml
    echo "== $lab"
    current=$file
    "$RSWITCH" lab up "$file" >/dev/null
    # One line per switch host in `lab status`:
    #   ok   rswitchd HOST (netns NS, pid N, --rundir DIR) bridges: …
    hosts=$("$RSWITCH" lab status "$file" |
        sed -n 's/^ *ok *rswitchd \([^ ]*\) (.*--rundir \([^)]*\)).*/\1 \2/p')
    if [ -z "$hosts" ]; then
        echo "$0: $lab: no rswitchd in \`rswitch lab status $file\`" >&2
        exit 1
    fi
    n=$(printf '%s\n' "$hosts" | wc -l)
    printf '%s\n' "$hosts" | while read -r host rundir; do
        if [ "$n" -eq 1 ]; then svg=$OUT/$lab.svg; else svg=$OUT/$lab-$host.svg; fi
        "$RSWITCH" --rundir "$rundir" show --format svg -o "$svg"
        echo "   $svg"
    done
    down
done
