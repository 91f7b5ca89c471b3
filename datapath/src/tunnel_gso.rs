//! VXLAN sends with UDP segmentation offload (`UDP_SEGMENT`): the inner
//! TCP segments of one GSO super-frame, each behind its VXLAN header, go
//! to the kernel in one `sendmsg` on a UDP socket, which passes them
//! through routing, netfilter and the underlay device as one packet and
//! cuts it into datagrams only at the end (or hands it whole to a veth).
//! Profiles of the one-`sendto`-per-segment path showed most of a
//! tunnel worker in the per-packet IPv4 output path.
//!
//! The UDP socket has one (ephemeral) source port, so these datagrams do
//! not vary the source port per inner flow the way single frames sent on
//! the raw socket do; the kernel always computes their UDP checksum
//! (it refuses UDP GSO without one).

use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::packet::Packet;

/// `SOL_UDP` / `UDP_SEGMENT` from linux/udp.h.
const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;
/// Segments per `sendmsg` (the kernel's `UDP_MAX_SEGMENTS` is 64 on older
/// kernels, 128 on newer ones).
const MAX_SEGMENTS: usize = 64;
/// Largest UDP payload of one `sendmsg` (an IPv4 datagram's 16-bit length).
const MAX_PAYLOAD: usize = 65_507;
/// VXLAN header: flags (I bit), reserved, VNI, reserved.
const VXLAN_HDR: usize = 8;

/// Why a GSO send did not go out.
#[derive(Debug)]
pub enum GsoError {
    /// The kernel does not do UDP GSO here; use the per-segment path.
    Unsupported,
    /// Larger than the path MTU with DF (`EMSGSIZE`).
    TooBig,
    Io(io::Error),
}

#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// A UDP socket for GSO sends, with the IP options last applied.
pub struct UdpGsoSender {
    fd: OwnedFd,
    ip_opts: crate::tunnel::IpOptions,
    buf: Vec<u8>,
    unsupported: bool,
}

impl UdpGsoSender {
    /// A UDP socket bound to `local` (any when `None`) and an ephemeral
    /// port, made in the calling thread's network namespace.
    pub fn open(local: Option<Ipv4Addr>) -> io::Result<UdpGsoSender> {
        let sock = std::net::UdpSocket::bind((local.unwrap_or(Ipv4Addr::UNSPECIFIED), 0))?;
        sock.set_nonblocking(true)?;
        // Nothing is ever received on it: no buffer worth keeping.
        // SAFETY: shutdown takes no pointers.
        unsafe { libc::shutdown(sock.as_raw_fd(), libc::SHUT_RD) };
        // SAFETY: the descriptor comes from the socket we own and give up.
        let fd = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(sock)) };
        Ok(UdpGsoSender {
            fd,
            ip_opts: Default::default(),
            buf: Vec::with_capacity(MAX_PAYLOAD),
            unsupported: false,
        })
    }

    /// False once the kernel refused `UDP_SEGMENT`.
    pub fn usable(&self) -> bool {
        !self.unsupported
    }

    /// Sends `segs` (inner frames, all of one length but the last) to
    /// `remote`:`dst_port` with VNI `vni`. Returns the datagrams sent.
    /// Segments of unequal length are refused as `Unsupported` (the kernel
    /// would cut the buffer at the wrong places).
    #[allow(clippy::too_many_arguments)]
    pub fn send_segments(
        &mut self,
        segs: &[Packet],
        vni: u32,
        remote: Ipv4Addr,
        dst_port: u16,
        ttl: u8,
        tos: u8,
        df: bool,
    ) -> Result<usize, GsoError> {
        if self.unsupported || segs.is_empty() {
            return Err(GsoError::Unsupported);
        }
        let seg_len = segs[0].len();
        if segs[..segs.len() - 1].iter().any(|s| s.len() != seg_len)
            || segs[segs.len() - 1].len() > seg_len
        {
            return Err(GsoError::Unsupported);
        }
        self.ip_opts
            .apply(self.fd.as_raw_fd(), ttl, tos, df)
            .map_err(GsoError::Io)?;
        let gso = VXLAN_HDR + seg_len;
        let per_call = (MAX_PAYLOAD / gso).clamp(1, MAX_SEGMENTS);
        let hdr = vxlan_header(vni);
        let mut sent = 0;
        for chunk in segs.chunks(per_call) {
            self.buf.clear();
            for s in chunk {
                self.buf.extend_from_slice(&hdr);
                self.buf.extend_from_slice(s.data());
            }
            match self.sendmsg(remote, dst_port, (chunk.len() > 1).then_some(gso as u16)) {
                Ok(()) => sent += chunk.len(),
                Err(e) => {
                    return Err(match e.raw_os_error() {
                        Some(libc::EMSGSIZE) => GsoError::TooBig,
                        // Refused on the first use: this kernel or device
                        // path has no UDP GSO. Later errors are real ones.
                        Some(libc::EINVAL) | Some(libc::ENOPROTOOPT) | Some(libc::EIO)
                            if sent == 0 =>
                        {
                            self.unsupported = true;
                            GsoError::Unsupported
                        }
                        _ if sent > 0 => return Ok(sent),
                        _ => GsoError::Io(e),
                    });
                }
            }
        }
        Ok(sent)
    }

    fn sendmsg(&mut self, remote: Ipv4Addr, port: u16, gso: Option<u16>) -> io::Result<()> {
        // SAFETY: sockaddr_in and msghdr are plain C structs; all-zero is
        // a valid value for each.
        let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from(remote).to_be();
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        let mut cmsg = CmsgBuf([0; 32]);
        // SAFETY: as above.
        let mut h: libc::msghdr = unsafe { mem::zeroed() };
        h.msg_name = (&mut sa as *mut libc::sockaddr_in).cast();
        h.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        h.msg_iov = &mut iov;
        h.msg_iovlen = 1;
        if let Some(size) = gso {
            // SAFETY: CMSG_SPACE(2) (24 bytes) fits the 32-byte, 8-aligned
            // buffer; CMSG_FIRSTHDR points into it once msg_control and
            // msg_controllen describe it, and the u16 payload is written
            // unaligned inside it.
            unsafe {
                h.msg_control = cmsg.0.as_mut_ptr().cast();
                h.msg_controllen = libc::CMSG_SPACE(2) as _;
                let c = libc::CMSG_FIRSTHDR(&h);
                (*c).cmsg_level = SOL_UDP;
                (*c).cmsg_type = UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(2) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), size);
            }
        }
        loop {
            // SAFETY: every pointer in `h` refers to a local or to
            // `self.buf`, all live for the call; the kernel only reads them.
            let r = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &h, libc::MSG_DONTWAIT) };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// A VXLAN header with the I flag and `vni` (RFC 7348).
fn vxlan_header(vni: u32) -> [u8; VXLAN_HDR] {
    let v = vni.to_be_bytes();
    [0x08, 0, 0, 0, v[1], v[2], v[3], 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_header_golden_bytes() {
        assert_eq!(
            vxlan_header(0x12_3456),
            [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]
        );
        assert_eq!(vxlan_header(1), [0x08, 0, 0, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn unequal_segments_are_refused_before_any_send() {
        let mut s = UdpGsoSender::open(Some(Ipv4Addr::LOCALHOST)).unwrap();
        let mut a = Packet::new();
        a.set_frame(&[0; 100]);
        let mut b = Packet::new();
        b.set_frame(&[0; 90]);
        let mut c = Packet::new();
        c.set_frame(&[0; 100]);
        let r = s.send_segments(&[a, b, c], 1, Ipv4Addr::LOCALHOST, 9, 64, 0, false);
        assert!(matches!(r, Err(GsoError::Unsupported)), "{r:?}");
        // A refusal for this reason does not disable the sender.
        assert!(s.usable());
    }

    #[test]
    fn segments_arrive_as_separate_datagrams() {
        let rx = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let port = rx.local_addr().unwrap().port();
        let mut s = UdpGsoSender::open(Some(Ipv4Addr::LOCALHOST)).unwrap();
        let segs: Vec<Packet> = [200usize, 200, 200, 120]
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let mut p = Packet::new();
                p.set_frame(&vec![i as u8 + 1; n]);
                p
            })
            .collect();
        match s.send_segments(&segs, 42, Ipv4Addr::LOCALHOST, port, 64, 0, false) {
            Ok(n) => assert_eq!(n, 4),
            // A kernel without UDP GSO: the caller falls back; nothing to check.
            Err(GsoError::Unsupported) => return,
            Err(e) => panic!("{e:?}"),
        }
        let mut buf = [0u8; 2048];
        for (i, want) in [200usize, 200, 200, 120].iter().enumerate() {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(n, VXLAN_HDR + want, "datagram {i}");
            assert_eq!(&buf[..8], &vxlan_header(42));
            assert!(buf[8..n].iter().all(|&b| b == i as u8 + 1), "datagram {i}");
        }
    }
}
