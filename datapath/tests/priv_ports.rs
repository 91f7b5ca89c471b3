//! Privileged tests of the AF_PACKET and TAP port backends and the netdev
//! helpers, on veth/TAP devices inside network namespaces the tests create
//! and delete (see `common`). Each test starts with `require_root!()`:
//! without root it prints a SKIPPED line and passes.

#[macro_use]
mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use datapath::packet::{Packet, VnetHdr};
use datapath::port::afpacket::{AfPacketOptions, AfPacketPort, OutgoingFilter};
use datapath::port::netdev;
use datapath::port::tap::{TapOptions, TapPort};
use datapath::port::{errno, port_fault, PortFault, PortIo};

const SECS5: Duration = Duration::from_secs(5);

fn open_port(ns: &Netns, ifname: &str, opts: AfPacketOptions) -> AfPacketPort {
    let name = ifname.to_string();
    ns.run(move || AfPacketPort::open(&name, opts))
        .unwrap_or_else(|e| panic!("open {ifname}: {e}"))
}

/// Receives from `port` until `pred` accepts a frame, answering ARP
/// requests for `our_ip` with `OUR_MAC` on the way (as a host behind the
/// switch would). Returns the frame and how many ARP requests were answered.
fn serve_arp_until(
    port: &mut dyn PortIo,
    our_ip: [u8; 4],
    timeout: Duration,
    mut pred: impl FnMut(&Rx) -> bool,
) -> (Option<Rx>, usize) {
    let mut pkts: Vec<Packet> = (0..8).map(|_| Packet::new()).collect();
    let deadline = Instant::now() + timeout;
    let mut arps = 0;
    while Instant::now() < deadline {
        wait_readable(port.raw_fd().unwrap(), Duration::from_millis(100));
        let n = port.recv_batch(&mut pkts).expect("recv_batch");
        let mut replies = Vec::new();
        for p in &pkts[..n] {
            let rx = Rx {
                data: p.data().to_vec(),
                vnet: p.vnet,
            };
            if let Some((mac, ip)) = arp_request_for(&rx.data, our_ip) {
                arps += 1;
                replies.push(arp_reply(OUR_MAC, our_ip, mac, ip));
            } else if pred(&rx) {
                return (Some(rx), arps);
            }
        }
        for r in replies {
            port_send(port, &r, VnetHdr::default());
        }
    }
    (None, arps)
}

/// We (OUR_MAC, `our_ip`) ping `peer_ip` through `port`: the peer kernel
/// must receive our echo request, resolve us with ARP (answered by
/// `serve_arp_until`) unless cached, and send the reply back to us.
fn ping_through(
    port: &mut dyn PortIo,
    our_ip: [u8; 4],
    peer_mac: [u8; 6],
    peer_ip: [u8; 4],
    seq: u16,
) -> usize {
    let id = 0x5253;
    let req = icmp_echo(OUR_MAC, peer_mac, our_ip, peer_ip, id, seq, false);
    port_send(port, &req, VnetHdr::default());
    let (reply, arps) = serve_arp_until(port, our_ip, SECS5, |rx| {
        is_icmp_echo(&rx.data, id, seq, true)
    });
    let reply = reply.expect("no ICMP echo reply through the port");
    assert_eq!(reply.data[0..6], OUR_MAC, "reply not addressed to us");
    assert_eq!(src_mac(&reply.data), peer_mac);
    arps
}

#[test]
fn afpacket_ping_roundtrip_through_namespace() {
    require_root!();
    let lab = Lab::new(false);
    let mut port = open_port(&lab.port_ns, PORT_IF, AfPacketOptions::default());
    assert!(port.kernel_ignores_outgoing(), "kernel ≥ 4.20 expected");
    assert!(port.offloads().vnet_hdr);
    let peer_mac = lab.peer_ns.run(|| netdev::mac(PEER_IF)).unwrap();

    let arps = ping_through(&mut port, PORT_IP, peer_mac, PEER_IP, 1);
    assert!(arps >= 1, "the peer never asked who we are");
    // The peer's kernel learned our MAC from the ARP reply we sent.
    let neigh = lab
        .peer_ns
        .ip(&["neigh", "show", "198.18.0.1", "dev", PEER_IF]);
    assert!(
        neigh.contains("02:52:53:00:00:01"),
        "neighbour table: {neigh}"
    );
}

#[test]
fn afpacket_udp_from_namespace_and_reply_to_its_socket() {
    require_root!();
    let lab = Lab::new(false);
    let mut port = open_port(&lab.port_ns, PORT_IF, AfPacketOptions::default());
    let peer_mac = lab.peer_ns.run(|| netdev::mac(PEER_IF)).unwrap();
    let udp = lab
        .peer_ns
        .run(|| UdpSocket::bind("198.18.0.2:7000"))
        .unwrap();
    udp.set_read_timeout(Some(SECS5)).unwrap();
    udp.send_to(b"hello-from-peer", "198.18.0.1:7001").unwrap();

    let (frame, arps) = serve_arp_until(&mut port, PORT_IP, SECS5, |rx| {
        ethertype(&rx.data) == ETH_IPV4 && rx.data.ends_with(b"hello-from-peer")
    });
    let frame = frame.expect("UDP datagram not received by the port");
    assert!(arps >= 1);
    assert_eq!(frame.data[0..6], OUR_MAC);
    assert_eq!(frame.data[23], 17, "IP protocol");

    let reply = udp_frame(
        OUR_MAC,
        peer_mac,
        (PORT_IP, 7001),
        (PEER_IP, 7000),
        b"hello-back",
    );
    port_send(&mut port, &reply, VnetHdr::default());
    let mut buf = [0u8; 64];
    let (n, from) = udp
        .recv_from(&mut buf)
        .expect("reply did not reach the peer's socket");
    assert_eq!(&buf[..n], b"hello-back");
    assert_eq!(from, "198.18.0.1:7001".parse::<SocketAddr>().unwrap());
}

#[test]
fn afpacket_batched_send_arrives_intact_and_in_order() {
    require_root!();
    let lab = Lab::new(false);
    // A batch of 40 through a port whose sendmmsg batch is 16: 3 calls.
    let opts = AfPacketOptions {
        batch: 16,
        ..AfPacketOptions::default()
    };
    let mut port = open_port(&lab.port_ns, PORT_IF, opts);
    let peer = lab.peer_ns.run(|| RawSock::open(PEER_IF, false));
    let frames: Vec<Vec<u8>> = (0..40u16)
        .map(|i| {
            let mut payload = format!("batch-frame-{i:03}-").into_bytes();
            payload.resize(46 + usize::from(i) * 36, i as u8);
            eth(
                [0x02, 0, 0, 0, 0, 0x99],
                OUR_MAC,
                ETH_EXPERIMENTAL,
                &payload,
            )
        })
        .collect();
    let mut pkts: Vec<Packet> = frames.iter().map(|f| Packet::from_frame(f)).collect();
    assert_eq!(port.send_batch(&mut pkts).unwrap(), 40);

    let mut got = Vec::new();
    peer.recv_until(SECS5, |rx| {
        if ethertype(&rx.data) == ETH_EXPERIMENTAL {
            got.push(rx.data.clone());
        }
        got.len() == frames.len()
    });
    assert_eq!(got.len(), frames.len(), "frames lost");
    assert!(got == frames, "frames altered or reordered");
}

/// Receive options for the two receive paths: the ring (default) and
/// plain `recvmmsg`.
fn rx_paths() -> [(&'static str, AfPacketOptions); 2] {
    [
        ("ring", AfPacketOptions::default()),
        (
            "recvmmsg",
            AfPacketOptions {
                rx_ring: None,
                ..AfPacketOptions::default()
            },
        ),
    ]
}

#[test]
fn afpacket_restores_vlan_tags_stripped_by_the_kernel() {
    require_root!();
    for (path, opts) in rx_paths() {
        eprintln!("receive path: {path}");
        vlan_tags_restored(opts);
    }
}

fn vlan_tags_restored(opts: AfPacketOptions) {
    let lab = Lab::new(false);
    let mut port = open_port(&lab.port_ns, PORT_IF, opts);
    assert_eq!(port.uses_rx_ring(), opts.rx_ring.is_some());
    let peer = lab.peer_ns.run(|| RawSock::open(PEER_IF, false));

    let tagged = |tags: &[(u16, u16)], nonce: &str| {
        let mut f = Vec::new();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x98]);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x97]);
        for (tpid, tci) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&ETH_EXPERIMENTAL.to_be_bytes());
        f.extend_from_slice(nonce.as_bytes());
        f.resize(64, 0xee);
        f
    };
    let cases = [
        tagged(&[], "vlan-case-untagged"),
        tagged(&[(0x8100, (5 << 13) | 100)], "vlan-case-dot1q"),
        tagged(&[(0x88a8, 200)], "vlan-case-dot1ad"),
        tagged(&[(0x8100, 3 << 13)], "vlan-case-priority-tag"),
        tagged(&[(0x88a8, 300), (0x8100, 400)], "vlan-case-qinq"),
    ];
    for (i, want) in cases.iter().enumerate() {
        peer.send(want);
        let nonce = format!(
            "vlan-case-{}",
            ["untagged", "dot1q", "dot1ad", "priority-tag", "qinq"][i]
        );
        let got = port_recv_until(&mut port, SECS5, |rx| {
            rx.data.windows(nonce.len()).any(|w| w == nonce.as_bytes())
        })
        .unwrap_or_else(|| panic!("case {nonce}: not received"));
        assert_eq!(
            &got.data, want,
            "case {nonce}: frame differs from what was sent"
        );
    }

    // With offloads: a tagged TCP GSO frame keeps its tag, and the checksum
    // offset in the virtio-net header accounts for the re-inserted 4 bytes.
    let peer_v = lab.peer_ns.run(|| RawSock::open(PEER_IF, true));
    let (plain, vnet) = tcp4_gso_frame(
        [0x02, 0, 0, 0, 0, 0x96],
        [0x02, 0, 0, 0, 0, 0x95],
        ([198, 18, 0, 2], 40000),
        ([198, 18, 0, 9], 40001),
        1000,
        3,
    );
    let mut frame = plain[..12].to_vec();
    frame.extend_from_slice(&0x8100u16.to_be_bytes());
    frame.extend_from_slice(&42u16.to_be_bytes());
    frame.extend_from_slice(&plain[12..]);
    let vnet = VnetHdr {
        csum_start: vnet.csum_start + 4,
        hdr_len: vnet.hdr_len + 4,
        ..vnet
    };
    peer_v.send_vnet(vnet, &frame);
    let got = port_recv_until(&mut port, SECS5, |rx| rx.data.len() == frame.len())
        .expect("tagged GSO frame not received");
    assert_eq!(got.data, frame);
    assert!(got.vnet.is_gso(), "{:?}", got.vnet);
    assert!(got.vnet.needs_csum(), "{:?}", got.vnet);
    assert_eq!(got.vnet.csum_start, 14 + 4 + 20, "{:?}", got.vnet);
    assert_eq!(got.vnet.csum_offset, 16);
    assert_eq!(got.vnet.gso_size, 1000);
}

/// Frames transmitted on the interface, by us or by another local sender,
/// must never come back as received, with the kernel filter and with the
/// userspace fallback.
#[test]
fn afpacket_does_not_receive_outgoing_frames() {
    require_root!();
    for filter in [OutgoingFilter::Auto, OutgoingFilter::Userspace] {
        let lab = Lab::new(false);
        let opts = AfPacketOptions {
            outgoing_filter: filter,
            ..AfPacketOptions::default()
        };
        let mut port = open_port(&lab.port_ns, PORT_IF, opts);
        assert_eq!(
            port.kernel_ignores_outgoing(),
            filter == OutgoingFilter::Auto
        );
        let port_mac = lab.port_ns.run(|| netdev::mac(PORT_IF)).unwrap();
        let other = lab.port_ns.run(|| RawSock::open(PORT_IF, false));
        let peer = lab.peer_ns.run(|| RawSock::open(PEER_IF, false));

        for i in 0..5 {
            let own = eth(
                [0x02, 0, 0, 0, 0, 0x90],
                OUR_MAC,
                ETH_EXPERIMENTAL,
                format!("own-{i}....................................").as_bytes(),
            );
            port_send(&mut port, &own, VnetHdr::default());
            let theirs = eth(
                [0x02, 0, 0, 0, 0, 0x90],
                [0x02, 0, 0, 0, 0, 0x91],
                ETH_EXPERIMENTAL,
                format!("other-{i}..................................").as_bytes(),
            );
            other.send(&theirs);
        }
        // Both really went out on the wire.
        let mut seen = 0;
        peer.recv_until(SECS5, |rx| {
            if ethertype(&rx.data) == ETH_EXPERIMENTAL {
                seen += 1;
            }
            seen == 10
        });
        assert_eq!(seen, 10, "{filter:?}: sends did not reach the peer");

        // And none of them (nor the port kernel's own IPv6 chatter, sent
        // with the interface's MAC) is received by the port.
        let wire = eth(
            [0x02, 0, 0, 0, 0, 0x90],
            [0x02, 0, 0, 0, 0, 0x92],
            ETH_EXPERIMENTAL,
            b"from-the-wire.....................................",
        );
        peer.send(&wire);
        let got = port_recv_for(&mut port, Duration::from_millis(700));
        for rx in &got {
            assert!(
                src_mac(&rx.data) != OUR_MAC
                    && src_mac(&rx.data) != [0x02, 0, 0, 0, 0, 0x91]
                    && src_mac(&rx.data) != port_mac,
                "{filter:?}: received an outgoing frame: {:02x?}",
                &rx.data[..rx.data.len().min(32)]
            );
        }
        assert!(
            got.iter().any(|rx| rx.data == wire),
            "{filter:?}: frame from the wire not received"
        );
        if filter == OutgoingFilter::Userspace {
            assert!(port.stats().rx_outgoing_skipped >= 5, "{:?}", port.stats());
        } else {
            assert_eq!(port.stats().rx_outgoing_skipped, 0);
        }
    }
}

/// A tiny two-port hub: forwards every frame between `a` and `b` (keeping
/// the virtio-net header) until `done` or the deadline. Returns the frames
/// seen, as (length, header), for frames longer than one MTU.
fn relay(
    a: &mut dyn PortIo,
    b: &mut dyn PortIo,
    done: &AtomicBool,
    limit: Duration,
) -> Vec<(usize, VnetHdr)> {
    let mut pkts: Vec<Packet> = (0..32).map(|_| Packet::new()).collect();
    let mut big = Vec::new();
    let deadline = Instant::now() + limit;
    let fds = [a.raw_fd().unwrap(), b.raw_fd().unwrap()];
    while !done.load(Ordering::Acquire) && Instant::now() < deadline {
        let mut pfds = fds.map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: two valid pollfds for the call's duration.
        unsafe { libc::poll(pfds.as_mut_ptr(), 2, 50) };
        for dir in 0..2 {
            let (from, to): (&mut dyn PortIo, &mut dyn PortIo) = if dir == 0 {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            loop {
                let n = from.recv_batch(&mut pkts).expect("relay recv");
                if n == 0 {
                    break;
                }
                for p in &pkts[..n] {
                    if p.len() > 1514 {
                        big.push((p.len(), p.vnet));
                    }
                }
                to.send_batch(&mut pkts[..n]).expect("relay send");
            }
        }
    }
    big
}

/// Runs a bounded TCP transfer from `client_ns` to a listener at `server`
/// in `server_ns` while `relay_fn` forwards frames; returns what the relay
/// saw and the byte count the server got.
fn tcp_transfer_through(
    client_ns: &Netns,
    server_ns: &Netns,
    server: SocketAddr,
    bytes: usize,
    relay_fn: impl FnOnce(&AtomicBool) -> Vec<(usize, VnetHdr)>,
) -> (Vec<(usize, VnetHdr)>, usize) {
    let listener = server_ns.run(move || TcpListener::bind(server)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let done_s = done.clone();
    let srv = std::thread::spawn(move || -> io::Result<usize> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let res = (|| {
            let mut s = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => return Err(e),
                }
            };
            s.set_nonblocking(false)?;
            s.set_read_timeout(Some(SECS5))?;
            let mut total = 0;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    return Ok(total);
                }
                total += n;
            }
        })();
        done_s.store(true, Ordering::Release);
        res
    });
    let cli = client_ns.spawn(move || -> io::Result<()> {
        let mut s = TcpStream::connect_timeout(&server, SECS5)?;
        s.set_write_timeout(Some(SECS5))?;
        let chunk = vec![0x5au8; 1 << 16];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n])?;
            left -= n;
        }
        s.shutdown(std::net::Shutdown::Write)
    });
    let seen = relay_fn(&done);
    done.store(true, Ordering::Release);
    let c = cli.join().unwrap();
    let got = srv.join().unwrap();
    c.expect("client");
    (seen, got.expect("server"))
}

/// A TCP stream between two namespaces, relayed by us between two veth
/// ports, arrives as GSO super-frames with NEEDS_CSUM (PACKET_VNET_HDR on
/// receive) and is delivered intact when we send those super-frames on
/// (PACKET_VNET_HDR on send).
#[test]
fn afpacket_tcp_stream_arrives_as_gso_superframes() {
    require_root!();
    for (path, opts) in rx_paths() {
        eprintln!("receive path: {path}");
        tcp_stream_as_gso_superframes(opts);
    }
}

fn tcp_stream_as_gso_superframes(opts: AfPacketOptions) {
    let sw = Netns::new();
    let cl = Netns::new();
    let sv = Netns::new();
    sw.ip(&[
        "link", "add", "pa", "type", "veth", "peer", "name", "ca", "netns", &cl.name,
    ]);
    sw.ip(&[
        "link", "add", "pb", "type", "veth", "peer", "name", "sb", "netns", &sv.name,
    ]);
    for p in ["pa", "pb"] {
        sw.ip(&["link", "set", p, "up"]);
    }
    cl.ip(&["addr", "add", "198.18.4.1/24", "dev", "ca"]);
    cl.ip(&["link", "set", "ca", "up"]);
    sv.ip(&["addr", "add", "198.18.4.2/24", "dev", "sb"]);
    sv.ip(&["link", "set", "sb", "up"]);
    // The daemon's socket buffer: super-frames wait there (the ring only
    // marks their place), so the kernel's small default would drop some.
    let opts = AfPacketOptions {
        rcvbuf: Some(8 << 20),
        ..opts
    };
    let mut a = open_port(&sw, "pa", opts);
    let mut b = open_port(&sw, "pb", opts);

    let bytes = 4 << 20;
    let (big, got) = tcp_transfer_through(
        &cl,
        &sv,
        "198.18.4.2:5201".parse().unwrap(),
        bytes,
        |done| relay(&mut a, &mut b, done, Duration::from_secs(20)),
    );
    assert_eq!(got, bytes, "stream not delivered intact through the relay");
    let gso: Vec<_> = big.iter().filter(|(_, v)| v.is_gso()).collect();
    assert!(
        !gso.is_empty(),
        "no GSO super-frame seen ({} frames > MTU)",
        big.len()
    );
    let (len, v) = gso[0];
    assert_eq!(v.gso_type & !VnetHdr::GSO_ECN, VnetHdr::GSO_TCPV4, "{v:?}");
    assert!(v.needs_csum(), "{v:?}");
    assert_eq!((v.csum_start, v.csum_offset), (34, 16), "{v:?}");
    assert!(v.gso_size > 0 && usize::from(v.gso_size) < *len, "{v:?}");
    assert_eq!(a.stats().tx_rejected + b.stats().tx_rejected, 0);
    let (sa, sb) = (a.stats(), b.stats());
    if opts.rx_ring.is_some() {
        // Acks and handshakes come through ring slots; super-frames are
        // bigger than a slot and come whole from the socket queue.
        assert!(sa.rx_ring_frames + sb.rx_ring_frames > 0, "{sa:?} {sb:?}");
        assert!(sa.rx_ring_copies > 0, "{sa:?}");
    } else {
        assert_eq!(sa.rx_ring_frames + sa.rx_ring_copies, 0, "{sa:?}");
    }
    assert_eq!(sa.rx_truncated + sb.rx_truncated, 0, "{sa:?} {sb:?}");
}

#[test]
fn afpacket_sends_gso_superframes_and_rejects_oversized_plain_frames() {
    require_root!();
    let lab = Lab::new(false);
    let mut port = open_port(&lab.port_ns, PORT_IF, AfPacketOptions::default());
    let peer = lab.peer_ns.run(|| RawSock::open(PEER_IF, true));
    let peer_mac = lab.peer_ns.run(|| netdev::mac(PEER_IF)).unwrap();
    let (frame, vnet) = tcp4_gso_frame(
        OUR_MAC,
        peer_mac,
        (PORT_IP, 40000),
        (PEER_IP, 40001),
        1000,
        3,
    );
    assert!(frame.len() > 1514);

    let mut oversized = Packet::from_frame(&eth(peer_mac, OUR_MAC, ETH_EXPERIMENTAL, &[7u8; 2000]));
    oversized.vnet = VnetHdr::default();
    let mut gso = Packet::from_frame(&frame);
    gso.vnet = vnet;
    let mut batch = vec![oversized, gso];
    assert_eq!(
        port.send_batch(&mut batch).unwrap(),
        1,
        "only the GSO frame fits"
    );
    assert_eq!(port.stats().tx_rejected, 1);

    let got = peer
        .recv_until(SECS5, |rx| rx.data.len() == frame.len())
        .expect("GSO frame not received by the peer");
    assert_eq!(got.data[..54], frame[..54], "headers changed");
    assert_eq!(got.data[54..], frame[54..], "payload changed");
    assert!(
        got.vnet.is_gso() && got.vnet.gso_size == 1000,
        "{:?}",
        got.vnet
    );
}

#[test]
fn afpacket_link_down_then_device_removal() {
    require_root!();
    let lab = Lab::new(false);
    let mut port = open_port(&lab.port_ns, PORT_IF, AfPacketOptions::default());
    let peer = lab.peer_ns.run(|| RawSock::open(PEER_IF, false));
    let frame = eth(
        [0x02, 0, 0, 0, 0, 0x90],
        OUR_MAC,
        ETH_EXPERIMENTAL,
        b"link-state-test.....................................",
    );
    let mut pkts: Vec<Packet> = (0..4).map(|_| Packet::new()).collect();

    // Asked from this thread (root namespace, where rp0 does not exist):
    // the port uses its socket's namespace.
    let st = port.link_state().unwrap();
    assert!(st.admin_up && st.oper_up && st.carrier, "{st:?}");
    assert!(port.mtu().unwrap() == 1500);

    lab.port_ns.ip(&["link", "set", PORT_IF, "down"]);
    let e = port.recv_batch(&mut pkts).unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::LinkDown), "{e}");
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
    assert_eq!(errno(&e), Some(libc::ENETDOWN));
    assert!(e.to_string().contains(PORT_IF), "{e}");
    let e = port
        .send_batch(&mut [Packet::from_frame(&frame)])
        .unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::LinkDown), "{e}");
    assert!(!port.link_state().unwrap().admin_up);

    // Up again: the same socket works without reopening.
    lab.port_ns.ip(&["link", "set", PORT_IF, "up"]);
    assert_eq!(
        port.send_batch(&mut [Packet::from_frame(&frame)]).unwrap(),
        1
    );
    assert!(peer.recv_until(SECS5, |rx| rx.data == frame).is_some());
    let wire = eth(
        [0x02, 0, 0, 0, 0, 0x90],
        [0x02, 0, 0, 0, 0, 0x92],
        ETH_EXPERIMENTAL,
        b"after-link-up.......................................",
    );
    let deadline = Instant::now() + SECS5;
    let mut ok = false;
    while !ok && Instant::now() < deadline {
        peer.send(&wire); // the peer's queue may need a moment after carrier-on
        ok = port_recv_until(&mut port, Duration::from_millis(200), |rx| rx.data == wire).is_some();
    }
    assert!(ok, "no reception after the link came back");

    // Deleted: recv and send say Gone (NotFound), and keep saying it.
    lab.port_ns.ip(&["link", "del", PORT_IF]);
    for _ in 0..2 {
        let e = port.recv_batch(&mut pkts).unwrap_err();
        assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains(PORT_IF), "{e}");
    }
    let e = port
        .send_batch(&mut [Packet::from_frame(&frame)])
        .unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}");
    let e = port.link_state().unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}");
}

/// A device deleted while down raises no receive error (the kernel
/// reported ENETDOWN at link-down already): send and link_state catch it.
#[test]
fn afpacket_removed_while_down_is_caught_by_send_and_link_state() {
    require_root!();
    let lab = Lab::new(false);
    let mut port = open_port(&lab.port_ns, PORT_IF, AfPacketOptions::default());
    let mut pkts: Vec<Packet> = (0..4).map(|_| Packet::new()).collect();
    lab.port_ns.ip(&["link", "set", PORT_IF, "down"]);
    let e = port.recv_batch(&mut pkts).unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::LinkDown), "{e}");
    lab.port_ns.ip(&["link", "del", PORT_IF]);
    // Today's kernels report nothing here; accept a Gone should one ever do.
    match port.recv_batch(&mut pkts) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}"),
    }
    let mut clone = port.try_clone_tx().unwrap();
    let e = port.link_state().unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}");
    let e = clone
        .send_batch(&mut [Packet::from_frame(&[0u8; 60])])
        .unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}");
    assert_eq!(errno(&e), Some(libc::ENXIO));
}

#[test]
fn afpacket_open_errors_name_the_interface() {
    require_root!();
    let ns = Netns::new();
    let e = ns
        .run(|| AfPacketPort::open("rsw-nope", AfPacketOptions::default()))
        .err()
        .unwrap();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("rsw-nope"), "{e}");
    let e = AfPacketPort::open("much-too-long-name0", AfPacketOptions::default())
        .err()
        .unwrap();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn netdev_helpers_in_a_namespace() {
    require_root!();
    let lab = Lab::new(false);
    lab.port_ns.run(|| {
        assert!(netdev::exists(PORT_IF));
        assert!(!netdev::exists("rsw-nope"));
        let idx = netdev::ifindex(PORT_IF).unwrap();
        assert_eq!(netdev::ifname(idx).unwrap(), PORT_IF);

        netdev::set_up(PORT_IF, false).unwrap();
        assert!(!netdev::flags(PORT_IF).unwrap().is_up());
        let mac = [0x02, 0x52, 0x53, 0, 0, 0x09];
        netdev::set_mac(PORT_IF, mac).unwrap();
        assert_eq!(netdev::mac(PORT_IF).unwrap(), mac);
        netdev::set_mtu(PORT_IF, 1400).unwrap();
        assert_eq!(netdev::mtu(PORT_IF).unwrap(), 1400);
        let st = netdev::link_state(PORT_IF).unwrap();
        assert!(!st.admin_up && !st.oper_up && !st.carrier, "{st:?}");

        netdev::set_up(PORT_IF, true).unwrap();
        let st = netdev::link_state(PORT_IF).unwrap();
        assert!(st.admin_up && st.carrier, "{st:?}");

        let e = netdev::mtu("rsw-nope").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("rsw-nope"), "{e}");
        let e = netdev::set_mtu(PORT_IF, 10).unwrap_err();
        assert!(e.to_string().contains(PORT_IF), "{e}");
    });
    let shown = lab.port_ns.ip(&["link", "show", PORT_IF]);
    assert!(
        shown.contains("02:52:53:00:00:09") && shown.contains("mtu 1400"),
        "{shown}"
    );

    // The veth's carrier follows its peer.
    lab.peer_ns.ip(&["link", "set", PEER_IF, "down"]);
    let st = lab.port_ns.run(|| netdev::link_state(PORT_IF)).unwrap();
    assert!(st.admin_up && !st.carrier, "{st:?}");
}

#[test]
fn tap_frames_flow_persist_move_and_reattach() {
    require_root!();
    let home = Netns::new();
    let peer = Netns::new();
    let name = "rtap0";
    let our_ip = [198, 18, 2, 1];
    let peer_ip = [198, 18, 2, 2];

    let mut tap = home
        .run(|| TapPort::create(name, TapOptions::default()))
        .unwrap();
    assert_eq!(tap.name(), name);
    assert!(tap.offloads().vnet_hdr);
    tap.set_persist(true).unwrap();
    // Hand the device to the peer namespace and configure it there; our fd
    // keeps working.
    home.ip(&["link", "set", name, "netns", &peer.name]);
    peer.ip(&["addr", "add", "198.18.2.2/24", "dev", name]);
    peer.ip(&["link", "set", name, "up"]);
    assert_eq!(tap.current_name().unwrap(), name);
    let peer_mac = peer.run(|| netdev::mac(name)).unwrap();
    let arps = ping_through(&mut tap, our_ip, peer_mac, peer_ip, 1);
    assert!(arps >= 1);

    // Persistent: closing the fd (a daemon restart) leaves the device.
    drop(tap);
    let shown = peer.ip(&["link", "show", name]);
    assert!(shown.contains("NO-CARRIER"), "{shown}");

    // Re-attach only works where the device is now.
    let e = home.run(|| TapPort::attach(name)).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    let mut tap = peer.run(|| TapPort::attach(name)).unwrap();
    ping_through(&mut tap, our_ip, peer_mac, peer_ip, 2);

    // Single queue: a second attach is refused while we hold it; a create
    // of the same name too.
    let e = peer.run(|| TapPort::attach(name)).err().unwrap();
    assert_eq!(errno(&e), Some(libc::EBUSY), "{e}");
    let e = peer
        .run(|| TapPort::create(name, TapOptions::default()))
        .err()
        .unwrap();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");

    // Not persistent any more: the device goes with the last fd.
    tap.set_persist(false).unwrap();
    drop(tap);
    assert!(
        peer.try_ip(&["link", "show", name]).is_err(),
        "device survived"
    );
}

#[test]
fn tap_deleted_device_reports_gone() {
    require_root!();
    let ns = Netns::new();
    let mut tap = ns
        .run(|| TapPort::create("rtap1", TapOptions::default()))
        .unwrap();
    let frame = eth([0xff; 6], OUR_MAC, ETH_EXPERIMENTAL, &[1u8; 50]);
    // Down: the kernel refuses writes (EIO), reported as LinkDown.
    let e = tap
        .send_batch(&mut [Packet::from_frame(&frame)])
        .unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::LinkDown), "{e}");
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
    ns.ip(&["link", "set", "rtap1", "up"]);
    assert_eq!(
        tap.send_batch(&mut [Packet::from_frame(&frame)]).unwrap(),
        1
    );
    ns.ip(&["link", "del", "rtap1"]);
    let mut pkts: Vec<Packet> = (0..4).map(|_| Packet::new()).collect();
    let e = tap.recv_batch(&mut pkts).unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}");
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("rtap1"), "{e}");
    let e = tap
        .send_batch(&mut [Packet::from_frame(&frame)])
        .unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone), "{e}");
    assert!(tap.current_name().is_err());
}

#[test]
fn tap_multi_queue_attach_and_gso_write() {
    require_root!();
    let ns = Netns::new();
    let mq = TapOptions {
        multi_queue: true,
        ..TapOptions::default()
    };
    let mut q1 = ns.run(|| TapPort::create("rtap2", mq)).unwrap();
    let q2 = ns.run(|| TapPort::attach_with("rtap2", mq)).unwrap();
    // Default options say single-queue; attach adapts to the device.
    let q3 = ns.run(|| TapPort::attach("rtap2")).unwrap();
    assert!(q3.options().multi_queue);
    drop((q2, q3));

    // A GSO super-frame written to the TAP enters the kernel as one GSO
    // skb (seen by a vnet AF_PACKET socket on the device).
    ns.ip(&["link", "set", "rtap2", "up"]);
    let sniff = ns.run(|| RawSock::open("rtap2", true));
    let (frame, vnet) = tcp4_gso_frame(
        OUR_MAC,
        [0x02, 0, 0, 0, 0, 0x77],
        ([198, 18, 5, 1], 1),
        ([198, 18, 5, 2], 2),
        1200,
        4,
    );
    let mut p = Packet::from_frame(&frame);
    p.vnet = vnet;
    assert_eq!(q1.send_batch(std::slice::from_mut(&mut p)).unwrap(), 1);
    let got = sniff
        .recv_until(SECS5, |rx| rx.data.len() == frame.len())
        .expect("GSO frame written to the TAP not seen");
    assert_eq!(got.data, frame);
    assert!(
        got.vnet.is_gso() && got.vnet.gso_size == 1200,
        "{:?}",
        got.vnet
    );
}

/// TSO from the kernel: a TCP stream between two namespaces through two
/// TAPs that we relay arrives as super-frames (TUNSETOFFLOAD) and is
/// delivered intact when written to the other TAP.
#[test]
fn tap_relay_carries_tcp_superframes() {
    require_root!();
    let home = Netns::new();
    let cl = Netns::new();
    let sv = Netns::new();
    let mut ta = home
        .run(|| TapPort::create("rta", TapOptions::default()))
        .unwrap();
    let mut tb = home
        .run(|| TapPort::create("rtb", TapOptions::default()))
        .unwrap();
    home.ip(&["link", "set", "rta", "netns", &cl.name]);
    home.ip(&["link", "set", "rtb", "netns", &sv.name]);
    cl.ip(&["addr", "add", "198.18.6.1/24", "dev", "rta"]);
    cl.ip(&["link", "set", "rta", "up"]);
    sv.ip(&["addr", "add", "198.18.6.2/24", "dev", "rtb"]);
    sv.ip(&["link", "set", "rtb", "up"]);

    let bytes = 4 << 20;
    let (big, got) = tcp_transfer_through(
        &cl,
        &sv,
        "198.18.6.2:5202".parse().unwrap(),
        bytes,
        |done| relay(&mut ta, &mut tb, done, Duration::from_secs(20)),
    );
    assert_eq!(
        got, bytes,
        "stream not delivered intact through the TAP relay"
    );
    let gso: Vec<_> = big.iter().filter(|(_, v)| v.is_gso()).collect();
    assert!(
        !gso.is_empty(),
        "no TSO super-frame from the TAP ({} big frames)",
        big.len()
    );
    assert!(gso[0].1.needs_csum(), "{:?}", gso[0].1);
    assert_eq!(ta.stats().tx_rejected + tb.stats().tx_rejected, 0);
}
