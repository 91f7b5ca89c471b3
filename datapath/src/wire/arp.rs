//! ARP (RFC 826). The view reads any hardware/protocol sizes; [`Repr`]
//! handles the only combination a switch meets: Ethernet + IPv4.

use std::net::Ipv4Addr;

use super::{be16, ethertype, put16, Error, MacAddr, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const ETH_IPV4_LEN: usize = 28;
pub const HTYPE_ETHERNET: u16 = 1;
pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;

/// A view of an ARP packet.
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

    /// Checks the fixed part and the four addresses its sizes announce.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < 8 {
            return Err(Error::Truncated);
        }
        let need = 8 + 2 * (b[4] as usize + b[5] as usize);
        if b.len() < need {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }
    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[4]
    }
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[5]
    }
    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// Whether this is the Ethernet/IPv4 variant (sizes 6 and 4).
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hardware_type() == HTYPE_ETHERNET
            && self.protocol_type() == ethertype::IPV4
            && self.hardware_len() == 6
            && self.protocol_len() == 4
    }

    fn offsets(&self) -> (usize, usize, usize, usize) {
        let h = self.hardware_len() as usize;
        let p = self.protocol_len() as usize;
        (8, 8 + h, 8 + h + p, 8 + 2 * h + p)
    }

    pub fn sender_hardware_addr(&self) -> &[u8] {
        let (sha, spa, _, _) = self.offsets();
        &self.buffer.as_ref()[sha..spa]
    }
    pub fn sender_protocol_addr(&self) -> &[u8] {
        let (_, spa, tha, _) = self.offsets();
        &self.buffer.as_ref()[spa..tha]
    }
    pub fn target_hardware_addr(&self) -> &[u8] {
        let (_, _, tha, tpa) = self.offsets();
        &self.buffer.as_ref()[tha..tpa]
    }
    pub fn target_protocol_addr(&self) -> &[u8] {
        let (_, _, _, tpa) = self.offsets();
        let p = self.protocol_len() as usize;
        &self.buffer.as_ref()[tpa..tpa + p]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_operation(&mut self, op: u16) {
        put16(self.buffer.as_mut(), 6, op)
    }

    // The setters below write as many bytes as the packet's sizes allow
    // (both sides are truncated to the shorter), so they cannot overrun.
    fn set_at(&mut self, at: usize, len: usize, v: &[u8]) {
        let n = len.min(v.len());
        self.buffer.as_mut()[at..at + n].copy_from_slice(&v[..n]);
    }
    pub fn set_sender_hardware_addr(&mut self, v: &[u8]) {
        let (at, ..) = self.offsets();
        let h = self.hardware_len() as usize;
        self.set_at(at, h, v)
    }
    pub fn set_sender_protocol_addr(&mut self, v: &[u8]) {
        let (_, at, ..) = self.offsets();
        let p = self.protocol_len() as usize;
        self.set_at(at, p, v)
    }
    pub fn set_target_hardware_addr(&mut self, v: &[u8]) {
        let (_, _, at, _) = self.offsets();
        let h = self.hardware_len() as usize;
        self.set_at(at, h, v)
    }
    pub fn set_target_protocol_addr(&mut self, v: &[u8]) {
        let (_, _, _, at) = self.offsets();
        let p = self.protocol_len() as usize;
        self.set_at(at, p, v)
    }
}

/// An Ethernet/IPv4 ARP packet as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub operation: u16,
    pub sender_hw: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_hw: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if !p.is_ethernet_ipv4() {
            return Err(Error::Unsupported);
        }
        let mac = |s: &[u8]| -> MacAddr { [s[0], s[1], s[2], s[3], s[4], s[5]] };
        let ip = |s: &[u8]| Ipv4Addr::new(s[0], s[1], s[2], s[3]);
        Ok(Repr {
            operation: p.operation(),
            sender_hw: mac(p.sender_hardware_addr()),
            sender_ip: ip(p.sender_protocol_addr()),
            target_hw: mac(p.target_hardware_addr()),
            target_ip: ip(p.target_protocol_addr()),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        ETH_IPV4_LEN
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < ETH_IPV4_LEN {
            return Err(Error::Truncated);
        }
        put16(buf, 0, HTYPE_ETHERNET);
        put16(buf, 2, ethertype::IPV4);
        buf[4] = 6;
        buf[5] = 4;
        let mut p = Packet {
            buffer: &mut buf[..ETH_IPV4_LEN],
        };
        p.set_operation(self.operation);
        p.set_sender_hardware_addr(&self.sender_hw);
        p.set_sender_protocol_addr(&self.sender_ip.octets());
        p.set_target_hardware_addr(&self.target_hw);
        p.set_target_protocol_addr(&self.target_ip.octets());
        Ok(ETH_IPV4_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured who-has 192.168.1.1 tell 192.168.1.100 (ARP body only).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x0c, 0x29, 0x3e, 0x5f, 0x0a, 0xc0,
        0xa8, 0x01, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01,
    ];

    #[test]
    fn parse_golden() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.operation, OP_REQUEST);
        assert_eq!(r.sender_hw, [0x00, 0x0c, 0x29, 0x3e, 0x5f, 0x0a]);
        assert_eq!(r.sender_ip, Ipv4Addr::new(192, 168, 1, 100));
        assert_eq!(r.target_hw, [0; 6]);
        assert_eq!(r.target_ip, Ipv4Addr::new(192, 168, 1, 1));
        let mut b = [0u8; 28];
        r.emit(&mut b).unwrap();
        assert_eq!(b, REQUEST);
    }

    #[test]
    fn truncated_and_unsupported() {
        for n in 0..28 {
            assert_eq!(
                Packet::new_checked(&REQUEST[..n]).err(),
                Some(Error::Truncated),
                "len {n}"
            );
        }
        let mut other = REQUEST;
        other[1] = 6; // IEEE 802 hardware
        let p = Packet::new_checked(&other[..]).unwrap();
        assert_eq!(Repr::parse(&p), Err(Error::Unsupported));
        // Odd sizes are bounds-checked, not assumed.
        let odd = [0, 1, 8, 0, 200, 4, 0, 1, 0, 0];
        assert_eq!(Packet::new_checked(&odd[..]).err(), Some(Error::Truncated));
    }

    #[test]
    fn setters() {
        let mut b = REQUEST;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_operation(OP_REPLY);
        p.set_target_hardware_addr(&[1, 2, 3, 4, 5, 6]);
        p.set_sender_protocol_addr(&[10, 0, 0, 1]);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.operation, OP_REPLY);
        assert_eq!(r.target_hw, [1, 2, 3, 4, 5, 6]);
        assert_eq!(r.sender_ip, Ipv4Addr::new(10, 0, 0, 1));
    }
}
