//! The forwarding engine: worker threads, each polling its ports with mio,
//! receiving in batches, extracting flow keys, looking verdicts up in a
//! per-worker exact-match cache (the shared ofproto `Switch` is locked only
//! on a miss), applying header changes and sending.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use ofproto::classifier::RuleId;
use ofproto::key::FlowKey;
use ofproto::pipeline::{Output, RunOptions, Switch};
use ofproto::Millis;

use crate::extract::extract_key;
use crate::offload::{complete_checksum, segment_gso};
use crate::packet::Packet;
use crate::port::PortIo;
use crate::rewrite::apply_output;

/// Frames received per port per poll round.
pub const BATCH: usize = 32;
/// Verdicts a worker keeps before starting over.
const CACHE_LIMIT: usize = 16 * 1024;
/// How long a verdict whose path has side effects (learn, NORMAL) may be
/// reused before the pipeline runs again to refresh them.
const SIDE_EFFECT_TTL: Millis = 1_000;
/// How often workers hand counters to the shared state.
const FLUSH_EVERY: Millis = 100;
/// How long a worker keeps looking at its receive rings after the last
/// frame before it sleeps (see `Worker::busy_poll`);
/// `RSWITCH_BUSY_POLL_US` overrides it (0 turns busy polling off).
const BUSY_POLL: Duration = Duration::from_micros(100);

/// `RSWITCH_GRO=0` turns receive coalescing off (for comparisons).
fn gro_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("RSWITCH_GRO").map_or(true, |v| v != "0"))
}

fn busy_poll_limit() -> Duration {
    static LIMIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("RSWITCH_BUSY_POLL_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(BUSY_POLL, Duration::from_micros)
    })
}

const WAKER: Token = Token(usize::MAX);

/// Counters of one port (all workers together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PortCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_dropped: u64,
    pub rx_errors: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_dropped: u64,
    pub tx_errors: u64,
}

impl PortCounters {
    fn add(&mut self, o: &PortCounters) {
        self.rx_packets += o.rx_packets;
        self.rx_bytes += o.rx_bytes;
        self.rx_dropped += o.rx_dropped;
        self.rx_errors += o.rx_errors;
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.tx_dropped += o.tx_dropped;
        self.tx_errors += o.tx_errors;
    }
}

/// A port's identity: (bridge index in the Switch, OpenFlow port number).
pub type PortId = (usize, u32);

type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// State every worker and the control plane share.
struct Shared {
    switch: Mutex<Switch>,
    /// Bumped whenever anything a cached verdict depends on changes.
    generation: AtomicU64,
    /// Per-port counters, merged in by workers every FLUSH_EVERY.
    counters: Mutex<HashMap<PortId, PortCounters>>,
    /// Ports whose device failed (vanished): shown as down.
    failed: Mutex<HashMap<PortId, String>>,
    stop: AtomicBool,
    clock: Clock,
    capture: Arc<crate::capture::Registry>, // capture: the taps
}

enum Command {
    AddRx(PortId, Box<dyn PortIo>),
    AddTx(PortId, Box<dyn PortIo>),
    Remove(PortId),
}

struct WorkerHandle {
    tx: Sender<Command>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    n_rx: usize,
}

/// The running forwarding engine.
pub struct Engine {
    shared: Arc<Shared>,
    workers: Vec<WorkerHandle>,
    /// Which worker receives on each port.
    owner: HashMap<PortId, usize>,
}

impl Engine {
    /// Starts `n_workers` worker threads over `switch`.
    pub fn start(switch: Switch, n_workers: usize, clock: Clock) -> io::Result<Engine> {
        let shared = Arc::new(Shared {
            switch: Mutex::new(switch),
            generation: AtomicU64::new(1),
            counters: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            clock,
            capture: Default::default(), // capture:
        });
        let mut workers = Vec::new();
        for i in 0..n_workers.max(1) {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (tx, rx) = crossbeam_channel::unbounded();
            let sh = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("rswitch-worker-{i}"))
                .spawn(move || Worker::new(sh, poll, rx).run())?;
            workers.push(WorkerHandle {
                tx,
                waker,
                thread: Some(thread),
                n_rx: 0,
            });
        }
        let housekeeping = shared.clone();
        std::thread::Builder::new()
            .name("rswitch-expire".into())
            .spawn(move || housekeeping_loop(housekeeping))?;
        Ok(Engine {
            shared,
            workers,
            owner: HashMap::new(),
        })
    }

    fn send(&self, w: usize, c: Command) {
        // A worker that has exited (engine stopping) no longer listens.
        let _ = self.workers[w].tx.send(c);
        let _ = self.workers[w].waker.wake();
    }

    /// Attaches a port's I/O. The least-loaded worker receives on it; every
    /// worker gets a send handle.
    pub fn add_port(&mut self, id: PortId, io: Box<dyn PortIo>) -> io::Result<()> {
        let mut txs = Vec::with_capacity(self.workers.len());
        for _ in 0..self.workers.len() {
            txs.push(io.try_clone_tx()?);
        }
        let w = (0..self.workers.len())
            .min_by_key(|&w| self.workers[w].n_rx)
            .expect("at least one worker");
        self.workers[w].n_rx += 1;
        self.owner.insert(id, w);
        for (i, t) in txs.into_iter().enumerate() {
            self.send(i, Command::AddTx(id, t));
        }
        self.send(w, Command::AddRx(id, io));
        self.shared.failed.lock().expect("poisoned").remove(&id);
        self.bump();
        Ok(())
    }

    /// Detaches a port (its descriptors are closed by the workers).
    pub fn remove_port(&mut self, id: PortId) {
        if let Some(w) = self.owner.remove(&id) {
            self.workers[w].n_rx -= 1;
        }
        for i in 0..self.workers.len() {
            self.send(i, Command::Remove(id));
        }
        self.bump();
    }

    /// Runs `f` on the switch (control plane: flow_mods, port config,
    /// dumps); caches are invalidated afterwards.
    pub fn with_switch<R>(&self, f: impl FnOnce(&mut Switch, Millis) -> R) -> R {
        let now = (self.shared.clock)();
        let r = {
            let mut sw = lock(&self.shared.switch);
            f(&mut sw, now)
        };
        self.bump();
        r
    }

    /// Read-only access that does not invalidate caches.
    pub fn read_switch<R>(&self, f: impl FnOnce(&Switch, Millis) -> R) -> R {
        let now = (self.shared.clock)();
        let sw = lock(&self.shared.switch);
        f(&sw, now)
    }

    fn bump(&self) {
        self.shared.generation.fetch_add(1, Ordering::Release);
    }

    pub fn port_counters(&self, id: PortId) -> PortCounters {
        self.shared
            .counters
            .lock()
            .expect("poisoned")
            .get(&id)
            .copied()
            .unwrap_or_default()
    }

    /// Ports whose device failed since they were added, with the error.
    pub fn failed_ports(&self) -> HashMap<PortId, String> {
        self.shared.failed.lock().expect("poisoned").clone()
    }

    pub fn now(&self) -> Millis {
        (self.shared.clock)()
    }

    /// capture: the taps, and read-only traces under the switch lock.
    pub fn capture(&self) -> crate::capture::Capture {
        let sh = self.shared.clone();
        let tracer: crate::capture::Tracer =
            Arc::new(move |f| f(&mut lock(&sh.switch), (sh.clock)()));
        crate::capture::Capture::new(self.shared.capture.clone(), tracer)
    }

    /// Stops every thread and waits for the workers.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for w in &self.workers {
            let _ = w.waker.wake();
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked must not take the control plane down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn housekeeping_loop(sh: Arc<Shared>) {
    while !sh.stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(100));
        let now = (sh.clock)();
        let mut changed = false;
        {
            let mut sw = lock(&sh.switch);
            for b in &mut sw.bridges {
                changed |= !b.tables.expire(now).is_empty();
                changed |= b.mac.expire(now) > 0;
            }
        }
        if changed {
            sh.generation.fetch_add(1, Ordering::Release);
        }
    }
}

/// Hashes flow keys with ofproto's fast word mixer: the default SipHash
/// over a 200-byte key would cost more than the rest of a cache hit.
#[derive(Clone, Copy, Default)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = WordHasher;
    fn build_hasher(&self) -> WordHasher {
        WordHasher(0)
    }
}

/// Folds 8-byte words with a multiply-rotate step (keys are word arrays).
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        // Spread the high bits down: hashbrown uses the top 7 bits as tags.
        self.0 ^ (self.0 >> 29)
    }
}

/// Maps a worker touches per packet (ports, flow credits): keys are small
/// integers chosen by us, not by the network, so a fast non-keyed hash
/// is safe; SipHash showed up in profiles.
type FastMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// A flow on a cached path: (bridge, table, rule, serial).
type FlowRef = (usize, u8, RuleId, u64);
/// Packets, bytes and last use gathered for one flow between flushes.
type Credit = (u64, u64, Millis);

/// A verdict as a worker caches it.
struct Cached {
    generation: u64,
    expires: Millis,
    outputs: Vec<Output>,
    /// (bridge, table, rule, serial) of every flow on the path.
    hits: Vec<FlowRef>,
    crossings: Vec<ofproto::pipeline::Crossing>, // capture: patch crossings
}

struct RxPort {
    id: PortId,
    io: Box<dyn PortIo>,
}

struct Worker {
    sh: Arc<Shared>,
    poll: Poll,
    cmds: Receiver<Command>,
    rx: Vec<Option<RxPort>>,
    tx: FastMap<PortId, Box<dyn PortIo>>,
    tx_offloads: FastMap<PortId, bool>,
    cache: HashMap<FlowKey, Cached, KeyHash>,
    batch: Vec<Packet>,
    scratch: Packet,
    segments: Vec<Packet>,
    counters: FastMap<PortId, PortCounters>,
    flow_credits: FastMap<FlowRef, Credit>,
    last_flush: Millis,
    /// Frames waiting to be sent, per destination, until the batch ends.
    queues: FastMap<PortId, Vec<Packet>>,
    /// Spare buffers swapped in for queued frames.
    pool: Vec<Packet>,
    capture: crate::capture::WorkerTaps, // capture:
}

impl Worker {
    fn new(sh: Arc<Shared>, poll: Poll, cmds: Receiver<Command>) -> Worker {
        let capture = crate::capture::WorkerTaps::new(sh.capture.clone()); // capture:
        Worker {
            sh,
            poll,
            cmds,
            rx: Vec::new(),
            tx: FastMap::default(),
            tx_offloads: FastMap::default(),
            cache: HashMap::with_hasher(KeyHash),
            batch: (0..BATCH).map(|_| Packet::new()).collect(),
            scratch: Packet::new(),
            segments: Vec::new(),
            counters: FastMap::default(),
            flow_credits: FastMap::default(),
            last_flush: 0,
            queues: FastMap::default(),
            pool: Vec::new(),
            capture, // capture:
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        while !self.sh.stop.load(Ordering::Acquire) {
            if let Err(e) = self
                .poll
                .poll(&mut events, Some(Duration::from_millis(FLUSH_EVERY)))
            {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing_like_warn(&format!("poll failed: {e}"));
                }
                continue;
            }
            let ready: Vec<usize> = events
                .iter()
                .filter(|e| e.token() != WAKER)
                .map(|e| e.token().0)
                .collect();
            self.handle_commands();
            let mut got = 0;
            for slot in ready {
                got += self.drain_port(slot);
            }
            if got > 0 {
                self.busy_poll();
            }
            let now = (self.sh.clock)();
            if now >= self.last_flush + FLUSH_EVERY {
                self.flush(now);
            }
        }
        let now = (self.sh.clock)();
        self.flush(now);
    }

    fn handle_commands(&mut self) {
        let mut added = Vec::new();
        while let Ok(c) = self.cmds.try_recv() {
            match c {
                Command::AddRx(id, io) => {
                    let slot = self.rx.iter().position(|p| p.is_none()).unwrap_or_else(|| {
                        self.rx.push(None);
                        self.rx.len() - 1
                    });
                    if let Some(fd) = io.raw_fd() {
                        if let Err(e) = self.poll.registry().register(
                            &mut SourceFd(&fd),
                            Token(slot),
                            Interest::READABLE,
                        ) {
                            self.fail(id, format!("cannot poll: {e}"));
                            continue;
                        }
                    }
                    self.rx[slot] = Some(RxPort { id, io });
                    added.push(slot);
                }
                Command::AddTx(id, io) => {
                    self.tx_offloads.insert(id, io.offloads().vnet_hdr);
                    self.tx.insert(id, io);
                }
                Command::Remove(id) => {
                    for slot in 0..self.rx.len() {
                        if self.rx[slot].as_ref().is_some_and(|p| p.id == id) {
                            let p = self.rx[slot].take().expect("checked");
                            if let Some(fd) = p.io.raw_fd() {
                                let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
                            }
                        }
                    }
                    self.tx.remove(&id);
                    self.tx_offloads.remove(&id);
                }
            }
        }
        // Frames may have queued before registration; read them only now,
        // when every send handle queued with them is in place.
        for slot in added {
            self.drain_port(slot);
        }
    }

    fn fail(&mut self, id: PortId, why: String) {
        self.sh.failed.lock().expect("poisoned").insert(id, why);
    }

    /// While frames keep arriving, looks at the ports' receive rings for a
    /// little longer before sleeping in epoll. Each sleep would make the
    /// sending side pay for waking this thread (a cross-CPU wake-up per
    /// frame under load); a short spin with no system calls avoids that.
    /// Ports without a ring view (`rx_pending` false) wait for epoll.
    ///
    /// Empty rounds yield the CPU, so on a machine with more busy threads
    /// than cores (a lab with several switches and hosts) the spin gives
    /// way to them; the clock is read only every few rounds.
    fn busy_poll(&mut self) {
        let limit = busy_poll_limit();
        if limit.is_zero() || !self.rx.iter().flatten().any(|p| p.io.can_busy_poll()) {
            return;
        }
        let mut idle_since = Instant::now();
        let mut round: u32 = 0;
        while !self.sh.stop.load(Ordering::Relaxed) && self.cmds.is_empty() {
            let mut got = 0;
            for slot in 0..self.rx.len() {
                if self.rx[slot].as_ref().is_some_and(|p| p.io.rx_pending()) {
                    got += self.drain_port(slot);
                }
            }
            round = round.wrapping_add(1);
            if got > 0 {
                idle_since = Instant::now();
            } else {
                std::thread::yield_now();
                if round & 7 == 0 && idle_since.elapsed() >= limit {
                    return;
                }
            }
        }
    }

    /// Reads the port until it has nothing more (edge-triggered polling);
    /// returns the number of frames read.
    fn drain_port(&mut self, slot: usize) -> usize {
        let mut total = 0;
        loop {
            let Some(port) = self.rx.get_mut(slot).and_then(|p| p.as_mut()) else {
                return total;
            };
            let id = port.id;
            let n = match port.io.recv_batch(&mut self.batch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => {
                    self.counters.entry(id).or_default().rx_errors += 1;
                    // The device vanished: stop polling it; the control
                    // plane shows the port down and re-adds it when it returns.
                    let p = self.rx[slot].take().expect("present");
                    if let Some(fd) = p.io.raw_fd() {
                        let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
                    }
                    self.fail(id, e.to_string());
                    return total;
                }
            };
            if n == 0 {
                return total;
            }
            total += n;
            // Consecutive segments of a TCP stream become one super-frame
            // (receive coalescing, as a NIC's GRO): the pipeline, the send
            // and the receiving host's stack then see one packet instead of
            // dozens. `n` (frames read) still decides whether the port is
            // drained.
            let frames = if gro_enabled() {
                crate::gro::coalesce_tcp(&mut self.batch[..n])
            } else {
                n
            };
            let now = (self.sh.clock)();
            for i in 0..frames {
                self.process(id, i, now);
            }
            flush_queues(
                &mut self.queues,
                &mut self.tx,
                &mut self.counters,
                &mut self.pool,
            );
            if n < BATCH {
                return total;
            }
        }
    }

    fn process(&mut self, rx_id: PortId, i: usize, now: Millis) {
        let len = self.batch[i].len() as u64;
        // A backend serving several ports (tunnels) says which one.
        let in_id = self.batch[i].in_port_override.unwrap_or(rx_id);
        {
            let c = self.counters.entry(in_id).or_default();
            c.rx_packets += 1;
            c.rx_bytes += len;
        }
        let mut key = FlowKey::ZERO;
        if let Some(t) = self.batch[i].tunnel {
            // extract_key keeps the tunnel fields.
            key.set(ofproto::key::TUN_ID, t.id as u128);
            key.set(ofproto::key::TUN_SRC, u32::from(t.src) as u128);
            key.set(ofproto::key::TUN_DST, u32::from(t.dst) as u128);
        }
        if extract_key(self.batch[i].data(), in_id.1, &mut key).is_err() {
            self.counters.entry(in_id).or_default().rx_errors += 1;
            return;
        }
        let generation = self.sh.generation.load(Ordering::Acquire);
        let fresh = self
            .cache
            .get(&key)
            .is_some_and(|c| c.generation == generation && c.expires > now);
        if fresh {
            let c = self.cache.get(&key).expect("checked");
            for h in &c.hits {
                let e = self.flow_credits.entry(*h).or_insert((0, 0, 0));
                e.0 += 1;
                e.1 += len;
                e.2 = now;
            }
        } else {
            self.slow_path(in_id, &key, len, now, generation);
        }
        // capture: copies for running taps (one relaxed load when none runs).
        if self.capture.on() {
            if let Some(c) = self.cache.get(&key) {
                let (o, x) = (&c.outputs, &c.crossings);
                self.capture.packet(in_id, &self.batch[i], &key, o, x);
            }
        }
        // Split the borrows: the cached verdict is read while packets,
        // send handles and counters are written.
        let Worker {
            cache,
            batch,
            scratch,
            tx,
            tx_offloads,
            counters,
            segments,
            queues,
            pool,
            ..
        } = self;
        let Some(cached) = cache.get(&key) else {
            return;
        };
        let n = cached.outputs.len();
        if n == 0 {
            counters.entry(in_id).or_default().rx_dropped += 1;
        }
        let mut out_ctx = SendCtx {
            tx,
            tx_offloads,
            counters,
            segments,
            queues,
            pool,
        };
        for (j, out) in cached.outputs.iter().enumerate() {
            if j + 1 == n {
                out_ctx.send(&mut batch[i], &key, out);
            } else {
                // Every output but the last works on a copy.
                scratch.set_frame(batch[i].data());
                scratch.vnet = batch[i].vnet;
                out_ctx.send(scratch, &key, out);
            }
        }
    }

    fn slow_path(&mut self, in_id: PortId, key: &FlowKey, len: u64, now: Millis, generation: u64) {
        let (verdict, serials) = {
            let mut sw = lock(&self.sh.switch);
            let v = sw.run(in_id.0, key, len, now, RunOptions::FORWARD);
            let serials: Vec<u64> = v
                .hits
                .iter()
                .map(|(b, t, id)| {
                    sw.bridges[*b]
                        .tables
                        .get(*t, *id)
                        .map(|r| r.flow.serial)
                        .unwrap_or(0)
                })
                .collect();
            (v, serials)
        };
        let mut generation = generation;
        if verdict.state_changed {
            generation = self.sh.generation.fetch_add(1, Ordering::AcqRel) + 1;
        }
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        let expires = if verdict.side_effects {
            now + SIDE_EFFECT_TTL
        } else {
            Millis::MAX
        };
        let hits = verdict
            .hits
            .iter()
            .zip(serials)
            .map(|((b, t, id), s)| (*b, *t, *id, s))
            .collect();
        self.cache.insert(
            *key,
            Cached {
                generation,
                expires,
                outputs: verdict.outputs,
                hits,
                crossings: verdict.crossings, // capture:
            },
        );
    }

    fn flush(&mut self, now: Millis) {
        self.last_flush = now;
        if !self.counters.is_empty() {
            let mut all = self.sh.counters.lock().expect("poisoned");
            for (id, c) in self.counters.drain() {
                all.entry(id).or_default().add(&c);
            }
        }
        if !self.flow_credits.is_empty() {
            let mut sw = lock(&self.sh.switch);
            for ((b, t, id, serial), (p, by, used)) in self.flow_credits.drain() {
                if let Some(br) = sw.bridges.get_mut(b) {
                    br.tables.credit_serial(t, id, serial, p, by, used);
                }
            }
        }
    }
}

/// What sending needs of a worker, borrowed apart from its cache.
struct SendCtx<'a> {
    tx: &'a mut FastMap<PortId, Box<dyn PortIo>>,
    tx_offloads: &'a FastMap<PortId, bool>,
    counters: &'a mut FastMap<PortId, PortCounters>,
    segments: &'a mut Vec<Packet>,
    queues: &'a mut FastMap<PortId, Vec<Packet>>,
    pool: &'a mut Vec<Packet>,
}

impl SendCtx<'_> {
    fn send(&mut self, pkt: &mut Packet, received: &FlowKey, out: &Output) {
        let dst = (out.bridge, out.port);
        if apply_output(pkt, received, out).is_err() {
            self.counters.entry(dst).or_default().tx_errors += 1;
            return;
        }
        // The rewrite step ignores tunnel fields: hand the pipeline's
        // tun_id / tun_dst to the port (only tunnel ports read them).
        let (tun_id, tun_src, tun_dst) = (
            out.key.get(ofproto::key::TUN_ID) as u64,
            out.key.get(ofproto::key::TUN_SRC) as u32,
            out.key.get(ofproto::key::TUN_DST) as u32,
        );
        pkt.tunnel = Some(crate::packet::TunnelTag {
            id: tun_id,
            src: tun_src.into(),
            dst: tun_dst.into(),
        });
        let vnet_ok = self.tx_offloads.get(&dst).copied().unwrap_or(false);
        let c = self.counters.entry(dst).or_default();
        let Some(tx) = self.tx.get_mut(&dst) else {
            c.tx_dropped += 1;
            return;
        };
        if !vnet_ok && pkt.vnet.is_gso() {
            // The destination cannot take super-frames: cut them here.
            match segment_gso(pkt, self.segments) {
                Ok(k) => {
                    let sent = tx.send_batch(&mut self.segments[..k]).unwrap_or(0);
                    c.tx_packets += sent as u64;
                    c.tx_bytes += self.segments[..sent]
                        .iter()
                        .map(|p| p.len() as u64)
                        .sum::<u64>();
                    c.tx_dropped += (k - sent) as u64;
                }
                Err(_) => c.tx_errors += 1,
            }
            return;
        }
        if !vnet_ok && pkt.vnet.needs_csum() {
            complete_checksum(pkt);
        }
        // Queue for one sendmmsg per destination at the end of the batch.
        // The frame moves by swapping buffers with a spare from the pool:
        // no copy, and no allocation once the pool has warmed up.
        let mut spare = self.pool.pop().unwrap_or_default();
        std::mem::swap(pkt, &mut spare);
        self.queues.entry(dst).or_default().push(spare);
    }
}

/// Sends every queued frame, one batch per destination, and returns the
/// buffers to the pool.
fn flush_queues(
    queues: &mut FastMap<PortId, Vec<Packet>>,
    tx: &mut FastMap<PortId, Box<dyn PortIo>>,
    counters: &mut FastMap<PortId, PortCounters>,
    pool: &mut Vec<Packet>,
) {
    for (dst, q) in queues.iter_mut() {
        if q.is_empty() {
            continue;
        }
        let c = counters.entry(*dst).or_default();
        let mut done = 0;
        if let Some(port) = tx.get_mut(dst) {
            while done < q.len() {
                match port.send_batch(&mut q[done..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        c.tx_packets += n as u64;
                        c.tx_bytes += q[done..done + n]
                            .iter()
                            .map(|p| p.len() as u64)
                            .sum::<u64>();
                        done += n;
                    }
                }
            }
        }
        c.tx_dropped += (q.len() - done) as u64;
        pool.append(q);
    }
}

/// Worker problems go to the daemon's log.
fn tracing_like_warn(msg: &str) {
    tracing::warn!("worker: {msg}");
}
