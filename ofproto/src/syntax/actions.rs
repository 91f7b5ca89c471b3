//! Action lists in flow syntax: parsing what ovs-ofctl accepts (and
//! rejecting, by name, what rswitch does not implement), OVS's consistency
//! checks against the flow's match (`ofpacts_check`), and printing what
//! `ovs-ofctl dump-flows` prints in its OpenFlow 1.0 + NXM dialect.
//!
//! Actions are stored in the form they take after ovs-ofctl encoded them
//! as OpenFlow 1.0 and the switch decoded them: `set_field` becomes the
//! OpenFlow 1.0 action (`mod_dl_src`, `mod_nw_tos`, ...) when one exists and
//! `load:` pieces of at most 64 bits otherwise. That is what OVS executes
//! and prints, so rswitch executes and prints the same.

use super::matches::{
    byte_mask, format_port, output_port_ok, parse_field_value, port_from_string, prereq_ok,
    set_field_in_match,
};
use super::protocol::Protocols;
use super::value::*;
use super::{err, err_near, KeyValues, ParseError, ParseResult, PortMap};
use crate::action::{Action, PacketInReason, SubField};
use crate::field::{unsupported_field, Field, ValueKind};
use crate::flow_match::Match;
use crate::key::{self, FlowKey, VLAN_CFI};
use crate::learn::{Learn, LearnSpec, LearnSrc};
use crate::port::{OFPP_CONTROLLER, OFPP_IN_PORT};

/// Context an action list is parsed in.
#[derive(Clone, Copy)]
pub struct ActionContext<'a> {
    pub ports: Option<&'a PortMap>,
    /// The flow's table; `None` for "all tables" (`table=255` or none
    /// given), in which case goto_table may point anywhere, as in OVS.
    pub table: Option<u8>,
    /// The flow's match, for prerequisite checks (set_field, learn).
    pub matched: &'a Match,
}

/// What `ofpacts_check` needs to know about one parsed action.
#[derive(Clone, Debug)]
enum Check {
    None,
    Output(u32),
    /// set_field / load on this field (value and mask of what was written).
    SetField(Field, u128, u128),
    Move(SubField, SubField),
    OutputReg(SubField),
    Learn,
    Goto(u8),
    /// mod_vlan_vid / mod_vlan_pcp: push a tag if needed.
    VlanSet,
    /// push_vlan: a tag is there afterwards.
    Push,
    Strip,
    /// mod_nw_src/dst: only meaningful for IPv4.
    Ipv4,
    /// mod_nw_tos, dec_ttl: only meaningful for IP.
    Ip,
    /// mod_nw_ecn, mod_nw_ttl: OpenFlow 1.0 carries them as loads, which the
    /// switch checks like set_field.
    IpField(Field),
    L4,
}

/// One parsed action: what it becomes, how to check it, and its text.
#[derive(Clone, Debug)]
pub struct Item<'s> {
    actions: Vec<Action>,
    check: Check,
    pub token: &'s str,
}

/// An action list before [`check_actions`].
#[derive(Clone, Debug, Default)]
pub struct ParsedActions<'s> {
    pub items: Vec<Item<'s>>,
    /// Protocols that can carry these actions.
    pub usable: Protocols,
    /// The action that first narrowed `usable` (for error messages).
    pub restrictor: Option<&'s str>,
}

impl ParsedActions<'_> {
    /// The actions, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.items
            .iter()
            .flat_map(|i| i.actions.iter().cloned())
            .collect()
    }
}

/// The text from the start of `a` to the end of `b`, both slices of `whole`.
pub(crate) fn span<'a>(whole: &'a str, a: &str, b: &str) -> &'a str {
    let base = whole.as_ptr() as usize;
    let start = (a.as_ptr() as usize).saturating_sub(base).min(whole.len());
    let mut end = (b.as_ptr() as usize + b.len())
        .saturating_sub(base)
        .clamp(start, whole.len());
    // `key(value)`: include the closing parenthesis.
    if whole.as_bytes().get(end) == Some(&b')')
        && whole.get(start..end).is_some_and(|t| t.contains('('))
    {
        end += 1;
    }
    whole.get(start..end).unwrap_or("")
}

fn ones(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Actions and instructions Open vSwitch has and rswitch does not, with why.
fn unsupported_action(name: &str) -> Option<&'static str> {
    Some(match name {
        "enqueue" | "set_queue" | "pop_queue" => "rswitch does not implement queues",
        "write_metadata" | "write_actions" | "clear_actions" => {
            "rswitch implements only the goto_table instruction"
        }
        "meter" => "rswitch does not implement meters",
        "group" => "rswitch does not implement groups",
        "ct" | "nat" | "ct_clear" => "rswitch does not implement connection tracking",
        "clone" => "rswitch does not implement clone",
        "sample" => "rswitch does not implement sampling",
        "bundle" | "bundle_load" | "multipath" => {
            "rswitch does not implement multipath or bundle load balancing"
        }
        "conjunction" => "rswitch does not implement conjunctive matches",
        "fin_timeout" => "rswitch does not implement TCP FIN timeouts",
        "push" | "pop" => "rswitch does not implement the field stack",
        "output_trunc" => "rswitch does not implement output truncation",
        "check_pkt_larger" => "rswitch does not implement packet length checks",
        "set_mpls_label" | "set_mpls_tc" | "set_mpls_ttl" | "dec_mpls_ttl" | "push_mpls"
        | "pop_mpls" => "rswitch does not implement MPLS",
        "encap" | "decap" | "dec_nsh_ttl" => "rswitch does not implement encapsulation or NSH",
        "delete_field" => "rswitch does not implement tunnel metadata",
        "debug_recirc" | "debug_slow" | "unroll_xlate" => {
            "it is an Open vSwitch internal debugging action"
        }
        _ => return None,
    })
}

fn unknown_field_error(s: &str, name: &str) -> ParseError {
    match unsupported_field(name) {
        Some(why) => ParseError(format!("{s}: unsupported field {name} ({why})")),
        None => ParseError(format!("{s}: unknown field `{name}'")),
    }
}

/// Parses a subfield as OVS's `mf_parse_subfield__`: `NXM_OF_VLAN_TCI[0..11]`,
/// `reg0[5]`, `tun_id[]`, `reg0`. Returns the subfield and the unparsed rest.
pub fn parse_subfield_prefix(s: &str) -> ParseResult<(SubField, &str)> {
    let name_len = s.find(['[', '-']).unwrap_or(s.len());
    let name = &s[..name_len];
    let plain = name.strip_suffix("_W").unwrap_or(name);
    let field = Field::from_nxm(plain)
        .or_else(|| super::matches::lookup_field(name))
        .ok_or_else(|| unknown_field_error(s, name))?;
    // Actions name fields by NXM/OXM header; views without one cannot be
    // encoded (OVS rejects them in learn, the switch elsewhere).
    if field.info().nxm.is_none() && field.info().oxm.is_none() {
        return err(format!(
            "{s}: experimenter OXM field '{name}' not supported"
        ));
    }
    let width = field.width() as i64;
    let mut rest = &s[name_len..];
    let (mut start, mut end) = (0i64, width - 1);
    if rest.starts_with('[') {
        let bad = || {
            ParseError(format!(
                "{s}: syntax error expecting [] or [<bit>] or [<start>..<end>]"
            ))
        };
        if rest.starts_with("[]") {
        } else {
            let inner = &rest[1..];
            let (a, n) = scan_int(inner, 10).ok_or_else(bad)?;
            let after = &inner[n..];
            if let Some(r) = after.strip_prefix("..") {
                let (b, n2) = scan_int(r, 10).ok_or_else(bad)?;
                if !r[n2..].starts_with(']') {
                    return Err(bad());
                }
                start = a as i64;
                end = b as i64;
            } else if after.starts_with(']') {
                start = a as i64;
                end = a as i64;
            } else {
                return Err(bad());
            }
            if start < 0 || end < 0 {
                return Err(bad());
            }
        }
        rest = &rest[rest.find(']').map_or(rest.len(), |i| i + 1)..];
    }
    if start > end {
        return err(format!(
            "{s}: starting bit {start} is after ending bit {end}"
        ));
    }
    if start >= width {
        return err(format!(
            "{s}: starting bit {start} is not valid because field is only {width} bits wide"
        ));
    }
    if end >= width {
        return err(format!(
            "{s}: ending bit {end} is not valid because field is only {width} bits wide"
        ));
    }
    Ok((
        SubField {
            field,
            ofs: start as u8,
            n_bits: (end - start + 1) as u8,
        },
        rest,
    ))
}

/// Parses a complete subfield (nothing may follow).
pub fn parse_subfield(s: &str) -> ParseResult<SubField> {
    let (sf, rest) = parse_subfield_prefix(s)?;
    if !rest.is_empty() {
        return err_near("unexpected input following field syntax", s);
    }
    Ok(sf)
}

/// Prints a subfield as OVS's `mf_format_subfield`.
pub fn format_subfield(sf: &SubField) -> String {
    let name = sf.field.subfield_name();
    if sf.is_whole() {
        format!("{name}[]")
    } else if sf.n_bits == 1 {
        format!("{name}[{}]", sf.ofs)
    } else {
        format!(
            "{name}[{}..{}]",
            sf.ofs,
            sf.ofs as u32 + sf.n_bits as u32 - 1
        )
    }
}

/// OVS's `ofputil_table_from_string` (decimal only, no table names).
fn table_from_string(s: &str) -> Option<u8> {
    if s.starts_with('-') {
        return None;
    }
    str_to_uint(s, 10).and_then(|t| u8::try_from(t).ok())
}

/// Parses and checks an action list (the text after `actions=`) in one go.
pub fn parse_actions(s: &str, ctx: &ActionContext) -> ParseResult<Vec<Action>> {
    let mut warnings = Vec::new();
    let parsed = parse_action_items(s, ctx, &mut warnings)?;
    check_actions(&parsed, ctx)?;
    Ok(parsed.actions())
}

struct Builder<'s> {
    out: ParsedActions<'s>,
}

impl<'s> Builder<'s> {
    fn push(&mut self, token: &'s str, actions: Vec<Action>, check: Check) {
        self.out.items.push(Item {
            actions,
            check,
            token,
        });
    }

    fn restrict(&mut self, token: &'s str, p: Protocols) {
        let new = self.out.usable.and(p);
        if new != self.out.usable && self.out.restrictor.is_none() {
            self.out.restrictor = Some(token);
        }
        self.out.usable = new;
    }
}

/// Parses an action list into items, as OVS's `ofpacts_parse__` followed
/// by its instruction-order verification. Consistency checks against the
/// match come separately ([`check_actions`]), as in OVS, so that a syntax
/// error later in the list wins over a check error earlier.
pub fn parse_action_items<'s>(
    s: &'s str,
    ctx: &ActionContext,
    warnings: &mut Vec<String>,
) -> ParseResult<ParsedActions<'s>> {
    let mut b = Builder {
        out: ParsedActions::default(),
    };
    let mut drop = false;
    // (token, was goto_table) of every action, for the instruction order check.
    let mut kinds: Vec<(&'s str, bool)> = Vec::new();
    for (key, value) in KeyValues::new(s) {
        let token = span(s, key, value);
        let lower = key.to_ascii_lowercase();
        let n_before = b.out.items.len();
        let mut one = || -> ParseResult<()> {
            match lower.as_str() {
                "output" | "output_reg" => {
                    if value.contains("port") && value.contains("max_len") {
                        return err(format!("unsupported action {token} (rswitch does not implement output truncation)"));
                    }
                    if let Some((p, w)) = port_from_string(value, ctx.ports) {
                        warnings.extend(w);
                        b.push(token, vec![output_action(p)], Check::Output(p));
                    } else if let Ok(src) = parse_subfield(value) {
                        b.push(
                            token,
                            vec![Action::OutputReg {
                                src,
                                max_len: u16::MAX,
                            }],
                            Check::OutputReg(src),
                        );
                    } else {
                        if let Some(name) = value
                            .split(['[', '-'])
                            .next()
                            .filter(|n| unsupported_field(n).is_some())
                        {
                            return Err(unknown_field_error(value, name));
                        }
                        return err(format!("{value}: output to unknown port"));
                    }
                }
                "controller" => b.push(token, vec![parse_controller(value)?], Check::None),
                "resubmit" => {
                    let a = parse_resubmit(value, ctx, token)?;
                    b.push(token, vec![a], Check::None);
                }
                "goto_table" => {
                    let t = table_from_string(value)
                        .ok_or_else(|| ParseError(format!("unknown table \"{value}\"")))?;
                    let a = if t == 255 {
                        warnings.push(format!(
                        "{token}: OpenFlow 1.0 sends it as resubmit to table 255, i.e. the current table; Open vSwitch prints it as resubmit(,)"
                    ));
                        Action::Resubmit {
                            in_port: OFPP_IN_PORT,
                            table: None,
                        }
                    } else {
                        Action::GotoTable(t)
                    };
                    b.push(token, vec![a], Check::Goto(t));
                }
                "mod_vlan_vid" | "set_vlan_vid" => {
                    let v = str_to_u16(value, "VLAN VID").map_err(ParseError)?;
                    if v & !0x0fff != 0 {
                        return err(format!("{value}: not a valid VLAN VID"));
                    }
                    b.push(token, vec![Action::SetVlanVid(v)], Check::VlanSet);
                }
                "mod_vlan_pcp" | "set_vlan_pcp" => {
                    let v = str_to_u8(value, "VLAN PCP").map_err(ParseError)?;
                    if v & !7 != 0 {
                        return err(format!("{value}: not a valid VLAN PCP"));
                    }
                    b.push(token, vec![Action::SetVlanPcp(v)], Check::VlanSet);
                }
                "strip_vlan" | "pop_vlan" => b.push(token, vec![Action::StripVlan], Check::Strip),
                "push_vlan" => {
                    b.restrict(token, Protocols::OF11_UP);
                    let t = str_to_u16(value, "ethertype").map_err(ParseError)?;
                    if t != 0x8100 && t != 0x88a8 {
                        return err(format!("{value}: not a valid VLAN ethertype"));
                    }
                    b.push(token, vec![Action::PushVlan(t)], Check::Push);
                }
                "set_tunnel" | "set_tunnel64" => {
                    let id = str_to_u64(value).map_err(|e| ParseError::near(e, token))?;
                    b.push(
                        token,
                        vec![Action::SetTunnel {
                            id,
                            wide: lower == "set_tunnel64",
                        }],
                        Check::None,
                    );
                }
                "set_field" => {
                    let (acts, check, usable) = parse_set_field(value, ctx, token, warnings)?;
                    b.restrict(token, usable);
                    b.push(token, acts, check);
                }
                "load" => {
                    let (acts, check) = parse_load(value)?;
                    b.push(token, acts, check);
                }
                "move" => {
                    let (src, dst) = parse_move(value)?;
                    b.push(
                        token,
                        vec![Action::Move { src, dst }],
                        Check::Move(src, dst),
                    );
                }
                "mod_dl_src" | "mod_dl_dst" => {
                    let mac = parse_mac(value)
                        .ok_or_else(|| ParseError(format!("invalid mac address {value}")))?;
                    let a = if lower == "mod_dl_src" {
                        Action::SetEthSrc(mac)
                    } else {
                        Action::SetEthDst(mac)
                    };
                    b.push(token, vec![a], Check::None);
                }
                "mod_nw_src" | "mod_nw_dst" => {
                    // OVS's str_to_ip here is inet_pton: a strict dotted quad.
                    let ip: std::net::Ipv4Addr = value.parse().map_err(|_| {
                        ParseError(format!("{value}: could not convert to IP address"))
                    })?;
                    let ip = u32::from(ip);
                    let a = if lower == "mod_nw_src" {
                        Action::SetIpv4Src(ip)
                    } else {
                        Action::SetIpv4Dst(ip)
                    };
                    b.push(token, vec![a], Check::Ipv4);
                }
                "mod_nw_tos" => {
                    let t = str_to_u8(value, "TOS").map_err(ParseError)?;
                    if t & 0x03 != 0 {
                        return err(format!("{value}: not a valid TOS"));
                    }
                    b.push(token, vec![Action::SetIpTos(t)], Check::Ip);
                }
                "mod_nw_ecn" => {
                    let t = str_to_u8(value, "ECN").map_err(ParseError)?;
                    if t > 3 {
                        return err(format!("{value}: not a valid ECN"));
                    }
                    b.push(
                        token,
                        vec![Action::SetIpEcn(t)],
                        Check::IpField(Field::IpEcn),
                    );
                }
                "mod_nw_ttl" | "set_nw_ttl" => {
                    let t = str_to_u8(value, "TTL").map_err(ParseError)?;
                    b.push(
                        token,
                        vec![Action::SetIpTtl(t)],
                        Check::IpField(Field::IpTtl),
                    );
                }
                "mod_tp_src" => {
                    let p = str_to_u16(value, "source port").map_err(ParseError)?;
                    b.push(token, vec![Action::SetTpSrc(p)], Check::L4);
                }
                "mod_tp_dst" => {
                    let p = str_to_u16(value, "destination port").map_err(ParseError)?;
                    b.push(token, vec![Action::SetTpDst(p)], Check::L4);
                }
                "dec_ttl" => b.push(token, vec![parse_dec_ttl(value, token)?], Check::Ip),
                "note" => {
                    let (mut bytes, rest) = parse_hex_bytes(value);
                    if !rest.is_empty() {
                        return err_near("bad hex digit in `note' argument", token);
                    }
                    // NXAST_NOTE is padded to a multiple of 8 bytes (10-byte
                    // header + note) and the padding reads back as note bytes.
                    let padded = (10 + bytes.len()).div_ceil(8) * 8 - 10;
                    if padded != bytes.len() {
                        warnings.push(format!(
                        "{token}: Open vSwitch pads notes with zero bytes to fill 8-byte units ({} bytes)",
                        padded
                    ));
                    }
                    bytes.resize(padded, 0);
                    b.push(token, vec![Action::Note(bytes)], Check::None);
                }
                "learn" => {
                    let l = parse_learn(value, ctx, warnings)?;
                    b.push(token, vec![Action::Learn(Box::new(l))], Check::Learn);
                }
                "exit" => b.push(token, vec![Action::Exit], Check::None),
                "drop" => drop = true,
                "apply_actions" => {
                    return err_near("apply_actions is the default instruction", token)
                }
                _ => {
                    if let Some(why) = unsupported_action(&lower) {
                        return err(format!("unsupported action {key} ({why})"));
                    }
                    match port_from_string(key, ctx.ports) {
                        Some((p, w)) => {
                            warnings.extend(w);
                            b.push(token, vec![output_action(p)], Check::Output(p));
                        }
                        None => return err(format!("unknown action {key}")),
                    }
                }
            }
            Ok(())
        };
        // Every error names its token: OVS's wording often names only the
        // value, which may be empty (`mod_vlan_vid` alone).
        one().map_err(|e| {
            if (!value.is_empty() && e.0.contains(value)) || e.0.contains(key) {
                e
            } else {
                ParseError::near(e.0, token)
            }
        })?;
        if b.out.items.len() > n_before {
            kinds.push((
                token,
                matches!(b.out.items.last().map(|i| &i.check), Some(Check::Goto(_))),
            ));
        }
    }
    if drop && !b.out.items.is_empty() {
        return err_near(
            "\"drop\" must not be accompanied by any other action or instruction",
            s.trim(),
        );
    }
    // Instruction order (OVS's ofpacts_verify): apply_actions, then
    // goto_table, each at most once.
    let mut seen_goto = false;
    for (token, is_goto) in &kinds {
        if seen_goto {
            return if *is_goto {
                err_near(
                    "duplicate goto_table instruction not allowed, for OpenFlow 1.1+ compatibility",
                    token,
                )
            } else {
                err_near(
                    "invalid instruction ordering: apply_actions must appear before goto_table, for OpenFlow 1.1+ compatibility",
                    token,
                )
            };
        }
        seen_goto |= is_goto;
    }
    Ok(b.out)
}

fn output_action(port: u32) -> Action {
    if port == OFPP_CONTROLLER {
        Action::controller(u16::MAX)
    } else {
        Action::Output { port }
    }
}

fn parse_controller(value: &str) -> ParseResult<Action> {
    let mut max_len = u16::MAX;
    let mut reason = PacketInReason::Action;
    let mut id = 0u16;
    let mut userdata = Vec::new();
    let mut pause = false;
    let mut meter_id = None;
    if value.is_empty() {
    } else if value.bytes().all(|c| c.is_ascii_digit()) {
        max_len = str_to_u16(value, "max_len").map_err(ParseError)?;
    } else {
        for (k, v) in KeyValues::new(value) {
            match k {
                "reason" => {
                    reason = PacketInReason::ALL
                        .iter()
                        .copied()
                        .find(|r| r.name() == v)
                        .ok_or_else(|| ParseError(format!("unknown reason \"{v}\"")))?;
                }
                "max_len" => max_len = str_to_u16(v, "max_len").map_err(ParseError)?,
                "id" => id = str_to_u16(v, "id").map_err(ParseError)?,
                "userdata" => {
                    let (bytes, rest) = parse_hex_bytes(v);
                    if !rest.is_empty() {
                        return err_near("bad hex digit in `controller' action `userdata'", v);
                    }
                    userdata = bytes;
                }
                "pause" => pause = true,
                "meter_id" => {
                    let (m, _) = str_to_u32(v).map_err(|e| ParseError::near(e, v))?;
                    // 0 is OVS's "no meter" (NX_CTLR_NO_METER).
                    meter_id = (m != 0).then_some(m);
                }
                _ => return err(format!("unknown key \"{k}\" parsing controller action")),
            }
        }
    }
    Ok(Action::Controller {
        max_len,
        reason,
        id,
        userdata,
        pause,
        meter_id,
    })
}

fn parse_resubmit(value: &str, ctx: &ActionContext, token: &str) -> ParseResult<Action> {
    let mut parts = value.split(',');
    let port_s = parts.next().unwrap_or("");
    let table_s = parts.next().unwrap_or("");
    let ct_s = parts.next().unwrap_or("");
    let in_port = if port_s.is_empty() {
        OFPP_IN_PORT
    } else {
        port_from_string(port_s, ctx.ports)
            .map(|(p, _)| p)
            .ok_or_else(|| ParseError(format!("{port_s}: resubmit to unknown port")))?
    };
    let table = if table_s.is_empty() {
        255
    } else {
        table_from_string(table_s)
            .ok_or_else(|| ParseError(format!("{table_s}: resubmit to unknown table")))?
    };
    if !ct_s.is_empty() {
        if ct_s != "ct" {
            return err(format!("{ct_s}: unknown parameter"));
        }
        return err(format!(
            "unsupported action {token} (rswitch does not implement connection tracking)"
        ));
    }
    if in_port == OFPP_IN_PORT && table == 255 {
        return err_near(
            "at least one \"in_port\" or \"table\" must be specified on resubmit",
            token,
        );
    }
    Ok(Action::Resubmit {
        in_port,
        table: (table != 255).then_some(table),
    })
}

/// Splits `VALUE->DST` like OVS's `set_field_split_str`.
fn split_arrow(value: &str) -> ParseResult<(&str, &str)> {
    match value.find("->") {
        None => err(format!("{value}: missing `->'")),
        Some(i) if i + 2 >= value.len() => {
            err(format!("{value}: missing field name following `->'"))
        }
        Some(i) => Ok((&value[..i], &value[i + 2..])),
    }
}

/// OVS's `mf_is_value_valid` for set_field values.
fn value_valid(field: Field, v: u128) -> bool {
    match field {
        Field::NwTos => v & 3 == 0,
        Field::IpDscp => v < 64,
        Field::IpEcn => v < 4,
        Field::IpFrag => v < 4,
        Field::TcpFlags => v <= 0xfff,
        Field::ArpOp => v <= 0xff,
        Field::DlVlan => v <= 0x0fff,
        Field::VlanVid => v <= 0x1fff,
        Field::DlVlanPcp | Field::VlanPcp => v <= 7,
        Field::Ipv6Label => v <= 0xfffff,
        _ => true,
    }
}

/// `load:` pieces for writing `value` under `mask`: runs of contiguous mask
/// bits, at most 64 bits each (how OVS encodes NXAST_REG_LOAD).
pub fn load_pieces(field: Field, value: u128, mask: u128) -> Vec<Action> {
    let mut out = Vec::new();
    for (ofs, n) in mask_runs(mask & ones(field.width() as u32)) {
        let m = ones(n as u32) << ofs;
        out.push(Action::SetField {
            field,
            value: value & m,
            mask: m,
            as_load: true,
        });
    }
    out
}

/// What OVS's OpenFlow 1.0 encoding turns a `set_field` into, and a note
/// when that loses the mask.
fn set_field_to_actions(field: Field, value: u128, mask: u128) -> (Vec<Action>, bool) {
    use Field as F;
    let full = ones(field.width() as u32);
    let partial = mask & full != full;
    let mac = |v: u128| {
        let b = (v as u64).to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    };
    let acts = match field {
        F::VlanTci => {
            let tci = value as u16;
            if tci & VLAN_CFI != 0 {
                vec![
                    Action::SetVlanVid(tci & 0x0fff),
                    Action::SetVlanPcp((tci >> 13) as u8),
                ]
            } else {
                vec![Action::StripVlan]
            }
        }
        F::VlanVid | F::DlVlan => vec![Action::SetVlanVid(value as u16 & 0x0fff)],
        F::VlanPcp | F::DlVlanPcp => vec![Action::SetVlanPcp(value as u8 & 7)],
        F::EthSrc => vec![Action::SetEthSrc(mac(value))],
        F::EthDst => vec![Action::SetEthDst(mac(value))],
        F::Ipv4Src => vec![Action::SetIpv4Src(value as u32)],
        F::Ipv4Dst => vec![Action::SetIpv4Dst(value as u32)],
        F::NwTos => vec![Action::SetIpTos(value as u8)],
        F::IpDscp => vec![Action::SetIpTos((value as u8) << 2)],
        F::IpEcn => vec![Action::SetIpEcn(value as u8)],
        F::TcpSrc | F::UdpSrc | F::TpSrc => vec![Action::SetTpSrc(value as u16)],
        F::TcpDst | F::UdpDst | F::TpDst => vec![Action::SetTpDst(value as u16)],
        _ => return (load_pieces(field, value, mask), false),
    };
    (acts, partial)
}

fn parse_set_field(
    value: &str,
    ctx: &ActionContext,
    token: &str,
    warnings: &mut Vec<String>,
) -> ParseResult<(Vec<Action>, Check, Protocols)> {
    let (v, name) = split_arrow(value)?;
    let field = match super::matches::lookup_field(name) {
        Some(f) => f,
        None => {
            if let Some(why) = unsupported_field(name) {
                return err(format!("{token}: unsupported field {name} ({why})"));
            }
            return err(format!("{name} is not a valid OXM field name"));
        }
    };
    if !field.info().writable {
        return err(format!("{name} is read-only"));
    }
    let (val, mask) = parse_field_value(field, v, ctx.ports, warnings)?;
    if !value_valid(field, val) {
        return err(format!("{v} is not a valid value for field {name}"));
    }
    let full_bytes = byte_mask(field);
    let mask = if mask == full_bytes {
        ones(field.width() as u32)
    } else {
        mask
    };
    let (acts, lost_mask) = set_field_to_actions(field, val, mask);
    if lost_mask {
        warnings.push(format!(
            "{token}: OpenFlow 1.0 has no masked form of this action, so Open vSwitch ignores the mask and writes the whole field"
        ));
    }
    if matches!(field, Field::DlVlan | Field::DlVlanPcp) {
        warnings.push(format!(
            "{token}: Open vSwitch 3.1 mis-encodes set_field to {name}; rswitch sets the VLAN {} as {} does",
            if field == Field::DlVlan { "VID" } else { "PCP" },
            if field == Field::DlVlan { "mod_vlan_vid" } else { "mod_vlan_pcp" }
        ));
    }
    let usable = super::matches::exact_protocols(field);
    Ok((acts, Check::SetField(field, val, mask), usable))
}

fn parse_load(value: &str) -> ParseResult<(Vec<Action>, Check)> {
    let (v, dst_s) = split_arrow(value)?;
    let dst = parse_subfield(dst_s)?;
    let n_bytes = dst.field.n_bytes() as usize;
    let val = match parse_int_string(v, n_bytes) {
        Ok((x, _)) => x,
        Err(_) => return err(format!("{value}: cannot parse integer value")),
    };
    if val & !ones(dst.n_bits as u32) != 0 {
        let shown = super::matches::format_field_int(dst.field, val);
        return err(format!(
            "{value}: value {shown} does not fit into {} bits",
            dst.n_bits
        ));
    }
    let acts = load_pieces(dst.field, val << dst.ofs, dst.mask());
    Ok((acts, Check::SetField(dst.field, val << dst.ofs, dst.mask())))
}

fn parse_move(value: &str) -> ParseResult<(SubField, SubField)> {
    let (src, rest) = parse_subfield_prefix(value)?;
    let Some(d) = rest.strip_prefix("->") else {
        return err(format!("{value}: missing `->' following source"));
    };
    // OVS names the (empty) destination only; say which move it was.
    let dst = parse_subfield(d).map_err(|e| {
        if d.is_empty() {
            ParseError::near(e.0, value)
        } else {
            e
        }
    })?;
    if src.n_bits != dst.n_bits {
        return err(format!(
            "{value}: source field is {} bits wide but destination is {} bits wide",
            src.n_bits, dst.n_bits
        ));
    }
    Ok((src, dst))
}

fn parse_dec_ttl(value: &str, token: &str) -> ParseResult<Action> {
    if value.is_empty() {
        return Ok(Action::DecTtl(Vec::new()));
    }
    let ids: Vec<u16> = value
        .split([',', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| atoi(t) as u16)
        .collect();
    if ids.is_empty() {
        return err_near(
            "dec_ttl_cnt_ids: expected at least one controller id.",
            token,
        );
    }
    Ok(Action::DecTtl(ids))
}

fn parse_learn(value: &str, ctx: &ActionContext, warnings: &mut Vec<String>) -> ParseResult<Learn> {
    let mut l = Learn::default();
    let orig = value;
    let trunc16 = |name: &str, v: &str, w: &mut Vec<String>| -> u16 {
        let n = atoi(v);
        if n as u16 as i32 != n {
            w.push(format!("learn {name}={v}: Open vSwitch reads it with atoi() and keeps the low 16 bits ({})", n as u16));
        }
        n as u16
    };
    for (name, v) in KeyValues::new(value) {
        match name {
            "table" => {
                let t = table_from_string(v)
                    .ok_or_else(|| ParseError(format!("unknown table \"{v}\"")))?;
                if t == 255 {
                    return err(format!("{orig}: table id 255 not valid for `learn' action"));
                }
                l.table = t;
            }
            "priority" => l.priority = trunc16(name, v, warnings),
            "idle_timeout" => l.idle_timeout = trunc16(name, v, warnings),
            "hard_timeout" => l.hard_timeout = trunc16(name, v, warnings),
            "fin_idle_timeout" => l.fin_idle_timeout = trunc16(name, v, warnings),
            "fin_hard_timeout" => l.fin_hard_timeout = trunc16(name, v, warnings),
            "cookie" => l.cookie = strtoull(v, 0).0,
            "send_flow_rem" => l.send_flow_rem = true,
            "delete_learned" => l.delete_learned = true,
            "limit" => l.limit = atoi(v) as u32,
            "result_dst" => {
                let sf = parse_subfield(v)?;
                if !sf.field.info().writable {
                    return err(format!("{v} is read-only"));
                }
                if sf.n_bits != 1 {
                    return err_near("result_dst in 'learn' action must be a single bit", v);
                }
                l.result_dst = Some(sf);
            }
            _ => l.specs.push(parse_learn_spec(orig, name, v, ctx)?),
        }
    }
    Ok(l)
}

fn parse_learn_spec(
    orig: &str,
    name: &str,
    v: &str,
    ctx: &ActionContext,
) -> ParseResult<LearnSpec> {
    if let Ok(dst) = parse_subfield(name) {
        if v.is_empty() {
            return Ok(LearnSpec::Match {
                dst,
                src: LearnSrc::Field(dst),
            });
        }
        let sub_err = match parse_subfield(v) {
            Ok(src) => {
                if src.n_bits != dst.n_bits {
                    // OVS prints the two widths the other way round.
                    return err(format!(
                        "{orig}: bit widths of {name} ({}) and {v} ({}) differ",
                        src.n_bits, dst.n_bits
                    ));
                }
                return Ok(LearnSpec::Match {
                    dst,
                    src: LearnSrc::Field(src),
                });
            }
            Err(e) => e,
        };
        let imm: Result<u128, String> = if dst.is_whole() {
            let mut w = Vec::new();
            match parse_field_value(dst.field, v, ctx.ports, &mut w) {
                Ok((val, mask)) if mask == byte_mask(dst.field) => Ok(val),
                Ok(_) => Err(format!("{v}: wildcards not allowed here")),
                Err(e) => Err(e.0),
            }
        } else {
            match parse_int_string(v, dst.field.n_bytes() as usize) {
                Ok((val, "")) if val & !ones(dst.n_bits as u32) == 0 => Ok(val),
                Ok((val, "")) => Err(format!(
                    "{orig}: value {} does not fit into {} bits",
                    super::matches::format_field_int(dst.field, val),
                    dst.n_bits
                )),
                _ => Err(format!("{orig}: cannot parse integer value")),
            }
        };
        return match imm {
            Ok(val) => Ok(LearnSpec::Match { dst, src: LearnSrc::Imm(val & ones(dst.n_bits as u32)) }),
            Err(ie) => err(format!(
                "{orig}: {name} value {v} cannot be parsed as a subfield ({}) or an immediate value ({ie})",
                sub_err.ovs_message()
            )),
        };
    }
    match name {
        "load" => {
            let Some(i) = v.find("->") else {
                return err(format!("{name}: missing `->' in `{v}'"));
            };
            if i == 0 {
                return err(format!("{name}: missing source before `->' in `{v}'"));
            }
            if let Ok((imm, _)) = parse_int_string(v, 16) {
                let dst = parse_subfield(&v[i + 2..])?;
                if imm & !ones(dst.n_bits as u32) != 0 {
                    return err(format!("{v}: value does not fit into {} bits", dst.n_bits));
                }
                return Ok(LearnSpec::Load {
                    dst,
                    src: LearnSrc::Imm(imm),
                });
            }
            let (src, dst) = parse_move(v)?;
            Ok(LearnSpec::Load {
                dst,
                src: LearnSrc::Field(src),
            })
        }
        "output" => Ok(LearnSpec::Output {
            src: parse_subfield(v)?,
        }),
        _ => {
            if let Some(why) = unsupported_field(name.split('[').next().unwrap_or(name)) {
                return err(format!("{orig}: unsupported field {name} ({why})"));
            }
            err(format!("{orig}: unknown keyword {name}"))
        }
    }
}

// ---------------------------------------------------------------- checks

fn inconsistent(p: &str) -> String {
    format!("actions are invalid with specified match ({p})")
}

/// OVS's `ofpacts_check` against the flow's match: prerequisites of fields
/// that actions read or write, output ports, goto_table targets, learn
/// specs. Actions that change the packet's VLAN tag are taken into account
/// for later actions, as in OVS. Returns the protocols that remain usable
/// (actions that make no sense for the match restrict the flow to OpenFlow
/// 1.0, where OVS tolerates them).
pub fn check_actions(parsed: &ParsedActions, ctx: &ActionContext) -> ParseResult<Protocols> {
    let mut flow: FlowKey = ctx.matched.value;
    let mut usable = Protocols::ANY;
    for item in &parsed.items {
        let token = item.token;
        let fail = |code: &str| Err(ParseError::near(inconsistent(code), token));
        match &item.check {
            Check::None => {}
            Check::Output(p) => {
                if !output_port_ok(*p) {
                    return fail("OFPBAC_BAD_OUT_PORT");
                }
            }
            Check::SetField(field, value, mask) => {
                let p = field.info().prereq;
                let ok = prereq_ok(p, &flow)
                    && (*field != Field::VlanVid || flow.get(key::VLAN_TCI) as u16 & VLAN_CFI != 0);
                if !ok {
                    return fail("OFPBAC_MATCH_INCONSISTENT");
                }
                if !field.info().writable {
                    return fail("OFPBAC_BAD_SET_ARGUMENT");
                }
                match field {
                    Field::VlanTci => {
                        let old = flow.get(key::VLAN_TCI);
                        flow.set(key::VLAN_TCI, (old & !mask) | (value & mask));
                    }
                    Field::DlVlan | Field::DlVlanPcp => {
                        let old = flow.get(key::VLAN_TCI) as u16;
                        flow.set(key::VLAN_TCI, (old | VLAN_CFI) as u128);
                    }
                    _ => {}
                }
            }
            Check::Move(src, dst) => {
                if !prereq_ok(src.field.info().prereq, &flow)
                    || !prereq_ok(dst.field.info().prereq, &flow)
                {
                    return fail("OFPBAC_MATCH_INCONSISTENT");
                }
                if !dst.field.info().writable {
                    return fail("OFPBAC_BAD_SET_ARGUMENT");
                }
            }
            Check::OutputReg(src) => {
                if !prereq_ok(src.field.info().prereq, &flow) {
                    return fail("OFPBAC_MATCH_INCONSISTENT");
                }
            }
            Check::Learn => {
                for a in &item.actions {
                    if let Action::Learn(l) = a {
                        if let Err(code) = check_learn(l, &flow) {
                            return fail(code);
                        }
                    }
                }
            }
            Check::Goto(t) => {
                if ctx.table.is_some_and(|cur| *t <= cur) {
                    return fail("OFPBIC_BAD_TABLE_ID");
                }
            }
            Check::VlanSet => {
                if flow.get(key::VLAN_TCI) as u16 & VLAN_CFI == 0 {
                    // Pushing a tag: fine for OpenFlow 1.0's mod_vlan_vid.
                    usable = usable.and(Protocols::OF10_ANY);
                }
                let old = flow.get(key::VLAN_TCI) as u16;
                flow.set(key::VLAN_TCI, (old | VLAN_CFI) as u128);
            }
            Check::Push => {
                let old = flow.get(key::VLAN_TCI) as u16;
                flow.set(key::VLAN_TCI, (old | VLAN_CFI) as u128);
            }
            Check::Strip => {
                if flow.get(key::VLAN_TCI) as u16 & VLAN_CFI == 0 {
                    usable = usable.and(Protocols::OF10_ANY);
                }
                flow.set(key::VLAN_TCI, 0);
            }
            Check::Ipv4 => {
                if flow.get(key::ETH_TYPE) as u16 != crate::field::ETH_TYPE_IP {
                    usable = usable.and(Protocols::OF10_ANY);
                }
            }
            Check::Ip => {
                if !prereq_ok(crate::field::Prereq::Ip, &flow) {
                    usable = usable.and(Protocols::OF10_ANY);
                }
            }
            Check::IpField(f) => {
                if !prereq_ok(f.info().prereq, &flow) {
                    return fail("OFPBAC_MATCH_INCONSISTENT");
                }
            }
            Check::L4 => {
                if !prereq_ok(crate::field::Prereq::Transport, &flow) {
                    usable = usable.and(Protocols::OF10_ANY);
                }
            }
        }
    }
    Ok(usable)
}

/// OVS's `learn_check`: sources need the flow's prerequisites, match
/// destinations need the learned flow's own (built from earlier specs).
fn check_learn(l: &Learn, flow: &FlowKey) -> Result<(), &'static str> {
    let mut dst_match = Match::CATCHALL;
    for spec in &l.specs {
        let src = match spec {
            LearnSpec::Match {
                src: LearnSrc::Field(s),
                ..
            }
            | LearnSpec::Load {
                src: LearnSrc::Field(s),
                ..
            } => Some(s),
            LearnSpec::Output { src } => Some(src),
            _ => None,
        };
        if let Some(s) = src {
            if !prereq_ok(s.field.info().prereq, flow) {
                return Err("OFPBAC_MATCH_INCONSISTENT");
            }
        }
        match spec {
            LearnSpec::Match { dst, src } => {
                if !prereq_ok(dst.field.info().prereq, &dst_match.value) {
                    return Err("OFPBAC_MATCH_INCONSISTENT");
                }
                if let LearnSrc::Imm(v) = src {
                    let (ov, om) = dst_match.get(dst.field);
                    let m = dst.mask();
                    let mut w = Vec::new();
                    set_field_in_match(
                        &mut dst_match,
                        dst.field,
                        (ov & !m) | ((v << dst.ofs) & m),
                        om | m,
                        &mut w,
                    );
                }
            }
            LearnSpec::Load { dst, .. } => {
                if !prereq_ok(dst.field.info().prereq, &dst_match.value) {
                    return Err("OFPBAC_MATCH_INCONSISTENT");
                }
                if !dst.field.info().writable {
                    return Err("OFPBAC_BAD_SET_ARGUMENT");
                }
            }
            LearnSpec::Output { .. } => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- printing

/// Prints a field value like OVS's `mf_format` (mask omitted when exact).
pub fn format_field_value(
    f: Field,
    v: u128,
    mask: Option<u128>,
    ports: Option<&PortMap>,
) -> String {
    let info = f.info();
    let full = ones(info.width as u32);
    let mask = mask.filter(|m| *m != full && *m != byte_mask(f));
    match info.kind {
        ValueKind::Mac => match mask {
            Some(m) => format!("{}/{}", format_mac(v), format_mac(m)),
            None => format_mac(v),
        },
        ValueKind::Ipv4 => format_ipv4_masked(v, mask.unwrap_or(0xffff_ffff)),
        ValueKind::Ipv6 => format_ipv6_masked(v, mask.unwrap_or(u128::MAX)),
        ValueKind::Port if mask.is_none() => format_port(v as u32, ports),
        ValueKind::TcpFlags => format_tcp_flags(v, mask.unwrap_or(0x0fff)),
        ValueKind::Frag => format_frag(v, mask.unwrap_or(3))
            .unwrap_or("no")
            .to_string(),
        _ => {
            let mut s = super::matches::format_field_int(f, v);
            if let Some(m) = mask {
                s.push('/');
                s.push_str(&c_hex(m));
            }
            s
        }
    }
}

/// Splits a mask into runs of contiguous ones of at most 64 bits:
/// (offset, n_bits), lowest first (OVS's `next_load_segment`).
fn mask_runs(mask: u128) -> Vec<(u8, u8)> {
    let mut runs = Vec::new();
    let mut ofs = 0u32;
    while ofs < 128 {
        let rest = mask >> ofs;
        if rest == 0 {
            break;
        }
        ofs += rest.trailing_zeros();
        let n = (mask >> ofs).trailing_ones().min(64);
        runs.push((ofs as u8, n as u8));
        ofs += n;
    }
    runs
}

fn format_load(out: &mut Vec<String>, field: Field, value: u128, mask: u128) {
    for (ofs, n) in mask_runs(mask & ones(field.width() as u32)) {
        let sf = SubField {
            field,
            ofs,
            n_bits: n,
        };
        let v = (value >> ofs) & ones(n as u32);
        out.push(format!("load:{}->{}", c_hex(v), format_subfield(&sf)));
    }
}

fn format_one(out: &mut Vec<String>, a: &Action, ports: Option<&PortMap>) {
    match a {
        Action::Output { port } => {
            if *port < crate::port::OFPP_MAX {
                out.push(format!("output:{}", format_port(*port, ports)));
            } else if *port == OFPP_CONTROLLER {
                out.push("CONTROLLER:65535".into());
            } else {
                out.push(format_port(*port, ports));
            }
        }
        Action::Controller {
            max_len,
            reason,
            id,
            userdata,
            pause,
            meter_id,
        } => {
            if *reason == PacketInReason::Action
                && *id == 0
                && userdata.is_empty()
                && !pause
                && meter_id.is_none()
            {
                out.push(format!("CONTROLLER:{max_len}"));
            } else {
                let mut parts = Vec::new();
                if *reason != PacketInReason::Action {
                    parts.push(format!("reason={}", reason.name()));
                }
                if *max_len != u16::MAX {
                    parts.push(format!("max_len={max_len}"));
                }
                if *id != 0 {
                    parts.push(format!("id={id}"));
                }
                if !userdata.is_empty() {
                    parts.push(format!("userdata={}", format_hex_bytes(userdata)));
                }
                if *pause {
                    parts.push("pause".into());
                }
                if let Some(m) = meter_id {
                    parts.push(format!("meter_id={m}"));
                }
                out.push(format!("controller({})", parts.join(",")));
            }
        }
        Action::OutputReg { src, .. } => out.push(format!("output:{}", format_subfield(src))),
        Action::Resubmit { in_port, table } => {
            if *in_port != OFPP_IN_PORT && table.is_none() {
                out.push(format!("resubmit:{}", format_port(*in_port, ports)));
            } else {
                let p = if *in_port != OFPP_IN_PORT {
                    format_port(*in_port, ports)
                } else {
                    String::new()
                };
                let t = table.map(|t| t.to_string()).unwrap_or_default();
                out.push(format!("resubmit({p},{t})"));
            }
        }
        Action::GotoTable(t) => out.push(format!("resubmit(,{t})")),
        Action::SetVlanVid(v) => out.push(format!("mod_vlan_vid:{v}")),
        Action::SetVlanPcp(v) => out.push(format!("mod_vlan_pcp:{v}")),
        Action::StripVlan => out.push("strip_vlan".into()),
        Action::PushVlan(t) => out.push(format!("push_vlan:{t:#x}")),
        Action::SetTunnel { id, wide } => {
            let w = if *wide || *id > u32::MAX as u64 {
                "64"
            } else {
                ""
            };
            out.push(format!("set_tunnel{w}:{}", c_hex(*id as u128)));
        }
        Action::SetField {
            field,
            value,
            mask,
            as_load,
        } => {
            if *as_load {
                format_load(out, *field, *value, *mask);
            } else {
                for a in set_field_to_actions(*field, *value, *mask).0 {
                    format_one(out, &a, ports);
                }
            }
        }
        Action::Move { src, dst } => out.push(format!(
            "move:{}->{}",
            format_subfield(src),
            format_subfield(dst)
        )),
        Action::SetEthSrc(m) => out.push(format!("mod_dl_src:{}", format_mac(mac_to_u128(*m)))),
        Action::SetEthDst(m) => out.push(format!("mod_dl_dst:{}", format_mac(mac_to_u128(*m)))),
        Action::SetIpv4Src(a) => out.push(format!("mod_nw_src:{}", std::net::Ipv4Addr::from(*a))),
        Action::SetIpv4Dst(a) => out.push(format!("mod_nw_dst:{}", std::net::Ipv4Addr::from(*a))),
        Action::SetIpTos(t) => out.push(format!("mod_nw_tos:{t}")),
        // OpenFlow 1.0 has no ECN or TTL rewrite: OVS sends loads.
        Action::SetIpEcn(e) => format_load(out, Field::IpEcn, *e as u128, 3),
        Action::SetIpTtl(t) => format_load(out, Field::IpTtl, *t as u128, 0xff),
        Action::SetTpSrc(p) => out.push(format!("mod_tp_src:{p}")),
        Action::SetTpDst(p) => out.push(format!("mod_tp_dst:{p}")),
        Action::DecTtl(ids) => {
            if ids.is_empty() {
                out.push("dec_ttl".into());
            } else {
                let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
                out.push(format!("dec_ttl({})", ids.join(",")));
            }
        }
        Action::Note(bytes) => out.push(format!("note:{}", format_hex_bytes(bytes))),
        Action::Learn(l) => out.push(format_learn(l, ports)),
        Action::Exit => out.push("exit".into()),
    }
}

/// Prints an action list the way `ovs-ofctl dump-flows` shows it.
pub fn format_actions(actions: &[Action], ports: Option<&PortMap>) -> String {
    if actions.is_empty() {
        return "drop".to_string();
    }
    let mut out: Vec<String> = Vec::with_capacity(actions.len());
    for a in actions {
        format_one(&mut out, a, ports);
    }
    out.join(",")
}

/// Prints `learn(...)` as OVS's `learn_format`.
pub fn format_learn(l: &Learn, ports: Option<&PortMap>) -> String {
    let mut s = format!("learn(table={}", l.table);
    if l.idle_timeout != 0 {
        s += &format!(",idle_timeout={}", l.idle_timeout);
    }
    if l.hard_timeout != 0 {
        s += &format!(",hard_timeout={}", l.hard_timeout);
    }
    if l.fin_idle_timeout != 0 {
        s += &format!(",fin_idle_timeout={}", l.fin_idle_timeout);
    }
    if l.fin_hard_timeout != 0 {
        s += &format!(",fin_hard_timeout={}", l.fin_hard_timeout);
    }
    if l.priority != 32768 {
        s += &format!(",priority={}", l.priority);
    }
    if l.send_flow_rem {
        s += ",send_flow_rem";
    }
    if l.delete_learned {
        s += ",delete_learned";
    }
    if l.cookie != 0 {
        s += &format!(",cookie={:#x}", l.cookie);
    }
    if l.limit != 0 {
        s += &format!(",limit={}", l.limit);
    }
    if let Some(r) = &l.result_dst {
        s += &format!(",result_dst={}", format_subfield(r));
    }
    for spec in &l.specs {
        s.push(',');
        match spec {
            LearnSpec::Match {
                dst,
                src: LearnSrc::Imm(v),
            } => {
                if dst.is_whole() {
                    s += &format!(
                        "{}={}",
                        dst.field.info().mf_name,
                        format_field_value(dst.field, *v, None, ports)
                    );
                } else {
                    s += &format!("{}={}", format_subfield(dst), c_hex(*v));
                }
            }
            LearnSpec::Match {
                dst,
                src: LearnSrc::Field(src),
            } => {
                s += &format_subfield(dst);
                if src.field != dst.field || src.ofs != dst.ofs {
                    s += &format!("={}", format_subfield(src));
                }
            }
            LearnSpec::Load {
                dst,
                src: LearnSrc::Imm(v),
            } => {
                s += &format!("load:{}->{}", c_hex(*v), format_subfield(dst));
            }
            LearnSpec::Load {
                dst,
                src: LearnSrc::Field(src),
            } => {
                s += &format!("load:{}->{}", format_subfield(src), format_subfield(dst));
            }
            LearnSpec::Output { src } => s += &format!("output:{}", format_subfield(src)),
        }
    }
    s.push(')');
    s
}
