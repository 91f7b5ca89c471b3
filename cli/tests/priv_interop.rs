//! Tunnel interoperability: rswitch's VXLAN/GRE ports against other,
//! independent implementations of the same encapsulations.
//!
//! 1. rswitch VXLAN ↔ the Linux kernel's vxlan driver (a pure-Linux host
//!    with a Linux bridge).
//! 2. rswitch GRE and VXLAN ↔ Open vSwitch 3.1 userspace (netdev datapath),
//!    run through `tests/ovs/ovs-sandbox.sh` in its own namespace.
//!
//! Underlay 198.19.0.1/24 (hostA, rswitchd) and 198.19.0.2/24 (the peer);
//! tenants on 198.18.11.0/24 with MTU 1450. Needs root; otherwise each test
//! prints `SKIPPED (needs root): <name>` and passes. Every namespace, link,
//! process and directory is created through RAII guards that remove them
//! on drop (also on failure); processes are stopped by pid only.

mod labkit;

use labkit::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// hostA: a namespace running rswitchd with bridge br0, an internal port
/// t1 moved into `ten` (198.18.11.1/24, MTU 1450), and a tunnel port
/// `tun0` of type `kind` towards 198.19.0.2 with `key`.
fn rswitch_host(d: &Daemon, host: &Netns, ten: &Netns, kind: &str, key: &str) {
    d.rswitch_ok(&["add-br", "br0"]);
    d.rswitch_ok(&[
        "add-port",
        "br0",
        "t1",
        "--",
        "set",
        "interface",
        "t1",
        "type=internal",
    ]);
    host.move_link("t1", ten);
    ten.ip(&["link", "set", "t1", "mtu", "1450"]);
    ten.addr_up("t1", "198.18.11.1/24");
    let ty = format!("type={kind}");
    let k = format!("options:key={key}");
    d.rswitch_ok(&[
        "add-port",
        "br0",
        "tun0",
        "--",
        "set",
        "interface",
        "tun0",
        &ty,
        "options:remote_ip=198.19.0.2",
        &k,
    ]);
    let err = d.iface_get("tun0", "error");
    assert!(
        err.trim().is_empty() || err.trim() == "[]",
        "tunnel port error: {err}"
    );
}

fn rswitch_diag(d: &Daemon) -> String {
    format!(
        "hostA show:\n{}\nflows:\n{}\nports:\n{}\nlog:\n{}",
        d.rswitch(&["show"]).0,
        d.ofctl(&["dump-flows", "br0"]).0,
        d.ofctl(&["dump-ports", "br0"]).0,
        d.log()
    )
}

/// Runs a 2 s iperf3 TCP test and asserts that data arrived.
fn tcp_ok(client: &Netns, server: &Netns, addr: &str, what: &str, diag: impl Fn() -> String) {
    let j = iperf3(client, server, addr, 2);
    let rcvd = j["end"]["sum_received"]["bytes"].as_f64().unwrap_or(0.0);
    let bps = j["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    say(&format!(
        "{what}: received {rcvd} bytes, {:.1} Mbit/s, retransmits {}\n",
        bps / 1e6,
        j["end"]["sum_sent"]["retransmits"]
    ));
    assert!(rcvd > 0.0 && bps > 0.0, "{what}: no TCP data\n{}", diag());
}

/// rswitch VXLAN (key 42) on hostA ↔ the Linux kernel vxlan driver on
/// hostB, bridged by a Linux bridge to hostB's tenant. Pings both ways;
/// with `tcp`, iperf3 TCP both ways. `b_tx_csum_off` turns off transmit
/// checksum offload on hostB's tenant veth (so the kernel vxlan sends
/// inner frames with complete L4 checksums).
fn kernel_vxlan(tcp: bool, b_tx_csum_off: bool) {
    let host_a = Netns::new("hostA");
    let host_b = Netns::new("hostB");
    let ten_a = Netns::new("tenA");
    let ten_b = Netns::new("tenB");
    let _underlay = Veth::new(&host_a, "eth0", &host_b, "eth0");
    host_a.ip(&["addr", "add", "198.19.0.1/24", "dev", "eth0"]);
    host_b.ip(&["addr", "add", "198.19.0.2/24", "dev", "eth0"]);

    // hostB: pure Linux.
    host_b.ip(&[
        "link",
        "add",
        "vx0",
        "type",
        "vxlan",
        "id",
        "42",
        "remote",
        "198.19.0.1",
        "local",
        "198.19.0.2",
        "dstport",
        "4789",
    ]);
    host_b.ip(&["link", "add", "br-k", "type", "bridge"]);
    host_b.ip(&["link", "set", "vx0", "master", "br-k"]);
    let _tenant_b = Veth::new(&host_b, "vb", &ten_b, "eth0");
    host_b.ip(&["link", "set", "vb", "master", "br-k"]);
    host_b.ip(&["link", "set", "vx0", "up"]);
    host_b.ip(&["link", "set", "br-k", "up"]);
    if b_tx_csum_off {
        ten_b.exec_ok("ethtool", &["-K", "eth0", "tx", "off"]);
    }
    ten_b.ip(&["link", "set", "eth0", "mtu", "1450"]);
    ten_b.addr_up("eth0", "198.18.11.2/24");

    // hostA: rswitchd.
    let a = Daemon::start(&host_a);
    rswitch_host(&a, &host_a, &ten_a, "vxlan", "42");

    let diag = || {
        format!(
            "{}\nhostB links:\n{}\nhostB fdb:\n{}",
            rswitch_diag(&a),
            host_b.try_ip(&["-s", "link"]).unwrap_or_default(),
            host_b
                .exec(Duration::from_secs(5), "bridge", &["fdb", "show"])
                .0
        )
    };
    assert!(ping_ok(&ten_a, "198.18.11.2"), "A→B ping\n{}", diag());
    assert!(ping_ok(&ten_b, "198.18.11.1"), "B→A ping\n{}", diag());
    let ports = a.ofctl_ok(&["dump-ports", "br0", "tun0"]);
    say(&format!("vxlan tunnel port on hostA: {ports}\n"));
    assert!(!ports.contains("rx pkts=0,"), "{ports}");

    if !tcp {
        return;
    }
    if !have("iperf3") {
        say(&format!("SKIPPED (no iperf3): {}\n", test_name()));
        return;
    }
    tcp_ok(
        &ten_a,
        &ten_b,
        "198.18.11.2",
        "rswitch→kernel vxlan TCP",
        diag,
    );
    tcp_ok(
        &ten_b,
        &ten_a,
        "198.18.11.1",
        "kernel vxlan→rswitch TCP",
        diag,
    );
}

#[test]
fn vxlan_with_linux_kernel_vxlan_ping() {
    require_root!();
    kernel_vxlan(false, false);
}

/// TCP both ways with default offloads everywhere.
#[test]
fn vxlan_with_linux_kernel_vxlan_tcp_default_offloads() {
    require_root!();
    kernel_vxlan(true, false);
}

/// TCP both ways with B's tenant computing its own checksums (tx
/// checksum offload off on its veth); everything else default.
#[test]
fn vxlan_with_linux_kernel_vxlan_tcp_b_csum_off() {
    require_root!();
    kernel_vxlan(true, true);
}

/// `tests/ovs/ovs-sandbox.sh SCRIPT` running in the background; stopped by
/// pid on drop (SIGTERM: the sandbox's trap then stops its OVS daemons by
/// pid and deletes its namespace and temp dir), SIGKILL after 15 s.
struct Sandbox {
    child: Option<Child>,
}

impl Sandbox {
    fn start(script: &Path, envs: &[(&str, String)], stderr: &Path) -> Sandbox {
        let sandbox = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ovs/ovs-sandbox.sh");
        let err = std::fs::File::create(stderr).expect("sandbox stderr file");
        let mut c = Command::new("bash");
        c.arg(&sandbox)
            .arg("bash")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        for (k, v) in envs {
            c.env(k, v);
        }
        let child = c.spawn().expect("cannot start ovs-sandbox.sh");
        Sandbox { child: Some(child) }
    }

    /// Exit status if it has ended.
    fn exited(&mut self) -> Option<i32> {
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(st)) => Some(st.code().unwrap_or(-1)),
            _ => None,
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        // SAFETY: kill() on the pid of a child we started and not reaped.
        unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        say(&format!("warning: ovs-sandbox pid {} killed\n", c.id()));
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Runs inside the sandbox namespace (OVS userspace already up). Follows
/// the OVS "userspace tunneling" recipe: br-phy (netdev) holds the underlay
/// veth and carries 198.19.0.2 on its LOCAL port; br-ovs holds the tunnel
/// port and the tenant's internal port (the sandbox namespace stands for
/// the tenant: 198.18.11.2/24 on that port).
const OVS_SCRIPT: &str = r#"set -eu
exec 2>>"$SANDBOX_DIR/script.log"
set -x
ip link add ovsu0 type veth peer name eth0 netns "$HOSTA_NS"
ip link set ovsu0 up
ethtool -K ovsu0 tx off rx off >/dev/null 2>&1 || true
ovs-vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev \
    -- set bridge br-phy other_config:hwaddr=02:00:c6:13:00:02
ovs-vsctl add-port br-phy ovsu0
ip addr add 198.19.0.2/24 dev br-phy
ip link set br-phy up
ovs-appctl ovs/route/add 198.19.0.0/24 br-phy
ovs-appctl tnl/arp/set br-phy 198.19.0.1 "$HOSTA_MAC"
ovs-vsctl add-br br-ovs -- set bridge br-ovs datapath_type=netdev
ovs-vsctl add-port br-ovs tun0 -- set interface tun0 type="$TUN_KIND" \
    options:remote_ip=198.19.0.1 options:key="$TUN_KEY"
ovs-vsctl add-port br-ovs ten0 -- set interface ten0 type=internal
ip link set ten0 mtu 1450
ip addr add 198.18.11.2/24 dev ten0
ip link set ten0 up
echo "$SANDBOX_NETNS" > "$READY_FILE.tmp"
mv "$READY_FILE.tmp" "$READY_FILE"
# Stay up until the test stops the sandbox (SIGTERM to its pid).
while :; do sleep 1; done
"#;

fn ovs_diag(netns: &str) -> String {
    let x = |args: &[&str]| -> String {
        let mut a = vec!["netns", "exec", netns];
        a.extend_from_slice(args);
        let (o, e, _) = run("ip", &a, Duration::from_secs(10));
        format!("$ {}\n{o}{e}", args.join(" "))
    };
    [
        x(&["ip", "-s", "link"]),
        x(&["ip", "addr"]),
        x(&["ip", "neigh"]),
    ]
    .join("\n")
}

/// rswitch tunnel port of type `kind` (key `key`) on hostA ↔ Open vSwitch
/// userspace in the sandbox namespace.
fn ovs_interop(kind: &str, key: &str) {
    if !have("ovs-vswitchd") {
        say(&format!(
            "SKIPPED (no ovs-vswitchd): rswitch ↔ OVS userspace {kind}\n"
        ));
        return;
    }
    let host_a = Netns::new("hostA");
    let ten_a = Netns::new("tenA");
    let work = TempDir::new("ovs");
    let a = Daemon::start(&host_a);
    rswitch_host(&a, &host_a, &ten_a, kind, key);

    let script: PathBuf = work.file("ovs-side.sh");
    std::fs::write(&script, OVS_SCRIPT).expect("write script");
    let ready = work.file("ready");
    let sb_err = work.file("sandbox.stderr");
    // hostA's underlay MAC is fixed so the sandbox can preload its ARP.
    let host_mac = "02:00:c6:13:00:01".to_string();
    let mut sb = Sandbox::start(
        &script,
        &[
            ("HOSTA_NS", host_a.name.clone()),
            ("HOSTA_MAC", host_mac.clone()),
            ("TUN_KIND", kind.to_string()),
            ("TUN_KEY", key.to_string()),
            ("READY_FILE", ready.display().to_string()),
            ("OVS_SANDBOX_KEEP", "0".to_string()),
        ],
        &sb_err,
    );
    let up = wait_until(Duration::from_secs(40), || {
        ready.exists() || sb.exited().is_some()
    });
    let sb_netns = std::fs::read_to_string(&ready)
        .unwrap_or_default()
        .trim()
        .to_string();
    if sb_netns.is_empty() {
        let rc = sb.exited();
        let err = std::fs::read_to_string(&sb_err).unwrap_or_default();
        if rc == Some(77) {
            say(&format!("SKIPPED (ovs-sandbox says skip): {err}\n"));
            return;
        }
        panic!("OVS sandbox not ready (up {up}, exit {rc:?}):\n{err}");
    }
    host_a.ip(&["link", "set", "eth0", "address", &host_mac]);
    host_a.addr_up("eth0", "198.19.0.1/24");
    let _ = host_a.exec(
        Duration::from_secs(5),
        "ethtool",
        &["-K", "eth0", "tx", "off"],
    );

    let sb_ns = SandboxNs { name: sb_netns };
    let diag = || format!("{}\n{}", rswitch_diag(&a), ovs_diag(&sb_ns.name));
    assert!(
        ping_ok(&ten_a, "198.18.11.2"),
        "{kind}: rswitch tenant → OVS tenant\n{}",
        diag()
    );
    assert!(
        sb_ns.ping_ok("198.18.11.1"),
        "{kind}: OVS tenant → rswitch tenant\n{}",
        diag()
    );
    let ports = a.ofctl_ok(&["dump-ports", "br0", "tun0"]);
    say(&format!(
        "{kind} tunnel port on hostA (OVS peer): {ports}\n"
    ));
    drop(sb);
}

/// The sandbox's namespace (owned and deleted by ovs-sandbox.sh; we only
/// run commands in it).
struct SandboxNs {
    name: String,
}

impl SandboxNs {
    fn ping_ok(&self, addr: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            let (_, _, c) = run(
                "ip",
                &[
                    "netns", "exec", &self.name, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W",
                    "1", addr,
                ],
                Duration::from_secs(5),
            );
            if c == 0 {
                return true;
            }
        }
        false
    }
}

#[test]
fn gre_with_ovs_userspace() {
    require_root!();
    ovs_interop("gre", "7");
}

#[test]
fn vxlan_with_ovs_userspace() {
    require_root!();
    ovs_interop("vxlan", "7");
}
