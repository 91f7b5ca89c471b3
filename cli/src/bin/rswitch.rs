//! rswitch: the ovs-vsctl work-alike. Sends the command line to rswitchd,
//! which runs it as one all-or-nothing transaction, and prints the result.

use std::process::ExitCode;
use std::time::Duration;

use rswitch_cli::control::{call, default_rundir, socket_path, Request, Tool};

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`… | head`), as C tools do.
    // SAFETY: restoring the default disposition of one signal at start-up.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    // lab files (issue 6): `rswitch lab up|down|status|check|plan FILE`.
    if argv.first().is_some_and(|a| a == "lab") {
        return rswitch_cli::lab::main(&argv[1..]);
    }
    // --rundir is ours; every other option belongs to the command line.
    let mut rundir = None;
    let mut i = 0;
    while i < argv.len() {
        if let Some(v) = argv[i].strip_prefix("--rundir=") {
            rundir = Some(v.to_string());
            argv.remove(i);
        } else if argv[i] == "--rundir" && i + 1 < argv.len() {
            rundir = Some(argv.remove(i + 1));
            argv.remove(i);
        } else {
            i += 1;
        }
    }
    // capture: `rswitch capture [BR] PORT …` streams packets.
    if argv.first().is_some_and(|a| a == "capture") {
        let sock = socket_path(&default_rundir(rundir.as_deref()));
        let code = rswitch_cli::capture::client::main(&sock, &argv[1..]);
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        println!("rswitch: configure rswitchd (ovs-vsctl syntax)\nusage: rswitch [--rundir DIR] [OPTIONS] COMMAND [ARG...] [-- COMMAND...]\ncommands: init add-br del-br list-br br-exists add-port del-port list-ports port-to-br show get set clear add remove list find set-fail-mode get-fail-mode del-fail-mode\nalso: lab up|down|status|check|plan FILE; capture [BR] PORT …; show --format dot|svg|png [-o FILE]");
        return ExitCode::SUCCESS;
    }
    // Pictures (issue 6): `show --format dot|svg|png [-o FILE]`.
    let picture = match rswitch_cli::picture::render::client_args(
        &mut argv,
        rswitch_cli::picture::Tool::Vsctl,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rswitch: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sock = socket_path(&default_rundir(rundir.as_deref()));
    let req = Request {
        tool: Tool::Vsctl,
        argv,
        files: Vec::new(),
    };
    match call(&sock, &req, Duration::from_secs(60)) {
        Ok(r) => ExitCode::from(rswitch_cli::picture::render::finish(
            "rswitch", &r.stdout, &r.stderr, r.exit, &picture,
        )),
        Err(e) => {
            eprintln!("rswitch: {e}");
            ExitCode::FAILURE
        }
    }
}
