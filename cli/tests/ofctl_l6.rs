//! LABS.md L6 (seed 001) through rswitch-ofctl: the Neutron compute node's
//! br-int and br-tun joined by patch ports, br-tun loaded with the seed's
//! tables by `add-flows br-tun -`, a packet from the GRE tunnel traced with
//! and without `-generate`, and `dump-flows br-tun table=20` showing the
//! learned flow, compared with what Open vSwitch 3.1 printed for the same
//! session (`ofproto/tests/data/golden_trace.txt`).

#[path = "ofctl_support.rs"]
mod support;

use ofproto::pipeline::FailMode;
use support::{compare, sections, Cmp, Lab, Section};

const TRACE_GOLDEN: &str = include_str!("../../ofproto/tests/data/golden_trace.txt");

const FROM_TUNNEL: &str = "in_port=2,tun_id=1,dl_src=fa:16:3e:32:28:af,dl_dst=ff:ff:ff:ff:ff:ff";
const LEARNED: &str = "-> table=20 vlan_tci=0x0004/0x0fff,dl_dst=fa:16:3e:32:28:af priority=1 hard=300 actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2";

/// The recorded sections with this command, in order.
fn recorded(cmd: &str) -> Vec<Section> {
    sections(TRACE_GOLDEN)
        .into_iter()
        .filter(|s| s.command == cmd)
        .collect()
}

fn br_tun_flows() -> String {
    recorded("cat br-tun-flows.txt")[0].stdout.join("\n") + "\n"
}

/// The golden topology: br-int (patch-tun=1, vm1=2) and br-tun
/// (patch-int=1, gre-c6120002=2), both secure, patched together.
fn compute_node() -> Lab {
    let mut lab = Lab::new();
    let int = lab.add_bridge("br-int", FailMode::Secure, [0x02, 0, 0, 0, 0, 0x10]);
    let tun = lab.add_bridge("br-tun", FailMode::Secure, [0x02, 0, 0, 0, 0, 0x20]);
    lab.add_dummy(int, "patch-tun", 1);
    lab.add_dummy(int, "vm1", 2);
    lab.add_dummy(tun, "patch-int", 1);
    lab.add_dummy(tun, "gre-c6120002", 2);
    lab.sw.link_patch((int, 1), (tun, 1));
    let out = lab.run(&["add-flow", "br-int", "priority=0,actions=NORMAL"], None);
    assert_eq!(out.exit, 0, "{}", out.stderr);
    let out = lab.run(&["add-flows", "br-tun", "-"], Some(&br_tun_flows()));
    assert_eq!((out.exit, out.stderr.as_str()), (0, ""));
    assert!(out.changed);
    lab
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

/// Whether `text` has `want` as consecutive lines, ignoring indentation
/// (ofproto indents every resubmit level; Open vSwitch keeps a resubmit in
/// tail position at its caller's level).
fn has_lines(text: &str, want: &[&str]) -> bool {
    let got: Vec<&str> = text.lines().map(str::trim).collect();
    got.windows(want.len()).any(|w| w == want)
}

#[test]
fn seed_tables_load_as_open_vswitch_shows_them() {
    let mut lab = compute_node();
    let want = &recorded("ovs-ofctl --no-stats dump-flows br-tun")[0];
    compare(Cmp::Unordered, &want.stdout, &lines(&lab.flows("br-tun"))).unwrap();
}

/// `show br-tun` as recorded, but for the MACs (random in Open vSwitch for
/// patch and tunnel ports and the bridge) and the dpid derived from them.
#[test]
fn show_br_tun_like_open_vswitch() {
    let mut lab = compute_node();
    let hide = |l: &str| -> String {
        match (l.find("addr:"), l.find("dpid:")) {
            (Some(i), _) => format!("{}addr:<mac>", &l[..i]),
            (_, Some(i)) => format!("{}dpid:<dpid>", &l[..i]),
            _ => l.to_string(),
        }
    };
    let want: Vec<String> = recorded("ovs-ofctl show br-tun")[0]
        .stdout
        .iter()
        .map(|l| hide(l))
        .collect();
    let out = lab.run(&["show", "br-tun"], None);
    let got: Vec<String> = out.stdout.lines().map(hide).collect();
    assert_eq!(got, want);
    assert!(
        out.stdout
            .starts_with("OFPT_FEATURES_REPLY (xid=0x2): dpid:0000020000000020\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn trace_generate_learns_the_flow_open_vswitch_learns() {
    let mut lab = compute_node();

    // Without -generate: the learn action is only described.
    let out = lab.run(&["trace", "br-tun", FROM_TUNNEL], None);
    assert_eq!(out.exit, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("Flow: "), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("bridge(\"br-tun\")\n----------------\n"),
        "{}",
        out.stdout
    );
    assert!(
        has_lines(
            &out.stdout,
            &[
                "2. tun_id=0x1, priority 1",
                "mod_vlan_vid:4",
                "resubmit(,10)"
            ]
        ),
        "{}",
        out.stdout
    );
    assert!(
        has_lines(
            &out.stdout,
            &[">> suppressing side effects, so learn action ignored"]
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("bridge(\"br-int\")"), "{}", out.stdout);
    assert!(!out.changed);
    let want = &recorded("ovs-ofctl --no-stats dump-flows br-tun table=20")[0];
    let got = lab.run(&["--no-stats", "dump-flows", "br-tun", "table=20"], None);
    compare(Cmp::Ordered, &want.stdout, &lines(&got.stdout)).unwrap();

    // With -generate (appctl's spelling), the flow is learned.
    lab.now += 1_000;
    let out = lab.run(&["ofproto/trace", "br-tun", FROM_TUNNEL, "-generate"], None);
    assert_eq!(out.exit, 0, "{}", out.stderr);
    assert!(has_lines(&out.stdout, &[LEARNED]), "{}", out.stdout);
    assert!(
        out.changed,
        "learning changes state the daemon caches depend on"
    );

    // dump-flows shows it exactly as Open vSwitch did (durations aside).
    for cmd in [
        "ovs-ofctl dump-flows br-tun table=20",
        "ovs-ofctl --no-stats dump-flows br-tun table=20",
        "ovs-ofctl dump-flows br-tun",
    ] {
        let want = recorded(cmd).pop().unwrap();
        let args: Vec<&str> = cmd.split(' ').skip(1).collect();
        let got = lab.run(&args, None);
        assert_eq!(got.exit, 0, "{cmd}: {}", got.stderr);
        // Open vSwitch's `-generate` does not count the traced packet
        // against the flows on its path; ofproto's trace does.
        let uncount = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|l| l.replace("n_packets=1, n_bytes=64", "n_packets=0, n_bytes=0"))
                .collect()
        };
        compare(Cmp::Unordered, &want.stdout, &uncount(&lines(&got.stdout)))
            .unwrap_or_else(|e| panic!("{cmd}\n{e}"));
    }

    // The VM's reply toward the peer now hits the learned flow.
    let out = lab.run(
        &[
            "trace",
            "br-tun",
            "in_port=patch-int,dl_vlan=4,dl_dst=fa:16:3e:32:28:af",
        ],
        None,
    );
    let hit = [
        "20. vlan_tci=0x0004/0x0fff,dl_dst=fa:16:3e:32:28:af, priority 1",
        "load:0->NXM_OF_VLAN_TCI[]",
        "load:0x1->NXM_NX_TUN_ID[]",
        "output:2",
    ];
    assert!(has_lines(&out.stdout, &hit), "{}", out.stdout);
}

/// LABS.md's expectation after the VMs have talked for a while: the learned
/// flow, refreshed by later packets from the tunnel, shows `hard_age`.
#[test]
fn relearned_flow_shows_hard_age() {
    let mut lab = compute_node();
    lab.run(&["--generate", "trace", "br-tun", FROM_TUNNEL], None);
    lab.now += 7_000;
    lab.run(&["trace", "--generate", "br-tun", FROM_TUNNEL], None);
    lab.now += 3_000;
    let out = lab.run(&["dump-flows", "br-tun", "table=20"], None);
    let learned = out
        .stdout
        .lines()
        .find(|l| l.contains("priority=1,"))
        .expect("learned flow");
    assert_eq!(
        learned,
        " cookie=0x0, duration=10s, table=20, n_packets=0, n_bytes=0, hard_timeout=300, idle_age=10, hard_age=3, priority=1,vlan_tci=0x0004/0x0fff,dl_dst=fa:16:3e:32:28:af actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2"
    );
}

#[test]
fn trace_as_json() {
    let mut lab = compute_node();
    let out = lab.run(&["--format=json", "trace", "br-tun", FROM_TUNNEL], None);
    assert_eq!(out.exit, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    assert_eq!(v["flow"], "tun_id=0x1,in_port=2,vlan_tci=0x0000,dl_src=fa:16:3e:32:28:af,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x0000");
    assert!(v["events"].as_array().unwrap().len() > 5);
    let out = lab.run(&["trace", "--format", "json", "br-tun", FROM_TUNNEL], None);
    assert!(serde_json::from_str::<serde_json::Value>(&out.stdout).is_ok());
}

#[test]
fn trace_errors() {
    let mut lab = compute_node();
    let before = lab.flows("br-tun");
    let out = lab.run(&["trace", "br-nope", "in_port=1"], None);
    assert_eq!(
        (out.exit, out.stderr.as_str()),
        (1, "rswitch-ofctl: br-nope is not a bridge or a socket\n")
    );
    let out = lab.run(&["trace", "br-tun", "foo=1"], None);
    assert_eq!(out.exit, 1);
    assert!(
        out.stderr
            .starts_with("rswitch-ofctl: Bad openflow flow syntax: foo=1: unknown keyword foo"),
        "{}",
        out.stderr
    );
    let out = lab.run(&["trace", "br-tun", "in_port=1", "generate"], None);
    assert_eq!(
        (out.exit, out.stderr.as_str()),
        (
            1,
            "rswitch-ofctl: generate: unknown trace option (use -generate)\n"
        )
    );
    let out = lab.run(&["--format=xml", "trace", "br-tun", "in_port=1"], None);
    assert_eq!(
        (out.exit, out.stderr.as_str()),
        (
            1,
            "rswitch-ofctl: xml: unknown output format (use text or json)\n"
        )
    );
    assert_eq!(lab.flows("br-tun"), before);
}
