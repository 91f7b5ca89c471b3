//! Cross-checks against etherparse on generated packets: what etherparse
//! builds, rswitch's wire views, Reprs, `locate` and `extract_key` read
//! back the same; what rswitch's Reprs emit, etherparse reads back the same
//! and finds every checksum valid.

mod wire_util;

use std::net::{Ipv4Addr, Ipv6Addr};

use datapath::extract::extract_key;
use datapath::wire::checksum::IpPair;
use datapath::wire::*;
use etherparse::{
    IpDscp, IpEcn, IpHeaders, Ipv4Header, Ipv6FlowLabel, Ipv6Header, NetSlice, PacketBuilder,
    SingleVlanHeader, SlicedPacket, TcpHeader, TransportSlice, VlanHeader, VlanId, VlanPcp,
};
use ofproto::key::{self, FlowKey, VLAN_CFI};
use proptest::prelude::*;
use wire_util::*;

#[derive(Clone, Debug)]
enum Net {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        tos: u8,
        id: u16,
        df: bool,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        hop: u8,
        tclass: u8,
        label: u32,
    },
}

#[derive(Clone, Debug)]
enum Trans {
    Tcp {
        sp: u16,
        dp: u16,
        seq: u32,
        ack: u32,
        flags: u16,
        win: u16,
    },
    Udp {
        sp: u16,
        dp: u16,
    },
    Echo {
        id: u16,
        seq: u16,
    },
}

#[derive(Clone, Debug)]
struct Spec {
    src: [u8; 6],
    dst: [u8; 6],
    vlan: Option<(u8, bool, u16)>,
    net: Net,
    trans: Trans,
    payload: Vec<u8>,
}

fn net() -> impl Strategy<Value = Net> {
    prop_oneof![
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<bool>()
        )
            .prop_map(|(src, dst, ttl, tos, id, df)| Net::V4 {
                src,
                dst,
                ttl,
                tos,
                id,
                df
            }),
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u8>(),
            any::<u8>(),
            0u32..=0xfffff
        )
            .prop_map(|(src, dst, hop, tclass, label)| Net::V6 {
                src,
                dst,
                hop,
                tclass,
                label
            }),
    ]
}

fn trans() -> impl Strategy<Value = Trans> {
    prop_oneof![
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            0u16..0x200,
            any::<u16>()
        )
            .prop_map(|(sp, dp, seq, ack, flags, win)| Trans::Tcp {
                sp,
                dp,
                seq,
                ack,
                flags,
                win
            }),
        (any::<u16>(), any::<u16>()).prop_map(|(sp, dp)| Trans::Udp { sp, dp }),
        (any::<u16>(), any::<u16>()).prop_map(|(id, seq)| Trans::Echo { id, seq }),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        proptest::option::of((0u8..8, any::<bool>(), 0u16..4096)),
        net(),
        trans(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(src, dst, vlan, net, trans, payload)| Spec {
            src,
            dst,
            vlan,
            net,
            trans,
            payload,
        })
}

fn build(s: &Spec) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(s.src, s.dst);
    let ip = match &s.net {
        Net::V4 {
            src,
            dst,
            ttl,
            tos,
            id,
            df,
        } => {
            let mut h = Ipv4Header::new(0, *ttl, 0.into(), *src, *dst).unwrap();
            h.dscp = IpDscp::try_new(tos >> 2).unwrap();
            h.ecn = IpEcn::try_new(tos & 3).unwrap();
            h.identification = *id;
            h.dont_fragment = *df;
            IpHeaders::Ipv4(h, Default::default())
        }
        Net::V6 {
            src,
            dst,
            hop,
            tclass,
            label,
        } => IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: *tclass,
                flow_label: Ipv6FlowLabel::try_new(*label).unwrap(),
                payload_length: 0,
                next_header: 0.into(),
                hop_limit: *hop,
                source: *src,
                destination: *dst,
            },
            Default::default(),
        ),
    };
    let b = match s.vlan {
        Some((pcp, dei, vid)) => b
            .vlan(VlanHeader::Single(SingleVlanHeader {
                pcp: VlanPcp::try_new(pcp).unwrap(),
                drop_eligible_indicator: dei,
                vlan_id: VlanId::try_new(vid).unwrap(),
                ether_type: 0.into(),
            }))
            .ip(ip),
        None => b.ip(ip),
    };
    let mut v = Vec::new();
    match (&s.trans, &s.net) {
        (
            Trans::Tcp {
                sp,
                dp,
                seq,
                ack,
                flags,
                win,
            },
            _,
        ) => {
            let mut h = TcpHeader::new(*sp, *dp, *seq, *win);
            h.acknowledgment_number = *ack;
            h.fin = flags & 1 != 0;
            h.syn = flags & 2 != 0;
            h.rst = flags & 4 != 0;
            h.psh = flags & 8 != 0;
            h.ack = flags & 0x10 != 0;
            h.urg = flags & 0x20 != 0;
            h.ece = flags & 0x40 != 0;
            h.cwr = flags & 0x80 != 0;
            h.ns = flags & 0x100 != 0;
            b.tcp_header(h).write(&mut v, &s.payload).unwrap();
        }
        (Trans::Udp { sp, dp }, _) => b.udp(*sp, *dp).write(&mut v, &s.payload).unwrap(),
        (Trans::Echo { id, seq }, Net::V4 { .. }) => b
            .icmpv4_echo_request(*id, *seq)
            .write(&mut v, &s.payload)
            .unwrap(),
        (Trans::Echo { id, seq }, Net::V6 { .. }) => b
            .icmpv6_echo_request(*id, *seq)
            .write(&mut v, &s.payload)
            .unwrap(),
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    /// etherparse builds, rswitch parses.
    #[test]
    fn rswitch_reads_what_etherparse_writes(s in spec()) {
        let f = build(&s);
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        prop_assert_eq!((eth.src(), eth.dst()), (s.src, s.dst));
        let mut l3 = eth.payload();
        if let Some((pcp, dei, vid)) = s.vlan {
            prop_assert!(vlan::is_tpid(eth.ethertype()));
            let t = VlanTag::new_checked(l3).unwrap();
            prop_assert_eq!((t.pcp(), t.dei(), t.vid()), (pcp, dei, vid));
            l3 = &l3[4..];
        }
        let (l4, pair): (&[u8], IpPair) = match &s.net {
            Net::V4 { src, dst, ttl, tos, id, df } => {
                let p = Ipv4Packet::new_checked(l3).unwrap();
                let r = Ipv4Repr::parse(&p).unwrap();
                prop_assert_eq!(r.src, Ipv4Addr::from(*src));
                prop_assert_eq!(r.dst, Ipv4Addr::from(*dst));
                prop_assert_eq!((r.ttl, r.tos, r.ident, r.dont_frag, r.more_frags), (*ttl, *tos, *id, *df, false));
                (p.into_payload(), IpPair::V4 { src: *src, dst: *dst })
            }
            Net::V6 { src, dst, hop, tclass, label } => {
                let p = Ipv6Packet::new_checked(l3).unwrap();
                let r = Ipv6Repr::parse(&p).unwrap();
                prop_assert_eq!(r.src, Ipv6Addr::from(*src));
                prop_assert_eq!(r.dst, Ipv6Addr::from(*dst));
                prop_assert_eq!((r.hop_limit, r.traffic_class, r.flow_label), (*hop, *tclass, *label));
                (p.into_payload(), IpPair::V6 { src: *src, dst: *dst })
            }
        };
        match &s.trans {
            Trans::Tcp { sp, dp, seq, ack, flags, win } => {
                let p = TcpPacket::new_checked(l4).unwrap();
                let r = TcpRepr::parse(&p, &pair).unwrap();
                prop_assert_eq!((r.src_port, r.dst_port, r.seq, r.ack, r.flags, r.window), (*sp, *dp, *seq, *ack, *flags, *win));
                prop_assert_eq!(p.payload(), &s.payload[..]);
            }
            Trans::Udp { sp, dp } => {
                let p = UdpPacket::new_checked(l4).unwrap();
                let r = UdpRepr::parse(&p, &pair).unwrap();
                prop_assert_eq!((r.src_port, r.dst_port, r.payload_len), (*sp, *dp, s.payload.len()));
            }
            Trans::Echo { id, seq } => match pair {
                IpPair::V4 { .. } => {
                    let p = Icmpv4Packet::new_checked(l4).unwrap();
                    let r = Icmpv4Repr::parse(&p).unwrap();
                    prop_assert_eq!((r.msg_type, p.echo_ident(), p.echo_seq()), (8, *id, *seq));
                }
                IpPair::V6 { .. } => {
                    let p = Icmpv6Packet::new_checked(l4).unwrap();
                    let r = Icmpv6Repr::parse(&p, &pair).unwrap();
                    prop_assert_eq!((r.msg_type, p.echo_ident(), p.echo_seq()), (128, *id, *seq));
                }
            },
        }
    }

    /// extract_key and locate agree with etherparse's view of the frame.
    #[test]
    fn key_and_layout_match_etherparse(s in spec()) {
        let f = build(&s);
        let sp = SlicedPacket::from_ethernet(&f).unwrap();
        let mut k = FlowKey::ZERO;
        extract_key(&f, 5, &mut k).unwrap();
        let lay = locate(&f).unwrap();
        prop_assert_eq!(k.eth_src(), s.src);
        prop_assert_eq!(k.eth_dst(), s.dst);
        match s.vlan {
            Some((pcp, _, vid)) => prop_assert_eq!(k.vlan_tci(), ((pcp as u16) << 13) | VLAN_CFI | vid),
            None => prop_assert_eq!(k.vlan_tci(), 0),
        }
        let ip_start = |sl: &[u8]| sl.as_ptr() as usize - f.as_ptr() as usize;
        match sp.net.as_ref().unwrap() {
            NetSlice::Ipv4(ip) => {
                let h = ip.header();
                prop_assert_eq!(k.eth_type(), 0x0800);
                prop_assert_eq!(k.get(key::IPV4_SRC), u32::from_be_bytes(h.source()) as u128);
                prop_assert_eq!(k.get(key::IPV4_DST), u32::from_be_bytes(h.destination()) as u128);
                prop_assert_eq!(k.get(key::IP_TTL), h.ttl() as u128);
                prop_assert_eq!(k.get(key::IP_TOS), ((h.dcp().value() << 2) | h.ecn().value()) as u128);
                prop_assert_eq!(k.ip_proto(), h.protocol().0);
                prop_assert_eq!(lay.l3, ip_start(h.slice()));
            }
            NetSlice::Ipv6(ip) => {
                let h = ip.header();
                prop_assert_eq!(k.eth_type(), 0x86dd);
                prop_assert_eq!(k.get(key::IPV6_SRC), u128::from_be_bytes(h.source()));
                prop_assert_eq!(k.get(key::IPV6_DST), u128::from_be_bytes(h.destination()));
                prop_assert_eq!(k.get(key::IPV6_LABEL), h.flow_label().value() as u128);
                prop_assert_eq!(k.get(key::IP_TOS), h.traffic_class() as u128);
                prop_assert_eq!(k.get(key::IP_TTL), h.hop_limit() as u128);
                prop_assert_eq!(lay.l3, ip_start(h.slice()));
            }
            NetSlice::Arp(_) => unreachable!(),
        }
        match sp.transport.as_ref().unwrap() {
            TransportSlice::Tcp(t) => {
                prop_assert_eq!((k.get(key::TP_SRC), k.get(key::TP_DST)), (t.source_port() as u128, t.destination_port() as u128));
                let fl = (t.ns() as u16) << 8 | (t.cwr() as u16) << 7 | (t.ece() as u16) << 6 | (t.urg() as u16) << 5
                    | (t.ack() as u16) << 4 | (t.psh() as u16) << 3 | (t.rst() as u16) << 2 | (t.syn() as u16) << 1 | t.fin() as u16;
                prop_assert_eq!(k.get(key::TCP_FLAGS), fl as u128);
                prop_assert_eq!(lay.l4, Some(ip_start(t.slice())));
            }
            TransportSlice::Udp(u) => {
                prop_assert_eq!((k.get(key::TP_SRC), k.get(key::TP_DST)), (u.source_port() as u128, u.destination_port() as u128));
                prop_assert_eq!(lay.l4, Some(ip_start(u.slice())));
            }
            TransportSlice::Icmpv4(i) => {
                prop_assert_eq!((k.get(key::TP_SRC), k.get(key::TP_DST)), (i.type_u8() as u128, i.code_u8() as u128));
            }
            TransportSlice::Icmpv6(i) => {
                prop_assert_eq!((k.get(key::TP_SRC), k.get(key::TP_DST)), (i.type_u8() as u128, i.code_u8() as u128));
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
        prop_assert_eq!(lay.l3_end, f.len());
    }

    /// rswitch emits, etherparse parses and validates every checksum.
    #[test]
    fn etherparse_reads_what_rswitch_writes(s in spec()) {
        let mut f = vec![0u8; 14 + 4 + 40 + 20 + s.payload.len()];
        let tag = s.vlan.is_some();
        let (pcp, dei, vid) = s.vlan.unwrap_or_default();
        let mut at = EthernetRepr { dst: s.dst, src: s.src, ethertype: if tag { 0x8100 } else { 0 } }.emit(&mut f).unwrap();
        let l3 = at + if tag { 4 } else { 0 };
        let (proto, l4len) = match s.trans {
            Trans::Tcp { .. } => (6, 20),
            Trans::Udp { .. } => (17, 8),
            Trans::Echo { .. } => (if matches!(s.net, Net::V4 { .. }) { 1 } else { 58 }, 8),
        };
        let plen = l4len + s.payload.len();
        let (pair, ethertype, l4) = match &s.net {
            Net::V4 { src, dst, ttl, tos, id, df } => {
                Ipv4Repr { src: (*src).into(), dst: (*dst).into(), protocol: proto, payload_len: plen, ttl: *ttl, tos: *tos, ident: *id, dont_frag: *df, more_frags: false, frag_offset: 0 }
                    .emit(&mut f[l3..]).unwrap();
                (IpPair::V4 { src: *src, dst: *dst }, 0x0800, l3 + 20)
            }
            Net::V6 { src, dst, hop, tclass, label } => {
                Ipv6Repr { src: (*src).into(), dst: (*dst).into(), next_header: proto, payload_len: plen, hop_limit: *hop, traffic_class: *tclass, flow_label: *label }
                    .emit(&mut f[l3..]).unwrap();
                (IpPair::V6 { src: *src, dst: *dst }, 0x86dd, l3 + 40)
            }
        };
        if tag {
            at += VlanRepr { pcp, dei, vid, ethertype }.emit(&mut f[at..]).unwrap();
        } else {
            EthernetFrame::new_checked(&mut f[..]).unwrap().set_ethertype(ethertype);
        }
        let _ = at;
        let end = l4 + plen;
        f.truncate(end);
        f[l4 + l4len..].copy_from_slice(&s.payload);
        match s.trans {
            Trans::Tcp { sp, dp, seq, ack, flags, win } => {
                TcpRepr { src_port: sp, dst_port: dp, seq, ack, flags, window: win, urgent: 0, options: &[], payload_len: s.payload.len() }
                    .emit(&mut f[l4..]).unwrap();
                TcpPacket::new_checked(&mut f[l4..]).unwrap().fill_checksum(&pair);
            }
            Trans::Udp { sp, dp } => {
                UdpRepr { src_port: sp, dst_port: dp, payload_len: s.payload.len() }.emit(&mut f[l4..]).unwrap();
                UdpPacket::new_checked(&mut f[l4..]).unwrap().fill_checksum(&pair);
            }
            Trans::Echo { id, seq } => {
                let rest = (id as u32) << 16 | seq as u32;
                if proto == 1 {
                    Icmpv4Repr { msg_type: 8, code: 0, rest_of_header: rest, data: &s.payload }.emit(&mut f[l4..]).unwrap();
                } else {
                    Icmpv6Repr { msg_type: 128, code: 0, rest_of_header: rest, data: &s.payload }.emit(&mut f[l4..], &pair).unwrap();
                }
            }
        }
        let seen = assert_checksums(&f);
        prop_assert!(seen.starts_with(if ethertype == 0x0800 { "ipv4/" } else { "ipv6/" }), "{}", seen);
        // And the whole frame is what etherparse itself would have built.
        prop_assert_eq!(f, build(&s));
    }
}
