//! Unprivileged tests of the tunnel codec: golden bytes for emitted VXLAN
//! and GRE headers, round trips, one test per malformed variant, the UDP
//! source-port hash, and a proptest that decapsulation never panics.

use std::net::Ipv4Addr;

use datapath::packet::Packet;
use datapath::tunnel::{
    decap, decap_checked, decap_vxlan_header, encap_gre_payload, encap_vxlan_payload,
    udp_source_port, TunnelError, TunnelKind, UDP_SRC_MAX, UDP_SRC_MIN, VXLAN_OVERHEAD,
};
use proptest::prelude::*;

const A: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

/// A 14-byte Ethernet header (broadcast, ARP) as a stand-in inner frame.
const ETH: [u8; 14] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06,
];

/// Independent RFC 768 checksum: 16-bit words summed one by one.
fn naive_udp_csum(src: Ipv4Addr, dst: Ipv4Addr, dgram: &[u8]) -> u16 {
    let mut v = Vec::new();
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(&[0, 17]);
    v.extend_from_slice(&(dgram.len() as u16).to_be_bytes());
    v.extend_from_slice(dgram);
    if v.len() % 2 == 1 {
        v.push(0);
    }
    let mut s: u32 = v
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .sum();
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    let c = !(s as u16);
    if c == 0 {
        0xffff
    } else {
        c
    }
}

#[test]
fn vxlan_golden_no_checksum() {
    let mut p = Packet::from_frame(&ETH);
    encap_vxlan_payload(&mut p, 0x123456, 49152, 4789, None).unwrap();
    let want: [u8; 16] = [
        0xc0, 0x00, 0x12, 0xb5, // ports 49152 -> 4789
        0x00, 0x1e, 0x00, 0x00, // length 30, no checksum
        0x08, 0x00, 0x00, 0x00, // flags: I
        0x12, 0x34, 0x56, 0x00, // VNI, reserved
    ];
    assert_eq!(&p.data()[..16], &want);
    assert_eq!(&p.data()[16..], &ETH);
    assert_eq!(p.len(), VXLAN_OVERHEAD + ETH.len());
}

#[test]
fn vxlan_golden_with_checksum() {
    let mut p = Packet::from_frame(&ETH);
    encap_vxlan_payload(&mut p, 42, 50000, 4789, Some((A, B))).unwrap();
    let d = p.data().to_vec();
    assert_eq!(
        &d[..6],
        &[0xc3, 0x50, 0x12, 0xb5, 0x00, 0x1e],
        "ports and length"
    );
    assert_eq!(&d[8..16], &[0x08, 0, 0, 0, 0, 0, 42, 0]);
    let mut zeroed = d.clone();
    zeroed[6] = 0;
    zeroed[7] = 0;
    let want = naive_udp_csum(A, B, &zeroed);
    assert_eq!(u16::from_be_bytes([d[6], d[7]]), want);
    // Verified on the way back, and a corrupted byte is caught.
    assert_eq!(
        decap_checked(TunnelKind::Vxlan, &d, Some((A, B))),
        Ok((42, 16..30))
    );
    let mut bad = d.clone();
    bad[20] ^= 1;
    assert_eq!(
        decap_checked(TunnelKind::Vxlan, &bad, Some((A, B))),
        Err(TunnelError::BadUdpChecksum)
    );
    // Without addresses the checksum is not looked at.
    assert_eq!(decap(TunnelKind::Vxlan, &bad), Ok((42, 16..30)));
}

#[test]
fn gre_golden_key_only() {
    let mut p = Packet::from_frame(&ETH);
    encap_gre_payload(&mut p, Some(42), false).unwrap();
    assert_eq!(&p.data()[..8], &[0x20, 0x00, 0x65, 0x58, 0, 0, 0, 0x2a]);
    assert_eq!(&p.data()[8..], &ETH);
    let mut p = Packet::from_frame(&ETH);
    encap_gre_payload(&mut p, None, false).unwrap();
    assert_eq!(&p.data()[..4], &[0x00, 0x00, 0x65, 0x58]);
    assert_eq!(decap(TunnelKind::Gre, p.data()), Ok((0, 4..18)));
}

#[test]
fn gre_golden_checksum_and_key() {
    let mut p = Packet::from_frame(&[0xde, 0xad, 0xbe, 0xef]);
    encap_gre_payload(&mut p, Some(42), true).unwrap();
    // 0xa000+0x6558+0x002a+0xdead+0xbeef = 0x2a31e -> 0xa320 -> !0xa320.
    let want: [u8; 16] = [
        0xa0, 0x00, 0x65, 0x58, 0x5c, 0xdf, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0xde, 0xad, 0xbe,
        0xef,
    ];
    assert_eq!(p.data(), &want);
    assert_eq!(decap(TunnelKind::Gre, &want), Ok((42, 12..16)));
    let mut bad = want;
    bad[13] ^= 0x40;
    assert_eq!(
        decap(TunnelKind::Gre, &bad),
        Err(TunnelError::BadGreChecksum)
    );
}

#[test]
fn round_trips() {
    let inner: Vec<u8> = (0..200u8).collect();
    for vni in [0u32, 1, 4789, 0xff_ffff] {
        for csum in [None, Some((A, B))] {
            let mut p = Packet::from_frame(&inner);
            encap_vxlan_payload(&mut p, vni, udp_source_port(&inner), 4789, csum).unwrap();
            let (id, r) = decap_checked(TunnelKind::Vxlan, p.data(), csum).unwrap();
            assert_eq!(id, vni as u64);
            assert_eq!(&p.data()[r], &inner[..]);
        }
    }
    for key in [None, Some(0), Some(1), Some(u32::MAX)] {
        for csum in [false, true] {
            let mut p = Packet::from_frame(&inner);
            encap_gre_payload(&mut p, key, csum).unwrap();
            let (id, r) = decap(TunnelKind::Gre, p.data()).unwrap();
            assert_eq!(id, key.unwrap_or(0) as u64);
            assert_eq!(&p.data()[r], &inner[..]);
        }
    }
}

#[test]
fn encap_errors() {
    let mut p = Packet::from_frame(&ETH);
    assert_eq!(
        encap_vxlan_payload(&mut p, 1 << 24, 1, 4789, None),
        Err(TunnelError::VniTooWide)
    );
    assert_eq!(p.data(), &ETH, "a failed encap leaves the frame alone");
    let big = vec![0u8; 65530];
    let mut p = Packet::from_frame(&big);
    assert_eq!(
        encap_vxlan_payload(&mut p, 1, 1, 4789, None),
        Err(TunnelError::TooLong)
    );
    // Use up the headroom, then there is no room left for headers.
    let mut p = Packet::from_frame(&ETH);
    while p.push_front(16).is_some() {}
    assert_eq!(
        encap_vxlan_payload(&mut p, 1, 1, 4789, None),
        Err(TunnelError::NoHeadroom)
    );
    assert_eq!(
        encap_gre_payload(&mut p, Some(1), true),
        Err(TunnelError::NoHeadroom)
    );
}

fn vxlan_dgram(vxlan: [u8; 8]) -> Vec<u8> {
    let mut d = vec![0xc0, 0x00, 0x12, 0xb5, 0x00, 30, 0, 0];
    d.extend_from_slice(&vxlan);
    d.extend_from_slice(&ETH);
    d
}

#[test]
fn vxlan_malformed_variants() {
    let good = [0x08, 0, 0, 0, 0, 0, 42, 0];
    assert_eq!(
        decap(TunnelKind::Vxlan, &vxlan_dgram(good)),
        Ok((42, 16..30))
    );
    let d = vxlan_dgram(good);
    assert_eq!(
        decap(TunnelKind::Vxlan, &d[..5]),
        Err(TunnelError::Truncated)
    );
    assert_eq!(
        decap(TunnelKind::Vxlan, &d[..12]),
        Err(TunnelError::Truncated)
    );
    // UDP length 7 < header.
    let mut l = d.clone();
    l[5] = 7;
    assert_eq!(decap(TunnelKind::Vxlan, &l), Err(TunnelError::BadUdpLength));
    // UDP length covering only part of the VXLAN header.
    let mut l = d.clone();
    l[5] = 12;
    assert_eq!(decap(TunnelKind::Vxlan, &l), Err(TunnelError::Truncated));
    for flags in [0x00, 0x0c, 0x88, 0x09, 0x18] {
        let mut v = good;
        v[0] = flags;
        assert_eq!(
            decap(TunnelKind::Vxlan, &vxlan_dgram(v)),
            Err(TunnelError::BadVxlanFlags(flags))
        );
    }
    for at in [1, 2, 3, 7] {
        let mut v = good;
        v[at] = 0x01;
        assert_eq!(
            decap(TunnelKind::Vxlan, &vxlan_dgram(v)),
            Err(TunnelError::VxlanReservedBits),
            "reserved byte {at}"
        );
    }
    // The header-only variant (what a UDP socket delivers).
    assert_eq!(decap_vxlan_header(&good), Ok((42, 8..8)));
    assert_eq!(decap_vxlan_header(&good[..7]), Err(TunnelError::Truncated));
}

#[test]
fn gre_malformed_variants() {
    let ok = [0x20u8, 0, 0x65, 0x58, 0, 0, 0, 1];
    assert_eq!(decap(TunnelKind::Gre, &ok), Ok((1, 8..8)));
    assert_eq!(
        decap(TunnelKind::Gre, &ok[..3]),
        Err(TunnelError::Truncated)
    );
    assert_eq!(
        decap(TunnelKind::Gre, &ok[..6]),
        Err(TunnelError::Truncated)
    );
    let mut v = ok;
    v[1] = 1;
    assert_eq!(
        decap(TunnelKind::Gre, &v),
        Err(TunnelError::BadGreVersion(1))
    );
    let mut r = ok;
    r[0] |= 0x40;
    assert_eq!(decap(TunnelKind::Gre, &r), Err(TunnelError::GreRouting));
    let mut s = ok;
    s[0] |= 0x08;
    assert_eq!(
        decap(TunnelKind::Gre, &s),
        Err(TunnelError::GreReservedBits)
    );
    let ip = [0x20u8, 0, 0x08, 0x00, 0, 0, 0, 1];
    assert_eq!(
        decap(TunnelKind::Gre, &ip),
        Err(TunnelError::UnknownGreProtocol(0x0800))
    );
    // Sequence numbers are accepted (and skipped).
    let seq = [0x30u8, 0, 0x65, 0x58, 0, 0, 0, 9, 0, 0, 0, 5, 0xaa];
    assert_eq!(decap(TunnelKind::Gre, &seq), Ok((9, 12..13)));
}

#[test]
fn source_port_hash() {
    let mk = |sport: u16, payload: u8| {
        let mut f = vec![
            0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
            0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
        ];
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&[0, 53, 0, 12, 0, 0, payload, payload, payload, payload]);
        f
    };
    let p1 = udp_source_port(&mk(1000, 1));
    assert_eq!(p1, udp_source_port(&mk(1000, 2)), "same flow, same port");
    let ports: std::collections::HashSet<u16> =
        (1000..1064).map(|s| udp_source_port(&mk(s, 0))).collect();
    assert!(ports.len() > 48, "flows spread: {}", ports.len());
    for p in ports {
        assert!((UDP_SRC_MIN..=UDP_SRC_MAX).contains(&p));
    }
    // Non-IP and junk frames still give a port in range.
    for f in [&ETH[..], &[][..], &[1, 2, 3][..]] {
        assert!((UDP_SRC_MIN..=UDP_SRC_MAX).contains(&udp_source_port(f)));
    }
}

proptest! {
    #[test]
    fn decap_never_panics(b in proptest::collection::vec(any::<u8>(), 0..96), addrs in any::<bool>()) {
        let a = addrs.then_some((A, B));
        for kind in [TunnelKind::Vxlan, TunnelKind::Gre] {
            if let Ok((_, r)) = decap_checked(kind, &b, a) {
                prop_assert!(r.start <= r.end && r.end <= b.len());
            }
        }
        let _ = decap_vxlan_header(&b);
        let _ = udp_source_port(&b);
    }

    #[test]
    fn encap_decap_roundtrip(
        inner in proptest::collection::vec(any::<u8>(), 0..300),
        vni in 0u32..(1 << 24),
        key in proptest::option::of(any::<u32>()),
        csum in any::<bool>(),
    ) {
        let mut p = Packet::from_frame(&inner);
        encap_vxlan_payload(&mut p, vni, udp_source_port(&inner), 4789, csum.then_some((A, B))).unwrap();
        let (id, r) = decap_checked(TunnelKind::Vxlan, p.data(), Some((A, B))).unwrap();
        prop_assert_eq!(id, vni as u64);
        prop_assert_eq!(&p.data()[r], &inner[..]);
        let mut p = Packet::from_frame(&inner);
        encap_gre_payload(&mut p, key, csum).unwrap();
        let (id, r) = decap(TunnelKind::Gre, p.data()).unwrap();
        prop_assert_eq!(id, key.unwrap_or(0) as u64);
        prop_assert_eq!(&p.data()[r], &inner[..]);
    }
}
