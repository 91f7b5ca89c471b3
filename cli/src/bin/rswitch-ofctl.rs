//! rswitch-ofctl: the ovs-ofctl work-alike. Until the daemon lands (the
//! datapath issue), it works offline on flow files: check and canonicalise
//! flows, dump them as a bridge would, and trace packets through them.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ofproto::pipeline::{Bridge, FailMode, Switch};
use ofproto::port::PortInfo;
use ofproto::syntax::dump::{format_installed, LineStyle};
use ofproto::syntax::flow::{parse_flows_file, FlowModCommand};
use ofproto::trace::{parse_packet, trace};

#[derive(Parser)]
#[command(
    name = "rswitch-ofctl",
    version,
    about = "OpenFlow switch management (ovs-ofctl syntax)",
    after_help = rswitch_cli::ofctl::USAGE
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Parse a flows file (ovs-ofctl add-flows format) and print each flow
    /// the way `ovs-ofctl dump-flows --no-stats` would show it.
    CheckFlows {
        file: String,
        /// Port names, as NAME=OFPORT (repeatable).
        #[arg(long = "port", value_name = "NAME=OFPORT")]
        ports: Vec<String>,
    },
    /// Trace a packet (flow syntax) through the flows of a file, offline.
    Trace {
        /// Flows file for the bridge.
        #[arg(long)]
        flows: String,
        /// Packet description, e.g. in_port=1,dl_src=..,dl_dst=..,ip,nw_dst=..
        packet: String,
        #[arg(long = "port", value_name = "NAME=OFPORT")]
        ports: Vec<String>,
        /// Apply side effects (learned flows), like ofproto/trace -generate.
        #[arg(long)]
        generate: bool,
        /// Output format.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// A built-in demonstration: the OpenStack Neutron compute node of
    /// LABS.md L6 learning a VM's MAC from the GRE tunnel.
    Demo,
}

fn bridge_from(file: &str, ports: &[String]) -> Result<Bridge, String> {
    rswitch_cli::ofctl::offline::bridge_from_file(file, ports, |w| {
        eprintln!("rswitch-ofctl: warning: {w}")
    })
}

fn print_flows(b: &Bridge) {
    for f in b.tables.flows() {
        println!(
            " {}",
            format_installed(&b.tables, &f, 0, LineStyle::default())
        );
    }
}

const DEMO_FLOWS: &str = "
table=0,priority=1,in_port=1 actions=resubmit(,1)
table=0,priority=1,in_port=2 actions=resubmit(,2)
table=0,priority=0 actions=drop
table=1,priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=1,priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)
table=2,priority=1,tun_id=0x1 actions=mod_vlan_vid:4,resubmit(,10)
table=2,priority=0 actions=drop
table=3,priority=0 actions=drop
table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1
table=20,priority=0 actions=resubmit(,21)
table=21,priority=1,dl_vlan=4 actions=strip_vlan,set_tunnel:0x1,output:2
table=21,priority=0 actions=drop
";

fn demo() -> Result<(), String> {
    let mut sw = Switch::new();
    let mut br_int = Bridge::new("br-int");
    br_int.set_fail_mode(FailMode::Secure, 0);
    br_int.set_port(PortInfo::new(1, "patch-tun"));
    let mut vm = PortInfo::new(2, "vm1");
    vm.vlan = ofproto::port::VlanConfig::access(4);
    br_int.set_port(vm);
    let fms = parse_flows_file("priority=1 actions=NORMAL", FlowModCommand::Add, None)
        .map_err(|e| e.0)?;
    br_int
        .tables
        .apply_batch(&fms, 0)
        .map_err(|e| e.to_string())?;
    let mut br_tun = Bridge::new("br-tun");
    br_tun.set_fail_mode(FailMode::Secure, 0);
    br_tun.set_port(PortInfo::new(1, "patch-int"));
    br_tun.set_port(PortInfo::new(2, "gre-c6120002"));
    let fms = parse_flows_file(DEMO_FLOWS, FlowModCommand::Add, None).map_err(|e| e.0)?;
    br_tun
        .tables
        .apply_batch(&fms, 0)
        .map_err(|e| e.to_string())?;
    let i = sw.add_bridge(br_int);
    let t = sw.add_bridge(br_tun);
    sw.link_patch((i, 1), (t, 1));
    println!("# Neutron compute node (LABS.md L6): br-int <-patch-> br-tun, br-tun has the seed's tables.");
    println!("# rswitch-ofctl dump-flows br-tun table=20   (before any traffic)");
    print_table(&sw.bridges[t], 20);
    let pkt = "in_port=2,tun_id=0x1,dl_src=fa:16:3e:2a:46:e0,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1";
    println!(
        "\n# A broadcast ARP from the network node arrives over GRE: trace --generate {pkt}\n"
    );
    let key = parse_packet(pkt, None).map_err(|e| e.0)?;
    print!("{}", trace(&mut sw, t, &key, 1_000, true).to_text());
    println!("\n# rswitch-ofctl dump-flows br-tun table=20   (learned, as in seed 001)");
    print_table(&sw.bridges[t], 20);
    Ok(())
}

fn print_table(b: &Bridge, table: u8) {
    for f in b.tables.flows().into_iter().filter(|f| f.table == table) {
        println!(
            " {}",
            format_installed(&b.tables, &f, 1_000, LineStyle::default())
        );
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::CheckFlows { file, ports } => {
            let b = bridge_from(&file, &ports)?;
            print_flows(&b);
            Ok(())
        }
        Cmd::Trace {
            flows,
            packet,
            ports,
            generate,
            format,
        } => {
            let b = bridge_from(&flows, &ports)?;
            let map = b.port_map();
            let mut sw = Switch::new();
            let i = sw.add_bridge(b);
            let key = parse_packet(&packet, Some(&map)).map_err(|e| e.0)?;
            let r = trace(&mut sw, i, &key, 0, generate);
            if format == "json" {
                println!("{}", r.to_json());
            } else {
                print!("{}", r.to_text());
            }
            Ok(())
        }
        Cmd::Demo => demo(),
    }
}

/// Commands handled here without a daemon.
const OFFLINE: &[&str] = &[
    "demo",
    "check-flows",
    "help",
    "--help",
    "-h",
    "--version",
    "-V",
];

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`… | head`), as C tools do.
    // SAFETY: restoring the default disposition of one signal at start-up.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
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
    // capture: `trace … --pcap FILE`: each packet of a capture, traced.
    if let Some(code) = rswitch_cli::capture::ofctl_pcap::main(&argv, rundir.as_deref()) {
        return ExitCode::from(code);
    }
    // Pictures (issue 6): `dump-flows … --format dot|svg|png [-o FILE]`,
    // also offline with `--flows FILE`.
    let picture = match rswitch_cli::picture::render::client_args(
        &mut argv,
        rswitch_cli::picture::Tool::Ofctl,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rswitch-ofctl: {e}");
            return ExitCode::FAILURE;
        }
    };
    if argv
        .iter()
        .find(|a| !a.starts_with('-'))
        .is_some_and(|c| c == "dump-flows")
        && argv
            .iter()
            .any(|a| a == "--flows" || a.starts_with("--flows="))
    {
        return match offline_dump_flows(&argv) {
            Ok(out) => ExitCode::from(rswitch_cli::picture::render::finish(
                "rswitch-ofctl",
                &out.stdout,
                &out.stderr,
                out.exit,
                &picture,
            )),
            Err(e) => {
                eprintln!("rswitch-ofctl: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let first_cmd = argv
        .iter()
        .find(|a| !a.starts_with('-') || OFFLINE.contains(&a.as_str()));
    let offline_trace = argv.first().is_some_and(|a| a == "trace")
        && argv
            .iter()
            .any(|a| a == "--flows" || a.starts_with("--flows="));
    if first_cmd.is_some_and(|c| OFFLINE.contains(&c.as_str())) || offline_trace || argv.is_empty()
    {
        let cli = Cli::parse_from(std::iter::once("rswitch-ofctl".to_string()).chain(argv));
        return match run(cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rswitch-ofctl: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // ovs-ofctl prints port names by default only to a terminal.
    if !argv.iter().any(|a| a == "--names" || a == "--no-names") && std::io::stdout().is_terminal()
    {
        argv.insert(0, "--names".into());
    }
    let mut files = Vec::new();
    for op in rswitch_cli::ofctl::file_operands(&argv) {
        let (name, must) = match op {
            rswitch_cli::ofctl::FileOperand::Always(n) => (n, true),
            rswitch_cli::ofctl::FileOperand::IfExists(n) => (n, false),
        };
        let content = if name == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
        } else if must || std::path::Path::new(&name).is_file() {
            std::fs::read_to_string(&name)
        } else {
            continue;
        };
        match content {
            Ok(c) => files.push((name, c)),
            Err(e) => {
                eprintln!("rswitch-ofctl: {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let command = argv
        .iter()
        .find(|a| !a.starts_with('-'))
        .cloned()
        .unwrap_or_default();
    if matches!(command.as_str(), "parse-flow" | "parse-flows") {
        // Offline by nature: run against an empty switch here.
        let mut sw = Switch::new();
        let view = NoPorts;
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let out = rswitch_cli::ofctl::execute_with_files(&mut sw, &view, &argv, &refs, 0);
        print!("{}", out.stdout);
        eprint!("{}", out.stderr);
        return ExitCode::from(out.exit.clamp(0, 255) as u8);
    }
    let mut sock =
        rswitch_cli::control::socket_path(&rswitch_cli::control::default_rundir(rundir.as_deref()));
    // The target may be a socket path instead of a bridge name (as with
    // ovs-ofctl): talk to that daemon and let it pick its only bridge.
    let operands: Vec<usize> = (0..argv.len())
        .filter(|&i| !argv[i].starts_with('-'))
        .collect();
    if let Some(&t) = operands.get(1) {
        {
            let target = &argv[t];
            let path = target.strip_prefix("unix:").unwrap_or(target);
            let is_socket = std::fs::metadata(path)
                .map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
                .unwrap_or(false);
            if is_socket {
                sock = std::path::PathBuf::from(path);
                argv[t] = rswitch_cli::control::ONLY_BRIDGE.to_string();
            }
        }
    }
    let req = rswitch_cli::control::Request {
        tool: rswitch_cli::control::Tool::Ofctl,
        argv,
        files,
    };
    match rswitch_cli::control::call(&sock, &req, std::time::Duration::from_secs(120)) {
        Ok(r) => ExitCode::from(rswitch_cli::picture::render::finish(
            "rswitch-ofctl",
            &r.stdout,
            &r.stderr,
            r.exit,
            &picture,
        )),
        Err(e) => {
            eprintln!("rswitch-ofctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `dump-flows --flows FILE [--port NAME=N]... [FLOW] [OPTIONS]`: the flows
/// of a file as a bridge named br0 would hold them (no traffic, so no
/// hits), as text or, with `--format=dot`, as a picture (issue 6).
fn offline_dump_flows(argv: &[String]) -> Result<rswitch_cli::ofctl::OfctlOutput, String> {
    let mut file = None;
    let mut ports = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        let value = |i: usize| {
            argv.get(i + 1)
                .cloned()
                .ok_or_else(|| format!("option '{a}' requires an argument"))
        };
        if let Some(v) = a.strip_prefix("--flows=") {
            file = Some(v.to_string());
        } else if a == "--flows" {
            file = Some(value(i)?);
            i += 1;
        } else if let Some(v) = a.strip_prefix("--port=") {
            ports.push(v.to_string());
        } else if a == "--port" {
            ports.push(value(i)?);
            i += 1;
        } else {
            rest.push(argv[i].clone());
            if a == "dump-flows" {
                rest.push("br0".to_string());
            }
        }
        i += 1;
    }
    let file = file.ok_or("--flows needs a file")?;
    let b = bridge_from(&file, &ports)?;
    let mut sw = Switch::new();
    sw.add_bridge(b);
    Ok(rswitch_cli::ofctl::execute(
        &mut sw, &NoPorts, &rest, None, 0,
    ))
}

/// A port view for offline commands: no ports at all.
struct NoPorts;

impl rswitch_cli::ofctl::SwitchView for NoPorts {
    fn port_counters(&self, _: usize, _: u32) -> datapath::engine::PortCounters {
        Default::default()
    }
    fn port_status(&self, _: usize, _: u32) -> rswitch_cli::ofctl::PortStatus {
        Default::default()
    }
}
