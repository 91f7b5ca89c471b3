//! The catalog of matchable and writable fields: names, aliases, NXM/OXM
//! names, widths, prerequisites, and how each reads and writes a [`FlowKey`].

use crate::key::{self, FlowKey, Slot, VLAN_CFI};

pub const ETH_TYPE_IP: u16 = 0x0800;
pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const ETH_TYPE_RARP: u16 = 0x8035;
pub const ETH_TYPE_IPV6: u16 = 0x86dd;
pub const ETH_TYPE_VLAN: u16 = 0x8100;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_SCTP: u8 = 132;

/// A field as the flow syntax names it. Several are views of one storage
/// slot (`dl_vlan` is part of `vlan_tci`, `ip_dscp` part of `nw_tos`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    InPort,
    /// OpenFlow 1.1+ 32-bit in_port (OXM_OF_IN_PORT); same storage as InPort.
    InPortOxm,
    TunId,
    TunSrc,
    TunDst,
    Metadata,
    Reg(u8),
    EthSrc,
    EthDst,
    EthType,
    VlanTci,
    DlVlan,
    DlVlanPcp,
    /// OXM `vlan_pcp`: the PCP of an existing tag (needs a VLAN match to be set).
    VlanPcp,
    /// OXM vlan_vid: 12-bit VID plus the 0x1000 "present" bit.
    VlanVid,
    Ipv4Src,
    Ipv4Dst,
    IpProto,
    /// The DSCP part of the TOS byte, as a byte (`nw_tos`).
    NwTos,
    /// The DSCP part as a 6-bit number (`ip_dscp`).
    IpDscp,
    IpEcn,
    IpTtl,
    IpFrag,
    TpSrc,
    TpDst,
    TcpSrc,
    TcpDst,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    TcpFlags,
    IcmpType,
    IcmpCode,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    Icmpv6Type,
    Icmpv6Code,
    NdTarget,
    NdSll,
    NdTll,
}

/// What must already be matched before a field means anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prereq {
    None,
    /// A VLAN tag is present (OXM `vlan_pcp`).
    Vlan,
    Ip,
    Ipv4,
    Ipv6,
    Arp,
    Tcp,
    Udp,
    Sctp,
    /// tcp, udp or sctp over IPv4 or IPv6 (the generic `tp_src`).
    Transport,
    Icmp,
    Icmpv6,
    Nd,
    NdSolicit,
    NdAdvert,
}

/// How a value is written in flow syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Integer, accepted in decimal or 0x-hex.
    Int,
    /// An OpenFlow port: number or name.
    Port,
    Mac,
    Ipv4,
    Ipv6,
    TcpFlags,
    Frag,
}

/// Static facts about one field.
#[derive(Clone, Copy, Debug)]
pub struct FieldInfo {
    pub field: Field,
    /// The name ovs-ofctl prints in matches (and its primary input name).
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// OVS's meta-flow name (`mf->name`), printed by `set_field:`, `learn()`
    /// and in error messages ("value too large for 2-byte field tcp_dst").
    pub mf_name: &'static str,
    /// The NXM name OVS prints in `load:`/`move:`/`learn()`, if any.
    pub nxm: Option<&'static str>,
    /// The OXM name, accepted on input.
    pub oxm: Option<&'static str>,
    /// Width in bits as a subfield.
    pub width: u8,
    /// Bytes OVS parses a value of this field into (`mf->n_bytes`); decides
    /// "value too large for N-byte field" and silent truncation.
    pub n_bytes: u8,
    pub kind: ValueKind,
    /// Integers printed in hex (`MFS_HEXADECIMAL`) rather than decimal.
    pub hex: bool,
    /// Whether a match may give a bitwise mask.
    pub maskable: bool,
    pub prereq: Prereq,
    /// Whether actions may write it (set_field, load, move destination).
    pub writable: bool,
}

macro_rules! fi {
    ($f:expr, $name:expr, $mf:expr, [$($a:expr),*], $nxm:expr, $oxm:expr, $w:expr, $nb:expr, $kind:ident, $hex:expr, $mask:expr, $pre:ident, $wr:expr) => {
        FieldInfo {
            field: $f,
            name: $name,
            aliases: &[$($a),*],
            mf_name: $mf,
            nxm: $nxm,
            oxm: $oxm,
            width: $w,
            n_bytes: $nb,
            kind: ValueKind::$kind,
            hex: $hex,
            maskable: $mask,
            prereq: Prereq::$pre,
            writable: $wr,
        }
    };
}

use Field as F;

/// Every field but the registers (see [`reg_info`]). Names, aliases and
/// widths follow OVS 3.1's meta-flow table. `tp_src`/`tp_dst` are kept as
/// their own protocol-generic views; the flow syntax treats them as OVS
/// does, as aliases of `tcp_src`/`tcp_dst` (see `syntax::matches::lookup_field`).
#[rustfmt::skip]
pub static FIELDS: &[FieldInfo] = &[
    fi!(F::InPort, "in_port", "in_port", [], Some("NXM_OF_IN_PORT"), None, 16, 2, Port, false, false, None, true),
    fi!(F::InPortOxm, "in_port_oxm", "in_port_oxm", [], None, Some("OXM_OF_IN_PORT"), 32, 4, Port, false, false, None, true),
    fi!(F::TunId, "tun_id", "tun_id", ["tunnel_id"], Some("NXM_NX_TUN_ID"), Some("OXM_OF_TUNNEL_ID"), 64, 8, Int, true, true, None, true),
    fi!(F::TunSrc, "tun_src", "tun_src", [], Some("NXM_NX_TUN_IPV4_SRC"), None, 32, 4, Ipv4, false, true, None, true),
    fi!(F::TunDst, "tun_dst", "tun_dst", [], Some("NXM_NX_TUN_IPV4_DST"), None, 32, 4, Ipv4, false, true, None, true),
    fi!(F::Metadata, "metadata", "metadata", [], None, Some("OXM_OF_METADATA"), 64, 8, Int, true, true, None, true),
    fi!(F::EthSrc, "dl_src", "eth_src", ["eth_src"], Some("NXM_OF_ETH_SRC"), Some("OXM_OF_ETH_SRC"), 48, 6, Mac, false, true, None, true),
    fi!(F::EthDst, "dl_dst", "eth_dst", ["eth_dst"], Some("NXM_OF_ETH_DST"), Some("OXM_OF_ETH_DST"), 48, 6, Mac, false, true, None, true),
    fi!(F::EthType, "dl_type", "eth_type", ["eth_type"], Some("NXM_OF_ETH_TYPE"), Some("OXM_OF_ETH_TYPE"), 16, 2, Int, true, false, None, false),
    fi!(F::VlanTci, "vlan_tci", "vlan_tci", [], Some("NXM_OF_VLAN_TCI"), None, 16, 2, Int, true, true, None, true),
    fi!(F::DlVlan, "dl_vlan", "dl_vlan", [], None, None, 12, 2, Int, false, false, None, true),
    fi!(F::VlanVid, "vlan_vid", "vlan_vid", [], None, Some("OXM_OF_VLAN_VID"), 13, 2, Int, false, true, None, true),
    fi!(F::DlVlanPcp, "dl_vlan_pcp", "dl_vlan_pcp", [], None, None, 3, 1, Int, false, false, None, true),
    fi!(F::VlanPcp, "vlan_pcp", "vlan_pcp", [], None, Some("OXM_OF_VLAN_PCP"), 3, 1, Int, false, false, Vlan, true),
    fi!(F::Ipv4Src, "nw_src", "ip_src", ["ip_src"], Some("NXM_OF_IP_SRC"), Some("OXM_OF_IPV4_SRC"), 32, 4, Ipv4, false, true, Ipv4, true),
    fi!(F::Ipv4Dst, "nw_dst", "ip_dst", ["ip_dst"], Some("NXM_OF_IP_DST"), Some("OXM_OF_IPV4_DST"), 32, 4, Ipv4, false, true, Ipv4, true),
    fi!(F::IpProto, "nw_proto", "nw_proto", ["ip_proto"], Some("NXM_OF_IP_PROTO"), Some("OXM_OF_IP_PROTO"), 8, 1, Int, false, false, Ip, false),
    fi!(F::NwTos, "nw_tos", "nw_tos", [], Some("NXM_OF_IP_TOS"), None, 8, 1, Int, false, false, Ip, true),
    fi!(F::IpDscp, "ip_dscp", "ip_dscp", [], None, Some("OXM_OF_IP_DSCP"), 6, 1, Int, false, false, Ip, true),
    fi!(F::IpEcn, "nw_ecn", "nw_ecn", ["ip_ecn"], Some("NXM_NX_IP_ECN"), Some("OXM_OF_IP_ECN"), 2, 1, Int, false, false, Ip, true),
    fi!(F::IpTtl, "nw_ttl", "nw_ttl", [], Some("NXM_NX_IP_TTL"), None, 8, 1, Int, false, false, Ip, true),
    fi!(F::IpFrag, "nw_frag", "ip_frag", ["ip_frag"], Some("NXM_NX_IP_FRAG"), None, 2, 1, Frag, false, true, Ip, false),
    fi!(F::TpSrc, "tp_src", "tcp_src", [], Some("NXM_OF_TCP_SRC"), None, 16, 2, Int, false, true, Transport, true),
    fi!(F::TpDst, "tp_dst", "tcp_dst", [], Some("NXM_OF_TCP_DST"), None, 16, 2, Int, false, true, Transport, true),
    fi!(F::TcpSrc, "tcp_src", "tcp_src", [], Some("NXM_OF_TCP_SRC"), Some("OXM_OF_TCP_SRC"), 16, 2, Int, false, true, Tcp, true),
    fi!(F::TcpDst, "tcp_dst", "tcp_dst", [], Some("NXM_OF_TCP_DST"), Some("OXM_OF_TCP_DST"), 16, 2, Int, false, true, Tcp, true),
    fi!(F::UdpSrc, "udp_src", "udp_src", [], Some("NXM_OF_UDP_SRC"), Some("OXM_OF_UDP_SRC"), 16, 2, Int, false, true, Udp, true),
    fi!(F::UdpDst, "udp_dst", "udp_dst", [], Some("NXM_OF_UDP_DST"), Some("OXM_OF_UDP_DST"), 16, 2, Int, false, true, Udp, true),
    fi!(F::SctpSrc, "sctp_src", "sctp_src", [], None, Some("OXM_OF_SCTP_SRC"), 16, 2, Int, false, true, Sctp, true),
    fi!(F::SctpDst, "sctp_dst", "sctp_dst", [], None, Some("OXM_OF_SCTP_DST"), 16, 2, Int, false, true, Sctp, true),
    fi!(F::TcpFlags, "tcp_flags", "tcp_flags", [], Some("NXM_NX_TCP_FLAGS"), Some("ONFOXM_ET_TCP_FLAGS"), 12, 2, TcpFlags, true, true, Tcp, false),
    fi!(F::IcmpType, "icmp_type", "icmp_type", [], Some("NXM_OF_ICMP_TYPE"), Some("OXM_OF_ICMPV4_TYPE"), 8, 1, Int, false, false, Icmp, true),
    fi!(F::IcmpCode, "icmp_code", "icmp_code", [], Some("NXM_OF_ICMP_CODE"), Some("OXM_OF_ICMPV4_CODE"), 8, 1, Int, false, false, Icmp, true),
    fi!(F::ArpOp, "arp_op", "arp_op", [], Some("NXM_OF_ARP_OP"), Some("OXM_OF_ARP_OP"), 16, 2, Int, false, false, Arp, true),
    fi!(F::ArpSpa, "arp_spa", "arp_spa", [], Some("NXM_OF_ARP_SPA"), Some("OXM_OF_ARP_SPA"), 32, 4, Ipv4, false, true, Arp, true),
    fi!(F::ArpTpa, "arp_tpa", "arp_tpa", [], Some("NXM_OF_ARP_TPA"), Some("OXM_OF_ARP_TPA"), 32, 4, Ipv4, false, true, Arp, true),
    fi!(F::ArpSha, "arp_sha", "arp_sha", [], Some("NXM_NX_ARP_SHA"), Some("OXM_OF_ARP_SHA"), 48, 6, Mac, false, true, Arp, true),
    fi!(F::ArpTha, "arp_tha", "arp_tha", [], Some("NXM_NX_ARP_THA"), Some("OXM_OF_ARP_THA"), 48, 6, Mac, false, true, Arp, true),
    fi!(F::Ipv6Src, "ipv6_src", "ipv6_src", [], Some("NXM_NX_IPV6_SRC"), Some("OXM_OF_IPV6_SRC"), 128, 16, Ipv6, false, true, Ipv6, true),
    fi!(F::Ipv6Dst, "ipv6_dst", "ipv6_dst", [], Some("NXM_NX_IPV6_DST"), Some("OXM_OF_IPV6_DST"), 128, 16, Ipv6, false, true, Ipv6, true),
    fi!(F::Ipv6Label, "ipv6_label", "ipv6_label", [], Some("NXM_NX_IPV6_LABEL"), Some("OXM_OF_IPV6_FLABEL"), 20, 4, Int, true, true, Ipv6, true),
    fi!(F::Icmpv6Type, "icmpv6_type", "icmpv6_type", [], Some("NXM_NX_ICMPV6_TYPE"), Some("OXM_OF_ICMPV6_TYPE"), 8, 1, Int, false, false, Icmpv6, true),
    fi!(F::Icmpv6Code, "icmpv6_code", "icmpv6_code", [], Some("NXM_NX_ICMPV6_CODE"), Some("OXM_OF_ICMPV6_CODE"), 8, 1, Int, false, false, Icmpv6, true),
    fi!(F::NdTarget, "nd_target", "nd_target", [], Some("NXM_NX_ND_TARGET"), Some("OXM_OF_IPV6_ND_TARGET"), 128, 16, Ipv6, false, true, Nd, true),
    fi!(F::NdSll, "nd_sll", "nd_sll", [], Some("NXM_NX_ND_SLL"), Some("OXM_OF_IPV6_ND_SLL"), 48, 6, Mac, false, true, NdSolicit, true),
    fi!(F::NdTll, "nd_tll", "nd_tll", [], Some("NXM_NX_ND_TLL"), Some("OXM_OF_IPV6_ND_TLL"), 48, 6, Mac, false, true, NdAdvert, true),
];

/// Fields Open vSwitch knows but rswitch deliberately does not implement,
/// by every name OVS accepts for them (flow-syntax and NXM/OXM), with the
/// reason. A flow naming one is rejected rather than half understood.
pub fn unsupported_field(name: &str) -> Option<&'static str> {
    let plain = name.strip_suffix("_W").unwrap_or(name);
    let reason = |r: &'static str| Some(r);
    let n = plain.to_ascii_lowercase();
    let n = n.as_str();
    if n.starts_with("xxreg")
        || n.starts_with("xreg")
        || n.starts_with("nxm_nx_xxreg")
        || n.starts_with("oxm_of_pkt_reg")
    {
        return reason("rswitch has only the 16 32-bit registers reg0..reg15");
    }
    if n.starts_with("ct_") || n.starts_with("nxm_nx_ct_") {
        return reason("rswitch does not implement connection tracking");
    }
    if n.starts_with("mpls_") || n.starts_with("oxm_of_mpls_") {
        return reason("rswitch does not implement MPLS");
    }
    if n.starts_with("tun_ipv6_") || n.starts_with("nxm_nx_tun_ipv6_") {
        return reason("rswitch tunnels are IPv4 only");
    }
    if n.starts_with("tun_gbp_")
        || n.starts_with("nxm_nx_tun_gbp_")
        || n == "tun_flags"
        || n == "nxm_nx_tun_flags"
    {
        return reason("rswitch does not implement tunnel flags or group policy");
    }
    if n.starts_with("tun_metadata")
        || n.starts_with("nxm_nx_tun_metadata")
        || n.starts_with("tun_erspan")
        || n.starts_with("tun_gtpu")
        || n == "tun_ttl"
        || n == "tun_tos"
    {
        return reason("rswitch does not implement tunnel options");
    }
    if n.starts_with("nsh_") || n.starts_with("nxm_nx_nsh_") {
        return reason("rswitch does not implement NSH");
    }
    match n {
        "pkt_mark" | "nxm_nx_pkt_mark" => reason("rswitch does not implement packet marks"),
        "conj_id" => reason("rswitch does not implement conjunctive matches"),
        "nd_reserved" | "nd_options_type" | "erspan_ver" | "erspan_idx" | "erspan_dir"
        | "erspan_hwid" => reason("rswitch does not implement that ND/ERSPAN field"),
        "dp_hash" | "recirc_id" | "packet_type" | "actset_output" | "skb_priority"
        | "nxm_nx_dp_hash" | "nxm_nx_recirc_id" => {
            reason("rswitch does not implement that datapath metadata field")
        }
        _ => None,
    }
}

static REG_NAMES: [&str; 16] = [
    "reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9", "reg10",
    "reg11", "reg12", "reg13", "reg14", "reg15",
];
static REG_NXM: [&str; 16] = [
    "NXM_NX_REG0",
    "NXM_NX_REG1",
    "NXM_NX_REG2",
    "NXM_NX_REG3",
    "NXM_NX_REG4",
    "NXM_NX_REG5",
    "NXM_NX_REG6",
    "NXM_NX_REG7",
    "NXM_NX_REG8",
    "NXM_NX_REG9",
    "NXM_NX_REG10",
    "NXM_NX_REG11",
    "NXM_NX_REG12",
    "NXM_NX_REG13",
    "NXM_NX_REG14",
    "NXM_NX_REG15",
];

/// Facts about register `n` (0..16).
pub fn reg_info(n: u8) -> FieldInfo {
    let n = n.min(15) as usize;
    FieldInfo {
        field: Field::Reg(n as u8),
        name: REG_NAMES[n],
        mf_name: REG_NAMES[n],
        aliases: &[],
        nxm: Some(REG_NXM[n]),
        oxm: None,
        width: 32,
        n_bytes: 4,
        kind: ValueKind::Int,
        hex: true,
        maskable: true,
        prereq: Prereq::None,
        writable: true,
    }
}

impl Field {
    pub fn info(self) -> FieldInfo {
        match self {
            Field::Reg(n) => reg_info(n),
            f => *FIELDS
                .iter()
                .find(|i| i.field == f)
                .expect("every non-register field is in FIELDS"),
        }
    }

    /// Looks a field up by its flow-syntax name or alias (`dl_src`, `eth_src`, `reg3`).
    pub fn from_name(name: &str) -> Option<Field> {
        if let Some(n) = name.strip_prefix("reg") {
            if let Ok(n) = n.parse::<u8>() {
                if n < 16 && !n.to_string().is_empty() && format!("reg{n}") == name {
                    return Some(Field::Reg(n));
                }
            }
            return None;
        }
        FIELDS
            .iter()
            .find(|i| i.name == name || i.aliases.contains(&name))
            .map(|i| i.field)
            // `in_port_oxm` is internal; only the OXM name selects it.
            .filter(|f| *f != Field::InPortOxm || name != "in_port_oxm")
    }

    /// Looks a field up by an NXM or OXM name (`NXM_OF_VLAN_TCI`, `OXM_OF_METADATA`).
    pub fn from_nxm(name: &str) -> Option<Field> {
        if let Some(i) = REG_NXM.iter().position(|n| *n == name) {
            return Some(Field::Reg(i as u8));
        }
        FIELDS
            .iter()
            .find(|i| i.nxm == Some(name) || i.oxm == Some(name))
            .map(|i| i.field)
    }

    /// Any name: NXM/OXM name first, then flow-syntax names.
    pub fn from_any_name(name: &str) -> Option<Field> {
        Field::from_nxm(name).or_else(|| Field::from_name(name))
    }

    pub fn width(self) -> u8 {
        self.info().width
    }

    /// Bytes OVS parses a value of this field into (`mf->n_bytes`).
    pub fn n_bytes(self) -> u8 {
        self.info().n_bytes
    }

    /// The name OVS prints for this field inside `load:`/`move:`/`learn()`:
    /// its NXM name when it has one, otherwise its OXM name, otherwise its
    /// flow-syntax name.
    pub fn subfield_name(self) -> &'static str {
        let i = self.info();
        i.nxm.or(i.oxm).unwrap_or(i.name)
    }

    /// The storage slot behind this field and the bit offset of the field in it.
    /// Views (`dl_vlan`, `ip_dscp`, ...) are a bit range of a wider slot.
    pub fn storage(self) -> (Slot, u8) {
        match self {
            F::InPort | F::InPortOxm => (key::IN_PORT, 0),
            F::TunId => (key::TUN_ID, 0),
            F::TunSrc => (key::TUN_SRC, 0),
            F::TunDst => (key::TUN_DST, 0),
            F::Metadata => (key::METADATA, 0),
            F::Reg(n) => (key::reg_slot(n), 0),
            F::EthSrc => (key::ETH_SRC, 0),
            F::EthDst => (key::ETH_DST, 0),
            F::EthType => (key::ETH_TYPE, 0),
            F::VlanTci => (key::VLAN_TCI, 0),
            F::DlVlan => (key::VLAN_TCI, 0),
            F::DlVlanPcp | F::VlanPcp => (key::VLAN_TCI, 13),
            F::VlanVid => (key::VLAN_TCI, 0),
            F::Ipv4Src | F::ArpSpa => (key::IPV4_SRC, 0),
            F::Ipv4Dst | F::ArpTpa => (key::IPV4_DST, 0),
            F::IpProto | F::ArpOp => (key::IP_PROTO, 0),
            F::NwTos => (key::IP_TOS, 0),
            F::IpDscp => (key::IP_TOS, 2),
            F::IpEcn => (key::IP_TOS, 0),
            F::IpTtl => (key::IP_TTL, 0),
            F::IpFrag => (key::IP_FRAG, 0),
            F::TpSrc | F::TcpSrc | F::UdpSrc | F::SctpSrc | F::IcmpType | F::Icmpv6Type => {
                (key::TP_SRC, 0)
            }
            F::TpDst | F::TcpDst | F::UdpDst | F::SctpDst | F::IcmpCode | F::Icmpv6Code => {
                (key::TP_DST, 0)
            }
            F::TcpFlags => (key::TCP_FLAGS, 0),
            F::ArpSha | F::NdSll => (key::ARP_SHA, 0),
            F::ArpTha | F::NdTll => (key::ARP_THA, 0),
            F::Ipv6Src => (key::IPV6_SRC, 0),
            F::Ipv6Dst => (key::IPV6_DST, 0),
            F::Ipv6Label => (key::IPV6_LABEL, 0),
            F::NdTarget => (key::ND_TARGET, 0),
        }
    }

    /// Bits of the storage slot this field covers (already shifted).
    pub fn storage_mask(self) -> u128 {
        let (slot, shift) = self.storage();
        let w = match self {
            // Stored in 8 bits although the field is 16 wide.
            F::ArpOp => 8,
            F::NwTos => return 0xfc,
            F::DlVlan => return 0x0fff,
            F::VlanVid => return 0x1fff,
            _ => self.width().min(slot.width),
        };
        let ones = if w >= 128 {
            u128::MAX
        } else {
            (1u128 << w) - 1
        };
        ones << shift
    }

    /// Reads the field's value from a key.
    pub fn read(self, k: &FlowKey) -> u128 {
        let (slot, shift) = self.storage();
        (k.get(slot) & self.storage_mask()) >> shift
    }

    /// Writes the field's value into a key (bits beyond the width ignored).
    /// Writing a VLAN view marks the tag present, as OVS does.
    pub fn write(self, k: &mut FlowKey, value: u128) {
        self.write_masked(k, value, u128::MAX)
    }

    /// Writes only the bits of `value` selected by `mask` (both in field units).
    pub fn write_masked(self, k: &mut FlowKey, value: u128, mask: u128) {
        let (slot, shift) = self.storage();
        let field_bits = self.storage_mask();
        let m = (mask << shift) & field_bits;
        let old = k.get(slot);
        let mut new = (old & !m) | ((value << shift) & m);
        if matches!(self, F::DlVlan | F::DlVlanPcp | F::VlanPcp) && m != 0 {
            new |= VLAN_CFI as u128;
        }
        k.set(slot, new);
    }

    /// Whether the key satisfies this field's prerequisites (for matches,
    /// `k` is the match's value and `mask` says what the match pins down).
    pub fn prereqs_ok(self, k: &FlowKey, mask: &FlowKey) -> bool {
        self.info().prereq.satisfied(k, mask)
    }
}

impl Prereq {
    /// True when the fields this prerequisite depends on are matched exactly
    /// (in `mask`) to values (in `k`) that make it hold.
    pub fn satisfied(self, k: &FlowKey, mask: &FlowKey) -> bool {
        let typ = |t: &[u16]| {
            mask.get(key::ETH_TYPE) == 0xffff && t.contains(&(k.get(key::ETH_TYPE) as u16))
        };
        let proto = |p: u8| mask.get(key::IP_PROTO) == 0xff && k.get(key::IP_PROTO) as u8 == p;
        let ip_any = || typ(&[ETH_TYPE_IP, ETH_TYPE_IPV6]);
        match self {
            Prereq::None => true,
            Prereq::Vlan => {
                mask.get(key::VLAN_TCI) as u16 & VLAN_CFI != 0
                    && k.get(key::VLAN_TCI) as u16 & VLAN_CFI != 0
            }
            Prereq::Ip => ip_any(),
            Prereq::Ipv4 => typ(&[ETH_TYPE_IP]),
            Prereq::Ipv6 => typ(&[ETH_TYPE_IPV6]),
            Prereq::Arp => typ(&[ETH_TYPE_ARP, ETH_TYPE_RARP]),
            Prereq::Tcp => ip_any() && proto(IPPROTO_TCP),
            Prereq::Udp => ip_any() && proto(IPPROTO_UDP),
            Prereq::Sctp => ip_any() && proto(IPPROTO_SCTP),
            Prereq::Transport => {
                ip_any() && (proto(IPPROTO_TCP) || proto(IPPROTO_UDP) || proto(IPPROTO_SCTP))
            }
            Prereq::Icmp => typ(&[ETH_TYPE_IP]) && proto(IPPROTO_ICMP),
            Prereq::Icmpv6 => typ(&[ETH_TYPE_IPV6]) && proto(IPPROTO_ICMPV6),
            Prereq::Nd | Prereq::NdSolicit | Prereq::NdAdvert => {
                let want: &[u128] = match self {
                    Prereq::NdSolicit => &[135],
                    Prereq::NdAdvert => &[136],
                    _ => &[135, 136],
                };
                Prereq::Icmpv6.satisfied(k, mask)
                    && mask.get(key::TP_SRC) & 0xff == 0xff
                    && want.contains(&k.get(key::TP_SRC))
            }
        }
    }

    /// Human words for the prerequisite, for warnings and errors.
    pub fn describe(self) -> &'static str {
        match self {
            Prereq::None => "nothing",
            Prereq::Vlan => "a VLAN tag (dl_vlan or vlan_tci with 0x1000)",
            Prereq::Ip => "ip or ipv6",
            Prereq::Ipv4 => "ip",
            Prereq::Ipv6 => "ipv6",
            Prereq::Arp => "arp or rarp",
            Prereq::Tcp => "tcp or tcp6",
            Prereq::Udp => "udp or udp6",
            Prereq::Sctp => "sctp or sctp6",
            Prereq::Transport => "tcp, udp or sctp (or their ipv6 forms)",
            Prereq::Icmp => "icmp",
            Prereq::Icmpv6 => "icmp6",
            Prereq::Nd => "icmp6 with icmp_type=135 or 136",
            Prereq::NdSolicit => "icmp6 with icmp_type=135",
            Prereq::NdAdvert => "icmp6 with icmp_type=136",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve() {
        assert_eq!(Field::from_name("eth_src"), Some(Field::EthSrc));
        assert_eq!(Field::from_name("dl_src"), Some(Field::EthSrc));
        assert_eq!(Field::from_name("reg15"), Some(Field::Reg(15)));
        assert_eq!(Field::from_name("reg16"), None);
        assert_eq!(Field::from_name("reg01"), None);
        assert_eq!(Field::from_name("tunnel_id"), Some(Field::TunId));
        assert_eq!(Field::from_nxm("NXM_OF_VLAN_TCI"), Some(Field::VlanTci));
        assert_eq!(Field::from_nxm("NXM_NX_REG3"), Some(Field::Reg(3)));
        assert_eq!(Field::from_nxm("OXM_OF_METADATA"), Some(Field::Metadata));
        assert_eq!(Field::Metadata.subfield_name(), "OXM_OF_METADATA");
        assert_eq!(Field::TunId.subfield_name(), "NXM_NX_TUN_ID");
    }

    #[test]
    fn views_read_and_write_their_bits() {
        let mut k = FlowKey::ZERO;
        Field::DlVlan.write(&mut k, 4);
        assert_eq!(k.vlan_tci(), 0x1004);
        Field::DlVlanPcp.write(&mut k, 5);
        assert_eq!(k.vlan_tci(), 0xb004);
        assert_eq!(Field::DlVlanPcp.read(&k), 5);
        Field::IpDscp.write(&mut k, 46);
        assert_eq!(Field::NwTos.read(&k), 184);
        Field::IpEcn.write(&mut k, 3);
        assert_eq!(k.get(key::IP_TOS), 187);
        assert_eq!(Field::IpDscp.read(&k), 46);
        Field::ArpOp.write(&mut k, 2);
        assert_eq!(k.ip_proto(), 2);
    }

    #[test]
    fn every_field_has_info() {
        for i in FIELDS {
            assert_eq!(i.field.info().name, i.name);
        }
        for n in 0..16 {
            assert_eq!(Field::Reg(n).info().name, format!("reg{n}"));
        }
    }
}
