//! Whole-table reports as `ovs-ofctl` 3.1 prints them: `dump-flows` (with
//! `--no-stats`, `--names`, `--sort`/`--rsort` and flow filters),
//! `dump-aggregate`, and `diff-flows` between flow files and bridges.
//!
//! Everything here is a pure function of a [`FlowTables`] (and the caller's
//! clock); the CLI only prints the returned text. Every returned line ends in
//! `'\n'`, exactly as ovs-ofctl writes it to stdout.
//!
//! ## Transaction ids
//!
//! OVS prints the reply's xid, which depends on how many requests ovs-ofctl
//! sent before the dump. Against Open vSwitch with the default protocol that
//! is `0x4` for a plain `dump-flows BR`/`dump-aggregate BR` and `0x8` when a
//! filter argument is given (ovs-ofctl parses it and renegotiates the flow
//! format first, costing more round trips). rswitch has no wire protocol, so it
//! prints those two constants ([`XID_PLAIN`], [`XID_FILTERED`]) to stay
//! byte-for-byte comparable with the common case.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use crate::action::actions_output_to;
use crate::field::Field;
use crate::flow_match::Match;
use crate::port::OFPP_NONE;
use crate::syntax::actions::format_actions;
use crate::syntax::dump::{format_flow_line, FlowLine, LineStyle};
use crate::syntax::flow::{parse_flow_mod, FlowMod, FlowModCommand};
use crate::syntax::matches::format_match;
use crate::syntax::{ParseError, PortMap};
use crate::table::{Flow, FlowTables};
use crate::Millis;

/// xid OVS shows for a dump or aggregate request without a filter.
pub const XID_PLAIN: u32 = 0x4;
/// xid OVS shows when a filter argument made ovs-ofctl negotiate first.
pub const XID_FILTERED: u32 = 0x8;

/// Direction of one `--sort`/`--rsort` criterion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    /// `--sort`
    Ascending,
    /// `--rsort`
    Descending,
}

/// One `--sort[=FIELD]` or `--rsort[=FIELD]` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// `None` sorts by priority (`--sort` alone, or `--sort=priority`).
    pub field: Option<Field>,
    pub order: SortOrder,
}

impl SortKey {
    /// Sorting by priority.
    pub fn priority(order: SortOrder) -> SortKey {
        SortKey { field: None, order }
    }

    /// Parses the option's argument like ovs-ofctl's `add_sort_criterion`:
    /// absent or `priority` (any case) means priority; otherwise a field
    /// name. The error is ovs-ofctl's message.
    pub fn parse(name: Option<&str>, order: SortOrder) -> Result<SortKey, String> {
        let field = match name {
            None => None,
            Some(n) if n.eq_ignore_ascii_case("priority") => None,
            Some(n) => Some(Field::from_name(n).ok_or_else(|| format!("{n}: unknown field name"))?),
        };
        Ok(SortKey { field, order })
    }
}

/// What `dump-flows` shows and which flows.
#[derive(Clone, Debug)]
pub struct DumpOptions<'a> {
    /// `--stats` (default) or `--no-stats`.
    pub stats: bool,
    /// `--names`: print port names from this map.
    pub names: Option<&'a PortMap>,
    /// `--sort`/`--rsort` options in command-line order.
    pub sort: Vec<SortKey>,
    /// The `dump-flows BR FLOW` argument, parsed with
    /// [`FlowModCommand::Delete`] (table, non-strict match, `cookie=V/M`,
    /// `out_port`).
    pub filter: Option<FlowMod>,
}

impl Default for DumpOptions<'_> {
    /// ovs-ofctl's defaults: statistics on, numbers, unsorted, every flow.
    fn default() -> Self {
        DumpOptions {
            stats: true,
            names: None,
            sort: Vec::new(),
            filter: None,
        }
    }
}

/// Whether `filter` selects a flow, as a non-strict delete or a flow stats
/// request does: table, match at least as specific as the filter's, cookie
/// under mask, and output to `out_port` when one is given.
pub fn filter_selects(filter: &FlowMod, table: u8, matched: &Match, flow: &Flow) -> bool {
    filter.table.unwrap_or(table) == table
        && matched.is_within(&filter.matched)
        && (flow.cookie ^ filter.cookie) & filter.cookie_mask == 0
        && (filter.out_port == OFPP_NONE || actions_output_to(&flow.actions, filter.out_port))
}

/// OVS spells `tp_src`/`tp_dst` as aliases of `tcp_src`/`tcp_dst`, so a sort
/// on them treats UDP flows as not having the field.
fn ovs_sort_field(f: Field) -> Field {
    match f {
        Field::TpSrc => Field::TcpSrc,
        Field::TpDst => Field::TcpDst,
        f => f,
    }
}

/// ovs-ofctl's `compare_flows` for two flows given as (match, priority).
///
/// Each criterion in turn: priority compares numerically; a field compares
/// the match's (masked) value, except that a flow whose match does not pin
/// the field (or lacks its prerequisites) sorts after every flow that does,
/// whatever the direction. Flows that both lack the field still compare by
/// the raw value, as OVS does. When `keys` is not empty a final
/// priority-descending criterion is implied, as ovs-ofctl appends one.
pub fn compare_flows(a: (&Match, u16), b: (&Match, u16), keys: &[SortKey]) -> Ordering {
    const FINAL: SortKey = SortKey {
        field: None,
        order: SortOrder::Descending,
    };
    let tail: &[SortKey] = if keys.is_empty() { &[] } else { &[FINAL] };
    for k in keys.iter().chain(tail) {
        let ord = match k.field {
            None => a.1.cmp(&b.1),
            Some(f) => {
                let f = ovs_sort_field(f);
                let has = |m: &Match| f.prereqs_ok(&m.value, &m.mask) && m.has(f);
                let (ina, inb) = (has(a.0), has(b.0));
                if ina != inb {
                    return if ina {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    };
                }
                f.read(&a.0.value).cmp(&f.read(&b.0.value))
            }
        };
        if ord != Ordering::Equal {
            return match k.order {
                SortOrder::Ascending => ord,
                SortOrder::Descending => ord.reverse(),
            };
        }
    }
    Ordering::Equal
}

struct Selected<'a> {
    table: u8,
    priority: u16,
    matched: Match,
    flow: &'a Flow,
}

fn select<'a>(tables: &'a FlowTables, filter: Option<&FlowMod>) -> Vec<Selected<'a>> {
    tables
        .flows()
        .into_iter()
        .filter_map(|r| {
            let matched = tables.rule_match(r.table, r.id)?;
            let keep = match filter {
                Some(f) => filter_selects(f, r.table, &matched, r.flow),
                None => true,
            };
            keep.then_some(Selected {
                table: r.table,
                priority: r.priority,
                matched,
                flow: r.flow,
            })
        })
        .collect()
}

/// The text of `ovs-ofctl dump-flows BR [FLOW]` with the given options.
///
/// Only OVS's default mode (statistics on, no `--names`, no sorting) prints
/// the `NXST_FLOW reply` header and the `idle_age`/`hard_age` columns: the
/// other modes go through a different code path in ovs-ofctl that formats
/// each flow itself. Unsorted flows come by table, priority (high first),
/// then insertion; OVS's own order is its classifier's hash order, so only
/// sorted dumps are comparable line by line.
pub fn dump_flows(tables: &FlowTables, now: Millis, opts: &DumpOptions) -> String {
    let default_mode = opts.stats && opts.names.is_none() && opts.sort.is_empty();
    let mut flows = select(tables, opts.filter.as_ref());
    if !opts.sort.is_empty() {
        // Stable, so ties keep the unsorted order.
        flows.sort_by(|a, b| {
            compare_flows(
                (&a.matched, a.priority),
                (&b.matched, b.priority),
                &opts.sort,
            )
        });
    }
    let style = LineStyle {
        stats: opts.stats,
        ages: default_mode,
        ports: opts.names,
    };
    // Sized up front: growing a multi-megabyte String by doubling copies it
    // over and over and faults in fresh pages each time.
    let mut out = String::with_capacity(flows.len() * 200 + 64);
    if default_mode {
        let xid = if opts.filter.is_some() {
            XID_FILTERED
        } else {
            XID_PLAIN
        };
        out += &format!("NXST_FLOW reply (xid={xid:#x}):\n");
    }
    for s in &flows {
        let f = s.flow;
        let line = FlowLine {
            table: s.table,
            cookie: f.cookie,
            priority: s.priority,
            matched: &s.matched,
            actions: &f.actions,
            idle_timeout: f.idle_timeout,
            hard_timeout: f.hard_timeout,
            n_packets: f.n_packets,
            n_bytes: f.n_bytes,
            created: f.created,
            modified: f.modified,
            used: f.used,
        };
        out.push(' ');
        out += &format_flow_line(&line, now, style);
        out.push('\n');
    }
    out
}

/// The text of `ovs-ofctl dump-aggregate BR [FLOW]`: one line with the
/// packet, byte and flow counts of the flows `filter` selects.
pub fn dump_aggregate(tables: &FlowTables, filter: Option<&FlowMod>) -> String {
    let flows = select(tables, filter);
    let packets: u64 = flows.iter().map(|s| s.flow.n_packets).sum();
    let bytes: u64 = flows.iter().map(|s| s.flow.n_bytes).sum();
    let xid = if filter.is_some() {
        XID_FILTERED
    } else {
        XID_PLAIN
    };
    format!(
        "NXST_AGGREGATE reply (xid={xid:#x}): packet_count={packets} byte_count={bytes} flow_count={}\n",
        flows.len()
    )
}

/// The bridge's flows as `add` flow_mods, as ovs-ofctl reads a switch for
/// `diff-flows` and `replace-flows`.
///
/// `importance` is reported as 0: ovs-ofctl reads switches with OpenFlow
/// 1.0-1.3 flow stats, which cannot carry it, so OVS never sees (or diffs) a
/// bridge flow's importance unless asked for OpenFlow 1.4+.
pub fn table_flow_mods(tables: &FlowTables) -> Vec<FlowMod> {
    select(tables, None)
        .into_iter()
        .map(|s| FlowMod {
            command: FlowModCommand::Add,
            table: Some(s.table),
            priority: s.priority,
            matched: s.matched,
            actions: s.flow.actions.to_vec(),
            new_cookie: Some(s.flow.cookie),
            cookie: 0,
            cookie_mask: 0,
            idle_timeout: s.flow.idle_timeout,
            hard_timeout: s.flow.hard_timeout,
            importance: 0,
            send_flow_rem: s.flow.send_flow_rem,
            check_overlap: false,
            reset_counts: false,
            out_port: OFPP_NONE,
            warnings: Vec::new(),
        })
        .collect()
}

/// A flows file line `diff-flows`/`replace-flows` could not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffParseError {
    /// 1-based physical line number (comment and blank lines count).
    pub line: usize,
    pub error: ParseError,
}

impl fmt::Display for DiffParseError {
    /// `LINE: MESSAGE`; ovs-ofctl prints `ovs-ofctl: FILE:LINE: MESSAGE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.error)
    }
}

impl std::error::Error for DiffParseError {}

/// Parses a flows file the way `diff-flows`/`replace-flows` read one: `#`
/// starts a comment, blank lines are skipped, and every line is a flow for
/// `add` (unlike `add-flows`, no `add`/`modify`/`delete` keywords, so
/// `add priority=5,...` fails with "field add missing value").
///
/// `ports`: ovs-ofctl accepts port names here for `replace-flows`, but for
/// `diff-flows` only when a bridge was read *before* the file with `--names`
/// in effect (its port map is unset until then).
pub fn parse_flows_for_diff(
    text: &str,
    ports: Option<&PortMap>,
) -> Result<Vec<FlowMod>, DiffParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        if line.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
            continue;
        }
        let fm = parse_flow_mod(line, FlowModCommand::Add, ports)
            .map_err(|error| DiffParseError { line: i + 1, error })?;
        out.push(fm);
    }
    Ok(out)
}

/// One flow version's identity-independent part, as OVS's `fte_version`.
struct Version<'a> {
    fm: &'a FlowMod,
    /// Actions formatted without port names: OVS compares actions
    /// "stringwise".
    actions: String,
}

impl Version<'_> {
    fn cookie(&self) -> u64 {
        self.fm.new_cookie.unwrap_or(0)
    }

    fn equals(&self, o: &Version) -> bool {
        self.cookie() == o.cookie()
            && self.fm.idle_timeout == o.fm.idle_timeout
            && self.fm.hard_timeout == o.fm.hard_timeout
            && self.fm.importance == o.fm.importance
            && self.actions == o.actions
    }
}

struct Entry<'a> {
    table: u8,
    matched: Match,
    priority: u16,
    first_seen: usize,
    versions: [Option<Version<'a>>; 2],
}

/// OVS's `fte_version_format`: note the match, then space-separated extras,
/// unlike a dump line.
fn format_version(e: &Entry, v: &Version, ports: Option<&PortMap>) -> String {
    let mut s = String::new();
    if e.table != 0 {
        s += &format!("table={} ", e.table);
    }
    s += &format_match(&e.matched, e.priority, ports);
    if v.cookie() != 0 {
        s += &format!(" cookie={:#x}", v.cookie());
    }
    if v.fm.idle_timeout != 0 {
        s += &format!(" idle_timeout={}", v.fm.idle_timeout);
    }
    if v.fm.hard_timeout != 0 {
        s += &format!(" hard_timeout={}", v.fm.hard_timeout);
    }
    if v.fm.importance != 0 {
        s += &format!(" importance={}", v.fm.importance);
    }
    s += " actions=";
    s += &format_actions(&v.fm.actions, ports);
    s
}

/// The text of `ovs-ofctl diff-flows A B`, given both sides as `add` flow
/// mods (a flows file via [`parse_flows_for_diff`], a bridge via
/// [`table_flow_mods`]).
///
/// Flows are identified by (table, match, priority); a later duplicate in
/// one source replaces the earlier. Each identity whose versions differ
/// (cookie, timeouts, importance, actions) or that exists on one side only
/// prints `-A-version` and/or `+B-version`, so a changed flow is a `-` line
/// directly followed by its `+` line. The result is empty exactly when the
/// sources agree (ovs-ofctl then exits 0, otherwise 2).
///
/// Order: by table, then priority (high first), then first appearance. OVS
/// walks its classifier instead, so only the per-flow pairs are comparable.
pub fn diff_flows(a: &[FlowMod], b: &[FlowMod], ports: Option<&PortMap>) -> String {
    let mut entries: Vec<Entry> = Vec::new();
    let mut index: HashMap<(u8, Match, u16), usize> = HashMap::new();
    for (side, fms) in [a, b].into_iter().enumerate() {
        for fm in fms {
            let table = fm.table.unwrap_or(0);
            let key = (table, fm.matched, fm.priority);
            let n = entries.len();
            let i = *index.entry(key).or_insert(n);
            if i == n {
                entries.push(Entry {
                    table,
                    matched: fm.matched,
                    priority: fm.priority,
                    first_seen: n,
                    versions: [None, None],
                });
            }
            entries[i].versions[side] = Some(Version {
                fm,
                actions: format_actions(&fm.actions, None),
            });
        }
    }
    entries.sort_by(|x, y| {
        x.table
            .cmp(&y.table)
            .then(y.priority.cmp(&x.priority))
            .then(x.first_seen.cmp(&y.first_seen))
    });
    let mut out = String::new();
    for e in &entries {
        if let [Some(va), Some(vb)] = &e.versions {
            if va.equals(vb) {
                continue;
            }
        }
        for (sign, v) in ['-', '+'].into_iter().zip(&e.versions) {
            if let Some(v) = v {
                out.push(sign);
                out += &format_version(e, v, ports);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::flow::parse_flow_mod;

    fn add(t: &mut FlowTables, s: &str) {
        t.apply(&parse_flow_mod(s, FlowModCommand::Add, None).unwrap(), 0)
            .unwrap();
    }

    #[test]
    fn default_mode_has_header_and_ages_others_do_not() {
        let mut t = FlowTables::new();
        add(&mut t, "priority=5,in_port=1,actions=output:2");
        let d = dump_flows(&t, 1500, &DumpOptions::default());
        assert_eq!(
            d,
            "NXST_FLOW reply (xid=0x4):\n cookie=0x0, duration=1.500s, table=0, n_packets=0, n_bytes=0, idle_age=1, priority=5,in_port=1 actions=output:2\n"
        );
        let opts = DumpOptions {
            sort: vec![SortKey::priority(SortOrder::Ascending)],
            ..DumpOptions::default()
        };
        assert_eq!(
            dump_flows(&t, 1500, &opts),
            " cookie=0x0, duration=1.500s, table=0, n_packets=0, n_bytes=0, priority=5,in_port=1 actions=output:2\n"
        );
        let opts = DumpOptions {
            stats: false,
            ..DumpOptions::default()
        };
        assert_eq!(
            dump_flows(&t, 1500, &opts),
            " priority=5,in_port=1 actions=output:2\n"
        );
    }

    #[test]
    fn empty_dumps() {
        let t = FlowTables::new();
        assert_eq!(
            dump_flows(&t, 0, &DumpOptions::default()),
            "NXST_FLOW reply (xid=0x4):\n"
        );
        assert_eq!(
            dump_aggregate(&t, None),
            "NXST_AGGREGATE reply (xid=0x4): packet_count=0 byte_count=0 flow_count=0\n"
        );
        assert_eq!(diff_flows(&[], &[], None), "");
    }

    #[test]
    fn sort_key_parsing() {
        assert_eq!(
            SortKey::parse(Some("PRIORITY"), SortOrder::Ascending),
            Ok(SortKey::priority(SortOrder::Ascending))
        );
        assert_eq!(
            SortKey::parse(Some("tp_dst"), SortOrder::Descending)
                .unwrap()
                .field,
            Some(Field::TpDst)
        );
        assert_eq!(
            SortKey::parse(Some("bogus"), SortOrder::Ascending),
            Err("bogus: unknown field name".into())
        );
    }

    #[test]
    fn missing_field_sorts_last_both_ways() {
        let m = |s: &str| {
            parse_flow_mod(s, FlowModCommand::Delete, None)
                .unwrap()
                .matched
        };
        let (tcp, udp, none) = (m("tcp,tp_dst=80"), m("udp,tp_dst=53"), m("in_port=1"));
        for order in [SortOrder::Ascending, SortOrder::Descending] {
            let k = [SortKey {
                field: Some(Field::TpDst),
                order,
            }];
            assert_eq!(compare_flows((&tcp, 1), (&none, 1), &k), Ordering::Less);
            // tp_dst is tcp_dst to OVS: the UDP flow lacks it.
            assert_eq!(compare_flows((&tcp, 1), (&udp, 1), &k), Ordering::Less);
        }
    }

    #[test]
    fn diff_pairs_changed_flows() {
        let p = |s: &str| parse_flows_for_diff(s, None).unwrap();
        let a = p("priority=5,in_port=1,actions=output:2\ntable=1,in_port=2,actions=drop\n");
        let b =
            p("# c\npriority=5,in_port=1,actions=output:3\ncookie=0x7,in_port=9,actions=drop\n");
        assert_eq!(
            diff_flows(&a, &b, None),
            "+in_port=9 cookie=0x7 actions=drop\n\
             -priority=5,in_port=1 actions=output:2\n+priority=5,in_port=1 actions=output:3\n\
             -table=1 in_port=2 actions=drop\n"
        );
        let e = parse_flows_for_diff("\n\nadd in_port=1,actions=drop", None).unwrap_err();
        assert_eq!(e.to_string(), "3: field add missing value");
    }
}
