#!/usr/bin/env bash
# The demo: rswitch's OpenFlow pipeline running LABS.md L6 (the OpenStack
# Neutron compute node): a packet from the GRE tunnel makes br-tun learn the
# VM's MAC exactly as Open vSwitch does. Needs only a Rust toolchain so far.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "install Rust (rustup) first"; exit 1; }
cargo run --quiet --release -p rswitch-cli --bin rswitch-ofctl -- demo
