//! Shared helpers for datapath integration tests: the `require_root!`
//! convention, network-namespace guards, `ip` runners, a plain AF_PACKET
//! socket for the far side of a link, and small frame builders.
//!
//! Network safety: everything a test creates lives in namespaces it made
//! itself (named `rswt<pid>n<counter>`); links are created directly inside
//! them (`ip -n NS link add ... peer ... netns NS2`), so nothing ever
//! appears in the root namespace; addresses come from 198.18.0.0/15. The
//! guards delete the namespaces on drop (also when a test panics), which
//! destroys every link in them.

#![allow(dead_code)] // each test crate uses a different subset

use std::io::Write as _;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use datapath::packet::{Packet, VnetHdr};
use datapath::port::PortIo;

/// True when running as root (the privileged tests need CAP_NET_ADMIN and
/// CAP_SYS_ADMIN for namespaces; we simply require uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Writes straight to stderr, bypassing libtest's output capture, so a
/// skip is visible in a normal `cargo test` run.
pub fn say(msg: &str) {
    let _ = std::io::stderr().write_all(msg.as_bytes());
}

/// The current test's name (libtest names test threads after them).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// First line of every privileged test: when not root, prints
/// `SKIPPED (needs root): <test>` to the real stderr and returns.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            $crate::common::say(&format!(
                "SKIPPED (needs root): {} (run as root; CI does)\n",
                $crate::common::test_name()
            ));
            return;
        }
    };
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static SWEEP: Once = Once::new();
const NS_PREFIX: &str = "rswt";

/// Runs `ip ARGS`; panics with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    try_ip(args).unwrap_or_else(|e| panic!("ip {}: {e}", args.join(" ")))
}

/// Runs `ip ARGS`; the error is its stderr.
pub fn try_ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deletes namespaces left behind by test processes that died without
/// unwinding (SIGKILL, abort): ours by prefix, whose pid no longer exists.
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for ent in dir.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('n') else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = try_ip(&["netns", "del", &name]);
        }
    }
}

/// A network namespace that is deleted when the guard drops.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        SWEEP.call_once(sweep_stale);
        let name = format!(
            "{NS_PREFIX}{}n{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Runs `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        ip(&a)
    }

    /// Runs `ip -n NAME ARGS`, returning its error instead of panicking.
    pub fn try_ip(&self, args: &[&str]) -> Result<String, String> {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        try_ip(&a)
    }

    /// Runs `f` on a thread that has entered this namespace (sockets and
    /// ports it opens stay in the namespace, usable from any thread).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = self.path();
        std::thread::scope(|s| {
            s.spawn(move || {
                enter_netns(&path);
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Like [`Netns::run`] in the background; join the handle before the
    /// guard drops.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = self.path();
        std::thread::spawn(move || {
            enter_netns(&path);
            f()
        })
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = try_ip(&["netns", "del", &self.name]) {
            say(&format!(
                "warning: cannot delete netns {}: {e}\n",
                self.name
            ));
        }
    }
}

/// Moves the calling thread into the namespace bound at `path`.
fn enter_netns(path: &str) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: setns on a valid namespace fd; it only changes this thread's
    // network namespace (other threads are unaffected).
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
}

pub const PORT_IF: &str = "rp0";
pub const PEER_IF: &str = "rq0";
pub const PORT_IP: [u8; 4] = [198, 18, 0, 1];
pub const PEER_IP: [u8; 4] = [198, 18, 0, 2];
/// The MAC the tests' switch side uses as its own (locally administered).
pub const OUR_MAC: [u8; 6] = [0x02, 0x52, 0x53, 0x00, 0x00, 0x01];

/// Two namespaces joined by a veth: `rp0` in `port_ns` (where the switch's
/// port is opened; up, no address unless asked) and `rq0` in `peer_ns`
/// (198.18.0.2/24, up).
pub struct Lab {
    pub port_ns: Netns,
    pub peer_ns: Netns,
}

impl Lab {
    pub fn new(port_side_addr: bool) -> Lab {
        let port_ns = Netns::new();
        let peer_ns = Netns::new();
        port_ns.ip(&[
            "link",
            "add",
            PORT_IF,
            "type",
            "veth",
            "peer",
            "name",
            PEER_IF,
            "netns",
            &peer_ns.name,
        ]);
        port_ns.ip(&["link", "set", PORT_IF, "up"]);
        if port_side_addr {
            port_ns.ip(&["addr", "add", "198.18.0.1/24", "dev", PORT_IF]);
        }
        peer_ns.ip(&["addr", "add", "198.18.0.2/24", "dev", PEER_IF]);
        peer_ns.ip(&["link", "set", PEER_IF, "up"]);
        Lab { port_ns, peer_ns }
    }
}

/// Waits until `fd` is readable or `timeout` passes.
pub fn wait_readable(fd: RawFd, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd for the call's duration.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    r > 0
}

/// A received frame, copied out of a [`Packet`].
#[derive(Clone, Debug)]
pub struct Rx {
    pub data: Vec<u8>,
    pub vnet: VnetHdr,
}

/// Receives from `port` (polling its fd) until `pred` accepts a frame or
/// `timeout` passes. Every frame seen is passed to `pred`, in order.
pub fn port_recv_until(
    port: &mut dyn PortIo,
    timeout: Duration,
    mut pred: impl FnMut(&Rx) -> bool,
) -> Option<Rx> {
    let mut pkts: Vec<Packet> = (0..8).map(|_| Packet::new()).collect();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(fd) = port.raw_fd() {
            wait_readable(
                fd,
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100)),
            );
        }
        let n = port.recv_batch(&mut pkts).expect("recv_batch");
        for p in &pkts[..n] {
            let rx = Rx {
                data: p.data().to_vec(),
                vnet: p.vnet,
            };
            if pred(&rx) {
                return Some(rx);
            }
        }
    }
    None
}

/// Everything `port` receives during `dur`.
pub fn port_recv_for(port: &mut dyn PortIo, dur: Duration) -> Vec<Rx> {
    let mut all = Vec::new();
    port_recv_until(port, dur, |rx| {
        all.push(rx.clone());
        false
    });
    all
}

/// Sends one frame (with an optional virtio-net header) through `port`.
pub fn port_send(port: &mut dyn PortIo, frame: &[u8], vnet: VnetHdr) {
    let mut p = Packet::from_frame(frame);
    p.vnet = vnet;
    let n = port
        .send_batch(std::slice::from_mut(&mut p))
        .expect("send_batch");
    assert_eq!(n, 1, "frame not accepted");
}

/// A plain AF_PACKET socket on one interface of the current namespace, for
/// the far side of a link (independent of the code under test).
pub struct RawSock {
    fd: OwnedFd,
    vnet: bool,
}

impl RawSock {
    /// Opens and binds to `ifname`; with `vnet`, frames carry a
    /// virtio-net header (PACKET_VNET_HDR).
    pub fn open(ifname: &str, vnet: bool) -> RawSock {
        // SAFETY: socket() takes no pointers; checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: `raw` is new and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if vnet {
            let one: libc::c_int = 1;
            // SAFETY: pointer to a live c_int with its size.
            let r = unsafe {
                libc::setsockopt(
                    raw,
                    libc::SOL_PACKET,
                    libc::PACKET_VNET_HDR,
                    (&one as *const libc::c_int).cast(),
                    4,
                )
            };
            assert_eq!(r, 0, "PACKET_VNET_HDR: {}", std::io::Error::last_os_error());
        }
        let idx = datapath::port::netdev::ifindex(ifname).expect("ifindex");
        // SAFETY: sockaddr_ll is plain old data.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = idx as i32;
        // SAFETY: pointer to a live sockaddr_ll with its size.
        let r = unsafe {
            libc::bind(
                raw,
                (&sll as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        RawSock { fd, vnet }
    }

    pub fn send(&self, frame: &[u8]) {
        self.send_vnet(VnetHdr::default(), frame)
    }

    pub fn send_vnet(&self, vnet: VnetHdr, frame: &[u8]) {
        let mut buf = Vec::new();
        if self.vnet {
            let mut h = [0u8; VnetHdr::LEN];
            vnet.emit(&mut h);
            buf.extend_from_slice(&h);
        }
        buf.extend_from_slice(frame);
        // SAFETY: pointer/length of a live buffer.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) };
        assert_eq!(
            r,
            buf.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Receives (skipping our own outgoing frames) until `pred` accepts a
    /// frame or `timeout` passes.
    pub fn recv_until(&self, timeout: Duration, mut pred: impl FnMut(&Rx) -> bool) -> Option<Rx> {
        let mut buf = vec![0u8; 70_000];
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            wait_readable(
                self.fd.as_raw_fd(),
                deadline.saturating_duration_since(Instant::now()),
            );
            // SAFETY: sockaddr_ll is plain old data.
            let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
            let mut len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: buffer and address pointers/lengths are live and exact.
            let r = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if r < 0 || sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let r = r as usize;
            let rx = if self.vnet {
                Rx {
                    vnet: VnetHdr::parse(&buf[..r]).unwrap(),
                    data: buf[VnetHdr::LEN..r].to_vec(),
                }
            } else {
                Rx {
                    vnet: VnetHdr::default(),
                    data: buf[..r].to_vec(),
                }
            };
            if pred(&rx) {
                return Some(rx);
            }
        }
        None
    }
}

// ---- frame builders and parsers (just enough for the tests) ----

pub const ETH_ARP: u16 = 0x0806;
pub const ETH_IPV4: u16 = 0x0800;
/// IEEE 802 "local experimental" EtherType: nothing in the kernel reacts.
pub const ETH_EXPERIMENTAL: u16 = 0x88b5;

pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

pub fn ethertype(f: &[u8]) -> u16 {
    if f.len() < 14 {
        return 0;
    }
    u16::from_be_bytes([f[12], f[13]])
}

pub fn src_mac(f: &[u8]) -> [u8; 6] {
    f[6..12].try_into().unwrap()
}

/// Is `f` an ARP request asking for `ip`? Returns the asker's MAC and IP.
pub fn arp_request_for(f: &[u8], ip: [u8; 4]) -> Option<([u8; 6], [u8; 4])> {
    if ethertype(f) != ETH_ARP || f.len() < 42 || f[20..22] != [0, 1] || f[38..42] != ip {
        return None;
    }
    Some((f[22..28].try_into().unwrap(), f[28..32].try_into().unwrap()))
}

/// An ARP reply "`our_ip` is at `our_mac`" to (`to_mac`, `to_ip`).
pub fn arp_reply(our_mac: [u8; 6], our_ip: [u8; 4], to_mac: [u8; 6], to_ip: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 2];
    a.extend_from_slice(&our_mac);
    a.extend_from_slice(&our_ip);
    a.extend_from_slice(&to_mac);
    a.extend_from_slice(&to_ip);
    eth(to_mac, our_mac, ETH_ARP, &a)
}

/// The Internet checksum of `data`.
pub fn csum(data: &[u8]) -> u16 {
    !fold(sum16(data))
}

fn sum16(data: &[u8]) -> u32 {
    let mut s = 0u32;
    for c in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    s
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An IPv4 header (no options) for `payload_len` bytes of `proto`.
pub fn ipv4_header(src: [u8; 4], dst: [u8; 4], proto: u8, payload_len: usize) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = csum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// An Ethernet/IPv4/ICMP echo request (`reply`: echo reply).
pub fn icmp_echo(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    seq: u16,
    reply: bool,
) -> Vec<u8> {
    let mut icmp = vec![if reply { 0 } else { 8 }, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"rswitch-test-payload");
    let c = csum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut ip = ipv4_header(src, dst, 1, icmp.len());
    ip.extend_from_slice(&icmp);
    eth(dst_mac, src_mac, ETH_IPV4, &ip)
}

/// Is `f` an ICMP echo (reply if `reply`) with this id and sequence?
pub fn is_icmp_echo(f: &[u8], id: u16, seq: u16, reply: bool) -> bool {
    if ethertype(f) != ETH_IPV4 || f.len() < 14 + 20 + 8 || f[23] != 1 {
        return false;
    }
    let ihl = usize::from(f[14] & 0xf) * 4;
    let icmp = &f[14 + ihl..];
    icmp.len() >= 8
        && icmp[0] == if reply { 0 } else { 8 }
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

/// An Ethernet/IPv4/UDP frame (UDP checksum 0: "none", legal for IPv4).
pub fn udp_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    payload: &[u8],
) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&src.1.to_be_bytes());
    udp.extend_from_slice(&dst.1.to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut ip = ipv4_header(src.0, dst.0, 17, udp.len());
    ip.extend_from_slice(&udp);
    eth(dst_mac, src_mac, ETH_IPV4, &ip)
}

/// A TCP/IPv4 GSO super-frame: `segs` segments of `mss` bytes each, with
/// the virtio-net header asking the kernel (or whoever) to segment it and
/// fill in the checksum (TCP checksum field = pseudo-header sum, as for
/// CHECKSUM_PARTIAL).
pub fn tcp4_gso_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    mss: u16,
    segs: usize,
) -> (Vec<u8>, VnetHdr) {
    let payload: Vec<u8> = (0..usize::from(mss) * segs)
        .map(|i| (i % 251) as u8)
        .collect();
    let tcp_len = 20 + payload.len();
    let mut tcp = Vec::with_capacity(tcp_len);
    tcp.extend_from_slice(&src.1.to_be_bytes());
    tcp.extend_from_slice(&dst.1.to_be_bytes());
    tcp.extend_from_slice(&1000u32.to_be_bytes()); // seq
    tcp.extend_from_slice(&0u32.to_be_bytes()); // ack
    tcp.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]); // PSH|ACK
    tcp.extend_from_slice(&payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src.0);
    pseudo.extend_from_slice(&dst.0);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
    let partial = fold(sum16(&pseudo));
    tcp[16..18].copy_from_slice(&partial.to_be_bytes());
    let mut ip = ipv4_header(src.0, dst.0, 6, tcp.len());
    ip.extend_from_slice(&tcp);
    let vnet = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        gso_type: VnetHdr::GSO_TCPV4,
        hdr_len: 14 + 20 + 20,
        gso_size: mss,
        csum_start: 14 + 20,
        csum_offset: 16,
    };
    (eth(dst_mac, src_mac, ETH_IPV4, &ip), vnet)
}
