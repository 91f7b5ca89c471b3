//! Replays the real Open vSwitch 3.1 transcript `data/vsctl_golden.txt`
//! (recorded by `tests/ovs/gen-vsctl-golden.sh`) against `vsctl::execute`,
//! command by command on one evolving database, and compares exit codes,
//! stdout and stderr.
//!
//! Both sides are normalised the same way: UUIDs → `<uuid>`, the version
//! string → `"<version>"`, `ovs-vsctl:` → `rswitch:`, OVS's vlog lines
//! (`…|WARN|…`) dropped from stderr, `list`-format lines of columns rswitch
//! does not have or that are runtime status (link state, MAC, datapath id:
//! the daemon's business) dropped, and row blocks / `show` ports sorted
//! (OVS prints rows in random UUID order).  The deliberate differences are
//! listed in [`EXCEPTIONS`], each with its reason.

use std::collections::BTreeSet;

use rswitch_cli::vsctl::{execute, Db, RSWITCH_VERSION};

/// What to expect from rswitch where it deliberately differs from OVS.
enum Expect {
    /// rswitch refuses the command: exit 1 and a message containing this.
    Refused(&'static str),
    /// rswitch succeeds and prints exactly this.
    Prints(&'static str),
    /// Not run: it only undoes, in OVS, something rswitch refused.
    Skip,
}

/// Deliberate differences, by exact command line, with the reason.
const EXCEPTIONS: &[(&str, Expect, &str)] = &[
    ("add-br br3 brf 100", Expect::Refused("fake bridges"), "fake (VLAN) bridges are not supported; a port with tag= does the same"),
    ("del-br br3", Expect::Skip, "removes the fake bridge OVS created above"),
    ("get Interface p2 bfd", Expect::Refused("column bfd of table Interface is not supported by rswitch"), "BFD is not implemented"),
    ("--id=@p create Port name=x", Expect::Refused("not supported by rswitch"), "records are only created by add-br/add-port"),
    ("create Bridge name=x", Expect::Refused("not supported by rswitch"), "records are only created by add-br/add-port"),
    ("destroy Port nosuch", Expect::Refused("not supported by rswitch"), "records are only deleted by del-br/del-port"),
    ("set-controller br0 tcp:127.0.0.1:6653", Expect::Refused("not supported by rswitch"), "rswitch has no OpenFlow controller connection"),
    ("get-controller br0", Expect::Prints(""), "there is never a controller (OVS shows the one set above)"),
    ("set-manager ptcp:6640", Expect::Refused("not supported by rswitch"), "there is no OVSDB manager"),
    ("get-manager", Expect::Prints(""), "there is never a manager (OVS shows the one set above)"),
    ("add-bond brb bond0 b5 b6 -- set interface b5 type=internal -- set interface b6 type=internal", Expect::Refused("not supported by rswitch"), "bonds are not implemented (one interface per port)"),
    ("set Bridge brp ports=[]", Expect::Refused("cannot be modified in rswitch"), "ports change only through add-port/del-port"),
    ("set Interface p2 type=geneve", Expect::Refused("type \"geneve\" is not supported by rswitch"), "OVS accepts any type and reports failure later in Interface:error; rswitch refuses types it does not implement up front"),
    ("set Port p2 vlan_mode=dot1q-tunnel", Expect::Refused("not supported by rswitch"), "rswitch's NORMAL implements access, trunk and the native modes only"),
];

#[derive(Debug)]
struct Case {
    line_no: usize,
    command: String,
    stdout: String,
    stderr: Vec<String>,
    exit: i32,
}

fn load() -> Vec<Case> {
    let text = include_str!("data/vsctl_golden.txt");
    let mut cases: Vec<Case> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(cmd) = line.strip_prefix("### ovs-vsctl ") {
            cases.push(Case {
                line_no: n + 1,
                command: cmd.to_string(),
                stdout: String::new(),
                stderr: Vec::new(),
                exit: 0,
            });
        } else if line.starts_with("### ovs-vsctl") {
            cases.push(Case {
                line_no: n + 1,
                command: String::new(),
                stdout: String::new(),
                stderr: Vec::new(),
                exit: 0,
            });
        } else if let Some(c) = cases.last_mut() {
            if let Some(e) = line.strip_prefix("##! ") {
                c.stderr.push(e.to_string());
            } else if let Some(x) = line.strip_prefix("##? exit=") {
                c.exit = x.parse().expect("exit code");
            } else if line == "##% no newline at end" {
                c.stdout.pop();
            } else if line.starts_with("## ") || line.starts_with("# ") {
                // comment
            } else {
                c.stdout.push_str(line);
                c.stdout.push('\n');
            }
        }
    }
    cases
}

/// POSIX shell word splitting for the transcript's command lines ('...',
/// "..." and backslashes; no expansions).
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                cur.push(n);
                                chars.next();
                            }
                            _ => cur.push('\\'),
                        },
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

fn is_uuid_at(b: &[u8], i: usize) -> bool {
    b.len() >= i + 36
        && (0..36).all(|k| match k {
            8 | 13 | 18 | 23 => b[i + k] == b'-',
            _ => b[i + k].is_ascii_hexdigit() && !b[i + k].is_ascii_uppercase(),
        })
}

fn replace_uuids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if is_uuid_at(b, i) {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The heading of a `list`-format line (`name                : value`).
fn list_heading(line: &str) -> Option<&str> {
    let (head, _) = line.split_once(": ")?;
    let name = head.trim_end();
    (!name.is_empty() && name.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')).then_some(name)
}

fn sort_blocks(s: &str) -> String {
    let trailing = s.ends_with('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    let mut blocks: Vec<&str> = body.split("\n\n").collect();
    blocks.sort_unstable();
    let mut out = blocks.join("\n\n");
    if trailing {
        out.push('\n');
    }
    out
}

/// Sorts bridges and each bridge's ports in `show` output.
fn sort_show(s: &str) -> String {
    let mut lines = s.lines();
    let head = lines.next().unwrap_or_default().to_string();
    let mut bridges: Vec<(String, Vec<String>, Vec<Vec<String>>)> = Vec::new();
    let mut trailer = Vec::new();
    for line in lines {
        if line.starts_with("    Bridge ") {
            bridges.push((line.to_string(), Vec::new(), Vec::new()));
        } else if let (true, Some(b)) = (line.starts_with("        Port "), bridges.last_mut()) {
            b.2.push(vec![line.to_string()]);
        } else if let (true, Some(p)) = (
            line.starts_with("            "),
            bridges.last_mut().and_then(|b| b.2.last_mut()),
        ) {
            p.push(line.to_string());
        } else if let (true, Some(b)) = (line.starts_with("        "), bridges.last_mut()) {
            b.1.push(line.to_string());
        } else {
            trailer.push(line.to_string());
        }
    }
    bridges.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = vec![head];
    for (b, attrs, mut ports) in bridges {
        out.push(b);
        out.extend(attrs);
        ports.sort();
        out.extend(ports.into_iter().flatten());
    }
    out.extend(trailer);
    out.join("\n") + "\n"
}

/// Normalises stdout of either side (see the module comment).
fn canonical(stdout: &str, compared: &BTreeSet<String>) -> String {
    let s = replace_uuids(stdout).replace(&format!("\"{RSWITCH_VERSION}\""), "\"<version>\"");
    if s.starts_with("<uuid>\n    ") {
        return sort_show(&s);
    }
    let kept: Vec<&str> = s
        .split_inclusive('\n')
        .filter(|l| match list_heading(l) {
            Some(h) => compared.contains(h),
            None => true,
        })
        .collect();
    let s = kept.concat();
    if s.trim_end_matches('\n').contains("\n\n") {
        sort_blocks(&s)
    } else {
        s
    }
}

/// Columns whose `list` lines are compared: the ones rswitch prints, except
/// runtime status, which the daemon fills from real devices.
fn compared_columns() -> BTreeSet<String> {
    let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let (db, _) = execute(&Db::new(), &args("add-br b -- add-port b p")).unwrap();
    let mut cols = BTreeSet::new();
    for t in ["Open_vSwitch", "Bridge", "Port", "Interface"] {
        let (_, out) = execute(&db, &args(&format!("list {t}"))).unwrap();
        cols.extend(out.lines().filter_map(list_heading).map(String::from));
    }
    for runtime in ["admin_state", "link_state", "mac_in_use", "datapath_id"] {
        assert!(cols.remove(runtime), "{runtime} should be a column");
    }
    cols
}

#[test]
fn replay_ovs_transcript() {
    let compared = compared_columns();
    let cases = load();
    assert!(cases.len() > 400, "transcript has {} cases", cases.len());
    let mut db = Db::new();
    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    let (mut same, mut excepted) = (0, 0);
    for case in &cases {
        let argv = shell_words(&case.command);
        let result = execute(&db, &argv);
        let exception = EXCEPTIONS.iter().find(|(line, ..)| *line == case.command);
        if let Some((line, expect, _why)) = exception {
            used.insert(*line);
            excepted += 1;
            match (expect, &result) {
                (Expect::Skip, _) => continue,
                (Expect::Refused(msg), Err(e)) if e.exit_code == 1 && e.message.contains(msg) => {}
                (Expect::Prints(out), Ok((_, got))) if got == out => {}
                _ => failures.push(format!(
                    "line {}: `{}`: expected {}, got {:?}",
                    case.line_no,
                    case.command,
                    match expect {
                        Expect::Refused(m) => format!("refusal containing {m:?}"),
                        Expect::Prints(o) => format!("output {o:?}"),
                        Expect::Skip => unreachable!(),
                    },
                    result
                )),
            }
            if let Ok((new, _)) = result {
                db = new;
            }
            continue;
        }
        let want_err: Vec<String> = case
            .stderr
            .iter()
            .filter(|l| !l.contains("|WARN|") && !l.contains("|INFO|"))
            .map(|l| l.replacen("ovs-vsctl: ", "rswitch: ", 1))
            .collect();
        let (code, out, err) = match &result {
            Ok((_, out)) => (0, out.clone(), Vec::new()),
            Err(e) => (
                e.exit_code,
                String::new(),
                e.stderr().lines().map(String::from).collect(),
            ),
        };
        let want_out = canonical(&case.stdout, &compared);
        let got_out = canonical(&out, &compared);
        if code != case.exit || got_out != want_out || err != want_err {
            failures.push(format!(
                "line {}: `{}`\n  exit: ovs {} rswitch {}\n  stderr ovs: {:?}\n  stderr rsw: {:?}\n  stdout ovs:\n{}  stdout rsw:\n{}",
                case.line_no, case.command, case.exit, code, want_err, err, want_out, got_out
            ));
        } else {
            same += 1;
        }
        if let Ok((new, _)) = result {
            db = new;
        }
    }
    for (line, _, why) in EXCEPTIONS {
        assert!(
            used.contains(line),
            "exception not in transcript: {line} ({why})"
        );
    }
    println!(
        "{} cases: {same} identical to Open vSwitch, {excepted} documented exceptions",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Open vSwitch:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn shell_words_split_like_sh() {
    assert_eq!(
        shell_words(r#"set Interface p2 'external_ids:k="a b"' other-config:hwaddr=\"02\" "x\"y""#),
        vec![
            "set",
            "Interface",
            "p2",
            "external_ids:k=\"a b\"",
            "other-config:hwaddr=\"02\"",
            "x\"y"
        ]
    );
    assert_eq!(
        shell_words("add Port p2 trunks ''"),
        vec!["add", "Port", "p2", "trunks", ""]
    );
}
