//! Runs a lab's steps and keeps the state file
//! (`/run/rswitch-lab/<prefix><lab>/state.json`) that records everything
//! `up` made — the lab directory, namespaces, rswitchd daemons and
//! background processes (pid and start time) — so that `down` removes
//! exactly that, in reverse order, and nothing else. A failed `up` tears
//! down what it made and names the step; `up` on a lab already up checks
//! that its namespaces and processes are still there and completes it.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check::daemon_call;
use super::plan::{plan, Names, Step};
use super::spec::Lab;
use super::sys;

/// Something `up` made and `down` removes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Made {
    Dir {
        path: PathBuf,
    },
    Netns {
        name: String,
    },
    Daemon {
        host: String,
        ns: String,
        pid: u32,
        start: u64,
        rundir: PathBuf,
    },
    Process {
        host: String,
        ns: String,
        pid: u32,
        start: u64,
        cmd: String,
    },
}

/// The state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub lab: String,
    pub prefix: String,
    pub file: String,
    /// A hash of the planned steps: `up` with a changed file is refused.
    pub fingerprint: String,
    pub steps_total: usize,
    pub steps_done: usize,
    pub complete: bool,
    pub made: Vec<Made>,
}

impl State {
    pub fn load(path: &Path) -> Result<Option<State>, String> {
        match std::fs::read_to_string(path) {
            Ok(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| format!("{}: corrupt state file: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Written atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// FNV-1a over the steps, stable across builds.
fn fingerprint(steps: &[Step]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in steps {
        for b in format!("{s:?}\n").bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// What of `made` is gone (a namespace deleted, a process dead).
pub fn missing(made: &[Made]) -> Vec<String> {
    made.iter()
        .filter_map(|m| match m {
            Made::Dir { path } if !path.is_dir() => Some(format!("directory {}", path.display())),
            Made::Netns { name } if !sys::netns_exists(name) => Some(format!("namespace {name}")),
            Made::Daemon { ns, pid, start, .. } if !sys::same_process(*pid, *start) => {
                Some(format!("rswitchd (pid {pid}) of {ns}"))
            }
            Made::Process {
                ns,
                pid,
                start,
                cmd,
                ..
            } if !sys::same_process(*pid, *start) => {
                Some(format!("{ns}: `{cmd}` (pid {pid}) exited"))
            }
            _ => None,
        })
        .collect()
}

/// Removes everything in `made`, newest first. Returns notes (warnings).
pub fn teardown(made: &[Made], verbose: bool) -> Vec<String> {
    let mut notes = Vec::new();
    for m in made.iter().rev() {
        match m {
            Made::Process {
                ns,
                pid,
                start,
                cmd,
                ..
            } => {
                if verbose {
                    println!("  stop {ns}: {cmd} (pid {pid})");
                }
                notes.extend(sys::stop(*pid, *start, Duration::from_secs(3)));
            }
            Made::Daemon { ns, pid, start, .. } => {
                if verbose {
                    println!("  stop rswitchd in {ns} (pid {pid})");
                }
                notes.extend(sys::stop(*pid, *start, Duration::from_secs(10)));
            }
            Made::Netns { name } => {
                if !sys::netns_exists(name) {
                    continue;
                }
                for pid in sys::netns_pids(name) {
                    notes.push(format!(
                        "process {pid} ({}) was still running in namespace {name}; it was not started by the lab and is left alone",
                        sys::cmdline(pid)
                    ));
                }
                if verbose {
                    println!("  ip netns del {name}");
                }
                if let Err(e) = sys::ip(&["netns", "del", name]) {
                    notes.push(format!("ip netns del {name}: {e}"));
                }
            }
            Made::Dir { path } => {
                if verbose {
                    println!("  rm -r {}", path.display());
                }
                if let Err(e) = std::fs::remove_dir_all(path) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        notes.push(format!("{}: {e}", path.display()));
                    }
                }
            }
        }
    }
    notes
}

/// Set by SIGINT/SIGTERM during `up`: stop after the current step and
/// remove what was made.
fn interrupt_flag() -> Arc<AtomicBool> {
    let f = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&f));
    }
    f
}

/// `rswitch lab up`.
pub fn up(lab: &Lab, names: &Names, file: &str) -> Result<(), String> {
    if !sys::is_root() {
        return Err("needs root (network namespaces): run it with sudo".into());
    }
    let steps = plan(lab, names);
    let fp = fingerprint(&steps);
    let sf = names.state_file();
    let mut st = match State::load(&sf)? {
        Some(old) => {
            if old.fingerprint != fp {
                return Err(format!(
                    "lab {}{} is up from a different version of the lab file ({}); run `rswitch lab down` first",
                    names.prefix, names.lab, old.file
                ));
            }
            let gone = missing(&old.made);
            if !gone.is_empty() {
                println!(
                    "lab {}{} is partly gone ({}); rebuilding it",
                    names.prefix,
                    names.lab,
                    gone.join(", ")
                );
                for n in teardown(&old.made, false) {
                    eprintln!("warning: {n}");
                }
                let _ = std::fs::remove_file(&sf);
                None
            } else if old.complete {
                println!(
                    "lab {}{} is already up ({} steps); nothing to do",
                    names.prefix, names.lab, old.steps_total
                );
                return Ok(());
            } else {
                println!(
                    "lab {}{}: completing from step {}/{}",
                    names.prefix,
                    names.lab,
                    old.steps_done + 1,
                    old.steps_total
                );
                Some(old)
            }
        }
        None => None,
    }
    .map_or_else(|| fresh(lab, names, file, &steps, &fp), Ok)?;

    let stop = interrupt_flag();
    let n = steps.len();
    let w = n.to_string().len();
    for (i, step) in steps.iter().enumerate().skip(st.steps_done) {
        let desc = step.describe();
        println!("[{:>w$}/{n}] {desc}", i + 1);
        let _ = std::io::stdout().flush();
        let r = if stop.load(Ordering::Relaxed) {
            Err("interrupted".to_string())
        } else {
            exec(step, &mut st, names)
        };
        // Record what the step made even when it failed half-way.
        let saved = st.save(&sf);
        if let Err(e) = r.and(saved) {
            eprintln!("rswitch lab up: step {}/{n} failed: {desc}\n  {e}", i + 1);
            eprintln!("removing what this lab made:");
            for note in teardown(&st.made, true) {
                eprintln!("warning: {note}");
            }
            return Err(format!("step {}/{n} ({desc}) failed: {e}", i + 1));
        }
        st.steps_done = i + 1;
        st.save(&sf)?;
    }
    st.complete = true;
    st.save(&sf)?;
    println!(
        "lab {}{} is up: {} namespaces, {} rswitchd; state in {}",
        names.prefix,
        names.lab,
        st.made
            .iter()
            .filter(|m| matches!(m, Made::Netns { .. }))
            .count(),
        st.made
            .iter()
            .filter(|m| matches!(m, Made::Daemon { .. }))
            .count(),
        sf.display()
    );
    Ok(())
}

/// A new state: refuses namespaces that exist already (never ours to
/// take), makes the lab directory.
fn fresh(lab: &Lab, names: &Names, file: &str, steps: &[Step], fp: &str) -> Result<State, String> {
    let taken: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Netns { ns, .. } if sys::netns_exists(ns) => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    if !taken.is_empty() {
        return Err(format!(
            "namespace{} {} exist{} already and {} not made by lab {}{}; remove {} or use --prefix",
            if taken.len() > 1 { "s" } else { "" },
            taken.join(", "),
            if taken.len() > 1 { "" } else { "s" },
            if taken.len() > 1 { "were" } else { "was" },
            names.prefix,
            names.lab,
            if taken.len() > 1 { "them" } else { "it" },
        ));
    }
    let dir = names.dir();
    std::fs::create_dir_all(&names.base).map_err(|e| format!("{}: {e}", names.base.display()))?;
    // A directory without a state file is debris of ours (a crash): reuse.
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let st = State {
        lab: lab.name.clone(),
        prefix: names.prefix.clone(),
        file: file.to_string(),
        fingerprint: fp.to_string(),
        steps_total: steps.len(),
        steps_done: 0,
        complete: false,
        made: vec![Made::Dir { path: dir }],
    };
    st.save(&names.state_file())?;
    Ok(st)
}

fn strs(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs `ip netns exec NS ARGV…` in the background in its own process
/// group, output to `log`; returns (pid, start time) once it has run for
/// a moment without exiting.
fn spawn_bg(ns: &str, argv: &[String], log: &Path) -> Result<(u32, u64), String> {
    let f = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let f2 = f.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv.join(" ")))?;
    let pid = child.id();
    let start = sys::start_time(pid).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(400));
    if let Ok(Some(st)) = child.try_wait() {
        let out = std::fs::read_to_string(log).unwrap_or_default();
        return Err(format!("exited at once ({st}): {}", tail(&out)));
    }
    Ok((pid, start))
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.trim().lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

const DHCLIENT_SCRIPT: &str = r#"#!/bin/sh
# Written by rswitch lab: sets the lease's address and default route on
# the interface, nothing else (no resolv.conf, no hooks).
case "$reason" in
PREINIT) ip link set dev "$interface" up ;;
BOUND|RENEW|REBIND|REBOOT)
    ip -4 addr flush dev "$interface"
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
    for r in $new_routers; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
"#;

const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
# Written by rswitch lab: sets the lease's address and default route.
case "$1" in
deconfig) ip -4 addr flush dev "$interface"; ip link set dev "$interface" up ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-$subnet}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
"#;

fn host_dir(names: &Names, host: &str) -> Result<PathBuf, String> {
    let d = names.rundir(host);
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

/// Records something just made, on disk at once (so that even a crash
/// right after leaves it to `down`).
fn record(st: &mut State, names: &Names, m: Made) -> Result<(), String> {
    st.made.push(m);
    st.save(&names.state_file())
}

/// Runs one step, recording what it makes in `st.made`.
fn exec(step: &Step, st: &mut State, names: &Names) -> Result<(), String> {
    let limit = Duration::from_secs(30);
    match step {
        Step::Netns { ns, ipv6, .. } => {
            if sys::netns_exists(ns) {
                return Err(format!(
                    "namespace {ns} exists already (not made by this lab)"
                ));
            }
            sys::ip(&["netns", "add", ns])?;
            record(st, names, Made::Netns { name: ns.clone() })?;
            sys::ip_in(ns, &["link", "set", "lo", "up"])?;
            if !ipv6 {
                for k in ["all", "default"] {
                    let kv = format!("net.ipv6.conf.{k}.disable_ipv6=1");
                    let o = sys::exec_in(ns, &strs(&["sysctl", "-q", "-w", &kv]), limit)?;
                    if !o.ok() {
                        return Err(format!("sysctl {kv}: {}", o.why()));
                    }
                }
            }
        }
        Step::Veth {
            a_ns,
            a,
            b_ns,
            b,
            mtu,
        } => {
            sys::ip_in(
                a_ns,
                &[
                    "link", "add", a, "type", "veth", "peer", "name", b, "netns", b_ns,
                ],
            )?;
            for (ns, d) in [(a_ns, a), (b_ns, b)] {
                if let Some(m) = mtu {
                    sys::ip_in(ns, &["link", "set", d, "mtu", &m.to_string()])?;
                }
                sys::ip_in(ns, &["link", "set", d, "up"])?;
            }
        }
        Step::LinuxBridge { ns, name } => {
            sys::ip_in(ns, &["link", "add", name, "type", "bridge"])?;
        }
        Step::Sysctl { ns, key, value } => {
            let kv = format!("{key}={value}");
            let o = sys::exec_in(ns, &strs(&["sysctl", "-q", "-w", &kv]), limit)?;
            if !o.ok() {
                return Err(o.why());
            }
        }
        Step::Daemon {
            host,
            ns,
            rundir,
            workers,
        } => {
            std::fs::create_dir_all(rundir).map_err(|e| format!("{}: {e}", rundir.display()))?;
            let mut argv = vec![
                sys::bin("rswitchd").display().to_string(),
                "--rundir".into(),
                rundir.display().to_string(),
                "--detach".into(),
            ];
            if let Some(w) = workers {
                argv.extend(["--workers".to_string(), w.to_string()]);
            }
            let errf = rundir.join("start.err");
            let f = std::fs::File::create(&errf).map_err(|e| format!("{}: {e}", errf.display()))?;
            let mut child = Command::new("ip")
                .args(["netns", "exec", ns])
                .args(&argv)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(f)
                .spawn()
                .map_err(|e| format!("cannot start rswitchd: {e}"))?;
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            let status = loop {
                if let Ok(Some(s)) = child.try_wait() {
                    break Some(s);
                }
                if std::time::Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            // Record the daemon whenever its pidfile names a live one.
            let pid: Option<u32> = std::fs::read_to_string(rundir.join("rswitchd.pid"))
                .ok()
                .and_then(|p| p.trim().parse().ok());
            if let Some(pid) = pid {
                if let Some(start) = sys::start_time(pid) {
                    if sys::cmdline(pid).contains("rswitchd") {
                        record(
                            st,
                            names,
                            Made::Daemon {
                                host: host.clone(),
                                ns: ns.clone(),
                                pid,
                                start,
                                rundir: rundir.clone(),
                            },
                        )?;
                    }
                }
            }
            let err = std::fs::read_to_string(&errf).unwrap_or_default();
            match status {
                Some(s) if s.success() => {
                    if !matches!(st.made.last(), Some(Made::Daemon { .. })) {
                        return Err(format!(
                            "rswitchd started but left no pid in {}",
                            rundir.display()
                        ));
                    }
                }
                Some(s) => return Err(format!("rswitchd failed ({s}): {}", tail(&err))),
                None => return Err("rswitchd did not start within 20 s".into()),
            }
        }
        Step::Switch {
            host,
            ofctl,
            argv,
            files,
        } => {
            daemon_call(&names.rundir(host), *ofctl, argv.clone(), files.clone())?;
        }
        Step::Ip { ns, argv } => {
            let a: Vec<&str> = argv.iter().map(String::as_str).collect();
            sys::ip_in(ns, &a)?;
        }
        Step::Run { host, ns, cmd } => {
            host_dir(names, host)?;
            let o = sys::exec_in(ns, &strs(&["sh", "-c", cmd]), limit)?;
            if !o.ok() {
                return Err(o.why());
            }
        }
        Step::Background { host, ns, cmd } => {
            let dir = host_dir(names, host)?;
            let n = st
                .made
                .iter()
                .filter(|m| matches!(m, Made::Process { .. }))
                .count();
            let prog = cmd.split_whitespace().next().unwrap_or("cmd");
            let prog = prog.rsplit('/').next().unwrap_or(prog);
            let log = dir.join(format!("{prog}-{n}.log"));
            let (pid, start) = spawn_bg(ns, &strs(&["sh", "-c", &format!("exec {cmd}")]), &log)?;
            record(
                st,
                names,
                Made::Process {
                    host: host.clone(),
                    ns: ns.clone(),
                    pid,
                    start,
                    cmd: cmd.clone(),
                },
            )?;
        }
        Step::DhcpClient { host, ns, dev } => {
            use std::os::unix::fs::PermissionsExt as _;
            let dir = host_dir(names, host)?;
            let d = |f: &str| dir.join(f).display().to_string();
            let (script, body) = if sys::have("dhclient") {
                (d(&format!("dhclient-script-{dev}")), DHCLIENT_SCRIPT)
            } else if sys::have("busybox") {
                (d(&format!("udhcpc-script-{dev}")), UDHCPC_SCRIPT)
            } else {
                return Err("no DHCP client: install isc-dhcp-client (dhclient) or busybox".into());
            };
            std::fs::write(&script, body).map_err(|e| format!("{script}: {e}"))?;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("{script}: {e}"))?;
            let argv = if body == DHCLIENT_SCRIPT {
                strs(&[
                    "dhclient",
                    "-d",
                    "-v",
                    "-sf",
                    &script,
                    "-pf",
                    &d(&format!("dhclient-{dev}.pid")),
                    "-lf",
                    &d(&format!("dhclient-{dev}.leases")),
                    dev,
                ])
            } else {
                strs(&["busybox", "udhcpc", "-f", "-i", dev, "-s", &script])
            };
            let (pid, start) = spawn_bg(ns, &argv, &dir.join(format!("dhcp-{dev}.log")))?;
            record(
                st,
                names,
                Made::Process {
                    host: host.clone(),
                    ns: ns.clone(),
                    pid,
                    start,
                    cmd: argv.join(" "),
                },
            )?;
        }
    }
    Ok(())
}

/// `rswitch lab down`: removes what the state file records.
pub fn down(names: &Names) -> Result<(), String> {
    let sf = names.state_file();
    let Some(st) = State::load(&sf)? else {
        println!(
            "lab {}{} is not up (no {}); nothing to do",
            names.prefix,
            names.lab,
            sf.display()
        );
        return Ok(());
    };
    if !sys::is_root() {
        return Err("needs root (network namespaces): run it with sudo".into());
    }
    println!("taking lab {}{} down:", names.prefix, names.lab);
    let notes = teardown(&st.made, true);
    for n in &notes {
        eprintln!("warning: {n}");
    }
    let _ = std::fs::remove_file(&sf);
    let _ = std::fs::remove_dir(names.dir());
    let count = |f: fn(&Made) -> bool| st.made.iter().filter(|m| f(m)).count();
    println!(
        "lab {}{} is down: removed {} namespaces, {} rswitchd, {} processes",
        names.prefix,
        names.lab,
        count(|m| matches!(m, Made::Netns { .. })),
        count(|m| matches!(m, Made::Daemon { .. })),
        count(|m| matches!(m, Made::Process { .. })),
    );
    Ok(())
}

/// `rswitch lab status`: what is up. Ok(true) when the lab is up and
/// whole.
pub fn status(names: &Names) -> Result<bool, String> {
    let sf = names.state_file();
    let Some(st) = State::load(&sf)? else {
        println!("lab {}{}: down", names.prefix, names.lab);
        return Ok(false);
    };
    let gone = missing(&st.made);
    let state = if !st.complete {
        format!("incomplete ({}/{} steps)", st.steps_done, st.steps_total)
    } else if gone.is_empty() {
        format!("up ({} steps)", st.steps_total)
    } else {
        "damaged".to_string()
    };
    println!("lab {}{}: {state}", names.prefix, names.lab);
    println!("  file:  {}", st.file);
    println!("  state: {}", sf.display());
    for m in &st.made {
        let alive = missing(std::slice::from_ref(m)).is_empty();
        let mark = if alive { "ok  " } else { "GONE" };
        match m {
            Made::Dir { path } => println!("  {mark} dir      {}", path.display()),
            Made::Netns { name } => println!("  {mark} netns    {name}"),
            Made::Daemon {
                host,
                ns,
                pid,
                rundir,
                ..
            } => {
                let brs = if alive {
                    daemon_call(rundir, false, strs(&["list-br"]), Vec::new())
                        .map(|o| o.split_whitespace().collect::<Vec<_>>().join(" "))
                        .unwrap_or_else(|e| format!("(not answering: {e})"))
                } else {
                    String::new()
                };
                println!(
                    "  {mark} rswitchd {host} (netns {ns}, pid {pid}, --rundir {}) bridges: {brs}",
                    rundir.display()
                );
            }
            Made::Process { ns, pid, cmd, .. } => {
                println!("  {mark} process  {ns}: pid {pid}: {cmd}")
            }
        }
    }
    Ok(st.complete && gone.is_empty())
}

/// The labs with a state file under `base` (for `status` without a file).
pub fn list(base: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(base)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("state.json").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
