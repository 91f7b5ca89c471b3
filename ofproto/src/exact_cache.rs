//! Per-worker exact-match cache: full flow key → small `Copy` value (e.g. a
//! rule id or megaflow index), invalidated wholesale by a generation number.
//!
//! Two-way set associative with FIFO replacement inside a set: the newest
//! entry goes to way 0 and the previous way-0 entry moves to way 1. Entries
//! of an older generation count as free. All memory is allocated by
//! [`ExactCache::new`]; `get` and `insert` never allocate.

use crate::key::{FlowKey, KEY_WORDS};

#[inline(always)]
fn fold_multiply(a: u64, b: u64) -> u64 {
    let full = (a as u128).wrapping_mul(b as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

const fn splitmix64(state: u64) -> (u64, u64) {
    let state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (state, z ^ (z >> 31))
}

/// One random-looking constant per key word (plus one to pair the odd word
/// with), fixed at compile time so hashes are reproducible.
const HASH_KEYS: [u64; KEY_WORDS + 1] = {
    let mut keys = [0u64; KEY_WORDS + 1];
    let mut state = 0x5253_5749_5443_4821; // "RSWITCH!"
    let mut i = 0;
    while i < keys.len() {
        let (s, k) = splitmix64(state);
        state = s;
        keys[i] = k;
        i += 1;
    }
    keys
};

/// Hashes a whole flow key.
///
/// Words are mixed in independent pairs (`fold_multiply(a ^ k1, b ^ k2)`)
/// and the products summed, so the 13 multiplies run in parallel instead of
/// forming a 25-step dependency chain; a final fold mixes the sum. Fast and
/// well distributed for real keys, but not DoS-resistant (the constants are
/// public), which is fine for a cache that always compares the full key.
#[inline]
pub fn hash_key(key: &FlowKey) -> u64 {
    let w = &key.words;
    let k = &HASH_KEYS;
    let mut sum = 0u64;
    let mut i = 0;
    while i + 1 < KEY_WORDS {
        sum = sum.wrapping_add(fold_multiply(w[i] ^ k[i], w[i + 1] ^ k[i + 1]));
        i += 2;
    }
    if KEY_WORDS % 2 == 1 {
        sum = sum.wrapping_add(fold_multiply(w[KEY_WORDS - 1] ^ k[KEY_WORDS - 1], k[KEY_WORDS]));
    }
    fold_multiply(sum, 0x5851_f42d_4c95_7f2d)
}

#[derive(Clone, Copy)]
struct Entry<V: Copy> {
    /// `None` for a never-filled entry (V has no default to put there).
    value: Option<V>,
    generation: u64,
    hash: u64,
    key: FlowKey,
}

const WAYS: usize = 2;

/// A fixed-size exact-match cache. Not shared between threads: one per
/// worker, so no locking.
pub struct ExactCache<V: Copy> {
    entries: Box<[Entry<V>]>,
    set_mask: usize,
}

impl<V: Copy> ExactCache<V> {
    /// A cache of `capacity` entries, rounded up to a power of two (at
    /// least 2: one set of two ways).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(WAYS).next_power_of_two();
        let empty = Entry {
            value: None,
            generation: 0,
            hash: 0,
            key: FlowKey::ZERO,
        };
        ExactCache {
            entries: vec![empty; capacity].into_boxed_slice(),
            set_mask: capacity / WAYS - 1,
        }
    }

    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    #[inline(always)]
    fn set_of(&self, hash: u64) -> usize {
        // High bits: fold_multiply's low and high halves are both good,
        // but keeping the index apart from the low bits used nowhere else
        // costs nothing.
        ((hash >> 32) as usize & self.set_mask) * WAYS
    }

    /// The value cached for `key`, unless it was stored under another
    /// generation.
    #[inline]
    pub fn get(&self, key: &FlowKey, generation: u64) -> Option<V> {
        let hash = hash_key(key);
        let set = self.set_of(hash);
        self.entries[set..set + WAYS]
            .iter()
            .find(|e| e.hash == hash && e.generation == generation && e.key == *key)
            .and_then(|e| e.value)
    }

    /// Caches `value` for `key`, replacing an entry for the same key, else
    /// a stale or empty way, else the older of the two ways.
    #[inline]
    pub fn insert(&mut self, key: &FlowKey, generation: u64, value: V) {
        let hash = hash_key(key);
        let set = self.set_of(hash);
        let ways = &mut self.entries[set..set + WAYS];
        let entry = Entry {
            value: Some(value),
            generation,
            hash,
            key: *key,
        };
        let live = |e: &Entry<V>| e.value.is_some() && e.generation == generation;
        if let Some(same) = ways
            .iter_mut()
            .find(|e| live(e) && e.hash == hash && e.key == *key)
        {
            *same = entry;
        } else if !live(&ways[0]) {
            ways[0] = entry;
        } else {
            // Way 0 holds the newest entry; it ages into way 1, whose
            // (older or dead) entry is dropped.
            ways[1] = ways[0];
            ways[0] = entry;
        }
    }

    /// Forgets every entry (bumping the generation does the same lazily).
    pub fn clear(&mut self) {
        for e in self.entries.iter_mut() {
            e.value = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> FlowKey {
        let mut k = FlowKey::ZERO;
        k.words[0] = n;
        k.words[14] = n.wrapping_mul(31);
        k
    }

    #[test]
    fn hit_and_miss() {
        let mut c = ExactCache::new(64);
        assert_eq!(c.get(&key(1), 0), None);
        c.insert(&key(1), 0, 10u32);
        assert_eq!(c.get(&key(1), 0), Some(10));
        assert_eq!(c.get(&key(2), 0), None);
        c.insert(&key(1), 0, 11);
        assert_eq!(c.get(&key(1), 0), Some(11));
    }

    #[test]
    fn generation_invalidates() {
        let mut c = ExactCache::new(64);
        c.insert(&key(1), 7, 'x');
        assert_eq!(c.get(&key(1), 7), Some('x'));
        assert_eq!(c.get(&key(1), 8), None);
        c.insert(&key(1), 8, 'y');
        assert_eq!(c.get(&key(1), 8), Some('y'));
        assert_eq!(c.get(&key(1), 7), None);
    }

    #[test]
    fn clear_empties() {
        let mut c = ExactCache::new(8);
        c.insert(&key(3), 0, 3u8);
        c.clear();
        assert_eq!(c.get(&key(3), 0), None);
    }

    #[test]
    fn collisions_evict_the_oldest_way() {
        // Two ways, one set: every key collides.
        let mut c = ExactCache::new(2);
        assert_eq!(c.capacity(), 2);
        c.insert(&key(1), 0, 1u32);
        c.insert(&key(2), 0, 2);
        assert_eq!(c.get(&key(1), 0), Some(1));
        assert_eq!(c.get(&key(2), 0), Some(2));
        c.insert(&key(3), 0, 3);
        assert_eq!(c.get(&key(1), 0), None, "oldest evicted");
        assert_eq!(c.get(&key(2), 0), Some(2));
        assert_eq!(c.get(&key(3), 0), Some(3));
        // A stale way is reused before a live one is evicted.
        c.insert(&key(4), 1, 4);
        c.insert(&key(5), 1, 5);
        assert_eq!(c.get(&key(4), 1), Some(4));
        assert_eq!(c.get(&key(5), 1), Some(5));
    }

    #[test]
    fn capacity_rounds_up_and_fills() {
        let mut c = ExactCache::new(1000);
        assert_eq!(c.capacity(), 1024);
        for n in 0..512 {
            c.insert(&key(n), 0, n);
        }
        let hits = (0..512).filter(|&n| c.get(&key(n), 0) == Some(n)).count();
        // 512 keys into 512 two-way sets: a uniform hash keeps about
        // 1 - (3/e - 1) = 90% of them (balls into bins of size 2).
        assert!(hits > 430, "only {hits} of 512 kept");
    }

    #[test]
    fn hash_spreads_single_bit_changes() {
        let base = hash_key(&FlowKey::ZERO);
        for word in 0..KEY_WORDS {
            for bit in [0, 17, 40, 63] {
                let mut k = FlowKey::ZERO;
                k.words[word] = 1 << bit;
                let diff = (hash_key(&k) ^ base).count_ones();
                assert!((12..=52).contains(&diff), "word {word} bit {bit}: {diff} bits");
            }
        }
    }
}
