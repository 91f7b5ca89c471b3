//! Unprivileged tests of the in-memory port pair.

use std::io;
use std::time::Duration;

use datapath::packet::{Packet, VnetHdr};
use datapath::port::memory::{MemoryOptions, MemoryPort};
use datapath::port::{port_fault, Offloads, PortFault, PortIo};

fn readable(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call's duration; zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

fn batch(n: usize) -> Vec<Packet> {
    (0..n).map(|_| Packet::new()).collect()
}

#[test]
fn injected_frames_are_received_in_order_with_readiness() {
    let (mut port, peer) = MemoryPort::pair(16).unwrap();
    let fd = port.raw_fd().unwrap();
    let mut pkts = batch(4);
    assert!(!readable(fd));
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 0);

    for i in 0..6u8 {
        peer.send(&[i; 60]).unwrap();
    }
    assert!(readable(fd));
    assert_eq!(peer.pending(), 6);
    // A full batch leaves frames behind: the fd stays readable.
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 4);
    assert!(readable(fd));
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.data(), &[i as u8; 60]);
        assert_eq!(p.vnet, VnetHdr::default());
    }
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 2);
    assert_eq!(pkts[1].data(), &[5u8; 60]);
    // Drained: not readable any more.
    assert!(!readable(fd));
}

#[test]
fn sent_frames_reach_the_peer() {
    let (mut port, peer) = MemoryPort::pair(16).unwrap();
    let mut pkts = vec![
        Packet::from_frame(b"first frame"),
        Packet::from_frame(b"second"),
    ];
    pkts[1].vnet.flags = VnetHdr::F_DATA_VALID;
    assert_eq!(port.send_batch(&mut pkts).unwrap(), 2);
    let f = peer.recv_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(f.data, b"first frame");
    let rest = peer.try_recv_all();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].data, b"second");
    assert_eq!(rest[0].vnet.flags, VnetHdr::F_DATA_VALID);
    assert!(peer.try_recv().is_none());
    assert!(peer.recv_timeout(Duration::from_millis(10)).is_none());
}

#[test]
fn vnet_headers_pass_through_when_offloaded() {
    let (mut port, peer) = MemoryPort::pair(4).unwrap();
    assert!(port.offloads().vnet_hdr);
    let v = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        gso_type: VnetHdr::GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    };
    peer.send_with_vnet(&[0u8; 3000], v).unwrap();
    let mut pkts = batch(2);
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 1);
    assert_eq!(pkts[0].vnet, v);
    assert_eq!(pkts[0].len(), 3000);
    assert_eq!(port.send_batch(&mut pkts[..1]).unwrap(), 1);
    assert_eq!(peer.try_recv().unwrap().vnet, v);
}

#[test]
fn ports_without_offloads_enforce_the_contract() {
    let (mut port, peer) = MemoryPort::pair_with(MemoryOptions {
        capacity: 4,
        offloads: Offloads { vnet_hdr: false },
    })
    .unwrap();
    assert!(!port.offloads().vnet_hdr);
    let gso = VnetHdr {
        gso_type: VnetHdr::GSO_TCPV4,
        gso_size: 1000,
        ..VnetHdr::default()
    };
    let e = peer.send_with_vnet(&[0u8; 100], gso).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let mut pkts = vec![
        Packet::from_frame(&[1u8; 60]),
        Packet::from_frame(&[2u8; 3000]),
    ];
    pkts[1].vnet = gso;
    let e = port.send_batch(&mut pkts).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(
        peer.try_recv().is_none(),
        "nothing of a rejected batch is sent"
    );
    pkts[1].vnet = VnetHdr::default();
    assert_eq!(port.send_batch(&mut pkts).unwrap(), 2);
}

#[test]
fn full_channels_apply_backpressure() {
    let (mut port, peer) = MemoryPort::pair(3).unwrap();
    let mut pkts: Vec<Packet> = (0..5).map(|i| Packet::from_frame(&[i; 20])).collect();
    assert_eq!(
        port.send_batch(&mut pkts).unwrap(),
        3,
        "the rest are tx drops"
    );
    assert_eq!(port.send_batch(&mut pkts).unwrap(), 0);
    assert_eq!(peer.try_recv_all().len(), 3);

    for _ in 0..3 {
        peer.send(&[9; 20]).unwrap();
    }
    let e = peer.send(&[9; 20]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn dropping_the_peer_makes_the_port_gone() {
    let (mut port, peer) = MemoryPort::pair(8).unwrap();
    let fd = port.raw_fd().unwrap();
    peer.send(&[1; 60]).unwrap();
    peer.send(&[2; 60]).unwrap();
    let mut pkts = batch(8);
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 2);
    assert!(!readable(fd));
    drop(peer);
    // The drop wakes a poller, and the frames it had injected come first.
    assert!(readable(fd));
    let e = port.recv_batch(&mut pkts).unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone));
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let e = port.send_batch(&mut pkts[..1]).unwrap_err();
    assert_eq!(port_fault(&e), Some(PortFault::Gone));
}

#[test]
fn frames_injected_before_the_peer_drops_are_still_delivered() {
    let (mut port, peer) = MemoryPort::pair(8).unwrap();
    for i in 0..3 {
        peer.send(&[i; 30]).unwrap();
    }
    drop(peer);
    let mut pkts = batch(2);
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 2);
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 1);
    assert!(port.recv_batch(&mut pkts).is_err());
}

#[test]
fn dropping_the_port_fails_peer_sends() {
    let (port, peer) = MemoryPort::pair(8).unwrap();
    drop(port);
    assert_eq!(
        peer.send(&[0; 60]).unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
}

#[test]
fn tx_clones_send_but_do_not_receive() {
    let (mut port, peer) = MemoryPort::pair(8).unwrap();
    let mut tx = port.try_clone_tx().unwrap();
    assert!(tx.raw_fd().is_none());
    peer.send(b"to the original").unwrap();
    let mut pkts = batch(2);
    assert_eq!(tx.recv_batch(&mut pkts).unwrap(), 0);
    assert_eq!(port.recv_batch(&mut pkts).unwrap(), 1);
    let sender = std::thread::spawn(move || {
        let mut p = [Packet::from_frame(b"from another thread")];
        tx.send_batch(&mut p).unwrap()
    });
    assert_eq!(sender.join().unwrap(), 1);
    assert_eq!(
        peer.recv_timeout(Duration::from_secs(1)).unwrap().data,
        b"from another thread"
    );
}

/// The readiness fd behaves like a socket in an epoll loop, including
/// edge-triggered registration (what mio uses): every injection after a
/// drain produces a new event, and a concurrent injector never leaves a
/// frame stranded behind a cleared fd.
#[test]
fn readiness_fd_works_in_an_edge_triggered_epoll_loop() {
    let (mut port, peer) = MemoryPort::pair(64).unwrap();
    let fd = port.raw_fd().unwrap();
    // SAFETY: epoll_create1 takes no pointers; checked.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 7,
    };
    // SAFETY: valid epoll fd, target fd and event struct.
    assert_eq!(
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) },
        0
    );

    const N: usize = 2000;
    let injector = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < N {
            match peer.send(&(sent as u32).to_be_bytes()) {
                Ok(()) => sent += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        peer // keep the channel connected until the receiver is done
    });
    let mut pkts = batch(16);
    let mut got = 0usize;
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got < N {
        assert!(
            std::time::Instant::now() < deadline,
            "stalled at {got} of {N}: lost wake-up"
        );
        // SAFETY: valid epoll fd and event buffer of the given length.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 4, 1000) };
        assert!(n >= 0);
        if n == 0 {
            continue;
        }
        // One receive per event: a full batch re-signals the fd itself.
        let k = port.recv_batch(&mut pkts).unwrap();
        for p in &pkts[..k] {
            assert_eq!(p.data(), &(got as u32).to_be_bytes(), "order");
            got += 1;
        }
    }
    let _peer = injector.join().unwrap();
    // SAFETY: closing the epoll fd we created.
    unsafe { libc::close(ep) };
}
