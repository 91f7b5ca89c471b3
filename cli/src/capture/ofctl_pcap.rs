//! `rswitch-ofctl trace BR --pcap FILE [--in-port N | in_port=N]
//! [--format json]`: the packets of a capture file traced one by one
//! against the daemon's bridge, or offline against a flows file
//! (`trace --flows FLOWS --pcap FILE [--port NAME=N]...`). The key of each
//! packet comes from its bytes (`datapath::extract`); the input port (and
//! any tunnel fields) from the command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ofproto::pipeline::Switch;

use super::pcap::{parse, PcapRecord};
use super::{client::clock, decode, frame_key, hex};
use crate::control::{Request, Tool};

/// The command line of a `trace --pcap`.
#[derive(Debug, Default, PartialEq, Eq)]
struct PcapTrace {
    pcap: String,
    /// `in_port=N[,tun_id=…]`: the fields the frame cannot give.
    desc: String,
    json: bool,
    generate: bool,
    flows: Option<String>,
    ports: Vec<String>,
    /// Operands and other options, in order (`trace`, `BR`, `--names`…).
    rest: Vec<String>,
}

fn parse_args(argv: &[String]) -> Result<Option<PcapTrace>, String> {
    if !argv
        .iter()
        .any(|a| a == "--pcap" || a.starts_with("--pcap="))
    {
        return Ok(None);
    }
    let mut t = PcapTrace::default();
    let mut in_port = None;
    let mut descs = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a, None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            argv.get(i)
                .cloned()
                .ok_or_else(|| format!("option '{name}' requires an argument"))
        };
        match name {
            "--pcap" => t.pcap = value()?,
            "--in-port" => in_port = Some(value()?),
            "--flows" => t.flows = Some(value()?),
            "--port" => t.ports.push(value()?),
            "--format" => {
                let v = value()?;
                t.json = match v.as_str() {
                    "json" => true,
                    "text" => false,
                    _ => return Err(format!("{v}: unknown output format (use text or json)")),
                };
            }
            "--generate" | "-generate" => t.generate = true,
            _ if a.contains('=') && !a.starts_with('-') => descs.push(a.to_string()),
            _ => t.rest.push(a.to_string()),
        }
        i += 1;
    }
    if let Some(p) = in_port {
        descs.insert(0, format!("in_port={p}"));
    }
    t.desc = descs.join(",");
    if !t.desc.contains("in_port") {
        return Err("trace --pcap: give the input port: --in-port N or in_port=N".into());
    }
    if t.pcap.is_empty() {
        return Err("--pcap needs a file".into());
    }
    Ok(Some(t))
}

/// Handles `trace … --pcap`; `None` when the command is something else.
pub fn main(argv: &[String], rundir: Option<&str>) -> Option<u8> {
    if argv
        .iter()
        .find(|a| !a.starts_with('-'))
        .is_none_or(|c| c != "trace" && c != "ofproto/trace")
    {
        return None;
    }
    let t = match parse_args(argv) {
        Ok(Some(t)) => t,
        Ok(None) => return None,
        Err(e) => {
            eprintln!("rswitch-ofctl: {e}");
            return Some(1);
        }
    };
    match run(&t, rundir) {
        Ok(()) => Some(0),
        Err(e) => {
            eprintln!("rswitch-ofctl: {e}");
            Some(1)
        }
    }
}

/// Reads a capture file; errors name the file and the record.
pub fn read_pcap(path: &str) -> Result<Vec<PcapRecord>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    parse(&data).map_err(|e| format!("{path}: {e}"))
}

fn run(t: &PcapTrace, rundir: Option<&str>) -> Result<(), String> {
    let records = read_pcap(&t.pcap)?;
    let mut tracer: Tracer = match &t.flows {
        Some(file) => offline(t, file)?,
        None => online(t, rundir)?,
    };
    let mut json = Vec::new();
    for (n, r) in records.iter().enumerate() {
        let out = tracer(r).map_err(|e| format!("{}: record {}: {e}", t.pcap, n + 1))?;
        let summary = decode::summarize(&r.frame);
        if t.json {
            let trace: serde_json::Value =
                serde_json::from_str(&out).map_err(|e| format!("bad trace from rswitchd: {e}"))?;
            json.push(serde_json::json!({
                "packet": n + 1,
                "time": clock(r.ts_ns),
                "ts_ns": r.ts_ns,
                "len": r.frame.len(),
                "summary": summary,
                "trace": trace,
            }));
        } else {
            if n > 0 {
                println!();
            }
            println!(
                "Packet {} ({}, {} bytes): {summary}",
                n + 1,
                clock(r.ts_ns),
                r.frame.len()
            );
            print!("{out}");
        }
    }
    if t.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

type Tracer = Box<dyn FnMut(&PcapRecord) -> Result<String, String>>;

fn offline(t: &PcapTrace, file: &str) -> Result<Tracer, String> {
    let b = crate::ofctl::offline::bridge_from_file(file, &t.ports, |_| {})?;
    let map = b.port_map();
    let mut sw = Switch::new();
    let i = sw.add_bridge(b);
    let (desc, json, generate) = (t.desc.clone(), t.json, t.generate);
    Ok(Box::new(move |r: &PcapRecord| {
        let key = frame_key(&desc, &r.frame, Some(&map))?;
        let rep = ofproto::trace::trace(&mut sw, i, &key, 0, generate);
        Ok(if json { rep.to_json() } else { rep.to_text() })
    }))
}

fn online(t: &PcapTrace, rundir: Option<&str>) -> Result<Tracer, String> {
    let mut sock = crate::control::socket_path(&crate::control::default_rundir(rundir));
    let mut rest = t.rest.clone();
    // `trace BR`: BR may be the daemon's socket (its only bridge).
    let ops: Vec<usize> = (0..rest.len())
        .filter(|&i| !rest[i].starts_with('-'))
        .collect();
    let Some(&br) = ops.get(1) else {
        return Err("trace --pcap: missing bridge (or --flows FILE)".into());
    };
    if ops.len() > 2 {
        return Err(format!("{}: unexpected operand", rest[ops[2]]));
    }
    let path = rest[br]
        .strip_prefix("unix:")
        .unwrap_or(&rest[br])
        .to_string();
    let is_socket = std::fs::metadata(&path)
        .map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
        .unwrap_or(false);
    if is_socket {
        sock = PathBuf::from(path);
        rest[br] = crate::control::ONLY_BRIDGE.to_string();
    }
    if t.json {
        rest.insert(0, "--format=json".into());
    }
    if t.generate {
        rest.push("-generate".into());
    }
    let desc = t.desc.clone();
    Ok(Box::new(move |r: &PcapRecord| {
        let mut argv = rest.clone();
        let at = argv.len() - usize::from(argv.last().is_some_and(|a| a == "-generate"));
        argv.insert(at, format!("{desc},packet={}", hex(&r.frame)));
        ask(&sock, argv)
    }))
}

fn ask(sock: &Path, argv: Vec<String>) -> Result<String, String> {
    let req = Request {
        tool: Tool::Ofctl,
        argv,
        files: Vec::new(),
    };
    let r =
        crate::control::call(sock, &req, Duration::from_secs(120)).map_err(|e| e.to_string())?;
    if r.exit != 0 {
        return Err(r.stderr.trim_end().to_string());
    }
    eprint!("{}", r.stderr);
    Ok(r.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&a("trace br0 in_port=1,ip")).unwrap(), None);
        let t = parse_args(&a("trace br0 --pcap x.pcap --in-port 3 --format json"))
            .unwrap()
            .unwrap();
        assert_eq!(t.pcap, "x.pcap");
        assert_eq!(t.desc, "in_port=3");
        assert!(t.json);
        assert_eq!(t.rest, a("trace br0"));
        let t = parse_args(&a("trace --flows f.txt --pcap=x in_port=p1 --port p1=1"))
            .unwrap()
            .unwrap();
        assert_eq!(t.flows.as_deref(), Some("f.txt"));
        assert_eq!(t.desc, "in_port=p1");
        assert_eq!(t.ports, a("p1=1"));
        assert!(parse_args(&a("trace br0 --pcap x"))
            .unwrap_err()
            .contains("input port"));
    }
}
