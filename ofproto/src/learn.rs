//! `learn()`: the action that installs flows built from the packet at hand
//! (Neutron's br-tun uses it to learn where each VM MAC lives).

use crate::action::{Action, SubField};
use crate::flow_match::Match;
use crate::key::FlowKey;

pub const DEFAULT_LEARN_TABLE: u8 = 1;
pub const DEFAULT_PRIORITY: u16 = 32768;

/// Where a learn spec's bits come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LearnSrc {
    /// Bits of the packet being processed.
    Field(SubField),
    /// A constant, right-aligned in the destination's width.
    Imm(u128),
}

/// One comma-separated item inside `learn(...)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LearnSpec {
    /// The learned flow matches `dst` against `src`.
    Match { dst: SubField, src: LearnSrc },
    /// The learned flow loads `src` into `dst`.
    Load { dst: SubField, src: LearnSrc },
    /// The learned flow outputs to the port held in `src`.
    Output { src: SubField },
}

/// A `learn(...)` action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learn {
    pub table: u8,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub fin_idle_timeout: u16,
    pub fin_hard_timeout: u16,
    pub priority: u16,
    pub cookie: u64,
    pub send_flow_rem: bool,
    pub delete_learned: bool,
    /// Maximum number of flows this action may have installed (0 = no limit).
    pub limit: u32,
    /// Receives 1 if the flow was learned, 0 if the limit refused it.
    pub result_dst: Option<SubField>,
    pub specs: Vec<LearnSpec>,
}

impl Default for Learn {
    fn default() -> Learn {
        Learn {
            table: DEFAULT_LEARN_TABLE,
            idle_timeout: 0,
            hard_timeout: 0,
            fin_idle_timeout: 0,
            fin_hard_timeout: 0,
            priority: DEFAULT_PRIORITY,
            cookie: 0,
            send_flow_rem: false,
            delete_learned: false,
            limit: 0,
            result_dst: None,
            specs: Vec::new(),
        }
    }
}

/// The flow a learn action asks to install (as a strict modify).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnedFlow {
    pub table: u8,
    pub priority: u16,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub send_flow_rem: bool,
    pub importance: u16,
    pub matched: Match,
    pub actions: Vec<Action>,
}

impl Learn {
    /// Builds the flow this action learns from the packet whose key is `key`.
    pub fn execute(&self, key: &FlowKey) -> LearnedFlow {
        let mut matched = Match::CATCHALL;
        let mut actions = Vec::new();
        for spec in &self.specs {
            match spec {
                LearnSpec::Match { dst, src } => {
                    let v = match src {
                        LearnSrc::Field(s) => s.read(key),
                        LearnSrc::Imm(v) => *v,
                    };
                    let (old_v, old_m) = matched.get(dst.field);
                    let m = dst.mask();
                    matched.set_masked(dst.field, (old_v & !m) | ((v << dst.ofs) & m), old_m | m);
                }
                LearnSpec::Load { dst, src } => {
                    let v = match src {
                        LearnSrc::Field(s) => s.read(key),
                        LearnSrc::Imm(v) => *v,
                    };
                    actions.push(Action::SetField {
                        field: dst.field,
                        value: (v << dst.ofs) & dst.mask(),
                        mask: dst.mask(),
                        as_load: true,
                    });
                }
                LearnSpec::Output { src } => {
                    actions.push(Action::Output {
                        port: src.read(key) as u32,
                    });
                }
            }
        }
        LearnedFlow {
            table: self.table,
            priority: self.priority,
            cookie: self.cookie,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            send_flow_rem: self.send_flow_rem,
            importance: 0,
            matched,
            actions,
        }
    }
}
