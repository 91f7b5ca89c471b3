//! LABS.md L7 (DHCP from dnsmasq across the VXLAN tunnel) and L8 (a router
//! namespace with NAT) run for real on top of the L5 topology: two
//! "physical hosts" (namespaces hostA and hostB joined by an underlay veth,
//! 198.19.0.1/24 and 198.19.0.2/24), each running its own rswitchd, with
//! VLAN 100 tenant ports on bridge vlanbr joined by a VXLAN port. Needs
//! root; otherwise each test prints `SKIPPED (needs root): <name>` and
//! passes.
//!
//! Every namespace, link, process and directory is created through the
//! guards of `labkit`, which remove them on drop (also on failure).
//! dnsmasq and the DHCP client run in the foreground inside test
//! namespaces, are killed by pid, and keep their pid and lease files in a
//! temporary directory; the DHCP client runs a script of ours (not
//! dhclient-script), so nothing outside the namespaces (e.g.
//! /etc/resolv.conf) is touched.

mod labkit;

use labkit::*;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

/// Adds an internal port `port` on `br` (with `tag`, e.g. `tag=100`, when
/// given) and moves it into `ns`, with the tenant MTU 1450 when `mtu` is
/// set and the address `cidr` when given (else just up).
fn internal_port(
    d: &Daemon,
    host: &Netns,
    br: &str,
    port: &str,
    tag: Option<&str>,
    ns: &Netns,
    cidr: Option<&str>,
) {
    let mut args = vec!["add-port", br, port];
    if let Some(t) = tag {
        args.push(t);
    }
    args.extend(["--", "set", "interface", port, "type=internal"]);
    d.rswitch_ok(&args);
    host.move_link(port, ns);
    if tag.is_some() {
        ns.ip(&["link", "set", port, "mtu", "1450"]);
    }
    match cidr {
        Some(c) => ns.addr_up(port, c),
        None => {
            ns.ip(&["link", "set", port, "up"]);
        }
    }
}

/// The L5 topology on already created namespaces and daemons: on each host
/// bridge vlanbr, a tag=100 tenant port `vlan100` in the tenant namespace
/// (198.18.3.10 on A, 198.18.3.11 on B), and VXLAN port vxlan0 to the other
/// host. The underlay veth must exist already.
fn l5_setup(a: &Daemon, host_a: &Netns, ten_a: &Netns, b: &Daemon, host_b: &Netns, ten_b: &Netns) {
    for (d, host, tns, cidr, remote) in [
        (a, host_a, ten_a, "198.18.3.10/24", "198.19.0.2"),
        (b, host_b, ten_b, "198.18.3.11/24", "198.19.0.1"),
    ] {
        d.rswitch_ok(&["add-br", "vlanbr"]);
        internal_port(
            d,
            host,
            "vlanbr",
            "vlan100",
            Some("tag=100"),
            tns,
            Some(cidr),
        );
        let remote = format!("options:remote_ip={remote}");
        d.rswitch_ok(&[
            "add-port",
            "vlanbr",
            "vxlan0",
            "--",
            "set",
            "interface",
            "vxlan0",
            "type=vxlan",
            &remote,
        ]);
        let err = d.iface_get("vxlan0", "error");
        assert!(
            err.trim().is_empty() || err.trim() == "[]",
            "tunnel port error: {err}"
        );
    }
}

/// Underlay veth between the two hosts, addressed 198.19.0.1/.2.
fn underlay(host_a: &Netns, host_b: &Netns) -> Veth {
    let v = Veth::new(host_a, "eth0", host_b, "eth0");
    host_a.ip(&["addr", "add", "198.19.0.1/24", "dev", "eth0"]);
    host_b.ip(&["addr", "add", "198.19.0.2/24", "dev", "eth0"]);
    v
}

fn diag(a: &Daemon, b: &Daemon) -> String {
    format!(
        "hostA show:\n{}\nhostA vlanbr ports:\n{}\nhostB show:\n{}\nhostB vlanbr ports:\n{}\nhostA log:\n{}\nhostB log:\n{}",
        a.rswitch(&["show"]).0,
        a.ofctl(&["dump-ports", "vlanbr"]).0,
        b.rswitch(&["show"]).0,
        b.ofctl(&["dump-ports", "vlanbr"]).0,
        a.log(),
        b.log()
    )
}

/// Writes an executable shell script.
fn write_script(path: &std::path::Path, body: &str) {
    std::fs::write(path, body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Configures the lease on the interface (address and default route) and
/// nothing else: replaces dhclient-script.
const DHCLIENT_SCRIPT: &str = r#"#!/bin/sh
case "$reason" in
PREINIT)
    ip link set dev "$interface" up
    ;;
BOUND|RENEW|REBIND|REBOOT)
    ip -4 addr flush dev "$interface"
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
    for r in $new_routers; do
        ip route replace default via "$r" dev "$interface"
        break
    done
    ;;
esac
exit 0
"#;

/// The same for busybox udhcpc.
const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-$subnet}" dev "$interface"
    for r in $router; do
        ip route replace default via "$r" dev "$interface"
        break
    done
    ;;
esac
exit 0
"#;

/// The IPv4 address (without prefix) on `dev` in `ns`, if any.
fn ipv4_of(ns: &Netns, dev: &str) -> Option<String> {
    let out = ns.try_ip(&["-4", "-o", "addr", "show", "dev", dev]).ok()?;
    let word = out.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
    Some(word.split('/').next()?.to_string())
}

/// L7: dnsmasq in dhcpnet on hostA (tag 100), a DHCP client in a tag 100
/// namespace on hostB; the lease crosses the VXLAN tunnel.
#[test]
fn l7_dhcp_from_dnsmasq_across_vxlan() {
    require_root!();
    if !have("dnsmasq") {
        say("SKIPPED (no dnsmasq): l7_dhcp_from_dnsmasq_across_vxlan\n");
        return;
    }
    let use_dhclient = have("dhclient");
    if !use_dhclient && !have("busybox") {
        say("SKIPPED (no dhclient or busybox): l7_dhcp_from_dnsmasq_across_vxlan\n");
        return;
    }
    let host_a = Netns::new("hostA");
    let host_b = Netns::new("hostB");
    let ten_a = Netns::new("tenA");
    let ten_b = Netns::new("tenB");
    let dhcpnet = Netns::new("dhcpnet");
    let client = Netns::new("dhcpcli");
    let tmp = TempDir::new("l7");
    let _underlay = underlay(&host_a, &host_b);
    let a = Daemon::start(&host_a);
    let b = Daemon::start(&host_b);
    l5_setup(&a, &host_a, &ten_a, &b, &host_b, &ten_b);
    assert!(
        ping_ok(&ten_a, "198.18.3.11"),
        "L5 base: tenants do not reach each other\n{}",
        diag(&a, &b)
    );

    internal_port(
        &a,
        &host_a,
        "vlanbr",
        "dhcp100",
        Some("tag=100"),
        &dhcpnet,
        Some("198.18.3.100/24"),
    );
    internal_port(
        &b,
        &host_b,
        "vlanbr",
        "cli100",
        Some("tag=100"),
        &client,
        None,
    );

    let pid_file = tmp.file("dnsmasq.pid").display().to_string();
    let lease_file = tmp.file("dnsmasq.leases").display().to_string();
    let log_file = tmp.file("dnsmasq.log").display().to_string();
    let mut dnsmasq = dhcpnet.spawn(
        "dnsmasq",
        &[
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--interface=dhcp100",
            "--except-interface=lo",
            "--bind-interfaces",
            "--port=0",
            "--user=root",
            "--group=root",
            "--dhcp-range=198.18.3.5,198.18.3.150,12h",
            "--dhcp-option=option:router,198.18.3.1",
            &format!("--pid-file={pid_file}"),
            &format!("--dhcp-leasefile={lease_file}"),
            &format!("--log-facility={log_file}"),
            "--log-dhcp",
        ],
    );
    // dnsmasq is up once it listens on the DHCP port.
    let up = wait_until(Duration::from_secs(10), || {
        let (o, _, _) = dhcpnet.exec(Duration::from_secs(3), "ss", &["-lunH", "sport = :67"]);
        !o.trim().is_empty()
    });
    assert!(
        up,
        "dnsmasq did not start: {}",
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );
    assert!(
        dnsmasq.wait_timeout(Duration::from_millis(10)).is_none(),
        "dnsmasq exited: {}",
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );

    let mut dhcp_client = if use_dhclient {
        let script = tmp.file("dhclient-script");
        write_script(&script, DHCLIENT_SCRIPT);
        let script = script.display().to_string();
        let pf = tmp.file("dhclient.pid").display().to_string();
        let lf = tmp.file("dhclient.leases").display().to_string();
        say("L7: client is dhclient\n");
        client.spawn(
            "dhclient",
            &[
                "-d", "-v", "-1", "-sf", &script, "-pf", &pf, "-lf", &lf, "cli100",
            ],
        )
    } else {
        let script = tmp.file("udhcpc-script");
        write_script(&script, UDHCPC_SCRIPT);
        let script = script.display().to_string();
        say("L7: client is busybox udhcpc\n");
        client.spawn(
            "busybox",
            &["udhcpc", "-f", "-n", "-q", "-i", "cli100", "-s", &script],
        )
    };

    let mut got = None;
    let leased = wait_until(Duration::from_secs(40), || {
        let route = client
            .try_ip(&["-4", "route", "show", "default"])
            .unwrap_or_default();
        got = ipv4_of(&client, "cli100");
        got.is_some() && route.contains("via 198.18.3.1")
    });
    dhcp_client.stop();
    let route = client
        .try_ip(&["-4", "route", "show", "default"])
        .unwrap_or_default();
    let dlog = std::fs::read_to_string(&log_file).unwrap_or_default();
    say(&format!(
        "L7: client got {got:?}, default route {route:?}\n"
    ));
    assert!(
        leased,
        "no lease with a default route via 198.18.3.1: addr {got:?}, route {route:?}\ndnsmasq log:\n{dlog}\n{}",
        diag(&a, &b)
    );
    let addr: std::net::Ipv4Addr = got.as_deref().unwrap().parse().expect("client address");
    let o = addr.octets();
    assert!(
        o[..3] == [198, 18, 3] && (5..=150).contains(&o[3]),
        "leased address {addr} outside 198.18.3.5-150"
    );
    // The leased address works across the tunnel.
    assert!(
        ping_ok(&client, "198.18.3.100"),
        "client with {addr} cannot reach dnsmasq's 198.18.3.100\n{}",
        diag(&a, &b)
    );
    dnsmasq.stop();
}

/// L8: routernet on hostA routes between VLAN 100 (tapex, 198.18.3.1) and
/// br-ex (tapexex, 198.19.235.3) with MASQUERADE; ext (198.19.235.2) on
/// br-ex. B's tenant, across the tunnel, pings ext, which sees the router's
/// address as the source.
#[test]
fn l8_router_namespace_with_nat() {
    require_root!();
    if !have("iptables") {
        say("SKIPPED (no iptables): l8_router_namespace_with_nat\n");
        return;
    }
    let host_a = Netns::new("hostA");
    let host_b = Netns::new("hostB");
    let ten_a = Netns::new("tenA");
    let ten_b = Netns::new("tenB");
    let routernet = Netns::new("routernet");
    let ext = Netns::new("ext");
    let _underlay = underlay(&host_a, &host_b);
    let a = Daemon::start(&host_a);
    let b = Daemon::start(&host_b);
    l5_setup(&a, &host_a, &ten_a, &b, &host_b, &ten_b);

    a.rswitch_ok(&["add-br", "br-ex"]);
    internal_port(
        &a,
        &host_a,
        "vlanbr",
        "tapex",
        Some("tag=100"),
        &routernet,
        Some("198.18.3.1/24"),
    );
    internal_port(
        &a,
        &host_a,
        "br-ex",
        "tapexex",
        None,
        &routernet,
        Some("198.19.235.3/24"),
    );
    internal_port(
        &a,
        &host_a,
        "br-ex",
        "extport",
        None,
        &ext,
        Some("198.19.235.2/24"),
    );
    routernet.sysctl("net.ipv4.ip_forward", "1");
    routernet.exec_ok(
        "iptables",
        &[
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            "tapexex",
            "-j",
            "MASQUERADE",
        ],
    );
    ten_a.ip(&["route", "add", "default", "via", "198.18.3.1"]);
    ten_b.ip(&["route", "add", "default", "via", "198.18.3.1"]);

    assert!(
        ping_ok(&ten_b, "198.18.3.1"),
        "B's tenant cannot reach the router across the tunnel\n{}",
        diag(&a, &b)
    );
    assert!(
        ping_ok(&routernet, "198.19.235.2"),
        "the router cannot reach ext on br-ex\n{}",
        a.ofctl(&["dump-ports", "br-ex"]).0
    );
    assert!(
        ping_ok(&ten_a, "198.19.235.2"),
        "A's tenant cannot reach ext through the router\n{}",
        diag(&a, &b)
    );
    assert!(
        ping_ok(&ten_b, "198.19.235.2"),
        "B's tenant cannot reach ext through the router across the tunnel\n{}",
        diag(&a, &b)
    );

    // Capture in ext while B's tenant pings: the echo requests come from
    // the router's external address.
    let (cap, _, code) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            ext.exec(
                Duration::from_secs(15),
                "tcpdump",
                &[
                    "-n",
                    "-l",
                    "-i",
                    "extport",
                    "-c",
                    "1",
                    "icmp[icmptype] == icmp-echo",
                ],
            )
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(16);
        while !h.is_finished() && std::time::Instant::now() < deadline {
            ten_b.exec(
                Duration::from_secs(3),
                "ping",
                &["-n", "-q", "-c", "1", "-W", "1", "198.19.235.2"],
            );
        }
        h.join().expect("tcpdump thread")
    });
    say(&format!("L8 capture in ext: {cap}"));
    assert_eq!(code, 0, "tcpdump in ext captured nothing: {cap}");
    assert!(
        cap.contains("198.19.235.3 > 198.19.235.2"),
        "ext saw a source other than 198.19.235.3: {cap}"
    );
    assert!(!cap.contains("198.18.3."), "tenant address leaked: {cap}");

    // The MASQUERADE rule did the translation.
    let counters = routernet.exec_ok(
        "iptables",
        &["-t", "nat", "-L", "POSTROUTING", "-v", "-n", "-x"],
    );
    say(&format!("L8 routernet nat POSTROUTING:\n{counters}"));
    let hits: u64 = counters
        .lines()
        .find(|l| l.contains("MASQUERADE"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(hits > 0, "MASQUERADE rule never matched:\n{counters}");
}
