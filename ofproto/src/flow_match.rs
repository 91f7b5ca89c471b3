//! A match: a flow key plus a mask saying which bits matter.

use crate::field::Field;
use crate::key::{FlowKey, KEY_WORDS};

/// Which packets a flow applies to. Invariant: `value == value & mask`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Match {
    pub value: FlowKey,
    pub mask: FlowKey,
}

impl Match {
    /// The match-everything match.
    pub const CATCHALL: Match = Match {
        value: FlowKey::ZERO,
        mask: FlowKey::ZERO,
    };

    pub fn new(value: FlowKey, mask: FlowKey) -> Match {
        Match {
            value: value.masked(&mask),
            mask,
        }
    }

    /// A match on exactly the bits of `key` (every field pinned).
    pub fn exact(key: &FlowKey) -> Match {
        let mut mask = FlowKey::ZERO;
        mask.words = [u64::MAX; KEY_WORDS];
        Match { value: *key, mask }
    }

    /// Whether `key` is one of the packets this match selects.
    #[inline]
    pub fn matches(&self, key: &FlowKey) -> bool {
        for i in 0..KEY_WORDS {
            if (key.words[i] ^ self.value.words[i]) & self.mask.words[i] != 0 {
                return false;
            }
        }
        true
    }

    /// Sets `field` to `value` under `mask` (field units), replacing whatever
    /// the match said about those bits before.
    pub fn set_masked(&mut self, field: Field, value: u128, mask: u128) {
        Field::write_masked(field, &mut self.mask, u128::MAX, mask);
        Field::write_masked(field, &mut self.value, value & mask, mask);
        // write_masked on a VLAN view forces the CFI bit into whatever it
        // writes; keep the invariant.
        self.value = self.value.masked(&self.mask);
    }

    /// Sets `field` exactly.
    pub fn set(&mut self, field: Field, value: u128) {
        let w = field.width();
        let ones = if w >= 128 {
            u128::MAX
        } else {
            (1u128 << w) - 1
        };
        self.set_masked(field, value, ones)
    }

    /// The field's value and mask in this match (field units).
    pub fn get(&self, field: Field) -> (u128, u128) {
        (field.read(&self.value), field.read(&self.mask))
    }

    /// True when the match says anything about `field`.
    pub fn has(&self, field: Field) -> bool {
        field.read(&self.mask) != 0
    }

    /// Forgets everything about `field`.
    pub fn clear(&mut self, field: Field) {
        let (slot, _) = field.storage();
        let bits = field.storage_mask();
        let old_m = self.mask.get(slot);
        self.mask.set(slot, old_m & !bits);
        let old_v = self.value.get(slot);
        self.value.set(slot, old_v & !bits);
    }

    /// OpenFlow's "non-strict" relation: true when every packet `self`
    /// matches is also matched by `other`'s constraints, i.e. `self` is at
    /// least as specific as `other` and agrees with it.
    pub fn is_within(&self, other: &Match) -> bool {
        for i in 0..KEY_WORDS {
            let om = other.mask.words[i];
            if self.mask.words[i] & om != om {
                return false;
            }
            if (self.value.words[i] ^ other.value.words[i]) & om != 0 {
                return false;
            }
        }
        true
    }

    /// Whether some packet could match both.
    pub fn overlaps(&self, other: &Match) -> bool {
        for i in 0..KEY_WORDS {
            let m = self.mask.words[i] & other.mask.words[i];
            if (self.value.words[i] ^ other.value.words[i]) & m != 0 {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_match() {
        let mut m = Match::CATCHALL;
        m.set(Field::InPort, 1);
        m.set(Field::DlVlan, 4);
        let mut k = FlowKey::ZERO;
        k.set_in_port(1);
        assert!(!m.matches(&k));
        k.set_vlan_tci(0x1004);
        assert!(m.matches(&k));
        assert_eq!(m.mask.vlan_tci(), 0x1fff);
        assert_eq!(m.value.vlan_tci(), 0x1004);
    }

    #[test]
    fn within_relation() {
        let mut wide = Match::CATCHALL;
        wide.set(Field::InPort, 1);
        let mut narrow = wide;
        narrow.set(Field::EthType, 0x800);
        assert!(narrow.is_within(&wide));
        assert!(!wide.is_within(&narrow));
        assert!(wide.is_within(&Match::CATCHALL));
        assert!(wide.overlaps(&narrow));
    }
}
