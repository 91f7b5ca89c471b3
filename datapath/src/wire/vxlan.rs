//! VXLAN (RFC 7348): an 8-byte header after UDP port 4789 carrying a
//! 24-bit VNI.
//!
//! RFC 7348 says the reserved bits are zero on send and ignored on receipt;
//! Linux's vxlan driver and OVS's userspace tunnel both drop packets whose
//! reserved bits are set (so that unknown extensions are not misread), and
//! [`Repr::parse`] does the same. The view's getters read any header.

use super::{be32, put32, Error, Result};

pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI is valid.
pub const FLAG_I: u8 = 0x08;

/// A view of a VXLAN header and the Ethernet frame after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    pub fn new_checked(buffer: T) -> Result<Header<T>> {
        let h = Header { buffer };
        h.check_len()?;
        Ok(h)
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

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    pub fn vni(&self) -> u32 {
        be32(self.buffer.as_ref(), 4) >> 8
    }
    /// Whether every reserved bit (flags other than I, the 24 bits after
    /// the flags, the byte after the VNI) is zero.
    pub fn reserved_zero(&self) -> bool {
        let b = self.buffer.as_ref();
        b[0] & !FLAG_I == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[7] == 0
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<'a> Header<&'a [u8]> {
    /// The payload with the buffer's lifetime (not the view's).
    pub fn into_payload(self) -> &'a [u8] {
        let r = HEADER_LEN..self.buffer.len();
        &self.buffer[r]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    pub fn set_vni(&mut self, vni: u32) {
        let b = self.buffer.as_mut();
        let low = b[7] as u32;
        put32(b, 4, (vni << 8) | low)
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// A VXLAN header as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// 24-bit VXLAN network identifier.
    pub vni: u32,
}

impl Repr {
    /// Parses a header: the I flag must be set and reserved bits zero.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<Repr> {
        h.check_len()?;
        if h.flags() & FLAG_I == 0 || !h.reserved_zero() {
            return Err(Error::Malformed);
        }
        Ok(Repr { vni: h.vni() })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header: I flag, reserved bits zero. A VNI wider than 24
    /// bits is an error.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.vni > 0x00ff_ffff {
            return Err(Error::Malformed);
        }
        put32(buf, 0, (FLAG_I as u32) << 24);
        put32(buf, 4, self.vni << 8);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VNI_5001: [u8; 8] = [0x08, 0, 0, 0, 0x00, 0x13, 0x89, 0x00];

    #[test]
    fn golden() {
        let h = Header::new_checked(&VNI_5001[..]).unwrap();
        assert_eq!(Repr::parse(&h), Ok(Repr { vni: 5001 }));
        let mut b = [0xffu8; 8];
        Repr { vni: 5001 }.emit(&mut b).unwrap();
        assert_eq!(b, VNI_5001);
        assert_eq!(Repr { vni: 1 << 24 }.emit(&mut b), Err(Error::Malformed));
    }

    #[test]
    fn reserved_bits_checked() {
        for (i, bit) in [
            (0usize, 0x80u8),
            (0, 0x01),
            (1, 1),
            (2, 0x10),
            (3, 0x80),
            (7, 1),
        ] {
            let mut b = VNI_5001;
            b[i] |= bit;
            let h = Header::new_checked(&b[..]).unwrap();
            assert_eq!(
                Repr::parse(&h),
                Err(Error::Malformed),
                "byte {i} bit {bit:#x}"
            );
            assert_eq!(h.vni(), 5001);
        }
        let mut no_i = VNI_5001;
        no_i[0] = 0;
        assert_eq!(
            Repr::parse(&Header::new_checked(&no_i[..]).unwrap()),
            Err(Error::Malformed)
        );
        assert_eq!(
            Header::new_checked(&VNI_5001[..7]).err(),
            Some(Error::Truncated)
        );
    }

    #[test]
    fn set_vni_keeps_reserved_byte() {
        let mut b = VNI_5001;
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_vni(0xabcdef);
        assert_eq!(h.vni(), 0xabcdef);
        assert!(h.reserved_zero());
    }
}
