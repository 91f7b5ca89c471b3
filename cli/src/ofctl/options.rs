//! Global options, parsed as ovs-ofctl's `getopt_long` does: options may
//! appear anywhere before `--` (GNU permutation), long options may be
//! abbreviated to a unique prefix, `--opt=value` or `--opt value` for
//! required arguments, and `--sort[=FIELD]` only with `=`.

use ofproto::dump::{SortKey, SortOrder};

/// An OpenFlow version, as `-O`/`--protocols` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Version {
    Of10,
    Of11,
    Of12,
    Of13,
    Of14,
    Of15,
}

impl Version {
    const ALL: [Version; 6] = [
        Version::Of10,
        Version::Of11,
        Version::Of12,
        Version::Of13,
        Version::Of14,
        Version::Of15,
    ];

    fn name(self) -> &'static str {
        match self {
            Version::Of10 => "OpenFlow10",
            Version::Of11 => "OpenFlow11",
            Version::Of12 => "OpenFlow12",
            Version::Of13 => "OpenFlow13",
            Version::Of14 => "OpenFlow14",
            Version::Of15 => "OpenFlow15",
        }
    }

    /// The ` (OF1.x)` OVS puts after a message name for versions above 1.0.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Version::Of10 => "",
            Version::Of11 => " (OF1.1)",
            Version::Of12 => " (OF1.2)",
            Version::Of13 => " (OF1.3)",
            Version::Of14 => " (OF1.4)",
            Version::Of15 => " (OF1.5)",
        }
    }
}

/// What `--format` asks `trace` to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TraceFormat {
    Text,
    Json,
    /// `--format=dot`: `dump-flows` draws the pipeline (see
    /// [`crate::picture`]; the client turns svg/png into dot).
    Dot,
}

/// The global options of one command line.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// `--names` (Some(true)) / `--no-names` (Some(false)).
    pub names: Option<bool>,
    pub stats: bool,
    pub sort: Vec<SortKey>,
    pub strict: bool,
    pub readd: bool,
    /// `-O`: the allowed versions, sorted (ovs-ofctl's default is 1.0 only).
    pub versions: Vec<Version>,
    pub format: TraceFormat,
    pub generate: bool,
    pub help: bool,
    pub version: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            names: None,
            stats: true,
            sort: Vec::new(),
            strict: false,
            readd: false,
            versions: vec![Version::Of10],
            format: TraceFormat::Text,
            generate: false,
            help: false,
            version: false,
        }
    }
}

impl Options {
    /// The version a connection to the switch negotiates: the highest
    /// allowed one (rswitch speaks them all, as Open vSwitch does).
    pub(crate) fn negotiated(&self) -> Version {
        *self.versions.last().expect("at least one version")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    Timeout,
    Strict,
    Readd,
    Sort,
    Rsort,
    Names,
    NoNames,
    Stats,
    NoStats,
    Protocols,
    Format,
    Generate,
    More,
    Help,
    Version,
}

/// Long options, in the order getopt lists them when one is ambiguous.
const LONG: &[(&str, Arg, Opt)] = &[
    ("timeout", Arg::Required, Opt::Timeout),
    ("strict", Arg::None, Opt::Strict),
    ("readd", Arg::None, Opt::Readd),
    ("more", Arg::None, Opt::More),
    ("sort", Arg::Optional, Opt::Sort),
    ("rsort", Arg::Optional, Opt::Rsort),
    ("names", Arg::None, Opt::Names),
    ("no-names", Arg::None, Opt::NoNames),
    ("stats", Arg::None, Opt::Stats),
    ("no-stats", Arg::None, Opt::NoStats),
    ("help", Arg::None, Opt::Help),
    ("version", Arg::None, Opt::Version),
    ("protocols", Arg::Required, Opt::Protocols),
    ("format", Arg::Required, Opt::Format),
    ("generate", Arg::None, Opt::Generate),
];

const SHORT: &[(char, Arg, Opt)] = &[
    ('t', Arg::Required, Opt::Timeout),
    ('m', Arg::None, Opt::More),
    ('h', Arg::None, Opt::Help),
    ('V', Arg::None, Opt::Version),
    ('O', Arg::Required, Opt::Protocols),
];

/// Parses `-O`'s list like `ofputil_versions_from_string`: names separated
/// by commas or spaces, any case; empty items are ignored.
fn parse_versions(s: &str) -> Result<Vec<Version>, String> {
    let mut out = Vec::new();
    for item in s.split([',', ' ', '\t']).filter(|i| !i.is_empty()) {
        let v = Version::ALL
            .iter()
            .copied()
            .find(|v| v.name().eq_ignore_ascii_case(item))
            .ok_or_else(|| format!("Unknown OpenFlow version: \"{item}\""))?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        // OVS then refuses every command; say why instead.
        return Err(format!("{s}: no OpenFlow version given"));
    }
    out.sort();
    Ok(out)
}

fn apply(o: &mut Options, opt: Opt, value: Option<&str>) -> Result<(), String> {
    match opt {
        // The client enforces its own timeout; the others only change what
        // ovs-ofctl prints when debugging.
        Opt::Timeout | Opt::More => {}
        Opt::Strict => o.strict = true,
        Opt::Readd => o.readd = true,
        Opt::Sort => o.sort.push(SortKey::parse(value, SortOrder::Ascending)?),
        Opt::Rsort => o.sort.push(SortKey::parse(value, SortOrder::Descending)?),
        Opt::Names => o.names = Some(true),
        Opt::NoNames => o.names = Some(false),
        Opt::Stats => o.stats = true,
        Opt::NoStats => o.stats = false,
        Opt::Protocols => o.versions = parse_versions(value.unwrap_or(""))?,
        Opt::Format => {
            o.format = match value.unwrap_or("") {
                "text" => TraceFormat::Text,
                "json" => TraceFormat::Json,
                "dot" => TraceFormat::Dot,
                v => return Err(format!("{v}: unknown output format (use text or json)")),
            }
        }
        Opt::Generate => o.generate = true,
        Opt::Help => o.help = true,
        Opt::Version => o.version = true,
    }
    Ok(())
}

/// Splits `argv` (without the program name) into options and operands.
/// Errors are getopt's/ovs-ofctl's messages without the program name.
pub(crate) fn parse(argv: &[String]) -> Result<(Options, Vec<String>), String> {
    let mut o = Options::default();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        i += 1;
        if a == "--" {
            rest.extend(argv[i..].iter().cloned());
            break;
        }
        // `ofproto/trace BR FLOW -generate` is ovs-appctl's spelling: an
        // operand there, and a run of bogus short options to getopt.
        if a == "-" || a == "-generate" || !a.starts_with('-') {
            rest.push(a.to_string());
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let exact = LONG.iter().find(|(n, _, _)| *n == name);
            let (lname, kind, opt) = match exact {
                Some(e) => *e,
                None => {
                    let cands: Vec<_> = LONG
                        .iter()
                        .filter(|(n, _, _)| n.starts_with(name))
                        .collect();
                    match cands.len() {
                        0 => return Err(format!("unrecognized option '--{name}'")),
                        1 => *cands[0],
                        _ => {
                            let list: Vec<String> =
                                cands.iter().map(|(n, _, _)| format!("'--{n}'")).collect();
                            return Err(format!(
                                "option '--{name}' is ambiguous; possibilities: {}",
                                list.join(" ")
                            ));
                        }
                    }
                }
            };
            let value = match (kind, inline) {
                (Arg::None, Some(_)) => {
                    return Err(format!("option '--{lname}' doesn't allow an argument"))
                }
                (Arg::None, None) | (Arg::Optional, _) => inline,
                (Arg::Required, Some(v)) => Some(v),
                (Arg::Required, None) => match argv.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.as_str())
                    }
                    None => return Err(format!("option '--{lname}' requires an argument")),
                },
            };
            apply(&mut o, opt, value)?;
            continue;
        }
        // A cluster of short options: `-m`, `-OOpenFlow13`, `-O OpenFlow13`.
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            let Some(&(_, kind, opt)) = SHORT.iter().find(|(s, _, _)| *s == c) else {
                return Err(format!("invalid option -- '{c}'"));
            };
            if kind == Arg::Required {
                let attached: String = chars[j..].iter().collect();
                let value = if !attached.is_empty() {
                    attached
                } else if let Some(v) = argv.get(i) {
                    i += 1;
                    v.clone()
                } else {
                    return Err(format!("option requires an argument -- '{c}'"));
                };
                apply(&mut o, opt, Some(&value))?;
                break;
            }
            apply(&mut o, opt, None)?;
        }
    }
    Ok((o, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn permutation_and_values() {
        let (o, rest) = parse(&args(
            "del-flows --strict br0 -O OpenFlow13,openflow10 in_port=1",
        ))
        .unwrap();
        assert!(o.strict);
        assert_eq!(o.versions, vec![Version::Of10, Version::Of13]);
        assert_eq!(o.negotiated(), Version::Of13);
        assert_eq!(rest, args("del-flows br0 in_port=1"));
        let (o, rest) = parse(&args(
            "--no-st --sort=tp_dst --rsort -OOpenFlow15 dump-flows br0",
        ))
        .unwrap();
        assert!(!o.stats);
        assert_eq!(o.sort.len(), 2);
        assert_eq!(o.versions, vec![Version::Of15]);
        assert_eq!(rest, args("dump-flows br0"));
        let (_, rest) = parse(&args("trace br0 in_port=1 -generate -- --x")).unwrap();
        assert_eq!(rest, args("trace br0 in_port=1 -generate --x"));
    }

    #[test]
    fn getopt_errors() {
        let e = |s: &str| parse(&args(s)).unwrap_err();
        assert_eq!(
            e("--frobnicate show br0"),
            "unrecognized option '--frobnicate'"
        );
        assert_eq!(
            e("--strict=1 show br0"),
            "option '--strict' doesn't allow an argument"
        );
        assert_eq!(
            e("--protocols"),
            "option '--protocols' requires an argument"
        );
        assert_eq!(e("-O"), "option requires an argument -- 'O'");
        assert_eq!(e("-x show"), "invalid option -- 'x'");
        assert_eq!(e("-O foo show br0"), "Unknown OpenFlow version: \"foo\"");
        assert_eq!(e("--sort=foo dump-flows br0"), "foo: unknown field name");
        assert!(e("--n show")
            .starts_with("option '--n' is ambiguous; possibilities: '--names' '--no-names'"));
    }
}
