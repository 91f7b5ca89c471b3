//! `rswitch lab up|down|status|check|plan FILE`: whole labs from one TOML
//! file — namespaces ("hosts"), veth links, one rswitchd per switch host,
//! bridges, ports, tunnels, flows, addresses, routes, commands — built,
//! checked and removed again. See the README's "Lab files" section.

pub mod apply;
pub mod check;
pub mod plan;
pub mod spec;
mod sys;

use std::path::Path;
use std::process::ExitCode;

use plan::Names;

/// The labs built into the binary (`builtin:NAME`): the README's demo and
/// the examples of LABS.md L1–L10.
pub const BUILTINS: &[(&str, &str)] = &[
    ("demo", include_str!("../../../examples/demo.toml")),
    ("L1", include_str!("../../../examples/L1.toml")),
    ("L2", include_str!("../../../examples/L2.toml")),
    ("L3", include_str!("../../../examples/L3.toml")),
    ("L4", include_str!("../../../examples/L4.toml")),
    ("L5", include_str!("../../../examples/L5.toml")),
    ("L6", include_str!("../../../examples/L6.toml")),
    ("L7", include_str!("../../../examples/L7.toml")),
    ("L8", include_str!("../../../examples/L8.toml")),
    ("L9", include_str!("../../../examples/L9.toml")),
    ("L10", include_str!("../../../examples/L10.toml")),
];

/// Flows files the built-in labs name.
const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "L6-br-tun-network.flows",
        include_str!("../../../examples/L6-br-tun-network.flows"),
    ),
    (
        "L6-br-tun-compute.flows",
        include_str!("../../../examples/L6-br-tun-compute.flows"),
    ),
];

const HELP: &str = "\
rswitch lab: build, check and remove whole labs described by a TOML file

usage: rswitch lab up FILE [--prefix P]      build the lab (idempotent; on failure removes what it made)
       rswitch lab check FILE [--prefix P]   run the file's checks, print a pass/fail table
       rswitch lab status [FILE] [--prefix P] show what is up (all labs without FILE)
       rswitch lab down FILE [--prefix P]    remove everything the lab made, and nothing else
       rswitch lab plan FILE [--prefix P]    print the steps `up` would run (no root needed)

FILE is a lab file, or builtin:NAME for a lab built into rswitch:
  builtin:demo   two hosts by veth and a VLAN-isolated third on one switch
  builtin:L1 … builtin:L10   the labs of LABS.md (examples/L*.toml)

--prefix P is put before every namespace name (and the lab's state
directory), so the same lab can run more than once, e.g. in parallel CI.
State: /run/rswitch-lab/<prefix><lab>/state.json (or $RSWITCH_LAB_DIR).
The lab file format is described in the README (\"Lab files\").";

/// The lab name and where it came from: `(toml text, shown name,
/// default lab name, directory for flows files)`.
fn source(file: &str) -> Result<(String, String, String, Option<std::path::PathBuf>), String> {
    if let Some(name) = file.strip_prefix("builtin:") {
        let (n, text) = BUILTINS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let all: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
                format!("no built-in lab {name:?} (built-ins: {})", all.join(", "))
            })?;
        return Ok((text.to_string(), file.to_string(), n.to_string(), None));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let p = Path::new(file);
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lab".into());
    let dir = p.parent().map(|d| d.to_path_buf()).unwrap_or_default();
    Ok((text, file.to_string(), stem, Some(dir)))
}

/// Loads and validates a lab file.
pub fn load(file: &str) -> Result<spec::Lab, String> {
    let (text, shown, stem, dir) = source(file)?;
    let read = |name: &str| -> Result<String, String> {
        match &dir {
            Some(d) => {
                let p = d.join(name);
                std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
            }
            None => BUILTIN_FILES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.to_string())
                .ok_or_else(|| format!("{name}: no such built-in file")),
        }
    };
    spec::parse(&text, &shown, &stem, &read)
}

/// Just the lab's name (for `down` and `status`, which must work even if
/// the file no longer validates).
fn lab_name(file: &str) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct NameOnly {
        name: Option<String>,
    }
    let (text, _, stem, _) = source(file)?;
    Ok(toml::from_str::<NameOnly>(&text)
        .ok()
        .and_then(|n| n.name)
        .unwrap_or(stem))
}

/// Entry point: `args` are the words after `rswitch lab`.
pub fn main(args: &[String]) -> ExitCode {
    // Hidden helpers the TCP check runs inside namespaces.
    match args.first().map(String::as_str) {
        Some("_tcp-serve") => {
            return report("_tcp-serve", check::tcp_serve(&args[1..]).map(|_| true))
        }
        Some("_tcp-send") => return report("_tcp-send", check::tcp_send(&args[1..]).map(|_| true)),
        _ => {}
    }
    let mut prefix = String::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-h" || a == "--help" || a == "help" {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        } else if let Some(p) = a.strip_prefix("--prefix=") {
            prefix = p.to_string();
        } else if a == "--prefix" {
            match args.get(i + 1) {
                Some(p) => prefix = p.clone(),
                None => return usage("--prefix needs a value"),
            }
            i += 1;
        } else if a.starts_with('-') && a.len() > 1 {
            return usage(&format!("unknown option {a}"));
        } else {
            pos.push(a.clone());
        }
        i += 1;
    }
    if !prefix.is_empty() {
        if let Err(e) = spec::valid_name(&prefix, 20) {
            return usage(&format!("--prefix {prefix:?}: {e}"));
        }
    }
    let Some(cmd) = pos.first().cloned() else {
        return usage("missing command (up, down, status, check, plan)");
    };
    let file = pos.get(1).cloned();
    if pos.len() > 2 {
        return usage(&format!("unexpected argument {:?}", pos[2]));
    }
    let what = format!("lab {cmd}");
    match (cmd.as_str(), file) {
        ("status", None) => {
            let base = Names::new("", "").base;
            let labs = apply::list(&base);
            if labs.is_empty() {
                println!("no labs are up (nothing in {})", base.display());
            }
            for l in labs {
                let names = Names {
                    prefix: String::new(),
                    lab: l,
                    base: base.clone(),
                };
                if let Err(e) = apply::status(&names) {
                    eprintln!("rswitch lab status: {e}");
                }
            }
            ExitCode::SUCCESS
        }
        (_, None) => usage(&format!("`{cmd}` needs a lab FILE")),
        ("up", Some(f)) => report(
            &what,
            load(&f).and_then(|lab| {
                let names = Names::new(&prefix, &lab.name);
                apply::up(&lab, &names, &f).map(|_| true)
            }),
        ),
        ("down", Some(f)) => report(
            &what,
            lab_name(&f).and_then(|n| apply::down(&Names::new(&prefix, &n)).map(|_| true)),
        ),
        ("status", Some(f)) => report(
            &what,
            lab_name(&f).and_then(|n| apply::status(&Names::new(&prefix, &n))),
        ),
        ("plan", Some(f)) => report(
            &what,
            load(&f).map(|lab| {
                let names = Names::new(&prefix, &lab.name);
                let steps = plan::plan(&lab, &names);
                let w = steps.len().to_string().len();
                for (i, s) in steps.iter().enumerate() {
                    println!("[{:>w$}/{}] {}", i + 1, steps.len(), s.describe());
                }
                for c in &lab.checks {
                    println!("check: {}", c.text);
                }
                true
            }),
        ),
        ("check", Some(f)) => report(&what, load(&f).and_then(|lab| run_checks(&lab, &prefix))),
        (other, _) => usage(&format!("unknown command {other:?}")),
    }
}

/// `check`: the lab must be up; prints each result and the table.
fn run_checks(lab: &spec::Lab, prefix: &str) -> Result<bool, String> {
    let names = Names::new(prefix, &lab.name);
    match apply::State::load(&names.state_file())? {
        Some(st) if st.complete => {}
        _ => {
            return Err(format!(
                "lab {prefix}{} is not up; run `rswitch lab up` first",
                lab.name
            ))
        }
    }
    if lab.checks.is_empty() {
        println!("lab {prefix}{} has no checks", lab.name);
        return Ok(true);
    }
    let n = lab.checks.len();
    let outcomes = check::run_all(lab, &names, |i, c, o| {
        println!(
            "[{}/{n}] {}: {} ({})",
            i + 1,
            c.text,
            if o.pass { "pass" } else { "FAIL" },
            o.detail
        );
    });
    println!();
    print!("{}", check::table(&lab.checks, &outcomes));
    Ok(outcomes.iter().all(|o| o.pass))
}

fn report(what: &str, r: Result<bool, String>) -> ExitCode {
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rswitch {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("rswitch lab: {msg}\n(see `rswitch lab --help`)");
    ExitCode::from(2)
}
