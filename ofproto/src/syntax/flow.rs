//! Whole flow strings: `table=0,priority=1,in_port=1 actions=...` parsed into
//! flow-mod requests, and files of them (`ovs-ofctl add-flows` format).

use super::actions::{parse_actions, ActionContext};
use super::matches::{apply_protocol, normalize, parse_field_value, set_field_in_match};
use super::value::parse_uint;
use super::{err, KeyValues, ParseError, ParseResult, PortMap};
use crate::action::Action;
use crate::field::Field;
use crate::flow_match::Match;
use crate::learn::DEFAULT_PRIORITY;

/// What a flow-mod asks the table to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowModCommand {
    Add,
    Modify,
    ModifyStrict,
    Delete,
    DeleteStrict,
}

impl FlowModCommand {
    pub fn has_actions(self) -> bool {
        matches!(self, FlowModCommand::Add | FlowModCommand::Modify | FlowModCommand::ModifyStrict)
    }
}

/// A parsed flow-mod: the flow string plus the command it is used with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowMod {
    pub command: FlowModCommand,
    /// `None` means "all tables" for modify/delete and table 0 for add.
    pub table: Option<u8>,
    pub priority: u16,
    pub matched: Match,
    pub actions: Vec<Action>,
    /// The cookie to set (add/modify), when given.
    pub new_cookie: Option<u64>,
    /// Cookie filter for modify/delete (`cookie=V/M`).
    pub cookie: u64,
    pub cookie_mask: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub importance: u16,
    pub send_flow_rem: bool,
    pub check_overlap: bool,
    pub reset_counts: bool,
    /// `out_port=` filter for delete (OFPP_NONE when absent).
    pub out_port: u32,
    /// Fields dropped because their prerequisites were missing (OVS drops
    /// them silently; rswitch says so).
    pub warnings: Vec<String>,
}

impl FlowMod {
    fn new(command: FlowModCommand) -> FlowMod {
        FlowMod {
            command,
            table: None,
            priority: DEFAULT_PRIORITY,
            matched: Match::CATCHALL,
            actions: Vec::new(),
            new_cookie: None,
            cookie: 0,
            cookie_mask: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            importance: 0,
            send_flow_rem: false,
            check_overlap: false,
            reset_counts: false,
            out_port: crate::port::OFPP_NONE,
            warnings: Vec::new(),
        }
    }
}

fn str_to_u16(s: &str, name: &str) -> ParseResult<u16> {
    parse_uint(s)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| ParseError(format!("invalid {name} \"{s}\"")))
}

fn str_to_u64(s: &str) -> ParseResult<u64> {
    parse_uint(s)
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| ParseError(format!("invalid numeric format {s}")))
}

/// Finds `actions=` the way OVS does (the first "action" substring).
fn split_actions(s: &str) -> (&str, Option<&str>) {
    match s.find("action") {
        Some(i) => {
            let after = &s[i + 1..];
            let acts = after.find('=').map(|j| &after[j + 1..]);
            (&s[..i], acts)
        }
        None => (s, None),
    }
}

/// Parses a flow string for `command`, like `ovs-ofctl add-flow BR FLOW`.
pub fn parse_flow_mod(s: &str, command: FlowModCommand, ports: Option<&PortMap>) -> ParseResult<FlowMod> {
    let mut fm = FlowMod::new(command);
    let (match_part, act_str) = if command.has_actions() {
        let (m, a) = split_actions(s);
        match a {
            Some(a) => (m, Some(a)),
            None => return err("must specify an action"),
        }
    } else {
        (s, None)
    };
    let strict = matches!(command, FlowModCommand::ModifyStrict | FlowModCommand::DeleteStrict);
    let allows_priority = command != FlowModCommand::Delete;
    let allows_flags = command.has_actions();
    let allows_out_port = matches!(command, FlowModCommand::Delete | FlowModCommand::DeleteStrict);
    let mut seen: Vec<Field> = Vec::new();
    for (name, value) in KeyValues::new(match_part) {
        if apply_protocol(&mut fm.matched, name) {
            continue;
        }
        match name {
            "send_flow_rem" if allows_flags => fm.send_flow_rem = true,
            "check_overlap" if allows_flags => fm.check_overlap = true,
            "reset_counts" if allows_flags => fm.reset_counts = true,
            "no_packet_counts" | "no_byte_counts" if allows_flags => {}
            "no_readonly_table" | "allow_hidden_fields" => {}
            _ => {
                if let Some(field) = Field::from_name(name) {
                    let v = if value.is_empty() { "0/0" } else { value };
                    // An in_port_oxm name is internal; treat like unknown.
                    if field == Field::InPortOxm {
                        return err(format!("unknown keyword {name}"));
                    }
                    let (val, mask) = parse_field_value(field, v, ports)?;
                    if mask != 0 && seen.contains(&field) {
                        return err(format!("{name}: field specified more than once"));
                    }
                    seen.push(field);
                    set_field_in_match(&mut fm.matched, field, val, mask);
                    continue;
                }
                if value.is_empty() {
                    return err(format!("field {name} missing value"));
                }
                match name {
                    "table" => {
                        let t = parse_uint(value)
                            .and_then(|t| u8::try_from(t).ok())
                            .ok_or_else(|| ParseError(format!("unknown table \"{value}\"")))?;
                        if t == 255 {
                            if command == FlowModCommand::Add {
                                return err(format!("unknown table \"{value}\""));
                            }
                            fm.table = None;
                        } else {
                            fm.table = Some(t);
                        }
                    }
                    "out_port" if allows_out_port => {
                        fm.out_port = super::matches::parse_port(value, ports)
                            .ok_or_else(|| ParseError(format!("{value} is not a valid OpenFlow port")))?;
                    }
                    "priority" if allows_priority => fm.priority = str_to_u16(value, name)?,
                    "idle_timeout" if allows_flags => fm.idle_timeout = str_to_u16(value, name)?,
                    "hard_timeout" if allows_flags => fm.hard_timeout = str_to_u16(value, name)?,
                    "importance" if command == FlowModCommand::Add => fm.importance = str_to_u16(value, name)?,
                    "cookie" => {
                        if let Some((v, m)) = value.split_once('/') {
                            if command == FlowModCommand::Add {
                                return err("flow additions cannot use a cookie mask");
                            }
                            fm.cookie = str_to_u64(v)?;
                            fm.cookie_mask = if m == "-1" { u64::MAX } else { str_to_u64(m)? };
                        } else {
                            if !command.has_actions() {
                                return err("cannot set cookie");
                            }
                            fm.new_cookie = Some(str_to_u64(value)?);
                        }
                    }
                    "duration" | "n_packets" | "n_bytes" | "idle_age" | "hard_age" => {}
                    _ => return err(format!("unknown keyword {name}")),
                }
            }
        }
    }
    let _ = strict;
    let dropped = normalize(&mut fm.matched);
    for d in dropped {
        fm.warnings.push(format!(
            "{d}: dropped from the match because its prerequisites are missing (Open vSwitch drops it silently)"
        ));
    }
    if let Some(a) = act_str {
        let ctx = ActionContext {
            ports,
            table: fm.table.unwrap_or(0),
            matched: &fm.matched,
        };
        fm.actions = parse_actions(a, &ctx)?;
    }
    Ok(fm)
}

/// Parses one line of a flows file: an optional `add`/`modify`/`delete`/
/// `modify_strict`/`delete_strict` prefix, then a flow. `default` is the
/// command when there is no prefix.
pub fn parse_flow_line(line: &str, default: FlowModCommand, ports: Option<&PortMap>) -> ParseResult<FlowMod> {
    let t = line.trim_start();
    let word_end = t.find([' ', '\t', ',']).unwrap_or(t.len());
    let word = &t[..word_end];
    let (cmd, rest) = match word {
        "add" => (FlowModCommand::Add, &t[word_end..]),
        "modify" => (FlowModCommand::Modify, &t[word_end..]),
        "modify_strict" => (FlowModCommand::ModifyStrict, &t[word_end..]),
        "delete" => (FlowModCommand::Delete, &t[word_end..]),
        "delete_strict" => (FlowModCommand::DeleteStrict, &t[word_end..]),
        _ => (default, t),
    };
    parse_flow_mod(rest, cmd, ports)
}

/// Parses a flows file: blank lines and `#` comments are skipped. Errors
/// name the line number. Nothing is applied by parsing.
pub fn parse_flows_file(text: &str, default: FlowModCommand, ports: Option<&PortMap>) -> ParseResult<Vec<FlowMod>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = match raw.find('#') {
            Some(h) => &raw[..h],
            None => raw,
        };
        if line.trim().is_empty() {
            continue;
        }
        let fm = parse_flow_line(line, default, ports)
            .map_err(|e| ParseError(format!("line {}: {}", i + 1, e.0)))?;
        out.push(fm);
    }
    Ok(out)
}
