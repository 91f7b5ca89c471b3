//! LABS.md L5 run for real: two "physical hosts" (namespaces hostA and
//! hostB joined by an underlay veth, 198.19.0.1/24 and 198.19.0.2/24), each
//! running its own rswitchd, with VLAN-tagged tenant ports on bridge vlanbr
//! joined across the underlay by a VXLAN (or GRE) tunnel port. The lab's
//! own command lines, `ovs-vsctl` renamed `rswitch`. Needs root; otherwise
//! each test prints `SKIPPED (needs root): <name>` and passes.
//!
//! Every namespace, link, process and directory is created through the
//! guards of `labkit`, which remove them on drop (also on failure).

mod labkit;

use labkit::*;

/// Adds an internal access port `port` (VLAN `tag`) on vlanbr and moves it
/// into `ns` with address `cidr` and the tenant MTU.
fn tenant_port(d: &Daemon, host: &Netns, port: &str, tag: &str, ns: &Netns, cidr: &str) {
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
    host.move_link(port, ns);
    ns.ip(&["link", "set", port, "mtu", "1450"]);
    ns.addr_up(port, cidr);
}

fn diag(a: &Daemon, b: &Daemon) -> String {
    format!(
        "hostA show:\n{}\nhostA ports:\n{}\nhostB show:\n{}\nhostB ports:\n{}\nhostA log:\n{}\nhostB log:\n{}",
        a.rswitch(&["show"]).0,
        a.ofctl(&["dump-ports", "vlanbr"]).0,
        b.rswitch(&["show"]).0,
        b.ofctl(&["dump-ports", "vlanbr"]).0,
        a.log(),
        b.log()
    )
}

/// L5 with tunnel type `kind` (`vxlan` or `gre`); with `tcp`, also an
/// iperf3 TCP run (2 s, default offloads) from A's tenant to B's.
fn l5(kind: &str, tcp: bool) {
    let host_a = Netns::new("hostA");
    let host_b = Netns::new("hostB");
    let ten_a = Netns::new("tenA");
    let ten_b = Netns::new("tenB");
    let ten_b15 = Netns::new("tenB15");
    let ten_b21 = Netns::new("tenB21");
    let _underlay = Veth::new(&host_a, "eth0", &host_b, "eth0");
    host_a.ip(&["addr", "add", "198.19.0.1/24", "dev", "eth0"]);
    host_b.ip(&["addr", "add", "198.19.0.2/24", "dev", "eth0"]);
    let a = Daemon::start(&host_a);
    let b = Daemon::start(&host_b);
    let ty = format!("type={kind}");
    for (d, host, tns, cidr, remote) in [
        (&a, &host_a, &ten_a, "198.18.3.10/24", "198.19.0.2"),
        (&b, &host_b, &ten_b, "198.18.3.11/24", "198.19.0.1"),
    ] {
        d.rswitch_ok(&["add-br", "vlanbr"]);
        tenant_port(d, host, "vlan100", "tag=100", tns, cidr);
        let remote = format!("options:remote_ip={remote}");
        d.rswitch_ok(&[
            "add-port",
            "vlanbr",
            "vxlan0",
            "--",
            "set",
            "interface",
            "vxlan0",
            &ty,
            &remote,
        ]);
        let err = d.iface_get("vxlan0", "error");
        assert!(
            err.trim().is_empty() || err.trim() == "[]",
            "tunnel port error: {err}"
        );
    }
    tenant_port(
        &b,
        &host_b,
        "vlan200",
        "tag=200",
        &ten_b21,
        "198.18.3.21/24",
    );
    tenant_port(
        &b,
        &host_b,
        "vlan101",
        "tag=100",
        &ten_b15,
        "198.18.3.15/24",
    );

    let ok11 = ping_ok(&ten_a, "198.18.3.11");
    let ok15 = ping_ok(&ten_a, "198.18.3.15");
    let no21 = ping_fails(&ten_a, "198.18.3.21");
    assert!(
        ok11 && ok15 && no21,
        "{kind}: .11 {ok11}, .15 {ok15}, .21 isolated {no21}\n{}",
        diag(&a, &b)
    );
    // The frames really crossed the tunnel port.
    let ports = a.ofctl_ok(&["dump-ports", "vlanbr", "vxlan0"]);
    say(&format!("{kind} tunnel port on hostA: {ports}\n"));
    assert!(!ports.contains("rx pkts=0,"), "{ports}");
    if tcp {
        let j = iperf3(&ten_a, &ten_b, "198.18.3.11", 2);
        let sent = &j["end"]["sum_sent"];
        let rcvd = j["end"]["sum_received"]["bytes"].as_f64().unwrap_or(0.0);
        let retr = sent["retransmits"].as_u64().unwrap_or(0);
        let sent_bytes = sent["bytes"].as_f64().unwrap_or(0.0);
        say(&format!(
            "L5 {kind} iperf3: sent {sent}, received {rcvd} bytes\n"
        ));
        assert!(
            rcvd > 0.0,
            "no TCP data across {kind}: {sent}\n{}",
            diag(&a, &b)
        );
        // Segments dropped for their size would be retransmitted over and
        // over; a few retransmissions (queue overflow) are tolerated.
        let segs = sent_bytes / 1400.0;
        assert!(
            (retr as f64) <= 20.0 + segs / 100.0,
            "{kind}: {retr} retransmissions for {sent_bytes} bytes\n{}",
            diag(&a, &b)
        );
    }
}

#[test]
fn l5_vxlan_between_two_hosts() {
    require_root!();
    l5("vxlan", false);
}

#[test]
fn l5_gre_between_two_hosts() {
    require_root!();
    l5("gre", false);
}

/// TCP with the tenant MTU at 1450: a full-size segment is a 1468-byte
/// tagged inner frame (the tunnel port is a trunk, so the VLAN tag travels
/// inside), which would be a 1504-byte outer datagram, too big for the
/// 1500-byte underlay with DF. With default veth offloads the data reaches
/// rswitch as GSO super-frames, and the tunnel send path segments them to
/// a size that fits the underlay, so TCP flows.
#[test]
fn l5_vxlan_tcp_with_default_offloads() {
    require_root!();
    if !have("iperf3") {
        say("SKIPPED (no iperf3): l5_vxlan_tcp_with_default_offloads\n");
        return;
    }
    l5("vxlan", true);
}

/// As [`l5_vxlan_tcp_with_default_offloads`] over GRE (no key: 24 bytes
/// of outer headers).
#[test]
fn l5_gre_tcp_with_default_offloads() {
    require_root!();
    if !have("iperf3") {
        say("SKIPPED (no iperf3): l5_gre_tcp_with_default_offloads\n");
        return;
    }
    l5("gre", true);
}
