//! Privileged tests of the VXLAN and GRE endpoints.
//!
//! Network safety: every test makes two "physical host" namespaces joined
//! by a veth underlay (`ul0` 198.19.0.1/24 in host A, `ul1` 198.19.0.2/24
//! in host B), created directly inside them; sockets are opened on threads
//! that entered those namespaces. The namespace guards delete everything
//! on drop, also when a test panics. Nothing touches the root namespace.

mod common;

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use common::{wait_readable, Netns};
use datapath::packet::{Packet, VnetHdr};
use datapath::tunnel::{
    GreEndpoint, SendError, Tos, TunnelMeta, TunnelOptions, VxlanEndpoint, VXLAN_PORT,
};

const A_IP: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Two host namespaces and the veth underlay between them.
struct Hosts {
    a: Netns,
    b: Netns,
}

impl Hosts {
    fn new() -> Hosts {
        let a = Netns::new();
        let b = Netns::new();
        a.ip(&[
            "link", "add", "ul0", "type", "veth", "peer", "name", "ul1", "netns", &b.name,
        ]);
        a.ip(&["addr", "add", "198.19.0.1/24", "dev", "ul0"]);
        a.ip(&["link", "set", "ul0", "up"]);
        b.ip(&["addr", "add", "198.19.0.2/24", "dev", "ul1"]);
        b.ip(&["link", "set", "ul1", "up"]);
        Hosts { a, b }
    }
}

/// The receive side of both endpoint kinds, for the helpers below.
trait Rx {
    fn fd(&self) -> RawFd;
    fn recv(&mut self, p: &mut [Packet], m: &mut [TunnelMeta]) -> io::Result<usize>;
}

impl Rx for VxlanEndpoint {
    fn fd(&self) -> RawFd {
        self.raw_fd()
    }
    fn recv(&mut self, p: &mut [Packet], m: &mut [TunnelMeta]) -> io::Result<usize> {
        self.recv_batch(p, m)
    }
}

impl Rx for GreEndpoint {
    fn fd(&self) -> RawFd {
        self.raw_fd()
    }
    fn recv(&mut self, p: &mut [Packet], m: &mut [TunnelMeta]) -> io::Result<usize> {
        self.recv_batch(p, m)
    }
}

/// Receives until `pred` accepts a frame or the timeout passes; returns
/// the accepted frame (frames after it in the same batch are discarded).
fn recv_until(
    ep: &mut dyn Rx,
    mut pred: impl FnMut(&[u8], &TunnelMeta) -> bool,
) -> Option<(Vec<u8>, TunnelMeta)> {
    let mut pkts: Vec<Packet> = (0..4).map(|_| Packet::new()).collect();
    let mut meta = [TunnelMeta::default(); 4];
    let end = Instant::now() + TIMEOUT;
    while Instant::now() < end {
        wait_readable(ep.fd(), Duration::from_millis(100));
        let n = ep.recv(&mut pkts, &mut meta).expect("recv_batch");
        for i in 0..n {
            if pred(pkts[i].data(), &meta[i]) {
                return Some((pkts[i].data().to_vec(), meta[i]));
            }
        }
    }
    None
}

/// Receives `n` frames (or fewer when the timeout passes).
fn recv_n(ep: &mut dyn Rx, n: usize) -> Vec<(Vec<u8>, TunnelMeta)> {
    let mut pkts: Vec<Packet> = (0..4).map(|_| Packet::new()).collect();
    let mut meta = [TunnelMeta::default(); 4];
    let mut out = Vec::new();
    let end = Instant::now() + TIMEOUT;
    while out.len() < n && Instant::now() < end {
        wait_readable(ep.fd(), Duration::from_millis(100));
        let got = ep.recv(&mut pkts, &mut meta).expect("recv_batch");
        for i in 0..got {
            out.push((pkts[i].data().to_vec(), meta[i]));
        }
    }
    out
}

/// An inner Ethernet/IPv4/UDP frame with a recognisable payload.
fn inner_frame(len: usize) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 0xb, 0x02, 0, 0, 0, 0, 0xa, 0x08, 0x00, // Ethernet
    ];
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[0x45, 0x10]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2]);
    let udp_len = ip_len - 20;
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35]);
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    while f.len() < len {
        f.push(f.len() as u8);
    }
    f
}

#[test]
fn vxlan_to_vxlan() {
    require_root!();
    let h = Hosts::new();
    let mut ea =
        h.a.run(|| VxlanEndpoint::bind(Some(A_IP), VXLAN_PORT))
            .unwrap();
    let mut eb =
        h.b.run(|| VxlanEndpoint::bind(Some(B_IP), VXLAN_PORT))
            .unwrap();
    let frame = inner_frame(200);
    for (csum, vni) in [(false, 5001u64), (true, 0xabcdef)] {
        let opts = TunnelOptions {
            csum,
            tos: Tos::Inherit,
            ..Default::default()
        };
        let mut p = Packet::from_frame(&frame);
        ea.send(&mut p, B_IP, vni, &opts).unwrap();
        assert_eq!(p.data(), &frame[..], "send leaves the inner frame");
        let (got, m) = recv_until(&mut eb, |_, _| true).expect("frame at B");
        assert_eq!(got, frame);
        assert_eq!(
            m,
            TunnelMeta {
                src: A_IP,
                dst: B_IP,
                tun_id: vni
            }
        );
    }
    // And back, from B to A.
    let mut p = Packet::from_frame(&frame);
    eb.send(&mut p, A_IP, 7, &TunnelOptions::default()).unwrap();
    let (got, m) = recv_until(&mut ea, |_, _| true).expect("frame at A");
    assert_eq!(got, frame);
    assert_eq!((m.src, m.dst, m.tun_id), (B_IP, A_IP, 7));
    assert_eq!(ea.stats().tx, 2);
    assert_eq!(eb.stats().rx, 2);
    assert_eq!(ea.stats().rx, 1);
}

#[test]
fn vxlan_partial_checksum_completed() {
    require_root!();
    let h = Hosts::new();
    let mut ea = h.a.run(|| VxlanEndpoint::bind(None, VXLAN_PORT)).unwrap();
    let mut eb = h.b.run(|| VxlanEndpoint::bind(None, VXLAN_PORT)).unwrap();
    let frame = inner_frame(120);
    let mut p = Packet::from_frame(&frame);
    // NEEDS_CSUM with the checksum field holding zero as the "pseudo sum":
    // the endpoint must fill it before encapsulating.
    p.vnet = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 6,
        ..Default::default()
    };
    ea.send(&mut p, B_IP, 1, &TunnelOptions::default()).unwrap();
    let (got, _) = recv_until(&mut eb, |_, _| true).expect("frame at B");
    assert_ne!(&got[40..42], &[0, 0], "checksum completed");
    assert_eq!(&got[..40], &frame[..40]);
}

#[test]
fn gso_super_frame_segmented_before_encap() {
    require_root!();
    let h = Hosts::new();
    let mut ga = h.a.run(|| GreEndpoint::open(None)).unwrap();
    let mut gb = h.b.run(|| GreEndpoint::open(None)).unwrap();
    // A 3014-byte UDP super-frame: 2972 payload bytes in 1000-byte
    // segments (USO) gives 3 datagrams, each well under the MTU.
    let frame = inner_frame(3014);
    let mut p = Packet::from_frame(&frame);
    p.vnet = VnetHdr {
        gso_type: datapath::offload::GSO_UDP_L4,
        gso_size: 1000,
        hdr_len: 42,
        ..Default::default()
    };
    ga.send(&mut p, B_IP, 77, &TunnelOptions::default())
        .unwrap();
    assert_eq!(ga.stats().tx, 3);
    let mut lens = Vec::new();
    for (f, m) in recv_n(&mut gb, 3) {
        assert_eq!(m.tun_id, 77);
        assert_eq!(&f[..12], &frame[..12]);
        lens.push(f.len());
    }
    assert_eq!(lens, [1042, 1042, 1014]);
}

#[test]
fn gre_to_gre_with_key() {
    require_root!();
    let h = Hosts::new();
    let mut ea = h.a.run(|| GreEndpoint::open(Some(A_IP))).unwrap();
    let mut eb = h.b.run(|| GreEndpoint::open(Some(B_IP))).unwrap();
    let frame = inner_frame(300);
    for (csum, key) in [(false, 0x1234_5678u64), (true, 9), (false, 0)] {
        let opts = TunnelOptions {
            csum,
            ..Default::default()
        };
        let mut p = Packet::from_frame(&frame);
        ea.send(&mut p, B_IP, key, &opts).unwrap();
        assert_eq!(p.data(), &frame[..]);
        let (got, m) = recv_until(&mut eb, |_, _| true).expect("frame at B");
        assert_eq!(got, frame);
        assert_eq!(
            m,
            TunnelMeta {
                src: A_IP,
                dst: B_IP,
                tun_id: key
            }
        );
    }
    assert_eq!(eb.stats().rx, 3);
    assert_eq!(eb.stats().rx_malformed, 0);
    assert_eq!(
        ea.send(
            &mut Packet::from_frame(&frame),
            B_IP,
            1 << 32,
            &TunnelOptions::default()
        )
        .map_err(|e| e.to_string()),
        Err("encapsulation: tunnel id wider than the GRE key".into())
    );
}

#[test]
fn vxlan_interop_with_kernel() {
    require_root!();
    let h = Hosts::new();
    if let Err(e) = h.b.try_ip(&[
        "link",
        "add",
        "vx0",
        "type",
        "vxlan",
        "id",
        "42",
        "remote",
        "198.19.0.1",
        "local",
        "198.19.0.2",
        "dstport",
        "4789",
    ]) {
        common::say(&format!(
            "SKIPPED (no kernel vxlan support): vxlan_interop_with_kernel: {e}\n"
        ));
        return;
    }
    h.b.ip(&["addr", "add", "198.18.10.2/24", "dev", "vx0"]);
    h.b.ip(&["link", "set", "vx0", "up"]);
    let mut ea = h.a.run(|| VxlanEndpoint::bind(None, VXLAN_PORT)).unwrap();
    let our_mac = [0x02, 0x52, 0x53, 0x00, 0x10, 0x01];
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&our_mac);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    arp.extend_from_slice(&our_mac);
    arp.extend_from_slice(&[198, 18, 10, 1]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[198, 18, 10, 2]);
    arp.resize(60, 0);
    // The request may race with vx0 coming up: retry until answered.
    let mut reply = None;
    for _ in 0..5 {
        let mut p = Packet::from_frame(&arp);
        ea.send(&mut p, B_IP, 42, &TunnelOptions::default())
            .unwrap();
        reply = recv_until(&mut ea, |f, _| {
            f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 2]
        });
        if reply.is_some() {
            break;
        }
    }
    let (f, m) = reply.expect("ARP reply from the kernel's vxlan device");
    assert_eq!(m.tun_id, 42);
    assert_eq!(m.src, B_IP);
    assert_eq!(m.dst, A_IP);
    assert_eq!(&f[0..6], &our_mac, "reply to our MAC");
    assert_eq!(&f[28..32], &[198, 18, 10, 2], "sender is vx0's address");
    assert_eq!(&f[32..38], &our_mac);
    assert_eq!(&f[38..42], &[198, 18, 10, 1]);
}

#[test]
fn too_big_with_df() {
    require_root!();
    let h = Hosts::new();
    let mut ea =
        h.a.run(|| VxlanEndpoint::bind(Some(A_IP), VXLAN_PORT))
            .unwrap();
    let mut eb =
        h.b.run(|| VxlanEndpoint::bind(Some(B_IP), VXLAN_PORT))
            .unwrap();
    let mut ga = h.a.run(|| GreEndpoint::open(Some(A_IP))).unwrap();
    // 1500-byte underlay MTU: a 1500-byte inner frame cannot fit.
    let frame = inner_frame(1500);
    let r = ea.send(
        &mut Packet::from_frame(&frame),
        B_IP,
        1,
        &TunnelOptions::default(),
    );
    assert!(matches!(r, Err(SendError::TooBig)), "{r:?}");
    assert_eq!(ea.stats().too_big, 1);
    assert_eq!(ea.stats().tx, 0);
    let r = ga.send(
        &mut Packet::from_frame(&frame),
        B_IP,
        1,
        &TunnelOptions::default(),
    );
    assert!(matches!(r, Err(SendError::TooBig)), "{r:?}");
    assert_eq!(ga.stats().too_big, 1);
    // Without DF the kernel fragments and B gets the frame whole.
    let no_df = TunnelOptions {
        df: false,
        ..Default::default()
    };
    ea.send(&mut Packet::from_frame(&frame), B_IP, 3, &no_df)
        .unwrap();
    let (got, m) = recv_until(&mut eb, |_, _| true).expect("fragmented frame at B");
    assert_eq!(got, frame);
    assert_eq!(m.tun_id, 3);
    // A small frame after that still goes out with DF.
    ea.send(
        &mut Packet::from_frame(&frame[..100]),
        B_IP,
        4,
        &TunnelOptions::default(),
    )
    .unwrap();
    assert!(recv_until(&mut eb, |f, _| f.len() == 100).is_some());
}

/// Sends raw bytes as IP protocol `proto` from the calling thread's
/// namespace.
fn send_raw_ip(proto: libc::c_int, dst: Ipv4Addr, bytes: &[u8]) {
    // SAFETY: socket() takes no pointers; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, proto) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: sockaddr_in is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_addr.s_addr = u32::from(dst).to_be();
    // SAFETY: `bytes` and `sa` are live for the call; lengths are exact.
    let r = unsafe {
        libc::sendto(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    let e = io::Error::last_os_error();
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    assert_eq!(r, bytes.len() as isize, "sendto: {e}");
}

#[test]
fn malformed_inputs_counted_and_dropped() {
    require_root!();
    let h = Hosts::new();
    let mut ea =
        h.a.run(|| VxlanEndpoint::bind(Some(A_IP), VXLAN_PORT))
            .unwrap();
    let mut ga = h.a.run(|| GreEndpoint::open(Some(A_IP))).unwrap();
    let mut gb = h.b.run(|| GreEndpoint::open(Some(B_IP))).unwrap();
    let frame = inner_frame(100);
    let good_vxlan = {
        let mut v = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        v.extend_from_slice(&frame);
        v
    };
    let f2 = frame.clone();
    h.b.run(move || {
        let s = std::net::UdpSocket::bind((B_IP, 0)).unwrap();
        let mut bad_flags = good_vxlan.clone();
        bad_flags[0] = 0x0c;
        s.send_to(&bad_flags, (A_IP, VXLAN_PORT)).unwrap();
        s.send_to(&good_vxlan[..5], (A_IP, VXLAN_PORT)).unwrap();
        let mut reserved = good_vxlan.clone();
        reserved[7] = 1;
        s.send_to(&reserved, (A_IP, VXLAN_PORT)).unwrap();
        s.send_to(&good_vxlan, (A_IP, VXLAN_PORT)).unwrap();
        let mut routing = vec![0x40, 0, 0x65, 0x58, 0, 0, 0, 0];
        routing.extend_from_slice(&f2);
        send_raw_ip(libc::IPPROTO_GRE, A_IP, &routing);
        let mut ipv4_proto = vec![0x00, 0, 0x08, 0x00];
        ipv4_proto.extend_from_slice(&f2[14..]);
        send_raw_ip(libc::IPPROTO_GRE, A_IP, &ipv4_proto);
    });
    let (got, m) = recv_until(&mut ea, |_, _| true).expect("good VXLAN frame");
    assert_eq!(got, frame);
    assert_eq!(m.tun_id, 42);
    assert_eq!(ea.stats().rx_malformed, 3);
    assert_eq!(ea.stats().rx, 1);
    // A good GRE frame after the bad ones.
    gb.send(
        &mut Packet::from_frame(&frame),
        A_IP,
        5,
        &TunnelOptions::default(),
    )
    .unwrap();
    let (got, m) = recv_until(&mut ga, |_, _| true).expect("good GRE frame");
    assert_eq!(got, frame);
    assert_eq!(m.tun_id, 5);
    assert_eq!(ga.stats().rx_malformed, 2);
    assert_eq!(ga.stats().rx, 1);
}
