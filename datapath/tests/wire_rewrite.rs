//! Header rewrites checked from the outside: frames built with etherparse,
//! rewritten by `apply_output`, re-parsed with etherparse, with every
//! checksum verified independently.

mod wire_util;

use datapath::extract::extract_key;
use datapath::offload::complete_checksum;
use datapath::packet::{Packet, VnetHdr};
use datapath::rewrite::{apply_output, push_vlan, RewriteError};
use datapath::wire::checksum;
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use ofproto::key::{self, FlowKey, VLAN_CFI};
use ofproto::pipeline::{changes, Output};
use wire_util::*;

fn received(frame: &[u8]) -> FlowKey {
    let mut k = FlowKey::ZERO;
    extract_key(frame, 1, &mut k).unwrap();
    k
}

/// Rewrites `frame` with the key edits in `edit` (and change bits `ch`),
/// returning the packet.
fn rewrite(frame: &[u8], vnet: VnetHdr, ch: u32, edit: impl FnOnce(&mut FlowKey)) -> Packet {
    let rk = received(frame);
    let mut k = rk;
    edit(&mut k);
    let out = Output {
        bridge: 0,
        port: 2,
        changes: ch,
        key: k,
    };
    let mut p = Packet::from_frame(frame);
    p.vnet = vnet;
    apply_output(&mut p, &rk, &out).unwrap();
    p
}

fn plain(frame: &[u8], ch: u32, edit: impl FnOnce(&mut FlowKey)) -> Vec<u8> {
    rewrite(frame, VnetHdr::default(), ch, edit).data().to_vec()
}

fn tcp_of(frame: &[u8]) -> etherparse::TcpHeader {
    match SlicedPacket::from_ethernet(frame).unwrap().transport {
        Some(TransportSlice::Tcp(t)) => t.to_header(),
        t => panic!("not TCP: {t:?}"),
    }
}

fn ipv4_of(frame: &[u8]) -> etherparse::Ipv4Header {
    match SlicedPacket::from_ethernet(frame).unwrap().net {
        Some(NetSlice::Ipv4(ip)) => ip.header().to_header(),
        n => panic!("not IPv4: {n:?}"),
    }
}

fn ipv6_of(frame: &[u8]) -> etherparse::Ipv6Header {
    match SlicedPacket::from_ethernet(frame).unwrap().net {
        Some(NetSlice::Ipv6(ip)) => ip.header().to_header(),
        n => panic!("not IPv6: {n:?}"),
    }
}

#[test]
fn eth_addresses() {
    let f = tcp4(b"data");
    let out = plain(&f, changes::ETH_SRC | changes::ETH_DST, |k| {
        k.set_eth_src([2, 2, 2, 2, 2, 2]);
        k.set_eth_dst([4, 4, 4, 4, 4, 4]);
    });
    assert_eq!(&out[..12], &[4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2]);
    assert_eq!(&out[12..], &f[12..]);
}

#[test]
fn ipv4_addresses_on_tcp() {
    let f = tcp4(b"hello world");
    let out = plain(&f, changes::IPV4_SRC | changes::IPV4_DST, |k| {
        k.set(key::IPV4_SRC, 0xc0a8_0101);
        k.set(key::IPV4_DST, 0xac10_fe01);
    });
    assert_eq!(assert_checksums(&out), "ipv4/tcp");
    let ip = ipv4_of(&out);
    assert_eq!(
        (ip.source, ip.destination),
        ([192, 168, 1, 1], [172, 16, 254, 1])
    );
}

#[test]
fn ipv4_addresses_on_udp_with_and_without_checksum() {
    let f = udp4(b"query");
    let out = plain(&f, changes::IPV4_DST, |k| k.set(key::IPV4_DST, 0x0808_0808));
    assert_eq!(assert_checksums(&out), "ipv4/udp");
    assert_eq!(ipv4_of(&out).destination, [8, 8, 8, 8]);
    // A zero UDP checksum means none: it must stay zero.
    let mut nocsum = f.clone();
    nocsum[40] = 0;
    nocsum[41] = 0;
    let out = plain(&nocsum, changes::IPV4_DST | changes::TP_DST, |k| {
        k.set(key::IPV4_DST, 0x0808_0808);
        k.set(key::TP_DST, 5353);
    });
    assert_eq!(assert_checksums(&out), "ipv4/udp(no csum)");
    assert_eq!(&out[36..38], &5353u16.to_be_bytes());
}

#[test]
fn ipv4_tos_and_ttl() {
    let f = tcp4(b"x");
    let out = plain(&f, changes::IP_TOS | changes::IP_TTL, |k| {
        k.set(key::IP_TOS, 0xb9);
        k.set(key::IP_TTL, 3);
    });
    assert_checksums(&out);
    let ip = ipv4_of(&out);
    assert_eq!(
        (ip.dscp.value(), ip.ecn.value(), ip.time_to_live),
        (0xb9 >> 2, 1, 3)
    );
}

#[test]
fn tcp_and_udp_ports() {
    let f = tcp4(b"ports");
    let out = plain(&f, changes::TP_SRC | changes::TP_DST, |k| {
        k.set(key::TP_SRC, 1);
        k.set(key::TP_DST, 65535);
    });
    assert_checksums(&out);
    let t = tcp_of(&out);
    assert_eq!((t.source_port, t.destination_port), (1, 65535));
    for f in [udp4(b"u4"), udp6(b"u6")] {
        let out = plain(&f, changes::TP_SRC, |k| k.set(key::TP_SRC, 4242));
        assert!(assert_checksums(&out).ends_with("/udp"));
        assert_eq!(received(&out).get(key::TP_SRC), 4242);
    }
}

#[test]
fn ipv6_addresses_and_fields() {
    for f in [tcp6(b"six"), udp6(b"six")] {
        let out = plain(
            &f,
            changes::IPV6_SRC
                | changes::IPV6_DST
                | changes::IP_TOS
                | changes::IP_TTL
                | changes::IPV6_LABEL,
            |k| {
                k.set(key::IPV6_SRC, 0xfe80_0000_0000_0000_0000_0000_0000_0001);
                k.set(key::IPV6_DST, u128::MAX - 5);
                k.set(key::IP_TOS, 0x2e);
                k.set(key::IP_TTL, 1);
                k.set(key::IPV6_LABEL, 0xfedcb);
            },
        );
        assert_checksums(&out);
        let ip = ipv6_of(&out);
        assert_eq!(
            u128::from_be_bytes(ip.source),
            0xfe80_0000_0000_0000_0000_0000_0000_0001
        );
        assert_eq!(u128::from_be_bytes(ip.destination), u128::MAX - 5);
        assert_eq!(
            (ip.traffic_class, ip.hop_limit, ip.flow_label.value()),
            (0x2e, 1, 0xfedcb)
        );
    }
}

#[test]
fn icmpv4_type_code_and_icmpv6_address() {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(7, 9)
        .write(&mut v, b"ping")
        .unwrap();
    let out = plain(&v, changes::TP_SRC | changes::IPV4_SRC, |k| {
        k.set(key::TP_SRC, 0);
        k.set(key::IPV4_SRC, 0x0b00_0001);
    });
    assert_eq!(assert_checksums(&out), "ipv4/icmp");
    assert_eq!(out[34], 0);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(V6_A, V6_B, 64)
        .icmpv6_echo_request(7, 9)
        .write(&mut v, b"ping6")
        .unwrap();
    let out = plain(&v, changes::IPV6_DST | changes::TP_SRC, |k| {
        k.set(key::IPV6_DST, 1);
        k.set(key::TP_SRC, 129);
    });
    assert_eq!(assert_checksums(&out), "ipv6/icmpv6");
    assert_eq!(out[54], 129);
}

#[test]
fn arp_fields() {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    let out = plain(
        &f,
        changes::ARP | changes::IPV4_SRC | changes::IPV4_DST,
        |k| {
            k.set(key::IP_PROTO, 2);
            k.set(key::ARP_SHA, key::mac_to_u64(MAC_B) as u128);
            k.set(key::ARP_THA, key::mac_to_u64(MAC_A) as u128);
            k.set(key::IPV4_SRC, 0x0a00_0002);
            k.set(key::IPV4_DST, 0x0a00_0001);
        },
    );
    let sp = SlicedPacket::from_ethernet(&out).unwrap();
    let Some(NetSlice::Arp(a)) = sp.net else {
        panic!("not ARP")
    };
    let a = a.to_packet();
    assert_eq!(a.operation.0, 2);
    assert_eq!(a.sender_hw_addr(), &MAC_B);
    assert_eq!(a.target_hw_addr(), &MAC_A);
    assert_eq!(a.sender_protocol_addr(), &[10, 0, 0, 2]);
    assert_eq!(a.target_protocol_addr(), &[10, 0, 0, 1]);
    // Only the opcode changed: the addresses are left alone.
    let out = plain(&f, changes::ARP, |k| k.set(key::IP_PROTO, 2));
    assert_eq!(out[21], 2);
    assert_eq!(&out[22..], &f[22..]);
}

fn ns_frame() -> Vec<u8> {
    let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&V6_B);
    m.extend_from_slice(&[1, 1]);
    m.extend_from_slice(&MAC_A);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(V6_A, V6_B, 255)
        .icmpv6_raw(135, 0, [0; 4])
        .write(&mut v, &m[8..])
        .unwrap();
    v
}

#[test]
fn nd_target_and_sll() {
    let f = ns_frame();
    assert_eq!(assert_checksums(&f), "ipv6/icmpv6");
    let out = plain(&f, changes::ARP, |k| {
        k.set(key::ND_TARGET, 0x2001_0db8_0000_0000_0000_0000_0000_0099);
        k.set(key::ARP_SHA, key::mac_to_u64([6, 5, 4, 3, 2, 1]) as u128);
    });
    assert_checksums(&out);
    let k = received(&out);
    assert_eq!(
        k.get(key::ND_TARGET),
        0x2001_0db8_0000_0000_0000_0000_0000_0099
    );
    assert_eq!(k.eth_src(), MAC_A);
    assert_eq!(
        k.get(key::ARP_SHA),
        key::mac_to_u64([6, 5, 4, 3, 2, 1]) as u128
    );
}

#[test]
fn sctp_ports_keep_crc_valid() {
    let mut f = MAC_B.to_vec();
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[
        0x08, 0x00, 0x45, 0, 0, 48, 0, 0, 0, 0, 64, 132, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    let ipc = checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&ipc.to_be_bytes());
    let mut sctp = vec![0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 1, 0, 0, 0, 0];
    sctp.extend_from_slice(&[1, 0, 0, 16, 1, 2, 3, 4, 0, 0, 0x10, 0, 0, 1, 0, 1]);
    let crc = checksum::crc32c(&sctp);
    sctp[8..12].copy_from_slice(&crc.to_le_bytes());
    f.extend_from_slice(&sctp);
    let out = plain(&f, changes::TP_DST, |k| k.set(key::TP_DST, 9));
    let mut s = out[34..].to_vec();
    let got = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    s[8..12].fill(0);
    assert_eq!(got, checksum::crc32c(&s));
    assert_eq!(&s[2..4], &[0, 9]);
}

#[test]
fn later_fragment_gets_ip_fields_only() {
    let mut f = udp4(b"0123456789abcdef");
    f[20] = 0x00; // offset 8 bytes -> a later fragment
    f[21] = 0x01;
    let c = {
        f[24] = 0;
        f[25] = 0;
        checksum::checksum(&f[14..34])
    };
    f[24..26].copy_from_slice(&c.to_be_bytes());
    let out = plain(&f, changes::IPV4_SRC | changes::TP_SRC, |k| {
        k.set(key::IPV4_SRC, 0x0101_0101);
        k.set(key::TP_SRC, 1);
    });
    assert_eq!(checksum::fold(checksum::add(0, &out[14..34])), 0xffff);
    assert_eq!(&out[26..30], &[1, 1, 1, 1]);
    assert_eq!(&out[34..], &f[34..], "no transport header to touch");
}

#[test]
fn vlan_push_rewrite_strip() {
    let f = tcp4(b"tagged");
    // Push with PCP 5, VID 100.
    let out = plain(&f, changes::VLAN, |k| k.set_vlan_tci(VLAN_CFI | 0xa064));
    assert_eq!(&out[12..18], &[0x81, 0x00, 0xa0, 0x64, 0x08, 0x00]);
    assert_eq!(&out[18..], &f[14..]);
    assert_checksums(&out);
    // Rewrite VID and PCP, keeping the DEI bit the frame had.
    let mut dei = tagged(&f, 0x1000 | 0x0064);
    let out = plain(&dei, changes::VLAN, |k| k.set_vlan_tci(VLAN_CFI | 0x6123));
    assert_eq!(&out[14..16], &[0x71, 0x23]);
    dei[14] = 0; // no DEI now
    let out = plain(&dei, changes::VLAN, |k| k.set_vlan_tci(VLAN_CFI | 0x6123));
    assert_eq!(&out[14..16], &[0x61, 0x23]);
    // Strip.
    let out = plain(&tagged(&f, 5), changes::VLAN, |k| k.set_vlan_tci(0));
    assert_eq!(out, f);
}

#[test]
fn kernel_stripped_tag_is_pushed_on_rewrite() {
    let f = tcp4(b"x");
    let mut rk = FlowKey::ZERO;
    datapath::extract::extract_key_with_tci(&f, 1, Some(10), &mut rk).unwrap();
    let mut k = rk;
    k.set_vlan_tci(VLAN_CFI | 20);
    let mut p = Packet::from_frame(&f);
    apply_output(
        &mut p,
        &rk,
        &Output {
            bridge: 0,
            port: 2,
            changes: changes::VLAN,
            key: k,
        },
    )
    .unwrap();
    assert_eq!(&p.data()[12..16], &[0x81, 0, 0, 20]);
    // Strip of a stripped tag: nothing to do.
    k.set_vlan_tci(0);
    let mut p = Packet::from_frame(&f);
    apply_output(
        &mut p,
        &rk,
        &Output {
            bridge: 0,
            port: 2,
            changes: changes::VLAN,
            key: k,
        },
    )
    .unwrap();
    assert_eq!(p.data(), &f[..]);
}

#[test]
fn no_headroom_leaves_packet_untouched() {
    let f = tcp4(b"x");
    let mut p = Packet::from_frame(&f);
    while push_vlan(&mut p, 0x8100, 1).is_ok() {}
    let before = p.data().to_vec();
    let rk = received(&before);
    let mut k = rk;
    k.set_vlan_tci(0); // the received key saw the outer tag; strip works
    let o = Output {
        bridge: 0,
        port: 2,
        changes: changes::VLAN,
        key: k,
    };
    apply_output(&mut p, &rk, &o).unwrap();
    let popped: Vec<u8> = before[..12].iter().chain(&before[16..]).copied().collect();
    assert_eq!(p.data(), &popped[..]);
    // Full again, then a push on an untagged key fails cleanly.
    let mut p = Packet::from_frame(&f);
    while push_vlan(&mut p, 0x8100, 1).is_ok() {}
    let snapshot = p.data().to_vec();
    let mut rk2 = rk;
    rk2.set_vlan_tci(0);
    let mut k2 = rk2;
    k2.set_vlan_tci(VLAN_CFI | 7);
    let o = Output {
        bridge: 0,
        port: 2,
        changes: changes::VLAN,
        key: k2,
    };
    assert_eq!(
        apply_output(&mut p, &rk2, &o),
        Err(RewriteError::NoHeadroom)
    );
    assert_eq!(p.data(), &snapshot[..]);
}

fn partial_tcp(payload: &[u8], tag: Option<u16>) -> (Vec<u8>, VnetHdr) {
    let mut f = tcp4(payload);
    make_partial(&mut f, 14, 34, 16, 6);
    let mut v = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..Default::default()
    };
    if let Some(t) = tag {
        f = tagged(&f, t);
        v.csum_start += 4;
    }
    (f, v)
}

#[test]
fn partial_checksum_vlan_push_with_address_and_port_changes() {
    let (f, v) = partial_tcp(&[0x5a; 999], None);
    let ch = changes::VLAN | changes::IPV4_SRC | changes::IPV4_DST | changes::TP_SRC;
    let mut p = rewrite(&f, v, ch, |k| {
        k.set_vlan_tci(VLAN_CFI | 42);
        k.set(key::IPV4_SRC, 0x6440_0001);
        k.set(key::IPV4_DST, 0x6440_0002);
        k.set(key::TP_SRC, 12345);
    });
    assert_eq!(p.vnet.csum_start, 38, "csum_start follows the pushed tag");
    assert!(p.vnet.needs_csum());
    complete_checksum(&mut p);
    assert!(!p.vnet.needs_csum());
    assert_eq!(assert_checksums(p.data()), "ipv4/tcp");
    let t = tcp_of(p.data());
    assert_eq!(t.source_port, 12345);
    assert_eq!(ipv4_of(p.data()).source, [100, 64, 0, 1]);
}

#[test]
fn partial_checksum_vlan_pop() {
    let (f, v) = partial_tcp(b"popped", Some(0x2005));
    let mut p = rewrite(
        &f,
        v,
        changes::VLAN | changes::IPV4_DST | changes::TP_DST,
        |k| {
            k.set_vlan_tci(0);
            k.set(key::IPV4_DST, 0x0909_0909);
            k.set(key::TP_DST, 8080);
        },
    );
    assert_eq!(p.vnet.csum_start, 34);
    assert_eq!(&p.data()[12..14], &[0x08, 0x00]);
    complete_checksum(&mut p);
    assert_eq!(assert_checksums(p.data()), "ipv4/tcp");
    assert_eq!(tcp_of(p.data()).destination_port, 8080);
}

#[test]
fn partial_checksum_ipv6_udp() {
    let mut f = udp6(&[7; 301]);
    make_partial(&mut f, 14, 54, 6, 17);
    let v = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        csum_start: 54,
        csum_offset: 6,
        ..Default::default()
    };
    let mut p = rewrite(
        &f,
        v,
        changes::IPV6_SRC | changes::TP_SRC | changes::VLAN,
        |k| {
            k.set(key::IPV6_SRC, 0x1234);
            k.set(key::TP_SRC, 1);
            k.set_vlan_tci(VLAN_CFI | 3);
        },
    );
    assert_eq!(p.vnet.csum_start, 58);
    complete_checksum(&mut p);
    assert_eq!(assert_checksums(p.data()), "ipv6/udp");
}

#[test]
fn gso_hdr_len_follows_tag() {
    let (f, mut v) = partial_tcp(&[1; 3000], None);
    v.gso_type = VnetHdr::GSO_TCPV4;
    v.gso_size = 1448;
    v.hdr_len = 54;
    let p = rewrite(&f, v, changes::VLAN, |k| k.set_vlan_tci(VLAN_CFI | 9));
    assert_eq!((p.vnet.hdr_len, p.vnet.csum_start), (58, 38));
}

#[test]
fn ipv6_dst_behind_routing_header_keeps_l4_checksum() {
    let f = udp6(b"routed");
    // Insert a type-0-style routing header with one segment left.
    let mut r = f[..54].to_vec();
    r[20] = 43;
    r[19] += 24;
    r.extend_from_slice(&[17, 2, 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(&V6_B);
    r.extend_from_slice(&f[54..]);
    let out = plain(&r, changes::IPV6_DST, |k| k.set(key::IPV6_DST, 0x42));
    assert_eq!(&out[38..54], &0x42u128.to_be_bytes());
    assert_eq!(&out[54..], &r[54..], "UDP checksum untouched");
    // Without segments left the field is the final destination again.
    let mut done = r.clone();
    done[57] = 0;
    let out = plain(&done, changes::IPV6_DST, |k| k.set(key::IPV6_DST, 0x42));
    assert_ne!(
        &out[54 + 24 + 6..54 + 24 + 8],
        &done[54 + 24 + 6..54 + 24 + 8]
    );
}
