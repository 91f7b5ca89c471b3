//! Shared harness for the privileged lab tests (`priv_labs.rs`,
//! `priv_daemon.rs`): namespace and veth guards, an `rswitchd` guard that
//! runs the daemon inside a namespace with its own temporary run directory,
//! the `rswitch` / `rswitch-ofctl` clients, and traffic helpers.
//!
//! Network safety: every host is a namespace the test made (named
//! `rsl<pid>-<counter>-<tag>`); links are created directly inside them (`ip
//! -n A link add X type veth peer name Y netns B`), so nothing appears in the
//! root namespace; rswitchd runs in a test namespace (`ip netns exec`), so
//! its internal ports are born there; addresses come from 198.18.0.0/15.
//! Guards undo everything on drop, also when a test panics: the daemon is
//! stopped by pid (SIGTERM, then SIGKILL), background processes are killed
//! by pid, namespaces are deleted (which destroys every link in them), and
//! temporary directories are removed. Declare namespaces first and the
//! daemon after them, so it stops before they go.

#![allow(dead_code)] // each test crate uses a different subset

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

pub const RSWITCHD: &str = env!("CARGO_BIN_EXE_rswitchd");
pub const RSWITCH: &str = env!("CARGO_BIN_EXE_rswitch");
pub const OFCTL: &str = env!("CARGO_BIN_EXE_rswitch-ofctl");

/// Prefix of every namespace and temporary directory the harness makes.
const PREFIX: &str = "rsl";

/// True when running as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Writes straight to stderr, bypassing libtest's output capture.
pub fn say(msg: &str) {
    let _ = std::io::stderr().write_all(msg.as_bytes());
}

/// The current test's name (libtest names test threads after them).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// First line of every privileged test: when not root, prints
/// `SKIPPED (needs root): <test>` to stderr and returns.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::labkit::is_root() {
            $crate::labkit::say(&format!(
                "SKIPPED (needs root): {} (run as root; CI does)\n",
                $crate::labkit::test_name()
            ));
            return;
        }
    };
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static SWEEP: Once = Once::new();

/// A number unique within this test process.
pub fn next_id() -> usize {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A name unique among concurrently running tests (this pid and a
/// counter), at most 15 bytes so it also fits an interface name.
pub fn unique_name(tag: &str) -> String {
    let pid = std::process::id() % 100_000;
    let n = next_id();
    let mut s = format!("{tag}{pid}x{n}");
    s.truncate(15);
    s
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes namespaces and run directories left behind by test processes
/// that died without unwinding (SIGKILL, abort): ours by prefix, whose
/// pid is gone.
fn sweep_stale() {
    let stale_pid = |name: &str| -> bool {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            return false;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            return false;
        };
        pid.parse::<u32>().is_ok_and(|p| !pid_alive(p))
    };
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for ent in dir.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if stale_pid(&name) {
                let _ = try_ip(&["netns", "del", &name]);
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for ent in dir.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if stale_pid(&name) {
                let _ = std::fs::remove_dir_all(ent.path());
            }
        }
    }
}

/// Runs `ip ARGS`; panics with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    try_ip(args).unwrap_or_else(|e| panic!("ip {}: {e}", args.join(" ")))
}

/// Runs `ip ARGS`; the error is its stderr.
pub fn try_ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command with a time limit (`timeout -s KILL`), returning
/// (stdout, stderr, exit code; -1 when killed by a signal).
pub fn run(prog: &str, args: &[&str], limit: Duration) -> (String, String, i32) {
    let secs = format!("{}", limit.as_secs().max(1));
    let out = Command::new("timeout")
        .args(["-s", "KILL", &secs, prog])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    triple(out)
}

fn triple(out: Output) -> (String, String, i32) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Whether a program is installed (for tests that need e.g. iptables).
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A network namespace, deleted when the guard drops.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// `rsl<pid>-<n>-<tag>`, with loopback up and IPv6 off (no router
    /// solicitations or MLD reports disturbing packet counters).
    pub fn new(tag: &str) -> Netns {
        SWEEP.call_once(sweep_stale);
        let name = format!("{PREFIX}{}-{}-{tag}", std::process::id(), next_id());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        ns
    }

    /// Runs `ip -n NAME ARGS`; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        ip(&a)
    }

    /// Runs `ip -n NAME ARGS`, returning its error instead of panicking.
    pub fn try_ip(&self, args: &[&str]) -> Result<String, String> {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        try_ip(&a)
    }

    /// Runs `PROG ARGS` inside the namespace (`ip netns exec`), limited to
    /// `limit`; returns (stdout, stderr, exit).
    pub fn exec(&self, limit: Duration, prog: &str, args: &[&str]) -> (String, String, i32) {
        let mut a = vec!["netns", "exec", self.name.as_str(), prog];
        a.extend_from_slice(args);
        run("ip", &a, limit)
    }

    /// Like [`Netns::exec`], panicking unless the command succeeds.
    pub fn exec_ok(&self, prog: &str, args: &[&str]) -> String {
        let (o, e, c) = self.exec(Duration::from_secs(30), prog, args);
        assert_eq!(
            c,
            0,
            "in {}: {prog} {}: exit {c}\nstdout: {o}\nstderr: {e}",
            self.name,
            args.join(" ")
        );
        o
    }

    pub fn sysctl(&self, key: &str, val: &str) {
        self.exec_ok("sysctl", &["-q", "-w", &format!("{key}={val}")]);
    }

    /// Starts `PROG ARGS` in the background inside the namespace; the
    /// guard kills it by pid.
    pub fn spawn(&self, prog: &str, args: &[&str]) -> Bg {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, prog])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {prog}: {e}"));
        Bg { child: Some(child) }
    }

    /// Moves interface `dev` into namespace `to`.
    pub fn move_link(&self, dev: &str, to: &Netns) {
        self.ip(&["link", "set", dev, "netns", &to.name]);
    }

    /// Gives `dev` an address and brings it up.
    pub fn addr_up(&self, dev: &str, cidr: &str) {
        self.ip(&["addr", "add", cidr, "dev", dev]);
        self.ip(&["link", "set", dev, "up"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = try_ip(&["netns", "del", &self.name]) {
            say(&format!(
                "warning: cannot delete netns {}: {e}\n",
                self.name
            ));
        }
    }
}

/// A veth pair with one end in each of two namespaces (both ends up);
/// deleted on drop (a no-op if a namespace went first or the test deleted
/// it already).
pub struct Veth {
    pub a_ns: String,
    pub a: String,
    pub b_ns: String,
    pub b: String,
}

impl Veth {
    pub fn new(a_ns: &Netns, a: &str, b_ns: &Netns, b: &str) -> Veth {
        a_ns.ip(&[
            "link", "add", a, "type", "veth", "peer", "name", b, "netns", &b_ns.name,
        ]);
        a_ns.ip(&["link", "set", a, "up"]);
        b_ns.ip(&["link", "set", b, "up"]);
        Veth {
            a_ns: a_ns.name.clone(),
            a: a.into(),
            b_ns: b_ns.name.clone(),
            b: b.into(),
        }
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = try_ip(&["-n", &self.a_ns, "link", "del", &self.a]);
    }
}

/// A background process, killed by pid on drop (SIGTERM, then SIGKILL).
pub struct Bg {
    child: Option<Child>,
}

impl Bg {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Waits up to `limit` for the process to end by itself.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let c = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process: SIGTERM, then SIGKILL after 3 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, Duration::from_secs(3));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill() on a pid we started and have not reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// SIGTERM, wait up to `grace`, then SIGKILL; always reaps.
fn stop_child(c: &mut Child, grace: Duration) -> ExitStatus {
    if let Ok(Some(st)) = c.try_wait() {
        return st;
    }
    signal(c.id(), libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = c.try_wait() {
            return st;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    say(&format!(
        "warning: pid {} ignored SIGTERM; killing\n",
        c.id()
    ));
    let _ = c.kill();
    c.wait().expect("wait")
}

/// A temporary directory, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        SWEEP.call_once(sweep_stale);
        let path = std::env::temp_dir().join(format!(
            "{PREFIX}{}-{}-{tag}",
            std::process::id(),
            next_id()
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TempDir { path }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// rswitchd running inside a namespace with a private run directory.
/// Stopped by pid on drop (SIGTERM, then SIGKILL after 10 s).
pub struct Daemon {
    pub ns: String,
    pub dir: TempDir,
    child: Option<Child>,
    /// How many times it was started (names each start's stderr file).
    starts: usize,
}

impl Daemon {
    /// Starts rswitchd in `ns` with a fresh run directory; panics with the
    /// daemon's messages if it does not come up.
    pub fn start(ns: &Netns) -> Daemon {
        let mut d = Daemon {
            ns: ns.name.clone(),
            dir: TempDir::new("rundir"),
            child: None,
            starts: 0,
        };
        d.restart()
            .unwrap_or_else(|e| panic!("rswitchd did not start: {e}"));
        d
    }

    pub fn rundir(&self) -> &Path {
        &self.dir.path
    }

    pub fn rundir_str(&self) -> String {
        self.dir.path.display().to_string()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.file("rswitchd.sock")
    }

    pub fn conf_db(&self) -> PathBuf {
        self.dir.file("conf.db")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.file("rswitchd.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The command line that runs rswitchd (in the foreground) in our
    /// namespace with our run directory.
    fn command(&self, stderr_file: &Path) -> Command {
        let err = std::fs::File::create(stderr_file).expect("stderr file");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, RSWITCHD, "--rundir"])
            .arg(self.rundir())
            .arg("--log-file")
            .arg(self.dir.file("rswitchd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        c
    }

    /// Starts (again) on the same run directory; waits until the socket
    /// answers. The error is what the daemon said when it did not.
    pub fn restart(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "rswitchd is already running");
        self.starts += 1;
        let errf = self.dir.file(&format!("stderr.{}", self.starts));
        let mut child = self
            .command(&errf)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                let msg = std::fs::read_to_string(&errf).unwrap_or_default();
                return Err(format!("rswitchd exited ({st}): {msg}"));
            }
            let pid_ok = std::fs::read_to_string(self.dir.file("rswitchd.pid"))
                .is_ok_and(|p| p.trim() == child.id().to_string());
            if pid_ok && UnixStream::connect(self.socket()).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                stop_child(&mut child, Duration::from_secs(2));
                return Err("rswitchd did not answer within 15 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Runs another rswitchd on the same run directory in the foreground
    /// (expected to be refused); returns (stdout, stderr, exit), or
    /// panics if it is still running after 10 s (after killing it).
    pub fn second_instance(&self) -> (String, String, i32) {
        let errf = self.dir.file("stderr.second");
        let mut child = self.command(&errf).spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                let err = std::fs::read_to_string(&errf).unwrap_or_default();
                return (String::new(), err, st.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                stop_child(&mut child, Duration::from_secs(2));
                panic!("a second rswitchd on the same run directory kept running");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, and wait (SIGKILL after 10 s). Returns the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("rswitchd not running");
        stop_child(&mut c, Duration::from_secs(10))
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("rswitchd not running");
        let _ = c.kill();
        c.wait().expect("wait")
    }

    /// `rswitch --rundir DIR ARGS` → (stdout, stderr, exit).
    pub fn rswitch(&self, args: &[&str]) -> (String, String, i32) {
        let mut a = vec!["--rundir".to_string(), self.rundir_str()];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        run(RSWITCH, &a, Duration::from_secs(60))
    }

    /// `rswitch-ofctl --rundir DIR ARGS` → (stdout, stderr, exit).
    pub fn ofctl(&self, args: &[&str]) -> (String, String, i32) {
        let mut a = vec!["--rundir".to_string(), self.rundir_str()];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        run(OFCTL, &a, Duration::from_secs(60))
    }

    /// `rswitch ARGS`, which must succeed; returns stdout.
    pub fn rswitch_ok(&self, args: &[&str]) -> String {
        let (o, e, c) = self.rswitch(args);
        assert_eq!(
            c,
            0,
            "rswitch {}: exit {c}\nstderr: {e}\nlog:\n{}",
            args.join(" "),
            self.log()
        );
        o
    }

    /// `rswitch-ofctl ARGS`, which must succeed; returns stdout.
    pub fn ofctl_ok(&self, args: &[&str]) -> String {
        let (o, e, c) = self.ofctl(args);
        assert_eq!(
            c,
            0,
            "rswitch-ofctl {}: exit {c}\nstderr: {e}\nlog:\n{}",
            args.join(" "),
            self.log()
        );
        o
    }

    /// `rswitch get Interface NAME COLUMN`, trimmed.
    pub fn iface_get(&self, name: &str, column: &str) -> String {
        self.rswitch_ok(&["get", "Interface", name, column])
            .trim()
            .to_string()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, Duration::from_secs(10));
        }
    }
}

/// Pings `addr` from `ns` until a reply comes, for up to ~8 s (the first
/// packets may go to ARP and MAC learning).
pub fn ping_ok(ns: &Netns, addr: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let (_, _, c) = ns.exec(
            Duration::from_secs(5),
            "ping",
            &["-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", addr],
        );
        if c == 0 {
            return true;
        }
    }
    false
}

/// Pings `addr` from `ns` (3 probes, 1 s wait): true when no reply at all.
pub fn ping_fails(ns: &Netns, addr: &str) -> bool {
    let (_, _, c) = ns.exec(
        Duration::from_secs(6),
        "ping",
        &["-n", "-q", "-c", "3", "-i", "0.3", "-W", "1", addr],
    );
    c != 0
}

/// Asserts `ping_ok` with a message naming the namespace and address.
#[track_caller]
pub fn assert_ping(ns: &Netns, addr: &str) {
    assert!(ping_ok(ns, addr), "{} cannot reach {addr}", ns.name);
}

/// Asserts `ping_fails` with a message naming the namespace and address.
#[track_caller]
pub fn assert_no_ping(ns: &Netns, addr: &str) {
    assert!(
        ping_fails(ns, addr),
        "{} reaches {addr}, which it must not",
        ns.name
    );
}

/// Polls `f` every 100 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs an iperf3 TCP test (`secs` seconds) from `client` to a server
/// started in `server` on `addr`; returns the client's JSON report.
pub fn iperf3(client: &Netns, server: &Netns, addr: &str, secs: u32) -> serde_json::Value {
    let _srv = server.spawn("iperf3", &["-s", "-1", "-B", addr]);
    let listening = wait_until(Duration::from_secs(5), || {
        let (o, _, _) = server.exec(Duration::from_secs(3), "ss", &["-ltnH", "sport = :5201"]);
        !o.trim().is_empty()
    });
    assert!(listening, "iperf3 server did not start in {}", server.name);
    let t = format!("{secs}");
    let (o, e, c) = client.exec(
        Duration::from_secs(u64::from(secs) + 15),
        "iperf3",
        &["-c", addr, "-t", &t, "-J"],
    );
    assert_eq!(c, 0, "iperf3 client failed (exit {c}): {e}\n{o}");
    serde_json::from_str(&o).unwrap_or_else(|err| panic!("iperf3 -J output: {err}\n{o}"))
}

/// The lines of `rswitch-ofctl dump-flows BR --no-stats`, for before/after
/// comparisons.
pub fn flows_no_stats(d: &Daemon, br: &str) -> String {
    d.ofctl_ok(&["dump-flows", "--no-stats", br])
}
