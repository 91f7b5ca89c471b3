//! The pipeline picture (`rswitch-ofctl dump-flows BR --format dot`): a
//! node per flow table listing its flows (priority, match, actions,
//! n_packets; long tables cut to [`MAX_ROWS`] rows), edges from table to
//! table for `resubmit`/`goto_table` labelled with the packets of the flows
//! taking them, dashed edges for `learn()` into a table, and edges to the
//! places packets leave by (ports, NORMAL, FLOOD, LOCAL, IN_PORT,
//! controller, drop). Pure: a function of the bridge's tables.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ofproto::action::Action;
use ofproto::pipeline::Bridge;
use ofproto::port::{
    OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX, OFPP_NORMAL,
    OFPP_TABLE,
};
use ofproto::syntax::actions::format_actions;
use ofproto::syntax::flow::FlowMod;
use ofproto::syntax::matches::format_match;
use ofproto::syntax::PortMap;
use ofproto::table::FlowRef;

use super::dot::{count, html, quote, wrap, GRAPH_STYLE};

/// Flows listed per table; the rest are summed up in a "… N more" row.
pub const MAX_ROWS: usize = 12;
/// Width of the match and actions columns, in characters, and how many
/// lines a cell may take before it is cut.
const MATCH_WIDTH: usize = 30;
const ACTIONS_WIDTH: usize = 34;
const CELL_LINES: usize = 3;

/// Where an edge leads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Table(u8),
    /// An OpenFlow port, physical or reserved.
    Port(u32),
    /// `output:REG[..]`: the text of the action.
    Reg(String),
    Controller,
    Drop,
}

/// What kind of step an edge is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Resubmit,
    Goto,
    Output,
    Learn,
    Drop,
}

/// Packets and flows behind one edge.
#[derive(Clone, Copy, Debug, Default)]
struct Weight {
    packets: u64,
    flows: usize,
}

/// The steps a flow's actions lead to.
fn steps(table: u8, actions: &[Action], ports: &PortMap) -> Vec<(Target, Kind)> {
    let mut out = Vec::new();
    let mut forwards = false;
    for a in actions {
        match a {
            Action::Output { port } => {
                forwards = true;
                let t = if *port == OFPP_CONTROLLER {
                    Target::Controller
                } else {
                    Target::Port(*port)
                };
                out.push((t, Kind::Output));
            }
            Action::Controller { .. } => {
                forwards = true;
                out.push((Target::Controller, Kind::Output));
            }
            Action::OutputReg { .. } => {
                forwards = true;
                let text = format_actions(std::slice::from_ref(a), Some(ports));
                out.push((Target::Reg(text), Kind::Output));
            }
            Action::Resubmit { table: t, .. } => {
                forwards = true;
                out.push((Target::Table(t.unwrap_or(table)), Kind::Resubmit));
            }
            Action::GotoTable(t) => {
                forwards = true;
                out.push((Target::Table(*t), Kind::Goto));
            }
            Action::Learn(l) => out.push((Target::Table(l.table), Kind::Learn)),
            _ => {}
        }
    }
    if !forwards {
        out.push((Target::Drop, Kind::Drop));
    }
    out
}

/// The bridge's port names (no reserved ports), for labels.
fn port_names(b: &Bridge) -> PortMap {
    let mut m = PortMap::new();
    for p in b.ports().iter().filter(|p| p.ofport < OFPP_MAX) {
        m.insert(p.name.clone(), p.ofport);
    }
    m
}

fn table_id(t: u8) -> String {
    quote(&format!("table:{t}"))
}

/// The node an edge from table `from` to `t` ends at. Each table has its
/// own drop node, so drops do not cross the picture.
fn target_id(from: u8, t: &Target) -> String {
    match t {
        Target::Table(n) => table_id(*n),
        Target::Port(p) => quote(&format!("port:{p}")),
        Target::Reg(r) => quote(&format!("reg:{r}")),
        Target::Controller => quote("controller"),
        Target::Drop => quote(&format!("drop:{from}")),
    }
}

/// The node of a place packets leave by.
fn exit_node(out: &mut String, from: u8, t: &Target, b: &Bridge) {
    let reserved = |name: &str, fill: &str| {
        format!("shape=box, style=\"rounded,filled\", fillcolor=\"{fill}\", color=\"#555555\", label=<<b>{name}</b>>")
    };
    let attrs = match t {
        Target::Table(_) => return,
        Target::Port(OFPP_NORMAL) => reserved("NORMAL", "#d5e8d4"),
        Target::Port(OFPP_FLOOD) => reserved("FLOOD", "#d5e8d4"),
        Target::Port(OFPP_ALL) => reserved("ALL", "#d5e8d4"),
        Target::Port(OFPP_IN_PORT) => reserved("IN_PORT", "#e1d5e7"),
        Target::Port(OFPP_TABLE) => reserved("TABLE", "#e1d5e7"),
        Target::Port(OFPP_LOCAL) => {
            let label = format!("LOCAL<br/><font point-size=\"9\">{}</font>", html(&b.name));
            reserved(&label, "#d5e8d4")
        }
        Target::Port(p) => {
            let name = b
                .port(*p)
                .map(|i| i.name.clone())
                .unwrap_or_else(|| format!("port {p}"));
            format!(
                "shape=box, style=\"rounded,filled\", fillcolor=\"#dae8fc\", color=\"#6c8ebf\", label=<<b>{}</b><br/><font point-size=\"9\">ofport {p}</font>>",
                html(&name)
            )
        }
        Target::Reg(r) => format!(
            "shape=box, style=\"rounded,filled\", fillcolor=\"#dae8fc\", color=\"#6c8ebf\", label=<<b>{}</b><br/><font point-size=\"9\">port from a field</font>>",
            html(r)
        ),
        Target::Controller => reserved("CONTROLLER<br/><font point-size=\"9\">none: dropped</font>", "#eeeeee"),
        Target::Drop => "shape=octagon, style=filled, fillcolor=\"#f8cecc\", color=\"#b85450\", fontsize=9, margin=0.02, label=<<b>drop</b>>".to_string(),
    };
    let _ = writeln!(out, "  {} [{attrs}];", target_id(from, t));
}

/// Text for a cell: wrapped after commas, at most [`CELL_LINES`] lines,
/// left-aligned.
fn cell_text(s: &str, width: usize) -> String {
    let lines: Vec<String> = wrap(s, width, CELL_LINES).iter().map(|l| html(l)).collect();
    lines.join("<br align=\"left\"/>") + "<br align=\"left\"/>"
}

/// One flow as a table row.
fn flow_row(b: &Bridge, i: usize, f: &FlowRef, names: &PortMap) -> String {
    let m = b
        .tables
        .rule_match(f.table, f.id)
        .map(|m| format_match(&m, 32768, Some(names)))
        .unwrap_or_default();
    let m = if m.is_empty() { "*".to_string() } else { m };
    let actions = format_actions(&f.flow.actions, Some(names));
    let hit = f.flow.n_packets > 0;
    let bg = if hit { " bgcolor=\"#e2f0d9\"" } else { "" };
    format!(
        "<tr><td align=\"right\"{bg}>{}</td><td align=\"left\"{bg}><font face=\"monospace\">{}</font></td><td align=\"left\"{bg}><font face=\"monospace\">{}</font></td><td align=\"right\" port=\"f{i}\"{bg}>{}</td></tr>",
        f.priority,
        cell_text(&m, MATCH_WIDTH),
        cell_text(&actions, ACTIONS_WIDTH),
        if hit { format!("<b>{}</b>", count(f.flow.n_packets)) } else { "0".to_string() }
    )
}

fn table_node(out: &mut String, b: &Bridge, t: u8, flows: &[FlowRef], names: &PortMap) {
    let packets: u64 = flows.iter().map(|f| f.flow.n_packets).sum();
    let n = flows.len();
    let mut label = String::from(
        "<table border=\"0\" cellborder=\"1\" cellspacing=\"0\" cellpadding=\"3\" bgcolor=\"white\" color=\"#9aa5b1\">",
    );
    let _ = write!(
        label,
        "<tr><td colspan=\"4\" bgcolor=\"#3b6ea5\" align=\"left\"><font color=\"white\"><b>table {t}</b>  ·  {n} flow{}  ·  {} pkts</font></td></tr>",
        if n == 1 { "" } else { "s" },
        count(packets)
    );
    label.push_str("<tr><td bgcolor=\"#e8ecf0\"><font point-size=\"9\">prio</font></td><td bgcolor=\"#e8ecf0\" align=\"left\"><font point-size=\"9\">match</font></td><td bgcolor=\"#e8ecf0\" align=\"left\"><font point-size=\"9\">actions</font></td><td bgcolor=\"#e8ecf0\"><font point-size=\"9\">n_packets</font></td></tr>");
    for (i, f) in flows.iter().take(MAX_ROWS).enumerate() {
        label.push_str(&flow_row(b, i, f, names));
    }
    if n > MAX_ROWS {
        let rest: u64 = flows[MAX_ROWS..].iter().map(|f| f.flow.n_packets).sum();
        let _ = write!(
            label,
            "<tr><td colspan=\"4\" align=\"left\" port=\"f{MAX_ROWS}\"><i>… {} more flow{} ({} pkts)</i></td></tr>",
            n - MAX_ROWS,
            if n - MAX_ROWS == 1 { "" } else { "s" },
            count(rest)
        );
    }
    label.push_str("</table>");
    let _ = writeln!(out, "  {} [shape=plain, label=<{label}>];", table_id(t));
}

/// The pipeline of bridge `b` as a DOT graph; with `filter`, only the
/// flows it selects (as `dump-flows BR FLOW` would list them).
pub fn pipeline_dot(b: &Bridge, filter: Option<&FlowMod>) -> String {
    let names = port_names(b);
    let mut tables: BTreeMap<u8, Vec<FlowRef>> = BTreeMap::new();
    for f in b.tables.flows() {
        if let Some(fm) = filter {
            let selected = b
                .tables
                .rule_match(f.table, f.id)
                .is_some_and(|m| ofproto::dump::filter_selects(fm, f.table, &m, f.flow));
            if !selected {
                continue;
            }
        }
        tables.entry(f.table).or_default().push(f);
    }
    // (table, row, target, kind): an edge leaves from the row of its flow;
    // the flows past MAX_ROWS share the "… more" row.
    let mut edges: BTreeMap<(u8, usize, Target, Kind), Weight> = BTreeMap::new();
    for (&t, flows) in &tables {
        for (i, f) in flows.iter().enumerate() {
            let row = i.min(MAX_ROWS);
            let mut seen = BTreeSet::new();
            for (target, kind) in steps(t, &f.flow.actions, &names) {
                // A flow counts once per edge even if it takes it twice.
                if seen.insert((target.clone(), kind)) {
                    let w = edges.entry((t, row, target, kind)).or_default();
                    w.packets += f.flow.n_packets;
                    w.flows += 1;
                }
            }
        }
    }
    let mut out = format!("digraph {} {{\n", quote(&format!("pipeline {}", b.name)));
    out.push_str(GRAPH_STYLE);
    let _ = writeln!(
        out,
        "  label=<<b>{}</b> pipeline  ·  {} flow table{}>; labelloc=t;",
        html(&b.name),
        tables.len(),
        if tables.len() == 1 { "" } else { "s" }
    );
    if filter.is_none() || tables.contains_key(&0) {
        out.push_str("  in [shape=cds, style=filled, fillcolor=\"#3b6ea5\", fontcolor=\"white\", label=\"packet in\"];\n");
    }
    for (&t, flows) in &tables {
        table_node(&mut out, b, t, flows, &names);
    }
    // Tables jumped to that hold no flows: a miss, so a drop.
    let empty: BTreeSet<u8> = edges
        .keys()
        .filter_map(|(_, _, t, _)| match t {
            Target::Table(n) if !tables.contains_key(n) => Some(*n),
            _ => None,
        })
        .collect();
    for t in &empty {
        let _ = writeln!(
            out,
            "  {} [shape=box, style=\"rounded,dashed\", color=\"#777777\", label=<<b>table {t}</b><br/><font point-size=\"9\">no flows (a miss drops)</font>>];",
            table_id(*t)
        );
    }
    // Exit nodes: ports shared by all tables, drops one per table.
    let exits: BTreeSet<(u8, &Target)> = edges
        .keys()
        .filter(|(_, _, t, _)| !matches!(t, Target::Table(_)))
        .map(|(from, _, t, _)| (if *t == Target::Drop { *from } else { 0 }, t))
        .collect();
    for (from, t) in exits {
        exit_node(&mut out, from, t, b);
    }
    if filter.is_some() && !tables.contains_key(&0) {
        // A filtered picture without table 0: no entry to show.
    } else if tables.contains_key(&0) || empty.contains(&0) {
        out.push_str("  in -> \"table:0\" [penwidth=2, color=\"#3b6ea5\"];\n");
    } else {
        out.push_str("  \"table:0\" [shape=box, style=\"rounded,dashed\", color=\"#777777\", label=<<b>table 0</b><br/><font point-size=\"9\">no flows (a miss drops)</font>>];\n");
        out.push_str("  in -> \"table:0\";\n");
    }
    for ((from, row, target, kind), w) in &edges {
        let pk = format!("{} pkts", count(w.packets));
        let flows = if w.flows > 1 {
            format!(" · {} flows", w.flows)
        } else {
            String::new()
        };
        let (style, label) = match kind {
            Kind::Resubmit => ("solid", format!("{pk}{flows}")),
            Kind::Goto => ("solid", format!("goto · {pk}{flows}")),
            Kind::Output => ("solid", format!("{pk}{flows}")),
            Kind::Drop => ("solid", format!("{pk}{flows}")),
            Kind::Learn => ("dashed", format!("learn(){flows}")),
        };
        let (color, width) = match kind {
            Kind::Learn => ("#9673a6", 1.5),
            Kind::Drop => ("#b85450", if w.packets > 0 { 2.0 } else { 1.0 }),
            _ if w.packets > 0 => ("#2f5d8a", 2.0),
            _ => ("#8a96a3", 1.0),
        };
        let _ = writeln!(
            out,
            "  {}:f{row}:e -> {} [style={style}, color=\"{color}\", fontcolor=\"{color}\", penwidth={width}, {}];",
            table_id(*from),
            target_id(*from, target),
            // Counts sit by the flow's row; learn() mid-edge.
            if *kind == Kind::Learn {
                format!("label={}", quote(&label))
            } else {
                format!(
                    "taillabel={}, labeldistance=2.2, labelangle=12",
                    quote(&label)
                )
            }
        );
    }
    out.push_str("}\n");
    out
}
