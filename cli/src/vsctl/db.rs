//! The configuration database: the `Open_vSwitch`, `Bridge`, `Port` and
//! `Interface` rows rswitch keeps, as typed Rust values that serialize to the
//! daemon's JSON config file, plus OpenFlow port-number assignment (what
//! ovs-vswitchd does after each commit) and the typed diff the daemon
//! reconciles devices from.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// OpenFlow port number of a bridge's own (LOCAL) interface.
pub const OFPP_LOCAL: u16 = 65534;

/// Automatically assigned port numbers stay below this, like OVS, which
/// keeps the upper half for controllers.
const AUTO_OFPORT_LIMIT: u16 = 32768;

/// The whole configuration: the single `Open_vSwitch` row and its bridges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Db {
    /// `_uuid` of the `Open_vSwitch` row; the first line of `show`.
    pub uuid: String,
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    /// Bridges, kept sorted by name.
    #[serde(default)]
    pub bridges: Vec<Bridge>,
    /// Seed and counter of the row-UUID generator, stored so UUIDs stay
    /// unique across daemon restarts.
    #[serde(default)]
    uuid_seed: u64,
    #[serde(default)]
    uuid_counter: u64,
}

/// `fail_mode` of a bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    Standalone,
    Secure,
}

impl FailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Standalone => "standalone",
            FailMode::Secure => "secure",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<FailMode> {
        match s {
            "standalone" => Some(FailMode::Standalone),
            "secure" => Some(FailMode::Secure),
            _ => None,
        }
    }
}

/// A bridge.  Its LOCAL port (named like the bridge, interface type
/// `internal`, ofport 65534) is always present in `ports`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    pub uuid: String,
    pub name: String,
    #[serde(default)]
    pub fail_mode: Option<FailMode>,
    /// Accepted and stored (`""`, `system`, `netdev`, ...); rswitch always
    /// switches in userspace.
    #[serde(default)]
    pub datapath_type: String,
    /// OpenFlow versions (`OpenFlow10` ... `OpenFlow15`); empty = default.
    #[serde(default)]
    pub protocols: BTreeSet<String>,
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    /// Runtime status written by the daemon (never by commands).
    #[serde(default)]
    pub datapath_id: Option<String>,
    /// Ports sorted by name, the LOCAL port included.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// ovs-vswitchd's round-robin cursor for port numbers.  Like
    /// ovs-vswitchd's, it lives in memory only: after a restart numbering
    /// continues from the lowest free number.
    #[serde(skip)]
    pub(crate) alloc_cursor: Cursor,
}

/// In-memory allocation state that equality ignores (it is not configuration).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cursor(pub u16);

impl PartialEq for Cursor {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Cursor {}

/// `vlan_mode` of a port (OVS's `dot1q-tunnel` is not supported).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VlanMode {
    Trunk,
    Access,
    NativeTagged,
    NativeUntagged,
}

impl VlanMode {
    pub fn as_str(self) -> &'static str {
        match self {
            VlanMode::Trunk => "trunk",
            VlanMode::Access => "access",
            VlanMode::NativeTagged => "native-tagged",
            VlanMode::NativeUntagged => "native-untagged",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<VlanMode> {
        match s {
            "trunk" => Some(VlanMode::Trunk),
            "access" => Some(VlanMode::Access),
            "native-tagged" => Some(VlanMode::NativeTagged),
            "native-untagged" => Some(VlanMode::NativeUntagged),
            _ => None,
        }
    }
}

/// A port.  In rswitch every port has exactly one interface, named like the
/// port (what `add-port` creates in OVS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub uuid: String,
    pub name: String,
    /// Access VLAN.
    #[serde(default)]
    pub tag: Option<u16>,
    /// Trunked VLANs; empty = all.
    #[serde(default)]
    pub trunks: BTreeSet<u16>,
    #[serde(default)]
    pub vlan_mode: Option<VlanMode>,
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    pub interface: Interface,
}

/// Interface types rswitch implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InterfaceType {
    /// `""`: a system (kernel) device, as OVS's default.
    #[default]
    #[serde(rename = "")]
    Default,
    #[serde(rename = "system")]
    System,
    #[serde(rename = "internal")]
    Internal,
    #[serde(rename = "tap")]
    Tap,
    #[serde(rename = "patch")]
    Patch,
    #[serde(rename = "vxlan")]
    Vxlan,
    #[serde(rename = "gre")]
    Gre,
}

impl InterfaceType {
    /// The text stored in the `type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceType::Default => "",
            InterfaceType::System => "system",
            InterfaceType::Internal => "internal",
            InterfaceType::Tap => "tap",
            InterfaceType::Patch => "patch",
            InterfaceType::Vxlan => "vxlan",
            InterfaceType::Gre => "gre",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<InterfaceType> {
        Some(match s {
            "" => InterfaceType::Default,
            "system" => InterfaceType::System,
            "internal" => InterfaceType::Internal,
            "tap" => InterfaceType::Tap,
            "patch" => InterfaceType::Patch,
            "vxlan" => InterfaceType::Vxlan,
            "gre" => InterfaceType::Gre,
            _ => return None,
        })
    }
    /// `""` and `system` are the same device kind.
    pub fn is_system(self) -> bool {
        matches!(self, InterfaceType::Default | InterfaceType::System)
    }

    /// VXLAN or GRE.
    pub fn is_tunnel(self) -> bool {
        matches!(self, InterfaceType::Vxlan | InterfaceType::Gre)
    }
}

/// `admin_state` / `link_state` runtime status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Up,
    Down,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
        }
    }
}

/// An interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub uuid: String,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: InterfaceType,
    /// Type-specific options (`peer`, `remote_ip`, `local_ip`, `key`,
    /// `in_key`, `out_key`, `dst_port`, `ttl`, `tos`, `df_default`, `csum`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    /// OpenFlow port number, assigned as ovs-vswitchd assigns it and stable
    /// afterwards.  `None` only inside a transaction, before assignment.
    #[serde(default)]
    pub ofport: Option<u16>,
    #[serde(default)]
    pub ofport_request: Option<u16>,
    // Runtime status written by the daemon (never by commands).
    #[serde(default)]
    pub mac_in_use: Option<String>,
    #[serde(default)]
    pub admin_state: Option<LinkState>,
    #[serde(default)]
    pub link_state: Option<LinkState>,
    /// Why the daemon could not set the interface up (`show` prints it).
    #[serde(default)]
    pub error: Option<String>,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

impl Db {
    /// An empty database whose UUIDs come from seed 0 (deterministic).
    pub fn new() -> Db {
        Db::with_seed(0)
    }

    /// An empty database whose UUIDs derive from `seed`; the daemon passes
    /// something random so two switches do not share UUIDs.
    pub fn with_seed(seed: u64) -> Db {
        let mut db = Db {
            uuid: String::new(),
            external_ids: BTreeMap::new(),
            other_config: BTreeMap::new(),
            bridges: Vec::new(),
            uuid_seed: seed,
            uuid_counter: 0,
        };
        db.uuid = db.new_uuid();
        db
    }

    /// A fresh row UUID (random-looking, version 4 layout).
    pub(crate) fn new_uuid(&mut self) -> String {
        self.uuid_counter += 1;
        let a = splitmix64(self.uuid_seed ^ self.uuid_counter.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let b = splitmix64(a ^ self.uuid_counter);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// The bridge named `name`.
    pub fn bridge(&self, name: &str) -> Option<&Bridge> {
        self.bridges.iter().find(|b| b.name == name)
    }

    /// The bridge named `name`, mutably (for runtime status updates).
    pub fn bridge_mut(&mut self, name: &str) -> Option<&mut Bridge> {
        self.bridges.iter_mut().find(|b| b.name == name)
    }

    /// The port named `name` (LOCAL ports included) and its bridge.
    pub fn port(&self, name: &str) -> Option<(&Bridge, &Port)> {
        self.bridges
            .iter()
            .find_map(|b| b.ports.iter().find(|p| p.name == name).map(|p| (b, p)))
    }

    /// The interface named `name`, mutably (for runtime status updates).
    pub fn interface_mut(&mut self, name: &str) -> Option<&mut Interface> {
        self.bridges
            .iter_mut()
            .flat_map(|b| b.ports.iter_mut())
            .map(|p| &mut p.interface)
            .find(|i| i.name == name)
    }

    /// Indices (bridge, port) of the port named `name`.
    pub(crate) fn port_index(&self, name: &str) -> Option<(usize, usize)> {
        self.bridges.iter().enumerate().find_map(|(bi, b)| {
            b.ports
                .iter()
                .position(|p| p.name == name)
                .map(|pi| (bi, pi))
        })
    }

    pub(crate) fn bridge_index(&self, name: &str) -> Option<usize> {
        self.bridges.iter().position(|b| b.name == name)
    }

    /// Adds a bridge with its LOCAL port, keeping bridges sorted.
    pub(crate) fn insert_bridge(&mut self, name: &str) {
        let mut local = self.new_port(name);
        local.interface.kind = InterfaceType::Internal;
        let bridge = Bridge {
            uuid: self.new_uuid(),
            name: name.to_string(),
            fail_mode: None,
            datapath_type: String::new(),
            protocols: BTreeSet::new(),
            external_ids: BTreeMap::new(),
            other_config: BTreeMap::new(),
            datapath_id: None,
            ports: vec![local],
            alloc_cursor: Cursor::default(),
        };
        let at = self.bridges.partition_point(|b| b.name.as_str() < name);
        self.bridges.insert(at, bridge);
    }

    /// A new port with its interface of the same name (type `""`).
    pub(crate) fn new_port(&mut self, name: &str) -> Port {
        let iface_uuid = self.new_uuid();
        Port {
            uuid: self.new_uuid(),
            name: name.to_string(),
            tag: None,
            trunks: BTreeSet::new(),
            vlan_mode: None,
            external_ids: BTreeMap::new(),
            other_config: BTreeMap::new(),
            interface: Interface {
                uuid: iface_uuid,
                name: name.to_string(),
                kind: InterfaceType::Default,
                options: BTreeMap::new(),
                external_ids: BTreeMap::new(),
                other_config: BTreeMap::new(),
                ofport: None,
                ofport_request: None,
                mac_in_use: None,
                admin_state: None,
                link_state: None,
                error: None,
            },
        }
    }

    /// Adds `port` to bridge `bi`, keeping ports sorted.
    pub(crate) fn insert_port(&mut self, bi: usize, port: Port) {
        let ports = &mut self.bridges[bi].ports;
        let at = ports.partition_point(|p| p.name < port.name);
        ports.insert(at, port);
    }

    /// Assigns OpenFlow port numbers after a committed transaction, the way
    /// ovs-vswitchd 3.1 does when it reconfigures (`old` is the database
    /// before the transaction):
    ///
    /// * LOCAL is 65534;
    /// * an interface keeps its number; one deleted and re-created with the
    ///   same name and type on the same bridge in one transaction keeps it
    ///   too (vswitchd never sees it go away);
    /// * a changed `ofport_request` moves an existing interface to the
    ///   requested number if free, or if its holder did not request it
    ///   itself (the holder is then renumbered);
    /// * new interfaces get their `ofport_request` if free, otherwise the
    ///   next number after the bridge's round-robin cursor that is not in
    ///   use (1..32767, wrapping).  Freed numbers are therefore not reused
    ///   at once (OVS avoids confusing old flows with a new port).
    ///
    /// `created` lists interfaces created by the transaction, in order, so
    /// several ports added at once are numbered in command order (OVS uses
    /// hash order there, which is not reproducible).
    pub(crate) fn assign_ofports(&mut self, old: &Db, created: &[String]) {
        for bridge in &mut self.bridges {
            let old_bridge = old.bridge(&bridge.name);
            if let Some(ob) = old_bridge {
                // A bridge deleted and re-created in one transaction keeps
                // its ofproto (and cursor) in vswitchd.
                if bridge.uuid != ob.uuid {
                    bridge.alloc_cursor = ob.alloc_cursor;
                }
            }
            // Pass 1: numbers that are already decided.
            for port in &mut bridge.ports {
                let iface = &mut port.interface;
                if iface.name == bridge.name {
                    iface.ofport = Some(OFPP_LOCAL);
                    continue;
                }
                if iface.ofport.is_none() {
                    iface.ofport = old_bridge
                        .and_then(|ob| ob.ports.iter().find(|p| p.name == iface.name))
                        .filter(|op| op.interface.kind == iface.kind)
                        .and_then(|op| op.interface.ofport);
                }
            }
            // Pass 2: requests on interfaces that have a number.
            let mut pending: Vec<usize> = Vec::new();
            for i in 0..bridge.ports.len() {
                let iface = &bridge.ports[i].interface;
                let (Some(cur), Some(req)) = (iface.ofport, iface.ofport_request) else {
                    continue;
                };
                if cur == req || cur == OFPP_LOCAL {
                    continue;
                }
                match bridge
                    .ports
                    .iter()
                    .position(|p| p.interface.ofport == Some(req))
                {
                    None => bridge.ports[i].interface.ofport = Some(req),
                    Some(v) if bridge.ports[v].interface.ofport_request != Some(req) => {
                        bridge.ports[i].interface.ofport = Some(req);
                        bridge.ports[v].interface.ofport = None;
                        pending.push(v);
                    }
                    Some(_) => {}
                }
            }
            // Pass 3: new interfaces, requested numbers first.
            let mut fresh: Vec<usize> = (0..bridge.ports.len())
                .filter(|&i| bridge.ports[i].interface.ofport.is_none() && !pending.contains(&i))
                .collect();
            fresh.sort_by_key(|&i| {
                let name = &bridge.ports[i].name;
                created.iter().position(|c| c == name).unwrap_or(usize::MAX)
            });
            let mut in_use: BTreeSet<u16> = bridge
                .ports
                .iter()
                .filter_map(|p| p.interface.ofport)
                .collect();
            let order: Vec<usize> = fresh
                .iter()
                .copied()
                .filter(|&i| bridge.ports[i].interface.ofport_request.is_some())
                .chain(pending)
                .chain(
                    fresh
                        .iter()
                        .copied()
                        .filter(|&i| bridge.ports[i].interface.ofport_request.is_none()),
                )
                .collect();
            for i in order {
                let number = match bridge.ports[i].interface.ofport_request {
                    Some(r) if !in_use.contains(&r) => Some(r),
                    _ => next_free(&mut bridge.alloc_cursor, &in_use),
                };
                if let Some(n) = number {
                    in_use.insert(n);
                }
                bridge.ports[i].interface.ofport = number;
            }
        }
    }
}

/// The round-robin step of OVS's `alloc_ofp_port`.
fn next_free(cursor: &mut Cursor, in_use: &BTreeSet<u16>) -> Option<u16> {
    for _ in 1..AUTO_OFPORT_LIMIT {
        cursor.0 += 1;
        if cursor.0 >= AUTO_OFPORT_LIMIT {
            cursor.0 = 1;
        }
        if !in_use.contains(&cursor.0) {
            return Some(cursor.0);
        }
    }
    None
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Bridge settings whose change the daemon may have to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BridgeField {
    FailMode,
    DatapathType,
    Protocols,
    ExternalIds,
    OtherConfig,
}

/// Port and interface settings whose change the daemon may have to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortField {
    Tag,
    Trunks,
    VlanMode,
    PortExternalIds,
    PortOtherConfig,
    /// The interface type: the device has to be re-created.
    Type,
    Options,
    InterfaceExternalIds,
    InterfaceOtherConfig,
    Ofport,
    OfportRequest,
}

/// One difference between two databases, as [`db_diff`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    BridgeAdded {
        bridge: String,
    },
    BridgeRemoved {
        bridge: String,
    },
    BridgeChanged {
        bridge: String,
        fields: Vec<BridgeField>,
    },
    PortAdded {
        bridge: String,
        port: String,
    },
    PortRemoved {
        bridge: String,
        port: String,
    },
    PortChanged {
        bridge: String,
        port: String,
        fields: Vec<PortField>,
    },
}

/// What changed from `old` to `new`, for the daemon to reconcile devices.
///
/// Order: port removals, bridge removals, bridge additions, bridge changes,
/// port additions, port changes — so a name freed by a removal can be
/// reused by an addition.  LOCAL ports are implied by their bridge and never
/// reported on their own; a removed (added) bridge's other ports are
/// reported as removed (added).  A port moved to another bridge is a
/// removal plus an addition.  A port deleted and re-created in one
/// transaction is a change (or nothing), as ovs-vswitchd sees it.  Runtime
/// status (`error`, `mac_in_use`, link states, `datapath_id`) is ignored.
pub fn db_diff(old: &Db, new: &Db) -> Vec<Change> {
    let mut port_removed = Vec::new();
    let mut bridge_removed = Vec::new();
    let mut bridge_added = Vec::new();
    let mut bridge_changed = Vec::new();
    let mut port_added = Vec::new();
    let mut port_changed = Vec::new();

    for ob in &old.bridges {
        let nb = new.bridge(&ob.name);
        for op in ob.ports.iter().filter(|p| p.name != ob.name) {
            if !nb.is_some_and(|nb| nb.ports.iter().any(|p| p.name == op.name)) {
                port_removed.push(Change::PortRemoved {
                    bridge: ob.name.clone(),
                    port: op.name.clone(),
                });
            }
        }
        if nb.is_none() {
            bridge_removed.push(Change::BridgeRemoved {
                bridge: ob.name.clone(),
            });
        }
    }
    for nb in &new.bridges {
        let ob = old.bridge(&nb.name);
        match ob {
            None => bridge_added.push(Change::BridgeAdded {
                bridge: nb.name.clone(),
            }),
            Some(ob) => {
                let mut fields = Vec::new();
                if ob.fail_mode != nb.fail_mode {
                    fields.push(BridgeField::FailMode);
                }
                if ob.datapath_type != nb.datapath_type {
                    fields.push(BridgeField::DatapathType);
                }
                if ob.protocols != nb.protocols {
                    fields.push(BridgeField::Protocols);
                }
                if ob.external_ids != nb.external_ids {
                    fields.push(BridgeField::ExternalIds);
                }
                if ob.other_config != nb.other_config {
                    fields.push(BridgeField::OtherConfig);
                }
                if !fields.is_empty() {
                    bridge_changed.push(Change::BridgeChanged {
                        bridge: nb.name.clone(),
                        fields,
                    });
                }
            }
        }
        for np in nb.ports.iter().filter(|p| p.name != nb.name) {
            match ob.and_then(|ob| ob.ports.iter().find(|p| p.name == np.name)) {
                None => port_added.push(Change::PortAdded {
                    bridge: nb.name.clone(),
                    port: np.name.clone(),
                }),
                Some(op) => {
                    let fields = port_fields(op, np);
                    if !fields.is_empty() {
                        port_changed.push(Change::PortChanged {
                            bridge: nb.name.clone(),
                            port: np.name.clone(),
                            fields,
                        });
                    }
                }
            }
        }
    }
    let mut out = port_removed;
    out.extend(bridge_removed);
    out.extend(bridge_added);
    out.extend(bridge_changed);
    out.extend(port_added);
    out.extend(port_changed);
    out
}

fn port_fields(a: &Port, b: &Port) -> Vec<PortField> {
    let (ai, bi) = (&a.interface, &b.interface);
    let checks = [
        (a.tag != b.tag, PortField::Tag),
        (a.trunks != b.trunks, PortField::Trunks),
        (a.vlan_mode != b.vlan_mode, PortField::VlanMode),
        (a.external_ids != b.external_ids, PortField::PortExternalIds),
        (a.other_config != b.other_config, PortField::PortOtherConfig),
        (ai.kind != bi.kind, PortField::Type),
        (ai.options != bi.options, PortField::Options),
        (
            ai.external_ids != bi.external_ids,
            PortField::InterfaceExternalIds,
        ),
        (
            ai.other_config != bi.other_config,
            PortField::InterfaceOtherConfig,
        ),
        (ai.ofport != bi.ofport, PortField::Ofport),
        (
            ai.ofport_request != bi.ofport_request,
            PortField::OfportRequest,
        ),
    ];
    checks.into_iter().filter(|c| c.0).map(|c| c.1).collect()
}
