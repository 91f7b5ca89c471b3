//! Flow files, OpenFlow "protocols", and `parse-flow`/`parse-flows`: what
//! ovs-ofctl would send for a flow, printed as it prints a flow_mod.

use ofproto::port::OFPP_NONE;
use ofproto::syntax::actions::format_actions;
use ofproto::syntax::flow::{parse_flow_mod_with, FlowMod, FlowModCommand};
use ofproto::syntax::matches::{format_match, format_port};
use ofproto::syntax::protocol::Protocols;
use ofproto::syntax::PortMap;

use super::options::Version;
use super::{fail, Ctx, Fail};

/// The flow-mod protocols a connection of version `v` can use (ovs-ofctl can
/// switch between OpenFlow 1.0 and NXM on an OpenFlow 1.0 connection only).
pub(crate) fn version_protocols(v: Version) -> Protocols {
    match v {
        Version::Of10 => Protocols::ALLOWED,
        Version::Of11 => Protocols::OF11_STD,
        Version::Of12 => Protocols::OF12_OXM,
        Version::Of13 => Protocols::OF13_OXM,
        Version::Of14 => Protocols::OF14_OXM,
        Version::Of15 => Protocols::OF15_OXM,
    }
}

/// Every protocol of the versions `-O` allows.
pub(crate) fn allowed_protocols(ctx: &Ctx) -> Protocols {
    Protocols(
        ctx.opts
            .versions
            .iter()
            .fold(0, |acc, &v| acc | version_protocols(v).0),
    )
}

/// The protocols that can carry `text` as a `cmd` flow_mod (ovs-ofctl's
/// `usable_protocols`). The library reports only whether the flow fits the
/// allowed set, so each protocol is tried alone.
pub(crate) fn usable_protocols(
    text: &str,
    cmd: FlowModCommand,
    ports: Option<&PortMap>,
) -> Protocols {
    let bits = (0..9)
        .filter(|b| parse_flow_mod_with(text, cmd, ports, Protocols(1 << b)).is_ok())
        .fold(0u16, |acc, b| acc | (1 << b));
    Protocols(bits)
}

/// One flow of a flows file.
pub(crate) struct FileFlow {
    /// 1-based line number.
    pub line: usize,
    pub cmd: FlowModCommand,
    /// The flow text, without a command keyword.
    pub text: String,
    pub fm: FlowMod,
}

/// The command a flows-file line starts with, like the library's (and
/// OVS's) keyword rule: any prefix of `add`, `delete`, `delete_strict`,
/// `modify`, `modify_strict`, ended by white space or a comma.
fn split_keyword(line: &str) -> Option<(FlowModCommand, &str)> {
    use FlowModCommand as C;
    let t = line.trim_start_matches([' ', '\t', '\r', '\n']);
    let end = t.find([' ', '\t', ',', '\r', '\n']).unwrap_or(t.len());
    let word = &t[..end];
    if word.is_empty() {
        return None;
    }
    [
        ("add", C::Add),
        ("delete", C::Delete),
        ("delete_strict", C::DeleteStrict),
        ("modify", C::Modify),
        ("modify_strict", C::ModifyStrict),
    ]
    .iter()
    .find(|(n, _)| n.starts_with(word))
    .map(|&(_, c)| (c, &t[end..]))
}

/// Parses a flows file as ovs-ofctl does: `#` starts a comment, blank lines
/// are skipped, and with `keywords` a line may start with a command (the
/// `add-flows` format). Errors read `FILE:LINE: message`. Nothing is
/// applied.
pub(crate) fn parse_file(
    text: &str,
    file: &str,
    default: FlowModCommand,
    keywords: bool,
    ports: Option<&PortMap>,
    allowed: Protocols,
) -> Result<Vec<FileFlow>, Fail> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        if line.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
            continue;
        }
        let (cmd, flow) = match keywords.then(|| split_keyword(line)).flatten() {
            Some(x) => x,
            None => (default, line),
        };
        let fm = parse_flow_mod_with(flow, cmd, ports, allowed)
            .map_err(|e| Fail::Msg(format!("{file}:{}: {e}", i + 1)))?;
        out.push(FileFlow {
            line: i + 1,
            cmd,
            text: flow.to_string(),
            fm,
        });
    }
    Ok(out)
}

/// The protocols all `flows` can be sent with.
pub(crate) fn usable_all(flows: &[FileFlow], ports: Option<&PortMap>) -> Protocols {
    flows.iter().fold(Protocols::ANY, |acc, f| {
        acc.and(usable_protocols(&f.text, f.cmd, ports))
    })
}

/// Whether a protocol sends the flow_mod's table id.
fn has_table_id(p: Protocols) -> bool {
    p.intersects(Protocols::TID)
}

/// The message name and body of a flow_mod sent with protocol `p` (a single
/// protocol), as `ofputil_flow_mod_format` prints it: command, table (only
/// when the protocol carries one; 255 means "all" for an add), match with
/// priority, then cookie, timeouts, out_port, flags and actions. Importance
/// needs OpenFlow 1.4, which rswitch does not encode.
pub(crate) fn format_flow_mod(fm: &FlowMod, p: Protocols) -> (&'static str, String) {
    use FlowModCommand as C;
    let name = if p.intersects(Protocols::NXM_ANY) {
        "NXT_FLOW_MOD"
    } else {
        "OFPT_FLOW_MOD"
    };
    let mut s = String::from(match fm.command {
        C::Add => "ADD",
        C::Modify => "MOD",
        C::ModifyStrict => "MOD_STRICT",
        C::Delete => "DEL",
        C::DeleteStrict => "DEL_STRICT",
    });
    if has_table_id(p) {
        let t = fm.table.unwrap_or(255);
        if t != 0 {
            s += &format!(" table:{t}");
        }
    }
    s.push(' ');
    s += &format_match(&fm.matched, fm.priority, None);
    if !s.ends_with(' ') {
        s.push(' ');
    }
    if let Some(c) = fm.new_cookie.filter(|&c| c != 0 && c != u64::MAX) {
        s += &format!("cookie:{c:#x} ");
    }
    if fm.cookie_mask != 0 {
        s += &format!("cookie:{:#x}/{:#x} ", fm.cookie, fm.cookie_mask);
    }
    if fm.idle_timeout != 0 {
        s += &format!("idle:{} ", fm.idle_timeout);
    }
    if fm.hard_timeout != 0 {
        s += &format!("hard:{} ", fm.hard_timeout);
    }
    if fm.out_port != OFPP_NONE {
        s += &format!("out_port:{} ", format_port(fm.out_port, None));
    }
    if fm.send_flow_rem {
        s += "send_flow_rem ";
    }
    if fm.check_overlap {
        s += "check_overlap ";
    }
    s += "actions=";
    s += &format_actions(&fm.actions, None);
    (name, s)
}

/// The protocol ovs-ofctl picks among `usable` for printing: the first
/// allowed one.
fn choose(usable: Protocols, allowed: Protocols) -> Option<Protocols> {
    let both = usable.and(allowed).0;
    (both != 0).then(|| Protocols(both & both.wrapping_neg()))
}

/// Prints flows as `ofctl_parse_flows__` does.
fn print_flow_mods(ctx: &mut Ctx, fms: &[FlowMod], usable: Protocols) -> Result<i32, Fail> {
    ctx.print(&format!("usable protocols: {usable}\n"));
    let Some(p) = choose(usable, allowed_protocols(ctx)) else {
        return fail("no usable protocol");
    };
    ctx.print(&format!("chosen protocol: {p}\n"));
    if p.intersects(Protocols::OF11_UP) {
        return fail(format!(
            "{p}: rswitch prints flow_mods in OpenFlow 1.0 and NXM only (drop -O to see them)"
        ));
    }
    for (i, fm) in fms.iter().enumerate() {
        let (name, body) = format_flow_mod(fm, p);
        ctx.print(&format!("{name} (xid={:#x}): {body}\n", i + 1));
    }
    Ok(0)
}

/// `parse-flow FLOW`: an add-flow argument (port numbers only), checked
/// and printed as ovs-ofctl would send it.
pub(crate) fn parse_flow(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let text = &args[0];
    // Parse against every protocol: an unusable flow is reported after
    // listing what could carry it, as ovs-ofctl does.
    let fm = parse_flow_mod_with(text, FlowModCommand::Add, None, Protocols::ANY)
        .map_err(|e| Fail::Msg(e.0))?;
    ctx.warn_flow(&fm);
    let usable = usable_protocols(text, FlowModCommand::Add, None);
    print_flow_mods(ctx, &[fm], usable)
}

/// `parse-flows FILE`: the same for each flow of a file (no command
/// keywords, as ovs-ofctl reads it).
pub(crate) fn parse_flows(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let name = &args[0];
    let text = ctx.file(name)?;
    let flows = parse_file(
        &text,
        name,
        FlowModCommand::Add,
        false,
        None,
        Protocols::ANY,
    )?;
    for f in &flows {
        ctx.warn_flow(&f.fm);
    }
    let usable = usable_all(&flows, None);
    let fms: Vec<FlowMod> = flows.into_iter().map(|f| f.fm).collect();
    print_flow_mods(ctx, &fms, usable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofproto::syntax::flow::parse_flow_mod;

    #[test]
    fn keywords_like_add_flows() {
        assert!(matches!(
            split_keyword(" add in_port=1"),
            Some((FlowModCommand::Add, " in_port=1"))
        ));
        assert!(matches!(
            split_keyword("modify_s,x"),
            Some((FlowModCommand::ModifyStrict, ",x"))
        ));
        assert!(split_keyword("arp,actions=drop").is_none());
    }

    #[test]
    fn usable_and_printing() {
        let u = usable_protocols("table=1,reg0=1,actions=drop", FlowModCommand::Add, None);
        assert_eq!(u.to_string(), "OXM,NXM+table_id");
        let fm = parse_flow_mod("table=1,reg0=1,actions=drop", FlowModCommand::Add, None).unwrap();
        let p = choose(u, Protocols::ALLOWED).unwrap();
        assert_eq!(p.to_string(), "NXM+table_id");
        assert_eq!(
            format_flow_mod(&fm, p),
            (
                "NXT_FLOW_MOD",
                "ADD table:1 reg0=0x1 actions=drop".to_string()
            )
        );
    }
}
