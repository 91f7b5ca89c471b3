//! What the pipeline knows about a bridge's ports: OpenFlow numbers, names,
//! VLAN configuration (for NORMAL and FLOOD) and flags.

use serde::{Deserialize, Serialize};

/// Reserved OpenFlow 1.0 port numbers, as ovs-ofctl names them.
pub const OFPP_MAX: u32 = 0xff00;
pub const OFPP_IN_PORT: u32 = 0xfff8;
pub const OFPP_TABLE: u32 = 0xfff9;
pub const OFPP_NORMAL: u32 = 0xfffa;
pub const OFPP_FLOOD: u32 = 0xfffb;
pub const OFPP_ALL: u32 = 0xfffc;
pub const OFPP_CONTROLLER: u32 = 0xfffd;
pub const OFPP_LOCAL: u32 = 0xfffe;
pub const OFPP_NONE: u32 = 0xffff;

/// Names of the reserved ports, as printed and parsed.
pub const RESERVED_PORT_NAMES: &[(&str, u32)] = &[
    ("IN_PORT", OFPP_IN_PORT),
    ("TABLE", OFPP_TABLE),
    ("NORMAL", OFPP_NORMAL),
    ("FLOOD", OFPP_FLOOD),
    ("ALL", OFPP_ALL),
    ("CONTROLLER", OFPP_CONTROLLER),
    ("LOCAL", OFPP_LOCAL),
    ("NONE", OFPP_NONE),
    ("ANY", OFPP_NONE),
];

/// How a port treats VLAN tags (ovs-vsctl's `vlan_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VlanMode {
    /// Untagged on the wire, member of VLAN `tag` only.
    Access,
    /// Tagged on the wire; carries the VLANs in `trunks` (all when empty).
    /// An untagged frame belongs to VLAN 0.
    #[default]
    Trunk,
    /// Trunk, plus untagged frames belong to `tag`; sent tagged always.
    NativeTagged,
    /// Trunk, plus untagged frames belong to `tag`; frames of `tag` sent untagged.
    NativeUntagged,
}

/// A port's VLAN configuration. With `mode` unset in ovs-vsctl, a port with
/// a `tag` is an access port and one without is a trunk: [`VlanConfig::new`]
/// applies that default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VlanConfig {
    pub mode: VlanMode,
    pub tag: Option<u16>,
    /// Empty means every VLAN.
    pub trunks: Vec<u16>,
}

impl VlanConfig {
    pub fn new(mode: Option<VlanMode>, tag: Option<u16>, trunks: Vec<u16>) -> VlanConfig {
        let mode = mode.unwrap_or(if tag.is_some() {
            VlanMode::Access
        } else {
            VlanMode::Trunk
        });
        VlanConfig { mode, tag, trunks }
    }

    pub fn access(tag: u16) -> VlanConfig {
        VlanConfig::new(None, Some(tag), Vec::new())
    }

    pub fn trunk(trunks: Vec<u16>) -> VlanConfig {
        VlanConfig::new(None, None, trunks)
    }

    /// Whether a trunk-style port carries `vlan` (tagged).
    pub fn trunks_vlan(&self, vlan: u16) -> bool {
        self.trunks.is_empty() || self.trunks.contains(&vlan)
    }
}

/// One port as the pipeline sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    pub ofport: u32,
    pub name: String,
    pub vlan: VlanConfig,
    /// Excluded from FLOOD (OpenFlow's OFPPC_NO_FLOOD).
    pub no_flood: bool,
    /// Link state; NORMAL and FLOOD skip ports that are down.
    pub up: bool,
}

impl PortInfo {
    pub fn new(ofport: u32, name: impl Into<String>) -> PortInfo {
        PortInfo {
            ofport,
            name: name.into(),
            vlan: VlanConfig::default(),
            no_flood: false,
            up: true,
        }
    }
}

/// Formats a port number the way ovs-ofctl does (reserved ports by name).
pub fn port_name(port: u32) -> Option<&'static str> {
    match port {
        OFPP_IN_PORT => Some("IN_PORT"),
        OFPP_TABLE => Some("TABLE"),
        OFPP_NORMAL => Some("NORMAL"),
        OFPP_FLOOD => Some("FLOOD"),
        OFPP_ALL => Some("ALL"),
        OFPP_CONTROLLER => Some("CONTROLLER"),
        OFPP_LOCAL => Some("LOCAL"),
        OFPP_NONE => Some("ANY"),
        _ => None,
    }
}
