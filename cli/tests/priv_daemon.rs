//! rswitchd as a daemon, for real: restarts (clean and kill -9) bring the
//! configuration, ofports, flows and traffic back; a second daemon on the
//! same run directory is refused; vanishing devices, broken clients and a
//! corrupt configuration file are survived or refused cleanly; CLI errors
//! change nothing. Needs root; otherwise each test prints `SKIPPED (needs
//! root): <name>` and passes.

mod labkit;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use labkit::*;

/// `n_packets=N` of the first flow line containing `needle`.
fn n_packets(dump: &str, needle: &str) -> u64 {
    let line = dump
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no flow with {needle:?} in:\n{dump}"));
    line.split(", ")
        .find_map(|f| f.trim().strip_prefix("n_packets="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no n_packets in {line:?}"))
}

/// Everything a restart must bring back.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    show: String,
    ofports: Vec<(String, String)>,
    flows: String,
    list_port: String,
}

fn snapshot(d: &Daemon, br: &str, ifaces: &[&str]) -> Snapshot {
    Snapshot {
        show: d.rswitch_ok(&["show"]),
        ofports: ifaces
            .iter()
            .map(|i| (i.to_string(), d.iface_get(i, "ofport")))
            .collect(),
        flows: flows_no_stats(d, br),
        list_port: d.rswitch_ok(&["--columns=name,tag,trunks,external_ids", "list", "Port"]),
    }
}

#[test]
fn restart_after_sigterm_and_kill9_restores_everything() {
    require_root!();
    let sw = Netns::new("sw");
    let ns1 = Netns::new("ns1");
    let ns2 = Netns::new("ns2");
    let ns3 = Netns::new("ns3");
    let ns4 = Netns::new("ns4");
    let _v1 = Veth::new(&ns1, "veth1", &sw, "ovs-v1");
    let _v2 = Veth::new(&ns2, "veth2", &sw, "ovs-v2");
    ns1.addr_up("veth1", "198.18.5.1/24");
    ns2.addr_up("veth2", "198.18.5.2/24");
    // Internal ports get names unique to this test run: after a restart
    // rswitchd looks for them in every namespace.
    let in3 = unique_name("rin");
    let in4 = unique_name("rin");
    let br = "br-rst";

    let mut d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", br]);
    d.rswitch_ok(&["add-port", br, "ovs-v1"]);
    d.rswitch_ok(&["add-port", br, "ovs-v2"]);
    d.rswitch_ok(&[
        "add-port",
        br,
        &in3,
        "--",
        "set",
        "Interface",
        &in3,
        "type=internal",
    ]);
    d.rswitch_ok(&[
        "add-port",
        br,
        &in4,
        "--",
        "set",
        "Interface",
        &in4,
        "type=internal",
        "ofport_request=77",
        "external-ids:vm=four",
    ]);
    sw.move_link(&in3, &ns3);
    sw.move_link(&in4, &ns4);
    ns3.addr_up(&in3, "198.18.5.3/24");
    ns4.addr_up(&in4, "198.18.5.4/24");
    d.ofctl_ok(&["add-flow", br, "priority=100,icmp,actions=NORMAL"]);
    d.ofctl_ok(&["add-flow", br, "cookie=0x42,priority=90,arp,actions=NORMAL"]);
    d.ofctl_ok(&[
        "add-flow",
        br,
        "table=1,priority=5,ip,nw_dst=198.18.5.99,actions=drop",
    ]);

    let traffic = |d: &Daemon, when: &str| {
        for (ns, addr) in [
            (&ns1, "198.18.5.2"),
            (&ns1, "198.18.5.3"),
            (&ns3, "198.18.5.4"),
            (&ns4, "198.18.5.2"),
        ] {
            assert!(
                ping_ok(ns, addr),
                "{when}: {} cannot reach {addr}\nshow:\n{}\nlog:\n{}",
                ns.name,
                d.rswitch(&["show"]).0,
                d.log()
            );
        }
    };
    traffic(&d, "before any restart");
    let ifaces = [br, "ovs-v1", "ovs-v2", in3.as_str(), in4.as_str()];
    let before = snapshot(&d, br, &ifaces);
    assert_eq!(before.ofports[4].1, "77", "{:?}", before.ofports);
    let stats = d.ofctl_ok(&["dump-flows", br]);
    assert!(n_packets(&stats, "icmp") > 0, "{stats}");

    // 1. Clean stop (SIGTERM) and start again on the same run directory.
    let st = d.terminate();
    assert!(
        st.success(),
        "rswitchd exited with {st} on SIGTERM; log:\n{}",
        d.log()
    );
    assert!(!d.socket().exists(), "socket left after a clean stop");
    for (ns, dev) in [(&ns3, &in3), (&ns4, &in4)] {
        assert!(
            ns.try_ip(&["link", "show", dev]).is_ok(),
            "internal port {dev} vanished from {}",
            ns.name
        );
    }
    d.restart()
        .unwrap_or_else(|e| panic!("restart after SIGTERM: {e}"));
    let after = snapshot(&d, br, &ifaces);
    assert_eq!(before, after, "configuration after SIGTERM + restart");
    let stats = d.ofctl_ok(&["dump-flows", br]);
    for needle in ["icmp", "arp", "nw_dst=198.18.5.99", "actions=NORMAL"] {
        assert_eq!(
            n_packets(&stats, needle),
            0,
            "counters after restart:\n{stats}"
        );
    }
    let ports = d.ofctl_ok(&["dump-ports", br]);
    assert!(
        !ports.contains("pkts=")
            || ports
                .lines()
                .filter(|l| l.contains("pkts="))
                .all(|l| l.contains("pkts=0,")),
        "port counters after restart:\n{ports}"
    );
    traffic(&d, "after SIGTERM + restart");

    // 2. kill -9: the stale socket and pidfile must not block the restart.
    d.kill9();
    assert!(d.socket().exists(), "expected a stale socket after kill -9");
    assert!(
        d.rundir().join("rswitchd.pid").exists(),
        "expected a stale pidfile after kill -9"
    );
    let (_, err, code) = d.rswitch(&["show"]);
    assert_ne!(code, 0, "rswitch show with no daemon must fail");
    assert!(err.contains("rswitchd"), "message without a daemon: {err}");
    d.restart()
        .unwrap_or_else(|e| panic!("restart after kill -9: {e}"));
    let after = snapshot(&d, br, &ifaces);
    assert_eq!(before, after, "configuration after kill -9 + restart");
    traffic(&d, "after kill -9 + restart");

    // 3. A second daemon on the same run directory is refused, clearly,
    // and the first one is undisturbed.
    let (_, err, code) = d.second_instance();
    assert_ne!(code, 0, "second rswitchd on the same run directory: {err}");
    assert!(
        err.contains("already running") && err.contains(&d.pid().unwrap().to_string()),
        "second rswitchd's message should say one is already running (and its pid): {err:?}"
    );
    assert!(d.is_running());
    assert_eq!(
        snapshot(&d, br, &ifaces),
        before,
        "after the refused second daemon"
    );
    assert_eq!(
        std::fs::read_to_string(d.rundir().join("rswitchd.pid"))
            .unwrap()
            .trim(),
        d.pid().unwrap().to_string(),
        "the refused daemon must not overwrite the pidfile"
    );
    traffic(&d, "after the refused second daemon");
}

/// `rswitchd --detach` returns once the daemon answers; SIGTERM to the pid
/// in the pidfile stops it and removes socket and pidfile.
#[test]
fn detach_writes_pidfile_and_stops_on_sigterm() {
    require_root!();
    let sw = Netns::new("sw");
    let dir = TempDir::new("detach");
    let rundir = dir.path.display().to_string();
    let (o, e, c) = sw.exec(
        Duration::from_secs(20),
        RSWITCHD,
        &["--rundir", &rundir, "--detach"],
    );
    let pidfile = dir.file("rswitchd.pid");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);
    // Make sure it goes away whatever happens below.
    struct KillPid(u32);
    impl Drop for KillPid {
        fn drop(&mut self) {
            let cmd = std::fs::read(format!("/proc/{}/cmdline", self.0)).unwrap_or_default();
            // Only if that pid still is our rswitchd (not reused).
            if self.0 > 0 && String::from_utf8_lossy(&cmd).contains("rswitchd") {
                // SAFETY: kill() on the daemon this test started.
                unsafe { libc::kill(self.0 as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
    let guard = KillPid(pid);
    assert_eq!(c, 0, "rswitchd --detach: {o}{e}");
    assert!(pid > 0, "no pid in {}", pidfile.display());
    // "brd" is also an `ip link` keyword (broadcast): the device must go
    // all the same.
    for br in ["br-det", "brd"] {
        let (out, err, code) = run(
            RSWITCH,
            &["--rundir", &rundir, "add-br", br],
            Duration::from_secs(20),
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    // $RSWITCH_RUNDIR works instead of --rundir.
    let out = std::process::Command::new(RSWITCH)
        .arg("list-br")
        .env("RSWITCH_RUNDIR", &rundir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "br-det\nbrd\n");
    // SAFETY: kill() on the daemon this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let gone = wait_until(Duration::from_secs(10), || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for whoever adopted it.
        stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'))
    });
    assert!(
        gone,
        "rswitchd --detach (pid {pid}) did not stop on SIGTERM"
    );
    assert!(
        !dir.file("rswitchd.sock").exists(),
        "socket left after SIGTERM"
    );
    assert!(!pidfile.exists(), "pidfile left after SIGTERM");
    for br in ["br-det", "brd"] {
        assert!(
            sw.try_ip(&["link", "show", "dev", br]).is_err(),
            "internal port {br} left in the switch namespace after SIGTERM"
        );
    }
    drop(guard);
}

#[test]
fn fault_port_device_deleted_under_traffic_then_recreated() {
    require_root!();
    let sw = Netns::new("sw");
    let ns1 = Netns::new("ns1");
    let ns2 = Netns::new("ns2");
    let ns3 = Netns::new("ns3");
    let _v1 = Veth::new(&ns1, "veth1", &sw, "fp1");
    let _v2 = Veth::new(&ns2, "veth2", &sw, "fp2");
    let v3 = Veth::new(&ns3, "veth3", &sw, "fp3");
    ns1.addr_up("veth1", "198.18.6.1/24");
    ns2.addr_up("veth2", "198.18.6.2/24");
    ns3.addr_up("veth3", "198.18.6.3/24");
    let mut d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "brf"]);
    for p in ["fp1", "fp2", "fp3"] {
        d.rswitch_ok(&["add-port", "brf", p]);
    }
    assert_ping(&ns3, "198.18.6.1");
    assert_ping(&ns1, "198.18.6.2");
    let ofport3 = d.iface_get("fp3", "ofport");

    // Traffic on the port that goes away and between two others.
    let mut doomed = ns3.spawn(
        "ping",
        &["-q", "-c", "100", "-i", "0.05", "-W", "1", "198.18.6.1"],
    );
    let survivor = std::thread::scope(|s| {
        let h = s.spawn(|| {
            ns1.exec(
                Duration::from_secs(20),
                "ping",
                &["-q", "-c", "80", "-i", "0.05", "-W", "1", "198.18.6.2"],
            )
        });
        std::thread::sleep(Duration::from_millis(1000));
        // The veth goes away under the switch (both ends vanish).
        drop(v3);
        h.join().unwrap()
    });
    doomed.stop();
    let (out, _, _) = &survivor;
    let received: u32 = out
        .split(", ")
        .find_map(|f| f.strip_suffix(" received"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        received >= 72,
        "ns1 -> ns2 lost more than 10% while fp3 vanished: {out}"
    );

    assert!(
        d.is_running(),
        "rswitchd died when a port device vanished; log:\n{}",
        d.log()
    );
    // The port shows as down, with an error (as ovs-vsctl shows
    // "could not open network device fp3 (No such device)").
    let mut problems = Vec::new();
    let down = wait_until(Duration::from_secs(5), || {
        d.iface_get("fp3", "link_state") == "down"
    });
    if !down {
        problems.push(format!(
            "fp3 vanished but link_state is not down:\n{}",
            d.rswitch_ok(&["list", "Interface", "fp3"])
        ));
    }
    let errored = wait_until(Duration::from_secs(5), || {
        d.rswitch_ok(&["show"]).contains("error:") && d.iface_get("fp3", "error") != "[]"
    });
    if !errored {
        problems.push(format!(
            "fp3 vanished but neither `rswitch show` nor `get Interface fp3 error` reports an error:\nshow:\n{}\nlist Interface fp3:\n{}",
            d.rswitch_ok(&["show"]),
            d.rswitch_ok(&["list", "Interface", "fp3"])
        ));
    }
    assert_ping(&ns1, "198.18.6.2");
    assert_ping(&ns2, "198.18.6.1");

    // Recreate the veth with the same names: the port works again.
    let _v3 = Veth::new(&ns3, "veth3", &sw, "fp3");
    ns3.addr_up("veth3", "198.18.6.3/24");
    let t0 = Instant::now();
    let back = wait_until(Duration::from_secs(10), || {
        let (_, _, c) = ns3.exec(
            Duration::from_secs(3),
            "ping",
            &["-q", "-c", "1", "-W", "1", "198.18.6.1"],
        );
        c == 0
    });
    if back {
        say(&format!(
            "fault: fp3 carried traffic {:?} after being recreated\n",
            t0.elapsed()
        ));
    } else {
        problems.push(format!(
            "fp3 recreated with the same name but ns3 -> 198.18.6.1 gets no reply after 10 s\nshow:\n{}\nlog:\n{}",
            d.rswitch(&["show"]).0,
            d.log()
        ));
    }
    assert_eq!(d.iface_get("fp3", "ofport"), ofport3, "ofport changed");
    let clean = wait_until(Duration::from_secs(3), || {
        !d.rswitch_ok(&["show"]).contains("error:") && d.iface_get("fp3", "link_state") == "up"
    });
    if !clean {
        problems.push(format!(
            "fp3 works again but is still reported broken:\n{}",
            d.rswitch_ok(&["list", "Interface", "fp3"])
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Sends raw bytes as a client; returns what the daemon answered (maybe
/// nothing) within 10 s.
fn raw_client(sock: &std::path::Path, bytes: &[u8], close_write: bool) -> String {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(bytes);
    if close_write {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn fault_garbage_and_aborted_clients_do_not_stop_the_daemon() {
    require_root!();
    let sw = Netns::new("sw");
    let mut d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "brg"]);
    let sock = d.socket();
    let alive = |d: &mut Daemon, what: &str| {
        assert!(
            d.is_running(),
            "rswitchd died after {what}; log:\n{}",
            d.log()
        );
        let (o, e, c) = d.rswitch(&["list-br"]);
        assert_eq!((o.as_str(), c), ("brg\n", 0), "after {what}: {e}");
    };

    // Garbage: answered with an error (or nothing), and nothing changes.
    let ans = raw_client(&sock, b"\x00\xff\xfe garbage, not json at all\n", true);
    say(&format!("garbage request answered: {ans:?}\n"));
    alive(&mut d, "a garbage request");
    let ans = raw_client(&sock, b"{\"tool\":\"vsctl\",\"argv\":\"add-br\"}\n", true);
    alive(
        &mut d,
        &format!("a well-formed but wrong request (answer {ans:?})"),
    );
    let ans = raw_client(&sock, b"{\"tool\":\"nosuch\",\"argv\":[]}\n", true);
    alive(
        &mut d,
        &format!("a request for an unknown tool (answer {ans:?})"),
    );
    let ans = raw_client(&sock, &[b'x'; 200_000], true);
    alive(
        &mut d,
        &format!("200 kB without a newline (answer {} bytes)", ans.len()),
    );

    // Connect and disconnect in the middle of a request.
    {
        let mut s = UnixStream::connect(&sock).unwrap();
        s.write_all(br#"{"tool":"vsctl","argv":["add-br","#)
            .unwrap();
    }
    alive(&mut d, "a client that vanished mid-request");
    assert_eq!(
        d.rswitch_ok(&["list-br"]),
        "brg\n",
        "a half request must not apply"
    );
    // Connect and close at once, many times.
    for _ in 0..50 {
        drop(UnixStream::connect(&sock).unwrap());
    }
    alive(&mut d, "50 empty connections");
    // A client that stops reading its answer (closes after sending).
    {
        let mut s = UnixStream::connect(&sock).unwrap();
        let mut req =
            serde_json::to_vec(&serde_json::json!({"tool":"vsctl","argv":["show"]})).unwrap();
        req.push(b'\n');
        s.write_all(&req).unwrap();
    }
    alive(&mut d, "a client that left before the answer");

    // A client that connects and says nothing: others are still served.
    let silent = UnixStream::connect(&sock).unwrap();
    let t0 = Instant::now();
    alive(&mut d, "a silent client (while it is connected)");
    let waited = t0.elapsed();
    say(&format!(
        "with a silent client connected, rswitch list-br took {waited:?}\n"
    ));
    drop(silent);
    assert!(
        waited < Duration::from_secs(10),
        "a silent client blocked rswitch for {waited:?}"
    );
}

#[test]
fn fault_corrupt_conf_db_is_refused_and_left_unchanged() {
    require_root!();
    let sw = Netns::new("sw");
    let mut d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "brc"]);
    d.ofctl_ok(&["add-flow", "brc", "priority=7,arp,actions=NORMAL"]);
    assert!(d.terminate().success());
    let path = d.conf_db();
    let good = std::fs::read(&path).expect("conf.db written");
    let mut variants: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        (
            "garbage",
            b"\x00\x01\x02 this is not a configuration\n".to_vec(),
        ),
        ("empty", Vec::new()),
        ("wrong format", {
            let s =
                String::from_utf8_lossy(&good).replacen("rswitch-conf-1", "rswitch-conf-999", 1);
            s.into_bytes()
        }),
    ];
    // A flipped byte in the middle of the JSON.
    let mut flipped = good.clone();
    let mid = flipped.len() / 3;
    flipped[mid] = b'}';
    variants.push(("flipped byte", flipped));
    let shown = path.display().to_string();
    for (what, bytes) in &variants {
        std::fs::write(&path, bytes).unwrap();
        let err = match d.restart() {
            Ok(()) => {
                let show = d.rswitch(&["show"]).0;
                d.terminate();
                panic!("rswitchd started on a {what} conf.db; show:\n{show}");
            }
            Err(e) => e,
        };
        assert!(
            err.contains(&shown),
            "{what} conf.db: the message does not name {shown}: {err}"
        );
        assert_eq!(
            &std::fs::read(&path).unwrap(),
            bytes,
            "{what} conf.db was modified"
        );
        let leftovers: Vec<String> = std::fs::read_dir(d.rundir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("conf") && n != "conf.db")
            .collect();
        assert!(leftovers.is_empty(), "{what}: left {leftovers:?}");
    }
    // The good file still works.
    std::fs::write(&path, &good).unwrap();
    d.restart().expect("restart with the good conf.db");
    assert_eq!(d.rswitch_ok(&["list-br"]), "brc\n");
    assert!(flows_no_stats(&d, "brc").contains("priority=7,arp actions=NORMAL"));
}

/// CLI error paths: message on stderr, non-zero exit, nothing changed.
#[test]
fn bad_input_is_refused_and_changes_nothing() {
    require_root!();
    let sw = Netns::new("sw");
    let ns1 = Netns::new("ns1");
    let _v = Veth::new(&ns1, "veth1", &sw, "bv1");
    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "br0"]);
    d.rswitch_ok(&["add-port", "br0", "bv1", "tag=10"]);
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
    d.ofctl_ok(&["add-flow", "br0", "priority=10,arp,actions=NORMAL"]);
    d.ofctl_ok(&[
        "add-flow",
        "br0",
        "table=3,priority=1,ip,nw_dst=198.18.7.0/24,actions=drop",
    ]);
    let state = |d: &Daemon| {
        (
            d.rswitch_ok(&["show"]),
            flows_no_stats(d, "br0"),
            d.rswitch_ok(&["--columns=name,tag,trunks,external_ids", "list", "Port"]),
        )
    };
    let before = state(&d);

    let dir = TempDir::new("badin");
    let flows = dir.file("flows.txt");
    std::fs::write(
        &flows,
        "priority=1,ip,nw_dst=198.18.7.1,actions=drop\n\
         priority=2,ip,nw_dst=198.18.7.2,actions=drop\n\
         # a comment\n\
         priority=3,ip,nw_dst=198.18.7.3,actions=drop\n\
         priority=4,ip,nw_dst=198.18.7.4,actions=bogus_action:9\n\
         priority=6,ip,nw_dst=198.18.7.6,actions=drop\n",
    )
    .unwrap();
    let flows_s = flows.display().to_string();

    enum Tool {
        Vsctl,
        Ofctl,
    }
    use Tool::*;
    let cases: Vec<(Tool, Vec<&str>, &str)> = vec![
        (Vsctl, vec!["add-port", "nobr", "p7"], "nobr"),
        (Vsctl, vec!["set", "Port", "p1", "tag=5000"], "5000"),
        (Vsctl, vec!["add-br", "br0"], "br0"),
        (Vsctl, vec!["add-port", "br0", "p1"], "p1"),
        (Vsctl, vec!["del-port", "br0", "nosuch"], "nosuch"),
        (Vsctl, vec!["del-br", "nobr"], "nobr"),
        (
            Vsctl,
            vec![
                "--", "add-port", "br0", "p9", "--", "set", "Port", "p9", "tag=5000",
            ],
            "5000",
        ),
        (Vsctl, vec!["set", "Interface", "p1", "type=bogus"], "bogus"),
        (
            Vsctl,
            vec!["set", "Bridge", "br0", "fail_mode=weird"],
            "weird",
        ),
        (Vsctl, vec!["set", "Port", "bv1", "trunks=4096"], "4096"),
        (Vsctl, vec!["frobnicate", "br0"], "frobnicate"),
        (Vsctl, vec!["set", "Nosuchtable", "x", "a=b"], "Nosuchtable"),
        (Ofctl, vec!["add-flow", "br0", "foo=1,actions=drop"], "foo"),
        (Ofctl, vec!["add-flows", "br0", &flows_s], "bogus_action"),
        (Ofctl, vec!["dump-flows", "nobr"], "nobr"),
        (Ofctl, vec!["del-flows", "nobr"], "nobr"),
        (
            Ofctl,
            vec!["add-flow", "br0", "priority=70000,actions=drop"],
            "70000",
        ),
        (
            Ofctl,
            vec!["add-flow", "br0", "actions=resubmit(,300)"],
            "300",
        ),
        (
            Ofctl,
            vec!["add-flow", "br0", "ip,nw_src=198.18.0.1/33,actions=drop"],
            "33",
        ),
        (
            Ofctl,
            vec!["add-flow", "br0", "in_port=nosuchport,actions=drop"],
            "nosuchport",
        ),
        (
            Ofctl,
            vec!["add-flows", "br0", "/nonexistent/rswitch/flows.txt"],
            "/nonexistent/rswitch/flows.txt",
        ),
        (Ofctl, vec!["mod-port", "br0", "nosuch", "down"], "nosuch"),
        (Ofctl, vec!["frobnicate", "br0"], "frobnicate"),
    ];
    let mut problems = Vec::new();
    for (tool, args, mention) in &cases {
        let (name, (out, err, code)) = match tool {
            Vsctl => ("rswitch", d.rswitch(args)),
            Ofctl => ("rswitch-ofctl", d.ofctl(args)),
        };
        let cmd = format!("{name} {}", args.join(" "));
        say(&format!(
            "bad input: {cmd}\n  -> exit {code}, stderr: {}",
            if err.is_empty() { "(empty)\n" } else { &err }
        ));
        if code == 0 {
            problems.push(format!("{cmd}: exit 0 (stdout {out:?})"));
        }
        if err.trim().is_empty() {
            problems.push(format!("{cmd}: nothing on stderr"));
        } else if !err.contains(mention) {
            problems.push(format!(
                "{cmd}: stderr does not mention {mention:?}: {err:?}"
            ));
        }
        if !err.starts_with(&format!("{name}: ")) {
            problems.push(format!(
                "{cmd}: stderr does not start with \"{name}: \": {err:?}"
            ));
        }
        let now = state(&d);
        if now != before {
            problems.push(format!(
                "{cmd}: changed the state:\nbefore: {before:#?}\nafter: {now:#?}"
            ));
        }
    }
    // The bad line of the flows file is named by its number.
    let (_, err, _) = d.ofctl(&["add-flows", "br0", &flows_s]);
    if !err.contains(":5:") && !err.contains("line 5") {
        problems.push(format!(
            "add-flows with a bad line 5: the message does not name line 5: {err:?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Two "physical hosts" (as in the tunnel labs L5–L7), each with its own
/// rswitchd, give an internal port the same name and move it into a tenant
/// namespace. Each daemon must only ever touch its own device: deleting a
/// bridge on one host (after its tenant namespace is gone) must not delete
/// the other host's device, and adding the port while the other host's
/// daemon is stopped must create a new device, not take over the other's.
#[test]
fn two_switch_hosts_with_same_internal_port_names_stay_apart() {
    require_root!();
    let host_a = Netns::new("hostA");
    let host_b = Netns::new("hostB");
    let tenant_a = Netns::new("tenantA");
    let peer_a = Netns::new("peerA");
    let tenant_b = Netns::new("tenantB");
    // The same name on both hosts, unique to this test run (so that the
    // behaviour under test cannot touch other tests' devices).
    let vm = unique_name("vm");
    let _pa = Veth::new(&peer_a, "eth0", &host_a, "pa");
    peer_a.addr_up("eth0", "198.18.3.20/24");
    let mut da = Daemon::start(&host_a);
    let db = Daemon::start(&host_b);
    let add_vm = |d: &Daemon| {
        d.rswitch_ok(&[
            "add-port",
            "vlanbr",
            &vm,
            "tag=100",
            "--",
            "set",
            "interface",
            &vm,
            "type=internal",
        ])
    };
    da.rswitch_ok(&["add-br", "vlanbr"]);
    add_vm(&da);
    host_a.move_link(&vm, &tenant_a);
    tenant_a.addr_up(&vm, "198.18.3.10/24");
    da.rswitch_ok(&["add-port", "vlanbr", "pa", "tag=100"]);
    assert_ping(&tenant_a, "198.18.3.20");
    let mut problems = Vec::new();

    // 1. Host A's rswitchd is stopped (its moved port stays, persistent,
    // for the restart); meanwhile host B adds a port of the same name,
    // which it then moves into its own tenant.
    assert!(da.terminate().success());
    db.rswitch_ok(&["add-br", "vlanbr"]);
    add_vm(&db);
    match host_b.try_ip(&["link", "set", &vm, "netns", &tenant_b.name]) {
        Ok(_) => tenant_b.addr_up(&vm, "198.18.3.11/24"),
        Err(e) => problems.push(format!(
            "host B: `rswitch add-port vlanbr {vm} tag=100 -- set interface {vm} type=internal` \
             (while host A's rswitchd was stopped) created no device on host B: \
             `ip link set {vm} netns tenantB`: {e}"
        )),
    }
    da.restart().expect("restart host A's rswitchd");
    if !ping_ok(&tenant_a, "198.18.3.20") {
        problems.push(format!(
            "host A's rswitchd restarted but its tenant is cut off (host A error column: {}; \
             host B error column: {})",
            da.iface_get(&vm, "error"),
            db.iface_get(&vm, "error")
        ));
    }

    // 2. Host B's lab is torn down: tenant namespace first, then the bridge.
    drop(tenant_b);
    db.rswitch_ok(&["del-br", "vlanbr"]);
    if tenant_a.try_ip(&["link", "show", "dev", &vm]).is_err() {
        problems.push(format!(
            "`rswitch del-br vlanbr` on host B deleted host A's {vm} (in tenantA, a port of host A's rswitchd)"
        ));
    } else if !ping_ok(&tenant_a, "198.18.3.20") {
        problems.push("after host B's del-br, host A's tenant lost connectivity".to_string());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `rswitch-ofctl CMD SOCKET` works like `ovs-ofctl CMD unix:SOCKET`: with
/// one bridge the socket stands for it; with two the user must name one.
#[test]
fn ofctl_target_may_be_the_daemon_socket() {
    require_root!();
    let sw = Netns::new("sw");
    let d = Daemon::start(&sw);
    d.rswitch_ok(&["add-br", "brs"]);
    d.ofctl_ok(&["add-flow", "brs", "priority=7,actions=drop"]);
    let sock = d.socket();
    let sock = sock.to_str().unwrap();
    let ofctl = env!("CARGO_BIN_EXE_rswitch-ofctl");
    let (out, err, code) = run(
        ofctl,
        &["dump-flows", "--no-stats", sock],
        Duration::from_secs(10),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("priority=7 actions=drop"), "{out}");
    let unix = format!("unix:{sock}");
    let (out, _, code) = run(
        ofctl,
        &["dump-flows", "--no-stats", &unix],
        Duration::from_secs(10),
    );
    assert_eq!(code, 0);
    assert!(out.contains("priority=7 actions=drop"), "{out}");
    d.rswitch_ok(&["add-br", "brt"]);
    let (_, err, code) = run(ofctl, &["dump-flows", sock], Duration::from_secs(10));
    assert_ne!(code, 0);
    assert!(err.contains("name one instead of the socket"), "{err}");
}

/// A full disk when saving: the change still applies (it is live), the
/// command warns that it was not saved, and the previous configuration file
/// stays whole and valid. The disk is a 64 KiB tmpfs mounted in a private
/// mount namespace of the daemon only, so nothing on the machine fills up.
#[test]
fn fault_full_disk_keeps_the_old_config() {
    require_root!();
    if !have("unshare") || !have("nsenter") {
        say("SKIPPED: needs unshare and nsenter (util-linux)");
        return;
    }
    let sw = Netns::new("sw");
    let dir = TempDir::new("fulldisk");
    let small = dir.file("small");
    std::fs::create_dir_all(&small).unwrap();
    let db = small.join("conf.db");
    let script = format!(
        "mount -t tmpfs -o size=64k rswtest {small} && exec ip netns exec {ns} {bin} --rundir {run} --db {db} --log-file {run}/rswitchd.log",
        small = small.display(),
        ns = sw.name,
        bin = env!("CARGO_BIN_EXE_rswitchd"),
        run = dir.path.display(),
        db = db.display(),
    );
    let child = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn rswitchd");
    /// Stops the daemon (by the pid we started) however the test ends.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: signalling our own child process by its pid.
            unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
            let _ = self.0.wait();
        }
    }
    let guard = Kill(child);
    let sock = dir.file("rswitchd.sock");
    let up = wait_until(Duration::from_secs(10), || {
        UnixStream::connect(&sock).is_ok()
    });
    assert!(up, "rswitchd did not start");
    let pid = guard.0.id().to_string();
    let ctl = |tool: &str, args: &[&str]| {
        let bin = if tool == "ofctl" {
            env!("CARGO_BIN_EXE_rswitch-ofctl")
        } else {
            env!("CARGO_BIN_EXE_rswitch")
        };
        let mut a = vec!["--rundir", dir.path.to_str().unwrap()];
        a.extend_from_slice(args);
        run(bin, &a, Duration::from_secs(30))
    };
    let (_, err, code) = ctl("vsctl", &["add-br", "brx"]);
    assert_eq!(code, 0, "{err}");
    let read_db = || {
        let (out, _, _) = run(
            "nsenter",
            &["-t", &pid, "-m", "cat", db.to_str().unwrap()],
            Duration::from_secs(10),
        );
        out
    };
    let before = read_db();
    assert!(
        before.contains("\"brx\""),
        "config saved while there is room: {before}"
    );
    // Far more flows than 64 KiB can hold.
    let flows: String = (0..3000)
        .map(|i| format!("priority={},in_port=1,actions=output:2\n", i + 1))
        .collect();
    let file = dir.file("many.flows");
    std::fs::write(&file, flows).unwrap();
    let (_, err, code) = ctl("ofctl", &["add-flows", "brx", file.to_str().unwrap()]);
    assert_eq!(
        code, 0,
        "the flows apply even if they cannot be saved: {err}"
    );
    assert!(err.contains("not saved"), "the user is told: {err}");
    let after = read_db();
    assert_eq!(after, before, "the old configuration file is left whole");
    assert!(
        serde_json::from_str::<serde_json::Value>(&after).is_ok(),
        "and still valid JSON"
    );
    let (out, _, _) = ctl("ofctl", &["dump-aggregate", "brx"]);
    // 3000 plus the standalone bridge's NORMAL flow.
    assert!(out.contains("flow_count=3001"), "{out}");
    drop(guard);
}

/// The control socket is owner-only (0600) by default; `--socket-group`
/// widens it to a group (0660).
#[test]
fn socket_permissions_and_socket_group() {
    require_root!();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let sw = Netns::new("sw");
    let d = Daemon::start(&sw);
    let mode = std::fs::metadata(d.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "default socket mode");
    drop(d);
    let dir = TempDir::new("sockgrp");
    let (_, err, code) = run(
        "ip",
        &[
            "netns",
            "exec",
            &sw.name,
            env!("CARGO_BIN_EXE_rswitchd"),
            "--rundir",
            dir.path.to_str().unwrap(),
            "--detach",
            "--socket-group",
            "daemon",
        ],
        Duration::from_secs(15),
    );
    assert_eq!(code, 0, "{err}");
    let meta = std::fs::metadata(dir.file("rswitchd.sock")).unwrap();
    let pid: i32 = std::fs::read_to_string(dir.file("rswitchd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: stopping the daemon this test started, by its pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let stopped = wait_until(Duration::from_secs(10), || {
        !dir.file("rswitchd.pid").exists()
    });
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o660,
        "group may use the socket"
    );
    let daemon_gid = run("getent", &["group", "daemon"], Duration::from_secs(5)).0;
    let gid: u32 = daemon_gid
        .split(':')
        .nth(2)
        .unwrap_or("1")
        .trim()
        .parse()
        .unwrap_or(1);
    assert_eq!(meta.gid(), gid, "socket belongs to the group");
    assert!(stopped, "daemon stopped on SIGTERM");
}
