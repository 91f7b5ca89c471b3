//! Classifier and exact-match cache benchmarks. Before the criterion runs
//! the binary prints: a check that lookups allocate nothing, bytes per rule
//! (from a counting global allocator), and fastest/median batch timings that
//! stay meaningful on a shared machine. Results: BENCHMARKS.md.
//!
//! cargo bench -p rswitch-benches --bench classifier -- --warm-up-time 1 --measurement-time 3
//! cargo bench -p rswitch-benches --bench classifier -- --list   # memory only

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use ofproto::classifier::Classifier;
use ofproto::exact_cache::ExactCache;
use ofproto::FlowKey;
use rswitch_benches::{
    build_classifier, packet_mix, random_packet, realistic_rules, Rng, RuleSpec,
};

/// Tracks live heap bytes so the memory report sees every allocation the
/// classifier makes, including allocator-visible slack in its vectors.
struct CountingAlloc;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarding the caller's layout unchanged to System, which
        // upholds GlobalAlloc's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by System with this layout (every
        // allocation goes through `alloc`/`realloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from System with `layout` (every allocation
        // goes through this allocator), and the caller guarantees
        // `new_size` is valid for `layout.align()`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
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

/// Live heap bytes per rule for a classifier of `rules` with payload `P`,
/// and the same minus the payload itself (the classifier's own overhead).
fn bytes_per_rule<P>(rules: &[RuleSpec], payload: impl Fn(usize) -> P) -> (f64, f64, usize) {
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut c = Classifier::new();
    for (i, r) in rules.iter().enumerate() {
        c.insert(&r.m, r.priority, payload(i));
    }
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    let total = (after - before) as f64 / rules.len() as f64;
    let subtables = c.subtable_count();
    drop(black_box(c));
    (total, total - std::mem::size_of::<P>() as f64, subtables)
}

/// The hot paths must not allocate: checked here, where every allocation
/// is counted.
fn assert_lookups_do_not_allocate() {
    let rules = realistic_rules(1000, 30, SEED);
    let cls = build_classifier(&rules);
    let packets = packet_mix(&cls, &rules, PACKETS, 90, SEED);
    let mut cache = ExactCache::new(1024);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for k in &packets {
        let mut wildcards = FlowKey::ZERO;
        black_box(cls.lookup(k));
        black_box(cls.lookup_with_wildcards(k, &mut wildcards));
        if cache.get(k, 1).is_none() {
            cache.insert(k, 1, 0u32);
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocations, 0, "lookups allocated");
    println!(
        "allocations: 0 in {} lookups + cache gets/inserts",
        2 * packets.len()
    );
}

fn memory_report() {
    for n_rules in [100_000, 1000] {
        let rules = realistic_rules(n_rules, 30, SEED);
        let (total, own, subtables) = bytes_per_rule(&rules, |i| i as u32);
        println!(
            "memory: {n_rules} rules, {subtables} masks, payload u32: \
             {total:.1} bytes/rule live heap, {own:.1} bytes/rule classifier overhead"
        );
        // A payload the size of the flow table's entry (cookie, timeouts,
        // counters, Arc'd actions): shows the slab's slack stays small.
        let (total, own, _) = bytes_per_rule(&rules, |i| [i as u64; 11]);
        println!(
            "memory: {n_rules} rules, payload 88 bytes: \
             {total:.1} bytes/rule live heap, {own:.1} bytes/rule classifier overhead"
        );
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
    c.bench_function(
        "classifier/lookup_1000_rules_30_masks_one_priority/mix90",
        |b| {
            b.iter(|| {
                i = (i + 1) % PACKETS;
                black_box(cls.lookup(black_box(&packets[i])))
            })
        },
    );
}

fn bench_wildcards(c: &mut Criterion) {
    let rules = realistic_rules(1000, 30, SEED);
    let cls = build_classifier(&rules);
    let packets = packet_mix(&cls, &rules, PACKETS, 90, SEED);
    let mut i = 0;
    c.bench_function(
        "classifier/lookup_with_wildcards_1000_rules_30_masks/mix90",
        |b| {
            b.iter(|| {
                i = (i + 1) % PACKETS;
                let mut wc = FlowKey::ZERO;
                black_box(cls.lookup_with_wildcards(black_box(&packets[i]), &mut wc));
                black_box(wc)
            })
        },
    );
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

/// Hits over `flows` distinct keys cycling through an 8192-entry cache:
/// 256 flows stay in L1/L2 (the usual case: a worker sees few active flows
/// at a time); 4096 flows spill the ~1.8 MB cache into L3.
fn bench_exact_cache(c: &mut Criterion) {
    for flows in [256, 4096] {
        let mut rng = Rng::new(SEED);
        let keys: Vec<FlowKey> = (0..flows).map(|_| random_packet(&mut rng)).collect();
        let mut cache = ExactCache::new(8192);
        for (n, k) in keys.iter().enumerate() {
            cache.insert(k, 1, n as u32);
        }
        // Keep only the keys that survived collisions so every probe hits.
        let hits: Vec<FlowKey> = keys
            .into_iter()
            .filter(|k| cache.get(k, 1).is_some())
            .collect();
        let name = if flows == 256 {
            "exact_cache/hit".to_string()
        } else {
            format!("exact_cache/hit_{flows}_flows")
        };
        let mut i = 0;
        c.bench_function(&name, |b| {
            b.iter(|| {
                i = (i + 1) % hits.len();
                black_box(cache.get(black_box(&hits[i]), 1))
            })
        });
        if flows == 256 {
            let mut i = 0;
            c.bench_function("exact_cache/miss_stale_generation", |b| {
                b.iter(|| {
                    i = (i + 1) % hits.len();
                    black_box(cache.get(black_box(&hits[i]), 2))
                })
            });
        }
    }
}

/// Nanoseconds per call of `f` over `n` calls, as (fastest, median) of
/// back-to-back batches run for about a second. On a shared machine the
/// fastest batch is the one least disturbed by other processes; criterion's
/// estimates below are means and absorb that noise.
fn min_and_median(n: usize, mut batch: impl FnMut() -> u64) -> (f64, f64) {
    let mut per_call = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        black_box(batch());
        per_call.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    per_call.sort_by(f64::total_cmp);
    (per_call[0], per_call[per_call.len() / 2])
}

fn quiet_machine_report() {
    for (n_rules, name) in [
        (1000, "1000 rules/30 masks"),
        (100_000, "100000 rules/30 masks"),
    ] {
        let rules = realistic_rules(n_rules, 30, SEED);
        let cls = build_classifier(&rules);
        for (kind, hit_percent) in [("mix90", 90), ("hit", 100), ("miss", 0)] {
            let packets = packet_mix(&cls, &rules, PACKETS, hit_percent, SEED + hit_percent);
            let (min, median) = min_and_median(packets.len(), || {
                packets
                    .iter()
                    .map(|k| cls.lookup(black_box(k)).map_or(0, |r| r.index() as u64))
                    .sum()
            });
            println!("batches: lookup {name} {kind}: fastest {min:.1} ns, median {median:.1} ns");
        }
    }
    for flows in [256, 4096] {
        let mut rng = Rng::new(SEED);
        let keys: Vec<FlowKey> = (0..flows).map(|_| random_packet(&mut rng)).collect();
        let mut cache = ExactCache::new(8192);
        for (n, k) in keys.iter().enumerate() {
            cache.insert(k, 1, n as u64);
        }
        let (min, median) = min_and_median(keys.len(), || {
            keys.iter()
                .map(|k| cache.get(black_box(k), 1).unwrap_or(0))
                .sum()
        });
        println!(
            "batches: exact_cache get, {flows} flows: fastest {min:.1} ns, median {median:.1} ns"
        );
    }
}

fn main() {
    assert_lookups_do_not_allocate();
    memory_report();
    // Skipped when criterion only lists or smoke-tests (`cargo test --benches`).
    if std::env::args().all(|a| a != "--list" && a != "--test") {
        quiet_machine_report();
    }
    let mut c = Criterion::default().configure_from_args();
    bench_lookups(&mut c, "classifier/lookup_1000_rules_30_masks", 1000, 30);
    bench_lookups(&mut c, "classifier/lookup_100000_rules", 100_000, 30);
    bench_same_priority(&mut c);
    bench_wildcards(&mut c);
    bench_exact_cache(&mut c);
    bench_insert_remove(&mut c);
    c.final_summary();
}
