//! Software offloads for ports without virtio-net headers: finishing a
//! partial checksum (NEEDS_CSUM) and splitting GSO super-frames into
//! wire-sized frames, as the Linux stack would have had the device do.
//!
//! Segmentation follows Linux's GSO: TCP (`TCPV4`/`TCPV6`) segments get
//! consecutive sequence numbers, IPv4 ids counting up from the
//! super-frame's, FIN/PSH only on the last segment and CWR only on the
//! first. `UDP` (3, UFO) becomes IP fragments of one datagram (checksum
//! computed over the whole datagram first); `UDP_L4` (5, USO) becomes
//! separate datagrams of `gso_size` payload bytes each. Every output
//! carries complete checksums and no offload flags.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::packet::{Packet, VnetHdr, MAX_FRAME};
use crate::wire::checksum::{self, IpPair};
use crate::wire::{self, be16, ip_proto, ipv4, ipv6, put16, put32, tcp, udp, L3};

/// Linux's `VIRTIO_NET_HDR_GSO_UDP_L4`: UDP segmentation (not in
/// [`VnetHdr`]'s constants, which predate it).
pub const GSO_UDP_L4: u8 = 5;

/// Why a super-frame could not be segmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffloadError {
    /// `gso_size` is zero (or, for UFO, smaller than one 8-byte unit).
    BadGsoSize,
    /// The headers do not fit the GSO type (wrong IP version or protocol,
    /// a fragment, or a truncated header).
    Malformed,
    /// A GSO type this code does not segment, or an IPv6 UFO datagram with
    /// extension headers.
    Unsupported(u8),
}

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffloadError::BadGsoSize => f.write_str("bad GSO size"),
            OffloadError::Malformed => f.write_str("headers do not match the GSO type"),
            OffloadError::Unsupported(t) => write!(f, "unsupported GSO type {t}"),
        }
    }
}

impl std::error::Error for OffloadError {}

/// Fills in the L4 checksum of a NEEDS_CSUM frame: the one's-complement
/// sum from `csum_start` to the end of the IP packet (the field already
/// holds the pseudo-header sum), stored at `csum_start + csum_offset`, as
/// Linux's `skb_checksum_help` does. Clears NEEDS_CSUM. Offsets pointing
/// outside the frame leave the bytes as they are (the receiver will then
/// see a bad checksum, as with a buggy device).
pub fn complete_checksum(pkt: &mut Packet) {
    if !pkt.vnet.needs_csum() {
        return;
    }
    pkt.vnet.flags &= !VnetHdr::F_NEEDS_CSUM;
    let start = pkt.vnet.csum_start as usize;
    let at = start + pkt.vnet.csum_offset as usize;
    let d = pkt.data_mut();
    // Link-layer padding after the IP packet is not part of the sum.
    let end = match wire::locate(d) {
        Ok(l) if l.l3_kind == L3::Ipv4 || l.l3_kind == L3::Ipv6 => l.l3_end,
        _ => d.len(),
    };
    if start > end || at + 2 > end {
        return;
    }
    let c = !checksum::fold(checksum::add(0, &d[start..end]));
    // A computed zero goes out as 0xffff (UDP reads zero as "none").
    put16(d, at, if c == 0 { 0xffff } else { c });
}

/// Finishes an inner TCP/UDP checksum that a tunnel peer left partial.
///
/// A Linux sender whose offloads are on may encapsulate a frame whose L4
/// checksum field still holds only the pseudo-header sum (CHECKSUM_PARTIAL):
/// the kernel on the other end would finish it, but a frame read from a UDP
/// or raw socket has lost that mark. A field that already verifies is left
/// alone; one that holds exactly the pseudo-header sum is completed; any
/// other value is a real error and is left for the receiver to reject.
/// Returns whether the frame was completed.
pub fn finish_partial_checksum(pkt: &mut Packet) -> bool {
    let d = pkt.data();
    let Ok(l) = wire::locate(d) else { return false };
    let Some(l4) = l.l4 else { return false };
    let field = match l.proto {
        6 => 16,
        17 => 6,
        _ => return false,
    };
    let end = l.l3_end;
    if l4 + field + 2 > end || l.frag != 0 {
        return false;
    }
    let seg = &d[l4..end];
    let pair = match l.l3_kind {
        L3::Ipv4 => checksum::IpPair::V4 {
            src: d[l.l3 + 12..l.l3 + 16].try_into().expect("4 bytes"),
            dst: d[l.l3 + 16..l.l3 + 20].try_into().expect("4 bytes"),
        },
        L3::Ipv6 => checksum::IpPair::V6 {
            src: d[l.l3 + 8..l.l3 + 24].try_into().expect("16 bytes"),
            dst: d[l.l3 + 24..l.l3 + 40].try_into().expect("16 bytes"),
        },
        _ => return false,
    };
    let stored = u16::from_be_bytes([seg[field], seg[field + 1]]);
    if l.proto == 17 && stored == 0 && l.l3_kind == L3::Ipv4 {
        return false; // no UDP checksum at all
    }
    let pseudo = pair.pseudo_sum(l.proto, seg.len() as u32);
    if checksum::fold(checksum::add(pseudo, seg)) == 0xffff {
        return false; // already complete and correct
    }
    if stored != checksum::fold(pseudo) {
        return false; // wrong, not partial: leave it to be rejected
    }
    pkt.vnet.flags |= VnetHdr::F_NEEDS_CSUM;
    pkt.vnet.csum_start = l4 as u16;
    pkt.vnet.csum_offset = field as u16;
    complete_checksum(pkt);
    true
}

/// Splits GSO super-frame `pkt` into frames in `out[..n]`, returning `n`.
/// Buffers already in `out` are reused (no allocation when `out` holds at
/// least `n` packets); packets past `n` are left as they were. A frame
/// that is not GSO is copied to `out[0]` with its checksum completed.
pub fn segment_gso(pkt: &Packet, out: &mut Vec<Packet>) -> Result<usize, OffloadError> {
    let v = pkt.vnet;
    let ty = v.gso_type & !VnetHdr::GSO_ECN;
    if ty == VnetHdr::GSO_NONE {
        let o = slot(out, 0);
        o.set_frame(pkt.data());
        o.vnet = v;
        complete_checksum(o);
        o.vnet = VnetHdr::default();
        return Ok(1);
    }
    if v.gso_size == 0 {
        return Err(OffloadError::BadGsoSize);
    }
    let d = pkt.data();
    let lay = wire::locate(d).map_err(|_| OffloadError::Malformed)?;
    match ty {
        VnetHdr::GSO_TCPV4 | VnetHdr::GSO_TCPV6 => {
            let want = if ty == VnetHdr::GSO_TCPV4 {
                L3::Ipv4
            } else {
                L3::Ipv6
            };
            if lay.l3_kind != want {
                return Err(OffloadError::Malformed);
            }
            segment_tcp(d, &lay, v.gso_size as usize, out)
        }
        GSO_UDP_L4 => segment_udp(d, &lay, v.gso_size as usize, out),
        VnetHdr::GSO_UDP => match lay.l3_kind {
            L3::Ipv4 => fragment_udp4(d, &lay, v.gso_size as usize, out),
            L3::Ipv6 => fragment_udp6(d, &lay, v.gso_size as usize, out),
            _ => Err(OffloadError::Malformed),
        },
        t => Err(OffloadError::Unsupported(t)),
    }
}

/// `out[i]`, allocating only when `out` is too short.
fn slot(out: &mut Vec<Packet>, i: usize) -> &mut Packet {
    while out.len() <= i {
        out.push(Packet::new());
    }
    &mut out[i]
}

/// Writes `head` followed by `body` into `p` and clears its offload state.
fn fill(p: &mut Packet, head: &[u8], body: &[u8]) -> usize {
    let n = head.len() + body.len();
    let area = p.rx_area();
    area[..head.len()].copy_from_slice(head);
    area[head.len()..n].copy_from_slice(body);
    p.set_len(n);
    p.vnet = VnetHdr::default();
    n
}

fn ip_pair(f: &[u8], lay: &wire::Layout) -> IpPair {
    let h = lay.l3;
    if lay.l3_kind == L3::Ipv4 {
        let mut src = [0u8; 4];
        let mut dst = [0u8; 4];
        src.copy_from_slice(&f[h + 12..h + 16]);
        dst.copy_from_slice(&f[h + 16..h + 20]);
        IpPair::V4 { src, dst }
    } else {
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&f[h + 8..h + 24]);
        dst.copy_from_slice(&f[h + 24..h + 40]);
        IpPair::V6 { src, dst }
    }
}

/// Sets the IP length (and for IPv4 the id and header checksum) of a
/// segment whose IP packet ends at `end`.
fn fix_ip(f: &mut [u8], lay: &wire::Layout, end: usize, id_add: u16) {
    let h = lay.l3;
    if lay.l3_kind == L3::Ipv4 {
        put16(f, h + 2, (end - h) as u16);
        let id = be16(f, h + 4).wrapping_add(id_add);
        put16(f, h + 4, id);
        let hl = (f[h] & 0x0f) as usize * 4;
        put16(f, h + 10, 0);
        let c = checksum::checksum(&f[h..h + hl]);
        put16(f, h + 10, c);
    } else {
        put16(f, h + 4, (end - h - ipv6::HEADER_LEN) as u16);
    }
}

fn segment_tcp(
    d: &[u8],
    lay: &wire::Layout,
    mss: usize,
    out: &mut Vec<Packet>,
) -> Result<usize, OffloadError> {
    let l4 = match lay.l4 {
        Some(l4) if lay.proto == ip_proto::TCP && lay.frag == 0 => l4,
        _ => return Err(OffloadError::Malformed),
    };
    let th = tcp::Packet::new_checked(&d[l4..lay.l3_end]).map_err(|_| OffloadError::Malformed)?;
    let hdr_end = l4 + th.header_len();
    let (seq0, flags0) = (th.seq(), th.flags());
    let payload = &d[hdr_end..lay.l3_end];
    let n = payload.len().div_ceil(mss).max(1);
    if n > u16::MAX as usize {
        return Err(OffloadError::BadGsoSize);
    }
    let ip = ip_pair(d, lay);
    for i in 0..n {
        let chunk = &payload[(i * mss).min(payload.len())..((i + 1) * mss).min(payload.len())];
        let p = slot(out, i);
        let end = fill(p, &d[..hdr_end], chunk);
        let f = p.data_mut();
        fix_ip(f, lay, end, i as u16);
        let mut t =
            tcp::Packet::new_checked(&mut f[l4..end]).map_err(|_| OffloadError::Malformed)?;
        t.set_seq(seq0.wrapping_add((i * mss) as u32));
        let mut fl = flags0;
        if i + 1 < n {
            fl &= !(tcp::flags::FIN | tcp::flags::PSH);
        }
        if i > 0 {
            fl &= !tcp::flags::CWR;
        }
        t.set_flags(fl);
        t.fill_checksum(&ip);
    }
    Ok(n)
}

fn segment_udp(
    d: &[u8],
    lay: &wire::Layout,
    size: usize,
    out: &mut Vec<Packet>,
) -> Result<usize, OffloadError> {
    let l4 = udp_header(lay)?;
    let hdr_end = l4 + udp::HEADER_LEN;
    let payload = &d[hdr_end..lay.l3_end];
    let n = payload.len().div_ceil(size).max(1);
    if n > u16::MAX as usize {
        return Err(OffloadError::BadGsoSize);
    }
    let ip = ip_pair(d, lay);
    for i in 0..n {
        let chunk = &payload[(i * size).min(payload.len())..((i + 1) * size).min(payload.len())];
        let p = slot(out, i);
        let end = fill(p, &d[..hdr_end], chunk);
        let f = p.data_mut();
        fix_ip(f, lay, end, i as u16);
        put16(f, l4 + 4, (end - l4) as u16);
        let mut u =
            udp::Packet::new_checked(&mut f[l4..end]).map_err(|_| OffloadError::Malformed)?;
        u.fill_checksum(&ip);
    }
    Ok(n)
}

/// Offset of a whole, unfragmented UDP header (what both UDP offloads need).
fn udp_header(lay: &wire::Layout) -> Result<usize, OffloadError> {
    match lay.l4 {
        Some(l4)
            if lay.proto == ip_proto::UDP
                && lay.frag == 0
                && l4 + udp::HEADER_LEN <= lay.l3_end =>
        {
            Ok(l4)
        }
        _ => Err(OffloadError::Malformed),
    }
}

/// The UDP checksum of the whole datagram at `d[l4..end]`, ignoring the
/// checksum field's current contents.
fn udp_checksum(d: &[u8], l4: usize, end: usize, ip: &IpPair) -> u16 {
    let acc = ip.pseudo_sum(ip_proto::UDP, (end - l4) as u32);
    let acc = checksum::add(acc, &d[l4..l4 + 6]);
    let c = !checksum::fold(checksum::add(acc, &d[l4 + 8..end]));
    if c == 0 {
        0xffff
    } else {
        c
    }
}

fn fragment_udp4(
    d: &[u8],
    lay: &wire::Layout,
    size: usize,
    out: &mut Vec<Packet>,
) -> Result<usize, OffloadError> {
    let l4 = udp_header(lay)?;
    let unit = size & !7;
    if unit == 0 {
        return Err(OffloadError::BadGsoSize);
    }
    let ip = ip_pair(d, lay);
    let csum = udp_checksum(d, l4, lay.l3_end, &ip);
    let body = &d[l4..lay.l3_end];
    let n = body.len().div_ceil(unit);
    if n * unit > (ipv4::OFFSET_MASK as usize + 1) * 8 {
        return Err(OffloadError::BadGsoSize);
    }
    let h = lay.l3;
    for i in 0..n {
        let chunk = &body[i * unit..((i + 1) * unit).min(body.len())];
        let p = slot(out, i);
        let end = fill(p, &d[..l4], chunk);
        let f = p.data_mut();
        if i == 0 {
            put16(f, l4 + 6, csum);
        } else {
            strip_uncopied_options(&mut f[h + ipv4::HEADER_LEN..l4]);
        }
        // All fragments share the datagram's id; DF cannot stand on a
        // datagram that is being fragmented.
        let mf = if i + 1 < n { ipv4::FLAG_MF } else { 0 };
        put16(f, h + 6, mf | ((i * unit / 8) as u16 & ipv4::OFFSET_MASK));
        fix_ip(f, lay, end, 0);
    }
    Ok(n)
}

/// Replaces the IPv4 options without the "copied" flag with NOPs, as
/// later fragments must not carry them (RFC 791; Linux's
/// `ip_options_fragment`), keeping the header length.
fn strip_uncopied_options(opts: &mut [u8]) {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return,
            1 => i += 1,
            t => {
                let len = opts.get(i + 1).map_or(0, |&l| l as usize);
                if len < 2 || i + len > opts.len() {
                    return;
                }
                if t & 0x80 == 0 {
                    opts[i..i + len].fill(1);
                }
                i += len;
            }
        }
    }
}

/// Fragment identifications for IPv6 UFO: a process-wide counter (Linux
/// uses a hashed per-destination counter; uniqueness per source and
/// destination over the reassembly timeout is what matters).
static FRAG_IDENT: AtomicU32 = AtomicU32::new(0x5157_0001);

fn fragment_udp6(
    d: &[u8],
    lay: &wire::Layout,
    size: usize,
    out: &mut Vec<Packet>,
) -> Result<usize, OffloadError> {
    let l4 = udp_header(lay)?;
    let h = lay.l3;
    if l4 != h + ipv6::HEADER_LEN {
        return Err(OffloadError::Unsupported(VnetHdr::GSO_UDP));
    }
    let unit = size & !7;
    let fh = l4 + ipv6::FRAG_HEADER_LEN;
    // Fragments grow by the fragment header: each must still fit a Packet.
    if unit == 0 || fh + unit.min(lay.l3_end - l4) > MAX_FRAME {
        return Err(OffloadError::BadGsoSize);
    }
    let ip = ip_pair(d, lay);
    let csum = udp_checksum(d, l4, lay.l3_end, &ip);
    let body = &d[l4..lay.l3_end];
    let n = body.len().div_ceil(unit);
    let ident = FRAG_IDENT.fetch_add(1, Ordering::Relaxed);
    for i in 0..n {
        let chunk = &body[i * unit..((i + 1) * unit).min(body.len())];
        let p = slot(out, i);
        // Headers up to the IPv6 header, then room for the fragment header.
        let area = p.rx_area();
        area[..l4].copy_from_slice(&d[..l4]);
        area[fh..fh + chunk.len()].copy_from_slice(chunk);
        p.set_len(fh + chunk.len());
        p.vnet = VnetHdr::default();
        let f = p.data_mut();
        f[h + 6] = ip_proto::FRAGMENT;
        put16(f, h + 4, (fh + chunk.len() - h - ipv6::HEADER_LEN) as u16);
        let more = (i + 1 < n) as u16;
        f[l4] = ip_proto::UDP;
        f[l4 + 1] = 0;
        put16(f, l4 + 2, ((i * unit) as u16 & 0xfff8) | more);
        put32(f, l4 + 4, ident);
        if i == 0 {
            put16(f, fh + 6, csum);
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_without_copy_flag_become_nops() {
        // Record route (7, not copied), then security (130, copied), EOL.
        let mut o = [7, 7, 4, 0, 0, 0, 0, 130, 3, 9, 0, 0];
        strip_uncopied_options(&mut o);
        assert_eq!(o, [1, 1, 1, 1, 1, 1, 1, 130, 3, 9, 0, 0]);
        let mut bad = [7, 40, 0];
        strip_uncopied_options(&mut bad);
        assert_eq!(bad, [7, 40, 0]);
    }

    #[test]
    fn non_gso_is_copied_with_checksum() {
        let mut v = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1, 2)
            .write(&mut v, b"abc")
            .unwrap();
        let mut p = Packet::from_frame(&v);
        let mut out = Vec::new();
        assert_eq!(segment_gso(&p, &mut out), Ok(1));
        assert_eq!(out[0].data(), &v[..]);
        p.vnet.gso_type = 9;
        p.vnet.gso_size = 100;
        assert_eq!(segment_gso(&p, &mut out), Err(OffloadError::Unsupported(9)));
        p.vnet.gso_type = VnetHdr::GSO_TCPV4;
        assert_eq!(segment_gso(&p, &mut out), Err(OffloadError::Malformed));
        p.vnet.gso_size = 0;
        assert_eq!(segment_gso(&p, &mut out), Err(OffloadError::BadGsoSize));
    }
}
