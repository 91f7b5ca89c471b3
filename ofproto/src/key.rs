//! The flow key: every header and metadata field a flow can match, packed into
//! fixed 64-bit words so that masking, hashing and comparing are word loops.

use std::fmt;

/// Number of 64-bit words in a [`FlowKey`].
pub const KEY_WORDS: usize = 25;

/// Where a storage field lives inside the key words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// First word index.
    pub word: u8,
    /// Bit offset inside the word (0 = least significant).
    pub shift: u8,
    /// Width in bits (up to 128; 128-bit fields use two words, high word first).
    pub width: u8,
}

impl Slot {
    pub const fn new(word: u8, shift: u8, width: u8) -> Slot {
        Slot { word, shift, width }
    }

    /// All-ones value of this slot's width.
    pub const fn max(self) -> u128 {
        if self.width >= 128 {
            u128::MAX
        } else {
            (1u128 << self.width) - 1
        }
    }
}

// The layout. Fields that OVS shares between protocols share here too
// (arp_op is nw_proto, arp_spa is nw_src, icmp_type is tp_src, nd_sll is
// arp_sha), so one
// key serves every protocol and prerequisites keep the meanings apart.
pub const IN_PORT: Slot = Slot::new(0, 0, 32);
pub const ETH_TYPE: Slot = Slot::new(0, 32, 16);
pub const VLAN_TCI: Slot = Slot::new(0, 48, 16);
pub const TUN_ID: Slot = Slot::new(1, 0, 64);
pub const TUN_SRC: Slot = Slot::new(2, 0, 32);
pub const TUN_DST: Slot = Slot::new(2, 32, 32);
pub const METADATA: Slot = Slot::new(3, 0, 64);
pub const REG_BASE_WORD: u8 = 4;
pub const ETH_SRC: Slot = Slot::new(12, 0, 48);
pub const IP_PROTO: Slot = Slot::new(12, 48, 8);
pub const IP_TOS: Slot = Slot::new(12, 56, 8);
pub const ETH_DST: Slot = Slot::new(13, 0, 48);
pub const IP_TTL: Slot = Slot::new(13, 48, 8);
pub const IP_FRAG: Slot = Slot::new(13, 56, 8);
pub const IPV4_SRC: Slot = Slot::new(14, 0, 32);
pub const IPV4_DST: Slot = Slot::new(14, 32, 32);
pub const TP_SRC: Slot = Slot::new(15, 0, 16);
pub const TP_DST: Slot = Slot::new(15, 16, 16);
pub const TCP_FLAGS: Slot = Slot::new(15, 32, 16);
pub const ARP_SHA: Slot = Slot::new(16, 0, 48);
pub const ARP_THA: Slot = Slot::new(17, 0, 48);
pub const IPV6_SRC: Slot = Slot::new(18, 0, 128);
pub const IPV6_DST: Slot = Slot::new(20, 0, 128);
pub const ND_TARGET: Slot = Slot::new(22, 0, 128);
pub const IPV6_LABEL: Slot = Slot::new(24, 0, 20);

/// Slot of register `n` (0..16): two 32-bit registers per word.
pub const fn reg_slot(n: u8) -> Slot {
    Slot::new(REG_BASE_WORD + n / 2, (n % 2) * 32, 32)
}

/// VLAN TCI bit that says "a tag is present" (OVS's CFI convention).
pub const VLAN_CFI: u16 = 0x1000;
pub const VLAN_VID_MASK: u16 = 0x0fff;
pub const VLAN_PCP_MASK: u16 = 0xe000;

/// IP fragment bits as OVS keeps them in `nw_frag`.
pub const FRAG_ANY: u8 = 1;
pub const FRAG_LATER: u8 = 2;

/// A packet's flow key, or (as half of a [`crate::Match`]) a mask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    pub words: [u64; KEY_WORDS],
}

impl FlowKey {
    pub const ZERO: FlowKey = FlowKey {
        words: [0; KEY_WORDS],
    };

    pub fn new() -> FlowKey {
        FlowKey::ZERO
    }

    /// Reads a slot as an unsigned number.
    #[inline]
    pub fn get(&self, slot: Slot) -> u128 {
        let w = slot.word as usize;
        if slot.width > 64 {
            ((self.words[w] as u128) << 64) | self.words[w + 1] as u128
        } else {
            let v = self.words[w] >> slot.shift;
            if slot.width == 64 {
                v as u128
            } else {
                (v & ((1u64 << slot.width) - 1)) as u128
            }
        }
    }

    /// Writes a slot; bits of `value` beyond the slot's width are ignored.
    #[inline]
    pub fn set(&mut self, slot: Slot, value: u128) {
        let w = slot.word as usize;
        if slot.width > 64 {
            self.words[w] = (value >> 64) as u64;
            self.words[w + 1] = value as u64;
        } else {
            let m = if slot.width == 64 {
                u64::MAX
            } else {
                ((1u64 << slot.width) - 1) << slot.shift
            };
            self.words[w] = (self.words[w] & !m) | (((value as u64) << slot.shift) & m);
        }
    }

    /// `self & mask`, word by word.
    #[inline]
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut out = FlowKey::ZERO;
        for i in 0..KEY_WORDS {
            out.words[i] = self.words[i] & mask.words[i];
        }
        out
    }

    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    // Typed accessors for the fields the datapath and NORMAL use most.
    pub fn in_port(&self) -> u32 {
        self.get(IN_PORT) as u32
    }
    pub fn set_in_port(&mut self, p: u32) {
        self.set(IN_PORT, p as u128)
    }
    pub fn eth_type(&self) -> u16 {
        self.get(ETH_TYPE) as u16
    }
    pub fn vlan_tci(&self) -> u16 {
        self.get(VLAN_TCI) as u16
    }
    pub fn set_vlan_tci(&mut self, tci: u16) {
        self.set(VLAN_TCI, tci as u128)
    }
    pub fn eth_src(&self) -> [u8; 6] {
        mac_from_u64(self.get(ETH_SRC) as u64)
    }
    pub fn eth_dst(&self) -> [u8; 6] {
        mac_from_u64(self.get(ETH_DST) as u64)
    }
    pub fn set_eth_src(&mut self, mac: [u8; 6]) {
        self.set(ETH_SRC, mac_to_u64(mac) as u128)
    }
    pub fn set_eth_dst(&mut self, mac: [u8; 6]) {
        self.set(ETH_DST, mac_to_u64(mac) as u128)
    }
    pub fn tun_id(&self) -> u64 {
        self.get(TUN_ID) as u64
    }
    pub fn ip_proto(&self) -> u8 {
        self.get(IP_PROTO) as u8
    }
    pub fn reg(&self, n: u8) -> u32 {
        self.get(reg_slot(n)) as u32
    }
}

impl fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nz: Vec<String> = self
            .words
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0)
            .map(|(i, w)| format!("w{i}={w:#x}"))
            .collect();
        write!(f, "FlowKey{{{}}}", nz.join(","))
    }
}

pub fn mac_to_u64(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64)
}

pub fn mac_from_u64(v: u64) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_do_not_overlap() {
        let slots = [
            IN_PORT, ETH_TYPE, VLAN_TCI, TUN_ID, TUN_SRC, TUN_DST, METADATA, ETH_SRC, IP_PROTO,
            IP_TOS, ETH_DST, IP_TTL, IP_FRAG, IPV4_SRC, IPV4_DST, TP_SRC, TP_DST, TCP_FLAGS,
            ARP_SHA, ARP_THA, IPV6_SRC, IPV6_DST, ND_TARGET, IPV6_LABEL,
        ];
        let mut all: Vec<Slot> = slots.to_vec();
        all.extend((0..16).map(reg_slot));
        let mut used = FlowKey::ZERO;
        for s in all {
            let mut k = FlowKey::ZERO;
            k.set(s, s.max());
            for i in 0..KEY_WORDS {
                assert_eq!(used.words[i] & k.words[i], 0, "{s:?} overlaps");
                used.words[i] |= k.words[i];
            }
            assert_eq!(k.get(s), s.max());
        }
    }

    #[test]
    fn set_get_roundtrip_and_truncation() {
        let mut k = FlowKey::ZERO;
        k.set(VLAN_TCI, 0x1_2345);
        assert_eq!(k.get(VLAN_TCI), 0x2345);
        k.set(IPV6_SRC, 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        assert_eq!(k.get(IPV6_SRC), 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        k.set_eth_src([0xfa, 0x16, 0x3e, 0x32, 0x28, 0xaf]);
        assert_eq!(k.eth_src(), [0xfa, 0x16, 0x3e, 0x32, 0x28, 0xaf]);
        assert_eq!(k.get(ETH_TYPE), 0);
    }
}
