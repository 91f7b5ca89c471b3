//! AF_PACKET "system" ports: a raw packet socket bound to one existing
//! interface (e.g. a veth end), moving batches with `recvmmsg`/`sendmmsg`.
//!
//! Socket set-up, and why each piece is there:
//!
//! * `socket(AF_PACKET, SOCK_RAW, 0)` and only then `bind` with `ETH_P_ALL`
//!   and the ifindex: a socket created with protocol 0 receives nothing, so
//!   no frame of *another* interface can slip in before the bind.
//! * `PACKET_VNET_HDR`: every frame is preceded by a 10-byte virtio-net
//!   header, in both directions. Received GSO super-frames (a TCP stream
//!   from a veth peer arrives as up to 64 KiB frames) and partial checksums
//!   (`NEEDS_CSUM`) are passed on intact instead of being segmented or
//!   checksummed in the kernel; on send the kernel segments/checksums only
//!   if the egress device cannot. The header is received into a side buffer
//!   with a two-element iovec so the frame itself lands at the packet's data
//!   start, and becomes [`Packet::vnet`].
//! * `PACKET_AUXDATA`: the receive path strips VLAN tags into skb metadata
//!   before taps see the frame (even without the 8021q module). The tag
//!   comes back as `tp_vlan_tci`/`tp_vlan_tpid` (`TP_STATUS_VLAN_VALID`,
//!   `TP_STATUS_VLAN_TPID_VALID`) and is re-inserted after the MAC
//!   addresses, into the packet's headroom, so the switch sees the frame as
//!   it was on the wire. `csum_start`/`hdr_len` of the virtio-net header are
//!   shifted by the 4 inserted bytes.
//! * `PACKET_IGNORE_OUTGOING` (Linux ≥ 4.20): frames *transmitted* on the
//!   interface by anyone in this namespace (our own sends, but also the
//!   kernel's IPv6 ND/MLD chatter on the port) must not be mistaken for
//!   received ones. On older kernels (or with
//!   [`OutgoingFilter::Userspace`]) the same is done by dropping frames whose
//!   `sll_pkttype` is `PACKET_OUTGOING`; that check is always made, as a
//!   second line of defence.
//! * `PACKET_ADD_MEMBERSHIP`/`PACKET_MR_PROMISC`: promiscuous mode that the
//!   kernel reference-counts and undoes when the socket closes, even if
//!   the daemon crashes (unlike setting `IFF_PROMISC`).
//! * `PACKET_QDISC_BYPASS` is optional and off by default: it saves the
//!   qdisc layer on send, but then tc egress configuration on the port
//!   (netem delay/loss that labs like to put on links) is skipped and there
//!   is no queue to absorb bursts.
//!
//! Errors (see [`super::PortFault`]): `ENETDOWN` while the device exists →
//! `LinkDown` (`io::ErrorKind::NotConnected`), transient; `ENXIO`/`ENODEV`,
//! or `ENETDOWN` on a device that was deleted → `Gone`
//! (`io::ErrorKind::NotFound`), sticky for this handle.
//!
//! Note the kernel reports a link going down (or the device being deleted)
//! to a receiver only *once* (`sk_err`, which also makes the fd readable).
//! A device deleted while it was already down produces no receive error at
//! all: `send_batch` reports it (`ENXIO`), and so does [`AfPacketPort::link_state`],
//! which an engine should call periodically (or on netlink link events).

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::netdev::{self, IfCtl, LinkState};
use super::rx_ring::{self, RingSize, RxRing};
use super::{Offloads, PortError, PortFault, PortIo};
use crate::packet::{Packet, VnetHdr};

/// `CMSG_SPACE(sizeof(struct tpacket_auxdata))` is 40 on 64-bit Linux;
/// 64 leaves room without any computation at run time.
const CMSG_BUF: usize = 64;
/// 802.1Q TPID, used when the kernel does not say which TPID it stripped.
const TPID_8021Q: u16 = 0x8100;

/// How frames transmitted on the interface are kept out of the receive path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutgoingFilter {
    /// `PACKET_IGNORE_OUTGOING` if the kernel has it, else [`OutgoingFilter::Userspace`].
    #[default]
    Auto,
    /// Drop frames whose `sll_pkttype` is `PACKET_OUTGOING` after receiving
    /// them (what pre-4.20 kernels need; selectable for testing).
    Userspace,
}

/// Options for [`AfPacketPort::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfPacketOptions {
    /// Messages per `recvmmsg`/`sendmmsg` call (larger batches are split).
    pub batch: usize,
    /// Put the interface into promiscuous mode (via socket membership).
    pub promisc: bool,
    /// `PACKET_QDISC_BYPASS` for sends (skips tc egress; see module docs).
    pub qdisc_bypass: bool,
    pub outgoing_filter: OutgoingFilter,
    /// `SO_RCVBUF`/`SO_SNDBUF` in bytes (the kernel doubles and caps them
    /// at `net.core.rmem_max`/`wmem_max`); `None` keeps the defaults.
    pub rcvbuf: Option<usize>,
    pub sndbuf: Option<usize>,
    /// Receive through a `PACKET_RX_RING` (see [`super::rx_ring`]); `None`
    /// receives with `recvmmsg`. The environment variable
    /// `RSWITCH_AFPACKET_RING=0` also turns the ring off (for comparisons).
    pub rx_ring: Option<RingSize>,
}

impl Default for AfPacketOptions {
    fn default() -> Self {
        AfPacketOptions {
            batch: 32,
            promisc: true,
            qdisc_bypass: false,
            outgoing_filter: OutgoingFilter::Auto,
            rcvbuf: None,
            sndbuf: None,
            rx_ring: Some(RingSize::DEFAULT),
        }
    }
}

/// Frames this handle dropped by itself (the kernel's own drop counters are
/// in `PACKET_STATISTICS`, not read here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AfPacketStats {
    /// Received frames larger than the buffer (`MSG_TRUNC`), dropped.
    pub rx_truncated: u64,
    /// Frames with `sll_pkttype == PACKET_OUTGOING`, dropped.
    pub rx_outgoing_skipped: u64,
    /// Received messages shorter than the virtio-net header (or ring slots
    /// with an impossible header), dropped.
    pub rx_malformed: u64,
    /// Frames read from the receive ring without a system call.
    pub rx_ring_frames: u64,
    /// Frames too big for a ring slot, read whole with `recvmsg`.
    pub rx_ring_copies: u64,
    /// Frames the kernel refused on send (`EMSGSIZE`, `EINVAL`: too long
    /// without GSO, bad virtio-net header, shorter than an Ethernet header).
    pub tx_rejected: u64,
}

/// Per-call scratch for `recvmmsg`/`sendmmsg`, allocated once. The pointers
/// inside `msgs` and `iovs` are rewritten at the start of every call and
/// are only dereferenced (by the kernel) during that call.
struct Scratch {
    msgs: Vec<libc::mmsghdr>,
    iovs: Vec<[libc::iovec; 2]>,
    vnet: Vec<[u8; VnetHdr::LEN]>,
    addrs: Vec<libc::sockaddr_ll>,
    cmsgs: Vec<CmsgBuf>,
}

/// Control-message buffer, aligned as `struct cmsghdr` requires.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct CmsgBuf([u8; CMSG_BUF]);

impl Scratch {
    fn new(n: usize) -> Scratch {
        // SAFETY: mmsghdr, iovec and sockaddr_ll are plain C structs for
        // which all-zero bytes (null pointers, zero lengths) are valid.
        let (msg, iov, addr) = unsafe {
            (
                mem::zeroed::<libc::mmsghdr>(),
                mem::zeroed::<libc::iovec>(),
                mem::zeroed::<libc::sockaddr_ll>(),
            )
        };
        Scratch {
            msgs: vec![msg; n],
            iovs: vec![[iov; 2]; n],
            vnet: vec![[0; VnetHdr::LEN]; n],
            addrs: vec![addr; n],
            cmsgs: vec![CmsgBuf([0; CMSG_BUF]); n],
        }
    }
}

/// A "system" port: an existing interface read and written through an
/// AF_PACKET socket. See the module docs for the socket options used.
pub struct AfPacketPort {
    fd: OwnedFd,
    /// Interface-ioctl handle in the socket's namespace (which may differ
    /// from the namespace of the thread using the port).
    ctl: IfCtl,
    ifname: String,
    ifindex: u32,
    opts: AfPacketOptions,
    kernel_ignores_outgoing: bool,
    gone: bool,
    /// An error met after some frames of a batch were already received;
    /// reported by the next call so it is not lost.
    pending: Option<io::Error>,
    stats: AfPacketStats,
    scratch: Scratch,
    /// The receive ring, on the handle that receives (never on clones).
    ring: Option<RxRing>,
}

// SAFETY: the !Send parts are the raw pointers inside `scratch` and the
// ring's base pointer. Scratch pointers are rebuilt from `&mut self`/`&mut
// [Packet]` borrows at the start of every recv/send call and only used
// during that call, never across calls or threads. The ring is a MAP_SHARED
// mapping owned by this handle alone (clones get none), valid in every
// thread of the process until the handle drops it.
unsafe impl Send for AfPacketPort {}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&val as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl AfPacketPort {
    /// Opens `ifname` in the calling thread's network namespace. The port
    /// keeps working from any thread (and namespace) afterwards.
    ///
    /// The interface may be down: the first receive then reports `LinkDown`
    /// and frames flow once it is brought up.
    pub fn open(ifname: &str, opts: AfPacketOptions) -> io::Result<AfPacketPort> {
        let err = |op: &'static str| PortError::wrap(ifname, op, io::Error::last_os_error());
        let wrap = |op: &'static str, e: io::Error| PortError::wrap(ifname, op, e);
        netdev::check_ifname(ifname)?;
        let batch = opts.batch.max(1);
        // SAFETY: socket() takes no pointers; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(err("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a new descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let ctl = IfCtl::from_socket(fd.as_fd())?;
        let ifindex = ctl.ifindex(ifname)?;

        setsockopt_int(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1)
            .map_err(|e| wrap("PACKET_VNET_HDR", e))?;
        setsockopt_int(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)
            .map_err(|e| wrap("PACKET_AUXDATA", e))?;
        let kernel_ignores_outgoing = opts.outgoing_filter == OutgoingFilter::Auto
            && setsockopt_int(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1).is_ok();
        if opts.qdisc_bypass {
            setsockopt_int(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1)
                .map_err(|e| wrap("PACKET_QDISC_BYPASS", e))?;
        }
        if let Some(n) = opts.rcvbuf {
            let n = n.min(i32::MAX as usize) as libc::c_int;
            // FORCE (root) lifts the rmem_max cap; fall back without it.
            setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, n)
                .or_else(|_| setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, n))
                .map_err(|e| wrap("SO_RCVBUF", e))?;
        }
        if let Some(n) = opts.sndbuf {
            let n = n.min(i32::MAX as usize) as libc::c_int;
            setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, n)
                .or_else(|_| setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_SNDBUF, n))
                .map_err(|e| wrap("SO_SNDBUF", e))?;
        }
        // Before bind, so no frame is queued the old way first. A kernel
        // without rings (or without memory for one) still gets a working
        // port, on recvmmsg.
        let ring_wanted = std::env::var("RSWITCH_AFPACKET_RING").map_or(true, |v| v != "0");
        let ring = match opts.rx_ring {
            Some(size) if ring_wanted => RxRing::setup(raw, size).ok(),
            _ => None,
        };

        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: passes a pointer to a live sockaddr_ll and its exact size.
        let r = unsafe {
            libc::bind(
                raw,
                (&sll as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(err("bind"));
        }

        if opts.promisc {
            // SAFETY: packet_mreq is plain old data; all-zero is valid.
            let mut mreq: libc::packet_mreq = unsafe { mem::zeroed() };
            mreq.mr_ifindex = ifindex as libc::c_int;
            mreq.mr_type = libc::PACKET_MR_PROMISC as libc::c_ushort;
            // SAFETY: passes a pointer to a live packet_mreq and its size.
            let r = unsafe {
                libc::setsockopt(
                    raw,
                    libc::SOL_PACKET,
                    libc::PACKET_ADD_MEMBERSHIP,
                    (&mreq as *const libc::packet_mreq).cast(),
                    mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
                )
            };
            if r < 0 {
                return Err(err("PACKET_ADD_MEMBERSHIP"));
            }
        }

        Ok(AfPacketPort {
            fd,
            ctl,
            ifname: ifname.to_string(),
            ifindex,
            opts: AfPacketOptions { batch, ..opts },
            kernel_ignores_outgoing,
            gone: false,
            pending: None,
            stats: AfPacketStats::default(),
            scratch: Scratch::new(batch),
            ring,
        })
    }

    /// True when frames arrive through the receive ring.
    pub fn uses_rx_ring(&self) -> bool {
        self.ring.is_some()
    }

    /// The interface name given to [`AfPacketPort::open`].
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The interface index the socket is bound to (in its namespace).
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// True when the kernel filters our outgoing frames
    /// (`PACKET_IGNORE_OUTGOING` accepted).
    pub fn kernel_ignores_outgoing(&self) -> bool {
        self.kernel_ignores_outgoing
    }

    pub fn stats(&self) -> AfPacketStats {
        self.stats
    }

    /// Link state of the bound device, looked up by ifindex in the socket's
    /// namespace (so it follows renames and works from any thread). A
    /// deleted device yields a `Gone` error and marks this handle gone.
    pub fn link_state(&mut self) -> io::Result<LinkState> {
        if self.gone {
            return Err(self.gone_error("link_state", None));
        }
        let r = self
            .ctl
            .ifname(self.ifindex)
            .and_then(|name| self.ctl.link_state(&name));
        if let Err(e) = &r {
            if super::port_fault(e) == Some(PortFault::Gone) {
                self.gone = true;
            }
        }
        r
    }

    /// MAC address of the bound device.
    pub fn mac(&self) -> io::Result<[u8; 6]> {
        let name = self.ctl.ifname(self.ifindex)?;
        self.ctl.mac(&name)
    }

    /// MTU of the bound device.
    pub fn mtu(&self) -> io::Result<u32> {
        let name = self.ctl.ifname(self.ifindex)?;
        self.ctl.mtu(&name)
    }

    fn gone_error(&self, op: &'static str, source: Option<io::Error>) -> io::Error {
        let source = source.unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENXIO));
        PortError::with_fault(&self.ifname, op, Some(PortFault::Gone), source)
    }

    /// Turns a device error into a `LinkDown`/`Gone` [`PortError`]; for
    /// `ENETDOWN` it checks whether the device still exists.
    fn device_error(&mut self, op: &'static str, e: io::Error) -> io::Error {
        match e.raw_os_error() {
            Some(libc::ENETDOWN) => {
                let exists = match self.ctl.ifname(self.ifindex) {
                    Ok(_) => true,
                    Err(ne) => super::port_fault(&ne) != Some(PortFault::Gone),
                };
                if exists {
                    PortError::with_fault(&self.ifname, op, Some(PortFault::LinkDown), e)
                } else {
                    self.gone = true;
                    self.gone_error(op, Some(e))
                }
            }
            Some(libc::ENXIO) | Some(libc::ENODEV) => {
                self.gone = true;
                self.gone_error(op, Some(e))
            }
            _ => PortError::wrap(&self.ifname, op, e),
        }
    }

    /// One `recvmmsg` into `pkts` (at most the scratch size). Returns the
    /// number of messages the kernel filled.
    fn recv_chunk(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        let n = pkts.len().min(self.scratch.msgs.len());
        let s = &mut self.scratch;
        for (j, pkt) in pkts[..n].iter_mut().enumerate() {
            pkt.vnet = VnetHdr::default();
            let area = pkt.rx_area();
            s.iovs[j] = [
                libc::iovec {
                    iov_base: s.vnet[j].as_mut_ptr().cast(),
                    iov_len: VnetHdr::LEN,
                },
                libc::iovec {
                    iov_base: area.as_mut_ptr().cast(),
                    iov_len: area.len(),
                },
            ];
            let h = &mut s.msgs[j].msg_hdr;
            h.msg_name = (&mut s.addrs[j] as *mut libc::sockaddr_ll).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            h.msg_iov = s.iovs[j].as_mut_ptr();
            h.msg_iovlen = 2;
            h.msg_control = s.cmsgs[j].0.as_mut_ptr().cast();
            h.msg_controllen = CMSG_BUF as _;
            h.msg_flags = 0;
            s.msgs[j].msg_len = 0;
        }
        loop {
            // SAFETY: msgs[..n] were just filled with pointers to live
            // buffers: each packet's receive area (borrowed mutably through
            // `pkts` for this whole function), and this struct's vnet,
            // address and control buffers, with their exact lengths. The
            // kernel writes at most those lengths. No timeout pointer.
            let r = unsafe {
                libc::recvmmsg(
                    self.fd.as_raw_fd(),
                    s.msgs.as_mut_ptr(),
                    n as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
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

    /// Post-processes message `j` of the last chunk into `pkt`; false if the
    /// frame is to be dropped.
    fn finish_rx(&mut self, j: usize, pkt: &mut Packet) -> bool {
        let s = &self.scratch;
        let m = &s.msgs[j];
        if s.addrs[j].sll_pkttype == libc::PACKET_OUTGOING {
            self.stats.rx_outgoing_skipped += 1;
            return false;
        }
        if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            self.stats.rx_truncated += 1;
            return false;
        }
        let len = m.msg_len as usize;
        if len < VnetHdr::LEN {
            self.stats.rx_malformed += 1;
            return false;
        }
        pkt.set_len(len - VnetHdr::LEN);
        pkt.vnet = VnetHdr::parse(&s.vnet[j]).unwrap_or_default();

        if let Some((tpid, tci)) = vlan_from_cmsgs(&m.msg_hdr) {
            reinsert_vlan(pkt, tpid, tci);
        }
        true
    }

    /// Reads ring slots into `pkts` until the ring is empty or `pkts` full.
    /// Returns (frames kept, whether the ring ran dry).
    fn recv_ring(&mut self, pkts: &mut [Packet]) -> io::Result<(usize, bool)> {
        let mut kept = 0;
        // Bounded like the recvmmsg path, so dropped slots cannot keep us.
        let mut budget = pkts.len() * 4;
        while kept < pkts.len() && budget > 0 {
            budget -= 1;
            let Some(slot) = self.ring.as_ref().and_then(|r| r.peek()) else {
                return Ok((kept, true));
            };
            if slot.status & rx_ring::TP_STATUS_COPY != 0 {
                // Too big for a slot: the whole frame waits on the socket
                // queue, in order. Free the slot first, then read it.
                if let Some(r) = self.ring.as_mut() {
                    r.release();
                }
                self.stats.rx_ring_copies += 1;
                match self.recv_chunk(&mut pkts[kept..kept + 1]) {
                    Ok(1) => {
                        if self.finish_rx(0, &mut pkts[kept]) {
                            kept += 1;
                        }
                    }
                    Ok(_) => self.stats.rx_truncated += 1,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stats.rx_truncated += 1,
                    Err(e) => {
                        let e = self.device_error("recvmsg", e);
                        if kept == 0 {
                            return Err(e);
                        }
                        self.pending = Some(e);
                        return Ok((kept, false));
                    }
                }
                continue;
            }
            let accepted = self.slot_to_packet(&slot, &mut pkts[kept]);
            if let Some(r) = self.ring.as_mut() {
                r.release();
            }
            if accepted {
                self.stats.rx_ring_frames += 1;
                kept += 1;
            }
        }
        Ok((kept, false))
    }

    /// The socket's pending error (`SO_ERROR`, which clears it).
    fn socket_error(&self) -> Option<io::Error> {
        let mut err: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: passes a live c_int and its exact size for the kernel
        // to write.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Some(io::Error::last_os_error());
        }
        (err != 0).then(|| io::Error::from_raw_os_error(err))
    }

    /// Copies the head slot into `pkt`; false if the frame is dropped.
    fn slot_to_packet(&mut self, slot: &rx_ring::Slot, pkt: &mut Packet) -> bool {
        if slot.pkttype == libc::PACKET_OUTGOING {
            self.stats.rx_outgoing_skipped += 1;
            return false;
        }
        if slot.snaplen < slot.len {
            self.stats.rx_truncated += 1;
            return false;
        }
        let Some(ring) = self.ring.as_ref() else {
            return false;
        };
        let frame = slot
            .mac
            .checked_sub(VnetHdr::LEN)
            .and_then(|v| ring.bytes(v, VnetHdr::LEN))
            .and_then(VnetHdr::parse)
            .zip(ring.bytes(slot.mac, slot.snaplen));
        let Some((vnet, data)) = frame else {
            self.stats.rx_malformed += 1;
            return false;
        };
        let area = pkt.rx_area();
        if data.len() > area.len() {
            self.stats.rx_truncated += 1;
            return false;
        }
        area[..data.len()].copy_from_slice(data);
        pkt.set_len(data.len());
        pkt.vnet = vnet;
        if slot.status & rx_ring::TP_STATUS_VLAN_VALID != 0 {
            let tpid = if slot.status & rx_ring::TP_STATUS_VLAN_TPID_VALID != 0 {
                slot.vlan_tpid
            } else {
                TPID_8021Q
            };
            reinsert_vlan(pkt, tpid, slot.vlan_tci);
        }
        true
    }

    fn send_chunk(&mut self, pkts: &[Packet]) -> io::Result<usize> {
        let n = pkts.len().min(self.scratch.msgs.len());
        let s = &mut self.scratch;
        for (j, pkt) in pkts[..n].iter().enumerate() {
            pkt.vnet.emit(&mut s.vnet[j]);
            let data = pkt.data();
            s.iovs[j] = [
                libc::iovec {
                    iov_base: s.vnet[j].as_mut_ptr().cast(),
                    iov_len: VnetHdr::LEN,
                },
                libc::iovec {
                    // The kernel only reads send buffers; iovec just has
                    // no const variant.
                    iov_base: data.as_ptr() as *mut libc::c_void,
                    iov_len: data.len(),
                },
            ];
            let h = &mut s.msgs[j].msg_hdr;
            // Unaddressed: the socket is bound, so frames go to its ifindex.
            h.msg_name = std::ptr::null_mut();
            h.msg_namelen = 0;
            h.msg_iov = s.iovs[j].as_mut_ptr();
            h.msg_iovlen = 2;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            s.msgs[j].msg_len = 0;
        }
        loop {
            // SAFETY: msgs[..n] point to this struct's vnet buffers and to
            // the packets' data, all alive and unmodified for the call; the
            // kernel only reads them.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    s.msgs.as_mut_ptr(),
                    n as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
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

    fn clone_handle(&self) -> io::Result<AfPacketPort> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| PortError::wrap(&self.ifname, "dup", e))?;
        Ok(AfPacketPort {
            fd,
            ctl: IfCtl::from_socket(self.fd.as_fd())?,
            ifname: self.ifname.clone(),
            ifindex: self.ifindex,
            opts: self.opts,
            kernel_ignores_outgoing: self.kernel_ignores_outgoing,
            gone: self.gone,
            pending: None,
            stats: AfPacketStats::default(),
            scratch: Scratch::new(self.opts.batch),
            ring: None,
        })
    }
}

/// Re-inserts the tag the receive path stripped: 12 bytes of MAC addresses
/// move into the headroom, the tag goes after them.
fn reinsert_vlan(pkt: &mut Packet, tpid: u16, tci: u16) {
    if pkt.len() >= 12 && pkt.insert_gap(12, 4) {
        let d = pkt.data_mut();
        d[12..14].copy_from_slice(&tpid.to_be_bytes());
        d[14..16].copy_from_slice(&tci.to_be_bytes());
        // Offsets in the header were computed without the tag.
        if pkt.vnet.needs_csum() {
            pkt.vnet.csum_start += 4;
        }
        if pkt.vnet.hdr_len != 0 {
            pkt.vnet.hdr_len += 4;
        }
    }
}

/// The VLAN tag (TPID, TCI) the kernel stripped, from a `PACKET_AUXDATA`
/// control message.
fn vlan_from_cmsgs(h: &libc::msghdr) -> Option<(u16, u16)> {
    // SAFETY: `h` was filled by recvmmsg: msg_control points to our
    // CmsgBuf and msg_controllen is the length the kernel wrote, so the
    // CMSG_* walk stays inside that buffer. The payload is read unaligned
    // because CMSG_DATA gives no alignment guarantee for the struct.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                let aux: libc::tpacket_auxdata =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if aux.tp_status & libc::TP_STATUS_VLAN_VALID == 0 {
                    return None;
                }
                let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                    aux.tp_vlan_tpid
                } else {
                    TPID_8021Q
                };
                return Some((tpid, aux.tp_vlan_tci));
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

impl PortIo for AfPacketPort {
    /// Receives with `recvmmsg` in chunks of `opts.batch`; stops at the
    /// first chunk that comes back short. Dropped frames (outgoing,
    /// truncated) do not count and their slots are reused.
    fn recv_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.gone {
            return Err(self.gone_error("recvmmsg", None));
        }
        if self.ring.is_some() {
            let (kept, dry) = self.recv_ring(pkts)?;
            if !(dry && kept == 0) {
                return Ok(kept);
            }
            // An empty ring: collect what only the socket reports (a link
            // going down, a deleted device: sk_err, which also woke us).
            // SO_ERROR reads and clears it like a failing recvmsg would,
            // without taking a queued frame ahead of its ring slot.
            return match self.socket_error() {
                None => Ok(0),
                Some(e) => Err(self.device_error("recvmsg", e)),
            };
        }
        let mut kept = 0;
        // Bounded so a flood of dropped (outgoing) frames cannot keep us here.
        for _ in 0..8 {
            if kept == pkts.len() {
                break;
            }
            let want = (pkts.len() - kept).min(self.scratch.msgs.len());
            let got = match self.recv_chunk(&mut pkts[kept..kept + want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    let e = self.device_error("recvmmsg", e);
                    if kept == 0 {
                        return Err(e);
                    }
                    self.pending = Some(e);
                    break;
                }
            };
            let base = kept;
            for j in 0..got {
                let (head, tail) = pkts.split_at_mut(base + j);
                if self.finish_rx(j, &mut tail[0]) {
                    // Compact: keep accepted frames contiguous at the front.
                    if kept < base + j {
                        std::mem::swap(&mut head[kept], &mut tail[0]);
                    }
                    kept += 1;
                }
            }
            if got < want {
                break;
            }
        }
        Ok(kept)
    }

    /// Sends with `sendmmsg` in chunks. A frame the kernel rejects
    /// (`EMSGSIZE`, `EINVAL`) is skipped and counted in
    /// [`AfPacketStats::tx_rejected`]; `EAGAIN`/`ENOBUFS` end the batch
    /// (the rest are the caller's drops). A device error is returned only if
    /// nothing was sent (it recurs on the next call otherwise).
    fn send_batch(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        if self.gone {
            return Err(self.gone_error("sendmmsg", None));
        }
        let mut sent = 0;
        let mut i = 0;
        while i < pkts.len() {
            match self.send_chunk(&pkts[i..]) {
                Ok(0) => break,
                Ok(n) => {
                    sent += n;
                    i += n;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) => break,
                    Some(libc::EMSGSIZE) | Some(libc::EINVAL) => {
                        self.stats.tx_rejected += 1;
                        i += 1;
                    }
                    _ => {
                        let e = self.device_error("sendmmsg", e);
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

    fn rx_pending(&self) -> bool {
        self.ring.as_ref().is_some_and(|r| r.peek().is_some())
    }

    fn can_busy_poll(&self) -> bool {
        self.ring.is_some()
    }

    /// A `dup` of the socket with its own scratch buffers and counters.
    /// Both handles share one socket: frames sent on either are excluded
    /// from receive on both, and a receive on either consumes the frame.
    fn try_clone_tx(&self) -> io::Result<Box<dyn PortIo>> {
        Ok(Box::new(self.clone_handle()?))
    }
}
