//! Packet capture: taps on ports that copy what the engine receives and
//! sends (and what crosses patch links) to a bounded channel per tap.
//!
//! The fast path pays one relaxed atomic load per packet while no capture
//! runs ([`WorkerTaps::on`]); with the `capture` cargo feature off that load
//! is compiled out (`on()` is the constant `false`). While a capture runs,
//! each worker looks at an `Arc` snapshot of the tap list, refreshed when a
//! version counter moves, so adding or removing a tap never blocks a
//! worker. Copies go through `try_send` on a bounded channel: a full channel
//! (a slow reader) drops the copy and counts it in the tap, never the
//! packet itself.
//!
//! Tunnel ports can be captured as the inner frame (what the switch sees) or,
//! with [`OuterSpec`], as a reconstructed outer frame: Ethernet (zero MACs,
//! the kernel resolves the real ones) + IPv4 (checksum computed) + UDP/VXLAN
//! or GRE built with the tunnel codec. The reconstruction runs on the
//! reader's thread ([`TapHandle::recv_timeout`]), not in the worker.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ofproto::flow_match::Match;
use ofproto::key::{FlowKey, IN_PORT};
use ofproto::pipeline::{Crossing, Output, Switch};
use ofproto::Millis;

use crate::engine::PortId;
use crate::packet::{Packet, TunnelTag};
use crate::rewrite::apply_output;
use crate::tunnel::{encap_gre_payload, encap_vxlan_payload, udp_source_port, TunnelKind};

/// Whether this build has the capture hooks (cargo feature `capture`).
pub const ENABLED: bool = cfg!(feature = "capture");

/// Default bytes kept of each frame.
pub const DEFAULT_SNAPLEN: usize = 262_144;
/// Default copies a tap buffers before dropping.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Which way a packet went through a port, from the switch's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The switch received it on the port.
    In,
    /// The switch sent it out of the port.
    Out,
}

/// Which directions a tap wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directions {
    In,
    Out,
    Both,
}

impl Directions {
    fn wants(self, d: Direction) -> bool {
        matches!(
            (self, d),
            (Directions::Both, _)
                | (Directions::In, Direction::In)
                | (Directions::Out, Direction::Out)
        )
    }
}

impl std::str::FromStr for Directions {
    type Err = String;
    fn from_str(s: &str) -> Result<Directions, String> {
        match s {
            "in" => Ok(Directions::In),
            "out" => Ok(Directions::Out),
            "both" | "inout" => Ok(Directions::Both),
            _ => Err(format!("{s}: bad direction (use in, out or both)")),
        }
    }
}

/// How to rebuild a tunnel port's outer frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OuterSpec {
    pub kind: TunnelKind,
    /// Our address (configured `local_ip`, or the source the kernel routes from).
    pub local: Ipv4Addr,
    /// `None` for `remote_ip=flow` (the packet's `tun_dst`).
    pub remote: Option<Ipv4Addr>,
    /// `None` for `out_key=flow` (the packet's `tun_id`).
    pub out_key: Option<u64>,
    /// VXLAN destination port.
    pub dst_port: u16,
    pub ttl: u8,
    pub df: bool,
    pub csum: bool,
}

/// What a tap captures.
#[derive(Clone, Debug)]
pub struct TapSpec {
    pub port: PortId,
    pub directions: Directions,
    /// Only packets whose flow key matches (`None`: all).
    pub filter: Option<Match>,
    /// Rebuild the outer frame (tunnel ports).
    pub outer: Option<OuterSpec>,
    /// Bytes kept of each frame.
    pub snaplen: usize,
    /// Copies buffered before dropping.
    pub capacity: usize,
}

impl TapSpec {
    pub fn new(port: PortId) -> TapSpec {
        TapSpec {
            port,
            directions: Directions::Both,
            filter: None,
            outer: None,
            snaplen: DEFAULT_SNAPLEN,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// One captured packet.
#[derive(Clone, Debug)]
pub struct Record {
    /// Wall-clock time of the copy, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub port: PortId,
    pub direction: Direction,
    /// The frame, at most `snaplen` bytes.
    pub frame: Vec<u8>,
    /// The frame's full length.
    pub orig_len: usize,
    /// Tunnel metadata (decapsulated frames; frames bound for a tunnel).
    pub tunnel: Option<TunnelTag>,
    /// The bridge the packet entered and its key there: what to trace.
    pub ingress: (usize, FlowKey),
}

struct Tap {
    id: u64,
    spec: TapSpec,
    tx: Sender<Record>,
    captured: AtomicU64,
    dropped: AtomicU64,
}

impl Tap {
    fn wants(&self, port: PortId, d: Direction, key: &FlowKey) -> bool {
        self.spec.port == port
            && self.spec.directions.wants(d)
            && self.spec.filter.as_ref().is_none_or(|m| matches(m, key))
    }

    fn deliver(&self, r: Record) {
        match self.tx.try_send(r) {
            Ok(()) => {
                self.captured.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A capture filter is a flow match on the packet's key (as received, or
/// as sent after the actions' header changes).
fn matches(m: &Match, key: &FlowKey) -> bool {
    m.matches(key)
}

/// The taps of one engine, shared by its workers and the control plane.
pub struct Registry {
    /// Number of taps: the only thing the fast path reads.
    active: AtomicUsize,
    /// Bumped on every change of `taps`.
    version: AtomicU64,
    taps: Mutex<Arc<Vec<Arc<Tap>>>>,
    next_id: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            active: AtomicUsize::new(0),
            version: AtomicU64::new(0),
            taps: Mutex::new(Arc::new(Vec::new())),
            next_id: AtomicU64::new(1),
        }
    }

    /// Number of taps running.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Starts a tap; it stops when the handle is dropped.
    pub fn add(self: &Arc<Self>, spec: TapSpec) -> TapHandle {
        let (tx, rx) = crossbeam_channel::bounded(spec.capacity.max(1));
        let tap = Arc::new(Tap {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            spec,
            tx,
            captured: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        {
            let mut g = self.taps.lock().unwrap_or_else(|e| e.into_inner());
            let mut v: Vec<Arc<Tap>> = (**g).clone();
            v.push(tap.clone());
            *g = Arc::new(v);
            self.active.store(g.len(), Ordering::Relaxed);
            self.version.fetch_add(1, Ordering::Release);
        }
        TapHandle {
            reg: self.clone(),
            tap,
            rx,
        }
    }

    fn remove(&self, id: u64) {
        let mut g = self.taps.lock().unwrap_or_else(|e| e.into_inner());
        let v: Vec<Arc<Tap>> = g.iter().filter(|t| t.id != id).cloned().collect();
        *g = Arc::new(v);
        self.active.store(g.len(), Ordering::Relaxed);
        self.version.fetch_add(1, Ordering::Release);
    }

    fn snapshot(&self) -> (u64, Arc<Vec<Arc<Tap>>>) {
        let g = self.taps.lock().unwrap_or_else(|e| e.into_inner());
        (self.version.load(Ordering::Acquire), g.clone())
    }
}

/// A running tap: receive its copies; dropping it stops the tap.
pub struct TapHandle {
    reg: Arc<Registry>,
    tap: Arc<Tap>,
    rx: Receiver<Record>,
}

impl TapHandle {
    /// Copies delivered to the channel so far.
    pub fn captured(&self) -> u64 {
        self.tap.captured.load(Ordering::Relaxed)
    }

    /// Copies dropped because the channel was full (slow reader).
    pub fn dropped(&self) -> u64 {
        self.tap.dropped.load(Ordering::Relaxed)
    }

    pub fn spec(&self) -> &TapSpec {
        &self.tap.spec
    }

    /// The next copy, waiting at most `timeout`. With an [`OuterSpec`] the
    /// frame is the reconstructed outer frame.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Record> {
        let mut r = self.rx.recv_timeout(timeout).ok()?;
        if let Some(o) = &self.tap.spec.outer {
            let (frame, orig_len) = outer_frame(o, &r, self.tap.spec.snaplen);
            r.frame = frame;
            r.orig_len = orig_len;
        }
        Some(r)
    }
}

impl Drop for TapHandle {
    fn drop(&mut self) {
        self.reg.remove(self.tap.id);
    }
}

/// The engine's capture side for the control plane: taps, and traces run
/// on the caller's thread under the switch lock (read-only: no counters,
/// no learning).
#[derive(Clone)]
pub struct Capture {
    pub registry: Arc<Registry>,
    tracer: Tracer,
}

/// Runs a closure on the switch with the engine's clock.
pub type Tracer = Arc<dyn Fn(&mut dyn FnMut(&mut Switch, Millis)) + Send + Sync>;

impl Capture {
    pub fn new(registry: Arc<Registry>, tracer: Tracer) -> Capture {
        Capture { registry, tracer }
    }

    /// Traces the pipeline run that produced `r` (side effects off).
    pub fn trace(&self, r: &Record) -> Option<ofproto::trace::TraceReport> {
        let (bridge, key) = r.ingress;
        let mut out = None;
        (self.tracer)(&mut |sw: &mut Switch, now| {
            if bridge < sw.bridges.len() {
                out = Some(ofproto::trace::trace(sw, bridge, &key, now, false));
            }
        });
        out
    }
}

/// A worker's view of the taps.
pub struct WorkerTaps {
    reg: Arc<Registry>,
    version: u64,
    taps: Arc<Vec<Arc<Tap>>>,
    scratch: Option<Box<Packet>>,
}

impl WorkerTaps {
    pub fn new(reg: Arc<Registry>) -> WorkerTaps {
        WorkerTaps {
            reg,
            version: u64::MAX,
            taps: Arc::new(Vec::new()),
            scratch: None,
        }
    }

    /// Whether any tap runs: the fast path's only cost.
    #[inline(always)]
    pub fn on(&self) -> bool {
        ENABLED && self.reg.active.load(Ordering::Relaxed) != 0
    }

    fn refresh(&mut self) {
        let v = self.reg.version.load(Ordering::Acquire);
        if v != self.version {
            let (v, t) = self.reg.snapshot();
            self.version = v;
            self.taps = t;
        }
    }

    /// Copies one packet for the taps that want it: as received on `in_id`,
    /// as sent by each of `outputs`, and at each patch crossing.
    #[cold]
    #[inline(never)]
    pub fn packet(
        &mut self,
        in_id: PortId,
        pkt: &Packet,
        key: &FlowKey,
        outputs: &[Output],
        crossings: &[Crossing],
    ) {
        self.refresh();
        let taps = self.taps.clone();
        if taps.is_empty() {
            return;
        }
        let ingress = (in_id.0, *key);
        let ts_ns = now_ns();
        for t in taps.iter() {
            if t.wants(in_id, Direction::In, key) {
                t.deliver(record(
                    ts_ns,
                    in_id,
                    Direction::In,
                    pkt.data(),
                    pkt.tunnel,
                    ingress,
                    &t.spec,
                ));
            }
        }
        for o in outputs {
            let id = (o.bridge, o.port);
            if !taps.iter().any(|t| t.wants(id, Direction::Out, &o.key)) {
                continue;
            }
            let Some(frame) = self.rewritten(pkt, key, o) else {
                continue;
            };
            let tag = Some(TunnelTag {
                id: o.key.get(ofproto::key::TUN_ID) as u64,
                src: (o.key.get(ofproto::key::TUN_SRC) as u32).into(),
                dst: (o.key.get(ofproto::key::TUN_DST) as u32).into(),
            });
            for t in taps.iter().filter(|t| t.wants(id, Direction::Out, &o.key)) {
                t.deliver(record(
                    ts_ns,
                    id,
                    Direction::Out,
                    frame,
                    tag,
                    ingress,
                    &t.spec,
                ));
            }
        }
        for c in crossings {
            let from = (c.out.bridge, c.out.port);
            let mut in_key = c.out.key;
            in_key.set(IN_PORT, c.peer.1 as u128);
            let any = taps.iter().any(|t| {
                t.wants(from, Direction::Out, &c.out.key) || t.wants(c.peer, Direction::In, &in_key)
            });
            if !any {
                continue;
            }
            let Some(frame) = self.rewritten(pkt, key, &c.out) else {
                continue;
            };
            for t in taps.iter() {
                if t.wants(from, Direction::Out, &c.out.key) {
                    t.deliver(record(
                        ts_ns,
                        from,
                        Direction::Out,
                        frame,
                        None,
                        ingress,
                        &t.spec,
                    ));
                }
                if t.wants(c.peer, Direction::In, &in_key) {
                    t.deliver(record(
                        ts_ns,
                        c.peer,
                        Direction::In,
                        frame,
                        None,
                        ingress,
                        &t.spec,
                    ));
                }
            }
        }
    }

    /// The received frame with `out`'s header changes applied.
    fn rewritten(&mut self, pkt: &Packet, key: &FlowKey, out: &Output) -> Option<&[u8]> {
        let s = self.scratch.get_or_insert_with(|| Box::new(Packet::new()));
        s.set_frame(pkt.data());
        s.vnet = pkt.vnet;
        apply_output(s, key, out).ok()?;
        Some(s.data())
    }
}

fn record(
    ts_ns: u64,
    port: PortId,
    direction: Direction,
    frame: &[u8],
    tunnel: Option<TunnelTag>,
    ingress: (usize, FlowKey),
    spec: &TapSpec,
) -> Record {
    // An outer frame needs the inner headers whole; it is cut later.
    let keep = if spec.outer.is_some() {
        frame.len()
    } else {
        frame.len().min(spec.snaplen)
    };
    Record {
        ts_ns,
        port,
        direction,
        frame: frame[..keep].to_vec(),
        orig_len: frame.len(),
        tunnel,
        ingress,
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Rebuilds the frame a tunnel port put on (or took off) the wire for `r`:
/// Ethernet + IPv4 + UDP/VXLAN or GRE + the inner frame. Returns the frame
/// cut to `snaplen` and its full length.
pub fn outer_frame(o: &OuterSpec, r: &Record, snaplen: usize) -> (Vec<u8>, usize) {
    let tag = r.tunnel.unwrap_or(TunnelTag {
        id: 0,
        src: Ipv4Addr::UNSPECIFIED,
        dst: Ipv4Addr::UNSPECIFIED,
    });
    let (src, dst, id) = match r.direction {
        // Received: the outer addresses and id the endpoint saw.
        Direction::In => (tag.src, tag.dst, tag.id),
        Direction::Out => (
            o.local,
            o.remote.unwrap_or(tag.dst),
            o.out_key.unwrap_or(tag.id),
        ),
    };
    let mut p = Packet::from_frame(&r.frame);
    let (proto, ok) = match o.kind {
        TunnelKind::Vxlan => {
            let sport = udp_source_port(&r.frame);
            let csum = o.csum.then_some((src, dst));
            (
                17u8,
                encap_vxlan_payload(&mut p, id as u32 & 0x00ff_ffff, sport, o.dst_port, csum)
                    .is_ok(),
            )
        }
        TunnelKind::Gre => {
            let key = u32::try_from(id).ok().filter(|k| *k != 0);
            (47u8, encap_gre_payload(&mut p, key, o.csum).is_ok())
        }
    };
    if !ok {
        let n = r.frame.len().min(snaplen);
        return (r.frame[..n].to_vec(), r.orig_len);
    }
    let payload = p.data();
    let total = 20 + payload.len();
    let mut f = Vec::with_capacity(14 + total);
    f.extend_from_slice(&[0; 12]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total.min(u16::MAX as usize) as u16).to_be_bytes());
    if o.df {
        ip[6] = 0x40;
    }
    ip[8] = o.ttl;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = crate::wire::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    let full = f.len() + r.orig_len.saturating_sub(r.frame.len());
    f.truncate(snaplen);
    (f, full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofproto::syntax::flow::{parse_flow_mod, FlowModCommand};

    fn icmp_frame() -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ];
        let c = crate::wire::checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[8, 0, 0xf7, 0xf9, 0, 5, 0, 1]);
        f
    }

    fn key_of(f: &[u8], port: u32) -> FlowKey {
        let mut k = FlowKey::ZERO;
        crate::extract::extract_key(f, port, &mut k).unwrap();
        k
    }

    fn filter(s: &str) -> Match {
        parse_flow_mod(s, FlowModCommand::Delete, None)
            .unwrap()
            .matched
    }

    #[test]
    fn filters_match_the_flow_key() {
        let f = icmp_frame();
        let k = key_of(&f, 1);
        assert!(matches(&filter("icmp"), &k));
        assert!(matches(&filter("ip,nw_dst=198.18.0.2"), &k));
        assert!(!matches(&filter("ip,nw_dst=198.18.0.3"), &k));
        assert!(!matches(&filter("tcp"), &k));
        assert!(!matches(&filter("arp"), &k));
    }

    #[test]
    fn taps_see_only_their_port_direction_and_filter() {
        let reg = Arc::new(Registry::new());
        let mut w = WorkerTaps::new(reg.clone());
        assert!(!w.on());
        let mut spec = TapSpec::new((0, 1));
        spec.directions = Directions::In;
        spec.filter = Some(filter("icmp"));
        let h = reg.add(spec);
        assert_eq!(w.on(), ENABLED);
        let f = icmp_frame();
        let k = key_of(&f, 1);
        let p = Packet::from_frame(&f);
        let out = Output {
            bridge: 0,
            port: 2,
            changes: 0,
            key: k,
        };
        w.packet((0, 1), &p, &k, std::slice::from_ref(&out), &[]);
        w.packet((0, 2), &p, &key_of(&f, 2), &[], &[]);
        let r = h.recv_timeout(Duration::from_millis(10)).unwrap();
        assert_eq!(r.direction, Direction::In);
        assert_eq!(r.port, (0, 1));
        assert_eq!(r.frame, f);
        assert!(h.recv_timeout(Duration::from_millis(10)).is_none());
        drop(h);
        assert!(!w.on());
    }

    #[test]
    fn a_slow_reader_drops_copies_and_counts_them() {
        let reg = Arc::new(Registry::new());
        let mut w = WorkerTaps::new(reg.clone());
        let mut spec = TapSpec::new((0, 1));
        spec.capacity = 2;
        let h = reg.add(spec);
        let f = icmp_frame();
        let k = key_of(&f, 1);
        let p = Packet::from_frame(&f);
        for _ in 0..5 {
            w.packet((0, 1), &p, &k, &[], &[]);
        }
        assert_eq!(h.captured(), 2);
        assert_eq!(h.dropped(), 3);
    }

    #[test]
    fn outer_vxlan_frame_is_rebuilt_with_a_valid_ipv4_checksum() {
        let f = icmp_frame();
        let o = OuterSpec {
            kind: TunnelKind::Vxlan,
            local: Ipv4Addr::new(198, 19, 0, 1),
            remote: Some(Ipv4Addr::new(198, 19, 0, 2)),
            out_key: Some(42),
            dst_port: 4789,
            ttl: 64,
            df: true,
            csum: false,
        };
        let r = Record {
            ts_ns: 0,
            port: (0, 3),
            direction: Direction::Out,
            frame: f.clone(),
            orig_len: f.len(),
            tunnel: None,
            ingress: (0, FlowKey::ZERO),
        };
        let (o_f, len) = outer_frame(&o, &r, 65535);
        assert_eq!(len, o_f.len());
        assert_eq!(o_f.len(), 14 + 20 + 8 + 8 + f.len());
        assert!(crate::wire::checksum::verify(&o_f[14..34]));
        assert_eq!(&o_f[26..30], &[198, 19, 0, 1]);
        assert_eq!(&o_f[30..34], &[198, 19, 0, 2]);
        assert_eq!(o_f[23], 17);
        assert_eq!(&o_f[36..38], &4789u16.to_be_bytes());
        // VXLAN: flags 0x08, VNI 42.
        assert_eq!(&o_f[42..50], &[0x08, 0, 0, 0, 0, 0, 42, 0]);
        assert_eq!(&o_f[50..], &f[..]);
        // Cut to a snap length, the full length is still reported.
        let (cut, len2) = outer_frame(&o, &r, 40);
        assert_eq!(cut.len(), 40);
        assert_eq!(len2, len);
    }
}
