//! The 64-byte UDP generator (`rswitch-bench pktgen`): builds Ethernet +
//! IPv4 + UDP frames with correct checksums and sends them on one interface
//! through an AF_PACKET socket in `sendmmsg` batches, cycling the UDP source
//! port over N values (N flows), bounded by a duration and a packet count.

use std::time::{Duration, Instant};

/// Frame length in the buffer: 64 bytes on the wire minus the 4-byte FCS.
pub const FRAME_LEN: usize = 60;
/// Frames per `sendmmsg` call.
pub const BATCH: usize = 64;
/// First UDP source port; flow i uses `SRC_PORT_BASE + i`.
pub const SRC_PORT_BASE: u16 = 10_000;
/// The discard port, so nothing in host b answers but ICMP (rate limited).
pub const DST_PORT: u16 = 9;

/// What to send.
#[derive(Clone, Debug)]
pub struct Spec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    pub flows: u16,
}

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One 60-byte frame of flow `flow` (0-based; the UDP source port is
/// `SRC_PORT_BASE + flow`). The payload is 18 bytes of zeros.
pub fn build_frame(spec: &Spec, flow: u16) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&spec.dst_mac);
    f[6..12].copy_from_slice(&spec.src_mac);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (FRAME_LEN - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45; // version 4, IHL 5
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[6] = 0x40; // DF: no fragments in this lab
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&spec.src_ip);
    ip[16..20].copy_from_slice(&spec.dst_ip);
    let c = csum_fold(csum_add(0, ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp_len = ip_len - 20;
    let sport = SRC_PORT_BASE.wrapping_add(flow);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&DST_PORT.to_be_bytes());
    f[38..40].copy_from_slice(&udp_len.to_be_bytes());
    // UDP checksum over the pseudo-header and the datagram (checksum 0).
    let mut sum = csum_add(0, &spec.src_ip);
    sum = csum_add(sum, &spec.dst_ip);
    sum += 17 + u32::from(udp_len);
    sum = csum_add(sum, &f[34..FRAME_LEN]);
    let mut c = csum_fold(sum);
    if c == 0 {
        c = 0xffff; // 0 means "no checksum" in UDP over IPv4
    }
    f[40..42].copy_from_slice(&c.to_be_bytes());
    f
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut n = 0;
    for (i, p) in s.trim().split(':').enumerate() {
        if i >= 6 || p.len() != 2 {
            return None;
        }
        m[i] = u8::from_str_radix(p, 16).ok()?;
        n = i + 1;
    }
    (n == 6).then_some(m)
}

/// Parses a dotted IPv4 address.
pub fn parse_ip(s: &str) -> Option<[u8; 4]> {
    s.trim()
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|a| a.octets())
}

/// Result of one run.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    pub packets: u64,
    pub seconds: f64,
}

/// An AF_PACKET socket bound to one interface, closed on drop.
struct PacketSocket {
    fd: libc::c_int,
}

impl PacketSocket {
    fn open(ifname: &str) -> Result<PacketSocket, String> {
        let cname = std::ffi::CString::new(ifname).map_err(|_| "bad interface name")?;
        // SAFETY: cname is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) } as libc::c_int;
        if ifindex == 0 {
            return Err(format!("no interface {ifname}"));
        }
        // Protocol 0: a send-only socket, so the kernel queues nothing we
        // receive on it (receiving would cost CPU the switch needs).
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(format!(
                "socket(AF_PACKET): {}",
                std::io::Error::last_os_error()
            ));
        }
        let s = PacketSocket { fd };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex;
        // SAFETY: sll is a valid sockaddr_ll of the length passed.
        let r = unsafe {
            libc::bind(
                fd,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(format!(
                "bind {ifname}: {}",
                std::io::Error::last_os_error()
            ));
        }
        // Skip the qdisc (veth has none anyway); failure only costs speed.
        let one: libc::c_int = 1;
        // SAFETY: the option value is a c_int of the length passed.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Ok(s)
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: fd is owned by this struct and closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// Sends frames of `spec` on `ifname` until `duration` has passed, `max`
/// packets were sent, or `stop()` says so. `pps` = 0 means full rate;
/// otherwise batches are paced to that rate.
pub fn send(
    ifname: &str,
    spec: &Spec,
    duration: Duration,
    max: u64,
    pps: u64,
    stop: impl Fn() -> bool,
) -> Result<Sent, String> {
    let sock = PacketSocket::open(ifname)?;
    let flows = spec.flows.max(1);
    let frames: Vec<[u8; FRAME_LEN]> = (0..flows).map(|i| build_frame(spec, i)).collect();
    // One batch's iovecs and headers, re-pointed at the next frames before
    // each call. The frames vector outlives every sendmmsg call below.
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: FRAME_LEN,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is valid (no name, no control).
    let mut hdrs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    let start = Instant::now();
    let mut sent: u64 = 0;
    let mut next = 0usize;
    let mut errors = 0u32;
    while sent < max && start.elapsed() < duration && !stop() {
        if pps > 0 {
            // Pace: do not get ahead of the schedule.
            let due = Duration::from_secs_f64(sent as f64 / pps as f64);
            let el = start.elapsed();
            if due > el {
                std::thread::sleep((due - el).min(Duration::from_millis(5)));
                continue;
            }
        }
        let n = ((max - sent) as usize).min(BATCH);
        for i in 0..n {
            let fr = &frames[(next + i) % frames.len()];
            iov[i].iov_base = fr.as_ptr() as *mut libc::c_void;
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: hdrs[..n] point at iov[..n], which point at live frames
        // of FRAME_LEN bytes; the socket is bound, so no address is needed.
        let r = unsafe { libc::sendmmsg(sock.fd, hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    errors += 1;
                    if errors > 1_000_000 {
                        return Err(format!("sendmmsg: {e}"));
                    }
                    std::thread::yield_now();
                    continue;
                }
                _ => return Err(format!("sendmmsg: {e}")),
            }
        }
        sent += r as u64;
        next = (next + r as usize) % frames.len();
    }
    Ok(Sent {
        packets: sent,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            src_mac: [0x02, 0, 0, 0, 0, 0x0a],
            dst_mac: [0x02, 0, 0, 0, 0, 0x0b],
            src_ip: [198, 18, 0, 1],
            dst_ip: [198, 18, 0, 2],
            flows: 1000,
        }
    }

    #[test]
    fn golden_bytes() {
        let f = build_frame(&spec(), 0);
        #[rustfmt::skip]
        let want: [u8; 60] = [
            // Ethernet: dst, src, IPv4
            0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00,
            // IPv4: 45 00, len 46, id 0, DF, ttl 64, udp, csum, src, dst
            0x45, 0x00, 0x00, 0x2e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xae, 0x97,
            198, 18, 0, 1, 198, 18, 0, 2,
            // UDP: 10000 -> 9, len 26, csum
            0x27, 0x10, 0x00, 0x09, 0x00, 0x1a, 0x4c, 0x79,
            // payload
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(f, want);
    }

    #[test]
    fn checksums_verified_by_etherparse() {
        use etherparse::{NetSlice, SlicedPacket, TransportSlice};
        let s = spec();
        for flow in [0u16, 1, 7, 999] {
            let f = build_frame(&s, flow);
            let p = SlicedPacket::from_ethernet(&f).expect("parses");
            let Some(NetSlice::Ipv4(ip)) = p.net else {
                panic!("not IPv4")
            };
            let h = ip.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
            assert_eq!(h.source, s.src_ip);
            assert_eq!(h.destination, s.dst_ip);
            let Some(TransportSlice::Udp(u)) = p.transport else {
                panic!("not UDP")
            };
            let uh = u.to_header();
            assert_eq!(uh.source_port, SRC_PORT_BASE + flow);
            assert_eq!(uh.destination_port, DST_PORT);
            let want = uh.calc_checksum_ipv4(&h, u.payload()).expect("checksum");
            assert_eq!(uh.checksum, want);
        }
    }

    #[test]
    fn parsers() {
        assert_eq!(
            parse_mac("02:aB:00:00:00:ff"),
            Some([2, 0xab, 0, 0, 0, 0xff])
        );
        assert_eq!(parse_mac("02:ab:00:00:00"), None);
        assert_eq!(parse_mac("02:ab:00:00:00:00:00"), None);
        assert_eq!(parse_mac("zz:ab:00:00:00:00"), None);
        assert_eq!(parse_ip("198.18.0.1"), Some([198, 18, 0, 1]));
        assert_eq!(parse_ip("198.18.0"), None);
    }
}
