//! Flow tables and flow_mods with Open vSwitch's semantics: 255 tables,
//! add/modify/delete (strict and not), cookies, out_port filters, timeouts,
//! counters, learned flows, and all-or-nothing batches.

use std::collections::HashMap;
use std::sync::Arc;

use crate::action::{actions_output_to, Action};
use crate::classifier::{Classifier, RuleId};
use crate::flow_match::Match;
use crate::key::FlowKey;
use crate::learn::LearnedFlow;
use crate::syntax::flow::{FlowMod, FlowModCommand};
use crate::Millis;

/// Number of flow tables (0..=254), as Open vSwitch offers.
pub const N_TABLES: usize = 255;

/// Which learn action installed a flow: the installing flow's serial number
/// and the index of the learn action in its action list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LearnOrigin {
    pub serial: u64,
    pub action: u16,
}

/// One installed flow (its match and priority live in the classifier).
#[derive(Clone, Debug)]
pub struct Flow {
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub importance: u16,
    pub send_flow_rem: bool,
    /// Shared so the pipeline and caches can hold them without copying.
    pub actions: Arc<[Action]>,
    pub created: Millis,
    /// Last add/modify (hard timeouts and `hard_age` count from here).
    pub modified: Millis,
    /// Last packet hit (idle timeouts and `idle_age` count from here).
    pub used: Millis,
    pub n_packets: u64,
    pub n_bytes: u64,
    /// Unique for the life of the tables; identifies learn actions (and,
    /// through `FlowTables::learned_by`, which learn action made a flow; kept
    /// aside because few flows are learned and every byte here counts).
    pub serial: u64,
}

/// Why a flow left its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovedReason {
    IdleTimeout,
    HardTimeout,
    Delete,
    /// Removed because the flow that learned it was deleted (`delete_learned`).
    LearnerDeleted,
}

/// A flow that was removed, for flow-removed messages and logs.
#[derive(Clone, Debug)]
pub struct RemovedFlow {
    pub table: u8,
    pub priority: u16,
    pub matched: Match,
    pub flow: Flow,
    pub reason: RemovedReason,
}

/// Why a flow_mod was refused. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlowModError {
    #[error("OFPFMFC_OVERLAP: a flow of priority {priority} in table {table} overlaps the new flow (check_overlap)")]
    Overlap { table: u8, priority: u16 },
    #[error("OFPBRC_BAD_TABLE_ID: table {0} does not exist")]
    BadTable(u8),
    #[error("line {line}: {error}")]
    InBatch {
        line: usize,
        error: Box<FlowModError>,
    },
}

/// What a flow_mod changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowModOutcome {
    pub added: usize,
    pub modified: usize,
    pub deleted: usize,
}

/// A reference to an installed flow, for dumps.
#[derive(Clone, Copy, Debug)]
pub struct FlowRef<'a> {
    pub table: u8,
    pub id: RuleId,
    pub priority: u16,
    pub flow: &'a Flow,
}

struct Restore {
    table: u8,
    matched: Match,
    priority: u16,
    flow: Flow,
    origin: Option<LearnOrigin>,
}

enum Undo {
    Remove {
        table: u8,
        id: RuleId,
    },
    Restore(Box<Restore>),
    Replace {
        table: u8,
        id: RuleId,
        flow: Box<Flow>,
    },
}

/// The 255 flow tables of one bridge.
pub struct FlowTables {
    tables: Vec<Classifier<Flow>>,
    generation: u64,
    next_serial: u64,
    /// Live flows per learn action, for `limit=`.
    learned_counts: HashMap<LearnOrigin, u32>,
    /// Serial of each learned flow -> the learn action that made it.
    learned_by: HashMap<u64, LearnOrigin>,
    undo: Option<Vec<Undo>>,
}

impl Default for FlowTables {
    fn default() -> Self {
        FlowTables::new()
    }
}

fn cookie_ok(flow: &Flow, cookie: u64, mask: u64) -> bool {
    (flow.cookie ^ cookie) & mask == 0
}

impl FlowTables {
    pub fn new() -> FlowTables {
        FlowTables {
            tables: (0..N_TABLES).map(|_| Classifier::new()).collect(),
            generation: 0,
            next_serial: 1,
            learned_counts: HashMap::new(),
            learned_by: HashMap::new(),
            undo: None,
        }
    }

    /// Bumped on every change: caches keyed on it invalidate themselves.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn len(&self) -> usize {
        self.tables.iter().map(|t| t.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn table(&self, table: u8) -> &Classifier<Flow> {
        &self.tables[table as usize]
    }

    /// The highest-priority flow of `table` matching `key`.
    #[inline]
    pub fn lookup(&self, table: u8, key: &FlowKey) -> Option<(RuleId, &Flow)> {
        let t = &self.tables[table as usize];
        let id = t.lookup(key)?;
        Some((id, t.get(id).expect("lookup returns live ids")))
    }

    pub fn get(&self, table: u8, id: RuleId) -> Option<FlowRef<'_>> {
        let t = self.tables.get(table as usize)?;
        Some(FlowRef {
            table,
            id,
            priority: t.priority(id)?,
            flow: t.get(id)?,
        })
    }

    pub fn rule_match(&self, table: u8, id: RuleId) -> Option<Match> {
        self.tables.get(table as usize)?.rule_match(id)
    }

    /// Counts a packet against a flow (counters and idle time).
    #[inline]
    pub fn hit(&mut self, table: u8, id: RuleId, bytes: u64, now: Millis) {
        if let Some(f) = self.tables[table as usize].get_mut(id) {
            f.n_packets += 1;
            f.n_bytes += bytes;
            f.used = f.used.max(now);
        }
    }

    /// Adds counts gathered elsewhere (e.g. by datapath workers).
    pub fn credit(&mut self, table: u8, id: RuleId, packets: u64, bytes: u64, used: Millis) {
        if let Some(f) = self.tables[table as usize].get_mut(id) {
            f.n_packets += packets;
            f.n_bytes += bytes;
            f.used = f.used.max(used);
        }
    }

    /// Like [`FlowTables::credit`], but only if the rule is still the flow
    /// with `serial` (rule ids are reused after deletion; counts gathered for
    /// a deleted flow are dropped rather than given to its successor).
    pub fn credit_serial(
        &mut self,
        table: u8,
        id: RuleId,
        serial: u64,
        packets: u64,
        bytes: u64,
        used: Millis,
    ) {
        if let Some(f) = self.tables[table as usize].get_mut(id) {
            if f.serial == serial {
                f.n_packets += packets;
                f.n_bytes += bytes;
                f.used = f.used.max(used);
            }
        }
    }

    /// Every flow, ordered by table, then priority (high first), then the
    /// order they were added: the order `dump-flows` prints.
    pub fn flows(&self) -> Vec<FlowRef<'_>> {
        let mut out = Vec::with_capacity(self.len());
        for (t, cls) in self.tables.iter().enumerate() {
            let start = out.len();
            for id in cls.iter() {
                out.push(FlowRef {
                    table: t as u8,
                    id,
                    priority: cls.priority(id).expect("live"),
                    flow: cls.get(id).expect("live"),
                });
            }
            out[start..].sort_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(a.flow.serial.cmp(&b.flow.serial))
            });
        }
        out
    }

    fn new_flow(&mut self, fm: &FlowMod, now: Millis) -> Flow {
        let serial = self.next_serial;
        self.next_serial += 1;
        Flow {
            cookie: fm.new_cookie.unwrap_or(0),
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            importance: fm.importance,
            send_flow_rem: fm.send_flow_rem,
            actions: fm.actions.clone().into(),
            created: now,
            modified: now,
            used: now,
            n_packets: 0,
            n_bytes: 0,
            serial,
        }
    }

    /// Which learn action installed the flow with this serial, if any.
    pub fn learned_by(&self, serial: u64) -> Option<LearnOrigin> {
        self.learned_by.get(&serial).copied()
    }

    fn count_learned(&mut self, serial: u64, delta: i32) {
        if let Some(o) = self.learned_by.get(&serial).copied() {
            let c = self.learned_counts.entry(o).or_insert(0);
            *c = c.saturating_add_signed(delta);
            if *c == 0 {
                self.learned_counts.remove(&o);
            }
        }
    }

    fn log(&mut self, u: Undo) {
        if let Some(l) = &mut self.undo {
            l.push(u);
        }
    }

    fn insert(&mut self, table: u8, matched: &Match, priority: u16, flow: Flow) -> RuleId {
        self.count_learned(flow.serial, 1);
        let id = self.tables[table as usize].insert(matched, priority, flow);
        self.log(Undo::Remove { table, id });
        id
    }

    fn remove(&mut self, table: u8, id: RuleId) -> Option<(Match, u16, Flow)> {
        let cls = &mut self.tables[table as usize];
        let matched = cls.rule_match(id)?;
        let priority = cls.priority(id)?;
        let flow = cls.remove(id)?;
        self.count_learned(flow.serial, -1);
        let origin = self.learned_by.remove(&flow.serial);
        self.log(Undo::Restore(Box::new(Restore {
            table,
            matched,
            priority,
            flow: flow.clone(),
            origin,
        })));
        Some((matched, priority, flow))
    }

    fn replace(&mut self, table: u8, id: RuleId, f: impl FnOnce(&mut Flow)) {
        let cls = &mut self.tables[table as usize];
        if let Some(flow) = cls.get_mut(id) {
            let old = flow.clone();
            f(flow);
            self.log(Undo::Replace {
                table,
                id,
                flow: Box::new(old),
            });
        }
    }

    fn tables_for(fm: &FlowMod) -> std::ops::Range<usize> {
        match fm.table {
            Some(t) => t as usize..t as usize + 1,
            None => 0..N_TABLES,
        }
    }

    /// Applies one flow_mod. On error nothing changed.
    pub fn apply(
        &mut self,
        fm: &FlowMod,
        now: Millis,
    ) -> Result<(FlowModOutcome, Vec<RemovedFlow>), FlowModError> {
        let mut removed = Vec::new();
        let outcome = self.apply_inner(fm, now, &mut removed)?;
        if outcome != FlowModOutcome::default() {
            self.generation += 1;
        }
        Ok((outcome, removed))
    }

    fn apply_inner(
        &mut self,
        fm: &FlowMod,
        now: Millis,
        removed: &mut Vec<RemovedFlow>,
    ) -> Result<FlowModOutcome, FlowModError> {
        let mut out = FlowModOutcome::default();
        if let Some(t) = fm.table {
            if t as usize >= N_TABLES {
                return Err(FlowModError::BadTable(t));
            }
        }
        match fm.command {
            FlowModCommand::Add => {
                let table = fm.table.unwrap_or(0);
                let cls = &self.tables[table as usize];
                let existing = cls.find_exact(&fm.matched, fm.priority);
                // OVS checks overlap only for a genuinely new flow; an
                // identical one is simply replaced.
                if fm.check_overlap && existing.is_none() {
                    if let Some(o) = cls.find_overlap(&fm.matched, fm.priority) {
                        if Some(o) != existing {
                            return Err(FlowModError::Overlap {
                                table,
                                priority: fm.priority,
                            });
                        }
                    }
                }
                if let Some(id) = existing {
                    // OVS replaces the flow: new actions, timeouts and
                    // cookie, counters and age start over.
                    let mut fresh = self.new_flow(fm, now);
                    self.replace(table, id, |f| {
                        // Keep the identity so learned-flow bookkeeping holds.
                        fresh.serial = f.serial;
                        *f = fresh;
                    });
                    out.modified += 1;
                } else {
                    let flow = self.new_flow(fm, now);
                    self.insert(table, &fm.matched, fm.priority, flow);
                    out.added += 1;
                }
            }
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                let strict = fm.command == FlowModCommand::ModifyStrict;
                let targets = self.select(fm, strict, false);
                if targets.is_empty() {
                    if fm.cookie_mask == 0 {
                        let mut add = fm.clone();
                        add.command = FlowModCommand::Add;
                        if add.table.is_none() {
                            add.table = Some(0);
                        }
                        return self.apply_inner(&add, now, removed);
                    }
                    return Ok(out);
                }
                let actions: Arc<[Action]> = fm.actions.clone().into();
                for (table, id) in targets {
                    let actions = actions.clone();
                    self.replace(table, id, |f| {
                        f.actions = actions;
                        f.modified = now;
                        if let Some(c) = fm.new_cookie {
                            f.cookie = c;
                        }
                        if fm.reset_counts {
                            f.n_packets = 0;
                            f.n_bytes = 0;
                            // OVS rebuilds the rule: its idle time restarts.
                            f.used = now;
                        }
                    });
                    out.modified += 1;
                }
            }
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                let strict = fm.command == FlowModCommand::DeleteStrict;
                for (table, id) in self.select(fm, strict, true) {
                    out.deleted += self.delete_flow(table, id, RemovedReason::Delete, removed);
                }
            }
        }
        Ok(out)
    }

    /// Removes one flow, and what it learned with `delete_learned`.
    fn delete_flow(
        &mut self,
        table: u8,
        id: RuleId,
        reason: RemovedReason,
        removed: &mut Vec<RemovedFlow>,
    ) -> usize {
        let Some((matched, priority, flow)) = self.remove(table, id) else {
            return 0;
        };
        let mut n = 1;
        let learners: Vec<u16> = flow
            .actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                Action::Learn(l) if l.delete_learned => Some(i as u16),
                _ => None,
            })
            .collect();
        let serial = flow.serial;
        removed.push(RemovedFlow {
            table,
            priority,
            matched,
            flow,
            reason,
        });
        if !learners.is_empty() {
            let mut victims = Vec::new();
            for (t, cls) in self.tables.iter().enumerate() {
                for rid in cls.iter() {
                    if let Some(o) = cls.get(rid).and_then(|f| self.learned_by.get(&f.serial)) {
                        if o.serial == serial && learners.contains(&o.action) {
                            victims.push((t as u8, rid));
                        }
                    }
                }
            }
            for (t, rid) in victims {
                n += self.delete_flow(t, rid, RemovedReason::LearnerDeleted, removed);
            }
        }
        n
    }

    /// The flows a modify/delete selects: strict = same match and priority;
    /// otherwise every flow at least as specific as the match. Cookie mask
    /// and (for deletes) out_port filter apply.
    fn select(&self, fm: &FlowMod, strict: bool, use_out_port: bool) -> Vec<(u8, RuleId)> {
        let mut out = Vec::new();
        for t in Self::tables_for(fm) {
            let cls = &self.tables[t];
            let ok = |id: RuleId| {
                let f = cls.get(id).expect("live");
                cookie_ok(f, fm.cookie, fm.cookie_mask)
                    && (!use_out_port
                        || fm.out_port == crate::port::OFPP_NONE
                        || actions_output_to(&f.actions, fm.out_port))
            };
            if strict {
                if let Some(id) = cls.find_exact(&fm.matched, fm.priority) {
                    if ok(id) {
                        out.push((t as u8, id));
                    }
                }
            } else {
                out.extend(
                    cls.iter_within(&fm.matched)
                        .filter(|id| ok(*id))
                        .map(|id| (t as u8, id)),
                );
            }
        }
        out
    }

    /// Applies several flow_mods as one transaction: all or nothing.
    pub fn apply_batch(
        &mut self,
        fms: &[FlowMod],
        now: Millis,
    ) -> Result<(FlowModOutcome, Vec<RemovedFlow>), FlowModError> {
        self.undo = Some(Vec::new());
        let mut total = FlowModOutcome::default();
        let mut removed = Vec::new();
        for (i, fm) in fms.iter().enumerate() {
            match self.apply_inner(fm, now, &mut removed) {
                Ok(o) => {
                    total.added += o.added;
                    total.modified += o.modified;
                    total.deleted += o.deleted;
                }
                Err(e) => {
                    self.rollback();
                    return Err(FlowModError::InBatch {
                        line: i + 1,
                        error: Box::new(e),
                    });
                }
            }
        }
        self.undo = None;
        if total != FlowModOutcome::default() {
            self.generation += 1;
        }
        Ok((total, removed))
    }

    fn rollback(&mut self) {
        let log = self.undo.take().unwrap_or_default();
        for u in log.into_iter().rev() {
            match u {
                Undo::Remove { table, id } => {
                    if let Some(f) = self.tables[table as usize].remove(id) {
                        self.count_learned(f.serial, -1);
                    }
                }
                Undo::Restore(r) => {
                    let Restore {
                        table,
                        matched,
                        priority,
                        flow,
                        origin,
                    } = *r;
                    if let Some(o) = origin {
                        self.learned_by.insert(flow.serial, o);
                    }
                    self.count_learned(flow.serial, 1);
                    self.tables[table as usize].insert(&matched, priority, flow);
                }
                Undo::Replace { table, id, flow } => {
                    if let Some(f) = self.tables[table as usize].get_mut(id) {
                        *f = *flow;
                    }
                }
            }
        }
    }

    /// Replaces every flow with `fms` (all adds), keeping the counters of
    /// flows that are unchanged, as `ovs-ofctl replace-flows` does.
    pub fn replace_all(
        &mut self,
        fms: &[FlowMod],
        now: Millis,
    ) -> Result<FlowModOutcome, FlowModError> {
        let mut out = FlowModOutcome::default();
        let mut wanted: HashMap<(u8, Match, u16), &FlowMod> = HashMap::new();
        for fm in fms {
            wanted.insert((fm.table.unwrap_or(0), fm.matched, fm.priority), fm);
        }
        self.undo = Some(Vec::new());
        let mut removed = Vec::new();
        let existing: Vec<(u8, RuleId, Match, u16)> = self
            .tables
            .iter()
            .enumerate()
            .flat_map(|(t, cls)| {
                cls.iter().map(move |id| {
                    (
                        t as u8,
                        id,
                        cls.rule_match(id).expect("live"),
                        cls.priority(id).expect("live"),
                    )
                })
            })
            .collect();
        for (t, id, m, p) in existing {
            match wanted.get(&(t, m, p)) {
                Some(fm) => {
                    let f = self.tables[t as usize].get(id).expect("live");
                    let same = *f.actions == *fm.actions
                        && f.cookie == fm.new_cookie.unwrap_or(0)
                        && f.idle_timeout == fm.idle_timeout
                        && f.hard_timeout == fm.hard_timeout;
                    if !same {
                        // OVS re-adds a changed flow: new age, old counters
                        // and last-used time.
                        let (n_packets, n_bytes, used) = (f.n_packets, f.n_bytes, f.used);
                        let mut fresh = self.new_flow(fm, now);
                        fresh.n_packets = n_packets;
                        fresh.n_bytes = n_bytes;
                        fresh.used = used;
                        self.replace(t, id, |f| *f = fresh);
                        out.modified += 1;
                    }
                    wanted.remove(&(t, m, p));
                }
                None => out.deleted += self.delete_flow(t, id, RemovedReason::Delete, &mut removed),
            }
        }
        for fm in fms {
            let k = (fm.table.unwrap_or(0), fm.matched, fm.priority);
            if wanted.remove(&k).is_some() {
                let flow = self.new_flow(fm, now);
                self.insert(k.0, &fm.matched, fm.priority, flow);
                out.added += 1;
            }
        }
        self.undo = None;
        self.generation += 1;
        Ok(out)
    }

    /// Installs a flow from a learn action as a strict modify: an identical
    /// flow (same table, match, priority) gets the new actions and a fresh
    /// hard timeout but keeps its counters. Returns false when the learn
    /// action's `limit` refuses a new flow.
    pub fn learn(
        &mut self,
        lf: &LearnedFlow,
        origin: LearnOrigin,
        limit: u32,
        now: Millis,
    ) -> bool {
        let table = lf.table;
        if table as usize >= N_TABLES {
            return false;
        }
        let cls = &self.tables[table as usize];
        if let Some(id) = cls.find_exact(&lf.matched, lf.priority) {
            let f = cls.get(id).expect("live");
            let same = *f.actions == *lf.actions
                && f.cookie == lf.cookie
                && f.idle_timeout == lf.idle_timeout
                && f.hard_timeout == lf.hard_timeout;
            let actions: Arc<[Action]> = if same {
                f.actions.clone()
            } else {
                lf.actions.clone().into()
            };
            self.replace(table, id, |f| {
                f.actions = actions;
                f.cookie = lf.cookie;
                f.idle_timeout = lf.idle_timeout;
                f.hard_timeout = lf.hard_timeout;
                f.modified = now;
            });
            if !same {
                self.generation += 1;
            }
            return true;
        }
        if limit != 0 && self.learned_counts.get(&origin).copied().unwrap_or(0) >= limit {
            return false;
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let flow = Flow {
            cookie: lf.cookie,
            idle_timeout: lf.idle_timeout,
            hard_timeout: lf.hard_timeout,
            importance: lf.importance,
            send_flow_rem: lf.send_flow_rem,
            actions: lf.actions.clone().into(),
            created: now,
            modified: now,
            used: now,
            n_packets: 0,
            n_bytes: 0,
            serial,
        };
        self.learned_by.insert(serial, origin);
        self.insert(table, &lf.matched, lf.priority, flow);
        self.generation += 1;
        true
    }

    /// Removes flows whose idle or hard timeout has passed.
    pub fn expire(&mut self, now: Millis) -> Vec<RemovedFlow> {
        let mut victims = Vec::new();
        for (t, cls) in self.tables.iter().enumerate() {
            for id in cls.iter() {
                let f = cls.get(id).expect("live");
                if f.hard_timeout != 0 && now >= f.modified + f.hard_timeout as u64 * 1000 {
                    victims.push((t as u8, id, RemovedReason::HardTimeout));
                } else if f.idle_timeout != 0 && now >= f.used + f.idle_timeout as u64 * 1000 {
                    victims.push((t as u8, id, RemovedReason::IdleTimeout));
                }
            }
        }
        let mut removed = Vec::new();
        for (t, id, why) in victims {
            self.delete_flow(t, id, why, &mut removed);
        }
        if !removed.is_empty() {
            self.generation += 1;
        }
        removed
    }

    /// The earliest time at which some flow may expire (for the caller's timer).
    pub fn next_expiry(&self) -> Option<Millis> {
        let mut best: Option<Millis> = None;
        for cls in &self.tables {
            for id in cls.iter() {
                let f = cls.get(id).expect("live");
                let mut cand = Vec::with_capacity(2);
                if f.hard_timeout != 0 {
                    cand.push(f.modified + f.hard_timeout as u64 * 1000);
                }
                if f.idle_timeout != 0 {
                    cand.push(f.used + f.idle_timeout as u64 * 1000);
                }
                for c in cand {
                    best = Some(best.map_or(c, |b: Millis| b.min(c)));
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::flow::parse_flow_mod;

    fn fm(s: &str, c: FlowModCommand) -> FlowMod {
        parse_flow_mod(s, c, None).unwrap()
    }

    fn add(t: &mut FlowTables, s: &str, now: Millis) {
        t.apply(&fm(s, FlowModCommand::Add), now).unwrap();
    }

    #[test]
    fn add_replaces_identical_and_resets_counters() {
        let mut t = FlowTables::new();
        add(&mut t, "priority=5,in_port=1,actions=output:2", 0);
        let (id, _) = t
            .lookup(0, &{
                let mut k = FlowKey::ZERO;
                k.set_in_port(1);
                k
            })
            .unwrap();
        t.hit(0, id, 100, 10);
        add(&mut t, "priority=5,in_port=1,actions=output:3", 20);
        assert_eq!(t.len(), 1);
        let f = t.flows()[0].flow;
        assert_eq!(f.n_packets, 0);
        assert_eq!(*f.actions, [Action::Output { port: 3 }]);
    }

    #[test]
    fn modify_nonstrict_keeps_counters_and_adds_when_nothing_matches() {
        let mut t = FlowTables::new();
        add(&mut t, "priority=5,ip,in_port=1,actions=output:2", 0);
        add(&mut t, "priority=6,in_port=2,actions=output:2", 0);
        let id = t.flows().iter().find(|f| f.priority == 5).unwrap().id;
        t.hit(0, id, 60, 1);
        let (o, _) = t
            .apply(&fm("in_port=1,actions=output:9", FlowModCommand::Modify), 5)
            .unwrap();
        assert_eq!(o.modified, 1);
        let f = t.get(0, id).unwrap().flow;
        assert_eq!(f.n_packets, 1);
        assert_eq!(*f.actions, [Action::Output { port: 9 }]);
        let (o, _) = t
            .apply(&fm("in_port=7,actions=output:9", FlowModCommand::Modify), 5)
            .unwrap();
        assert_eq!(o.added, 1);
        let (o, _) = t
            .apply(
                &fm(
                    "cookie=0x1/0x1,in_port=8,actions=output:9",
                    FlowModCommand::Modify,
                ),
                5,
            )
            .unwrap();
        assert_eq!(o, FlowModOutcome::default());
    }

    #[test]
    fn delete_filters() {
        let mut t = FlowTables::new();
        add(
            &mut t,
            "cookie=0x1,priority=5,in_port=1,actions=output:2",
            0,
        );
        add(
            &mut t,
            "cookie=0x2,priority=5,in_port=2,actions=output:3",
            0,
        );
        add(
            &mut t,
            "table=3,cookie=0x2,priority=5,in_port=3,actions=output:3",
            0,
        );
        let (o, _) = t
            .apply(&fm("out_port=3", FlowModCommand::Delete), 0)
            .unwrap();
        assert_eq!(o.deleted, 2);
        assert_eq!(t.len(), 1);
        add(
            &mut t,
            "cookie=0x2,priority=5,in_port=2,actions=output:3",
            0,
        );
        let (o, _) = t
            .apply(&fm("cookie=0x1/-1", FlowModCommand::Delete), 0)
            .unwrap();
        assert_eq!(o.deleted, 1);
        let (o, _) = t
            .apply(&fm("priority=4,in_port=2", FlowModCommand::DeleteStrict), 0)
            .unwrap();
        assert_eq!(o.deleted, 0);
        let (o, _) = t
            .apply(&fm("priority=5,in_port=2", FlowModCommand::DeleteStrict), 0)
            .unwrap();
        assert_eq!(o.deleted, 1);
    }

    #[test]
    fn batch_is_all_or_nothing() {
        let mut t = FlowTables::new();
        add(&mut t, "priority=5,in_port=1,actions=output:2", 0);
        let batch = vec![
            fm("priority=7,in_port=2,actions=output:2", FlowModCommand::Add),
            fm("in_port=1", FlowModCommand::Delete),
            fm(
                "check_overlap,priority=5,actions=output:2",
                FlowModCommand::Add,
            ),
        ];
        // The third overlaps nothing (in_port=1 flow was deleted) -> succeeds.
        assert!(t.apply_batch(&batch, 0).is_ok());
        let mut t = FlowTables::new();
        add(&mut t, "priority=5,in_port=1,actions=output:2", 0);
        let batch = vec![
            fm("priority=7,in_port=2,actions=output:2", FlowModCommand::Add),
            fm(
                "check_overlap,priority=5,actions=output:2",
                FlowModCommand::Add,
            ),
        ];
        let e = t.apply_batch(&batch, 0).unwrap_err();
        assert!(matches!(e, FlowModError::InBatch { line: 2, .. }));
        assert_eq!(t.len(), 1, "rolled back");
    }

    #[test]
    fn timeouts() {
        let mut t = FlowTables::new();
        add(&mut t, "idle_timeout=10,in_port=1,actions=drop", 0);
        add(&mut t, "hard_timeout=20,in_port=2,actions=drop", 0);
        assert_eq!(t.next_expiry(), Some(10_000));
        let id = t
            .flows()
            .iter()
            .find(|f| f.flow.idle_timeout == 10)
            .unwrap()
            .id;
        t.hit(0, id, 1, 9_000);
        assert!(t.expire(15_000).is_empty());
        let r = t.expire(19_000);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, RemovedReason::IdleTimeout);
        let r = t.expire(20_000);
        assert_eq!(r[0].reason, RemovedReason::HardTimeout);
        assert!(t.is_empty());
    }
}
