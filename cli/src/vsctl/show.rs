//! `show`: the `ovs-vsctl show` overview, laid out as OVS 3.1 lays it out.

use super::db::Db;
use super::value::{Atom, AtomType, BaseType, ColumnType, Datum};

const STRING: ColumnType = ColumnType::scalar(BaseType::new(AtomType::String));
const MAP: ColumnType = ColumnType::string_map();
const TRUNKS: ColumnType = ColumnType::set(BaseType::int_range(0, 4095), 0, 4096);

/// Renders `show`.  Columns appear in OVS's order and only when they differ
/// from their default: Bridge `fail_mode`, `datapath_type`; Port `tag`,
/// `trunks`; Interface `type`, `options`, `error`.  OVS lists bridges and
/// ports in UUID order (random); rswitch sorts them by name.
pub(crate) fn show(db: &Db) -> String {
    let mut out = format!("{}\n", db.uuid);
    let text = |s: &str| Datum::one(Atom::String(s.to_string())).to_text(&STRING);
    for br in &db.bridges {
        out += &format!("    Bridge {}\n", text(&br.name));
        if let Some(mode) = br.fail_mode {
            out += &format!("        fail_mode: {}\n", text(mode.as_str()));
        }
        if !br.datapath_type.is_empty() {
            out += &format!("        datapath_type: {}\n", text(&br.datapath_type));
        }
        for port in &br.ports {
            out += &format!("        Port {}\n", text(&port.name));
            if let Some(tag) = port.tag {
                out += &format!("            tag: {tag}\n");
            }
            if !port.trunks.is_empty() {
                let d = Datum::set(port.trunks.iter().map(|&t| Atom::Integer(t.into())));
                out += &format!("            trunks: {}\n", d.to_text(&TRUNKS));
            }
            let iface = &port.interface;
            out += &format!("            Interface {}\n", text(&iface.name));
            if !iface.kind.as_str().is_empty() {
                out += &format!("                type: {}\n", text(iface.kind.as_str()));
            }
            if !iface.options.is_empty() {
                let d = Datum::string_map(&iface.options);
                out += &format!("                options: {}\n", d.to_text(&MAP));
            }
            if let Some(err) = &iface.error {
                out += &format!("                error: {}\n", text(err));
            }
        }
    }
    out += &format!("    ovs_version: {}\n", text(super::RSWITCH_VERSION));
    out
}
