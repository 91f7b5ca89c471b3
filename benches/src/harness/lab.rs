//! The namespace lab: hosts a and b joined through a device under test in a
//! third namespace. Everything created here is owned by a RAII guard and torn
//! down on drop (processes stopped by pid, namespaces deleted, temp dir
//! removed); SIGINT/SIGTERM only set a flag so the guards run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const ADDR_A: &str = "198.18.0.1";
pub const ADDR_B: &str = "198.18.0.2";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT/SIGTERM set the stop flag; running commands are then stopped by
/// pid and the guards clean up.
pub fn install_signal_handlers() {
    let h = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGINT, h);
        libc::signal(libc::SIGTERM, h);
    }
}

pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// SIGTERM, then SIGKILL after `grace`, to one pid we started.
fn stop_pid(pid: i32, child: Option<&mut Child>, grace: Duration) {
    if pid <= 0 {
        return;
    }
    // SAFETY: plain kill(2) on a pid this program started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let t = Instant::now();
    let mut child = child;
    loop {
        let gone = match child.as_deref_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => !pid_alive(pid),
        };
        if gone {
            return;
        }
        if t.elapsed() > grace {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            if let Some(c) = child {
                let _ = c.wait();
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Result of a finished command.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `argv` (with extra env), output to files in `dir`, stopped by pid on
/// timeout or on Ctrl-C.
pub fn run_env(
    dir: &Path,
    argv: &[&str],
    env: &[(&str, String)],
    timeout: Duration,
) -> Result<Output, String> {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let out_p = dir.join(format!("cmd{n}.out"));
    let err_p = dir.join(format!("cmd{n}.err"));
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(File::create(&out_p).map_err(|e| e.to_string())?)
        .stderr(File::create(&err_p).map_err(|e| e.to_string())?);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", argv[0]))?;
    let pid = child.id() as i32;
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if stopped() || t.elapsed() > timeout {
            stop_pid(pid, Some(&mut child), Duration::from_secs(2));
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = std::fs::read_to_string(&out_p).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_p).unwrap_or_default();
    let _ = std::fs::remove_file(&out_p);
    let _ = std::fs::remove_file(&err_p);
    match status {
        None if stopped() => Err("interrupted".into()),
        None => Err(format!("{}: timed out after {timeout:?}", argv.join(" "))),
        Some(st) => Ok(Output {
            ok: st.success(),
            stdout,
            stderr,
        }),
    }
}

pub fn run(dir: &Path, argv: &[&str], timeout: Duration) -> Result<Output, String> {
    run_env(dir, argv, &[], timeout)
}

/// Like `run`, but a non-zero exit is an error carrying stderr.
pub fn check(dir: &Path, argv: &[&str]) -> Result<String, String> {
    check_env(dir, argv, &[])
}

pub fn check_env(dir: &Path, argv: &[&str], env: &[(&str, String)]) -> Result<String, String> {
    let o = run_env(dir, argv, env, Duration::from_secs(30))?;
    if o.ok {
        Ok(o.stdout)
    } else {
        Err(format!("`{}` failed: {}", argv.join(" "), o.stderr.trim()))
    }
}

/// Which device sits between the hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    RswitchSecure,
    RswitchNormal,
    Ovs,
    Bridge,
    Veth,
}

impl Device {
    pub const ALL: [Device; 5] = [
        Device::RswitchSecure,
        Device::RswitchNormal,
        Device::Ovs,
        Device::Bridge,
        Device::Veth,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Device::RswitchSecure => "rswitch-secure",
            Device::RswitchNormal => "rswitch-normal",
            Device::Ovs => "ovs",
            Device::Bridge => "bridge",
            Device::Veth => "veth",
        }
    }
    pub fn from_name(s: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// Paths of the programs the lab runs.
#[derive(Clone, Debug)]
pub struct Tools {
    pub bin_dir: PathBuf,
}

impl Tools {
    pub fn rswitch_bin(&self, name: &str) -> String {
        self.bin_dir.join(name).display().to_string()
    }
}

/// Finds an executable on PATH or in the usual sbin directories.
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn ovs_installed() -> bool {
    [
        "ovsdb-server",
        "ovsdb-tool",
        "ovs-vswitchd",
        "ovs-vsctl",
        "ovs-ofctl",
    ]
    .iter()
    .all(|b| find_bin(b).is_some())
        && Path::new("/usr/share/openvswitch/vswitch.ovsschema").exists()
}

struct Proc {
    name: String,
    pid: i32,
    child: Option<Child>,
}

/// One lab: namespaces, veths, the device under test and its processes.
pub struct Lab {
    pub device: Device,
    pub ns_a: String,
    pub ns_b: String,
    pub ns_dut: Option<String>,
    pub dir: PathBuf,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    ovs_env: Vec<(&'static str, String)>,
}

fn unique_tag() -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

impl Lab {
    /// Builds the lab for `device`; on error everything already made is
    /// torn down by the guard's drop.
    pub fn build(device: Device, tools: &Tools) -> Result<Lab, String> {
        let tag = unique_tag();
        let dir = std::env::temp_dir().join(format!("rswitch-bench-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut lab = Lab {
            device,
            ns_a: format!("rsb-a-{tag}"),
            ns_b: format!("rsb-b-{tag}"),
            ns_dut: None,
            dir,
            namespaces: Vec::new(),
            procs: Vec::new(),
            ovs_env: Vec::new(),
        };
        let (a, b) = (lab.ns_a.clone(), lab.ns_b.clone());
        lab.add_ns(&a)?;
        lab.add_ns(&b)?;
        if device == Device::Veth {
            lab.ip(&[
                "-n", &a, "link", "add", "a-eth", "type", "veth", "peer", "name", "b-eth", "netns",
                &b,
            ])?;
        } else {
            let dut = format!("rsb-dut-{tag}");
            lab.add_ns(&dut)?;
            lab.ns_dut = Some(dut.clone());
            for (h, host_if, dut_if) in [(&a, "a-eth", "dut-a"), (&b, "b-eth", "dut-b")] {
                lab.ip(&[
                    "-n", &dut, "link", "add", dut_if, "type", "veth", "peer", "name", host_if,
                    "netns", h,
                ])?;
                lab.ip(&["-n", &dut, "link", "set", dut_if, "up"])?;
            }
        }
        for (ns, ifn, addr) in [(&a, "a-eth", ADDR_A), (&b, "b-eth", ADDR_B)] {
            lab.ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", ifn])?;
            lab.ip(&["-n", ns, "link", "set", ifn, "up"])?;
        }
        match device {
            Device::Veth => {}
            Device::Bridge => lab.setup_bridge()?,
            Device::RswitchSecure | Device::RswitchNormal => lab.setup_rswitch(tools)?,
            Device::Ovs => lab.setup_ovs()?,
        }
        lab.wait_reachable(Duration::from_secs(10))?;
        Ok(lab)
    }

    fn add_ns(&mut self, ns: &str) -> Result<(), String> {
        check(&self.dir, &["ip", "netns", "add", ns])?;
        self.namespaces.push(ns.to_string());
        check(&self.dir, &["ip", "-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip"];
        v.extend_from_slice(args);
        check(&self.dir, &v)
    }

    fn dut(&self) -> &str {
        self.ns_dut.as_deref().unwrap_or_default()
    }

    /// Runs a command inside the switch namespace.
    fn in_dut(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip", "netns", "exec", self.dut()];
        v.extend_from_slice(args);
        check_env(&self.dir, &v, &self.ovs_env)
    }

    /// Starts a long-running process we own (stopped by pid on drop).
    fn spawn(&mut self, name: &str, argv: &[&str]) -> Result<i32, String> {
        let log =
            File::create(self.dir.join(format!("{name}.stderr"))).map_err(|e| e.to_string())?;
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", argv[0]))?;
        let pid = child.id() as i32;
        self.procs.push(Proc {
            name: name.into(),
            pid,
            child: Some(child),
        });
        Ok(pid)
    }

    fn setup_bridge(&mut self) -> Result<(), String> {
        let dut = self.dut().to_string();
        self.ip(&["-n", &dut, "link", "add", "br0", "type", "bridge"])?;
        for p in ["dut-a", "dut-b"] {
            self.ip(&["-n", &dut, "link", "set", p, "master", "br0"])?;
        }
        self.ip(&["-n", &dut, "link", "set", "br0", "up"])?;
        Ok(())
    }

    fn setup_rswitch(&mut self, tools: &Tools) -> Result<(), String> {
        let rundir = self.dir.join("rswitch");
        std::fs::create_dir_all(&rundir).map_err(|e| e.to_string())?;
        let rundir = rundir.display().to_string();
        let rswitchd = tools.rswitch_bin("rswitchd");
        let rswitch = tools.rswitch_bin("rswitch");
        let ofctl = tools.rswitch_bin("rswitch-ofctl");
        let log = format!("--log-file={rundir}/rswitchd.log");
        let dut = self.dut().to_string();
        self.spawn(
            "rswitchd",
            &[
                "ip", "netns", "exec", &dut, &rswitchd, "--rundir", &rundir, &log,
            ],
        )?;
        let t = Instant::now();
        while run(
            &self.dir,
            &[&rswitch, "--rundir", &rundir, "show"],
            Duration::from_secs(5),
        )
        .map(|o| !o.ok)
        .unwrap_or(true)
        {
            if t.elapsed() > Duration::from_secs(15) || stopped() {
                return Err("rswitchd did not answer on its socket".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mode = if self.device == Device::RswitchSecure {
            "secure"
        } else {
            "standalone"
        };
        let vs = |args: &[&str]| {
            let mut v = vec![rswitch.as_str(), "--rundir", rundir.as_str()];
            v.extend_from_slice(args);
            v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        };
        for args in [
            vs(&["add-br", "br0", "--", "set-fail-mode", "br0", mode]),
            vs(&["add-port", "br0", "dut-a"]),
            vs(&["add-port", "br0", "dut-b"]),
        ] {
            let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            self.in_dut(&a)?;
        }
        if self.device == Device::RswitchSecure {
            for flow in ["in_port=1,actions=output:2", "in_port=2,actions=output:1"] {
                self.in_dut(&[&ofctl, "--rundir", &rundir, "add-flow", "br0", flow])?;
            }
        }
        Ok(())
    }

    fn setup_ovs(&mut self) -> Result<(), String> {
        let d = self.dir.join("ovs");
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        let ds = d.display().to_string();
        for k in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
            self.ovs_env.push((k, ds.clone()));
        }
        let db = format!("{ds}/conf.db");
        let sock = format!("unix:{ds}/db.sock");
        check(
            &self.dir,
            &[
                "ovsdb-tool",
                "create",
                &db,
                "/usr/share/openvswitch/vswitch.ovsschema",
            ],
        )?;
        self.in_dut(&[
            "ovsdb-server",
            &db,
            &format!("--remote=p{sock}"),
            &format!("--pidfile={ds}/ovsdb-server.pid"),
            &format!("--log-file={ds}/ovsdb-server.log"),
            "--no-chdir",
            "--detach",
        ])?;
        self.adopt_pidfile("ovsdb-server", &d.join("ovsdb-server.pid"))?;
        let dbsock = format!("--db={sock}");
        self.in_dut(&["ovs-vsctl", &dbsock, "--no-wait", "--timeout=20", "init"])?;
        self.in_dut(&[
            "ovs-vswitchd",
            &sock,
            "--disable-system",
            "--disable-system-route",
            &format!("--pidfile={ds}/ovs-vswitchd.pid"),
            &format!("--log-file={ds}/ovs-vswitchd.log"),
            "-vconsole:off",
            "--no-chdir",
            "--detach",
        ])?;
        self.adopt_pidfile("ovs-vswitchd", &d.join("ovs-vswitchd.pid"))?;
        self.in_dut(&[
            "ovs-vsctl",
            &dbsock,
            "--timeout=20",
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "fail_mode=secure",
            "--",
            "add-port",
            "br0",
            "dut-a",
            "--",
            "set",
            "interface",
            "dut-a",
            "ofport_request=1",
            "--",
            "add-port",
            "br0",
            "dut-b",
            "--",
            "set",
            "interface",
            "dut-b",
            "ofport_request=2",
        ])?;
        for flow in ["in_port=1,actions=output:2", "in_port=2,actions=output:1"] {
            self.in_dut(&["ovs-ofctl", "add-flow", "br0", flow])?;
        }
        Ok(())
    }

    fn adopt_pidfile(&mut self, name: &str, path: &Path) -> Result<(), String> {
        let t = Instant::now();
        loop {
            if let Some(pid) = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                self.procs.push(Proc {
                    name: name.into(),
                    pid,
                    child: None,
                });
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(10) {
                return Err(format!("{name}: no pidfile {}", path.display()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_reachable(&self, limit: Duration) -> Result<(), String> {
        let t = Instant::now();
        loop {
            let o = run(
                &self.dir,
                &[
                    "ip", "netns", "exec", &self.ns_a, "ping", "-c", "1", "-W", "1", ADDR_B,
                ],
                Duration::from_secs(3),
            )?;
            if o.ok {
                return Ok(());
            }
            if t.elapsed() > limit || stopped() {
                return Err(format!("{}: b not reachable from a", self.device.name()));
            }
        }
    }

    /// `ethtool -K <if> tx off tso off gso off` on both host ends.
    pub fn offloads_off(&self) -> Result<(), String> {
        for (ns, ifn) in [(&self.ns_a, "a-eth"), (&self.ns_b, "b-eth")] {
            check(
                &self.dir,
                &[
                    "ip", "netns", "exec", ns, "ethtool", "-K", ifn, "tx", "off", "tso", "off",
                    "gso", "off",
                ],
            )?;
        }
        Ok(())
    }

    /// One iperf3 TCP run (1 stream, `seconds` long) a -> b, in bit/s. A
    /// fresh one-off server per run, so a stuck test cannot block the next.
    pub fn iperf3(&mut self, seconds: u32, port: u16) -> Result<f64, String> {
        let ns_b = self.ns_b.clone();
        let port_s = port.to_string();
        let pid = self.spawn(
            "iperf3-server",
            &[
                "ip", "netns", "exec", &ns_b, "iperf3", "-s", "-1", "-B", ADDR_B, "-p", &port_s,
            ],
        )?;
        std::thread::sleep(Duration::from_millis(300));
        let secs = seconds.to_string();
        let limit = (seconds + 10).to_string();
        let r = run(
            &self.dir,
            &[
                "timeout",
                "-k",
                "2",
                &limit,
                "ip",
                "netns",
                "exec",
                &self.ns_a,
                "iperf3",
                "-c",
                ADDR_B,
                "-p",
                &port_s,
                "-t",
                &secs,
                "-J",
                "--connect-timeout",
                "3000",
            ],
            Duration::from_secs(u64::from(seconds) + 15),
        );
        self.stop_proc(pid);
        let o = r?;
        super::parse::iperf3_bps(&o.stdout).map_err(|e| {
            if o.stdout.trim().is_empty() {
                format!(
                    "iperf3 exited without output (timeout?) {}",
                    o.stderr.trim()
                )
            } else {
                e
            }
        })
    }

    /// `ping -c N -i 0.02` a -> b; the round-trip times in ms.
    pub fn ping(&self, count: u32) -> Result<Vec<f64>, String> {
        let c = count.to_string();
        let o = run(
            &self.dir,
            &[
                "ip", "netns", "exec", &self.ns_a, "ping", "-c", &c, "-i", "0.02", "-W", "1",
                ADDR_B,
            ],
            Duration::from_secs(u64::from(count) / 10 + 15),
        )?;
        let rtts = super::parse::ping_rtts(&o.stdout);
        if rtts.is_empty() {
            return Err("ping: no replies".into());
        }
        Ok(rtts)
    }

    fn stop_proc(&mut self, pid: i32) {
        if let Some(i) = self.procs.iter().position(|p| p.pid == pid) {
            let mut p = self.procs.remove(i);
            stop_pid(p.pid, p.child.as_mut(), Duration::from_secs(3));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            let _ = &p.name;
            stop_pid(p.pid, p.child.as_mut(), Duration::from_secs(5));
        }
        for ns in self.namespaces.drain(..).rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
