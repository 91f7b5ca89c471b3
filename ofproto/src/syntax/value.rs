//! Lexing and printing of field values: integers, MACs, IPv4/IPv6 addresses
//! with masks, TCP flags and fragment states, in ovs-ofctl's notation.
//!
//! Byte compatibility with ovs-ofctl means reproducing the C library calls it
//! makes (`strtoull` with base 0, `atoi`, its own `scanf`), quirks included:
//! `priority=010` is octal 8, `nw_src=300.1.1.1` wraps each octet to 8 bits,
//! `tun_id=-1` is all ones. Where such a quirk silently changes what the user
//! wrote, the parser reports it as a warning (see `matches`).

/// C `isspace` in the "C" locale.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hexit(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// What glibc's `strtoull`/`strtoll` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CNum {
    /// Magnitude read (saturated at `u64::MAX` on overflow).
    pub magnitude: u64,
    pub negative: bool,
    /// Bytes consumed; 0 when no digits were found (`tail == s`).
    pub len: usize,
    /// The magnitude did not fit in 64 bits (ERANGE).
    pub overflow: bool,
}

/// The digit scanning shared by `strtoull` and `strtoll`: leading white
/// space, an optional sign, a `0x` prefix for base 0/16, octal for base 0
/// with a leading zero.
pub fn c_strtonum(s: &str, base: u32) -> CNum {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_space(b[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let mut base = base;
    if (base == 0 || base == 16)
        && i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] | 0x20) == b'x'
        && i + 2 < b.len()
        && hexit(b[i + 2]).is_some()
    {
        base = 16;
        i += 2;
    } else if base == 0 {
        base = if i < b.len() && b[i] == b'0' { 8 } else { 10 };
    }
    let start = i;
    let mut mag: u64 = 0;
    let mut overflow = false;
    while i < b.len() {
        match hexit(b[i]) {
            Some(d) if d < base => {
                match mag
                    .checked_mul(base as u64)
                    .and_then(|m| m.checked_add(d as u64))
                {
                    Some(m) => mag = m,
                    None => overflow = true,
                }
                i += 1;
            }
            _ => break,
        }
    }
    if i == start {
        return CNum {
            magnitude: 0,
            negative: false,
            len: 0,
            overflow: false,
        };
    }
    CNum {
        magnitude: if overflow { u64::MAX } else { mag },
        negative,
        len: i,
        overflow,
    }
}

/// `strtoull(s, &tail, base)`: (value, consumed, ERANGE). A minus sign
/// negates in 64-bit arithmetic, as C does.
pub fn strtoull(s: &str, base: u32) -> (u64, usize, bool) {
    let n = c_strtonum(s, base);
    if n.overflow {
        return (u64::MAX, n.len, true);
    }
    let v = if n.negative {
        n.magnitude.wrapping_neg()
    } else {
        n.magnitude
    };
    (v, n.len, false)
}

/// `strtoll(s, &tail, base)`: (value, consumed, ERANGE).
pub fn strtoll(s: &str, base: u32) -> (i64, usize, bool) {
    let n = c_strtonum(s, base);
    let limit = if n.negative {
        1u64 << 63
    } else {
        i64::MAX as u64
    };
    if n.overflow || n.magnitude > limit {
        return (if n.negative { i64::MIN } else { i64::MAX }, n.len, true);
    }
    let v = if n.negative {
        (n.magnitude as i64).wrapping_neg()
    } else {
        n.magnitude as i64
    };
    (v, n.len, false)
}

/// OVS's `str_to_llong`: the whole string must be one number.
pub fn str_to_llong(s: &str, base: u32) -> Option<i64> {
    let (v, len, range) = strtoll(s, base);
    (len > 0 && !range && len == s.len()).then_some(v)
}

/// OVS's `str_to_int`.
pub fn str_to_int(s: &str, base: u32) -> Option<i32> {
    str_to_llong(s, base).and_then(|v| i32::try_from(v).ok())
}

/// OVS's `str_to_uint` (ports and tables use base 10).
pub fn str_to_uint(s: &str, base: u32) -> Option<u32> {
    str_to_llong(s, base).and_then(|v| u32::try_from(v).ok())
}

/// ovs-ofctl's `str_to_u16`: `invalid NAME "S"` on failure.
pub fn str_to_u16(s: &str, name: &str) -> Result<u16, String> {
    str_to_int(s, 0)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| format!("invalid {name} \"{s}\""))
}

/// ovs-ofctl's `str_to_u8`.
pub fn str_to_u8(s: &str, name: &str) -> Result<u8, String> {
    str_to_int(s, 0)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| format!("invalid {name} \"{s}\""))
}

/// ovs-ofctl's `str_to_u64` (cookies, tunnel ids): base 0, negative values
/// wrap as `strtoull` does.
pub fn str_to_u64(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("missing required numeric argument".into());
    }
    let (v, len, range) = strtoull(s, 0);
    if range || len != s.len() {
        return Err(format!("invalid numeric format {s}"));
    }
    Ok(v)
}

/// ovs-ofctl's `str_to_u32`: `strtoul` is 64-bit on Linux, and the result
/// is silently truncated to 32 bits (returned as the second value).
pub fn str_to_u32(s: &str) -> Result<(u32, bool), String> {
    let v = str_to_u64(s)?;
    Ok((v as u32, v > u32::MAX as u64))
}

/// C `atoi` (as `(int) strtol(s, NULL, 10)`): never fails, reads what it can.
pub fn atoi(s: &str) -> i32 {
    strtoll(s, 10).0 as i32
}

/// Why [`parse_int_string`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntError {
    /// The value does not fit the field (ERANGE).
    Range,
    /// No number at all (EINVAL).
    Invalid,
}

/// OVS's `parse_int_string`: a `0x` hex string of up to `n_bytes` bytes
/// (white space between hex digits allowed, "0x" alone is zero), or a C
/// integer (`strtoull` base 0) that must fit in `n_bytes`. Returns the
/// value and the unparsed rest.
pub fn parse_int_string(s: &str, n_bytes: usize) -> Result<(u128, &str), IntError> {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' {
        let mut i = 2;
        let mut digits: Vec<u8> = Vec::new();
        loop {
            while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            let Some(h) = b.get(i).and_then(|c| hexit(*c)) else {
                break;
            };
            if h != 0 || !digits.is_empty() {
                if (digits.len() + 1).div_ceil(2) > n_bytes {
                    return Err(IntError::Range);
                }
                digits.push(h as u8);
            }
            i += 1;
        }
        let v = digits.iter().fold(0u128, |a, d| (a << 4) | *d as u128);
        return Ok((v, &s[i..]));
    }
    let (v, len, range) = strtoull(s, 0);
    if range {
        return Err(IntError::Range);
    }
    if len == 0 {
        return Err(IntError::Invalid);
    }
    if n_bytes < 8 && v >> (8 * n_bytes) != 0 {
        return Err(IntError::Range);
    }
    Ok((v as u128, &s[len..]))
}

/// OVS's own `scanf` integer conversion (`scan_int`): optional spaces and
/// sign, `0x` for hex, digits accumulated with wrap-around. Returns the
/// value (as the wrapped 64-bit number) and the bytes consumed.
pub fn scan_int(s: &str, base: u32) -> Option<(i128, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_space(b[i]) {
        i += 1;
    }
    let negative = i < b.len() && b[i] == b'-';
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let mut base = base;
    if (base == 0 || base == 16) && i + 1 < b.len() && b[i] == b'0' && (b[i + 1] | 0x20) == b'x' {
        base = 16;
        i += 2;
    } else if base == 0 {
        base = if i < b.len() && b[i] == b'0' { 8 } else { 10 };
    }
    let start = i;
    let mut v: u64 = 0;
    while let Some(d) = b.get(i).and_then(|c| hexit(*c)).filter(|d| *d < base) {
        v = v.wrapping_mul(base as u64).wrapping_add(d as u64);
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if negative { -(v as i128) } else { v as i128 };
    Some((v, i))
}

/// Parses `xx:xx:xx:xx:xx:xx` as OVS's `ETH_ADDR_SCAN_FMT` does (each byte
/// a `%hhx`, so `0x11` and `100` are accepted, the latter wrapping).
/// Returns the address, the bytes consumed and whether a byte wrapped.
pub fn scan_mac(s: &str) -> Option<([u8; 6], usize, bool)> {
    let mut out = [0u8; 6];
    let mut pos = 0;
    let mut wrapped = false;
    for (i, o) in out.iter_mut().enumerate() {
        if i > 0 {
            if s.as_bytes().get(pos) != Some(&b':') {
                return None;
            }
            pos += 1;
        }
        let (v, n) = scan_int(&s[pos..], 16)?;
        wrapped |= !(0..=255).contains(&v);
        *o = v as u8;
        pos += n;
    }
    Some((out, pos, wrapped))
}

/// A whole string as one MAC (nothing may follow).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    scan_mac(s)
        .filter(|(_, n, _)| *n == s.len())
        .map(|(m, _, _)| m)
}

pub fn mac_to_u128(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, &b| (a << 8) | b as u128)
}

/// Appends `xx:xx:xx:xx:xx:xx` without formatting machinery (dumps print
/// hundreds of thousands of MACs).
pub fn write_mac(out: &mut String, v: u128) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = (v as u64).to_be_bytes();
    for (i, byte) in b[2..].iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 0xf) as usize] as char);
    }
}

/// Appends a dotted quad without formatting machinery.
pub fn write_ipv4(out: &mut String, v: u32) {
    for (i, byte) in v.to_be_bytes().iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let b = *byte;
        if b >= 100 {
            out.push((b'0' + b / 100) as char);
        }
        if b >= 10 {
            out.push((b'0' + (b / 10) % 10) as char);
        }
        out.push((b'0' + b % 10) as char);
    }
}

/// Appends what [`format_ipv4_masked`] returns.
pub fn write_ipv4_masked(out: &mut String, v: u128, m: u128) {
    let m = m as u32;
    write_ipv4(out, v as u32);
    if m == u32::MAX {
    } else if m.leading_ones() + m.trailing_zeros() == 32 {
        use std::fmt::Write;
        let _ = write!(out, "/{}", m.leading_ones());
    } else {
        out.push('/');
        write_ipv4(out, m);
    }
}

/// Appends what [`format_mac_masked`] returns.
pub fn write_mac_masked(out: &mut String, v: u128, m: u128) {
    write_mac(out, v);
    if m != 0xffff_ffff_ffff {
        out.push('/');
        write_mac(out, m);
    }
}

pub fn format_mac(v: u128) -> String {
    let b = (v as u64).to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// `MAC` or `MAC/MASK`, as `mf_from_ethernet_string`. The flag says a byte
/// wrapped.
pub fn parse_mac_masked(s: &str) -> Option<(u128, u128, bool)> {
    if let Some((m, _, w)) = scan_mac(s).filter(|(_, n, _)| *n == s.len()) {
        return Some((mac_to_u128(m), 0xffff_ffff_ffff, w));
    }
    let (m, n, w1) = scan_mac(s)?;
    let rest = s[n..].strip_prefix('/')?;
    let (mask, n2, w2) = scan_mac(rest)?;
    (n2 == rest.len()).then_some((mac_to_u128(m), mac_to_u128(mask), w1 || w2))
}

pub fn format_mac_masked(v: u128, m: u128) -> String {
    if m == 0xffff_ffff_ffff {
        format_mac(v)
    } else {
        format!("{}/{}", format_mac(v), format_mac(m))
    }
}

/// `IP_SCAN_FMT` (`%hhu.%hhu.%hhu.%hhu`): (address, consumed, wrapped).
fn scan_ipv4(s: &str) -> Option<(u32, usize, bool)> {
    let mut a = 0u32;
    let mut pos = 0;
    let mut wrapped = false;
    for i in 0..4 {
        if i > 0 {
            if s.as_bytes().get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let (v, n) = scan_int(&s[pos..], 10)?;
        wrapped |= !(0..=255).contains(&v);
        a = (a << 8) | (v as u8) as u32;
        pos += n;
    }
    Some((a, pos, wrapped))
}

/// An IPv4 address with optional `/N` or `/MASK`, as OVS's
/// `ip_parse_masked`: (value, mask, an octet wrapped). Errors are OVS's text.
pub fn parse_ipv4_masked(s: &str) -> Result<(u128, u128, bool), String> {
    let invalid = || format!("{s}: invalid IP address");
    let (ip, n, w) = scan_ipv4(s).ok_or_else(invalid)?;
    let rest = &s[n..];
    let (mask, used, w2) = if let Some(r) = rest.strip_prefix('/') {
        if let Some((m, n2, w2)) = scan_ipv4(r) {
            (m, 1 + n2, w2)
        } else if let Some((p, n2)) = scan_int(r, 10) {
            let p = p as i32;
            if !(0..=32).contains(&p) {
                return Err(format!(
                    "{s}: IPv4 network prefix bits not between 0 and 32, inclusive"
                ));
            }
            (if p == 0 { 0 } else { u32::MAX << (32 - p) }, 1 + n2, false)
        } else {
            (u32::MAX, 0, false)
        }
    } else {
        (u32::MAX, 0, false)
    };
    if n + used != s.len() {
        return Err(invalid());
    }
    Ok((ip as u128, mask as u128, w || w2))
}

/// Prints like OVS's `ip_format_masked`: CIDR when the mask is a prefix,
/// dotted otherwise, bare address when exact.
pub fn format_ipv4_masked(v: u128, m: u128) -> String {
    let a = std::net::Ipv4Addr::from(v as u32);
    let m = m as u32;
    if m == u32::MAX {
        a.to_string()
    } else if m.leading_ones() + m.trailing_zeros() == 32 {
        format!("{}/{}", a, m.leading_ones())
    } else {
        format!("{}/{}", a, std::net::Ipv4Addr::from(m))
    }
}

/// `%46[0123456789abcdefABCDEF:.]` then `inet_pton`.
fn scan_ipv6(s: &str) -> Option<(u128, usize)> {
    let n = s
        .bytes()
        .take(46)
        .take_while(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
        .count();
    if n == 0 {
        return None;
    }
    let a: std::net::Ipv6Addr = s[..n].parse().ok()?;
    Some((u128::from(a), n))
}

/// An IPv6 address with optional `/N` or `/MASK`, as OVS's
/// `ipv6_parse_masked`. Errors are OVS's text.
pub fn parse_ipv6_masked(s: &str) -> Result<(u128, u128), String> {
    let invalid = || format!("{s}: invalid IPv6 address");
    let skip = s.len()
        - s.trim_start_matches(|c: char| c.is_ascii() && c_space(c as u8))
            .len();
    let (a, n) = scan_ipv6(&s[skip..]).ok_or_else(invalid)?;
    let mut pos = skip + n;
    let mut mask = u128::MAX;
    if let Some(r) = s[pos..].strip_prefix('/') {
        if let Some((p, n2)) = scan_int(r, 10) {
            let p = p as i32;
            if !(0..=128).contains(&p) {
                return Err(format!(
                    "{s}: IPv6 network prefix bits not between 0 and 128, inclusive"
                ));
            }
            mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            pos += 1 + n2;
        } else {
            let n2 = r
                .bytes()
                .take(46)
                .take_while(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
                .count();
            if n2 > 0 {
                let m: std::net::Ipv6Addr = r[..n2]
                    .parse()
                    .map_err(|_| format!("{s}: Invalid IPv6 mask"))?;
                mask = u128::from(m);
                pos += 1 + n2;
            }
        }
    }
    if pos != s.len() {
        return Err(invalid());
    }
    Ok((a, mask))
}

/// glibc's `inet_ntop(AF_INET6)`: the first longest run of two or more zero
/// groups becomes `::`, and `::a.b.c.d` / `::ffff:a.b.c.d` print dotted.
pub fn format_ipv6(v: u128) -> String {
    let w: Vec<u16> = (0..8).map(|i| (v >> (112 - 16 * i)) as u16).collect();
    let (mut best, mut best_len) = (usize::MAX, 0);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = usize::MAX;
    }
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if best != usize::MAX && i >= best && i < best + best_len {
            if i == best {
                s.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            s.push_str(&std::net::Ipv4Addr::from(v as u32).to_string());
            return s;
        }
        s.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    if best != usize::MAX && best + best_len == 8 {
        s.push(':');
    }
    s
}

pub fn format_ipv6_masked(v: u128, m: u128) -> String {
    if m == u128::MAX {
        format_ipv6(v)
    } else if m.leading_ones() + m.trailing_zeros() == 128 {
        format!("{}/{}", format_ipv6(v), m.leading_ones())
    } else {
        format!("{}/{}", format_ipv6(v), format_ipv6(m))
    }
}

/// OVS's `packet_tcp_flag_to_string`.
pub fn tcp_flag_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        0x001 => "fin",
        0x002 => "syn",
        0x004 => "rst",
        0x008 => "psh",
        0x010 => "ack",
        0x020 => "urg",
        0x040 => "ece",
        0x080 => "cwr",
        0x100 => "ns",
        0x200 => "[200]",
        0x400 => "[400]",
        0x800 => "[800]",
        _ => return None,
    })
}

const TCP_FLAGS_ALLOWED: u32 = 0x0fff;

/// OVS's `parse_flags` for `tcp_flags`: `V/M` numbers, `+syn-ack`, or
/// `syn|ack` (and numbers) for an exact match. Returns (value, mask) with
/// mask `u32::MAX` meaning "exact".
pub fn parse_tcp_flags(s: &str) -> Result<(u32, u32), String> {
    let unknown = |rest: &str| format!("{rest}: unknown TCP flag(s)");
    // "%i/%i": both numbers with a slash between.
    if let Some((v, n)) = scan_int(s, 0) {
        if s.as_bytes().get(n) == Some(&b'/') {
            if let Some((m, _)) = scan_int(&s[n + 1..], 0) {
                let (v, m) = (v as i32 as u32, m as i32 as u32);
                if v & !TCP_FLAGS_ALLOWED != 0 || m & !TCP_FLAGS_ALLOWED != 0 {
                    return Err(unknown(s));
                }
                return Ok((v, m));
            }
        }
    }
    if s.starts_with('+') || s.starts_with('-') {
        let (mut flags, mut mask) = (0u32, 0u32);
        let mut rest = s;
        while !rest.is_empty() {
            let set = match rest.as_bytes()[0] {
                b'+' => true,
                b'-' => false,
                _ => {
                    return Err(format!(
                        "{rest}: TCP must be preceded by '+' (for SET) or '-' (NOT SET)"
                    ))
                }
            };
            rest = &rest[1..];
            let mut found = None;
            for i in 0..12 {
                let bit = 1u32 << i;
                let name = tcp_flag_name(bit).expect("12 named bits");
                if let Some(after) = rest.strip_prefix(name) {
                    if after.is_empty() || after.starts_with('+') || after.starts_with('-') {
                        found = Some((bit, name.len()));
                        break;
                    }
                }
            }
            let Some((bit, len)) = found else {
                return Err(unknown(rest));
            };
            if mask & bit != 0 {
                return Err(format!("{rest}: Each TCP flag can be specified only once"));
            }
            if set {
                flags |= bit;
            }
            mask |= bit;
            rest = &rest[len..];
        }
        return Ok((flags, mask));
    }
    let mut result = 0u32;
    let mut n = 0;
    while n < s.len() {
        let cur = &s[n..];
        if let Some((v, n0)) = scan_int(cur, 0) {
            let v = v as i64 as u64;
            if v & !(TCP_FLAGS_ALLOWED as u64) != 0 {
                return Err(unknown(s));
            }
            result |= v as u32;
            n += n0 + usize::from(cur.as_bytes().get(n0) == Some(&b'|'));
            continue;
        }
        let mut found = None;
        for i in 0..12 {
            let bit = 1u32 << i;
            let name = tcp_flag_name(bit).expect("12 named bits");
            if let Some(after) = cur.strip_prefix(name) {
                if after.is_empty() || after.starts_with('|') {
                    found = Some((bit, name.len() + usize::from(after.starts_with('|'))));
                    break;
                }
            }
        }
        let Some((bit, len)) = found else {
            return Err(unknown(s));
        };
        result |= bit;
        n += len;
    }
    Ok((result, u32::MAX))
}

/// OVS's `format_flags_masked` for tcp_flags: `syn|ack` when every flag bit
/// is matched, `+syn-ack` otherwise.
pub fn format_tcp_flags(v: u128, m: u128) -> String {
    let (v, m) = (v as u32 & TCP_FLAGS_ALLOWED, m as u32 & TCP_FLAGS_ALLOWED);
    if m == TCP_FLAGS_ALLOWED {
        if v == 0 {
            return "0".into();
        }
        let names: Vec<&str> = (0..12)
            .map(|i| 1u32 << i)
            .filter(|b| v & b != 0)
            .filter_map(tcp_flag_name)
            .collect();
        return names.join("|");
    }
    if m == 0 {
        return "0/0".into();
    }
    let mut s = String::new();
    for i in 0..12 {
        let bit = 1u32 << i;
        if m & bit != 0 {
            s.push(if v & bit != 0 { '+' } else { '-' });
            s.push_str(tcp_flag_name(bit).unwrap_or("[Unknown]"));
        }
    }
    s
}

/// Fragment states as OVS's `mf_from_frag_string` (case-insensitive):
/// (value, mask) over the two nw_frag bits.
pub fn parse_frag(s: &str) -> Option<(u128, u128)> {
    Some(match s.to_ascii_lowercase().as_str() {
        "no" => (0, 1),
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

/// OVS's `ofpbuf_put_hex`: hex byte pairs, each optionally preceded by
/// spaces or dots. Returns the bytes and the unparsed rest.
pub fn parse_hex_bytes(s: &str) -> (Vec<u8>, &str) {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'.' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        match (
            b.get(i).and_then(|c| hexit(*c)),
            b.get(i + 1).and_then(|c| hexit(*c)),
        ) {
            (Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            _ => return (out, &s[i..]),
        }
    }
}

/// Bytes as `01.02.03` (OVS's `format_hex_arg`).
pub fn format_hex_bytes(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(".")
}

/// `%#x` as C prints it: `0` for zero, `0x..` otherwise.
pub fn c_hex(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// Kept for callers of the old API: an unsigned integer in decimal or `0x`
/// hex (C rules: a leading zero means octal).
pub fn parse_uint(s: &str) -> Option<u128> {
    match parse_int_string(s, 16) {
        Ok((v, "")) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_numbers() {
        assert_eq!(str_to_int("010", 0), Some(8));
        assert_eq!(str_to_int("0x10", 0), Some(16));
        assert_eq!(str_to_int("+5", 10), Some(5));
        assert_eq!(str_to_uint("0xfffe", 10), None);
        assert_eq!(str_to_u64("-1"), Ok(u64::MAX));
        assert!(str_to_u64("0x10000000000000000").is_err());
        assert_eq!(atoi("65536"), 65536);
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("abc"), 0);
    }

    #[test]
    fn int_strings() {
        assert_eq!(parse_int_string("0x", 4), Ok((0, "")));
        assert_eq!(parse_int_string("0x0001", 1), Ok((1, "")));
        assert_eq!(parse_int_string("0x100", 1), Err(IntError::Range));
        assert_eq!(parse_int_string("-1", 2), Err(IntError::Range));
        assert_eq!(parse_int_string("-1", 8), Ok((u64::MAX as u128, "")));
        assert_eq!(parse_int_string("5/0xf", 4), Ok((5, "/0xf")));
        assert_eq!(parse_int_string("xyz", 4), Err(IntError::Invalid));
    }

    #[test]
    fn macs() {
        assert_eq!(
            format_mac(mac_to_u128(parse_mac("fa:16:3e:2a:46:e0").unwrap())),
            "fa:16:3e:2a:46:e0"
        );
        assert_eq!(parse_mac("0:1:2:3:4:5"), Some([0, 1, 2, 3, 4, 5]));
        assert_eq!(
            parse_mac("0x11:22:33:44:55:66"),
            Some([0x11, 0x22, 0x33, 0x44, 0x55, 0x66])
        );
        assert_eq!(parse_mac("00:11:22:33:44"), None);
        assert_eq!(parse_mac("00:11:22:33:44:55:66"), None);
        assert_eq!(parse_mac("001122334455"), None);
        assert!(parse_mac_masked("100:0:0:0:0:1").unwrap().2);
    }

    #[test]
    fn ipv4() {
        let (v, m, _) = parse_ipv4_masked("198.18.0.0/16").unwrap();
        assert_eq!(format_ipv4_masked(v, m), "198.18.0.0/16");
        let (v, m, _) = parse_ipv4_masked("198.18.0.0/255.0.255.0").unwrap();
        assert_eq!(format_ipv4_masked(v, m), "198.18.0.0/255.0.255.0");
        let (v, _, w) = parse_ipv4_masked("300.1.1.1").unwrap();
        assert!(w);
        assert_eq!(format_ipv4_masked(v, 0xffff_ffff), "44.1.1.1");
        assert!(parse_ipv4_masked("1.1.1.1/33")
            .unwrap_err()
            .contains("prefix bits"));
        assert!(parse_ipv4_masked("198.18.0.1.5").is_err());
    }

    #[test]
    fn ipv6_like_glibc() {
        for (i, o) in [
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("fe80::1:0:0:0", "fe80::1:0:0:0"),
            ("::", "::"),
            ("::1", "::1"),
            ("::ffff:198.18.0.1", "::ffff:198.18.0.1"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
        ] {
            let (v, _) = parse_ipv6_masked(i).unwrap();
            assert_eq!(format_ipv6(v), o, "{i}");
        }
    }

    #[test]
    fn tcp_flags() {
        assert_eq!(parse_tcp_flags("+syn-ack").unwrap(), (2, 0x12));
        assert_eq!(format_tcp_flags(2, 0x12), "+syn-ack");
        assert_eq!(parse_tcp_flags("0x002/0x012").unwrap(), (2, 0x12));
        assert_eq!(parse_tcp_flags("syn|ack").unwrap(), (0x12, u32::MAX));
        assert_eq!(parse_tcp_flags("2syn").unwrap(), (2, u32::MAX));
        assert_eq!(format_tcp_flags(0x12, 0xffff), "syn|ack");
        assert_eq!(
            format_tcp_flags(0xfff, 0xfff),
            "fin|syn|rst|psh|ack|urg|ece|cwr|ns|[200]|[400]|[800]"
        );
        assert_eq!(
            parse_tcp_flags("+foo").unwrap_err(),
            "foo: unknown TCP flag(s)"
        );
        assert_eq!(
            parse_tcp_flags("0x1000").unwrap_err(),
            "0x1000: unknown TCP flag(s)"
        );
        assert_eq!(
            parse_tcp_flags("+syn+syn").unwrap_err(),
            "syn: Each TCP flag can be specified only once"
        );
    }

    #[test]
    fn hex_bytes() {
        assert_eq!(parse_hex_bytes("00..01"), (vec![0, 1], ""));
        assert_eq!(parse_hex_bytes("0.1"), (vec![], "0.1"));
        assert_eq!(parse_hex_bytes("010203"), (vec![1, 2, 3], ""));
    }
}
