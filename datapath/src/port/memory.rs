//! In-memory ports for tests: a [`MemoryPort`] the switch uses like any
//! other backend and a [`MemoryPeer`] the test holds, joined by two bounded
//! crossbeam channels, so the engine and pipeline can be tested without
//! root, namespaces or real devices.
//!
//! Readiness: [`PortIo::raw_fd`] returns an `eventfd` that the peer signals
//! on every injected frame (and when it is dropped), so an engine can poll
//! it with mio/epoll exactly like a socket. It is readable while frames from
//! the peer may be pending; [`PortIo::recv_batch`] clears it *before*
//! draining the channel (so a frame injected concurrently re-signals it
//! rather than being missed) and signals it again if it leaves frames
//! behind (batch full). Wake-ups can therefore be spurious (a receive then
//! returns `Ok(0)`), never lost. Every signal is a new epoll event, so
//! edge-triggered polling (mio) works too.
//!
//! Dropping the peer makes the port `Gone` ([`PortFault::Gone`],
//! `io::ErrorKind::NotFound`) once the frames already injected are received,
//! which lets tests exercise port removal.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};

use super::{Offloads, PortError, PortFault, PortIo};
use crate::packet::{Packet, VnetHdr};

/// A frame crossing a memory port, with its offload state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub data: Vec<u8>,
    pub vnet: VnetHdr,
}

/// Options for [`MemoryPort::pair_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryOptions {
    /// Capacity of each direction's channel, in frames. A full channel
    /// makes `send_batch` stop (the rest are tx drops) and
    /// [`MemoryPeer::send`] fail with `WouldBlock`.
    pub capacity: usize,
    /// What the port claims to carry. With `vnet_hdr: false` it enforces
    /// the contract: the engine must not send GSO or `NEEDS_CSUM` frames to
    /// it (`send_batch` fails with `InvalidInput`), and the peer cannot
    /// inject them.
    pub offloads: Offloads,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            capacity: 1024,
            offloads: Offloads { vnet_hdr: true },
        }
    }
}

/// The eventfd behind [`MemoryPort`]'s readiness.
#[derive(Debug)]
struct Signal {
    fd: OwnedFd,
}

impl Signal {
    fn new() -> io::Result<Signal> {
        // SAFETY: eventfd() takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor owned by nothing else.
        Ok(Signal {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of a live u64, as eventfd requires.
        // Failure means only that the counter is saturated (EAGAIN), i.e.
        // already readable, so it is ignored.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn clear(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64, as eventfd requires.
        // EAGAIN (already clear) is the only expected failure and harmless.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

/// The switch's side of a memory port.
#[derive(Debug)]
pub struct MemoryPort {
    from_peer: Receiver<Frame>,
    to_peer: Sender<Frame>,
    signal: Arc<Signal>,
    offloads: Offloads,
    /// Clones from `try_clone_tx` only send: receiving stays with the
    /// original so the readiness fd has a single consumer.
    tx_only: bool,
}

/// The test's side of a memory port: injects frames and collects what the
/// switch sent.
#[derive(Debug)]
pub struct MemoryPeer {
    to_port: Sender<Frame>,
    from_port: Receiver<Frame>,
    signal: Arc<Signal>,
    offloads: Offloads,
}

impl MemoryPort {
    /// A port/peer pair with [`MemoryOptions::default`] but the given
    /// channel capacity.
    pub fn pair(capacity: usize) -> io::Result<(MemoryPort, MemoryPeer)> {
        Self::pair_with(MemoryOptions {
            capacity,
            ..MemoryOptions::default()
        })
    }

    pub fn pair_with(opts: MemoryOptions) -> io::Result<(MemoryPort, MemoryPeer)> {
        let signal = Arc::new(Signal::new()?);
        let (to_port, from_peer) = bounded(opts.capacity.max(1));
        let (to_peer, from_port) = bounded(opts.capacity.max(1));
        Ok((
            MemoryPort {
                from_peer,
                to_peer,
                signal: signal.clone(),
                offloads: opts.offloads,
                tx_only: false,
            },
            MemoryPeer {
                to_port,
                from_port,
                signal,
                offloads: opts.offloads,
            },
        ))
    }

    fn gone(op: &'static str) -> io::Error {
        PortError::with_fault(
            "memory",
            op,
            Some(PortFault::Gone),
            io::Error::new(io::ErrorKind::BrokenPipe, "memory peer dropped"),
        )
    }
}

impl PortIo for MemoryPort {
    fn recv_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        if self.tx_only || pkts.is_empty() {
            return Ok(0);
        }
        // Clear first: a frame injected after this point raises the signal
        // again, so it cannot be left pending behind a cleared fd.
        self.signal.clear();
        let mut n = 0;
        while n < pkts.len() {
            match self.from_peer.try_recv() {
                Ok(f) => {
                    let p = &mut pkts[n];
                    p.set_frame(&f.data);
                    p.vnet = f.vnet;
                    n += 1;
                }
                Err(TryRecvError::Empty) => return Ok(n),
                Err(TryRecvError::Disconnected) => {
                    if n == 0 {
                        return Err(Self::gone("recv"));
                    }
                    // Report the disconnection on the next call.
                    self.signal.raise();
                    return Ok(n);
                }
            }
        }
        if !self.from_peer.is_empty() {
            self.signal.raise();
        }
        Ok(n)
    }

    fn send_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        if !self.offloads.vnet_hdr {
            if let Some(i) = pkts
                .iter()
                .position(|p| p.vnet.is_gso() || p.vnet.needs_csum())
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "memory port without vnet_hdr offload got frame {i} with {:?}: \
                         the engine must segment and checksum first",
                        pkts[i].vnet
                    ),
                ));
            }
        }
        let mut sent = 0;
        for p in pkts.iter() {
            let f = Frame {
                data: p.data().to_vec(),
                vnet: p.vnet,
            };
            match self.to_peer.try_send(f) {
                Ok(()) => sent += 1,
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => {
                    if sent == 0 {
                        return Err(Self::gone("send"));
                    }
                    break;
                }
            }
        }
        Ok(sent)
    }

    /// The eventfd described in the module docs; `None` on a send-only
    /// clone.
    fn raw_fd(&self) -> Option<RawFd> {
        (!self.tx_only).then(|| self.signal.fd.as_raw_fd())
    }

    fn offloads(&self) -> Offloads {
        self.offloads
    }

    /// A send-only handle on the same channel: its `recv_batch` returns
    /// `Ok(0)` and it has no readiness fd.
    fn try_clone_tx(&self) -> io::Result<Box<dyn PortIo>> {
        Ok(Box::new(MemoryPort {
            from_peer: self.from_peer.clone(),
            to_peer: self.to_peer.clone(),
            signal: self.signal.clone(),
            offloads: self.offloads,
            tx_only: true,
        }))
    }
}

impl MemoryPeer {
    /// Injects a plain frame towards the switch.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.send_with_vnet(frame, VnetHdr::default())
    }

    /// Injects a frame with offload state (a GSO super-frame, a partial
    /// checksum). Fails with `InvalidInput` if the port was made without
    /// `vnet_hdr` and `vnet` asks for GSO or a checksum, `WouldBlock` if the
    /// channel is full, `BrokenPipe` if the port was dropped.
    pub fn send_with_vnet(&self, frame: &[u8], vnet: VnetHdr) -> io::Result<()> {
        if !self.offloads.vnet_hdr && (vnet.is_gso() || vnet.needs_csum()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this memory port has no vnet_hdr offload",
            ));
        }
        let f = Frame {
            data: frame.to_vec(),
            vnet,
        };
        match self.to_port.try_send(f) {
            Ok(()) => {
                self.signal.raise();
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "memory port receive queue full",
            )),
            Err(TrySendError::Disconnected(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "memory port dropped",
            )),
        }
    }

    /// The next frame the switch sent, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Frame> {
        self.from_port.recv_timeout(timeout).ok()
    }

    /// The next frame the switch sent, if there is one.
    pub fn try_recv(&self) -> Option<Frame> {
        self.from_port.try_recv().ok()
    }

    /// Every frame the switch sent so far, oldest first.
    pub fn try_recv_all(&self) -> Vec<Frame> {
        self.from_port.try_iter().collect()
    }

    /// Frames injected but not yet received by the switch.
    pub fn pending(&self) -> usize {
        self.to_port.len()
    }
}

impl Drop for MemoryPeer {
    fn drop(&mut self) {
        // Disconnect first, then wake the port: a receive woken by this
        // signal must already see the channel disconnected, or it would
        // return Ok(0) and never be woken again.
        let (dead, _) = bounded(0);
        drop(std::mem::replace(&mut self.to_port, dead));
        self.signal.raise();
    }
}
