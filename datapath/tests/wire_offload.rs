//! Software GSO and checksum completion, checked with etherparse.

mod wire_util;

use datapath::extract::extract_key;
use datapath::offload::{complete_checksum, segment_gso, OffloadError, GSO_UDP_L4};
use datapath::packet::{Packet, VnetHdr};
use datapath::rewrite::apply_output;
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};
use ofproto::key::{self, FlowKey, VLAN_CFI};
use ofproto::pipeline::{changes, Output};
use wire_util::*;

fn tcp_of(frame: &[u8]) -> etherparse::TcpHeader {
    match SlicedPacket::from_ethernet(frame).unwrap().transport {
        Some(TransportSlice::Tcp(t)) => t.to_header(),
        t => panic!("not TCP: {t:?}"),
    }
}

fn payload_of(frame: &[u8]) -> Vec<u8> {
    match SlicedPacket::from_ethernet(frame).unwrap().transport {
        Some(TransportSlice::Tcp(t)) => t.payload().to_vec(),
        Some(TransportSlice::Udp(u)) => u.payload().to_vec(),
        t => panic!("no payload: {t:?}"),
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A TCP super-frame as a guest would hand it over: partial checksum,
/// NEEDS_CSUM, GSO type and size.
fn super_frame(v6: bool, payload: &[u8], mss: u16, tag: Option<u16>, fin_psh_cwr: bool) -> Packet {
    let mut v = Vec::new();
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B);
    let b = if v6 {
        b.ipv6(V6_A, V6_B, 64)
    } else {
        b.ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
    };
    // Linux's usual segment header: 20 bytes plus NOP, NOP, timestamps.
    let mut t = b
        .tcp(40000, 80, 0xffff_f000, 64240)
        .ack(1)
        .options(&[
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(7, 9),
        ])
        .unwrap();
    if fin_psh_cwr {
        t = t.fin().psh().cwr();
    }
    t.write(&mut v, payload).unwrap();
    let (l3, l4) = (14, if v6 { 54 } else { 34 });
    if !v6 {
        v[18..20].copy_from_slice(&0xfff0u16.to_be_bytes()); // IP id, to see it wrap
        v[24..26].fill(0);
        let c = !naive_sum(&[&v[14..34]]);
        v[24..26].copy_from_slice(&c.to_be_bytes());
    }
    make_partial(&mut v, l3, l4, 16, 6);
    let mut vnet = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        gso_type: if v6 {
            VnetHdr::GSO_TCPV6
        } else {
            VnetHdr::GSO_TCPV4
        },
        hdr_len: (l4 + 32) as u16,
        gso_size: mss,
        csum_start: l4 as u16,
        csum_offset: 16,
    };
    if let Some(t) = tag {
        v = tagged(&v, t);
        vnet.csum_start += 4;
        vnet.hdr_len += 4;
    }
    let mut p = Packet::from_frame(&v);
    p.vnet = vnet;
    p
}

fn check_tcp_segments(segs: &[Packet], payload: &[u8], mss: usize, v6: bool, flags: bool) {
    let n = payload.len().div_ceil(mss);
    assert_eq!(segs.len(), n);
    let mut joined = Vec::new();
    let mut expect_seq = 0xffff_f000u32;
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.vnet, VnetHdr::default());
        let what = assert_checksums(s.data());
        assert_eq!(what, if v6 { "ipv6/tcp" } else { "ipv4/tcp" });
        let t = tcp_of(s.data());
        assert_eq!(t.sequence_number, expect_seq, "segment {i}");
        let p = payload_of(s.data());
        assert!(p.len() <= mss && !p.is_empty());
        expect_seq = expect_seq.wrapping_add(p.len() as u32);
        joined.extend_from_slice(&p);
        let last = i + 1 == n;
        assert_eq!(t.fin, flags && last, "FIN on segment {i}");
        assert_eq!(t.psh, flags && last, "PSH on segment {i}");
        assert_eq!(t.cwr, flags && i == 0, "CWR on segment {i}");
        assert!(t.ack);
        match SlicedPacket::from_ethernet(s.data()).unwrap().net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                assert_eq!(h.identification(), 0xfff0u16.wrapping_add(i as u16));
                assert_eq!(h.total_len() as usize, 20 + 32 + p.len());
            }
            Some(NetSlice::Ipv6(ip)) => {
                assert_eq!(ip.header().payload_length() as usize, 32 + p.len())
            }
            n => panic!("{n:?}"),
        }
    }
    assert_eq!(joined, payload);
}

#[test]
fn tcpv4_64k_super_frame() {
    let payload = pattern(65535 - 20 - 32);
    let p = super_frame(false, &payload, 1448, None, true);
    let mut out = Vec::new();
    let n = segment_gso(&p, &mut out).unwrap();
    check_tcp_segments(&out[..n], &payload, 1448, false, true);
}

#[test]
fn tcpv6_super_frame() {
    let payload = pattern(60000);
    let p = super_frame(true, &payload, 1428, None, true);
    let mut out = Vec::new();
    let n = segment_gso(&p, &mut out).unwrap();
    check_tcp_segments(&out[..n], &payload, 1428, true, true);
}

#[test]
fn vlan_tagged_super_frame() {
    let payload = pattern(10000);
    for v6 in [false, true] {
        let p = super_frame(v6, &payload, 1000, Some(0x2064), false);
        let mut out = Vec::new();
        let n = segment_gso(&p, &mut out).unwrap();
        assert_eq!(n, 10);
        for s in &out[..n] {
            assert_eq!(&s.data()[12..16], &[0x81, 0x00, 0x20, 0x64]);
        }
        check_tcp_segments(&out[..n], &payload, 1000, v6, false);
    }
}

#[test]
fn buffers_are_reused() {
    let payload = pattern(5000);
    let p = super_frame(false, &payload, 1448, None, false);
    let mut out: Vec<Packet> = (0..8).map(|_| Packet::new()).collect();
    let ptrs: Vec<*const u8> = out.iter().map(|p| p.data().as_ptr()).collect();
    let n = segment_gso(&p, &mut out).unwrap();
    assert_eq!((n, out.len()), (4, 8));
    for (i, s) in out[..n].iter().enumerate() {
        assert_eq!(s.data().as_ptr(), ptrs[i], "packet {i} reused in place");
    }
    // A second, smaller run into the same vector.
    let p2 = super_frame(true, &payload[..2000], 1448, None, false);
    assert_eq!(segment_gso(&p2, &mut out), Ok(2));
    assert_eq!(out.len(), 8);
    check_tcp_segments(&out[..2], &payload[..2000], 1448, true, false);
}

#[test]
fn exact_multiple_and_tiny_payloads() {
    for len in [1usize, 1448, 2896, 2897] {
        let payload = pattern(len);
        let p = super_frame(false, &payload, 1448, None, true);
        let mut out = Vec::new();
        let n = segment_gso(&p, &mut out).unwrap();
        check_tcp_segments(&out[..n], &payload, 1448, false, true);
    }
}

#[test]
fn complete_checksum_tcp_udp() {
    let mut f = tcp4(&pattern(777));
    make_partial(&mut f, 14, 34, 16, 6);
    let mut p = Packet::from_frame(&f);
    p.vnet = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..Default::default()
    };
    complete_checksum(&mut p);
    assert_eq!(p.data(), &tcp4(&pattern(777))[..]);
    assert_eq!(p.vnet.flags, 0);
    // With link padding after the IP packet (which must not be summed).
    let mut f = udp6(&pattern(3));
    make_partial(&mut f, 14, 54, 6, 17);
    f.extend_from_slice(&[0xaa; 9]);
    let mut p = Packet::from_frame(&f);
    p.vnet = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        csum_start: 54,
        csum_offset: 6,
        ..Default::default()
    };
    complete_checksum(&mut p);
    assert_eq!(assert_checksums(p.data()), "ipv6/udp");
    // Offsets outside the frame: flag cleared, bytes untouched.
    let mut p = Packet::from_frame(&f);
    p.vnet = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        csum_start: 60000,
        csum_offset: 6,
        ..Default::default()
    };
    complete_checksum(&mut p);
    assert_eq!((p.data(), p.vnet.flags), (&f[..], 0));
}

#[test]
fn udp_l4_segmentation() {
    for v6 in [false, true] {
        let payload = pattern(4000);
        let mut f = if v6 { udp6(&payload) } else { udp4(&payload) };
        let l4 = if v6 { 54 } else { 34 };
        make_partial(&mut f, 14, l4, 6, 17);
        let mut p = Packet::from_frame(&f);
        p.vnet = VnetHdr {
            flags: VnetHdr::F_NEEDS_CSUM,
            gso_type: GSO_UDP_L4,
            gso_size: 1200,
            csum_start: l4 as u16,
            csum_offset: 6,
            hdr_len: 0,
        };
        let mut out = Vec::new();
        let n = segment_gso(&p, &mut out).unwrap();
        assert_eq!(n, 4);
        let mut joined = Vec::new();
        for s in &out[..n] {
            assert!(assert_checksums(s.data()).ends_with("/udp"));
            let pl = payload_of(s.data());
            assert!(pl.len() <= 1200);
            joined.extend_from_slice(&pl);
        }
        assert_eq!(joined, payload);
    }
}

/// Reassembles IPv4 fragments (offset, MF, data) into the IP payload.
fn reassemble4(frags: &[Packet]) -> (Vec<u8>, u16) {
    let mut data = Vec::new();
    let mut id = None;
    for (i, f) in frags.iter().enumerate() {
        let Some(NetSlice::Ipv4(ip)) = SlicedPacket::from_ethernet(f.data()).unwrap().net else {
            panic!()
        };
        let h = ip.header();
        assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
        assert_eq!(*id.get_or_insert(h.identification()), h.identification());
        assert_eq!(h.fragments_offset().value() as usize * 8, data.len());
        assert_eq!(h.more_fragments(), i + 1 < frags.len());
        assert!(!h.dont_fragment());
        data.extend_from_slice(ip.payload().payload);
    }
    (data, id.unwrap())
}

#[test]
fn ufo_ipv4_fragments() {
    let payload = pattern(3000);
    let f = udp4(&payload);
    let mut p = Packet::from_frame(&f);
    // A stale checksum: UFO computes it over the whole datagram.
    p.data_mut()[40..42].copy_from_slice(&[0x12, 0x34]);
    p.vnet = VnetHdr {
        gso_type: VnetHdr::GSO_UDP,
        gso_size: 1480,
        ..Default::default()
    };
    let mut out = Vec::new();
    let n = segment_gso(&p, &mut out).unwrap();
    assert_eq!(n, 3);
    let (dgram, _) = reassemble4(&out[..n]);
    assert_eq!(dgram, f[34..]);
    assert!(out[..n].iter().all(|s| s.len() <= 14 + 1500));
}

#[test]
fn ufo_ipv6_fragments() {
    let payload = pattern(3000);
    let f = udp6(&payload);
    let mut p = Packet::from_frame(&f);
    p.vnet = VnetHdr {
        gso_type: VnetHdr::GSO_UDP,
        gso_size: 1448,
        ..Default::default()
    };
    let mut out = Vec::new();
    let n = segment_gso(&p, &mut out).unwrap();
    assert_eq!(n, 3);
    let mut data = Vec::new();
    let mut ident = None;
    for (i, s) in out[..n].iter().enumerate() {
        let d = s.data();
        assert_eq!(d[20], 44, "next header is fragment");
        let plen = u16::from_be_bytes([d[18], d[19]]) as usize;
        assert_eq!(plen + 54, d.len());
        let fh = &d[54..62];
        assert_eq!(fh[0], 17);
        let offlg = u16::from_be_bytes([fh[2], fh[3]]);
        assert_eq!((offlg & 0xfff8) as usize, data.len());
        assert_eq!(offlg & 1 == 1, i + 1 < n);
        let id = u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]);
        assert_eq!(*ident.get_or_insert(id), id);
        data.extend_from_slice(&d[62..]);
    }
    assert_eq!(
        data,
        f[54..],
        "reassembled datagram equals the original (checksum included)"
    );
    // Another datagram gets another identification.
    segment_gso(&p, &mut out).unwrap();
    let id2 = u32::from_be_bytes([
        out[0].data()[58],
        out[0].data()[59],
        out[0].data()[60],
        out[0].data()[61],
    ]);
    assert_ne!(Some(id2), ident);
}

#[test]
fn mismatched_gso_types_are_errors() {
    let p = super_frame(false, &pattern(3000), 1448, None, false);
    let mut q = Packet::from_frame(p.data());
    q.vnet = p.vnet;
    q.vnet.gso_type = VnetHdr::GSO_TCPV6;
    let mut out = Vec::new();
    assert_eq!(segment_gso(&q, &mut out), Err(OffloadError::Malformed));
    q.vnet.gso_type = GSO_UDP_L4;
    assert_eq!(segment_gso(&q, &mut out), Err(OffloadError::Malformed));
    q.vnet.gso_type = VnetHdr::GSO_UDP;
    q.vnet.gso_size = 7;
    assert_eq!(segment_gso(&q, &mut out), Err(OffloadError::Malformed));
    let mut u = Packet::from_frame(&udp4(&pattern(100)));
    u.vnet = VnetHdr {
        gso_type: VnetHdr::GSO_UDP,
        gso_size: 7,
        ..Default::default()
    };
    assert_eq!(segment_gso(&u, &mut out), Err(OffloadError::BadGsoSize));
    // ECN flag is accepted with TCP.
    let mut e = Packet::from_frame(p.data());
    e.vnet = p.vnet;
    e.vnet.gso_type |= VnetHdr::GSO_ECN;
    assert_eq!(segment_gso(&e, &mut out), Ok(3));
}

/// The engine's order: rewrite the super-frame, then segment it.
#[test]
fn rewrite_then_segment() {
    let payload = pattern(20000);
    for v6 in [false, true] {
        let mut p = super_frame(v6, &payload, 1448, None, true);
        let mut rk = FlowKey::ZERO;
        extract_key(p.data(), 1, &mut rk).unwrap();
        let mut k = rk;
        k.set_vlan_tci(VLAN_CFI | 0x0123);
        k.set(key::TP_DST, 8443);
        let mut ch = changes::VLAN | changes::TP_DST;
        if v6 {
            k.set(key::IPV6_SRC, 0xfd00_0000_0000_0000_0000_0000_0000_0001);
            ch |= changes::IPV6_SRC;
        } else {
            k.set(key::IPV4_SRC, 0xc633_6401);
            ch |= changes::IPV4_SRC;
        }
        apply_output(
            &mut p,
            &rk,
            &Output {
                bridge: 0,
                port: 2,
                changes: ch,
                key: k,
            },
        )
        .unwrap();
        assert_eq!(p.vnet.csum_start, if v6 { 58 } else { 38 });
        let mut out = Vec::new();
        let n = segment_gso(&p, &mut out).unwrap();
        check_tcp_segments(&out[..n], &payload, 1448, v6, true);
        for s in &out[..n] {
            let mut sk = FlowKey::ZERO;
            extract_key(s.data(), 1, &mut sk).unwrap();
            assert_eq!(sk.vlan_tci(), VLAN_CFI | 0x0123);
            assert_eq!(sk.get(key::TP_DST), 8443);
            assert_eq!(sk.get(key::IPV4_SRC), k.get(key::IPV4_SRC));
            assert_eq!(sk.get(key::IPV6_SRC), k.get(key::IPV6_SRC));
        }
    }
}

/// A frame whose TCP checksum field holds only the pseudo-header sum (as a
/// Linux tunnel peer with offloads on may send it) is completed; a correct
/// one and a corrupt one are left alone.
#[test]
fn partial_inner_checksums_are_finished_after_decapsulation() {
    use datapath::offload::finish_partial_checksum;
    use datapath::packet::Packet;
    let good = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .tcp(1000, 80, 7, 1000);
    let payload = [0x5au8; 100];
    let mut frame = Vec::new();
    good.write(&mut frame, &payload).unwrap();
    // Correct: untouched.
    let mut p = Packet::from_frame(&frame);
    assert!(!finish_partial_checksum(&mut p));
    assert_eq!(p.data(), &frame[..]);
    // Partial: the field holds the folded pseudo-header sum.
    let l4 = 14 + 20;
    let len = (frame.len() - l4) as u32;
    let pseudo = datapath::wire::checksum::IpPair::V4 {
        src: [198, 18, 0, 1],
        dst: [198, 18, 0, 2],
    }
    .pseudo_sum(6, len);
    let mut partial = frame.clone();
    partial[l4 + 16..l4 + 18]
        .copy_from_slice(&datapath::wire::checksum::fold(pseudo).to_be_bytes());
    let mut p = Packet::from_frame(&partial);
    assert!(finish_partial_checksum(&mut p));
    assert_eq!(p.data(), &frame[..], "completed to the correct checksum");
    // Corrupt: left as is.
    let mut bad = frame.clone();
    bad[l4 + 16] ^= 0x55;
    let mut p = Packet::from_frame(&bad);
    assert!(!finish_partial_checksum(&mut p));
    assert_eq!(p.data(), &bad[..]);
}
