//! One-line packet summaries in tcpdump's style (`IP 198.18.0.1 >
//! 198.18.0.2: ICMP echo request, id 5, seq 1, length 64`): Ethernet,
//! VLAN tags, ARP, IPv4/IPv6 with TCP/UDP/ICMP/ICMPv6, and VXLAN/GRE with
//! the inner frame. Every read is bounds-checked: any bytes give a line.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The summary of an Ethernet frame.
pub fn summarize(frame: &[u8]) -> String {
    let mut s = String::new();
    ethernet(frame, &mut s, 0);
    s
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn ip4(b: &[u8], i: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(be32(b, i)?))
}

fn mac(b: &[u8], i: usize) -> Option<String> {
    let m = b.get(i..i + 6)?;
    Some(
        m.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn ethernet(f: &[u8], s: &mut String, depth: u32) {
    if f.len() < 14 {
        let _ = write!(s, "[|ether] truncated frame, length {}", f.len());
        return;
    }
    let mut off = 12;
    let mut ty = be16(f, off).unwrap_or(0);
    while matches!(ty, 0x8100 | 0x88a8 | 0x9100) {
        let Some(tci) = be16(f, off + 2) else {
            let _ = write!(s, "vlan [|truncated], length {}", f.len());
            return;
        };
        let _ = write!(s, "vlan {}, p {}, ", tci & 0x0fff, tci >> 13);
        off += 4;
        match be16(f, off) {
            Some(t) => ty = t,
            None => {
                let _ = write!(s, "[|truncated], length {}", f.len());
                return;
            }
        }
    }
    let l3 = &f[off + 2..];
    match ty {
        0x0800 => ipv4(l3, s, depth),
        0x86dd => ipv6(l3, s, depth),
        0x0806 | 0x8035 => arp(l3, s),
        t if t < 0x0600 => {
            let _ = write!(s, "802.3, length {}", f.len());
        }
        t => {
            let _ = write!(
                s,
                "{} > {}, ethertype {t:#06x}, length {}",
                mac(f, 6).unwrap_or_default(),
                mac(f, 0).unwrap_or_default(),
                f.len()
            );
        }
    }
}

fn arp(b: &[u8], s: &mut String) {
    let (Some(op), Some(spa), Some(tpa)) = (be16(b, 6), ip4(b, 14), ip4(b, 24)) else {
        let _ = write!(s, "ARP, [|arp] length {}", b.len());
        return;
    };
    match op {
        1 => {
            let _ = write!(
                s,
                "ARP, Request who-has {tpa} tell {spa}, length {}",
                b.len()
            );
        }
        2 => {
            let _ = write!(
                s,
                "ARP, Reply {spa} is-at {}, length {}",
                mac(b, 8).unwrap_or_default(),
                b.len()
            );
        }
        o => {
            let _ = write!(s, "ARP, op {o}, length {}", b.len());
        }
    }
}

fn ipv4(b: &[u8], s: &mut String, depth: u32) {
    let (Some(&vhl), Some(total), Some(src), Some(dst)) =
        (b.first(), be16(b, 2), ip4(b, 12), ip4(b, 16))
    else {
        let _ = write!(s, "IP [|ip] truncated, length {}", b.len());
        return;
    };
    let ihl = (vhl & 0x0f) as usize * 4;
    let proto = b.get(9).copied().unwrap_or(0);
    let frag = be16(b, 6).unwrap_or(0);
    let end = (total as usize).clamp(ihl.min(b.len()), b.len());
    let payload = b.get(ihl..end).unwrap_or(&[]);
    let plen = (total as usize).saturating_sub(ihl);
    if frag & 0x1fff != 0 {
        let _ = write!(
            s,
            "IP {src} > {dst}: ip-proto-{proto} (fragment), length {plen}"
        );
        return;
    }
    transport(
        proto,
        payload,
        plen,
        &src.to_string(),
        &dst.to_string(),
        "IP",
        s,
        depth,
    );
}

fn ipv6(b: &[u8], s: &mut String, depth: u32) {
    let (Some(plen), Some(&next)) = (be16(b, 4), b.get(6)) else {
        let _ = write!(s, "IP6 [|ip6] truncated, length {}", b.len());
        return;
    };
    let addr = |i: usize| -> Option<Ipv6Addr> {
        let a: [u8; 16] = b.get(i..i + 16)?.try_into().ok()?;
        Some(Ipv6Addr::from(a))
    };
    let (Some(src), Some(dst)) = (addr(8), addr(24)) else {
        let _ = write!(s, "IP6 [|ip6] truncated, length {}", b.len());
        return;
    };
    let end = (40 + plen as usize).min(b.len());
    let payload = b.get(40..end).unwrap_or(&[]);
    transport(
        next,
        payload,
        plen as usize,
        &src.to_string(),
        &dst.to_string(),
        "IP6",
        s,
        depth,
    );
}

#[allow(clippy::too_many_arguments)]
fn transport(
    proto: u8,
    p: &[u8],
    plen: usize,
    src: &str,
    dst: &str,
    fam: &str,
    s: &mut String,
    depth: u32,
) {
    match proto {
        6 => {
            let (Some(sp), Some(dp), Some(seq)) = (be16(p, 0), be16(p, 2), be32(p, 4)) else {
                let _ = write!(s, "{fam} {src} > {dst}: tcp [|tcp]");
                return;
            };
            let flags = p.get(13).copied().unwrap_or(0);
            let hl = p.get(12).map(|x| (x >> 4) as usize * 4).unwrap_or(20);
            let mut fl = String::new();
            for (bit, c) in [(2, 'S'), (1, 'F'), (4, 'R'), (8, 'P'), (32, 'U')] {
                if flags & bit != 0 {
                    fl.push(c);
                }
            }
            if flags & 16 != 0 {
                fl.push('.');
            }
            let _ = write!(
                s,
                "{fam} {src}.{sp} > {dst}.{dp}: Flags [{fl}], seq {seq}, length {}",
                plen.saturating_sub(hl)
            );
        }
        17 => {
            let (Some(sp), Some(dp)) = (be16(p, 0), be16(p, 2)) else {
                let _ = write!(s, "{fam} {src} > {dst}: udp [|udp]");
                return;
            };
            let len = plen.saturating_sub(8);
            if dp == 4789 && depth < 2 {
                let vni = be32(p, 12).map(|v| v >> 8).unwrap_or(0);
                let _ = write!(s, "{fam} {src}.{sp} > {dst}.{dp}: VXLAN, vni {vni}: ");
                ethernet(p.get(16..).unwrap_or(&[]), s, depth + 1);
            } else {
                let _ = write!(s, "{fam} {src}.{sp} > {dst}.{dp}: UDP, length {len}");
            }
        }
        1 => {
            let (Some(&t), Some(&c)) = (p.first(), p.get(1)) else {
                let _ = write!(s, "{fam} {src} > {dst}: ICMP [|icmp]");
                return;
            };
            let (id, seq) = (be16(p, 4).unwrap_or(0), be16(p, 6).unwrap_or(0));
            let what = match t {
                8 => format!("echo request, id {id}, seq {seq}"),
                0 => format!("echo reply, id {id}, seq {seq}"),
                3 => format!("unreachable, code {c}"),
                11 => "time exceeded in-transit".to_string(),
                _ => format!("type {t}, code {c}"),
            };
            let _ = write!(s, "{fam} {src} > {dst}: ICMP {what}, length {plen}");
        }
        58 => {
            let t = p.first().copied().unwrap_or(0);
            let what = match t {
                128 => "echo request".to_string(),
                129 => "echo reply".to_string(),
                133 => "router solicitation".to_string(),
                134 => "router advertisement".to_string(),
                135 => "neighbor solicitation".to_string(),
                136 => "neighbor advertisement".to_string(),
                t => format!("type {t}"),
            };
            let _ = write!(s, "{fam} {src} > {dst}: ICMP6, {what}, length {plen}");
        }
        47 => {
            let flags = be16(p, 0).unwrap_or(0);
            let pt = be16(p, 2).unwrap_or(0);
            let mut off = 4;
            if flags & 0x8000 != 0 {
                off += 4;
            }
            let mut key = String::new();
            if flags & 0x2000 != 0 {
                key = format!(", key=0x{:x}", be32(p, off).unwrap_or(0));
                off += 4;
            }
            if flags & 0x1000 != 0 {
                off += 4;
            }
            let _ = write!(
                s,
                "{fam} {src} > {dst}: GREv0{key}, proto {} ({pt:#06x}), length {plen}",
                if pt == 0x6558 { "TEB" } else { "other" }
            );
            if pt == 0x6558 && depth < 2 {
                s.push_str(": ");
                ethernet(p.get(off..).unwrap_or(&[]), s, depth + 1);
            }
        }
        p => {
            let _ = write!(s, "{fam} {src} > {dst}: ip-proto-{p}, length {plen}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ty: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        f.extend_from_slice(&ty.to_be_bytes());
        f
    }

    fn ip(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = eth(0x0800);
        let total = 20 + payload.len() as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn icmp_echo() {
        let mut p = vec![8, 0, 0, 0, 0, 5, 0, 1];
        p.extend_from_slice(&[0; 56]);
        assert_eq!(
            summarize(&ip(1, &p)),
            "IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 5, seq 1, length 64"
        );
    }

    #[test]
    fn arp_request_and_reply() {
        let mut f = eth(0x0806);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 18, 0, 1]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 198, 18, 0, 2]);
        assert_eq!(
            summarize(&f),
            "ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28"
        );
        f[21] = 2;
        assert_eq!(
            summarize(&f),
            "ARP, Reply 198.18.0.1 is-at 02:00:00:00:00:01, length 28"
        );
    }

    #[test]
    fn tcp_and_udp_and_vlan() {
        let mut t = vec![0x9c, 0x40, 0, 80, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, 0x02, 0, 0];
        t.extend_from_slice(&[0; 4]);
        assert_eq!(
            summarize(&ip(6, &t)),
            "IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 7, length 0"
        );
        let u = [0x03, 0xe8, 0, 53, 0, 10, 0, 0, b'h', b'i'];
        let f = ip(17, &u);
        assert_eq!(
            summarize(&f),
            "IP 198.18.0.1.1000 > 198.18.0.2.53: UDP, length 2"
        );
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0, 0x20, 100]);
        tagged.extend_from_slice(&f[12..]);
        assert_eq!(
            summarize(&tagged),
            "vlan 100, p 1, IP 198.18.0.1.1000 > 198.18.0.2.53: UDP, length 2"
        );
    }

    #[test]
    fn vxlan_shows_the_inner_frame() {
        let mut inner = eth(0x0806);
        inner.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 18, 0, 1]);
        inner.extend_from_slice(&[0, 0, 0, 0, 0, 0, 198, 18, 0, 2]);
        let mut u = vec![0x9c, 0x40, 0x12, 0xb5, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 42, 0];
        u.extend_from_slice(&inner);
        let l = (u.len() as u16).to_be_bytes();
        u[4] = l[0];
        u[5] = l[1];
        assert_eq!(
            summarize(&ip(17, &u)),
            "IP 198.18.0.1.40000 > 198.18.0.2.4789: VXLAN, vni 42: ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28"
        );
    }

    #[test]
    fn garbage_never_panics() {
        for n in 0..80 {
            let f: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let _ = summarize(&f);
            let mut g = ip(17, &f);
            let _ = summarize(&g);
            g[14] = 0x4f;
            let _ = summarize(&g);
        }
        assert!(summarize(&[1, 2, 3]).contains("truncated"));
    }
}
