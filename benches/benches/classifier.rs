//! Classifier and exact-match cache benchmarks, plus a bytes-per-rule
//! report measured with a counting global allocator (printed before the
//! criterion runs).
//!
//! cargo bench -p rswitch-benches --bench classifier -- --warm-up-time 1 --measurement-time 3

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{BatchSize, Criterion, Throughput};
use ofproto::classifier::Classifier;
use ofproto::exact_cache::ExactCache;
use ofproto::FlowKey;
use rswitch_benches::{build_classifier, packet_mix, random_packet, realistic_rules, Rng};

/// Tracks live heap bytes so the memory report sees every allocation the
/// classifier makes, including allocator-visible slack in its vectors.
struct CountingAlloc;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarding the caller's layout unchanged to System, which
        // upholds GlobalAlloc's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: ptr was allocated by System.alloc with this layout (all
        // allocations go through `alloc`/`realloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's; System allocated `ptr`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const SEED: u64 = 0x5eed;
const PACKETS: usize = 4096;

fn memory_report() {
    for (n_rules, n_masks) in [(100_000, 30), (1000, 30)] {
        let rules = realistic_rules(n_rules, n_masks, SEED);
        let before = LIVE_BYTES.load(Ordering::Relaxed);
        let c = build_classifier(&rules);
        let after = LIVE_BYTES.load(Ordering::Relaxed);
        println!(
            "memory: {n_rules} rules over {} masks, payload u32: {:.1} bytes/rule \
             (allocator-counted), {:.1} bytes/rule (Classifier::heap_bytes)",
            c.subtable_count(),
            (after - before) as f64 / n_rules as f64,
            c.heap_bytes() as f64 / n_rules as f64,
        );
        drop(c);
    }
}

/// Benchmarks one lookup per iteration over a rotating packet set, so
/// caches see a realistic spread rather than one hot key.
fn bench_lookups(c: &mut Criterion, group: &str, n_rules: usize, n_masks: usize) {
    let rules = realistic_rules(n_rules, n_masks, SEED);
    let cls = build_classifier(&rules);
    let mut g = c.benchmark_group(group);
    for (name, hit_percent) in [("mix90", 90), ("hit", 100), ("miss", 0)] {
        let packets = packet_mix(&cls, &rules, PACKETS, hit_percent, SEED + hit_percent);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % PACKETS;
                black_box(cls.lookup(black_box(&packets[i])))
            })
        });
    }
    g.finish();
}

/// Worst case for pruning: every rule at one priority, so a hit never lets
/// the lookup stop early and every subtable is probed.
fn bench_same_priority(c: &mut Criterion) {
    let mut rules = realistic_rules(1000, 30, SEED);
    for r in &mut rules {
        r.priority = 32768;
    }
    let cls = build_classifier(&rules);
    let packets = packet_mix(&cls, &rules, PACKETS, 90, SEED);
    let mut i = 0;
    c.bench_function("classifier/lookup_1000_rules_30_masks_one_priority/mix90", |b| {
        b.iter(|| {
            i = (i + 1) % PACKETS;
            black_box(cls.lookup(black_box(&packets[i])))
        })
    });
}

fn bench_wildcards(c: &mut Criterion) {
    let rules = realistic_rules(1000, 30, SEED);
    let cls = build_classifier(&rules);
    let packets = packet_mix(&cls, &rules, PACKETS, 90, SEED);
    let mut i = 0;
    c.bench_function("classifier/lookup_with_wildcards_1000_rules_30_masks/mix90", |b| {
        b.iter(|| {
            i = (i + 1) % PACKETS;
            let mut wc = FlowKey::ZERO;
            black_box(cls.lookup_with_wildcards(black_box(&packets[i]), &mut wc));
            black_box(wc)
        })
    });
}

fn bench_insert_remove(c: &mut Criterion) {
    let rules = realistic_rules(100_000, 30, SEED);
    let mut g = c.benchmark_group("classifier");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rules.len() as u64));
    g.bench_function("insert_100000", |b| {
        b.iter_batched(
            || (),
            |()| build_classifier(black_box(&rules)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("remove_100000", |b| {
        b.iter_batched(
            || {
                let cls = build_classifier(&rules);
                let ids: Vec<_> = cls.iter().collect();
                (cls, ids)
            },
            |(mut cls, ids): (Classifier<u32>, Vec<_>)| {
                for id in ids {
                    black_box(cls.remove(id));
                }
                cls
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_exact_cache(c: &mut Criterion) {
    let mut rng = Rng::new(SEED);
    let keys: Vec<FlowKey> = (0..PACKETS).map(|_| random_packet(&mut rng)).collect();
    let mut cache = ExactCache::new(8192);
    for (n, k) in keys.iter().enumerate() {
        cache.insert(k, 1, n as u32);
    }
    // Keep only the keys that survived collisions so every probe is a hit.
    let hits: Vec<FlowKey> = keys.into_iter().filter(|k| cache.get(k, 1).is_some()).collect();
    let mut i = 0;
    c.bench_function("exact_cache/hit", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(cache.get(black_box(&hits[i]), 1))
        })
    });
    let mut i = 0;
    c.bench_function("exact_cache/miss_stale_generation", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(cache.get(black_box(&hits[i]), 2))
        })
    });
}

fn main() {
    memory_report();
    let mut c = Criterion::default().configure_from_args();
    bench_lookups(&mut c, "classifier/lookup_1000_rules_30_masks", 1000, 30);
    bench_lookups(&mut c, "classifier/lookup_100000_rules", 100_000, 30);
    bench_same_priority(&mut c);
    bench_wildcards(&mut c);
    bench_exact_cache(&mut c);
    bench_insert_remove(&mut c);
    c.final_summary();
}
