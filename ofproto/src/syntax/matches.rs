//! Match fields in flow syntax: parsing `name=value[/mask]` into a [`Match`]
//! with Open vSwitch's setter semantics, OVS's prerequisite normalization,
//! the transformations a flow undergoes on its way through OpenFlow 1.0 and
//! NXM encodings, and printing in `match_format` order.
//!
//! ovs-ofctl never shows the match it parsed: it shows what the switch gives
//! back after the flow travelled as OpenFlow 1.0 or NXM. Those trips lose
//! information in a few places (an OpenFlow 1.0 VLAN match cannot say "VID 5
//! without a tag", NXM carries an ICMP type in 8 bits and drops fields whose
//! prerequisites are missing). rswitch applies the same transformations, so
//! it stores and prints what OVS would, and it records a warning for every
//! change so that nothing happens silently.

use super::protocol::Protocols;
use super::value::*;
use super::{err, ParseError, ParseResult, PortMap};
use crate::field::*;
use crate::flow_match::Match;
use crate::key::{self, FlowKey, VLAN_CFI};
use crate::port::{self, OFPP_LOCAL, OFPP_MAX, OFPP_NONE};

/// OpenFlow 1.0's "unset" port (OVS's `OFPP_UNSET`), printed as `UNSET`.
pub const OFPP_UNSET: u32 = 0xfff7;
pub const ETH_TYPE_MPLS: u16 = 0x8847;
pub const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
const IPPROTO_IGMP: u8 = 2;

/// Protocol shorthands: (name, dl_type, nw_proto), as OVS 3.1's
/// `ofp_parse_protocol` (no `igmp`, but `ip6`, `mpls` and `mplsm`).
pub const PROTOCOLS: &[(&str, u16, Option<u8>)] = &[
    ("ip", ETH_TYPE_IP, None),
    ("ipv4", ETH_TYPE_IP, None),
    ("ip4", ETH_TYPE_IP, None),
    ("arp", ETH_TYPE_ARP, None),
    ("icmp", ETH_TYPE_IP, Some(IPPROTO_ICMP)),
    ("tcp", ETH_TYPE_IP, Some(IPPROTO_TCP)),
    ("udp", ETH_TYPE_IP, Some(IPPROTO_UDP)),
    ("sctp", ETH_TYPE_IP, Some(IPPROTO_SCTP)),
    ("ipv6", ETH_TYPE_IPV6, None),
    ("ip6", ETH_TYPE_IPV6, None),
    ("icmp6", ETH_TYPE_IPV6, Some(IPPROTO_ICMPV6)),
    ("tcp6", ETH_TYPE_IPV6, Some(IPPROTO_TCP)),
    ("udp6", ETH_TYPE_IPV6, Some(IPPROTO_UDP)),
    ("sctp6", ETH_TYPE_IPV6, Some(IPPROTO_SCTP)),
    ("rarp", ETH_TYPE_RARP, None),
    ("mpls", ETH_TYPE_MPLS, None),
    ("mplsm", ETH_TYPE_MPLS_MCAST, None),
];

/// Applies a protocol shorthand; false if `name` is not one. Like OVS, a
/// shorthand without a protocol number leaves `nw_proto` alone (`tcp,ip`
/// stays TCP).
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

/// A field by flow-syntax name, as OVS's `mf_from_name`: `tp_src` and
/// `tp_dst` are OVS's aliases of `tcp_src`/`tcp_dst` (with TCP's
/// prerequisites and names in messages).
pub fn lookup_field(name: &str) -> Option<Field> {
    match Field::from_name(name)? {
        Field::TpSrc => Some(Field::TcpSrc),
        Field::TpDst => Some(Field::TcpDst),
        f => Some(f),
    }
}

/// OVS's `ofputil_port_from_string`: a decimal number (with OVS's range
/// rules), a reserved name in any case, or a bridge port name (optionally
/// double-quoted). The second value is the warning OVS logs, if any.
pub fn port_from_string(s: &str, ports: Option<&PortMap>) -> Option<(u32, Option<String>)> {
    if s.starts_with('-') {
        return None;
    }
    if let Some(p) = str_to_uint(s, 10) {
        return if p < OFPP_MAX {
            Some((p, None))
        } else if p < 0xfff8 {
            Some((
                p,
                Some(format!(
                    "port {p} is a reserved OF1.0 port number that will be translated to {} when talking to an OF1.1 or later controller",
                    p + 0xffff_0000
                )),
            ))
        } else if p <= 0xffff {
            let name = port_name(p, None);
            Some((
                p,
                Some(format!("referring to port {name} as {p} is deprecated for compatibility with OpenFlow 1.1 and later")),
            ))
        } else if p < 0xffff_ff00 {
            None
        } else {
            Some((p - 0xffff_0000, None))
        };
    }
    let reserved = port::RESERVED_PORT_NAMES
        .iter()
        .copied()
        .chain([("UNSET", OFPP_UNSET)])
        .find(|(n, _)| n.eq_ignore_ascii_case(s));
    if let Some((_, p)) = reserved {
        return Some((p, None));
    }
    let name = if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        &s[1..s.len() - 1]
    } else {
        s
    };
    ports.and_then(|m| m.number(name)).map(|p| (p, None))
}

/// [`port_from_string`] without the warning.
pub fn parse_port(s: &str, ports: Option<&PortMap>) -> Option<u32> {
    port_from_string(s, ports).map(|(p, _)| p)
}

/// OVS's `ofputil_port_to_string` for reserved ports and numbers.
fn port_name(p: u32, ports: Option<&PortMap>) -> String {
    format_port(p, ports)
}

/// Prints a port as ovs-ofctl does: a port map name first (`--names`),
/// reserved ports by name, others by number.
pub fn format_port(p: u32, ports: Option<&PortMap>) -> String {
    if let Some(name) = ports.and_then(|m| m.name(p)) {
        let plain = !name.is_empty()
            && name
                .bytes()
                // OVS quotes anything beyond letters, digits and '_'
                // (its trace shows `output:"gre-c6120002"`).
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && str_to_uint(name, 10).is_none()
            && port::RESERVED_PORT_NAMES
                .iter()
                .all(|(r, _)| !r.eq_ignore_ascii_case(name));
        return if plain {
            name.to_string()
        } else {
            format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
        };
    }
    if p == OFPP_UNSET {
        return "UNSET".into();
    }
    if let Some(n) = port::port_name(p) {
        return n.to_string();
    }
    p.to_string()
}

fn ones(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// All-ones for the bytes OVS parses `field` into.
pub fn byte_mask(field: Field) -> u128 {
    ones(field.n_bytes() as u32 * 8)
}

/// Parses a value (and optional mask) of `field` as OVS's `mf_parse`:
/// (value, mask) in field units over the field's bytes; `*` means "any".
/// Silent OVS quirks (wrapped octets) are added to `warnings`.
pub fn parse_field_value(
    field: Field,
    s: &str,
    ports: Option<&PortMap>,
    warnings: &mut Vec<String>,
) -> ParseResult<(u128, u128)> {
    let info = field.info();
    let mf = info.mf_name;
    if s == "*" {
        return Ok((0, 0));
    }
    let full = byte_mask(field);
    let (v, m) = match info.kind {
        ValueKind::Port => {
            let (p, w) = port_from_string(s, ports)
                .ok_or_else(|| ParseError(format!("{s}: invalid or unknown port for {mf}")))?;
            warnings.extend(w);
            (p as u128, full)
        }
        ValueKind::Mac => {
            let (v, m, wrapped) = parse_mac_masked(s)
                .ok_or_else(|| ParseError(format!("{s}: invalid Ethernet address")))?;
            if wrapped {
                warnings.push(format!("{s}: a byte of the Ethernet address is larger than ff; Open vSwitch keeps its low 8 bits"));
            }
            (v, m)
        }
        ValueKind::Ipv4 => {
            let (v, m, wrapped) = parse_ipv4_masked(s).map_err(ParseError)?;
            if wrapped {
                warnings.push(format!(
                    "{s}: an octet is outside 0..255; Open vSwitch keeps its low 8 bits ({})",
                    format_ipv4_masked(v, 0xffff_ffff)
                ));
            }
            (v, m)
        }
        ValueKind::Ipv6 => parse_ipv6_masked(s).map_err(ParseError)?,
        ValueKind::TcpFlags => {
            let (v, m) = parse_tcp_flags(s).map_err(ParseError)?;
            (v as u128 & 0xffff, m as u128 & 0xffff)
        }
        ValueKind::Frag => {
            let (v, m) = parse_frag(s).ok_or_else(|| {
                ParseError(format!(
                    "{s}: unknown fragment type (valid types are \"no\", \"yes\", \"first\", \"later\", \"not_later\""
                ))
            })?;
            // OVS forces the unused mask bits on so "no"/"later" read as exact.
            (v, m | 0xfc)
        }
        ValueKind::Int => {
            let n = info.n_bytes as usize;
            let too_large =
                |what: &str| ParseError(format!("{s}: {what} too large for {n}-byte field {mf}"));
            let syntax = |what: &str| ParseError(format!("{s}: bad syntax for {mf} {what}"));
            let (v, tail) = match parse_int_string(s, n) {
                Ok(x) => x,
                Err(IntError::Range) => return Err(too_large("value")),
                Err(IntError::Invalid) => return Err(syntax("value")),
            };
            if tail.is_empty() {
                (v, full)
            } else if let Some(ms) = tail.strip_prefix('/') {
                match parse_int_string(ms, n) {
                    Ok((m, "")) => (v, m),
                    Ok(_) | Err(IntError::Invalid) => return Err(syntax("mask")),
                    Err(IntError::Range) => return Err(too_large("mask")),
                }
            } else {
                return Err(syntax("value"));
            }
        }
    };
    if !info.maskable && m != 0 && m != full {
        return err(format!("{s}: invalid mask for field {mf}"));
    }
    Ok((v, m))
}

/// Usable protocols of setting `field` exactly and with a mask (OVS's
/// `usable_protocols_exact` / `_bitwise`; IPv4 CIDR masks count as exact).
fn field_protocols(field: Field) -> (Protocols, Protocols) {
    use Field as F;
    let nxm = Protocols::NXM_OXM_ANY;
    match field {
        F::InPort
        | F::InPortOxm
        | F::EthType
        | F::DlVlan
        | F::DlVlanPcp
        | F::VlanPcp
        | F::IpProto
        | F::NwTos
        | F::IpDscp
        | F::ArpOp
        | F::IcmpType
        | F::IcmpCode => (Protocols::ANY, Protocols::ANY),
        F::Metadata => (Protocols::NXM_OF11_UP, Protocols::NXM_OF11_UP),
        F::EthSrc | F::EthDst | F::Ipv4Src | F::Ipv4Dst | F::ArpSpa | F::ArpTpa => {
            (Protocols::ANY, Protocols::NXM_OF11_UP)
        }
        F::VlanTci
        | F::VlanVid
        | F::TcpSrc
        | F::TcpDst
        | F::UdpSrc
        | F::UdpDst
        | F::TpSrc
        | F::TpDst => (Protocols::ANY, nxm),
        F::SctpSrc | F::SctpDst => (Protocols::NXM_OF11_UP, nxm),
        _ => (nxm, nxm),
    }
}

/// Protocols that can carry an exact `set_field` (or match) on `field`.
pub fn exact_protocols(field: Field) -> Protocols {
    field_protocols(field).0
}

/// A field value as OVS's `mf_format` prints it without a mask: hex fields
/// as `0x..` (`0` for zero), addresses in their notation, others in decimal.
pub fn format_field_int(field: Field, v: u128) -> String {
    let info = field.info();
    match info.kind {
        ValueKind::Mac => format_mac(v),
        ValueKind::Ipv4 => format_ipv4_masked(v, 0xffff_ffff),
        ValueKind::Ipv6 => format_ipv6(v),
        _ if info.hex => c_hex(v),
        _ => v.to_string(),
    }
}

fn tci(m: &Match) -> (u16, u16) {
    (
        m.value.get(key::VLAN_TCI) as u16,
        m.mask.get(key::VLAN_TCI) as u16,
    )
}

fn set_tci(m: &mut Match, v: u16, mask: u16) {
    m.mask.set(key::VLAN_TCI, mask as u128);
    m.value.set(key::VLAN_TCI, (v & mask) as u128);
}

fn set_slot(m: &mut Match, slot: key::Slot, v: u128, mask: u128) {
    m.mask.set(slot, mask);
    m.value.set(slot, v & mask);
}

/// Sets bits `bits` of a slot to `v` (already positioned), leaving the rest.
fn set_slot_bits(m: &mut Match, slot: key::Slot, v: u128, bits: u128) {
    let om = m.mask.get(slot);
    let ov = m.value.get(slot);
    m.mask.set(slot, om | bits);
    m.value.set(slot, (ov & !bits) | (v & bits));
}

fn clear_slot_bits(m: &mut Match, slot: key::Slot, bits: u128) {
    let om = m.mask.get(slot);
    let ov = m.value.get(slot);
    m.mask.set(slot, om & !bits);
    m.value.set(slot, ov & !bits);
}

/// Sets a parsed field into a match as OVS's `mf_set` does (including its
/// truncations, which are reported in `warnings`), and returns the
/// protocols that can still express the flow.
pub fn set_field_in_match(
    m: &mut Match,
    field: Field,
    v: u128,
    mask: u128,
    warnings: &mut Vec<String>,
) -> Protocols {
    use Field as F;
    let full = byte_mask(field);
    let mf = field.info().mf_name;
    let (exact_p, masked_p) = field_protocols(field);
    if mask == 0 {
        // mf_set_wild.
        match field {
            F::DlVlan => {
                let (_, tm) = tci(m);
                if tm & 0xe000 != 0 {
                    clear_slot_bits(m, key::VLAN_TCI, 0x0fff);
                } else {
                    set_tci(m, 0, 0);
                }
            }
            F::DlVlanPcp | F::VlanPcp => {
                let (_, tm) = tci(m);
                if tm & 0x0fff != 0 {
                    clear_slot_bits(m, key::VLAN_TCI, 0xe000);
                } else {
                    set_tci(m, 0, 0);
                }
            }
            F::VlanVid => clear_slot_bits(m, key::VLAN_TCI, 0x1fff),
            F::IcmpType | F::Icmpv6Type => set_slot(m, key::TP_SRC, 0, 0),
            F::IcmpCode | F::Icmpv6Code => set_slot(m, key::TP_DST, 0, 0),
            f => m.clear(f),
        }
        return Protocols::ANY;
    }
    let exact = mask == full;
    let trunc = |w: &mut Vec<String>, kept: u128| {
        w.push(format!(
            "{mf}={v}: value has bits beyond the field; Open vSwitch keeps {kept}"
        ));
    };
    match field {
        F::DlVlan => {
            let v16 = v as u16;
            if v16 == 0xffff {
                // OFP10_VLAN_NONE: frames without a tag.
                set_tci(m, 0, 0xffff);
            } else {
                if v > 0x0fff {
                    trunc(warnings, v & 0x0fff);
                }
                let (tv, tm) = tci(m);
                set_tci(m, (tv & !0x0fff) | VLAN_CFI | (v16 & 0x0fff), tm | 0x1fff);
            }
        }
        F::DlVlanPcp | F::VlanPcp => {
            if v > 7 {
                trunc(warnings, v & 7);
            }
            let (tv, tm) = tci(m);
            set_tci(
                m,
                (tv & !0xe000) | (((v as u16) & 7) << 13) | VLAN_CFI,
                tm | 0xf000,
            );
        }
        F::VlanVid => {
            if v > 0x1fff {
                trunc(warnings, v & 0x1fff);
            }
            let vm = (mask as u16) & 0x1fff;
            let (tv, tm) = tci(m);
            set_tci(m, (tv & !0x1fff) | ((v as u16) & vm), vm | (tm & 0xe000));
        }
        F::VlanTci => set_tci(m, (v & mask) as u16, mask as u16),
        F::NwTos => {
            if v & 3 != 0 {
                warnings.push(format!("nw_tos={v}: the low two (ECN) bits are not part of nw_tos; Open vSwitch keeps {}", v & 0xfc));
            }
            set_slot_bits(m, key::IP_TOS, v & 0xfc, 0xfc);
        }
        F::IpDscp => {
            if v > 63 {
                trunc(warnings, v & 63);
            }
            set_slot_bits(m, key::IP_TOS, (v << 2) & 0xfc, 0xfc);
        }
        F::IpEcn => {
            if v > 3 {
                trunc(warnings, v & 3);
            }
            set_slot_bits(m, key::IP_TOS, v & 3, 3);
        }
        F::ArpOp => {
            if v > 0xff {
                warnings.push(format!(
                    "arp_op={v}: Open vSwitch keeps only the low 8 bits ({})",
                    v & 0xff
                ));
            }
            set_slot(m, key::IP_PROTO, v & 0xff, 0xff);
        }
        F::IcmpType | F::Icmpv6Type => set_slot(m, key::TP_SRC, v & 0xff, 0xffff),
        F::IcmpCode | F::Icmpv6Code => set_slot(m, key::TP_DST, v & 0xff, 0xffff),
        F::IpFrag => set_slot(m, key::IP_FRAG, v & mask & 3, mask & 3),
        F::TcpFlags => set_slot(
            m,
            key::TCP_FLAGS,
            v & mask & 0xfff,
            if exact { 0xfff } else { mask & 0xfff },
        ),
        f => {
            // OVS's masked setters replace the field's mask, not merge it.
            let fm = if exact { ones(f.width() as u32) } else { mask };
            m.clear(f);
            m.set_masked(f, v & fm, fm)
        }
    }
    // A CIDR mask on an IPv4 field is as good as exact for OpenFlow 1.0.
    let cidr = matches!(
        field,
        F::Ipv4Src | F::Ipv4Dst | F::ArpSpa | F::ArpTpa | F::TunSrc | F::TunDst
    ) && (mask as u32).leading_ones() + (mask as u32).trailing_zeros() == 32;
    if exact || cidr {
        exact_p
    } else {
        masked_p
    }
}

fn dl_type_of(m: &Match) -> u16 {
    m.value.get(key::ETH_TYPE) as u16
}

fn nw_proto_of(m: &Match) -> u8 {
    m.value.get(key::IP_PROTO) as u8
}

fn is_ip_any(k: &FlowKey) -> bool {
    matches!(k.get(key::ETH_TYPE) as u16, ETH_TYPE_IP | ETH_TYPE_IPV6)
}

/// OVS's `mf_are_prereqs_ok` on a flow (the match's values): a field's
/// prerequisites hold when the fields they name have the right values.
pub fn prereq_ok(p: Prereq, k: &FlowKey) -> bool {
    let dl = k.get(key::ETH_TYPE) as u16;
    let proto = k.get(key::IP_PROTO) as u8;
    let later = k.get(key::IP_FRAG) & 2 != 0;
    let icmpv6 = dl == ETH_TYPE_IPV6 && proto == IPPROTO_ICMPV6;
    let nd = icmpv6 && k.get(key::TP_DST) == 0 && matches!(k.get(key::TP_SRC), 135 | 136);
    match p {
        Prereq::None => true,
        Prereq::Vlan => k.get(key::VLAN_TCI) as u16 & VLAN_CFI != 0,
        Prereq::Ip => is_ip_any(k),
        Prereq::Ipv4 => dl == ETH_TYPE_IP,
        Prereq::Ipv6 => dl == ETH_TYPE_IPV6,
        Prereq::Arp => dl == ETH_TYPE_ARP || dl == ETH_TYPE_RARP,
        Prereq::Tcp => is_ip_any(k) && proto == IPPROTO_TCP && !later,
        Prereq::Udp => is_ip_any(k) && proto == IPPROTO_UDP && !later,
        Prereq::Sctp => is_ip_any(k) && proto == IPPROTO_SCTP && !later,
        Prereq::Transport => {
            is_ip_any(k) && matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) && !later
        }
        Prereq::Icmp => dl == ETH_TYPE_IP && proto == IPPROTO_ICMP,
        Prereq::Icmpv6 => icmpv6,
        Prereq::Nd => nd,
        Prereq::NdSolicit => nd && k.get(key::TP_SRC) == 135,
        Prereq::NdAdvert => nd && k.get(key::TP_SRC) == 136,
    }
}

/// OVS's `ofputil_normalize_match`: clears fields whose prerequisites the
/// match does not establish, and returns their names. OVS logs this at INFO
/// level ("normalization changed ofp_match"); rswitch makes each one a
/// warning on the flow-mod.
pub fn normalize(m: &mut Match) -> Vec<&'static str> {
    let dl_type = dl_type_of(m);
    let proto = nw_proto_of(m);
    let tp_src = m.value.get(key::TP_SRC) as u16;
    let (
        mut nw_addr,
        mut tp_addr,
        mut nw_proto,
        mut ipvx,
        mut arp_sha,
        mut arp_tha,
        mut ipv6,
        mut nd_target,
    ) = (false, false, false, false, false, false, false, false);
    match dl_type {
        ETH_TYPE_IP => {
            nw_proto = true;
            ipvx = true;
            nw_addr = true;
            tp_addr = matches!(
                proto,
                IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP | IPPROTO_ICMP
            );
        }
        ETH_TYPE_IPV6 => {
            nw_proto = true;
            ipvx = true;
            ipv6 = true;
            match proto {
                IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => tp_addr = true,
                IPPROTO_ICMPV6 => {
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
        ETH_TYPE_ARP | ETH_TYPE_RARP => {
            nw_proto = true;
            nw_addr = true;
            arp_sha = true;
            arp_tha = true;
        }
        _ => {}
    }
    let is_arp = matches!(dl_type, ETH_TYPE_ARP | ETH_TYPE_RARP);
    let icmp = (dl_type == ETH_TYPE_IP && proto == IPPROTO_ICMP)
        || (dl_type == ETH_TYPE_IPV6 && proto == IPPROTO_ICMPV6);
    let icmp6 = dl_type == ETH_TYPE_IPV6 && proto == IPPROTO_ICMPV6;
    let mut dropped = Vec::new();
    let mut drop = |m: &mut Match, allowed: bool, slot: key::Slot, name: &'static str| {
        if !allowed && m.mask.get(slot) != 0 {
            set_slot(m, slot, 0, 0);
            dropped.push(name);
        }
    };
    drop(
        m,
        nw_addr,
        key::IPV4_SRC,
        if is_arp { "arp_spa" } else { "nw_src" },
    );
    drop(
        m,
        nw_addr,
        key::IPV4_DST,
        if is_arp { "arp_tpa" } else { "nw_dst" },
    );
    drop(
        m,
        tp_addr,
        key::TP_SRC,
        if icmp { "icmp_type" } else { "tp_src" },
    );
    drop(
        m,
        tp_addr,
        key::TP_DST,
        if icmp { "icmp_code" } else { "tp_dst" },
    );
    drop(
        m,
        nw_proto,
        key::IP_PROTO,
        if is_arp { "arp_op" } else { "nw_proto" },
    );
    drop(m, ipvx, key::IP_TOS, "nw_tos/nw_ecn");
    drop(m, ipvx, key::IP_TTL, "nw_ttl");
    drop(
        m,
        arp_sha,
        key::ARP_SHA,
        if icmp6 { "nd_sll" } else { "arp_sha" },
    );
    drop(
        m,
        arp_tha,
        key::ARP_THA,
        if icmp6 { "nd_tll" } else { "arp_tha" },
    );
    drop(m, ipv6, key::IPV6_SRC, "ipv6_src");
    drop(m, ipv6, key::IPV6_DST, "ipv6_dst");
    drop(m, ipv6, key::IPV6_LABEL, "ipv6_label");
    drop(m, nd_target, key::ND_TARGET, "nd_target");
    dropped
}

/// The round trip through OpenFlow 1.0's match format, which ovs-ofctl
/// uses whenever the flow allows it. Only the VLAN match can change: a
/// match on "no tag present" bits becomes "untagged", and partial VID/PCP
/// masks become exact. Returns a description of the change, if any.
pub fn of10_roundtrip(m: &mut Match) -> Option<String> {
    let (tv, tm) = tci(m);
    if tm == 0 {
        return None;
    }
    let (nv, nm) = if tm & VLAN_CFI != 0 && tv & VLAN_CFI == 0 {
        (0, 0xffff)
    } else {
        let mut nm = 0u16;
        if tm & 0x0fff != 0 {
            nm |= 0x1fff;
        }
        if tm & 0xe000 != 0 {
            nm |= 0xf000;
        }
        ((tv | VLAN_CFI) & nm, nm)
    };
    if (nv, nm) == (tv, tm) {
        return None;
    }
    set_tci(m, nv, nm);
    Some(format!(
        "vlan_tci=0x{tv:04x}/0x{tm:04x} cannot be expressed in OpenFlow 1.0, which Open vSwitch uses for this flow; it becomes vlan_tci=0x{nv:04x}/0x{nm:04x}{}",
        if nm == 0xffff && nv == 0 { " (untagged frames only)" } else { "" }
    ))
}

/// The round trip through NXM (how a switch reports flows to ovs-ofctl):
/// fields whose prerequisites are missing are not encoded, ICMP type and
/// code travel as exact 8-bit values, and ND fields need ICMPv6 code 0.
/// Returns descriptions of what changed.
pub fn nxm_roundtrip(m: &mut Match) -> Vec<String> {
    let mut out = Vec::new();
    let dl_type = dl_type_of(m);
    let proto_masked = m.mask.get(key::IP_PROTO) != 0;
    let proto = nw_proto_of(m);
    let ip = matches!(dl_type, ETH_TYPE_IP | ETH_TYPE_IPV6);
    let drop = |m: &mut Match,
                out: &mut Vec<String>,
                keep: bool,
                slot: key::Slot,
                name: &str,
                why: &str| {
        if !keep && m.mask.get(slot) != 0 {
            set_slot(m, slot, 0, 0);
            out.push(format!(
                "{name}: dropped from the match because {why} (Open vSwitch drops it silently)"
            ));
        }
    };
    drop(
        m,
        &mut out,
        ip,
        key::IP_FRAG,
        "nw_frag",
        "the match is not for ip or ipv6",
    );
    let tcp = ip && proto_masked && proto == IPPROTO_TCP;
    drop(
        m,
        &mut out,
        tcp,
        key::TCP_FLAGS,
        "tcp_flags",
        "the match is not for tcp or tcp6",
    );
    let icmp4 = dl_type == ETH_TYPE_IP && proto_masked && proto == IPPROTO_ICMP;
    let icmp6 = dl_type == ETH_TYPE_IPV6 && proto_masked && proto == IPPROTO_ICMPV6;
    if icmp4 || icmp6 {
        for (slot, name) in [(key::TP_SRC, "icmp_type"), (key::TP_DST, "icmp_code")] {
            let (v, mk) = (m.value.get(slot), m.mask.get(slot));
            if mk != 0 && (mk != 0xffff || v > 0xff) {
                set_slot(m, slot, v & 0xff, 0xffff);
                out.push(format!(
                    "{name}: Open vSwitch carries it as an exact 8-bit value, so 0x{v:x}/0x{mk:x} becomes {}",
                    v & 0xff
                ));
            }
        }
    }
    let nd =
        icmp6 && m.value.get(key::TP_DST) == 0 && matches!(m.value.get(key::TP_SRC), 135 | 136);
    let tp_src = m.value.get(key::TP_SRC);
    if icmp6 {
        let why = "neighbor discovery fields need icmp_type=135 or 136 with icmp_code=0";
        drop(m, &mut out, nd, key::ND_TARGET, "nd_target", why);
        drop(
            m,
            &mut out,
            nd && tp_src == 135,
            key::ARP_SHA,
            "nd_sll",
            why,
        );
        drop(
            m,
            &mut out,
            nd && tp_src == 136,
            key::ARP_THA,
            "nd_tll",
            why,
        );
    }
    out
}

// Writes straight into the line being built: a dump of 100,000 flows
// formats millions of fields, and a String per field would dominate it.
fn put(out: &mut String, args: std::fmt::Arguments) {
    use std::fmt::Write;
    let _ = out.write_fmt(args);
    out.push(',');
}

fn fmt_u16_masked(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        if m == 0xffff {
            put(out, format_args!("{name}={v}"));
        } else {
            put(out, format_args!("{name}=0x{v:x}/0x{m:x}"));
        }
    }
}

fn fmt_hex_masked(out: &mut String, name: &str, v: u128, m: u128, full: u128) {
    if m != 0 {
        if m == full {
            put(out, format_args!("{name}={}", c_hex(v)));
        } else {
            put(out, format_args!("{name}={}/{}", c_hex(v), c_hex(m)));
        }
    }
}

fn fmt_eth(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        out.push_str(name);
        out.push('=');
        write_mac_masked(out, v, m);
        out.push(',');
    }
}

fn fmt_ip(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        out.push_str(name);
        out.push('=');
        write_ipv4_masked(out, v, m);
        out.push(',');
    }
}

fn fmt_ipv6(out: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        put(out, format_args!("{name}={}", format_ipv6_masked(v, m)));
    }
}

/// Prints a match the way OVS's `match_format` does (priority included
/// unless it is the default 32768).
pub fn format_match(m: &Match, priority: u16, ports: Option<&PortMap>) -> String {
    let mut out = String::with_capacity(96);
    if priority != 32768 {
        put(&mut out, format_args!("priority={priority}"));
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
        let name = match dl_type {
            ETH_TYPE_IP | ETH_TYPE_IPV6 => {
                let v6 = dl_type == ETH_TYPE_IPV6;
                let named = if nw_proto_m == 0 {
                    None
                } else {
                    match (nw_proto, v6) {
                        (IPPROTO_ICMP, false) => Some("icmp"),
                        (IPPROTO_IGMP, false) => Some("igmp"),
                        (IPPROTO_ICMPV6, true) => Some("icmp6"),
                        (IPPROTO_TCP, false) => Some("tcp"),
                        (IPPROTO_TCP, true) => Some("tcp6"),
                        (IPPROTO_UDP, false) => Some("udp"),
                        (IPPROTO_UDP, true) => Some("udp6"),
                        (IPPROTO_SCTP, false) => Some("sctp"),
                        (IPPROTO_SCTP, true) => Some("sctp6"),
                        _ => None,
                    }
                };
                skip_proto = named.is_some();
                Some(named.unwrap_or(if v6 { "ipv6" } else { "ip" }))
            }
            ETH_TYPE_ARP => Some("arp"),
            ETH_TYPE_RARP => Some("rarp"),
            ETH_TYPE_MPLS => Some("mpls"),
            ETH_TYPE_MPLS_MCAST => Some("mplsm"),
            _ => None,
        };
        match name {
            Some(n) => put(&mut out, format_args!("{n}")),
            None => skip_type = false,
        }
    }
    for r in 0..16u8 {
        let (v, mk) = g(key::reg_slot(r));
        fmt_hex_masked(&mut out, crate::field::reg_info(r).name, v, mk, 0xffff_ffff);
    }
    let (v, mk) = g(key::TUN_ID);
    fmt_hex_masked(&mut out, "tun_id", v, mk, u64::MAX as u128);
    let (v, mk) = g(key::TUN_SRC);
    fmt_ip(&mut out, "tun_src", v, mk);
    let (v, mk) = g(key::TUN_DST);
    fmt_ip(&mut out, "tun_dst", v, mk);
    let (v, mk) = g(key::METADATA);
    fmt_hex_masked(&mut out, "metadata", v, mk, u64::MAX as u128);
    let (v, mk) = g(key::IN_PORT);
    if mk != 0 {
        put(
            &mut out,
            format_args!("in_port={}", format_port(v as u32, ports)),
        );
    }
    let (tv, tm) = g(key::VLAN_TCI);
    if tm != 0 {
        let vid_m = tm & 0x0fff;
        let pcp_m = tm & 0xe000;
        let cfi = tm & 0x1000;
        if cfi != 0
            && tv & 0x1000 != 0
            && (vid_m == 0 || vid_m == 0x0fff)
            && (pcp_m == 0 || pcp_m == 0xe000)
            && (vid_m != 0 || pcp_m != 0)
        {
            if vid_m != 0 {
                put(&mut out, format_args!("dl_vlan={}", tv & 0x0fff));
            }
            if pcp_m != 0 {
                put(&mut out, format_args!("dl_vlan_pcp={}", tv >> 13));
            }
        } else if tm == 0xffff {
            put(&mut out, format_args!("vlan_tci=0x{tv:04x}"));
        } else {
            put(&mut out, format_args!("vlan_tci=0x{tv:04x}/0x{tm:04x}"));
        }
    }
    let (v, mk) = g(key::ETH_SRC);
    fmt_eth(&mut out, "dl_src", v, mk);
    let (v, mk) = g(key::ETH_DST);
    fmt_eth(&mut out, "dl_dst", v, mk);
    if !skip_type && dl_type_m != 0 {
        put(&mut out, format_args!("dl_type=0x{dl_type:04x}"));
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
                put(&mut out, format_args!("ipv6_label=0x{v:05x}"));
            } else {
                put(&mut out, format_args!("ipv6_label=0x{v:05x}/0x{mk:05x}"));
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
            put(&mut out, format_args!("arp_op={nw_proto}"));
        } else {
            put(&mut out, format_args!("nw_proto={nw_proto}"));
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
        put(&mut out, format_args!("nw_tos={}", tos & 0xfc));
    }
    if tos_m & 0x03 != 0 {
        put(&mut out, format_args!("nw_ecn={}", tos & 0x03));
    }
    let (ttl, ttl_m) = g(key::IP_TTL);
    if ttl_m != 0 {
        put(&mut out, format_args!("nw_ttl={ttl}"));
    }
    let (fv, fm) = g(key::IP_FRAG);
    if let Some(f) = format_frag(fv, fm) {
        put(&mut out, format_args!("nw_frag={f}"));
    }
    let (sv, sm) = g(key::TP_SRC);
    let (dv, dm) = g(key::TP_DST);
    if dl_type == ETH_TYPE_IP && nw_proto == IPPROTO_ICMP {
        fmt_u16_masked(&mut out, "icmp_type", sv, sm);
        fmt_u16_masked(&mut out, "icmp_code", dv, dm);
    } else if dl_type == ETH_TYPE_IP && nw_proto == IPPROTO_IGMP {
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
        put(
            &mut out,
            format_args!("tcp_flags={}", format_tcp_flags(fv, fm)),
        );
    }
    if out.ends_with(',') {
        out.pop();
    }
    out
}

/// Whether a port number may appear in `in_port=` / OpenFlow 1.0 at all.
pub fn is_valid_of10_port(p: u32) -> bool {
    p <= OFPP_NONE
}

/// Whether `output:` may send to `p` (OVS's `ofpact_check_output_port`).
pub fn output_port_ok(p: u32) -> bool {
    match p {
        crate::port::OFPP_IN_PORT
        | crate::port::OFPP_TABLE
        | crate::port::OFPP_NORMAL
        | crate::port::OFPP_FLOOD
        | crate::port::OFPP_ALL
        | crate::port::OFPP_CONTROLLER
        | OFPP_LOCAL => true,
        _ => p < OFPP_MAX,
    }
}
