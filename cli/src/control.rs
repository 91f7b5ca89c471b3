//! The control protocol between the command-line tools and rswitchd: one
//! JSON request per connection, one JSON response, over a Unix socket.
//! Requests carry the user's argv; the daemon runs the command and returns
//! what to print and the exit code, so the tools stay thin.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Stands for "the daemon's only bridge" when a command names the daemon's
/// socket instead of a bridge.
pub const ONLY_BRIDGE: &str = "@only-bridge";

/// Largest request the daemon reads (flows files travel inside requests).
pub const MAX_REQUEST: usize = 64 * 1024 * 1024;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// `rswitch` (the ovs-vsctl work-alike).
    Vsctl,
    /// `rswitch-ofctl` (the ovs-ofctl work-alike).
    Ofctl,
    /// Daemon housekeeping: `ping`, `exit`.
    Admin,
    /// capture: `rswitch capture`: argv is one JSON
    /// [`CaptureArgs`](crate::capture::CaptureArgs); the daemon answers with
    /// a stream of JSON lines ([`Event`](crate::capture::Event)), not one
    /// [`Response`].
    Capture,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    pub tool: Tool,
    pub argv: Vec<String>,
    /// File operands the client read for the daemon (`add-flows BR FILE`):
    /// (operand as typed, contents).
    #[serde(default)]
    pub files: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Response {
    pub stdout: String,
    pub stderr: String,
    pub exit: i32,
}

impl Response {
    pub fn error(msg: impl Into<String>, exit: i32) -> Response {
        let mut stderr = msg.into();
        if !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        Response {
            stdout: String::new(),
            stderr,
            exit,
        }
    }
}

/// `DIR/rswitchd.sock`.
pub fn socket_path(rundir: &Path) -> PathBuf {
    rundir.join("rswitchd.sock")
}

/// The run directory: `--rundir`, else `$RSWITCH_RUNDIR`, else `/run/rswitch`.
pub fn default_rundir(arg: Option<&str>) -> PathBuf {
    match arg {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("RSWITCH_RUNDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run/rswitch")),
    }
}

/// Sends one request and waits for the answer.
pub fn call(socket: &Path, req: &Request, timeout: Duration) -> io::Result<Response> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "{}: cannot connect to rswitchd ({e}); is it running?",
                socket.display()
            ),
        )
    })?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(req).map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    serde_json::from_str(buf.trim_end()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad reply from rswitchd: {e}"),
        )
    })
}

/// Reads one request line from a client, refusing oversized or malformed input.
pub fn read_request(s: &mut UnixStream) -> Result<Request, String> {
    let mut r = BufReader::new(s.take(MAX_REQUEST as u64 + 1));
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)
        .map_err(|e| format!("read error: {e}"))?;
    if line.is_empty() {
        return Err(String::new());
    }
    if line.len() > MAX_REQUEST {
        return Err(format!("request larger than {MAX_REQUEST} bytes refused"));
    }
    serde_json::from_slice(&line).map_err(|e| format!("malformed request: {e}"))
}

pub fn write_response(s: &mut UnixStream, r: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)
}
