//! Port commands: `show`, `dump-ports-desc`, `mod-port` and `dump-ports`, in
//! the layout ovs-ofctl 3.1 prints for each OpenFlow version.

use ofproto::port::{PortInfo, OFPP_LOCAL, OFPP_MAX, OFPP_NONE};
use ofproto::syntax::dump::format_duration;
use ofproto::syntax::matches::{format_port, port_from_string};
use ofproto::syntax::value::str_to_uint;
use ofproto::syntax::PortMap;

use super::options::Version;
use super::{fail, Ctx, Fail, PortChange, PortStatus};

/// A MAC for a port whose device did not report one: FNV-1a of the names,
/// made locally administered and unicast, so it is stable across restarts.
pub(crate) fn made_up_mac(bridge: &str, port: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bridge.bytes().chain([0]).chain(port.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]]
}

fn fmt_mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

struct PortView {
    info: PortInfo,
    status: PortStatus,
    mac: [u8; 6],
}

fn port_views(ctx: &Ctx, b: usize) -> Vec<PortView> {
    let bridge = &ctx.sw.bridges[b];
    bridge
        .ports()
        .iter()
        .map(|p| {
            let status = ctx.view.port_status(b, p.ofport);
            let mac = status
                .mac
                .unwrap_or_else(|| made_up_mac(&bridge.name, &p.name));
            PortView {
                info: p.clone(),
                status,
                mac,
            }
        })
        .collect()
}

/// OVS derives the datapath id from the bridge's MAC (its LOCAL port's).
fn dpid(ctx: &Ctx, b: usize) -> u64 {
    let bridge = &ctx.sw.bridges[b];
    let mac = ctx
        .view
        .port_status(b, OFPP_LOCAL)
        .mac
        .unwrap_or_else(|| made_up_mac(&bridge.name, &bridge.name));
    mac.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

/// OpenFlow's port feature name for a link speed.
fn speed_feature(mbps: u32) -> &'static str {
    match mbps {
        10 => "10MB-FD",
        100 => "100MB-FD",
        1_000 => "1GB-FD",
        10_000 => "10GB-FD",
        40_000 => "40GB-FD",
        100_000 => "100GB-FD",
        1_000_000 => "1TB-FD",
        _ => "OTHER",
    }
}

/// One port as `ofp_print_phy_port` prints it. OpenFlow 1.1 dropped
/// OFPPC_NO_FLOOD from the port config, and added the LIVE state.
fn phy_port(v: Version, p: &PortView) -> String {
    let name = p.status.ifname.as_deref().unwrap_or(&p.info.name);
    let mut s = format!(
        " {}({}): addr:{}\n",
        format_port(p.info.ofport, None),
        name,
        fmt_mac(p.mac)
    );
    let mut config = Vec::new();
    if !p.status.admin_up {
        config.push("PORT_DOWN");
    }
    if p.info.no_flood && v == Version::Of10 {
        config.push("NO_FLOOD");
    }
    let state = if !p.status.link_up {
        "LINK_DOWN"
    } else if v > Version::Of10 && p.status.admin_up {
        "LIVE"
    } else {
        "0"
    };
    let config = if config.is_empty() {
        "0".to_string()
    } else {
        config.join(" ")
    };
    s += &format!("     config:     {config}\n     state:      {state}\n");
    if let Some(mbps) = p.status.speed_mbps {
        let medium = if p.status.copper { " COPPER" } else { "" };
        s += &format!("     current:    {}{medium}\n", speed_feature(mbps));
    }
    s += &format!(
        "     speed: {} Mbps now, 0 Mbps max\n",
        p.status.speed_mbps.unwrap_or(0)
    );
    s
}

/// Ports in `show` order: by number, so LOCAL comes last.
fn phy_ports(v: Version, ports: &[PortView]) -> String {
    ports.iter().map(|p| phy_port(v, p)).collect()
}

/// `show BR`: the features reply (with the ports, or followed by a port
/// description reply from OpenFlow 1.3 on) and the switch configuration.
pub(crate) fn show(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let v = ctx.version();
    let t = v.tag();
    let mut s = format!(
        "OFPT_FEATURES_REPLY{t} (xid=0x2): dpid:{:016x}\nn_tables:254, n_buffers:0\n",
        dpid(ctx, b)
    );
    s += match v {
        Version::Of10 => "capabilities: FLOW_STATS TABLE_STATS PORT_STATS QUEUE_STATS ARP_MATCH_IP\nactions: output enqueue set_vlan_vid set_vlan_pcp strip_vlan mod_dl_src mod_dl_dst mod_nw_src mod_nw_dst mod_nw_tos mod_tp_src mod_tp_dst\n",
        Version::Of11 => "capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS ARP_MATCH_IP\n",
        Version::Of12 | Version::Of13 => "capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS\n",
        Version::Of14 | Version::Of15 => "capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS BUNDLES\n",
    };
    if v >= Version::Of13 {
        s += &format!("OFPST_PORT_DESC reply{t} (xid=0x3):\n");
    }
    s += &phy_ports(v, &port_views(ctx, b));
    let xid = if v >= Version::Of13 { 5 } else { 4 };
    s += &format!("OFPT_GET_CONFIG_REPLY{t} (xid={xid:#x}): frags=normal miss_send_len=0\n");
    ctx.print(&s);
    Ok(0)
}

/// Resolves a `dump-ports`/`dump-ports-desc` port operand like ovs-ofctl's
/// `str_to_port_no`: a number or reserved name first, then a port name
/// (costing ovs-ofctl a port-description round trip, hence the xid).
fn port_operand(ctx: &mut Ctx, b: usize, arg: &str) -> Result<(u32, u32), Fail> {
    if let Some((p, warning)) = port_from_string(arg, None) {
        if let Some(w) = warning {
            ctx.warn(&w);
        }
        return Ok((p, 0x2));
    }
    if let Some((p, _)) = port_from_string(arg, ctx.accept_ports(b).as_ref()) {
        return Ok((p, 0x4));
    }
    fail(format!("{}: unknown port `{arg}'", ctx.sw.bridges[b].name))
}

/// `dump-ports-desc BR [PORT]`. Open vSwitch 3.1 answers a request for one
/// port with every port, so the operand is only checked.
pub(crate) fn dump_ports_desc(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let xid = match args.get(1) {
        Some(a) => port_operand(ctx, b, a)?.1,
        None => 0x2,
    };
    let v = ctx.version();
    let s = format!(
        "OFPST_PORT_DESC reply{} (xid={xid:#x}):\n{}",
        v.tag(),
        phy_ports(v, &port_views(ctx, b))
    );
    ctx.print(&s);
    Ok(0)
}

/// The config bits `mod-port` can name (`ofctl_mod_port`'s table), with the
/// value the bit takes for the positive command (`down` sets PORT_DOWN).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bit {
    PortDown,
    NoStp,
    NoRecv,
    NoRecvStp,
    NoFlood,
    NoFwd,
    NoPacketIn,
}

const MOD_PORT: &[(&str, Bit, bool)] = &[
    ("up", Bit::PortDown, false),
    ("down", Bit::PortDown, true),
    ("stp", Bit::NoStp, false),
    ("receive", Bit::NoRecv, false),
    ("receive-stp", Bit::NoRecvStp, false),
    ("flood", Bit::NoFlood, false),
    ("forward", Bit::NoFwd, false),
    ("packet-in", Bit::NoPacketIn, false),
];

/// `mod-port BR PORT ACTION`. The port is a decimal number or an exact port
/// name (ovs-ofctl's `fetch_ofputil_phy_port`: no reserved names, no
/// quotes); the action is one of [`MOD_PORT`], optionally prefixed by `no-`
/// or `no`, in any case.
///
/// `up`/`down` set the port's link state in the bridge (FLOOD and NORMAL
/// skip a down port at once) and ask the daemon, through
/// [`OfctlOutput::port_changes`](super::OfctlOutput::port_changes), to change
/// the device's admin state; `flood`/`no-flood` set OFPPC_NO_FLOOD. rswitch
/// always receives, forwards, and has no STP or controller, so `receive`,
/// `forward`, `stp`, `receive-stp` and `packet-in` are accepted as already in
/// effect, and their `no-` forms are refused.
pub(crate) fn mod_port(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let bridge = &ctx.sw.bridges[b];
    let operand = args[1].as_str();
    let found = match str_to_uint(operand, 10) {
        // ovs-ofctl keeps the low 16 bits (`u16_to_ofp`).
        Some(n) => bridge.port(n & 0xffff),
        // ovs-ofctl matches the name `show` prints: the device's.
        None => bridge.port_by_name(operand).or_else(|| {
            bridge
                .ports()
                .iter()
                .find(|p| ctx.view.port_status(b, p.ofport).ifname.as_deref() == Some(operand))
        }),
    };
    let Some(port) = found.cloned() else {
        return fail(format!("{}: couldn't find port `{operand}'", bridge.name));
    };
    let action = args[2].as_str();
    let lower = action.to_ascii_lowercase();
    let (word, not) = if let Some(w) = lower.strip_prefix("no-") {
        (w, true)
    } else if let Some(w) = lower.strip_prefix("no") {
        (w, true)
    } else {
        (lower.as_str(), false)
    };
    let Some(&(_, bit, on)) = MOD_PORT.iter().find(|(n, _, _)| *n == word) else {
        return fail(format!("unknown mod-port command '{action}'"));
    };
    let set = on ^ not;
    let mut new = port.clone();
    match bit {
        Bit::PortDown => {
            new.up = !set;
            ctx.out.port_changes.push(PortChange {
                bridge: b,
                ofport: port.ofport,
                admin_up: !set,
            });
        }
        Bit::NoFlood => new.no_flood = set,
        _ if !set => {}
        _ => {
            let what = match bit {
                Bit::NoStp => "OFPPC_NO_STP (rswitch has no STP)",
                Bit::NoRecv => "OFPPC_NO_RECV (ports always receive)",
                Bit::NoRecvStp => "OFPPC_NO_RECV_STP (rswitch has no STP)",
                Bit::NoFwd => "OFPPC_NO_FWD (ports always forward)",
                _ => "OFPPC_NO_PACKET_IN (rswitch has no controller)",
            };
            return fail(format!(
                "mod-port {action}: rswitch does not implement {what}"
            ));
        }
    }
    if new != port {
        // set_port also forgets learned MACs: only when something changed.
        ctx.sw.bridges[b].set_port(new);
        ctx.out.changed = true;
    }
    Ok(0)
}

// ---- dump-ports ---------------------------------------------------------

/// Open vSwitch's `hash_int(x, 0)` (murmur-style, as built without SSE4.2).
fn ovs_hash_int(x: u32) -> u32 {
    fn add(hash: u32, data: u32) -> u32 {
        let mut h = hash;
        if data != 0 {
            let d = data
                .wrapping_mul(0xcc9e_2d51)
                .rotate_left(15)
                .wrapping_mul(0x1b87_3593);
            h ^= d;
        }
        h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
    }
    let mut h = add(add(x, 0), 0) ^ 8;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The order Open vSwitch lists a bridge's ports in a port stats reply: its
/// `hmap` iteration order, keyed by `hash_int(ofport)`, for ports inserted
/// LOCAL first and then by number (the order a bridge is usually built in;
/// rswitch does not keep insertion history). Reproduces OVS's hmap
/// (insert at bucket head, grow when n/2 > mask, rehash bucket by bucket).
pub(crate) fn ovs_port_order(ofports: &[u32]) -> Vec<u32> {
    let mut insertion: Vec<u32> = ofports
        .iter()
        .copied()
        .filter(|&p| p == OFPP_LOCAL)
        .collect();
    let mut rest: Vec<u32> = ofports
        .iter()
        .copied()
        .filter(|&p| p != OFPP_LOCAL)
        .collect();
    rest.sort_unstable();
    insertion.extend(rest);
    let mut mask = 0usize;
    let mut buckets: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
    for (n, p) in insertion.into_iter().enumerate() {
        let h = ovs_hash_int(p);
        buckets[h as usize & mask].insert(0, (p, h));
        let n = n + 1;
        if n / 2 > mask {
            let mut m = n / 2;
            for s in [1, 2, 4, 8, 16, 32] {
                m |= m >> s;
            }
            m |= (m & 1) << 1;
            if m > mask {
                let mut nb: Vec<Vec<(u32, u32)>> = vec![Vec::new(); m + 1];
                for b in &buckets {
                    for &(q, hq) in b {
                        nb[hq as usize & m].insert(0, (q, hq));
                    }
                }
                buckets = nb;
                mask = m;
            }
        }
    }
    buckets.into_iter().flatten().map(|(p, _)| p).collect()
}

/// A port in a port stats line: reserved names first, then (`--names`) the
/// port's name, quoted unless it is a letter followed by letters and digits
/// (OVS's `namemap_put_name`), else its number.
fn stats_port_name(p: u32, names: Option<&PortMap>) -> String {
    if p >= OFPP_MAX {
        return format_port(p, None);
    }
    match names.and_then(|m| m.name(p)) {
        Some(n) => {
            let plain = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && n.chars().all(|c| c.is_ascii_alphanumeric());
            if plain {
                n.to_string()
            } else {
                json_quote(n)
            }
        }
        None => p.to_string(),
    }
}

/// A JSON string literal, as OVS's `json_string_escape`.
fn json_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            '\r' => out += "\\r",
            '\t' => out += "\\t",
            '\u{8}' => out += "\\b",
            '\u{c}' => out += "\\f",
            c if (c as u32) < 0x20 => out += &format!("\\u{:04x}", c as u32),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `dump-ports BR [PORT]`: counters per port. rswitch counts drops and
/// errors but not frame, overrun, CRC or collision errors: those print as
/// `?`, as OVS prints counters a device does not report. From OpenFlow 1.3
/// on each port also shows how long it has existed.
pub(crate) fn dump_ports(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let b = ctx.bridge(&args[0])?;
    let (which, xid) = match args.get(1) {
        Some(a) => port_operand(ctx, b, a)?,
        None => (OFPP_NONE, 0x2),
    };
    let bridge = &ctx.sw.bridges[b];
    let all: Vec<u32> = bridge.ports().iter().map(|p| p.ofport).collect();
    let list: Vec<u32> = if which == OFPP_NONE {
        ovs_port_order(&all)
    } else {
        all.into_iter().filter(|&p| p == which).collect()
    };
    let v = ctx.version();
    let names = ctx.show_ports(b);
    let mut s = format!(
        "OFPST_PORT reply{} (xid={xid:#x}): {} ports\n",
        v.tag(),
        list.len()
    );
    for p in list {
        let c = ctx.view.port_counters(b, p);
        let pad = if p < 10 { " " } else { "" };
        s += &format!(
            "  port {pad}{}: rx pkts={}, bytes={}, drop={}, errs={}, frame=?, over=?, crc=?\n",
            stats_port_name(p, names.as_ref()),
            c.rx_packets,
            c.rx_bytes,
            c.rx_dropped,
            c.rx_errors
        );
        s += &format!(
            "           tx pkts={}, bytes={}, drop={}, errs={}, coll=?\n",
            c.tx_packets, c.tx_bytes, c.tx_dropped, c.tx_errors
        );
        if v >= Version::Of13 {
            if let Some(created) = ctx.view.port_status(b, p).created {
                s += &format!(
                    "           duration={}\n",
                    format_duration(ctx.now.saturating_sub(created))
                );
            }
        }
    }
    ctx.print(&s);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_order_matches_open_vswitch() {
        // Recorded with Open vSwitch 3.1 (cli/tests/data/ofctl_golden.txt).
        assert_eq!(ovs_port_order(&[1, 2, OFPP_LOCAL]), vec![OFPP_LOCAL, 1, 2]);
        assert_eq!(
            ovs_port_order(&[1, 2, 3, OFPP_LOCAL]),
            vec![OFPP_LOCAL, 1, 2, 3]
        );
        assert_eq!(
            ovs_port_order(&[1, 2, 3, 4, OFPP_LOCAL]),
            vec![4, OFPP_LOCAL, 1, 2, 3]
        );
        let many: Vec<u32> = (1..=40).chain([OFPP_LOCAL]).collect();
        let mut got = ovs_port_order(&many);
        got.sort_unstable();
        assert_eq!(got, many, "every port exactly once");
    }

    #[test]
    fn names_are_quoted_like_ovs() {
        let mut m = PortMap::new();
        m.insert("p1", 1);
        m.insert("gre-c6120002", 2);
        m.insert("1abc", 3);
        assert_eq!(stats_port_name(1, Some(&m)), "p1");
        assert_eq!(stats_port_name(2, Some(&m)), "\"gre-c6120002\"");
        assert_eq!(stats_port_name(3, Some(&m)), "\"1abc\"");
        assert_eq!(stats_port_name(OFPP_LOCAL, Some(&m)), "LOCAL");
        assert_eq!(stats_port_name(9, Some(&m)), "9");
    }

    #[test]
    fn made_up_macs_are_stable_local_unicast() {
        let a = made_up_mac("br0", "p1");
        assert_eq!(a, made_up_mac("br0", "p1"));
        assert_ne!(a, made_up_mac("br0", "p2"));
        assert_eq!(a[0] & 0x03, 0x02);
    }
}
