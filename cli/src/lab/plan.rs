//! Turns a validated lab into the ordered steps that build it:
//! namespaces, veth pairs and Linux bridges, one rswitchd per switch host,
//! bridges, ports (internal ones moved to their hosts), flows, interface
//! settings, routes, sysctls, commands, background processes.

use std::path::PathBuf;

use super::spec::{Host, Lab, IMPLICIT_SWITCH};

/// Where things of lab `lab` (with `prefix`) live: namespace names and
/// directories.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
    pub lab: String,
    /// `/run/rswitch-lab` (or `$RSWITCH_LAB_DIR`).
    pub base: PathBuf,
}

impl Names {
    pub fn new(prefix: &str, lab: &str) -> Names {
        let base = std::env::var_os("RSWITCH_LAB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run/rswitch-lab"));
        Names {
            prefix: prefix.to_string(),
            lab: lab.to_string(),
            base,
        }
    }

    /// The namespace of host `host` (the implicit switch is named after
    /// the lab).
    pub fn ns(&self, host: &str) -> String {
        if host == IMPLICIT_SWITCH {
            format!("{}{}", self.prefix, self.lab)
        } else {
            format!("{}{host}", self.prefix)
        }
    }

    /// The lab's directory (state file, run directories, logs).
    pub fn dir(&self) -> PathBuf {
        self.base.join(format!("{}{}", self.prefix, self.lab))
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir().join("state.json")
    }

    /// The directory of host `host`: rswitchd's run directory for switch
    /// hosts, and `{dir}` in the host's commands.
    pub fn rundir(&self, host: &str) -> PathBuf {
        self.dir().join(host)
    }
}

/// One step of building a lab.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `ip netns add NS`, loopback up, IPv6 off unless `ipv6`.
    Netns {
        host: String,
        ns: String,
        ipv6: bool,
    },
    /// A veth pair made directly inside the namespaces, both ends up.
    Veth {
        a_ns: String,
        a: String,
        b_ns: String,
        b: String,
        mtu: Option<u32>,
    },
    /// `ip -n NS link add NAME type bridge`.
    LinuxBridge { ns: String, name: String },
    /// `sysctl -w KEY=VALUE` inside NS.
    Sysctl {
        ns: String,
        key: String,
        value: String,
    },
    /// rswitchd inside NS with its own run directory.
    Daemon {
        host: String,
        ns: String,
        rundir: PathBuf,
        workers: Option<u32>,
    },
    /// `rswitch ARGV` (ofctl: `rswitch-ofctl ARGV`) on a switch host.
    Switch {
        host: String,
        ofctl: bool,
        argv: Vec<String>,
        files: Vec<(String, String)>,
    },
    /// `ip -n NS ARGV`.
    Ip { ns: String, argv: Vec<String> },
    /// `sh -c CMD` inside NS (bounded; must succeed).
    Run {
        host: String,
        ns: String,
        cmd: String,
    },
    /// `sh -c 'exec CMD'` inside NS in the background (pid recorded).
    Background {
        host: String,
        ns: String,
        cmd: String,
    },
    /// A DHCP client on DEV inside NS (dhclient or busybox udhcpc, with a
    /// script that only sets the address and default route).
    DhcpClient {
        host: String,
        ns: String,
        dev: String,
    },
}

impl Step {
    /// One line for progress and error messages.
    pub fn describe(&self) -> String {
        let s = |v: &[String]| v.join(" ");
        match self {
            Step::Netns { ns, .. } => format!("ip netns add {ns}"),
            Step::Veth {
                a_ns, a, b_ns, b, ..
            } => {
                format!("veth {a_ns}:{a} <-> {b_ns}:{b}")
            }
            Step::LinuxBridge { ns, name } => format!("{ns}: ip link add {name} type bridge"),
            Step::Sysctl { ns, key, value } => format!("{ns}: sysctl {key}={value}"),
            Step::Daemon { ns, rundir, .. } => {
                format!("{ns}: rswitchd --rundir {} --detach", rundir.display())
            }
            Step::Switch {
                host, ofctl, argv, ..
            } => format!(
                "{host}: {} {}",
                if *ofctl { "rswitch-ofctl" } else { "rswitch" },
                s(argv)
            ),
            Step::Ip { ns, argv } => format!("{ns}: ip {}", s(argv)),
            Step::Run { ns, cmd, .. } => format!("{ns}: {cmd}"),
            Step::Background { ns, cmd, .. } => format!("{ns}: {cmd} &"),
            Step::DhcpClient { ns, dev, .. } => format!("{ns}: DHCP client on {dev}"),
        }
    }
}

/// Whether interface `iface` of host `host` is made by a switch (an
/// internal port moved there, or a port or bridge of its own switch).
fn made_by_switch(lab: &Lab, host: &str, iface: &str) -> bool {
    lab.bridges.iter().any(|b| {
        (b.host == host && b.name == iface)
            || b.ports.iter().any(|p| {
                p.name == iface
                    && (p.netns.as_deref() == Some(host) || (b.host == host && p.netns.is_none()))
            })
    })
}

/// The settings of the interfaces made by a switch (`late`) or not.
fn iface_steps(lab: &Lab, names: &Names, hosts: &[&Host], late: bool, steps: &mut Vec<Step>) {
    for h in hosts {
        let ns = names.ns(&h.name);
        let ip = |argv: Vec<String>| Step::Ip {
            ns: ns.clone(),
            argv,
        };
        for i in h
            .ifaces
            .iter()
            .filter(|i| made_by_switch(lab, &h.name, &i.name) == late)
        {
            if let Some(m) = &i.mac {
                steps.push(ip(v(&["link", "set", &i.name, "address", m])));
            }
            if let Some(m) = i.mtu {
                steps.push(ip(v(&["link", "set", &i.name, "mtu", &m.to_string()])));
            }
            if let Some(m) = &i.master {
                steps.push(ip(v(&["link", "set", &i.name, "master", m])));
            }
            for a in i.addrs() {
                steps.push(ip(v(&["addr", "add", &a, "dev", &i.name])));
            }
            if i.up {
                steps.push(ip(v(&["link", "set", &i.name, "up"])));
            }
        }
    }
}

fn v(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `{dir}` (the host's directory) and `{ns}` (its namespace) in a command.
fn expand(cmd: &str, names: &Names, host: &str) -> String {
    cmd.replace("{dir}", &names.rundir(host).display().to_string())
        .replace("{ns}", &names.ns(host))
}

/// The steps that build `lab`, in order.
pub fn plan(lab: &Lab, names: &Names) -> Vec<Step> {
    let mut steps = Vec::new();
    // Namespaces: switch hosts first.
    let mut hosts: Vec<_> = lab.hosts.iter().filter(|h| h.switch).collect();
    hosts.extend(lab.hosts.iter().filter(|h| !h.switch));
    for h in &hosts {
        steps.push(Step::Netns {
            host: h.name.clone(),
            ns: names.ns(&h.name),
            ipv6: h.ipv6,
        });
    }
    for h in &hosts {
        for (k, val) in &h.sysctls {
            steps.push(Step::Sysctl {
                ns: names.ns(&h.name),
                key: k.clone(),
                value: val.to_string(),
            });
        }
    }
    for l in &lab.links {
        steps.push(Step::Veth {
            a_ns: names.ns(&l.a_host),
            a: l.a_dev.clone(),
            b_ns: names.ns(&l.b_host),
            b: l.b_dev.clone(),
            mtu: l.mtu,
        });
    }
    for h in &hosts {
        for i in h
            .ifaces
            .iter()
            .filter(|i| i.kind.as_deref() == Some("bridge"))
        {
            steps.push(Step::LinuxBridge {
                ns: names.ns(&h.name),
                name: i.name.clone(),
            });
        }
    }
    // Interfaces that exist already (veth ends, Linux bridges): set up
    // before the switches start, so the underlay is addressed first.
    iface_steps(lab, names, &hosts, false, &mut steps);
    for h in hosts.iter().filter(|h| h.switch) {
        steps.push(Step::Daemon {
            host: h.name.clone(),
            ns: names.ns(&h.name),
            rundir: names.rundir(&h.name),
            workers: h.workers,
        });
    }
    let sw = |host: &str, ofctl: bool, argv: Vec<String>| Step::Switch {
        host: host.to_string(),
        ofctl,
        argv,
        files: Vec::new(),
    };
    for b in &lab.bridges {
        steps.push(sw(&b.host, false, v(&["add-br", &b.name])));
        if let Some(f) = &b.fail_mode {
            steps.push(sw(&b.host, false, v(&["set-fail-mode", &b.name, f])));
        }
    }
    for b in &lab.bridges {
        for p in &b.ports {
            let mut argv = v(&["add-port", &b.name, &p.name]);
            if let Some(t) = p.tag {
                argv.push(format!("tag={t}"));
            }
            if let Some(t) = &p.trunks {
                let t: Vec<String> = t.iter().map(|x| x.to_string()).collect();
                argv.push(format!("trunks={}", t.join(",")));
            }
            if let Some(m) = &p.vlan_mode {
                argv.push(format!("vlan_mode={m}"));
            }
            let mut set = Vec::new();
            if let Some(k) = &p.kind {
                if k != "system" {
                    set.push(format!("type={k}"));
                }
            }
            for (k, val) in &p.options {
                set.push(format!("options:{k}={val}"));
            }
            for (k, val) in &p.external_ids {
                set.push(format!("external-ids:{k}={val}"));
            }
            if let Some(o) = p.ofport {
                set.push(format!("ofport_request={o}"));
            }
            if !set.is_empty() {
                argv.extend(v(&["--", "set", "Interface", &p.name]));
                argv.extend(set);
            }
            steps.push(sw(&b.host, false, argv));
            if let Some(to) = &p.netns {
                steps.push(Step::Ip {
                    ns: names.ns(&b.host),
                    argv: v(&["link", "set", &p.name, "netns", &names.ns(to)]),
                });
            }
        }
    }
    for b in &lab.bridges {
        for f in &b.flows {
            steps.push(sw(&b.host, true, v(&["add-flow", &b.name, f])));
        }
        if let (Some(name), Some(text)) = (&b.flows_file, &b.flows_text) {
            steps.push(Step::Switch {
                host: b.host.clone(),
                ofctl: true,
                argv: v(&["add-flows", &b.name, name]),
                files: vec![(name.clone(), text.clone())],
            });
        }
    }
    // Interfaces the switch makes: MAC, MTU, master, addresses, up.
    iface_steps(lab, names, &hosts, true, &mut steps);
    for h in &hosts {
        for r in &h.routes {
            let mut argv = v(&["route", "add"]);
            argv.extend(r.split_whitespace().map(str::to_string));
            steps.push(Step::Ip {
                ns: names.ns(&h.name),
                argv,
            });
        }
    }
    for h in &hosts {
        for c in &h.run {
            steps.push(Step::Run {
                host: h.name.clone(),
                ns: names.ns(&h.name),
                cmd: expand(c, names, &h.name),
            });
        }
    }
    for h in &hosts {
        for c in &h.background {
            steps.push(Step::Background {
                host: h.name.clone(),
                ns: names.ns(&h.name),
                cmd: expand(c, names, &h.name),
            });
        }
    }
    for h in &hosts {
        for i in h.ifaces.iter().filter(|i| i.dhcp) {
            steps.push(Step::DhcpClient {
                host: h.name.clone(),
                ns: names.ns(&h.name),
                dev: i.name.clone(),
            });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::spec;

    const L3ISH: &str = r#"
name = "lab"
[[host]]
name = "a"
iface = [{ name = "vlan100", addr = "198.18.1.10/24", mtu = 1450 }]
routes = ["default via 198.18.1.1"]
[[host]]
name = "b"
iface = [{ name = "veth0", addr = "198.18.1.11/24" }]
[[link]]
ends = ["b:veth0", "switch:sw-b"]
[[bridge]]
name = "vlanbr"
fail_mode = "secure"
flows = ["priority=1,actions=NORMAL"]
port = [
  { name = "vlan100", tag = 100, type = "internal", netns = "a", external_ids = { iface-id = "x" } },
  { name = "sw-b", trunks = [100, 200] },
]
"#;

    fn steps(prefix: &str) -> Vec<String> {
        let lab = spec::parse(L3ISH, "t", "t", &|_| Err("no".into())).unwrap();
        plan(&lab, &Names::new(prefix, &lab.name))
            .iter()
            .map(Step::describe)
            .collect()
    }

    #[test]
    fn plan_orders_steps_and_prefixes_namespaces() {
        let s = steps("t1-");
        let want = [
            "ip netns add t1-lab",
            "ip netns add t1-a",
            "ip netns add t1-b",
            "veth t1-b:veth0 <-> t1-lab:sw-b",
            "t1-b: ip addr add 198.18.1.11/24 dev veth0",
            "t1-b: ip link set veth0 up",
            "t1-lab: rswitchd --rundir /run/rswitch-lab/t1-lab/switch --detach",
            "switch: rswitch add-br vlanbr",
            "switch: rswitch set-fail-mode vlanbr secure",
            "switch: rswitch add-port vlanbr vlan100 tag=100 -- set Interface vlan100 type=internal external-ids:iface-id=x",
            "t1-lab: ip link set vlan100 netns t1-a",
            "switch: rswitch add-port vlanbr sw-b trunks=100,200",
            "switch: rswitch-ofctl add-flow vlanbr priority=1,actions=NORMAL",
            "t1-a: ip link set vlan100 mtu 1450",
            "t1-a: ip addr add 198.18.1.10/24 dev vlan100",
            "t1-a: ip link set vlan100 up",
            "t1-a: ip route add default via 198.18.1.1",
        ];
        if std::env::var_os("RSWITCH_LAB_DIR").is_none() {
            assert_eq!(s, want);
        } else {
            assert_eq!(s.len(), want.len());
        }
    }

    #[test]
    fn no_prefix_uses_file_names() {
        let s = steps("");
        assert_eq!(s[0], "ip netns add lab");
        assert_eq!(s[1], "ip netns add a");
    }
}
