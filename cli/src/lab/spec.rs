//! The lab file: its TOML model (serde, unknown keys rejected) and the
//! validation pass. Every error names the file, the line and the key.
//!
//! Safety rule enforced here: every IPv4 address a lab assigns, routes
//! through, tunnels to, runs a command with or checks must lie in
//! 198.18.0.0/15 (RFC 2544's benchmark range); netmasks, 0.0.0.0 and
//! loopback addresses are the only other dotted quads accepted.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::check::{self, Check, Probe};

/// The name the implicit switch host goes by in a lab file without
/// `switch = true` hosts; its namespace is named after the lab.
pub const IMPLICIT_SWITCH: &str = "switch";

/// A TOML scalar used as a value (sysctls, options, external ids).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    Int(i64),
    Bool(bool),
    Str(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

/// One value or a list of them (`addr = "…"` or `addr = ["…", "…"]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLab {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "host")]
    hosts: Vec<Spanned<Host>>,
    #[serde(default, rename = "link")]
    links: Vec<Spanned<RawLink>>,
    #[serde(default, rename = "bridge")]
    bridges: Vec<Spanned<Bridge>>,
    #[serde(default, rename = "tunnel")]
    tunnels: Vec<Spanned<Tunnel>>,
    #[serde(default)]
    checks: Vec<Spanned<String>>,
}

/// A host: a network namespace. With `switch = true` it is a "physical
/// host" running its own rswitchd.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub name: String,
    #[serde(default)]
    pub switch: bool,
    /// rswitchd `--workers` (switch hosts).
    pub workers: Option<u32>,
    /// Keep IPv6 on (off by default: no router solicitations in the lab).
    #[serde(default)]
    pub ipv6: bool,
    #[serde(default)]
    pub sysctls: BTreeMap<String, Scalar>,
    #[serde(default, rename = "iface")]
    pub ifaces: Vec<Iface>,
    /// `ip route add` arguments, e.g. `default via 198.18.88.1`.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Shell commands run once (bounded, must succeed), e.g. iptables.
    #[serde(default)]
    pub run: Vec<String>,
    /// Long-running commands (kept in the foreground), killed on down.
    #[serde(default)]
    pub background: Vec<String>,
}

/// How an interface inside a host is set up.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Iface {
    pub name: String,
    /// `bridge`: a Linux bridge the lab creates in this host.
    pub kind: Option<String>,
    pub addr: Option<OneOrMany>,
    pub mtu: Option<u32>,
    pub mac: Option<String>,
    /// Enslave to this Linux bridge (an `iface` of kind `bridge`).
    pub master: Option<String>,
    #[serde(default = "yes")]
    pub up: bool,
    /// Get the address by DHCP (dhclient, or busybox udhcpc).
    #[serde(default)]
    pub dhcp: bool,
}

fn yes() -> bool {
    true
}

impl Iface {
    pub fn addrs(&self) -> Vec<String> {
        self.addr.as_ref().map(|a| a.list()).unwrap_or_default()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    ends: Vec<String>,
    mtu: Option<u32>,
}

/// A veth pair: one end in each of two hosts (or both in one).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub a_host: String,
    pub a_dev: String,
    pub b_host: String,
    pub b_dev: String,
    pub mtu: Option<u32>,
}

/// A bridge on a switch host.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    pub name: String,
    /// The switch host (may be left out when there is only one).
    #[serde(default)]
    pub host: String,
    pub fail_mode: Option<String>,
    #[serde(default, rename = "port")]
    pub ports: Vec<Port>,
    /// Flows added one by one (`add-flow`).
    #[serde(default)]
    pub flows: Vec<String>,
    /// A flows file (`add-flows`), relative to the lab file.
    pub flows_file: Option<String>,
    /// The flows file's contents (read when the lab file is loaded).
    #[serde(skip)]
    pub flows_text: Option<String>,
}

/// A port on a bridge: the `add-port` and `set Interface` arguments.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub tag: Option<u16>,
    pub trunks: Option<Vec<u16>>,
    pub vlan_mode: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub external_ids: BTreeMap<String, Scalar>,
    /// `ofport_request`.
    pub ofport: Option<u32>,
    /// Move the port's device (internal ports) into this host.
    pub netns: Option<String>,
}

/// A tunnel: one port on each of two bridges, pointing at each other.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tunnel {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ends: Vec<TunnelEnd>,
    #[serde(default)]
    pub options: BTreeMap<String, Scalar>,
    /// Also set `options:local_ip` on each end.
    #[serde(default)]
    pub local_ip: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelEnd {
    pub host: String,
    pub bridge: String,
    pub ip: String,
}

/// A validated lab.
#[derive(Debug, Clone)]
pub struct Lab {
    pub name: String,
    pub description: String,
    /// Hosts; the implicit switch (if any) first.
    pub hosts: Vec<Host>,
    pub links: Vec<Link>,
    /// Bridges with their host filled in and tunnel ports added.
    pub bridges: Vec<Bridge>,
    pub checks: Vec<Check>,
    /// Whether the file had no switch host and one named after the lab
    /// was added.
    pub implicit_switch: bool,
}

impl Lab {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The host whose interfaces carry `addr`.
    pub fn owner_of(&self, addr: Ipv4Addr) -> Option<&Host> {
        self.hosts.iter().find(|h| {
            h.ifaces.iter().any(|i| {
                i.addrs()
                    .iter()
                    .any(|a| parse_cidr(a).is_some_and(|(x, _)| x == addr))
            })
        })
    }
}

/// Where in the file: (1-based line, key).
struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, pos: usize) -> usize {
        self.src[..pos.min(self.src.len())].matches('\n').count() + 1
    }

    /// The line of `key = …` inside `span` (with `value` on it when given),
    /// else the span's first line.
    fn find(&self, span: &Range<usize>, key: &str, value: Option<&str>) -> usize {
        let mut end = span.end.min(self.src.len());
        // A `[[table]]` element's span is its header: extend it to the
        // next header.
        if self.src[span.start.min(end)..end]
            .trim_start()
            .starts_with('[')
        {
            let mut pos = end;
            end = self.src.len();
            for (i, line) in self.src[pos..].split_inclusive('\n').enumerate() {
                // (The first piece is the rest of the header line.)
                if i > 0 && line.trim_start().starts_with('[') {
                    end = pos;
                    break;
                }
                pos += line.len();
            }
        }
        let start = span.start.min(end);
        let text = &self.src[start..end];
        let mut off = start;
        for line in text.split_inclusive('\n') {
            let t = line.trim_start();
            let key_here = t.starts_with(key) && t[key.len()..].trim_start().starts_with('=')
                || t.contains(&format!("{key} ="))
                || t.contains(&format!("{key}="));
            if key_here && value.is_none_or(|v| line.contains(v)) {
                return self.line_of(off);
            }
            off += line.len();
        }
        if let Some(v) = value {
            if let Some(i) = text.find(v) {
                return self.line_of(start + i);
            }
        }
        self.line_of(start)
    }

    fn err(&self, span: &Range<usize>, key: &str, value: Option<&str>, msg: String) -> String {
        let line = self.find(span, key, value);
        format!("{}:{line}: key `{key}`: {msg}", self.file)
    }
}

/// Parses and validates a lab file. `file` names it in messages;
/// `default_name` is the lab's name when the file has none; `read` reads
/// the flows files it names (relative to the lab file).
pub fn parse(
    src: &str,
    file: &str,
    default_name: &str,
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Lab, String> {
    let cx = Ctx { file, src };
    let raw: RawLab = toml::from_str(src).map_err(|e| toml_error(&cx, &e))?;
    let whole = 0..src.len();

    let name = raw.name.clone().unwrap_or_else(|| default_name.to_string());
    if let Err(m) = valid_name(&name, 40) {
        return Err(cx.err(&whole, "name", None, format!("lab name {name:?}: {m}")));
    }

    // Hosts.
    let mut hosts: Vec<Host> = Vec::new();
    let mut spans: Vec<Range<usize>> = Vec::new();
    let implicit_switch = !raw.hosts.iter().any(|h| h.get_ref().switch);
    if implicit_switch {
        hosts.push(Host {
            name: IMPLICIT_SWITCH.to_string(),
            switch: true,
            ..Host::default()
        });
        spans.push(whole.clone());
    }
    for h in &raw.hosts {
        let sp = h.span();
        let host = h.get_ref().clone();
        let at = |key: &str, v: Option<&str>, m: String| cx.err(&sp, key, v, m);
        valid_name(&host.name, 40)
            .map_err(|m| at("name", None, format!("host {:?}: {m}", host.name)))?;
        if hosts.iter().any(|o| o.name == host.name) {
            let m = if host.name == IMPLICIT_SWITCH && implicit_switch {
                format!("host name {IMPLICIT_SWITCH:?} is reserved for the implicit switch of a lab without `switch = true` hosts")
            } else {
                format!("duplicate host name {:?}", host.name)
            };
            return Err(at("name", Some(&host.name), m));
        }
        let mut seen = HashSet::new();
        for i in &host.ifaces {
            valid_ifname(&i.name).map_err(|m| at("name", Some(&i.name), m))?;
            if !seen.insert(i.name.clone()) {
                return Err(at(
                    "name",
                    Some(&i.name),
                    format!(
                        "interface {:?} listed twice in host {:?}",
                        i.name, host.name
                    ),
                ));
            }
            if let Some(k) = &i.kind {
                if k != "bridge" {
                    return Err(at(
                        "kind",
                        Some(k),
                        format!("unknown interface kind {k:?} (only \"bridge\", a Linux bridge)"),
                    ));
                }
            }
            for a in i.addrs() {
                check_cidr(&a).map_err(|m| at("addr", Some(&a), m))?;
            }
            if i.dhcp && i.addr.is_some() {
                return Err(at(
                    "dhcp",
                    None,
                    format!("interface {:?} has both `addr` and `dhcp = true`", i.name),
                ));
            }
            if let Some(m) = &i.mac {
                valid_mac(m).map_err(|e| at("mac", Some(m), e))?;
            }
            if let Some(mtu) = i.mtu {
                if !(68..=65535).contains(&mtu) {
                    return Err(at("mtu", None, format!("mtu {mtu} out of range 68-65535")));
                }
            }
        }
        for i in &host.ifaces {
            if let Some(m) = &i.master {
                let ok = host
                    .ifaces
                    .iter()
                    .any(|b| &b.name == m && b.kind.as_deref() == Some("bridge"));
                if !ok {
                    return Err(at(
                        "master",
                        Some(m),
                        format!(
                            "{m:?} is not an `iface` of kind \"bridge\" in host {:?}",
                            host.name
                        ),
                    ));
                }
            }
        }
        for k in host.sysctls.keys() {
            if k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
            {
                return Err(at(k, None, format!("bad sysctl name {k:?}")));
            }
        }
        for r in &host.routes {
            check_ips_in(r).map_err(|m| at("routes", Some(r), m))?;
        }
        for c in &host.run {
            check_ips_in(c).map_err(|m| at("run", Some(c), m))?;
        }
        for c in &host.background {
            check_ips_in(c).map_err(|m| at("background", Some(c), m))?;
            check_foreground(c).map_err(|m| at("background", Some(c), m))?;
        }
        hosts.push(host);
        spans.push(sp);
    }
    let host_names: HashSet<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let is_switch = |n: &str| hosts.iter().any(|h| h.name == n && h.switch);

    // Links.
    let mut links = Vec::new();
    let mut ends_seen: HashSet<(String, String)> = HashSet::new();
    for l in &raw.links {
        let sp = l.span();
        let rl = l.get_ref();
        if rl.ends.len() != 2 {
            return Err(cx.err(
                &sp,
                "ends",
                None,
                format!(
                    "a link has exactly 2 ends (\"host:device\"), not {}",
                    rl.ends.len()
                ),
            ));
        }
        let mut e = Vec::new();
        for end in &rl.ends {
            let (h, d) = end.split_once(':').ok_or_else(|| {
                cx.err(
                    &sp,
                    "ends",
                    Some(end),
                    format!("{end:?}: expected \"host:device\""),
                )
            })?;
            if !host_names.contains(h) {
                return Err(cx.err(&sp, "ends", Some(end), format!("unknown host {h:?}")));
            }
            valid_ifname(d).map_err(|m| cx.err(&sp, "ends", Some(end), m))?;
            if !ends_seen.insert((h.to_string(), d.to_string())) {
                return Err(cx.err(
                    &sp,
                    "ends",
                    Some(end),
                    format!("device {d:?} in host {h:?} is made by two links"),
                ));
            }
            e.push((h.to_string(), d.to_string()));
        }
        links.push(Link {
            a_host: e[0].0.clone(),
            a_dev: e[0].1.clone(),
            b_host: e[1].0.clone(),
            b_dev: e[1].1.clone(),
            mtu: rl.mtu,
        });
    }

    // Bridges and ports.
    let switches: Vec<String> = hosts
        .iter()
        .filter(|h| h.switch)
        .map(|h| h.name.clone())
        .collect();
    let mut bridges: Vec<Bridge> = Vec::new();
    let mut bspans = Vec::new();
    for b in &raw.bridges {
        let sp = b.span();
        let mut br = b.get_ref().clone();
        let at = |key: &str, v: Option<&str>, m: String| cx.err(&sp, key, v, m);
        valid_ifname(&br.name).map_err(|m| at("name", None, m))?;
        if br.host.is_empty() {
            if switches.len() != 1 {
                return Err(at("name", Some(&br.name), format!("bridge {:?}: say which switch host it is on (`host = …`; switch hosts: {})", br.name, switches.join(", "))));
            }
            br.host = switches[0].clone();
        } else if !is_switch(&br.host) {
            let m = if host_names.contains(&br.host) {
                format!(
                    "host {:?} does not run a switch (add `switch = true` to it)",
                    br.host
                )
            } else {
                format!("unknown host {:?}", br.host)
            };
            return Err(at("host", Some(&br.host), m));
        }
        if bridges
            .iter()
            .any(|o| o.host == br.host && o.name == br.name)
        {
            return Err(at(
                "name",
                Some(&br.name),
                format!("duplicate bridge {:?} on host {:?}", br.name, br.host),
            ));
        }
        if let Some(f) = &br.fail_mode {
            if f != "secure" && f != "standalone" {
                return Err(at(
                    "fail_mode",
                    Some(f),
                    format!("{f:?}: expected \"secure\" or \"standalone\""),
                ));
            }
        }
        for p in &br.ports {
            check_port(p, &br.host, &host_names).map_err(|(k, m)| at(&k, Some(&p.name), m))?;
        }
        if let Some(f) = &br.flows_file {
            br.flows_text = Some(read(f).map_err(|m| at("flows_file", Some(f), m))?);
        }
        bridges.push(br);
        bspans.push(sp);
    }

    // Tunnels become a port on each end's bridge.
    for t in &raw.tunnels {
        let sp = t.span();
        let tu = t.get_ref();
        let at = |key: &str, v: Option<&str>, m: String| cx.err(&sp, key, v, m);
        if tu.kind != "vxlan" && tu.kind != "gre" {
            return Err(at(
                "type",
                Some(&tu.kind),
                format!("tunnel type {:?}: expected \"vxlan\" or \"gre\"", tu.kind),
            ));
        }
        if tu.ends.len() != 2 {
            return Err(at(
                "ends",
                None,
                format!("a tunnel has exactly 2 ends, not {}", tu.ends.len()),
            ));
        }
        for (i, end) in tu.ends.iter().enumerate() {
            let other = &tu.ends[1 - i];
            let ip = |s: &str| -> Result<(), String> {
                let a: Ipv4Addr = s
                    .parse()
                    .map_err(|_| format!("{s:?} is not an IPv4 address"))?;
                in_lab_range(a)
            };
            ip(&end.ip).map_err(|m| at("ip", Some(&end.ip), m))?;
            let Some(br) = bridges
                .iter_mut()
                .find(|b| b.host == end.host && b.name == end.bridge)
            else {
                return Err(at(
                    "bridge",
                    Some(&end.bridge),
                    format!("no bridge {:?} on host {:?}", end.bridge, end.host),
                ));
            };
            let mut options = tu.options.clone();
            options.insert("remote_ip".into(), Scalar::Str(other.ip.clone()));
            if tu.local_ip {
                options.insert("local_ip".into(), Scalar::Str(end.ip.clone()));
            }
            let p = Port {
                name: tu.name.clone(),
                kind: Some(tu.kind.clone()),
                options,
                ..Port::default()
            };
            check_port(&p, &br.host, &host_names).map_err(|(k, m)| at(&k, None, m))?;
            br.ports.push(p);
        }
    }
    // Port names are unique per switch host (bridges' LOCAL ports too).
    for (br, sp) in bridges.iter().zip(&bspans) {
        for p in &br.ports {
            let n = bridges
                .iter()
                .filter(|o| o.host == br.host)
                .map(|o| {
                    o.ports.iter().filter(|q| q.name == p.name).count()
                        + usize::from(o.name == p.name)
                })
                .sum::<usize>();
            if n > 1 {
                return Err(cx.err(
                    sp,
                    "name",
                    Some(&p.name),
                    format!("port {:?} exists twice on host {:?}", p.name, br.host),
                ));
            }
        }
    }

    // Every interface a host configures, and every system port, must be
    // made by the lab: a link end, a Linux bridge, a switch's port.
    let link_end = |h: &str, d: &str| ends_seen.contains(&(h.to_string(), d.to_string()));
    for (h, sp) in hosts.iter().zip(&spans) {
        for i in &h.ifaces {
            let made = i.name == "lo"
                || i.kind.is_some()
                || link_end(&h.name, &i.name)
                || bridges.iter().any(|b| {
                    (b.host == h.name && b.name == i.name)
                        || b.ports.iter().any(|p| {
                            p.name == i.name
                                && (p.netns.as_deref() == Some(h.name.as_str())
                                    || (b.host == h.name && p.netns.is_none()))
                        })
                });
            if !made {
                return Err(cx.err(
                    sp,
                    "name",
                    Some(&i.name),
                    format!(
                        "interface {:?} of host {:?} is made by no link, bridge or port of the lab",
                        i.name, h.name
                    ),
                ));
            }
        }
    }
    for (b, sp) in bridges.iter().zip(&bspans) {
        for p in &b.ports {
            if p.kind.as_deref().unwrap_or("system") == "system" && !link_end(&b.host, &p.name) {
                return Err(cx.err(sp, "name", Some(&p.name), format!(
                    "port {:?}: no link end \"{}:{}\" (a system port is an existing device, e.g. a veth end)",
                    p.name, b.host, p.name
                )));
            }
        }
    }

    let lab_partial = Lab {
        name: name.clone(),
        description: raw.description.clone(),
        hosts,
        links,
        bridges,
        checks: Vec::new(),
        implicit_switch,
    };
    // Checks.
    let mut checks = Vec::new();
    for c in &raw.checks {
        let sp = c.span();
        let text = c.get_ref();
        let at = |m: String| cx.err(&sp, "checks", None, format!("{text:?}: {m}"));
        let chk = check::parse(text).map_err(at)?;
        let chk = resolve_check(chk, &lab_partial).map_err(at)?;
        checks.push(chk);
    }
    Ok(Lab {
        checks,
        ..lab_partial
    })
}

/// Checks one port; the error is (key, message).
fn check_port(p: &Port, host: &str, hosts: &HashSet<String>) -> Result<(), (String, String)> {
    let e = |k: &str, m: String| (k.to_string(), m);
    valid_ifname(&p.name).map_err(|m| e("name", m))?;
    let kind = p.kind.as_deref().unwrap_or("system");
    if !["system", "internal", "patch", "vxlan", "gre", "tap"].contains(&kind) {
        return Err(e(
            "type",
            format!(
                "port {:?}: unknown type {kind:?} (system, internal, tap, patch, vxlan, gre)",
                p.name
            ),
        ));
    }
    if let Some(t) = p.tag {
        if t > 4095 {
            return Err(e(
                "tag",
                format!("port {:?}: tag {t} is not a VLAN id (0-4095)", p.name),
            ));
        }
    }
    for t in p.trunks.iter().flatten() {
        if *t > 4095 {
            return Err(e(
                "trunks",
                format!("port {:?}: {t} is not a VLAN id (0-4095)", p.name),
            ));
        }
    }
    if let Some(m) = &p.vlan_mode {
        if !["access", "trunk", "native-tagged", "native-untagged"].contains(&m.as_str()) {
            return Err(e(
                "vlan_mode",
                format!("port {:?}: unknown vlan_mode {m:?}", p.name),
            ));
        }
    }
    for (k, v) in &p.options {
        check_ips_in(&v.to_string()).map_err(|m| e(k, format!("port {:?}: {m}", p.name)))?;
    }
    if kind == "patch" && !p.options.contains_key("peer") {
        return Err(e(
            "options",
            format!("patch port {:?} needs options.peer", p.name),
        ));
    }
    if (kind == "vxlan" || kind == "gre") && !p.options.contains_key("remote_ip") {
        return Err(e(
            "options",
            format!("tunnel port {:?} needs options.remote_ip", p.name),
        ));
    }
    if let Some(n) = &p.netns {
        if !hosts.contains(n) {
            return Err(e("netns", format!("port {:?}: unknown host {n:?}", p.name)));
        }
        if n == host {
            return Err(e(
                "netns",
                format!("port {:?}: already in host {n:?}", p.name),
            ));
        }
        if kind != "internal" {
            return Err(e(
                "netns",
                format!(
                    "port {:?}: only internal ports can be moved to another host",
                    p.name
                ),
            ));
        }
    }
    Ok(())
}

/// Resolves host names in a check (addresses by name) and checks its
/// hosts and addresses.
fn resolve_check(mut c: Check, lab: &Lab) -> Result<Check, String> {
    let host = |n: &str| -> Result<(), String> {
        if lab.host(n).is_some() {
            Ok(())
        } else {
            Err(format!("unknown host {n:?}"))
        }
    };
    let addr = |t: &str| -> Result<Ipv4Addr, String> {
        if let Ok(a) = t.parse::<Ipv4Addr>() {
            in_lab_range(a)?;
            return Ok(a);
        }
        let h = lab
            .host(t)
            .ok_or_else(|| format!("{t:?} is neither an address nor a host"))?;
        h.ifaces
            .iter()
            .flat_map(|i| i.addrs())
            .find_map(|a| parse_cidr(&a).map(|(x, _)| x))
            .ok_or_else(|| format!("host {t:?} has no static address"))
    };
    match &mut c.probe {
        Probe::Ping {
            from, to, to_addr, ..
        } => {
            host(from)?;
            *to_addr = Some(addr(to)?);
        }
        Probe::Tcp {
            from,
            to,
            to_addr,
            server,
            source,
            ..
        } => {
            host(from)?;
            let a = addr(to)?;
            *to_addr = Some(a);
            let owner = lab
                .owner_of(a)
                .ok_or_else(|| format!("no host has {a} (the TCP check runs its server there)"))?;
            *server = owner.name.clone();
            if let Some(s) = source {
                in_lab_range(*s)?;
            }
        }
        Probe::Dhcp {
            host: h,
            lo,
            hi,
            router,
            ..
        } => {
            host(h)?;
            for a in [*lo, *hi, *router] {
                in_lab_range(a)?;
            }
        }
        Probe::Daemon { on, .. } => {
            if on.is_empty() {
                let sw: Vec<&Host> = lab.hosts.iter().filter(|h| h.switch).collect();
                if sw.len() != 1 {
                    return Err("say which switch host (`on HOST: …`)".into());
                }
                *on = sw[0].name.clone();
            }
            match lab.host(on) {
                Some(h) if h.switch => {}
                Some(_) => return Err(format!("host {on:?} does not run a switch")),
                None => return Err(format!("unknown host {on:?}")),
            }
        }
    }
    Ok(c)
}

/// A toml error as `FILE:LINE: key `K`: message`.
fn toml_error(cx: &Ctx, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    let Some(sp) = e.span() else {
        return format!("{}: {msg}", cx.file);
    };
    let line_no = cx.line_of(sp.start);
    let line = cx.src.lines().nth(line_no - 1).unwrap_or("");
    // The key: named in the message (unknown/missing field), else the
    // left side of `key = value` on that line, else a `[table]` header.
    let key = msg
        .split('`')
        .nth(1)
        .map(str::to_string)
        .or_else(|| {
            line.split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_string())
        })
        .or_else(|| {
            let t = line.trim();
            t.starts_with('[')
                .then(|| t.trim_matches(|c| c == '[' || c == ']').to_string())
        });
    match key {
        Some(k) if !k.is_empty() => format!("{}:{line_no}: key `{k}`: {msg}", cx.file),
        _ => format!("{}:{line_no}: {msg}", cx.file),
    }
}

/// Lab, host and namespace names: letters, digits, `_ . -`.
pub fn valid_name(n: &str, max: usize) -> Result<(), String> {
    if n.is_empty() || n.len() > max {
        return Err(format!("must be 1-{max} characters"));
    }
    if !n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        || n.starts_with(['.', '-'])
    {
        return Err("use letters, digits, `_`, `.` and `-` only".into());
    }
    Ok(())
}

fn valid_ifname(n: &str) -> Result<(), String> {
    if n.is_empty() || n.len() > 15 {
        return Err(format!("interface name {n:?} must be 1-15 characters"));
    }
    if n.contains(['/', ':', ' ', '\t']) || n == "." || n == ".." {
        return Err(format!("interface name {n:?} has a forbidden character"));
    }
    Ok(())
}

fn valid_mac(m: &str) -> Result<(), String> {
    let parts: Vec<&str> = m.split(':').collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok())
    {
        Ok(())
    } else {
        Err(format!("{m:?} is not a MAC address (xx:xx:xx:xx:xx:xx)"))
    }
}

/// `a.b.c.d/len`.
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, l) = s.split_once('/')?;
    let l: u8 = l.parse().ok()?;
    (l <= 32).then_some(())?;
    Some((a.parse().ok()?, l))
}

fn check_cidr(s: &str) -> Result<(), String> {
    let (a, _) = parse_cidr(s).ok_or_else(|| {
        format!("{s:?}: expected an IPv4 address with a prefix length, e.g. 198.18.0.2/24")
    })?;
    in_lab_range(a)
}

/// The safety rule: lab addresses come from 198.18.0.0/15.
pub fn in_lab_range(a: Ipv4Addr) -> Result<(), String> {
    let o = a.octets();
    if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
        Ok(())
    } else {
        Err(format!(
            "address {a} is outside 198.18.0.0/15 (labs use only the RFC 2544 benchmark range)"
        ))
    }
}

/// Every dotted quad in `s` must be a lab address, a netmask, 0.0.0.0 or
/// loopback.
pub fn check_ips_in(s: &str) -> Result<(), String> {
    for tok in s.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        let tok = tok.trim_matches('.');
        if tok.matches('.').count() != 3 {
            continue;
        }
        let Ok(a) = tok.parse::<Ipv4Addr>() else {
            return Err(format!("{tok:?} is not an IPv4 address"));
        };
        let bits = u32::from(a);
        let netmask = bits.leading_ones() + bits.trailing_zeros() == 32;
        if a.is_unspecified() || a.is_loopback() || netmask {
            continue;
        }
        in_lab_range(a)?;
    }
    Ok(())
}

/// Background commands must stay in the foreground, so that `down` can
/// stop them by pid.
fn check_foreground(cmd: &str) -> Result<(), String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let prog = words
        .first()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .unwrap_or("");
    let has = |opts: &[&str]| words.iter().any(|w| opts.contains(w));
    match prog {
        "dnsmasq" if !has(&["-k", "--keep-in-foreground", "-d", "--no-daemon"]) => {
            Err("dnsmasq must stay in the foreground: add --keep-in-foreground".into())
        }
        "dhclient" if !has(&["-d"]) => Err(
            "dhclient must stay in the foreground: add -d (or use `dhcp = true` on the iface)"
                .into(),
        ),
        "" => Err("empty command".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(n: &str) -> Result<String, String> {
        Err(format!("{n}: no such file"))
    }

    fn p(src: &str) -> Result<Lab, String> {
        parse(src, "t.toml", "t", &no_files)
    }

    const GOOD: &str = r#"
name = "l1"

[[host]]
name = "ns1"
iface = [{ name = "veth0", addr = "198.18.0.2/24" }]

[[host]]
name = "ns2"
iface = [{ name = "veth1", addr = "198.18.0.3/24" }]

[[link]]
ends = ["ns1:veth0", "switch:ovs-veth0"]

[[link]]
ends = ["ns2:veth1", "switch:ovs-veth1"]

[[bridge]]
name = "ovs-br"
port = [{ name = "ovs-veth0" }, { name = "ovs-veth1" }]
"#;

    #[test]
    fn good_lab_parses_with_implicit_switch() {
        let lab = p(GOOD).unwrap();
        assert_eq!(lab.name, "l1");
        assert!(lab.implicit_switch);
        assert_eq!(lab.hosts[0].name, IMPLICIT_SWITCH);
        assert_eq!(lab.bridges[0].host, IMPLICIT_SWITCH);
        assert_eq!(lab.links.len(), 2);
        assert_eq!(lab.links[1].b_dev, "ovs-veth1");
    }

    #[test]
    fn checks_parse_and_resolve_hosts() {
        let src = format!(
            "checks = [\"ping ns1 -> ns2: ok\", \"tcp ns1 -> 198.18.0.3: ok\", \"flows ovs-br contains NORMAL\"]\n{GOOD}"
        );
        let lab = p(&src).unwrap();
        assert_eq!(lab.checks.len(), 3);
        match &lab.checks[0].probe {
            Probe::Ping { to_addr, .. } => {
                assert_eq!(*to_addr, Some("198.18.0.3".parse().unwrap()))
            }
            other => panic!("{other:?}"),
        }
        match &lab.checks[1].probe {
            Probe::Tcp { server, .. } => assert_eq!(server, "ns2"),
            other => panic!("{other:?}"),
        }
        match &lab.checks[2].probe {
            Probe::Daemon { on, .. } => assert_eq!(on, IMPLICIT_SWITCH),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let src = GOOD.replace("name = \"ns2\"", "name = \"ns2\"\ncolour = \"blue\"");
        let e = p(&src).unwrap_err();
        assert!(e.starts_with("t.toml:10: key `colour`:"), "{e}");
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn wrong_type_names_line_and_key() {
        let src = GOOD.replace(
            "{ name = \"ovs-veth1\" }",
            "{ name = \"ovs-veth1\", tag = \"x\" }",
        );
        let e = p(&src).unwrap_err();
        assert!(e.starts_with("t.toml:20: key `"), "{e}");
        assert!(e.contains("tag") || e.contains("port"), "{e}");
    }

    #[test]
    fn address_outside_benchmark_range_is_rejected() {
        let src = GOOD.replace("198.18.0.3/24", "10.0.0.3/24");
        let e = p(&src).unwrap_err();
        assert!(e.starts_with("t.toml:10: key `addr`:"), "{e}");
        assert!(e.contains("outside 198.18.0.0/15"), "{e}");
        // Also in routes, commands and tunnel options.
        let src = GOOD.replace(
            "name = \"ns1\"",
            "name = \"ns1\"\nroutes = [\"default via 192.168.1.1\"]",
        );
        let e = p(&src).unwrap_err();
        assert!(
            e.contains("key `routes`") && e.contains("192.168.1.1"),
            "{e}"
        );
        let src = GOOD.replace(
            "name = \"ns1\"",
            "name = \"ns1\"\nrun = [\"iptables -A INPUT -s 8.8.8.8 -j DROP\"]",
        );
        assert!(p(&src).unwrap_err().contains("8.8.8.8"));
        let src = GOOD.replace(
            "{ name = \"ovs-veth1\" }",
            "{ name = \"vx\", type = \"vxlan\", options = { remote_ip = \"172.16.0.1\" } }",
        );
        assert!(p(&src).unwrap_err().contains("172.16.0.1"));
        // Netmasks and loopback are fine.
        assert!(
            check_ips_in("--dhcp-range=198.18.3.5,198.18.3.150,255.255.255.0,12h 127.0.0.1")
                .is_ok()
        );
    }

    #[test]
    fn unknown_host_is_named_with_its_line() {
        let src = GOOD.replace("\"ns2:veth1\"", "\"ns9:veth1\"");
        let e = p(&src).unwrap_err();
        assert!(e.starts_with("t.toml:16: key `ends`:"), "{e}");
        assert!(e.contains("unknown host \"ns9\""), "{e}");
        let src = format!("checks = [\"ping nobody -> 198.18.0.2: ok\"]\n{GOOD}");
        let e = p(&src).unwrap_err();
        assert!(
            e.starts_with("t.toml:1: key `checks`:") && e.contains("nobody"),
            "{e}"
        );
    }

    #[test]
    fn duplicates_are_rejected() {
        let src = GOOD.replace("name = \"ns2\"", "name = \"ns1\"");
        let e = p(&src).unwrap_err();
        assert!(
            e.contains("duplicate host name \"ns1\"") && e.starts_with("t.toml:9:"),
            "{e}"
        );
        let src = GOOD.replace("ovs-veth1\" }]", "ovs-veth0\" }]");
        let e = p(&src).unwrap_err();
        assert!(e.contains("exists twice"), "{e}");
    }

    #[test]
    fn interfaces_and_system_ports_must_be_made_by_the_lab() {
        let src = GOOD.replace("name = \"veth1\"", "name = \"veth7\"");
        let e = p(&src).unwrap_err();
        assert!(
            e.starts_with("t.toml:10: key `name`:")
                && e.contains("\"veth7\" of host \"ns2\" is made by no link"),
            "{e}"
        );
        let src = GOOD.replace("{ name = \"ovs-veth1\" }", "{ name = \"eth9\" }");
        let e = p(&src).unwrap_err();
        assert!(
            e.contains("port \"eth9\": no link end \"switch:eth9\""),
            "{e}"
        );
    }

    #[test]
    fn toml_syntax_error_names_line() {
        let e = p("name = \"x\"\n[[host]\n").unwrap_err();
        assert!(e.starts_with("t.toml:2"), "{e}");
    }

    #[test]
    fn background_must_stay_in_foreground() {
        let src = GOOD.replace(
            "name = \"ns1\"",
            "name = \"ns1\"\nbackground = [\"dnsmasq --interface=veth0\"]",
        );
        let e = p(&src).unwrap_err();
        assert!(
            e.contains("key `background`") && e.contains("--keep-in-foreground"),
            "{e}"
        );
    }

    #[test]
    fn bridge_on_a_non_switch_host_is_rejected() {
        let src = GOOD.replace("name = \"ovs-br\"", "name = \"ovs-br\"\nhost = \"ns1\"");
        let e = p(&src).unwrap_err();
        assert!(
            e.contains("key `host`") && e.contains("does not run a switch"),
            "{e}"
        );
    }

    #[test]
    fn missing_flows_file_is_named() {
        let src = GOOD.replace(
            "name = \"ovs-br\"",
            "name = \"ovs-br\"\nflows_file = \"x.flows\"",
        );
        let e = p(&src).unwrap_err();
        assert!(
            e.contains("key `flows_file`") && e.contains("x.flows"),
            "{e}"
        );
    }
}
