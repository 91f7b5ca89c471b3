//! rswitchd: the switch daemon. Owns the configuration, the forwarding
//! engine and the ports; answers `rswitch` and `rswitch-ofctl` on a Unix
//! socket in its run directory.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rswitch_cli::control::{read_request, socket_path, write_response, Response};
use rswitch_cli::daemon::{persist, Daemon};

#[derive(Parser)]
#[command(
    name = "rswitchd",
    version,
    about = "rswitch daemon: a userspace OpenFlow switch"
)]
struct Args {
    /// Run directory for the socket, pidfile and (by default) the config
    /// [default: $RSWITCH_RUNDIR or /run/rswitch]
    #[arg(long)]
    rundir: Option<String>,
    /// Fork into the background; return once the socket accepts commands.
    #[arg(long)]
    detach: bool,
    /// Write the pid here [default: RUNDIR/rswitchd.pid].
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pidfile: Option<String>,
    /// Log to this file instead of stderr [default: RUNDIR/rswitchd.log].
    #[arg(long = "log-file", num_args = 0..=1, default_missing_value = "")]
    log_file: Option<String>,
    /// Forwarding threads [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// Microseconds a worker keeps polling its receive rings after the
    /// last frame before it sleeps [default: 100]. 0 never polls; a large
    /// value (e.g. 1000000000) polls all the time: latency as low as the
    /// kernel bridge's, at the cost of one busy core per worker.
    #[arg(long = "busy-poll-us", value_name = "US")]
    busy_poll_us: Option<u64>,
    /// Configuration file [default: RUNDIR/conf.db].
    #[arg(long)]
    db: Option<String>,
    /// Let this group use the control socket too (mode 0660).
    #[arg(long = "socket-group")]
    socket_group: Option<String>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("rswitchd: {msg}");
    ExitCode::FAILURE
}

/// Takes the run directory's lock: a second daemon on the same rundir is
/// refused; a stale pidfile from a crash is simply taken over.
fn lock_pidfile(path: &Path) -> Result<std::fs::File, String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let pid = std::fs::read_to_string(path).unwrap_or_default();
        return Err(format!(
            "another rswitchd (pid {}) is already running with this run directory ({})",
            pid.trim(),
            path.parent().unwrap_or(Path::new(".")).display()
        ));
    }
    Ok(f)
}

fn write_pid(f: &mut std::fs::File) -> std::io::Result<()> {
    f.set_len(0)?;
    writeln!(f, "{}", std::process::id())?;
    f.sync_all()
}

fn setup_logging(args: &Args, rundir: &Path) {
    let target = match &args.log_file {
        Some(p) if p.is_empty() => Some(rundir.join("rswitchd.log")),
        Some(p) => Some(PathBuf::from(p)),
        None if args.detach => Some(rundir.join("rswitchd.log")),
        None => None,
    };
    let builder = tracing_subscriber::fmt().with_target(false);
    match target.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    }) {
        Some(file) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init(),
        None => builder.with_writer(std::io::stderr).init(),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rundir = rswitch_cli::control::default_rundir(args.rundir.as_deref());
    if let Err(e) = std::fs::create_dir_all(&rundir) {
        return fail(format!("{}: {e}", rundir.display()));
    }
    let pid_path = match &args.pidfile {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => rundir.join("rswitchd.pid"),
    };
    let db_path = args
        .db
        .as_ref()
        .map(PathBuf::from)
        .unwrap_or_else(|| rundir.join("conf.db"));
    // Read the configuration before forking so errors reach the user.
    let (db, flows) = match persist::load(&db_path) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let sock = socket_path(&rundir);
    if args.detach {
        // SAFETY: no threads exist yet (the engine starts after the fork),
        // so the child is a faithful copy.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return fail(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid > 0 {
            // Parent: return once the daemon answers, or report its failure.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                    return ExitCode::SUCCESS;
                }
                let mut status = 0;
                // SAFETY: waitpid on our own child with a valid status pointer.
                let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                if r == pid {
                    return fail("daemon exited during start-up (see its log)");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            return fail("daemon did not start within 10 s (see its log)");
        }
        // SAFETY: setsid in the freshly forked child, which leads no group.
        unsafe { libc::setsid() };
    }
    setup_logging(&args, &rundir);
    let mut pidfile = match lock_pidfile(&pid_path) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    if let Err(e) = write_pid(&mut pidfile) {
        return fail(format!("{}: {e}", pid_path.display()));
    }
    // We hold the lock, so any socket file left is from a crash.
    let _ = std::fs::remove_file(&sock);
    let listener = match UnixListener::bind(&sock) {
        Ok(l) => l,
        Err(e) => return fail(format!("{}: {e}", sock.display())),
    };
    let mode = if args.socket_group.is_some() {
        0o660
    } else {
        0o600
    };
    if let Err(e) = std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(mode)) {
        return fail(format!("{}: {e}", sock.display()));
    }
    if let Some(g) = &args.socket_group {
        let ok = std::process::Command::new("chgrp")
            .arg(g)
            .arg(&sock)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return fail(format!("cannot give group {g} the control socket"));
        }
    }
    if let Some(us) = args.busy_poll_us {
        // Read by the engine when its workers start, below; no other
        // thread runs yet.
        std::env::set_var("RSWITCH_BUSY_POLL_US", us.to_string());
    }
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut daemon = match Daemon::start(db, flows, workers, db_path.clone()) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if let Err(e) = daemon.save() {
        tracing::warn!("configuration not saved: {e}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            return fail(format!("cannot handle signals: {e}"));
        }
    }
    if let Err(e) = listener.set_nonblocking(true) {
        return fail(e);
    }
    if args.detach {
        redirect_stdio_to_null();
    }
    tracing::info!(
        "rswitchd {} started on {} with {workers} workers",
        env!("CARGO_PKG_VERSION"),
        sock.display()
    );
    let mut last_retry = Instant::now();
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                let resp = match read_request(&mut s) {
                    // capture: a streaming request gets a thread of its own.
                    Ok(req) if req.tool == rswitch_cli::control::Tool::Capture => {
                        match daemon.start_capture(&req) {
                            Ok(session) => session.spawn(s),
                            Err(e) => rswitch_cli::capture::server::write_error(&mut s, &e),
                        }
                        continue;
                    }
                    Ok(req) => daemon.handle(&req),
                    // A probe that connects and closes (e.g. --detach
                    // waiting for us) sends nothing: nothing to answer.
                    Err(e) if e.is_empty() => continue,
                    Err(e) => {
                        tracing::warn!("control socket: {e}");
                        Response::error(format!("rswitchd: {e}"), 1)
                    }
                };
                let _ = write_response(&mut s, &resp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                tracing::warn!("accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if last_retry.elapsed() >= Duration::from_secs(1) {
            last_retry = Instant::now();
            daemon.retry_ports();
        }
    }
    tracing::info!("stopping");
    daemon.shutdown();
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(&pid_path);
    ExitCode::SUCCESS
}

fn redirect_stdio_to_null() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors of our own process.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}
