//! Action lists in flow syntax: parsing everything ovs-ofctl accepts, and
//! printing what `ovs-ofctl dump-flows` (OpenFlow 1.0 + NXM) prints.

use super::matches::{format_port, parse_field_value, parse_port};
use super::value::*;
use super::{err, KeyValues, ParseError, ParseResult, PortMap};
use crate::action::{Action, SubField};
use crate::field::{Field, ValueKind};
use crate::flow_match::Match;
use crate::learn::{Learn, LearnSpec, LearnSrc};
use crate::port::{OFPP_CONTROLLER, OFPP_IN_PORT, OFPP_MAX};

/// Context an action list is parsed in.
#[derive(Clone, Copy)]
pub struct ActionContext<'a> {
    pub ports: Option<&'a PortMap>,
    /// The table the flow goes into (goto_table must point later).
    pub table: u8,
    /// The flow's match, for prerequisite checks (set_field, learn).
    pub matched: &'a Match,
}

/// Parses a subfield: `NXM_OF_VLAN_TCI[0..11]`, `reg0[5]`, `tun_id[]`, `reg0`.
/// Returns the subfield and the unparsed rest.
pub fn parse_subfield_prefix(s: &str) -> ParseResult<(SubField, &str)> {
    let name_len = s.find(['[', '-']).unwrap_or(s.len());
    let name = &s[..name_len];
    let field = Field::from_any_name(name)
        .ok_or_else(|| ParseError(format!("{s}: unknown field `{name}'")))?;
    let width = field.width() as u32;
    let rest = &s[name_len..];
    if let Some(r) = rest.strip_prefix('[') {
        let close = r
            .find(']')
            .ok_or_else(|| ParseError(format!("{s}: syntax error expecting [] or [<bit>] or [<start>..<end>]")))?;
        let inner = &r[..close];
        let after = &r[close + 1..];
        if inner.is_empty() {
            return Ok((SubField::whole(field), after));
        }
        let bad = || ParseError(format!("{s}: syntax error expecting [] or [<bit>] or [<start>..<end>]"));
        let (start, end) = match inner.split_once("..") {
            Some((a, b)) => (a.parse::<u32>().map_err(|_| bad())?, b.parse::<u32>().map_err(|_| bad())?),
            None => {
                let a = inner.parse::<u32>().map_err(|_| bad())?;
                (a, a)
            }
        };
        if start > end {
            return err(format!("{s}: starting bit {start} is after ending bit {end}"));
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
            after,
        ))
    } else {
        Ok((SubField::whole(field), rest))
    }
}

/// Parses a complete subfield (nothing may follow).
pub fn parse_subfield(s: &str) -> ParseResult<SubField> {
    let (sf, rest) = parse_subfield_prefix(s)?;
    if !rest.is_empty() {
        return err(format!("{s}: trailing garbage following subfield"));
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
        format!("{name}[{}..{}]", sf.ofs, sf.ofs as u32 + sf.n_bits as u32 - 1)
    }
}

fn str_to_u16(s: &str, name: &str) -> ParseResult<u16> {
    parse_uint(s)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| ParseError(format!("invalid {name} \"{s}\"")))
}

fn str_to_u8(s: &str, name: &str) -> ParseResult<u8> {
    parse_uint(s)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| ParseError(format!("invalid {name} \"{s}\"")))
}

fn str_to_u64(s: &str) -> ParseResult<u64> {
    parse_uint(s)
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| ParseError(format!("invalid numeric format {s}")))
}

fn parse_table(s: &str) -> Option<u8> {
    parse_uint(s).and_then(|v| u8::try_from(v).ok()).filter(|t| *t < 255)
}

fn ones(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Parses an action list (the text after `actions=`).
pub fn parse_actions(s: &str, ctx: &ActionContext) -> ParseResult<Vec<Action>> {
    let mut out = Vec::new();
    let mut drop = false;
    let mut goto: Option<u8> = None;
    for (key, value) in KeyValues::new(s) {
        if goto.is_some() {
            return err(format!(
                "{key}: instruction goto_table must be the last instruction (actions cannot follow it)"
            ));
        }
        let lower = key.to_ascii_lowercase();
        let a = match lower.as_str() {
            "output" => parse_output(value, ctx)?,
            "controller" => parse_controller(value)?,
            "resubmit" => parse_resubmit(value, ctx)?,
            "goto_table" => {
                let t = parse_table(value)
                    .ok_or_else(|| ParseError(format!("unknown table \"{value}\"")))?;
                if t <= ctx.table {
                    return err(format!(
                        "goto_table:{value}: table {t} is not later than the flow's table {} (OFPBIC_BAD_TABLE_ID)",
                        ctx.table
                    ));
                }
                goto = Some(t);
                Action::GotoTable(t)
            }
            "mod_vlan_vid" | "set_vlan_vid" => {
                let v = str_to_u16(value, "VLAN VID")
                    .ok()
                    .filter(|v| *v <= 0x0fff)
                    .ok_or_else(|| ParseError(format!("{value}: not a valid VLAN VID")))?;
                Action::SetVlanVid(v)
            }
            "mod_vlan_pcp" | "set_vlan_pcp" => {
                let v = str_to_u8(value, "VLAN PCP")
                    .ok()
                    .filter(|v| *v <= 7)
                    .ok_or_else(|| ParseError(format!("{value}: not a valid VLAN PCP")))?;
                Action::SetVlanPcp(v)
            }
            "strip_vlan" | "pop_vlan" => Action::StripVlan,
            "push_vlan" => {
                let t = str_to_u16(value, "ethertype")?;
                if t != 0x8100 && t != 0x88a8 {
                    return err(format!("{value}: not a valid VLAN ethertype"));
                }
                Action::PushVlan(t)
            }
            "set_tunnel" | "set_tunnel64" => Action::SetTunnel {
                id: str_to_u64(value)?,
                wide: lower == "set_tunnel64",
            },
            "set_field" => parse_set_field(value, ctx)?,
            "load" => parse_load(value)?,
            "move" => parse_move(value)?,
            "mod_dl_src" | "mod_dl_dst" => {
                let mac = parse_mac(value)
                    .ok_or_else(|| ParseError(format!("invalid mac address {value}")))?;
                if lower == "mod_dl_src" {
                    Action::SetEthSrc(mac)
                } else {
                    Action::SetEthDst(mac)
                }
            }
            "mod_nw_src" | "mod_nw_dst" => {
                let ip: std::net::Ipv4Addr = value
                    .parse()
                    .map_err(|_| ParseError(format!("{value}: could not convert to IP address")))?;
                if lower == "mod_nw_src" {
                    Action::SetIpv4Src(ip.into())
                } else {
                    Action::SetIpv4Dst(ip.into())
                }
            }
            "mod_nw_tos" => {
                let t = str_to_u8(value, "TOS")?;
                if t & 0x03 != 0 {
                    return err(format!("{value}: not a valid TOS"));
                }
                Action::SetIpTos(t)
            }
            "mod_nw_ecn" => {
                let t = str_to_u8(value, "ECN")?;
                if t > 3 {
                    return err(format!("{value}: not a valid ECN"));
                }
                Action::SetIpEcn(t)
            }
            "mod_nw_ttl" | "set_nw_ttl" => Action::SetIpTtl(str_to_u8(value, "TTL")?),
            "mod_tp_src" => Action::SetTpSrc(str_to_u16(value, "source port")?),
            "mod_tp_dst" => Action::SetTpDst(str_to_u16(value, "destination port")?),
            "dec_ttl" => parse_dec_ttl(value)?,
            "note" => parse_note(value)?,
            "learn" => Action::Learn(Box::new(parse_learn(value, ctx)?)),
            "exit" => Action::Exit,
            "drop" => {
                drop = true;
                continue;
            }
            "apply_actions" => return err("apply_actions is the default instruction"),
            _ => {
                if value.is_empty() {
                    if let Some(p) = parse_port(key, ctx.ports) {
                        out.push(output_action(p));
                        continue;
                    }
                }
                return err(format!("unknown action {key}"));
            }
        };
        out.push(a);
    }
    if drop && !out.is_empty() {
        return err("\"drop\" must not be accompanied by any other action or instruction");
    }
    Ok(out)
}

fn output_action(port: u32) -> Action {
    if port == OFPP_CONTROLLER {
        Action::Controller { max_len: u16::MAX }
    } else {
        Action::Output { port }
    }
}

fn parse_output(value: &str, ctx: &ActionContext) -> ParseResult<Action> {
    if value.contains('[') {
        let src = parse_subfield(value)?;
        return Ok(Action::OutputReg {
            src,
            max_len: u16::MAX,
        });
    }
    let p = parse_port(value, ctx.ports)
        .ok_or_else(|| ParseError(format!("{value}: output to unknown port")))?;
    if p > 0xffff || ((OFPP_MAX..0xfff8).contains(&p)) {
        return err(format!("{value}: output to unknown port"));
    }
    Ok(output_action(p))
}

fn parse_controller(value: &str) -> ParseResult<Action> {
    if value.is_empty() {
        return Ok(Action::Controller { max_len: u16::MAX });
    }
    if !value.contains('=') {
        return Ok(Action::Controller {
            max_len: str_to_u16(value, "max_len")?,
        });
    }
    let mut max_len = u16::MAX;
    for (k, v) in KeyValues::new(value) {
        match k {
            "max_len" => max_len = str_to_u16(v, "max_len")?,
            // Reasons, ids and userdata only matter to a controller, which
            // rswitch does not have; accept the common ones for compatibility.
            "reason" | "id" | "userdata" | "pause" | "meter_id" => {}
            _ => return err(format!("{k}: unknown controller argument")),
        }
    }
    Ok(Action::Controller { max_len })
}

fn parse_resubmit(value: &str, ctx: &ActionContext) -> ParseResult<Action> {
    let mut parts = value.splitn(3, ',');
    let port_s = parts.next().unwrap_or("");
    let table_s = parts.next().unwrap_or("");
    if let Some(extra) = parts.next() {
        if extra != "ct" {
            return err(format!("{extra}: unknown resubmit argument"));
        }
    }
    let in_port = if port_s.is_empty() {
        OFPP_IN_PORT
    } else {
        parse_port(port_s, ctx.ports)
            .filter(|p| *p <= 0xffff)
            .ok_or_else(|| ParseError(format!("{port_s}: resubmit to unknown port")))?
    };
    let table = if table_s.is_empty() {
        None
    } else {
        Some(
            parse_table(table_s)
                .ok_or_else(|| ParseError(format!("{table_s}: resubmit to unknown table")))?,
        )
    };
    if in_port == OFPP_IN_PORT && table.is_none() {
        return err("at least one \"in_port\" or \"table\" must be specified on resubmit");
    }
    Ok(Action::Resubmit { in_port, table })
}

fn parse_set_field(value: &str, ctx: &ActionContext) -> ParseResult<Action> {
    let (v, name) = value
        .split_once("->")
        .ok_or_else(|| ParseError(format!("{value}: missing `->'")))?;
    if name.is_empty() {
        return err(format!("{value}: missing field name following `->'"));
    }
    let field = Field::from_name(name)
        .or_else(|| Field::from_nxm(name))
        .ok_or_else(|| ParseError(format!("{name} is not a valid OXM field name")))?;
    if !field.info().writable {
        return err(format!("{name} is read-only"));
    }
    let (val, mask) = parse_field_value(field, v, ctx.ports)?;
    Ok(Action::SetField {
        field,
        value: val,
        mask,
        as_load: false,
    })
}

fn parse_load(value: &str) -> ParseResult<Action> {
    let (v, dst) = value
        .split_once("->")
        .ok_or_else(|| ParseError(format!("{value}: missing `->'")))?;
    let dst = parse_subfield(dst)?;
    if !dst.field.info().writable {
        return err(format!("{}: destination field is read-only", format_subfield(&dst)));
    }
    let val = parse_uint(v).ok_or_else(|| ParseError(format!("{value}: cannot parse integer value")))?;
    if val & !ones(dst.n_bits as u32) != 0 {
        return err(format!("{v}: value does not fit into {} bits", dst.n_bits));
    }
    Ok(Action::SetField {
        field: dst.field,
        value: val << dst.ofs,
        mask: dst.mask(),
        as_load: true,
    })
}

fn parse_move(value: &str) -> ParseResult<Action> {
    let (s, d) = value
        .split_once("->")
        .ok_or_else(|| ParseError(format!("{value}: missing `->' following source")))?;
    let src = parse_subfield(s)?;
    let dst = parse_subfield(d)?;
    if !dst.field.info().writable {
        return err(format!("{d}: destination field is read-only"));
    }
    if src.n_bits != dst.n_bits {
        return err(format!(
            "{value}: source field is {} bits wide but destination is {} bits wide",
            src.n_bits, dst.n_bits
        ));
    }
    Ok(Action::Move { src, dst })
}

fn parse_dec_ttl(value: &str) -> ParseResult<Action> {
    if value.is_empty() {
        return Ok(Action::DecTtl(Vec::new()));
    }
    let mut ids = Vec::new();
    for id in value.split(',') {
        ids.push(str_to_u16(id.trim(), "controller id")?);
    }
    if ids.is_empty() {
        return err("dec_ttl_cnt_ids: expected at least one controller id.");
    }
    Ok(Action::DecTtl(ids))
}

fn parse_note(value: &str) -> ParseResult<Action> {
    let b = value.as_bytes();
    let mut i = 0;
    let mut bytes = Vec::new();
    while i < b.len() {
        if b[i] == b'.' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let hex = value
            .get(i..i + 2)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| ParseError("bad hex digit in `note' argument".into()))?;
        bytes.push(u8::from_str_radix(hex, 16).expect("checked hex"));
        i += 2;
    }
    // OVS pads the NXAST_NOTE action (10-byte header + note) to a multiple of
    // 8 bytes and reads the padding back as note bytes.
    let padded = (10 + bytes.len()).div_ceil(8) * 8 - 10;
    bytes.resize(padded, 0);
    Ok(Action::Note(bytes))
}

fn parse_learn(value: &str, ctx: &ActionContext) -> ParseResult<Learn> {
    let mut l = Learn::default();
    // The learned flow's match so far, for destination prerequisites.
    let mut learned = Match::CATCHALL;
    let orig = value;
    for (name, v) in KeyValues::new(value) {
        match name {
            "table" => {
                l.table = parse_uint(v)
                    .and_then(|t| u8::try_from(t).ok())
                    .ok_or_else(|| ParseError(format!("unknown table \"{v}\"")))?;
                if l.table == 255 {
                    return err(format!("{orig}: table id 255 not valid for `learn' action"));
                }
            }
            "priority" => l.priority = str_to_u16(v, "priority")?,
            "idle_timeout" => l.idle_timeout = str_to_u16(v, "idle_timeout")?,
            "hard_timeout" => l.hard_timeout = str_to_u16(v, "hard_timeout")?,
            "fin_idle_timeout" => l.fin_idle_timeout = str_to_u16(v, "fin_idle_timeout")?,
            "fin_hard_timeout" => l.fin_hard_timeout = str_to_u16(v, "fin_hard_timeout")?,
            "cookie" => l.cookie = str_to_u64(v)?,
            "send_flow_rem" => l.send_flow_rem = true,
            "delete_learned" => l.delete_learned = true,
            "limit" => {
                l.limit = parse_uint(v)
                    .and_then(|x| u32::try_from(x).ok())
                    .ok_or_else(|| ParseError(format!("invalid limit \"{v}\"")))?
            }
            "result_dst" => {
                let sf = parse_subfield(v)?;
                if !sf.field.info().writable {
                    return err(format!("{v} is read-only"));
                }
                if sf.n_bits != 1 {
                    return err("result_dst in 'learn' action must be a single bit");
                }
                l.result_dst = Some(sf);
            }
            "load" => l.specs.push(parse_learn_load(orig, v)?),
            "output" => {
                let src = parse_subfield(v)?;
                check_src_prereqs(orig, &src, ctx)?;
                l.specs.push(LearnSpec::Output { src });
            }
            _ => {
                let dst = match parse_subfield(name) {
                    Ok(d) => d,
                    Err(_) => return err(format!("{orig}: unknown keyword {name}")),
                };
                let spec = if v.is_empty() {
                    check_src_prereqs(orig, &dst, ctx)?;
                    LearnSpec::Match {
                        dst,
                        src: LearnSrc::Field(dst),
                    }
                } else {
                    match parse_subfield(v) {
                        Ok(src) => {
                            if src.n_bits != dst.n_bits {
                                return err(format!(
                                    "{orig}: bit widths of {name} ({}) and {v} ({}) differ",
                                    dst.n_bits, src.n_bits
                                ));
                            }
                            check_src_prereqs(orig, &src, ctx)?;
                            LearnSpec::Match {
                                dst,
                                src: LearnSrc::Field(src),
                            }
                        }
                        Err(sub_err) => {
                            let imm = parse_learn_imm(orig, &dst, v).map_err(|imm_err| {
                                ParseError(format!(
                                    "{orig}: {name} value {v} cannot be parsed as a subfield ({}) or an immediate value ({})",
                                    sub_err.0, imm_err.0
                                ))
                            })?;
                            LearnSpec::Match {
                                dst,
                                src: LearnSrc::Imm(imm),
                            }
                        }
                    }
                };
                if !dst.field.prereqs_ok(&learned.value, &learned.mask) {
                    return err(format!(
                        "{orig}: cannot specify {name} without its prerequisites ({})",
                        dst.field.info().prereq.describe()
                    ));
                }
                if let LearnSpec::Match {
                    dst,
                    src: LearnSrc::Imm(v),
                } = &spec
                {
                    let (ov, om) = learned.get(dst.field);
                    let m = dst.mask();
                    learned.set_masked(dst.field, (ov & !m) | (v << dst.ofs), om | m);
                }
                l.specs.push(spec);
            }
        }
    }
    Ok(l)
}

/// A source field of a learn spec is read from the packet, so the flow that
/// holds the learn action must establish its prerequisites.
fn check_src_prereqs(orig: &str, src: &SubField, ctx: &ActionContext) -> ParseResult<()> {
    if src.field.prereqs_ok(&ctx.matched.value, &ctx.matched.mask) {
        Ok(())
    } else {
        err(format!(
            "{orig}: source field {} requires {} in the flow's match (OFPBAC_MATCH_INCONSISTENT)",
            format_subfield(src),
            src.field.info().prereq.describe()
        ))
    }
}

fn parse_learn_imm(_orig: &str, dst: &SubField, v: &str) -> ParseResult<u128> {
    if dst.is_whole() {
        let (val, mask) = parse_field_value(dst.field, v, None)?;
        if mask != ones(dst.n_bits as u32) && dst.field.info().kind != ValueKind::Port {
            return err(format!("{v}: masks are not allowed here"));
        }
        Ok(val)
    } else {
        let val = parse_uint(v).ok_or_else(|| ParseError(format!("cannot parse integer value: {v}")))?;
        if val & !ones(dst.n_bits as u32) != 0 {
            return err(format!("value {v} does not fit into {} bits", dst.n_bits));
        }
        Ok(val)
    }
}

fn parse_learn_load(orig: &str, v: &str) -> ParseResult<LearnSpec> {
    let (src_s, dst_s) = match v.split_once("->") {
        Some(("", _)) => return err(format!("{orig}: missing source before `->' in `{v}'")),
        Some(x) => x,
        None => return err(format!("{orig}: missing `->' in `{v}'")),
    };
    let dst = parse_subfield(dst_s)?;
    if !dst.field.info().writable {
        return err(format!("{dst_s}: destination field is read-only"));
    }
    let src = match parse_subfield(src_s) {
        Ok(s) => {
            if s.n_bits != dst.n_bits {
                return err(format!(
                    "{orig}: bit widths of {src_s} ({}) and {dst_s} ({}) differ",
                    s.n_bits, dst.n_bits
                ));
            }
            LearnSrc::Field(s)
        }
        Err(_) => {
            let val = parse_uint(src_s)
                .ok_or_else(|| ParseError(format!("{orig}: cannot parse integer value: {src_s}")))?;
            if val & !ones(dst.n_bits as u32) != 0 {
                return err(format!("{orig}: value {src_s} does not fit into {} bits", dst.n_bits));
            }
            LearnSrc::Imm(val)
        }
    };
    Ok(LearnSpec::Load { dst, src })
}

// ---------------------------------------------------------------- printing

/// `%#x` as C prints it: `0` for zero, `0x..` otherwise.
fn c_hex(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn field_is_hex(f: Field) -> bool {
    matches!(
        f,
        Field::TunId | Field::Metadata | Field::Reg(_) | Field::EthType | Field::VlanTci | Field::Ipv6Label
    )
}

/// Prints a field value like OVS's `mf_format` (mask omitted when exact).
pub fn format_field_value(f: Field, v: u128, mask: Option<u128>, ports: Option<&PortMap>) -> String {
    let info = f.info();
    let full = ones(info.width as u32);
    let mask = mask.filter(|m| *m != full);
    match info.kind {
        ValueKind::Mac => match mask {
            Some(m) => format!("{}/{}", format_mac(v), format_mac(m)),
            None => format_mac(v),
        },
        ValueKind::Ipv4 => format_ipv4_masked(v, mask.unwrap_or(0xffff_ffff)),
        ValueKind::Ipv6 => format_ipv6_masked(v, mask.unwrap_or(u128::MAX)),
        ValueKind::Port => format_port(v as u32, ports),
        ValueKind::TcpFlags => format_tcp_flags(v, mask.unwrap_or(0x0fff)),
        ValueKind::Frag => format_frag(v, mask.unwrap_or(3)).unwrap_or("no").to_string(),
        ValueKind::Int => {
            let mut s = if field_is_hex(f) { c_hex(v) } else { v.to_string() };
            if let Some(m) = mask {
                s.push('/');
                s.push_str(&c_hex(m));
            }
            s
        }
    }
}

/// Splits a mask into runs of contiguous ones: (offset, n_bits).
fn mask_runs(mask: u128) -> Vec<(u8, u8)> {
    let mut runs = Vec::new();
    let mut m = mask;
    let mut ofs = 0u32;
    while m != 0 {
        let tz = m.trailing_zeros();
        m >>= tz;
        ofs += tz;
        let n = m.trailing_ones();
        runs.push((ofs as u8, n as u8));
        if n >= 128 {
            break;
        }
        m >>= n;
        ofs += n;
    }
    runs
}

fn format_set_field(out: &mut Vec<String>, field: Field, value: u128, mask: u128, as_load: bool, ports: Option<&PortMap>) {
    let width = field.width() as u32;
    if as_load || (width <= 64 && field.info().nxm.or(field.info().oxm).is_some()) {
        for (ofs, n) in mask_runs(mask) {
            let sf = SubField { field, ofs, n_bits: n };
            let v = (value >> ofs) & ones(n as u32);
            out.push(format!("load:{}->{}", c_hex(v), format_subfield(&sf)));
        }
    } else {
        out.push(format!(
            "set_field:{}->{}",
            format_field_value(field, value, Some(mask), ports),
            field.info().mf_name
        ));
    }
}

/// Prints an action list the way `ovs-ofctl dump-flows` shows it.
pub fn format_actions(actions: &[Action], ports: Option<&PortMap>) -> String {
    if actions.is_empty() {
        return "drop".to_string();
    }
    let mut out: Vec<String> = Vec::with_capacity(actions.len());
    for a in actions {
        match a {
            Action::Output { port } => {
                if *port < OFPP_MAX {
                    out.push(format!("output:{}", format_port(*port, ports)));
                } else {
                    out.push(format_port(*port, ports));
                }
            }
            Action::Controller { max_len } => out.push(format!("CONTROLLER:{max_len}")),
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
            Action::GotoTable(t) => out.push(format!("goto_table:{t}")),
            Action::SetVlanVid(v) => out.push(format!("mod_vlan_vid:{v}")),
            Action::SetVlanPcp(v) => out.push(format!("mod_vlan_pcp:{v}")),
            Action::StripVlan => out.push("strip_vlan".into()),
            Action::PushVlan(t) => out.push(format!("push_vlan:{t:#x}")),
            Action::SetTunnel { id, wide } => {
                let w = if *wide || *id > u32::MAX as u64 { "64" } else { "" };
                out.push(format!("set_tunnel{w}:{}", c_hex(*id as u128)));
            }
            Action::SetField {
                field,
                value,
                mask,
                as_load,
            } => format_set_field(&mut out, *field, *value, *mask, *as_load, ports),
            Action::Move { src, dst } => {
                out.push(format!("move:{}->{}", format_subfield(src), format_subfield(dst)))
            }
            Action::SetEthSrc(m) => out.push(format!("mod_dl_src:{}", format_mac(mac_to_u128(*m)))),
            Action::SetEthDst(m) => out.push(format!("mod_dl_dst:{}", format_mac(mac_to_u128(*m)))),
            Action::SetIpv4Src(a) => out.push(format!("mod_nw_src:{}", std::net::Ipv4Addr::from(*a))),
            Action::SetIpv4Dst(a) => out.push(format!("mod_nw_dst:{}", std::net::Ipv4Addr::from(*a))),
            Action::SetIpTos(t) => out.push(format!("mod_nw_tos:{t}")),
            Action::SetIpEcn(e) => out.push(format!("mod_nw_ecn:{e}")),
            Action::SetIpTtl(t) => out.push(format!("mod_nw_ttl:{t}")),
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
            Action::Note(bytes) => {
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
                out.push(format!("note:{}", hex.join(".")));
            }
            Action::Learn(l) => out.push(format_learn(l, ports)),
            Action::Exit => out.push("exit".into()),
        }
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
            LearnSpec::Match { dst, src: LearnSrc::Imm(v) } => {
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
            LearnSpec::Match { dst, src: LearnSrc::Field(src) } => {
                s += &format_subfield(dst);
                if src.field != dst.field || src.ofs != dst.ofs {
                    s += &format!("={}", format_subfield(src));
                }
            }
            LearnSpec::Load { dst, src: LearnSrc::Imm(v) } => {
                s += &format!("load:{}->{}", c_hex(*v), format_subfield(dst));
            }
            LearnSpec::Load { dst, src: LearnSrc::Field(src) } => {
                s += &format!("load:{}->{}", format_subfield(src), format_subfield(dst));
            }
            LearnSpec::Output { src } => s += &format!("output:{}", format_subfield(src)),
        }
    }
    s.push(')');
    s
}
