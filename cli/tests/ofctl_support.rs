//! Shared by the `ofctl_*` tests (included with `#[path]`): a switch with a
//! fake daemon around it (port status and counters, admin state changes),
//! and readers for the recorded Open vSwitch transcripts.
#![allow(dead_code)]

use std::collections::HashMap;

use datapath::engine::PortCounters;
use ofproto::pipeline::{Bridge, FailMode, RunOptions, Switch};
use ofproto::port::{PortInfo, OFPP_LOCAL};
use ofproto::trace::parse_packet;
use ofproto::Millis;
use rswitch_cli::ofctl::{execute, execute_with_files, OfctlOutput, PortStatus, SwitchView};

/// What the daemon would know about ports.
#[derive(Default)]
pub struct FakeView {
    pub status: HashMap<(usize, u32), PortStatus>,
    pub counters: HashMap<(usize, u32), PortCounters>,
}

impl SwitchView for FakeView {
    fn port_counters(&self, bridge: usize, ofport: u32) -> PortCounters {
        self.counters
            .get(&(bridge, ofport))
            .copied()
            .unwrap_or_default()
    }

    fn port_status(&self, bridge: usize, ofport: u32) -> PortStatus {
        self.status
            .get(&(bridge, ofport))
            .cloned()
            .unwrap_or_default()
    }
}

/// A switch, its fake daemon and a clock.
pub struct Lab {
    pub sw: Switch,
    pub view: FakeView,
    pub now: Millis,
    /// Dummy ports created so far (Open vSwitch numbers their MACs).
    pub dummies: u8,
}

pub fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

impl Lab {
    pub fn new() -> Lab {
        Lab {
            sw: Switch::new(),
            view: FakeView::default(),
            now: 1_000,
            dummies: 0,
        }
    }

    /// A bridge like `ovs-vsctl add-br` with `datapath_type=netdev`: its
    /// LOCAL port is a tap device that starts down.
    pub fn add_bridge(&mut self, name: &str, mode: FailMode, mac: [u8; 6]) -> usize {
        let mut b = Bridge::new(name);
        b.set_fail_mode(mode, self.now);
        let i = self.sw.add_bridge(b);
        self.view.status.insert(
            (i, OFPP_LOCAL),
            PortStatus {
                mac: Some(mac),
                admin_up: false,
                link_up: false,
                ifname: None,
                speed_mbps: Some(10_000),
                copper: true,
                created: Some(self.now),
            },
        );
        i
    }

    /// A `type=dummy` port: up, with OVS's sequential dummy MAC.
    pub fn add_dummy(&mut self, bridge: usize, name: &str, ofport: u32) {
        self.sw.bridges[bridge].set_port(PortInfo::new(ofport, name));
        self.view.status.insert(
            (bridge, ofport),
            PortStatus {
                mac: Some([0xaa, 0x55, 0xaa, 0x55, 0x00, self.dummies]),
                created: Some(self.now),
                ..PortStatus::default()
            },
        );
        self.dummies += 1;
    }

    /// Receives `n` packets of `len` bytes described by `flow` on their
    /// `in_port`, forwarding them like the datapath (counting ports and
    /// flows).
    pub fn receive(&mut self, bridge: usize, flow: &str, n: u64, len: u64) {
        let ports = self.sw.bridges[bridge].port_map();
        let key = parse_packet(flow, Some(&ports)).expect("packet parses");
        for _ in 0..n {
            let c = self
                .view
                .counters
                .entry((bridge, key.in_port()))
                .or_default();
            c.rx_packets += 1;
            c.rx_bytes += len;
            let v = self
                .sw
                .run(bridge, &key, len, self.now, RunOptions::FORWARD);
            for o in v.outputs {
                let c = self.view.counters.entry((o.bridge, o.port)).or_default();
                c.tx_packets += 1;
                c.tx_bytes += len;
            }
        }
    }

    /// What the daemon does with a command's port admin changes (a dummy's
    /// or tap's carrier follows its admin state).
    fn apply(&mut self, out: &OfctlOutput) {
        for c in &out.port_changes {
            let s = self.view.status.entry((c.bridge, c.ofport)).or_default();
            s.admin_up = c.admin_up;
            s.link_up = c.admin_up;
        }
    }

    pub fn run(&mut self, args: &[&str], stdin: Option<&str>) -> OfctlOutput {
        let out = execute(&mut self.sw, &self.view, &argv(args), stdin, self.now);
        self.apply(&out);
        out
    }

    pub fn run_files(&mut self, args: &[String], files: &[(&str, &str)]) -> OfctlOutput {
        let out = execute_with_files(&mut self.sw, &self.view, args, files, self.now);
        self.apply(&out);
        out
    }

    /// `--no-stats dump-flows` of a bridge, for before/after comparisons.
    pub fn flows(&mut self, bridge: &str) -> String {
        let out = self.run(&["--no-stats", "dump-flows", bridge], None);
        assert_eq!(out.exit, 0, "{}", out.stderr);
        out.stdout
    }
}

/// One recorded command.
#[derive(Debug, Default, Clone)]
pub struct Section {
    pub command: String,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub exit: i32,
}

/// Reads a transcript (`### CMD`, stdout, `##! stderr`, `##? exit=N`).
pub fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("### ") {
            out.push(Section {
                command: cmd.to_string(),
                ..Section::default()
            });
        } else if let Some(s) = out.last_mut() {
            if let Some(e) = line.strip_prefix("##! ") {
                s.stderr.push(e.to_string());
            } else if let Some(x) = line.strip_prefix("##? exit=") {
                s.exit = x.parse().expect("exit status");
            } else if line.starts_with("##") {
                // comments and `##% no newline at end`
            } else {
                s.stdout.push(line.to_string());
            }
        }
    }
    out
}

/// Splits a recorded command line (POSIX single quotes only).
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Replaces timing-dependent values (`duration=`, `idle_age=`, `hard_age=`)
/// with `?`.
pub fn normalise(line: &str) -> String {
    let mut s = line.to_string();
    for key in ["duration=", "idle_age=", "hard_age="] {
        let mut from = 0;
        while let Some(i) = s[from..].find(key) {
            let start = from + i + key.len();
            let end = start
                + s[start..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 's'))
                    .unwrap_or(s.len() - start);
            s.replace_range(start..end, "?");
            from = start + 1;
        }
    }
    s
}

/// How to compare a section's stdout.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cmp {
    Ordered,
    /// The first line (a reply header) exactly, the rest as a multiset:
    /// Open vSwitch prints flows in its classifier's hash order.
    Unordered,
}

pub fn compare(mode: Cmp, want: &[String], got: &[String]) -> Result<(), String> {
    let want: Vec<String> = want.iter().map(|l| normalise(l)).collect();
    let got: Vec<String> = got.iter().map(|l| normalise(l)).collect();
    let ok = match mode {
        Cmp::Ordered => want == got,
        Cmp::Unordered => {
            let header = |v: &[String]| {
                v.first()
                    .filter(|l| !l.starts_with([' ', '-', '+']))
                    .cloned()
            };
            let (mut w, mut g) = (want.clone(), got.clone());
            w.sort();
            g.sort();
            header(&want) == header(&got) && w == g
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "    want:\n      {}\n    got:\n      {}",
            want.join("\n      "),
            got.join("\n      ")
        ))
    }
}

/// Checks rswitch's stderr against a recorded one: every `ovs-ofctl:`
/// message must appear as an `rswitch-ofctl:` line starting with the same
/// text (rswitch may name the offending token after it), every vlog WARN as
/// an `rswitch-ofctl: warning:` line, and switch error replies verbatim.
/// Open vSwitch's INFO logs (normalisations) have no counterpart, and a
/// failing command's WARN logs only lead to its message.
pub fn check_stderr(want: &[String], got: &str, exit: i32) -> Result<(), String> {
    let got_lines: Vec<&str> = got.lines().collect();
    for w in want {
        // A failing command's vlog lines explain the error message, which is
        // what is compared.
        if exit != 0 && w.contains("|WARN|") {
            continue;
        }
        let ok = if let Some(msg) = w.strip_prefix("ovs-ofctl: ") {
            got_lines
                .iter()
                .any(|g| g.starts_with(&format!("rswitch-ofctl: {msg}")))
        } else if w.contains("|WARN|") {
            let text = w.rsplit('|').next().unwrap_or("");
            got_lines
                .iter()
                .any(|g| *g == format!("rswitch-ofctl: warning: {text}"))
        } else if w.contains("|INFO|") {
            true
        } else {
            got_lines.contains(&w.as_str())
        };
        if !ok {
            return Err(format!("    stderr: want line {w:?}, got {got:?}"));
        }
    }
    Ok(())
}
