//! Tuple-space-search classifier: finds the highest-priority rule matching a
//! flow key, with one hash table ("subtable") per distinct mask.
//!
//! # Semantics
//!
//! A lookup returns the matching rule with the highest priority; among rules
//! of equal priority the one inserted **earliest** wins. (OpenFlow leaves
//! that case undefined; we pick the deterministic answer so that tests,
//! traces and replays agree.) Modifying a rule's payload through
//! [`Classifier::get_mut`] keeps its insertion order.
//!
//! # Layout and cost
//!
//! * Each subtable stores only the mask words that are non-zero, so hashing
//!   and comparing touch 1–4 words instead of the key's 25.
//! * A subtable keeps one "head" per distinct masked value: the masked words
//!   plus the rank and id of its best rule, so a hit is settled without
//!   touching the rule slab. Rules sharing a masked value form a list
//!   sorted by (priority desc, insertion asc).
//! * Subtables are kept sorted by the best rank they could possibly hold
//!   (max priority, then creation order), so a lookup stops as soon as no
//!   remaining subtable can beat the best match found so far.
//! * Visiting a subtable that does not match (the common case) costs a
//!   branch-free multiplicative hash of its words plus one bit test in a
//!   per-subtable filter; the hash table itself is only probed when the
//!   filter bit is set. Lookup cost is therefore roughly proportional to
//!   the number of subtables visited (≈3.5 ns each on the bench machine),
//!   which is why distinct masks should be few and priority bands help.
//! * Rules live in a slab indexed by [`RuleId`], so ids are dense and a
//!   caller can keep side tables in a `Vec` indexed by [`RuleId::index`].
//!
//! `lookup` allocates nothing. Inserting or removing a rule is O(1)
//! amortised, except creating or deleting a subtable (a mask seen for the
//! first or last time), which is O(number of subtables).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::flow_match::Match;
use crate::key::{FlowKey, KEY_WORDS};

/// Identifies a rule while it is installed. Ids of removed rules are reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RuleId(u32);

impl RuleId {
    /// Dense index (ids are slab slots), handy for side tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A rule's priority and insertion order folded into one number where
/// bigger means "wins": `priority << 48 | (SEQ_LIMIT - seq)`. One integer
/// comparison then implements "highest priority, then earliest insertion".
type Rank = u64;

const SEQ_BITS: u32 = 48;
/// Insertion sequence numbers stay below this; reaching it triggers a
/// renumbering of all rules (see [`Classifier::renumber`]).
const SEQ_LIMIT: u64 = (1 << SEQ_BITS) - 1;

fn make_rank(priority: u16, seq: u64) -> Rank {
    debug_assert!(seq < SEQ_LIMIT);
    ((priority as u64) << SEQ_BITS) | (SEQ_LIMIT - seq)
}

fn rank_priority(rank: Rank) -> u16 {
    (rank >> SEQ_BITS) as u16
}

fn rank_seq(rank: Rank) -> u64 {
    SEQ_LIMIT - (rank & SEQ_LIMIT)
}

/// End of a rule list / absent index.
const NIL: u32 = u32::MAX;

/// The two words each head carries after its masked key words.
const HEAD_META_WORDS: usize = 2;

/// Multiply-fold mixing (as in aHash/wyhash): strong avalanche for the price
/// of one widening multiply.
#[inline(always)]
fn fold_multiply(a: u64, b: u64) -> u64 {
    let full = (a as u128).wrapping_mul(b as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

const HASH_SEED: u64 = 0x243f_6a88_85a3_08d3;
const HASH_MULTIPLIER: u64 = 0x5851_f42d_4c95_7f2d;

#[inline(always)]
fn mix_word(h: u64, w: u64) -> u64 {
    fold_multiply(h ^ w, HASH_MULTIPLIER)
}

/// Mask words are hashed by multiplicative hashing: each masked word times
/// its own odd constant, summed; the tag is the top half of the sum (the
/// well-mixed half of a product). The products are independent, and the
/// first chunk covers masks of up to `CHUNK_WORDS` words (nearly all) with
/// no data-dependent loop. Lookup cost is dominated by instruction count
/// per subtable, hence this lean hash rather than a stronger one; the full
/// key comparison after a tag match keeps it correct regardless.
const CHUNK_WORDS: usize = 3;
const MAX_CHUNKS: usize = KEY_WORDS.div_ceil(CHUNK_WORDS);

const fn splitmix64(state: u64) -> (u64, u64) {
    let state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (state, z ^ (z >> 31))
}

/// Odd per-position multipliers: distinct so that equal words in different
/// positions do not cancel.
const CHUNK_MULTIPLIERS: [[u64; CHUNK_WORDS]; MAX_CHUNKS] = {
    let mut keys = [[0u64; CHUNK_WORDS]; MAX_CHUNKS];
    let mut state = HASH_SEED;
    let mut c = 0;
    while c < MAX_CHUNKS {
        let mut j = 0;
        while j < CHUNK_WORDS {
            let (s, k) = splitmix64(state);
            state = s;
            keys[c][j] = k | 1;
            j += 1;
        }
        c += 1;
    }
    keys
};

/// A key word index that the compiler knows is in range, so indexing the
/// key with it in the lookup loop needs no bounds check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
#[rustfmt::skip]
enum WordIndex {
    #[default]
    W0, W1, W2, W3, W4, W5, W6, W7, W8, W9, W10, W11, W12, W13, W14, W15, W16,
    W17, W18, W19, W20, W21, W22, W23, W24,
}

/// Every index of a key; the array length ties the enum to KEY_WORDS.
#[rustfmt::skip]
const WORD_INDICES: [WordIndex; KEY_WORDS] = {
    use WordIndex::*;
    [W0, W1, W2, W3, W4, W5, W6, W7, W8, W9, W10, W11, W12, W13, W14, W15, W16,
     W17, W18, W19, W20, W21, W22, W23, W24]
};

#[inline(always)]
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Up to `CHUNK_WORDS` mask words (padding has mask 0, so it contributes
/// nothing).
#[derive(Clone, Copy, Debug, Default)]
struct HashChunk {
    index: [WordIndex; CHUNK_WORDS],
    mask: [u64; CHUNK_WORDS],
}

impl HashChunk {
    /// The multipliers depend only on the chunk's position, so for the
    /// first chunk they are constants the lookup loop keeps in registers.
    #[inline(always)]
    fn hash(&self, key: &FlowKey, multipliers: &[u64; CHUNK_WORDS]) -> u64 {
        let mut h = 0u64;
        for ((&index, &mask), &multiplier) in self.index.iter().zip(&self.mask).zip(multipliers) {
            h = h.wrapping_add((key.words[index as usize] & mask).wrapping_mul(multiplier));
        }
        h
    }
}

#[derive(Clone, Copy, Debug)]
struct MaskWord {
    index: usize,
    /// `index` again, in the form that indexes a key without a bounds check.
    word: WordIndex,
    mask: u64,
}

struct Rule<T> {
    value: T,
    rank: Rank,
    subtable: u32,
    /// Index of the head (distinct masked value) inside the subtable.
    head: u32,
    /// Next rule with the same masked value, in rank order.
    next: u32,
}

enum Slot<T> {
    Occupied(Rule<T>),
    Vacant { next_free: u32 },
}

/// Slots per full slab page; earlier pages are 16, 16, 32, ... 2048 slots.
const SLAB_PAGE: usize = 4096;
const SLAB_FIRST_PAGE: usize = 16;

/// Rule storage in pages that double up to [`SLAB_PAGE`] slots and then stay
/// that size. Growing never moves rules, and spare capacity stays under
/// 4096 slots (a doubling `Vec` would waste up to half: tens of bytes per
/// rule once the payload is a full flow entry), while tiny tables stay tiny.
struct Slab<T> {
    pages: Vec<Box<[Slot<T>]>>,
    len: usize,
}

impl<T> Slab<T> {
    fn new() -> Self {
        Slab {
            pages: Vec::new(),
            len: 0,
        }
    }

    /// (page, offset) of slot `i`.
    #[inline]
    fn locate(i: usize) -> (usize, usize) {
        if i < SLAB_FIRST_PAGE {
            (0, i)
        } else if i < SLAB_PAGE {
            // Page p >= 1 starts at 2^(p+3) and holds as many slots.
            let p = i.ilog2() as usize - 3;
            (p, i - (1 << (p + 3)))
        } else {
            (i / SLAB_PAGE + 8, i % SLAB_PAGE)
        }
    }

    fn page_size(page: usize) -> usize {
        match page {
            0 => SLAB_FIRST_PAGE,
            1..=8 => 1 << (page + 3),
            _ => SLAB_PAGE,
        }
    }

    fn get(&self, i: usize) -> Option<&Slot<T>> {
        if i < self.len {
            let (p, o) = Self::locate(i);
            Some(&self.pages[p][o])
        } else {
            None
        }
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut Slot<T>> {
        if i < self.len {
            let (p, o) = Self::locate(i);
            Some(&mut self.pages[p][o])
        } else {
            None
        }
    }

    fn push_vacant(&mut self) -> usize {
        let i = self.len;
        if Self::locate(i).0 == self.pages.len() {
            let size = Self::page_size(self.pages.len());
            self.pages
                .push((0..size).map(|_| Slot::Vacant { next_free: NIL }).collect());
        }
        self.len += 1;
        i
    }

    fn clear(&mut self) {
        self.pages.clear();
        self.len = 0;
    }

    fn iter(&self) -> impl Iterator<Item = &Slot<T>> + '_ {
        self.pages.iter().flat_map(|p| p.iter()).take(self.len)
    }

    fn heap_bytes(&self) -> usize {
        self.pages.iter().map(|p| p.len()).sum::<usize>() * std::mem::size_of::<Slot<T>>()
            + self.pages.capacity() * std::mem::size_of::<Box<[Slot<T>]>>()
    }
}

impl<T> std::ops::Index<usize> for Slab<T> {
    type Output = Slot<T>;
    fn index(&self, i: usize) -> &Slot<T> {
        self.get(i).expect("slab index out of range")
    }
}

impl<T> std::ops::IndexMut<usize> for Slab<T> {
    fn index_mut(&mut self, i: usize) -> &mut Slot<T> {
        self.get_mut(i).expect("slab index out of range")
    }
}

/// Bucket encoding: `tag << 32 | head`, where `tag` is the high half of the
/// hash. The home bucket is the top bits of `tag`, so rehashing and
/// deletion never need to recompute a hash from the key words.
///
/// Buckets fill up to 3/4: linear probing gets slow on misses at that load,
/// but misses rarely reach the buckets (the filter answers them), while a
/// lower load would cost ~8 more bytes per rule.
const EMPTY_BUCKET: u64 = u64::MAX;
const MIN_BUCKET_BITS: u32 = 2;

/// The filter keeps this many bits per head, so a packet that matches
/// nothing in a subtable finds a clear bit ~94–97% of the time: the "skip"
/// branch stays predictable and the bucket array is not touched.
const FILTER_BITS_PER_HEAD: usize = 16;
const MIN_FILTER_BITS: u32 = 6;

/// All rules sharing one mask. Fields used by every lookup come first.
struct Subtable {
    /// Upper bound of the rank of any rule here (max priority, creation
    /// seq); the subtable list is sorted by it, descending.
    bound: Rank,
    first_chunk: HashChunk,
    more_chunks: Box<[HashChunk]>,
    /// One bit per hash prefix (top bits of the tag: multiplicative
    /// hashing mixes upwards, so the top bits are the good ones) that some
    /// head has. Removal leaves bits set (a false positive only costs a
    /// probe); it is rebuilt from the buckets once enough are stale.
    filter: Box<[u64]>,
    /// `64 - log2(filter length in bits)`: hash >> shift is the bit index.
    filter_shift: u32,
    filter_stale: u32,
    /// Non-zero words of the mask, in key order.
    words: Box<[MaskWord]>,
    /// Per head: `words.len()` masked key words, then the best rule's rank,
    /// then the best rule's slab index.
    heads: Vec<u64>,
    stride: usize,
    buckets: Box<[u64]>,
    bucket_bits: u32,
    /// Stable id (what rules point to); its position in the sorted list
    /// changes as priorities come and go.
    id: u32,
    n_rules: u32,
    creation_seq: u64,
    /// How many rules have each priority, to keep `bound` exact on removal.
    priorities: BTreeMap<u16, u32>,
    mask: Box<FlowKey>,
}

impl Subtable {
    fn new(mask: &FlowKey, id: u32, creation_seq: u64) -> Subtable {
        let words: Box<[MaskWord]> = mask
            .words
            .iter()
            .enumerate()
            .filter(|(_, &m)| m != 0)
            .map(|(index, &mask)| MaskWord {
                index,
                word: WORD_INDICES[index],
                mask,
            })
            .collect();
        let mut chunks: Vec<HashChunk> = words
            .chunks(CHUNK_WORDS)
            .map(|ws| {
                let mut c = HashChunk::default();
                for (j, w) in ws.iter().enumerate() {
                    c.index[j] = WORD_INDICES[w.index];
                    c.mask[j] = w.mask;
                }
                c
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(HashChunk::default());
        }
        let stride = words.len() + HEAD_META_WORDS;
        Subtable {
            bound: make_rank(0, creation_seq),
            first_chunk: chunks[0],
            more_chunks: chunks[1..].into(),
            filter: vec![0; 1 << (MIN_FILTER_BITS - 6)].into_boxed_slice(),
            filter_shift: 64 - MIN_FILTER_BITS,
            filter_stale: 0,
            words,
            heads: Vec::new(),
            stride,
            buckets: vec![EMPTY_BUCKET; 1 << MIN_BUCKET_BITS].into_boxed_slice(),
            bucket_bits: MIN_BUCKET_BITS,
            id,
            n_rules: 0,
            creation_seq,
            priorities: BTreeMap::new(),
            mask: Box::new(*mask),
        }
    }

    fn n_heads(&self) -> usize {
        self.heads.len() / self.stride
    }

    /// Hash of `key` under this subtable's mask. Only its top half is
    /// meaningful: the filter uses its top bits, buckets store it as a tag.
    #[inline(always)]
    fn hash(&self, key: &FlowKey) -> u64 {
        let mut h = self.first_chunk.hash(key, &CHUNK_MULTIPLIERS[0]);
        for (chunk, multipliers) in self.more_chunks.iter().zip(&CHUNK_MULTIPLIERS[1..]) {
            h = h.wrapping_add(chunk.hash(key, multipliers));
        }
        h
    }

    fn tag_of_head(&self, head: usize) -> u32 {
        let mut key = FlowKey::ZERO;
        for (w, &v) in self.words.iter().zip(self.head_words(head)) {
            key.words[w.index] = v;
        }
        tag_of(self.hash(&key))
    }

    #[inline(always)]
    fn home(&self, tag: u32) -> usize {
        (tag >> (32 - self.bucket_bits)) as usize
    }

    #[inline(always)]
    fn filter_says_absent(&self, hash: u64) -> bool {
        let bit = hash >> self.filter_shift;
        self.filter[(bit >> 6) as usize] & (1 << (bit & 63)) == 0
    }

    fn filter_len_bits(&self) -> usize {
        self.filter.len() * 64
    }

    fn filter_add(&mut self, tag: u32) {
        let bit = ((tag as u64) << 32) >> self.filter_shift;
        self.filter[(bit >> 6) as usize] |= 1 << (bit & 63);
    }

    /// Resizes the filter to suit the current head count and clears stale
    /// bits, reading tags back from the buckets.
    fn rebuild_filter(&mut self) {
        let wanted = (self.n_heads() * FILTER_BITS_PER_HEAD).next_power_of_two();
        let bits = wanted.trailing_zeros().max(MIN_FILTER_BITS);
        self.filter_shift = 64 - bits;
        self.filter = vec![0; 1 << (bits - 6)].into_boxed_slice();
        self.filter_stale = 0;
        for i in 0..self.buckets.len() {
            let b = self.buckets[i];
            if b != EMPTY_BUCKET {
                self.filter_add((b >> 32) as u32);
            }
        }
    }

    /// Index of the head equal to `key` under this subtable's mask.
    fn find_head(&self, key: &FlowKey) -> Option<usize> {
        let hash = self.hash(key);
        if self.filter_says_absent(hash) {
            return None;
        }
        self.probe(key, hash)
    }

    #[inline]
    fn probe(&self, key: &FlowKey, hash: u64) -> Option<usize> {
        let tag = tag_of(hash);
        let bucket_mask = self.buckets.len() - 1;
        let mut i = self.home(tag);
        loop {
            let bucket = self.buckets[i];
            if bucket == EMPTY_BUCKET {
                return None;
            }
            if (bucket >> 32) as u32 == tag {
                let head = bucket as u32 as usize;
                if self
                    .head_words(head)
                    .iter()
                    .zip(self.words.iter())
                    .all(|(&s, w)| s == key.words[w.word as usize] & w.mask)
                {
                    return Some(head);
                }
            }
            i = (i + 1) & bucket_mask;
        }
    }

    fn head_rank(&self, head: usize) -> Rank {
        self.heads[head * self.stride + self.words.len()]
    }

    fn head_rule(&self, head: usize) -> u32 {
        self.heads[head * self.stride + self.words.len() + 1] as u32
    }

    fn set_head_best(&mut self, head: usize, rank: Rank, rule: u32) {
        let meta = head * self.stride + self.words.len();
        self.heads[meta] = rank;
        self.heads[meta + 1] = rule as u64;
    }

    fn head_words(&self, head: usize) -> &[u64] {
        let base = head * self.stride;
        &self.heads[base..base + self.words.len()]
    }

    fn add_head(&mut self, key: &FlowKey, rank: Rank, rule: u32) -> usize {
        let head = self.n_heads();
        assert!(head < NIL as usize, "subtable head index overflow");
        let tag = tag_of(self.hash(key));
        if self.heads.capacity() - self.heads.len() < self.stride {
            // Grow by half rather than doubling: heads are most of a
            // subtable's memory, and the 300-bytes-per-flow budget is tight.
            self.heads
                .reserve_exact(self.heads.len() / 2 + 4 * self.stride);
        }
        self.heads
            .extend(self.words.iter().map(|w| key.words[w.index] & w.mask));
        self.heads.push(rank);
        self.heads.push(rule as u64);
        if (head + 1) * 4 > self.buckets.len() * 3 {
            self.resize_buckets(self.bucket_bits + 1);
        }
        self.place_bucket(((tag as u64) << 32) | head as u64);
        if (head + 1) * FILTER_BITS_PER_HEAD > self.filter_len_bits() {
            self.rebuild_filter();
        } else {
            self.filter_add(tag);
        }
        head
    }

    fn place_bucket(&mut self, bucket: u64) {
        let bucket_mask = self.buckets.len() - 1;
        let mut i = self.home((bucket >> 32) as u32);
        while self.buckets[i] != EMPTY_BUCKET {
            i = (i + 1) & bucket_mask;
        }
        self.buckets[i] = bucket;
    }

    fn resize_buckets(&mut self, bits: u32) {
        let old = std::mem::replace(
            &mut self.buckets,
            vec![EMPTY_BUCKET; 1 << bits].into_boxed_slice(),
        );
        self.bucket_bits = bits;
        for b in old.iter().copied().filter(|&b| b != EMPTY_BUCKET) {
            self.place_bucket(b);
        }
    }

    /// Position in `buckets` of the bucket that points at `head`.
    fn bucket_of(&self, head: usize) -> usize {
        let tag = self.tag_of_head(head);
        let bucket_mask = self.buckets.len() - 1;
        let mut i = self.home(tag);
        while self.buckets[i] as u32 as usize != head {
            debug_assert_ne!(self.buckets[i], EMPTY_BUCKET, "head missing from buckets");
            i = (i + 1) & bucket_mask;
        }
        i
    }

    /// Linear-probing deletion by backward shift, so no tombstones slow
    /// later misses down.
    fn delete_bucket(&mut self, pos: usize) {
        let bucket_mask = self.buckets.len() - 1;
        let mut hole = pos;
        let mut j = pos;
        loop {
            j = (j + 1) & bucket_mask;
            let b = self.buckets[j];
            if b == EMPTY_BUCKET {
                break;
            }
            let home = self.home((b >> 32) as u32);
            // The entry may fill the hole unless its home lies cyclically
            // in (hole, j].
            if (j.wrapping_sub(home) & bucket_mask) >= (j.wrapping_sub(hole) & bucket_mask) {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = EMPTY_BUCKET;
    }

    /// Removes `head` by moving the last head into its place; returns the
    /// old index of the moved head (whose rules must be re-pointed), if any.
    fn remove_head(&mut self, head: usize) -> Option<usize> {
        let pos = self.bucket_of(head);
        self.delete_bucket(pos);
        let last = self.n_heads() - 1;
        let moved = if head != last {
            let pos = self.bucket_of(last);
            self.buckets[pos] = (self.buckets[pos] & !0xffff_ffff) | head as u64;
            let (dst, src) = (head * self.stride, last * self.stride);
            self.heads.copy_within(src..src + self.stride, dst);
            Some(last)
        } else {
            None
        };
        self.heads.truncate(last * self.stride);
        if self.bucket_bits > MIN_BUCKET_BITS && self.n_heads() * 16 < self.buckets.len() * 3 {
            self.resize_buckets(self.bucket_bits - 1);
        }
        if self.heads.capacity() > 2 * self.heads.len() + 64 {
            self.heads
                .shrink_to(self.heads.len() + self.heads.len() / 4);
        }
        self.filter_stale += 1;
        let too_big = self.filter_len_bits() > 1 << MIN_FILTER_BITS
            && self.n_heads() * FILTER_BITS_PER_HEAD * 4 < self.filter_len_bits();
        if too_big || self.filter_stale as usize > self.n_heads() / 2 + 8 {
            self.rebuild_filter();
        }
        moved
    }

    fn recompute_bound(&mut self) {
        let max = self.priorities.keys().next_back().copied().unwrap_or(0);
        self.bound = make_rank(max, self.creation_seq);
    }

    /// Does head `head` agree with `m` on every bit both masks pin?
    fn head_overlaps(&self, head: usize, m: &Match) -> bool {
        self.head_words(head)
            .iter()
            .zip(self.words.iter())
            .all(|(&s, w)| (s ^ m.value.words[w.index]) & w.mask & m.mask.words[w.index] == 0)
    }

    /// Does head `head` agree with `m` on `m`'s mask? (Only meaningful when
    /// this subtable's mask covers `m`'s.)
    fn head_within(&self, head: usize, m: &Match) -> bool {
        self.head_words(head)
            .iter()
            .zip(self.words.iter())
            .all(|(&s, w)| (s ^ m.value.words[w.index]) & m.mask.words[w.index] == 0)
    }

    fn mask_covers(&self, m: &FlowKey) -> bool {
        (0..KEY_WORDS).all(|i| self.mask.words[i] & m.words[i] == m.words[i])
    }

    fn mask_is_covered_by(&self, m: &FlowKey) -> bool {
        self.words
            .iter()
            .all(|w| m.words[w.index] & w.mask == w.mask)
    }

    fn heap_bytes(&self) -> usize {
        self.words.len() * std::mem::size_of::<MaskWord>()
            + self.more_chunks.len() * std::mem::size_of::<HashChunk>()
            + self.filter.len() * 8
            + self.heads.capacity() * 8
            + self.buckets.len() * 8
            + std::mem::size_of::<FlowKey>()
            // BTreeMap nodes: a rough per-entry figure, enough for reports.
            + self.priorities.len() * 16
    }
}

/// A deterministic, fast hasher for the mask → subtable map (masks are
/// 200-byte keys; SipHash would dominate insert time).
#[derive(Default)]
struct MaskHasher(u64);

impl Hasher for MaskHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("chunk of 8"));
            self.0 = mix_word(self.0 ^ HASH_SEED, w);
        }
        for &b in chunks.remainder() {
            self.0 = mix_word(self.0, b as u64);
        }
    }

    fn write_u64(&mut self, w: u64) {
        self.0 = mix_word(self.0 ^ HASH_SEED, w);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type MaskMap = HashMap<FlowKey, u32, BuildHasherDefault<MaskHasher>>;

/// A set of rules (`Match` + priority + payload `T`) searchable by flow key.
pub struct Classifier<T> {
    slots: Slab<T>,
    free_slot: u32,
    n_rules: usize,
    /// Sorted by `bound`, descending: the order lookups visit them in.
    subtables: Vec<Subtable>,
    /// Subtable id → position in `subtables` (NIL when the id is free).
    subtable_pos: Vec<u32>,
    free_subtable_ids: Vec<u32>,
    by_mask: MaskMap,
    next_seq: u64,
    /// `prefix_masks[i]` is the OR of the masks of subtables `0..=i`: the
    /// bits consulted by a lookup that visits `i + 1` subtables.
    prefix_masks: Vec<FlowKey>,
    /// First position whose prefix mask is stale (`usize::MAX`: none).
    prefix_dirty_from: usize,
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Classifier<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("rules", &self.n_rules)
            .field("subtables", &self.subtables.len())
            .finish()
    }
}

impl<T> Classifier<T> {
    pub fn new() -> Self {
        Classifier {
            slots: Slab::new(),
            free_slot: NIL,
            n_rules: 0,
            subtables: Vec::new(),
            subtable_pos: Vec::new(),
            free_subtable_ids: Vec::new(),
            by_mask: MaskMap::default(),
            next_seq: 0,
            prefix_masks: Vec::new(),
            prefix_dirty_from: usize::MAX,
        }
    }

    pub fn len(&self) -> usize {
        self.n_rules
    }

    pub fn is_empty(&self) -> bool {
        self.n_rules == 0
    }

    /// Number of distinct masks currently installed (lookup cost grows with it).
    pub fn subtable_count(&self) -> usize {
        self.subtables.len()
    }

    /// Heap bytes owned by the classifier itself (not by the payloads'
    /// own heap data), including spare capacity. For memory reports.
    pub fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes()
            + self.subtables.capacity() * std::mem::size_of::<Subtable>()
            + self
                .subtables
                .iter()
                .map(Subtable::heap_bytes)
                .sum::<usize>()
            + self.subtable_pos.capacity() * 4
            + self.by_mask.capacity() * (std::mem::size_of::<FlowKey>() + 8)
            + self.prefix_masks.capacity() * std::mem::size_of::<FlowKey>()
    }

    fn rule(&self, id: RuleId) -> Option<&Rule<T>> {
        match self.slots.get(id.index()) {
            Some(Slot::Occupied(r)) => Some(r),
            _ => None,
        }
    }

    fn rule_at(&self, index: u32) -> &Rule<T> {
        match &self.slots[index as usize] {
            Slot::Occupied(r) => r,
            Slot::Vacant { .. } => unreachable!("rule list points at a vacant slot"),
        }
    }

    fn rule_at_mut(&mut self, index: u32) -> &mut Rule<T> {
        match &mut self.slots[index as usize] {
            Slot::Occupied(r) => r,
            Slot::Vacant { .. } => unreachable!("rule list points at a vacant slot"),
        }
    }

    fn subtable_of(&self, rule: &Rule<T>) -> &Subtable {
        &self.subtables[self.subtable_pos[rule.subtable as usize] as usize]
    }

    /// Inserts a rule. Does NOT check for duplicates (use [`find_exact`]
    /// first); a duplicate is simply shadowed by the earlier rule.
    ///
    /// [`find_exact`]: Classifier::find_exact
    pub fn insert(&mut self, m: &Match, priority: u16, value: T) -> RuleId {
        if self.next_seq >= SEQ_LIMIT {
            self.renumber();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let rank = make_rank(priority, seq);

        let slot = self.alloc_slot();
        self.n_rules += 1;
        let pos = self.subtable_for_mask(&m.mask, seq);
        let st = &mut self.subtables[pos];
        st.n_rules += 1;
        *st.priorities.entry(priority).or_insert(0) += 1;
        let subtable = st.id;

        match st.find_head(&m.value) {
            None => {
                let head = st.add_head(&m.value, rank, slot);
                self.slots[slot as usize] = Slot::Occupied(Rule {
                    value,
                    rank,
                    subtable,
                    head: head as u32,
                    next: NIL,
                });
            }
            Some(head) => self.link_into_head(pos, head, slot, rank, subtable, value),
        }
        if priority > rank_priority(self.subtables[pos].bound) {
            self.subtables[pos].recompute_bound();
            self.restore_order(pos);
        }
        self.refresh_prefix_masks();
        RuleId(slot)
    }

    fn link_into_head(
        &mut self,
        pos: usize,
        head: usize,
        slot: u32,
        rank: Rank,
        subtable: u32,
        value: T,
    ) {
        let st = &mut self.subtables[pos];
        let first = st.head_rule(head);
        let mut rule = Rule {
            value,
            rank,
            subtable,
            head: head as u32,
            next: NIL,
        };
        if rank > st.head_rank(head) {
            st.set_head_best(head, rank, slot);
            rule.next = first;
            self.slots[slot as usize] = Slot::Occupied(rule);
            return;
        }
        // The new rule has the largest seq so far, so it goes after every
        // rule whose priority is >= its own.
        let mut prev = first;
        loop {
            let next = self.rule_at(prev).next;
            if next == NIL || self.rule_at(next).rank < rank {
                rule.next = next;
                break;
            }
            prev = next;
        }
        self.slots[slot as usize] = Slot::Occupied(rule);
        self.rule_at_mut(prev).next = slot;
    }

    fn alloc_slot(&mut self) -> u32 {
        if self.free_slot != NIL {
            let slot = self.free_slot;
            self.free_slot = match self.slots[slot as usize] {
                Slot::Vacant { next_free } => next_free,
                Slot::Occupied(_) => unreachable!("free list points at an occupied slot"),
            };
            slot
        } else {
            assert!(self.slots.len < NIL as usize, "too many rules");
            self.slots.push_vacant() as u32
        }
    }

    /// Position of the subtable for `mask`, creating it if needed.
    fn subtable_for_mask(&mut self, mask: &FlowKey, seq: u64) -> usize {
        if let Some(&id) = self.by_mask.get(mask) {
            return self.subtable_pos[id as usize] as usize;
        }
        let id = match self.free_subtable_ids.pop() {
            Some(id) => id,
            None => {
                self.subtable_pos.push(NIL);
                (self.subtable_pos.len() - 1) as u32
            }
        };
        let st = Subtable::new(mask, id, seq);
        let pos = self.subtables.partition_point(|s| s.bound > st.bound);
        self.subtables.insert(pos, st);
        self.reindex_positions(pos..self.subtables.len());
        self.by_mask.insert(*mask, id);
        pos
    }

    fn reindex_positions(&mut self, range: std::ops::Range<usize>) {
        self.prefix_dirty_from = self.prefix_dirty_from.min(range.start);
        for p in range {
            let id = self.subtables[p].id;
            self.subtable_pos[id as usize] = p as u32;
        }
    }

    /// Moves the subtable at `pos` to where its (changed) bound belongs.
    fn restore_order(&mut self, mut pos: usize) {
        while pos > 0 && self.subtables[pos - 1].bound < self.subtables[pos].bound {
            self.subtables.swap(pos - 1, pos);
            self.reindex_positions(pos - 1..pos + 1);
            pos -= 1;
        }
        while pos + 1 < self.subtables.len()
            && self.subtables[pos + 1].bound > self.subtables[pos].bound
        {
            self.subtables.swap(pos, pos + 1);
            self.reindex_positions(pos..pos + 2);
            pos += 1;
        }
    }

    /// Removes a rule and returns its payload; `None` if `id` is not
    /// installed. A later `insert` may hand the same id out again.
    pub fn remove(&mut self, id: RuleId) -> Option<T> {
        let rule = match self.slots.get_mut(id.index()) {
            Some(s @ Slot::Occupied(_)) => {
                match std::mem::replace(
                    s,
                    Slot::Vacant {
                        next_free: self.free_slot,
                    },
                ) {
                    Slot::Occupied(r) => r,
                    Slot::Vacant { .. } => unreachable!(),
                }
            }
            _ => return None,
        };
        self.free_slot = id.0;
        self.n_rules -= 1;

        let pos = self.subtable_pos[rule.subtable as usize] as usize;
        let head = rule.head as usize;
        if self.subtables[pos].head_rule(head) == id.0 {
            if rule.next == NIL {
                let st = &mut self.subtables[pos];
                if let Some(moved) = st.remove_head(head) {
                    let mut r = st.head_rule(head);
                    while r != NIL {
                        let moved_rule = self.rule_at_mut(r);
                        debug_assert_eq!(moved_rule.head as usize, moved);
                        moved_rule.head = head as u32;
                        r = moved_rule.next;
                    }
                }
            } else {
                let next_rank = self.rule_at(rule.next).rank;
                self.subtables[pos].set_head_best(head, next_rank, rule.next);
            }
        } else {
            let mut prev = self.subtables[pos].head_rule(head);
            while self.rule_at(prev).next != id.0 {
                prev = self.rule_at(prev).next;
            }
            self.rule_at_mut(prev).next = rule.next;
        }

        let priority = rank_priority(rule.rank);
        let st = &mut self.subtables[pos];
        st.n_rules -= 1;
        match st.priorities.get_mut(&priority) {
            Some(n) if *n > 1 => *n -= 1,
            _ => {
                st.priorities.remove(&priority);
            }
        }
        if st.n_rules == 0 {
            let st = self.subtables.remove(pos);
            self.by_mask.remove(&*st.mask);
            self.subtable_pos[st.id as usize] = NIL;
            self.free_subtable_ids.push(st.id);
            self.reindex_positions(pos..self.subtables.len());
        } else if priority == rank_priority(st.bound) {
            st.recompute_bound();
            self.restore_order(pos);
        }
        if self.n_rules == 0 {
            // Nothing left to order against: start afresh so the slab and
            // sequence space do not carry history.
            self.slots.clear();
            self.free_slot = NIL;
            self.next_seq = 0;
        }
        self.refresh_prefix_masks();
        Some(rule.value)
    }

    pub fn get(&self, id: RuleId) -> Option<&T> {
        self.rule(id).map(|r| &r.value)
    }

    /// Mutable payload access. Changing the payload in place keeps the
    /// rule's insertion order (what an OpenFlow "modify" should do);
    /// remove + insert would make it the newest of its priority.
    pub fn get_mut(&mut self, id: RuleId) -> Option<&mut T> {
        match self.slots.get_mut(id.index()) {
            Some(Slot::Occupied(r)) => Some(&mut r.value),
            _ => None,
        }
    }

    /// The rule's match, rebuilt from the subtable mask and stored words.
    pub fn rule_match(&self, id: RuleId) -> Option<Match> {
        let rule = self.rule(id)?;
        let st = self.subtable_of(rule);
        let mut value = FlowKey::ZERO;
        for (w, &v) in st.words.iter().zip(st.head_words(rule.head as usize)) {
            value.words[w.index] = v;
        }
        Some(Match {
            value,
            mask: *st.mask,
        })
    }

    pub fn priority(&self, id: RuleId) -> Option<u16> {
        self.rule(id).map(|r| rank_priority(r.rank))
    }

    /// Iterates the rules of one head, best first.
    fn head_rules(&self, st: &Subtable, head: usize) -> impl Iterator<Item = RuleId> + '_ {
        let first = st.head_rule(head);
        std::iter::successors((first != NIL).then_some(first), move |&r| {
            let next = self.rule_at(r).next;
            (next != NIL).then_some(next)
        })
        .map(RuleId)
    }

    /// The rule with exactly this match and priority (OpenFlow "strict"
    /// identity), if any.
    pub fn find_exact(&self, m: &Match, priority: u16) -> Option<RuleId> {
        let &id = self.by_mask.get(&m.mask)?;
        let st = &self.subtables[self.subtable_pos[id as usize] as usize];
        let head = st.find_head(&m.value)?;
        self.head_rules(st, head)
            .find(|&r| rank_priority(self.rule_at(r.0).rank) == priority)
    }

    /// Highest-priority rule matching `key`; among equal priorities the
    /// rule inserted earliest wins.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<RuleId> {
        self.search(key).0
    }

    /// Like [`lookup`](Classifier::lookup), and also ORs into `wildcards`
    /// every mask bit the lookup consulted: any packet agreeing with `key`
    /// on those bits gets the same answer (the megaflow property). Subtables
    /// skipped because they could not beat the match found contribute no
    /// bits. Costs one 25-word OR on top of `lookup`: a lookup always
    /// visits a prefix of the subtable order, whose masks are pre-ORed.
    pub fn lookup_with_wildcards(&self, key: &FlowKey, wildcards: &mut FlowKey) -> Option<RuleId> {
        let (found, visited) = self.search(key);
        if let Some(last) = visited.checked_sub(1) {
            let consulted = &self.prefix_masks[last];
            for (w, m) in wildcards.words.iter_mut().zip(&consulted.words) {
                *w |= m;
            }
        }
        found
    }

    /// The best rule for `key` and how many subtables (a prefix of the
    /// sorted order) were consulted.
    #[inline(always)]
    fn search(&self, key: &FlowKey) -> (Option<RuleId>, usize) {
        // 0 is below every real rank except (priority 0, seq SEQ_LIMIT),
        // which make_rank never produces.
        let mut best_rank: Rank = 0;
        let mut best_rule = NIL;
        let mut visited = self.subtables.len();
        for (i, st) in self.subtables.iter().enumerate() {
            if st.bound < best_rank {
                visited = i;
                break;
            }
            let hash = st.hash(key);
            if st.filter_says_absent(hash) {
                continue;
            }
            if let Some(head) = st.probe(key, hash) {
                let rank = st.head_rank(head);
                if rank > best_rank {
                    best_rank = rank;
                    best_rule = st.head_rule(head);
                }
            }
        }
        ((best_rule != NIL).then_some(RuleId(best_rule)), visited)
    }

    /// Recomputes `prefix_masks` from the first subtable whose position
    /// changed; called once at the end of each mutation.
    fn refresh_prefix_masks(&mut self) {
        let from = self.prefix_dirty_from;
        self.prefix_dirty_from = usize::MAX;
        if from >= self.subtables.len() {
            self.prefix_masks.truncate(self.subtables.len());
            return;
        }
        self.prefix_masks
            .resize(self.subtables.len(), FlowKey::ZERO);
        let mut acc = match from {
            0 => FlowKey::ZERO,
            _ => self.prefix_masks[from - 1],
        };
        for (st, prefix) in self.subtables[from..]
            .iter()
            .zip(&mut self.prefix_masks[from..])
        {
            for (a, m) in acc.words.iter_mut().zip(&st.mask.words) {
                *a |= m;
            }
            *prefix = acc;
        }
    }

    /// All installed rules, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = RuleId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Occupied(_)))
            .map(|(i, _)| RuleId(i as u32))
    }

    /// Rules whose match `is_within(m)` (OpenFlow non-strict selection).
    /// Subtables whose mask cannot cover `m`'s are skipped whole; a subtable
    /// whose mask equals `m`'s is answered by one hash probe.
    pub fn iter_within<'a>(&'a self, m: &'a Match) -> impl Iterator<Item = RuleId> + 'a {
        self.subtables
            .iter()
            .filter(move |st| st.mask_covers(&m.mask))
            .flat_map(move |st| {
                let heads = if *st.mask == m.mask {
                    match st.find_head(&m.value) {
                        Some(h) => h..h + 1,
                        None => 0..0,
                    }
                } else {
                    0..st.n_heads()
                };
                heads
                    .filter(move |&h| st.head_within(h, m))
                    .flat_map(move |h| self.head_rules(st, h))
            })
    }

    /// Some rule of `priority` whose match overlaps `m` (could match a
    /// common packet), including one with an identical match. For
    /// OFPFF_CHECK_OVERLAP.
    pub fn find_overlap(&self, m: &Match, priority: u16) -> Option<RuleId> {
        for st in &self.subtables {
            if !st.priorities.contains_key(&priority) {
                continue;
            }
            let with_priority = |h: usize| {
                self.head_rules(st, h)
                    .find(|r| rank_priority(self.rule_at(r.0).rank) == priority)
            };
            if st.mask_is_covered_by(&m.mask) {
                // Every bit the subtable pins, m pins too: only the head
                // equal to m's value under this mask can overlap.
                if let Some(r) = st.find_head(&m.value).and_then(with_priority) {
                    return Some(r);
                }
            } else if let Some(r) = (0..st.n_heads())
                .filter(|&h| st.head_overlaps(h, m))
                .find_map(with_priority)
            {
                return Some(r);
            }
        }
        None
    }

    /// Compacts insertion sequence numbers when they run out, keeping every
    /// rule's relative order. Rare (after 2^48 insertions).
    fn renumber(&mut self) {
        let mut order: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Occupied(r) => Some((rank_seq(r.rank), i as u32)),
                Slot::Vacant { .. } => None,
            })
            .collect();
        order.sort_unstable();
        for (new_seq, &(_, slot)) in order.iter().enumerate() {
            let r = self.rule_at_mut(slot);
            r.rank = make_rank(rank_priority(r.rank), new_seq as u64);
        }
        for st in &mut self.subtables {
            st.creation_seq = u64::MAX;
        }
        for &(_, slot) in &order {
            let r = self.rule_at(slot);
            let (rank, head) = (r.rank, r.head as usize);
            let pos = self.subtable_pos[r.subtable as usize] as usize;
            let st = &mut self.subtables[pos];
            st.creation_seq = st.creation_seq.min(rank_seq(rank));
            if st.head_rule(head) == slot {
                st.set_head_best(head, rank, slot);
            }
        }
        for st in &mut self.subtables {
            st.recompute_bound();
        }
        self.subtables.sort_by_key(|st| std::cmp::Reverse(st.bound));
        self.reindex_positions(0..self.subtables.len());
        self.next_seq = order.len() as u64;
        self.refresh_prefix_masks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;

    fn key_with(fields: &[(Field, u128)]) -> FlowKey {
        let mut k = FlowKey::ZERO;
        for &(f, v) in fields {
            f.write(&mut k, v);
        }
        k
    }

    fn match_of(fields: &[(Field, u128)]) -> Match {
        let mut m = Match::CATCHALL;
        for &(f, v) in fields {
            m.set(f, v);
        }
        m
    }

    #[test]
    fn empty_classifier_matches_nothing() {
        let c: Classifier<()> = Classifier::new();
        assert!(c.is_empty());
        assert_eq!(c.lookup(&FlowKey::ZERO), None);
    }

    #[test]
    fn higher_priority_wins_regardless_of_mask() {
        let mut c = Classifier::new();
        let port = c.insert(&match_of(&[(Field::InPort, 1)]), 10, "port");
        let ip = c.insert(
            &match_of(&[(Field::InPort, 1), (Field::EthType, 0x800)]),
            5,
            "port+ip",
        );
        let k = key_with(&[(Field::InPort, 1), (Field::EthType, 0x800)]);
        assert_eq!(c.lookup(&k), Some(port));
        assert_eq!(c.len(), 2);
        assert_eq!(c.remove(port), Some("port"));
        assert_eq!(c.lookup(&k), Some(ip));
        assert_eq!(c.lookup(&key_with(&[(Field::InPort, 1)])), None);
    }

    #[test]
    fn tie_goes_to_earliest_insertion_across_and_within_subtables() {
        let mut c = Classifier::new();
        let first = c.insert(&match_of(&[(Field::EthType, 0x800)]), 7, 1);
        let second = c.insert(&match_of(&[(Field::InPort, 3)]), 7, 2);
        let k = key_with(&[(Field::InPort, 3), (Field::EthType, 0x800)]);
        assert_eq!(c.lookup(&k), Some(first));
        c.remove(first);
        assert_eq!(c.lookup(&k), Some(second));
        // Re-inserting the removed rule makes it the newest: it now loses.
        let again = c.insert(&match_of(&[(Field::EthType, 0x800)]), 7, 3);
        assert_eq!(c.lookup(&k), Some(second));

        // Same mask and value: a per-head list ordered by (prio, seq).
        let m = match_of(&[(Field::InPort, 3)]);
        let dup = c.insert(&m, 7, 4);
        assert_eq!(c.lookup(&k), Some(second));
        c.remove(second);
        assert_eq!(c.lookup(&k), Some(again));
        c.remove(again);
        assert_eq!(c.lookup(&k), Some(dup));
    }

    #[test]
    fn same_value_list_keeps_priority_order() {
        let mut c = Classifier::new();
        let m = match_of(&[(Field::TunId, 42)]);
        let low = c.insert(&m, 1, ());
        let high = c.insert(&m, 9, ());
        let mid = c.insert(&m, 5, ());
        let k = key_with(&[(Field::TunId, 42)]);
        assert_eq!(c.lookup(&k), Some(high));
        assert_eq!(c.find_exact(&m, 5), Some(mid));
        assert_eq!(c.find_exact(&m, 1), Some(low));
        assert_eq!(c.find_exact(&m, 2), None);
        c.remove(high);
        assert_eq!(c.lookup(&k), Some(mid));
        c.remove(low);
        assert_eq!(c.lookup(&k), Some(mid));
        c.remove(mid);
        assert_eq!(c.lookup(&k), None);
        assert!(c.is_empty());
    }

    #[test]
    fn find_exact_and_rule_match_roundtrip() {
        let mut c = Classifier::new();
        let mut m = match_of(&[(Field::EthType, 0x800)]);
        m.set_masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000);
        let id = c.insert(&m, 100, ());
        assert_eq!(c.find_exact(&m, 100), Some(id));
        assert_eq!(c.find_exact(&m, 99), None);
        assert_eq!(c.rule_match(id), Some(m));
        assert_eq!(c.priority(id), Some(100));
        let mut wider = m;
        wider.set_masked(Field::Ipv4Dst, 0x0a00_0000, 0xffff_0000);
        assert_eq!(c.find_exact(&wider, 100), None);
    }

    #[test]
    fn ids_are_reused_and_stale_ids_are_rejected() {
        let mut c = Classifier::new();
        let a = c.insert(&match_of(&[(Field::InPort, 1)]), 1, 'a');
        let _b = c.insert(&match_of(&[(Field::InPort, 2)]), 1, 'b');
        assert_eq!(c.remove(a), Some('a'));
        assert_eq!(c.remove(a), None);
        assert_eq!(c.get(a), None);
        assert_eq!(c.rule_match(a), None);
        let c2 = c.insert(&match_of(&[(Field::InPort, 3)]), 1, 'c');
        assert_eq!(c2, a, "freed slot is reused");
        assert_eq!(c.get(c2), Some(&'c'));
        *c.get_mut(c2).unwrap() = 'C';
        assert_eq!(c.get(c2), Some(&'C'));
        assert_eq!(c.remove(RuleId(999)), None);
    }

    #[test]
    fn ipv6_128_bit_prefixes() {
        let mut c = Classifier::new();
        let mut m64 = match_of(&[(Field::EthType, 0x86dd)]);
        m64.set_masked(Field::Ipv6Dst, 0x2001_0db8_0000_0001 << 64, u128::MAX << 64);
        let mut m128 = match_of(&[(Field::EthType, 0x86dd)]);
        m128.set(Field::Ipv6Dst, (0x2001_0db8_0000_0001 << 64) | 0x42);
        let wide = c.insert(&m64, 10, ());
        let narrow = c.insert(&m128, 20, ());
        let mut k = key_with(&[(Field::EthType, 0x86dd)]);
        Field::Ipv6Dst.write(&mut k, (0x2001_0db8_0000_0001 << 64) | 0x42);
        assert_eq!(c.lookup(&k), Some(narrow));
        Field::Ipv6Dst.write(&mut k, (0x2001_0db8_0000_0001 << 64) | 0x43);
        assert_eq!(c.lookup(&k), Some(wide));
        Field::Ipv6Dst.write(&mut k, (0x2001_0db8_0000_0002 << 64) | 0x42);
        assert_eq!(c.lookup(&k), None);
        assert_eq!(c.rule_match(narrow), Some(m128));
    }

    #[test]
    fn catchall_rule_matches_everything() {
        let mut c = Classifier::new();
        let all = c.insert(&Match::CATCHALL, 0, ());
        let specific = c.insert(&match_of(&[(Field::InPort, 5)]), 1, ());
        assert_eq!(c.lookup(&FlowKey::ZERO), Some(all));
        assert_eq!(c.lookup(&key_with(&[(Field::InPort, 5)])), Some(specific));
        let mut k = FlowKey::ZERO;
        k.words = [u64::MAX; KEY_WORDS];
        assert_eq!(c.lookup(&k), Some(all));
        assert_eq!(
            c.find_overlap(&match_of(&[(Field::InPort, 9)]), 0),
            Some(all)
        );
        assert_eq!(c.find_overlap(&match_of(&[(Field::InPort, 9)]), 1), None);
        assert_eq!(c.find_overlap(&Match::CATCHALL, 1), Some(specific));
    }

    #[test]
    fn wildcards_collect_consulted_masks() {
        let mut c = Classifier::new();
        c.insert(&match_of(&[(Field::InPort, 1)]), 50, ());
        c.insert(&match_of(&[(Field::EthType, 0x806)]), 10, ());
        let mut wc = FlowKey::ZERO;
        let hit = c.lookup_with_wildcards(&key_with(&[(Field::InPort, 1)]), &mut wc);
        assert!(hit.is_some());
        // The priority-10 subtable could not beat 50, so it was not consulted.
        assert_eq!(wc.get(crate::key::IN_PORT), 0xffff);
        assert_eq!(wc.get(crate::key::ETH_TYPE), 0);
        let mut wc = FlowKey::ZERO;
        c.lookup_with_wildcards(&key_with(&[(Field::InPort, 2)]), &mut wc);
        assert_eq!(wc.get(crate::key::ETH_TYPE), 0xffff);
    }

    #[test]
    fn iter_within_selects_more_specific_rules() {
        let mut c = Classifier::new();
        let a = c.insert(&match_of(&[(Field::InPort, 1)]), 1, ());
        let b = c.insert(
            &match_of(&[(Field::InPort, 1), (Field::EthType, 0x800)]),
            2,
            (),
        );
        let _other = c.insert(&match_of(&[(Field::InPort, 2)]), 1, ());
        let _ip_only = c.insert(&match_of(&[(Field::EthType, 0x800)]), 1, ());
        let mut got: Vec<_> = c.iter_within(&match_of(&[(Field::InPort, 1)])).collect();
        got.sort();
        assert_eq!(got, vec![a, b]);
        assert_eq!(c.iter_within(&Match::CATCHALL).count(), 4);
        assert_eq!(c.iter().count(), 4);
    }

    #[test]
    fn many_rules_grow_and_shrink_subtables() {
        let mut c = Classifier::new();
        let ids: Vec<_> = (0..5000u32)
            .map(|i| c.insert(&match_of(&[(Field::Reg(0), i as u128)]), (i % 7) as u16, i))
            .collect();
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(c.lookup(&key_with(&[(Field::Reg(0), i as u128)])), Some(id));
        }
        for &id in ids.iter().step_by(2) {
            c.remove(id);
        }
        for (i, &id) in ids.iter().enumerate() {
            let want = (i % 2 == 1).then_some(id);
            assert_eq!(c.lookup(&key_with(&[(Field::Reg(0), i as u128)])), want);
            if let Some(id) = want {
                assert_eq!(c.get(id), Some(&(i as u32)));
            }
        }
        assert_eq!(c.len(), 2500);
    }

    #[test]
    fn slab_pages_cover_every_index_once() {
        let mut slab: Slab<()> = Slab::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..3 * SLAB_PAGE {
            assert_eq!(slab.push_vacant(), i);
            let (p, o) = Slab::<()>::locate(i);
            assert!(o < Slab::<()>::page_size(p), "index {i}");
            assert!(seen.insert((p, o)), "index {i} aliases");
        }
        assert_eq!(slab.iter().count(), 3 * SLAB_PAGE);
        let allocated: usize = slab.pages.iter().map(|p| p.len()).sum();
        assert_eq!(allocated, 3 * SLAB_PAGE);
    }

    #[test]
    fn renumbering_keeps_order() {
        let mut c = Classifier::new();
        let a = c.insert(&match_of(&[(Field::InPort, 1)]), 5, ());
        let b = c.insert(&match_of(&[(Field::EthType, 0x800)]), 5, ());
        let x = c.insert(&match_of(&[(Field::TunId, 1)]), 5, ());
        c.remove(x);
        c.next_seq = SEQ_LIMIT;
        let d = c.insert(&match_of(&[(Field::InPort, 1)]), 5, ());
        assert_eq!(c.next_seq, 3);
        let k = key_with(&[(Field::InPort, 1), (Field::EthType, 0x800)]);
        assert_eq!(c.lookup(&k), Some(a));
        c.remove(a);
        assert_eq!(c.lookup(&k), Some(b));
        c.remove(b);
        assert_eq!(c.lookup(&k), Some(d));
    }
}
