//! rswitchd's state: the configuration database, the forwarding engine, and
//! the reconciliation that makes devices and ports match the database after
//! every `rswitch` command, at start-up, and when devices come and go.

pub mod devices;
pub mod persist;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Weak;

use datapath::engine::{Engine, PortCounters};
use datapath::port::tunnel_port::{Endpoint, SharedHub, TunnelConfig, TunnelHub};
use datapath::port::PortIo;
use datapath::tunnel::{Tos, TunnelKind, TunnelOptions, VXLAN_PORT};
use ofproto::pipeline::{Bridge as OfBridge, FailMode as OfFailMode};
use ofproto::port::{PortInfo, VlanConfig, VlanMode as OfVlanMode, OFPP_LOCAL};
use ofproto::Millis;

use crate::control::{Request, Response, Tool};
use crate::ofctl::{self, PortStatus, SwitchView};
use crate::vsctl::db::{Db, FailMode, Interface, InterfaceType, LinkState, VlanMode};
use crate::vsctl::{self};

/// A port's I/O and whether rswitch created its device.
type OpenedPort = (Box<dyn PortIo>, bool);

/// A port the daemon runs.
#[derive(Clone, Debug)]
struct Running {
    bridge: String,
    ofport: u32,
    kind: InterfaceType,
    /// Whether rswitch created the device (and so removes it).
    created: bool,
    /// The device is open and attached to the engine.
    attached: bool,
    error: Option<String>,
    peer: Option<String>,
    /// The device's MAC when rswitch created or first saw it: identifies it
    /// after it moves to another namespace.
    mac: Option<String>,
    /// Interface index at open (system ports): a device deleted and
    /// re-created under the same name gets a new one.
    ifindex: Option<u32>,
    /// Options the port was opened with (tunnels: a change re-opens it).
    options: BTreeMap<String, String>,
}

/// Which endpoint a tunnel port uses: tunnel ports agreeing on these share it.
type HubKey = (TunnelKind, Option<Ipv4Addr>, u16);

/// Everything rswitchd owns.
pub struct Daemon {
    pub db: Db,
    engine: Engine,
    /// Bridge name -> index in the engine's Switch.
    bridges: HashMap<String, usize>,
    free_slots: Vec<usize>,
    running: BTreeMap<String, Running>,
    /// Tunnel endpoints, alive while a tunnel port uses them.
    hubs: HashMap<HubKey, Weak<std::sync::Mutex<TunnelHub>>>,
    pub db_path: PathBuf,
}

fn vlan_config(p: &crate::vsctl::db::Port) -> VlanConfig {
    let mode = p.vlan_mode.map(|m| match m {
        VlanMode::Access => OfVlanMode::Access,
        VlanMode::Trunk => OfVlanMode::Trunk,
        VlanMode::NativeTagged => OfVlanMode::NativeTagged,
        VlanMode::NativeUntagged => OfVlanMode::NativeUntagged,
    });
    VlanConfig::new(mode, p.tag, p.trunks.iter().copied().collect())
}

fn of_fail_mode(m: Option<FailMode>) -> OfFailMode {
    match m {
        Some(FailMode::Secure) => OfFailMode::Secure,
        _ => OfFailMode::Standalone,
    }
}

impl Daemon {
    /// Starts the engine and brings the saved configuration up.
    pub fn start(
        db: Db,
        flows: BTreeMap<String, Vec<String>>,
        workers: usize,
        db_path: PathBuf,
    ) -> Result<Daemon, String> {
        let start = std::time::Instant::now();
        let clock = std::sync::Arc::new(move || start.elapsed().as_millis() as Millis);
        let engine = Engine::start(ofproto::pipeline::Switch::new(), workers, clock)
            .map_err(|e| format!("cannot start the forwarding engine: {e}"))?;
        let mut d = Daemon {
            db: Db::new(),
            engine,
            bridges: HashMap::new(),
            free_slots: Vec::new(),
            running: BTreeMap::new(),
            hubs: HashMap::new(),
            db_path,
        };
        d.apply_db(db);
        // Restore permanent flows; counters start at zero.
        for (br, lines) in flows {
            if let Some(&b) = d.bridges.get(&br) {
                let text = lines.join("\n");
                let res = d.engine.with_switch(|sw, now| {
                    let ports = sw.bridges[b].port_map();
                    let fms = ofproto::syntax::flow::parse_flows_file(
                        &text,
                        ofproto::syntax::flow::FlowModCommand::Add,
                        Some(&ports),
                    )
                    .map_err(|e| e.0)?;
                    sw.bridges[b]
                        .tables
                        .apply_batch(&fms, now)
                        .map_err(|e| e.to_string())?;
                    Ok::<(), String>(())
                });
                if let Err(e) = res {
                    tracing::warn!("bridge {br}: saved flows not restored: {e}");
                }
            }
        }
        Ok(d)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Handles one client request.
    pub fn handle(&mut self, req: &Request) -> Response {
        match req.tool {
            Tool::Vsctl => self.vsctl(&req.argv),
            Tool::Ofctl => self.ofctl(req),
            Tool::Admin => match req.argv.first().map(|s| s.as_str()) {
                Some("ping") => Response {
                    stdout: "pong\n".into(),
                    ..Default::default()
                },
                other => Response::error(format!("rswitchd: unknown admin command {other:?}"), 1),
            },
            // capture: streamed by `start_capture`, never answered here.
            Tool::Capture => Response::error("rswitchd: capture requests stream", 1),
        }
    }

    /// capture: starts `rswitch capture`'s tap; the caller streams it.
    pub fn start_capture(&self, req: &Request) -> Result<crate::capture::server::Session, String> {
        crate::capture::server::start(self, req)
    }

    /// capture: every running port, with tunnel configuration.
    pub(crate) fn capture_ports(&self) -> Vec<crate::capture::server::PortRef> {
        let mut out = Vec::new();
        for (name, r) in &self.running {
            let Some(&index) = self.bridges.get(&r.bridge) else {
                continue;
            };
            let tunnel = r.kind.is_tunnel().then(|| {
                let tk = if r.kind == InterfaceType::Gre {
                    TunnelKind::Gre
                } else {
                    TunnelKind::Vxlan
                };
                tunnel_config(tk, (index, r.ofport), &r.options)
                    .ok()
                    .map(|(local, _, cfg)| (tk, local, cfg))
            });
            out.push(crate::capture::server::PortRef {
                name: name.clone(),
                bridge: r.bridge.clone(),
                index,
                ofport: r.ofport,
                tunnel: tunnel.flatten(),
            });
        }
        out
    }

    fn vsctl(&mut self, argv: &[String]) -> Response {
        // Pictures (issue 6): the client's `show --format=dot`.
        if crate::picture::is_topology_request(argv) {
            return self.topology_picture();
        }
        match vsctl::execute(&self.db, argv) {
            Ok((new_db, stdout)) => {
                self.apply_db(new_db);
                let mut resp = Response {
                    stdout,
                    ..Default::default()
                };
                if let Err(e) = self.save() {
                    resp.stderr = format!("rswitch: warning: configuration not saved: {e}\n");
                }
                resp
            }
            Err(e) => Response {
                stdout: String::new(),
                stderr: e.stderr(),
                exit: e.exit_code,
            },
        }
    }

    /// `rswitch show --format=dot`: the topology as DOT, with the
    /// namespace each internal port and veth peer lives in.
    fn topology_picture(&self) -> Response {
        let ports: Vec<crate::picture::netns::PortDevice> = self
            .running
            .iter()
            .map(|(name, r)| crate::picture::netns::PortDevice {
                name: name.clone(),
                kind: r.kind,
                mac: r.mac.clone(),
            })
            .collect();
        let places = crate::picture::netns::placements(&ports);
        Response {
            stdout: crate::picture::topology::topology_dot(&self.db, &places),
            ..Default::default()
        }
    }

    fn ofctl(&mut self, req: &Request) -> Response {
        let mut req = req.clone();
        if let Some(slot) = req
            .argv
            .iter_mut()
            .find(|a| *a == crate::control::ONLY_BRIDGE)
        {
            match self.db.bridges.as_slice() {
                [only] => *slot = only.name.clone(),
                _ => {
                    return Response::error(
                        format!(
                            "rswitch-ofctl: this rswitchd has {} bridges: name one instead of the socket",
                            self.db.bridges.len()
                        ),
                        1,
                    )
                }
            }
        }
        let req = &req;
        let files: Vec<(&str, &str)> = req
            .files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let view = View { d: self };
        let statuses = view.snapshot();
        let out = self.engine.with_switch(|sw, now| {
            ofctl::execute_with_files(sw, &statuses, &req.argv, &files, now)
        });
        for c in &out.port_changes {
            self.set_admin(c.bridge, c.ofport, c.admin_up);
        }
        let mut resp = Response {
            stdout: out.stdout,
            stderr: out.stderr,
            exit: out.exit,
        };
        if out.changed {
            if let Err(e) = self.save() {
                resp.stderr += &format!("rswitch-ofctl: warning: flows not saved: {e}\n");
            }
        }
        resp
    }

    fn set_admin(&mut self, bridge: usize, ofport: u32, up: bool) {
        let name = self
            .running
            .iter()
            .find(|(_, r)| self.bridges.get(&r.bridge) == Some(&bridge) && r.ofport == ofport)
            .map(|(n, _)| n.clone());
        if let Some(n) = name {
            if let Err(e) = devices::set_admin(&n, up) {
                tracing::warn!("{n}: cannot set admin state: {e}");
            }
        }
    }

    /// Writes the database and permanent flows atomically.
    pub fn save(&self) -> Result<(), String> {
        let flows = self.engine.read_switch(|sw, _| {
            let mut out = BTreeMap::new();
            for (name, &b) in &self.bridges {
                out.insert(
                    name.clone(),
                    persist::permanent_flows(&sw.bridges[b].tables),
                );
            }
            out
        });
        persist::save(&self.db_path, &self.db, &flows)
    }

    /// Makes bridges, devices and ports match `new`.
    pub fn apply_db(&mut self, mut new: Db) {
        // Desired ports: name -> (bridge, ofport, kind, port record).
        let mut wanted: BTreeMap<String, (String, u32, InterfaceType, crate::vsctl::db::Port)> =
            BTreeMap::new();
        for b in &new.bridges {
            for p in &b.ports {
                let ofport = if p.name == b.name {
                    OFPP_LOCAL
                } else {
                    p.interface.ofport.map(u32::from).unwrap_or(0)
                };
                let kind = if p.name == b.name {
                    InterfaceType::Internal
                } else {
                    p.interface.kind
                };
                wanted.insert(p.name.clone(), (b.name.clone(), ofport, kind, p.clone()));
            }
        }
        // 1. Remove ports that went away or changed identity.
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(n, r)| match wanted.get(*n) {
                None => true,
                Some((b, ofp, kind, p)) => {
                    *b != r.bridge
                        || *ofp != r.ofport
                        || *kind != r.kind
                        || (r.kind.is_tunnel() && p.interface.options != r.options)
                }
            })
            .map(|(n, _)| n.clone())
            .collect();
        for n in stale {
            self.remove_port(&n);
        }
        // 2. Bridges.
        let gone: Vec<String> = self
            .bridges
            .keys()
            .filter(|n| new.bridge(n).is_none())
            .cloned()
            .collect();
        for n in gone {
            let idx = self.bridges.remove(&n).expect("present");
            self.engine
                .with_switch(|sw, _| sw.bridges[idx] = OfBridge::new(String::new()));
            self.free_slots.push(idx);
        }
        for b in &new.bridges {
            let mode = of_fail_mode(b.fail_mode);
            match self.bridges.get(&b.name) {
                Some(&idx) => self.engine.with_switch(|sw, now| {
                    if sw.bridges[idx].fail_mode != mode {
                        sw.bridges[idx].set_fail_mode(mode, now);
                    }
                }),
                None => {
                    let name = b.name.clone();
                    let slot = self.free_slots.pop();
                    let idx = self.engine.with_switch(|sw, now| {
                        let mut br = OfBridge::new(name);
                        br.set_fail_mode(mode, now);
                        match slot {
                            Some(s) => {
                                sw.bridges[s] = br;
                                s
                            }
                            None => sw.add_bridge(br),
                        }
                    });
                    self.bridges.insert(b.name.clone(), idx);
                }
            }
        }
        // 3. Add or update ports.
        for (name, (br, ofport, kind, port)) in &wanted {
            let idx = self.bridges[br];
            let mut info = PortInfo::new(*ofport, name.clone());
            info.vlan = vlan_config(port);
            if !self.running.contains_key(name) {
                self.add_port(name, br, idx, *ofport, *kind, &port.interface);
            }
            if let Some(r) = self.running.get(name) {
                info.up = r.attached || *kind == InterfaceType::Patch;
            }
            self.engine
                .with_switch(|sw, _| sw.bridges[idx].set_port(info));
        }
        // 4. Patch links (both ends must exist).
        self.link_patches(&wanted);
        // 5. Runtime status into the database.
        for b in &mut new.bridges {
            for p in &mut b.ports {
                if let Some(r) = self.running.get(&p.name) {
                    let st = devices::status(&p.name);
                    p.interface.error = r.error.clone();
                    p.interface.mac_in_use =
                        st.as_ref().map(|s| s.mac.clone()).or_else(|| r.mac.clone());
                    p.interface.admin_state = Some(if st.as_ref().is_some_and(|s| s.admin_up) {
                        LinkState::Up
                    } else {
                        LinkState::Down
                    });
                    p.interface.link_state = Some(
                        if r.attached
                            && (st.as_ref().is_some_and(|s| s.oper_up) || r.kind.is_tunnel())
                            || r.kind == InterfaceType::Patch
                        {
                            LinkState::Up
                        } else {
                            LinkState::Down
                        },
                    );
                }
            }
        }
        self.db = new;
    }

    fn link_patches(
        &mut self,
        wanted: &BTreeMap<String, (String, u32, InterfaceType, crate::vsctl::db::Port)>,
    ) {
        let mut links = Vec::new();
        for (name, (br, ofport, kind, port)) in wanted {
            if *kind != InterfaceType::Patch {
                continue;
            }
            let a = (self.bridges[br], *ofport);
            let peer = port.interface.options.get("peer").cloned();
            let b = peer
                .as_ref()
                .and_then(|p| wanted.get(p))
                .and_then(|(pb, pof, pk, pp)| {
                    (*pk == InterfaceType::Patch && pp.interface.options.get("peer") == Some(name))
                        .then(|| (self.bridges[pb], *pof))
                });
            if let Some(r) = self.running.get_mut(name) {
                r.peer = peer.clone();
                r.error = match (&peer, b) {
                    (None, _) => Some("patch port has no options:peer".into()),
                    (Some(p), None) => {
                        Some(format!("peer {p} does not exist or does not point back"))
                    }
                    _ => None,
                };
            }
            links.push((a, b));
        }
        self.engine.with_switch(|sw, _| {
            for (a, b) in links {
                sw.unlink_patch(a);
                if let Some(b) = b {
                    sw.link_patch(a, b);
                }
            }
        });
    }

    fn add_port(
        &mut self,
        name: &str,
        br: &str,
        idx: usize,
        ofport: u32,
        kind: InterfaceType,
        iface: &Interface,
    ) {
        let mut r = Running {
            bridge: br.to_string(),
            ofport,
            kind,
            created: false,
            attached: false,
            error: None,
            peer: None,
            mac: iface.mac_in_use.clone(),
            ifindex: None,
            options: iface.options.clone(),
        };
        let io: Result<Option<OpenedPort>, String> = match kind {
            InterfaceType::Patch => Ok(None),
            InterfaceType::Vxlan | InterfaceType::Gre => self
                .open_tunnel(kind, (idx, ofport), &iface.options)
                .map(|io| Some((io, false))),
            InterfaceType::Internal => {
                devices::open_tap(name, iface.mac_in_use.as_deref()).map(Some)
            }
            InterfaceType::Tap => {
                r.ifindex = None;
                devices::open_vm_tap(name).map(Some)
            }
            _ => {
                r.ifindex = devices::ifindex(name);
                devices::open_system(name).map(|io| Some((io, false)))
            }
        };
        if r.mac.is_none() {
            r.mac = devices::status(name).map(|s| s.mac);
        }
        match io {
            Ok(Some((io, created))) => {
                r.created = created;
                match self.engine.add_port((idx, ofport), io) {
                    Ok(()) => r.attached = true,
                    Err(e) => r.error = Some(format!("cannot attach: {e}")),
                }
            }
            Ok(None) => {}
            Err(e) => r.error = Some(e),
        }
        if let Some(e) = &r.error {
            tracing::warn!("port {name}: {e}");
        }
        self.running.insert(name.to_string(), r);
    }

    /// Opens a tunnel port on the (possibly shared) endpoint its options
    /// name.
    fn open_tunnel(
        &mut self,
        kind: InterfaceType,
        id: (usize, u32),
        options: &BTreeMap<String, String>,
    ) -> Result<Box<dyn PortIo>, String> {
        let tk = if kind == InterfaceType::Gre {
            TunnelKind::Gre
        } else {
            TunnelKind::Vxlan
        };
        let (local, dst_port, cfg) = tunnel_config(tk, id, options)?;
        let key = (tk, local, dst_port);
        let hub: SharedHub = match self.hubs.get(&key).and_then(Weak::upgrade) {
            Some(h) => h,
            None => {
                let ep = Endpoint::open(tk, local, dst_port)
                    .map_err(|e| format!("cannot open the tunnel endpoint: {e}"))?;
                let h = TunnelHub::new(ep);
                self.hubs.retain(|_, w| w.strong_count() > 0);
                self.hubs.insert(key, std::sync::Arc::downgrade(&h));
                h
            }
        };
        TunnelHub::attach(&hub, cfg)
            .map(|p| Box::new(p) as Box<dyn PortIo>)
            .map_err(|e| format!("cannot attach to the tunnel endpoint: {e}"))
    }

    fn remove_port(&mut self, name: &str) {
        let Some(r) = self.running.remove(name) else {
            return;
        };
        if let Some(&idx) = self.bridges.get(&r.bridge) {
            self.engine.remove_port((idx, r.ofport));
            self.engine.with_switch(|sw, _| {
                sw.unlink_patch((idx, r.ofport));
                sw.bridges[idx].remove_port(r.ofport);
            });
        }
        if r.created {
            devices::delete_anywhere(name, r.mac.as_deref());
        }
    }

    /// Re-opens ports whose device vanished or was missing; called periodically.
    pub fn retry_ports(&mut self) {
        let mut failed = self.engine.failed_ports();
        // A system device deleted (or deleted and re-created) under us may
        // never make the socket fail: check its name and index directly.
        for r in self
            .running
            .iter()
            .filter(|(_, r)| r.kind.is_system() && r.attached)
        {
            let now = devices::ifindex(r.0);
            if now.is_none() || now != r.1.ifindex {
                if let Some(&idx) = self.bridges.get(&r.1.bridge) {
                    failed.entry((idx, r.1.ofport)).or_insert_with(|| {
                        format!("could not open network device {} (No such device)", r.0)
                    });
                }
            }
        }
        let mut changed = false;
        let names: Vec<String> = self
            .running
            .iter()
            .filter(|(_, r)| {
                let idx = self.bridges.get(&r.bridge).copied();
                (r.kind.is_system()
                    || matches!(r.kind, InterfaceType::Internal | InterfaceType::Tap))
                    && (!r.attached || idx.is_some_and(|i| failed.contains_key(&(i, r.ofport))))
            })
            .map(|(n, _)| n.clone())
            .collect();
        for n in names {
            let r = self.running.get(&n).cloned().expect("listed");
            let idx = self.bridges[&r.bridge];
            if r.attached {
                // The device failed under traffic: detach, mark down.
                self.engine.remove_port((idx, r.ofport));
                if let Some(x) = self.running.get_mut(&n) {
                    x.attached = false;
                    x.error = failed.get(&(idx, r.ofport)).cloned();
                }
                changed = true;
                continue;
            }
            let io = match r.kind {
                InterfaceType::Internal => devices::attach_tap(&n, r.mac.as_deref()),
                InterfaceType::Tap => devices::open_vm_tap(&n).map(|(io, _)| io),
                _ => devices::open_system(&n),
            };
            if let Ok(io) = io {
                if self.engine.add_port((idx, r.ofport), io).is_ok() {
                    if let Some(x) = self.running.get_mut(&n) {
                        x.attached = true;
                        x.error = None;
                        if x.kind.is_system() {
                            x.ifindex = devices::ifindex(&n);
                        }
                    }
                    changed = true;
                }
            }
        }
        if changed {
            let db = self.db.clone();
            self.apply_db(db);
        }
    }

    /// Clean shutdown: removes the devices rswitch created that are still in
    /// its own namespace (internal ports moved elsewhere stay, persistent,
    /// for a restart to re-attach).
    pub fn shutdown(mut self) {
        let names: Vec<(String, Running)> = std::mem::take(&mut self.running).into_iter().collect();
        for (n, r) in &names {
            if let Some(&idx) = self.bridges.get(&r.bridge) {
                self.engine.remove_port((idx, r.ofport));
            }
            if r.created && devices::exists_here(n) {
                devices::delete_here(n);
            }
        }
        self.engine.stop();
    }

    pub fn port_counters(&self, bridge: usize, ofport: u32) -> PortCounters {
        self.engine.port_counters((bridge, ofport))
    }
}

/// What ofctl needs to know about ports, captured before locking the switch.
struct View<'a> {
    d: &'a Daemon,
}

struct Snapshot {
    counters: HashMap<(usize, u32), PortCounters>,
    status: HashMap<(usize, u32), PortStatus>,
}

impl View<'_> {
    fn snapshot(&self) -> Snapshot {
        let mut counters = HashMap::new();
        let mut status = HashMap::new();
        for (name, r) in &self.d.running {
            let Some(&idx) = self.d.bridges.get(&r.bridge) else {
                continue;
            };
            counters.insert((idx, r.ofport), self.d.port_counters(idx, r.ofport));
            let st = devices::status(name);
            let mut ps = PortStatus::default();
            if let Some(s) = st {
                ps.mac = devices::parse_mac(&s.mac);
                ps.admin_up = s.admin_up;
                ps.link_up = s.oper_up && r.attached;
            } else {
                let virt = r.kind == InterfaceType::Patch || r.kind.is_tunnel() && r.attached;
                ps.admin_up = virt;
                ps.link_up = virt;
            }
            ps.ifname = Some(name.clone());
            status.insert((idx, r.ofport), ps);
        }
        Snapshot { counters, status }
    }
}

impl SwitchView for Snapshot {
    fn port_counters(&self, bridge: usize, ofport: u32) -> PortCounters {
        self.counters
            .get(&(bridge, ofport))
            .copied()
            .unwrap_or_default()
    }
    fn port_status(&self, bridge: usize, ofport: u32) -> PortStatus {
        self.status
            .get(&(bridge, ofport))
            .cloned()
            .unwrap_or_default()
    }
}

/// Parses a tunnel interface's options: the endpoint's local address and
/// UDP port, and the port's configuration. `remote_ip` is required (an
/// address or `flow`); `key` sets both `in_key` and `out_key` (a number or
/// `flow`, default 0).
fn tunnel_config(
    kind: TunnelKind,
    id: (usize, u32),
    o: &BTreeMap<String, String>,
) -> Result<(Option<Ipv4Addr>, u16, TunnelConfig), String> {
    let ip = |name: &str, v: &str| -> Result<Option<Ipv4Addr>, String> {
        if v == "flow" {
            return Ok(None);
        }
        v.parse::<Ipv4Addr>()
            .map(Some)
            .map_err(|_| format!("options:{name}: {v:?} is not an IPv4 address or flow"))
    };
    let remote = match o.get("remote_ip") {
        None => return Err("tunnel port needs options:remote_ip".into()),
        Some(v) => ip("remote_ip", v)?,
    };
    let local = match o.get("local_ip") {
        None => None,
        Some(v) => ip("local_ip", v)?,
    };
    let tun_key = |name: &str| -> Result<Option<Option<u64>>, String> {
        let Some(v) = o.get(name) else {
            return Ok(None);
        };
        if v == "flow" {
            return Ok(Some(None));
        }
        let n = match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => v.parse::<u64>(),
        }
        .map_err(|_| format!("options:{name}: {v:?} is not a number or flow"))?;
        let max = if kind == TunnelKind::Vxlan {
            0x00ff_ffff
        } else {
            u32::MAX as u64
        };
        if n > max {
            return Err(format!("options:{name}: {n} is too large for this tunnel"));
        }
        Ok(Some(Some(n)))
    };
    let key = tun_key("key")?.unwrap_or(Some(0));
    let in_key = tun_key("in_key")?.unwrap_or(key);
    let out_key = tun_key("out_key")?.unwrap_or(key);
    let flag = |name: &str, default: bool| -> Result<bool, String> {
        match o.get(name).map(|s| s.as_str()) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(format!("options:{name}: {v:?} is not true or false")),
        }
    };
    let num = |name: &str, default: u16, max: u16| -> Result<u16, String> {
        match o.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u16>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("options:{name}: {v:?} is not a number up to {max}")),
        }
    };
    let mut opts = TunnelOptions {
        ttl: num("ttl", 64, 255)? as u8,
        df: flag("df_default", true)?,
        csum: flag("csum", false)?,
        dst_port: num("dst_port", VXLAN_PORT, u16::MAX)?,
        ..TunnelOptions::default()
    };
    opts.tos = match o.get("tos").map(|s| s.as_str()) {
        None => Tos::Fixed(0),
        Some("inherit") => Tos::Inherit,
        Some(_) => Tos::Fixed(num("tos", 0, 255)? as u8),
    };
    let dst_port = if kind == TunnelKind::Vxlan {
        opts.dst_port
    } else {
        0
    };
    Ok((
        local,
        dst_port,
        TunnelConfig {
            id,
            remote,
            in_key,
            out_key,
            opts,
        },
    ))
}
