//! Match fields in flow syntax: parsing `name=value[/mask]` into a [`Match`],
//! OVS's prerequisite normalization, and printing in `match_format` order.

use super::value::*;
use super::{err, ParseResult, PortMap};
use crate::field::*;
use crate::flow_match::Match;
use crate::key::{self, VLAN_CFI};
use crate::port::{self, OFPP_MAX};

/// Protocol shorthands: (name, dl_type, nw_proto).
pub const PROTOCOLS: &[(&str, u16, Option<u8>)] = &[
    ("ip", ETH_TYPE_IP, None),
    ("ipv4", ETH_TYPE_IP, None),
    ("ipv6", ETH_TYPE_IPV6, None),
    ("icmp", ETH_TYPE_IP, Some(IPPROTO_ICMP)),
    ("icmp6", ETH_TYPE_IPV6, Some(IPPROTO_ICMPV6)),
    ("tcp", ETH_TYPE_IP, Some(IPPROTO_TCP)),
    ("tcp6", ETH_TYPE_IPV6, Some(IPPROTO_TCP)),
    ("udp", ETH_TYPE_IP, Some(IPPROTO_UDP)),
    ("udp6", ETH_TYPE_IPV6, Some(IPPROTO_UDP)),
    ("sctp", ETH_TYPE_IP, Some(IPPROTO_SCTP)),
    ("sctp6", ETH_TYPE_IPV6, Some(IPPROTO_SCTP)),
    ("igmp", ETH_TYPE_IP, Some(2)),
    ("arp", ETH_TYPE_ARP, None),
    ("rarp", ETH_TYPE_RARP, None),
];

/// Applies a protocol shorthand; false if `name` is not one.
pub fn apply_protocol(m: &mut Match, name: &str) -> bool {
    match PROTOCOLS.iter().find(|(n, _, _)| *n == name) {
        Some((_, dl_type, proto)) => {
            m.set(Field::EthType, *dl_type as u128);
            if let Some(p) = proto {
                m.set(Field::IpProto, *p as u128);
            }
            true
        }
        None => false,
    }
}

/// Parses an OpenFlow port: number, reserved name, or bridge port name.
pub fn parse_port(s: &str, ports: Option<&PortMap>) -> Option<u32> {
    if let Some(n) = parse_uint(s) {
        return u32::try_from(n).ok();
    }
    if let Some((_, p)) = port::RESERVED_PORT_NAMES.iter().find(|(n, _)| *n == s) {
        return Some(*p);
    }
    let unquoted = s
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(s);
    ports.and_then(|p| p.number(unquoted))
}

/// Prints a port as ovs-ofctl does: reserved ports by name, others by
/// number, or by name when a port map is given (`--names`).
pub fn format_port(p: u32, ports: Option<&PortMap>) -> String {
    if let Some(n) = port::port_name(p) {
        return n.to_string();
    }
    if let Some(name) = ports.and_then(|m| m.name(p)) {
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && parse_uint(name).is_none()
            && port::RESERVED_PORT_NAMES.iter().all(|(r, _)| *r != name);
        return if plain {
            name.to_string()
        } else {
            format!("\"{name}\"")
        };
    }
    p.to_string()
}

fn split_mask(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (s, None),
    }
}

/// Parses a value (and optional mask) of `field` in flow syntax, in field units.
pub fn parse_field_value(field: Field, s: &str, ports: Option<&PortMap>) -> ParseResult<(u128, u128)> {
    let info = field.info();
    let width = info.width as u32;
    let full = if width >= 128 { u128::MAX } else { (1u128 << width) - 1 };
    let (v, m) = match info.kind {
        ValueKind::Port => {
            let p = parse_port(s, ports).ok_or_else(|| super::ParseError(format!("{s}: invalid or unknown port")))?;
            let max = if field == Field::InPort { 0xffff } else { u32::MAX };
            if p > max {
                return err(format!("{s}: port is out of range"));
            }
            if field == Field::InPort && (OFPP_MAX..0xfff8).contains(&p) {
                return err(format!("{s}: port is out of range"));
            }
            (p as u128, full)
        }
        ValueKind::Mac => parse_mac_masked(s).ok_or_else(|| super::ParseError(format!("{s}: invalid Ethernet address")))?,
        ValueKind::Ipv4 => parse_ipv4_masked(s).ok_or_else(|| super::ParseError(format!("{s}: invalid IP address")))?,
        ValueKind::Ipv6 => parse_ipv6_masked(s).ok_or_else(|| super::ParseError(format!("{s}: invalid IPv6 address")))?,
        ValueKind::TcpFlags => parse_tcp_flags(s).map_err(super::ParseError)?,
        ValueKind::Frag => parse_frag(s).ok_or_else(|| super::ParseError(format!("{s}: unknown fragment type (valid types are \"no\", \"yes\", \"first\", \"later\", \"not_later\"")))?,
        ValueKind::Int => {
            let (vs, ms) = split_mask(s);
            let nbytes = width.div_ceil(8);
            let v = parse_uint(vs).ok_or_else(|| super::ParseError(format!("{s}: invalid numeric value")))?;
            let bytes_max = if nbytes >= 16 { u128::MAX } else { (1u128 << (nbytes * 8)) - 1 };
            if v > bytes_max {
                return err(format!("{s}: value too large for {nbytes}-byte field {}", info.mf_name));
            }
            let m = match ms {
                Some(ms) => {
                    let m = parse_uint(ms).ok_or_else(|| super::ParseError(format!("{s}: invalid numeric value")))?;
                    if m > bytes_max {
                        return err(format!("{s}: value too large for {nbytes}-byte field {}", info.mf_name));
                    }
                    m
                }
                None => full,
            };
            (v, m)
        }
    };
    if m != full && !info.maskable {
        return err(format!("{s}: masking not supported for field {}", info.mf_name));
    }
    if !value_valid(field, v) {
        return err(format!("{s}: value not valid for field {}", info.mf_name));
    }
    Ok((v & m, m))
}

/// OVS's `mf_is_value_valid`.
fn value_valid(field: Field, v: u128) -> bool {
    match field {
        Field::DlVlan => v <= 4095 || v == 0xffff,
        Field::DlVlanPcp => v <= 7,
        Field::VlanVid => v <= 0x1fff,
        Field::NwTos => v & 0x03 == 0 && v <= 0xff,
        Field::IpDscp => v <= 63,
        Field::IpEcn => v <= 3,
        Field::Ipv6Label => v <= 0xfffff,
        Field::ArpOp => v <= 0xff,
        _ => true,
    }
}

/// Sets a parsed field into a match, with OVS's special cases.
pub fn set_field_in_match(m: &mut Match, field: Field, v: u128, mask: u128) {
    match field {
        Field::DlVlan if v == 0xffff => {
            // OFP10_VLAN_NONE: match frames without a tag.
            m.set_masked(Field::VlanTci, 0, 0xffff);
        }
        Field::DlVlan => {
            let (tv, tm) = m.get(Field::VlanTci);
            let tm = tm | 0x1fff;
            let tv = (tv & !0x1fff) | v | VLAN_CFI as u128;
            m.set_masked(Field::VlanTci, tv, tm);
        }
        Field::DlVlanPcp => {
            let (tv, tm) = m.get(Field::VlanTci);
            let tm = tm | 0xf000;
            let tv = (tv & !0xf000) | (v << 13) | VLAN_CFI as u128;
            m.set_masked(Field::VlanTci, tv, tm);
        }
        _ => m.set_masked(field, v, mask),
    }
}

/// OVS's `ofputil_normalize_match`: clears fields whose prerequisites the
/// match does not establish, and returns their names (for the warning OVS
/// does not give).
pub fn normalize(m: &mut Match) -> Vec<&'static str> {
    let dl_type = if m.mask.get(key::ETH_TYPE) == 0xffff {
        Some(m.value.get(key::ETH_TYPE) as u16)
    } else {
        None
    };
    let proto = if m.mask.get(key::IP_PROTO) == 0xff {
        Some(m.value.get(key::IP_PROTO) as u8)
    } else {
        None
    };
    let tp_src = m.value.get(key::TP_SRC) as u16;
    let (mut nw_addr, mut tp_addr, mut nw_proto, mut ipvx, mut arp_sha, mut arp_tha, mut ipv6, mut nd_target) =
        (false, false, false, false, false, false, false, false);
    match dl_type {
        Some(ETH_TYPE_IP) => {
            nw_proto = true;
            ipvx = true;
            nw_addr = true;
            tp_addr = matches!(proto, Some(IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP | IPPROTO_ICMP));
        }
        Some(ETH_TYPE_IPV6) => {
            nw_proto = true;
            ipvx = true;
            ipv6 = true;
            match proto {
                Some(IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) => tp_addr = true,
                Some(IPPROTO_ICMPV6) => {
                    tp_addr = true;
                    if tp_src == 135 {
                        nd_target = true;
                        arp_sha = true;
                    } else if tp_src == 136 {
                        nd_target = true;
                        arp_tha = true;
                    }
                }
                _ => {}
            }
        }
        Some(ETH_TYPE_ARP | ETH_TYPE_RARP) => {
            nw_proto = true;
            nw_addr = true;
            arp_sha = true;
            arp_tha = true;
        }
        _ => {}
    }
    let is_arp = matches!(dl_type, Some(ETH_TYPE_ARP | ETH_TYPE_RARP));
    let icmp4 = dl_type == Some(ETH_TYPE_IP) && proto == Some(IPPROTO_ICMP);
    let icmp6 = dl_type == Some(ETH_TYPE_IPV6) && proto == Some(IPPROTO_ICMPV6);
    let mut dropped = Vec::new();
    let mut drop = |m: &mut Match, allowed: bool, slot: key::Slot, name: &'static str| {
        if !allowed && m.mask.get(slot) != 0 {
            m.mask.set(slot, 0);
            m.value.set(slot, 0);
            dropped.push(name);
        }
    };
    drop(m, nw_addr, key::IPV4_SRC, if is_arp { "arp_spa" } else { "nw_src" });
    drop(m, nw_addr, key::IPV4_DST, if is_arp { "arp_tpa" } else { "nw_dst" });
    drop(m, tp_addr, key::TP_SRC, if icmp4 || icmp6 { "icmp_type" } else { "tp_src" });
    drop(m, tp_addr, key::TP_DST, if icmp4 || icmp6 { "icmp_code" } else { "tp_dst" });
    drop(m, nw_proto, key::IP_PROTO, if is_arp { "arp_op" } else { "nw_proto" });
    drop(m, ipvx, key::IP_TOS, "nw_tos");
    drop(m, ipvx, key::IP_TTL, "nw_ttl");
    drop(m, arp_sha, key::ARP_SHA, if icmp6 { "nd_sll" } else { "arp_sha" });
    drop(m, arp_tha, key::ARP_THA, if icmp6 { "nd_tll" } else { "arp_tha" });
    drop(m, ipv6, key::IPV6_SRC, "ipv6_src");
    drop(m, ipv6, key::IPV6_DST, "ipv6_dst");
    drop(m, ipv6, key::IPV6_LABEL, "ipv6_label");
    drop(m, nd_target, key::ND_TARGET, "nd_target");
    drop(m, ipvx, key::IP_FRAG, "nw_frag");
    let tcp = ipvx && proto == Some(IPPROTO_TCP);
    drop(m, tcp, key::TCP_FLAGS, "tcp_flags");
    dropped
}

fn put(out: &mut String, s: &str) {
    out.push_str(s);
    out.push(',');
}

fn fmt_u16_masked(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        if m == 0xffff {
            put(out, &format!("{name}={v}"));
        } else {
            put(out, &format!("{name}=0x{v:x}/0x{m:x}"));
        }
    }
}

fn fmt_hex32_masked(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        let vs = if v == 0 { "0".to_string() } else { format!("{v:#x}") };
        if m == 0xffff_ffff {
            put(out, &format!("{name}={vs}"));
        } else {
            put(out, &format!("{name}={vs}/{m:#x}"));
        }
    }
}

fn fmt_hex64_masked(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        let vs = if v == 0 { "0".to_string() } else { format!("{v:#x}") };
        if m == 0xffff_ffff_ffff_ffff {
            put(out, &format!("{name}={vs}"));
        } else {
            put(out, &format!("{name}={vs}/{m:#x}"));
        }
    }
}

fn fmt_eth(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        put(out, &format!("{name}={}", format_mac_masked(v, m)));
    }
}

fn fmt_ip(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        put(out, &format!("{name}={}", format_ipv4_masked(v, m)));
    }
}

fn fmt_ipv6(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        put(out, &format!("{name}={}", format_ipv6_masked(v, m)));
    }
}

/// Prints a match the way OVS's `match_format` does (priority included
/// unless it is the default 32768).
pub fn format_match(m: &Match, priority: u16, ports: Option<&PortMap>) -> String {
    let mut out = String::new();
    if priority != 32768 {
        put(&mut out, &format!("priority={priority}"));
    }
    let g = |slot: key::Slot| (m.value.get(slot), m.mask.get(slot));
    let (dl_type, dl_type_m) = g(key::ETH_TYPE);
    let (nw_proto, nw_proto_m) = g(key::IP_PROTO);
    let dl_type = dl_type as u16;
    let nw_proto = nw_proto as u8;
    let mut skip_type = false;
    let mut skip_proto = false;
    if dl_type_m != 0 {
        skip_type = true;
        let (name, sp): (Option<&str>, bool) = match dl_type {
            ETH_TYPE_IP if nw_proto_m != 0 => match nw_proto {
                IPPROTO_ICMP => (Some("icmp"), true),
                2 => (Some("igmp"), true),
                IPPROTO_TCP => (Some("tcp"), true),
                IPPROTO_UDP => (Some("udp"), true),
                IPPROTO_SCTP => (Some("sctp"), true),
                _ => (Some("ip"), false),
            },
            ETH_TYPE_IP => (Some("ip"), false),
            ETH_TYPE_IPV6 if nw_proto_m != 0 => match nw_proto {
                IPPROTO_ICMPV6 => (Some("icmp6"), true),
                IPPROTO_TCP => (Some("tcp6"), true),
                IPPROTO_UDP => (Some("udp6"), true),
                IPPROTO_SCTP => (Some("sctp6"), true),
                _ => (Some("ipv6"), false),
            },
            ETH_TYPE_IPV6 => (Some("ipv6"), false),
            ETH_TYPE_ARP => (Some("arp"), false),
            ETH_TYPE_RARP => (Some("rarp"), false),
            _ => (None, false),
        };
        match name {
            Some(n) => {
                put(&mut out, n);
                skip_proto = sp;
            }
            None => skip_type = false,
        }
    }
    for r in 0..16u8 {
        let (v, mk) = g(key::reg_slot(r));
        fmt_hex32_masked(&mut out, &format!("reg{r}"), v, mk);
    }
    let (v, mk) = g(key::TUN_ID);
    fmt_hex64_masked(&mut out, "tun_id", v, mk);
    let (v, mk) = g(key::TUN_SRC);
    fmt_ip(&mut out, "tun_src", v, mk);
    let (v, mk) = g(key::TUN_DST);
    fmt_ip(&mut out, "tun_dst", v, mk);
    let (v, mk) = g(key::METADATA);
    fmt_hex64_masked(&mut out, "metadata", v, mk);
    let (v, mk) = g(key::IN_PORT);
    if mk != 0 {
        put(&mut out, &format!("in_port={}", format_port(v as u32, ports)));
    }
    let (tci, tci_m) = g(key::VLAN_TCI);
    if tci_m != 0 {
        let vid_m = tci_m & 0x0fff;
        let pcp_m = tci_m & 0xe000;
        let cfi = tci_m & 0x1000;
        if cfi != 0
            && tci & 0x1000 != 0
            && (vid_m == 0 || vid_m == 0x0fff)
            && (pcp_m == 0 || pcp_m == 0xe000)
            && (vid_m != 0 || pcp_m != 0)
        {
            if vid_m != 0 {
                put(&mut out, &format!("dl_vlan={}", tci & 0x0fff));
            }
            if pcp_m != 0 {
                put(&mut out, &format!("dl_vlan_pcp={}", tci >> 13));
            }
        } else if tci_m == 0xffff {
            put(&mut out, &format!("vlan_tci=0x{tci:04x}"));
        } else {
            put(&mut out, &format!("vlan_tci=0x{tci:04x}/0x{tci_m:04x}"));
        }
    }
    let (v, mk) = g(key::ETH_SRC);
    fmt_eth(&mut out, "dl_src", v, mk);
    let (v, mk) = g(key::ETH_DST);
    fmt_eth(&mut out, "dl_dst", v, mk);
    if !skip_type && dl_type_m != 0 {
        put(&mut out, &format!("dl_type=0x{dl_type:04x}"));
    }
    let is_arp = dl_type == ETH_TYPE_ARP || dl_type == ETH_TYPE_RARP;
    if dl_type == ETH_TYPE_IPV6 {
        let (v, mk) = g(key::IPV6_SRC);
        fmt_ipv6(&mut out, "ipv6_src", v, mk);
        let (v, mk) = g(key::IPV6_DST);
        fmt_ipv6(&mut out, "ipv6_dst", v, mk);
        let (v, mk) = g(key::IPV6_LABEL);
        if mk != 0 {
            if mk == 0xfffff {
                put(&mut out, &format!("ipv6_label=0x{v:05x}"));
            } else {
                put(&mut out, &format!("ipv6_label=0x{v:05x}/0x{mk:05x}"));
            }
        }
    } else if is_arp {
        let (v, mk) = g(key::IPV4_SRC);
        fmt_ip(&mut out, "arp_spa", v, mk);
        let (v, mk) = g(key::IPV4_DST);
        fmt_ip(&mut out, "arp_tpa", v, mk);
    } else {
        let (v, mk) = g(key::IPV4_SRC);
        fmt_ip(&mut out, "nw_src", v, mk);
        let (v, mk) = g(key::IPV4_DST);
        fmt_ip(&mut out, "nw_dst", v, mk);
    }
    if !skip_proto && nw_proto_m != 0 {
        if is_arp {
            put(&mut out, &format!("arp_op={nw_proto}"));
        } else {
            put(&mut out, &format!("nw_proto={nw_proto}"));
        }
    }
    if is_arp {
        let (v, mk) = g(key::ARP_SHA);
        fmt_eth(&mut out, "arp_sha", v, mk);
        let (v, mk) = g(key::ARP_THA);
        fmt_eth(&mut out, "arp_tha", v, mk);
    }
    let (tos, tos_m) = g(key::IP_TOS);
    if tos_m & 0xfc != 0 {
        put(&mut out, &format!("nw_tos={}", tos & 0xfc));
    }
    if tos_m & 0x03 != 0 {
        put(&mut out, &format!("nw_ecn={}", tos & 0x03));
    }
    let (ttl, ttl_m) = g(key::IP_TTL);
    if ttl_m != 0 {
        put(&mut out, &format!("nw_ttl={ttl}"));
    }
    let (fv, fm) = g(key::IP_FRAG);
    if let Some(f) = format_frag(fv, fm) {
        put(&mut out, &format!("nw_frag={f}"));
    }
    let (sv, sm) = g(key::TP_SRC);
    let (dv, dm) = g(key::TP_DST);
    if dl_type == ETH_TYPE_IP && nw_proto == IPPROTO_ICMP {
        fmt_u16_masked(&mut out, "icmp_type", sv, sm);
        fmt_u16_masked(&mut out, "icmp_code", dv, dm);
    } else if dl_type == ETH_TYPE_IP && nw_proto == 2 {
        fmt_u16_masked(&mut out, "igmp_type", sv, sm);
        fmt_u16_masked(&mut out, "igmp_code", dv, dm);
    } else if dl_type == ETH_TYPE_IPV6 && nw_proto == IPPROTO_ICMPV6 {
        fmt_u16_masked(&mut out, "icmp_type", sv, sm);
        fmt_u16_masked(&mut out, "icmp_code", dv, dm);
        let (v, mk) = g(key::ND_TARGET);
        fmt_ipv6(&mut out, "nd_target", v, mk);
        let (v, mk) = g(key::ARP_SHA);
        fmt_eth(&mut out, "nd_sll", v, mk);
        let (v, mk) = g(key::ARP_THA);
        fmt_eth(&mut out, "nd_tll", v, mk);
    } else {
        fmt_u16_masked(&mut out, "tp_src", sv, sm);
        fmt_u16_masked(&mut out, "tp_dst", dv, dm);
    }
    let (fv, fm) = g(key::TCP_FLAGS);
    if (dl_type == ETH_TYPE_IP || dl_type == ETH_TYPE_IPV6) && nw_proto == IPPROTO_TCP && fm != 0 {
        put(&mut out, &format!("tcp_flags={}", format_tcp_flags(fv, fm)));
    }
    if out.ends_with(',') {
        out.pop();
    }
    out
}
