//! UDP headers (RFC 768) with the pseudo-header checksum; over IPv4 a zero
//! checksum means "none", over IPv6 it is mandatory (RFC 8200 §8.1).

use super::checksum::{self, IpPair};
use super::{be16, ip_proto, put16, Error, Result};

pub const HEADER_LEN: usize = 8;
/// Offset of the checksum field in the header.
pub const CHECKSUM_OFFSET: usize = 6;
pub const VXLAN_PORT: u16 = 4789;

/// A view of a UDP datagram. `new_checked` guarantees 8 ≤ length field ≤
/// buffer; bytes past the length field are ignored.
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
        let l = be16(b, 4) as usize;
        if l < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if b.len() < l {
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

    pub fn src_port(&self) -> u16 {
        be16(self.b(), 0)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), 2)
    }
    pub fn len(&self) -> u16 {
        be16(self.b(), 4)
    }
    pub fn is_empty(&self) -> bool {
        self.len() as usize == HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), 6)
    }
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.len() as usize]
    }
    /// Whether the checksum verifies (a zero checksum over IPv4 does).
    pub fn verify_checksum(&self, ip: &IpPair) -> bool {
        if self.checksum() == 0 {
            return matches!(ip, IpPair::V4 { .. });
        }
        let d = &self.b()[..self.len() as usize];
        let acc = ip.pseudo_sum(ip_proto::UDP, d.len() as u32);
        checksum::fold(checksum::add(acc, d)) == 0xffff
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload with the buffer's lifetime (not the view's).
    pub fn into_payload(self) -> &'a [u8] {
        let r = HEADER_LEN..self.len() as usize;
        &self.buffer[r]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_src_port(&mut self, p: u16) {
        put16(self.bm(), 0, p)
    }
    pub fn set_dst_port(&mut self, p: u16) {
        put16(self.bm(), 2, p)
    }
    pub fn set_len(&mut self, l: u16) {
        put16(self.bm(), 4, l)
    }
    pub fn set_checksum(&mut self, c: u16) {
        put16(self.bm(), 6, c)
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let l = self.len() as usize;
        &mut self.bm()[HEADER_LEN..l]
    }
    /// Computes the checksum over the datagram; a computed zero is sent as
    /// 0xffff since zero means "no checksum".
    pub fn fill_checksum(&mut self, ip: &IpPair) {
        self.set_checksum(0);
        let l = self.len() as usize;
        let d = &self.b()[..l];
        let acc = ip.pseudo_sum(ip_proto::UDP, l as u32);
        let c = !checksum::fold(checksum::add(acc, d));
        self.set_checksum(if c == 0 { 0xffff } else { c })
    }
}

/// A UDP header as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl Repr {
    /// Parses a datagram, verifying the checksum (absent is fine over IPv4).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, ip: &IpPair) -> Result<Repr> {
        p.check_len()?;
        if !p.verify_checksum(ip) {
            return Err(Error::Checksum);
        }
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: p.len() as usize - HEADER_LEN,
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with a zero checksum; call
    /// [`Packet::fill_checksum`] once the payload is in place.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let l = HEADER_LEN + self.payload_len;
        if l > u16::MAX as usize {
            return Err(Error::Malformed);
        }
        let mut p = Packet {
            buffer: &mut buf[..HEADER_LEN],
        };
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(l as u16);
        p.set_checksum(0);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpPair = IpPair::V4 {
        src: [192, 168, 1, 100],
        dst: [8, 8, 8, 8],
    };

    #[test]
    fn roundtrip_and_checksum() {
        let mut b = [0u8; 12];
        let r = Repr {
            src_port: 5353,
            dst_port: 53,
            payload_len: 4,
        };
        r.emit(&mut b).unwrap();
        b[8..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum(&IP);
        // By hand: pseudo 0xc0a8+0x0164+0x0808+0x0808+0x0011+0x000c =
        // 0xd239; header 0x14e9+0x0035+0x000c = 0x152a; payload
        // 0xdead+0xbeef = 0x19d9c; total 0x284ff folds to 0x8501.
        assert_eq!(p.checksum(), !0x8501);
        assert_eq!(Repr::parse(&p, &IP), Ok(r));
        p.set_checksum(0);
        assert!(p.verify_checksum(&IP));
        let v6 = IpPair::V6 {
            src: [1; 16],
            dst: [2; 16],
        };
        assert!(!p.verify_checksum(&v6), "zero is invalid over IPv6");
    }

    #[test]
    fn rejects() {
        let b = [0u8, 53, 0, 53, 0, 12, 0, 0, 1, 2, 3];
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::Truncated));
        assert_eq!(Packet::new_checked(&b[..7]).err(), Some(Error::Truncated));
        let l7 = [0u8, 53, 0, 53, 0, 7, 0, 0];
        assert_eq!(Packet::new_checked(&l7[..]).err(), Some(Error::Malformed));
    }

    #[test]
    fn zero_becomes_ffff() {
        // Find a payload whose checksum computes to zero and check 0xffff
        // is sent instead.
        for x in 0..=u16::MAX {
            let mut b = [0u8, 1, 0, 2, 0, 10, 0, 0, 0, 0];
            b[8..].copy_from_slice(&x.to_be_bytes());
            let mut p = Packet::new_checked(&mut b[..]).unwrap();
            p.fill_checksum(&IP);
            if p.checksum() == 0xffff {
                assert!(p.verify_checksum(&IP));
                return;
            }
        }
        panic!("no zero-checksum payload found");
    }
}
