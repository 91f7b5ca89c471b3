//! GRE (RFC 2784) with the key and sequence-number extensions (RFC 2890).
//!
//! Only version 0 without RFC 1701 routing is accepted: bits 1 (R), 4 (s)
//! and 5 must be zero (RFC 2784 §2.3 says to discard such packets unless
//! RFC 1701 is implemented); bits 6-12 are ignored on receipt.

use super::checksum;
use super::{be16, be32, ethertype, put16, put32, Error, Result};

pub const FLAG_C: u16 = 0x8000;
pub const FLAG_R: u16 = 0x4000;
pub const FLAG_K: u16 = 0x2000;
pub const FLAG_S: u16 = 0x1000;
/// Strict source route and the top recursion bit: must be zero.
const MUST_BE_ZERO: u16 = 0x0c00;
const VERSION_MASK: u16 = 0x0007;
/// The base header: flags/version and protocol.
pub const BASE_LEN: usize = 4;
/// Protocol type for Ethernet frames (transparent Ethernet bridging).
pub const PROTO_TEB: u16 = ethertype::TEB;

/// A view of a GRE packet: header and payload.
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
        if b.len() < BASE_LEN {
            return Err(Error::Truncated);
        }
        let f = be16(b, 0);
        if f & VERSION_MASK != 0 || f & FLAG_R != 0 {
            return Err(Error::Unsupported);
        }
        if f & MUST_BE_ZERO != 0 {
            return Err(Error::Malformed);
        }
        if b.len() < self.header_len() {
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

    pub fn flags(&self) -> u16 {
        be16(self.b(), 0)
    }
    pub fn checksum_present(&self) -> bool {
        self.flags() & FLAG_C != 0
    }
    pub fn key_present(&self) -> bool {
        self.flags() & FLAG_K != 0
    }
    pub fn seq_present(&self) -> bool {
        self.flags() & FLAG_S != 0
    }
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }
    pub fn protocol(&self) -> u16 {
        be16(self.b(), 2)
    }
    pub fn header_len(&self) -> usize {
        BASE_LEN
            + 4 * (self.checksum_present() as usize
                + self.key_present() as usize
                + self.seq_present() as usize)
    }
    fn key_at(&self) -> usize {
        BASE_LEN + 4 * self.checksum_present() as usize
    }
    pub fn checksum(&self) -> Option<u16> {
        self.checksum_present().then(|| be16(self.b(), 4))
    }
    pub fn key(&self) -> Option<u32> {
        self.key_present().then(|| be32(self.b(), self.key_at()))
    }
    pub fn seq(&self) -> Option<u32> {
        let at = self.key_at() + 4 * self.key_present() as usize;
        self.seq_present().then(|| be32(self.b(), at))
    }
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
    /// Whether the checksum (over header and payload) verifies; true when
    /// there is none.
    pub fn verify_checksum(&self) -> bool {
        !self.checksum_present() || checksum::verify(self.b())
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload with the buffer's lifetime (not the view's).
    pub fn into_payload(self) -> &'a [u8] {
        let r = self.header_len()..self.buffer.len();
        &self.buffer[r]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the key (the K bit must already be set, or this does nothing).
    pub fn set_key(&mut self, key: u32) {
        if self.key_present() {
            let at = self.key_at();
            put32(self.buffer.as_mut(), at, key)
        }
    }
    /// Computes the checksum if the C bit is set.
    pub fn fill_checksum(&mut self) {
        if self.checksum_present() {
            put16(self.buffer.as_mut(), 4, 0);
            let c = checksum::checksum(self.buffer.as_ref());
            put16(self.buffer.as_mut(), 4, c)
        }
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// A GRE header as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub protocol: u16,
    pub checksum: bool,
    pub key: Option<u32>,
    pub seq: Option<u32>,
}

impl Repr {
    /// Parses a header, verifying the checksum when present.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        Ok(Repr {
            protocol: p.protocol(),
            checksum: p.checksum_present(),
            key: p.key(),
            seq: p.seq(),
        })
    }

    pub fn header_len(&self) -> usize {
        BASE_LEN
            + 4 * (self.checksum as usize
                + self.key.is_some() as usize
                + self.seq.is_some() as usize)
    }

    /// Writes the header with a zero checksum field; with `checksum` set,
    /// call [`Packet::fill_checksum`] once the payload follows.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let hl = self.header_len();
        if buf.len() < hl {
            return Err(Error::Truncated);
        }
        let f = (self.checksum as u16 * FLAG_C)
            | (self.key.is_some() as u16 * FLAG_K)
            | (self.seq.is_some() as u16 * FLAG_S);
        put16(buf, 0, f);
        put16(buf, 2, self.protocol);
        let mut at = BASE_LEN;
        if self.checksum {
            put32(buf, at, 0);
            at += 4;
        }
        if let Some(k) = self.key {
            put32(buf, at, k);
            at += 4;
        }
        if let Some(s) = self.seq {
            put32(buf, at, s);
        }
        Ok(hl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GRE with checksum and key 0x2a carrying a 4-byte Ethernet stub.
    const GRE_CK: [u8; 16] = [
        0xa0, 0x00, 0x65, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0xde, 0xad, 0xbe,
        0xef,
    ];

    #[test]
    fn key_and_checksum_golden() {
        let mut b = GRE_CK;
        Packet::new_checked(&mut b[..]).unwrap().fill_checksum();
        // 0xa000+0x6558+0x002a+0xdead+0xbeef = 0x2a31e -> 0xa320.
        assert_eq!(&b[4..6], &(!0xa320u16).to_be_bytes());
        let p = Packet::new_checked(&b[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                protocol: PROTO_TEB,
                checksum: true,
                key: Some(42),
                seq: None
            }
        );
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        let mut bad = b;
        bad[15] ^= 0xff;
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bad[..]).unwrap()),
            Err(Error::Checksum)
        );
        let mut out = [0u8; 16];
        r.emit(&mut out).unwrap();
        out[12..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        Packet::new_checked(&mut out[..]).unwrap().fill_checksum();
        assert_eq!(out, b);
    }

    #[test]
    fn key_and_seq() {
        let r = Repr {
            protocol: 0x0800,
            checksum: false,
            key: Some(0x01020304),
            seq: Some(7),
        };
        let mut b = [0u8; 12];
        assert_eq!(r.emit(&mut b), Ok(12));
        assert_eq!(b, [0x30, 0, 0x08, 0, 1, 2, 3, 4, 0, 0, 0, 7]);
        assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), Ok(r));
    }

    #[test]
    fn rejects() {
        assert_eq!(
            Packet::new_checked(&GRE_CK[..3]).err(),
            Some(Error::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&GRE_CK[..11]).err(),
            Some(Error::Truncated)
        );
        let routing = [0x40u8, 0, 0x65, 0x58, 0, 0, 0, 0];
        assert_eq!(
            Packet::new_checked(&routing[..]).err(),
            Some(Error::Unsupported)
        );
        let pptp = [0x30u8, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Packet::new_checked(&pptp[..]).err(),
            Some(Error::Unsupported)
        );
        let ssr = [0x08u8, 0, 0x65, 0x58];
        assert_eq!(Packet::new_checked(&ssr[..]).err(), Some(Error::Malformed));
        // Bits 6-12 are ignored.
        let ignored = [0x00u8, 0xf8, 0x65, 0x58];
        assert!(Packet::new_checked(&ignored[..]).is_ok());
    }
}
