//! The topology picture (`rswitch show --format dot`): a box per bridge
//! with a node per port (name, type, ofport, tag/trunks), patch links
//! between bridges, tunnel ports joined to their remote address, and the
//! network namespace each internal port or veth peer lives in, drawn as a
//! box holding the interface. Pure: the namespace facts come in as
//! [`Placements`] (the daemon finds them, see [`super::netns`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::dot::{html, quote, GRAPH_STYLE};
use crate::vsctl::db::{Bridge, Db, InterfaceType, Port};

/// How a port is tied to the interface drawn in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The port's own device lives there (an internal or tap port).
    Own,
    /// The other end of the veth the port is.
    VethPeer,
}

/// Where a port's device (or its veth peer) lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The namespace's name: one from `ip netns`, `root`, `unknown`, …
    pub namespace: String,
    /// The interface's name there.
    pub iface: String,
    pub link: Link,
}

/// Port name -> where its device or veth peer lives.
pub type Placements = BTreeMap<String, Placement>;

/// Fill and border colours of a port node, by interface type.
fn colors(kind: InterfaceType) -> (&'static str, &'static str) {
    match kind {
        InterfaceType::Internal => ("#d5e8d4", "#82b366"),
        InterfaceType::Tap => ("#e1d5e7", "#9673a6"),
        InterfaceType::Patch => ("#fff2cc", "#d6b656"),
        InterfaceType::Vxlan | InterfaceType::Gre => ("#f8cecc", "#b85450"),
        InterfaceType::Default | InterfaceType::System => ("#dae8fc", "#6c8ebf"),
    }
}

fn type_name(kind: InterfaceType) -> &'static str {
    match kind.as_str() {
        "" => "system",
        s => s,
    }
}

fn port_id(name: &str) -> String {
    quote(&format!("port:{name}"))
}

/// The second line of a port node: type and OpenFlow port number.
fn port_facts(br: &Bridge, p: &Port) -> String {
    let ofport = if p.name == br.name {
        "LOCAL".to_string()
    } else {
        match p.interface.ofport {
            Some(n) => format!("ofport {n}"),
            None => "no ofport".to_string(),
        }
    };
    format!("{} · {ofport}", type_name(p.interface.kind))
}

/// VLAN facts of a port, if any: `tag 100`, `trunks 1,2`, `vlan_mode …`.
fn vlan_facts(p: &Port) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(t) = p.tag {
        v.push(format!("tag {t}"));
    }
    if !p.trunks.is_empty() {
        let t: Vec<String> = p.trunks.iter().map(u16::to_string).collect();
        v.push(format!("trunks {}", t.join(",")));
    }
    if let Some(m) = p.vlan_mode {
        v.push(format!("vlan_mode {}", m.as_str()));
    }
    v
}

fn port_node(out: &mut String, br: &Bridge, p: &Port) {
    let (fill, border) = colors(p.interface.kind);
    let mut label = format!(
        "<b>{}</b><br/><font point-size=\"9\">{}</font>",
        html(&p.name),
        html(&port_facts(br, p))
    );
    for f in vlan_facts(p) {
        let _ = write!(
            label,
            "<br/><font point-size=\"9\" color=\"#1f4e99\"><b>{}</b></font>",
            html(&f)
        );
    }
    let mut border = border;
    if let Some(e) = &p.interface.error {
        let _ = write!(
            label,
            "<br/><font point-size=\"8\" color=\"#c00000\">{}</font>",
            html(&super::dot::shorten(e, 40))
        );
        border = "#c00000";
    }
    let _ = writeln!(
        out,
        "    {} [shape=box, style=\"rounded,filled\", fillcolor=\"{fill}\", color=\"{border}\", label=<{label}>];",
        port_id(&p.name)
    );
}

fn bridge_cluster(out: &mut String, i: usize, br: &Bridge) {
    let mut label = format!("<b>bridge {}</b>", html(&br.name));
    let mut facts = Vec::new();
    if let Some(m) = br.fail_mode {
        facts.push(format!("fail_mode {}", m.as_str()));
    }
    if !br.datapath_type.is_empty() {
        facts.push(format!("datapath {}", br.datapath_type));
    }
    if !facts.is_empty() {
        let _ = write!(
            label,
            "<br/><font point-size=\"10\">{}</font>",
            html(&facts.join(" · "))
        );
    }
    let _ = writeln!(out, "  subgraph cluster_bridge_{i} {{");
    let _ = writeln!(
        out,
        "    label=<{label}>; labeljust=l; style=\"rounded,filled\"; fillcolor=\"#f4f6f8\"; color=\"#5b6770\"; penwidth=1.5;"
    );
    let mut ports: Vec<&Port> = br.ports.iter().collect();
    ports.sort_by(|a, b| a.name.cmp(&b.name));
    for p in ports {
        port_node(out, br, p);
    }
    let _ = writeln!(out, "  }}");
}

/// All ports of the database, by name: (bridge, port).
fn all_ports(db: &Db) -> BTreeMap<&str, (&Bridge, &Port)> {
    let mut m = BTreeMap::new();
    for b in &db.bridges {
        for p in &b.ports {
            m.insert(p.name.as_str(), (b, p));
        }
    }
    m
}

fn patch_edges(out: &mut String, ports: &BTreeMap<&str, (&Bridge, &Port)>) {
    for (&name, &(_, p)) in ports {
        if p.interface.kind != InterfaceType::Patch {
            continue;
        }
        let Some(peer) = p.interface.options.get("peer") else {
            continue;
        };
        let back = ports.get(peer.as_str()).is_some_and(|(_, q)| {
            q.interface.kind == InterfaceType::Patch
                && q.interface.options.get("peer").map(String::as_str) == Some(name)
        });
        if back {
            // Each pair once.
            if name < peer.as_str() {
                let _ = writeln!(
                    out,
                    "  {} -- {} [label=\"patch\", color=\"#d6b656\", penwidth=2.5, fontcolor=\"#8a6d00\"];",
                    port_id(name),
                    port_id(peer)
                );
            }
        } else {
            let target = quote(&format!("missing:{peer}"));
            let _ = writeln!(
                out,
                "  {target} [shape=box, style=\"rounded,dashed\", color=\"#c00000\", fontcolor=\"#c00000\", label={}];",
                quote(&format!("peer {peer}\n(missing or not pointing back)"))
            );
            let _ = writeln!(
                out,
                "  {} -- {target} [style=dashed, color=\"#c00000\", label=\"patch\"];",
                port_id(name)
            );
        }
    }
}

fn tunnel_edges(out: &mut String, ports: &BTreeMap<&str, (&Bridge, &Port)>) {
    let mut remotes: BTreeMap<String, ()> = BTreeMap::new();
    let mut edges = String::new();
    for (&name, &(_, p)) in ports {
        if !p.interface.kind.is_tunnel() {
            continue;
        }
        let o = &p.interface.options;
        let remote = o.get("remote_ip").cloned().unwrap_or_else(|| "?".into());
        remotes.insert(remote.clone(), ());
        let mut label = vec![type_name(p.interface.kind).to_string()];
        for k in ["key", "in_key", "out_key", "dst_port", "local_ip"] {
            if let Some(v) = o.get(k) {
                label.push(format!("{k}={v}"));
            }
        }
        let _ = writeln!(
            edges,
            "  {} -- {} [label={}, color=\"#b85450\", style=bold, fontcolor=\"#7a2e2b\"];",
            port_id(name),
            quote(&format!("remote:{remote}")),
            quote(&label.join("\n"))
        );
    }
    for r in remotes.keys() {
        let text = match r.as_str() {
            "flow" => "remote_ip=flow\n(set by the flows)".to_string(),
            "?" => "no remote_ip".to_string(),
            ip => format!("remote\n{ip}"),
        };
        let _ = writeln!(
            out,
            "  {} [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", color=\"#777777\", label={}];",
            quote(&format!("remote:{r}")),
            quote(&text)
        );
    }
    out.push_str(&edges);
}

fn namespace_clusters(
    out: &mut String,
    places: &Placements,
    known: &BTreeMap<&str, (&Bridge, &Port)>,
) {
    let mut by_ns: BTreeMap<&str, Vec<(&str, &Placement)>> = BTreeMap::new();
    for (port, pl) in places {
        if known.contains_key(port.as_str()) {
            by_ns.entry(&pl.namespace).or_default().push((port, pl));
        }
    }
    let mut edges = String::new();
    for (i, (ns, members)) in by_ns.iter().enumerate() {
        let unknown = *ns == "unknown";
        let title = if unknown {
            "namespace unknown".to_string()
        } else {
            format!("netns {ns}")
        };
        let _ = writeln!(out, "  subgraph cluster_netns_{i} {{");
        let _ = writeln!(
            out,
            "    label=<<b>{}</b>>; labeljust=l; style=\"rounded,dashed,filled\"; fillcolor=\"{}\"; color=\"#8c7b4f\";",
            html(&title),
            if unknown { "#eeeeee" } else { "#fdf8ea" }
        );
        for (port, pl) in members {
            let id = quote(&format!("netns:{ns}:{}", pl.iface));
            let sub = match pl.link {
                Link::Own => "the port's device",
                Link::VethPeer => "veth peer",
            };
            let _ = writeln!(
                out,
                "    {id} [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#8c7b4f\", label=<<b>{}</b><br/><font point-size=\"9\">{sub}</font>>];",
                html(&pl.iface)
            );
            let (style, label) = match pl.link {
                Link::Own => ("dashed", "lives in"),
                Link::VethPeer => ("solid", "veth"),
            };
            let _ = writeln!(
                edges,
                "  {id} -- {} [style={style}, color=\"#8c7b4f\", label=\"{label}\", fontcolor=\"#6b5c33\"];",
                port_id(port)
            );
        }
        let _ = writeln!(out, "  }}");
    }
    out.push_str(&edges);
}

/// The topology of `db` as a DOT graph; `places` says where internal ports
/// and veth peers live (ports without an entry get no namespace box).
pub fn topology_dot(db: &Db, places: &Placements) -> String {
    let mut out = String::from("graph topology {\n");
    out.push_str(GRAPH_STYLE);
    out.push_str("  label=<<b>rswitch topology</b>>; labelloc=t;\n");
    let mut bridges: Vec<&Bridge> = db.bridges.iter().collect();
    bridges.sort_by(|a, b| a.name.cmp(&b.name));
    for (i, br) in bridges.iter().enumerate() {
        bridge_cluster(&mut out, i, br);
    }
    let ports = all_ports(db);
    namespace_clusters(&mut out, places, &ports);
    patch_edges(&mut out, &ports);
    tunnel_edges(&mut out, &ports);
    if db.bridges.is_empty() {
        out.push_str("  empty [shape=plaintext, label=\"no bridges\"];\n");
    }
    out.push_str("}\n");
    out
}
