//! The lab files of `examples/` (LABS.md L1–L10 and the built-in demo) run
//! for real with `rswitch lab`: `up` with a unique `--prefix`, `check` (all
//! pass), `status`, `down`, and then nothing is left — no namespace with the
//! prefix, no rswitchd or background process the lab started, no state
//! directory. Also: a failing `up` removes what it made and names the
//! step; `up` twice is idempotent and rebuilds a lab that lost a
//! namespace; a namespace that exists already is never taken over.
//! Needs root; otherwise each test prints `SKIPPED (needs root): <name>`.
//!
//! Every lab is taken down by a guard (also when the test fails), which
//! runs `rswitch lab down` with the same prefix.

mod labkit;

use labkit::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// `rswitch lab ARGS` (bounded) → (stdout, stderr, exit).
fn lab(args: &[&str], limit: Duration) -> (String, String, i32) {
    let mut a = vec!["lab"];
    a.extend_from_slice(args);
    run(RSWITCH, &a, limit)
}

/// A prefix unique among concurrently running tests (`t<pid>x<n>-`).
fn prefix() -> String {
    format!("{}-", unique_name("t"))
}

/// The lab directory for `prefix` + `name`.
fn lab_dir(prefix: &str, name: &str) -> PathBuf {
    PathBuf::from("/run/rswitch-lab").join(format!("{prefix}{name}"))
}

/// Pids the state file records (daemons and background processes).
fn recorded_pids(dir: &Path) -> Vec<u32> {
    let Ok(s) = std::fs::read_to_string(dir.join("state.json")) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
    v["made"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["pid"].as_u64().map(|p| p as u32))
                .collect()
        })
        .unwrap_or_default()
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    try_ip(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// Takes the lab down on drop (a no-op when it is down already).
struct Up {
    file: String,
    prefix: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let (o, e, c) = lab(
            &["down", &self.file, "--prefix", &self.prefix],
            Duration::from_secs(120),
        );
        if c != 0 {
            say(&format!("warning: lab down {} failed: {o}{e}\n", self.file));
        }
    }
}

/// Asserts that nothing of lab `name` with `prefix` is left; `pids` were
/// recorded while it was up.
fn assert_gone(prefix: &str, name: &str, pids: &[u32]) {
    let left = namespaces_with(prefix);
    assert!(left.is_empty(), "namespaces left: {left:?}");
    let running: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(running.is_empty(), "processes left: {running:?}");
    let dir = lab_dir(prefix, name);
    assert!(!dir.exists(), "{} left", dir.display());
}

/// up, check, status, up again (idempotent), down; nothing left.
fn full_cycle(file: &str, name: &str) {
    let p = prefix();
    let guard = Up {
        file: file.to_string(),
        prefix: p.clone(),
    };
    let (o, e, c) = lab(&["up", file, "--prefix", &p], Duration::from_secs(180));
    assert_eq!(c, 0, "lab up {file}: exit {c}\n{o}\n{e}");
    let dir = lab_dir(&p, name);
    let pids = recorded_pids(&dir);
    assert!(
        !pids.is_empty(),
        "no rswitchd recorded in {}",
        dir.display()
    );
    assert!(!namespaces_with(&p).is_empty());

    let (o, e, c) = lab(&["check", file, "--prefix", &p], Duration::from_secs(300));
    say(&format!("{file}:\n{o}"));
    assert_eq!(c, 0, "lab check {file}: exit {c}\n{o}\n{e}");
    assert!(o.contains("checks passed") && !o.contains("FAIL"), "{o}");

    let (o, e, c) = lab(&["status", file, "--prefix", &p], Duration::from_secs(60));
    assert_eq!(c, 0, "lab status {file}: exit {c}\n{o}\n{e}");
    assert!(o.contains(": up (") && !o.contains("GONE"), "{o}");

    let (o, e, c) = lab(&["up", file, "--prefix", &p], Duration::from_secs(60));
    assert_eq!(c, 0, "second lab up {file}: {o}\n{e}");
    assert!(o.contains("already up"), "{o}");

    let (o, e, c) = lab(&["down", file, "--prefix", &p], Duration::from_secs(120));
    assert_eq!(c, 0, "lab down {file}: exit {c}\n{o}\n{e}");
    assert!(o.contains("is down"), "{o}");
    assert_gone(&p, name, &pids);
    let (o, _, c) = lab(&["status", file, "--prefix", &p], Duration::from_secs(30));
    assert!(c != 0 && o.contains(": down"), "{o}");
    drop(guard);
}

fn example(n: &str) -> String {
    examples().join(format!("{n}.toml")).display().to_string()
}

fn need(progs: &[&str]) -> bool {
    for p in progs {
        if !have(p) {
            say(&format!("SKIPPED (needs {p}): {}\n", test_name()));
            return false;
        }
    }
    true
}

#[test]
fn labfile_l1() {
    require_root!();
    full_cycle(&example("L1"), "L1");
}

#[test]
fn labfile_l2() {
    require_root!();
    full_cycle(&example("L2"), "L2");
}

#[test]
fn labfile_l3() {
    require_root!();
    full_cycle(&example("L3"), "L3");
}

#[test]
fn labfile_l4() {
    require_root!();
    full_cycle(&example("L4"), "L4");
}

#[test]
fn labfile_l5() {
    require_root!();
    full_cycle(&example("L5"), "L5");
}

#[test]
fn labfile_l6() {
    require_root!();
    full_cycle(&example("L6"), "L6");
}

#[test]
fn labfile_l7() {
    require_root!();
    if !need(&["dnsmasq"]) || !(have("dhclient") || need(&["busybox"])) {
        return;
    }
    full_cycle(&example("L7"), "L7");
}

#[test]
fn labfile_l8() {
    require_root!();
    if !need(&["iptables"]) {
        return;
    }
    full_cycle(&example("L8"), "L8");
}

#[test]
fn labfile_l9() {
    require_root!();
    if !need(&["iptables"]) {
        return;
    }
    full_cycle(&example("L9"), "L9");
}

#[test]
fn labfile_l10() {
    require_root!();
    full_cycle(&example("L10"), "L10");
}

#[test]
fn labfile_builtin_demo() {
    require_root!();
    full_cycle("builtin:demo", "demo");
}

/// A flow with a syntax error, late in the plan: `up` fails, names the
/// step and the flow, and removes every namespace and process it made.
#[test]
fn failing_up_removes_what_it_made_and_names_the_step() {
    require_root!();
    let tmp = TempDir::new("labfile");
    let text = std::fs::read_to_string(example("L3")).unwrap().replace(
        "name = \"vlanbr\"",
        "name = \"vlanbr\"\nflows = [\"priority=5,in_port=1,actions=frobnicate:3\"]",
    );
    let file = tmp.file("broken.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    let p = prefix();
    let _guard = Up {
        file: file.clone(),
        prefix: p.clone(),
    };
    let (o, e, c) = lab(&["up", &file, "--prefix", &p], Duration::from_secs(120));
    assert_ne!(c, 0, "up of a broken lab succeeded:\n{o}\n{e}");
    assert!(
        e.contains("failed: switch: rswitch-ofctl add-flow vlanbr priority=5,in_port=1,actions=frobnicate:3"),
        "the error names the step: {e}"
    );
    assert!(e.contains("frobnicate"), "and why: {e}");
    assert!(
        e.contains("step ") && e.contains("removing what this lab made"),
        "{e}"
    );
    // It had made namespaces and a daemon before the failure.
    assert!(o.contains("ip netns add"), "{o}");
    assert_gone(&p, "L3", &[]);
    let rswitchd_in_prefix = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|d| d.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).contains(&format!("rswitch-lab/{p}L3")))
                .unwrap_or(false)
        })
        .collect::<Vec<_>>();
    assert!(
        rswitchd_in_prefix.is_empty(),
        "rswitchd left: {rswitchd_in_prefix:?}"
    );
}

/// `up` of a lab that lost a namespace rebuilds it; checks pass again.
#[test]
fn up_twice_is_idempotent_and_repairs_a_damaged_lab() {
    require_root!();
    let file = example("L2");
    let p = prefix();
    let _guard = Up {
        file: file.clone(),
        prefix: p.clone(),
    };
    let (o, e, c) = lab(&["up", &file, "--prefix", &p], Duration::from_secs(120));
    assert_eq!(c, 0, "{o}\n{e}");
    let (o, _, c) = lab(&["up", &file, "--prefix", &p], Duration::from_secs(60));
    assert_eq!(c, 0);
    assert!(o.contains("already up"), "{o}");
    let old = recorded_pids(&lab_dir(&p, "L2"));
    ip(&["netns", "del", &format!("{p}ns2")]);
    let (o, _, c) = lab(&["status", &file, "--prefix", &p], Duration::from_secs(30));
    assert!(c != 0 && o.contains("GONE"), "{o}");
    let (o, e, c) = lab(&["up", &file, "--prefix", &p], Duration::from_secs(120));
    assert_eq!(c, 0, "{o}\n{e}");
    assert!(o.contains("partly gone") && o.contains("rebuilding"), "{o}");
    for pid in old {
        assert!(!alive(pid), "old rswitchd {pid} still running");
    }
    let (o, e, c) = lab(&["check", &file, "--prefix", &p], Duration::from_secs(120));
    assert_eq!(c, 0, "{o}\n{e}");
    let (_, _, c) = lab(&["down", &file, "--prefix", &p], Duration::from_secs(60));
    assert_eq!(c, 0);
    assert_gone(&p, "L2", &[]);
}

/// A namespace with a lab host's name that the lab did not make is left
/// alone: `up` refuses before making anything, and `down` does not touch it.
#[test]
fn existing_namespace_is_never_taken_over() {
    require_root!();
    let file = example("L2");
    let p = prefix();
    let theirs = format!("{p}ns1");
    ip(&["netns", "add", &theirs]);
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = try_ip(&["netns", "del", &self.0]);
        }
    }
    let _del = Del(theirs.clone());
    let (o, e, c) = lab(&["up", &file, "--prefix", &p], Duration::from_secs(60));
    assert_ne!(c, 0, "{o}\n{e}");
    assert!(e.contains(&theirs) && e.contains("exists already"), "{e}");
    let (_, _, c) = lab(&["down", &file, "--prefix", &p], Duration::from_secs(60));
    assert_eq!(c, 0);
    assert_eq!(namespaces_with(&p), vec![theirs.clone()]);
}

/// Ctrl-C during `up` stops after the current step and removes what was
/// made.
#[test]
fn interrupted_up_removes_what_it_made() {
    require_root!();
    let file = example("L6");
    let p = prefix();
    let _guard = Up {
        file: file.clone(),
        prefix: p.clone(),
    };
    let mut child = std::process::Command::new(RSWITCH)
        .args(["lab", "up", &file, "--prefix", &p])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rswitch lab up");
    // Interrupt once it has made a namespace and started a daemon.
    let started = wait_until(Duration::from_secs(30), || {
        !recorded_pids(&lab_dir(&p, "L6")).is_empty()
    });
    let pids = recorded_pids(&lab_dir(&p, "L6"));
    // SAFETY: kill() on the child we spawned and have not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = wait_output(&mut child, Duration::from_secs(60));
    assert!(started, "lab up never started a daemon");
    let (code, stdout, stderr) = out;
    assert_ne!(code, 0, "interrupted up succeeded:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("interrupted") || !stdout.contains("is up"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("removing what this lab made"), "{stderr}");
    assert_gone(&p, "L6", &pids);
}

/// Waits up to `limit` for `child` (then kills it); (exit, stdout, stderr).
fn wait_output(child: &mut std::process::Child, limit: Duration) -> (i32, String, String) {
    use std::io::Read as _;
    let ok = wait_until(limit, || matches!(child.try_wait(), Ok(Some(_))));
    if !ok {
        let _ = child.kill();
    }
    let st = child.wait().expect("wait");
    let mut o = String::new();
    let mut e = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut o);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut e);
    }
    (st.code().unwrap_or(-1), o, e)
}
