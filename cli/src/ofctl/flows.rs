//! Flow table commands: `add-flow(s)`, `mod-flows`, `del-flows`,
//! `replace-flows`, `diff-flows`, `dump-flows` and `dump-aggregate`.
//!
//! Every command parses all its input before touching the tables, and
//! applies a file's flow_mods as one all-or-nothing batch, so a failure
//! anywhere leaves the bridge as it was (ovs-ofctl also parses everything
//! first, but the switch applies the flow_mods before a failing one).

use std::collections::{HashMap, HashSet};

use ofproto::dump::{self, DumpOptions};
use ofproto::flow_match::Match;
use ofproto::syntax::flow::{parse_flow_mod, parse_flow_mod_with, FlowMod, FlowModCommand};
use ofproto::syntax::protocol::Protocols;
use ofproto::syntax::PortMap;
use ofproto::table::{FlowModError, FlowTables};

use super::options::Version;
use super::parse::{
    allowed_protocols, format_flow_mod, parse_file, usable_all, version_protocols, FileFlow,
};
use super::{display_port_map, fail, Ctx, Fail, Input};

/// Resolves the bridge before parsing when port names are accepted (the
/// names come from the bridge, as ovs-ofctl fetches them first), after
/// parsing otherwise; so the first error is the one ovs-ofctl reports.
fn bridge_first(ctx: &Ctx, name: &str) -> Result<Option<usize>, Fail> {
    if ctx.opts.names == Some(false) {
        Ok(None)
    } else {
        ctx.bridge(name).map(Some)
    }
}

/// `add-flow BR FLOW`, `mod-flows [--strict] BR FLOW`, `del-flows [--strict]
/// BR [FLOW]`, each also with `-` for a file of flows (for `add-flow`, lines
/// may start with `add`/`modify`/`delete`... like `add-flows`).
fn flow_mod_command(ctx: &mut Ctx, args: &[String], cmd: FlowModCommand) -> Result<i32, Fail> {
    let early = bridge_first(ctx, &args[0])?;
    let ports = early.and_then(|b| ctx.accept_ports(b));
    let allowed = version_protocols(ctx.version());
    let (flows, file) = match args.get(1) {
        Some(a) if a == "-" => {
            let text = ctx.file("-")?;
            let keywords = cmd == FlowModCommand::Add;
            (
                parse_file(&text, "-", cmd, keywords, ports.as_ref(), allowed)?,
                true,
            )
        }
        other => {
            let text = other.map_or("", String::as_str);
            let fm = parse_flow_mod_with(text, cmd, ports.as_ref(), allowed)
                .map_err(|e| Fail::Msg(e.0))?;
            let f = FileFlow {
                line: 0,
                cmd,
                text: text.to_string(),
                fm,
            };
            (vec![f], false)
        }
    };
    let b = match early {
        Some(b) => b,
        None => ctx.bridge(&args[0])?,
    };
    apply_flows(ctx, b, &flows, ports.as_ref(), file.then_some("-"))
}

pub(crate) fn add_flow(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    flow_mod_command(ctx, args, FlowModCommand::Add)
}

pub(crate) fn mod_flows(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let cmd = if ctx.opts.strict {
        FlowModCommand::ModifyStrict
    } else {
        FlowModCommand::Modify
    };
    flow_mod_command(ctx, args, cmd)
}

pub(crate) fn del_flows(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let cmd = if ctx.opts.strict {
        FlowModCommand::DeleteStrict
    } else {
        FlowModCommand::Delete
    };
    flow_mod_command(ctx, args, cmd)
}

/// `add-flows BR FILE`: the file's flows (with optional command keywords)
/// as one all-or-nothing batch.
pub(crate) fn add_flows(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let early = bridge_first(ctx, &args[0])?;
    let ports = early.and_then(|b| ctx.accept_ports(b));
    let name = &args[1];
    let text = ctx.file(name)?;
    let allowed = version_protocols(ctx.version());
    let flows = parse_file(
        &text,
        name,
        FlowModCommand::Add,
        true,
        ports.as_ref(),
        allowed,
    )?;
    let b = match early {
        Some(b) => b,
        None => ctx.bridge(&args[0])?,
    };
    apply_flows(ctx, b, &flows, ports.as_ref(), Some(name))
}

fn is_modify(c: FlowModCommand) -> bool {
    matches!(c, FlowModCommand::Modify | FlowModCommand::ModifyStrict)
}

/// Whether a modify selects any installed flow.
fn selects_any(t: &FlowTables, fm: &FlowMod) -> bool {
    t.flows().iter().any(|r| {
        let Some(m) = t.rule_match(r.table, r.id) else {
            return false;
        };
        if fm.command == FlowModCommand::ModifyStrict {
            fm.table.unwrap_or(r.table) == r.table
                && m == fm.matched
                && r.priority == fm.priority
                && (r.flow.cookie ^ fm.cookie) & fm.cookie_mask == 0
        } else {
            dump::filter_selects(fm, r.table, &m, r.flow)
        }
    })
}

/// Applies parsed flow_mods as one batch. A modify that selects nothing adds
/// its flow in OpenFlow 1.0/1.1 (the tables do that) but not from OpenFlow
/// 1.2 on, where it is dropped here (judged against the tables before the
/// batch).
fn apply_flows(
    ctx: &mut Ctx,
    b: usize,
    flows: &[FileFlow],
    ports: Option<&PortMap>,
    file: Option<&str>,
) -> Result<i32, Fail> {
    for f in flows {
        ctx.warn_flow(&f.fm);
    }
    let v = ctx.version();
    let tables = &ctx.sw.bridges[b].tables;
    let kept: Vec<usize> = (0..flows.len())
        .filter(|&i| {
            !(v >= Version::Of12
                && is_modify(flows[i].fm.command)
                && !selects_any(tables, &flows[i].fm))
        })
        .collect();
    let batch: Vec<FlowMod> = kept.iter().map(|&i| flows[i].fm.clone()).collect();
    match ctx.sw.bridges[b].tables.apply_batch(&batch, ctx.now) {
        Ok((outcome, _)) => {
            if outcome != Default::default() {
                ctx.out.changed = true;
            }
            Ok(0)
        }
        Err(FlowModError::InBatch { line, error }) => {
            let i = kept[line - 1];
            Err(switch_error(ctx, &error, flows, i, ports, file))
        }
        Err(e) => Err(switch_error(ctx, &e, flows, 0, ports, file)),
    }
}

/// A flow_mod the switch refused, printed as ovs-ofctl prints the switch's
/// error reply and the request it refers to. ovs-ofctl sends each flow_mod
/// followed by a barrier, after negotiating NXM or table ids if the flows
/// need them, which fixes the xid.
fn switch_error(
    ctx: &Ctx,
    error: &FlowModError,
    flows: &[FileFlow],
    i: usize,
    ports: Option<&PortMap>,
    file: Option<&str>,
) -> Fail {
    let code = match error {
        FlowModError::Overlap { .. } => "OFPFMFC_OVERLAP",
        FlowModError::BadTable(_) => "OFPBRC_BAD_TABLE_ID",
        FlowModError::InBatch { .. } => "OFPBRC_EPERM",
    };
    let v = ctx.version();
    let usable = usable_all(flows, ports);
    let (p, base) = if v == Version::Of10 {
        if usable.intersects(Protocols::OF10_STD) {
            (Protocols::OF10_STD, 0x6)
        } else {
            let both = usable.and(Protocols::ALLOWED).0;
            (Protocols(both & both.wrapping_neg()), 0x8)
        }
    } else {
        (version_protocols(v), 0x6)
    };
    let xid = base + 2 * i;
    let (name, body) = format_flow_mod(&flows[i].fm, p);
    let t = v.tag();
    let mut s = format!("OFPT_ERROR{t} (xid={xid:#x}): {code}\n{name}{t} (xid={xid:#x}): {body}\n");
    if let Some(name) = file {
        // ovs-ofctl leaves the flows before the refused one installed and
        // cannot say which line it was; rswitch installs none of them.
        s += &format!(
            "{}: {name}:{}: refused by the switch; no flow of the file was applied\n",
            super::PROGRAM,
            flows[i].line
        );
    }
    Fail::Raw(s)
}

/// The `dump-flows`/`dump-aggregate` filter, parsed as a non-strict delete
/// (no `priority=`, even with `--strict`, as in ovs-ofctl).
fn filter(ctx: &mut Ctx, b: usize, arg: Option<&String>) -> Result<Option<FlowMod>, Fail> {
    let Some(a) = arg else {
        return Ok(None);
    };
    let ports = ctx.accept_ports(b);
    let fm =
        parse_flow_mod(a, FlowModCommand::Delete, ports.as_ref()).map_err(|e| Fail::Msg(e.0))?;
    ctx.warn_flow(&fm);
    Ok(Some(fm))
}

/// `dump-flows BR [FLOW]`. Replies are always in OpenFlow 1.0/NXM form:
/// under `-O OpenFlow11` and later a warning says so.
pub(crate) fn dump_flows(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let filter = filter(ctx, b, args.get(1))?;
    let v = ctx.version();
    if v > Version::Of10 {
        ctx.warn(&format!(
            "flow statistics are printed as OpenFlow 1.0 (NXM) replies: rswitch does not format{} flow stats",
            v.tag()
        ));
    }
    // Pictures (issue 6): `--format=dot` draws the pipeline instead.
    if ctx.opts.format == super::options::TraceFormat::Dot {
        let dot = crate::picture::pipeline::pipeline_dot(&ctx.sw.bridges[b], filter.as_ref());
        ctx.print(&dot);
        return Ok(0);
    }
    let names = ctx.show_ports(b);
    let opts = DumpOptions {
        stats: ctx.opts.stats,
        names: names.as_ref(),
        sort: ctx.opts.sort.clone(),
        filter,
    };
    let s = dump::dump_flows(&ctx.sw.bridges[b].tables, ctx.now, &opts);
    ctx.print(&s);
    Ok(0)
}

/// `dump-aggregate BR [FLOW]`.
pub(crate) fn dump_aggregate(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let filter = filter(ctx, b, args.get(1))?;
    let s = dump::dump_aggregate(&ctx.sw.bridges[b].tables, filter.as_ref());
    let v = ctx.version();
    let s = if v > Version::Of10 {
        // An OpenFlow 1.1+ connection needs no flow format negotiation,
        // so its xids differ from NXM's.
        let counts = s.split_once("): ").map_or("", |(_, c)| c);
        let xid = if filter.is_some() { 0x6 } else { 0x2 };
        format!("OFPST_AGGREGATE reply{} (xid={xid:#x}): {counts}", v.tag())
    } else {
        s
    };
    ctx.print(&s);
    Ok(0)
}

/// Flow identity in a table, as replace-flows and diff-flows see it.
type Identity = (u8, Match, u16);

fn identity(fm: &FlowMod) -> Identity {
    (fm.table.unwrap_or(0), fm.matched, fm.priority)
}

/// `replace-flows BR FILE`: makes the bridge's flows those of the file
/// (no command keywords). Flows present on both sides unchanged keep their
/// counters; new and changed flows are added. As with Open vSwitch, an
/// OpenFlow 1.0 add restarts a changed flow's counters while OpenFlow 1.1+
/// keeps them, and `--readd` re-adds unchanged flows too.
///
/// Under OpenFlow 1.0, ovs-ofctl cannot read the switch's flows with table
/// ids, so it refuses a file that names tables; rswitch refuses it the same
/// way (use `-O OpenFlow13`).
pub(crate) fn replace_flows(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let early = bridge_first(ctx, &args[0])?;
    let ports = early.and_then(|b| ctx.accept_ports(b));
    let name = &args[1];
    let text = ctx.file(name)?;
    let flows = parse_file(
        &text,
        name,
        FlowModCommand::Add,
        false,
        ports.as_ref(),
        Protocols::ANY,
    )?;
    let b = match early {
        Some(b) => b,
        None => ctx.bridge(&args[0])?,
    };
    for f in &flows {
        ctx.warn_flow(&f.fm);
    }
    let v = ctx.version();
    // The protocols ovs-ofctl can dump flows with: no table ids in 1.0.
    let dump_protocols = match v {
        Version::Of10 => Protocols(Protocols::OF10_STD.0 | Protocols::OF10_NXM.0),
        v => version_protocols(v),
    };
    // A flow that fits a dump protocol alone is the common case; only
    // otherwise are all the protocols worked out (for the message). NXM can
    // carry whatever OpenFlow 1.0 can, so per-flow checks suffice.
    let fits =
        |f: &FileFlow| parse_flow_mod_with(&f.text, f.cmd, ports.as_ref(), dump_protocols).is_ok();
    if !flows.iter().all(fits) {
        let usable = usable_all(&flows, ports.as_ref());
        let allowed = allowed_protocols(ctx);
        return if usable.intersects(allowed) {
            fail(format!(
                "switch does not support any of the usable flow formats ({usable})"
            ))
        } else {
            fail(format!(
                "none of the usable flow formats ({usable}) is among the allowed flow formats ({allowed})"
            ))
        };
    }
    // ovs-ofctl keeps only send_flow_rem of a file flow's flags.
    let fms: Vec<FlowMod> = flows
        .into_iter()
        .map(|f| FlowMod {
            check_overlap: false,
            ..f.fm
        })
        .collect();
    let tables = &mut ctx.sw.bridges[b].tables;
    let changed = changed_flows(tables, &fms);
    let err = |e: FlowModError| Fail::Msg(e.to_string());
    tables.replace_all(&fms, ctx.now).map_err(err)?;
    if v == Version::Of10 {
        // An OpenFlow 1.0 add implies reset_counts.
        for fm in fms
            .iter()
            .filter(|f| ctx.opts.readd || changed.contains(&identity(f)))
        {
            tables.apply(fm, ctx.now).map_err(err)?;
        }
    } else if ctx.opts.readd {
        // An OpenFlow 1.1+ add of an existing flow keeps its counters and
        // restarts its age: exactly what replace_all does to a changed
        // flow, so make every flow "changed" twice (cookie flipped, then
        // back).
        let flipped: Vec<FlowMod> = fms
            .iter()
            .map(|f| FlowMod {
                new_cookie: Some(f.new_cookie.unwrap_or(0) ^ 1),
                ..f.clone()
            })
            .collect();
        tables.replace_all(&flipped, ctx.now).map_err(err)?;
        tables.replace_all(&fms, ctx.now).map_err(err)?;
    }
    ctx.out.changed = true;
    Ok(0)
}

/// The identities of `fms` that exist in `t` with other actions, cookie or
/// timeouts (the file's last duplicate wins, as in the replace).
fn changed_flows(t: &FlowTables, fms: &[FlowMod]) -> HashSet<Identity> {
    let mut wanted: HashMap<Identity, &FlowMod> = HashMap::new();
    for fm in fms {
        wanted.insert(identity(fm), fm);
    }
    let mut out = HashSet::new();
    for r in t.flows() {
        let Some(m) = t.rule_match(r.table, r.id) else {
            continue;
        };
        let key = (r.table, m, r.priority);
        if let Some(fm) = wanted.get(&key) {
            let same = *r.flow.actions == *fm.actions
                && r.flow.cookie == fm.new_cookie.unwrap_or(0)
                && r.flow.idle_timeout == fm.idle_timeout
                && r.flow.hard_timeout == fm.hard_timeout;
            if !same {
                out.insert(key);
            }
        }
    }
    out
}

/// Whether a `diff-flows` source is a file (its content was passed) or a
/// bridge. With files passed by name, listed ones are files; with stdin,
/// a source that is not a bridge is the file. Names starting with `/` or `.`
/// are files either way, as in ovs-ofctl.
fn is_file_source(ctx: &Ctx, src: &str) -> bool {
    if src.starts_with('/') || src.starts_with('.') {
        return true;
    }
    match ctx.input {
        Input::Files(files) => files.iter().any(|(n, _)| *n == src),
        Input::Stdin(Some(_)) => ctx.sw.bridge_index(src).is_none() && !src.contains(':'),
        Input::Stdin(None) => false,
    }
}

/// `diff-flows SOURCE1 SOURCE2`: prints `-` lines for flows only in (or
/// different in) the first, `+` for the second; exit 2 on differences.
///
/// Port names: like ovs-ofctl, which has a single port map, unset until a
/// bridge source is read with `--names`, files read before that must use
/// port numbers.
pub(crate) fn diff_flows(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let files: Vec<&String> = args.iter().filter(|s| is_file_source(ctx, s)).collect();
    if matches!(ctx.input, Input::Stdin(_)) && files.len() == 2 && files[0] != files[1] {
        return fail(format!(
            "diff-flows {} {}: only one file's content can come on stdin",
            files[0], files[1]
        ));
    }
    // (names accepted in files, names printed).
    let mut names: Option<(PortMap, PortMap)> = None;
    let mut sides = Vec::new();
    for src in args {
        if is_file_source(ctx, src) {
            let text = ctx.file(src)?;
            let accept = names.as_ref().map(|(a, _)| a);
            let flows = parse_file(
                &text,
                src,
                FlowModCommand::Add,
                false,
                accept,
                Protocols::ANY,
            )?;
            for f in &flows {
                ctx.warn_flow(&f.fm);
            }
            sides.push(flows.into_iter().map(|f| f.fm).collect::<Vec<_>>());
        } else {
            let b = ctx.bridge(src)?;
            let bridge = &ctx.sw.bridges[b];
            sides.push(dump::table_flow_mods(&bridge.tables));
            if names.is_none() && ctx.opts.names == Some(true) {
                names = Some((bridge.port_map(), display_port_map(bridge)));
            }
        }
    }
    let text = dump::diff_flows(&sides[0], &sides[1], names.as_ref().map(|(_, d)| d));
    ctx.print(&text);
    Ok(if text.is_empty() { 0 } else { 2 })
}
