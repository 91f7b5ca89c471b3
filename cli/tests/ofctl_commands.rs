//! Each rswitch-ofctl command, its error paths (message, exit status, and
//! the bridge unchanged, checked with dump-flows before and after) and the
//! side effects it reports to the daemon.

#[path = "ofctl_support.rs"]
mod support;

use ofproto::pipeline::FailMode;
use ofproto::port::OFPP_LOCAL;
use rswitch_cli::ofctl::{
    file_operands, FileOperand, OfctlOutput, PortChange, PortStatus, SwitchView, TableCounters,
};
use support::{argv, FakeView, Lab};

/// br0 (secure): p1..p3; br1 (standalone): q1.
fn lab() -> Lab {
    let mut lab = Lab::new();
    let b = lab.add_bridge("br0", FailMode::Secure, [0x02, 0, 0, 0, 0, 0x01]);
    for i in 1..=3 {
        lab.add_dummy(b, &format!("p{i}"), i);
    }
    let c = lab.add_bridge("br1", FailMode::Standalone, [0x02, 0, 0, 0, 0, 0x02]);
    lab.add_dummy(c, "q1", 1);
    lab
}

fn ok(out: &OfctlOutput) {
    assert_eq!(out.exit, 0, "stderr: {}", out.stderr);
}

/// Runs a command that must fail with `message`, leaving br0's flows as
/// they were.
fn refused(lab: &mut Lab, args: &[&str], stdin: Option<&str>, message: &str) {
    let before = lab.flows("br0");
    let out = lab.run(args, stdin);
    assert_eq!(out.exit, 1, "{args:?}: {out:?}");
    assert!(
        out.stderr.starts_with(&format!("rswitch-ofctl: {message}")),
        "{args:?}: {}",
        out.stderr
    );
    assert!(out.port_changes.is_empty() && !out.changed, "{args:?}");
    assert_eq!(lab.flows("br0"), before, "{args:?} changed the flows");
}

#[test]
fn command_line_errors() {
    let mut lab = lab();
    lab.run(&["add-flow", "br0", "priority=5,actions=drop"], None);
    refused(
        &mut lab,
        &[],
        None,
        "missing command name; use --help for help",
    );
    refused(
        &mut lab,
        &["frobnicate", "br0"],
        None,
        "unknown command 'frobnicate'; use --help for help",
    );
    refused(
        &mut lab,
        &["add-flow", "br0"],
        None,
        "'add-flow' command requires at least 2 arguments",
    );
    refused(
        &mut lab,
        &["del-flows", "br0", "a", "b"],
        None,
        "'del-flows' command takes at most 2 arguments",
    );
    refused(
        &mut lab,
        &["--frobnicate", "del-flows", "br0"],
        None,
        "unrecognized option '--frobnicate'",
    );
    refused(
        &mut lab,
        &["-O", "OpenFlow99", "del-flows", "br0"],
        None,
        "Unknown OpenFlow version: \"OpenFlow99\"",
    );
    refused(
        &mut lab,
        &["--sort=nope", "dump-flows", "br0"],
        None,
        "nope: unknown field name",
    );
    refused(
        &mut lab,
        &["--strict=yes", "del-flows", "br0"],
        None,
        "option '--strict' doesn't allow an argument",
    );
}

#[test]
fn unknown_bridge_for_every_command() {
    let mut lab = lab();
    for cmd in [
        &["show", "br9"][..],
        &["dump-ports-desc", "br9"],
        &["mod-port", "br9", "p1", "up"],
        &["dump-ports", "br9"],
        &["dump-tables", "br9"],
        &["dump-flows", "br9"],
        &["dump-aggregate", "br9"],
        &["add-flow", "br9", "actions=drop"],
        &["mod-flows", "br9", "actions=drop"],
        &["del-flows", "br9"],
        &["diff-flows", "br9", "br0"],
        &["trace", "br9", "in_port=1"],
    ] {
        refused(&mut lab, cmd, None, "br9 is not a bridge or a socket\n");
    }
    let out = lab.run(&["add-flows", "br9", "f.txt"], Some("actions=drop\n"));
    assert_eq!(
        out.stderr,
        "rswitch-ofctl: br9 is not a bridge or a socket\n"
    );
}

#[test]
fn add_flow_names_warnings_and_errors() {
    let mut lab = lab();
    let out = lab.run(&["add-flow", "br0", "in_port=p1,actions=output:p2"], None);
    ok(&out);
    assert!(out.changed);
    assert_eq!(lab.flows("br0"), " in_port=1 actions=output:2\n");
    // A prerequisite OVS drops silently is reported.
    let out = lab.run(
        &["add-flow", "br0", "priority=7,tp_dst=80,actions=drop"],
        None,
    );
    ok(&out);
    assert!(
        out.stderr.starts_with("rswitch-ofctl: warning: tp_dst"),
        "{}",
        out.stderr
    );
    refused(
        &mut lab,
        &["--no-names", "add-flow", "br0", "in_port=p1,actions=drop"],
        None,
        "p1: invalid or unknown port for in_port",
    );
    refused(
        &mut lab,
        &["add-flow", "br0", "in_port=1,actions=frobnicate"],
        None,
        "unknown action frobnicate",
    );
    refused(
        &mut lab,
        &["add-flow", "br0", "in_port=1"],
        None,
        "must specify an action (near \"in_port=1\")",
    );
    refused(&mut lab, &["add-flow", "br0", "actions=push_vlan:0x8100"], None, "none of the usable flow formats (OXM,OpenFlow11) is among the allowed flow formats (OpenFlow10,NXM)");
    // ... which OpenFlow 1.3 allows.
    ok(&lab.run(
        &[
            "-O",
            "OpenFlow13",
            "add-flow",
            "br0",
            "priority=9,actions=push_vlan:0x8100",
        ],
        None,
    ));
}

const SEVEN: &str = "\
priority=10,in_port=1,actions=output:2
priority=11,in_port=2,actions=output:1
# a comment

priority=12,in_port=3,actions=output:1
table=1,priority=1,actions=drop
priority=14,in_port=1,actions=output:9,frobnicate
";

#[test]
fn add_flows_is_all_or_nothing() {
    let mut lab = lab();
    ok(&lab.run(&["add-flow", "br0", "priority=1,actions=drop"], None));
    refused(
        &mut lab,
        &["add-flows", "br0", "flows.txt"],
        Some(SEVEN),
        "flows.txt:7: unknown action frobnicate",
    );
    refused(
        &mut lab,
        &["add-flows", "br0", "-"],
        Some(SEVEN),
        "-:7: unknown action frobnicate",
    );
    refused(
        &mut lab,
        &["add-flows", "br0", "gone.txt"],
        None,
        "gone.txt: open failed (No such file or directory)",
    );
    let good = SEVEN.replace(",frobnicate", "");
    let out = lab.run(&["add-flows", "br0", "flows.txt"], Some(&good));
    ok(&out);
    assert!(out.changed);
    assert_eq!(lab.flows("br0").lines().count(), 6);
    // Keywords, and `add-flow BR -` reading a file (a modify without
    // table= applies to every table).
    let kw =
        "delete in_port=1\nmodify_strict priority=1,actions=output:3\nadd table=2,actions=drop\n";
    ok(&lab.run(&["add-flow", "br0", "-"], Some(kw)));
    assert_eq!(
        lab.flows("br0"),
        " priority=12,in_port=3 actions=output:1\n priority=11,in_port=2 actions=output:1\n priority=1 actions=output:3\n table=1, priority=1 actions=output:3\n table=2, actions=drop\n"
    );
}

#[test]
fn refused_flow_mod_rolls_the_batch_back() {
    let mut lab = lab();
    ok(&lab.run(
        &["add-flow", "br0", "check_overlap,priority=5,actions=drop"],
        None,
    ));
    let before = lab.flows("br0");
    let file = "priority=6,in_port=1,actions=drop\npriority=7,in_port=2,actions=drop\ncheck_overlap,priority=5,in_port=3,actions=drop\n";
    let out = lab.run(&["add-flows", "br0", "overlap.txt"], Some(file));
    assert_eq!(out.exit, 1);
    assert_eq!(
        out.stderr,
        "OFPT_ERROR (xid=0xa): OFPFMFC_OVERLAP\nOFPT_FLOW_MOD (xid=0xa): ADD priority=5,in_port=3 check_overlap actions=drop\n\
         rswitch-ofctl: overlap.txt:3: refused by the switch; no flow of the file was applied\n"
    );
    assert_eq!(lab.flows("br0"), before);
    // A single NXM flow_mod: OVS negotiated NXM first, hence xid 0x8.
    let out = lab.run(
        &[
            "add-flow",
            "br0",
            "check_overlap,priority=5,reg0=1,actions=drop",
        ],
        None,
    );
    assert_eq!(
        out.stderr,
        "OFPT_ERROR (xid=0x8): OFPFMFC_OVERLAP\nNXT_FLOW_MOD (xid=0x8): ADD priority=5,reg0=0x1 check_overlap actions=drop\n"
    );
    assert_eq!(lab.flows("br0"), before);
}

#[test]
fn mod_flows_strict_and_protocol_semantics() {
    let mut lab = lab();
    ok(&lab.run(&["add-flows", "br0", "f"], Some("cookie=0x1,priority=5,in_port=1,actions=output:2\npriority=6,in_port=1,tcp,actions=output:2\n")));
    ok(&lab.run(&["mod-flows", "br0", "in_port=1,actions=output:3"], None));
    assert_eq!(
        lab.flows("br0"),
        " priority=6,tcp,in_port=1 actions=output:3\n priority=5,in_port=1 actions=output:3\n"
    );
    ok(&lab.run(
        &[
            "mod-flows",
            "--strict",
            "br0",
            "priority=5,in_port=1,actions=drop",
        ],
        None,
    ));
    assert!(lab
        .flows("br0")
        .contains(" priority=5,in_port=1 actions=drop\n"));
    // OpenFlow 1.0 adds when nothing matches; 1.2+ never does.
    ok(&lab.run(
        &[
            "-O",
            "OpenFlow13",
            "mod-flows",
            "br0",
            "in_port=3,actions=output:1",
        ],
        None,
    ));
    assert!(!lab.flows("br0").contains("in_port=3"));
    ok(&lab.run(&["mod-flows", "br0", "in_port=3,actions=output:1"], None));
    assert!(lab.flows("br0").contains(" in_port=3 actions=output:1\n"));
    refused(
        &mut lab,
        &["mod-flows", "br0", "in_port=1"],
        None,
        "must specify an action",
    );
    // `mod-flows BR -`: one command for every line, no keywords.
    ok(&lab.run(
        &["mod-flows", "br0", "-"],
        Some("in_port=3,actions=output:2\n"),
    ));
    assert!(lab.flows("br0").contains(" in_port=3 actions=output:2\n"));
    refused(
        &mut lab,
        &["mod-flows", "br0", "-"],
        Some("add in_port=3,actions=output:2\n"),
        "-:1: field add missing value",
    );
}

#[test]
fn del_flows_variants() {
    let mut lab = lab();
    let flows = "priority=5,in_port=1,actions=output:2\npriority=6,in_port=2,actions=output:3\ntable=1,in_port=1,actions=output:2\n";
    ok(&lab.run(&["add-flows", "br0", "f"], Some(flows)));
    refused(
        &mut lab,
        &["del-flows", "br0", "priority=5"],
        None,
        "unknown keyword priority",
    );
    ok(&lab.run(
        &["del-flows", "--strict", "br0", "priority=4,in_port=1"],
        None,
    ));
    assert_eq!(lab.flows("br0").lines().count(), 3);
    ok(&lab.run(&["del-flows", "br0", "out_port=3"], None));
    assert_eq!(lab.flows("br0").lines().count(), 2);
    ok(&lab.run(&["del-flows", "br0", "in_port=p1"], None));
    assert_eq!(lab.flows("br0"), "");
    ok(&lab.run(&["add-flows", "br0", "f"], Some(flows)));
    let out = lab.run(&["del-flows", "br0"], None);
    ok(&out);
    assert!(out.changed);
    assert_eq!(lab.flows("br0"), "");
    let out = lab.run(&["del-flows", "br0"], None);
    assert!(!out.changed, "nothing to delete");
}

fn stats_of(lab: &mut Lab, filter: &str) -> String {
    let out = lab.run(&["dump-flows", "br0", filter], None);
    out.stdout.lines().nth(1).unwrap_or("").to_string()
}

#[test]
fn replace_flows_like_open_vswitch() {
    let mut lab = lab();
    ok(&lab.run(
        &["add-flows", "br0", "f"],
        Some("priority=5,in_port=1,actions=output:2\npriority=6,in_port=2,actions=output:3\n"),
    ));
    lab.receive(0, "in_port=1", 2, 100);
    lab.receive(0, "in_port=2", 1, 100);
    lab.now += 5_000;
    // OpenFlow 1.0 cannot read flows back with table ids: refused.
    refused(&mut lab, &["replace-flows", "br0", "t.txt"], Some("table=1,actions=drop\n"), "switch does not support any of the usable flow formats (OXM,OpenFlow10+table_id,NXM+table_id,OpenFlow11)");
    // An OpenFlow 1.0 add restarts a changed flow's counters.
    let file = "priority=5,in_port=1,actions=output:2\npriority=6,in_port=2,actions=output:1\npriority=7,in_port=3,actions=drop\n";
    let out = lab.run(&["replace-flows", "br0", "new.txt"], Some(file));
    ok(&out);
    assert!(out.changed);
    assert!(
        stats_of(&mut lab, "in_port=1").contains("duration=5s, table=0, n_packets=2, n_bytes=200")
    );
    assert!(
        stats_of(&mut lab, "in_port=2").contains("duration=0s, table=0, n_packets=0, n_bytes=0")
    );
    assert_eq!(
        lab.run(&["diff-flows", "br0", "new.txt"], Some(file)).exit,
        0
    );
    // OpenFlow 1.3 keeps counters; --readd restarts every flow's age.
    lab.receive(0, "in_port=2", 3, 100);
    lab.now += 1_000;
    let file13 = format!("{file}table=1,actions=drop\n");
    ok(&lab.run(
        &[
            "-O",
            "OpenFlow13",
            "--readd",
            "replace-flows",
            "br0",
            "new.txt",
        ],
        Some(&file13),
    ));
    assert!(
        stats_of(&mut lab, "in_port=1").contains("duration=0s, table=0, n_packets=2, n_bytes=200")
    );
    assert!(
        stats_of(&mut lab, "in_port=2").contains("duration=0s, table=0, n_packets=3, n_bytes=300")
    );
    assert!(lab.flows("br0").contains(" table=1, actions=drop\n"));
    refused(
        &mut lab,
        &["replace-flows", "br0", "bad.txt"],
        Some("priority=1,actions=drop\nfoo=1,actions=drop\n"),
        "bad.txt:2: unknown keyword foo",
    );
    refused(
        &mut lab,
        &["replace-flows", "br0", "kw.txt"],
        Some("add priority=1,actions=drop\n"),
        "kw.txt:1: field add missing value",
    );
}

#[test]
fn diff_flows_sources() {
    let mut lab = lab();
    ok(&lab.run(
        &["add-flow", "br0", "priority=5,in_port=1,actions=output:2"],
        None,
    ));
    ok(&lab.run(
        &["add-flow", "br1", "priority=5,in_port=1,actions=output:2"],
        None,
    ));
    let out = lab.run(&["diff-flows", "br0", "br1"], None);
    assert_eq!(
        (out.exit, out.stdout.as_str()),
        (2, "+priority=0 actions=NORMAL\n"),
        "br1 is standalone"
    );
    let out = lab.run(&["diff-flows", "br0", "br0"], None);
    assert_eq!((out.exit, out.stdout.as_str()), (0, ""));
    // A file on stdin: the source that is not a bridge.
    let out = lab.run(
        &["diff-flows", "want.txt", "br0"],
        Some("# c\npriority=5,in_port=1,actions=output:3\n"),
    );
    assert_eq!(out.exit, 2);
    assert_eq!(
        out.stdout,
        "-priority=5,in_port=1 actions=output:3\n+priority=5,in_port=1 actions=output:2\n"
    );
    assert!(!out.changed);
    // --names: names printed, and accepted in a file read after a bridge.
    let out = lab.run(
        &["--names", "diff-flows", "br0", "w.txt"],
        Some("priority=5,in_port=p1,actions=output:p3\n"),
    );
    assert_eq!(
        out.stdout,
        "-priority=5,in_port=p1 actions=output:p2\n+priority=5,in_port=p1 actions=output:p3\n"
    );
    let out = lab.run(
        &["diff-flows", "w.txt", "br0"],
        Some("priority=5,in_port=p1,actions=drop\n"),
    );
    assert_eq!(
        (out.exit, out.stderr.as_str()),
        (
            1,
            "rswitch-ofctl: w.txt:1: p1: invalid or unknown port for in_port\n"
        )
    );
    // Two files need their contents by name.
    let files = [
        ("a.txt", "in_port=1,actions=drop\n"),
        ("b.txt", "in_port=1,actions=drop\nin_port=2,actions=drop\n"),
    ];
    let out = lab.run_files(&argv(&["diff-flows", "a.txt", "b.txt"]), &files);
    assert_eq!(
        (out.exit, out.stdout.as_str()),
        (2, "+in_port=2 actions=drop\n")
    );
    let out = lab.run(&["diff-flows", "a.txt", "b.txt"], Some("x"));
    assert_eq!(out.exit, 1);
    assert!(
        out.stderr
            .contains("only one file's content can come on stdin"),
        "{}",
        out.stderr
    );
    let out = lab.run_files(&argv(&["diff-flows", "./missing.txt", "br0"]), &files);
    assert_eq!(
        out.stderr,
        "rswitch-ofctl: ./missing.txt: open failed (No such file or directory)\n"
    );
}

#[test]
fn dump_flows_and_aggregate() {
    let mut lab = lab();
    ok(&lab.run(&["add-flows", "br0", "f"], Some("priority=5,in_port=1,actions=output:2,LOCAL\npriority=9,in_port=br0,actions=output:p3\n")));
    lab.receive(0, "in_port=1", 1, 60);
    let out = lab.run(
        &["--names", "--no-stats", "--rsort", "dump-flows", "br0"],
        None,
    );
    assert_eq!(out.stdout, " priority=9,in_port=LOCAL actions=output:p3\n priority=5,in_port=p1 actions=output:p2,LOCAL\n");
    let out = lab.run(&["dump-flows", "br0", "in_port=p1"], None);
    assert!(out.stdout.starts_with("NXST_FLOW reply (xid=0x8):\n cookie=0x0, duration=0s, table=0, n_packets=1, n_bytes=60, idle_age=0, priority=5,in_port=1"), "{}", out.stdout);
    let out = lab.run(&["-O", "OpenFlow13", "dump-flows", "br0"], None);
    ok(&out);
    assert!(out.stdout.starts_with("NXST_FLOW reply (xid=0x4):\n"));
    assert!(
        out.stderr
            .starts_with("rswitch-ofctl: warning: flow statistics are printed as OpenFlow 1.0"),
        "{}",
        out.stderr
    );
    let out = lab.run(&["dump-aggregate", "br0"], None);
    assert_eq!(
        out.stdout,
        "NXST_AGGREGATE reply (xid=0x4): packet_count=1 byte_count=60 flow_count=2\n"
    );
    let out = lab.run(
        &["-O", "OpenFlow13", "dump-aggregate", "br0", "in_port=1"],
        None,
    );
    assert_eq!(
        out.stdout,
        "OFPST_AGGREGATE reply (OF1.3) (xid=0x6): packet_count=1 byte_count=60 flow_count=1\n"
    );
    refused(
        &mut lab,
        &["dump-flows", "br0", "priority=5"],
        None,
        "unknown keyword priority",
    );
}

#[test]
fn dump_ports_counters_and_names() {
    let mut lab = lab();
    ok(&lab.run(&["add-flow", "br0", "in_port=1,actions=output:2"], None));
    lab.receive(0, "in_port=1", 3, 100);
    lab.view.counters.get_mut(&(0, 1)).unwrap().rx_dropped = 4;
    let out = lab.run(&["dump-ports", "br0", "p2"], None);
    assert_eq!(
        out.stdout,
        "OFPST_PORT reply (xid=0x4): 1 ports\n  port  2: rx pkts=0, bytes=0, drop=0, errs=0, frame=?, over=?, crc=?\n           tx pkts=3, bytes=300, drop=0, errs=0, coll=?\n"
    );
    let out = lab.run(&["dump-ports", "br0"], None);
    let order: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  port "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(order, ["LOCAL", " 1", " 2", " 3"]);
    assert!(out
        .stdout
        .contains("  port  1: rx pkts=3, bytes=300, drop=4, errs=0"));
    lab.now += 2_500;
    let out = lab.run(
        &["-O", "OpenFlow13", "--names", "dump-ports", "br0", "1"],
        None,
    );
    assert_eq!(
        out.stdout,
        "OFPST_PORT reply (OF1.3) (xid=0x2): 1 ports\n  port  p1: rx pkts=3, bytes=300, drop=4, errs=0, frame=?, over=?, crc=?\n           tx pkts=0, bytes=0, drop=0, errs=0, coll=?\n           duration=2.500s\n"
    );
    let out = lab.run(&["dump-ports", "br0", "9"], None);
    assert_eq!(out.stdout, "OFPST_PORT reply (xid=0x2): 0 ports\n");
    let out = lab.run(&["dump-ports", "br0", "65534"], None);
    assert!(out
        .stderr
        .starts_with("rswitch-ofctl: warning: referring to port LOCAL as 65534 is deprecated"));
    refused(
        &mut lab,
        &["dump-ports", "br0", "nope"],
        None,
        "br0: unknown port `nope'\n",
    );
    refused(
        &mut lab,
        &["--no-names", "dump-ports", "br0", "p1"],
        None,
        "br0: unknown port `p1'\n",
    );
}

#[test]
fn show_ports_and_bridge() {
    let mut lab = lab();
    let b = lab.sw.bridge_index("br0").unwrap();
    // A port the daemon knows little about, and one with a device name.
    lab.view.status.remove(&(b, 3));
    lab.view.status.get_mut(&(b, 2)).unwrap().ifname = Some("veth2".into());
    let out = lab.run(&["show", "br0"], None);
    ok(&out);
    let text = &out.stdout;
    assert!(
        text.starts_with(
            "OFPT_FEATURES_REPLY (xid=0x2): dpid:0000020000000001\nn_tables:254, n_buffers:0\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(" 2(veth2): addr:aa:55:aa:55:00:01\n"),
        "{text}"
    );
    let made_up = text
        .lines()
        .find(|l| l.starts_with(" 3(p3): addr:"))
        .unwrap()
        .to_string();
    assert_eq!(
        lab.run(&["show", "br0"], None)
            .stdout
            .lines()
            .find(|l| l.starts_with(" 3("))
            .unwrap(),
        made_up,
        "stable"
    );
    assert!(text.ends_with(" LOCAL(br0): addr:02:00:00:00:00:01\n     config:     PORT_DOWN\n     state:      LINK_DOWN\n     current:    10GB-FD COPPER\n     speed: 10000 Mbps now, 0 Mbps max\nOFPT_GET_CONFIG_REPLY (xid=0x4): frags=normal miss_send_len=0\n"), "{text}");
    // Without any status for LOCAL, the dpid still comes from a stable MAC.
    lab.view.status.remove(&(b, OFPP_LOCAL));
    let a = lab.run(&["show", "br0"], None).stdout;
    assert_eq!(a, lab.run(&["show", "br0"], None).stdout);
    assert!(!a.contains("dpid:0000020000000001"));
}

#[test]
fn mod_port_up_down_flood() {
    let mut lab = lab();
    let out = lab.run(&["mod-port", "br0", "p1", "down"], None);
    ok(&out);
    assert_eq!(
        out.port_changes,
        vec![PortChange {
            bridge: 0,
            ofport: 1,
            admin_up: false
        }]
    );
    assert!(out.changed);
    assert!(
        !lab.sw.bridges[0].port(1).unwrap().up,
        "FLOOD and NORMAL skip it at once"
    );
    assert!(lab.run(&["show", "br0"], None).stdout.contains(
        " 1(p1): addr:aa:55:aa:55:00:00\n     config:     PORT_DOWN\n     state:      LINK_DOWN\n"
    ));
    let out = lab.run(&["mod-port", "br0", "1", "NO-DOWN"], None);
    assert_eq!(
        out.port_changes,
        vec![PortChange {
            bridge: 0,
            ofport: 1,
            admin_up: true
        }]
    );
    assert!(lab.sw.bridges[0].port(1).unwrap().up);
    ok(&lab.run(&["mod-port", "br0", "p2", "noflood"], None));
    assert!(lab.sw.bridges[0].port(2).unwrap().no_flood);
    assert!(lab
        .run(&["show", "br0"], None)
        .stdout
        .contains("     config:     NO_FLOOD\n"));
    assert!(
        !lab.run(&["-O", "OpenFlow13", "show", "br0"], None)
            .stdout
            .contains("NO_FLOOD"),
        "not an OpenFlow 1.3 flag"
    );
    let out = lab.run(&["mod-port", "br0", "br0", "up"], None);
    assert_eq!(
        out.port_changes,
        vec![PortChange {
            bridge: 0,
            ofport: OFPP_LOCAL,
            admin_up: true
        }]
    );
    // Already in effect: accepted, nothing changes.
    let out = lab.run(&["mod-port", "br0", "p3", "receive"], None);
    ok(&out);
    assert!(!out.changed && out.port_changes.is_empty());
    let before = lab.sw.bridges[0].ports().to_vec();
    refused(
        &mut lab,
        &["mod-port", "br0", "p3", "no-receive"],
        None,
        "mod-port no-receive: rswitch does not implement OFPPC_NO_RECV",
    );
    refused(
        &mut lab,
        &["mod-port", "br0", "p3", "no-packet-in"],
        None,
        "mod-port no-packet-in: rswitch does not implement OFPPC_NO_PACKET_IN",
    );
    refused(
        &mut lab,
        &["mod-port", "br0", "p3", "sideways"],
        None,
        "unknown mod-port command 'sideways'",
    );
    refused(
        &mut lab,
        &["mod-port", "br0", "LOCAL", "down"],
        None,
        "br0: couldn't find port `LOCAL'",
    );
    refused(
        &mut lab,
        &["mod-port", "br0", "9", "down"],
        None,
        "br0: couldn't find port `9'",
    );
    assert_eq!(lab.sw.bridges[0].ports(), &before[..]);
}

/// A daemon that counts table lookups itself.
struct Counting(FakeView);

impl SwitchView for Counting {
    fn port_counters(&self, b: usize, p: u32) -> datapath::engine::PortCounters {
        self.0.port_counters(b, p)
    }
    fn port_status(&self, b: usize, p: u32) -> PortStatus {
        self.0.port_status(b, p)
    }
    fn table_counters(&self, _b: usize, t: u8) -> Option<TableCounters> {
        (t == 0).then_some(TableCounters {
            lookup: 40,
            matched: 30,
        })
    }
}

#[test]
fn dump_tables_counters_and_table_254() {
    let mut lab = lab();
    ok(&lab.run(&["add-flow", "br0", "in_port=1,actions=resubmit(,1)"], None));
    ok(&lab.run(&["add-flow", "br0", "table=1,actions=output:2"], None));
    lab.receive(0, "in_port=1", 2, 60);
    lab.receive(0, "in_port=3", 1, 60);
    let out = lab.run(&["dump-tables", "br0"], None).stdout;
    assert!(out.starts_with("OFPST_TABLE reply (xid=0x2):\n  table 0:\n    active=1, lookup=3, matched=2\n    max_entries=1000000\n"), "{out}");
    assert!(out.ends_with("\n  table 1:\n    active=1, lookup=2, matched=2\n    (same features)\n\n  table 2:\n    active=0, lookup=0, matched=0\n    (same features)\n\n  tables 3...253: ditto\n"), "{out}");
    // rswitch's 255th table shows only when used.
    ok(&lab.run(&["add-flow", "br0", "table=254,actions=drop"], None));
    let out = lab
        .run(&["-O", "OpenFlow13", "dump-tables", "br0"], None)
        .stdout;
    assert!(
        out.ends_with(
            "\n  tables 3...253: ditto\n\n  table 254:\n    active=1, lookup=0, matched=0\n"
        ),
        "{out}"
    );
    let view = Counting(std::mem::take(&mut lab.view));
    let out = rswitch_cli::ofctl::execute(
        &mut lab.sw,
        &view,
        &argv(&["dump-tables", "br0"]),
        None,
        lab.now,
    );
    assert!(
        out.stdout
            .contains("  table 0:\n    active=1, lookup=40, matched=30\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn parse_flow_and_flows() {
    let mut lab = lab();
    let out = lab.run(
        &[
            "parse-flow",
            "cookie=0x5,priority=100,idle_timeout=10,tcp,tp_dst=80,actions=output:1",
        ],
        None,
    );
    assert_eq!(
        out.stdout,
        "usable protocols: any\nchosen protocol: OpenFlow10-table_id\nOFPT_FLOW_MOD (xid=0x1): ADD priority=100,tcp,tp_dst=80 cookie:0x5 idle:10 actions=output:1\n"
    );
    let out = lab.run(
        &["parse-flows", "p.txt"],
        Some("in_port=1,actions=drop\n# c\ntable=2,reg1=0x10,actions=resubmit(,2)\n"),
    );
    assert_eq!(
        out.stdout,
        "usable protocols: OXM,NXM+table_id\nchosen protocol: NXM+table_id\nNXT_FLOW_MOD (xid=0x1): ADD table:255 in_port=1 actions=drop\nNXT_FLOW_MOD (xid=0x2): ADD table:2 reg1=0x10 actions=resubmit(,2)\n"
    );
    let out = lab.run(&["parse-flow", "actions=push_vlan:0x8100"], None);
    assert_eq!(
        (out.exit, out.stdout.as_str(), out.stderr.as_str()),
        (
            1,
            "usable protocols: OXM,OpenFlow11\n",
            "rswitch-ofctl: no usable protocol\n"
        )
    );
    refused(
        &mut lab,
        &["parse-flow", "in_port=p1,actions=drop"],
        None,
        "p1: invalid or unknown port for in_port",
    );
    refused(
        &mut lab,
        &["parse-flows", "p.txt"],
        Some("add in_port=1,actions=drop\n"),
        "p.txt:1: field add missing value",
    );
}

#[test]
fn files_the_client_must_read() {
    let ops = |s: &str| file_operands(&argv(&s.split(' ').collect::<Vec<_>>()));
    assert_eq!(
        ops("--strict add-flows br0 f.txt"),
        vec![FileOperand::Always("f.txt".into())]
    );
    assert_eq!(
        ops("replace-flows br0 ./f"),
        vec![FileOperand::Always("./f".into())]
    );
    assert_eq!(ops("parse-flows x"), vec![FileOperand::Always("x".into())]);
    assert_eq!(
        ops("del-flows br0 -"),
        vec![FileOperand::Always("-".into())]
    );
    assert_eq!(ops("add-flow br0 in_port=1,actions=drop"), vec![]);
    assert_eq!(
        ops("diff-flows br0 want.txt"),
        vec![
            FileOperand::IfExists("br0".into()),
            FileOperand::IfExists("want.txt".into())
        ]
    );
    assert_eq!(ops("--frobnicate show br0"), vec![]);
}

#[test]
fn help_and_version() {
    let mut lab = lab();
    let out = lab.run(&["--help"], None);
    assert!(out.stdout.contains("dump-flows SWITCH"));
    let out = lab.run(&["-V"], None);
    assert!(out.stdout.starts_with("rswitch-ofctl (rswitch) "));
}
