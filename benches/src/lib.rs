//! Shared helpers for the criterion benches: a seeded RNG and generators of
//! realistic OpenFlow rule sets and packets, deterministic for a given seed
//! so numbers are comparable between runs and machines.

use std::collections::HashSet;

use ofproto::classifier::Classifier;
use ofproto::field::{
    ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
};
use ofproto::{Field, FlowKey, Match};

/// SplitMix64: tiny, fast, and reproducible without pinning a crate version.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn u128(&mut self) -> u128 {
        ((self.next_u64() as u128) << 64) | self.next_u64() as u128
    }
}

/// One installed rule as a generator produces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleSpec {
    pub m: Match,
    pub priority: u16,
}

/// How one field of a template is constrained.
#[derive(Clone, Copy, Debug)]
enum Spec {
    /// Exact match on a fixed value (eth_type, ip_proto prerequisites).
    Fixed(Field, u128),
    /// Exact match on a random value.
    Exact(Field),
    /// Random value under a fixed mask (prefixes).
    Masked(Field, u128),
    /// Fixed value under a fixed mask (the multicast bit).
    FixedMasked(Field, u128, u128),
}

/// A rule shape: which fields, how masked, and the priority band that rules
/// of this shape use. Bands overlap across shapes on purpose (as in real
/// pipelines: several stages at priority 100, defaults at 0...), so lookups
/// cannot always stop after the first hit.
struct Template {
    specs: &'static [Spec],
    base_priority: u16,
}

const fn prefix32(bits: u32) -> u128 {
    (0xffff_ffffu32 << (32 - bits)) as u128
}

const fn prefix128(bits: u32) -> u128 {
    u128::MAX << (128 - bits)
}

const MULTICAST_BIT: u128 = 0x0100_0000_0000;
const IP: Spec = Spec::Fixed(Field::EthType, ETH_TYPE_IP as u128);
const IPV6: Spec = Spec::Fixed(Field::EthType, ETH_TYPE_IPV6 as u128);
const TCP: Spec = Spec::Fixed(Field::IpProto, IPPROTO_TCP as u128);
const UDP: Spec = Spec::Fixed(Field::IpProto, IPPROTO_UDP as u128);

/// Realistic masks, roughly in the order a pipeline author reaches for them
/// (L2 switching, ACLs, routing, tunnels, OVN-style registers/metadata).
const TEMPLATES: &[Template] = &[
    Template {
        specs: &[Spec::Exact(Field::InPort)],
        base_priority: 100,
    },
    Template {
        specs: &[Spec::Exact(Field::InPort), Spec::Exact(Field::DlVlan)],
        base_priority: 200,
    },
    Template {
        specs: &[Spec::Exact(Field::InPort), Spec::Exact(Field::EthSrc)],
        base_priority: 300,
    },
    Template {
        specs: &[Spec::Exact(Field::EthDst)],
        base_priority: 100,
    },
    Template {
        specs: &[Spec::FixedMasked(
            Field::EthDst,
            MULTICAST_BIT,
            MULTICAST_BIT,
        )],
        base_priority: 50,
    },
    Template {
        specs: &[
            Spec::Fixed(Field::EthType, ETH_TYPE_ARP as u128),
            Spec::Fixed(Field::ArpOp, 1),
            Spec::Exact(Field::ArpTpa),
        ],
        base_priority: 200,
    },
    Template {
        specs: &[IP, Spec::Exact(Field::Ipv4Dst)],
        base_priority: 300,
    },
    Template {
        specs: &[IP, Spec::Masked(Field::Ipv4Dst, prefix32(24))],
        base_priority: 240,
    },
    Template {
        specs: &[IP, Spec::Masked(Field::Ipv4Dst, prefix32(16))],
        base_priority: 160,
    },
    Template {
        specs: &[IP, Spec::Exact(Field::Ipv4Src)],
        base_priority: 300,
    },
    Template {
        specs: &[IP, Spec::Masked(Field::Ipv4Src, prefix32(24))],
        base_priority: 240,
    },
    Template {
        specs: &[IP, Spec::Masked(Field::Ipv4Src, prefix32(8))],
        base_priority: 100,
    },
    Template {
        specs: &[IP, TCP, Spec::Exact(Field::TpDst)],
        base_priority: 1000,
    },
    Template {
        specs: &[
            IP,
            UDP,
            Spec::Masked(Field::Ipv4Dst, prefix32(24)),
            Spec::Exact(Field::TpDst),
        ],
        base_priority: 1000,
    },
    Template {
        specs: &[
            IP,
            TCP,
            Spec::Exact(Field::Ipv4Dst),
            Spec::Exact(Field::TpDst),
        ],
        base_priority: 2000,
    },
    Template {
        specs: &[
            IP,
            TCP,
            Spec::Masked(Field::Ipv4Src, prefix32(24)),
            Spec::Exact(Field::Ipv4Dst),
            Spec::Exact(Field::TpDst),
        ],
        base_priority: 2000,
    },
    Template {
        specs: &[Spec::Exact(Field::Reg(0))],
        base_priority: 100,
    },
    Template {
        specs: &[Spec::Exact(Field::Reg(0)), Spec::Exact(Field::EthDst)],
        base_priority: 100,
    },
    Template {
        specs: &[Spec::Exact(Field::Reg(0)), IP, Spec::Exact(Field::Ipv4Dst)],
        base_priority: 300,
    },
    Template {
        specs: &[Spec::Exact(Field::Metadata), Spec::Exact(Field::EthDst)],
        base_priority: 100,
    },
    Template {
        specs: &[Spec::Exact(Field::TunId), Spec::Exact(Field::EthDst)],
        base_priority: 100,
    },
    Template {
        specs: &[Spec::Exact(Field::TunId)],
        base_priority: 50,
    },
    Template {
        specs: &[Spec::Exact(Field::InPort), IP],
        base_priority: 200,
    },
    Template {
        specs: &[IPV6, Spec::Masked(Field::Ipv6Dst, prefix128(64))],
        base_priority: 240,
    },
    Template {
        specs: &[IPV6, Spec::Exact(Field::Ipv6Src)],
        base_priority: 300,
    },
    Template {
        specs: &[
            IPV6,
            TCP,
            Spec::Exact(Field::Ipv6Dst),
            Spec::Exact(Field::TpDst),
        ],
        base_priority: 2000,
    },
    Template {
        specs: &[
            Spec::Exact(Field::InPort),
            Spec::Exact(Field::EthSrc),
            IP,
            Spec::Exact(Field::Ipv4Src),
        ],
        base_priority: 300,
    },
    Template {
        specs: &[
            IP,
            Spec::Fixed(Field::IpProto, IPPROTO_ICMP as u128),
            Spec::Exact(Field::Ipv4Src),
        ],
        base_priority: 1000,
    },
    Template {
        specs: &[Spec::Exact(Field::VlanTci), Spec::Exact(Field::EthDst)],
        base_priority: 200,
    },
    Template {
        specs: &[Spec::Exact(Field::Metadata), Spec::Exact(Field::Reg(0))],
        base_priority: 100,
    },
    // Beyond 30: used only when more masks are asked for.
    Template {
        specs: &[
            IP,
            UDP,
            Spec::Exact(Field::Ipv4Dst),
            Spec::Exact(Field::TpSrc),
        ],
        base_priority: 2000,
    },
    Template {
        specs: &[IPV6, Spec::Masked(Field::Ipv6Src, prefix128(48))],
        base_priority: 160,
    },
];

/// Number of distinct rule shapes (masks) the generators know.
pub fn mask_count() -> usize {
    TEMPLATES.len()
}

fn random_value(rng: &mut Rng, field: Field) -> u128 {
    match field {
        // A big switch: a few thousand ports, VLANs, registers values.
        Field::InPort => 1 + rng.below(4096) as u128,
        Field::DlVlan => rng.below(4095) as u128 + 1,
        Field::VlanTci => 0x1000 | rng.below(4096) as u128,
        Field::EthSrc | Field::EthDst => (rng.next_u64() & 0xfeff_ffff_ffff) as u128,
        _ => rng.u128(),
    }
}

fn template_rule(rng: &mut Rng, t: &Template) -> RuleSpec {
    let mut m = Match::CATCHALL;
    for &spec in t.specs {
        match spec {
            Spec::Fixed(f, v) => m.set(f, v),
            Spec::Exact(f) => m.set(f, random_value(rng, f)),
            Spec::Masked(f, mask) => m.set_masked(f, random_value(rng, f), mask),
            Spec::FixedMasked(f, v, mask) => m.set_masked(f, v, mask),
        }
    }
    RuleSpec {
        m,
        priority: t.base_priority + rng.below(3) as u16,
    }
}

/// `n_rules` distinct rules spread evenly over the first `n_masks` shapes
/// (a shape whose value space is exhausted, like the multicast bit, passes
/// its share on to the next). Deterministic for a seed.
///
/// # Panics
/// If `n_masks` is out of range.
pub fn realistic_rules(n_rules: usize, n_masks: usize, seed: u64) -> Vec<RuleSpec> {
    assert!(
        n_masks >= 1 && n_masks <= TEMPLATES.len(),
        "1..={} masks",
        TEMPLATES.len()
    );
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::with_capacity(n_rules);
    let mut rules = Vec::with_capacity(n_rules);
    let mut t = 0;
    while rules.len() < n_rules {
        let template = &TEMPLATES[t % n_masks];
        t += 1;
        for _attempt in 0..8 {
            let r = template_rule(&mut rng, template);
            if seen.insert((r.m, r.priority)) {
                rules.push(r);
                break;
            }
        }
    }
    rules
}

/// A plausible packet: mostly IPv4 TCP/UDP, some IPv6 and ARP, random
/// addresses, ports, registers and tunnel ids.
pub fn random_packet(rng: &mut Rng) -> FlowKey {
    let mut k = FlowKey::ZERO;
    let mut set = |f: Field, v: u128| f.write(&mut k, v);
    set(Field::InPort, 1 + rng.below(4096) as u128);
    if rng.chance(30) {
        set(Field::DlVlan, rng.below(4095) as u128 + 1);
    }
    set(Field::EthSrc, random_value(rng, Field::EthSrc));
    set(Field::EthDst, random_value(rng, Field::EthDst));
    set(Field::Reg(0), rng.below(1 << 20) as u128);
    set(Field::Metadata, rng.below(1 << 20) as u128);
    if rng.chance(20) {
        set(Field::TunId, rng.below(1 << 24) as u128);
    }
    let l3 = rng.below(100);
    if l3 < 70 {
        set(Field::EthType, ETH_TYPE_IP as u128);
        set(Field::Ipv4Src, rng.next_u64() as u128);
        set(Field::Ipv4Dst, rng.next_u64() as u128);
        set(Field::IpTtl, 64);
        let proto = *rng.pick(&[IPPROTO_TCP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP]);
        set(Field::IpProto, proto as u128);
        set(Field::TpSrc, rng.below(65536) as u128);
        set(Field::TpDst, rng.below(65536) as u128);
    } else if l3 < 85 {
        set(Field::EthType, ETH_TYPE_IPV6 as u128);
        set(Field::Ipv6Src, rng.u128());
        set(Field::Ipv6Dst, rng.u128());
        set(Field::IpProto, IPPROTO_TCP as u128);
        set(Field::TpSrc, rng.below(65536) as u128);
        set(Field::TpDst, rng.below(65536) as u128);
    } else {
        set(Field::EthType, ETH_TYPE_ARP as u128);
        set(Field::ArpOp, 1);
        set(Field::ArpSpa, rng.next_u64() as u128);
        set(Field::ArpTpa, rng.next_u64() as u128);
    }
    k
}

/// A plausible packet that `rule` matches: random traffic with the rule's
/// pinned bits forced in.
pub fn packet_hitting(rng: &mut Rng, rule: &RuleSpec) -> FlowKey {
    let mut k = random_packet(rng);
    for i in 0..k.words.len() {
        k.words[i] = (k.words[i] & !rule.m.mask.words[i]) | rule.m.value.words[i];
    }
    k
}

/// `n` packets of which `hit_percent`% match some rule of `classifier`
/// (built from `rules`) and the rest match none, shuffled together.
pub fn packet_mix<T>(
    classifier: &Classifier<T>,
    rules: &[RuleSpec],
    n: usize,
    hit_percent: u64,
    seed: u64,
) -> Vec<FlowKey> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let want_hit = rng.chance(hit_percent);
            loop {
                let k = if want_hit {
                    let rule = &rules[rng.below(rules.len() as u64) as usize];
                    packet_hitting(&mut rng, rule)
                } else {
                    random_packet(&mut rng)
                };
                if classifier.lookup(&k).is_some() == want_hit {
                    return k;
                }
            }
        })
        .collect()
}

/// A classifier holding `rules`, payload = index into `rules`.
pub fn build_classifier(rules: &[RuleSpec]) -> Classifier<u32> {
    let mut c = Classifier::new();
    for (i, r) in rules.iter().enumerate() {
        c.insert(&r.m, r.priority, i as u32);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_deterministic_and_distinct() {
        let a = realistic_rules(2000, 30, 7);
        let b = realistic_rules(2000, 30, 7);
        assert_eq!(a, b);
        let distinct: HashSet<_> = a.iter().map(|r| (r.m, r.priority)).collect();
        assert_eq!(distinct.len(), a.len());
        let masks: HashSet<_> = a.iter().map(|r| r.m.mask).collect();
        assert_eq!(masks.len(), 30);
        let all = realistic_rules(2000, mask_count(), 7);
        let masks: HashSet<_> = all.iter().map(|r| r.m.mask).collect();
        assert_eq!(masks.len(), mask_count(), "every template has its own mask");
    }

    #[test]
    fn hitting_packets_hit() {
        let rules = realistic_rules(300, 30, 1);
        let mut rng = Rng::new(2);
        for r in &rules {
            assert!(r.m.matches(&packet_hitting(&mut rng, r)));
        }
        let c = build_classifier(&rules);
        let mix = packet_mix(&c, &rules, 200, 90, 3);
        let hits = mix.iter().filter(|k| c.lookup(k).is_some()).count();
        assert!((160..=200).contains(&hits), "{hits}");
    }
}
pub mod flows;
