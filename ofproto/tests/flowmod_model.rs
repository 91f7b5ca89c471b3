//! Model check of `FlowTables`' flow_mod semantics: random sequences of adds,
//! modifies and deletes (strict and not), all-or-nothing batches and packet
//! hits are applied both to the real tables and to a deliberately naive model
//! (a `Vec` of flows) that spells out Open vSwitch's rules, and the two must
//! agree on every outcome and on the full table contents after every step.
//!
//! The model follows OVS 3.1's ofproto (`add_flow_start`, `modify_flows_*`,
//! `delete_flows_*`, `replace_rule_start`, ofproto-dpif's `rule_construct`
//! and `rule_insert`) for flow_mods as they reach the switch, i.e. after
//! ovs-ofctl's parsing: `new_cookie: None` means "leave the cookie alone".

use ofproto::action::{actions_output_to, Action};
use ofproto::key::FlowKey;
use ofproto::port::OFPP_NONE;
use ofproto::syntax::flow::{FlowMod, FlowModCommand};
use ofproto::table::{FlowModError, FlowModOutcome, FlowTables};
use ofproto::{Field, Match, Millis};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// One flow as the model keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MFlow {
    table: u8,
    matched: Match,
    priority: u16,
    cookie: u64,
    actions: Vec<Action>,
    idle_timeout: u16,
    hard_timeout: u16,
    importance: u16,
    send_flow_rem: bool,
    n_packets: u64,
    n_bytes: u64,
    created: Millis,
    modified: Millis,
    used: Millis,
}

impl MFlow {
    /// A new rule from an add: OpenFlow 1.0 adds imply `reset_counts`, so
    /// nothing carries over from a rule it replaces.
    fn from_add(fm: &FlowMod, table: u8, now: Millis) -> MFlow {
        MFlow {
            table,
            matched: fm.matched,
            priority: fm.priority,
            cookie: fm.new_cookie.unwrap_or(0),
            actions: fm.actions.clone(),
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            importance: fm.importance,
            send_flow_rem: fm.send_flow_rem,
            n_packets: 0,
            n_bytes: 0,
            created: now,
            modified: now,
            used: now,
        }
    }

    /// Ordering key for comparing whole tables.
    fn sort_key(&self) -> (u8, u16, [u64; 25], [u64; 25]) {
        (
            self.table,
            self.priority,
            self.matched.mask.words,
            self.matched.value.words,
        )
    }
}

#[derive(Clone, Debug, Default)]
struct Model {
    flows: Vec<MFlow>,
}

fn cookie_ok(f: &MFlow, fm: &FlowMod) -> bool {
    (f.cookie ^ fm.cookie) & fm.cookie_mask == 0
}

fn in_tables(f: &MFlow, fm: &FlowMod) -> bool {
    fm.table.unwrap_or(f.table) == f.table
}

impl Model {
    fn exact(&self, table: u8, m: &Match, priority: u16) -> Option<usize> {
        self.flows
            .iter()
            .position(|f| f.table == table && f.matched == *m && f.priority == priority)
    }

    fn add(&mut self, fm: &FlowMod, now: Millis) -> Result<FlowModOutcome, FlowModError> {
        let table = fm.table.unwrap_or(0);
        if let Some(i) = self.exact(table, &fm.matched, fm.priority) {
            // An identical rule is replaced; check_overlap is not consulted
            // (OVS only checks overlap when no identical rule exists).
            self.flows[i] = MFlow::from_add(fm, table, now);
            return Ok(FlowModOutcome {
                modified: 1,
                ..FlowModOutcome::default()
            });
        }
        if fm.check_overlap
            && self.flows.iter().any(|f| {
                f.table == table && f.priority == fm.priority && f.matched.overlaps(&fm.matched)
            })
        {
            return Err(FlowModError::Overlap {
                table,
                priority: fm.priority,
            });
        }
        self.flows.push(MFlow::from_add(fm, table, now));
        Ok(FlowModOutcome {
            added: 1,
            ..FlowModOutcome::default()
        })
    }

    fn selects(f: &MFlow, fm: &FlowMod, strict: bool) -> bool {
        in_tables(f, fm)
            && cookie_ok(f, fm)
            && if strict {
                f.matched == fm.matched && f.priority == fm.priority
            } else {
                f.matched.is_within(&fm.matched)
            }
    }

    fn modify(
        &mut self,
        fm: &FlowMod,
        strict: bool,
        now: Millis,
    ) -> Result<FlowModOutcome, FlowModError> {
        let targets: Vec<usize> = (0..self.flows.len())
            .filter(|&i| Model::selects(&self.flows[i], fm, strict))
            .collect();
        if targets.is_empty() {
            // OpenFlow 1.0: a modify that finds nothing adds, unless it
            // filtered on the cookie.
            return if fm.cookie_mask == 0 {
                self.add(fm, now)
            } else {
                Ok(FlowModOutcome::default())
            };
        }
        for &i in &targets {
            let f = &mut self.flows[i];
            // Timeouts, importance, flags and creation time stay; counters
            // and last use carry over unless reset_counts.
            f.actions = fm.actions.clone();
            f.modified = now;
            if let Some(c) = fm.new_cookie {
                f.cookie = c;
            }
            if fm.reset_counts {
                f.n_packets = 0;
                f.n_bytes = 0;
                // A fresh rule's stats start at its modification time
                // (ofproto-dpif rule_construct: stats.used = modified).
                f.used = now;
            }
        }
        Ok(FlowModOutcome {
            modified: targets.len(),
            ..FlowModOutcome::default()
        })
    }

    fn delete(&mut self, fm: &FlowMod, strict: bool) -> FlowModOutcome {
        let before = self.flows.len();
        self.flows.retain(|f| {
            let hit = Model::selects(f, fm, strict)
                && (fm.out_port == OFPP_NONE || actions_output_to(&f.actions, fm.out_port));
            !hit
        });
        FlowModOutcome {
            deleted: before - self.flows.len(),
            ..FlowModOutcome::default()
        }
    }

    fn apply(&mut self, fm: &FlowMod, now: Millis) -> Result<FlowModOutcome, FlowModError> {
        match fm.command {
            FlowModCommand::Add => self.add(fm, now),
            FlowModCommand::Modify => self.modify(fm, false, now),
            FlowModCommand::ModifyStrict => self.modify(fm, true, now),
            FlowModCommand::Delete => Ok(self.delete(fm, false)),
            FlowModCommand::DeleteStrict => Ok(self.delete(fm, true)),
        }
    }

    /// All or nothing, like `FlowTables::apply_batch`.
    fn apply_batch(
        &mut self,
        fms: &[FlowMod],
        now: Millis,
    ) -> Result<FlowModOutcome, FlowModError> {
        let saved = self.flows.clone();
        let mut total = FlowModOutcome::default();
        for (i, fm) in fms.iter().enumerate() {
            match self.apply(fm, now) {
                Ok(o) => {
                    total.added += o.added;
                    total.modified += o.modified;
                    total.deleted += o.deleted;
                }
                Err(e) => {
                    self.flows = saved;
                    return Err(FlowModError::InBatch {
                        line: i + 1,
                        error: Box::new(e),
                    });
                }
            }
        }
        Ok(total)
    }

    fn sorted(&self) -> Vec<MFlow> {
        let mut v = self.flows.clone();
        v.sort_by_key(MFlow::sort_key);
        v
    }
}

/// The real tables in the model's shape.
fn snapshot(t: &FlowTables) -> Vec<MFlow> {
    let mut v: Vec<MFlow> = t
        .flows()
        .iter()
        .map(|r| {
            let f = r.flow;
            MFlow {
                table: r.table,
                matched: t.rule_match(r.table, r.id).expect("live rule"),
                priority: r.priority,
                cookie: f.cookie,
                actions: f.actions.to_vec(),
                idle_timeout: f.idle_timeout,
                hard_timeout: f.hard_timeout,
                importance: f.importance,
                send_flow_rem: f.send_flow_rem,
                n_packets: f.n_packets,
                n_bytes: f.n_bytes,
                created: f.created,
                modified: f.modified,
                used: f.used,
            }
        })
        .collect();
    v.sort_by_key(MFlow::sort_key);
    v
}

// ---- Generators: small value sets so that identities, overlaps and
// ---- within-relations collide often.

const PRIORITIES: [u16; 3] = [1, 2, 32768];
const NETS: [u32; 3] = [0xc612_0000, 0xc612_0100, 0x0a00_0000]; // 198.18.0/24, 198.18.1/24, 10/8
const PREFIXES: [u32; 4] = [8, 16, 24, 32];

#[derive(Clone, Copy, Debug)]
enum Proto {
    Any,
    Ip,
    Tcp,
    Udp,
    Arp,
}

fn arb_match() -> impl Strategy<Value = Match> {
    (
        prop::option::of(1u32..=3),
        prop_oneof![
            Just(Proto::Any),
            Just(Proto::Ip),
            Just(Proto::Tcp),
            Just(Proto::Udp),
            Just(Proto::Arp)
        ],
        prop::option::of((0..NETS.len(), 0..PREFIXES.len())),
        prop::option::of(prop::sample::select(vec![22u16, 80])),
    )
        .prop_map(|(in_port, proto, nw_src, tp_dst)| {
            let mut m = Match::CATCHALL;
            if let Some(p) = in_port {
                m.set(Field::InPort, p as u128);
            }
            let (eth, ip_proto) = match proto {
                Proto::Any => (None, None),
                Proto::Ip => (Some(0x0800), None),
                Proto::Tcp => (Some(0x0800), Some(6)),
                Proto::Udp => (Some(0x0800), Some(17)),
                Proto::Arp => (Some(0x0806), None),
            };
            if let Some(e) = eth {
                m.set(Field::EthType, e);
            }
            if let Some(p) = ip_proto {
                m.set(Field::IpProto, p);
            }
            // Only with their prerequisites, as parsing would leave them.
            if eth == Some(0x0800) {
                if let Some((n, p)) = nw_src {
                    let mask = u32::MAX << (32 - PREFIXES[p]);
                    m.set_masked(Field::Ipv4Src, NETS[n] as u128, mask as u128);
                }
            }
            if ip_proto.is_some() {
                if let Some(d) = tp_dst {
                    m.set(Field::TpDst, d as u128);
                }
            }
            m
        })
}

fn arb_actions() -> impl Strategy<Value = Vec<Action>> {
    prop::sample::select(vec![
        vec![],
        vec![Action::Output { port: 1 }],
        vec![Action::Output { port: 2 }],
        vec![Action::Output { port: 3 }, Action::Output { port: 4 }],
    ])
}

fn arb_command() -> impl Strategy<Value = FlowModCommand> {
    prop_oneof![
        4 => Just(FlowModCommand::Add),
        2 => Just(FlowModCommand::Modify),
        2 => Just(FlowModCommand::ModifyStrict),
        2 => Just(FlowModCommand::Delete),
        2 => Just(FlowModCommand::DeleteStrict),
    ]
}

fn arb_flow_mod() -> impl Strategy<Value = FlowMod> {
    (
        (
            arb_command(),
            prop::option::of(0u8..3),
            prop::sample::select(PRIORITIES.to_vec()),
            arb_match(),
            arb_actions(),
        ),
        (
            prop::option::of(0u64..4),
            0u64..4,
            prop::sample::select(vec![0u64, 0, 0, u64::MAX, 1]),
            prop::sample::select(vec![OFPP_NONE, OFPP_NONE, OFPP_NONE, 1, 2, 3, 4]),
        ),
        (
            prop::sample::select(vec![0u16, 0, 10, 60]),
            prop::sample::select(vec![0u16, 0, 20]),
            prop::sample::select(vec![0u16, 3]),
            any::<bool>(),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.2),
        ),
    )
        .prop_map(
            |(
                (command, table, priority, matched, actions),
                (new_cookie, cookie, cookie_mask, out_port),
                (
                    idle_timeout,
                    hard_timeout,
                    importance,
                    send_flow_rem,
                    check_overlap,
                    reset_counts,
                ),
            )| {
                let mut fm = FlowMod {
                    command,
                    table,
                    priority,
                    matched,
                    actions,
                    new_cookie,
                    cookie,
                    cookie_mask,
                    idle_timeout,
                    hard_timeout,
                    importance,
                    send_flow_rem,
                    check_overlap,
                    reset_counts,
                    out_port,
                    warnings: Vec::new(),
                };
                // Keep to what ovs-ofctl can express for each command.
                match command {
                    FlowModCommand::Add => {
                        fm.cookie = 0;
                        fm.cookie_mask = 0;
                        fm.out_port = OFPP_NONE;
                    }
                    FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                        fm.out_port = OFPP_NONE
                    }
                    FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                        fm.actions.clear();
                        fm.new_cookie = None;
                    }
                }
                if fm.cookie_mask == 0 {
                    fm.cookie = 0;
                }
                fm
            },
        )
}

fn arb_key() -> impl Strategy<Value = FlowKey> {
    (
        1u32..=3,
        0..4usize,
        prop::sample::select(vec![0xc612_0005u32, 0xc612_0105, 0x0a00_0005, 0xc613_0001]),
        prop::sample::select(vec![22u16, 80, 53]),
    )
        .prop_map(|(in_port, kind, src, dport)| {
            let mut k = FlowKey::ZERO;
            Field::InPort.write(&mut k, in_port as u128);
            match kind {
                0 | 1 => {
                    Field::EthType.write(&mut k, 0x0800);
                    Field::Ipv4Src.write(&mut k, src as u128);
                    Field::IpProto.write(&mut k, if kind == 0 { 6 } else { 17 });
                    Field::TpDst.write(&mut k, dport as u128);
                }
                2 => Field::EthType.write(&mut k, 0x0806),
                _ => Field::EthType.write(&mut k, 0x86dd),
            }
            k
        })
}

#[derive(Clone, Debug)]
enum Op {
    /// Boxed: a FlowMod is large next to the other variants.
    Mod(Box<FlowMod>),
    Batch(Vec<FlowMod>),
    Hit {
        table: u8,
        key: FlowKey,
        bytes: u64,
    },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => arb_flow_mod().prop_map(|fm| Op::Mod(Box::new(fm))),
        1 => prop::collection::vec(arb_flow_mod(), 1..4).prop_map(Op::Batch),
        3 => (0u8..3, arb_key(), 60u64..1500).prop_map(|(table, key, bytes)| Op::Hit { table, key, bytes }),
    ]
}

/// Runs one packet through `table` of both, checking the tables picked a
/// flow the model allows (the highest priority among matching flows; which
/// of several equal-priority overlapping flows wins is unspecified).
fn hit(
    t: &mut FlowTables,
    model: &mut Model,
    table: u8,
    key: &FlowKey,
    bytes: u64,
    now: Millis,
) -> Result<(), TestCaseError> {
    let best = model
        .flows
        .iter()
        .filter(|f| f.table == table && f.matched.matches(key))
        .map(|f| f.priority)
        .max();
    let got = t.lookup(table, key).map(|(id, _)| id);
    match (got, best) {
        (None, None) => Ok(()),
        (Some(id), Some(p)) => {
            let r = t.get(table, id).expect("looked-up rule is live");
            let m = t.rule_match(table, id).expect("looked-up rule is live");
            prop_assert_eq!(r.priority, p, "lookup must return a highest-priority match");
            let i = model.exact(table, &m, r.priority);
            prop_assert!(
                i.is_some(),
                "lookup returned a flow the model does not have"
            );
            prop_assert!(m.matches(key));
            t.hit(table, id, bytes, now);
            let f = &mut model.flows[i.unwrap()];
            f.n_packets += 1;
            f.n_bytes += bytes;
            f.used = f.used.max(now);
            Ok(())
        }
        (got, best) => {
            prop_assert!(
                false,
                "lookup {:?} but model's best priority {:?}",
                got,
                best
            );
            Ok(())
        }
    }
}

fn run(ops: &[(Op, Millis)]) -> Result<(), TestCaseError> {
    let mut t = FlowTables::new();
    let mut model = Model::default();
    let mut now: Millis = 0;
    for (step, (op, dt)) in ops.iter().enumerate() {
        now += dt;
        match op {
            Op::Mod(fm) => {
                let want = model.apply(fm, now);
                let got = t.apply(fm, now).map(|(o, _)| o);
                prop_assert_eq!(got, want, "step {}: outcome of {:?}", step, fm);
            }
            Op::Batch(fms) => {
                let want = model.apply_batch(fms, now);
                let got = t.apply_batch(fms, now).map(|(o, _)| o);
                prop_assert_eq!(got, want, "step {}: outcome of batch {:?}", step, fms);
            }
            Op::Hit { table, key, bytes } => hit(&mut t, &mut model, *table, key, *bytes, now)?,
        }
        prop_assert_eq!(
            snapshot(&t),
            model.sorted(),
            "step {}: tables differ after {:?}",
            step,
            op
        );
        prop_assert_eq!(t.len(), model.flows.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config {
        cases: 1000,
        // Regressions belong in the named tests below, not in files.
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn flow_tables_agree_with_model(ops in prop::collection::vec((arb_op(), 0u64..3000), 1..40)) {
        run(&ops)?;
    }
}

// ---- Hand-written cases for rules the random search hits rarely ----

fn fm(
    command: FlowModCommand,
    priority: u16,
    matched: Match,
    actions: Vec<Action>,
) -> Box<FlowMod> {
    Box::new(FlowMod {
        command,
        table: None,
        priority,
        matched,
        actions,
        new_cookie: None,
        cookie: 0,
        cookie_mask: 0,
        idle_timeout: 0,
        hard_timeout: 0,
        importance: 0,
        send_flow_rem: false,
        check_overlap: false,
        reset_counts: false,
        out_port: OFPP_NONE,
        warnings: Vec::new(),
    })
}

fn in_port(p: u128) -> Match {
    let mut m = Match::CATCHALL;
    m.set(Field::InPort, p);
    m
}

fn ip() -> Match {
    let mut m = Match::CATCHALL;
    m.set(Field::EthType, 0x0800);
    m
}

fn check(ops: Vec<(Op, Millis)>) {
    if let Err(e) = run(&ops) {
        panic!("{e}");
    }
}

/// OVS's add_flow_start checks overlap only when no identical flow exists:
/// re-adding an existing flow with check_overlap replaces it even when
/// another flow of the same priority overlaps.
#[test]
fn check_overlap_readd_of_identical_flow_replaces_it() {
    let out = |p| vec![Action::Output { port: p }];
    let mut readd = fm(FlowModCommand::Add, 5, in_port(1), out(3));
    readd.check_overlap = true;
    check(vec![
        (Op::Mod(fm(FlowModCommand::Add, 5, ip(), out(1))), 0),
        (Op::Mod(fm(FlowModCommand::Add, 5, in_port(1), out(2))), 10),
        (Op::Mod(readd), 10),
    ]);
}

/// `reset_counts` on a modify zeroes the counters and, as the rule is new to
/// ofproto-dpif, its last-used time becomes the modification time.
#[test]
fn modify_with_reset_counts_restarts_idle_time() {
    let mut key = FlowKey::ZERO;
    Field::InPort.write(&mut key, 1);
    let mut m = fm(
        FlowModCommand::Modify,
        5,
        in_port(1),
        vec![Action::Output { port: 4 }],
    );
    m.reset_counts = true;
    check(vec![
        (Op::Mod(fm(FlowModCommand::Add, 5, in_port(1), vec![])), 0),
        (
            Op::Hit {
                table: 0,
                key,
                bytes: 100,
            },
            1_000,
        ),
        (Op::Mod(m), 5_000),
    ]);
}

/// A non-strict modify keeps counters, timeouts and creation time; a strict
/// one that finds nothing adds (OpenFlow 1.0), but not under a cookie mask.
#[test]
fn modify_keeps_counters_and_adds_when_nothing_matches() {
    let mut key = FlowKey::ZERO;
    Field::InPort.write(&mut key, 1);
    Field::EthType.write(&mut key, 0x0800);
    let mut add = fm(FlowModCommand::Add, 5, in_port(1), vec![]);
    add.idle_timeout = 60;
    let mut masked = fm(FlowModCommand::ModifyStrict, 9, in_port(2), vec![]);
    masked.cookie_mask = u64::MAX;
    check(vec![
        (Op::Mod(add), 0),
        (
            Op::Hit {
                table: 0,
                key,
                bytes: 64,
            },
            100,
        ),
        (
            Op::Mod(fm(
                FlowModCommand::Modify,
                1,
                Match::CATCHALL,
                vec![Action::Output { port: 2 }],
            )),
            100,
        ),
        (
            Op::Mod(fm(FlowModCommand::ModifyStrict, 9, in_port(2), vec![])),
            100,
        ),
        (Op::Mod(masked), 100),
    ]);
}
