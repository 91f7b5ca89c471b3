//! Wire formats: zero-copy views over header bytes (`new_checked` validates
//! lengths once, then getters and setters index freely) and `Repr` structs
//! that parse from / emit into those views, in the manner of smoltcp's
//! `wire`. Every `new_checked`/`parse` returns an [`Error`] for short or
//! malformed input; nothing here panics on received bytes.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod gre;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

pub use arp::{Packet as ArpPacket, Repr as ArpRepr};
pub use ethernet::{Frame as EthernetFrame, Repr as EthernetRepr};
pub use gre::{Packet as GrePacket, Repr as GreRepr};
pub use icmp::{Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, NdiscRepr};
pub use ipv4::{Packet as Ipv4Packet, Repr as Ipv4Repr};
pub use ipv6::{Packet as Ipv6Packet, Repr as Ipv6Repr};
pub use tcp::{Packet as TcpPacket, Repr as TcpRepr};
pub use udp::{Packet as UdpPacket, Repr as UdpRepr};
pub use vlan::{Repr as VlanRepr, Tag as VlanTag};
pub use vxlan::{Header as VxlanHeader, Repr as VxlanRepr};

use std::fmt;

/// Why bytes could not be parsed (or a buffer could not be emitted into).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the header, or one of its length fields, needs.
    Truncated,
    /// A field holds a value the format forbids (version, length, flags).
    Malformed,
    /// A checksum does not verify.
    Checksum,
    /// Well-formed, but a variant this code does not handle (e.g. ARP for
    /// non-Ethernet hardware, GRE with routing).
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated header",
            Error::Malformed => "malformed header",
            Error::Checksum => "bad checksum",
            Error::Unsupported => "unsupported header variant",
        })
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

/// A MAC address.
pub type MacAddr = [u8; 6];

/// EtherType values used here.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const RARP: u16 = 0x8035;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
    /// Transparent Ethernet bridging: Ethernet inside GRE.
    pub const TEB: u16 = 0x6558;
    /// Values below this are 802.3 lengths, not types.
    pub const MIN: u16 = 0x0600;
}

/// IP protocol / IPv6 next-header numbers used here.
pub mod ip_proto {
    pub const HOPOPTS: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NONE: u8 = 59;
    pub const DSTOPTS: u8 = 60;
    pub const SCTP: u8 = 132;
}

// Byte helpers for views: callers index only within lengths that
// `check_len` already proved.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn mac_at(b: &[u8], at: usize) -> MacAddr {
    [b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5]]
}

/// The network-layer header [`locate`] found (and validated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    /// Not one of the below, or its header failed validation.
    None,
    /// ARP or RARP for Ethernet/IPv4, at least 28 bytes.
    Arp,
    Ipv4,
    Ipv6,
}

/// Where the headers of a frame are: what header rewriting and GSO
/// segmentation need. Offsets are from the start of the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// VLAN tags (802.1Q or 802.1ad) in front of `eth_type`.
    pub tags: u8,
    /// The EtherType after the tags.
    pub eth_type: u16,
    pub l3_kind: L3,
    /// Offset of the network header.
    pub l3: usize,
    /// End of the IP packet by its own length field (L2 padding excluded);
    /// the frame length for other kinds.
    pub l3_end: usize,
    /// Upper-layer protocol (after IPv6 extension headers); 0 without IP.
    pub proto: u8,
    /// Offset of the transport header; `None` without IP, for later
    /// fragments, or when IPv6 extension headers do not parse.
    pub l4: Option<usize>,
    /// OVS's `nw_frag` bits ([`FRAG_ANY`], [`FRAG_LATER`]).
    pub frag: u8,
    /// IPv6 only: a routing header with segments left precedes the
    /// transport header, so the destination field is not in its checksum.
    pub routing: bool,
}

/// `nw_frag` bit: the packet is a fragment.
pub const FRAG_ANY: u8 = 1;
/// `nw_frag` bit: the packet is a fragment with a non-zero offset.
pub const FRAG_LATER: u8 = 2;

/// Most VLAN tags [`locate`] walks through.
pub const MAX_TAGS: u8 = 4;

/// Finds the headers of an Ethernet frame. Fails only for frames shorter
/// than an Ethernet header; an invalid network header just yields
/// `L3::None`.
pub fn locate(frame: &[u8]) -> Result<Layout> {
    if frame.len() < ethernet::HEADER_LEN {
        return Err(Error::Truncated);
    }
    let mut off = 12;
    let mut tags = 0;
    let mut eth_type = be16(frame, off);
    while vlan::is_tpid(eth_type) && tags < MAX_TAGS {
        // A tag without its TCI and next EtherType is not taken (as OVS's
        // parse_vlan): the TPID then stands as the EtherType.
        if frame.len() < off + 6 {
            break;
        }
        off += 4;
        tags += 1;
        eth_type = be16(frame, off);
    }
    let l3 = off + 2;
    let mut lay = Layout {
        tags,
        eth_type,
        l3_kind: L3::None,
        l3,
        l3_end: frame.len(),
        proto: 0,
        l4: None,
        frag: 0,
        routing: false,
    };
    let rest = &frame[l3..];
    match eth_type {
        ethertype::IPV4 => {
            let Ok(ip) = ipv4::Packet::new_checked(rest) else {
                return Ok(lay);
            };
            lay.l3_kind = L3::Ipv4;
            lay.l3_end = l3 + ip.total_len() as usize;
            lay.proto = ip.protocol();
            if ip.is_fragment() {
                lay.frag = FRAG_ANY;
                if ip.frag_offset() != 0 {
                    lay.frag |= FRAG_LATER;
                }
            }
            if lay.frag & FRAG_LATER == 0 {
                lay.l4 = Some(l3 + ip.header_len());
            }
        }
        ethertype::IPV6 => {
            let Ok(ip) = ipv6::Packet::new_checked(rest) else {
                return Ok(lay);
            };
            lay.l3_kind = L3::Ipv6;
            lay.l3_end = l3 + ipv6::HEADER_LEN + ip.payload_len() as usize;
            if let Ok(ext) = ipv6::walk_ext_headers(ip.next_header(), ip.payload()) {
                lay.proto = ext.proto;
                lay.routing = ext.routing;
                if let Some(f) = ext.frag {
                    if f.offset != 0 || f.more {
                        lay.frag = FRAG_ANY;
                    }
                    if f.offset != 0 {
                        lay.frag |= FRAG_LATER;
                    }
                }
                if lay.frag & FRAG_LATER == 0 {
                    lay.l4 = Some(l3 + ipv6::HEADER_LEN + ext.l4_offset);
                }
            }
        }
        ethertype::ARP | ethertype::RARP
            if arp::Packet::new_checked(rest).is_ok_and(|a| a.is_ethernet_ipv4()) =>
        {
            lay.l3_kind = L3::Arp;
        }
        _ => {}
    }
    Ok(lay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_short_frames() {
        assert_eq!(locate(&[0; 13]), Err(Error::Truncated));
        let mut f = [0u8; 17];
        f[12] = 0x81;
        let lay = locate(&f).unwrap();
        assert_eq!((lay.tags, lay.eth_type, lay.l3), (0, 0x8100, 14));
        let lay = locate(&[0; 14]).unwrap();
        assert_eq!(
            (lay.eth_type, lay.l3, lay.l3_kind, lay.l4),
            (0, 14, L3::None, None)
        );
    }

    #[test]
    fn locate_tagged_ipv4_udp() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        let ip_at = f.len();
        f.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        f.extend_from_slice(&[0xee; 6]); // padding
        let lay = locate(&f).unwrap();
        assert_eq!(lay.tags, 2);
        assert_eq!(lay.l3, ip_at);
        assert_eq!(lay.l3_kind, L3::Ipv4);
        assert_eq!(lay.l3_end, f.len() - 6);
        assert_eq!(lay.l4, Some(ip_at + 20));
        assert_eq!(lay.proto, 17);
    }
}
