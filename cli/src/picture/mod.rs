//! Pictures: `rswitch show --format dot|svg|png` (the topology) and
//! `rswitch-ofctl dump-flows BR --format dot|svg|png` (the pipeline).
//!
//! The daemon builds Graphviz DOT text from its state ([`topology`],
//! [`pipeline`]: pure functions, golden-tested); the client turns it into
//! SVG or PNG by running Graphviz's `dot` ([`render`]) and writes it to
//! stdout or to `-o FILE`. `--format text` (the default) keeps the usual
//! output unchanged. Namespace facts for the topology come from the daemon
//! ([`netns`]).

pub mod dot;
pub mod netns;
pub mod pipeline;
pub mod render;
pub mod topology;

/// What the user asked `--format` to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Dot,
    Svg,
    Png,
}

impl Format {
    /// `text`, `dot`, `svg` or `png`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "dot" => Some(Format::Dot),
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }

    /// A picture (anything but text).
    pub fn is_picture(self) -> bool {
        self != Format::Text
    }
}

/// The picture options a client took out of its command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PictureArgs {
    /// `--format` when it named text, dot, svg or png.
    pub format: Option<Format>,
    /// `-o FILE` / `--output FILE`.
    pub output: Option<String>,
}

impl PictureArgs {
    /// The picture format asked for, if any.
    pub fn picture(&self) -> Option<Format> {
        self.format.filter(|f| f.is_picture())
    }
}

/// Which tool's command line is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `rswitch show --format …`: vsctl has its own `--format` values
    /// (table, list, …) for other commands, which are left alone.
    Vsctl,
    /// `rswitch-ofctl dump-flows BR --format …`: `trace` has its own
    /// `--format` (text, json), also left alone.
    Ofctl,
}

/// The picture option value at `argv[i]`, if `argv[i]` is `--format`,
/// `--format=V` or (vsctl) `-f`/`-fV`: (value, number of words used).
fn format_option(argv: &[String], i: usize, tool: Tool) -> Option<(Option<String>, usize)> {
    let a = argv[i].as_str();
    if let Some(v) = a.strip_prefix("--format=") {
        return Some((Some(v.to_string()), 1));
    }
    if a == "--format" || (tool == Tool::Vsctl && a == "-f") {
        return Some((argv.get(i + 1).cloned(), 2));
    }
    if tool == Tool::Vsctl {
        if let Some(v) = a.strip_prefix("-f").filter(|v| !v.is_empty()) {
            return Some((Some(v.to_string()), 1));
        }
    }
    None
}

/// The operands of a command line: words not starting with `-`, skipping
/// the values of options that take one as a separate word.
fn operands(argv: &[String], tool: Tool) -> Vec<String> {
    let with_value: &[&str] = match tool {
        Tool::Vsctl => &["-t", "--timeout", "-d", "--data", "--max-column-width"],
        Tool::Ofctl => &["-t", "--timeout", "-O", "--protocols", "--flows", "--port"],
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if with_value.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') || a == "-" {
            out.push(a.clone());
        }
        i += 1;
    }
    out
}

/// Takes the picture options out of a client's command line.
///
/// For `rswitch`, only an invocation whose single command is `show` is
/// concerned; for `rswitch-ofctl`, only `dump-flows`. There, `--format
/// text|dot|svg|png` and `-o FILE`/`--output FILE` are removed from `argv`;
/// a picture format is put back as `--format=dot` (the daemon always
/// answers with DOT; the client renders). Other command lines are left as
/// they are, except that `-o`/`--output` or a picture format there is an
/// error naming the command that supports it.
pub fn take_args(argv: &mut Vec<String>, tool: Tool) -> Result<PictureArgs, String> {
    let mut args = PictureArgs::default();
    let mut rest = Vec::with_capacity(argv.len());
    let mut raw_format: Option<String> = None;
    let mut took_format = false;
    // A `--format` value that is none of ours (the command's own, or bad).
    let mut other_format: Option<String> = None;
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            rest.extend(argv[i..].iter().cloned());
            break;
        }
        if a == "-o" || a == "--output" {
            let v = argv
                .get(i + 1)
                .ok_or_else(|| format!("option '{a}' requires an argument (a file name)"))?;
            args.output = Some(v.clone());
            i += 2;
            continue;
        }
        if let Some(v) = a.strip_prefix("--output=") {
            args.output = Some(v.to_string());
            i += 1;
            continue;
        }
        if let Some((value, used)) = format_option(argv, i, tool) {
            if let Some(f) = value.as_deref().and_then(Format::parse) {
                args.format = Some(f);
                raw_format = value;
                took_format = true;
                i += used;
                continue;
            }
            other_format = value;
        }
        rest.push(argv[i].clone());
        i += 1;
    }
    let ops = operands(&rest, tool);
    let (concerned, what) = match tool {
        Tool::Vsctl => (ops == ["show"], "rswitch show"),
        Tool::Ofctl => (
            ops.first().is_some_and(|c| c == "dump-flows"),
            "rswitch-ofctl dump-flows",
        ),
    };
    if !concerned {
        if args.picture().is_some() {
            let name = raw_format.unwrap_or_default();
            return Err(format!(
                "--format {name}: pictures are drawn by `{what} --format dot|svg|png` only"
            ));
        }
        if args.output.is_some() {
            return Err(format!(
                "-o/--output: only `{what} --format dot|svg|png` writes to a file"
            ));
        }
        // Leave the command line untouched (also a `--format text`, which
        // the command may reject or take as it always did).
        return Ok(PictureArgs::default());
    }
    if let Some(v) = other_format.filter(|v| tool == Tool::Ofctl && v != "json") {
        return Err(format!(
            "--format {v}: unknown output format (dump-flows prints text, or draws dot, svg or png)"
        ));
    }
    if args.output.is_some() && args.picture().is_none() {
        return Err("-o/--output needs --format dot, svg or png".to_string());
    }
    if took_format && args.picture().is_some() {
        rest.push("--format=dot".to_string());
    }
    *argv = rest;
    Ok(args)
}

/// `--format=dot` among a daemon request's words (as the client sends it).
pub fn wants_dot(argv: &[String]) -> bool {
    argv.iter().any(|a| a == "--format=dot")
}

/// Whether a vsctl request is the client's `show --format=dot`.
pub fn is_topology_request(argv: &[String]) -> bool {
    wants_dot(argv) && operands(argv, Tool::Vsctl) == ["show"]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn vsctl_show_formats() {
        let mut a = v("show --format svg -o x.svg");
        let p = take_args(&mut a, Tool::Vsctl).unwrap();
        assert_eq!(p.format, Some(Format::Svg));
        assert_eq!(p.output.as_deref(), Some("x.svg"));
        assert_eq!(a, v("show --format=dot"));
        assert!(is_topology_request(&a));

        let mut a = v("--format=text show");
        let p = take_args(&mut a, Tool::Vsctl).unwrap();
        assert_eq!(p.format, Some(Format::Text));
        assert_eq!(a, v("show"));

        let mut a = v("-t 5 show -fpng --output=y.png");
        let p = take_args(&mut a, Tool::Vsctl).unwrap();
        assert_eq!(p.format, Some(Format::Png));
        assert_eq!(a, v("-t 5 show --format=dot"));
    }

    #[test]
    fn vsctl_other_commands_untouched() {
        let mut a = v("--format=csv list Bridge");
        assert_eq!(
            take_args(&mut a, Tool::Vsctl).unwrap(),
            PictureArgs::default()
        );
        assert_eq!(a, v("--format=csv list Bridge"));
        let mut a = v("--format=text list Bridge");
        take_args(&mut a, Tool::Vsctl).unwrap();
        assert_eq!(a, v("--format=text list Bridge"));
        let mut a = v("--format=svg list Bridge");
        let e = take_args(&mut a, Tool::Vsctl).unwrap_err();
        assert!(e.contains("rswitch show"), "{e}");
        // A format vsctl does not know stays for vsctl to refuse.
        let mut a = v("show --format jpeg");
        take_args(&mut a, Tool::Vsctl).unwrap();
        assert_eq!(a, v("show --format jpeg"));
    }

    #[test]
    fn ofctl_dump_flows() {
        let mut a = v("dump-flows br0 table=1 --format png -o p.png");
        let p = take_args(&mut a, Tool::Ofctl).unwrap();
        assert_eq!(p.format, Some(Format::Png));
        assert_eq!(a, v("dump-flows br0 table=1 --format=dot"));
        let mut a = v("--format=json trace br0 in_port=1");
        take_args(&mut a, Tool::Ofctl).unwrap();
        assert_eq!(a, v("--format=json trace br0 in_port=1"));
        let mut a = v("dump-ports br0 -o x");
        assert!(take_args(&mut a, Tool::Ofctl).is_err());
        let mut a = v("dump-flows br0 -o x");
        assert!(take_args(&mut a, Tool::Ofctl).is_err());
        let mut a = v("dump-flows br0 -o");
        assert!(take_args(&mut a, Tool::Ofctl).is_err());
        let mut a = v("dump-flows br0 --format=jpeg");
        let e = take_args(&mut a, Tool::Ofctl).unwrap_err();
        assert!(e.contains("jpeg") && e.contains("svg"), "{e}");
        // trace keeps its own error for a bad --format.
        let mut a = v("--format=xml trace br0 in_port=1");
        take_args(&mut a, Tool::Ofctl).unwrap();
    }
}
