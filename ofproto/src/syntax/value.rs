//! Lexing and printing of field values: integers, MACs, IPv4/IPv6 addresses
//! with masks, TCP flags and fragment states, in ovs-ofctl's notation.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Parses an unsigned integer in decimal or `0x` hex (OVS accepts both everywhere).
pub fn parse_uint(s: &str) -> Option<u128> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 32 {
            // Allow long hex with leading zeros.
            let t = h.trim_start_matches('0');
            if h.is_empty() || t.len() > 32 {
                return None;
            }
            return u128::from_str_radix(if t.is_empty() { "0" } else { t }, 16).ok();
        }
        u128::from_str_radix(h, 16).ok()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Parses an integer that must fit in `bits` bits.
pub fn parse_uint_bits(s: &str, bits: u32) -> Option<u128> {
    let v = parse_uint(s)?;
    if bits < 128 && v >> bits != 0 {
        None
    } else {
        Some(v)
    }
}

/// Parses `xx:xx:xx:xx:xx:xx` (one or two hex digits per byte).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut n = 0;
    for part in s.split(':') {
        if n == 6 || part.is_empty() || part.len() > 2 {
            return None;
        }
        out[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(out)
}

pub fn mac_to_u128(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, &b| (a << 8) | b as u128)
}

pub fn format_mac(v: u128) -> String {
    let b = (v as u64).to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// `MAC` or `MAC/MASK`.
pub fn parse_mac_masked(s: &str) -> Option<(u128, u128)> {
    match s.split_once('/') {
        Some((v, m)) => Some((mac_to_u128(parse_mac(v)?), mac_to_u128(parse_mac(m)?))),
        None => Some((mac_to_u128(parse_mac(s)?), 0xffff_ffff_ffff)),
    }
}

pub fn format_mac_masked(v: u128, m: u128) -> String {
    if m == 0xffff_ffff_ffff {
        format_mac(v)
    } else {
        format!("{}/{}", format_mac(v), format_mac(m))
    }
}

fn parse_ipv4(s: &str) -> Option<u32> {
    // Strict dotted quad: Rust's parser already rejects octal and short forms.
    s.parse::<Ipv4Addr>().ok().map(u32::from)
}

/// `A.B.C.D`, `A.B.C.D/N` or `A.B.C.D/M.M.M.M`.
pub fn parse_ipv4_masked(s: &str) -> Option<(u128, u128)> {
    let (a, m) = match s.split_once('/') {
        None => (parse_ipv4(s)?, u32::MAX),
        Some((a, m)) => {
            let a = parse_ipv4(a)?;
            let m = if let Some(mm) = parse_ipv4(m) {
                mm
            } else {
                let n: u32 = m.parse().ok().filter(|n| *n <= 32)?;
                if !m.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                if n == 0 {
                    0
                } else {
                    u32::MAX << (32 - n)
                }
            };
            (a, m)
        }
    };
    Some((a as u128, m as u128))
}

/// Prints like OVS's `ip_format_masked`: CIDR when the mask is a prefix,
/// dotted otherwise, bare address when exact.
pub fn format_ipv4_masked(v: u128, m: u128) -> String {
    let a = Ipv4Addr::from(v as u32);
    let m = m as u32;
    if m == u32::MAX {
        a.to_string()
    } else if m.leading_ones() + m.trailing_zeros() == 32 {
        format!("{}/{}", a, m.leading_ones())
    } else {
        format!("{}/{}", a, Ipv4Addr::from(m))
    }
}

/// `ADDR`, `ADDR/N` or `ADDR/MASK` for IPv6.
pub fn parse_ipv6_masked(s: &str) -> Option<(u128, u128)> {
    match s.split_once('/') {
        None => Some((u128::from(s.parse::<Ipv6Addr>().ok()?), u128::MAX)),
        Some((a, m)) => {
            let a = u128::from(a.parse::<Ipv6Addr>().ok()?);
            let m = if let Ok(mm) = m.parse::<Ipv6Addr>() {
                u128::from(mm)
            } else {
                if m.is_empty() || !m.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let n: u32 = m.parse().ok().filter(|n| *n <= 128)?;
                if n == 0 {
                    0
                } else {
                    u128::MAX << (128 - n)
                }
            };
            Some((a, m))
        }
    }
}

pub fn format_ipv6_masked(v: u128, m: u128) -> String {
    let a = Ipv6Addr::from(v);
    if m == u128::MAX {
        a.to_string()
    } else if m.leading_ones() + m.trailing_zeros() == 128 {
        format!("{}/{}", a, m.leading_ones())
    } else {
        format!("{}/{}", a, Ipv6Addr::from(m))
    }
}

/// TCP flag names in OVS's order (bit 0 = fin).
pub const TCP_FLAG_NAMES: &[(&str, u16)] = &[
    ("fin", 0x001),
    ("syn", 0x002),
    ("rst", 0x004),
    ("psh", 0x008),
    ("ack", 0x010),
    ("urg", 0x020),
    ("ece", 0x040),
    ("cwr", 0x080),
    ("ns", 0x100),
];

/// `+syn-ack` style or numeric `0x002/0x012`. Returns (value, mask).
pub fn parse_tcp_flags(s: &str) -> Result<(u128, u128), String> {
    if s.starts_with('+') || s.starts_with('-') {
        let mut value = 0u16;
        let mut mask = 0u16;
        let mut rest = s;
        while !rest.is_empty() {
            let sign = rest.as_bytes()[0];
            if sign != b'+' && sign != b'-' {
                return Err(format!("{s}: TCP flag must be preceded by '+' (for SET) or '-' (NOT SET)"));
            }
            rest = &rest[1..];
            let end = rest.find(['+', '-']).unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            let bit = TCP_FLAG_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .ok_or_else(|| format!("{name}: unknown TCP flag(s)"))?;
            if mask & bit != 0 {
                return Err(format!("{s}: Each TCP flag can be specified only once"));
            }
            mask |= bit;
            if sign == b'+' {
                value |= bit;
            }
        }
        return Ok((value as u128, mask as u128));
    }
    let (v, m) = match s.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (s, None),
    };
    let parse = |t: &str| -> Result<u16, String> {
        parse_uint_bits(t, 16)
            .map(|x| x as u16)
            .ok_or_else(|| format!("{t}: invalid TCP flags"))
    };
    let v = parse(v)?;
    let m = match m {
        Some(m) => parse(m)?,
        None => 0x0fff,
    };
    Ok(((v & m & 0x0fff) as u128, (m & 0x0fff) as u128))
}

/// Prints like OVS's `format_flags_masked` for tcp_flags: `+syn-ack`.
pub fn format_tcp_flags(v: u128, m: u128) -> String {
    let mut s = String::new();
    for (name, bit) in TCP_FLAG_NAMES {
        let bit = *bit as u128;
        if m & bit != 0 {
            s.push(if v & bit != 0 { '+' } else { '-' });
            s.push_str(name);
        }
    }
    // Bits with no name (0x200..0x800): fall back to hex like OVS.
    let unnamed = m & 0x0e00;
    if unnamed != 0 {
        return format!("0x{:03x}/0x{:03x}", v & 0xfff, m & 0xfff);
    }
    s
}

/// Fragment states: value/mask over the two nw_frag bits.
pub fn parse_frag(s: &str) -> Option<(u128, u128)> {
    Some(match s {
        "no" => (0, 3),
        "yes" => (1, 1),
        "first" => (1, 3),
        "later" => (3, 3),
        "not_later" => (0, 2),
        _ => return None,
    })
}

pub fn format_frag(v: u128, m: u128) -> Option<&'static str> {
    Some(match m & 3 {
        3 => match v & 3 {
            0 => "no",
            1 => "first",
            3 => "later",
            _ => "<error>",
        },
        1 => {
            if v & 1 != 0 {
                "yes"
            } else {
                "no"
            }
        }
        2 => {
            if v & 2 != 0 {
                "later"
            } else {
                "not_later"
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_uint("10"), Some(10));
        assert_eq!(parse_uint("0x10"), Some(16));
        assert_eq!(parse_uint("0x"), None);
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("1a"), None);
        assert_eq!(parse_uint_bits("4096", 12), None);
        assert_eq!(parse_uint_bits("4095", 12), Some(4095));
    }

    #[test]
    fn macs() {
        assert_eq!(format_mac(mac_to_u128(parse_mac("fa:16:3e:2a:46:e0").unwrap())), "fa:16:3e:2a:46:e0");
        assert_eq!(parse_mac("0:1:2:3:4:5"), Some([0, 1, 2, 3, 4, 5]));
        assert_eq!(parse_mac("00:11:22:33:44"), None);
        assert_eq!(parse_mac("00:11:22:33:44:55:66"), None);
        assert_eq!(parse_mac("00:11:22:33:44:5g"), None);
    }

    #[test]
    fn ipv4() {
        let (v, m) = parse_ipv4_masked("198.18.0.0/16").unwrap();
        assert_eq!(format_ipv4_masked(v, m), "198.18.0.0/16");
        let (v, m) = parse_ipv4_masked("198.18.0.0/255.0.255.0").unwrap();
        assert_eq!(format_ipv4_masked(v, m), "198.18.0.0/255.0.255.0");
        assert!(parse_ipv4_masked("300.1.1.1").is_none());
        assert!(parse_ipv4_masked("1.1.1.1/33").is_none());
    }

    #[test]
    fn tcp_flags() {
        assert_eq!(parse_tcp_flags("+syn-ack").unwrap(), (2, 0x12));
        assert_eq!(format_tcp_flags(2, 0x12), "+syn-ack");
        assert_eq!(parse_tcp_flags("0x002/0x012").unwrap(), (2, 0x12));
        assert!(parse_tcp_flags("+foo").is_err());
    }
}
