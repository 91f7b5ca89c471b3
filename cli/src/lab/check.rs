//! Lab checks: their one-line grammar, running them (bounded in time) and
//! the pass/fail table. Also the hidden TCP helpers (`rswitch lab
//! _tcp-serve` / `_tcp-send`) that the `tcp` check runs inside namespaces.
//!
//! ```text
//! ping FROM -> TO: ok|blocked            TO: an address or a host name
//! tcp FROM -> TO[:PORT]: ok|blocked [from SRC]
//! dhcp HOST DEV: LO-HI via ROUTER        a lease in LO-HI, default via ROUTER
//! [on HOST:] flows BR [ARGS…] contains|lacks TEXT   (dump-flows BR ARGS)
//! [on HOST:] ofctl ARGS… contains|lacks TEXT
//! [on HOST:] rswitch ARGS… contains|lacks TEXT
//! ```

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::plan::Names;
use super::spec::Lab;
use super::sys;

/// One check as written, and what it probes.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub text: String,
    pub probe: Probe,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Ping {
        from: String,
        to: String,
        to_addr: Option<Ipv4Addr>,
        want: bool,
    },
    Tcp {
        from: String,
        to: String,
        to_addr: Option<Ipv4Addr>,
        port: u16,
        want: bool,
        /// The host serving `to_addr` (filled in by validation).
        server: String,
        /// The source address the server must see (NAT).
        source: Option<Ipv4Addr>,
    },
    Dhcp {
        host: String,
        dev: String,
        lo: Ipv4Addr,
        hi: Ipv4Addr,
        router: Ipv4Addr,
    },
    /// `rswitch` / `rswitch-ofctl` output on a switch host.
    Daemon {
        on: String,
        ofctl: bool,
        argv: Vec<String>,
        text: String,
        want: bool,
    },
}

/// The default TCP check port.
pub const TCP_PORT: u16 = 7001;
/// Bytes sent by a TCP check (enough for segmentation offloads to matter).
const TCP_BYTES: u64 = 8 << 20;

fn ok_blocked(s: &str) -> Result<bool, String> {
    match s.trim() {
        "ok" => Ok(true),
        "blocked" => Ok(false),
        o => Err(format!("expected `ok` or `blocked`, not {o:?}")),
    }
}

fn ip(s: &str) -> Result<Ipv4Addr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{:?} is not an IPv4 address", s.trim()))
}

/// Parses one check line (host names are checked by the spec).
pub fn parse(text: &str) -> Result<Check, String> {
    let t = text.trim();
    let (on, rest) = match t.strip_prefix("on ") {
        Some(r) => {
            let (h, r) = r
                .split_once(':')
                .ok_or("`on HOST:` needs a colon after the host")?;
            (h.trim().to_string(), r.trim())
        }
        None => (String::new(), t),
    };
    let (kind, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim();
    let probe = match kind {
        "ping" | "tcp" if on.is_empty() => {
            let (from, rest) = args
                .split_once("->")
                .ok_or_else(|| format!("expected `{kind} FROM -> TO: ok|blocked`"))?;
            let (to, verdict) = rest
                .split_once(": ")
                .or_else(|| rest.rsplit_once(':'))
                .ok_or_else(|| format!("expected `{kind} FROM -> TO: ok|blocked`"))?;
            let from = from.trim().to_string();
            if from.is_empty() || from.contains(' ') {
                return Err(format!("bad source host {from:?}"));
            }
            let to = to.trim().to_string();
            if kind == "ping" {
                Probe::Ping {
                    from,
                    to,
                    to_addr: None,
                    want: ok_blocked(verdict)?,
                }
            } else {
                let (to, port) = match to.split_once(':') {
                    Some((a, p)) => (
                        a.to_string(),
                        p.parse().map_err(|_| format!("bad port {p:?}"))?,
                    ),
                    None => (to, TCP_PORT),
                };
                let mut v = verdict.split_whitespace();
                let want = ok_blocked(v.next().unwrap_or(""))?;
                let source = match (v.next(), v.next(), v.next()) {
                    (None, _, _) => None,
                    (Some("from"), Some(a), None) => Some(ip(a)?),
                    _ => return Err("after `ok` only `from ADDRESS` may follow".into()),
                };
                Probe::Tcp {
                    from,
                    to,
                    to_addr: None,
                    port,
                    want,
                    server: String::new(),
                    source,
                }
            }
        }
        "dhcp" if on.is_empty() => {
            let usage = "expected `dhcp HOST DEV: LO-HI via ROUTER`";
            let (hd, rest) = args.split_once(':').ok_or(usage)?;
            let mut hd = hd.split_whitespace();
            let (Some(host), Some(dev), None) = (hd.next(), hd.next(), hd.next()) else {
                return Err(usage.into());
            };
            let (range, router) = rest.split_once(" via ").ok_or(usage)?;
            let (lo, hi) = range.split_once('-').ok_or(usage)?;
            Probe::Dhcp {
                host: host.into(),
                dev: dev.into(),
                lo: ip(lo)?,
                hi: ip(hi)?,
                router: ip(router)?,
            }
        }
        "flows" | "ofctl" | "rswitch" => {
            let (cmd, want, text) = if let Some((c, x)) = args.split_once(" contains ") {
                (c, true, x)
            } else if let Some((c, x)) = args.split_once(" lacks ") {
                (c, false, x)
            } else {
                return Err(format!(
                    "expected `{kind} … contains TEXT` or `… lacks TEXT`"
                ));
            };
            let mut argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
            if argv.is_empty() {
                return Err(format!("`{kind}` needs arguments"));
            }
            if kind == "flows" {
                argv.insert(0, "dump-flows".into());
            }
            Probe::Daemon {
                on,
                ofctl: kind != "rswitch",
                argv,
                text: text.trim().to_string(),
                want,
            }
        }
        "ping" | "tcp" | "dhcp" => return Err(format!("`on HOST:` does not apply to {kind}")),
        other => {
            return Err(format!(
                "unknown check {other:?} (ping, tcp, dhcp, flows, ofctl, rswitch)"
            ))
        }
    };
    Ok(Check {
        text: t.to_string(),
        probe,
    })
}

/// A check's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub pass: bool,
    pub detail: String,
}

fn ping_once(ns: &str, addr: Ipv4Addr, count: &str, interval: &str) -> bool {
    let argv: Vec<String> = ["ping", "-n", "-q", "-c", count, "-i", interval, "-W", "1"]
        .iter()
        .map(|s| s.to_string())
        .chain([addr.to_string()])
        .collect();
    sys::exec_in(ns, &argv, Duration::from_secs(6)).is_ok_and(|o| o.ok())
}

/// Runs one check.
pub fn run(c: &Check, names: &Names) -> Outcome {
    let fail = |d: String| Outcome {
        pass: false,
        detail: d,
    };
    match &c.probe {
        Probe::Ping {
            from,
            to_addr,
            want,
            ..
        } => {
            let Some(a) = *to_addr else {
                return fail("unresolved address".into());
            };
            let ns = names.ns(from);
            let got = if *want {
                // Up to ~8 s: the first packets may go to ARP and learning.
                let deadline = Instant::now() + Duration::from_secs(8);
                let mut ok = false;
                while !ok && Instant::now() < deadline {
                    ok = ping_once(&ns, a, "2", "0.2");
                }
                ok
            } else {
                ping_once(&ns, a, "3", "0.3")
            };
            Outcome {
                pass: got == *want,
                detail: if got { "replies" } else { "no reply" }.into(),
            }
        }
        Probe::Tcp {
            from,
            to_addr,
            port,
            want,
            server,
            source,
            ..
        } => {
            let Some(a) = *to_addr else {
                return fail("unresolved address".into());
            };
            match tcp_probe(&names.ns(from), &names.ns(server), a, *port, *want) {
                Ok(peer) => {
                    let mut pass = *want;
                    let mut detail = format!("{} MiB echoed; server saw {peer}", TCP_BYTES >> 20);
                    if let Some(s) = source {
                        if peer != *s {
                            pass = false;
                            detail = format!("server saw source {peer}, expected {s}");
                        }
                    }
                    Outcome { pass, detail }
                }
                Err(e) => Outcome {
                    pass: !*want,
                    detail: e,
                },
            }
        }
        Probe::Dhcp {
            host,
            dev,
            lo,
            hi,
            router,
        } => {
            let ns = names.ns(host);
            let deadline = Instant::now() + Duration::from_secs(45);
            let mut last = String::from("no address");
            loop {
                let addr = sys::ip_in(&ns, &["-4", "-o", "addr", "show", "dev", dev])
                    .ok()
                    .and_then(|o| {
                        let w = o
                            .split_whitespace()
                            .skip_while(|w| *w != "inet")
                            .nth(1)?
                            .to_string();
                        w.split('/').next()?.parse::<Ipv4Addr>().ok()
                    });
                let route =
                    sys::ip_in(&ns, &["-4", "route", "show", "default"]).unwrap_or_default();
                if let Some(a) = addr {
                    let in_range = u32::from(a) >= u32::from(*lo) && u32::from(a) <= u32::from(*hi);
                    let via = route.contains(&format!("via {router} "))
                        || route.trim_end().ends_with(&format!("via {router}"));
                    last = format!(
                        "{a}, default route: {}",
                        if route.trim().is_empty() {
                            "none"
                        } else {
                            route.trim()
                        }
                    );
                    if in_range && via {
                        return Outcome {
                            pass: true,
                            detail: format!("leased {a}, default via {router}"),
                        };
                    }
                }
                if Instant::now() >= deadline {
                    return fail(format!("after 45 s: {last}"));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        Probe::Daemon {
            on,
            ofctl,
            argv,
            text,
            want,
        } => {
            let r = daemon_call(&names.rundir(on), *ofctl, argv.clone(), Vec::new());
            match r {
                Ok(out) => {
                    let has = out.contains(text.as_str());
                    Outcome {
                        pass: has == *want,
                        detail: if has { "found" } else { "not found" }.into(),
                    }
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// Runs an `rswitch` (vsctl) or `rswitch-ofctl` command against the
/// rswitchd of run directory `rundir`; returns stdout, or its error.
pub fn daemon_call(
    rundir: &std::path::Path,
    ofctl: bool,
    argv: Vec<String>,
    files: Vec<(String, String)>,
) -> Result<String, String> {
    use crate::control::{call, socket_path, Request, Tool};
    let req = Request {
        tool: if ofctl { Tool::Ofctl } else { Tool::Vsctl },
        argv,
        files,
    };
    let r = call(&socket_path(rundir), &req, Duration::from_secs(60))
        .map_err(|e| format!("rswitchd ({}): {e}", rundir.display()))?;
    if r.exit != 0 {
        let e = r.stderr.trim();
        return Err(if e.is_empty() {
            format!("exit {}", r.exit)
        } else {
            e.to_string()
        });
    }
    Ok(r.stdout)
}

/// Runs a TCP echo of `TCP_BYTES` from namespace `from` to `addr:port`
/// served in namespace `server`; returns the client address the server
/// saw, or why it failed. Bounded: ~20 s when `want`, ~4 s otherwise.
fn tcp_probe(
    from: &str,
    server: &str,
    addr: Ipv4Addr,
    port: u16,
    want: bool,
) -> Result<Ipv4Addr, String> {
    let secs = if want { 20 } else { 4 };
    let exe = sys::bin("rswitch");
    let mut srv = Command::new("ip")
        .args(["netns", "exec", server])
        .arg(&exe)
        .args([
            "lab",
            "_tcp-serve",
            &addr.to_string(),
            &port.to_string(),
            &secs.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the TCP server: {e}"))?;
    let start = sys::start_time(srv.id());
    let stop_srv = |srv: &mut std::process::Child| {
        if let Some(st) = start {
            sys::stop(srv.id(), st, Duration::from_secs(1));
        }
        let _ = srv.wait();
    };
    // Wait for "listening".
    let mut line = String::new();
    let ready = {
        let out = srv.stdout.take();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(o) = out {
                let mut r = std::io::BufReader::new(o);
                let _ = r.read_line(&mut line);
                let _ = tx.send(line);
                let mut rest = String::new();
                let _ = r.read_to_string(&mut rest);
            }
        });
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(l) => {
                line = l;
                line.starts_with("listening")
            }
            Err(_) => false,
        }
    };
    if !ready {
        stop_srv(&mut srv);
        let mut e = String::new();
        if let Some(mut se) = srv.stderr.take() {
            let _ = se.read_to_string(&mut e);
        }
        return Err(format!(
            "TCP server in {server} did not start: {} {}",
            line.trim(),
            e.trim()
        ));
    }
    let argv: Vec<String> = vec![
        exe.display().to_string(),
        "lab".into(),
        "_tcp-send".into(),
        addr.to_string(),
        port.to_string(),
        TCP_BYTES.to_string(),
        secs.to_string(),
    ];
    let r = sys::exec_in(from, &argv, Duration::from_secs(secs + 5));
    stop_srv(&mut srv);
    let o = r?;
    if !o.ok() {
        return Err(o.why());
    }
    let peer = o
        .stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("peer="))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("unexpected client output {:?}", o.stdout.trim()))?;
    Ok(peer)
}

/// `rswitch lab _tcp-serve ADDR PORT SECS`: accepts one connection, reads
/// to EOF, answers `peer=IP bytes=N`. Exits after SECS in any case.
pub fn tcp_serve(args: &[String]) -> Result<(), String> {
    let [addr, port, secs] = args else {
        return Err("usage: _tcp-serve ADDR PORT SECS".into());
    };
    let secs: u64 = secs.parse().map_err(|_| "bad SECS")?;
    let l = TcpListener::bind(format!("{addr}:{port}"))
        .map_err(|e| format!("bind {addr}:{port}: {e}"))?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    println!("listening");
    let _ = std::io::stdout().flush();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut s, peer) = loop {
        match l.accept() {
            Ok(x) => break x,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err("no connection".into());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    s.set_nonblocking(false).map_err(|e| e.to_string())?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n: u64 = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => n += k as u64,
            Err(e) => return Err(format!("read: {e}")),
        }
        if Instant::now() >= deadline {
            return Err("timed out reading".into());
        }
    }
    let ip = match peer {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => a.ip().to_string(),
    };
    s.write_all(format!("peer={ip} bytes={n}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// `rswitch lab _tcp-send ADDR PORT BYTES SECS`: connects, sends BYTES,
/// prints the server's answer; fails unless all bytes arrived.
pub fn tcp_send(args: &[String]) -> Result<(), String> {
    let [addr, port, bytes, secs] = args else {
        return Err("usage: _tcp-send ADDR PORT BYTES SECS".into());
    };
    let sa: SocketAddr = format!("{addr}:{port}")
        .parse()
        .map_err(|_| "bad address")?;
    let bytes: u64 = bytes.parse().map_err(|_| "bad BYTES")?;
    let secs: u64 = secs.parse().map_err(|_| "bad SECS")?;
    let t = Duration::from_secs(secs.max(1));
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(3))
        .map_err(|e| format!("connect {sa}: {e}"))?;
    s.set_write_timeout(Some(t)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(t)).map_err(|e| e.to_string())?;
    let chunk = vec![0x5au8; 1 << 16];
    let mut left = bytes;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        s.write_all(&chunk[..k]).map_err(|e| format!("send: {e}"))?;
        left -= k as u64;
    }
    s.shutdown(std::net::Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("reply: {e}"))?;
    let got: u64 = answer
        .split_whitespace()
        .find_map(|w| w.strip_prefix("bytes="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if got != bytes {
        return Err(format!(
            "server got {got} of {bytes} bytes ({})",
            answer.trim()
        ));
    }
    println!("{}", answer.trim());
    Ok(())
}

/// Runs all checks; consecutive ping checks run in parallel (a blocked
/// ping costs seconds), everything else in order. Returns outcomes in
/// the checks' order.
pub fn run_all(
    lab: &Lab,
    names: &Names,
    mut progress: impl FnMut(usize, &Check, &Outcome),
) -> Vec<Outcome> {
    let mut out: Vec<Option<Outcome>> = vec![None; lab.checks.len()];
    let mut i = 0;
    while i < lab.checks.len() {
        let mut j = i;
        while j < lab.checks.len() && matches!(lab.checks[j].probe, Probe::Ping { .. }) {
            j += 1;
        }
        if j > i {
            let group: Vec<Outcome> = std::thread::scope(|s| {
                let hs: Vec<_> = lab.checks[i..j]
                    .iter()
                    .map(|c| s.spawn(move || run(c, names)))
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        h.join().unwrap_or(Outcome {
                            pass: false,
                            detail: "check panicked".into(),
                        })
                    })
                    .collect()
            });
            for (k, o) in group.into_iter().enumerate() {
                progress(i + k, &lab.checks[i + k], &o);
                out[i + k] = Some(o);
            }
            i = j;
        } else {
            let o = run(&lab.checks[i], names);
            progress(i, &lab.checks[i], &o);
            out[i] = Some(o);
            i += 1;
        }
    }
    out.into_iter().flatten().collect()
}

/// The pass/fail table.
pub fn table(checks: &[Check], outcomes: &[Outcome]) -> String {
    let w = checks
        .iter()
        .map(|c| c.text.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut s = format!(
        "{:>3}  {:<w$}  {:<6}  {}\n",
        "#", "check", "result", "detail"
    );
    for (i, (c, o)) in checks.iter().zip(outcomes).enumerate() {
        s += &format!(
            "{:>3}  {:<w$}  {:<6}  {}\n",
            i + 1,
            c.text,
            if o.pass { "pass" } else { "FAIL" },
            o.detail
        );
    }
    let passed = outcomes.iter().filter(|o| o.pass).count();
    s += &format!("{passed}/{} checks passed\n", outcomes.len());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let c = parse("ping ns1 -> 198.18.0.3: ok").unwrap();
        assert!(
            matches!(c.probe, Probe::Ping { ref from, ref to, want: true, .. } if from == "ns1" && to == "198.18.0.3")
        );
        let c = parse("ping vlan110net -> vlan200net: blocked").unwrap();
        assert!(matches!(c.probe, Probe::Ping { want: false, .. }));
        let c = parse("tcp tenB -> 198.19.235.2:7100: ok from 198.19.235.3").unwrap();
        assert!(matches!(
            c.probe,
            Probe::Tcp {
                port: 7100,
                want: true,
                source: Some(_),
                ..
            }
        ));
        let c = parse("dhcp dhcpcli cli100: 198.18.3.5-198.18.3.150 via 198.18.3.1").unwrap();
        assert!(matches!(c.probe, Probe::Dhcp { ref dev, .. } if dev == "cli100"));
        let c =
            parse("on hostB: flows br-tun table=20 contains dl_dst=fa:16:3e:2a:46:e0 actions=x")
                .unwrap();
        match c.probe {
            Probe::Daemon {
                on,
                ofctl,
                argv,
                text,
                want,
            } => {
                assert_eq!(on, "hostB");
                assert!(ofctl && want);
                assert_eq!(argv, ["dump-flows", "br-tun", "table=20"]);
                assert_eq!(text, "dl_dst=fa:16:3e:2a:46:e0 actions=x");
            }
            o => panic!("{o:?}"),
        }
        let c = parse("rswitch get Interface tap1 external-ids lacks x").unwrap();
        assert!(matches!(
            c.probe,
            Probe::Daemon {
                ofctl: false,
                want: false,
                ..
            }
        ));
        for bad in [
            "ping ns1 198.18.0.3: ok",
            "ping ns1 -> 198.18.0.3: maybe",
            "tcp a -> b: ok to x",
            "dhcp h: 1.2.3.4 via 1.2.3.4",
            "flows br0",
            "on h: ping a -> b: ok",
            "traceroute a -> b",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
