//! The forwarding engine end to end without root: in-memory ports on a
//! bridge, real frames in, real frames out, counters, flows and caches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datapath::engine::Engine;
use datapath::port::memory::{MemoryPeer, MemoryPort};
use ofproto::pipeline::{Bridge, FailMode, Switch};
use ofproto::port::{PortInfo, VlanConfig};
use ofproto::syntax::flow::{parse_flow_mod, FlowModCommand};

fn arp_request(src: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tpa);
    f
}

fn arp_reply(src: [u8; 6], dst: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&tpa);
    f
}

const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

struct Lab {
    engine: Engine,
    peers: Vec<MemoryPeer>,
}

fn lab(n_ports: u32, vlans: &[Option<u16>], mode: FailMode) -> Lab {
    let mut sw = Switch::new();
    let mut b = Bridge::new("br0");
    b.set_fail_mode(mode, 0);
    for p in 1..=n_ports {
        let mut info = PortInfo::new(p, format!("p{p}"));
        if let Some(Some(tag)) = vlans.get(p as usize - 1) {
            info.vlan = VlanConfig::access(*tag);
        }
        b.set_port(info);
    }
    sw.add_bridge(b);
    let start = Instant::now();
    let clock = Arc::new(move || start.elapsed().as_millis() as u64);
    let mut engine = Engine::start(sw, 2, clock).unwrap();
    let mut peers = Vec::new();
    for p in 1..=n_ports {
        let (port, peer) = MemoryPort::pair(256).unwrap();
        engine.add_port((0, p), Box::new(port)).unwrap();
        peers.push(peer);
    }
    Lab { engine, peers }
}

const WAIT: Duration = Duration::from_secs(2);

#[test]
fn normal_floods_then_forwards_unicast() {
    let l = lab(3, &[], FailMode::Standalone);
    let req = arp_request(A, [198, 18, 0, 1], [198, 18, 0, 2]);
    l.peers[0].send(&req).unwrap();
    assert_eq!(l.peers[1].recv_timeout(WAIT).unwrap().data, req);
    assert_eq!(l.peers[2].recv_timeout(WAIT).unwrap().data, req);
    let rep = arp_reply(B, A, [198, 18, 0, 2], [198, 18, 0, 1]);
    l.peers[1].send(&rep).unwrap();
    assert_eq!(l.peers[0].recv_timeout(WAIT).unwrap().data, rep);
    assert!(
        l.peers[2]
            .recv_timeout(Duration::from_millis(200))
            .is_none(),
        "learned: not flooded"
    );
    assert!(
        l.peers[0].recv_timeout(Duration::from_millis(50)).is_none(),
        "never back out the input port"
    );
    // Many packets of one flow: the cache serves them, counters add up.
    for _ in 0..50 {
        l.peers[1].send(&rep).unwrap();
    }
    for _ in 0..50 {
        assert!(l.peers[0].recv_timeout(WAIT).is_some());
    }
    std::thread::sleep(Duration::from_millis(300));
    let c = l.engine.port_counters((0, 2));
    assert_eq!(c.rx_packets, 51);
    let c = l.engine.port_counters((0, 1));
    assert_eq!(c.tx_packets, 51);
    let n = l.engine.read_switch(|sw, _| {
        sw.bridges[0]
            .tables
            .flows()
            .iter()
            .map(|f| f.flow.n_packets)
            .sum::<u64>()
    });
    assert_eq!(n, 52, "the NORMAL flow counted every packet, cached or not");
}

#[test]
fn vlan_access_ports_isolate() {
    let l = lab(3, &[Some(100), Some(200), Some(100)], FailMode::Standalone);
    let req = arp_request(A, [198, 18, 1, 12], [198, 18, 1, 10]);
    l.peers[2].send(&req).unwrap();
    assert_eq!(
        l.peers[0].recv_timeout(WAIT).unwrap().data,
        req,
        "same VLAN, untagged on access"
    );
    assert!(
        l.peers[1]
            .recv_timeout(Duration::from_millis(200))
            .is_none(),
        "other VLAN"
    );
}

#[test]
fn flow_changes_take_effect_at_once() {
    let l = lab(3, &[], FailMode::Secure);
    let req = arp_request(A, [198, 18, 0, 1], [198, 18, 0, 2]);
    l.peers[0].send(&req).unwrap();
    assert!(
        l.peers[1]
            .recv_timeout(Duration::from_millis(200))
            .is_none(),
        "secure: no flows, drop"
    );
    let fm = parse_flow_mod("in_port=1,actions=output:3", FlowModCommand::Add, None).unwrap();
    l.engine
        .with_switch(|sw, now| sw.bridges[0].tables.apply(&fm, now).map(|_| ()))
        .unwrap();
    l.peers[0].send(&req).unwrap();
    assert_eq!(l.peers[2].recv_timeout(WAIT).unwrap().data, req);
    let fm = parse_flow_mod(
        "in_port=1,actions=mod_vlan_vid:7,output:2",
        FlowModCommand::Modify,
        None,
    )
    .unwrap();
    l.engine
        .with_switch(|sw, now| sw.bridges[0].tables.apply(&fm, now).map(|_| ()))
        .unwrap();
    l.peers[0].send(&req).unwrap();
    let got = l.peers[1].recv_timeout(WAIT).unwrap().data;
    assert_eq!(&got[12..16], &[0x81, 0x00, 0x00, 0x07], "tag pushed");
    assert_eq!(&got[16..], &req[12..]);
}

#[test]
fn malformed_frames_are_counted_not_fatal() {
    let l = lab(2, &[], FailMode::Standalone);
    l.peers[0].send(&[1, 2, 3]).unwrap();
    let req = arp_request(A, [198, 18, 0, 1], [198, 18, 0, 2]);
    l.peers[0].send(&req).unwrap();
    assert_eq!(l.peers[1].recv_timeout(WAIT).unwrap().data, req);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(l.engine.port_counters((0, 1)).rx_errors, 1);
}
