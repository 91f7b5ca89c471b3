//! `rswitch lab` without root: every example lab file validates and plans,
//! the built-in labs are the example files, and bad files are refused with
//! the file, line and key named and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::Command;

const RSWITCH: &str = env!("CARGO_BIN_EXE_rswitch");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn lab(args: &[&str]) -> (String, String, i32) {
    let o = Command::new(RSWITCH)
        .arg("lab")
        .args(args)
        .env(
            "RSWITCH_LAB_DIR",
            std::env::temp_dir().join("rswitch-lab-plan-test"),
        )
        .output()
        .expect("run rswitch");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn every_example_plans_and_matches_its_builtin() {
    let mut n = 0;
    for name in [
        "demo", "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "L10",
    ] {
        let f = examples().join(format!("{name}.toml"));
        let f = f.display().to_string();
        let (o, e, c) = lab(&["plan", &f]);
        assert_eq!(c, 0, "{f}: {e}");
        assert!(
            o.contains("ip netns add") && o.contains("check: "),
            "{f}: {o}"
        );
        let (b, e, c) = lab(&["plan", &format!("builtin:{name}")]);
        assert_eq!(c, 0, "builtin:{name}: {e}");
        assert_eq!(o, b, "builtin:{name} differs from {f}");
        n += 1;
    }
    assert_eq!(n, 11);
}

#[test]
fn help_lists_the_builtins() {
    let (o, _, c) = lab(&["--help"]);
    assert_eq!(c, 0);
    assert!(
        o.contains("builtin:demo") && o.contains("builtin:L1"),
        "{o}"
    );
    let (_, e, c) = lab(&["plan", "builtin:nope"]);
    assert_ne!(c, 0);
    assert!(
        e.contains("no built-in lab \"nope\"") && e.contains("demo"),
        "{e}"
    );
}

fn write(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("rswitch-labfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn bad_files_name_line_and_key() {
    let base = std::fs::read_to_string(examples().join("L3.toml")).unwrap();
    let line_of = |s: &str, pat: &str| s.lines().position(|l| l.contains(pat)).unwrap() + 1;
    for (what, text, pat, key, msg) in [
        (
            "addr",
            base.replace("198.18.1.11/24", "10.0.0.11/24"),
            "10.0.0.11",
            "addr",
            "outside 198.18.0.0/15",
        ),
        (
            "unknown key",
            base.replace(
                "name = \"vlan200net\"",
                "name = \"vlan200net\"\nadress = \"x\"",
            ),
            "adress",
            "adress",
            "unknown field",
        ),
        (
            "netns",
            base.replace("netns = \"vlan200net\"", "netns = \"nowhere\""),
            "nowhere",
            "netns",
            "unknown host \"nowhere\"",
        ),
        (
            "check",
            base.replace(
                "ping vlan200net -> 198.18.1.12: blocked",
                "ping ghost -> 198.18.1.12: blocked",
            ),
            "ghost",
            "checks",
            "unknown host \"ghost\"",
        ),
    ] {
        let f = write(&format!("{}.toml", what.replace(' ', "-")), &text);
        for cmd in ["plan", "up", "check"] {
            let (_, e, c) = lab(&[cmd, &f]);
            assert_eq!(c, 1, "{what} ({cmd}): {e}");
            let want = format!("{f}:{}: key `{key}`:", line_of(&text, pat));
            assert!(
                e.contains(&want) && e.contains(msg),
                "{what} ({cmd}): want {want} … {msg}\ngot {e}"
            );
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["frob", "x"][..],
        &["up"][..],
        &["up", "a", "b"][..],
        &["up", "x", "--prefix"][..],
        &["up", "x", "--prefix", "a b"][..],
    ] {
        let (_, e, c) = lab(args);
        assert_eq!(c, 2, "{args:?}: {e}");
        assert!(e.contains("rswitch lab:"), "{e}");
    }
}

#[test]
fn check_and_status_of_a_lab_that_is_not_up() {
    let f = examples().join("L1.toml").display().to_string();
    let (_, e, c) = lab(&["check", &f, "--prefix", "nope-"]);
    assert_eq!(c, 1);
    assert!(e.contains("lab nope-L1 is not up"), "{e}");
    let (o, _, c) = lab(&["status", &f, "--prefix", "nope-"]);
    assert_eq!(c, 1);
    assert!(o.contains("lab nope-L1: down"), "{o}");
    let (o, _, c) = lab(&["down", &f, "--prefix", "nope-"]);
    assert_eq!(c, 0);
    assert!(o.contains("not up"), "{o}");
}
