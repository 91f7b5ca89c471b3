//! TCP headers (RFC 9293): ports, sequence numbers, flags, header length,
//! options and the pseudo-header checksum for IPv4 and IPv6.

use super::checksum::{self, IpPair};
use super::{be16, be32, ip_proto, put16, put32, Error, Result};

pub const HEADER_LEN: usize = 20;

/// Flag bits as OVS's `tcp_flags` numbers them (NS is bit 8).
pub mod flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const NS: u16 = 0x100;
}

/// Offset of the checksum field in the header.
pub const CHECKSUM_OFFSET: usize = 16;

/// A view of a TCP segment: header (with options) and payload.
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

    /// Checks the fixed header and that the data offset is ≥ 5 words and
    /// fits the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = (b[12] >> 4) as usize * 4;
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if b.len() < hl {
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
    pub fn seq(&self) -> u32 {
        be32(self.b(), 4)
    }
    pub fn ack(&self) -> u32 {
        be32(self.b(), 8)
    }
    pub fn header_len(&self) -> usize {
        (self.b()[12] >> 4) as usize * 4
    }
    /// The 9 flag bits (NS..FIN); see [`flags`].
    pub fn flags(&self) -> u16 {
        be16(self.b(), 12) & 0x01ff
    }
    pub fn window(&self) -> u16 {
        be16(self.b(), 14)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), 16)
    }
    pub fn urgent(&self) -> u16 {
        be16(self.b(), 18)
    }
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
    /// Whether the checksum verifies with `ip`'s pseudo header; the view
    /// must span exactly the segment.
    pub fn verify_checksum(&self, ip: &IpPair) -> bool {
        let b = self.b();
        let acc = ip.pseudo_sum(ip_proto::TCP, b.len() as u32);
        checksum::fold(checksum::add(acc, b)) == 0xffff
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
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_src_port(&mut self, p: u16) {
        put16(self.bm(), 0, p)
    }
    pub fn set_dst_port(&mut self, p: u16) {
        put16(self.bm(), 2, p)
    }
    pub fn set_seq(&mut self, s: u32) {
        put32(self.bm(), 4, s)
    }
    pub fn set_ack(&mut self, a: u32) {
        put32(self.bm(), 8, a)
    }
    /// Sets the flags, keeping the data offset.
    pub fn set_flags(&mut self, f: u16) {
        let w = be16(self.b(), 12);
        put16(self.bm(), 12, (w & 0xfe00) | (f & 0x01ff))
    }
    pub fn set_window(&mut self, w: u16) {
        put16(self.bm(), 14, w)
    }
    pub fn set_checksum(&mut self, c: u16) {
        put16(self.bm(), 16, c)
    }
    pub fn set_urgent(&mut self, u: u16) {
        put16(self.bm(), 18, u)
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.bm()[hl..]
    }
    /// Computes the checksum over the whole view with `ip`'s pseudo header.
    pub fn fill_checksum(&mut self, ip: &IpPair) {
        self.set_checksum(0);
        let b = self.b();
        let acc = ip.pseudo_sum(ip_proto::TCP, b.len() as u32);
        let c = !checksum::fold(checksum::add(acc, b));
        self.set_checksum(c)
    }
}

/// A TCP header as values; `options` are the raw option bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
    pub options: &'a [u8],
    pub payload_len: usize,
}

impl<'a> Repr<'a> {
    /// Parses a segment, verifying the checksum with `ip`'s pseudo header.
    pub fn parse(p: &Packet<&'a [u8]>, ip: &IpPair) -> Result<Repr<'a>> {
        p.check_len()?;
        if !p.verify_checksum(ip) {
            return Err(Error::Checksum);
        }
        let b: &'a [u8] = p.buffer;
        let hl = p.header_len();
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq(),
            ack: p.ack(),
            flags: p.flags(),
            window: p.window(),
            urgent: p.urgent(),
            options: &b[HEADER_LEN..hl],
            payload_len: b.len() - hl,
        })
    }

    /// Header length: 20 plus options padded to 4 bytes.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len().div_ceil(4) * 4
    }

    /// Writes the header (options padded with end-of-list zeros; checksum
    /// zero) at the start of `buf`. Fill the checksum with
    /// [`Packet::fill_checksum`] once the payload follows it.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let hl = self.header_len();
        if hl > 60 {
            return Err(Error::Malformed);
        }
        if buf.len() < hl {
            return Err(Error::Truncated);
        }
        buf[12] = ((hl / 4) as u8) << 4;
        let mut p = Packet {
            buffer: &mut buf[..hl],
        };
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq(self.seq);
        p.set_ack(self.ack);
        p.set_flags(self.flags);
        p.set_window(self.window);
        p.set_checksum(0);
        p.set_urgent(self.urgent);
        let b = p.into_inner();
        b[HEADER_LEN..HEADER_LEN + self.options.len()].copy_from_slice(self.options);
        b[HEADER_LEN + self.options.len()..hl].fill(0);
        Ok(hl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured SYN 10.0.0.1:51000 -> 10.0.0.2:80 with MSS 1460, SACK
    /// permitted, timestamps, NOP and window scale 7 (Linux's usual set).
    pub(crate) const SYN: [u8; 40] = [
        0xc7, 0x38, 0x00, 0x50, 0x3b, 0x9a, 0xca, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x01,
        0xe2, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];
    const IP: IpPair = IpPair::V4 {
        src: [10, 0, 0, 1],
        dst: [10, 0, 0, 2],
    };

    fn syn() -> [u8; 40] {
        let mut b = SYN;
        Packet::new_checked(&mut b[..]).unwrap().fill_checksum(&IP);
        b
    }

    #[test]
    fn parse_syn_golden() {
        let b = syn();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(&IP));
        let r = Repr::parse(&p, &IP).unwrap();
        assert_eq!((r.src_port, r.dst_port), (51000, 80));
        assert_eq!(r.seq, 1_000_000_000);
        assert_eq!(r.flags, flags::SYN);
        assert_eq!(r.window, 64240);
        assert_eq!(r.options.len(), 20);
        assert_eq!(&r.options[..4], &[2, 4, 0x05, 0xb4]);
        assert_eq!(r.payload_len, 0);
        let mut out = [0u8; 40];
        assert_eq!(r.emit(&mut out), Ok(40));
        Packet::new_checked(&mut out[..])
            .unwrap()
            .fill_checksum(&IP);
        assert_eq!(out, b);
        // The checksum covers the pseudo header: other addresses fail.
        let other = IpPair::V4 {
            src: [10, 0, 0, 3],
            dst: [10, 0, 0, 2],
        };
        assert_eq!(Repr::parse(&p, &other), Err(Error::Checksum));
    }

    #[test]
    fn known_checksum_v4() {
        // Options-free header: fill/verify agree for both IP versions
        // (tests/wire_etherparse.rs cross-checks the values).
        let mut b = [0u8; 20];
        let r = Repr {
            src_port: 1234,
            dst_port: 80,
            seq: 1,
            ack: 0,
            flags: flags::SYN,
            window: 1024,
            urgent: 0,
            options: &[],
            payload_len: 0,
        };
        r.emit(&mut b).unwrap();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum(&IP);
        assert!(p.verify_checksum(&IP));
        let v6 = IpPair::V6 {
            src: [0xfe; 16],
            dst: [1; 16],
        };
        p.fill_checksum(&v6);
        assert!(p.verify_checksum(&v6) && !p.verify_checksum(&IP));
    }

    #[test]
    fn rejects() {
        let b = syn();
        assert_eq!(Packet::new_checked(&b[..19]).err(), Some(Error::Truncated));
        assert_eq!(Packet::new_checked(&b[..39]).err(), Some(Error::Truncated));
        let mut d = b;
        d[12] = 0x40;
        assert_eq!(Packet::new_checked(&d[..]).err(), Some(Error::Malformed));
    }

    #[test]
    fn flag_setters_keep_offset() {
        let mut b = syn();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_flags(flags::ACK | flags::PSH | flags::NS);
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.flags(), flags::ACK | flags::PSH | flags::NS);
    }
}
