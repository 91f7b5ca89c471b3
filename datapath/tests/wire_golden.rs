//! Known frames, byte for byte, parsed through the whole wire stack: an
//! ARP request padded to the Ethernet minimum, a TCP SYN with Linux's
//! option set, a VXLAN-encapsulated ICMP echo and a keyed GRE (TEB) frame.
//! Checksums in these bytes were produced by etherparse, an independent
//! implementation.

use std::net::Ipv4Addr;

use datapath::extract::extract_key;
use datapath::wire::checksum::IpPair;
use datapath::wire::*;
use ofproto::key::{self, FlowKey};

const ARP_FRAME: [u8; 60] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x0c, 0x29, 0x3e, 0x5f, 0x0a, 0x08, 0x06, 0x00, 0x01,
    0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x0c, 0x29, 0x3e, 0x5f, 0x0a, 0xc0, 0xa8, 0x01, 0x64,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

const TCP_SYN: [u8; 74] = [
    0x00, 0x50, 0x56, 0xc0, 0x00, 0x08, 0x00, 0x0c, 0x29, 0x3e, 0x5f, 0x0a, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x3c, 0x4e, 0x20, 0x40, 0x00, 0x40, 0x06, 0xf4, 0xb4, 0xc0, 0xa8, 0x01, 0x64, 0x5d, 0xb8,
    0xd8, 0x22, 0xc7, 0x38, 0x00, 0x50, 0x3b, 0x9a, 0xca, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
    0xfa, 0xf0, 0xa5, 0xc2, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x01,
    0xe2, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
];

const VXLAN: [u8; 100] = [
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x56, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xe2, 0x73, 0xac, 0x10, 0x00, 0x01, 0xac, 0x10,
    0x00, 0x02, 0xd4, 0x31, 0x12, 0xb5, 0x00, 0x42, 0x23, 0x49, 0x08, 0x00, 0x00, 0x00, 0x00, 0x13,
    0x89, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x24, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x26, 0xd7, 0x0a, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x4a, 0x23, 0x1c, 0x46, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64,
    0x65, 0x66, 0x67, 0x68,
];

const GRE_KEY: [u8; 84] = [
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x46, 0x00, 0x00, 0x40, 0x00, 0x40, 0x2f, 0xe2, 0x65, 0xac, 0x10, 0x00, 0x01, 0xac, 0x10,
    0x00, 0x02, 0x20, 0x00, 0x65, 0x58, 0x00, 0x00, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x01,
];

#[test]
fn arp_request_frame() {
    let eth = EthernetFrame::new_checked(&ARP_FRAME[..]).unwrap();
    let er = EthernetRepr::parse(&eth).unwrap();
    assert_eq!(er.dst, [0xff; 6]);
    assert_eq!(er.ethertype, ethertype::ARP);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(arp.operation, arp::OP_REQUEST);
    assert_eq!(arp.sender_hw, [0x00, 0x0c, 0x29, 0x3e, 0x5f, 0x0a]);
    assert_eq!(arp.sender_ip, Ipv4Addr::new(192, 168, 1, 100));
    assert_eq!(arp.target_ip, Ipv4Addr::new(192, 168, 1, 1));
    // Emitting the values gives the same bytes (padding aside).
    let mut out = [0u8; 42];
    er.emit(&mut out).unwrap();
    arp.emit(&mut out[14..]).unwrap();
    assert_eq!(out, ARP_FRAME[..42]);
    let mut k = FlowKey::ZERO;
    extract_key(&ARP_FRAME, 3, &mut k).unwrap();
    assert_eq!(
        (k.eth_type(), k.ip_proto(), k.get(key::IPV4_DST)),
        (0x0806, 1, 0xc0a8_0101)
    );
}

#[test]
fn tcp_syn_frame() {
    let eth = EthernetFrame::new_checked(&TCP_SYN[..]).unwrap();
    assert_eq!(eth.ethertype(), ethertype::IPV4);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let ir = Ipv4Repr::parse(&ip).unwrap();
    assert_eq!(ir.src, Ipv4Addr::new(192, 168, 1, 100));
    assert_eq!(ir.dst, Ipv4Addr::new(93, 184, 216, 34));
    assert_eq!(
        (ir.ident, ir.dont_frag, ir.ttl, ir.protocol, ir.payload_len),
        (0x4e20, true, 64, 6, 40)
    );
    let pair = IpPair::V4 {
        src: ip.src_bytes(),
        dst: ip.dst_bytes(),
    };
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(tcp.checksum(), 0xa5c2);
    let tr = TcpRepr::parse(&tcp, &pair).unwrap();
    assert_eq!(
        (tr.src_port, tr.dst_port, tr.seq, tr.flags),
        (51000, 80, 1_000_000_000, tcp::flags::SYN)
    );
    assert_eq!(tr.options, &TCP_SYN[54..]);
    // Re-emit the whole frame from the Reprs.
    let mut out = [0u8; 74];
    EthernetRepr::parse(&eth).unwrap().emit(&mut out).unwrap();
    ir.emit(&mut out[14..]).unwrap();
    tr.emit(&mut out[34..]).unwrap();
    TcpPacket::new_checked(&mut out[34..])
        .unwrap()
        .fill_checksum(&pair);
    assert_eq!(out, TCP_SYN);
    let mut k = FlowKey::ZERO;
    extract_key(&TCP_SYN, 1, &mut k).unwrap();
    assert_eq!(
        (
            k.get(key::TP_SRC),
            k.get(key::TP_DST),
            k.get(key::TCP_FLAGS)
        ),
        (51000, 80, 2)
    );
}

#[test]
fn vxlan_frame() {
    let eth = EthernetFrame::new_checked(&VXLAN[..]).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.protocol(), ip_proto::UDP);
    let pair = IpPair::V4 {
        src: ip.src_bytes(),
        dst: ip.dst_bytes(),
    };
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    let ur = UdpRepr::parse(&udp, &pair).unwrap();
    assert_eq!(
        (ur.src_port, ur.dst_port, ur.payload_len),
        (54321, udp::VXLAN_PORT, 58)
    );
    let vx = VxlanHeader::new_checked(udp.payload()).unwrap();
    assert_eq!(VxlanRepr::parse(&vx), Ok(VxlanRepr { vni: 5001 }));
    // The inner frame.
    let inner = EthernetFrame::new_checked(vx.payload()).unwrap();
    assert_eq!(inner.src(), [2, 0, 0, 0, 0, 1]);
    let iip = Ipv4Packet::new_checked(inner.payload()).unwrap();
    assert!(iip.verify_checksum());
    let icmp = Icmpv4Packet::new_checked(iip.payload()).unwrap();
    let r = Icmpv4Repr::parse(&icmp).unwrap();
    assert_eq!(
        (r.msg_type, r.data),
        (icmp::v4_type::ECHO_REQUEST, &b"abcdefgh"[..])
    );
    assert_eq!((icmp.echo_ident(), icmp.echo_seq()), (0x1c46, 1));
    // The key of the inner frame, with tunnel metadata the caller sets.
    let mut k = FlowKey::ZERO;
    k.set(key::TUN_ID, 5001);
    extract_key(vx.payload(), 9, &mut k).unwrap();
    assert_eq!((k.tun_id(), k.ip_proto(), k.get(key::TP_SRC)), (5001, 1, 8));
}

#[test]
fn gre_with_key_frame() {
    let eth = EthernetFrame::new_checked(&GRE_KEY[..]).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(Ipv4Repr::parse(&ip).unwrap().protocol, ip_proto::GRE);
    let gre = GrePacket::new_checked(ip.payload()).unwrap();
    let gr = GreRepr::parse(&gre).unwrap();
    assert_eq!(
        gr,
        GreRepr {
            protocol: gre::PROTO_TEB,
            checksum: false,
            key: Some(42),
            seq: None
        }
    );
    let inner = EthernetFrame::new_checked(gre.payload()).unwrap();
    let arp = ArpRepr::parse(&ArpPacket::new_checked(inner.payload()).unwrap()).unwrap();
    assert_eq!(arp.operation, arp::OP_REPLY);
    assert_eq!(arp.sender_ip, Ipv4Addr::new(10, 0, 0, 2));
    let mut out = [0u8; 8];
    gr.emit(&mut out).unwrap();
    assert_eq!(out, GRE_KEY[34..42]);
}

#[test]
fn locate_on_golden_frames() {
    let l = locate(&VXLAN).unwrap();
    assert_eq!((l.l3, l.l4, l.proto, l.l3_end), (14, Some(34), 17, 100));
    let l = locate(&ARP_FRAME).unwrap();
    assert_eq!(l.l3_kind, L3::Arp);
    let l = locate(&TCP_SYN).unwrap();
    assert_eq!((l.l4, l.proto, l.frag), (Some(34), 6, 0));
}
