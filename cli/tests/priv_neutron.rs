//! LABS.md L6 run for real (seed 001): the OpenStack Neutron network node
//! (hostA) and compute node (hostB), each a namespace running its own
//! rswitchd, joined by an underlay veth (198.19.0.1/24, 198.19.0.2/24).
//! On each host: br-int (`fail_mode=secure`, `priority=1,actions=NORMAL`),
//! br-tun with the seed's tables 0, 1, 2, 3, 10, 20 and 21, the patch pair
//! patch-int/patch-tun and the GRE port `gre-0a0a648c` (`in_key=flow`,
//! `out_key=flow`). The VMs are internal br-int ports moved into their own
//! namespaces: tag 4 on the compute node, tag 9 on the network node, both
//! mapped to tunnel id 0x1 by br-tun. Needs root; otherwise each test
//! prints `SKIPPED (needs root): <name>` and passes.
//!
//! Every namespace, link, process and directory is created through the
//! guards of `labkit`, which remove them on drop (also on failure).

mod labkit;

use labkit::*;
use std::time::Duration;

/// MAC of the network node's VM (the seed's fa:16:3e:2a:46:e0).
const NET_VM_MAC: &str = "fa:16:3e:2a:46:e0";
/// MAC of the compute node's VM (the seed's fa:16:3e:32:28:af).
const COMPUTE_VM_MAC: &str = "fa:16:3e:32:28:af";

/// The seed's br-tun tables (as `ovs-ofctl dump-flows br-tun` printed them
/// on the compute node, without the statistics), for local VLAN `vlan`
/// and a learn hard timeout of `hard` seconds.
fn br_tun_flows(vlan: u16, hard: u32) -> String {
    format!(
        "\
table=0, priority=1,in_port=1 actions=resubmit(,1)
table=0, priority=1,in_port=2 actions=resubmit(,2)
table=0, priority=0 actions=drop
table=1, priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=1, priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)
table=2, priority=1,tun_id=0x1 actions=mod_vlan_vid:{vlan},resubmit(,10)
table=2, priority=0 actions=drop
table=3, priority=0 actions=drop
table=10, priority=1 actions=learn(table=20,hard_timeout={hard},priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1
table=20, priority=0 actions=resubmit(,21)
table=21, dl_vlan={vlan} actions=strip_vlan,set_tunnel:0x1,output:2
table=21, priority=0 actions=drop
"
    )
}

/// One "physical host": its namespace and its rswitchd.
struct Host<'a> {
    ns: &'a Netns,
    d: Daemon,
}

/// Configures br-int and br-tun on `host` as Neutron's OVS agent does, with
/// the GRE tunnel from `local` to `remote`, local VLAN `vlan` for tunnel
/// id 0x1 and a learn hard timeout of `hard` seconds.
fn neutron_host<'a>(host: &'a Netns, local: &str, remote: &str, vlan: u16, hard: u32) -> Host<'a> {
    let d = Daemon::start(host);
    d.rswitch_ok(&["add-br", "br-int"]);
    d.rswitch_ok(&["set-fail-mode", "br-int", "secure"]);
    d.ofctl_ok(&["add-flow", "br-int", "priority=1,actions=NORMAL"]);
    d.rswitch_ok(&["add-br", "br-tun"]);
    d.rswitch_ok(&[
        "add-port",
        "br-tun",
        "patch-int",
        "--",
        "set",
        "interface",
        "patch-int",
        "type=patch",
        "options:peer=patch-tun",
    ]);
    d.rswitch_ok(&[
        "add-port",
        "br-int",
        "patch-tun",
        "--",
        "set",
        "interface",
        "patch-tun",
        "type=patch",
        "options:peer=patch-int",
    ]);
    let local_ip = format!("options:local_ip={local}");
    let remote_ip = format!("options:remote_ip={remote}");
    d.rswitch_ok(&[
        "add-port",
        "br-tun",
        "gre-0a0a648c",
        "--",
        "set",
        "interface",
        "gre-0a0a648c",
        "type=gre",
        "options:in_key=flow",
        "options:out_key=flow",
        &local_ip,
        &remote_ip,
    ]);
    for (port, want) in [("patch-int", "1"), ("gre-0a0a648c", "2")] {
        assert_eq!(d.iface_get(port, "ofport"), want, "ofport of {port}");
        let err = d.iface_get(port, "error");
        assert!(
            err.is_empty() || err == "[]",
            "{port} error: {err}\n{}",
            d.log()
        );
    }
    let flows = d.dir.file("br-tun-flows.txt");
    std::fs::write(&flows, br_tun_flows(vlan, hard)).expect("write flows file");
    d.ofctl_ok(&["add-flows", "br-tun", &flows.display().to_string()]);
    Host { ns: host, d }
}

impl Host<'_> {
    /// Adds internal port `port` (access VLAN `tag`) on br-int and moves it
    /// into `vm` with `mac`, `cidr` and the tenant MTU 1462.
    fn vm_port(&self, port: &str, tag: u16, vm: &Netns, mac: &str, cidr: &str) {
        let tag = format!("tag={tag}");
        self.d.rswitch_ok(&[
            "add-port",
            "br-int",
            port,
            &tag,
            "--",
            "set",
            "interface",
            port,
            "type=internal",
        ]);
        self.ns.move_link(port, vm);
        vm.ip(&["link", "set", port, "address", mac]);
        vm.ip(&["link", "set", port, "mtu", "1462"]);
        vm.addr_up(port, cidr);
    }

    fn table20(&self) -> String {
        self.d.ofctl_ok(&["dump-flows", "br-tun", "table=20"])
    }
}

fn diag(a: &Host, b: &Host) -> String {
    let mut s = String::new();
    for (name, h) in [("network node", a), ("compute node", b)] {
        s += &format!(
            "== {name} show:\n{}\n== br-tun flows:\n{}\n== br-int flows:\n{}\n== br-tun ports:\n{}\n== log:\n{}\n",
            h.d.rswitch(&["show"]).0,
            h.d.ofctl(&["dump-flows", "br-tun"]).0,
            h.d.ofctl(&["dump-flows", "br-int"]).0,
            h.d.ofctl(&["dump-ports", "br-tun"]).0,
            h.d.log()
        );
    }
    s
}

/// Replaces the volatile numbers of a dump-flows line (`duration=1.234s`,
/// `n_packets=7`, `n_bytes=686`, `idle_age=0`, `hard_age=1`) by `N`.
fn normalise(line: &str) -> String {
    let mut out = line.trim().to_string();
    for key in [
        "duration=",
        "n_packets=",
        "n_bytes=",
        "idle_age=",
        "hard_age=",
    ] {
        let Some(i) = out.find(key) else { continue };
        let start = i + key.len();
        let len = out[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(out.len() - start);
        out.replace_range(start..start + len, "N");
    }
    out
}

/// The learned table-20 line the seed shows on the compute node, with the
/// volatile numbers normalised.
fn expected_learned(hard: u32) -> String {
    format!(
        "cookie=0x0, duration=Ns, table=20, n_packets=N, n_bytes=N, hard_timeout={hard}, idle_age=N, hard_age=N, priority=1,vlan_tci=0x0004/0x0fff,dl_dst={NET_VM_MAC} actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2"
    )
}

fn learned_lines(dump: &str) -> Vec<String> {
    dump.lines()
        .filter(|l| l.contains("priority=1,vlan_tci="))
        .map(normalise)
        .collect()
}

/// Builds L6 with a learn hard timeout of `hard` seconds and runs `check`
/// on (network node, compute node, network VM, compute VM). Namespaces are
/// declared before the daemons, so the daemons stop before they go.
fn l6(hard: u32, check: impl FnOnce(&Host, &Host, &Netns, &Netns)) {
    let host_a = Netns::new("net");
    let host_b = Netns::new("cmp");
    let vm_a = Netns::new("vmA");
    let vm_b = Netns::new("vmB");
    let _underlay = Veth::new(&host_a, "eth1", &host_b, "eth1");
    host_a.ip(&["addr", "add", "198.19.0.1/24", "dev", "eth1"]);
    host_b.ip(&["addr", "add", "198.19.0.2/24", "dev", "eth1"]);
    let a = neutron_host(&host_a, "198.19.0.1", "198.19.0.2", 9, hard);
    let b = neutron_host(&host_b, "198.19.0.2", "198.19.0.1", 4, hard);
    a.vm_port("tap78dd7f1e-53", 9, &vm_a, NET_VM_MAC, "198.18.4.2/24");
    b.vm_port("qvo8cbe7bb6-18", 4, &vm_b, COMPUTE_VM_MAC, "198.18.4.7/24");
    check(&a, &b, &vm_a, &vm_b);
}

#[test]
fn l6_vms_ping_across_gre_and_compute_node_learns_seed_flow() {
    require_root!();
    l6(300, |a, b, vm_a, vm_b| {
        let ab = ping_ok(vm_b, "198.18.4.2");
        let ba = ping_ok(vm_a, "198.18.4.7");
        assert!(
            ab && ba,
            "compute->network {ab}, network->compute {ba}\n{}",
            diag(a, b)
        );
        // Keep traffic going over more than a second, so the learned flow
        // is older than its last refresh (OVS prints hard_age only then).
        vm_b.exec_ok(
            "ping",
            &["-n", "-q", "-c", "8", "-i", "0.25", "-W", "1", "198.18.4.2"],
        );
        let dump = b.table20();
        say(&format!("compute node br-tun table=20:\n{dump}"));
        assert_eq!(
            learned_lines(&dump),
            vec![expected_learned(300)],
            "compute node table 20:\n{dump}\n{}",
            diag(a, b)
        );
        // The VM's replies toward the network node really used it.
        let used = dump
            .lines()
            .find(|l| l.contains("priority=1,vlan_tci="))
            .and_then(|l| l.split("n_packets=").nth(1))
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        assert!(used > 0, "learned flow never matched:\n{dump}");
        // The fallback flow is still there.
        assert!(
            dump.lines().any(|l| l.contains("table=20,")
                && l.trim_end().ends_with("priority=0 actions=resubmit(,21)")),
            "{dump}"
        );
        // And the network node learned the compute VM's MAC on VLAN 9.
        let dump_a = a.table20();
        let tail = format!(
            "priority=1,vlan_tci=0x0009/0x0fff,dl_dst={COMPUTE_VM_MAC} actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2"
        );
        let learned_a = learned_lines(&dump_a);
        assert!(
            learned_a.len() == 1
                && learned_a[0].contains("hard_timeout=300, ")
                && learned_a[0].ends_with(&tail),
            "network node table 20:\n{dump_a}"
        );
    });
}

#[test]
fn l6_learned_flow_expires_after_hard_timeout() {
    require_root!();
    l6(3, |a, b, _vm_a, vm_b| {
        let ok = ping_ok(vm_b, "198.18.4.2");
        assert!(ok, "compute->network\n{}", diag(a, b));
        // (Right after a short ping, hard_age may equal the duration, in
        // which case it is not printed; so match the rest of the line.)
        let dump = b.table20();
        let learned = learned_lines(&dump);
        let tail = format!(
            "priority=1,vlan_tci=0x0004/0x0fff,dl_dst={NET_VM_MAC} actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2"
        );
        assert!(
            learned.len() == 1
                && learned[0].contains("hard_timeout=3, ")
                && learned[0].ends_with(&tail),
            "compute node table 20 right after traffic:\n{dump}"
        );
        // Steady traffic for 4 s, longer than the hard timeout: every reply
        // from the tunnel re-learns the flow, which refreshes it (OVS's
        // learn is a strict modify) rather than letting it expire and be
        // re-created, so it is now older than 3 s.
        vm_b.exec_ok(
            "ping",
            &[
                "-n",
                "-q",
                "-c",
                "17",
                "-i",
                "0.25",
                "-W",
                "1",
                "198.18.4.2",
            ],
        );
        let dump = b.table20();
        let duration = dump
            .lines()
            .find(|l| l.contains("priority=1,vlan_tci="))
            .and_then(|l| l.split("duration=").nth(1))
            .and_then(|r| r.split('s').next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0);
        assert!(
            duration >= 3.5,
            "learned flow re-created instead of refreshed (duration {duration}):\n{dump}"
        );
        // Traffic stops (the last reply, the last re-learn, was just now):
        // the flow stays for hard_timeout (3 s), then goes, with some slack.
        let stopped = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        let dump = b.table20();
        assert_eq!(
            learned_lines(&dump).len(),
            1,
            "learned flow gone 1.5 s after the last packet (hard_timeout=3):\n{dump}"
        );
        let gone = wait_until(Duration::from_secs(8), || {
            learned_lines(&b.table20()).is_empty()
        });
        let dump = b.table20();
        assert!(gone, "learned flow still there after 8 s:\n{dump}");
        let after = stopped.elapsed();
        say(&format!(
            "compute node br-tun table=20 {after:?} after traffic stopped:\n{dump}"
        ));
        assert!(
            after >= Duration::from_millis(2500),
            "expired after only {after:?} (hard_timeout=3)"
        );
        let rest: Vec<&str> = dump.lines().filter(|l| l.contains("table=20")).collect();
        assert_eq!(rest.len(), 1, "only the fallback flow remains:\n{dump}");
        assert!(
            rest[0]
                .trim_end()
                .ends_with("priority=0 actions=resubmit(,21)"),
            "{dump}"
        );
    });
}
