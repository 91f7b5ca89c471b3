//! VXLAN (RFC 7348) and GRE (RFC 2784/2890, Ethernet over GRE) tunnels
//! built by rswitch itself: a pure codec (encapsulate an inner Ethernet
//! frame in place, in the packet's headroom; validate and locate the inner
//! frame of a received outer payload) and two socket endpoints that move
//! encapsulated frames over the namespace's ordinary IPv4 routing.
//!
//! The outer IPv4 header is always the kernel's: VXLAN is sent on a raw
//! `IPPROTO_UDP` socket (we write UDP + VXLAN, so the UDP source port can
//! carry per-flow entropy) and GRE on a raw `IPPROTO_GRE` socket. The
//! kernel picks the route, the source address (unless bound), builds the
//! IPv4 header, fragments or refuses by the DF setting, and resolves the
//! next hop, so the tunnels work over whatever underlay the namespace
//! routes to, without rswitch knowing about it.
//!
//! Received frames carry a [`TunnelMeta`] (outer source, outer destination,
//! tunnel id) so that an engine can demultiplex them to tunnel ports and
//! fill the flow key's `TUN_ID`, `TUN_SRC` and `TUN_DST`.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::offload::{complete_checksum, segment_gso, OffloadError};
use crate::packet::{Packet, VnetHdr};
use crate::wire::checksum::IpPair;
use crate::wire::{self, be16, be32, ethertype, gre, ip_proto, udp, vxlan, L3};

/// The IANA VXLAN port.
pub const VXLAN_PORT: u16 = udp::VXLAN_PORT;
/// Bytes VXLAN adds in front of the inner frame (UDP + VXLAN; the outer
/// IPv4 header is the kernel's).
pub const VXLAN_OVERHEAD: usize = udp::HEADER_LEN + vxlan::HEADER_LEN;
/// Range of UDP source ports used for flow entropy (Linux's default
/// ephemeral range, as the kernel's vxlan driver uses).
pub const UDP_SRC_MIN: u16 = 32768;
pub const UDP_SRC_MAX: u16 = 60999;
/// The outer IPv4 header the kernel adds (no options).
pub const OUTER_IPV4_LEN: usize = 20;
/// Underlay MTU assumed when the route's cannot be read.
pub const DEFAULT_UNDERLAY_MTU: usize = 1500;
/// How long a remote's underlay MTU is cached before it is read again
/// (so that a learned path MTU or a changed route is picked up).
const MTU_CACHE_TTL: Duration = Duration::from_secs(1);

/// The segment size to cut a TCP GSO super-frame into so that every
/// encapsulated segment fits the underlay: `gso_size`, or less when
/// `path_mtu` minus the outer headers (`outer_overhead`: outer IPv4 plus
/// UDP + VXLAN or GRE) minus the inner frame's headers (`inner_hdr_len`:
/// Ethernet, VLAN tags, IP, TCP) leaves less room. When not even one
/// payload byte fits, `gso_size` is returned unchanged (the segments are
/// then refused and counted as too big).
pub fn clamp_gso_size(
    gso_size: u16,
    path_mtu: usize,
    outer_overhead: usize,
    inner_hdr_len: usize,
) -> u16 {
    match path_mtu
        .checked_sub(outer_overhead)
        .and_then(|m| m.checked_sub(inner_hdr_len))
    {
        Some(room) if room > 0 => gso_size.min(u16::try_from(room).unwrap_or(u16::MAX)),
        _ => gso_size,
    }
}

/// Length of a TCP frame's headers (Ethernet, VLAN tags, IP, TCP), i.e.
/// where its payload starts, and its IP version; `None` when it is not a
/// parsable, unfragmented TCP frame.
fn tcp_headers(frame: &[u8]) -> Option<(usize, L3)> {
    let lay = wire::locate(frame).ok()?;
    if lay.proto != ip_proto::TCP || lay.frag != 0 {
        return None;
    }
    let l4 = lay.l4?;
    let off = *frame.get(l4 + 12)?;
    let end = l4 + usize::from(off >> 4) * 4;
    (end <= lay.l3_end && lay.l3_end <= frame.len()).then_some((end, lay.l3_kind))
}

/// Which encapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    Vxlan,
    Gre,
}

/// Why a tunnel payload could not be decapsulated or encapsulated. Every
/// malformed input maps to its own variant, so that drops can be told
/// apart in counters and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelError {
    /// Shorter than the outer headers (or their length fields) need.
    Truncated,
    /// The outer IPv4 header (GRE raw receive) is not a valid IPv4/GRE one.
    BadOuterIp,
    /// UDP length field smaller than the header.
    BadUdpLength,
    /// Non-zero UDP checksum that does not verify.
    BadUdpChecksum,
    /// VXLAN flags byte is not exactly 0x08 (I bit only).
    BadVxlanFlags(u8),
    /// VXLAN reserved bits (bytes 1-3, 7) not zero.
    VxlanReservedBits,
    /// GRE version other than 0.
    BadGreVersion(u8),
    /// GRE routing bit (RFC 1701 source routing) set.
    GreRouting,
    /// GRE strict-source-route or recursion bits set.
    GreReservedBits,
    /// GRE protocol other than transparent Ethernet bridging (0x6558).
    UnknownGreProtocol(u16),
    /// GRE checksum present and wrong.
    BadGreChecksum,
    /// Encapsulation: not enough headroom in the packet.
    NoHeadroom,
    /// Encapsulation: VNI wider than 24 bits.
    VniTooWide,
    /// Encapsulation: tunnel id does not fit the GRE key (32 bits).
    KeyTooWide,
    /// Encapsulation: the datagram would exceed 65535 bytes.
    TooLong,
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Truncated => f.write_str("truncated tunnel header"),
            TunnelError::BadOuterIp => f.write_str("bad outer IPv4 header"),
            TunnelError::BadUdpLength => f.write_str("bad UDP length"),
            TunnelError::BadUdpChecksum => f.write_str("bad UDP checksum"),
            TunnelError::BadVxlanFlags(x) => write!(f, "bad VXLAN flags {x:#04x}"),
            TunnelError::VxlanReservedBits => f.write_str("VXLAN reserved bits set"),
            TunnelError::BadGreVersion(v) => write!(f, "GRE version {v}"),
            TunnelError::GreRouting => f.write_str("GRE routing bit set"),
            TunnelError::GreReservedBits => f.write_str("GRE reserved bits set"),
            TunnelError::UnknownGreProtocol(p) => write!(f, "GRE protocol {p:#06x}"),
            TunnelError::BadGreChecksum => f.write_str("bad GRE checksum"),
            TunnelError::NoHeadroom => f.write_str("no headroom for tunnel header"),
            TunnelError::VniTooWide => f.write_str("VNI wider than 24 bits"),
            TunnelError::KeyTooWide => f.write_str("tunnel id wider than the GRE key"),
            TunnelError::TooLong => f.write_str("encapsulated datagram too long"),
        }
    }
}

impl std::error::Error for TunnelError {}

// ---------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------

/// Pushes UDP + VXLAN headers in front of `inner`'s frame (RFC 7348:
/// flags 0x08, 24-bit VNI, reserved bits zero). The UDP checksum is zero
/// (allowed over IPv4, and what Linux sends by default) unless `csum` gives
/// the outer (source, destination) addresses for the pseudo header.
pub fn encap_vxlan_payload(
    inner: &mut Packet,
    vni: u32,
    udp_src: u16,
    udp_dst: u16,
    csum: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Result<(), TunnelError> {
    if vni > 0x00ff_ffff {
        return Err(TunnelError::VniTooWide);
    }
    let total = VXLAN_OVERHEAD + inner.len();
    if total > u16::MAX as usize {
        return Err(TunnelError::TooLong);
    }
    let h = inner
        .push_front(VXLAN_OVERHEAD)
        .ok_or(TunnelError::NoHeadroom)?;
    let u = udp::Repr {
        src_port: udp_src,
        dst_port: udp_dst,
        payload_len: total - udp::HEADER_LEN,
    };
    // Neither emit can fail: the slice has exactly the room and the VNI
    // and length were checked above.
    u.emit(&mut h[..udp::HEADER_LEN])
        .map_err(|_| TunnelError::TooLong)?;
    vxlan::Repr { vni }
        .emit(&mut h[udp::HEADER_LEN..])
        .map_err(|_| TunnelError::VniTooWide)?;
    if let Some((src, dst)) = csum {
        let ip = IpPair::V4 {
            src: src.octets(),
            dst: dst.octets(),
        };
        let mut p = udp::Packet::new_checked(inner.data_mut()).map_err(|_| TunnelError::TooLong)?;
        p.fill_checksum(&ip);
    }
    Ok(())
}

/// Pushes a GRE header (protocol 0x6558) in front of `inner`'s frame: the
/// K bit and key when `key` is given, the C bit and checksum (over GRE
/// header and payload, RFC 2784) when `csum` is set.
pub fn encap_gre_payload(
    inner: &mut Packet,
    key: Option<u32>,
    csum: bool,
) -> Result<(), TunnelError> {
    let r = gre::Repr {
        protocol: gre::PROTO_TEB,
        checksum: csum,
        key,
        seq: None,
    };
    let hl = r.header_len();
    let h = inner.push_front(hl).ok_or(TunnelError::NoHeadroom)?;
    r.emit(h).map_err(|_| TunnelError::Truncated)?;
    if csum {
        let mut p =
            gre::Packet::new_checked(inner.data_mut()).map_err(|_| TunnelError::Truncated)?;
        p.fill_checksum();
    }
    Ok(())
}

/// Bytes a GRE header adds in front of the inner frame (4, plus 4 with a
/// key, plus 4 with a checksum; the outer IPv4 header is the kernel's).
pub fn gre_overhead(key: bool, csum: bool) -> usize {
    gre::Repr {
        protocol: gre::PROTO_TEB,
        checksum: csum,
        key: key.then_some(0),
        seq: None,
    }
    .header_len()
}

/// A UDP source port for the inner frame's flow, in
/// [`UDP_SRC_MIN`]..=[`UDP_SRC_MAX`]: a fixed hash (no per-process seed,
/// so it is stable across restarts) of the IP addresses, protocol and
/// transport ports, or of the MAC addresses and EtherType for non-IP
/// frames. Underlay ECMP then spreads flows without reordering one.
pub fn udp_source_port(inner_frame: &[u8]) -> u16 {
    let mut h = Fnv::new();
    match wire::locate(inner_frame) {
        Ok(l) if l.l3_kind == L3::Ipv4 || l.l3_kind == L3::Ipv6 => {
            let (a, n) = if l.l3_kind == L3::Ipv4 {
                (l.l3 + 12, 8)
            } else {
                (l.l3 + 8, 32)
            };
            h.write(&inner_frame[a..a + n]);
            h.write(&[l.proto]);
            if let Some(l4) = l.l4 {
                let ported = matches!(l.proto, ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP);
                if ported && inner_frame.len() >= l4 + 4 {
                    h.write(&inner_frame[l4..l4 + 4]);
                }
            }
        }
        _ => {
            let n = inner_frame.len().min(14);
            h.write(&inner_frame[..n]);
        }
    }
    let span = (UDP_SRC_MAX - UDP_SRC_MIN) as u64 + 1;
    // Fold the high half in: FNV's low bits alone mix poorly.
    let v = h.0 ^ (h.0 >> 32);
    UDP_SRC_MIN + (v % span) as u16
}

/// FNV-1a, 64-bit.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Validates a tunnel payload and locates its inner Ethernet frame:
/// `outer_payload` is the UDP datagram (VXLAN) or the GRE packet (GRE),
/// i.e. what follows the outer IPv4 header. Returns the tunnel id (VNI or
/// GRE key, 0 without a key) and the inner frame's range. A non-zero UDP
/// checksum is not verified here (no addresses); see [`decap_checked`].
pub fn decap(kind: TunnelKind, outer_payload: &[u8]) -> Result<(u64, Range<usize>), TunnelError> {
    decap_checked(kind, outer_payload, None)
}

/// As [`decap`], also verifying a non-zero UDP checksum (VXLAN) when the
/// outer (source, destination) addresses are given. GRE checksums are
/// always verified (they need no pseudo header).
pub fn decap_checked(
    kind: TunnelKind,
    outer_payload: &[u8],
    addrs: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Result<(u64, Range<usize>), TunnelError> {
    match kind {
        TunnelKind::Vxlan => decap_vxlan_udp(outer_payload, addrs),
        TunnelKind::Gre => decap_gre(outer_payload),
    }
}

fn decap_vxlan_udp(
    b: &[u8],
    addrs: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Result<(u64, Range<usize>), TunnelError> {
    let p = udp::Packet::new_checked(b).map_err(|e| match e {
        wire::Error::Malformed => TunnelError::BadUdpLength,
        _ => TunnelError::Truncated,
    })?;
    if let Some((src, dst)) = addrs {
        let ip = IpPair::V4 {
            src: src.octets(),
            dst: dst.octets(),
        };
        if !p.verify_checksum(&ip) {
            return Err(TunnelError::BadUdpChecksum);
        }
    }
    let end = p.len() as usize;
    let (vni, r) = decap_vxlan_header(&b[udp::HEADER_LEN..end])?;
    Ok((vni, r.start + udp::HEADER_LEN..r.end + udp::HEADER_LEN))
}

/// Validates a VXLAN header (no UDP in front: what a UDP socket receives)
/// and returns the VNI and the inner frame's range.
pub fn decap_vxlan_header(b: &[u8]) -> Result<(u64, Range<usize>), TunnelError> {
    let h = vxlan::Header::new_checked(b).map_err(|_| TunnelError::Truncated)?;
    // Exactly the I flag: the other flag bits are reserved, and extensions
    // (GPE, GBP) that use them would be misread as plain VXLAN.
    if h.flags() != vxlan::FLAG_I {
        return Err(TunnelError::BadVxlanFlags(h.flags()));
    }
    if !h.reserved_zero() {
        return Err(TunnelError::VxlanReservedBits);
    }
    Ok((h.vni() as u64, vxlan::HEADER_LEN..b.len()))
}

fn decap_gre(b: &[u8]) -> Result<(u64, Range<usize>), TunnelError> {
    if b.len() < gre::BASE_LEN {
        return Err(TunnelError::Truncated);
    }
    let f = be16(b, 0);
    // Checked one by one (rather than through gre::Packet::check_len) so
    // each reason gets its own error.
    if f & 0x0007 != 0 {
        return Err(TunnelError::BadGreVersion((f & 7) as u8));
    }
    if f & gre::FLAG_R != 0 {
        return Err(TunnelError::GreRouting);
    }
    if f & 0x0c00 != 0 {
        return Err(TunnelError::GreReservedBits);
    }
    let p = gre::Packet::new_checked(b).map_err(|_| TunnelError::Truncated)?;
    if p.protocol() != ethertype::TEB {
        return Err(TunnelError::UnknownGreProtocol(p.protocol()));
    }
    if !p.verify_checksum() {
        return Err(TunnelError::BadGreChecksum);
    }
    let key = p.key().unwrap_or(0) as u64;
    Ok((key, p.header_len()..b.len()))
}

/// Parses the outer IPv4 header a raw socket delivers: returns (source,
/// destination, header length, end of the IP packet).
fn parse_outer_ipv4(
    b: &[u8],
    proto: u8,
) -> Result<(Ipv4Addr, Ipv4Addr, usize, usize), TunnelError> {
    if b.len() < 20 {
        return Err(TunnelError::Truncated);
    }
    let ihl = (b[0] & 0x0f) as usize * 4;
    // Linux delivers the header as on the wire (unlike BSD raw sockets'
    // host-order length); clamp to what was received all the same.
    let tot = (be16(b, 2) as usize).min(b.len());
    if b[0] >> 4 != 4 || ihl < 20 || tot < ihl || b[9] != proto {
        return Err(TunnelError::BadOuterIp);
    }
    let src = Ipv4Addr::from(be32(b, 12));
    let dst = Ipv4Addr::from(be32(b, 16));
    Ok((src, dst, ihl, tot))
}

// ---------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------

/// Outer addresses and tunnel id of a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelMeta {
    /// Outer IPv4 source (the remote endpoint).
    pub src: Ipv4Addr,
    /// Outer IPv4 destination (our local address it was sent to).
    pub dst: Ipv4Addr,
    /// VNI (VXLAN) or GRE key (0 when absent).
    pub tun_id: u64,
}

impl Default for TunnelMeta {
    fn default() -> Self {
        TunnelMeta {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            tun_id: 0,
        }
    }
}

/// Outer TOS of sent packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tos {
    /// This value for every packet.
    Fixed(u8),
    /// The inner IPv4/IPv6 packet's TOS / traffic class (0 for non-IP).
    Inherit,
}

/// Per-send outer header options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelOptions {
    /// Outer TTL (default 64).
    pub ttl: u8,
    /// Outer TOS (default `Fixed(0)`).
    pub tos: Tos,
    /// Set DF on the outer header (default true, like OVS's `df_default`):
    /// frames too big for the path are refused with
    /// [`SendError::TooBig`] instead of being fragmented.
    pub df: bool,
    /// Send a UDP checksum (VXLAN) or the GRE checksum (default false).
    pub csum: bool,
    /// VXLAN destination UDP port (default 4789; unused for GRE).
    pub dst_port: u16,
}

impl Default for TunnelOptions {
    fn default() -> Self {
        TunnelOptions {
            ttl: 64,
            tos: Tos::Fixed(0),
            df: true,
            csum: false,
            dst_port: VXLAN_PORT,
        }
    }
}

/// Frames and drops counted by an endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelStats {
    /// Frames received and returned to the caller.
    pub rx: u64,
    /// Encapsulated packets the kernel accepted.
    pub tx: u64,
    /// Received packets dropped because their headers did not validate.
    pub rx_malformed: u64,
    /// Sends refused with `EMSGSIZE` (larger than the path MTU with DF).
    pub too_big: u64,
}

/// Why a send failed.
#[derive(Debug)]
pub enum SendError {
    /// The encapsulated packet exceeds the MTU towards `remote` and DF is
    /// set (`EMSGSIZE`); counted in [`TunnelStats::too_big`].
    TooBig,
    /// The frame could not be encapsulated (tunnel id too wide, no room).
    Encap(TunnelError),
    /// An inner GSO super-frame could not be segmented.
    Offload(OffloadError),
    /// Any other socket error (no route, ...).
    Io(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::TooBig => f.write_str("packet exceeds the path MTU (DF set)"),
            SendError::Encap(e) => write!(f, "encapsulation: {e}"),
            SendError::Offload(e) => write!(f, "segmentation: {e}"),
            SendError::Io(e) => write!(f, "send: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Messages per `recvmmsg` call.
const BATCH: usize = 32;

/// Control buffer for one `IP_PKTINFO` message, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn new_socket(ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; the result is checked.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_INET,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            proto,
        )
    })?;
    // SAFETY: `fd` is a new descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&val as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Receive buffer of the tunnel sockets: one socket takes the traffic of
/// every tunnel port of a hub, so the default (about 200 KiB) overflows
/// at a few hundred Mbit/s of TCP bursts.
const TUNNEL_RCVBUF: libc::c_int = 4 << 20;

/// Raises `fd`'s receive buffer to [`TUNNEL_RCVBUF`], beyond `rmem_max`
/// when privileged; best effort.
fn big_rcvbuf(fd: RawFd) {
    if setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, TUNNEL_RCVBUF).is_err() {
        let _ = setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, TUNNEL_RCVBUF);
    }
}

fn sockaddr(addr: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from(addr).to_be();
    sa
}

fn bind(fd: RawFd, addr: Ipv4Addr, port: u16) -> io::Result<()> {
    let sa = sockaddr(addr, port);
    // SAFETY: passes a pointer to a live sockaddr_in and its exact size.
    cvt(unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Makes a raw socket that is only used for sending drop everything it
/// would otherwise receive (a raw `IPPROTO_UDP` socket gets a copy of
/// every UDP datagram in the namespace, which would just fill its buffer).
fn drop_all_input(fd: RawFd) -> io::Result<()> {
    // BPF "ret #0": accept zero bytes of every packet.
    let mut insn = [libc::sock_filter {
        code: 0x06, // BPF_RET | BPF_K
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let prog = libc::sock_fprog {
        len: 1,
        filter: insn.as_mut_ptr(),
    };
    // SAFETY: `prog` points to `insn`, both live for the call; the kernel
    // copies the program.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// The outer IPv4 options (TTL, TOS, DF) last set on a sending socket,
/// so each `setsockopt` happens only when a value changes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IpOptions {
    ttl: Option<u8>,
    tos: Option<u8>,
    df: Option<bool>,
}

impl IpOptions {
    pub(crate) fn apply(&mut self, fd: RawFd, ttl: u8, tos: u8, df: bool) -> io::Result<()> {
        if self.ttl != Some(ttl) {
            setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int)?;
            self.ttl = Some(ttl);
        }
        if self.tos != Some(tos) {
            setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_TOS, tos as libc::c_int)?;
            self.tos = Some(tos);
        }
        if self.df != Some(df) {
            let v = if df {
                libc::IP_PMTUDISC_DO
            } else {
                libc::IP_PMTUDISC_DONT
            };
            setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, v)?;
            self.df = Some(df);
        }
        Ok(())
    }
}

/// The send side shared by both endpoints: a raw socket whose TTL, TOS and
/// DF socket options are changed only when a send needs other values than
/// the previous one (a setsockopt per packet would double the syscalls).
struct RawTx {
    fd: OwnedFd,
    ip_opts: IpOptions,
    /// Inner segments of GSO super-frames, reused between sends.
    segs: Vec<Packet>,
    /// A UDP socket made in the endpoint's namespace, connected to a
    /// remote to read the route's MTU there whichever thread sends.
    mtu_probe: Option<std::net::UdpSocket>,
    /// Underlay MTU per remote, and when it was read.
    mtu_cache: HashMap<Ipv4Addr, (usize, Instant)>,
}

impl RawTx {
    fn new(fd: OwnedFd, local: Option<Ipv4Addr>) -> RawTx {
        let mtu_probe = std::net::UdpSocket::bind((local.unwrap_or(Ipv4Addr::UNSPECIFIED), 0)).ok();
        RawTx {
            fd,
            ip_opts: IpOptions::default(),
            segs: Vec::new(),
            mtu_probe,
            mtu_cache: HashMap::new(),
        }
    }

    /// The underlay MTU towards `remote`: `IP_MTU` of a UDP socket
    /// connected to it (the route's MTU, or a smaller learned path MTU),
    /// cached for [`MTU_CACHE_TTL`]; [`DEFAULT_UNDERLAY_MTU`] when it
    /// cannot be read.
    fn path_mtu(&mut self, remote: Ipv4Addr) -> usize {
        let now = Instant::now();
        if let Some(&(mtu, at)) = self.mtu_cache.get(&remote) {
            if now.duration_since(at) < MTU_CACHE_TTL {
                return mtu;
            }
        }
        let mtu = self
            .mtu_probe
            .as_ref()
            .and_then(|s| {
                // Connecting only resolves the route; no packet is sent.
                s.connect((remote, 9)).ok()?;
                let mut v: libc::c_int = 0;
                let mut l = mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: `v` and `l` are live and sized for an int option.
                let r = unsafe {
                    libc::getsockopt(
                        s.as_raw_fd(),
                        libc::IPPROTO_IP,
                        libc::IP_MTU,
                        (&mut v as *mut libc::c_int).cast(),
                        &mut l,
                    )
                };
                (r == 0 && v > 0).then_some(v as usize)
            })
            .unwrap_or(DEFAULT_UNDERLAY_MTU);
        self.mtu_cache.insert(remote, (mtu, now));
        mtu
    }

    fn apply(&mut self, ttl: u8, tos: u8, df: bool) -> io::Result<()> {
        self.ip_opts.apply(self.fd.as_raw_fd(), ttl, tos, df)
    }

    fn sendto(
        &mut self,
        data: &[u8],
        remote: Ipv4Addr,
        stats: &mut TunnelStats,
    ) -> Result<(), SendError> {
        let sa = sockaddr(remote, 0);
        // SAFETY: `data` and `sa` are live for the call; lengths are exact.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_DONTWAIT,
                (&sa as *const libc::sockaddr_in).cast(),
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EMSGSIZE) {
                stats.too_big += 1;
                // The path MTU may have shrunk: read it again next time.
                self.mtu_cache.remove(&remote);
                return Err(SendError::TooBig);
            }
            return Err(SendError::Io(e));
        }
        stats.tx += 1;
        Ok(())
    }
}

/// The inner IP packet's TOS / traffic class, 0 for non-IP frames.
fn inner_tos(frame: &[u8]) -> u8 {
    match wire::locate(frame) {
        Ok(l) if l.l3_kind == L3::Ipv4 => frame[l.l3 + 1],
        Ok(l) if l.l3_kind == L3::Ipv6 => ((be16(frame, l.l3) >> 4) & 0xff) as u8,
        _ => 0,
    }
}

/// Runs `one` for each wire-sized inner frame of `pkt`: GSO super-frames
/// are segmented first and partial checksums completed, because a tunnel
/// carries no offload metadata and the far end must get complete frames.
/// `one` encapsulates, sends and strips the outer header again, so `pkt`
/// ends up holding its (checksum-completed) inner frame.
///
/// Because the segmentation happens here, a TCP super-frame is cut into
/// segments small enough that each encapsulated one (`outer_overhead`
/// bytes of outer headers in front) fits the underlay MTU towards
/// `remote` ([`clamp_gso_size`]); TCP accepts segments below its MSS.
/// With DF, a plain TCP frame too big for the underlay is split the same
/// way. Other frames are sent as they are, and refused (counted in
/// [`TunnelStats::too_big`]) when too big with DF.
fn for_each_segment(
    tx: &mut RawTx,
    pkt: &mut Packet,
    remote: Ipv4Addr,
    outer_overhead: usize,
    df: bool,
    mut one: impl FnMut(&mut RawTx, &mut Packet) -> Result<(), SendError>,
) -> Result<(), SendError> {
    let saved = pkt.vnet;
    let ty = saved.gso_type & !VnetHdr::GSO_ECN;
    if pkt.vnet.is_gso() {
        if ty == VnetHdr::GSO_TCPV4 || ty == VnetHdr::GSO_TCPV6 {
            if let Some((hl, _)) = tcp_headers(pkt.data()) {
                let mtu = tx.path_mtu(remote);
                pkt.vnet.gso_size = clamp_gso_size(saved.gso_size, mtu, outer_overhead, hl);
            }
        }
    } else if df {
        // A single TCP segment too big for the underlay (a retransmission,
        // the tail of a burst) is split like a super-frame would be,
        // rather than refused: TCP takes the smaller segments.
        if let Some((hl, l3)) = tcp_headers(pkt.data()) {
            let len = pkt.len();
            let mtu = tx.path_mtu(remote);
            let mss = clamp_gso_size(u16::MAX, mtu, outer_overhead, hl);
            if len + outer_overhead > mtu && usize::from(mss) < len - hl {
                pkt.vnet.gso_type = if l3 == L3::Ipv4 {
                    VnetHdr::GSO_TCPV4
                } else {
                    VnetHdr::GSO_TCPV6
                };
                pkt.vnet.gso_size = mss;
            }
        }
    }
    if pkt.vnet.is_gso() {
        let mut segs = mem::take(&mut tx.segs);
        let r = (|| {
            let n = segment_gso(pkt, &mut segs).map_err(SendError::Offload)?;
            for s in &mut segs[..n] {
                one(tx, s)?;
            }
            Ok(())
        })();
        tx.segs = segs;
        pkt.vnet = saved;
        r
    } else {
        complete_checksum(pkt);
        one(tx, pkt)
    }
}

/// A VXLAN endpoint: a UDP socket on the VXLAN port for receiving (the
/// kernel then checks UDP length and checksum) and a raw `IPPROTO_UDP`
/// socket for sending.
///
/// Sending on a raw socket (without `IP_HDRINCL`) means we write the UDP
/// header ourselves, so the source port can vary per inner flow
/// ([`udp_source_port`]), while the outer IPv4 header is left to the
/// kernel: it routes, picks the source address and next hop, and applies
/// TTL/TOS/DF from socket options. That is why this works over whatever
/// underlay the namespace routes to.
pub struct VxlanEndpoint {
    rx: OwnedFd,
    tx: RawTx,
    local: Option<Ipv4Addr>,
    dst_port: u16,
    stats: TunnelStats,
    /// Route-chosen source address per remote, for UDP checksums when not
    /// bound to a local address.
    src_cache: HashMap<Ipv4Addr, Ipv4Addr>,
    /// A UDP socket made in the endpoint's namespace at bind time, so that
    /// route lookups ask that namespace whichever thread sends.
    probe: std::net::UdpSocket,
    /// Sends the segments of a TCP super-frame in one call (UDP GSO); the
    /// raw socket remains for everything else and as the fallback.
    gso: Option<crate::tunnel_gso::UdpGsoSender>,
}

impl VxlanEndpoint {
    /// Opens the endpoint: receives on `local` (any address when `None`)
    /// UDP port `dst_port`, sends from `local` (route-chosen when `None`).
    pub fn bind(local: Option<Ipv4Addr>, dst_port: u16) -> io::Result<VxlanEndpoint> {
        let rx = new_socket(libc::SOCK_DGRAM, libc::IPPROTO_UDP)?;
        bind(
            rx.as_raw_fd(),
            local.unwrap_or(Ipv4Addr::UNSPECIFIED),
            dst_port,
        )?;
        setsockopt_int(rx.as_raw_fd(), libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
        big_rcvbuf(rx.as_raw_fd());
        let txfd = new_socket(libc::SOCK_RAW, libc::IPPROTO_UDP)?;
        drop_all_input(txfd.as_raw_fd())?;
        if let Some(l) = local {
            // Binding a raw socket fixes the outer source address.
            bind(txfd.as_raw_fd(), l, 0)?;
        }
        let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        let gso = if std::env::var("RSWITCH_VXLAN_GSO").map_or(true, |v| v != "0") {
            crate::tunnel_gso::UdpGsoSender::open(local).ok()
        } else {
            None
        };
        Ok(VxlanEndpoint {
            probe,
            gso,
            rx,
            tx: RawTx::new(txfd, local),
            local,
            dst_port,
            stats: TunnelStats::default(),
            src_cache: HashMap::new(),
        })
    }

    /// A second endpoint for sending only, with its own sockets (made in
    /// the calling thread's namespace, which must be this endpoint's), so
    /// another thread can send without sharing this one. Its receive
    /// descriptor is a duplicate of this one's and is never read.
    pub fn send_only(&self) -> io::Result<VxlanEndpoint> {
        let txfd = new_socket(libc::SOCK_RAW, libc::IPPROTO_UDP)?;
        drop_all_input(txfd.as_raw_fd())?;
        if let Some(l) = self.local {
            bind(txfd.as_raw_fd(), l, 0)?;
        }
        let gso = match &self.gso {
            Some(_) => crate::tunnel_gso::UdpGsoSender::open(self.local).ok(),
            None => None,
        };
        Ok(VxlanEndpoint {
            probe: std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?,
            gso,
            rx: self.rx.try_clone()?,
            tx: RawTx::new(txfd, self.local),
            local: self.local,
            dst_port: self.dst_port,
            stats: TunnelStats::default(),
            src_cache: HashMap::new(),
        })
    }

    /// The receive descriptor, to poll for readability.
    pub fn raw_fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// The UDP port received on.
    pub fn dst_port(&self) -> u16 {
        self.dst_port
    }

    pub fn stats(&self) -> TunnelStats {
        self.stats
    }

    /// Receives up to `min(pkts.len(), meta.len())` frames: `pkts[i]` holds
    /// the inner Ethernet frame, `meta[i]` where it came from. Malformed
    /// packets are counted and dropped. Non-blocking: `Ok(0)` when nothing
    /// is pending.
    pub fn recv_batch(
        &mut self,
        pkts: &mut [Packet],
        meta: &mut [TunnelMeta],
    ) -> io::Result<usize> {
        let want = pkts.len().min(meta.len()).min(BATCH);
        if want == 0 {
            return Ok(0);
        }
        loop {
            // SAFETY: plain C structs; all-zero is a valid value for each.
            let mut msgs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
            // SAFETY: as above.
            let mut iovs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
            // SAFETY: as above.
            let mut addrs: [libc::sockaddr_in; BATCH] = unsafe { mem::zeroed() };
            let mut cmsgs = [CmsgBuf([0; 64]); BATCH];
            for (i, p) in pkts[..want].iter_mut().enumerate() {
                let area = p.rx_area();
                iovs[i].iov_base = area.as_mut_ptr().cast();
                iovs[i].iov_len = area.len();
                let h = &mut msgs[i].msg_hdr;
                h.msg_iov = &mut iovs[i];
                h.msg_iovlen = 1;
                h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_in).cast();
                h.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                h.msg_control = cmsgs[i].0.as_mut_ptr().cast();
                h.msg_controllen = mem::size_of::<CmsgBuf>() as _;
            }
            // SAFETY: msgs[..want] point to live iovecs, addresses and
            // control buffers of this frame, and the iovecs to the packets'
            // receive areas, all valid for the call's duration.
            let r = unsafe {
                libc::recvmmsg(
                    self.rx.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    want as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                    _ => Err(e),
                };
            }
            let got = r as usize;
            let mut out = 0;
            for i in 0..got {
                let len = msgs[i].msg_len as usize;
                let src = Ipv4Addr::from(u32::from_be(addrs[i].sin_addr.s_addr));
                // SAFETY: the kernel filled msg_hdr's control area (within
                // msg_controllen) for message i.
                let dst = unsafe { pktinfo_dst(&msgs[i].msg_hdr) }
                    .or(self.local)
                    .unwrap_or(Ipv4Addr::UNSPECIFIED);
                let p = &mut pkts[i];
                p.set_len(len);
                match decap_vxlan_header(p.data()) {
                    Ok((vni, range)) => {
                        p.pull_front(range.start);
                        p.vnet = Default::default();
                        pkts.swap(out, i);
                        meta[out] = TunnelMeta {
                            src,
                            dst,
                            tun_id: vni,
                        };
                        out += 1;
                    }
                    Err(_) => self.stats.rx_malformed += 1,
                }
            }
            self.stats.rx += out as u64;
            // Only malformed packets this round: look for more rather than
            // report "nothing pending" while datagrams wait.
            if out > 0 || got == 0 {
                return Ok(out);
            }
        }
    }

    /// Encapsulates `pkt`'s inner frame for `remote` with VNI `tun_id` and
    /// sends it; GSO super-frames are segmented and each segment sent.
    /// `pkt` is left holding the inner frame (checksum completed).
    pub fn send(
        &mut self,
        pkt: &mut Packet,
        remote: Ipv4Addr,
        tun_id: u64,
        opts: &TunnelOptions,
    ) -> Result<(), SendError> {
        if tun_id > 0x00ff_ffff {
            return Err(SendError::Encap(TunnelError::VniTooWide));
        }
        let csum_addrs = if opts.csum {
            let src = match self.local {
                Some(l) => l,
                None => self
                    .route_source(remote, opts.dst_port)
                    .map_err(SendError::Io)?,
            };
            Some((src, remote))
        } else {
            None
        };
        if pkt.vnet.is_gso() {
            if let Some(r) = self.send_gso(pkt, remote, tun_id, opts) {
                return r;
            }
        }
        let stats = &mut self.stats;
        let overhead = OUTER_IPV4_LEN + VXLAN_OVERHEAD;
        for_each_segment(&mut self.tx, pkt, remote, overhead, opts.df, |tx, p| {
            let tos = match opts.tos {
                Tos::Fixed(t) => t,
                Tos::Inherit => inner_tos(p.data()),
            };
            tx.apply(opts.ttl, tos, opts.df).map_err(SendError::Io)?;
            let sport = udp_source_port(p.data());
            encap_vxlan_payload(p, tun_id as u32, sport, opts.dst_port, csum_addrs)
                .map_err(SendError::Encap)?;
            let r = tx.sendto(p.data(), remote, stats);
            p.pull_front(VXLAN_OVERHEAD);
            r
        })
    }

    /// A TCP super-frame through [`crate::tunnel_gso`]: segmented to the
    /// path MTU as [`for_each_segment`] would, then sent in one call per
    /// 64 segments. `None` when that path does not apply (not TCP, no UDP
    /// GSO here), and the caller sends segment by segment.
    fn send_gso(
        &mut self,
        pkt: &mut Packet,
        remote: Ipv4Addr,
        tun_id: u64,
        opts: &TunnelOptions,
    ) -> Option<Result<(), SendError>> {
        let gso = self.gso.as_mut().filter(|g| g.usable())?;
        let saved = pkt.vnet;
        let ty = saved.gso_type & !VnetHdr::GSO_ECN;
        if ty != VnetHdr::GSO_TCPV4 && ty != VnetHdr::GSO_TCPV6 {
            return None;
        }
        let (hl, _) = tcp_headers(pkt.data())?;
        let mtu = self.tx.path_mtu(remote);
        pkt.vnet.gso_size =
            clamp_gso_size(saved.gso_size, mtu, OUTER_IPV4_LEN + VXLAN_OVERHEAD, hl);
        let mut segs = mem::take(&mut self.tx.segs);
        let r = match segment_gso(pkt, &mut segs) {
            Err(e) => Some(Err(SendError::Offload(e))),
            Ok(n) => {
                let tos = match opts.tos {
                    Tos::Fixed(t) => t,
                    Tos::Inherit => segs.first().map_or(0, |s| inner_tos(s.data())),
                };
                match gso.send_segments(
                    &segs[..n],
                    tun_id as u32,
                    remote,
                    opts.dst_port,
                    opts.ttl,
                    tos,
                    opts.df,
                ) {
                    Ok(k) => {
                        self.stats.tx += k as u64;
                        Some(Ok(()))
                    }
                    Err(crate::tunnel_gso::GsoError::Unsupported) => None,
                    Err(crate::tunnel_gso::GsoError::TooBig) => {
                        self.stats.too_big += 1;
                        self.tx.mtu_cache.remove(&remote);
                        Some(Err(SendError::TooBig))
                    }
                    Err(crate::tunnel_gso::GsoError::Io(e)) => Some(Err(SendError::Io(e))),
                }
            }
        };
        self.tx.segs = segs;
        pkt.vnet = saved;
        r
    }

    /// The source address the kernel would use towards `remote` (needed
    /// for the UDP pseudo header when not bound): a connected UDP socket's
    /// local address, cached per remote.
    fn route_source(&mut self, remote: Ipv4Addr, port: u16) -> io::Result<Ipv4Addr> {
        if let Some(s) = self.src_cache.get(&remote) {
            return Ok(*s);
        }
        // Connecting a UDP socket only resolves the route (no packet is
        // sent); re-connecting to another remote is allowed.
        self.probe.connect((remote, port))?;
        let src = match self.probe.local_addr()?.ip() {
            std::net::IpAddr::V4(a) => a,
            std::net::IpAddr::V6(_) => return Err(io::ErrorKind::AddrNotAvailable.into()),
        };
        self.src_cache.insert(remote, src);
        Ok(src)
    }
}

/// The `IP_PKTINFO` header destination address of a received message.
///
/// # Safety
/// `h` must come from a successful `recvmsg`/`recvmmsg`, its control
/// pointer and length describing a live buffer the kernel filled.
unsafe fn pktinfo_dst(h: &libc::msghdr) -> Option<Ipv4Addr> {
    // SAFETY: per the function's contract the CMSG_* walk stays within
    // the filled control buffer.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::IPPROTO_IP && (*c).cmsg_type == libc::IP_PKTINFO {
                let pi: libc::in_pktinfo = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some(Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr)));
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

/// A GRE endpoint: one raw `IPPROTO_GRE` socket for both directions. On
/// receive the kernel hands over the outer IPv4 header too (raw sockets
/// always do), which gives the outer addresses; on send the kernel builds
/// it (see [`VxlanEndpoint`] for why).
///
/// The key carries the tunnel id: it is sent (K bit) when `tun_id` is
/// non-zero, as Linux's `ip_gre` without a key sends none, and a packet
/// without a key is received as tunnel id 0.
pub struct GreEndpoint {
    sock: RawTx,
    local: Option<Ipv4Addr>,
    stats: TunnelStats,
}

impl GreEndpoint {
    /// Opens the endpoint; with `local`, only GRE sent to that address is
    /// received and it is the outer source of sends.
    pub fn open(local: Option<Ipv4Addr>) -> io::Result<GreEndpoint> {
        let fd = new_socket(libc::SOCK_RAW, libc::IPPROTO_GRE)?;
        big_rcvbuf(fd.as_raw_fd());
        if let Some(l) = local {
            bind(fd.as_raw_fd(), l, 0)?;
        }
        Ok(GreEndpoint {
            sock: RawTx::new(fd, local),
            local,
            stats: TunnelStats::default(),
        })
    }

    /// A second endpoint for sending only (see
    /// [`VxlanEndpoint::send_only`]): its own raw GRE socket, which drops
    /// everything it would receive.
    pub fn send_only(&self) -> io::Result<GreEndpoint> {
        let fd = new_socket(libc::SOCK_RAW, libc::IPPROTO_GRE)?;
        drop_all_input(fd.as_raw_fd())?;
        if let Some(l) = self.local {
            bind(fd.as_raw_fd(), l, 0)?;
        }
        Ok(GreEndpoint {
            sock: RawTx::new(fd, self.local),
            local: self.local,
            stats: TunnelStats::default(),
        })
    }

    /// The descriptor, to poll for readability.
    pub fn raw_fd(&self) -> RawFd {
        self.sock.fd.as_raw_fd()
    }

    pub fn local(&self) -> Option<Ipv4Addr> {
        self.local
    }

    pub fn stats(&self) -> TunnelStats {
        self.stats
    }

    /// As [`VxlanEndpoint::recv_batch`].
    pub fn recv_batch(
        &mut self,
        pkts: &mut [Packet],
        meta: &mut [TunnelMeta],
    ) -> io::Result<usize> {
        let want = pkts.len().min(meta.len()).min(BATCH);
        if want == 0 {
            return Ok(0);
        }
        loop {
            // SAFETY: plain C structs; all-zero is a valid value for each.
            let mut msgs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
            // SAFETY: as above.
            let mut iovs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
            for (i, p) in pkts[..want].iter_mut().enumerate() {
                let area = p.rx_area();
                iovs[i].iov_base = area.as_mut_ptr().cast();
                iovs[i].iov_len = area.len();
                msgs[i].msg_hdr.msg_iov = &mut iovs[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: msgs[..want] point to live iovecs, which point to the
            // packets' receive areas, valid for the call's duration.
            let r = unsafe {
                libc::recvmmsg(
                    self.raw_fd(),
                    msgs.as_mut_ptr(),
                    want as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                    _ => Err(e),
                };
            }
            let got = r as usize;
            let mut out = 0;
            for i in 0..got {
                let p = &mut pkts[i];
                p.set_len(msgs[i].msg_len as usize);
                let parsed =
                    parse_outer_ipv4(p.data(), ip_proto::GRE).and_then(|(s, d, ihl, end)| {
                        let (key, r) = decap_gre(&p.data()[ihl..end])?;
                        Ok((s, d, key, ihl + r.start, ihl + r.end))
                    });
                match parsed {
                    Ok((src, dst, key, start, end)) => {
                        p.set_len(end);
                        p.pull_front(start);
                        p.vnet = Default::default();
                        pkts.swap(out, i);
                        meta[out] = TunnelMeta {
                            src,
                            dst,
                            tun_id: key,
                        };
                        out += 1;
                    }
                    Err(_) => self.stats.rx_malformed += 1,
                }
            }
            self.stats.rx += out as u64;
            if out > 0 || got == 0 {
                return Ok(out);
            }
        }
    }

    /// Encapsulates `pkt`'s inner frame in GRE (key = `tun_id` when
    /// non-zero, checksum per `opts.csum`) and sends it to `remote`; GSO
    /// super-frames are segmented first. `pkt` is left holding the inner
    /// frame (checksum completed).
    pub fn send(
        &mut self,
        pkt: &mut Packet,
        remote: Ipv4Addr,
        tun_id: u64,
        opts: &TunnelOptions,
    ) -> Result<(), SendError> {
        let key = u32::try_from(tun_id).map_err(|_| SendError::Encap(TunnelError::KeyTooWide))?;
        let key = (key != 0).then_some(key);
        let stats = &mut self.stats;
        let overhead = OUTER_IPV4_LEN + gre_overhead(key.is_some(), opts.csum);
        for_each_segment(&mut self.sock, pkt, remote, overhead, opts.df, |tx, p| {
            let tos = match opts.tos {
                Tos::Fixed(t) => t,
                Tos::Inherit => inner_tos(p.data()),
            };
            tx.apply(opts.ttl, tos, opts.df).map_err(SendError::Io)?;
            let before = p.len();
            encap_gre_payload(p, key, opts.csum).map_err(SendError::Encap)?;
            let r = tx.sendto(p.data(), remote, stats);
            p.pull_front(p.len() - before);
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::put16;

    #[test]
    fn checksum_helpers_agree() {
        // A UDP checksum filled by encap verifies through decap_checked.
        let mut p = Packet::from_frame(&[0x11; 60]);
        let a = (Ipv4Addr::new(198, 19, 0, 1), Ipv4Addr::new(198, 19, 0, 2));
        encap_vxlan_payload(&mut p, 7, 40000, 4789, Some(a)).unwrap();
        assert_ne!(be16(p.data(), 6), 0);
        let (vni, r) = decap_checked(TunnelKind::Vxlan, p.data(), Some(a)).unwrap();
        assert_eq!(vni, 7);
        assert_eq!(&p.data()[r], &[0x11; 60][..]);
        let mut d = p.data().to_vec();
        put16(&mut d, 6, 0x1234);
        assert_eq!(
            decap_checked(TunnelKind::Vxlan, &d, Some(a)),
            Err(TunnelError::BadUdpChecksum)
        );
    }

    #[test]
    fn gso_size_is_clamped_to_the_underlay() {
        // VLAN-tagged IPv4/TCP with timestamps: 14 + 4 + 20 + 32 = 70
        // header bytes; VXLAN outer: 20 + 8 + 8 = 36. Over 1500, a segment
        // may carry 1500 - 36 - 70 = 1394 bytes, not the tenant's MSS 1398.
        let vx = OUTER_IPV4_LEN + VXLAN_OVERHEAD;
        assert_eq!(vx, 36);
        assert_eq!(clamp_gso_size(1398, 1500, vx, 70), 1394);
        assert_eq!(1394 + 70 + vx, 1500);
        // Already small enough: unchanged.
        assert_eq!(clamp_gso_size(1000, 1500, vx, 70), 1000);
        assert_eq!(clamp_gso_size(1394, 1500, vx, 70), 1394);
        // GRE with a key: 20 + 8; without key 20 + 4; key and csum 20 + 12.
        assert_eq!(gre_overhead(true, false), 8);
        assert_eq!(gre_overhead(false, false), 4);
        assert_eq!(gre_overhead(true, true), 12);
        let gre = OUTER_IPV4_LEN + gre_overhead(true, false);
        assert_eq!(clamp_gso_size(1410, 1500, gre, 70), 1402);
        // Jumbo underlay: no clamp.
        assert_eq!(clamp_gso_size(1398, 9000, vx, 70), 1398);
        // Nothing fits: left alone (segments then count as too big).
        assert_eq!(clamp_gso_size(1398, 100, vx, 70), 1398);
        assert_eq!(clamp_gso_size(1398, 106, vx, 70), 1398);
        assert_eq!(clamp_gso_size(1398, 107, vx, 70), 1);
    }

    #[test]
    fn tcp_header_length_from_the_frame() {
        // Ethernet + 802.1Q + IPv4 (20) + TCP with data offset 8 (32).
        let mut f = vec![0u8; 14 + 4 + 20 + 32 + 10];
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        f[14..16].copy_from_slice(&[0x00, 0x64]);
        f[16..18].copy_from_slice(&[0x08, 0x00]);
        let ip = 18;
        f[ip] = 0x45;
        put16(&mut f, ip + 2, (20 + 32 + 10) as u16);
        f[ip + 8] = 64;
        f[ip + 9] = ip_proto::TCP;
        f[ip + 20 + 12] = 8 << 4;
        assert_eq!(tcp_headers(&f), Some((70, L3::Ipv4)));
        f[ip + 9] = ip_proto::UDP;
        assert_eq!(tcp_headers(&f), None);
    }
}
