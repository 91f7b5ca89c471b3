//! Daemon side: where the devices behind ports live, for the topology
//! picture. Internal and tap ports are looked up in rswitchd's own network
//! namespace and then, by name and MAC (as the daemon re-finds moved
//! internal ports), in the named namespaces of `/run/netns`. For a system
//! port that is a veth, the peer comes from `ip -j -d link show`
//! (`link`, or `link_index` + `link_netnsid` when the peer is in another
//! namespace), the namespace id is named with `ip -j netns list-id`, and
//! the peer's name is read in that namespace. Nothing here fails: what
//! cannot be found is placed in namespace `unknown`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use serde_json::Value;

use super::topology::{Link, Placement, Placements};
use crate::vsctl::db::InterfaceType;

/// A port the daemon runs, as the lookup needs it.
#[derive(Clone, Debug)]
pub struct PortDevice {
    pub name: String,
    pub kind: InterfaceType,
    /// The device's MAC as rswitch recorded it (identifies a moved device).
    pub mac: Option<String>,
}

/// `ip [-n NS] -j -d link show`, parsed; empty on any failure.
fn links(ns: Option<&str>) -> Vec<Value> {
    let mut cmd = Command::new("ip");
    if let Some(n) = ns {
        cmd.args(["-n", n]);
    }
    cmd.args(["-j", "-d", "link", "show"]);
    let Ok(out) = cmd.output() else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    match serde_json::from_slice(&out.stdout) {
        Ok(Value::Array(v)) => v,
        _ => Vec::new(),
    }
}

fn named_namespaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The namespace rswitchd runs in: its `ip netns` name if it has one,
/// `root` if it is (or cannot be told from) the initial namespace.
fn own_namespace(named: &[String]) -> String {
    let ino = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let Some(me) = ino("/proc/self/ns/net") else {
        return "root".to_string();
    };
    for n in named {
        if ino(&format!("/run/netns/{n}")) == Some(me) {
            return n.clone();
        }
    }
    match ino("/proc/1/ns/net") {
        Some(init) if init != me => "rswitchd's (unnamed)".to_string(),
        _ => "root".to_string(),
    }
}

/// `ip -j netns list-id`: namespace id -> name, as seen from here.
fn nsid_names() -> BTreeMap<i64, String> {
    let mut m = BTreeMap::new();
    let Ok(out) = Command::new("ip").args(["-j", "netns", "list-id"]).output() else {
        return m;
    };
    if let Ok(Value::Array(v)) = serde_json::from_slice::<Value>(&out.stdout) {
        for e in v {
            if let (Some(id), Some(name)) = (e["nsid"].as_i64(), e["name"].as_str()) {
                m.insert(id, name.to_string());
            }
        }
    }
    m
}

fn find<'a>(links: &'a [Value], name: &str) -> Option<&'a Value> {
    links.iter().find(|l| l["ifname"].as_str() == Some(name))
}

/// Links of the named namespaces, read once each, on demand.
struct Namespaces {
    named: Vec<String>,
    cache: BTreeMap<String, Vec<Value>>,
}

impl Namespaces {
    fn links(&mut self, ns: &str) -> &[Value] {
        self.cache
            .entry(ns.to_string())
            .or_insert_with(|| links(Some(ns)))
    }
}

/// Where each internal/tap port's device, and each veth port's peer,
/// lives. Other ports get no entry.
pub fn placements(ports: &[PortDevice]) -> Placements {
    let named = named_namespaces();
    let own = own_namespace(&named);
    let here = links(None);
    let mut others = Namespaces {
        named,
        cache: BTreeMap::new(),
    };
    let mut ids: Option<BTreeMap<i64, String>> = None;
    let mut out = Placements::new();
    for p in ports {
        let place = match p.kind {
            InterfaceType::Internal | InterfaceType::Tap => {
                Some(own_device(p, &own, &here, &mut others))
            }
            k if k.is_system() => {
                find(&here, &p.name).and_then(|l| veth_peer(l, &own, &mut others, &mut ids))
            }
            _ => None,
        };
        if let Some(pl) = place {
            out.insert(p.name.clone(), pl);
        }
    }
    out
}

fn own_device(p: &PortDevice, own: &str, here: &[Value], others: &mut Namespaces) -> Placement {
    let placed = |ns: &str| Placement {
        namespace: ns.to_string(),
        iface: p.name.clone(),
        link: Link::Own,
    };
    if find(here, &p.name).is_some() {
        return placed(own);
    }
    let names = others.named.clone();
    let mut by_name = Vec::new();
    for ns in names.iter().filter(|n| *n != own) {
        let Some(l) = find(others.links(ns), &p.name) else {
            continue;
        };
        let mac = l["address"].as_str();
        // Other switches' devices may share the name: with a recorded MAC
        // only the device carrying it is ours.
        if p.mac.is_none() || p.mac.as_deref() == mac {
            return placed(ns);
        }
        by_name.push(ns.clone());
    }
    // The MAC may have been changed after the move (labs give VM ports
    // their own MAC, as Neutron does): a name found in exactly one
    // namespace is still ours.
    match by_name.as_slice() {
        [ns] => placed(ns),
        _ => placed("unknown"),
    }
}

fn veth_peer(
    l: &Value,
    own: &str,
    others: &mut Namespaces,
    ids: &mut Option<BTreeMap<i64, String>>,
) -> Option<Placement> {
    if l["linkinfo"]["info_kind"].as_str() != Some("veth") {
        return None;
    }
    let peer = |namespace: &str, iface: String| Placement {
        namespace: namespace.to_string(),
        iface,
        link: Link::VethPeer,
    };
    let Some(nsid) = l["link_netnsid"].as_i64() else {
        // The peer is here: `link` names it.
        let name = l["link"].as_str().unwrap_or("?").to_string();
        return Some(peer(own, name));
    };
    let index = l["link_index"].as_i64();
    let ids = ids.get_or_insert_with(nsid_names);
    let Some(ns) = ids.get(&nsid).cloned() else {
        let what = index.map_or("veth peer".to_string(), |i| format!("ifindex {i}"));
        return Some(peer("unknown", what));
    };
    let name = others
        .links(&ns)
        .iter()
        .find(|x| x["ifindex"].as_i64() == index && index.is_some())
        .and_then(|x| x["ifname"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| index.map_or("?".to_string(), |i| format!("ifindex {i}")));
    Some(peer(&ns, name))
}
