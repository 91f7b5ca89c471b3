//! The `ovs-vsctl` language over rswitch's in-memory configuration database.
//!
//! `rswitch` accepts ovs-vsctl's command lines and prints its messages and
//! output, so lab scripts work after renaming the command.  This module is
//! pure: [`execute`] maps a database and a command line to a new database
//! and the text to print (or an error with OVS's exit code).  The daemon
//! runs it under its lock, then reconciles devices from [`db_diff`].
//!
//! Compatibility is checked against a transcript of real Open vSwitch 3.1
//! (`cli/tests/data/vsctl_golden.txt`, recorded by
//! `tests/ovs/gen-vsctl-golden.sh`, replayed by `cli/tests/vsctl_golden.rs`).
//!
//! Differences from Open vSwitch 3.1, all deliberate:
//! * Error messages start with `rswitch:` instead of `ovs-vsctl:`.
//! * Tables: `Open_vSwitch`, `Bridge`, `Port`, `Interface`.  Other OVS
//!   tables (`Controller`, `Mirror`, `QoS`, ...) exist but are always empty.
//! * Columns: `Open_vSwitch`: `bridges`, `external_ids`, `other_config`,
//!   `ovs_version` (rswitch's version, read-only); `Bridge`: `name`,
//!   `datapath_type`, `fail_mode`, `protocols`, `external_ids`,
//!   `other_config`, `ports`, `datapath_id` (status); `Port`: `name`, `tag`,
//!   `trunks`, `vlan_mode`, `external_ids`, `other_config`, `interfaces`;
//!   `Interface`: `name`, `type`, `options`, `external_ids`, `other_config`,
//!   `ofport`, `ofport_request`, and the status columns `mac_in_use`,
//!   `admin_state`, `link_state`, `error`.  Other OVS columns are matched
//!   by name as OVS does and then refused ("not supported by rswitch");
//!   `list` prints only rswitch's columns.  Status and reference columns
//!   (`ports`, `interfaces`, `bridges`) cannot be written directly.
//! * Each port has exactly one interface, named like the port; fake (VLAN)
//!   bridges, bonds, `create`/`destroy`/`--id`, `wait-until`,
//!   controllers, managers, SSL and `emer-reset` are refused with a message
//!   (`get-controller`/`del-controller`/`get-manager`/`del-manager`/
//!   `get-ssl`/`del-ssl` work: there is never anything to show or delete).
//! * Interface types: `""`, `system`, `internal`, `tap`, `patch`, `vxlan`,
//!   `gre`; `vlan_mode` `dot1q-tunnel` is refused.
//! * Rows print sorted by name (`list`, `find`, `show`); OVS prints them in
//!   UUID order, which is random.
//! * OpenFlow port numbers follow ovs-vswitchd's allocator (round robin
//!   from 1, requests honoured); after wrapping at 32767 any free number is
//!   reused (OVS prefers numbers unused for an hour), and several ports
//!   created in one invocation are numbered in command order (OVS: hash
//!   order).  Interface names are not checked against kernel limits here:
//!   the daemon reports device errors in the `error` column.

mod command;
pub mod db;
mod format;
mod schema;
mod show;
mod value;

pub use command::Invocation;
pub use db::{
    db_diff, Bridge, BridgeField, Change, Db, FailMode, Interface, InterfaceType, LinkState, Port,
    PortField, VlanMode, OFPP_LOCAL,
};

/// rswitch's version, printed where OVS prints `ovs_version`.
pub const RSWITCH_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A failed invocation: the message ovs-vsctl would print (without the
/// program prefix) and its exit code (1 for errors; 2 for `br-exists` on a
/// missing bridge, which prints nothing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rswitch: {message}")]
pub struct VsctlError {
    pub message: String,
    pub exit_code: i32,
}

impl VsctlError {
    /// What to write to stderr: `rswitch: MESSAGE` and a newline, or nothing.
    pub fn stderr(&self) -> String {
        if self.message.is_empty() {
            String::new()
        } else {
            format!("rswitch: {}\n", self.message)
        }
    }
}

/// Runs one `rswitch` command line (`argv` without the program name)
/// against `db`.
///
/// All commands of the invocation apply or none does: on success the new
/// database (with OpenFlow port numbers assigned) and the text for stdout;
/// on failure the error, and `db` stays as it was.  `--help`, `--version`
/// and read-only commands return `db` unchanged.
pub fn execute(db: &Db, argv: &[String]) -> Result<(Db, String), VsctlError> {
    Invocation::parse(argv)?.run(db)
}
