//! Pipeline execution: runs a packet's flow key through a bridge's tables
//! (and across patch ports into other bridges), applying actions in order,
//! and returns the outputs with the header changes each one needs.

use std::collections::HashMap;

use crate::action::{Action, SubField};
use crate::field::{Field, ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_RARP};
use crate::flow_match::Match;
use crate::key::{self, FlowKey, VLAN_CFI};
use crate::normal::{MacTable, NormalOutput};
use crate::port::*;
use crate::syntax::actions::format_actions;
use crate::table::{FlowTables, LearnOrigin};
use crate::Millis;

/// Open vSwitch's limits on resubmit recursion and total resubmits.
pub const MAX_DEPTH: u32 = 64;
pub const MAX_RESUBMITS: u32 = 4096;

/// What the bridge does without flows of its own (`ovs-vsctl set-fail-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// A `priority=0 actions=NORMAL` flow is installed: a learning switch.
    #[default]
    Standalone,
    /// No default flow: packets without a matching flow are dropped.
    Secure,
}

/// Header fields an output must rewrite, as bits of [`Output::changes`].
pub mod changes {
    pub const VLAN: u32 = 1 << 0;
    pub const ETH_SRC: u32 = 1 << 1;
    pub const ETH_DST: u32 = 1 << 2;
    pub const IPV4_SRC: u32 = 1 << 3;
    pub const IPV4_DST: u32 = 1 << 4;
    pub const IPV6_SRC: u32 = 1 << 5;
    pub const IPV6_DST: u32 = 1 << 6;
    pub const IP_TOS: u32 = 1 << 7;
    pub const IP_TTL: u32 = 1 << 8;
    pub const TP_SRC: u32 = 1 << 9;
    pub const TP_DST: u32 = 1 << 10;
    /// tun_id, tun_src or tun_dst differ from the received packet's.
    pub const TUNNEL: u32 = 1 << 11;
    pub const ARP: u32 = 1 << 12;
    pub const IPV6_LABEL: u32 = 1 << 13;
}

/// One copy of the packet to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// Index of the bridge (in the [`Switch`]) owning the port.
    pub bridge: usize,
    pub port: u32,
    /// Which headers differ from the received packet ([`changes`] bits).
    pub changes: u32,
    /// The packet's key at output time: the values to write.
    pub key: FlowKey,
}

/// How the VLAN tag must change for an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VlanChange {
    None,
    Strip,
    Push(u16),
    Rewrite(u16),
}

impl Output {
    /// The VLAN edit relative to the received packet's TCI.
    pub fn vlan_change(&self, received_tci: u16) -> VlanChange {
        let now = self.key.vlan_tci();
        if self.changes & changes::VLAN == 0 || now == received_tci {
            VlanChange::None
        } else if now & VLAN_CFI == 0 {
            VlanChange::Strip
        } else if received_tci & VLAN_CFI == 0 {
            VlanChange::Push(now)
        } else {
            VlanChange::Rewrite(now)
        }
    }
}

fn diff(orig: &FlowKey, cur: &FlowKey) -> u32 {
    let mut c = 0;
    let mut chk = |slot: key::Slot, bit: u32| {
        if orig.get(slot) != cur.get(slot) {
            c |= bit;
        }
    };
    chk(key::VLAN_TCI, changes::VLAN);
    chk(key::ETH_SRC, changes::ETH_SRC);
    chk(key::ETH_DST, changes::ETH_DST);
    chk(key::IPV4_SRC, changes::IPV4_SRC);
    chk(key::IPV4_DST, changes::IPV4_DST);
    chk(key::IPV6_SRC, changes::IPV6_SRC);
    chk(key::IPV6_DST, changes::IPV6_DST);
    chk(key::IP_TOS, changes::IP_TOS);
    chk(key::IP_TTL, changes::IP_TTL);
    chk(key::TP_SRC, changes::TP_SRC);
    chk(key::TP_DST, changes::TP_DST);
    chk(key::TUN_ID, changes::TUNNEL);
    chk(key::TUN_SRC, changes::TUNNEL);
    chk(key::TUN_DST, changes::TUNNEL);
    chk(key::ARP_SHA, changes::ARP);
    chk(key::ARP_THA, changes::ARP);
    chk(key::IPV6_LABEL, changes::IPV6_LABEL);
    if orig.get(key::IP_PROTO) != cur.get(key::IP_PROTO) {
        c |= changes::ARP;
    }
    c
}

/// Why translation stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XlateError {
    RecursionTooDeep,
    TooManyResubmits,
}

/// One line of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// Processing enters a bridge (at the start and across patch ports).
    Bridge { name: String, depth: u32 },
    /// A table lookup; `hit` is None on a miss.
    Table {
        table: u8,
        depth: u32,
        hit: Option<Box<TraceHit>>,
    },
    /// An action executed (canonical text).
    Action { text: String, depth: u32 },
    /// What an action did, or why it did nothing.
    Note { text: String, depth: u32 },
}

/// The flow a lookup hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHit {
    pub matched: Match,
    pub priority: u16,
    pub cookie: u64,
}

/// The result of running one packet through the pipeline.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub outputs: Vec<Output>,
    /// Copies sent to the controller (rswitch has none: counted, dropped).
    pub to_controller: u32,
    pub error: Option<XlateError>,
    /// The key after the last action (for traces).
    pub final_key: FlowKey,
    pub trace: Vec<TraceEvent>,
    /// Flows hit, in order: (bridge, table, rule). A datapath that caches
    /// this verdict credits these flows on every cache hit.
    pub hits: Vec<(usize, u8, crate::classifier::RuleId)>,
    /// The path ran learn() or NORMAL, whose effects (refreshing learned
    /// flows and MAC ages) a cached verdict would skip: such verdicts should
    /// be re-run now and then rather than cached forever.
    pub side_effects: bool,
    /// The run changed state other packets depend on (a new learned flow,
    /// a new or moved MAC): caches of other verdicts must be invalidated.
    pub state_changed: bool,
    /// capture: patch ports crossed, in order (for captures on patch ports).
    pub crossings: Vec<Crossing>,
}

/// capture: a packet crossing a patch link: leaving through `out.port` of
/// `out.bridge` with `out`'s header changes so far, entering `peer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crossing {
    pub out: Output,
    /// (bridge, ofport) of the peer patch port.
    pub peer: (usize, u32),
}

/// How to run a packet.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Count hits, run learn(), learn MACs. Off for a plain trace.
    pub side_effects: bool,
    /// Record a trace.
    pub trace: bool,
    /// Count the packet against the flows it hits (real traffic only: OVS's
    /// trace never counts, even with -generate).
    pub count: bool,
}

impl RunOptions {
    pub const FORWARD: RunOptions = RunOptions {
        side_effects: true,
        trace: false,
        count: true,
    };
    pub const TRACE: RunOptions = RunOptions {
        side_effects: false,
        trace: true,
        count: false,
    };
    pub const TRACE_GENERATE: RunOptions = RunOptions {
        side_effects: true,
        trace: true,
        count: false,
    };
}

/// One bridge: tables, ports, MAC table.
#[derive(Default)]
pub struct Bridge {
    pub name: String,
    pub tables: FlowTables,
    /// Sorted by ofport.
    ports: Vec<PortInfo>,
    pub mac: MacTable,
    pub fail_mode: FailMode,
}

impl Bridge {
    pub fn new(name: impl Into<String>) -> Bridge {
        let name = name.into();
        let mut b = Bridge {
            name: name.clone(),
            ..Default::default()
        };
        b.ports.push(PortInfo::new(OFPP_LOCAL, name));
        b
    }

    /// Sets the fail mode: standalone installs the `priority=0
    /// actions=NORMAL` flow, secure removes it (as ovs-vswitchd does for a
    /// bridge without a controller).
    pub fn set_fail_mode(&mut self, mode: FailMode, now: Millis) {
        use crate::syntax::flow::{parse_flow_mod, FlowModCommand};
        self.fail_mode = mode;
        let (text, cmd) = match mode {
            FailMode::Standalone => ("priority=0,actions=NORMAL", FlowModCommand::Add),
            FailMode::Secure => ("priority=0", FlowModCommand::DeleteStrict),
        };
        let fm = parse_flow_mod(text, cmd, None).expect("built-in flow parses");
        if mode == FailMode::Secure {
            // Only remove the default flow if it is still the NORMAL one.
            let is_default = self
                .tables
                .table(0)
                .find_exact(&fm.matched, 0)
                .and_then(|id| self.tables.get(0, id))
                .is_some_and(|r| *r.flow.actions == [Action::Output { port: OFPP_NORMAL }]);
            if !is_default {
                return;
            }
        }
        self.tables.apply(&fm, now).expect("built-in flow applies");
    }

    pub fn ports(&self) -> &[PortInfo] {
        &self.ports
    }

    pub fn port(&self, ofport: u32) -> Option<&PortInfo> {
        self.ports
            .binary_search_by_key(&ofport, |p| p.ofport)
            .ok()
            .map(|i| &self.ports[i])
    }

    pub fn port_by_name(&self, name: &str) -> Option<&PortInfo> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// Adds or replaces a port.
    pub fn set_port(&mut self, p: PortInfo) {
        match self.ports.binary_search_by_key(&p.ofport, |x| x.ofport) {
            Ok(i) => self.ports[i] = p,
            Err(i) => self.ports.insert(i, p),
        }
        // VLAN or membership changes make learned locations suspect.
        self.mac.flush();
    }

    pub fn remove_port(&mut self, ofport: u32) -> Option<PortInfo> {
        let i = self
            .ports
            .binary_search_by_key(&ofport, |x| x.ofport)
            .ok()?;
        self.mac.flush_port(ofport);
        Some(self.ports.remove(i))
    }

    /// Port names for parsing and `--names` printing (the bridge's own name is LOCAL).
    pub fn port_map(&self) -> crate::syntax::PortMap {
        let mut m = crate::syntax::PortMap::new();
        for p in &self.ports {
            m.insert(p.name.clone(), p.ofport);
        }
        m
    }
}

/// All bridges of a switch, joined by patch ports.
#[derive(Default)]
pub struct Switch {
    pub bridges: Vec<Bridge>,
    /// (bridge, ofport) of a patch port -> (bridge, ofport) of its peer.
    patches: HashMap<(usize, u32), (usize, u32)>,
}

struct Ctx<'a> {
    orig: FlowKey,
    key: FlowKey,
    len: u64,
    now: Millis,
    opts: RunOptions,
    verdict: &'a mut Verdict,
    resubmits: u32,
    exit: bool,
    normal_out: Vec<NormalOutput>,
}

impl Ctx<'_> {
    fn note(&mut self, depth: u32, text: impl Into<String>) {
        if self.opts.trace {
            self.verdict.trace.push(TraceEvent::Note {
                text: text.into(),
                depth,
            });
        }
    }
}

fn is_ipv4(k: &FlowKey) -> bool {
    k.eth_type() == ETH_TYPE_IP
}

fn is_ip(k: &FlowKey) -> bool {
    matches!(k.eth_type(), ETH_TYPE_IP | ETH_TYPE_IPV6)
}

fn has_ports(k: &FlowKey) -> bool {
    is_ip(k) && matches!(k.ip_proto(), 6 | 17 | 132)
}

impl Switch {
    pub fn new() -> Switch {
        Switch::default()
    }

    pub fn add_bridge(&mut self, b: Bridge) -> usize {
        self.bridges.push(b);
        self.bridges.len() - 1
    }

    pub fn bridge_index(&self, name: &str) -> Option<usize> {
        self.bridges.iter().position(|b| b.name == name)
    }

    /// Joins two patch ports (each already added to its bridge).
    pub fn link_patch(&mut self, a: (usize, u32), b: (usize, u32)) {
        self.patches.insert(a, b);
        self.patches.insert(b, a);
    }

    pub fn unlink_patch(&mut self, a: (usize, u32)) {
        if let Some(b) = self.patches.remove(&a) {
            self.patches.remove(&b);
        }
    }

    pub fn patch_peer(&self, a: (usize, u32)) -> Option<(usize, u32)> {
        self.patches.get(&a).copied()
    }

    /// Runs a packet that arrived on `key.in_port()` of bridge `bridge`.
    pub fn run(
        &mut self,
        bridge: usize,
        key: &FlowKey,
        len: u64,
        now: Millis,
        opts: RunOptions,
    ) -> Verdict {
        let mut verdict = Verdict::default();
        let mut ctx = Ctx {
            orig: *key,
            key: *key,
            len,
            now,
            opts,
            verdict: &mut verdict,
            resubmits: 0,
            exit: false,
            normal_out: Vec::new(),
        };
        if opts.trace {
            ctx.verdict.trace.push(TraceEvent::Bridge {
                name: self.bridges[bridge].name.clone(),
                depth: 0,
            });
        }
        self.xlate_table(&mut ctx, bridge, 0, 0);
        verdict.final_key = ctx.key;
        verdict
    }

    fn xlate_table(&mut self, ctx: &mut Ctx, b: usize, table: u8, depth: u32) {
        if depth >= MAX_DEPTH {
            ctx.verdict.error = Some(XlateError::RecursionTooDeep);
            ctx.note(
                depth + 1,
                format!(">>>> over max translation depth {MAX_DEPTH} <<<<"),
            );
            ctx.exit = true;
            return;
        }
        let hit = self.bridges[b]
            .tables
            .lookup(table, &ctx.key)
            .map(|(id, f)| (id, f.actions.clone(), f.cookie));
        let Some((id, actions, cookie)) = hit else {
            if ctx.opts.trace {
                ctx.verdict.trace.push(TraceEvent::Table {
                    table,
                    depth,
                    hit: None,
                });
            }
            return;
        };
        if ctx.opts.trace {
            let tables = &self.bridges[b].tables;
            let r = tables.get(table, id).expect("live");
            ctx.verdict.trace.push(TraceEvent::Table {
                table,
                depth,
                hit: Some(Box::new(TraceHit {
                    matched: tables.rule_match(table, id).expect("live"),
                    priority: r.priority,
                    cookie,
                })),
            });
        }
        if ctx.opts.count {
            self.bridges[b].tables.hit(table, id, ctx.len, ctx.now);
        }
        ctx.verdict.hits.push((b, table, id));
        self.execute(
            ctx,
            b,
            table,
            depth,
            &actions,
            LearnOrigin {
                serial: self.bridges[b]
                    .tables
                    .get(table, id)
                    .map(|r| r.flow.serial)
                    .unwrap_or(0),
                action: 0,
            },
        );
    }

    fn execute(
        &mut self,
        ctx: &mut Ctx,
        b: usize,
        table: u8,
        depth: u32,
        actions: &[Action],
        origin: LearnOrigin,
    ) {
        if actions.is_empty() && ctx.opts.trace {
            ctx.verdict.trace.push(TraceEvent::Action {
                text: "drop".into(),
                depth,
            });
        }
        for (i, a) in actions.iter().enumerate() {
            if ctx.exit {
                return;
            }
            if ctx.opts.trace {
                ctx.verdict.trace.push(TraceEvent::Action {
                    text: format_actions(std::slice::from_ref(a), None),
                    depth,
                });
            }
            match a {
                Action::Output { port } => self.output(ctx, b, *port, depth),
                Action::OutputReg { src, .. } => {
                    let p = src.read(&ctx.key) as u32;
                    self.output(ctx, b, p, depth)
                }
                Action::Controller { .. } => {
                    ctx.verdict.to_controller += 1;
                    ctx.note(
                        depth + 1,
                        "-> no controller is connected: packet counted and dropped",
                    );
                }
                Action::Resubmit { in_port, table: t } => {
                    if ctx.resubmits >= MAX_RESUBMITS {
                        ctx.verdict.error = Some(XlateError::TooManyResubmits);
                        ctx.note(
                            depth + 1,
                            format!(
                                ">>>> over {MAX_RESUBMITS} resubmit actions on bridge {} <<<<",
                                self.bridges[b].name
                            ),
                        );
                        ctx.exit = true;
                        return;
                    }
                    ctx.resubmits += 1;
                    let saved = ctx.key.in_port();
                    if *in_port != OFPP_IN_PORT {
                        ctx.key.set_in_port(*in_port);
                    }
                    self.xlate_table(ctx, b, t.unwrap_or(table), depth + 1);
                    if *in_port != OFPP_IN_PORT {
                        ctx.key.set_in_port(saved);
                    }
                }
                Action::GotoTable(t) => self.xlate_table(ctx, b, *t, depth + 1),
                Action::SetVlanVid(vid) => {
                    let tci = ctx.key.vlan_tci();
                    let new = if tci & VLAN_CFI != 0 {
                        (tci & !0x0fff) | vid
                    } else {
                        vid | VLAN_CFI
                    };
                    ctx.key.set_vlan_tci(new);
                }
                Action::SetVlanPcp(pcp) => {
                    let tci = ctx.key.vlan_tci();
                    let base = if tci & VLAN_CFI != 0 { tci } else { VLAN_CFI };
                    ctx.key
                        .set_vlan_tci((base & !0xe000) | ((*pcp as u16) << 13));
                }
                Action::StripVlan => ctx.key.set_vlan_tci(0),
                Action::PushVlan(_) => {
                    let tci = ctx.key.vlan_tci();
                    if tci & VLAN_CFI == 0 {
                        ctx.key.set_vlan_tci(VLAN_CFI);
                    } else {
                        ctx.note(depth + 1, "-> packet already tagged: rswitch does not stack VLAN tags (QinQ); tag kept");
                    }
                }
                Action::SetTunnel { id, .. } => ctx.key.set(key::TUN_ID, *id as u128),
                Action::SetField {
                    field, value, mask, ..
                } => {
                    if *field == Field::InPort || *field == Field::InPortOxm {
                        ctx.key.set_in_port(*value as u32);
                    } else {
                        field.write_masked(&mut ctx.key, *value, *mask);
                    }
                }
                Action::Move { src, dst } => {
                    let v = src.read(&ctx.key);
                    write_sub(&mut ctx.key, dst, v);
                }
                Action::SetEthSrc(m) => ctx.key.set_eth_src(*m),
                Action::SetEthDst(m) => ctx.key.set_eth_dst(*m),
                Action::SetIpv4Src(a) if is_ipv4(&ctx.key) => {
                    ctx.key.set(key::IPV4_SRC, *a as u128)
                }
                Action::SetIpv4Dst(a) if is_ipv4(&ctx.key) => {
                    ctx.key.set(key::IPV4_DST, *a as u128)
                }
                Action::SetIpTos(t) if is_ip(&ctx.key) => {
                    let old = ctx.key.get(key::IP_TOS) as u8;
                    ctx.key
                        .set(key::IP_TOS, ((old & 0x03) | (t & 0xfc)) as u128);
                }
                Action::SetIpEcn(e) if is_ip(&ctx.key) => {
                    let old = ctx.key.get(key::IP_TOS) as u8;
                    ctx.key
                        .set(key::IP_TOS, ((old & 0xfc) | (e & 0x03)) as u128);
                }
                Action::SetIpTtl(t) if is_ip(&ctx.key) => ctx.key.set(key::IP_TTL, *t as u128),
                Action::SetTpSrc(p) if has_ports(&ctx.key) => ctx.key.set(key::TP_SRC, *p as u128),
                Action::SetTpDst(p) if has_ports(&ctx.key) => ctx.key.set(key::TP_DST, *p as u128),
                Action::SetIpv4Src(_)
                | Action::SetIpv4Dst(_)
                | Action::SetIpTos(_)
                | Action::SetIpEcn(_)
                | Action::SetIpTtl(_)
                | Action::SetTpSrc(_)
                | Action::SetTpDst(_) => {
                    ctx.note(depth + 1, "-> not applied: the packet lacks that header")
                }
                Action::DecTtl(_) => {
                    if is_ip(&ctx.key) {
                        let ttl = ctx.key.get(key::IP_TTL) as u8;
                        if ttl <= 1 {
                            ctx.verdict.to_controller += 1;
                            ctx.note(depth + 1, "-> TTL exceeded: packet dropped (invalid_ttl)");
                            ctx.exit = true;
                            return;
                        }
                        ctx.key.set(key::IP_TTL, (ttl - 1) as u128);
                    }
                }
                Action::Note(_) => {}
                Action::Learn(l) => {
                    ctx.verdict.side_effects = true;
                    let lf = l.execute(&ctx.key);
                    if ctx.opts.trace {
                        let mut text = format!(
                            "-> table={} {} priority={}",
                            lf.table,
                            crate::syntax::matches::format_match(&lf.matched, 32768, None),
                            lf.priority
                        );
                        if lf.idle_timeout != 0 {
                            text += &format!(" idle={}", lf.idle_timeout);
                        }
                        if lf.hard_timeout != 0 {
                            text += &format!(" hard={}", lf.hard_timeout);
                        }
                        text += &format!(" actions={}", format_actions(&lf.actions, None));
                        if ctx.opts.side_effects {
                            ctx.note(depth + 1, text);
                        } else {
                            ctx.note(
                                depth + 1,
                                ">> suppressing side effects, so learn action ignored",
                            );
                            ctx.note(depth + 1, format!("   (would learn {})", &text[3..]));
                        }
                    }
                    if ctx.opts.side_effects {
                        let o = LearnOrigin {
                            serial: origin.serial,
                            action: i as u16,
                        };
                        let before = self.bridges[b].tables.generation();
                        let ok = self.bridges[b].tables.learn(&lf, o, l.limit, ctx.now);
                        if self.bridges[b].tables.generation() != before {
                            ctx.verdict.state_changed = true;
                        }
                        if let Some(r) = &l.result_dst {
                            write_sub(&mut ctx.key, r, ok as u128);
                        }
                        if !ok {
                            ctx.note(
                                depth + 1,
                                format!(">> learn limit of {} flows reached: not learned", l.limit),
                            );
                        }
                    }
                }
                Action::Exit => {
                    ctx.exit = true;
                    return;
                }
            }
        }
    }

    /// Sends to one port, expanding reserved ports.
    fn output(&mut self, ctx: &mut Ctx, b: usize, port: u32, depth: u32) {
        let in_port = ctx.key.in_port();
        match port {
            OFPP_IN_PORT => self.emit(ctx, b, in_port, depth),
            OFPP_NORMAL => self.normal(ctx, b, depth),
            OFPP_FLOOD | OFPP_ALL => {
                let targets: Vec<u32> = self.bridges[b]
                    .ports
                    .iter()
                    .filter(|p| p.ofport != in_port)
                    .filter(|p| port == OFPP_ALL || (!p.no_flood && p.up))
                    .map(|p| p.ofport)
                    .collect();
                for p in targets {
                    self.emit(ctx, b, p, depth);
                }
            }
            OFPP_CONTROLLER => ctx.verdict.to_controller += 1,
            OFPP_TABLE | OFPP_NONE => ctx.note(depth + 1, "-> output to TABLE/NONE ignored"),
            p if p == in_port => ctx.note(depth + 1, "skipping output to input port"),
            p => self.emit(ctx, b, p, depth),
        }
    }

    fn normal(&mut self, ctx: &mut Ctx, b: usize, depth: u32) {
        ctx.verdict.side_effects = true;
        let mut outs = std::mem::take(&mut ctx.normal_out);
        outs.clear();
        let bridge = &mut self.bridges[b];
        let res = if ctx.opts.side_effects {
            bridge
                .mac
                .normal(&bridge.ports, &ctx.key, ctx.now, &mut outs)
        } else {
            let mut scratch = bridge.mac.clone();
            scratch.normal(&bridge.ports, &ctx.key, ctx.now, &mut outs)
        };
        if ctx.opts.trace {
            let src = crate::syntax::value::format_mac(crate::syntax::value::mac_to_u128(
                ctx.key.eth_src(),
            ));
            let port_name = |p: u32| {
                bridge
                    .port(p)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| p.to_string())
            };
            // Without side effects the learning happened in a scratch copy:
            // like OVS, say nothing about it.
            if ctx.opts.side_effects
                && matches!(
                    res.learned,
                    crate::normal::LearnResult::Learned | crate::normal::LearnResult::Moved { .. }
                )
            {
                ctx.note(
                    depth + 1,
                    format!(
                        "-> learned that {src} is on port {} in VLAN {}",
                        port_name(ctx.key.in_port()),
                        res.vlan.unwrap_or(0)
                    ),
                );
            }
            if let Some(d) = res.drop {
                ctx.note(depth + 1, format!("-> dropped by NORMAL: {d:?}"));
            } else if res.flooded {
                ctx.note(depth + 1, "-> no learned MAC for destination, flooding");
            } else if let Some(o) = outs.first() {
                ctx.note(
                    depth + 1,
                    format!("-> forwarding to learned port {}", port_name(o.port)),
                );
            }
        }
        if ctx.opts.side_effects
            && matches!(
                res.learned,
                crate::normal::LearnResult::Learned | crate::normal::LearnResult::Moved { .. }
            )
        {
            ctx.verdict.state_changed = true;
        }
        let saved = ctx.key.vlan_tci();
        for o in &outs {
            ctx.key.set_vlan_tci(o.tci);
            self.emit(ctx, b, o.port, depth);
        }
        ctx.key.set_vlan_tci(saved);
        ctx.normal_out = outs;
    }

    /// Emits to a concrete port, following patch ports into their peer bridge.
    fn emit(&mut self, ctx: &mut Ctx, b: usize, port: u32, depth: u32) {
        if let Some((pb, pport)) = self.patches.get(&(b, port)).copied() {
            if depth + 1 >= MAX_DEPTH {
                ctx.verdict.error = Some(XlateError::RecursionTooDeep);
                return;
            }
            // capture: record the crossing (the frame as it crosses).
            ctx.verdict.crossings.push(Crossing {
                out: Output {
                    bridge: b,
                    port,
                    changes: diff(&ctx.orig, &ctx.key),
                    key: ctx.key,
                },
                peer: (pb, pport),
            });
            // OVS clears per-bridge metadata when a packet crosses a patch port.
            let saved = ctx.key;
            ctx.key.set_in_port(pport);
            ctx.key.set(key::METADATA, 0);
            ctx.key.set(key::TUN_ID, 0);
            ctx.key.set(key::TUN_SRC, 0);
            ctx.key.set(key::TUN_DST, 0);
            for r in 0..16 {
                ctx.key.set(key::reg_slot(r), 0);
            }
            if ctx.opts.trace {
                ctx.verdict.trace.push(TraceEvent::Bridge {
                    name: self.bridges[pb].name.clone(),
                    depth: depth + 1,
                });
            }
            let saved_exit = ctx.exit;
            self.xlate_table(ctx, pb, 0, depth + 1);
            // `exit` in the peer bridge ends only that bridge's processing.
            if ctx.verdict.error.is_none() {
                ctx.exit = saved_exit;
            }
            ctx.key = saved;
            return;
        }
        if self.bridges[b].port(port).is_none() {
            ctx.note(depth + 1, format!("-> output to nonexistent port {port}"));
            return;
        }
        let changes = diff(&ctx.orig, &ctx.key);
        ctx.verdict.outputs.push(Output {
            bridge: b,
            port,
            changes,
            key: ctx.key,
        });
    }
}

fn write_sub(k: &mut FlowKey, sf: &SubField, v: u128) {
    if sf.field == Field::InPort || sf.field == Field::InPortOxm {
        let cur = k.in_port() as u128;
        let m = sf.mask();
        k.set_in_port(((cur & !m) | ((v << sf.ofs) & m)) as u32);
    } else {
        sf.write(k, v);
    }
}

/// A flow key's description in OVS's `flow_format` style (trace "Flow:" lines).
pub fn format_flow_key(k: &FlowKey, ports: Option<&crate::syntax::PortMap>) -> String {
    let mut m = Match::CATCHALL;
    m.value = *k;
    // Show the fields a packet of this type has, like OVS's flow_format.
    let mut mask = FlowKey::ZERO;
    let all = |s: key::Slot, mask: &mut FlowKey| mask.set(s, s.max());
    all(key::IN_PORT, &mut mask);
    all(key::VLAN_TCI, &mut mask);
    all(key::ETH_SRC, &mut mask);
    all(key::ETH_DST, &mut mask);
    all(key::ETH_TYPE, &mut mask);
    if k.tun_id() != 0 {
        all(key::TUN_ID, &mut mask);
    }
    if k.get(key::TUN_SRC) != 0 {
        all(key::TUN_SRC, &mut mask);
    }
    if k.get(key::TUN_DST) != 0 {
        all(key::TUN_DST, &mut mask);
    }
    if k.get(key::METADATA) != 0 {
        all(key::METADATA, &mut mask);
    }
    for r in 0..16 {
        if k.reg(r) != 0 {
            all(key::reg_slot(r), &mut mask);
        }
    }
    match k.eth_type() {
        ETH_TYPE_IP => {
            for s in [
                key::IPV4_SRC,
                key::IPV4_DST,
                key::IP_PROTO,
                key::IP_TOS,
                key::IP_TTL,
                key::IP_FRAG,
            ] {
                all(s, &mut mask);
            }
            if matches!(k.ip_proto(), 1 | 6 | 17 | 132) {
                all(key::TP_SRC, &mut mask);
                all(key::TP_DST, &mut mask);
            }
            if k.ip_proto() == 6 {
                all(key::TCP_FLAGS, &mut mask);
            }
        }
        ETH_TYPE_IPV6 => {
            for s in [
                key::IPV6_SRC,
                key::IPV6_DST,
                key::IPV6_LABEL,
                key::IP_PROTO,
                key::IP_TOS,
                key::IP_TTL,
                key::IP_FRAG,
            ] {
                all(s, &mut mask);
            }
            if matches!(k.ip_proto(), 6 | 17 | 58 | 132) {
                all(key::TP_SRC, &mut mask);
                all(key::TP_DST, &mut mask);
            }
        }
        ETH_TYPE_ARP | ETH_TYPE_RARP => {
            for s in [
                key::IPV4_SRC,
                key::IPV4_DST,
                key::IP_PROTO,
                key::ARP_SHA,
                key::ARP_THA,
            ] {
                all(s, &mut mask);
            }
        }
        _ => {}
    }
    m.mask = mask;
    m.value = k.masked(&mask);
    crate::syntax::matches::format_match(&m, 32768, ports)
}
