//! Printing one flow as a `dump-flows` line (with or without statistics).

use super::actions::format_actions;
use super::matches::format_match;
use super::PortMap;
use crate::action::Action;
use crate::flow_match::Match;
use crate::syntax::flow::FlowMod;
use crate::table::{Flow, FlowRef, FlowTables};
use crate::Millis;

/// Everything a dump line shows about a flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowLine<'a> {
    pub table: u8,
    pub cookie: u64,
    pub priority: u16,
    pub matched: &'a Match,
    pub actions: &'a [Action],
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub n_packets: u64,
    pub n_bytes: u64,
    pub created: Millis,
    pub modified: Millis,
    pub used: Millis,
}

impl<'a> FlowLine<'a> {
    /// The line of an installed flow; `matched` comes from
    /// [`FlowTables::rule_match`] (the classifier keeps matches compactly).
    pub fn installed(table: u8, priority: u16, matched: &'a Match, flow: &'a Flow) -> FlowLine<'a> {
        FlowLine {
            table,
            cookie: flow.cookie,
            priority,
            matched,
            actions: &flow.actions,
            idle_timeout: flow.idle_timeout,
            hard_timeout: flow.hard_timeout,
            n_packets: flow.n_packets,
            n_bytes: flow.n_bytes,
            created: flow.created,
            modified: flow.modified,
            used: flow.used,
        }
    }

    /// The line a flow_mod would install (no statistics yet).
    pub fn of_flow_mod(fm: &'a FlowMod) -> FlowLine<'a> {
        FlowLine {
            table: fm.table.unwrap_or(0),
            cookie: fm.new_cookie.unwrap_or(0),
            priority: fm.priority,
            matched: &fm.matched,
            actions: &fm.actions,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            n_packets: 0,
            n_bytes: 0,
            created: 0,
            modified: 0,
            used: 0,
        }
    }
}

/// Formats one installed flow of `tables` as a dump line.
pub fn format_installed(tables: &FlowTables, f: &FlowRef, now: Millis, style: LineStyle) -> String {
    let m = tables
        .rule_match(f.table, f.id)
        .expect("a FlowRef names a live flow");
    format_flow_line(
        &FlowLine::installed(f.table, f.priority, &m, f.flow),
        now,
        style,
    )
}

/// Which columns a dump shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct LineStyle<'a> {
    /// `duration`, `n_packets`, `n_bytes` (and `cookie`/`table` always).
    pub stats: bool,
    /// `idle_age` and `hard_age` (ovs-ofctl shows them only in its default,
    /// unsorted, numeric dump).
    pub ages: bool,
    pub ports: Option<&'a PortMap>,
}

/// Formats a duration in milliseconds as OVS's `ofp_print_duration`.
pub fn format_duration(ms: Millis) -> String {
    let sec = ms / 1000;
    let frac = ms % 1000;
    if frac == 0 {
        format!("{sec}s")
    } else {
        format!("{sec}.{frac:03}s")
    }
}

/// One `dump-flows` line, without the leading space OVS prints.
pub fn format_flow_line(f: &FlowLine, now: Millis, style: LineStyle) -> String {
    use std::fmt::Write;
    // One buffer per line, written in place: dumps of 100,000 flows must
    // not pay for a String per column.
    let mut s = String::with_capacity(160);
    if style.stats || f.cookie != 0 {
        let _ = write!(s, "cookie={:#x}, ", f.cookie);
    }
    let duration = now.saturating_sub(f.created);
    if style.stats {
        let _ = write!(s, "duration={}, ", format_duration(duration));
    }
    if style.stats || f.table != 0 {
        let _ = write!(s, "table={}, ", f.table);
    }
    if style.stats {
        let _ = write!(s, "n_packets={}, n_bytes={}, ", f.n_packets, f.n_bytes);
    }
    if f.idle_timeout != 0 {
        let _ = write!(s, "idle_timeout={}, ", f.idle_timeout);
    }
    if f.hard_timeout != 0 {
        let _ = write!(s, "hard_timeout={}, ", f.hard_timeout);
    }
    if style.stats && style.ages {
        // NXST carries ages as 16-bit counts, saturating at 65534 seconds.
        let idle_age = (now.saturating_sub(f.used) / 1000).min(65534);
        let hard_age = (now.saturating_sub(f.modified) / 1000).min(65534);
        let _ = write!(s, "idle_age={idle_age}, ");
        if hard_age != duration / 1000 {
            let _ = write!(s, "hard_age={hard_age}, ");
        }
    }
    s += &format_match(f.matched, f.priority, style.ports);
    if !s.is_empty() && !s.ends_with(' ') {
        s.push(' ');
    }
    s += "actions=";
    s += &format_actions(f.actions, style.ports);
    s
}
