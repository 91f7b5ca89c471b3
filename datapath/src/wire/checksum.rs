//! Internet checksum (RFC 1071) with incremental updates (RFC 1624), the
//! TCP/UDP pseudo-header sums for IPv4 and IPv6, and CRC32c for SCTP.
//!
//! Sums are carried unfolded in a `u64` so that several pieces (pseudo
//! header, L4 header, payload) can be added before one final fold. Because
//! 2^16 ≡ 1 (mod 0xffff), adding big-endian 64-bit words is the same
//! one's-complement sum as adding 16-bit words, only four times fewer adds.

/// Adds `data` to the running sum `acc`. `data` must start at an even
/// offset of the checksummed region; an odd trailing byte is padded with a
/// zero byte, as RFC 1071 says (so only the last piece may have odd length).
#[inline]
pub fn add(acc: u64, data: &[u8]) -> u64 {
    let mut acc = acc;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let (s, carry) = acc.overflowing_add(w);
        // End-around carry keeps the sum exact modulo 2^64 - 1, which
        // preserves it modulo 0xffff.
        acc = s + carry as u64;
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    let mut tail = 0u64;
    for p in &mut pairs {
        tail += u16::from_be_bytes([p[0], p[1]]) as u64;
    }
    if let [b] = pairs.remainder() {
        tail += (*b as u64) << 8;
    }
    let (s, carry) = acc.overflowing_add(tail);
    s + carry as u64
}

/// Adds a 16-bit word to a running sum.
#[inline]
pub fn add16(acc: u64, w: u16) -> u64 {
    let (s, carry) = acc.overflowing_add(w as u64);
    s + carry as u64
}

/// Folds a running sum into 16 bits (the one's-complement sum, not yet
/// complemented).
#[inline]
pub fn fold(acc: u64) -> u16 {
    let mut s = (acc & 0xffff_ffff) + (acc >> 32);
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The Internet checksum of `data` (complement of its one's-complement sum).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(add(0, data))
}

/// Whether a region that includes its own checksum field sums correctly.
#[inline]
pub fn verify(data: &[u8]) -> bool {
    fold(add(0, data)) == 0xffff
}

/// The addresses of a TCP/UDP/ICMPv6 pseudo header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpPair {
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: [u8; 16], dst: [u8; 16] },
}

impl IpPair {
    /// The unfolded sum of the pseudo header for `proto` and an upper-layer
    /// length of `len` bytes (RFC 793 for IPv4, RFC 8200 §8.1 for IPv6).
    #[inline]
    pub fn pseudo_sum(&self, proto: u8, len: u32) -> u64 {
        match self {
            IpPair::V4 { src, dst } => {
                let a = add(0, src);
                let a = add(a, dst);
                // IPv4's pseudo length is 16 bits; larger values only occur
                // for GSO super-frames, whose checksums are recomputed per
                // segment anyway.
                add(a, &[0, proto, (len >> 8) as u8, len as u8])
            }
            IpPair::V6 { src, dst } => {
                let a = add(0, src);
                let a = add(a, dst);
                add(
                    a,
                    &[
                        (len >> 24) as u8,
                        (len >> 16) as u8,
                        (len >> 8) as u8,
                        len as u8,
                        0,
                        0,
                        0,
                        proto,
                    ],
                )
            }
        }
    }
}

/// RFC 1624 eqn. 3: the new checksum after a 16-bit word of the covered
/// data changed from `old` to `new`: HC' = ~(~HC + ~m + m').
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    let acc = (!csum) as u64 + (!old) as u64 + new as u64;
    !fold(acc)
}

/// As [`update16`] for a run of bytes (`old` and `new` of equal, even
/// length, starting at an even offset of the covered data), e.g. an
/// address.
#[inline]
pub fn update_bytes(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    let mut acc = (!csum) as u64;
    for (o, n) in old.chunks(2).zip(new.chunks(2)) {
        let o = u16::from_be_bytes([o[0], *o.get(1).unwrap_or(&0)]);
        let n = u16::from_be_bytes([n[0], *n.get(1).unwrap_or(&0)]);
        acc += (!o) as u64 + n as u64;
    }
    !fold(acc)
}

/// Updates a *partial* checksum field, the kind a NEEDS_CSUM frame carries:
/// it holds the non-complemented pseudo-header sum that the device will
/// fold into the final checksum, so the delta is applied to the sum itself.
#[inline]
pub fn update_partial_bytes(partial: u16, old: &[u8], new: &[u8]) -> u16 {
    !update_bytes(!partial, old, new)
}

/// CRC32c (Castagnoli), as SCTP uses over its whole packet (RFC 3309).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

static CRC32C_TABLE: [u32; 256] = crc32c_table();

const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 1071 §3 example: sum of 0001 f203 f4f5 f6f7 is ddf2.
    #[test]
    fn rfc1071_example() {
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(0, &d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn odd_lengths_and_pieces_agree_with_words() {
        let d: Vec<u8> = (0..=200u8).map(|x| x.wrapping_mul(37)).collect();
        for len in 0..d.len() {
            let slow = d[..len]
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u64)
                .sum::<u64>();
            assert_eq!(fold(add(0, &d[..len])), fold(slow), "len {len}");
            // Splitting at an even offset gives the same sum.
            let mid = (len / 2) & !1;
            assert_eq!(fold(add(add(0, &d[..mid]), &d[mid..len])), fold(slow));
        }
    }

    #[test]
    fn incremental_matches_recompute() {
        let mut d = [
            0x45u8, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0, 0, 10, 0, 0, 1, 10, 0,
            0, 2,
        ];
        let c = checksum(&d);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&d));
        let old: [u8; 4] = d[12..16].try_into().unwrap();
        let new = [192, 168, 77, 3];
        let c2 = update_bytes(c, &old, &new);
        d[12..16].copy_from_slice(&new);
        d[10..12].copy_from_slice(&c2.to_be_bytes());
        assert!(verify(&d));
        let c3 = update16(c2, u16::from_be_bytes([d[8], d[9]]), 0x3f01);
        d[8] = 0x3f;
        d[10..12].copy_from_slice(&c3.to_be_bytes());
        assert!(verify(&d));
    }

    #[test]
    fn crc32c_check_value() {
        // The standard check value for "123456789".
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
