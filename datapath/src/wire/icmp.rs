//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages, and IPv6 neighbour
//! discovery (RFC 4861): solicitation/advertisement target and the
//! source/target link-layer address options.

use std::net::Ipv6Addr;

use super::checksum::{self, IpPair};
use super::{be16, be32, ip_proto, mac_at, put16, put32, Error, MacAddr, Result};

/// Type, code, checksum and the 4-byte "rest of header".
pub const HEADER_LEN: usize = 8;
pub const CHECKSUM_OFFSET: usize = 2;

pub mod v4_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
}

pub mod v6_type {
    pub const DEST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
}

/// ND option types.
pub const ND_OPT_SOURCE_LLADDR: u8 = 1;
pub const ND_OPT_TARGET_LLADDR: u8 = 2;
/// Neighbour advertisement flags (first byte of the reserved word).
pub const NA_ROUTER: u8 = 0x80;
pub const NA_SOLICITED: u8 = 0x40;
pub const NA_OVERRIDE: u8 = 0x20;
/// ND message length before options: header + target address.
pub const ND_LEN: usize = 24;

macro_rules! icmp_view {
    ($name:ident) => {
        impl<T: AsRef<[u8]>> $name<T> {
            pub fn new_checked(buffer: T) -> Result<$name<T>> {
                let p = $name { buffer };
                p.check_len()?;
                Ok(p)
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
            pub fn msg_type(&self) -> u8 {
                self.buffer.as_ref()[0]
            }
            pub fn code(&self) -> u8 {
                self.buffer.as_ref()[1]
            }
            pub fn checksum(&self) -> u16 {
                be16(self.buffer.as_ref(), 2)
            }
            /// Bytes 4..8, whose meaning depends on the type.
            pub fn rest_of_header(&self) -> u32 {
                be32(self.buffer.as_ref(), 4)
            }
            pub fn echo_ident(&self) -> u16 {
                be16(self.buffer.as_ref(), 4)
            }
            pub fn echo_seq(&self) -> u16 {
                be16(self.buffer.as_ref(), 6)
            }
            /// Everything after the 8-byte header.
            pub fn data(&self) -> &[u8] {
                &self.buffer.as_ref()[HEADER_LEN..]
            }
        }
        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            pub fn set_msg_type(&mut self, t: u8) {
                self.buffer.as_mut()[0] = t
            }
            pub fn set_code(&mut self, c: u8) {
                self.buffer.as_mut()[1] = c
            }
            pub fn set_checksum(&mut self, c: u16) {
                put16(self.buffer.as_mut(), 2, c)
            }
            pub fn set_rest_of_header(&mut self, r: u32) {
                put32(self.buffer.as_mut(), 4, r)
            }
            pub fn data_mut(&mut self) -> &mut [u8] {
                &mut self.buffer.as_mut()[HEADER_LEN..]
            }
        }
    };
}

/// A view of an ICMPv4 message (checksum over the message alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}
icmp_view!(Icmpv4Packet);

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c)
    }
}

/// A view of an ICMPv6 message (checksum includes the pseudo header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}
icmp_view!(Icmpv6Packet);

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub fn verify_checksum(&self, ip: &IpPair) -> bool {
        let b = self.buffer.as_ref();
        let acc = ip.pseudo_sum(ip_proto::ICMPV6, b.len() as u32);
        checksum::fold(checksum::add(acc, b)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    pub fn fill_checksum(&mut self, ip: &IpPair) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let acc = ip.pseudo_sum(ip_proto::ICMPV6, b.len() as u32);
        let c = !checksum::fold(checksum::add(acc, b));
        self.set_checksum(c)
    }
}

/// An ICMPv4 message as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv4Repr<'a> {
    pub msg_type: u8,
    pub code: u8,
    pub rest_of_header: u32,
    pub data: &'a [u8],
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses a message, verifying its checksum.
    pub fn parse(p: &Icmpv4Packet<&'a [u8]>) -> Result<Icmpv4Repr<'a>> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        let b: &'a [u8] = p.buffer;
        Ok(Icmpv4Repr {
            msg_type: p.msg_type(),
            code: p.code(),
            rest_of_header: p.rest_of_header(),
            data: &b[HEADER_LEN..],
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }

    /// Writes the whole message with its checksum; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        if buf.len() < n {
            return Err(Error::Truncated);
        }
        let mut p = Icmpv4Packet {
            buffer: &mut buf[..n],
        };
        p.set_msg_type(self.msg_type);
        p.set_code(self.code);
        p.set_rest_of_header(self.rest_of_header);
        p.data_mut().copy_from_slice(self.data);
        p.fill_checksum();
        Ok(n)
    }
}

/// An ICMPv6 message as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv6Repr<'a> {
    pub msg_type: u8,
    pub code: u8,
    pub rest_of_header: u32,
    pub data: &'a [u8],
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a message, verifying its checksum with `ip`'s pseudo header.
    pub fn parse(p: &Icmpv6Packet<&'a [u8]>, ip: &IpPair) -> Result<Icmpv6Repr<'a>> {
        p.check_len()?;
        if !p.verify_checksum(ip) {
            return Err(Error::Checksum);
        }
        let b: &'a [u8] = p.buffer;
        Ok(Icmpv6Repr {
            msg_type: p.msg_type(),
            code: p.code(),
            rest_of_header: p.rest_of_header(),
            data: &b[HEADER_LEN..],
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8], ip: &IpPair) -> Result<usize> {
        let n = self.buffer_len();
        if buf.len() < n {
            return Err(Error::Truncated);
        }
        let mut p = Icmpv6Packet {
            buffer: &mut buf[..n],
        };
        p.set_msg_type(self.msg_type);
        p.set_code(self.code);
        p.set_rest_of_header(self.rest_of_header);
        p.data_mut().copy_from_slice(self.data);
        p.fill_checksum(ip);
        Ok(n)
    }
}

/// Iterates the options of an ND message (the bytes after the target):
/// yields `(type, offset of the option, whole option bytes)`, or one error
/// for a zero-length or overrunning option, after which it stops.
pub struct NdOptions<'a> {
    data: &'a [u8],
    off: usize,
    done: bool,
}

impl<'a> NdOptions<'a> {
    pub fn new(options: &'a [u8]) -> NdOptions<'a> {
        NdOptions {
            data: options,
            off: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = Result<(u8, usize, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.off >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.off..];
        if rest.len() < 2 {
            self.done = true;
            return Some(Err(Error::Truncated));
        }
        let len = rest[1] as usize * 8;
        if len == 0 {
            self.done = true;
            return Some(Err(Error::Malformed));
        }
        if rest.len() < len {
            self.done = true;
            return Some(Err(Error::Truncated));
        }
        let at = self.off;
        self.off += len;
        Some(Ok((rest[0], at, &rest[..len])))
    }
}

/// A neighbour solicitation or advertisement as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NdiscRepr {
    NeighborSolicit {
        target: Ipv6Addr,
        source_lladdr: Option<MacAddr>,
    },
    NeighborAdvert {
        /// [`NA_ROUTER`] | [`NA_SOLICITED`] | [`NA_OVERRIDE`].
        flags: u8,
        target: Ipv6Addr,
        target_lladdr: Option<MacAddr>,
    },
}

impl NdiscRepr {
    /// Parses an NS or NA (the caller verifies the checksum, which needs
    /// the IP addresses). Options other than the link-layer ones are
    /// skipped; a malformed option list is an error.
    pub fn parse<T: AsRef<[u8]>>(p: &Icmpv6Packet<T>) -> Result<NdiscRepr> {
        p.check_len()?;
        let t = p.msg_type();
        if t != v6_type::NEIGHBOR_SOLICIT && t != v6_type::NEIGHBOR_ADVERT {
            return Err(Error::Unsupported);
        }
        if p.code() != 0 {
            return Err(Error::Malformed);
        }
        let b = p.buffer.as_ref();
        if b.len() < ND_LEN {
            return Err(Error::Truncated);
        }
        let mut tgt = [0u8; 16];
        tgt.copy_from_slice(&b[8..24]);
        let target = Ipv6Addr::from(tgt);
        let want = if t == v6_type::NEIGHBOR_SOLICIT {
            ND_OPT_SOURCE_LLADDR
        } else {
            ND_OPT_TARGET_LLADDR
        };
        let mut lladdr = None;
        for opt in NdOptions::new(&b[ND_LEN..]) {
            let (ty, _, o) = opt?;
            if ty == want && o.len() == 8 && lladdr.is_none() {
                lladdr = Some(mac_at(o, 2));
            }
        }
        Ok(if t == v6_type::NEIGHBOR_SOLICIT {
            NdiscRepr::NeighborSolicit {
                target,
                source_lladdr: lladdr,
            }
        } else {
            NdiscRepr::NeighborAdvert {
                flags: b[4],
                target,
                target_lladdr: lladdr,
            }
        })
    }

    pub fn buffer_len(&self) -> usize {
        let opt = match self {
            NdiscRepr::NeighborSolicit {
                source_lladdr: l, ..
            } => l.is_some(),
            NdiscRepr::NeighborAdvert {
                target_lladdr: l, ..
            } => l.is_some(),
        };
        ND_LEN + if opt { 8 } else { 0 }
    }

    /// Writes the whole ICMPv6 message with its checksum.
    pub fn emit(&self, buf: &mut [u8], ip: &IpPair) -> Result<usize> {
        let n = self.buffer_len();
        if buf.len() < n {
            return Err(Error::Truncated);
        }
        let b = &mut buf[..n];
        let (ty, flags, target, opt_type, lladdr) = match *self {
            NdiscRepr::NeighborSolicit {
                target,
                source_lladdr,
            } => (
                v6_type::NEIGHBOR_SOLICIT,
                0,
                target,
                ND_OPT_SOURCE_LLADDR,
                source_lladdr,
            ),
            NdiscRepr::NeighborAdvert {
                flags,
                target,
                target_lladdr,
            } => (
                v6_type::NEIGHBOR_ADVERT,
                flags,
                target,
                ND_OPT_TARGET_LLADDR,
                target_lladdr,
            ),
        };
        b[0] = ty;
        b[1] = 0;
        b[4..8].copy_from_slice(&[flags, 0, 0, 0]);
        b[8..24].copy_from_slice(&target.octets());
        if let Some(mac) = lladdr {
            b[24] = opt_type;
            b[25] = 1;
            b[26..32].copy_from_slice(&mac);
        }
        Icmpv6Packet { buffer: b }.fill_checksum(ip);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo request (id 0x1c46, seq 1, 8 bytes of data), checksum zeroed.
    const ECHO: [u8; 16] = [
        0x08, 0x00, 0x00, 0x00, 0x1c, 0x46, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68,
    ];

    #[test]
    fn icmpv4_echo() {
        let mut b = ECHO;
        let mut p = Icmpv4Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        // 0x0800+0x1c46+0x0001+0x6162+0x6364+0x6566+0x6768 = 0x1b5db -> 0xb5dc.
        assert_eq!(p.checksum(), !0xb5dc);
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.echo_ident(), p.echo_seq()), (0x1c46, 1));
        let r = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(
            (r.msg_type, r.code, r.data),
            (v4_type::ECHO_REQUEST, 0, &b"abcdefgh"[..])
        );
        let mut out = [0u8; 16];
        r.emit(&mut out).unwrap();
        assert_eq!(out, b);
        assert_eq!(
            Icmpv4Packet::new_checked(&b[..7]).err(),
            Some(Error::Truncated)
        );
    }

    fn ip6() -> IpPair {
        IpPair::V6 {
            src: "fe80::5054:ff:fe12:3456"
                .parse::<Ipv6Addr>()
                .unwrap()
                .octets(),
            dst: "ff02::1:ff00:1".parse::<Ipv6Addr>().unwrap().octets(),
        }
    }

    /// A neighbour solicitation for fe80::1 from 52:54:00:12:34:56.
    const NS: [u8; 32] = [
        0x87, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0x01, 0x01, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    ];

    #[test]
    fn neighbor_solicit_golden() {
        let mut b = NS;
        Icmpv6Packet::new_checked(&mut b[..])
            .unwrap()
            .fill_checksum(&ip6());
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(&ip6()));
        let r = NdiscRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            NdiscRepr::NeighborSolicit {
                target: "fe80::1".parse().unwrap(),
                source_lladdr: Some([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            }
        );
        let mut out = [0u8; 32];
        assert_eq!(r.emit(&mut out, &ip6()), Ok(32));
        assert_eq!(out, b);
        assert!(Icmpv6Repr::parse(&p, &ip6()).is_ok());
    }

    #[test]
    fn neighbor_advert_roundtrip() {
        let r = NdiscRepr::NeighborAdvert {
            flags: NA_SOLICITED | NA_OVERRIDE,
            target: "2001:db8::7".parse().unwrap(),
            target_lladdr: Some([2, 0, 0, 0, 0, 7]),
        };
        let mut b = [0u8; 32];
        r.emit(&mut b, &ip6()).unwrap();
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(NdiscRepr::parse(&p), Ok(r));
        assert!(p.verify_checksum(&ip6()));
    }

    #[test]
    fn nd_malformed() {
        let mut zero_len = NS;
        zero_len[25] = 0;
        let p = Icmpv6Packet::new_checked(&zero_len[..]).unwrap();
        assert_eq!(NdiscRepr::parse(&p), Err(Error::Malformed));
        let mut long = NS;
        long[25] = 2;
        let p = Icmpv6Packet::new_checked(&long[..]).unwrap();
        assert_eq!(NdiscRepr::parse(&p), Err(Error::Truncated));
        let p = Icmpv6Packet::new_checked(&NS[..20]).unwrap();
        assert_eq!(NdiscRepr::parse(&p), Err(Error::Truncated));
        let mut code = NS;
        code[1] = 1;
        let p = Icmpv6Packet::new_checked(&code[..]).unwrap();
        assert_eq!(NdiscRepr::parse(&p), Err(Error::Malformed));
        let p = Icmpv6Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(NdiscRepr::parse(&p), Err(Error::Unsupported));
    }
}
