//! Ethernet II frames: destination, source, EtherType, payload.

use super::{be16, mac_at, put16, Error, MacAddr, Result};

pub const HEADER_LEN: usize = 14;

/// A view of an Ethernet II frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Frame { buffer };
        f.check_len()?;
        Ok(f)
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

    pub fn dst(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), 0)
    }

    pub fn src(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), 6)
    }

    /// The EtherType (or TPID of a first VLAN tag, or an 802.3 length).
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 12)
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<'a> Frame<&'a [u8]> {
    /// The payload with the buffer's lifetime (not the view's).
    pub fn into_payload(self) -> &'a [u8] {
        let r = HEADER_LEN..self.buffer.len();
        &self.buffer[r]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[0..6].copy_from_slice(&mac);
    }

    pub fn set_src(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[6..12].copy_from_slice(&mac);
    }

    pub fn set_ethertype(&mut self, t: u16) {
        put16(self.buffer.as_mut(), 12, t)
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// An Ethernet II header as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: u16,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(f: &Frame<T>) -> Result<Repr> {
        f.check_len()?;
        Ok(Repr {
            dst: f.dst(),
            src: f.src(),
            ethertype: f.ethertype(),
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let mut f = Frame { buffer: buf };
        f.set_dst(self.dst);
        f.set_src(self.src);
        f.set_ethertype(self.ethertype);
        Ok(HEADER_LEN)
    }
}

/// Whether `mac` is a group (multicast or broadcast) address.
pub fn is_multicast(mac: &MacAddr) -> bool {
    mac[0] & 1 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0xaa,
        0xbb, 0xcc, 0xdd,
    ];

    #[test]
    fn parse_golden() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        let r = Repr::parse(&f).unwrap();
        assert_eq!(r.dst, [0xff; 6]);
        assert_eq!(r.src, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(r.ethertype, 0x0806);
        assert_eq!(f.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert!(is_multicast(&r.dst) && !is_multicast(&r.src));
    }

    #[test]
    fn emit_golden() {
        let r = Repr {
            dst: [0xff; 6],
            src: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            ethertype: 0x0806,
        };
        let mut b = [0u8; 14];
        assert_eq!(r.emit(&mut b), Ok(14));
        assert_eq!(b, FRAME[..14]);
        assert_eq!(r.emit(&mut [0u8; 13]), Err(Error::Truncated));
    }

    #[test]
    fn short() {
        assert_eq!(Frame::new_checked(&FRAME[..13]), Err(Error::Truncated));
    }
}
