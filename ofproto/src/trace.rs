//! `ofproto/trace`: explains, table by table, what the pipeline does with a
//! packet described in flow syntax, as human text or JSON.

use serde::Serialize;

use crate::key::{FlowKey, VLAN_CFI};
use crate::pipeline::{
    format_flow_key, Output, RunOptions, Switch, TraceEvent, Verdict, VlanChange, XlateError,
};
use crate::syntax::flow::{parse_flow_mod, FlowModCommand};
use crate::syntax::matches::format_match;
use crate::syntax::{ParseError, PortMap};
use crate::Millis;

/// Parses a packet description (`in_port=1,dl_src=..,ip,nw_dst=..`) into a
/// flow key. Unmentioned fields are zero, as in OVS.
pub fn parse_packet(desc: &str, ports: Option<&PortMap>) -> Result<FlowKey, ParseError> {
    let fm = parse_flow_mod(desc, FlowModCommand::Delete, ports)?;
    if !fm.warnings.is_empty() {
        return Err(ParseError(fm.warnings.join("; ")));
    }
    let mut k = fm.matched.value;
    // A partially given VLAN (dl_vlan_pcp only) still means "tagged".
    if fm.matched.mask.vlan_tci() & VLAN_CFI != 0 && k.vlan_tci() != 0 {
        k.set_vlan_tci(k.vlan_tci() | VLAN_CFI);
    }
    Ok(k)
}

/// A finished trace, ready to print.
#[derive(Clone, Debug, Serialize)]
pub struct TraceReport {
    pub flow: String,
    pub events: Vec<TraceLine>,
    pub final_flow: Option<String>,
    pub outputs: Vec<TraceOutput>,
    pub to_controller: u32,
    pub error: Option<String>,
}

/// One line of the trace body.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceLine {
    Bridge {
        name: String,
        depth: u32,
    },
    Table {
        table: u8,
        depth: u32,
        matched: Option<String>,
        priority: Option<u16>,
        cookie: Option<u64>,
    },
    Action {
        text: String,
        depth: u32,
    },
    Note {
        text: String,
        depth: u32,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct TraceOutput {
    pub bridge: String,
    pub port: u32,
    pub port_name: Option<String>,
    /// Datapath-style header edits, e.g. `push_vlan(vid=4,pcp=0)`, `set(tunnel(tun_id=0x1))`.
    pub edits: Vec<String>,
}

/// Runs a trace on bridge `bridge` of `sw` at time `now`. With
/// `generate`, side effects (learned flows, MAC learning, counters) happen.
pub fn trace(
    sw: &mut Switch,
    bridge: usize,
    key: &FlowKey,
    now: Millis,
    generate: bool,
) -> TraceReport {
    let opts = if generate {
        RunOptions::TRACE_GENERATE
    } else {
        RunOptions::TRACE
    };
    let v = sw.run(bridge, key, 64, now, opts);
    report(sw, bridge, key, &v)
}

fn report(sw: &Switch, bridge: usize, key: &FlowKey, v: &Verdict) -> TraceReport {
    let _ = bridge;
    let events = v
        .trace
        .iter()
        .map(|e| match e {
            TraceEvent::Bridge { name, depth } => TraceLine::Bridge {
                name: name.clone(),
                depth: *depth,
            },
            TraceEvent::Table { table, depth, hit } => TraceLine::Table {
                table: *table,
                depth: *depth,
                matched: hit.as_ref().map(|h| format_match(&h.matched, 32768, None)),
                priority: hit.as_ref().map(|h| h.priority),
                cookie: hit.as_ref().map(|h| h.cookie),
            },
            TraceEvent::Action { text, depth } => TraceLine::Action {
                text: text.clone(),
                depth: *depth,
            },
            TraceEvent::Note { text, depth } => TraceLine::Note {
                text: text.clone(),
                depth: *depth,
            },
        })
        .collect();
    let final_flow = (v.final_key != *key).then(|| format_flow_key(&v.final_key, None));
    let outputs = v
        .outputs
        .iter()
        .map(|o| describe_output(sw, key, o))
        .collect();
    TraceReport {
        flow: format_flow_key(key, None),
        events,
        final_flow,
        outputs,
        to_controller: v.to_controller,
        error: v.error.map(|e| match e {
            XlateError::RecursionTooDeep => "Recursion too deep".to_string(),
            XlateError::TooManyResubmits => "Too many resubmits".to_string(),
        }),
    }
}

fn describe_output(sw: &Switch, received: &FlowKey, o: &Output) -> TraceOutput {
    use crate::pipeline::changes as c;
    let b = &sw.bridges[o.bridge];
    let mut edits = Vec::new();
    // Tunnel metadata only matters where it is used: a tunnel port's
    // encapsulation, or a packet that keeps a non-zero id.
    if o.changes & c::TUNNEL != 0 && (o.key.tun_id() != 0 || o.key.get(crate::key::TUN_DST) != 0) {
        let mut t = format!("tun_id={:#x}", o.key.tun_id());
        let dst = o.key.get(crate::key::TUN_DST) as u32;
        if dst != 0 {
            t += &format!(",dst={}", std::net::Ipv4Addr::from(dst));
        }
        edits.push(format!("set(tunnel({t}))"));
    }
    match o.vlan_change(received.vlan_tci()) {
        VlanChange::None => {}
        VlanChange::Strip => edits.push("pop_vlan".into()),
        VlanChange::Push(t) | VlanChange::Rewrite(t) => {
            if matches!(o.vlan_change(received.vlan_tci()), VlanChange::Rewrite(_)) {
                edits.push("pop_vlan".into());
            }
            edits.push(format!("push_vlan(vid={},pcp={})", t & 0x0fff, t >> 13));
        }
    }
    let mac = |v: [u8; 6]| crate::syntax::value::format_mac(crate::syntax::value::mac_to_u128(v));
    if o.changes & (c::ETH_SRC | c::ETH_DST) != 0 {
        edits.push(format!(
            "set(eth(src={},dst={}))",
            mac(o.key.eth_src()),
            mac(o.key.eth_dst())
        ));
    }
    let l3 = c::IPV4_SRC | c::IPV4_DST | c::IP_TOS | c::IP_TTL;
    if o.changes & l3 != 0 {
        let ip = |s| std::net::Ipv4Addr::from(o.key.get(s) as u32);
        edits.push(format!(
            "set(ipv4(src={},dst={},tos={:#x},ttl={}))",
            ip(crate::key::IPV4_SRC),
            ip(crate::key::IPV4_DST),
            o.key.get(crate::key::IP_TOS),
            o.key.get(crate::key::IP_TTL)
        ));
    }
    if o.changes & (c::TP_SRC | c::TP_DST) != 0 {
        edits.push(format!(
            "set(l4(src={},dst={}))",
            o.key.get(crate::key::TP_SRC),
            o.key.get(crate::key::TP_DST)
        ));
    }
    if o.changes & (c::IPV6_SRC | c::IPV6_DST | c::IPV6_LABEL) != 0 {
        edits.push("set(ipv6(...))".into());
    }
    TraceOutput {
        bridge: b.name.clone(),
        port: o.port,
        port_name: b.port(o.port).map(|p| p.name.clone()),
        edits,
    }
}

fn indent(depth: u32) -> String {
    " ".repeat(4 * depth as usize)
}

impl TraceReport {
    /// The human text, laid out like `ovs-appctl ofproto/trace` (resubmits
    /// are indented one step per level so nesting is visible).
    pub fn to_text(&self) -> String {
        let mut s = format!("Flow: {}\n", self.flow);
        for e in &self.events {
            match e {
                TraceLine::Bridge { name, depth } => {
                    let title = format!("bridge(\"{name}\")");
                    s += &format!(
                        "\n{}{}\n{}{}\n",
                        indent(*depth),
                        title,
                        indent(*depth),
                        "-".repeat(title.len())
                    );
                }
                TraceLine::Table {
                    table,
                    depth,
                    matched,
                    priority,
                    ..
                } => match (matched, priority) {
                    (Some(m), Some(p)) => {
                        let sep = if m.is_empty() { "" } else { ", " };
                        s += &format!(
                            "{}{:>2}. {}{}priority {}\n",
                            indent(*depth),
                            table,
                            m,
                            sep,
                            p
                        );
                    }
                    _ => {
                        s += &format!(
                            "{}{:>2}. No match.\n{}    drop\n",
                            indent(*depth),
                            table,
                            indent(*depth)
                        )
                    }
                },
                TraceLine::Action { text, depth } => {
                    s += &format!("{}    {}\n", indent(*depth), text)
                }
                TraceLine::Note { text, depth } => {
                    let d = depth.saturating_sub(1);
                    s += &format!("{}     {}\n", indent(d), text)
                }
            }
        }
        s += "\n";
        match &self.final_flow {
            Some(f) => s += &format!("Final flow: {f}\n"),
            None => s += "Final flow: unchanged\n",
        }
        if self.outputs.is_empty() {
            s += "Datapath actions: drop\n";
        } else {
            s += "Datapath actions:\n";
            for o in &self.outputs {
                let name = o
                    .port_name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                let edits = if o.edits.is_empty() {
                    "unchanged".to_string()
                } else {
                    o.edits.join(",")
                };
                s += &format!(
                    "    output to {} port {}{}: {}\n",
                    o.bridge, o.port, name, edits
                );
            }
        }
        if self.to_controller > 0 {
            s += &format!(
                "Sent to controller: {} (no controller: dropped)\n",
                self.to_controller
            );
        }
        if let Some(e) = &self.error {
            s += &format!("Translation failed ({e}), packet is dropped.\n");
        }
        s
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("trace serializes")
    }
}
