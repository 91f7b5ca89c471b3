//! Property tests: the tuple-space classifier must agree with a naive linear
//! scan (highest priority wins, then earliest insertion) under random
//! insert/remove sequences, and its selection helpers must agree with
//! naive filters.

use ofproto::classifier::{Classifier, RuleId};
use ofproto::{Field, FlowKey, Match};
use proptest::prelude::*;

/// Small value domains so that rules overlap, tie and collide often.
const PORTS: [u128; 3] = [1, 2, 3];
const ETH_TYPES: [u128; 3] = [0x0800, 0x86dd, 0x0806];
const IPV4: [u128; 4] = [0x0a00_0001, 0x0a00_0101, 0x0a01_0000, 0xc0a8_0001];
const PREFIXES: [u32; 4] = [8, 16, 24, 32];
const PORTS_L4: [u128; 2] = [22, 80];
const VLAN_TCIS: [u128; 3] = [0, 0x1005, 0x1006];
const SMALL: [u128; 3] = [0, 1, 2];
const MACS: [u128; 3] = [0x0100_5e00_0001, 0x0200_0000_0001, 0x0200_0000_0002];
const IPV6: [u128; 2] = [
    0x2001_0db8_0000_0001_0000_0000_0000_0001,
    0x2001_0db8_0000_0002_0000_0000_0000_0001,
];

/// Picks from a value pool with a byte of entropy.
fn pick<T: Copy>(pool: &[T], r: u8) -> T {
    pool[r as usize % pool.len()]
}

fn prefix32(bits: u32) -> u128 {
    (0xffff_ffffu32 << (32 - bits)) as u128
}

const N_SHAPES: u8 = 13;

/// A realistic mask shape, filled from `r`'s bytes.
fn rule_match(shape: u8, r: [u8; 4]) -> Match {
    let mut m = Match::CATCHALL;
    let ip = |m: &mut Match| m.set(Field::EthType, 0x0800);
    match shape % N_SHAPES {
        0 => m.set(Field::InPort, pick(&PORTS, r[0])),
        1 => m.set(Field::EthType, pick(&ETH_TYPES, r[0])),
        2 => {
            ip(&mut m);
            m.set_masked(
                Field::Ipv4Src,
                pick(&IPV4, r[0]),
                prefix32(pick(&PREFIXES, r[1])),
            );
        }
        3 => {
            ip(&mut m);
            m.set(Field::IpProto, 6);
            m.set(Field::TpDst, pick(&PORTS_L4, r[0]));
        }
        4 => m.set(Field::VlanTci, pick(&VLAN_TCIS, r[0])),
        5 => m.set(Field::Reg(0), pick(&SMALL, r[0])),
        6 => m.set(Field::TunId, pick(&SMALL, r[0])),
        7 => m.set_masked(Field::EthDst, pick(&MACS, r[0]), 0x0100_0000_0000),
        8 => m.set(Field::EthDst, pick(&MACS, r[0])),
        9 => {}
        10 => {
            m.set(Field::EthType, 0x86dd);
            m.set_masked(Field::Ipv6Src, pick(&IPV6, r[0]), u128::MAX << 64);
        }
        11 => {
            m.set(Field::InPort, pick(&PORTS, r[0]));
            m.set(Field::EthType, pick(&ETH_TYPES, r[1]));
        }
        _ => {
            ip(&mut m);
            m.set_masked(
                Field::Ipv4Dst,
                pick(&IPV4, r[0]),
                prefix32(pick(&PREFIXES, r[1])),
            );
            m.set(Field::Reg(0), pick(&SMALL, r[2]));
            m.set(Field::InPort, pick(&PORTS, r[3]));
        }
    }
    m
}

/// A packet from the same small domains.
fn packet(r: [u8; 12]) -> FlowKey {
    let mut k = FlowKey::ZERO;
    let mut set = |f: Field, v: u128| f.write(&mut k, v);
    set(Field::InPort, pick(&PORTS, r[0]));
    set(Field::EthType, pick(&ETH_TYPES, r[1]));
    set(Field::Ipv4Src, pick(&IPV4, r[2]));
    set(Field::Ipv4Dst, pick(&IPV4, r[3]));
    set(Field::IpProto, if r[4] & 1 == 0 { 6 } else { 17 });
    set(Field::TpDst, pick(&PORTS_L4, r[5]));
    set(Field::VlanTci, pick(&VLAN_TCIS, r[6]));
    set(Field::Reg(0), pick(&SMALL, r[7]));
    set(Field::TunId, pick(&SMALL, r[8]));
    set(Field::EthDst, pick(&MACS, r[9]));
    set(Field::Ipv6Src, pick(&IPV6, r[10]) ^ (r[11] as u128));
    k
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        shape: u8,
        values: [u8; 4],
        priority: u16,
    },
    Remove {
        which: usize,
    },
    Lookup {
        base: usize,
        noise: [u8; 12],
    },
    Query {
        shape: u8,
        values: [u8; 4],
        priority: u16,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<[u8; 4]>(), 0u16..4)
            .prop_map(|(shape, values, priority)| Op::Insert { shape, values, priority }),
        2 => any::<usize>().prop_map(|which| Op::Remove { which }),
        4 => (any::<usize>(), any::<[u8; 12]>()).prop_map(|(base, noise)| Op::Lookup { base, noise }),
        2 => (any::<u8>(), any::<[u8; 4]>(), 0u16..4)
            .prop_map(|(shape, values, priority)| Op::Query { shape, values, priority }),
    ]
}

/// The reference: rules in insertion order.
struct Model {
    rules: Vec<(RuleId, Match, u16)>,
}

impl Model {
    fn lookup(&self, k: &FlowKey) -> Option<RuleId> {
        let mut best: Option<&(RuleId, Match, u16)> = None;
        for r in self.rules.iter().filter(|r| r.1.matches(k)) {
            // Strictly greater: an equal priority never displaces an earlier rule.
            match best {
                Some(b) if r.2 <= b.2 => {}
                _ => best = Some(r),
            }
        }
        best.map(|r| r.0)
    }

    fn find_exact(&self, m: &Match, priority: u16) -> Option<RuleId> {
        self.rules
            .iter()
            .find(|r| r.1 == *m && r.2 == priority)
            .map(|r| r.0)
    }
}

fn sorted(mut ids: Vec<RuleId>) -> Vec<RuleId> {
    ids.sort();
    ids
}

/// `key` with the bits outside `wildcards` replaced by `noise`.
fn perturb(key: &FlowKey, wildcards: &FlowKey, noise: [u8; 12]) -> FlowKey {
    let other = packet(noise);
    let mut k = *key;
    for i in 0..k.words.len() {
        k.words[i] = (key.words[i] & wildcards.words[i]) | (other.words[i] & !wildcards.words[i]);
    }
    k
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut c: Classifier<usize> = Classifier::new();
    let mut model = Model { rules: Vec::new() };
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Insert {
                shape,
                values,
                priority,
            } => {
                let m = rule_match(shape, values);
                let existing = c.find_exact(&m, priority);
                prop_assert_eq!(existing, model.find_exact(&m, priority));
                if existing.is_none() {
                    let id = c.insert(&m, priority, step);
                    prop_assert!(model.rules.iter().all(|r| r.0 != id), "live id reused");
                    model.rules.push((id, m, priority));
                }
            }
            Op::Remove { which } => {
                if !model.rules.is_empty() {
                    let (id, _, _) = model.rules.remove(which % model.rules.len());
                    prop_assert!(c.remove(id).is_some());
                    prop_assert_eq!(c.remove(id), None);
                }
            }
            Op::Lookup { base, noise } => {
                // Biased to hit: start from a rule's value, randomise the rest.
                let mut k = packet(noise);
                if !model.rules.is_empty() {
                    let m = model.rules[base % model.rules.len()].1;
                    for i in 0..k.words.len() {
                        k.words[i] = (k.words[i] & !m.mask.words[i]) | m.value.words[i];
                    }
                }
                let want = model.lookup(&k);
                prop_assert_eq!(c.lookup(&k), want);
                let mut wc = FlowKey::ZERO;
                prop_assert_eq!(c.lookup_with_wildcards(&k, &mut wc), want);
                // Megaflow property: bits the lookup did not consult do not matter.
                let mut shifted = noise;
                shifted.rotate_left(5);
                let k2 = perturb(&k, &wc, shifted);
                prop_assert_eq!(model.lookup(&k2), want, "wildcards too wide for {:?}", k);
            }
            Op::Query {
                shape,
                values,
                priority,
            } => {
                let m = rule_match(shape, values);
                prop_assert_eq!(c.find_exact(&m, priority), model.find_exact(&m, priority));
                let within = sorted(c.iter_within(&m).collect());
                let want = sorted(
                    model
                        .rules
                        .iter()
                        .filter(|r| r.1.is_within(&m))
                        .map(|r| r.0)
                        .collect(),
                );
                prop_assert_eq!(within, want);
                let naive_overlap: Vec<RuleId> = model
                    .rules
                    .iter()
                    .filter(|r| r.2 == priority && r.1.overlaps(&m))
                    .map(|r| r.0)
                    .collect();
                match c.find_overlap(&m, priority) {
                    Some(id) => prop_assert!(naive_overlap.contains(&id)),
                    None => prop_assert!(naive_overlap.is_empty()),
                }
            }
        }
        prop_assert_eq!(c.len(), model.rules.len());
    }
    // Every live rule reads back exactly.
    prop_assert_eq!(
        sorted(c.iter().collect()),
        sorted(model.rules.iter().map(|r| r.0).collect())
    );
    for (id, m, priority) in &model.rules {
        prop_assert_eq!(c.rule_match(*id), Some(*m));
        prop_assert_eq!(c.priority(*id), Some(*priority));
        prop_assert!(c.get(*id).is_some());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn classifier_agrees_with_linear_scan(ops in proptest::collection::vec(op(), 1..200)) {
        run(ops)?;
    }
}

/// Larger tables than the proptest reaches, so subtables resize their
/// buckets and filters up and down.
#[test]
fn bulk_insert_remove_agrees_with_linear_scan() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut c: Classifier<u32> = Classifier::new();
    let mut model = Model { rules: Vec::new() };
    for round in 0..3 {
        for i in 0..3000u32 {
            let shape = (next() % N_SHAPES as u64) as u8;
            let mut m = rule_match(shape, (next() as u32).to_le_bytes());
            // Widen the value space so subtables grow large.
            if shape == 5 {
                m.set(Field::Reg(0), (next() % 5000) as u128);
            }
            let priority = (next() % 8) as u16;
            if c.find_exact(&m, priority).is_none() {
                model.rules.push((c.insert(&m, priority, i), m, priority));
            }
        }
        for _ in 0..2000 * (round + 1) {
            if model.rules.is_empty() {
                break;
            }
            let (id, _, _) = model
                .rules
                .remove((next() % model.rules.len() as u64) as usize);
            assert!(c.remove(id).is_some());
        }
        for _ in 0..2000 {
            let mut k = packet((next() as u128).to_le_bytes()[..12].try_into().unwrap());
            if next() & 1 == 0 {
                Field::Reg(0).write(&mut k, (next() % 5000) as u128);
            }
            assert_eq!(c.lookup(&k), model.lookup(&k));
        }
    }
}
