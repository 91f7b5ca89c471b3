//! Port backends: how frames get in and out of the switch. Each backend
//! moves batches of [`Packet`]s through one non-blocking file descriptor
//! (or, for tests, in memory).

use std::io;
use std::os::fd::RawFd;

use crate::packet::Packet;

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
}
