//! IPv6 headers (RFC 8200) and the extension-header walk that finds the
//! upper-layer protocol and the fragment state.

use std::net::Ipv6Addr;

use super::{be16, be32, ip_proto, put16, put32, Error, Result};

pub const HEADER_LEN: usize = 40;
/// Length of a fragment extension header.
pub const FRAG_HEADER_LEN: usize = 8;

/// A view of an IPv6 packet. `new_checked` guarantees version 6 and that
/// the payload length fits the buffer. A payload length of 0 (jumbograms)
/// yields an empty payload.
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
        if b[0] >> 4 != 6 {
            return Err(Error::Malformed);
        }
        if b.len() < HEADER_LEN + be16(b, 4) as usize {
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
    pub fn traffic_class(&self) -> u8 {
        (be16(self.b(), 0) >> 4) as u8
    }
    pub fn flow_label(&self) -> u32 {
        be32(self.b(), 0) & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        be16(self.b(), 4)
    }
    pub fn next_header(&self) -> u8 {
        self.b()[6]
    }
    pub fn hop_limit(&self) -> u8 {
        self.b()[7]
    }
    pub fn src_bytes(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[8..24]);
        a
    }
    pub fn dst_bytes(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[24..40]);
        a
    }
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src_bytes())
    }
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst_bytes())
    }
    /// Everything after the fixed header, up to the payload length.
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..HEADER_LEN + self.payload_len() as usize]
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload with the buffer's lifetime (not the view's).
    pub fn into_payload(self) -> &'a [u8] {
        let r = HEADER_LEN..HEADER_LEN + self.payload_len() as usize;
        &self.buffer[r]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = be32(self.b(), 0);
        put32(self.bm(), 0, (w & 0xf00f_ffff) | ((tc as u32) << 20))
    }
    pub fn set_flow_label(&mut self, label: u32) {
        let w = be32(self.b(), 0);
        put32(self.bm(), 0, (w & 0xfff0_0000) | (label & 0x000f_ffff))
    }
    pub fn set_payload_len(&mut self, len: u16) {
        put16(self.bm(), 4, len)
    }
    pub fn set_next_header(&mut self, n: u8) {
        self.bm()[6] = n
    }
    pub fn set_hop_limit(&mut self, h: u8) {
        self.bm()[7] = h
    }
    pub fn set_src(&mut self, a: Ipv6Addr) {
        self.bm()[8..24].copy_from_slice(&a.octets())
    }
    pub fn set_dst(&mut self, a: Ipv6Addr) {
        self.bm()[24..40].copy_from_slice(&a.octets())
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let n = self.payload_len() as usize;
        &mut self.bm()[HEADER_LEN..HEADER_LEN + n]
    }
}

/// A fragment extension header's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragInfo {
    /// Offset of the fragment header from the start of the payload.
    pub at: usize,
    /// Fragment offset in bytes.
    pub offset: u16,
    pub more: bool,
    pub ident: u32,
}

/// What the extension-header walk found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtHeaders {
    /// The upper-layer protocol (or the header after a later fragment's
    /// fragment header, which cannot be parsed there).
    pub proto: u8,
    /// Offset of that header from the start of the payload.
    pub l4_offset: usize,
    pub frag: Option<FragInfo>,
    /// A routing header with segments left: the destination field is not
    /// the final destination the transport checksum covers (RFC 8200 §8.1).
    pub routing: bool,
}

impl ExtHeaders {
    /// Whether this is a fragment other than the first (no L4 header here).
    pub fn is_later_fragment(&self) -> bool {
        self.frag.is_some_and(|f| f.offset != 0)
    }
}

/// Whether `nh` is an extension header [`walk_ext_headers`] steps over.
pub fn is_ext_header(nh: u8) -> bool {
    matches!(
        nh,
        ip_proto::HOPOPTS
            | ip_proto::ROUTING
            | ip_proto::FRAGMENT
            | ip_proto::DSTOPTS
            | ip_proto::AH
    )
}

/// Walks hop-by-hop, routing, fragment, destination-options and AH
/// headers starting with `first` at the start of `payload`. Stops at the
/// first other header, or after the fragment header of a later fragment.
/// Errors when a header runs past `payload`.
pub fn walk_ext_headers(first: u8, payload: &[u8]) -> Result<ExtHeaders> {
    let mut nh = first;
    let mut off = 0usize;
    let mut frag = None;
    let mut routing = false;
    // Every header is at least 8 bytes, so the walk ends within
    // payload.len() / 8 steps; the bound makes that explicit.
    for _ in 0..=payload.len() / 8 {
        if !is_ext_header(nh) {
            return Ok(ExtHeaders {
                proto: nh,
                l4_offset: off,
                frag,
                routing,
            });
        }
        if payload.len() < off + 8 {
            return Err(Error::Truncated);
        }
        let h = &payload[off..off + 8];
        let len = match nh {
            ip_proto::FRAGMENT => {
                let offlg = be16(h, 2);
                let f = FragInfo {
                    at: off,
                    offset: offlg & 0xfff8,
                    more: offlg & 1 != 0,
                    ident: be32(h, 4),
                };
                frag = Some(f);
                if f.offset != 0 {
                    return Ok(ExtHeaders {
                        proto: h[0],
                        l4_offset: off + 8,
                        frag,
                        routing,
                    });
                }
                FRAG_HEADER_LEN
            }
            ip_proto::AH => (h[1] as usize + 2) * 4,
            ip_proto::ROUTING => {
                routing |= h[3] != 0;
                (h[1] as usize + 1) * 8
            }
            _ => (h[1] as usize + 1) * 8,
        };
        if payload.len() < off + len {
            return Err(Error::Truncated);
        }
        nh = h[0];
        off += len;
    }
    if is_ext_header(nh) {
        return Err(Error::Truncated);
    }
    Ok(ExtHeaders {
        proto: nh,
        l4_offset: off,
        frag,
        routing,
    })
}

/// An IPv6 fixed header as values (extension headers are the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        Ok(Repr {
            src: p.src(),
            dst: p.dst(),
            next_header: p.next_header(),
            payload_len: p.payload_len() as usize,
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.payload_len > u16::MAX as usize {
            return Err(Error::Malformed);
        }
        buf[0] = 0x60;
        let mut p = Packet {
            buffer: &mut buf[..HEADER_LEN],
        };
        p.set_traffic_class(self.traffic_class);
        p.set_flow_label(self.flow_label);
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src(self.src);
        p.set_dst(self.dst);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fe80::1 -> ff02::1, tclass 0xb8, label 0x12345, hop-by-hop (router
    /// alert, 8 bytes) then a fragment header (offset 0, M) then UDP.
    fn golden() -> Vec<u8> {
        let mut b = vec![0x6b, 0x81, 0x23, 0x45, 0x00, 24, 0, 1];
        b.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&[44, 0, 5, 2, 0, 0, 1, 0]); // hop-by-hop -> fragment
        b.extend_from_slice(&[17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]); // fragment -> UDP
        b.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
        b
    }

    #[test]
    fn parse_golden() {
        let b = golden();
        let p = Packet::new_checked(&b[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.traffic_class, 0xb8);
        assert_eq!(r.flow_label, 0x12345);
        assert_eq!(r.hop_limit, 1);
        assert_eq!(r.src, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(r.dst, "ff02::1".parse::<Ipv6Addr>().unwrap());
        let e = walk_ext_headers(p.next_header(), p.payload()).unwrap();
        assert_eq!(e.proto, 17);
        assert_eq!(e.l4_offset, 16);
        assert_eq!(
            e.frag,
            Some(FragInfo {
                at: 8,
                offset: 0,
                more: true,
                ident: 0xdeadbeef
            })
        );
        assert!(!e.is_later_fragment());
        let mut out = [0u8; 40];
        r.emit(&mut out).unwrap();
        assert_eq!(out[..], b[..40]);
    }

    #[test]
    fn later_fragment_stops() {
        let mut b = golden();
        b[40 + 8 + 2] = 0x05; // offset 0x500 -> 1280 bytes
        b[40 + 8 + 3] = 0x00;
        let p = Packet::new_checked(&b[..]).unwrap();
        let e = walk_ext_headers(p.next_header(), p.payload()).unwrap();
        assert!(e.is_later_fragment());
        assert_eq!(e.frag.unwrap().offset, 1280);
        assert_eq!((e.proto, e.l4_offset), (17, 16));
    }

    #[test]
    fn truncated_ext_headers() {
        let b = golden();
        for n in 0..16 {
            let r = walk_ext_headers(0, &b[40..40 + n]);
            assert_eq!(r.err(), Some(Error::Truncated), "n {n}");
        }
        // Hop-by-hop claiming 2 KiB.
        assert_eq!(
            walk_ext_headers(0, &[17, 255, 0, 0, 0, 0, 0, 0]).err(),
            Some(Error::Truncated)
        );
        // AH length is in 4-byte units plus 2.
        let rh = [6u8, 0, 0, 1, 0, 0, 0, 0];
        assert!(walk_ext_headers(43, &rh).unwrap().routing);
        let rh_done = [6u8, 0, 0, 0, 0, 0, 0, 0];
        assert!(!walk_ext_headers(43, &rh_done).unwrap().routing);
        let ah = [6u8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(walk_ext_headers(51, &ah).unwrap().l4_offset, 12);
    }

    #[test]
    fn rejects() {
        let b = golden();
        assert_eq!(Packet::new_checked(&b[..39]).err(), Some(Error::Truncated));
        assert_eq!(
            Packet::new_checked(&b[..b.len() - 1]).err(),
            Some(Error::Truncated)
        );
        let mut v = b.clone();
        v[0] = 0x4b;
        assert_eq!(Packet::new_checked(&v[..]).err(), Some(Error::Malformed));
    }

    #[test]
    fn setters() {
        let mut b = golden();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_traffic_class(0x02);
        p.set_flow_label(0xfffff);
        assert_eq!(
            (p.traffic_class(), p.flow_label(), p.version()),
            (0x02, 0xfffff, 6)
        );
    }
}
