//! Header rewrites for one output: turns the header changes the pipeline
//! decided (`Output::changes` and the values in `Output::key`) into edits of
//! the frame, keeping every checksum valid incrementally (RFC 1624).
//!
//! What is applied:
//! - VLAN push/strip/rewrite. A rewrite writes VID and PCP from the key
//!   and keeps the frame's DEI bit (the key uses that bit as "tag
//!   present", so it cannot say anything about DEI); a pushed tag has
//!   TPID 0x8100 and DEI 0. Frames are expected to carry their tags (the
//!   AF_PACKET backend reinserts a tag the kernel stripped, as OVS does).
//!   A single-tagged frame whose tag was stripped and not reinserted
//!   (received key tagged, frame untagged) is tolerated: a rewrite pushes
//!   the tag and a strip has nothing to do; an unchanged output then goes
//!   out untagged unless the caller reinserts the tag ([`push_vlan`]).
//! - Ethernet source/destination.
//! - IPv4 source/destination/TOS/TTL with the header checksum, and the
//!   TCP/UDP pseudo-header part of the L4 checksum for address changes (UDP
//!   only when its checksum is non-zero, i.e. present).
//! - IPv6 source/destination (with the TCP/UDP/ICMPv6 checksum, except
//!   for a destination change behind a routing header with segments left,
//!   where the checksum covers the final destination instead, as in OVS),
//!   traffic class, hop limit and flow label.
//! - L4 ports (TCP, UDP, SCTP with its CRC32c) and ICMP/ICMPv6 type/code
//!   (which share `tp_src`/`tp_dst` in the key).
//! - ARP opcode, sender/target hardware and protocol addresses.
//! - ND target, SLL and TLL options (the target has no change bit of its
//!   own; it is compared against the received key).
//! - Tunnel changes are not applied here (encapsulation happens later).
//!
//! Checksums are updated, not recomputed, so a wrong checksum stays wrong
//! (as OVS does). For a frame with a partial checksum (virtio NEEDS_CSUM,
//! `csum_start` at the transport header) the checksum field holds only the
//! pseudo-header sum, so only pseudo-header changes (addresses) touch it;
//! port and data changes are covered when the device or
//! [`crate::offload::complete_checksum`] finishes the sum. Pushing or
//! popping a tag moves `csum_start` (and a non-zero `hdr_len`) by 4.
//!
//! Changes whose header the frame does not have (e.g. ports of a later
//! fragment or of a truncated TCP header) are skipped, as OVS's datapath
//! skips them. Network and transport edits need the frame's EtherType to
//! be the one in the received key: with two VLAN tags the key stops at the
//! inner TPID (see [`crate::extract`]) and so does the rewrite.

use std::fmt;

use ofproto::key::{self, FlowKey, VLAN_CFI};
use ofproto::pipeline::{changes, Output, VlanChange};

use crate::packet::Packet;
use crate::wire::{self, be16, checksum, icmp, ip_proto, put16, vlan, L3};

/// Why a rewrite could not be done. The packet is unchanged when this is
/// returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// Shorter than an Ethernet header.
    Runt,
    /// No headroom left to push a VLAN tag.
    NoHeadroom,
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RewriteError::Runt => "frame too short to rewrite",
            RewriteError::NoHeadroom => "no headroom to push a VLAN tag",
        })
    }
}

impl std::error::Error for RewriteError {}

/// Applies `out`'s header changes to `pkt`, which was received with key
/// `received`.
pub fn apply_output(
    pkt: &mut Packet,
    received: &FlowKey,
    out: &Output,
) -> Result<(), RewriteError> {
    let ch = out.changes & !changes::TUNNEL;
    let nd_target_changed = received.get(key::ND_TARGET) != out.key.get(key::ND_TARGET);
    if ch == 0 && !nd_target_changed {
        return Ok(());
    }
    let mut lay = wire::locate(pkt.data()).map_err(|_| RewriteError::Runt)?;

    if ch & changes::VLAN != 0 {
        let moved = match out.vlan_change(received.vlan_tci()) {
            VlanChange::None => false,
            VlanChange::Strip => lay.tags > 0 && pop_vlan(pkt),
            VlanChange::Push(tci) => {
                push_vlan(pkt, vlan::TPID_8021Q, tci)?;
                true
            }
            VlanChange::Rewrite(tci) if lay.tags > 0 => {
                let d = pkt.data_mut();
                let dei = be16(d, 14) & VLAN_CFI;
                put16(d, 14, (tci & !VLAN_CFI) | dei);
                false
            }
            VlanChange::Rewrite(tci) => {
                push_vlan(pkt, vlan::TPID_8021Q, tci)?;
                true
            }
        };
        if moved {
            lay = wire::locate(pkt.data()).map_err(|_| RewriteError::Runt)?;
        }
    }

    let partial_at = pkt
        .vnet
        .needs_csum()
        .then_some(pkt.vnet.csum_start as usize);
    let d = pkt.data_mut();
    let k = &out.key;
    if ch & changes::ETH_DST != 0 {
        d[0..6].copy_from_slice(&k.eth_dst());
    }
    if ch & changes::ETH_SRC != 0 {
        d[6..12].copy_from_slice(&k.eth_src());
    }

    // The key describes the frame only up to its first VLAN tag (OVS's
    // single VLAN slot): past a second tag, or behind LLC/SNAP, the key has
    // no network fields, so there are none to write either.
    if received.eth_type() != lay.eth_type {
        return Ok(());
    }
    let mut l4 = L4Csum::new(d, &lay, partial_at);
    match lay.l3_kind {
        L3::Ipv4 => ipv4(d, &lay, &mut l4, ch, k),
        L3::Ipv6 => ipv6(d, &lay, &mut l4, ch, k),
        L3::Arp => arp(d, lay.l3, ch, received, k),
        L3::None => {}
    }
    if let Some(at) = lay.l4 {
        transport(d, &lay, at, &mut l4, ch, received, k, nd_target_changed);
    }
    Ok(())
}

/// Pushes an outer VLAN tag with `tpid` and `tci` (the CFI/"present" bit of
/// a key TCI is not written), fixing the virtio-net offsets.
pub fn push_vlan(pkt: &mut Packet, tpid: u16, tci: u16) -> Result<(), RewriteError> {
    if pkt.len() < 12 {
        return Err(RewriteError::Runt);
    }
    if !pkt.insert_gap(12, vlan::TAG_LEN) {
        return Err(RewriteError::NoHeadroom);
    }
    let d = pkt.data_mut();
    put16(d, 12, tpid);
    put16(d, 14, tci & !VLAN_CFI);
    let v = &mut pkt.vnet;
    if v.needs_csum() {
        v.csum_start += vlan::TAG_LEN as u16;
    }
    if v.hdr_len != 0 {
        v.hdr_len += vlan::TAG_LEN as u16;
    }
    Ok(())
}

/// Removes the outer VLAN tag if the frame has one; returns whether it did.
pub fn pop_vlan(pkt: &mut Packet) -> bool {
    let d = pkt.data();
    if d.len() < 18 || !vlan::is_tpid(be16(d, 12)) || !pkt.remove_gap(12, vlan::TAG_LEN) {
        return false;
    }
    let v = &mut pkt.vnet;
    if v.needs_csum() {
        v.csum_start = v.csum_start.saturating_sub(vlan::TAG_LEN as u16);
    }
    if v.hdr_len != 0 {
        v.hdr_len = v.hdr_len.saturating_sub(vlan::TAG_LEN as u16);
    }
    true
}

/// The transport checksum field that header edits must keep right.
struct L4Csum {
    /// Offset of the 16-bit checksum field, if the transport header is
    /// complete and has one.
    at: Option<usize>,
    /// Whether the field covers the IP pseudo header.
    pseudo: bool,
    /// UDP: zero means "no checksum" (for a full checksum).
    udp: bool,
    /// The field holds a partial (pseudo-header only) sum.
    partial: bool,
}

impl L4Csum {
    fn new(d: &[u8], lay: &wire::Layout, partial_at: Option<usize>) -> L4Csum {
        let mut c = L4Csum {
            at: None,
            pseudo: true,
            udp: false,
            partial: false,
        };
        let Some(l4) = lay.l4 else { return c };
        let fits = |n: usize| l4 + n <= lay.l3_end && lay.l3_end <= d.len();
        match (lay.l3_kind, lay.proto) {
            (L3::Ipv4 | L3::Ipv6, ip_proto::TCP) if fits(20) => c.at = Some(l4 + 16),
            (L3::Ipv4 | L3::Ipv6, ip_proto::UDP) if fits(8) => {
                c.at = Some(l4 + 6);
                c.udp = true;
            }
            (L3::Ipv4, ip_proto::ICMP) if fits(8) => {
                c.at = Some(l4 + 2);
                c.pseudo = false;
            }
            (L3::Ipv6, ip_proto::ICMPV6) if fits(8) => c.at = Some(l4 + 2),
            _ => {}
        }
        c.partial = c.at.is_some() && partial_at == Some(l4);
        c
    }

    /// A pseudo-header field (an address) changes from `old` to `new`.
    fn pseudo_change(&self, d: &mut [u8], old: &[u8], new: &[u8]) {
        if self.pseudo {
            self.change(d, old, new, true);
        }
    }

    /// Bytes inside the transport message change.
    fn data_change(&self, d: &mut [u8], old: &[u8], new: &[u8]) {
        self.change(d, old, new, false);
    }

    fn change(&self, d: &mut [u8], old: &[u8], new: &[u8], pseudo: bool) {
        let Some(at) = self.at else { return };
        let cur = be16(d, at);
        let next = if self.partial {
            if !pseudo {
                return;
            }
            checksum::update_partial_bytes(cur, old, new)
        } else {
            if self.udp && cur == 0 {
                return;
            }
            let c = checksum::update_bytes(cur, old, new);
            if self.udp && c == 0 {
                0xffff
            } else {
                c
            }
        };
        put16(d, at, next);
    }
}

fn ipv4(d: &mut [u8], lay: &wire::Layout, l4: &mut L4Csum, ch: u32, k: &FlowKey) {
    let h = lay.l3;
    let mut ipc = be16(d, h + 10);
    for (bit, slot, at) in [
        (changes::IPV4_SRC, key::IPV4_SRC, h + 12),
        (changes::IPV4_DST, key::IPV4_DST, h + 16),
    ] {
        if ch & bit != 0 {
            let new = (k.get(slot) as u32).to_be_bytes();
            let old: [u8; 4] = [d[at], d[at + 1], d[at + 2], d[at + 3]];
            if old != new {
                ipc = checksum::update_bytes(ipc, &old, &new);
                l4.pseudo_change(d, &old, &new);
                d[at..at + 4].copy_from_slice(&new);
            }
        }
    }
    if ch & changes::IP_TOS != 0 {
        let old = be16(d, h);
        let new = (old & 0xff00) | k.get(key::IP_TOS) as u16;
        ipc = checksum::update16(ipc, old, new);
        put16(d, h, new);
    }
    if ch & changes::IP_TTL != 0 {
        let old = be16(d, h + 8);
        let new = (old & 0x00ff) | ((k.get(key::IP_TTL) as u16) << 8);
        ipc = checksum::update16(ipc, old, new);
        put16(d, h + 8, new);
    }
    put16(d, h + 10, ipc);
}

fn ipv6(d: &mut [u8], lay: &wire::Layout, l4: &mut L4Csum, ch: u32, k: &FlowKey) {
    let h = lay.l3;
    for (bit, slot, at) in [
        (changes::IPV6_SRC, key::IPV6_SRC, h + 8),
        (changes::IPV6_DST, key::IPV6_DST, h + 24),
    ] {
        if ch & bit != 0 {
            let new = k.get(slot).to_be_bytes();
            let mut old = [0u8; 16];
            old.copy_from_slice(&d[at..at + 16]);
            if old != new {
                // With segments left in a routing header the checksum
                // covers the final destination, not this field (OVS too).
                if !(bit == changes::IPV6_DST && lay.routing) {
                    l4.pseudo_change(d, &old, &new);
                }
                d[at..at + 16].copy_from_slice(&new);
            }
        }
    }
    let w = u32::from_be_bytes([d[h], d[h + 1], d[h + 2], d[h + 3]]);
    let mut nw = w;
    if ch & changes::IP_TOS != 0 {
        nw = (nw & 0xf00f_ffff) | ((k.get(key::IP_TOS) as u32) << 20);
    }
    if ch & changes::IPV6_LABEL != 0 {
        nw = (nw & 0xfff0_0000) | (k.get(key::IPV6_LABEL) as u32 & 0x000f_ffff);
    }
    d[h..h + 4].copy_from_slice(&nw.to_be_bytes());
    if ch & changes::IP_TTL != 0 {
        d[h + 7] = k.get(key::IP_TTL) as u8;
    }
}

fn arp(d: &mut [u8], h: usize, ch: u32, received: &FlowKey, k: &FlowKey) {
    if ch & changes::IPV4_SRC != 0 {
        d[h + 14..h + 18].copy_from_slice(&(k.get(key::IPV4_SRC) as u32).to_be_bytes());
    }
    if ch & changes::IPV4_DST != 0 {
        d[h + 24..h + 28].copy_from_slice(&(k.get(key::IPV4_DST) as u32).to_be_bytes());
    }
    if ch & changes::ARP != 0 {
        // The ARP bit covers op, sha and tha together; write only the ones
        // the pipeline changed (a wide opcode is not in the key at all).
        if k.get(key::IP_PROTO) != received.get(key::IP_PROTO) {
            put16(d, h + 6, k.get(key::IP_PROTO) as u16);
        }
        if k.get(key::ARP_SHA) != received.get(key::ARP_SHA) {
            d[h + 8..h + 14].copy_from_slice(&key::mac_from_u64(k.get(key::ARP_SHA) as u64));
        }
        if k.get(key::ARP_THA) != received.get(key::ARP_THA) {
            d[h + 18..h + 24].copy_from_slice(&key::mac_from_u64(k.get(key::ARP_THA) as u64));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn transport(
    d: &mut [u8],
    lay: &wire::Layout,
    at: usize,
    l4: &mut L4Csum,
    ch: u32,
    received: &FlowKey,
    k: &FlowKey,
    nd_target_changed: bool,
) {
    let end = lay.l3_end.min(d.len());
    let avail = end.saturating_sub(at);
    let ports = ch & (changes::TP_SRC | changes::TP_DST) != 0;
    match (lay.l3_kind, lay.proto) {
        (L3::Ipv4 | L3::Ipv6, ip_proto::TCP | ip_proto::UDP) if ports && l4.at.is_some() => {
            for (bit, slot, off) in [
                (changes::TP_SRC, key::TP_SRC, 0),
                (changes::TP_DST, key::TP_DST, 2),
            ] {
                if ch & bit != 0 {
                    let old = [d[at + off], d[at + off + 1]];
                    let new = (k.get(slot) as u16).to_be_bytes();
                    l4.data_change(d, &old, &new);
                    d[at + off..at + off + 2].copy_from_slice(&new);
                }
            }
        }
        (L3::Ipv4 | L3::Ipv6, ip_proto::SCTP) if ports && avail >= 12 => {
            // CRC32c has no incremental form; recompute and carry over any
            // error the received checksum had (as OVS does).
            let sctp = &mut d[at..end];
            let recv = u32::from_le_bytes([sctp[8], sctp[9], sctp[10], sctp[11]]);
            sctp[8..12].fill(0);
            let before = checksum::crc32c(sctp);
            if ch & changes::TP_SRC != 0 {
                put16(sctp, 0, k.get(key::TP_SRC) as u16);
            }
            if ch & changes::TP_DST != 0 {
                put16(sctp, 2, k.get(key::TP_DST) as u16);
            }
            let after = checksum::crc32c(sctp);
            sctp[8..12].copy_from_slice(&(recv ^ before ^ after).to_le_bytes());
        }
        (L3::Ipv4, ip_proto::ICMP) | (L3::Ipv6, ip_proto::ICMPV6) if l4.at.is_some() => {
            if ports {
                let old = [d[at], d[at + 1]];
                let mut new = old;
                if ch & changes::TP_SRC != 0 {
                    new[0] = k.get(key::TP_SRC) as u8;
                }
                if ch & changes::TP_DST != 0 {
                    new[1] = k.get(key::TP_DST) as u8;
                }
                l4.data_change(d, &old, &new);
                d[at..at + 2].copy_from_slice(&new);
            }
            let is_nd = lay.proto == ip_proto::ICMPV6
                && (d[at] == icmp::v6_type::NEIGHBOR_SOLICIT
                    || d[at] == icmp::v6_type::NEIGHBOR_ADVERT)
                && d[at + 1] == 0
                && avail >= icmp::ND_LEN;
            if is_nd {
                nd(d, at, end, l4, ch, received, k, nd_target_changed);
            }
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
fn nd(
    d: &mut [u8],
    at: usize,
    end: usize,
    l4: &mut L4Csum,
    ch: u32,
    received: &FlowKey,
    k: &FlowKey,
    nd_target_changed: bool,
) {
    if nd_target_changed {
        let new = k.get(key::ND_TARGET).to_be_bytes();
        let mut old = [0u8; 16];
        old.copy_from_slice(&d[at + 8..at + 24]);
        l4.data_change(d, &old, &new);
        d[at + 8..at + 24].copy_from_slice(&new);
    }
    if ch & changes::ARP == 0 {
        return;
    }
    // As OVS's packet_set_nd: the first SLL or TLL option is the one.
    let mut off = at + icmp::ND_LEN;
    while off + 8 <= end && d[off + 1] != 0 {
        let len = d[off + 1] as usize * 8;
        let slot = match d[off] {
            icmp::ND_OPT_SOURCE_LLADDR if len == 8 => Some(key::ARP_SHA),
            icmp::ND_OPT_TARGET_LLADDR if len == 8 => Some(key::ARP_THA),
            _ => None,
        };
        if let Some(slot) = slot {
            if k.get(slot) != received.get(slot) {
                let new = key::mac_from_u64(k.get(slot) as u64);
                let mut old = [0u8; 6];
                old.copy_from_slice(&d[off + 2..off + 8]);
                l4.data_change(d, &old, &new);
                d[off + 2..off + 8].copy_from_slice(&new);
            }
            return;
        }
        off += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract_key;
    use crate::packet::VnetHdr;

    fn udp_frame() -> Vec<u8> {
        let mut v = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, 2000)
            .write(&mut v, b"payload")
            .unwrap();
        v
    }

    fn output(received: &FlowKey, edit: impl FnOnce(&mut FlowKey), ch: u32) -> Output {
        let mut k = *received;
        edit(&mut k);
        Output {
            bridge: 0,
            port: 2,
            changes: ch,
            key: k,
        }
    }

    #[test]
    fn nothing_to_do_is_a_no_op() {
        let f = udp_frame();
        let mut p = Packet::from_frame(&f);
        let mut k = FlowKey::ZERO;
        extract_key(&f, 1, &mut k).unwrap();
        let o = output(&k, |_| {}, changes::TUNNEL);
        apply_output(&mut p, &k, &o).unwrap();
        assert_eq!(p.data(), &f[..]);
    }

    #[test]
    fn runt_is_an_error_and_untouched() {
        let mut p = Packet::from_frame(&[1, 2, 3]);
        let k = FlowKey::ZERO;
        let o = output(&k, |k| k.set_eth_src([9; 6]), changes::ETH_SRC);
        assert_eq!(apply_output(&mut p, &k, &o), Err(RewriteError::Runt));
        assert_eq!(p.data(), &[1, 2, 3]);
    }

    #[test]
    fn push_and_pop_move_csum_start() {
        let f = udp_frame();
        let mut p = Packet::from_frame(&f);
        p.vnet = VnetHdr {
            flags: VnetHdr::F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 6,
            ..Default::default()
        };
        push_vlan(&mut p, vlan::TPID_8021Q, 0x1000 | 5).unwrap();
        assert_eq!(p.vnet.csum_start, 38);
        assert_eq!(&p.data()[12..18], &[0x81, 0, 0, 5, 8, 0]);
        assert!(pop_vlan(&mut p));
        assert_eq!(p.vnet.csum_start, 34);
        assert_eq!(p.data(), &f[..]);
        assert!(!pop_vlan(&mut p));
    }
}
