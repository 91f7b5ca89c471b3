//! `rswitch capture` and `rswitch-ofctl trace --pcap` for real: two
//! namespaces on a bridge, captures written as pcap and read back by
//! tcpdump, several captures at once, traces of live packets, Ctrl-C, a
//! tunnel port's inner and outer frames. Needs root; otherwise each test
//! prints `SKIPPED (needs root): <name>` and passes.
//!
//! Namespaces, links, daemons and directories are labkit guards (removed
//! on drop, also on failure); the capture clients are this file's own
//! [`Capture`] guards, stopped by pid.

mod labkit;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use labkit::*;

/// A running `rswitch capture`, stdout and stderr in files; killed by pid
/// on drop if still running.
struct Capture {
    child: Option<Child>,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Capture {
    fn start(d: &Daemon, dir: &TempDir, tag: &str, args: &[&str]) -> Capture {
        let out = dir.file(&format!("{tag}.out"));
        let err = dir.file(&format!("{tag}.err"));
        let child = Command::new(RSWITCH)
            .arg("--rundir")
            .arg(d.rundir())
            .arg("capture")
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("start rswitch capture");
        let c = Capture {
            child: Some(child),
            out,
            err,
        };
        let ok = wait_until(Duration::from_secs(5), || {
            c.stderr().contains("listening on")
        });
        assert!(ok, "capture {tag} did not start: {}", c.stderr());
        c
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits for the capture to end by itself (COUNT reached).
    fn wait(&mut self, limit: Duration) -> i32 {
        let c = self.child.as_mut().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return st.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                panic!(
                    "capture did not end: stdout {}\nstderr {}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ctrl-C, as a user would.
    fn interrupt(&mut self) -> i32 {
        let pid = self.child.as_ref().expect("running").id();
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
        self.wait(Duration::from_secs(5))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// br0 with p1 and p2, veths into h1 (198.18.5.1) and h2 (198.18.5.2).
struct Lab {
    h1: Netns,
    _h2: Netns,
    d: Daemon,
    _v1: Veth,
    _v2: Veth,
    _host: Netns,
}

fn lab() -> Lab {
    let host = Netns::new("caph");
    let h1 = Netns::new("cap1");
    let h2 = Netns::new("cap2");
    let v1 = Veth::new(&h1, "eth0", &host, "p1");
    let v2 = Veth::new(&h2, "eth0", &host, "p2");
    h1.addr_up("eth0", "198.18.5.1/24");
    h2.addr_up("eth0", "198.18.5.2/24");
    host.ip(&["link", "set", "p1", "up"]);
    host.ip(&["link", "set", "p2", "up"]);
    let d = Daemon::start(&host);
    d.rswitch_ok(&["add-br", "br0"]);
    d.rswitch_ok(&["add-port", "br0", "p1"]);
    d.rswitch_ok(&["add-port", "br0", "p2"]);
    assert!(ping_ok(&h1, "198.18.5.2"), "no ping before capture");
    Lab {
        h1,
        _h2: h2,
        d,
        _v1: v1,
        _v2: v2,
        _host: host,
    }
}

fn ping(ns: &Netns, addr: &str, n: u32) {
    let n = n.to_string();
    ns.exec(
        Duration::from_secs(10),
        "ping",
        &["-n", "-q", "-c", &n, "-i", "0.2", "-W", "1", addr],
    );
}

fn tcpdump_read(file: &std::path::Path) -> String {
    let (o, e, c) = run(
        "tcpdump",
        &["-n", "-r", file.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_eq!(c, 0, "tcpdump -r failed: {e}");
    o
}

#[test]
fn captures_to_pcap_and_lines_with_traces_several_at_once() {
    require_root!();
    if !have("tcpdump") {
        say("SKIPPED (needs tcpdump): captures_to_pcap_and_lines_with_traces_several_at_once\n");
        return;
    }
    let l = lab();
    let dir = TempDir::new("capture");
    let pcap = dir.file("p1.pcap");
    let pcap_s = pcap.to_str().unwrap();
    let mut a = Capture::start(
        &l.d,
        &dir,
        "a",
        &["br0", "p1", "-c", "5", "-w", pcap_s, "icmp"],
    );
    let mut b = Capture::start(
        &l.d,
        &dir,
        "b",
        &["p2", "--direction", "out", "--trace", "-c", "2", "icmp"],
    );
    let mut c = Capture::start(
        &l.d,
        &dir,
        "c",
        &[
            "p1",
            "--format",
            "json",
            "--trace",
            "-c",
            "1",
            "icmp,nw_src=198.18.5.1",
        ],
    );
    ping(&l.h1, "198.18.5.2", 3);
    assert_eq!(a.wait(Duration::from_secs(10)), 0, "{}", a.stderr());
    assert_eq!(b.wait(Duration::from_secs(10)), 0, "{}", b.stderr());
    assert_eq!(c.wait(Duration::from_secs(10)), 0, "{}", c.stderr());

    // The pcap file, read by tcpdump: 5 ICMP packets in and out of p1.
    let td = tcpdump_read(&pcap);
    say(&format!("tcpdump -r:\n{td}"));
    assert_eq!(td.lines().count(), 5, "{td}");
    assert!(
        td.contains("198.18.5.1 > 198.18.5.2: ICMP echo request"),
        "{td}"
    );
    assert!(
        td.contains("198.18.5.2 > 198.18.5.1: ICMP echo reply"),
        "{td}"
    );
    assert!(
        a.stderr()
            .contains("5 packets captured, 0 dropped by the switch (slow reader)"),
        "{}",
        a.stderr()
    );

    // Lines with traces: requests sent out of p2, with the table and flow.
    let out = b.stdout();
    say(&format!("capture --trace:\n{out}"));
    assert!(
        out.contains("out p2 IP 198.18.5.1 > 198.18.5.2: ICMP echo request"),
        "{out}"
    );
    assert!(out.contains("bridge(\"br0\")"), "{out}");
    assert!(out.contains(" 0. priority 0"), "{out}");
    assert!(out.contains("NORMAL"), "{out}");
    // JSON: one object per packet, with the trace.
    let js = c.stdout();
    let v: serde_json::Value = serde_json::from_str(js.lines().next().unwrap()).unwrap();
    assert_eq!(v["port"], "p1");
    assert_eq!(v["direction"], "in");
    assert!(
        v["summary"].as_str().unwrap().contains("ICMP echo request"),
        "{js}"
    );
    assert_eq!(v["trace"]["events"][1]["table"], 0, "{js}");

    // The captured file traced through the live bridge, and offline.
    let (o, e, code) =
        l.d.ofctl(&["trace", "br0", "--pcap", pcap_s, "--in-port", "1"]);
    assert_eq!(code, 0, "{e}");
    assert!(o.contains("Packet 1 (") && o.contains("Packet 5 ("), "{o}");
    assert!(o.contains("Flow: icmp,in_port=1"), "{o}");
    let (o, e, code) = l.d.ofctl(&[
        "--format=json",
        "trace",
        "br0",
        "--pcap",
        pcap_s,
        "in_port=1",
    ]);
    assert_eq!(code, 0, "{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    let flows = dir.file("flows.txt");
    std::fs::write(&flows, "priority=5,icmp,actions=output:2\n").unwrap();
    let (o, e, code) = run(
        OFCTL,
        &[
            "trace",
            "--flows",
            flows.to_str().unwrap(),
            "--pcap",
            pcap_s,
            "in_port=1",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, 0, "{e}");
    assert!(
        o.contains("icmp, priority 5") && o.contains("output:2"),
        "{o}"
    );
    // A damaged file: an error naming the record, no panic.
    let bytes = std::fs::read(&pcap).unwrap();
    let bad = dir.file("bad.pcap");
    std::fs::write(&bad, &bytes[..bytes.len() - 3]).unwrap();
    let (_, e, code) = l.d.ofctl(&[
        "trace",
        "br0",
        "--pcap",
        bad.to_str().unwrap(),
        "--in-port",
        "1",
    ]);
    assert_eq!(code, 1);
    assert!(e.contains("record 5: truncated frame"), "{e}");

    // Ctrl-C ends a capture with tcpdump's summary; the tap goes away.
    let mut d = Capture::start(&l.d, &dir, "d", &["p1"]);
    ping(&l.h1, "198.18.5.2", 2);
    assert_eq!(d.interrupt(), 0);
    let err = d.stderr();
    assert!(
        err.contains("packets captured, 0 dropped by the switch (slow reader)"),
        "{err}"
    );
    let n: u64 = err
        .lines()
        .find(|l| l.contains("packets captured"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n >= 4, "{err}\n{}", d.stdout());
    // The daemon still answers, and forwarding is unaffected.
    l.d.rswitch_ok(&["show"]);
    assert!(ping_ok(&l.h1, "198.18.5.2"));
}

#[test]
fn capture_errors_name_the_token() {
    require_root!();
    let l = lab();
    let (_, e, c) = l.d.rswitch(&["capture", "nosuch", "-c", "1"]);
    assert_eq!(c, 1);
    assert!(e.contains("nosuch: no such port"), "{e}");
    let (_, e, c) =
        l.d.rswitch(&["capture", "br0", "p1", "ip,nw_dst=999.1.1.1"]);
    assert_eq!(c, 1);
    assert!(e.contains("bad filter") && e.contains("999.1.1.1"), "{e}");
    let (_, e, c) = l.d.rswitch(&["capture", "p1", "-c", "many"]);
    assert_eq!(c, 1);
    assert!(e.contains("-c: COUNT \"many\" is not a number"), "{e}");
    let (_, e, c) = l.d.rswitch(&["capture", "p1", "--direction", "up"]);
    assert_eq!(c, 1);
    assert!(e.contains("up: bad direction"), "{e}");
    let (_, e, c) = l.d.rswitch(&["capture", "p1", "--outer"]);
    assert_eq!(c, 1);
    assert!(e.contains("p1 is not a tunnel port"), "{e}");
    // Nothing was left running, and the daemon is fine.
    l.d.rswitch_ok(&["show"]);
}

/// Two hosts over a VXLAN underlay; captures on hostA's tunnel port see
/// the inner frames, and with --outer the VXLAN packets tcpdump decodes.
#[test]
fn tunnel_port_inner_and_outer_frames() {
    require_root!();
    if !have("tcpdump") {
        say("SKIPPED (needs tcpdump): tunnel_port_inner_and_outer_frames\n");
        return;
    }
    let host_a = Netns::new("capA");
    let host_b = Netns::new("capB");
    let ten_a = Netns::new("capTA");
    let ten_b = Netns::new("capTB");
    let _underlay = Veth::new(&host_a, "eth0", &host_b, "eth0");
    host_a.addr_up("eth0", "198.19.7.1/24");
    host_b.addr_up("eth0", "198.19.7.2/24");
    let a = Daemon::start(&host_a);
    let b = Daemon::start(&host_b);
    for (d, host, tns, cidr, remote) in [
        (&a, &host_a, &ten_a, "198.18.7.10/24", "198.19.7.2"),
        (&b, &host_b, &ten_b, "198.18.7.11/24", "198.19.7.1"),
    ] {
        d.rswitch_ok(&["add-br", "br0"]);
        d.rswitch_ok(&[
            "add-port",
            "br0",
            "t0",
            "--",
            "set",
            "interface",
            "t0",
            "type=internal",
        ]);
        host.move_link("t0", tns);
        tns.ip(&["link", "set", "t0", "mtu", "1450"]);
        tns.addr_up("t0", cidr);
        let remote = format!("options:remote_ip={remote}");
        d.rswitch_ok(&[
            "add-port",
            "br0",
            "vx0",
            "--",
            "set",
            "interface",
            "vx0",
            "type=vxlan",
            &remote,
            "options:key=42",
        ]);
    }
    assert!(ping_ok(&ten_a, "198.18.7.11"), "no ping across the tunnel");
    let dir = TempDir::new("captun");
    let inner = dir.file("inner.pcap");
    let outer = dir.file("outer.pcap");
    let mut ci = Capture::start(
        &a,
        &dir,
        "in",
        &["vx0", "-c", "4", "-w", inner.to_str().unwrap(), "icmp"],
    );
    let mut co = Capture::start(
        &a,
        &dir,
        "out",
        &[
            "br0",
            "vx0",
            "--outer",
            "-c",
            "4",
            "-w",
            outer.to_str().unwrap(),
            "icmp",
        ],
    );
    ping(&ten_a, "198.18.7.11", 2);
    assert_eq!(ci.wait(Duration::from_secs(10)), 0, "{}", ci.stderr());
    assert_eq!(co.wait(Duration::from_secs(10)), 0, "{}", co.stderr());
    let ti = tcpdump_read(&inner);
    say(&format!("inner:\n{ti}"));
    assert_eq!(ti.lines().count(), 4, "{ti}");
    assert!(
        ti.contains("198.18.7.10 > 198.18.7.11: ICMP echo request"),
        "{ti}"
    );
    assert!(
        ti.contains("198.18.7.11 > 198.18.7.10: ICMP echo reply"),
        "{ti}"
    );
    let to = tcpdump_read(&outer);
    say(&format!("outer:\n{to}"));
    // tcpdump prints each decapsulated frame on a line of its own.
    assert_eq!(
        to.lines().filter(|l| l.contains("VXLAN")).count(),
        4,
        "{to}"
    );
    assert!(
        to.contains("198.19.7.1.") && to.contains("198.19.7.2.4789"),
        "{to}"
    );
    assert!(to.contains("VXLAN") && to.contains("vni 42"), "{to}");
    assert!(
        to.contains("198.18.7.10 > 198.18.7.11: ICMP echo request"),
        "{to}"
    );
    // The real outer packets on the underlay agree with the rebuilt ones.
    let (o, _, _) = a.ofctl(&["dump-ports", "br0", "vx0"]);
    assert!(!o.contains("rx pkts=0,"), "{o}");
}

/// br0 (p1) and br1 (p2) joined by patch ports pa/pb: a capture on a
/// patch port sees the packets crossing the link, both ways.
#[test]
fn patch_port_capture() {
    require_root!();
    let host = Netns::new("capph");
    let h1 = Netns::new("capp1");
    let h2 = Netns::new("capp2");
    let _v1 = Veth::new(&h1, "eth0", &host, "p1");
    let _v2 = Veth::new(&h2, "eth0", &host, "p2");
    h1.addr_up("eth0", "198.18.6.1/24");
    h2.addr_up("eth0", "198.18.6.2/24");
    host.ip(&["link", "set", "p1", "up"]);
    host.ip(&["link", "set", "p2", "up"]);
    let d = Daemon::start(&host);
    d.rswitch_ok(&["add-br", "br0"]);
    d.rswitch_ok(&["add-br", "br1"]);
    d.rswitch_ok(&["add-port", "br0", "p1"]);
    d.rswitch_ok(&["add-port", "br1", "p2"]);
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
    assert!(ping_ok(&h1, "198.18.6.2"), "no ping across the patch link");
    let dir = TempDir::new("cappatch");
    let mut c = Capture::start(&d, &dir, "pb", &["br1", "pb", "-c", "4", "--trace", "icmp"]);
    ping(&h1, "198.18.6.2", 2);
    assert_eq!(c.wait(Duration::from_secs(10)), 0, "{}", c.stderr());
    let out = c.stdout();
    say(&format!("patch capture:\n{out}"));
    assert!(
        out.contains("in  pb IP 198.18.6.1 > 198.18.6.2: ICMP echo request"),
        "{out}"
    );
    assert!(
        out.contains("out pb IP 198.18.6.2 > 198.18.6.1: ICMP echo reply"),
        "{out}"
    );
    assert!(
        out.contains("bridge(\"br0\")") && out.contains("bridge(\"br1\")"),
        "{out}"
    );
}
