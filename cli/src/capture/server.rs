//! rswitchd's side of `rswitch capture`: resolves the port and filter,
//! starts a tap, and streams one JSON line per packet on its own thread
//! (so the daemon keeps serving other requests) until COUNT is reached or
//! the client goes away; then the tap is removed.

use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use datapath::capture::{Capture, Directions, OuterSpec, TapHandle, TapSpec, DEFAULT_SNAPLEN};
use datapath::port::tunnel_port::TunnelConfig;
use datapath::tunnel::TunnelKind;
use ofproto::syntax::flow::{parse_flow_mod, FlowModCommand};

use super::{hex, CaptureArgs, Event, PacketEvent};
use crate::control::Request;
use crate::daemon::Daemon;

/// A port as the daemon runs it.
#[derive(Clone, Debug)]
pub struct PortRef {
    pub name: String,
    pub bridge: String,
    /// Bridge index in the switch.
    pub index: usize,
    pub ofport: u32,
    /// Tunnel ports: kind, configured local address, configuration.
    pub tunnel: Option<(TunnelKind, Option<Ipv4Addr>, TunnelConfig)>,
}

/// A started capture, ready to stream.
pub struct Session {
    tap: TapHandle,
    cap: Capture,
    port: PortRef,
    count: Option<u64>,
    trace: Option<String>,
}

/// Writes a one-line error answer.
pub fn write_error(s: &mut UnixStream, message: &str) {
    let _ = write_event(
        s,
        &Event::Error {
            message: message.to_string(),
        },
    );
}

fn write_event(s: &mut UnixStream, e: &Event) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)
}

/// Checks a capture request and starts its tap. Errors name the offending
/// token.
pub fn start(d: &Daemon, req: &Request) -> Result<Session, String> {
    if !datapath::capture::ENABLED {
        return Err("rswitch capture: this rswitchd was built without capture".into());
    }
    let args: CaptureArgs = match req.argv.as_slice() {
        [one] => {
            serde_json::from_str(one).map_err(|e| format!("malformed capture request: {e}"))?
        }
        _ => return Err("malformed capture request".into()),
    };
    let ports = d.capture_ports();
    let is_bridge = |n: &str| ports.iter().any(|p| p.bridge == n);
    let ops = &args.operands;
    let (bridge, port_name, filter) = match ops.as_slice() {
        [] => {
            return Err(
                "rswitch capture: missing PORT (usage: rswitch capture [BR] PORT [FILTER])".into(),
            )
        }
        [b, p, rest @ ..] if is_bridge(b) && ports.iter().any(|x| x.name == *p) => {
            (Some(b.as_str()), p.as_str(), rest)
        }
        [p, rest @ ..] => (None, p.as_str(), rest),
    };
    let port = match ports.iter().find(|p| p.name == port_name) {
        Some(p) if bridge.is_none_or(|b| b == p.bridge) => p.clone(),
        Some(p) => {
            return Err(format!(
                "rswitch capture: {port_name}: port is on bridge {}, not {}",
                p.bridge,
                bridge.unwrap_or_default()
            ))
        }
        None if is_bridge(port_name) && ops.len() == 1 => {
            return Err(format!(
                "rswitch capture: {port_name}: is a bridge; name a port of it (its LOCAL port is also called {port_name})"
            ))
        }
        None => return Err(format!("rswitch capture: {port_name}: no such port")),
    };
    let mut spec = TapSpec::new((port.index, port.ofport));
    if let Some(dir) = &args.direction {
        spec.directions = dir
            .parse::<Directions>()
            .map_err(|e| format!("rswitch capture: --direction {e}"))?;
    }
    if let Some(n) = args.snaplen {
        spec.snaplen = n.clamp(14, DEFAULT_SNAPLEN);
    }
    if !filter.is_empty() {
        let text = filter.join(",");
        let map = d
            .engine()
            .read_switch(|sw, _| sw.bridges.get(port.index).map(|b| b.port_map()));
        let fm = parse_flow_mod(&text, FlowModCommand::Delete, map.as_ref())
            .map_err(|e| format!("rswitch capture: bad filter {text:?}: {e}"))?;
        if !fm.warnings.is_empty() {
            return Err(format!(
                "rswitch capture: bad filter {text:?}: {}",
                fm.warnings.join("; ")
            ));
        }
        if !fm.actions.is_empty() {
            return Err(format!(
                "rswitch capture: bad filter {text:?}: a filter has no actions"
            ));
        }
        spec.filter = Some(fm.matched);
    }
    if args.outer {
        let Some((kind, local, cfg)) = &port.tunnel else {
            return Err(format!(
                "rswitch capture: --outer: {} is not a tunnel port",
                port.name
            ));
        };
        spec.outer = Some(OuterSpec {
            kind: *kind,
            local: local
                .or_else(|| cfg.remote.and_then(route_source))
                .unwrap_or(Ipv4Addr::UNSPECIFIED),
            remote: cfg.remote,
            out_key: cfg.out_key,
            dst_port: cfg.opts.dst_port,
            ttl: cfg.opts.ttl,
            df: cfg.opts.df,
            csum: cfg.opts.csum,
        });
    }
    if let Some(t) = &args.trace {
        if t != "text" && t != "json" {
            return Err(format!("rswitch capture: --format {t}: use text or json"));
        }
    }
    let cap = d.engine().capture();
    let tap = cap.registry.add(spec);
    tracing::info!(
        "capture started on {} ({} port {})",
        port.name,
        port.bridge,
        port.ofport
    );
    Ok(Session {
        tap,
        cap,
        port,
        count: args.count,
        trace: args.trace,
    })
}

/// The source address the kernel would use towards `remote` (no packet
/// is sent: connecting a UDP socket only picks the route).
fn route_source(remote: Ipv4Addr) -> Option<Ipv4Addr> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    s.connect((remote, 4789)).ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(a) => Some(a),
        _ => None,
    }
}

impl Session {
    /// Streams the capture on a thread of its own.
    pub fn spawn(self, s: UnixStream) {
        let name = format!("rswitch-capture-{}", self.port.name);
        let r = std::thread::Builder::new()
            .name(name)
            .spawn(move || self.serve(s));
        if let Err(e) = r {
            tracing::warn!("capture: cannot start a thread: {e}");
        }
    }

    fn serve(self, mut s: UnixStream) {
        let _ = s.set_read_timeout(None);
        let _ = s.set_write_timeout(None);
        let started = Event::Started {
            bridge: self.port.bridge.clone(),
            port: self.port.name.clone(),
            ofport: self.port.ofport,
            outer: self.tap.spec().outer.is_some(),
        };
        if write_event(&mut s, &started).is_err() {
            return;
        }
        let mut sent = 0u64;
        let mut last_check = Instant::now();
        let mut client_open = true;
        while self.count.is_none_or(|c| sent < c) {
            match self.tap.recv_timeout(Duration::from_millis(100)) {
                Some(r) => {
                    let (trace, trace_json) = match self.trace.as_deref() {
                        Some(f) => match self.cap.trace(&r) {
                            Some(rep) if f == "json" => (None, serde_json::to_value(&rep).ok()),
                            Some(rep) => (Some(rep.to_text()), None),
                            None => (Some("(no trace: the bridge is gone)\n".into()), None),
                        },
                        None => (None, None),
                    };
                    let e = Event::Packet(PacketEvent {
                        ts_ns: r.ts_ns,
                        bridge: self.port.bridge.clone(),
                        port: self.port.name.clone(),
                        ofport: self.port.ofport,
                        direction: r.direction,
                        orig_len: r.orig_len,
                        frame: hex(&r.frame),
                        trace,
                        trace_json,
                    });
                    if write_event(&mut s, &e).is_err() {
                        client_open = false;
                        break;
                    }
                    sent += 1;
                }
                None => {
                    if client_gone(&s) {
                        break;
                    }
                    last_check = Instant::now();
                }
            }
            if last_check.elapsed() >= Duration::from_millis(200) {
                last_check = Instant::now();
                if client_gone(&s) {
                    break;
                }
            }
        }
        if client_open {
            let _ = write_event(
                &mut s,
                &Event::Summary {
                    captured: sent,
                    dropped: self.tap.dropped(),
                },
            );
        }
        tracing::info!(
            "capture on {} ended: {sent} packets, {} dropped (slow reader)",
            self.port.name,
            self.tap.dropped()
        );
    }
}

/// Whether the client closed its side (it does so to stop the capture).
fn client_gone(s: &UnixStream) -> bool {
    let mut p = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor we own; zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    if n <= 0 {
        return false;
    }
    if p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return true;
    }
    if p.revents & libc::POLLIN != 0 {
        // A client sends nothing after its request: anything readable is
        // end of file (stop) or noise (ignored).
        let mut b = [0u8; 64];
        let mut r = s;
        return matches!(std::io::Read::read(&mut r, &mut b), Ok(0) | Err(_));
    }
    false
}
