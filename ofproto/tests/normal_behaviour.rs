//! NORMAL as the lab topologies see it, through the public API only: frames
//! are walked hop by hop across bridges and links until they reach hosts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::VecDeque;

use ofproto::key::VLAN_CFI;
use ofproto::normal::{includes_vlan, MacTable, NormalDrop, NormalOutput};
use ofproto::port::{PortInfo, VlanConfig, VlanMode, OFPP_LOCAL};
use ofproto::{FlowKey, Millis};

// A per-thread allocation counter, so the "no allocation once warm" promise
// NORMAL makes to the datapath is checked rather than hoped for. Counting is
// per thread because the test harness runs tests in parallel.
thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

struct CountingAlloc;

// SAFETY: delegates every call to the system allocator unchanged; the only
// addition is bumping a const-initialised thread-local `Cell`, which never
// allocates (`try_with` also copes with thread teardown).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

const BCAST: [u8; 6] = [0xff; 6];

fn tag(vid: u16) -> u16 {
    vid | VLAN_CFI
}

fn frame(in_port: u32, tci: u16, src: [u8; 6], dst: [u8; 6]) -> FlowKey {
    let mut k = FlowKey::new();
    k.set_in_port(in_port);
    k.set_vlan_tci(tci);
    k.set_eth_src(src);
    k.set_eth_dst(dst);
    k
}

fn port(ofport: u32, name: &str, vlan: VlanConfig) -> PortInfo {
    PortInfo {
        vlan,
        ..PortInfo::new(ofport, name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Peer {
    Host(&'static str),
    Bridge(usize, u32),
}

struct Bridge {
    ports: Vec<PortInfo>,
    table: MacTable,
}

/// Bridges plus what sits at the far end of each of their ports.
struct Lab {
    bridges: Vec<Bridge>,
    wires: Vec<((usize, u32), Peer)>,
}

/// What one transmitted frame did across the lab.
#[derive(Debug, Default)]
struct Trip {
    /// (host, TCI on the host's wire), sorted.
    delivered: Vec<(&'static str, u16)>,
    /// (bridge, port it left on, TCI on the wire) for bridge-to-bridge hops.
    links: Vec<(usize, u32, u16)>,
    drops: Vec<(usize, NormalDrop)>,
}

impl Lab {
    fn new(bridges: Vec<Vec<PortInfo>>) -> Lab {
        Lab {
            bridges: bridges
                .into_iter()
                .map(|ports| Bridge {
                    ports,
                    table: MacTable::default(),
                })
                .collect(),
            wires: Vec::new(),
        }
    }

    fn host(&mut self, name: &'static str, br: usize, port: u32) {
        self.wires.push(((br, port), Peer::Host(name)));
    }

    fn link(&mut self, a: (usize, u32), b: (usize, u32)) {
        self.wires.push((a, Peer::Bridge(b.0, b.1)));
        self.wires.push((b, Peer::Bridge(a.0, a.1)));
    }

    fn peer(&self, br: usize, port: u32) -> Option<Peer> {
        self.wires
            .iter()
            .find(|(end, _)| *end == (br, port))
            .map(|(_, p)| *p)
    }

    fn attachment(&self, host: &str) -> (usize, u32) {
        self.wires
            .iter()
            .find(|(_, p)| matches!(p, Peer::Host(h) if *h == host))
            .map(|(end, _)| *end)
            .unwrap_or_else(|| panic!("no host {host}"))
    }

    /// `host` transmits a frame with `tci`; follows every copy.
    fn send(&mut self, host: &str, tci: u16, src: [u8; 6], dst: [u8; 6], now: Millis) -> Trip {
        let (br, port) = self.attachment(host);
        let mut trip = Trip::default();
        let mut queue = VecDeque::from([(br, port, tci)]);
        let mut out: Vec<NormalOutput> = Vec::new();
        while let Some((b, p, tci)) = queue.pop_front() {
            assert!(trip.links.len() < 64, "forwarding loop");
            out.clear();
            let bridge = &mut self.bridges[b];
            let r = bridge
                .table
                .normal(&bridge.ports, &frame(p, tci, src, dst), now, &mut out);
            if let Some(d) = r.drop {
                trip.drops.push((b, d));
            }
            for o in &out {
                match self.peer(b, o.port) {
                    Some(Peer::Host(h)) => trip.delivered.push((h, o.tci)),
                    Some(Peer::Bridge(b2, p2)) => {
                        trip.links.push((b, o.port, o.tci));
                        queue.push_back((b2, p2, o.tci));
                    }
                    None => {}
                }
            }
        }
        trip.delivered.sort();
        trip
    }
}

fn mac(n: u8) -> [u8; 6] {
    [0x52, 0x54, 0x00, 0x00, 0x00, n]
}

/// LAB "L3": three access ports, two of them in VLAN 100 under different
/// names. VLAN membership is the tag, not the port name.
#[test]
fn normal_l3_access_vlans_isolate_broadcasts() {
    let mut lab = Lab::new(vec![vec![
        port(1, "vlan100", VlanConfig::access(100)),
        port(2, "vlan200", VlanConfig::access(200)),
        port(3, "vlan110", VlanConfig::access(100)),
    ]]);
    lab.host("h100", 0, 1);
    lab.host("h200", 0, 2);
    lab.host("h110", 0, 3);

    let t = lab.send("h110", 0, mac(3), BCAST, 0);
    assert_eq!(t.delivered, vec![("h100", 0)]);

    // The reply is unicast straight back, and nobody else sees it.
    let t = lab.send("h100", 0, mac(1), mac(3), 1);
    assert_eq!(t.delivered, vec![("h110", 0)]);

    // VLAN 200 is alone: its broadcast goes nowhere.
    let t = lab.send("h200", 0, mac(2), BCAST, 2);
    assert!(t.delivered.is_empty());
    assert_eq!(t.drops, vec![(0, NormalDrop::NoPorts)]);

    // Even knowing h100's MAC, h200 cannot reach it across VLANs: the
    // lookup is per VLAN, so it floods VLAN 200 (to nobody).
    let t = lab.send("h200", 0, mac(2), mac(1), 3);
    assert!(t.delivered.is_empty());
}

/// The same lab with the bridge's own LOCAL port, which OVS creates with no
/// tag, i.e. as a trunk of every VLAN: it hears every VLAN's floods, tagged.
#[test]
fn normal_l3_local_port_is_an_all_vlan_trunk() {
    let mut lab = Lab::new(vec![vec![
        port(1, "vlan100", VlanConfig::access(100)),
        port(2, "vlan200", VlanConfig::access(200)),
        port(3, "vlan110", VlanConfig::access(100)),
        port(OFPP_LOCAL, "br0", VlanConfig::default()),
    ]]);
    lab.host("h100", 0, 1);
    lab.host("h200", 0, 2);
    lab.host("h110", 0, 3);
    lab.host("br0", 0, OFPP_LOCAL);

    let t = lab.send("h110", 0, mac(3), BCAST, 0);
    assert_eq!(t.delivered, vec![("br0", tag(100)), ("h100", 0)]);
    let t = lab.send("h200", 0, mac(2), BCAST, 0);
    assert_eq!(t.delivered, vec![("br0", tag(200))]);
    // Untagged from LOCAL is VLAN 0, which no access port is in.
    let t = lab.send("br0", 0, mac(0xfe), BCAST, 0);
    assert!(t.delivered.is_empty());
    let t = lab.send("br0", tag(200), mac(0xfe), BCAST, 0);
    assert_eq!(t.delivered, vec![("h200", 0)]);
}

/// LAB "L10": two bridges joined by a trunk carrying VLANs 100 and 101, an
/// access host of each VLAN on each bridge.
fn l10() -> Lab {
    let side = |_: usize| {
        vec![
            port(1, "a100", VlanConfig::access(100)),
            port(2, "a101", VlanConfig::access(101)),
            port(10, "trunk", VlanConfig::trunk(vec![100, 101])),
        ]
    };
    let mut lab = Lab::new(vec![side(0), side(1)]);
    lab.host("h1", 0, 1); // VLAN 100 on br0
    lab.host("h2", 0, 2); // VLAN 101 on br0
    lab.host("h3", 1, 1); // VLAN 100 on br1
    lab.host("h4", 1, 2); // VLAN 101 on br1
    lab.link((0, 10), (1, 10));
    lab
}

#[test]
fn normal_l10_vlans_cross_the_trunk_tagged() {
    let mut lab = l10();

    // h1's ARP request crosses tagged 100 and reaches only h3, untagged.
    let t = lab.send("h1", 0, mac(1), BCAST, 0);
    assert_eq!(t.links, vec![(0, 10, tag(100))]);
    assert_eq!(t.delivered, vec![("h3", 0)]);

    // h3's reply is unicast along the learned path; nothing floods.
    let t = lab.send("h3", 0, mac(3), mac(1), 1);
    assert_eq!(t.links, vec![(1, 10, tag(100))]);
    assert_eq!(t.delivered, vec![("h1", 0)]);
    assert!(t.drops.is_empty());

    // VLAN 101 is its own world.
    let t = lab.send("h2", 0, mac(2), BCAST, 2);
    assert_eq!(t.links, vec![(0, 10, tag(101))]);
    assert_eq!(t.delivered, vec![("h4", 0)]);
    let t = lab.send("h4", 0, mac(4), mac(2), 3);
    assert_eq!(t.delivered, vec![("h2", 0)]);

    // Each bridge learned the remote hosts on the trunk, in their VLANs.
    let br1 = &lab.bridges[1].table;
    assert_eq!(br1.lookup(mac(1), 100, 3), Some(10));
    assert_eq!(br1.lookup(mac(2), 101, 3), Some(10));
    assert_eq!(br1.lookup(mac(1), 101, 3), None);
    let fdb = lab.bridges[0].table.format_fdb(3);
    assert!(
        fdb.contains("   10   100  52:54:00:00:00:03    0\n"),
        "{fdb}"
    );
    assert!(
        fdb.contains("    1   100  52:54:00:00:00:01    0\n"),
        "{fdb}"
    );

    // A unicast to a host of the other VLAN does not leak: h1 → h4's MAC
    // is unknown in VLAN 100, so it floods VLAN 100 only.
    let t = lab.send("h1", 0, mac(1), mac(4), 4);
    assert_eq!(t.delivered, vec![("h3", 0)]);
}

#[test]
fn normal_l10_trunk_refuses_other_vlans_and_untagged() {
    let mut lab = l10();
    let mut out = Vec::new();
    let br = &mut lab.bridges[1];
    for tci in [tag(102), 0, tag(1)] {
        out.clear();
        let r = br
            .table
            .normal(&br.ports, &frame(10, tci, mac(9), BCAST), 0, &mut out);
        assert_eq!(r.drop, Some(NormalDrop::InputVlanInvalid), "tci {tci:#x}");
    }
    assert!(br.table.is_empty());
}

/// A native-untagged uplink (as to a hypervisor's untagged management
/// network) between a trunk bridge and an access host.
#[test]
fn normal_native_untagged_uplink_between_bridges() {
    let mut lab = Lab::new(vec![
        vec![
            port(1, "mgmt", VlanConfig::access(10)),
            port(
                9,
                "up",
                VlanConfig::new(Some(VlanMode::NativeUntagged), Some(10), vec![20]),
            ),
            port(2, "data", VlanConfig::access(20)),
        ],
        vec![
            port(9, "up", VlanConfig::trunk(vec![])),
            port(1, "m", VlanConfig::access(0)),
            port(2, "d", VlanConfig::access(20)),
        ],
    ]);
    lab.host("mgmt", 0, 1);
    lab.host("data", 0, 2);
    lab.host("m", 1, 1);
    lab.host("d", 1, 2);
    lab.link((0, 9), (1, 9));

    // VLAN 10 leaves untagged, so on br1 (plain trunk) it is VLAN 0.
    let t = lab.send("mgmt", 0, mac(1), BCAST, 0);
    assert_eq!(t.links, vec![(0, 9, 0)]);
    assert_eq!(t.delivered, vec![("m", 0)]);
    // VLAN 20 stays tagged end to end.
    let t = lab.send("data", 0, mac(2), BCAST, 0);
    assert_eq!(t.links, vec![(0, 9, tag(20))]);
    assert_eq!(t.delivered, vec![("d", 0)]);
    // And back: untagged from br1 lands in br0's native VLAN 10.
    let t = lab.send("m", 0, mac(3), mac(1), 1);
    assert_eq!(t.delivered, vec![("mgmt", 0)]);
}

#[test]
fn normal_warm_path_does_not_allocate() {
    let ports: Vec<PortInfo> = vec![
        port(1, "a", VlanConfig::access(100)),
        port(2, "b", VlanConfig::access(100)),
        port(3, "t", VlanConfig::trunk(vec![100, 200])),
        port(OFPP_LOCAL, "br0", VlanConfig::default()),
    ];
    let mut table = MacTable::default();
    let mut out: Vec<NormalOutput> = Vec::with_capacity(16);
    let frames = [
        frame(1, 0, mac(1), BCAST),                   // flood
        frame(2, 0, mac(2), mac(1)),                  // known unicast
        frame(1, 0, mac(1), mac(2)),                  // known unicast back
        frame(3, tag(100), mac(3), mac(9)),           // unknown unicast floods
        frame(3, tag(200), mac(3), BCAST),            // another VLAN
        frame(1, 0, mac(1), mac(1)),                  // reflection
        frame(3, tag(300), mac(3), BCAST),            // refused VLAN
        frame(2, 0, [0x01, 0, 0x5e, 0, 0, 1], BCAST), // multicast source
    ];
    // Warm up: learn every MAC, size every structure.
    for (i, k) in frames.iter().enumerate() {
        out.clear();
        table.normal(&ports, k, i as Millis, &mut out);
    }
    // The counter must see allocations at all, or a zero below means nothing.
    let probe = allocs();
    drop(std::hint::black_box(Vec::<u8>::with_capacity(8)));
    assert!(allocs() > probe, "allocation counter is not counting");

    let before = allocs();
    let mut sent = 0;
    for n in 0..10_000u64 {
        let k = &frames[n as usize % frames.len()];
        out.clear();
        table.normal(&ports, k, 100 + n, &mut out);
        sent += out.len();
    }
    assert_eq!(allocs() - before, 0, "NORMAL allocated on the warm path");
    assert!(sent > 10_000);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn vlan_config() -> impl Strategy<Value = VlanConfig> {
        let vid = prop_oneof![Just(0u16), 1u16..4, Just(4095)];
        (
            prop_oneof![
                Just(VlanMode::Access),
                Just(VlanMode::Trunk),
                Just(VlanMode::NativeTagged),
                Just(VlanMode::NativeUntagged)
            ],
            proptest::option::of(vid.clone()),
            proptest::collection::vec(vid, 0..3),
        )
            .prop_map(|(mode, tag, trunks)| VlanConfig::new(Some(mode), tag, trunks))
    }

    fn port_info() -> impl Strategy<Value = (VlanConfig, bool, bool)> {
        (vlan_config(), any::<bool>(), prop::bool::weighted(0.8))
    }

    proptest! {
        /// Whatever the configuration and traffic: no copy goes back out the
        /// input port or to a port outside the frame's VLAN, outputs are
        /// sorted and unique, and the table never outgrows its bound.
        #[test]
        fn normal_invariants(
            cfgs in proptest::collection::vec(port_info(), 1..6),
            pkts in proptest::collection::vec(
                (0u32..7, prop_oneof![Just(0u16), Just(0x1000u16), 0x1000u16..0x1004, 0xf001u16..0xf004],
                 0u8..6, 0u8..7),
                1..60),
        ) {
            let ports: Vec<PortInfo> = cfgs
                .into_iter()
                .enumerate()
                .map(|(i, (vlan, no_flood, up))| PortInfo {
                    vlan,
                    no_flood,
                    up,
                    ..PortInfo::new(i as u32 + 1, format!("p{i}"))
                })
                .collect();
            let mut table = MacTable::new(50, 4);
            let mut out = Vec::new();
            for (i, (in_port, tci, src, dst)) in pkts.into_iter().enumerate() {
                // dst 6 stands for broadcast.
                let dst = if dst == 6 { BCAST } else { mac(dst) };
                out.clear();
                let r = table.normal(&ports, &frame(in_port, tci, mac(src), dst), i as Millis * 7, &mut out);
                prop_assert!(table.len() <= 4);
                prop_assert_eq!(r.drop.is_some(), out.is_empty());
                for w in out.windows(2) {
                    prop_assert!(w[0].port < w[1].port);
                }
                for o in &out {
                    prop_assert_ne!(o.port, in_port);
                    let p = ports.iter().find(|p| p.ofport == o.port).unwrap();
                    prop_assert!(p.up);
                    prop_assert!(includes_vlan(&p.vlan, r.vlan.unwrap()));
                    // Tagged output carries the frame's VLAN.
                    if o.tci != 0 {
                        prop_assert_eq!(o.tci & 0x0fff, r.vlan.unwrap());
                        prop_assert!(o.tci & VLAN_CFI != 0);
                    }
                    if p.vlan.mode == VlanMode::Access {
                        prop_assert_eq!(o.tci, 0);
                    }
                }
                if r.flooded {
                    for p in &ports {
                        let expect = p.ofport != in_port && p.up && !p.no_flood
                            && includes_vlan(&p.vlan, r.vlan.unwrap());
                        prop_assert_eq!(expect, out.iter().any(|o| o.port == p.ofport));
                    }
                }
            }
        }
    }
}
