//! `rswitch-ofctl`: ovs-ofctl's command layer as a pure function of the
//! switch state, so the daemon can run it under its lock and tests can run it
//! without one.
//!
//! [`execute`] takes the command line exactly as the user typed it (after
//! the program name) and returns what `ovs-ofctl` 3.1 would print for the same
//! state, byte for byte where rswitch has the same information (see
//! `tests/ovs/README.md` and `cli/tests/data/ofctl_golden.txt` for the
//! recorded truth), plus the side effects the daemon must carry out itself
//! (port admin state, cache invalidation).
//!
//! # Files
//!
//! The daemon cannot read the client's files, so the client reads them and
//! passes their content: with [`execute`], `stdin` is the content of the
//! command's file operand (`add-flows BR FILE`, `replace-flows BR FILE`,
//! `parse-flows FILE`, the `-` of `add-flow`/`mod-flows`/`del-flows BR -`, or
//! the one file side of `diff-flows`), whatever its name; the operand itself
//! stays in `argv` so messages name it as ovs-ofctl does (`flows.txt:7: ...`,
//! `-:7: ...`). [`execute_with_files`] takes several named files (`diff-flows
//! a.txt b.txt`). [`file_operands`] tells the client which operands to read.
//! A file operand whose content is missing is reported as ovs-ofctl reports a
//! file it cannot open.
//!
//! # Commands
//!
//! `show`, `dump-ports-desc`, `mod-port`, `dump-ports`, `dump-tables`,
//! `dump-flows`, `dump-aggregate`, `add-flow`, `add-flows`, `mod-flows`,
//! `del-flows`, `replace-flows`, `diff-flows`, `parse-flow`, `parse-flows`,
//! and rswitch's `trace BR FLOW [-generate]` (also spelled `ofproto/trace`).
//! Global options: `--names`/`--no-names` (default: numbers, as ovs-ofctl
//! when stdout is not a terminal; the client passes one explicitly), `--stats`
//! `--no-stats`, `--sort[=F]`, `--rsort[=F]`, `--strict`, `--readd`,
//! `-O`/`--protocols`, `-t`/`--timeout` (ignored: the client's business), and
//! rswitch's `--format=text|json` and `--generate` for `trace`.

mod flows;
pub mod offline;
mod options;
mod parse;
mod ports;
mod tables;
mod trace;

use datapath::engine::PortCounters;
use ofproto::pipeline::Switch;
use ofproto::syntax::flow::FlowMod;
use ofproto::syntax::PortMap;
use ofproto::Millis;

use options::{Options, Version};

/// The program name in messages (ovs-ofctl's are `ovs-ofctl: ...`).
pub const PROGRAM: &str = "rswitch-ofctl";

/// What a command printed and what the daemon must do about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfctlOutput {
    pub stdout: String,
    pub stderr: String,
    /// 0 success, 1 error (nothing was changed), 2 `diff-flows` differences.
    pub exit: i32,
    /// Admin state changes `mod-port up|down` asked for. The command already
    /// updated the bridge's [`PortInfo`](ofproto::port::PortInfo) (`up`), so
    /// forwarding follows at once; bringing the device itself up or down is
    /// the daemon's job.
    pub port_changes: Vec<PortChange>,
    /// Flow tables or port configuration changed: cached forwarding decisions
    /// may be stale.
    pub changed: bool,
}

/// A requested admin state change of one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortChange {
    /// Index of the bridge in [`Switch::bridges`].
    pub bridge: usize,
    pub ofport: u32,
    pub admin_up: bool,
}

/// What the daemon knows about a port's device, for `show` and `dump-ports`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortStatus {
    /// The device's MAC. `None`: a stable made-up one (from the bridge and
    /// port names) is shown.
    pub mac: Option<[u8; 6]>,
    /// Administratively up (`config: PORT_DOWN` when not).
    pub admin_up: bool,
    /// Carrier (`state: LINK_DOWN` when not).
    pub link_up: bool,
    /// The device name `show` prints, when it differs from the port name
    /// (ovs-ofctl prints the netdev's name).
    pub ifname: Option<String>,
    /// Current speed in Mb/s when known (ethtool); shown as `current:` and
    /// `speed:`. rswitch usually does not know it: `speed: 0 Mbps now`.
    pub speed_mbps: Option<u32>,
    /// The medium is copper (ethtool `PORT_TP`): `current: 10GB-FD COPPER`.
    pub copper: bool,
    /// When the port was added, for OpenFlow 1.3+ `dump-ports` `duration=`.
    pub created: Option<Millis>,
}

impl Default for PortStatus {
    /// An up port of which nothing else is known.
    fn default() -> Self {
        PortStatus {
            mac: None,
            admin_up: true,
            link_up: true,
            ifname: None,
            speed_mbps: None,
            copper: false,
            created: None,
        }
    }
}

/// A flow table's lookup counters (`dump-tables`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCounters {
    pub lookup: u64,
    pub matched: u64,
}

/// What the daemon provides besides the [`Switch`] itself.
pub trait SwitchView {
    fn port_counters(&self, bridge: usize, ofport: u32) -> PortCounters;
    fn port_status(&self, bridge: usize, ofport: u32) -> PortStatus;
    /// Exact table counters, if the daemon keeps them. Without them
    /// `dump-tables` derives them from the flows' packet counts and the
    /// bridge's received packets (see [`tables`]).
    fn table_counters(&self, _bridge: usize, _table: u8) -> Option<TableCounters> {
        None
    }
}

/// How the client should treat an operand that names a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileOperand {
    /// Must be read and passed (`-` means the client's stdin).
    Always(String),
    /// A `diff-flows` source: a file when it starts with `/` or `.`, or
    /// (without a `:`) names an existing file; otherwise a bridge (ovs-ofctl's
    /// `read_flows_from_source`).
    IfExists(String),
}

/// The operands of `argv` the client should read for the daemon.
pub fn file_operands(argv: &[String]) -> Vec<FileOperand> {
    let Ok((_, rest)) = options::parse(argv) else {
        return Vec::new();
    };
    let Some((cmd, args)) = rest.split_first() else {
        return Vec::new();
    };
    let arg = |i: usize| args.get(i).cloned();
    match cmd.as_str() {
        "add-flows" | "replace-flows" => arg(1).map(FileOperand::Always).into_iter().collect(),
        "parse-flows" => arg(0).map(FileOperand::Always).into_iter().collect(),
        "add-flow" | "mod-flows" | "del-flows" if args.get(1).is_some_and(|a| a == "-") => {
            vec![FileOperand::Always("-".into())]
        }
        "diff-flows" => args
            .iter()
            .take(2)
            .cloned()
            .map(FileOperand::IfExists)
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs one rswitch-ofctl command line against `sw`; `stdin` is the content
/// of the command's file operand (see the module documentation).
pub fn execute(
    sw: &mut Switch,
    view: &dyn SwitchView,
    argv: &[String],
    stdin: Option<&str>,
    now: Millis,
) -> OfctlOutput {
    run(sw, view, argv, Input::Stdin(stdin), now)
}

/// [`execute`] with the content of each named file operand, as (operand as
/// typed, content) pairs. An operand of `diff-flows` that is listed is a
/// file, one that is not is a bridge.
pub fn execute_with_files(
    sw: &mut Switch,
    view: &dyn SwitchView,
    argv: &[String],
    files: &[(&str, &str)],
    now: Millis,
) -> OfctlOutput {
    run(sw, view, argv, Input::Files(files), now)
}

/// Where file operands come from.
#[derive(Clone, Copy)]
enum Input<'a> {
    Stdin(Option<&'a str>),
    Files(&'a [(&'a str, &'a str)]),
}

/// A failed command: the message (without the program name) or, for errors
/// the switch reports, OVS's raw `OFPT_ERROR` text.
#[derive(Debug)]
enum Fail {
    Msg(String),
    Raw(String),
}

fn fail<T>(msg: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Msg(msg.into()))
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Msg(s)
    }
}

/// Everything a command needs.
struct Ctx<'a> {
    sw: &'a mut Switch,
    view: &'a dyn SwitchView,
    opts: Options,
    input: Input<'a>,
    now: Millis,
    out: OfctlOutput,
}

impl Ctx<'_> {
    fn bridge(&self, name: &str) -> Result<usize, Fail> {
        self.sw
            .bridge_index(name)
            .ok_or_else(|| Fail::Msg(format!("{name} is not a bridge or a socket")))
    }

    fn warn(&mut self, msg: &str) {
        self.out.stderr += &format!("{PROGRAM}: warning: {msg}\n");
    }

    fn warn_flow(&mut self, fm: &FlowMod) {
        for w in &fm.warnings {
            self.warn(w);
        }
    }

    fn print(&mut self, s: &str) {
        self.out.stdout += s;
    }

    /// Port names accepted in flows: all of the bridge's (its own name is
    /// LOCAL), unless `--no-names`.
    fn accept_ports(&self, b: usize) -> Option<PortMap> {
        (self.opts.names != Some(false)).then(|| self.sw.bridges[b].port_map())
    }

    /// Port names printed with `--names`. Reserved ports keep their OpenFlow
    /// names (`LOCAL`, not the bridge's name), as ovs-ofctl prints them.
    fn show_ports(&self, b: usize) -> Option<PortMap> {
        (self.opts.names == Some(true)).then(|| display_port_map(&self.sw.bridges[b]))
    }

    /// The content of file operand `name`: `None` when the client did not
    /// pass it.
    fn file(&self, name: &str) -> Result<String, Fail> {
        let content = match self.input {
            Input::Stdin(s) => s,
            Input::Files(files) => files.iter().find(|(n, _)| *n == name).map(|(_, c)| *c),
        };
        // The client passes what it could read: a missing file is most
        // likely one that does not exist, so say what ovs-ofctl says.
        content
            .map(str::to_string)
            .ok_or_else(|| Fail::Msg(format!("{name}: open failed (No such file or directory)")))
    }

    fn version(&self) -> Version {
        self.opts.negotiated()
    }
}

/// The bridge's port names for printing (no reserved ports).
fn display_port_map(b: &ofproto::pipeline::Bridge) -> PortMap {
    let mut m = PortMap::new();
    for p in b
        .ports()
        .iter()
        .filter(|p| p.ofport < ofproto::port::OFPP_MAX)
    {
        m.insert(p.name.clone(), p.ofport);
    }
    m
}

type Handler = fn(&mut Ctx, &[String]) -> Result<i32, Fail>;

/// (name, min args, max args, handler), as ovs-ofctl's command table.
const COMMANDS: &[(&str, usize, usize, Handler)] = &[
    ("show", 1, 1, ports::show),
    ("dump-ports-desc", 1, 2, ports::dump_ports_desc),
    ("mod-port", 3, 3, ports::mod_port),
    ("dump-ports", 1, 2, ports::dump_ports),
    ("dump-tables", 1, 1, tables::dump_tables),
    ("dump-flows", 1, 2, flows::dump_flows),
    ("dump-aggregate", 1, 2, flows::dump_aggregate),
    ("add-flow", 2, 2, flows::add_flow),
    ("add-flows", 2, 2, flows::add_flows),
    ("mod-flows", 2, 2, flows::mod_flows),
    ("del-flows", 1, 2, flows::del_flows),
    ("replace-flows", 2, 2, flows::replace_flows),
    ("diff-flows", 2, 2, flows::diff_flows),
    ("parse-flow", 1, 1, parse::parse_flow),
    ("parse-flows", 1, 1, parse::parse_flows),
    ("trace", 2, 3, trace::trace),
    ("ofproto/trace", 2, 3, trace::trace),
];

pub const USAGE: &str = "\
rswitch-ofctl: OpenFlow switch management utility (ovs-ofctl syntax)
usage: rswitch-ofctl [OPTIONS] COMMAND [ARG...]

Commands:
  show SWITCH                 show OpenFlow information
  dump-ports-desc SWITCH      print port descriptions
  dump-tables SWITCH          print table stats
  mod-port SWITCH IFACE ACT   modify port behavior (up, down, flood, no-flood)
  dump-ports SWITCH [PORT]    print port statistics
  dump-flows SWITCH [FLOW]    print (matching) flow entries
  dump-aggregate SWITCH [FLOW]  print aggregate flow statistics
  add-flow SWITCH FLOW        add flow described by FLOW
  add-flows SWITCH FILE       add flows from FILE (all or nothing)
  mod-flows SWITCH FLOW       modify actions of matching FLOWs
  del-flows SWITCH [FLOW]     delete matching FLOWs
  replace-flows SWITCH FILE   replace flows with those in FILE
  diff-flows SOURCE1 SOURCE2  compare flows from two sources
  parse-flow FLOW             print FLOW as ovs-ofctl would send it
  parse-flows FILE            the same for each flow of FILE
  trace SWITCH FLOW [-generate]  trace a packet through the tables
  trace SWITCH --pcap FILE [--in-port N]  trace each packet of a capture

Options:
  --strict  --readd  --names  --no-names  --stats  --no-stats
  --sort[=FIELD]  --rsort[=FIELD]  -O, --protocols=VERSION[,VERSION]...
  --format=text|json (trace)  --generate (trace)  -h, --help  -V, --version
  --format=dot|svg|png [-o FILE] (dump-flows: a picture of the pipeline)
";

fn run(
    sw: &mut Switch,
    view: &dyn SwitchView,
    argv: &[String],
    input: Input,
    now: Millis,
) -> OfctlOutput {
    let (opts, rest) = match options::parse(argv) {
        Ok(x) => x,
        Err(e) => return failed(OfctlOutput::default(), Fail::Msg(e)),
    };
    if opts.help {
        return OfctlOutput {
            stdout: USAGE.into(),
            ..OfctlOutput::default()
        };
    }
    if opts.version {
        return OfctlOutput {
            stdout: format!(
                "{PROGRAM} (rswitch) {}\nOpenFlow versions 0x1:0x6\n",
                env!("CARGO_PKG_VERSION")
            ),
            ..OfctlOutput::default()
        };
    }
    let Some((cmd, args)) = rest.split_first() else {
        return failed(
            OfctlOutput::default(),
            Fail::Msg("missing command name; use --help for help".into()),
        );
    };
    let Some(&(name, min, max, handler)) = COMMANDS.iter().find(|(n, ..)| n == cmd) else {
        return failed(
            OfctlOutput::default(),
            Fail::Msg(format!("unknown command '{cmd}'; use --help for help")),
        );
    };
    if args.len() < min {
        return failed(
            OfctlOutput::default(),
            Fail::Msg(format!(
                "'{name}' command requires at least {min} arguments"
            )),
        );
    }
    if args.len() > max {
        return failed(
            OfctlOutput::default(),
            Fail::Msg(format!("'{name}' command takes at most {max} arguments")),
        );
    }
    let mut ctx = Ctx {
        sw,
        view,
        opts,
        input,
        now,
        out: OfctlOutput::default(),
    };
    match handler(&mut ctx, args) {
        Ok(exit) => {
            ctx.out.exit = exit;
            ctx.out
        }
        Err(f) => failed(ctx.out, f),
    }
}

/// Adds the error to `out` and marks it failed. Commands only change state
/// once nothing can fail any more, so a failure never leaves changes behind.
fn failed(mut out: OfctlOutput, f: Fail) -> OfctlOutput {
    match f {
        Fail::Msg(m) => out.stderr += &format!("{PROGRAM}: {m}\n"),
        Fail::Raw(r) => out.stderr += &r,
    }
    out.exit = 1;
    out.port_changes.clear();
    out.changed = false;
    out
}
