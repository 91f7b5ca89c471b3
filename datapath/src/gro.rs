//! Receive coalescing (GRO) for frames that reach the switch already cut
//! into wire-sized segments — decapsulated VXLAN/GRE traffic: consecutive,
//! in-order TCP segments of one flow in a receive batch become one GSO
//! super-frame (virtio-net `TCPV4`, partial checksum), as Linux's GRO
//! does on a NIC. The super-frame crosses the pipeline once and reaches a
//! veth or TAP port whole, so the receiving host's TCP stack handles one
//! packet instead of dozens; a port that cannot take super-frames gets
//! the segments back from [`crate::offload::segment_gso`], identical to
//! the originals.
//!
//! Merged are only segments that Linux would merge: IPv4 without
//! fragmentation, identical IP and TCP headers apart from lengths, ids,
//! sequence numbers and checksums, flags ACK (PSH allowed on the last),
//! payloads of one size (the last may be shorter), sequence numbers that
//! follow on, and a correct TCP checksum (a corrupt segment must not be
//! hidden behind a checksum the kernel recomputes).

use crate::packet::{Packet, VnetHdr};
use crate::wire::checksum::{self, IpPair};
use crate::wire::{self, be16, be32, ip_proto, put16, L3};

/// Largest IPv4 packet a super-frame may grow to.
const MAX_IP_LEN: usize = 65_535;
/// Segments per super-frame (Linux's `MAX_GRO_SKBS` is 8 per flow list,
/// but its super-frames reach 64 KiB; the IP length limit decides).
const MAX_SEGMENTS: usize = 64;

const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

/// Where a mergeable segment's parts are.
#[derive(Clone, Copy)]
struct Seg {
    l3: usize,
    l4: usize,
    /// End of the TCP header.
    payload: usize,
    /// End of the IP packet (= frame length: no L2 padding).
    end: usize,
    seq: u32,
    flags: u8,
}

/// A frame that may start or extend a super-frame.
fn mergeable(p: &Packet) -> Option<Seg> {
    if p.vnet != VnetHdr::default() {
        return None;
    }
    let d = p.data();
    let lay = wire::locate(d).ok()?;
    if lay.l3_kind != L3::Ipv4 || lay.proto != ip_proto::TCP || lay.frag != 0 {
        return None;
    }
    let l4 = lay.l4?;
    if lay.l3_end != d.len() || d.len() < l4 + 20 {
        return None;
    }
    let doff = (d[l4 + 12] >> 4) as usize * 4;
    let payload = l4 + doff;
    if doff < 20 || payload >= d.len() {
        return None; // no payload (pure ACKs are not merged)
    }
    let flags = d[l4 + 13];
    if flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 || d[l4 + 12] & 0x0f != 0 {
        return None;
    }
    // IPv4 flags: no MF (frag == 0 covers offset and MF).
    let ip = ip_pair(d, lay.l3);
    let sum = checksum::add(
        ip.pseudo_sum(ip_proto::TCP, (d.len() - l4) as u32),
        &d[l4..],
    );
    if checksum::fold(sum) != 0xffff {
        return None;
    }
    Some(Seg {
        l3: lay.l3,
        l4,
        payload,
        end: d.len(),
        seq: be32(d, l4 + 4),
        flags,
    })
}

fn ip_pair(d: &[u8], l3: usize) -> IpPair {
    let mut src = [0u8; 4];
    let mut dst = [0u8; 4];
    src.copy_from_slice(&d[l3 + 12..l3 + 16]);
    dst.copy_from_slice(&d[l3 + 16..l3 + 20]);
    IpPair::V4 { src, dst }
}

/// Whether `b`'s headers equal `a`'s apart from the fields that differ
/// between segments of one super-frame.
fn same_headers(a: &[u8], sa: &Seg, b: &[u8], sb: &Seg) -> bool {
    if sa.l3 != sb.l3 || sa.l4 != sb.l4 || sa.payload != sb.payload {
        return false;
    }
    let (l3, l4) = (sa.l3, sa.l4);
    // Ethernet and VLAN tags.
    a[..l3] == b[..l3]
        // IPv4: version/IHL/TOS; (length, id differ); flags/fragment, TTL,
        // protocol; (checksum differs); addresses and options.
        && a[l3..l3 + 2] == b[l3..l3 + 2]
        && a[l3 + 6..l3 + 10] == b[l3 + 6..l3 + 10]
        && a[l3 + 12..l4] == b[l3 + 12..l4]
        // TCP: ports; (sequence differs); acknowledgment, offset, (flags
        // checked apart), window; (checksum differs); urgent and options.
        && a[l4..l4 + 4] == b[l4..l4 + 4]
        && a[l4 + 8..l4 + 13] == b[l4 + 8..l4 + 13]
        && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
        && a[l4 + 18..sa.payload] == b[l4 + 18..sb.payload]
}

/// The super-frame being built at `pkts[head]`.
struct Run {
    head: usize,
    seg: Seg,
    mss: usize,
    next_seq: u32,
    count: usize,
    /// A shorter or PSH segment ended the run.
    closed: bool,
}

/// Merges runs of consecutive segments of one TCP flow in `pkts` (frames
/// from one receive batch, in arrival order) and returns how many frames
/// remain, kept in order at the front. Frames are merged only when their
/// `in_port_override` and `tunnel` tags are equal too.
pub fn coalesce_tcp(pkts: &mut [Packet]) -> usize {
    let mut out = 0;
    let mut run: Option<Run> = None;
    for i in 0..pkts.len() {
        let seg = mergeable(&pkts[i]);
        if let (Some(r), Some(s)) = (run.as_mut(), seg) {
            let (head_part, tail) = pkts.split_at_mut(i);
            let (head, cur) = (&mut head_part[r.head], &tail[0]);
            let len = s.end - s.payload;
            if !r.closed
                && r.count < MAX_SEGMENTS
                && s.seq == r.next_seq
                && len <= r.mss
                && head.in_port_override == cur.in_port_override
                && head.tunnel == cur.tunnel
                && head.len() - r.seg.l3 + len <= MAX_IP_LEN
                && same_headers(head.data(), &r.seg, cur.data(), &s)
                && head.extend_from_slice(&cur.data()[s.payload..s.end])
            {
                r.next_seq = r.next_seq.wrapping_add(len as u32);
                r.count += 1;
                if s.flags & TCP_PSH != 0 {
                    set_psh(head, &r.seg);
                }
                r.closed = len < r.mss || s.flags & TCP_PSH != 0;
                continue;
            }
        }
        // `pkts[i]` does not extend the run: finish it, move `i` down.
        if let Some(r) = run.take() {
            finish(&mut pkts[r.head], &r);
        }
        if out != i {
            pkts.swap(out, i);
        }
        run = seg.map(|s| {
            let mss = s.end - s.payload;
            Run {
                head: out,
                seg: s,
                mss,
                next_seq: s.seq.wrapping_add(mss as u32),
                count: 1,
                closed: s.flags & TCP_PSH != 0,
            }
        });
        out += 1;
    }
    if let Some(r) = run.take() {
        finish(&mut pkts[r.head], &r);
    }
    out
}

fn set_psh(head: &mut Packet, seg: &Seg) {
    let f = head.data_mut();
    f[seg.l4 + 13] |= TCP_PSH;
}

/// Turns a run of two or more segments into a GSO super-frame: IP length
/// and header checksum, the pseudo-header sum in the TCP checksum field
/// (what a partial checksum carries), and the virtio-net header.
fn finish(head: &mut Packet, r: &Run) {
    if r.count < 2 {
        return;
    }
    let seg = r.seg;
    let end = head.len();
    let f = head.data_mut();
    let l3 = seg.l3;
    put16(f, l3 + 2, (end - l3) as u16);
    let ihl = (f[l3] & 0x0f) as usize * 4;
    put16(f, l3 + 10, 0);
    let c = checksum::checksum(&f[l3..l3 + ihl]);
    put16(f, l3 + 10, c);
    let ip = ip_pair(f, l3);
    let pseudo = checksum::fold(ip.pseudo_sum(ip_proto::TCP, (end - seg.l4) as u32));
    put16(f, seg.l4 + 16, pseudo);
    debug_assert_eq!(be16(f, l3 + 2) as usize, end - l3);
    head.vnet = VnetHdr {
        flags: VnetHdr::F_NEEDS_CSUM,
        gso_type: VnetHdr::GSO_TCPV4,
        hdr_len: seg.payload as u16,
        gso_size: r.mss as u16,
        csum_start: seg.l4 as u16,
        csum_offset: 16,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::segment_gso;
    use proptest::prelude::*;

    /// A TCP/IPv4 GSO super-frame with `n` bytes of payload.
    fn superframe(n: usize, mss: u16, psh: bool, opts: &[u8]) -> Packet {
        let tcp_len = 20 + opts.len();
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let ip_len = 20 + tcp_len + n;
        f.extend_from_slice(&[
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0x12,
            0x34,
            0x40,
            0,
        ]);
        f.extend_from_slice(&[64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
        f.extend_from_slice(&[0x9c, 0x40, 0x14, 0x51]); // ports 40000 -> 5201
        f.extend_from_slice(&0x1000_0000u32.to_be_bytes());
        f.extend_from_slice(&0x2000_0000u32.to_be_bytes());
        f.push(((tcp_len / 4) << 4) as u8);
        f.push(if psh { TCP_ACK | TCP_PSH } else { TCP_ACK });
        f.extend_from_slice(&[0x01, 0xf6, 0, 0, 0, 0]);
        f.extend_from_slice(opts);
        f.extend((0..n).map(|i| (i * 7 % 251) as u8));
        let mut p = Packet::from_frame(&f);
        let l4 = 34;
        let ip = ip_pair(&f, 14);
        let pseudo = checksum::fold(ip.pseudo_sum(6, (f.len() - l4) as u32));
        put16(p.data_mut(), l4 + 16, pseudo);
        let c = checksum::checksum(&p.data()[14..34]);
        put16(p.data_mut(), 24, c);
        p.vnet = VnetHdr {
            flags: VnetHdr::F_NEEDS_CSUM,
            gso_type: VnetHdr::GSO_TCPV4,
            hdr_len: (l4 + tcp_len) as u16,
            gso_size: mss,
            csum_start: l4 as u16,
            csum_offset: 16,
        };
        p
    }

    fn segments(p: &Packet) -> Vec<Packet> {
        let mut out = Vec::new();
        let n = segment_gso(p, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn segments_merge_back_into_the_superframe() {
        let sf = superframe(10_000, 1448, true, &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        let mut segs = segments(&sf);
        assert_eq!(segs.len(), 7);
        let n = coalesce_tcp(&mut segs);
        assert_eq!(n, 1);
        let merged = &segs[0];
        assert_eq!(merged.data(), sf.data());
        assert_eq!(merged.vnet, sf.vnet);
        // And cut again, they are the same segments.
        assert_eq!(
            segments(merged)
                .iter()
                .map(|p| p.data().to_vec())
                .collect::<Vec<_>>(),
            segments(&sf)
                .iter()
                .map(|p| p.data().to_vec())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn merged_frames_keep_their_position_and_tags() {
        let sf = superframe(3000, 1000, false, &[]);
        let mut segs = segments(&sf);
        for p in &mut segs {
            // As after decapsulation: the frame starts past some headroom.
            let d = p.data().to_vec();
            p.set_frame(&[vec![0xee; 50], d].concat());
            p.pull_front(50);
            p.in_port_override = Some((0, 7));
            p.tunnel = Some(crate::packet::TunnelTag {
                id: 1,
                src: [198, 19, 0, 1].into(),
                dst: [198, 19, 0, 2].into(),
            });
        }
        assert_eq!(coalesce_tcp(&mut segs), 1);
        assert_eq!(segs[0].data(), sf.data());
        assert_eq!(segs[0].in_port_override, Some((0, 7)));
        assert_eq!(segs[0].tunnel.map(|t| t.id), Some(1));
    }

    #[test]
    fn a_gap_a_corrupt_segment_or_another_flow_starts_a_new_frame() {
        let sf = superframe(6 * 1000, 1000, false, &[]);
        let mut segs = segments(&sf);
        // Lose segment 2: 0,1 | 3,4,5.
        segs.remove(2);
        assert_eq!(coalesce_tcp(&mut segs), 2);

        let mut segs = segments(&sf);
        segs[3].data_mut()[60] ^= 0xff; // payload byte: checksum now wrong
                                        // 0,1,2 | 3 (not mergeable, kept as it is) | 4,5
        assert_eq!(coalesce_tcp(&mut segs), 3);
        assert!(!segs[1].vnet.is_gso());

        let mut segs = segments(&sf);
        segs[2].in_port_override = Some((0, 9));
        assert_eq!(coalesce_tcp(&mut segs), 3);
    }

    #[test]
    fn pure_acks_and_other_protocols_pass_untouched() {
        let mut ack = superframe(0, 1000, false, &[]);
        ack.vnet = VnetHdr::default();
        let l4 = 34;
        let ip = ip_pair(ack.data(), 14);
        put16(ack.data_mut(), l4 + 16, 0);
        let c = !checksum::fold(checksum::add(
            ip.pseudo_sum(6, (ack.len() - l4) as u32),
            &ack.data()[l4..],
        ));
        put16(ack.data_mut(), l4 + 16, c);
        let mut v = vec![
            Packet::from_frame(ack.data()),
            Packet::from_frame(ack.data()),
            Packet::from_frame(&[0xff; 60]),
        ];
        let before: Vec<Vec<u8>> = v.iter().map(|p| p.data().to_vec()).collect();
        assert_eq!(coalesce_tcp(&mut v), 3);
        let after: Vec<Vec<u8>> = v.iter().map(|p| p.data().to_vec()).collect();
        assert_eq!(before, after);
    }

    proptest! {
        /// Whatever the mix, coalescing then re-segmenting gives back the
        /// frames that went in, in order.
        #[test]
        fn coalesce_then_segment_is_identity(
            lens in proptest::collection::vec(1usize..5000, 1..6),
            mss in 500u16..1500,
            drop_mask in any::<u32>(),
        ) {
            let mut frames: Vec<Packet> = Vec::new();
            for (k, len) in lens.iter().enumerate() {
                let mut sf = superframe(*len, mss, k % 2 == 0, &[]);
                // Different flows: vary the source port.
                sf.data_mut()[34] = k as u8;
                let l4 = 34;
                let ip = ip_pair(sf.data(), 14);
                let pseudo = checksum::fold(ip.pseudo_sum(6, (sf.len() - l4) as u32));
                put16(sf.data_mut(), l4 + 16, pseudo);
                frames.extend(segments(&sf));
            }
            let frames: Vec<Packet> = frames
                .into_iter()
                .enumerate()
                .filter(|(i, _)| drop_mask >> (i % 32) & 1 == 0)
                .map(|(_, p)| p)
                .collect();
            let want: Vec<Vec<u8>> = frames.iter().map(|p| p.data().to_vec()).collect();
            let mut work: Vec<Packet> = frames
                .iter()
                .map(|p| {
                    let mut q = Packet::from_frame(p.data());
                    q.vnet = p.vnet;
                    q
                })
                .collect();
            let n = coalesce_tcp(&mut work);
            let mut got = Vec::new();
            for p in &work[..n] {
                got.extend(segments(p).iter().map(|s| s.data().to_vec()));
            }
            prop_assert_eq!(got, want);
        }
    }
}
