//! Tunnel ports (VXLAN, GRE): OpenFlow ports whose frames travel
//! encapsulated through a [`VxlanEndpoint`] or [`GreEndpoint`].
//!
//! Every tunnel port with the same (kind, local address, UDP port) shares
//! one endpoint (one set of sockets), held in a [`TunnelHub`] behind a
//! mutex, which the receiving handle takes once per batch. Send handles
//! (`try_clone_tx`, one per worker) get sending sockets of their own, so
//! workers sending to a tunnel never wait for that lock; only a failed
//! send takes it, to count and log the failure.
//!
//! Any receiving handle of a hub reads the shared socket and demultiplexes
//! each frame to the tunnel port whose `remote_ip` is the outer source (or
//! whose `remote_ip` is `flow`) and whose input key matches, marking the
//! frame with [`Packet::in_port_override`] and [`Packet::tunnel`]; frames
//! matching no port are counted ([`TunnelHub::unmatched`]) and dropped.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::engine::PortId;
use crate::packet::{Packet, TunnelTag};
use crate::port::{Offloads, PortIo};
use crate::tunnel::{
    GreEndpoint, SendError, TunnelKind, TunnelMeta, TunnelOptions, TunnelStats, VxlanEndpoint,
};

/// The socket side of a hub.
pub enum Endpoint {
    Vxlan(VxlanEndpoint),
    Gre(GreEndpoint),
}

impl Endpoint {
    /// Opens an endpoint of `kind` on `local` (any when `None`); `dst_port`
    /// is VXLAN's UDP port.
    pub fn open(kind: TunnelKind, local: Option<Ipv4Addr>, dst_port: u16) -> io::Result<Endpoint> {
        Ok(match kind {
            TunnelKind::Vxlan => Endpoint::Vxlan(VxlanEndpoint::bind(local, dst_port)?),
            TunnelKind::Gre => Endpoint::Gre(GreEndpoint::open(local)?),
        })
    }

    fn raw_fd(&self) -> RawFd {
        match self {
            Endpoint::Vxlan(e) => e.raw_fd(),
            Endpoint::Gre(e) => e.raw_fd(),
        }
    }

    fn recv_batch(&mut self, pkts: &mut [Packet], meta: &mut [TunnelMeta]) -> io::Result<usize> {
        match self {
            Endpoint::Vxlan(e) => e.recv_batch(pkts, meta),
            Endpoint::Gre(e) => e.recv_batch(pkts, meta),
        }
    }

    fn send(
        &mut self,
        pkt: &mut Packet,
        remote: Ipv4Addr,
        tun_id: u64,
        opts: &TunnelOptions,
    ) -> Result<(), SendError> {
        match self {
            Endpoint::Vxlan(e) => e.send(pkt, remote, tun_id, opts),
            Endpoint::Gre(e) => e.send(pkt, remote, tun_id, opts),
        }
    }

    pub fn stats(&self) -> TunnelStats {
        match self {
            Endpoint::Vxlan(e) => e.stats(),
            Endpoint::Gre(e) => e.stats(),
        }
    }

    /// Sockets of its own for a sending thread.
    fn send_only(&self) -> io::Result<Endpoint> {
        Ok(match self {
            Endpoint::Vxlan(e) => Endpoint::Vxlan(e.send_only()?),
            Endpoint::Gre(e) => Endpoint::Gre(e.send_only()?),
        })
    }
}

/// One tunnel port's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    /// The OpenFlow port.
    pub id: PortId,
    /// Remote endpoint; `None` for `remote_ip=flow` (any source on
    /// receive, the pipeline's `tun_dst` on send).
    pub remote: Option<Ipv4Addr>,
    /// Tunnel id accepted on receive; `None` for `flow` (any).
    pub in_key: Option<u64>,
    /// Tunnel id sent; `None` for `flow` (the pipeline's `tun_id`).
    pub out_key: Option<u64>,
    /// Outer header options.
    pub opts: TunnelOptions,
}

/// An endpoint and the tunnel ports it serves.
pub struct TunnelHub {
    ep: Endpoint,
    /// (attachment serial, config) of the ports attached.
    ports: Vec<(u64, TunnelConfig)>,
    next_serial: u64,
    meta: Vec<TunnelMeta>,
    /// Received frames that matched no tunnel port (dropped).
    pub unmatched: u64,
    /// Frames that could not be encapsulated or sent (dropped).
    pub send_failures: u64,
    last_log: Option<Instant>,
}

/// A hub shared by its ports.
pub type SharedHub = Arc<Mutex<TunnelHub>>;

fn lock(h: &SharedHub) -> MutexGuard<'_, TunnelHub> {
    h.lock().unwrap_or_else(|e| e.into_inner())
}

impl TunnelHub {
    pub fn new(ep: Endpoint) -> SharedHub {
        Arc::new(Mutex::new(TunnelHub {
            ep,
            ports: Vec::new(),
            next_serial: 0,
            meta: vec![TunnelMeta::default(); crate::engine::BATCH],
            unmatched: 0,
            send_failures: 0,
            last_log: None,
        }))
    }

    pub fn stats(&self) -> TunnelStats {
        self.ep.stats()
    }

    /// Attaches a port to `hub`: the returned handle receives (for every
    /// port of the hub) and sends for `cfg`'s port.
    pub fn attach(hub: &SharedHub, cfg: TunnelConfig) -> io::Result<TunnelPort> {
        let mut h = lock(hub);
        // A descriptor of our own, so that several ports of one hub can be
        // registered with the same poller.
        let fd = dup_fd(h.ep.raw_fd())?;
        let serial = h.next_serial;
        h.next_serial += 1;
        h.ports.push((serial, cfg));
        drop(h);
        Ok(TunnelPort {
            hub: hub.clone(),
            cfg,
            rx: Some((serial, fd)),
            failed_tail: 0,
            sender: None,
        })
    }

    /// The port a frame from `m` belongs to: an exact remote first, then
    /// `remote_ip=flow`.
    fn demux(&self, m: &TunnelMeta) -> Option<PortId> {
        let key_ok = |c: &TunnelConfig| c.in_key.is_none_or(|k| k == m.tun_id);
        self.ports
            .iter()
            .find(|(_, c)| c.remote == Some(m.src) && key_ok(c))
            .or_else(|| {
                self.ports
                    .iter()
                    .find(|(_, c)| c.remote.is_none() && key_ok(c))
            })
            .map(|(_, c)| c.id)
    }

    fn log_failure(&mut self, what: &str) {
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10))
        {
            self.last_log = Some(now);
            // Into the daemon's log (rate-limited above); the drops
            // themselves are in the port's tx counters (dump-ports).
            tracing::warn!(
                "tunnel: {what} ({} send failures so far)",
                self.send_failures
            );
        }
    }
}

fn dup_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: `fd` is a live descriptor owned by the hub for this call.
    let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    b.try_clone_to_owned()
}

/// One tunnel port's handle on its hub.
pub struct TunnelPort {
    hub: SharedHub,
    cfg: TunnelConfig,
    /// Receiving handles: the attachment serial (detached on drop) and a
    /// duplicate of the endpoint's descriptor to poll.
    rx: Option<(u64, OwnedFd)>,
    /// Frames of the last send that failed (left at the end of its slice).
    failed_tail: usize,
    /// Send handles (from `try_clone_tx`) send through sockets of their
    /// own, so a worker sending to a tunnel never waits for the hub's lock
    /// (held by the worker receiving from it); `None` sends through the hub.
    sender: Option<Endpoint>,
}

impl Drop for TunnelPort {
    fn drop(&mut self) {
        if let Some((serial, _)) = self.rx {
            lock(&self.hub).ports.retain(|(s, _)| *s != serial);
        }
    }
}

impl PortIo for TunnelPort {
    fn recv_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        let mut h = lock(&self.hub);
        let h = &mut *h;
        let mut out = 0;
        // Read until the socket is empty or `pkts` full: polling is
        // edge-triggered, and dropped frames must not hide pending ones.
        while out < pkts.len() {
            let want = (pkts.len() - out).min(h.meta.len());
            let n =
                h.ep.recv_batch(&mut pkts[out..out + want], &mut h.meta[..want])?;
            if n == 0 {
                break;
            }
            let base = out;
            for k in 0..n {
                let m = h.meta[k];
                match h.demux(&m) {
                    Some(id) => {
                        pkts.swap(out, base + k);
                        let p = &mut pkts[out];
                        p.in_port_override = Some(id);
                        // A Linux peer may have sent the inner checksum
                        // unfinished (its offloads); finish it here.
                        crate::offload::finish_partial_checksum(p);
                        p.tunnel = Some(TunnelTag {
                            id: m.tun_id,
                            src: m.src,
                            dst: m.dst,
                        });
                        out += 1;
                    }
                    None => h.unmatched += 1,
                }
            }
        }
        Ok(out)
    }

    fn send_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        // The engine calls again with what was not accepted: when that is
        // exactly the frames that just failed, report nothing sent so that
        // it counts them as dropped instead of retrying.
        let failed = std::mem::take(&mut self.failed_tail);
        if failed > 0 && failed == pkts.len() {
            return Ok(0);
        }
        let mut sent = 0;
        // Failures are rare: the hub (counters, rate-limited log) is locked
        // only for them when this handle has sockets of its own.
        let mut failures: Vec<String> = Vec::new();
        {
            let mut guard = match self.sender {
                Some(_) => None,
                None => Some(lock(&self.hub)),
            };
            let ep = match (&mut self.sender, &mut guard) {
                (Some(ep), _) => ep,
                (None, Some(h)) => &mut h.ep,
                (None, None) => unreachable!("locked above when there is no sender"),
            };
            for i in 0..pkts.len() {
                let p = &mut pkts[i];
                let tag = p.tunnel;
                let remote = self.cfg.remote.or(tag.map(|t| t.dst));
                let remote = match remote {
                    Some(r) if !r.is_unspecified() => r,
                    _ => {
                        failures
                            .push("no remote_ip for a frame sent to a remote_ip=flow port".into());
                        continue;
                    }
                };
                let id = self.cfg.out_key.unwrap_or_else(|| tag.map_or(0, |t| t.id));
                match ep.send(p, remote, id, &self.cfg.opts) {
                    Ok(()) => {
                        // Sent frames first, so the caller counts their bytes.
                        pkts.swap(sent, i);
                        sent += 1;
                    }
                    Err(e) => failures.push(format!("to {remote}: {e}")),
                }
            }
        }
        if !failures.is_empty() {
            let mut h = lock(&self.hub);
            h.send_failures += failures.len() as u64;
            for f in &failures {
                h.log_failure(f);
            }
        }
        self.failed_tail = pkts.len() - sent;
        Ok(sent)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.rx.as_ref().map(|(_, fd)| fd.as_raw_fd())
    }

    fn offloads(&self) -> Offloads {
        // The endpoint segments GSO frames and completes checksums itself.
        Offloads { vnet_hdr: true }
    }

    fn try_clone_tx(&self) -> io::Result<Box<dyn PortIo>> {
        let sender = Some(lock(&self.hub).ep.send_only()?);
        Ok(Box::new(TunnelPort {
            sender,
            hub: self.hub.clone(),
            cfg: self.cfg,
            rx: None,
            failed_tail: 0,
        }))
    }
}
