//! rswitch-ofctl: the ovs-ofctl work-alike (placeholder until the CLI lands).
fn main() {}
