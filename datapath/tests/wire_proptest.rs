//! Property tests: no parser, extractor, rewriter or offload routine
//! panics or reads out of bounds, whatever the bytes; and valid frames
//! with random corruption or truncation go through the whole path.

mod wire_util;

use datapath::extract::{extract_key, extract_key_with_tci};
use datapath::offload::{complete_checksum, segment_gso};
use datapath::packet::{Packet, VnetHdr};
use datapath::rewrite::apply_output;
use datapath::wire::checksum::IpPair;
use datapath::wire::*;
use ofproto::key::{FlowKey, KEY_WORDS};
use ofproto::pipeline::Output;
use proptest::prelude::*;
use wire_util::*;

/// Runs every view's getters and every Repr parser on `b`.
fn parse_everything(b: &[u8]) {
    let v4 = IpPair::V4 {
        src: [1, 2, 3, 4],
        dst: [5, 6, 7, 8],
    };
    let v6 = IpPair::V6 {
        src: [1; 16],
        dst: [2; 16],
    };
    if let Ok(f) = EthernetFrame::new_checked(b) {
        let _ = (f.dst(), f.src(), f.ethertype(), f.payload().len());
        let _ = EthernetRepr::parse(&f);
    }
    if let Ok(t) = VlanTag::new_checked(b) {
        let _ = (
            t.tci(),
            t.pcp(),
            t.dei(),
            t.vid(),
            t.ethertype(),
            t.payload().len(),
        );
        let _ = VlanRepr::parse(&t);
    }
    if let Ok(a) = ArpPacket::new_checked(b) {
        let _ = (a.operation(), a.is_ethernet_ipv4());
        let _ = (
            a.sender_hardware_addr(),
            a.sender_protocol_addr(),
            a.target_hardware_addr(),
            a.target_protocol_addr(),
        );
        let _ = ArpRepr::parse(&a);
    }
    if let Ok(p) = Ipv4Packet::new_checked(b) {
        let _ = (
            p.options().len(),
            p.payload().len(),
            p.verify_checksum(),
            p.frag_offset(),
            p.src(),
            p.dst(),
        );
        let _ = Ipv4Repr::parse(&p);
    }
    if let Ok(p) = Ipv6Packet::new_checked(b) {
        let _ = (p.traffic_class(), p.flow_label(), p.src(), p.dst());
        let _ = ipv6::walk_ext_headers(p.next_header(), p.payload());
        let _ = Ipv6Repr::parse(&p);
    }
    for nh in [0u8, 43, 44, 51, 60, 6] {
        let _ = ipv6::walk_ext_headers(nh, b);
    }
    if let Ok(p) = TcpPacket::new_checked(b) {
        let _ = (
            p.options().len(),
            p.payload().len(),
            p.flags(),
            p.verify_checksum(&v4),
        );
        let _ = TcpRepr::parse(&p, &v6);
    }
    if let Ok(p) = UdpPacket::new_checked(b) {
        let _ = (
            p.payload().len(),
            p.verify_checksum(&v4),
            p.verify_checksum(&v6),
        );
        let _ = UdpRepr::parse(&p, &v4);
    }
    if let Ok(p) = Icmpv4Packet::new_checked(b) {
        let _ = (p.data().len(), p.echo_ident(), p.verify_checksum());
        let _ = Icmpv4Repr::parse(&p);
    }
    if let Ok(p) = Icmpv6Packet::new_checked(b) {
        let _ = Icmpv6Repr::parse(&p, &v6);
        let _ = NdiscRepr::parse(&p);
        for o in icmp::NdOptions::new(p.data()) {
            let _ = o;
        }
    }
    if let Ok(p) = GrePacket::new_checked(b) {
        let _ = (
            p.checksum(),
            p.key(),
            p.seq(),
            p.payload().len(),
            p.verify_checksum(),
        );
        let _ = GreRepr::parse(&p);
    }
    if let Ok(h) = VxlanHeader::new_checked(b) {
        let _ = (h.vni(), h.reserved_zero(), h.payload().len());
        let _ = VxlanRepr::parse(&h);
    }
    let _ = locate(b);
    let mut k = FlowKey::ZERO;
    let _ = extract_key(b, 1, &mut k);
    let _ = extract_key_with_tci(b, 1, Some(0xffff), &mut k);
}

/// Frames worth corrupting: one of each kind the code handles.
fn seeds() -> Vec<Vec<u8>> {
    let mut ns = vec![135u8, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&V6_B);
    ns.extend_from_slice(&[1, 1, 1, 2, 3, 4, 5, 6, 2, 1, 6, 5, 4, 3, 2, 1]);
    let mut nsf = Vec::new();
    etherparse::PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(V6_A, V6_B, 255)
        .icmpv6_raw(135, 0, [0; 4])
        .write(&mut nsf, &ns[8..])
        .unwrap();
    let mut sctp = tcp4(&[0; 20]);
    sctp[23] = 132;
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&MAC_A);
    arp.extend_from_slice(&[8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0; 20]);
    let mut hop = udp6(b"hop");
    hop[20] = 0; // hop-by-hop in front of UDP, built by hand below
    hop.splice(54..54, [17u8, 0, 0, 0, 0, 0, 0, 0]);
    hop[19] += 8;
    vec![
        tcp4(b"abcdefgh"),
        tagged(&tcp6(b"xyz"), 0x2005),
        udp4(b"udp"),
        udp6(&[9; 40]),
        tagged(&tagged(&udp4(b"qinq"), 7), 8),
        nsf,
        sctp,
        arp,
        hop,
    ]
}

fn any_output() -> impl Strategy<Value = Output> {
    (
        proptest::collection::vec(any::<u64>(), KEY_WORDS),
        any::<u32>(),
    )
        .prop_map(|(w, changes)| {
            let mut key = FlowKey::ZERO;
            key.words.copy_from_slice(&w);
            Output {
                bridge: 0,
                port: 1,
                changes,
                key,
            }
        })
}

fn any_vnet() -> impl Strategy<Value = VnetHdr> {
    (
        any::<u8>(),
        prop_oneof![
            Just(0u8),
            Just(1),
            Just(3),
            Just(4),
            Just(5),
            Just(0x81),
            any::<u8>()
        ],
        64u16..,
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(
            |(flags, gso_type, gso_size, hdr_len, csum_start, csum_offset)| VnetHdr {
                flags,
                gso_type,
                hdr_len,
                gso_size,
                csum_start: csum_start % 200,
                csum_offset: csum_offset % 64,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..160)) {
        parse_everything(&b);
    }

    #[test]
    fn corrupted_frames_never_panic(
        seed in 0usize..9,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
        out in any_output(),
        vnet in any_vnet(),
    ) {
        let mut f = seeds().swap_remove(seed);
        for (at, v) in edits {
            let n = f.len();
            f[at % n] = v;
        }
        let f = &f[..cut % (f.len() + 1)];
        parse_everything(f);
        for off in [12usize, 14, 18, 34, 54] {
            if off <= f.len() {
                parse_everything(&f[off..]);
            }
        }
        let mut received = FlowKey::ZERO;
        let _ = extract_key(f, 1, &mut received);
        let mut p = Packet::from_frame(f);
        p.vnet = vnet;
        let _ = apply_output(&mut p, &received, &out);
        let mut segs = Vec::new();
        let _ = segment_gso(&p, &mut segs);
        complete_checksum(&mut p);
    }

    /// A rewrite that changes nothing leaves the frame as it was.
    #[test]
    fn identity_rewrite(seed in 0usize..9, changes in any::<u32>()) {
        let f = seeds().swap_remove(seed);
        let mut received = FlowKey::ZERO;
        extract_key(&f, 1, &mut received).unwrap();
        let out = Output { bridge: 0, port: 1, changes, key: received };
        let mut p = Packet::from_frame(&f);
        apply_output(&mut p, &received, &out).unwrap();
        prop_assert_eq!(p.data(), &f[..]);
    }
}
