//! Whole flow strings: `table=0,priority=1,in_port=1 actions=...` parsed into
//! flow-mod requests, and files of them (`ovs-ofctl add-flows` format).
//!
//! The order of work, and so which error wins when a flow has several, is
//! ovs-ofctl's `parse_ofp_str`: match keywords left to right, then the
//! action list, then the actions' consistency with the match, then whether
//! OpenFlow 1.0 or NXM can carry the flow at all.

use super::actions::{check_actions, parse_action_items, parse_subfield, ActionContext};
use super::matches::{
    apply_protocol, byte_mask, format_field_int, normalize, nxm_roundtrip, of10_roundtrip,
    parse_field_value, port_from_string, set_field_in_match,
};
use super::protocol::Protocols;
use super::value::*;
use super::{err, err_near, KeyValues, ParseError, ParseResult, PortMap};
use crate::action::Action;
use crate::field::{unsupported_field, Field};
use crate::flow_match::Match;
use crate::key;
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
        matches!(
            self,
            FlowModCommand::Add | FlowModCommand::Modify | FlowModCommand::ModifyStrict
        )
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
    /// Everything Open vSwitch would have done silently to this flow:
    /// fields dropped for missing prerequisites, values truncated to their
    /// field, VLAN matches OpenFlow 1.0 cannot express, ...
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

/// Finds `actions=` the way OVS's `ofp_extract_actions` does: the first
/// "action" substring, then the first `=` after it.
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

/// Tracks the protocols that can still carry the flow, remembering which
/// token first narrowed them (to name it in errors).
struct Usable<'s> {
    p: Protocols,
    allowed: Protocols,
    /// The token that ruled out the last allowed protocol, or emptied the set.
    by: Option<&'s str>,
}

impl<'s> Usable<'s> {
    fn restrict(&mut self, token: &'s str, p: Protocols) {
        let new = self.p.and(p);
        let lost_allowed = self.p.intersects(self.allowed) && !new.intersects(self.allowed);
        let emptied = !self.p.is_empty() && new.is_empty();
        if lost_allowed || emptied {
            self.by = Some(token);
        }
        self.p = new;
    }
}

/// `name[ofs..end]=value` in a match: sets those bits of the field.
fn parse_subfield_match(
    m: &mut Match,
    name: &str,
    value: &str,
    warnings: &mut Vec<String>,
) -> ParseResult<Protocols> {
    let sf = parse_subfield(name)?;
    let n_bytes = sf.field.n_bytes() as usize;
    let val = match parse_int_string(value, n_bytes) {
        Ok((v, "")) => v,
        _ => return err(format!("{name}: cannot parse integer value: {value}")),
    };
    let ones = if sf.n_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << sf.n_bits) - 1
    };
    if val & !ones != 0 {
        return err(format!(
            "{name}: value {} does not fit into {} bits",
            format_field_int(sf.field, val),
            sf.n_bits
        ));
    }
    let (ov, om) = m.get(sf.field);
    let (mut nv, mut nm) = ((ov & !sf.mask()) | (val << sf.ofs), om | sf.mask());
    if nm == crate::action::SubField::whole(sf.field).mask() {
        nm = byte_mask(sf.field);
        nv &= nm;
    }
    Ok(set_field_in_match(m, sf.field, nv, nm, warnings))
}

/// Parses a flow string for `command`, like `ovs-ofctl add-flow BR FLOW`
/// (OpenFlow 1.0 + NXM, ovs-ofctl's default).
pub fn parse_flow_mod(
    s: &str,
    command: FlowModCommand,
    ports: Option<&PortMap>,
) -> ParseResult<FlowMod> {
    parse_flow_mod_with(s, command, ports, Protocols::ALLOWED)
}

/// [`parse_flow_mod`] with other allowed protocols, like `ovs-ofctl -O
/// OpenFlow13` (which accepts `reset_counts` and `push_vlan`).
pub fn parse_flow_mod_with(
    s: &str,
    command: FlowModCommand,
    ports: Option<&PortMap>,
    allowed: Protocols,
) -> ParseResult<FlowMod> {
    use FlowModCommand as C;
    let mut fm = FlowMod::new(command);
    let mut usable = Usable {
        p: Protocols::ANY,
        allowed,
        by: None,
    };
    let (match_part, act_str) = if command.has_actions() {
        match split_actions(s) {
            (m, Some(a)) => (m, Some(a)),
            _ => return err_near("must specify an action", s.trim()),
        }
    } else {
        (s, None)
    };
    let allows_out_port = matches!(command, C::Delete | C::DeleteStrict);
    let allows_priority = command != C::Delete;
    let allows_flags = command.has_actions();
    let mut warnings = Vec::new();
    for (name, value) in KeyValues::new(match_part) {
        let token = super::actions::span(match_part, name, value);
        if apply_protocol(&mut fm.matched, name) {
            continue;
        }
        match name {
            "eth" => continue,
            "send_flow_rem" if allows_flags => {
                fm.send_flow_rem = true;
                continue;
            }
            "check_overlap" if allows_flags => {
                fm.check_overlap = true;
                continue;
            }
            "reset_counts" if allows_flags => {
                fm.reset_counts = true;
                usable.restrict(token, Protocols::OF12_UP);
                continue;
            }
            "no_packet_counts" | "no_byte_counts" if allows_flags => {
                usable.restrict(token, Protocols::OF13_UP);
                continue;
            }
            "no_readonly_table" | "allow_hidden_fields" => continue,
            // Known to OVS but impossible to match through OpenFlow: OVS
            // accepts the syntax and then finds no protocol for the flow.
            "skb_priority" => {
                let v = if value.is_empty() { "0/0" } else { value };
                parse_int_string(v.split('/').next().unwrap_or(v), 4).map_err(|_| {
                    ParseError(format!("{value}: bad syntax for skb_priority value"))
                })?;
                usable.restrict(token, Protocols::NONE);
                continue;
            }
            _ => {}
        }
        if let Some(field) = super::matches::lookup_field(name) {
            let v = if value.is_empty() { "0/0" } else { value };
            let (val, mask) = parse_field_value(field, v, ports, &mut warnings)?;
            if field == Field::Ipv6Label && mask != 0 && val > 0xfffff {
                return err(format!(
                    "{v}: value not valid for 20-bit field ipv6_label (Open vSwitch rejects it: OFPBMC_BAD_VALUE)"
                ));
            }
            let p = set_field_in_match(&mut fm.matched, field, val, mask, &mut warnings);
            usable.restrict(token, p);
            continue;
        }
        if let Some(why) = unsupported_field(name) {
            return err(format!("unsupported field {name} ({why})"));
        }
        if name.contains('[') {
            let p = parse_subfield_match(&mut fm.matched, name, value, &mut warnings)?;
            usable.restrict(token, p);
            continue;
        }
        if value.is_empty() {
            return err(format!("field {name} missing value"));
        }
        match name {
            "table" => {
                let t = if value.starts_with('-') {
                    None
                } else {
                    str_to_uint(value, 10).and_then(|t| u8::try_from(t).ok())
                };
                let t = t.ok_or_else(|| ParseError(format!("unknown table \"{value}\"")))?;
                if t == 255 {
                    if command == C::Add {
                        warnings.push(format!(
                            "{token}: table 255 means \"all tables\"; Open vSwitch adds the flow to table 0"
                        ));
                    }
                    fm.table = None;
                } else {
                    fm.table = Some(t);
                    usable.restrict(token, Protocols::TID);
                }
            }
            "out_port" if allows_out_port => {
                fm.out_port = port_from_string(value, ports)
                    .map(|(p, _)| p)
                    .ok_or_else(|| ParseError(format!("{value} is not a valid OpenFlow port")))?;
            }
            "out_group" if allows_out_port => {
                return err(format!(
                    "unsupported keyword {token} (rswitch does not implement groups)"
                ));
            }
            "priority" if allows_priority => {
                fm.priority = str_to_u16(value, name).map_err(ParseError)?
            }
            "idle_timeout" if allows_flags => {
                fm.idle_timeout = str_to_u16(value, name).map_err(ParseError)?
            }
            "hard_timeout" if allows_flags => {
                fm.hard_timeout = str_to_u16(value, name).map_err(ParseError)?
            }
            "importance" if command == C::Add => {
                fm.importance = str_to_u16(value, name).map_err(ParseError)?
            }
            "cookie" => {
                if let Some((v, m)) = value.split_once('/') {
                    if command == C::Add {
                        return err_near("flow additions cannot use a cookie mask", token);
                    }
                    fm.cookie = str_to_u64(v).map_err(|e| ParseError::near(e, token))?;
                    fm.cookie_mask = str_to_u64(m).map_err(|e| ParseError::near(e, token))?;
                } else {
                    if !command.has_actions() {
                        return err_near(
                            "cannot set cookie (to match on a cookie, specify a mask, e.g. cookie=0x5/-1)",
                            token,
                        );
                    }
                    fm.new_cookie =
                        Some(str_to_u64(value).map_err(|e| ParseError::near(e, token))?);
                }
            }
            // Statistics of a dump line: ignored so that dumps can be fed back.
            "duration" | "n_packets" | "n_bytes" | "idle_age" | "hard_age" => {}
            _ => return err(format!("unknown keyword {name}")),
        }
    }

    // NXM is needed for any L3/L4 detail of an IPv6 match.
    let m = &fm.matched;
    if m.value.get(key::ETH_TYPE) as u16 == crate::field::ETH_TYPE_IPV6
        && (m.mask.get(key::IP_PROTO) != 0
            || m.mask.get(key::IP_TOS) != 0
            || m.mask.get(key::TP_SRC) != 0
            || m.mask.get(key::TP_DST) != 0)
    {
        usable.restrict(match_part.trim(), Protocols::NXM_OXM_ANY);
    }

    for d in normalize(&mut fm.matched) {
        warnings.push(format!(
            "{d}: dropped from the match because its prerequisites are missing (Open vSwitch drops it silently)"
        ));
    }

    if let Some(a) = act_str {
        let ctx = ActionContext {
            ports,
            table: fm.table,
            matched: &fm.matched,
        };
        let parsed = parse_action_items(a, &ctx, &mut warnings)?;
        usable.restrict(parsed.restrictor.unwrap_or(a.trim()), parsed.usable);
        let checked = check_actions(&parsed, &ctx)?;
        usable.restrict(a.trim(), checked);
        fm.actions = parsed.actions();
    }

    let by = usable.by.unwrap_or(s.trim());
    if usable.p.is_empty() {
        return err_near(
            "actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT)",
            by,
        );
    }
    if !usable.p.intersects(allowed) {
        return err_near(
            format!(
                "none of the usable flow formats ({}) is among the allowed flow formats ({})",
                usable.p, allowed
            ),
            by,
        );
    }

    // ovs-ofctl sends the flow as OpenFlow 1.0 when it can, and the switch
    // reports it back in NXM: both trips can change the match.
    if usable.p.intersects(Protocols::OF10_STD_ANY) {
        warnings.extend(of10_roundtrip(&mut fm.matched));
    }
    warnings.extend(nxm_roundtrip(&mut fm.matched));
    // ovs-ofctl's modify without a cookie (and without a cookie mask) sends
    // cookie 0, so the switch resets the flow's cookie: do the same.
    if matches!(
        command,
        FlowModCommand::Modify | FlowModCommand::ModifyStrict
    ) && fm.cookie_mask == 0
        && fm.new_cookie.is_none()
    {
        fm.new_cookie = Some(0);
    }
    fm.warnings = warnings;
    Ok(fm)
}

/// The command a flows-file line starts with: OVS accepts any prefix of
/// `add`, `delete`, `delete_strict`, `modify`, `modify_strict` (so `d` is
/// delete and `modify_s` is modify_strict).
fn command_prefix(word: &str) -> Option<FlowModCommand> {
    use FlowModCommand as C;
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
    .find(|(name, _)| name.starts_with(word))
    .map(|(_, c)| *c)
}

/// Parses one line of a flows file: an optional `add`/`modify`/`delete`/
/// `modify_strict`/`delete_strict` prefix, then a flow. `default` is the
/// command when there is no prefix.
pub fn parse_flow_line(
    line: &str,
    default: FlowModCommand,
    ports: Option<&PortMap>,
) -> ParseResult<FlowMod> {
    let t = line.trim_start_matches([' ', '\t', '\r', '\n']);
    let word_end = t.find([' ', '\t', ',', '\r', '\n']).unwrap_or(t.len());
    match command_prefix(&t[..word_end]) {
        Some(cmd) => parse_flow_mod(&t[word_end..], cmd, ports),
        None => parse_flow_mod(t, default, ports),
    }
}

/// Parses a flows file: blank lines and `#` comments are skipped. Errors
/// name the line number. Nothing is applied by parsing.
pub fn parse_flows_file(
    text: &str,
    default: FlowModCommand,
    ports: Option<&PortMap>,
) -> ParseResult<Vec<FlowMod>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str) -> String {
        let fm = parse_flow_mod(s, FlowModCommand::Add, None).unwrap();
        format!(
            "{} actions={}",
            super::super::matches::format_match(&fm.matched, fm.priority, None),
            super::super::actions::format_actions(&fm.actions, None)
        )
    }

    #[test]
    fn prefixes_like_ovs() {
        assert_eq!(command_prefix("d"), Some(FlowModCommand::Delete));
        assert_eq!(
            command_prefix("modify_s"),
            Some(FlowModCommand::ModifyStrict)
        );
        assert_eq!(command_prefix("arp"), None);
    }

    #[test]
    fn vlan_and_icmp_round_trips() {
        assert_eq!(
            show("vlan_vid=5,actions=drop"),
            "vlan_tci=0x0000 actions=drop"
        );
        assert_eq!(
            show("icmp,tp_src=300,actions=drop"),
            "icmp,icmp_type=44 actions=drop"
        );
        assert_eq!(
            show("vlan_tci=0x0005,actions=set_field:1->reg0"),
            "vlan_tci=0x0005 actions=load:0x1->NXM_NX_REG0[]"
        );
    }
}
