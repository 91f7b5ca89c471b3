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
    /// rswitch-secure run from `--baseline-bin-dir`, to compare two builds.
    RswitchBase,
    Ovs,
    Bridge,
    Veth,
    RswitchVxlan,
    OvsVxlan,
    KernelVxlan,
}

impl Device {
    pub const ALL: [Device; 9] = [
        Device::RswitchSecure,
        Device::RswitchNormal,
        Device::RswitchBase,
        Device::Ovs,
        Device::Bridge,
        Device::Veth,
        Device::RswitchVxlan,
        Device::OvsVxlan,
        Device::KernelVxlan,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Device::RswitchSecure => "rswitch-secure",
            Device::RswitchNormal => "rswitch-normal",
            Device::RswitchBase => "rswitch-base",
            Device::Ovs => "ovs",
            Device::Bridge => "bridge",
            Device::Veth => "veth",
            Device::RswitchVxlan => "rswitch-vxlan",
            Device::OvsVxlan => "ovs-vxlan",
            Device::KernelVxlan => "kernel-vxlan",
        }
    }
    pub fn from_name(s: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.name() == s)
    }
    /// Two switch namespaces joined by an underlay veth, VXLAN between them.
    pub fn is_vxlan(self) -> bool {
        matches!(
            self,
            Device::RswitchVxlan | Device::OvsVxlan | Device::KernelVxlan
        )
    }
    /// Runs rswitchd (needs the rswitch binaries).
    pub fn is_rswitch(self) -> bool {
        matches!(
            self,
            Device::RswitchSecure
                | Device::RswitchNormal
                | Device::RswitchBase
                | Device::RswitchVxlan
        )
    }
    pub fn is_ovs(self) -> bool {
        matches!(self, Device::Ovs | Device::OvsVxlan)
    }
    /// A userspace switch process whose CPU time can be read.
    pub fn has_process(self) -> bool {
        self.is_rswitch() || self.is_ovs()
    }
    /// Secure mode with in_port flows and an OpenFlow table to fill with
    /// 100,000 extra flows.
    pub fn takes_extra_flows(self) -> bool {
        matches!(
            self,
            Device::RswitchSecure | Device::RswitchBase | Device::Ovs
        )
    }
}

/// Paths of the programs the lab runs.
#[derive(Clone, Debug)]
pub struct Tools {
    pub bin_dir: PathBuf,
    /// `--baseline-bin-dir`: the build `rswitch-base` runs.
    pub base_bin_dir: Option<PathBuf>,
}

impl Tools {
    fn dir_for(&self, device: Device) -> &Path {
        match (device, &self.base_bin_dir) {
            (Device::RswitchBase, Some(d)) => d,
            _ => &self.bin_dir,
        }
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
    /// Switch namespaces: none (veth), one, or two (VXLAN: sw1, sw2).
    pub sw: Vec<String>,
    pub dir: PathBuf,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    /// Environment (OVS_RUNDIR...) for commands in a switch namespace that
    /// runs a private Open vSwitch.
    ovs_env: Vec<(String, Vec<(&'static str, String)>)>,
    /// The switch processes (rswitchd, ovs-vswitchd) whose CPU time counts.
    switch_pids: Vec<i32>,
    /// rswitch-ofctl and the run directory, for `add-flows`.
    rswitch_ofctl: Option<(String, String)>,
}

fn unique_tag() -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// Underlay addresses and MACs of the two switch namespaces (VXLAN).
const UNDERLAY: [(&str, &str); 2] = [
    ("198.19.0.1", "02:00:c6:13:00:01"),
    ("198.19.0.2", "02:00:c6:13:00:02"),
];
/// Tenant MTU in the VXLAN variants: 1500 minus 50 bytes of encapsulation.
const VXLAN_HOST_MTU: &str = "1450";

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
            sw: Vec::new(),
            dir,
            namespaces: Vec::new(),
            procs: Vec::new(),
            ovs_env: Vec::new(),
            switch_pids: Vec::new(),
            rswitch_ofctl: None,
        };
        let (a, b) = (lab.ns_a.clone(), lab.ns_b.clone());
        lab.add_ns(&a)?;
        lab.add_ns(&b)?;
        if device == Device::Veth {
            lab.ip(&[
                "-n", &a, "link", "add", "a-eth", "type", "veth", "peer", "name", "b-eth", "netns",
                &b,
            ])?;
        } else if device.is_vxlan() {
            for i in 1..=2 {
                let sw = format!("rsb-sw{i}-{tag}");
                lab.add_ns(&sw)?;
                lab.sw.push(sw);
            }
            let (sw1, sw2) = (lab.sw[0].clone(), lab.sw[1].clone());
            for (sw, h, host_if, dut_if) in
                [(&sw1, &a, "a-eth", "dut-a"), (&sw2, &b, "b-eth", "dut-b")]
            {
                lab.ip(&[
                    "-n", sw, "link", "add", dut_if, "type", "veth", "peer", "name", host_if,
                    "netns", h,
                ])?;
                lab.ip(&["-n", sw, "link", "set", dut_if, "up"])?;
            }
            lab.ip(&[
                "-n", &sw1, "link", "add", "ul", "type", "veth", "peer", "name", "ul", "netns",
                &sw2,
            ])?;
            for (i, sw) in [&sw1, &sw2].into_iter().enumerate() {
                lab.ip(&["-n", sw, "link", "set", "ul", "address", UNDERLAY[i].1])?;
                lab.ip(&["-n", sw, "link", "set", "ul", "up"])?;
            }
        } else {
            let dut = format!("rsb-dut-{tag}");
            lab.add_ns(&dut)?;
            lab.sw.push(dut.clone());
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
            if device.is_vxlan() {
                lab.ip(&["-n", ns, "link", "set", ifn, "mtu", VXLAN_HOST_MTU])?;
            }
            lab.ip(&["-n", ns, "link", "set", ifn, "up"])?;
        }
        match device {
            Device::Veth => {}
            Device::Bridge => lab.setup_bridge()?,
            Device::RswitchSecure | Device::RswitchNormal | Device::RswitchBase => {
                let dut = lab.sw[0].clone();
                let secure = device != Device::RswitchNormal;
                lab.setup_rswitch(tools.dir_for(device), &dut, "rswitch", secure, &[])?;
            }
            Device::Ovs => {
                let dut = lab.sw[0].clone();
                lab.setup_ovs(&dut, "ovs")?;
                lab.ovs_br0(&dut, &["dut-a", "dut-b"], &[])?;
            }
            Device::RswitchVxlan => {
                for i in 0..2 {
                    let sw = lab.sw[i].clone();
                    lab.underlay_ip(&sw, "ul", i)?;
                    let rd = format!("rswitch{}", i + 1);
                    let peer = format!("options:remote_ip={}", UNDERLAY[1 - i].0);
                    let vx = [
                        "vx0",
                        "--",
                        "set",
                        "interface",
                        "vx0",
                        "type=vxlan",
                        &peer,
                        "options:key=42",
                    ];
                    lab.setup_rswitch(&tools.bin_dir, &sw, &rd, true, &vx)?;
                }
                // Two processes: add-flows is not offered on this device.
                lab.rswitch_ofctl = None;
            }
            Device::KernelVxlan => {
                for i in 0..2 {
                    let sw = lab.sw[i].clone();
                    lab.underlay_ip(&sw, "ul", i)?;
                    lab.ip(&[
                        "-n",
                        &sw,
                        "link",
                        "add",
                        "vx0",
                        "type",
                        "vxlan",
                        "id",
                        "42",
                        "remote",
                        UNDERLAY[1 - i].0,
                        "local",
                        UNDERLAY[i].0,
                        "dstport",
                        "4789",
                        "dev",
                        "ul",
                    ])?;
                    let host_port = if i == 0 { "dut-a" } else { "dut-b" };
                    lab.ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
                    for p in [host_port, "vx0"] {
                        lab.ip(&["-n", &sw, "link", "set", p, "master", "br0"])?;
                        lab.ip(&["-n", &sw, "link", "set", p, "up"])?;
                    }
                    lab.ip(&["-n", &sw, "link", "set", "br0", "up"])?;
                }
            }
            Device::OvsVxlan => {
                for i in 0..2 {
                    let sw = lab.sw[i].clone();
                    lab.setup_ovs(&sw, &format!("ovs{}", i + 1))?;
                    lab.ovs_underlay(&sw, i)?;
                    let host_port = if i == 0 { "dut-a" } else { "dut-b" };
                    let peer = format!("options:remote_ip={}", UNDERLAY[1 - i].0);
                    lab.ovs_br0(
                        &sw,
                        &[host_port],
                        &[
                            "--",
                            "add-port",
                            "br0",
                            "vx0",
                            "--",
                            "set",
                            "interface",
                            "vx0",
                            "type=vxlan",
                            &peer,
                            "options:key=42",
                            "ofport_request=2",
                        ],
                    )?;
                }
            }
        }
        let limit = if device.is_vxlan() { 30 } else { 10 };
        lab.wait_reachable(Duration::from_secs(limit))?;
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

    /// The underlay address of switch `i` on `ifn`.
    fn underlay_ip(&self, ns: &str, ifn: &str, i: usize) -> Result<(), String> {
        let a = format!("{}/24", UNDERLAY[i].0);
        self.ip(&["-n", ns, "addr", "add", &a, "dev", ifn])?;
        self.ip(&["-n", ns, "link", "set", ifn, "up"])?;
        Ok(())
    }

    /// Runs a command inside namespace `ns` (with its OVS environment, if
    /// any), with a time limit.
    fn in_ns_t(&self, ns: &str, args: &[&str], timeout: Duration) -> Result<String, String> {
        let mut v = vec!["ip", "netns", "exec", ns];
        v.extend_from_slice(args);
        let env = self
            .ovs_env
            .iter()
            .find(|(n, _)| n == ns)
            .map(|(_, e)| e.as_slice())
            .unwrap_or(&[]);
        let o = run_env(&self.dir, &v, env, timeout)?;
        if o.ok {
            Ok(o.stdout)
        } else {
            Err(format!("`{}` failed: {}", args.join(" "), o.stderr.trim()))
        }
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> Result<String, String> {
        self.in_ns_t(ns, args, Duration::from_secs(30))
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
        let dut = self.sw[0].clone();
        self.ip(&["-n", &dut, "link", "add", "br0", "type", "bridge"])?;
        for p in ["dut-a", "dut-b"] {
            self.ip(&["-n", &dut, "link", "set", p, "master", "br0"])?;
        }
        self.ip(&["-n", &dut, "link", "set", "br0", "up"])?;
        Ok(())
    }

    /// rswitchd in `ns` (run dir `DIR/<rundir>`), br0 with the namespace's
    /// host-facing veth as port 1 and, when `second` is empty, dut-b as
    /// port 2, else `add-port br0 <second...>` (a tunnel port). Secure mode
    /// adds the flows in_port=1→2 and 2→1.
    fn setup_rswitch(
        &mut self,
        bin_dir: &Path,
        ns: &str,
        rundir: &str,
        secure: bool,
        second: &[&str],
    ) -> Result<(), String> {
        let rundir = self.dir.join(rundir);
        std::fs::create_dir_all(&rundir).map_err(|e| e.to_string())?;
        let rundir = rundir.display().to_string();
        let bin = |n: &str| bin_dir.join(n).display().to_string();
        let (rswitchd, rswitch, ofctl) = (bin("rswitchd"), bin("rswitch"), bin("rswitch-ofctl"));
        let log = format!("--log-file={rundir}/rswitchd.log");
        // `ip netns exec` execs the program, so this pid is rswitchd's.
        let pid = self.spawn(
            "rswitchd",
            &[
                "ip", "netns", "exec", ns, &rswitchd, "--rundir", &rundir, &log,
            ],
        )?;
        self.switch_pids.push(pid);
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
        let mode = if secure { "secure" } else { "standalone" };
        let first = if self.sw.len() == 2 && self.sw[1] == ns {
            "dut-b"
        } else {
            "dut-a"
        };
        let mut port2 = vec!["add-port", "br0"];
        if second.is_empty() {
            port2.push("dut-b");
        } else {
            port2.extend_from_slice(second);
        }
        let vs = |args: &[&str]| {
            let mut v = vec![rswitch.as_str(), "--rundir", rundir.as_str()];
            v.extend_from_slice(args);
            v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        };
        for args in [
            vs(&["add-br", "br0", "--", "set-fail-mode", "br0", mode]),
            vs(&["add-port", "br0", first]),
            vs(&port2),
        ] {
            let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            self.in_ns(ns, &a)?;
        }
        if secure {
            for flow in ["in_port=1,actions=output:2", "in_port=2,actions=output:1"] {
                self.in_ns(ns, &[&ofctl, "--rundir", &rundir, "add-flow", "br0", flow])?;
            }
        }
        self.rswitch_ofctl = Some((ofctl, rundir));
        Ok(())
    }

    /// A private Open vSwitch (ovsdb-server + ovs-vswitchd, files in
    /// `DIR/<sub>`) running in namespace `ns`.
    fn setup_ovs(&mut self, ns: &str, sub: &str) -> Result<(), String> {
        let d = self.dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        let ds = d.display().to_string();
        let env: Vec<(&'static str, String)> =
            ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"]
                .into_iter()
                .map(|k| (k, ds.clone()))
                .collect();
        self.ovs_env.push((ns.to_string(), env));
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
        self.in_ns(
            ns,
            &[
                "ovsdb-server",
                &db,
                &format!("--remote=p{sock}"),
                &format!("--pidfile={ds}/ovsdb-server.pid"),
                &format!("--log-file={ds}/ovsdb-server.log"),
                "--no-chdir",
                "--detach",
            ],
        )?;
        self.adopt_pidfile("ovsdb-server", &d.join("ovsdb-server.pid"))?;
        let dbsock = format!("--db={sock}");
        self.in_ns(
            ns,
            &["ovs-vsctl", &dbsock, "--no-wait", "--timeout=20", "init"],
        )?;
        self.in_ns(
            ns,
            &[
                "ovs-vswitchd",
                &sock,
                "--disable-system",
                "--disable-system-route",
                &format!("--pidfile={ds}/ovs-vswitchd.pid"),
                &format!("--log-file={ds}/ovs-vswitchd.log"),
                "-vconsole:off",
                "--no-chdir",
                "--detach",
            ],
        )?;
        let pid = self.adopt_pidfile("ovs-vswitchd", &d.join("ovs-vswitchd.pid"))?;
        self.switch_pids.push(pid);
        Ok(())
    }

    /// OVS's userspace tunnelling needs the underlay address on an OVS
    /// bridge: br-phy (netdev) holds the underlay veth and carries the
    /// address on its LOCAL port; a route and the peer's MAC are given to
    /// OVS's own tables (recipe from cli/tests/priv_interop.rs).
    fn ovs_underlay(&self, ns: &str, i: usize) -> Result<(), String> {
        let hw = format!("other_config:hwaddr={}", UNDERLAY[i].1);
        self.in_ns(
            ns,
            &[
                "ovs-vsctl",
                "--timeout=20",
                "add-br",
                "br-phy",
                "--",
                "set",
                "bridge",
                "br-phy",
                "datapath_type=netdev",
                &hw,
                "--",
                "add-port",
                "br-phy",
                "ul",
            ],
        )?;
        // Checksums in software on the underlay (as the recipe does).
        let _ = self.in_ns(ns, &["ethtool", "-K", "ul", "tx", "off", "rx", "off"]);
        self.underlay_ip(ns, "br-phy", i)?;
        self.in_ns(
            ns,
            &["ovs-appctl", "ovs/route/add", "198.19.0.0/24", "br-phy"],
        )?;
        self.in_ns(
            ns,
            &[
                "ovs-appctl",
                "tnl/arp/set",
                "br-phy",
                UNDERLAY[1 - i].0,
                UNDERLAY[1 - i].1,
            ],
        )?;
        Ok(())
    }

    /// OVS br0 (netdev, secure) with `ports` as ofports 1, 2... plus the
    /// `extra` ovs-vsctl arguments, and the flows in_port=1→2, 2→1.
    fn ovs_br0(&self, ns: &str, ports: &[&str], extra: &[&str]) -> Result<(), String> {
        let mut args: Vec<String> = [
            "ovs-vsctl",
            "--timeout=20",
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "fail_mode=secure",
        ]
        .map(String::from)
        .to_vec();
        for (i, p) in ports.iter().enumerate() {
            args.extend([
                "--".to_string(),
                "add-port".into(),
                "br0".into(),
                p.to_string(),
                "--".into(),
                "set".into(),
                "interface".into(),
                p.to_string(),
                format!("ofport_request={}", i + 1),
            ]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        self.in_ns(ns, &a)?;
        for flow in ["in_port=1,actions=output:2", "in_port=2,actions=output:1"] {
            self.in_ns(ns, &["ovs-ofctl", "add-flow", "br0", flow])?;
        }
        Ok(())
    }

    fn adopt_pidfile(&mut self, name: &str, path: &Path) -> Result<i32, String> {
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
                return Ok(pid);
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

    /// One iperf3 TCP run (`streams` parallel streams, `seconds` long)
    /// a -> b, in bit/s. A fresh one-off server per run, so a stuck test
    /// cannot block the next.
    pub fn iperf3(&mut self, seconds: u32, streams: u32, port: u16) -> Result<f64, String> {
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
        let par = streams.max(1).to_string();
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
                "-P",
                &par,
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

    /// Reads a file of namespace `ns`'s sysfs (`ip netns exec` mounts the
    /// namespace's own /sys).
    fn sysfs(&self, ns: &str, path: &str) -> Result<String, String> {
        Ok(check(&self.dir, &["ip", "netns", "exec", ns, "cat", path])?
            .trim()
            .to_string())
    }

    /// Packets b's interface has received so far.
    pub fn b_rx_packets(&self) -> Result<u64, String> {
        let s = self.sysfs(&self.ns_b, "/sys/class/net/b-eth/statistics/rx_packets")?;
        s.parse().map_err(|_| format!("rx_packets: {s:?}"))
    }

    /// CPU time (user + system, in clock ticks) used so far by the switch
    /// processes, all threads included; `None` for kernel devices.
    pub fn switch_cpu_ticks(&self) -> Option<u64> {
        if self.switch_pids.is_empty() {
            return None;
        }
        let mut sum = 0;
        for pid in &self.switch_pids {
            let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            sum += super::parse::proc_stat_cpu_ticks(&st)?;
        }
        Some(sum)
    }

    /// Waits (at most `max`) until the switch processes use under 10% of
    /// a core over half a second, so background work after a big change
    /// (OVS revalidating its datapath flows after add-flows) is not
    /// measured as forwarding cost. Returns how long it waited.
    pub fn wait_switch_idle(&self, max: Duration) -> Duration {
        // SAFETY: sysconf has no preconditions.
        let hz = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
            t if t > 0 => t as u64,
            _ => 100,
        };
        let t = Instant::now();
        while t.elapsed() < max && !stopped() {
            let Some(a) = self.switch_cpu_ticks() else {
                break;
            };
            std::thread::sleep(Duration::from_millis(500));
            let Some(b) = self.switch_cpu_ticks() else {
                break;
            };
            // 10% of a core over 0.5 s = hz / 20 ticks.
            if b.saturating_sub(a) * 20 <= hz {
                break;
            }
        }
        t.elapsed()
    }

    /// Runs the 64-byte UDP generator (`exe pktgen`) in host a towards b
    /// with `flows` flows for `seconds` (at most `max` packets, `pps` = 0
    /// for full rate). Returns (offered packets, generator seconds,
    /// delivered packets = b's rx_packets delta, read 200 ms after the
    /// generator stopped so frames in flight are counted).
    pub fn udp(
        &self,
        exe: &Path,
        flows: u32,
        seconds: u32,
        max: u64,
        pps: u64,
    ) -> Result<(u64, f64, u64), String> {
        let a_mac = self.sysfs(&self.ns_a, "/sys/class/net/a-eth/address")?;
        let b_mac = self.sysfs(&self.ns_b, "/sys/class/net/b-eth/address")?;
        let exe = exe.display().to_string();
        let (f, s, m, r) = (
            flows.to_string(),
            seconds.to_string(),
            max.to_string(),
            pps.to_string(),
        );
        self.sink_udp_in_b();
        let rx0 = self.b_rx_packets()?;
        let o = run(
            &self.dir,
            &[
                "ip",
                "netns",
                "exec",
                &self.ns_a,
                &exe,
                "pktgen",
                "--ifname",
                "a-eth",
                "--src-mac",
                &a_mac,
                "--dst-mac",
                &b_mac,
                "--src-ip",
                ADDR_A,
                "--dst-ip",
                ADDR_B,
                "--flows",
                &f,
                "--seconds",
                &s,
                "--max",
                &m,
                "--pps",
                &r,
            ],
            Duration::from_secs(u64::from(seconds) + 10),
        )?;
        std::thread::sleep(Duration::from_millis(200));
        let rx1 = self.b_rx_packets()?;
        if !o.ok {
            return Err(format!("pktgen failed: {}", o.stderr.trim()));
        }
        let (sent, secs) = super::parse::pktgen_sent(&o.stdout)
            .ok_or_else(|| format!("pktgen: no report in {:?}", o.stdout.trim()))?;
        Ok((sent, secs, rx1.saturating_sub(rx0)))
    }

    /// Host b drops the generator's datagrams first thing (netfilter's raw
    /// table, in b's namespace only). Without it b answers each with an
    /// ICMP port-unreachable attempt, route lookup included, and because
    /// a veth delivers in the sender's context that cost lands on the
    /// device under test (40% of rswitch's time in a profile), not on b.
    /// Counted delivery (b-eth's rx_packets) is unaffected. Best effort:
    /// without iptables the measurement carries that cost for every device.
    fn sink_udp_in_b(&self) {
        let rule = [
            "-t",
            "raw",
            "PREROUTING",
            "-p",
            "udp",
            "--dport",
            "9",
            "-j",
            "DROP",
        ];
        let with = |op: &str| {
            let mut v = vec!["ip", "netns", "exec", self.ns_b.as_str(), "iptables"];
            v.extend_from_slice(&rule[..2]);
            v.push(op);
            v.extend_from_slice(&rule[2..]);
            run(&self.dir, &v, Duration::from_secs(10)).is_ok_and(|o| o.ok)
        };
        if !with("-C") {
            let _ = with("-A");
        }
    }

    /// Installs the flows in `file` on br0 with `add-flows` (rswitch-ofctl
    /// or ovs-ofctl); the time it took in seconds.
    pub fn add_flows_file(&self, file: &Path) -> Result<f64, String> {
        let f = file.display().to_string();
        let t = Instant::now();
        let limit = Duration::from_secs(600);
        let ns = self.sw.first().ok_or("no switch namespace")?;
        match (&self.rswitch_ofctl, self.device) {
            (Some((ofctl, rundir)), _) => {
                self.in_ns_t(
                    ns,
                    &[ofctl, "--rundir", rundir, "add-flows", "br0", &f],
                    limit,
                )?;
            }
            (None, Device::Ovs) => {
                self.in_ns_t(ns, &["ovs-ofctl", "add-flows", "br0", &f], limit)?;
            }
            _ => return Err(format!("{}: no OpenFlow table to fill", self.device.name())),
        }
        Ok(t.elapsed().as_secs_f64())
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
