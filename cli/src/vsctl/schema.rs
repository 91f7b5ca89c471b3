//! Tables, columns and rows as ovs-vsctl's database commands see them:
//! name matching (OVS's case-insensitive unique-prefix rules, against OVS's
//! full schema so errors and ambiguities read the same), the columns rswitch
//! implements with their OVSDB types, and reading/writing a column of a row
//! of the typed [`Db`] as an OVSDB datum.

use std::collections::{BTreeMap, BTreeSet};

use super::db::{Db, FailMode, InterfaceType, VlanMode};
use super::value::{Atom, AtomType, BaseType, ColumnType, Datum, UNLIMITED};

/// A table.  Tables OVS has but rswitch does not implement are `Other`:
/// they are always empty in rswitch (it has no controllers, mirrors, QoS...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    OpenVSwitch,
    Bridge,
    Port,
    Interface,
    Other(&'static str),
}

/// Every table of OVS 3.1's `vswitch.ovsschema` (8.3.1), sorted.
const OVS_TABLES: &[&str] = &[
    "AutoAttach",
    "Bridge",
    "CT_Timeout_Policy",
    "CT_Zone",
    "Controller",
    "Datapath",
    "Flow_Sample_Collector_Set",
    "Flow_Table",
    "IPFIX",
    "Interface",
    "Manager",
    "Mirror",
    "NetFlow",
    "Open_vSwitch",
    "Port",
    "QoS",
    "Queue",
    "SSL",
    "sFlow",
];

/// OVS's column names for the tables rswitch implements (schema 8.3.1), so
/// prefix matching and its error messages are OVS's.
const OVS_ROOT_COLUMNS: &[&str] = &[
    "bridges",
    "cur_cfg",
    "datapath_types",
    "datapaths",
    "db_version",
    "dpdk_initialized",
    "dpdk_version",
    "external_ids",
    "iface_types",
    "manager_options",
    "next_cfg",
    "other_config",
    "ovs_version",
    "ssl",
    "statistics",
    "system_type",
    "system_version",
];
const OVS_BRIDGE_COLUMNS: &[&str] = &[
    "auto_attach",
    "controller",
    "datapath_id",
    "datapath_type",
    "datapath_version",
    "external_ids",
    "fail_mode",
    "flood_vlans",
    "flow_tables",
    "ipfix",
    "mcast_snooping_enable",
    "mirrors",
    "name",
    "netflow",
    "other_config",
    "ports",
    "protocols",
    "rstp_enable",
    "rstp_status",
    "sflow",
    "status",
    "stp_enable",
];
const OVS_PORT_COLUMNS: &[&str] = &[
    "bond_active_slave",
    "bond_downdelay",
    "bond_fake_iface",
    "bond_mode",
    "bond_updelay",
    "cvlans",
    "external_ids",
    "fake_bridge",
    "interfaces",
    "lacp",
    "mac",
    "name",
    "other_config",
    "protected",
    "qos",
    "rstp_statistics",
    "rstp_status",
    "statistics",
    "status",
    "tag",
    "trunks",
    "vlan_mode",
];
const OVS_INTERFACE_COLUMNS: &[&str] = &[
    "admin_state",
    "bfd",
    "bfd_status",
    "cfm_fault",
    "cfm_fault_status",
    "cfm_flap_count",
    "cfm_health",
    "cfm_mpid",
    "cfm_remote_mpids",
    "cfm_remote_opstate",
    "duplex",
    "error",
    "external_ids",
    "ifindex",
    "ingress_policing_burst",
    "ingress_policing_kpkts_burst",
    "ingress_policing_kpkts_rate",
    "ingress_policing_rate",
    "lacp_current",
    "link_resets",
    "link_speed",
    "link_state",
    "lldp",
    "mac",
    "mac_in_use",
    "mtu",
    "mtu_request",
    "name",
    "ofport",
    "ofport_request",
    "options",
    "other_config",
    "statistics",
    "status",
    "type",
];

/// How commands may touch a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Configuration: read and written by commands.
    Config,
    /// Schema-immutable (`name`): OVS refuses to modify it.
    Immutable,
    /// Runtime status maintained by rswitch (ofport, link state, ...).
    Status,
    /// References between rows; rswitch changes them only through
    /// add-br/del-br/add-port/del-port.
    Reference,
}

/// A column rswitch implements.
#[derive(Debug)]
pub(crate) struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub access: Access,
}

const fn col(name: &'static str, ty: ColumnType, access: Access) -> Column {
    Column { name, ty, access }
}

const STRING: BaseType = BaseType::new(AtomType::String);
const UUID: BaseType = BaseType::new(AtomType::Uuid);
const MAP: ColumnType = ColumnType::string_map();
const VLAN: BaseType = BaseType::int_range(0, 4095);
const UP_DOWN: &[&str] = &["down", "up"];

// Column lists, sorted by name as OVS lists them (after `_uuid`).
const ROOT_COLUMNS: &[Column] = &[
    col(
        "bridges",
        ColumnType::set(UUID, 0, UNLIMITED),
        Access::Reference,
    ),
    col("external_ids", MAP, Access::Config),
    col("other_config", MAP, Access::Config),
    col("ovs_version", ColumnType::optional(STRING), Access::Status),
];
const BRIDGE_COLUMNS: &[Column] = &[
    col("datapath_id", ColumnType::optional(STRING), Access::Status),
    col("datapath_type", ColumnType::scalar(STRING), Access::Config),
    col("external_ids", MAP, Access::Config),
    col(
        "fail_mode",
        ColumnType::optional(BaseType::string_enum(&["secure", "standalone"])),
        Access::Config,
    ),
    col("name", ColumnType::scalar(STRING), Access::Immutable),
    col("other_config", MAP, Access::Config),
    col(
        "ports",
        ColumnType::set(UUID, 0, UNLIMITED),
        Access::Reference,
    ),
    col(
        "protocols",
        ColumnType::set(
            BaseType::string_enum(&[
                "OpenFlow10",
                "OpenFlow11",
                "OpenFlow12",
                "OpenFlow13",
                "OpenFlow14",
                "OpenFlow15",
            ]),
            0,
            UNLIMITED,
        ),
        Access::Config,
    ),
];
const PORT_COLUMNS: &[Column] = &[
    col("external_ids", MAP, Access::Config),
    col(
        "interfaces",
        ColumnType::set(UUID, 1, UNLIMITED),
        Access::Reference,
    ),
    col("name", ColumnType::scalar(STRING), Access::Immutable),
    col("other_config", MAP, Access::Config),
    col("tag", ColumnType::optional(VLAN), Access::Config),
    col("trunks", ColumnType::set(VLAN, 0, 4096), Access::Config),
    col(
        "vlan_mode",
        ColumnType::optional(BaseType::string_enum(&[
            "access",
            "dot1q-tunnel",
            "native-tagged",
            "native-untagged",
            "trunk",
        ])),
        Access::Config,
    ),
];
const INTERFACE_COLUMNS: &[Column] = &[
    col(
        "admin_state",
        ColumnType::optional(BaseType::string_enum(UP_DOWN)),
        Access::Status,
    ),
    col("error", ColumnType::optional(STRING), Access::Status),
    col("external_ids", MAP, Access::Config),
    col(
        "link_state",
        ColumnType::optional(BaseType::string_enum(UP_DOWN)),
        Access::Status,
    ),
    col("mac_in_use", ColumnType::optional(STRING), Access::Status),
    col("name", ColumnType::scalar(STRING), Access::Immutable),
    col(
        "ofport",
        ColumnType::optional(BaseType::new(AtomType::Integer)),
        Access::Status,
    ),
    col(
        "ofport_request",
        ColumnType::optional(BaseType::int_range(1, 65279)),
        Access::Config,
    ),
    col("options", MAP, Access::Config),
    col("other_config", MAP, Access::Config),
    col("type", ColumnType::scalar(STRING), Access::Config),
];

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::OpenVSwitch => "Open_vSwitch",
            Table::Bridge => "Bridge",
            Table::Port => "Port",
            Table::Interface => "Interface",
            Table::Other(n) => n,
        }
    }

    fn from_ovs_name(name: &'static str) -> Table {
        match name {
            "Open_vSwitch" => Table::OpenVSwitch,
            "Bridge" => Table::Bridge,
            "Port" => Table::Port,
            "Interface" => Table::Interface,
            other => Table::Other(other),
        }
    }

    /// The columns rswitch implements (empty for `Other` tables).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::OpenVSwitch => ROOT_COLUMNS,
            Table::Bridge => BRIDGE_COLUMNS,
            Table::Port => PORT_COLUMNS,
            Table::Interface => INTERFACE_COLUMNS,
            Table::Other(_) => &[],
        }
    }

    fn ovs_columns(self) -> &'static [&'static str] {
        match self {
            Table::OpenVSwitch => OVS_ROOT_COLUMNS,
            Table::Bridge => OVS_BRIDGE_COLUMNS,
            Table::Port => OVS_PORT_COLUMNS,
            Table::Interface => OVS_INTERFACE_COLUMNS,
            Table::Other(_) => &[],
        }
    }

    /// `ctl_get_table`: exact or unique case-insensitive prefix match.
    pub fn lookup(name: &str) -> Result<Table, String> {
        match best_matches(OVS_TABLES, name) {
            (0, _) => Err(format!("unknown table \"{name}\"")),
            (_, m) if m.len() == 1 => Ok(Table::from_ovs_name(m[0])),
            (_, m) => Err(format!(
                "\"{name}\" matches multiple table names: {}",
                sorted_join(&m)
            )),
        }
    }

    /// `get_column`: resolves `name` against OVS's columns of this table,
    /// then requires rswitch to implement the match.  `Ok(None)` for
    /// `Other` tables, whose columns rswitch does not know (they have no
    /// rows, so no command ever reads one).
    pub fn column(self, name: &str) -> Result<Option<&'static Column>, String> {
        if let Table::Other(_) = self {
            return Ok(None);
        }
        let found = match best_matches(self.ovs_columns(), name) {
            (0, _) => {
                return Err(format!(
                    "{} does not contain a column whose name matches \"{name}\"",
                    self.name()
                ))
            }
            (_, m) if m.len() == 1 => m[0],
            (_, m) => {
                return Err(format!(
                    "{} contains more than one column whose name matches \"{name}\": {}",
                    self.name(),
                    sorted_join(&m)
                ))
            }
        };
        match self.columns().iter().find(|c| c.name == found) {
            Some(c) => Ok(Some(c)),
            None => Err(format!(
                "column {found} of table {} is not supported by rswitch",
                self.name()
            )),
        }
    }
}

fn sorted_join(names: &[&str]) -> String {
    let mut v = names.to_vec();
    v.sort_unstable();
    v.join(", ")
}

/// OVS's `score_partial_match`: exact match beats a full case-insensitive
/// match (`-` = `_`), which beats the longest prefix.
fn score(name: &str, s: &str) -> u32 {
    if name == s {
        return u32::MAX;
    }
    let norm = |c: u8| {
        if c == b'-' {
            b'_'
        } else {
            c.to_ascii_lowercase()
        }
    };
    let (n, q) = (name.as_bytes(), s.as_bytes());
    let mut i = 0;
    loop {
        let a = n.get(i).copied().map(norm);
        let b = q.get(i).copied().map(norm);
        if a != b {
            break;
        }
        if a.is_none() {
            return u32::MAX - 1;
        }
        i += 1;
    }
    if i == q.len() {
        i as u32
    } else {
        0
    }
}

/// The best score and every candidate reaching it.
fn best_matches(candidates: &[&'static str], s: &str) -> (u32, Vec<&'static str>) {
    let mut best = 0;
    let mut matches = Vec::new();
    for &c in candidates {
        let sc = score(c, s);
        if sc > 0 && sc >= best {
            if sc > best {
                matches.clear();
                best = sc;
            }
            matches.push(c);
        }
    }
    (best, matches)
}

/// A row of one of rswitch's tables, by position in the [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Row {
    Root,
    Bridge(usize),
    Port(usize, usize),
    Interface(usize, usize),
}

impl Row {
    pub fn table(self) -> Table {
        match self {
            Row::Root => Table::OpenVSwitch,
            Row::Bridge(_) => Table::Bridge,
            Row::Port(..) => Table::Port,
            Row::Interface(..) => Table::Interface,
        }
    }

    pub fn uuid(self, db: &Db) -> &str {
        match self {
            Row::Root => &db.uuid,
            Row::Bridge(b) => &db.bridges[b].uuid,
            Row::Port(b, p) => &db.bridges[b].ports[p].uuid,
            Row::Interface(b, p) => &db.bridges[b].ports[p].interface.uuid,
        }
    }

    fn name(self, db: &Db) -> Option<&str> {
        match self {
            Row::Root => None,
            Row::Bridge(b) => Some(&db.bridges[b].name),
            Row::Port(b, p) | Row::Interface(b, p) => Some(&db.bridges[b].ports[p].name),
        }
    }
}

/// All rows of `table`, ordered by name (OVS's order is its UUID hash order,
/// which is effectively random; sorted output is one of its possibilities).
pub(crate) fn rows(db: &Db, table: Table) -> Vec<Row> {
    let mut rows: Vec<Row> = match table {
        Table::OpenVSwitch => vec![Row::Root],
        Table::Bridge => (0..db.bridges.len()).map(Row::Bridge).collect(),
        Table::Port | Table::Interface => db
            .bridges
            .iter()
            .enumerate()
            .flat_map(|(b, br)| (0..br.ports.len()).map(move |p| (b, p)))
            .map(|(b, p)| {
                if table == Table::Port {
                    Row::Port(b, p)
                } else {
                    Row::Interface(b, p)
                }
            })
            .collect(),
        Table::Other(_) => Vec::new(),
    };
    rows.sort_by(|a, b| a.name(db).cmp(&b.name(db)));
    rows
}

/// `get_row`: a record by UUID, by name (`.` for the `Open_vSwitch` row), or
/// by a unique UUID prefix of at least 4 characters.
pub(crate) fn find_row(db: &Db, table: Table, id: &str) -> Result<Option<Row>, String> {
    let all = rows(db, table);
    if super::value::is_uuid(id) {
        let lower = id.to_ascii_lowercase();
        if let Some(r) = all.iter().find(|r| r.uuid(db) == lower) {
            return Ok(Some(*r));
        }
    }
    let by_name = match table {
        Table::OpenVSwitch => (id == ".").then_some(Row::Root),
        _ => all.iter().copied().find(|r| r.name(db) == Some(id)),
    };
    if by_name.is_some() {
        return Ok(by_name);
    }
    if super::value::is_partial_uuid(id) {
        let lower = id.to_ascii_lowercase();
        let hits: Vec<Row> = all
            .iter()
            .copied()
            .filter(|r| r.uuid(db).starts_with(&lower))
            .collect();
        match hits.as_slice() {
            [one] => return Ok(Some(*one)),
            [a, b, ..] => {
                return Err(format!(
                    "{} contains 2 or more rows whose UUIDs begin with {id}: at least {} and {}",
                    table.name(),
                    a.uuid(db),
                    b.uuid(db)
                ))
            }
            [] => {}
        }
    }
    Ok(None)
}

fn str_atom(s: &str) -> Atom {
    Atom::String(s.to_string())
}

fn map_datum(m: &BTreeMap<String, String>) -> Datum {
    Datum::string_map(m)
}

fn datum_to_map(d: &Datum) -> BTreeMap<String, String> {
    d.items
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_ref()?.as_str()?.to_string())))
        .collect()
}

fn datum_str(d: &Datum) -> Option<String> {
    d.items
        .first()
        .and_then(|(k, _)| k.as_str())
        .map(str::to_string)
}

fn datum_u16(d: &Datum) -> Option<u16> {
    d.items
        .first()
        .and_then(|(k, _)| k.as_int())
        .and_then(|i| u16::try_from(i).ok())
}

/// Reads `column` of `row` as a datum.
pub(crate) fn read(db: &Db, row: Row, column: &str) -> Datum {
    let version = || Datum::one(str_atom(super::RSWITCH_VERSION));
    match row {
        Row::Root => match column {
            "bridges" => Datum::set(db.bridges.iter().map(|b| Atom::Uuid(b.uuid.clone()))),
            "external_ids" => map_datum(&db.external_ids),
            "other_config" => map_datum(&db.other_config),
            "ovs_version" => version(),
            _ => Datum::empty(),
        },
        Row::Bridge(b) => {
            let br = &db.bridges[b];
            match column {
                "datapath_id" => Datum::opt(br.datapath_id.as_deref().map(str_atom)),
                "datapath_type" => Datum::one(str_atom(&br.datapath_type)),
                "external_ids" => map_datum(&br.external_ids),
                "fail_mode" => Datum::opt(br.fail_mode.map(|f| str_atom(f.as_str()))),
                "name" => Datum::one(str_atom(&br.name)),
                "other_config" => map_datum(&br.other_config),
                "ports" => Datum::set(br.ports.iter().map(|p| Atom::Uuid(p.uuid.clone()))),
                "protocols" => Datum::set(br.protocols.iter().map(|p| str_atom(p))),
                _ => Datum::empty(),
            }
        }
        Row::Port(b, p) => {
            let port = &db.bridges[b].ports[p];
            match column {
                "external_ids" => map_datum(&port.external_ids),
                "interfaces" => Datum::one(Atom::Uuid(port.interface.uuid.clone())),
                "name" => Datum::one(str_atom(&port.name)),
                "other_config" => map_datum(&port.other_config),
                "tag" => Datum::opt(port.tag.map(|t| Atom::Integer(t.into()))),
                "trunks" => Datum::set(port.trunks.iter().map(|&t| Atom::Integer(t.into()))),
                "vlan_mode" => Datum::opt(port.vlan_mode.map(|m| str_atom(m.as_str()))),
                _ => Datum::empty(),
            }
        }
        Row::Interface(b, p) => {
            let i = &db.bridges[b].ports[p].interface;
            match column {
                "admin_state" => Datum::opt(i.admin_state.map(|s| str_atom(s.as_str()))),
                "error" => Datum::opt(i.error.as_deref().map(str_atom)),
                "external_ids" => map_datum(&i.external_ids),
                "link_state" => Datum::opt(i.link_state.map(|s| str_atom(s.as_str()))),
                "mac_in_use" => Datum::opt(i.mac_in_use.as_deref().map(str_atom)),
                "name" => Datum::one(str_atom(&i.name)),
                "ofport" => Datum::opt(i.ofport.map(|o| Atom::Integer(o.into()))),
                "ofport_request" => Datum::opt(i.ofport_request.map(|o| Atom::Integer(o.into()))),
                "options" => map_datum(&i.options),
                "other_config" => map_datum(&i.other_config),
                "type" => Datum::one(str_atom(i.kind.as_str())),
                _ => Datum::empty(),
            }
        }
    }
}

/// Writes `value` (already checked against the column's OVSDB type) into
/// `column` of `row`.  Refuses what rswitch cannot honour, with a message
/// saying so.
pub(crate) fn write(db: &mut Db, row: Row, column: &Column, value: &Datum) -> Result<(), String> {
    let table = row.table().name();
    match column.access {
        Access::Config => {}
        Access::Immutable => {
            return Err(format!(
                "cannot modify read-only column {} in table {table}",
                column.name
            ))
        }
        Access::Status => {
            let hint = if column.name == "ofport" {
                " (use ofport_request to choose a port number)"
            } else {
                ""
            };
            return Err(format!(
                "column {} of table {table} is status maintained by rswitch and cannot be set{hint}",
                column.name
            ));
        }
        Access::Reference => {
            let how = match column.name {
                "bridges" => "use add-br and del-br",
                "ports" => "use add-port and del-port",
                _ => "each port has exactly one interface, named like the port",
            };
            return Err(format!(
                "column {} of table {table} cannot be modified in rswitch ({how})",
                column.name
            ));
        }
    }
    match row {
        Row::Root => match column.name {
            "external_ids" => db.external_ids = datum_to_map(value),
            "other_config" => db.other_config = datum_to_map(value),
            _ => unreachable!("config column {} of Open_vSwitch", column.name),
        },
        Row::Bridge(b) => {
            let br = &mut db.bridges[b];
            match column.name {
                "datapath_type" => br.datapath_type = datum_str(value).unwrap_or_default(),
                "external_ids" => br.external_ids = datum_to_map(value),
                "fail_mode" => br.fail_mode = datum_str(value).and_then(|s| FailMode::parse(&s)),
                "other_config" => br.other_config = datum_to_map(value),
                "protocols" => {
                    br.protocols = value
                        .items
                        .iter()
                        .filter_map(|(k, _)| k.as_str().map(str::to_string))
                        .collect::<BTreeSet<_>>()
                }
                _ => unreachable!("config column {} of Bridge", column.name),
            }
        }
        Row::Port(b, p) => {
            let port = &mut db.bridges[b].ports[p];
            match column.name {
                "external_ids" => port.external_ids = datum_to_map(value),
                "other_config" => port.other_config = datum_to_map(value),
                "tag" => port.tag = datum_u16(value),
                "trunks" => {
                    port.trunks = value
                        .items
                        .iter()
                        .filter_map(|(k, _)| k.as_int().and_then(|i| u16::try_from(i).ok()))
                        .collect()
                }
                "vlan_mode" => {
                    port.vlan_mode =
                        match datum_str(value) {
                            None => None,
                            Some(s) => Some(VlanMode::parse(&s).ok_or_else(|| {
                                format!("vlan_mode {s} is not supported by rswitch")
                            })?),
                        }
                }
                _ => unreachable!("config column {} of Port", column.name),
            }
        }
        Row::Interface(b, p) => {
            let bridge = &mut db.bridges[b];
            let is_local = bridge.ports[p].name == bridge.name;
            let iface = &mut bridge.ports[p].interface;
            match column.name {
                "external_ids" => iface.external_ids = datum_to_map(value),
                "ofport_request" => iface.ofport_request = datum_u16(value),
                "options" => iface.options = datum_to_map(value),
                "other_config" => iface.other_config = datum_to_map(value),
                "type" => {
                    let s = datum_str(value).unwrap_or_default();
                    iface.kind = InterfaceType::parse(&s).ok_or_else(|| {
                        format!(
                            "Interface type \"{s}\" is not supported by rswitch \
                             (supported: \"\", system, internal, tap, patch, vxlan, gre)"
                        )
                    })?;
                    // ovs-vswitchd ignores this column for the LOCAL port;
                    // rswitch refuses rather than store a misleading value.
                    if is_local && iface.kind != InterfaceType::Internal {
                        return Err(format!(
                            "the type of {0}, the local interface of bridge {0}, is always internal",
                            iface.name
                        ));
                    }
                }
                _ => unreachable!("config column {} of Interface", column.name),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_column_matching() {
        assert_eq!(Table::lookup("port"), Ok(Table::Port));
        assert_eq!(Table::lookup("P"), Ok(Table::Port));
        assert_eq!(Table::lookup("o"), Ok(Table::OpenVSwitch));
        assert_eq!(
            Table::lookup("Q"),
            Err("\"Q\" matches multiple table names: QoS, Queue".into())
        );
        assert_eq!(Table::lookup("Prt"), Err("unknown table \"Prt\"".into()));
        assert_eq!(Table::lookup("Controller"), Ok(Table::Other("Controller")));
        let t = Table::Interface;
        assert_eq!(t.column("ofport").unwrap().unwrap().name, "ofport");
        assert_eq!(
            t.column("external-ids").unwrap().unwrap().name,
            "external_ids"
        );
        assert_eq!(t.column("ext").unwrap().unwrap().name, "external_ids");
        assert_eq!(
            t.column("of").unwrap_err(),
            "Interface contains more than one column whose name matches \"of\": ofport, ofport_request"
        );
        assert!(t
            .column("bfd")
            .unwrap_err()
            .contains("not supported by rswitch"));
    }
}
