//! TAP ports: a kernel Ethernet device whose "wire" is a file descriptor we
//! hold. Used for rswitch "internal" ports (the bridge's own interface,
//! e.g. `br0`, which the host or a lab namespace addresses) and "tap" ports.
//!
//! Opened through `/dev/net/tun` with raw `libc` ioctls rather than the
//! `tun-tap` crate: that crate supports neither `IFF_VNET_HDR` (needed so
//! GSO super-frames and partial checksums cross the port intact) nor
//! `IFF_MULTI_QUEUE`, `IFF_TUN_EXCL` or `TUNSETOFFLOAD`.
//!
//! Set-up: `TUNSETIFF` with `IFF_TAP | IFF_NO_PI | IFF_VNET_HDR` (optionally
//! `IFF_MULTI_QUEUE`), `TUNSETVNETHDRSZ` = 10 and `TUNSETOFFLOAD` with
//! `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN`: the offload flags say
//! what *we* accept, so the kernel may hand us TSO super-frames and
//! frames with partial checksums instead of segmenting/checksumming them
//! first. Every read and write carries a 10-byte virtio-net header.
//!
//! # Lifecycle
//!
//! * A TAP device lives while a queue fd is attached, or while it is
//!   *persistent* ([`TapPort::set_persist`]). Closing the last fd of a
//!   non-persistent device deletes it, with its addresses and namespace
//!   placement.
//! * The fd keeps working when the device is moved to another namespace
//!   (`ip link set X netns NS`): an internal port can be handed to a lab
//!   namespace and still be served by the switch.
//! * `TUNSETIFF` looks the name up in the namespace of the thread that
//!   opened `/dev/net/tun`. To re-attach after a daemon restart
//!   ([`TapPort::attach`]), the device must have been made persistent, and
//!   the attach must run in the namespace where the device now is (on a
//!   thread that `setns`-ed there), not where it was created.
//! * While detached, a persistent device has no carrier (`NO-CARRIER`) and
//!   the kernel drops what it would send to us.
//! * To remove a persistent device: `set_persist(false)` and drop the port,
//!   or delete the link (`ip link del`), which turns every fd on it
//!   into a `Gone` port (`EBADFD`).
//!
//! Errors: `EBADFD` (device deleted under us) → [`PortFault::Gone`],
//! `io::ErrorKind::NotFound`, sticky. Writes to a TAP that is
//! administratively down fail with `EIO` → [`PortFault::LinkDown`]
//! (`io::ErrorKind::NotConnected`); reads then just find nothing.

use std::ffi::CStr;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::netdev;
use super::{Offloads, PortError, PortFault, PortIo};
use crate::packet::{Packet, VnetHdr};

/// Options for [`TapPort::create`] and [`TapPort::attach_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapOptions {
    /// `IFF_MULTI_QUEUE`: several fds (one per worker) may be attached,
    /// each a separate queue. Must match the device's mode on attach.
    pub multi_queue: bool,
    /// Accept TSO super-frames and partial checksums from the kernel
    /// (`TUNSETOFFLOAD`). Off: the kernel segments and checksums first.
    pub offloads: bool,
}

impl Default for TapOptions {
    fn default() -> Self {
        TapOptions {
            multi_queue: false,
            offloads: true,
        }
    }
}

/// Frames this handle dropped by itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Reads shorter than the virtio-net header.
    pub rx_malformed: u64,
    /// Writes the kernel refused (`EINVAL`, `EMSGSIZE`: bad virtio-net
    /// header, frame too short or too long).
    pub tx_rejected: u64,
}

/// One queue of a TAP device.
pub struct TapPort {
    fd: OwnedFd,
    name: String,
    opts: TapOptions,
    gone: bool,
    pending: Option<io::Error>,
    stats: TapStats,
}

const TUN_PATH: &CStr = c"/dev/net/tun";

impl TapPort {
    /// Creates a new TAP device `name` in the calling thread's namespace
    /// (`""` lets the kernel pick `tapN`; see [`TapPort::name`]). Fails
    /// with `AlreadyExists` if a device of that name exists. The device is
    /// down and not persistent.
    pub fn create(name: &str, opts: TapOptions) -> io::Result<TapPort> {
        if !name.is_empty() {
            netdev::check_ifname(name)?;
        }
        match Self::open(name, opts, libc::IFF_TUN_EXCL) {
            Err(e) if super::errno(&e) == Some(libc::EBUSY) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                PortError {
                    port: name.to_string(),
                    op: "TUNSETIFF",
                    fault: None,
                    source: io::Error::from_raw_os_error(libc::EBUSY),
                },
            )),
            r => r,
        }
    }

    /// Attaches to the existing TAP device `name` in the calling thread's
    /// namespace with default options (see [`TapPort::attach_with`]).
    pub fn attach(name: &str) -> io::Result<TapPort> {
        Self::attach_with(name, TapOptions::default())
    }

    /// Attaches to the existing TAP device `name` in the calling thread's
    /// namespace, e.g. a persistent one after a restart. Fails with
    /// `NotFound` if there is no such device, and with `EBUSY` if it is a
    /// single-queue device that another fd still holds. If the device's
    /// queue mode differs from `opts.multi_queue`, the other mode is tried.
    pub fn attach_with(name: &str, opts: TapOptions) -> io::Result<TapPort> {
        // Without this check TUNSETIFF would quietly create a new device.
        // (A device deleted between the check and the ioctl would be
        // re-created non-persistent and vanish on close: harmless.)
        netdev::ifindex(name)?;
        match Self::open(name, opts, 0) {
            Err(e) if super::errno(&e) == Some(libc::EINVAL) => {
                let other = TapOptions {
                    multi_queue: !opts.multi_queue,
                    ..opts
                };
                Self::open(name, other, 0).map_err(|_| {
                    PortError::wrap(
                        name,
                        "TUNSETIFF (not a TAP device?)",
                        io::Error::from_raw_os_error(libc::EINVAL),
                    )
                })
            }
            r => r,
        }
    }

    fn open(name: &str, opts: TapOptions, extra_flags: libc::c_int) -> io::Result<TapPort> {
        let shown = if name.is_empty() { "tap" } else { name };
        let err = |op: &'static str| PortError::wrap(shown, op, io::Error::last_os_error());
        // SAFETY: TUN_PATH is a valid NUL-terminated path; result checked.
        let raw = unsafe {
            libc::open(
                TUN_PATH.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(err("open /dev/net/tun"));
        }
        // SAFETY: `raw` is a new descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { mem::zeroed() };
        for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        let mut flags = libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR | extra_flags;
        if opts.multi_queue {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        // The kernel's ifr_flags is a 16-bit field; IFF_TUN_EXCL is 0x8000.
        ifr.ifr_ifru.ifru_flags = flags as u16 as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which lives on our
        // stack for the call.
        if unsafe { libc::ioctl(raw, libc::TUNSETIFF, &mut ifr as *mut libc::ifreq) } < 0 {
            return Err(err("TUNSETIFF"));
        }
        // SAFETY: TUNSETIFF wrote the device's NUL-terminated name back.
        let actual = unsafe { CStr::from_ptr(ifr.ifr_name.as_ptr()) }
            .to_string_lossy()
            .into_owned();

        let hdr_sz: libc::c_int = VnetHdr::LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
        if unsafe { libc::ioctl(raw, libc::TUNSETVNETHDRSZ, &hdr_sz as *const libc::c_int) } < 0 {
            return Err(err("TUNSETVNETHDRSZ"));
        }
        let offload: libc::c_ulong = if opts.offloads {
            (libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN)
                as libc::c_ulong
        } else {
            0
        };
        // SAFETY: TUNSETOFFLOAD takes its argument by value; no pointer.
        if unsafe { libc::ioctl(raw, libc::TUNSETOFFLOAD, offload) } < 0 {
            return Err(err("TUNSETOFFLOAD"));
        }
        Ok(TapPort {
            fd,
            name: actual,
            opts,
            gone: false,
            pending: None,
            stats: TapStats::default(),
        })
    }

    /// The device name (as created or attached; see
    /// [`TapPort::current_name`] for renames).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device's name now, asked from the kernel (`TUNGETIFF`); `Gone`
    /// if the device was deleted.
    pub fn current_name(&self) -> io::Result<String> {
        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { mem::zeroed() };
        // SAFETY: TUNGETIFF writes one ifreq, which lives for the call.
        if unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNGETIFF,
                &mut ifr as *mut libc::ifreq,
            )
        } < 0
        {
            return Err(PortError::wrap(
                &self.name,
                "TUNGETIFF",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: the kernel wrote a NUL-terminated name.
        Ok(unsafe { CStr::from_ptr(ifr.ifr_name.as_ptr()) }
            .to_string_lossy()
            .into_owned())
    }

    /// Whether the device outlives its fds (`TUNSETPERSIST`); see the
    /// module docs for the lifecycle.
    pub fn set_persist(&self, persist: bool) -> io::Result<()> {
        // SAFETY: TUNSETPERSIST takes its argument by value; no pointer.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNSETPERSIST,
                persist as libc::c_ulong,
            )
        };
        if r < 0 {
            return Err(PortError::wrap(
                &self.name,
                "TUNSETPERSIST",
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    pub fn options(&self) -> TapOptions {
        self.opts
    }

    pub fn stats(&self) -> TapStats {
        self.stats
    }

    fn fail(&mut self, op: &'static str, e: io::Error) -> io::Error {
        match e.raw_os_error() {
            Some(libc::EBADFD) => {
                self.gone = true;
                PortError::with_fault(&self.name, op, Some(PortFault::Gone), e)
            }
            // tun refuses writes while the device is down with EIO.
            Some(libc::EIO) if op == "write" => {
                PortError::with_fault(&self.name, op, Some(PortFault::LinkDown), e)
            }
            _ => PortError::wrap(&self.name, op, e),
        }
    }

    fn gone_error(&self, op: &'static str) -> io::Error {
        PortError::with_fault(
            &self.name,
            op,
            Some(PortFault::Gone),
            io::Error::from_raw_os_error(libc::EBADFD),
        )
    }
}

/// `readv`/`writev` retried on EINTR.
fn rw_vectored(fd: RawFd, iov: &[libc::iovec; 2], write: bool) -> io::Result<usize> {
    loop {
        // SAFETY: both iovecs point to live buffers of the stated lengths
        // (set up by the caller from `&mut`/`&` borrows that outlive this
        // call); readv writes at most those lengths, writev only reads.
        let r = unsafe {
            if write {
                libc::writev(fd, iov.as_ptr(), 2)
            } else {
                libc::readv(fd, iov.as_ptr(), 2)
            }
        };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl PortIo for TapPort {
    /// One `readv` per frame (TAP has no batched read), until `EAGAIN` or
    /// `pkts` is full.
    fn recv_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.gone {
            return Err(self.gone_error("read"));
        }
        let mut n = 0;
        let mut vnet = [0u8; VnetHdr::LEN];
        while n < pkts.len() {
            let pkt = &mut pkts[n];
            let area = pkt.rx_area();
            let iov = [
                libc::iovec {
                    iov_base: vnet.as_mut_ptr().cast(),
                    iov_len: vnet.len(),
                },
                libc::iovec {
                    iov_base: area.as_mut_ptr().cast(),
                    iov_len: area.len(),
                },
            ];
            match rw_vectored(self.fd.as_raw_fd(), &iov, false) {
                Ok(len) if len < VnetHdr::LEN => {
                    self.stats.rx_malformed += 1;
                }
                Ok(len) => {
                    pkt.set_len(len - VnetHdr::LEN);
                    pkt.vnet = VnetHdr::parse(&vnet).unwrap_or_default();
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    let e = self.fail("read", e);
                    if n == 0 {
                        return Err(e);
                    }
                    self.pending = Some(e);
                    break;
                }
            }
        }
        Ok(n)
    }

    /// One `writev` per frame. Rejected frames (`EINVAL`, `EMSGSIZE`) are
    /// skipped and counted; `EAGAIN`/`ENOBUFS` end the batch.
    fn send_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        if self.gone {
            return Err(self.gone_error("write"));
        }
        let mut sent = 0;
        let mut vnet = [0u8; VnetHdr::LEN];
        for pkt in pkts.iter() {
            pkt.vnet.emit(&mut vnet);
            let data = pkt.data();
            let iov = [
                libc::iovec {
                    iov_base: vnet.as_mut_ptr().cast(),
                    iov_len: vnet.len(),
                },
                libc::iovec {
                    // writev only reads; iovec has no const variant.
                    iov_base: data.as_ptr() as *mut libc::c_void,
                    iov_len: data.len(),
                },
            ];
            match rw_vectored(self.fd.as_raw_fd(), &iov, true) {
                Ok(_) => sent += 1,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) => break,
                    Some(libc::EINVAL) | Some(libc::EMSGSIZE) => self.stats.tx_rejected += 1,
                    _ => {
                        let e = self.fail("write", e);
                        if sent == 0 {
                            return Err(e);
                        }
                        break;
                    }
                },
            }
        }
        Ok(sent)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn offloads(&self) -> Offloads {
        Offloads { vnet_hdr: true }
    }

    /// A `dup` of the queue fd (same queue, not a new one: for another
    /// queue use [`TapOptions::multi_queue`] and [`TapPort::attach_with`]).
    fn try_clone_tx(&self) -> io::Result<Box<dyn PortIo>> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| PortError::wrap(&self.name, "dup", e))?;
        Ok(Box::new(TapPort {
            fd,
            name: self.name.clone(),
            opts: self.opts,
            gone: self.gone,
            pending: None,
            stats: TapStats::default(),
        }))
    }
}
