//! 802.1Q VLAN tags (and the 802.1ad S-tag, which has the same layout).
//!
//! A tag sits where the EtherType would be: TPID (0x8100 or 0x88a8), then
//! the TCI (PCP 3 bits, DEI 1 bit, VID 12 bits), then the next EtherType.
//! [`Tag`] views the 4 bytes after the TPID: TCI and inner EtherType.

use super::{be16, ethertype, put16, Error, Result};

/// Bytes a tag adds to a frame (TPID + TCI).
pub const TAG_LEN: usize = 4;
/// Bytes of the view: TCI + inner EtherType.
pub const HEADER_LEN: usize = 4;
pub const TPID_8021Q: u16 = ethertype::VLAN;
pub const TPID_8021AD: u16 = ethertype::QINQ;

/// Whether an EtherType is a VLAN TPID (what OVS's `eth_type_vlan` accepts).
#[inline]
pub fn is_tpid(t: u16) -> bool {
    t == TPID_8021Q || t == TPID_8021AD
}

/// A view of a tag's TCI and inner EtherType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    pub fn new_checked(buffer: T) -> Result<Tag<T>> {
        let t = Tag { buffer };
        t.check_len()?;
        Ok(t)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn tci(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The EtherType after the tag.
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<'a> Tag<&'a [u8]> {
    /// The payload with the buffer's lifetime (not the view's).
    pub fn into_payload(self) -> &'a [u8] {
        let r = HEADER_LEN..self.buffer.len();
        &self.buffer[r]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
    pub fn set_tci(&mut self, tci: u16) {
        put16(self.buffer.as_mut(), 0, tci)
    }

    pub fn set_ethertype(&mut self, t: u16) {
        put16(self.buffer.as_mut(), 2, t)
    }
}

/// A tag as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub pcp: u8,
    pub dei: bool,
    pub vid: u16,
    pub ethertype: u16,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(t: &Tag<T>) -> Result<Repr> {
        t.check_len()?;
        Ok(Repr {
            pcp: t.pcp(),
            dei: t.dei(),
            vid: t.vid(),
            ethertype: t.ethertype(),
        })
    }

    pub fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }

    /// Writes TCI and inner EtherType; returns 4.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let mut t = Tag { buffer: buf };
        t.set_tci(self.tci());
        t.set_ethertype(self.ethertype);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet;

    /// A QinQ frame: S-tag 0x88a8 VID 100 PCP 3, C-tag 0x8100 VID 10 DEI, IPv4.
    const QINQ: [u8; 22] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x88, 0xa8, 0x60, 0x64, 0x81, 0x00, 0x10, 0x0a, 0x08,
        0x00,
    ];

    #[test]
    fn parse_qinq_golden() {
        let f = ethernet::Frame::new_checked(&QINQ[..]).unwrap();
        assert!(is_tpid(f.ethertype()));
        let outer = Tag::new_checked(f.payload()).unwrap();
        let r = Repr::parse(&outer).unwrap();
        assert_eq!(
            r,
            Repr {
                pcp: 3,
                dei: false,
                vid: 100,
                ethertype: 0x8100
            }
        );
        let inner = Tag::new_checked(outer.payload()).unwrap();
        let r2 = Repr::parse(&inner).unwrap();
        assert_eq!(
            r2,
            Repr {
                pcp: 0,
                dei: true,
                vid: 10,
                ethertype: 0x0800
            }
        );
        assert!(Tag::new_checked(inner.payload()).is_err());
    }

    #[test]
    fn emit_roundtrip() {
        let r = Repr {
            pcp: 5,
            dei: false,
            vid: 4094,
            ethertype: 0x86dd,
        };
        let mut b = [0u8; 4];
        r.emit(&mut b).unwrap();
        assert_eq!(b, [0xaf, 0xfe, 0x86, 0xdd]);
        assert_eq!(Repr::parse(&Tag::new_checked(&b[..]).unwrap()), Ok(r));
        assert!(!is_tpid(0x9100));
    }
}
