//! IPv4 headers (RFC 791): options, fragmentation fields, header checksum.

use std::net::Ipv4Addr;

use super::checksum;
use super::{be16, put16, Error, Result};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Flag bits of the 16-bit flags/fragment-offset word.
pub const FLAG_DF: u16 = 0x4000;
pub const FLAG_MF: u16 = 0x2000;
pub const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet. `new_checked` guarantees: version 4, IHL ≥ 5,
/// the header fits, and total length covers the header and fits the
/// buffer (bytes after total length are link padding, not payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(Error::Malformed);
        }
        let hl = (b[0] & 0x0f) as usize * 4;
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if b.len() < hl {
            return Err(Error::Truncated);
        }
        let tl = be16(b, 2) as usize;
        if tl < hl {
            return Err(Error::Malformed);
        }
        if b.len() < tl {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn version(&self) -> u8 {
        self.b()[0] >> 4
    }
    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        (self.b()[0] & 0x0f) as usize * 4
    }
    /// The whole TOS byte (DSCP << 2 | ECN), as OVS's `nw_tos` keeps it.
    pub fn tos(&self) -> u8 {
        self.b()[1]
    }
    pub fn dscp(&self) -> u8 {
        self.b()[1] >> 2
    }
    pub fn ecn(&self) -> u8 {
        self.b()[1] & 3
    }
    pub fn total_len(&self) -> u16 {
        be16(self.b(), 2)
    }
    pub fn ident(&self) -> u16 {
        be16(self.b(), 4)
    }
    pub fn dont_frag(&self) -> bool {
        be16(self.b(), 6) & FLAG_DF != 0
    }
    pub fn more_frags(&self) -> bool {
        be16(self.b(), 6) & FLAG_MF != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (be16(self.b(), 6) & OFFSET_MASK) << 3
    }
    /// Whether this is a fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        be16(self.b(), 6) & (FLAG_MF | OFFSET_MASK) != 0
    }
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), 10)
    }
    pub fn src_bytes(&self) -> [u8; 4] {
        let b = self.b();
        [b[12], b[13], b[14], b[15]]
    }
    pub fn dst_bytes(&self) -> [u8; 4] {
        let b = self.b();
        [b[16], b[17], b[18], b[19]]
    }
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src_bytes())
    }
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst_bytes())
    }
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }
    /// The payload, up to the total length (padding excluded).
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len() as usize]
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(&self.b()[..self.header_len()])
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload with the buffer's lifetime (not the view's).
    pub fn into_payload(self) -> &'a [u8] {
        let r = self.header_len()..self.total_len() as usize;
        &self.buffer[r]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_tos(&mut self, tos: u8) {
        self.bm()[1] = tos
    }
    pub fn set_total_len(&mut self, len: u16) {
        put16(self.bm(), 2, len)
    }
    pub fn set_ident(&mut self, id: u16) {
        put16(self.bm(), 4, id)
    }
    /// Sets DF, MF and the offset (in bytes; must be a multiple of 8).
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let w = (dont_frag as u16 * FLAG_DF)
            | (more_frags as u16 * FLAG_MF)
            | ((offset >> 3) & OFFSET_MASK);
        put16(self.bm(), 6, w)
    }
    pub fn set_ttl(&mut self, ttl: u8) {
        self.bm()[8] = ttl
    }
    pub fn set_protocol(&mut self, p: u8) {
        self.bm()[9] = p
    }
    pub fn set_checksum(&mut self, c: u16) {
        put16(self.bm(), 10, c)
    }
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.bm()[12..16].copy_from_slice(&a.octets())
    }
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.bm()[16..20].copy_from_slice(&a.octets())
    }
    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.b()[..hl]);
        self.set_checksum(c)
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), self.total_len() as usize);
        &mut self.bm()[hl..tl]
    }
}

/// An IPv4 header as values. `parse` accepts options (and skips them);
/// `emit` writes a 20-byte header without options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
}

impl Repr {
    /// Parses a header, verifying its checksum.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        Ok(Repr {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            payload_len: p.total_len() as usize - p.header_len(),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (with checksum) at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let total = HEADER_LEN + self.payload_len;
        if total > u16::MAX as usize || self.frag_offset & 7 != 0 {
            return Err(Error::Malformed);
        }
        buf[0] = 0x45;
        let mut p = Packet {
            buffer: &mut buf[..HEADER_LEN],
        };
        p.set_tos(self.tos);
        p.set_total_len(total as u16);
        p.set_ident(self.ident);
        p.set_frag(self.dont_frag, self.more_frags, self.frag_offset);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src(self.src);
        p.set_dst(self.dst);
        p.fill_checksum();
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured ICMP echo request 192.168.1.100 -> 8.8.8.8 (IPv4 header
    /// plus 8 bytes of ICMP).
    const ECHO: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x1a, 0x2b, 0x40, 0x00, 0x40, 0x01, 0x4c, 0xe1, 0xc0, 0xa8, 0x01,
        0x64, 0x08, 0x08, 0x08, 0x08, 0x08, 0x00, 0xf7, 0xfd, 0x00, 0x01, 0x00, 0x01,
    ];

    fn golden() -> [u8; 28] {
        // Fill the checksum so the constant needs no hand computation.
        let mut b = ECHO;
        Packet::new_checked(&mut b[..]).unwrap().fill_checksum();
        b
    }

    #[test]
    fn parse_golden() {
        let b = golden();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.src, Ipv4Addr::new(192, 168, 1, 100));
        assert_eq!(r.dst, Ipv4Addr::new(8, 8, 8, 8));
        assert_eq!(
            (r.protocol, r.ttl, r.ident, r.payload_len),
            (1, 64, 0x1a2b, 8)
        );
        assert!(r.dont_frag && !r.more_frags && !p.is_fragment());
        let mut out = [0u8; 20];
        r.emit(&mut out).unwrap();
        assert_eq!(out, b[..20]);
    }

    #[test]
    fn known_checksum() {
        // Wikipedia's worked example header, checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        let mut buf = h.to_vec();
        buf.resize(0x73, 0);
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        assert!(p.verify_checksum());
        p.fill_checksum();
        assert_eq!(p.checksum(), 0xb861);
    }

    #[test]
    fn rejects() {
        let b = golden();
        assert_eq!(Packet::new_checked(&b[..19]).err(), Some(Error::Truncated));
        assert_eq!(Packet::new_checked(&b[..27]).err(), Some(Error::Truncated)); // total len 28
        let mut v6 = b;
        v6[0] = 0x65;
        assert_eq!(Packet::new_checked(&v6[..]).err(), Some(Error::Malformed));
        let mut ihl = b;
        ihl[0] = 0x44;
        assert_eq!(Packet::new_checked(&ihl[..]).err(), Some(Error::Malformed));
        let mut tl = b;
        tl[3] = 19;
        assert_eq!(Packet::new_checked(&tl[..]).err(), Some(Error::Malformed));
        let mut bad = b;
        bad[11] ^= 1;
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bad[..]).unwrap()),
            Err(Error::Checksum)
        );
    }

    #[test]
    fn options_and_fragments() {
        // IHL 6 with a 4-byte option (router alert), a later fragment.
        let mut b = vec![
            0x46, 0, 0, 28, 0, 7, 0x20, 0x03, 1, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x94, 4, 0, 0,
        ];
        b.extend_from_slice(&[1, 2, 3, 4]);
        b.extend_from_slice(&[0xee, 0xee]); // padding
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        assert_eq!(p.options(), &[0x94, 4, 0, 0]);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        assert!(p.is_fragment() && p.more_frags());
        assert_eq!(p.frag_offset(), 24);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 4);
    }
}
