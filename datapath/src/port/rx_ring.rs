//! The `PACKET_RX_RING` (TPACKET_V2) receive ring of an AF_PACKET port:
//! the kernel copies each frame into a slot of a memory map shared with us,
//! in the *sender's* softirq context, and we read slots without a system
//! call per frame. Profiles of the `recvmmsg` path showed about 40% of a
//! forwarding thread in `packet_recvmsg` (per-message copy-out, hardened
//! user-copy checks, control messages, skb frees); the ring removes that.
//!
//! Frames larger than a slot (GSO super-frames of up to 64 KiB) are not
//! truncated: with `PACKET_COPY_THRESH` the kernel also queues the whole
//! frame on the socket and marks the slot `TP_STATUS_COPY`; the port then
//! reads that one frame with `recvmsg`, in ring order. Slots are 2 KiB, so
//! every ordinary frame up to a 1500-byte MTU (plus VLAN tag and virtio-net
//! header) takes the fast path.
//!
//! TPACKET_V2 rather than V3: V3 hands out whole blocks, which are retired
//! only when full or on a timer of at least a millisecond — a lone ping
//! would wait for that timer. V2 wakes the reader per frame.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// `TPACKET_V2` in `enum tpacket_versions` (linux/if_packet.h).
const TPACKET_V2: libc::c_int = 1;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_COPY_THRESH: libc::c_int = 7;
const PACKET_VERSION: libc::c_int = 10;

pub const TP_STATUS_KERNEL: u32 = 0;
pub const TP_STATUS_USER: u32 = 1;
pub const TP_STATUS_COPY: u32 = 1 << 1;
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `TPACKET_ALIGN(sizeof(struct tpacket2_hdr))`: where the kernel puts
/// the `sockaddr_ll` of a slot.
const SLL_OFFSET: usize = 32;

/// `struct tpacket_req`.
#[repr(C)]
struct TpacketReq {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
}

/// Ring geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingSize {
    /// Bytes per slot (a multiple of 16).
    pub frame_size: usize,
    /// Slots in the ring.
    pub frames: usize,
}

impl RingSize {
    /// 2048 slots of 2 KiB: 4 MiB, about 10 ms of 64-byte frames at line
    /// rate of a busy veth before the kernel drops.
    pub const DEFAULT: RingSize = RingSize {
        frame_size: 2048,
        frames: 2048,
    };
    const BLOCK: usize = 64 * 1024;
}

/// One received slot, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub status: u32,
    /// Length of the frame on the wire.
    pub len: usize,
    /// Bytes of it present in the slot.
    pub snaplen: usize,
    /// Offset of the Ethernet header in the slot (the virtio-net header,
    /// when enabled, sits just before it).
    pub mac: usize,
    pub vlan_tci: u16,
    pub vlan_tpid: u16,
    pub pkttype: u8,
}

/// The memory-mapped ring; unmapped on drop.
pub struct RxRing {
    base: *mut u8,
    map_len: usize,
    size: RingSize,
    head: usize,
}

impl RxRing {
    /// Switches `fd` to TPACKET_V2 and maps a receive ring on it. Must run
    /// after `PACKET_VNET_HDR` (the kernel refuses that option once a ring
    /// exists) and before `bind`, so no frame is queued the old way.
    pub fn setup(fd: RawFd, size: RingSize) -> io::Result<RxRing> {
        let frame_size = size.frame_size.next_multiple_of(16).max(256);
        let per_block = (RingSize::BLOCK / frame_size).max(1);
        let block_size = per_block * frame_size;
        let block_size = block_size.next_multiple_of(page_size());
        let per_block = block_size / frame_size;
        let blocks = size.frames.div_ceil(per_block).max(1);
        let size = RingSize {
            frame_size,
            frames: blocks * per_block,
        };
        set_int(fd, PACKET_VERSION, TPACKET_V2)?;
        // Any frame longer than a slot also goes to the socket queue whole.
        set_int(fd, PACKET_COPY_THRESH, 1)?;
        let req = TpacketReq {
            tp_block_size: block_size as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: size.frames as u32,
        };
        // SAFETY: passes a pointer to a live tpacket_req and its exact size.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                PACKET_RX_RING,
                (&req as *const TpacketReq).cast(),
                std::mem::size_of::<TpacketReq>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let map_len = block_size * blocks;
        // SAFETY: maps the ring the kernel just allocated for this socket;
        // the result is checked, and the mapping is only accessed within
        // `map_len` bytes and unmapped once, on drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(RxRing {
            base: base.cast(),
            map_len,
            size,
            head: 0,
        })
    }

    pub fn size(&self) -> RingSize {
        self.size
    }

    fn frame_ptr(&self, i: usize) -> *mut u8 {
        // Blocks are whole multiples of the frame size, so slot i is at
        // i * frame_size.
        debug_assert!(i < self.size.frames);
        // SAFETY: i < frames, and frames * frame_size == map_len.
        unsafe { self.base.add(i * self.size.frame_size) }
    }

    fn status_word(&self, i: usize) -> &AtomicU32 {
        // SAFETY: every slot starts 16-byte aligned (page-aligned map,
        // frame_size a multiple of 16) with tp_status as its first u32, and
        // the kernel updates it concurrently, hence the atomic.
        unsafe { &*(self.frame_ptr(i) as *const AtomicU32) }
    }

    /// The slot at the head, if the kernel has handed it to us.
    pub fn peek(&self) -> Option<Slot> {
        let status = self.status_word(self.head).load(Ordering::Acquire);
        if status & TP_STATUS_USER == 0 {
            return None;
        }
        let p = self.frame_ptr(self.head);
        let rd32 = |off: usize| -> u32 {
            // SAFETY: off + 4 <= 32 < frame_size; the kernel finished
            // writing the header before setting TP_STATUS_USER (Acquire).
            unsafe { std::ptr::read_unaligned(p.add(off) as *const u32) }
        };
        let rd16 = |off: usize| -> u16 {
            // SAFETY: as above.
            unsafe { std::ptr::read_unaligned(p.add(off) as *const u16) }
        };
        // struct tpacket2_hdr: status, len, snaplen, mac, net, sec, nsec,
        // vlan_tci, vlan_tpid; struct sockaddr_ll's sll_pkttype is byte 10.
        // SAFETY: SLL_OFFSET + 11 < frame_size.
        let pkttype = unsafe { *p.add(SLL_OFFSET + 10) };
        Some(Slot {
            status,
            len: rd32(4) as usize,
            snaplen: rd32(8) as usize,
            mac: rd16(12) as usize,
            vlan_tci: rd16(24),
            vlan_tpid: rd16(26),
            pkttype,
        })
    }

    /// `len` bytes of the head slot from `off`, or None if they would
    /// leave the slot (a corrupt header cannot make us read past it).
    pub fn bytes(&self, off: usize, len: usize) -> Option<&[u8]> {
        if off.checked_add(len)? > self.size.frame_size {
            return None;
        }
        // SAFETY: the range lies inside the head slot, which the kernel
        // does not touch while its status is TP_STATUS_USER (until
        // `release`); the borrow of self keeps `release` from running.
        Some(unsafe { std::slice::from_raw_parts(self.frame_ptr(self.head).add(off), len) })
    }

    /// Gives the head slot back to the kernel and moves on.
    pub fn release(&mut self) {
        self.status_word(self.head)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.head = (self.head + 1) % self.size.frames;
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `setup`, once.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

fn set_int(fd: RawFd, name: libc::c_int, val: libc::c_int) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            name,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}
