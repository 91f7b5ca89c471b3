//! Per-worker exact-match cache: full flow key → small `Copy` value (e.g. a
//! rule id or megaflow index), invalidated wholesale by a generation number.
//!
//! Two-way set associative with FIFO replacement inside a set: the newest
//! entry goes to way 0 and the previous way-0 entry moves to way 1. Entries
//! of an older generation count as free. All memory is allocated by
//! [`ExactCache::new`]; `get` and `insert` never allocate. Memory is about
//! 224 bytes per entry plus the size of `V`.

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

/// One odd multiplier per key word, fixed at compile time so hashes are
/// reproducible.
const HASH_MULTIPLIERS: [u64; KEY_WORDS] = {
    let mut keys = [0u64; KEY_WORDS];
    let mut state = 0x5253_5749_5443_4821; // "RSWITCH!"
    let mut i = 0;
    while i < keys.len() {
        let (s, k) = splitmix64(state);
        state = s;
        keys[i] = k | 1;
        i += 1;
    }
    keys
};

const FINAL_SEED: u64 = 0x243f_6a88_85a3_08d3;
const FINAL_MULTIPLIER: u64 = 0x5851_f42d_4c95_7f2d;

/// Hashes a whole flow key.
///
/// Each word is multiplied by its own odd constant and the products
/// summed: 25 independent multiplies (no serial chain), and two keys that
/// differ in a single word can never collide before the final step. One
/// multiply-fold then mixes the sum's bits. Fast and well distributed for
/// real keys, but not DoS-resistant (the constants are public), which is
/// fine for a cache that always compares the full key.
#[inline]
pub fn hash_key(key: &FlowKey) -> u64 {
    let mut sum = 0u64;
    for (w, m) in key.words.iter().zip(&HASH_MULTIPLIERS) {
        sum = sum.wrapping_add(w.wrapping_mul(*m));
    }
    fold_multiply(sum ^ FINAL_SEED, FINAL_MULTIPLIER)
}

/// The small part of an entry, kept apart from the 200-byte keys so that a
/// miss (or the wrong way of a set) is rejected from one cache line.
#[derive(Clone, Copy)]
struct Tag<V: Copy> {
    hash: u64,
    generation: u64,
    /// `None` for a never-filled entry (V has no default to put there).
    value: Option<V>,
}

const WAYS: usize = 2;

/// A fixed-size exact-match cache. Not shared between threads: one per
/// worker, so no locking.
pub struct ExactCache<V: Copy> {
    /// `WAYS` consecutive entries per set; way 0 is the newer.
    tags: Box<[Tag<V>]>,
    keys: Box<[FlowKey]>,
    set_mask: usize,
}

impl<V: Copy> ExactCache<V> {
    /// A cache of `capacity` entries, rounded up to a power of two (at
    /// least 2: one set of two ways).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(WAYS).next_power_of_two();
        let empty = Tag {
            hash: 0,
            generation: 0,
            value: None,
        };
        ExactCache {
            tags: vec![empty; capacity].into_boxed_slice(),
            keys: vec![FlowKey::ZERO; capacity].into_boxed_slice(),
            set_mask: capacity / WAYS - 1,
        }
    }

    pub fn capacity(&self) -> usize {
        self.tags.len()
    }

    #[inline(always)]
    fn set_of(&self, hash: u64) -> usize {
        ((hash >> 32) as usize & self.set_mask) * WAYS
    }

    /// The value cached for `key`, unless it was stored under another
    /// generation.
    #[inline]
    pub fn get(&self, key: &FlowKey, generation: u64) -> Option<V> {
        self.get_hashed(key, hash_key(key), generation)
    }

    /// [`get`](ExactCache::get) with `hash == hash_key(key)` computed by the
    /// caller, so a miss followed by an insert hashes once.
    #[inline]
    pub fn get_hashed(&self, key: &FlowKey, hash: u64, generation: u64) -> Option<V> {
        debug_assert_eq!(hash, hash_key(key));
        let set = self.set_of(hash);
        (set..set + WAYS).find_map(|i| {
            let t = &self.tags[i];
            if t.hash == hash && t.generation == generation && self.keys[i] == *key {
                t.value
            } else {
                None
            }
        })
    }

    /// Caches `value` for `key`, replacing an entry for the same key, else
    /// a stale or empty way, else the older of the two ways.
    #[inline]
    pub fn insert(&mut self, key: &FlowKey, generation: u64, value: V) {
        self.insert_hashed(key, hash_key(key), generation, value)
    }

    /// [`insert`](ExactCache::insert) with a precomputed `hash_key(key)`.
    #[inline]
    pub fn insert_hashed(&mut self, key: &FlowKey, hash: u64, generation: u64, value: V) {
        debug_assert_eq!(hash, hash_key(key));
        let set = self.set_of(hash);
        let tag = Tag {
            hash,
            generation,
            value: Some(value),
        };
        let live = |t: &Tag<V>| t.value.is_some() && t.generation == generation;
        let same = (set..set + WAYS)
            .find(|&i| live(&self.tags[i]) && self.tags[i].hash == hash && self.keys[i] == *key);
        let way = match same {
            Some(i) => i,
            None if !live(&self.tags[set]) => set,
            None => {
                // Way 0 holds the newest entry; it ages into way 1, whose
                // (older or dead) entry is dropped.
                self.tags[set + 1] = self.tags[set];
                self.keys[set + 1] = self.keys[set];
                set
            }
        };
        self.tags[way] = tag;
        self.keys[way] = *key;
    }

    /// Forgets every entry (bumping the generation does the same lazily).
    pub fn clear(&mut self) {
        for t in self.tags.iter_mut() {
            t.value = None;
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
    fn hashed_variants_agree() {
        let mut c = ExactCache::new(16);
        let k = key(9);
        let h = hash_key(&k);
        c.insert_hashed(&k, h, 3, 99u16);
        assert_eq!(c.get(&k, 3), Some(99));
        assert_eq!(c.get_hashed(&k, h, 3), Some(99));
        assert_eq!(c.get_hashed(&k, h, 4), None);
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
                assert!(
                    (12..=52).contains(&diff),
                    "word {word} bit {bit}: {diff} bits"
                );
            }
        }
    }
}
