//! Helpers shared by the wire_* integration tests: packet builders on top
//! of etherparse and checksum checks that do not use rswitch's own code.
#![allow(dead_code)]

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

pub const MAC_A: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x0a];
pub const MAC_B: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x0b];
pub const V6_A: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
];
pub const V6_B: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
];

/// A plain 16-bit-word one's-complement sum (RFC 1071 done the slow way).
pub fn naive_sum(parts: &[&[u8]]) -> u16 {
    let mut s: u32 = 0;
    for p in parts {
        for c in p.chunks(2) {
            s += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
            s = (s & 0xffff) + (s >> 16);
        }
    }
    s as u16
}

/// Whether two checksum values are the same number in one's complement
/// (0x0000 and 0xffff are both zero).
pub fn same_csum(a: u16, b: u16) -> bool {
    a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
}

/// Checks every checksum in `frame` with etherparse (and the naive sum for
/// ICMPv4); panics naming the first bad one. Returns the protocol layers
/// seen, e.g. "ipv4/tcp".
pub fn assert_checksums(frame: &[u8]) -> String {
    let sp = SlicedPacket::from_ethernet(frame).expect("etherparse parses the frame");
    let mut seen = String::new();
    let mut v4 = None;
    let mut v6 = None;
    match &sp.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            assert_eq!(
                h.to_header().calc_header_checksum(),
                h.header_checksum(),
                "IPv4 header checksum"
            );
            v4 = Some((h.source(), h.destination()));
            seen += "ipv4";
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            v6 = Some((h.source(), h.destination()));
            seen += "ipv6";
        }
        Some(NetSlice::Arp(_)) => seen += "arp",
        None => {}
    }
    match &sp.transport {
        Some(TransportSlice::Tcp(t)) => {
            let c = match (v4, v6) {
                (Some((s, d)), _) => t.calc_checksum_ipv4(s, d).unwrap(),
                (_, Some((s, d))) => t.calc_checksum_ipv6(s, d).unwrap(),
                _ => unreachable!(),
            };
            assert!(
                same_csum(c, t.checksum()),
                "TCP checksum {:#06x}, want {c:#06x}",
                t.checksum()
            );
            seen += "/tcp";
        }
        Some(TransportSlice::Udp(u)) => {
            seen += "/udp";
            if u.checksum() == 0 && v4.is_some() {
                return seen + "(no csum)";
            }
            let h = u.to_header();
            let c = match (v4, v6) {
                (Some((s, d)), _) => h.calc_checksum_ipv4_raw(s, d, u.payload()).unwrap(),
                (_, Some((s, d))) => h.calc_checksum_ipv6_raw(s, d, u.payload()).unwrap(),
                _ => unreachable!(),
            };
            assert_eq!(c, u.checksum(), "UDP checksum");
        }
        Some(TransportSlice::Icmpv4(i)) => {
            assert_eq!(naive_sum(&[i.slice()]), 0xffff, "ICMPv4 checksum");
            seen += "/icmp";
        }
        Some(TransportSlice::Icmpv6(i)) => {
            let (s, d) = v6.expect("ICMPv6 over IPv6");
            assert!(i.is_checksum_valid(s, d), "ICMPv6 checksum");
            seen += "/icmpv6";
        }
        _ => {}
    }
    seen
}

/// Ethernet/IPv4/TCP with `payload`.
pub fn tcp4(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1000, 64240)
        .ack(77)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

/// Ethernet/IPv6/TCP with `payload`.
pub fn tcp6(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(V6_A, V6_B, 64)
        .tcp(40000, 80, 1000, 64240)
        .ack(77)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// Ethernet/IPv4/UDP with `payload`.
pub fn udp4(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5000, 53)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// Ethernet/IPv6/UDP with `payload`.
pub fn udp6(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(V6_A, V6_B, 64)
        .udp(5000, 53)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// Inserts an 802.1Q tag with `tci` after the MAC addresses.
pub fn tagged(frame: &[u8], tci: u16) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    v.extend_from_slice(&[0x81, 0x00]);
    v.extend_from_slice(&tci.to_be_bytes());
    v.extend_from_slice(&frame[12..]);
    v
}

/// Turns the transport checksum at `l4 + off` into a partial one as Linux
/// hands it over with NEEDS_CSUM: the folded, non-complemented
/// pseudo-header sum.
pub fn make_partial(frame: &mut [u8], l3: usize, l4: usize, off: usize, proto: u8) {
    let len = if frame[l3] >> 4 == 4 {
        u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]) as usize - (l4 - l3)
    } else {
        u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]]) as usize + l3 + 40 - l4
    };
    let addrs: Vec<u8> = if frame[l3] >> 4 == 4 {
        frame[l3 + 12..l3 + 20].to_vec()
    } else {
        frame[l3 + 8..l3 + 40].to_vec()
    };
    let lenb = (len as u32).to_be_bytes();
    let s = naive_sum(&[&addrs, &[0, proto], &lenb]);
    frame[l4 + off..l4 + off + 2].copy_from_slice(&s.to_be_bytes());
}
