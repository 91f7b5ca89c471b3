//! Flow-key extraction: the fields Open vSwitch's `flow_extract` fills,
//! read straight from the frame bytes into a [`FlowKey`] (no allocation).
//!
//! Semantics follow OVS's `miniflow_extract`, including what it does with
//! truncated or odd packets:
//! - One VLAN slot (OVS with `vlan-limit=1`): the first tag (802.1Q or
//!   802.1ad) goes into `vlan_tci` with the CFI bit set as "present", and
//!   `dl_type` is the EtherType after it. For a frame with two or more
//!   tags, `dl_type` is therefore the inner tag's TPID (0x8100) and the key
//!   stops there: no L3 fields.
//! - A tag the kernel stripped (`PACKET_AUXDATA`) is given to
//!   [`extract_key_with_tci`] and takes the slot as if it were in the frame.
//! - 802.3 frames get `dl_type` 0x05ff unless LLC/SNAP with OUI 0 carries an
//!   EtherType.
//! - An IP header that fails OVS's sanity checks (IHL < 5, total length
//!   beyond the frame or shorter than the header; IPv6 payload length beyond
//!   the frame) leaves every L3 field zero; the key has only L2 fields. So a
//!   frame cut short inside the IP datagram (total length > bytes present)
//!   is L2-only, like in OVS.
//! - A valid IP header with a short transport header keeps all the IP
//!   fields and leaves the transport ones zero (TCP needs 20 bytes, UDP 8,
//!   SCTP 12, ICMP 8, ICMPv6 8). Transport fields are read only for
//!   unfragmented packets and first fragments.
//! - IPv6 extension headers that run past the payload leave only the
//!   addresses set (OVS jumps out after pushing them).
//! - ARP fields are set only for Ethernet/IPv4 ARP of at least 28 bytes;
//!   the opcode only when it fits OVS's 8-bit `nw_proto`.
//! - ND fields: for a neighbour solicitation/advertisement with code 0, the
//!   target (when present) and the first SLL/TLL options; a repeated SLL or
//!   TLL option makes OVS discard all ND fields, and so do we.
//!
//! [`Malformed`] is returned only for frames shorter than an Ethernet
//! header; the key then holds just `in_port` (and a stripped TCI).

use std::fmt;

use ofproto::key::{self, FlowKey, FRAG_ANY, FRAG_LATER, VLAN_CFI};

use crate::wire::{be16, be32, ethertype, icmp, ip_proto, ipv6, mac_at, vlan};

/// The frame is shorter than an Ethernet header (14 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("frame shorter than an Ethernet header")
    }
}

impl std::error::Error for Malformed {}

/// OVS's `FLOW_DL_TYPE_NONE`: an 802.3 frame without an EtherType.
pub const DL_TYPE_NONE: u16 = 0x05ff;

/// Fills `key` from `frame` received on `in_port`. Every field but the
/// tunnel metadata (`tun_id`, `tun_src`, `tun_dst`, which the caller sets
/// for decapsulated packets) is overwritten.
#[inline]
pub fn extract_key(frame: &[u8], in_port: u32, key: &mut FlowKey) -> Result<(), Malformed> {
    extract_key_with_tci(frame, in_port, None, key)
}

/// As [`extract_key`], for a frame whose outer 802.1Q tag was removed by
/// the kernel and handed over separately as `stripped_tci`.
pub fn extract_key_with_tci(
    frame: &[u8],
    in_port: u32,
    stripped_tci: Option<u16>,
    key: &mut FlowKey,
) -> Result<(), Malformed> {
    let tun = (
        key.get(key::TUN_ID),
        key.get(key::TUN_SRC),
        key.get(key::TUN_DST),
    );
    *key = FlowKey::ZERO;
    key.set(key::TUN_ID, tun.0);
    key.set(key::TUN_SRC, tun.1);
    key.set(key::TUN_DST, tun.2);
    key.set_in_port(in_port);
    if let Some(tci) = stripped_tci {
        key.set_vlan_tci(tci | VLAN_CFI);
    }
    if frame.len() < 14 {
        return Err(Malformed);
    }
    key.set_eth_dst(mac_at(frame, 0));
    key.set_eth_src(mac_at(frame, 6));

    let mut off = 12;
    // OVS takes a tag only when its TCI and the next EtherType are present.
    if stripped_tci.is_none() && vlan::is_tpid(be16(frame, 12)) && frame.len() >= 18 {
        key.set_vlan_tci(be16(frame, 14) | VLAN_CFI);
        off = 16;
    }
    let mut dl_type = be16(frame, off);
    off += 2;
    if dl_type < ethertype::MIN {
        dl_type = DL_TYPE_NONE;
        let llc = &frame[off..];
        if llc.len() >= 8 && llc[..6] == [0xaa, 0xaa, 0x03, 0, 0, 0] {
            let t = be16(llc, 6);
            off += 8;
            if t >= ethertype::MIN {
                dl_type = t;
            }
        }
    }
    key.set(key::ETH_TYPE, dl_type as u128);

    let d = &frame[off..];
    match dl_type {
        ethertype::IPV4 => ipv4(d, key),
        ethertype::IPV6 => ipv6(d, key),
        ethertype::ARP | ethertype::RARP => arp(d, key),
        _ => {}
    }
    Ok(())
}

#[inline]
fn ipv4(d: &[u8], key: &mut FlowKey) {
    if d.len() < 20 {
        return;
    }
    let hl = (d[0] & 0x0f) as usize * 4;
    let tot = be16(d, 2) as usize;
    if hl < 20 || d.len() < hl || tot > d.len() || hl > tot {
        return;
    }
    key.set(key::IPV4_SRC, be32(d, 12) as u128);
    key.set(key::IPV4_DST, be32(d, 16) as u128);
    let proto = d[9];
    key.set(key::IP_PROTO, proto as u128);
    key.set(key::IP_TOS, d[1] as u128);
    key.set(key::IP_TTL, d[8] as u128);
    let fo = be16(d, 6);
    let mut frag = 0;
    if fo & 0x3fff != 0 {
        frag = FRAG_ANY;
        if fo & 0x1fff != 0 {
            frag |= FRAG_LATER;
        }
    }
    key.set(key::IP_FRAG, frag as u128);
    if frag & FRAG_LATER == 0 {
        transport(&d[hl..tot], proto, key);
    }
}

#[inline]
fn ipv6(d: &[u8], key: &mut FlowKey) {
    if d.len() < ipv6::HEADER_LEN {
        return;
    }
    let plen = be16(d, 4) as usize;
    if ipv6::HEADER_LEN + plen > d.len() {
        return;
    }
    key.set(
        key::IPV6_SRC,
        u128::from_be_bytes(d[8..24].try_into().unwrap_or_default()),
    );
    key.set(
        key::IPV6_DST,
        u128::from_be_bytes(d[24..40].try_into().unwrap_or_default()),
    );
    let payload = &d[ipv6::HEADER_LEN..ipv6::HEADER_LEN + plen];
    let (mut proto, mut l4) = (d[6], 0);
    let mut frag = 0;
    if ipv6::is_ext_header(proto) {
        let Ok(ext) = ipv6::walk_ext_headers(proto, payload) else {
            return;
        };
        proto = ext.proto;
        l4 = ext.l4_offset;
        if let Some(f) = ext.frag {
            if f.offset != 0 || f.more {
                frag = FRAG_ANY;
            }
            if f.offset != 0 {
                frag |= FRAG_LATER;
                // OVS reports later fragments' protocol as "fragment".
                proto = ip_proto::FRAGMENT;
            }
        }
    }
    let tc_flow = be32(d, 0);
    key.set(key::IPV6_LABEL, (tc_flow & 0x000f_ffff) as u128);
    key.set(key::IP_PROTO, proto as u128);
    key.set(key::IP_TOS, ((tc_flow >> 20) & 0xff) as u128);
    key.set(key::IP_TTL, d[7] as u128);
    key.set(key::IP_FRAG, frag as u128);
    if frag & FRAG_LATER == 0 {
        transport(&payload[l4..], proto, key);
    }
}

/// Transport fields, shared by IPv4 and IPv6 as in OVS (which keys on the
/// protocol number alone).
#[inline]
fn transport(d: &[u8], proto: u8, key: &mut FlowKey) {
    match proto {
        ip_proto::TCP if d.len() >= 20 => {
            ports(d, key);
            key.set(key::TCP_FLAGS, (be16(d, 12) & 0x0fff) as u128);
        }
        ip_proto::UDP if d.len() >= 8 => ports(d, key),
        ip_proto::SCTP if d.len() >= 12 => ports(d, key),
        ip_proto::ICMP if d.len() >= 8 => {
            key.set(key::TP_SRC, d[0] as u128);
            key.set(key::TP_DST, d[1] as u128);
        }
        ip_proto::ICMPV6 if d.len() >= 8 => {
            key.set(key::TP_SRC, d[0] as u128);
            key.set(key::TP_DST, d[1] as u128);
            nd(d, key);
        }
        _ => {}
    }
}

#[inline]
fn ports(d: &[u8], key: &mut FlowKey) {
    key.set(key::TP_SRC, be16(d, 0) as u128);
    key.set(key::TP_DST, be16(d, 2) as u128);
}

/// OVS's `parse_icmpv6`: ND target and link-layer address options.
fn nd(d: &[u8], key: &mut FlowKey) {
    let t = d[0];
    if d[1] != 0 || (t != icmp::v6_type::NEIGHBOR_SOLICIT && t != icmp::v6_type::NEIGHBOR_ADVERT) {
        return;
    }
    if d.len() < icmp::ND_LEN {
        return;
    }
    let target = u128::from_be_bytes(d[8..24].try_into().unwrap_or_default());
    let (mut sll, mut tll) = (0u64, 0u64);
    let mut opts = &d[icmp::ND_LEN..];
    while opts.len() >= 8 {
        let len = opts[1] as usize * 8;
        if len == 0 || len > opts.len() {
            break;
        }
        if len == 8 {
            let mac = key::mac_to_u64(mac_at(opts, 2));
            match opts[0] {
                icmp::ND_OPT_SOURCE_LLADDR if sll == 0 => sll = mac,
                icmp::ND_OPT_TARGET_LLADDR if tll == 0 => tll = mac,
                // A second SLL/TLL option: OVS treats the message as
                // invalid and keeps no ND fields at all.
                icmp::ND_OPT_SOURCE_LLADDR | icmp::ND_OPT_TARGET_LLADDR => return,
                _ => {}
            }
        }
        opts = &opts[len..];
    }
    key.set(key::ND_TARGET, target);
    key.set(key::ARP_SHA, sll as u128);
    key.set(key::ARP_THA, tll as u128);
}

#[inline]
fn arp(d: &[u8], key: &mut FlowKey) {
    if d.len() < 28 || be16(d, 0) != 1 || be16(d, 2) != ethertype::IPV4 || d[4] != 6 || d[5] != 4 {
        return;
    }
    key.set(key::IPV4_SRC, be32(d, 14) as u128);
    key.set(key::IPV4_DST, be32(d, 24) as u128);
    let op = be16(d, 6);
    if op <= 0xff {
        key.set(key::IP_PROTO, op as u128);
    }
    key.set(key::ARP_SHA, key::mac_to_u64(mac_at(d, 8)) as u128);
    key.set(key::ARP_THA, key::mac_to_u64(mac_at(d, 18)) as u128);
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const SRC: [u8; 6] = [0x52, 0x54, 0, 0, 0, 1];
    const DST: [u8; 6] = [0x52, 0x54, 0, 0, 0, 2];

    fn key_of(frame: &[u8]) -> FlowKey {
        let mut k = FlowKey::ZERO;
        extract_key(frame, 7, &mut k).unwrap();
        k
    }

    fn tcp_v4(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 63)
            .tcp(40000, 443, 1, 1000)
            .syn()
            .ack(5)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    #[test]
    fn tcp_ipv4() {
        let f = tcp_v4(b"hello");
        let k = key_of(&f);
        assert_eq!(k.in_port(), 7);
        assert_eq!(k.eth_src(), SRC);
        assert_eq!(k.eth_dst(), DST);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(k.vlan_tci(), 0);
        assert_eq!(k.get(key::IPV4_SRC), 0x0a00_0001);
        assert_eq!(k.get(key::IPV4_DST), 0x0a00_0002);
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.get(key::IP_TTL), 63);
        assert_eq!(k.get(key::IP_FRAG), 0);
        assert_eq!(k.get(key::TP_SRC), 40000);
        assert_eq!(k.get(key::TP_DST), 443);
        assert_eq!(k.get(key::TCP_FLAGS), 0x012);
    }

    #[test]
    fn tunnel_fields_are_kept_and_others_reset() {
        let f = tcp_v4(b"");
        let mut k = FlowKey::ZERO;
        k.set(key::TUN_ID, 0x1234);
        k.set(key::TUN_DST, 0x0a00_00fe);
        k.set(key::METADATA, 99);
        k.set(key::ND_TARGET, 1);
        extract_key(&f, 1, &mut k).unwrap();
        assert_eq!(k.tun_id(), 0x1234);
        assert_eq!(k.get(key::TUN_DST), 0x0a00_00fe);
        assert_eq!(k.get(key::METADATA), 0);
        assert_eq!(k.get(key::ND_TARGET), 0);
    }

    #[test]
    fn vlan_tag_and_stripped_tci() {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .single_vlan(0x123.try_into().unwrap())
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 5)
            .udp(53, 5353)
            .write(&mut v, b"x")
            .unwrap();
        v[14] |= 0xa0; // PCP 5
        let k = key_of(&v);
        assert_eq!(k.vlan_tci(), 0xa123 | VLAN_CFI);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!((k.get(key::TP_SRC), k.get(key::TP_DST)), (53, 5353));
        // The same frame as the kernel would hand it over, tag stripped.
        let mut stripped = v[..12].to_vec();
        stripped.extend_from_slice(&v[16..]);
        let mut k2 = FlowKey::ZERO;
        extract_key_with_tci(&stripped, 7, Some(0xa123), &mut k2).unwrap();
        assert_eq!(k2, k);
    }

    #[test]
    fn qinq_describes_outer_tag_only() {
        let mut f = DST.to_vec();
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        let k = key_of(&f);
        assert_eq!(k.vlan_tci(), 0x0064 | VLAN_CFI);
        assert_eq!(k.eth_type(), 0x8100);
        assert_eq!(k.get(key::IPV4_SRC), 0);
        assert_eq!(k.ip_proto(), 0);
        // Stripped outer tag + inner tag in the frame: same key.
        let mut s = f[..12].to_vec();
        s.extend_from_slice(&f[16..]);
        let mut k2 = FlowKey::ZERO;
        extract_key_with_tci(&s, 7, Some(0x0064), &mut k2).unwrap();
        assert_eq!(k2, k);
    }

    #[test]
    fn arp_request() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[192, 168, 1, 100, 0, 0, 0, 0, 0, 0, 192, 168, 1, 1]);
        let k = key_of(&f);
        assert_eq!(k.eth_type(), 0x0806);
        assert_eq!(k.ip_proto(), 1);
        assert_eq!(k.get(key::IPV4_SRC), 0xc0a8_0164);
        assert_eq!(k.get(key::IPV4_DST), 0xc0a8_0101);
        assert_eq!(k.get(key::ARP_SHA), key::mac_to_u64(SRC) as u128);
        assert_eq!(k.get(key::ARP_THA), 0);
        // An opcode over 255 does not fit nw_proto: OVS leaves it 0.
        let mut big = f.clone();
        big[20] = 1;
        assert_eq!(key_of(&big).ip_proto(), 0);
        assert_eq!(key_of(&big).get(key::IPV4_SRC), 0xc0a8_0164);
        // Truncated ARP: L2 only.
        let k = key_of(&f[..41]);
        assert_eq!(
            (k.eth_type(), k.get(key::IPV4_SRC), k.ip_proto()),
            (0x0806, 0, 0)
        );
    }

    #[test]
    fn icmpv4_and_fragments() {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut v, b"ping")
            .unwrap();
        let k = key_of(&v);
        assert_eq!(
            (k.ip_proto(), k.get(key::TP_SRC), k.get(key::TP_DST)),
            (1, 8, 0)
        );
        // First fragment (MF): L4 read, FRAG_ANY.
        let mut first = v.clone();
        first[14 + 6] = 0x20;
        let k = key_of(&first);
        assert_eq!(k.get(key::IP_FRAG), FRAG_ANY as u128);
        assert_eq!(k.get(key::TP_SRC), 8);
        // Later fragment: no L4.
        let mut later = v.clone();
        later[14 + 7] = 1;
        let k = key_of(&later);
        assert_eq!(k.get(key::IP_FRAG), (FRAG_ANY | FRAG_LATER) as u128);
        assert_eq!(k.get(key::TP_SRC), 0);
        assert_eq!(k.ip_proto(), 1);
        // ToS is the whole byte.
        let mut tos = v.clone();
        tos[15] = 0xb9;
        assert_eq!(key_of(&tos).get(key::IP_TOS), 0xb9);
    }

    fn v6(src: [u8; 16], dst: [u8; 16]) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
        PacketBuilder::ethernet2(SRC, DST).ipv6(src, dst, 255)
    }

    const A6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    #[test]
    fn udp_ipv6_with_tclass_and_label() {
        let mut v = Vec::new();
        v6(A6, B6).udp(546, 547).write(&mut v, b"dhcp").unwrap();
        // tclass 0xb8, label 0xabcde.
        v[14] = 0x6b;
        v[15] = 0x8a;
        v[16] = 0xbc;
        v[17] = 0xde;
        let k = key_of(&v);
        assert_eq!(k.eth_type(), 0x86dd);
        assert_eq!(k.get(key::IPV6_SRC), u128::from_be_bytes(A6));
        assert_eq!(k.get(key::IPV6_DST), u128::from_be_bytes(B6));
        assert_eq!(k.get(key::IPV6_LABEL), 0xabcde);
        assert_eq!(k.get(key::IP_TOS), 0xb8);
        assert_eq!(k.get(key::IP_TTL), 255);
        assert_eq!(
            (k.ip_proto(), k.get(key::TP_SRC), k.get(key::TP_DST)),
            (17, 546, 547)
        );
    }

    fn raw_v6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = DST.to_vec();
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        f.extend_from_slice(&[next, 64]);
        f.extend_from_slice(&A6);
        f.extend_from_slice(&B6);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        // hop-by-hop -> dest opts -> fragment(first, M) -> TCP
        let mut p = vec![60, 0, 1, 4, 0, 0, 0, 0];
        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[6, 0, 0, 1, 0, 0, 0, 9]);
        let mut tcp = [0u8; 20];
        tcp[..4].copy_from_slice(&[0x1f, 0x90, 0x00, 0x50]);
        tcp[12] = 0x50;
        tcp[13] = 0x18;
        p.extend_from_slice(&tcp);
        let k = key_of(&raw_v6(0, &p));
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.get(key::IP_FRAG), FRAG_ANY as u128);
        assert_eq!((k.get(key::TP_SRC), k.get(key::TP_DST)), (8080, 80));
        assert_eq!(k.get(key::TCP_FLAGS), 0x18);
        // Later fragment: protocol reads as 44, no ports.
        p[16 + 2] = 0x01;
        p[16 + 3] = 0x00;
        let k = key_of(&raw_v6(0, &p));
        assert_eq!(k.ip_proto(), 44);
        assert_eq!(k.get(key::IP_FRAG), (FRAG_ANY | FRAG_LATER) as u128);
        assert_eq!(k.get(key::TP_SRC), 0);
        // A hop-by-hop header running past the payload: addresses only.
        let k = key_of(&raw_v6(0, &[6, 3, 0, 0, 0, 0, 0, 0]));
        assert_eq!(k.get(key::IPV6_SRC), u128::from_be_bytes(A6));
        assert_eq!((k.ip_proto(), k.get(key::IP_TTL)), (0, 0));
    }

    fn nd_msg(ty: u8, opts: &[u8]) -> Vec<u8> {
        let mut m = vec![ty, 0, 0, 0, 0x60, 0, 0, 0];
        m.extend_from_slice(&B6);
        m.extend_from_slice(opts);
        m
    }

    #[test]
    fn icmpv6_nd() {
        let sll = [1, 1, 0x52, 0x54, 0, 0, 0, 1];
        let tll = [2, 1, 0x52, 0x54, 0, 0, 0, 2];
        let k = key_of(&raw_v6(58, &nd_msg(135, &sll)));
        assert_eq!(
            (k.ip_proto(), k.get(key::TP_SRC), k.get(key::TP_DST)),
            (58, 135, 0)
        );
        assert_eq!(k.get(key::ND_TARGET), u128::from_be_bytes(B6));
        assert_eq!(k.get(key::ARP_SHA), key::mac_to_u64(SRC) as u128);
        assert_eq!(k.get(key::ARP_THA), 0);
        let k = key_of(&raw_v6(58, &nd_msg(136, &tll)));
        assert_eq!(k.get(key::TP_SRC), 136);
        assert_eq!(k.get(key::ARP_THA), key::mac_to_u64(DST) as u128);
        // Unknown option skipped, then SLL.
        let mut o = vec![14, 1, 0, 0, 0, 0, 0, 0];
        o.extend_from_slice(&sll);
        let k = key_of(&raw_v6(58, &nd_msg(135, &o)));
        assert_eq!(k.get(key::ARP_SHA), key::mac_to_u64(SRC) as u128);
        // Duplicate SLL: no ND fields, type/code kept.
        let mut dup = sll.to_vec();
        dup.extend_from_slice(&[1, 1, 9, 9, 9, 9, 9, 9]);
        let k = key_of(&raw_v6(58, &nd_msg(135, &dup)));
        assert_eq!(
            (
                k.get(key::ND_TARGET),
                k.get(key::ARP_SHA),
                k.get(key::TP_SRC)
            ),
            (0, 0, 135)
        );
        // NS without a full target: type only.
        let k = key_of(&raw_v6(58, &nd_msg(135, &[])[..20]));
        assert_eq!((k.get(key::ND_TARGET), k.get(key::TP_SRC)), (0, 135));
        // Echo request: no ND.
        let k = key_of(&raw_v6(58, &[128, 0, 0, 0, 0, 1, 0, 1]));
        assert_eq!((k.get(key::TP_SRC), k.get(key::ND_TARGET)), (128, 0));
    }

    #[test]
    fn truncation_behaves_like_ovs() {
        let full = tcp_v4(b"");
        // < 14 bytes: Malformed, in_port still set.
        let mut k = FlowKey::ZERO;
        assert_eq!(extract_key(&full[..13], 3, &mut k), Err(Malformed));
        assert_eq!(k.in_port(), 3);
        assert_eq!(k.eth_type(), 0);
        // IP header cut short / total length beyond the frame: L2 only.
        for n in [14, 20, 33, 34, 40, full.len() - 1] {
            let k = key_of(&full[..n]);
            assert_eq!(k.eth_type(), 0x0800, "len {n}");
            assert_eq!(k.eth_src(), SRC);
            assert_eq!(k.get(key::IPV4_SRC), 0, "len {n}");
            assert_eq!(k.ip_proto(), 0, "len {n}");
        }
        // A datagram whose TCP header is short (total length says so):
        // IP fields present, no ports or flags.
        let mut short = full[..14 + 20 + 10].to_vec();
        short[14 + 3] = 30;
        let k = key_of(&short);
        assert_eq!(k.get(key::IPV4_SRC), 0x0a00_0001);
        assert_eq!(k.ip_proto(), 6);
        assert_eq!((k.get(key::TP_SRC), k.get(key::TCP_FLAGS)), (0, 0));
        // L2 padding after the datagram is ignored.
        let mut padded = full.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(key_of(&padded), key_of(&full));
    }

    #[test]
    fn llc_snap_and_8023() {
        let mut f = DST.to_vec();
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[0x00, 0x26, 0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
        assert_eq!(key_of(&f).eth_type(), DL_TYPE_NONE);
        let mut snap = DST.to_vec();
        snap.extend_from_slice(&SRC);
        snap.extend_from_slice(&[0x00, 0x30, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06]);
        snap.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
        snap.extend_from_slice(&[0; 20]);
        let k = key_of(&snap);
        assert_eq!(k.eth_type(), 0x0806);
        assert_eq!(k.ip_proto(), 2);
    }
}
