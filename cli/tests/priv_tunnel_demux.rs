//! Several tunnel ports on one UDP port: each received packet goes to the
//! port whose remote and key match (others are counted and dropped), and a
//! `remote_ip=flow` / `key=flow` port takes its destination and id from the
//! flow tables (`set_field:…->tun_dst`, `set_tunnel`). Two rswitchd "hosts"
//! joined by an underlay veth; needs root (otherwise SKIPPED and passes).

mod labkit;

use labkit::*;

fn tenant(d: &Daemon, host: &Netns, br: &str, port: &str, ns: &Netns, cidr: &str) {
    d.rswitch_ok(&[
        "add-port",
        br,
        port,
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

fn vxlan(d: &Daemon, br: &str, port: &str, opts: &[&str]) {
    let mut args = vec![
        "add-port",
        br,
        port,
        "--",
        "set",
        "interface",
        port,
        "type=vxlan",
    ];
    args.extend_from_slice(opts);
    d.rswitch_ok(&args);
}

#[test]
fn tunnel_ports_sharing_a_udp_port_are_told_apart_by_key() {
    require_root!();
    let host_a = Netns::new("hostA");
    let host_b = Netns::new("hostB");
    let (a5, a6, b5, b6) = (
        Netns::new("a5"),
        Netns::new("a6"),
        Netns::new("b5"),
        Netns::new("b6"),
    );
    let _underlay = Veth::new(&host_a, "eth0", &host_b, "eth0");
    host_a.ip(&["addr", "add", "198.19.0.1/24", "dev", "eth0"]);
    host_b.ip(&["addr", "add", "198.19.0.2/24", "dev", "eth0"]);
    let a = Daemon::start(&host_a);
    let b = Daemon::start(&host_b);
    for (d, host, remote, t5, t6, last) in [
        (&a, &host_a, "198.19.0.2", &a5, &a6, "1"),
        (&b, &host_b, "198.19.0.1", &b5, &b6, "2"),
    ] {
        let r = format!("options:remote_ip={remote}");
        // Two isolated networks, same remote, same UDP port, keys 5 and 6.
        d.rswitch_ok(&["add-br", "br5"]);
        d.rswitch_ok(&["add-br", "br6"]);
        vxlan(d, "br5", "vx5", &[&r, "options:key=5"]);
        vxlan(d, "br6", "vx6", &[&r, "options:key=6"]);
        // Both networks use the same addresses: only the key separates them.
        tenant(d, host, "br5", "t5", t5, &format!("198.18.12.{last}/24"));
        tenant(d, host, "br6", "t6", t6, &format!("198.18.12.{last}/24"));
    }
    // Tell the two networks apart by MAC: a5 learns b5's, never b6's.
    assert!(ping_ok(&a5, "198.18.12.2"), "key 5 network");
    assert!(ping_ok(&a6, "198.18.12.2"), "key 6 network");
    let mac_b5 = b5.ip(&["link", "show", "t5"]);
    let mac_b6 = b6.ip(&["link", "show", "t6"]);
    let neigh_a5 = a5.ip(&["neigh", "show", "198.18.12.2"]);
    let mac = |s: &str| {
        s.split("link/ether ")
            .nth(1)
            .unwrap_or("")
            .split(' ')
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(
        neigh_a5.contains(&mac(&mac_b5)),
        "a5 reached b5: {neigh_a5}"
    );
    assert!(
        !neigh_a5.contains(&mac(&mac_b6)),
        "a5 never saw b6: {neigh_a5}"
    );
    let p5 = a.ofctl_ok(&["dump-ports", "br5", "vx5"]);
    let p6 = a.ofctl_ok(&["dump-ports", "br6", "vx6"]);
    assert!(
        !p5.contains("rx pkts=0,") && !p6.contains("rx pkts=0,"),
        "{p5}\n{p6}"
    );
}

#[test]
fn remote_and_key_from_the_flow_tables() {
    require_root!();
    let host_a = Netns::new("hostA");
    let host_b = Netns::new("hostB");
    let (ta, tb) = (Netns::new("ta"), Netns::new("tb"));
    let _underlay = Veth::new(&host_a, "eth0", &host_b, "eth0");
    host_a.ip(&["addr", "add", "198.19.0.1/24", "dev", "eth0"]);
    host_b.ip(&["addr", "add", "198.19.0.2/24", "dev", "eth0"]);
    let a = Daemon::start(&host_a);
    let b = Daemon::start(&host_b);
    // A: remote and key come from the flows.
    a.rswitch_ok(&["add-br", "br0"]);
    vxlan(
        &a,
        "br0",
        "vxf",
        &["options:remote_ip=flow", "options:key=flow"],
    );
    tenant(&a, &host_a, "br0", "ta0", &ta, "198.18.13.1/24");
    a.rswitch_ok(&["set-fail-mode", "br0", "secure"]);
    // vxf is ofport 1, ta0 ofport 2.
    a.ofctl_ok(&[
        "add-flow",
        "br0",
        "in_port=2,actions=set_field:198.19.0.2->tun_dst,set_tunnel:77,output:1",
    ]);
    a.ofctl_ok(&["add-flow", "br0", "in_port=1,tun_id=77,actions=output:2"]);
    // B: a plain port with the fixed key 77.
    b.rswitch_ok(&["add-br", "br0"]);
    vxlan(
        &b,
        "br0",
        "vx0",
        &["options:remote_ip=198.19.0.1", "options:key=77"],
    );
    tenant(&b, &host_b, "br0", "tb0", &tb, "198.18.13.2/24");
    assert!(
        ping_ok(&ta, "198.18.13.2"),
        "{}\n{}",
        a.log(),
        a.ofctl(&["dump-flows", "br0"]).0
    );
    let flows = a.ofctl_ok(&["dump-flows", "br0"]);
    assert!(
        flows.contains("tun_id=0x4d,in_port=1")
            && !flows.contains("n_packets=0, n_bytes=0, tun_id"),
        "{flows}"
    );
}
