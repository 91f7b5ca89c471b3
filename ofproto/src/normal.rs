//! The NORMAL action: Open vSwitch's MAC-learning, VLAN-aware L2 switch as a
//! pure state machine (OVS 3.1 `xlate_normal` in ofproto-dpif-xlate.c plus
//! lib/mac-learning.c).
//!
//! # API
//!
//! One [`MacTable`] per bridge holds the learned MACs and the bridge's NORMAL
//! settings. The caller hands in the port list, the packet's flow key and the
//! current time; nothing here reads a clock or does I/O.
//!
//! ```text
//! MacTable::new(max_age_ms, capacity) / ::default() / ::with_ovs_limits(aging_secs, size)
//!   .normal(&ports, &key, now, &mut outputs) -> NormalResult   // the action itself
//!   .learn(mac, vlan, port, now) -> LearnResult                // source learning alone
//!   .lookup(mac, vlan, now) -> Option<u32>                     // destination lookup alone
//!   .expire(now) -> usize       .flush() -> usize      .flush_port(port) -> usize
//!   .entries(now) -> iterator of FdbEntry (oldest first, as fdb/show lists them)
//!   .format_fdb(now) -> String  // `ovs-appctl fdb/show` text
//!   .stats() -> MacStats        // `fdb/stats-show` counters
//!   settings: max_age_ms/set_max_age_ms, capacity/set_capacity,
//!             forward_bpdu/set_forward_bpdu, set_flood_vlans
//! input_vlan / includes_vlan / output_tci / is_reserved_mac  // the VLAN rules, reusable
//! ```
//!
//! [`MacTable::normal`] *appends* one [`NormalOutput`] per copy of the frame
//! to the caller's `Vec` (the caller clears it), in ascending port order, so
//! a warm caller reusing its `Vec` does not allocate. The table allocates
//! only when it learns a MAC it has never held before.
//!
//! # Behaviour (as OVS)
//!
//! * **Input port.** A port in `ports`, or `OFPP_CONTROLLER` / `OFPP_NONE`
//!   (what a controller uses for packets it injects): OVS treats those as a
//!   pseudo-bundle that accepts any VLAN as-is, is exempt from the reserved
//!   address check, learns nothing and excludes no port from a flood. Any
//!   other in_port is dropped ([`NormalDrop::UnknownInPort`]).
//! * **Input VLAN** ([`input_vlan`]): access ports accept only untagged or
//!   priority-tagged (VID 0) frames, which join VLAN `tag`; trunk ports take
//!   the frame's VID (0 if untagged) if the port trunks it; native-* ports
//!   put untagged/VID-0 frames in `tag` and accept tagged frames the port
//!   trunks. For native-* ports OVS always trunks the native VLAN and never
//!   VLAN 0 (bundle_set in ofproto-dpif.c); that is reproduced here.
//! * **Reserved destinations** (STP/LLDP/pause 01:80:c2:00:00:0x, Cisco
//!   CDP/VTP/PVST+, Extreme EDP/EAPS; see [`is_reserved_mac`]) are dropped
//!   before learning unless `forward_bpdu` is set, as OVS's `is_admissible`.
//! * **Learning**: (source MAC, VLAN) → input port, unless the source is
//!   multicast or the VLAN is one of the bridge's `flood_vlans`. A known MAC
//!   seen on another port moves. Entries idle (not seen *as a source*) for
//!   `max_age` expire. The table is bounded; when full, OVS's "fair"
//!   eviction applies: the least recently seen entry of the port holding
//!   the most entries goes, so one port flooding random source MACs evicts
//!   its own junk rather than everyone else's hosts.
//! * **Forwarding**: a destination learned in the frame's VLAN gets one copy
//!   on its port, unless that is the input port (dropped, never reflected).
//!   Unknown unicast, multicast and broadcast flood to every port that
//!   carries the VLAN, except the input port and ports that are `no_flood`.
//!   `ports` may be in any order; outputs come out in ascending ofport order
//!   (LOCAL, 0xfffe, last).
//! * **Output tagging** ([`output_tci`]): access → untagged; trunk and
//!   native-tagged → tagged; native-untagged → untagged for its native VLAN,
//!   tagged otherwise. PCP is preserved. As in OVS's `xvlan_put`, a frame is
//!   tagged only if VID|PCP is non-zero: VLAN 0 with PCP 0 leaves a trunk
//!   untagged, VLAN 0 with a PCP leaves it priority-tagged.
//!
//! # Where this differs from OVS, on purpose
//!
//! * Ports that are down (`up == false`) are skipped when flooding, and a
//!   unicast to a learned port that is down is dropped
//!   ([`NormalDrop::LearnedPortDown`]), as rswitch's port model specifies.
//!   OVS itself only consults link state for bond members; for a plain port
//!   it would emit the output and let the datapath drop it.
//! * If a learned port no longer carries the frame's VLAN (its VLAN config
//!   changed and the caller did not call [`MacTable::flush_port`], which OVS
//!   does on every such change), the stale entry is ignored and the frame
//!   floods, rather than leaking into a VLAN the port is not in.
//! * Expiry is checked lazily on every lookup, so an expired entry is never
//!   used even if [`MacTable::expire`] has not run; OVS relies on its main
//!   loop running `mac_learning_run` on time.
//!
//! # Out of scope
//!
//! Mirrors, bonds (and their gratuitous-ARP learning lock), STP/RSTP port
//! states, IGMP/MLD snooping, QinQ (`dot1q-tunnel`, second tags), static FDB
//! entries (`fdb/add`) and `other_config:priority-tags`.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::key::{mac_from_u64, mac_to_u64, FlowKey, ETH_DST, ETH_SRC};
use crate::key::{VLAN_CFI, VLAN_PCP_MASK, VLAN_VID_MASK};
use crate::port::{port_name, PortInfo, VlanConfig, VlanMode, OFPP_CONTROLLER, OFPP_NONE};
use crate::Millis;

/// OVS's default `other_config:mac-aging-time` (300 s).
pub const DEFAULT_MAX_AGE_MS: Millis = 300_000;
/// OVS's default `other_config:mac-table-size` (`MAC_DEFAULT_MAX`).
pub const DEFAULT_CAPACITY: usize = 2048;
/// Bounds OVS applies to the aging time (`normalize_idle_time`: 15..=3600 s).
pub const OVS_MIN_MAX_AGE_MS: Millis = 15_000;
pub const OVS_MAX_MAX_AGE_MS: Millis = 3_600_000;
/// Bounds OVS applies to the table size (`mac_learning_set_max_entries`).
pub const OVS_MIN_CAPACITY: usize = 10;
pub const OVS_MAX_CAPACITY: usize = 1_000_000;

/// What learning a source MAC did to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LearnResult {
    /// Nothing learned: multicast source, a flood VLAN, a packet the
    /// controller injected, or the frame was dropped before learning.
    #[default]
    NotLearned,
    /// Already known on this port; its age was reset.
    Refreshed,
    /// A new entry.
    Learned,
    /// Was on port `from`; now on the input port.
    Moved { from: u32 },
}

/// Why NORMAL sent a frame nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormalDrop {
    /// in_port is not one of the bridge's ports (nor CONTROLLER/NONE).
    UnknownInPort,
    /// The input port does not accept the frame's VLAN tag.
    InputVlanInvalid,
    /// Reserved multicast destination (STP, LLDP, ...) and `forward_bpdu` is off.
    ReservedMulticast,
    /// The destination was learned on the input port.
    Reflect,
    /// The destination was learned on a port the bridge no longer has.
    LearnedPortUnknown,
    /// The destination was learned on a port whose link is down.
    LearnedPortDown,
    /// Flooding found no port to send to.
    NoPorts,
}

/// One copy of the frame to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormalOutput {
    pub port: u32,
    /// The TCI the frame must carry on this port, in [`FlowKey::vlan_tci`]'s
    /// convention: 0 = untagged, else VID | [`VLAN_CFI`] | PCP << 13.
    pub tci: u16,
}

/// What [`MacTable::normal`] decided, besides the outputs it appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NormalResult {
    /// The frame's VLAN inside the bridge; `None` if dropped before one was
    /// assigned (unknown in_port, disallowed VLAN).
    pub vlan: Option<u16>,
    pub learned: LearnResult,
    /// True if the destination was not known and the frame was flooded.
    pub flooded: bool,
    /// Set when no output was produced.
    pub drop: Option<NormalDrop>,
}

/// One learned MAC, for `fdb/show`-style listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    pub port: u32,
    pub vlan: u16,
    pub mac: [u8; 6],
    /// Whole seconds since the MAC was last seen as a source.
    pub age_secs: u64,
}

/// Lifetime counters, as `ovs-appctl fdb/stats-show` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MacStats {
    pub learned: u64,
    pub expired: u64,
    pub evicted: u64,
    pub moved: u64,
}

/// Index link meaning "none".
const NIL: u32 = u32::MAX;

/// Doubly-linked-list links stored by index, so entries can sit on two LRU
/// lists at once (global and per-port) without `unsafe` or per-node boxes.
#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
}

impl Link {
    const NONE: Link = Link {
        prev: NIL,
        next: NIL,
    };
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
    len: u32,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    /// All entries, least recently seen first (expiry walks it from the front).
    Global,
    /// The entries of one port, least recently seen first (fair eviction).
    Port,
}

#[derive(Clone, Debug)]
struct Entry {
    /// `vlan << 48 | mac`, the hash key.
    key: u64,
    port: u32,
    last_seen: Millis,
    /// On the global list; while the slot is free, `lru.next` chains the
    /// free list instead.
    lru: Link,
    port_lru: Link,
}

impl Entry {
    fn link(&mut self, which: Which) -> &mut Link {
        match which {
            Which::Global => &mut self.lru,
            Which::Port => &mut self.port_lru,
        }
    }
}

fn unlink(slots: &mut [Entry], list: &mut List, i: u32, which: Which) {
    let Link { prev, next } = *slots[i as usize].link(which);
    if prev == NIL {
        list.head = next;
    } else {
        slots[prev as usize].link(which).next = next;
    }
    if next == NIL {
        list.tail = prev;
    } else {
        slots[next as usize].link(which).prev = prev;
    }
    *slots[i as usize].link(which) = Link::NONE;
    list.len -= 1;
}

fn push_back(slots: &mut [Entry], list: &mut List, i: u32, which: Which) {
    let tail = list.tail;
    *slots[i as usize].link(which) = Link {
        prev: tail,
        next: NIL,
    };
    if tail == NIL {
        list.head = i;
    } else {
        slots[tail as usize].link(which).next = i;
    }
    list.tail = i;
    list.len += 1;
}

fn pack(mac: u64, vlan: u16) -> u64 {
    ((vlan & VLAN_VID_MASK) as u64) << 48 | (mac & 0xffff_ffff_ffff)
}

/// The I/G bit: set for multicast and broadcast addresses.
fn is_multicast_u64(mac: u64) -> bool {
    mac & (1 << 40) != 0
}

/// Whether OVS's NORMAL drops frames to `mac` unless `forward_bpdu` is set
/// (lib/packets.c `eth_addr_is_reserved`): IEEE 802.1D/802.1Q reserved
/// 01:80:c2:00:00:00-0f (STP, pause, LACP, LLDP, ...), Extreme EDP/EAPS, and
/// Cisco ISL, CDP/VTP/DTP/PAgP/UDLD, PVST+, UplinkFast and CFM addresses.
pub fn is_reserved_mac(mac: [u8; 6]) -> bool {
    let m = mac_to_u64(mac);
    matches!(
        m,
        0x0180_c200_0000..=0x0180_c200_000f
            | 0x00e0_2b00_0000
            | 0x00e0_2b00_0004
            | 0x00e0_2b00_0006
            | 0x0100_0c00_0000
            | 0x0100_0ccc_cccc
            | 0x0100_0ccc_cccd
            | 0x0100_0ccd_cdcd
            | 0x0100_0ccc_ccc0..=0x0100_0ccc_ccc7
    )
}

/// A VLAN number as OVS's bridge layer accepts it: out-of-range tags are
/// ignored, i.e. treated as VLAN 0 by the bundle layer.
fn port_vlan(cfg: &VlanConfig) -> u16 {
    match cfg.tag {
        Some(t) if t <= VLAN_VID_MASK => t,
        _ => 0,
    }
}

/// `trunks` as OVS's bitmap: out-of-range entries are ignored, and a list
/// with no valid entry means "all VLANs", like an empty one.
fn trunks_list_allows(trunks: &[u16], vlan: u16) -> bool {
    let mut any_valid = false;
    for &t in trunks {
        if t <= VLAN_VID_MASK {
            if t == vlan {
                return true;
            }
            any_valid = true;
        }
    }
    !any_valid
}

/// OVS's `xbundle_trunks_vlan`, including bundle_set's rewrite of native
/// ports' trunks: a native VLAN other than 0 is always trunked and VLAN 0
/// then never is.
fn trunks_vlan(cfg: &VlanConfig, vlan: u16) -> bool {
    match cfg.mode {
        VlanMode::Access => false,
        VlanMode::Trunk => trunks_list_allows(&cfg.trunks, vlan),
        VlanMode::NativeTagged | VlanMode::NativeUntagged => {
            let native = port_vlan(cfg);
            if native == 0 {
                trunks_list_allows(&cfg.trunks, vlan)
            } else {
                vlan != 0 && (vlan == native || trunks_list_allows(&cfg.trunks, vlan))
            }
        }
    }
}

/// Whether a port carries `vlan` at all (OVS `xbundle_includes_vlan`): the
/// test for flooding to it.
pub fn includes_vlan(cfg: &VlanConfig, vlan: u16) -> bool {
    match cfg.mode {
        VlanMode::Access => vlan == port_vlan(cfg),
        _ => trunks_vlan(cfg, vlan),
    }
}

/// The VLAN a frame with TCI `tci` belongs to when received on a port with
/// `cfg`, or `None` if the port must drop it (OVS `input_vid_is_valid` +
/// `xvlan_input_translate`). `cfg == None` is OVS's OFPP_NONE pseudo-port,
/// which accepts anything as-is.
pub fn input_vlan(cfg: Option<&VlanConfig>, tci: u16) -> Option<u16> {
    // Without the CFI bit the frame is untagged in FlowKey's convention.
    let vid = if tci & VLAN_CFI != 0 {
        tci & VLAN_VID_MASK
    } else {
        0
    };
    let Some(cfg) = cfg else {
        return Some(vid);
    };
    match cfg.mode {
        // Priority-tagged (VID 0) frames are fine on an access port.
        VlanMode::Access => (vid == 0).then(|| port_vlan(cfg)),
        VlanMode::Trunk => trunks_vlan(cfg, vid).then_some(vid),
        VlanMode::NativeTagged | VlanMode::NativeUntagged => {
            if vid == 0 {
                Some(port_vlan(cfg))
            } else {
                trunks_vlan(cfg, vid).then_some(vid)
            }
        }
    }
}

/// The TCI to put on a frame of `vlan` leaving a port with `cfg` (OVS
/// `xvlan_output_translate` + `xvlan_put`). `pcp` is the frame's priority
/// bits in place (`tci & 0xe000`). Assumes `includes_vlan(cfg, vlan)`.
pub fn output_tci(cfg: &VlanConfig, vlan: u16, pcp: u16) -> u16 {
    let vid = match cfg.mode {
        VlanMode::Access => return 0,
        VlanMode::Trunk | VlanMode::NativeTagged => vlan,
        VlanMode::NativeUntagged if vlan == port_vlan(cfg) => return 0,
        VlanMode::NativeUntagged => vlan,
    };
    // OVS tags iff VID|PCP is non-zero, so VLAN 0 with a priority goes out
    // priority-tagged and VLAN 0 without one goes out untagged.
    let tci = (vid & VLAN_VID_MASK) | (pcp & VLAN_PCP_MASK);
    if tci == 0 {
        0
    } else {
        tci | VLAN_CFI
    }
}

/// A bridge's MAC learning table plus its NORMAL settings.
#[derive(Clone, Debug)]
pub struct MacTable {
    /// (vlan, mac) → slot in `slots`.
    index: HashMap<u64, u32>,
    /// Entry storage; never longer than the largest `capacity` ever set, since
    /// freed slots are reused before the Vec grows.
    slots: Vec<Entry>,
    /// Head of the chain of free slots (through `Entry::lru.next`).
    free: u32,
    lru: List,
    /// Per-port LRU lists; a port is removed when its list empties, so this
    /// stays as small as the set of ports that currently have MACs.
    ports: HashMap<u32, List>,
    max_age: Millis,
    capacity: usize,
    forward_bpdu: bool,
    /// Bitmap of VLANs with learning disabled (OVS Bridge `flood_vlans`).
    flood_vlans: [u64; 64],
    stats: MacStats,
}

impl Default for MacTable {
    fn default() -> Self {
        MacTable::new(DEFAULT_MAX_AGE_MS, DEFAULT_CAPACITY)
    }
}

impl MacTable {
    /// A table whose entries expire after `max_age_ms` without being seen as
    /// a source, holding at most `capacity` entries (at least 1). Values are
    /// taken as given (tests want short ages); see [`MacTable::with_ovs_limits`].
    pub fn new(max_age_ms: Millis, capacity: usize) -> MacTable {
        MacTable {
            index: HashMap::new(),
            slots: Vec::new(),
            free: NIL,
            lru: List::EMPTY,
            ports: HashMap::new(),
            max_age: max_age_ms,
            capacity: clamp_capacity(capacity),
            forward_bpdu: false,
            flood_vlans: [0; 64],
            stats: MacStats::default(),
        }
    }

    /// A table configured from `other_config:mac-aging-time` (seconds) and
    /// `mac-table-size`, clamped to the ranges OVS enforces.
    pub fn with_ovs_limits(aging_secs: u64, size: usize) -> MacTable {
        let age = aging_secs
            .saturating_mul(1000)
            .clamp(OVS_MIN_MAX_AGE_MS, OVS_MAX_MAX_AGE_MS);
        MacTable::new(age, size.clamp(OVS_MIN_CAPACITY, OVS_MAX_CAPACITY))
    }

    pub fn max_age_ms(&self) -> Millis {
        self.max_age
    }

    /// Changes the aging time; like OVS it applies to existing entries too
    /// (their age is kept, their deadline moves).
    pub fn set_max_age_ms(&mut self, max_age_ms: Millis) {
        self.max_age = max_age_ms;
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes the size bound (at least 1), evicting least recently seen
    /// entries if the table is now over it.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = clamp_capacity(capacity);
        while self.index.len() > self.capacity {
            self.remove(self.lru.head);
            self.stats.evicted += 1;
        }
    }

    pub fn forward_bpdu(&self) -> bool {
        self.forward_bpdu
    }

    /// OVS Bridge `other_config:forward-bpdu`: when false (the default),
    /// frames to reserved multicast addresses are dropped.
    pub fn set_forward_bpdu(&mut self, forward: bool) {
        self.forward_bpdu = forward;
    }

    /// OVS Bridge `flood_vlans`: VLANs where nothing is learned and every
    /// frame floods. Like OVS, changing the set flushes the table.
    pub fn set_flood_vlans(&mut self, vlans: &[u16]) {
        let mut bitmap = [0u64; 64];
        for &v in vlans.iter().filter(|&&v| v <= VLAN_VID_MASK) {
            bitmap[v as usize / 64] |= 1 << (v % 64);
        }
        if bitmap != self.flood_vlans {
            self.flood_vlans = bitmap;
            self.flush();
        }
    }

    fn is_learning_vlan(&self, vlan: u16) -> bool {
        let v = (vlan & VLAN_VID_MASK) as usize;
        self.flood_vlans[v / 64] & (1 << (v % 64)) == 0
    }

    /// Number of entries held, including any expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn stats(&self) -> MacStats {
        self.stats
    }

    fn is_expired(&self, i: u32, now: Millis) -> bool {
        now.saturating_sub(self.slots[i as usize].last_seen) >= self.max_age
    }

    /// The port `mac` was learned on in `vlan`, if the entry has not expired.
    /// Multicast addresses and flood VLANs never have one (OVS
    /// `mac_learning_lookup`). Does not refresh the entry: only traffic
    /// *from* a MAC keeps it alive.
    pub fn lookup(&self, mac: [u8; 6], vlan: u16, now: Millis) -> Option<u32> {
        self.lookup_packed(mac_to_u64(mac), vlan, now)
    }

    fn lookup_packed(&self, mac: u64, vlan: u16, now: Millis) -> Option<u32> {
        if is_multicast_u64(mac) || !self.is_learning_vlan(vlan) {
            return None;
        }
        let &i = self.index.get(&pack(mac, vlan))?;
        (!self.is_expired(i, now)).then(|| self.slots[i as usize].port)
    }

    /// Records that `mac` was seen as a source on `port` in `vlan` at `now`.
    pub fn learn(&mut self, mac: [u8; 6], vlan: u16, port: u32, now: Millis) -> LearnResult {
        self.learn_packed(mac_to_u64(mac), vlan, port, now)
    }

    fn learn_packed(&mut self, mac: u64, vlan: u16, port: u32, now: Millis) -> LearnResult {
        if is_multicast_u64(mac) || !self.is_learning_vlan(vlan) {
            return LearnResult::NotLearned;
        }
        let key = pack(mac, vlan);
        if let Some(&i) = self.index.get(&key) {
            if self.is_expired(i, now) {
                // OVS would have aged this out already; coming back counts as
                // newly learned, not as a move.
                self.remove(i);
                self.stats.expired += 1;
            } else {
                return self.refresh(i, port, now);
            }
        }
        if self.index.len() >= self.capacity {
            // Drop what OVS's periodic run would already have aged out
            // before evicting anything live.
            self.expire(now);
            while self.index.len() >= self.capacity {
                self.evict_fairly();
            }
        }
        self.insert(key, port, now);
        self.stats.learned += 1;
        LearnResult::Learned
    }

    fn refresh(&mut self, i: u32, port: u32, now: Millis) -> LearnResult {
        let old = self.slots[i as usize].port;
        self.slots[i as usize].last_seen = now;
        unlink(&mut self.slots, &mut self.lru, i, Which::Global);
        push_back(&mut self.slots, &mut self.lru, i, Which::Global);
        if old == port {
            // The common case, once per packet: reorder within the port's
            // list without touching the port map.
            let list = self
                .ports
                .get_mut(&port)
                .expect("every entry is on its port's list");
            unlink(&mut self.slots, list, i, Which::Port);
            push_back(&mut self.slots, list, i, Which::Port);
            LearnResult::Refreshed
        } else {
            self.port_unlink(i);
            self.slots[i as usize].port = port;
            self.port_push(i);
            self.stats.moved += 1;
            LearnResult::Moved { from: old }
        }
    }

    fn insert(&mut self, key: u64, port: u32, now: Millis) {
        let entry = Entry {
            key,
            port,
            last_seen: now,
            lru: Link::NONE,
            port_lru: Link::NONE,
        };
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.slots[i as usize].lru.next;
            self.slots[i as usize] = entry;
            i
        } else {
            self.slots.push(entry);
            (self.slots.len() - 1) as u32
        };
        self.index.insert(key, i);
        push_back(&mut self.slots, &mut self.lru, i, Which::Global);
        self.port_push(i);
    }

    fn port_push(&mut self, i: u32) {
        let port = self.slots[i as usize].port;
        let list = self.ports.entry(port).or_insert(List::EMPTY);
        push_back(&mut self.slots, list, i, Which::Port);
    }

    fn port_unlink(&mut self, i: u32) {
        let port = self.slots[i as usize].port;
        let list = self
            .ports
            .get_mut(&port)
            .expect("every entry is on its port's list");
        unlink(&mut self.slots, list, i, Which::Port);
        if list.len == 0 {
            self.ports.remove(&port);
        }
    }

    /// Removes slot `i` from everything and puts it on the free chain.
    fn remove(&mut self, i: u32) {
        let key = self.slots[i as usize].key;
        self.index.remove(&key);
        unlink(&mut self.slots, &mut self.lru, i, Which::Global);
        self.port_unlink(i);
        self.slots[i as usize].lru.next = self.free;
        self.free = i;
    }

    /// OVS `evict_mac_entry_fairly`: the least recently seen entry of the
    /// port with the most entries. Ties (OVS: whatever its heap yields) go to
    /// the port whose oldest entry is oldest, then the lowest port number,
    /// so the choice is deterministic.
    fn evict_fairly(&mut self) {
        let slots = &self.slots;
        let victim = self
            .ports
            .iter()
            .max_by(|(pa, a), (pb, b)| {
                let age_a = slots[a.head as usize].last_seen;
                let age_b = slots[b.head as usize].last_seen;
                a.len.cmp(&b.len).then(age_b.cmp(&age_a)).then(pb.cmp(pa))
            })
            .map(|(_, list)| list.head);
        if let Some(i) = victim {
            self.remove(i);
            self.stats.evicted += 1;
        }
    }

    /// Removes entries idle for `max_age` or longer; returns how many. Cheap
    /// when nothing is due (it looks only at the oldest entries), so callers
    /// can run it every tick as OVS runs `mac_learning_run`.
    pub fn expire(&mut self, now: Millis) -> usize {
        let mut n = 0;
        // The global list is in last-seen order, so expired entries are a
        // prefix of it (as long as `now` never goes backwards).
        while self.lru.head != NIL && self.is_expired(self.lru.head, now) {
            self.remove(self.lru.head);
            self.stats.expired += 1;
            n += 1;
        }
        n
    }

    /// Forgets every entry (`ovs-appctl fdb/flush`); returns how many.
    pub fn flush(&mut self) -> usize {
        let n = self.index.len();
        self.index.clear();
        self.slots.clear();
        self.ports.clear();
        self.free = NIL;
        self.lru = List::EMPTY;
        n
    }

    /// Forgets the entries learned on `port`; returns how many. OVS does this
    /// when a port is deleted or its VLAN configuration changes, and so
    /// should the caller.
    pub fn flush_port(&mut self, port: u32) -> usize {
        let mut n = 0;
        while let Some(list) = self.ports.get(&port) {
            self.remove(list.head);
            n += 1;
        }
        n
    }

    /// The live entries, least recently seen first (the order `fdb/show`
    /// prints them in).
    pub fn entries(&self, now: Millis) -> impl Iterator<Item = FdbEntry> + '_ {
        let mut i = self.lru.head;
        std::iter::from_fn(move || {
            while i != NIL {
                let e = &self.slots[i as usize];
                let this = i;
                i = e.lru.next;
                if !self.is_expired(this, now) {
                    return Some(FdbEntry {
                        port: e.port,
                        vlan: (e.key >> 48) as u16,
                        mac: mac_from_u64(e.key),
                        age_secs: now.saturating_sub(e.last_seen) / 1000,
                    });
                }
            }
            None
        })
    }

    /// The table as `ovs-appctl fdb/show` prints it: ports by number,
    /// reserved ones (LOCAL) by name.
    pub fn format_fdb(&self, now: Millis) -> String {
        let mut s = String::from(" port  VLAN  MAC                Age\n");
        for e in self.entries(now) {
            let m = e.mac;
            let num;
            let port = match port_name(e.port) {
                Some(name) => name,
                None => {
                    num = e.port.to_string();
                    &num
                }
            };
            let _ = writeln!(
                s,
                "{port:>5}  {:>4}  {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}  {:>3}",
                e.vlan, m[0], m[1], m[2], m[3], m[4], m[5], e.age_secs
            );
        }
        s
    }

    /// Executes NORMAL for the packet `key` on a bridge with `ports` at time
    /// `now`: learns its source, then appends the copies to send to `out`
    /// (ascending port order) and reports what happened. `ports` is scanned
    /// linearly, which flooding needs anyway; any order is fine.
    pub fn normal(
        &mut self,
        ports: &[PortInfo],
        key: &FlowKey,
        now: Millis,
        out: &mut Vec<NormalOutput>,
    ) -> NormalResult {
        let mut res = NormalResult::default();
        let in_port = key.in_port();
        let in_info = ports.iter().find(|p| p.ofport == in_port);
        if in_info.is_none() && in_port != OFPP_CONTROLLER && in_port != OFPP_NONE {
            res.drop = Some(NormalDrop::UnknownInPort);
            return res;
        }
        let tci = key.vlan_tci();
        let Some(vlan) = input_vlan(in_info.map(|p| &p.vlan), tci) else {
            res.drop = Some(NormalDrop::InputVlanInvalid);
            return res;
        };
        res.vlan = Some(vlan);
        let pcp = if tci & VLAN_CFI != 0 {
            tci & VLAN_PCP_MASK
        } else {
            0
        };
        let dst = key.get(ETH_DST) as u64;

        // Admission and learning apply to real ports only; packets a
        // controller injects are neither filtered nor learned from.
        if in_info.is_some() {
            if !self.forward_bpdu && is_reserved_mac(mac_from_u64(dst)) {
                res.drop = Some(NormalDrop::ReservedMulticast);
                return res;
            }
            res.learned = self.learn_packed(key.get(ETH_SRC) as u64, vlan, in_port, now);
        }

        if let Some(port) = self.lookup_packed(dst, vlan, now) {
            // Never send a frame back where it came from.
            if in_info.is_some() && port == in_port {
                res.drop = Some(NormalDrop::Reflect);
                return res;
            }
            match ports.iter().find(|p| p.ofport == port) {
                None => {
                    res.drop = Some(NormalDrop::LearnedPortUnknown);
                    return res;
                }
                Some(p) if !p.up => {
                    res.drop = Some(NormalDrop::LearnedPortDown);
                    return res;
                }
                Some(p) if includes_vlan(&p.vlan, vlan) => {
                    out.push(NormalOutput {
                        port,
                        tci: output_tci(&p.vlan, vlan, pcp),
                    });
                    return res;
                }
                // Stale entry: the port left this VLAN. Flood instead.
                Some(_) => {}
            }
        }

        res.flooded = true;
        let start = out.len();
        for p in ports {
            if p.ofport != in_port && p.up && !p.no_flood && includes_vlan(&p.vlan, vlan) {
                out.push(NormalOutput {
                    port: p.ofport,
                    tci: output_tci(&p.vlan, vlan, pcp),
                });
            }
        }
        // Deterministic order whatever order `ports` is in; LOCAL (0xfffe)
        // naturally sorts last. Sorting in place does not allocate.
        out[start..].sort_unstable_by_key(|o| o.port);
        if out.len() == start {
            res.drop = Some(NormalDrop::NoPorts);
        }
        res
    }
}

fn clamp_capacity(capacity: usize) -> usize {
    // Slot indices are u32 with u32::MAX reserved for NIL.
    capacity.clamp(1, (u32::MAX - 1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::OFPP_LOCAL;

    const BCAST: [u8; 6] = [0xff; 6];

    fn mac(n: u8) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, n]
    }

    fn frame(in_port: u32, tci: u16, src: [u8; 6], dst: [u8; 6]) -> FlowKey {
        let mut k = FlowKey::new();
        k.set_in_port(in_port);
        k.set_vlan_tci(tci);
        k.set_eth_src(src);
        k.set_eth_dst(dst);
        k
    }

    fn tag(vid: u16) -> u16 {
        vid | VLAN_CFI
    }

    fn port(ofport: u32, vlan: VlanConfig) -> PortInfo {
        PortInfo {
            vlan,
            ..PortInfo::new(ofport, format!("p{ofport}"))
        }
    }

    fn native(mode: VlanMode, tag: u16, trunks: Vec<u16>) -> VlanConfig {
        VlanConfig::new(Some(mode), Some(tag), trunks)
    }

    /// Runs NORMAL and returns (result, outputs as (port, tci)).
    fn run(
        t: &mut MacTable,
        ports: &[PortInfo],
        k: &FlowKey,
        now: Millis,
    ) -> (NormalResult, Vec<(u32, u16)>) {
        let mut out = Vec::new();
        let r = t.normal(ports, k, now, &mut out);
        assert_eq!(
            r.drop.is_some(),
            out.is_empty(),
            "drop iff no outputs: {r:?}"
        );
        (r, out.iter().map(|o| (o.port, o.tci)).collect())
    }

    fn trunk_all(n: u32) -> Vec<PortInfo> {
        (1..=n).map(|i| PortInfo::new(i, format!("p{i}"))).collect()
    }

    #[test]
    fn learns_then_forwards_unicast() {
        let ports = trunk_all(3);
        let mut t = MacTable::default();
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(2)), 0);
        assert!(r.flooded);
        assert_eq!(r.learned, LearnResult::Learned);
        assert_eq!(r.vlan, Some(0));
        assert_eq!(out, vec![(2, 0), (3, 0)]);

        let (r, out) = run(&mut t, &ports, &frame(2, 0, mac(2), mac(1)), 10);
        assert!(!r.flooded);
        assert_eq!(r.learned, LearnResult::Learned);
        assert_eq!(out, vec![(1, 0)]);

        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(2)), 20);
        assert_eq!(r.learned, LearnResult::Refreshed);
        assert_eq!(out, vec![(2, 0)]);
        assert_eq!(t.lookup(mac(1), 0, 20), Some(1));
        assert_eq!(t.lookup(mac(1), 5, 20), None, "learning is per VLAN");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn broadcast_and_multicast_always_flood() {
        let ports = trunk_all(3);
        let mut t = MacTable::default();
        // Even after a host "is" ff:ff:ff:ff:ff:ff it cannot be learned.
        let mcast = [0x01, 0x00, 0x5e, 0, 0, 1];
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mcast, BCAST), 0);
        assert_eq!(r.learned, LearnResult::NotLearned);
        assert_eq!(out, vec![(2, 0), (3, 0)]);
        assert!(t.is_empty());
        assert_eq!(t.learn(BCAST, 0, 1, 0), LearnResult::NotLearned);
        let (r, out) = run(&mut t, &ports, &frame(2, 0, mac(2), mcast), 0);
        assert!(r.flooded);
        assert_eq!(out, vec![(1, 0), (3, 0)]);
    }

    #[test]
    fn flood_stays_within_vlan() {
        let ports = vec![
            port(1, VlanConfig::access(10)),
            port(2, VlanConfig::access(10)),
            port(3, VlanConfig::access(20)),
            port(4, VlanConfig::trunk(vec![10])),
            port(5, VlanConfig::trunk(vec![20])),
            port(6, VlanConfig::trunk(vec![])),
        ];
        let mut t = MacTable::default();
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(r.vlan, Some(10));
        assert_eq!(out, vec![(2, 0), (4, tag(10)), (6, tag(10))]);
        // Unknown unicast too.
        let (_, out) = run(&mut t, &ports, &frame(3, 0, mac(3), mac(99)), 0);
        assert_eq!(out, vec![(5, tag(20)), (6, tag(20))]);
    }

    #[test]
    fn access_port_tags_and_untags() {
        let ports = vec![
            port(1, VlanConfig::access(100)),
            port(2, VlanConfig::trunk(vec![])),
        ];
        let mut t = MacTable::default();
        let (_, out) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(2)), 0);
        assert_eq!(out, vec![(2, tag(100))]);
        let (r, out) = run(&mut t, &ports, &frame(2, tag(100), mac(2), mac(1)), 0);
        assert_eq!(r.vlan, Some(100));
        assert_eq!(out, vec![(1, 0)]);
        // The access host's MAC is learned in its VLAN, not VLAN 0.
        assert_eq!(t.lookup(mac(1), 100, 0), Some(1));
        assert_eq!(t.lookup(mac(1), 0, 0), None);
    }

    #[test]
    fn access_port_drops_tagged_input_but_takes_priority_tags() {
        let ports = vec![
            port(1, VlanConfig::access(100)),
            port(2, VlanConfig::trunk(vec![])),
        ];
        let mut t = MacTable::default();
        for vid in [100, 5] {
            let (r, out) = run(&mut t, &ports, &frame(1, tag(vid), mac(1), BCAST), 0);
            assert_eq!(r.drop, Some(NormalDrop::InputVlanInvalid));
            assert_eq!(r.vlan, None);
            assert!(out.is_empty());
        }
        assert!(t.is_empty(), "dropped frames are not learned");
        // VID 0 with PCP 3: accepted into VLAN 100, priority kept.
        let (r, out) = run(
            &mut t,
            &ports,
            &frame(1, VLAN_CFI | 3 << 13, mac(1), BCAST),
            0,
        );
        assert_eq!(r.vlan, Some(100));
        assert_eq!(out, vec![(2, tag(100) | 3 << 13)]);
    }

    #[test]
    fn trunk_list_filters_input_and_output() {
        let ports = vec![
            port(1, VlanConfig::trunk(vec![10, 20])),
            port(2, VlanConfig::trunk(vec![20])),
            port(3, VlanConfig::trunk(vec![])),
        ];
        let mut t = MacTable::default();
        let (r, _) = run(&mut t, &ports, &frame(1, tag(30), mac(1), BCAST), 0);
        assert_eq!(r.drop, Some(NormalDrop::InputVlanInvalid));
        // Untagged is VLAN 0, which this trunk list does not carry.
        let (r, _) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(r.drop, Some(NormalDrop::InputVlanInvalid));
        let (_, out) = run(&mut t, &ports, &frame(1, tag(10), mac(1), BCAST), 0);
        assert_eq!(out, vec![(3, tag(10))]);
        let (_, out) = run(&mut t, &ports, &frame(1, tag(20), mac(1), BCAST), 0);
        assert_eq!(out, vec![(2, tag(20)), (3, tag(20))]);
        // An empty list carries everything, VLAN 0 (untagged) included.
        let (r, out) = run(&mut t, &ports, &frame(3, 0, mac(3), BCAST), 0);
        assert_eq!(r.vlan, Some(0));
        assert!(out.is_empty() && r.drop == Some(NormalDrop::NoPorts));
        // VLAN 0 listed explicitly admits untagged frames.
        let ports = vec![
            port(1, VlanConfig::trunk(vec![0, 7])),
            port(2, VlanConfig::trunk(vec![])),
        ];
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(r.vlan, Some(0));
        assert_eq!(out, vec![(2, 0)]);
    }

    #[test]
    fn native_untagged_in_and_out() {
        let ports = vec![
            port(1, native(VlanMode::NativeUntagged, 10, vec![20])),
            port(2, VlanConfig::trunk(vec![])),
            port(3, VlanConfig::access(10)),
        ];
        let mut t = MacTable::default();
        // Untagged in → native VLAN.
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(r.vlan, Some(10));
        assert_eq!(out, vec![(2, tag(10)), (3, 0)]);
        // Tagged native VLAN in is accepted too (OVS always trunks the native VLAN).
        let (r, _) = run(&mut t, &ports, &frame(1, tag(10), mac(1), BCAST), 0);
        assert_eq!(r.vlan, Some(10));
        let (r, out) = run(&mut t, &ports, &frame(1, tag(20), mac(1), BCAST), 0);
        assert_eq!(r.vlan, Some(20));
        assert_eq!(out, vec![(2, tag(20))]);
        let (r, _) = run(&mut t, &ports, &frame(1, tag(30), mac(1), BCAST), 0);
        assert_eq!(r.drop, Some(NormalDrop::InputVlanInvalid));
        // Out: native VLAN untagged, others tagged.
        let (_, out) = run(&mut t, &ports, &frame(2, tag(10), mac(2), BCAST), 0);
        assert_eq!(out, vec![(1, 0), (3, 0)]);
        let (_, out) = run(&mut t, &ports, &frame(2, tag(20), mac(2), BCAST), 0);
        assert_eq!(out, vec![(1, tag(20))]);
        // VLAN 0 is never trunked on a native port with a native VLAN.
        let (_, out) = run(&mut t, &ports, &frame(2, 0, mac(2), BCAST), 0);
        assert!(out.is_empty());
    }

    #[test]
    fn native_tagged_in_and_out() {
        let ports = vec![
            port(1, native(VlanMode::NativeTagged, 10, vec![])),
            port(2, VlanConfig::access(10)),
            port(3, VlanConfig::access(30)),
        ];
        let mut t = MacTable::default();
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(r.vlan, Some(10));
        assert_eq!(out, vec![(2, 0)]);
        // Empty trunks: carries every VLAN (but 0).
        let (r, out) = run(&mut t, &ports, &frame(1, tag(30), mac(1), BCAST), 0);
        assert_eq!(r.vlan, Some(30));
        assert_eq!(out, vec![(3, 0)]);
        // Out: always tagged, native VLAN included.
        let (_, out) = run(&mut t, &ports, &frame(2, 0, mac(2), BCAST), 0);
        assert_eq!(out, vec![(1, tag(10))]);
        let (_, out) = run(&mut t, &ports, &frame(3, 0, mac(3), BCAST), 0);
        assert_eq!(out, vec![(1, tag(30))]);
    }

    #[test]
    fn pcp_preserved_on_tagged_output() {
        let ports = vec![
            port(1, VlanConfig::trunk(vec![])),
            port(2, VlanConfig::trunk(vec![])),
            port(3, VlanConfig::access(100)),
            port(4, native(VlanMode::NativeUntagged, 100, vec![])),
        ];
        let mut t = MacTable::default();
        let tci = tag(100) | 5 << 13;
        let (_, out) = run(&mut t, &ports, &frame(1, tci, mac(1), BCAST), 0);
        assert_eq!(out, vec![(2, tci), (3, 0), (4, 0)]);
        // VLAN 0 with a priority leaves a trunk priority-tagged, as OVS does.
        let (_, out) = run(
            &mut t,
            &ports,
            &frame(1, VLAN_CFI | 5 << 13, mac(1), BCAST),
            0,
        );
        assert_eq!(out, vec![(2, VLAN_CFI | 5 << 13)]);
        let (_, out) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(out, vec![(2, 0)]);
    }

    #[test]
    fn mac_move_is_followed_and_counted() {
        let ports = trunk_all(3);
        let mut t = MacTable::default();
        run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        let (r, _) = run(&mut t, &ports, &frame(2, 0, mac(1), BCAST), 5);
        assert_eq!(r.learned, LearnResult::Moved { from: 1 });
        assert_eq!(t.lookup(mac(1), 0, 5), Some(2));
        let (_, out) = run(&mut t, &ports, &frame(3, 0, mac(3), mac(1)), 6);
        assert_eq!(out, vec![(2, 0)]);
        assert_eq!(t.stats().moved, 1);
        assert_eq!(t.stats().learned, 2);
        // Port lists stay consistent after a move.
        assert_eq!(t.flush_port(1), 0);
        assert_eq!(t.flush_port(2), 1);
    }

    #[test]
    fn entries_age_out_unless_refreshed() {
        let mut t = MacTable::new(10_000, 16);
        t.learn(mac(1), 0, 1, 0);
        t.learn(mac(2), 0, 2, 0);
        assert_eq!(t.lookup(mac(1), 0, 9_999), Some(1));
        // Being a destination does not keep an entry alive; being a source does.
        assert_eq!(t.learn(mac(2), 0, 2, 6_000), LearnResult::Refreshed);
        assert_eq!(t.lookup(mac(1), 0, 10_000), None);
        assert_eq!(t.lookup(mac(2), 0, 10_000), Some(2));
        assert_eq!(t.entries(10_000).count(), 1);
        assert_eq!(t.expire(10_000), 1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.expire(15_999), 0);
        assert_eq!(t.expire(16_000), 1);
        assert!(t.is_empty());
        assert_eq!(t.stats().expired, 2);
        // An expired entry seen again is learned afresh, even on a new port.
        t.learn(mac(3), 0, 1, 20_000);
        assert_eq!(t.learn(mac(3), 0, 2, 30_000), LearnResult::Learned);
        assert_eq!(t.stats().moved, 0);
    }

    #[test]
    fn expired_destination_floods_again() {
        let ports = trunk_all(3);
        let mut t = MacTable::new(DEFAULT_MAX_AGE_MS, 16);
        run(&mut t, &ports, &frame(2, 0, mac(2), BCAST), 0);
        let (_, out) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(2)), 299_999);
        assert_eq!(out, vec![(2, 0)]);
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(2)), 300_000);
        assert!(r.flooded);
        assert_eq!(out, vec![(2, 0), (3, 0)]);
    }

    #[test]
    fn max_age_change_applies_to_existing_entries() {
        let mut t = MacTable::default();
        t.learn(mac(1), 0, 1, 0);
        t.set_max_age_ms(20_000);
        assert_eq!(t.lookup(mac(1), 0, 19_999), Some(1));
        assert_eq!(t.lookup(mac(1), 0, 20_000), None);
    }

    #[test]
    fn reflection_is_dropped() {
        let ports = trunk_all(3);
        let mut t = MacTable::default();
        run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(5), mac(1)), 1);
        assert_eq!(r.drop, Some(NormalDrop::Reflect));
        assert!(out.is_empty());
        assert_eq!(
            r.learned,
            LearnResult::Learned,
            "learning happens before the drop"
        );
    }

    #[test]
    fn down_and_no_flood_ports_are_not_flooded() {
        let mut ports = trunk_all(4);
        ports[1].up = false;
        ports[2].no_flood = true;
        let mut t = MacTable::default();
        let (_, out) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(out, vec![(4, 0)]);
        // A learned no_flood port still gets its unicast.
        run(&mut t, &ports, &frame(3, 0, mac(3), BCAST), 0);
        let (_, out) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(3)), 0);
        assert_eq!(out, vec![(3, 0)]);
        // A learned port that went down: dropped, not flooded.
        run(&mut t, &ports, &frame(2, 0, mac(2), BCAST), 0);
        let (r, _) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(2)), 0);
        assert_eq!(r.drop, Some(NormalDrop::LearnedPortDown));
        // No eligible port at all.
        ports[3].up = false;
        let (r, _) = run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        assert_eq!(r.drop, Some(NormalDrop::NoPorts));
        assert!(r.flooded);
    }

    #[test]
    fn unknown_ports_and_injected_packets() {
        let ports = vec![
            port(1, VlanConfig::access(10)),
            port(2, VlanConfig::trunk(vec![10])),
            port(OFPP_LOCAL, VlanConfig::access(10)),
        ];
        let mut t = MacTable::default();
        let (r, _) = run(&mut t, &ports, &frame(9, 0, mac(9), BCAST), 0);
        assert_eq!(r.drop, Some(NormalDrop::UnknownInPort));
        // in_port=CONTROLLER: any VLAN accepted, nothing learned, every port
        // that carries the VLAN gets it (LOCAL last).
        let (r, out) = run(
            &mut t,
            &ports,
            &frame(OFPP_CONTROLLER, tag(10), mac(7), BCAST),
            0,
        );
        assert_eq!(r.learned, LearnResult::NotLearned);
        assert_eq!(out, vec![(1, 0), (2, tag(10)), (OFPP_LOCAL, 0)]);
        assert!(t.is_empty());
        // Learned on a port since removed from the bridge.
        t.learn(mac(4), 10, 4, 0);
        let (r, _) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(4)), 0);
        assert_eq!(r.drop, Some(NormalDrop::LearnedPortUnknown));
    }

    #[test]
    fn stale_entry_for_a_port_that_left_the_vlan_floods() {
        let mut ports = vec![
            port(1, VlanConfig::access(10)),
            port(2, VlanConfig::access(10)),
            port(3, VlanConfig::access(10)),
        ];
        let mut t = MacTable::default();
        run(&mut t, &ports, &frame(2, 0, mac(2), BCAST), 0);
        ports[1].vlan = VlanConfig::access(20);
        let (r, out) = run(&mut t, &ports, &frame(1, 0, mac(1), mac(2)), 0);
        assert!(r.flooded);
        assert_eq!(out, vec![(3, 0)]);
    }

    #[test]
    fn reserved_destinations_dropped_unless_forward_bpdu() {
        let ports = trunk_all(2);
        let stp = [0x01, 0x80, 0xc2, 0, 0, 0];
        let lldp = [0x01, 0x80, 0xc2, 0, 0, 0x0e];
        let cdp = [0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc];
        let mut t = MacTable::default();
        for dst in [stp, lldp, cdp] {
            assert!(is_reserved_mac(dst));
            let (r, _) = run(&mut t, &ports, &frame(1, 0, mac(1), dst), 0);
            assert_eq!(r.drop, Some(NormalDrop::ReservedMulticast));
        }
        assert!(t.is_empty(), "OVS checks admissibility before learning");
        assert!(!is_reserved_mac([0x01, 0x80, 0xc2, 0, 0, 0x10]));
        t.set_forward_bpdu(true);
        let (_, out) = run(&mut t, &ports, &frame(1, 0, mac(1), stp), 0);
        assert_eq!(out, vec![(2, 0)]);
    }

    #[test]
    fn flood_vlans_disable_learning() {
        let ports = trunk_all(3);
        let mut t = MacTable::default();
        t.learn(mac(9), 0, 1, 0);
        t.set_flood_vlans(&[5]);
        assert!(t.is_empty(), "changing flood_vlans flushes");
        run(&mut t, &ports, &frame(2, tag(5), mac(2), BCAST), 0);
        let (r, out) = run(&mut t, &ports, &frame(1, tag(5), mac(1), mac(2)), 0);
        assert!(r.flooded);
        assert_eq!(out, vec![(2, tag(5)), (3, tag(5))]);
        assert!(t.is_empty());
    }

    /// xorshift64: deterministic "random" MACs without a dependency.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn random_source_flood_stays_bounded_and_fair() {
        let ports = trunk_all(3);
        let mut t = MacTable::new(DEFAULT_MAX_AGE_MS, 64);
        run(&mut t, &ports, &frame(1, 0, mac(1), BCAST), 0);
        run(&mut t, &ports, &frame(2, 0, mac(2), BCAST), 0);
        let mut s = 0x1234_5678_9abc_def0;
        let mut out = Vec::new();
        for n in 0..20_000u64 {
            // Unicast random source (clear the I/G bit).
            let m = mac_from_u64(rng(&mut s) & 0xfeff_ffff_ffff);
            out.clear();
            t.normal(&ports, &frame(3, 0, m, BCAST), n, &mut out);
            assert!(t.len() <= 64);
        }
        assert_eq!(t.len(), 64);
        assert!(t.slots.len() <= 64, "storage bounded, slots reused");
        assert!(t.ports.len() <= 3);
        // The attacker's port paid for its own flood.
        assert_eq!(t.lookup(mac(1), 0, 20_000), Some(1));
        assert_eq!(t.lookup(mac(2), 0, 20_000), Some(2));
        let st = t.stats();
        assert_eq!(st.learned - st.evicted, 64);
        // Shrinking evicts the least recently seen entries.
        t.set_capacity(10);
        assert_eq!(t.len(), 10);
        assert_eq!(t.lookup(mac(1), 0, 20_000), None);
    }

    #[test]
    fn single_port_eviction_is_lru() {
        let mut t = MacTable::new(DEFAULT_MAX_AGE_MS, 3);
        for (i, now) in [(1, 0), (2, 1), (3, 2)] {
            t.learn(mac(i), 0, 1, now);
        }
        t.learn(mac(1), 0, 1, 3); // refresh: mac 2 is now the oldest
        t.learn(mac(4), 0, 1, 4);
        assert_eq!(t.lookup(mac(2), 0, 4), None);
        for i in [1, 3, 4] {
            assert_eq!(t.lookup(mac(i), 0, 4), Some(1));
        }
        // When full, expired entries go before live ones.
        let mut t = MacTable::new(1_000, 2);
        t.learn(mac(1), 0, 1, 0);
        t.learn(mac(2), 0, 2, 900);
        t.learn(mac(3), 0, 2, 1_000);
        assert_eq!(t.lookup(mac(2), 0, 1_000), Some(2));
        assert_eq!(t.stats().evicted, 0);
        assert_eq!(t.stats().expired, 1);
    }

    #[test]
    fn flush_and_flush_port() {
        let mut t = MacTable::default();
        t.learn(mac(1), 0, 1, 0);
        t.learn(mac(2), 0, 2, 0);
        t.learn(mac(3), 7, 2, 0);
        assert_eq!(t.flush_port(2), 2);
        assert_eq!(t.len(), 1);
        assert_eq!(t.flush(), 1);
        assert!(t.is_empty());
        t.learn(mac(1), 0, 1, 0);
        assert_eq!(t.lookup(mac(1), 0, 0), Some(1));
    }

    #[test]
    fn fdb_show_format() {
        let mut t = MacTable::default();
        t.learn([0xfa, 0x16, 0x3e, 0x32, 0x28, 0xaf], 0, 1, 0);
        t.learn([0x52, 0x54, 0, 0, 0, 0x0a], 100, OFPP_LOCAL, 2_500);
        t.learn([0x52, 0x54, 0, 0, 0, 0x0b], 4094, 12345, 3_000);
        assert_eq!(
            t.format_fdb(3_999),
            " port  VLAN  MAC                Age\n\
             \x20   1     0  fa:16:3e:32:28:af    3\n\
             LOCAL   100  52:54:00:00:00:0a    1\n\
             12345  4094  52:54:00:00:00:0b    0\n"
        );
        let e: Vec<FdbEntry> = t.entries(3_999).collect();
        assert_eq!(e[1].port, OFPP_LOCAL);
        assert_eq!(e[1].vlan, 100);
        assert_eq!(e[0].age_secs, 3);
    }

    #[test]
    fn ovs_limits_are_clamped() {
        let t = MacTable::with_ovs_limits(1, 1);
        assert_eq!(t.max_age_ms(), OVS_MIN_MAX_AGE_MS);
        assert_eq!(t.capacity(), OVS_MIN_CAPACITY);
        let t = MacTable::with_ovs_limits(u64::MAX, usize::MAX);
        assert_eq!(t.max_age_ms(), OVS_MAX_MAX_AGE_MS);
        assert_eq!(t.capacity(), OVS_MAX_CAPACITY);
        assert_eq!(MacTable::new(1, 0).capacity(), 1);
    }

    #[test]
    fn vlan_helpers_match_ovs_corner_cases() {
        // Native port without a tag: native VLAN 0, trunks as configured.
        let n0 = VlanConfig::new(Some(VlanMode::NativeUntagged), None, vec![]);
        assert_eq!(input_vlan(Some(&n0), 0), Some(0));
        assert!(includes_vlan(&n0, 0));
        assert_eq!(output_tci(&n0, 0, 0), 0);
        assert_eq!(output_tci(&n0, 7, 0), tag(7));
        // Native VLAN is carried even if missing from trunks.
        let n = native(VlanMode::NativeTagged, 10, vec![20]);
        assert!(includes_vlan(&n, 10) && includes_vlan(&n, 20) && !includes_vlan(&n, 30));
        // VLAN 0 listed in trunks is still not carried by a native port.
        let n = native(VlanMode::NativeTagged, 10, vec![0, 20]);
        assert!(!includes_vlan(&n, 0));
        // Access ports ignore trunks.
        let a = VlanConfig::new(Some(VlanMode::Access), Some(5), vec![6]);
        assert!(includes_vlan(&a, 5) && !includes_vlan(&a, 6));
        // A TCI without CFI is untagged whatever its other bits.
        assert_eq!(input_vlan(Some(&a), 0x0005), Some(5));
    }
}
