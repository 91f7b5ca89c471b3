//! `rswitch capture [BR] PORT [FILTER] [-w FILE] [-c COUNT] [--direction
//! in|out|both] [--outer] [--trace] [--format text|json] [-s SNAPLEN]`:
//! asks rswitchd for a capture and prints one tcpdump-like line per packet,
//! or writes a pcap file. Ctrl-C (or COUNT) ends it with tcpdump's summary
//! on stderr.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pcap::Writer;
use super::{decode, unhex, CaptureArgs, Event, PacketEvent};
use crate::control::{Request, Tool};

pub const USAGE: &str = "usage: rswitch capture [BR] PORT [FILTER] [-w FILE] [-c COUNT] [--direction in|out|both] [--outer] [--trace] [--format text|json] [-s SNAPLEN]
  FILTER      a flow match, e.g. icmp or udp,tp_dst=53 (several words are joined with commas)
  -w FILE     write pcap (FILE - is stdout) instead of printing lines
  -c COUNT    stop after COUNT packets (else Ctrl-C)
  --direction packets the port receives (in), sends (out) or both (default)
  --outer     tunnel ports: the encapsulated frame (outer headers rebuilt)
  --trace     print the tables and flows each packet hit
  --format    json: one JSON object per packet
  -s SNAPLEN  bytes kept per packet (default 262144)";

/// The parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub args: CaptureArgs,
    pub write: Option<String>,
    pub json: bool,
    pub trace: bool,
}

/// Parses the arguments after `capture`. Errors name the token.
pub fn parse_args(argv: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone().or_else(|| it.next().cloned()) {
                Some(v) => Ok(v),
                None => Err(format!("{name}: missing {what}")),
            }
        };
        match name {
            "-w" => o.write = Some(value("FILE")?),
            "-c" | "--count" => {
                let v = value("COUNT")?;
                let n: u64 = v
                    .parse()
                    .map_err(|_| format!("{name}: COUNT {v:?} is not a number"))?;
                if n == 0 {
                    return Err(format!("{name}: COUNT must be at least 1"));
                }
                o.args.count = Some(n);
            }
            "-s" | "--snaplen" => {
                let v = value("SNAPLEN")?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("{name}: SNAPLEN {v:?} is not a number"))?;
                o.args.snaplen = Some(n);
            }
            "--direction" | "-Q" => {
                let v = value("DIRECTION")?;
                v.parse::<datapath::capture::Directions>()
                    .map_err(|e| format!("{name}: {e}"))?;
                o.args.direction = Some(v);
            }
            "--outer" => o.args.outer = true,
            "--trace" => o.trace = true,
            "--format" => {
                let v = value("FORMAT")?;
                o.json = match v.as_str() {
                    "json" => true,
                    "text" => false,
                    _ => return Err(format!("{name}: {v:?}: use text or json")),
                };
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("{s}: unknown option\n{USAGE}"))
            }
            _ => o.args.operands.push(a.clone()),
        }
    }
    if o.args.operands.is_empty() {
        return Err(format!("missing PORT\n{USAGE}"));
    }
    if o.trace {
        o.args.trace = Some(if o.json { "json" } else { "text" }.into());
    }
    Ok(o)
}

/// Runs `rswitch capture`; returns the exit code.
pub fn main(sock: &Path, argv: &[String]) -> i32 {
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return 0;
    }
    let o = match parse_args(argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rswitch capture: {e}");
            return 1;
        }
    };
    match run(sock, &o) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rswitch capture: {e}");
            1
        }
    }
}

enum Sink {
    Lines,
    Pcap(Writer<Box<dyn Write>>, bool),
}

fn run(sock: &Path, o: &Options) -> Result<i32, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| e.to_string())?;
    }
    let mut sink = match &o.write {
        None => Sink::Lines,
        Some(f) => {
            let out: Box<dyn Write> = if f == "-" {
                Box::new(io::stdout())
            } else {
                Box::new(std::fs::File::create(f).map_err(|e| format!("{f}: {e}"))?)
            };
            let snap = o.args.snaplen.unwrap_or(super::pcap::MAX_SNAPLEN as usize) as u32;
            let w = Writer::new(out, snap).map_err(|e| format!("{f}: {e}"))?;
            Sink::Pcap(w, f == "-")
        }
    };
    let mut s = UnixStream::connect(sock).map_err(|e| {
        format!(
            "{}: cannot connect to rswitchd ({e}); is it running?",
            sock.display()
        )
    })?;
    let req = Request {
        tool: Tool::Capture,
        argv: vec![serde_json::to_string(&o.args).map_err(|e| e.to_string())?],
        files: Vec::new(),
    };
    let mut line = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    s.write_all(&line).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    let mut buf = Vec::new();
    let mut got = 0u64;
    let mut summary: Option<(u64, u64)> = None;
    let mut stopping: Option<Instant> = None;
    let mut started = false;
    loop {
        if stop.load(Ordering::Relaxed) && stopping.is_none() {
            // Closing our side tells the daemon to stop and send its summary.
            let _ = s.shutdown(std::net::Shutdown::Write);
            stopping = Some(Instant::now());
        }
        if stopping.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
            break;
        }
        match r.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) if buf.ends_with(b"\n") => {}
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(format!("connection to rswitchd: {e}")),
        }
        let text = std::mem::take(&mut buf);
        let ev: Event = match serde_json::from_slice(&text) {
            Ok(e) => e,
            Err(_) => {
                // An older rswitchd answers with a plain response.
                if let Ok(resp) = serde_json::from_slice::<crate::control::Response>(&text) {
                    eprint!("{}", resp.stderr);
                    return Ok(resp.exit.max(1));
                }
                return Err("bad reply from rswitchd".into());
            }
        };
        match ev {
            Event::Error { message } => {
                eprintln!("{message}");
                return Ok(1);
            }
            Event::Started {
                port,
                bridge,
                ofport,
                outer,
            } => {
                started = true;
                eprintln!(
                    "rswitch capture: listening on {port} ({bridge} port {ofport}){}, snapshot length {} bytes",
                    if outer { ", outer frames" } else { "" },
                    o.args.snaplen.unwrap_or(datapath::capture::DEFAULT_SNAPLEN)
                );
            }
            Event::Packet(p) => {
                got += 1;
                emit(&mut sink, o, &p)?;
            }
            Event::Summary { captured, dropped } => {
                summary = Some((captured, dropped));
                break;
            }
        }
    }
    if let Sink::Pcap(w, _) = &mut sink {
        let _ = w.flush();
    }
    if !started {
        return Err("rswitchd closed the connection".into());
    }
    let dropped = summary.map(|s| s.1).unwrap_or(0);
    eprintln!("{got} packets captured, {dropped} dropped by the switch (slow reader)");
    Ok(0)
}

fn emit(sink: &mut Sink, o: &Options, p: &PacketEvent) -> Result<(), String> {
    let frame = unhex(&p.frame).map_err(|e| format!("bad frame from rswitchd: {e}"))?;
    match sink {
        Sink::Pcap(w, to_stdout) => {
            w.write(p.ts_ns, &frame, p.orig_len)
                .and_then(|_| w.flush())
                .map_err(|e| format!("writing the capture: {e}"))?;
            if !*to_stdout {
                if let Some(t) = &p.trace {
                    println!("{}", line(p, &frame));
                    print!("{}", indent(t));
                }
            }
        }
        Sink::Lines if o.json => {
            let mut v = serde_json::json!({
                "time": clock(p.ts_ns),
                "ts_ns": p.ts_ns,
                "bridge": p.bridge,
                "port": p.port,
                "ofport": p.ofport,
                "direction": p.direction,
                "len": frame.len(),
                "orig_len": p.orig_len,
                "summary": decode::summarize(&frame),
                "frame": p.frame,
            });
            if let Some(t) = &p.trace_json {
                v["trace"] = t.clone();
            }
            println!("{v}");
        }
        Sink::Lines => {
            println!("{}", line(p, &frame));
            if let Some(t) = &p.trace {
                print!("{}", indent(t));
            }
        }
    }
    let _ = io::stdout().flush();
    Ok(())
}

/// `18:01:02.123456 in  vm1 IP 198.18.0.1 > …`
pub fn line(p: &PacketEvent, frame: &[u8]) -> String {
    let dir = match p.direction {
        datapath::capture::Direction::In => "in ",
        datapath::capture::Direction::Out => "out",
    };
    format!(
        "{} {dir} {} {}",
        clock(p.ts_ns),
        p.port,
        decode::summarize(frame)
    )
}

fn indent(t: &str) -> String {
    t.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("    {l}\n")
            }
        })
        .collect()
}

/// Local wall-clock time of day with microseconds, as tcpdump prints it.
pub fn clock(ts_ns: u64) -> String {
    let secs = (ts_ns / 1_000_000_000) as libc::time_t;
    let micros = (ts_ns % 1_000_000_000) / 1000;
    // SAFETY: localtime_r fills the zeroed tm we own from a valid time_t.
    let (h, m, s) = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            let d = secs.rem_euclid(86_400);
            ((d / 3600) as i32, (d / 60 % 60) as i32, (d % 60) as i32)
        } else {
            (tm.tm_hour, tm.tm_min, tm.tm_sec)
        }
    };
    format!("{h:02}:{m:02}:{s:02}.{micros:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn arguments_parse_and_errors_name_the_token() {
        let o = parse_args(&a("br0 p1 icmp -c 5 -w /tmp/x.pcap --direction in --trace")).unwrap();
        assert_eq!(o.args.operands, a("br0 p1 icmp"));
        assert_eq!(o.args.count, Some(5));
        assert_eq!(o.args.direction.as_deref(), Some("in"));
        assert_eq!(o.args.trace.as_deref(), Some("text"));
        assert_eq!(o.write.as_deref(), Some("/tmp/x.pcap"));
        let o = parse_args(&a("p1 --trace --format=json")).unwrap();
        assert_eq!(o.args.trace.as_deref(), Some("json"));
        assert_eq!(
            parse_args(&a("p1 -c five")).unwrap_err(),
            "-c: COUNT \"five\" is not a number"
        );
        assert_eq!(
            parse_args(&a("p1 --direction sideways")).unwrap_err(),
            "--direction: sideways: bad direction (use in, out or both)"
        );
        assert!(parse_args(&a("p1 --bogus"))
            .unwrap_err()
            .starts_with("--bogus: unknown option"));
        assert!(parse_args(&a("p1 -c"))
            .unwrap_err()
            .starts_with("-c: missing COUNT"));
        assert!(parse_args(&a("-c 1"))
            .unwrap_err()
            .starts_with("missing PORT"));
    }

    #[test]
    fn lines_look_like_tcpdump() {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
        f.extend_from_slice(&[
            0x45, 0, 0, 84, 0, 1, 0x40, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ]);
        f.extend_from_slice(&[8, 0, 0, 0, 0, 5, 0, 1]);
        f.extend_from_slice(&[0; 56]);
        let p = PacketEvent {
            ts_ns: 1_700_000_000_123_456_789,
            bridge: "br0".into(),
            port: "vm1".into(),
            ofport: 1,
            direction: datapath::capture::Direction::In,
            orig_len: f.len(),
            frame: super::super::hex(&f),
            trace: None,
            trace_json: None,
        };
        let l = line(&p, &f);
        let (time, rest) = l.split_once(' ').unwrap();
        assert!(time.ends_with(".123456") && time.len() == 15, "{time}");
        assert_eq!(
            rest,
            "in  vm1 IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 5, seq 1, length 64"
        );
    }
}
