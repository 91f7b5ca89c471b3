//! Packet buffers: one frame with headroom in front (so a VLAN tag or a
//! tunnel header can be pushed without copying) and its virtio-net header,
//! which says whether the frame is a GSO super-frame or has a partial checksum.

use std::net::Ipv4Addr;

/// Bytes reserved in front of every frame for pushes (VLAN 4 + outer
/// Ethernet/IPv4/UDP/VXLAN 50 = 54; rounded up).
pub const HEADROOM: usize = 128;
/// Largest frame carried: a 64 KiB GSO super-frame plus Ethernet/VLAN headers.
pub const MAX_FRAME: usize = 65536 + 64;

/// The virtio-net header Linux exchanges with AF_PACKET (PACKET_VNET_HDR)
/// and TAP (IFF_VNET_HDR) sockets: 10 bytes, little-endian fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM (1), VIRTIO_NET_HDR_F_DATA_VALID (2).
    pub flags: u8,
    /// VIRTIO_NET_HDR_GSO_NONE (0), TCPV4 (1), UDP (3), TCPV6 (4), | ECN (0x80).
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    pub const LEN: usize = 10;
    pub const F_NEEDS_CSUM: u8 = 1;
    pub const F_DATA_VALID: u8 = 2;
    pub const GSO_NONE: u8 = 0;
    pub const GSO_TCPV4: u8 = 1;
    pub const GSO_UDP: u8 = 3;
    pub const GSO_TCPV6: u8 = 4;
    pub const GSO_ECN: u8 = 0x80;

    pub fn parse(b: &[u8]) -> Option<VnetHdr> {
        if b.len() < Self::LEN {
            return None;
        }
        let u16le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16le(2),
            gso_size: u16le(4),
            csum_start: u16le(6),
            csum_offset: u16le(8),
        })
    }

    pub fn emit(&self, b: &mut [u8]) {
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
    }

    pub fn is_gso(&self) -> bool {
        self.gso_type & !Self::GSO_ECN != Self::GSO_NONE
    }

    pub fn needs_csum(&self) -> bool {
        self.flags & Self::F_NEEDS_CSUM != 0
    }
}

/// Tunnel metadata of a frame: where a decapsulated frame came from, or
/// (on the way out to a tunnel port) the tunnel id and remote the pipeline
/// chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelTag {
    /// VNI or GRE key.
    pub id: u64,
    /// Outer source (the remote endpoint, on receive).
    pub src: Ipv4Addr,
    /// Outer destination (our address on receive; the remote on send).
    pub dst: Ipv4Addr,
}

/// One frame. `data()` is the Ethernet frame; bytes before `start` are headroom.
pub struct Packet {
    buf: Box<[u8]>,
    start: usize,
    len: usize,
    /// Offload state of the frame (none for plain frames).
    pub vnet: VnetHdr,
    /// Tunnel metadata (decapsulated frames; frames bound for a tunnel).
    pub tunnel: Option<TunnelTag>,
    /// The port the frame really arrived on, when the backend that
    /// received it serves several ports (tunnel ports sharing one socket).
    pub in_port_override: Option<(usize, u32)>,
}

impl Default for Packet {
    fn default() -> Self {
        Packet::new()
    }
}

impl Packet {
    /// An empty packet with the full buffer allocated (do this once per
    /// batch slot, not per packet).
    pub fn new() -> Packet {
        Packet {
            buf: vec![0u8; HEADROOM + MAX_FRAME].into_boxed_slice(),
            start: HEADROOM,
            len: 0,
            vnet: VnetHdr::default(),
            tunnel: None,
            in_port_override: None,
        }
    }

    pub fn from_frame(frame: &[u8]) -> Packet {
        let mut p = Packet::new();
        p.set_frame(frame);
        p
    }

    /// Replaces the contents with `frame` (truncated to MAX_FRAME).
    pub fn set_frame(&mut self, frame: &[u8]) {
        let n = frame.len().min(MAX_FRAME);
        self.start = HEADROOM;
        self.len = n;
        self.buf[HEADROOM..HEADROOM + n].copy_from_slice(&frame[..n]);
        self.vnet = VnetHdr::default();
        self.tunnel = None;
        self.in_port_override = None;
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The receive area: the whole buffer after the headroom, for a socket
    /// to fill; then call [`Packet::set_len`].
    pub fn rx_area(&mut self) -> &mut [u8] {
        self.start = HEADROOM;
        self.tunnel = None;
        self.in_port_override = None;
        &mut self.buf[HEADROOM..]
    }

    /// Appends `bytes` to the frame, keeping its start and tags; false
    /// (and nothing changed) when the buffer has no room for them.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> bool {
        let end = self.start + self.len;
        if bytes.len() > self.buf.len() - end {
            return false;
        }
        self.buf[end..end + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        true
    }

    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(self.buf.len() - self.start);
    }

    /// Opens `n` bytes at offset `at` of the frame (moving the first `at`
    /// bytes into the headroom), returning false when there is no room.
    pub fn insert_gap(&mut self, at: usize, n: usize) -> bool {
        if n > self.start || at > self.len {
            return false;
        }
        let s = self.start;
        self.buf.copy_within(s..s + at, s - n);
        self.start -= n;
        self.len += n;
        true
    }

    /// Removes `n` bytes at offset `at` of the frame (shifting the first
    /// `at` bytes forward).
    pub fn remove_gap(&mut self, at: usize, n: usize) -> bool {
        if at + n > self.len {
            return false;
        }
        let s = self.start;
        self.buf.copy_within(s..s + at, s + n);
        self.start += n;
        self.len -= n;
        true
    }

    /// Prepends `n` bytes (e.g. an outer header) and returns them.
    pub fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            return None;
        }
        self.start -= n;
        self.len += n;
        Some(&mut self.buf[self.start..self.start + n])
    }

    /// Drops `n` bytes from the front (e.g. decapsulation).
    pub fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len {
            return false;
        }
        self.start += n;
        self.len -= n;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_and_pushes() {
        let mut p = Packet::from_frame(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(p.insert_gap(2, 4));
        p.data_mut()[2..6].copy_from_slice(&[0xa, 0xb, 0xc, 0xd]);
        assert_eq!(p.data(), &[1, 2, 0xa, 0xb, 0xc, 0xd, 3, 4, 5, 6, 7, 8]);
        assert!(p.remove_gap(2, 4));
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        p.push_front(2).unwrap().copy_from_slice(&[9, 9]);
        assert_eq!(&p.data()[..3], &[9, 9, 1]);
        assert!(p.pull_front(2));
        assert!(!p.insert_gap(0, HEADROOM + 1));
    }

    #[test]
    fn vnet_roundtrip() {
        let h = VnetHdr {
            flags: 1,
            gso_type: 1,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut b = [0u8; 10];
        h.emit(&mut b);
        assert_eq!(VnetHdr::parse(&b), Some(h));
        assert!(h.is_gso() && h.needs_csum());
    }
}
