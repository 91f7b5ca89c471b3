//! The configuration file: the database and every permanent flow, written
//! atomically (temp file, fsync, rename) so a crash or a full disk never
//! leaves a half-written file, and read strictly at start-up.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use ofproto::syntax::dump::{format_installed, LineStyle};
use ofproto::table::FlowTables;
use serde::{Deserialize, Serialize};

use crate::vsctl::db::Db;

#[derive(Serialize, Deserialize)]
pub struct ConfigFile {
    pub format: String,
    pub db: Db,
    /// Bridge name -> flows in add-flows syntax.
    #[serde(default)]
    pub flows: BTreeMap<String, Vec<String>>,
}

pub const FORMAT: &str = "rswitch-conf-1";

/// Flows without timeouts, as add-flows lines (learned and expiring flows
/// are not configuration).
pub fn permanent_flows(t: &FlowTables) -> Vec<String> {
    t.flows()
        .into_iter()
        .filter(|f| f.flow.idle_timeout == 0 && f.flow.hard_timeout == 0)
        .map(|f| {
            // Counters and ages are not configuration; the text is what
            // add-flows reads back.
            format_installed(t, &f, 0, LineStyle::default())
        })
        .collect()
}

pub fn save(path: &Path, db: &Db, flows: &BTreeMap<String, Vec<String>>) -> Result<(), String> {
    let file = ConfigFile {
        format: FORMAT.into(),
        db: db.clone(),
        flows: flows.clone(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: {e}", path.display()));
    }
    Ok(())
}

/// Reads the file; a missing file is an empty configuration, anything
/// unreadable is an error naming the file and the problem.
pub fn load(path: &Path) -> Result<(Db, BTreeMap<String, Vec<String>>), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Db::new(), BTreeMap::new()))
        }
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let f: ConfigFile = serde_json::from_str(&text)
        .map_err(|e| format!("{}: corrupt configuration: {e}", path.display()))?;
    if f.format != FORMAT {
        return Err(format!(
            "{}: unknown format {:?} (expected {FORMAT})",
            path.display(),
            f.format
        ));
    }
    Ok((f.db, f.flows))
}
