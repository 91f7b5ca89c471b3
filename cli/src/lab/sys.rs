//! Process plumbing for lab files: bounded commands, `ip` / `ip netns exec`,
//! the rswitch binaries, and stopping processes by pid (checked against the
//! start time recorded when they were started, so a reused pid is never hit).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished command printed, and its exit code (-1: killed, timed out).
#[derive(Debug, Clone, Default)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// The command's complaint, for error messages: stderr, else stdout.
    pub fn why(&self) -> String {
        let e = self.stderr.trim();
        let s = if e.is_empty() { self.stdout.trim() } else { e };
        let s = if s.is_empty() {
            format!("exit {}", self.code)
        } else {
            s.to_string()
        };
        if self.code == -1 {
            format!("timed out or killed ({s})")
        } else {
            s
        }
    }
}

/// Runs `argv` with no stdin, killing it (SIGKILL) after `limit`.
pub fn run(argv: &[String], limit: Duration) -> Result<Out, String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {prog}: {e}"))?;
    let (tx_o, rx_o) = std::sync::mpsc::channel();
    let (tx_e, rx_e) = std::sync::mpsc::channel();
    let so = child.stdout.take();
    let se = child.stderr.take();
    // Readers report through channels: a command that leaves a process
    // holding its output open (`cmd &`) must not hang us.
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut o) = so {
            let _ = o.read_to_string(&mut s);
        }
        let _ = tx_o.send(s);
    });
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut o) = se {
            let _ = o.read_to_string(&mut s);
        }
        let _ = tx_e.send(s);
    });
    let deadline = Instant::now() + limit;
    let code = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code().unwrap_or(-1),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{prog}: {e}")),
        }
    };
    let grace = Duration::from_secs(2);
    Ok(Out {
        stdout: rx_o.recv_timeout(grace).unwrap_or_default(),
        stderr: rx_e.recv_timeout(grace).unwrap_or_default(),
        code,
    })
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `ip ARGS` (10 s limit); the error is ip's message.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["ip".to_string()];
    argv.extend(strings(args));
    let o = run(&argv, Duration::from_secs(10))?;
    if o.ok() {
        Ok(o.stdout)
    } else {
        Err(o.why())
    }
}

/// `ip -n NS ARGS`.
pub fn ip_in(ns: &str, args: &[&str]) -> Result<String, String> {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    ip(&a)
}

/// `ip netns exec NS ARGV…` with a time limit.
pub fn exec_in(ns: &str, argv: &[String], limit: Duration) -> Result<Out, String> {
    let mut a = strings(&["ip", "netns", "exec", ns]);
    a.extend(argv.iter().cloned());
    run(&a, limit)
}

/// Whether network namespace `name` exists.
pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// The rswitch binary `name`: next to the running executable, else on PATH.
pub fn bin(name: &str) -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from(name)
}

/// Whether a program is on PATH.
pub fn have(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file()))
}

/// The start time of process `pid` (field 22 of /proc/PID/stat), which
/// together with the pid names one process for good.
pub fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is still the process that had start time `start` (and
/// is not a zombie).
pub fn same_process(pid: u32, start: u64) -> bool {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(i) = s.rfind(')') else { return false };
    let f: Vec<&str> = s[i + 1..].split_whitespace().collect();
    f.first() != Some(&"Z") && f.get(19).and_then(|v| v.parse().ok()) == Some(start)
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill() has no memory effects; callers pass a pid they checked
    // with `same_process` just before.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// Reaps `pid` if it is our own child (ignored otherwise).
fn reap(pid: u32) {
    let mut st = 0;
    // SAFETY: waitpid with WNOHANG and a valid status pointer.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut st, libc::WNOHANG) };
}

/// Stops the process (`pid`, `start`): SIGTERM, up to `grace`, then
/// SIGKILL. Returns a note when it had to be killed; nothing happens when
/// that process is gone already.
pub fn stop(pid: u32, start: u64, grace: Duration) -> Option<String> {
    if !same_process(pid, start) {
        return None;
    }
    signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        reap(pid);
        if !same_process(pid, start) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(pid, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && same_process(pid, start) {
        reap(pid);
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(format!("pid {pid} ignored SIGTERM; killed"))
}

/// The pids of processes inside namespace `ns` (`ip netns pids`).
pub fn netns_pids(ns: &str) -> Vec<u32> {
    ip(&["netns", "pids", ns])
        .map(|o| {
            o.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The command line of `pid`, spaces between arguments.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// True when running as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
