//! The labs of /work/shared/LABS.md, run for real: rswitchd inside a "switch
//! host" namespace, hosts in namespaces, and the labs' own Open vSwitch
//! command lines with only `ovs-vsctl` → `rswitch` and `ovs-ofctl` →
//! `rswitch-ofctl` changed. Needs root; otherwise each test prints
//! `SKIPPED (needs root): <name>` and passes.
//!
//! Every namespace, link, process and directory is created through the
//! guards of `labkit`, which remove them on drop (also on failure).

mod labkit;

use labkit::*;

/// Runs reachability checks in parallel (each failing ping costs seconds):
/// (from, address, should it answer). Panics listing every wrong answer.
fn check_reach(d: &Daemon, checks: &[(&Netns, &str, bool)]) {
    let wrong: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = checks
            .iter()
            .map(|&(ns, addr, want)| {
                s.spawn(move || {
                    let got = if want {
                        ping_ok(ns, addr)
                    } else {
                        !ping_fails(ns, addr)
                    };
                    (got != want).then(|| {
                        format!(
                            "{} -> {addr}: expected {}, got {}",
                            ns.name,
                            if want { "replies" } else { "no reply" },
                            if got { "replies" } else { "no reply" }
                        )
                    })
                })
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        wrong.is_empty(),
        "reachability:\n  {}\nrswitch show:\n{}\nlog:\n{}",
        wrong.join("\n  "),
        d.rswitch(&["show"]).0,
        d.log()
    );
}

/// L1 (seed 002 §3.3, seed 003): two namespaces through the switch with
/// veth pairs; ping both ways; iperf3 TCP with the veth offloads at their
/// defaults completes with few retransmissions.
#[test]
fn l1_veth_pairs_ping_and_tcp_with_default_offloads() {
    require_root!();
    let sw = Netns::new("sw");
    let ns1 = Netns::new("ns1");
    let ns2 = Netns::new("ns2");
    // ip link add veth0 type veth peer name ovs-veth0 (one end in ns1, the
    // other on the switch host), same for veth1 / ovs-veth1.
    let _v0 = Veth::new(&ns1, "veth0", &sw, "ovs-veth0");
    let _v1 = Veth::new(&ns2, "veth1", &sw, "ovs-veth1");
    ns1.addr_up("veth0", "198.18.0.2/24");
    ns2.addr_up("veth1", "198.18.0.3/24");
    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "ovs-br"]);
    d.rswitch_ok(&["add-port", "ovs-br", "ovs-veth0"]);
    d.rswitch_ok(&["add-port", "ovs-br", "ovs-veth1"]);

    assert_ping(&ns1, "198.18.0.3");
    assert_ping(&ns2, "198.18.0.2");

    // The offloads really are at their defaults (TSO and checksum on).
    for (ns, dev) in [
        (&ns1, "veth0"),
        (&ns2, "veth1"),
        (&sw, "ovs-veth0"),
        (&sw, "ovs-veth1"),
    ] {
        let k = ns.exec_ok("ethtool", &["-k", dev]);
        assert!(k.contains("tx-checksumming: on"), "{dev}: {k}");
        assert!(k.contains("tcp-segmentation-offload: on"), "{dev}: {k}");
    }

    let j = iperf3(&ns1, &ns2, "198.18.0.3", 3);
    let sent = &j["end"]["sum_sent"];
    let bytes = sent["bytes"].as_f64().expect("sum_sent.bytes");
    let bps = sent["bits_per_second"].as_f64().expect("bits_per_second");
    let retrans = sent["retransmits"].as_f64().expect("sum_sent.retransmits");
    let mss = j["start"]["tcp_mss_default"]
        .as_f64()
        .filter(|m| *m > 0.0)
        .unwrap_or(1448.0);
    let segments = bytes / mss;
    say(&format!(
        "L1 iperf3: {:.2} Gbit/s, {bytes} bytes, {retrans} retransmissions of ~{segments:.0} segments\n",
        bps / 1e9
    ));
    assert!(bytes > 0.0 && bps > 0.0, "no TCP throughput: {sent}");
    assert!(
        retrans < segments * 0.01,
        "{retrans} retransmissions of ~{segments:.0} segments (>= 1%)"
    );
    // The receiver got it all too.
    let rcvd = j["end"]["sum_received"]["bytes"].as_f64().unwrap_or(0.0);
    assert!(
        rcvd > 0.0,
        "receiver got nothing: {}",
        j["end"]["sum_received"]
    );
}

/// L2 (seed 002 last section, seed 003 "internal mode"): internal ports
/// moved into namespaces; no veth involved.
#[test]
fn l2_internal_ports_moved_into_namespaces() {
    require_root!();
    let sw = Netns::new("sw");
    let ns1 = Netns::new("ns1");
    let ns2 = Netns::new("ns2");
    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "ovs-test"]);
    d.rswitch_ok(&[
        "add-port",
        "ovs-test",
        "tap1",
        "--",
        "set",
        "Interface",
        "tap1",
        "type=internal",
    ]);
    d.rswitch_ok(&[
        "add-port",
        "ovs-test",
        "tap2",
        "--",
        "set",
        "Interface",
        "tap2",
        "type=internal",
    ]);
    // ip link set tap1 netns ns1 (on the switch host).
    sw.move_link("tap1", &ns1);
    sw.move_link("tap2", &ns2);
    ns1.addr_up("tap1", "198.18.0.2/24");
    ns2.addr_up("tap2", "198.18.0.3/24");

    assert_ping(&ns1, "198.18.0.3");
    assert_ping(&ns2, "198.18.0.2");
    // No veth anywhere.
    for ns in [&sw, &ns1, &ns2] {
        let links = ns.ip(&["-d", "link", "show"]);
        assert!(!links.contains("veth"), "{}: {links}", ns.name);
    }
}

/// L3 (seed 003 "Trying Vlan"): VLAN isolation on access ports.
#[test]
fn l3_vlan_isolation_on_access_ports() {
    require_root!();
    let sw = Netns::new("sw");
    let n100 = Netns::new("vlan100net");
    let n200 = Netns::new("vlan200net");
    let n110 = Netns::new("vlan110net");
    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "vlanbr"]);
    for (port, tag, ns, addr) in [
        ("vlan100", "tag=100", &n100, "198.18.1.10/24"),
        ("vlan200", "tag=200", &n200, "198.18.1.11/24"),
        ("vlan110", "tag=100", &n110, "198.18.1.12/24"),
    ] {
        d.rswitch_ok(&[
            "add-port",
            "vlanbr",
            port,
            tag,
            "--",
            "set",
            "interface",
            port,
            "type=internal",
        ]);
        sw.move_link(port, ns);
        ns.addr_up(port, addr);
    }
    check_reach(
        &d,
        &[
            (&n110, "198.18.1.10", true),
            (&n100, "198.18.1.12", true),
            (&n110, "198.18.1.11", false),
            (&n200, "198.18.1.10", false),
            (&n200, "198.18.1.12", false),
        ],
    );
}

/// L4 (seed 000): a Linux bridge br-1 in namespace br_ns with vnet1/vnet2
/// from ns1/ns2, and an rswitch internal port made by the seed's script,
/// moved into br_ns and enslaved to br-1.
#[test]
fn l4_linux_bridge_with_internal_port_from_seed_script() {
    require_root!();
    let sw = Netns::new("sw");
    let br_ns = Netns::new("br_ns");
    let ns1 = Netns::new("ns1");
    let ns2 = Netns::new("ns2");
    let ns3 = Netns::new("ns3");
    let _v1 = Veth::new(&ns1, "veth1", &br_ns, "vnet1");
    let _v2 = Veth::new(&ns2, "veth2", &br_ns, "vnet2");
    br_ns.ip(&["link", "add", "br-1", "type", "bridge"]);
    br_ns.ip(&["link", "set", "vnet1", "master", "br-1"]);
    br_ns.ip(&["link", "set", "vnet2", "master", "br-1"]);
    br_ns.addr_up("br-1", "198.18.2.1/24");
    ns1.addr_up("veth1", "198.18.2.2/24");
    ns2.addr_up("veth2", "198.18.2.3/24");

    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "br-int"]);
    // The seed's script: port_uuid=$1 tap_uuid="tap"${port_uuid:0:11} mac_uuid=$2
    let port_uuid = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        std::process::id(),
        next_id() & 0xffff,
        rand_bits() & 0xfff,
        rand_bits() & 0xfff,
        rand_bits() & 0xffff_ffff_ffff
    );
    let tap = format!("tap{}", &port_uuid[..11]);
    let mac = "fa:16:3e:4c:f6:fd";
    d.rswitch_ok(&["--", "--if-exists", "del-port", &tap]);
    d.rswitch_ok(&[
        "--",
        "add-port",
        "br-int",
        &tap,
        "--",
        "set",
        "Interface",
        &tap,
        "type=internal",
        "--",
        "set",
        "Interface",
        &tap,
        &format!("external-ids:iface-id={port_uuid}"),
        "--",
        "set",
        "Interface",
        &tap,
        "external-ids:iface-status=active",
        "--",
        "set",
        "Interface",
        &tap,
        &format!("external-ids:attached-mac={mac}"),
    ]);
    // The tap goes into br_ns, onto br-1.
    sw.move_link(&tap, &br_ns);
    br_ns.ip(&["link", "set", &tap, "master", "br-1"]);
    br_ns.ip(&["link", "set", &tap, "up"]);

    // Another br-int port: ns3 by veth.
    let _v3 = Veth::new(&ns3, "veth3", &sw, "ovs-veth3");
    ns3.addr_up("veth3", "198.18.2.4/24");
    d.rswitch_ok(&["add-port", "br-int", "ovs-veth3"]);

    assert_ping(&ns1, "198.18.2.3");
    assert_ping(&ns2, "198.18.2.2");

    let show = d.rswitch_ok(&["show"]);
    assert!(
        show.contains(&format!(
            "        Port {tap}\n            Interface {tap}\n                type: internal\n"
        )),
        "{show}"
    );
    assert!(!show.contains("error:"), "{show}");
    let ids = d.rswitch_ok(&["get", "Interface", &tap, "external-ids"]);
    for want in [
        format!("attached-mac=\"{mac}\""),
        format!("iface-id=\"{port_uuid}\""),
        "iface-status=active".to_string(),
    ] {
        assert!(
            ids.contains(&want),
            "get Interface {tap} external-ids: missing {want}: {ids}"
        );
    }
    let list = d.rswitch_ok(&["list", "Interface", &tap]);
    assert!(
        list.contains(&format!("iface-id=\"{port_uuid}\"")),
        "{list}"
    );
    assert_eq!(
        d.rswitch_ok(&["get", "Interface", &tap, "external-ids:iface-status"])
            .trim(),
        "active"
    );

    // ns3 reaches ns1 through br-int, the tap, br-1 and vnet1.
    assert_ping(&ns3, "198.18.2.2");
    assert_ping(&ns1, "198.18.2.4");
    assert_ping(&ns3, "198.18.2.1");
}

/// A few random bits (no rand crate here).
fn rand_bits() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    u64::from_ne_bytes(b) ^ u64::from(std::process::id())
}

/// L9 (seed 004): a Docker-style bridge: br0's LOCAL port is the gateway
/// (198.18.88.1) in the switch host, which forwards and masquerades toward
/// an "outside" namespace.
#[test]
fn l9_docker_style_bridge_with_gateway_and_nat() {
    require_root!();
    if !have("iptables") {
        say(&format!("SKIPPED (needs iptables): {}\n", test_name()));
        return;
    }
    let host = Netns::new("host");
    let ns0 = Netns::new("ns0");
    let ns1 = Netns::new("ns1");
    let outside = Netns::new("outside");
    let d = Daemon::start(&host);
    d.rswitch_ok(&["add-br", "br0"]);
    host.addr_up("br0", "198.18.88.1/24");
    let _v0 = Veth::new(&ns0, "eth0", &host, "veth-ns0");
    let _v1 = Veth::new(&ns1, "eth0", &host, "veth-ns1");
    d.rswitch_ok(&["add-port", "br0", "veth-ns0"]);
    d.rswitch_ok(&["add-port", "br0", "veth-ns1"]);
    for (ns, addr) in [(&ns0, "198.18.88.2/24"), (&ns1, "198.18.88.3/24")] {
        ns.addr_up("eth0", addr);
        ns.ip(&["route", "add", "default", "via", "198.18.88.1"]);
    }
    let _vo = Veth::new(&host, "veth-out", &outside, "eth0");
    host.addr_up("veth-out", "198.19.88.1/24");
    outside.addr_up("eth0", "198.19.88.2/24");
    // The outside has no route back to 198.18.88.0/24: only NAT works.
    host.sysctl("net.ipv4.ip_forward", "1");
    host.exec_ok(
        "iptables",
        &[
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "198.18.88.0/24",
            "-o",
            "veth-out",
            "-j",
            "MASQUERADE",
        ],
    );

    check_reach(
        &d,
        &[
            (&ns0, "198.18.88.3", true),
            (&ns1, "198.18.88.2", true),
            (&ns0, "198.18.88.1", true),
            (&ns0, "198.19.88.2", true),
            (&ns1, "198.19.88.2", true),
        ],
    );
    // The translation happened in "host" (its nat counter moved).
    let nat = host.exec_ok(
        "iptables",
        &["-t", "nat", "-L", "POSTROUTING", "-v", "-n", "-x"],
    );
    let masq = nat
        .lines()
        .find(|l| l.contains("MASQUERADE"))
        .unwrap_or_else(|| panic!("no MASQUERADE rule: {nat}"));
    let pkts: u64 = masq
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(pkts > 0, "MASQUERADE never matched: {nat}");
}

/// L10 (seed 004, Neutron linuxbridge): brA and brB joined by a veth whose
/// ends are trunk ports; tag=100 and tag=101 hosts on each; a third bridge
/// without uplink.
#[test]
fn l10_vlan_trunk_between_bridges_and_isolated_bridge() {
    require_root!();
    let sw = Netns::new("sw");
    let a100 = Netns::new("a100");
    let a101 = Netns::new("a101");
    let b100 = Netns::new("b100");
    let b101 = Netns::new("b101");
    let c100 = Netns::new("c100");
    let d = Daemon::start(&sw);
    for br in ["brA", "brB", "brC"] {
        d.rswitch_ok(&["add-br", br]);
    }
    let _trunk = Veth::new(&sw, "trA", &sw, "trB");
    d.rswitch_ok(&["add-port", "brA", "trA", "trunks=100,101"]);
    d.rswitch_ok(&["add-port", "brB", "trB", "trunks=100,101"]);
    // Hosts: veths named after their namespace, all in one subnet so that
    // only the VLANs separate them.
    let hosts = [
        (&a100, "brA", "100", "198.18.10.1/24"),
        (&a101, "brA", "101", "198.18.10.2/24"),
        (&b100, "brB", "100", "198.18.10.3/24"),
        (&b101, "brB", "101", "198.18.10.4/24"),
        (&c100, "brC", "100", "198.18.10.5/24"),
    ];
    let mut veths = Vec::new();
    for (i, (ns, br, tag, addr)) in hosts.iter().enumerate() {
        let port = format!("h{i}-{br}-{tag}");
        veths.push(Veth::new(ns, "eth0", &sw, &port));
        ns.addr_up("eth0", addr);
        d.rswitch_ok(&["add-port", br, &port, &format!("tag={tag}")]);
    }
    let show = d.rswitch_ok(&["show"]);
    assert!(
        show.contains("        Port trA\n            trunks: [100, 101]\n"),
        "{show}"
    );

    check_reach(
        &d,
        &[
            (&a100, "198.18.10.3", true),
            (&b100, "198.18.10.1", true),
            (&a101, "198.18.10.4", true),
            (&b101, "198.18.10.2", true),
            (&a100, "198.18.10.2", false),
            (&a100, "198.18.10.4", false),
            (&a101, "198.18.10.3", false),
            (&b100, "198.18.10.4", false),
            (&c100, "198.18.10.1", false),
            (&c100, "198.18.10.2", false),
            (&c100, "198.18.10.3", false),
            (&c100, "198.18.10.4", false),
            (&a100, "198.18.10.5", false),
            (&b100, "198.18.10.5", false),
        ],
    );
}

/// Two bridges joined by patch ports (br-int <-> br-tun, as Neutron does),
/// with flows on br-tun that forward between the patch and a host port,
/// and the tag of br-int's access port carried across the patch.
#[test]
fn patch_ports_join_bridges() {
    require_root!();
    let sw = Netns::new("sw");
    let ns1 = Netns::new("ns1");
    let ns2 = Netns::new("ns2");
    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "br-int"]);
    d.rswitch_ok(&["add-br", "br-tun"]);
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
        "vm1",
        "tag=4",
        "--",
        "set",
        "Interface",
        "vm1",
        "type=internal",
    ]);
    d.rswitch_ok(&[
        "add-port",
        "br-tun",
        "vm2",
        "--",
        "set",
        "Interface",
        "vm2",
        "type=internal",
    ]);
    d.rswitch_ok(&["set-fail-mode", "br-tun", "secure"]);
    // patch-int is ofport 1 and vm2 ofport 2 on br-tun: strip br-int's tag
    // toward vm2, add it back toward br-int.
    d.ofctl_ok(&[
        "add-flow",
        "br-tun",
        "in_port=1,dl_vlan=4,actions=strip_vlan,output:2",
    ]);
    d.ofctl_ok(&[
        "add-flow",
        "br-tun",
        "in_port=2,actions=mod_vlan_vid:4,output:1",
    ]);
    sw.move_link("vm1", &ns1);
    sw.move_link("vm2", &ns2);
    ns1.addr_up("vm1", "198.18.7.1/24");
    ns2.addr_up("vm2", "198.18.7.2/24");
    assert_ping(&ns1, "198.18.7.2");
    assert_ping(&ns2, "198.18.7.1");
    let show = d.rswitch_ok(&["show"]);
    assert!(show.contains("options: {peer=patch-int}"), "{show}");
}

/// A `type=tap` port is a TAP device for a VM or a process to open: here the
/// test itself plays the VM, opening the TAP by name (as qemu's
/// `-netdev tap,ifname=vmtap` does), and ARPs for a host on the bridge.
#[test]
fn tap_port_serves_a_vm_that_opens_it() {
    require_root!();
    use datapath::packet::Packet;
    use datapath::port::tap::TapPort;
    use datapath::port::PortIo;
    use std::time::Duration;
    let sw = Netns::new("sw");
    let ns1 = Netns::new("ns1");
    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "br0"]);
    d.rswitch_ok(&[
        "add-port",
        "br0",
        "p1",
        "--",
        "set",
        "Interface",
        "p1",
        "type=internal",
    ]);
    d.rswitch_ok(&[
        "add-port",
        "br0",
        "vmtap",
        "--",
        "set",
        "Interface",
        "vmtap",
        "type=tap",
    ]);
    sw.move_link("p1", &ns1);
    ns1.addr_up("p1", "198.18.9.1/24");
    let ns_path = format!("/run/netns/{}", sw.name);
    let vm = std::thread::spawn(move || -> Result<Vec<u8>, String> {
        let f = std::fs::File::open(&ns_path).map_err(|e| e.to_string())?;
        use std::os::fd::AsRawFd;
        // SAFETY: setns on an open namespace fd, for this thread only.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err("setns failed".into());
        }
        let mut tap = TapPort::attach("vmtap").map_err(|e| format!("attach: {e}"))?;
        let vm_mac = [2u8, 0, 0, 0, 9, 0x63];
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&vm_mac);
        arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&vm_mac);
        arp.extend_from_slice(&[198, 18, 9, 99]);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&[198, 18, 9, 1]);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut rx: Vec<Packet> = (0..8).map(|_| Packet::new()).collect();
        let mut last_send = std::time::Instant::now() - Duration::from_secs(1);
        while std::time::Instant::now() < deadline {
            if last_send.elapsed() >= Duration::from_millis(500) {
                let mut p = [Packet::from_frame(&arp)];
                tap.send_batch(&mut p).map_err(|e| format!("send: {e}"))?;
                last_send = std::time::Instant::now();
            }
            let n = tap.recv_batch(&mut rx).unwrap_or(0);
            for p in &rx[..n] {
                let f = p.data();
                // An ARP reply (op 2) to our MAC.
                if f.len() >= 42
                    && f[..6] == vm_mac
                    && f[12..14] == [0x08, 0x06]
                    && f[20..22] == [0, 2]
                {
                    return Ok(f.to_vec());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("no ARP reply reached the VM".into())
    });
    let reply = vm
        .join()
        .expect("vm thread")
        .expect("the VM on the tap port gets answered");
    assert_eq!(
        &reply[28..32],
        &[198, 18, 9, 1],
        "the reply comes from ns1's host"
    );
    let show = d.rswitch_ok(&["show"]);
    assert!(show.contains("type: tap"), "{show}");
    // Removing the port removes the device rswitch made.
    d.rswitch_ok(&["del-port", "br0", "vmtap"]);
    assert!(
        sw.try_ip(&["link", "show", "vmtap"]).is_err(),
        "vmtap removed with its port"
    );
}
