//! Port backends: how frames get in and out of the switch. Each backend
//! moves batches of [`Packet`]s through one non-blocking file descriptor
//! (or, for tests, in memory).

use std::io;
use std::os::fd::RawFd;

use crate::packet::Packet;

pub mod afpacket;
pub mod memory;
pub mod netdev;
pub mod rx_ring;
pub mod tap;
pub mod tunnel_port;

/// What a backend can carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offloads {
    /// Frames carry a virtio-net header: GSO super-frames and partial
    /// checksums pass through untouched. When false, the engine must
    /// complete checksums and segment GSO frames before sending here.
    pub vnet_hdr: bool,
}

/// One port's I/O. Non-blocking: "nothing to do" is `Ok(0)`.
pub trait PortIo: Send {
    /// Receives up to `pkts.len()` frames into `pkts[..n]`; returns n.
    /// Frames the kernel marked as our own transmissions are skipped.
    fn recv_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize>;
    /// Sends `pkts`; returns how many were accepted (the caller counts the
    /// rest as tx drops).
    fn send_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize>;
    /// The descriptor to poll for readability, if the backend has one.
    fn raw_fd(&self) -> Option<RawFd>;
    fn offloads(&self) -> Offloads;
    /// True when frames wait that `recv_batch` would return, known without
    /// a system call (a receive ring). Lets a busy worker look for more
    /// work before sleeping; backends without such a view say false.
    fn rx_pending(&self) -> bool {
        false
    }
    /// True when [`PortIo::rx_pending`] means something for this port, so
    /// spinning on it before sleeping can find work.
    fn can_busy_poll(&self) -> bool {
        false
    }
    /// A second handle for sending from another worker thread. Backends that
    /// can share their descriptor (AF_PACKET, TAP: `dup`) or channel
    /// (memory) override this; the default says they cannot.
    fn try_clone_tx(&self) -> io::Result<Box<dyn PortIo>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this port backend cannot send from several threads",
        ))
    }
}

/// Why a port operation failed, as far as the engine needs to know.
///
/// Backends report device trouble as an [`io::Error`] whose payload is a
/// [`PortError`]; [`port_fault`] recovers it (and also classifies bare OS
/// errors), so the engine never has to match errno values itself:
///
/// | fault | `io::ErrorKind` | kernel errors | what to do |
/// |---|---|---|---|
/// | [`PortFault::LinkDown`] | `NotConnected` | `ENETDOWN` (device exists); TAP write `EIO` | keep the port; it works again once the link is up |
/// | [`PortFault::Gone`] | `NotFound` | `ENXIO`, `ENODEV`, `EBADFD`, `ENETDOWN` on a deleted device | drop this handle; reopen by name if the device comes back |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortFault {
    /// The device exists but is down. Transient.
    LinkDown,
    /// The device no longer exists (deleted, its namespace destroyed, the
    /// memory peer dropped). Permanent for this handle: every later call
    /// on it fails the same way.
    Gone,
}

/// A port or interface error that names the device and the operation and
/// keeps the OS error (see [`errno`]).
#[derive(Debug)]
pub struct PortError {
    /// Interface or port name.
    pub port: String,
    /// What failed, e.g. `"recvmmsg"`, `"SIOCGIFMTU"`.
    pub op: &'static str,
    /// Set when the error means the device is down or gone.
    pub fault: Option<PortFault>,
    /// The underlying error (usually an OS error).
    pub source: io::Error,
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.port, self.op, self.source)?;
        match self.fault {
            Some(PortFault::LinkDown) => write!(f, " (link down)"),
            Some(PortFault::Gone) => write!(f, " (device gone)"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for PortError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl PortError {
    /// Wraps `source` with the port name and operation. The resulting
    /// `io::Error` has kind `NotFound` for [`PortFault::Gone`],
    /// `NotConnected` for [`PortFault::LinkDown`], else `source`'s kind.
    pub fn wrap(port: &str, op: &'static str, source: io::Error) -> io::Error {
        let fault = fault_of_errno(source.raw_os_error());
        Self::with_fault(port, op, fault, source)
    }

    /// Like [`PortError::wrap`] with an explicit fault.
    pub fn with_fault(
        port: &str,
        op: &'static str,
        fault: Option<PortFault>,
        source: io::Error,
    ) -> io::Error {
        let kind = match fault {
            Some(PortFault::Gone) => io::ErrorKind::NotFound,
            Some(PortFault::LinkDown) => io::ErrorKind::NotConnected,
            None => source.kind(),
        };
        io::Error::new(
            kind,
            PortError {
                port: port.to_string(),
                op,
                fault,
                source,
            },
        )
    }
}

fn fault_of_errno(errno: Option<i32>) -> Option<PortFault> {
    match errno? {
        libc::ENETDOWN => Some(PortFault::LinkDown),
        libc::ENXIO | libc::ENODEV | libc::EBADFD => Some(PortFault::Gone),
        _ => None,
    }
}

/// The device fault behind `e`, if any: the [`PortError`] payload's, or a
/// classification of a bare OS error (`ENETDOWN` → `LinkDown`; `ENXIO`,
/// `ENODEV`, `EBADFD` → `Gone`).
pub fn port_fault(e: &io::Error) -> Option<PortFault> {
    match e.get_ref().and_then(|r| r.downcast_ref::<PortError>()) {
        Some(pe) => pe
            .fault
            .or_else(|| fault_of_errno(pe.source.raw_os_error())),
        None => fault_of_errno(e.raw_os_error()),
    }
}

/// The OS error number behind `e`, looking through a [`PortError`].
pub fn errno(e: &io::Error) -> Option<i32> {
    match e.get_ref().and_then(|r| r.downcast_ref::<PortError>()) {
        Some(pe) => pe.source.raw_os_error(),
        None => e.raw_os_error(),
    }
}
