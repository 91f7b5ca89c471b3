//! Client side: turning DOT into SVG or PNG with Graphviz's `dot` and
//! writing the result to stdout or a file. PNG bytes are never written to a
//! terminal.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

use super::{Format, PictureArgs};

/// The Graphviz program: `$RSWITCH_DOT`, else `dot` on the PATH.
fn dot_program() -> String {
    std::env::var("RSWITCH_DOT").unwrap_or_else(|_| "dot".to_string())
}

/// Refuses, before any work is done, to send PNG bytes to a terminal.
pub fn check_destination(args: &PictureArgs) -> Result<(), String> {
    if args.format == Some(Format::Png)
        && args.output.as_deref().is_none_or(|o| o == "-")
        && std::io::stdout().is_terminal()
    {
        return Err(
            "refusing to write a PNG image to a terminal: use -o FILE.png or redirect stdout"
                .to_string(),
        );
    }
    Ok(())
}

/// Runs `dot -T<svg|png>` on `dot_text`. A missing Graphviz is an error
/// that says how to install it.
pub fn render(dot_text: &str, format: Format) -> Result<Vec<u8>, String> {
    let t = match format {
        Format::Svg => "-Tsvg",
        Format::Png => "-Tpng",
        Format::Dot | Format::Text => return Ok(dot_text.as_bytes().to_vec()),
    };
    let prog = dot_program();
    let mut child = Command::new(&prog)
        .arg(t)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "cannot draw {}: Graphviz's `{prog}` program is not installed (apt-get install graphviz); --format dot prints the graph without it",
                    if format == Format::Svg { "SVG" } else { "PNG" }
                )
            } else {
                format!("cannot run {prog}: {e}")
            }
        })?;
    // Feed stdin from a thread so a large picture cannot deadlock the pipes.
    let mut stdin = child.stdin.take().expect("piped");
    let text = dot_text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{prog}: {e}"))?;
    let _ = writer.join();
    if !out.status.success() || out.stdout.is_empty() {
        return Err(format!(
            "{prog} -T{} failed ({}): {}",
            &t[2..],
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// Renders the DOT the daemon returned as asked and writes it out.
pub fn deliver(dot_text: &str, args: &PictureArgs) -> Result<(), String> {
    let format = args.picture().unwrap_or(Format::Dot);
    let bytes = render(dot_text, format)?;
    match &args.output {
        Some(path) if path != "-" => {
            std::fs::write(path, &bytes).map_err(|e| format!("{path}: {e}"))
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|_| out.flush())
                .map_err(|e| format!("stdout: {e}"))
        }
    }
}

/// What a client does first: takes the picture options out of `argv`
/// (see [`super::take_args`]) and refuses PNG to a terminal up front.
pub fn client_args(argv: &mut Vec<String>, tool: super::Tool) -> Result<PictureArgs, String> {
    let args = super::take_args(argv, tool)?;
    check_destination(&args)?;
    Ok(args)
}

/// Prints a command's result: as it came, or, when a picture was asked for
/// and the command succeeded, the DOT it returned rendered as asked.
/// Returns the exit code.
pub fn finish(program: &str, stdout: &str, stderr: &str, exit: i32, args: &PictureArgs) -> u8 {
    if args.picture().is_none() || exit != 0 {
        print!("{stdout}");
        eprint!("{stderr}");
        return exit.clamp(0, 255) as u8;
    }
    eprint!("{stderr}");
    match deliver(stdout, args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{program}: {e}");
            1
        }
    }
}
