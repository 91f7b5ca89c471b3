//! The ovs-vsctl command line and the commands themselves: global options
//! (getopt_long rules, including unique-prefix abbreviations), commands
//! separated by `--` with their own leading options, OVS's "pre" pass that
//! resolves tables and columns before anything runs, each command's
//! semantics over a working copy of the [`Db`], and the final output.
//!
//! Messages and their order follow `vsctl.c` and `db-ctl-base.c` of Open
//! vSwitch 3.1; `cli/tests/data/vsctl_golden.txt` is the evidence.

use super::db::{Db, FailMode};
use super::format::{self, escape_arg, Cell, Style};
use super::schema::{self, Access, Column, Row, Table};
use super::show;
use super::value::{
    atom_from_string, datum_from_string, token_parse, Atom, AtomType, BaseType, ColumnType, Datum,
    Json, UNLIMITED,
};
use super::VsctlError;
use std::cmp::Ordering;

const MAX: usize = usize::MAX;

/// One command of the ovs-vsctl language.
#[derive(Debug)]
struct Syntax {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    /// OVS's option string, e.g. `"--if-exists,--columns="`.
    options: &'static str,
    read_write: bool,
    /// `false` for OVS commands rswitch refuses (controllers, bonds, ...).
    supported: bool,
}

const fn cmd(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    options: &'static str,
    read_write: bool,
    supported: bool,
) -> Syntax {
    Syntax {
        name,
        min_args,
        max_args,
        options,
        read_write,
        supported,
    }
}

/// Every ovs-vsctl 3.1 command, in OVS's order.
static COMMANDS: &[Syntax] = &[
    cmd("init", 0, 0, "", true, true),
    cmd("show", 0, 0, "", false, true),
    cmd("add-br", 1, 3, "--may-exist", true, true),
    cmd("del-br", 1, 1, "--if-exists", true, true),
    cmd("list-br", 0, 0, "--real,--fake", false, true),
    cmd("br-exists", 1, 1, "", false, true),
    cmd("br-to-vlan", 1, 1, "", false, true),
    cmd("br-to-parent", 1, 1, "", false, true),
    cmd("br-set-external-id", 2, 3, "", true, true),
    cmd("br-get-external-id", 1, 2, "", false, true),
    cmd("list-ports", 1, 1, "", false, true),
    cmd("add-port", 2, MAX, "--may-exist", true, true),
    cmd("add-bond", 4, MAX, "--may-exist,--fake-iface", true, false),
    cmd("add-bond-iface", 2, 2, "--may-exist", true, false),
    cmd("del-bond-iface", 1, 2, "--if-exists", true, false),
    cmd("del-port", 1, 2, "--if-exists,--with-iface", true, true),
    cmd("port-to-br", 1, 1, "", false, true),
    cmd("list-ifaces", 1, 1, "", false, true),
    cmd("iface-to-br", 1, 1, "", false, true),
    cmd("get-controller", 1, 1, "", false, true),
    cmd("del-controller", 1, 1, "", true, true),
    cmd("set-controller", 1, MAX, "--inactivity-probe=", true, false),
    cmd("get-fail-mode", 1, 1, "", false, true),
    cmd("del-fail-mode", 1, 1, "", true, true),
    cmd("set-fail-mode", 2, 2, "", true, true),
    cmd("get-manager", 0, 0, "", false, true),
    cmd("del-manager", 0, 0, "", true, true),
    cmd("set-manager", 1, MAX, "--inactivity-probe=", true, false),
    cmd("get-ssl", 0, 0, "", false, true),
    cmd("del-ssl", 0, 0, "", true, true),
    cmd("set-ssl", 3, 3, "--bootstrap", true, false),
    cmd("add-aa-mapping", 3, 3, "", true, false),
    cmd("del-aa-mapping", 3, 3, "", true, false),
    cmd("get-aa-mapping", 1, 1, "", false, false),
    cmd("emer-reset", 0, 0, "", true, false),
    cmd("add-zone-tp", 2, MAX, "--may-exist", true, false),
    cmd("del-zone-tp", 2, 2, "--if-exists", true, false),
    cmd("list-zone-tp", 1, 1, "", false, false),
    cmd("list-dp-cap", 1, 1, "", false, false),
    cmd("comment", 0, MAX, "", false, true),
    cmd("get", 2, MAX, "--if-exists,--id=", false, true),
    cmd("list", 1, MAX, "--if-exists,--columns=", false, true),
    cmd("find", 1, MAX, "--columns=", false, true),
    cmd("set", 3, MAX, "--if-exists", true, true),
    cmd("add", 4, MAX, "--if-exists", true, true),
    cmd("remove", 4, MAX, "--if-exists", true, true),
    cmd("clear", 3, MAX, "--if-exists", true, true),
    cmd("create", 2, MAX, "--id=", true, false),
    cmd("destroy", 1, MAX, "--if-exists,--all", true, false),
    cmd("wait-until", 2, MAX, "", false, false),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HasArg {
    No,
    Required,
    Optional,
}

/// A global long option; `local` ones are command options given before the
/// first command (ovs-vsctl registers them with getopt too).
#[derive(Clone, Copy, Debug)]
struct LongOpt {
    name: &'static str,
    has_arg: HasArg,
    short: Option<char>,
    local: bool,
}

const fn opt(name: &'static str, has_arg: HasArg, short: Option<char>) -> LongOpt {
    LongOpt {
        name,
        has_arg,
        short,
        local: false,
    }
}

/// ovs-vsctl 3.1's global options (connection, logging, SSL and table
/// options are accepted and ignored: rswitch talks to its daemon through
/// `--rundir`), plus rswitch's `--rundir`.
const GLOBAL_OPTIONS: &[LongOpt] = &[
    opt("db", HasArg::Required, None),
    opt("no-syslog", HasArg::No, None),
    opt("no-wait", HasArg::No, None),
    opt("dry-run", HasArg::No, None),
    opt("oneline", HasArg::No, None),
    opt("timeout", HasArg::Required, Some('t')),
    opt("retry", HasArg::No, None),
    opt("help", HasArg::No, Some('h')),
    opt("commands", HasArg::No, None),
    opt("options", HasArg::No, None),
    opt("leader-only", HasArg::No, None),
    opt("no-leader-only", HasArg::No, None),
    opt("version", HasArg::No, Some('V')),
    opt("shuffle-remotes", HasArg::No, None),
    opt("no-shuffle-remotes", HasArg::No, None),
    opt("verbose", HasArg::Optional, Some('v')),
    opt("log-file", HasArg::Optional, None),
    opt("syslog-method", HasArg::Required, None),
    opt("syslog-target", HasArg::Required, None),
    opt("format", HasArg::Required, Some('f')),
    opt("data", HasArg::Required, Some('d')),
    opt("no-headings", HasArg::No, None),
    opt("pretty", HasArg::No, None),
    opt("bare", HasArg::No, None),
    opt("timestamp", HasArg::No, None),
    opt("max-column-width", HasArg::Required, None),
    opt("private-key", HasArg::Required, Some('p')),
    opt("certificate", HasArg::Required, Some('c')),
    opt("ca-cert", HasArg::Required, Some('C')),
    opt("bootstrap-ca-cert", HasArg::Required, None),
    opt("peer-ca-cert", HasArg::Required, None),
    opt("rundir", HasArg::Required, None),
];

/// Global options plus every command option (deduplicated).
fn all_long_options() -> Vec<LongOpt> {
    let mut v: Vec<LongOpt> = GLOBAL_OPTIONS.to_vec();
    for c in COMMANDS {
        for o in c.options.split(',').filter(|o| !o.is_empty()) {
            let (name, has_arg) = match o.strip_suffix('=') {
                Some(n) => (n, HasArg::Required),
                None => (o, HasArg::No),
            };
            let name = name.trim_start_matches('-');
            if !v.iter().any(|x| x.name == name) {
                v.push(LongOpt {
                    name,
                    has_arg,
                    short: None,
                    local: true,
                });
            }
        }
    }
    v
}

/// A parsed command.
#[derive(Clone, Debug)]
struct Command {
    syntax: &'static Syntax,
    /// Options as given (`--if-exists`, `--columns` with its value).
    options: Vec<(String, Option<String>)>,
    /// `args[0]` is the command name.
    args: Vec<String>,
}

impl Command {
    fn has(&self, option: &str) -> bool {
        self.options.iter().any(|(k, _)| k == option)
    }
    fn value(&self, option: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == option)
            .and_then(|(_, v)| v.as_deref())
    }
    /// The command as typed, for messages that quote it.
    fn to_text(&self) -> String {
        let words: Vec<String> = self
            .options
            .iter()
            .map(|(k, _)| k.clone())
            .chain(self.args.iter().cloned())
            .map(|a| escape_arg(&a))
            .collect();
        words.join(" ")
    }
}

#[derive(Clone, Debug)]
enum Action {
    Run(Vec<Command>),
    /// `--help`, `--version`, `--commands`, `--options`.
    Print(String),
}

/// A parsed `rswitch` (ovs-vsctl) command line.
#[derive(Clone, Debug)]
pub struct Invocation {
    rundir: Option<String>,
    dry_run: bool,
    oneline: bool,
    style: Style,
    action: Action,
}

fn error(message: impl Into<String>) -> VsctlError {
    VsctlError {
        message: message.into(),
        exit_code: 1,
    }
}

impl Invocation {
    /// Parses a command line (`argv` without the program name).
    pub fn parse(argv: &[String]) -> Result<Invocation, VsctlError> {
        let longs = all_long_options();
        let mut inv = Invocation {
            rundir: None,
            dry_run: false,
            oneline: false,
            style: Style::default(),
            action: Action::Run(Vec::new()),
        };
        let mut local: Vec<(String, Option<String>)> = Vec::new();
        let mut i = 0;
        // getopt_long in "+" mode: options stop at the first non-option; a
        // "--" there is consumed.
        while i < argv.len() {
            let arg = &argv[i];
            let parsed: Vec<(LongOpt, Option<String>)> = if arg == "--" {
                i += 1;
                break;
            } else if let Some(body) = arg.strip_prefix("--") {
                let (name, inline) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (body, None),
                };
                let o = lookup_long(&longs, name, arg)?;
                let value = match (o.has_arg, inline) {
                    (HasArg::No, Some(_)) => {
                        return Err(error(format!(
                            "option '--{}' doesn't allow an argument",
                            o.name
                        )))
                    }
                    (HasArg::Required, None) => {
                        i += 1;
                        match argv.get(i) {
                            Some(v) => Some(v.clone()),
                            None => {
                                return Err(error(format!(
                                    "option '--{}' requires an argument",
                                    o.name
                                )))
                            }
                        }
                    }
                    (_, v) => v,
                };
                vec![(o, value)]
            } else if arg.len() > 1 && arg.starts_with('-') {
                let mut out = Vec::new();
                let chars: Vec<char> = arg[1..].chars().collect();
                let mut k = 0;
                while k < chars.len() {
                    let c = chars[k];
                    let Some(o) = longs.iter().find(|o| o.short == Some(c)) else {
                        return Err(error(format!("invalid option -- '{c}'")));
                    };
                    let rest: String = chars[k + 1..].iter().collect();
                    match o.has_arg {
                        HasArg::No => {
                            out.push((*o, None));
                            k += 1;
                            continue;
                        }
                        HasArg::Optional => {
                            out.push((*o, (!rest.is_empty()).then_some(rest)));
                        }
                        HasArg::Required => {
                            let v = if !rest.is_empty() {
                                rest
                            } else {
                                i += 1;
                                match argv.get(i) {
                                    Some(v) => v.clone(),
                                    None => {
                                        return Err(error(format!(
                                            "option requires an argument -- '{c}'"
                                        )))
                                    }
                                }
                            };
                            out.push((*o, Some(v)));
                        }
                    }
                    break;
                }
                out
            } else {
                break;
            };
            for (o, value) in parsed {
                if let Some(text) = inv.apply_global(o, value, &mut local)? {
                    inv.action = Action::Print(text);
                    return Ok(inv);
                }
            }
            i += 1;
        }
        inv.action = Action::Run(parse_commands(&argv[i..], local)?);
        Ok(inv)
    }

    /// Applies one global option; `Some(text)` for options that print
    /// something instead of running commands.
    fn apply_global(
        &mut self,
        o: LongOpt,
        value: Option<String>,
        local: &mut Vec<(String, Option<String>)>,
    ) -> Result<Option<String>, VsctlError> {
        if o.local {
            local.push((format!("--{}", o.name), value));
            return Ok(None);
        }
        let v = value.unwrap_or_default();
        match o.name {
            "dry-run" => self.dry_run = true,
            "oneline" => self.oneline = true,
            "timeout" if !is_valid_timeout(&v) => {
                return Err(error(format!("value {v} on -t or --timeout is invalid")));
            }
            "format" => self.style.parse_format(&v).map_err(error)?,
            "data" => self.style.parse_cells(&v).map_err(error)?,
            "no-headings" => self.style.headings = false,
            "pretty" => self.style.pretty = true,
            "bare" => {
                self.style.format = format::Format::List;
                self.style.cells = format::CellFormat::Bare;
                self.style.headings = false;
            }
            "rundir" => self.rundir = Some(v),
            "help" => return Ok(Some(usage())),
            "version" => {
                return Ok(Some(format!(
                    "rswitch (rswitch) {}\n(ovs-vsctl command language of Open vSwitch 3.1, DB Schema 8.3.1 subset)\n",
                    super::RSWITCH_VERSION
                )))
            }
            "commands" => {
                let mut s = String::new();
                for c in COMMANDS.iter().filter(|c| c.supported) {
                    s += &format!("{},{},{}\n", c.name, c.options, if c.read_write { "RW" } else { "RO" });
                }
                return Ok(Some(s));
            }
            "options" => {
                let mut s = String::new();
                for o in all_long_options() {
                    s += &format!("--{}{}\n", o.name, if o.has_arg == HasArg::No { "" } else { "=ARG" });
                    if let Some(c) = o.short {
                        s += &format!("-{c}\n");
                    }
                }
                return Ok(Some(s));
            }
            // Connection, logging, SSL, table extras: accepted, no effect.
            _ => {}
        }
        Ok(None)
    }

    /// The `--rundir` given, if any (where the binary finds the daemon).
    pub fn rundir(&self) -> Option<&str> {
        self.rundir.as_deref()
    }

    /// `true` when running this invocation cannot change the database
    /// (only read-only commands, `--dry-run`, or `--help`-like output).
    pub fn is_read_only(&self) -> bool {
        match &self.action {
            Action::Print(_) => true,
            Action::Run(cmds) => self.dry_run || cmds.iter().all(|c| !c.syntax.read_write),
        }
    }

    /// Runs the commands against `db`; see [`super::execute`].
    pub fn run(&self, db: &Db) -> Result<(Db, String), VsctlError> {
        let cmds = match &self.action {
            Action::Print(text) => return Ok((db.clone(), text.clone())),
            Action::Run(cmds) => cmds,
        };
        // OVS resolves every command's tables and columns before running any.
        for c in cmds {
            pre_check(c).map_err(error)?;
        }
        let mut ctx = Ctx {
            db: db.clone(),
            created: Vec::new(),
        };
        let mut outputs = Vec::with_capacity(cmds.len());
        for c in cmds {
            match ctx.run(c) {
                Ok(out) => outputs.push(out),
                Err(Fail::Error(m)) => return Err(error(m)),
                Err(Fail::Exit(code)) => {
                    return Err(VsctlError {
                        message: String::new(),
                        exit_code: code,
                    })
                }
            }
        }
        let new_db = if self.dry_run {
            db.clone()
        } else if cmds.iter().any(|c| c.syntax.read_write) {
            let mut new_db = ctx.db;
            new_db.assign_ofports(db, &ctx.created);
            new_db
        } else {
            db.clone()
        };
        let mut text = String::new();
        let mut printed = 0;
        for out in outputs {
            match out {
                Out::Table(t) => text += &format::format_table(&t, &self.style, &mut printed),
                Out::Text(s) if self.oneline => {
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    text += &s.replace('\\', "\\\\").replace('\n', "\\n");
                    text.push('\n');
                }
                Out::Text(s) => text += &s,
            }
        }
        Ok((new_db, text))
    }
}

/// getopt_long's lookup: exact name, else a unique prefix.
fn lookup_long(longs: &[LongOpt], name: &str, arg: &str) -> Result<LongOpt, VsctlError> {
    if let Some(o) = longs.iter().find(|o| o.name == name) {
        return Ok(*o);
    }
    let hits: Vec<&LongOpt> = longs.iter().filter(|o| o.name.starts_with(name)).collect();
    match hits.as_slice() {
        [one] => Ok(**one),
        [] => Err(error(format!("unrecognized option '{arg}'"))),
        many => {
            let list: Vec<String> = many.iter().map(|o| format!("'--{}'", o.name)).collect();
            Err(error(format!(
                "option '--{name}' is ambiguous; possibilities: {}",
                list.join(" ")
            )))
        }
    }
}

/// `ctl_parse_commands`: splits on `--`; the options gathered before the
/// first command belong to it.
fn parse_commands(
    args: &[String],
    mut local: Vec<(String, Option<String>)>,
) -> Result<Vec<Command>, VsctlError> {
    let mut commands = Vec::new();
    for group in args.split(|a| a == "--") {
        if group.is_empty() {
            if !local.is_empty() {
                return Err(error("missing command name (use --help for help)"));
            }
            continue;
        }
        commands.push(parse_command(group, std::mem::take(&mut local))?);
    }
    if commands.is_empty() {
        return Err(error("missing command name (use --help for help)"));
    }
    Ok(commands)
}

/// `parse_command`: leading `-` words are options, then the name and args.
fn parse_command(
    group: &[String],
    mut options: Vec<(String, Option<String>)>,
) -> Result<Command, VsctlError> {
    let mut i = 0;
    while i < group.len() && group[i].starts_with('-') {
        let word = &group[i];
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (word.clone(), None),
        };
        if options.iter().any(|(k, _)| *k == key) {
            return Err(error(format!("'{word}' option specified multiple times")));
        }
        options.push((key, value));
        i += 1;
    }
    let Some(name) = group.get(i) else {
        return Err(error("missing command name (use --help for help)"));
    };
    let Some(syntax) = COMMANDS.iter().find(|c| c.name == name) else {
        return Err(error(format!(
            "unknown command '{name}'; use --help for help"
        )));
    };
    for (key, value) in &options {
        // OVS looks the option up as a substring of the option string and
        // checks the character after it.
        let end = syntax
            .options
            .find(key.as_str())
            .map(|at| syntax.options[at + key.len()..].chars().next());
        let end = match end {
            Some(Some(c)) if "=,? ".contains(c) => Some(c),
            Some(None) => None,
            _ => return Err(error(format!("'{name}' command has no '{key}' option"))),
        };
        if end != Some('?') && (end == Some('=')) != value.is_some() {
            return Err(error(if end == Some('=') {
                format!("missing argument to '{key}' option on '{name}' command")
            } else {
                format!("'{key}' option on '{name}' does not accept an argument")
            }));
        }
    }
    let n_args = group.len() - i - 1;
    if n_args < syntax.min_args {
        return Err(error(format!(
            "'{name}' command requires at least {} arguments",
            syntax.min_args
        )));
    }
    if n_args > syntax.max_args {
        let note = if group[i + 1..].iter().any(|a| a.starts_with('-')) {
            " (note that options must precede command names and follow a \"--\" argument)"
        } else {
            ""
        };
        return Err(error(format!(
            "'{name}' command takes at most {} arguments{note}",
            syntax.max_args
        )));
    }
    if !syntax.supported {
        return Err(error(format!(
            "'{name}' command is not supported by rswitch"
        )));
    }
    Ok(Command {
        syntax,
        options,
        args: group[i..].to_vec(),
    })
}

/// OVS's pre-pass for the database commands: resolve the table and the
/// columns named in arguments, so such mistakes are reported before any
/// command runs.
fn pre_check(c: &Command) -> Result<(), String> {
    let a = &c.args;
    match c.syntax.name {
        "get" => {
            let t = Table::lookup(&a[1])?;
            for arg in &a[3..] {
                if !is_uuid_column(arg) {
                    pre_column_key_value(t, arg)?;
                }
            }
        }
        "list" => {
            let t = Table::lookup(&a[1])?;
            list_columns(t, c.value("--columns"))?;
        }
        "find" => {
            let t = Table::lookup(&a[1])?;
            list_columns(t, c.value("--columns"))?;
            for arg in &a[2..] {
                pre_column_key_value(t, arg)?;
            }
        }
        "set" => {
            let t = Table::lookup(&a[1])?;
            for arg in &a[3..] {
                pre_column_key_value(t, arg)?;
            }
        }
        "add" | "remove" => {
            let t = Table::lookup(&a[1])?;
            t.column(&a[3])?;
        }
        "clear" => {
            let t = Table::lookup(&a[1])?;
            for arg in &a[3..] {
                t.column(arg)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn pre_column_key_value(t: Table, arg: &str) -> Result<(), String> {
    let (name, _) = token_parse(arg)?;
    if name.is_empty() {
        return Err(format!("{arg}: missing column name"));
    }
    t.column(&name).map(|_| ())
}

fn is_uuid_column(arg: &str) -> bool {
    arg.eq_ignore_ascii_case("_uuid") || arg.eq_ignore_ascii_case("-uuid")
}

/// A column of `list`/`find` output.
#[derive(Clone, Copy, Debug)]
enum ListColumn {
    Uuid,
    Column(&'static Column),
    /// A column of a table rswitch does not implement (never has rows).
    Unknown,
}

/// `parse_column_names`.
fn list_columns(t: Table, spec: Option<&str>) -> Result<Vec<(String, ListColumn)>, String> {
    let Some(spec) = spec else {
        let mut v = vec![("_uuid".to_string(), ListColumn::Uuid)];
        v.extend(
            t.columns()
                .iter()
                .map(|c| (c.name.to_string(), ListColumn::Column(c))),
        );
        return Ok(v);
    };
    let mut v = Vec::new();
    for name in spec.split([',', ' ']).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("_uuid") {
            v.push(("_uuid".to_string(), ListColumn::Uuid));
        } else {
            match t.column(name)? {
                Some(c) => v.push((c.name.to_string(), ListColumn::Column(c))),
                None => v.push((name.to_string(), ListColumn::Unknown)),
            }
        }
    }
    if v.is_empty() {
        return Err("must specify at least one column name".into());
    }
    Ok(v)
}

/// Why a command stopped.
enum Fail {
    Error(String),
    /// Exit at once with this code and no message (`br-exists`).
    Exit(i32),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Error(s)
    }
}

type CmdResult<T = Out> = Result<T, Fail>;

/// A command's output.
enum Out {
    Text(String),
    Table(format::Table),
}

/// The find/condition operators, in OVS's order.
const RELOPS: &[&str] = &[
    "=", "!=", "<", ">", "<=", ">=", "{=}", "{!=}", "{<}", "{>}", "{<=}", "{>=}", "{in}",
    "{not-in}",
];

/// A parsed `COLUMN[:KEY][OP VALUE]` argument.
struct ColumnArg {
    column: Option<&'static Column>,
    key: Option<String>,
    op: usize,
    value: Option<String>,
}

/// `parse_column_key_value`.  With `ops`, an operator and a non-empty value
/// must follow; without, nothing may.
fn parse_column_key_value(t: Table, arg: &str, ops: Option<&[&str]>) -> Result<ColumnArg, String> {
    let (name, mut p) = token_parse(arg)?;
    if name.is_empty() {
        return Err(format!("{arg}: missing column name"));
    }
    let column = t.column(&name)?;
    let mut key = None;
    if let Some(rest) = p.strip_prefix(':') {
        let (k, rest) = token_parse(rest)?;
        key = Some(k);
        p = rest;
    }
    let mut out = ColumnArg {
        column,
        key,
        op: 0,
        value: None,
    };
    match ops {
        Some(ops) => {
            let best = ops
                .iter()
                .enumerate()
                .filter(|(_, op)| p.starts_with(*op) && p.len() > op.len())
                .max_by_key(|(_, op)| op.len());
            match best {
                Some((i, op)) => {
                    out.op = i;
                    out.value = Some(p[op.len()..].to_string());
                }
                None => return Err(missing_operator(arg, ops)),
            }
        }
        None => {
            if !p.is_empty() {
                return Err(format!("{arg}: trailing garbage \"{p}\" in argument"));
            }
        }
    }
    Ok(out)
}

fn missing_operator(arg: &str, ops: &[&str]) -> String {
    let quoted: Vec<String> = ops.iter().map(|o| format!("\"{o}\"")).collect();
    let list = match quoted.len() {
        1 => quoted[0].clone(),
        2 => format!("{} or {}", quoted[0], quoted[1]),
        n => format!("{}, or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    };
    format!("{arg}: argument does not end in {list} followed by a value.")
}

/// An OVSDB server-side error, as ovs-vsctl reports a failed commit.
fn transaction_error(members: Vec<(&str, String)>) -> String {
    let json = Json::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), Json::Str(v)))
            .collect(),
    );
    format!("transaction error: {}", json.to_string_compact())
}

/// The working state of one invocation.
struct Ctx {
    db: Db,
    /// Interfaces created, in order (for port numbering).
    created: Vec<String>,
}

impl Ctx {
    fn run(&mut self, c: &Command) -> CmdResult {
        let a = &c.args;
        let text = |s: String| Ok(Out::Text(s));
        match c.syntax.name {
            "init" | "comment" | "del-manager" | "del-ssl" | "get-manager" | "get-ssl" => {
                text(String::new())
            }
            "show" => text(show::show(&self.db)),
            "add-br" => self.add_br(c).map(Out::Text),
            "del-br" => {
                if let Some(b) = self.find_bridge(&a[1], !c.has("--if-exists"))? {
                    self.db.bridges.remove(b);
                }
                text(String::new())
            }
            "list-br" => {
                let mut names: Vec<&str> = if c.has("--fake") {
                    Vec::new()
                } else {
                    self.db.bridges.iter().map(|b| b.name.as_str()).collect()
                };
                names.sort_unstable_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
                text(lines(names))
            }
            "br-exists" => match self.find_bridge(&a[1], false)? {
                Some(_) => text(String::new()),
                None => Err(Fail::Exit(2)),
            },
            "br-to-vlan" => {
                self.find_bridge(&a[1], true)?;
                text("0\n".into())
            }
            "br-to-parent" => {
                let b = self.bridge_must(&a[1])?;
                text(format!("{}\n", self.db.bridges[b].name))
            }
            "br-set-external-id" => {
                let b = self.bridge_must(&a[1])?;
                let ids = &mut self.db.bridges[b].external_ids;
                match a.get(3) {
                    Some(v) => {
                        ids.insert(a[2].clone(), v.clone());
                    }
                    None => {
                        ids.remove(&a[2]);
                    }
                }
                text(String::new())
            }
            "br-get-external-id" => {
                let b = self.bridge_must(&a[1])?;
                let ids = &self.db.bridges[b].external_ids;
                text(match a.get(2) {
                    Some(k) => ids.get(k).map(|v| format!("{v}\n")).unwrap_or_default(),
                    None => ids.iter().map(|(k, v)| format!("{k}={v}\n")).collect(),
                })
            }
            "list-ports" | "list-ifaces" => {
                let b = self.bridge_must(&a[1])?;
                let br = &self.db.bridges[b];
                let names = br
                    .ports
                    .iter()
                    .filter(|p| p.name != br.name)
                    .map(|p| p.name.as_str());
                text(lines(names.collect()))
            }
            "add-port" => self.add_port(c).map(Out::Text),
            "del-port" => self.del_port(c).map(Out::Text),
            "port-to-br" | "iface-to-br" => {
                let what = if c.syntax.name == "port-to-br" {
                    "port"
                } else {
                    "interface"
                };
                match self.find_port(&a[1]) {
                    Some((b, _)) => text(format!("{}\n", self.db.bridges[b].name)),
                    None => Err(Fail::Error(format!("no {what} named {}", a[1]))),
                }
            }
            "get-controller" | "del-controller" => {
                // rswitch has no controllers: nothing to print or delete.
                self.bridge_must(&a[1])?;
                text(String::new())
            }
            "get-fail-mode" => {
                let b = self.bridge_must(&a[1])?;
                text(
                    self.db.bridges[b]
                        .fail_mode
                        .map(|m| format!("{}\n", m.as_str()))
                        .unwrap_or_default(),
                )
            }
            "del-fail-mode" => {
                let b = self.bridge_must(&a[1])?;
                self.db.bridges[b].fail_mode = None;
                text(String::new())
            }
            "set-fail-mode" => {
                let b = self.bridge_must(&a[1])?;
                let mode = FailMode::parse(&a[2]).ok_or_else(|| {
                    Fail::Error("fail-mode must be \"standalone\" or \"secure\"".into())
                })?;
                self.db.bridges[b].fail_mode = Some(mode);
                text(String::new())
            }
            "get" => self.get(c).map(Out::Text),
            "list" => self.list(c).map(Out::Table),
            "find" => self.find(c).map(Out::Table),
            "set" => self.set(c).map(Out::Text),
            "add" => self.add(c).map(Out::Text),
            "remove" => self.remove(c).map(Out::Text),
            "clear" => self.clear(c).map(Out::Text),
            other => unreachable!("unsupported command {other} was rejected when parsing"),
        }
    }

    // ---- vsctl's bridge/port view ------------------------------------------

    fn find_bridge(&self, name: &str, must_exist: bool) -> CmdResult<Option<usize>> {
        match self.db.bridge_index(name) {
            Some(b) => Ok(Some(b)),
            None if must_exist => Err(Fail::Error(format!("no bridge named {name}"))),
            None => Ok(None),
        }
    }

    fn bridge_must(&self, name: &str) -> CmdResult<usize> {
        self.find_bridge(name, true).map(|b| b.unwrap_or_default())
    }

    /// A port (or, identically in rswitch, interface) that is not a LOCAL one.
    fn find_port(&self, name: &str) -> Option<(usize, usize)> {
        self.db
            .port_index(name)
            .filter(|&(b, _)| self.db.bridges[b].name != name)
    }

    /// `check_conflicts`.
    fn check_conflicts(&self, name: &str, what: &str) -> CmdResult<()> {
        if self.db.bridge_index(name).is_some() {
            return Err(Fail::Error(format!(
                "{what} because a bridge named {name} already exists"
            )));
        }
        if let Some((b, _)) = self.db.port_index(name) {
            return Err(Fail::Error(format!(
                "{what} because a port named {name} already exists on bridge {}",
                self.db.bridges[b].name
            )));
        }
        Ok(())
    }

    fn add_br(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let name = &a[1];
        if name.is_empty() {
            return Err(Fail::Error("bridge name must not be empty string".into()));
        }
        let vlan = match a.len() {
            2 => None,
            4 => {
                let v = atoi(&a[3]);
                if !(0..=4095).contains(&v) {
                    return Err(Fail::Error(format!(
                        "{}: vlan must be between 0 and 4095",
                        a[0]
                    )));
                }
                Some(v)
            }
            _ => {
                return Err(Fail::Error(format!(
                    "'{}' command takes exactly 1 or 3 arguments",
                    a[0]
                )))
            }
        };
        if c.has("--may-exist") && self.db.bridge_index(name).is_some() {
            if let Some(v) = vlan {
                return Err(Fail::Error(format!(
                    "\"--may-exist add-br {name} {} {v}\" but {name} is not a VLAN bridge",
                    a[2]
                )));
            }
            return Ok(String::new());
        }
        self.check_conflicts(name, &format!("cannot create a bridge named {name}"))?;
        if vlan.is_some() {
            if self.db.bridge_index(&a[2]).is_none() {
                return Err(Fail::Error(format!(
                    "parent bridge {} does not exist",
                    a[2]
                )));
            }
            return Err(Fail::Error(
                "fake bridges (add-br BRIDGE PARENT VLAN) are not supported by rswitch; \
                 use a port with tag=VLAN instead"
                    .into(),
            ));
        }
        self.db.insert_bridge(name);
        Ok(String::new())
    }

    fn add_port(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let (br, name) = (&a[1], &a[2]);
        if name.is_empty() {
            return Err(Fail::Error("port name must not be empty string".into()));
        }
        if c.has("--may-exist") {
            if let Some((b, _)) = self.find_port(name) {
                let on = &self.db.bridges[b].name;
                if on != br {
                    return Err(Fail::Error(format!(
                        "\"{}\" but {name} is actually attached to bridge {on}",
                        c.to_text()
                    )));
                }
                // Same port, same single interface: nothing to do (OVS does
                // not apply the column settings either).
                return Ok(String::new());
            }
        }
        self.check_conflicts(name, &format!("cannot create a port named {name}"))?;
        let b = self.bridge_must(br)?;
        let port = self.db.new_port(name);
        self.db.insert_port(b, port);
        self.created.push(name.clone());
        let Some((b, p)) = self.db.port_index(name) else {
            unreachable!("port {name} was just inserted");
        };
        for setting in &a[3..] {
            self.set_column(Table::Port, Row::Port(b, p), setting)?;
        }
        Ok(String::new())
    }

    fn del_port(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let must_exist = !c.has("--if-exists");
        let target = &a[a.len() - 1];
        let found = if self.db.bridge_index(target).is_some() {
            if must_exist {
                return Err(Fail::Error(format!(
                    "cannot delete port {target} because it is the local port for bridge \
                     {target} (deleting this port requires deleting the entire bridge)"
                )));
            }
            None
        } else {
            let f = self.find_port(target);
            if f.is_none() && must_exist {
                return Err(Fail::Error(if c.has("--with-iface") {
                    format!("no port or interface named {target}")
                } else {
                    format!("no port named {target}")
                }));
            }
            f
        };
        if let Some((b, p)) = found {
            if a.len() == 3 {
                let want = self.bridge_must(&a[1])?;
                if want != b {
                    return Err(Fail::Error(format!(
                        "bridge {} does not have a port {}",
                        a[1], a[2]
                    )));
                }
            }
            self.db.bridges[b].ports.remove(p);
        }
        Ok(String::new())
    }

    // ---- database commands ---------------------------------------------------

    /// `get_row` with ovs-vsctl's "no row" error.
    fn row(&self, t: Table, id: &str, must_exist: bool) -> CmdResult<Option<Row>> {
        match schema::find_row(&self.db, t, id)? {
            Some(r) => Ok(Some(r)),
            None if must_exist => Err(Fail::Error(format!(
                "no row \"{id}\" in table {}",
                t.name()
            ))),
            None => Ok(None),
        }
    }

    fn get(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let must_exist = !c.has("--if-exists");
        if c.has("--id") {
            if !must_exist {
                return Err(Fail::Error(
                    "--if-exists and --id may not be specified together".into(),
                ));
            }
            return Err(Fail::Error(
                "--id is not supported by rswitch (it cannot create records)".into(),
            ));
        }
        let t = Table::lookup(&a[1])?;
        let Some(row) = self.row(t, &a[2], must_exist)? else {
            return Ok(String::new());
        };
        let mut out = String::new();
        for arg in &a[3..] {
            if is_uuid_column(arg) {
                out += &format!("{}\n", row.uuid(&self.db));
                continue;
            }
            let ca = parse_column_key_value(t, arg, None)?;
            let column = known(ca.column)?;
            let datum = schema::read(&self.db, row, column.name);
            match ca.key {
                Some(key) => {
                    if !column.ty.is_map() {
                        return Err(Fail::Error(format!(
                            "cannot specify key to get for non-map column {}",
                            column.name
                        )));
                    }
                    let (k, _) = atom_from_string(&column.ty.key, &key, false)?;
                    match datum.find(&k) {
                        Some((_, Some(v))) => v.to_text(&mut out),
                        _ if must_exist => {
                            return Err(Fail::Error(format!(
                                "no key \"{key}\" in {} record \"{}\" column {}",
                                t.name(),
                                a[2],
                                column.name
                            )))
                        }
                        _ => {}
                    }
                }
                None => out += &datum.to_text(&column.ty),
            }
            out.push('\n');
        }
        Ok(out)
    }

    fn record(&self, row: Row, columns: &[(String, ListColumn)]) -> Vec<Cell> {
        columns
            .iter()
            .map(|(_, lc)| match lc {
                ListColumn::Uuid => Cell {
                    datum: Datum::one(Atom::Uuid(row.uuid(&self.db).to_string())),
                    ty: ColumnType::scalar(BaseType::new(AtomType::Uuid)),
                },
                ListColumn::Column(col) => Cell {
                    datum: schema::read(&self.db, row, col.name),
                    ty: col.ty,
                },
                ListColumn::Unknown => Cell {
                    datum: Datum::empty(),
                    ty: ColumnType::string_map(),
                },
            })
            .collect()
    }

    fn list(&mut self, c: &Command) -> CmdResult<format::Table> {
        let a = &c.args;
        let t = Table::lookup(&a[1])?;
        let columns = list_columns(t, c.value("--columns"))?;
        let rows = if a.len() > 2 {
            let mut rows = Vec::new();
            for id in &a[2..] {
                if let Some(r) = self.row(t, id, !c.has("--if-exists"))? {
                    rows.push(r);
                }
            }
            rows
        } else {
            schema::rows(&self.db, t)
        };
        Ok(format::Table {
            headings: columns.iter().map(|(h, _)| h.clone()).collect(),
            rows: rows.into_iter().map(|r| self.record(r, &columns)).collect(),
        })
    }

    fn find(&mut self, c: &Command) -> CmdResult<format::Table> {
        let a = &c.args;
        let t = Table::lookup(&a[1])?;
        let columns = list_columns(t, c.value("--columns"))?;
        let mut rows = Vec::new();
        'rows: for row in schema::rows(&self.db, t) {
            for cond in &a[2..] {
                if !self.check_condition(t, row, cond)? {
                    continue 'rows;
                }
            }
            rows.push(self.record(row, &columns));
        }
        Ok(format::Table {
            headings: columns.iter().map(|(h, _)| h.clone()).collect(),
            rows,
        })
    }

    /// `check_condition`.
    fn check_condition(&self, t: Table, row: Row, arg: &str) -> CmdResult<bool> {
        let ca = parse_column_key_value(t, arg, Some(RELOPS))?;
        let column = known(ca.column)?;
        let value = ca.value.unwrap_or_default();
        let op = RELOPS[ca.op];
        let mut ty = column.ty;
        ty.n_max = UNLIMITED;
        let have = schema::read(&self.db, row, column.name);
        match ca.key {
            Some(key) => {
                let Some(vbase) = column.ty.value else {
                    return Err(Fail::Error(format!(
                        "cannot specify key to check for non-map column {}",
                        column.name
                    )));
                };
                let (want_key, _) = atom_from_string(&column.ty.key, &key, false)?;
                let vty = ColumnType {
                    key: vbase,
                    value: None,
                    n_min: column.ty.n_min,
                    n_max: UNLIMITED,
                };
                let b = datum_from_string(&vty, &value)?;
                match have.find(&want_key) {
                    None if !op.starts_with('{') => Ok(false),
                    found => {
                        let a = Datum::opt(found.and_then(|(_, v)| v.clone()));
                        Ok(evaluate(&a, &b, op))
                    }
                }
            }
            None => {
                let want = datum_from_string(&ty, &value)?;
                Ok(evaluate(&have, &want, op))
            }
        }
    }

    /// `set_column`: one `COLUMN[:KEY]=VALUE` on one row.
    fn set_column(&mut self, t: Table, row: Row, arg: &str) -> CmdResult<()> {
        let ca = parse_column_key_value(t, arg, Some(&["="]))?;
        let column = known(ca.column)?;
        let value = ca.value.unwrap_or_default();
        check_mutable(t, column)?;
        let datum = match ca.key {
            Some(key) => {
                let Some(vbase) = column.ty.value else {
                    return Err(Fail::Error(format!(
                        "cannot specify key to set for non-map column {}",
                        column.name
                    )));
                };
                let (k, _) = atom_from_string(&column.ty.key, &key, false)?;
                let (v, _) = atom_from_string(&vbase, &value, false)?;
                let mut d = schema::read(&self.db, row, column.name);
                d.union(&Datum {
                    items: vec![(k, Some(v))],
                });
                d
            }
            None => datum_from_string(&column.ty, &value)?,
        };
        schema::write(&mut self.db, row, column, &datum)?;
        Ok(())
    }

    fn set(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let t = Table::lookup(&a[1])?;
        if let Some(row) = self.row(t, &a[2], !c.has("--if-exists"))? {
            for arg in &a[3..] {
                self.set_column(t, row, arg)?;
            }
        }
        Ok(String::new())
    }

    /// Row and column of `add`/`remove`/`clear`-style commands.
    fn target(&self, c: &Command) -> CmdResult<Option<(Table, Row)>> {
        let a = &c.args;
        let t = Table::lookup(&a[1])?;
        Ok(self.row(t, &a[2], !c.has("--if-exists"))?.map(|r| (t, r)))
    }

    fn add(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let Some((t, row)) = self.target(c)? else {
            return Ok(String::new());
        };
        let column = known(t.column(&a[3])?)?;
        check_mutable(t, column)?;
        let add_ty = ColumnType {
            n_min: 1,
            n_max: UNLIMITED,
            ..column.ty
        };
        let mut new = Datum::empty();
        for v in &a[4..] {
            new.union(&datum_from_string(&add_ty, v)?);
        }
        // ovs-vsctl 3.1 sends `add` as an "insert" mutation: the server
        // refuses it on scalar columns and checks the size afterwards.
        if column.ty.is_scalar() {
            let syntax = Json::Array(vec![
                Json::Str(column.name.into()),
                Json::Str("insert".into()),
                new.to_wire_json(&column.ty),
            ]);
            return Err(Fail::Error(transaction_error(vec![
                (
                    "details",
                    format!(
                        "Type mismatch: \"insert\" operator may not be applied to column {} of type {}.",
                        column.name,
                        column.ty.to_english()
                    ),
                ),
                ("error", "syntax error".into()),
                ("syntax", syntax.to_string_compact()),
            ])));
        }
        let mut cur = schema::read(&self.db, row, column.name);
        cur.union(&new);
        if cur.len() > column.ty.n_max {
            return Err(Fail::Error(transaction_error(vec![
                (
                    "details",
                    format!(
                        "Attempted to store {} elements in {}.",
                        cur.len(),
                        column.ty.to_english()
                    ),
                ),
                ("error", "constraint violation".into()),
            ])));
        }
        schema::write(&mut self.db, row, column, &cur)?;
        Ok(String::new())
    }

    fn remove(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let Some((t, row)) = self.target(c)? else {
            return Ok(String::new());
        };
        let column = known(t.column(&a[3])?)?;
        check_mutable(t, column)?;
        let mut cur = schema::read(&self.db, row, column.name);
        for v in &a[4..] {
            let mut rm_ty = ColumnType {
                n_min: 1,
                n_max: UNLIMITED,
                ..column.ty
            };
            let rm = match datum_from_string(&rm_ty, v) {
                Ok(d) => d,
                Err(e) if !rm_ty.is_map() => return Err(Fail::Error(e)),
                // A map entry may also be removed by key alone.
                Err(_) => {
                    rm_ty.value = None;
                    datum_from_string(&rm_ty, v)?
                }
            };
            cur.subtract(&rm);
        }
        if cur.len() < column.ty.n_min {
            return Err(Fail::Error(format!(
                "\"remove\" operation would put {} {} in column {} of table {} but the minimum number is {}",
                cur.len(),
                if column.ty.is_map() { "pairs" } else { "values" },
                column.name,
                t.name(),
                column.ty.n_min
            )));
        }
        schema::write(&mut self.db, row, column, &cur)?;
        Ok(String::new())
    }

    fn clear(&mut self, c: &Command) -> CmdResult<String> {
        let a = &c.args;
        let Some((t, row)) = self.target(c)? else {
            return Ok(String::new());
        };
        for name in &a[3..] {
            let column = known(t.column(name)?)?;
            check_mutable(t, column)?;
            if column.ty.n_min > 0 {
                return Err(Fail::Error(format!(
                    "\"clear\" operation cannot be applied to column {} of table {}, which is not allowed to be empty",
                    column.name,
                    t.name()
                )));
            }
            schema::write(&mut self.db, row, column, &Datum::empty())?;
        }
        Ok(String::new())
    }
}

/// A resolved column; tables rswitch does not implement have no rows, so
/// no command reaches this with `None`.
fn known(column: Option<&'static Column>) -> CmdResult<&'static Column> {
    column.ok_or_else(|| Fail::Error("internal error: column of an unimplemented table".into()))
}

fn check_mutable(t: Table, column: &Column) -> CmdResult<()> {
    if column.access == Access::Immutable {
        return Err(Fail::Error(format!(
            "cannot modify read-only column {} in table {}",
            column.name,
            t.name()
        )));
    }
    Ok(())
}

/// `evaluate_relop`.
fn evaluate(a: &Datum, b: &Datum, op: &str) -> bool {
    let cmp = || a.compare(b);
    match op {
        "=" | "{=}" => cmp() == Ordering::Equal,
        "!=" | "{!=}" => cmp() != Ordering::Equal,
        "<" => cmp() == Ordering::Less,
        ">" => cmp() == Ordering::Greater,
        "<=" => cmp() != Ordering::Greater,
        ">=" => cmp() != Ordering::Less,
        "{<}" => b.len() > a.len() && a.included_in(b),
        "{>}" => a.len() > b.len() && b.included_in(a),
        "{<=}" | "{in}" => a.included_in(b),
        "{>=}" => b.included_in(a),
        "{not-in}" => a.excluded_from(b),
        _ => false,
    }
}

/// `-t`/`--timeout` takes a positive integer (rswitch ignores its value).
fn is_valid_timeout(v: &str) -> bool {
    v.bytes().all(|c| c.is_ascii_digit()) && v.parse::<u32>().is_ok_and(|t| t > 0)
}

/// C's `atoi`: leading blanks, optional sign, digits; 0 when there are none.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n: i64 = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .take(12)
        .fold(0, |acc, d| acc * 10 + i64::from(d - b'0'));
    if neg {
        -n
    } else {
        n
    }
}

fn lines(names: Vec<&str>) -> String {
    names.iter().map(|n| format!("{n}\n")).collect()
}

fn usage() -> String {
    let mut s = String::from(
        "rswitch: rswitch configuration utility (ovs-vsctl compatible)\n\
         usage: rswitch [OPTIONS] COMMAND [ARG...] [-- [OPTIONS] COMMAND [ARG...]]...\n\
         \n\
         Commands (as ovs-vsctl's):\n",
    );
    for c in COMMANDS.iter().filter(|c| c.supported) {
        s += &format!("  {}", c.name);
        if !c.options.is_empty() {
            s += &format!("  [{}]", c.options.replace(',', "] ["));
        }
        s.push('\n');
    }
    s += "\nNot supported: ";
    let unsupported: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| !c.supported)
        .map(|c| c.name)
        .collect();
    s += &unsupported.join(", ");
    s += "\n\nOptions:\n  --rundir=DIR       talk to the rswitchd whose run directory is DIR\n  \
          --dry-run          do not commit changes\n  --oneline          one line of output per command\n  \
          -f, --format=FMT   list, table, csv, html or json\n  -d, --data=FMT     string, bare or json\n  \
          --no-headings, --pretty, --bare, --columns=COL,...\n  \
          --db, --no-wait, -t/--timeout, --retry, -v, --log-file, SSL options: accepted, no effect\n  \
          -h, --help, -V, --version\n";
    s
}
