//! Pictures (issue 6) without root: the DOT of a small topology and of the
//! LABS.md L6 br-tun pipeline (after traffic, with a learned flow) against
//! the example files in `docs/pictures/`, which the README shows;
//! `RSWITCH_BLESS=1` rewrites them (and their SVG and PNG when Graphviz is
//! installed). Also: rendering to SVG/PNG, and the clients' picture
//! options (`--format`, `-o`, a missing Graphviz, offline `dump-flows
//! --flows FILE`).

use std::path::PathBuf;
use std::process::Command;

use ofproto::pipeline::{Bridge, FailMode, RunOptions, Switch};
use ofproto::port::{PortInfo, VlanConfig};
use ofproto::syntax::flow::{parse_flows_file, FlowModCommand};
use ofproto::trace::parse_packet;
use rswitch_cli::picture::pipeline::pipeline_dot;
use rswitch_cli::picture::render::render;
use rswitch_cli::picture::topology::{topology_dot, Link, Placement, Placements};
use rswitch_cli::picture::Format;
use rswitch_cli::vsctl::{self, Db};

const OFCTL: &str = env!("CARGO_BIN_EXE_rswitch-ofctl");
const RSWITCH: &str = env!("CARGO_BIN_EXE_rswitch");

/// The seed's br-tun tables (LABS.md L6), local VLAN 4, tunnel id 0x1.
const BR_TUN: &str = "
table=0,priority=1,in_port=1 actions=resubmit(,1)
table=0,priority=1,in_port=2 actions=resubmit(,2)
table=0,priority=0 actions=drop
table=1,priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=1,priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)
table=2,priority=1,tun_id=0x1 actions=mod_vlan_vid:4,resubmit(,10)
table=2,priority=0 actions=drop
table=3,priority=0 actions=drop
table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1
table=20,priority=0 actions=resubmit(,21)
table=21,priority=1,dl_vlan=4 actions=strip_vlan,set_tunnel:0x1,output:2
table=21,priority=0 actions=drop
";

fn pictures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/pictures")
}

fn have_dot() -> bool {
    Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compares `dot` with `docs/pictures/NAME.dot`, or (RSWITCH_BLESS=1)
/// rewrites it and its SVG and PNG.
fn golden(name: &str, dot: &str) {
    let dir = pictures_dir();
    let path = dir.join(format!("{name}.dot"));
    if std::env::var_os("RSWITCH_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, dot).unwrap();
        if have_dot() {
            for f in [Format::Svg, Format::Png] {
                let ext = if f == Format::Svg { "svg" } else { "png" };
                let bytes = render(dot, f).unwrap();
                std::fs::write(dir.join(format!("{name}.{ext}")), bytes).unwrap();
            }
        }
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (RSWITCH_BLESS=1 writes it)", path.display()));
    assert_eq!(
        dot,
        want,
        "{} differs (RSWITCH_BLESS=1 rewrites it)",
        path.display()
    );
}

fn run_vsctl(db: &Db, cmd: &str) -> Db {
    let argv: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    vsctl::execute(db, &argv)
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
        .0
}

/// Two bridges joined by patch ports, a VXLAN tunnel, a tagged internal
/// port moved into a namespace, a trunk veth whose peer is in another.
fn example_db() -> Db {
    let mut db = Db::new();
    for cmd in [
        "add-br br-int",
        "set-fail-mode br-int secure",
        "add-br br-tun",
        "set-fail-mode br-tun secure",
        "add-port br-int patch-tun -- set interface patch-tun type=patch options:peer=patch-int",
        "add-port br-tun patch-int -- set interface patch-int type=patch options:peer=patch-tun",
        "add-port br-tun vxlan-c6120002 -- set interface vxlan-c6120002 type=vxlan options:remote_ip=198.18.0.2 options:key=flow",
        "add-port br-int vm1 tag=4 -- set interface vm1 type=internal",
        "add-port br-int veth-h1 trunks=4,5",
    ] {
        db = run_vsctl(&db, cmd);
    }
    db
}

fn example_places() -> Placements {
    let mut p = Placements::new();
    for (port, ns, iface, link) in [
        ("br-int", "root", "br-int", Link::Own),
        ("br-tun", "root", "br-tun", Link::Own),
        ("vm1", "vm1", "vm1", Link::Own),
        ("veth-h1", "host1", "eth0", Link::VethPeer),
    ] {
        p.insert(
            port.to_string(),
            Placement {
                namespace: ns.to_string(),
                iface: iface.to_string(),
                link,
            },
        );
    }
    p
}

#[test]
fn topology_example_golden() {
    let dot = topology_dot(&example_db(), &example_places());
    // The facts the picture must show.
    for want in [
        "bridge br-int",
        "fail_mode secure",
        "\"port:patch-int\" -- \"port:patch-tun\" [label=\"patch\"",
        "\"port:vxlan-c6120002\" -- \"remote:198.18.0.2\"",
        "key=flow",
        "<b>tag 4</b>",
        "<b>trunks 4,5</b>",
        "netns vm1",
        "netns host1",
        "internal · ofport",
        "vxlan · ofport",
        "internal · LOCAL",
    ] {
        assert!(dot.contains(want), "missing {want:?} in\n{dot}");
    }
    golden("topology-example", &dot);
}

#[test]
fn topology_unknown_namespace_and_broken_patch() {
    let mut db = Db::new();
    db = run_vsctl(&db, "add-br br0");
    db = run_vsctl(
        &db,
        "add-port br0 p0 -- set interface p0 type=patch options:peer=nowhere",
    );
    let mut places = Placements::new();
    places.insert(
        "br0".into(),
        Placement {
            namespace: "unknown".into(),
            iface: "br0".into(),
            link: Link::Own,
        },
    );
    // A placement for a port that is not in the database is ignored.
    places.insert(
        "ghost".into(),
        Placement {
            namespace: "x".into(),
            iface: "ghost".into(),
            link: Link::Own,
        },
    );
    let dot = topology_dot(&db, &places);
    assert!(dot.contains("namespace unknown"), "{dot}");
    assert!(dot.contains("peer nowhere"), "{dot}");
    assert!(!dot.contains("ghost"), "{dot}");
    let empty = topology_dot(&Db::new(), &Placements::new());
    assert!(empty.contains("no bridges"), "{empty}");
}

/// br-int (patch-tun=1, vm1=2 tag 4) and br-tun (patch-int=1,
/// gre-c6120002=2) with the L6 tables, after a broadcast ARP from the
/// tunnel (learned), the VM's unicast reply (through the learned flow)
/// and a broadcast from the VM.
fn l6_after_traffic() -> Switch {
    let mut sw = Switch::new();
    let mut br_int = Bridge::new("br-int");
    br_int.set_fail_mode(FailMode::Secure, 0);
    br_int.set_port(PortInfo::new(1, "patch-tun"));
    let mut vm = PortInfo::new(2, "vm1");
    vm.vlan = VlanConfig::access(4);
    br_int.set_port(vm);
    let fms = parse_flows_file("priority=1 actions=NORMAL", FlowModCommand::Add, None).unwrap();
    br_int.tables.apply_batch(&fms, 0).unwrap();
    let mut br_tun = Bridge::new("br-tun");
    br_tun.set_fail_mode(FailMode::Secure, 0);
    br_tun.set_port(PortInfo::new(1, "patch-int"));
    br_tun.set_port(PortInfo::new(2, "gre-c6120002"));
    let fms = parse_flows_file(BR_TUN, FlowModCommand::Add, None).unwrap();
    br_tun.tables.apply_batch(&fms, 0).unwrap();
    let i = sw.add_bridge(br_int);
    let t = sw.add_bridge(br_tun);
    sw.link_patch((i, 1), (t, 1));
    // (bridge, packet, how many times), forwarded as real traffic is.
    let packets = [
        (
            t,
            "in_port=2,tun_id=0x1,dl_src=fa:16:3e:2a:46:e0,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1",
            1,
        ),
        (
            i,
            "in_port=2,dl_src=fa:16:3e:32:28:af,dl_dst=fa:16:3e:2a:46:e0,arp,arp_op=2",
            1,
        ),
        (
            t,
            "in_port=2,tun_id=0x1,dl_src=fa:16:3e:2a:46:e0,dl_dst=fa:16:3e:32:28:af,icmp",
            5,
        ),
        (
            i,
            "in_port=2,dl_src=fa:16:3e:32:28:af,dl_dst=fa:16:3e:2a:46:e0,icmp",
            5,
        ),
        (
            i,
            "in_port=2,dl_src=fa:16:3e:32:28:af,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1",
            2,
        ),
        (
            t,
            "in_port=2,tun_id=0x9,dl_src=fa:16:3e:00:00:09,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1",
            3,
        ),
    ];
    let mut now = 1_000;
    for (b, pkt, times) in packets {
        let key = parse_packet(pkt, None).unwrap();
        for _ in 0..times {
            now += 10;
            sw.run(b, &key, 64, now, RunOptions::FORWARD);
        }
    }
    sw
}

#[test]
fn pipeline_l6_golden() {
    let sw = l6_after_traffic();
    let br_tun = &sw.bridges[1];
    let dot = pipeline_dot(br_tun, None);
    for want in [
        "digraph \"pipeline br-tun\"",
        "<b>table 0</b>",
        "<b>table 21</b>",
        // The flow learned from the tunnel (table 20, priority 1).
        "vlan_tci=0x0004/0x0fff,<br align=\"left\"/>dl_dst=fa:16:3e:2a:46:e0",
        "label=\"learn()\"",
        "style=dashed",
        "\"table:0\":f0:e -> \"table:1\"",
        "\"table:2\":f0:e -> \"table:10\"",
        "\"drop:0\"",
        "<b>gre-c6120002</b>",
    ] {
        assert!(dot.contains(want), "missing {want:?} in\n{dot}");
    }
    // Hit counts: eight packets came from br-int (in_port=1).
    assert!(dot.contains("\"table:0\":f0:e -> \"table:1\" [style=solid, color=\"#2f5d8a\", fontcolor=\"#2f5d8a\", penwidth=2, taillabel=\"8 pkts\", labeldistance=2.2, labelangle=12]"), "{dot}");
    golden("pipeline-l6", &dot);
}

#[test]
fn pipeline_long_table_is_cut() {
    let mut b = Bridge::new("br0");
    b.set_fail_mode(FailMode::Secure, 0);
    let flows: String = (0..20)
        .map(|i| {
            format!(
                "table=0,priority={},in_port={} actions=NORMAL\n",
                100 + i,
                i + 1
            )
        })
        .collect();
    let fms = parse_flows_file(&flows, FlowModCommand::Add, None).unwrap();
    b.tables.apply_batch(&fms, 0).unwrap();
    let dot = pipeline_dot(&b, None);
    assert!(dot.contains("… 8 more flows (0 pkts)"), "{dot}");
    assert_eq!(dot.matches("in_port=").count(), 12, "{dot}");
    // Resubmits into an empty table, controller, IN_PORT, LOCAL.
    let mut b = Bridge::new("br1");
    b.set_fail_mode(FailMode::Secure, 0);
    let fms = parse_flows_file(
        "priority=5 actions=resubmit(,7)\npriority=4,in_port=1 actions=CONTROLLER:64,IN_PORT,LOCAL,goto_table:3\ntable=3 actions=mod_vlan_vid:5",
        FlowModCommand::Add,
        None,
    )
    .unwrap();
    b.tables.apply_batch(&fms, 0).unwrap();
    let dot = pipeline_dot(&b, None);
    for want in [
        "no flows (a miss drops)",
        "\"controller\"",
        "<b>IN_PORT</b>",
        "LOCAL<br/>",
        "label=\"goto · 0 pkts\"",
        "\"table:3\":f0:e -> \"drop:3\"",
    ] {
        assert!(dot.contains(want), "missing {want:?} in\n{dot}");
    }
}

#[test]
fn renders_svg_and_png_when_graphviz_is_installed() {
    if !have_dot() {
        eprintln!("SKIPPED (Graphviz `dot` not installed): renders_svg_and_png_when_graphviz_is_installed");
        return;
    }
    let dot = topology_dot(&example_db(), &example_places());
    let svg = String::from_utf8(render(&dot, Format::Svg).unwrap()).unwrap();
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{}",
        &svg[..svg.len().min(200)]
    );
    // (Graphviz writes `-` as `&#45;`.)
    assert!(
        svg.contains("br&#45;int") && svg.contains("198.18.0.2"),
        "{svg}"
    );
    let sw = l6_after_traffic();
    let png = render(&pipeline_dot(&sw.bridges[1], None), Format::Png).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // Graphviz accepts every picture without warnings.
    let out = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(dot.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

fn flows_file() -> (tempdir::Dir, PathBuf) {
    let d = tempdir::Dir::new();
    let p = d.0.join("br-tun.flows");
    std::fs::write(&p, BR_TUN).unwrap();
    (d, p)
}

/// A private temporary directory, removed on drop.
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "rswitch-pictures-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn run(prog: &str, args: &[&str], env: &[(&str, &str)]) -> (Vec<u8>, String, i32) {
    let out = Command::new(prog)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn ofctl_offline_dump_flows_formats() {
    let (dir, file) = flows_file();
    let f = file.to_str().unwrap();
    let ports = ["--port", "patch-int=1", "--port", "gre-c6120002=2"];
    // Text, as a bridge would dump them.
    let mut args = vec!["dump-flows", "--flows", f];
    args.extend(ports);
    let (out, err, code) = run(OFCTL, &args, &[]);
    let text = String::from_utf8(out).unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(text.starts_with("NXST_FLOW reply"), "{text}");
    assert_eq!(text.lines().count(), 13, "{text}");
    // `--format text` is the same.
    let mut a = args.clone();
    a.extend(["--format", "text"]);
    assert_eq!(String::from_utf8(run(OFCTL, &a, &[]).0).unwrap(), text);
    // DOT, also without Graphviz.
    let mut a = args.clone();
    a.extend(["--format", "dot"]);
    let (out, err, code) = run(OFCTL, &a, &[("RSWITCH_DOT", "/nonexistent/dot")]);
    let dot = String::from_utf8(out).unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        dot.starts_with("digraph") && dot.contains("<b>gre-c6120002</b>"),
        "{dot}"
    );
    // A filter selects the flows drawn.
    let mut a = args.clone();
    a.extend(["table=21", "--format=dot"]);
    let dot = String::from_utf8(run(OFCTL, &a, &[]).0).unwrap();
    assert!(
        dot.contains("<b>table 21</b>") && !dot.contains("<b>table 0</b>"),
        "{dot}"
    );
    // Missing Graphviz: a clear error, non-zero exit.
    let mut a = args.clone();
    a.extend(["--format", "svg"]);
    let (out, err, code) = run(OFCTL, &a, &[("RSWITCH_DOT", "/nonexistent/dot")]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("apt-get install graphviz"), "{err}");
    // A bad format names itself.
    let mut a = args.clone();
    a.extend(["--format", "jpeg"]);
    let (_, err, code) = run(OFCTL, &a, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--format jpeg: unknown output format"),
        "{err}"
    );
    // -o without a picture format, and -o elsewhere.
    let mut a = args.clone();
    a.extend(["-o", "x"]);
    let (_, err, code) = run(OFCTL, &a, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("-o/--output needs --format"), "{err}");
    if have_dot() {
        for (fmt, magic) in [("svg", &b"<?xml"[..]), ("png", &b"\x89PNG"[..])] {
            let target = dir.0.join(format!("p.{fmt}"));
            let t = target.to_str().unwrap();
            let mut a = args.clone();
            a.extend(["--format", fmt, "-o", t]);
            let (out, err, code) = run(OFCTL, &a, &[]);
            assert_eq!((code, err.as_str()), (0, ""));
            assert!(out.is_empty());
            let bytes = std::fs::read(&target).unwrap();
            assert!(bytes.starts_with(magic), "{fmt}");
        }
    }
}

#[test]
fn clients_refuse_pictures_of_other_commands() {
    let (_, err, code) = run(
        RSWITCH,
        &["--rundir", "/nonexistent", "--format=svg", "list", "Bridge"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("rswitch show --format dot|svg|png"), "{err}");
    let (_, err, code) = run(
        OFCTL,
        &[
            "--rundir",
            "/nonexistent",
            "dump-ports",
            "br0",
            "--format",
            "png",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("rswitch-ofctl dump-flows --format"), "{err}");
    // trace keeps its own --format (and its own message for a bad one).
    let (_, err, code) = run(
        OFCTL,
        &[
            "--rundir",
            "/nonexistent",
            "--format=xml",
            "trace",
            "br0",
            "in_port=1",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect"), "{err}");
}
