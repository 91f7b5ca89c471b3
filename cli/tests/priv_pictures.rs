//! Pictures (issue 6) from a live rswitchd: `rswitch show --format dot`
//! finds the namespace an internal port was moved into and the namespace
//! and name of a veth port's peer; `rswitch-ofctl dump-flows BR --format
//! dot` carries the hit counts of real traffic; SVG to a file with `-o`.
//! Needs root; otherwise prints `SKIPPED (needs root): <name>` and passes.
//!
//! Everything is made through labkit's guards (removed on drop, also on
//! failure); addresses from 198.18.0.0/15; traffic stays between the
//! test's namespaces.

mod labkit;

use labkit::*;

#[test]
fn topology_and_pipeline_pictures_from_a_live_daemon() {
    require_root!();
    let host = Netns::new("pichost");
    let vmns = Netns::new("picvm");
    let peerns = Netns::new("picpeer");
    let up = unique_name("pu");
    let peer = unique_name("pp");
    let _veth = Veth::new(&host, &up, &peerns, &peer);
    peerns.addr_up(&peer, "198.18.77.2/24");
    let d = Daemon::start(&host);
    d.rswitch_ok(&["add-br", "br0"]);
    d.rswitch_ok(&["add-port", "br0", &up]);
    let vm = unique_name("pv");
    d.rswitch_ok(&[
        "add-port",
        "br0",
        &vm,
        "tag=7",
        "--",
        "set",
        "interface",
        &vm,
        "type=internal",
    ]);
    // The veth end carries untagged traffic for VLAN 7 too.
    d.rswitch_ok(&["set", "port", &up, "tag=7"]);
    d.rswitch_ok(&["add-br", "br1"]);
    d.rswitch_ok(&[
        "add-port",
        "br0",
        "pa",
        "--",
        "set",
        "interface",
        "pa",
        "type=patch",
        "options:peer=pb",
    ]);
    d.rswitch_ok(&[
        "add-port",
        "br1",
        "pb",
        "--",
        "set",
        "interface",
        "pb",
        "type=patch",
        "options:peer=pa",
    ]);
    d.rswitch_ok(&[
        "add-port",
        "br1",
        "vx0",
        "--",
        "set",
        "interface",
        "vx0",
        "type=vxlan",
        "options:remote_ip=198.18.77.9",
        "options:key=42",
    ]);
    host.move_link(&vm, &vmns);
    vmns.addr_up(&vm, "198.18.77.1/24");
    assert_ping(&vmns, "198.18.77.2");

    // Text output is unchanged by the picture options.
    let text = d.rswitch_ok(&["show"]);
    assert_eq!(d.rswitch_ok(&["show", "--format", "text"]), text);

    let dot = d.rswitch_ok(&["show", "--format", "dot"]);
    for want in [
        format!("netns {}", vmns.name),
        format!("netns {}", peerns.name),
        format!("netns {}", host.name),
        format!("\"netns:{}:{vm}\"", vmns.name),
        format!("\"netns:{}:{peer}\"", peerns.name),
        "\"port:pa\" -- \"port:pb\" [label=\"patch\"".to_string(),
        "\"port:vx0\" -- \"remote:198.18.77.9\"".to_string(),
        "key=42".to_string(),
        "<b>tag 7</b>".to_string(),
    ] {
        assert!(dot.contains(&want), "missing {want:?} in\n{dot}");
    }

    let flows = d.ofctl_ok(&["dump-flows", "br0", "--format", "dot"]);
    // To look at them: RSWITCH_PICTURES_OUT=DIR keeps both DOT files.
    if let Some(out) = std::env::var_os("RSWITCH_PICTURES_OUT") {
        let out = std::path::PathBuf::from(out);
        let _ = std::fs::write(out.join("live-topology.dot"), &dot);
        let _ = std::fs::write(out.join("live-br0.dot"), &flows);
    }
    assert!(flows.starts_with("digraph"), "{flows}");
    // fail_mode standalone: priority=0 actions=NORMAL, hit by the pings.
    assert!(flows.contains("<b>NORMAL</b>"), "{flows}");
    let hits = flows
        .lines()
        .find(|l| l.contains("-> \"port:65530\""))
        .unwrap_or_else(|| panic!("no NORMAL edge in\n{flows}"));
    assert!(!hits.contains("taillabel=\"0 pkts\""), "{hits}");

    if have("dot") {
        let dir = TempDir::new("pics");
        let svg = dir.file("topo.svg");
        let svg_s = svg.display().to_string();
        d.rswitch_ok(&["show", "--format", "svg", "-o", &svg_s]);
        let bytes = std::fs::read(&svg).expect("svg written");
        assert!(bytes.starts_with(b"<?xml") || bytes.starts_with(b"<svg"));
        let png = dir.file("flows.png");
        let png_s = png.display().to_string();
        d.ofctl_ok(&["dump-flows", "br0", "--format=png", "--output", &png_s]);
        assert!(std::fs::read(&png)
            .expect("png written")
            .starts_with(b"\x89PNG"));
    } else {
        say("note: Graphviz not installed; SVG/PNG part of the test not run\n");
    }
}
